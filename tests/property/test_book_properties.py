"""Property tests of the L2 engine against a straightforward dict-based reference book."""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderflow.book import L2Book
from orderflow.core.enums import UNDEF_PRICE, BookAction, Flags
from orderflow.core.schema import BOOK_DELTAS

ADD, RED, EXE, SET, CLR = (
    int(a) for a in (BookAction.ADD, BookAction.REDUCE, BookAction.EXECUTE, BookAction.SET, BookAction.CLEAR)
)
LAST, SNAP = int(Flags.LAST), int(Flags.SNAPSHOT)
DEPTH = 3
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class RefBook:
    """The obvious implementation: one dict price -> size per side."""

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}

    def apply(self, side: int, action: int, price: int, size: int) -> None:
        if action == CLR:
            if side in (0, 1):
                self.bids.clear()
            if side in (0, -1):
                self.asks.clear()
            return
        book = self.bids if side == 1 else self.asks
        if action == ADD:
            if size > 0:
                book[price] = book.get(price, 0) + size
        elif action in (RED, EXE):
            if price in book:
                left = book[price] - size
                if left > 0:
                    book[price] = left
                else:
                    del book[price]
        elif action == SET:
            if size > 0:
                book[price] = size
            else:
                book.pop(price, None)

    def top(self, depth: int) -> tuple[Any, ...]:
        b = sorted(self.bids.items(), reverse=True)[:depth]
        a = sorted(self.asks.items())[:depth]
        b += [(UNDEF_PRICE, 0)] * (depth - len(b))
        a += [(UNDEF_PRICE, 0)] * (depth - len(a))
        return (*[p for p, _ in b], *[s for _, s in b], *[p for p, _ in a], *[s for _, s in a])


def frame(rows: list[tuple[int, int, int, int, int, int]]) -> pl.DataFrame:
    """Rows ``(seq, side, action, price, size, flags)``."""
    names = ("seq", "side", "action", "price", "size", "flags")
    cols: dict[str, list[int]] = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    cols["ts_event"] = [r[0] * 1000 for r in rows]
    cols["ts_recv"] = cols["ts_event"]
    cols["order_id"] = [0] * len(rows)
    return pl.DataFrame(cols, schema=BOOK_DELTAS.polars_schema()).select(BOOK_DELTAS.names)


@st.composite
def streams(
    draw: st.DrawFn, clean: bool
) -> tuple[list[tuple[int, int, int, int, int, int]], list[tuple[Any, ...]]]:
    """A delta stream and the reference top-DEPTH after each event.

    ``clean``: prices are drawn against the reference book so that no row ever crosses it
    (bids below the best ask, asks above the best bid). Otherwise anything goes (crossing,
    over-reductions, reductions of missing levels, clears).
    """
    base = draw(st.integers(-(2**62), 2**62))
    tick = draw(st.sampled_from([1, 7, 10_000_000]))
    ref = RefBook()
    rows: list[tuple[int, int, int, int, int, int]] = []
    tops: list[tuple[Any, ...]] = []
    for seq in range(1, draw(st.integers(1, 40)) + 1):
        k = draw(st.integers(1, 3))
        for j in range(k):
            side = draw(st.sampled_from([1, -1]))
            action = draw(
                st.sampled_from(
                    [ADD, ADD, ADD, RED, EXE, SET, SET, CLR]
                    if not clean
                    else [ADD, ADD, ADD, RED, EXE, SET, SET]
                )
            )
            book = ref.bids if side == 1 else ref.asks
            if action in (RED, EXE) and book and draw(st.booleans()):
                price = draw(st.sampled_from(sorted(book)))
            elif clean:
                bb = max(ref.bids) if ref.bids else None
                ba = min(ref.asks) if ref.asks else None
                if side == 1:
                    hi = ba - tick if ba is not None else base + 20 * tick
                    price = hi - tick * draw(st.integers(0, 12))
                else:
                    lo = bb + tick if bb is not None else base - 20 * tick
                    price = lo + tick * draw(st.integers(0, 12))
            else:
                price = base + tick * draw(st.integers(-10, 10))
            size = draw(st.integers(0, 30))
            if action == CLR:
                side = draw(st.sampled_from([1, -1, 0]))
            ref.apply(side, action, price, size)
            rows.append((seq, side, action, price, size, LAST if j == k - 1 else 0))
        tops.append(ref.top(DEPTH))
    return rows, tops


def levels(df: pl.DataFrame) -> list[tuple[Any, ...]]:
    return list(df.drop(["ts_event", "ts_recv", "seq"]).iter_rows())


@SETTINGS
@given(streams(clean=True))
def test_clean_stream_never_crosses(s: Any) -> None:
    rows, _ = s
    book = L2Book(depth=1)
    out = book.process(frame(rows))
    both = out.filter((pl.col("bid_px_00") != UNDEF_PRICE) & (pl.col("ask_px_00") != UNDEF_PRICE))
    assert (both["bid_px_00"] < both["ask_px_00"]).all()
    assert book.stats.crossed_events == 0 and book.stats.locked_events == 0


@SETTINGS
@given(st.booleans().flatmap(lambda c: streams(clean=c)))
def test_engine_agrees_with_reference(s: Any) -> None:
    rows, tops = s
    out = L2Book(depth=DEPTH, capacity=2).process(frame(rows))
    assert levels(out) == tops


@SETTINGS
@given(streams(clean=False), st.data())
def test_snapshot_then_rest_equals_full_stream(s: Any, data: st.DataObject) -> None:
    rows, tops = s
    seqs = sorted({r[0] for r in rows})
    cut = data.draw(st.sampled_from(seqs))
    ref = RefBook()
    for r in rows:
        if r[0] <= cut:
            ref.apply(r[1], r[2], r[3], r[4])
    snap: list[tuple[int, int, int, int, int, int]] = [(cut, 0, CLR, 0, 0, SNAP)]
    snap += [(cut, 1, SET, p, q, SNAP) for p, q in ref.bids.items()]
    snap += [(cut, -1, SET, p, q, SNAP) for p, q in ref.asks.items()]
    snap[-1] = (*snap[-1][:5], SNAP | LAST)
    rest = [r for r in rows if r[0] > cut]
    full = L2Book(depth=DEPTH).process(frame(rows)).filter(pl.col("seq") >= cut)
    resumed = L2Book(depth=DEPTH).process(frame(snap + rest))
    assert resumed["seq"].to_list() == full["seq"].to_list()
    assert levels(resumed) == levels(full)
    assert levels(resumed) == tops[seqs.index(cut) :]
