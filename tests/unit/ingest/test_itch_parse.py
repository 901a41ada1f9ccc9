"""ITCH 5.0 framing and message parsing: the real 4 KiB sample, hand-packed messages, bad input.

Byte strings are packed by hand with struct from the spec's field layouts (big-endian,
6-byte timestamps, alphas space-padded), independently of the package's layout table.
"""

from __future__ import annotations

import datetime as dt
import struct

import numpy as np
import pytest

from orderflow.core.errors import ConfigError, DataFormatError
from orderflow.ingest import _itch_kernels as K
from orderflow.ingest.itch import (
    _SPEC_LEN_TABLE,
    SPEC_LENGTHS,
    date_from_filename,
    parse_messages,
    read_itch,
    scan_frames,
)

NY_2019_01_30 = 1548824400 * 10**9  # 2019-01-30 00:00 America/New_York (EST, UTC-5) in UTC ns


def hdr(t: str, loc: int, ts: int, track: int = 0) -> bytes:
    return t.encode() + struct.pack(">HH", loc, track) + ts.to_bytes(6, "big")


def alpha(s: str, n: int) -> bytes:
    return s.encode().ljust(n, b" ")


def frame(body: bytes) -> bytes:
    return struct.pack(">H", len(body)) + body


# the spec's message lengths (ITCH 5.0 specification, section 1.x per type), typed by hand
SPEC = {
    "S": 12, "R": 39, "H": 25, "Y": 20, "L": 26, "V": 35, "W": 12, "K": 28, "J": 35, "h": 21,
    "A": 36, "F": 40, "E": 31, "C": 36, "X": 23, "D": 19, "U": 35, "P": 44, "Q": 40, "B": 19,
    "I": 50, "N": 20, "O": 48,
}  # fmt: skip


def test_layout_lengths_match_spec() -> None:
    assert SPEC_LENGTHS == SPEC


# -- the real sample --------------------------------------------------------------------------------
@pytest.mark.realdata
def test_real_sample_counts_and_truncation(shared_data) -> None:  # type: ignore[no-untyped-def]
    p = shared_data("itch/sample.itch")
    res = read_itch(p, date="2019-01-30")
    st = res.stats
    assert st["messages"] == 101
    assert st["messages_by_type"] == {"S": 1, "R": 98, "H": 1, "Y": 1}
    # the last R starts at byte 4081: 2 length bytes (0x0027 = 39) + 13 of its 39 body bytes
    assert st["truncated_at"] == 4081
    assert st["truncated_bytes"] == 15
    assert res.qc_file["rule"].to_list() == ["itch_truncated"]
    assert "4081" in res.qc_file["detail"][0]
    assert st["unknown_types"] == {} and st["bad_lengths"] == {}
    with pytest.raises(DataFormatError, match="byte offset 4081"):
        read_itch(p, date="2019-01-30", strict=True)


@pytest.mark.realdata
def test_real_sample_first_timestamp_and_directory(shared_data) -> None:  # type: ignore[no-untyped-def]
    res = read_itch(shared_data("itch/sample.itch"), date="2019-01-30")
    s = res.messages["S"]
    assert s["event_code"].to_list() == ["O"]
    assert s["ts_ns_after_midnight"][0] == (3 * 3600 + 3 * 60 + 59) * 10**9 + 687_760_787
    assert s["ts_event"][0] == NY_2019_01_30 + s["ts_ns_after_midnight"][0]
    r = res.messages["R"]
    assert r.height == 98
    assert r["stock"][0] == "A" and r["stock"][-1] == "ADRA"
    # fields read off `xxd sample.itch` at 0x0e (A) and 0x3d (AA)
    a = r.row(0, named=True)
    assert a["stock_locate"] == 1 and a["tracking_number"] == 0
    assert a["ts_ns_after_midnight"] == 0x0A4A4CEE5599
    assert (a["market_category"], a["financial_status_indicator"], a["round_lot_size"]) == ("N", "", 100)
    assert (a["round_lots_only"], a["issue_classification"], a["issue_sub_type"]) == ("N", "C", "Z")
    assert (a["authenticity"], a["short_sale_threshold_indicator"], a["ipo_flag"]) == ("P", "N", "")
    assert (a["luld_reference_price_tier"], a["etp_flag"], a["etp_leverage_factor"]) == ("1", "N", 0)
    assert a["inverse_indicator"] == "N"
    aa = r.row(1, named=True)
    assert (aa["stock"], aa["stock_locate"], aa["ts_ns_after_midnight"]) == ("AA", 2, 0x0A4A4D062D2D)
    assert (aa["round_lot_size"], aa["etp_leverage_factor"]) == (100, 1)
    assert set(res.instruments) == set(r["stock"].to_list())
    assert res.instruments["AA"].tick_size == "0.01"
    assert res.instruments["AA"].timezone == "America/New_York"
    # H (trading action, T = trading) for stock locate of the H message -> STATUS trade resume
    h = res.messages["H"].row(0, named=True)
    sym = res.messages["R"].filter(res.messages["R"]["stock_locate"] == h["stock_locate"])["stock"][0]
    assert h["trading_state"] == "T"
    st = res.status[sym]
    assert st["status"].to_list() == [7, 3]  # S:O (other), H:T (trade resume)
    assert st["seq"].to_list() == [0, h["seq"]]
    assert res.status["AA"]["detail"].to_list() == ["S:O"]


@pytest.mark.realdata
def test_real_sample_symbol_filter_and_tiny_chunks(shared_data) -> None:  # type: ignore[no-untyped-def]
    p = shared_data("itch/sample.itch")
    full = read_itch(p, date="2019-01-30")
    for chunk in (1, 7, 39, 41, 1000):
        res = read_itch(p, date="2019-01-30", chunk_bytes=chunk)
        assert res.stats == full.stats
        for t, df in full.messages.items():
            assert res.messages[t].equals(df), (chunk, t)
        assert res.qc_file.equals(full.qc_file)
    sub = read_itch(p, date="2019-01-30", symbols=["AA", "A"], chunk_bytes=50)
    assert set(sub.instruments) == {"A", "AA"}
    # kept: S (market-wide, locate 0) and the messages with locates 1 (A) and 2 (AA)
    expect = sum(df.filter(df["stock_locate"].is_in([0, 1, 2])).height for df in full.messages.values())
    assert sub.stats["kept_messages"] == expect >= 3
    assert sub.messages["R"]["stock"].to_list() == ["A", "AA"]
    assert set(sub.status) == {"A", "AA"}


# -- hand-packed reference messages -----------------------------------------------------------------
def test_all_reference_types_decode() -> None:
    ts = 34_200_000_000_123
    msgs = [
        hdr("S", 0, ts) + b"Q",
        hdr("Y", 5, ts) + alpha("ZVZZT", 8) + b"1",
        hdr("L", 5, ts) + b"GSCO" + alpha("ZVZZT", 8) + b"YNA",
        hdr("V", 0, ts) + struct.pack(">QQQ", 1_234_567_890_000, 2, 3_00000000),
        hdr("W", 0, ts) + b"2",
        hdr("K", 5, ts) + alpha("ZVZZT", 8) + struct.pack(">I", 36000) + b"A" + struct.pack(">I", 215000),
        hdr("J", 5, ts) + alpha("ZVZZT", 8) + struct.pack(">IIII", 100000, 110000, 90000, 2),
        hdr("h", 5, ts) + alpha("ZVZZT", 8) + b"QH",
        hdr("B", 5, ts) + struct.pack(">Q", 777),
        hdr("I", 5, ts)
        + struct.pack(">QQ", 1000, 250)
        + b"B"
        + alpha("ZVZZT", 8)
        + struct.pack(">III", 101000, 102000, 101500)
        + b"OL",
        hdr("N", 5, ts) + alpha("ZVZZT", 8) + b"A",
        hdr("O", 5, ts)
        + alpha("ZVZZT", 8)
        + b"Y"
        + struct.pack(">III", 90000, 110000, 100500)
        + struct.pack(">Q", 36_000_000_000_000)
        + struct.pack(">II", 95000, 105000),
    ]
    data = b"".join(frame(m) for m in msgs)
    out = parse_messages(data, date="2019-01-30")
    assert sorted(out) == sorted("SYLVWKJhBINO")
    assert out["S"]["ts_event"][0] == NY_2019_01_30 + ts
    assert out["Y"].row(0, named=True)["reg_sho_action"] == "1"
    lrow = out["L"].row(0, named=True)
    assert (lrow["mpid"], lrow["stock"], lrow["market_participant_state"]) == ("GSCO", "ZVZZT", "A")
    v = out["V"].row(0, named=True)
    assert v["level_1"] == 12_345_678_900_000  # Price(8) 12345.6789 -> 1e-9 units
    assert v["level_3"] == 3 * 10**9
    assert out["W"]["breached_level"][0] == "2"
    k = out["K"].row(0, named=True)
    assert (k["ipo_quotation_release_time"], k["ipo_price"]) == (36000, 21_500_000_000)
    j = out["J"].row(0, named=True)
    assert j["upper_auction_collar_price"] == 11 * 10**9 and j["auction_collar_extension"] == 2
    assert out["h"].row(0, named=True)["operational_halt_action"] == "H"
    assert out["B"]["match_number"][0] == 777
    i = out["I"].row(0, named=True)
    assert (i["paired_shares"], i["imbalance_shares"], i["imbalance_direction"]) == (1000, 250, "B")
    assert (i["far_price"], i["near_price"], i["current_reference_price"]) == (
        10_100_000_000,
        10_200_000_000,
        10_150_000_000,
    )
    assert (i["cross_type"], i["price_variation_indicator"]) == ("O", "L")
    assert out["N"]["interest_flag"][0] == "A"
    o = out["O"].row(0, named=True)
    assert o["near_execution_price"] == 10_050_000_000
    assert o["near_execution_time"] == 36_000_000_000_000
    assert o["upper_price_range_collar"] == 10_500_000_000


def test_frame_scan_twin_agrees() -> None:
    ts = 1
    data = b"".join(
        [
            frame(hdr("S", 0, ts) + b"O"),
            frame(hdr("D", 1, ts) + struct.pack(">Q", 9)),
            frame(b"Z" + bytes(5)),  # unknown type
            frame(hdr("D", 1, ts) + struct.pack(">Q", 9) + b"\x00"),  # wrong length
            frame(b""),  # zero length
            frame(hdr("S", 0, ts) + b"C")[:7],  # partial
        ]
    )
    buf = np.frombuffer(data, dtype=np.uint8)
    res = []
    for fn in (K.frame_scan, K.frame_scan.py_func):
        cap = len(buf) // 2 + 1
        arrs = [
            np.empty(cap, np.int64),
            np.empty(cap, np.uint8),
            np.empty(cap, np.int64),
            np.empty(cap, np.uint8),
        ]
        n, stop = fn(buf, 0, len(buf), _SPEC_LEN_TABLE, *arrs)
        res.append((n, stop, [a[:n].tolist() for a in arrs]))
    assert res[0] == res[1]
    n, stop, (offs, types, lens, status) = res[0]
    assert n == 5
    assert stop == len(data) - 7
    assert types == [ord("S"), ord("D"), ord("Z"), ord("D"), 0]
    assert lens == [12, 19, 6, 20, 0]
    assert status == [K.ST_OK, K.ST_OK, K.ST_UNKNOWN, K.ST_BADLEN, K.ST_BADLEN]
    assert offs[0] == 2 and offs[1] == 2 + 12 + 2
    fr = scan_frames(buf)
    assert fr.stop == stop and fr.offsets.tolist() == offs


# -- bad input ----------------------------------------------------------------------------------------
def _bad_file(tmp_path):  # type: ignore[no-untyped-def]
    data = b"".join(
        [
            frame(hdr("S", 0, 5) + b"O"),
            frame(
                hdr("R", 1, 6)
                + alpha("ZVZZT", 8)
                + b"Q "
                + struct.pack(">I", 100)
                + b"NCZ PN 1N"
                + bytes(4)
                + b"N"
            ),
            frame(b"z" + bytes(10)),  # unknown type at offset 14 + 41 = 55
            frame(hdr("X", 1, 7) + struct.pack(">QI", 1, 5) + b"\x00\x00"),  # X with 25 bytes at 68
            frame(hdr("S", 0, 8) + b"C"),
        ]
    )
    p = tmp_path / "bad.itch"
    p.write_bytes(data)
    return p


def test_bad_length_and_unknown_type_quarantined(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = _bad_file(tmp_path)
    res = read_itch(p, date="2019-01-30")
    st = res.stats
    assert st["messages"] == 5
    assert st["unknown_types"] == {"z": 1}
    assert st["bad_lengths"] == {"X": 1}
    assert st["truncated_at"] is None
    qc = res.qc_file
    assert qc["rule"].to_list() == ["itch_unknown_type", "itch_bad_length"]
    assert qc["seq"].to_list() == [2, 3]
    assert "offset 55" in qc["detail"][0]
    assert "offset 68" in qc["detail"][1] and "length 25" in qc["detail"][1] and "23" in qc["detail"][1]
    assert res.status["ZVZZT"]["detail"].to_list() == ["S:O", "S:C"]


def test_bad_input_strict_names_offset(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = _bad_file(tmp_path)
    with pytest.raises(DataFormatError, match=r"byte offset 55.*unknown message type 'z'"):
        read_itch(p, date="2019-01-30", strict=True)


def test_date_from_file_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert date_from_filename("01302019.NASDAQ_ITCH50") == dt.date(2019, 1, 30)
    assert date_from_filename("/x/12282020.NASDAQ_ITCH50.gz") == dt.date(2020, 12, 28)
    assert date_from_filename("sample.itch") is None
    p = tmp_path / "07012020.NASDAQ_ITCH50"
    p.write_bytes(frame(hdr("S", 0, 10) + b"O"))
    res = read_itch(p)
    assert res.date == dt.date(2020, 7, 1)
    # EDT (UTC-4) in July
    assert res.messages["S"]["ts_event"][0] == 1593576000 * 10**9 + 10
    with pytest.raises(ConfigError, match="date"):
        read_itch(_nodate(tmp_path))


def _nodate(tmp_path):  # type: ignore[no-untyped-def]
    p = tmp_path / "nodate.itch"
    p.write_bytes(frame(hdr("S", 0, 10) + b"O"))
    return p


@pytest.mark.realdata
def test_real_sample_cli_ingest(shared_data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from orderflow.cli.main import app
    from orderflow.core.io import Dataset

    p = shared_data("itch/sample.itch")
    args = ["ingest", "itch", str(p), "--out", str(tmp_path), "--date", "2019-01-30", "--symbols", "A,AA"]
    r = CliRunner().invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert (s["messages"], s["truncated_at"], s["symbols"]) == (101, 4081, 2)
    assert s["messages_by_type"] == {"H": 1, "R": 98, "S": 1, "Y": 1}
    ds = Dataset(tmp_path)
    assert set(ds.instruments()) == {"A", "AA"}
    qc = ds.read("qc", "AA", "2019-01-30")
    assert qc["rule"].to_list() == ["itch_truncated"]
    assert ds.read("book_deltas", "AA", "2019-01-30").height == 0
    assert ds.read("status", "AA", "2019-01-30")["detail"].to_list() == ["S:O"]


def test_keep_mask_twin() -> None:
    data = b"".join(frame(hdr("D", loc, 1) + struct.pack(">Q", loc)) for loc in (0, 1, 2, 3))
    buf = np.frombuffer(data, dtype=np.uint8)
    fr = scan_frames(buf)
    status = fr.status.copy()
    status[3] = K.ST_BADLEN
    wanted = np.zeros(65536, dtype=np.bool_)
    wanted[2] = True
    for fn in (K.keep_mask, K.keep_mask.py_func):
        assert fn(buf, fr.offsets, fr.types, status, wanted).tolist() == [True, False, True, False]


def test_many_degenerate_frames_take_several_rounds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # 100 zero-length frames (2 bytes each) exceed the per-round capacity sized for real messages
    data = frame(hdr("S", 0, 1) + b"O") + b"\x00\x00" * 100 + frame(hdr("S", 0, 2) + b"C")
    p = tmp_path / "zeros.itch"
    p.write_bytes(data)
    for chunk in (1 << 20, 9):
        res = read_itch(p, date="2019-01-30", chunk_bytes=chunk)
        assert res.stats["messages"] == 102
        assert res.stats["bad_lengths"] == {"0x00": 100}
        assert res.stats["truncated_at"] is None
        assert res.messages["S"]["event_code"].to_list() == ["O", "C"]
        assert res.messages["S"]["seq"].to_list() == [0, 101]
        assert res.qc_file.height == 100
