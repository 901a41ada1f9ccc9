"""L3 (order-level) book: hand-worked sequences, a dict-based reference, and the jit/plain twins."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from orderflow.book import _l3_kernels as K
from orderflow.book.l3 import (
    L3_ADD,
    L3_CANCEL,
    L3_CLEAR,
    L3_DELETE,
    L3_EXECUTE,
    L3_MODIFY,
    L3Book,
)
from orderflow.core.enums import UNDEF_PRICE, BookAction, Flags
from orderflow.core.schema import BOOK_DELTAS, validate

LAST = int(Flags.LAST)


def run(book: L3Book, rows: list[tuple[int, int, int, int, int, int]]) -> pl.DataFrame:
    """rows: (action, side, price, size, order_id, flags); seq = ts = row index."""
    n = len(rows)
    a = np.array(rows, dtype=object).reshape(n, 6)
    t = np.arange(n, dtype=np.int64)
    return book.apply(
        t,
        t + 1,
        t,
        a[:, 0].astype(np.uint8),
        a[:, 1].astype(np.int8),
        a[:, 2].astype(np.int64),
        a[:, 3].astype(np.int64),
        a[:, 4].astype(np.uint64),
        a[:, 5].astype(np.uint8),
    )


def deltas(df: pl.DataFrame) -> list[tuple[int, int, int, int, int, int, int]]:
    """(seq, side, action, price, size, order_id, flags) tuples."""
    return [
        tuple(int(x) for x in r)
        for r in df.select("seq", "side", "action", "price", "size", "order_id", "flags").rows()
    ]


ADD, RED, EXE, CLR = (
    int(BookAction.ADD),
    int(BookAction.REDUCE),
    int(BookAction.EXECUTE),
    int(BookAction.CLEAR),
)


def test_hand_worked_sequence() -> None:
    b = L3Book(capacity=64)
    out = run(
        b,
        [
            (L3_ADD, 1, 100, 5, 11, LAST),  # 0: bid 5 @100 (prio 1)
            (L3_ADD, 1, 100, 3, 12, LAST),  # 1: bid 3 @100 (prio 2)
            (L3_ADD, -1, 102, 4, 21, LAST),  # 2: ask 4 @102
            (L3_EXECUTE, -1, 0, 1, 21, 0),  # 3: trade 1 against 21 (event continues)
            (L3_CANCEL, 0, 0, 2, 11, LAST),  # 4: 11 reduced by 2 -> 3, keeps priority
            (L3_MODIFY, 1, 100, 6, 12, LAST),  # 5: 12 grows 3->6 at same price: ADD 3, loses priority
            (L3_MODIFY, 1, 101, 6, 11, LAST),  # 6: 11 moves to 101: REDUCE 3 @100, ADD 6 @101
            (L3_DELETE, 0, 0, 0, 21, LAST),  # 7: 21 removed: REDUCE 3 @102
            (L3_CANCEL, 0, 0, 1, 999, LAST),  # 8: unknown: no row
        ],
    )
    validate(out, BOOK_DELTAS)
    assert deltas(out) == [
        (0, 1, ADD, 100, 5, 11, LAST),
        (1, 1, ADD, 100, 3, 12, LAST),
        (2, -1, ADD, 102, 4, 21, LAST),
        (3, -1, EXE, 102, 1, 21, 0),
        (4, 1, RED, 100, 2, 11, LAST),
        (5, 1, ADD, 100, 3, 12, LAST),
        (6, 1, RED, 100, 3, 11, 0),  # only the last row of a record keeps LAST
        (6, 1, ADD, 101, 6, 11, LAST),
        (7, -1, RED, 102, 3, 21, LAST),
    ]
    # the unknown cancel (seq 8) produced nothing; its LAST was already on seq 7's row
    s = b.stats
    assert (s.records, s.unknown_order_refs, s.duplicate_adds, s.over_reductions) == (9, 1, 0, 0)
    assert b.order(21) is None
    assert b.order(12) == (1, 100, 6, 4)  # 4th priority stamp (grew at seq 5)
    assert b.order(11) == (1, 101, 6, 5)  # 5th stamp (moved at seq 6)
    assert b.depth_at(1, 100) == 6 and b.depth_at(1, 101) == 6 and b.depth_at(-1, 102) == 0
    assert b.best_bid() == 101 and b.best_ask() == UNDEF_PRICE
    assert len(b) == 2


def test_priority_and_queue_position() -> None:
    b = L3Book(capacity=64)
    run(
        b,
        [
            (L3_ADD, -1, 50, 1, 1, LAST),
            (L3_ADD, -1, 50, 2, 2, LAST),
            (L3_ADD, -1, 50, 3, 3, LAST),
            (L3_MODIFY, -1, 50, 1, 1, LAST),  # size down: keeps the front of the queue
            (L3_MODIFY, -1, 50, 5, 2, LAST),  # size up: to the back
        ],
    )
    assert b.queue_ahead(1) == (0, 0)
    assert b.queue_ahead(3) == (1, 1)  # only order 1 (size 1) ahead of 3
    assert b.queue_ahead(2) == (2, 4)  # 1 and 3 ahead
    assert b.count_at(-1, 50) == 3 and b.depth_at(-1, 50) == 9
    assert b.orders()["order_id"].to_list() == [1, 3, 2]


def test_over_reduction_duplicate_invalid_and_clear() -> None:
    b = L3Book(capacity=64)
    out = run(
        b,
        [
            (L3_ADD, 1, 100, 5, 7, LAST),
            (L3_CANCEL, 0, 0, 9, 7, LAST),  # over-reduction: removes the remaining 5
            (L3_ADD, 1, 100, 5, 8, LAST),
            (
                L3_ADD,
                -1,
                99,
                2,
                8,
                LAST,
            ),  # duplicate id: old bid removed, new ask added (crossed? no bid left)
            (L3_ADD, 0, 100, 5, 9, LAST),  # side 0: invalid, no row
            (L3_ADD, 1, UNDEF_PRICE, 5, 10, LAST),  # undefined price: invalid
            (L3_ADD, 1, 98, 1, 11, LAST),
            (L3_CLEAR, 0, 0, 0, 0, LAST),
            (L3_EXECUTE, 0, 0, 1, 11, LAST),  # unknown after clear
        ],
    )
    assert deltas(out) == [
        (0, 1, ADD, 100, 5, 7, LAST),
        (1, 1, RED, 100, 5, 7, LAST),
        (2, 1, ADD, 100, 5, 8, LAST),
        (3, 1, RED, 100, 5, 8, 0),
        (3, -1, ADD, 99, 2, 8, LAST),
        (6, 1, ADD, 98, 1, 11, LAST),
        (7, 0, CLR, UNDEF_PRICE, 0, 0, LAST),
    ]
    s = b.stats
    assert (s.over_reductions, s.duplicate_adds, s.invalid, s.unknown_order_refs, s.clears) == (1, 1, 2, 1, 1)
    assert len(b) == 0 and b.best_bid() == UNDEF_PRICE and b.best_ask() == UNDEF_PRICE


def test_crossed_flag_at_event_end() -> None:
    b = L3Book(capacity=64)
    run(
        b,
        [
            (L3_ADD, 1, 100, 1, 1, LAST),
            (L3_ADD, -1, 100, 1, 2, 0),  # locked, but the event is not over
            (L3_DELETE, 0, 0, 0, 2, LAST),  # ... and resolves before its end
            (L3_ADD, -1, 99, 1, 3, LAST),  # crossed at an event end
        ],
    )
    assert b.last_crossed.tolist() == [0, 0, 0, 1]
    assert b.stats.crossed_events == 1


def test_lost_last_across_calls_is_counted() -> None:
    b = L3Book(capacity=64)
    run(b, [(L3_ADD, 1, 100, 1, 1, 0)])
    out = run(b, [(L3_CANCEL, 0, 0, 1, 42, LAST)])
    assert out.height == 0 and b.stats.lost_last == 1


# -- randomised comparison with a straightforward dict-based reference ------------------------------


def random_stream(
    rng: np.random.Generator, n: int, n_ids: int = 300
) -> list[tuple[int, int, int, int, int, int]]:
    rows = []
    for _ in range(n):
        u = rng.random()
        oid = int(rng.integers(0, n_ids)) * 7919 + (1 << 63) * int(rng.random() < 0.1)  # ids above 2**63 too
        side = 1 if rng.random() < 0.5 else -1
        price = int(1000 + rng.integers(-20, 21) * 25)
        size = int(rng.integers(1, 10))
        fl = LAST if rng.random() < 0.7 else 0
        if u < 0.40:
            rows.append((L3_ADD, side, price, size, oid, fl))
        elif u < 0.60:
            rows.append((L3_CANCEL, 0, 0, size, oid, fl))
        elif u < 0.75:
            rows.append(
                (L3_MODIFY, side if rng.random() < 0.9 else 0, price, int(rng.integers(0, 10)), oid, fl)
            )
        elif u < 0.88:
            rows.append((L3_EXECUTE, 0, 0, size, oid, fl))
        elif u < 0.995:
            rows.append((L3_DELETE, 0, 0, 0, oid, fl))
        else:
            rows.append((L3_CLEAR, 0, 0, 0, 0, fl))
    return rows


def reference(
    rows: list[tuple[int, int, int, int, int, int]],
) -> tuple[list[tuple[int, ...]], dict[int, list[int]], dict[str, int]]:
    """The documented semantics, one record at a time, with a dict of orders."""
    book: dict[int, list[int]] = {}
    out: list[list[int]] = []
    st = {"unknown": 0, "dup": 0, "over": 0, "invalid": 0}
    prio = 0
    for seq, (a, sd, px, sz, oid, fl) in enumerate(rows):
        rows_here: list[list[int]] = []
        if a == L3_CLEAR:
            book.clear()
            rows_here.append([seq, 0, CLR, UNDEF_PRICE, 0, 0, fl])
        elif a == L3_ADD:
            if sd == 0 or px == UNDEF_PRICE or sz <= 0:
                st["invalid"] += 1
            else:
                if oid in book:
                    st["dup"] += 1
                    o = book[oid]
                    rows_here.append([seq, o[0], RED, o[1], o[2], oid, fl])
                prio += 1
                book[oid] = [sd, px, sz, prio]
                rows_here.append([seq, sd, ADD, px, sz, oid, fl])
        elif oid not in book:
            st["unknown"] += 1
        elif a in (L3_CANCEL, L3_EXECUTE, L3_DELETE):
            o = book[oid]
            q = o[2] if a == L3_DELETE else sz
            if q > o[2]:
                st["over"] += 1
                q = o[2]
            rows_here.append([seq, o[0], EXE if a == L3_EXECUTE else RED, o[1], q, oid, fl])
            o[2] -= q
            if o[2] == 0:
                del book[oid]
        elif a == L3_MODIFY:
            o = book[oid]
            nsd = o[0] if sd == 0 else sd
            if sz == 0:
                rows_here.append([seq, o[0], RED, o[1], o[2], oid, fl])
                del book[oid]
            elif px != o[1] or nsd != o[0]:
                rows_here.append([seq, o[0], RED, o[1], o[2], oid, fl])
                prio += 1
                book[oid] = [nsd, px, sz, prio]
                rows_here.append([seq, nsd, ADD, px, sz, oid, fl])
            elif sz > o[2]:
                rows_here.append([seq, o[0], ADD, o[1], sz - o[2], oid, fl])
                prio += 1
                o[2], o[3] = sz, prio
            elif sz < o[2]:
                rows_here.append([seq, o[0], RED, o[1], o[2] - sz, oid, fl])
                o[2] = sz
        for r in rows_here[:-1]:
            r[6] &= ~LAST & 0xFF
        if fl & LAST and not rows_here and out:
            out[-1][6] |= LAST
        out.extend(rows_here)
    return [tuple(r) for r in out], book, st


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_dict_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = random_stream(rng, 4000)
    exp_rows, exp_book, st = reference(rows)
    b = L3Book(capacity=16)  # forces several growths of both tables
    parts = []
    for lo in range(0, len(rows), 1000):  # streaming: state carries over between calls
        chunk = rows[lo : lo + 1000]
        n = len(chunk)
        a = np.array(chunk, dtype=object)
        t = np.arange(lo, lo + n, dtype=np.int64)
        parts.append(
            b.apply(
                t,
                t,
                t,
                a[:, 0].astype(np.uint8),
                a[:, 1].astype(np.int8),
                a[:, 2].astype(np.int64),
                a[:, 3].astype(np.int64),
                a[:, 4].astype(np.uint64),
                a[:, 5].astype(np.uint8),
            )
        )
    got = pl.concat(parts)
    validate(got, BOOK_DELTAS)
    got_rows = deltas(got)
    # LAST may be lost only across call boundaries (counted)
    strip = [r[:6] for r in got_rows]
    assert strip == [r[:6] for r in exp_rows]
    mism = sum(1 for g, e in zip(got_rows, exp_rows, strict=True) if g[6] != e[6])
    assert mism <= b.stats.lost_last
    s = b.stats
    assert (s.unknown_order_refs, s.duplicate_adds, s.over_reductions, s.invalid) == (
        st["unknown"],
        st["dup"],
        st["over"],
        st["invalid"],
    )
    assert len(b) == len(exp_book)
    for oid, (sd, px, sz, _) in exp_book.items():
        o = b.order(oid)
        assert o is not None and o[:3] == (sd, px, sz)
    # levels and queue positions from the reference
    for side in (1, -1):
        lv: dict[int, list[int]] = {}
        for sd, px, sz, _ in exp_book.values():
            if sd == side:
                lv.setdefault(px, [0, 0])
                lv[px][0] += sz
                lv[px][1] += 1
        px, sz, ct = b.levels(side)
        want = sorted(lv.items(), reverse=(side == 1))
        assert px.tolist() == [p for p, _ in want]
        assert sz.tolist() == [v[0] for _, v in want] and ct.tolist() == [v[1] for _, v in want]
        best = b.best_bid() if side == 1 else b.best_ask()
        assert best == (want[0][0] if want else UNDEF_PRICE)
    for oid, (sd, px, _, pr) in list(exp_book.items())[:50]:
        ahead = [o for o in exp_book.values() if o[0] == sd and o[1] == px and o[3] < pr]
        assert b.queue_ahead(oid) == (len(ahead), sum(o[2] for o in ahead))


def test_jit_and_plain_twins_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = random_stream(np.random.default_rng(7), 600, n_ids=60)
    outs = []
    for kernel in (K.l3_apply, K.l3_apply.py_func):
        monkeypatch.setattr(K, "l3_apply", kernel)
        b = L3Book(capacity=16)
        outs.append((run(b, rows), b.stats, b.orders()))
    assert outs[0][0].equals(outs[1][0])
    assert outs[0][1] == outs[1][1]
    assert outs[0][2].equals(outs[1][2])


def test_helpers_twins_agree() -> None:
    for key in (0, 1, 17, -5, 2**62 + 3, -(2**63)):
        for bits in (6, 10, 20):
            assert K.order_home(key, bits) == K.order_home.py_func(np.int64(key), bits)
            assert K.level_home(key, bits) == K.level_home.py_func(np.int64(key), bits)
            assert 0 <= K.order_home(key, bits) < (1 << bits)


def test_mismatched_lengths_raise() -> None:
    b = L3Book()
    z = np.zeros(3, np.int64)
    with pytest.raises(ValueError, match="side"):
        b.apply(z, z, z, z, z[:2], z, z, z, z)
