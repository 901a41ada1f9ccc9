"""Execution-aware backtest: an event-driven numba loop over BOOK_DELTAS + TRADES with two clocks.

The exchange applies market events at ``ts_event`` and our orders when they arrive (entry latency);
the strategy sees the market through feed latency and its fills through response latency. Marketable
orders walk the displayed book and consume it (per-level consumed size until the feed removes it);
passive orders sit in a queue (conservative, probabilistic power/log, or exact FIFO on order-level data).
Results: ORDERS, FILLS, EQUITY tables, markouts, PnL attribution, per-regime metrics, plots.

Main entry points: :class:`BacktestConfig`, :func:`run_backtest`, :class:`BacktestEngine`.
"""

from __future__ import annotations

from orderflow.backtest.config import (
    BacktestConfig,
    FeedLatencyDistribution,
    LimitsConfig,
    StrategyConfig,
    load_backtest_config,
)
from orderflow.backtest.engine import SCRIPT_COLUMNS, BacktestEngine, iter_chunks, run_backtest
from orderflow.backtest.fit import QueueFit, fit_queue_model
from orderflow.backtest.results import BacktestResult

__all__ = [
    "SCRIPT_COLUMNS",
    "BacktestConfig",
    "BacktestEngine",
    "BacktestResult",
    "FeedLatencyDistribution",
    "LimitsConfig",
    "QueueFit",
    "StrategyConfig",
    "fit_queue_model",
    "iter_chunks",
    "load_backtest_config",
    "run_backtest",
]
