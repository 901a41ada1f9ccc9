"""Label kernels against independent straightforward computations (numpy, the plain book walk)."""

from __future__ import annotations

import numpy as np
import pytest

from orderflow.book.sweep import walk_book
from orderflow.labels._kernels import _walk_row, searchsorted_right


@pytest.mark.parametrize("seed", range(5))
def test_searchsorted_right_equals_numpy_for_any_query_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = np.sort(rng.integers(0, 50, 200)).astype(np.int64)  # many ties
    sorted_q = np.sort(rng.integers(-5, 60, 300)).astype(np.int64)
    shuffled = rng.permutation(sorted_q)
    with_gaps = sorted_q.copy()
    with_gaps[::7] = -1  # unknown rows (-1) inside an otherwise sorted column, as in horizon ends
    for q in (sorted_q, shuffled, with_gaps, np.zeros(0, np.int64)):
        want = np.searchsorted(a, q, side="right")
        assert np.array_equal(searchsorted_right(a, q), want)
        assert np.array_equal(searchsorted_right.py_func(a, q), want)
    assert np.array_equal(searchsorted_right(np.zeros(0, np.int64), sorted_q), np.zeros(300, np.int64))


def _walk_reference(px: np.ndarray, sz: np.ndarray, qty: float, extend: bool) -> tuple[float, float]:
    filled, notional = walk_book.py_func(px, sz, qty)
    if extend and 0.0 < filled < qty:
        worst = [p for p, s in zip(px, sz, strict=True) if s > 0 and p == p][-1]
        notional += (qty - filled) * worst
        filled = qty
    return filled, notional


@pytest.mark.parametrize("extend", [False, True])
def test_walk_row_equals_walking_the_row_view(extend: bool) -> None:
    rng = np.random.default_rng(3)
    px = np.round(100 + np.cumsum(rng.integers(1, 3, (400, 5)), axis=1) * 0.01, 2)
    sz = rng.integers(0, 300, (400, 5)).astype(np.float64)
    px[sz == 0] = np.nan
    px[rng.random((400, 5)) < 0.05] = np.nan  # empty levels anywhere
    for qty in (0.0, 1.0, 100.0, 250.0, 5000.0):
        for r in range(px.shape[0]):
            want = _walk_reference(px[r], sz[r], qty, extend)
            assert _walk_row(px, sz, r, qty, extend) == pytest.approx(want, nan_ok=True, rel=0, abs=0)
            assert _walk_row.py_func(px, sz, r, qty, extend) == pytest.approx(want, nan_ok=True, rel=0, abs=0)
