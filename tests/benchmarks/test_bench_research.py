"""Research-stage benchmarks (run by `make bench`): label throughput and model fitting time.

Targets: labels >= 2e6 rows/s; LightGBM fit on 1e6 rows x 50 features < 2 minutes (n_jobs=2).
"""

from __future__ import annotations

import resource
import time

import numpy as np
import pytest

from orderflow.core.execution import ExecutionModel
from orderflow.labels import LabelConfig, book_arrays, label_partition
from orderflow.models.classifiers import LGBMDirectionClassifier
from orderflow.models.quantile import LGBMQuantileRegressor
from orderflow.models.synthetic import make_synthetic_market

pytestmark = pytest.mark.benchmark


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@pytest.mark.parametrize(
    "name,cfg",
    [
        (
            "forward_time_clock",
            LabelConfig(
                horizons=("1s",), target="1s", microprice=False, executable=False, triple_barrier=False
            ),
        ),
        (
            "forward_3_clocks_micro",
            LabelConfig(
                horizons=("100ms", "1s", "50ev"), target="1s", executable=False, triple_barrier=False
            ),
        ),
        ("executable", LabelConfig(horizons=("1s",), target="1s", microprice=False, triple_barrier=False)),
        ("triple_barrier", LabelConfig(horizons=("1s",), target="1s", microprice=False, executable=False)),
        ("all_default", LabelConfig()),
    ],
)
def test_bench_labels(name: str, cfg: LabelConfig) -> None:
    n = 1_000_000
    m = make_synthetic_market(n, seed=0)
    ba = book_arrays(m.book)
    rows = m.features.select("ts_event", "seq")
    label_partition(ba, rows.head(1000), cfg, ExecutionModel(order_size=100))  # compile
    t = time.perf_counter()
    lab = label_partition(ba, rows, cfg, ExecutionModel(order_size=100))
    dt = time.perf_counter() - t
    print(
        f"\nlabels[{name}]: {n} rows in {dt:.3f} s = {n / dt / 1e6:.2f} M rows/s "
        f"({len(lab.columns) - 3} label columns); peak RSS {_rss_mb():.0f} MB"
    )


def _xy(n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(np.float64)
    s = X[:, 0] + 0.5 * X[:, 1] - 0.3 * X[:, 2] + rng.standard_normal(n)
    y = np.where(s > 0.7, 1, np.where(s < -0.7, -1, 0))
    return X, y


def test_bench_fit_lightgbm_1e6_x_50() -> None:
    X, y = _xy(1_000_000, 50)
    t = time.perf_counter()
    clf = LGBMDirectionClassifier(n_estimators=150, num_leaves=15, min_child_samples=200, n_jobs=2).fit(X, y)
    dt = time.perf_counter() - t
    acc = float(np.mean(clf.predict(X[:100_000]) == y[:100_000]))
    print(
        f"\nLightGBM multiclass fit: 1e6 x 50, 150 trees x 3 classes, n_jobs=2: {dt:.1f} s "
        f"(in-sample acc {acc:.3f}); peak RSS {_rss_mb():.0f} MB"
    )
    t = time.perf_counter()
    LGBMQuantileRegressor(levels=(0.05, 0.5, 0.95), n_estimators=100, n_jobs=2).fit(
        X, y.astype(float) + X[:, 3]
    )
    dt = time.perf_counter() - t
    print(
        f"LightGBM quantile fit: 1e6 x 50, 3 levels x 100 trees, n_jobs=2: {dt:.1f} s; peak RSS {_rss_mb():.0f} MB"
    )
