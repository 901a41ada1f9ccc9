"""Feature plug-ins: register a function by name so ``FeatureConfig(names=[...])`` can select it.

A plug-in receives the sampled rows (one per clock tick: ``ts_event``, ``seq``, the book columns
``bid_px_00 ..`` as they were at that tick, and every built-in feature already computed) and
returns polars expressions, one per output column::

    from orderflow.features import FEATURES_REGISTRY, FeatureDoc

    @FEATURES_REGISTRY.register("touch_ratio")
    def touch_ratio(frame, instrument, config):
        return [(pl.col("bid_sz_00") / pl.col("ask_sz_00")).alias("touch_ratio")]

    FEATURE_DOCS["touch_ratio"] = FeatureDoc("bid_sz_00 / ask_sz_00", "user", "ratio", "0")

Plug-in expressions must be causal (``shift(k)`` with k >= 0, rolling windows looking back); the
causality property test covers the built-ins only. A name containing ``:`` is imported as
``"package.module:function"`` without registration.
"""

from __future__ import annotations

from orderflow.core.registry import Registry

FEATURES_REGISTRY = Registry("feature")

__all__ = ["FEATURES_REGISTRY"]
