"""L2 engine: hand-worked books for every action, clocks, streaming, twins, capacity, odd prices."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from orderflow.book import BookStats, ClockSpec, L2Book, reconstruct
from orderflow.book import _kernels as K
from orderflow.book.engine import SyntheticStream
from orderflow.core.enums import UNDEF_PRICE, BookAction, Flags
from orderflow.core.schema import BOOK_DELTAS, TRADES, book_snapshots, validate

ADD, RED, EXE, SET, CLR = (
    int(a) for a in (BookAction.ADD, BookAction.REDUCE, BookAction.EXECUTE, BookAction.SET, BookAction.CLEAR)
)
LAST = int(Flags.LAST)
U = UNDEF_PRICE


def deltas(rows: list[tuple[int, ...]]) -> pl.DataFrame:
    """Rows ``(seq, side, action, price, size[, flags[, ts]])``; flags default LAST, ts default seq * 1000."""
    cols: dict[str, list[int]] = {c: [] for c in BOOK_DELTAS.names}
    for r in rows:
        seq, side, action, price, size = r[:5]
        flags = r[5] if len(r) > 5 else LAST
        ts = r[6] if len(r) > 6 else seq * 1000
        for c, v in zip(
            ("ts_event", "ts_recv", "seq", "side", "action", "price", "size", "order_id", "flags"),
            (ts, ts, seq, side, action, price, size, 0, flags),
            strict=True,
        ):
            cols[c].append(v)
    return pl.DataFrame(cols, schema=BOOK_DELTAS.polars_schema())


def trades(rows: list[tuple[int, int, int]]) -> pl.DataFrame:
    """Rows ``(seq, size, ts)``."""
    n = len(rows)
    return pl.DataFrame(
        {
            "ts_event": [r[2] for r in rows],
            "ts_recv": [r[2] for r in rows],
            "seq": [r[0] for r in rows],
            "price": [100] * n,
            "size": [r[1] for r in rows],
            "aggressor": [1] * n,
            "kind": [0] * n,
            "trade_id": [0] * n,
            "order_id": [0] * n,
            "flags": [LAST] * n,
        },
        schema=TRADES.polars_schema(),
    )


def top(df: pl.DataFrame, row: int, depth: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    r = df.row(row, named=True)
    bids = [(r[f"bid_px_{k:02d}"], r[f"bid_sz_{k:02d}"]) for k in range(depth)]
    asks = [(r[f"ask_px_{k:02d}"], r[f"ask_sz_{k:02d}"]) for k in range(depth)]
    return bids, asks


def test_add_builds_sorted_levels_and_snapshot_columns() -> None:
    d = deltas(
        [
            (1, 1, ADD, 100, 5),
            (2, 1, ADD, 102, 3),
            (3, -1, ADD, 105, 7),
            (4, -1, ADD, 104, 1),
            (5, 1, ADD, 100, 2),
            (6, 1, ADD, 101, 4),
        ]
    )
    out = reconstruct(d, depth=3)
    validate(out, book_snapshots(3))
    assert out.columns[:5] == ["ts_event", "ts_recv", "seq", "bid_px_00", "bid_px_01"]
    assert out["seq"].to_list() == [1, 2, 3, 4, 5, 6]
    assert top(out, 0, 3) == ([(100, 5), (U, 0), (U, 0)], [(U, 0), (U, 0), (U, 0)])
    assert top(out, 3, 3) == ([(102, 3), (100, 5), (U, 0)], [(104, 1), (105, 7), (U, 0)])
    assert top(out, 5, 3) == ([(102, 3), (101, 4), (100, 7)], [(104, 1), (105, 7), (U, 0)])
    assert out["ts_event"].to_list() == [1000, 2000, 3000, 4000, 5000, 6000]


def test_reduce_execute_partial_full_clamp_and_missing() -> None:
    book = L2Book(depth=2)
    book.process(deltas([(1, 1, ADD, 100, 10), (2, 1, ADD, 99, 4), (3, -1, ADD, 101, 6)]))
    out = book.process(deltas([(4, 1, RED, 100, 3), (5, -1, EXE, 101, 2), (6, 1, EXE, 99, 4)]))
    assert top(out, 0, 2) == ([(100, 7), (99, 4)], [(101, 6), (U, 0)])
    assert top(out, 1, 2) == ([(100, 7), (99, 4)], [(101, 4), (U, 0)])
    assert top(out, 2, 2) == ([(100, 7), (U, 0)], [(101, 4), (U, 0)])  # exact reduction deletes the level
    assert book.stats.negative_clamps == 0
    out = book.process(deltas([(7, 1, RED, 100, 9), (8, -1, RED, 150, 1), (9, -1, EXE, 101, 1)]))
    assert top(out, 0, 2) == ([(U, 0), (U, 0)], [(101, 4), (U, 0)])  # 7 - 9 clamps to 0: level gone
    assert top(out, 1, 2) == ([(U, 0), (U, 0)], [(101, 4), (U, 0)])  # missing level: unchanged
    assert top(out, 2, 2) == ([(U, 0), (U, 0)], [(101, 3), (U, 0)])
    st = book.stats
    assert (st.negative_clamps, st.missing_level_reductions, st.events, st.rows) == (1, 1, 9, 9)
    qc = book.anomalies()
    assert qc["seq"].to_list() == [7, 8]
    assert qc["reason"].to_list() == ["negative_clamp", "missing_level"]


def test_set_is_absolute_and_zero_deletes() -> None:
    d = deltas(
        [
            (1, -1, SET, 200, 5),
            (2, -1, SET, 201, 6),
            (3, -1, SET, 200, 2),
            (4, -1, SET, 201, 0),
            (5, -1, SET, 300, 0),
            (6, 1, ADD, 150, 0),
        ]
    )
    book = L2Book(depth=2)
    out = book.process(d)
    assert top(out, 2, 2)[1] == [(200, 2), (201, 6)]
    assert top(out, 3, 2)[1] == [(200, 2), (U, 0)]
    assert top(out, 4, 2)[1] == [(200, 2), (U, 0)]  # SET 0 on an absent level: no-op, not an anomaly
    assert top(out, 5, 2)[0] == [(U, 0), (U, 0)]  # ADD 0 never creates an empty level
    assert book.stats.missing_level_reductions == 0


@pytest.mark.parametrize(("side", "bids", "asks"), [(1, 0, 2), (-1, 2, 0), (0, 0, 0)])
def test_clear(side: int, bids: int, asks: int) -> None:
    book = L2Book(depth=2)
    book.process(deltas([(1, 1, ADD, 10, 1), (2, 1, ADD, 9, 1), (3, -1, ADD, 11, 1), (4, -1, ADD, 12, 1)]))
    out = book.process(deltas([(5, side, CLR, 0, 0)]))
    assert len(book.levels(1)[0]) == bids
    assert len(book.levels(-1)[0]) == asks
    assert out.height == 1
    if bids == 0:
        assert book.best()[:2] == (U, 0)


def test_multi_row_event_emits_once_at_last() -> None:
    d = deltas(
        [
            (1, 1, ADD, 100, 5, 0),
            (1, 1, ADD, 99, 5, 0),
            (1, -1, ADD, 101, 5),
            (2, -1, EXE, 101, 5, 0),
            (2, -1, EXE, 102, 0, 0),
            (2, 1, ADD, 101, 1, LAST),
        ]
    )
    out = reconstruct(d, depth=2)
    assert out["seq"].to_list() == [1, 2]
    assert top(out, 0, 2) == ([(100, 5), (99, 5)], [(101, 5), (U, 0)])
    assert top(out, 1, 2) == ([(101, 1), (100, 5)], [(U, 0), (U, 0)])


def test_crossed_book_is_kept_and_counted() -> None:
    book = L2Book(depth=1)
    out = book.process(deltas([(1, 1, ADD, 100, 1), (2, -1, ADD, 99, 1), (3, -1, ADD, 100, 1)]))
    assert top(out, 1, 1) == ([(100, 1)], [(99, 1)])
    assert book.stats.crossed_events == 2
    assert book.best() == (100, 1, 99, 1)


def test_arbitrary_int64_prices_and_capacity_growth() -> None:
    lo, hi = -(2**63) + 3, 2**63 - 3
    rng = np.random.default_rng(7)
    prices = rng.choice(np.arange(-5000, 5000, dtype=np.int64) * 7919, size=600, replace=False)
    rows = [(i + 1, 1 if p < 0 else -1, ADD, int(p), 1 + i % 5) for i, p in enumerate(prices)]
    rows += [(700, 1, ADD, lo, 2), (701, -1, ADD, hi, 3)]
    book = L2Book(depth=3, capacity=2)
    book.process(deltas(rows))
    bp, bs = book.levels(1)
    ap, asz = book.levels(-1)
    neg = np.sort(prices[prices < 0])[::-1]
    pos = np.sort(prices[prices >= 0])
    assert bp.tolist() == [*neg.tolist(), lo]
    assert ap.tolist() == [*pos.tolist(), hi]
    assert bs[-1] == 2 and asz[-1] == 3
    assert book.keys.shape[1] >= 512


def _rows_events(n: int, seed: int) -> pl.DataFrame:
    """A random stream with multi-row events, anomalies and clears (not necessarily sane)."""
    rng = np.random.default_rng(seed)
    rows = []
    seq = 0
    ts = 1_000_000_000
    i = 0
    while i < n:
        seq += int(rng.integers(1, 3))  # gaps leave room for trade-only events
        ts += int(rng.integers(0, 3_000_000))
        k = int(rng.integers(1, 4))
        for j in range(k):
            side = int(rng.choice([1, -1]))
            a = int(rng.choice([ADD, ADD, ADD, RED, EXE, SET, CLR], p=[0.3, 0.1, 0.1, 0.2, 0.15, 0.14, 0.01]))
            px = int(rng.integers(95, 106)) * 10_000_000
            sz = int(rng.integers(0, 20))
            rows.append(
                (seq, side if a != CLR or rng.random() < 0.5 else 0, a, px, sz, LAST if j == k - 1 else 0, ts)
            )
            i += 1
    return deltas(rows)


def _trades_for(d: pl.DataFrame, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    seqs = np.arange(1, int(d["seq"].max()) + 1)  # includes seqs without deltas: trade-only events
    pick = np.sort(rng.choice(seqs, size=len(seqs) // 3, replace=False))
    rows = [(int(s), int(rng.integers(1, 40)), int(s) * 1000) for s in pick]
    return trades(rows)


CLOCKS = ["event", "events:3", "time:2ms", "volume:25", "trade"]


@pytest.mark.parametrize("clock", CLOCKS)
def test_streaming_in_chunks_equals_one_shot(clock: str) -> None:
    d = _rows_events(3000, seed=3)
    spec = ClockSpec.parse(clock)
    tr = _trades_for(d, 4) if spec.needs_trades else None
    one = L2Book(depth=4, clock=spec).process(d, tr)
    book = L2Book(depth=4, clock=spec, capacity=4)
    parts = []
    cuts = [0, 1, 2, 500, 501, 1777, 2999, d.height]
    for a, b in itertools.pairwise(cuts):
        ch = d.slice(a, b - a)
        t = None
        if tr is not None:
            lo = -1 if a == 0 else int(d["seq"][a - 1])
            hi = int(d["seq"][b - 1])
            t = tr.filter((pl.col("seq") > lo) & (pl.col("seq") <= hi))
        parts.append(book.process(ch, t))
    many = pl.concat(parts)
    assert one.height > 10
    assert many.equals(one)


def test_twins_agree_on_random_stream() -> None:
    d = _rows_events(1500, seed=11)
    cols = {
        c: d[c].to_numpy() for c in ("side", "action", "price", "size", "flags", "ts_event", "ts_recv", "seq")
    }
    vol = np.where(d["action"].to_numpy() == EXE, d["size"].to_numpy(), 0).astype(np.int64)
    results = []
    for fn in (K.process_deltas, K.process_deltas.py_func):
        for kind, every, v in (
            (K.CK_EVENT, 1, vol[:0]),
            (K.CK_TIME, 1_000_000, vol[:0]),
            (K.CK_VOLUME, 30, vol),
        ):
            keys, sizes, nlev = K.new_state(64)
            clk, stats = K.new_clock(), K.new_stats()
            m = 4000
            ots, orc, osq = (np.zeros(m, dtype=np.int64) for _ in range(3))
            olv = np.zeros((12, m), dtype=np.int64)
            an = (np.zeros(50, dtype=np.int64), np.zeros(50, dtype=np.int64), np.zeros(50, dtype=np.int8))
            r = fn(
                cols["side"],
                cols["action"],
                cols["price"],
                cols["size"],
                cols["flags"],
                cols["ts_event"],
                cols["ts_recv"],
                cols["seq"],
                v,
                0,
                keys,
                sizes,
                nlev,
                clk,
                stats,
                kind,
                every,
                3,
                ots,
                orc,
                osq,
                olv,
                0,
                *an,
            )
            assert r[2] == K.OK
            k = int(r[1])
            results.append(
                (k, ots[:k].copy(), olv[:, :k].copy(), stats.copy(), an[0].copy(), keys[:, :8].copy())
            )
    half = len(results) // 2
    for a, b in zip(results[:half], results[half:], strict=True):
        assert a[0] == b[0] and a[0] > 0
        for x, y in zip(a[1:], b[1:], strict=True):
            np.testing.assert_array_equal(x, y)


def test_synthetic_generator_twin_and_sane() -> None:
    outs = []
    for fn in (K.synth_stream, K.synth_stream.py_func):
        g = SyntheticStream(levels=8, seed=5)
        u = g.rng.random((3000, 4))
        m = 6000
        arrs = [
            np.zeros(m, dtype=t)
            for t in (np.int8, np.uint8, np.int64, np.int64, np.uint8, np.int64, np.int64)
        ]
        n = fn(u, 8, g.tick, g.keys, g.sizes, g.nlev, g.st, *arrs)
        outs.append([a[:n] for a in arrs])
    for x, y in zip(*outs, strict=True):
        np.testing.assert_array_equal(x, y)
    g = SyntheticStream(levels=8, seed=5)
    d = SyntheticStream.to_frame(g.next(20_000))
    validate(d, BOOK_DELTAS)
    book = L2Book(depth=1)
    book.process(d)
    st = book.stats
    assert st.events == 20_000
    assert (st.crossed_events, st.locked_events, st.negative_clamps, st.missing_level_reductions) == (
        0,
        0,
        0,
        0,
    )
    assert set(d["action"].unique().to_list()) == {ADD, RED, EXE, SET}


def test_stats_dataclass_and_validation_errors() -> None:
    assert BookStats().as_dict()["events"] == 0
    with pytest.raises(ValueError, match="depth"):
        L2Book(depth=0)
    book = L2Book()
    with pytest.raises(ValueError, match="side"):
        book.levels(0)
    assert reconstruct(BOOK_DELTAS.empty(), depth=2).columns == book_snapshots(2).names


def test_iter_process_splits_output_without_loss() -> None:
    d = _rows_events(2000, seed=21)
    want = L2Book(depth=2, clock=ClockSpec.parse("time:100us")).process(d)
    parts = list(L2Book(depth=2, clock=ClockSpec.parse("time:100us")).iter_process(d, max_rows=7))
    assert all(p.height <= 7 for p in parts) and len(parts) > 10
    assert pl.concat(parts).equals(want)
    assert want.height > 100


def test_low_level_apply_and_best_twins_match_the_engine() -> None:
    d = _rows_events(1200, seed=8)
    cols = {c: d[c].to_numpy() for c in ("side", "action", "price", "size")}
    states = []
    for apply, best in ((K.apply_deltas, K.best_bid_ask), (K.apply_deltas.py_func, K.best_bid_ask.py_func)):
        keys, sizes, nlev = K.new_state(2)
        stats = K.new_stats()
        start = 0
        while True:  # grow on demand, as L2Book does
            start, status = apply(
                cols["side"], cols["action"], cols["price"], cols["size"], keys, sizes, nlev, stats, start
            )
            if status == K.OK:
                break
            keys, sizes = K.grow_state(keys, sizes)
        states.append((tuple(int(x) for x in best(keys, sizes, nlev)), stats.copy(), nlev.copy()))
    assert states[0][0] == states[1][0]
    np.testing.assert_array_equal(states[0][1], states[1][1])
    book = L2Book(depth=1)
    book.process(d)
    assert states[0][0] == book.best()
    st = book.stats
    assert (st.rows, st.negative_clamps, st.missing_level_reductions) == tuple(
        int(states[0][1][i]) for i in (K.ST_ROWS, K.ST_NEG_CLAMPS, K.ST_MISSING)
    )
    assert st.negative_clamps > 0 and st.missing_level_reductions > 0


def _reference_apply(book: dict[int, dict[int, int]], side: int, action: int, price: int, size: int) -> int:
    """Dict model of ``apply_row`` (independent of the sorted-array kernels); returns the R_* code."""
    if action == K.A_NOOP:
        return K.R_OK
    if action == K.A_CLEAR:
        if side not in (1, -1, 0):
            return K.R_IGNORED
        for s in (1, -1):
            if side in (0, s):
                book[s].clear()
        return K.R_OK
    if side not in (1, -1) or price == UNDEF_PRICE or size < 0 or action > K.A_CLEAR:
        return K.R_IGNORED
    lv = book[side]
    old = lv.get(price)
    if old is None:
        new = size if action == K.A_SET else (size if action == K.A_ADD else -size)
        if new > 0:
            lv[price] = new
            return K.R_OK
        return K.R_MISSING if new < 0 else K.R_OK
    new = size if action == K.A_SET else old + (size if action == K.A_ADD else -size)
    if new > 0:
        lv[price] = new
        return K.R_OK
    del lv[price]
    return K.R_NEG_CLAMP if new < 0 else K.R_OK


@pytest.mark.parametrize("jitted", [True, False])
def test_apply_row_matches_a_dict_model_near_and_far_from_the_touch(jitted: bool) -> None:
    """Every row against a dict model: the near-touch window path, the scan/binary-search path, full state."""
    apply = K.apply_row if jitted else K.apply_row.py_func
    rng = np.random.default_rng(17)
    cap = 24  # small: the window path's ``n < capacity`` edge and R_FULL are both hit
    keys, sizes, nlev = K.new_state(cap)
    book: dict[int, dict[int, int]] = {1: {}, -1: {}}
    hits = {"full": 0, "near": 0, "far": 0}
    for _ in range(30_000):
        side = 1 if rng.random() < 0.5 else -1
        lv = book[side]
        u = rng.random()
        if lv and u < 0.6:  # an existing level: mostly near the touch, sometimes deep
            ordered = sorted(lv, reverse=side == 1)
            j = (
                min(int(rng.geometric(0.3)) - 1, len(ordered) - 1)
                if u < 0.5
                else int(rng.integers(len(ordered)))
            )
            price = ordered[j]
            hits["near" if j < K.NEAR else "far"] += 1
        else:  # any price around the book (new levels, inside the spread, missing levels)
            price = int(rng.integers(900, 1100)) * 7 - 3
        action = int(rng.choice([K.A_ADD, K.A_REDUCE, K.A_EXECUTE, K.A_SET]))
        size = int(rng.integers(0, 30)) if action == K.A_SET else int(rng.integers(0, 40))
        if rng.random() < 0.002:
            action, side = K.A_CLEAR, int(rng.choice([1, -1, 0]))
        want_book = {s: dict(v) for s, v in book.items()}
        want = _reference_apply(want_book, side, action, price, size)
        got = int(apply(keys, sizes, nlev, side, action, price, size))
        if got == K.R_FULL:  # nothing applied: the model must have wanted a new level on a full side
            s = 0 if side == 1 else 1
            assert nlev[s] == cap and price not in book[side] and want == K.R_OK
            hits["full"] += 1
            # make room the way a caller would not (drop the deepest level), to keep exercising a full book
            _reference_apply(book, side, K.A_SET, (~keys[s, 0]) if s else keys[s, 0], 0)
            got = int(apply(keys, sizes, nlev, side, K.A_SET, (~keys[s, 0]) if s else keys[s, 0], 0))
            assert got == K.R_OK
            continue
        assert got == want
        book = want_book
        for s, sd in ((0, 1), (1, -1)):
            n = int(nlev[s])
            prices = keys[s, :n] if s == 0 else ~keys[s, :n]
            assert dict(zip(prices.tolist(), sizes[s, :n].tolist(), strict=True)) == book[sd]
            assert np.all(np.diff(keys[s, :n]) > 0) and np.all(sizes[s, :n] > 0)
    assert hits["full"] > 10 and hits["near"] > 1000 and hits["far"] > 100, hits


def test_depth_one_snapshots_equal_the_top_of_deeper_ones() -> None:
    """The depth-1 emit path (straight-line selects) against level 1 of a depth-3 book, empty sides too."""
    rows: list[tuple[int, ...]] = [
        (1, 1, ADD, 100, 5),
        (2, -1, ADD, 105, 3),
        (3, 1, RED, 100, 5),
        (4, 0, CLR, 0, 0),
    ]
    d = pl.concat([deltas(rows), _rows_events(3000, seed=4).with_columns(pl.col("seq") + 10)])
    for kernel in (K.process_deltas, K.process_deltas.py_func):
        snaps = {}
        for depth in (1, 3):
            cols = {
                c: d[c].to_numpy()
                for c in ("side", "action", "price", "size", "flags", "ts_event", "ts_recv", "seq")
            }
            keys, sizes, nlev = K.new_state(4)
            clk, stats = K.new_clock(), K.new_stats()
            m = d.height
            ots, orc, osq = (np.zeros(m, dtype=np.int64) for _ in range(3))
            olv = np.full((4 * depth, m + 3), -7, dtype=np.int64)
            an = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8))
            start, n_out = 0, 0
            while True:
                start, n_out, status = kernel(
                    *(
                        cols[c]
                        for c in ("side", "action", "price", "size", "flags", "ts_event", "ts_recv", "seq")
                    ),
                    np.zeros(0, dtype=np.int64),
                    start,
                    keys,
                    sizes,
                    nlev,
                    clk,
                    stats,
                    K.CK_EVENT,
                    1,
                    depth,
                    ots,
                    orc,
                    osq,
                    olv,
                    n_out,
                    *an,
                )
                if status == K.OK:
                    break
                assert status == K.NEED_CAPACITY
                keys, sizes = K.grow_state(keys, sizes)
            snaps[depth] = (int(n_out), osq[:n_out].copy(), olv[:, :n_out].copy())
        n1, seq1, lv1 = snaps[1]
        n3, seq3, lv3 = snaps[3]
        assert n1 == n3 > 1000
        np.testing.assert_array_equal(seq1, seq3)
        np.testing.assert_array_equal(lv1, lv3[[0, 3, 6, 9]])
        assert lv1[0, 0] == 100 and lv1[2, 0] == U and lv1[3, 0] == 0  # bid only
        assert lv1[0, 3] == U and lv1[1, 3] == 0 and lv1[2, 3] == U  # after CLEAR: both sides empty


def test_hot_kernels_are_compiled_without_reference_counting() -> None:
    """Guard the main speed fix: with NRT on, inlined array helpers incref/decref on every row."""
    from orderflow._numba import HAVE_NUMBA

    if not HAVE_NUMBA:
        pytest.skip("JIT disabled")
    for kernel in (K.process_deltas, K.apply_deltas, K.synth_stream):
        assert kernel.targetoptions.get("_nrt") is False
