"""``orderflow simulate`` / ``orderflow bench simulate`` and TOML config loading."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from orderflow.cli.main import app
from orderflow.core.errors import ConfigError
from orderflow.core.io import Dataset
from orderflow.ingest.simulator import load_sim_config, simulate_day


def test_simulate_cli_writes_dataset_and_summary(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg_file = tmp_path / "sim.toml"
    cfg_file.write_text('[data.simulator]\nseed = 5\nevents_per_day = 3000\nstart_date = "2024-03-01"\n')
    out = tmp_path / "ds"
    res = CliRunner().invoke(
        app,
        [
            "simulate",
            "--out",
            str(out),
            "--instruments",
            "2",
            "--days",
            "2",
            "--config",
            str(cfg_file),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["partitions"] == 4 and summary["seed"] == 5
    # 2024-03-01 is a Friday: the next business day is Monday 2024-03-04
    assert {(p["instrument"], p["date"]) for p in summary["per_partition"]} == {
        (i, d) for i in ("SIM0", "SIM1") for d in ("2024-03-01", "2024-03-04")
    }
    ds = Dataset(out)
    assert set(ds.tables()) == {"book_deltas", "trades", "sim_regimes", "sim_artifacts"}
    assert set(ds.instruments()) == {"SIM0", "SIM1"}
    ref = simulate_day(load_sim_config(cfg_file), "SIM0", "2024-03-04")
    assert ds.read("book_deltas", "SIM0", "2024-03-04").equals(ref.deltas)
    assert summary["events"] == sum(p["events"] for p in summary["per_partition"])
    part = next(p for p in summary["per_partition"] if (p["instrument"], p["date"]) == ("SIM0", "2024-03-04"))
    assert part["events"] == ref.events and part["trades"] == ref.trades.height
    assert sum(summary["artifacts"].values()) == sum(
        ds.read("sim_artifacts", i, d).height for i, d in ds.partitions("sim_artifacts")
    )


def test_bad_config_names_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "bad.toml"
    f.write_text("[simulator]\nevents_per_day = 10\n[[simulator.regimes]]\nintensity = -1\n")
    with pytest.raises(ConfigError, match=r"simulator\.regimes\.0\.intensity"):
        load_sim_config(f)
    f.write_text("[simulator]\nevents_per_dya = 10\n")
    with pytest.raises(ConfigError, match="events_per_dya"):
        load_sim_config(f)


def test_bench_simulate_cli() -> None:
    res = CliRunner().invoke(app, ["bench", "simulate", "--events", "3000", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert 0 < out["events"] <= 3000 and out["events_per_s"] > 0 and out["peak_rss_bytes"] > 0
