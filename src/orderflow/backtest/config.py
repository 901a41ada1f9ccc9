"""Backtest configuration: one frozen pydantic model, loadable from the ``[backtest]`` section of a TOML."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orderflow.core.errors import ConfigError
from orderflow.core.execution import ExecutionModel

STRATEGY_NAMES = ("none", "quantile_taker", "market_maker", "script")

TAKER_DEFAULTS: dict[str, float] = {
    "long_entry": 0.0,
    "long_exit": 0.0,
    "short_entry": 0.0,
    "short_exit": 0.0,
    "max_position": 0.0,  # instrument units; 0: execution.order_size
    "order_size": 0.0,  # instrument units; 0: execution.order_size
    "ioc_slip_ticks": -1.0,  # < 0: market orders
    "max_prediction_age_ns": 0.0,
}
MM_DEFAULTS: dict[str, float] = {
    "half_spread_ticks": 1.0,
    "skew_ticks": 1.0,
    "order_size": 0.0,  # instrument units; 0: execution.order_size
    "max_position": 0.0,  # instrument units; 0: 5 x order_size
    "requote_ticks": 1.0,
    "use_modify": 1.0,
}


class StrategyConfig(BaseModel):
    """Which built-in strategy runs and its parameters (see :mod:`orderflow.backtest.strategies`).

    ``quantile_taker`` reads two PREDICTIONS columns, ``prediction_columns = (low, high)``; a prediction
    becomes visible to the strategy when it has seen the event of the prediction's ``seq`` (feed
    latency applies) plus ``prediction_delay_ns`` of compute time.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Literal["none", "quantile_taker", "market_maker", "script"] = "market_maker"
    params: dict[str, float] = Field(default_factory=dict)
    prediction_columns: tuple[str, str] = ("q_05", "q_95")
    prediction_delay_ns: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _known_params(self) -> StrategyConfig:
        known = {"quantile_taker": TAKER_DEFAULTS, "market_maker": MM_DEFAULTS}.get(self.name)
        if known is not None:
            bad = sorted(set(self.params) - set(known))
            if bad:
                raise ValueError(
                    f"unknown parameter(s) {bad} for strategy '{self.name}' (known: {sorted(known)})"
                )
        elif self.params:
            raise ValueError(f"strategy '{self.name}' takes no params")
        return self


class LimitsConfig(BaseModel):
    """Pre-trade risk limits, checked on the strategy side when an order is sent (0 = no limit).

    An order is rejected when its worst case (acknowledged position + same-side open orders + this
    order) breaks a limit, unless it reduces |position|.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_position: float = Field(0.0, ge=0, description="instrument units")
    max_notional: float = Field(0.0, ge=0, description="currency, at the exchange mid")
    max_orders_per_s: int = Field(0, ge=0, description="new orders per rolling second")
    max_live_orders: int = Field(64, ge=1, le=100_000)


class FeedLatencyDistribution(BaseModel):
    """Random feed latency: lognormal around ``median_ns``, optionally scaled by message rate.

    ``latency = median_ns * (1 + rate / rate_ref_per_s) * exp(sigma * z)``, ``z ~ N(0, 1)`` with a fixed
    seed, where ``rate`` is the number of events in the trailing ``rate_window_ns`` (busy markets,
    slower feed); ``regime_multipliers[k]`` further scales rows whose regime (as-of) is ``k``. The
    result is added to ``ts_event`` (plus ``execution.latency.feed_ns``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    median_ns: int = Field(..., ge=0)
    sigma: float = Field(0.5, ge=0)
    rate_ref_per_s: float = Field(0.0, ge=0, description="0: no rate dependence")
    rate_window_ns: int = Field(1_000_000, gt=0)
    regime_multipliers: tuple[float, ...] = ()
    seed: int = 0


class BacktestConfig(BaseModel):
    """Everything the backtest needs besides the data. Frozen; unknown keys fail at load time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    execution: ExecutionModel = ExecutionModel()
    strategy: StrategyConfig = StrategyConfig()
    limits: LimitsConfig = LimitsConfig()
    wake_interval_ns: int = Field(100_000_000, ge=0, description="strategy timer on its own clock; 0: none")
    every_event: bool = Field(False, description="also wake the strategy on every market event it sees")
    flatten_at_end: bool = True
    equity_interval_ns: int = Field(
        1_000_000_000, gt=0, description="EQUITY rows on this exchange-clock grid"
    )
    markout_horizons_ns: tuple[int, ...] = (100_000_000, 1_000_000_000, 5_000_000_000)
    queue_family: Literal["power", "log"] = "power"
    trade_source: Literal["auto", "trades", "executes"] = Field(
        "auto",
        description="what advances queues: TRADES rows, or EXECUTE deltas (auto: executes when the data has them)",
    )
    fill_model: Literal["book", "mid"] = Field(
        "book",
        description="book: walk the displayed book; mid: infinite size at mid (frictionless reference)",
    )
    feed_latency_distribution: FeedLatencyDistribution | None = None
    chunk_events: int = Field(1_000_000, ge=1)
    book_ticks: int = Field(
        1 << 16, ge=64, description="width of the tick-indexed book window (re-centred as needed)"
    )
    trading_seconds_per_year: float = Field(252 * 6.5 * 3600, gt=0, description="annualises the Sharpe ratio")
    plots_dir: str | None = None

    @model_validator(mode="after")
    def _check(self) -> BacktestConfig:
        if len(self.markout_horizons_ns) > 8:
            raise ValueError("at most 8 markout horizons")
        if any(h <= 0 for h in self.markout_horizons_ns):
            raise ValueError("markout horizons must be > 0 ns")
        if (
            self.wake_interval_ns == 0
            and not self.every_event
            and self.strategy.name not in ("none", "script")
        ):
            raise ValueError("the strategy never wakes: set wake_interval_ns > 0 or every_event = true")
        return self


def load_backtest_config(raw: dict[str, Any], *, where: str = "backtest") -> BacktestConfig:
    """Build a :class:`BacktestConfig` from a parsed TOML section; errors name the key path."""
    try:
        return BacktestConfig.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"[{where}] {loc}: {first['msg']}") from None


__all__ = [
    "MM_DEFAULTS",
    "STRATEGY_NAMES",
    "TAKER_DEFAULTS",
    "BacktestConfig",
    "FeedLatencyDistribution",
    "LimitsConfig",
    "StrategyConfig",
    "load_backtest_config",
]
