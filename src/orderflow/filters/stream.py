"""Filters over a partition streamed in chunks: memory bounded by the chunk, not by the day.

:func:`apply_filters_stream` reads BOOK_DELTAS, TRADES and BOOK_SNAPSHOTS batch by batch, cuts them
into chunks at event (``seq``) boundaries and runs the rules chunk by chunk. Its QC rows and report
are those of :func:`~orderflow.filters.apply_filters` on the whole partition, row for row:

* the sequential rules carry their state from chunk to chunk: ``stale_quote`` (each side's last
  update and counters) and ``flicker`` (each price level's size, run and last change);
* the windowed rules see a tail of the previous chunk: each chunk's view starts far enough back for
  every rule's look-back (``message_storm`` and ``quote_stuffing`` windows, ``flicker`` runs,
  ``duplicate``'s lag), and an event is reported only once no later event can change its verdict
  (``message_storm`` marks the events of a window that fills up later, ``flicker`` the earlier rows
  of a run that completes later); the rest waits for the next chunk;
* the snapshot rules compare each row with the one before, which is carried;
* what depends on the whole partition is read in a first pass over the event columns: the first
  regular trade (crossed books before it are auctions) and the median event time (the session's
  local date).

Streaming needs event timestamps that never decrease along ``seq`` (windows are then spans of
consecutive events); a partition where they do, or a config with plug-in rules, is filtered whole.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import polars as pl

from orderflow.core.enums import TradeKind
from orderflow.core.instruments import Instrument
from orderflow.core.io import Dataset, SeqCursor
from orderflow.core.schema import BOOK_DELTAS, QC, TRADES, Schema, validate
from orderflow.core.time import NS_PER_MS, NS_PER_US
from orderflow.filters.apply import (
    SNAPSHOT_RULES,
    FilterResult,
    _join,
    _Part,
    _parts,
    _report,
    _snapshot_parts,
    apply_filters,
)
from orderflow.filters.config import RULES, FilterConfig
from orderflow.filters.rules import (
    _D_COLS,
    _T_COLS,
    INDEX_D_COLS,
    RULE_FUNCTIONS,
    ChunkCarry,
    EventView,
    RuleMask,
    _index,
    _sorted_cols,
    build_view,
)

Batches = Callable[[str, "list[str] | None"], "Iterator[pl.DataFrame] | None"]
"""``open(table, columns)``: a fresh iterator over the partition's batches of ``table``
("book_deltas", "trades" or "book_snapshots") in ``seq`` order, only ``columns`` when given; None
when the partition has no such table."""

BATCH_ROWS = 250_000
"""Rows per Parquet batch read by :func:`dataset_batches`."""

CHUNK_ROWS = 250_000
"""Delta rows per chunk (about 150,000 events of a typical feed)."""

_MAX = int(np.iinfo(np.int64).max)
_T = TypeVar("_T")
_EMPTY_SNAPSHOTS = pl.DataFrame(schema={"ts_event": pl.Int64, "ts_recv": pl.Int64, "seq": pl.Int64})
_INDEX_T_COLS = ("seq", "ts_event", "size", "aggressor", "kind")


class _Whole(Exception):
    """The partition cannot be streamed exactly (it is filtered whole)."""


def _open(open_: Batches, table: str, columns: list[str] | None) -> Iterator[pl.DataFrame]:
    it = open_(table, columns)
    if it is None:
        return iter(())
    return _checked(it, table)


def _checked(it: Iterator[pl.DataFrame], table: str) -> Iterator[pl.DataFrame]:
    last = None
    for b in it:
        if b.height == 0:
            continue
        if not b["seq"].is_sorted() or (last is not None and b["seq"][0] < last):
            raise _Whole(f"{table} not in seq order")
        last = b["seq"][-1]
        yield b


def _chunks(
    open_: Batches, rows: int, cols: tuple[list[str] | None, list[str] | None], snapshots: bool
) -> Iterator[tuple[pl.DataFrame | None, pl.DataFrame | None, pl.DataFrame | None, bool]]:
    """(deltas, trades, snapshots, last) chunks cut after the seq of about every ``rows``-th delta row
    (every row of a seq in one chunk); the last chunk takes what is left (it may be empty)."""
    d = SeqCursor(_open(open_, "book_deltas", cols[0]))
    t = SeqCursor(_open(open_, "trades", cols[1]))
    s = SeqCursor(_open(open_, "book_snapshots", None)) if snapshots else None
    while True:
        cut = d.next_seq(rows)
        last = cut is None
        hi = _MAX if cut is None else cut
        yield d.upto(hi), t.upto(hi), (s.upto(hi) if s is not None else None), last
        if last:
            return


def _prefetched(it: Iterator[_T]) -> Iterator[_T]:
    """``it`` produced one item ahead on a reader thread: reading and decoding the next chunk's
    Parquet batches (pyarrow releases the GIL) overlaps the rules on this one (numba releases it).
    An exception of the reader is raised here; closing this generator stops the reader."""
    q: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()
    end = object()

    def put(x: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for x in it:
                if not put(x):
                    return
            put(end)
        except BaseException as e:  # handed to the consumer, raised there
            put(_Raised(e))

    th = threading.Thread(target=run, name="orderflow-filters-reader", daemon=True)
    th.start()
    try:
        while True:
            x = q.get()
            if x is end:
                return
            if isinstance(x, _Raised):
                raise x.error
            yield x
    finally:
        stop.set()
        th.join()


@dataclasses.dataclass
class _Raised:
    error: BaseException


def _frame(parts: list[pl.DataFrame | None], schema: Schema, cols: tuple[str, ...]) -> pl.DataFrame:
    """The non-empty ``parts`` end to end (no copy), or an empty frame of ``schema``'s ``cols``."""
    got = [p for p in parts if p is not None and p.height]
    if not got:
        return schema.empty().select(cols)
    return pl.concat(got) if len(got) > 1 else got[0]


def _row(bounds: np.ndarray, i: int, total: int) -> int:
    """The first row of event ``i`` (``bounds`` = each event's first row), ``total`` past the last."""
    return int(bounds[i]) if i < bounds.shape[0] else total


def _event_times(open_: Batches, rows: int) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
    """Chunk by chunk: the chunk's trades (index columns) and its event times, as the event index
    defines them, reading only the columns the index needs."""
    cols = (list(INDEX_D_COLS), list(_INDEX_T_COLS))
    for d, t, _, _ in _prefetched(_chunks(open_, rows, cols, False)):
        t = _frame([t], TRADES, _INDEX_T_COLS)
        d = _frame([d], BOOK_DELTAS, INDEX_D_COLS)
        yield t, _index(_sorted_cols(d, INDEX_D_COLS), _sorted_cols(t, _INDEX_T_COLS))[3]


@dataclasses.dataclass
class _Facts:
    """What the rules need from the whole partition (first pass)."""

    events: int = 0
    first_trade_seq: int = _MAX
    session_ref: int | None = None


def _facts(open_: Batches, rows: int, need_median: bool) -> _Facts:
    """Event count, first regular trade, median event time; raises :class:`_Whole` when event times
    decrease along seq."""
    f = _Facts()
    prev = None
    for t, ts in _event_times(open_, rows):
        if f.first_trade_seq == _MAX and t.height:
            reg = t.filter(pl.col("kind") == TradeKind.REGULAR)
            if reg.height:
                f.first_trade_seq = int(reg["seq"][0])
        if ts.shape[0]:
            if (prev is not None and ts[0] < prev) or bool(np.any(ts[1:] < ts[:-1])):
                raise _Whole("event times decrease along seq")
            prev = int(ts[-1])
        f.events += int(ts.shape[0])
    if need_median and f.events:
        lo, hi = (f.events - 1) // 2, f.events // 2
        seen = 0
        picked: dict[int, int] = {}
        for _, ts in _event_times(open_, rows):
            for r in (lo, hi):
                if seen <= r < seen + ts.shape[0]:
                    picked[r] = int(ts[r - seen])
            seen += ts.shape[0]
            if hi in picked:
                break
        # the whole-partition rule takes np.median of the event times: the same float here
        f.session_ref = int(np.median(np.array([picked[lo], picked[hi]], np.int64)))
    return f


def _spans(config: FilterConfig) -> tuple[int, int, int]:
    """(look-ahead ns, look-back ns, look-back events) over the enabled windowed rules."""
    ahead = back = lag = 0
    if config.message_storm.enabled:
        w = round(config.message_storm.window_us * NS_PER_US)
        ahead, back = max(ahead, w), max(back, w)
    if config.quote_stuffing.enabled:
        back = max(back, round(config.quote_stuffing.window_ms * NS_PER_MS))
    if config.flicker.enabled:  # a run's earlier rows lie within min_flips windows of its last
        w = config.flicker.min_flips * round(config.flicker.window_us * NS_PER_US)
        ahead, back = max(ahead, w), max(back, w)
    if config.duplicate.enabled:
        lag = config.duplicate.max_lag
    return ahead + 1, back + 1, lag + 1


def _keep(m: RuleMask, view: EventView, lo: int, hi: int) -> RuleMask | None:
    """``m`` restricted to the events [lo, hi) of ``view`` (or their trade rows)."""
    idx = np.flatnonzero(m.mask)
    if m.index == "events":
        keep = (idx >= lo) & (idx < hi)
    elif m.index == "trades":
        total = int(view.t_hi[-1])  # every trade row belongs to an event of the view
        keep = (idx >= _row(view.t_lo, lo, total)) & (idx < _row(view.t_lo, hi, total))
    else:
        raise ValueError(f"filters stream: rule {m.rule} flags '{m.index}' rows of the event view")
    if not keep.any():
        return None
    mask = np.zeros_like(m.mask)
    mask[idx[keep]] = True
    detail = (
        m.detail.filter(pl.Series(keep)) if m.detail is not None and m.detail.len() == idx.shape[0] else None
    )
    return dataclasses.replace(m, mask=mask, detail=detail)


def dataset_batches(
    ds: Dataset, instrument: str, date: str, *, book: Dataset | None = None, rows: int = BATCH_ROWS
) -> Batches:
    """:data:`Batches` of one partition of canonical datasets: ``book_snapshots`` from ``book``
    (default ``ds``, e.g. the pipeline's book stage), the other tables from ``ds``."""

    def open_(table: str, columns: list[str] | None) -> Iterator[pl.DataFrame] | None:
        src = book if table == "book_snapshots" and book is not None else ds
        if not src.has(table, instrument, date):
            return None
        return src.iter_batches(table, instrument, date, rows, columns=columns)

    return open_


def apply_filters_stream(
    open_: Batches,
    *,
    instrument: Instrument,
    config: FilterConfig,
    status: pl.DataFrame | None = None,
    chunk_rows: int = CHUNK_ROWS,
    threads: int | None = None,
) -> FilterResult:
    """:func:`~orderflow.filters.apply_filters` over a partition read in batches (see the module
    docs); memory holds a chunk of about ``chunk_rows`` delta rows and its snapshots. The result
    carries ``report["streamed"]``: True, or False when the partition was filtered whole."""
    try:
        res = _stream(open_, instrument, config, status, chunk_rows)
        res.report["streamed"] = True
        return res
    except _Whole:
        pass

    def whole(table: str) -> pl.DataFrame | None:
        it = open_(table, None)
        if it is None:
            return None
        got = [b for b in it if b.height]
        return pl.concat(got) if got else None

    d, t, s = whole("book_deltas"), whole("trades"), whole("book_snapshots")
    res = apply_filters(
        s if s is not None else _EMPTY_SNAPSHOTS,
        d if d is not None else BOOK_DELTAS.empty(),
        t if t is not None else TRADES.empty(),
        instrument=instrument,
        config=config,
        status=status,
        threads=threads,
    )
    res.report["streamed"] = False
    return res


def _stream(
    open_: Batches, instrument: Instrument, config: FilterConfig, status: pl.DataFrame | None, rows: int
) -> FilterResult:
    if config.plugins:
        raise _Whole("plug-in rules see the whole partition")
    sc = config.session
    facts = _facts(open_, rows, sc.enabled and sc.open_time is not None and sc.close_time is not None)
    ahead, back, lag = _spans(config)
    enabled = [r for r in RULES if getattr(config, r).enabled]
    event_rules = [r for r in enabled if r not in ("crossed_book", "locked_book")]
    parts: list[_Part] = []
    n_events = volume = 0
    tail_d: pl.DataFrame | None = None
    tail_t: pl.DataFrame | None = None
    emit_from = 0
    stale_in: np.ndarray | None = None
    flicker_in: tuple[np.ndarray, ...] | None = None
    snap_carry: pl.DataFrame | None = None
    any_snapshots = any(r in SNAPSHOT_RULES for r in enabled)
    for d_new, t_new, s_new, last in _prefetched(_chunks(open_, rows, (None, None), any_snapshots)):
        wd = _frame([tail_d, d_new], BOOK_DELTAS, _D_COLS)
        wt = _frame([tail_t, t_new], TRADES, _T_COLS)
        view = build_view(_EMPTY_SNAPSHOTS, wd, wt, instrument, status)
        view = dataclasses.replace(view, first_trade_seq=facts.first_trade_seq)
        view.extra["session_ref"] = facts.session_ref
        n, ts = view.n, view.ts
        if last or n == 0:
            settled = tail_start = n
        else:  # later events are at or after ts[-1]: verdicts that look `ahead` further must wait
            settled = int(np.searchsorted(ts, ts[-1] - ahead, side="left"))
            start = int(np.searchsorted(ts, ts[settled] - back, side="left")) if settled < n else n
            tail_start = max(0, min(start, settled - lag))
        save_row = _row(view.d_lo, tail_start, wd.height)
        carry = ChunkCarry(tail_start, save_row, stale_in, flicker_in)
        view.extra["carry"] = carry
        chunk_parts: dict[str, list[_Part]] = {r: [] for r in enabled}
        for rule in event_rules:
            for m in RULE_FUNCTIONS[rule](view, getattr(config, rule)):
                k = _keep(m, view, emit_from, settled) if m.mask.any() else None
                if k is not None:
                    chunk_parts[rule] += _parts(view, k)
        if any_snapshots and s_new is not None and s_new.height:
            snap = _snapshot_parts(view, iter([s_new]), config, snap_carry)
            snap_carry = s_new[-1:]
            for rule, ps in snap.items():
                chunk_parts[rule] = ps + chunk_parts[rule]
        parts += [p for rule in enabled for p in chunk_parts[rule]]
        n_events += settled - emit_from
        volume += int(view.trade_vol[emit_from:settled].sum())
        stale_in, flicker_in = carry.stale_out, carry.flicker_out
        tail_d = wd[save_row:]
        tail_t = wt[_row(view.t_lo, tail_start, wt.height) :]
        emit_from = settled - tail_start
    if n_events != facts.events:  # every event reported exactly once
        raise AssertionError(f"filters stream: {n_events} events reported, the partition has {facts.events}")
    joined = _join(parts, rule_order=enabled)
    qc = validate(joined.qc, QC, where=f"filters {instrument.symbol}")
    return FilterResult(qc=qc, report=_report(n_events, volume, joined, config))


__all__ = ["BATCH_ROWS", "CHUNK_ROWS", "Batches", "apply_filters_stream", "dataset_batches"]
