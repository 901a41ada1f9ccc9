"""Bybit v5 ``orderbook.N`` snapshot + delta JSON lines (history ``.data`` files, zip, gzip or plain).

Each line is ``{"topic", "type": "snapshot"|"delta", "ts", "data": {"s", "b", "a", "u", "seq"}, "cts"}``
(optionally prefixed by a local ``<ts_ns> `` capture time). ``b``/``a`` hold ``[price, qty]`` string
pairs; qty is the new absolute level size and 0 deletes the level.

Rules (Bybit's documented procedure):

* a ``snapshot`` resets the book: CLEAR + SET rows with Flags.SNAPSHOT, one event;
* a ``delta`` must continue the previous update id: ``u == prev_u + 1``;
* ``u == 1`` means the service restarted: the message is a fresh snapshot whatever its type;
* a broken rule is a gap: reported in QC (rule ``bybit_gap``); deltas are quarantined until the next
  snapshot (never applied).

Clocks: ``ts_event`` = ``cts`` (matching-engine time) when present, else ``ts``; ``ts_recv`` = the local
prefix when present, else ``ts`` (Bybit's push time: these files carry no capture clock).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from orderflow.core.enums import Flags, Side
from orderflow.core.errors import DataFormatError
from orderflow.core.instruments import Instrument
from orderflow.core.io import Dataset
from orderflow.core.time import NS_PER_MS
from orderflow.ingest._crypto import (
    PRICE_DIGITS,
    SIZE_DIGITS,
    SIZE_UNIT,
    CryptoResult,
    DeltaCols,
    L2Book,
    QCCols,
    TradeCols,
    dec_to_int,
    infer_tick,
    open_text_lines,
    write_result,
)

_SNAP = int(Flags.SNAPSHOT)


class BybitReplayer:
    """Streaming state machine over Bybit orderbook messages of one symbol."""

    def __init__(self, *, symbol: str | None = None, continue_on_error: bool = False) -> None:
        self.symbol = symbol
        self.continue_on_error = continue_on_error
        self.book = L2Book()
        self.deltas = DeltaCols()
        self.qc = QCCols()
        self.seq = 0
        self.synced = False
        self.last_u = -1
        self.last_te = -1
        self.prices: list[int] = []
        self.st: dict[str, Any] = {
            "lines": 0,
            "snapshots": 0,
            "restarts": 0,
            "deltas": 0,
            "applied": 0,
            "gaps": 0,
            "quarantined": 0,
            "duplicates": 0,
            "crossed_after_event": 0,
            "ts_event_out_of_order": 0,
            "malformed_lines": 0,
            "other_symbol": 0,
        }

    def _next_seq(self) -> int:
        s = self.seq
        self.seq += 1
        return s

    def _bad(self, msg: str, path: str, line: int, raw: bytes) -> None:
        if not self.continue_on_error:
            raise DataFormatError(msg, path=path, line=line)
        self.st["malformed_lines"] += 1
        self.qc.add(
            self._next_seq(),
            max(self.last_te, 0),
            "raw",
            "parse_error",
            "malformed",
            "quarantine",
            f"{path}:{line}: {msg}: {raw[:200].decode('utf-8', 'replace')}",
        )

    def feed_file(self, path: str | Path) -> None:
        p = str(path)
        for lineno, raw in enumerate(open_text_lines(path), start=1):
            if not raw.strip():
                continue
            self.st["lines"] += 1
            local: int | None = None
            js = raw
            if raw[:1].isdigit():
                ts_s, _, js = raw.partition(b" ")
                try:
                    local = int(ts_s)
                except ValueError:
                    self._bad("line starts with a non-integer local timestamp", p, lineno, raw)
                    continue
            try:
                obj = orjson.loads(js)
            except orjson.JSONDecodeError as e:
                self._bad(f"malformed JSON ({e})", p, lineno, raw)
                continue
            try:
                self._on_message(obj, local, p, lineno)
            except DataFormatError as e:
                if not self.continue_on_error:
                    raise
                self._bad(str(e), p, lineno, raw)
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                self._bad(f"unexpected message shape ({type(e).__name__}: {e})", p, lineno, raw)

    def _levels(self, rows: list[list[str]], path: str, line: int, fld: str) -> list[tuple[int, int]]:
        try:
            out = [(dec_to_int(p, PRICE_DIGITS), dec_to_int(q, SIZE_DIGITS)) for p, q in rows]
        except ValueError as e:
            raise DataFormatError(f"bad level ({e})", path=path, line=line, field=fld) from None
        if any(q < 0 for _, q in out):
            raise DataFormatError("negative quantity", path=path, line=line, field=fld)
        return out

    def _on_message(self, obj: dict[str, Any], local: int | None, path: str, line: int) -> None:
        data = obj["data"]
        sym = data.get("s")
        if self.symbol is None:
            self.symbol = sym
        elif sym is not None and sym != self.symbol:
            self.st["other_symbol"] += 1
            return
        kind = obj.get("type")
        if kind not in ("snapshot", "delta"):
            raise DataFormatError(
                f"type {kind!r} not in (snapshot, delta)", path=path, line=line, field="type"
            )
        ts = int(obj["ts"]) * NS_PER_MS
        te = int(obj["cts"]) * NS_PER_MS if obj.get("cts") else ts
        tr = local if local is not None else ts
        if te < self.last_te:
            self.st["ts_event_out_of_order"] += 1
            self.qc.add(
                self.seq,
                te,
                "book_deltas",
                "ts_event_order",
                "decreasing_cts",
                "mark",
                f"{path}:{line}: cts {te} < previous {self.last_te}",
            )
        else:
            self.last_te = te
        u = int(data["u"])
        bids = self._levels(data.get("b", []), path, line, "b")
        asks = self._levels(data.get("a", []), path, line, "a")
        book = self.book
        d = self.deltas
        if kind == "snapshot" or u == 1:
            self.st["snapshots"] += 1
            if kind == "delta":
                self.st["restarts"] += 1
                self.qc.add(
                    self.seq,
                    te,
                    "book_deltas",
                    "bybit_restart",
                    "u_is_1",
                    "mark",
                    f"{path}:{line}: delta with u=1 (service restart) treated as a snapshot",
                )
            book.clear()
            seq = self._next_seq()
            d.clear_event(te, tr, seq)
            bids = [lv for lv in bids if lv[1]]
            asks = [lv for lv in asks if lv[1]]
            for p, q in bids:
                book.set_bid(p, q)
            for p, q in asks:
                book.set_ask(p, q)
            d.add_levels(te, tr, seq, int(Side.BID), bids, _SNAP)
            d.add_levels(te, tr, seq, int(Side.ASK), asks, _SNAP)
            d.mark_last()
            if len(self.prices) < 10_000:
                self.prices += [p for p, _ in bids] + [p for p, _ in asks]
            self.synced = True
            self.last_u = u
            self._check_crossed(seq, te, path, line)
            return
        self.st["deltas"] += 1
        if not self.synced:
            self.st["quarantined"] += 1
            self.qc.add(
                self._next_seq(),
                te,
                "book_deltas",
                "bybit_gap",
                "unsynced",
                "quarantine",
                f"{path}:{line}: u={u} while waiting for a snapshot",
            )
            return
        if u <= self.last_u:
            self.st["duplicates"] += 1
            self.qc.add(
                self._next_seq(),
                te,
                "book_deltas",
                "bybit_duplicate",
                "stale_update_id",
                "drop",
                f"{path}:{line}: u={u} <= previous {self.last_u}",
            )
            return
        if u != self.last_u + 1:
            self.st["gaps"] += 1
            self.st["quarantined"] += 1
            self.synced = False
            self.qc.add(
                self._next_seq(),
                te,
                "book_deltas",
                "bybit_gap",
                "sequence_gap",
                "quarantine",
                f"{path}:{line}: u={u} != previous u+1={self.last_u + 1}; book unsynchronised until the "
                "next snapshot",
            )
            return
        seq = self._next_seq()
        for p, q in bids:
            book.set_bid(p, q)
        for p, q in asks:
            book.set_ask(p, q)
        d.add_levels(te, tr, seq, int(Side.BID), bids, 0)
        d.add_levels(te, tr, seq, int(Side.ASK), asks, 0)
        if bids or asks:
            d.mark_last()
        self.last_u = u
        self.st["applied"] += 1
        self._check_crossed(seq, te, path, line)

    def _check_crossed(self, seq: int, te: int, path: str, line: int) -> None:
        if self.book.crossed():
            self.st["crossed_after_event"] += 1
            self.qc.add(seq, te, "book_deltas", "crossed_book", "after_event", "mark", f"{path}:{line}")

    def result(self, sources: list[str]) -> CryptoResult:
        sym = self.symbol or "UNKNOWN"
        inst = Instrument(
            symbol=sym,
            venue="BYBIT",
            tick_size=infer_tick(self.prices),
            size_unit=SIZE_UNIT,
            currency="USDT" if sym.endswith("USDT") else "USD",
        )
        st = dict(self.st)
        st["symbol"] = sym
        st["qc_counts"] = self.qc.counts()
        bb = self.book.bbo()
        st["final_bbo"] = None if bb[0] < 0 or bb[2] < 0 else [bb[0], bb[1], bb[2], bb[3]]
        return CryptoResult(
            deltas=self.deltas.frame(),
            trades=TradeCols().frame(),
            qc=self.qc.frame(),
            instrument=inst,
            stats=st,
            snapshots=None,
            sources=sources,
        )


def read_bybit(
    path: str | Path | list[str | Path], *, symbol: str | None = None, continue_on_error: bool = False
) -> CryptoResult:
    """Read Bybit orderbook history file(s) (consecutive files continue the same book)."""
    files = [str(p) for p in path] if isinstance(path, list) else [str(path)]
    r = BybitReplayer(symbol=symbol, continue_on_error=continue_on_error)
    for f in files:
        r.feed_file(f)
    return r.result(files)


def ingest_bybit(
    path: str | Path | list[str | Path],
    out: str | Path | Dataset,
    *,
    symbol: str | None = None,
    continue_on_error: bool = False,
) -> CryptoResult:
    """Read Bybit orderbook file(s) and write a canonical Dataset (partitions: symbol / UTC date)."""
    res = read_bybit(path, symbol=symbol, continue_on_error=continue_on_error)
    write_result(res, out, source="bybit_orderbook")
    return res


__all__ = ["BybitReplayer", "ingest_bybit", "read_bybit"]
