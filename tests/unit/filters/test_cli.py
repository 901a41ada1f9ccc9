"""``orderflow filter`` on a small simulated dataset."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from orderflow.core.errors import ConfigError
from orderflow.core.io import Dataset
from orderflow.core.schema import QC, validate
from orderflow.filters import FilterConfig, apply_filters


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from orderflow.ingest.simulator import ArtifactConfig, SimConfig, simulate

    root = tmp_path_factory.mktemp("sim")
    cfg = SimConfig(
        instruments=["SIM0", "SIM2"],
        events_per_day=6000,
        artifacts=ArtifactConfig(crossed=2e-3, locked=2e-3, burst=1e-3, duplicate=3e-3),
    )
    simulate(cfg, root)
    return root


def _invoke(args: list[str]):  # type: ignore[no-untyped-def]
    from orderflow.cli.main import app

    return CliRunner().invoke(app, args)


def test_filter_writes_qc_equal_to_api(dataset: Path, tmp_path: Path) -> None:
    from orderflow.book.engine import reconstruct

    out = tmp_path / "out"
    res = _invoke(["filter", str(dataset), "--out", str(out), "--json", "-q"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert [(p["instrument"], p["date"]) for p in payload["partitions"]] == Dataset(dataset).partitions()
    src, dst = Dataset(dataset), Dataset(out)
    for p in payload["partitions"]:
        i, d = p["instrument"], p["date"]
        assert p["snapshots"] == "reconstructed"
        qc = dst.read("qc", i, d)
        validate(qc, QC)
        deltas = src.read("book_deltas", i, d)
        api = apply_filters(
            reconstruct(deltas, depth=10),
            deltas,
            src.read("trades", i, d),
            instrument=src.instrument(i),
            config=FilterConfig(),
        )
        assert qc.equals(api.qc)
        assert p["report"]["flagged_events"] == api.report["flagged_events"] > 0
        assert p["report"]["rules"]["crossed_book"]["events"] > 0
    assert dst.instruments().keys() == src.instruments().keys()


def test_filter_disable_and_config(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cfg = tmp_path / "f.toml"
    cfg.write_text('[filters.duplicate]\naction = "mark"\n')
    res = _invoke(
        [
            "filter",
            str(dataset),
            "-o",
            str(out),
            "-c",
            str(cfg),
            "--disable",
            "session,low_info",
            "-x",
            "flicker",
            "--instrument",
            "SIM0",
            "--json",
            "-q",
        ]
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert [p["instrument"] for p in payload["partitions"]] == ["SIM0"]
    rules = payload["partitions"][0]["report"]["rules"]
    assert not {"session", "low_info", "flicker"} & set(rules)
    qc = Dataset(out).read("qc", "SIM0", payload["partitions"][0]["date"])
    assert not {"session", "low_info", "flicker"} & set(qc["rule"].unique().to_list())
    assert set(qc.filter(pl.col("rule") == "duplicate")["action"].to_list()) == {"mark"}


def test_filter_keeps_ingest_qc_rows_and_prints_table(dataset: Path, tmp_path: Path) -> None:
    out = Dataset(tmp_path / "out")
    part = Dataset(dataset).partitions()[0]
    ingest_row = pl.DataFrame(
        {
            "seq": [3],
            "ts_event": [0],
            "table": ["raw"],
            "rule": ["lobster_reveal"],
            "reason": ["reveal"],
            "action": ["mark"],
            "detail": [""],
        }
    )
    out.write("qc", ingest_row, *part)
    for _ in range(2):  # re-running replaces the filter rows, keeps the ingest row
        res = _invoke(["filter", str(dataset), "-o", str(out.root), "--instrument", part[0], "-q"])
        assert res.exit_code == 0, res.output
    qc = out.read("qc", *part)
    assert qc.filter(pl.col("rule") == "lobster_reveal").height == 1
    assert qc.filter(pl.col("rule") == "crossed_book")["seq"].is_unique().all()
    assert "flicker" in res.output and "any" in res.output


def test_filter_bad_input_is_one_line(dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    res = _invoke(["filter", str(dataset), "-o", str(tmp_path / "o"), "--disable", "nope", "-q"])
    assert isinstance(res.exception, ConfigError)
    from orderflow.cli import main as cli_main

    monkeypatch.setattr(sys, "argv", ["orderflow", "filter", str(tmp_path / "missing"), "-q"])
    with pytest.raises(SystemExit) as e:
        cli_main.main()
    assert e.value.code == 2


def test_help_has_example() -> None:
    res = _invoke(["filter", "--help"])
    assert res.exit_code == 0 and "orderflow filter data/" in res.output
