"""Compute the FEATURES table from canonical book snapshots (+ trades, + book deltas) on a chosen clock.

Passes (all chunk-safe: state carries across chunks of ``config.chunk_rows`` book rows):

1. ``book_kernel`` on every book row: spread, weighted mid, micro-price, imbalance, per-update OFI
   and multi-level OFI, sweep costs, depth and shape (one fused numba loop).
2. Trades and deltas are attached to the book row they precede or coincide with by ``seq``
   (a row carries the events with seq in (previous row's seq, its seq]).
3. ``event_kernel`` on every book row: decayed arrival intensities, queue and touch features.
4. ``clock_kernel`` picks the sampled rows; level features are read at the sampled row, flow
   features (OFI, MLOFI, signed volume, ...) are summed over the rows since the previous sample.
5. ``clocked_kernel`` on the sampled series: realized variance, bipower variation, Kyle's lambda;
   ``vpin_kernel`` on trades, read as of each sample.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from orderflow.core.enums import BookAction
from orderflow.core.errors import ConfigError, SchemaError
from orderflow.core.instruments import Instrument
from orderflow.core.schema import BOOK_DELTAS, FEATURES, TRADES, book_snapshots, snapshot_depth, validate
from orderflow.features import _kernels as K
from orderflow.features.config import FEATURE_GROUPS, Clock, FeatureConfig
from orderflow.features.microprice import MicropriceEstimator
from orderflow.features.registry import FEATURES_REGISTRY

_CLOCK_CODE = {
    "event": K.CLK_EVENT,
    "events": K.CLK_EVENTS,
    "time": K.CLK_TIME,
    "volume": K.CLK_VOLUME,
    "trade": K.CLK_TRADE,
}

EVENT_OUT = (
    "lam_add_bid_hz",
    "lam_add_ask_hz",
    "lam_cancel_bid_hz",
    "lam_cancel_ask_hz",
    "lam_trade_bid_hz",
    "lam_trade_ask_hz",
    "cancel_to_trade",
    "queue_rel_bid",
    "queue_rel_ask",
    "touch_age_bid_s",
    "touch_age_ask_s",
    "touch_depletion_bid",
    "touch_depletion_ask",
)
_INTENSITY = EVENT_OUT[:7]
_QUEUE = EVENT_OUT[7:]
TRADE_FLOW = ("signed_volume", "buy_volume", "sell_volume", "trade_count")


def qty_label(q: float, notional: bool) -> str:
    """Column-name form of a sweep size: 100.0 -> '100', 0.5 -> '0.5', notional -> '10000ccy'."""
    s = f"{q:g}".replace("+", "")
    return f"{s}ccy" if notional else s


@dataclass
class _Layout:
    names: list[str] = field(default_factory=list)
    o_mid: int = -1
    o_spread: int = -1
    o_wmid: int = -1
    o_mp: int = -1
    o_imb: int = -1
    n_imb: int = 0
    o_ofi: int = -1
    n_ofi: int = 0
    o_sweep: int = -1
    o_depth: int = -1
    n_depth: int = 0
    o_shape: int = -1
    n_shape: int = 0

    def take(self, names: list[str]) -> int:
        off = len(self.names)
        self.names.extend(names)
        return off


def _book_layout(groups: set[str], levels: int, cfg: FeatureConfig) -> _Layout:
    lay = _Layout()
    lay.o_mid = lay.take(["mid"])
    if "spread" in groups:
        lay.o_spread = lay.take(["spread_ticks", "spread_bps"])
    if "wmid" in groups:
        lay.o_wmid = lay.take(["wmid", "wmid_dev_ticks"])
    if "microprice" in groups:
        lay.o_mp = lay.take(["microprice", "microprice_adj_ticks"])
    if "imbalance" in groups:
        lay.n_imb = levels
        lay.o_imb = lay.take([f"imb_l{k}" for k in range(1, levels + 1)])
    if "ofi" in groups or "mlofi" in groups:
        lay.n_ofi = levels if "mlofi" in groups else 1
        lay.o_ofi = lay.take([f"_ofi_{m}" for m in range(1, lay.n_ofi + 1)])
    if "sweep" in groups:
        notional = cfg.sweep_unit == "notional"
        names = []
        for q in cfg.sweep_sizes:
            lab = qty_label(q, notional)
            names += [
                f"sweep_bps_buy_{lab}",
                f"sweep_fill_buy_{lab}",
                f"sweep_bps_sell_{lab}",
                f"sweep_fill_sell_{lab}",
            ]
        lay.o_sweep = lay.take(names)
    if "depth" in groups:
        lay.n_depth = levels
        lay.o_depth = lay.take(
            [f"depth_bid_l{k}" for k in range(1, levels + 1)]
            + [f"depth_ask_l{k}" for k in range(1, levels + 1)]
            + [f"cumdepth_bid_l{k}" for k in range(1, levels + 1)]
            + [f"cumdepth_ask_l{k}" for k in range(1, levels + 1)]
        )
    if "shape" in groups:
        lay.n_shape = levels
        lay.o_shape = lay.take(
            [
                "book_slope_bid",
                "depth_conc_bid",
                "depth_center_bid_ticks",
                "book_slope_ask",
                "depth_conc_ask",
                "depth_center_ask_ticks",
            ]
        )
    return lay


def _book_cols(depth: int) -> tuple[list[str], list[str], list[str], list[str]]:
    return (
        [f"bid_px_{k:02d}" for k in range(depth)],
        [f"bid_sz_{k:02d}" for k in range(depth)],
        [f"ask_px_{k:02d}" for k in range(depth)],
        [f"ask_sz_{k:02d}" for k in range(depth)],
    )


def _levels(df: pl.DataFrame, cols: list[str], buf: np.ndarray | None = None) -> np.ndarray:
    """Level columns as one (L, n) int64 array, row k = level k (one copy; rows are contiguous).

    ``buf`` (L, >= n) is reused when given, so chunk after chunk does not fault in fresh pages.
    """
    n = df.height
    out = buf[:, :n] if buf is not None and buf.shape[1] >= n else np.empty((len(cols), n), dtype=np.int64)
    for k, c in enumerate(cols):
        out[k] = df[c].to_numpy()
    return out


class FeatureEngine:
    """Streaming feature computation: call :meth:`process` on consecutive chunks, in seq order.

    ``process(snaps, trades, deltas)`` takes the book rows of one chunk and the trades/deltas whose
    seq falls in (last seq of the previous chunk, last seq of this chunk]; it returns the FEATURES
    rows sampled in that chunk. State (previous book row, decayed intensities, rolling windows,
    VPIN buckets, clock position) carries over, so chunking never changes the result.
    """

    def __init__(
        self,
        config: FeatureConfig,
        instrument: Instrument,
        depth: int,
        *,
        microprice_table: np.ndarray | None = None,
        microprice_valid_from_ns: int | None = None,
        has_trades: bool = False,
        has_deltas: bool = False,
    ) -> None:
        self.cfg = config
        self.inst = instrument
        self.depth = depth
        groups = [g for g in config.names if g in FEATURE_GROUPS]
        self.groups = set(groups)
        self.plugins = [g for g in config.names if g not in FEATURE_GROUPS]
        needs_trades = {"trade_flow", "vpin", "kyle"} & self.groups
        if needs_trades and not has_trades:
            raise ConfigError(f"features: {', '.join(sorted(needs_trades))} need TRADES (pass trades=)")
        if "intensity" in self.groups and not has_deltas:
            raise ConfigError("features: 'intensity' needs BOOK_DELTAS (pass deltas=)")
        clk = config.clock_spec
        if clk.kind in ("volume", "trade") and not has_trades:
            raise ConfigError(f"features: clock '{config.clock}' needs TRADES (pass trades=)")
        self.clock: Clock = clk
        self.levels = min(config.levels, depth)
        self.L = depth if "sweep" in self.groups else max(self.levels, 1)
        self.layout = _book_layout(self.groups, self.levels, config)
        self.tick_int = instrument.tick_int
        self.tick_f = self.tick_int * 1e-9
        self.size_unit = instrument.size_unit_float
        if "microprice" in self.groups:
            if microprice_table is None:
                raise ConfigError("features: 'microprice' needs a fitted MicropriceEstimator table")
            self.mp_table = np.ascontiguousarray(microprice_table, dtype=np.float64)
        else:
            self.mp_table = np.zeros((0, 1))
        self.mp_valid_from = microprice_valid_from_ns
        order = np.argsort(np.asarray(config.sweep_sizes, dtype=np.float64), kind="stable")
        self.sweep_q = np.asarray(config.sweep_sizes, dtype=np.float64)[order]
        self.sweep_col = order.astype(np.int64)
        # state
        self.prev = np.zeros((4, self.L), dtype=np.int64)
        self.has_prev = 0
        self.ev_state = np.zeros(K.EVENT_STATE_SIZE)
        self.q_alpha = 2.0 / (config.queue_window_events + 1.0)
        self.clk_state = np.zeros(3, dtype=np.int64)
        self.cl_state = np.zeros(8)
        self.ring_r = np.zeros(config.vol_window_ticks)
        self.ring_dm = np.zeros(config.kyle_window_ticks)
        self.ring_v = np.zeros(config.kyle_window_ticks)
        self.vpin_state = np.zeros(8)
        self.vpin_ring = np.zeros(config.vpin_n_buckets)
        self.vpin_last = math.nan
        self.sigma_alpha = 2.0 / (config.vpin_sigma_tau_trades + 1.0)
        # carry row (last row of the previous chunk) for time-clock samples and flow sums
        self.carry: dict[str, Any] | None = None
        self.cum_emit: np.ndarray | None = None
        self.carry_snap: pl.DataFrame | None = None
        self.last_ts: int | None = None
        self._bufs: list[np.ndarray] | None = None
        self.set_feed = False
        """True once a SET (absolute size) delta was seen: add/cancel intensities are then NaN."""

    # -- helpers ---------------------------------------------------------------------------------------
    @property
    def flow_names(self) -> list[str]:
        lay = self.layout
        names = [f"_ofi_{m}" for m in range(1, lay.n_ofi + 1)]
        if "trade_flow" in self.groups or "kyle" in self.groups or self.clock.kind == "volume":
            names += list(TRADE_FLOW)
        return names

    def process(
        self, snaps: pl.DataFrame, trades: pl.DataFrame | None = None, deltas: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        n = snaps.height
        if n == 0:
            return FEATURES.empty()
        lay = self.layout
        ts = snaps["ts_event"].to_numpy().astype(np.int64, copy=False)
        seq = snaps["seq"].to_numpy().astype(np.int64, copy=False)
        bpc, bsc, apc, asc = _book_cols(self.L)
        if self._bufs is None or self._bufs[0].shape[1] < n:
            self._bufs = [np.empty((self.L, n), dtype=np.int64) for _ in range(4)]
        bpx, bsz, apx, asz = (
            _levels(snaps, c, b) for c, b in zip((bpc, bsc, apc, asc), self._bufs, strict=True)
        )
        arrays = (bpx, bsz, apx, asz)
        event_clock = self.clock.kind == "event"
        prev0 = self.prev.copy()
        # Event clock: every row is a sample, so one fused pass computes everything. Other clocks: OFI
        # needs every row (it is summed between samples), the book-shape features only the sampled rows.
        out, self.has_prev = self._book(arrays, self.prev, self.has_prev, levels=event_clock, ofi=True)
        level: dict[str, np.ndarray] = {}
        if event_clock:
            level = {nm: out[j] for j, nm in enumerate(lay.names) if not nm.startswith("_ofi_")}
        flows: dict[str, np.ndarray] = {
            nm: out[j] for j, nm in enumerate(lay.names) if nm.startswith("_ofi_")
        }
        vol_row = np.zeros(n, dtype=np.int64)
        ntr_row = np.zeros(n, dtype=np.int64)
        tr_idx = np.zeros(0, dtype=np.int64)
        if trades is not None and trades.height:
            tr_idx = np.searchsorted(seq, trades["seq"].to_numpy(), side="left")
            if tr_idx.size and tr_idx[-1] >= n:
                raise SchemaError("features: a trade chunk holds trades after the chunk's last book row")
            tsz = trades["size"].to_numpy()
            agg = trades["aggressor"].to_numpy()
            vol_row = np.bincount(tr_idx, weights=tsz, minlength=n).astype(np.int64)
            ntr_row = np.bincount(tr_idx, minlength=n).astype(np.int64)
            if "trade_flow" in self.groups or "kyle" in self.groups or self.clock.kind == "volume":
                buy = np.bincount(tr_idx, weights=np.where(agg > 0, tsz, 0), minlength=n) * self.size_unit
                sell = np.bincount(tr_idx, weights=np.where(agg < 0, tsz, 0), minlength=n) * self.size_unit
                flows["signed_volume"] = buy - sell
                flows["buy_volume"] = buy
                flows["sell_volume"] = sell
                flows["trade_count"] = ntr_row.astype(np.float64)
        elif "trade_flow" in self.groups or "kyle" in self.groups or self.clock.kind == "volume":
            for nm in TRADE_FLOW:
                flows[nm] = np.zeros(n)
        if {"intensity", "queue"} & self.groups:
            counts = np.zeros((6, n), dtype=np.int64)
            if deltas is not None and deltas.height:
                d_idx = np.searchsorted(seq, deltas["seq"].to_numpy(), side="left")
                if d_idx.size and d_idx[-1] >= n:
                    raise SchemaError("features: a delta chunk holds deltas after the chunk's last book row")
                act = deltas["action"].to_numpy()
                side = deltas["side"].to_numpy()
                for r, (a, s) in enumerate(
                    (
                        (BookAction.ADD, 1),
                        (BookAction.ADD, -1),
                        (BookAction.REDUCE, 1),
                        (BookAction.REDUCE, -1),
                        (BookAction.EXECUTE, 1),
                        (BookAction.EXECUTE, -1),
                    )
                ):
                    m = (act == int(a)) & (side == s)
                    counts[r] = np.bincount(d_idx[m], minlength=n)
                if (act == int(BookAction.SET)).any():
                    self.set_feed = True
            if self.set_feed and trades is not None and trades.height:
                # absolute-size (SET) feeds say nothing about adds vs cancels vs fills: executions come
                # from TRADES, on the resting side (a buyer-initiated trade hits the ask)
                agg = trades["aggressor"].to_numpy()
                counts[4] = np.bincount(tr_idx[agg < 0], minlength=n)
                counts[5] = np.bincount(tr_idx[agg > 0], minlength=n)
            ev = np.empty((len(EVENT_OUT), n))
            K.event_kernel(
                ts,
                bpx[0],
                bsz[0],
                apx[0],
                asz[0],
                counts,
                self.ev_state,
                self.cfg.intensity_tau_ns,
                self.q_alpha,
                self.size_unit,
                ev,
            )
            if self.set_feed:
                ev[:4] = np.nan  # add / cancel rates are unknown on a SET feed
                ev[6] = np.nan
            if "intensity" in self.groups:
                level.update({nm: ev[j] for j, nm in enumerate(EVENT_OUT) if nm in _INTENSITY})
            if "queue" in self.groups:
                level.update({nm: ev[j] for j, nm in enumerate(EVENT_OUT) if nm in _QUEUE})
        level["_ts_row"] = ts.astype(np.float64)

        # -- clock -------------------------------------------------------------------------------------
        kind = _CLOCK_CODE[self.clock.kind]
        if kind == K.CLK_EVENT:
            rows = np.arange(n, dtype=np.int64)
            stamps = ts
            out_level = level
            out_flow = flows
            out_seq = seq
        else:
            lo = self.last_ts if self.last_ts is not None else int(ts[0])
            cap = (
                n + 1
                if kind != K.CLK_TIME
                else n + int(ts[-1] // self.clock.every - lo // self.clock.every) + 2
            )
            rows = np.empty(cap, dtype=np.int64)
            stamps = np.empty(cap, dtype=np.int64)
            m = K.clock_kernel(ts, vol_row, ntr_row, kind, self.clock.every, self.clk_state, rows, stamps)
            rows, stamps = rows[:m], stamps[:m]
            if (rows < 0).any() and self.carry is None:
                raise AssertionError("time clock sampled before the first book row")  # pragma: no cover
            # gather sampled rows; index -1 means the last row of the previous chunk (the carry)
            idx = np.maximum(rows, 0)
            neg = rows < 0
            has_neg = bool(neg.any())
            out_level = {}
            for nm, v in level.items():
                g = v[idx]
                if has_neg and self.carry is not None:
                    g[neg] = self.carry["level"][nm]
                out_level[nm] = g
            out_seq = seq[idx]
            if has_neg and self.carry is not None:
                out_seq[neg] = self.carry["seq"]
            samp = tuple(arr[:, idx] for arr in arrays)
            if has_neg:
                for j, arr in enumerate(samp):
                    arr[:, neg] = prev0[j][:, None]
            out_s, _ = self._book(samp, np.zeros_like(prev0), 0, levels=True, ofi=False)
            for j, nm in enumerate(lay.names):
                if not nm.startswith("_ofi_"):
                    out_level[nm] = out_s[j]
            out_flow = {}
            if flows:
                c = self._cumsum(flows)
                c_emit = c[:, idx]
                if has_neg and self.carry is not None:
                    c_emit[:, neg] = self.carry["cum"][:, None]
                start = self.cum_emit if self.cum_emit is not None else np.zeros(len(flows))
                prev_emit = np.concatenate([start[:, None], c_emit[:, :-1]], axis=1) if m else c_emit
                d = c_emit - prev_emit
                for j, nm in enumerate(flows):
                    out_flow[nm] = d[j]
                if m:
                    self.cum_emit = c_emit[:, -1].copy()
            self.carry = {
                "level": {nm: v[-1] for nm, v in level.items()},
                "seq": int(seq[-1]),
                "cum": c[:, -1].copy() if flows else np.zeros(0),
            }
        self.last_ts = int(ts[-1])
        m = rows.shape[0]

        cols: dict[str, np.ndarray] = {}
        for nm in lay.names:
            if nm.startswith("_ofi_"):
                continue
            cols[nm] = out_level[nm]
        if "microprice" in self.groups and self.mp_valid_from is not None:
            bad = out_level["_ts_row"] < self.mp_valid_from
            if bad.any():
                for nm in ("microprice", "microprice_adj_ticks"):
                    cols[nm] = np.where(bad, np.nan, cols[nm])
        if "ofi" in self.groups:
            cols["ofi_l1"] = out_flow["_ofi_1"]
        if "mlofi" in self.groups:
            for k in range(1, lay.n_ofi + 1):
                cols[f"mlofi_l{k}"] = out_flow[f"_ofi_{k}"]
        if "trade_flow" in self.groups:
            for nm in TRADE_FLOW:
                cols[nm] = out_flow[nm]
            tot = out_flow["buy_volume"] + out_flow["sell_volume"]
            with np.errstate(invalid="ignore", divide="ignore"):
                cols["tfi"] = np.where(
                    tot > 0, out_flow["signed_volume"] / np.where(tot > 0, tot, 1.0), np.nan
                )
        for nm in (*_INTENSITY, *_QUEUE):
            if nm in out_level:
                cols[nm] = out_level[nm]
        if {"volatility", "kyle"} & self.groups:
            cl = np.empty((3, m))
            sv = out_flow.get("signed_volume", np.zeros(m))
            K.clocked_kernel(
                np.ascontiguousarray(out_level["mid"]),
                np.ascontiguousarray(sv),
                self.tick_f,
                self.cfg.vol_window_ticks,
                self.cfg.kyle_window_ticks,
                self.cl_state,
                self.ring_r,
                self.ring_dm,
                self.ring_v,
                cl,
            )
            if "volatility" in self.groups:
                cols[f"rv_w{self.cfg.vol_window_ticks}"] = cl[0]
                cols[f"bv_w{self.cfg.vol_window_ticks}"] = cl[1]
            if "kyle" in self.groups:
                cols[f"kyle_lambda_w{self.cfg.kyle_window_ticks}"] = cl[2]
        if "vpin" in self.groups:
            vp = np.empty(tr_idx.shape[0])
            if trades is not None and trades.height:
                K.vpin_kernel(
                    trades["price"].to_numpy() * 1e-9,
                    trades["size"].to_numpy() * self.size_unit,
                    trades["aggressor"].to_numpy().astype(np.int64),
                    float(self.cfg.vpin_bucket_volume),
                    self.cfg.vpin_n_buckets,
                    self.sigma_alpha,
                    self.vpin_state,
                    self.vpin_ring,
                    vp,
                )
            jt = np.searchsorted(tr_idx, rows, side="right") - 1
            cols["vpin"] = np.where(jt >= 0, vp[np.maximum(jt, 0)] if vp.size else np.nan, self.vpin_last)
            if vp.size:
                self.vpin_last = float(vp[-1])
        frame = pl.DataFrame(
            {
                "ts_event": np.asarray(stamps, dtype=np.int64),
                "seq": np.asarray(out_seq, dtype=np.int64),
                **{k: pl.Series(k, v, dtype=pl.Float64) for k, v in cols.items()},
            }
        )
        if self.plugins:
            snap_ext = (
                snaps
                if self.carry_snap is None
                else pl.concat([self.carry_snap, snaps], how="vertical_relaxed")
            )
            off = 0 if self.carry_snap is None else 1
            book = snap_ext.select([c for c in snap_ext.columns if c not in ("ts_event", "seq", "ts_recv")])[
                rows + off
            ]
            self.carry_snap = snaps[-1:]
            frame = pl.concat([frame, book], how="horizontal")
        return frame

    def _book(
        self, arrays: tuple[np.ndarray, ...], prev: np.ndarray, has_prev: int, *, levels: bool, ofi: bool
    ) -> tuple[np.ndarray, int]:
        """Run book_kernel on (L, n) level arrays: the level features, the OFI terms, or both."""
        lay = self.layout

        def g(o: int) -> int:
            return o if levels else -1

        out = np.empty((len(lay.names), arrays[0].shape[1]))
        hp = K.book_kernel(
            *arrays,
            prev,
            has_prev,
            self.tick_int,
            self.size_unit,
            out,
            g(lay.o_mid),
            g(lay.o_spread),
            g(lay.o_wmid),
            g(lay.o_mp),
            self.mp_table,
            g(lay.o_imb),
            lay.n_imb,
            lay.o_ofi if ofi else -1,
            lay.n_ofi,
            g(lay.o_sweep),
            self.sweep_q,
            self.sweep_col,
            self.cfg.sweep_unit == "notional",
            g(lay.o_depth),
            lay.n_depth,
            g(lay.o_shape),
            lay.n_shape,
        )
        return out, int(hp)

    def _cumsum(self, flows: dict[str, np.ndarray]) -> np.ndarray:
        base = self.carry["cum"] if (self.carry is not None and self.clock.kind != "event") else None
        arr = np.nan_to_num(np.vstack(list(flows.values())), nan=0.0)
        c = np.cumsum(arr, axis=1)
        if base is not None and base.size:
            c += base[:, None]
        return c


def _plugin_columns(
    frame: pl.DataFrame,
    plugins: list[str],
    instrument: Instrument,
    config: FeatureConfig,
    book_cols: list[str],
) -> pl.DataFrame:
    exprs: list[pl.Expr] = []
    for name in plugins:
        fn = FEATURES_REGISTRY.get(name)
        res = fn(frame, instrument, config)
        exprs.extend(res.values() if isinstance(res, dict) else res)
    frame = frame.with_columns(exprs)
    return frame.drop([c for c in book_cols if c in frame.columns])


def _check_sorted(df: pl.DataFrame, what: str) -> None:
    if df.height > 1 and not bool((df["seq"].diff().drop_nulls() >= 0).all()):
        raise SchemaError(f"{what}: rows are not in seq order (sort by seq first)")


def fit_microprice_window(
    snapshots: pl.DataFrame, instrument: Instrument, config: FeatureConfig
) -> tuple[MicropriceEstimator, int]:
    """Fit the micro-price on the first ``config.microprice_fit_window`` of ``snapshots``.

    Returns the estimator and the first ts (ns) at which its output may be used (end of the window).
    """
    t0 = int(snapshots["ts_event"][0])
    end = t0 + config.microprice_fit_window_ns
    train = snapshots.filter(pl.col("ts_event") < end)
    if train.height < 2:
        raise ConfigError(
            f"features: microprice_fit_window {config.microprice_fit_window} holds {train.height} book rows; need >= 2"
        )
    est = MicropriceEstimator(
        n_imbalance_buckets=config.microprice_imbalance_buckets,
        max_spread_ticks=config.microprice_max_spread_ticks,
        tick_int=instrument.tick_int,
    )
    return est.fit(train), end


def iter_chunks(
    snapshots: pl.DataFrame, trades: pl.DataFrame | None, deltas: pl.DataFrame | None, chunk_rows: int
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame | None, pl.DataFrame | None]]:
    """Split inputs into book-row chunks with the trades/deltas whose seq falls in each chunk's range."""
    n = snapshots.height
    seq = snapshots["seq"].to_numpy()
    tseq = trades["seq"].to_numpy() if trades is not None else None
    dseq = deltas["seq"].to_numpy() if deltas is not None else None
    t_lo = d_lo = 0
    for a in range(0, n, chunk_rows):
        b = min(a + chunk_rows, n)
        hi = seq[b - 1]
        tc = dc = None
        if trades is not None and tseq is not None:
            t_hi = int(np.searchsorted(tseq, hi, side="right"))
            tc = trades[t_lo:t_hi]
            t_lo = t_hi
        if deltas is not None and dseq is not None:
            d_hi = int(np.searchsorted(dseq, hi, side="right"))
            dc = deltas[d_lo:d_hi]
            d_lo = d_hi
        yield snapshots[a:b], tc, dc


def compute_features(
    snapshots: pl.DataFrame,
    trades: pl.DataFrame | None = None,
    deltas: pl.DataFrame | None = None,
    *,
    instrument: Instrument,
    config: FeatureConfig | None = None,
    microprice_model: MicropriceEstimator | None = None,
) -> pl.DataFrame:
    """The FEATURES table of one partition (see ``FEATURE_DOCS`` for every column).

    Parameters
    ----------
    snapshots : BOOK_SNAPSHOTS (mbp-N) rows in seq order, one per book update (or per sampled event).
    trades : TRADES in seq order; needed by trade_flow, vpin, kyle and the volume/trade clocks.
    deltas : BOOK_DELTAS in seq order; needed by intensity.
    instrument : tick size and size unit (prices and sizes become floats only here).
    config : which groups, clock and windows (default ``FeatureConfig()``).
    microprice_model : a fitted :class:`MicropriceEstimator`; when absent and ``microprice`` is
        selected, one is fitted on the first ``config.microprice_fit_window`` and the micro-price is
        NaN inside that window (no row uses a model fitted on its own future).

    Every value at a row uses book rows, trades and deltas with seq <= the row's seq only (time
    clock: rows with ts < the tick time), which the causality property test checks.
    """
    cfg = config or FeatureConfig()
    depth = snapshot_depth(snapshots)
    if depth == 0:
        raise SchemaError("features: snapshots have no bid_px_00 .. level columns")
    snapshots = validate(snapshots, book_snapshots(depth), where="features input", check_values=False)
    _check_sorted(snapshots, "book_snapshots")
    if trades is not None:
        trades = validate(trades, TRADES, where="features input", check_values=False)
        _check_sorted(trades, "trades")
    if deltas is not None:
        deltas = validate(deltas, BOOK_DELTAS, where="features input", check_values=False)
        _check_sorted(deltas, "book_deltas")
    valid_from = None
    if "microprice" in cfg.names and snapshots.height and microprice_model is None:
        microprice_model, valid_from = fit_microprice_window(snapshots, instrument, cfg)
    chunks = (
        iter_chunks(snapshots, trades, deltas, cfg.chunk_rows)
        if snapshots.height
        else iter([(snapshots, None, None)])
    )
    return compute_features_chunked(
        chunks,
        instrument=instrument,
        config=cfg,
        depth=depth,
        has_trades=trades is not None,
        has_deltas=deltas is not None,
        microprice_model=microprice_model,
        microprice_valid_from_ns=valid_from,
        book_columns=snapshots.columns,
    )


def compute_features_chunked(
    chunks: Iterable[tuple[pl.DataFrame, pl.DataFrame | None, pl.DataFrame | None]],
    *,
    instrument: Instrument,
    config: FeatureConfig,
    depth: int,
    has_trades: bool,
    has_deltas: bool,
    microprice_model: MicropriceEstimator | None = None,
    microprice_valid_from_ns: int | None = None,
    book_columns: list[str] | None = None,
) -> pl.DataFrame:
    """FEATURES from consecutive ``(snapshots, trades, deltas)`` chunks in seq order (see :func:`iter_chunks`).

    The streaming core of :func:`compute_features`: only one chunk of book rows is in memory at a time,
    so a caller reading a day from Parquet batch by batch keeps memory flat in the day's length. The
    result equals :func:`compute_features` on the whole partition (chunking never changes a value).
    ``microprice_model`` must be given (already fitted) when ``microprice`` is selected.
    """
    cfg = config
    table = None
    if "microprice" in cfg.names:
        if microprice_model is None:
            raise ConfigError("features: microprice needs a fitted model for chunked computation")
        microprice_model._check_fitted()
        table = microprice_model.table_
    eng = FeatureEngine(
        cfg,
        instrument,
        depth,
        microprice_table=table,
        microprice_valid_from_ns=microprice_valid_from_ns,
        has_trades=has_trades,
        has_deltas=has_deltas,
    )
    parts: list[pl.DataFrame] = []
    empty: pl.DataFrame | None = None
    for s, t, d in chunks:
        if empty is None:
            empty = s[:0]
        parts.append(eng.process(s, t, d))
    parts = (
        [p for p in parts if p.height]
        or [p for p in parts if p.width > 2][:1]
        or ([eng.process(empty)] if empty is not None else [])
    )
    if not parts:
        raise SchemaError("features: no book rows")
    frame = pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
    if eng.plugins:
        book_cols = [c for c in (book_columns or []) if c not in ("ts_event", "seq", "ts_recv")]
        frame = _plugin_columns(frame, eng.plugins, instrument, cfg, book_cols)
    return validate(frame, FEATURES, where="compute_features", check_values=False)


__all__ = [
    "FeatureEngine",
    "compute_features",
    "compute_features_chunked",
    "fit_microprice_window",
    "iter_chunks",
    "qty_label",
]
