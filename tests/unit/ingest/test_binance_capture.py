"""Binance raw-capture replay on hand-written captures: every expected value is worked out by hand."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from orderflow.core.enums import UNDEF_PRICE, BookAction, Flags
from orderflow.core.errors import DataFormatError
from orderflow.ingest.binance import read_binance_capture, verify_binance

T0 = 1_723_161_600_000  # ms

# every test runs on both engines: the fast (vectorised + numba) one must equal the reference one
pytestmark = pytest.mark.parametrize("engine", ["fast", "reference"])


def _read(engine: str, paths: list[Path], **kw: Any) -> Any:
    res = read_binance_capture(paths, engine=engine, **kw)
    if not kw:  # clean input: the fast engine must not have fallen back
        assert res.stats["engine"] == engine
    return res


def _verify(engine: str, paths: list[Path], **kw: Any) -> dict[str, Any]:
    st = verify_binance(paths, engine=engine, **kw)
    assert st["engine"] == engine
    return st


def _line(ts_ns: int, obj: dict[str, Any], stream: str | None = None) -> str:
    payload = {"stream": stream, "data": obj} if stream else obj
    return f"{ts_ns} {json.dumps(payload)}"


def spot_depth(U: int, u: int, b: list[list[str]], a: list[list[str]], e_ms: int) -> dict[str, Any]:
    return {"e": "depthUpdate", "E": e_ms, "s": "BTCUSDT", "U": U, "u": u, "b": b, "a": a}


def usdm_depth(U: int, u: int, pu: int, b: list[list[str]], a: list[list[str]], e_ms: int) -> dict[str, Any]:
    return {
        "e": "depthUpdate",
        "E": e_ms,
        "T": e_ms,
        "s": "BTCUSDT",
        "U": U,
        "u": u,
        "pu": pu,
        "b": b,
        "a": a,
    }


def ticker(u: int, b: str, bq: str, a: str, aq: str) -> dict[str, Any]:
    return {"u": u, "s": "BTCUSDT", "b": b, "B": bq, "a": a, "A": aq}


def trade(t: int, p: str, q: str, m: bool, ms: int) -> dict[str, Any]:
    return {"e": "trade", "E": ms, "s": "BTCUSDT", "t": t, "p": p, "q": q, "T": ms, "m": m}


SNAP = {
    "lastUpdateId": 100,
    "bids": [["100.00", "1.0"], ["99.00", "2.0"]],
    "asks": [["101.00", "1.5"], ["102.00", "3"]],
}


def write(path: Path, lines: list[str], gz: bool = True) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def spot_capture(tmp_path: Path) -> Path:
    ns = 1_000_000
    lines = [
        _line(
            1 * ns, spot_depth(95, 100, [["100.00", "0.5"]], [], T0 + 1), "btcusdt@depth@100ms"
        ),  # superseded
        _line(2 * ns, ticker(101, "100.00", "1.00000000", "101.00", "1.40000000"), "btcusdt@bookTicker"),
        _line(3 * ns, SNAP),
        # straddles: U=99 <= 101 <= u=102
        _line(
            4 * ns,
            spot_depth(99, 102, [["100.00", "1.25"]], [["101.00", "1.4"]], T0 + 2),
            "btcusdt@depth@100ms",
        ),
        _line(5 * ns, trade(7, "100.00", "0.25", True, T0 + 3), "btcusdt@trade"),
        _line(6 * ns, ticker(104, "100.50", "0.10000000", "101.00", "1.40000000"), "btcusdt@bookTicker"),
        # continues: U = 103 = 102 + 1; adds bid 100.50 and deletes ask 102
        _line(
            7 * ns,
            spot_depth(103, 104, [["100.50", "0.1"]], [["102.00", "0"]], T0 + 4),
            "btcusdt@depth@100ms",
        ),
        _line(8 * ns, trade(8, "101.00", "0.1", False, T0 + 5), "btcusdt@trade"),
    ]
    return write(tmp_path / "btcusdt_1.gz", lines)


def test_spot_sync_and_rows(tmp_path: Path, engine: str) -> None:
    res = _read(engine, [spot_capture(tmp_path)])
    st = res.stats
    assert st["market"] == "spot"
    assert (st["depth_events"], st["applied"], st["superseded"], st["gaps"]) == (3, 2, 1, 0)
    d = res.deltas
    # snapshot event: CLEAR + 4 SET rows, all SNAPSHOT, LAST on the final one
    snap = d.filter(pl.col("flags") & int(Flags.SNAPSHOT) > 0)
    assert snap.height == 5
    assert snap["action"][0] == int(BookAction.CLEAR) and snap["price"][0] == UNDEF_PRICE
    assert snap["flags"].to_list() == [32, 32, 32, 32, 32 | 128]
    assert snap["price"].to_list()[1:] == [100_000_000_000, 99_000_000_000, 101_000_000_000, 102_000_000_000]
    assert snap["size"].to_list()[1:] == [100_000_000, 200_000_000, 150_000_000, 300_000_000]
    live = d.filter(pl.col("flags") & int(Flags.SNAPSHOT) == 0)
    assert live["price"].to_list() == [100_000_000_000, 101_000_000_000, 100_500_000_000, 102_000_000_000]
    assert live["size"].to_list() == [125_000_000, 140_000_000, 10_000_000, 0]
    assert live["side"].to_list() == [1, -1, 1, -1]
    assert live["flags"].to_list() == [0, 128, 0, 128]
    assert set(live["action"].to_list()) == {int(BookAction.SET)}
    assert live["ts_event"].to_list()[:2] == [(T0 + 2) * 1_000_000] * 2
    assert live["ts_recv"].to_list()[:2] == [4_000_000] * 2
    # one event = one seq; seq increases in applied order, trades interleave on the same counter
    seqs = d["seq"].unique(maintain_order=True).to_list()
    assert seqs == sorted(seqs) and len(seqs) == 3
    tr = res.trades
    assert tr["aggressor"].to_list() == [-1, 1]  # m=true: buyer is maker -> seller-initiated
    assert tr["trade_id"].to_list() == [7, 8]
    assert tr["size"].to_list() == [25_000_000, 10_000_000]
    all_seq = sorted(d["seq"].unique().to_list() + tr["seq"].to_list())
    assert len(all_seq) == len(set(all_seq))
    # QC: the superseded diff is reported, not silently dropped
    qc = res.qc
    assert qc.filter(pl.col("reason") == "superseded_by_snapshot").height == 1
    assert res.instrument.symbol == "BTCUSDT" and res.instrument.venue == "BINANCE"


def test_spot_bbo_checks(tmp_path: Path, engine: str) -> None:
    st = _verify(engine, [spot_capture(tmp_path)])
    # ticker u=104 equals the final id of the second diff: book bid 100.50 x 0.1 / ask 101 x 1.4
    assert st["bbo_checked"] == 1 and st["bbo_mismatches"] == 0
    # ticker u=101 is older than the first applied final id (102): no exact state to compare
    assert st["bbo_unmatched"] == 1
    # as-of: after u=102 the latest ticker <= 102 is u=101 (bid 100 x 1.0 vs book 100 x 1.25): a defect
    # in this hand-written stream; after u=104 the ticker u=104 agrees.
    assert st["asof_checked"] == 2 and st["asof_mismatches"] == 1
    assert st["first_asof_mismatch"]["bookTicker_u"] == 101


def test_bbo_mismatch_is_reported(tmp_path: Path, engine: str) -> None:
    lines = [
        _line(1, SNAP),
        _line(2, spot_depth(101, 101, [["100.00", "2"]], [], T0), "s@depth"),
        _line(3, ticker(101, "100.00", "2.5", "101.00", "1.5"), "s@bookTicker"),  # book says 2, ticker 2.5
    ]
    st = _verify(engine, [write(tmp_path / "x.gz", lines)])
    assert st["bbo_checked"] == 1 and st["bbo_mismatches"] == 1
    assert st["first_bbo_mismatch"]["u"] == 101
    assert "x 2 /" in st["first_bbo_mismatch"]["book"] and "x 2.5" in st["first_bbo_mismatch"]["bookTicker"]


def test_gap_quarantines_until_next_snapshot(tmp_path: Path, engine: str) -> None:
    snap2 = {"lastUpdateId": 200, "bids": [["100.00", "9"]], "asks": [["101.00", "9"]]}
    lines = [
        _line(1, SNAP),
        _line(2, spot_depth(101, 102, [["100.00", "2"]], [], T0), "s@depth"),
        _line(3, spot_depth(105, 106, [["100.00", "3"]], [], T0 + 1), "s@depth"),  # gap: 103, 104 missing
        _line(4, spot_depth(107, 199, [["100.00", "4"]], [], T0 + 2), "s@depth"),  # quarantined (u <= 200)
        _line(5, spot_depth(200, 205, [["100.00", "5"]], [], T0 + 3), "s@depth"),  # buffered, straddles 201
        _line(6, snap2),
        _line(7, spot_depth(206, 210, [["100.00", "6"]], [], T0 + 4), "s@depth"),
    ]
    res = _read(engine, [write(tmp_path / "g.gz", lines)])
    st = res.stats
    assert st["gaps"] == 1 and st["snapshots"] == 2 and st["applied"] == 3
    live = res.deltas.filter(pl.col("flags") & int(Flags.SNAPSHOT) == 0)
    assert live["size"].to_list() == [200_000_000, 500_000_000, 600_000_000]  # 3 and 4 never applied
    qc = res.qc
    assert qc.filter(pl.col("rule") == "binance_gap").height >= 1
    gap_row = qc.filter(pl.col("reason") == "sequence_gap")
    assert gap_row.height == 1 and gap_row["action"][0] == "quarantine"
    assert "U=105" in gap_row["detail"][0]
    # the diff between the gap and the snapshot (u=199 <= 200) is quarantined, not applied
    assert qc.filter((pl.col("action") == "quarantine") & pl.col("detail").str.contains("u=199")).height == 1


def test_no_snapshot_quarantines_everything(tmp_path: Path, engine: str) -> None:
    lines = [_line(1, spot_depth(1, 2, [["1.0", "1"]], [], T0), "s@depth")]
    res = _read(engine, [write(tmp_path / "n.gz", lines)])
    assert res.deltas.height == 0
    assert res.qc.filter(pl.col("reason") == "no_snapshot").height == 1


def test_usdm_rules(tmp_path: Path, engine: str) -> None:
    snap = {**SNAP, "E": T0, "T": T0}
    lines = [
        _line(1, usdm_depth(90, 95, 80, [["100.0", "7"]], [], T0 - 5), "s@depth@0ms"),  # u < L: superseded
        # u == L: USD-M keeps it (U <= L <= u) -- re-sets the snapshot's own level
        _line(2, usdm_depth(96, 100, 95, [["100.0", "1.0"]], [], T0 - 1), "s@depth@0ms"),
        _line(3, snap),
        _line(4, usdm_depth(104, 110, 100, [["99.0", "0"]], [], T0 + 1), "s@depth@0ms"),  # pu == prev u
        _line(
            5,
            {
                "e": "bookTicker",
                "u": 110,
                "s": "BTCUSDT",
                "b": "100.0",
                "B": "1.0",
                "a": "101.0",
                "A": "1.5",
                "T": T0 + 1,
                "E": T0 + 1,
            },
            "s@bookTicker",
        ),
        _line(6, usdm_depth(111, 120, 109, [["99.0", "1"]], [], T0 + 2), "s@depth@0ms"),  # pu != 110: gap
    ]
    st = _verify(engine, [write(tmp_path / "f.gz", lines)])
    assert st["market"] == "usdm"
    assert (st["applied"], st["superseded"], st["gaps"]) == (2, 1, 1)
    assert st["bbo_checked"] == 1 and st["bbo_mismatches"] == 0


def test_files_chain_and_bare_payloads(tmp_path: Path, engine: str) -> None:
    f1 = write(tmp_path / "a.gz", [_line(1, SNAP), _line(2, spot_depth(101, 101, [["100.00", "2"]], [], T0))])
    f2 = write(tmp_path / "b.gz", [_line(3, spot_depth(102, 103, [["100.00", "3"]], [], T0 + 1))], gz=False)
    res = _read(engine, [f1, f2])
    assert res.stats["applied"] == 2 and res.stats["gaps"] == 0
    # the second file alone has no snapshot: its diff is quarantined
    alone = _read(engine, [f2])
    assert alone.stats["applied"] == 0 and alone.stats["quarantined"] == 1


def test_duplicates_and_clock_order(tmp_path: Path, engine: str) -> None:
    lines = [
        _line(10, SNAP),
        _line(20, spot_depth(101, 101, [["100.00", "2"]], [], T0), "s@depth"),
        _line(30, spot_depth(101, 101, [["100.00", "2"]], [], T0), "s@depth"),  # duplicate message
        _line(25, trade(5, "100.0", "1", False, T0), "s@trade"),  # local clock went back
        _line(40, trade(5, "100.0", "1", False, T0), "s@trade"),  # duplicate trade
        _line(50, trade(9, "100.0", "1", True, T0 - 1), "s@trade"),  # ids 6..8 missing, time went back
    ]
    res = _read(engine, [write(tmp_path / "d.gz", lines)])
    st = res.stats
    assert st["duplicates"] == 2 and st["ts_recv_out_of_order"] == 1 and st["trade_id_gaps"] == 1
    assert st["ts_event_out_of_order"] == 1
    assert res.trades["trade_id"].to_list() == [5, 9]
    rules = set(res.qc["rule"].to_list())
    assert {"binance_duplicate", "ts_recv_order", "binance_trade_gap", "ts_event_order"} <= rules


def test_malformed_json(tmp_path: Path, engine: str) -> None:
    lines = [_line(1, SNAP), '2 {"stream":"x","data":{"e":"depthUpd', _line(3, trade(1, "1", "1", True, T0))]
    f = write(tmp_path / "m.gz", lines)
    with pytest.raises(DataFormatError) as ei:
        _read(engine, [f])
    assert "m.gz" in str(ei.value) and "line 2" in str(ei.value) and "malformed JSON" in str(ei.value)
    res = _read(engine, [f], continue_on_error=True)
    assert res.stats["malformed_lines"] == 1
    assert res.qc.filter(pl.col("rule") == "parse_error")["action"].to_list() == ["quarantine"]
    assert res.trades.height == 1


def test_bad_decimal_and_bad_timestamp(tmp_path: Path, engine: str) -> None:
    f = write(tmp_path / "p.gz", [_line(1, SNAP), _line(2, spot_depth(101, 101, [["1e5", "1"]], [], T0))])
    with pytest.raises(DataFormatError, match=r"line 2.*field 'b'"):
        _read(engine, [f])
    g = write(tmp_path / "t.gz", ["abc {}"])
    with pytest.raises(DataFormatError, match="line 1"):
        _read(engine, [g])


def test_other_symbol_is_skipped(tmp_path: Path, engine: str) -> None:
    eth = {**trade(1, "1", "1", True, T0), "s": "ETHUSDT"}
    f = write(tmp_path / "s.gz", [_line(1, trade(1, "1", "1", True, T0)), _line(2, eth)])
    res = _read(engine, [f])
    assert res.trades.height == 1 and res.stats["other_symbol"] == 1
    only_eth = _read(engine, [f], symbol="ethusdt")
    assert only_eth.trades.height == 1 and only_eth.instrument.symbol == "ETHUSDT"


def test_cli_malformed_is_one_line_exit_2(tmp_path: Path, engine: str, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import sys

    from orderflow.cli.main import main

    f = write(tmp_path / "bad.gz", [_line(1, SNAP), "2 {not json"])
    for argv in (["verify", "binance", str(f), "--engine", engine, "--json"],
                 ["ingest", "binance", str(f), "--engine", engine, "--out", str(tmp_path / "o")]):  # fmt: skip
        monkeypatch.setattr(sys, "argv", ["orderflow", *argv])
        with pytest.raises(SystemExit) as ei:
            main()
        assert ei.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and "line 2" in err and "Traceback" not in err
    # with --continue-on-error the line is quarantined and counted
    monkeypatch.setattr(
        sys, "argv", ["orderflow", "verify", "binance", str(f), "--continue-on-error", "--json"]
    )
    main()
    out = json.loads(capsys.readouterr().out)
    assert out["malformed_lines"] == 1 and out["qc_counts"] == {"parse_error:malformed:quarantine": 1}
