"""Random full-depth books written out as LOBSTER level-L pairs; ingestion must reproduce every row.

A plain dict book of the whole depth generates messages the way LOBSTER does (only events inside
the visible L levels are written, unless ``out_of_view`` asks for the others too) and the top-L
orderbook row after each. The ingested BOOK_DELTAS, replayed on a second dict book, must equal
every row; the verifier must find no mismatch and count the reveals exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from orderflow.core.enums import BookAction
from orderflow.ingest.lobster import read_lobster
from orderflow.ingest.lobster_verify import verify_lobster


def _top(book: dict[int, int], levels: int, bid: bool) -> list[tuple[int, int]]:
    return sorted(book.items(), reverse=bid)[:levels]


def _row(books: dict[int, dict[int, int]], levels: int) -> str:
    bids, asks = _top(books[1], levels, True), _top(books[-1], levels, False)
    f: list[int] = []
    for k in range(levels):
        ap, as_ = asks[k] if k < len(asks) else (9999999999, 0)
        bp, bs = bids[k] if k < len(bids) else (-9999999999, 0)
        f += [ap, as_, bp, bs]
    return ",".join(map(str, f))


def _simulate(seed: int, levels: int, n: int, out_of_view: bool) -> tuple[list[str], list[str], int]:
    rng = np.random.default_rng(seed)
    books: dict[int, dict[int, int]] = {1: {}, -1: {}}
    for p in range(99_00, 99_00 - 12, -1):
        books[1][p * 100] = int(rng.integers(1, 50))
    for p in range(100_00, 100_00 + 12):
        books[-1][p * 100] = int(rng.integers(1, 50))
    msgs: list[str] = []
    rows: list[str] = []
    reveals = 0
    t_ns = 34_200 * 10**9
    oid = 1
    while len(msgs) < n:
        t_ns += int(rng.integers(1, 10**8))
        side = 1 if rng.random() < 0.5 else -1
        book = books[side]
        top = _top(book, levels, side == 1)
        full = len(top) == levels
        worst = top[-1][0] if top else None
        u = rng.random()
        if u < 0.45 or len(book) < 2:  # new order near the touch
            other = books[-side]
            best_other = (min(other) if side == 1 else max(other)) if other else None
            ref = (max(book) if side == 1 else min(book)) if book else 99_50 * 100
            p = ref + side * int(rng.integers(-6, 2)) * 100
            if best_other is not None and side * (p - best_other) >= 0:  # never cross
                p = best_other - side * 100
            size = int(rng.integers(1, 40))
            beyond = full and worst is not None and side * (worst - p) > 0
            removes, mtype = False, 1
        else:
            prices = sorted(book, reverse=side == 1)
            k = int(rng.integers(0, min(len(prices), levels + 3)))
            p = prices[k]
            mtype = int(rng.choice([2, 3, 4]))
            size = book[p] if mtype != 2 or book[p] == 1 else int(rng.integers(1, book[p]))
            beyond = k >= levels
            removes = size == book[p]
        if beyond and not out_of_view:
            # the venue's book changes but a level-L file does not show the event
            if mtype == 1:
                book[p] = book.get(p, 0) + size
            else:
                book[p] -= size
                if book[p] == 0:
                    del book[p]
            continue
        if removes and full and not beyond:
            reveals += 1
        if mtype == 1:
            book[p] = book.get(p, 0) + size
        else:
            book[p] -= size
            if book[p] == 0:
                del book[p]
        sec, frac = divmod(t_ns, 10**9)
        msgs.append(f"{sec}.{frac:09d},{mtype},{oid},{size},{p},{side}")
        rows.append(_row(books, levels))
        oid += 1
        if rng.random() < 0.05:  # hidden execution: no book change, the row repeats
            t_ns += 1
            sec, frac = divmod(t_ns, 10**9)
            msgs.append(f"{sec}.{frac:09d},5,0,{int(rng.integers(1, 9))},{p},{side}")
            rows.append(rows[-1])
    return msgs, rows, reveals


def _write(tmp: Path, msgs: list[str], rows: list[str], levels: int) -> tuple[Path, Path]:
    m = tmp / f"SIM_2012-06-21_34200000_57600000_message_{levels}.csv"
    o = tmp / f"SIM_2012-06-21_34200000_57600000_orderbook_{levels}.csv"
    m.write_text("\n".join(msgs) + "\n")
    o.write_text("\n".join(rows) + "\n")
    return m, o


@pytest.mark.parametrize(
    ("seed", "levels", "out_of_view"),
    [(1, 1, False), (2, 2, False), (3, 5, False), (4, 10, False), (5, 3, True), (6, 1, True)],
)
def test_simulated_pair_replays_exactly(tmp_path: Path, seed: int, levels: int, out_of_view: bool) -> None:
    msgs, rows, reveals = _simulate(seed, levels, 1500, out_of_view)
    m, o = _write(tmp_path, msgs, rows, levels)
    res = verify_lobster(m, o)
    assert res["mismatches"] == 0, res["first_mismatch"]
    assert res["reveals"] == reveals > 0
    if out_of_view:
        assert res["out_of_view"] > 0
    day = read_lobster(m, o)
    books: dict[int, dict[int, int]] = {1: {}, -1: {}}
    d = day.deltas
    j, nd = 0, d.height
    seq, side, action, price, size = (d[c].to_list() for c in ("seq", "side", "action", "price", "size"))
    for r in range(len(rows) + 1):
        while j < nd and seq[j] == r:
            b = books[side[j]]
            if action[j] == BookAction.ADD:
                b[price[j]] = b.get(price[j], 0) + size[j]
            elif action[j] in (BookAction.REDUCE, BookAction.EXECUTE):
                b[price[j]] -= size[j]
                assert b[price[j]] >= 0
                if b[price[j]] == 0:
                    del b[price[j]]
            else:
                assert action[j] == BookAction.SET
                if size[j]:
                    b[price[j]] = size[j]
                else:
                    b.pop(price[j], None)
            j += 1
        if r:
            want = [int(x) for x in rows[r - 1].split(",")]
            got = [
                int(x)
                for x in _row(
                    {s: {p // 100_000: q for p, q in bk.items()} for s, bk in books.items()}, levels
                ).split(",")
            ]
            assert got == want, f"row {r}"
    assert j == nd
