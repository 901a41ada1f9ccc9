"""Binance raw-capture replay speed on the real hftbacktest samples. Run by ``make bench``.

Prints lines/s (wall and CPU time, best of 3 after a JIT warm-up) for the fast and the reference
engine, the machine's load average, and peak RSS; asserts nothing about time.
"""

from __future__ import annotations

import os
import resource
import sys
import time

import pytest

from orderflow.ingest.binance import read_binance_capture

pytestmark = [pytest.mark.benchmark, pytest.mark.realdata]

CAPTURES = {
    "spot BTCUSDT (2 days)": [
        "crypto/hftbacktest/binance-spot/btcusdt_20240808.gz",
        "crypto/hftbacktest/binance-spot/btcusdt_20240809.gz",
    ],
    "USD-M BTCUSDT": ["crypto/hftbacktest/binance-usdm/btcusdt_20240808.gz"],
}


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024


def _best(fn, repeat: int = 3) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    wall = cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


@pytest.mark.parametrize("name", list(CAPTURES))
def test_bench_binance_capture(shared_data, name: str) -> None:  # type: ignore[no-untyped-def]
    files = [shared_data(f) for f in CAPTURES[name]]
    res = read_binance_capture(files)  # JIT warm-up (or cache load)
    lines = res.stats["lines"]
    print(
        f"\n{name}: {lines:,} lines, {res.deltas.height:,} delta rows, load average {os.getloadavg()[0]:.1f}"
    )
    for engine in ("fast", "reference"):
        wall, cpu = _best(lambda e=engine: read_binance_capture(files, engine=e))  # type: ignore[misc]
        print(
            f"  {engine:<10s} wall {wall:7.3f} s {lines / wall:10,.0f} lines/s | "
            f"cpu {cpu:7.3f} s {lines / cpu:10,.0f} lines/s"
        )
    print(f"  peak RSS {_peak_rss_mb():.0f} MB")
    assert res.stats["gaps"] == 0
