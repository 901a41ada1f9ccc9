"""MicropriceEstimator: the Stoikov recursion on a hand-built chain, sklearn conventions, and forecasts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from orderflow.core.instruments import Instrument
from orderflow.features import MicropriceEstimator
from orderflow.testing import in_ci

TICK = 10_000_000


def chain_rows(cycles: int) -> np.ndarray:
    """Spread 1 tick; states b1 (I = 0.9) and b0 (I = 0.1) in the cycle b1 -> b1 -> b0 -> b1 ...

    Transitions: b1 -> b1 without a mid move (1/2), b1 -> b0 with the mid up one tick (1/2),
    b0 -> b1 without a move (1). So Q = [[0, 1], [0, 1/2]], T = [[0, 0], [1/2, 0]], R1 = [0, 1/2]:
    (1 - Q)^-1 = [[1, 2], [0, 2]], G1 = [1, 1], B = [[1, 0], [1, 0]], so g* = n_terms for both states.
    """
    rows = []
    mid = 1000
    for _ in range(cycles):
        for state, move in (("b1", 0), ("b1", 0), ("b0", 1)):
            mid += move
            qb, qa = (90, 10) if state == "b1" else (10, 90)
            rows.append([mid * TICK, qb, (mid + 1) * TICK, qa])
    return np.array(rows, dtype=np.int64)


@pytest.mark.parametrize("n_terms", [1, 2, 3, 6])
def test_stoikov_recursion_on_hand_built_chain(n_terms: int) -> None:
    X = chain_rows(50)
    est = MicropriceEstimator(
        n_imbalance_buckets=2, max_spread_ticks=1, n_terms=n_terms, tick_int=TICK, symmetrize=False
    ).fit(X)
    # G1 = [1, 1]; B G1 = [1, 1]: every term adds one tick
    np.testing.assert_allclose(est.table_, [[n_terms, n_terms]], atol=0.05)
    # the last transition of the finite sample is b0 -> nothing; counts are 2 per cycle from b1
    assert est.counts_[0, 1] == pytest.approx(2 * 50 - 1, abs=1)


def test_symmetrized_table_is_antisymmetric() -> None:
    rng = np.random.default_rng(0)
    X = chain_rows(30)
    X[:, 1] = rng.integers(1, 100, len(X))
    est = MicropriceEstimator(n_imbalance_buckets=4, max_spread_ticks=1, tick_int=TICK).fit(X)
    np.testing.assert_allclose(est.table_[0], -est.table_[0][::-1], atol=1e-12)


def test_sklearn_conventions() -> None:
    est = MicropriceEstimator(n_imbalance_buckets=5)
    assert clone(est).get_params() == est.get_params()
    assert not hasattr(est, "table_")
    with pytest.raises(NotFittedError):
        est.transform(chain_rows(2))
    assert est.fit(chain_rows(5)) is est
    assert est.table_.shape == (3, 5)
    assert est.tick_int_ == TICK  # inferred from the smallest spread
    with pytest.raises(ValueError):
        MicropriceEstimator().fit(np.zeros((3, 3)))


def _simulator():  # type: ignore[no-untyped-def]
    try:
        from orderflow.ingest import simulator
    except ImportError as e:  # pragma: no cover - depends on the simulator landing
        if in_ci():
            pytest.fail(f"orderflow.ingest.simulator is required in CI: {e}")
        pytest.skip(f"orderflow.ingest.simulator not available yet ({e})")
    return simulator


def _sim_snapshots(sim, seed: int) -> tuple[pl.DataFrame, Instrument]:  # type: ignore[no-untyped-def]
    from orderflow.book.engine import reconstruct

    # the simulator's default activity (200k events per session); artifacts off: filtering is not under test
    clean = sim.ArtifactConfig(stale_quote=0, crossed=0, locked=0, burst=0, duplicate=0)
    day = sim.simulate_day(sim.SimConfig(seed=seed, artifacts=clean), "SIM0", dt.date(2024, 1, 2))
    return reconstruct(day.deltas, depth=10), day.instrument


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7, 1])
def test_microprice_beats_mid_and_weighted_mid_on_simulator(seed: int) -> None:
    sim = _simulator()
    snaps, inst = _sim_snapshots(sim, seed)
    from orderflow.features.studies import microprice_study

    r = microprice_study(snaps, instrument=inst, horizon_ns=1_000_000_000, train_fraction=0.5)
    assert r["n_test_rows"] > 1000
    assert r["mse_microprice"] < r["mse_mid"]
    assert r["mse_microprice"] < r["mse_weighted_mid"]
