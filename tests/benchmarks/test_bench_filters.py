"""Filter throughput (run by ``make bench``; prints figures, asserts only correctness).

A simulated day (``ORDERFLOW_BENCH_FILTER_EVENTS`` genuine events, default 1,000,000; artifacts on)
is reconstructed to top-10 snapshots (not timed), then :func:`apply_filters` with every rule runs
three times; the best wall time and its CPU time are reported as events (messages = seqs) per
second, plus each rule alone. Target: all filters together >= 1e7 events/s.
"""

from __future__ import annotations

import os
import resource
import sys
import time

import pytest

from orderflow.book.engine import reconstruct
from orderflow.filters import FilterConfig, apply_filters
from orderflow.filters.config import RULES
from orderflow.ingest.simulator import ArtifactConfig, SimConfig, simulate_day

EVENTS = int(os.environ.get("ORDERFLOW_BENCH_FILTER_EVENTS", "1000000"))


def _peak_rss_mib() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 1024


def _best(fn, repeat: int = 3) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - w0, time.process_time() - c0))
    return best


@pytest.mark.benchmark
def test_bench_filters() -> None:
    cfg = SimConfig(
        events_per_day=EVENTS,
        artifacts=ArtifactConfig(stale_quote=1e-4, crossed=1e-4, locked=1e-4, burst=1e-4, duplicate=5e-4),
    )
    day = simulate_day(cfg, "SIM0", "2024-01-02")
    snaps = reconstruct(day.deltas, depth=10)
    fc = FilterConfig()

    def run_all():  # type: ignore[no-untyped-def]
        return apply_filters(snaps, day.deltas, day.trades, instrument=day.instrument, config=fc)

    res = run_all()  # warm-up (numba cache load)
    n = res.report["events"]
    wall, cpu = _best(run_all)
    print(
        f"\nfilters (all {len(RULES)} rules): {n:,} events ({day.deltas.height:,} delta rows, "
        f"{day.trades.height:,} trades) in {wall:.3f} s = {n / wall:.3e} events/s "
        f"({n / max(cpu, 1e-9):.3e} per CPU second), QC rows {res.qc.height:,}, "
        f"peak RSS {_peak_rss_mib():.0f} MiB"
    )
    for rule in RULES:
        only = fc.disable(*[r for r in RULES if r != rule])
        w, _c = _best(
            lambda only=only: apply_filters(  # type: ignore[misc]
                snaps, day.deltas, day.trades, instrument=day.instrument, config=only
            )
        )
        print(f"  {rule:<15} alone (incl. event index + report): {n / w:.3e} events/s")
    assert res.report["events"] == day.deltas["seq"].n_unique() or res.report["events"] >= n
    assert res.report["rules"]["crossed_book"]["events"] > 0
