"""``orderflow backtest`` (dataset directory and TOML modes) and ``orderflow bench backtest``."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import typer
from typer.testing import CliRunner

from orderflow.backtest.synthetic import random_stream
from orderflow.cli import backtest_cmd
from orderflow.cli._common import Groups
from orderflow.core.instruments import Instrument
from orderflow.core.io import Dataset


def _app() -> typer.Typer:
    app = typer.Typer()
    groups = Groups(*(typer.Typer() for _ in range(5)))
    app.add_typer(groups.bench, name="bench")
    backtest_cmd.register(app, groups)
    return app


def _dataset(root: Path) -> Path:
    deltas, trades = random_stream(8_000, seed=3)
    ds = Dataset(root)
    ds.add_instrument(Instrument(symbol="SIM", tick_size="0.01"))
    ds.write("book_deltas", deltas, "SIM", "2024-01-02")
    ds.write("trades", trades, "SIM", "2024-01-02")
    return root


def test_backtest_on_a_dataset_directory(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data")
    out = tmp_path / "run"
    r = CliRunner().invoke(
        _app(), ["backtest", str(root), "--queue", "conservative", "--out", str(out), "--json"]
    )
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)["summary"]
    ds = Dataset(root)
    assert (
        summary["events"]
        == ds.read("book_deltas", "SIM", "2024-01-02").height + ds.read("trades", "SIM", "2024-01-02").height
    )
    assert summary["queue_model"] == "conservative"
    fills = pl.read_parquet(out / "fills.parquet")
    assert fills.height == summary["n_fills"]
    assert (out / "equity.png").exists() and (out / "summary.json").exists()


def test_backtest_from_toml(tmp_path: Path) -> None:
    _dataset(tmp_path / "data")
    cfg = tmp_path / "bt.toml"
    cfg.write_text(
        '[data]\ndataset = "data"\ninstrument = "SIM"\ndate = "2024-01-02"\nout = "'
        + str(tmp_path / "o")
        + '"\n\n'
        "[backtest]\nwake_interval_ns = 1000000\n"
        'strategy = { name = "market_maker", params = { half_spread_ticks = 2 } }\n'
        'execution = { queue = "probabilistic", latency = { submit_ns = 5000 } }\n'
    )
    r = CliRunner().invoke(_app(), ["backtest", str(cfg), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["summary"]["strategy"] == "market_maker"
    bad = tmp_path / "bad.toml"
    bad.write_text('[data]\ndataset = "data"\n[backtest]\nwake = 1\n')
    r = CliRunner().invoke(_app(), ["backtest", str(bad)])
    assert r.exit_code != 0
    assert "wake" in str(r.exception)


def test_bench_backtest_json() -> None:
    r = CliRunner().invoke(_app(), ["bench", "backtest", "--events", "20000", "--every-event", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert {"events", "seconds", "events_per_s", "peak_rss_bytes"} <= set(out)
    assert out["events"] >= 20_000
    assert out["strategy_calls"] > 1_000
