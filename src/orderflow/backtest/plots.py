"""Backtest figures (matplotlib, Agg backend): equity, drawdown, fills on the mid. Written as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from orderflow.backtest.results import BacktestResult


def write_plots(result: BacktestResult, out_dir: str | Path) -> list[Path]:
    """Write ``equity.png``, ``drawdown.png`` and ``fills.png`` into ``out_dir``; return their paths."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    eq = result.equity
    t = (eq["ts"].to_numpy() - (eq["ts"][0] if eq.height else 0)) * 1e-9
    e = eq["equity"].to_numpy()
    paths = []

    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(t, e, lw=1)
    ax.set_xlabel("seconds from start")
    ax.set_ylabel("equity (currency)")
    ax.set_title("Equity (cash + position x mid)")
    p = out / "equity.png"
    fig.tight_layout()
    fig.savefig(p, dpi=100)
    plt.close(fig)
    paths.append(p)

    fig, ax = plt.subplots(figsize=(9, 3))
    dd = (np.maximum.accumulate(e) - e) if e.size else e
    ax.fill_between(t, -dd, 0, color="tab:red", alpha=0.5)
    ax.set_xlabel("seconds from start")
    ax.set_ylabel("drawdown")
    ax.set_title("Drawdown")
    p = out / "drawdown.png"
    fig.tight_layout()
    fig.savefig(p, dpi=100)
    plt.close(fig)
    paths.append(p)

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(t, eq["mid"].to_numpy(), lw=0.8, color="0.4", label="mid")
    f = result.fills
    if f.height and eq.height:
        ft = (f["ts_exchange"].to_numpy() - eq["ts"][0]) * 1e-9
        fp = f["price"].to_numpy() * 1e-9
        buy = f["side"].to_numpy() > 0
        ax.scatter(ft[buy], fp[buy], s=8, marker="^", color="tab:green", label="buy fills")
        ax.scatter(ft[~buy], fp[~buy], s=8, marker="v", color="tab:red", label="sell fills")
    ax.set_xlabel("seconds from start")
    ax.set_ylabel("price")
    ax.legend(loc="best", fontsize=8)
    ax.set_title("Fills on mid")
    p = out / "fills.png"
    fig.tight_layout()
    fig.savefig(p, dpi=100)
    plt.close(fig)
    paths.append(p)
    return paths


__all__ = ["write_plots"]
