"""LOBSTER ingestion against the vendor's own book file (ground truth), on the real samples.

The checks here do not reuse the package's parser or kernels: the vendor files are read with the
csv module, times with Decimal, and BOOK_DELTAS are replayed on a dict-based price-level book.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from orderflow.core.enums import UNDEF_PRICE, BookAction, Flags
from orderflow.core.io import Dataset
from orderflow.core.schema import BOOK_DELTAS, QC, STATUS, TRADES, book_snapshots, validate
from orderflow.ingest.lobster import ingest_lobster, read_lobster
from orderflow.ingest.lobster_verify import verify_lobster

pytestmark = pytest.mark.realdata

AMZN = "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_1/AMZN_2012-06-21_34200000_57600000_{}_1.csv"
AAPL = "lobster/AAPL_2012-06-21_10_first999rows/AAPL_2012-06-21_34200000_57600000_{}_10.csv"
PAIRS = {"AMZN": (AMZN, 1, 57_515), "AAPL": (AAPL, 10, 999)}


def _read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _vendor_levels(row: list[str], levels: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(bids, asks) as [(price_1e-9, size)] best first, empty levels dropped."""
    bids: list[tuple[int, int]] = []
    asks: list[tuple[int, int]] = []
    for k in range(levels):
        ap, as_, bp, bs = (int(x) for x in row[4 * k : 4 * k + 4])
        if as_ > 0:
            asks.append((ap * 100_000, as_))
        if bs > 0:
            bids.append((bp * 100_000, bs))
    return bids, asks


def _top(book: dict[int, int], levels: int, bid: bool) -> list[tuple[int, int]]:
    return sorted(book.items(), reverse=bid)[:levels]


@pytest.fixture(params=sorted(PAIRS), scope="module")
def pair(request, shared_data):  # type: ignore[no-untyped-def]
    tmpl, levels, rows = PAIRS[request.param]
    return (
        request.param,
        shared_data(tmpl.format("message")),
        shared_data(tmpl.format("orderbook")),
        levels,
        rows,
    )


@pytest.fixture(scope="module")
def day(pair):  # type: ignore[no-untyped-def]
    _, msg, ob, _, _ = pair
    return read_lobster(msg, ob)


def test_deltas_replayed_on_dict_book_reproduce_every_vendor_row(pair, day) -> None:  # type: ignore[no-untyped-def]
    ticker, _, ob_path, levels, rows = pair
    vendor = _read_csv(ob_path)
    assert len(vendor) == rows == day.snapshots.height
    books: dict[int, dict[int, int]] = {1: {}, -1: {}}
    d = day.deltas
    seqs = d["seq"].to_list()
    sides = d["side"].to_list()
    actions = d["action"].to_list()
    prices = d["price"].to_list()
    sizes = d["size"].to_list()
    flags = d["flags"].to_list()
    j = 0
    n = len(seqs)
    for r in range(rows + 1):  # seq 0 = initial book, seq r = after message r (1-based)
        while j < n and seqs[j] == r:
            book = books[sides[j]]
            p, s, a = prices[j], sizes[j], actions[j]
            if a == BookAction.ADD:
                book[p] = book.get(p, 0) + s
            elif a in (BookAction.REDUCE, BookAction.EXECUTE):
                assert p in book, f"{ticker} seq {r}: reduce of a level the book does not hold"
                book[p] -= s
                assert book[p] >= 0
                if book[p] == 0:
                    del book[p]
            elif a == BookAction.SET:
                if s == 0:
                    book.pop(p, None)
                else:
                    book[p] = s
            else:  # pragma: no cover
                pytest.fail(f"unexpected action {a}")
            last = j + 1 == n or seqs[j + 1] != r
            assert bool(flags[j] & Flags.LAST) == last
            assert bool(flags[j] & Flags.SNAPSHOT) == (r == 0)
            j += 1
        if r == 0:
            continue
        bids, asks = _vendor_levels(vendor[r - 1], levels)
        assert _top(books[1], levels, True) == bids, f"{ticker} row {r} bid side"
        assert _top(books[-1], levels, False) == asks, f"{ticker} row {r} ask side"
    assert j == n
    # a top-L book: the deltas never leave more than L levels per side behind
    assert len(books[1]) <= levels and len(books[-1]) <= levels


def test_snapshots_are_the_vendor_rows(pair, day) -> None:  # type: ignore[no-untyped-def]
    _, _, ob_path, levels, rows = pair
    vendor = _read_csv(ob_path)
    snap = validate(day.snapshots, book_snapshots(levels))
    assert snap["seq"].to_list() == list(range(1, rows + 1))
    for r in (0, 1, rows // 2, rows - 1):
        row = snap.row(r, named=True)
        for k in range(levels):
            ap, as_, bp, bs = (int(x) for x in vendor[r][4 * k : 4 * k + 4])
            assert row[f"ask_px_{k:02d}"] == (ap * 100_000 if as_ > 0 else UNDEF_PRICE)
            assert row[f"ask_sz_{k:02d}"] == as_
            assert row[f"bid_px_{k:02d}"] == (bp * 100_000 if bs > 0 else UNDEF_PRICE)
            assert row[f"bid_sz_{k:02d}"] == bs


def test_timestamps_exact_new_york_time(pair, day) -> None:  # type: ignore[no-untyped-def]
    _, msg_path, _, _, rows = pair
    msgs = _read_csv(msg_path)
    midnight = dt.datetime(2012, 6, 21, tzinfo=ZoneInfo("America/New_York"))
    base = int(midnight.timestamp()) * 10**9
    assert base == 1_340_251_200 * 10**9  # 2012-06-21 04:00 UTC (EDT = UTC-4)
    ts = day.snapshots["ts_event"].to_list()
    assert day.snapshots["ts_recv"].to_list() == ts
    for r in range(rows):
        assert ts[r] == base + int(Decimal(msgs[r][0]) * 10**9)
    # 09:30 New York = 13:30 UTC
    first = dt.datetime.fromtimestamp(ts[0] // 10**9, tz=dt.UTC)
    assert (first.hour, first.minute) == (13, 30)


def test_trades_status_and_schemas(pair, day) -> None:  # type: ignore[no-untyped-def]
    _, msg_path, _, _, _ = pair
    msgs = _read_csv(msg_path)
    expected = [
        (
            i + 1,
            int(m[4]) * 100_000,
            int(m[3]),
            -int(m[5]) if m[1] in "45" else 0,
            {"4": 0, "5": 1, "6": 2}[m[1]],
        )
        for i, m in enumerate(msgs)
        if m[1] in ("4", "5", "6")
    ]
    t = validate(day.trades, TRADES)
    got = list(zip(t["seq"], t["price"], t["size"], t["aggressor"], t["kind"], strict=True))
    assert got == expected
    assert validate(day.status, STATUS).height == sum(m[1] == "7" for m in msgs)
    validate(day.deltas, BOOK_DELTAS)
    validate(day.qc, QC)
    assert day.instrument.timezone == "America/New_York"
    assert day.instrument.venue == "NASDAQ"
    assert day.date == dt.date(2012, 6, 21)


def test_reveals_marked_in_qc(pair, day) -> None:  # type: ignore[no-untyped-def]
    res = verify_lobster(pair[1], pair[2])
    reveal_seqs = day.qc.filter(pl.col("rule") == "lobster_reveal")["seq"].unique()
    # every reveal SET is at a row the verifier counts as a reveal; on these samples every reveal
    # row does reveal a level (the books are deep enough)
    assert reveal_seqs.len() == res["reveals"] > 0
    sets = day.deltas.filter(
        pl.col("seq").is_in(reveal_seqs.implode()) & (pl.col("action") == BookAction.SET)
    )
    assert sets.height >= reveal_seqs.len()


def test_verify_zero_mismatches(pair) -> None:  # type: ignore[no-untyped-def]
    ticker, msg, ob, levels, rows = pair
    res = verify_lobster(msg, ob)
    assert res["mismatches"] == 0, res["first_mismatch"]
    assert res["first_mismatch"] is None
    assert res["rows"] == rows and res["levels"] == levels
    assert res["crossed_rows"] == 0
    assert res["ok"] is True
    counts = {
        "AMZN": {
            "new_order": 27_845,
            "cancel": 16,
            "delete": 18_235,
            "execute_visible": 8_974,
            "execute_hidden": 2_445,
        },
        "AAPL": {"new_order": 471, "delete": 369, "execute_visible": 98, "execute_hidden": 61},
    }[ticker]
    assert {k: v for k, v in res["events"].items() if v} == counts


def test_ingest_writes_dataset(pair, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ticker, msg, ob, levels, rows = pair
    day = ingest_lobster(msg, ob, tmp_path / "ds")
    ds = Dataset(tmp_path / "ds")
    assert ds.instrument(ticker).tick_size == "0.01"
    for table in ("book_deltas", "trades", "status", "book_snapshots", "qc"):
        assert ds.has(table, ticker, "2012-06-21"), table
    assert ds.read("book_deltas", ticker, "2012-06-21").equals(day.deltas)
    assert ds.read("book_snapshots", ticker, "2012-06-21").height == rows
    meta = ds.read_meta(ticker, "2012-06-21")
    assert meta["rows"]["book_snapshots"] == rows
    assert len(meta["files"]["message"]["sha256"]) == 64
    assert meta["levels"] == levels


def test_cli_verify_and_ingest(pair, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from orderflow.cli.main import main

    ticker, msg, ob, _, rows = pair
    monkeypatch.setattr(sys, "argv", ["orderflow", "verify", "lobster", str(msg), str(ob), "--json"])
    main()  # returns normally: exit code 0
    assert json.loads(capsys.readouterr().out)["mismatches"] == 0
    argv = ["orderflow", "ingest", "lobster", str(msg), str(ob), "--out", str(tmp_path), "--json"]
    monkeypatch.setattr(sys, "argv", argv)
    main()
    out = json.loads(capsys.readouterr().out)
    assert (out["instrument"], out["rows"]) == (ticker, rows)
    assert Dataset(tmp_path).has("book_deltas", ticker, "2012-06-21")


def test_orderbook_only_file(shared_data) -> None:  # type: ignore[no-untyped-def]
    from orderflow.ingest.lobster import read_lobster_orderbook

    path = shared_data(
        "lobster/LOBSTER_SampleFile_AAPL_2012-06-21_1_orderbook_only/AAPL_2012-06-21_34200000_57600000_orderbook_1.csv"
    )
    vendor = _read_csv(path)
    df = read_lobster_orderbook(path)
    assert df.height == len(vendor) == 118_497
    assert df.columns == ["seq", "bid_px_00", "bid_sz_00", "ask_px_00", "ask_sz_00"]
    got = list(zip(df["bid_px_00"], df["bid_sz_00"], df["ask_px_00"], df["ask_sz_00"], strict=True))
    want = [(int(r[2]) * 100_000, int(r[3]), int(r[0]) * 100_000, int(r[1])) for r in vendor]
    assert got == want
    assert df["seq"].to_list() == list(range(1, len(vendor) + 1))
