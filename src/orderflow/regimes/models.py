"""Regime estimators (scikit-learn style): quantile-bucket rules, a Gaussian mixture and a Gaussian HMM.

All three are fitted on training rows only and assign regimes CAUSALLY: ``predict`` / ``predict_proba`` at
row t use rows ``<= t`` only. The rules and the mixture are row-wise; the HMM runs the forward algorithm
(filtering, never smoothing). Regime codes are canonical: states are ordered by the mean of the FIRST input
column (put the volatility measure first), so regime 0 is the calmest in every fold.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from orderflow.regimes._kernels import forward_filter_kernel

FloatArray = NDArray[np.float64]


class _RegimeBase(ClusterMixin, BaseEstimator):
    """Shared plumbing: input validation, canonical relabelling, ``predict`` from ``predict_proba``."""

    def _validate_fit(self, X: Any) -> FloatArray:
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        return np.asarray(X)

    def _validate_predict(self, X: Any) -> FloatArray:
        check_is_fitted(self)
        return np.asarray(validate_data(self, X, dtype=np.float64, reset=False))

    def predict_proba(self, X: Any, lengths: Any = None) -> FloatArray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, X: Any, lengths: Any = None) -> NDArray[np.int64]:
        """Most probable regime per row (causal)."""
        return np.asarray(np.argmax(self.predict_proba(X, lengths), axis=1), dtype=np.int64)


class QuantileRegimes(_RegimeBase):
    """Rule-based regimes: each input column is cut at training quantiles into ``n_buckets`` buckets.

    With columns (volatility, spread) and 2 buckets: 0 calm/tight, 1 calm/wide, 2 volatile/tight,
    3 volatile/wide (mixed radix, first column most significant).
    """

    def __init__(self, n_buckets: int = 2) -> None:
        self.n_buckets = n_buckets

    def fit(self, X: Any, y: Any = None) -> QuantileRegimes:
        X = self._validate_fit(X)
        if not isinstance(self.n_buckets, int | np.integer) or self.n_buckets < 1:
            raise ValueError(f"n_buckets must be a positive int, got {self.n_buckets!r}")
        qs = np.linspace(0.0, 1.0, self.n_buckets + 1)[1:-1]
        self.edges_ = np.quantile(X, qs, axis=0).T.reshape(X.shape[1], -1)
        self.n_regimes_ = int(self.n_buckets ** X.shape[1])
        self.labels_ = self.predict(X)
        return self

    def predict_proba(self, X: Any, lengths: Any = None) -> FloatArray:
        X = self._validate_predict(X)
        code = np.zeros(X.shape[0], dtype=np.int64)
        for j in range(X.shape[1]):
            b = np.searchsorted(self.edges_[j], X[:, j], side="right")
            code = code * self.n_buckets + b
        out = np.zeros((X.shape[0], self.n_regimes_))
        out[np.arange(X.shape[0]), code] = 1.0
        return out


def _order_by_first(means: FloatArray) -> NDArray[np.int64]:
    return np.asarray(np.argsort(means[:, 0], kind="stable"), dtype=np.int64)


def _standardize_fit(X: FloatArray) -> tuple[FloatArray, FloatArray]:
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return mu, sd


def _z(X: FloatArray, mean: FloatArray, scale: FloatArray) -> FloatArray:
    """Standardize and clip to +-6 sd (row-wise, so still causal): warm-up outliers cannot own a state."""
    return np.asarray(np.clip((X - mean) / scale, -6.0, 6.0))


class GMMRegimes(_RegimeBase):
    """Gaussian mixture on standardized inputs; each row's regime uses that row only (causal by design)."""

    def __init__(
        self,
        n_regimes: int = 2,
        covariance_type: str = "full",
        random_state: int = 0,
        max_fit_rows: int = 200_000,
    ) -> None:
        self.n_regimes = n_regimes
        self.covariance_type = covariance_type
        self.random_state = random_state
        self.max_fit_rows = max_fit_rows

    def fit(self, X: Any, y: Any = None) -> GMMRegimes:
        from sklearn.mixture import GaussianMixture

        X = self._validate_fit(X)
        self.mean_, self.scale_ = _standardize_fit(X)
        Z = _z(X, self.mean_, self.scale_)
        if Z.shape[0] > self.max_fit_rows:  # evenly spaced subsample: deterministic, covers the period
            Z = Z[np.linspace(0, Z.shape[0] - 1, self.max_fit_rows).astype(np.int64)]
        k = min(self.n_regimes, Z.shape[0])
        gm = GaussianMixture(
            n_components=k,
            covariance_type=self.covariance_type,
            random_state=self.random_state,
            reg_covar=1e-4,
            n_init=1,
        )
        gm.fit(Z)
        self.gmm_ = gm
        self.order_ = _order_by_first(gm.means_)
        self.n_regimes_ = k
        self.labels_ = self.predict(X)
        return self

    def predict_proba(self, X: Any, lengths: Any = None) -> FloatArray:
        X = self._validate_predict(X)
        p = self.gmm_.predict_proba(_z(X, self.mean_, self.scale_))
        return np.asarray(p[:, self.order_])


class HMMRegimes(_RegimeBase):
    """Gaussian HMM fitted by Baum-Welch (hmmlearn) on training rows; regimes by the FORWARD filter only.

    ``predict_proba(X, lengths)`` returns ``P(regime_t | x_1..x_t)``; ``lengths`` splits X into independent
    sequences (e.g. one per instrument-day) and the filter restarts at each.
    """

    def __init__(
        self,
        n_regimes: int = 2,
        covariance_type: str = "diag",
        n_iter: int = 25,
        random_state: int = 0,
        max_fit_rows: int = 200_000,
    ) -> None:
        self.n_regimes = n_regimes
        self.covariance_type = covariance_type
        self.n_iter = n_iter
        self.random_state = random_state
        self.max_fit_rows = max_fit_rows

    def fit(self, X: Any, y: Any = None, lengths: Any = None) -> HMMRegimes:
        from hmmlearn.hmm import GaussianHMM

        X = self._validate_fit(X)
        self.mean_, self.scale_ = _standardize_fit(X)
        Z = _z(X, self.mean_, self.scale_)
        lens = None if lengths is None else [int(v) for v in lengths]
        if Z.shape[0] > self.max_fit_rows:  # a contiguous stretch keeps the Markov structure
            Z = Z[-self.max_fit_rows :]
            lens = None
        k = max(1, min(self.n_regimes, Z.shape[0]))
        hmm = GaussianHMM(
            n_components=k,
            covariance_type=self.covariance_type,
            n_iter=self.n_iter,
            random_state=self.random_state,
            min_covar=1e-3,
            tol=1e-3,
        )
        # hmmlearn logs "Model is not converging" at WARNING when the log-likelihood dips by float noise
        # (~1e-8) after it has converged; keep stderr clean and record convergence on the estimator
        hmm_log = logging.getLogger("hmmlearn.base")
        level = hmm_log.level
        hmm_log.setLevel(logging.ERROR)
        try:
            hmm.fit(Z, lengths=lens)
        finally:
            hmm_log.setLevel(level)
        self.converged_ = bool(hmm.monitor_.converged)
        self.n_iter_ = int(hmm.monitor_.iter)
        order = _order_by_first(hmm.means_)
        self.order_ = order
        self.means_ = np.asarray(hmm.means_[order])
        covars = np.asarray(hmm.covars_)  # always (k, d, d) in hmmlearn's public accessor
        self.covars_ = covars[order]
        trans = np.asarray(hmm.transmat_)[np.ix_(order, order)]
        start = np.asarray(hmm.startprob_)[order]
        with np.errstate(divide="ignore"):
            self.log_transmat_ = np.log(np.maximum(trans, 1e-300))
            self.log_startprob_ = np.log(np.maximum(start, 1e-300))
        self.n_regimes_ = k
        self.labels_ = self.predict(X, lengths)
        return self

    def _log_likelihood(self, Z: FloatArray) -> FloatArray:
        n, d = Z.shape
        out = np.empty((n, self.n_regimes_))
        for j in range(self.n_regimes_):
            cov = self.covars_[j] + 1e-9 * np.eye(d)
            chol = np.linalg.cholesky(cov)
            diff = Z - self.means_[j]
            sol = np.linalg.solve(chol, diff.T)
            maha = np.sum(sol * sol, axis=0)
            logdet = 2.0 * np.sum(np.log(np.diag(chol)))
            out[:, j] = -0.5 * (maha + logdet + d * np.log(2.0 * np.pi))
        return out

    def predict_proba(self, X: Any, lengths: Any = None) -> FloatArray:
        X = self._validate_predict(X)
        Z = _z(X, self.mean_, self.scale_)
        starts = np.zeros(X.shape[0], dtype=np.bool_)
        if lengths is not None:
            b = np.cumsum(np.asarray(lengths, dtype=np.int64))[:-1]
            starts[b[b < X.shape[0]]] = True
        return np.asarray(
            forward_filter_kernel(self._log_likelihood(Z), self.log_startprob_, self.log_transmat_, starts)
        )


def make_regime_model(method: str, n_regimes: int = 2, random_state: int = 0, **kwargs: Any) -> _RegimeBase:
    """``"rules"`` -> QuantileRegimes, ``"gmm"`` -> GMMRegimes, ``"hmm"`` -> HMMRegimes."""
    if method == "rules":
        return QuantileRegimes(n_buckets=kwargs.get("n_buckets", 2))
    if method == "gmm":
        return GMMRegimes(
            n_regimes=n_regimes, random_state=random_state, max_fit_rows=kwargs.get("max_fit_rows", 100_000)
        )
    if method == "hmm":
        return HMMRegimes(
            n_regimes=n_regimes, random_state=random_state, max_fit_rows=kwargs.get("max_fit_rows", 100_000)
        )
    from orderflow.core.errors import ConfigError

    raise ConfigError(f"regimes.method: unknown {method!r} (rules, gmm, hmm)")


__all__ = ["GMMRegimes", "HMMRegimes", "QuantileRegimes", "make_regime_model"]
