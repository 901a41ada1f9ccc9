"""Classic microstructure studies on canonical tables.

* :func:`ofi_impact`: Cont, Kukanov, Stoikov (2014) - contemporaneous price impact of order-flow
  imbalance over fixed intervals, against signed trade volume, plus multi-level OFI (Xu, Gould,
  Howison 2019).
* :func:`microprice_study`: Stoikov (2018) - mid, weighted mid and micro-price as forecasts of the mid
  a horizon later, with the micro-price fitted on the first part of the day and scored out of sample.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from orderflow.core.enums import PRICE_SCALE, UNDEF_PRICE, TradeKind
from orderflow.core.errors import OrderflowError
from orderflow.core.instruments import Instrument
from orderflow.core.schema import snapshot_depth
from orderflow.core.time import NS_PER_S, local_midnight_ns, ns_to_date
from orderflow.features import _kernels as K
from orderflow.features.microprice import MicropriceEstimator


def _ols(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, float]:
    """OLS of y on [1, X]: (coefficients with the intercept first, R^2)."""
    A = np.column_stack([np.ones(y.shape[0]), X])
    beta, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ beta
    tss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / tss if tss > 0 else float("nan")
    return beta, r2


def book_ofi(snapshots: pl.DataFrame, levels: int, size_unit: float = 1.0) -> np.ndarray:
    """Per-update OFI e_n of levels 1..``levels`` (shape (levels, n); column 0 is NaN: no previous book)."""
    depth = snapshot_depth(snapshots)
    L = min(levels, depth)
    mats = [
        np.stack([snapshots[f"{s}_{k:02d}"].to_numpy().astype(np.int64) for k in range(L)])
        for s in ("bid_px", "bid_sz", "ask_px", "ask_sz")
    ]
    n = snapshots.height
    out = np.empty((L, n))
    K.book_kernel(
        mats[0],
        mats[1],
        mats[2],
        mats[3],
        np.zeros((4, L), dtype=np.int64),
        0,
        1,
        size_unit,
        out,
        -1,
        -1,
        -1,
        -1,
        np.zeros((0, 1)),
        -1,
        0,
        0,
        L,
        -1,
        np.zeros(0),
        np.zeros(0, dtype=np.int64),
        False,
        -1,
        0,
        -1,
        0,
    )
    return out


def _mid_ticks(snapshots: pl.DataFrame, tick_int: int) -> np.ndarray:
    bp = snapshots["bid_px_00"].to_numpy()
    ap = snapshots["ask_px_00"].to_numpy()
    ok = (
        (bp != UNDEF_PRICE)
        & (ap != UNDEF_PRICE)
        & (snapshots["bid_sz_00"].to_numpy() > 0)
        & (snapshots["ask_sz_00"].to_numpy() > 0)
    )
    return np.where(ok, (bp.astype(np.float64) + ap.astype(np.float64)) / (2.0 * tick_int), np.nan)


def session_origin_ns(first_ts: int, instrument: Instrument, session_start: str) -> int:
    """UTC ns of ``session_start`` (HH:MM[:SS], instrument-local time) on the local date of ``first_ts``."""
    t = dt.time.fromisoformat(session_start)
    day = ns_to_date(first_ts, instrument.timezone)
    return local_midnight_ns(day, instrument.timezone) + ((t.hour * 60 + t.minute) * 60 + t.second) * NS_PER_S


def ofi_impact(
    snapshots: pl.DataFrame,
    trades: pl.DataFrame | None,
    *,
    instrument: Instrument,
    interval_ns: int,
    session_start: str = "09:30",
    levels: int | None = None,
) -> dict[str, Any]:
    """Regress mid changes on OFI over intervals [origin + kT, origin + (k+1)T) (Cont, Kukanov, Stoikov 2014).

    * OFI of interval k: sum of the best-level e_n over book updates n (n >= 1: the first book row has no
      predecessor) with ts in the interval.
    * dP_k: mid (ticks) after the interval's last update minus mid after the last update before the
      interval (the first book row for the first interval); an interval without updates keeps the book
      (dP = 0, OFI = 0) and stays in the regression.
    * origin = ``session_start`` in the instrument's local time zone on the first row's local date;
      intervals run up to the one holding the last book row. Rows before the origin only set the
      starting book.
    * Signed volume: TRADES of kind regular or hidden, aggressor x size, binned the same way.
    * Multi-level: OLS of dP on the per-level OFIs of levels 1..M (M = min(levels, book depth)).

    All regressions are OLS with an intercept; R^2 is the usual 1 - RSS/TSS.
    """
    if snapshots.height < 2:
        raise OrderflowError(f"ofi-impact: need at least 2 book rows, got {snapshots.height}")
    if interval_ns <= 0:
        raise OrderflowError(f"ofi-impact: interval must be > 0, got {interval_ns} ns")
    depth = snapshot_depth(snapshots)
    M = depth if levels is None else max(1, min(levels, depth))
    ts = snapshots["ts_event"].to_numpy()
    origin = session_origin_ns(int(ts[0]), instrument, session_start)
    e = book_ofi(snapshots, M)
    e[:, 0] = 0.0  # the first book row only sets the starting state
    mid = _mid_ticks(snapshots, instrument.tick_int)
    k = np.floor_divide(ts - origin, interval_ns)
    in_s = k >= 0
    if not in_s.any():
        raise OrderflowError("ofi-impact: no book rows after the session start")
    n_int = int(k.max()) + 1
    kk = k[in_s]
    ofi = np.zeros((M, n_int))
    for m in range(M):
        ofi[m] = np.bincount(kk, weights=e[m][in_s], minlength=n_int)
    # mid after the last row of each interval (carry forward through empty intervals)
    idx = np.arange(ts.shape[0])
    last = np.full(n_int, -1)
    np.maximum.at(last, kk, idx[in_s])
    first_in = int(np.argmax(in_s))
    start = first_in - 1 if first_in > 0 else 0
    ref = np.maximum.accumulate(np.where(last >= 0, last, start))
    mid_end = mid[ref]
    mid_prev = np.concatenate([[mid[start]], mid_end[:-1]])
    dp = mid_end - mid_prev
    ok = np.isfinite(dp)
    res: dict[str, Any] = {
        "interval_s": interval_ns / NS_PER_S,
        "session_start_local": session_start,
        "intervals": int(ok.sum()),
        "intervals_nonempty": int((last >= 0).sum()),
        "intervals_dropped_one_sided_book": int((~ok).sum()),
        "book_rows": int(snapshots.height),
    }
    beta, r2 = _ols(dp[ok], ofi[0][ok])
    res.update(
        slope=float(beta[1]), intercept=float(beta[0]), r2=r2, slope_unit="ticks per share (size unit)"
    )
    if trades is not None and trades.height:
        kind = trades["kind"].to_numpy()
        tts = trades["ts_event"].to_numpy()
        tk = np.floor_divide(tts - origin, interval_ns)
        sel = ((kind == int(TradeKind.REGULAR)) | (kind == int(TradeKind.HIDDEN))) & (tk >= 0) & (tk < n_int)
        sv = (
            trades["aggressor"].to_numpy().astype(np.float64)
            * trades["size"].to_numpy()
            * instrument.size_unit_float
        )
        vol = np.bincount(tk[sel], weights=sv[sel], minlength=n_int)
        bv, r2v = _ols(dp[ok], vol[ok])
        res.update(
            slope_volume=float(bv[1]),
            intercept_volume=float(bv[0]),
            r2_volume=r2v,
            trades_used=int(sel.sum()),
        )
    else:
        res.update(slope_volume=None, intercept_volume=None, r2_volume=None, trades_used=0)
    bm, r2m = _ols(dp[ok], ofi[:, ok].T)
    res.update(mlofi_levels=M, r2_mlofi=r2m, mlofi_coefficients=[float(b) for b in bm[1:]])
    return res


def microprice_study(
    snapshots: pl.DataFrame,
    *,
    instrument: Instrument,
    horizon_ns: int,
    train_fraction: float = 0.5,
    n_imbalance_buckets: int = 10,
    max_spread_ticks: int = 3,
    n_terms: int = 6,
) -> dict[str, Any]:
    """Mean squared error (ticks^2) of mid, weighted mid and micro-price as forecasts of the mid ``horizon`` later.

    Split: the micro-price is fitted on book rows with ts < t0 + train_fraction * (t_last - t0) (the first
    part of the day by time) and evaluated on every later book row whose horizon ends by the last row.
    Target: the mid of the last book row with ts <= ts + horizon. Rows with a one-sided book (now or at the
    target) are skipped.
    """
    if not 0.0 < train_fraction < 1.0:
        raise OrderflowError(f"microprice: train fraction must be in (0, 1), got {train_fraction}")
    if horizon_ns <= 0:
        raise OrderflowError(f"microprice: horizon must be > 0, got {horizon_ns} ns")
    ts = snapshots["ts_event"].to_numpy()
    t0, t1 = int(ts[0]), int(ts[-1])
    split = t0 + int(train_fraction * (t1 - t0))
    train = snapshots.filter(pl.col("ts_event") < split)
    if train.height < 2:
        raise OrderflowError("microprice: training part has fewer than 2 book rows")
    est = MicropriceEstimator(
        n_imbalance_buckets=n_imbalance_buckets,
        max_spread_ticks=max_spread_ticks,
        n_terms=n_terms,
        tick_int=instrument.tick_int,
    ).fit(train)
    tick = instrument.tick_int
    mid = _mid_ticks(snapshots, tick)
    bp = snapshots["bid_px_00"].to_numpy().astype(np.float64)
    ap = snapshots["ask_px_00"].to_numpy().astype(np.float64)
    qb = snapshots["bid_sz_00"].to_numpy().astype(np.float64)
    qa = snapshots["ask_sz_00"].to_numpy().astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        wmid = (qb * ap + qa * bp) / (qb + qa) / tick
    adj = est.transform(snapshots)[:, 0]
    micro = mid + adj
    target_idx = np.searchsorted(ts, ts + horizon_ns, side="right") - 1
    target = mid[target_idx]
    test = (ts >= split) & (ts + horizon_ns <= t1)
    ok = test & np.isfinite(mid) & np.isfinite(wmid) & np.isfinite(micro) & np.isfinite(target)
    if not ok.any():
        raise OrderflowError("microprice: no evaluation rows (day too short for the horizon?)")

    def mse(f: np.ndarray) -> float:
        d = (f - target)[ok]
        return float(d @ d / d.shape[0])

    return {
        "horizon_s": horizon_ns / NS_PER_S,
        "train_fraction": train_fraction,
        "split_ts": split,
        "n_train_rows": int(train.height),
        "n_test_rows": int(ok.sum()),
        "mse_unit": "ticks^2",
        "mse_mid": mse(mid),
        "mse_weighted_mid": mse(wmid),
        "mse_microprice": mse(micro),
        "microprice_table_ticks": [[round(float(x), 6) for x in row] for row in est.table_],
        "price_scale": PRICE_SCALE,
    }


__all__ = ["book_ofi", "microprice_study", "ofi_impact", "session_origin_ns"]
