"""The numba DBN decoders agree with databento_dbn's own decoding on every fixture, column by column."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import databento_dbn as dbn
import numpy as np
import pytest

from orderflow.core.enums import UNDEF_PRICE
from orderflow.ingest import _dbn_kernels as K
from orderflow.ingest import dbn as D
from orderflow.testing import data_root

pytestmark = pytest.mark.realdata


def _fixtures() -> list[str]:
    root = data_root() / "databento"
    found = sorted(str(p.relative_to(data_root())) for p in root.rglob("*.dbn*")) if root.exists() else []
    return found or ["databento/fixtures-dbn/test_data.mbo.dbn"]  # lets shared_data skip/fail clearly


FIXTURES = _fixtures()

OBJ_RTYPE = {
    "MBOMsg": K.RTYPE_MBO,
    "MBP10Msg": K.RTYPE_MBP10,
    "MBP1Msg": K.RTYPE_MBP1,
    "TradeMsg": K.RTYPE_MBP0,
}


def _reference(path: Path) -> tuple[Any, list[Any]]:
    data, trunc = D._read_bytes(path)
    assert not trunc
    dec = dbn.DBNDecoder(upgrade_policy=dbn.VersionUpgradePolicy.AS_IS)
    dec.write(data)
    objs = dec.decode()
    return objs[0], objs[1:]


def _region(path: Path) -> tuple[np.ndarray, np.ndarray, int, int, np.ndarray]:
    data, _ = D._read_bytes(path)
    _, _, start = D._metadata(data, path)
    u8, u32 = D._aligned_region(data, start)
    counts = np.zeros(256, np.int64)
    short = np.zeros(256, np.int64)
    n, stop = K.scan_records(u8, len(u8), counts, short)
    assert stop == len(u8) and short.sum() == 0
    return u8, u32, int(n), int(stop), counts


def _char(x: Any) -> int:
    v = x.value if hasattr(x, "value") else x
    return ord(str(v))


@pytest.mark.parametrize("rel", FIXTURES)
def test_every_column_matches_databento_dbn(rel: str, shared_data: Any) -> None:
    path = shared_data(rel)
    _, objs = _reference(path)
    u8, u32, n, stop, counts = _region(path)
    assert n == len(objs)
    # record counts per rtype agree with the object types
    got_counts = {int(k): int(counts[k]) for k in np.flatnonzero(counts)}
    want = Counter(int(o.rtype.value if hasattr(o.rtype, "value") else o.rtype) for o in objs)
    assert got_counts == dict(want)
    index = {
        rt: [i for i, o in enumerate(objs) if OBJ_RTYPE.get(type(o).__name__) == rt]
        for rt in OBJ_RTYPE.values()
    }
    if index[K.RTYPE_MBO]:
        ref = [objs[i] for i in index[K.RTYPE_MBO]]
        cols = D.decode_mbo_columns(u8, u32, stop, len(ref))
        assert cols["record"].tolist() == index[K.RTYPE_MBO]
        for name in ("instrument_id", "ts_event", "ts_recv", "order_id", "price", "size", "sequence"):
            assert cols[name].tolist() == [int(getattr(o, name)) for o in ref], name
        assert cols["flags"].tolist() == [int(o.flags) for o in ref]
        assert cols["action"].tolist() == [_char(o.action) for o in ref]
        assert cols["side"].tolist() == [_char(o.side) for o in ref]
    for rt, depth in ((K.RTYPE_MBP10, 10), (K.RTYPE_MBP1, 1), (K.RTYPE_MBP0, 0)):
        if not index[rt]:
            continue
        ref = [objs[i] for i in index[rt]]
        cols = D.decode_mbp_columns(u8, u32, stop, len(ref), rt, depth)
        assert cols["record"].tolist() == index[rt]
        for name in ("instrument_id", "ts_event", "ts_recv", "price", "size", "sequence"):
            assert cols[name].tolist() == [int(getattr(o, name)) for o in ref], name
        assert cols["flags"].tolist() == [int(o.flags) for o in ref]
        assert cols["action"].tolist() == [_char(o.action) for o in ref]
        assert cols["side"].tolist() == [_char(o.side) for o in ref]
        for j in range(depth):
            lv = [o.levels[j] for o in ref]
            assert cols["lv_px"][j].tolist() == [int(x.bid_px) for x in lv]
            assert cols["lv_px"][depth + j].tolist() == [int(x.ask_px) for x in lv]
            assert cols["lv_sz"][j].tolist() == [int(x.bid_sz) for x in lv]
            assert cols["lv_sz"][depth + j].tolist() == [int(x.ask_sz) for x in lv]
            assert cols["lv_ct"][j].tolist() == [int(x.bid_ct) for x in lv]
            assert cols["lv_ct"][depth + j].tolist() == [int(x.ask_ct) for x in lv]


@pytest.mark.parametrize("rel", FIXTURES)
def test_canonical_tables_match_databento_dbn(rel: str, shared_data: Any) -> None:
    """Snapshots and trades built by read_dbn against the reference objects."""
    path = shared_data(rel)
    meta, objs = _reference(path)
    res = D.read_dbn(path)
    assert res.stats.records == len(objs)
    assert res.stats.version == meta.version
    for p in res.partitions:
        iid = p.instrument_id
        src_type = {
            "mbo": "MBOMsg",
            "mbp-10": "MBP10Msg",
            "mbp-1": "MBP1Msg",
            "tbbo": "MBP1Msg",
            "trades": "TradeMsg",
        }
        recs = [
            (i, o)
            for i, o in enumerate(objs)
            if type(o).__name__ == src_type[p.source] and o.instrument_id == iid
        ]
        day = p.date.isoformat()
        recs = [(i, o) for i, o in recs if _day(o) == day]
        if p.book_snapshots is not None:
            s = p.book_snapshots
            assert s["seq"].to_list() == [i for i, _ in recs]
            for j in range(p.depth):
                assert s[f"bid_px_{j:02d}"].to_list() == [int(o.levels[j].bid_px) for _, o in recs]
                assert s[f"ask_sz_{j:02d}"].to_list() == [int(o.levels[j].ask_sz) for _, o in recs]
                assert s[f"ask_ct_{j:02d}"].to_list() == [int(o.levels[j].ask_ct) for _, o in recs]
        trades = [
            (i, o) for i, o in recs if _char(o.action) == ord("T") and o.size > 0 and o.price != UNDEF_PRICE
        ]
        t = p.trades
        assert t["seq"].to_list() == [i for i, _ in trades]
        assert t["price"].to_list() == [int(o.price) for _, o in trades]
        assert t["size"].to_list() == [int(o.size) for _, o in trades]
        # DBN: a trade's side is the aggressor's; A = sell aggressor, B = buy aggressor, N = none
        aggr = {ord("A"): -1, ord("B"): 1}
        assert t["aggressor"].to_list() == [aggr.get(_char(o.side), 0) for _, o in trades]


def _day(o: Any) -> str:
    import datetime as dt

    ts = o.ts_recv if o.ts_recv != 2**64 - 1 else o.ts_event
    return (dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=ts // 1000)).date().isoformat()


def test_kernel_twins_agree(shared_data: Any) -> None:
    """The plain-Python twins of the decoders produce the same columns (small fixtures)."""
    for rel, rt, depth in (
        ("databento/fixtures-dbn/test_data.mbp-10.dbn", K.RTYPE_MBP10, 10),
        ("databento/fixtures-dbn/test_data.tbbo.v3.dbn.zst", K.RTYPE_MBP1, 1),
    ):
        u8, u32, _, stop, counts = _region(shared_data(rel))
        m = int(counts[rt])
        outs = []
        for fn in (K.decode_mbp, K.decode_mbp.py_func):
            cols = [
                np.zeros(m, d)
                for d in (
                    np.uint32,
                    np.int64,
                    np.int64,
                    np.int64,
                    np.int64,
                    np.uint8,
                    np.uint8,
                    np.uint8,
                    np.int64,
                    np.int64,
                )
            ]
            lv = [
                np.zeros((2 * depth, m), np.int64),
                np.zeros((2 * depth, m), np.int64),
                np.zeros((2 * depth, m), np.uint32),
            ]
            k = fn(u8, u32, 0, 0, stop, rt, depth, m, *cols, *lv)[0]
            outs.append((k, cols, lv))
        assert outs[0][0] == outs[1][0] == m
        for a, b in zip(outs[0][1] + outs[0][2], outs[1][1] + outs[1][2], strict=True):
            assert np.array_equal(a, b)
    u8, u32, _, stop, counts = _region(shared_data("databento/fixtures-dbn/test_data.mbo.dbn"))
    m = int(counts[K.RTYPE_MBO])
    res = []
    for fn in (K.decode_mbo, K.decode_mbo.py_func):
        cols = [
            np.zeros(m, d)
            for d in (
                np.uint32,
                np.int64,
                np.int64,
                np.int64,
                np.int64,
                np.int64,
                np.uint8,
                np.uint8,
                np.uint8,
                np.int64,
                np.int64,
            )
        ]
        assert fn(u8, u32, 0, 0, stop, m, *cols) == (m, stop, m)
        res.append(cols)
    for a, b in zip(*res, strict=True):
        assert np.array_equal(a, b)
    c1 = np.zeros(256, np.int64)
    c2 = np.zeros(256, np.int64)
    s1 = np.zeros(256, np.int64)
    s2 = np.zeros(256, np.int64)
    assert K.scan_records(u8, len(u8), c1, s1) == K.scan_records.py_func(u8, len(u8), c2, s2)
    assert np.array_equal(c1, c2)


def test_chunked_decoding_equals_one_shot(shared_data: Any) -> None:
    """Decoding a region a few records at a time (reused buffers) gives the one-shot columns."""
    u8, u32, _, stop, counts = _region(
        shared_data("databento/glbx-mdp3/futures_mbp-1_2024-07-01T23-58_2024-07-02T00-02.dbn.zst")
    )
    n = int(counts[K.RTYPE_MBP1])
    whole = D.decode_mbp_columns(u8, u32, stop, n, K.RTYPE_MBP1, 1)
    chunk = 100
    cols = [
        np.zeros(chunk, d)
        for d in (
            np.uint32,
            np.int64,
            np.int64,
            np.int64,
            np.int64,
            np.uint8,
            np.uint8,
            np.uint8,
            np.int64,
            np.int64,
        )
    ]
    lv = [np.zeros((2, chunk), np.int64), np.zeros((2, chunk), np.int64), np.zeros((2, chunk), np.uint32)]
    off, r, got_px, got_rec = 0, 0, [], []
    while True:
        k, off, r = K.decode_mbp(u8, u32, off, r, stop, K.RTYPE_MBP1, 1, chunk, *cols, *lv)
        if k == 0:
            break
        got_px.extend(lv[0][1, :k].tolist())
        got_rec.extend(cols[9][:k].tolist())
    assert got_px == whole["lv_px"][1].tolist()
    assert got_rec == whole["record"].tolist()


def test_blocked_decoder_matches_direct(shared_data: Any) -> None:
    """decode_mbp_blocked (levels through a small scratch) == decode_mbp, in chunks, and its twin."""
    for rel, rt, depth in (
        ("databento/fixtures-dbn/test_data.mbp-10.dbn", K.RTYPE_MBP10, 10),
        ("databento/fixtures-dbn/test_data.tbbo.v3.dbn.zst", K.RTYPE_MBP1, 1),
    ):
        u8, u32, _, stop, counts = _region(shared_data(rel))
        m = int(counts[rt])
        want = D.mbp_buffers(m, depth)
        k = K.decode_mbp(u8, u32, 0, 0, stop, rt, depth, m, *want.values())[0]
        assert k == m
        for fn, block, chunk in (
            (K.decode_mbp_blocked, 1, m),
            (K.decode_mbp_blocked, 3, 2),
            (K.decode_mbp_blocked, K.MBP_BLOCK, m),
            (K.decode_mbp_blocked.py_func, 2, 3),
        ):
            got = D.mbp_buffers(m, depth)
            scratch = D.mbp_scratch(depth, block)
            off, r, total = 0, 0, 0
            while True:
                views = [a[:, total:] if a.ndim == 2 else a[total:] for a in got.values()]
                kk, off, r = fn(u8, u32, off, r, stop, rt, depth, min(chunk, m - total), *views, *scratch)
                if kk == 0:
                    break
                total += kk
            assert total == m
            for name in want:
                assert np.array_equal(got[name][..., :m], want[name][..., :m]), (rel, name, block)


def test_scan_records_in_pieces(shared_data: Any) -> None:
    """scan_records_from over growing prefixes (a chunked reader) == one scan_records call."""
    for rel in ("databento/fixtures-dbn/test_data.mbp-10.dbn", "databento/fixtures-dbn/test_data.mbo.dbn"):
        u8, _, n, stop, _counts = _region(shared_data(rel))
        for cut in (len(u8), len(u8) - 5):  # whole, and truncated inside the last record
            c1, s1 = np.zeros(256, np.int64), np.zeros(256, np.int64)
            want = K.scan_records(u8, cut, c1, s1)
            for fn in (K.scan_records_from, K.scan_records_from.py_func):
                c2, s2 = np.zeros(256, np.int64), np.zeros(256, np.int64)
                nn, off = 0, 0
                for avail in [*range(0, cut, 97), cut]:
                    nn, off = fn(u8, off, nn, avail, c2, s2)
                assert (nn, off) == tuple(want)
                assert np.array_equal(c1, c2) and np.array_equal(s1, s2)
        assert K.scan_records(u8, len(u8), np.zeros(256, np.int64), np.zeros(256, np.int64)) == (n, stop)


def test_read_for_decode_matches_read_bytes(shared_data: Any, tmp_path: Path) -> None:
    """The aligned chunked reader returns the same bytes and the same scan as read + scan_records."""
    src = shared_data("databento/fixtures-dbn/test_data.mbp-10.dbn")
    raw = src.read_bytes()
    for name, blob in (("whole.dbn", raw), ("cut.dbn", raw[:-7])):
        p = tmp_path / name
        p.write_bytes(blob)
        for chunk in (D._READ_CHUNK, 5):
            old = D._READ_CHUNK
            D._READ_CHUNK = chunk
            try:
                data, trunc, scanned = D._read_for_decode(p)
            finally:
                D._READ_CHUNK = old
            assert bytes(data) == blob and not trunc and scanned is not None
            _, _, start = D._metadata(data, p)
            u8, _ = D._aligned_region(data, start)
            assert u8.ctypes.data % 4 == 0
            c, s = np.zeros(256, np.int64), np.zeros(256, np.int64)
            n, stop = K.scan_records(u8, len(u8), c, s)
            assert scanned[:2] == (n, stop)
            assert np.array_equal(scanned[2], c) and np.array_equal(scanned[3], s)
