"""Tardis.dev normalised CSV files (``incremental_book_L2``, ``book_snapshot_N``, ``trades``, ``quotes``).

Every file has a header; the common columns are ``exchange, symbol, timestamp, local_timestamp`` with
both times in µs since the epoch (``timestamp`` = venue time -> ``ts_event``, ``local_timestamp`` =
Tardis capture time -> ``ts_recv``). Plain or gzip files.

* ``incremental_book_L2`` (``is_snapshot, side, price, amount``): ``amount`` is the new absolute level
  size (0 deletes) -> BOOK_DELTAS action SET. Consecutive rows with the same two timestamps and the same
  ``is_snapshot`` form one event (Flags.LAST on its last row). A run of ``is_snapshot=true`` rows resets
  the book: it starts with a CLEAR row and all its rows carry Flags.SNAPSHOT (Tardis emits a new snapshot
  after a reconnection, so a snapshot block after incremental rows is a reset, not an update).
* ``book_snapshot_N`` (``asks[k].price/.amount``, ``bids[k].price/.amount``): written directly as
  BOOK_SNAPSHOTS of depth N, and as SET deltas by differencing consecutive snapshots (the first one is a
  CLEAR + SET snapshot event). The delta view is the top-N book: a level leaving the top N is a SET 0.
* ``trades`` (``id, side, price, amount``): ``side`` is the aggressor (buy +1, sell -1, else 0);
  ``trade_id`` is the id when it is an unsigned integer, else 0 (e.g. BitMEX UUIDs).
* ``quotes`` (``ask_amount, ask_price, bid_price, bid_amount``): BOOK_SNAPSHOTS of depth 1.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from orderflow.core.enums import AggressorSide, Flags, Side, TradeKind
from orderflow.core.errors import DataFormatError
from orderflow.core.instruments import Instrument
from orderflow.core.io import Dataset
from orderflow.core.time import NS_PER_US
from orderflow.ingest._crypto import (
    SIZE_UNIT,
    CryptoResult,
    DeltaCols,
    L2Book,
    QCCols,
    SnapshotCols,
    TradeCols,
    infer_tick,
    open_text_lines,
    parse_price,
    parse_size,
    write_result,
)

KINDS = ("incremental_book_L2", "book_snapshot", "trades", "quotes")
COMMON = ("exchange", "symbol", "timestamp", "local_timestamp")
_REQUIRED = {
    "incremental_book_L2": (*COMMON, "is_snapshot", "side", "price", "amount"),
    "trades": (*COMMON, "id", "side", "price", "amount"),
    "quotes": (*COMMON, "ask_amount", "ask_price", "bid_price", "bid_amount"),
    "book_snapshot": COMMON,
}
_LEVEL = re.compile(r"^(asks|bids)\[(\d+)\]\.(price|amount)$")
_LAST = int(Flags.LAST)
_SNAP = int(Flags.SNAPSHOT)


def detect_kind(header: list[str], path: str | Path = "") -> str:
    """Which Tardis data type a header belongs to."""
    cols = set(header)
    if "is_snapshot" in cols:
        return "incremental_book_L2"
    if any(_LEVEL.match(c) for c in header):
        return "book_snapshot"
    if "ask_price" in cols or "bid_price" in cols:
        return "quotes"
    if "id" in cols or "side" in cols:
        return "trades"
    name = Path(path).name
    for k in KINDS:
        if k in name:
            return k
    raise DataFormatError(f"cannot tell the Tardis data type from the header {header[:8]}", path=path, line=1)


class _Rows:
    """CSV rows as dicts with line numbers; a short row names the first missing column."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.lines = open_text_lines(path)
        first = next(self.lines, None)
        if first is None:
            raise DataFormatError("empty file (expected a header)", path=path, line=1)
        self.header = [h.strip() for h in next(csv.reader([first.decode("utf-8-sig")]))]

    def require(self, cols: tuple[str, ...]) -> None:
        for c in cols:
            if c not in self.header:
                raise DataFormatError(f"missing column '{c}' in the header", path=self.path, line=1, field=c)

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        h = self.header
        n = len(h)
        for i, raw in enumerate(self.lines, start=2):
            if not raw.strip():
                continue
            f = next(csv.reader([raw.decode()]))
            if len(f) < n:
                raise DataFormatError(
                    f"row has {len(f)} fields, header has {n}: column '{h[len(f)]}' is missing",
                    path=self.path,
                    line=i,
                    field=h[len(f)],
                )
            if len(f) > n:
                raise DataFormatError(f"row has {len(f)} fields, header has {n}", path=self.path, line=i)
            yield i, dict(zip(h, f, strict=True))


def _ts(v: str, path: str, line: int, fld: str) -> int:
    try:
        return int(v) * NS_PER_US
    except ValueError:
        raise DataFormatError(
            f"{fld} {v!r} is not an integer (µs since epoch)", path=path, line=line, field=fld
        ) from None


def _side(v: str, path: str, line: int) -> int:
    if v in ("bid", "buy"):
        return int(Side.BID)
    if v in ("ask", "sell"):
        return int(Side.ASK)
    raise DataFormatError(f"side {v!r} not in (bid, ask)", path=path, line=line, field="side")


class _State:
    def __init__(self) -> None:
        self.deltas = DeltaCols()
        self.trades = TradeCols()
        self.qc = QCCols()
        self.snapshots: SnapshotCols | None = None
        self.seq = 0
        self.symbol: str | None = None
        self.exchange = ""
        self.prices: list[int] = []
        self.st: dict[str, Any] = {
            "rows": 0,
            "events": 0,
            "snapshot_resets": 0,
            "ts_event_out_of_order": 0,
            "ts_recv_out_of_order": 0,
            "crossed_after_event": 0,
        }
        self.last_te = -1
        self.last_tr = -1

    def clocks(self, row: dict[str, str], path: str, line: int, table: str) -> tuple[int, int]:
        te = _ts(row["timestamp"], path, line, "timestamp")
        tr = _ts(row["local_timestamp"], path, line, "local_timestamp")
        if self.symbol is None:
            self.symbol = row["symbol"]
            self.exchange = row["exchange"]
        elif row["symbol"] != self.symbol:
            raise DataFormatError(
                f"symbol {row['symbol']!r} differs from {self.symbol!r} (one symbol per file)",
                path=path,
                line=line,
                field="symbol",
            )
        if te < self.last_te:
            self.st["ts_event_out_of_order"] += 1
            self.qc.add(
                self.seq,
                te,
                table,
                "ts_event_order",
                "decreasing_timestamp",
                "mark",
                f"{path}:{line}: timestamp {te} < previous {self.last_te}",
            )
        else:
            self.last_te = te
        if tr < self.last_tr:
            self.st["ts_recv_out_of_order"] += 1
            self.qc.add(
                self.seq,
                te,
                table,
                "ts_recv_order",
                "decreasing_local_timestamp",
                "mark",
                f"{path}:{line}: local_timestamp {tr} < previous {self.last_tr}",
            )
        else:
            self.last_tr = tr
        return te, tr

    def next_seq(self) -> int:
        s = self.seq
        self.seq += 1
        return s


def _incremental(rows: _Rows, s: _State) -> None:
    path = rows.path
    book = L2Book()
    d = s.deltas
    cur: tuple[str, str, bool] | None = None
    seq = -1

    def end_event() -> None:
        if cur is not None:
            d.mark_last()
            s.st["events"] += 1
            if book.crossed():
                s.st["crossed_after_event"] += 1
                s.qc.add(
                    seq,
                    d.ts_event[-1],
                    "book_deltas",
                    "crossed_book",
                    "after_event",
                    "mark",
                    f"{path}: event seq {seq}",
                )

    for line, row in rows:
        s.st["rows"] += 1
        te, tr = s.clocks(row, path, line, "book_deltas")
        snap_v = row["is_snapshot"].strip().lower()
        if snap_v not in ("true", "false"):
            raise DataFormatError(
                f"is_snapshot {row['is_snapshot']!r} not true/false",
                path=path,
                line=line,
                field="is_snapshot",
            )
        is_snap = snap_v == "true"
        key = (row["timestamp"], row["local_timestamp"], is_snap)
        if key != cur:
            end_event()
            cur = key
            seq = s.next_seq()
            if is_snap:
                s.st["snapshot_resets"] += 1
                book.clear()
                d.clear_event(te, tr, seq)
        side = _side(row["side"], path, line)
        px = parse_price(row["price"], path=path, line=line)
        sz = parse_size(row["amount"], path=path, line=line, fld="amount")
        if len(s.prices) < 10_000:
            s.prices.append(px)
        if side > 0:
            book.set_bid(px, sz)
        else:
            book.set_ask(px, sz)
        d.add(te, tr, seq, side, 4, px, sz, _SNAP if is_snap else 0)
    end_event()


def _levels_of(header: list[str]) -> int:
    depth = 0
    for c in header:
        m = _LEVEL.match(c)
        if m:
            depth = max(depth, int(m.group(2)) + 1)
    return depth


def _book_snapshot(rows: _Rows, s: _State) -> None:
    path = rows.path
    depth = _levels_of(rows.header)
    for side in ("asks", "bids"):
        for k in range(depth):
            for f in ("price", "amount"):
                name = f"{side}[{k}].{f}"
                if name not in rows.header:
                    raise DataFormatError(
                        f"missing column '{name}' in the header", path=path, line=1, field=name
                    )
    snaps = SnapshotCols(depth)
    s.snapshots = snaps
    d = s.deltas
    prev_b: dict[int, int] | None = None
    prev_a: dict[int, int] = {}
    for line, row in rows:
        s.st["rows"] += 1
        te, tr = s.clocks(row, path, line, "book_snapshots")
        sides: dict[str, list[tuple[int, int]]] = {}
        for side in ("bids", "asks"):
            lv: list[tuple[int, int]] = []
            for k in range(depth):
                p = row[f"{side}[{k}].price"]
                a = row[f"{side}[{k}].amount"]
                if p == "" and a == "":
                    break  # fewer levels than N
                if p == "" or a == "":
                    fld = f"{side}[{k}].{'price' if p == '' else 'amount'}"
                    raise DataFormatError(
                        "price and amount must both be present", path=path, line=line, field=fld
                    )
                lv.append(
                    (
                        parse_price(p, path=path, line=line, fld=f"{side}[{k}].price"),
                        parse_size(a, path=path, line=line, fld=f"{side}[{k}].amount"),
                    )
                )
            sides[side] = lv
        seq = s.next_seq()
        s.st["events"] += 1
        snaps.add(te, tr, seq, sides["bids"], sides["asks"])
        if len(s.prices) < 10_000:
            s.prices += [p for p, _ in sides["bids"]] + [p for p, _ in sides["asks"]]
        new_b = dict(sides["bids"])
        new_a = dict(sides["asks"])
        if prev_b is None:
            d.clear_event(te, tr, seq)
            d.add_levels(te, tr, seq, int(Side.BID), sides["bids"], _SNAP)
            d.add_levels(te, tr, seq, int(Side.ASK), sides["asks"], _SNAP)
            d.mark_last()
        else:
            n0 = len(d)
            for side_code, old, new in ((int(Side.BID), prev_b, new_b), (int(Side.ASK), prev_a, new_a)):
                changes = [(p, 0) for p in old if p not in new]
                changes += [(p, q) for p, q in new.items() if old.get(p) != q]
                changes.sort(reverse=side_code > 0)
                d.add_levels(te, tr, seq, side_code, changes, 0)
            if len(d) > n0:
                d.mark_last()
        prev_b, prev_a = new_b, new_a


def _trades(rows: _Rows, s: _State) -> None:
    path = rows.path
    tr_cols = s.trades
    non_int_ids = 0
    for line, row in rows:
        s.st["rows"] += 1
        te, tr = s.clocks(row, path, line, "trades")
        side = row["side"].strip().lower()
        agg = {"buy": int(AggressorSide.BUY), "sell": int(AggressorSide.SELL)}.get(
            side, int(AggressorSide.NONE)
        )
        if side not in ("buy", "sell", "unknown", ""):
            raise DataFormatError(
                f"side {row['side']!r} not in (buy, sell, unknown)", path=path, line=line, field="side"
            )
        px = parse_price(row["price"], path=path, line=line)
        sz = parse_size(row["amount"], path=path, line=line, fld="amount")
        if sz <= 0:
            raise DataFormatError(
                f"amount {row['amount']!r} must be > 0", path=path, line=line, field="amount"
            )
        tid_s = row["id"]
        tid = int(tid_s) if tid_s.isdigit() and int(tid_s) < 2**64 else 0
        if tid == 0 and tid_s not in ("", "0"):
            non_int_ids += 1
        seq = s.next_seq()
        s.st["events"] += 1
        if len(s.prices) < 10_000:
            s.prices.append(px)
        tr_cols.add(te, tr, seq, px, sz, agg, int(TradeKind.REGULAR), tid)
    s.st["non_integer_trade_ids"] = non_int_ids


def _quotes(rows: _Rows, s: _State) -> None:
    path = rows.path
    snaps = SnapshotCols(1)
    s.snapshots = snaps
    for line, row in rows:
        s.st["rows"] += 1
        te, tr = s.clocks(row, path, line, "book_snapshots")
        lv: dict[str, list[tuple[int, int]]] = {}
        for side in ("bid", "ask"):
            p, a = row[f"{side}_price"], row[f"{side}_amount"]
            if p == "" or a == "":
                lv[side] = []
            else:
                px = parse_price(p, path=path, line=line, fld=f"{side}_price")
                lv[side] = [(px, parse_size(a, path=path, line=line, fld=f"{side}_amount"))]
                if len(s.prices) < 10_000:
                    s.prices.append(px)
        s.st["events"] += 1
        snaps.add(te, tr, s.next_seq(), lv["bid"], lv["ask"])


def read_tardis(path: str | Path, kind: str | None = None) -> CryptoResult:
    """Read one Tardis CSV file (plain or gzip) into canonical tables.

    Parameters
    ----------
    path
        The CSV file (``exchange, symbol, timestamp, local_timestamp, ...``).
    kind
        ``incremental_book_L2``, ``book_snapshot`` (any N), ``trades`` or ``quotes``; default: detected
        from the header.
    """
    rows = _Rows(path)
    k = kind or detect_kind(rows.header, path)
    if k.startswith("book_snapshot"):
        k = "book_snapshot"
    if k not in _REQUIRED:
        raise DataFormatError(f"unknown Tardis data type {kind!r} (known: {', '.join(KINDS)})", path=path)
    rows.require(_REQUIRED[k])
    s = _State()
    {
        "incremental_book_L2": _incremental,
        "book_snapshot": _book_snapshot,
        "trades": _trades,
        "quotes": _quotes,
    }[k](rows, s)
    sym = s.symbol or Path(path).stem
    inst = Instrument(
        symbol=sym,
        venue=s.exchange.upper(),
        tick_size=infer_tick(s.prices),
        size_unit=SIZE_UNIT,
        currency="USD",
    )
    s.st["kind"] = k
    s.st["qc_counts"] = s.qc.counts()
    return CryptoResult(
        deltas=s.deltas.frame(),
        trades=s.trades.frame(),
        qc=s.qc.frame(),
        instrument=inst,
        stats=s.st,
        snapshots=s.snapshots.frame() if s.snapshots is not None else None,
        sources=[str(path)],
    )


def ingest_tardis(path: str | Path, out: str | Path | Dataset, *, kind: str | None = None) -> CryptoResult:
    """Read a Tardis CSV and write a canonical Dataset (partitions: symbol / UTC date of ts_event)."""
    res = read_tardis(path, kind)
    write_result(res, out, source=f"tardis_{res.stats['kind']}")
    return res


__all__ = ["detect_kind", "ingest_tardis", "read_tardis"]
