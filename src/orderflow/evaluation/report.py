"""Report pieces from numbers already computed: deterministic metrics.json and a headline table.

No computation of metrics here and no plotting (see :mod:`orderflow.evaluation.metrics` and
:mod:`orderflow.evaluation.plots`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from orderflow.core.io import atomic_write_text


def _clean(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, float | np.floating):
        v = float(o)
        return None if not math.isfinite(v) else round(v, 10)
    return o


def metrics_json(metrics: dict[str, Any]) -> str:
    """Deterministic JSON: sorted keys, NaN/inf as null, floats rounded to 10 significant decimals."""
    return json.dumps(_clean(metrics), indent=2, sort_keys=True) + "\n"


def write_metrics(metrics: dict[str, Any], path: str | Path) -> Path:
    p = Path(path)
    atomic_write_text(p, metrics_json(metrics))
    return p


HEADLINE = (
    ("classification.macro_f1", "macro F1 (model, out of sample)"),
    ("classification.weighted_f1", "weighted F1 (support-weighted)"),
    ("leakage.permuted_macro_f1", "macro F1 with permuted training labels"),
    ("leakage.chance_macro_f1", "chance macro F1"),
    ("quantile.coverage_90", "90% interval coverage"),
    ("quantile.width_90", "90% interval width (bps)"),
    ("quantile.pinball", "mean pinball loss (bps)"),
    ("decisions.trades", "trades"),
    ("decisions.ev_mean", "EV per trade after costs (bps)"),
    ("decisions.hit_rate", "hit rate"),
    ("drawdown.max", "max drawdown (bps)"),
    ("sharpe.per_trade", "Sharpe per trade"),
    ("sharpe.deflated", "deflated Sharpe ratio (probability)"),
)


def lookup(metrics: dict[str, Any], dotted: str) -> Any:
    cur: Any = metrics
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def headline_rows(metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) rows for the headline table, then macro F1 per regime and per baseline."""
    rows = [(label, lookup(metrics, key)) for key, label in HEADLINE]
    for r, v in sorted(metrics.get("classification", {}).get("by_regime", {}).items()):
        rows.append((f"macro F1, regime {r}", v.get("macro_f1")))
    for name, v in sorted(metrics.get("baselines", {}).items()):
        rows.append((f"macro F1, baseline {name}", v.get("macro_f1")))
    for m, ari in sorted(metrics.get("regimes", {}).get("ari", {}).items()):
        rows.append((f"regime ARI vs truth, {m}", ari))
    return rows


def headline_markdown(metrics: dict[str, Any]) -> str:
    lines = ["| metric | value |", "|---|---|"]
    for label, v in headline_rows(metrics):
        txt = (
            "n/a"
            if v is None or (isinstance(v, float) and not math.isfinite(v))
            else (f"{v:.4f}" if isinstance(v, float) else str(v))
        )
        lines.append(f"| {label} | {txt} |")
    return "\n".join(lines)


__all__ = ["headline_markdown", "headline_rows", "lookup", "metrics_json", "write_metrics"]
