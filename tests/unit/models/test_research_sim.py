"""The research stage on the project's market simulator (order flow carries signal, known regimes).

Simulator -> book reconstruction -> causal features -> run_research, then the checks of the research issue:
LightGBM beats every trivial baseline out of sample in each regime, permuted labels give chance-level macro
F1, conformal 90% intervals cover about 90%, and the forward-filtered HMM agrees with the true regimes.
"""

from __future__ import annotations

import pytest

from orderflow.core.execution import ExecutionModel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim_result():  # type: ignore[no-untyped-def]
    from orderflow.book.engine import reconstruct
    from orderflow.features import compute_features
    from orderflow.features.config import FeatureConfig
    from orderflow.ingest.simulator import ArtifactConfig, SimConfig, simulate_day
    from orderflow.models import ResearchConfig, run_research

    day = simulate_day(
        SimConfig(events_per_day=60_000, artifacts=ArtifactConfig.clean(), seed=3), "SIM0", "2024-01-02"
    )
    snaps = reconstruct(day.deltas, depth=10)
    feats = compute_features(
        snaps, day.trades, day.deltas, instrument=day.instrument, config=FeatureConfig(clock="events:5")
    )
    cfg = ResearchConfig.model_validate(
        {
            "cv": {"n_splits": 3},
            "model": {"n_estimators": 100, "quantile_estimators": 60, "n_jobs": 1, "logistic": False},
            "eval": {"figures": False},
        }
    )
    return run_research(
        feats,
        snaps,
        config=cfg,
        execution=ExecutionModel(order_size=100),
        regimes_truth=day.regimes,
        trades=day.trades,
    )


def test_sim_lightgbm_beats_trivial_baselines_in_each_regime(sim_result) -> None:  # type: ignore[no-untyped-def]
    m = sim_result.metrics
    assert {"majority", "sign_ofi", "sign_microprice"} <= set(m["baselines"])
    for name in ("majority", "sign_ofi", "sign_microprice"):
        assert m["classification"]["macro_f1"] > m["baselines"][name]["macro_f1"], name
        for r, v in m["classification"]["by_regime"].items():
            assert v["macro_f1"] > m["baselines"][name]["by_regime"][r]["macro_f1"], (name, r)


def test_sim_leakage_and_regime_agreement(sim_result) -> None:  # type: ignore[no-untyped-def]
    m = sim_result.metrics
    assert abs(m["leakage"]["permuted_macro_f1"] - m["leakage"]["chance_macro_f1"]) < 0.05
    assert m["regimes"]["ari"]["hmm"] >= 0.6


def test_sim_conformal_coverage(sim_result) -> None:  # type: ignore[no-untyped-def]
    q = sim_result.metrics["quantile"]
    assert abs(q["coverage_90"] - 0.90) < 0.02
    for r, v in q["by_regime"].items():
        assert abs(v["coverage_90"] - 0.90) < 0.05, r
