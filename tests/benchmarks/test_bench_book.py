"""L2 engine throughput (run by ``make bench``; prints figures, asserts only correctness).

Targets on a 5M-event stream, snapshots on every event: top-10 >= 1.1e7 events/s, best bid/ask
only >= 3e7 events/s. ``ORDERFLOW_BENCH_EVENTS`` overrides the stream length (e.g. 50000000 to
show bounded memory).
"""

from __future__ import annotations

import os

import pytest

from orderflow.book.engine import run_benchmark

EVENTS = int(os.environ.get("ORDERFLOW_BENCH_EVENTS", "5000000"))


@pytest.mark.benchmark
@pytest.mark.parametrize(("bbo_only", "levels"), [(False, 50), (True, 50), (False, 2000)])
def test_bench_book(bbo_only: bool, levels: int) -> None:
    res = run_benchmark(EVENTS, levels, bbo_only=bbo_only, seed=1)
    print(
        f"\nbook engine depth={res['depth']} levels={levels}: {res['events']:,} events in {res['seconds']:.3f} s "
        f"= {res['events_per_s']:.3e} events/s ({res['events_per_cpu_s']:.3e} per CPU second), "
        f"peak RSS {res['peak_rss_bytes'] / 2**20:.0f} MiB, levels at end {res['final_levels']}"
    )
    assert res["events"] == EVENTS
    assert res["snapshots"] == EVENTS
    assert res["crossed_events"] == 0 and res["negative_clamps"] == 0
