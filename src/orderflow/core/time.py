"""Time helpers. Everything inside the system is int64 ns since the epoch, UTC."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
NS_PER_US = 1_000

_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|min|h)?\s*$")
_UNITS = {
    "ns": 1,
    "us": NS_PER_US,
    "µs": NS_PER_US,
    "ms": NS_PER_MS,
    "s": NS_PER_S,
    "m": 60 * NS_PER_S,
    "min": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
}


def parse_duration_ns(text: str | int) -> int:
    """'10s', '250ms', '5us', '1m', '100' (ns) -> int ns."""
    if isinstance(text, int):
        return text
    m = _DUR.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 10s, 1m)")
    value, unit = m.groups()
    return round(float(value) * _UNITS[unit or "ns"])


def local_midnight_ns(date: dt.date | str, tz: str = "UTC") -> int:
    """UTC ns of local midnight of ``date`` in time zone ``tz``."""
    d = dt.date.fromisoformat(date) if isinstance(date, str) else date
    local = dt.datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz))
    return int(local.timestamp()) * NS_PER_S


def ns_to_date(ts_ns: int, tz: str = "UTC") -> dt.date:
    """Local calendar date of a UTC ns timestamp."""
    return dt.datetime.fromtimestamp(ts_ns / NS_PER_S, tz=ZoneInfo(tz)).date()


def ns_to_iso(ts_ns: int) -> str:
    """UTC ISO-8601 with nanoseconds."""
    sec, ns = divmod(ts_ns, NS_PER_S)
    base = dt.datetime.fromtimestamp(sec, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{ns:09d}Z"


__all__ = [
    "NS_PER_MS",
    "NS_PER_S",
    "NS_PER_US",
    "local_midnight_ns",
    "ns_to_date",
    "ns_to_iso",
    "parse_duration_ns",
]
