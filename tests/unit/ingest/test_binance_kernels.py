"""Exact decimal parsing and the book kernel: plain-Python twins, Decimal ground truth, a dict book."""

from __future__ import annotations

import gzip
import zlib
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
    _gunzip,
    book_bbo_kernel,
    dec_to_int,
    decs_at,
    equals_at,
    int_to_dec,
    ints_at,
    key_table,
    parse_decimal_ranges,
    parse_decimal_series,
    parse_decimals_kernel,
    parse_int_ranges,
    ranges_index,
    scan_json_lines,
    scan_json_lines_into,
    scan_levels,
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


def test_int_ranges() -> None:
    data = np.frombuffer(b"123-45x9", dtype=np.uint8)
    for fn in (parse_int_ranges, parse_int_ranges.py_func):
        v, bad = fn(data, np.array([0, 3, 6, 0]), np.array([3, 6, 8, 0]))
        assert v[:2].tolist() == [123, -45] and bad.tolist() == [False, False, True, True]


def test_decimal_ranges_twin() -> None:
    data, offs = _buffers(GOOD + BAD)
    a = parse_decimal_ranges(data, offs[:-1], offs[1:], 9)
    b = parse_decimal_ranges.py_func(data, offs[:-1], offs[1:], 9)
    assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()


def test_book_kernel_grows_its_tables() -> None:
    """Thousands of distinct prices (the hash tables start at 1024 slots and are rebuilt), resets,
    deletions: the same BBOs as the dict book."""
    rng = np.random.default_rng(7)
    n = 40_000
    side = rng.choice(np.array([1, -1], dtype=np.int8), n)
    ticks = rng.integers(1, 20_000, n)
    price = np.where(side > 0, 50_000 - ticks, 50_000 + ticks).astype(np.int64) * 10_000_000
    size = np.where(rng.random(n) < 0.3, 0, rng.integers(1, 10**8, n)).astype(np.int64)
    cuts = np.sort(rng.choice(np.arange(1, n), 900, replace=False))
    cuts[100] = cuts[99] + 1 if cuts[100] > cuts[99] + 1 else cuts[100]
    ev_start = np.concatenate([[0], cuts]).astype(np.int64)
    ev_end = np.concatenate([cuts, [n]]).astype(np.int64)
    ev_start[50] = ev_start[49] = ev_end[49] - 3000 if ev_end[49] > 3000 else ev_start[49]  # a big event
    ev_end[49] = ev_start[50]
    ev_reset = np.zeros(len(ev_start), dtype=np.bool_)
    ev_reset[[0, 400]] = True
    want = _dict_book_bbo(ev_reset, ev_start, ev_end, side, price, size)
    assert np.array_equal(book_bbo_kernel(ev_reset, ev_start, ev_end, side, price, size), want)


def test_scan_levels_matches_pairs_then_decimals() -> None:
    lines = [
        b'1 {"b":[["1.5","0.001"], ["2","3"]]}',
        b'2 {"b":[]}',
        b'3 {"b":[ [ "0.1" , "7" ] ]}',
    ]
    _, _, _, buf, vs, ve = _scan(lines)
    k = KEYS.index("b")
    s0, e0 = vs[:, k].copy(), ve[:, k].copy()
    for fn in (scan_levels, scan_levels.py_func):
        rows, px, qty = (np.zeros(10, dtype=np.int64) for _ in range(3))
        n, bad = fn(buf, s0, e0, 9, 8, rows, px, qty)
        assert (n, bad) == (3, -1)
        assert rows[:n].tolist() == [0, 0, 2]
        assert px[:n].tolist() == [1_500_000_000, 2_000_000_000, 100_000_000]
        assert qty[:n].tolist() == [100_000, 300_000_000, 700_000_000]
        small = [np.zeros(2, dtype=np.int64) for _ in range(3)]
        assert fn(buf, s0, e0, 9, 8, *small)[1] == 2  # outputs too small: reported, never overrun
    for bad_line in (
        b'1 {"b":[["1"]]}',
        b'1 {"b":[["1e5","1"]]}',
        b'1 {"b":[["1","-"]]}',
        b'1 {"b":[["1","2"],]}',
    ):
        _, _, _, buf, vs, ve = _scan([bad_line])
        for fn in (scan_levels, scan_levels.py_func):
            out = [np.zeros(10, dtype=np.int64) for _ in range(3)]
            assert fn(buf, vs[:, k].copy(), ve[:, k].copy(), 9, 8, *out)[1] == 0, bad_line


def test_field_kernels_and_key_major_outputs() -> None:
    lines = [
        b'1 {"e":"trade","u":12,"b":"1.25","m":true}',
        b'2 {"e":"tradeX","u":-3,"b":"x"}',
        b'3 {"data":{"e":"trade","u":"7","b":"2"}}',
        b'4 {"u":1.5}',
    ]
    buf = _scan(lines)[3]
    tab, ln = key_table(KEYS)
    n, k = len(lines), len(KEYS)
    start = np.array([0, *[i + 1 for i, c in enumerate(buf.tolist()) if c == 10]], dtype=np.int64)
    end = np.array([*[i for i, c in enumerate(buf.tolist()) if c == 10], len(buf)], dtype=np.int64)
    # key-major outputs filled through transposed views == the row-major outputs of scan_json_lines
    t2, o2 = np.zeros(n, np.int64), np.zeros(n, np.bool_)
    vs2, ve2, vt2 = np.zeros((k, n), np.int64).T, np.zeros((k, n), np.int64).T, np.zeros((k, n), np.int8).T
    scan_json_lines_into(buf, start, end, tab, ln, KEYS.index("data"), t2, o2, vs2, ve2, vt2)
    ts1, ok1, vs1, ve1, vt1 = scan_json_lines(buf, start, end, tab, ln, KEYS.index("data"))
    for a, b in ((ts1, t2), (ok1, o2), (vs1, vs2), (ve1, ve2), (vt1, vt2)):
        assert np.array_equal(a, b)
    rows = np.arange(n, dtype=np.int64)
    ku, kb, ke = KEYS.index("u"), KEYS.index("b"), KEYS.index("e")
    for fn in (ints_at, ints_at.py_func):
        v, p = np.zeros(2, np.int64), np.zeros(2, np.bool_)
        assert fn(buf, vs1, ve1, vt1, rows[:2], ku, v, p) == 0 and v.tolist() == [12, -3] and p.all()
        v, p = np.zeros(3, np.int64), np.zeros(3, np.bool_)
        assert fn(buf, vs1, ve1, vt1, rows[:3], ku, v, p) == 1  # a string where a number belongs
        v, p = np.zeros(1, np.int64), np.zeros(1, np.bool_)
        assert fn(buf, vs1, ve1, vt1, rows[3:], ku, v, p) == 2  # not an integer
    for fn in (decs_at, decs_at.py_func):
        v = np.zeros(3, np.int64)
        assert fn(buf, vs1, ve1, vt1, rows[[0, 2]], kb, 2, v) == 0 and v[:2].tolist() == [125, 200]
        assert fn(buf, vs1, ve1, vt1, rows[:2], kb, 2, v) == 2
        assert fn(buf, vs1, ve1, vt1, rows[3:], kb, 2, v) == 1
    for fn in (equals_at, equals_at.py_func):
        out = np.zeros(n, np.bool_)
        fn(buf, vs1, ve1, vt1, rows, ke, np.frombuffer(b"trade", np.uint8).copy(), out)
        assert out.tolist() == [True, False, True, False]


def test_gunzip_members_padding_and_errors() -> None:
    a, b = b"line one\n" * 1000, b"line two\n" * 10
    two = gzip.compress(a) + gzip.compress(b) + b"\x00" * 8
    assert _gunzip(two) == gzip.decompress(two) == a + b
    assert _gunzip(gzip.compress(a)) == a
    bad = bytearray(gzip.compress(a))
    bad[-6] ^= 1  # CRC
    with pytest.raises((OSError, EOFError, zlib.error)):
        _gunzip(bytes(bad))
    with pytest.raises(EOFError):
        _gunzip(gzip.compress(a)[:-20])


def test_json_scanner_envelopes() -> None:
    """A ``data`` object replaces the envelope's keys (the last one wins, keys around it are dropped);
    a ``data`` value that is not an object is an ordinary key; a malformed inner object fails the line."""
    lines = [
        b'1 {"u":9,"data":{"e":"x","u":1},"m":true}',
        b'2 {"data":{"u":1},"data":{"b":"2"},"e":"y"}',
        b'3 {"data":"s","u":4}',
        b'4 {"e":"z","data":{"u":1,}}',
        b'5 {"data":{"u":1}}}',
        b'6 {"data":{"data":{"u":1},"u":2}}',
        b'7 {"data":{}}',
    ]
    for fn in (scan_json_lines, scan_json_lines.py_func):
        _, ok, vals, _, _, _ = _scan(lines, fn)
        assert ok == [True, True, True, False, False, True, True]
        assert vals[0] == {"e": ("x", JT_STR), "u": ("1", JT_NUM)}
        assert vals[1] == {"b": ("2", JT_STR)}
        assert vals[2] == {"data": ("s", JT_STR), "u": ("4", JT_NUM)}
        assert vals[5] == {"data": ('{"u":1}', 7), "u": ("2", JT_NUM)}
        assert vals[6] == {}
