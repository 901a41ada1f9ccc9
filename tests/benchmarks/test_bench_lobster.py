"""LOBSTER ingestion speed on the full AMZN day (57,515 messages). Run by ``make bench``.

Prints rows/s, seconds (best of 5 after a JIT warm-up) and peak RSS; asserts nothing about time.
"""

from __future__ import annotations

import resource
import sys
import time

import pytest

from orderflow.ingest.lobster import ingest_lobster, read_lobster
from orderflow.ingest.lobster_verify import verify_lobster

pytestmark = [pytest.mark.benchmark, pytest.mark.realdata]

AMZN = "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_1/AMZN_2012-06-21_34200000_57600000_{}_1.csv"


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024


def _best(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def test_bench_lobster_amzn(shared_data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    msg, ob = shared_data(AMZN.format("message")), shared_data(AMZN.format("orderbook"))
    t0 = time.perf_counter()
    day = read_lobster(msg, ob)  # first call compiles (or loads cached) kernels
    first = time.perf_counter() - t0
    rows = day.snapshots.height
    results = {
        "read_lobster": _best(lambda: read_lobster(msg, ob)),
        "verify_lobster": _best(lambda: verify_lobster(msg, ob)),
        "ingest_lobster (+parquet)": _best(lambda: ingest_lobster(msg, ob, tmp_path / "ds"), repeat=3),
    }
    print(f"\nLOBSTER AMZN 2012-06-21 L1: {rows:,} messages, first call (JIT warm-up) {first:.3f} s")
    for name, sec in results.items():
        print(f"  {name:<28s} {sec:8.3f} s  {rows / sec:12,.0f} rows/s")
    print(f"  peak RSS {_peak_rss_mb():.0f} MB")
    assert rows == 57_515
