"""Bybit orderbook.N snapshot + delta lines: hand-written streams and the real XRPUSDT sample."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from orderflow.core.errors import DataFormatError
from orderflow.core.io import Dataset
from orderflow.ingest._crypto import L2Book, dec_to_int
from orderflow.ingest.bybit import ingest_bybit, read_bybit


def msg(kind: str, u: int, b: list[list[str]], a: list[list[str]], ts: int = 1000) -> str:
    return json.dumps(
        {
            "topic": "orderbook.50.X",
            "type": kind,
            "ts": ts + 1,
            "cts": ts,
            "data": {"s": "X", "b": b, "a": a, "u": u, "seq": u * 10},
        }
    )


def write(tmp_path: Path, lines: list[str], name: str = "x.data") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def test_snapshot_delta_gap_restart(tmp_path: Path) -> None:
    lines = [
        msg("snapshot", 10, [["1.00", "5"]], [["1.01", "7"]]),
        msg("delta", 11, [["1.00", "0"], ["0.99", "2"]], []),
        msg("delta", 13, [["0.98", "1"]], []),  # gap (12 missing): quarantined
        msg("delta", 14, [["0.97", "1"]], []),  # still unsynced: quarantined
        msg("delta", 1, [["0.90", "3"]], [["0.95", "4"]]),  # u == 1: service restart -> snapshot
        msg("delta", 2, [], [["0.95", "0"], ["0.96", "1"]]),
    ]
    res = read_bybit(write(tmp_path, lines))
    st = res.stats
    assert (st["snapshots"], st["restarts"], st["applied"], st["gaps"], st["quarantined"]) == (2, 1, 2, 1, 2)
    d = res.deltas
    assert d["action"].to_list() == [5, 4, 4, 4, 4, 5, 4, 4, 4, 4]
    assert d["flags"].to_list() == [32, 32, 160, 0, 128, 32, 32, 160, 0, 128]
    assert d["ts_event"][0] == 1000 * 1_000_000 and d["ts_recv"][0] == 1001 * 1_000_000
    assert res.qc.filter(pl.col("rule") == "bybit_gap").height == 2
    assert res.qc.filter(pl.col("rule") == "bybit_restart").height == 1
    assert st["final_bbo"] == [900_000_000, 300_000_000, 960_000_000, 100_000_000]


def test_malformed_and_continue(tmp_path: Path) -> None:
    p = write(tmp_path, [msg("snapshot", 1, [["1", "1"]], []), '{"topic": "x", "type": "del'])
    with pytest.raises(DataFormatError, match=r"x.data, line 2.*malformed JSON"):
        read_bybit(p)
    res = read_bybit(p, continue_on_error=True)
    assert res.stats["malformed_lines"] == 1 and res.qc["rule"].to_list() == ["parse_error"]
    q = write(tmp_path, [msg("update", 1, [], [])], "y.data")
    with pytest.raises(DataFormatError, match="field 'type'"):
        read_bybit(q)


def test_duplicate_delta(tmp_path: Path) -> None:
    lines = [
        msg("snapshot", 5, [["1", "1"]], []),
        msg("delta", 6, [["1", "2"]], []),
        msg("delta", 6, [["1", "2"]], []),
    ]
    res = read_bybit(write(tmp_path, lines))
    assert res.stats["duplicates"] == 1 and res.stats["applied"] == 1


def test_real_sample(shared_data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = shared_data("crypto/bybit/xrpusdt-ob500.data.zip")
    res = read_bybit(path)
    st = res.stats
    assert (st["snapshots"], st["applied"], st["gaps"], st["crossed_after_event"]) == (1, 49, 0, 0)
    # independent replay of the raw JSON with a dict book gives the same final best levels
    with zipfile.ZipFile(path) as z:
        raw = [json.loads(x) for x in z.read(z.namelist()[0]).splitlines()]
    book = L2Book()
    for m in raw:
        if m["type"] == "snapshot":
            book.clear()
        for p, q in m["data"]["b"]:
            book.set_bid(dec_to_int(p, 9), dec_to_int(q, 8))
        for p, q in m["data"]["a"]:
            book.set_ask(dec_to_int(p, 9), dec_to_int(q, 8))
    assert st["final_bbo"] == list(book.bbo())
    snap = res.deltas.filter(pl.col("seq") == 0)
    assert snap.height == 1 + 500 + 500
    out: Any = ingest_bybit(path, tmp_path)
    assert Dataset(tmp_path).read("book_deltas", "XRPUSDT", "2024-12-01").height == out.deltas.height
