"""Fitting the probabilistic queue model where the truth is known: on order-level (L3) data.

The exact FIFO queue of an order-level replay is the ground truth. The same probe orders are replayed on
the price-level view of the same data (order ids removed) under each candidate probabilistic model;
the model whose per-order filled quantities are closest (least squares) to FIFO's is returned. The fitted
``(family, power)`` then serves L2-only data of the same market.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from orderflow.backtest.config import BacktestConfig
from orderflow.backtest.engine import run_backtest
from orderflow.core.errors import ConfigError
from orderflow.core.instruments import Instrument


@dataclass(frozen=True)
class QueueFit:
    """Result of :func:`fit_queue_model`: the best family/power and the error of every candidate."""

    family: str
    power: float
    rmse: float
    table: pl.DataFrame
    """One row per candidate: family, power, rmse (size units per probe order), filled_total."""


def _filled(res: object) -> np.ndarray:
    orders = res.orders  # type: ignore[attr-defined]
    return np.asarray(orders.sort("order_id")["filled"].to_numpy(), dtype=np.float64)


def fit_queue_model(
    deltas: pl.DataFrame,
    trades: pl.DataFrame,
    *,
    instrument: Instrument,
    config: BacktestConfig,
    script: np.ndarray,
    powers: Sequence[float] = (0.5, 1.0, 2.0, 3.0, 4.0),
    families: Sequence[str] = ("power", "log", "conservative"),
) -> QueueFit:
    """Fit the probabilistic queue model to the exact FIFO queue of order-level data.

    Candidates: the power family at each of ``powers``, the log family, and the conservative model as
    a reference (``family = "conservative"`` may win: then use it).

    ``config`` must use ``strategy.name = "script"``; ``script`` holds the probe orders (typically
    passive orders at the touch with a cancel after a fixed lifetime).
    """
    if config.strategy.name != "script":
        raise ConfigError("fit_queue_model: config.strategy.name must be 'script' (probe orders)")
    if not (deltas["order_id"] != 0).any():
        raise ConfigError("fit_queue_model: needs order-level data (order_id in BOOK_DELTAS)")
    ex = config.execution
    truth = _filled(
        run_backtest(deltas, trades, instrument=instrument, script=script,
                     config=config.model_copy(update={"execution": ex.model_copy(update={"queue": "fifo"})}))
    )  # fmt: skip
    l2 = deltas.with_columns(pl.lit(0, dtype=pl.UInt64).alias("order_id"))
    rows = []
    for fam in families:
        for p in powers if fam == "power" else (1.0,):
            queue = "conservative" if fam == "conservative" else "probabilistic"
            cfg = config.model_copy(
                update={
                    "execution": ex.model_copy(update={"queue": queue, "queue_power": p}),
                    "queue_family": "log" if fam == "log" else "power",
                    "trade_source": "executes",
                }
            )
            got = _filled(run_backtest(l2, trades, instrument=instrument, config=cfg, script=script))
            rmse = float(np.sqrt(np.mean((got - truth) ** 2))) if truth.size else 0.0
            rows.append({"family": fam, "power": float(p), "rmse": rmse, "filled_total": float(got.sum())})
    table = pl.DataFrame(rows).sort("rmse")
    best = table.row(0, named=True)
    table = table.with_columns(pl.lit(float(truth.sum())).alias("fifo_filled_total"))
    return QueueFit(best["family"], best["power"], best["rmse"], table)


__all__ = ["QueueFit", "fit_queue_model"]
