"""ITCH 5.0 order messages -> BOOK_DELTAS / TRADES / STATUS / QC, against a hand-worked session.

Messages are packed by hand with struct from the spec's layouts (big-endian, 6-byte ns
timestamps, Price(4) = u32 x 1e-4, alphas space-padded).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from orderflow.ingest import _itch_kernels as K
from orderflow.ingest import itch as itch_mod
from orderflow.ingest.itch import read_itch

MID = 1548824400 * 10**9  # 2019-01-30 00:00 America/New_York in UTC ns
E9 = 10**9


def hdr(t: str, loc: int, ts: int) -> bytes:
    return t.encode() + struct.pack(">HH", loc, 0) + ts.to_bytes(6, "big")


def alpha(s: str, n: int) -> bytes:
    return s.encode().ljust(n, b" ")


def frame(body: bytes) -> bytes:
    return struct.pack(">H", len(body)) + body


def px4(dollars: str) -> int:
    """Price(4) raw value of a decimal string (exact)."""
    whole, _, frac = dollars.partition(".")
    return int(whole) * 10_000 + int(frac.ljust(4, "0"))


def R(loc: int, sym: str, ts: int) -> bytes:
    return hdr("R", loc, ts) + alpha(sym, 8) + b"Q " + struct.pack(">I", 100) + b"NCZ PN 1N" + bytes(4) + b"N"


def A(loc: int, ts: int, ref: int, side: str, sh: int, sym: str, px: str) -> bytes:
    return (
        hdr("A", loc, ts)
        + struct.pack(">Q", ref)
        + side.encode()
        + struct.pack(">I", sh)
        + alpha(sym, 8)
        + struct.pack(">I", px4(px))
    )


def F(loc: int, ts: int, ref: int, side: str, sh: int, sym: str, px: str, mpid: str) -> bytes:
    return A(loc, ts, ref, side, sh, sym, px).replace(b"A", b"F", 1) + alpha(mpid, 4)


def E(loc: int, ts: int, ref: int, sh: int, match: int) -> bytes:
    return hdr("E", loc, ts) + struct.pack(">QIQ", ref, sh, match)


def C(loc: int, ts: int, ref: int, sh: int, match: int, printable: str, px: str) -> bytes:
    return (
        hdr("C", loc, ts)
        + struct.pack(">QIQ", ref, sh, match)
        + printable.encode()
        + struct.pack(">I", px4(px))
    )


def X(loc: int, ts: int, ref: int, sh: int) -> bytes:
    return hdr("X", loc, ts) + struct.pack(">QI", ref, sh)


def D(loc: int, ts: int, ref: int) -> bytes:
    return hdr("D", loc, ts) + struct.pack(">Q", ref)


def U(loc: int, ts: int, old: int, new: int, sh: int, px: str) -> bytes:
    return hdr("U", loc, ts) + struct.pack(">QQII", old, new, sh, px4(px))


def P(loc: int, ts: int, sh: int, sym: str, px: str, match: int) -> bytes:
    return (
        hdr("P", loc, ts)
        + struct.pack(">Q", 0)
        + b"B"
        + struct.pack(">I", sh)
        + alpha(sym, 8)
        + struct.pack(">IQ", px4(px), match)
    )


def Q(loc: int, ts: int, sh: int, sym: str, px: str, match: int) -> bytes:
    return (
        hdr("Q", loc, ts) + struct.pack(">Q", sh) + alpha(sym, 8) + struct.pack(">IQ", px4(px), match) + b"O"
    )


T0 = 34_200_000_000_000  # 09:30 in ns after midnight

SESSION = [
    hdr("S", 0, T0 - 5) + b"O",  # 0
    R(5, "ZVZZT", T0 - 4),  # 1
    R(6, "ZXZZT", T0 - 3),  # 2
    A(5, T0 + 1, 1, "B", 100, "ZVZZT", "10.00"),  # 3
    A(5, T0 + 2, 2, "B", 200, "ZVZZT", "9.99"),  # 4
    F(5, T0 + 3, 3, "S", 150, "ZVZZT", "10.02", "GSCO"),  # 5
    A(5, T0 + 4, 4, "S", 50, "ZVZZT", "10.01"),  # 6
    A(6, T0 + 5, 10, "B", 300, "ZXZZT", "20.00"),  # 7
    E(5, T0 + 6, 4, 20, 1001),  # 8
    C(5, T0 + 7, 1, 30, 1002, "Y", "10.005"),  # 9
    C(5, T0 + 8, 2, 50, 1003, "N", "9.99"),  # 10
    X(5, T0 + 9, 3, 50),  # 11
    D(5, T0 + 10, 4),  # 12
    U(5, T0 + 11, 2, 5, 120, "9.98"),  # 13
    P(5, T0 + 12, 40, "ZVZZT", "10.01", 1004),  # 14
    Q(5, T0 + 13, 1000, "ZVZZT", "10.00", 1005),  # 15
    hdr("B", 5, T0 + 14) + struct.pack(">Q", 1002),  # 16
    hdr("I", 5, T0 + 15)
    + struct.pack(">QQ", 500, 100)
    + b"S"
    + alpha("ZVZZT", 8)
    + struct.pack(">III", 100000, 100100, 100050)
    + b"C ",  # 17
    E(5, T0 + 16, 1, 70, 1006),  # 18
    E(5, T0 + 17, 999, 10, 1007),  # 19: unknown order
    Q(5, T0 + 18, 0, "ZVZZT", "10.00", 0),  # 20: cross of 0 shares
    hdr("H", 5, T0 + 19) + alpha("ZVZZT", 8) + b"H " + b"LUDP",  # 21
    hdr("S", 0, T0 + 20) + b"C",  # 22
]
DATA = b"".join(frame(m) for m in SESSION)

P10 = 10 * E9
# hand-worked BOOK_DELTAS rows of ZVZZT: (seq, side, action, price, size, order_id, flags)
EXPECTED_DELTAS = [
    (3, 1, 1, P10, 100, 1, 128),
    (4, 1, 1, 9_990_000_000, 200, 2, 128),
    (5, -1, 1, 10_020_000_000, 150, 3, 128),
    (6, -1, 1, 10_010_000_000, 50, 4, 128),
    (8, -1, 3, 10_010_000_000, 20, 4, 128),  # E: execute the resting ask
    (9, 1, 3, P10, 30, 1, 128),  # C printable
    (10, 1, 3, 9_990_000_000, 50, 2, 128),  # C non-printable: still reduces the book
    (11, -1, 2, 10_020_000_000, 50, 3, 128),  # X partial cancel
    (12, -1, 2, 10_010_000_000, 30, 4, 128),  # D: the remaining 30
    (13, 1, 2, 9_990_000_000, 150, 2, 0),  # U: old ref leaves ...
    (13, 1, 1, 9_980_000_000, 120, 5, 128),  # ... new ref joins at the new price, same side
    (18, 1, 3, P10, 70, 1, 128),
]
# hand-worked book (price -> size per side) after selected messages
EXPECTED_BOOKS = {
    6: ({P10: 100, 9_990_000_000: 200}, {10_010_000_000: 50, 10_020_000_000: 150}),
    10: ({P10: 70, 9_990_000_000: 150}, {10_010_000_000: 30, 10_020_000_000: 150}),
    12: ({P10: 70, 9_990_000_000: 150}, {10_020_000_000: 100}),
    13: ({P10: 70, 9_980_000_000: 120}, {10_020_000_000: 100}),
    22: ({9_980_000_000: 120}, {10_020_000_000: 100}),
}
# (seq, price, size, aggressor, kind, trade_id, order_id)
EXPECTED_TRADES = [
    (8, 10_010_000_000, 20, 1, 0, 1001, 4),  # sell order executed: buyer-initiated
    (9, 10_005_000_000, 30, -1, 0, 1002, 1),  # at the execution price, not the order's
    (14, 10_010_000_000, 40, 0, 1, 1004, 0),  # hidden
    (15, P10, 1000, 0, 2, 1005, 0),  # cross
    (18, P10, 70, -1, 0, 1006, 1),
]


def _write(tmp_path: Path, data: bytes = DATA) -> Path:
    p = tmp_path / "session.itch"
    p.write_bytes(data)
    return p


def _books_from_deltas(rows: list[tuple[int, ...]]) -> dict[int, tuple[dict[int, int], dict[int, int]]]:
    """Independent replay: level sizes after each seq (ADD +, REDUCE/EXECUTE -)."""
    bid: dict[int, int] = {}
    ask: dict[int, int] = {}
    out = {}
    for seq, side, action, price, size, _oid, _fl in rows:
        book = bid if side == 1 else ask
        book[price] = book.get(price, 0) + (size if action == 1 else -size)
        if book[price] == 0:
            del book[price]
        out[seq] = (dict(bid), dict(ask))
    return out


def test_hand_worked_session(tmp_path: Path) -> None:
    res = read_itch(_write(tmp_path), date="2019-01-30")
    d = res.deltas["ZVZZT"]
    rows = d.select("seq", "side", "action", "price", "size", "order_id", "flags").rows()
    assert rows == EXPECTED_DELTAS
    assert (d["ts_event"] == d["ts_recv"]).all()
    assert d["ts_event"][0] == MID + T0 + 1
    books = _books_from_deltas(rows)
    for seq, want in EXPECTED_BOOKS.items():
        got = books[max(s for s in books if s <= seq)]
        assert got == want, seq
    t = res.trades["ZVZZT"]
    assert (
        t.select("seq", "price", "size", "aggressor", "kind", "trade_id", "order_id").rows()
        == EXPECTED_TRADES
    )
    assert t["ts_event"].to_list() == [MID + T0 + k for k in (6, 7, 12, 13, 16)]
    # the other stock is routed to its own book
    z = res.deltas["ZXZZT"]
    assert z.select("seq", "side", "action", "price", "size", "order_id").rows() == [
        (7, 1, 1, 20 * E9, 300, 10)
    ]
    assert res.trades["ZXZZT"].height == 0
    # STATUS: market-wide S in both stocks, H only in its stock
    st = res.status["ZVZZT"]
    assert st.select("seq", "status", "detail").rows() == [
        (0, 7, "S:O"),
        (21, 1, "H:H reason=LUDP"),
        (22, 7, "S:C"),
    ]
    assert res.status["ZXZZT"]["seq"].to_list() == [0, 22]
    # QC: broken trade, unknown order reference
    qc = res.qc["ZVZZT"]
    assert qc.select("seq", "rule", "action").rows() == [
        (16, "itch_broken_trade", "mark"),
        (19, "itch_unknown_order", "quarantine"),
    ]
    assert "1002" in qc["detail"][0] and "999" in qc["detail"][1]
    # NOII and the rest of the reference messages are kept as frames
    i = res.messages["I"].row(0, named=True)
    assert (i["paired_shares"], i["imbalance_shares"], i["imbalance_direction"]) == (500, 100, "S")
    assert i["near_price"] == 10_010_000_000
    assert not set(res.messages) & set("AFECXDUPQ")  # order messages feed the book, not frames
    st_ = res.stats
    assert st_["messages"] == len(SESSION)
    assert st_["messages_by_type"]["A"] == 4 and st_["messages_by_type"]["F"] == 1
    assert st_["zero_share_crosses"] == 1
    assert st_["unknown_order_refs"] == 1
    assert st_["book"]["crossed_events"] == 0


def test_open_orders_count(tmp_path: Path) -> None:
    res = read_itch(_write(tmp_path), date="2019-01-30")
    # resting after the session: ref 3 (ask 100), ref 5 (bid 120), ref 10 (ZXZZT)
    assert res.stats["open_orders"] == 3


@pytest.mark.parametrize("chunk", [1, 5, 37, 64, 333])
def test_chunk_boundaries_identical(tmp_path: Path, chunk: int) -> None:
    p = _write(tmp_path)
    full = read_itch(p, date="2019-01-30")
    res = read_itch(p, date="2019-01-30", chunk_bytes=chunk)
    for sym in full.instruments:
        assert res.deltas[sym].equals(full.deltas[sym])
        assert res.trades[sym].equals(full.trades[sym])
        assert res.status[sym].equals(full.status[sym])
        assert res.qc[sym].equals(full.qc[sym])
    assert res.stats == full.stats


def test_symbol_filter(tmp_path: Path) -> None:
    p = _write(tmp_path)
    full = read_itch(p, date="2019-01-30")
    only = read_itch(p, date="2019-01-30", symbols=["ZXZZT"], chunk_bytes=16)
    assert set(only.deltas) == {"ZXZZT"}
    assert only.deltas["ZXZZT"].equals(full.deltas["ZXZZT"])
    assert only.stats["kept_messages"] == 2 + 1 + 1  # S x2, the ZXZZT R, the ZXZZT add


def _random_stream(rng: np.random.Generator, n: int) -> tuple[bytes, dict[int, tuple[int, int, int]]]:
    """Random adds/executes/cancels/deletes/replaces and the independent final order map."""
    msgs = [R(7, "RND", 1)]
    live: dict[int, tuple[int, int, int]] = {}  # ref -> (side, price raw, remaining)
    next_ref = 1
    for k in range(n):
        ts = 2 + k
        op = rng.integers(0, 5) if live else 0
        if op == 0:
            side = "B" if rng.integers(0, 2) else "S"
            pxr = int(rng.integers(9900, 10100))
            sh = int(rng.integers(1, 500))
            ref = next_ref * 7919  # spread-out refs
            next_ref += 1
            msgs.append(A(7, ts, ref, side, sh, "RND", f"{pxr // 10000}.{pxr % 10000:04d}"))
            live[ref] = (1 if side == "B" else -1, pxr, sh)
            continue
        ref = list(live)[int(rng.integers(0, len(live)))]
        s, pxr, rem = live[ref]
        if op == 1:
            q = int(rng.integers(1, rem + 1))
            msgs.append(E(7, ts, ref, q, k))
        elif op == 2:
            q = int(rng.integers(1, rem + 1))
            msgs.append(X(7, ts, ref, q))
        elif op == 3:
            msgs.append(D(7, ts, ref))
            del live[ref]
            continue
        else:
            new = next_ref * 7919
            next_ref += 1
            npx = int(rng.integers(9900, 10100))
            sh = int(rng.integers(1, 500))
            msgs.append(U(7, ts, ref, new, sh, f"{npx // 10000}.{npx % 10000:04d}"))
            del live[ref]
            live[new] = (s, npx, sh)
            continue
        if rem - q == 0:
            del live[ref]
        else:
            live[ref] = (s, pxr, rem - q)
    return b"".join(frame(m) for m in msgs), live


def test_random_stream_matches_naive_order_map(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a tiny initial order table forces growth and exercises deletion in long probe chains
    monkeypatch.setattr(itch_mod._Reader, "initial_orders", 4)
    data, live = _random_stream(rng, 3000)
    res = read_itch(_write(tmp_path, data), date="2019-01-30", chunk_bytes=997)
    rows = res.deltas["RND"].select("seq", "side", "action", "price", "size", "order_id", "flags").rows()
    books = _books_from_deltas(rows)
    bid, ask = books[max(books)]
    want_bid: dict[int, int] = {}
    want_ask: dict[int, int] = {}
    for s, pxr, rem in live.values():
        b = want_bid if s == 1 else want_ask
        b[pxr * 100_000] = b.get(pxr * 100_000, 0) + rem
    assert bid == want_bid and ask == want_ask
    assert res.stats["open_orders"] == len(live)
    assert res.stats["unknown_order_refs"] == 0
    assert res.stats["book"]["unknown_order_refs"] == 0


def test_ingest_writes_dataset_and_snapshots(tmp_path: Path) -> None:
    from orderflow.core.io import Dataset
    from orderflow.ingest.itch import ingest_itch

    out = tmp_path / "ds"
    ingest_itch(_write(tmp_path), out, date="2019-01-30", snapshots=2)
    ds = Dataset(out)
    assert set(ds.instruments()) == {"ZVZZT", "ZXZZT"}
    d = ds.read("book_deltas", "ZVZZT", "2019-01-30")
    assert d.select("seq", "side", "action", "price", "size", "order_id", "flags").rows() == EXPECTED_DELTAS
    assert ds.read("trades", "ZVZZT", "2019-01-30").height == len(EXPECTED_TRADES)
    snaps = ds.read("book_snapshots", "ZVZZT", "2019-01-30")
    last = snaps.row(-1, named=True)
    # the hand-worked final book: bid 9.98 x 120, ask 10.02 x 100, nothing deeper
    assert (last["bid_px_00"], last["bid_sz_00"]) == (9_980_000_000, 120)
    assert (last["ask_px_00"], last["ask_sz_00"]) == (10_020_000_000, 100)
    assert last["bid_sz_01"] == 0 and last["ask_sz_01"] == 0
    after6 = snaps.filter(snaps["seq"] == 6).row(-1, named=True)
    assert (after6["bid_px_00"], after6["bid_sz_00"], after6["bid_px_01"], after6["bid_sz_01"]) == (
        P10,
        100,
        9_990_000_000,
        200,
    )
    assert (after6["ask_px_00"], after6["ask_sz_00"]) == (10_010_000_000, 50)


def test_cli_ingest_itch(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from orderflow.cli.main import app

    p = tmp_path / "01302019.NASDAQ_ITCH50"
    p.write_bytes(DATA + frame(hdr("S", 0, T0 + 30) + b"C")[:5])  # + a truncated message
    r = CliRunner().invoke(
        app, ["ingest", "itch", str(p), "--out", str(tmp_path / "ds"), "--symbols", "ZVZZT", "--json"]
    )
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["date"] == "2019-01-30"
    assert summary["messages"] == len(SESSION)
    assert summary["truncated_at"] == len(DATA) and summary["truncated_bytes"] == 5
    assert summary["per_symbol"]["ZVZZT"]["book_deltas"] == len(EXPECTED_DELTAS)
    assert list(summary["per_symbol"]) == ["ZVZZT"]
    h = CliRunner().invoke(app, ["ingest", "itch", "--help"])
    assert h.exit_code == 0 and "Example" in h.output


def test_cli_strict_bad_input_one_line_exit_2(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import sys

    from orderflow.cli.main import main

    p = tmp_path / "bad.itch"
    # S (14 bytes framed), then a D of 20 bytes instead of 19
    p.write_bytes(frame(SESSION[0]) + frame(hdr("D", 5, 1) + bytes(9)))
    argv = ["orderflow", "ingest", "itch", str(p), "--out", str(tmp_path / "ds"), "--date", "2019-01-30"]
    monkeypatch.setattr(sys, "argv", [*argv, "--strict", "-q"])
    with pytest.raises(SystemExit) as ei:
        main()
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert "byte offset 14" in err and "'D' has length 20, the spec says 19" in err
    assert "Traceback" not in err
    monkeypatch.setattr(sys, "argv", [*argv, "-q"])
    main()  # not strict: quarantined and reported
    assert "bad lengths {'D': 1}" in capsys.readouterr().err.replace("\n", " ")


def test_small_batches_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _write(tmp_path)
    full = read_itch(p, date="2019-01-30")
    monkeypatch.setattr(itch_mod._Reader, "batch", 3)
    res = read_itch(p, date="2019-01-30")
    for sym in full.instruments:
        assert res.deltas[sym].equals(full.deltas[sym])
        assert res.trades[sym].equals(full.trades[sym])
        assert res.qc[sym].equals(full.qc[sym])


def test_tiny_pools_and_batches_identical(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # growth of every buffer of the fused kernels (order-reference table, the pooled per-stock
    # books, rows, trades, segments) must not change any output
    data, _ = _random_stream(rng, 3000)
    p = _write(tmp_path, DATA + data)
    full = read_itch(p, date="2019-01-30")
    monkeypatch.setattr(itch_mod._Reader, "initial_orders", 4)
    monkeypatch.setattr(itch_mod._Reader, "initial_pool_orders", 4)
    monkeypatch.setattr(itch_mod._Reader, "initial_pool_levels", 2)
    monkeypatch.setattr(itch_mod._Reader, "gen_rows_min", 16)
    for batch in (1, 7, 1000):
        monkeypatch.setattr(itch_mod._Reader, "batch", batch)
        res = read_itch(p, date="2019-01-30", chunk_bytes=1 << 12)
        for sym in full.instruments:
            assert res.deltas[sym].equals(full.deltas[sym])
            assert res.trades[sym].equals(full.trades[sym])
            assert res.qc[sym].equals(full.qc[sym])
        assert res.stats == full.stats


def _fused_run(order_pass, apply_events, flush_rows, data: bytes):  # type: ignore[no-untyped-def]
    """Run the fused kernels (jitted or plain twins) over ``data`` in one batch; return every output."""
    buf = np.frombuffer(data, dtype=np.uint8)
    fr = itch_mod.scan_frames(buf)
    n = len(fr.offsets)
    keep = fr.status == K.ST_OK
    st = np.zeros(K.N_STATE, dtype=np.int64)
    st[K.S_GEN] = 0
    st[K.S_CAP] = 1 << 16
    tab = np.full((1 << 12, 4), K.EMPTY, dtype=np.int64)
    ev = np.zeros((2 * n + 4, 9), dtype=np.int64)
    tr = np.zeros((9, n + 1), dtype=np.int64)
    ms = np.zeros((5, n + 1), dtype=np.int64)
    i = order_pass(buf, fr.offsets, fr.types, keep, itch_mod._IS_BOOK, 0, 0, 7, 1 << 20, tab, st, ev, tr, ms)
    assert i == n and st[K.S_NEED] == K.NEED_NONE
    opool = np.zeros((1 << 12, 4), dtype=np.int64)
    lpool = np.zeros((2, 1 << 10, 3), dtype=np.int64)
    hpool = np.zeros((2, 1 << 10), dtype=np.int64)
    cpool = np.zeros((65536, 18), dtype=np.int64)
    desc = np.full((65536, 4), -1, dtype=np.int64)
    out = np.zeros((9, 4 * n + 8), dtype=np.int64)
    out_loc = np.zeros(4 * n + 8, dtype=np.uint16)
    tally = np.zeros(65536, dtype=np.int64)
    touched = np.zeros(4 * n + 8, dtype=np.int64)
    grouped = np.zeros_like(ev)
    tstart = np.zeros(2 * n + 8, dtype=np.int64)
    nev = int(st[K.S_EVENTS])
    evs = ev[:nev].tolist()
    assert apply_events(
        ev, opool, lpool, hpool, cpool, desc, st, out, out_loc, grouped, tally, touched, tstart
    )
    rows = int(st[K.S_ROWS])
    grouped_rows = (out[:, :rows].tolist(), out_loc[:rows].tolist())
    dcols = (
        np.zeros(1 << 16, np.int64),
        np.zeros(1 << 16, np.int64),
        np.zeros(1 << 16, np.int8),
        np.zeros(1 << 16, np.uint8),
        np.zeros(1 << 16, np.int64),
        np.zeros(1 << 16, np.int64),
        np.zeros(1 << 16, np.int64),
        np.zeros(1 << 16, np.uint8),
    )
    seg = np.full(65536, -1, dtype=np.int64)
    seglog = np.zeros((64, 5), dtype=np.int64)
    assert flush_rows(out, out_loc, rows, dcols, seg, seglog, st, tally, touched)
    nseg = int(st[K.S_SEGS])
    used = int(st[K.S_USED])
    return (
        st.tolist(),
        evs,
        tr[:, : int(st[K.S_TRADES])].tolist(),
        ms[:, : int(st[K.S_MISSES])].tolist(),
        tab.tolist(),
        cpool[cpool.any(axis=1)].tolist(),
        grouped_rows,
        seglog[:nseg].tolist(),
        [c[:used].tolist() for c in dcols],
    )


def test_fused_kernels_twins_agree() -> None:
    jitted = _fused_run(K.order_pass, K.apply_events, K.flush_rows, DATA)
    plain = _fused_run(K.order_pass.py_func, K.apply_events.py_func, K.flush_rows.py_func, DATA)
    assert jitted == plain
    st = jitted[0]
    # the hand-worked session: 3 orders rest; 5 trade rows; 1 unknown reference
    assert (st[K.S_ORDERS], st[K.S_TRADES], st[K.S_MISSES]) == (3, 5, 1)


def test_group_trades_twin(rng: np.random.Generator) -> None:
    n = 50
    tr = rng.integers(0, 1000, size=(9, n + 5)).astype(np.int64)
    tr[1] = rng.integers(0, 6, size=n + 5)
    tr[5] = rng.integers(-1, 2, size=n + 5)
    tr[6] = rng.integers(0, 3, size=n + 5)
    outs = []
    for fn in (K.group_trades, K.group_trades.py_func):
        outs.append([a.tolist() for a in fn(tr, n, 8)])
    assert outs[0] == outs[1]
    start, ts, seq = outs[0][0], outs[0][1], outs[0][2]
    order = np.argsort(tr[1, :n], kind="stable")
    assert seq == tr[0, :n][order].tolist() and ts == tr[2, :n][order].tolist()
    assert start == [0, *np.cumsum(np.bincount(tr[1, :n], minlength=8)).tolist()]
