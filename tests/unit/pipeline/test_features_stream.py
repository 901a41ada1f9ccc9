"""The pipeline's streamed feature stage equals compute_features on the whole (filtered) partition."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from orderflow.core.instruments import Instrument
from orderflow.core.io import Dataset
from orderflow.features import compute_features
from orderflow.pipeline import runner as R
from orderflow.pipeline.config import load_config

TOML = """
[data.simulator]
seed = 4
instruments = ["SIM0"]
days = 1
events_per_day = 20000
[features]
clock = "{clock}"
levels = 3
microprice_fit_window = "20min"
"""


@pytest.mark.parametrize("clock", ["event", "time:1s"])
def test_streamed_features_equal_whole_partition(clock: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cfg_path = tmp_path / "c.toml"
    cfg_path.write_text(TOML.format(clock=clock))
    cfg = load_config(cfg_path)
    cj = cfg.model_dump_json()
    part = R.Partition("SIM0", "2024-01-02")
    ing, book, flt, feat = (str(tmp_path / n) for n in ("ingest", "book", "filters", "features"))
    inst = R.task_ingest(ing, cj, part)["instrument"]
    R.task_book(book, ing, cj, part)
    R.task_filters(flt, ing, book, cj, part, inst)
    monkeypatch.setattr(R, "FEATURE_BATCH_ROWS", 1_111)  # many batches, none aligned to anything
    R.task_features(feat, ing, book, flt, cj, part, inst)
    got = Dataset(feat).read("features", "SIM0", "2024-01-02")

    src, bk, qc = Dataset(ing), Dataset(book), Dataset(flt).read("qc", "SIM0", "2024-01-02")
    dropped = qc.filter(pl.col("action") == "drop")["seq"]
    assert dropped.len() > 0  # the simulator injects artifacts: some rows really are left out
    snaps = bk.read("book_snapshots", "SIM0", "2024-01-02").filter(~pl.col("seq").is_in(dropped.implode()))
    want = compute_features(
        snaps,
        src.read("trades", "SIM0", "2024-01-02"),
        src.read("book_deltas", "SIM0", "2024-01-02"),
        instrument=Instrument(**inst),
        config=cfg.feature_config(),
    )
    assert got.height == want.height > 100
    assert_frame_equal(got.drop("qc_weight"), want)
