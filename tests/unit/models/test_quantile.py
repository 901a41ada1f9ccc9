"""Quantile models: non-crossing, calibrated on held-out data, conformal coverage on exchangeable data."""

from __future__ import annotations

import numpy as np
import pytest

from orderflow.models.quantile import (
    ConformalQuantileCalibrator,
    LGBMQuantileRegressor,
    LinearQuantileRegressor,
    conformal_quantile,
)
from orderflow.models.research import decide


def _data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    X = rng.standard_normal((n, 3))
    y = 2.0 * X[:, 0] + (0.5 + np.abs(X[:, 1])) * rng.standard_normal(n)  # heteroscedastic
    return X, y


def test_conformal_quantile_rank_hand_worked() -> None:
    s = np.arange(1.0, 20.0)  # 19 scores: ceil(0.9 * 20) = 18th smallest
    assert conformal_quantile(s, 0.1) == 18.0
    assert conformal_quantile(np.arange(5.0), 0.1) == float("inf")  # too few scores


@pytest.mark.parametrize("model", ["lgbm", "linear"])
def test_quantiles_monotone_and_calibrated(rng: np.random.Generator, model: str) -> None:
    X, y = _data(rng, 6000)
    est = (
        LGBMQuantileRegressor(n_estimators=60, n_jobs=1)
        if model == "lgbm"
        else LinearQuantileRegressor(max_samples=1500)
    )
    est.fit(X[:4000], y[:4000])
    q = est.predict_quantiles(X[4000:])
    assert (np.diff(q, axis=1) >= 0).all()
    below = (y[4000:, None] < q).mean(axis=0)
    tol = 0.05 if model == "lgbm" else 0.08  # the linear model is misspecified for the heteroscedastic tails
    np.testing.assert_allclose(below, [0.05, 0.25, 0.5, 0.75, 0.95], atol=tol)
    np.testing.assert_array_equal(est.predict(X[4000:]), q[:, 2])


def test_cqr_reaches_nominal_coverage_globally_and_per_group(rng: np.random.Generator) -> None:
    X, y = _data(rng, 24_000)
    groups = (X[:, 2] > 0).astype(int)
    y = y * np.where(groups == 1, 3.0, 1.0)  # the second group is three times noisier
    # a deliberately poor model (median only, tiny intervals) so that calibration does the work
    est = LGBMQuantileRegressor(levels=(0.05, 0.25, 0.5, 0.75, 0.95), n_estimators=5, n_jobs=1).fit(
        X[:4000], y[:4000]
    )
    cal = ConformalQuantileCalibrator().fit(
        est.predict_quantiles(X[4000:10000]), y[4000:10000], groups[4000:10000]
    )
    q = cal.transform(est.predict_quantiles(X[10000:]), groups[10000:])
    yt, gt = y[10000:], groups[10000:]
    inside = (yt >= q[:, 0]) & (yt <= q[:, 4])
    assert abs(inside.mean() - 0.90) < 0.02
    for g in (0, 1):
        assert abs(inside[gt == g].mean() - 0.90) < 0.02
    inside50 = (yt >= q[:, 1]) & (yt <= q[:, 3])
    assert abs(inside50.mean() - 0.50) < 0.03
    assert (np.diff(q, axis=1) >= 0).all()


def test_decision_rule() -> None:
    ql = np.array([1.0, -1.0, 2.0, -0.5, 3.0])
    qs = np.array([-1.0, 0.5, 2.5, -0.2, 1.0])
    assert decide(ql, qs, 0.0).tolist() == [1, -1, -1, 0, 1]
    assert decide(ql, qs, 1.5).tolist() == [0, 0, -1, 0, 1]
