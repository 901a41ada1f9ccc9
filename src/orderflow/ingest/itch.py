"""NASDAQ TotalView-ITCH 5.0 binary files -> canonical BOOK_DELTAS / TRADES / STATUS / QC per stock.

Format (NASDAQ TotalView-ITCH 5.0 specification; the public day files such as
``01302019.NASDAQ_ITCH50``): each message is a 2-byte big-endian length followed by the
message body. The body starts with the type byte, stock locate (u16), tracking number (u16)
and a 6-byte timestamp in ns after midnight, America/New_York local time of the trading date.
Integers are big-endian; ``Price(4)`` is u32 x 1e-4 dollars and ``Price(8)`` u64 x 1e-8;
alpha fields are ASCII, space-padded on the right. Every type's length is checked against the
spec (:data:`SPEC_LENGTHS`).

Parsing runs without a Python loop per message: a numba pass finds the message offsets, types
and length errors; the per-type columns of the reference messages are cut out of the bytes with
numpy structured big-endian views (:func:`parse_messages`, every type of the spec), and the
order and trade messages go through fused numba kernels: one pass in message order parses them
and keeps the live order references (side, price, remaining shares), then each batch's L3
records run through the stocks' order books stock by stock, and the BOOK_DELTAS rows are moved
into per-stock typed column segments that become the output frames without another copy.

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
until the end (about 43 bytes per BOOK_DELTAS row), so a full day of every stock needs many
GB; pass ``symbols=`` for bounded memory. Each stock gets the tables of one
:class:`~orderflow.book.l3.L3Book` (same kernels, same semantics), kept in shared pools, started
small and grown on demand. Order messages are taken in batches of 2**15 (``_Reader.batch``) to
keep the kernels' buffers cache-sized; as with one ``L3Book.apply`` call per stock and batch, a
LAST record that makes no row moves LAST onto the stock's previous row of the same batch.
Throughput: ``tests/benchmarks/test_bench_itch.py`` (framing alone, parse + book + tables,
stock filter).
"""

from __future__ import annotations

import datetime as dt
import mmap
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from orderflow.book import _l3_kernels as L3K
from orderflow.book.l3 import L3Stats, stats_from_counters
from orderflow.core.enums import MarketStatus
from orderflow.core.errors import ConfigError, DataFormatError
from orderflow.core.instruments import Instrument
from orderflow.core.schema import BOOK_DELTAS, QC, STATUS, TRADES, validate
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
# reference messages kept as per-type frames (order messages are consumed by the book)
_REF_TYPES = "SRHYLVWKJhBINO"
_IS_REF = np.zeros(256, dtype=np.bool_)
_IS_REF[[ord(c) for c in _REF_TYPES]] = True

# typed BOOK_DELTAS columns written by the kernel: ts, seq, side, action, price, size, order_id, flags
_DCOL_DTYPES = (np.int64, np.int64, np.int8, np.uint8, np.int64, np.int64, np.int64, np.uint8)

_ITCH_TIMINGS: dict[str, float] | None = None
"""Set to a dict to profile :func:`read_itch`: CPU seconds (process time) per stage are added to
it (benchmark): ``read`` file reads, ``framing`` :func:`scan_frames`, ``select`` bad-frame QC,
stock directory, stock filter and reference-message frames, ``parse`` order/trade messages
through the order-reference table (:func:`K.order_pass`), ``book`` the stocks' L3 books
(:func:`K.apply_events`), ``group`` rows moved to per-stock storage (:func:`K.flush_rows`),
``tables`` the output frames (BOOK_DELTAS, TRADES, STATUS, QC)."""
_cpu = time.process_time


def _zeros(shape: int | tuple[int, ...], dtype: Any) -> np.ndarray:
    """Zero-filled array; large ones in their own anonymous memory map.

    The pages of a map are zero-filled by the kernel on first touch and never touched otherwise,
    so generous capacities cost nothing until used, and (unlike numpy's large allocations, which
    ask for transparent huge pages) first touches do not wait for huge-page compaction, which
    can cost more than the parsing itself on a busy machine.
    """
    shp = (shape,) if isinstance(shape, int) else shape
    dt = np.dtype(dtype)
    nbytes = int(np.prod(shp, dtype=np.int64)) * dt.itemsize
    if nbytes < (1 << 20):
        return np.zeros(shp, dtype=dt)
    return np.frombuffer(mmap.mmap(-1, nbytes), dtype=dt).reshape(shp)


def _grown(a: np.ndarray, cap: int, axis: int = -1) -> np.ndarray:
    """``a`` with ``axis`` enlarged to ``cap`` (contents kept, the new part zero)."""
    shape = list(a.shape)
    old = shape[axis]
    shape[axis] = cap
    new = _zeros(tuple(shape), a.dtype)
    sl = [slice(None)] * a.ndim
    sl[axis] = slice(0, old)
    new[tuple(sl)] = a
    return new


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
    offsets = _zeros(cap, np.int64)
    types = _zeros(cap, np.uint8)
    lengths = _zeros(cap, np.int64)
    status = _zeros(cap, np.uint8)
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
    batch = 1 << 15
    """Order messages per batch: the batch's L3 records are applied stock by stock, with buffers
    that stay cache-sized."""
    initial_pool_orders = 1 << 14
    """Initial order-table rows of the pool holding every stock's L3 book (doubles when full)."""
    initial_pool_levels = 1 << 12
    """Initial level-table rows (per side) of that pool (doubles when full)."""
    gen_rows_min = 1 << 16
    """Least rows of a generation of BOOK_DELTAS column arrays (sized from the file otherwise)."""

    def __init__(self, path: str, date: dt.date, symbols: set[str] | None, strict: bool) -> None:
        self.path = path
        self.date = date
        self.midnight = local_midnight_ns(date, TIMEZONE)
        self.symbols = symbols
        self.strict = strict
        self.wanted = np.zeros(65536, dtype=np.bool_)
        self.loc_sym: dict[int, str] = {}
        self.tab = np.full((self.initial_orders, 4), K.EMPTY, dtype=np.int64)
        self.st = np.zeros(K.N_STATE, dtype=np.int64)
        self.st[K.S_GEN] = -1
        """kernel state (K.S_*): open orders, rows, trades, misses, batch, pool use, zero crosses..."""
        # every stock's L3 book (the tables of orderflow.book.l3.L3Book), located by ``desc``
        self.opool = np.zeros((self.initial_pool_orders, 4), dtype=np.int64)
        self.lpool = np.zeros((2, self.initial_pool_levels, 3), dtype=np.int64)
        self.hpool = np.zeros((2, self.initial_pool_levels), dtype=np.int64)
        self.cpool = np.zeros((65536, L3K.N_COUNTERS), dtype=np.int64)
        self.desc = np.full((65536, 4), -1, dtype=np.int64)
        # BOOK_DELTAS rows go straight into typed columns, in per-stock segments (K.G_*)
        self.ev = np.empty((0, 9), dtype=np.int64)
        """L3 records of the current batch, message order (K.E_* columns)"""
        self.out = np.empty((9, 0), dtype=np.int64)
        """BOOK_DELTAS rows of the current batch, grouped by stock (columns of the L3 kernels)"""
        self.out_loc = np.empty(0, dtype=np.uint16)
        self._tally = np.zeros(65536, dtype=np.int64)
        self._touched = np.empty(0, dtype=np.int64)
        self._grouped = np.empty((0, 9), dtype=np.int64)
        self._tstart = np.empty(0, dtype=np.int64)
        self.gen_rows = 1 << 20
        """rows of each generation of BOOK_DELTAS columns (allocated, not touched, until used)"""
        self.gens: list[tuple[np.ndarray, ...]] = []
        self.dcols: tuple[np.ndarray, ...] = tuple(np.empty(0, dtype=d) for d in _DCOL_DTYPES)
        self.seg = np.full(65536, -1, dtype=np.int64)
        self.seglog = np.zeros((1 << 10, 5), dtype=np.int64)
        self.tr = np.empty((9, 1 << 10), dtype=np.int64)
        self.ms = np.empty((5, 1 << 8), dtype=np.int64)
        self.timings: dict[str, float] = {}
        """CPU seconds by stage (``_ITCH_TIMINGS``); filled only when profiling is on"""
        self.status: dict[int, list[pl.DataFrame]] = {}
        self.qc: dict[int, list[tuple[int, int, str, str, str, str, str]]] = {}
        self.system: list[tuple[int, int, str]] = []
        self.ref_frames: dict[str, list[pl.DataFrame]] = {}
        self.file_qc: list[tuple[int, int, str, str, str, str, str]] = []
        self.by_type = np.zeros(256, dtype=np.int64)
        self.unknown: dict[str, int] = {}
        self.bad_len: dict[str, int] = {}
        self.kept = 0
        self.n_msgs = 0
        self._t = _cpu()

    # -- one block of whole messages ---------------------------------------------------------------
    def block(self, buf: np.ndarray, fr: Frames, base_offset: int) -> None:
        self._t = _cpu()
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
        self.kept += int(np.count_nonzero(keep))
        # reference messages (few): one selection, then per type
        ridx = np.flatnonzero(keep & _IS_REF[fr.types])
        if len(ridx):
            offs, types, kseq = fr.offsets[ridx], fr.types[ridx], seq[ridx]
            for t in _REF_TYPES:
                sel = np.flatnonzero(types == ord(t))
                if len(sel):
                    self.ref_frames.setdefault(t, []).append(
                        _records_frame(t, buf, offs[sel], self.midnight, kseq[sel])
                    )
        self._lap("select")
        self._book(buf, fr, keep, int(seq[0]) if len(seq) else self.n_msgs)
        self._lap("parse")

    def _lap(self, stage: str) -> None:
        if _ITCH_TIMINGS is not None:
            now = _cpu()
            self.timings[stage] = self.timings.get(stage, 0.0) + now - self._t
            self._t = now

    def _book(self, buf: np.ndarray, fr: Frames, keep: np.ndarray, seq0: int) -> None:
        """Order messages of the block: :func:`K.order_pass` (parse + order-reference table, message
        order), then per batch :func:`K.apply_events` (the stocks' L3 books, stock by stock) and
        :func:`K.flush_rows` (rows to the stocks' segments)."""
        st = self.st
        st[K.S_BATCH] = 0  # batches restart with each block (as the per-call memory of L3Book.apply)
        cap = 2 * self.batch + 16  # L3 records per batch: at most 2 per message
        if self.ev.shape[0] < cap:
            self.ev = _zeros((cap, 9), np.int64)
            self.out = _zeros((9, 2 * cap), np.int64)  # rows: at most 2 per record
            self.out_loc = _zeros(2 * cap, np.uint16)
            self._grouped = _zeros((cap, 9), np.int64)
            self._touched = _zeros(2 * cap + 2, np.int64)
            self._tstart = _zeros(cap + 2, np.int64)
        i, n = 0, len(fr.offsets)
        if self.tr.shape[1] < int(st[K.S_TRADES]) + n:
            # at most one trade row per message; the map's pages are touched only when used
            self.tr = _grown(self.tr, max(2 * self.tr.shape[1], int(st[K.S_TRADES]) + n))
        while i < n:
            i = K.order_pass(
                buf,
                fr.offsets,
                fr.types,
                keep,
                _IS_BOOK,
                i,
                seq0,
                self.midnight,
                self.batch,
                self.tab,
                st,
                self.ev,
                self.tr,
                self.ms,
            )
            need = int(st[K.S_NEED])
            if i >= n or need == K.NEED_NONE:
                break
            if need == K.NEED_FLUSH:
                self._lap("parse")
                self._apply()
            elif need == K.NEED_TAB:
                new = np.full((2 * self.tab.shape[0], 4), K.EMPTY, dtype=np.int64)
                K.rehash(self.tab, new)
                self.tab = new
            else:
                if st[K.S_TRADES] + 1 > self.tr.shape[1]:
                    self.tr = _grown(self.tr, 2 * self.tr.shape[1])
                if st[K.S_MISSES] + 1 > self.ms.shape[1]:
                    self.ms = _grown(self.ms, 2 * self.ms.shape[1])
        self._lap("parse")
        self._apply()
        nm = int(st[K.S_MISSES])
        if nm:
            m_msg, m_loc, m_ts, m_type, m_ref = (a.tolist() for a in self.ms[:, :nm])
            for j in range(nm):
                self.qc.setdefault(m_loc[j], []).append(
                    (
                        m_msg[j],
                        m_ts[j] + self.midnight,
                        "book_deltas",
                        "itch_unknown_order",
                        "unknown_ref",
                        "quarantine",
                        f"{chr(m_type[j])} for order {m_ref[j]} not resting",
                    )
                )
            st[K.S_MISSES] = 0

    def _apply(self) -> None:
        """The batch's L3 records through the books (K.apply_events), rows to the segments."""
        st = self.st
        if not st[K.S_EVENTS]:
            return
        while not K.apply_events(
            self.ev,
            self.opool,
            self.lpool,
            self.hpool,
            self.cpool,
            self.desc,
            st,
            self.out,
            self.out_loc,
            self._grouped,
            self._tally,
            self._touched,
            self._tstart,
        ):
            if st[K.S_NEED] == K.NEED_OPOOL:
                self.opool = _grown(self.opool, 2 * self.opool.shape[0], axis=0)
            else:
                self.lpool = _grown(self.lpool, 2 * self.lpool.shape[1], axis=1)
                self.hpool = _grown(self.hpool, 2 * self.hpool.shape[1], axis=1)
        self._lap("book")
        self._flush()
        self._lap("group")

    def _flush(self) -> None:
        """Move the batch's rows to the stocks' segments (K.flush_rows)."""
        st = self.st
        while st[K.S_ROWS] and not K.flush_rows(
            self.out,
            self.out_loc,
            int(st[K.S_ROWS]),
            self.dcols,
            self.seg,
            self.seglog,
            st,
            self._tally,
            self._touched,
        ):
            if st[K.S_NEED] == K.NEED_ROWS:
                self._new_generation(int(st[K.S_SEGSIZE]))
            else:
                self.seglog = _grown(self.seglog, 2 * self.seglog.shape[0] + int(st[K.S_ROWS]), axis=0)

    def _new_generation(self, rows: int) -> None:
        cap = max(self.gen_rows, rows)
        self.dcols = tuple(_zeros(cap, d) for d in _DCOL_DTYPES)
        self.gens.append(self.dcols)
        self.st[K.S_GEN] = len(self.gens) - 1
        self.st[K.S_USED] = 0
        self.st[K.S_CAP] = cap

    def _tables(self) -> tuple[dict[int, pl.DataFrame], dict[int, pl.DataFrame]]:
        """BOOK_DELTAS and TRADES frames per locate; deltas are views of the kernel's segments."""
        parts: dict[int, list[pl.DataFrame]] = {}
        for loc, gen, start, _, fill in self.seglog[: int(self.st[K.S_SEGS])].tolist():
            if not fill:
                continue
            ts, seq, side, action, price, size, oid, flags = (c[start : start + fill] for c in self.gens[gen])
            dcols = {
                "ts_event": ts,
                "ts_recv": ts,
                "seq": seq,
                "side": side,
                "action": action,
                "price": price,
                "size": size,
                "order_id": oid.view(np.uint64),
                "flags": flags,
            }
            parts.setdefault(loc, []).append(
                pl.DataFrame([pl.Series(c.name, dcols[c.name], dtype=c.dtype) for c in BOOK_DELTAS.columns])
            )
        deltas = {loc: p[0] if len(p) == 1 else pl.concat(p, rechunk=False) for loc, p in parts.items()}
        nt = int(self.st[K.S_TRADES])
        trades: dict[int, pl.DataFrame] = {}
        if nt:
            tstart, ts, seq, price, size, aggr, kind, match, toid = K.group_trades(self.tr, nt, 65536)
            self.tr = self.tr[:, :0]
            tcols: dict[str, np.ndarray] = {
                "ts_event": ts,
                "ts_recv": ts,
                "seq": seq,
                "price": price,
                "size": size,
                "aggressor": aggr,
                "kind": kind,
                "trade_id": match.view(np.uint64),
                "order_id": toid.view(np.uint64),
                "flags": np.full(nt, 128, dtype=np.uint8),
            }
            for loc in np.flatnonzero(np.diff(tstart)).tolist():
                lo, hi = int(tstart[loc]), int(tstart[loc + 1])
                trades[loc] = pl.DataFrame(
                    [pl.Series(c.name, tcols[c.name][lo:hi], dtype=c.dtype) for c in TRADES.columns]
                )
        return deltas, trades

    def book_stats(self, loc: int) -> L3Stats | None:
        """Counters of ``loc``'s L3 book (None when the stock had no order message)."""
        if self.desc[loc, K.D_OT] < 0:
            return None
        return stats_from_counters(self.cpool[loc])

    # -- results -------------------------------------------------------------------------------------
    def result(self, truncated_at: int | None, file_size: int) -> ItchResult:
        self._t = _cpu()
        d_by_loc, t_by_loc = self._tables()
        self._lap("tables")
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
            # built by the kernels with valid codes: names/dtypes are checked here, values on write
            d = d_by_loc.get(loc)
            deltas[sym] = validate(BOOK_DELTAS.empty() if d is None else d, BOOK_DELTAS, check_values=False)
            tdf = t_by_loc.get(loc)
            trades[sym] = validate(TRADES.empty() if tdf is None else tdf, TRADES, check_values=False)
            h = h_by_loc.get(loc)
            sdf = s_status if h is None else pl.concat([s_status, h]).sort("seq")
            status[sym] = validate(sdf, STATUS, where=f"itch {sym}", check_values=False)
            rows = list(self.qc.get(loc, []))
            for s, ts, mn in b_by_loc.get(loc, []):
                rows.append((s, ts, "trades", "itch_broken_trade", "broken", "mark", f"match {mn}"))
            qc[sym] = validate(_qc_rows(sorted(rows)), QC, where=f"itch {sym}", check_values=False)
            bst = self.book_stats(loc)
            if bst is not None:
                for k, v in bst.as_dict().items():
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
            "open_orders": int(self.st[K.S_ORDERS]),
            "unknown_order_refs": sum(len(v) for v in self.qc.values()),
            "zero_share_crosses": int(self.st[K.S_ZERO_CROSS]),
            "book": book_stats,
        }
        self._lap("tables")
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
    consumed = 0  # file offset of the carried partial message
    file_size = p.stat().st_size
    rd.gen_rows = max(rd.gen_rows_min, min(file_size // 16, 1 << 25))  # about 1 row per 30 bytes
    # one read buffer, reused: the partial message carried from the previous block (< 2 + 65535
    # bytes) is moved to its front and the next block read in behind it
    raw = bytearray(min(chunk_bytes, max(file_size, 1)) + (1 << 17))
    view = memoryview(raw)
    whole = np.frombuffer(raw, dtype=np.uint8)
    ncarry = 0
    rd._t = _cpu()
    with open(p, "rb") as f:
        while True:
            got = f.readinto(view[ncarry : ncarry + chunk_bytes])
            if not got:
                break
            buf = whole[: ncarry + got]
            rd._lap("read")
            # output arrays sized for real messages (>= 14 bytes framed); degenerate frames
            # (e.g. zero lengths) only take more rounds
            cap = len(buf) // _MIN_LEN + 16
            pos = 0
            while True:
                fr = scan_frames(buf, pos, len(buf), cap)
                rd._lap("framing")
                if not len(fr.offsets):
                    break
                rd.block(buf, fr, consumed)
                pos = fr.stop
            ncarry = len(buf) - pos
            raw[:ncarry] = raw[pos : pos + ncarry]
            consumed += pos
            if on_progress is not None:
                on_progress(consumed)
            rd._t = _cpu()
    truncated_at = consumed if ncarry else None
    if truncated_at is not None and strict:
        raise DataFormatError(
            f"truncated message: {ncarry} bytes after the last whole message",
            path=p,
            offset=truncated_at,
            field="length",
        )
    res = rd.result(truncated_at, file_size)
    if _ITCH_TIMINGS is not None:
        for k, v in rd.timings.items():
            _ITCH_TIMINGS[k] = _ITCH_TIMINGS.get(k, 0.0) + v
    return res


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
