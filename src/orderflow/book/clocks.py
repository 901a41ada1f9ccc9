"""Sampling clocks for book snapshots.

A snapshot is only ever taken at an event boundary: after a BOOK_DELTAS row carrying
``Flags.LAST`` (the rows of one venue message share a ``seq``; the book is consistent only after
the last of them). Which boundaries are sampled is decided by the clock:

``event``
    after every event.
``events:k``
    after every k-th event (the k-th, 2k-th, ... event since the engine started).
``time:t`` (t a duration such as ``1s``, ``250ms`` or an integer of ns)
    on the absolute grid ``g = j * t`` ns since the epoch (UTC). For every grid time ``g`` at or
    after the first event, one row is emitted holding the book after the last event with
    ``ts_event <= g``; the row's ``ts_event`` and ``ts_recv`` are ``g`` and its ``seq`` is that
    event's seq. Grid times inside empty intervals repeat the unchanged book (one row per grid
    time). The row for ``g`` is written when the first row of an event with ``ts_event > g``
    arrives, i.e. as soon as the data proves the interval is over, which is causal: nothing after
    ``g`` is in it. Grid times after the last event of the stream are not emitted until the caller
    declares the stream over with :meth:`orderflow.book.L2Book.flush` (e.g. at the session close).
``volume:v``
    traded volume is accumulated per event (from TRADES rows merged by ``seq`` when trades are
    given, else from the sizes of EXECUTE deltas); a row is emitted after the event that completes
    a bucket of ``v`` cumulative volume (buckets are ``[j*v, (j+1)*v)`` of cumulative volume; an event
    completing several buckets at once emits one row). Trades whose seq has no book delta (e.g.
    hidden executions) count as their own event that leaves the book unchanged.
``trade``
    after every event that traded (trades given: an event whose seq has trades, or a trade-only
    event; no trades given: an event containing an EXECUTE delta). One row per event, however many
    prints it holds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from orderflow.book import _kernels as K
from orderflow.core.errors import ConfigError
from orderflow.core.time import parse_duration_ns

ClockKind = Literal["event", "events", "time", "volume", "trade"]

_KIND_CODES: dict[str, int] = {
    "event": K.CK_EVENT,
    "events": K.CK_EVENTS,
    "time": K.CK_TIME,
    "volume": K.CK_VOLUME,
    "trade": K.CK_TRADE,
}


class ClockSpec(BaseModel):
    """Which event boundaries produce a snapshot (see the module docstring for exact semantics).

    ``every`` is k for ``events``, ns for ``time``, size units for ``volume``; ignored for ``event``
    and ``trade``. Parse the CLI form with :meth:`parse`: ``event``, ``events:10``, ``time:1s``,
    ``time:250ms``, ``volume:1000``, ``trade``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ClockKind = "event"
    every: int = 1

    @model_validator(mode="after")
    def _check(self) -> ClockSpec:
        if self.every < 1:
            raise ValueError(f"clock '{self.kind}': every must be >= 1 (got {self.every})")
        return self

    @classmethod
    def parse(cls, text: str) -> ClockSpec:
        """Parse ``kind[:value]``; raises :class:`ConfigError` naming the rule on bad input."""
        raw = text.strip()
        kind, _, value = raw.partition(":")
        kind = kind.strip().lower()
        value = value.strip()
        if kind not in _KIND_CODES:
            raise ConfigError(
                f"clock '{text}': unknown kind '{kind}' (use event, events:K, time:1s, volume:V, trade)"
            )
        if kind in ("event", "trade"):
            if value:
                raise ConfigError(f"clock '{text}': '{kind}' takes no value")
            return cls(kind=kind)
        if not value:
            raise ConfigError(
                f"clock '{text}': '{kind}' needs a value, e.g. {kind}:{'1s' if kind == 'time' else 10}"
            )
        try:
            every = parse_duration_ns(value) if kind == "time" else int(value.replace("_", ""))
        except ValueError as e:
            raise ConfigError(f"clock '{text}': bad value '{value}' ({e})") from None
        if every < 1:
            raise ConfigError(f"clock '{text}': value must be >= 1 (got {every})")
        return cls(kind=kind, every=every)

    @property
    def code(self) -> int:
        """Kernel code (``_kernels.CK_*``)."""
        return _KIND_CODES[self.kind]

    @property
    def needs_trades(self) -> bool:
        """Whether TRADES rows change this clock's output (volume and trade clocks)."""
        return self.kind in ("volume", "trade")

    def __str__(self) -> str:
        """The :meth:`parse` form (durations in the largest exact unit: ``time:250ms``)."""
        if self.kind in ("event", "trade"):
            return self.kind
        if self.kind == "time":
            for unit, ns in (
                ("h", 3600 * 10**9),
                ("m", 60 * 10**9),
                ("s", 10**9),
                ("ms", 10**6),
                ("us", 10**3),
            ):
                if self.every % ns == 0:
                    return f"time:{self.every // ns}{unit}"
        return f"{self.kind}:{self.every}"


__all__ = ["ClockKind", "ClockSpec"]
