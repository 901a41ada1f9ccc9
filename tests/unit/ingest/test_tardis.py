"""Tardis CSV readers: hand-written files and the real samples (ground truth: the files' own rows)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from orderflow.core.enums import UNDEF_PRICE, Flags
from orderflow.core.errors import DataFormatError
from orderflow.core.io import Dataset
from orderflow.ingest._crypto import L2Book
from orderflow.ingest.tardis import ingest_tardis, read_tardis

L2 = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"


def test_incremental_snapshot_reset(tmp_path: Path) -> None:
    f = tmp_path / "deribit_incremental_book_L2_X.csv"
    f.write_text(
        L2
        + "deribit,X,1000,1100,true,ask,10.5,3\n"
        + "deribit,X,1000,1100,true,bid,10,2\n"
        + "deribit,X,2000,2100,false,bid,10,0\n"
        + "deribit,X,2000,2100,false,bid,9.5,4\n"
        + "deribit,X,3000,3100,false,ask,11,1\n"
        + "deribit,X,4000,4100,true,ask,12,7\n"  # a new snapshot after incremental rows: reset
    )
    res = read_tardis(f)
    d = res.deltas
    assert d["seq"].to_list() == [0, 0, 0, 1, 1, 2, 3, 3]
    assert d["action"].to_list() == [5, 4, 4, 4, 4, 4, 5, 4]
    assert d["flags"].to_list() == [32, 32, 160, 0, 128, 128, 32, 160]
    assert d["price"].to_list()[1:3] == [10_500_000_000, 10_000_000_000]
    assert d["price"][0] == UNDEF_PRICE
    assert d["ts_event"][3] == 2000 * 1000 and d["ts_recv"][3] == 2100 * 1000
    assert res.stats["snapshot_resets"] == 2
    assert res.instrument.tick_size == "0.5"


def test_missing_column_and_short_row(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text("exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price\nx,X,1,1,true,bid,1\n")
    with pytest.raises(DataFormatError, match="missing column 'amount'"):
        read_tardis(f, kind="incremental_book_L2")
    g = tmp_path / "b.csv"
    g.write_text(L2 + "deribit,X,1000,1100,true,ask,10.5,3\nderibit,X,1000,1100,true,ask\n")
    with pytest.raises(DataFormatError) as ei:
        read_tardis(g)
    msg = str(ei.value)
    assert "b.csv" in msg and "line 3" in msg and "'price'" in msg
    h = tmp_path / "c.csv"
    h.write_text(L2 + "deribit,X,1000,1100,maybe,ask,10.5,3\n")
    with pytest.raises(DataFormatError, match=r"line 2.*is_snapshot"):
        read_tardis(h)


def test_out_of_order_timestamps_are_flagged(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text(
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
        "bitmex,X,2000,2100,1,buy,10,1\nbitmex,X,1000,2000,2,sell,10,1\n"
    )
    res = read_tardis(f)
    assert res.stats["ts_event_out_of_order"] == 1 and res.stats["ts_recv_out_of_order"] == 1
    assert set(res.qc["rule"].to_list()) == {"ts_event_order", "ts_recv_order"}


def test_real_incremental(shared_data) -> None:  # type: ignore[no-untyped-def]
    res = read_tardis(shared_data("crypto/tardis/deribit_incremental_book_L2_BTC-PERPETUAL.csv"))
    d = res.deltas
    assert d.height == 16 and d["action"][0] == 5  # CLEAR + 15 snapshot rows, one event
    assert d["seq"].unique().to_list() == [0]
    assert d["size"].to_list()[1] == 18640 * 10**8  # 18640 USD contracts
    assert d["price"].to_list()[-1] == 6428_500_000_000


@pytest.mark.parametrize("n", [5, 25])
def test_real_book_snapshot_deltas_rebuild_every_row(shared_data, n: int) -> None:  # type: ignore[no-untyped-def]
    path = shared_data(f"crypto/tardis/binance-futures_book_snapshot_{n}_BTCUSDT.csv")
    res = read_tardis(path)
    snaps = res.snapshots
    assert snaps is not None and snaps.height == 10
    # ground truth: the file's own columns
    raw = pl.read_csv(path, infer_schema=False)
    assert snaps["bid_px_00"][0] == round(float(raw["bids[0].price"][0]) * 10**9)
    assert snaps[f"ask_sz_{n - 1:02d}"][3] == round(float(raw[f"asks[{n - 1}].amount"][3]) * 10**8)
    # replaying the SET deltas gives back every snapshot row
    book = L2Book()
    d = res.deltas
    for i, seq in enumerate(snaps["seq"].to_list()):
        for row in d.filter(pl.col("seq") == seq).iter_rows(named=True):
            if row["action"] == 5:
                book.clear()
            elif row["side"] > 0:
                book.set_bid(row["price"], row["size"])
            else:
                book.set_ask(row["price"], row["size"])
        r = snaps.row(i, named=True)
        assert book.top(1, n) == [(r[f"bid_px_{k:02d}"], r[f"bid_sz_{k:02d}"]) for k in range(n)]
        assert book.top(-1, n) == [(r[f"ask_px_{k:02d}"], r[f"ask_sz_{k:02d}"]) for k in range(n)]
    assert int(d.filter(pl.col("flags") & int(Flags.LAST) > 0).height) <= 10


def test_real_trades_and_quotes(shared_data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tr = read_tardis(shared_data("crypto/tardis/bitmex_trades_XBTUSD.csv"))
    raw = pl.read_csv(shared_data("crypto/tardis/bitmex_trades_XBTUSD.csv"), infer_schema=False)
    assert tr.trades["aggressor"].to_list() == [1 if s == "buy" else -1 for s in raw["side"].to_list()]
    assert tr.trades["size"].to_list() == [int(a) * 10**8 for a in raw["amount"].to_list()]
    assert tr.trades["trade_id"].to_list() == [0] * 10  # UUID ids are not integers
    assert tr.instrument.tick_size == "0.5"
    q = read_tardis(shared_data("crypto/tardis/huobi-dm-swap_quotes_BTC-USD.csv"))
    assert q.snapshots is not None
    assert q.snapshots.row(0, named=True)["ask_px_00"] == 8629_300_000_000
    assert q.snapshots.row(0, named=True)["bid_sz_00"] == 806 * 10**8
    out = ingest_tardis(shared_data("crypto/tardis/huobi-dm-swap_quotes_BTC-USD.csv"), tmp_path)
    ds = Dataset(tmp_path)
    assert ds.partitions("book_snapshots") == [("BTC-USD", "2020-05-01")]
    assert ds.read("book_snapshots", "BTC-USD", "2020-05-01").height == out.snapshots.height  # type: ignore[union-attr]
