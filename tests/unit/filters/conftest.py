"""Fixtures shared by the filter tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def sim_day():  # type: ignore[no-untyped-def]
    """A simulated day with every artifact kind injected, and its top-10 book."""
    from orderflow.book.engine import reconstruct
    from orderflow.ingest.simulator import ArtifactConfig, SimConfig, simulate_day

    cfg = SimConfig(
        seed=7,
        events_per_day=30_000,
        artifacts=ArtifactConfig(stale_quote=2e-3, crossed=2e-3, locked=2e-3, burst=2e-3, duplicate=5e-3),
    )
    day = simulate_day(cfg, "SIM0", "2024-01-02")
    return day, reconstruct(day.deltas, depth=10)
