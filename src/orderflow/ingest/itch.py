"""NASDAQ TotalView-ITCH 5.0 binary files -> canonical BOOK_DELTAS / TRADES / STATUS / QC per stock.

Format (NASDAQ TotalView-ITCH 5.0 specification; the public day files such as
``01302019.NASDAQ_ITCH50``): each message is a 2-byte big-endian length followed by the
message body. The body starts with the type byte, stock locate (u16), tracking number (u16)
and a 6-byte timestamp in ns after midnight, America/New_York local time of the trading date.
Integers are big-endian; ``Price(4)`` is u32 x 1e-4 dollars and ``Price(8)`` u64 x 1e-8;
alpha fields are ASCII, space-padded on the right. Every type's length is checked against the
spec (:data:`SPEC_LENGTHS`).

Parsing runs without a Python loop per message: a numba pass finds the message offsets, types
and length errors; the per-type columns are then cut out of the bytes with numpy structured
big-endian views (:func:`parse_messages`, every type of the spec), and the order messages run
through one numba kernel that keeps the live order references (side, price, remaining shares).

Mapping to the canonical tables (per stock; symbols from R stock directory messages):

* A / F (add) -> L3 ADD; E (executed) -> EXECUTE + a TRADES row at the resting order's price,
  aggressor opposite to the resting side, ``trade_id`` = match number, ``order_id`` = the
  resting order; C (executed with price) -> EXECUTE of the resting order, and when printable
  (``'Y'``) a TRADES row at the execution price. **Non-printable C executions reduce the book but
  produce no TRADES row** (NASDAQ marks them so that volume is not counted twice, e.g. the
  executions of a cross, which the Q message prints). X -> CANCEL (partial), D -> DELETE,
  U (replace) -> DELETE of the old reference and ADD of the new one at the new price/size on the
  same side (two BOOK_DELTAS rows sharing one ``seq``; the order loses priority).
* P (trade, non-cross) -> TRADES kind HIDDEN (no book change). The spec fixes P's buy/sell
  indicator to ``'B'`` whatever the resting side (since 2014), so the aggressor is 0 (unknown).
  Q (cross) -> TRADES kind CROSS with aggressor 0; crosses of 0 shares produce no row (counted).
  B (broken trade) -> a QC row (rule ``itch_broken_trade``, detail the match number).
* H (trading action) -> STATUS (H/P halt, Q quote resume, T trade resume); S (system event,
  market-wide) -> STATUS in every stock (Q open, M close, others OTHER), detail ``S:<code>``.
* E/C/X/D/U for a reference that is not resting (e.g. a file that starts mid-day) -> no book
  row, a QC row ``itch_unknown_order``.

``seq`` is the message's index in the file (0-based, counting every whole message), so it is
the same whatever the chunk size or stock filter. ``ts_recv = ts_event`` (the file has one
clock). ``ts_event`` = UTC ns of local midnight of the trading date + the message timestamp
(trading days never straddle a DST switch). Prices become 1e-9 units (x 100,000 for
Price(4)). Instruments get tick size 0.01: NASDAQ's 0.0001 tick below $1.00 is a venue rule
not stored per instrument (sub-dollar stocks need that caveat downstream).

Streaming: :func:`read_itch` reads the file in ``chunk_bytes`` blocks, carries a partial
message into the next block, and with ``symbols=`` keeps only those stocks' messages (R
directory messages are always read, they define the locate -> symbol map). A truncated file
ends at the last whole message; ``stats["truncated_at"]`` is the byte offset of the partial
message (a DataFormatError with ``strict=True``).

Memory: the input is read in blocks, but the canonical tables of the kept stocks are held
until the end (about 45 bytes per BOOK_DELTAS row), so a full day of every stock needs many
GB; pass ``symbols=`` for bounded memory. Each stock gets one
:class:`~orderflow.book.l3.L3Book`, started small and grown on demand. Order messages go
through the kernel in batches of 2**18 to keep its buffers cache-sized.
Throughput: ``tests/benchmarks/test_bench_itch.py`` (framing alone, parse + book + tables,
stock filter).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from orderflow.book.l3 import L3Book
from orderflow.core.enums import MarketStatus
from orderflow.core.errors import ConfigError, DataFormatError
from orderflow.core.instruments import Instrument
from orderflow.core.schema import BOOK_DELTAS, QC, STATUS, TRADES, Schema, validate
from orderflow.core.time import local_midnight_ns
from orderflow.ingest import _itch_kernels as K

VENUE = "XNAS"
TIMEZONE = "America/New_York"

# Field codes: uN big-endian unsigned N bytes; ts 6-byte ns after midnight; aN alpha N bytes;
# p4 Price(4) u32 x 1e-4; p8 Price(8) u64 x 1e-8.
_HEADER: list[tuple[str, str]] = [
    ("message_type", "a1"),
    ("stock_locate", "u2"),
    ("tracking_number", "u2"),
    ("timestamp", "ts"),
]

LAYOUTS: dict[str, list[tuple[str, str]]] = {
    "S": [("event_code", "a1")],
    "R": [
        ("stock", "a8"),
        ("market_category", "a1"),
        ("financial_status_indicator", "a1"),
        ("round_lot_size", "u4"),
        ("round_lots_only", "a1"),
        ("issue_classification", "a1"),
        ("issue_sub_type", "a2"),
        ("authenticity", "a1"),
        ("short_sale_threshold_indicator", "a1"),
        ("ipo_flag", "a1"),
        ("luld_reference_price_tier", "a1"),
        ("etp_flag", "a1"),
        ("etp_leverage_factor", "u4"),
        ("inverse_indicator", "a1"),
    ],
    "H": [("stock", "a8"), ("trading_state", "a1"), ("reserved", "a1"), ("reason", "a4")],
    "Y": [("stock", "a8"), ("reg_sho_action", "a1")],
    "L": [
        ("mpid", "a4"),
        ("stock", "a8"),
        ("primary_market_maker", "a1"),
        ("market_maker_mode", "a1"),
        ("market_participant_state", "a1"),
    ],
    "V": [("level_1", "p8"), ("level_2", "p8"), ("level_3", "p8")],
    "W": [("breached_level", "a1")],
    "K": [
        ("stock", "a8"),
        ("ipo_quotation_release_time", "u4"),
        ("ipo_quotation_release_qualifier", "a1"),
        ("ipo_price", "p4"),
    ],
    "J": [
        ("stock", "a8"),
        ("auction_collar_reference_price", "p4"),
        ("upper_auction_collar_price", "p4"),
        ("lower_auction_collar_price", "p4"),
        ("auction_collar_extension", "u4"),
    ],
    "h": [("stock", "a8"), ("market_code", "a1"), ("operational_halt_action", "a1")],
    "A": [
        ("order_reference_number", "u8"),
        ("buy_sell_indicator", "a1"),
        ("shares", "u4"),
        ("stock", "a8"),
        ("price", "p4"),
    ],
    "F": [
        ("order_reference_number", "u8"),
        ("buy_sell_indicator", "a1"),
        ("shares", "u4"),
        ("stock", "a8"),
        ("price", "p4"),
        ("attribution", "a4"),
    ],
    "E": [("order_reference_number", "u8"), ("executed_shares", "u4"), ("match_number", "u8")],
    "C": [
        ("order_reference_number", "u8"),
        ("executed_shares", "u4"),
        ("match_number", "u8"),
        ("printable", "a1"),
        ("execution_price", "p4"),
    ],
    "X": [("order_reference_number", "u8"), ("cancelled_shares", "u4")],
    "D": [("order_reference_number", "u8")],
    "U": [
        ("original_order_reference_number", "u8"),
        ("new_order_reference_number", "u8"),
        ("shares", "u4"),
        ("price", "p4"),
    ],
    "P": [
        ("order_reference_number", "u8"),
        ("buy_sell_indicator", "a1"),
        ("shares", "u4"),
        ("stock", "a8"),
        ("price", "p4"),
        ("match_number", "u8"),
    ],
    "Q": [
        ("shares", "u8"),
        ("stock", "a8"),
        ("cross_price", "p4"),
        ("match_number", "u8"),
        ("cross_type", "a1"),
    ],
    "B": [("match_number", "u8")],
    "I": [
        ("paired_shares", "u8"),
        ("imbalance_shares", "u8"),
        ("imbalance_direction", "a1"),
        ("stock", "a8"),
        ("far_price", "p4"),
        ("near_price", "p4"),
        ("current_reference_price", "p4"),
        ("cross_type", "a1"),
        ("price_variation_indicator", "a1"),
    ],
    "N": [("stock", "a8"), ("interest_flag", "a1")],
    "O": [
        ("stock", "a8"),
        ("open_eligibility_status", "a1"),
        ("minimum_allowable_price", "p4"),
        ("maximum_allowable_price", "p4"),
        ("near_execution_price", "p4"),
        ("near_execution_time", "u8"),
        ("lower_price_range_collar", "p4"),
        ("upper_price_range_collar", "p4"),
    ],
}
"""Field layout of every ITCH 5.0 message type after the 11-byte common header."""

NAMES: dict[str, str] = {
    "S": "system_event",
    "R": "stock_directory",
    "H": "stock_trading_action",
    "Y": "reg_sho_restriction",
    "L": "market_participant_position",
    "V": "mwcb_decline_level",
    "W": "mwcb_status",
    "K": "ipo_quoting_period_update",
    "J": "luld_auction_collar",
    "h": "operational_halt",
    "A": "add_order",
    "F": "add_order_mpid",
    "E": "order_executed",
    "C": "order_executed_with_price",
    "X": "order_cancel",
    "D": "order_delete",
    "U": "order_replace",
    "P": "trade",
    "Q": "cross_trade",
    "B": "broken_trade",
    "I": "noii",
    "N": "rpii",
    "O": "dlcr_price_discovery",
}

_SIZES = {"u1": 1, "u2": 2, "u4": 4, "u8": 8, "ts": 6, "p4": 4, "p8": 8}


def _size(code: str) -> int:
    return int(code[1:]) if code.startswith("a") else _SIZES[code]


SPEC_LENGTHS: dict[str, int] = {
    t: sum(_size(c) for _, c in _HEADER + fields) for t, fields in LAYOUTS.items()
}
"""Message length (type byte included) of each type, from :data:`LAYOUTS`."""

_SPEC_LEN_TABLE = np.zeros(256, dtype=np.int64)
for _t, _n in SPEC_LENGTHS.items():
    _SPEC_LEN_TABLE[ord(_t)] = _n

_IS_BOOK = np.zeros(256, dtype=np.bool_)
_IS_BOOK[[ord(c) for c in "AFECXDUPQ"]] = True
_IS_ADD = np.zeros(256, dtype=np.bool_)
_IS_ADD[[ord(c) for c in "AFU"]] = True
# reference messages kept as per-type frames (order messages are consumed by the book)
_REF_TYPES = "SRHYLVWKJhBINO"


def _np_dtype(t: str) -> np.dtype:
    names, formats = [], []
    for name, code in _HEADER + LAYOUTS[t]:
        if code == "ts":
            names += ["_ts_hi", "_ts_lo"]
            formats += [">u2", ">u4"]
        elif code.startswith("a"):
            names.append(name)
            formats.append(f"S{code[1:]}")
        else:
            names.append(name)
            formats.append(f">u{_size(code)}")
    return np.dtype({"names": names, "formats": formats})


_DTYPES = {t: _np_dtype(t) for t in LAYOUTS}


def _decode_alpha(a: np.ndarray) -> pl.Series:
    # numpy 'S' strips trailing NULs only; ITCH pads with spaces
    return pl.Series([x.decode("ascii", "replace").rstrip(" ") for x in a.tolist()], dtype=pl.Utf8)


def _records_frame(
    t: str, buf: np.ndarray, offsets: np.ndarray, midnight_ns: int, seq: np.ndarray
) -> pl.DataFrame:
    """Columns of every message of type ``t`` at body ``offsets`` (vectorised gather + view)."""
    n_bytes = SPEC_LENGTHS[t]
    raw = buf[offsets[:, None] + np.arange(n_bytes)] if len(offsets) else np.zeros((0, n_bytes), np.uint8)
    rec = np.ascontiguousarray(raw).view(_DTYPES[t]).reshape(-1)
    ts = (rec["_ts_hi"].astype(np.int64) << 32) | rec["_ts_lo"].astype(np.int64)
    cols: dict[str, pl.Series] = {
        "seq": pl.Series("seq", seq.astype(np.int64)),
        "ts_event": pl.Series("ts_event", ts + midnight_ns),
        "ts_ns_after_midnight": pl.Series("ts_ns_after_midnight", ts),
    }
    for name, code in _HEADER[1:3] + LAYOUTS[t]:
        v = rec[name]
        if code.startswith("a"):
            cols[name] = _decode_alpha(v)
        elif code == "p4":
            cols[name] = pl.Series(name, v.astype(np.int64) * 100_000)
        elif code == "p8":
            cols[name] = pl.Series(name, v.astype(np.int64) * 10)
        elif code == "u8" and ("reference" in name or "match" in name):
            cols[name] = pl.Series(name, v.astype(np.uint64), dtype=pl.UInt64)
        else:
            cols[name] = pl.Series(name, v.astype(np.int64))
    return pl.DataFrame(cols)


def parse_messages(
    data: bytes | np.ndarray, *, date: dt.date | str | None = None, types: str | None = None
) -> dict[str, pl.DataFrame]:
    """Decode every whole message of an in-memory ITCH 5.0 byte string into one frame per type.

    Columns: ``seq`` (message index), ``ts_event`` (UTC ns when ``date`` is given, else ns after
    midnight), ``ts_ns_after_midnight``, ``stock_locate``, ``tracking_number`` and the type's
    fields (:data:`LAYOUTS`; alphas right-stripped, prices in 1e-9 units, ids UInt64). Messages
    with an unknown type or a wrong length are left out (see :func:`scan_frames`). ``types``
    limits the output to those type characters.
    """
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    fr = scan_frames(buf)
    midnight = local_midnight_ns(date, TIMEZONE) if date is not None else 0
    out: dict[str, pl.DataFrame] = {}
    for t in types or LAYOUTS:
        sel = np.flatnonzero((fr.types == ord(t)) & (fr.status == K.ST_OK))
        if len(sel) or types is not None:
            out[t] = _records_frame(t, buf, fr.offsets[sel], midnight, sel)
    return out


@dataclass
class Frames:
    """Whole messages found in a buffer: body offsets, type bytes, lengths, status (ST_*)."""

    offsets: np.ndarray
    types: np.ndarray
    lengths: np.ndarray
    status: np.ndarray
    stop: int
    """offset of the first byte not consumed (start of a partial message, or the end)"""


_MIN_LEN = 2 + min(SPEC_LENGTHS.values())


def scan_frames(buf: np.ndarray, start: int = 0, end: int | None = None, cap: int | None = None) -> Frames:
    """Frame ``buf[start:end]`` (numba pass); see :func:`orderflow.ingest._itch_kernels.frame_scan`.

    At most ``cap`` messages are framed (default: all whole messages); ``stop`` tells where to go on.
    """
    end = len(buf) if end is None else end
    if cap is None:
        cap = (end - start) // 2 + 1
    offsets = np.empty(cap, dtype=np.int64)
    types = np.empty(cap, dtype=np.uint8)
    lengths = np.empty(cap, dtype=np.int64)
    status = np.empty(cap, dtype=np.uint8)
    n, stop = K.frame_scan(buf, start, end, _SPEC_LEN_TABLE, offsets, types, lengths, status)
    return Frames(offsets[:n], types[:n], lengths[:n], status[:n], int(stop))


def date_from_filename(path: str | Path) -> dt.date | None:
    """``01302019.NASDAQ_ITCH50`` (MMDDYYYY prefix) -> 2019-01-30; None when the name has no date."""
    m = re.match(r"^(\d{2})(\d{2})(\d{4})(?:\D|$)", Path(path).name)
    if not m:
        return None
    try:
        return dt.date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
    except ValueError:
        return None


@dataclass
class ItchResult:
    """Output of :func:`read_itch`.

    ``deltas``/``trades``/``status``/``qc`` map symbol -> canonical table (validated);
    ``messages`` maps type character -> frame of the reference messages (S R H Y L V W K J h B
    I N O) of the kept stocks; ``qc_file`` holds file-level problems (bad lengths, unknown types,
    truncation); ``stats`` counts messages by type, unknown types, truncation, book counters.
    """

    date: dt.date
    deltas: dict[str, pl.DataFrame]
    trades: dict[str, pl.DataFrame]
    status: dict[str, pl.DataFrame]
    qc: dict[str, pl.DataFrame]
    instruments: dict[str, Instrument]
    messages: dict[str, pl.DataFrame]
    qc_file: pl.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)


_H_STATUS = {
    "H": int(MarketStatus.HALT),
    "P": int(MarketStatus.HALT),
    "Q": int(MarketStatus.QUOTE_RESUME),
    "T": int(MarketStatus.TRADE_RESUME),
}
_S_STATUS = {"Q": int(MarketStatus.OPEN), "M": int(MarketStatus.CLOSE)}


def _frame(parts: list[dict[str, np.ndarray]], schema: Schema) -> pl.DataFrame:
    if not parts:
        return schema.empty()
    return pl.DataFrame(
        {
            c.name: pl.Series(c.name, np.concatenate([p[c.name] for p in parts]), dtype=c.dtype)
            for c in schema.columns
        }
    )


def _qc_rows(rows: list[tuple[int, int, str, str, str, str, str]]) -> pl.DataFrame:
    if not rows:
        return QC.empty()
    seq, ts, table, rule, reason, action, detail = zip(*rows, strict=True)
    return pl.DataFrame(
        {
            "seq": pl.Series(seq, dtype=pl.Int64),
            "ts_event": pl.Series(ts, dtype=pl.Int64),
            "table": pl.Series(table, dtype=pl.Utf8),
            "rule": pl.Series(rule, dtype=pl.Utf8),
            "reason": pl.Series(reason, dtype=pl.Utf8),
            "action": pl.Series(action, dtype=pl.Utf8),
            "detail": pl.Series(detail, dtype=pl.Utf8),
        }
    )


class _Reader:
    """Streaming state: locate map, order table, one L3 book per stock, collected outputs."""

    initial_orders = 1 << 16
    """Initial slots of the live-order table (doubles when half full)."""
    batch = 1 << 18
    """Order messages per kernel call."""

    def __init__(self, path: str, date: dt.date, symbols: set[str] | None, strict: bool) -> None:
        self.path = path
        self.date = date
        self.midnight = local_midnight_ns(date, TIMEZONE)
        self.symbols = symbols
        self.strict = strict
        self.wanted = np.zeros(65536, dtype=np.bool_)
        self.loc_sym: dict[int, str] = {}
        self.tab = np.full((self.initial_orders, 4), K.EMPTY, dtype=np.int64)
        self.counts = np.zeros(4, dtype=np.int64)
        self._ev = np.empty((9, 0), dtype=np.int64)
        self._tr = np.empty((9, 0), dtype=np.int64)
        self._ms = np.empty((5, 0), dtype=np.int64)
        self.books: dict[int, L3Book] = {}
        self.deltas: dict[int, list[dict[str, np.ndarray]]] = {}
        self.trades: dict[int, list[dict[str, np.ndarray]]] = {}
        self.status: dict[int, list[pl.DataFrame]] = {}
        self.qc: dict[int, list[tuple[int, int, str, str, str, str, str]]] = {}
        self.system: list[tuple[int, int, str]] = []
        self.ref_frames: dict[str, list[pl.DataFrame]] = {}
        self.file_qc: list[tuple[int, int, str, str, str, str, str]] = []
        self.by_type = np.zeros(256, dtype=np.int64)
        self.unknown: dict[str, int] = {}
        self.bad_len: dict[str, int] = {}
        self.kept = 0
        self.zero_crosses = 0
        self.n_msgs = 0

    # -- one block of whole messages ---------------------------------------------------------------
    def block(self, buf: np.ndarray, fr: Frames, base_offset: int) -> None:
        seq = np.arange(self.n_msgs, self.n_msgs + len(fr.offsets), dtype=np.int64)
        self.n_msgs += len(fr.offsets)
        self.by_type += np.bincount(fr.types, minlength=256)
        bad = np.flatnonzero(fr.status != K.ST_OK)
        for i in bad.tolist():
            tb = int(fr.types[i])
            tc = chr(tb) if 32 <= tb < 127 else f"0x{tb:02x}"
            off = int(fr.offsets[i]) - 2 + base_offset
            if fr.status[i] == K.ST_UNKNOWN:
                rule, reason = "itch_unknown_type", "unknown_type"
                msg = f"unknown message type {tc!r} (length {int(fr.lengths[i])})"
                self.unknown[tc] = self.unknown.get(tc, 0) + 1
            else:
                rule, reason = "itch_bad_length", "bad_length"
                exp = int(_SPEC_LEN_TABLE[tb]) if fr.lengths[i] else 0
                msg = f"message type {tc!r} has length {int(fr.lengths[i])}, the spec says {exp}"
                self.bad_len[tc] = self.bad_len.get(tc, 0) + 1
            if self.strict:
                raise DataFormatError(msg, path=self.path, offset=off, field="length")
            self.file_qc.append((int(seq[i]), 0, "raw", rule, reason, "quarantine", f"offset {off}: {msg}"))
        # stock directory first: it defines which locates are wanted
        r_sel = np.flatnonzero((fr.types == ord("R")) & (fr.status == K.ST_OK))
        if len(r_sel):
            rdf = _records_frame("R", buf, fr.offsets[r_sel], self.midnight, seq[r_sel])
            for loc, sym in zip(rdf["stock_locate"].to_list(), rdf["stock"].to_list(), strict=True):
                self.loc_sym[loc] = sym
                if self.symbols is None or sym in self.symbols:
                    self.wanted[loc] = True
        keep = K.keep_mask(buf, fr.offsets, fr.types, fr.status, self.wanted)
        idx = np.flatnonzero(keep)
        self.kept += len(idx)
        offs, types, kseq = fr.offsets[idx], fr.types[idx], seq[idx]
        for t in _REF_TYPES:
            sel = np.flatnonzero(types == ord(t))
            if len(sel):
                self.ref_frames.setdefault(t, []).append(
                    _records_frame(t, buf, offs[sel], self.midnight, kseq[sel])
                )
        self._book(buf, offs, types, kseq)

    def _book(self, buf: np.ndarray, offs: np.ndarray, types: np.ndarray, seq: np.ndarray) -> None:
        bsel = np.flatnonzero(_IS_BOOK[types])
        if not len(bsel):
            return
        offs, types, seq = offs[bsel], types[bsel], seq[bsel]
        # sub-batches keep the kernel's output buffers cache-sized (and reused)
        for lo in range(0, len(offs), self.batch):
            hi = min(lo + self.batch, len(offs))
            self._book_batch(buf, offs[lo:hi], types[lo:hi], seq[lo:hi])

    def _book_batch(self, buf: np.ndarray, offs: np.ndarray, types: np.ndarray, seq: np.ndarray) -> None:
        n = len(offs)
        adds = int(np.count_nonzero(_IS_ADD[types]))
        need = int(self.counts[0]) + adds
        if 2 * need > self.tab.shape[0]:
            size = self.tab.shape[0]
            while 2 * need > size:
                size *= 2
            new = np.full((size, 4), K.EMPTY, dtype=np.int64)
            K.rehash(self.tab, new)
            self.tab = new
        if self._ev.shape[1] < 2 * n:
            self._ev = np.empty((9, 2 * n), dtype=np.int64)
            self._tr = np.empty((9, n), dtype=np.int64)
            self._ms = np.empty((5, n), dtype=np.int64)
        K.order_events(buf, offs, types, seq, self.tab, self.counts, *self._ev, *self._tr, *self._ms)
        ne, nt, nm = int(self.counts[1]), int(self.counts[2]), int(self.counts[3])
        tr = [a[:nt].copy() for a in self._tr]
        ms = [a[:nm].copy() for a in self._ms]
        # L3 events grouped per stock (stable order within a stock): one gather, then row views
        perm, start = K.group_order(self._ev[1, :ne], 65536)
        ev = K.gather_columns(self._ev, perm, 2, self.midnight)
        e_msg, _, e_ts, e_act, e_side, e_px, e_sz, e_oid, e_flags = ev
        for loc in np.flatnonzero(np.diff(start)).tolist():
            lo, hi = int(start[loc]), int(start[loc + 1])
            book = self.books.get(loc)
            if book is None:
                book = self.books[loc] = L3Book(1 << 8)  # grows; ~8 KB per idle stock
            out = book.apply_arrays(
                e_ts[lo:hi],
                e_ts[lo:hi],
                e_msg[lo:hi],
                e_act[lo:hi],
                e_side[lo:hi],
                e_px[lo:hi],
                e_sz[lo:hi],
                e_oid[lo:hi].view(np.uint64),
                e_flags[lo:hi],
            )
            self.deltas.setdefault(loc, []).append(out)
        t_msg, t_loc, t_ts, t_px, t_sz, t_aggr, t_kind, t_match, t_oid = tr
        if nt:
            ts = t_ts + self.midnight
            tcols: dict[str, np.ndarray] = {
                "ts_event": ts,
                "ts_recv": ts,
                "seq": t_msg,
                "price": t_px,
                "size": t_sz,
                "aggressor": t_aggr.astype(np.int8),
                "kind": t_kind.astype(np.uint8),
                "trade_id": t_match.view(np.uint64),
                "order_id": t_oid.view(np.uint64),
                "flags": np.full(nt, 128, dtype=np.uint8),
            }
            tperm, tstart = K.group_order(t_loc, 65536)
            for loc in np.flatnonzero(np.diff(tstart)).tolist():
                sl = tperm[tstart[loc] : tstart[loc + 1]]
                self.trades.setdefault(loc, []).append({k: v[sl] for k, v in tcols.items()})
        q_sel = np.flatnonzero(types == ord("Q"))
        if len(q_sel):
            sh = _records_frame("Q", buf, offs[q_sel], self.midnight, seq[q_sel])
            zero = sh.filter(pl.col("shares") == 0)
            self.zero_crosses += zero.height
        m_msg, m_loc, m_ts, m_type, m_ref = ms
        for j in range(nm):
            self.qc.setdefault(int(m_loc[j]), []).append(
                (
                    int(m_msg[j]),
                    int(m_ts[j]) + self.midnight,
                    "book_deltas",
                    "itch_unknown_order",
                    "unknown_ref",
                    "quarantine",
                    f"{chr(int(m_type[j]))} for order {int(m_ref[j])} not resting",
                )
            )

    # -- results -------------------------------------------------------------------------------------
    def result(self, truncated_at: int | None, file_size: int) -> ItchResult:
        messages = {t: pl.concat(fs) for t, fs in self.ref_frames.items()}
        s_rows = messages.get("S")
        h_rows = messages.get("H")
        b_rows = messages.get("B")
        locs = sorted(loc for loc in self.loc_sym if self.wanted[loc])
        deltas, trades, status, qc = {}, {}, {}, {}
        instruments: dict[str, Instrument] = {}
        book_stats: dict[str, int] = {}
        # market-wide system events go into every kept stock's STATUS; H and B split once by locate
        s_status = (
            s_rows.select(
                "ts_event",
                pl.col("ts_event").alias("ts_recv"),
                "seq",
                pl.col("event_code")
                .replace_strict(_S_STATUS, default=int(MarketStatus.OTHER), return_dtype=pl.UInt8)
                .alias("status"),
                ("S:" + pl.col("event_code")).alias("detail"),
            )
            if s_rows is not None
            else STATUS.empty()
        )
        h_by_loc: dict[int, pl.DataFrame] = {}
        if h_rows is not None:
            h_status = h_rows.select(
                "stock_locate",
                "ts_event",
                pl.col("ts_event").alias("ts_recv"),
                "seq",
                pl.col("trading_state")
                .replace_strict(_H_STATUS, default=int(MarketStatus.OTHER), return_dtype=pl.UInt8)
                .alias("status"),
                ("H:" + pl.col("trading_state") + " reason=" + pl.col("reason")).alias("detail"),
            )
            for (hloc,), part in h_status.partition_by("stock_locate", as_dict=True).items():
                h_by_loc[int(hloc)] = part.drop("stock_locate")
        b_by_loc: dict[int, list[tuple[int, int, int]]] = {}
        if b_rows is not None:
            for bloc, s, ts, mn in b_rows.select(
                "stock_locate", "seq", "ts_event", "match_number"
            ).iter_rows():
                b_by_loc.setdefault(bloc, []).append((s, ts, mn))
        for loc in locs:
            sym = self.loc_sym[loc]
            instruments[sym] = Instrument(symbol=sym, venue=VENUE, tick_size="0.01", timezone=TIMEZONE)
            parts = self.deltas.get(loc, [])
            # built by the kernels with valid codes: names/dtypes are checked here, values on write
            deltas[sym] = validate(_frame(parts, BOOK_DELTAS), BOOK_DELTAS, check_values=False)
            trades[sym] = validate(_frame(self.trades.get(loc, []), TRADES), TRADES, check_values=False)
            h = h_by_loc.get(loc)
            sdf = s_status if h is None else pl.concat([s_status, h]).sort("seq")
            status[sym] = validate(sdf, STATUS, where=f"itch {sym}", check_values=False)
            rows = list(self.qc.get(loc, []))
            for s, ts, mn in b_by_loc.get(loc, []):
                rows.append((s, ts, "trades", "itch_broken_trade", "broken", "mark", f"match {mn}"))
            qc[sym] = validate(_qc_rows(sorted(rows)), QC, where=f"itch {sym}", check_values=False)
            book = self.books.get(loc)
            if book is not None:
                for k, v in book.stats.as_dict().items():
                    book_stats[k] = book_stats.get(k, 0) + v
        file_qc = list(self.file_qc)
        if truncated_at is not None:
            file_qc.append(
                (
                    self.n_msgs,
                    0,
                    "raw",
                    "itch_truncated",
                    "truncated",
                    "drop",
                    f"offset {truncated_at}: partial message, {file_size - truncated_at} bytes",
                )
            )
        by_type = {chr(t): int(c) for t, c in enumerate(self.by_type.tolist()) if c and chr(t) in LAYOUTS}
        stats: dict[str, Any] = {
            "messages": self.n_msgs,
            "messages_by_type": dict(sorted(by_type.items())),
            "kept_messages": self.kept,
            "unknown_types": self.unknown,
            "bad_lengths": self.bad_len,
            "truncated_at": truncated_at,
            "truncated_bytes": 0 if truncated_at is None else file_size - truncated_at,
            "bytes": file_size,
            "symbols": len(locs),
            "stock_directory": len(self.loc_sym),
            "open_orders": int(self.counts[0]),
            "unknown_order_refs": sum(len(v) for v in self.qc.values()),
            "zero_share_crosses": self.zero_crosses,
            "book": book_stats,
        }
        return ItchResult(
            date=self.date,
            deltas=deltas,
            trades=trades,
            status=status,
            qc=qc,
            instruments=instruments,
            messages=messages,
            qc_file=validate(_qc_rows(file_qc), QC, where="itch file"),
            stats=stats,
        )


def _resolve_date(path: str | Path, date: dt.date | str | None) -> dt.date:
    if date is not None:
        return dt.date.fromisoformat(date) if isinstance(date, str) else date
    d = date_from_filename(path)
    if d is None:
        raise ConfigError(
            f"{path}: trading date unknown (ITCH timestamps are ns after midnight): pass date= "
            "or name the file like 01302019.NASDAQ_ITCH50"
        )
    return d


def read_itch(
    path: str | Path,
    *,
    date: dt.date | str | None = None,
    symbols: Iterable[str] | None = None,
    chunk_bytes: int = 64 << 20,
    strict: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> ItchResult:
    """Read an ITCH 5.0 file (streamed in ``chunk_bytes`` blocks) into canonical tables per stock.

    Parameters
    ----------
    path
        Binary ITCH 5.0 file with 2-byte length framing (uncompressed).
    date
        Trading date (local, America/New_York); default from a ``MMDDYYYY.`` file name prefix.
    symbols
        Keep only these stocks (others' messages are skipped without being decoded).
    chunk_bytes
        Read size; a message cut by a block boundary is carried into the next block.
    strict
        Raise :class:`DataFormatError` (with the byte offset) on a bad length, an unknown type
        or a truncated last message instead of quarantining / reporting it.
    on_progress
        Called with the number of bytes consumed after each block.
    """
    if chunk_bytes < 1:
        raise ConfigError(f"chunk_bytes must be >= 1, got {chunk_bytes}")
    p = Path(path)
    d = _resolve_date(p, date)
    wanted = None if symbols is None else {s.strip() for s in symbols if s.strip()}
    rd = _Reader(str(p), d, wanted, strict)
    carry = b""
    consumed = 0  # file offset of carry[0]
    file_size = p.stat().st_size
    with open(p, "rb") as f:
        while True:
            block = f.read(chunk_bytes)
            if not block:
                break
            data = carry + block
            buf = np.frombuffer(data, dtype=np.uint8)
            # output arrays sized for real messages (>= 14 bytes framed); degenerate frames
            # (e.g. zero lengths) only take more rounds
            cap = len(buf) // _MIN_LEN + 16
            pos = 0
            while True:
                fr = scan_frames(buf, pos, len(buf), cap)
                if not len(fr.offsets):
                    break
                rd.block(buf, fr, consumed)
                pos = fr.stop
            carry = data[pos:]
            consumed += pos
            if on_progress is not None:
                on_progress(consumed)
    truncated_at = consumed if carry else None
    if truncated_at is not None and strict:
        raise DataFormatError(
            f"truncated message: {len(carry)} bytes after the last whole message",
            path=p,
            offset=truncated_at,
            field="length",
        )
    return rd.result(truncated_at, file_size)


def ingest_itch(
    path: str | Path,
    out: str | Path,
    *,
    date: dt.date | str | None = None,
    symbols: Iterable[str] | None = None,
    chunk_bytes: int = 64 << 20,
    strict: bool = False,
    snapshots: int = 0,
    on_progress: Callable[[int], None] | None = None,
) -> ItchResult:
    """:func:`read_itch`, then write each stock's tables to the Dataset at ``out``.

    Writes book_deltas, trades, status and qc partitions (instrument=SYMBOL/date=DATE), the
    instruments and a meta file per stock (source, stats). File-level QC rows (bad lengths,
    unknown types, truncation) go into every written stock's qc table. ``snapshots > 0`` also
    writes book_snapshots (that many levels, after every event) with the L2 engine.
    """
    from orderflow.core.io import Dataset, file_digest

    res = read_itch(
        path, date=date, symbols=symbols, chunk_bytes=chunk_bytes, strict=strict, on_progress=on_progress
    )
    ds = Dataset(out)
    digest = file_digest(path)
    for sym, inst in res.instruments.items():
        ds.add_instrument(inst)
        ds.write("book_deltas", res.deltas[sym], sym, res.date, schema=BOOK_DELTAS)
        ds.write("trades", res.trades[sym], sym, res.date, schema=TRADES)
        ds.write("status", res.status[sym], sym, res.date, schema=STATUS)
        qc = pl.concat([res.qc[sym], res.qc_file]).sort("seq")
        ds.write("qc", qc, sym, res.date, schema=QC)
        ds.write_meta(
            sym,
            res.date,
            {
                "source": str(path),
                "sha256": digest,
                "format": "itch50",
                "rows": {
                    "book_deltas": res.deltas[sym].height,
                    "trades": res.trades[sym].height,
                    "status": res.status[sym].height,
                    "qc": qc.height,
                },
                "file_stats": res.stats,
            },
        )
        if snapshots > 0:
            from orderflow.book.engine import reconstruct_dataset

            reconstruct_dataset(ds, sym, res.date, depth=snapshots)
    return res


__all__ = [
    "LAYOUTS",
    "NAMES",
    "SPEC_LENGTHS",
    "Frames",
    "ItchResult",
    "date_from_filename",
    "ingest_itch",
    "parse_messages",
    "read_itch",
    "scan_frames",
]
