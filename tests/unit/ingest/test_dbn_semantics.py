"""DBN semantics on hand-built record streams: MBO book rules, snapshots, flags, QC, mbp differencing,
truncation and unknown rtypes. Files are built with struct from the DBN record layouts; each test
first checks that databento_dbn decodes the hand-built bytes to the intended records.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import databento_dbn as dbn
import numpy as np
import polars as pl
import pytest

from orderflow.core.enums import UNDEF_PRICE, BookAction
from orderflow.core.io import Dataset
from orderflow.core.schema import BOOK_DELTAS, QC, TRADES, validate
from orderflow.ingest.dbn import DbnTruncationWarning, ingest_dbn, read_dbn, verify_dbn

PX = 1_000_000_000
T0 = 1_704_189_600_000_000_000  # 2024-01-02 10:00:00 UTC
DAY = 86_400 * 10**9
ADD, RED, SET, CLR = (int(BookAction.ADD), int(BookAction.REDUCE), int(BookAction.SET), int(BookAction.CLEAR))


def header(schema: Any = dbn.Schema.MBO) -> bytes:
    meta = dbn.Metadata(
        dataset="TEST.HAND",
        start=T0,
        stype_in=dbn.SType.INSTRUMENT_ID,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=schema,
        symbols=[],
        partial=[],
        not_found=[],
        mappings=[],
        version=2,
    )
    return bytes(meta)


def mbo(
    i: int,
    action: str,
    side: str,
    price: float,
    size: int,
    oid: int,
    flags: int,
    iid: int = 7,
    ts: int | None = None,
) -> bytes:
    t = T0 + i * 1000 if ts is None else ts
    p = UNDEF_PRICE if price != price else round(price * PX)
    return struct.pack(
        "<BBHIQQqIBBccQiI",
        14,
        0xA0,
        1,
        iid,
        t,
        oid,
        p,
        size,
        flags,
        0,
        action.encode(),
        side.encode(),
        t + 10,
        0,
        i,
    )


def mbp1(
    i: int,
    action: str,
    side: str,
    price: float,
    size: int,
    flags: int,
    bid: tuple[float, int, int],
    ask: tuple[float, int, int],
) -> bytes:
    t = T0 + i * 1000
    return struct.pack(
        "<BBHIQqIccBBQiIqqIIII",
        20,
        0x01,
        1,
        7,
        t,
        round(price * PX),
        size,
        action.encode(),
        side.encode(),
        flags,
        0,
        t + 10,
        0,
        i,
        round(bid[0] * PX),
        round(ask[0] * PX),
        bid[1],
        ask[1],
        bid[2],
        ask[2],
    )


def write(tmp_path: Path, name: str, records: list[bytes], schema: Any = dbn.Schema.MBO) -> Path:
    p = tmp_path / name
    p.write_bytes(header(schema) + b"".join(records))
    return p


def decoded(path: Path) -> list[Any]:
    dec = dbn.DBNDecoder()
    dec.write(path.read_bytes())
    return dec.decode()[1:]


def rows(df: pl.DataFrame) -> list[tuple[int, ...]]:
    return [
        tuple(int(x) for x in r) for r in df.select("seq", "side", "action", "price", "size", "flags").rows()
    ]


def test_mbo_book_rules_snapshots_and_flags(tmp_path: Path) -> None:
    recs = [
        mbo(0, "A", "B", 100.0, 5, 1, 32),  # snapshot ...
        mbo(1, "A", "A", 101.0, 3, 2, 32),  # ... that ends without LAST
        mbo(2, "A", "B", 100.5, 2, 3, 128 | 8),  # first live record (bad ts_recv)
        mbo(3, "C", "B", 100.0, 2, 1, 128),  # cancel 2 of 5 (size = quantity cancelled)
        mbo(4, "T", "A", 100.5, 1, 0, 0),  # trade print: seller-initiated, book unchanged
        mbo(5, "F", "B", 100.5, 1, 3, 0),  # fill: book unchanged ...
        mbo(6, "M", "B", 100.5, 1, 3, 128),  # ... the modify that follows updates order 3 (2 -> 1)
        mbo(7, "A", "B", 100.0, 3, 1, 32),  # repeated snapshot, no clear before it
        mbo(8, "A", "A", 101.0, 3, 2, 32 | 128),
    ]
    path = write(tmp_path, "a.dbn", recs)
    objs = decoded(path)
    assert [str(getattr(o.action, "value", o.action)) for o in objs] == list("AAACTFMAA")
    assert objs[6].price == 100_500_000_000 and objs[6].size == 1 and int(objs[2].flags) == 136
    res = read_dbn(path)
    (p,) = res.partitions
    validate(p.book_deltas, BOOK_DELTAS)
    validate(p.trades, TRADES)
    validate(p.qc, QC)
    assert rows(p.book_deltas) == [
        (0, 1, ADD, 100 * PX, 5, 32),
        (1, -1, ADD, 101 * PX, 3, 32 | 128),  # the snapshot ends at the first live record
        (2, 1, ADD, 100_500_000_000, 2, 136),
        (3, 1, RED, 100 * PX, 2, 128),
        (6, 1, RED, 100_500_000_000, 1, 128),
        (7, 0, CLR, UNDEF_PRICE, 0, 32),  # synthetic clear: the repeated snapshot replaces the book
        (7, 1, ADD, 100 * PX, 3, 32),
        (8, -1, ADD, 101 * PX, 3, 160),
    ]
    t = p.trades
    assert t.select("seq", "price", "size", "aggressor", "kind").rows() == [(4, 100_500_000_000, 1, -1, 0)]
    rep = res.reports[7]
    assert rep.book["unknown_order_refs"] == 0 and rep.book["duplicate_adds"] == 0
    assert rep.book["synthetic_clears"] == 1 and rep.book["fills"] == 1
    assert rep.final_bbo == {"bid_px": "100", "bid_sz": 3, "ask_px": "101", "ask_sz": 3, "orders": 2}
    assert p.qc.filter(pl.col("rule") == "dbn_flags").select("seq", "reason", "action").rows() == [
        (2, "bad_ts_recv", "mark")
    ]
    assert p.instrument == "iid7" and p.date.isoformat() == "2024-01-02"


def test_crossed_books_auction_then_continuous(tmp_path: Path) -> None:
    recs = [
        mbo(0, "A", "B", 101.0, 1, 1, 128),
        mbo(1, "A", "A", 100.0, 1, 2, 128),  # crossed pre-open book (auction)
        mbo(2, "T", "N", 100.5, 1, 0, 128),  # opening cross: no aggressor
        mbo(3, "C", "B", 101.0, 1, 1, 128),
        mbo(4, "A", "B", 100.0, 1, 3, 128),  # locked after the open: a continuous-book error
        mbo(5, "C", "Z", 0.0, 1, 99, 128),  # unknown order
    ]
    path = write(tmp_path, "b.dbn", recs)
    v = verify_dbn(path)
    assert v["records"] == 6
    assert (
        v["crossed_events"] == 4
    )  # event ends 1, 2 (the trade leaves the book), 4 and 5 (unknown ref: no change)
    assert v["crossed_after_open"] == 2
    assert v["unknown_order_refs"] == 1
    assert v["ok"] is False
    assert v["actions"] == {"A": 3, "C": 2, "T": 1}
    (p,) = read_dbn(path).partitions
    q = p.qc.filter(pl.col("rule") == "crossed_book")
    assert q.select("seq", "reason").rows() == [
        (1, "auction"),
        (2, "auction"),
        (4, "continuous"),
        (5, "continuous"),
    ]
    assert p.trades.select("aggressor", "kind").rows() == [(0, 2)]


def test_mbp1_snapshots_and_set_deltas(tmp_path: Path) -> None:
    recs = [
        mbp1(0, "A", "B", 100.0, 5, 128, (100.0, 5, 1), (101.0, 3, 2)),
        mbp1(1, "C", "A", 101.0, 3, 128, (100.0, 4, 1), (102.0, 1, 1)),
        mbp1(2, "T", "A", 100.0, 1, 128, (100.0, 3, 1), (102.0, 1, 1)),
        mbp1(3, "A", "B", 99.0, 1, 128, (100.0, 3, 1), (102.0, 1, 1)),  # no top-of-book change
    ]
    path = write(tmp_path, "c.dbn", recs, dbn.Schema.MBP_1)
    assert [o.levels[0].ask_px for o in decoded(path)] == [101 * PX, 102 * PX, 102 * PX, 102 * PX]
    (p,) = read_dbn(path).partitions
    assert p.source == "mbp-1" and p.depth == 1
    assert rows(p.book_deltas) == [
        (0, 1, SET, 100 * PX, 5, 0),
        (0, -1, SET, 101 * PX, 3, 128),
        (1, 1, SET, 100 * PX, 4, 0),
        (1, -1, SET, 101 * PX, 0, 0),
        (1, -1, SET, 102 * PX, 1, 128),
        (2, 1, SET, 100 * PX, 3, 128),
    ]
    s = p.book_snapshots
    assert s is not None
    assert s.select(
        "seq", "bid_px_00", "bid_sz_00", "bid_ct_00", "ask_px_00", "ask_sz_00", "ask_ct_00"
    ).rows()[0] == (
        0,
        100 * PX,
        5,
        1,
        101 * PX,
        3,
        2,
    )
    assert p.trades.select("seq", "price", "size", "aggressor").rows() == [(2, 100 * PX, 1, -1)]


def test_multi_instrument_and_dates_partition(tmp_path: Path) -> None:
    recs = [
        mbo(0, "A", "B", 10.0, 1, 1, 128, iid=7),
        mbo(1, "A", "B", 20.0, 1, 1, 128, iid=8),
        mbo(2, "A", "A", 21.0, 1, 2, 128, iid=8, ts=T0 + DAY),
    ]
    res = read_dbn(write(tmp_path, "d.dbn", recs))
    keys = sorted((p.instrument, p.date.isoformat(), p.book_deltas.height) for p in res.partitions)
    # the 2024-01-03 partition starts with the carried-over book (CLEAR + order 1, flag 32)
    assert keys == [("iid7", "2024-01-02", 1), ("iid8", "2024-01-02", 1), ("iid8", "2024-01-03", 3)]
    day2 = res.partition("iid8", "2024-01-03")
    assert rows(day2.book_deltas) == [
        (2, 0, CLR, UNDEF_PRICE, 0, 32),
        (2, 1, ADD, 20 * PX, 1, 32 | 128),
        (2, -1, ADD, 21 * PX, 1, 128),
    ]
    assert day2.qc.filter(pl.col("rule") == "partition_start")["reason"].to_list() == ["synthetic_snapshot"]
    only = read_dbn(write(tmp_path, "d2.dbn", recs), instrument="iid8")
    assert {p.instrument for p in only.partitions} == {"iid8"}
    assert set(res.reports) == {7, 8}


def test_truncated_file_and_unknown_rtype(tmp_path: Path) -> None:
    good = [mbo(i, "A", "B", 100.0 + i, 1, i + 1, 128) for i in range(3)]
    odd = struct.pack("<BBHIQ", 4, 0x77, 1, 7, T0)  # a 16-byte record of an rtype nobody knows
    full = header() + good[0] + odd + good[1] + good[2]
    p = tmp_path / "e.dbn"
    p.write_bytes(full[:-20])  # cut inside the last record
    with pytest.warns(DbnTruncationWarning, match="byte offset"):
        res = read_dbn(p)
    hdr = len(header())
    assert res.stats.truncated_at == hdr + 56 + 16 + 56
    assert res.stats.records == 3
    assert res.stats.unknown_rtypes == {0x77: 1}
    assert any("unknown rtypes" in w for w in res.warnings)
    assert res.partitions[0].book_deltas.height == 2
    trunc = res.partitions[0].qc.filter(pl.col("rule") == "dbn_truncated")
    assert trunc.select("seq", "reason", "action").rows() == [(3, "truncated_file", "mark")]
    assert str(hdr + 128) in trunc["detail"][0]
    with pytest.warns(DbnTruncationWarning):
        v = verify_dbn(p)
    assert v["ok"] is False and v["stats"]["truncated_at"] == hdr + 128


def test_ingest_writes_a_valid_dataset(tmp_path: Path) -> None:
    recs = [
        mbo(0, "A", "B", 100.0, 5, 1, 128),
        mbo(1, "A", "A", 101.0, 3, 2, 128),
        mbo(2, "T", "B", 101.0, 1, 0, 128),
    ]
    path = write(tmp_path, "f.dbn", recs)
    out = tmp_path / "ds"
    ingest_dbn(path, out)
    ds = Dataset(out)
    assert ds.partitions("book_deltas") == [("iid7", "2024-01-02")]
    assert ds.read("book_deltas", "iid7", "2024-01-02").height == 2
    assert ds.read("trades", "iid7", "2024-01-02")["aggressor"].to_list() == [1]
    assert ds.read_meta("iid7", "2024-01-02")["report"]["records"] == 3
    assert "iid7" in ds.instruments()


def test_not_dbn_is_a_clear_error(tmp_path: Path) -> None:
    from orderflow.core.errors import DataFormatError

    p = tmp_path / "x.dbn"
    p.write_bytes(b"hello world, not dbn")
    with pytest.raises(DataFormatError, match="magic"):
        read_dbn(p)
    p.write_bytes(header()[:20])
    with pytest.raises(DataFormatError, match="truncated"):
        read_dbn(p)


def test_mbo_to_l3_twin() -> None:
    from orderflow.ingest import _dbn_kernels as K

    rng = np.random.default_rng(3)
    n = 300
    action = rng.choice(np.frombuffer(b"ACMRTF", np.uint8), n)
    side = rng.choice(np.frombuffer(b"ABN", np.uint8), n)
    flags = rng.choice(np.array([0, 32, 128, 160, 8], np.uint8), n)
    outs = []
    for fn in (K.mbo_to_l3, K.mbo_to_l3.py_func):
        o = [np.zeros(n, np.uint8), np.zeros(n, np.int8), np.zeros(n, np.uint8), np.zeros(n, np.uint8)]
        fn(action, side, flags, n, *o)
        outs.append(o)
    for a, b in zip(*outs, strict=True):
        assert np.array_equal(a, b)


def test_set_deltas_match_dict_reference_and_resume() -> None:
    """SET rows from differencing random depth-10 snapshots equal a dict-based difference, also when
    the output buffer is too small and the kernel resumes."""
    from orderflow.ingest import _dbn_kernels as K

    rng = np.random.default_rng(11)
    n, depth = 60, 10
    lv_px = np.full((2 * depth, n), UNDEF_PRICE, np.int64)
    lv_sz = np.zeros((2 * depth, n), np.int64)
    for i in range(n):
        for s in range(2):
            k = int(rng.integers(0, depth + 1))
            px = np.sort(rng.choice(np.arange(90, 110), k, replace=False))[:: -1 if s == 0 else 1] * PX
            lv_px[s * depth : s * depth + k, i] = px
            lv_sz[s * depth : s * depth + k, i] = rng.integers(1, 4, k)
    ts = np.arange(n, dtype=np.int64)
    flags = np.full(n, 128, np.uint8)
    want: list[tuple[int, int, int, int]] = []
    prev: list[dict[int, int]] = [{}, {}]
    for i in range(n):
        for s, sd in ((0, 1), (1, -1)):
            cur = {
                int(p): int(z)
                for p, z in zip(
                    lv_px[s * depth : (s + 1) * depth, i], lv_sz[s * depth : (s + 1) * depth, i], strict=True
                )
                if p != UNDEF_PRICE and z
            }
            want += [(i, sd, p, 0) for p in prev[s] if p not in cur]
            want += [(i, sd, p, z) for p, z in cur.items() if prev[s].get(p) != z]
            prev[s] = cur
    for cap in (4 * depth, 10_000):
        out = np.zeros((9, cap), np.int64)
        prev_px = np.full(2 * depth, UNDEF_PRICE, np.int64)
        prev_sz = np.zeros(2 * depth, np.int64)
        got: list[tuple[int, int, int, int]] = []
        i = 0
        lost = 0
        while i < n:
            i, m, lost = K.diff_levels(
                lv_px, lv_sz, depth, i, n, ts, ts, ts, flags, out, 0, lost, prev_px, prev_sz
            )
            got += [(int(out[2, j]), int(out[3, j]), int(out[5, j]), int(out[6, j])) for j in range(m)]
        assert got == want


def _diff_reference(lv_px: np.ndarray, lv_sz: np.ndarray, depth: int) -> list[tuple[int, int, int, int]]:
    """The SET-differencing rules written out level by level (duplicate prices included)."""
    rows: list[tuple[int, int, int, int]] = []
    prev_px = [UNDEF_PRICE] * (2 * depth)
    prev_sz = [0] * (2 * depth)
    for i in range(lv_px.shape[1]):
        cur_px = [int(x) for x in lv_px[:, i]]
        cur_sz = [int(x) for x in lv_sz[:, i]]
        for s, sd in ((0, 1), (1, -1)):
            lv = range(s * depth, (s + 1) * depth)
            for a in lv:
                p = prev_px[a]
                if p == UNDEF_PRICE or prev_sz[a] == 0:
                    continue
                if not any(cur_px[b] == p and cur_sz[b] != 0 for b in lv):
                    rows.append((i, sd, p, 0))
            for b in lv:
                q, qs = cur_px[b], cur_sz[b]
                if q == UNDEF_PRICE or qs == 0:
                    continue
                old = next((prev_sz[a] for a in lv if prev_px[a] == q and prev_sz[a] != 0), -1)
                if old != qs:
                    rows.append((i, sd, q, qs))
        prev_px, prev_sz = cur_px, cur_sz
    return rows


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_set_deltas_size_only_updates_and_odd_ladders(seed: int) -> None:
    """Mostly size-only updates (the fast path), plus ladders that are not monotone, repeat a price,
    hold zero sizes or gaps: the kernel and its twin match the level-by-level rules."""
    from orderflow.ingest import _dbn_kernels as K

    rng = np.random.default_rng(seed)
    depth, n = 5, 400
    PX = 10**9
    lv_px = np.full((2 * depth, n), UNDEF_PRICE, np.int64)
    lv_sz = np.zeros((2 * depth, n), np.int64)
    cur_px = np.concatenate([np.arange(100, 100 - depth, -1), np.arange(101, 101 + depth)]) * PX
    cur_sz = rng.integers(1, 5, 2 * depth)
    for i in range(n):
        u = rng.random()
        cur_sz = cur_sz.copy()
        cur_px = cur_px.copy()
        if u < 0.6:  # one size changes (sometimes to 0)
            cur_sz[rng.integers(0, 2 * depth)] = rng.integers(0, 4)
        elif u < 0.75:  # a fresh sorted ladder, possibly short
            for s in range(2):
                k = int(rng.integers(0, depth + 1))
                px = np.sort(rng.choice(np.arange(90, 110), k, replace=False))[:: -1 if s == 0 else 1] * PX
                cur_px[s * depth : (s + 1) * depth] = UNDEF_PRICE
                cur_px[s * depth : s * depth + k] = px
                cur_sz[s * depth : (s + 1) * depth] = rng.integers(0, 4, depth)
        elif u < 0.85:  # an odd ladder: repeated or unsorted prices
            j = int(rng.integers(0, 2 * depth - 1))
            if cur_px[j] != UNDEF_PRICE:
                cur_px[j + 1] = cur_px[j] if rng.random() < 0.5 else cur_px[j] + 3 * PX
        # else: identical record
        lv_px[:, i] = cur_px
        lv_sz[:, i] = cur_sz
    want = _diff_reference(lv_px, lv_sz, depth)
    ts = np.arange(n, dtype=np.int64)
    flags = np.full(n, 128, np.uint8)
    for fn in (K.diff_levels, K.diff_levels.py_func):
        for cap in (4 * depth, 10_000):
            out = np.zeros((9, cap), np.int64)
            prev_px = np.full(2 * depth, UNDEF_PRICE, np.int64)
            prev_sz = np.zeros(2 * depth, np.int64)
            got: list[tuple[int, int, int, int]] = []
            i, lost = 0, 0
            while i < n:
                i, m, lost = fn(lv_px, lv_sz, depth, i, n, ts, ts, ts, flags, out, 0, lost, prev_px, prev_sz)
                got += [(int(out[2, j]), int(out[3, j]), int(out[5, j]), int(out[6, j])) for j in range(m)]
            assert got == want


def _gcd_tick_numpy(prices: np.ndarray) -> str:
    """The tick guess written with numpy (np.unique, np.gcd.reduce)."""
    from decimal import Decimal

    p = np.unique(prices[(prices != UNDEF_PRICE) & (prices != 0)][:1_000_000])
    if len(p) < 50:
        return "0.000000001"
    g = int(np.gcd.reduce(np.abs(p)))
    return f"{(Decimal(g) / 10**9).normalize():f}" if g else "0.000000001"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gcd_tick_matches_numpy(seed: int) -> None:
    from orderflow.ingest import _dbn_kernels as K
    from orderflow.ingest.dbn import _gcd_tick

    rng = np.random.default_rng(seed)
    tick = int(rng.choice([250_000_000, 10_000_000, 5]))
    for n_distinct in (10, 49, 50, 51, 400):
        levels = rng.choice(np.arange(-100, 5000), n_distinct, replace=False) * tick
        prices = np.repeat(levels, rng.integers(1, 6, n_distinct))
        prices = np.concatenate([prices, [UNDEF_PRICE, 0, UNDEF_PRICE]])
        rng.shuffle(prices)
        assert _gcd_tick(prices) == _gcd_tick_numpy(prices)
        d, g = K.distinct_gcd(prices, 50, 1_000_000)
        d2, g2 = K.distinct_gcd.py_func(prices, 50, 1_000_000)
        assert (int(d), int(g)) == (int(d2), int(g2))
        assert int(d) == min(50, len(np.unique(prices[(prices != UNDEF_PRICE) & (prices != 0)])))
    big = np.concatenate([np.full(1_000_000, 3 * tick), np.arange(1, 100) * 7])  # beyond the first 1e6
    assert _gcd_tick(big) == _gcd_tick_numpy(big)
    odd = np.array([-(2**63), *range(1, 200)], dtype=np.int64)
    assert K.distinct_gcd(odd, 50, 1_000_000)[0] == -1
    assert _gcd_tick(odd) == _gcd_tick_numpy(odd)
