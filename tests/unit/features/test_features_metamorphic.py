"""Metamorphic relations on the real 10-level AAPL sample."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_series_equal

from orderflow.features import FeatureConfig, compute_features

pytestmark = pytest.mark.realdata
UNDEF = 2**63 - 1
CFG = FeatureConfig(names=["spread", "imbalance", "ofi", "mlofi", "depth"], levels=10)


def transformed(snaps: pl.DataFrame, shift: int = 0, scale: int = 1) -> pl.DataFrame:
    exprs = []
    for c in snaps.columns:
        if "_px_" in c:
            exprs.append(pl.when(pl.col(c) == UNDEF).then(UNDEF).otherwise(pl.col(c) + shift).alias(c))
        elif "_sz_" in c:
            exprs.append((pl.col(c) * scale).alias(c))
    return snaps.with_columns(exprs)


def test_price_shift_leaves_spread_imbalance_ofi_unchanged(aapl10) -> None:  # type: ignore[no-untyped-def]
    inst = aapl10["instrument"]
    a = compute_features(aapl10["snapshots"], instrument=inst, config=CFG)
    b = compute_features(
        transformed(aapl10["snapshots"], shift=37 * inst.tick_int), instrument=inst, config=CFG
    )
    cols = [
        "spread_ticks",
        "ofi_l1",
        *[f"imb_l{k}" for k in range(1, 11)],
        *[f"mlofi_l{k}" for k in range(1, 11)],
    ]
    for c in cols:
        assert_series_equal(a[c], b[c])
    assert not a["mid"].equals(b["mid"])


def test_size_scaling_scales_ofi_and_depth(aapl10) -> None:  # type: ignore[no-untyped-def]
    inst = aapl10["instrument"]
    a = compute_features(aapl10["snapshots"], instrument=inst, config=CFG)
    b = compute_features(transformed(aapl10["snapshots"], scale=3), instrument=inst, config=CFG)
    for c in ["ofi_l1", *[f"mlofi_l{k}" for k in (1, 5, 10)], "depth_bid_l1", "cumdepth_ask_l10"]:
        assert_series_equal(a[c] * 3, b[c])
    for c in ("imb_l1", "imb_l10", "spread_ticks"):
        assert_series_equal(a[c], b[c], check_exact=False, rel_tol=1e-12)
