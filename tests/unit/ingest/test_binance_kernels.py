"""Exact decimal parsing and the book kernel: plain-Python twins, Decimal ground truth, a dict book."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderflow.ingest._crypto import (
    JT_ARR,
    JT_ESC,
    JT_FALSE,
    JT_NULL,
    JT_NUM,
    JT_STR,
    JT_TRUE,
    L2Book,
    book_bbo_kernel,
    dec_to_int,
    int_to_dec,
    key_table,
    parse_decimal_ranges,
    parse_decimal_series,
    parse_decimals_kernel,
    parse_int_ranges,
    ranges_index,
    scan_json_lines,
    scan_pairs,
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


KEYS = ["e", "u", "b", "B", "m", "X", "data"]


def _scan(lines: list[bytes], fn=scan_json_lines):  # type: ignore[no-untyped-def]
    buf = np.frombuffer(b"\n".join(lines), dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    st = np.concatenate([[0], nl + 1]).astype(np.int64)
    en = np.concatenate([nl, [len(buf)]]).astype(np.int64)
    tab, ln = key_table(KEYS)
    ts, ok, vs, ve, vt = fn(buf, st, en, tab, ln, KEYS.index("data"))
    vals = [
        {
            KEYS[k]: (bytes(buf[vs[r, k] : ve[r, k]]).decode(), int(vt[r, k]))
            for k in range(len(KEYS))
            if vt[r, k]
        }
        for r in range(len(lines))
    ]
    return ts.tolist(), ok.tolist(), vals, buf, vs, ve


def test_json_scanner_hand_worked() -> None:
    lines = [
        b'17 {"stream":"x","data":{"e":"depthUpdate","u":5,"b":[["1.0","2"],["3","4"]],"m":true}}',
        b'18 { "u" : -7 , "B" : "2.5", "X": null, "zz": {"b": "nested is skipped"}, "m": false }',
        b'19 {"e":"a\\"b","u":1}',  # escaped string: reported as JT_ESC, not decoded
        b'20 {"u":1',  # truncated
        b'x {"u":1}',  # no integer prefix
        b'9223372036854775808 {"u":1}',  # prefix overflows int64
        b'21 {"u":1} trailing',
    ]
    for fn in (scan_json_lines, scan_json_lines.py_func):
        ts, ok, vals, _, _, _ = _scan(lines, fn)
        assert ok == [True, True, True, False, False, False, False]
        assert ts[:3] == [17, 18, 19]
        assert vals[0] == {
            "e": ("depthUpdate", JT_STR),
            "u": ("5", JT_NUM),
            "b": ('[["1.0","2"],["3","4"]]', JT_ARR),
            "m": ("true", JT_TRUE),
        }
        assert vals[1] == {
            "u": ("-7", JT_NUM),
            "B": ("2.5", JT_STR),
            "X": ("null", JT_NULL),
            "m": ("false", JT_FALSE),
        }
        assert vals[2]["e"][1] == JT_ESC


def test_pairs_and_ints() -> None:
    _, _, _, buf, vs, ve = _scan([b'1 {"b":[["1.5","0.001"], ["2","3"]]}', b'2 {"b":[]}', b'3 {"b":[["1"]]}'])
    k = KEYS.index("b")
    z = np.zeros(0, dtype=np.int64)
    for fn in (scan_pairs, scan_pairs.py_func):
        n, bad = fn(buf, vs[:2, k].copy(), ve[:2, k].copy(), False, z, z, z, z, z)
        assert (n, bad) == (2, -1)
        out = [np.zeros(n, dtype=np.int64) for _ in range(5)]
        fn(buf, vs[:2, k].copy(), ve[:2, k].copy(), True, *out)
        assert [bytes(buf[a:b]) for a, b in zip(out[0], out[1], strict=True)] == [b"1.5", b"2"]
        assert [bytes(buf[a:b]) for a, b in zip(out[2], out[3], strict=True)] == [b"0.001", b"3"]
        assert out[4].tolist() == [0, 0]
        assert fn(buf, vs[2:, k].copy(), ve[2:, k].copy(), False, z, z, z, z, z)[1] == 0  # not a pair
    data = np.frombuffer(b"123-45x9", dtype=np.uint8)
    for fn in (parse_int_ranges, parse_int_ranges.py_func):
        v, bad = fn(data, np.array([0, 3, 6, 0]), np.array([3, 6, 8, 0]))
        assert v[:2].tolist() == [123, -45] and bad.tolist() == [False, False, True, True]


def test_decimal_ranges_twin() -> None:
    data, offs = _buffers(GOOD + BAD)
    a = parse_decimal_ranges(data, offs[:-1], offs[1:], 9)
    b = parse_decimal_ranges.py_func(data, offs[:-1], offs[1:], 9)
    assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()
