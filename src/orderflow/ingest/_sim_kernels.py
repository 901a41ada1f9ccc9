"""Event loop of the market simulator (numba kernel + its plain-Python twin ``sim_kernel.py_func``).

The model is a queue-reactive limit order book (Huang, Lehalle and Rosenbaum 2015; Cont, Stoikov and
Talreja 2010) on a window of ``L`` price levels per side, driven by a hidden continuous-time Markov
regime chain. All randomness comes from two arrays of uniforms prepared by the caller:

* ``ua`` drives the market itself (inter-arrival times, regime changes, event types, sizes, refills);
* ``ub`` drives only the injected artifacts, so turning artifacts on or off never changes the true
  book or the genuine event sequence.

Both are consumed sequentially; the kernel returns early when one of them (or an output buffer) runs
low, with its whole state in ``st``/``bq``/``aq``/``snap``, so any chunking of a day reproduces
the same stream. The caller refills and calls again.

State layout (``st``, int64) -- see the ``S_*`` constants. Book: ``bq[k]`` is the size resting at
``bid_px - k`` ticks, ``aq[k]`` at ``ask_px + k`` ticks (k = 0 .. L-1; 0 = empty level). Invariant
after every genuine event: ``bq[0] > 0``, ``aq[0] > 0`` and ``bid_px < ask_px``. Levels that leave the
window are deleted in the feed (SET 0), so the published book always equals the window exactly.

Per-regime parameters (``P[r, :]``, float64) -- see the ``P_*`` constants. Artifact parameters
(``A``, float64) -- see the ``A_*`` constants.
"""

from __future__ import annotations

import math

import numpy as np

from orderflow._numba import jit

# -- state indices (st) ----------------------------------------------------------------------------------------
S_BID = 0  # best bid, ticks
S_ASK = 1  # best ask, ticks
S_REGIME = 2
S_SEQ = 3  # next seq to assign
S_T = 4  # time of the last genuine event, ns
S_EVENTS = 5  # genuine events generated so far
S_SPELL_END = 6  # end of the current regime spell, ns
S_SESSION_END = 7  # ns; no event at or after it
S_TARGET = 8  # stop (return) when S_EVENTS reaches this
S_DONE = 9  # 1 when the day is finished (session end or max events)
S_TRADE_ID = 10  # next trade id
S_STALE_SIDE = 11  # 0 none, +1 bid withheld, -1 ask withheld
S_STALE_UNTIL = 12  # ns
S_TICK = 13  # tick size in 1e-9 price units
S_LOT = 14  # size multiple (size units per lot)
S_MAX_EVENTS = 15  # events per day (cap)
S_RECV_LAT = 16  # ts_recv - ts_event, ns (informational: the caller adds it to ts_event)
S_SNAP_BEST = 17  # best price (ticks) of the withheld side when the stale spell began
S_STALE_OTHER = 18  # messages published on the other side since the stale spell began
S_LEN = 19

# -- regime parameters (P[r, :]) ----------------------------------------------------------------------------------
P_RATE = 0  # genuine events per second in this regime
P_MEAN_DUR = 1  # mean spell length, s
P_LIMIT = 2  # limit-order rate weight per side (whole window)
P_DECAY = 3  # limit-order placement profile exp(-k / decay) over levels k
P_INSPREAD = 4  # in-spread limit-order rate weight per empty tick inside the spread, per side
P_CANCEL = 5  # cancel rate weight per resting order (queue size / order_size_mean)
P_MARKET = 6  # market-order rate weight per side when the opposite touch queue is deep
P_MKT_SENS = 7  # market-order rate multiplier (1 + sens * exp(-q / qref)) for a small opposite queue
P_QREF = 8  # queue size scale (lots) of that sensitivity
P_SIZE = 9  # mean limit/cancel order size, lots (geometric)
P_MSIZE = 10  # mean market order size, lots (geometric)
P_DEPTH = 11  # mean size of a level revealed by a price move, lots (geometric)
P_HOLE = 12  # probability that a revealed level is empty
P_LSIZE = 13  # 1 / log(1 - 1/P_SIZE): geometric draws without a second log (0 when the mean is 1)
P_LMSIZE = 14  # same for P_MSIZE
P_LDEPTH = 15  # same for P_DEPTH
P_LEN = 16

# -- artifact parameters (A) ------------------------------------------------------------------------------------
A_STALE = 0  # probability per genuine event that a stale-quote spell starts
A_CROSSED = 1  # probability per genuine event of a crossed-book glitch
A_LOCKED = 2  # probability per genuine event of a locked-book glitch
A_BURST = 3  # probability per genuine event of a mechanical burst
A_DUP = 4  # probability per genuine message that it is repeated
A_STALE_NS = 5  # mean stale spell, ns (exponential)
A_GLITCH_NS = 6  # glitch lifetime, ns (at most half the gap to the next genuine event)
A_BURST_PAIRS = 7  # add/cancel flicker pairs per burst
A_BURST_NS = 8  # spacing of burst messages, ns
A_STALE_MIN_NS = 9  # minimum stale spell, ns (added to the exponential part)
A_STALE_MIN_OTHER = 10  # a stale spell also lasts until the other side published this many messages
A_LEN = 11

# -- artifact kinds (labels) and tables --------------------------------------------------------------------------
K_STALE = 0
K_CROSSED = 1
K_LOCKED = 2
K_BURST = 3
K_DUP = 4
K_GLITCH_CLEAR = 5
T_DELTAS = 0
T_TRADES = 1

LAST = 128
SNAPSHOT = 32
SET = 4


@jit
def geometric(u: float, mean: float) -> int:
    """Geometric draw on {1, 2, ...} with the given mean (>= 1) from one uniform in (0, 1]."""
    if mean <= 1.0:
        return 1
    return 1 + int(math.log(u) / math.log(1.0 - 1.0 / mean))


def inv_log(mean: float) -> float:
    """``1 / log(1 - 1/mean)`` for :func:`geo` (0 for mean <= 1: the draw is then always 1)."""
    return 1.0 / math.log(1.0 - 1.0 / mean) if mean > 1.0 else 0.0


@jit
def geo(u: float, inv: float) -> int:
    """:func:`geometric` with the denominator precomputed by :func:`inv_log` (same draws)."""
    return 1 + int(math.log(u) * inv)


@jit
def _u(u: np.ndarray, pos: int) -> float:
    """Uniform in (0, 1] (never 0, so log is safe)."""
    x = u[pos]
    return 1.0 - x


@jit
def _refill(q: np.ndarray, start: int, ua: np.ndarray, pa: int, inv: float, hole: float, lot: int) -> int:
    """Fill levels q[start:] as newly revealed depth (q[0] never empty); returns the new ua position."""
    n = q.shape[0]
    for k in range(start, n):
        if k > 0 and ua[pa] < hole:
            q[k] = 0
            pa += 1
        else:
            pa += 1
            q[k] = geo(_u(ua, pa), inv) * lot
            pa += 1
    return pa


@jit
def _emit(
    nd: int,
    o_ts: np.ndarray,
    o_seq: np.ndarray,
    o_side: np.ndarray,
    o_act: np.ndarray,
    o_px: np.ndarray,
    o_sz: np.ndarray,
    o_flag: np.ndarray,
    ts: int,
    seq: int,
    side: int,
    px_ticks: int,
    size: int,
    tick: int,
    flag: int,
) -> int:
    o_ts[nd] = ts
    o_seq[nd] = seq
    o_side[nd] = side
    o_act[nd] = SET
    o_px[nd] = px_ticks * tick
    o_sz[nd] = size
    o_flag[nd] = flag
    return nd + 1


@jit
def _label(
    nx: int,
    x_seq: np.ndarray,
    x_ts: np.ndarray,
    x_tab: np.ndarray,
    x_kind: np.ndarray,
    seq: int,
    ts: int,
    tab: int,
    kind: int,
) -> int:
    x_seq[nx] = seq
    x_ts[nx] = ts
    x_tab[nx] = tab
    x_kind[nx] = kind
    return nx + 1


@jit
def sim_kernel(
    st: np.ndarray,
    bq: np.ndarray,
    aq: np.ndarray,
    snap: np.ndarray,
    P: np.ndarray,
    TR: np.ndarray,
    W: np.ndarray,
    A: np.ndarray,
    ua: np.ndarray,
    pa: int,
    ub: np.ndarray,
    pb: int,
    o_ts: np.ndarray,
    o_seq: np.ndarray,
    o_side: np.ndarray,
    o_act: np.ndarray,
    o_px: np.ndarray,
    o_sz: np.ndarray,
    o_flag: np.ndarray,
    t_ts: np.ndarray,
    t_seq: np.ndarray,
    t_px: np.ndarray,
    t_sz: np.ndarray,
    t_agg: np.ndarray,
    t_id: np.ndarray,
    r_ts: np.ndarray,
    r_seq: np.ndarray,
    r_reg: np.ndarray,
    x_seq: np.ndarray,
    x_ts: np.ndarray,
    x_tab: np.ndarray,
    x_kind: np.ndarray,
    mb: np.ndarray,
    tb: np.ndarray,
) -> tuple[int, int, int, int, int, int]:
    """Run genuine events until ``st[S_TARGET]`` events, the session end, or a buffer runs low.

    ``TR[r, :]`` is the cumulative jump distribution out of regime r; ``W[r, k]`` the cumulative
    limit-order placement profile over levels. ``mb`` (rows x 3: side, price ticks, size) and ``tb``
    (rows x 3: price ticks, size, aggressor) are scratch buffers for one message.
    Returns ``(n_deltas, n_trades, n_regime_rows, n_artifact_rows, pa, pb)``.
    """
    L = bq.shape[0]
    tick = st[S_TICK]
    lot = st[S_LOT]
    nreg = P.shape[0]
    n_pairs = int(A[A_BURST_PAIRS])
    cap_d = o_ts.shape[0] - (10 * L + 2 * n_pairs + 16)
    cap_t = t_ts.shape[0] - (2 * L + 8)
    cap_x = x_seq.shape[0] - (2 * n_pairs + 8)
    cap_r = r_ts.shape[0] - 2
    lim_a = ua.shape[0] - (4 * L + 32)
    lim_b = ub.shape[0] - 16
    nd = 0
    nt = 0
    nr = 0
    nx = 0
    while True:
        if st[S_DONE] == 1 or (st[S_EVENTS] >= st[S_TARGET] and st[S_EVENTS] < st[S_MAX_EVENTS]):
            break
        if nd >= cap_d or nt >= cap_t or nx >= cap_x or nr >= cap_r or pa >= lim_a or pb >= lim_b:
            break
        reg = st[S_REGIME]
        t_prev = st[S_T]
        t_floor = t_prev  # injected messages go after everything published so far
        # -- time of the next genuine event (exact for piecewise-constant intensity) --------------------------
        finished = st[S_EVENTS] >= st[S_MAX_EVENTS]
        t_new = t_prev
        if not finished:
            dt = -math.log(_u(ua, pa)) / P[reg, P_RATE] * 1e9
            pa += 1
            t_new = t_prev + 1 + int(dt)
            if t_new >= st[S_SPELL_END] and st[S_SPELL_END] < st[S_SESSION_END]:
                # regime switch at the spell end; the next inter-arrival is redrawn (memoryless)
                x = ua[pa]
                pa += 1
                nxt = 0
                for j in range(nreg):
                    if x < TR[reg, j]:
                        nxt = j
                        break
                st[S_T] = st[S_SPELL_END]
                st[S_REGIME] = nxt
                st[S_SPELL_END] = st[S_T] + 1 + int(-math.log(_u(ua, pa)) * P[nxt, P_MEAN_DUR] * 1e9)
                pa += 1
                r_ts[nr] = st[S_T]
                r_seq[nr] = st[S_SEQ]
                r_reg[nr] = nxt
                nr += 1
                continue
            if t_new >= st[S_SESSION_END]:
                finished = True
                t_new = t_prev
        if finished:
            st[S_DONE] = 1
        # -- a stale-quote spell ends: catch-up message before anything else ----------------------------------
        stale = st[S_STALE_SIDE]
        if stale != 0 and (
            finished or (t_new >= st[S_STALE_UNTIL] and st[S_STALE_OTHER] >= A[A_STALE_MIN_OTHER])
        ):
            # strictly after the last genuine message (unless the day is over), never after this one
            ts_c = t_prev
            if not finished:
                ts_c = st[S_STALE_UNTIL]
                if ts_c <= t_prev:
                    ts_c = t_prev + 1
                if ts_c > t_new:
                    ts_c = t_new
            t_floor = ts_c
            nd, nx = _catch_up(
                st,
                bq,
                aq,
                snap,
                ts_c,
                tick,
                nd,
                nx,
                o_ts,
                o_seq,
                o_side,
                o_act,
                o_px,
                o_sz,
                o_flag,
                x_seq,
                x_ts,
                x_tab,
                x_kind,
            )
            stale = 0
        if finished:
            break
        st[S_T] = t_new
        st[S_EVENTS] += 1
        t = t_new
        # -- artifacts injected in the gap (t_floor, t) before this event --------------------------------------
        dup_u = ub[pb]
        pb += 1
        xa = ub[pb]
        pb += 1
        if stale == 0:
            c1 = A[A_STALE]
            c2 = c1 + A[A_CROSSED]
            c3 = c2 + A[A_LOCKED]
            c4 = c3 + A[A_BURST]
            if xa < c1:
                side = 1 if ub[pb] < 0.5 else -1
                pb += 1
                st[S_STALE_SIDE] = side
                st[S_STALE_OTHER] = 0
                st[S_STALE_UNTIL] = (
                    t + 1 + int(A[A_STALE_MIN_NS]) + int(-math.log(_u(ub, pb)) * A[A_STALE_NS])
                )
                pb += 1
                if side == 1:
                    st[S_SNAP_BEST] = st[S_BID]
                    for k in range(L):
                        snap[k] = bq[k]
                else:
                    st[S_SNAP_BEST] = st[S_ASK]
                    for k in range(L):
                        snap[k] = aq[k]
                stale = side
            elif xa < c3:
                locked = xa >= c2
                side = 1 if ub[pb] < 0.5 else -1
                pb += 1
                j = 0 if locked else 1 + int(ub[pb] * 2.0)
                pb += 1
                gsize = geo(_u(ub, pb), P[reg, P_LSIZE]) * lot
                pb += 1
                life = int(A[A_GLITCH_NS])
                gap = t - t_floor
                if life > gap // 2:
                    life = gap // 2
                ts_g = t_floor + (gap - life) // 2
                if side == 1:
                    gpx = st[S_ASK] + j
                else:
                    gpx = st[S_BID] - j
                kind = K_LOCKED if locked else K_CROSSED
                seq = st[S_SEQ]
                nd = _emit(
                    nd,
                    o_ts,
                    o_seq,
                    o_side,
                    o_act,
                    o_px,
                    o_sz,
                    o_flag,
                    ts_g,
                    seq,
                    side,
                    gpx,
                    gsize,
                    tick,
                    LAST,
                )
                nx = _label(nx, x_seq, x_ts, x_tab, x_kind, seq, ts_g, T_DELTAS, kind)
                nd = _emit(
                    nd,
                    o_ts,
                    o_seq,
                    o_side,
                    o_act,
                    o_px,
                    o_sz,
                    o_flag,
                    ts_g + life,
                    seq + 1,
                    side,
                    gpx,
                    0,
                    tick,
                    LAST,
                )
                nx = _label(nx, x_seq, x_ts, x_tab, x_kind, seq + 1, ts_g + life, T_DELTAS, K_GLITCH_CLEAR)
                st[S_SEQ] = seq + 2
            elif xa < c4:
                side = 1 if ub[pb] < 0.5 else -1
                pb += 1
                k = int(ub[pb] * L)
                pb += 1
                fsize = geo(_u(ub, pb), P[reg, P_LSIZE]) * lot
                pb += 1
                q = bq if side == 1 else aq
                if q[k] == 0:
                    k = 0
                px = st[S_BID] - k if side == 1 else st[S_ASK] + k
                base = q[k]
                nmsg = 2 * n_pairs
                span = int(A[A_BURST_NS]) * nmsg
                gap = t - t_floor
                if span > gap // 2:
                    span = gap // 2
                seq = st[S_SEQ]
                for m in range(nmsg):
                    ts_m = t - span + (span * m) // nmsg
                    sz = base + fsize if m % 2 == 0 else base
                    nd = _emit(
                        nd,
                        o_ts,
                        o_seq,
                        o_side,
                        o_act,
                        o_px,
                        o_sz,
                        o_flag,
                        ts_m,
                        seq + m,
                        side,
                        px,
                        sz,
                        tick,
                        LAST,
                    )
                    nx = _label(nx, x_seq, x_ts, x_tab, x_kind, seq + m, ts_m, T_DELTAS, K_BURST)
                st[S_SEQ] = seq + nmsg
        # -- the genuine event ------------------------------------------------------------------------------
        nm = 0  # rows in mb
        ntb = 0  # rows in tb
        bid = st[S_BID]
        ask = st[S_ASK]
        spread = ask - bid
        lam = P[reg, P_LIMIT]
        w_in = P[reg, P_INSPREAD] * (spread - 1)
        smean = P[reg, P_SIZE]
        norm = 1.0 / (smean * lot)
        sb = 0
        sa = 0
        for k in range(L):
            sb += bq[k]
            sa += aq[k]
        w_cb = P[reg, P_CANCEL] * sb * norm
        w_ca = P[reg, P_CANCEL] * sa * norm
        qref = P[reg, P_QREF] * lot
        w_mb = P[reg, P_MARKET] * (1.0 + P[reg, P_MKT_SENS] * math.exp(-aq[0] / qref))
        w_ms = P[reg, P_MARKET] * (1.0 + P[reg, P_MKT_SENS] * math.exp(-bq[0] / qref))
        # in-spread orders come preferably from the side with the larger touch queue
        qb2 = float(bq[0]) * bq[0]
        qa2 = float(aq[0]) * aq[0]
        w_ib = 2.0 * w_in * qb2 / (qb2 + qa2)
        total = 2.0 * lam + 2.0 * w_in + w_cb + w_ca + w_mb + w_ms
        x = ua[pa] * total
        pa += 1
        ev_side = 1
        if x < 2.0 * lam:  # limit order inside the window
            ev_side = 1 if x < lam else -1
            y = ua[pa]
            pa += 1
            k = L - 1
            for j in range(L):
                if y < W[reg, j]:
                    k = j
                    break
            size = geo(_u(ua, pa), P[reg, P_LSIZE]) * lot
            pa += 1
            if ev_side == 1:
                bq[k] += size
                mb[nm, 0] = 1
                mb[nm, 1] = bid - k
                mb[nm, 2] = bq[k]
            else:
                aq[k] += size
                mb[nm, 0] = -1
                mb[nm, 1] = ask + k
                mb[nm, 2] = aq[k]
            nm += 1
        elif x < 2.0 * lam + 2.0 * w_in:  # limit order inside the spread: a new best level
            ev_side = 1 if x < 2.0 * lam + w_ib else -1
            j = 1 + int(ua[pa] * (spread - 1))
            pa += 1
            if j > spread - 1:
                j = spread - 1
            size = geo(_u(ua, pa), P[reg, P_LSIZE]) * lot
            pa += 1
            q = bq if ev_side == 1 else aq
            sgn = 1 if ev_side == 1 else -1
            best = bid if ev_side == 1 else ask
            jj = j if j < L else L
            # levels pushed out of the window are deleted
            for k in range(L - jj, L):
                if q[k] > 0:
                    mb[nm, 0] = ev_side
                    mb[nm, 1] = best - sgn * k
                    mb[nm, 2] = 0
                    nm += 1
            for k in range(L - 1, j - 1, -1):
                q[k] = q[k - j]
            for k in range(1, jj):
                q[k] = 0
            q[0] = size
            nb = best + sgn * j
            if ev_side == 1:
                st[S_BID] = nb
            else:
                st[S_ASK] = nb
            mb[nm, 0] = ev_side
            mb[nm, 1] = nb
            mb[nm, 2] = size
            nm += 1
        else:
            x2 = x - 2.0 * lam - 2.0 * w_in
            if x2 < w_cb + w_ca:  # cancellation, level chosen in proportion to its size
                ev_side = 1 if x2 < w_cb else -1
                q = bq if ev_side == 1 else aq
                tot = sb if ev_side == 1 else sa
                y = ua[pa] * tot
                pa += 1
                k = 0
                acc = 0.0
                for j in range(L):
                    acc += q[j]
                    if y < acc and q[j] > 0:
                        k = j
                        break
                if q[k] == 0:  # rounding at the top of the range
                    for j in range(L - 1, -1, -1):
                        if q[j] > 0:
                            k = j
                            break
                csz = geo(_u(ua, pa), P[reg, P_LSIZE]) * lot
                pa += 1
                if csz > q[k]:
                    csz = q[k]
                q[k] -= csz
                best = bid if ev_side == 1 else ask
                sgn = 1 if ev_side == 1 else -1
                mb[nm, 0] = ev_side
                mb[nm, 1] = best - sgn * k
                mb[nm, 2] = q[k]
                nm += 1
            else:  # market order against the opposite touch
                buy = x2 - w_cb - w_ca < w_mb
                ev_side = -1 if buy else 1  # the side whose book changes
                q = aq if buy else bq
                best = ask if buy else bid
                sgn = -1 if buy else 1
                tot = sa if buy else sb
                m = geo(_u(ua, pa), P[reg, P_LMSIZE]) * lot
                pa += 1
                if m > tot:
                    m = tot
                rem = m
                for k in range(L):
                    if rem <= 0:
                        break
                    if q[k] == 0:
                        continue
                    take = q[k] if q[k] < rem else rem
                    q[k] -= take
                    rem -= take
                    tb[ntb, 0] = best - sgn * k
                    tb[ntb, 1] = take
                    tb[ntb, 2] = 1 if buy else -1
                    ntb += 1
                    mb[nm, 0] = ev_side
                    mb[nm, 1] = best - sgn * k
                    mb[nm, 2] = q[k]
                    nm += 1
        # -- the touch emptied: the price moves to the next occupied level, new depth is revealed -----------
        q = bq if ev_side == 1 else aq
        if q[0] == 0:
            sgn = 1 if ev_side == 1 else -1
            best = st[S_BID] if ev_side == 1 else st[S_ASK]
            j = L
            for k in range(1, L):
                if q[k] > 0:
                    j = k
                    break
            for k in range(L - j):
                q[k] = q[k + j]
            pa = _refill(q, L - j, ua, pa, P[reg, P_LDEPTH], P[reg, P_HOLE], lot)
            nb = best - sgn * j
            if ev_side == 1:
                st[S_BID] = nb
            else:
                st[S_ASK] = nb
            for k in range(L - j, L):
                if q[k] > 0:
                    mb[nm, 0] = ev_side
                    mb[nm, 1] = nb - sgn * k
                    mb[nm, 2] = q[k]
                    nm += 1
        # -- a published side update that would lock/cross the withheld side ends the stale spell first ----
        crosses = (stale == 1 and st[S_ASK] <= st[S_SNAP_BEST]) or (
            stale == -1 and st[S_BID] >= st[S_SNAP_BEST]
        )
        if stale != 0 and ev_side != stale and crosses:
            nd, nx = _catch_up(
                st,
                bq,
                aq,
                snap,
                t,
                tick,
                nd,
                nx,
                o_ts,
                o_seq,
                o_side,
                o_act,
                o_px,
                o_sz,
                o_flag,
                x_seq,
                x_ts,
                x_tab,
                x_kind,
            )
            stale = 0
        # -- publish the message (withholding the stale side's rows) ----------------------------------------
        seq = st[S_SEQ]
        d0 = nd
        for i in range(nm):
            if stale != 0 and mb[i, 0] == stale:
                continue
            nd = _emit(
                nd,
                o_ts,
                o_seq,
                o_side,
                o_act,
                o_px,
                o_sz,
                o_flag,
                t,
                seq,
                mb[i, 0],
                mb[i, 1],
                mb[i, 2],
                tick,
                0,
            )
        if nd > d0:
            o_flag[nd - 1] = LAST
            if stale != 0:
                st[S_STALE_OTHER] += 1
        t0 = nt
        for i in range(ntb):
            t_ts[nt] = t
            t_seq[nt] = seq
            t_px[nt] = tb[i, 0] * tick
            t_sz[nt] = tb[i, 1]
            t_agg[nt] = tb[i, 2]
            t_id[nt] = st[S_TRADE_ID]
            st[S_TRADE_ID] += 1
            nt += 1
        if nd == d0 and nt == t0:
            continue  # everything withheld: no message, no seq
        st[S_SEQ] = seq + 1
        # -- duplicate message: the same rows again, same ts_event, next seq --------------------------------
        if dup_u < A[A_DUP]:
            seq2 = seq + 1
            d1 = nd
            for i in range(d0, d1):
                o_ts[nd] = o_ts[i]
                o_seq[nd] = seq2
                o_side[nd] = o_side[i]
                o_act[nd] = o_act[i]
                o_px[nd] = o_px[i]
                o_sz[nd] = o_sz[i]
                o_flag[nd] = o_flag[i]
                nd += 1
            t1 = nt
            for i in range(t0, t1):
                t_ts[nt] = t_ts[i]
                t_seq[nt] = seq2
                t_px[nt] = t_px[i]
                t_sz[nt] = t_sz[i]
                t_agg[nt] = t_agg[i]
                t_id[nt] = t_id[i]
                nt += 1
            if d1 > d0:
                nx = _label(nx, x_seq, x_ts, x_tab, x_kind, seq2, t, T_DELTAS, K_DUP)
            if t1 > t0:
                nx = _label(nx, x_seq, x_ts, x_tab, x_kind, seq2, t, T_TRADES, K_DUP)
            st[S_SEQ] = seq2 + 1
    return nd, nt, nr, nx, pa, pb


@jit
def _catch_up(
    st: np.ndarray,
    bq: np.ndarray,
    aq: np.ndarray,
    snap: np.ndarray,
    ts: int,
    tick: int,
    nd: int,
    nx: int,
    o_ts: np.ndarray,
    o_seq: np.ndarray,
    o_side: np.ndarray,
    o_act: np.ndarray,
    o_px: np.ndarray,
    o_sz: np.ndarray,
    o_flag: np.ndarray,
    x_seq: np.ndarray,
    x_ts: np.ndarray,
    x_tab: np.ndarray,
    x_kind: np.ndarray,
) -> tuple[int, int]:
    """End a stale spell: publish the withheld side's difference between the snapshot and the truth."""
    side = st[S_STALE_SIDE]
    L = bq.shape[0]
    q = bq if side == 1 else aq
    best = st[S_BID] if side == 1 else st[S_ASK]
    sbest = st[S_SNAP_BEST]
    sgn = 1 if side == 1 else -1
    seq = st[S_SEQ]
    d0 = nd
    for k in range(L):  # levels of the stale snapshot whose size is now different (or gone)
        if snap[k] == 0:
            continue
        px = sbest - sgn * k
        i = (best - px) * sgn
        now = q[i] if 0 <= i < L else 0
        if now != snap[k]:
            nd = _emit(nd, o_ts, o_seq, o_side, o_act, o_px, o_sz, o_flag, ts, seq, side, px, now, tick, 0)
    for i in range(L):  # levels of the true book that the snapshot did not have
        if q[i] == 0:
            continue
        px = best - sgn * i
        k = (sbest - px) * sgn
        was = snap[k] if 0 <= k < L else 0
        if was == 0:
            nd = _emit(nd, o_ts, o_seq, o_side, o_act, o_px, o_sz, o_flag, ts, seq, side, px, q[i], tick, 0)
    st[S_STALE_SIDE] = 0
    if nd > d0:
        o_flag[nd - 1] = LAST
        nx = _label(nx, x_seq, x_ts, x_tab, x_kind, seq, ts, T_DELTAS, K_STALE)
        st[S_SEQ] = seq + 1
    return nd, nx
