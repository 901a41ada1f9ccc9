"""`orderflow regimes | labels | fit | evaluate` on a small canonical dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orderflow.cli.main import app
from orderflow.core.io import Dataset
from orderflow.models.synthetic import make_synthetic_market

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ds")
    ds = Dataset(root)
    for i, d in enumerate(("2024-01-02", "2024-01-03")):
        m = make_synthetic_market(3000, seed=30 + i, start_ns=(1_704_205_800 + i * 86400) * 10**9)
        ds.write("features", m.features, "SYN", d)
        ds.write("book_snapshots", m.book, "SYN", d)
        ds.write("sim_regimes", m.regimes, "SYN", d)
    return root


def test_cli_regimes_labels_fit_evaluate(dataset: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(
        app, ["regimes", str(dataset), "--out", str(tmp_path / "reg"), "--method", "gmm", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["rows"] == 6000 and "ari" in out["agreement"]
    assert Dataset(tmp_path / "reg").partitions("regimes") == [("SYN", "2024-01-02"), ("SYN", "2024-01-03")]
    r = runner.invoke(
        app, ["labels", str(dataset), "--out", str(tmp_path / "lab"), "--horizons", "1s,20ev", "--json"]
    )
    assert r.exit_code == 0, r.output
    assert "y_midret_20ev" in json.loads(r.stdout)["columns"]
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        "[research.cv]\nn_splits = 2\n[research.model]\nn_estimators = 20\nquantile_estimators = 20\n"
        "n_jobs = 1\nleakage_test = false\n[research.regimes]\ncompare_methods = false\n"
        "[research.eval]\nfigures = false\n"
    )
    r = runner.invoke(
        app, ["fit", str(dataset), "--out", str(tmp_path / "fit"), "--config", str(cfg), "--json"]
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "fit" / "predictions.parquet").exists()
    m = json.loads((tmp_path / "fit" / "metrics.json").read_text())
    assert "macro_f1" in m["classification"]
    r = runner.invoke(app, ["evaluate", str(tmp_path / "fit"), "--plots"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "fit" / "figures" / "confusion.svg").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text("[research.model]\nbogus = 1\n")
    r = runner.invoke(app, ["fit", str(dataset), "--out", str(tmp_path / "x"), "--config", str(bad)])
    assert r.exit_code != 0
