from __future__ import annotations

import polars as pl
import pytest

from orderflow.core.enums import UNDEF_PRICE
from orderflow.core.errors import DataFormatError, SchemaError
from orderflow.core.instruments import Instrument, price_to_int, price_to_str, size_to_int
from orderflow.core.io import Dataset
from orderflow.core.schema import BOOK_DELTAS, TRADES, book_snapshots, level_names, validate
from orderflow.core.time import local_midnight_ns, parse_duration_ns


def _deltas(n: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts_event": list(range(n)),
            "ts_recv": list(range(n)),
            "seq": list(range(n)),
            "side": [1] * n,
            "action": [1] * n,
            "price": [100_000_000_000] * n,
            "size": [10] * n,
            "order_id": [0] * n,
            "flags": [128] * n,
        },
        schema=BOOK_DELTAS.polars_schema(),
    )


def test_validate_accepts_canonical_and_reorders() -> None:
    df = _deltas().select(list(reversed(BOOK_DELTAS.names)))
    out = validate(df, BOOK_DELTAS)
    assert out.columns == BOOK_DELTAS.names


def test_validate_names_column_and_rule() -> None:
    with pytest.raises(SchemaError, match="missing column 'price'"):
        validate(_deltas().drop("price"), BOOK_DELTAS)
    with pytest.raises(SchemaError, match="'size' has dtype Float64"):
        validate(_deltas().with_columns(pl.col("size").cast(pl.Float64)), BOOK_DELTAS)
    bad = _deltas().with_columns(pl.when(pl.col("seq") == 2).then(-1).otherwise(pl.col("size")).alias("size"))
    with pytest.raises(SchemaError, match=r"rule 'size >= 0' broken at row 2"):
        validate(bad, BOOK_DELTAS)
    with pytest.raises(SchemaError, match="unexpected column 'junk'"):
        validate(_deltas().with_columns(pl.lit(1).alias("junk")), BOOK_DELTAS)


def test_level_names_follow_dbn() -> None:
    assert level_names(2) == [
        "bid_px_00",
        "bid_px_01",
        "bid_sz_00",
        "bid_sz_01",
        "ask_px_00",
        "ask_px_01",
        "ask_sz_00",
        "ask_sz_01",
    ]
    assert book_snapshots(10).names[:4] == ["ts_event", "ts_recv", "seq", "bid_px_00"]


def test_prices_are_exact() -> None:
    assert price_to_int("585.33") == 585_330_000_000
    assert price_to_int("0.000000001") == 1
    assert price_to_str(585_330_000_000) == "585.33"
    assert price_to_str(UNDEF_PRICE) == "UNDEF"
    with pytest.raises(DataFormatError, match="more than 9 decimals"):
        price_to_int("1.0000000001")
    assert size_to_int("0.003", "0.00000001") == 300_000


def test_time_helpers() -> None:
    assert parse_duration_ns("10s") == 10_000_000_000
    assert parse_duration_ns("250ms") == 250_000_000
    # 2012-06-21 is EDT (UTC-4): local midnight is 04:00 UTC.
    assert local_midnight_ns("2012-06-21", "America/New_York") == 1340251200 * 10**9


def test_dataset_roundtrip_atomic(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ds = Dataset(tmp_path / "ds")
    ds.add_instrument(Instrument(symbol="AMZN", tick_size="0.01"))
    ds.write("book_deltas", _deltas(), "AMZN", "2012-06-21")
    with ds.writer("trades", "AMZN", "2012-06-21") as w:
        w.write(TRADES.empty())
    assert ds.partitions("book_deltas") == [("AMZN", "2012-06-21")]
    back = ds.read("book_deltas", "AMZN", "2012-06-21")
    assert back.equals(_deltas())
    assert ds.read("trades", "AMZN", "2012-06-21").height == 0
    assert ds.instrument("AMZN").tick_int == 10_000_000
    assert not list((tmp_path / "ds").rglob("*.tmp"))
    scanned = ds.scan("book_deltas").collect()
    assert set(scanned["instrument"]) == {"AMZN"}


def test_streaming_writer_aborts_cleanly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ds = Dataset(tmp_path)
    with pytest.raises(RuntimeError), ds.writer("book_deltas", "X", "2020-01-01") as w:
        w.write(_deltas())
        raise RuntimeError("killed")
    assert not ds.has("book_deltas", "X", "2020-01-01")
    assert not list(tmp_path.rglob("*.tmp"))
