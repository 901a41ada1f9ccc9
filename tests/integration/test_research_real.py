"""The research stage on the real LOBSTER AMZN day: walk-forward within the day, per-regime metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from orderflow.core.execution import ExecutionModel
from orderflow.models import ResearchConfig, run_research

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

AMZN = "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_1/AMZN_2012-06-21_34200000_57600000_"


def test_research_on_lobster_amzn_day(shared_data) -> None:  # type: ignore[no-untyped-def]
    from orderflow.features import compute_features
    from orderflow.features.config import FeatureConfig
    from orderflow.ingest.lobster import read_lobster

    msg = shared_data(AMZN + "message_1.csv")
    ob = shared_data(AMZN + "orderbook_1.csv")
    day = read_lobster(msg, ob)
    feats = compute_features(
        day.snapshots,
        day.trades,
        day.deltas,
        instrument=day.instrument,
        config=FeatureConfig(clock="time:1s"),
    )
    cfg = ResearchConfig.model_validate(
        {
            "cv": {"n_splits": 2, "embargo": "10s"},
            "labels": {"target": "10s", "horizons": ["1s", "10s", "20ev"]},
            "model": {"n_estimators": 60, "quantile_estimators": 40, "n_jobs": 1, "logistic": False},
            "regimes": {"compare_methods": False},
            "eval": {"figures": False},
        }
    )
    res = run_research(
        feats, day.snapshots, config=cfg, execution=ExecutionModel(order_size=1), trades=day.trades
    )
    m = res.metrics
    # the whole day is one partition; every test row comes after its training rows
    assert m["partitions"] == ["all"] and m["cv"]["n_splits"] == 2
    assert m["labels"]["labelled"] > 0.8 * m["labels"]["rows"]
    assert set(m["classification"]["by_regime"]) == {"0", "1"}
    for r, v in m["classification"]["by_regime"].items():
        assert 0.0 <= v["macro_f1"] <= 1.0, r
        assert m["quantile"]["by_regime"][r]["rows"] > 0
    assert 0.0 < m["quantile"]["coverage_90"] <= 1.0
    assert np.isfinite(m["decisions"]["trades"])
    assert abs(m["leakage"]["permuted_macro_f1"] - m["leakage"]["chance_macro_f1"]) < 0.1
    json.dumps(m, allow_nan=False)
    p = res.predictions
    assert p["ts_event"].is_sorted() and p.height == sum(f["test_rows"] for f in m["cv"]["folds"])
