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
"""

from __future__ import annotations

import bisect
import csv
import io
from collections import deque
from pathlib import Path
from typing import Any

import orjson

from orderflow.core.enums import AggressorSide, Flags, Side, TradeKind
from orderflow.core.errors import DataFormatError
from orderflow.core.instruments import Instrument
from orderflow.core.io import Dataset
from orderflow.core.time import NS_PER_MS, NS_PER_US
from orderflow.ingest._crypto import (
    PRICE_DIGITS,
    SIZE_DIGITS,
    SIZE_UNIT,
    CryptoResult,
    DeltaCols,
    L2Book,
    QCCols,
    SnapshotCols,
    TradeCols,
    dec_to_int,
    infer_tick,
    int_to_dec,
    open_text_lines,
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


def _fmt_bbo(b: BBO | None) -> str:
    if b is None:
        return "none"
    return (f"bid {int_to_dec(b[0], PRICE_DIGITS)} x {int_to_dec(b[1], SIZE_DIGITS)} / "
            f"ask {int_to_dec(b[2], PRICE_DIGITS)} x {int_to_dec(b[3], SIZE_DIGITS)}")


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
        self.st: dict[str, int] = {
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
        self.qc.add(self._next_seq(), self.last_venue_ts, "raw", "parse_error", "malformed", "quarantine",
                    f"{path}:{line}: {msg}: {raw[:200].decode('utf-8', 'replace')}")

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
                self._bad(f"local timestamp {ts_s[:30]!r} is not an integer (expected '<local_ts_ns> <json>')",
                          p, lineno, raw, "local_ts")
                continue
            try:
                obj = loads(js)
            except orjson.JSONDecodeError as e:
                self._bad(f"malformed JSON ({e})", p, lineno, raw)
                continue
            if ts_recv < self.last_recv:
                self.st["ts_recv_out_of_order"] += 1
                self.qc.add(self.seq, self.last_venue_ts, "raw", "ts_recv_order", "decreasing_local_ts", "mark",
                            f"{p}:{lineno}: local ts {ts_recv} < previous {self.last_recv}")
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
            self.qc.add(self._next_seq(), self.last_venue_ts, "raw", "unsupported_message", str(e), "quarantine",
                        f"{path}:{line}: stream {obj.get('stream', '?') if isinstance(obj, dict) else '?'}")

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
        if self.synced and not self.need_first and L <= self.last_u:
            # An older (or equal) snapshot while in sync: check it instead of rewinding the book.
            self.st["snapshots"] += 1
            self.st["snapshots_behind"] = self.st.get("snapshots_behind", 0) + 1
            return
        self.st["snapshots"] += 1
        book = self.book
        book.clear()
        for p, q in bids:
            if q:
                book.set_bid(p, q)
        for p, q in asks:
            if q:
                book.set_ask(p, q)
        seq = self._next_seq()
        d = self.deltas
        d.clear_event(ts_event, ts_recv, seq)
        d.add_levels(ts_event, ts_recv, seq, _BID, [lv for lv in bids if lv[1]], _SNAP)
        d.add_levels(ts_event, ts_recv, seq, _ASK, [lv for lv in asks if lv[1]], _SNAP)
        d.mark_last()
        self.have_snapshot = True
        self.synced = True
        self.need_first = True
        self.snap_id = L
        self.last_u = L
        buffered = self.buffer
        self.buffer = deque()
        for item in buffered:
            self._process_depth(*item)

    def _on_depth(self, data: dict[str, Any], ts_recv: int, path: str, line: int) -> None:
        self.st["depth_events"] += 1
        if self.market is None:
            self.market = "usdm" if "pu" in data else "spot"
        t = data.get("T") or data["E"]
        ts_event = int(t) * NS_PER_MS
        if ts_event < self.last_depth_ts:
            self.st["ts_event_out_of_order"] += 1
            self.qc.add(self.seq, ts_event, "book_deltas", "ts_event_order", "decreasing_depth_time", "mark",
                        f"{path}:{line}: depth time {ts_event} < previous {self.last_depth_ts}")
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
        self.qc.add(self._next_seq(), ts_event, "book_deltas", "binance_gap", reason, "quarantine",
                    f"{path}:{line}: U={data['U']} u={data['u']}")

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
                self.qc.add(self._next_seq(), ts_event, "book_deltas", "binance_sync", reason, action,
                            f"{path}:{line}: U={U} u={u} <= lastUpdateId={L}")
                return
            ok = (U <= L <= u or data.get("pu") == L) if usdm else (U <= L + 1 <= u)
            if not ok:
                self._gap(data, ts_event, ts_recv, path, line, f"first diff after snapshot {L} does not straddle it")
                return
            self.need_first = False
            self.ever_synced = True
        else:
            prev = self.last_u
            if u <= prev:
                self.st["duplicates"] += 1
                self.qc.add(self._next_seq(), ts_event, "book_deltas", "binance_duplicate", "stale_update_id", "drop",
                            f"{path}:{line}: U={U} u={u} <= previous u={prev}")
                return
            if self.market == "usdm":
                pu = data.get("pu")
                if pu != prev:
                    self._gap(data, ts_event, ts_recv, path, line, f"pu={pu} != previous u={prev}")
                    return
            elif U != prev + 1:
                self._gap(data, ts_event, ts_recv, path, line, f"U={U} != previous u+1={prev + 1}")
                return
        self._apply(data, ts_event, ts_recv, path, line)

    def _gap(self, data: dict[str, Any], ts_event: int, ts_recv: int, path: str, line: int, why: str) -> None:
        self.st["gaps"] += 1
        self.synced = False
        self.need_first = False
        self.qc.add(self.seq, ts_event, "book_deltas", "binance_gap", "sequence_gap", "quarantine",
                    f"{path}:{line}: {why}; book unsynchronised until the next snapshot")
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
            self.qc.add(seq, ts_event, "book_deltas", "crossed_book", "after_diff", "mark",
                        f"{path}:{line}: u={u} {_fmt_bbo(book.bbo())}")
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
        self.quotes.add(ts_event, ts_recv, seq, [(bbo[0], bbo[1])] if bbo[1] else [],
                        [(bbo[2], bbo[3])] if bbo[3] else [])
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
                self.first_bbo_mismatch = {"u": u, "seq": seq, "book": _fmt_bbo(book_bbo),
                                           "bookTicker": _fmt_bbo(bt)}
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
            detail = (f"after diff u={F}: book {_fmt_bbo(book_bbo)} vs bookTicker u={ids[i]} {_fmt_bbo(bt)}")
            if self.first_asof_mismatch is None:
                self.first_asof_mismatch = {"u": F, "bookTicker_u": ids[i], "seq": seq,
                                            "book": _fmt_bbo(book_bbo), "bookTicker": _fmt_bbo(bt)}
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
            self.qc.add(seq, ts_event, "trades", "binance_duplicate", "stale_trade_id", "drop",
                        f"{path}:{line}: trade id {tid} <= previous {self.last_trade_id}")
            return
        if self.last_trade_id >= 0 and tid != self.last_trade_id + 1:
            self.st["trade_id_gaps"] += 1
            self.qc.add(seq, ts_event, "trades", "binance_trade_gap", "missing_trade_ids", "mark",
                        f"{path}:{line}: trade id {tid} after {self.last_trade_id}")
        self.last_trade_id = tid
        if ts_event < self.last_trade_ts:
            self.st["ts_event_out_of_order"] += 1
            self.qc.add(seq, ts_event, "trades", "ts_event_order", "decreasing_trade_time", "mark",
                        f"{path}:{line}: trade time {ts_event} < previous {self.last_trade_ts}")
        else:
            self.last_trade_ts = ts_event
        if ts_event > self.last_venue_ts:
            self.last_venue_ts = ts_event
        price = self.px(data["p"])
        size = self.sz(data["q"])
        if size <= 0:
            raise DataFormatError(f"trade quantity {data['q']!r} must be > 0", path=path, line=line, field="q")
        aggressor = int(AggressorSide.SELL) if data["m"] else int(AggressorSide.BUY)
        x = data.get("X")
        kind = int(TradeKind.REGULAR) if x in (None, "MARKET") else int(TradeKind.OTHER)
        self.trades.add(ts_event, ts_recv, seq, price, size, aggressor, kind, tid)

    # ------------------------------------------------------------------------------------------------
    def finish(self) -> None:
        """End of input: diffs still waiting for a snapshot are quarantined; open checks are closed."""
        for data, ts_event, _ts_recv, line, path in self.buffer:
            self._quarantine(data, ts_event, path, line, "no_snapshot" if not self.have_snapshot else "unsynced")
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
        return Instrument(symbol=sym, venue=venue, tick_size=infer_tick(self.snapshot_prices),
                          size_unit=SIZE_UNIT, currency=cur)

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


def read_binance_capture(paths: list[str | Path] | str | Path, *, symbol: str | None = None,
                         continue_on_error: bool = False) -> CryptoResult:
    """Replay one or more consecutive raw capture files of one symbol (state carries across files).

    Parameters
    ----------
    paths
        Capture files in time order (gzip, zip or plain text; ``<local_ts_ns> <json>`` per line).
    symbol
        Keep only messages of this symbol (default: the first symbol seen).
    continue_on_error
        Quarantine malformed lines into QC (rule ``parse_error``) instead of raising DataFormatError.
    """
    files = _ordered(paths)
    r = BinanceReplayer(symbol=symbol, continue_on_error=continue_on_error)
    for f in files:
        r.feed_file(f)
    r.finish()
    return r.result(files)


VERIFY_KEYS = ("depth_events", "applied", "gaps", "bbo_checked", "bbo_mismatches", "asof_checked",
               "asof_mismatches", "first_bbo_mismatch")


def verify_binance(paths: list[str | Path] | str | Path, *, symbol: str | None = None,
                   continue_on_error: bool = False) -> dict[str, Any]:
    """Replay capture files and check the book against the venue's bookTicker (see module docstring).

    Returns counters: ``depth_events``, ``applied``, ``gaps``, ``bbo_checked``, ``bbo_mismatches``
    (exact update-id matches), ``asof_checked``, ``asof_mismatches``, ``first_bbo_mismatch``,
    ``first_asof_mismatch`` and the QC counts, plus ``files``.
    """
    files = _ordered(paths)
    r = BinanceReplayer(symbol=symbol, continue_on_error=continue_on_error)
    for f in files:
        r.feed_file(f)
    r.finish()
    out = r.stats()
    out["files"] = files
    return out


def ingest_binance(paths: list[str | Path] | str | Path, out: str | Path | Dataset, *, symbol: str | None = None,
                   continue_on_error: bool = False) -> CryptoResult:
    """Read capture files and write a canonical Dataset (partitions: symbol / UTC date of ts_event)."""
    res = read_binance_capture(paths, symbol=symbol, continue_on_error=continue_on_error)
    write_result(res, out, source="binance_capture")
    return res


# ====================================================================================================
# data.binance.vision CSV files
# ====================================================================================================
DEPTH_COLUMNS = ("symbol", "timestamp", "first_update_id", "last_update_id", "side", "update_type", "price",
                 "qty", "pu")
TRADE_COLUMNS = ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match")
AGG_TRADE_COLUMNS = ("agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time",
                     "is_buyer_maker", "is_best_match")
BOOK_TICKER_COLUMNS = ("update_id", "best_bid_price", "best_bid_qty", "best_ask_price", "best_ask_qty",
                       "transaction_time", "event_time")


def _vision_ts(v: str, path: str, line: int, fld: str) -> int:
    """data.vision times are ms (spot switched to µs in 2025): pick by magnitude."""
    try:
        t = int(v)
    except ValueError:
        raise DataFormatError(f"time {v!r} is not an integer", path=path, line=line, field=fld) from None
    return t * NS_PER_US if t > 10**14 else t * NS_PER_MS


def _csv_rows(path: str | Path, columns: tuple[str, ...], *, required: int) -> tuple[list[str], list[tuple[int,
                                                                                                       list[str]]]]:
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
            raise DataFormatError(f"row has {len(f)} fields, expected >= {required} (missing column '{missing}')",
                                  path=path, line=i + 1, field=missing)
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
    events: list[tuple[int, int, str, list[tuple[int, list[str]]], str]] = []  # (ts, kind_order, kind, rows, path)
    for path, kind in ((depth_snapshot, "snap"), (depth_update, "update")):
        if path is None:
            continue
        sources.append(str(path))
        _, rows = _csv_rows(path, DEPTH_COLUMNS, required=8)
        groups: dict[tuple[str, str, str], list[tuple[int, list[str]]]] = {}
        for ln, f in rows:
            if f[5] not in ("snap", "set"):
                raise DataFormatError(f"update_type {f[5]!r} not in (snap, set)", path=path, line=ln,
                                      field="update_type")
            if f[4] not in ("a", "b"):
                raise DataFormatError(f"side {f[4]!r} not in (a, b)", path=path, line=ln, field="side")
            groups.setdefault((f[1], f[3], f[5]), []).append((ln, f))
        for (ts, _, utype), grp in groups.items():
            events.append((_vision_ts(ts, str(path), grp[0][0], "timestamp"), 0, utype, grp, str(path)))
    events.sort(key=lambda e: (e[0], int(e[3][0][1][3]), e[2] != "snap"))
    for ts, _, utype, grp, path in events:
        if symbol is None and r.symbol is None:
            r.symbol = grp[0][1][0]
        f0 = grp[0][1]
        if utype == "snap":
            data = {"lastUpdateId": int(f0[3]),
                    "bids": [[f[6], f[7]] for _, f in grp if f[4] == "b"],
                    "asks": [[f[6], f[7]] for _, f in grp if f[4] == "a"],
                    "T": ts // NS_PER_MS}
            r.st["lines"] += len(grp)
            r._on_snapshot(data, ts, path, grp[0][0])
        else:
            pu = int(f0[8]) if len(f0) > 8 and f0[8] not in ("", "-1") else None
            data = {"e": "depthUpdate", "T": ts // NS_PER_MS, "E": ts // NS_PER_MS, "U": int(f0[2]), "u": int(f0[3]),
                    "b": [[f[6], f[7]] for _, f in grp if f[4] == "b"],
                    "a": [[f[6], f[7]] for _, f in grp if f[4] == "a"]}
            if pu is not None or futures:
                data["pu"] = pu
            r.st["lines"] += len(grp)
            r._on_depth(data, ts, path, grp[0][0])
    for path, agg in ((trades, False), (agg_trades, True)):
        if path is None:
            continue
        sources.append(str(path))
        _read_vision_trades(r, str(path), agg)
    if book_ticker is not None:
        sources.append(str(book_ticker))
        _, rows = _csv_rows(book_ticker, BOOK_TICKER_COLUMNS, required=6)
        for ln, f in rows:
            ts = _vision_ts(f[5], str(book_ticker), ln, "transaction_time")
            r._on_book_ticker({"u": int(f[0]), "b": f[1], "B": f[2], "a": f[3], "A": f[4], "T": ts // NS_PER_MS},
                              ts)
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
            raise DataFormatError(f"is_buyer_maker {f[m_col]!r} not true/false", path=path, line=ln,
                                  field="is_buyer_maker")
        try:
            r._on_trade({"t": int(f[0]), "p": f[1], "q": f[q_col], "T": ts // NS_PER_MS, "m": m == "true"}, ts,
                        path, ln)
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
    "read_binance_capture",
    "read_binance_vision",
    "verify_binance",
]
