"""Feature throughput on top-10 books (run by `make bench`; prints events/s and peak RSS, asserts nothing on time).

Workload of the brief: spread, imbalance at 10 levels, micro-price, OFI, multi-level OFI (10 levels) and
sweep cost for 3 sizes on every event of a 10-level book. The book is a synthetic random walk (tick
0.01, sizes 1..499 per level) so the figure does not depend on a data file.
"""

from __future__ import annotations

import resource
import time

import numpy as np
import polars as pl
import pytest

from orderflow.core.instruments import Instrument
from orderflow.features import FeatureConfig, MicropriceEstimator, compute_features

pytestmark = pytest.mark.benchmark

N = 2_000_000
L = 10


def book(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    tick = 10_000_000
    mid = 100_000 + np.cumsum(rng.integers(-1, 2, n))
    bb = (mid - rng.integers(0, 2, n)) * tick
    ba = (mid + 1 + rng.integers(0, 2, n)) * tick
    ts = 1_600_000_000_000_000_000 + np.arange(n, dtype=np.int64) * 1000
    cols: dict[str, np.ndarray] = {"ts_event": ts, "ts_recv": ts, "seq": np.arange(n, dtype=np.int64)}
    for k in range(L):
        cols[f"bid_px_{k:02d}"] = bb - k * tick
    for k in range(L):
        cols[f"bid_sz_{k:02d}"] = rng.integers(1, 500, n)
    for k in range(L):
        cols[f"ask_px_{k:02d}"] = ba + k * tick
    for k in range(L):
        cols[f"ask_sz_{k:02d}"] = rng.integers(1, 500, n)
    return pl.DataFrame(cols)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_bench_top10_event_clock() -> None:
    df = book(N)
    inst = Instrument(symbol="B", tick_size="0.01")
    cfg = FeatureConfig(
        names=["spread", "imbalance", "microprice", "ofi", "mlofi", "sweep"],
        levels=L,
        sweep_sizes=[100, 500, 1000],
        chunk_rows=500_000,
    )
    est = MicropriceEstimator(tick_int=inst.tick_int).fit(df.head(200_000))
    compute_features(
        df.head(5000), instrument=inst, config=cfg, microprice_model=est
    )  # compile / warm caches
    best_wall = best_cpu = float("inf")
    for _ in range(3):
        w0, c0 = time.perf_counter(), time.process_time()
        out = compute_features(df, instrument=inst, config=cfg, microprice_model=est)
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    assert out.height == N
    print(
        f"\nfeatures top-10 event clock: {out.width - 2} columns, {N} events: "
        f"{N / best_wall:,.0f} events/s wall, {N / best_cpu:,.0f} events/s CPU, peak RSS {peak_rss_mb():,.0f} MB"
    )


def test_bench_time_clock_all_book_groups() -> None:
    df = book(N // 2, seed=1)
    inst = Instrument(symbol="B", tick_size="0.01")
    cfg = FeatureConfig(
        names=[
            "spread",
            "imbalance",
            "wmid",
            "ofi",
            "mlofi",
            "sweep",
            "depth",
            "shape",
            "queue",
            "volatility",
        ],
        levels=L,
        clock="time:1ms",
        chunk_rows=250_000,
    )
    compute_features(df.head(5000), instrument=inst, config=cfg)
    w0 = time.perf_counter()
    out = compute_features(df, instrument=inst, config=cfg)
    wall = time.perf_counter() - w0
    print(
        f"\nfeatures top-10 time:1ms clock, {out.width - 2} columns: {df.height / wall:,.0f} events/s wall, "
        f"{out.height} samples, peak RSS {peak_rss_mb():,.0f} MB"
    )


def test_bench_book_kernel_only() -> None:
    """The fused book kernel alone (inputs as (L, n) arrays, output buffer already faulted in)."""
    from orderflow.features import _kernels as K
    from orderflow.features.compute import _levels

    df = book(N, seed=2)
    arrays = [
        _levels(df, [f"{s}_{k:02d}" for k in range(L)]) for s in ("bid_px", "bid_sz", "ask_px", "ask_sz")
    ]
    q = np.array([100.0, 500.0, 1000.0])
    table = np.zeros((3, 10))
    ncols = 1 + 2 + 2 + L + L + 12
    out = np.zeros((ncols, N))

    def run() -> None:
        K.book_kernel(
            *arrays,
            np.zeros((4, L), dtype=np.int64),
            0,
            10_000_000,
            1.0,
            out,
            0,
            1,
            -1,
            3,
            table,
            5,
            L,
            5 + L,
            L,
            5 + 2 * L,
            q,
            np.arange(3),
            False,
            -1,
            0,
            -1,
            0,
        )

    run()
    best = float("inf")
    for _ in range(3):
        c0 = time.process_time()
        run()
        best = min(best, time.process_time() - c0)
    print(
        f"\nbook_kernel (spread, imbalance x10, microprice, OFI + MLOFI x10, sweep x3 sizes x2 sides): "
        f"{N / best:,.0f} events/s CPU"
    )
