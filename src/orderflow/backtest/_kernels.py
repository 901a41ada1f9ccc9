"""The event loop: a price-level book, an exchange with our phantom orders, and a strategy on its own clock.

Everything is written once in plain Python and compiled with numba (``kernel.py_func`` is the twin).
State lives in flat arrays (see :mod:`orderflow.backtest._layout`) so a stream can be replayed chunk by
chunk with the state carried over; output buffers are drained by the Python driver whenever the kernel
returns ``RC_FLUSH``.

Time ordering. Four kinds of happenings share one time axis (ns UTC): market events reach the exchange
at ``ts_event``; our requests reach it at ``t_sent + entry latency``; responses reach the strategy at
``t_exchange + response latency``; market events reach the strategy at their local time (``ts_event +
feed latency``), and the strategy's timer fires. They are processed in time order; on equal times, in the
order just listed (a market event at the same instant as our order is applied first).
"""

from __future__ import annotations

import math

import numpy as np

from orderflow._numba import jit
from orderflow.backtest._layout import (
    A_CANCEL,
    A_MODIFY,
    A_SUBMIT,
    AC_KIND,
    AC_OID,
    AC_PRICE,
    AC_SIDE,
    AC_SIZE,
    AC_TIF,
    AC_TYPE,
    ADD,
    B_ASK,
    B_ASK_CONS,
    B_ASK_PEND,
    B_BID,
    B_BID_CONS,
    B_BID_PEND,
    B_WALK_IX,
    B_WALK_PX,
    B_WALK_SZ,
    BIG,
    C_CANCEL_NS,
    C_EQ_NS,
    C_EVERY_EVENT,
    C_FILL_MODEL,
    C_FLATTEN,
    C_HOR,
    C_MAX_POS,
    C_MAX_RATE,
    C_MODIFY_NS,
    C_NHOR,
    C_NT,
    C_QFAMILY,
    C_QUEUE,
    C_RESP_NS,
    C_STRAT,
    C_SUBMIT_NS,
    C_TICK,
    C_TRADE_SRC,
    C_WAKE_NS,
    CF_MAKER_BPS,
    CF_MAKER_PU,
    CF_MAX_NOTIONAL,
    CF_MIN_FEE,
    CF_MULT,
    CF_QPOW,
    CF_SIZE_UNIT,
    CF_TAKER_BPS,
    CF_TAKER_PU,
    CLEAR,
    EV_DELTA,
    EXECUTE,
    F_CASH,
    F_FEES,
    F_MAKER_UNITS,
    F_NOTIONAL,
    F_SPREAD,
    F_TAKER_UNITS,
    FR_ASK_PX,
    FR_ASK_SZ,
    FR_BID_PX,
    FR_BID_SZ,
    FR_EXCH_T,
    FR_SEQ,
    FR_T,
    FR_TRADE_AGGR,
    FR_TRADE_PX,
    FR_TRADE_SZ,
    H_CTR,
    H_KEY,
    H_REM,
    INF,
    N_AC,
    NO_PRICE,
    O_CTR,
    O_CXL_SENT,
    O_FILLED,
    O_INUSE,
    O_MOD_SENT,
    O_OID,
    O_PRICE,
    O_PRIO,
    O_RESTING,
    O_SEEN_FILLED,
    O_SEEN_PRICE,
    O_SEEN_SIZE,
    O_SEEN_STATUS,
    O_SIDE,
    O_SIZE,
    O_STATUS,
    O_TIF,
    O_TS_DONE,
    O_TS_EXCH,
    O_TS_SUBMIT,
    O_TYPE,
    OF_Q,
    OT_MARKET,
    R_ACK,
    R_CXL_REJECT,
    R_DONE,
    R_FILL,
    R_MOD_ACK,
    R_MOD_REJECT,
    RC_FINISHED,
    RC_FLUSH,
    RC_GROW_FIFO,
    RC_GROW_MK,
    RC_GROW_RESP,
    RC_GROW_RING,
    RC_NEED_DATA,
    REDUCE,
    RQ_KIND,
    RQ_NO,
    RQ_OID,
    RQ_PRICE,
    RQ_SIZE,
    RQ_SLOT,
    RQ_T,
    RS_FILL,
    RS_FILLED,
    RS_KIND,
    RS_OID,
    RS_PRICE,
    RS_SLOT,
    RS_STATUS,
    RS_T,
    S_BA,
    S_BASE,
    S_BB,
    S_BOOK_NEG,
    S_CXL_REJ,
    S_DIRTY,
    S_DONE,
    S_DROPPED,
    S_FIFO_USED,
    S_FLAT_SHORT,
    S_HWM,
    S_INITED,
    S_LAST_LOCAL,
    S_LAST_TS,
    S_MID2,
    S_MKH,
    S_MKT,
    S_MOD_REJ,
    S_NCALLS,
    S_NCANCEL,
    S_NE,
    S_NEVENTS,
    S_NEXT_EQ,
    S_NEXT_OID,
    S_NEXT_WAKE,
    S_NF,
    S_NFILL_G,
    S_NFREE,
    S_NM,
    S_NMODIFY,
    S_NO,
    S_NRECENTER,
    S_NREQ,
    S_NREST,
    S_NSUBMIT,
    S_NWAKES,
    S_POS,
    S_POS_SEEN,
    S_POST_REJ,
    S_PRED_PTR,
    S_PRIO,
    S_RATE_H,
    S_RB_ASK_MAX,
    S_RB_ASK_MIN,
    S_RB_BID_MAX,
    S_RB_BID_MIN,
    S_REJ_NOTIONAL,
    S_REJ_POS,
    S_REJ_RATE,
    S_REJ_SLOTS,
    S_REQ_MIN,
    S_REQ_NO,
    S_RESP_H,
    S_RESP_T,
    S_RING_H,
    S_RING_T,
    S_SCRIPT_PTR,
    S_SEEN_VER,
    S_STG_TAGGR,
    S_STG_TPX,
    S_STG_TSZ,
    S_UNKNOWN_AGGR,
    SET,
    ST_CANCELLED,
    ST_EXPIRED,
    ST_FILLED,
    ST_OPEN,
    ST_PENDING,
    ST_REJECTED,
    STRAT_MM,
    STRAT_SCRIPT,
    STRAT_TAKER,
    TIF_FOK,
    TIF_IOC,
    TIF_POST,
    V_ASK_PX,
    V_ASK_SZ,
    V_BID_PX,
    V_BID_SZ,
    V_EXCH_T,
    V_SEQ,
    V_T,
    V_TRADE_AGGR,
    V_TRADE_PX,
    V_TRADE_SZ,
)
from orderflow.backtest._strategies import mm_step, script_step, taker_step
from orderflow.book.sweep import walk_book_int


def kjit(fn=None, **kw):
    """``jit`` without numba's reference counting: the kernel allocates nothing, and refcounting the
    dozens of state arrays at every helper call would cost more than the event itself."""
    return jit(fn, _nrt=False, **kw)


# ------------------------------------------------------------------------------------------------------
# merging the two canonical tables into one stream
# ------------------------------------------------------------------------------------------------------


@jit
def merge_by_seq(d_seq, t_seq):
    """Merge order of BOOK_DELTAS and TRADES rows, both sorted by ``seq``.

    Returns ``src`` (0 delta, 1 trade) and ``row`` (index within its table) for every merged position.
    On equal ``seq`` the trade comes first: a venue message that prints a trade and changes the level
    is then seen as "trade, then the level shrinks", which is how the queue models consume it.
    """
    n = d_seq.shape[0] + t_seq.shape[0]
    src = np.empty(n, np.int8)
    row = np.empty(n, np.int64)
    i = 0
    j = 0
    for k in range(n):
        if j < t_seq.shape[0] and (i >= d_seq.shape[0] or t_seq[j] <= d_seq[i]):
            src[k] = 1
            row[k] = j
            j += 1
        else:
            src[k] = 0
            row[k] = i
            i += 1
    return src, row


# ------------------------------------------------------------------------------------------------------
# book helpers
# ------------------------------------------------------------------------------------------------------


@kjit(inline="always")
def _px(si, ci, idx):
    return si[S_BASE] + idx * ci[C_TICK]


@kjit
def _rescan_best(book, si, ci):
    nt = ci[C_NT]
    bb = -1
    for k in range(nt - 1, -1, -1):
        if book[B_BID, k] > 0:
            bb = k
            break
    ba = nt
    for k in range(nt):
        if book[B_ASK, k] > 0:
            ba = k
            break
    si[S_BB] = bb
    si[S_BA] = ba


@kjit
def _recenter(book, si, ci, price):
    """Move the tick window so ``price`` sits in its middle; levels that fall off are counted."""
    nt = ci[C_NT]
    tick = ci[C_TICK]
    new_base = price - (nt // 2) * tick
    shift = (new_base - si[S_BASE]) // tick  # levels move by -shift
    if si[S_INITED] == 0:
        si[S_BASE] = new_base
        si[S_INITED] = 1
        return
    si[S_NRECENTER] += 1
    nb = book.shape[0]
    if shift > 0:
        for k in range(nt):
            src = k + shift
            for r in range(nb):
                if k < shift and book[r, k] != 0 and r < 2:
                    si[S_DROPPED] += 1
                book[r, k] = book[r, src] if src < nt else 0
    elif shift < 0:
        for k in range(nt - 1, -1, -1):
            src = k + shift
            for r in range(nb):
                if k >= nt + shift and book[r, k] != 0 and r < 2:
                    si[S_DROPPED] += 1
                book[r, k] = book[r, src] if src >= 0 else 0
    si[S_BASE] = new_base
    _rescan_best(book, si, ci)


@kjit(inline="always")
def _index(book, si, ci, price):
    if si[S_INITED] == 0:
        _recenter(book, si, ci, price)
    idx = (price - si[S_BASE]) // ci[C_TICK]
    if idx < 0 or idx >= ci[C_NT]:
        _recenter(book, si, ci, price)
        idx = (price - si[S_BASE]) // ci[C_TICK]
    return idx


@kjit(inline="always")
def _best_px(si, ci, side):
    if side == 1:
        return _px(si, ci, si[S_BB]) if si[S_BB] >= 0 else NO_PRICE
    return _px(si, ci, si[S_BA]) if si[S_BA] < ci[C_NT] else NO_PRICE


@kjit(inline="always")
def _update_mid(si, ci):
    if si[S_BB] >= 0 and si[S_BA] < ci[C_NT]:
        si[S_MID2] = _px(si, ci, si[S_BB]) + _px(si, ci, si[S_BA])


# ------------------------------------------------------------------------------------------------------
# outputs
# ------------------------------------------------------------------------------------------------------


@kjit
def _push_resp(si, ci, resp, t, slot, oid, kind, fill, status, filled, price):
    k = si[S_RESP_T] & (resp.shape[0] - 1)
    resp[k, RS_T] = t + ci[C_RESP_NS]
    resp[k, RS_SLOT] = slot
    resp[k, RS_OID] = oid
    resp[k, RS_KIND] = kind
    resp[k, RS_FILL] = fill
    resp[k, RS_STATUS] = status
    resp[k, RS_FILLED] = filled
    resp[k, RS_PRICE] = price
    si[S_RESP_T] += 1
    si[S_DIRTY] = 1


@kjit
def _write_order(si, oi, slot, out_o):
    r = si[S_NO]
    out_o[r, 0] = oi[slot, O_OID]
    out_o[r, 1] = oi[slot, O_TS_SUBMIT]
    out_o[r, 2] = oi[slot, O_TS_EXCH]
    out_o[r, 3] = oi[slot, O_TS_DONE]
    out_o[r, 4] = oi[slot, O_SIDE]
    out_o[r, 5] = oi[slot, O_TYPE]
    out_o[r, 6] = oi[slot, O_TIF]
    out_o[r, 7] = oi[slot, O_PRICE]
    out_o[r, 8] = oi[slot, O_SIZE]
    out_o[r, 9] = oi[slot, O_FILLED]
    out_o[r, 10] = oi[slot, O_STATUS]
    si[S_NO] = r + 1
    si[S_DIRTY] = 1


@kjit
def _fee(cf, notional, units, maker):
    """Same rule as ``FeeModel.fee``: bps of |notional| + per unit; positive fees floored at min_fee."""
    if maker:
        f = abs(notional) * cf[CF_MAKER_BPS] * 1e-4 + abs(units) * cf[CF_MAKER_PU]
    else:
        f = abs(notional) * cf[CF_TAKER_BPS] * 1e-4 + abs(units) * cf[CF_TAKER_PU]
    if f > 0 and f < cf[CF_MIN_FEE]:
        f = cf[CF_MIN_FEE]
    return f


@kjit
def _fill(si, sf, ci, cf, oi, slot, t, price, size, maker, resp, out_fi, out_ff, mk_t, mk_g):
    side = oi[slot, O_SIDE]
    oi[slot, O_FILLED] += size
    units = size * cf[CF_SIZE_UNIT]
    notional = price * 1e-9 * units * cf[CF_MULT]
    fee = _fee(cf, notional, units, maker)
    si[S_POS] += side * size
    sf[F_CASH] -= side * notional + fee
    sf[F_FEES] += fee
    sf[F_NOTIONAL] += notional
    if maker:
        sf[F_MAKER_UNITS] += units
    else:
        sf[F_TAKER_UNITS] += units
    mid = si[S_MID2] * 0.5e-9 if si[S_MID2] > 0 else math.nan
    if si[S_MID2] > 0:
        sf[F_SPREAD] += side * (mid * units * cf[CF_MULT] - notional)
    r = si[S_NF]
    g = si[S_NFILL_G]
    out_fi[r, 0] = oi[slot, O_OID]
    out_fi[r, 1] = t
    out_fi[r, 2] = side
    out_fi[r, 3] = price
    out_fi[r, 4] = size
    out_fi[r, 5] = 1 if maker else 0
    out_fi[r, 6] = g
    out_ff[r, 0] = fee
    out_ff[r, 1] = mid
    out_ff[r, 2] = float(si[S_POS])
    si[S_NF] = r + 1
    si[S_NFILL_G] = g + 1
    si[S_DIRTY] = 1
    mask = mk_t.shape[1] - 1
    for h in range(ci[C_NHOR]):
        k = si[S_MKT + h] & mask
        mk_t[h, k] = t + ci[C_HOR + h]
        mk_g[h, k] = g
        si[S_MKT + h] += 1
    _push_resp(
        si,
        ci,
        resp,
        t,
        slot,
        oi[slot, O_OID],
        R_FILL,
        side * size,
        oi[slot, O_STATUS],
        oi[slot, O_FILLED],
        price,
    )


@kjit
def _rest_bounds(si, oi, rest):
    """Recompute the price range of our resting orders on each side."""
    bmax = -BIG
    bmin = BIG
    amin = BIG
    amax = -BIG
    for r in range(si[S_NREST]):
        s = rest[r]
        p = oi[s, O_PRICE]
        if oi[s, O_SIDE] == 1:
            bmax = max(bmax, p)
            bmin = min(bmin, p)
        else:
            amin = min(amin, p)
            amax = max(amax, p)
    si[S_RB_BID_MAX] = bmax
    si[S_RB_BID_MIN] = bmin
    si[S_RB_ASK_MIN] = amin
    si[S_RB_ASK_MAX] = amax


@kjit
def _rest_remove(si, oi, rest, slot):
    n = si[S_NREST]
    for r in range(n):
        if rest[r] == slot:
            rest[r] = rest[n - 1]
            si[S_NREST] = n - 1
            break
    oi[slot, O_RESTING] = 0
    _rest_bounds(si, oi, rest)


@kjit
def _finish(si, ci, oi, rest, slot, t, status, resp, out_o):
    """Exchange-side end of an order's life: write its ORDERS row and tell the strategy."""
    if oi[slot, O_RESTING] == 1:
        _rest_remove(si, oi, rest, slot)
    oi[slot, O_STATUS] = status
    oi[slot, O_TS_DONE] = t
    _write_order(si, oi, slot, out_o)
    _push_resp(
        si, ci, resp, t, slot, oi[slot, O_OID], R_DONE, 0, status, oi[slot, O_FILLED], oi[slot, O_PRICE]
    )


# ------------------------------------------------------------------------------------------------------
# queue models
# ------------------------------------------------------------------------------------------------------


@kjit(inline="always")
def _qf(ci, cf, x):
    if ci[C_QFAMILY] == 0:
        return x ** cf[CF_QPOW]
    return math.log1p(x)


@kjit
def _h_slot(fifo, key):
    """Slot of ``key`` in the open-addressing order-id table, or -1."""
    mask = fifo.shape[1] - 1
    i = (key * 40503) & mask
    while True:
        k = fifo[H_KEY, i]
        if k == key:
            return i
        if k == 0:
            return -1
        i = (i + 1) & mask


@kjit
def _h_insert(si, fifo, key, ctr, rem):
    mask = fifo.shape[1] - 1
    i = (key * 40503) & mask
    while fifo[H_KEY, i] != 0 and fifo[H_KEY, i] != -1:
        i = (i + 1) & mask
    if fifo[H_KEY, i] == 0:
        si[S_FIFO_USED] += 1
        si[S_DIRTY] = 1
    fifo[H_KEY, i] = key
    fifo[H_CTR, i] = ctr
    fifo[H_REM, i] = rem


@kjit
def _fifo_update(si, fifo, action, oid, size):
    """Track venue order ids (arrival counter and remaining size); returns the id's counter before
    this row (-1: unknown, i.e. it was resting before we started)."""
    h = _h_slot(fifo, oid)
    xctr = fifo[H_CTR, h] if h >= 0 else -1
    if action == ADD:
        if h < 0:
            _h_insert(si, fifo, oid, si[S_PRIO], size)
            si[S_PRIO] += 1
        else:
            fifo[H_REM, h] += size
    elif h >= 0:
        rem = fifo[H_REM, h] - (size if action != SET else 0)
        if rem <= 0 or (action == SET and size == 0):
            fifo[H_KEY, h] = -1
        else:
            fifo[H_REM, h] = rem
    return xctr


@kjit(inline="always")
def _queue_cancel(si, ci, cf, oi, of, rest, side, price, old, new, c, xctr):
    """Size ``c`` left level (side, price) without trading: shrink the queue ahead of each of our orders.

    conservative: only what no longer fits (q <= new level size). probabilistic: the share of the
    cancel in front of us is ``1 - f(back) / (f(front) + f(back))`` with f(x) = x^n (power) or
    log(1 + x) (log), any excess beyond the size behind us also comes from the front. fifo: exact, from
    the cancelled order's arrival counter ``xctr`` (unknown ids were resting before us: ahead).
    """
    mode = ci[C_QUEUE]
    for r in range(si[S_NREST]):
        s = rest[r]
        if oi[s, O_SIDE] != side or oi[s, O_PRICE] != price:
            continue
        q = of[s, OF_Q]
        if mode == 1:
            front = q
            back = old - q
            if back < 0:
                back = 0.0
            fa = _qf(ci, cf, front)
            fb = _qf(ci, cf, back)
            prob = fb / (fa + fb) if fa + fb > 0 else 0.0
            extra = back - prob * c
            q = front - (1.0 - prob) * c + (extra if extra < 0 else 0.0)
        elif mode == 2 and (xctr < 0 or xctr < oi[s, O_CTR]):
            q = q - c
        if q > new:
            q = float(new)
        if q < 0:
            q = 0.0
        of[s, OF_Q] = q


@kjit
def _sort_slots(oi, buf, n, by_price, side):
    """Insertion sort of ``buf[:n]`` by (price priority when ``by_price``, then time priority)."""
    for a in range(1, n):
        v = buf[a]
        b = a - 1
        while b >= 0:
            u = buf[b]
            if by_price:
                ku = -side * oi[u, O_PRICE]
                kv = -side * oi[v, O_PRICE]
                before = kv < ku or (kv == ku and oi[v, O_PRIO] < oi[u, O_PRIO])
            else:
                before = oi[v, O_PRIO] < oi[u, O_PRIO]
            if not before:
                break
            buf[b + 1] = u
            b -= 1
        buf[b + 1] = v


@kjit
def _passive_trade(
    si, sf, ci, cf, oi, of, rest, scratch, side, price, x, xctr, t, resp, out_o, out_fi, out_ff, mk_t, mk_g
):
    """Aggressive volume ``x`` printed against resting side ``side`` at ``price``.

    Our orders at better prices would have been hit first (trade-through: filled up to ``x``); then at
    ``price`` the volume walks the queue: market size ahead of each of our orders (in time priority)
    is consumed before it fills. The same volume is never handed out twice.
    """
    xl = float(x)
    n = 0
    for r in range(si[S_NREST]):
        s = rest[r]
        if oi[s, O_SIDE] == side and side * (oi[s, O_PRICE] - price) > 0:
            scratch[n] = s
            n += 1
    if n > 0:
        _sort_slots(oi, scratch, n, True, side)
        for a in range(n):
            s = scratch[a]
            leaves = oi[s, O_SIZE] - oi[s, O_FILLED]
            f = leaves if leaves < int(xl + 1e-9) else int(xl + 1e-9)
            if f > 0:
                of[s, OF_Q] = 0.0
                _fill(si, sf, ci, cf, oi, s, t, oi[s, O_PRICE], f, True, resp, out_fi, out_ff, mk_t, mk_g)
                xl -= f
    m = 0
    for r in range(si[S_NREST]):
        s = rest[r]
        if oi[s, O_SIDE] == side and oi[s, O_PRICE] == price:
            scratch[m] = s
            m += 1
    if m > 0:
        _sort_slots(oi, scratch, m, False, side)
        fifo = ci[C_QUEUE] == 2
        consumed = 0.0
        for a in range(m):
            s = scratch[a]
            q = of[s, OF_Q]
            if fifo:
                if xctr < 0 or xctr < oi[s, O_CTR]:
                    # the executed venue order is ahead of ours: it is the queue moving, not us
                    q = q - x
                    if q < 0:
                        q = 0.0
                    of[s, OF_Q] = q
                    continue
                q = 0.0
            else:
                need = q - consumed
                if need < 0:
                    need = 0.0
                take = need if need < xl else xl
                consumed += take
                xl -= take
                q = q - consumed
                if q < 0:
                    q = 0.0
            of[s, OF_Q] = q
            if q > 0:
                continue
            leaves = oi[s, O_SIZE] - oi[s, O_FILLED]
            fx = int(xl + 1e-9)
            f = leaves if leaves < fx else fx
            if f > 0:
                _fill(si, sf, ci, cf, oi, s, t, price, f, True, resp, out_fi, out_ff, mk_t, mk_g)
                xl -= f
    # retire what filled completely (after the loops: the rest list is not touched while iterating)
    r = 0
    while r < si[S_NREST]:
        s = rest[r]
        if oi[s, O_FILLED] >= oi[s, O_SIZE]:
            _finish(si, ci, oi, rest, s, t, ST_FILLED, resp, out_o)
        else:
            r += 1


@kjit
def _cross_check(
    si, sf, ci, cf, book, oi, rest, scratch, side, price, idx, inc, t, resp, out_o, out_fi, out_ff, mk_t, mk_g
):
    """New liquidity ``inc`` on ``side`` at ``price`` crosses our resting orders on the other side.

    The incoming venue order would have executed against ours first: we fill passively at our price
    and the size we took is marked consumed at that level.
    """
    n = 0
    for r in range(si[S_NREST]):
        s = rest[r]
        if oi[s, O_SIDE] == -side and -side * (oi[s, O_PRICE] - price) >= 0:
            scratch[n] = s
            n += 1
    if n == 0:
        return
    _sort_slots(oi, scratch, n, True, -side)
    crow = B_BID_CONS if side == 1 else B_ASK_CONS
    left = inc
    for a in range(n):
        if left <= 0:
            break
        s = scratch[a]
        leaves = oi[s, O_SIZE] - oi[s, O_FILLED]
        f = leaves if leaves < left else left
        if f > 0:
            _fill(si, sf, ci, cf, oi, s, t, oi[s, O_PRICE], f, True, resp, out_fi, out_ff, mk_t, mk_g)
            book[crow, idx] += f
            left -= f
    r = 0
    while r < si[S_NREST]:
        s = rest[r]
        if oi[s, O_FILLED] >= oi[s, O_SIZE]:
            _finish(si, ci, oi, rest, s, t, ST_FILLED, resp, out_o)
        else:
            r += 1


# ------------------------------------------------------------------------------------------------------
# market data at the exchange
# ------------------------------------------------------------------------------------------------------


@kjit(inline="always")
def _apply_delta(
    si,
    sf,
    ci,
    cf,
    book,
    oi,
    of,
    rest,
    scratch,
    side,
    action,
    price,
    size,
    oid,
    t,
    resp,
    out_o,
    out_fi,
    out_ff,
    mk_t,
    mk_g,
    fifo_tab,
):
    nt = ci[C_NT]
    if action == CLEAR:
        for k in range(nt):
            if side >= 0:
                book[B_BID, k] = 0
                book[B_BID_CONS, k] = 0
                book[B_BID_PEND, k] = 0
            if side <= 0:
                book[B_ASK, k] = 0
                book[B_ASK_CONS, k] = 0
                book[B_ASK_PEND, k] = 0
        if side >= 0:
            si[S_BB] = -1
        if side <= 0:
            si[S_BA] = nt
        return
    if price == NO_PRICE:
        return
    idx = _index(book, si, ci, price)
    row = B_BID if side == 1 else B_ASK
    old = book[row, idx]
    if action == ADD:
        new = old + size
    elif action in (REDUCE, EXECUTE):
        new = old - size
        if new < 0:
            si[S_BOOK_NEG] += 1
            new = 0
    elif action == SET:
        new = size
    else:
        return
    book[row, idx] = new
    if side == 1:
        if new > 0 and idx > si[S_BB]:
            si[S_BB] = idx
        elif new == 0 and idx == si[S_BB]:
            k = idx - 1
            while k >= 0 and book[B_BID, k] == 0:
                k -= 1
            si[S_BB] = k
    else:
        if new > 0 and idx < si[S_BA]:
            si[S_BA] = idx
        elif new == 0 and idx == si[S_BA]:
            k = idx + 1
            while k < nt and book[B_ASK, k] == 0:
                k += 1
            si[S_BA] = k
    fifo = ci[C_QUEUE] == 2
    xctr = -1
    if fifo and oid != 0:
        xctr = _fifo_update(si, fifo_tab, action, oid, size)
    if new < old:
        dec = old - new
        crow = B_BID_CONS if side == 1 else B_ASK_CONS
        prow = B_BID_PEND if side == 1 else B_ASK_PEND
        if book[crow, idx] > 0:
            cons = book[crow, idx] - dec
            book[crow, idx] = cons if cons > 0 else 0
        absorbed = 0
        if ci[C_TRADE_SRC] == 0 and book[prow, idx] > 0:
            absorbed = book[prow, idx] if book[prow, idx] < dec else dec
            book[prow, idx] -= absorbed
        if si[S_NREST] > 0:
            hit = price <= si[S_RB_BID_MAX] if side == 1 else price >= si[S_RB_ASK_MIN]
            at = (
                (si[S_RB_BID_MIN] <= price <= si[S_RB_BID_MAX])
                if side == 1
                else (si[S_RB_ASK_MIN] <= price <= si[S_RB_ASK_MAX])
            )
            if action == EXECUTE and (ci[C_TRADE_SRC] == 1 or fifo) and hit:
                _passive_trade(
                    si,
                    sf,
                    ci,
                    cf,
                    oi,
                    of,
                    rest,
                    scratch,
                    side,
                    price,
                    dec,
                    xctr,
                    t,
                    resp,
                    out_o,
                    out_fi,
                    out_ff,
                    mk_t,
                    mk_g,
                )
            elif action != EXECUTE and dec - absorbed > 0 and at:
                _queue_cancel(si, ci, cf, oi, of, rest, side, price, old, new, dec - absorbed, xctr)
        if new == 0:
            book[prow, idx] = 0
            book[crow, idx] = 0
    elif new > old and (price <= si[S_RB_BID_MAX] if side == -1 else price >= si[S_RB_ASK_MIN]):
        _cross_check(
            si,
            sf,
            ci,
            cf,
            book,
            oi,
            rest,
            scratch,
            side,
            price,
            idx,
            new - old,
            t,
            resp,
            out_o,
            out_fi,
            out_ff,
            mk_t,
            mk_g,
        )


@kjit(inline="always")
def _apply_trade(
    si,
    sf,
    ci,
    cf,
    book,
    oi,
    of,
    rest,
    scratch,
    aggr,
    price,
    size,
    kind,
    t,
    resp,
    out_o,
    out_fi,
    out_ff,
    mk_t,
    mk_g,
):
    if kind != 0 or ci[C_TRADE_SRC] != 0:
        return
    if aggr == 0:
        ask = _best_px(si, ci, -1)
        bid = _best_px(si, ci, 1)
        if ask != NO_PRICE and price >= ask:
            aggr = 1
        elif bid != NO_PRICE and price <= bid:
            aggr = -1
        else:
            si[S_UNKNOWN_AGGR] += 1
            return
    side = -aggr
    if price <= si[S_RB_BID_MAX] if side == 1 else price >= si[S_RB_ASK_MIN]:
        _passive_trade(
            si,
            sf,
            ci,
            cf,
            oi,
            of,
            rest,
            scratch,
            side,
            price,
            size,
            -1,
            t,
            resp,
            out_o,
            out_fi,
            out_ff,
            mk_t,
            mk_g,
        )
    if si[S_INITED] == 1 and (price - si[S_BASE]) % ci[C_TICK] == 0:
        idx = (price - si[S_BASE]) // ci[C_TICK]
        if 0 <= idx < ci[C_NT]:
            row = B_BID if side == 1 else B_ASK
            prow = B_BID_PEND if side == 1 else B_ASK_PEND
            p = book[prow, idx] + size
            book[prow, idx] = p if p < book[row, idx] else book[row, idx]


# ------------------------------------------------------------------------------------------------------
# our orders at the exchange
# ------------------------------------------------------------------------------------------------------


@kjit
def _available(book, si, ci, side_taken, limit):
    """Displayed size not yet consumed by us on ``side_taken`` at prices no worse than ``limit``."""
    nt = ci[C_NT]
    tot = 0
    if side_taken == -1:
        k = si[S_BA]
        while k < nt and _px(si, ci, k) <= limit:
            a = book[B_ASK, k] - book[B_ASK_CONS, k]
            if a > 0:
                tot += a
            k += 1
    else:
        k = si[S_BB]
        while k >= 0 and _px(si, ci, k) >= limit:
            a = book[B_BID, k] - book[B_BID_CONS, k]
            if a > 0:
                tot += a
            k -= 1
    return tot


@kjit
def _take(si, sf, ci, cf, book, oi, slot, limit, qty, fok, t, resp, out_fi, out_ff, mk_t, mk_g):
    """Walk the displayed book (best first, ``orderflow.book.sweep`` semantics) taking what is not
    already consumed, up to ``limit``; one fill per level. Returns the quantity filled."""
    side = oi[slot, O_SIDE]
    nt = ci[C_NT]
    # gather the levels within the limit (price, available) best first
    cnt = 0
    tot = 0
    k = si[S_BA] if side == 1 else si[S_BB]
    while 0 <= k < nt and tot < qty:
        p = _px(si, ci, k)
        if (side == 1 and p > limit) or (side == -1 and p < limit):
            break
        a = book[B_ASK, k] - book[B_ASK_CONS, k] if side == 1 else book[B_BID, k] - book[B_BID_CONS, k]
        if a > 0:
            cnt += 1
            tot += a
        k += side
    if cnt == 0:
        return 0
    px = book[B_WALK_PX, :cnt]
    sz = book[B_WALK_SZ, :cnt]
    ix = book[B_WALK_IX, :cnt]
    c = 0
    k = si[S_BA] if side == 1 else si[S_BB]
    while c < cnt:
        a = book[B_ASK, k] - book[B_ASK_CONS, k] if side == 1 else book[B_BID, k] - book[B_BID_CONS, k]
        if a > 0:
            px[c] = _px(si, ci, k)
            sz[c] = a
            ix[c] = k
            c += 1
        k += side
    filled, _notional, _worst = walk_book_int(px, sz, qty)
    if fok and filled < qty:
        return 0
    left = filled
    crow = B_ASK_CONS if side == 1 else B_BID_CONS
    for c in range(cnt):
        if left <= 0:
            break
        f = sz[c] if sz[c] < left else left
        book[crow, ix[c]] += f
        _fill(si, sf, ci, cf, oi, slot, t, px[c], f, False, resp, out_fi, out_ff, mk_t, mk_g)
        left -= f
    return filled


@kjit
def _marketable(book, si, ci, side, price):
    return _available(book, si, ci, -side, price) > 0


@kjit
def _execute_incoming(si, sf, ci, cf, book, oi, of, rest, slot, t, resp, out_o, out_fi, out_ff, mk_t, mk_g):
    """An order (new, or re-priced by a modify) meets the book: take what crosses, rest or expire."""
    side = oi[slot, O_SIDE]
    typ = oi[slot, O_TYPE]
    tif = oi[slot, O_TIF]
    price = oi[slot, O_PRICE]
    leaves = oi[slot, O_SIZE] - oi[slot, O_FILLED]
    limit = price
    if typ == OT_MARKET:
        limit = NO_PRICE if side == 1 else -NO_PRICE
    if ci[C_FILL_MODEL] == 1:
        # infinite size at mid: anything at or through the mid fills completely there
        if si[S_MID2] > 0:
            mid = si[S_MID2] // 2
            if typ == OT_MARKET or side * (price - mid) >= 0:
                if tif == TIF_POST:
                    si[S_POST_REJ] += 1
                    _finish(si, ci, oi, rest, slot, t, ST_REJECTED, resp, out_o)
                    return
                _fill(si, sf, ci, cf, oi, slot, t, mid, leaves, False, resp, out_fi, out_ff, mk_t, mk_g)
                _finish(si, ci, oi, rest, slot, t, ST_FILLED, resp, out_o)
                return
    elif tif == TIF_POST:
        if _marketable(book, si, ci, side, limit):
            si[S_POST_REJ] += 1
            _finish(si, ci, oi, rest, slot, t, ST_REJECTED, resp, out_o)
            return
    else:
        got = _take(
            si, sf, ci, cf, book, oi, slot, limit, leaves, tif == TIF_FOK, t, resp, out_fi, out_ff, mk_t, mk_g
        )
        leaves -= got
    if leaves <= 0:
        _finish(si, ci, oi, rest, slot, t, ST_FILLED, resp, out_o)
        return
    if typ == OT_MARKET or tif in (TIF_IOC, TIF_FOK):
        _finish(si, ci, oi, rest, slot, t, ST_EXPIRED, resp, out_o)
        return
    # rest at the back of the displayed queue at our price
    oi[slot, O_STATUS] = ST_OPEN
    idx = _index(book, si, ci, price)
    row = B_BID if side == 1 else B_ASK
    of[slot, OF_Q] = float(book[row, idx])
    oi[slot, O_CTR] = si[S_PRIO]
    oi[slot, O_PRIO] = si[S_PRIO]
    si[S_PRIO] += 1
    if oi[slot, O_RESTING] == 0:
        rest[si[S_NREST]] = slot
        si[S_NREST] += 1
        oi[slot, O_RESTING] = 1
    _rest_bounds(si, oi, rest)


@kjit
def _exch_request(si, sf, ci, cf, book, oi, of, rest, req, r, t, resp, out_o, out_fi, out_ff, mk_t, mk_g):
    kind = req[r, RQ_KIND]
    slot = req[r, RQ_SLOT]
    oid = req[r, RQ_OID]
    live = oi[slot, O_INUSE] == 1 and oi[slot, O_OID] == oid
    if kind == A_SUBMIT:
        oi[slot, O_TS_EXCH] = t
        _push_resp(si, ci, resp, t, slot, oid, R_ACK, 0, ST_OPEN, 0, oi[slot, O_PRICE])
        _execute_incoming(
            si, sf, ci, cf, book, oi, of, rest, slot, t, resp, out_o, out_fi, out_ff, mk_t, mk_g
        )
    elif kind == A_CANCEL:
        if live and oi[slot, O_STATUS] == ST_OPEN:
            _finish(si, ci, oi, rest, slot, t, ST_CANCELLED, resp, out_o)
        else:
            si[S_CXL_REJ] += 1
            _push_resp(si, ci, resp, t, slot, oid, R_CXL_REJECT, 0, 0, 0, 0)
    elif kind == A_MODIFY:
        if not (live and oi[slot, O_STATUS] == ST_OPEN):
            si[S_MOD_REJ] += 1
            _push_resp(si, ci, resp, t, slot, oid, R_MOD_REJECT, 0, 0, 0, 0)
            return
        price = req[r, RQ_PRICE]
        size = req[r, RQ_SIZE]
        side = oi[slot, O_SIDE]
        if size <= oi[slot, O_FILLED]:
            _finish(si, ci, oi, rest, slot, t, ST_CANCELLED, resp, out_o)
            return
        if price == oi[slot, O_PRICE] and size <= oi[slot, O_SIZE]:
            oi[slot, O_SIZE] = size  # a size decrease keeps time priority
            _push_resp(si, ci, resp, t, slot, oid, R_MOD_ACK, 0, ST_OPEN, size, price)
            return
        if oi[slot, O_TIF] == TIF_POST and ci[C_FILL_MODEL] == 0 and _marketable(book, si, ci, side, price):
            si[S_MOD_REJ] += 1
            _push_resp(si, ci, resp, t, slot, oid, R_MOD_REJECT, 0, 0, 0, 0)
            return
        _rest_remove(si, oi, rest, slot)
        oi[slot, O_PRICE] = price
        oi[slot, O_SIZE] = size
        _push_resp(si, ci, resp, t, slot, oid, R_MOD_ACK, 0, ST_OPEN, size, price)
        _execute_incoming(
            si, sf, ci, cf, book, oi, of, rest, slot, t, resp, out_o, out_fi, out_ff, mk_t, mk_g
        )


@kjit
def _req_min(si, req):
    m = INF
    for r in range(si[S_NREQ]):
        if req[r, RQ_T] < m:
            m = req[r, RQ_T]
    si[S_REQ_MIN] = m


# ------------------------------------------------------------------------------------------------------
# the strategy side
# ------------------------------------------------------------------------------------------------------


@kjit
def _local_response(si, oi, free, resp):
    k = si[S_RESP_H] & (resp.shape[0] - 1)
    si[S_RESP_H] += 1
    si[S_SEEN_VER] += 1
    slot = resp[k, RS_SLOT]
    if oi[slot, O_INUSE] != 1 or oi[slot, O_OID] != resp[k, RS_OID]:
        return
    kind = resp[k, RS_KIND]
    if kind == R_ACK:
        if oi[slot, O_SEEN_STATUS] == ST_PENDING:
            oi[slot, O_SEEN_STATUS] = ST_OPEN
    elif kind == R_FILL:
        si[S_POS_SEEN] += resp[k, RS_FILL]
        oi[slot, O_SEEN_FILLED] = resp[k, RS_FILLED]
    elif kind == R_DONE:
        oi[slot, O_SEEN_STATUS] = resp[k, RS_STATUS]
        oi[slot, O_INUSE] = 0
        free[si[S_NFREE]] = slot
        si[S_NFREE] += 1
    elif kind == R_CXL_REJECT:
        oi[slot, O_CXL_SENT] = 0
    elif kind == R_MOD_ACK:
        oi[slot, O_MOD_SENT] = 0
        oi[slot, O_SEEN_PRICE] = resp[k, RS_PRICE]
        oi[slot, O_SEEN_SIZE] = resp[k, RS_FILLED]
    elif kind == R_MOD_REJECT:
        oi[slot, O_MOD_SENT] = 0


@kjit
def _find_slot(si, oi, oid):
    for k in range(si[S_HWM]):
        if oi[k, O_INUSE] == 1 and oi[k, O_OID] == oid:
            return k
    return -1


@kjit
def _push_req(si, req, t, kind, slot, oid, price, size):
    r = si[S_NREQ]
    if r >= req.shape[0]:
        return False
    req[r, RQ_T] = t
    req[r, RQ_KIND] = kind
    req[r, RQ_SLOT] = slot
    req[r, RQ_OID] = oid
    req[r, RQ_PRICE] = price
    req[r, RQ_SIZE] = size
    req[r, RQ_NO] = si[S_REQ_NO]
    si[S_REQ_NO] += 1
    si[S_NREQ] = r + 1
    if t < si[S_REQ_MIN]:
        si[S_REQ_MIN] = t
    return True


@kjit
def _local_reject(si, out_o, oid, t, side, typ, tif, price, size):
    r = si[S_NO]
    out_o[r, 0] = oid
    out_o[r, 1] = t
    out_o[r, 2] = -1
    out_o[r, 3] = t
    out_o[r, 4] = side
    out_o[r, 5] = typ
    out_o[r, 6] = tif
    out_o[r, 7] = price
    out_o[r, 8] = size
    out_o[r, 9] = 0
    out_o[r, 10] = ST_REJECTED
    si[S_NO] = r + 1
    si[S_DIRTY] = 1


@kjit
def _apply_actions(si, ci, cf, oi, of, free, req, act, n, t, rate, out_o):
    si[S_SEEN_VER] += 1
    for a in range(n):
        kind = act[a, AC_KIND]
        if kind == A_SUBMIT:
            side = act[a, AC_SIDE]
            typ = act[a, AC_TYPE]
            tif = act[a, AC_TIF]
            price = act[a, AC_PRICE] if typ != OT_MARKET else NO_PRICE
            size = act[a, AC_SIZE]
            oid = si[S_NEXT_OID]
            si[S_NEXT_OID] = oid + 1
            if size <= 0 or (side != 1 and side != -1):
                _local_reject(si, out_o, oid, t, side, typ, tif, price, size)
                continue
            # pre-trade risk on what the strategy knows (acknowledged position + its open orders)
            same = 0
            for k in range(si[S_HWM]):
                if oi[k, O_INUSE] == 1 and oi[k, O_SIDE] == side and oi[k, O_SEEN_STATUS] <= 0:
                    same += oi[k, O_SIZE] - oi[k, O_SEEN_FILLED]
            pos = si[S_POS_SEEN]
            proj = pos + side * (same + size)
            reduces = abs(proj) < abs(pos)
            if ci[C_MAX_POS] > 0 and abs(proj) > ci[C_MAX_POS] and not reduces:
                si[S_REJ_POS] += 1
                _local_reject(si, out_o, oid, t, side, typ, tif, price, size)
                continue
            if cf[CF_MAX_NOTIONAL] > 0 and si[S_MID2] > 0 and not reduces:
                notional = abs(proj) * cf[CF_SIZE_UNIT] * cf[CF_MULT] * si[S_MID2] * 0.5e-9
                if notional > cf[CF_MAX_NOTIONAL]:
                    si[S_REJ_NOTIONAL] += 1
                    _local_reject(si, out_o, oid, t, side, typ, tif, price, size)
                    continue
            if ci[C_MAX_RATE] > 0:
                h = si[S_RATE_H]
                if rate[h] > t - 1_000_000_000:
                    si[S_REJ_RATE] += 1
                    _local_reject(si, out_o, oid, t, side, typ, tif, price, size)
                    continue
                rate[h] = t
                si[S_RATE_H] = (h + 1) % ci[C_MAX_RATE]
            if si[S_NFREE] == 0 or si[S_NREQ] >= req.shape[0]:
                si[S_REJ_SLOTS] += 1
                _local_reject(si, out_o, oid, t, side, typ, tif, price, size)
                continue
            si[S_NFREE] -= 1
            slot = free[si[S_NFREE]]
            if slot >= si[S_HWM]:
                si[S_HWM] = slot + 1
            for c in range(oi.shape[1]):
                oi[slot, c] = 0
            oi[slot, O_INUSE] = 1
            oi[slot, O_OID] = oid
            oi[slot, O_SIDE] = side
            oi[slot, O_TYPE] = typ
            oi[slot, O_TIF] = tif
            oi[slot, O_PRICE] = price
            oi[slot, O_SIZE] = size
            oi[slot, O_STATUS] = ST_PENDING
            oi[slot, O_TS_SUBMIT] = t
            oi[slot, O_TS_EXCH] = -1
            oi[slot, O_TS_DONE] = -1
            oi[slot, O_SEEN_STATUS] = ST_PENDING
            oi[slot, O_SEEN_PRICE] = price
            oi[slot, O_SEEN_SIZE] = size
            of[slot, OF_Q] = 0.0
            _push_req(si, req, t + ci[C_SUBMIT_NS], A_SUBMIT, slot, oid, price, size)
            si[S_NSUBMIT] += 1
        elif kind in (A_CANCEL, A_MODIFY):
            slot = _find_slot(si, oi, act[a, AC_OID])
            if slot < 0:
                continue
            if kind == A_CANCEL:
                if oi[slot, O_CXL_SENT] == 1:
                    continue
                if _push_req(si, req, t + ci[C_CANCEL_NS], A_CANCEL, slot, oi[slot, O_OID], 0, 0):
                    oi[slot, O_CXL_SENT] = 1
                    si[S_NCANCEL] += 1
            else:
                if oi[slot, O_MOD_SENT] == 1 or oi[slot, O_CXL_SENT] == 1:
                    continue
                if _push_req(
                    si,
                    req,
                    t + ci[C_MODIFY_NS],
                    A_MODIFY,
                    slot,
                    oi[slot, O_OID],
                    act[a, AC_PRICE],
                    act[a, AC_SIZE],
                ):
                    oi[slot, O_MOD_SENT] = 1
                    si[S_NMODIFY] += 1


@kjit(inline="always")
def _call_strategy(
    si, sf, ci, cf, oi, of, free, req, rate, out_o, t, pred_t, pred_v, cur_pred, params, sstate, script, act
):
    si[V_T] = t
    si[S_NCALLS] += 1
    p = si[S_PRED_PTR]
    while p < pred_t.shape[0] and pred_t[p] <= t:
        p += 1
    if p != si[S_PRED_PTR] or (p > 0 and cur_pred[0] < 0):
        si[S_PRED_PTR] = p
        if p > 0:
            cur_pred[0] = pred_t[p - 1]
            for c in range(pred_v.shape[1]):
                cur_pred[c + 1] = pred_v[p - 1, c]
    strat = ci[C_STRAT]
    n = 0
    if strat == STRAT_TAKER:
        n = taker_step(t, si, oi, cur_pred, params, sstate, script, act, ci)
    elif strat == STRAT_MM:
        n = mm_step(t, si, oi, cur_pred, params, sstate, script, act, ci)
    elif strat == STRAT_SCRIPT:
        n = script_step(t, si, oi, cur_pred, params, sstate, script, act, ci)
    if n > 0:
        _apply_actions(si, ci, cf, oi, of, free, req, act, n, t, rate, out_o)
        for a in range(n):
            for c in range(N_AC):
                act[a, c] = 0


@kjit(inline="always")
def _pop_view(si, ring, upto, one):
    """The strategy sees the feed entries with local time <= ``upto`` (only the next one if ``one``)."""
    mask = ring.shape[0] - 1
    while si[S_RING_T] > si[S_RING_H]:
        k = si[S_RING_H] & mask
        if ring[k, FR_T] > upto:
            break
        si[S_RING_H] += 1
        si[V_BID_PX] = ring[k, FR_BID_PX]
        si[V_BID_SZ] = ring[k, FR_BID_SZ]
        si[V_ASK_PX] = ring[k, FR_ASK_PX]
        si[V_ASK_SZ] = ring[k, FR_ASK_SZ]
        if ring[k, FR_TRADE_SZ] > 0:
            si[V_TRADE_PX] = ring[k, FR_TRADE_PX]
            si[V_TRADE_SZ] = ring[k, FR_TRADE_SZ]
            si[V_TRADE_AGGR] = ring[k, FR_TRADE_AGGR]
        si[V_SEQ] = ring[k, FR_SEQ]
        si[V_EXCH_T] = ring[k, FR_EXCH_T]
        if one:
            break


@kjit
def _record_equity(si, sf, cf, ts, out_et, out_ef):
    r = si[S_NE]
    mid = si[S_MID2] * 0.5e-9
    units = si[S_POS] * cf[CF_SIZE_UNIT]
    out_et[r] = ts
    out_ef[r, 0] = units
    out_ef[r, 1] = sf[F_CASH]
    out_ef[r, 2] = mid
    out_ef[r, 3] = sf[F_CASH] + units * cf[CF_MULT] * mid
    si[S_NE] = r + 1
    si[S_DIRTY] = 1


@kjit(inline="always")
def _exchange_clock(si, sf, ci, cf, ts, out_et, out_ef, out_m, mk_t, mk_g):
    """The exchange clock moves to ``ts``: write the equity rows and markout mids that fall before it
    (they see the state as of just before anything at ``ts`` happens)."""
    eq_ns = ci[C_EQ_NS]
    if eq_ns > 0:
        if si[S_NEXT_EQ] == 0:
            si[S_NEXT_EQ] = (ts // eq_ns) * eq_ns
        if ts > si[S_NEXT_EQ]:
            if si[S_MID2] > 0:
                _record_equity(si, sf, cf, si[S_NEXT_EQ], out_et, out_ef)
            si[S_NEXT_EQ] += ((ts - si[S_NEXT_EQ] + eq_ns - 1) // eq_ns) * eq_ns
    mk_cap = mk_t.shape[1]
    for h in range(ci[C_NHOR]):
        while si[S_MKT + h] > si[S_MKH + h]:
            k = si[S_MKH + h] & (mk_cap - 1)
            if mk_t[h, k] >= ts:
                break
            r = si[S_NM]
            out_m[r, 0] = mk_g[h, k]
            out_m[r, 1] = h
            out_m[r, 2] = si[S_MID2] * 0.5e-9
            si[S_NM] = r + 1
            si[S_MKH + h] += 1
            si[S_DIRTY] = 1


# ------------------------------------------------------------------------------------------------------
# the loop
# ------------------------------------------------------------------------------------------------------


@kjit
def run_chunk(
    ev_ts,
    ev_local,
    ev_seq,
    ev_kind,
    ev_side,
    ev_action,
    ev_px,
    ev_sz,
    ev_oid,
    ev_last,
    start,
    final,
    ci,
    cf,
    si,
    sf,
    book,
    oi,
    of,
    rest,
    free,
    scratch,
    req,
    resp,
    ring,
    rate,
    mk_t,
    mk_g,
    out_o,
    out_fi,
    out_ff,
    out_et,
    out_ef,
    out_m,
    pred_t,
    pred_v,
    cur_pred,
    params,
    sstate,
    script,
    act,
    fifo_tab,
):
    """Replay events ``start..`` of one chunk. Returns ``(next_index, return_code)`` (``RC_*``).

    ``final`` marks the last chunk: the loop then drains in-flight requests and responses, lets the
    strategy's timer run up to the last local event time, flattens if configured, and returns
    ``RC_FINISHED``.
    """
    n = ev_ts.shape[0]
    i = start
    ring_mask = ring.shape[0] - 1
    resp_cap = resp.shape[0]
    mk_cap = mk_t.shape[1]
    nhor = ci[C_NHOR]
    wake_ns = ci[C_WAKE_NS]
    every = ci[C_EVERY_EVENT] == 1
    is_script = ci[C_STRAT] == STRAT_SCRIPT
    half_o = out_o.shape[0] // 2
    half_f = out_fi.shape[0] // 2
    half_e = out_et.shape[0] // 2
    half_m = out_m.shape[0] // 2
    si[S_DIRTY] = 1
    while True:
        if si[S_RING_T] - si[S_RING_H] >= ring_mask:
            return i, RC_GROW_RING
        if si[S_DIRTY] != 0:
            # capacities are re-checked only after something was written (orders, fills, responses,
            # equity rows, markouts, order ids); each check leaves half of every buffer free
            si[S_DIRTY] = 0
            if si[S_NO] >= half_o or si[S_NF] >= half_f or si[S_NE] >= half_e or si[S_NM] >= half_m:
                si[S_DIRTY] = 1
                return i, RC_FLUSH
            if si[S_RESP_T] - si[S_RESP_H] >= resp_cap // 2:
                si[S_DIRTY] = 1
                return i, RC_GROW_RESP
            for h in range(nhor):
                if si[S_MKT + h] - si[S_MKH + h] >= mk_cap // 2:
                    si[S_DIRTY] = 1
                    return i, RC_GROW_MK
            if ci[C_QUEUE] == 2 and si[S_FIFO_USED] * 2 >= fifo_tab.shape[1]:
                si[S_DIRTY] = 1
                return i, RC_GROW_FIFO
        if i >= n and not final:
            return i, RC_NEED_DATA
        t_ex = ev_ts[i] if i < n else INF
        t_rq = si[S_REQ_MIN] if si[S_NREQ] > 0 else INF
        t_rs = resp[si[S_RESP_H] & (resp_cap - 1), RS_T] if si[S_RESP_T] > si[S_RESP_H] else INF
        # with a timer only, the view is brought up to date lazily (at each event and wake), not as a
        # happening of its own: nothing but the strategy reads it
        t_lo = ring[si[S_RING_H] & ring_mask, FR_T] if every and si[S_RING_T] > si[S_RING_H] else INF
        t_tm = si[S_NEXT_WAKE] if wake_ns > 0 and si[S_LAST_LOCAL] > 0 else INF
        t_sc = INF
        if is_script and si[S_SCRIPT_PTR] < script.shape[0]:
            t_sc = script[si[S_SCRIPT_PTR], 0]
        t_wk = t_tm if t_tm < t_sc else t_sc
        if i >= n and t_wk > si[S_LAST_LOCAL]:
            t_wk = INF  # no timer beyond the end of the data
        if t_ex <= t_rq and t_ex <= t_rs and t_ex <= t_lo and t_ex <= t_wk:
            if t_ex == INF:
                break
            ts = t_ex
            _exchange_clock(si, sf, ci, cf, ts, out_et, out_ef, out_m, mk_t, mk_g)
            if ev_kind[i] == EV_DELTA:
                _apply_delta(
                    si,
                    sf,
                    ci,
                    cf,
                    book,
                    oi,
                    of,
                    rest,
                    scratch,
                    ev_side[i],
                    ev_action[i],
                    ev_px[i],
                    ev_sz[i],
                    ev_oid[i],
                    ts,
                    resp,
                    out_o,
                    out_fi,
                    out_ff,
                    mk_t,
                    mk_g,
                    fifo_tab,
                )
            else:
                si[S_STG_TPX] = ev_px[i]  # published to the strategy with the feed ring
                si[S_STG_TSZ] = ev_sz[i]
                si[S_STG_TAGGR] = ev_side[i]
                _apply_trade(
                    si,
                    sf,
                    ci,
                    cf,
                    book,
                    oi,
                    of,
                    rest,
                    scratch,
                    ev_side[i],
                    ev_px[i],
                    ev_sz[i],
                    ev_action[i],
                    ts,
                    resp,
                    out_o,
                    out_fi,
                    out_ff,
                    mk_t,
                    mk_g,
                )
            _update_mid(si, ci)
            si[S_LAST_TS] = ts
            si[S_NEVENTS] += 1
            if not every and si[S_RING_T] > si[S_RING_H]:
                _pop_view(si, ring, ts, False)
            if ev_last[i] == 1:
                k = si[S_RING_T] & ring_mask
                lt = ev_local[i]
                ring[k, FR_T] = lt
                bb = si[S_BB]
                ba = si[S_BA]
                if bb >= 0:
                    ring[k, FR_BID_PX] = _px(si, ci, bb)
                    ring[k, FR_BID_SZ] = book[B_BID, bb]
                else:
                    ring[k, FR_BID_PX] = NO_PRICE
                    ring[k, FR_BID_SZ] = 0
                if ba < ci[C_NT]:
                    ring[k, FR_ASK_PX] = _px(si, ci, ba)
                    ring[k, FR_ASK_SZ] = book[B_ASK, ba]
                else:
                    ring[k, FR_ASK_PX] = NO_PRICE
                    ring[k, FR_ASK_SZ] = 0
                if si[S_STG_TSZ] > 0:
                    ring[k, FR_TRADE_PX] = si[S_STG_TPX]
                    ring[k, FR_TRADE_SZ] = si[S_STG_TSZ]
                    ring[k, FR_TRADE_AGGR] = si[S_STG_TAGGR]
                    si[S_STG_TSZ] = 0
                else:
                    ring[k, FR_TRADE_PX] = NO_PRICE
                    ring[k, FR_TRADE_SZ] = 0
                    ring[k, FR_TRADE_AGGR] = 0
                ring[k, FR_SEQ] = ev_seq[i]
                ring[k, FR_EXCH_T] = ts
                si[S_RING_T] += 1
                if si[S_LAST_LOCAL] == 0 and wake_ns > 0:
                    si[S_NEXT_WAKE] = ((lt + wake_ns - 1) // wake_ns) * wake_ns
                if lt > si[S_LAST_LOCAL]:
                    si[S_LAST_LOCAL] = lt
            i += 1
        elif t_rq <= t_rs and t_rq <= t_lo and t_rq <= t_wk:
            # earliest arrival; on ties the first sent. Remove it by shifting (the list is short).
            r = -1
            for q in range(si[S_NREQ]):
                if req[q, RQ_T] == t_rq and (r < 0 or req[q, RQ_NO] < req[r, RQ_NO]):
                    r = q
            last = si[S_NREQ] - 1
            for q in range(r, last):
                for c in range(req.shape[1]):
                    tmp = req[q, c]
                    req[q, c] = req[q + 1, c]
                    req[q + 1, c] = tmp
            si[S_NREQ] = last
            _req_min(si, req)
            _exchange_clock(si, sf, ci, cf, t_rq, out_et, out_ef, out_m, mk_t, mk_g)
            _exch_request(
                si, sf, ci, cf, book, oi, of, rest, req, last, t_rq, resp, out_o, out_fi, out_ff, mk_t, mk_g
            )
        elif t_rs <= t_lo and t_rs <= t_wk:
            _local_response(si, oi, free, resp)
        elif t_lo <= t_wk:
            _pop_view(si, ring, t_lo, True)
            if every:
                _call_strategy(
                    si,
                    sf,
                    ci,
                    cf,
                    oi,
                    of,
                    free,
                    req,
                    rate,
                    out_o,
                    t_lo,
                    pred_t,
                    pred_v,
                    cur_pred,
                    params,
                    sstate,
                    script,
                    act,
                )
        else:
            if t_wk == t_tm:
                si[S_NEXT_WAKE] = t_tm + wake_ns
            si[S_NWAKES] += 1
            if not every:
                _pop_view(si, ring, t_wk, False)
            _call_strategy(
                si,
                sf,
                ci,
                cf,
                oi,
                of,
                free,
                req,
                rate,
                out_o,
                t_wk,
                pred_t,
                pred_v,
                cur_pred,
                params,
                sstate,
                script,
                act,
            )
    # ---- end of the stream ----
    if si[S_DONE] == 0:
        t_end = si[S_LAST_TS]
        if ci[C_FLATTEN] == 1:
            r = si[S_NREST] - 1
            while r >= 0:
                _finish(si, ci, oi, rest, rest[r], t_end, ST_CANCELLED, resp, out_o)
                r -= 1
            if si[S_POS] != 0 and si[S_NFREE] > 0:
                si[S_NFREE] -= 1
                slot = free[si[S_NFREE]]
                if slot >= si[S_HWM]:
                    si[S_HWM] = slot + 1
                for c in range(oi.shape[1]):
                    oi[slot, c] = 0
                oid = si[S_NEXT_OID]
                si[S_NEXT_OID] = oid + 1
                qty = abs(si[S_POS])
                oi[slot, O_INUSE] = 1
                oi[slot, O_OID] = oid
                oi[slot, O_SIDE] = -1 if si[S_POS] > 0 else 1
                oi[slot, O_TYPE] = OT_MARKET
                oi[slot, O_TIF] = TIF_IOC
                oi[slot, O_PRICE] = NO_PRICE
                oi[slot, O_SIZE] = qty
                oi[slot, O_TS_SUBMIT] = t_end
                oi[slot, O_TS_EXCH] = t_end
                _execute_incoming(
                    si, sf, ci, cf, book, oi, of, rest, slot, t_end, resp, out_o, out_fi, out_ff, mk_t, mk_g
                )
                si[S_FLAT_SHORT] = qty - oi[slot, O_FILLED]
        # orders still open (or never reached the exchange) at the end
        for k in range(oi.shape[0]):
            if oi[k, O_INUSE] == 1 and (oi[k, O_STATUS] == ST_OPEN or oi[k, O_STATUS] == ST_PENDING):
                oi[k, O_STATUS] = ST_OPEN
                oi[k, O_TS_DONE] = -1
                _write_order(si, oi, k, out_o)
                if oi[k, O_RESTING] == 1:
                    _rest_remove(si, oi, rest, k)
                oi[k, O_INUSE] = 0
        if si[S_MID2] > 0:
            _record_equity(si, sf, cf, t_end, out_et, out_ef)
        si[S_DONE] = 1
    return i, RC_FINISHED
