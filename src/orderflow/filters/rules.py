"""The filter rules. Each rule is a function ``rule(view, cfg) -> list[RuleMask]``.

A :class:`RuleMask` is a boolean mask over the rows of one index (the partition's *events* or its
*trades* rows) plus a reason code per row; :func:`orderflow.filters.apply_filters` turns the masks
into QC rows. An *event* is one ``seq`` present in BOOK_DELTAS or TRADES (one venue message).

Rules (and the QC ``table`` of their rows):

==================  ============================================  ==================
rule                reasons                                       table
==================  ============================================  ==================
stale_quote         catch_up, stale_side, heartbeat               book_deltas
crossed_book        auction, halt, feed_glitch                    book_snapshots
locked_book         auction, halt, feed_glitch                    book_snapshots
message_storm       storm                                         book_deltas/trades
flicker             flicker                                       book_deltas
quote_stuffing      stuffing                                      book_deltas/trades
duplicate           duplicate                                     each table with rows
low_info            no_change, beyond_top_k, odd_lot              book_snapshots, book_deltas, trades
session             halt, auction, pre_open, post_close,          book_deltas/trades
                    opening_minutes, closing_minutes
==================  ============================================  ==================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from orderflow.core.enums import UNDEF_PRICE, MarketStatus, TradeKind
from orderflow.core.instruments import Instrument
from orderflow.core.registry import Registry
from orderflow.core.time import NS_PER_MS, NS_PER_S, NS_PER_US
from orderflow.filters import _kernels as K
from orderflow.filters.config import (
    CrossedBookConfig,
    DuplicateConfig,
    FlickerConfig,
    LockedBookConfig,
    LowInfoConfig,
    MessageStormConfig,
    QuoteStuffingConfig,
    SessionConfig,
    StaleQuoteConfig,
)

# session state codes (after the last STATUS row at or before an event)
ST_NORMAL = 0
ST_HALT = 1
ST_AUCTION = 2
ST_CLOSED = 3


@dataclass
class RuleMask:
    """One rule's verdict over one index.

    ``index`` is ``"events"`` (rows of :class:`EventView`) or ``"trades"`` (rows of the trades
    table). ``mask[i]`` flags row i; ``reason[i]`` indexes ``reasons``; ``action[i]`` indexes
    ``actions``. ``table`` is the QC table name, or None for "book_deltas when the event has delta
    rows, else trades"; ``all_tables`` emits one QC row per table holding rows of the event.
    """

    rule: str
    index: str
    mask: np.ndarray
    reason: np.ndarray
    reasons: tuple[str, ...]
    action: np.ndarray
    actions: tuple[str, ...]
    table: str | None = None
    all_tables: bool = False
    detail: pl.Series | None = None
    """Optional free text per flagged row (same order as ``np.flatnonzero(mask)``)."""


@dataclass
class EventView:
    """Per-event arrays shared by the rules (built once per partition by :func:`build_view`)."""

    seq: np.ndarray
    ts: np.ndarray
    d_lo: np.ndarray
    d_hi: np.ndarray
    t_lo: np.ndarray
    t_hi: np.ndarray
    bid_rows: np.ndarray
    ask_rows: np.ndarray
    n_trades: np.ndarray
    trade_vol: np.ndarray
    unm_bid: np.ndarray
    """regular trades hitting the bid (seller-initiated) in a message with no bid delta row"""
    unm_ask: np.ndarray
    nonregular: np.ndarray
    """trades of a kind other than REGULAR (hidden, cross, other)"""
    state: np.ndarray
    """session state after STATUS (ST_* codes)"""
    first_trade_seq: int
    d: dict[str, np.ndarray]
    t: dict[str, np.ndarray]
    snapshots: pl.DataFrame
    snap_event: np.ndarray
    """event index of each snapshot row (-1 when its seq is not an event)"""
    instrument: Instrument
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.seq.shape[0])

    @property
    def has_deltas(self) -> np.ndarray:
        h = self.extra.get("has_deltas")
        if h is None or h.shape[0] != self.d_lo.shape[0]:
            h = self.extra["has_deltas"] = np.asarray(self.d_hi > self.d_lo)
        return np.asarray(h)


def _sorted_cols(df: pl.DataFrame, cols: tuple[str, ...]) -> dict[str, np.ndarray]:
    if df.height > 1 and not df["seq"].is_sorted():
        df = df.sort("seq", maintain_order=True)
    return {c: np.ascontiguousarray(df[c].to_numpy()) for c in cols}


def _seg_count(mask: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    c = np.zeros(mask.shape[0] + 1, np.int64)
    np.cumsum(mask, out=c[1:])
    return np.asarray(c[hi] - c[lo])


def _status_state(status: pl.DataFrame | None, seq: np.ndarray) -> np.ndarray:
    """Session state at each event: the state set by the last STATUS row with seq <= event seq."""
    if status is None or status.height == 0:
        return np.zeros(seq.shape[0], np.int8)
    st = status.sort("seq", maintain_order=True)
    codes = st["status"].to_numpy()
    states = np.zeros(codes.shape[0] + 1, np.int8)  # states[0] = before any STATUS row
    cur = ST_NORMAL
    for i, c in enumerate(codes.tolist()):
        if c == MarketStatus.HALT:
            cur = ST_HALT
        elif c == MarketStatus.QUOTE_RESUME:
            cur = ST_AUCTION if cur == ST_HALT else cur  # quoting without trading: a re-opening auction
        elif c in (MarketStatus.TRADE_RESUME, MarketStatus.OPEN):
            cur = ST_NORMAL
        elif c == MarketStatus.AUCTION:
            cur = ST_AUCTION
        elif c == MarketStatus.CLOSE:
            cur = ST_CLOSED
        states[i + 1] = cur
    pos = np.searchsorted(st["seq"].to_numpy(), seq, side="right")
    return np.asarray(states[pos])


_D_COLS = ("ts_event", "seq", "side", "action", "price", "size", "order_id", "flags")
_T_COLS = ("ts_event", "seq", "price", "size", "aggressor", "kind", "order_id")


def _index(d: dict[str, np.ndarray], t: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """:func:`K.build_index_into` numpy-allocated buffers (huge pages: cheap first touch), trimmed to n."""
    m = d["seq"].shape[0] + t["seq"].shape[0]
    i8, i4 = np.int64, np.int32
    out = tuple(np.empty(m + (k in (1, 2)), i4 if k in (4, 5, 7, 8, 9, 10) else i8) for k in range(11))
    n = K.build_index_into(
        d["seq"],
        t["seq"],
        d["ts_event"],
        t["ts_event"],
        d["side"],
        t["size"],
        t["aggressor"],
        t["kind"],
        *out,
    )
    return tuple(a[: n + 1] if k in (1, 2) else a[:n] for k, a in enumerate(out))


def seq_sorted(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` in ``seq`` order (a stable sort only when it is not already sorted)."""
    if df.height > 1 and not df["seq"].is_sorted():
        return df.sort("seq", maintain_order=True)
    return df


INDEX_D_COLS = ("ts_event", "seq", "side")
"""The BOOK_DELTAS columns the event index reads (the rest of ``_D_COLS`` may come later)."""


def delta_columns(deltas: pl.DataFrame, cols: tuple[str, ...] = _D_COLS) -> dict[str, np.ndarray]:
    """BOOK_DELTAS columns the rules read (default all of ``EventView.d``), contiguous, in ``seq``
    order."""
    return _sorted_cols(deltas, cols)


def build_view(
    snapshots: pl.DataFrame,
    deltas: pl.DataFrame,
    trades: pl.DataFrame,
    instrument: Instrument,
    status: pl.DataFrame | None = None,
    *,
    d: dict[str, np.ndarray] | None = None,
    d_more: Callable[[], dict[str, np.ndarray]] | None = None,
    pre: dict[Any, Any] | None = None,
) -> EventView:
    """Index the partition by event (``seq``); inputs need not be sorted (stable sort when not).

    ``d`` may pass :func:`delta_columns` of ``deltas`` the caller already has (at least
    :data:`INDEX_D_COLS`); ``d_more()`` then supplies the rest, asked for once the index is built (a
    copy another thread makes meanwhile). ``pre`` holds work computed ahead (values or futures, see
    :func:`precomputed`), kept in ``extra``."""
    if d is None:
        d = delta_columns(deltas)
    t = _sorted_cols(trades, _T_COLS)
    (seq, d_b, t_b, ts, bid_rows, ask_rows, trade_vol, nonreg, unm_bid, unm_ask, cross) = _index(d, t)
    if d_more is not None:
        d = {**d, **d_more()}
    d = {c: d[c] for c in _D_COLS}
    d_lo, d_hi, t_lo, t_hi = d_b[:-1], d_b[1:], t_b[:-1], t_b[1:]
    regular = np.flatnonzero(t["kind"] == TradeKind.REGULAR)
    first_trade_seq = int(t["seq"][regular[0]]) if regular.shape[0] else int(np.iinfo(np.int64).max)
    snapshots = seq_sorted(snapshots)
    snap_seq = snapshots["seq"].to_numpy()
    snap_event = K.locate_sorted(seq, np.ascontiguousarray(snap_seq, dtype=np.int64))
    return EventView(
        seq=seq,
        ts=ts,
        d_lo=d_lo,
        d_hi=d_hi,
        t_lo=t_lo,
        t_hi=t_hi,
        bid_rows=bid_rows,
        ask_rows=ask_rows,
        n_trades=t_hi - t_lo,
        trade_vol=trade_vol,
        unm_bid=unm_bid,
        unm_ask=unm_ask,
        nonregular=nonreg,
        state=_status_state(status, seq),
        first_trade_seq=first_trade_seq,
        d=d,
        t=t,
        snapshots=snapshots,
        snap_event=np.asarray(snap_event, np.int64),
        instrument=instrument,
        extra={
            "n_cross": cross,
            "snap_seq": snap_seq,
            "ts_sorted": seq.shape[0] < 2 or bool(np.all(ts[1:] >= ts[:-1])),
            "pre": dict(pre or {}),
        },
    )


@dataclass
class ChunkCarry:
    """State of the sequential rules from one chunk of a streamed partition to the next (see
    :mod:`orderflow.filters.stream`): the state at the view's event ``save_event`` (its first delta
    row ``save_row``), where the next chunk's view begins. ``*_in`` is the state at this view's first
    event (None: the partition's start), ``*_out`` what the rules saved."""

    save_event: int
    save_row: int
    stale_in: np.ndarray | None = None
    flicker_in: tuple[np.ndarray, ...] | None = None
    """flicker's state per (side, price): side, price, level, run, last change, last time (the keys
    changed since the last CLEAR or with a non-zero level)"""
    stale_out: np.ndarray | None = None
    flicker_out: tuple[np.ndarray, ...] | None = None


def precomputed(view: EventView, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    """The value of ``key`` computed ahead for this view (waiting for it when it is a future still
    running on another thread), else ``compute()``. Rules stay callable on a bare view; the work a
    caller starts early (:func:`orderflow.filters.apply_filters` on a second core) is picked up here."""
    pre = view.extra.get("pre") or {}
    if key in pre:
        v = pre[key]
        return v.result() if isinstance(v, Future) else v
    return compute()


def _one_action(n: int) -> np.ndarray:
    return np.zeros(n, np.int8)


# -- stale quotes ----------------------------------------------------------------------------------------
def stale_quote(view: EventView, cfg: StaleQuoteConfig) -> list[RuleMask]:
    """Stale sides and the catch-up messages that end them (see :class:`StaleQuoteConfig`)."""
    hb = 0 if cfg.heartbeat_ms is None else round(cfg.heartbeat_ms * NS_PER_MS)
    carry: ChunkCarry | None = view.extra.get("carry")
    stale_in = None if carry is None else carry.stale_in
    state = np.zeros(8, np.int64) if stale_in is None else np.array(stale_in, np.int64)
    saved = np.zeros(8, np.int64)
    reason, side, age = K.stale_scan(
        view.ts,
        view.bid_rows > 0,
        view.ask_rows > 0,
        view.unm_bid,
        view.unm_ask,
        round(cfg.min_age_ms * NS_PER_MS),
        cfg.min_other_updates,
        cfg.min_unmatched_trades,
        hb,
        state,
        -1 if carry is None else carry.save_event,
        saved,
    )
    if carry is not None:
        carry.stale_out = saved
    mask = reason != K.STALE_NONE
    # reasons indexed by kernel code - 1
    act = np.where(reason == K.STALE_CATCH_UP, 1, 0).astype(np.int8)
    idx = np.flatnonzero(mask)
    detail = pl.DataFrame({"s": side[idx], "a": age[idx] // NS_PER_MS}).select(
        pl.format(
            "side={} age_ms={}", pl.when(pl.col("s") == 1).then(pl.lit("bid")).otherwise(pl.lit("ask")), "a"
        ).alias("detail")
    )["detail"]
    return [
        RuleMask(
            "stale_quote",
            "events",
            mask,
            np.maximum(reason.astype(np.int8) - 1, 0),
            ("catch_up", "stale_side", "heartbeat"),
            act,
            (cfg.action, cfg.catch_up_action),
            detail=detail,
        )
    ]


# -- crossed / locked --------------------------------------------------------------------------------------
def _snap_seq(view: EventView) -> np.ndarray:
    seq = view.extra.get("snap_seq")
    if seq is None or seq.shape[0] != view.snapshots.height:
        seq = view.snapshots["seq"].to_numpy()
    return np.asarray(seq)


def _cross_reason(view: EventView, rows: np.ndarray) -> np.ndarray:
    """0 auction, 1 halt, 2 feed_glitch for snapshot rows ``rows``."""
    ev = view.snap_event[rows]
    seq = _snap_seq(view)[rows]
    st = np.where(ev >= 0, view.state[np.maximum(ev, 0)], ST_NORMAL) if view.n else np.zeros(rows.shape[0])
    out = np.full(rows.shape[0], 2, np.int8)
    out[(seq < view.first_trade_seq) | (st == ST_AUCTION)] = 0
    out[st == ST_HALT] = 1
    return out


def book_hits(s: pl.DataFrame) -> np.ndarray:
    """Per row of seq-sorted snapshots ``s``: 1 crossed (best bid > best ask), 2 locked (equal), else
    0 (also without depth or a side). Needs no event index (runs ahead)."""
    out = np.zeros(s.height, np.int8)
    if "bid_px_00" not in s.columns:
        return out
    b_s, a_s = s["bid_px_00"], s["ask_px_00"]
    if b_s.null_count() or a_s.null_count():
        b_s = b_s.fill_null(UNDEF_PRICE)
        a_s = a_s.fill_null(UNDEF_PRICE)
    start = 0
    for b, a in _column_chunks(pl.DataFrame([b_s, a_s]), ["bid_px_00", "ask_px_00"]):
        K.cross_lock(b, a, UNDEF_PRICE, out[start : start + b.shape[0]])
        start += b.shape[0]
    return out


def _book_rule(view: EventView, rule: str, action: str, crossed: bool) -> list[RuleMask]:
    code = precomputed(view, ("book",), lambda: book_hits(view.snapshots))
    mask = code == (1 if crossed else 2)
    rows = np.flatnonzero(mask)
    reason = np.zeros(mask.shape[0], np.int8)
    reason[rows] = _cross_reason(view, rows)
    detail = None
    if rows.shape[0]:
        idx = pl.Series(rows, dtype=pl.Int64)
        s = view.snapshots
        detail = pl.DataFrame({"b": s["bid_px_00"].gather(idx), "a": s["ask_px_00"].gather(idx)}).select(
            pl.format("bid_px_00={} ask_px_00={}", "b", "a").alias("detail")
        )["detail"]
    return [
        RuleMask(
            rule,
            "snapshots",
            mask,
            reason,
            ("auction", "halt", "feed_glitch"),
            _one_action(mask.shape[0]),
            (action,),
            table="book_snapshots",
            detail=detail,
        )
    ]


def crossed_book(view: EventView, cfg: CrossedBookConfig) -> list[RuleMask]:
    """Snapshots with best bid > best ask."""
    return _book_rule(view, "crossed_book", cfg.action, crossed=True)


def locked_book(view: EventView, cfg: LockedBookConfig) -> list[RuleMask]:
    """Snapshots with best bid == best ask."""
    return _book_rule(view, "locked_book", cfg.action, crossed=False)


# -- mechanical bursts -----------------------------------------------------------------------------------
def window_members(ts: np.ndarray, min_count: int, window_ns: int) -> np.ndarray:
    """Events belonging to some closed window [t - window_ns, t] holding >= ``min_count`` events.

    ``ts`` must be non-decreasing (events out of time order are sorted by time first).
    """
    n = ts.shape[0]
    if n == 0:
        return np.zeros(0, np.bool_)
    if n < 2 or bool(np.all(ts[1:] >= ts[:-1])):
        return np.asarray(K.window_members_sorted(ts, min_count, window_ns))
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    lo = K.window_start(ts, window_ns, True)
    hit = (np.arange(n) - lo + 1) >= min_count
    diff = np.zeros(n + 1, np.int64)
    np.add.at(diff, lo[hit], 1)
    np.add.at(diff, np.flatnonzero(hit) + 1, -1)
    inside = np.cumsum(diff[:n]) > 0
    out = np.empty(n, np.bool_)
    out[order] = inside
    return out


def message_storm(view: EventView, cfg: MessageStormConfig) -> list[RuleMask]:
    """Every message of a window of ``window_us`` holding >= ``min_messages`` messages."""
    mask = window_members(view.ts, cfg.min_messages, round(cfg.window_us * NS_PER_US))
    n = mask.shape[0]
    return [
        RuleMask(
            "message_storm", "events", mask, np.zeros(n, np.int8), ("storm",), _one_action(n), (cfg.action,)
        )
    ]


def _dense_keys(side: np.ndarray, price: np.ndarray, tick: int) -> tuple[np.ndarray, int]:
    """Dense ids per (side, price): arithmetic on the tick grid when compact, else a sort.

    Rows without a price (UNDEF_PRICE, e.g. CLEAR) share one extra id.
    """
    n = price.shape[0]
    if n == 0:
        return np.zeros(0, np.int64), 0
    keys, n_keys = K.grid_keys(side, price, tick, UNDEF_PRICE)
    if n_keys == 0:
        return np.zeros(n, np.int64), 1
    if n_keys > 0:
        return keys, n_keys
    valid = price != UNDEF_PRICE
    pv = price[valid]
    lo, hi = int(pv.min()), int(pv.max())
    sb = (side == 1).astype(np.int64)
    p = np.where(valid, price, lo)
    if tick > 0 and (hi - lo) // tick < 8 * n + 1024 and bool(np.all((pv - lo) % tick == 0)):
        n_keys = ((hi - lo) // tick + 1) * 2
        keys = (p - lo) // tick * 2 + sb
    else:
        _, inv = np.unique((p - lo) * 2 + sb, return_inverse=True)
        keys = inv.astype(np.int64).reshape(-1)
        n_keys = int(keys.max()) + 1
    keys[~valid] = n_keys
    return keys, n_keys + 1


def flicker_rows(
    d: dict[str, np.ndarray],
    tick: int,
    cfg: FlickerConfig,
    carry: ChunkCarry | None = None,
) -> np.ndarray:
    """Mask over the delta rows ``d`` (:func:`delta_columns`) of the rows in a flicker run. Needs no
    event index (runs ahead). With ``carry`` (a chunk of a streamed partition), the per-key state
    starts from ``carry.flicker_in`` and the state just before row ``carry.save_row`` is saved to
    ``carry.flicker_out``."""
    state = None if carry is None else carry.flicker_in
    save_row = -1 if carry is None else carry.save_row
    side, price = d["side"], d["price"]
    n = price.shape[0]
    if state is not None and state[0].shape[0]:  # the carried keys take ids in the same key space
        side = np.concatenate([side, state[0].astype(side.dtype)])
        price = np.concatenate([price, state[1]])
    key, n_keys = _dense_keys(side, price, tick)
    level = np.zeros(n_keys, np.int64)
    run = np.zeros(n_keys, np.int64)
    change = np.zeros(n_keys, np.int64)
    last_ts = np.zeros(n_keys, np.int64)
    last_row = np.full(n_keys, -1, np.int64)
    if state is not None and state[0].shape[0]:
        ck = key[n:]
        level[ck], run[ck], change[ck], last_ts[ck] = state[2], state[3], state[4], state[5]
        last_row[ck] = -2  # changed before these rows
    saved = np.zeros((5, n_keys), np.int64)
    mask = np.asarray(
        K.flicker_scan(
            key[:n],
            n_keys,
            d["action"],
            d["size"],
            d["flags"],
            d["ts_event"],
            round(cfg.window_us * NS_PER_US),
            cfg.min_flips,
            level,
            run,
            change,
            last_ts,
            last_row,
            save_row,
            saved,
        )
    )
    if carry is not None:
        live = np.flatnonzero((saved[4] != -1) | (saved[0] != 0) | (saved[1] != 0))
        rep_side = np.zeros(n_keys, np.int8)
        rep_price = np.zeros(n_keys, np.int64)
        rep_side[key] = side  # each key's own (side, price)
        rep_price[key] = price
        carry.flicker_out = (rep_side[live], rep_price[live], *(saved[q, live] for q in range(4)))
    return mask


def flicker(view: EventView, cfg: FlickerConfig) -> list[RuleMask]:
    """Events holding rows of an add/cancel flicker run (see :class:`FlickerConfig`)."""
    carry: ChunkCarry | None = view.extra.get("carry")
    tick = view.instrument.tick_int
    rows = precomputed(view, ("flicker", cfg), lambda: flicker_rows(view.d, tick, cfg, carry))
    # flagged rows are few: map them to their events (the last event starting at or before the row)
    n = view.n
    mask = np.zeros(n, np.bool_)
    mask[np.searchsorted(view.d_lo, np.flatnonzero(rows), side="right") - 1] = True
    return [
        RuleMask(
            "flicker",
            "events",
            mask,
            np.zeros(n, np.int8),
            ("flicker",),
            _one_action(n),
            (cfg.action,),
            table="book_deltas",
        )
    ]


def quote_stuffing(view: EventView, cfg: QuoteStuffingConfig) -> list[RuleMask]:
    """Messages at which the trailing message-to-trade ratio spikes (see :class:`QuoteStuffingConfig`)."""
    n = view.n
    w = round(cfg.window_ms * NS_PER_MS)
    mask = K.stuffing_kernel(view.ts, view.n_trades, w, cfg.min_messages, float(cfg.min_ratio))
    return [
        RuleMask(
            "quote_stuffing",
            "events",
            mask,
            np.zeros(n, np.int8),
            ("stuffing",),
            _one_action(n),
            (cfg.action,),
        )
    ]


# -- duplicates ------------------------------------------------------------------------------------------
def duplicate(view: EventView, cfg: DuplicateConfig) -> list[RuleMask]:
    """Later copies of an identical message (same ts_event and rows) within ``max_lag`` messages."""
    d, t = view.d, view.t
    orig = K.duplicate_kernel(
        view.ts,
        view.d_lo,
        view.d_hi,
        view.t_lo,
        view.t_hi,
        d["side"],
        d["action"],
        d["price"],
        d["size"],
        d["order_id"],
        d["flags"],
        t["price"],
        t["size"],
        t["aggressor"],
        t["order_id"],
        cfg.max_lag,
    )
    mask = orig >= 0
    if cfg.skip_hidden:
        mask &= ~((view.d_hi == view.d_lo) & (view.nonregular == view.n_trades))
    n = mask.shape[0]
    return [
        RuleMask(
            "duplicate",
            "events",
            mask,
            np.zeros(n, np.int8),
            ("duplicate",),
            _one_action(n),
            (cfg.action,),
            all_tables=True,
            detail=pl.DataFrame({"o": view.seq[orig[mask]]}).select(
                pl.format("copy of seq {}", "o").alias("detail")
            )["detail"],
        )
    ]


# -- low information -------------------------------------------------------------------------------------
def _level_cols(levels: range) -> list[str]:
    return [f"{sd}_{w}_{j:02d}" for sd in ("bid", "ask") for w in ("px", "sz") for j in levels]


def _readonly(a: np.ndarray) -> np.ndarray:
    v = np.ascontiguousarray(a, dtype=np.int64).view()
    v.flags.writeable = False  # one array type for numba: the tuple of columns stays homogeneous
    return v


def _column_chunks(s: pl.DataFrame, cols: list[str]) -> list[tuple[np.ndarray, ...]]:
    """Zero-copy int64 views of ``cols`` chunk by chunk (one contiguous copy when chunks differ)."""
    series = [s[c] for c in cols]
    lens = [[len(ch) for ch in x.get_chunks()] for x in series]
    if all(x.dtype == pl.Int64 for x in series) and all(x == lens[0] for x in lens):
        per_col = [[_readonly(ch.to_numpy()) for ch in x.get_chunks()] for x in series]
        return [tuple(c[k] for c in per_col) for k in range(len(lens[0]))]
    return [tuple(_readonly(x.to_numpy()) for x in series)]


def unchanged_snapshots(s: pl.DataFrame, top_k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows of seq-sorted snapshots ``s`` whose top ``top_k`` levels equal the previous row's, and
    per row 1 when a deeper level changed (beyond_top_k) else 0 (no_change); None when the
    snapshots have no depth, fewer than two rows, or nulls in a level column. Needs no event index
    (runs ahead).

    Chunk by chunk over zero-copy views of the columns: the top-level columns one after the other
    (the rows left to examine shrink with each), then the deep levels split the rows found."""
    depth = sum(1 for c in s.columns if c.startswith("bid_px_"))
    n = s.height
    if not depth or n < 2:
        return None
    k = min(top_k, depth)
    top_cols = _level_cols(range(k))
    deep_cols = _level_cols(range(k, depth))
    if any(s[c].null_count() for c in (*top_cols, *deep_cols)):
        return None
    # sizes change most often (a new or removed level shifts the sizes below it too): test them
    # first, best levels first (same rows in any order, only the candidates shrink faster)
    top_cols = sorted(top_cols, key=lambda c: ("_px_" in c, c[-2:]))
    deep_cols = sorted(deep_cols, key=lambda c: ("_px_" in c, c[-2:]))
    nt = len(top_cols)
    chunks = _column_chunks(s, [*top_cols, *deep_cols])
    found: list[np.ndarray] = []
    deep: list[np.ndarray] = []
    start = 0
    for ci, cols in enumerate(chunks):
        m = cols[0].shape[0]
        has_prev = ci > 0
        prev = (
            np.array([c[-1] for c in chunks[ci - 1]], np.int64) if has_prev else np.zeros(len(cols), np.int64)
        )
        rows = K.unchanged_rows(cols[:nt], prev[:nt], has_prev, _BLOCK)
        if rows.shape[0]:
            found.append(start + rows)
            r = np.zeros(rows.shape[0], np.int8)
            if deep_cols:
                r[:] = 1
                r[np.searchsorted(rows, K.keep_unchanged(cols[nt:], rows, prev[nt:], has_prev))] = 0
            deep.append(r)
        start += m
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int8)
    return np.concatenate(found), np.concatenate(deep)


def _low_info_snapshots(
    view: EventView, cfg: LowInfoConfig, found: tuple[np.ndarray, np.ndarray]
) -> RuleMask:
    """No-change / beyond-top-k snapshot rows (:func:`unchanged_snapshots`) of events without trades."""
    n = view.snapshots.height
    rows, deep = found
    if rows.shape[0] and view.n:
        e = view.snap_event[rows]
        keep = (e < 0) | (view.n_trades[np.maximum(e, 0)] == 0)
        rows, deep = rows[keep], deep[keep]
    mask = np.zeros(n, np.bool_)
    mask[rows] = True
    reason = np.zeros(n, np.int8)
    reason[rows] = deep
    return RuleMask(
        "low_info",
        "snapshots",
        mask,
        reason,
        ("no_change", "beyond_top_k"),
        _one_action(n),
        (cfg.action,),
        table="book_snapshots",
    )


_BLOCK = 1 << 15
"""Rows per block of the column-by-column kernels (the candidate buffer stays in cache)."""


def low_info(view: EventView, cfg: LowInfoConfig) -> list[RuleMask]:
    """No-change and beyond-top-k snapshots (events without trades), odd-lot rows."""
    out: list[RuleMask] = []
    s = view.snapshots
    depth = sum(1 for c in s.columns if c.startswith("bid_px_"))
    n = s.height
    found = precomputed(view, ("low_info", cfg.top_k), lambda: unchanged_snapshots(s, cfg.top_k))
    if found is not None:
        out.append(_low_info_snapshots(view, cfg, found))
    if depth and n > 1 and not out:
        k = min(cfg.top_k, depth)

        def changed(levels: range) -> pl.Expr:
            cols = [f"{sd}_{w}_{j:02d}" for sd in ("bid", "ask") for w in ("px", "sz") for j in levels]
            return pl.any_horizontal([pl.col(c) != pl.col(c).shift(1) for c in cols]).fill_null(True)

        exprs = [changed(range(k)).alias("top")]
        if k < depth:
            exprs.append(changed(range(k, depth)).alias("deep"))
        ch = s.select(exprs)
        top_changed = ch["top"].to_numpy()
        deep_changed = ch["deep"].to_numpy() if k < depth else np.zeros(n, np.bool_)
        ev = view.snap_event
        no_trade = np.where(ev >= 0, view.n_trades[np.maximum(ev, 0)] == 0, True)
        mask = ~top_changed & no_trade
        reason = np.where(deep_changed, 1, 0).astype(np.int8)
        out.append(
            RuleMask(
                "low_info",
                "snapshots",
                mask,
                reason,
                ("no_change", "beyond_top_k"),
                _one_action(n),
                (cfg.action,),
                table="book_snapshots",
            )
        )
    if cfg.round_lot is not None and cfg.round_lot > 1:
        d = view.d
        mask = K.odd_lot_events(view.d_lo, view.d_hi, d["action"], d["size"], d["flags"], cfg.round_lot)
        ne = mask.shape[0]
        out.append(
            RuleMask(
                "low_info",
                "events",
                mask,
                np.zeros(ne, np.int8),
                ("odd_lot",),
                _one_action(ne),
                (cfg.odd_lot_action,),
                table="book_deltas",
            )
        )
        tm = view.t["size"] % cfg.round_lot != 0
        nt = tm.shape[0]
        out.append(
            RuleMask(
                "low_info",
                "trades",
                tm,
                np.zeros(nt, np.int8),
                ("odd_lot",),
                _one_action(nt),
                (cfg.odd_lot_action,),
                table="trades",
            )
        )
    return out


# -- session ---------------------------------------------------------------------------------------------
SESSION_REASONS = ("halt", "auction", "pre_open", "post_close", "opening_minutes", "closing_minutes")


def _local_ns(ts0: int, tz: str, t: dt.time) -> int:
    """UTC ns of local time ``t`` on the local date of ``ts0``."""
    z = ZoneInfo(tz)
    day = dt.datetime.fromtimestamp(ts0 / NS_PER_S, tz=z).date()
    whole = dt.datetime.combine(day, t.replace(microsecond=0), tzinfo=z)
    return int(whole.timestamp()) * NS_PER_S + t.microsecond * 1000


def _cross_trades(view: EventView) -> np.ndarray:
    c = view.extra.get("n_cross")
    if c is None:
        c = _seg_count(view.t["kind"] == TradeKind.CROSS, view.t_lo, view.t_hi)
    return np.asarray(c)


def session(view: EventView, cfg: SessionConfig) -> list[RuleMask]:
    """Halts, auctions (STATUS and cross trades), outside hours, first/last minutes (local time)."""
    n = view.n
    if n and cfg.open_time is not None and cfg.close_time is not None:
        tz = view.instrument.timezone
        ts = view.ts
        # a partition is one local trading date: take it from the median event (robust to a stray
        # event stamped just before local midnight); a stream of chunks passes the partition's own
        if (r := view.extra.get("session_ref")) is not None:
            ref = int(r)
        elif view.extra.get("ts_sorted", False):
            ref = int(np.median(ts[[(n - 1) // 2, n // 2]]))  # same float as np.median(ts)
        else:
            ref = int(np.median(ts))
        t_open = _local_ns(ref, tz, cfg.open_time)
        t_close = _local_ns(ref, tz, cfg.close_time)
        first = round(cfg.first_minutes * 60 * NS_PER_S)
        last = round(cfg.last_minutes * 60 * NS_PER_S)
        reason = K.session_kernel(ts, view.state, _cross_trades(view), True, t_open, t_close, first, last)
    else:
        reason = K.session_kernel(view.ts, view.state, _cross_trades(view), False, 0, 0, 0, 0)
    mask = reason >= 0
    action = np.where(reason <= 1, 1, 0).astype(np.int8)
    return [
        RuleMask(
            "session",
            "events",
            mask,
            np.maximum(reason, 0),
            SESSION_REASONS,
            action,
            (cfg.action, cfg.halt_action),
        )
    ]


RuleFn = Callable[[EventView, Any], list[RuleMask]]

FILTERS = Registry("filter rule")
"""Rule functions by name (the built-in rules plus any registered with ``@FILTERS.register(name)``)."""

RULE_FUNCTIONS: dict[str, RuleFn] = {
    "stale_quote": stale_quote,
    "crossed_book": crossed_book,
    "locked_book": locked_book,
    "message_storm": message_storm,
    "flicker": flicker,
    "quote_stuffing": quote_stuffing,
    "duplicate": duplicate,
    "low_info": low_info,
    "session": session,
}
for _name, _fn in RULE_FUNCTIONS.items():
    FILTERS.add(_name, _fn)

__all__ = [
    "FILTERS",
    "RULE_FUNCTIONS",
    "SESSION_REASONS",
    "ChunkCarry",
    "EventView",
    "RuleMask",
    "build_view",
    "crossed_book",
    "duplicate",
    "flicker",
    "locked_book",
    "low_info",
    "message_storm",
    "quote_stuffing",
    "session",
    "stale_quote",
    "window_members",
]
