"""orderflow: leak-free market-microstructure order-flow research.

From raw Level-2/Level-3 venue data to reconstructed books, causal features, regimes,
regime-aware labels, distributional models and an execution-aware backtest.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("orderflow")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
