"""LOBSTER sample -> canonical tables, parsed here independently of orderflow.ingest (test fixture)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from orderflow.core.instruments import Instrument
from orderflow.core.time import local_midnight_ns

AMZN = "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_1/AMZN_2012-06-21_34200000_57600000_{}_1.csv"
AAPL10 = "lobster/AAPL_2012-06-21_10_first999rows/AAPL_2012-06-21_34200000_57600000_{}_10.csv"
UNDEF = 2**63 - 1


def lobster_tables(msg: Path, book: Path, levels: int) -> dict[str, object]:
    """Messages + orderbook CSV -> BOOK_SNAPSHOTS, TRADES, BOOK_DELTAS (seq = message row + 1)."""
    m = pl.read_csv(
        msg,
        has_header=False,
        new_columns=["time", "type", "oid", "size", "price", "dir"],
        schema_overrides={"time": pl.Utf8},
    )
    secs = m["time"].str.split_exact(".", 1).struct.rename_fields(["s", "f"]).struct.unnest()
    frac = secs["f"].fill_null("0").str.pad_end(9, "0").str.slice(0, 9).cast(pl.Int64)
    base = local_midnight_ns("2012-06-21", "America/New_York")
    ts = base + secs["s"].cast(pl.Int64) * 1_000_000_000 + frac
    n = m.height
    seq = np.arange(1, n + 1, dtype=np.int64)
    ob = pl.read_csv(book, has_header=False).to_numpy().astype(np.int64)
    cols: dict[str, np.ndarray] = {"ts_event": ts.to_numpy(), "ts_recv": ts.to_numpy(), "seq": seq}
    for side, off in (("bid", 2), ("ask", 0)):
        for k in range(levels):
            px = ob[:, 4 * k + off] * 100_000
            sz = ob[:, 4 * k + off + 1]
            empty = sz == 0
            cols[f"{side}_px_{k:02d}"] = np.where(empty, UNDEF, px)
        for k in range(levels):
            cols[f"{side}_sz_{k:02d}"] = ob[:, 4 * k + off + 1]
    snaps = pl.DataFrame(cols)
    typ = m["type"].to_numpy()
    tmask = (typ == 4) | (typ == 5)
    trades = pl.DataFrame(
        {
            "ts_event": ts.to_numpy()[tmask],
            "ts_recv": ts.to_numpy()[tmask],
            "seq": seq[tmask],
            "price": m["price"].to_numpy()[tmask].astype(np.int64) * 100_000,
            "size": m["size"].to_numpy()[tmask].astype(np.int64),
            "aggressor": (-m["dir"].to_numpy()[tmask]).astype(np.int8),
            "kind": np.where(typ[tmask] == 5, 1, 0).astype(np.uint8),
            "trade_id": np.zeros(tmask.sum(), dtype=np.uint64),
            "order_id": m["oid"].to_numpy()[tmask].astype(np.uint64),
            "flags": np.full(tmask.sum(), 128, dtype=np.uint8),
        }
    )
    act = np.select([typ == 1, (typ == 2) | (typ == 3), typ == 4], [1, 2, 3], 0)
    dm = act > 0
    deltas = pl.DataFrame(
        {
            "ts_event": ts.to_numpy()[dm],
            "ts_recv": ts.to_numpy()[dm],
            "seq": seq[dm],
            "side": m["dir"].to_numpy()[dm].astype(np.int8),
            "action": act[dm].astype(np.uint8),
            "price": m["price"].to_numpy()[dm].astype(np.int64) * 100_000,
            "size": m["size"].to_numpy()[dm].astype(np.int64),
            "order_id": m["oid"].to_numpy()[dm].astype(np.uint64),
            "flags": np.full(dm.sum(), 128, dtype=np.uint8),
        }
    )
    inst = Instrument(
        symbol=msg.name.split("_")[0], venue="NASDAQ", tick_size="0.01", timezone="America/New_York"
    )
    return {
        "snapshots": snaps,
        "trades": trades,
        "deltas": deltas,
        "instrument": inst,
        "messages": m,
        "book": ob,
    }


@pytest.fixture(scope="session")
def amzn(shared_data):  # type: ignore[no-untyped-def]
    return lobster_tables(shared_data(AMZN.format("message")), shared_data(AMZN.format("orderbook")), 1)


@pytest.fixture(scope="session")
def aapl10(shared_data):  # type: ignore[no-untyped-def]
    return lobster_tables(shared_data(AAPL10.format("message")), shared_data(AAPL10.format("orderbook")), 10)
