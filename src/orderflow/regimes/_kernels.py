"""Causal kernels for regimes: irregular-time EWMA and the HMM forward filter."""

from __future__ import annotations

import numpy as np

from orderflow._numba import jit


@jit
def ewma_time_kernel(ts: np.ndarray, x: np.ndarray, halflife_ns: float) -> np.ndarray:
    """Time-decayed EWMA of ``x`` on irregular times: ``y_j = w y_{j-1} + (1 - w) x_j``, ``w = 2^(-dt/hl)``.

    ``y[j]`` depends on rows ``<= j`` only; NaN inputs are skipped (the average carries on).
    """
    m = ts.shape[0]
    out = np.empty(m, dtype=np.float64)
    lam = np.log(2.0) / halflife_ns
    y = np.nan
    last = ts[0] if m > 0 else 0
    for j in range(m):
        v = x[j]
        if v == v:
            if y != y:
                y = v
            else:
                w = np.exp(-lam * float(ts[j] - last))
                y = w * y + (1.0 - w) * v
            last = ts[j]
        out[j] = y
    return out


@jit
def event_rate_kernel(ts: np.ndarray, halflife_ns: float) -> np.ndarray:
    """Causal event intensity in events per second (exponentially time-decayed count)."""
    m = ts.shape[0]
    out = np.empty(m, dtype=np.float64)
    lam = np.log(2.0) / halflife_ns
    acc = 0.0
    last = ts[0] if m > 0 else 0
    for j in range(m):
        acc = acc * np.exp(-lam * float(ts[j] - last)) + 1.0
        last = ts[j]
        out[j] = acc * lam * 1e9
    return out


@jit
def forward_filter_kernel(
    log_b: np.ndarray, log_start: np.ndarray, log_trans: np.ndarray, starts: np.ndarray
) -> np.ndarray:
    """Filtered state probabilities ``P(state_t | obs_1..t)`` of a hidden Markov model (forward algorithm).

    ``log_b[t, k]`` is the log-likelihood of row t under state k; ``starts`` flags rows that begin a new
    sequence (the filter restarts from the initial distribution there). Nothing after row t is used.
    """
    n, k = log_b.shape
    out = np.empty((n, k), dtype=np.float64)
    trans = np.exp(log_trans)
    start = np.exp(log_start)
    prev = np.empty(k, dtype=np.float64)
    cur = np.empty(k, dtype=np.float64)
    for t in range(n):
        mx = log_b[t, 0]
        for j in range(1, k):
            if log_b[t, j] > mx:
                mx = log_b[t, j]
        if t == 0 or starts[t]:
            for j in range(k):
                cur[j] = start[j]
        else:
            for j in range(k):
                acc = 0.0
                for i in range(k):
                    acc += prev[i] * trans[i, j]
                cur[j] = acc
        tot = 0.0
        for j in range(k):
            cur[j] = cur[j] * np.exp(log_b[t, j] - mx)
            tot += cur[j]
        if tot <= 0.0 or tot != tot:
            for j in range(k):
                cur[j] = 1.0 / k
        else:
            for j in range(k):
                cur[j] /= tot
        for j in range(k):
            prev[j] = cur[j]
            out[t, j] = cur[j]
    return out
