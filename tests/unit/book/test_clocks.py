"""Sampling clocks: parsing and hand-worked schedules."""

from __future__ import annotations

import polars as pl
import pytest
from pydantic import ValidationError

from orderflow.book import ClockSpec, L2Book
from orderflow.core.enums import UNDEF_PRICE, BookAction, Flags
from orderflow.core.errors import ConfigError
from orderflow.core.schema import BOOK_DELTAS, TRADES

ADD, RED, EXE = int(BookAction.ADD), int(BookAction.REDUCE), int(BookAction.EXECUTE)
LAST = int(Flags.LAST)


def deltas(rows: list[tuple[int, int, int, int, int, int, int]]) -> pl.DataFrame:
    """Rows ``(seq, ts, side, action, price, size, flags)``."""
    names = ("seq", "ts_event", "side", "action", "price", "size", "flags")
    cols = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    cols["ts_recv"] = cols["ts_event"]
    cols["order_id"] = [0] * len(rows)
    return pl.DataFrame(cols, schema=BOOK_DELTAS.polars_schema()).select(BOOK_DELTAS.names)


def trades(rows: list[tuple[int, int, int]]) -> pl.DataFrame:
    """Rows ``(seq, ts, size)``."""
    n = len(rows)
    return pl.DataFrame(
        {
            "ts_event": [r[1] for r in rows],
            "ts_recv": [r[1] for r in rows],
            "seq": [r[0] for r in rows],
            "price": [100] * n,
            "size": [r[2] for r in rows],
            "aggressor": [-1] * n,
            "kind": [0] * n,
            "trade_id": [0] * n,
            "order_id": [0] * n,
            "flags": [LAST] * n,
        },
        schema=TRADES.polars_schema(),
    )


@pytest.mark.parametrize(
    ("text", "kind", "every"),
    [
        ("event", "event", 1),
        ("events:10", "events", 10),
        ("time:1s", "time", 10**9),
        ("time:250ms", "time", 250 * 10**6),
        ("time:500", "time", 500),
        ("volume:1000", "volume", 1000),
        ("volume:1_000", "volume", 1000),
        ("trade", "trade", 1),
        (" Events : 3 ", "events", 3),
    ],
)
def test_parse(text: str, kind: str, every: int) -> None:
    c = ClockSpec.parse(text)
    assert (c.kind, c.every) == (kind, every)
    assert ClockSpec.parse(str(c)) == c


@pytest.mark.parametrize(
    "text", ["tick", "events", "events:0", "events:x", "time:fast", "trade:2", "volume:-5", ""]
)
def test_parse_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="clock"):
        ClockSpec.parse(text)


def test_model_is_frozen_and_strict() -> None:
    with pytest.raises(ValidationError):
        ClockSpec(kind="events", every=0)
    with pytest.raises(ValidationError):
        ClockSpec(kind="event", step=3)  # type: ignore[call-arg]
    c = ClockSpec()
    with pytest.raises(ValidationError):
        c.every = 5  # type: ignore[misc]


def _five() -> pl.DataFrame:
    return deltas([(s, s * 10, 1, ADD, 100 + s, 1, LAST) for s in range(1, 6)])


def test_events_clock_every_k() -> None:
    out = L2Book(depth=1, clock=ClockSpec.parse("events:2")).process(_five())
    assert out["seq"].to_list() == [2, 4]
    assert out["bid_px_00"].to_list() == [102, 104]


def test_time_grid_inclusive_with_empty_intervals() -> None:
    # grid every 1000 ns, anchored at the first grid time >= the first event (2000)
    d = deltas(
        [
            (1, 1500, 1, ADD, 100, 1, LAST),
            (2, 1800, 1, ADD, 101, 1, LAST),
            (3, 2000, 1, ADD, 102, 1, 0),  # two-row event at exactly the grid time: belongs to g = 2000
            (3, 2000, -1, ADD, 110, 4, LAST),
            (
                4,
                4500,
                1,
                ADD,
                103,
                1,
                LAST,
            ),  # proves 2000, 3000 and 4000 are over; 3000/4000 are empty intervals
            (5, 4600, 1, ADD, 104, 1, LAST),
        ]
    )
    out = L2Book(depth=1, clock=ClockSpec.parse("time:1000")).process(d)
    assert out["ts_event"].to_list() == [2000, 3000, 4000]
    assert out["ts_recv"].to_list() == [2000, 3000, 4000]
    assert out["seq"].to_list() == [3, 3, 3]
    assert out["bid_px_00"].to_list() == [102, 102, 102]
    assert out["ask_px_00"].to_list() == [110, 110, 110]


def test_time_grid_is_causal_across_chunks() -> None:
    book = L2Book(depth=1, clock=ClockSpec.parse("time:1000"))
    a = book.process(deltas([(1, 1000, 1, ADD, 100, 1, LAST), (2, 1999, 1, ADD, 101, 1, LAST)]))
    assert a["ts_event"].to_list() == [1000]  # the first event sits on the grid; 2000 not yet proven over
    assert a["bid_px_00"].to_list() == [100]
    b = book.process(deltas([(3, 2001, 1, ADD, 102, 1, LAST)]))
    assert b["ts_event"].to_list() == [2000]
    assert b["bid_px_00"].to_list() == [101]


def test_volume_clock_from_executes() -> None:
    d = deltas(
        [
            (1, 1, 1, ADD, 100, 100, LAST),
            (2, 2, 1, EXE, 100, 4, LAST),  # cum 4
            (3, 3, 1, EXE, 100, 5, LAST),  # cum 9
            (4, 4, 1, RED, 100, 50, LAST),  # cancels do not count
            (5, 5, 1, EXE, 100, 3, LAST),  # cum 12: bucket [0, 10) done
            (6, 6, 1, EXE, 100, 30, LAST),  # cum 42: completes 3 buckets at once -> one row
            (7, 7, 1, EXE, 100, 7, LAST),  # cum 49
            (8, 8, 1, EXE, 100, 1, LAST),  # cum 50: exactly completes [40, 50)
        ]
    )
    book = L2Book(depth=1, clock=ClockSpec.parse("volume:10"))
    out = book.process(d)
    assert out["seq"].to_list() == [5, 6, 8]
    assert out["bid_sz_00"].to_list() == [38, 8, 0]
    assert out["bid_px_00"].to_list() == [100, 100, UNDEF_PRICE]


def test_volume_and_trade_clocks_from_trades_merged_by_seq() -> None:
    d = deltas(
        [
            (1, 10, 1, ADD, 100, 50, LAST),
            (2, 20, 1, EXE, 100, 6, LAST),
            (4, 40, 1, ADD, 99, 5, 0),
            (4, 40, 1, EXE, 100, 4, LAST),
            (5, 50, 1, ADD, 98, 1, LAST),
        ]
    )
    # seq 2: one print of 6; seq 3: hidden execution (no delta) of 5; seq 4: two prints; seq 6 after all deltas
    t = trades([(2, 20, 6), (3, 30, 5), (4, 40, 1), (4, 40, 3), (6, 60, 9)])
    vol = L2Book(depth=1, clock=ClockSpec.parse("volume:10")).process(d, t)
    assert vol["seq"].to_list() == [3, 6]  # cum 6, 11 (trade-only event 3), 15, 24 (seq 6)
    assert vol["ts_event"].to_list() == [30, 60]
    assert vol["bid_sz_00"].to_list() == [44, 40]
    tr = L2Book(depth=1, clock=ClockSpec.parse("trade")).process(d, t)
    assert tr["seq"].to_list() == [2, 3, 4, 6]
    # without trades the trade clock follows EXECUTE deltas
    ex = L2Book(depth=1, clock=ClockSpec.parse("trade")).process(d)
    assert ex["seq"].to_list() == [2, 4]
    # trades do not change the event clock
    ev = L2Book(depth=1).process(d, t)
    assert ev["seq"].to_list() == [1, 2, 4, 5]


def test_flush_emits_pending_grid_times_after_the_stream_ends() -> None:
    book = L2Book(depth=1, clock=ClockSpec.parse("time:1000"))
    out = book.process(deltas([(1, 1500, 1, ADD, 100, 1, LAST), (2, 2500, 1, ADD, 101, 2, LAST)]))
    assert out["ts_event"].to_list() == [2000]
    tail = book.flush(5000)
    assert tail["ts_event"].to_list() == [3000, 4000, 5000]
    assert tail["seq"].to_list() == [2, 2, 2]
    assert tail["bid_px_00"].to_list() == [101] * 3 and tail["bid_sz_00"].to_list() == [2] * 3
    assert book.flush(5999).height == 0  # nothing pending until 6000
    assert book.stats.snapshots == 4
    assert L2Book(clock=ClockSpec.parse("events:2")).flush(10**12).height == 0
