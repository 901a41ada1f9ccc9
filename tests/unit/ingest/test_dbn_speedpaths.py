"""The fast paths of the DBN reader agree with the plain ones.

* ``decode_mbp_stream`` / ``scan_decode_mbp_stream`` (blocks through a cache-resident scratch,
  non-temporal stores, fields read at any alignment) == ``decode_mbp`` (the direct decoder, itself
  checked against databento_dbn in ``tests/unit/ingest/test_dbn_decode.py``), also chunked, on an
  unaligned region and as plain-Python twins.
* ``diff_levels`` (change bits per block, skipping unchanged levels) == the previous
  implementation, kept below as the reference, on random books (moved, crossed, duplicated and empty
  levels, repeated records, a small output that must grow).
* ``read_dbn`` of a memory-mapped file (record scan and decode in one pass) == reading it into
  memory, on every fixture (the compressed ones decompressed first).
* The small kernels (``distinct_gcd``, ``utc_days``, ``byte_counts``, ``crossed_rows``,
  ``stream_copy``) == numpy.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from orderflow.core.enums import UNDEF_PRICE
from orderflow.ingest import _dbn_kernels as K
from orderflow.ingest import dbn as D
from orderflow.testing import data_root

MBP_FIXTURES = (
    ("databento/fixtures-dbn/test_data.mbp-10.dbn", K.RTYPE_MBP10, 10),
    ("databento/fixtures-dbn/test_data.tbbo.v3.dbn.zst", K.RTYPE_MBP1, 1),
    ("databento/fixtures-dbn/test_data.trades.dbn", K.RTYPE_MBP0, 0),
    ("databento/glbx-mdp3/futures_mbp-1_2024-07-01T23-58_2024-07-02T00-02.dbn.zst", K.RTYPE_MBP1, 1),
    ("databento/fixtures-databento-python/GLBX.MDP3/test_data.mbp-10.dbn.zst", K.RTYPE_MBP10, 10),
)


def _region(path: Path) -> tuple[np.ndarray, np.ndarray, int, int, np.ndarray]:
    data, _ = D._read_bytes(path)
    _, _, start = D._metadata(data, path)
    u8, u32 = D._aligned_region(data, start)
    counts = np.zeros(256, np.int64)
    n, stop = K.scan_records(u8, len(u8), counts, np.zeros(256, np.int64))
    return u8, u32, int(n), int(stop), counts


def _unaligned(u8: np.ndarray) -> np.ndarray:
    buf = np.zeros(len(u8) + 8, np.uint8)
    out = buf[3 : 3 + len(u8)]
    out[:] = u8
    assert out.ctypes.data % 4 != 0
    return out


# ------------------------------------------------------------------------------------------------
# the previous diff_levels (plain Python): the reference of the new one


def _ref_distinct_prices(prev_px, base, depth):
    """The valid prices of ``prev_px[base:base + depth]`` are strictly monotone (hence distinct)."""
    inc = True
    dec = True
    last = np.int64(0)
    have = False
    for a in range(depth):
        p = prev_px[base + a]
        if p == K.UNDEF:
            continue
        if have:
            if p <= last:
                inc = False
            if p >= last:
                dec = False
        last = p
        have = True
    return inc or dec


def ref_diff_levels(
    lv_px, lv_sz, depth, i0, n, ts_event, ts_recv, seq, flags, out, pos, lost, prev_px, prev_sz
):
    """BOOK_DELTAS SET rows that turn each snapshot into the next (row-wise, both sides).

    ``lv_px/lv_sz[side * depth + j, i]`` are record ``i``'s levels (K.UNDEF price = empty level).
    ``prev_px/prev_sz[2 * depth]`` hold the book before record 0 (updated in place, so chunks
    chain). A price present before and absent now gets SET 0; a price whose size changed (or is
    new) gets SET size. Rows go to ``out[9, m]`` (ts_event, ts_recv, seq, side, action, price,
    size, order_id, flags). Only the last row of a record keeps LAST; when a LAST record changes
    nothing, LAST moves onto the previous row. Processes records ``i0 .. n-1`` writing from row
    ``pos``; stops before a record that might not fit (``4 * depth`` rows) and returns
    ``(next_record, rows, lost_last)`` so the caller can grow ``out`` and resume.
    """
    cap = out.shape[1]
    i = i0
    mono_bid = _ref_distinct_prices(prev_px, 0, depth)  # kept up to date as prev_px changes
    mono_ask = _ref_distinct_prices(prev_px, depth, depth)
    while i < n:
        if pos + 4 * depth > cap:
            return i, pos, lost
        start = pos
        fl = np.int64(flags[i])
        moved_bid = False
        moved_ask = False
        for s in range(2):
            sd = 1 if s == 0 else -1
            base = s * depth
            # fast path, the usual update: the side's prices are where they were and distinct
            # (strictly monotone), so a price can only match at its own level
            same = True
            for a in range(depth):
                if lv_px[base + a, i] != prev_px[base + a]:
                    same = False
                    break
            if s == 0:
                moved_bid = not same
            else:
                moved_ask = not same
            if same and (mono_bid if s == 0 else mono_ask):
                for a in range(depth):
                    p = prev_px[base + a]
                    if p == K.UNDEF or prev_sz[base + a] == 0 or lv_sz[base + a, i] != 0:
                        continue
                    out[0, pos] = ts_event[i]
                    out[1, pos] = ts_recv[i]
                    out[2, pos] = seq[i]
                    out[3, pos] = sd
                    out[4, pos] = K.D_SET
                    out[5, pos] = p
                    out[6, pos] = 0
                    out[7, pos] = 0
                    out[8, pos] = fl
                    pos += 1
                for b in range(depth):
                    q = lv_px[base + b, i]
                    qs = np.int64(lv_sz[base + b, i])
                    if q == K.UNDEF or qs == 0:
                        continue
                    old = prev_sz[base + b]
                    if old == 0:
                        old = -1
                    if old != qs:
                        out[0, pos] = ts_event[i]
                        out[1, pos] = ts_recv[i]
                        out[2, pos] = seq[i]
                        out[3, pos] = sd
                        out[4, pos] = K.D_SET
                        out[5, pos] = q
                        out[6, pos] = qs
                        out[7, pos] = 0
                        out[8, pos] = fl
                        pos += 1
                continue
            # the previous side's live prices are distinct when strictly monotone (the normal case):
            # then any match is the first match and the searches below may start at the same level
            inc = True
            dec = True
            last = np.int64(0)
            have = False
            for a in range(depth):
                p = prev_px[base + a]
                if p == K.UNDEF or prev_sz[base + a] == 0:
                    continue
                if have:
                    if p <= last:
                        inc = False
                    if p >= last:
                        dec = False
                last = p
                have = True
            distinct = inc or dec
            # removed levels (any match will do: searched from the same level on, wrapping around)
            for a in range(depth):
                p = prev_px[base + a]
                if p == K.UNDEF or prev_sz[base + a] == 0:
                    continue
                found = False
                for t in range(depth):
                    b = a + t
                    if b >= depth:
                        b -= depth
                    if lv_px[base + b, i] == p and lv_sz[base + b, i] != 0:
                        found = True
                        break
                if not found:
                    out[0, pos] = ts_event[i]
                    out[1, pos] = ts_recv[i]
                    out[2, pos] = seq[i]
                    out[3, pos] = sd
                    out[4, pos] = K.D_SET
                    out[5, pos] = p
                    out[6, pos] = 0
                    out[7, pos] = 0
                    out[8, pos] = fl
                    pos += 1
            # new or changed levels
            for b in range(depth):
                q = lv_px[base + b, i]
                qs = np.int64(lv_sz[base + b, i])
                if q == K.UNDEF or qs == 0:
                    continue
                old = np.int64(-1)
                for t in range(depth):
                    a = t
                    if distinct:
                        a = b + t
                        if a >= depth:
                            a -= depth
                    if prev_px[base + a] == q and prev_sz[base + a] != 0:
                        old = prev_sz[base + a]
                        break
                if old != qs:
                    out[0, pos] = ts_event[i]
                    out[1, pos] = ts_recv[i]
                    out[2, pos] = seq[i]
                    out[3, pos] = sd
                    out[4, pos] = K.D_SET
                    out[5, pos] = q
                    out[6, pos] = qs
                    out[7, pos] = 0
                    out[8, pos] = fl
                    pos += 1
        for j in range(2 * depth):
            prev_px[j] = lv_px[j, i]
            prev_sz[j] = lv_sz[j, i]
        if moved_bid:
            mono_bid = _ref_distinct_prices(prev_px, 0, depth)
        if moved_ask:
            mono_ask = _ref_distinct_prices(prev_px, depth, depth)
        for j in range(start, pos - 1):
            out[8, j] = out[8, j] & K.NOT_LAST
        if (fl & K.F_LAST) != 0 and pos == start:
            if pos > 0:
                out[8, pos - 1] = out[8, pos - 1] | K.F_LAST
            else:
                lost += 1
        i += 1
    return i, pos, lost


# ------------------------------------------------------------------------------------------------
# decoders


@pytest.mark.realdata
@pytest.mark.parametrize(("rel", "rt", "depth"), MBP_FIXTURES)
def test_stream_decoder_matches_direct(rel: str, rt: int, depth: int, shared_data: Any) -> None:
    u8, u32, _, stop, counts = _region(shared_data(rel))
    m = int(counts[rt])
    want = D.mbp_buffers(m, depth)
    assert K.decode_mbp(u8, u32, 0, 0, stop, rt, depth, m, *want.values())[0] == m
    for fn, region, block, chunk in (
        (K.decode_mbp_stream, u8, K.MBP_BLOCK, m),
        (K.decode_mbp_stream, u8, 1, m),
        (K.decode_mbp_stream, u8, 3, 5),
        (K.decode_mbp_stream, _unaligned(u8), 7, m),
        (K.decode_mbp_stream.py_func, u8, 2, 3),
    ):
        got = D.mbp_buffers(m, depth)
        scratch = D.mbp_stream_scratch(depth, block)
        off, r, total = 0, 0, 0
        while True:  # views starting at `total`: any alignment of the outputs
            views = [a[:, total:] if a.ndim == 2 else a[total:] for a in got.values()]
            kk, off, r = fn(region, u32, off, r, stop, rt, depth, min(chunk, m - total), *views, *scratch)
            if kk == 0:
                break
            total += kk
        assert total == m and off == stop
        for name in want:
            assert np.array_equal(got[name][..., :m], want[name][..., :m]), (rel, name, block, chunk)
    cols = D.decode_mbp_columns(u8, None, stop, m, rt, depth)
    for name in want:
        assert np.array_equal(cols[name], want[name][..., :m]), name


@pytest.mark.realdata
@pytest.mark.parametrize(("rel", "rt", "depth"), MBP_FIXTURES)
def test_scan_decode_matches_scan_then_decode(rel: str, rt: int, depth: int, shared_data: Any) -> None:
    u8, _, _, _, _ = _region(shared_data(rel))
    for region in (u8, u8[: len(u8) - 5], _unaligned(u8)):  # whole, truncated inside a record, unaligned
        c1, s1 = np.zeros(256, np.int64), np.zeros(256, np.int64)
        n, stop = K.scan_records(region, len(region), c1, s1)
        want = D.decode_mbp_columns(region, None, stop, int(c1[rt]), rt, depth)
        c2, s2 = np.zeros(256, np.int64), np.zeros(256, np.int64)
        n2, stop2, got = D.scan_decode_mbp_columns(region, c2, s2, rt, depth)
        assert (n2, stop2) == (n, stop)
        assert np.array_equal(c1, c2) and np.array_equal(s1, s2)
        for name in want:
            assert np.array_equal(got[name], want[name]), name


@pytest.mark.realdata
def test_scan_decode_with_too_small_outputs_still_counts(shared_data: Any) -> None:
    """The safety net: outputs smaller than the records only cut the rows, never the count."""
    u8, _, n, stop, counts = _region(
        shared_data("databento/glbx-mdp3/futures_mbp-1_2024-07-01T23-58_2024-07-02T00-02.dbn.zst")
    )
    m = int(counts[K.RTYPE_MBP1])
    assert m > 3
    cols = D.mbp_buffers(3, 1)
    c, s = np.zeros(256, np.int64), np.zeros(256, np.int64)
    got = K.scan_decode_mbp_stream(
        u8, len(u8), c, s, K.RTYPE_MBP1, 1, 3, *cols.values(), *D.mbp_stream_scratch(1, 2)
    )
    assert got == (n, stop, 3) and np.array_equal(c, counts)


# ------------------------------------------------------------------------------------------------
# differencing


def _random_books(
    rng: np.random.Generator, n: int, depth: int, clean: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Snapshots that mostly change a level or two, sometimes move, repeat, empty or duplicate
    levels (not when ``clean``), or cross."""
    px = np.empty((2 * depth, n), np.int64)
    sz = np.empty((2 * depth, n), np.int64)
    mid = 1000
    bid = mid - 1 - np.arange(depth)
    ask = mid + 1 + np.arange(depth)
    bsz = rng.integers(1, 9, depth)
    asz = rng.integers(1, 9, depth)
    for i in range(n):
        u = rng.random()
        if u < 0.15:
            pass  # the same book again
        elif u < 0.55:
            side = bsz if rng.random() < 0.5 else asz
            side[rng.integers(depth)] = rng.integers(0, 9)
        elif u < 0.75:  # the book moves
            shift = int(rng.integers(-2, 3))
            bid, ask = bid + shift, ask + shift
            bsz, asz = np.roll(bsz, shift), np.roll(asz, -shift)
        elif u < 0.85 and not clean:  # duplicated or unordered prices
            j = rng.integers(depth)
            bid = bid.copy()
            bid[j] = bid[rng.integers(depth)]
        elif u < 0.92:  # crossed
            bid, ask = ask.copy(), bid.copy()
        else:  # fresh levels, some empty
            bid = mid - 1 - np.sort(rng.choice(3 * depth, depth, replace=False))
            ask = mid + 1 + np.sort(rng.choice(3 * depth, depth, replace=False))
            bsz, asz = rng.integers(0, 9, depth), rng.integers(0, 9, depth)
        b, a = bid.astype(np.int64) * 10**9, ask.astype(np.int64) * 10**9
        b_sz, a_sz = bsz.copy(), asz.copy()
        for p, s in ((b, b_sz), (a, a_sz)):
            empty = rng.random(depth) < 0.08
            p[empty] = UNDEF_PRICE
            s[empty] = 0
        px[:depth, i], px[depth:, i] = b, a
        sz[:depth, i], sz[depth:, i] = b_sz, a_sz
    return px, sz


def _diff_all(
    fn: Any, px: np.ndarray, sz: np.ndarray, depth: int, flags: np.ndarray, cap: int
) -> tuple[Any, ...]:
    n = px.shape[1]
    ts = np.arange(n, dtype=np.int64) * 7 + 5
    seq = np.arange(n, dtype=np.int64) + 100
    out = np.zeros((9, cap), np.int64)
    prev_px = np.full(2 * depth, UNDEF_PRICE, np.int64)
    prev_sz = np.zeros(2 * depth, np.int64)
    i, m, lost = 0, 0, 0
    while True:
        i, m, lost = fn(px, sz, depth, i, n, ts, ts + 1, seq, flags, out, m, lost, prev_px, prev_sz)
        if i >= n:
            break
        bigger = np.zeros((9, 2 * out.shape[1]), np.int64)
        bigger[:, :m] = out[:, :m]
        out = bigger
    return out[:, :m].copy(), lost, prev_px.copy(), prev_sz.copy()


@pytest.mark.parametrize("depth", [1, 3, 10, 17])
def test_diff_levels_matches_previous_implementation(depth: int) -> None:
    rng = np.random.default_rng(depth)
    n = 400
    px, sz = _random_books(rng, n, depth)
    flags = np.where(rng.random(n) < 0.8, 128, 0).astype(np.uint8) | rng.choice([0, 8, 32], n).astype(
        np.uint8
    )
    flags[0] = 128  # a LAST record that changes nothing is possible at once
    want = _diff_all(ref_diff_levels, px, sz, depth, flags, 2 * n + 4 * depth + 16)
    assert want[0].shape[1] > n // 2  # the books do change
    c_px = D._c_rows(px[:, : n - 1])  # as read_dbn passes them: C rows over a column prefix
    c_sz = D._c_rows(sz[:, : n - 1])
    assert c_px.flags.c_contiguous
    for fn, a_px, a_sz, cap in (
        (K.diff_levels, px, sz, 2 * n + 4 * depth + 16),
        (K.diff_levels, px, sz, 4 * depth + 1),  # grows (and resumes) many times
        (K.diff_levels, c_px, c_sz, 4 * depth + 1),
        (K.diff_levels.py_func, px, sz, 4 * depth + 1),
    ):
        m = a_px.shape[1]
        ref = want if m == n else _diff_all(ref_diff_levels, px[:, :m], sz[:, :m], depth, flags, cap)
        got = _diff_all(fn, a_px, a_sz, depth, flags, cap)
        for x, y in zip(got, ref, strict=True):
            assert np.array_equal(x, y)


@pytest.mark.parametrize("depth", [1, 3, 10, 17])
def test_diff_levels_replays_to_the_snapshots(depth: int) -> None:
    """Ground truth: applying the SET rows of each record to a book of price -> size per side gives
    exactly the snapshot's visible levels (books with distinct prices per side, moving, crossing,
    emptying levels)."""
    rng = np.random.default_rng(100 + depth)
    n = 400
    px, sz = _random_books(rng, n, depth, clean=True)
    flags = np.full(n, 128, np.uint8)
    out, _, _, _ = _diff_all(K.diff_levels, px, sz, depth, flags, 4 * depth + 1)
    seq, side, price, size = out[2], out[3], out[5], out[6]
    assert set(np.unique(side).tolist()) <= {1, -1} and (out[4] == K.D_SET).all()
    book: dict[int, dict[int, int]] = {1: {}, -1: {}}
    r = 0
    for i in range(n):
        while r < seq.shape[0] and seq[r] == 100 + i:
            lv = book[int(side[r])]
            if size[r] == 0:
                lv.pop(int(price[r]), None)
            else:
                lv[int(price[r])] = int(size[r])
            r += 1
        for sd, rows in ((1, slice(0, depth)), (-1, slice(depth, 2 * depth))):
            want = {
                int(p): int(q)
                for p, q in zip(px[rows, i], sz[rows, i], strict=True)
                if p != UNDEF_PRICE and q
            }
            assert book[sd] == want, (i, sd)
    assert r == seq.shape[0]


# ------------------------------------------------------------------------------------------------
# read_dbn through a memory map


def _uncompressed_fixtures(tmp_path: Path) -> list[Path]:
    root = data_root() / "databento"
    if not root.exists():
        return []
    out = []
    for p in sorted(root.rglob("*.dbn*")):
        if p.name.endswith(".zst"):
            data, trunc = D._read_bytes(p)
            if trunc:
                continue
            q = tmp_path / p.relative_to(root).as_posix().replace("/", "__").removesuffix(".zst")
            q.write_bytes(data)
            out.append(q)
        else:
            out.append(p)
    return out


def _summary(res: D.DbnResult) -> Any:
    parts = [
        (p.instrument, p.date, p.source, p.depth, p.book_deltas, p.trades, p.qc, p.book_snapshots)
        for p in res.partitions
    ]
    stats = res.stats.as_dict()
    return parts, {k: D._report_dict(v) for k, v in res.reports.items()}, stats, res.instruments, res.warnings


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, pl.DataFrame):
        return isinstance(b, pl.DataFrame) and a.schema == b.schema and a.equals(b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.realdata
def test_read_dbn_mapped_equals_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_data: Any
) -> None:
    shared_data("databento/fixtures-dbn/test_data.mbp-10.dbn")  # skips (or fails in CI) without data
    files = _uncompressed_fixtures(tmp_path)
    assert len(files) > 20
    mapped = 0
    for path in files:
        monkeypatch.setattr(D, "_MMAP_MIN", 1 << 62)
        with warnings.catch_warnings():  # truncation warnings are in the summary (res.warnings)
            warnings.simplefilter("ignore")
            want = _summary(D.read_dbn(path))
        monkeypatch.setattr(D, "_MMAP_MIN", 0)
        data, _, scanned = D._read_for_decode(path)
        if D._is_mapped(data):
            mapped += 1
            assert scanned is None
        del data
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = _summary(D.read_dbn(path))
        assert _same(got, want), path.name
    assert mapped == len(files)


# ------------------------------------------------------------------------------------------------
# small kernels


def _gcd_reference(prices: np.ndarray, need: int, limit: int) -> tuple[int, int]:
    p = prices[(prices != UNDEF_PRICE) & (prices != 0)][:limit]
    u = np.unique(p)
    return min(len(u), need), int(np.gcd.reduce(np.abs(u))) if len(u) else 0


def test_distinct_gcd_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    for trial in range(60):
        n = int(rng.integers(0, 400))
        tick = int(rng.choice([1, 250_000_000, 10_000_000, 5, 3 * 2**40]))
        prices = rng.integers(-50, 2000, n).astype(np.int64) * tick
        prices[rng.random(n) < 0.1] = UNDEF_PRICE
        if trial % 3 == 0:
            prices = np.repeat(prices, 3)  # runs of one price
        need = int(rng.choice([1, 5, 50, 200]))
        limit = int(rng.choice([10, 100, 1_000_000]))
        want = _gcd_reference(prices, need, limit)
        for fn in (K.distinct_gcd, K.distinct_gcd.py_func):
            d, g = fn(prices, need, limit)
            assert (int(d), int(g)) == want, (trial, fn)
    edge = np.array([5, -(2**63), 7], np.int64)
    assert K.distinct_gcd(edge, 50, 10)[0] == -1


def test_utc_days_byte_counts_crossed_rows_match_numpy() -> None:
    rng = np.random.default_rng(4)
    n = 1001
    day = 86_400 * 10**9
    ts_event = rng.integers(-3 * day, 5 * day, n).astype(np.int64)
    ts_recv = np.where(rng.random(n) < 0.2, -1, ts_event + rng.integers(0, day // 2, n)).astype(np.int64)
    want_days = np.where(ts_recv == -1, ts_event, ts_recv) // day
    for fn in (K.utc_days, K.utc_days.py_func):
        out = np.empty(n, np.int64)
        assert fn(ts_recv, ts_event, out) == int(np.count_nonzero(want_days[1:] != want_days[:-1]))
        assert np.array_equal(out, want_days)
    assert K.utc_days(ts_recv[:1], ts_event[:1], np.empty(1, np.int64)) == 0
    assert D._day_starts(np.array([3, 3, 4, 4, 3])) == [0, 2, 4, 5] and D._day_starts(np.array([2, 2])) == [
        0,
        2,
    ]
    for m in (0, 1, 3, 4, 7, 1001):
        a = rng.integers(0, 256, m).astype(np.uint8)
        for fn in (K.byte_counts, K.byte_counts.py_func):
            hist = np.zeros(256, np.int64)
            fn(a, hist)
            assert np.array_equal(hist, np.bincount(a, minlength=256))
    flags = rng.choice([0, 128, 130, 8], n).astype(np.uint8)
    bid = rng.integers(90, 110, n).astype(np.int64)
    ask = rng.integers(90, 110, n).astype(np.int64)
    bid[rng.random(n) < 0.1] = UNDEF_PRICE
    ask[rng.random(n) < 0.1] = UNDEF_PRICE
    want = np.flatnonzero(((flags & 128) != 0) & (bid != UNDEF_PRICE) & (ask != UNDEF_PRICE) & (bid >= ask))
    for fn in (K.crossed_rows, K.crossed_rows.py_func):
        idx = np.empty(n, np.int64)
        assert np.array_equal(idx[: fn(flags, bid, ask, idx)], want)
    fl = rng.integers(0, 256, n).astype(np.uint8)
    assert D._flag_counts(fl) == {
        name: int(np.count_nonzero(fl & bit))
        for name, bit in (
            ("last", 128),
            ("tob", 64),
            ("snapshot", 32),
            ("mbp", 16),
            ("bad_ts_recv", 8),
            ("maybe_bad_book", 4),
        )
    }


@pytest.mark.parametrize("dtype", [np.int64, np.uint32, np.uint8, np.int16])
def test_stream_copy_matches_slice_assignment(dtype: Any) -> None:
    rng = np.random.default_rng(5)
    src_all = rng.integers(0, 100, 300).astype(dtype)
    for fn in (K.stream_copy, K.stream_copy.py_func):
        for d0 in (0, 1, 3, 5, 8, 13):
            for n in (0, 1, 7, 31, 64, 129, 250):
                dst = np.zeros(300 + d0, dtype)
                src = src_all[1 : 1 + n]  # unaligned source
                fn(dst, d0, src, n)
                K.store_fence()
                want = np.zeros(300 + d0, dtype)
                want[d0 : d0 + n] = src
                assert np.array_equal(dst, want), (fn, d0, n)
        strided = np.zeros(600, dtype)
        fn(strided[::2], 3, src_all, 100)
        assert np.array_equal(strided[6:206:2], src_all[:100]) and not strided[1::2].any()
