"""Distributional models: quantile regression (LightGBM and linear), non-crossing, conformalized (CQR).

``predict(X)`` returns the median (so the estimators are ordinary sklearn regressors);
``predict_quantiles(X)`` returns an ``(n, n_levels)`` array sorted along each row (rearrangement,
Chernozhukov et al. 2010: sorting the predicted quantiles can only reduce the pinball loss).

Conformalized quantile regression (Romano, Patterson & Candès 2019): on a calibration set held out from
training, the conformity score of the interval ``[q_lo, q_hi]`` is ``E = max(q_lo - y, y - q_hi)``; the
interval is widened by the ``ceil((1 - alpha)(n + 1)) / n`` empirical quantile of E, which gives
finite-sample marginal coverage ``>= 1 - alpha`` under exchangeability. Optionally per group (regime).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

FloatArray = NDArray[np.float64]
DEFAULT_LEVELS: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)


def _check_levels(levels: Any) -> FloatArray:
    lv = np.asarray(levels, dtype=np.float64)
    if lv.ndim != 1 or lv.size == 0 or np.any((lv <= 0) | (lv >= 1)):
        raise ValueError(f"quantile levels must lie in (0, 1), got {levels!r}")
    return np.sort(lv)


def _median_index(levels: FloatArray) -> int:
    return int(np.argmin(np.abs(levels - 0.5)))


class LGBMQuantileRegressor(RegressorMixin, BaseEstimator):
    """One LightGBM model per quantile level (objective "quantile"), rearranged to be non-crossing."""

    def __init__(
        self,
        levels: tuple[float, ...] = DEFAULT_LEVELS,
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        self.levels = levels
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> LGBMQuantileRegressor:
        import lightgbm as lgb

        X, y = validate_data(self, X, y, dtype=np.float64, ensure_all_finite="allow-nan", y_numeric=True)
        self.levels_ = _check_levels(self.levels)
        if self.n_jobs > 2:
            raise ValueError("n_jobs must be <= 2 on shared machines")
        self.models_ = []
        for q in self.levels_:
            m = lgb.LGBMRegressor(
                objective="quantile",
                alpha=float(q),
                n_estimators=self.n_estimators,
                learning_rate=self.learning_rate,
                num_leaves=self.num_leaves,
                min_child_samples=self.min_child_samples,
                subsample=self.subsample,
                subsample_freq=1,
                n_jobs=self.n_jobs,
                random_state=self.random_state,
                verbose=-1,
                deterministic=True,
                force_col_wise=True,
            )
            m.fit(X, np.asarray(y, dtype=np.float64))
            self.models_.append(m)
        return self

    def predict_quantiles(self, X: Any) -> FloatArray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite="allow-nan")
        out = np.column_stack([m.predict(X) for m in self.models_])
        return np.sort(out, axis=1)

    def predict(self, X: Any) -> FloatArray:
        return self.predict_quantiles(X)[:, _median_index(self.levels_)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # LightGBM routes missing values natively
        return tags


class LinearQuantileRegressor(RegressorMixin, BaseEstimator):
    """Linear quantile regression per level (sklearn's QuantileRegressor, HiGHS), on standardized inputs.

    The linear program grows with the rows, so at most ``max_samples`` evenly spaced training rows are used.
    """

    def __init__(
        self, levels: tuple[float, ...] = DEFAULT_LEVELS, alpha: float = 0.0, max_samples: int = 5_000
    ) -> None:
        self.levels = levels
        self.alpha = alpha
        self.max_samples = max_samples

    def fit(self, X: Any, y: Any) -> LinearQuantileRegressor:
        from sklearn.linear_model import QuantileRegressor

        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        self.levels_ = _check_levels(self.levels)
        y = np.asarray(y, dtype=np.float64)
        if X.shape[0] > self.max_samples:
            idx = np.linspace(0, X.shape[0] - 1, self.max_samples).astype(np.int64)
            X, y = X[idx], y[idx]
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        Z = (X - self.mean_) / self.scale_
        self.coef_ = np.zeros((self.levels_.size, X.shape[1]))
        self.intercept_ = np.zeros(self.levels_.size)
        for j, q in enumerate(self.levels_):
            m = QuantileRegressor(quantile=float(q), alpha=self.alpha, solver="highs").fit(Z, y)
            self.coef_[j] = m.coef_
            self.intercept_[j] = m.intercept_
        return self

    def predict_quantiles(self, X: Any) -> FloatArray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        Z = (X - self.mean_) / self.scale_
        return np.sort(Z @ self.coef_.T + self.intercept_, axis=1)

    def predict(self, X: Any) -> FloatArray:
        return self.predict_quantiles(X)[:, _median_index(self.levels_)]


def conformal_quantile(scores: FloatArray, alpha: float) -> float:
    """The ``ceil((1 - alpha)(n + 1)) / n`` empirical quantile of conformity scores (inf when n is too small)."""
    n = scores.shape[0]
    if n == 0:
        return float("inf")
    k = int(np.ceil((1.0 - alpha) * (n + 1)))
    if k > n:
        return float("inf")
    return float(np.sort(scores)[k - 1])


class ConformalQuantileCalibrator:
    """CQR corrections for symmetric level pairs ``(q, 1 - q)`` of a quantile array, optionally per group.

    ``fit(q_cal, y_cal, groups)`` learns one additive correction per pair (and per group with at least
    ``min_group`` calibration rows; others use the global correction); ``transform(q, groups)`` widens
    each pair by its correction and re-sorts. The median (if present) is left unchanged.
    """

    def __init__(self, levels: tuple[float, ...] = DEFAULT_LEVELS, min_group: int = 200) -> None:
        self.levels = levels
        self.min_group = min_group

    def fit(
        self, q: FloatArray, y: FloatArray, groups: NDArray[Any] | None = None
    ) -> ConformalQuantileCalibrator:
        lv = _check_levels(self.levels)
        self.levels_ = lv
        self.pairs_ = [
            (i, lv.size - 1 - i) for i in range(lv.size // 2) if np.isclose(lv[i] + lv[lv.size - 1 - i], 1.0)
        ]
        self.global_ = self._corrections(q, y)
        self.by_group_: dict[Any, list[float]] = {}
        if groups is not None:
            for g in np.unique(groups):
                m = groups == g
                if m.sum() >= self.min_group:
                    self.by_group_[g.item() if hasattr(g, "item") else g] = self._corrections(q[m], y[m])
        return self

    def _corrections(self, q: FloatArray, y: FloatArray) -> list[float]:
        out = []
        for lo, hi in self.pairs_:
            alpha = float(self.levels_[lo] + (1.0 - self.levels_[hi]))
            scores = np.maximum(q[:, lo] - y, y - q[:, hi])
            c = conformal_quantile(scores, alpha)
            out.append(c if np.isfinite(c) else 0.0)
        return out

    def transform(self, q: FloatArray, groups: NDArray[Any] | None = None) -> FloatArray:
        out = np.array(q, dtype=np.float64, copy=True)
        corr = (
            np.tile(np.asarray(self.global_), (q.shape[0], 1)) if self.pairs_ else np.zeros((q.shape[0], 0))
        )
        if groups is not None and self.by_group_:
            for g, c in self.by_group_.items():
                corr[groups == g] = c
        for j, (lo, hi) in enumerate(self.pairs_):
            out[:, lo] -= corr[:, j]
            out[:, hi] += corr[:, j]
        return np.sort(out, axis=1)


__all__ = [
    "DEFAULT_LEVELS",
    "ConformalQuantileCalibrator",
    "LGBMQuantileRegressor",
    "LinearQuantileRegressor",
    "conformal_quantile",
]
