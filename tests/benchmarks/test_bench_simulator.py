"""Simulator throughput (run by ``make bench``): events/s and peak RSS of one chunked SIM0 day."""

from __future__ import annotations

import os

import pytest

from orderflow.ingest.simulator import run_benchmark


@pytest.mark.benchmark
@pytest.mark.parametrize("artifacts", [True, False], ids=["artifacts", "clean"])
def test_bench_simulate(artifacts: bool) -> None:
    events = int(os.environ.get("ORDERFLOW_BENCH_SIM_EVENTS", "5000000"))
    res = run_benchmark(events, chunk_events=1_000_000, artifacts=artifacts)
    print(
        f"\nsimulate ({'artifacts' if artifacts else 'clean'}): {res['events']:,} events, "
        f"{res['delta_rows']:,} delta rows in {res['seconds']:.3f} s = {res['events_per_s']:,.0f} events/s "
        f"({res['events_per_cpu_s']:,.0f} per CPU second), "
        f"peak RSS {res['peak_rss_bytes'] / 2**20:,.0f} MiB"
    )
    assert res["events"] > 0
