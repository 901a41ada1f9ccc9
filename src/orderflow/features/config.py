"""Feature configuration: which feature groups, on which clock, with which windows.

Loaded from TOML (the ``[features]`` table of a pipeline config, or a standalone file for
``orderflow features --config``). Unknown keys and bad values fail at load time with the key path.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orderflow.core.errors import ConfigError
from orderflow.core.time import parse_duration_ns

FEATURE_GROUPS: tuple[str, ...] = (
    "spread",
    "depth",
    "imbalance",
    "shape",
    "wmid",
    "microprice",
    "sweep",
    "ofi",
    "mlofi",
    "trade_flow",
    "intensity",
    "queue",
    "vpin",
    "kyle",
    "volatility",
)
"""Built-in feature groups, in output column order."""

DEFAULT_GROUPS: tuple[str, ...] = (
    "spread",
    "imbalance",
    "wmid",
    "ofi",
    "mlofi",
    "sweep",
    "queue",
    "volatility",
)

_CLOCK = re.compile(r"^(event|events|time|volume|trade)(?::(.+))?$")


@dataclass(frozen=True)
class Clock:
    """A parsed sampling clock.

    ``kind``: ``event`` (every book update), ``events`` (every ``every`` book updates), ``time``
    (every ``every`` ns), ``volume`` (every ``every`` size units traded), ``trade`` (every trade).
    """

    kind: Literal["event", "events", "time", "volume", "trade"]
    every: int = 1

    @classmethod
    def parse(cls, text: str) -> Clock:
        """``"event"``, ``"events:100"``, ``"time:1s"``, ``"volume:5000"``, ``"trade"``."""
        m = _CLOCK.match(text.strip())
        if not m:
            raise ConfigError(
                f"clock: cannot parse {text!r} (use event, events:100, time:1s, volume:5000, trade)"
            )
        kind, arg = m.group(1), m.group(2)
        if kind in ("event", "trade"):
            if arg is not None:
                raise ConfigError(f"clock: {kind!r} takes no argument (got {text!r})")
            return cls(kind, 1)  # type: ignore[arg-type]
        if arg is None:
            raise ConfigError(
                f"clock: {kind!r} needs an argument, e.g. {kind}:{'1s' if kind == 'time' else '100'}"
            )
        try:
            every = parse_duration_ns(arg) if kind == "time" else int(arg)
        except ValueError as e:
            raise ConfigError(f"clock: {e}") from None
        if every <= 0:
            raise ConfigError(f"clock: {text!r} must have a positive step")
        return cls(kind, every)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self.kind if self.kind in ("event", "trade") else f"{self.kind}:{self.every}"


class FeatureConfig(BaseModel):
    """Which features to compute and how.

    Sizes (``sweep_sizes``, ``vpin_bucket_volume``) are in the instrument's natural units
    (shares, contracts, coins), or in currency when ``sweep_unit = "notional"``. Windows counted
    in clock ticks are named ``*_ticks``; decay constants are durations (``"30s"``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    names: list[str] = Field(default_factory=lambda: list(DEFAULT_GROUPS))
    """Feature groups to compute (see ``FEATURE_GROUPS``), or registered plug-in names / ``module:func``."""
    levels: int = Field(5, ge=1, le=50)
    """Book levels used by depth, imbalance, shape and multi-level OFI (capped by the data's depth)."""
    sweep_sizes: list[float] = Field(default_factory=lambda: [100.0, 500.0, 1000.0])
    sweep_unit: Literal["size", "notional"] = "size"
    clock: str = "event"
    intensity_tau: str = "10s"
    """Decay time constant of the exponentially decayed arrival intensities and depletion rates."""
    queue_window_events: int = Field(100, ge=1)
    """Span (book updates) of the EWMA mean the touch size is compared with."""
    vol_window_ticks: int = Field(100, ge=2)
    """Rolling window (clock ticks) of realized volatility and bipower variation."""
    kyle_window_ticks: int = Field(100, ge=3)
    """Rolling window (clock ticks) of Kyle's lambda regression."""
    vpin_bucket_volume: float = Field(10_000.0, gt=0)
    vpin_n_buckets: int = Field(50, ge=1)
    vpin_sigma_tau_trades: int = Field(100, ge=2)
    """EWMA span (trades) of the price-change volatility used by bulk volume classification."""
    microprice_fit_window: str = "30min"
    """When no fitted MicropriceEstimator is given, fit one on the first window of the data;
    microprice is NaN inside that window (its warm-up), so no row sees its own future."""
    microprice_imbalance_buckets: int = Field(10, ge=2)
    microprice_max_spread_ticks: int = Field(3, ge=1)
    chunk_rows: int = Field(2_000_000, ge=1000)
    """Rows per chunk; state carries across chunks, so the result does not depend on it."""

    @field_validator("names")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("select at least one feature group")
        if len(set(v)) != len(v):
            raise ValueError(f"duplicate feature names in {v}")
        from orderflow.features.registry import FEATURES_REGISTRY

        for n in v:
            if n not in FEATURE_GROUPS and ":" not in n and n not in FEATURES_REGISTRY:
                known = ", ".join([*FEATURE_GROUPS, *FEATURES_REGISTRY.names()])
                raise ValueError(f"unknown feature group {n!r} (known: {known})")
        return v

    @field_validator("sweep_sizes")
    @classmethod
    def _sizes(cls, v: list[float]) -> list[float]:
        if any(q <= 0 for q in v):
            raise ValueError(f"sweep sizes must be > 0, got {v}")
        return v

    @field_validator("clock")
    @classmethod
    def _clock(cls, v: str) -> str:
        try:
            Clock.parse(v)
        except ConfigError as e:
            raise ValueError(str(e)) from None
        return v

    @field_validator("intensity_tau", "microprice_fit_window")
    @classmethod
    def _dur(cls, v: str) -> str:
        if parse_duration_ns(v) <= 0:
            raise ValueError(f"duration must be > 0, got {v!r}")
        return v

    @property
    def clock_spec(self) -> Clock:
        return Clock.parse(self.clock)

    @property
    def intensity_tau_ns(self) -> int:
        return parse_duration_ns(self.intensity_tau)

    @property
    def microprice_fit_window_ns(self) -> int:
        return parse_duration_ns(self.microprice_fit_window)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, where: str = "features") -> FeatureConfig:
        """Build from a mapping, turning validation errors into a ConfigError naming the key path."""
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            msgs = []
            for err in e.errors():
                loc = ".".join(str(p) for p in (where, *err["loc"]))
                msgs.append(f"{loc}: {err['msg']}")
            raise ConfigError("; ".join(msgs)) from None

    @classmethod
    def from_toml(cls, path: str | Path) -> FeatureConfig:
        """Load a TOML file: either a ``[features]`` table or top-level keys."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"{p}: {e}") from None
        section = data.get("features", data)
        if not isinstance(section, dict):
            raise ConfigError(f"{p}: [features] must be a table")
        return cls.from_mapping(section, where=f"{p.name}:features")


__all__ = ["DEFAULT_GROUPS", "FEATURE_GROUPS", "Clock", "FeatureConfig"]
