"""Book snapshots as contiguous float arrays for label and regime kernels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from orderflow.core.enums import PRICE_SCALE, UNDEF_PRICE
from orderflow.core.errors import SchemaError
from orderflow.core.schema import snapshot_depth
from orderflow.labels._kernels import searchsorted_right


@dataclass(frozen=True)
class BookArrays:
    """One partition's BOOK_SNAPSHOTS as numpy arrays (prices in currency, NaN for empty levels)."""

    ts: np.ndarray  # int64 ns
    ts_recv: np.ndarray  # int64 ns
    seq: np.ndarray  # int64
    bid_px: np.ndarray  # (m, depth) float64
    bid_sz: np.ndarray  # (m, depth) float64, size units
    ask_px: np.ndarray
    ask_sz: np.ndarray

    @property
    def n(self) -> int:
        return int(self.ts.shape[0])

    @property
    def mid(self) -> np.ndarray:
        return (self.bid_px[:, 0] + self.ask_px[:, 0]) / 2.0

    @property
    def microprice(self) -> np.ndarray:
        """Size-weighted mid of the touch: ``(bid * ask_sz + ask * bid_sz) / (bid_sz + ask_sz)``."""
        b, a = self.bid_px[:, 0], self.ask_px[:, 0]
        bs, as_ = self.bid_sz[:, 0], self.ask_sz[:, 0]
        tot = bs + as_
        with np.errstate(invalid="ignore", divide="ignore"):
            mp = (b * as_ + a * bs) / tot
        return np.where(tot > 0, mp, (a + b) / 2.0)

    @property
    def spread(self) -> np.ndarray:
        return self.ask_px[:, 0] - self.bid_px[:, 0]

    def depth(self, levels: int = 5) -> np.ndarray:
        """Displayed size on both sides over the top ``levels`` levels (size units)."""
        k = min(levels, self.bid_sz.shape[1])
        return np.asarray(self.bid_sz[:, :k].sum(axis=1) + self.ask_sz[:, :k].sum(axis=1))

    def rows_at_or_before(self, seq: np.ndarray) -> np.ndarray:
        """Index of the last book row with ``seq <= seq[i]`` (-1 when none): the book a row saw."""
        return searchsorted_right(self.seq, np.asarray(seq, dtype=np.int64)) - 1

    def rows_as_of(self, t_ns: np.ndarray) -> np.ndarray:
        """Index of the last book row with ``ts <= t`` (-1 when none): the book as of time t."""
        return searchsorted_right(self.ts, np.asarray(t_ns, dtype=np.int64)) - 1


def _px(col: pl.Series) -> np.ndarray:
    v = col.to_numpy().astype(np.int64, copy=False)
    out = v.astype(np.float64) / PRICE_SCALE
    out[v == UNDEF_PRICE] = np.nan
    return out


def book_arrays(book: pl.DataFrame) -> BookArrays:
    """Convert one partition of BOOK_SNAPSHOTS (sorted by ``seq``) to :class:`BookArrays`.

    Raises :class:`SchemaError` when the frame has no level columns or is not sorted by ``seq``.
    """
    depth = snapshot_depth(book)
    if depth == 0:
        raise SchemaError("book_snapshots: no bid_px_00.. level columns")
    seq = book["seq"].to_numpy().astype(np.int64, copy=False)
    if seq.size > 1 and np.any(np.diff(seq) < 0):
        raise SchemaError("book_snapshots: rows are not sorted by seq")
    ts = book["ts_event"].to_numpy().astype(np.int64, copy=False)
    if ts.size > 1 and np.any(np.diff(ts) < 0):
        raise SchemaError("book_snapshots: ts_event decreases while seq increases")
    ts_recv = book["ts_recv"].to_numpy().astype(np.int64, copy=False) if "ts_recv" in book.columns else ts

    def side(s: str) -> tuple[np.ndarray, np.ndarray]:
        px = np.column_stack([_px(book[f"{s}_px_{k:02d}"]) for k in range(depth)])
        sz = np.column_stack([book[f"{s}_sz_{k:02d}"].to_numpy().astype(np.float64) for k in range(depth)])
        px[sz <= 0] = np.nan
        return np.ascontiguousarray(px), np.ascontiguousarray(sz)

    bid_px, bid_sz = side("bid")
    ask_px, ask_sz = side("ask")
    return BookArrays(
        ts=ts, ts_recv=ts_recv, seq=seq, bid_px=bid_px, bid_sz=bid_sz, ask_px=ask_px, ask_sz=ask_sz
    )


__all__ = ["BookArrays", "book_arrays"]
