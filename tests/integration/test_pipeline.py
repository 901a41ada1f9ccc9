"""The whole pipeline on a tiny simulated market: caching, executors, resume after a kill, the report.

One module-scoped run is shared; each test adds the runs it needs in its own output folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orderflow.pipeline.config import load_config
from orderflow.pipeline.runner import Pipeline
from orderflow.testing import in_ci

TINY = """
name = "tiny"
[data]
source = "simulator"
[data.simulator]
seed = 5
instruments = ["SIM0", "SIM1"]
days = 2
events_per_day = 30000
[features]
clock = "events:25"
levels = 3
[research.labels]
target = "50ev"
[research.cv]
n_splits = 2
embargo = "2s"
[research.model]
n_estimators = 30
quantile_estimators = 30
min_child_samples = 20
[execution]
order_size = 100
[execution.fees]
taker_bps = 0.3
[run]
workers = 2
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("cfg") / "tiny.toml"
    p.write_text(TINY)
    return p


@pytest.fixture(scope="module")
def first_run(tiny_config: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("runs")
    t0 = time.perf_counter()
    res = Pipeline(load_config(tiny_config), out=out).run()
    return res, out, time.perf_counter() - t0


def test_run_writes_report_and_metrics(first_run) -> None:  # type: ignore[no-untyped-def]
    res, _out, _ = first_run
    assert res.report_path.exists() and res.metrics_path.exists()
    m = json.loads(res.metrics_path.read_text())
    for path in (
        "classification.macro_f1",
        "quantile.coverage_90",
        "quantile.pinball",
        "decisions.trades",
        "drawdown.max",
        "leakage.permuted_macro_f1",
    ):
        node = m
        for k in path.split("."):
            assert k in node, f"metrics.json lacks {path}"
            node = node[k]
    assert m["classification"]["by_regime"], "per-regime metrics missing"
    # SIM0 (tick 0.01) and SIM1 (tick 0.05) share one regime model: the per-instrument scaling of its inputs
    # must let the HMM find the simulator's regimes, not the instruments (pooled raw inputs gave ARI ~ 0)
    assert m["regimes"]["ari"]["hmm"] >= 0.6
    assert [r.stage for r in res.stages] == ["ingest", "book", "filters", "features", "research", "backtest"]
    assert not any(r.cached for r in res.stages)
    for stage in ("ingest", "book", "filters", "features", "research", "backtest"):
        assert (res.run_dir / stage / "_SUCCESS.json").exists()
    html = res.report_path.read_text()
    assert "src='http" not in html and 'src="http' not in html  # self-contained
    assert html.count("data:image/png;base64,") >= 4


def test_second_run_reuses_every_stage(first_run, tiny_config: Path) -> None:  # type: ignore[no-untyped-def]
    res1, out, seconds1 = first_run
    t0 = time.perf_counter()
    res2 = Pipeline(load_config(tiny_config), out=out).run()
    seconds2 = time.perf_counter() - t0
    assert res2.run_id == res1.run_id
    assert all(r.cached for r in res2.stages)
    assert res2.metrics_path.read_bytes() == res1.metrics_path.read_bytes()
    print(f"first run {seconds1:.1f}s, cached rerun {seconds2:.1f}s")


def test_changing_a_feature_recomputes_only_downstream(first_run, tiny_config: Path) -> None:  # type: ignore[no-untyped-def]
    _, out, _ = first_run
    cfg = load_config(tiny_config, overrides={"features": {"levels": 2}})
    res = Pipeline(cfg, out=out).run()
    cached = {r.stage: r.cached for r in res.stages}
    assert cached == {
        "ingest": True,
        "book": True,
        "filters": True,
        "features": False,
        "research": False,
        "backtest": False,
    }


def test_dask_gives_byte_identical_metrics(first_run, tiny_config: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res1, _, _ = first_run
    res = Pipeline(load_config(tiny_config), out=tmp_path / "dask", executor="dask", workers=2).run()
    assert not any(r.cached for r in res.stages)
    assert res.metrics_path.read_bytes() == res1.metrics_path.read_bytes()


def test_killed_run_resumes_to_the_same_result(first_run, tiny_config: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res1, _, _ = first_run
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "orderflow.cli.main", "run", str(tiny_config), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, start_new_session=True)
    deadline = time.time() + 240
    # kill as soon as the features stage has finished at least one partition but not the stage
    while time.time() < deadline and proc.poll() is None:
        parts = list((out / "cache" / "features").glob("*/_parts/*.json"))
        if parts:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not list((out / "cache" / "research").glob("*/_SUCCESS.json"))
    # a half-written artifact from the killed process must not survive as a valid stage
    res = Pipeline(load_config(tiny_config), out=out).run()
    cached = {r.stage: r.cached for r in res.stages}
    assert cached["ingest"] and cached["book"] and cached["filters"]
    assert not cached["features"]
    assert res.metrics_path.read_bytes() == res1.metrics_path.read_bytes()


def test_corrupted_artifact_is_rebuilt(first_run, tiny_config: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res1, out, _ = first_run
    out2 = tmp_path / "corrupt"
    shutil.copytree(out, out2, symlinks=True)
    # the features folder this config's run links to (other tests add folders for other feature keys)
    used = (out2 / res1.run_dir.relative_to(out) / "features").resolve()
    assert used.parent == (out2 / "cache" / "features").resolve()
    feats = next(used.glob("features/**/*.parquet"))
    data = bytearray(feats.read_bytes())
    data[len(data) // 2] ^= 0xFF
    feats.write_bytes(bytes(data))
    res = Pipeline(load_config(tiny_config), out=out2).run()
    cached = {r.stage: r.cached for r in res.stages}
    assert cached["book"] and not cached["features"]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if p := shutil.which(name):
            return p
    return None


@pytest.mark.browser
def test_report_renders_in_headless_chromium(first_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res, _, _ = first_run
    exe = _chromium()
    if exe is None:
        if in_ci():
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium not installed")
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--dump-dom",
        res.report_path.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "<body" in dom
    import re

    plots = re.search(r'data-plots="(\d+)"', dom)
    rendered = re.search(r'data-plots-rendered="(\d+)"', dom)
    assert plots and rendered, "the report's load handler did not run"
    assert int(plots.group(1)) >= 4
    assert rendered.group(1) == plots.group(1), "some plots did not decode"
    assert re.search(r"<body[^>]*data-errors=", dom) is None, "the report recorded a script error"
    console_errors = [
        ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln and ("Error" in ln or "Uncaught" in ln)
    ]
    assert not console_errors, console_errors


_AMZN = "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_1/AMZN_2012-06-21_34200000_57600000_{}_1.csv"
_ES = "databento/glbx-mdp3/esh4-glbx-mdp3-20231225.mbo.dbn.zst"


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["es-mbo", "lobster-amzn"])
def test_real_data_example_configs_run_end_to_end(name: str, shared_data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """configs/es-mbo.toml and configs/lobster-amzn.toml (the README's real-data examples) run every stage.

    The data paths are replaced by the shared samples' (so ORDERFLOW_DATA is honoured); the rest of each
    config is used as shipped. A quiet fold with one class only once crashed the logistic baseline on ES.
    """
    root = Path(__file__).resolve().parents[2]
    if name == "es-mbo":
        data = {"dbn": [str(shared_data(_ES))]}
    else:
        data = {
            "lobster": [
                {
                    "message": str(shared_data(_AMZN.format("message"))),
                    "orderbook": str(shared_data(_AMZN.format("orderbook"))),
                }
            ]
        }
    cfg = load_config(root / "configs" / f"{name}.toml", overrides={"data": data})
    res = Pipeline(cfg, out=tmp_path, workers=1).run()
    m = json.loads(res.metrics_path.read_text())
    assert [r.stage for r in res.stages] == ["ingest", "book", "filters", "features", "research", "backtest"]
    assert m["classification"]["by_regime"] and 0 < m["quantile"]["coverage_90"] <= 1
    assert res.report_path.exists()


def test_demo_summaries_match_the_run_artifacts(first_run) -> None:  # type: ignore[no-untyped-def]
    """The QC and feature tables ``orderflow demo`` prints, against the QC and FEATURES Parquet."""
    import polars as pl

    from orderflow.cli.demo_cmd import feature_stats_table, filter_summary, qc_summary_table

    res, _, _ = first_run
    run = res.run_dir
    s = filter_summary(run)
    qc = pl.read_parquet(str(run / "filters" / "qc" / "**" / "*.parquet"), hive_partitioning=True)
    ours = qc.filter(pl.col("rule") == "crossed_book")
    assert s["rules"]["crossed_book"]["events"] == ours.select("instrument", "date", "seq").n_unique() > 0
    assert s["truth"]["crossed"][0] == 1.0  # every flagged crossed book is an injected one
    feats = pl.read_parquet(str(run / "features" / "features" / "**" / "*.parquet"), hive_partitioning=True)
    assert s["events"] >= feats.height
    table = feature_stats_table(run, ("spread_bps",))
    assert table.row_count == 1
    mean = next(iter(table.columns[2].cells))
    assert mean == f"{feats['spread_bps'].mean():.3g}"
    assert qc_summary_table(run).row_count == len(s["rules"])
