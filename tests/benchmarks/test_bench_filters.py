"""Filter throughput (run by ``make bench``; prints figures, asserts only correctness).

A simulated day (``ORDERFLOW_BENCH_FILTER_EVENTS`` genuine events, default 1,000,000; artifacts on)
is reconstructed to top-10 snapshots (not timed), then :func:`apply_filters` with every rule runs
five times with the default two threads (the helper thread computes the snapshot comparisons and
the flicker scan while this one builds the event index; then both take rules from one queue) and
five times with one; the best wall time and its CPU time are reported as events (messages = seqs)
per second, plus each rule alone. Target: all filters together >= 1e7 events/s.

The process runs with :func:`orderflow.core.runtime.tune_allocator`, as the CLI and the pipeline's
workers do (``ORDERFLOW_TUNE_MALLOC=0`` shows the figures without it).
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

import pytest

from orderflow.book.engine import reconstruct
from orderflow.core.io import Dataset
from orderflow.core.runtime import tune_allocator
from orderflow.filters import FilterConfig, apply_filters
from orderflow.filters.apply import default_threads
from orderflow.filters.config import RULES
from orderflow.filters.stream import CHUNK_ROWS, apply_filters_stream, dataset_batches
from orderflow.ingest.simulator import ArtifactConfig, SimConfig, simulate_day

EVENTS = int(os.environ.get("ORDERFLOW_BENCH_FILTER_EVENTS", "1000000"))


def _peak_rss_mib() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 1024


def _best(fn, repeat: int = 5) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - w0, time.process_time() - c0))
    return best


@pytest.mark.benchmark
def test_bench_filters(tmp_path: Path) -> None:
    cfg = SimConfig(
        events_per_day=EVENTS,
        artifacts=ArtifactConfig(stale_quote=1e-4, crossed=1e-4, locked=1e-4, burst=1e-4, duplicate=5e-4),
    )
    day = simulate_day(cfg, "SIM0", "2024-01-02")
    snaps = reconstruct(day.deltas, depth=10)
    fc = FilterConfig()
    tuned = tune_allocator()

    def run_all(threads: int | None = None):  # type: ignore[no-untyped-def]
        kw = {"instrument": day.instrument, "config": fc, "threads": threads}
        return apply_filters(snaps, day.deltas, day.trades, **kw)

    res = run_all()  # warm-up (numba cache load)
    n = res.report["events"]
    print(
        f"\nfilters (all {len(RULES)} rules): {n:,} events ({day.deltas.height:,} delta rows, "
        f"{day.trades.height:,} trades), QC rows {res.qc.height:,}, allocator tuned: {tuned}"
    )
    for threads in (None, 1):
        wall, cpu = _best(lambda threads=threads: run_all(threads))  # type: ignore[misc]
        label = f"{default_threads()} threads (default)" if threads is None else "1 thread"
        print(
            f"  {label:<22}: {wall:.3f} s = {n / wall:.3e} events/s ({n / max(cpu, 1e-9):.3e} per CPU second)"
        )
    print(f"  peak RSS {_peak_rss_mib():.0f} MiB")
    for rule in RULES:
        only = fc.disable(*[r for r in RULES if r != rule])
        w, _c = _best(
            lambda only=only: apply_filters(  # type: ignore[misc]
                snaps, day.deltas, day.trades, instrument=day.instrument, config=only
            )
        )
        print(f"  {rule:<15} alone (incl. event index + report): {n / w:.3e} events/s")
    # streamed from a Parquet dataset, chunk by chunk (what the pipeline and `orderflow filter` run)
    ds = Dataset(tmp_path / "ds")
    for table, df in (("book_deltas", day.deltas), ("trades", day.trades), ("book_snapshots", snaps)):
        ds.write(table, df, "SIM0", "2024-01-02")

    batches = dataset_batches(ds, "SIM0", "2024-01-02")
    streamed = apply_filters_stream(batches, instrument=day.instrument, config=fc)
    assert streamed.report.pop("streamed") and streamed.qc.equals(res.qc) and streamed.report == res.report
    w, c = _best(lambda: apply_filters_stream(batches, instrument=day.instrument, config=fc), repeat=3)
    print(
        f"  streamed from Parquet (read + first pass + chunks of {CHUNK_ROWS:,} delta rows): "
        f"{n / w:.3e} events/s ({n / max(c, 1e-9):.3e} per CPU second)"
    )
    assert res.report["events"] == day.deltas["seq"].n_unique() or res.report["events"] >= n
    assert res.report["rules"]["crossed_book"]["events"] > 0
