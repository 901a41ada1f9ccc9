"""Hot loops of the feature stage (numba through ``orderflow._numba.jit``; ``kernel.py_func`` is the plain twin).

Every kernel is chunk-safe: whatever it needs from earlier rows lives in a small ``state`` array the
caller passes in and gets back updated, so computing a day in chunks gives the same numbers as one pass.
"""

from __future__ import annotations

import math

import numpy as np

from orderflow._numba import jit
from orderflow.core.enums import UNDEF_PRICE

INT64_MIN = -(2**63)
PRICE_SCALE_F = 1e-9
NAN = np.nan

BLOCK = 1024
"""Rows per block of book_kernel."""


@jit
def book_kernel(
    bpx,
    bsz,
    apx,
    asz,  # (L, n) int64 C order: row k = level k (best first)
    prev,  # (4, L) int64: previous row's bid px, bid sz, ask px, ask sz (state)
    has_prev,  # 1 when prev holds a real row
    tick_int,
    size_unit,
    out,  # (ncols, n) float64
    o_mid,
    o_spread,
    o_wmid,
    o_mp,
    mp_table,
    o_imb,
    n_imb,
    o_ofi,
    n_ofi,
    o_sweep,
    sweep_q,  # sizes (natural units or currency), sorted ascending
    sweep_col,  # output slot of each sorted size
    sweep_notional,
    o_depth,
    n_depth,
    o_shape,
    n_shape,
):
    """Per-row book features (instantaneous shape + per-update OFI); see ``orderflow.features.docs``.

    Returns the new ``has_prev`` (1 when at least one row was seen); ``prev`` is updated in place.
    """
    n = bpx.shape[1]
    L = bpx.shape[0]
    tick_f = tick_int * PRICE_SCALE_F
    nq = sweep_q.shape[0]
    fq = np.empty((nq, BLOCK))
    fn = np.empty((nq, BLOCK))
    cumf = np.empty(BLOCK)
    pfb = np.empty(BLOCK)
    lvb = np.empty(BLOCK)
    n_sp = mp_table.shape[0]
    n_bk = mp_table.shape[1]
    # Rows are processed in blocks, one feature group at a time inside a block: each inner loop then
    # streams a few columns (cache and TLB friendly) instead of touching every column for every row.
    okb = np.empty(BLOCK, dtype=np.bool_)
    midb = np.empty(BLOCK)
    cb = np.empty(BLOCK, dtype=np.int64)
    ca = np.empty(BLOCK, dtype=np.int64)
    for s0 in range(0, n, BLOCK):
        s1 = min(s0 + BLOCK, n)
        for i in range(s0, s1):
            b0 = bpx[0, i]
            a0 = apx[0, i]
            qb = bsz[0, i]
            qa = asz[0, i]
            both = b0 != UNDEF_PRICE and a0 != UNDEF_PRICE and qb > 0 and qa > 0
            okb[i - s0] = both
            if both:
                bf = b0 * PRICE_SCALE_F
                af = a0 * PRICE_SCALE_F
                mid = 0.5 * (bf + af)
                sp_int = a0 - b0
            else:
                bf = NAN
                af = NAN
                mid = NAN
                sp_int = 0
            midb[i - s0] = mid
            if o_mid >= 0:
                out[o_mid, i] = mid
            if o_spread >= 0:
                if both:
                    out[o_spread, i] = sp_int / tick_int
                    out[o_spread + 1, i] = (af - bf) / mid * 1e4
                else:
                    out[o_spread, i] = NAN
                    out[o_spread + 1, i] = NAN
            if o_wmid >= 0:
                if both:
                    w = (qb * af + qa * bf) / (qb + qa)
                    out[o_wmid, i] = w
                    out[o_wmid + 1, i] = (w - mid) / tick_f
                else:
                    out[o_wmid, i] = NAN
                    out[o_wmid + 1, i] = NAN
            if o_mp >= 0:
                adj = NAN
                if both and n_sp > 0:
                    s = (sp_int + tick_int // 2) // tick_int
                    if s < 1:
                        s = 1
                    if s > n_sp:
                        s = n_sp
                    k = int(qb / (qb + qa) * n_bk)
                    if k >= n_bk:
                        k = n_bk - 1
                    adj = mp_table[s - 1, k]
                out[o_mp, i] = mid + adj * tick_f
                out[o_mp + 1, i] = adj
        if o_imb >= 0:
            for i in range(s0, s1):
                cb[i - s0] = 0
                ca[i - s0] = 0
            for k in range(n_imb):
                if k < L:
                    for i in range(s0, s1):
                        cb[i - s0] += bsz[k, i]
                        ca[i - s0] += asz[k, i]
                for i in range(s0, s1):
                    tot = cb[i - s0] + ca[i - s0]
                    out[o_imb + k, i] = (cb[i - s0] - ca[i - s0]) / tot if tot > 0 else NAN
        if o_ofi >= 0:
            for m in range(n_ofi):
                first = s0
                if s0 == 0:
                    first = 1
                    if has_prev == 0:
                        out[o_ofi + m, 0] = NAN
                    else:
                        pb = bpx[m, 0]
                        pb0 = prev[0, m]
                        if pb == UNDEF_PRICE:
                            pb = INT64_MIN
                        if pb0 == UNDEF_PRICE:
                            pb0 = INT64_MIN
                        pa = apx[m, 0]
                        pa0 = prev[2, m]
                        e = (
                            (pb >= pb0) * bsz[m, 0]
                            - (pb <= pb0) * prev[1, m]
                            - (pa <= pa0) * asz[m, 0]
                            + (pa >= pa0) * prev[3, m]
                        )
                        out[o_ofi + m, 0] = e * size_unit
                for i in range(first, s1):
                    pb = bpx[m, i]
                    pb0 = bpx[m, i - 1]
                    if pb == UNDEF_PRICE:
                        pb = INT64_MIN
                    if pb0 == UNDEF_PRICE:
                        pb0 = INT64_MIN
                    pa = apx[m, i]
                    pa0 = apx[m, i - 1]
                    e = (
                        (pb >= pb0) * bsz[m, i]
                        - (pb <= pb0) * bsz[m, i - 1]
                        - (pa <= pa0) * asz[m, i]
                        + (pa >= pa0) * asz[m, i - 1]
                    )
                    out[o_ofi + m, i] = e * size_unit
        if o_sweep >= 0:
            # Walk the displayed book for every size at once, branch-free: at level k a size Q takes
            # clamp(Q - depth before k, 0, size at k) (notional sizes: the same in currency). This is the
            # rule of orderflow.book.sweep.walk_book (tests check equality): empty levels take nothing.
            for side in range(2):
                for i in range(s0, s1):
                    cumf[i - s0] = 0.0
                    for j in range(nq):
                        fq[j, i - s0] = 0.0
                        fn[j, i - s0] = 0.0
                spx = apx if side == 0 else bpx
                ssz = asz if side == 0 else bsz
                for k in range(L):
                    for i in range(s0, s1):
                        p = spx[k, i]
                        q = ssz[k, i]
                        pf = p * PRICE_SCALE_F
                        pfb[i - s0] = pf
                        qf = q * size_unit if (p != UNDEF_PRICE and q > 0) else 0.0
                        lvb[i - s0] = pf * qf if sweep_notional else qf
                    for j in range(nq):
                        Q = sweep_q[j]
                        if sweep_notional:
                            for i in range(s0, s1):
                                t = Q - cumf[i - s0]
                                t = t if t > 0.0 else 0.0
                                t = t if t < lvb[i - s0] else lvb[i - s0]
                                fn[j, i - s0] += t
                                fq[j, i - s0] += t / pfb[i - s0] if t > 0.0 else 0.0
                        else:
                            for i in range(s0, s1):
                                t = Q - cumf[i - s0]
                                t = t if t > 0.0 else 0.0
                                t = t if t < lvb[i - s0] else lvb[i - s0]
                                fq[j, i - s0] += t
                                fn[j, i - s0] += t * pfb[i - s0]
                    for i in range(s0, s1):
                        cumf[i - s0] += lvb[i - s0]
                for j in range(nq):
                    col = o_sweep + 4 * sweep_col[j] + 2 * side
                    for i in range(s0, s1):
                        filled = fq[j, i - s0]
                        mid = midb[i - s0]
                        if filled > 0.0 and okb[i - s0]:
                            avg = fn[j, i - s0] / filled
                            if side == 0:
                                out[col, i] = (avg / mid - 1.0) * 1e4
                            else:
                                out[col, i] = (1.0 - avg / mid) * 1e4
                        else:
                            out[col, i] = NAN
                        out[col + 1, i] = (fn[j, i - s0] if sweep_notional else filled) / sweep_q[j]
        if o_depth >= 0:
            for i in range(s0, s1):
                cb[i - s0] = 0
                ca[i - s0] = 0
            for k in range(n_depth):
                for i in range(s0, s1):
                    sb = bsz[k, i] if k < L else 0
                    sa = asz[k, i] if k < L else 0
                    cb[i - s0] += sb
                    ca[i - s0] += sa
                    out[o_depth + k, i] = sb * size_unit
                    out[o_depth + n_depth + k, i] = sa * size_unit
                    out[o_depth + 2 * n_depth + k, i] = cb[i - s0] * size_unit
                    out[o_depth + 3 * n_depth + k, i] = ca[i - s0] * size_unit
        if o_shape >= 0:
            for i in range(s0, s1):
                both = okb[i - s0]
                mid = midb[i - s0]
                for side in range(2):
                    sxy = 0.0
                    sxx = 0.0
                    cum = 0.0
                    wdist = 0.0
                    top = 0.0
                    for k in range(min(n_shape, L)):
                        if side == 0:
                            p = bpx[k, i]
                            q = bsz[k, i]
                        else:
                            p = apx[k, i]
                            q = asz[k, i]
                        if p == UNDEF_PRICE or q <= 0 or not both:
                            continue
                        d = abs(p * PRICE_SCALE_F - mid) / tick_f
                        cum += q * size_unit
                        if k == 0:
                            top = q * size_unit
                        sxy += d * cum
                        sxx += d * d
                        wdist += d * q * size_unit
                    base = o_shape + 3 * side
                    if cum > 0.0 and sxx > 0.0:
                        out[base, i] = sxy / sxx
                        out[base + 1, i] = top / cum
                        out[base + 2, i] = wdist / cum
                    else:
                        out[base, i] = NAN
                        out[base + 1, i] = NAN
                        out[base + 2, i] = NAN
    if n > 0:
        for m in range(L):
            prev[0, m] = bpx[m, n - 1]
            prev[1, m] = bsz[m, n - 1]
            prev[2, m] = apx[m, n - 1]
            prev[3, m] = asz[m, n - 1]
        has_prev = 1
    return has_prev


# event_kernel state slots
ST_INIT = 0
ST_LAST_TS = 1
ST_LAM = 2  # 6 slots: add bid, add ask, cancel bid, cancel ask, trade bid, trade ask
ST_QMEAN = 8  # 2 slots: bid, ask
ST_TOUCH_PX = 10  # 2 slots
ST_TOUCH_TS = 12  # 2 slots
ST_DEP = 14  # 2 slots
ST_PREV_SZ = 16  # 2 slots
EVENT_STATE_SIZE = 18


@jit
def event_kernel(ts, bpx0, bsz0, apx0, asz0, counts, state, tau_ns, q_alpha, size_unit, out):
    """Per-update sequential features: decayed intensities, queue size vs its mean, touch age, depletion.

    ``counts`` (6, n): adds, cancels, executions per side arriving with each book row (from BOOK_DELTAS).
    ``out`` (13, n): lam_add_bid, lam_add_ask, lam_cancel_bid, lam_cancel_ask, lam_trade_bid,
    lam_trade_ask (Hz), cancel_to_trade, queue_rel_bid, queue_rel_ask, touch_age_bid_s, touch_age_ask_s,
    depletion_bid, depletion_ask (size units per second).
    """
    n = ts.shape[0]
    tau_s = tau_ns * 1e-9
    for i in range(n):
        t = ts[i]
        if state[ST_INIT] == 0.0:
            state[ST_INIT] = 1.0
            state[ST_LAST_TS] = t
            state[ST_QMEAN] = bsz0[i]
            state[ST_QMEAN + 1] = asz0[i]
            state[ST_TOUCH_PX] = bpx0[i]
            state[ST_TOUCH_PX + 1] = apx0[i]
            state[ST_TOUCH_TS] = t
            state[ST_TOUCH_TS + 1] = t
            state[ST_PREV_SZ] = bsz0[i]
            state[ST_PREV_SZ + 1] = asz0[i]
            removed_b = 0.0
            removed_a = 0.0
        else:
            # depletion of the touch queues since the previous row
            pb_prev = state[ST_TOUCH_PX]
            pa_prev = state[ST_TOUCH_PX + 1]
            removed_b = 0.0
            removed_a = 0.0
            if bpx0[i] == pb_prev:
                d = state[ST_PREV_SZ] - bsz0[i]
                removed_b = d if d > 0 else 0.0
            elif bpx0[i] < pb_prev or bpx0[i] == UNDEF_PRICE:
                removed_b = state[ST_PREV_SZ]
            if apx0[i] == pa_prev:
                d = state[ST_PREV_SZ + 1] - asz0[i]
                removed_a = d if d > 0 else 0.0
            elif apx0[i] > pa_prev:
                removed_a = state[ST_PREV_SZ + 1]
            if bpx0[i] != pb_prev:
                state[ST_TOUCH_PX] = bpx0[i]
                state[ST_TOUCH_TS] = t
            if apx0[i] != pa_prev:
                state[ST_TOUCH_PX + 1] = apx0[i]
                state[ST_TOUCH_TS + 1] = t
            state[ST_PREV_SZ] = bsz0[i]
            state[ST_PREV_SZ + 1] = asz0[i]
            state[ST_QMEAN] += q_alpha * (bsz0[i] - state[ST_QMEAN])
            state[ST_QMEAN + 1] += q_alpha * (asz0[i] - state[ST_QMEAN + 1])
        dt = t - state[ST_LAST_TS]
        decay = math.exp(-dt / tau_ns) if dt > 0 else 1.0
        state[ST_LAST_TS] = t
        for k in range(6):
            state[ST_LAM + k] = state[ST_LAM + k] * decay + counts[k, i] / tau_s
            out[k, i] = state[ST_LAM + k]
        tr = state[ST_LAM + 4] + state[ST_LAM + 5]
        out[6, i] = (state[ST_LAM + 2] + state[ST_LAM + 3]) / tr if tr > 0.0 else NAN
        out[7, i] = bsz0[i] / state[ST_QMEAN] if state[ST_QMEAN] > 0.0 else NAN
        out[8, i] = asz0[i] / state[ST_QMEAN + 1] if state[ST_QMEAN + 1] > 0.0 else NAN
        out[9, i] = (t - state[ST_TOUCH_TS]) * 1e-9
        out[10, i] = (t - state[ST_TOUCH_TS + 1]) * 1e-9
        state[ST_DEP] = state[ST_DEP] * decay + removed_b * size_unit / tau_s
        state[ST_DEP + 1] = state[ST_DEP + 1] * decay + removed_a * size_unit / tau_s
        out[11, i] = state[ST_DEP]
        out[12, i] = state[ST_DEP + 1]


# clock kinds
CLK_EVENT = 0
CLK_EVENTS = 1
CLK_TIME = 2
CLK_VOLUME = 3
CLK_TRADE = 4


@jit
def clock_kernel(ts, vol, ntr, kind, every, state, rows, stamps):
    """Pick the sampled rows of a chunk.

    ``vol``/``ntr``: traded volume (size units) and trade count arriving with each row. ``state``
    (int64[3]): rows seen (events) / last time bucket (time) / cumulative volume (volume), and an init
    flag. Writes row indices (-1 = the last row of the previous chunk) and timestamps into ``rows`` and
    ``stamps``; returns how many. A time tick at grid point g = k * every samples the book after the
    last row with ts < g and carries ts_event = g; empty intervals repeat the previous row.
    """
    n = ts.shape[0]
    m = 0
    for i in range(n):
        if kind == CLK_EVENT:
            rows[m] = i
            stamps[m] = ts[i]
            m += 1
        elif kind == CLK_EVENTS:
            state[0] += 1
            if state[0] % every == 0:
                rows[m] = i
                stamps[m] = ts[i]
                m += 1
        elif kind == CLK_TIME:
            b = ts[i] // every
            if state[2] == 0:
                state[2] = 1
                state[1] = b
            elif b > state[1]:
                g = state[1] + 1
                while g <= b:
                    rows[m] = i - 1
                    stamps[m] = g * every
                    m += 1
                    g += 1
                state[1] = b
        elif kind == CLK_VOLUME:
            before = state[0] // every
            state[0] += vol[i]
            if state[0] // every > before:
                rows[m] = i
                stamps[m] = ts[i]
                m += 1
        else:
            if ntr[i] > 0:
                rows[m] = i
                stamps[m] = ts[i]
                m += 1
    return m


# clocked_kernel state: [init, last_mid, prev_abs_r, pos, count, W ring r, W ring r*r?]
@jit
def clocked_kernel(mid, sv, tick_f, W_vol, W_kyle, state, ring_r, ring_dm, ring_v, out):
    """Rolling realized variance, bipower variation (W_vol ticks) and Kyle's lambda (W_kyle ticks).

    ``mid``: mid price at each clock tick; ``sv``: signed traded volume in each tick's interval.
    ``state`` float64[8]: init, last valid mid, count_vol, count_kyle, pos_vol, pos_kyle, spare.
    ``out`` (3, n): rv, bv, kyle lambda (ticks per size unit).
    """
    n = mid.shape[0]
    half_pi = 0.5 * math.pi
    for i in range(n):
        m = mid[i]
        if state[0] == 0.0:
            if m == m:
                state[0] = 1.0
                state[1] = m
            out[0, i] = NAN
            out[1, i] = NAN
            out[2, i] = NAN
            continue
        if m == m and m > 0.0 and state[1] > 0.0:
            r = math.log(m / state[1])
            dm = (m - state[1]) / tick_f
            state[1] = m
        else:
            r = 0.0
            dm = 0.0
        # realized variance / bipower: ring of the last W_vol returns
        pv = int(state[4])
        ring_r[pv] = r
        state[4] = (pv + 1) % W_vol
        state[2] += 1
        if state[2] >= W_vol:
            rv = 0.0
            bv = 0.0
            for k in range(W_vol):
                x = ring_r[(pv - k) % W_vol]
                rv += x * x
                if k < W_vol - 1:
                    bv += abs(x) * abs(ring_r[(pv - k - 1) % W_vol])
            out[0, i] = rv
            out[1, i] = half_pi * bv
        else:
            out[0, i] = NAN
            out[1, i] = NAN
        # Kyle lambda: OLS slope of dm on signed volume over the last W_kyle ticks
        pk = int(state[5])
        ring_dm[pk] = dm
        ring_v[pk] = sv[i] if sv[i] == sv[i] else 0.0
        state[5] = (pk + 1) % W_kyle
        state[3] += 1
        if state[3] >= W_kyle:
            sx = 0.0
            sy = 0.0
            for k in range(W_kyle):
                sx += ring_v[k]
                sy += ring_dm[k]
            mx = sx / W_kyle
            my = sy / W_kyle
            sxx = 0.0
            sxy = 0.0
            for k in range(W_kyle):
                dx = ring_v[k] - mx
                sxx += dx * dx
                sxy += dx * (ring_dm[k] - my)
            out[2, i] = sxy / sxx if sxx > 0.0 else NAN
        else:
            out[2, i] = NAN


@jit
def vpin_kernel(price, size, aggr, bucket, n_buckets, sigma_alpha, state, ring, out):
    """VPIN after each trade (Easley, Lopez de Prado, O'Hara 2012).

    Signs: the aggressor when known (+1/-1); otherwise bulk volume classification with buy fraction
    Phi(dP / sigma), dP the change from the previous trade price and sigma an EWMA of dP^2.
    ``state`` float64[8]: init, prev price, ewma dP^2, bucket buy, bucket sell, n complete, ring pos.
    ``out``: VPIN = sum(|buy - sell| over the last n_buckets complete buckets) / (n_buckets * bucket),
    NaN until n_buckets buckets are complete.
    """
    n = price.shape[0]
    for i in range(n):
        p = price[i]
        if aggr[i] > 0:
            bf = 1.0
        elif aggr[i] < 0:
            bf = 0.0
        else:
            bf = 0.5
            if state[0] != 0.0 and state[2] > 0.0:
                z = (p - state[1]) / math.sqrt(state[2])
                bf = 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
        if state[0] != 0.0:
            dp = p - state[1]
            state[2] += sigma_alpha * (dp * dp - state[2])
        state[0] = 1.0
        state[1] = p
        v = size[i]
        while v > 0.0:
            room = bucket - (state[3] + state[4])
            take = v if v < room else room
            state[3] += take * bf
            state[4] += take * (1.0 - bf)
            v -= take
            if state[3] + state[4] >= bucket * (1.0 - 1e-12):
                pos = int(state[6])
                ring[pos] = abs(state[3] - state[4])
                state[6] = (pos + 1) % n_buckets
                state[5] += 1
                state[3] = 0.0
                state[4] = 0.0
        if state[5] >= n_buckets:
            s = 0.0
            for k in range(n_buckets):
                s += ring[k]
            out[i] = s / (n_buckets * bucket)
        else:
            out[i] = NAN


__all__ = [
    "CLK_EVENT",
    "CLK_EVENTS",
    "CLK_TIME",
    "CLK_TRADE",
    "CLK_VOLUME",
    "EVENT_STATE_SIZE",
    "book_kernel",
    "clock_kernel",
    "clocked_kernel",
    "event_kernel",
    "vpin_kernel",
]
