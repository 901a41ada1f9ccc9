"""Numbers only: classification, quantile, decision, drawdown and Sharpe metrics (no plotting, no IO).

Every function takes plain arrays and returns JSON-ready dicts of Python floats/ints (NaN where a metric is
undefined, e.g. no trades). :func:`metric_bundle` computes all of them for one subset of rows, so the same
numbers exist globally, per regime and for regime transitions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import kurtosis, norm, skew
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

CLASSES = (-1, 0, 1)
CLASS_NAMES = {-1: "down", 0: "flat", 1: "up"}
EULER_GAMMA = 0.5772156649015329


def _f(x: Any) -> float:
    v = float(x)
    return v if math.isfinite(v) else float("nan")


def classification_metrics(
    y: NDArray[Any], pred: NDArray[Any], classes: Sequence[int] = CLASSES
) -> dict[str, Any]:
    """Macro F1 (each class weighs the same), support-weighted F1, accuracy, per-class P/R/F1, confusion.

    ``confusion[i][j]`` counts rows of true class ``classes[i]`` predicted as ``classes[j]``.
    """
    labels = list(classes)
    n = int(y.shape[0])
    if n == 0:
        return {"rows": 0, "macro_f1": float("nan"), "weighted_f1": float("nan"), "accuracy": float("nan")}
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    per = {
        CLASS_NAMES.get(c, str(c)): {
            "precision": _f(p[i]),
            "recall": _f(r[i]),
            "f1": _f(f[i]),
            "support": int(s[i]),
        }
        for i, c in enumerate(labels)
    }
    present = [c for c in labels if np.any(y == c)]
    return {
        "rows": n,
        "macro_f1": _f(f1_score(y, pred, labels=present or labels, average="macro", zero_division=0)),
        "weighted_f1": _f(f1_score(y, pred, labels=labels, average="weighted", zero_division=0)),
        "accuracy": _f(np.mean(y == pred)),
        "per_class": per,
        "confusion": confusion_matrix(y, pred, labels=labels).astype(int).tolist(),
    }


def chance_macro_f1(y: NDArray[Any], classes: Sequence[int] = CLASSES) -> float:
    """Expected macro F1 of a predictor drawing classes at random with the empirical class frequencies.

    For class c with frequency p_c, precision = recall = p_c, so F1_c = p_c and the macro F1 is the mean of
    the p_c over the classes present: 1 / K.
    """
    present = [c for c in classes if np.any(y == c)]
    return 1.0 / len(present) if present else float("nan")


def calibration_curve_top(
    proba: NDArray[np.float64], y_index: NDArray[np.int64], bins: int = 10
) -> dict[str, Any]:
    """Reliability of the top-class probability: per confidence bin, mean confidence vs accuracy; plus ECE."""
    conf = proba.max(axis=1)
    hit = (proba.argmax(axis=1) == y_index).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, bins - 1)
    mc, acc, cnt = [], [], []
    ece = 0.0
    for b in range(bins):
        m = idx == b
        k = int(m.sum())
        cnt.append(k)
        mc.append(_f(conf[m].mean()) if k else float("nan"))
        acc.append(_f(hit[m].mean()) if k else float("nan"))
        if k:
            ece += k / conf.shape[0] * abs(conf[m].mean() - hit[m].mean())
    return {"bin_edges": edges.tolist(), "confidence": mc, "accuracy": acc, "count": cnt, "ece": _f(ece)}


def pinball_loss(y: NDArray[np.float64], q: NDArray[np.float64], levels: Sequence[float]) -> dict[str, float]:
    """Mean pinball (quantile) loss per level and averaged: ``max(tau (y - q), (tau - 1)(y - q))``."""
    out: dict[str, float] = {}
    losses = []
    for j, tau in enumerate(levels):
        d = y - q[:, j]
        loss = float(np.mean(np.maximum(tau * d, (tau - 1.0) * d))) if y.size else float("nan")
        out[f"q_{round(tau * 100):02d}"] = _f(loss)
        losses.append(loss)
    out["mean"] = _f(np.mean(losses)) if losses else float("nan")
    return out


def quantile_metrics(
    y: NDArray[np.float64], q: NDArray[np.float64], levels: Sequence[float]
) -> dict[str, Any]:
    """Pinball loss, coverage and width of the central intervals, and calibration ``mean(y < q_tau)``."""
    lv = list(levels)
    out: dict[str, Any] = {"rows": int(y.shape[0])}
    pin = pinball_loss(y, q, lv)
    out["pinball"] = pin["mean"]
    out["pinball_by_level"] = {k: v for k, v in pin.items() if k != "mean"}
    out["calibration"] = {
        f"q_{round(t * 100):02d}": _f(np.mean(y < q[:, j])) if y.size else float("nan")
        for j, t in enumerate(lv)
    }
    for i in range(len(lv) // 2):
        lo, hi = lv[i], lv[len(lv) - 1 - i]
        if abs(lo + hi - 1.0) > 1e-9:
            continue
        nominal = round((hi - lo) * 100)
        inside = (y >= q[:, i]) & (y <= q[:, len(lv) - 1 - i])
        out[f"coverage_{nominal}"] = _f(inside.mean()) if y.size else float("nan")
        out[f"width_{nominal}"] = _f(np.mean(q[:, len(lv) - 1 - i] - q[:, i])) if y.size else float("nan")
    return out


def decision_metrics(decision: NDArray[np.int8], realized: NDArray[np.float64]) -> dict[str, Any]:
    """EV of the decisions: per-trade executable return after costs (bps) over rows with decision != 0."""
    m = decision != 0
    r = realized[m]
    n = int(m.sum())
    qs = (0.05, 0.25, 0.5, 0.75, 0.95)
    out: dict[str, Any] = {
        "rows": int(decision.shape[0]),
        "trades": n,
        "long": int((decision > 0).sum()),
        "short": int((decision < 0).sum()),
        "ev_mean": _f(r.mean()) if n else float("nan"),
        "ev_total": _f(r.sum()) if n else 0.0,
        "hit_rate": _f((r > 0).mean()) if n else float("nan"),
        "ev_quantiles": {
            f"q_{round(t * 100):02d}": (_f(np.quantile(r, t)) if n else float("nan")) for t in qs
        },
    }
    return out


def drawdown_metrics(pnl: NDArray[np.float64], ts: NDArray[np.int64] | None = None) -> dict[str, Any]:
    """Drawdown of the cumulative P&L path ``cumsum(pnl)`` (starting from 0).

    ``max``: largest peak-to-trough fall; ``duration_steps`` (and ``duration_ns`` when ``ts`` is given): longest
    stretch below a previous peak; ``time_under_water``: share of steps below the running peak.
    """
    if pnl.size == 0:
        return {"max": 0.0, "duration_steps": 0, "duration_ns": 0, "time_under_water": 0.0}
    eq = np.concatenate([[0.0], np.cumsum(pnl)])
    peak = np.maximum.accumulate(eq)
    dd = peak - eq
    under = dd > 0
    longest = 0
    longest_ns = 0
    start = -1
    tt = None if ts is None else np.concatenate([[ts[0]], ts])
    for i in range(eq.shape[0] + 1):
        u = under[i] if i < eq.shape[0] else False
        if u and start < 0:
            start = i
        elif not u and start >= 0:
            longest = max(longest, i - start)
            if tt is not None:
                end = min(i, eq.shape[0] - 1)
                longest_ns = max(longest_ns, int(tt[end] - tt[start - 1]))
            start = -1
    return {
        "max": _f(dd.max()),
        "duration_steps": int(longest),
        "duration_ns": int(longest_ns),
        "time_under_water": _f(under[1:].mean()),
    }


def sharpe_ratio(r: NDArray[np.float64]) -> float:
    """Per-period Sharpe ratio ``mean / std`` (ddof=1); NaN with fewer than 2 periods or zero variance."""
    if r.size < 2:
        return float("nan")
    sd = float(np.std(r, ddof=1))
    return _f(np.mean(r) / sd) if sd > 0 else float("nan")


def deflated_sharpe_ratio(
    sr: float, n_obs: int, sr_trials: Sequence[float], skewness: float, kurt: float
) -> dict[str, float]:
    """Deflated Sharpe ratio (Bailey & López de Prado 2014).

    ``SR0 = sqrt(V[SR_n]) ((1 - g) Z^-1(1 - 1/N) + g Z^-1(1 - 1/(N e)))`` is the expected maximum Sharpe of N
    unskilled trials (g = Euler-Mascheroni), and
    ``DSR = Z((SR - SR0) sqrt(T - 1) / sqrt(1 - skew SR + (kurt - 1)/4 SR^2))`` with ``kurt`` the (non-excess)
    kurtosis. With one trial SR0 = 0 and DSR is the probabilistic Sharpe ratio against 0.
    """
    trials = np.asarray([s for s in sr_trials if math.isfinite(s)], dtype=np.float64)
    n_trials = int(trials.size)
    if not math.isfinite(sr) or n_obs < 2:
        return {"dsr": float("nan"), "sr0": float("nan"), "n_trials": n_trials}
    if n_trials > 1:
        v = float(np.var(trials, ddof=1))
        sr0 = math.sqrt(v) * (
            (1 - EULER_GAMMA) * norm.ppf(1 - 1 / n_trials)
            + EULER_GAMMA * norm.ppf(1 - 1 / (n_trials * math.e))
        )
    else:
        sr0 = 0.0
    denom = 1.0 - skewness * sr + (kurt - 1.0) / 4.0 * sr * sr
    if not denom > 0:
        return {"dsr": float("nan"), "sr0": _f(sr0), "n_trials": n_trials}
    z = (sr - sr0) * math.sqrt(n_obs - 1) / math.sqrt(denom)
    return {"dsr": _f(norm.cdf(z)), "sr0": _f(sr0), "n_trials": n_trials}


def sharpe_metrics(r: NDArray[np.float64], sr_trials: Sequence[float] | None = None) -> dict[str, Any]:
    """Per-trade Sharpe of the realised returns and its deflated version over ``sr_trials``."""
    sr = sharpe_ratio(r)
    sk = _f(skew(r)) if r.size > 2 and np.std(r) > 0 else 0.0
    ku = _f(kurtosis(r, fisher=False)) if r.size > 3 and np.std(r) > 0 else 3.0
    d = deflated_sharpe_ratio(sr, int(r.size), list(sr_trials) if sr_trials is not None else [sr], sk, ku)
    return {
        "per_trade": sr,
        "n": int(r.size),
        "skew": sk,
        "kurtosis": ku,
        "deflated": d["dsr"],
        "sr0": d["sr0"],
        "n_trials": d["n_trials"],
    }


def transition_mask(regime: NDArray[np.int64], group: NDArray[np.int64], window: int) -> NDArray[np.bool_]:
    """Rows within ``window`` rows after a regime change inside the same group (partition), in row order."""
    n = regime.shape[0]
    out = np.zeros(n, dtype=bool)
    last_change = -(10**18)
    for i in range(n):
        if i > 0 and group[i] == group[i - 1]:
            if regime[i] != regime[i - 1]:
                last_change = i
        else:
            last_change = -(10**18)
        out[i] = i - last_change < window
    return out


__all__ = [
    "CLASSES",
    "calibration_curve_top",
    "chance_macro_f1",
    "classification_metrics",
    "decision_metrics",
    "deflated_sharpe_ratio",
    "drawdown_metrics",
    "pinball_loss",
    "quantile_metrics",
    "sharpe_metrics",
    "sharpe_ratio",
    "transition_mask",
]
