"""DBN ingestion on the real CME Globex ESH4 MBO day (the 2023-12-25 reopen after Christmas).

The reference book here does not reuse the package: records come from databento_dbn's own decoder
(record objects) and are replayed on a dict of orders with Databento's documented MBO semantics
(A add, C cancel the given quantity, M set price/size, R clear; T and F leave the book alone).
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path
from typing import Any

import databento_dbn as dbn
import polars as pl
import pytest
from typer.testing import CliRunner

from orderflow.core.enums import BookAction
from orderflow.core.io import Dataset
from orderflow.core.schema import BOOK_DELTAS, QC, TRADES, validate
from orderflow.ingest.dbn import DbnTruncationWarning, _read_bytes, ingest_dbn, read_dbn, verify_dbn

pytestmark = pytest.mark.realdata

ES = "databento/glbx-mdp3/esh4-glbx-mdp3-20231225.mbo.dbn.zst"
ES_SNAPSHOT = "databento/glbx-mdp3/esh4-glbx-mdp3-20231224.mbo.dbn.zst"
REOPEN_NS = int(dt.datetime(2023, 12, 25, 23, 0, tzinfo=dt.UTC).timestamp()) * 10**9


def reference_objects(path: Path) -> list[Any]:
    data, _ = _read_bytes(path)
    dec = dbn.DBNDecoder()
    dec.write(data)
    return dec.decode()[1:]


def reference_book(objs: list[Any]) -> tuple[dict[tuple[int, int], int], int]:
    """Price levels {(side, price): size} after replaying the records; and the unknown-reference count."""
    orders: dict[int, list[int]] = {}
    unknown = 0
    for o in objs:
        a = str(getattr(o.action, "value", o.action))
        side = {"B": 1, "A": -1}.get(str(getattr(o.side, "value", o.side)), 0)
        if a == "R":
            orders.clear()
        elif a == "A":
            orders[o.order_id] = [side, o.price, o.size]
        elif a in "CM" and o.order_id not in orders:
            unknown += 1
        elif a == "C":
            orders[o.order_id][2] -= o.size
            if orders[o.order_id][2] <= 0:
                del orders[o.order_id]
        elif a == "M":
            orders[o.order_id][1:] = [o.price, o.size]
    levels: dict[tuple[int, int], int] = {}
    for sd, px, sz in orders.values():
        levels[(sd, px)] = levels.get((sd, px), 0) + sz
    return levels, unknown


def levels_from_deltas(deltas: pl.DataFrame) -> dict[tuple[int, int], int]:
    levels: dict[tuple[int, int], int] = {}
    for side, action, price, size in deltas.select("side", "action", "price", "size").iter_rows():
        if action == BookAction.CLEAR:
            levels.clear()
            continue
        key = (side, price)
        levels[key] = levels.get(key, 0) + (size if action == BookAction.ADD else -size)
        if levels[key] == 0:
            del levels[key]
    return levels


def test_es_reopen_day_verifies(shared_data: Any) -> None:
    v = verify_dbn(shared_data(ES))
    assert v["records"] == 68_792
    assert v["actions"] == {"A": 29_216, "C": 17_999, "M": 12_233, "T": 2_973, "F": 6_371}
    assert v["unknown_order_refs"] == 0
    assert v["crossed_after_open"] == 0
    assert v["crossed_events"] > 0  # the pre-open auction book crosses
    assert v["ok"] is True
    assert v["flags"]["snapshot"] == 8_725


def test_crossed_books_are_all_pre_open_auction(shared_data: Any) -> None:
    res = read_dbn(shared_data(ES))
    (p,) = res.partitions
    validate(p.qc, QC)
    crossed = p.qc.filter(pl.col("rule") == "crossed_book")
    assert crossed.height == res.reports[17077].crossed_events
    assert set(crossed["reason"].to_list()) == {"auction"}
    assert set(crossed["action"].to_list()) == {"mark"}
    assert crossed["ts_event"].max() < REOPEN_NS
    assert res.reports[17077].first_trade_ts == REOPEN_NS


def test_book_matches_independent_replay(shared_data: Any) -> None:
    path = shared_data(ES)
    objs = reference_objects(path)
    want, unknown = reference_book(objs)
    assert unknown == 0
    res = read_dbn(path)
    (p,) = res.partitions
    validate(p.book_deltas, BOOK_DELTAS)
    got = levels_from_deltas(p.book_deltas)
    assert got == want
    bid = max(px for (sd, px) in want if sd == 1)
    ask = min(px for (sd, px) in want if sd == -1)
    bbo = res.reports[17077].final_bbo
    assert (bbo["bid_sz"], bbo["ask_sz"]) == (want[(1, bid)], want[(-1, ask)])
    assert bbo["bid_px"] == "4810" and bbo["ask_px"] == "4810.25" and bid == 4_810 * 10**9
    # every T record is one TRADES row with the same volume; aggressor from the DBN side
    t = [o for o in objs if str(getattr(o.action, "value", o.action)) == "T"]
    validate(p.trades, TRADES)
    assert p.trades.height == len(t)
    assert int(p.trades["size"].sum()) == sum(o.size for o in t)
    buys = sum(1 for o in t if str(getattr(o.side, "value", o.side)) == "B")
    assert int((p.trades["aggressor"] == 1).sum()) == buys
    # deltas carry order ids and flags: LAST only at event ends
    assert p.book_deltas.filter(pl.col("action") == BookAction.ADD)["order_id"].min() > 0
    last = p.book_deltas.filter((pl.col("flags") & 128) != 0).height
    assert 0 < last <= res.reports[17077].flags["last"] + 1


def test_snapshot_file_seeds_the_same_book(shared_data: Any) -> None:
    """The 12-24 file is the weekly snapshot only: its book equals the 12-25 file's book at snapshot end."""
    snap = read_dbn(shared_data(ES_SNAPSHOT))
    day = read_dbn(shared_data(ES))
    s_levels = levels_from_deltas(snap.partitions[0].book_deltas)
    d = day.partitions[0].book_deltas
    first_live = d.filter((pl.col("flags") & 32) == 0)["seq"].min()
    assert s_levels == levels_from_deltas(d.filter(pl.col("seq") < first_live))
    # the snapshot's last row ends the event even though no record carries LAST
    assert int(snap.partitions[0].book_deltas["flags"][-1]) & 128


def test_ingest_and_cli(shared_data: Any, tmp_path: Path) -> None:
    from orderflow.cli.main import app

    path = shared_data(ES)
    out = tmp_path / "ds"
    runner = CliRunner()
    r = runner.invoke(app, ["ingest", "dbn", str(path), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["partitions"][0]["instrument"] == "ESH4"
    ds = Dataset(out)
    assert ds.partitions("book_deltas") == [("ESH4", "2023-12-25")]
    assert ds.instrument("ESH4").tick_size == "0.25"
    assert ds.read("qc", "ESH4", "2023-12-25").height == summary["partitions"][0]["qc"]
    r = runner.invoke(app, ["verify", "dbn", str(path), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["unknown_order_refs"] == 0 and rep["crossed_after_open"] == 0
    assert rep["final_bbo"]["17077"]["ask_px"] == "4810.25"


def test_truncated_zstd_file_decodes_a_prefix(shared_data: Any, tmp_path: Path) -> None:
    raw = shared_data(ES).read_bytes()
    cut = tmp_path / "cut.mbo.dbn.zst"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.warns(DbnTruncationWarning, match="truncated"):
        res = read_dbn(cut)
    assert res.stats.compressed_truncated
    assert 0 < res.stats.records < 68_792
    assert res.stats.truncated_at is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DbnTruncationWarning)
        from orderflow.cli.main import app

        r = CliRunner().invoke(app, ["verify", "dbn", str(cut), "--json"])
    assert r.exit_code == 1
    assert json.loads(r.stdout)["stats"]["truncated_at"] == res.stats.truncated_at


def test_definitions_give_tick_and_multiplier(shared_data: Any, tmp_path: Path) -> None:
    mbp = shared_data("databento/glbx-mdp3/futures_mbp-1_2024-07-01T23-58_2024-07-02T00-02.dbn.zst")
    defs = shared_data("databento/glbx-mdp3/futures_definition.dbn.zst")
    res = ingest_dbn(mbp, tmp_path / "ds", definitions=defs)
    inst = res.instruments["ESU4"]
    assert (inst.tick_size, inst.multiplier, inst.venue) == ("0.25", "50", "XCME")
    assert sorted(p.date.isoformat() for p in res.partitions) == ["2024-07-01", "2024-07-02"]


def test_mbp1_partitions_replay_to_the_vendor_levels(shared_data: Any) -> None:
    """SET deltas of each date partition, replayed from an empty book on a dict, give the vendor's
    top-of-book after every record (each partition stands alone: it starts from an empty book)."""
    res = read_dbn(shared_data("databento/glbx-mdp3/futures_mbp-1_2024-07-01T23-58_2024-07-02T00-02.dbn.zst"))
    assert len(res.partitions) == 2
    for p in res.partitions:
        snaps = p.book_snapshots
        assert snaps is not None
        book: dict[int, dict[int, int]] = {1: {}, -1: {}}
        by_seq: dict[int, list[tuple[int, int, int]]] = {}
        for sq, side, price, size in p.book_deltas.select("seq", "side", "price", "size").iter_rows():
            by_seq.setdefault(sq, []).append((side, price, size))
        for sq, bpx, bsz, apx, asz in snaps.select(
            "seq", "bid_px_00", "bid_sz_00", "ask_px_00", "ask_sz_00"
        ).iter_rows():
            for side, price, size in by_seq.get(sq, []):
                if size:
                    book[side][price] = size
                else:
                    book[side].pop(price, None)
            best_b = max(book[1]) if book[1] else None
            best_a = min(book[-1]) if book[-1] else None
            assert (best_b, book[1].get(best_b, 0)) == ((bpx, bsz) if bsz else (None, 0))
            assert (best_a, book[-1].get(best_a, 0)) == ((apx, asz) if asz else (None, 0))
