"""Databento DBN (``.dbn``, ``.dbn.zst``) into canonical tables.

Metadata, symbology and the rare record types (definitions, symbol mappings) are decoded with
Databento's own ``databento_dbn`` package. The bulk records (mbo, mbp-1, tbbo, mbp-10, trades) are
decoded from the raw bytes by numba kernels (:mod:`orderflow.ingest._dbn_kernels`) in one pass
into columns; the tests compare every column with ``databento_dbn``'s record objects on every
fixture. Zstandard input is decompressed with pyarrow's zstd codec (``databento_dbn`` decodes zstd
itself but exposes no decompressed bytes, and the ``zstandard`` module is not installed). An
uncompressed file of 4 MiB or more is memory-mapped read-only instead of read, and for an mbp-10,
mbp-1, tbbo or trades file its records are decoded during the record scan (one pass over the file).

What each schema becomes (one partition per instrument symbol and UTC date of ``ts_recv``):

* **mbo** -> BOOK_DELTAS through the order-level book (:class:`orderflow.book.l3.L3Book`):
  A add, C cancel (``size`` is the quantity cancelled), M modify (new price/size; loses priority
  when the price changes or the size grows), R clear. T (trade) and F (fill) records do not change
  the book themselves: each fill is followed by the C or M that updates the order. T records
  become TRADES rows (``side`` is the aggressor's: B buyer-initiated, A seller-initiated, N none;
  side-N prints, e.g. the auction cross at an open, get kind CROSS); F records are counted.
  Side-N or UNDEF-price records never rest in the book (counted as ``invalid`` by the book).
  Snapshot records (flag 32) seed the book: a snapshot that ends without a LAST record ends at
  the first live record (LAST is set on its last record), and a snapshot that starts on a
  non-empty book without a clear in front of it is preceded by a synthetic CLEAR row, so a
  repeated snapshot replaces the book instead of doubling it.
* **mbp-10 / mbp-1 / tbbo** -> BOOK_SNAPSHOTS (the record's levels, with ``*_ct_*`` order counts)
  and BOOK_DELTAS as SET rows that turn each snapshot into the next (so the delta stream describes
  the published top-N window: a level pushed below depth N is SET to 0). Records with action T
  -> TRADES.
* **trades** -> TRADES.
* **definition** -> :class:`~orderflow.core.instruments.Instrument` (tick size =
  ``min_price_increment``). Without a definition the tick size is the gcd of the prices seen.
* statistics, status, imbalance, ohlcv, bbo, cbbo, cmbp-1, symbol mappings, system and error
  records are counted and skipped; unknown rtypes are counted, skipped and reported.

Flags travel unchanged (LAST only on the last row of a record's rows, so L2 snapshots are taken at
event ends). Records flagged bad ts_recv (8) or maybe-bad-book (4) are kept and get QC rows (rule
``dbn_flags``, action ``mark``). An event ending on a crossed or locked book gets a QC row (rule
``crossed_book``): reason ``auction`` before the session's first trade (a pre-open book may cross),
``continuous`` after it. When a file holds several book schemas for one instrument (a live mixed
stream), the richest one is used (mbo > mbp-10 > mbp-1/tbbo) and the others are counted as
``shadowed``.

Every partition replays on its own from an empty book: for mbo the book carries over between dates
and a later date's partition starts with it as synthetic rows (a CLEAR, then every resting order as
an ADD in priority order, flag 32, LAST on the last row; QC rule ``partition_start``); for mbp the
SET differencing restarts from an empty book at each date. ``seq`` is the record's index in the
file (shared by the tables of an instrument, increasing).

A truncated file is decoded up to its last whole record; the byte offset (in the decompressed
stream) is reported in the stats and as a warning, never as a crash.
"""

from __future__ import annotations

import datetime as dt
import itertools
import mmap
import os
import re
import warnings
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from orderflow.book.l3 import L3_CLEAR, L3Book
from orderflow.core.enums import PRICE_SCALE, UNDEF_PRICE, AggressorSide, BookAction, Flags, TradeKind
from orderflow.core.errors import DataFormatError
from orderflow.core.instruments import Instrument, price_to_str
from orderflow.core.io import Dataset, file_digest
from orderflow.core.schema import BOOK_DELTAS, QC, TRADES, book_snapshots, validate
from orderflow.ingest import _dbn_kernels as K

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BOOK_RTYPES = (K.RTYPE_MBO, K.RTYPE_MBP10, K.RTYPE_MBP1)
DECODED_RTYPES = (
    K.RTYPE_MBO,
    K.RTYPE_MBP10,
    K.RTYPE_MBP1,
    K.RTYPE_MBP0,
    K.RTYPE_DEFINITION,
    K.RTYPE_SYMBOL_MAPPING,
)
UNDEF_TS = -1  # u64::MAX read as int64


def _as_is(dbn: Any) -> Any:
    return dbn.VersionUpgradePolicy.AS_IS


class DbnTruncationWarning(UserWarning):
    """A DBN file ends inside a record (or inside its zstd stream): decoded up to the last whole record."""


@dataclass
class DbnStats:
    """What was in the file and what was done with it."""

    path: str
    version: int
    dataset: str
    schema: str | None
    bytes: int
    """decompressed size"""
    records: int
    by_rtype: dict[str, int]
    unknown_rtypes: dict[int, int]
    skipped: dict[str, int]
    """records of known types that produce no table (ohlcv, statistics, status, ...)"""
    shadowed: dict[str, int] = field(default_factory=dict)
    """book records not used because a richer book schema exists for the same instrument"""
    short_records: int = 0
    """records too short for their rtype's layout (skipped)"""
    truncated_at: int | None = None
    """byte offset (decompressed stream) after the last whole record when the file is truncated"""
    compressed_truncated: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "version": self.version,
            "dataset": self.dataset,
            "schema": self.schema,
            "bytes": self.bytes,
            "records": self.records,
            "by_rtype": self.by_rtype,
            "unknown_rtypes": {str(k): v for k, v in self.unknown_rtypes.items()},
            "skipped": self.skipped,
            "shadowed": self.shadowed,
            "short_records": self.short_records,
            "truncated_at": self.truncated_at,
            "compressed_truncated": self.compressed_truncated,
        }


@dataclass
class DbnPartition:
    """One instrument's tables for one UTC date."""

    instrument: str
    instrument_id: int
    date: dt.date
    source: str
    """schema the book came from: mbo, mbp-10, mbp-1, trades"""
    book_deltas: pl.DataFrame
    trades: pl.DataFrame
    qc: pl.DataFrame
    book_snapshots: pl.DataFrame | None = None
    depth: int = 0


@dataclass
class InstrumentReport:
    """Per-instrument-id summary over the whole file (what ``verify dbn`` prints)."""

    instrument_id: int
    symbol: str
    source: str
    records: int
    actions: dict[str, int]
    flags: dict[str, int]
    book: dict[str, int]
    """L3 book counters (mbo) or snapshot counters (mbp)"""
    crossed_events: int
    crossed_after_open: int
    first_trade_ts: int | None
    final_bbo: dict[str, Any]


@dataclass
class DbnResult:
    """Everything :func:`read_dbn` decoded."""

    stats: DbnStats
    metadata: dict[str, Any]
    instruments: dict[str, Instrument]
    partitions: list[DbnPartition]
    reports: dict[int, InstrumentReport]
    warnings: list[str]

    def partition(self, instrument: str, date: dt.date | str | None = None) -> DbnPartition:
        for p in self.partitions:
            if p.instrument == instrument and (date is None or p.date.isoformat() == str(date)):
                return p
        raise KeyError(f"no partition for instrument {instrument!r} date {date}")


# ------------------------------------------------------------------------------------------------
# bytes


def _read_bytes(path: Path) -> tuple[bytes, bool]:
    """File bytes, decompressed when zstd. Returns (data, compressed_stream_truncated)."""
    raw = path.read_bytes()
    if not raw.startswith(ZSTD_MAGIC):
        return raw, False
    import pyarrow as pa

    parts: list[bytes] = []
    truncated = False
    stream = pa.input_stream(pa.BufferReader(raw), compression="zstd")
    try:
        while True:
            chunk = stream.read(1 << 18)  # small reads: a truncated stream loses at most one chunk
            if not chunk:
                break
            parts.append(chunk)
    except (OSError, pa.ArrowException):
        truncated = True
    finally:
        stream.close()
    return b"".join(parts), truncated


def _read_for_decode(path: Path) -> tuple[Any, bool, tuple[int, int, np.ndarray, np.ndarray] | None]:
    """:func:`_read_bytes` for :func:`read_dbn`, plus the record scan when it comes for free.

    An uncompressed DBN file of ``_MMAP_MIN`` bytes or more is memory-mapped read-only
    (:func:`_map_file`): its pages are the page cache's own, so nothing is copied or zero-filled
    (reading it would fault in and zero a private buffer of the file's size, then copy the file into
    it). The data is then a memoryview of the map (:func:`_region_views` gives its record region
    without a copy) and the scan is left to the caller, which can decode the schema's records in the
    same pass (:func:`scan_decode_mbp_columns`).
    Smaller uncompressed files are read straight into a numpy buffer placed so that the record
    region (after the metadata header) starts on a cache line (:func:`_aligned_region` then needs no
    copy), in chunks of ``_READ_CHUNK`` bytes, each counted by
    :func:`~orderflow.ingest._dbn_kernels.scan_records_from` while it is still in cache. Returns the
    data (a memoryview, which slices and compares like the bytes, for an uncompressed file), the zstd
    truncation flag and ``(n_records, stop, counts, short)`` of :func:`scan_records` (or None: the
    caller scans).
    """
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8 or head[:3] != b"DBN":
            data, ztrunc = _read_bytes(path)
            return data, ztrunc, None
        size = os.fstat(f.fileno()).st_size
        start = 8 + int.from_bytes(head[4:8], "little")
        counts = np.zeros(256, np.int64)
        short = np.zeros(256, np.int64)
        if size >= _MMAP_MIN and size > start:
            mapped = _map_file(f.fileno(), size)
            if mapped is not None:
                return memoryview(mapped), False, None
        buf = np.empty(size + 128, np.uint8)
        pad = -(buf.ctypes.data + start) % 64
        view = buf[pad : pad + size]
        view[:8] = np.frombuffer(head, np.uint8)
        region = view[start:] if start < size else np.zeros(0, np.uint8)
        mv = view.data  # a memoryview of the buffer
        got, n, off = 8, 0, 0
        while got < size:
            k = f.readinto(mv[got : min(size, got + _READ_CHUNK)])
            if not k:
                break
            got += k
            if got > start:
                n, off = K.scan_records_from(region, off, n, got - start, counts, short)
    return mv[:got], False, (int(n), int(off), counts, short)


_READ_CHUNK = 1 << 20
_MMAP_MIN = 1 << 22


def _map_file(fd: int, size: int) -> mmap.mmap | None:
    """A read-only map of the file's first ``size`` bytes, with its pages mapped in one call
    (``MAP_POPULATE`` where there is one: faulting them in one by one during the first pass costs
    more than the pass), or None when the file cannot be mapped (a pipe, a special file)."""
    try:
        populate = getattr(mmap, "MAP_POPULATE", 0)
        if populate and hasattr(mmap, "MAP_PRIVATE"):
            return mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE | populate, prot=mmap.PROT_READ)
        return mmap.mmap(fd, size, access=mmap.ACCESS_READ)
    except (OSError, ValueError, OverflowError):
        return None


def _aligned_region(data: bytes, start: int) -> tuple[np.ndarray, np.ndarray]:
    """(u8, u32) views of ``data[start:]`` on 4-byte-aligned memory (copied only when needed)."""
    n = len(data) - start
    u8 = np.frombuffer(data, dtype=np.uint8, offset=start, count=n) if n > 0 else np.zeros(0, np.uint8)
    if u8.ctypes.data % 4 != 0 or n % 4 != 0:
        buf = np.zeros((n + 3) // 4, dtype=np.uint32)
        b8 = buf.view(np.uint8)
        b8[:n] = u8
        return b8[:n], buf
    return u8, u8.view(np.uint32)


def _is_mapped(data: Any) -> bool:
    return isinstance(data, memoryview) and isinstance(data.obj, mmap.mmap)


def _region_views(data: Any, start: int) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`_aligned_region`, except that a memory-mapped file is never copied: its ``u32`` is
    None when the region is not 4-byte aligned (only :func:`decode_mbo_columns` needs it; the mbp
    decoder and the scan read bytes at any alignment)."""
    if _is_mapped(data):
        n = len(data) - start
        u8 = np.frombuffer(data, dtype=np.uint8, offset=start, count=n) if n > 0 else np.zeros(0, np.uint8)
        if u8.ctypes.data % 4 == 0 and n % 4 == 0:
            return u8, u8.view(np.uint32)
        return u8, None
    return _aligned_region(data, start)


def _metadata(data: bytes, path: Path) -> tuple[Any, int, int]:
    """(databento_dbn Metadata, version, byte offset of the first record)."""
    import databento_dbn as dbn

    if len(data) < 8 or data[:3] != b"DBN":
        raise DataFormatError("not a DBN stream (missing 'DBN' magic)", path=path, offset=0, field="magic")
    version = data[3]
    meta_len = int.from_bytes(data[4:8], "little")
    start = 8 + meta_len
    if len(data) < start:
        raise DataFormatError(
            f"metadata header is truncated ({len(data)} bytes, header needs {start})",
            path=path,
            offset=len(data),
            field="metadata",
        )
    dec = dbn.DBNDecoder(upgrade_policy=_as_is(dbn))
    try:
        dec.write(bytes(data[:start]))
        objs = dec.decode()
    except Exception as e:  # databento_dbn raises its own DBNError
        raise DataFormatError(
            f"metadata cannot be decoded ({e})", path=path, offset=8, field="metadata"
        ) from e
    if not objs:
        raise DataFormatError("metadata cannot be decoded", path=path, offset=8, field="metadata")
    return objs[0], version, start


def _record_objects(
    u8: np.ndarray, stop: int, rtypes: tuple[int, ...], version: int, ts_out: bool
) -> list[Any]:
    """Decode the (few) records of ``rtypes`` with databento_dbn (definitions, symbol mappings)."""
    import databento_dbn as dbn

    chunks: list[bytes] = []
    off = 0
    raw = u8[:stop].tobytes()
    while off < stop:
        length = raw[off] * 4
        if raw[off + 1] in rtypes:
            chunks.append(raw[off : off + length])
        off += length
    if not chunks:
        return []
    dec = dbn.DBNDecoder(
        has_metadata=False,
        ts_out=ts_out,
        input_version=version,
        upgrade_policy=_as_is(dbn),
    )
    dec.write(b"".join(chunks))
    return list(dec.decode())


# ------------------------------------------------------------------------------------------------
# decoding into columns


def decode_mbo_columns(u8: np.ndarray, u32: np.ndarray, stop: int, n: int) -> dict[str, np.ndarray]:
    """Every MBO record of the region as columns (raw DBN values; ``action``/``side`` are chars)."""
    h64 = _staggered_2d(7, n, np.int64, 0)
    small = _staggered_2d(3, n, np.uint8, 40)
    cols: dict[str, np.ndarray] = {
        "instrument_id": _staggered_2d(1, n, np.uint32, 50)[0, :n],
        "ts_event": h64[0, :n],
        "ts_recv": h64[1, :n],
        "order_id": h64[2, :n],
        "price": h64[3, :n],
        "size": h64[4, :n],
        "flags": small[0, :n],
        "action": small[1, :n],
        "side": small[2, :n],
        "sequence": h64[5, :n],
        "record": h64[6, :n],
    }
    k = int(K.decode_mbo(u8, u32, 0, 0, stop, n, *cols.values())[0])
    out = {name: a[:k] for name, a in cols.items()}
    out["order_id"] = out["order_id"].view(np.uint64)
    return out


def _staggered_2d(rows: int, n: int, dtype: Any, line: int) -> np.ndarray:
    """A C-contiguous (rows, >= n) buffer whose rows start 3 cache lines apart modulo 4 KiB.

    Decoding writes one value to every output column per record, i.e. dozens of concurrent write
    streams. Rows (columns) laid out 4 KiB apart would all map to the same L1 cache set and evict
    each other (4K aliasing); staggering them by 192 bytes spreads them over the sets. ``line``
    (cache lines) shifts the whole buffer so several buffers do not overlap either.
    """
    item = np.dtype(dtype).itemsize
    per_page = 4096 // item
    width = ((n + per_page - 1) // per_page) * per_page + 192 // item
    skip = (line * 64) // item
    flat = np.empty(rows * width + skip + 4096 // item, dtype=dtype)
    base = (-flat.ctypes.data % 4096) // item + skip  # page-align, then shift by `line` lines
    return flat[base : base + rows * width].reshape(rows, width)


def _padded_2d(rows: int, n: int, dtype: Any) -> np.ndarray:
    """Level buffers for :func:`decode_mbp` (see :func:`_staggered_2d`)."""
    return _staggered_2d(rows, n, dtype, 0)


def mbp_buffers(n: int, depth: int) -> dict[str, np.ndarray]:
    """Output buffers for :func:`~orderflow.ingest._dbn_kernels.decode_mbp` (``n`` records).

    Keys in the kernel's argument order (header columns, then ``lv_px``, ``lv_sz``, ``lv_ct``);
    all write streams are staggered across cache sets (see :func:`_staggered_2d`).
    """
    h64 = _staggered_2d(6, n, np.int64, 61)
    small = _staggered_2d(4, n, np.uint8, 5)
    iid = _staggered_2d(1, n, np.uint32, 29)[0]
    return {
        "instrument_id": iid[:n],
        "ts_event": h64[0, :n],
        "ts_recv": h64[1, :n],
        "price": h64[2, :n],
        "size": h64[3, :n],
        "flags": small[0, :n],
        "action": small[1, :n],
        "side": small[2, :n],
        "sequence": h64[4, :n],
        "record": h64[5, :n],
        "lv_px": _staggered_2d(2 * depth, n, np.int64, 0),
        "lv_sz": _staggered_2d(2 * depth, n, np.int64, 1),
        "lv_ct": _staggered_2d(2 * depth, n, np.uint32, 2),
    }


def mbp_scratch(depth: int, block: int = K.MBP_BLOCK) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Level scratch ``(s_px, s_sz, s_ct)`` of :func:`~orderflow.ingest._dbn_kernels.decode_mbp_blocked`."""
    return (
        _staggered_2d(2 * depth, block, np.int64, 7)[:, :block],
        _staggered_2d(2 * depth, block, np.int64, 9)[:, :block],
        _staggered_2d(2 * depth, block, np.uint32, 11)[:, :block],
    )


def mbp_stream_scratch(depth: int, block: int = K.MBP_BLOCK) -> list[np.ndarray]:
    """Scratch of :func:`~orderflow.ingest._dbn_kernels.decode_mbp_stream`: :func:`mbp_buffers`
    for ``block`` records (~230 KB at depth 10: stays in L2), in its order. The level buffers keep
    their staggered rows (C-contiguous, wider than ``block``: the kernels take the block size from
    the 1-D columns)."""
    return list(mbp_buffers(block, depth).values())


_NO_WORDS = np.zeros(0, np.uint32)


def decode_mbp_columns(
    u8: np.ndarray, u32: np.ndarray | None, stop: int, n: int, rtype: int, depth: int
) -> dict[str, np.ndarray]:
    """Every record of ``rtype`` (trades 0x00 depth 0, mbp-1 0x01 depth 1, mbp-10 0x0A depth 10).

    Level arrays are returned as ``lv_px``/``lv_sz``/``lv_ct`` of shape (2 * depth, n): rows
    0..depth-1 are the bid levels, depth..2*depth-1 the ask levels. Decoded block by block through
    a cache-resident scratch and streamed out column by column with non-temporal stores
    (:func:`~orderflow.ingest._dbn_kernels.decode_mbp_stream`); ``u32`` is not needed (may be None).
    """
    cols = mbp_buffers(n, depth)
    k = int(
        K.decode_mbp_stream(
            u8,
            _NO_WORDS if u32 is None else u32,
            0,
            0,
            stop,
            rtype,
            depth,
            n,
            *cols.values(),
            *mbp_stream_scratch(depth),
        )[0]
    )
    return {name: a[..., :k] for name, a in cols.items()}


_SCAN_DECODE = {
    "mbp-10": (K.RTYPE_MBP10, 10),
    "mbp-1": (K.RTYPE_MBP1, 1),
    "tbbo": (K.RTYPE_MBP1, 1),
    "trades": (K.RTYPE_MBP0, 0),
}
"""schema -> (rtype, depth) decoded during the record scan of a memory-mapped file"""


def scan_decode_mbp_columns(
    u8: np.ndarray, counts: np.ndarray, short: np.ndarray, rtype: int, depth: int
) -> tuple[int, int, dict[str, np.ndarray]]:
    """:func:`~orderflow.ingest._dbn_kernels.scan_records` of the whole region and
    :func:`decode_mbp_columns` of its ``rtype`` records in one pass
    (:func:`~orderflow.ingest._dbn_kernels.scan_decode_mbp_stream`). The columns are allocated for
    as many records as the region could hold (pages past the decoded rows are never touched).
    Returns ``(n_records, stop, columns)``."""
    cap = max(1, len(u8) // (48 + 32 * depth))
    cols = mbp_buffers(cap, depth)
    n, stop, k = K.scan_decode_mbp_stream(
        u8, len(u8), counts, short, rtype, depth, cap, *cols.values(), *mbp_stream_scratch(depth)
    )
    return int(n), int(stop), {name: a[..., :k] for name, a in cols.items()}


# ------------------------------------------------------------------------------------------------
# helpers


def _aggressor(side: np.ndarray) -> np.ndarray:
    return np.where(
        side == ord("B"), int(AggressorSide.BUY), np.where(side == ord("A"), int(AggressorSide.SELL), 0)
    ).astype(np.int8)


def _dates(ts_recv: np.ndarray, ts_event: np.ndarray) -> np.ndarray:
    """UTC day of each record: of ``ts_recv``, or of ``ts_event`` where ``ts_recv`` is UNDEF."""
    out = np.empty(len(ts_recv), np.int64)
    K.utc_days(ts_recv, ts_event, out)
    return out


def _day_starts(day: np.ndarray) -> list[int]:
    """``[0, i1, ..., n]``: where each run of one day starts (then the end)."""
    if len(day) == 0 or (day[0] == day[-1] and bool((day == day[0]).all())):
        return [0, len(day)]
    return [0, *(np.flatnonzero(day[1:] != day[:-1]) + 1).tolist(), len(day)]


def _date_of(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def _safe_symbol(sym: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", sym.strip())
    return s or "UNKNOWN"


_FLAG_BITS = (Flags.LAST, Flags.TOB, Flags.SNAPSHOT, Flags.MBP, Flags.BAD_TS_RECV, Flags.MAYBE_BAD_BOOK)


def _byte_hist(a: np.ndarray) -> np.ndarray:
    """Counts of each value of a uint8 array (256 bins)."""
    hist = np.zeros(256, np.int64)
    K.byte_counts(a, hist)
    return hist


def _flag_counts(flags: np.ndarray, hist: np.ndarray | None = None) -> dict[str, int]:
    """Records with each flag bit set (from the flags' byte histogram ``hist`` when given)."""
    if hist is None and flags.dtype == np.uint8:
        hist = _byte_hist(flags)
    if hist is None:
        return {str(f.name).lower(): int(np.count_nonzero(flags & int(f))) for f in _FLAG_BITS}
    vals = np.arange(256)
    return {str(f.name).lower(): int(hist[(vals & int(f)) != 0].sum()) for f in _FLAG_BITS}


def _c_rows(a: np.ndarray) -> np.ndarray:
    """A C-contiguous 2-D array whose first ``a.shape[1]`` columns are ``a`` (so numba types its
    rows as contiguous and vectorizes loops over them): ``a`` itself, the same memory with the row
    pitch as width when ``a`` is a column prefix of a wider buffer (the decoders' outputs; the
    extra columns are never read), else a copy."""
    if a.ndim != 2 or a.flags.c_contiguous:
        return a
    isz = a.itemsize
    if a.strides[1] == isz and a.strides[0] % isz == 0 and a.strides[0] >= a.shape[1] * isz:
        return np.lib.stride_tricks.as_strided(a, (a.shape[0], a.strides[0] // isz), (a.strides[0], isz))
    return np.ascontiguousarray(a)


def _distinct(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)``, without hashing or sorting when every value is the same (the usual case for
    instrument ids and dates)."""
    if len(a) and bool((a == a[0]).all()):
        return a[:1].copy()
    return np.unique(a)


def _char_counts(a: np.ndarray, hist: np.ndarray | None = None) -> dict[str, int]:
    """Counts of each char value (from the byte histogram ``hist`` when given)."""
    if hist is not None or a.dtype == np.uint8:  # the DBN char columns: a histogram instead of np.unique
        hist = _byte_hist(a) if hist is None else hist
        vals = np.flatnonzero(hist)
        cnt = hist[vals]
    else:
        vals, cnt = np.unique(a, return_counts=True)
    return {
        chr(int(v)) if 32 <= v < 127 else f"\\x{int(v):02x}": int(c) for v, c in zip(vals, cnt, strict=True)
    }


def _trades_frame(
    ts_event: np.ndarray,
    ts_recv: np.ndarray,
    seq: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    side: np.ndarray,
    flags: np.ndarray,
) -> pl.DataFrame:
    aggr = _aggressor(side)
    kind = np.where(aggr == 0, int(TradeKind.CROSS), int(TradeKind.REGULAR)).astype(np.uint8)
    n = len(ts_event)
    return pl.DataFrame(
        {
            "ts_event": pl.Series(ts_event, dtype=pl.Int64),
            "ts_recv": pl.Series(ts_recv, dtype=pl.Int64),
            "seq": pl.Series(seq, dtype=pl.Int64),
            "price": pl.Series(price, dtype=pl.Int64),
            "size": pl.Series(size, dtype=pl.Int64),
            "aggressor": pl.Series(aggr, dtype=pl.Int8),
            "kind": pl.Series(kind, dtype=pl.UInt8),
            "trade_id": pl.Series(np.zeros(n, np.uint64), dtype=pl.UInt64),
            "order_id": pl.Series(np.zeros(n, np.uint64), dtype=pl.UInt64),
            "flags": pl.Series(flags, dtype=pl.UInt8),
        }
    )


def _qc_frame(
    seq: np.ndarray, ts: np.ndarray, table: str, rule: str, reason: Any, action: str, detail: Any
) -> pl.DataFrame:
    n = len(seq)
    reasons = reason if isinstance(reason, np.ndarray | list) else [reason] * n
    details = detail if isinstance(detail, np.ndarray | list) else [detail] * n
    return pl.DataFrame(
        {
            "seq": pl.Series(seq, dtype=pl.Int64),
            "ts_event": pl.Series(ts, dtype=pl.Int64),
            "table": pl.Series([table] * n, dtype=pl.Utf8),
            "rule": pl.Series([rule] * n, dtype=pl.Utf8),
            "reason": pl.Series(list(reasons), dtype=pl.Utf8),
            "action": pl.Series([action] * n, dtype=pl.Utf8),
            "detail": pl.Series(list(details), dtype=pl.Utf8),
        }
    )


def _flag_qc(
    seq: np.ndarray, ts: np.ndarray, flags: np.ndarray, counts: dict[str, int] | None = None
) -> list[pl.DataFrame]:
    """QC rows of the records flagged bad ts_recv or maybe-bad-book (``counts``: :func:`_flag_counts`
    of ``flags``, to skip the bits no record has)."""
    out = []
    for bit, reason in ((Flags.BAD_TS_RECV, "bad_ts_recv"), (Flags.MAYBE_BAD_BOOK, "maybe_bad_book")):
        if counts is not None and not counts[str(bit.name).lower()]:
            continue
        m = (flags & int(bit)) != 0
        if m.any():
            out.append(
                _qc_frame(seq[m], ts[m], "raw", "dbn_flags", reason, "mark", f"DBN flag {int(bit)} set")
            )
    return out


def _crossed_qc(
    seq: np.ndarray, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray, first_trade_seq: int | None
) -> pl.DataFrame:
    after = seq > first_trade_seq if first_trade_seq is not None else np.zeros(len(seq), bool)
    reasons = np.where(after, "continuous", "auction")
    details = [
        f"best bid {price_to_str(int(b))} >= best ask {price_to_str(int(a))}"
        for b, a in zip(bid, ask, strict=True)
    ]
    return _qc_frame(seq, ts, "book_deltas", "crossed_book", reasons.tolist(), "mark", details)


def _concat_qc(parts: list[pl.DataFrame]) -> pl.DataFrame:
    parts = [p for p in parts if p.height]
    if not parts:
        return QC.empty()
    return pl.concat(parts).sort("seq", maintain_order=True)


# ------------------------------------------------------------------------------------------------
# per-schema builders


def _split_by_date(
    symbol: str,
    iid: int,
    source: str,
    days_of_seq: tuple[np.ndarray, np.ndarray],
    deltas: pl.DataFrame,
    trades: pl.DataFrame,
    qc: pl.DataFrame,
    snaps: pl.DataFrame | None,
    depth: int,
) -> list[DbnPartition]:
    """Split the instrument's tables by the UTC date of each row's source record."""
    rec_seq, rec_day = days_of_seq
    uniq = _distinct(rec_day)
    if len(uniq) <= 1:
        day = _date_of(int(uniq[0])) if len(uniq) else dt.date(1970, 1, 1)
        return [DbnPartition(symbol, iid, day, source, deltas, trades, qc, snaps, depth)]
    # seq is increasing with the record order, so a date's rows are a seq range
    parts = []
    for d in uniq:
        sel = rec_seq[rec_day == d]
        lo, hi = int(sel.min()), int(sel.max())

        def cut(df: pl.DataFrame, lo: int = lo, hi: int = hi) -> pl.DataFrame:
            return df.filter(pl.col("seq").is_between(lo, hi))

        parts.append(
            DbnPartition(
                symbol,
                iid,
                _date_of(int(d)),
                source,
                cut(deltas),
                cut(trades),
                cut(qc),
                cut(snaps) if snaps is not None else None,
                depth,
            )
        )
    return parts


def _book_state_rows(book: L3Book, ts_event: int, ts_recv: int, seq: int) -> pl.DataFrame:
    """BOOK_DELTAS rows that rebuild ``book`` from nothing: CLEAR, then every resting order as an
    ADD in priority order; all flagged SNAPSHOT, LAST on the final row."""
    o = book.orders()
    m = o.height + 1
    flags = np.full(m, int(Flags.SNAPSHOT), np.uint8)
    flags[-1] |= int(Flags.LAST)
    return pl.DataFrame(
        {
            "ts_event": pl.Series(np.full(m, ts_event, np.int64), dtype=pl.Int64),
            "ts_recv": pl.Series(np.full(m, ts_recv, np.int64), dtype=pl.Int64),
            "seq": pl.Series(np.full(m, seq, np.int64), dtype=pl.Int64),
            "side": pl.Series(np.concatenate([[0], o["side"].to_numpy()]).astype(np.int8), dtype=pl.Int8),
            "action": pl.Series(
                np.concatenate([[int(BookAction.CLEAR)], np.full(o.height, int(BookAction.ADD))]).astype(
                    np.uint8
                ),
                dtype=pl.UInt8,
            ),
            "price": pl.Series(
                np.concatenate([[UNDEF_PRICE], o["price"].to_numpy()]).astype(np.int64), dtype=pl.Int64
            ),
            "size": pl.Series(np.concatenate([[0], o["size"].to_numpy()]).astype(np.int64), dtype=pl.Int64),
            "order_id": pl.Series(
                np.concatenate([[0], o["order_id"].to_numpy()]).astype(np.uint64), dtype=pl.UInt64
            ),
            "flags": pl.Series(flags, dtype=pl.UInt8),
        }
    )


def _build_mbo(
    cols: dict[str, np.ndarray], symbol: str, iid: int
) -> tuple[list[DbnPartition], InstrumentReport]:
    n = len(cols["ts_event"])
    seq = cols["record"]
    action = cols["action"]
    l3_action = np.empty(n, np.uint8)
    l3_side = np.empty(n, np.int8)
    l3_flags = np.empty(n, np.uint8)
    ext = np.zeros(n, np.uint8)
    K.mbo_to_l3(action, cols["side"], cols["flags"], n, l3_action, l3_side, l3_flags, ext)
    ts_e, ts_r, price, size, oid = (
        cols["ts_event"],
        cols["ts_recv"],
        cols["price"],
        cols["size"],
        cols["order_id"],
    )
    ins = np.flatnonzero(ext)
    if len(ins):
        # a synthetic CLEAR in front of each repeated snapshot (same seq/time as the snapshot's first record)
        ts_e = np.insert(ts_e, ins, ts_e[ins])
        ts_r = np.insert(ts_r, ins, ts_r[ins])
        seq_in = np.insert(seq, ins, seq[ins])
        l3_action = np.insert(l3_action, ins, L3_CLEAR)
        l3_side = np.insert(l3_side, ins, 0)
        price = np.insert(price, ins, UNDEF_PRICE)
        size = np.insert(size, ins, 0)
        oid = np.insert(oid, ins, 0)
        l3_flags = np.insert(l3_flags, ins, l3_flags[ins] & ~np.uint8(Flags.LAST))
    else:
        seq_in = seq
    book = L3Book(capacity=1 << 16)
    # one L3 book over the whole file; each UTC date partition after the first starts with the
    # book's state as synthetic snapshot rows, so every partition replays from an empty book
    day_in = _dates(ts_r, ts_e)
    starts = [0, *(np.flatnonzero(day_in[1:] != day_in[:-1]) + 1).tolist(), len(day_in)]
    d_parts: list[pl.DataFrame] = []
    cr_parts: list[np.ndarray] = []
    px_parts: list[np.ndarray] = []
    seeded: list[tuple[int, int]] = []
    for a, b in itertools.pairwise(starts):
        if a > 0 and len(book):
            d_parts.append(_book_state_rows(book, int(ts_e[a]), int(ts_r[a]), int(seq_in[a])))
            seeded.append((int(seq_in[a]), int(ts_e[a])))
        d_parts.append(
            book.apply(
                ts_e[a:b],
                ts_r[a:b],
                seq_in[a:b],
                l3_action[a:b],
                l3_side[a:b],
                price[a:b],
                size[a:b],
                oid[a:b],
                l3_flags[a:b],
            )
        )
        cr_parts.append(book.last_crossed)
        px_parts.append(book.last_cross_prices)
    d = pl.concat(d_parts) if len(d_parts) > 1 else d_parts[0]
    crossed_rec = np.concatenate(cr_parts) if cr_parts else np.zeros(0, np.uint8)
    cross_px = np.concatenate(px_parts, axis=1) if px_parts else np.zeros((2, 0), np.int64)
    if len(ins):
        keep = np.ones(len(crossed_rec), bool)
        keep[ins + np.arange(len(ins))] = False
        crossed_rec = crossed_rec[keep]
        cross_px = cross_px[:, keep]
    # trades: T records with a size and a price
    is_t = action == ord("T")
    good_t = is_t & (cols["size"] > 0) & (cols["price"] != UNDEF_PRICE)
    trades = _trades_frame(
        cols["ts_event"][good_t],
        cols["ts_recv"][good_t],
        seq[good_t],
        cols["price"][good_t],
        cols["size"][good_t],
        cols["side"][good_t],
        cols["flags"][good_t],
    )
    first_trade_seq = int(seq[is_t][0]) if is_t.any() else None
    first_trade_ts = int(cols["ts_event"][is_t][0]) if is_t.any() else None
    qc_parts = _flag_qc(seq, cols["ts_event"], cols["flags"])
    bad_t = is_t & ~good_t
    if bad_t.any():
        qc_parts.append(
            _qc_frame(
                seq[bad_t],
                cols["ts_event"][bad_t],
                "trades",
                "dbn_trade",
                "no_size_or_price",
                "quarantine",
                "T record with size 0 or UNDEF price",
            )
        )
    cr = np.flatnonzero(crossed_rec)
    n_after = 0
    if len(cr):
        qc_parts.append(
            _crossed_qc(seq[cr], cols["ts_event"][cr], cross_px[0, cr], cross_px[1, cr], first_trade_seq)
        )
        if first_trade_seq is not None:
            n_after = int(np.count_nonzero(seq[cr] > first_trade_seq))
    for sq, te in seeded:
        qc_parts.append(
            _qc_frame(
                np.array([sq]),
                np.array([te]),
                "book_deltas",
                "partition_start",
                "synthetic_snapshot",
                "mark",
                "CLEAR + resting orders (flag 32) carried over from the previous date",
            )
        )
    qc = _concat_qc(qc_parts)
    st = book.stats
    bid, ask = book.best_bid(), book.best_ask()
    final = {
        "bid_px": price_to_str(bid) if bid != UNDEF_PRICE else None,
        "bid_sz": book.depth_at(1, bid) if bid != UNDEF_PRICE else 0,
        "ask_px": price_to_str(ask) if ask != UNDEF_PRICE else None,
        "ask_sz": book.depth_at(-1, ask) if ask != UNDEF_PRICE else 0,
        "orders": len(book),
    }
    report = InstrumentReport(
        instrument_id=iid,
        symbol=symbol,
        source="mbo",
        records=n,
        actions=_char_counts(action),
        flags=_flag_counts(cols["flags"]),
        book={
            **st.as_dict(),
            "synthetic_clears": len(ins),
            "fills": int(np.count_nonzero(action == ord("F"))),
        },
        crossed_events=len(cr),
        crossed_after_open=n_after,
        first_trade_ts=first_trade_ts,
        final_bbo=final,
    )
    days = (seq, _dates(cols["ts_recv"], cols["ts_event"]))
    return _split_by_date(symbol, iid, "mbo", days, d, trades, qc, None, 0), report


def _snapshot_frame(
    cols: dict[str, np.ndarray], lv_px: np.ndarray, lv_sz: np.ndarray, lv_ct: np.ndarray, depth: int
) -> pl.DataFrame:
    """BOOK_SNAPSHOTS (with the ``*_ct_*`` counts) on the decoded columns, without copies."""
    names = ["ts_event", "ts_recv", "seq"]
    arrays = [cols["ts_event"], cols["ts_recv"], cols["record"]]
    for s, side in enumerate(("bid", "ask")):
        names += [f"{side}_px_{k:02d}" for k in range(depth)]
        arrays += [lv_px[s * depth + k] for k in range(depth)]
        names += [f"{side}_sz_{k:02d}" for k in range(depth)]
        arrays += [lv_sz[s * depth + k] for k in range(depth)]
    for s, side in enumerate(("bid", "ask")):
        names += [f"{side}_ct_{k:02d}" for k in range(depth)]
        arrays += [lv_ct[s * depth + k] for k in range(depth)]
    dtypes = [pl.Int64] * (3 + 4 * depth) + [pl.UInt32] * (2 * depth)
    return pl.DataFrame(
        [pl.Series(name, a, dtype=dt_) for name, a, dt_ in zip(names, arrays, dtypes, strict=True)]
    )


def _set_deltas(cols: dict[str, np.ndarray], depth: int, starts: list[int]) -> tuple[pl.DataFrame, int, int]:
    """BOOK_DELTAS SET rows of the snapshots (:func:`~orderflow.ingest._dbn_kernels.diff_levels`),
    each UTC date from an empty book. Returns ``(frame, rows, lost_last)``."""
    n = len(cols["record"])
    out = np.empty((9, 2 * n + 4 * depth + 16), np.int64)
    m, lost = 0, 0
    # C-contiguous rows: the kernel's change scan over them vectorizes
    c_px, c_sz = _c_rows(cols["lv_px"]), _c_rows(cols["lv_sz"])
    for a, b in itertools.pairwise(starts):
        prev_px = np.full(2 * depth, UNDEF_PRICE, np.int64)
        prev_sz = np.zeros(2 * depth, np.int64)
        i = a
        while True:
            i, m, lost = K.diff_levels(
                c_px,
                c_sz,
                depth,
                i,
                b,
                cols["ts_event"],
                cols["ts_recv"],
                cols["record"],
                cols["flags"],
                out,
                m,
                lost,
                prev_px,
                prev_sz,
            )
            if i >= b:
                break
            bigger = np.empty((9, 2 * out.shape[1]), np.int64)  # a record may need 4 * depth rows
            bigger[:, :m] = out[:, :m]
            out = bigger
    return _deltas_frame(out, m), m, lost


def _deltas_frame(out: np.ndarray, m: int) -> pl.DataFrame:
    """BOOK_DELTAS on the first ``m`` rows of :func:`~orderflow.ingest._dbn_kernels.diff_levels`'
    output (the int64 columns without copies)."""
    return pl.DataFrame(
        [
            pl.Series("ts_event", out[0, :m], dtype=pl.Int64),
            pl.Series("ts_recv", out[1, :m], dtype=pl.Int64),
            pl.Series("seq", out[2, :m], dtype=pl.Int64),
            pl.Series("side", out[3, :m].astype(np.int8), dtype=pl.Int8),
            pl.Series("action", out[4, :m].astype(np.uint8), dtype=pl.UInt8),
            pl.Series("price", out[5, :m], dtype=pl.Int64),
            pl.Series("size", out[6, :m], dtype=pl.Int64),
            pl.Series("order_id", out[7, :m].view(np.uint64), dtype=pl.UInt64),
            pl.Series("flags", out[8, :m].astype(np.uint8), dtype=pl.UInt8),
        ]
    )


def _build_mbp(
    cols: dict[str, np.ndarray], depth: int, source: str, symbol: str, iid: int
) -> tuple[list[DbnPartition], InstrumentReport]:
    """Snapshots, SET deltas, trades, QC and the report of one instrument's mbp records."""
    n = len(cols["ts_event"])
    seq = cols["record"]
    action = cols["action"]
    fl = cols["flags"]
    ts_e = cols["ts_event"]
    lv_px, lv_sz, lv_ct = cols["lv_px"], cols["lv_sz"], cols["lv_ct"]
    actions = _char_counts(action)
    flag_counts = _flag_counts(fl)
    # each UTC date partition differences from an empty book, so it replays on its own
    day = _dates(cols["ts_recv"], ts_e)
    starts = _day_starts(day)
    if depth:
        snaps: pl.DataFrame | None = _snapshot_frame(cols, lv_px, lv_sz, lv_ct, depth)
        deltas, m, lost = _set_deltas(cols, depth, starts)
    else:  # no levels: no rows, and every LAST record loses its LAST
        snaps, deltas, m, lost = None, BOOK_DELTAS.empty(), 0, flag_counts["last"]
    first_trade_seq = first_trade_ts = None
    if actions.get("T", 0):
        is_t = action == ord("T")
        good_t = is_t & (cols["size"] > 0) & (cols["price"] != UNDEF_PRICE)
        trades = _trades_frame(
            ts_e[good_t],
            cols["ts_recv"][good_t],
            seq[good_t],
            cols["price"][good_t],
            cols["size"][good_t],
            cols["side"][good_t],
            fl[good_t],
        )
        t0 = int(np.argmax(is_t))
        first_trade_seq, first_trade_ts = int(seq[t0]), int(ts_e[t0])
    else:
        trades = _trades_frame(
            ts_e[:0],
            cols["ts_recv"][:0],
            seq[:0],
            cols["price"][:0],
            cols["size"][:0],
            cols["side"][:0],
            fl[:0],
        )
    qc_parts = _flag_qc(seq, ts_e, fl, flag_counts)
    cr = np.zeros(0, np.int64)
    if depth:
        bb, ba = lv_px[0], lv_px[depth]
        idx = np.empty(n, np.int64)
        cr = idx[: K.crossed_rows(fl, bb, ba, idx)]
        if len(cr):
            qc_parts.append(_crossed_qc(seq[cr], ts_e[cr], bb[cr], ba[cr], first_trade_seq))
    n_after = int(np.count_nonzero(seq[cr] > first_trade_seq)) if first_trade_seq is not None else 0
    final: dict[str, Any] = {}
    if depth and n:
        b, a = int(lv_px[0, -1]), int(lv_px[depth, -1])
        final = {
            "bid_px": price_to_str(b) if b != UNDEF_PRICE else None,
            "bid_sz": int(lv_sz[0, -1]),
            "ask_px": price_to_str(a) if a != UNDEF_PRICE else None,
            "ask_sz": int(lv_sz[depth, -1]),
        }
    report = InstrumentReport(
        instrument_id=iid,
        symbol=symbol,
        source=source,
        records=n,
        actions=actions,
        flags=flag_counts,
        book={"snapshots": n if depth else 0, "set_rows": int(m), "lost_last": int(lost)},
        crossed_events=len(cr),
        crossed_after_open=n_after,
        first_trade_ts=first_trade_ts,
        final_bbo=final,
    )
    days = (seq, day)
    qc = _concat_qc(qc_parts)
    return _split_by_date(symbol, iid, source, days, deltas, trades, qc, snaps, depth), report


# ------------------------------------------------------------------------------------------------
# instruments


def _instrument_from_definition(d: Any, dataset: str) -> Instrument:
    inc = int(getattr(d, "min_price_increment", 0) or 0)
    tick = str((Decimal(inc) / PRICE_SCALE).normalize()) if 0 < inc < UNDEF_PRICE else "0.000000001"
    if tick.startswith("0E") or "E" in tick:
        tick = f"{Decimal(inc) / PRICE_SCALE:f}"
    mult = "1"
    uom = int(getattr(d, "unit_of_measure_qty", 0) or 0)
    if 0 < uom < UNDEF_PRICE:
        mult = f"{(Decimal(uom) / PRICE_SCALE).normalize():f}"
    cur = str(getattr(d, "currency", "") or "USD") or "USD"
    return Instrument(
        symbol=_safe_symbol(str(getattr(d, "raw_symbol", "") or f"iid{d.instrument_id}")),
        venue=str(getattr(d, "exchange", "") or dataset),
        tick_size=tick,
        currency=cur,
        multiplier=mult,
    )


MIN_PRICES_FOR_TICK = 50


def _gcd_tick(prices: np.ndarray) -> str:
    """Tick size guessed as the gcd of the distinct prices seen (needs MIN_PRICES_FOR_TICK of them).

    With fewer distinct prices the guess is unreliable and the exact price unit (1e-9) is used.
    """
    d, g = K.distinct_gcd(np.ascontiguousarray(prices, dtype=np.int64), MIN_PRICES_FOR_TICK, 1_000_000)
    if d < 0:  # a price of -2**63
        p = np.unique(prices[(prices != UNDEF_PRICE) & (prices != 0)][:1_000_000])
        d = len(p)
        g = int(np.gcd.reduce(np.abs(p))) if d else 0
    if d < MIN_PRICES_FOR_TICK:
        return "0.000000001"
    g = int(g)
    return f"{(Decimal(g) / PRICE_SCALE).normalize():f}" if g else "0.000000001"


def _symbols_from_metadata(meta: Any) -> dict[int, str]:
    out: dict[int, str] = {}
    try:
        mappings = meta.mappings or {}
    except Exception:  # pragma: no cover - defensive: old metadata objects
        return out
    stype_out = str(getattr(meta, "stype_out", "") or "").lower()
    for raw, intervals in mappings.items():
        for iv in intervals:
            sym = iv["symbol"] if isinstance(iv, dict) else getattr(iv, "symbol", "")
            if "instrument" in stype_out and str(sym).isdigit():
                out[int(sym)] = str(raw)
    return out


def _load_definitions(path: str | Path) -> dict[int, Any]:
    data, _ = _read_bytes(Path(path))
    meta, version, start = _metadata(data, Path(path))
    u8, _ = _aligned_region(data, start)
    counts = np.zeros(256, np.int64)
    short = np.zeros(256, np.int64)
    _, stop = K.scan_records(u8, len(u8), counts, short)
    objs = _record_objects(u8, stop, (K.RTYPE_DEFINITION,), version, bool(meta.ts_out))
    return {int(o.instrument_id): o for o in objs}


# ------------------------------------------------------------------------------------------------
# public API


def read_dbn(
    path: str | Path,
    *,
    instrument: Instrument | str | None = None,
    definitions: str | Path | None = None,
) -> DbnResult:
    """Decode a DBN file (``.dbn`` or ``.dbn.zst``) into canonical tables per instrument and date.

    Parameters
    ----------
    path
        The DBN file (zstd-compressed or not; DBN versions 1, 2 and 3).
    instrument
        An :class:`Instrument` to use for the file's instrument (tick size, venue, ...; its symbol
        names the partition), or a symbol / instrument id string to keep only that instrument.
    definitions
        A DBN ``definition`` file whose records give tick sizes and symbols (e.g. downloaded next to
        an mbo file). Definitions inside ``path`` itself are always used.

    Returns
    -------
    DbnResult
        ``partitions`` (book_deltas, trades, qc, and book_snapshots for mbp schemas), ``instruments``
        (symbol -> Instrument), per-instrument ``reports`` (counts, book stats, crossed events,
        final BBO), file ``stats`` and ``warnings`` (truncation, unknown rtypes).
    """
    path = Path(path)
    if not path.exists():
        raise DataFormatError("file not found", path=path)
    data, ztrunc, scanned = _read_for_decode(path)
    meta, version, start = _metadata(data, path)
    u8, u32 = _region_views(data, start)
    schema = getattr(meta, "schema", None)
    schema_name = str(schema.value if hasattr(schema, "value") else schema) if schema is not None else None
    fused: dict[int, dict[str, np.ndarray]] = {}  # columns decoded by the record scan itself
    if scanned is not None and len(u8) == len(data) - start:
        n_rec, stop, counts, short = scanned
    else:
        counts = np.zeros(256, np.int64)
        short = np.zeros(256, np.int64)
        if _is_mapped(data) and schema_name in _SCAN_DECODE:
            f_rt, f_depth = _SCAN_DECODE[schema_name]
            n_rec, stop, fused[f_rt] = scan_decode_mbp_columns(u8, counts, short, f_rt, f_depth)
        else:
            n_rec, stop = K.scan_records(u8, len(u8), counts, short)
    warns: list[str] = []
    truncated_at = None
    if stop < len(u8) or ztrunc:
        truncated_at = start + int(stop)
        msg = (
            f"{path}: truncated DBN stream: decoded {n_rec} whole records, stopped at byte offset "
            f"{truncated_at} of the decompressed stream ({len(data) - truncated_at} trailing bytes"
            f"{', zstd stream truncated' if ztrunc else ''})"
        )
        warns.append(msg)
        warnings.warn(msg, DbnTruncationWarning, stacklevel=2)
    dataset = str(getattr(meta, "dataset", "") or "")
    ts_out = bool(getattr(meta, "ts_out", False))
    by_rtype: dict[str, int] = {}
    unknown: dict[int, int] = {}
    skipped: dict[str, int] = {}
    for rt_ in np.flatnonzero(counts):
        rti = int(rt_)
        name = K.RTYPE_NAMES.get(rti)
        c = int(counts[rti])
        if name is None:
            unknown[rti] = c
            continue
        by_rtype[name] = c
        if rti not in DECODED_RTYPES:
            skipped[name] = c
    if unknown:
        msg = f"{path}: skipped records of unknown rtypes " + ", ".join(
            f"0x{k:02x} x{v}" for k, v in unknown.items()
        )
        warns.append(msg)
    stats = DbnStats(
        path=str(path),
        version=int(version),
        dataset=dataset,
        schema=schema_name,
        bytes=len(data),
        records=int(n_rec),
        by_rtype=by_rtype,
        unknown_rtypes=unknown,
        skipped=skipped,
        short_records=int(short.sum()),
        truncated_at=truncated_at,
        compressed_truncated=ztrunc,
    )

    # symbology and definitions
    symbols = _symbols_from_metadata(meta)
    defs: dict[int, Any] = _load_definitions(definitions) if definitions is not None else {}
    file_defs: set[int] = set()
    if counts[K.RTYPE_DEFINITION] or counts[K.RTYPE_SYMBOL_MAPPING]:
        for o in _record_objects(u8, stop, (K.RTYPE_DEFINITION, K.RTYPE_SYMBOL_MAPPING), version, ts_out):
            if hasattr(o, "min_price_increment"):
                defs[int(o.instrument_id)] = o
                file_defs.add(int(o.instrument_id))
            elif hasattr(o, "stype_out_symbol"):
                sym = str(getattr(o, "stype_in_symbol", "") or getattr(o, "stype_out_symbol", ""))
                if sym:
                    symbols.setdefault(int(o.instrument_id), sym)

    # decode the book / trade records
    decoded: dict[int, dict[str, np.ndarray]] = {}
    if counts[K.RTYPE_MBO]:
        if u32 is None:  # a mapped file whose records are not 4-byte aligned: the MBO decoder reads words
            u8, u32 = _aligned_region(data, start)
        decoded[K.RTYPE_MBO] = decode_mbo_columns(u8, u32, stop, int(counts[K.RTYPE_MBO]))
    for rt, depth in ((K.RTYPE_MBP10, 10), (K.RTYPE_MBP1, 1), (K.RTYPE_MBP0, 0)):
        if counts[rt]:
            decoded[rt] = (
                fused[rt] if rt in fused else decode_mbp_columns(u8, u32, stop, int(counts[rt]), rt, depth)
            )

    iids: set[int] = set()
    iids_of: dict[int, set[int]] = {}
    for rt, cols in decoded.items():
        iids_of[rt] = {int(x) for x in _distinct(cols["instrument_id"])}
        iids.update(iids_of[rt])

    def symbol_of(iid: int) -> str:
        if iid in defs and str(getattr(defs[iid], "raw_symbol", None) or ""):
            return _safe_symbol(str(defs[iid].raw_symbol))
        if iid in symbols:
            return _safe_symbol(symbols[iid])
        return f"iid{iid}"

    if isinstance(instrument, str):
        keep = {i for i in iids if symbol_of(i) == instrument or str(i) == instrument}
        if not keep:
            have = ", ".join(sorted(symbol_of(i) for i in iids)) or "none"
            raise DataFormatError(
                f"instrument {instrument!r} not in file (have: {have})", path=path, field="instrument"
            )
        iids = keep
    override: dict[int, Instrument] = {}
    if isinstance(instrument, Instrument):
        match = [i for i in iids if symbol_of(i) == instrument.symbol]
        if len(iids) == 1:
            override[next(iter(iids))] = instrument
        elif match:
            override[match[0]] = instrument
        else:
            raise DataFormatError(
                f"instrument {instrument.symbol!r} given, but the file holds {len(iids)} instruments "
                f"({', '.join(sorted(symbol_of(i) for i in iids))})",
                path=path,
                field="instrument",
            )

    partitions: list[DbnPartition] = []
    reports: dict[int, InstrumentReport] = {}
    instruments: dict[str, Instrument] = {}
    shadowed: dict[str, int] = {}
    for iid in sorted(iids):
        sym = override[iid].symbol if iid in override else symbol_of(iid)
        sel: dict[int, Any] = {  # a schema with this one instrument: all its records (no scan)
            rt: range(len(c["record"])) if iids_of[rt] == {iid} else np.flatnonzero(c["instrument_id"] == iid)
            for rt, c in decoded.items()
        }
        present = [
            rt
            for rt in (K.RTYPE_MBO, K.RTYPE_MBP10, K.RTYPE_MBP1, K.RTYPE_MBP0)
            if rt in sel and len(sel[rt])
        ]
        src = present[0]
        for rt in present[1:]:
            name = K.RTYPE_NAMES[rt]
            shadowed[name] = shadowed.get(name, 0) + len(sel[rt])
        full = decoded[src]
        idx = sel[src]
        if len(idx) == len(full["record"]):  # the only instrument: no copy
            cols = dict(full)
        else:
            cols = {k: (v[:, idx] if v.ndim == 2 else v[idx]) for k, v in full.items()}
        if src == K.RTYPE_MBO:
            parts, rep = _build_mbo(cols, sym, iid)
            prices = cols["price"]
        else:
            depth = {K.RTYPE_MBP10: 10, K.RTYPE_MBP1: 1, K.RTYPE_MBP0: 0}[src]
            name = K.RTYPE_NAMES[src]
            if src == K.RTYPE_MBP1 and schema_name == "tbbo":
                name = "tbbo"
            parts, rep = _build_mbp(cols, depth, name, sym, iid)
            top = [cols["lv_px"][0, :200_000], cols["lv_px"][depth, :200_000]] if depth else []
            prices = np.concatenate([cols["price"][:200_000], *top])
        partitions.extend(parts)
        reports[iid] = rep
        if iid in override:
            inst = override[iid]
        elif iid in defs:
            inst = _instrument_from_definition(defs[iid], dataset).model_copy(update={"symbol": sym})
        else:
            inst = Instrument(symbol=sym, venue=dataset, tick_size=_gcd_tick(prices))
        instruments[sym] = inst
    if truncated_at is not None:
        # the last partition of each instrument gets a QC row: its stream ends early
        last: dict[int, DbnPartition] = {}
        for part in partitions:
            if part.instrument_id not in last or part.date > last[part.instrument_id].date:
                last[part.instrument_id] = part
        for part in last.values():
            ts_last = [
                int(t["ts_event"].to_numpy().max()) for t in (part.book_deltas, part.trades) if t.height
            ]
            row = _qc_frame(
                np.array([int(n_rec)]),
                np.array([max(ts_last) if ts_last else 0]),
                "raw",
                "dbn_truncated",
                "truncated_file",
                "mark",
                f"stream ends at byte offset {truncated_at} of the decompressed stream, inside a record"
                f"{' (zstd stream truncated)' if ztrunc else ''}; {n_rec} whole records decoded",
            )
            part.qc = _concat_qc([part.qc, row])
    for iid, d in defs.items():  # definitions of instruments without book/trade records (definition files)
        if (
            iid in file_defs
            and iid not in reports
            and (not isinstance(instrument, str) or symbol_of(iid) == instrument)
        ):
            inst = _instrument_from_definition(d, dataset)
            instruments.setdefault(inst.symbol, inst)
    stats.shadowed = shadowed
    metadata = {
        "version": int(version),
        "dataset": dataset,
        "schema": schema_name,
        "start": int(getattr(meta, "start", 0) or 0),
        "end": int(getattr(meta, "end", 0) or 0) if getattr(meta, "end", None) is not None else None,
        "stype_in": str(getattr(meta, "stype_in", "")),
        "stype_out": str(getattr(meta, "stype_out", "")),
        "symbols": list(getattr(meta, "symbols", []) or []),
        "ts_out": ts_out,
        "instrument_ids": {symbol_of(i): i for i in sorted(iids)},
    }
    return DbnResult(stats, metadata, instruments, partitions, reports, warns)


def ingest_dbn(
    path: str | Path,
    out: str | Path | Dataset,
    *,
    instrument: Instrument | str | None = None,
    definitions: str | Path | None = None,
) -> DbnResult:
    """Read a DBN file and write its partitions to a canonical dataset (atomic writes).

    Tables: ``book_deltas``, ``trades``, ``qc`` and, for mbp schemas, ``book_snapshots`` (with the
    ``*_ct_*`` order counts); ``instruments.json`` gains each instrument; each partition's meta
    records the source path, sha256 digest, DBN metadata, record counts and the book report.
    """
    res = read_dbn(path, instrument=instrument, definitions=definitions)
    ds = out if isinstance(out, Dataset) else Dataset(out)
    digest = file_digest(path)
    for inst in res.instruments.values():
        ds.add_instrument(inst)
    for p in res.partitions:
        ds.write("book_deltas", validate(p.book_deltas, BOOK_DELTAS), p.instrument, p.date)
        ds.write("trades", validate(p.trades, TRADES), p.instrument, p.date)
        ds.write("qc", validate(p.qc, QC), p.instrument, p.date)
        if p.book_snapshots is not None:
            ds.write("book_snapshots", p.book_snapshots, p.instrument, p.date, schema=book_snapshots(p.depth))
        rep = res.reports[p.instrument_id]
        ds.write_meta(
            p.instrument,
            p.date,
            {
                "source": "dbn",
                "schema": p.source,
                "instrument": p.instrument,
                "instrument_id": p.instrument_id,
                "date": p.date.isoformat(),
                "files": {"dbn": {"path": str(Path(path).resolve()), "sha256": digest}},
                "dbn": res.metadata,
                "stats": res.stats.as_dict(),
                "rows": {
                    "book_deltas": p.book_deltas.height,
                    "trades": p.trades.height,
                    "qc": p.qc.height,
                    "book_snapshots": p.book_snapshots.height if p.book_snapshots is not None else 0,
                },
                "report": _report_dict(rep),
                "warnings": res.warnings,
            },
        )
    return res


def _report_dict(r: InstrumentReport) -> dict[str, Any]:
    return {
        "instrument_id": r.instrument_id,
        "symbol": r.symbol,
        "source": r.source,
        "records": r.records,
        "actions": r.actions,
        "flags": r.flags,
        "book": r.book,
        "crossed_events": r.crossed_events,
        "crossed_after_open": r.crossed_after_open,
        "first_trade_ts": r.first_trade_ts,
        "final_bbo": r.final_bbo,
    }


def verify_dbn(path: str | Path, *, definitions: str | Path | None = None) -> dict[str, Any]:
    """Decode and replay a DBN file; return the checks ``orderflow verify dbn`` prints.

    Keys: ``records`` (book/trade records decoded), ``unknown_order_refs``, ``crossed_events``
    (event ends with best bid >= best ask), ``crossed_after_open`` (those after the session's first
    trade), ``final_bbo`` (per instrument id: best bid/ask as decimal strings and sizes),
    ``actions`` and ``flags`` counts, the file ``stats``, per-instrument ``instruments`` reports,
    ``warnings`` and ``ok`` (no unknown order refs, no crossing after the open, not truncated).
    """
    res = read_dbn(path, definitions=definitions)
    reps = list(res.reports.values())
    actions: dict[str, int] = {}
    flags: dict[str, int] = {}
    for r in reps:
        for k, v in r.actions.items():
            actions[k] = actions.get(k, 0) + v
        for k, v in r.flags.items():
            flags[k] = flags.get(k, 0) + v
    unknown = sum(int(r.book.get("unknown_order_refs", 0)) for r in reps)
    after = sum(r.crossed_after_open for r in reps)
    qc_counts: dict[str, int] = {}
    for p in res.partitions:
        if p.qc.height:
            for rule, reason, c in p.qc.group_by("rule", "reason").len().iter_rows():
                key = f"{rule}:{reason}"
                qc_counts[key] = qc_counts.get(key, 0) + int(c)
    out = {
        "path": str(path),
        "schema": res.stats.schema,
        "version": res.stats.version,
        "records": sum(r.records for r in reps),
        "unknown_order_refs": unknown,
        "crossed_events": sum(r.crossed_events for r in reps),
        "crossed_after_open": after,
        "final_bbo": {str(r.instrument_id): {"symbol": r.symbol, **r.final_bbo} for r in reps},
        "actions": actions,
        "flags": flags,
        "qc": qc_counts,
        "stats": res.stats.as_dict(),
        "instruments": {str(r.instrument_id): _report_dict(r) for r in reps},
        "warnings": res.warnings,
    }
    out["ok"] = unknown == 0 and after == 0 and res.stats.truncated_at is None
    return out


__all__ = [
    "DbnPartition",
    "DbnResult",
    "DbnStats",
    "DbnTruncationWarning",
    "InstrumentReport",
    "decode_mbo_columns",
    "decode_mbp_columns",
    "ingest_dbn",
    "read_dbn",
    "verify_dbn",
]
