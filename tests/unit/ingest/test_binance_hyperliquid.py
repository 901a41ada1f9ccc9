"""Hyperliquid l2Book/trades capture (read by the Binance capture module: same capture format)."""

from __future__ import annotations

import gzip
import json

import polars as pl

from orderflow.core.enums import Flags
from orderflow.ingest.binance import read_hyperliquid


def test_real_capture(shared_data) -> None:  # type: ignore[no-untyped-def]
    path = shared_data("crypto/hftbacktest/hyperliquid/btcusd_20250126.gz")
    res = read_hyperliquid(path)
    with gzip.open(path) as fh:
        msgs = [json.loads(x.split(b" ", 1)[1]) for x in fh.read().splitlines()]
    books = [m["data"] for m in msgs if m["channel"] == "l2Book"]
    trades = [t for m in msgs if m["channel"] == "trades" for t in m["data"]]
    # lines 1 and 2 are the same snapshot (same time, same levels): one is dropped and reported
    assert len(books) == 46 and res.stats["snapshots"] == 45 and res.stats["duplicates"] == 1
    assert res.qc["rule"].to_list() == ["hyperliquid_duplicate"]
    snaps = res.snapshots
    assert snaps is not None and snaps.height == 45
    last = books[-1]
    row = snaps.row(-1, named=True)
    for k, lv in enumerate(last["levels"][0]):
        assert row[f"bid_px_{k:02d}"] == int(lv["px"].replace(".", "")) * 10**8  # "105055.0" has 1 decimal
        assert row[f"bid_ct_{k:02d}"] == lv["n"]
    assert row["ask_sz_00"] == round(float(last["levels"][1][0]["sz"]) * 10**8)
    # every snapshot event: CLEAR + 40 SET rows, all SNAPSHOT, LAST on the final one
    d = res.deltas
    per = d.group_by("seq").agg(pl.len(), (pl.col("flags") & int(Flags.LAST) > 0).sum().alias("last"))
    assert per["len"].to_list() == [41] * 45 and per["last"].to_list() == [1] * 45
    assert res.trades.height == len({t["tid"] for t in trades}) == len(trades)
    assert res.trades["aggressor"].to_list() == [1 if t["side"] == "B" else -1 for t in trades]
    assert res.instrument.symbol == "BTC"
