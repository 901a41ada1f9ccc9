"""run_research end to end on a synthetic market with a known signal and known regimes (two partitions)."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from orderflow.core.errors import ConfigError
from orderflow.core.execution import ExecutionModel, FeeModel
from orderflow.core.schema import PREDICTIONS, validate
from orderflow.models import ResearchConfig, run_research
from orderflow.models.synthetic import make_synthetic_market

pytestmark = pytest.mark.slow

CFG = {
    "cv": {"n_splits": 3, "embargo": "1s"},
    "model": {"n_estimators": 120, "quantile_estimators": 80, "n_jobs": 1},
    "regimes": {"compare_methods": True},
}


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    a = make_synthetic_market(14_000, seed=11, instrument="SYN", date="2024-01-02")
    b = make_synthetic_market(
        14_000, seed=12, instrument="SYN", date="2024-01-03", start_ns=1_704_292_200 * 1_000_000_000
    )
    feats = pl.concat([a.features, b.features])
    book = pl.concat([a.book, b.book])
    truth = pl.concat([a.regimes, b.regimes])
    cfg = ResearchConfig.model_validate(CFG)
    ex = ExecutionModel(order_size=100, fees=FeeModel(taker_bps=0.1))
    return run_research(feats, book, config=cfg, execution=ex, regimes_truth=truth)


def test_lightgbm_beats_every_trivial_baseline_globally_and_per_regime(result) -> None:  # type: ignore[no-untyped-def]
    m = result.metrics
    for name in ("majority", "sign_ofi", "sign_microprice"):
        base = m["baselines"][name]
        assert m["classification"]["macro_f1"] > base["macro_f1"] + 0.02, name
        for r, v in m["classification"]["by_regime"].items():
            assert v["macro_f1"] > base["by_regime"][r]["macro_f1"], (name, r)


def test_permuted_labels_give_chance_macro_f1(result) -> None:  # type: ignore[no-untyped-def]
    leak = result.metrics["leakage"]
    assert abs(leak["permuted_macro_f1"] - leak["chance_macro_f1"]) < 0.05
    assert result.metrics["classification"]["macro_f1"] > leak["permuted_macro_f1"] + 0.15


def test_conformal_coverage_close_to_nominal(result) -> None:  # type: ignore[no-untyped-def]
    q = result.metrics["quantile"]
    assert abs(q["coverage_90"] - 0.90) < 0.04
    for r, v in q["by_regime"].items():
        assert abs(v["coverage_90"] - 0.90) < 0.06, r


def test_metrics_json_layout_and_predictions(result) -> None:  # type: ignore[no-untyped-def]
    m = result.metrics
    for path in (
        "classification.macro_f1",
        "quantile.coverage_90",
        "quantile.pinball",
        "decisions.ev_mean",
        "decisions.trades",
        "drawdown.max",
        "leakage.permuted_macro_f1",
        "sharpe.deflated",
    ):
        cur = m
        for part in path.split("."):
            cur = cur[part]
    assert set(m["classification"]["by_regime"]) == set(m["quantile"]["by_regime"]) == {"0", "1"}
    assert "macro_f1" in m["baselines"]["logistic"]
    assert set(m["regimes"]["ari"]) == {"hmm", "gmm", "rules"}
    assert m["partitions"] == ["SYN/2024-01-02", "SYN/2024-01-03"]
    json.dumps(m, allow_nan=False)  # valid strict JSON
    p = result.predictions
    validate(p.drop("instrument", "date"), PREDICTIONS)
    assert {"q" + s + "_05" for s in "ls"} <= set(p.columns)
    assert (np.diff(p.select([f"ql_{k:02d}" for k in (5, 25, 50, 75, 95)]).to_numpy(), axis=1) >= 0).all()
    assert p["decision"].is_in([-1, 0, 1]).all()
    assert set(result.figures) == {
        "confusion",
        "calibration",
        "ev_histogram",
        "equity_drawdown",
        "regime_metrics",
    }


def test_no_fold_trains_on_rows_overlapping_its_test_rows(result) -> None:  # type: ignore[no-untyped-def]
    folds = result.metrics["cv"]["folds"]
    assert len(folds) == 3
    ends = [f["test_end_ns"] for f in folds]
    assert ends == sorted(ends)


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ValueError, match="decision_quantile"):
        ResearchConfig.model_validate({"model": {"decision_quantile": 0.1}})
    with pytest.raises(ValueError, match="extra"):
        ResearchConfig.model_validate({"model": {"bogus": 1}})
    m = make_synthetic_market(200, seed=1)
    with pytest.raises(ConfigError):
        run_research(
            m.features,
            m.book,
            config=ResearchConfig.model_validate({"cv": {"n_splits": 30}}),
            execution=ExecutionModel(),
        )
