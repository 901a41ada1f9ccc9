"""Property tests: for any seed, window size, instrument and artifact mix, the feed describes the book.

* with crossed/locked/burst/duplicate artifacts, the stream with every labelled row removed replays
  to exactly the clean stream's books (stale quotes are checked in test_simulator.py);
* the clean stream never locks or crosses, and its replay ends at the simulator's own book.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from orderflow.core.enums import Flags
from orderflow.ingest.simulator import ArtifactConfig, SimConfig, _DayRun, simulate_day

DATE = dt.date(2024, 1, 2)


def _books(
    deltas: pl.DataFrame,
) -> list[tuple[int, tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]]:
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    out = []
    for ts, side, price, size, flags in deltas.select(
        "ts_event", "side", "price", "size", "flags"
    ).iter_rows():
        book = bids if side == 1 else asks
        if size:
            book[price] = size
        else:
            book.pop(price, None)
        if flags & Flags.LAST:
            out.append((ts, tuple(sorted(bids.items(), reverse=True)), tuple(sorted(asks.items()))))
    return out


@settings(max_examples=8, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**31),
    levels=st.integers(2, 12),
    symbol=st.sampled_from(["SIM0", "SIM1", "SIM2", "SIM3", "ABC"]),
    rates=st.tuples(*[st.sampled_from([0.0, 0.002, 0.02]) for _ in range(4)]),
)
def test_labels_cover_exactly_the_injected_rows(
    seed: int, levels: int, symbol: str, rates: tuple[float, ...]
) -> None:
    crossed, locked, burst, dup = rates
    arts = ArtifactConfig(
        stale_quote=0.0, crossed=crossed, locked=locked, burst=burst, duplicate=dup, burst_pairs=2
    )
    cfg = SimConfig(seed=seed, levels=levels, events_per_day=1_500, artifacts=arts)
    day = simulate_day(cfg, symbol, DATE)
    clean_cfg = cfg.model_copy(update={"artifacts": ArtifactConfig.clean()})
    clean = simulate_day(clean_cfg, symbol, DATE)
    labelled = day.artifacts.filter(pl.col("table") == "book_deltas")["seq"].implode()
    kept = day.deltas.filter(~pl.col("seq").is_in(labelled))
    assert _books(kept) == _books(clean.deltas)
    # the clean stream never locks or crosses and ends at the simulator's own book
    books = _books(clean.deltas)
    assert all(b[0][0] < a[0][0] for _ts, b, a in books)
    run = _DayRun(clean_cfg, symbol, DATE)
    while not run.done:
        run.run(10**9)
    tb, ta = run.true_book()
    assert books[-1][1:] == (tuple(tb), tuple(ta))
