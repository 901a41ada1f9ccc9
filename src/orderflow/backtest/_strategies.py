"""Built-in strategies, written as numba functions over the kernel's state arrays.

The strategy interface
----------------------
A strategy is a function ``step(t, si, oi, cur_pred, params, sstate, script, act, ci) -> n_actions``
called on the **strategy clock** (local time ``t``, ns UTC): on a timer (``wake_interval_ns``), on
every market event the strategy sees (``every_event``), or both. It may read only what the strategy
could know at ``t``:

* the market view ``si[V_BID_PX]``, ``si[V_BID_SZ]``, ``si[V_ASK_PX]``, ``si[V_ASK_SZ]`` (best levels,
  1e-9 price units / size units, as of the last event the strategy has *seen*, i.e. delayed by feed
  latency), ``si[V_TRADE_PX]``, ``si[V_TRADE_SZ]``, ``si[V_TRADE_AGGR]`` (last trade seen),
  ``si[V_SEQ]``, ``si[V_EXCH_T]``;
* its position as acknowledged by the exchange, ``si[S_POS_SEEN]`` (size units, delayed by response
  latency);
* its order slots ``oi[k]`` where ``oi[k, O_INUSE] == 1``, through the *seen* columns only:
  ``O_OID, O_SIDE, O_TYPE, O_TIF, O_SEEN_PRICE, O_SEEN_SIZE, O_SEEN_FILLED, O_SEEN_STATUS`` (-1 sent and
  not yet acknowledged, 0 open) and the flags ``O_CXL_SENT`` / ``O_MOD_SENT`` it set itself;
* ``cur_pred[0]``: the time the current prediction became available (-1: none yet) and
  ``cur_pred[1:]``: its values (the PREDICTIONS columns the config selects, as-of the strategy clock);
* ``params`` (float64, read-only) and ``sstate`` (float64, its own scratch state, carried across chunks).

It writes up to ``MAX_ACTIONS`` rows into ``act`` (int64, columns ``AC_*``): submit
(``A_SUBMIT, side, order_type, tif, price, size``), cancel (``A_CANCEL, .., oid``) or modify
(``A_MODIFY, .., price, size, oid``), and returns how many it wrote. The kernel applies pre-trade risk
limits, stamps order ids (consecutive from 1, in submit order) and sends them with entry latency.
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
    C_TICK,
    MAX_ACTIONS,
    NO_PRICE,
    O_CXL_SENT,
    O_INUSE,
    O_MOD_SENT,
    O_OID,
    O_SEEN_FILLED,
    O_SEEN_PRICE,
    O_SEEN_SIZE,
    O_SEEN_STATUS,
    O_SIDE,
    OT_LIMIT,
    OT_MARKET,
    S_HWM,
    S_POS_SEEN,
    S_SCRIPT_PTR,
    S_SEEN_VER,
    TIF_IOC,
    TIF_POST,
    V_ASK_PX,
    V_ASK_SZ,
    V_BID_PX,
    V_BID_SZ,
)

# --- quantile taker: parameter layout -----------------------------------------------------------------
TK_LONG_ENTRY = 0  # enter long when q_lo > long_entry
TK_LONG_EXIT = 1  # leave a long when q_lo < long_exit
TK_SHORT_ENTRY = 2  # enter short when q_hi < -short_entry
TK_SHORT_EXIT = 3  # leave a short when q_hi > -short_exit
TK_MAX_POS = 4  # size units
TK_ORDER_SIZE = 5  # size units per order
TK_IOC_SLIP_TICKS = 6  # < 0: market orders; >= 0: IOC limit at touch +- this many ticks
TK_MAX_AGE_NS = 7  # predictions older than this are ignored (0: no limit)
TK_N = 8

# --- market maker: parameter layout -------------------------------------------------------------------
MM_HALF_SPREAD_TICKS = 0
MM_SKEW_TICKS = 1  # reservation price shift in ticks per order_size of inventory
MM_ORDER_SIZE = 2
MM_MAX_POS = 3
MM_REQUOTE_TICKS = 4  # move a quote only when the target moved at least this many ticks
MM_USE_MODIFY = 5  # 1: modify (loses priority when the price changes); 0: cancel and re-submit
MM_N = 6


@jit(_nrt=False)
def _live_pending(si: np.ndarray, oi: np.ndarray) -> int:
    n = 0
    for k in range(si[S_HWM]):
        if oi[k, O_INUSE] == 1 and oi[k, O_SEEN_STATUS] <= 0:
            n += 1
    return n


@jit(_nrt=False, inline="always")
def taker_step(t, si, oi, cur_pred, params, sstate, script, act, ci):
    """Quantile-driven taker: target position from the prediction's low/high quantiles.

    With ``lo = cur_pred[1]`` (e.g. ``q_05`` of the forward return) and ``hi = cur_pred[2]`` (e.g.
    ``q_95``): go long ``max_pos`` when ``lo > long_entry`` (even the pessimistic quantile is above
    the threshold), short when ``hi < -short_entry``; hysteresis exits at ``long_exit``/``short_exit``.
    Thresholds are in the prediction's units (e.g. bps of mid return) and may differ per side. Only one
    order is in flight at a time; it is a market order or an IOC limit ``slip`` ticks through the touch.
    """
    if cur_pred[0] < 0:
        return 0
    age = params[TK_MAX_AGE_NS]
    if age > 0 and t - cur_pred[0] > age:
        return 0
    lo = cur_pred[1]
    hi = cur_pred[2]
    if lo != lo or hi != hi:
        return 0
    pos = si[S_POS_SEEN]
    max_pos = int(params[TK_MAX_POS])
    target = pos
    if pos > 0:
        target = max_pos if lo >= params[TK_LONG_EXIT] else 0
    elif pos < 0:
        target = -max_pos if hi <= -params[TK_SHORT_EXIT] else 0
    if target == 0 or pos == 0:
        if lo > params[TK_LONG_ENTRY]:
            target = max_pos
        elif hi < -params[TK_SHORT_ENTRY]:
            target = -max_pos
    if target == pos:
        return 0
    if _live_pending(si, oi) > 0:
        return 0
    delta = target - pos
    side = 1 if delta > 0 else -1
    qty = abs(delta)
    osz = int(params[TK_ORDER_SIZE])
    if osz > 0 and qty > osz:
        qty = osz
    act[0, AC_KIND] = A_SUBMIT
    act[0, AC_SIDE] = side
    act[0, AC_SIZE] = qty
    slip = params[TK_IOC_SLIP_TICKS]
    if slip < 0:
        act[0, AC_TYPE] = OT_MARKET
        act[0, AC_TIF] = TIF_IOC
        act[0, AC_PRICE] = NO_PRICE
    else:
        touch = si[V_ASK_PX] if side == 1 else si[V_BID_PX]
        if touch == NO_PRICE:
            return 0
        act[0, AC_TYPE] = OT_LIMIT
        act[0, AC_TIF] = TIF_IOC
        act[0, AC_PRICE] = touch + side * int(slip) * ci[C_TICK]
    return 1


@jit(_nrt=False, inline="always")
def mm_step(t, si, oi, cur_pred, params, sstate, script, act, ci):
    """Reference market maker: one post-only quote per side around the microprice, skewed by inventory.

    ``micro = (bid*ask_sz + ask*bid_sz) / (bid_sz + ask_sz)``; reservation
    ``r = micro - skew_ticks * tick * position / order_size``; bid ``floor(r - h*tick)``, ask
    ``ceil(r + h*tick)`` on the tick grid, never through the opposite touch. A side whose fill would
    take |position| beyond ``max_pos`` is not quoted (its quote is cancelled).
    """
    bpx = si[V_BID_PX]
    apx = si[V_ASK_PX]
    bsz = si[V_BID_SZ]
    asz = si[V_ASK_SZ]
    if bpx == NO_PRICE or apx == NO_PRICE or bsz <= 0 or asz <= 0 or bpx >= apx:
        return 0
    tick = ci[C_TICK]
    osz = int(params[MM_ORDER_SIZE])
    max_pos = int(params[MM_MAX_POS])
    pos = si[S_POS_SEEN]
    micro = (bpx * float(asz) + apx * float(bsz)) / float(asz + bsz)
    r = micro - params[MM_SKEW_TICKS] * tick * (pos / max(osz, 1))
    h = params[MM_HALF_SPREAD_TICKS] * tick
    want_bid = math.floor((r - h) / tick) * tick
    want_ask = math.ceil((r + h) / tick) * tick
    if want_bid > apx - tick:
        want_bid = apx - tick
    if want_ask < bpx + tick:
        want_ask = bpx + tick
    # same targets, position and own orders as last time: same decision, nothing to do
    if sstate[0] == want_bid and sstate[1] == want_ask and sstate[2] == pos and sstate[3] == si[S_SEEN_VER]:
        return 0
    sstate[0] = want_bid
    sstate[1] = want_ask
    sstate[2] = pos
    sstate[3] = si[S_SEEN_VER]
    n = 0
    requote = int(params[MM_REQUOTE_TICKS]) * tick
    for side in (1, -1):
        want = want_bid if side == 1 else want_ask
        allowed = abs(pos + side * osz) <= max_pos if max_pos > 0 else True
        have = -1
        for k in range(si[S_HWM]):
            if (
                oi[k, O_INUSE] == 1
                and oi[k, O_SIDE] == side
                and oi[k, O_SEEN_STATUS] <= 0
                and oi[k, O_CXL_SENT] == 0
            ):
                if have < 0:
                    have = k
                elif n < MAX_ACTIONS:  # duplicates: keep one quote per side
                    act[n, AC_KIND] = A_CANCEL
                    act[n, AC_OID] = oi[k, O_OID]
                    n += 1
        if have >= 0:
            if not allowed:
                act[n, AC_KIND] = A_CANCEL
                act[n, AC_OID] = oi[have, O_OID]
                n += 1
            elif oi[have, O_MOD_SENT] == 0 and abs(oi[have, O_SEEN_PRICE] - want) >= max(requote, 1):
                if params[MM_USE_MODIFY] > 0 and oi[have, O_SEEN_STATUS] == 0:
                    act[n, AC_KIND] = A_MODIFY
                    act[n, AC_OID] = oi[have, O_OID]
                    act[n, AC_PRICE] = want
                    act[n, AC_SIZE] = oi[have, O_SEEN_SIZE]
                    n += 1
                else:
                    act[n, AC_KIND] = A_CANCEL
                    act[n, AC_OID] = oi[have, O_OID]
                    n += 1
            elif oi[have, O_SEEN_FILLED] >= oi[have, O_SEEN_SIZE]:
                pass
        elif allowed:
            act[n, AC_KIND] = A_SUBMIT
            act[n, AC_SIDE] = side
            act[n, AC_TYPE] = OT_LIMIT
            act[n, AC_TIF] = TIF_POST
            act[n, AC_PRICE] = want
            act[n, AC_SIZE] = osz
            n += 1
    return n


@jit(_nrt=False, inline="always")
def script_step(t, si, oi, cur_pred, params, sstate, script, act, ci):
    """Replay a fixed action list: ``script[k] = (t_local, kind, side, type, tif, price, size, oid)``.

    Rows are emitted when the strategy clock reaches their time (the kernel wakes the strategy exactly
    at each row's time). Used by the hand-worked tests and by the random property tests.
    """
    n = 0
    p = si[S_SCRIPT_PTR]
    while p < script.shape[0] and script[p, 0] <= t and n < MAX_ACTIONS:
        for c in range(7):
            act[n, c] = script[p, c + 1]
        n += 1
        p += 1
    si[S_SCRIPT_PTR] = p
    return n
