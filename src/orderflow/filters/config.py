"""Configuration of the filtration layer: one frozen sub-model per rule.

Every rule has ``enabled`` and ``action`` (what downstream stages do with a flagged event:
``drop`` = left out of features and labels, ``downweight`` = kept with a reduced weight, ``mark`` =
only reported) plus its documented thresholds. ``FilterConfig.disable("duplicate", ...)`` returns a
copy with rules switched off, for ablation runs.

TOML form (a top-level ``[filters]`` table is accepted too)::

    [message_storm]
    min_messages = 10
    window_us = 50

    [session]
    first_minutes = 5
    last_minutes = 5
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orderflow.core.errors import ConfigError

Action = Literal["drop", "downweight", "mark"]


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True


class StaleQuoteConfig(_Rule):
    """Stale quotes: one side receives no update while the other side or trades move.

    A side is *stale* at an event when its last update is at least ``min_age_ms`` old and, since
    then, the other side was updated in at least ``min_other_updates`` messages or at least
    ``min_unmatched_trades`` regular trades hit the side without the side's levels changing in the
    same message (a trade against a quote the feed never updated). Events seen while a side is stale
    get reason ``stale_side`` (``action``); the message that finally updates the stale side gets reason
    ``catch_up`` (``catch_up_action``). With ``heartbeat_ms`` set, any event at which a side's last
    update is older than the venue heartbeat gets reason ``heartbeat`` (``action``).
    """

    action: Action = "downweight"
    catch_up_action: Action = "mark"
    min_age_ms: float = Field(200.0, gt=0, description="minimum age of the stale side, ms")
    min_other_updates: int = Field(
        40, ge=1, description="messages updating the other side since the stale side's last update"
    )
    min_unmatched_trades: int = Field(
        1, ge=1, description="regular trades hitting the side without a level update in the same message"
    )
    heartbeat_ms: float | None = Field(
        None, gt=0, description="venue heartbeat: a side older than this is stale (None: off)"
    )


class CrossedBookConfig(_Rule):
    """Crossed book: best bid > best ask after the event (both sides present).

    Reason ``auction`` before the session's first regular trade or during a STATUS auction,
    ``halt`` during a STATUS halt, otherwise ``feed_glitch``.
    """

    action: Action = "drop"


class LockedBookConfig(_Rule):
    """Locked book: best bid == best ask after the event; reasons as :class:`CrossedBookConfig`."""

    action: Action = "drop"


class MessageStormConfig(_Rule):
    """Message storm: at least ``min_messages`` messages (seqs) within ``window_us`` microseconds.

    Every message of such a window is flagged (reason ``storm``). The default (10 in 50 us) is far
    beyond what equity feeds sustain outside bursts (LOBSTER AMZN peaks at a few messages per ms).
    """

    action: Action = "drop"
    min_messages: int = Field(10, ge=2, description="messages in the window (inclusive)")
    window_us: float = Field(50.0, gt=0, description="window length, microseconds (closed)")


class FlickerConfig(_Rule):
    """Add/cancel flicker at one price: the level size goes q -> q+s -> q -> q+s ... (or ADD s /
    REDUCE s) with each flip at most ``window_us`` after the previous one.

    A run of at least ``min_flips`` consecutive flips at the same (side, price) is flagged, all of its
    rows including the first add (reason ``flicker``). EXECUTE rows and snapshot rows never flip.
    """

    action: Action = "drop"
    window_us: float = Field(1000.0, gt=0, description="max time between consecutive flips, us")
    min_flips: int = Field(3, ge=1, description="consecutive size reversals (one flip = one reversal)")


class QuoteStuffingConfig(_Rule):
    """Quote stuffing: message-to-trade ratio spike over a trailing window.

    At each message, over the trailing window (t - window_ms, t]: flagged (reason ``stuffing``) when
    there are at least ``min_messages`` messages and messages / (trades + 1) >= ``min_ratio``.
    Causal: only past and current messages count.
    """

    action: Action = "downweight"
    window_ms: float = Field(10.0, gt=0, description="trailing window, ms")
    min_messages: int = Field(10, ge=1, description="messages in the window")
    min_ratio: float = Field(10.0, gt=0, description="messages / (trades + 1) in the window")


class DuplicateConfig(_Rule):
    """Duplicate: a message whose rows (deltas: side, action, price, size, order_id; trades: price, size,
    aggressor, order_id) and ``ts_event`` equal those of one of the previous ``max_lag`` messages
    (reason ``duplicate``). Only the later copy is flagged; snapshot rows are never duplicates.

    With ``skip_hidden`` (default) a message made only of non-regular trades (hidden, cross) is never a
    duplicate: such prints carry no order id, and one aggressor hitting several equal hidden orders in
    the same nanosecond prints identical rows (LOBSTER AMZN 2012-06-21 has 48 such prints).
    """

    action: Action = "drop"
    max_lag: int = Field(8, ge=1, description="how many previous messages to compare with")
    skip_hidden: bool = True


class LowInfoConfig(_Rule):
    """Low-information events (events with trades are never low-information).

    Reasons: ``no_change`` (no level of the snapshot changed), ``beyond_top_k`` (the top ``top_k``
    levels are unchanged, deeper snapshot levels changed), ``odd_lot`` (an ADD/REDUCE/EXECUTE row or a
    trade whose size is not a multiple of ``round_lot`` size units; ``odd_lot_action``; off when
    ``round_lot`` is None, e.g. 100 for US equities in shares).
    """

    action: Action = "mark"
    top_k: int = Field(5, ge=1, description="levels per side that carry information")
    round_lot: int | None = Field(None, ge=1, description="round lot in size units (None: no odd-lot rule)")
    odd_lot_action: Action = "mark"


class SessionConfig(_Rule):
    """Session rules in the instrument's local time zone.

    Reasons: ``halt`` (STATUS halt until trading resumes; ``halt_action``), ``auction`` (STATUS auction
    until open/resume, or cross/auction trades; ``halt_action``), ``pre_open`` / ``post_close``
    (outside ``open_time``-``close_time``), ``opening_minutes`` (first ``first_minutes`` after
    the open), ``closing_minutes`` (last ``last_minutes`` before the close). ``open_time = None``
    (24h markets) switches the clock rules off; STATUS rules still apply.
    """

    action: Action = "mark"
    halt_action: Action = "drop"
    open_time: dt.time | None = dt.time(9, 30)
    close_time: dt.time | None = dt.time(16, 0)
    first_minutes: float = Field(5.0, ge=0, description="minutes after the open flagged")
    last_minutes: float = Field(5.0, ge=0, description="minutes before the close flagged")


class PluginRuleConfig(BaseModel):
    """A third-party rule: ``rule`` is a name in :data:`orderflow.filters.rules.FILTERS` or a
    ``"package.module:function"`` path. The function is called as ``fn(view, cfg)`` with the partition's
    :class:`~orderflow.filters.rules.EventView` and this model (``cfg.params`` holds its thresholds)
    and returns a list of :class:`~orderflow.filters.rules.RuleMask`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    enabled: bool = True
    action: Action = "mark"
    params: dict[str, Any] = Field(default_factory=dict)


RULES = (
    "stale_quote",
    "crossed_book",
    "locked_book",
    "message_storm",
    "flicker",
    "quote_stuffing",
    "duplicate",
    "low_info",
    "session",
)
"""Rule names in evaluation order (also the QC ``rule`` values)."""


class FilterConfig(BaseModel):
    """All filter rules (see each sub-model for its thresholds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stale_quote: StaleQuoteConfig = StaleQuoteConfig()
    crossed_book: CrossedBookConfig = CrossedBookConfig()
    locked_book: LockedBookConfig = LockedBookConfig()
    message_storm: MessageStormConfig = MessageStormConfig()
    flicker: FlickerConfig = FlickerConfig()
    quote_stuffing: QuoteStuffingConfig = QuoteStuffingConfig()
    duplicate: DuplicateConfig = DuplicateConfig()
    low_info: LowInfoConfig = LowInfoConfig()
    session: SessionConfig = SessionConfig()
    plugins: list[PluginRuleConfig] = Field(default_factory=list)
    """Extra rules by registry name or ``module:function`` path (``[[plugins]]`` tables in TOML)."""

    def enabled_rules(self) -> list[str]:
        return [r for r in RULES if getattr(self, r).enabled]

    def disable(self, *rules: str) -> FilterConfig:
        """A copy with ``rules`` switched off (ablation); unknown names raise :class:`ConfigError`.

        Plug-in rules are switched off by their ``rule`` value.
        """
        upd: dict[str, Any] = {}
        plugins = list(self.plugins)
        known = [*RULES, *(p.rule for p in plugins)]
        for r in rules:
            if r in RULES:
                upd[r] = getattr(self, r).model_copy(update={"enabled": False})
            elif any(p.rule == r for p in plugins):
                plugins = [p.model_copy(update={"enabled": False}) if p.rule == r else p for p in plugins]
            else:
                raise ConfigError(f"filters: unknown rule '{r}' (known: {', '.join(known)})")
        upd["plugins"] = plugins
        return self.model_copy(update=upd)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, where: str = "filters") -> FilterConfig:
        """Validate a mapping; errors name the key path (``filters.message_storm.window_us``)."""
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            msgs = []
            for err in e.errors():
                path = ".".join(str(p) for p in (where, *err["loc"]))
                msgs.append(f"{path}: {err['msg']}")
            raise ConfigError("; ".join(msgs)) from None

    @classmethod
    def from_toml(cls, path: str | Path) -> FilterConfig:
        """Load from a TOML file (rule tables at top level or under ``[filters]``)."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{p}: config file not found") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p}: invalid TOML ({e})") from None
        if "filters" in data and isinstance(data["filters"], dict):
            data = data["filters"]
        return cls.from_mapping(data, where=f"{p.name}:filters")


__all__ = [
    "RULES",
    "Action",
    "CrossedBookConfig",
    "DuplicateConfig",
    "FilterConfig",
    "FlickerConfig",
    "LockedBookConfig",
    "LowInfoConfig",
    "MessageStormConfig",
    "PluginRuleConfig",
    "QuoteStuffingConfig",
    "SessionConfig",
    "StaleQuoteConfig",
]
