"""LOBSTER (NASDAQ TotalView-ITCH reconstructions) message + orderbook CSV pairs -> canonical tables.

Format (vendor readme, ``LOBSTER_SampleFiles_ReadMe.txt``): both files have no header.

* ``TICKER_YYYY-MM-DD_start_end_message_L.csv``: ``time, type, order_id, size, price, direction``.
  ``time`` is seconds after midnight, **America/New_York** local time, with up to 9 decimals;
  ``price`` is dollars x 10000; ``direction`` 1 = buy limit order, -1 = sell limit order.
* ``TICKER_YYYY-MM-DD_start_end_orderbook_L.csv``: ``4 x L`` columns ``ask_price_k, ask_size_k,
  bid_price_k, bid_size_k`` for k = 1..L; row i is the top-L book after message i. Empty levels
  carry the dummy prices +-9999999999 with size 0.

Mapping to the canonical tables (:mod:`orderflow.core.schema`):

* ``seq``: message row i (0-based) has ``seq = i + 1``; ``seq = 0`` is the initial book.
* ``ts_event = ts_recv`` = UTC ns of New York midnight + the time text converted exactly (no float).
* prices: dollars x 10000 -> 1e-9 units (x 100000); sizes: shares (``size_unit = 1``).
* type 1 -> ADD; types 2 and 3 -> REDUCE; type 4 -> EXECUTE + a TRADES row (kind REGULAR,
  aggressor = -direction, ``order_id`` = the resting order); type 5 -> TRADES row only (kind
  HIDDEN, aggressor = -direction); type 6 -> TRADES row only (kind CROSS, aggressor 0); type 7 ->
  STATUS (price -1 HALT, 0 QUOTE_RESUME, 1 TRADE_RESUME, else OTHER; raw price in ``detail``).
* Every delta has ``Flags.LAST`` on the last row of its ``seq`` (one venue message = one event).

The book file as ground truth. A level-L stream only carries events inside the visible L levels,
so some book changes can only be read from the orderbook file. For each message the stream's
result (message applied to the previous vendor row) is diffed with the next vendor row and SET
deltas are added at the message's ``seq``:

* **initial book** (seq 0): vendor row 1 with message 1 undone, as SET deltas flagged SNAPSHOT
  (LAST on the final one). When message 1 removed a level from a full side, the level it revealed
  cannot be in the initial book (it was out of view); it then arrives as a reveal at seq 1.
* **reveal**: a message removes a whole level from a side that showed all L levels; the level that
  comes into view is SET from the book file. QC rule ``lobster_reveal``, action ``mark``.
* **push-out**: a new level pushes the L-th level out of view; it is SET to size 0, so BOOK_DELTAS
  describe a **top-L book** (the venue still holds that level; we cannot follow it). QC rule
  ``lobster_depth_limit``, reason ``level_out_of_view``, action ``mark``.
* **correction**: anything else where the stream and the book file disagree (never happens on the
  vendor's samples; ``orderflow verify lobster`` counts it). The book file wins: SET deltas with
  ``Flags.MAYBE_BAD_BOOK`` and QC rule ``lobster_book_mismatch``.

Replaying BOOK_DELTAS on a price-level book that deletes a level at size 0 therefore reproduces
every vendor row exactly (the tests check this with an independent dict-based book).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from orderflow.core.enums import (
    UNDEF_PRICE,
    AggressorSide,
    BookAction,
    Flags,
    MarketStatus,
    TradeKind,
)
from orderflow.core.errors import DataFormatError
from orderflow.core.instruments import Instrument
from orderflow.core.io import Dataset, file_digest
from orderflow.core.schema import BOOK_DELTAS, QC, STATUS, TRADES, book_snapshots, validate
from orderflow.core.time import local_midnight_ns
from orderflow.ingest import _lobster_kernels as K

VENUE = "NASDAQ"
TIMEZONE = "America/New_York"
TICK_SIZE = "0.01"
PRICE_FACTOR = 100_000
"""LOBSTER price (dollars x 10000) -> canonical 1e-9 units."""
DUMMY_ASK = 9_999_999_999
DUMMY_BID = -9_999_999_999

MESSAGE_COLUMNS = ("time", "type", "order_id", "size", "price", "direction")
EVENT_NAMES = {
    1: "new_order",
    2: "cancel",
    3: "delete",
    4: "execute_visible",
    5: "execute_hidden",
    6: "cross_trade",
    7: "halt",
}

_FILENAME = re.compile(
    r"^(?P<ticker>.+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)_(?P<kind>message|orderbook)_(?P<levels>\d+)\.csv$"
)
_TIME = r"^\d{1,5}(\.\d{1,9})?$"


def orderbook_columns(levels: int) -> list[str]:
    """Vendor column names of a level-L orderbook file (1-based, as the readme)."""
    out: list[str] = []
    for k in range(1, levels + 1):
        out += [f"ask_price_{k}", f"ask_size_{k}", f"bid_price_{k}", f"bid_size_{k}"]
    return out


def parse_lobster_filename(path: str | Path) -> tuple[str, dt.date, int]:
    """``(ticker, date, levels)`` from ``TICKER_YYYY-MM-DD_start_end_{message|orderbook}_L.csv``.

    Raises :class:`DataFormatError` when the name does not follow the vendor's pattern.
    """
    name = Path(path).name
    m = _FILENAME.match(name)
    if not m:
        raise DataFormatError(
            "file name does not follow TICKER_YYYY-MM-DD_start_end_{message|orderbook}_L.csv "
            "(pass ticker and date explicitly)",
            path=path,
        )
    try:
        date = dt.date.fromisoformat(m["date"])
    except ValueError:
        raise DataFormatError(f"bad date {m['date']!r} in file name", path=path) from None
    levels = int(m["levels"])
    if levels < 1:
        raise DataFormatError(f"level count {levels} in file name must be >= 1", path=path)
    return m["ticker"], date, levels


@dataclass
class LobsterDay:
    """One instrument-day of LOBSTER data as canonical tables (see the module docstring)."""

    instrument: Instrument
    date: dt.date
    levels: int
    deltas: pl.DataFrame
    """BOOK_DELTAS: initial book at seq 0 (timestamped like message 1), then each message's deltas
    plus reveals/push-outs at its seq."""
    trades: pl.DataFrame
    """TRADES: types 4 (REGULAR), 5 (HIDDEN), 6 (CROSS)."""
    status: pl.DataFrame
    """STATUS: type 7 rows."""
    snapshots: pl.DataFrame
    """book_snapshots(levels): vendor row i (1-based) holds after message i and has ``seq = i``."""
    qc: pl.DataFrame
    """QC: reveals, push-outs, corrections, quarantined messages."""
    row_flags: np.ndarray | None = None
    """Per message row: ``_lobster_kernels.ROW_*`` bits (reveal, push-out, mismatch, out of view)."""


# ---------------------------------------------------------------------------------------------------
# reading and validating the raw files


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataFormatError("file not found", path=path) from None
    except IsADirectoryError:
        raise DataFormatError("is a directory, expected a CSV file", path=path) from None


def _check_lines(path: Path, data: bytes, ncols: int | None, names: list[str] | None) -> tuple[int, int]:
    """Check every line has the same number of comma-separated fields; return ``(rows, fields)``.

    ``ncols`` None: take the field count from line 1. Works on the raw bytes with numpy, so each
    bad line is reported with its exact 1-based number (blank lines included).
    """
    if not data.strip():
        raise DataFormatError("file is empty", path=path, line=1)
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    ends = nl if data.endswith(b"\n") else np.append(nl, buf.shape[0])
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    commas = np.flatnonzero(buf == 44)
    fields = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
    if ncols is None:
        ncols = int(fields[0])
    bad = np.flatnonzero((fields != ncols) | (ends - starts == 0))
    if bad.shape[0]:
        i = int(bad[0])
        got = int(fields[i])
        last = i == ends.shape[0] - 1
        if ends[i] == starts[i]:
            msg = "blank line"
        else:
            msg = f"expected {ncols} comma-separated fields, found {got}"
        if last and not data.endswith(b"\n"):
            msg += " (file cut off mid-row?)"
        field = None  # name the first missing field (too few) or none (blank line, too many)
        if names is not None and ends[i] > starts[i] and got < min(ncols, len(names)):
            field = names[got]
        raise DataFormatError(msg, path=path, line=i + 1, field=field)
    return int(ends.shape[0]), ncols


def _first_bad_numeric(path: Path, data: bytes, names: list[str], skip: set[str]) -> DataFormatError:
    """Locate the first field that is not an integer (slow path, only after a failed typed read)."""
    raw = pl.read_csv(
        io.BytesIO(data), has_header=False, schema=dict.fromkeys(names, pl.String), infer_schema=False
    )
    best: tuple[int, int, str, str] | None = None
    for c_i, c in enumerate(names):
        if c in skip:
            continue
        col = raw[c]
        cast = col.str.strip_chars().cast(pl.Int64, strict=False)
        bad = cast.is_null()
        if bad.any():
            r = int(bad.arg_true()[0])
            if best is None or (r, c_i) < (best[0], best[1]):
                best = (r, c_i, c, str(col[r]))
    if best is None:  # pragma: no cover - polars failed for a reason we cannot name
        return DataFormatError("cannot parse file as integer CSV", path=path)
    r, _, c, v = best
    shown = "empty" if v in ("None", "") else repr(v)
    return DataFormatError(f"value {shown} is not an integer", path=path, line=r + 1, field=c)


def _read_messages(path: Path) -> tuple[pl.DataFrame, bytes]:
    data = _read_bytes(path)
    names = list(MESSAGE_COLUMNS)
    _check_lines(path, data, 6, names)
    schema: dict[str, Any] = {"time": pl.String, **{c: pl.Int64 for c in names[1:]}}
    try:
        df = pl.read_csv(io.BytesIO(data), has_header=False, schema=schema, infer_schema=False)
    except pl.exceptions.PolarsError:
        raise _first_bad_numeric(path, data, names, {"time"}) from None
    nulls = df.select(pl.any_horizontal(pl.all().is_null()).alias("n"))["n"]
    if nulls.any():
        raise _first_bad_numeric(path, data, names, {"time"}) from None
    return df, data


def _read_orderbook(path: Path, levels: int | None) -> pl.DataFrame:
    data = _read_bytes(path)
    ncols = None if levels is None else 4 * levels
    _, found = _check_lines(path, data, ncols, None if levels is None else orderbook_columns(levels))
    if found % 4:
        raise DataFormatError(f"expected 4 x L columns, found {found}", path=path, line=1)
    names = orderbook_columns(found // 4)
    try:
        df = pl.read_csv(
            io.BytesIO(data), has_header=False, schema=dict.fromkeys(names, pl.Int64), infer_schema=False
        )
    except pl.exceptions.PolarsError:
        raise _first_bad_numeric(path, data, names, set()) from None
    if df.select(pl.any_horizontal(pl.all().is_null()).alias("n"))["n"].any():
        raise _first_bad_numeric(path, data, names, set())
    return df


def _time_to_ns(path: Path, t: pl.Series) -> np.ndarray:
    """Exact seconds-after-midnight text -> int64 ns (vectorised, no float)."""
    ok = t.str.contains(_TIME)
    if not ok.all():
        r = int((~ok).arg_true()[0])
        raise DataFormatError(
            f"time {t[r]!r} is not seconds after midnight with at most 9 decimals",
            path=path,
            line=r + 1,
            field="time",
        )
    parts = t.str.split_exact(".", 1).struct.unnest()
    sec = parts["field_0"].cast(pl.Int64)
    frac = parts["field_1"].fill_null("").str.pad_end(9, "0").cast(pl.Int64)
    return (sec * 1_000_000_000 + frac).to_numpy()


def _validate_messages(path: Path, m: pl.DataFrame) -> None:
    def first(mask: pl.Series, field: str, rule: str) -> None:
        if mask.any():
            r = int(mask.arg_true()[0])
            raise DataFormatError(f"{rule} (got {m[field][r]})", path=path, line=r + 1, field=field)

    first(~m["type"].is_between(1, 7), "type", "unknown event type; must be 1..7")
    first(~m["direction"].is_in([1, -1]), "direction", "direction must be 1 (buy) or -1 (sell)")
    first(m["size"] < 0, "size", "size must be >= 0")
    first((m["type"] <= 6) & (m["price"] <= 0), "price", "price must be > 0 for event types 1..6")
    first(m["order_id"] < 0, "order_id", "order id must be >= 0")


def _validate_book(path: Path, ob: np.ndarray, levels: int) -> None:
    names = orderbook_columns(levels)
    for side, p_off, s_off, dummy, sgn in (("ask", 0, 1, DUMMY_ASK, 1), ("bid", 2, 3, DUMMY_BID, -1)):
        px = ob[:, p_off::4]
        sz = ob[:, s_off::4]
        checks: list[tuple[np.ndarray, int, str]] = []
        neg = sz < 0
        checks.append((neg, s_off, f"{side} size must be >= 0"))
        occ = sz > 0
        checks.append(
            (occ & ((px <= 0) | (px == dummy)), p_off, f"occupied {side} level needs a real price > 0")
        )
        if levels > 1:
            gap = np.zeros_like(occ)
            gap[:, 1:] = occ[:, 1:] & ~occ[:, :-1]
            checks.append((gap, p_off, f"occupied {side} level after an empty one"))
            order = np.zeros_like(occ)
            order[:, 1:] = occ[:, 1:] & occ[:, :-1] & (sgn * px[:, 1:] <= sgn * px[:, :-1])
            word = "increase" if sgn > 0 else "decrease"
            checks.append((order, p_off, f"{side} prices must strictly {word} from level to level"))
        for mask, off, rule in checks:
            if mask.any():
                r, k = np.argwhere(mask)[0]
                col = 4 * int(k) + off
                raise DataFormatError(
                    f"{rule} (got {ob[r, col]})", path=path, line=int(r) + 1, field=names[col]
                )


# ---------------------------------------------------------------------------------------------------
# building the tables


def _initial_book(
    bpx: np.ndarray,
    bsz: np.ndarray,
    apx: np.ndarray,
    asz: np.ndarray,
    mtype: int,
    price: int,
    size: int,
    direction: int,
    valid: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vendor row 1 with message 1 undone: the book before the first message (top L, raw units)."""
    levels = bpx.shape[1]
    out = [bpx[0].copy(), bsz[0].copy(), apx[0].copy(), asz[0].copy()]
    if not valid or mtype not in (1, 2, 3, 4):
        return out[0], out[1], out[2], out[3]
    px, sz = (out[0], out[1]) if direction == 1 else (out[2], out[3])
    book = {int(p): int(s) for p, s in zip(px, sz, strict=True) if s > 0}
    if mtype == 1:
        if price in book:
            left = book[price] - size
            if left > 0:
                book[price] = left
            else:
                del book[price]
    elif price in book:
        book[price] += size
    else:
        book[price] = size
    ordered = sorted(book.items(), reverse=direction == 1)[:levels]
    px[:] = 0
    sz[:] = 0
    for k, (p, s) in enumerate(ordered):
        px[k] = p
        sz[k] = s
    return out[0], out[1], out[2], out[3]


def _to_canonical_px(px: np.ndarray, sz: np.ndarray) -> np.ndarray:
    return np.where(sz > 0, px * PRICE_FACTOR, UNDEF_PRICE).astype(np.int64)


def build_day(
    messages: pl.DataFrame,
    ts: np.ndarray,
    orderbook: pl.DataFrame,
    levels: int,
    instrument: Instrument,
    date: dt.date,
) -> LobsterDay:
    """Turn parsed, validated message and orderbook frames into canonical tables."""
    n = messages.height
    ob = orderbook.to_numpy().astype(np.int64, copy=False)
    apx = np.ascontiguousarray(ob[:, 0::4])
    asz = np.ascontiguousarray(ob[:, 1::4])
    bpx = np.ascontiguousarray(ob[:, 2::4])
    bsz = np.ascontiguousarray(ob[:, 3::4])
    mtype = messages["type"].to_numpy().astype(np.int64)
    price = messages["price"].to_numpy().astype(np.int64)
    size = messages["size"].to_numpy().astype(np.int64)
    direction = messages["direction"].to_numpy().astype(np.int64)
    order_id = messages["order_id"].to_numpy().astype(np.int64)
    # zero-size executions/orders cannot be represented (TRADES needs size > 0): quarantine
    valid = ~((mtype <= 6) & (size == 0))

    ib = _initial_book(
        bpx, bsz, apx, asz, int(mtype[0]), int(price[0]), int(size[0]), int(direction[0]), bool(valid[0])
    )
    empty = np.zeros(0, dtype=np.int64)
    nd, row_flags = K.replay(
        mtype,
        price,
        size,
        direction,
        valid,
        bpx,
        bsz,
        apx,
        asz,
        *ib,
        False,
        empty,
        empty,
        empty,
        empty,
        empty,
        empty,
    )
    o = [np.zeros(nd, dtype=np.int64) for _ in range(6)]
    nd2, _ = K.replay(mtype, price, size, direction, valid, bpx, bsz, apx, asz, *ib, True, *o)
    assert nd2 == nd
    o_row, o_side, o_action, o_price, o_size, o_kind = o

    # initial book: SET ... SNAPSHOT at seq 0
    init_rows: list[tuple[int, int, int]] = []
    for side, px, sz in ((1, ib[0], ib[1]), (-1, ib[2], ib[3])):
        for k in range(levels):
            if sz[k] > 0:
                init_rows.append((side, int(px[k]), int(sz[k])))
    n_init = len(init_rows)
    i_side = np.array([r[0] for r in init_rows], dtype=np.int64)
    i_price = np.array([r[1] for r in init_rows], dtype=np.int64)
    i_size = np.array([r[2] for r in init_rows], dtype=np.int64)
    i_flags = np.full(n_init, int(Flags.SNAPSHOT), dtype=np.int64)
    if n_init:
        i_flags[-1] |= int(Flags.LAST)

    # message deltas: LAST on the final row of each seq; corrections flagged MAYBE_BAD_BOOK
    last = np.ones(nd, dtype=bool)
    if nd > 1:
        last[:-1] = o_row[:-1] != o_row[1:]
    d_flags = np.where(last, int(Flags.LAST), 0) | np.where(
        o_kind == K.KIND_CORRECTION, int(Flags.MAYBE_BAD_BOOK), 0
    )
    d_oid = np.where(o_kind == K.KIND_MESSAGE, order_id[o_row], 0)

    ts0 = ts[0] if n else 0
    all_ts = np.concatenate([np.full(n_init, ts0, dtype=np.int64), ts[o_row]])
    deltas = pl.DataFrame(
        {
            "ts_event": all_ts,
            "ts_recv": all_ts,
            "seq": np.concatenate([np.zeros(n_init, dtype=np.int64), o_row + 1]),
            "side": np.concatenate([i_side, o_side]).astype(np.int8),
            "action": np.concatenate([np.full(n_init, int(BookAction.SET)), o_action]).astype(np.uint8),
            "price": np.concatenate([i_price, o_price]) * PRICE_FACTOR,
            "size": np.concatenate([i_size, o_size]),
            "order_id": np.concatenate([np.zeros(n_init, dtype=np.int64), d_oid]).astype(np.uint64),
            "flags": np.concatenate([i_flags, d_flags]).astype(np.uint8),
        }
    )
    deltas = validate(deltas, BOOK_DELTAS, where="lobster")

    seq = np.arange(1, n + 1, dtype=np.int64)
    base = pl.DataFrame(
        {
            "ts_event": ts,
            "ts_recv": ts,
            "seq": seq,
            "type": mtype,
            "order_id": order_id,
            "size": size,
            "price": price,
            "direction": direction,
            "valid": valid,
        }
    )
    tr = base.filter(pl.col("type").is_between(4, 6) & pl.col("valid"))
    trades = tr.select(
        "ts_event",
        "ts_recv",
        "seq",
        (pl.col("price") * PRICE_FACTOR).alias("price"),
        "size",
        pl.when(pl.col("type") == 6)
        .then(pl.lit(int(AggressorSide.NONE)))
        .otherwise(-pl.col("direction"))
        .cast(pl.Int8)
        .alias("aggressor"),
        pl.col("type")
        .replace_strict({4: int(TradeKind.REGULAR), 5: int(TradeKind.HIDDEN), 6: int(TradeKind.CROSS)})
        .cast(pl.UInt8)
        .alias("kind"),
        pl.lit(0, dtype=pl.UInt64).alias("trade_id"),
        pl.col("order_id").cast(pl.UInt64),
        pl.lit(int(Flags.LAST), dtype=pl.UInt8).alias("flags"),
    )
    trades = validate(trades, TRADES, where="lobster")

    st = base.filter(pl.col("type") == 7)
    status = st.select(
        "ts_event",
        "ts_recv",
        "seq",
        pl.col("price")
        .replace_strict(
            {
                -1: int(MarketStatus.HALT),
                0: int(MarketStatus.QUOTE_RESUME),
                1: int(MarketStatus.TRADE_RESUME),
            },
            default=int(MarketStatus.OTHER),
        )
        .cast(pl.UInt8)
        .alias("status"),
        pl.format("lobster type 7 price={}", pl.col("price")).alias("detail"),
    )
    status = validate(status, STATUS, where="lobster")

    snap_cols: dict[str, np.ndarray] = {"ts_event": ts, "ts_recv": ts, "seq": seq}
    cb_px = _to_canonical_px(bpx, bsz)
    ca_px = _to_canonical_px(apx, asz)
    for k in range(levels):
        snap_cols[f"bid_px_{k:02d}"] = cb_px[:, k]
    for k in range(levels):
        snap_cols[f"bid_sz_{k:02d}"] = np.where(bsz[:, k] > 0, bsz[:, k], 0)
    for k in range(levels):
        snap_cols[f"ask_px_{k:02d}"] = ca_px[:, k]
    for k in range(levels):
        snap_cols[f"ask_sz_{k:02d}"] = np.where(asz[:, k] > 0, asz[:, k], 0)
    snapshots = validate(pl.DataFrame(snap_cols), book_snapshots(levels), where="lobster")

    qc = _build_qc(deltas.slice(n_init), o_kind, base, ts)
    return LobsterDay(
        instrument=instrument,
        date=date,
        levels=levels,
        deltas=deltas,
        trades=trades,
        status=status,
        snapshots=snapshots,
        qc=qc,
        row_flags=row_flags,
    )


def _build_qc(msg_deltas: pl.DataFrame, kind: np.ndarray, base: pl.DataFrame, ts: np.ndarray) -> pl.DataFrame:
    rules = {
        K.KIND_REVEAL: ("lobster_reveal", "level_revealed"),
        K.KIND_PUSHOUT: ("lobster_depth_limit", "level_out_of_view"),
        K.KIND_CORRECTION: ("lobster_book_mismatch", "stream_disagrees_with_book"),
    }
    parts: list[pl.DataFrame] = []
    d = msg_deltas.with_columns(pl.Series("kind", kind))
    side_txt = pl.when(pl.col("side") == 1).then(pl.lit("bid")).otherwise(pl.lit("ask"))
    for code, (rule, reason) in rules.items():
        sel = d.filter(pl.col("kind") == code)
        if sel.height:
            parts.append(
                sel.select(
                    "seq",
                    "ts_event",
                    pl.lit("book_deltas").alias("table"),
                    pl.lit(rule).alias("rule"),
                    pl.lit(reason).alias("reason"),
                    pl.lit("mark").alias("action"),
                    pl.format("SET {} price={} size={}", side_txt, pl.col("price"), pl.col("size")).alias(
                        "detail"
                    ),
                )
            )
    quarantined = base.filter(~pl.col("valid"))
    if quarantined.height:
        parts.append(
            quarantined.select(
                "seq",
                "ts_event",
                pl.lit("raw").alias("table"),
                pl.lit("lobster_quarantine").alias("rule"),
                pl.lit("zero_size").alias("reason"),
                pl.lit("quarantine").alias("action"),
                pl.format(
                    "message line {}: type={} order_id={} size={} price={} direction={}",
                    pl.col("seq"),
                    "type",
                    "order_id",
                    "size",
                    "price",
                    "direction",
                ).alias("detail"),
            )
        )
    back = np.flatnonzero(np.diff(ts) < 0) + 1 if ts.shape[0] > 1 else np.zeros(0, dtype=np.int64)
    if back.shape[0]:
        parts.append(
            pl.DataFrame(
                {
                    "seq": (back + 1).astype(np.int64),
                    "ts_event": ts[back],
                    "table": "raw",
                    "rule": "lobster_time_order",
                    "reason": "time_decreases",
                    "action": "mark",
                    "detail": [f"time goes back {int(ts[i - 1] - ts[i])} ns" for i in back],
                }
            )
        )
    if not parts:
        return QC.empty()
    qc = pl.concat(parts, how="vertical").sort("seq", maintain_order=True)
    return validate(qc, QC, where="lobster")


# ---------------------------------------------------------------------------------------------------
# public API


def _resolve_meta(
    message_csv: Path, orderbook_csv: Path, ticker: str | None, date: dt.date | str | None
) -> tuple[str, dt.date, int | None]:
    name_levels: int | None = None
    parsed: tuple[str, dt.date, int] | None = None
    for p in (message_csv, orderbook_csv):
        if _FILENAME.match(p.name):
            this = parse_lobster_filename(p)
            if parsed is not None and this != parsed:
                raise DataFormatError(
                    f"file names disagree: message file says {parsed}, orderbook file says {this} "
                    "(ticker, date, levels)",
                    path=p,
                )
            parsed = this
            name_levels = this[2]
    if parsed is None and (ticker is None or date is None):
        raise DataFormatError(
            "cannot tell ticker and date from the file name; pass ticker= and date= (CLI: --ticker, --date)",
            path=message_csv,
        )
    t = ticker if ticker is not None else parsed[0] if parsed is not None else ""
    if date is None:
        assert parsed is not None
        d = parsed[1]
    elif isinstance(date, dt.date):
        d = date
    else:
        try:
            d = dt.date.fromisoformat(date)
        except ValueError:
            raise DataFormatError(f"date {date!r} is not YYYY-MM-DD") from None
    return t, d, name_levels


def read_lobster_raw(
    message_csv: str | Path, orderbook_csv: str | Path
) -> tuple[pl.DataFrame, np.ndarray, pl.DataFrame, int]:
    """Parse and validate a pair: ``(messages, ts_ns_since_midnight, orderbook, levels)``.

    ``messages`` has the vendor columns (``time`` as text); the orderbook frame has the vendor
    columns ``ask_price_1, ask_size_1, bid_price_1, ...``. Raises :class:`DataFormatError` naming the
    file, the 1-based line and the field for any malformed input.
    """
    message_csv = Path(message_csv)
    orderbook_csv = Path(orderbook_csv)
    name_levels = None
    for p in (message_csv, orderbook_csv):
        if _FILENAME.match(p.name):
            name_levels = parse_lobster_filename(p)[2]
    messages, _ = _read_messages(message_csv)
    orderbook = _read_orderbook(orderbook_csv, None)
    levels = orderbook.width // 4
    if name_levels is not None and levels != name_levels:
        raise DataFormatError(
            f"file name says {name_levels} levels but rows have {orderbook.width} columns (= {levels} levels)",
            path=orderbook_csv,
            line=1,
        )
    if messages.height != orderbook.height:
        longer, n_short = (
            (message_csv, orderbook.height)
            if messages.height > orderbook.height
            else (orderbook_csv, messages.height)
        )
        raise DataFormatError(
            f"message file has {messages.height} rows but orderbook file has {orderbook.height}; "
            f"row i of the orderbook must be the book after message i (first unmatched row here)",
            path=longer,
            line=n_short + 1,
        )
    _validate_messages(message_csv, messages)
    _validate_book(orderbook_csv, orderbook.to_numpy(), levels)
    tod = _time_to_ns(message_csv, messages["time"])
    return messages, tod, orderbook, levels


def make_instrument(ticker: str) -> Instrument:
    """LOBSTER instruments: NASDAQ equities, cent ticks, shares, New York time."""
    return Instrument(symbol=ticker, venue=VENUE, tick_size=TICK_SIZE, size_unit="1", timezone=TIMEZONE)


def read_lobster(
    message_csv: str | Path,
    orderbook_csv: str | Path,
    *,
    ticker: str | None = None,
    date: dt.date | str | None = None,
) -> LobsterDay:
    """Read a LOBSTER message + orderbook pair into canonical tables.

    ``ticker`` and ``date`` default to the values in the vendor file name. Times are New York local
    seconds after midnight, converted exactly to UTC ns. Raises :class:`DataFormatError` (file,
    1-based line, field) for malformed rows, unknown event types, negative sizes, directions not
    in {1, -1}, files cut off mid-row, or files of different lengths.
    """
    message_csv = Path(message_csv)
    orderbook_csv = Path(orderbook_csv)
    t, d, _ = _resolve_meta(message_csv, orderbook_csv, ticker, date)
    messages, tod, orderbook, levels = read_lobster_raw(message_csv, orderbook_csv)
    ts = tod + local_midnight_ns(d, TIMEZONE)
    return build_day(messages, ts, orderbook, levels, make_instrument(t), d)


def read_lobster_orderbook(orderbook_csv: str | Path) -> pl.DataFrame:
    """An orderbook file on its own (no message file): validated levels in canonical units.

    Returns ``seq`` (the 1-based row, = the seq of the message it follows in a full pair) and the
    DBN-style level columns ``bid_px_00 .. ask_sz_LL`` (1e-9 price units, UNDEF_PRICE/0 for empty
    levels). Without the message file there are no timestamps, so this is not a BOOK_SNAPSHOTS
    table; event-clock work (e.g. L1 features, book-based OFI) can still use it.
    """
    path = Path(orderbook_csv)
    orderbook = _read_orderbook(path, None)
    levels = orderbook.width // 4
    if _FILENAME.match(path.name):
        name_levels = parse_lobster_filename(path)[2]
        if name_levels != levels:
            raise DataFormatError(
                f"file name says {name_levels} levels but rows have {orderbook.width} columns",
                path=path,
                line=1,
            )
    ob = orderbook.to_numpy().astype(np.int64, copy=False)
    _validate_book(path, ob, levels)
    apx, asz, bpx, bsz = (ob[:, k::4] for k in range(4))
    cols: dict[str, np.ndarray] = {"seq": np.arange(1, ob.shape[0] + 1, dtype=np.int64)}
    cb, ca = _to_canonical_px(bpx, bsz), _to_canonical_px(apx, asz)
    for name, arr in (("bid_px", cb), ("bid_sz", bsz), ("ask_px", ca), ("ask_sz", asz)):
        for k in range(levels):
            cols[f"{name}_{k:02d}"] = np.ascontiguousarray(arr[:, k])
    return pl.DataFrame(cols)


def ingest_lobster(
    message_csv: str | Path,
    orderbook_csv: str | Path,
    out: str | Path | Dataset,
    *,
    ticker: str | None = None,
    date: dt.date | str | None = None,
) -> LobsterDay:
    """Read a pair and write it to a canonical dataset (partition ``instrument=TICKER/date=DATE``).

    Writes the tables ``book_deltas``, ``trades``, ``status``, ``book_snapshots`` and ``qc``, adds the
    instrument to ``instruments.json`` and writes the partition's meta (source paths, sha256 digests,
    row counts, level count, QC counts). Every write is atomic.
    """
    day = read_lobster(message_csv, orderbook_csv, ticker=ticker, date=date)
    ds = out if isinstance(out, Dataset) else Dataset(out)
    sym = day.instrument.symbol
    ds.add_instrument(day.instrument)
    tables = {
        "book_deltas": day.deltas,
        "trades": day.trades,
        "status": day.status,
        "book_snapshots": day.snapshots,
        "qc": day.qc,
    }
    for name, df in tables.items():
        schema = book_snapshots(day.levels) if name == "book_snapshots" else None
        ds.write(name, df, sym, day.date, schema=schema)
    flags = day.row_flags if day.row_flags is not None else np.zeros(0, dtype=np.uint8)
    meta = {
        "source": "lobster",
        "instrument": sym,
        "date": day.date.isoformat(),
        "levels": day.levels,
        "files": {
            "message": {"path": str(Path(message_csv).resolve()), "sha256": file_digest(message_csv)},
            "orderbook": {"path": str(Path(orderbook_csv).resolve()), "sha256": file_digest(orderbook_csv)},
        },
        "rows": {name: df.height for name, df in tables.items()},
        "messages": int(day.snapshots.height),
        "reveals": int(np.count_nonzero(flags & K.ROW_REVEAL)),
        "pushouts": int(np.count_nonzero(flags & K.ROW_PUSHOUT)),
        "mismatches": int(np.count_nonzero(flags & K.ROW_MISMATCH)),
        "qc": {str(k): int(v) for k, v in day.qc.group_by("rule").len().iter_rows()} if day.qc.height else {},
    }
    ds.write_meta(sym, day.date, meta)
    return day


__all__ = [
    "LobsterDay",
    "build_day",
    "ingest_lobster",
    "make_instrument",
    "orderbook_columns",
    "parse_lobster_filename",
    "read_lobster",
    "read_lobster_orderbook",
    "read_lobster_raw",
]
