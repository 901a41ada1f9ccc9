"""Instrument metadata and exact price/size conversions."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict, field_validator

from orderflow.core.enums import PRICE_SCALE, UNDEF_PRICE
from orderflow.core.errors import DataFormatError


class Instrument(BaseModel):
    """What a dataset needs to know about an instrument.

    ``tick_size`` and ``size_unit`` are decimal strings so they stay exact. Sizes in every table
    are integer counts of ``size_unit`` (1 for shares/contracts; e.g. ``"0.00000001"`` for crypto).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    venue: str = ""
    tick_size: str = "0.01"
    size_unit: str = "1"
    currency: str = "USD"
    multiplier: str = "1"
    timezone: str = "UTC"
    """Exchange-local time zone (the trading date and session times are local)."""

    @field_validator("tick_size", "size_unit", "multiplier")
    @classmethod
    def _positive_decimal(cls, v: str) -> str:
        try:
            d = Decimal(v)
        except InvalidOperation:
            raise ValueError(f"not a decimal number: {v!r}") from None
        if d <= 0:
            raise ValueError(f"must be > 0, got {v}")
        return str(d)

    @property
    def tick_int(self) -> int:
        """Tick size in 1e-9 price units."""
        return int(Decimal(self.tick_size) * PRICE_SCALE)

    @property
    def size_unit_float(self) -> float:
        return float(Decimal(self.size_unit))


def price_to_int(text: str | Decimal | int | float, *, where: str = "") -> int:
    """Exact decimal price -> int64 1e-9 units. Floats are accepted only when exactly representable at 1e-9."""
    try:
        d = Decimal(text) if not isinstance(text, float) else Decimal(repr(text))
    except InvalidOperation:
        raise DataFormatError(
            f"price {text!r} is not a number{' (' + where + ')' if where else ''}"
        ) from None
    scaled = d * PRICE_SCALE
    if scaled != scaled.to_integral_value():
        raise DataFormatError(f"price {text!r} has more than 9 decimals{' (' + where + ')' if where else ''}")
    return int(scaled)


def size_to_int(text: str | Decimal | int, size_unit: str | Decimal) -> int:
    """Exact decimal quantity -> integer count of ``size_unit``."""
    q = Decimal(text) / Decimal(size_unit)
    if q != q.to_integral_value():
        raise DataFormatError(f"size {text!r} is not a multiple of size_unit {size_unit}")
    return int(q)


def price_to_float(p: int) -> float:
    """int64 1e-9 price -> float (NaN for UNDEF_PRICE). Only for features and reports."""
    return float("nan") if p == UNDEF_PRICE else p / PRICE_SCALE


def price_to_str(p: int) -> str:
    """int64 1e-9 price -> exact decimal string without trailing zeros."""
    if p == UNDEF_PRICE:
        return "UNDEF"
    d = (Decimal(p) / PRICE_SCALE).normalize()
    return f"{d:f}"


__all__ = ["Instrument", "price_to_float", "price_to_int", "price_to_str", "size_to_int"]
