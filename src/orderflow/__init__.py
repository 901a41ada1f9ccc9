"""orderflow: leak-free market-microstructure order-flow research.

From raw Level-2/Level-3 venue data to reconstructed books, causal features, regimes,
regime-aware labels, distributional models and an execution-aware backtest.
"""

import os
from importlib.metadata import PackageNotFoundError, version

# OpenMP threads (LightGBM) spin-wait by default; when cores are shared (pytest-xdist workers, a
# process pool, a busy research box) spinning threads starve each other: measured here, a LightGBM
# fit went from 116 s to 2.6 s wall with passive waiting. Must be set before libgomp loads; users can
# still override it in their environment.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Work is parallel across partitions and inside LightGBM; multi-threaded BLAS on top oversubscribes the
# cores (a 60k x 40 logistic fit: 9.8 s with 2 OpenBLAS threads on a busy 2-core box, 0.67 s with 1).
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

try:
    __version__ = version("orderflow")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
