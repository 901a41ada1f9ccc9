"""Streamed filters (:func:`apply_filters_stream`) give the frozen reference's QC rows and report,
row for row, whatever the chunk and batch sizes, while each chunk's view stays small."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl
import pytest

from orderflow.filters import FilterConfig
from orderflow.filters import stream as S
from orderflow.filters._reference import reference_apply_filters
from orderflow.filters.config import RULES

from .test_fast_equivalence import AMZN, CONFIGS, _same  # noqa: TID252 (shared cases; importlib mode)


def _opener(tables: dict[str, pl.DataFrame], rows: int):  # type: ignore[no-untyped-def]
    def open_(table: str, columns: list[str] | None) -> Iterator[pl.DataFrame] | None:
        df = tables.get(table)
        if df is None:
            return None
        if columns is not None:
            df = df.select(columns)
        return (df[i : i + rows] for i in range(0, df.height, rows))

    return open_


@pytest.fixture(scope="module")
def sim(sim_day):  # type: ignore[no-untyped-def]
    day, snaps = sim_day
    return day, {"book_deltas": day.deltas, "trades": day.trades, "book_snapshots": snaps}


def _check(day, tables, cfg, rows: int, chunk: int, status=None) -> None:  # type: ignore[no-untyped-def]
    kw = {"instrument": day.instrument, "config": cfg, "status": status}
    ref = reference_apply_filters(tables["book_snapshots"], tables["book_deltas"], tables["trades"], **kw)
    got = S.apply_filters_stream(_opener(tables, rows), chunk_rows=chunk, **kw)
    assert got.report.pop("streamed") is True
    _same(got, ref)


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize(("rows", "chunk"), [(1000, 3000), (777, 1234), (5000, 60_000)])
def test_streamed_equals_whole(sim, name: str, rows: int, chunk: int) -> None:  # type: ignore[no-untyped-def]
    day, tables = sim
    _check(day, tables, FilterConfig.from_mapping(CONFIGS[name]), rows, chunk)


def test_each_rule_alone_streamed(sim) -> None:  # type: ignore[no-untyped-def]
    day, tables = sim
    for rule in RULES:
        _check(day, tables, FilterConfig().disable(*[r for r in RULES if r != rule]), 900, 2500)


def test_chunk_views_stay_small(sim, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Memory is bounded by the chunk: no chunk's view holds more than a chunk and a short tail."""
    day, tables = sim
    sizes: list[int] = []
    real = S.build_view

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        v = real(*a, **k)
        sizes.append(v.n)
        return v

    monkeypatch.setattr(S, "build_view", spy)
    n_rows = tables["book_deltas"].height
    S.apply_filters_stream(
        _opener(tables, 500), instrument=day.instrument, config=FilterConfig(), chunk_rows=1500
    )
    assert len(sizes) > n_rows // 1500  # it did stream
    assert max(sizes) < 2 * 1500, max(sizes)  # a chunk's events (<= its delta rows) plus the tail


def test_unstreamable_partitions_are_filtered_whole(sim) -> None:  # type: ignore[no-untyped-def]
    """Event times that go backwards along seq, or plug-in rules: the whole partition, same result."""
    day, tables = sim
    d = tables["book_deltas"]
    ts = d["ts_event"].to_numpy().copy()
    ts[d.height // 2 :] -= 10**9  # a clock step back
    back = {**tables, "book_deltas": d.with_columns(pl.Series("ts_event", ts))}
    kw = {"instrument": day.instrument, "config": FilterConfig()}
    got = S.apply_filters_stream(_opener(back, 1000), chunk_rows=3000, **kw)
    assert got.report.pop("streamed") is False
    _same(got, reference_apply_filters(back["book_snapshots"], back["book_deltas"], back["trades"], **kw))


def test_batches_out_of_seq_order_fall_back_whole(sim) -> None:  # type: ignore[no-untyped-def]
    """Seq order is checked on the reader thread; its refusal reaches the caller, which then
    filters the (sorted) whole partition."""
    day, tables = sim

    def open_(table: str, columns: list[str] | None) -> Iterator[pl.DataFrame] | None:
        df = tables[table] if columns is None else tables[table].select(columns)
        parts = [df[i : i + 1000] for i in range(0, df.height, 1000)]
        if table == "trades":
            parts[1], parts[2] = parts[2], parts[1]
        return iter(parts)

    kw = {"instrument": day.instrument, "config": FilterConfig()}
    got = S.apply_filters_stream(open_, chunk_rows=3000, **kw)
    assert got.report.pop("streamed") is False
    t = tables["trades"]
    swapped = pl.concat([t[:1000], t[2000:3000], t[1000:2000], t[3000:]])
    _same(got, reference_apply_filters(tables["book_snapshots"], tables["book_deltas"], swapped, **kw))


@pytest.mark.realdata
def test_lobster_amzn_streamed(shared_data) -> None:  # type: ignore[no-untyped-def]
    from orderflow.ingest.lobster import read_lobster

    day = read_lobster(shared_data(AMZN.format("message")), shared_data(AMZN.format("orderbook")))
    tables = {"book_deltas": day.deltas, "trades": day.trades, "book_snapshots": day.snapshots}
    for name in ("default", "all_options"):
        cfg = FilterConfig.from_mapping(
            {"low_info": {"round_lot": 100}} if name == "default" else CONFIGS[name]
        )
        _check(day, tables, cfg, 20_000, 50_000, status=day.status)
    assert np.all(np.diff(day.deltas["seq"].to_numpy()) >= 0)
