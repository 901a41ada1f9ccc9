"""Sequential label kernels (numba). Each is written once in plain Python; ``kernel.py_func`` is its twin.

Conventions: arrays indexed by *book rows* (one row per book snapshot, time-ordered within a partition);
prices are floats in currency units with NaN for an empty level; returns are in basis points.
"""

from __future__ import annotations

import numpy as np

from orderflow._numba import jit


@jit
def taker_fee(notional: float, units: float, bps: float, per_unit: float, min_fee: float) -> float:
    """Taker fee in currency; the formula of :meth:`orderflow.core.execution.FeeModel.fee`."""
    f = abs(notional) * bps * 1e-4 + abs(units) * per_unit
    if f > 0.0 and f < min_fee:
        f = min_fee
    return f


@jit
def forward_return_kernel(start: np.ndarray, end: np.ndarray, price: np.ndarray) -> np.ndarray:
    """``(price[end] - price[start]) / price[start]`` in bps; NaN where ``end < 0`` or a price is NaN."""
    n = start.shape[0]
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        e = end[i]
        s = start[i]
        if e < 0 or s < 0:
            out[i] = np.nan
            continue
        p0 = price[s]
        p1 = price[e]
        if p0 != p0 or p1 != p1 or p0 <= 0.0:
            out[i] = np.nan
        else:
            out[i] = (p1 - p0) / p0 * 1e4
    return out


@jit
def triple_barrier_kernel(
    start: np.ndarray,
    limit_ns: np.ndarray,
    ts: np.ndarray,
    price: np.ndarray,
    upper_bps: np.ndarray,
    lower_bps: np.ndarray,
    sign_at_timeout: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First barrier touched by the price path after ``start`` (López de Prado's triple barrier).

    For row i the path is ``price[j]`` for book rows ``j > start[i]`` with ``ts[j] <= limit_ns[i]`` (the
    vertical barrier: ``t0 + h`` on a time clock, the horizon's end time on event/volume clocks; < 0 unknown).
    Returns ``(label, t_end, ret_bps)``: label +1 upper barrier first, -1 lower barrier first, else 0
    (or the sign of the return at the time limit when ``sign_at_timeout``); ``t_end`` is the touch time,
    or ``limit_ns`` at the time limit; label -2 and t_end -1 where the window runs past the data.
    """
    n = start.shape[0]
    m = ts.shape[0]
    label = np.zeros(n, dtype=np.int8)
    t_end = np.full(n, -1, dtype=np.int64)
    ret = np.full(n, np.nan, dtype=np.float64)
    last_ts = ts[m - 1] if m > 0 else 0
    for i in range(n):
        s = start[i]
        limit = limit_ns[i]
        p0 = price[s] if s >= 0 else np.nan
        if s < 0 or p0 != p0 or p0 <= 0.0 or limit < 0:
            label[i] = -2
            continue
        up = upper_bps[i]
        dn = lower_bps[i]
        r = 0.0
        done = False
        j = s + 1
        while j < m and ts[j] <= limit:
            pj = price[j]
            if pj == pj:
                r = (pj - p0) / p0 * 1e4
                if r >= up:
                    label[i] = 1
                    t_end[i] = ts[j]
                    done = True
                    break
                if r <= -dn:
                    label[i] = -1
                    t_end[i] = ts[j]
                    done = True
                    break
            j += 1
        ret[i] = r
        if not done and limit > last_ts:  # no barrier touched before the data ends: unknown
            label[i] = -2
            ret[i] = np.nan
        elif not done:
            t_end[i] = limit
            if sign_at_timeout:
                label[i] = 1 if r > 0.0 else (-1 if r < 0.0 else 0)
            else:
                label[i] = 0
    return label, t_end, ret


@jit(inline="always")
def _walk_row(px: np.ndarray, sz: np.ndarray, r: int, qty: float, extend: bool) -> tuple[float, float]:
    """Walk row ``r`` of 2-d level arrays for ``qty``: ``orderflow.book.sweep.walk_book`` on that row, without a row view.

    Returns ``(filled, notional)``. With ``extend``, a partial fill is completed at the deepest displayed
    level's price (a lower bound on the cost when a feed publishes few levels). The common case (the best
    level alone fills ``qty``) returns at once with the same arithmetic as ``walk_book`` (``take * px``).
    """
    s0 = sz[r, 0]
    p0 = px[r, 0]
    if s0 >= qty and qty > 0.0 and p0 == p0:
        return qty, qty * p0
    filled = 0.0
    notional = 0.0
    remaining = qty
    worst = np.nan
    for k in range(px.shape[1]):
        s = sz[r, k]
        p = px[r, k]
        if s <= 0.0 or p != p:
            continue
        worst = p
        if remaining > 0.0:
            take = s if s < remaining else remaining
            filled += take
            notional += take * p
            remaining -= take
        elif not extend:
            break
    if extend and 0.0 < filled < qty:
        notional += (qty - filled) * worst
        filled = qty
    return filled, notional


@jit
def executable_return_kernel(
    entry: np.ndarray,
    exit_: np.ndarray,
    bid_px: np.ndarray,
    bid_sz: np.ndarray,
    ask_px: np.ndarray,
    ask_sz: np.ndarray,
    qty: float,
    fee_bps: float,
    fee_per_unit: float,
    min_fee: float,
    size_unit: float,
    extend_last_level: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Round-trip taker returns in bps after walking the book and paying taker fees on both legs.

    Long: buy ``qty`` (size units) walking the asks of book row ``entry[i]``, sell the same quantity
    walking the bids of book row ``exit_[i]``. Short: the mirror image. The return is P&L after fees over
    the entry notional. Where the displayed depth cannot fill a leg in full: NaN, or with
    ``extend_last_level`` the rest is priced at the deepest displayed level (a lower bound on the cost,
    for books published with few levels). NaN where a row is < 0 or a side is empty.
    """
    n = entry.shape[0]
    long_r = np.full(n, np.nan, dtype=np.float64)
    short_r = np.full(n, np.nan, dtype=np.float64)
    units = qty * size_unit
    for i in range(n):
        a = entry[i]
        b = exit_[i]
        if a < 0 or b < 0:
            continue
        f_in, n_in = _walk_row(ask_px, ask_sz, a, qty, extend_last_level)
        f_out, n_out = _walk_row(bid_px, bid_sz, b, qty, extend_last_level)
        if f_in >= qty and f_out >= qty and n_in > 0.0:
            fees = taker_fee(n_in * size_unit, units, fee_bps, fee_per_unit, min_fee) + taker_fee(
                n_out * size_unit, units, fee_bps, fee_per_unit, min_fee
            )
            long_r[i] = ((n_out - n_in) * size_unit - fees) / (n_in * size_unit) * 1e4
        f_in, n_in = _walk_row(bid_px, bid_sz, a, qty, extend_last_level)
        f_out, n_out = _walk_row(ask_px, ask_sz, b, qty, extend_last_level)
        if f_in >= qty and f_out >= qty and n_in > 0.0:
            fees = taker_fee(n_in * size_unit, units, fee_bps, fee_per_unit, min_fee) + taker_fee(
                n_out * size_unit, units, fee_bps, fee_per_unit, min_fee
            )
            short_r[i] = ((n_in - n_out) * size_unit - fees) / (n_in * size_unit) * 1e4
    return long_r, short_r


@jit(inline="always")
def _first_greater(a: np.ndarray, x: int, lo: int, hi: int) -> int:
    """Smallest ``k`` in ``[lo, hi]`` with ``a[k] > x``, given ``a[lo - 1] <= x`` and ``a[hi] > x`` (or ``hi = len``)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@jit
def searchsorted_right(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``np.searchsorted(a, v, side="right")`` for sorted ``a`` (int64 result).

    Non-decreasing queries (the usual case: rows in time order) are answered by galloping forward from
    the previous answer (O(len(a) + len(v)) overall, cache friendly); wherever a query is smaller than
    its predecessor, that query is a plain binary search, so any order gives numpy's answer.
    """
    n = v.shape[0]
    m = a.shape[0]
    out = np.empty(n, dtype=np.int64)
    j = 0
    for i in range(n):
        x = v[i]
        if i > 0 and x < v[i - 1]:
            j = _first_greater(a, x, 0, m)
        else:
            step = 1
            lo = j
            hi = j
            while hi < m and a[hi] <= x:
                lo = hi + 1
                hi = j + step
                step <<= 1
            j = _first_greater(a, x, lo, hi if hi < m else m)
        out[i] = j
    return out


@jit
def ewma_vol_kernel(ts: np.ndarray, price: np.ndarray, halflife_ns: float) -> np.ndarray:
    """Causal realised-variance rate: exponentially time-decayed sum of squared log price changes.

    ``S_j = S_{j-1} exp(-lambda (ts_j - ts_{j-1})) + r_j^2`` with ``lambda = ln 2 / halflife_ns``; the
    output ``S_j * lambda * 1e9`` estimates the variance of log returns per second. ``out[j]`` uses book
    rows ``<= j`` only (NaN until the first price change is seen).
    """
    m = ts.shape[0]
    out = np.full(m, np.nan, dtype=np.float64)
    lam = np.log(2.0) / halflife_ns
    acc = 0.0
    seen = False
    last_p = np.nan
    last_t = 0
    for j in range(m):
        if j > 0:
            acc *= np.exp(-lam * float(ts[j] - last_t))
        last_t = ts[j]
        p = price[j]
        if p == p and p > 0.0:
            if last_p == last_p:
                r = np.log(p / last_p)
                acc += r * r
                seen = True
            last_p = p
        if seen:
            out[j] = acc * lam * 1e9
    return out
