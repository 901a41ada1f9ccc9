"""reconstruct_dataset (chunked Parquet streaming) and the ``book`` / ``bench book`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from orderflow.book import ClockSpec, reconstruct, reconstruct_dataset
from orderflow.book.engine import SyntheticStream
from orderflow.cli.main import app
from orderflow.core.errors import ArtifactError
from orderflow.core.io import Dataset
from orderflow.core.schema import TRADES

DAY = "2024-01-02"


def _dataset(root: Path) -> tuple[Dataset, pl.DataFrame, pl.DataFrame]:
    g = SyntheticStream(levels=12, seed=9)
    d = SyntheticStream.to_frame(g.next(6000))
    ex = d.filter(pl.col("action") == 3)
    # trades: one print per EXECUTE row, plus hidden prints (seqs shifted by 10^6: trade-only events)
    hidden = ex.head(50).with_columns(pl.col("seq") + 1_000_000)
    t = pl.concat([ex, hidden]).sort("seq")
    n = t.height
    trades = pl.DataFrame(
        {
            "ts_event": t["ts_event"],
            "ts_recv": t["ts_recv"],
            "seq": t["seq"],
            "price": t["price"],
            "size": t["size"],
            "aggressor": np.ones(n, dtype=np.int8),
            "kind": np.zeros(n, dtype=np.uint8),
            "trade_id": np.zeros(n, dtype=np.uint64),
            "order_id": np.zeros(n, dtype=np.uint64),
            "flags": np.full(n, 128, dtype=np.uint8),
        },
    ).cast(TRADES.polars_schema())  # type: ignore[arg-type]
    ds = Dataset(root)
    ds.write("book_deltas", d, "SYN", DAY)
    ds.write("trades", trades, "SYN", DAY)
    return ds, d, trades


@pytest.mark.parametrize("clock", ["event", "time:50us", "volume:500", "trade"])
def test_chunked_dataset_equals_one_shot(tmp_path: Path, clock: str) -> None:
    ds, d, trades = _dataset(tmp_path)
    spec = ClockSpec.parse(clock)
    seen: list[tuple[int, int]] = []
    st = reconstruct_dataset(
        ds,
        "SYN",
        DAY,
        depth=3,
        clock=spec,
        chunk_rows=777,
        table="snaps",
        on_progress=lambda a, b: seen.append((a, b)),
    )
    got = ds.read("snaps", "SYN", DAY, validate_schema=False)  # core knows only book_snapshots[_N]
    want = reconstruct(d, depth=3, clock=spec, trades=trades)
    assert got.equals(want)
    assert st.snapshots == want.height > 0
    assert seen[-1] == (d.height, d.height) and len(seen) == -(-d.height // 777)
    if spec.kind == "trade":
        assert got["seq"].max() == trades["seq"].max()  # the trade-only events after the last delta


def test_missing_partition_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="book_deltas"):
        reconstruct_dataset(Dataset(tmp_path), "X", DAY)


def test_cli_book_and_bench(tmp_path: Path) -> None:
    _, d, _ = _dataset(tmp_path / "ds")
    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "book",
            str(tmp_path / "ds"),
            "--depth",
            "2",
            "--clock",
            "events:10",
            "--out",
            str(tmp_path / "out"),
            "--json",
            "--chunk-rows",
            "1000",
        ],
    )
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["partitions"] == 1 and summary["events"] == 6000 and summary["snapshots"] == 600
    out = Dataset(tmp_path / "out").read("book_snapshots", "SYN", DAY)
    assert out.equals(reconstruct(d, depth=2, clock=ClockSpec.parse("events:10")))
    r = runner.invoke(app, ["bench", "book", "--events", "30000", "--levels", "20", "--json", "--bbo-only"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["events"] == 30000 and res["depth"] == 1 and res["crossed_events"] == 0
    assert {"levels", "seconds", "events_per_s", "peak_rss_bytes"} <= set(res)
