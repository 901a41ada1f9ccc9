"""Binance spot and USD-M futures: raw websocket captures and data.binance.vision CSV files.

Raw captures (hftbacktest style): gzip text, one message per line, ``<local_ts_ns> <json>``. The JSON is
either a combined-stream envelope ``{"stream": ..., "data": {...}}`` or the bare payload; the REST
``/depth`` snapshot appears as a bare ``{"lastUpdateId", "bids", "asks"}`` line.

Local book procedure (Binance's "how to manage a local order book correctly", spot and USD-M):

1. buffer ``depthUpdate`` diffs until a snapshot is available;
2. drop diffs with ``u <= lastUpdateId``;
3. the first applied diff must straddle the snapshot: spot ``U <= lastUpdateId + 1 <= u``,
   USD-M ``U <= lastUpdateId <= u``;
4. afterwards every diff continues the previous one: spot ``U == prev_u + 1``, USD-M ``pu == prev_u``.

A broken rule is a gap: it is reported (QC rule ``binance_gap``), the book is marked unsynchronised and
every diff until the next snapshot is quarantined (QC action ``quarantine``), never applied. Several files
of one symbol continue each other (the book state carries over from file to file).

Output: one BOOK_DELTAS event per applied diff (action SET, 0 deletes, Flags.LAST on its last row),
snapshots as CLEAR + SET rows with Flags.SNAPSHOT; TRADES from ``trade`` (``m`` true = buyer is maker =
seller-initiated = -1); the venue's ``bookTicker`` as BOOK_SNAPSHOTS of depth 1. ``seq`` is the order in
which events were applied (a diff buffered before its snapshot is applied, and numbered, after it).

Clocks: ``ts_recv`` = the capture's local timestamp; ``ts_event`` = the venue's transaction time ``T``
when present (USD-M), else the event time ``E``. Spot bookTicker and the REST snapshot carry no venue
time: they get the latest venue time seen so far on the stream (so ``ts_event`` stays monotone).

Verification (``verify_binance``): a bookTicker carries the update id ``u`` of the book state it shows.
*Exact* check: compare it with the book right after applying the diff whose final id equals ``u``
(whichever of the two arrives first). *As-of* check: after each applied diff with final id ``F``, compare
the book with the latest bookTicker whose id is ``<= F``; because bookTicker pushes every change of the
best levels, the two must agree, and a disagreement is a data defect flagged in QC (rule
``binance_asof``), never corrected.

Engines: ``engine="reference"`` is :class:`BinanceReplayer`, a line-by-line state machine (orjson) that
is the executable specification; ``engine="fast"`` (default) scans all lines with a numba JSON-lines
scanner, parses prices and sizes exactly in numba, runs the same sync state machine on the diffs only,
applies the book in a numba kernel and does the bookTicker checks as vectorised joins. Both produce
identical tables and counters (tested); the fast engine hands any irregular input (unknown or malformed
line, bad number) to the reference engine, which raises or quarantines naming the file and line. The
fast engine holds the decompressed input in memory (the reference engine streams it).

Also here: data.binance.vision CSV files (:func:`read_binance_vision`) and Hyperliquid captures of
the same ``<local_ts_ns> <json>`` format (:func:`read_hyperliquid`).
"""

from __future__ import annotations

import bisect
import csv
import io
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl

from orderflow.core.enums import UNDEF_PRICE, AggressorSide, BookAction, Flags, Side, TradeKind
from orderflow.core.errors import ConfigError, DataFormatError
from orderflow.core.instruments import Instrument
from orderflow.core.io import Dataset
from orderflow.core.schema import BOOK_DELTAS, TRADES, book_snapshots, validate
from orderflow.core.time import NS_PER_MS, NS_PER_US
from orderflow.ingest._crypto import (
    JT_ARR,
    JT_FALSE,
    JT_NONE,
    JT_NULL,
    JT_NUM,
    JT_STR,
    JT_TRUE,
    PRICE_DIGITS,
    SIZE_DIGITS,
    SIZE_UNIT,
    CryptoResult,
    DeltaCols,
    L2Book,
    QCCols,
    SnapshotCols,
    TradeCols,
    book_bbo_kernel,
    dec_to_int,
    decs_at,
    equals_at,
    infer_tick,
    int_to_dec,
    ints_at,
    key_table,
    open_text_lines,
    ranges_index,
    read_all_bytes,
    scan_json_lines_into,
    scan_levels,
    write_result,
)

_LAST = int(Flags.LAST)
_SNAP = int(Flags.SNAPSHOT)
_SNAP_LAST = _SNAP | _LAST
_BID = int(Side.BID)
_ASK = int(Side.ASK)
_HIST = 20_000  # bookTickers / applied BBOs remembered for the id-matching checks
_MAX_BUFFER = 200_000  # diffs held while waiting for a snapshot before the oldest are quarantined

BBO = tuple[int, int, int, int]


class _Cache:
    """Decimal-string -> int memo (prices and sizes repeat a lot on a book stream)."""

    __slots__ = ("d", "digits")

    def __init__(self, digits: int) -> None:
        self.digits = digits
        self.d: dict[str, int] = {}

    def __call__(self, s: str) -> int:
        v = self.d.get(s)
        if v is None:
            v = dec_to_int(s, self.digits)
            if len(self.d) > 500_000:
                self.d.clear()
            self.d[s] = v
        return v


def _fmt_bbo(b: tuple[int, ...] | None) -> str:
    if b is None:
        return "none"
    return (
        f"bid {int_to_dec(b[0], PRICE_DIGITS)} x {int_to_dec(b[1], SIZE_DIGITS)} / "
        f"ask {int_to_dec(b[2], PRICE_DIGITS)} x {int_to_dec(b[3], SIZE_DIGITS)}"
    )


class BinanceReplayer:
    """Streaming state machine over Binance websocket messages of one symbol (spot or USD-M)."""

    def __init__(self, *, symbol: str | None = None, continue_on_error: bool = False) -> None:
        self.symbol = symbol.upper() if symbol else None
        self.continue_on_error = continue_on_error
        self.book = L2Book()
        self.deltas = DeltaCols()
        self.trades = TradeCols()
        self.qc = QCCols()
        self.quotes = SnapshotCols(1)
        self.px = _Cache(PRICE_DIGITS)
        self.sz = _Cache(SIZE_DIGITS)
        self.seq = 0
        self.market: str | None = None  # "spot" | "usdm"
        # book sync state
        self.have_snapshot = False
        self.synced = False
        self.need_first = False
        self.snap_id = -1
        self.last_u = -1
        self.ever_synced = False
        self.buffer: deque[tuple[dict[str, Any], int, int, int, str]] = deque()
        # clocks and ids
        self.last_recv = -1
        self.last_depth_ts = -1
        self.last_trade_ts = -1
        self.last_venue_ts = 0
        self.last_trade_id = -1
        self.last_bt_u = -1
        # verification
        self.applied: dict[int, BBO] = {}
        self.pending: dict[int, tuple[BBO, int, int]] = {}
        self.bt_ids: list[int] = []
        self.bt_bbo: list[BBO] = []
        self.asof_queue: deque[tuple[int, BBO, int, int]] = deque()
        self.snapshot_prices: list[int] = []
        self.first_bbo_mismatch: dict[str, Any] | None = None
        self.first_asof_mismatch: dict[str, Any] | None = None
        self.st: dict[str, Any] = {
            "engine": "reference",
            "lines": 0,
            "depth_events": 0,
            "applied": 0,
            "gaps": 0,
            "snapshots": 0,
            "superseded": 0,
            "quarantined": 0,
            "duplicates": 0,
            "book_tickers": 0,
            "trades": 0,
            "trade_id_gaps": 0,
            "bbo_checked": 0,
            "bbo_mismatches": 0,
            "bbo_unmatched": 0,
            "asof_checked": 0,
            "asof_mismatches": 0,
            "crossed_after_event": 0,
            "ts_recv_out_of_order": 0,
            "ts_event_out_of_order": 0,
            "malformed_lines": 0,
            "other_symbol": 0,
            "ignored_messages": 0,
        }

    # ------------------------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        s = self.seq
        self.seq += 1
        return s

    def _bad(self, msg: str, path: str, line: int, raw: bytes, field: str | None = None) -> None:
        if not self.continue_on_error:
            raise DataFormatError(msg, path=path, line=line, field=field)
        self.st["malformed_lines"] += 1
        self.qc.add(
            self._next_seq(),
            self.last_venue_ts,
            "raw",
            "parse_error",
            "malformed",
            "quarantine",
            f"{path}:{line}: {msg}: {raw[:200].decode('utf-8', 'replace')}",
        )

    def feed_file(self, path: str | Path) -> None:
        p = str(path)
        loads = orjson.loads
        lineno = 0
        for raw in open_text_lines(path):
            lineno += 1
            if not raw:
                continue
            self.st["lines"] += 1
            ts_s, _, js = raw.partition(b" ")
            try:
                ts_recv = int(ts_s)
            except ValueError:
                self._bad(
                    f"local timestamp {ts_s[:30]!r} is not an integer (expected '<local_ts_ns> <json>')",
                    p,
                    lineno,
                    raw,
                    "local_ts",
                )
                continue
            try:
                obj = loads(js)
            except orjson.JSONDecodeError as e:
                self._bad(f"malformed JSON ({e})", p, lineno, raw)
                continue
            if ts_recv < self.last_recv:
                self.st["ts_recv_out_of_order"] += 1
                self.qc.add(
                    self.seq,
                    self.last_venue_ts,
                    "raw",
                    "ts_recv_order",
                    "decreasing_local_ts",
                    "mark",
                    f"{p}:{lineno}: local ts {ts_recv} < previous {self.last_recv}",
                )
            else:
                self.last_recv = ts_recv
            try:
                self._dispatch(obj, ts_recv, p, lineno)
            except DataFormatError as e:
                if not self.continue_on_error:
                    raise
                self._bad(str(e), p, lineno, raw)
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
                self._bad(f"unexpected message shape ({type(e).__name__}: {e})", p, lineno, raw)

    def _dispatch(self, obj: Any, ts_recv: int, path: str, line: int) -> None:
        data = obj.get("data", obj) if isinstance(obj, dict) else obj
        if not isinstance(data, dict):
            raise DataFormatError("message is not a JSON object", path=path, line=line)
        e = data.get("e")
        if e is None:
            if "lastUpdateId" in data:
                self._on_snapshot(data, ts_recv, path, line)
                return
            if "u" in data and "b" in data and "B" in data:  # spot bookTicker has no "e"
                e = "bookTicker"
        sym = data.get("s")
        if sym is not None:
            if self.symbol is None:
                self.symbol = sym
            elif sym != self.symbol:
                self.st["other_symbol"] += 1
                return
        if e == "depthUpdate":
            self._on_depth(data, ts_recv, path, line)
        elif e == "bookTicker":
            self._on_book_ticker(data, ts_recv)
        elif e == "trade":
            self._on_trade(data, ts_recv, path, line)
        else:
            self.st["ignored_messages"] += 1
            self.qc.add(
                self._next_seq(),
                self.last_venue_ts,
                "raw",
                "unsupported_message",
                str(e),
                "quarantine",
                f"{path}:{line}: stream {obj.get('stream', '?') if isinstance(obj, dict) else '?'}",
            )

    # ------------------------------------------------------------------------------------------------
    def _levels(self, rows: list[list[str]], path: str, line: int, fld: str) -> list[tuple[int, int]]:
        px, sz = self.px, self.sz
        try:
            out = [(px(p), sz(q)) for p, q in rows]
        except ValueError as e:
            raise DataFormatError(f"bad level ({e})", path=path, line=line, field=fld) from None
        for _, q in out:
            if q < 0:
                raise DataFormatError("negative quantity", path=path, line=line, field=fld)
        return out

    def _on_snapshot(self, data: dict[str, Any], ts_recv: int, path: str, line: int) -> None:
        L = int(data["lastUpdateId"])
        bids = self._levels(data["bids"], path, line, "bids")
        asks = self._levels(data["asks"], path, line, "asks")
        t = data.get("T") or data.get("E")
        ts_event = int(t) * NS_PER_MS if t else self.last_venue_ts or ts_recv
        if len(self.snapshot_prices) < 20_000:
            self.snapshot_prices += [p for p, _ in bids[:5000]] + [p for p, _ in asks[:5000]]
        if self.synced and not self.need_first and self.last_u >= L:
            # An older (or equal) snapshot while in sync: check it instead of rewinding the book.
            self.st["snapshots"] += 1
            self.st["snapshots_behind"] = self.st.get("snapshots_behind", 0) + 1
            return
        self.st["snapshots"] += 1
        self._emit_snapshot([lv for lv in bids if lv[1]], [lv for lv in asks if lv[1]], ts_event, ts_recv, L)
        self.have_snapshot = True
        self.synced = True
        self.need_first = True
        self.snap_id = L
        self.last_u = L
        buffered = self.buffer
        self.buffer = deque()
        for item in buffered:
            self._process_depth(*item)

    def _emit_snapshot(
        self,
        bids: list[tuple[int, int]],
        asks: list[tuple[int, int]],
        ts_event: int,
        ts_recv: int,
        last_id: int,
    ) -> None:
        book = self.book
        book.clear()
        for p, q in bids:
            book.set_bid(p, q)
        for p, q in asks:
            book.set_ask(p, q)
        seq = self._next_seq()
        d = self.deltas
        d.clear_event(ts_event, ts_recv, seq)
        d.add_levels(ts_event, ts_recv, seq, _BID, bids, _SNAP)
        d.add_levels(ts_event, ts_recv, seq, _ASK, asks, _SNAP)
        d.mark_last()

    def _on_depth(self, data: dict[str, Any], ts_recv: int, path: str, line: int) -> None:
        self.st["depth_events"] += 1
        if self.market is None:
            self.market = "usdm" if "pu" in data else "spot"
        t = data.get("T") or data["E"]
        ts_event = int(t) * NS_PER_MS
        if ts_event < self.last_depth_ts:
            self.st["ts_event_out_of_order"] += 1
            self.qc.add(
                self.seq,
                ts_event,
                "book_deltas",
                "ts_event_order",
                "decreasing_depth_time",
                "mark",
                f"{path}:{line}: depth time {ts_event} < previous {self.last_depth_ts}",
            )
        else:
            self.last_depth_ts = ts_event
        if ts_event > self.last_venue_ts:
            self.last_venue_ts = ts_event
        if not self.synced:
            self.buffer.append((data, ts_event, ts_recv, line, path))
            if len(self.buffer) > _MAX_BUFFER:
                old = self.buffer.popleft()
                self._quarantine(old[0], old[1], old[4], old[3], "buffer_overflow")
            return
        self._process_depth(data, ts_event, ts_recv, line, path)

    def _quarantine(self, data: dict[str, Any], ts_event: int, path: str, line: int, reason: str) -> None:
        self.st["quarantined"] += 1
        self.qc.add(
            self._next_seq(),
            ts_event,
            "book_deltas",
            "binance_gap",
            reason,
            "quarantine",
            f"{path}:{line}: U={data['U']} u={data['u']}",
        )

    def _process_depth(self, data: dict[str, Any], ts_event: int, ts_recv: int, line: int, path: str) -> None:
        U = data["U"]
        u = data["u"]
        if not self.synced:
            self.buffer.append((data, ts_event, ts_recv, line, path))
            return
        if self.need_first:
            L = self.snap_id
            usdm = self.market == "usdm"
            # USD-M drops u < lastUpdateId (the diff ending exactly at it re-sets the same levels and
            # straddles); spot drops u <= lastUpdateId.
            if u < L or (u == L and not usdm):
                self.st["superseded"] += 1
                reason = "superseded_by_snapshot"
                action = "drop" if not self.ever_synced else "quarantine"
                self.qc.add(
                    self._next_seq(),
                    ts_event,
                    "book_deltas",
                    "binance_sync",
                    reason,
                    action,
                    f"{path}:{line}: U={U} u={u} <= lastUpdateId={L}",
                )
                return
            ok = (U <= L <= u or data.get("pu") == L) if usdm else (U <= L + 1 <= u)
            if not ok:
                self._gap(
                    data, ts_event, ts_recv, path, line, f"first diff after snapshot {L} does not straddle it"
                )
                return
            self.need_first = False
            self.ever_synced = True
        else:
            prev = self.last_u
            if u <= prev:
                self.st["duplicates"] += 1
                self.qc.add(
                    self._next_seq(),
                    ts_event,
                    "book_deltas",
                    "binance_duplicate",
                    "stale_update_id",
                    "drop",
                    f"{path}:{line}: U={U} u={u} <= previous u={prev}",
                )
                return
            if self.market == "usdm":
                pu = data.get("pu")
                if pu != prev:
                    self._gap(data, ts_event, ts_recv, path, line, f"pu={pu} != previous u={prev}")
                    return
            elif prev + 1 != U:
                self._gap(data, ts_event, ts_recv, path, line, f"U={U} != previous u+1={prev + 1}")
                return
        self._apply(data, ts_event, ts_recv, path, line)

    def _gap(self, data: dict[str, Any], ts_event: int, ts_recv: int, path: str, line: int, why: str) -> None:
        self.st["gaps"] += 1
        self.synced = False
        self.need_first = False
        self.qc.add(
            self.seq,
            ts_event,
            "book_deltas",
            "binance_gap",
            "sequence_gap",
            "quarantine",
            f"{path}:{line}: {why}; book unsynchronised until the next snapshot",
        )
        self.buffer.append((data, ts_event, ts_recv, line, path))

    def _apply(self, data: dict[str, Any], ts_event: int, ts_recv: int, path: str, line: int) -> None:
        bids = self._levels(data["b"], path, line, "b")
        asks = self._levels(data["a"], path, line, "a")
        book = self.book
        for p, q in bids:
            book.set_bid(p, q)
        for p, q in asks:
            book.set_ask(p, q)
        seq = self._next_seq()
        d = self.deltas
        d.add_levels(ts_event, ts_recv, seq, _BID, bids, 0)
        d.add_levels(ts_event, ts_recv, seq, _ASK, asks, 0)
        if bids or asks:
            d.mark_last()
        u = data["u"]
        self.last_u = u
        self.st["applied"] += 1
        if book.crossed():
            self.st["crossed_after_event"] += 1
            self.qc.add(
                seq,
                ts_event,
                "book_deltas",
                "crossed_book",
                "after_diff",
                "mark",
                f"{path}:{line}: u={u} {_fmt_bbo(book.bbo())}",
            )
        self._after_apply(u, seq, ts_event)

    # ------------------------------------------------------------------------------------------------
    def _on_book_ticker(self, data: dict[str, Any], ts_recv: int) -> None:
        self.st["book_tickers"] += 1
        u = data["u"]
        px, sz = self.px, self.sz
        bbo: BBO = (px(data["b"]), sz(data["B"]), px(data["a"]), sz(data["A"]))
        t = data.get("T") or data.get("E")
        ts_event = int(t) * NS_PER_MS if t else (self.last_venue_ts or ts_recv)
        seq = self._next_seq()
        self.quotes.add(
            ts_event, ts_recv, seq, [(bbo[0], bbo[1])] if bbo[1] else [], [(bbo[2], bbo[3])] if bbo[3] else []
        )
        if u <= self.last_bt_u:
            self.st["bbo_unmatched"] += 1  # stale/duplicate ticker: no id order to check against
            return
        self.last_bt_u = u
        # as-of checks waiting for a ticker past their final id
        q = self.asof_queue
        while q and q[0][0] < u:
            F, book_bbo, s, te = q.popleft()
            self._asof_compare(F, book_bbo, s, te)
        self.bt_ids.append(u)
        self.bt_bbo.append(bbo)
        if len(self.bt_ids) > 2 * _HIST:
            del self.bt_ids[:_HIST]
            del self.bt_bbo[:_HIST]
        # exact id match
        got = self.applied.get(u)
        if got is not None:
            self._bbo_compare(u, got, bbo, seq, ts_event)
        elif u > self.last_u and self.synced:
            self.pending[u] = (bbo, seq, ts_event)
        else:
            self.st["bbo_unmatched"] += 1

    def _after_apply(self, F: int, seq: int, ts_event: int) -> None:
        bbo = self.book.bbo()
        ap = self.applied
        ap[F] = bbo
        if len(ap) > _HIST:
            for k in list(ap)[: len(ap) - _HIST // 2]:
                del ap[k]
        pend = self.pending
        if pend:
            hit = pend.pop(F, None)
            if hit is not None:
                self._bbo_compare(F, bbo, hit[0], hit[1], hit[2])
            while pend:
                k = next(iter(pend))
                if k >= F:
                    break
                del pend[k]
                self.st["bbo_unmatched"] += 1
        if self.last_bt_u > F:
            self._asof_compare(F, bbo, seq, ts_event)
        else:
            self.asof_queue.append((F, bbo, seq, ts_event))

    def _bbo_compare(self, u: int, book_bbo: BBO, bt: BBO, seq: int, ts_event: int) -> None:
        self.st["bbo_checked"] += 1
        if book_bbo != bt:
            self.st["bbo_mismatches"] += 1
            detail = f"u={u}: book {_fmt_bbo(book_bbo)} vs bookTicker {_fmt_bbo(bt)}"
            if self.first_bbo_mismatch is None:
                self.first_bbo_mismatch = {
                    "u": u,
                    "seq": seq,
                    "book": _fmt_bbo(book_bbo),
                    "bookTicker": _fmt_bbo(bt),
                }
            self.qc.add(seq, ts_event, "book_snapshots", "binance_bbo", "bbo_mismatch", "mark", detail)

    def _asof_compare(self, F: int, book_bbo: BBO, seq: int, ts_event: int) -> None:
        ids = self.bt_ids
        i = bisect.bisect_right(ids, F) - 1
        if i < 0:
            return  # no ticker at or before F is known (start of capture or history trimmed)
        bt = self.bt_bbo[i]
        self.st["asof_checked"] += 1
        if bt != book_bbo:
            self.st["asof_mismatches"] += 1
            detail = f"after diff u={F}: book {_fmt_bbo(book_bbo)} vs bookTicker u={ids[i]} {_fmt_bbo(bt)}"
            if self.first_asof_mismatch is None:
                self.first_asof_mismatch = {
                    "u": F,
                    "bookTicker_u": ids[i],
                    "seq": seq,
                    "book": _fmt_bbo(book_bbo),
                    "bookTicker": _fmt_bbo(bt),
                }
            self.qc.add(seq, ts_event, "book_deltas", "binance_asof", "book_vs_bookticker", "mark", detail)

    # ------------------------------------------------------------------------------------------------
    def _on_trade(self, data: dict[str, Any], ts_recv: int, path: str, line: int) -> None:
        self.st["trades"] += 1
        t = data.get("T") or data["E"]
        ts_event = int(t) * NS_PER_MS
        tid = int(data["t"])
        seq = self._next_seq()
        if tid <= self.last_trade_id:
            self.st["duplicates"] += 1
            self.qc.add(
                seq,
                ts_event,
                "trades",
                "binance_duplicate",
                "stale_trade_id",
                "drop",
                f"{path}:{line}: trade id {tid} <= previous {self.last_trade_id}",
            )
            return
        if self.last_trade_id >= 0 and tid != self.last_trade_id + 1:
            self.st["trade_id_gaps"] += 1
            self.qc.add(
                seq,
                ts_event,
                "trades",
                "binance_trade_gap",
                "missing_trade_ids",
                "mark",
                f"{path}:{line}: trade id {tid} after {self.last_trade_id}",
            )
        self.last_trade_id = tid
        if ts_event < self.last_trade_ts:
            self.st["ts_event_out_of_order"] += 1
            self.qc.add(
                seq,
                ts_event,
                "trades",
                "ts_event_order",
                "decreasing_trade_time",
                "mark",
                f"{path}:{line}: trade time {ts_event} < previous {self.last_trade_ts}",
            )
        else:
            self.last_trade_ts = ts_event
        if ts_event > self.last_venue_ts:
            self.last_venue_ts = ts_event
        price = self.px(data["p"])
        size = self.sz(data["q"])
        if size <= 0:
            raise DataFormatError(
                f"trade quantity {data['q']!r} must be > 0", path=path, line=line, field="q"
            )
        aggressor = int(AggressorSide.SELL) if data["m"] else int(AggressorSide.BUY)
        x = data.get("X")
        kind = int(TradeKind.REGULAR) if x in (None, "MARKET") else int(TradeKind.OTHER)
        self.trades.add(ts_event, ts_recv, seq, price, size, aggressor, kind, tid)

    # ------------------------------------------------------------------------------------------------
    def finish(self) -> None:
        """End of input: diffs still waiting for a snapshot are quarantined; open checks are closed."""
        for data, ts_event, _ts_recv, line, path in self.buffer:
            self._quarantine(
                data, ts_event, path, line, "no_snapshot" if not self.have_snapshot else "unsynced"
            )
        self.buffer.clear()
        # as-of checks still waiting: the last known ticker <= F is the answer if one exists
        while self.asof_queue:
            F, bbo, s, te = self.asof_queue.popleft()
            self._asof_compare(F, bbo, s, te)
        self.st["bbo_unmatched"] += len(self.pending)
        self.pending.clear()

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"symbol": self.symbol, "market": self.market, **self.st}
        out["first_bbo_mismatch"] = self.first_bbo_mismatch
        out["first_asof_mismatch"] = self.first_asof_mismatch
        out["qc_counts"] = self.qc.counts()
        return out

    def instrument(self) -> Instrument:
        sym = self.symbol or "UNKNOWN"
        venue = "BINANCE_USDM" if self.market == "usdm" else "BINANCE"
        cur = next((c for c in ("USDT", "USDC", "FDUSD", "BUSD", "BTC", "ETH") if sym.endswith(c)), "USD")
        return Instrument(
            symbol=sym,
            venue=venue,
            tick_size=infer_tick(self.snapshot_prices),
            size_unit=SIZE_UNIT,
            currency=cur,
        )

    def result(self, sources: list[str]) -> CryptoResult:
        return CryptoResult(
            deltas=self.deltas.frame(),
            trades=self.trades.frame(),
            qc=self.qc.frame(),
            instrument=self.instrument(),
            stats=self.stats(),
            snapshots=self.quotes.frame(),
            sources=sources,
        )


def _ordered(paths: list[str | Path] | str | Path) -> list[str]:
    if isinstance(paths, str | Path):
        return [str(paths)]
    return [str(p) for p in paths]


def read_binance_capture(
    paths: list[str | Path] | str | Path,
    *,
    symbol: str | None = None,
    continue_on_error: bool = False,
    engine: str = "fast",
) -> CryptoResult:
    """Replay one or more consecutive raw capture files of one symbol (state carries across files).

    Parameters
    ----------
    paths
        Capture files in time order (gzip, zip or plain text; ``<local_ts_ns> <json>`` per line).
    symbol
        Keep only messages of this symbol (default: the first symbol seen).
    continue_on_error
        Quarantine malformed lines into QC (rule ``parse_error``) instead of raising DataFormatError.
    engine
        ``"fast"`` (vectorised decoding + numba book; falls back to the reference on any irregular
        input) or ``"reference"`` (the line-by-line state machine, :class:`BinanceReplayer`).
    """
    files = _ordered(paths)
    if engine not in ("fast", "reference"):
        raise ConfigError(f"engine: must be 'fast' or 'reference', got {engine!r}")
    if engine == "fast":
        try:
            return _fast_capture(files, symbol)
        except _Fallback:
            pass  # the reference engine reports the exact file, line and rule (or quarantines)
    r = BinanceReplayer(symbol=symbol, continue_on_error=continue_on_error)
    for f in files:
        r.feed_file(f)
    r.finish()
    return r.result(files)


VERIFY_KEYS = (
    "depth_events",
    "applied",
    "gaps",
    "bbo_checked",
    "bbo_mismatches",
    "asof_checked",
    "asof_mismatches",
    "first_bbo_mismatch",
)


def verify_binance(
    paths: list[str | Path] | str | Path,
    *,
    symbol: str | None = None,
    continue_on_error: bool = False,
    engine: str = "fast",
) -> dict[str, Any]:
    """Replay capture files and check the book against the venue's bookTicker (see module docstring).

    Returns counters: ``depth_events``, ``applied``, ``gaps``, ``bbo_checked``, ``bbo_mismatches``
    (exact update-id matches), ``asof_checked``, ``asof_mismatches``, ``first_bbo_mismatch``,
    ``first_asof_mismatch`` and the QC counts, plus ``files``.
    """
    res = read_binance_capture(paths, symbol=symbol, continue_on_error=continue_on_error, engine=engine)
    out = dict(res.stats)
    out["files"] = _ordered(paths)
    return out


def ingest_binance(
    paths: list[str | Path] | str | Path,
    out: str | Path | Dataset,
    *,
    symbol: str | None = None,
    continue_on_error: bool = False,
    engine: str = "fast",
) -> CryptoResult:
    """Read capture files and write a canonical Dataset (partitions: symbol / UTC date of ts_event)."""
    res = read_binance_capture(paths, symbol=symbol, continue_on_error=continue_on_error, engine=engine)
    write_result(res, out, source="binance_capture")
    return res


# ====================================================================================================
# data.binance.vision CSV files
# ====================================================================================================
DEPTH_COLUMNS = (
    "symbol",
    "timestamp",
    "first_update_id",
    "last_update_id",
    "side",
    "update_type",
    "price",
    "qty",
    "pu",
)
TRADE_COLUMNS = ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match")
AGG_TRADE_COLUMNS = (
    "agg_trade_id",
    "price",
    "quantity",
    "first_trade_id",
    "last_trade_id",
    "transact_time",
    "is_buyer_maker",
    "is_best_match",
)
BOOK_TICKER_COLUMNS = (
    "update_id",
    "best_bid_price",
    "best_bid_qty",
    "best_ask_price",
    "best_ask_qty",
    "transaction_time",
    "event_time",
)


def _vision_ts(v: str, path: str, line: int, fld: str) -> int:
    """data.vision times are ms (spot switched to µs in 2025): pick by magnitude."""
    try:
        t = int(v)
    except ValueError:
        raise DataFormatError(f"time {v!r} is not an integer", path=path, line=line, field=fld) from None
    return t * NS_PER_US if t > 10**14 else t * NS_PER_MS


def _csv_rows(
    path: str | Path, columns: tuple[str, ...], *, required: int
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line_no, fields)]) of a data.vision CSV; a header row is optional."""
    lines = list(open_text_lines(path))
    rows: list[tuple[int, list[str]]] = []
    header = list(columns)
    start = 0
    if lines and lines[0][:1].isalpha() and not lines[0][:1].isdigit():
        first = next(csv.reader(io.StringIO(lines[0].decode())))
        if not first[0].upper().isupper() or not any(ch.isdigit() for ch in first[0]):
            header = [h.strip() for h in first]
            start = 1
    for i in range(start, len(lines)):
        if not lines[i].strip():
            continue
        f = lines[i].decode().split(",")
        if len(f) < required:
            missing = header[len(f)] if len(f) < len(header) else "?"
            raise DataFormatError(
                f"row has {len(f)} fields, expected >= {required} (missing column '{missing}')",
                path=path,
                line=i + 1,
                field=missing,
            )
        rows.append((i + 1, f))
    return header, rows


def read_binance_vision(
    *,
    depth_snapshot: str | Path | None = None,
    depth_update: str | Path | None = None,
    trades: str | Path | None = None,
    agg_trades: str | Path | None = None,
    book_ticker: str | Path | None = None,
    symbol: str | None = None,
    futures: bool = True,
) -> CryptoResult:
    """Read data.binance.vision CSV files of one symbol and day.

    ``depth_snapshot``/``depth_update`` are the ``T_DEPTH`` files (columns :data:`DEPTH_COLUMNS`): rows
    sharing ``last_update_id`` form one event; ``snap`` rows become CLEAR + SET (Flags.SNAPSHOT); ``set``
    rows are applied with the USD-M rule (first update straddles the snapshot id, then
    ``pu == previous last_update_id``). An update that does not chain is a gap (QC ``binance_gap``) and
    is quarantined until the next snapshot, never applied. ``trades``/``agg_trades`` become TRADES
    (``is_buyer_maker`` true = seller-initiated); ``book_ticker`` becomes BOOK_SNAPSHOTS depth 1.
    Header rows are optional (column order as data.vision documents it).
    """
    r = BinanceReplayer(symbol=symbol)
    r.market = "usdm" if futures else "spot"
    sources: list[str] = []
    events: list[
        tuple[int, int, str, list[tuple[int, list[str]]], str]
    ] = []  # (ts, kind_order, kind, rows, path)
    for dpath, _kind in ((depth_snapshot, "snap"), (depth_update, "update")):
        if dpath is None:
            continue
        sources.append(str(dpath))
        _, rows = _csv_rows(dpath, DEPTH_COLUMNS, required=8)
        groups: dict[tuple[str, str, str], list[tuple[int, list[str]]]] = {}
        for ln, f in rows:
            if f[5] not in ("snap", "set"):
                raise DataFormatError(
                    f"update_type {f[5]!r} not in (snap, set)", path=dpath, line=ln, field="update_type"
                )
            if f[4] not in ("a", "b"):
                raise DataFormatError(f"side {f[4]!r} not in (a, b)", path=dpath, line=ln, field="side")
            groups.setdefault((f[1], f[3], f[5]), []).append((ln, f))
        for (ts_s, _, utype), grp in groups.items():
            events.append((_vision_ts(ts_s, str(dpath), grp[0][0], "timestamp"), 0, utype, grp, str(dpath)))
    events.sort(key=lambda e: (e[0], int(e[3][0][1][3]), e[2] != "snap"))
    for ev_ts, _, utype, grp, ev_path in events:
        if symbol is None and r.symbol is None:
            r.symbol = grp[0][1][0]
        f0 = grp[0][1]
        if utype == "snap":
            data: dict[str, Any] = {
                "lastUpdateId": int(f0[3]),
                "bids": [[f[6], f[7]] for _, f in grp if f[4] == "b"],
                "asks": [[f[6], f[7]] for _, f in grp if f[4] == "a"],
                "T": ev_ts // NS_PER_MS,
            }
            r.st["lines"] += len(grp)
            r._on_snapshot(data, ev_ts, ev_path, grp[0][0])
        else:
            pu = int(f0[8]) if len(f0) > 8 and f0[8] not in ("", "-1") else None
            data = {
                "e": "depthUpdate",
                "T": ev_ts // NS_PER_MS,
                "E": ev_ts // NS_PER_MS,
                "U": int(f0[2]),
                "u": int(f0[3]),
                "b": [[f[6], f[7]] for _, f in grp if f[4] == "b"],
                "a": [[f[6], f[7]] for _, f in grp if f[4] == "a"],
            }
            if pu is not None or futures:
                data["pu"] = pu
            r.st["lines"] += len(grp)
            r._on_depth(data, ev_ts, ev_path, grp[0][0])
    for tpath, agg in ((trades, False), (agg_trades, True)):
        if tpath is None:
            continue
        sources.append(str(tpath))
        _read_vision_trades(r, str(tpath), agg)
    if book_ticker is not None:
        sources.append(str(book_ticker))
        _, rows = _csv_rows(book_ticker, BOOK_TICKER_COLUMNS, required=6)
        for ln, f in rows:
            bt_ts = _vision_ts(f[5], str(book_ticker), ln, "transaction_time")
            r._on_book_ticker(
                {"u": int(f[0]), "b": f[1], "B": f[2], "a": f[3], "A": f[4], "T": bt_ts // NS_PER_MS}, bt_ts
            )
    r.finish()
    return r.result(sources)


def _read_vision_trades(r: BinanceReplayer, path: str, agg: bool) -> None:
    cols = AGG_TRADE_COLUMNS if agg else TRADE_COLUMNS
    header, rows = _csv_rows(path, cols, required=6 if not agg else 7)
    # futures trades: id, price, qty, quote_qty, time, is_buyer_maker (6 cols); spot adds is_best_match
    idx = {h: i for i, h in enumerate(header)}
    t_col = idx.get("transact_time" if agg else "time", 5 if agg else 4)
    m_col = idx.get("is_buyer_maker", 6 if agg else 5)
    q_col = idx.get("quantity" if agg else "qty", 2)
    for ln, f in rows:
        ts = _vision_ts(f[t_col], path, ln, "time")
        m = f[m_col].strip().lower()
        if m not in ("true", "false"):
            raise DataFormatError(
                f"is_buyer_maker {f[m_col]!r} not true/false", path=path, line=ln, field="is_buyer_maker"
            )
        try:
            r._on_trade(
                {"t": int(f[0]), "p": f[1], "q": f[q_col], "T": ts // NS_PER_MS, "m": m == "true"},
                ts,
                path,
                ln,
            )
        except ValueError:
            raise DataFormatError(f"bad trade row {f!r}", path=path, line=ln) from None


def ingest_binance_vision(out: str | Path | Dataset, **files: Any) -> CryptoResult:
    """:func:`read_binance_vision` then write a canonical Dataset."""
    res = read_binance_vision(**files)
    write_result(res, out, source="binance_vision")
    return res


__all__ = [
    "BinanceReplayer",
    "ingest_binance",
    "ingest_binance_vision",
    "ingest_hyperliquid",
    "read_binance_capture",
    "read_binance_vision",
    "read_hyperliquid",
    "verify_binance",
]


# ====================================================================================================
# Fast engine for raw captures: vectorised decoding, Python only for the per-diff sync decisions,
# a numba kernel for the book. It produces the same tables as BinanceReplayer (the reference engine,
# kept as the executable specification) and falls back to it whenever the input is anything but clean
# (an unknown or malformed line, a bad number): the reference then raises or quarantines with the
# exact file and line.
# ====================================================================================================
K_SKIP, K_DEPTH, K_TRADE, K_BT, K_SNAP, K_OTHER = 0, 1, 2, 3, 4, 5


class _Fallback(Exception):
    """The fast engine met something only the reference engine reports precisely."""


class _FastReplayer(BinanceReplayer):
    """Runs the reference sync state machine on decoded ids only; book and checks are vectorised."""

    def __init__(self, *, symbol: str | None = None) -> None:
        super().__init__(symbol=symbol)
        # applied events in order: (is_snapshot, source index, seq, ts_event, ts_recv, final id)
        self.events: list[tuple[int, int, int, int, int, int]] = []
        self.snap_levels: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]] = []
        self.recv_arr = np.zeros(0, dtype=np.int64)  # ts_recv of every input line
        self.dp_line_rows = np.zeros(0, dtype=np.int64)  # input line of every depth row

    def _emit_snapshot(
        self,
        bids: list[tuple[int, int]],
        asks: list[tuple[int, int]],
        ts_event: int,
        ts_recv: int,
        last_id: int,
    ) -> None:
        self.snap_levels.append((bids, asks))
        self.events.append((1, len(self.snap_levels) - 1, self._next_seq(), ts_event, ts_recv, last_id))

    def _apply(self, data: dict[str, Any], ts_event: int, ts_recv: int, path: str, line: int) -> None:
        u = data["u"]
        self.events.append((0, data["row"], self._next_seq(), ts_event, ts_recv, u))
        self.last_u = u
        self.st["applied"] += 1


_KEYS = [
    "e",
    "E",
    "T",
    "s",
    "U",
    "u",
    "pu",
    "b",
    "a",
    "B",
    "A",
    "t",
    "p",
    "q",
    "m",
    "X",
    "lastUpdateId",
    "data",
]
_SL = {k: i for i, k in enumerate(_KEYS)}


def _pat(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype=np.uint8).copy()


class _Scan:
    """Raw lines of all files scanned once: leading ints, value ranges and types per known key."""

    def __init__(self, files: list[str]) -> None:
        blobs = [read_all_bytes(f) for f in files]
        fidx: list[np.ndarray] = []
        lnum: list[np.ndarray] = []
        starts: list[np.ndarray] = []
        ends: list[np.ndarray] = []
        off = 0
        for i, blob in enumerate(blobs):
            arr = np.frombuffer(blob, dtype=np.uint8)
            nl = np.flatnonzero(arr == 10)
            st = np.concatenate([[0], nl + 1])
            en = np.concatenate([nl, [len(arr)]])
            if len(en) and st[-1] == len(arr):  # trailing newline
                st, en = st[:-1], en[:-1]
            starts.append(st + off)
            ends.append(en + off)
            fidx.append(np.full(len(st), i, dtype=np.int32))
            lnum.append(np.arange(1, len(st) + 1, dtype=np.int64))
            off += len(arr) + 1
        if len(blobs) == 1:
            self.buf = np.frombuffer(blobs[0], dtype=np.uint8)
        elif blobs:  # the files joined by newlines (a numpy buffer: huge pages, unlike a bytes join)
            self.buf = np.empty(off - 1, dtype=np.uint8)
            pos = 0
            for blob in blobs:
                if pos:
                    self.buf[pos - 1] = 10
                self.buf[pos : pos + len(blob)] = np.frombuffer(blob, dtype=np.uint8)
                pos += len(blob) + 1
        else:
            self.buf = np.zeros(1, np.uint8)
        if not len(self.buf):
            self.buf = np.zeros(1, np.uint8)
        self.start = np.concatenate(starts).astype(np.int64) if starts else np.zeros(0, np.int64)
        self.end = np.concatenate(ends).astype(np.int64) if ends else np.zeros(0, np.int64)
        self.fidx = np.concatenate(fidx) if fidx else np.zeros(0, np.int32)
        self.lnum = np.concatenate(lnum) if lnum else np.zeros(0, np.int64)
        tab, lens = key_table(_KEYS)
        n, k = len(self.start), len(_KEYS)
        # outputs allocated here (numpy: huge pages), filled by the allocation-free scanner; indexed
        # [line, key] but stored key-major, so that reading one key over all lines is sequential
        self.ts = np.zeros(n, dtype=np.int64)
        self.ok = np.zeros(n, dtype=np.bool_)
        self.vs = np.zeros((k, n), dtype=np.int64).T
        self.ve = np.zeros((k, n), dtype=np.int64).T
        self.vt = np.zeros((k, n), dtype=np.int8).T
        scan_json_lines_into(
            self.buf,
            self.start,
            self.end,
            tab,
            lens,
            _SL["data"],
            self.ts,
            self.ok,
            self.vs,
            self.ve,
            self.vt,
        )

    def typ(self, rows: np.ndarray, key: str) -> np.ndarray:
        return self.vt[rows, _SL[key]]

    def ints(self, rows: np.ndarray, key: str, required: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(values, present) of an integer field; a malformed or (if required) missing one falls back."""
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        v = np.empty(len(rows), dtype=np.int64)
        present = np.empty(len(rows), dtype=np.bool_)
        status = ints_at(self.buf, self.vs, self.ve, self.vt, rows, _SL[key], v, present)
        if status == 1 or (required and not present.all()):
            raise _Fallback(f"field {key} missing or not an integer")
        if status == 2:
            raise _Fallback(f"field {key} not an integer")
        return v, present

    def decs(self, rows: np.ndarray, key: str, digits: int) -> np.ndarray:
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        v = np.empty(len(rows), dtype=np.int64)
        status = decs_at(self.buf, self.vs, self.ve, self.vt, rows, _SL[key], digits, v)
        if status == 1:
            raise _Fallback(f"field {key} missing or not a plain string")
        if status == 2:
            raise _Fallback(f"field {key} not an exact decimal")
        return v

    def equals(self, rows: np.ndarray, key: str, text: str) -> np.ndarray:
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        out = np.empty(len(rows), dtype=np.bool_)
        equals_at(self.buf, self.vs, self.ve, self.vt, rows, _SL[key], _pat(text), out)
        return out

    def text(self, row: int) -> bytes:
        return bytes(self.buf[self.start[row] : self.end[row]])

    def levels(self, rows: np.ndarray, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row index into ``rows``, price, qty) of every [price, qty] pair of array field ``key``."""
        k = _SL[key]
        if (self.vt[rows, k] != JT_ARR).any():
            raise _Fallback(f"field {key} missing or not an array")
        s0 = np.ascontiguousarray(self.vs[rows, k])
        e0 = np.ascontiguousarray(self.ve[rows, k])
        cap = int((e0 - s0).sum()) // 7 + 1  # a pair takes at least 7 bytes
        rr = np.empty(cap, dtype=np.int64)
        px = np.empty(cap, dtype=np.int64)
        qty = np.empty(cap, dtype=np.int64)
        n, bad = scan_levels(self.buf, s0, e0, PRICE_DIGITS, SIZE_DIGITS, rr, px, qty)
        if bad >= 0:
            raise _Fallback(f"field {key}: malformed level array or bad level")
        rr, px, qty = rr[:n], px[:n], qty[:n]
        if (qty < 0).any():
            raise _Fallback(f"field {key}: bad level")
        return rr, px, qty


def _fast_capture(files: list[str], symbol: str | None) -> CryptoResult:
    sc = _Scan(files)
    n = len(sc.start)
    fidx, lnum = sc.fidx, sc.lnum
    empty = sc.end == sc.start
    if not (sc.ok | empty).all():
        raise _Fallback("malformed line")
    allr = np.arange(n)
    kind = np.full(n, K_OTHER, dtype=np.int8)
    has_e = sc.typ(allr, "e") != JT_NONE
    kind[sc.equals(allr, "e", "depthUpdate")] = K_DEPTH
    kind[sc.equals(allr, "e", "trade")] = K_TRADE
    bare_bt = (~has_e) & (sc.typ(allr, "u") == JT_NUM) & (sc.typ(allr, "B") == JT_STR)
    kind[sc.equals(allr, "e", "bookTicker") | bare_bt] = K_BT
    kind[(~has_e) & (sc.typ(allr, "lastUpdateId") == JT_NUM)] = K_SNAP
    kind[empty] = K_SKIP
    if (kind == K_OTHER).any():
        raise _Fallback("unclassified line")
    ts_recv = sc.ts
    bt_rows = np.flatnonzero(kind == K_BT)
    tr_rows = np.flatnonzero(kind == K_TRADE)
    dp_rows = np.flatnonzero(kind == K_DEPTH)
    sn_rows = np.flatnonzero(kind == K_SNAP)
    # bookTicker
    bt_u, _ = sc.ints(bt_rows, "u")
    bt_T, bt_hasT = sc.ints(bt_rows, "T", required=False)
    bt_E, bt_hasE = sc.ints(bt_rows, "E", required=False)
    bt = pl.DataFrame(
        {
            "u": bt_u,
            "b": sc.decs(bt_rows, "b", PRICE_DIGITS),
            "B": sc.decs(bt_rows, "B", SIZE_DIGITS),
            "a": sc.decs(bt_rows, "a", PRICE_DIGITS),
            "A": sc.decs(bt_rows, "A", SIZE_DIGITS),
        }
    )
    bt_tms = np.where(bt_hasT & (bt_T != 0), bt_T, np.where(bt_hasE, bt_E, 0))
    # trades
    tr_t, _ = sc.ints(tr_rows, "t")
    tr_T, tr_hasT = sc.ints(tr_rows, "T", required=False)
    tr_E, tr_hasE = sc.ints(tr_rows, "E", required=False)
    if not (tr_hasT | tr_hasE).all():
        raise _Fallback("trade time missing")
    m_t = sc.typ(tr_rows, "m")
    if not np.isin(m_t, (JT_TRUE, JT_FALSE)).all():
        raise _Fallback("trade m missing")
    x_t = sc.typ(tr_rows, "X")
    market = np.isin(x_t, (JT_NONE, JT_NULL)) | sc.equals(tr_rows, "X", "MARKET")
    tr = pl.DataFrame(
        {
            "t": tr_t,
            "p": sc.decs(tr_rows, "p", PRICE_DIGITS),
            "q": sc.decs(tr_rows, "q", SIZE_DIGITS),
            "m": m_t == JT_TRUE,
            "market": market,
            "te": np.where(tr_hasT & (tr_T != 0), tr_T, tr_E) * NS_PER_MS,
        }
    )
    # depth diffs
    dp_U, _ = sc.ints(dp_rows, "U")
    dp_u, _ = sc.ints(dp_rows, "u")
    dp_pu_v, dp_has_pu = sc.ints(dp_rows, "pu", required=False)
    dp_T, dp_hasT = sc.ints(dp_rows, "T", required=False)
    dp_E, dp_hasE = sc.ints(dp_rows, "E", required=False)
    if not (dp_hasT | dp_hasE).all():
        raise _Fallback("depth time missing")
    rb, pb, qb = sc.levels(dp_rows, "b")
    ra, pa, qa = sc.levels(dp_rows, "a")
    lv_row = np.concatenate([rb, ra])
    lv_side = np.concatenate([np.full(len(rb), _BID, np.int8), np.full(len(ra), _ASK, np.int8)])
    order = np.argsort(lv_row, kind="stable")  # within a diff: bids first, then asks, each in message order
    lv = pl.DataFrame(
        {
            "row": lv_row[order],
            "side": lv_side[order],
            "px": np.concatenate([pb, pa])[order],
            "qty": np.concatenate([qb, qa])[order],
        }
    )
    # symbols
    s_t = sc.vt[:, _SL["s"]]
    r = _FastReplayer(symbol=symbol)
    if r.symbol is None:
        with_s = np.flatnonzero((s_t == JT_STR) & ~empty)
        if len(with_s):
            k0 = int(with_s[0])
            r.symbol = bytes(sc.buf[sc.vs[k0, _SL["s"]] : sc.ve[k0, _SL["s"]]]).decode()
    other = (s_t != JT_NONE) & ~empty
    if r.symbol is not None:
        other &= ~sc.equals(allr, "s", r.symbol)
    other &= kind != K_SNAP
    r.st["other_symbol"] = int(other.sum())
    kind[other] = K_SKIP
    r.st["lines"] = int((~empty).sum())
    r.st["engine"] = "fast"
    r.recv_arr = ts_recv
    r.dp_line_rows = dp_rows
    # per-kind row positions
    pos = np.full(n, -1, dtype=np.int64)
    pos[bt_rows] = np.arange(len(bt_rows))
    pos[tr_rows] = np.arange(len(tr_rows))
    pos[dp_rows] = np.arange(len(dp_rows))
    pos[sn_rows] = np.arange(len(sn_rows))
    dp_U = dp_U.tolist()
    dp_u = dp_u.tolist()
    dp_pu = [int(v) if h else None for v, h in zip(dp_pu_v.tolist(), dp_has_pu.tolist(), strict=True)]
    dp_te_arr = np.where(dp_hasT & (dp_T != 0), dp_T, dp_E) * NS_PER_MS
    dp_te = dp_te_arr.tolist()
    names = [str(f) for f in files]
    qc = r.qc
    live = kind != K_SKIP
    simple = live & ((kind == K_BT) | (kind == K_TRADE))
    ev_lines = np.flatnonzero(live & ((kind == K_DEPTH) | (kind == K_SNAP)))
    # venue clock seen before each line (depth and trade times), as the reference's last_venue_ts
    venue = np.zeros(n, dtype=np.int64)
    venue[dp_rows] = dp_te_arr
    venue[tr_rows] = tr["te"].to_numpy()
    venue[~live] = 0
    vmax = np.concatenate([[0], np.maximum.accumulate(venue)[:-1]]) if n else venue
    # capture clock going backwards
    rl = np.where(live, ts_recv, -1)
    rmax = np.concatenate([[-1], np.maximum.accumulate(rl)[:-1]]) if n else rl
    late_recv = live & (ts_recv < rmax)
    r.st["ts_recv_out_of_order"] = int(late_recv.sum())
    # seq: every bookTicker/trade takes one at its line; diffs and snapshots take what the sync logic uses
    nsb = np.cumsum(simple) - simple  # simple lines before each line
    cons_after = np.zeros(len(ev_lines), dtype=np.int64)
    consumed = 0
    first_dp = next((int(pos[i]) for i in ev_lines.tolist() if kind[i] == K_DEPTH), None)
    if first_dp is not None:
        r.market = "usdm" if dp_pu[first_dp] is not None else "spot"
    st = r.st
    events = r.events
    per_event = zip(  # the line attributes, taken at the event lines only
        ev_lines.tolist(),
        kind[ev_lines].tolist(),
        nsb[ev_lines].tolist(),
        vmax[ev_lines].tolist(),
        ts_recv[ev_lines].tolist(),
        pos[ev_lines].tolist(),
        fidx[ev_lines].tolist(),
        lnum[ev_lines].tolist(),
        strict=True,
    )
    for idx, (i, kind_i, nsb_i, vmax_i, t, j, fil_i, line) in enumerate(per_event):
        base_seq = nsb_i + consumed
        r.seq = base_seq
        r.last_venue_ts = vmax_i
        path = names[fil_i]
        if kind_i == K_DEPTH:
            te = dp_te[j]
            u = dp_u[j]
            prev = r.last_u
            if (
                r.synced
                and not r.need_first
                and te >= r.last_depth_ts
                and u > prev
                and (dp_pu[j] == prev if r.market == "usdm" else dp_U[j] == prev + 1)
            ):
                # the common case, a diff continuing the synchronised book: exactly what
                # _process_depth and _FastReplayer._apply do for it, without the calls
                st["depth_events"] += 1
                r.last_depth_ts = te
                events.append((0, j, base_seq, te, t, u))
                r.seq = base_seq + 1
                r.last_u = u
                st["applied"] += 1
                consumed += 1
                cons_after[idx] = consumed
                continue
            data: dict[str, Any] = {"U": dp_U[j], "u": u, "row": j}
            if dp_pu[j] is not None:
                data["pu"] = dp_pu[j]
            te = dp_te[j]
            r.st["depth_events"] += 1
            if te < r.last_depth_ts:
                r.st["ts_event_out_of_order"] += 1
                qc.add(
                    r.seq,
                    te,
                    "book_deltas",
                    "ts_event_order",
                    "decreasing_depth_time",
                    "mark",
                    f"{path}:{line}: depth time {te} < previous {r.last_depth_ts}",
                )
            else:
                r.last_depth_ts = te
            if not r.synced:
                r.buffer.append((data, te, t, line, path))
            else:
                r._process_depth(data, te, t, line, path)
        else:
            try:
                obj = orjson.loads(sc.text(i).partition(b" ")[2])
                r._on_snapshot(obj.get("data", obj), t, path, line)
            except (orjson.JSONDecodeError, DataFormatError, KeyError, TypeError, ValueError) as e:
                raise _Fallback(str(e)) from None
        consumed += r.seq - base_seq
        cons_after[idx] = consumed
    r.seq = int(simple.sum()) + consumed

    def seq_at(rows: np.ndarray) -> np.ndarray:
        """seq a line gets (or, for QC rows, the next seq) given the events processed before it."""
        k = np.searchsorted(ev_lines, rows, side="left")
        before = np.where(k > 0, cons_after[np.maximum(k - 1, 0)], 0) if len(cons_after) else 0
        return nsb[rows] + before

    for i in np.flatnonzero(late_recv).tolist():
        qc.add(
            int(seq_at(np.array([i]))[0]),
            int(vmax[i]),
            "raw",
            "ts_recv_order",
            "decreasing_local_ts",
            "mark",
            f"{names[int(fidx[i])]}:{int(lnum[i])}: local ts {int(ts_recv[i])} < previous {int(rmax[i])}",
        )
    keep_bt = live[bt_rows]
    keep_tr = live[tr_rows]
    bt_seq = np.where(keep_bt, seq_at(bt_rows), -1)
    tr_seq = np.where(keep_tr, seq_at(tr_rows), -1)
    vb = vmax[bt_rows]
    bt_te = np.where(bt_tms != 0, bt_tms * NS_PER_MS, np.where(vb != 0, vb, ts_recv[bt_rows]))
    r.finish()
    return _assemble(
        r,
        files,
        names,
        fidx,
        lnum,
        bt_rows,
        tr_rows,
        lv,
        len(dp_rows),
        bt,
        tr,
        bt_seq,
        bt_te,
        keep_bt,
        tr_seq,
        keep_tr,
    )


def _assemble(
    r: _FastReplayer,
    files: list[str],
    names: list[str],
    fidx: np.ndarray,
    lnum: np.ndarray,
    bt_rows: np.ndarray,
    tr_rows: np.ndarray,
    lv: pl.DataFrame,
    n_dp: int,
    bt: pl.DataFrame,
    tr: pl.DataFrame,
    bt_seq: np.ndarray,
    bt_te: np.ndarray,
    keep_bt: np.ndarray,
    tr_seq: np.ndarray,
    keep_tr: np.ndarray,
) -> CryptoResult:
    st = r.st
    qc = r.qc
    # ---- depth levels of every diff row, flattened in message order (bids then asks) ----
    lv_row = lv["row"].to_numpy()
    dp_start = np.searchsorted(lv_row, np.arange(n_dp), side="left")
    dp_end = np.searchsorted(lv_row, np.arange(n_dp), side="right")
    side_all = [lv["side"].to_numpy()]
    px_all = [lv["px"].to_numpy()]
    sz_all = [lv["qty"].to_numpy()]
    off = lv.height
    sn_start: list[int] = []
    sn_end: list[int] = []
    for bids, asks in r.snap_levels:
        k = len(bids) + len(asks)
        sn_start.append(off)
        sn_end.append(off + k)
        side_all.append(np.array([_BID] * len(bids) + [_ASK] * len(asks), dtype=np.int8))
        px_all.append(np.array([p for p, _ in bids] + [p for p, _ in asks], dtype=np.int64))
        sz_all.append(np.array([q for _, q in bids] + [q for _, q in asks], dtype=np.int64))
        off += k
    side_f = np.concatenate(side_all).astype(np.int8)
    px_f = np.concatenate(px_all).astype(np.int64)
    sz_f = np.concatenate(sz_all).astype(np.int64)
    ev = np.array(r.events, dtype=np.int64).reshape(-1, 6)
    ev_snap = ev[:, 0].astype(np.bool_)
    ev_src = ev[:, 1]
    ev_seq, ev_te, ev_tr, ev_id = ev[:, 2], ev[:, 3], ev[:, 4], ev[:, 5]
    sn_s = np.asarray(sn_start, dtype=np.int64)
    sn_e = np.asarray(sn_end, dtype=np.int64)
    ev_start = np.zeros(len(ev), dtype=np.int64)
    ev_end = np.zeros(len(ev), dtype=np.int64)
    ev_start[ev_snap] = sn_s[ev_src[ev_snap]]
    ev_end[ev_snap] = sn_e[ev_src[ev_snap]]
    ev_start[~ev_snap] = dp_start[ev_src[~ev_snap]]
    ev_end[~ev_snap] = dp_end[ev_src[~ev_snap]]
    bbo = book_bbo_kernel(ev_snap, ev_start, ev_end, side_f, px_f, sz_f)
    # ---- BOOK_DELTAS ----
    lens = ev_end - ev_start
    idx = ranges_index(ev_start, ev_end)
    rep = np.repeat(np.arange(len(ev)), lens)
    n_sn = int(ev_snap.sum())
    clr = np.flatnonzero(ev_snap)
    seq_col = np.concatenate([ev_seq[clr], ev_seq[rep]])
    order = np.concatenate([np.full(n_sn, -1, dtype=np.int64), idx])
    flags = np.concatenate([np.full(n_sn, _SNAP, dtype=np.int64), np.where(ev_snap[rep], _SNAP, 0)])
    dd = pl.DataFrame(
        {
            "ts_event": np.concatenate([ev_te[clr], ev_te[rep]]),
            "ts_recv": np.concatenate([ev_tr[clr], ev_tr[rep]]),
            "seq": seq_col,
            "side": np.concatenate([np.zeros(n_sn, dtype=np.int8), side_f[idx]]),
            "action": np.concatenate(
                [
                    np.full(n_sn, int(BookAction.CLEAR), dtype=np.uint8),
                    np.full(len(idx), int(BookAction.SET), dtype=np.uint8),
                ]
            ),
            "price": np.concatenate([np.full(n_sn, UNDEF_PRICE, dtype=np.int64), px_f[idx]]),
            "size": np.concatenate([np.zeros(n_sn, dtype=np.int64), sz_f[idx]]),
            "flags": flags,
            "_o": order,
        }
    ).sort(["seq", "_o"])
    last = dd["seq"].ne_missing(dd["seq"].shift(-1)).fill_null(True)
    dd = dd.with_columns(
        (pl.col("flags") | pl.when(last).then(_LAST).otherwise(0)).cast(pl.UInt8).alias("flags"),
        pl.lit(0, dtype=pl.UInt64).alias("order_id"),
    ).drop("_o")
    deltas = validate(dd, BOOK_DELTAS, where="binance deltas")
    # ---- crossed book and verification (diff events only) ----
    diff = ~ev_snap
    d_id, d_bbo, d_seq, d_te = ev_id[diff], bbo[diff], ev_seq[diff], ev_te[diff]
    d_src = ev_src[diff]  # source rows of the diff events (file:line built only for QC rows)
    crossed = (d_bbo[:, 0] >= 0) & (d_bbo[:, 2] >= 0) & (d_bbo[:, 0] >= d_bbo[:, 2])
    st["crossed_after_event"] = int(crossed.sum())
    for k in np.flatnonzero(crossed).tolist():
        b = tuple(int(x) for x in d_bbo[k])
        qc.add(
            int(d_seq[k]),
            int(d_te[k]),
            "book_deltas",
            "crossed_book",
            "after_diff",
            "mark",
            f"{_event_lines(r, d_src[k : k + 1], files, fidx, lnum)[0]}: u={int(d_id[k])} {_fmt_bbo(b)}",
        )
    btp = bt
    bt_u = btp["u"].to_numpy()
    bt_v = (
        np.stack([btp[c].to_numpy() for c in ("b", "B", "a", "A")], axis=1)
        if btp.height
        else np.zeros((0, 4), dtype=np.int64)
    )
    kb = np.flatnonzero(keep_bt)
    st["book_tickers"] = len(kb)
    u_k = bt_u[kb]
    prev_max = np.maximum.accumulate(np.concatenate([[-1], u_k]))[:-1] if len(kb) else np.zeros(0, np.int64)
    fresh = u_k > prev_max
    fk = kb[fresh]
    fu = bt_u[fk]
    # exact: a ticker whose id equals an applied diff's final id
    order_ids = np.argsort(d_id, kind="stable")
    sid = d_id[order_ids]
    at = np.searchsorted(sid, fu)
    hit = (
        (at < len(sid)) & (sid[np.minimum(at, max(len(sid) - 1, 0))] == fu)
        if len(sid)
        else np.zeros(len(fu), dtype=bool)
    )
    hk = fk[hit]
    hev = order_ids[at[hit]]
    mism = np.any(bt_v[hk] != d_bbo[hev], axis=1) if len(hk) else np.zeros(0, dtype=bool)
    st["bbo_checked"] = len(hk)
    st["bbo_mismatches"] = int(mism.sum())
    st["bbo_unmatched"] = int(len(kb) - len(hk))
    for m in np.flatnonzero(mism).tolist():
        j, e = int(hk[m]), int(hev[m])
        bb, vb = tuple(int(x) for x in d_bbo[e]), tuple(int(x) for x in bt_v[j])
        if r.first_bbo_mismatch is None:
            r.first_bbo_mismatch = {
                "u": int(bt_u[j]),
                "seq": int(bt_seq[j]),
                "book": _fmt_bbo(bb),
                "bookTicker": _fmt_bbo(vb),
            }
        qc.add(
            int(bt_seq[j]),
            int(bt_te[j]),
            "book_snapshots",
            "binance_bbo",
            "bbo_mismatch",
            "mark",
            f"u={int(bt_u[j])}: book {_fmt_bbo(bb)} vs bookTicker {_fmt_bbo(vb)}",
        )
    # as-of: latest fresh ticker with id <= final id
    ai = np.searchsorted(fu, d_id, side="right") - 1
    has = ai >= 0
    st["asof_checked"] = int(has.sum())
    ev_k = np.flatnonzero(has)
    tk = fk[ai[has]]
    amis = np.any(bt_v[tk] != d_bbo[ev_k], axis=1) if len(ev_k) else np.zeros(0, dtype=bool)
    st["asof_mismatches"] = int(amis.sum())
    for m in np.flatnonzero(amis).tolist():
        e, j = int(ev_k[m]), int(tk[m])
        bb, vb = tuple(int(x) for x in d_bbo[e]), tuple(int(x) for x in bt_v[j])
        if r.first_asof_mismatch is None:
            r.first_asof_mismatch = {
                "u": int(d_id[e]),
                "bookTicker_u": int(bt_u[j]),
                "seq": int(d_seq[e]),
                "book": _fmt_bbo(bb),
                "bookTicker": _fmt_bbo(vb),
            }
        qc.add(
            int(d_seq[e]),
            int(d_te[e]),
            "book_deltas",
            "binance_asof",
            "book_vs_bookticker",
            "mark",
            f"after diff u={int(d_id[e])}: book {_fmt_bbo(bb)} vs bookTicker u={int(bt_u[j])} {_fmt_bbo(vb)}",
        )
    # ---- BOOK_SNAPSHOTS (bookTicker) ----
    bid_ok = bt_v[kb, 1] > 0
    ask_ok = bt_v[kb, 3] > 0
    quotes = validate(
        pl.DataFrame(
            {
                "ts_event": bt_te[kb],
                "ts_recv": r.recv_arr[bt_rows[kb]],
                "seq": bt_seq[kb],
                "bid_px_00": np.where(bid_ok, bt_v[kb, 0], UNDEF_PRICE),
                "bid_sz_00": np.where(bid_ok, bt_v[kb, 1], 0),
                "ask_px_00": np.where(ask_ok, bt_v[kb, 2], UNDEF_PRICE),
                "ask_sz_00": np.where(ask_ok, bt_v[kb, 3], 0),
            }
        ),
        book_snapshots(1),
        where="binance bookTicker",
    )
    # ---- TRADES ----
    trades = _fast_trades(r, tr, tr_rows, tr_seq, keep_tr, names, fidx, lnum)
    st["trades"] = int(keep_tr.sum())
    r.qc.rows.sort(key=lambda x: x[0])
    return CryptoResult(
        deltas=deltas,
        trades=trades,
        qc=r.qc.frame(),
        instrument=r.instrument(),
        stats=r.stats(),
        snapshots=quotes,
        sources=files,
    )


def _event_lines(
    r: _FastReplayer, rows: np.ndarray, files: list[str], fidx: np.ndarray, lnum: np.ndarray
) -> list[str]:
    src = r.dp_line_rows[rows]
    return [f"{files[int(fidx[i])]}:{int(lnum[i])}" for i in src]


def _fast_trades(
    r: _FastReplayer,
    tr: pl.DataFrame,
    tr_rows: np.ndarray,
    tr_seq: np.ndarray,
    keep: np.ndarray,
    names: list[str],
    fidx: np.ndarray,
    lnum: np.ndarray,
) -> pl.DataFrame:
    st, qc = r.st, r.qc
    k = np.flatnonzero(keep)
    t = tr[k]
    if t.height and (t["q"] <= 0).any():
        raise _Fallback("trade quantity <= 0")
    tid = t["t"].to_numpy()
    te = t["te"].to_numpy()
    seq = tr_seq[k]
    rows = tr_rows[k]
    prev = np.maximum.accumulate(np.concatenate([[-1], tid]))[:-1] if len(tid) else np.zeros(0, np.int64)
    dup = tid <= prev
    gap = (~dup) & (prev >= 0) & (tid != prev + 1)
    kept_te = np.where(dup, np.iinfo(np.int64).min, te)
    prev_te = (
        np.maximum.accumulate(np.concatenate([[-1], kept_te]))[:-1] if len(te) else np.zeros(0, np.int64)
    )
    late = (~dup) & (te < prev_te)
    st["duplicates"] += int(dup.sum())
    st["trade_id_gaps"] = int(gap.sum())
    st["ts_event_out_of_order"] += int(late.sum())
    for m in np.flatnonzero(dup | gap | late).tolist():
        where = f"{names[int(fidx[rows[m]])]}:{int(lnum[rows[m]])}"
        if dup[m]:
            qc.add(
                int(seq[m]),
                int(te[m]),
                "trades",
                "binance_duplicate",
                "stale_trade_id",
                "drop",
                f"{where}: trade id {int(tid[m])} <= previous {int(prev[m])}",
            )
            continue
        if gap[m]:
            qc.add(
                int(seq[m]),
                int(te[m]),
                "trades",
                "binance_trade_gap",
                "missing_trade_ids",
                "mark",
                f"{where}: trade id {int(tid[m])} after {int(prev[m])}",
            )
        if late[m]:
            qc.add(
                int(seq[m]),
                int(te[m]),
                "trades",
                "ts_event_order",
                "decreasing_trade_time",
                "mark",
                f"{where}: trade time {int(te[m])} < previous {int(prev_te[m])}",
            )
    ok = ~dup
    kind = np.where(t["market"].to_numpy()[ok], int(TradeKind.REGULAR), int(TradeKind.OTHER)).astype(np.uint8)
    df = pl.DataFrame(
        {
            "ts_event": te[ok],
            "ts_recv": r.recv_arr[rows[ok]],
            "seq": seq[ok],
            "price": t["p"].to_numpy()[ok],
            "size": t["q"].to_numpy()[ok],
            "aggressor": np.where(
                t["m"].to_numpy()[ok].astype(bool), int(AggressorSide.SELL), int(AggressorSide.BUY)
            ).astype(np.int8),
            "kind": kind,
            "trade_id": tid[ok].astype(np.uint64),
            "order_id": np.zeros(int(ok.sum()), dtype=np.uint64),
            "flags": np.full(int(ok.sum()), _LAST, dtype=np.uint8),
        }
    )
    return validate(df, TRADES, where="binance trades")


# ====================================================================================================
# Hyperliquid captures (same '<local_ts_ns> <json>' capture format): l2Book full snapshots + trades
# ====================================================================================================
def read_hyperliquid(path: str | Path, *, continue_on_error: bool = False) -> CryptoResult:
    """Read a Hyperliquid websocket capture (``l2Book`` and ``trades`` channels) of one coin.

    Every ``l2Book`` message is a full top-N snapshot: it becomes one BOOK_DELTAS event (CLEAR + SET rows,
    Flags.SNAPSHOT, LAST on the final row) and one BOOK_SNAPSHOTS row with the order counts ``n`` in
    ``bid_ct_kk``/``ask_ct_kk``. A snapshot repeating the previous one's time and levels is a duplicate
    (QC ``hyperliquid_duplicate``, dropped). Trades: ``side`` B = buyer-initiated (+1), A = seller (-1);
    ``trade_id`` = ``tid``; a repeated ``tid`` is a duplicate. ``ts_event`` = the message's ``time`` (ms).
    """
    p = str(path)
    deltas, trades, qc = DeltaCols(), TradeCols(), QCCols()
    snaps: list[tuple[int, int, int, list[tuple[int, int, int]], list[tuple[int, int, int]]]] = []
    seen_tids: set[int] = set()
    st: dict[str, Any] = {
        "lines": 0,
        "snapshots": 0,
        "trades": 0,
        "duplicates": 0,
        "malformed_lines": 0,
        "ts_event_out_of_order": 0,
        "crossed_snapshots": 0,
    }
    coin: str | None = None
    seq = 0
    prev_key: tuple[int, bytes] | None = None
    last_book_te = -1
    prices: list[int] = []
    depth = 0
    for lineno, raw in enumerate(open_text_lines(path), start=1):
        if not raw.strip():
            continue
        st["lines"] += 1
        ts_s, _, js = raw.partition(b" ")
        try:
            ts_recv = int(ts_s)
            obj = orjson.loads(js)
            ch = obj["channel"]
            data = obj["data"]
            if ch == "l2Book":
                te = int(data["time"]) * NS_PER_MS
                coin = coin or data["coin"]
                sides = []
                for lv in data["levels"][:2]:
                    sides.append(
                        [
                            (dec_to_int(x["px"], PRICE_DIGITS), dec_to_int(x["sz"], SIZE_DIGITS), int(x["n"]))
                            for x in lv
                        ]
                    )
                if len(sides) != 2:
                    raise ValueError("levels must hold [bids, asks]")
            elif ch == "trades":
                rows = [
                    (
                        int(x["tid"]),
                        int(x["time"]) * NS_PER_MS,
                        dec_to_int(x["px"], PRICE_DIGITS),
                        dec_to_int(x["sz"], SIZE_DIGITS),
                        x["side"],
                    )
                    for x in data
                ]
            else:
                raise ValueError(f"unsupported channel {ch!r}")
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as e:
            if not continue_on_error:
                raise DataFormatError(
                    f"malformed Hyperliquid message ({type(e).__name__}: {e})", path=p, line=lineno
                ) from None
            st["malformed_lines"] += 1
            qc.add(
                seq,
                max(last_book_te, 0),
                "raw",
                "parse_error",
                "malformed",
                "quarantine",
                f"{p}:{lineno}: {raw[:200].decode('utf-8', 'replace')}",
            )
            seq += 1
            continue
        if ch == "l2Book":
            key = (te, js[js.find(b'"levels"') :])
            if key == prev_key:
                st["duplicates"] += 1
                qc.add(
                    seq,
                    te,
                    "book_deltas",
                    "hyperliquid_duplicate",
                    "repeated_snapshot",
                    "drop",
                    f"{p}:{lineno}: same time and levels as the previous l2Book",
                )
                seq += 1
                continue
            prev_key = key
            if te < last_book_te:
                st["ts_event_out_of_order"] += 1
                qc.add(
                    seq,
                    te,
                    "book_deltas",
                    "ts_event_order",
                    "decreasing_book_time",
                    "mark",
                    f"{p}:{lineno}: time {te} < previous {last_book_te}",
                )
            last_book_te = max(last_book_te, te)
            bids, asks = sides
            if bids and asks and bids[0][0] >= asks[0][0]:
                st["crossed_snapshots"] += 1
                qc.add(seq, te, "book_deltas", "crossed_book", "snapshot", "mark", f"{p}:{lineno}")
            depth = max(depth, len(bids), len(asks))
            if len(prices) < 10_000:
                prices += [x[0] for x in bids] + [x[0] for x in asks]
            deltas.clear_event(te, ts_recv, seq)
            deltas.add_levels(te, ts_recv, seq, _BID, [(a, b) for a, b, _ in bids if b], _SNAP)
            deltas.add_levels(te, ts_recv, seq, _ASK, [(a, b) for a, b, _ in asks if b], _SNAP)
            deltas.mark_last()
            snaps.append((te, ts_recv, seq, bids, asks))
            st["snapshots"] += 1
            seq += 1
        else:
            for tid, tte, px, sz, side in rows:
                if tid in seen_tids:
                    st["duplicates"] += 1
                    qc.add(
                        seq,
                        tte,
                        "trades",
                        "hyperliquid_duplicate",
                        "repeated_tid",
                        "drop",
                        f"{p}:{lineno}: tid {tid}",
                    )
                    seq += 1
                    continue
                seen_tids.add(tid)
                if sz <= 0:
                    raise DataFormatError(
                        f"trade size must be > 0 (tid {tid})", path=p, line=lineno, field="sz"
                    )
                agg = {"B": int(AggressorSide.BUY), "A": int(AggressorSide.SELL)}.get(
                    side, int(AggressorSide.NONE)
                )
                trades.add(tte, ts_recv, seq, px, sz, agg, int(TradeKind.REGULAR), tid)
                st["trades"] += 1
                seq += 1
    sc = SnapshotCols(depth)
    cts: dict[str, list[int]] = {f"{s}_ct_{k:02d}": [] for s in ("bid", "ask") for k in range(depth)}
    for te, tr, sq, bids, asks in snaps:
        sc.add(te, tr, sq, [(a, b) for a, b, _ in bids], [(a, b) for a, b, _ in asks])
        for side_name, lv in (("bid", bids), ("ask", asks)):
            for k in range(depth):
                cts[f"{side_name}_ct_{k:02d}"].append(lv[k][2] if k < len(lv) else 0)
    snap_df = sc.frame() if depth else None
    if snap_df is not None:
        snap_df = validate(
            snap_df.with_columns([pl.Series(k, v, dtype=pl.UInt32) for k, v in cts.items()]),
            book_snapshots(depth),
            where="hyperliquid l2Book",
        )
    sym = coin or "UNKNOWN"
    st["symbol"] = sym
    st["qc_counts"] = qc.counts()
    inst = Instrument(
        symbol=sym, venue="HYPERLIQUID", tick_size=infer_tick(prices), size_unit=SIZE_UNIT, currency="USD"
    )
    return CryptoResult(
        deltas=deltas.frame(),
        trades=trades.frame(),
        qc=qc.frame(),
        instrument=inst,
        stats=st,
        snapshots=snap_df,
        sources=[p],
    )


def ingest_hyperliquid(
    path: str | Path, out: str | Path | Dataset, *, continue_on_error: bool = False
) -> CryptoResult:
    """Read a Hyperliquid capture and write a canonical Dataset (partitions: coin / UTC date)."""
    res = read_hyperliquid(path, continue_on_error=continue_on_error)
    write_result(res, out, source="hyperliquid_capture")
    return res
