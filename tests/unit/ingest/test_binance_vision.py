"""data.binance.vision CSV files: hand-written files plus the real USD-M T_DEPTH sample."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from orderflow.core.enums import Flags
from orderflow.core.errors import DataFormatError
from orderflow.ingest.binance import read_binance_vision

HDR = "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n"


def test_snapshot_then_chained_updates(tmp_path: Path) -> None:
    snap = tmp_path / "snap.csv"
    snap.write_text(
        HDR + "BTCUSDT,1000,50,50,b,snap,100.0,1.000,-1\nBTCUSDT,1000,50,50,a,snap,101.0,2.000,-1\n"
    )
    upd = tmp_path / "upd.csv"
    upd.write_text(
        HDR
        + "BTCUSDT,1001,48,52,b,set,100.0,1.500,47\n"  # straddles 50 (U <= 50 <= u)
        + "BTCUSDT,1001,48,52,a,set,101.0,0.000,47\n"
        + "BTCUSDT,1002,53,55,a,set,102.0,0.500,52\n"  # pu == previous u
    )
    res = read_binance_vision(depth_snapshot=snap, depth_update=upd)
    assert res.stats["gaps"] == 0 and res.stats["applied"] == 2
    d = res.deltas
    assert d["action"].to_list() == [5, 4, 4, 4, 4, 4]
    assert d["size"].to_list() == [0, 100_000_000, 200_000_000, 150_000_000, 0, 50_000_000]
    assert d["ts_event"].to_list()[3] == 1001 * 1_000_000
    assert [f & int(Flags.LAST) > 0 for f in d["flags"].to_list()] == [False, False, True, False, True, True]


def test_real_sample_gap_is_reported(shared_data) -> None:  # type: ignore[no-untyped-def]
    base = "crypto/binance-usdm-vision/"
    res = read_binance_vision(
        depth_snapshot=shared_data(base + "btcusdt-depth-snap.csv"),
        depth_update=shared_data(base + "btcusdt-depth-update.csv"),
    )
    st = res.stats
    # the update rows start ~10 minutes after the snapshot: their pu does not chain to lastUpdateId
    assert st["snapshots"] == 1 and st["gaps"] == 1 and st["applied"] == 0 and st["quarantined"] == 1
    snap_rows = res.deltas.filter(pl.col("flags") & int(Flags.SNAPSHOT) > 0)
    assert snap_rows.height == res.deltas.height == 101  # CLEAR + 100 levels; no update applied
    assert res.qc.filter(pl.col("rule") == "binance_gap")["action"].unique().to_list() == ["quarantine"]
    assert res.instrument.tick_size == "0.1"


def test_trades_with_and_without_header(tmp_path: Path) -> None:
    fut = tmp_path / "fut.csv"
    fut.write_text(
        "id,price,qty,quote_qty,time,is_buyer_maker\n10,100.5,0.010,1.005,1667347200000,true\n"
        "11,100.6,0.020,2.012,1667347200001,false\n"
    )
    spot = tmp_path / "spot.csv"
    spot.write_text("10,100.5,0.01,1.005,1735689600000000,True,True\n")  # 2025+ spot times are µs
    a = read_binance_vision(trades=fut)
    assert a.trades["aggressor"].to_list() == [-1, 1]
    assert a.trades["size"].to_list() == [1_000_000, 2_000_000]
    assert a.trades["ts_event"].to_list()[0] == 1667347200000 * 1_000_000
    b = read_binance_vision(trades=spot, futures=False)
    assert b.trades["ts_event"].to_list() == [1735689600000000 * 1000]
    agg = tmp_path / "agg.csv"
    agg.write_text("5,100.0,0.3,7,9,1667347200000,false\n")
    c = read_binance_vision(agg_trades=agg)
    assert c.trades["trade_id"].to_list() == [5] and c.trades["size"].to_list() == [30_000_000]


def test_book_ticker_csv(tmp_path: Path) -> None:
    f = tmp_path / "bt.csv"
    f.write_text(
        "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time\n"
        "7,100.1,1.5,100.2,0.5,1667347200000,1667347200001\n"
    )
    res = read_binance_vision(book_ticker=f)
    assert res.snapshots is not None
    assert res.snapshots.row(0, named=True)["bid_px_00"] == 100_100_000_000


def test_bad_rows(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(HDR + "BTCUSDT,1000,50,50,b,snap,100.0\n")
    with pytest.raises(DataFormatError, match=r"bad.csv, line 2.*'qty'"):
        read_binance_vision(depth_snapshot=f)
    g = tmp_path / "side.csv"
    g.write_text(HDR + "BTCUSDT,1000,50,50,x,snap,100.0,1,-1\n")
    with pytest.raises(DataFormatError, match="field 'side'"):
        read_binance_vision(depth_snapshot=g)
