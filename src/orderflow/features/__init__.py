"""orderflow.features: causal order-book and order-flow features on a chosen clock.

>>> from orderflow.features import FeatureConfig, compute_features
>>> cfg = FeatureConfig(names=["spread", "imbalance", "ofi", "mlofi", "sweep"], levels=10, clock="time:1s")
>>> feats = compute_features(snapshots, trades, deltas, instrument=inst, config=cfg)  # doctest: +SKIP

Every column is documented in ``FEATURE_DOCS`` (formula, source, unit, warm-up); plug-ins register
in ``FEATURES_REGISTRY``. The classic studies (OFI price impact, micro-price forecasts) are in
:mod:`orderflow.features.studies`.
"""

from orderflow.features.compute import FeatureEngine, compute_features, fit_microprice_window
from orderflow.features.config import DEFAULT_GROUPS, FEATURE_GROUPS, Clock, FeatureConfig
from orderflow.features.docs import FEATURE_DOCS, FeatureDoc, doc_for, docs_markdown
from orderflow.features.microprice import MicropriceEstimator
from orderflow.features.registry import FEATURES_REGISTRY
from orderflow.features.studies import microprice_study, ofi_impact

__all__ = [
    "DEFAULT_GROUPS",
    "FEATURES_REGISTRY",
    "FEATURE_DOCS",
    "FEATURE_GROUPS",
    "Clock",
    "FeatureConfig",
    "FeatureDoc",
    "FeatureEngine",
    "MicropriceEstimator",
    "compute_features",
    "doc_for",
    "docs_markdown",
    "fit_microprice_window",
    "microprice_study",
    "ofi_impact",
]
