"""Backtest replay speed and memory (run by ``make bench``; prints figures, asserts only on memory)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.benchmark


def _bench(events: int, every_event: bool) -> dict[str, object]:
    cmd = [sys.executable, "-m", "orderflow.cli.main", "bench", "backtest", "--events", str(events), "--json"]
    if every_event:
        cmd.append("--every-event")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out))


@pytest.mark.parametrize("every_event", [False, True], ids=["timer-100ms", "every-event"])
def test_bench_backtest_replay(every_event: bool) -> None:
    r = _bench(10_000_000, every_event)
    print(
        f"\nbacktest replay ({'every event' if every_event else 'timer 100 ms'}): "
        f"{r['events']} events in {r['seconds']} s = {r['events_per_s']} events/s, "
        f"({r['events_per_cpu_s']} events per CPU-second), peak RSS {int(r['peak_rss_bytes']) / 2**20:.0f} MiB, {r['strategy_calls']} strategy calls"
    )  # type: ignore[call-overload]


def test_bench_backtest_memory_is_flat_in_stream_length() -> None:
    small = _bench(2_000_000, False)
    large = _bench(8_000_000, False)
    ps, pl_ = int(small["peak_rss_bytes"]), int(large["peak_rss_bytes"])  # type: ignore[call-overload]
    print(f"\npeak RSS: 2e6 events {ps / 2**20:.0f} MiB, 8e6 events {pl_ / 2**20:.0f} MiB")
    assert pl_ < ps * 1.25, "memory grows with the stream length"
