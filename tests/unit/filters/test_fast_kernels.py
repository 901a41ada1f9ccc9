"""Twins (jitted == plain Python) of the fused fast-path kernels, each also against a straightforward
numpy computation."""

from __future__ import annotations

import numpy as np

from orderflow.filters import _kernels as K
from orderflow.filters.rules import _index


def _same(a: object, b: object) -> None:
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    else:
        np.testing.assert_array_equal(a, b)


def test_event_index_equals_index_then_counts(rng: np.random.Generator) -> None:
    dseq = np.sort(rng.integers(0, 400, 700)).astype(np.int64)
    tseq = np.sort(rng.integers(0, 400, 150)).astype(np.int64)
    d_ts = (dseq * 10).astype(np.int64)
    t_ts = (tseq * 10 + 1).astype(np.int64)
    side = rng.choice(np.array([-1, 0, 1], np.int8), dseq.shape[0])
    size = rng.integers(1, 9, tseq.shape[0]).astype(np.int64)
    aggr = rng.choice(np.array([-1, 0, 1], np.int8), tseq.shape[0])
    kind = rng.choice(np.array([0, 0, 1, 2, 3], np.uint8), tseq.shape[0])
    got = _index(
        {"seq": dseq, "ts_event": d_ts, "side": side},
        {"seq": tseq, "ts_event": t_ts, "size": size, "aggressor": aggr, "kind": kind},
    )
    seq, d_lo, d_hi, t_lo, t_hi = K.index_events(dseq, tseq)
    _same(got[:3], (seq, np.append(d_lo, d_hi[-1]), np.append(t_lo, t_hi[-1])))
    _same(got[4:10], K.event_counts(d_lo, d_hi, t_lo, t_hi, side, size, aggr, kind))
    ts = np.where(
        d_hi > d_lo, d_ts[np.minimum(d_lo, dseq.shape[0] - 1)], t_ts[np.minimum(t_lo, tseq.shape[0] - 1)]
    )
    _same(got[3], ts)
    cross = np.array([(kind[a:b] == 2).sum() for a, b in zip(t_lo, t_hi, strict=True)])
    _same(got[10], cross)


def test_window_and_stuffing_kernels(rng: np.random.Generator) -> None:
    ts = np.sort(rng.integers(0, 3000, 400)).astype(np.int64)
    got = K.window_members_sorted(ts, 4, 30)
    _same(got, K.window_members_sorted.py_func(ts, 4, 30))
    expect = np.zeros(ts.shape[0], bool)
    for i in range(ts.shape[0]):
        members = np.flatnonzero((ts >= ts[i] - 30) & (ts <= ts[i]))
        if members.shape[0] >= 4:
            expect[members] = True
    _same(got, expect)
    # stuffing with time running backwards now and then (clock = running max)
    ts2 = ts + rng.integers(-20, 1, ts.shape[0])
    nt = (rng.random(ts.shape[0]) < 0.2).astype(np.int64)
    got = K.stuffing_kernel(ts2, nt, 40, 3, 2.5)
    _same(got, K.stuffing_kernel.py_func(ts2, nt, 40, 3, 2.5))
    clock = np.maximum.accumulate(ts2)
    for i in range(ts.shape[0]):
        inside = np.flatnonzero((clock > clock[i] - 40) & (np.arange(ts.shape[0]) <= i))
        msgs = inside.shape[0]
        trades = int((nt[inside] > 0).sum())
        assert got[i] == (msgs >= 3 and msgs >= 2.5 * (trades + 1)), i


def test_segment_kernels(rng: np.random.Generator) -> None:
    nd = rng.integers(0, 4, 300)
    hi = np.cumsum(nd).astype(np.int64)
    lo = hi - nd
    m = int(hi[-1])
    action = rng.choice(np.array([1, 2, 3, 4, 5], np.uint8), m)
    size = rng.choice(np.array([100, 150, 200], np.int64), m)
    flags = rng.choice(np.array([0, 32, 128], np.uint8), m)
    got = K.odd_lot_events(lo, hi, action, size, flags, 100)
    _same(got, K.odd_lot_events.py_func(lo, hi, action, size, flags, 100))
    odd = (action <= 3) & (size % 100 != 0) & ((flags & 32) == 0)
    _same(got, np.array([odd[a:b].any() for a, b in zip(lo, hi, strict=True)]))


def test_grid_keys_and_distinct_counts(rng: np.random.Generator) -> None:
    side = rng.choice(np.array([-1, 1], np.int8), 200)
    price = (rng.integers(0, 20, 200) * 7 + 1000).astype(np.int64)
    price[::17] = -1
    keys, n_keys = K.grid_keys(side, price, 7, -1)
    _same((keys, n_keys), K.grid_keys.py_func(side, price, 7, -1))
    assert (
        n_keys == (19 * 7 // 7 + 1) * 2 + 1 or n_keys == ((price[price != -1].max() - 1000) // 7 + 1) * 2 + 1
    )
    for i in range(200):
        for j in range(200):
            same = (side[i], price[i]) == (side[j], price[j]) or (price[i] == -1 and price[j] == -1)
            assert (keys[i] == keys[j]) == same
    assert K.grid_keys(side, price + 1 * (np.arange(200) == 3), 7, -1)[1] == -1  # one price off grid
    seq = np.sort(rng.integers(0, 50, 300)).astype(np.int64)
    group = rng.integers(-1, 3, 300).astype(np.int64)
    vol = (seq % 5).astype(np.int64)
    got = K.distinct_counts(seq, group, 3, vol)
    _same(got, K.distinct_counts.py_func(seq, group, 3, vol))
    for g in range(3):
        u = np.unique(seq[group == g])
        assert got[0][g] == u.shape[0] and got[1][g] == (u % 5).sum()


def test_session_and_snapshot_kernels(rng: np.random.Generator) -> None:
    ts = np.sort(rng.integers(0, 1000, 300)).astype(np.int64)
    state = rng.choice(np.array([0, 0, 0, 1, 2, 3], np.int8), 300)
    cross = (rng.random(300) < 0.05).astype(np.int64)
    args = (ts, state, cross, True, 200, 800, 100, 50)
    got = K.session_kernel(*args)
    _same(got, K.session_kernel.py_func(*args))
    # the original masked assignments, later ones win
    r = np.full(300, -1, np.int8)
    r[(ts >= 750) & (ts < 800)] = 5
    r[(ts >= 200) & (ts < 300)] = 4
    r[ts >= 800] = 3
    r[ts < 200] = 2
    r[(state == 2) | (cross > 0)] = 1
    r[state == 3] = 3
    r[state == 1] = 0
    _same(got, r)


def _same_as_previous(cols: tuple[np.ndarray, ...], prev: np.ndarray, has_prev: bool) -> np.ndarray:
    """Row i equals row i - 1 in every column (row 0: equals ``prev``, only when ``has_prev``)."""
    same = np.ones(cols[0].shape[0], bool)
    for j, c in enumerate(cols):
        same[1:] &= c[1:] == c[:-1]
        if c.shape[0]:
            same[0] &= bool(has_prev) and c[0] == prev[j]
    return same


def test_column_by_column_unchanged_kernels(rng: np.random.Generator) -> None:
    """``unchanged_rows`` / ``keep_unchanged`` (blocked, column by column) == the row-by-row definition,
    jitted == plain Python, for every block size and both prev cases."""
    cols = tuple(rng.integers(0, 2, 300).astype(np.int64) for _ in range(3))
    for has_prev, prev in ((False, np.zeros(3, np.int64)), (True, np.array([c[0] for c in cols]))):
        same = _same_as_previous(cols, prev, has_prev)
        expect = np.flatnonzero(same)
        for block in (1, 7, 64, 300, 1000):
            got = K.unchanged_rows(cols, prev, has_prev, block)
            _same(got, K.unchanged_rows.py_func(cols, prev, has_prev, block))
            _same(got, expect)
        rows = np.flatnonzero(rng.random(300) < 0.5)
        rows[0] = 0
        got = K.keep_unchanged(cols, rows, prev, has_prev)
        _same(got, K.keep_unchanged.py_func(cols, rows, prev, has_prev))
        _same(got, rows[same[rows]])
    empty = tuple(np.zeros(0, np.int64) for _ in range(2))
    assert K.unchanged_rows(empty, np.zeros(2, np.int64), True, 8).shape[0] == 0


def test_build_index_into_and_wide_grid_keys(rng: np.random.Generator) -> None:
    dseq = np.sort(rng.integers(0, 400, 700)).astype(np.int64)
    tseq = np.sort(rng.integers(0, 400, 150)).astype(np.int64)
    args = (
        dseq,
        tseq,
        (dseq * 10).astype(np.int64),
        (tseq * 10 + 1).astype(np.int64),
        rng.choice(np.array([-1, 0, 1], np.int8), dseq.shape[0]),
        rng.integers(1, 9, tseq.shape[0]).astype(np.int64),
        rng.choice(np.array([-1, 0, 1], np.int8), tseq.shape[0]),
        rng.choice(np.array([0, 0, 1, 2, 3], np.uint8), tseq.shape[0]),
    )
    m = dseq.shape[0] + tseq.shape[0]
    kinds = (np.int64, np.int64, np.int64, np.int64, *[np.int32] * 2, np.int64, *[np.int32] * 4)
    for fn in (K.build_index_into, K.build_index_into.py_func):
        out = tuple(np.empty(m + (k in (1, 2)), dt) for k, dt in enumerate(kinds))
        n = fn(*args, *out)
        got = tuple(a[: n + 1] if k in (1, 2) else a[:n] for k, a in enumerate(out))
        d = {"seq": args[0], "ts_event": args[2], "side": args[4]}
        t = {"seq": args[1], "ts_event": args[3], "size": args[5], "aggressor": args[6], "kind": args[7]}
        _same(got, _index(d, t))
    # keys depend on the range, not on the price level; a range beyond 8 n + 1024 ticks is refused
    side = rng.choice(np.array([-1, 1], np.int8), 50)
    tick = 3
    price = (rng.integers(0, 40, 50) * tick).astype(np.int64)
    wide = price.copy()
    wide[0] = 2**51 * tick  # far away: range check fails (too many ticks) -> -1 either way
    assert K.grid_keys(side, wide, tick, -1)[1] == -1 == K.grid_keys.py_func(side, wide, tick, -1)[1]
    shift = 2**52 - (2**52 % tick)  # a multiple of tick: the prices stay on the grid
    k1, n1 = K.grid_keys(side, price + shift, tick, -1)
    k2, n2 = K.grid_keys(side, price, tick, -1)
    _same((k1, n1), (k2, n2))
