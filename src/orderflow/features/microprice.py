"""Stoikov's micro-price (Stoikov 2018, "The micro-price: a high-frequency estimator of future prices",
Quantitative Finance 18(12)), estimated from training data.

State X = (I, S): I = Qb / (Qb + Qa) at the touch in ``n_imbalance_buckets`` equal buckets, S = spread
in ticks (1 .. ``max_spread_ticks``, wider spreads clipped). From consecutive book rows of the training
data (symmetrised: every transition is also added mirrored, I -> 1 - I and dM -> -dM) the estimator
counts

* Q[x, y]: transitions x -> y with no mid change,
* T[x, y]: transitions x -> y with a mid change,
* R1[x]:   the sum of the mid changes (ticks) of transitions leaving x,

normalised by the number of transitions leaving x. Then (paper eq. 3.6-3.9)
``G1 = (1 - Q)^-1 R1``, ``B = (1 - Q)^-1 T`` and the adjustment ``g* = sum_{k=0}^{K-1} B^k G1``
(``n_terms`` = K, 6 in the paper). The micro-price is ``mid + g*(I, S) * tick``.

Learned state: ``table_`` (max_spread_ticks, n_imbalance_buckets) adjustments in ticks,
``counts_`` (same shape) training transitions per state, ``tick_int_``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator

from orderflow.core.enums import PRICE_SCALE, UNDEF_PRICE
from orderflow.core.errors import ConfigError, OrderflowError


def _states(
    bp: np.ndarray, bq: np.ndarray, ap: np.ndarray, aq: np.ndarray, tick_int: int, n_b: int, n_s: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(valid, imbalance bucket, spread index 0..n_s-1, mid in half ticks as int64)."""
    valid = (bp != UNDEF_PRICE) & (ap != UNDEF_PRICE) & (bq > 0) & (aq > 0) & (ap > bp)
    tot = np.where(valid, bq + aq, 1).astype(np.float64)
    imb = np.where(valid, bq / tot, 0.5)
    kb = np.minimum((imb * n_b).astype(np.int64), n_b - 1)
    sp = np.where(valid, ap - bp, tick_int)
    s = np.clip((sp + tick_int // 2) // tick_int, 1, n_s) - 1
    # mid in half ticks relative to an anchor keeps integer exactness
    mid2 = np.where(valid, (ap + bp), 0)
    return valid, kb, s, mid2


class MicropriceEstimator(BaseEstimator):
    """Stoikov (2018) micro-price adjustment g*(imbalance, spread), fitted on training book rows.

    Parameters
    ----------
    n_imbalance_buckets : int
        Equal-width buckets of I = Qb / (Qb + Qa) in [0, 1].
    max_spread_ticks : int
        Spreads are rounded to ticks and clipped to 1 .. max_spread_ticks.
    n_terms : int
        Terms of the series sum_k B^k G1 (the paper uses 6).
    tick_int : int or None
        Tick size in 1e-9 price units; None takes the smallest positive spread seen in training.
    symmetrize : bool
        Add every transition mirrored (I -> 1-I, dM -> -dM), as the paper does.

    ``fit(X)`` takes a BOOK_SNAPSHOTS frame (``bid_px_00, bid_sz_00, ask_px_00, ask_sz_00``; rows in
    time order, transitions between consecutive rows) or a numpy array with those four columns.
    ``predict(X)`` returns the micro-price in currency units, ``transform(X)`` the adjustment in ticks.
    """

    def __init__(
        self,
        n_imbalance_buckets: int = 10,
        max_spread_ticks: int = 3,
        n_terms: int = 6,
        tick_int: int | None = None,
        symmetrize: bool = True,
    ) -> None:
        self.n_imbalance_buckets = n_imbalance_buckets
        self.max_spread_ticks = max_spread_ticks
        self.n_terms = n_terms
        self.tick_int = tick_int
        self.symmetrize = symmetrize

    # -- input -----------------------------------------------------------------------------------------
    @staticmethod
    def _columns(X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if isinstance(X, pl.DataFrame):
            missing = [c for c in ("bid_px_00", "bid_sz_00", "ask_px_00", "ask_sz_00") if c not in X.columns]
            if missing:
                raise OrderflowError(f"MicropriceEstimator: book frame lacks columns {missing}")
            return tuple(
                X[c].to_numpy().astype(np.int64) for c in ("bid_px_00", "bid_sz_00", "ask_px_00", "ask_sz_00")
            )  # type: ignore[return-value]
        a = np.asarray(X)
        if a.ndim != 2 or a.shape[1] != 4:
            raise ValueError(
                f"X must be a BOOK_SNAPSHOTS frame or an (n, 4) array [bid_px, bid_sz, ask_px, ask_sz]; got shape {a.shape}"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError("X contains NaN or infinity")
        a = a.astype(np.int64)
        return a[:, 0], a[:, 1], a[:, 2], a[:, 3]

    def _check_params(self) -> None:
        if int(self.n_imbalance_buckets) < 2:
            raise ConfigError(f"n_imbalance_buckets must be >= 2, got {self.n_imbalance_buckets}")
        if int(self.max_spread_ticks) < 1:
            raise ConfigError(f"max_spread_ticks must be >= 1, got {self.max_spread_ticks}")
        if int(self.n_terms) < 1:
            raise ConfigError(f"n_terms must be >= 1, got {self.n_terms}")

    # -- fit -------------------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> MicropriceEstimator:
        self._check_params()
        bp, bq, ap, aq = self._columns(X)
        if bp.shape[0] < 2:
            raise ValueError(f"MicropriceEstimator needs at least 2 book rows to fit, got {bp.shape[0]}")
        n_b, n_s = int(self.n_imbalance_buckets), int(self.max_spread_ticks)
        tick = self.tick_int
        if tick is None:
            sp = (ap - bp)[(ap != UNDEF_PRICE) & (bp != UNDEF_PRICE) & (ap > bp)]
            if sp.size == 0:
                raise ValueError("no two-sided book rows to infer the tick size from; pass tick_int")
            tick = int(sp.min())
        valid, kb, s, mid2 = _states(bp, bq, ap, aq, int(tick), n_b, n_s)
        ok = valid[:-1] & valid[1:]
        x = (s[:-1] * n_b + kb[:-1])[ok]
        yst = (s[1:] * n_b + kb[1:])[ok]
        dm = (mid2[1:] - mid2[:-1])[ok] / (2.0 * tick)
        if self.symmetrize:
            xm = s[:-1][ok] * n_b + (n_b - 1 - kb[:-1][ok])
            ym = s[1:][ok] * n_b + (n_b - 1 - kb[1:][ok])
            x = np.concatenate([x, xm])
            yst = np.concatenate([yst, ym])
            dm = np.concatenate([dm, -dm])
        ns = n_s * n_b
        cnt = np.bincount(x, minlength=ns).astype(np.float64)
        moved = dm != 0
        Q = np.zeros((ns, ns))
        T = np.zeros((ns, ns))
        np.add.at(Q, (x[~moved], yst[~moved]), 1.0)
        np.add.at(T, (x[moved], yst[moved]), 1.0)
        R1 = np.bincount(x, weights=dm, minlength=ns).astype(np.float64)
        seen = cnt > 0
        denom = np.where(seen, cnt, 1.0)
        Q /= denom[:, None]
        T /= denom[:, None]
        R1 = R1 / denom
        # states never left (unseen) are absorbing with no drift: Q = 1 on the diagonal would be singular,
        # so they get G = 0 by zero rows and an identity diagonal excluded from (1 - Q).
        A = np.eye(ns) - Q
        for k in np.flatnonzero(~seen):
            A[k, :] = 0.0
            A[k, k] = 1.0
        try:
            inv = np.linalg.inv(A)
        except np.linalg.LinAlgError:
            inv = np.linalg.pinv(A)
        G1 = inv @ R1
        B = inv @ T
        g = G1.copy()
        term = G1.copy()
        for _ in range(int(self.n_terms) - 1):
            term = B @ term
            g += term
        self.table_ = g.reshape(n_s, n_b)
        self.counts_ = cnt.reshape(n_s, n_b)
        self.tick_int_ = int(tick)
        self.n_features_in_ = 4
        return self

    # -- use -------------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "table_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("MicropriceEstimator is not fitted; call fit() on training book rows first")

    def transform(self, X: Any) -> np.ndarray:
        """Adjustment g*(I, S) in ticks for each row (NaN where the book is one-sided), shape (n, 1)."""
        self._check_fitted()
        bp, bq, ap, aq = self._columns(X)
        n_s, n_b = self.table_.shape
        valid, kb, s, _ = _states(bp, bq, ap, aq, self.tick_int_, n_b, n_s)
        adj = np.where(valid, self.table_[s, kb], np.nan)
        return adj.reshape(-1, 1)

    def predict(self, X: Any) -> np.ndarray:
        """Micro-price in currency units: mid + g* x tick (NaN where the book is one-sided)."""
        adj = self.transform(X)[:, 0]
        bp, _, ap, _ = self._columns(X)
        mid = (bp.astype(np.float64) + ap.astype(np.float64)) / (2 * PRICE_SCALE)
        return np.asarray(mid + adj * self.tick_int_ / PRICE_SCALE)

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        return self.fit(X).transform(X)


__all__ = ["MicropriceEstimator"]
