"""The execution model: one config section used by BOTH cost-aware labels and the backtest.

Latency, fees and the taker's order size live here so that a label's "executable return" and the
backtest's fills are computed under exactly the same assumptions.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LatencyModel(BaseModel):
    """Latencies in ns.

    ``feed``: exchange event -> strategy sees it. ``mode="measured"`` uses each row's
    ``ts_recv - ts_event`` (plus ``feed_ns`` as extra local delay) instead of the constant.
    ``entry``: strategy sends -> exchange receives, per action. ``response``: exchange -> strategy ack.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["constant", "measured"] = "constant"
    feed_ns: int = Field(0, ge=0)
    submit_ns: int = Field(0, ge=0)
    cancel_ns: int = Field(0, ge=0)
    modify_ns: int = Field(0, ge=0)
    response_ns: int = Field(0, ge=0)


class FeeModel(BaseModel):
    """Fees. bps are of notional; ``per_unit`` is per size unit (share/contract); negative = rebate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    maker_bps: float = 0.0
    taker_bps: float = 0.0
    maker_per_unit: float = 0.0
    taker_per_unit: float = 0.0
    min_fee: float = Field(
        0.0, ge=0.0, description="minimum fee per fill (currency), applied to positive fees"
    )

    def fee(self, notional: float, units: float, maker: bool) -> float:
        """Fee in currency for one fill of ``units`` at total ``notional``."""
        bps, per = (self.maker_bps, self.maker_per_unit) if maker else (self.taker_bps, self.taker_per_unit)
        f = abs(notional) * bps * 1e-4 + abs(units) * per
        if f > 0:
            f = max(f, self.min_fee)
        return f


class ExecutionModel(BaseModel):
    """Execution assumptions shared by labels (executable returns) and the backtest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    latency: LatencyModel = LatencyModel()
    fees: FeeModel = FeeModel()
    order_size: float = Field(
        1.0, gt=0, description="taker order size, in instrument units (shares, contracts, coins)"
    )
    size_kind: Literal["units", "notional"] = "units"
    queue: Literal["conservative", "probabilistic", "fifo"] = "probabilistic"
    queue_power: float = Field(2.0, gt=0, description="power-law exponent of the probabilistic queue model")

    @model_validator(mode="after")
    def _check(self) -> ExecutionModel:
        return self


__all__ = ["ExecutionModel", "FeeModel", "LatencyModel"]
