"""Figures only (matplotlib, Agg): each function takes numbers already computed and returns a Figure.

:func:`research_figures` builds the standard set from the predictions and ``metrics.json``;
:func:`save_figures` writes each as PNG and SVG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.figure import Figure

CLASS_LABELS = ("down", "flat", "up")


def confusion_figure(confusion: list[list[int]], title: str = "Confusion matrix (out of sample)") -> Figure:
    cm = np.asarray(confusion, dtype=float)
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{int(cm[i, j])}\n{norm[i, j]:.0%}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(3), CLASS_LABELS)
    ax.set_yticks(range(3), CLASS_LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def calibration_figure(top: dict[str, Any], qcal: dict[str, float]) -> Figure:
    """Left: top-class reliability diagram. Right: quantile calibration mean(y < q_tau) vs tau."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.6))
    a.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    conf = np.asarray(top.get("confidence", []), dtype=float)
    acc = np.asarray(top.get("accuracy", []), dtype=float)
    a.plot(conf, acc, marker="o")
    a.set_xlabel("predicted probability of the top class")
    a.set_ylabel("observed accuracy")
    a.set_title(f"Classifier calibration (ECE {top.get('ece', float('nan')):.3f})", fontsize=10)
    taus = [int(k.split("_")[1]) / 100 for k in qcal]
    b.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    b.plot(taus, list(qcal.values()), marker="o")
    b.set_xlabel("quantile level tau")
    b.set_ylabel("share of y below q_tau")
    b.set_title("Quantile calibration (executable return)", fontsize=10)
    fig.tight_layout()
    return fig


def ev_histogram_figure(realized_bps: np.ndarray, decisions: dict[str, Any]) -> Figure:
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    if realized_bps.size:
        ax.hist(realized_bps, bins=60, color="tab:blue", alpha=0.8)
        ax.axvline(0, color="black", lw=0.8)
        ax.axvline(
            float(np.mean(realized_bps)),
            color="tab:red",
            lw=1.2,
            label=f"mean {np.mean(realized_bps):.2f} bps",
        )
        ax.legend(fontsize=8)
    ax.set_xlabel("executable return per trade after costs (bps)")
    ax.set_ylabel("trades")
    hit = decisions.get("hit_rate")
    hit_txt = f"{hit:.2f}" if isinstance(hit, int | float) else "n/a"  # None when no decision traded
    ax.set_title(f"EV of decisions: {decisions.get('trades', 0)} trades, hit rate {hit_txt}", fontsize=10)
    fig.tight_layout()
    return fig


def equity_drawdown_figure(ts_ns: np.ndarray, pnl_bps: np.ndarray) -> Figure:
    fig, (a, b) = plt.subplots(2, 1, figsize=(7, 4.5), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    eq = np.cumsum(pnl_bps)
    dd = np.maximum.accumulate(np.concatenate([[0.0], eq]))[1:] - eq
    x = (ts_ns - ts_ns[0]) / 1e9 if ts_ns.size else ts_ns
    a.plot(x, eq, lw=1.0)
    a.set_ylabel("cumulative bps")
    a.set_title("Equity of the decisions (sum of per-trade executable returns)", fontsize=10)
    b.fill_between(x, -dd, 0, color="tab:red", alpha=0.5)
    b.set_ylabel("drawdown (bps)")
    b.set_xlabel("seconds since first trade (partitions concatenated)")
    fig.tight_layout()
    return fig


def regime_metrics_figure(metrics: dict[str, Any]) -> Figure:
    """Macro F1 of the model and each baseline per regime, and 90% coverage per regime."""
    cls = metrics.get("classification", {})
    regs = sorted(cls.get("by_regime", {}))
    names = ["model", *sorted(metrics.get("baselines", {}))]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        src = cls if name == "model" else metrics["baselines"][name]
        vals = [src.get("by_regime", {}).get(r, {}).get("macro_f1", np.nan) for r in regs]
        a.bar(np.arange(len(regs)) + i * width, vals, width, label=name)
    a.set_xticks(np.arange(len(regs)) + 0.4 - width / 2, [f"regime {r}" for r in regs])
    a.set_ylabel("macro F1")
    a.legend(fontsize=7)
    a.set_title("Classification by regime", fontsize=10)
    q = metrics.get("quantile", {})
    cov = [q.get("by_regime", {}).get(r, {}).get("coverage_90", np.nan) for r in regs]
    b.bar(range(len(regs)), cov, color="tab:green")
    b.axhline(0.9, color="black", lw=0.8, ls="--")
    b.set_ylim(0, 1)
    b.set_xticks(range(len(regs)), [f"regime {r}" for r in regs])
    b.set_title("90% interval coverage by regime", fontsize=10)
    fig.tight_layout()
    return fig


def research_figures(predictions: pl.DataFrame, metrics: dict[str, Any]) -> dict[str, Figure]:
    """The standard figure set: confusion, calibration, ev_histogram, equity_drawdown, regime_metrics."""
    from orderflow.evaluation.metrics import calibration_curve_top

    figs: dict[str, Figure] = {}
    cls = metrics.get("classification", {})
    if "confusion" in cls:
        figs["confusion"] = confusion_figure(cls["confusion"])
    proba = predictions.select("p_down", "p_flat", "p_up").to_numpy()
    yi = predictions["y_class"].to_numpy().astype(np.int64) + 1
    top = calibration_curve_top(proba, yi)
    figs["calibration"] = calibration_figure(top, metrics.get("quantile", {}).get("calibration", {}))
    if "decision" in predictions.columns:
        p = predictions.filter(pl.col("decision") != 0)
        dec = p["decision"].to_numpy()
        realized = np.where(dec > 0, p["y_exec_long"].to_numpy(), p["y_exec_short"].to_numpy())
        figs["ev_histogram"] = ev_histogram_figure(realized, metrics.get("decisions", {}))
        figs["equity_drawdown"] = equity_drawdown_figure(p["ts_event"].to_numpy(), realized)
    figs["regime_metrics"] = regime_metrics_figure(metrics)
    return figs


def save_figures(
    figures: dict[str, Figure], out_dir: str | Path, formats: tuple[str, ...] = ("png", "svg")
) -> list[Path]:
    """Write each figure as ``<name>.<fmt>`` (PNG at 110 dpi, SVG) and close it; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in sorted(figures.items()):
        for fmt in formats:
            p = out / f"{name}.{fmt}"
            fig.savefig(p, dpi=110, metadata={"Date": None} if fmt == "svg" else None)
            paths.append(p)
        plt.close(fig)
    return paths


__all__ = [
    "calibration_figure",
    "confusion_figure",
    "equity_drawdown_figure",
    "ev_histogram_figure",
    "regime_metrics_figure",
    "research_figures",
    "save_figures",
]
