"""LOBSTER mapping on a tiny hand-worked 2-level day (every expected row written out by hand)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from orderflow.core.enums import UNDEF_PRICE, BookAction, Flags, MarketStatus, TradeKind
from orderflow.core.errors import DataFormatError
from orderflow.ingest import _lobster_kernels as K
from orderflow.ingest.lobster import parse_lobster_filename, read_lobster
from orderflow.ingest.lobster_verify import verify_lobster

A, R, E, S = BookAction.ADD, BookAction.REDUCE, BookAction.EXECUTE, BookAction.SET
LAST, SNAP, BAD = int(Flags.LAST), int(Flags.SNAPSHOT), int(Flags.MAYBE_BAD_BOOK)
X = 100_000  # vendor price unit (1e-4 dollars) -> 1e-9 units
DA, DB = 9999999999, -9999999999

# Book before message 1 (L = 2): bids 100.00 x 10, 99.00 x 5 | asks 101.00 x 7, 102.00 x 3
MESSAGES = [
    "34200.5,1,11,4,1005000,1",  # 1 bid 100.50 x 4 -> new best bid, 99.00 pushed out of view
    "34201.000000001,4,1,7,1010000,-1",  # 2 execute ask 101.00 x 7 -> level gone, 103.00 x 8 revealed
    "34201.25,5,0,50,1015000,-1",  # 3 hidden execution at 101.50: no book change
    "34202,2,11,1,1005000,1",  # 4 partial cancel 1 share at 100.50
    "34203,3,12,10,1000000,1",  # 5 delete 100.00 x 10 -> 98.50 x 2 revealed
    "34204,7,0,0,-1,-1",  # 6 halt
    "34205,6,0,300,1020000,-1",  # 7 cross trade
    "34206,7,0,0,1,-1",  # 8 trading resumes
]
BOOKS = [  # ask_px_1, ask_sz_1, bid_px_1, bid_sz_1, ask_px_2, ...
    "1010000,7,1005000,4,1020000,3,1000000,10",
    "1020000,3,1005000,4,1030000,8,1000000,10",
    "1020000,3,1005000,4,1030000,8,1000000,10",
    "1020000,3,1005000,3,1030000,8,1000000,10",
    "1020000,3,1005000,3,1030000,8,985000,2",
    "1020000,3,1005000,3,1030000,8,985000,2",
    "1020000,3,1005000,3,1030000,8,985000,2",
    "1020000,3,1005000,3,1030000,8,985000,2",
]
NAME = "TEST_2012-06-21_34200000_57600000_{}_2.csv"


def write_pair(
    tmp: Path, messages: list[str], books: list[str], *, trailing_newline: bool = True
) -> tuple[Path, Path]:
    end = "\n" if trailing_newline else ""
    m = tmp / NAME.format("message")
    o = tmp / NAME.format("orderbook")
    m.write_text("\n".join(messages) + end)
    o.write_text("\n".join(books) + end)
    return m, o


def test_filename() -> None:
    assert parse_lobster_filename("/x/AMZN_2012-06-21_34200000_57600000_message_1.csv") == (
        "AMZN",
        dt.date(2012, 6, 21),
        1,
    )
    assert parse_lobster_filename("BRK_B_2013-01-02_0_1_orderbook_10.csv") == (
        "BRK_B",
        dt.date(2013, 1, 2),
        10,
    )
    with pytest.raises(DataFormatError, match="file name"):
        parse_lobster_filename("amzn.csv")


def test_handworked_deltas(tmp_path: Path) -> None:
    day = read_lobster(*write_pair(tmp_path, MESSAGES, BOOKS))
    assert day.levels == 2 and day.instrument.symbol == "TEST"
    rows = list(
        zip(day.deltas["seq"], day.deltas["side"], day.deltas["action"], day.deltas["price"], day.deltas["size"],
            day.deltas["order_id"], day.deltas["flags"], strict=True)
    )  # fmt: skip
    expected = [
        # initial book = row 1 with message 1 undone (100.50 x 4 removed; 99.00 unknown -> absent)
        (0, 1, S, 1000000 * X, 10, 0, SNAP),
        (0, -1, S, 1010000 * X, 7, 0, SNAP),
        (0, -1, S, 1020000 * X, 3, 0, SNAP | LAST),
        # 1: add; nothing pushed out because the initial bid side shows only 1 level
        (1, 1, A, 1005000 * X, 4, 11, LAST),
        # 2: execution removes 101.00 from a full ask side; 103.00 x 8 revealed from the book file
        (2, -1, E, 1010000 * X, 7, 1, 0),
        (2, -1, S, 1030000 * X, 8, 0, LAST),
        # 3: hidden execution: no delta
        (4, 1, R, 1005000 * X, 1, 11, LAST),
        (5, 1, R, 1000000 * X, 10, 12, 0),
        (5, 1, S, 985000 * X, 2, 0, LAST),
    ]
    assert rows == expected
    assert day.trades["seq"].to_list() == [2, 3, 7]
    assert day.trades["kind"].to_list() == [TradeKind.REGULAR, TradeKind.HIDDEN, TradeKind.CROSS]
    assert day.trades["aggressor"].to_list() == [1, 1, 0]  # executions of sell orders are buys
    assert day.trades["order_id"].to_list() == [1, 0, 0]
    assert day.trades["price"].to_list() == [1010000 * X, 1015000 * X, 1020000 * X]
    assert day.status["seq"].to_list() == [6, 8]
    assert day.status["status"].to_list() == [MarketStatus.HALT, MarketStatus.TRADE_RESUME]
    assert day.status["detail"].to_list() == ["lobster type 7 price=-1", "lobster type 7 price=1"]
    qc = day.qc
    assert qc["seq"].to_list() == [2, 5]
    assert set(qc["rule"]) == {"lobster_reveal"} and set(qc["action"]) == {"mark"}
    midnight_utc = 1_340_251_200 * 10**9  # 2012-06-21 00:00 New York = 04:00 UTC
    assert day.snapshots["ts_event"].to_list()[:2] == [
        midnight_utc + 34_200_500_000_000,
        midnight_utc + 34_201_000_000_001,
    ]
    assert day.deltas["ts_event"][0] == midnight_utc + 34_200_500_000_000
    snap = day.snapshots.row(0, named=True)
    assert (snap["bid_px_00"], snap["bid_sz_00"], snap["bid_px_01"]) == (1005000 * X, 4, 1000000 * X)
    assert snap["seq"] == 1


def test_handworked_pushout_and_empty_levels(tmp_path: Path) -> None:
    msgs = [
        "34200,3,5,3,1020000,-1",  # 1 delete ask 102.00: full side -> initial book holds it at 2 levels
        "34201,1,6,9,1015000,-1",  # 2 new ask 101.50 lands inside a full side -> 103.00 pushed out
        "34202,4,7,1,999000,1",  # 3 execute the only bid entirely -> bid side empty (dummy prices)
    ]
    books = [
        f"1010000,7,999000,1,1030000,8,{DB},0",
        f"1010000,7,999000,1,1015000,9,{DB},0",
        f"1010000,7,{DB},0,1015000,9,{DB},0",
    ]
    day = read_lobster(*write_pair(tmp_path, msgs, books))
    rows = list(zip(day.deltas["seq"], day.deltas["side"], day.deltas["action"], day.deltas["price"],
                    day.deltas["size"], day.deltas["flags"], strict=True))  # fmt: skip
    assert rows == [
        (0, 1, S, 999000 * X, 1, SNAP),
        (0, -1, S, 1010000 * X, 7, SNAP),
        (0, -1, S, 1020000 * X, 3, SNAP | LAST),
        (1, -1, R, 1020000 * X, 3, 0),
        (1, -1, S, 1030000 * X, 8, LAST),  # reveal
        (2, -1, A, 1015000 * X, 9, 0),
        (2, -1, S, 1030000 * X, 0, LAST),  # push-out
        (3, 1, E, 999000 * X, 1, LAST),  # side not full: nothing to reveal
    ]
    assert day.qc["rule"].to_list() == ["lobster_reveal", "lobster_depth_limit"]
    last = day.snapshots.row(2, named=True)
    assert (last["bid_px_00"], last["bid_sz_00"], last["bid_px_01"]) == (UNDEF_PRICE, 0, UNDEF_PRICE)
    res = verify_lobster(*write_pair(tmp_path, msgs, books))
    assert (res["reveals"], res["pushouts"], res["mismatches"]) == (1, 1, 0)


def test_mismatch_is_corrected_flagged_and_reported(tmp_path: Path) -> None:
    books = list(BOOKS)
    books[3] = "1020000,3,1005000,2,1030000,8,1000000,10"  # cancel of 1 share but the book shows 2 gone
    m, o = write_pair(tmp_path, MESSAGES, books)
    res = verify_lobster(m, o)
    assert res["mismatches"] == 2  # row 4 (size differs) and row 5 (its previous row is the odd one)
    fm = res["first_mismatch"]
    assert fm["row"] == 4
    assert fm["message"]["type"] == 2
    assert fm["expected"]["bid"] == [[1005000, 2], [1000000, 10]]
    assert fm["got"]["bid"] == [[1005000, 3], [1000000, 10]]
    assert res["ok"] is False
    day = read_lobster(m, o)
    fix = day.deltas.filter(day.deltas["seq"] == 4).rows()
    assert [(r[5], r[6], r[8]) for r in fix] == [(1005000 * X, 1, 0), (1005000 * X, 2, LAST | BAD)]
    assert "lobster_book_mismatch" in set(day.qc["rule"])


def test_zero_size_message_quarantined(tmp_path: Path) -> None:
    msgs = list(MESSAGES)
    msgs[2] = "34201.25,5,0,0,1015000,-1"  # hidden execution of 0 shares
    day = read_lobster(*write_pair(tmp_path, msgs, BOOKS))
    assert day.trades["seq"].to_list() == [2, 7]
    q = day.qc.filter(day.qc["rule"] == "lobster_quarantine")
    assert q["seq"].to_list() == [3] and q["action"].to_list() == ["quarantine"]


def test_apply_side_twin_and_cases() -> None:
    bids = np.array([1000, 990, 980], dtype=np.int64)
    asks = np.array([980, 990, 1000], dtype=np.int64)
    sz = np.array([5, 6, 7], dtype=np.int64)
    cases = [  # (side prices, type, price, size, is_bid) -> (m, status), resulting prices, sizes
        (bids, 1, 995, 2, True, (4, K.ST_INSERTED), [1000, 995, 990, 980], [5, 2, 6, 7]),
        (bids, 1, 990, 2, True, (3, 0), [1000, 990, 980, 0], [5, 8, 7, 0]),
        (bids, 1, 970, 2, True, (4, K.ST_INSERTED | K.ST_OUT_OF_VIEW), [1000, 990, 980, 970], [5, 6, 7, 2]),
        (bids, 3, 990, 6, True, (2, K.ST_REMOVED), [1000, 980, 0, 0], [5, 7, 0, 0]),
        (bids, 2, 990, 1, True, (3, 0), [1000, 990, 980, 0], [5, 5, 7, 0]),
        (bids, 3, 990, 9, True, (2, K.ST_REMOVED | K.ST_INCONSISTENT), [1000, 980, 0, 0], [5, 7, 0, 0]),
        (bids, 3, 985, 1, True, (3, K.ST_INCONSISTENT), [1000, 990, 980, 0], [5, 6, 7, 0]),
        (bids, 4, 970, 1, True, (3, K.ST_OUT_OF_VIEW), [1000, 990, 980, 0], [5, 6, 7, 0]),
        (bids, 0, 990, 1, True, (3, 0), [1000, 990, 980, 0], [5, 6, 7, 0]),  # type 0: copy
        (
            asks,
            1,
            1005,
            1,
            False,
            (4, K.ST_INSERTED | K.ST_OUT_OF_VIEW),
            [980, 990, 1000, 1005],
            [5, 6, 7, 1],
        ),
        (asks, 1, 985, 1, False, (4, K.ST_INSERTED), [980, 985, 990, 1000], [5, 1, 6, 7]),
        (asks, 4, 980, 5, False, (2, K.ST_REMOVED), [990, 1000, 0, 0], [6, 7, 0, 0]),
    ]
    for px, t, p, s, is_bid, ret, want_px, want_sz in cases:
        for fn in (K.apply_side, K.apply_side.py_func):
            cpx = np.full(4, -1, dtype=np.int64)
            csz = np.full(4, -1, dtype=np.int64)
            got = fn(px, sz, t, p, s, is_bid, cpx, csz)
            assert tuple(got) == ret, (t, p, s, is_bid)
            assert cpx.tolist() == want_px, (t, p, s, is_bid)
            assert csz.tolist() == want_sz, (t, p, s, is_bid)


def test_cli_verify_exit_codes(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import sys

    from orderflow.cli.main import main

    m, o = write_pair(tmp_path, MESSAGES, BOOKS)
    monkeypatch.setattr(sys, "argv", ["orderflow", "verify", "lobster", str(m), str(o)])
    main()  # no mismatch: returns (exit 0)
    err = capsys.readouterr().err
    assert "reveals" in err and "OK" in err
    books = list(BOOKS)
    books[3] = "1020000,3,1005000,2,1030000,8,1000000,10"
    m, o = write_pair(tmp_path, MESSAGES, books)
    with pytest.raises(SystemExit) as ei:
        main()
    assert ei.value.code == 1
    assert "first mismatch at row 4" in capsys.readouterr().err


def test_single_row_and_halt_only(tmp_path: Path) -> None:
    day = read_lobster(
        *write_pair(tmp_path, ["34200,7,0,0,-1,-1"], ["1010000,7,1005000,4,1020000,3,1000000,10"])
    )
    assert day.status["status"].to_list() == [MarketStatus.HALT]
    assert day.deltas["seq"].to_list() == [0, 0, 0, 0]  # the initial book only
    assert day.deltas["flags"].to_list() == [SNAP, SNAP, SNAP, SNAP | LAST]
    assert day.trades.height == 0
    res = verify_lobster(
        *write_pair(tmp_path, ["34200,7,0,0,-1,-1"], ["1010000,7,1005000,4,1020000,3,1000000,10"])
    )
    assert (res["rows"], res["halts"], res["mismatches"]) == (1, 1, 0)
