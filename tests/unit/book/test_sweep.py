from __future__ import annotations

import numpy as np

from orderflow.book.sweep import walk_book, walk_book_int
from orderflow.core.enums import UNDEF_PRICE


def test_walk_three_levels_hand_worked() -> None:
    px = np.array([100.0, 100.5, 101.0, np.nan])
    sz = np.array([2.0, 3.0, 10.0, 0.0])
    filled, notional = walk_book(px, sz, 6.0)
    # 2 @ 100 + 3 @ 100.5 + 1 @ 101 = 200 + 301.5 + 101
    assert filled == 6.0
    assert notional == 602.5
    assert walk_book(px, sz, 100.0)[0] == 15.0
    assert walk_book.py_func(px, sz, 6.0) == (filled, notional)


def test_walk_int_exact_and_twin() -> None:
    u = UNDEF_PRICE
    px = np.array([100_000_000_000, 100_500_000_000, u], dtype=np.int64)
    sz = np.array([2, 3, 0], dtype=np.int64)
    out = walk_book_int(px, sz, 4)
    assert out == (4, 2 * 100_000_000_000 + 2 * 100_500_000_000, 100_500_000_000)
    assert walk_book_int.py_func(px, sz, 4) == out
    assert walk_book_int(px, sz, 0) == (0, 0, u)
