"""Driving the kernel: chunked streaming over BOOK_DELTAS + TRADES with state carried between chunks.

Memory is bounded by the chunk size plus the outputs (orders, fills, equity rows), never by the length
of the stream: the kernel's output buffers are drained whenever it asks (``RC_FLUSH``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from orderflow.backtest import _layout as L
from orderflow.backtest._kernels import _h_insert, merge_by_seq, run_chunk
from orderflow.backtest.config import MM_DEFAULTS, TAKER_DEFAULTS, BacktestConfig
from orderflow.core.enums import UNDEF_PRICE, BookAction
from orderflow.core.errors import ConfigError, DataFormatError
from orderflow.core.instruments import Instrument
from orderflow.core.schema import BOOK_DELTAS, PREDICTIONS, REGIMES, TRADES, validate

STRATEGY_CODES = {
    "none": L.STRAT_NONE,
    "quantile_taker": L.STRAT_TAKER,
    "market_maker": L.STRAT_MM,
    "script": L.STRAT_SCRIPT,
}
SCRIPT_COLUMNS = ("t_local", "kind", "side", "order_type", "tif", "price", "size", "order_id")
"""Columns of a script (strategy ``script``): action rows replayed at their strategy-clock time."""


@dataclass
class EventChunk:
    """One chunk of the merged event stream (numpy columns, exchange order)."""

    ts: np.ndarray
    local: np.ndarray
    seq: np.ndarray
    kind: np.ndarray
    side: np.ndarray
    action: np.ndarray
    price: np.ndarray
    size: np.ndarray
    oid: np.ndarray
    last: np.ndarray

    def __len__(self) -> int:
        return int(self.ts.shape[0])


@dataclass
class RawOutputs:
    orders: list[np.ndarray] = field(default_factory=list)
    fills_i: list[np.ndarray] = field(default_factory=list)
    fills_f: list[np.ndarray] = field(default_factory=list)
    eq_t: list[np.ndarray] = field(default_factory=list)
    eq_f: list[np.ndarray] = field(default_factory=list)
    markouts: list[np.ndarray] = field(default_factory=list)


def _rehash(si: np.ndarray, fifo: np.ndarray, keys: np.ndarray, ctr: np.ndarray, rem: np.ndarray) -> None:
    for k in range(keys.shape[0]):
        _h_insert(si, fifo, int(keys[k]), int(ctr[k]), int(rem[k]))


def _pow2(n: int) -> int:
    return 1 << max(int(n) - 1, 1).bit_length()


def _units_to_size(x: float, size_unit: Decimal) -> int:
    return round(Decimal(str(x)) / size_unit)


class BacktestEngine:
    """Incremental replay: call :meth:`feed` with consecutive chunks, then :meth:`finish`.

    Parameters
    ----------
    instrument
        Tick size, size unit and multiplier of the traded instrument.
    config
        The :class:`BacktestConfig`.
    predictions
        PREDICTIONS table (sorted by ``seq``) with the two columns named in
        ``config.strategy.prediction_columns`` (quantile taker only).
    script
        For ``strategy.name == "script"``: an int64 array with columns :data:`SCRIPT_COLUMNS`
        (strategy-clock time, action kind 1 submit / 2 cancel / 3 modify, side, order type, tif,
        price, size, target order id) sorted by time.
    """

    def __init__(
        self,
        instrument: Instrument,
        config: BacktestConfig,
        *,
        predictions: pl.DataFrame | None = None,
        script: np.ndarray | None = None,
        regimes: pl.DataFrame | None = None,
    ) -> None:
        self.instrument = instrument
        self._reg_ts = np.zeros(0, np.int64)
        self._reg_v = np.zeros(0, np.int64)
        if regimes is not None:
            r = validate(regimes, REGIMES, where="backtest regimes").sort("ts_event")
            self._reg_ts = r["ts_event"].to_numpy().astype(np.int64)
            self._reg_v = r["regime"].to_numpy().astype(np.int64)
        self.config = config
        ex = config.execution
        self.size_unit = Decimal(instrument.size_unit)
        self.tick = instrument.tick_int
        self.out = RawOutputs()
        self.events = 0
        self.chunks = 0
        self.ts_fixed = 0  # rows whose ts_event went backwards (clamped to the running max)
        self.recv_fixed = 0  # rows with ts_recv < ts_event in measured mode (latency clamped to 0)
        self._last_local = np.iinfo(np.int64).min
        self._last_ts = np.iinfo(np.int64).min
        self._last_seq = np.iinfo(np.int64).min
        self._rate_tail = np.empty(0, np.int64)
        self._finished = False
        self._trade_src: int | None = {"trades": 0, "executes": 1}.get(config.trade_source)
        if ex.queue == "fifo":
            self._trade_src = 1
        self._rng = np.random.default_rng(
            config.feed_latency_distribution.seed if config.feed_latency_distribution else 0
        )

        ci = np.zeros(L.N_CI, np.int64)
        ci[L.C_NT] = config.book_ticks
        ci[L.C_TICK] = self.tick
        ci[L.C_SUBMIT_NS] = ex.latency.submit_ns
        ci[L.C_CANCEL_NS] = ex.latency.cancel_ns
        ci[L.C_MODIFY_NS] = ex.latency.modify_ns
        ci[L.C_RESP_NS] = ex.latency.response_ns
        ci[L.C_QUEUE] = {"conservative": 0, "probabilistic": 1, "fifo": 2}[ex.queue]
        ci[L.C_QFAMILY] = 0 if config.queue_family == "power" else 1
        ci[L.C_TRADE_SRC] = self._trade_src if self._trade_src is not None else 0
        ci[L.C_WAKE_NS] = config.wake_interval_ns
        ci[L.C_EVERY_EVENT] = int(config.every_event)
        ci[L.C_STRAT] = STRATEGY_CODES[config.strategy.name]
        ci[L.C_MAX_POS] = _units_to_size(config.limits.max_position, self.size_unit)
        ci[L.C_MAX_RATE] = config.limits.max_orders_per_s
        ci[L.C_EQ_NS] = config.equity_interval_ns
        ci[L.C_NHOR] = len(config.markout_horizons_ns)
        for h, v in enumerate(config.markout_horizons_ns):
            ci[L.C_HOR + h] = v
        ci[L.C_FILL_MODEL] = 0 if config.fill_model == "book" else 1
        ci[L.C_FLATTEN] = int(config.flatten_at_end)
        self.ci = ci
        cf = np.zeros(L.N_CF, np.float64)
        cf[L.CF_MAKER_BPS] = ex.fees.maker_bps
        cf[L.CF_TAKER_BPS] = ex.fees.taker_bps
        cf[L.CF_MAKER_PU] = ex.fees.maker_per_unit
        cf[L.CF_TAKER_PU] = ex.fees.taker_per_unit
        cf[L.CF_MIN_FEE] = ex.fees.min_fee
        cf[L.CF_SIZE_UNIT] = float(self.size_unit)
        cf[L.CF_MULT] = float(Decimal(instrument.multiplier))
        cf[L.CF_QPOW] = ex.queue_power
        cf[L.CF_MAX_NOTIONAL] = config.limits.max_notional
        self.cf = cf

        si = np.zeros(L.N_SI, np.int64)
        si[L.S_BB] = -1
        si[L.S_BA] = config.book_ticks
        si[L.S_NEXT_OID] = 1
        si[L.S_REQ_MIN] = L.INF
        si[L.S_RB_BID_MAX] = si[L.S_RB_ASK_MAX] = -L.BIG
        si[L.S_RB_BID_MIN] = si[L.S_RB_ASK_MIN] = L.BIG
        for k in (L.V_BID_PX, L.V_ASK_PX, L.V_TRADE_PX):
            si[k] = UNDEF_PRICE
        maxo = config.limits.max_live_orders
        si[L.S_NFREE] = maxo
        self.si = si
        self.sf = np.zeros(L.N_SF, np.float64)
        self.book = np.zeros((L.N_B, config.book_ticks), np.int64)
        self.oi = np.zeros((maxo, L.N_O), np.int64)
        self.of = np.zeros((maxo, L.N_OF), np.float64)
        self.rest = np.zeros(maxo, np.int64)
        self.free = np.arange(maxo - 1, -1, -1, dtype=np.int64)
        self.scratch = np.zeros(maxo, np.int64)
        self.req = np.zeros((4 * maxo, L.N_RQ), np.int64)
        self.resp = np.zeros((_pow2(64 * maxo), L.N_RS), np.int64)
        self.ring = np.zeros((1 << 12, L.N_FR), np.int64)
        self.rate = np.full(max(config.limits.max_orders_per_s, 1), -(2**62), np.int64)
        self.mk_t = np.zeros((8, 1 << 12), np.int64)
        self.mk_g = np.zeros((8, 1 << 12), np.int64)
        self.out_o = np.zeros((1 << 14, L.OO_N), np.int64)
        self.out_fi = np.zeros((1 << 14, L.OFI_N), np.int64)
        self.out_ff = np.zeros((1 << 14, L.OFF_N), np.float64)
        self.out_et = np.zeros(1 << 14, np.int64)
        self.out_ef = np.zeros((1 << 14, L.OE_N), np.float64)
        self.out_m = np.zeros((1 << 14, L.OM_N), np.float64)
        self.act = np.zeros((L.MAX_ACTIONS, L.N_AC), np.int64)
        self.sstate = np.zeros(16, np.float64)
        self.params = self._strategy_params()
        self.script = self._script(script)
        self._setup_predictions(predictions)
        self.fifo = np.zeros((3, 1 << 12), np.int64)  # order-id hash table (FIFO queue model)

    # -- setup ------------------------------------------------------------------------------------------
    def _strategy_params(self) -> np.ndarray:
        sc = self.config.strategy
        su = self.size_unit
        osz_default = self.config.execution.order_size
        if self.config.execution.size_kind == "notional" and sc.name in ("quantile_taker", "market_maker"):
            raise ConfigError(
                "backtest: execution.size_kind = 'notional' is not supported by the built-in strategies; "
                "give order_size in instrument units"
            )
        if sc.name == "quantile_taker":
            p = {**TAKER_DEFAULTS, **sc.params}
            osz = p["order_size"] or osz_default
            mx = p["max_position"] or osz
            out = np.zeros(8, np.float64)
            out[0] = p["long_entry"]
            out[1] = p["long_exit"]
            out[2] = p["short_entry"]
            out[3] = p["short_exit"]
            out[4] = _units_to_size(mx, su)
            out[5] = _units_to_size(osz, su)
            out[6] = p["ioc_slip_ticks"]
            out[7] = p["max_prediction_age_ns"]
            return out
        if sc.name == "market_maker":
            p = {**MM_DEFAULTS, **sc.params}
            osz = p["order_size"] or osz_default
            mx = p["max_position"] or 5 * osz
            out = np.zeros(6, np.float64)
            out[0] = p["half_spread_ticks"]
            out[1] = p["skew_ticks"]
            out[2] = _units_to_size(osz, su)
            out[3] = _units_to_size(mx, su)
            out[4] = p["requote_ticks"]
            out[5] = p["use_modify"]
            return out
        return np.zeros(1, np.float64)

    def _script(self, script: np.ndarray | None) -> np.ndarray:
        if self.config.strategy.name != "script":
            if script is not None:
                raise ConfigError("backtest: a script was given but strategy.name is not 'script'")
            return np.zeros((0, 8), np.int64)
        if script is None:
            raise ConfigError("backtest: strategy 'script' needs a script (rows of SCRIPT_COLUMNS)")
        s = np.ascontiguousarray(np.asarray(script, dtype=np.int64))
        if s.ndim != 2 or s.shape[1] != 8:
            raise ConfigError(f"backtest: script must have 8 columns {SCRIPT_COLUMNS}, got shape {s.shape}")
        if s.shape[0] and np.any(np.diff(s[:, 0]) < 0):
            raise ConfigError("backtest: script rows must be sorted by t_local")
        return s

    def _setup_predictions(self, predictions: pl.DataFrame | None) -> None:
        cols = self.config.strategy.prediction_columns
        if predictions is None:
            if self.config.strategy.name == "quantile_taker":
                raise ConfigError("backtest: strategy 'quantile_taker' needs predictions (PREDICTIONS table)")
            self.pred_seq = np.zeros(0, np.int64)
            self.pred_ts = np.zeros(0, np.int64)
            self.pred_t = np.zeros(0, np.int64)
            self.pred_v = np.zeros((0, 2), np.float64)
        else:
            predictions = validate(predictions, PREDICTIONS, where="backtest predictions")
            for c in cols:
                if c not in predictions.columns:
                    raise ConfigError(
                        f"backtest: prediction column '{c}' not in PREDICTIONS (have: {', '.join(predictions.columns)})"
                    )
            seq = predictions["seq"].to_numpy().astype(np.int64)
            if seq.size and np.any(np.diff(seq) < 0):
                raise DataFormatError("predictions are not sorted by seq", field="seq")
            self.pred_seq = seq
            self.pred_ts = predictions["ts_event"].to_numpy().astype(np.int64)
            self.pred_t = np.full(seq.shape[0], L.INF, np.int64)
            self.pred_v = np.ascontiguousarray(
                predictions.select([pl.col(c).cast(pl.Float64) for c in cols]).to_numpy(), dtype=np.float64
            )
        self.cur_pred = np.full(1 + self.pred_v.shape[1], np.nan)
        self.cur_pred[0] = -1.0
        self._pred_lo = 0  # predictions before this index have an availability time

    # -- chunks ---------------------------------------------------------------------------------------
    def prepare(self, deltas: pl.DataFrame, trades: pl.DataFrame, *, check: bool = True) -> EventChunk:
        """Validate and merge one chunk of BOOK_DELTAS and TRADES (``seq``-contiguous) into events."""
        if check:
            deltas = validate(deltas, BOOK_DELTAS, where="backtest book_deltas")
            trades = validate(trades, TRADES, where="backtest trades")
        d_seq = deltas["seq"].to_numpy().astype(np.int64)
        t_seq = trades["seq"].to_numpy().astype(np.int64)
        for name, s in (("book_deltas", d_seq), ("trades", t_seq)):
            if s.size and np.any(np.diff(s) < 0):
                bad = int(np.argmax(np.diff(s) < 0)) + 1
                raise DataFormatError(f"{name} rows are not sorted by seq", line=bad, field="seq")
        d_px = deltas["price"].to_numpy().astype(np.int64)
        d_act = deltas["action"].to_numpy().astype(np.int64)
        if check and d_px.size:
            real = (d_act != int(BookAction.CLEAR)) & (d_px != UNDEF_PRICE)
            off = real & (d_px % self.tick != 0)
            if off.any():
                bad = int(np.argmax(off))
                raise DataFormatError(
                    f"price {d_px[bad]} is not a multiple of the instrument tick ({self.tick} in 1e-9 units); "
                    "fix the instrument's tick_size",
                    line=bad,
                    field="price",
                )
        if self._trade_src is None:
            self._trade_src = 1 if (d_act == int(BookAction.EXECUTE)).any() else 0
            self.ci[L.C_TRADE_SRC] = self._trade_src
        if (
            self.config.execution.queue == "fifo"
            and self.chunks == 0
            and d_seq.size
            and not (deltas["order_id"] != 0).any()
        ):
            raise ConfigError("backtest: queue = 'fifo' needs order-level data (order_id in BOOK_DELTAS)")
        src, _row = merge_by_seq(d_seq, t_seq)
        n = src.shape[0]
        isd = src == 0
        ist = ~isd

        def col(dname: str, tname: str, dtype: Any) -> np.ndarray:
            out = np.empty(n, dtype)
            out[isd] = deltas[dname].to_numpy().astype(dtype)
            out[ist] = trades[tname].to_numpy().astype(dtype)
            return out

        ts = col("ts_event", "ts_event", np.int64)
        recv = col("ts_recv", "ts_recv", np.int64)
        seq = col("seq", "seq", np.int64)
        side = col("side", "aggressor", np.int64)
        action = col("action", "kind", np.int64)
        price = np.empty(n, np.int64)
        price[isd] = d_px
        price[ist] = trades["price"].to_numpy().astype(np.int64)
        size = col("size", "size", np.int64)
        oid = np.empty(n, np.int64)
        oid[isd] = deltas["order_id"].to_numpy().view(np.int64) if deltas.height else np.zeros(0, np.int64)
        oid[ist] = 0
        kind = ist.astype(np.int64)
        if n and np.any(seq[1:] < seq[:-1]):
            raise DataFormatError("merged stream is not sorted by seq", field="seq")
        if n and seq[0] <= self._last_seq:
            raise DataFormatError(
                f"chunk starts at seq {seq[0]} but the previous chunk ended at seq {self._last_seq}; "
                "chunks must be consecutive and split between venue messages",
                field="seq",
            )
        # the exchange clock never runs backwards
        mono = np.maximum.accumulate(np.concatenate(([self._last_ts], ts)))[1:] if n else ts
        self.ts_fixed += int(np.count_nonzero(mono != ts))
        ts = mono
        local = self._local_times(ts, recv)
        last = np.ones(n, np.int64)
        if n > 1:
            last[:-1] = (seq[1:] != seq[:-1]).astype(np.int64)
        if n:
            self._last_ts = int(ts[-1])
            self._last_seq = int(seq[-1])
            self._last_local = int(local[-1])
        return EventChunk(ts, local, seq, kind, side, action, price, size, oid, last)

    def _local_times(self, ts: np.ndarray, recv: np.ndarray) -> np.ndarray:
        lat = self.config.execution.latency
        if lat.mode == "measured":
            d = recv - ts
            self.recv_fixed += int(np.count_nonzero(d < 0))
            local = ts + np.maximum(d, 0) + lat.feed_ns
        else:
            local = ts + lat.feed_ns
        dist = self.config.feed_latency_distribution
        if dist is not None and ts.size:
            med = np.full(ts.shape[0], float(dist.median_ns))
            if dist.rate_ref_per_s > 0:
                allts = np.concatenate((self._rate_tail, ts))
                lo = np.searchsorted(allts, allts - dist.rate_window_ns, side="left")
                cnt = (np.arange(allts.shape[0]) - lo + 1)[self._rate_tail.shape[0] :]
                rate = cnt / (dist.rate_window_ns * 1e-9)
                med *= 1.0 + rate / dist.rate_ref_per_s
                keep = allts[allts > ts[-1] - dist.rate_window_ns]
                self._rate_tail = keep
            if dist.regime_multipliers and self._reg_ts.size:
                k = np.searchsorted(self._reg_ts, ts, side="right") - 1
                reg = np.where(k >= 0, self._reg_v[np.clip(k, 0, None)], -1)
                mult = np.asarray(dist.regime_multipliers, dtype=np.float64)
                ok = (reg >= 0) & (reg < mult.size)
                med = med * np.where(ok, mult[np.clip(reg, 0, mult.size - 1)], 1.0)
            local = local + (med * np.exp(dist.sigma * self._rng.standard_normal(ts.shape[0]))).astype(
                np.int64
            )
        if local.size:
            local = np.maximum.accumulate(np.concatenate(([self._last_local], local)))[1:]
        return local

    def _update_predictions(self, ev: EventChunk) -> None:
        if self.pred_seq.size == 0 or len(ev) == 0:
            return
        hi = int(np.searchsorted(self.pred_seq, ev.seq[-1], side="right"))
        lo = self._pred_lo
        if hi <= lo:
            return
        ps = self.pred_seq[lo:hi]
        pos = np.searchsorted(ev.seq, ps, side="right") - 1
        avail = np.where(pos >= 0, ev.local[np.clip(pos, 0, None)], self.pred_ts[lo:hi])
        avail = avail + self.config.strategy.prediction_delay_ns
        prev = self.pred_t[lo - 1] if lo > 0 else np.iinfo(np.int64).min
        self.pred_t[lo:hi] = np.maximum.accumulate(np.concatenate(([prev], avail)))[1:]
        self._pred_lo = hi

    def feed(self, deltas: pl.DataFrame, trades: pl.DataFrame, *, final: bool = False) -> None:
        """Replay one chunk (validated, merged by ``seq``); ``final`` ends the stream."""
        self.feed_events(self.prepare(deltas, trades), final=final)

    def feed_events(self, ev: EventChunk, *, final: bool = False) -> None:
        """Replay one prepared chunk of events (see :meth:`prepare`)."""
        if self._finished:
            raise RuntimeError("backtest already finished")
        self._update_predictions(ev)
        i = 0
        while True:
            i, rc = run_chunk(
                ev.ts, ev.local, ev.seq, ev.kind, ev.side, ev.action, ev.price, ev.size, ev.oid, ev.last, i, final,
                self.ci, self.cf, self.si, self.sf, self.book, self.oi, self.of, self.rest, self.free, self.scratch,
                self.req, self.resp, self.ring, self.rate, self.mk_t, self.mk_g,
                self.out_o, self.out_fi, self.out_ff, self.out_et, self.out_ef, self.out_m,
                self.pred_t, self.pred_v, self.cur_pred, self.params, self.sstate, self.script, self.act,
                self.fifo,
            )  # fmt: skip
            if rc == L.RC_NEED_DATA:
                break
            if rc == L.RC_FLUSH:
                self._flush()
            elif rc == L.RC_GROW_RING:
                self.ring = self._grow_ring(self.ring, self.si[L.S_RING_H], self.si[L.S_RING_T])
            elif rc == L.RC_GROW_RESP:
                self.resp = self._grow_ring(self.resp, self.si[L.S_RESP_H], self.si[L.S_RESP_T])
            elif rc == L.RC_GROW_MK:
                self._grow_markouts()
            elif rc == L.RC_GROW_FIFO:
                self._grow_fifo()
            elif rc == L.RC_FINISHED:
                self._flush()
                self._finished = True
                break
        self.events += len(ev)
        self.chunks += 1

    @staticmethod
    def _grow_ring(ring: np.ndarray, head: int, tail: int) -> np.ndarray:
        old_mask = ring.shape[0] - 1
        new = np.zeros((ring.shape[0] * 2, ring.shape[1]), ring.dtype)
        new_mask = new.shape[0] - 1
        for c in range(int(head), int(tail)):
            new[c & new_mask] = ring[c & old_mask]
        return new

    def _grow_markouts(self) -> None:
        cap = self.mk_t.shape[1]
        nt = np.zeros((8, cap * 2), np.int64)
        ng = np.zeros((8, cap * 2), np.int64)
        for h in range(8):
            for c in range(int(self.si[L.S_MKH + h]), int(self.si[L.S_MKT + h])):
                nt[h, c & (2 * cap - 1)] = self.mk_t[h, c & (cap - 1)]
                ng[h, c & (2 * cap - 1)] = self.mk_g[h, c & (cap - 1)]
        self.mk_t, self.mk_g = nt, ng

    def _grow_fifo(self) -> None:
        old = self.fifo
        live = old[L.H_KEY] > 0
        live |= old[L.H_KEY] < -1  # ids above 2**63 are negative as int64; -1 marks a deleted slot
        keys, ctr, rem = old[L.H_KEY, live], old[L.H_CTR, live], old[L.H_REM, live]
        cap = old.shape[1]
        while keys.size * 4 >= cap:
            cap *= 2
        self.fifo = np.zeros((3, cap), np.int64)
        self.si[L.S_FIFO_USED] = 0
        _rehash(self.si, self.fifo, keys, ctr, rem)

    def _flush(self) -> None:
        si = self.si
        o = self.out
        for n_key, bufs, dest in (
            (L.S_NO, (self.out_o,), (o.orders,)),
            (L.S_NF, (self.out_fi, self.out_ff), (o.fills_i, o.fills_f)),
            (L.S_NE, (self.out_et, self.out_ef), (o.eq_t, o.eq_f)),
            (L.S_NM, (self.out_m,), (o.markouts,)),
        ):
            n = int(si[n_key])
            if n:
                for b, d in zip(bufs, dest, strict=True):
                    d.append(b[:n].copy())
                si[n_key] = 0

    def finish(self, *, regimes: pl.DataFrame | None = None) -> Any:
        """End the stream (if the last chunk was not fed with ``final=True``) and build the result."""
        if not self._finished:
            empty = EventChunk(*(np.zeros(0, np.int64) for _ in range(10)))
            self.feed_events(empty, final=True)
        from orderflow.backtest.results import build_result

        return build_result(self, regimes=regimes)


def iter_chunks(
    deltas: pl.DataFrame | pl.LazyFrame, trades: pl.DataFrame | pl.LazyFrame, chunk_events: int
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame, bool]]:
    """Split the two tables into ``seq``-aligned chunks of about ``chunk_events`` delta rows.

    A chunk never splits the rows of one venue message (same ``seq``); trades go with the chunk whose
    seq range holds them; trades after the last delta go with the last chunk.
    """
    # only the seq columns are materialised up front (8 bytes a row); rows are read chunk by chunk
    d_seq = (deltas.select("seq").collect() if isinstance(deltas, pl.LazyFrame) else deltas.select("seq"))[
        "seq"
    ]
    t_seq = (trades.select("seq").collect() if isinstance(trades, pl.LazyFrame) else trades.select("seq"))[
        "seq"
    ]
    d_np = d_seq.to_numpy()
    t_np = t_seq.to_numpy()

    def take(frame: pl.DataFrame | pl.LazyFrame, off: int, length: int) -> pl.DataFrame:
        part = frame.slice(off, length)
        return part.collect() if isinstance(part, pl.LazyFrame) else part

    n = d_np.shape[0]
    if n == 0:
        yield take(deltas, 0, 0), take(trades, 0, t_np.shape[0]), True
        return
    off = 0
    t_off = 0
    while off < n:
        end = min(off + chunk_events, n)
        end = int(np.searchsorted(d_np, d_np[end - 1], side="right"))
        final = end >= n
        t_end = t_np.shape[0] if final else int(np.searchsorted(t_np, d_np[end - 1], side="right"))
        yield take(deltas, off, end - off), take(trades, t_off, t_end - t_off), final
        off = end
        t_off = t_end


def run_backtest(
    deltas: pl.DataFrame | pl.LazyFrame,
    trades: pl.DataFrame | pl.LazyFrame,
    *,
    instrument: Instrument,
    config: BacktestConfig,
    predictions: pl.DataFrame | None = None,
    regimes: pl.DataFrame | None = None,
    script: np.ndarray | None = None,
    chunks: Iterable[tuple[pl.DataFrame, pl.DataFrame, bool]] | None = None,
) -> Any:
    """Replay BOOK_DELTAS + TRADES (merged by ``seq``) through the execution-aware backtest.

    Returns a :class:`~orderflow.backtest.results.BacktestResult` (ORDERS, FILLS, EQUITY tables, a
    detailed fills frame with markouts and regimes, and a summary dict). ``chunks`` (an iterable of
    ``(deltas, trades, is_last)``) overrides the splitting of the two tables, e.g. to stream from disk.
    """
    eng = BacktestEngine(instrument, config, predictions=predictions, script=script, regimes=regimes)
    parts = chunks if chunks is not None else iter_chunks(deltas, trades, config.chunk_events)
    for d, t, final in parts:
        eng.feed(d, t, final=final)
    return eng.finish(regimes=regimes)


__all__ = ["SCRIPT_COLUMNS", "BacktestEngine", "EventChunk", "iter_chunks", "run_backtest"]
