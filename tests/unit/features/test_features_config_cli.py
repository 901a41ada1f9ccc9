"""FeatureConfig validation, FEATURE_DOCS coverage, plug-ins, and the CLI on a tiny canonical dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from orderflow.core.errors import ConfigError, SchemaError
from orderflow.core.instruments import Instrument
from orderflow.core.io import Dataset
from orderflow.features import (
    FEATURE_DOCS,
    FEATURE_GROUPS,
    FEATURES_REGISTRY,
    Clock,
    FeatureConfig,
    compute_features,
    doc_for,
)

UNDEF = 2**63 - 1
INST = Instrument(symbol="TINY", tick_size="0.01", timezone="America/New_York")
T0 = 1_340_285_400_000_000_000  # 2012-06-21 09:30 New York


def tiny_book(n: int = 400, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    tick = INST.tick_int
    mid = 10_000 + np.cumsum(rng.integers(-1, 2, n))
    ts = T0 + np.cumsum(rng.integers(1, 200_000_000, n))
    seq = np.arange(1, n + 1) * 2
    cols: dict[str, np.ndarray] = {"ts_event": ts, "ts_recv": ts, "seq": seq}
    for k in range(3):
        cols[f"bid_px_{k:02d}"] = (mid - k) * tick
    for k in range(3):
        cols[f"bid_sz_{k:02d}"] = rng.integers(1, 500, n)
    for k in range(3):
        cols[f"ask_px_{k:02d}"] = (mid + 1 + k) * tick
    for k in range(3):
        cols[f"ask_sz_{k:02d}"] = rng.integers(1, 500, n)
    snaps = pl.DataFrame(cols)
    tsel = rng.random(n) < 0.3
    m = int(tsel.sum())
    trades = pl.DataFrame(
        {
            "ts_event": ts[tsel],
            "ts_recv": ts[tsel],
            "seq": seq[tsel] - 1,
            "price": mid[tsel] * tick,
            "size": rng.integers(1, 300, m),
            "aggressor": rng.choice([-1, 1], m).astype(np.int8),
            "kind": np.zeros(m, np.uint8),
            "trade_id": np.zeros(m, np.uint64),
            "order_id": np.zeros(m, np.uint64),
            "flags": np.full(m, 128, np.uint8),
        }
    )
    deltas = pl.DataFrame(
        {
            "ts_event": ts,
            "ts_recv": ts,
            "seq": seq,
            "side": rng.choice([-1, 1], n).astype(np.int8),
            "action": rng.integers(1, 4, n).astype(np.uint8),
            "price": mid * tick,
            "size": rng.integers(1, 50, n),
            "order_id": np.zeros(n, np.uint64),
            "flags": np.full(n, 128, np.uint8),
        }
    )
    return snaps, trades, deltas


def test_config_rejects_bad_values_with_key_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"features\.names"):
        FeatureConfig.from_mapping({"names": ["nope"]})
    with pytest.raises(ConfigError, match="clock"):
        FeatureConfig.from_mapping({"clock": "time"})
    with pytest.raises(ConfigError, match="bogus"):
        FeatureConfig.from_mapping({"bogus": 1})
    p = tmp_path / "f.toml"
    p.write_text('[features]\nnames = ["spread", "ofi"]\nclock = "time:500ms"\nlevels = 3\n')
    cfg = FeatureConfig.from_toml(p)
    assert cfg.clock_spec == Clock("time", 500_000_000)
    assert Clock.parse("volume:5000") == Clock("volume", 5000)
    with pytest.raises(ConfigError):
        Clock.parse("events:0")


def test_missing_inputs_are_config_errors() -> None:
    snaps, _, _ = tiny_book(20)
    with pytest.raises(ConfigError, match="TRADES"):
        compute_features(snaps, instrument=INST, config=FeatureConfig(names=["vpin"]))
    with pytest.raises(ConfigError, match="BOOK_DELTAS"):
        compute_features(snaps, instrument=INST, config=FeatureConfig(names=["intensity"]))
    with pytest.raises(SchemaError, match="seq order"):
        compute_features(snaps.reverse(), instrument=INST, config=FeatureConfig(names=["spread"]))


def test_every_output_column_is_documented() -> None:
    snaps, trades, deltas = tiny_book(300)
    cfg = FeatureConfig(
        names=list(FEATURE_GROUPS), levels=3, microprice_fit_window="10s", sweep_sizes=[100, 0.5]
    )
    f = compute_features(snaps, trades, deltas, instrument=INST, config=cfg)
    undocumented = [c for c in f.columns if c not in ("ts_event", "seq") and doc_for(c) is None]
    assert not undocumented
    for d in FEATURE_DOCS.values():
        assert d.formula and d.unit and d.warmup
    # micro-price is NaN inside its fitting window and defined after it
    ts = f["ts_event"].to_numpy()
    mp = f["microprice"].to_numpy()
    assert np.isnan(mp[ts < ts[0] + 10_000_000_000]).all()
    assert np.isfinite(mp[ts >= ts[0] + 10_000_000_000]).all()


def test_registered_plugin_feature() -> None:
    name = "test_touch_ratio"
    if name not in FEATURES_REGISTRY:

        @FEATURES_REGISTRY.register(name)
        def touch_ratio(frame, instrument, config):  # type: ignore[no-untyped-def]
            return [(pl.col("bid_sz_00") / pl.col("ask_sz_00")).alias("touch_ratio")]

    snaps, _, _ = tiny_book(50)
    f = compute_features(
        snaps, instrument=INST, config=FeatureConfig(names=["spread", name], clock="events:5")
    )
    assert "touch_ratio" in f.columns and "bid_sz_00" not in f.columns
    exp = (snaps["bid_sz_00"] / snaps["ask_sz_00"]).to_numpy()[4::5]
    np.testing.assert_allclose(f["touch_ratio"].to_numpy(), exp)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    snaps, trades, deltas = tiny_book(600)
    ds = Dataset(tmp_path / "ds")
    ds.add_instrument(INST)
    ds.write("book_snapshots", snaps, "TINY", "2012-06-21")
    ds.write("trades", trades, "TINY", "2012-06-21")
    ds.write("book_deltas", deltas, "TINY", "2012-06-21")
    return tmp_path / "ds"


def test_cli_features_streams_the_same_numbers(dataset: Path, tmp_path: Path) -> None:
    from orderflow.cli.main import app

    cfg = tmp_path / "f.toml"
    names = [g for g in FEATURE_GROUPS if g != "microprice"]
    cfg.write_text(
        f"[features]\nnames = {json.dumps(names)}\nlevels = 3\nchunk_rows = 1000\nvpin_bucket_volume = 500\n"
    )
    res = CliRunner().invoke(
        app,
        [
            "features",
            str(dataset),
            "--config",
            str(cfg),
            "--clock",
            "time:1s",
            "--out",
            str(tmp_path / "out"),
            "--json",
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["partitions"][0]["book_rows"] == 600
    got = Dataset(tmp_path / "out").read("features", "TINY", "2012-06-21")
    ds = Dataset(dataset)
    exp = compute_features(
        ds.read("book_snapshots", "TINY", "2012-06-21"),
        ds.read("trades", "TINY", "2012-06-21"),
        ds.read("book_deltas", "TINY", "2012-06-21"),
        instrument=INST,
        config=FeatureConfig.from_toml(cfg).model_copy(update={"clock": "time:1s"}),
    )
    from polars.testing import assert_frame_equal

    assert_frame_equal(got, exp)


def test_cli_studies_json(dataset: Path) -> None:
    from orderflow.cli.main import app

    res = CliRunner().invoke(app, ["study", "ofi-impact", str(dataset), "--interval", "5s", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    for k in ("intervals", "slope", "intercept", "r2", "r2_volume", "r2_mlofi"):
        assert k in out
    assert out["mlofi_levels"] == 3 and out["r2_mlofi"] >= out["r2"] - 1e-12
    res = CliRunner().invoke(app, ["study", "microprice", str(dataset), "--horizon", "1s", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {"mse_mid", "mse_weighted_mid", "mse_microprice"} <= set(out)
    res = CliRunner().invoke(app, ["study", "ofi-impact", str(dataset), "--interval", "ten"])
    assert res.exit_code != 0
