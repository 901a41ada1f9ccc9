"""Exact decimal parsing and the book kernel: plain-Python twins, Decimal ground truth, a dict book."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderflow.ingest._crypto import (
    L2Book,
    book_bbo_kernel,
    dec_to_int,
    int_to_dec,
    parse_decimal_series,
    parse_decimals_kernel,
    ranges_index,
)

GOOD = ["61837.63000000", "0.00000000", "-0.5", ".5", "5", "5.", "1.0000000000", "00012.5", "0", "123456789"]
BAD = ["1.0000000001", "-", ".", "1e5", "1_0", " 1", "", "1.2.3", "+1", "abc", "99999999999999999999"]


def _buffers(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    data = "".join(values).encode()
    offs = np.zeros(len(values) + 1, dtype=np.int64)
    offs[1:] = np.cumsum([len(v) for v in values])
    return np.frombuffer(data, dtype=np.uint8) if data else np.zeros(1, np.uint8), offs


def _truth(v: str, digits: int) -> int:
    return int(Decimal(v) * 10**digits)


@pytest.mark.parametrize("digits", [8, 9])
def test_decimal_rules(digits: int) -> None:
    for v in GOOD:
        assert dec_to_int(v, digits) == _truth(v, digits)
    for v in BAD:
        with pytest.raises(ValueError):
            dec_to_int(v, digits)
    data, offs = _buffers(GOOD + BAD)
    for fn in (parse_decimals_kernel, parse_decimals_kernel.py_func):
        vals, bad = fn(data, offs, digits)
        assert bad.tolist() == [False] * len(GOOD) + [True] * len(BAD)
        assert vals[: len(GOOD)].tolist() == [_truth(v, digits) for v in GOOD]


def test_series_parser_handles_nulls_and_slices() -> None:
    s = pl.Series(["x", "1.5", None, "2", "-0.25"]).slice(1)
    vals, bad = parse_decimal_series(s, 9)
    assert bad.tolist() == [False, True, False, False]
    assert vals[[0, 2, 3]].tolist() == [1_500_000_000, 2_000_000_000, -250_000_000]


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(
        min_value=Decimal("-99999999"),
        max_value=Decimal("99999999"),
        places=8,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_decimal_roundtrip(d: Decimal) -> None:
    text = f"{d:f}"
    v = dec_to_int(text, 8)
    assert v == int(d * 10**8)
    assert Decimal(int_to_dec(v, 8)) == d
    data, offs = _buffers([text])
    assert parse_decimals_kernel(data, offs, 8)[0][0] == v


def test_ranges_index() -> None:
    s = np.array([3, 10, 10, 20])
    e = np.array([5, 10, 12, 21])
    assert ranges_index(s, e).tolist() == [3, 4, 10, 11, 20]
    assert ranges_index(np.array([2]), np.array([2])).tolist() == []


def _dict_book_bbo(ev_reset, ev_start, ev_end, side, price, size):  # type: ignore[no-untyped-def]
    book = L2Book()
    out = []
    for r, s0, e0 in zip(ev_reset, ev_start, ev_end, strict=True):
        if r:
            book.clear()
        for k in range(s0, e0):
            (book.set_bid if side[k] > 0 else book.set_ask)(int(price[k]), int(size[k]))
        out.append(book.bbo())
    return np.array(out, dtype=np.int64).reshape(-1, 4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_book_kernel_matches_dict_book_and_twin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    side = rng.choice(np.array([1, -1], dtype=np.int8), n)
    # bids below 1000, asks above: prices on a 0.01 grid in 1e-9 units
    ticks = rng.integers(1, 60, n)
    price = np.where(side > 0, 1000 - ticks, 1000 + ticks).astype(np.int64) * 10_000_000
    size = np.where(rng.random(n) < 0.35, 0, rng.integers(1, 10**8, n)).astype(np.int64)
    cuts = np.sort(rng.choice(np.arange(1, n), 300, replace=False))
    ev_start = np.concatenate([[0], cuts]).astype(np.int64)
    ev_end = np.concatenate([cuts, [n]]).astype(np.int64)
    ev_reset = np.zeros(len(ev_start), dtype=np.bool_)
    ev_reset[[0, 150]] = True
    want = _dict_book_bbo(ev_reset, ev_start, ev_end, side, price, size)
    got = book_bbo_kernel(ev_reset, ev_start, ev_end, side, price, size)
    assert np.array_equal(got, want)
    small = slice(0, 40)
    twin = book_bbo_kernel.py_func(ev_reset[small], ev_start[small], ev_end[small], side, price, size)
    assert np.array_equal(twin, want[small])


def test_book_kernel_hand_worked() -> None:
    # event 0: snapshot bid 100x1, 99x2, ask 101x3; event 1: delete bid 100, ask 100.5x4
    side = np.array([1, 1, -1, 1, -1], dtype=np.int8)
    price = np.array([100, 99, 101, 100, 100.5]) * 1e9
    size = np.array([1, 2, 3, 0, 4], dtype=np.int64)
    out = book_bbo_kernel(
        np.array([True, False]), np.array([0, 3]), np.array([3, 5]), side, price.astype(np.int64), size
    )
    assert out.tolist() == [[100 * 10**9, 1, 101 * 10**9, 3], [99 * 10**9, 2, 100_500_000_000, 4]]
