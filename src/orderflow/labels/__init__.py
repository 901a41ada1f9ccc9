"""Forward-looking targets: forward mid/microprice returns on event, time and volume clocks, regime-aware
up/flat/down classes, the triple barrier, FI-2010 smoothed labels and cost-aware executable returns.

Every row has ``t_end_ns`` (end of its label window) so cross-validation can purge overlapping rows.
"""

from orderflow.labels.book import BookArrays, book_arrays
from orderflow.labels.core import (
    Horizon,
    LabelConfig,
    causal_vol_bps,
    classify,
    compute_labels,
    cumulative_volume,
    executable_returns,
    execution_latency_ns,
    horizon_end,
    label_partition,
    parse_horizon,
    partition_keys,
    regime_scales,
    regime_thresholds,
    smoothed_mean_return,
)

__all__ = [
    "BookArrays",
    "Horizon",
    "LabelConfig",
    "book_arrays",
    "causal_vol_bps",
    "classify",
    "compute_labels",
    "cumulative_volume",
    "executable_returns",
    "execution_latency_ns",
    "horizon_end",
    "label_partition",
    "parse_horizon",
    "partition_keys",
    "regime_scales",
    "regime_thresholds",
    "smoothed_mean_return",
]
