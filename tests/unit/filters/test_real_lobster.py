"""Filters on the real LOBSTER AMZN 2012-06-21 level-1 day, checked against the vendor's files."""

from __future__ import annotations

import polars as pl
import pytest

from orderflow.core.schema import QC, validate
from orderflow.filters import FilterConfig, apply_filters

AMZN = "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_1/AMZN_2012-06-21_34200000_57600000_{}_1.csv"


@pytest.fixture(scope="module")
def amzn(shared_data):  # type: ignore[no-untyped-def]
    from orderflow.ingest.lobster import read_lobster

    msg, book = shared_data(AMZN.format("message")), shared_data(AMZN.format("orderbook"))
    day = read_lobster(msg, book)
    raw = pl.read_csv(
        msg,
        has_header=False,
        new_columns=["time", "type", "order_id", "size", "price", "direction"],
        schema_overrides={"time": pl.Float64},
    ).with_row_index("seq", offset=1)
    cfg = FilterConfig.from_mapping({"low_info": {"round_lot": 100}})
    res = apply_filters(
        day.snapshots, day.deltas, day.trades, instrument=day.instrument, config=cfg, status=day.status
    )
    return day, raw, res


@pytest.mark.realdata
def test_amzn_never_crossed_no_duplicates(amzn) -> None:  # type: ignore[no-untyped-def]
    day, raw, res = amzn
    validate(res.qc, QC)
    # vendor book: best bid < best ask on every row (README: never crossed or locked)
    s = day.snapshots
    assert (s["bid_px_00"] < s["ask_px_00"]).all()
    assert res.report["rules"]["crossed_book"]["events"] == 0
    assert res.report["rules"]["locked_book"]["events"] == 0
    assert res.report["rules"]["duplicate"]["events"] == 0
    assert res.report["events"] == raw.height + 1  # + the initial book at seq 0


@pytest.mark.realdata
def test_amzn_odd_lot_trades_and_session_minutes(amzn) -> None:  # type: ignore[no-untyped-def]
    _, raw, res = amzn
    qc = res.qc
    odd = qc.filter((pl.col("reason") == "odd_lot") & (pl.col("table") == "trades"))["seq"]
    expect = raw.filter(pl.col("type").is_in([4, 5, 6]) & (pl.col("size") % 100 != 0))["seq"]
    assert sorted(odd.to_list()) == sorted(expect.to_list())
    # opening minutes: 09:30:00 <= t < 09:35:00; closing: 15:55:00 <= t < 16:00:00 (seconds after midnight)
    for reason, lo, hi in (("opening_minutes", 34200.0, 34500.0), ("closing_minutes", 57300.0, 57600.0)):
        got = set(qc.filter(pl.col("reason") == reason)["seq"].to_list())
        want = set(raw.filter((pl.col("time") >= lo) & (pl.col("time") < hi))["seq"].to_list())
        assert got - {0} == want, reason
