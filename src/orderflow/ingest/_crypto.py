"""Shared helpers of the crypto venue readers (Binance, Tardis, Bybit).

* exact decimal-string -> scaled-integer parsing (no float anywhere on prices or sizes),
* a plain price-level book (dict per side, best price maintained incrementally) used to verify
  venue BBOs,
* column builders for BOOK_DELTAS / TRADES / QC / BOOK_SNAPSHOTS rows,
* :class:`CryptoResult` and the dataset writer shared by every ``ingest_*`` function.

Sizes are integer counts of the instrument's ``size_unit`` (default ``1e-8``: :data:`SIZE_DIGITS`
decimals); prices are int64 in 1e-9 units (:data:`~orderflow.core.enums.PRICE_SCALE`).
"""

from __future__ import annotations

import datetime as dt
import gzip
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from orderflow._numba import jit
from orderflow.core.enums import UNDEF_PRICE, BookAction, Flags
from orderflow.core.errors import DataFormatError
from orderflow.core.instruments import Instrument
from orderflow.core.io import Dataset, file_digest
from orderflow.core.schema import BOOK_DELTAS, QC, TRADES, book_snapshots, validate

PRICE_DIGITS = 9
SIZE_DIGITS = 8
SIZE_UNIT = "0.00000001"
_POW10 = [10**k for k in range(40)]
_I64 = 2**63


def dec_to_int(text: str, digits: int) -> int:
    """Exact decimal string -> integer count of ``10**-digits``.

    ``"61837.63000000"`` with ``digits=9`` gives ``61837630000000``. Extra decimals are accepted only
    when they are zeros; exponents, blanks, ``+``, other characters and values outside int64 raise
    ``ValueError``.
    """
    whole, _, frac = text.partition(".")
    n = len(frac)
    if n > digits:
        if frac[digits:].strip("0"):
            raise ValueError(f"{text!r} has more than {digits} decimals")
        frac = frac[:digits]
        n = digits
    body = whole[1:] if whole[:1] == "-" else whole
    if not ((body.isdigit() or (not body and frac)) and (not frac or frac.isdigit())):
        raise ValueError(f"not a decimal number: {text!r}")
    v = int(whole + frac) * _POW10[digits - n]
    if not -_I64 <= v < _I64:
        raise ValueError(f"{text!r} does not fit int64 at {digits} decimals")
    return v


def int_to_dec(value: int, digits: int) -> str:
    """Inverse of :func:`dec_to_int` (normalised: no trailing zeros)."""
    sign = "-" if value < 0 else ""
    q, r = divmod(abs(value), _POW10[digits])
    if r == 0:
        return f"{sign}{q}"
    return f"{sign}{q}.{str(r).rjust(digits, '0').rstrip('0')}"


def parse_price(
    text: Any, *, path: str | Path | None = None, line: int | None = None, fld: str = "price"
) -> int:
    """Decimal string -> int64 1e-9 units, or DataFormatError naming file, line and field."""
    try:
        return dec_to_int(str(text), PRICE_DIGITS)
    except (ValueError, TypeError):
        raise DataFormatError(
            f"price {text!r} is not an exact decimal with <= 9 decimals", path=path, line=line, field=fld
        ) from None


def parse_size(
    text: Any,
    *,
    digits: int = SIZE_DIGITS,
    path: str | Path | None = None,
    line: int | None = None,
    fld: str = "qty",
) -> int:
    """Decimal string -> integer count of ``10**-digits`` (must be >= 0)."""
    try:
        v = dec_to_int(str(text), digits)
    except (ValueError, TypeError):
        raise DataFormatError(
            f"quantity {text!r} is not an exact decimal with <= {digits} decimals",
            path=path,
            line=line,
            field=fld,
        ) from None
    if v < 0:
        raise DataFormatError(
            f"quantity {text!r} is negative (rule: qty >= 0)", path=path, line=line, field=fld
        )
    return v


def infer_tick(prices: list[int]) -> str:
    """Largest decimal tick (power of ten times 1..9, in 1e-9 units) dividing every price: a lower bound
    on the venue tick, good enough for the instrument record when the venue's own is not at hand."""
    if not prices:
        return "0.01"
    g = 10**PRICE_DIGITS  # the tick divides one currency unit: keeps a lone price from being its own tick
    for p in prices:
        g = gcd(g, p)
        if g == 1:
            break
    return int_to_dec(g, PRICE_DIGITS)


# --------------------------------------------------------------------------------------------------
# Input files
# --------------------------------------------------------------------------------------------------
def open_text_lines(path: str | Path) -> Iterator[bytes]:
    """Lines (bytes, newline stripped) of a plain, gzip or single-member zip file."""
    p = Path(path)
    with open(p, "rb") as f:
        magic = f.read(4)
    if magic[:2] == b"\x1f\x8b":
        with gzip.open(p, "rb") as g:
            for raw in g:
                yield raw.rstrip(b"\r\n")
    elif magic == b"PK\x03\x04":
        with zipfile.ZipFile(p) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise DataFormatError(
                    f"zip must hold exactly one file, has {len(names)}: {names[:5]}", path=p
                )
            with z.open(names[0]) as member:
                for raw in member:
                    yield raw.rstrip(b"\r\n")
    else:
        with open(p, "rb") as f2:
            for raw in f2:
                yield raw.rstrip(b"\r\n")


def _gunzip(raw: bytes) -> bytes:
    """``gzip.decompress`` in one zlib call per member: zlib checks each member's CRC-32 and length
    while inflating (``gzip.decompress`` runs a separate ``crc32`` pass over the output). Any error
    is left to ``gzip.decompress``, which raises its usual exception."""
    parts: list[bytes] = []
    rest = raw
    try:
        while rest:
            d = zlib.decompressobj(wbits=31)
            parts.append(d.decompress(rest))
            if not d.eof:
                return gzip.decompress(raw)
            rest = d.unused_data.lstrip(b"\x00")
    except zlib.error:
        return gzip.decompress(raw)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def read_all_bytes(path: str | Path) -> bytes:
    """Whole decompressed content of a plain, gzip or single-member zip file (CR LF -> LF)."""
    p = Path(path)
    with open(p, "rb") as f:
        head = f.read(4)
    if head[:2] == b"\x1f\x8b":
        with open(p, "rb") as f:
            data = _gunzip(f.read())
    elif head == b"PK\x03\x04":
        with zipfile.ZipFile(p) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise DataFormatError(
                    f"zip must hold exactly one file, has {len(names)}: {names[:5]}", path=p
                )
            data = z.read(names[0])
    else:
        data = p.read_bytes()
    return data.replace(b"\r\n", b"\n") if b"\r" in data else data


# --------------------------------------------------------------------------------------------------
# A plain L2 book (verification)
# --------------------------------------------------------------------------------------------------
class L2Book:
    """Price-level book: ``{price_int: size_int}`` per side, best prices maintained incrementally.

    Rescanning a side (``max``/``min`` over its keys) happens only when its best level is deleted.
    """

    __slots__ = ("asks", "best_ask", "best_bid", "bids")

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.best_bid = -1
        self.best_ask = -1

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.best_bid = -1
        self.best_ask = -1

    def set_bid(self, px: int, sz: int) -> None:
        b = self.bids
        if sz:
            b[px] = sz
            if px > self.best_bid:
                self.best_bid = px
        elif b.pop(px, None) is not None and px == self.best_bid:
            self.best_bid = max(b) if b else -1

    def set_ask(self, px: int, sz: int) -> None:
        a = self.asks
        if sz:
            a[px] = sz
            if self.best_ask < 0 or px < self.best_ask:
                self.best_ask = px
        elif a.pop(px, None) is not None and px == self.best_ask:
            self.best_ask = min(a) if a else -1

    def bbo(self) -> tuple[int, int, int, int]:
        """(bid_px, bid_sz, ask_px, ask_sz); an empty side is (-1, 0)."""
        bb, ba = self.best_bid, self.best_ask
        return (bb, self.bids[bb] if bb >= 0 else 0, ba, self.asks[ba] if ba >= 0 else 0)

    def top(self, side: int, depth: int) -> list[tuple[int, int]]:
        """Best ``depth`` levels of ``side`` (+1 bids, -1 asks) as (price, size)."""
        d = self.bids if side > 0 else self.asks
        keys = sorted(d, reverse=side > 0)[:depth]
        return [(k, d[k]) for k in keys]

    def crossed(self) -> bool:
        return self.best_bid >= 0 and self.best_ask >= 0 and self.best_bid >= self.best_ask


# --------------------------------------------------------------------------------------------------
# Output builders
# --------------------------------------------------------------------------------------------------
class DeltaCols:
    """Column lists of BOOK_DELTAS rows (append-only, converted once at the end)."""

    def __init__(self) -> None:
        self.ts_event: list[int] = []
        self.ts_recv: list[int] = []
        self.seq: list[int] = []
        self.side: list[int] = []
        self.action: list[int] = []
        self.price: list[int] = []
        self.size: list[int] = []
        self.flags: list[int] = []

    def __len__(self) -> int:
        return len(self.seq)

    def add(
        self, ts_event: int, ts_recv: int, seq: int, side: int, action: int, price: int, size: int, flags: int
    ) -> None:
        self.ts_event.append(ts_event)
        self.ts_recv.append(ts_recv)
        self.seq.append(seq)
        self.side.append(side)
        self.action.append(action)
        self.price.append(price)
        self.size.append(size)
        self.flags.append(flags)

    def add_levels(
        self, ts_event: int, ts_recv: int, seq: int, side: int, levels: list[tuple[int, int]], flags: int
    ) -> None:
        n = len(levels)
        if not n:
            return
        self.ts_event.extend([ts_event] * n)
        self.ts_recv.extend([ts_recv] * n)
        self.seq.extend([seq] * n)
        self.side.extend([side] * n)
        self.action.extend([int(BookAction.SET)] * n)
        self.price.extend([p for p, _ in levels])
        self.size.extend([s for _, s in levels])
        self.flags.extend([flags] * n)

    def clear_event(self, ts_event: int, ts_recv: int, seq: int) -> None:
        self.add(ts_event, ts_recv, seq, 0, int(BookAction.CLEAR), UNDEF_PRICE, 0, int(Flags.SNAPSHOT))

    def mark_last(self) -> None:
        """Set Flags.LAST on the last row (call after the last row of an event)."""
        if self.flags:
            self.flags[-1] |= int(Flags.LAST)

    def frame(self) -> pl.DataFrame:
        n = len(self.seq)
        df = pl.DataFrame(
            {
                "ts_event": np.asarray(self.ts_event, dtype=np.int64),
                "ts_recv": np.asarray(self.ts_recv, dtype=np.int64),
                "seq": np.asarray(self.seq, dtype=np.int64),
                "side": np.asarray(self.side, dtype=np.int8),
                "action": np.asarray(self.action, dtype=np.uint8),
                "price": np.asarray(self.price, dtype=np.int64),
                "size": np.asarray(self.size, dtype=np.int64),
                "order_id": np.zeros(n, dtype=np.uint64),
                "flags": np.asarray(self.flags, dtype=np.uint8),
            }
        )
        return validate(df, BOOK_DELTAS, where="crypto deltas")


class TradeCols:
    """Column lists of TRADES rows."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, int, int, int, int, int, int]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(
        self,
        ts_event: int,
        ts_recv: int,
        seq: int,
        price: int,
        size: int,
        aggressor: int,
        kind: int,
        trade_id: int,
    ) -> None:
        self.rows.append((ts_event, ts_recv, seq, price, size, aggressor, kind, trade_id))

    def frame(self) -> pl.DataFrame:
        cols = list(zip(*self.rows, strict=True)) if self.rows else [()] * 8
        n = len(self.rows)
        df = pl.DataFrame(
            {
                "ts_event": np.asarray(cols[0], dtype=np.int64),
                "ts_recv": np.asarray(cols[1], dtype=np.int64),
                "seq": np.asarray(cols[2], dtype=np.int64),
                "price": np.asarray(cols[3], dtype=np.int64),
                "size": np.asarray(cols[4], dtype=np.int64),
                "aggressor": np.asarray(cols[5], dtype=np.int8),
                "kind": np.asarray(cols[6], dtype=np.uint8),
                "trade_id": np.asarray(cols[7], dtype=np.uint64),
                "order_id": np.zeros(n, dtype=np.uint64),
                "flags": np.full(n, int(Flags.LAST), dtype=np.uint8),
            }
        )
        return validate(df, TRADES, where="crypto trades")


class QCCols:
    """QC rows (one per flagged or quarantined source event)."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, str, str, str, str, str]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(
        self, seq: int, ts_event: int, table: str, rule: str, reason: str, action: str, detail: str
    ) -> None:
        self.rows.append((seq, ts_event, table, rule, reason, action, detail))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            key = f"{r[3]}:{r[4]}:{r[5]}"
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))

    def frame(self) -> pl.DataFrame:
        names = ["seq", "ts_event", "table", "rule", "reason", "action", "detail"]
        if not self.rows:
            return QC.empty()
        df = pl.DataFrame(self.rows, schema=names, orient="row")
        df = df.with_columns(pl.col("seq").cast(pl.Int64), pl.col("ts_event").cast(pl.Int64))
        return validate(df, QC, where="crypto qc")


class SnapshotCols:
    """BOOK_SNAPSHOTS rows (venue-published top-N: bookTicker, Tardis book_snapshot_N, quotes)."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.rows: list[list[int]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(
        self, ts_event: int, ts_recv: int, seq: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]
    ) -> None:
        d = self.depth
        row = [ts_event, ts_recv, seq]
        for lv in (bids, asks):
            px = [p for p, _ in lv[:d]] + [UNDEF_PRICE] * (d - min(len(lv), d))
            sz = [s for _, s in lv[:d]] + [0] * (d - min(len(lv), d))
            row += px + sz
        self.rows.append(row)

    def frame(self) -> pl.DataFrame:
        schema = book_snapshots(self.depth)
        names = schema.names
        arr = np.asarray(self.rows, dtype=np.int64).reshape(len(self.rows), len(names))
        df = pl.DataFrame({n: arr[:, i] for i, n in enumerate(names)})
        return validate(df, schema, where="crypto snapshots")


@dataclass
class CryptoResult:
    """What a crypto reader returns: canonical tables for one instrument plus counters.

    ``snapshots`` holds venue-published top-N books (Binance bookTicker = depth 1, Tardis
    book_snapshot_N, Tardis quotes = depth 1); None when the source has none.
    """

    deltas: pl.DataFrame
    trades: pl.DataFrame
    qc: pl.DataFrame
    instrument: Instrument
    stats: dict[str, Any] = field(default_factory=dict)
    snapshots: pl.DataFrame | None = None
    sources: list[str] = field(default_factory=list)


def _utc_date(ts: pl.Expr) -> pl.Expr:
    return pl.from_epoch(ts, time_unit="ns").dt.date()


def write_result(res: CryptoResult, out: str | Path | Dataset, *, source: str) -> list[dt.date]:
    """Write ``res`` into a Dataset, one partition per UTC date of ``ts_event``; returns the dates.

    ``seq`` stays the global order of the input stream (increasing within every partition).
    A date partition after the first starts mid-stream: its book state continues the previous date's.
    """
    ds = out if isinstance(out, Dataset) else Dataset(out)
    sym = res.instrument.symbol
    ds.add_instrument(res.instrument)
    tables: dict[str, pl.DataFrame] = {"book_deltas": res.deltas, "trades": res.trades, "qc": res.qc}
    if res.snapshots is not None:
        tables["book_snapshots"] = res.snapshots
    dates: set[dt.date] = set()
    for df in tables.values():
        if df.height:
            dates.update(df.select(_utc_date(pl.col("ts_event")).unique())["ts_event"].to_list())
    if not dates:
        raise DataFormatError(f"nothing to write for {sym}: no rows in any table", path=str(res.sources[:1]))
    for d in sorted(dates):
        rows: dict[str, int] = {}
        for name, df in tables.items():
            part = df.filter(_utc_date(pl.col("ts_event")) == d) if df.height else df
            schema = (
                book_snapshots(int(sum(1 for c in df.columns if c.startswith("bid_px_"))))
                if name == "book_snapshots"
                else None
            )
            ds.write(name, part, sym, d, schema=schema)
            rows[name] = part.height
        meta = {
            "source": source,
            "instrument": sym,
            "date": d.isoformat(),
            "files": [{"path": str(Path(p).resolve()), "sha256": file_digest(p)} for p in res.sources],
            "rows": rows,
            "stats": res.stats,
            "seq_note": "seq is the order of the whole input stream; a later date continues the earlier book",
        }
        ds.write_meta(sym, d, meta)
    return sorted(dates)


__all__ = [
    "JT_ARR",
    "JT_ESC",
    "JT_FALSE",
    "JT_NONE",
    "JT_NULL",
    "JT_NUM",
    "JT_OBJ",
    "JT_STR",
    "JT_TRUE",
    "PRICE_DIGITS",
    "SIZE_DIGITS",
    "SIZE_UNIT",
    "CryptoResult",
    "DeltaCols",
    "L2Book",
    "QCCols",
    "SnapshotCols",
    "TradeCols",
    "book_bbo_kernel",
    "dec_to_int",
    "infer_tick",
    "int_to_dec",
    "key_table",
    "open_text_lines",
    "parse_decimal_ranges",
    "parse_decimal_series",
    "parse_decimals_kernel",
    "parse_int_ranges",
    "parse_price",
    "parse_size",
    "ranges_index",
    "read_all_bytes",
    "scan_json_lines",
    "write_result",
]


# --------------------------------------------------------------------------------------------------
# Vectorised pieces (fast paths)
# --------------------------------------------------------------------------------------------------
def ranges_index(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, e)`` for each (s, e) pair, without a Python loop."""
    lens = (ends - starts).astype(np.int64)
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    keep = lens > 0
    s, ln = starts[keep].astype(np.int64), lens[keep]
    out = np.ones(total, dtype=np.int64)
    out[0] = s[0]
    pos = np.cumsum(ln)[:-1]
    out[pos] = s[1:] - (s[:-1] + ln[:-1] - 1)
    return np.cumsum(out)


@jit(inline="always")
def _slot2(keys: np.ndarray, used: np.ndarray, sd: int, p: int) -> int:
    """Open-addressing slot of price ``p`` in row ``sd`` of the 2-D tables (linear probing; keys are
    never removed; indexing the 2-D tables makes no array views: nothing to reference-count)."""
    mask = keys.shape[1] - 1
    h = p ^ (p >> 16) ^ (p >> 32)
    i = (h * 40503) & mask
    while used[sd, i] and keys[sd, i] != p:
        i = (i + 1) & mask
    return i


@jit(inline="always")
def _heap_push2(heap: np.ndarray, sd: int, n: int, v: int) -> int:
    i = n
    heap[sd, i] = v
    while i > 0:
        parent = (i - 1) >> 1
        if heap[sd, parent] >= heap[sd, i]:
            break
        tmp = heap[sd, parent]
        heap[sd, parent] = heap[sd, i]
        heap[sd, i] = tmp
        i = parent
    return n + 1


@jit(inline="always")
def _heap_pop2(heap: np.ndarray, sd: int, n: int) -> int:
    n -= 1
    heap[sd, 0] = heap[sd, n]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        c = left
        if left + 1 < n and heap[sd, left + 1] > heap[sd, left]:
            c = left + 1
        if heap[sd, i] >= heap[sd, c]:
            break
        tmp = heap[sd, c]
        heap[sd, c] = heap[sd, i]
        heap[sd, i] = tmp
        i = c
    return n


@jit(_nrt=False)
def _book_bbo_run(
    ev_reset: np.ndarray,
    ev_start: np.ndarray,
    ev_end: np.ndarray,
    side: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    keys: np.ndarray,
    vals: np.ndarray,
    used: np.ndarray,
    heap: np.ndarray,
    nh: np.ndarray,
    cnt: np.ndarray,
    out: np.ndarray,
    e: int,
) -> int:
    """Events ``e..`` of :func:`book_bbo_kernel` on the given state; stops (returning the event index)
    before an event that could fill either hash table beyond half its capacity. Allocates nothing, so it
    is compiled without reference counting (the inlined helpers take arrays)."""
    n_ev = ev_start.shape[0]
    cap = keys.shape[1]
    while e < n_ev:
        if ev_reset[e]:
            for sd in range(2):
                for i in range(cap):
                    used[sd, i] = False
                nh[sd] = 0
                cnt[sd] = 0
        if 2 * (max(cnt[0], cnt[1]) + ev_end[e] - ev_start[e]) > cap:
            return e
        for r in range(ev_start[e], ev_end[e]):
            sd = 0 if side[r] > 0 else 1
            p = price[r]
            q = size[r]
            i = _slot2(keys, used, sd, p)
            old = 0
            if used[sd, i]:
                old = vals[sd, i]
            else:
                used[sd, i] = True
                keys[sd, i] = p
                cnt[sd] += 1
            vals[sd, i] = q
            if q > 0 and old == 0:
                nh[sd] = _heap_push2(heap, sd, nh[sd], p if sd == 0 else -p)
        for sd in range(2):
            while nh[sd] > 0:
                top = heap[sd, 0] if sd == 0 else -heap[sd, 0]
                i = _slot2(keys, used, sd, top)
                if used[sd, i] and vals[sd, i] > 0:
                    break
                nh[sd] = _heap_pop2(heap, sd, nh[sd])
            if nh[sd] > 0:
                top = heap[sd, 0] if sd == 0 else -heap[sd, 0]
                out[e, 2 * sd] = top
                out[e, 2 * sd + 1] = vals[sd, _slot2(keys, used, sd, top)]
            else:
                out[e, 2 * sd] = -1
                out[e, 2 * sd + 1] = 0
        e += 1
    return e


@jit
def book_bbo_kernel(
    ev_reset: np.ndarray,
    ev_start: np.ndarray,
    ev_end: np.ndarray,
    side: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
) -> np.ndarray:
    """Apply SET events to a price-level book; return the BBO after each event.

    Events are applied in array order; event ``e`` covers level rows ``ev_start[e]:ev_end[e]`` and first
    empties the book when ``ev_reset[e]``. Rows: ``side`` +1 bid / -1 ask, ``price`` 1e-9 units, ``size``
    the new level size (0 deletes). Each side is a hash table price -> size plus a max-heap of prices
    (asks negated) with lazy deletion: O(log n) per update whatever the depth of the level.
    Returns int64 ``(n_events, 4)``: bid_px, bid_sz, ask_px, ask_sz; an empty side is (-1, 0).

    The hash tables start small (they stay in cache) and are rebuilt, keeping only the levels with a
    size, whenever an event could fill one beyond half its capacity (:func:`_book_bbo_run`).
    """
    n_ev = ev_start.shape[0]
    cap = 1024
    keys = np.zeros((2, cap), dtype=np.int64)
    vals = np.zeros((2, cap), dtype=np.int64)
    used = np.zeros((2, cap), dtype=np.bool_)
    heap = np.empty((2, price.shape[0] + 1), dtype=np.int64)
    nh = np.zeros(2, dtype=np.int64)
    cnt = np.zeros(2, dtype=np.int64)
    out = np.empty((n_ev, 4), dtype=np.int64)
    e = 0
    while True:
        e = _book_bbo_run(
            ev_reset, ev_start, ev_end, side, price, size, keys, vals, used, heap, nh, cnt, out, e
        )
        if e >= n_ev:
            break
        # rebuild: live levels only (a level of size 0 and an absent one read the same)
        live = 0
        for sd in range(2):
            k = 0
            for i in range(cap):
                if used[sd, i] and vals[sd, i] > 0:
                    k += 1
            live = max(live, k)
        new_cap = 1024
        while new_cap < 4 * (live + ev_end[e] - ev_start[e]):
            new_cap *= 2
        k2 = np.zeros((2, new_cap), dtype=np.int64)
        v2 = np.zeros((2, new_cap), dtype=np.int64)
        u2 = np.zeros((2, new_cap), dtype=np.bool_)
        for sd in range(2):
            c = 0
            for i in range(cap):
                if used[sd, i] and vals[sd, i] > 0:
                    j = _slot2(k2, u2, sd, keys[sd, i])
                    u2[sd, j] = True
                    k2[sd, j] = keys[sd, i]
                    v2[sd, j] = vals[sd, i]
                    c += 1
            cnt[sd] = c
        keys, vals, used, cap = k2, v2, u2, new_cap
    return out


_I64_MAX_DIV10 = (2**63 - 1) // 10


@jit
def parse_decimals_kernel(
    data: np.ndarray, offsets: np.ndarray, digits: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact decimal strings (Arrow string buffers) -> int64 counts of ``10**-digits`` and a bad mask.

    Value ``k`` is ``data[offsets[k]:offsets[k + 1]]`` (ASCII); see :func:`parse_decimal_ranges`.
    """
    return parse_decimal_ranges(data, offsets[:-1], offsets[1:], digits)


@jit(inline="always")
def _dec(data: np.ndarray, i: int, end: int, digits: int) -> tuple[int, bool]:
    """Exact decimal ``data[i:end]`` -> (count of ``10**-digits``, ok); see :func:`parse_decimal_ranges`."""
    neg = False
    if i < end and data[i] == 45:
        neg = True
        i += 1
    mag = 0
    frac = 0
    dot = False
    ndig = 0
    ok = True
    while i < end:
        c = int(data[i])
        i += 1
        if c == 46:
            if dot:
                ok = False
                break
            dot = True
            continue
        if c < 48 or c > 57:
            ok = False
            break
        d = c - 48
        ndig += 1
        if dot:
            if frac < digits:
                if mag > _I64_MAX_DIV10 or (mag == _I64_MAX_DIV10 and d > 7):
                    ok = False
                    break
                mag = mag * 10 + d
                frac += 1
            elif d != 0:
                ok = False
                break
        else:
            if mag > _I64_MAX_DIV10 or (mag == _I64_MAX_DIV10 and d > 7):
                ok = False
                break
            mag = mag * 10 + d
    if ok and ndig > 0:
        for _ in range(digits - frac):
            if mag > _I64_MAX_DIV10:
                ok = False
                break
            mag *= 10
    if not ok or ndig == 0:
        return 0, False
    return (-mag if neg else mag), True


@jit(_nrt=False)
def _parse_decimal_ranges_into(
    data: np.ndarray, starts: np.ndarray, ends: np.ndarray, digits: int, out: np.ndarray, bad: np.ndarray
) -> None:
    for k in range(starts.shape[0]):
        v, ok = _dec(data, starts[k], ends[k], digits)
        out[k] = v
        bad[k] = not ok


@jit
def parse_decimal_ranges(
    data: np.ndarray, starts: np.ndarray, ends: np.ndarray, digits: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact decimal strings ``data[starts[k]:ends[k]]`` -> int64 counts of ``10**-digits``, bad mask.

    Accepted: ``-?digits[.digits]`` and ``-?.digits``; decimals beyond ``digits`` must be zeros;
    overflow is bad. Same rules as :func:`dec_to_int`.
    """
    n = starts.shape[0]
    out = np.empty(n, dtype=np.int64)
    bad = np.empty(n, dtype=np.bool_)
    _parse_decimal_ranges_into(data, starts, ends, digits, out, bad)
    return out, bad


def parse_decimal_series(s: pl.Series, digits: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact decimal-string Series -> (int64 values, bad mask) through :func:`parse_decimals_kernel`.

    Nulls are bad rows.
    """
    import pyarrow as pa

    arr = s.cast(pl.Utf8).rechunk().to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.bool_)
    validity, offs_buf, data_buf = arr.buffers()
    offs = np.frombuffer(offs_buf, dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(1, dtype=np.uint8)
    vals, bad = parse_decimals_kernel(data, np.ascontiguousarray(offs), digits)
    if validity is not None:
        bad |= s.is_null().to_numpy()
    return vals, bad


# --------------------------------------------------------------------------------------------------
# A JSON-lines scanner for flat venue messages (numba)
# --------------------------------------------------------------------------------------------------
# Value types recorded by scan_json_lines
JT_NONE, JT_STR, JT_NUM, JT_TRUE, JT_FALSE, JT_NULL, JT_ARR, JT_OBJ, JT_ESC = 0, 1, 2, 3, 4, 5, 6, 7, 8


def key_table(keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Keys as a padded uint8 table plus lengths (arguments of :func:`scan_json_lines`)."""
    w = max(len(k) for k in keys)
    tab = np.zeros((len(keys), w), dtype=np.uint8)
    for i, k in enumerate(keys):
        tab[i, : len(k)] = np.frombuffer(k.encode(), dtype=np.uint8)
    return tab, np.array([len(k) for k in keys], dtype=np.int64)


@jit(inline="always")
def _ws(buf: np.ndarray, i: int, end: int) -> int:
    while i < end and (buf[i] == 32 or buf[i] == 9 or buf[i] == 13 or buf[i] == 10):
        i += 1
    return i


@jit(inline="always")
def _skip_string(buf: np.ndarray, i: int, end: int) -> tuple[int, bool]:
    """``buf[i]`` is the opening quote; returns (index of the closing quote or -1, had an escape)."""
    j = i + 1
    esc = False
    while j < end:
        c = buf[j]
        if c == 92:
            esc = True
            j += 2
            continue
        if c == 34:
            return j, esc
        j += 1
    return -1, esc


@jit(inline="always")
def _skip_nested(buf: np.ndarray, i: int, end: int) -> int:
    """``buf[i]`` opens an array or object; returns the index after its matching close, or -1."""
    depth = 0
    j = i
    while j < end:
        c = buf[j]
        if c == 34:
            q, _ = _skip_string(buf, j, end)
            if q < 0:
                return -1
            j = q + 1
            continue
        if c == 91 or c == 123:
            depth += 1
        elif c == 93 or c == 125:
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return -1


@jit(inline="always")
def _key_slot(buf: np.ndarray, ks: int, ke: int, keytab: np.ndarray, keylen: np.ndarray) -> int:
    n = ke - ks
    for k in range(keytab.shape[0]):
        if keylen[k] != n:
            continue
        same = True
        for m in range(n):
            if buf[ks + m] != keytab[k, m]:
                same = False
                break
        if same:
            return k
    return -1


@jit(inline="always")
def _scan_key(buf: np.ndarray, i: int, end: int, keytab: np.ndarray, keylen: np.ndarray) -> tuple[int, int]:
    """A member's ``"key":`` at ``buf[i]``: ``(slot of the key in keytab or -1, index of its value)``.

    The index is -1 on a syntax error (no string key, no colon, nothing after the colon).
    """
    if buf[i] != 34:
        return -1, -1
    q, _ = _skip_string(buf, i, end)
    if q < 0:
        return -1, -1
    slot = _key_slot(buf, i + 1, q, keytab, keylen)
    i = _ws(buf, q + 1, end)
    if i >= end or buf[i] != 58:
        return -1, -1
    i = _ws(buf, i + 1, end)
    if i >= end:
        return -1, -1
    return slot, i


@jit(inline="always")
def _scan_value(buf: np.ndarray, i: int, end: int) -> tuple[int, int, int, int]:
    """Scan the JSON value starting at ``buf[i]`` (``i < end``).

    Returns ``(type, start, end, next)``: the ``JT_*`` type code, the value's span (strings without
    their quotes) and the index after the value; ``next = -1`` on a syntax error.
    """
    c = buf[i]
    if c == 34:
        q, esc = _skip_string(buf, i, end)
        if q < 0:
            return 0, i, i, -1
        return (8 if esc else 1), i + 1, q, q + 1
    if c == 91 or c == 123:
        e0 = _skip_nested(buf, i, end)
        if e0 < 0:
            return 0, i, i, -1
        return (6 if c == 91 else 7), i, e0, e0
    if c == 116 or c == 110:  # true / null
        if i + 4 > end:
            return 0, i, i, -1
        return (3 if c == 116 else 5), i, i + 4, i + 4
    if c == 102:  # false
        if i + 5 > end:
            return 0, i, i, -1
        return 4, i, i + 5, i + 5
    if c == 45 or (c >= 48 and c <= 57):
        j = i + 1
        while j < end and (
            (buf[j] >= 48 and buf[j] <= 57)
            or buf[j] == 46
            or buf[j] == 101
            or buf[j] == 69
            or buf[j] == 43
            or buf[j] == 45
        ):
            j += 1
        return 2, i, j, j
    return 0, i, i, -1


@jit(inline="always")
def _scan_object(
    buf: np.ndarray,
    i: int,
    end: int,
    row: int,
    vs: np.ndarray,
    ve: np.ndarray,
    vt: np.ndarray,
    keytab: np.ndarray,
    keylen: np.ndarray,
    data_slot: int,
) -> tuple[int, int, int]:
    """Scan the object opening at ``buf[i]``, recording the values of known keys in row ``row``.

    Returns (index after the object or -1 on a syntax error, start and end of the ``data_slot``
    object value or -1, -1).
    """
    ds = -1
    de = -1
    i = _ws(buf, i + 1, end)
    if i < end and buf[i] == 125:
        return i + 1, ds, de
    while i < end:
        slot, i = _scan_key(buf, i, end, keytab, keylen)
        if i < 0:
            return -1, ds, de
        t, s0, e0, i = _scan_value(buf, i, end)
        if i < 0:
            return -1, ds, de
        if slot >= 0:
            if slot == data_slot and t == 7:
                ds = s0
                de = e0
            else:
                vs[row, slot] = s0
                ve[row, slot] = e0
                vt[row, slot] = t
        i = _ws(buf, i, end)
        if i < end and buf[i] == 44:
            i = _ws(buf, i + 1, end)
            continue
        if i < end and buf[i] == 125:
            return i + 1, ds, de
        return -1, ds, de
    return -1, ds, de


@jit(inline="always")
def _scan_envelope(
    buf: np.ndarray,
    i: int,
    end: int,
    row: int,
    vs: np.ndarray,
    ve: np.ndarray,
    vt: np.ndarray,
    keytab: np.ndarray,
    keylen: np.ndarray,
    data_slot: int,
) -> int:
    """:func:`_scan_object` for a line's top-level object, descending into a ``data_slot`` object
    value in the same pass (instead of skipping it, then scanning it again).

    Same recorded values as scanning the object, then (when it holds ``data_slot`` objects) clearing
    the row and scanning the last such object: each ``data_slot`` object clears the row and records
    its own keys, and other keys are recorded only until the first one. Returns the index after the
    object, or -1 on a syntax error.
    """
    seen = False
    i = _ws(buf, i + 1, end)
    if i < end and buf[i] == 125:
        return i + 1
    while i < end:
        slot, i = _scan_key(buf, i, end, keytab, keylen)
        if i < 0:
            return -1
        c = buf[i]
        if slot == data_slot and c == 123:
            for m in range(keytab.shape[0]):
                vt[row, m] = 0
            seen = True
            i, _, _ = _scan_object(buf, i, end, row, vs, ve, vt, keytab, keylen, -1)
            if i < 0:
                return -1
        else:
            t, s0, e0, i = _scan_value(buf, i, end)
            if i < 0:
                return -1
            if slot >= 0 and not seen:
                vs[row, slot] = s0
                ve[row, slot] = e0
                vt[row, slot] = t
        i = _ws(buf, i, end)
        if i < end and buf[i] == 44:
            i = _ws(buf, i + 1, end)
            continue
        if i < end and buf[i] == 125:
            return i + 1
        return -1
    return -1


@jit
def scan_json_lines(
    buf: np.ndarray,
    line_start: np.ndarray,
    line_end: np.ndarray,
    keytab: np.ndarray,
    keylen: np.ndarray,
    data_slot: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scan ``<int> <json object>`` lines; record the values of the keys in ``keytab``.

    When the object has key ``keytab[data_slot]`` (e.g. ``data``) holding an object, the values are
    taken from that inner object instead (combined-stream envelopes). Returns the leading integers,
    an ok mask (syntax and prefix valid), and per line and key the value's start, end and type
    (``JT_*``; strings exclude their quotes).
    """
    n = line_start.shape[0]
    k = keytab.shape[0]
    ts = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=np.bool_)
    vs = np.zeros((n, k), dtype=np.int64)
    ve = np.zeros((n, k), dtype=np.int64)
    vt = np.zeros((n, k), dtype=np.int8)
    scan_json_lines_into(buf, line_start, line_end, keytab, keylen, data_slot, ts, ok, vs, ve, vt)
    return ts, ok, vs, ve, vt


@jit(_nrt=False)
def scan_json_lines_into(
    buf: np.ndarray,
    line_start: np.ndarray,
    line_end: np.ndarray,
    keytab: np.ndarray,
    keylen: np.ndarray,
    data_slot: int,
    ts: np.ndarray,
    ok: np.ndarray,
    vs: np.ndarray,
    ve: np.ndarray,
    vt: np.ndarray,
) -> None:
    """:func:`scan_json_lines` into zeroed outputs of the caller (large numpy allocations get huge
    pages; none here, so no reference counting around the inlined helpers)."""
    n = line_start.shape[0]
    for r in range(n):
        i = line_start[r]
        end = line_end[r]
        v = 0
        nd = 0
        while i < end and buf[i] >= 48 and buf[i] <= 57 and nd < 19:
            v = v * 10 + (int(buf[i]) - 48)
            i += 1
            nd += 1
        if nd == 0 or i >= end or buf[i] != 32 or (nd == 19 and buf[line_start[r]] > 56):
            continue  # no '<int> ' prefix (or it would overflow int64)
        ts[r] = v
        i = _ws(buf, i + 1, end)
        if i >= end or buf[i] != 123:
            continue
        j = _scan_envelope(buf, i, end, r, vs, ve, vt, keytab, keylen, data_slot)
        if j < 0:
            continue
        if _ws(buf, j, end) != end:
            continue
        ok[r] = True


@jit
def parse_int_ranges(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integers ``buf[starts[k]:ends[k]]`` (``-?digits``, at most 18 digits) -> values, bad mask."""
    n = starts.shape[0]
    out = np.zeros(n, dtype=np.int64)
    bad = np.zeros(n, dtype=np.bool_)
    for k in range(n):
        i = starts[k]
        end = ends[k]
        neg = False
        if i < end and buf[i] == 45:
            neg = True
            i += 1
        if i >= end or end - i > 18:
            bad[k] = True
            continue
        v = 0
        while i < end:
            c = int(buf[i])
            if c < 48 or c > 57:
                bad[k] = True
                break
            v = v * 10 + (c - 48)
            i += 1
        out[k] = -v if neg else v
    return out, bad


@jit(_nrt=False)
def scan_levels(
    buf: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    px_digits: int,
    qty_digits: int,
    rows: np.ndarray,
    px: np.ndarray,
    qty: np.ndarray,
) -> tuple[int, int]:
    """Scan the ``[["price", "qty"], ...]`` arrays in ``buf[starts[k]:ends[k]]`` and parse both exact
    decimals in the same pass -> (array index ``k``, price, qty) per pair.

    The outputs must hold every pair (``sum(ends - starts) // 7 + 1`` always does: a pair takes at
    least 7 bytes). Returns (number of pairs, index of the first array that is malformed or holds a
    number that is not an exact decimal, or -1).
    """
    n = 0
    cap = rows.shape[0]
    for k in range(starts.shape[0]):
        i = starts[k]
        end = ends[k]
        if i >= end or buf[i] != 91:
            return n, k
        i = _ws(buf, i + 1, end)
        if i < end and buf[i] == 93:
            continue
        while True:
            if i >= end or buf[i] != 91:
                return n, k
            i = _ws(buf, i + 1, end)
            if i >= end or buf[i] != 34:
                return n, k
            a, esc = _skip_string(buf, i, end)
            if a < 0 or esc:
                return n, k
            p, ok1 = _dec(buf, i + 1, a, px_digits)
            i = _ws(buf, a + 1, end)
            if i >= end or buf[i] != 44:
                return n, k
            i = _ws(buf, i + 1, end)
            if i >= end or buf[i] != 34:
                return n, k
            b, esc = _skip_string(buf, i, end)
            if b < 0 or esc:
                return n, k
            q, ok2 = _dec(buf, i + 1, b, qty_digits)
            i = _ws(buf, b + 1, end)
            if i >= end or buf[i] != 93 or not ok1 or not ok2 or n >= cap:
                return n, k
            rows[n] = k
            px[n] = p
            qty[n] = q
            n += 1
            i = _ws(buf, i + 1, end)
            if i < end and buf[i] == 44:
                i = _ws(buf, i + 1, end)
                continue
            if i < end and buf[i] == 93:
                break
            return n, k
    return n, -1


@jit(inline="always")
def _int(buf: np.ndarray, i: int, end: int) -> tuple[int, bool]:
    """Integer ``buf[i:end]`` (``-?digits``, at most 18 digits) -> (value, ok); see parse_int_ranges."""
    neg = False
    if i < end and buf[i] == 45:
        neg = True
        i += 1
    if i >= end or end - i > 18:
        return 0, False
    v = 0
    while i < end:
        c = int(buf[i])
        if c < 48 or c > 57:
            return 0, False
        v = v * 10 + (c - 48)
        i += 1
    return (-v if neg else v), True


@jit(_nrt=False)
def ints_at(
    buf: np.ndarray,
    vs: np.ndarray,
    ve: np.ndarray,
    vt: np.ndarray,
    rows: np.ndarray,
    k: int,
    out: np.ndarray,
    present: np.ndarray,
) -> int:
    """Integer field ``k`` of the scanned lines ``rows`` (outputs of :func:`scan_json_lines`).

    Fills ``out`` (0 where absent) and ``present``; returns 0, or 1 when a value is there but not a
    number, 2 when a number is not a plain integer (:func:`parse_int_ranges` rules).
    """
    status = 0
    for m in range(rows.shape[0]):
        r = rows[m]
        t = vt[r, k]
        if t == 2:
            v, ok = _int(buf, vs[r, k], ve[r, k])
            if not ok:
                return 2
            out[m] = v
            present[m] = True
        else:
            if t != 0:
                status = 1
            out[m] = 0
            present[m] = False
    return status


@jit(_nrt=False)
def decs_at(
    buf: np.ndarray,
    vs: np.ndarray,
    ve: np.ndarray,
    vt: np.ndarray,
    rows: np.ndarray,
    k: int,
    digits: int,
    out: np.ndarray,
) -> int:
    """Decimal-string field ``k`` of the scanned lines ``rows`` -> ``out``; returns 0, or 1 when a
    value is missing or not a plain string, 2 when a string is not an exact decimal."""
    for m in range(rows.shape[0]):
        r = rows[m]
        if vt[r, k] != 1:
            return 1
        v, ok = _dec(buf, vs[r, k], ve[r, k], digits)
        if not ok:
            return 2
        out[m] = v
    return 0


@jit(_nrt=False)
def equals_at(
    buf: np.ndarray,
    vs: np.ndarray,
    ve: np.ndarray,
    vt: np.ndarray,
    rows: np.ndarray,
    k: int,
    pat: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out[m]``: field ``k`` of line ``rows[m]`` is a plain string equal to the bytes ``pat``."""
    n = pat.shape[0]
    for m in range(rows.shape[0]):
        r = rows[m]
        same = vt[r, k] == 1 and ve[r, k] - vs[r, k] == n
        if same:
            s0 = vs[r, k]
            for j in range(n):
                if buf[s0 + j] != pat[j]:
                    same = False
                    break
        out[m] = same
