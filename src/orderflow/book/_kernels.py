"""numba kernels of the price-level (L2) book: state arrays, delta application, snapshot sampling.

These are the low-level entry points for engines that keep their own loop (backtest, features).
Everything is plain numpy; the high-level wrapper is :class:`orderflow.book.engine.L2Book`.

Book state (three arrays, owned by the caller)
-----------------------------------------------
``keys``  : int64[2, cap]  sorted level keys per side (row 0 bids, row 1 asks)
``sizes`` : int64[2, cap]  level sizes (always > 0 for occupied levels)
``nlev``  : int64[2]       number of occupied levels per side

Each side's occupied levels are ``keys[s, :nlev[s]]``, sorted ascending with the **best level last**:
for bids the key is the price itself, for asks it is ``~price`` (bitwise not, i.e. ``-price - 1``),
which reverses the order exactly and cannot overflow for any int64 price. Keeping the best level at
the end makes the common case cheap: a lookup within the top ``NEAR`` levels counts the keys above it
in a fixed, branch-free loop; deeper keys are found by a short scan then a binary search (O(log n));
inserting or deleting a level shifts only the levels between it and the touch (O(distance from the
touch)). Prices are arbitrary int64 (any tick size, no tick grid).
Use :func:`new_state` to allocate and :func:`grow_state` when a kernel returns ``NEED_CAPACITY``.

Sampling clock state
--------------------
``clk`` : int64[N_CLOCK] (allocate with :func:`new_clock`), carried across calls so that streaming
in chunks gives exactly the same snapshots as one call on the whole stream. The clock kinds are the
``CK_*`` constants; see :class:`orderflow.book.clocks.ClockSpec` for their exact semantics.

Statistics
----------
``stats`` : int64[N_STATS] counters indexed by the ``ST_*`` constants (events, rows, snapshots,
negative clamps, reductions of missing levels, crossed and locked events, ignored rows, anomalies
recorded).
"""

from __future__ import annotations

import numpy as np

from orderflow._numba import jit
from orderflow.core.enums import UNDEF_PRICE

# -- action codes (BookAction; 0 is an internal no-op row used to merge trades into the stream) ------
A_NOOP = 0
A_ADD = 1
A_REDUCE = 2
A_EXECUTE = 3
A_SET = 4
A_CLEAR = 5
FLAG_LAST = 128

# -- clock kinds ---------------------------------------------------------------------------------------
CK_EVENT = 0
CK_EVENTS = 1
CK_TIME = 2
CK_VOLUME = 3
CK_TRADE = 4

# -- clock state slots -----------------------------------------------------------------------------------
CS_AT_BOUNDARY = 0  # 1 when the next row starts a new event
CS_COUNT = 1  # events since the last emission (events clock)
CS_NEXT_GRID = 2  # next grid time not yet emitted (time clock)
CS_GRID_INIT = 3  # 1 once the grid is anchored at the first event
CS_BUCKET = 4  # volume accumulated in the current bucket (volume clock)
CS_EV_VOL = 5  # traded volume of the event in progress
CS_LAST_SEQ = 6  # seq of the last completed event
N_CLOCK = 8

# -- statistics slots ---------------------------------------------------------------------------------
ST_EVENTS = 0
ST_ROWS = 1
ST_SNAPSHOTS = 2
ST_NEG_CLAMPS = 3
ST_MISSING = 4
ST_CROSSED = 5
ST_LOCKED = 6
ST_IGNORED = 7
ST_ANOMALIES = 8  # entries written to the anomaly buffer (<= its length)
N_STATS = 9

# -- kernel status ----------------------------------------------------------------------------------------
OK = 0
NEED_CAPACITY = 1  # a level insert found the state full: grow it and call again from ``next_row``
OUTPUT_FULL = 2  # the snapshot output is full: drain it and call again from ``next_row``

# -- per-row results of _apply_row ---------------------------------------------------------------------------
R_OK = 0
R_FULL = 1
R_NEG_CLAMP = 2
R_MISSING = 3
R_IGNORED = 4

# width of the near-touch window searched branch-free by apply_row
NEAR = 8

# anomaly codes written to the anomaly buffer
AN_NEG_CLAMP = 1
AN_MISSING = 2


# Kernels with a hot per-row loop are compiled without numba's reference counting (``_nrt=False``).
# They allocate nothing, and with NRT on, every call of an inlined helper that takes arrays
# (apply_row, write_snapshot) increfs and decrefs each array argument: atomic operations that cost
# more than the book update itself (about half of the time per row at depth 1). The helpers are
# written once and stay shared; only the outer kernels carry the flag (``@jit(_nrt=False)``).


def new_state(capacity: int = 4096) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empty book state ``(keys, sizes, nlev)`` holding up to ``capacity`` levels per side."""
    capacity = max(int(capacity), 1)
    return (
        np.zeros((2, capacity), dtype=np.int64),
        np.zeros((2, capacity), dtype=np.int64),
        np.zeros(2, dtype=np.int64),
    )


def grow_state(keys: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Double the capacity of a book state (levels are kept)."""
    cap = keys.shape[1]
    k2 = np.zeros((2, cap * 2), dtype=np.int64)
    s2 = np.zeros((2, cap * 2), dtype=np.int64)
    k2[:, :cap] = keys
    s2[:, :cap] = sizes
    return k2, s2


def new_clock() -> np.ndarray:
    """Fresh sampling-clock state (the next row starts an event)."""
    clk = np.zeros(N_CLOCK, dtype=np.int64)
    clk[CS_AT_BOUNDARY] = 1
    return clk


def new_stats() -> np.ndarray:
    return np.zeros(N_STATS, dtype=np.int64)


@jit(inline="always")
def find_level(keys: np.ndarray, s: int, n: int, key: int) -> int:
    """Index of ``key`` in ``keys[s, :n]`` if present, else ``-(insert_position) - 1``.

    Scans up to 8 levels down from the touch (the common case), then binary-searches the rest.
    """
    lo_lin = n - 8 if n > 8 else 0
    i = n - 1
    while i >= lo_lin:
        k = keys[s, i]
        if k == key:
            return i
        if k < key:
            return -(i + 1) - 1
        i -= 1
    lo = 0
    hi = lo_lin
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[s, mid] < key:
            lo = mid + 1
        else:
            hi = mid
    if lo < lo_lin and keys[s, lo] == key:
        return lo
    return -lo - 1


@jit(inline="always")
def _insert(
    keys: np.ndarray, sizes: np.ndarray, nlev: np.ndarray, s: int, pos: int, key: int, size: int
) -> None:
    n = nlev[s]
    j = n
    while j > pos:
        keys[s, j] = keys[s, j - 1]
        sizes[s, j] = sizes[s, j - 1]
        j -= 1
    keys[s, pos] = key
    sizes[s, pos] = size
    nlev[s] = n + 1


@jit(inline="always")
def _delete(keys: np.ndarray, sizes: np.ndarray, nlev: np.ndarray, s: int, pos: int) -> None:
    n = nlev[s]
    for j in range(pos, n - 1):
        keys[s, j] = keys[s, j + 1]
        sizes[s, j] = sizes[s, j + 1]
    nlev[s] = n - 1


@jit(inline="always")
def apply_row(
    keys: np.ndarray, sizes: np.ndarray, nlev: np.ndarray, side: int, action: int, price: int, size: int
) -> int:
    """Apply one BOOK_DELTAS row to the state; return an ``R_*`` code.

    ``R_FULL`` means nothing was applied because a new level did not fit (grow and retry).
    REDUCE/EXECUTE larger than the level clamp the level to 0 (deleting it, ``R_NEG_CLAMP``); on a
    missing level they change nothing (``R_MISSING``). SET with size 0 deletes the level (no-op when
    absent). ADD of 0 never creates an empty level. Unknown actions, side 0 outside CLEAR, and
    UNDEF_PRICE levels are ignored (``R_IGNORED``). Action 0 is a deliberate no-op.
    """
    if action == A_NOOP:
        return R_OK
    if action == A_CLEAR:
        if side == 1:
            nlev[0] = 0
        elif side == -1:
            nlev[1] = 0
        elif side == 0:
            nlev[0] = 0
            nlev[1] = 0
        else:
            return R_IGNORED
        return R_OK
    if (side != 1 and side != -1) or price == UNDEF_PRICE or size < 0 or action > A_CLEAR:
        return R_IGNORED
    # branch-free side selection (sides alternate unpredictably): s = 0 bid, 1 ask; key = ~price for asks
    s = (1 - np.int64(side)) >> 1
    key = price ^ -s
    n = nlev[s]
    # one code path for all three size actions (selects, not a 3-way branch: actions are unpredictable)
    is_set = action == A_SET
    delta = size if action == A_ADD else -size
    if n > NEAR and keys[s, n - NEAR] <= key:
        # near-touch fast path (~96% of the synthetic benchmark's rows; real books also concentrate
        # activity at the touch): the key lies within the top NEAR levels or above them. Its slot is
        # found by counting the window's keys above it, a fixed branch-free loop, instead of a linear
        # scan whose exit point is unpredictable. n > NEAR keeps every access inside the row.
        b = n - NEAR
        cnt = 0
        for j in range(NEAR):
            cnt += keys[s, b + j] > key
        idx = n - 1 - cnt  # last slot with a key <= key (>= b)
        pos = idx if keys[s, idx] == key else -(idx + 1) - 1
    else:
        pos = find_level(keys, s, n, key)
    if pos >= 0:
        new = size if is_set else sizes[s, pos] + delta
        if new > 0:
            sizes[s, pos] = new
            return R_OK
        _delete(keys, sizes, nlev, s, pos)
        return R_NEG_CLAMP if new < 0 else R_OK
    new = size if is_set else delta
    if new > 0:
        if n >= keys.shape[1]:
            return R_FULL
        _insert(keys, sizes, nlev, s, -pos - 1, key, new)
        return R_OK
    return R_MISSING if new < 0 else R_OK


@jit(inline="always")
def write_snapshot(
    keys: np.ndarray,
    sizes: np.ndarray,
    nlev: np.ndarray,
    depth: int,
    o: int,
    ts: int,
    recv: int,
    seq: int,
    out_ts: np.ndarray,
    out_recv: np.ndarray,
    out_seq: np.ndarray,
    flat: np.ndarray,
    ld: int,
) -> None:
    """Write the top ``depth`` levels into output row ``o``.

    ``flat`` is the level buffer ``out_lv`` (int64[4 * depth, ld], C order) viewed as 1-d, ``ld`` its
    row length. Rows ``0..d-1`` of ``out_lv`` hold bid prices, ``d..2d-1`` bid sizes, ``2d..3d-1`` ask
    prices and ``3d..4d-1`` ask sizes (DBN mbp-N column order, ``level_names(depth)``); empty levels
    get UNDEF_PRICE and 0. Walking flat offsets (instead of 2-d indexing) makes this ~1.5x faster;
    depth 1 (best bid/ask only) takes a straight-line path without the level loops.
    """
    out_ts[o] = ts
    out_recv[o] = recv
    out_seq[o] = seq
    n0 = nlev[0]
    n1 = nlev[1]
    if depth == 1:
        # best bid/ask only: straight-line selects (an empty side reads slot 0, cap >= 1, then masks it)
        j0 = n0 - 1 if n0 > 0 else 0
        j1 = n1 - 1 if n1 > 0 else 0
        flat[o] = keys[0, j0] if n0 > 0 else UNDEF_PRICE
        flat[ld + o] = sizes[0, j0] if n0 > 0 else 0
        flat[2 * ld + o] = ~keys[1, j1] if n1 > 0 else UNDEF_PRICE
        flat[3 * ld + o] = sizes[1, j1] if n1 > 0 else 0
        return
    k0 = n0 if n0 < depth else depth
    k1 = n1 if n1 < depth else depth
    pp = o
    ps = depth * ld + o
    j = n0 - 1
    for _ in range(k0):
        flat[pp] = keys[0, j]
        flat[ps] = sizes[0, j]
        pp += ld
        ps += ld
        j -= 1
    for _ in range(k0, depth):
        flat[pp] = UNDEF_PRICE
        flat[ps] = 0
        pp += ld
        ps += ld
    pp = 2 * depth * ld + o
    ps = 3 * depth * ld + o
    j = n1 - 1
    for _ in range(k1):
        flat[pp] = ~keys[1, j]
        flat[ps] = sizes[1, j]
        pp += ld
        ps += ld
        j -= 1
    for _ in range(k1, depth):
        flat[pp] = UNDEF_PRICE
        flat[ps] = 0
        pp += ld
        ps += ld


@jit(_nrt=False)
def process_deltas(
    side: np.ndarray,
    action: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    flags: np.ndarray,
    ts_event: np.ndarray,
    ts_recv: np.ndarray,
    seq: np.ndarray,
    vol: np.ndarray,
    start: int,
    keys: np.ndarray,
    sizes: np.ndarray,
    nlev: np.ndarray,
    clk: np.ndarray,
    stats: np.ndarray,
    clock_kind: int,
    every: int,
    depth: int,
    out_ts: np.ndarray,
    out_recv: np.ndarray,
    out_seq: np.ndarray,
    out_lv: np.ndarray,
    n_out: int,
    an_seq: np.ndarray,
    an_ts: np.ndarray,
    an_code: np.ndarray,
) -> tuple[int, int, int]:
    """Apply rows ``start..`` of a BOOK_DELTAS stream and write sampled top-``depth`` snapshots.

    Inputs are equal-length 1-d arrays (any integer dtypes): ``side`` (+1/-1/0), ``action``
    (BookAction, 0 = no-op), ``price`` (int64, 1e-9), ``size``, ``flags`` (bit 128 = LAST ends an
    event), ``ts_event``, ``ts_recv``, ``seq``; ``vol`` is the traded volume credited to each row
    (from TRADES), or a length-0 array to count EXECUTE sizes as the traded volume instead.
    A snapshot is written only after a row carrying LAST, when the clock ``clock_kind``/``every``
    fires (time-clock grid rows are written when the first row of a later event shows that the grid
    time has passed). Output goes to rows ``n_out..`` of ``out_ts``, ``out_recv``, ``out_seq`` (int64[m])
    and ``out_lv`` (int64[4 * depth, m], see :func:`write_snapshot`). Anomalies (negative clamps,
    missing levels) are recorded in ``an_seq``/``an_ts``/``an_code`` while they have room; all are
    counted in ``stats``.

    Returns ``(next_row, n_out, status)``: status ``OK`` (all rows done), ``NEED_CAPACITY`` (grow the
    state with :func:`grow_state` and call again from ``next_row``) or ``OUTPUT_FULL`` (consume the
    ``n_out`` rows written and call again from ``next_row`` with ``n_out = 0``). Nothing is applied
    twice: all state, including the clock, is in the arrays.
    """
    n = side.shape[0]
    m = out_ts.shape[0]
    ld = out_lv.shape[1]
    flat = out_lv.reshape(out_lv.size)
    has_vol = vol.shape[0] > 0
    # clock state and counters live in locals (registers) inside the loop; written back once on exit
    at_boundary = clk[CS_AT_BOUNDARY]
    count = clk[CS_COUNT]
    next_grid = clk[CS_NEXT_GRID]
    grid_init = clk[CS_GRID_INIT]
    bucket = clk[CS_BUCKET]
    ev_vol = clk[CS_EV_VOL]
    last_seq = clk[CS_LAST_SEQ]
    n_events = 0
    n_rows = 0
    n_snaps = 0
    n_neg = 0
    n_missing = 0
    n_crossed = 0
    n_locked = 0
    n_ignored = 0
    n_an = stats[ST_ANOMALIES]
    an_cap = an_seq.shape[0]
    status = OK
    i = start
    while i < n:
        if at_boundary == 1:
            if clock_kind == CK_TIME:
                t = ts_event[i]
                if grid_init == 0:
                    next_grid = -((-t) // every) * every
                    grid_init = 1
                else:
                    full = False
                    while next_grid < t:
                        if n_out >= m:
                            full = True
                            break
                        write_snapshot(
                            keys,
                            sizes,
                            nlev,
                            depth,
                            n_out,
                            next_grid,
                            next_grid,
                            last_seq,
                            out_ts,
                            out_recv,
                            out_seq,
                            flat,
                            ld,
                        )
                        n_out += 1
                        n_snaps += 1
                        next_grid += every
                    if full:
                        status = OUTPUT_FULL
                        break
            at_boundary = 0
        last = (flags[i] & FLAG_LAST) != 0
        if last and n_out >= m:
            status = OUTPUT_FULL
            break
        a = action[i]
        r = apply_row(keys, sizes, nlev, side[i], a, price[i], size[i])
        if r != R_OK:
            if r == R_FULL:
                status = NEED_CAPACITY
                break
            if r == R_IGNORED:
                n_ignored += 1
            else:
                if r == R_NEG_CLAMP:
                    n_neg += 1
                    code = AN_NEG_CLAMP
                else:
                    n_missing += 1
                    code = AN_MISSING
                if n_an < an_cap:
                    an_seq[n_an] = seq[i]
                    an_ts[n_an] = ts_event[i]
                    an_code[n_an] = code
                    n_an += 1
        n_rows += 1
        if has_vol:
            ev_vol += vol[i]
        else:
            ev_vol += size[i] if a == A_EXECUTE else 0  # a select, not a branch
        if last:
            n_events += 1
            at_boundary = 1
            last_seq = seq[i]
            n0 = nlev[0]
            n1 = nlev[1]
            if n0 > 0 and n1 > 0:
                bb = keys[0, n0 - 1]
                ba = ~keys[1, n1 - 1]
                if bb > ba:
                    n_crossed += 1
                elif bb == ba:
                    n_locked += 1
            emit = False
            if clock_kind == CK_EVENT:
                emit = True
            elif clock_kind == CK_EVENTS:
                count += 1
                if count >= every:
                    emit = True
                    count = 0
            elif clock_kind == CK_VOLUME:
                bucket += ev_vol
                if bucket >= every:
                    emit = True
                    bucket = bucket % every
            elif clock_kind == CK_TRADE:
                emit = ev_vol > 0
            ev_vol = 0
            if emit:
                write_snapshot(
                    keys,
                    sizes,
                    nlev,
                    depth,
                    n_out,
                    ts_event[i],
                    ts_recv[i],
                    seq[i],
                    out_ts,
                    out_recv,
                    out_seq,
                    flat,
                    ld,
                )
                n_out += 1
                n_snaps += 1
        i += 1
    clk[CS_AT_BOUNDARY] = at_boundary
    clk[CS_COUNT] = count
    clk[CS_NEXT_GRID] = next_grid
    clk[CS_GRID_INIT] = grid_init
    clk[CS_BUCKET] = bucket
    clk[CS_EV_VOL] = ev_vol
    clk[CS_LAST_SEQ] = last_seq
    stats[ST_EVENTS] += n_events
    stats[ST_ROWS] += n_rows
    stats[ST_SNAPSHOTS] += n_snaps
    stats[ST_NEG_CLAMPS] += n_neg
    stats[ST_MISSING] += n_missing
    stats[ST_CROSSED] += n_crossed
    stats[ST_LOCKED] += n_locked
    stats[ST_IGNORED] += n_ignored
    stats[ST_ANOMALIES] = n_an
    return i, n_out, status


@jit(_nrt=False)
def apply_deltas(
    side: np.ndarray,
    action: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    keys: np.ndarray,
    sizes: np.ndarray,
    nlev: np.ndarray,
    stats: np.ndarray,
    start: int,
) -> tuple[int, int]:
    """Apply rows ``start..`` to the state without sampling (for callers that read the state themselves).

    Returns ``(next_row, status)`` with status ``OK`` or ``NEED_CAPACITY`` (grow and call again).
    Updates ``ST_ROWS``, ``ST_NEG_CLAMPS``, ``ST_MISSING`` and ``ST_IGNORED`` only.
    """
    n = side.shape[0]
    for i in range(start, n):
        r = apply_row(keys, sizes, nlev, side[i], action[i], price[i], size[i])
        if r != R_OK:
            if r == R_FULL:
                return i, NEED_CAPACITY
            if r == R_NEG_CLAMP:
                stats[ST_NEG_CLAMPS] += 1
            elif r == R_MISSING:
                stats[ST_MISSING] += 1
            else:
                stats[ST_IGNORED] += 1
        stats[ST_ROWS] += 1
    return n, OK


@jit
def best_bid_ask(keys: np.ndarray, sizes: np.ndarray, nlev: np.ndarray) -> tuple[int, int, int, int]:
    """``(bid_px, bid_sz, ask_px, ask_sz)`` of a state; UNDEF_PRICE/0 for an empty side."""
    n0 = nlev[0]
    n1 = nlev[1]
    bp = keys[0, n0 - 1] if n0 > 0 else UNDEF_PRICE
    bs = sizes[0, n0 - 1] if n0 > 0 else 0
    ap = ~keys[1, n1 - 1] if n1 > 0 else UNDEF_PRICE
    az = sizes[1, n1 - 1] if n1 > 0 else 0
    return bp, bs, ap, az


@jit(_nrt=False)
def synth_stream(
    u: np.ndarray,
    levels: int,
    tick: int,
    keys: np.ndarray,
    sizes: np.ndarray,
    nlev: np.ndarray,
    st: np.ndarray,
    out_side: np.ndarray,
    out_action: np.ndarray,
    out_price: np.ndarray,
    out_size: np.ndarray,
    out_flags: np.ndarray,
    out_ts: np.ndarray,
    out_seq: np.ndarray,
) -> int:
    """Generate one chunk of a reproducible, never-crossing synthetic L2 stream (benchmarks, tests).

    ``u`` is float64[n_events, 4] of uniforms (the caller's seeded numpy Generator), so the stream is
    reproducible and chunking-independent given the uniforms. The generator keeps its own book in
    ``keys/sizes/nlev`` (same layout as the engine) so every REDUCE/EXECUTE hits a live level, and
    ``st = int64[3]`` holds ``(ts, seq, mid_ticks)`` across chunks. Mix per event: ~45% ADD near the
    touch (geometric distance, some inside the spread, which moves the price), ~35% REDUCE (30% of
    them full cancels that delete a level), ~10% EXECUTE at the touch (some sweeping into the next
    level as a two-row event), ~5% SET, ~5% level maintenance that keeps about ``levels`` levels per
    side (deep adds, deletion of the deepest level). Output arrays need room for ``2 * n_events``
    rows; returns the number of rows written.
    """
    ne = u.shape[0]
    cap = keys.shape[1]
    o = 0
    ts = st[0]
    sq = st[1]
    for e in range(ne):
        u0 = u[e, 0]
        u1 = u[e, 1]
        u2 = u[e, 2]
        u3 = u[e, 3]
        ts += 1 + np.int64(u3 * 2000.0)
        sq += 1
        s = 0 if u0 < 0.5 else 1
        sd = 1 if s == 0 else -1
        n = nlev[s]
        no = nlev[1 - s]
        # best prices in ticks (bids are keys, asks ~keys); empty sides anchor on the mid
        if no > 0:
            other = ~keys[1, no - 1] if s == 0 else keys[0, no - 1]
        else:
            other = st[2] * tick + tick if s == 0 else st[2] * tick - tick
        if n > 0:
            best = keys[s, n - 1] if s == 0 else ~keys[s, n - 1]
        else:
            best = other - tick if s == 0 else other + tick
        if no == 0:  # nothing to cross on the other side
            other = best + 1000 * tick if s == 0 else best - 1000 * tick
        dist = np.int64(-np.log(u2 + 1e-300) * 1.5)
        a = A_ADD
        px = best
        qty = 1 + np.int64(u3 * 100.0)
        two = False
        px2 = px
        qty2 = np.int64(0)
        if n == 0 or (n < levels and u1 >= 0.95):
            a = A_ADD
            if n == 0:
                px = best
            else:
                worst = keys[s, 0] if s == 0 else ~keys[s, 0]
                step = (1 + np.int64(u2 * 3.0)) * tick
                px = worst - step if s == 0 else worst + step
        elif (n > levels or n >= cap - 2) and u1 >= 0.95:
            a = A_SET
            px = keys[s, 0] if s == 0 else ~keys[s, 0]
            qty = np.int64(0)
        elif u1 < 0.45:
            a = A_ADD
            spread = other - best if s == 0 else best - other
            if u3 < 0.3 and spread > tick:
                # improve the touch when the spread allows it (with depletion, this moves prices)
                px = best + tick if s == 0 else best - tick
            else:
                px = best - dist * tick if s == 0 else best + dist * tick
        elif u1 < 0.80 or u1 >= 0.95:
            a = A_REDUCE
            j = dist if dist < n else n - 1
            idx = n - 1 - j
            px = keys[s, idx] if s == 0 else ~keys[s, idx]
            lv = sizes[s, idx]
            if u3 < 0.3:
                qty = lv
            else:
                qty = 1 + np.int64(u3 * (lv - 1))
                if qty > lv:
                    qty = lv
        elif u1 < 0.90:
            a = A_EXECUTE
            lv = sizes[s, n - 1]
            qty = 1 + np.int64(u2 * 60.0)
            if qty >= lv:
                qty = lv
                if u3 < 0.3 and n > 1:
                    two = True
                    px2 = keys[s, n - 2] if s == 0 else ~keys[s, n - 2]
                    qty2 = 1 + np.int64(u3 * (sizes[s, n - 2] - 1))
                    if qty2 > sizes[s, n - 2]:
                        qty2 = sizes[s, n - 2]
        else:
            a = A_SET
            j = dist if dist < n else n - 1
            idx = n - 1 - j
            px = keys[s, idx] if s == 0 else ~keys[s, idx]
            qty = 1 + np.int64(u3 * 200.0)
        if a == A_ADD and n >= cap - 2 and find_level(keys, s, n, px if s == 0 else ~px) < 0:
            a = A_REDUCE  # the generator's own book is full: cancel the best level's size instead
            px = best
            qty = np.int64(1)
        apply_row(keys, sizes, nlev, sd, a, px, qty)
        out_side[o] = sd
        out_action[o] = a
        out_price[o] = px
        out_size[o] = qty
        out_ts[o] = ts
        out_seq[o] = sq
        if two:
            out_flags[o] = 0
            o += 1
            apply_row(keys, sizes, nlev, sd, A_EXECUTE, px2, qty2)
            out_side[o] = sd
            out_action[o] = A_EXECUTE
            out_price[o] = px2
            out_size[o] = qty2
            out_ts[o] = ts
            out_seq[o] = sq
        out_flags[o] = FLAG_LAST
        o += 1
        nb = nlev[0]
        na = nlev[1]
        if nb > 0 and na > 0:
            st[2] = (keys[0, nb - 1] + ~keys[1, na - 1]) // (2 * tick)
    st[0] = ts
    st[1] = sq
    return o
