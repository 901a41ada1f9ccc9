"""Forward-looking targets: returns on event, time and volume clocks, classes, triple barrier, executable returns.

Every label row carries ``t_end_ns``: the end (inclusive) of the latest window any of its labels looks at,
so purged cross-validation can drop training rows whose window overlaps a test row's.

Horizons are strings with their clock in the suffix, and the suffix is kept in the column name:

* ``"1s"``, ``"500ms"``, ``"2m"`` — time clock: the book as of ``t + h`` (last snapshot at or before it);
* ``"100ev"`` — event clock: the book ``n`` snapshots after the row's own;
* ``"500vol"`` — volume clock: the first book row by which ``V`` size units have traded after the row
  (needs the TRADES table).

Returns are in basis points of the starting price. Label windows never run past the partition's last book
row: a row whose horizon ends after the data gets NaN (and is dropped, counted, by the research stage).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from orderflow.core.errors import ConfigError, SchemaError
from orderflow.core.execution import ExecutionModel
from orderflow.core.schema import LABELS, validate
from orderflow.core.time import parse_duration_ns
from orderflow.labels._kernels import (
    ewma_vol_kernel,
    executable_return_kernel,
    forward_return_kernel,
    triple_barrier_kernel,
)
from orderflow.labels.book import BookArrays, book_arrays

_HORIZON = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|min|h|ev|vol)\s*$")


@dataclass(frozen=True)
class Horizon:
    """A parsed horizon: ``clock`` in {time, event, volume} and its ``amount`` (ns, events or size units)."""

    text: str
    clock: Literal["time", "event", "volume"]
    amount: int

    @property
    def tag(self) -> str:
        """Column-name suffix (``1s``, ``100ev``, ``500vol``)."""
        return self.text.replace(".", "p")


def parse_horizon(text: str) -> Horizon:
    """``"1s" -> Horizon(time, 1e9)``, ``"100ev" -> (event, 100)``, ``"500vol" -> (volume, 500)``."""
    m = _HORIZON.match(text)
    if not m:
        raise ConfigError(f"horizon {text!r}: use a duration (500ms, 1s), events (100ev) or volume (500vol)")
    value, unit = m.groups()
    if unit == "ev":
        return Horizon(text.strip(), "event", int(float(value)))
    if unit == "vol":
        return Horizon(text.strip(), "volume", int(float(value)))
    return Horizon(text.strip(), "time", parse_duration_ns(text.strip()))


class LabelConfig(BaseModel):
    """Which targets to build.

    ``target`` is the horizon of the classification / executable / quantile targets; ``horizons`` adds
    plain forward mid (and microprice) returns at other horizons for analysis.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    horizons: tuple[str, ...] = ("100ms", "1s", "50ev")
    target: str = "1s"
    microprice: bool = True
    classes: bool = True
    class_threshold: Literal["regime_vol", "spread", "fixed"] = Field(
        "regime_vol",
        description="flat band: k x regime's return std (fitted on the training fold), k x half-spread at t, or fixed bps",
    )
    class_k: float = Field(0.4, gt=0)
    fixed_bps: float = Field(1.0, ge=0)
    executable: bool = True
    triple_barrier: bool = True
    barrier_k: float = Field(1.0, gt=0, description="barrier width in sigmas of the horizon return")
    barrier_halflife: str = Field(
        "10s", description="half-life of the causal EWMA volatility scaling the barriers"
    )
    barrier_sign_at_timeout: bool = False
    smoothed: bool = Field(False, description="add FI-2010 / DeepLOB smoothed-mean labels y_smooth_<k>ev")
    smoothed_k: int = Field(10, ge=1)
    size_unit: float = Field(
        1.0, gt=0, description="instrument units per size unit of the book (Instrument.size_unit)"
    )
    insufficient_depth: Literal["nan", "last_level"] = Field(
        "last_level",
        description="an order larger than the displayed depth: NaN label, or the rest priced at the deepest shown level",
    )

    @field_validator("horizons")
    @classmethod
    def _check_h(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for h in v:
            parse_horizon(h)
        return v

    @field_validator("target")
    @classmethod
    def _check_t(cls, v: str) -> str:
        parse_horizon(v)
        return v

    @field_validator("barrier_halflife")
    @classmethod
    def _check_hl(cls, v: str) -> str:
        parse_duration_ns(v)
        return v


def horizon_end(
    book: BookArrays, start: np.ndarray, t0: np.ndarray, h: Horizon, cumvol: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Book row and time at which horizon ``h`` ends for rows starting at book row ``start`` / time ``t0``.

    Returns ``(end_row, end_ns)``; ``end_row = -1`` where the horizon runs past the partition's data.
    """
    m = book.n
    if h.clock == "time":
        t1 = t0 + h.amount
        end = book.rows_as_of(t1)
        bad = (t1 > (book.ts[-1] if m else -1)) | (start < 0)
        end[bad] = -1
        return end, np.where(bad, -1, t1)
    if h.clock == "event":
        end = start + h.amount
        bad = (end >= m) | (start < 0)
        end = np.where(bad, -1, end)
        return end, np.where(bad, -1, book.ts[np.clip(end, 0, max(m - 1, 0))])
    if cumvol is None:
        raise ConfigError(f"horizon {h.text!r}: a volume clock needs the trades table")
    target = cumvol[np.clip(start, 0, max(m - 1, 0))] + h.amount
    end = np.searchsorted(cumvol, target, side="left").astype(np.int64)
    bad = (end >= m) | (start < 0)
    end = np.where(bad, -1, end)
    return end, np.where(bad, -1, book.ts[np.clip(end, 0, max(m - 1, 0))])


def cumulative_volume(book: BookArrays, trades: pl.DataFrame) -> np.ndarray:
    """Traded size up to and including each book row (trades matched to book rows by ``seq``)."""
    tseq = trades["seq"].to_numpy().astype(np.int64)
    tsz = trades["size"].to_numpy().astype(np.float64)
    order = np.argsort(tseq, kind="stable")
    csum = np.concatenate([[0.0], np.cumsum(tsz[order])])
    return np.asarray(csum[np.searchsorted(tseq[order], book.seq, side="right")])


def smoothed_mean_return(start: np.ndarray, price: np.ndarray, k: int) -> np.ndarray:
    """FI-2010 / DeepLOB label: ``(mean(p[s+1 .. s+k]) - p[s]) / p[s]`` in bps (event clock, NaN past the end)."""
    m = price.shape[0]
    c = np.concatenate([[0.0], np.cumsum(np.nan_to_num(price))])
    ok = (start >= 0) & (start + k < m)
    s = np.clip(start, 0, max(m - 1, 0))
    e = np.clip(start + k, 0, max(m - 1, 0))
    mean_fwd = (c[e + 1] - c[s + 1]) / k
    p0 = price[s]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (mean_fwd - p0) / p0 * 1e4
    return np.where(ok, out, np.nan)


def execution_latency_ns(execution: ExecutionModel, book: BookArrays, start: np.ndarray) -> np.ndarray:
    """Decision-to-exchange delay per row: feed + submit latency (plus the row's own feed delay when measured)."""
    lat = np.full(start.shape[0], execution.latency.feed_ns + execution.latency.submit_ns, dtype=np.int64)
    if execution.latency.mode == "measured":
        s = np.clip(start, 0, max(book.n - 1, 0))
        lat = lat + np.maximum(book.ts_recv[s] - book.ts[s], 0)
    return lat


def executable_returns(
    book: BookArrays,
    start: np.ndarray,
    t0: np.ndarray,
    horizon_end_ns: np.ndarray,
    execution: ExecutionModel,
    size_unit: float = 1.0,
    extend_last_level: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Taker round trips: enter at the book as of ``t0 + latency``, exit at the book as of ``t_h + latency``.

    ``horizon_end_ns`` is the time the horizon ends (the exit decision). Both legs cross the spread and walk
    the book for ``execution.order_size`` (instrument units) and pay taker fees. Returns
    ``(long_bps, short_bps, t_end_ns)`` with ``t_end_ns = t_h + latency``.
    """
    lat = execution_latency_ns(execution, book, start)
    entry = np.maximum(book.rows_as_of(t0 + lat), start)
    t_exit = horizon_end_ns + lat
    exit_ = book.rows_as_of(t_exit)
    last = book.ts[-1] if book.n else -1
    bad = (horizon_end_ns < 0) | (start < 0) | (t_exit > last)
    entry = np.where(bad, -1, entry)
    exit_ = np.where(bad, -1, exit_)
    fees = execution.fees
    qty = execution.order_size / size_unit
    long_r, short_r = executable_return_kernel(
        entry,
        exit_,
        book.bid_px,
        book.bid_sz,
        book.ask_px,
        book.ask_sz,
        float(qty),
        float(fees.taker_bps),
        float(fees.taker_per_unit),
        float(fees.min_fee),
        float(size_unit),
        bool(extend_last_level),
    )
    return long_r, short_r, np.where(bad, -1, t_exit)


def causal_vol_bps(book: BookArrays, halflife_ns: int) -> np.ndarray:
    """Causal volatility per book row: std of log returns per second, in bps (EWMA, see ``ewma_vol_kernel``)."""
    var = ewma_vol_kernel(book.ts, book.mid, float(halflife_ns))
    return np.sqrt(var) * 1e4


def label_partition(
    book: pl.DataFrame | BookArrays,
    rows: pl.DataFrame,
    config: LabelConfig,
    execution: ExecutionModel,
    trades: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Labels for the rows ``rows`` (``ts_event``, ``seq``; e.g. the FEATURES rows) of ONE partition.

    Each row starts from the last book snapshot with ``seq <= row.seq`` (the book the row saw).
    Returns a LABELS frame: ``ts_event, seq, t_end_ns`` then ``y_midret_<h>``, ``y_microret_<h>``,
    ``y_exec_long_<target>``, ``y_exec_short_<target>``, ``y_tb_<target>`` (Int8 -1/0/+1, -2 = unknown),
    ``y_smooth_<k>ev``. ``t_end_ns`` is -1 where the target window runs past the data.
    """
    ba = book if isinstance(book, BookArrays) else book_arrays(book)
    t0 = rows["ts_event"].to_numpy().astype(np.int64, copy=False)
    seq = rows["seq"].to_numpy().astype(np.int64, copy=False)
    start = ba.rows_at_or_before(seq)
    horizons = [parse_horizon(h) for h in config.horizons]
    target = parse_horizon(config.target)
    if target.text not in [h.text for h in horizons]:
        horizons.append(target)
    cumvol = cumulative_volume(ba, trades) if trades is not None else None
    mid, micro = ba.mid, ba.microprice
    cols: dict[str, np.ndarray] = {}
    t_end = np.full(t0.shape[0], -1, dtype=np.int64)
    target_end_ns = np.full(t0.shape[0], -1, dtype=np.int64)
    for h in horizons:
        end, end_ns = horizon_end(ba, start, t0, h, cumvol)
        cols[f"y_midret_{h.tag}"] = forward_return_kernel(start, end, mid)
        if config.microprice:
            cols[f"y_microret_{h.tag}"] = forward_return_kernel(start, end, micro)
        if h.text == target.text:
            target_end_ns = end_ns
            t_end = end_ns.copy()
    both_known = target_end_ns >= 0
    if config.executable:
        lr, sr, t_ex = executable_returns(
            ba,
            start,
            t0,
            target_end_ns,
            execution,
            config.size_unit,
            config.insufficient_depth == "last_level",
        )
        cols[f"y_exec_long_{target.tag}"] = lr
        cols[f"y_exec_short_{target.tag}"] = sr
        t_end = np.where(both_known & (t_ex >= 0), np.maximum(t_end, t_ex), -1)
    if config.triple_barrier:
        vol = causal_vol_bps(ba, parse_duration_ns(config.barrier_halflife))
        if target.clock == "time":
            limit = t0 + target.amount
            dur_s = target.amount / 1e9
        else:  # the vertical barrier is the horizon's end; widths use its median duration
            limit = target_end_ns
            ok = target_end_ns >= 0
            dur_s = float(np.median(target_end_ns[ok] - t0[ok])) / 1e9 if ok.any() else 0.0
        sig = vol[np.clip(start, 0, max(ba.n - 1, 0))] * np.sqrt(dur_s) * config.barrier_k
        sig = np.where(np.isfinite(sig) & (sig > 0), sig, np.inf)
        lab, tb_end, _ = triple_barrier_kernel(
            start, limit, ba.ts, mid, sig, sig, bool(config.barrier_sign_at_timeout)
        )
        cols[f"y_tb_{target.tag}"] = lab
        t_end = np.where(tb_end >= 0, np.maximum(t_end, tb_end), t_end)
    if config.smoothed:
        cols[f"y_smooth_{config.smoothed_k}ev"] = smoothed_mean_return(start, mid, config.smoothed_k)
        end_s = start + config.smoothed_k
        ok = (start >= 0) & (end_s < ba.n)
        t_end = np.where(
            ok & (t_end >= 0), np.maximum(t_end, ba.ts[np.clip(end_s, 0, max(ba.n - 1, 0))]), t_end
        )
    out = pl.DataFrame({"ts_event": t0, "seq": seq, "t_end_ns": t_end.astype(np.int64), **cols})
    return validate(out, LABELS, where="label_partition")


PARTITION_COLUMNS = ("instrument", "date")


def partition_keys(df: pl.DataFrame) -> list[str]:
    """The partition columns present in ``df`` (``instrument``, ``date``)."""
    return [c for c in PARTITION_COLUMNS if c in df.columns]


def compute_labels(
    book: pl.DataFrame,
    rows: pl.DataFrame,
    config: LabelConfig,
    execution: ExecutionModel,
    trades: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """:func:`label_partition` over every (instrument, date) partition; windows never cross partitions.

    ``rows`` and ``book`` may hold several partitions (columns ``instrument`` / ``date``); the output keeps
    those columns and the order of ``rows``.
    """
    keys = partition_keys(rows)
    if not keys:
        return label_partition(book.sort("seq"), rows, config, execution, trades)
    missing = [k for k in keys if k not in book.columns]
    if missing:
        raise SchemaError(f"book_snapshots: rows are partitioned by {keys} but the book lacks {missing}")
    rows = rows.with_row_index("_row")
    parts = []
    for key, part in rows.group_by(keys, maintain_order=True):
        flt = pl.all_horizontal([pl.col(k) == v for k, v in zip(keys, key, strict=True)])
        b = book.filter(flt).sort("seq")
        tr = trades.filter(flt) if trades is not None and all(k in trades.columns for k in keys) else trades
        lab = label_partition(b, part, config, execution, tr)
        parts.append(lab.with_columns(part.select([*keys, "_row"])))
    return pl.concat(parts, how="vertical").sort("_row").drop("_row")


# -- classes ---------------------------------------------------------------------------------------------


def classify(ret_bps: np.ndarray, threshold_bps: np.ndarray | float) -> np.ndarray:
    """Up/flat/down: +1 where ``ret > thr``, -1 where ``ret < -thr``, else 0 (int8; NaN returns -> 0)."""
    thr = np.asarray(threshold_bps, dtype=np.float64)
    out = np.zeros(ret_bps.shape[0], dtype=np.int8)
    out[ret_bps > thr] = 1
    out[ret_bps < -thr] = -1
    return out


def regime_scales(ret_bps: np.ndarray, regime: np.ndarray) -> dict[int, float]:
    """Std of the return per regime (fit on TRAINING rows only; the flat band scales with it)."""
    out: dict[int, float] = {}
    finite = np.isfinite(ret_bps)
    allstd = float(np.std(ret_bps[finite])) if finite.any() else 0.0
    for r in np.unique(regime):
        m = (regime == r) & finite
        out[int(r)] = float(np.std(ret_bps[m])) if m.sum() > 1 else allstd
    return out


def regime_thresholds(regime: np.ndarray, scales: dict[int, float], k: float) -> np.ndarray:
    """Per-row flat-band half width: ``k x scales[regime]`` (regimes unseen in training use the median scale)."""
    default = float(np.median(list(scales.values()))) if scales else 0.0
    reg = np.asarray(regime)
    out = np.full(reg.shape[0], k * default, dtype=np.float64)
    for r, s in scales.items():
        out[reg == r] = k * s
    return out


__all__ = [
    "Horizon",
    "LabelConfig",
    "causal_vol_bps",
    "classify",
    "compute_labels",
    "cumulative_volume",
    "executable_returns",
    "execution_latency_ns",
    "horizon_end",
    "label_partition",
    "parse_horizon",
    "partition_keys",
    "regime_scales",
    "regime_thresholds",
    "smoothed_mean_return",
]
