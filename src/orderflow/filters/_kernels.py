"""Sequential filter kernels (numba; the plain-Python twin of each is ``kernel.py_func``).

All inputs are contiguous numpy arrays in event (``seq``) order. Events are indexed 0..n-1; delta
and trade rows of event i are ``[d_lo[i], d_hi[i])`` and ``[t_lo[i], t_hi[i])``.
"""

from __future__ import annotations

import numpy as np

from orderflow._numba import jit

STALE_NONE = 0
STALE_CATCH_UP = 1
STALE_SIDE = 2
STALE_HEARTBEAT = 3


@jit
def stale_kernel(
    ts: np.ndarray,
    bid_upd: np.ndarray,
    ask_upd: np.ndarray,
    unm_bid: np.ndarray,
    unm_ask: np.ndarray,
    min_age_ns: int,
    min_other: int,
    min_unmatched: int,
    heartbeat_ns: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per event: (reason code, side code +1/-1/0, age of the stale side in ns).

    State per side: time of its last update, messages updating the other side since then, regular
    trades that hit it without a level update since then. An update of a side whose state says
    "stale" is a ``catch_up``; other events while a side is stale are ``stale_side``; with
    ``heartbeat_ns > 0`` a side older than it is ``heartbeat``. A side counts only after its first
    update (no age before the first quote).
    """
    n = ts.shape[0]
    reason = np.zeros(n, np.int8)
    side_out = np.zeros(n, np.int8)
    age_out = np.zeros(n, np.int64)
    last = np.zeros(2, np.int64)
    seen = np.zeros(2, np.bool_)
    other = np.zeros(2, np.int64)
    unm = np.zeros(2, np.int64)
    for i in range(n):
        t = ts[i]
        for s in range(2):
            upd = bid_upd[i] if s == 0 else ask_upd[i]
            upd_other = ask_upd[i] if s == 0 else bid_upd[i]
            hits = unm_bid[i] if s == 0 else unm_ask[i]
            code = 1 if s == 0 else -1
            if upd:
                if seen[s]:
                    age = t - last[s]
                    if age >= min_age_ns and (other[s] >= min_other or unm[s] >= min_unmatched):
                        reason[i] = STALE_CATCH_UP
                        side_out[i] = code
                        age_out[i] = age
                seen[s] = True
                last[s] = t
                other[s] = 0
                unm[s] = 0
            else:
                if upd_other:
                    other[s] += 1
                unm[s] += hits
                if seen[s] and reason[i] == STALE_NONE:
                    age = t - last[s]
                    if age >= min_age_ns and (other[s] >= min_other or unm[s] >= min_unmatched):
                        reason[i] = STALE_SIDE
                        side_out[i] = code
                        age_out[i] = age
                    elif heartbeat_ns > 0 and age >= heartbeat_ns:
                        reason[i] = STALE_HEARTBEAT
                        side_out[i] = code
                        age_out[i] = age
    return reason, side_out, age_out


@jit
def flicker_kernel(
    key: np.ndarray,
    n_keys: int,
    action: np.ndarray,
    size: np.ndarray,
    flags: np.ndarray,
    ts: np.ndarray,
    window_ns: int,
    min_flips: int,
) -> np.ndarray:
    """Rows that belong to a run of >= ``min_flips`` size reversals at one (side, price) key.

    ``key`` is a dense id 0..n_keys-1 per (side, price). The size change of a row is ``+size`` (ADD),
    ``-size`` (REDUCE) or ``size - previous level size`` (SET, absolute); a flip is a non-zero change
    equal to minus the previous change at the key, at most ``window_ns`` later. EXECUTE, CLEAR and
    snapshot rows end the run (EXECUTE/SET still update the tracked level size).
    """
    n = key.shape[0]
    mark = np.zeros(n, np.bool_)
    prev_row = np.full(n, -1, np.int64)
    last_row = np.full(n_keys, -1, np.int64)
    last_change = np.zeros(n_keys, np.int64)
    last_ts = np.zeros(n_keys, np.int64)
    level = np.zeros(n_keys, np.int64)
    run = np.zeros(n_keys, np.int64)
    for r in range(n):
        a = action[r]
        if a == 5:  # CLEAR: forget everything (levels are gone)
            for k in range(n_keys):
                level[k] = 0
                run[k] = 0
                last_row[k] = -1
                last_change[k] = 0
            continue
        k = key[r]
        if a == 1:
            change = size[r]
            level[k] += change
        elif a == 2:
            change = -size[r]
            level[k] -= size[r]
        elif a == 4:
            change = size[r] - level[k]
            level[k] = size[r]
        else:  # EXECUTE or unknown
            level[k] -= size[r]
            change = 0
        if (flags[r] & 32) != 0:
            change = 0
        prev_row[r] = last_row[k]
        if change != 0 and last_row[k] >= 0 and last_change[k] == -change and ts[r] - last_ts[k] <= window_ns:
            run[k] += 1
        else:
            run[k] = 0
        if run[k] >= min_flips:
            mark[r] = True
            if run[k] == min_flips:
                j = prev_row[r]
                for _ in range(min_flips):
                    if j < 0:
                        break
                    mark[j] = True
                    j = prev_row[j]
        last_row[k] = r
        last_change[k] = change
        last_ts[k] = ts[r]
    return mark


@jit
def flicker_scan(
    key: np.ndarray,
    n_keys: int,
    action: np.ndarray,
    size: np.ndarray,
    flags: np.ndarray,
    ts: np.ndarray,
    window_ns: int,
    min_flips: int,
    level: np.ndarray,
    run: np.ndarray,
    last_change: np.ndarray,
    last_ts: np.ndarray,
    last_row: np.ndarray,
    save_at: int,
    saved: np.ndarray,
) -> np.ndarray:
    """:func:`flicker_kernel` with its per-key state passed in and carried out, written for speed.

    ``level``, ``run``, ``last_change``, ``last_ts``, ``last_row`` (length ``n_keys``) are the state
    at the first row, updated in place; ``last_row`` is -1 for a key never changed, -2 for one last
    changed before these rows (a flip still counts; the run's earlier rows are not marked here), else
    the row. Just before row ``save_at`` (or after the last row when ``save_at`` equals the row
    count), the five arrays are copied into the rows of ``saved`` (shape (5, n_keys)). With fresh
    state (level, run, change, ts 0; last_row -1) the output equals :func:`flicker_kernel`'s.

    The action of a row (a coin flip for the branch predictor) selects its size change
    arithmetically; only CLEAR (rare) and a completed run (rare) branch."""
    n = key.shape[0]
    mark = np.zeros(n, np.bool_)
    prev_row = np.empty(n, np.int64)
    for r in range(n + 1):
        if r == save_at:
            for k in range(n_keys):
                saved[0, k] = level[k]
                saved[1, k] = run[k]
                saved[2, k] = last_change[k]
                saved[3, k] = last_ts[k]
                saved[4, k] = last_row[k]
        if r == n:
            break
        a = action[r]
        if a == 5:  # CLEAR: forget everything (levels are gone)
            prev_row[r] = -1
            for k in range(n_keys):
                level[k] = 0
                run[k] = 0
                last_row[k] = -1
                last_change[k] = 0
            continue
        k = key[r]
        q = size[r]
        lv = level[k]
        is_add = np.int64(a == 1)
        is_set = np.int64(a == 4)
        is_less = 1 - is_add - is_set  # REDUCE, EXECUTE (or unknown): the level loses q
        # ADD +q, REDUCE -q, SET q - level, EXECUTE 0; snapshot rows (flag 32) change nothing
        change = is_add * q - np.int64(a == 2) * q + is_set * (q - lv)
        change *= np.int64((flags[r] & 32) == 0)
        level[k] = is_set * q + (1 - is_set) * (lv + is_add * q - is_less * q)
        lr = last_row[k]
        prev_row[r] = lr
        flip = (change != 0) & (lr != -1) & (last_change[k] == -change) & (ts[r] - last_ts[k] <= window_ns)
        rk = (run[k] + 1) * np.int64(flip)
        run[k] = rk
        if rk >= min_flips:
            mark[r] = True
            if rk == min_flips:
                j = lr
                for _ in range(min_flips):
                    if j < 0:
                        break
                    mark[j] = True
                    j = prev_row[j]
        last_row[k] = r
        last_change[k] = change
        last_ts[k] = ts[r]
    return mark


@jit
def stale_scan(
    ts: np.ndarray,
    bid_upd: np.ndarray,
    ask_upd: np.ndarray,
    unm_bid: np.ndarray,
    unm_ask: np.ndarray,
    min_age_ns: int,
    min_other: int,
    min_unmatched: int,
    heartbeat_ns: int,
    state: np.ndarray,
    save_at: int,
    saved: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`stale_kernel` with its state passed in and carried out (same outputs from the zero
    state). ``state`` (int64[8], updated in place): seen, last update time, other-side updates since,
    unmatched hits since, for the bid then the ask (``[seen_b, seen_a, last_b, last_a, other_b,
    other_a, unm_b, unm_a]``). Just before event ``save_at`` (after the last when it equals the
    event count) the state is copied into ``saved``."""
    n = ts.shape[0]
    reason = np.zeros(n, np.int8)
    side_out = np.zeros(n, np.int8)
    age_out = np.zeros(n, np.int64)
    seen = state[0:2].copy()
    last = state[2:4].copy()
    other = state[4:6].copy()
    unm = state[6:8].copy()
    for i in range(n + 1):
        if i == save_at:
            for s in range(2):
                saved[s] = seen[s]
                saved[2 + s] = last[s]
                saved[4 + s] = other[s]
                saved[6 + s] = unm[s]
        if i == n:
            break
        t = ts[i]
        for s in range(2):
            upd = bid_upd[i] if s == 0 else ask_upd[i]
            upd_other = ask_upd[i] if s == 0 else bid_upd[i]
            hits = unm_bid[i] if s == 0 else unm_ask[i]
            code = 1 if s == 0 else -1
            if upd:
                if seen[s] != 0:
                    age = t - last[s]
                    if age >= min_age_ns and (other[s] >= min_other or unm[s] >= min_unmatched):
                        reason[i] = STALE_CATCH_UP
                        side_out[i] = code
                        age_out[i] = age
                seen[s] = 1
                last[s] = t
                other[s] = 0
                unm[s] = 0
            else:
                if upd_other:
                    other[s] += 1
                unm[s] += hits
                if seen[s] != 0 and reason[i] == STALE_NONE:
                    age = t - last[s]
                    if age >= min_age_ns and (other[s] >= min_other or unm[s] >= min_unmatched):
                        reason[i] = STALE_SIDE
                        side_out[i] = code
                        age_out[i] = age
                    elif heartbeat_ns > 0 and age >= heartbeat_ns:
                        reason[i] = STALE_HEARTBEAT
                        side_out[i] = code
                        age_out[i] = age
    for s in range(2):
        state[s] = seen[s]
        state[2 + s] = last[s]
        state[4 + s] = other[s]
        state[6 + s] = unm[s]
    return reason, side_out, age_out


@jit
def duplicate_kernel(
    ts: np.ndarray,
    d_lo: np.ndarray,
    d_hi: np.ndarray,
    t_lo: np.ndarray,
    t_hi: np.ndarray,
    d_side: np.ndarray,
    d_action: np.ndarray,
    d_price: np.ndarray,
    d_size: np.ndarray,
    d_oid: np.ndarray,
    d_flags: np.ndarray,
    t_price: np.ndarray,
    t_size: np.ndarray,
    t_aggr: np.ndarray,
    t_oid: np.ndarray,
    max_lag: int,
) -> np.ndarray:
    """Per event: index of an earlier identical event (same ts_event and rows) or -1.

    Looks back at most ``max_lag`` events while ``ts_event`` is equal; rows are compared exactly in
    order. Events holding snapshot rows (flag 32) are never duplicates.
    """
    n = ts.shape[0]
    out = np.full(n, -1, np.int64)
    for i in range(n):
        nd = d_hi[i] - d_lo[i]
        nt = t_hi[i] - t_lo[i]
        if nd + nt == 0:
            continue
        if nd > 0 and (d_flags[d_lo[i]] & 32) != 0:
            continue
        j = i - 1
        lag = 0
        while j >= 0 and lag < max_lag and ts[j] == ts[i]:
            lag += 1
            if d_hi[j] - d_lo[j] == nd and t_hi[j] - t_lo[j] == nt:
                same = True
                for q in range(nd):
                    a = d_lo[i] + q
                    b = d_lo[j] + q
                    if (
                        d_side[a] != d_side[b]
                        or d_action[a] != d_action[b]
                        or d_price[a] != d_price[b]
                        or d_size[a] != d_size[b]
                        or d_oid[a] != d_oid[b]
                    ):
                        same = False
                        break
                if same:
                    for q in range(nt):
                        a = t_lo[i] + q
                        b = t_lo[j] + q
                        if (
                            t_price[a] != t_price[b]
                            or t_size[a] != t_size[b]
                            or t_aggr[a] != t_aggr[b]
                            or t_oid[a] != t_oid[b]
                        ):
                            same = False
                            break
                if same:
                    out[i] = j
                    break
            j -= 1
    return out


@jit
def index_events(
    dseq: np.ndarray, tseq: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge two sorted seq columns: (event seqs, d_lo, d_hi, t_lo, t_hi) in one pass."""
    nd = dseq.shape[0]
    nt = tseq.shape[0]
    seq = np.empty(nd + nt, np.int64)
    d_lo = np.empty(nd + nt, np.int64)
    d_hi = np.empty(nd + nt, np.int64)
    t_lo = np.empty(nd + nt, np.int64)
    t_hi = np.empty(nd + nt, np.int64)
    i = 0
    j = 0
    n = 0
    while i < nd or j < nt:
        if j >= nt or (i < nd and dseq[i] <= tseq[j]):
            s = dseq[i]
        else:
            s = tseq[j]
        seq[n] = s
        d_lo[n] = i
        while i < nd and dseq[i] == s:
            i += 1
        d_hi[n] = i
        t_lo[n] = j
        while j < nt and tseq[j] == s:
            j += 1
        t_hi[n] = j
        n += 1
    return seq[:n], d_lo[:n], d_hi[:n], t_lo[:n], t_hi[:n]


@jit
def event_counts(
    d_lo: np.ndarray,
    d_hi: np.ndarray,
    t_lo: np.ndarray,
    t_hi: np.ndarray,
    d_side: np.ndarray,
    t_size: np.ndarray,
    t_aggr: np.ndarray,
    t_kind: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per event: bid rows, ask rows, traded volume, non-regular trades, and the regular trades hitting
    the bid (seller-initiated) / the ask (buyer-initiated) in a message with no row on that side."""
    n = d_lo.shape[0]
    bid = np.zeros(n, np.int64)
    ask = np.zeros(n, np.int64)
    vol = np.zeros(n, np.int64)
    nonreg = np.zeros(n, np.int64)
    unm_bid = np.zeros(n, np.int64)
    unm_ask = np.zeros(n, np.int64)
    for i in range(n):
        for r in range(d_lo[i], d_hi[i]):
            if d_side[r] == 1:
                bid[i] += 1
            elif d_side[r] == -1:
                ask[i] += 1
        sells = 0
        buys = 0
        for r in range(t_lo[i], t_hi[i]):
            vol[i] += t_size[r]
            if t_kind[r] != 0:
                nonreg[i] += 1
            elif t_aggr[r] == -1:
                sells += 1
            elif t_aggr[r] == 1:
                buys += 1
        if bid[i] == 0:
            unm_bid[i] = sells
        if ask[i] == 0:
            unm_ask[i] = buys
    return bid, ask, vol, nonreg, unm_bid, unm_ask


@jit
def window_start(ts: np.ndarray, window_ns: int, include_edge: bool) -> np.ndarray:
    """For non-decreasing ``ts``: index of the first event inside the window ending at each event,
    [t - w, t] when ``include_edge`` else (t - w, t] (two pointers, O(n))."""
    n = ts.shape[0]
    lo = np.empty(n, np.int64)
    j = 0
    for i in range(n):
        edge = ts[i] - window_ns
        if include_edge:
            while ts[j] < edge:
                j += 1
        else:
            while ts[j] <= edge:
                j += 1
        lo[i] = j
    return lo


@jit
def locate_sorted(seq: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Index of each key of the sorted ``keys`` in the sorted unique ``seq`` (-1 when absent)."""
    n = seq.shape[0]
    out = np.full(keys.shape[0], -1, np.int64)
    i = 0
    for q in range(keys.shape[0]):
        k = keys[q]
        while i < n and seq[i] < k:
            i += 1
        if i < n and seq[i] == k:
            out[q] = i
    return out


# -- fused kernels of the fast path ----------------------------------------------------------------------
@jit
def build_index_into(
    dseq: np.ndarray,
    tseq: np.ndarray,
    d_ts: np.ndarray,
    t_ts: np.ndarray,
    d_side: np.ndarray,
    t_size: np.ndarray,
    t_aggr: np.ndarray,
    t_kind: np.ndarray,
    seq: np.ndarray,
    d_b: np.ndarray,
    t_b: np.ndarray,
    ts: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    vol: np.ndarray,
    nonreg: np.ndarray,
    unm_bid: np.ndarray,
    unm_ask: np.ndarray,
    cross: np.ndarray,
) -> int:
    """One pass over both sorted seq columns: the event index and every per-event count.

    Writes into caller-allocated buffers (length ``nd + nt``, the bounds ``nd + nt + 1``) and returns
    the number of events n; the outputs are their first n (bounds: n + 1) entries: seq, d_bounds,
    t_bounds, ts, bid rows, ask rows, traded volume, non-regular trades, unmatched bid hits, unmatched
    ask hits, cross trades. Rows of event i are ``[d_bounds[i], d_bounds[i + 1])`` (events are
    consecutive), i.e. ``d_lo = d_bounds[:-1]``, ``d_hi = d_bounds[1:]``, the values of
    :func:`index_events`; the counts are those of :func:`event_counts` plus cross trades (``kind`` 2);
    ``ts`` is the ts_event of the event's first delta row, else of its first trade row.

    Large buffers allocated by numpy are backed by transparent huge pages, which makes first touch
    far cheaper than the 4 KiB pages of arrays allocated inside a kernel (see ``rules._index``)."""
    nd = dseq.shape[0]
    nt = tseq.shape[0]
    i = 0
    j = 0
    n = 0
    while i < nd or j < nt:
        if j >= nt or (i < nd and dseq[i] <= tseq[j]):
            s = dseq[i]
        else:
            s = tseq[j]
        seq[n] = s
        d_b[n] = i
        t_b[n] = j
        nb = 0
        na = 0
        while i < nd and dseq[i] == s:
            sd = d_side[i]
            nb += sd == 1
            na += sd == -1
            i += 1
        ts[n] = d_ts[d_b[n]] if i > d_b[n] else t_ts[j]
        v = 0
        nr = 0
        nc = 0
        sells = 0
        buys = 0
        while j < nt and tseq[j] == s:
            v += t_size[j]
            k = t_kind[j]
            if k != 0:
                nr += 1
                if k == 2:
                    nc += 1
            elif t_aggr[j] == -1:
                sells += 1
            elif t_aggr[j] == 1:
                buys += 1
            j += 1
        bid[n] = nb
        ask[n] = na
        vol[n] = v
        nonreg[n] = nr
        cross[n] = nc
        unm_bid[n] = sells if nb == 0 else 0
        unm_ask[n] = buys if na == 0 else 0
        n += 1
    d_b[n] = i
    t_b[n] = j
    return n


@jit
def window_members_sorted(ts: np.ndarray, min_count: int, window_ns: int) -> np.ndarray:
    """For non-decreasing ``ts``: events inside some closed window [t - w, t] of >= ``min_count``
    events (the window ending at event i starts at the first event with ts >= ts[i] - w)."""
    n = ts.shape[0]
    out = np.zeros(n, np.bool_)
    j = 0
    marked = -1  # every event up to here that must be marked is marked
    for i in range(n):
        edge = ts[i] - window_ns
        while ts[j] < edge:
            j += 1
        if i - j + 1 >= min_count:
            start = j if j > marked + 1 else marked + 1
            for q in range(start, i + 1):
                out[q] = True
            marked = i
    return out


@jit
def stuffing_kernel(
    ts: np.ndarray, n_trades: np.ndarray, window_ns: int, min_messages: int, min_ratio: float
) -> np.ndarray:
    """Per event: the trailing window (t - w, t] holds >= ``min_messages`` messages and messages >=
    ``min_ratio`` * (messages with trades + 1); the clock t is the running maximum of ``ts``."""
    n = ts.shape[0]
    out = np.zeros(n, np.bool_)
    clock = np.empty(n, np.int64)
    j = 0
    trades = 0  # messages with trades in [j, i]
    t = 0
    for i in range(n):
        if i == 0 or ts[i] > t:
            t = ts[i]
        clock[i] = t
        if n_trades[i] > 0:
            trades += 1
        edge = t - window_ns
        while clock[j] <= edge:
            if n_trades[j] > 0:
                trades -= 1
            j += 1
        msgs = i - j + 1
        out[i] = msgs >= min_messages and msgs >= min_ratio * (trades + 1)
    return out


@jit
def cross_lock(bid: np.ndarray, ask: np.ndarray, undef: int, out: np.ndarray) -> None:
    """Per row of best bid / best ask: 1 crossed (bid > ask), 2 locked (bid == ask), else 0 (also
    when either side is ``undef``), written to ``out``."""
    for r in range(bid.shape[0]):
        b = bid[r]
        a = ask[r]
        ok = (b != undef) & (a != undef)
        out[r] = ok * ((b > a) + 2 * (b == a))


@jit
def grid_keys(side: np.ndarray, price: np.ndarray, tick: int, undef: int) -> tuple[np.ndarray, int]:
    """Dense (side, price) ids on the tick grid: ``(price - min) // tick * 2 + (side == bid)``; rows
    without a price get ``n_keys - 1``. Returns (keys, n_keys), or (empty, -1) when the prices are not
    all on the grid or the range is too wide (>= 8 n + 1024 ticks), or (empty, 0) with no valid price.

    Two passes: min/max, then keys and the grid test together. The quotient comes from a float
    multiply by 1 / tick, corrected by one step either way from the exact integer remainder (exact
    while the range is below 2**50; wider ranges divide in integers)."""
    n = price.shape[0]
    lo = np.iinfo(np.int64).max
    hi = np.iinfo(np.int64).min
    nv = 0
    for r in range(n):
        p = price[r]
        if p != undef:
            nv += 1
            if p < lo:
                lo = p
            if p > hi:
                hi = p
    keys = np.empty(n, np.int64)
    if nv == 0:
        return keys[:0], 0
    if tick <= 0 or (hi - lo) // tick >= 8 * n + 1024:
        return keys[:0], -1
    n_keys = ((hi - lo) // tick + 1) * 2
    exact = hi - lo >= 2**50
    inv = 1.0 / tick
    for r in range(n):
        p = price[r]
        if p == undef:
            keys[r] = n_keys
            continue
        d = p - lo
        if exact:
            q = d // tick
        else:
            q = np.int64(d * inv)
        rem = d - q * tick
        if rem < 0:
            q -= 1
            rem += tick
        elif rem >= tick:
            q += 1
            rem -= tick
        if rem != 0:
            return keys[:0], -1
        keys[r] = q * 2 + (1 if side[r] == 1 else 0)
    return keys, n_keys + 1


@jit
def odd_lot_events(
    lo: np.ndarray, hi: np.ndarray, action: np.ndarray, size: np.ndarray, flags: np.ndarray, round_lot: int
) -> np.ndarray:
    """Per event: a non-snapshot ADD/REDUCE/EXECUTE row whose size is not a multiple of ``round_lot``."""
    n = lo.shape[0]
    out = np.zeros(n, np.bool_)
    for i in range(n):
        for r in range(lo[i], hi[i]):
            a = action[r]
            if (a == 1 or a == 2 or a == 3) and size[r] % round_lot != 0 and (flags[r] & 32) == 0:
                out[i] = True
                break
    return out


@jit
def session_kernel(
    ts: np.ndarray,
    state: np.ndarray,
    cross: np.ndarray,
    clock: bool,
    t_open: int,
    t_close: int,
    first_ns: int,
    last_ns: int,
) -> np.ndarray:
    """Per event: session reason code (-1 none, 0 halt, 1 auction, 2 pre_open, 3 post_close,
    4 opening_minutes, 5 closing_minutes); STATUS states beat the clock (halt > closed > auction)."""
    n = ts.shape[0]
    out = np.full(n, -1, np.int8)
    for i in range(n):
        st = state[i]
        if st == 1:
            out[i] = 0
        elif st == 3:
            out[i] = 3
        elif st == 2 or cross[i] > 0:
            out[i] = 1
        elif clock:
            t = ts[i]
            if t < t_open:
                out[i] = 2
            elif t >= t_close:
                out[i] = 3
            elif t < t_open + first_ns:
                out[i] = 4
            elif t >= t_close - last_ns:
                out[i] = 5
    return out


@jit
def distinct_counts(
    seq: np.ndarray, group: np.ndarray, n_groups: int, vol: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by ``seq``: per group (< 0: skipped) the number of distinct seqs and the sum
    of ``vol`` over those distinct seqs (each seq's volume counted once per group)."""
    count = np.zeros(n_groups, np.int64)
    total = np.zeros(n_groups, np.int64)
    last = np.zeros(n_groups, np.int64)
    seen = np.zeros(n_groups, np.bool_)
    for r in range(seq.shape[0]):
        g = group[r]
        if g < 0:
            continue
        s = seq[r]
        if not seen[g] or last[g] != s:
            seen[g] = True
            last[g] = s
            count[g] += 1
            total[g] += vol[r]
    return count, total


@jit
def unchanged_rows(cols: tuple[np.ndarray, ...], prev: np.ndarray, has_prev: bool, block: int) -> np.ndarray:
    """Rows r (ascending) where no column of ``cols`` differs from row r - 1 (row 0: from ``prev``,
    the previous chunk's last row, when ``has_prev``; else row 0 is left out). Same rows as
    the rows equal to the row before (or to ``prev``), found row by row.

    Column by column over blocks of ``block`` rows: the first column yields the block's candidate
    rows, each further column narrows them down in place (a small buffer that stays in cache, and each
    column is fetched from the tuple once per block)."""
    n = cols[0].shape[0]
    nc = len(cols)
    out = np.empty(n, np.int64)
    total = 0
    buf = np.empty(max(min(block, n), 1), np.int64)
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        a = cols[0]
        k = 0
        if lo == 0 and n > 0 and has_prev and a[0] == prev[0]:
            buf[0] = 0
            k = 1
        for r in range(max(lo, 1), hi):  # branch-free compaction (the outcome is unpredictable)
            buf[k] = r
            k += a[r] == a[r - 1]
        for c in range(1, nc):
            if k == 0:
                break
            a = cols[c]
            k2 = 0
            for q in range(k):
                r = buf[q]
                buf[k2] = r
                k2 += a[r] == (a[r - 1] if r > 0 else prev[c])
            k = k2
        out[total : total + k] = buf[:k]
        total += k
    return out[:total]


@jit
def keep_unchanged(
    cols: tuple[np.ndarray, ...], rows: np.ndarray, prev: np.ndarray, has_prev: bool
) -> np.ndarray:
    """The entries r of ``rows`` (in order) where no column of ``cols`` differs from row r - 1 (row 0:
    from ``prev`` when ``has_prev``, else dropped); column by column on a shrinking copy of ``rows``."""
    buf = rows.copy()
    k = buf.shape[0]
    if not has_prev:
        k2 = 0
        for q in range(k):
            if buf[q] > 0:
                buf[k2] = buf[q]
                k2 += 1
        k = k2
    for c in range(len(cols)):
        if k == 0:
            break
        a = cols[c]
        k2 = 0
        for q in range(k):
            r = buf[q]
            if a[r] == (a[r - 1] if r > 0 else prev[c]):
                buf[k2] = r
                k2 += 1
        k = k2
    return buf[:k]


__all__ = [
    "STALE_CATCH_UP",
    "STALE_HEARTBEAT",
    "STALE_NONE",
    "STALE_SIDE",
    "build_index_into",
    "cross_lock",
    "distinct_counts",
    "duplicate_kernel",
    "event_counts",
    "flicker_kernel",
    "flicker_scan",
    "grid_keys",
    "index_events",
    "keep_unchanged",
    "locate_sorted",
    "odd_lot_events",
    "session_kernel",
    "stale_kernel",
    "stale_scan",
    "stuffing_kernel",
    "unchanged_rows",
    "window_members_sorted",
    "window_start",
]
