"""Regime inputs (volatility and liquidity, all causal), the regime config, and agreement with ground truth."""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sklearn.metrics import adjusted_rand_score

from orderflow.core.errors import ConfigError
from orderflow.core.schema import REGIMES, validate
from orderflow.core.time import parse_duration_ns
from orderflow.labels._kernels import ewma_vol_kernel
from orderflow.labels.book import BookArrays, book_arrays
from orderflow.regimes._kernels import event_rate_kernel, ewma_time_kernel

BOOK_INPUTS = ("log_rv", "spread_bps", "log_depth", "log_intensity")
"""Inputs derived from the book when ``RegimeConfig.inputs`` is empty (volatility first)."""


class RegimeConfig(BaseModel):
    """How regimes are found.

    ``inputs`` names FEATURES columns to use (volatility measure FIRST: regime codes are ordered by it);
    empty means the four causal book measures of :data:`BOOK_INPUTS`, smoothed with ``halflife``.
    ``rule_inputs`` are the columns the rule-based method buckets (default: volatility and spread).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["hmm", "gmm", "rules"] = "hmm"
    n_regimes: int = Field(2, ge=1, le=8)
    inputs: tuple[str, ...] = ()
    rule_inputs: tuple[str, ...] = ("log_rv", "spread_bps")
    n_buckets: int = Field(2, ge=1, le=5)
    halflife: str = Field("2s", description="half-life of the causal smoothing of the book inputs")
    normalize: Literal["instrument", "none"] = Field(
        "instrument",
        description="z-score the inputs per instrument with that instrument's training-fold statistics "
        "(several instruments share one regime model; their spreads and depths differ in scale)",
    )
    compare_methods: bool = Field(
        True, description="also fit the other methods and report their ARI vs truth"
    )
    random_state: int = 0

    @field_validator("halflife")
    @classmethod
    def _hl(cls, v: str) -> str:
        parse_duration_ns(v)
        return v


def book_regime_inputs(book: BookArrays, halflife_ns: int) -> pl.DataFrame:
    """Causal per-book-row measures: log realised vol, spread (bps of mid), log depth (top 5), log intensity."""
    mid = book.mid
    var = ewma_vol_kernel(book.ts, mid, float(halflife_ns) * 2.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread_bps = book.spread / mid * 1e4
        log_depth = np.log1p(book.depth(5))
        log_rv = np.log(np.sqrt(var) * 1e4 + 0.1)  # floor 0.1 bps/sqrt(s): warm-up zeros stay near
    rate = event_rate_kernel(book.ts, float(halflife_ns))
    hl = float(halflife_ns)
    return pl.DataFrame(
        {
            "log_rv": log_rv,
            "spread_bps": ewma_time_kernel(book.ts, spread_bps, hl),
            "log_depth": ewma_time_kernel(book.ts, log_depth, hl),
            "log_intensity": np.log(rate),
        }
    )


def regime_inputs(
    features: pl.DataFrame,
    book: pl.DataFrame | BookArrays | None,
    config: RegimeConfig,
    *,
    columns: tuple[str, ...] | None = None,
) -> pl.DataFrame:
    """The regime input matrix for the rows of ``features`` (one partition), as a float frame.

    Book measures are taken at the last book row with ``seq <= row.seq``; warm-up NaNs are back-filled by
    the first finite value (a constant, so nothing of the future leaks into the row's regime except during
    the warm-up itself) and then zero.
    """
    want = columns if columns is not None else (config.inputs or BOOK_INPUTS)
    out: dict[str, np.ndarray] = {}
    book_cols = [c for c in want if c in BOOK_INPUTS and c not in features.columns]
    if book_cols:
        if book is None:
            raise ConfigError(f"regimes: inputs {book_cols} come from the book, but no book was given")
        ba = book if isinstance(book, BookArrays) else book_arrays(book.sort("seq"))
        derived = book_regime_inputs(ba, parse_duration_ns(config.halflife))
        rows = np.clip(ba.rows_at_or_before(features["seq"].to_numpy().astype(np.int64)), 0, max(ba.n - 1, 0))
        for c in book_cols:
            out[c] = derived[c].to_numpy()[rows]
    for c in want:
        if c in out:
            continue
        if c not in features.columns:
            raise ConfigError(
                f"regimes.inputs: column {c!r} not in features (have: {', '.join(features.columns)})"
            )
        out[c] = features[c].cast(pl.Float64).to_numpy()
    for c, v in out.items():
        bad = ~np.isfinite(v)
        if bad.any():
            first = np.flatnonzero(~bad)
            fill = v[first[0]] if first.size else 0.0
            v = v.copy()
            # before the first finite value: that value; later gaps: the last finite value (causal)
            idx = np.where(bad, 0, np.arange(v.shape[0]))
            np.maximum.accumulate(idx, out=idx)
            v = np.where(bad, v[idx], v)
            v[~np.isfinite(v)] = fill
            out[c] = v
    return pl.DataFrame({c: out[c] for c in want})


def regimes_frame(
    features: pl.DataFrame, regime: np.ndarray, proba: np.ndarray | None = None
) -> pl.DataFrame:
    """A validated REGIMES table for the rows of ``features``."""
    df = features.select("ts_event", "seq").with_columns(pl.Series("regime", regime.astype(np.int16)))
    if proba is not None:
        df = df.with_columns(
            [pl.Series(f"p_regime_{k}", proba[:, k].astype(np.float64)) for k in range(proba.shape[1])]
        )
    keep = [c for c in ("instrument", "date") if c in features.columns]
    out = validate(df, REGIMES, where="regimes")
    return out.with_columns(features.select(keep)) if keep else out


def align_truth(rows: pl.DataFrame, truth: pl.DataFrame) -> np.ndarray:
    """The true regime in force at each row (the last truth row with ``seq <= row.seq``, per partition).

    -1 where no truth row precedes the row (or the row's partition has no truth).
    """
    keys = [c for c in ("instrument", "date") if c in rows.columns and c in truth.columns]
    out = np.full(rows.height, -1, dtype=np.int64)
    r = rows.select([*keys, "seq"]).with_row_index("_i")
    groups = r.group_by(keys, maintain_order=True) if keys else [((), r)]
    for key, part in groups:
        t = truth
        if keys:
            t = truth.filter(pl.all_horizontal([pl.col(k) == v for k, v in zip(keys, key, strict=True)]))
        t = t.sort("seq")
        tseq = t["seq"].to_numpy()
        treg = t["regime"].to_numpy().astype(np.int64)
        pos = np.searchsorted(tseq, part["seq"].to_numpy(), side="right") - 1
        idx = part["_i"].to_numpy()
        ok = pos >= 0
        out[idx[ok]] = treg[pos[ok]]
    return out


def regime_agreement(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Agreement of an estimated regime path with the ground truth.

    ``ari``: adjusted Rand index (label permutation invariant; 0 = chance, 1 = identical).
    ``accuracy_best_map``: share of rows where pred equals truth after mapping each predicted regime to its
    most frequent true regime. Rows with truth < 0 (unknown) are ignored.
    """
    ok = truth >= 0
    p, t = pred[ok], truth[ok]
    if p.size == 0:
        return {"ari": float("nan"), "accuracy_best_map": float("nan"), "rows": 0}
    acc = 0
    for r in np.unique(p):
        acc += int(np.max(np.bincount(t[p == r])))
    return {"ari": float(adjusted_rand_score(t, p)), "accuracy_best_map": acc / p.size, "rows": int(p.size)}


__all__ = [
    "BOOK_INPUTS",
    "RegimeConfig",
    "align_truth",
    "book_regime_inputs",
    "regime_agreement",
    "regime_inputs",
    "regimes_frame",
]
