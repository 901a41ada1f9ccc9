"""The fused fast path gives the same QC rows (row for row) and report as the frozen reference.

The reference (:mod:`orderflow.filters._reference`) is the original per-rule implementation; it was
validated by the hand-worked rule tests, the simulator precision/recall targets and the LOBSTER
counts. Here both run on a simulated day with every artifact kind injected (several configs that
switch each optional branch on) and on the real LOBSTER AMZN day.
"""

from __future__ import annotations

import polars as pl
import pytest

from orderflow.filters import FilterConfig, apply_filters
from orderflow.filters._reference import reference_apply_filters
from orderflow.filters.config import RULES

CONFIGS = {
    "default": {},
    "all_options": {
        "low_info": {"round_lot": 100, "top_k": 2},
        "stale_quote": {"heartbeat_ms": 300.0, "min_other_updates": 3, "min_age_ms": 50.0},
        "flicker": {"min_flips": 1, "window_us": 5000.0},
        "message_storm": {"min_messages": 4, "window_us": 200.0},
        "quote_stuffing": {"window_ms": 2.0, "min_messages": 4, "min_ratio": 3.0},
        "duplicate": {"skip_hidden": False, "max_lag": 2},
        "session": {"first_minutes": 30.0, "last_minutes": 30.0, "open_time": "10:00:00"},
    },
    "round_lot_24h": {"low_info": {"round_lot": 50, "top_k": 20}, "session": {"open_time": None}},
}


def _same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert a.qc.schema == b.qc.schema
    assert a.qc.height == b.qc.height
    assert a.qc.equals(b.qc)
    assert a.report == b.report


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_sim_day_identical(sim_day, name: str, threads: int) -> None:  # type: ignore[no-untyped-def]
    """One thread, or the helper thread computing ahead and sharing the rules (any count >= 2)."""
    day, snaps = sim_day
    cfg = FilterConfig.from_mapping(CONFIGS[name])
    kw = {"instrument": day.instrument, "config": cfg}
    new = apply_filters(snaps, day.deltas, day.trades, threads=threads, **kw)
    ref = reference_apply_filters(snaps, day.deltas, day.trades, **kw)
    assert ref.qc.height > 100 and ref.qc["rule"].n_unique() >= 6
    _same(new, ref)


@pytest.mark.parametrize("threads", [1, 2])
def test_sim_day_each_rule_alone_and_shuffled(sim_day, threads: int) -> None:  # type: ignore[no-untyped-def]
    day, snaps = sim_day
    for rule in RULES:
        cfg = FilterConfig().disable(*[r for r in RULES if r != rule])
        kw = {"instrument": day.instrument, "config": cfg, "threads": threads}
        _same(
            apply_filters(snaps, day.deltas, day.trades, **kw),
            reference_apply_filters(snaps, day.deltas, day.trades, instrument=day.instrument, config=cfg),
        )
    # unsorted inputs (stable sort by seq inside) and a shallow snapshot table
    d = day.deltas.sample(fraction=1.0, shuffle=True, seed=1)
    t = day.trades.sample(fraction=1.0, shuffle=True, seed=2)
    s = snaps.select(["ts_event", "ts_recv", "seq", *[c for c in snaps.columns if c[-2:] in ("00", "01")]])
    s = s.sample(fraction=1.0, shuffle=True, seed=3)
    kw = {"instrument": day.instrument, "config": FilterConfig.from_mapping(CONFIGS["all_options"])}
    _same(apply_filters(s, d, t, threads=threads, **kw), reference_apply_filters(s, d, t, **kw))
    # snapshots in several chunks (kernels run per chunk on zero-copy views), and with one column
    # chunked differently from the others (the one-copy path)
    chunked = pl.concat([snaps[:7001], snaps[7001:15000], snaps[15000:]], rechunk=False)
    assert chunked["bid_px_00"].n_chunks() == 3
    mixed = chunked.with_columns(snaps["ask_sz_03"].rechunk())
    for sn in (chunked, mixed):
        kw = {"instrument": day.instrument, "config": FilterConfig.from_mapping(CONFIGS["all_options"])}
        _same(
            apply_filters(sn, day.deltas, day.trades, threads=threads, **kw),
            reference_apply_filters(sn, day.deltas, day.trades, **kw),
        )


AMZN = "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_1/AMZN_2012-06-21_34200000_57600000_{}_1.csv"


@pytest.mark.realdata
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", ["default", "all_options"])
def test_lobster_amzn_identical(shared_data, name: str, threads: int) -> None:  # type: ignore[no-untyped-def]
    from orderflow.ingest.lobster import read_lobster

    day = read_lobster(shared_data(AMZN.format("message")), shared_data(AMZN.format("orderbook")))
    cfg = FilterConfig.from_mapping({"low_info": {"round_lot": 100}} if name == "default" else CONFIGS[name])
    kw = {"instrument": day.instrument, "config": cfg, "status": day.status}
    new = apply_filters(day.snapshots, day.deltas, day.trades, threads=threads, **kw)
    ref = reference_apply_filters(day.snapshots, day.deltas, day.trades, **kw)
    assert ref.qc.height > 1000
    _same(new, ref)


def test_threads_errors_and_helper_failures(sim_day, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A bad thread count is a config error; an exception on the helper thread reaches the caller
    (and the helper is left idle: the next call works)."""
    from orderflow.core.errors import ConfigError
    from orderflow.filters import apply as A

    day, snaps = sim_day
    kw = {"instrument": day.instrument, "config": FilterConfig()}
    with pytest.raises(ConfigError, match="threads=0"):
        apply_filters(snaps, day.deltas, day.trades, threads=0, **kw)
    monkeypatch.setenv("ORDERFLOW_FILTER_THREADS", "two")
    with pytest.raises(ConfigError, match="ORDERFLOW_FILTER_THREADS"):
        apply_filters(snaps, day.deltas, day.trades, **kw)
    monkeypatch.setenv("ORDERFLOW_FILTER_THREADS", "1")
    assert A.default_threads() == 1

    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("helper failed")

    monkeypatch.setattr(A, "unchanged_snapshots", boom)
    with pytest.raises(RuntimeError, match="helper failed"):
        apply_filters(snaps, day.deltas, day.trades, threads=2, **kw)
    monkeypatch.undo()
    ok = apply_filters(snaps, day.deltas, day.trades, threads=2, **kw)
    _same(ok, reference_apply_filters(snaps, day.deltas, day.trades, **kw))


def _batches(df: pl.DataFrame, rows: int):  # type: ignore[no-untyped-def]
    return (df[i : i + rows] for i in range(0, df.height, rows))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_snapshot_batches_give_the_whole_table_result(sim_day, name: str, threads: int) -> None:  # type: ignore[no-untyped-def]
    """Snapshots in batches (any size, empty batches too) = the whole table, QC row for row."""
    day, snaps = sim_day
    cfg = FilterConfig.from_mapping(CONFIGS[name])
    kw = {"instrument": day.instrument, "config": cfg}
    ref = reference_apply_filters(snaps, day.deltas, day.trades, **kw)
    for rows in (997, snaps.height + 5):
        got = apply_filters(_batches(snaps, rows), day.deltas, day.trades, threads=threads, **kw)
        _same(got, ref)
    # one-row batches (the carried row is the whole previous batch) and empty ones
    odd = [snaps[:0], snaps[:1], snaps[1:2], snaps[:0], snaps[2:3], snaps[3:500], snaps[500:]]
    _same(apply_filters(iter(odd), day.deltas, day.trades, threads=threads, **kw), ref)


def test_snapshot_batches_out_of_order_are_refused(sim_day) -> None:  # type: ignore[no-untyped-def]
    from orderflow.core.errors import ArtifactError

    day, snaps = sim_day
    kw = {"instrument": day.instrument, "config": FilterConfig()}
    with pytest.raises(ArtifactError, match="out of seq order"):
        apply_filters(iter([snaps[500:1000], snaps[:500]]), day.deltas, day.trades, **kw)
    with pytest.raises(ValueError, match="no snapshot batches"):
        apply_filters(iter([]), day.deltas, day.trades, **kw)


@pytest.mark.realdata
def test_lobster_amzn_snapshot_batches(shared_data) -> None:  # type: ignore[no-untyped-def]
    from orderflow.ingest.lobster import read_lobster

    day = read_lobster(shared_data(AMZN.format("message")), shared_data(AMZN.format("orderbook")))
    cfg = FilterConfig.from_mapping(CONFIGS["all_options"])
    kw = {"instrument": day.instrument, "config": cfg, "status": day.status}
    ref = reference_apply_filters(day.snapshots, day.deltas, day.trades, **kw)
    _same(apply_filters(_batches(day.snapshots, 25_000), day.deltas, day.trades, **kw), ref)
