"""The embedded market simulator: a regime-switching queue-reactive limit order book.

Why: every stage of the pipeline needs data with a known truth. The simulator produces canonical
BOOK_DELTAS/TRADES for several instruments and days, plus the ground truth the later stages are scored
against: the hidden regime (SIM_REGIMES) and every injected feed artifact (SIM_ARTIFACTS).

Model (per instrument and day)
------------------------------
* A window of ``levels`` price levels per side relative to the best bid/ask. Limit orders, cancels
  and market orders arrive in the spirit of the queue-reactive model (Huang, Lehalle & Rosenbaum 2015)
  and of Cont, Stoikov & Talreja (2010): the event type is drawn with weights that depend on the book
  -- limit orders at distance k from the touch with weight ``limit_rate * exp(-k / limit_decay)``
  (normalised over the window), orders inside the spread with weight ``inspread_rate`` per empty tick
  (split between the sides in proportion to their squared touch queues: the deeper side improves),
  cancels with weight ``cancel_rate`` per resting order (queue size / ``order_size_mean``) so the cancel
  rate is proportional to queue size, and market orders with weight
  ``market_rate * (1 + market_sensitivity * exp(-q_opp / queue_ref))``, higher when the queue they hit
  is small. Hence the smaller touch queue tends to deplete first: queue imbalance predicts the next
  mid move, the microprice forecasts the mid better than the mid, and order-flow imbalance moves prices.
* When a touch queue empties, the price moves to the next occupied level and the newly revealed levels
  are drawn from the regime's depth distribution (geometric sizes with mean ``depth_mean`` lots, empty
  with probability ``hole_prob``). Levels leaving the window are deleted from the feed.
* A hidden continuous-time Markov chain switches regimes; spells are exponential with mean
  ``mean_duration_s`` seconds and the next regime is drawn from ``transition`` (default: uniform over
  the others). Genuine events arrive as a Poisson process whose rate is the regime's ``intensity``
  times a base rate chosen so that the expected count per day is ``events_per_day``. The default
  regimes are 0 = calm/liquid (deep, tight spread, slow) and 1 = volatile/thin (3x the intensity,
  thin and holey depth, wide spread, aggressive flow).
* Timestamps are int64 ns UTC within the session ``session_start``-``session_end`` (default
  09:30-16:00 America/New_York) of each business day. A day ends at the session close or after
  ``events_per_day`` genuine events, whichever comes first (so a day has at most that many events).

Feed (MBP-style, absolute updates)
----------------------------------
Seq 0 is a snapshot message (``Flags.SNAPSHOT``) with one SET row per occupied level. Every later
venue message is one ``seq``: SET rows (new level size; 0 deletes the level) with ``Flags.LAST`` on
its last row. A market order is one message: one TRADES row per price level it takes (aggressor
known) plus the SET rows of the levels it hit. ``order_id`` is 0 (price-level feed); ``ts_recv`` is
``ts_event + recv_latency_ns``. Replaying the deltas of a clean day reproduces the simulator's book
exactly; the book never locks or crosses.

Injected artifacts (each row labelled in SIM_ARTIFACTS, one label row per (seq, table))
----------------------------------------------------------------------------------------
* ``stale_quote``: one side's updates are withheld for ``stale_min_ms`` plus an exponential spell
  (mean ``stale_mean_ms``) and at least until the other side published ``stale_min_other`` messages;
  the spell ends early if the other side would otherwise lock/cross the stale quote (then it may be
  short); then one catch-up message
  brings the side back in line. The catch-up message is the labelled artifact (withheld rows simply
  never appear; trades keep printing).
* ``crossed`` / ``locked``: a glitch message sets a level on one side at a price that crosses
  (beyond) or locks (equal to) the opposite best. Exactly the glitch message is labelled
  ``crossed``/``locked``: after it, and only after it, the replayed book is crossed/locked. The next
  message (``glitch_us`` later, before the next genuine event) deletes the level again and is
  labelled ``glitch_clear``.
* ``burst``: ``2 * burst_pairs`` messages ``burst_spacing_ns`` apart that flicker one existing level
  (SET q + s, SET q, ...) -- add/cancel at the same price and size; all labelled ``burst``.
* ``duplicate``: an exact repeat of a genuine message's rows (deltas and trades), same ``ts_event``,
  the next seq; labelled ``duplicate`` in each table it has rows in.

Score filters per kind over ``stale_quote, crossed, locked, burst, duplicate``; ``glitch_clear`` rows
are injected too (dropping them is harmless: they only undo a glitch). Default rates per genuine
event: duplicate 2e-4, crossed/locked/burst 5e-5 each, stale_quote 2e-5 (``ArtifactConfig.clean()``
turns all off). Instruments: ``SIM<k>`` takes variant k mod 4 of :data:`_VARIANTS` (SIM0 = the base
tick/price; SIM1 5x tick and 2.5x price; SIM2 futures-like 25x tick, ~45x price, single-lot sizes;
SIM3 low-priced and deep); other symbols pick a variant from a hash of the symbol.

Artifact draws use their own random stream: turning artifacts on or off never changes the true book
or the genuine events, only what is published and the seq numbering.

Determinism: the streams are seeded from (seed, symbol, date) only, so one (instrument, date) is
byte-identical whichever other instruments and days are requested, and whatever ``chunk_events``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orderflow.core.enums import Flags
from orderflow.core.instruments import Instrument
from orderflow.core.io import Dataset
from orderflow.core.schema import BOOK_DELTAS, SIM_ARTIFACTS, SIM_REGIMES, TRADES, validate
from orderflow.core.time import NS_PER_S
from orderflow.ingest import _sim_kernels as K

MODEL_VERSION = "qr-1"
ARTIFACT_KINDS = ("stale_quote", "crossed", "locked", "burst", "duplicate", "glitch_clear")
"""Label kinds in SIM_ARTIFACTS, indexed by the kernel's ``K_*`` codes."""
_TABLES = ("book_deltas", "trades")


class RegimeParams(BaseModel):
    """One hidden regime of the simulator (rates are relative weights; see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "calm"
    intensity: float = Field(1.0, gt=0, description="relative event intensity (events/s scale)")
    mean_duration_s: float = Field(600.0, gt=0, description="mean spell length, seconds")
    limit_rate: float = Field(1.0, ge=0, description="limit-order weight per side over the window")
    limit_decay: float = Field(3.0, gt=0, description="placement profile exp(-k/decay), levels")
    inspread_rate: float = Field(1.0, ge=0, description="in-spread order weight per empty tick per side")
    cancel_rate: float = Field(0.3, ge=0, description="cancel weight per resting order")
    market_rate: float = Field(0.15, ge=0, description="market-order weight per side")
    market_sensitivity: float = Field(
        4.0, ge=0, description="extra market-order weight when the hit queue is small"
    )
    queue_ref: float = Field(3.0, gt=0, description="queue size scale of that sensitivity, lots")
    order_size_mean: float = Field(3.0, ge=1, description="mean limit/cancel size, lots")
    market_size_mean: float = Field(2.0, ge=1, description="mean market-order size, lots")
    depth_mean: float = Field(10.0, ge=1, description="mean size of a revealed level, lots")
    hole_prob: float = Field(0.02, ge=0, lt=1, description="probability a revealed level is empty")

    def vector(self) -> list[float]:
        v = [0.0] * K.P_LEN
        v[K.P_RATE] = self.intensity
        v[K.P_MEAN_DUR] = self.mean_duration_s
        v[K.P_LIMIT] = self.limit_rate
        v[K.P_DECAY] = self.limit_decay
        v[K.P_INSPREAD] = self.inspread_rate
        v[K.P_CANCEL] = self.cancel_rate
        v[K.P_MARKET] = self.market_rate
        v[K.P_MKT_SENS] = self.market_sensitivity
        v[K.P_QREF] = self.queue_ref
        v[K.P_SIZE] = self.order_size_mean
        v[K.P_MSIZE] = self.market_size_mean
        v[K.P_DEPTH] = self.depth_mean
        v[K.P_HOLE] = self.hole_prob
        return v


CALM = RegimeParams()
VOLATILE = RegimeParams(
    name="volatile",
    intensity=3.0,
    mean_duration_s=240.0,
    limit_rate=1.0,
    limit_decay=2.0,
    inspread_rate=1.5,
    cancel_rate=0.4,
    market_rate=0.35,
    market_sensitivity=8.0,
    queue_ref=1.0,
    order_size_mean=1.5,
    market_size_mean=1.5,
    depth_mean=2.5,
    hole_prob=0.1,
)


class ArtifactConfig(BaseModel):
    """Rates of injected feed artifacts, per genuine event (all zero: a clean stream)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stale_quote: float = Field(2e-5, ge=0, le=1)
    crossed: float = Field(5e-5, ge=0, le=1)
    locked: float = Field(5e-5, ge=0, le=1)
    burst: float = Field(5e-5, ge=0, le=1)
    duplicate: float = Field(2e-4, ge=0, le=1)
    stale_min_ms: float = Field(1000.0, ge=0, description="minimum stale spell, ms")
    stale_mean_ms: float = Field(
        5000.0, gt=0, description="mean stale spell beyond the minimum, ms (exponential)"
    )
    stale_min_other: int = Field(
        20, ge=0, description="a stale spell also lasts until the other side published this many messages"
    )
    glitch_us: float = Field(200.0, ge=0, description="lifetime of a crossed/locked glitch, us")
    burst_pairs: int = Field(10, ge=1, le=1000, description="add/cancel flicker pairs per burst")
    burst_spacing_ns: int = Field(500, ge=0, description="time between burst messages, ns")

    @model_validator(mode="after")
    def _check(self) -> ArtifactConfig:
        if self.stale_quote + self.crossed + self.locked + self.burst > 1:
            raise ValueError("stale_quote + crossed + locked + burst must be <= 1 (probabilities per event)")
        return self

    @classmethod
    def clean(cls) -> ArtifactConfig:
        """No artifacts at all."""
        return cls(stale_quote=0.0, crossed=0.0, locked=0.0, burst=0.0, duplicate=0.0)

    def vector(self) -> np.ndarray:
        a = np.zeros(K.A_LEN)
        a[K.A_STALE] = self.stale_quote
        a[K.A_CROSSED] = self.crossed
        a[K.A_LOCKED] = self.locked
        a[K.A_BURST] = self.burst
        a[K.A_DUP] = self.duplicate
        a[K.A_STALE_NS] = self.stale_mean_ms * 1e6
        a[K.A_STALE_MIN_NS] = self.stale_min_ms * 1e6
        a[K.A_STALE_MIN_OTHER] = self.stale_min_other
        a[K.A_GLITCH_NS] = self.glitch_us * 1e3
        a[K.A_BURST_PAIRS] = self.burst_pairs
        a[K.A_BURST_NS] = self.burst_spacing_ns
        return a


def _default_regimes() -> list[RegimeParams]:
    return [CALM, VOLATILE]


class SimConfig(BaseModel):
    """Simulator configuration (the ``[data.simulator]`` section of a pipeline config)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 7
    instruments: list[str] = Field(default_factory=lambda: ["SIM0"], min_length=1)
    start_date: dt.date = dt.date(2024, 1, 2)
    days: int = Field(1, ge=1, description="business days from start_date")
    events_per_day: int = Field(200_000, ge=1, description="expected (and maximal) genuine events per day")
    tick_size: str = "0.01"
    start_price: float = Field(100.0, gt=0)
    lot_size: int = Field(100, ge=1, description="sizes are multiples of this many size units")
    regimes: list[RegimeParams] = Field(default_factory=_default_regimes, min_length=1)
    transition: list[list[float]] | None = Field(
        None, description="jump probabilities between regimes (row i: from i; diagonal must be 0)"
    )
    artifacts: ArtifactConfig = ArtifactConfig()
    levels: int = Field(10, ge=2, le=100, description="price levels per side maintained and published")
    session_start: dt.time = dt.time(9, 30)
    session_end: dt.time = dt.time(16, 0)
    timezone: str = "America/New_York"
    recv_latency_ns: int = Field(0, ge=0, description="ts_recv - ts_event")

    @field_validator("tick_size")
    @classmethod
    def _tick(cls, v: str) -> str:
        if Decimal(v) <= 0 or (Decimal(v) * 10**9) % 1 != 0:
            raise ValueError(f"tick_size must be > 0 with at most 9 decimals, got {v}")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        ZoneInfo(v)
        return v

    @model_validator(mode="after")
    def _check(self) -> SimConfig:
        if self.session_end <= self.session_start:
            raise ValueError("session_end must be after session_start")
        n = len(self.regimes)
        if self.transition is not None:
            t = np.asarray(self.transition, dtype=float)
            if t.shape != (n, n):
                raise ValueError(f"transition must be {n}x{n} (one row per regime)")
            if (t < 0).any() or (np.diag(t) != 0).any():
                raise ValueError("transition: probabilities must be >= 0 with a zero diagonal")
            if n > 1 and not np.allclose(t.sum(axis=1), 1.0):
                raise ValueError("transition: each row must sum to 1")
        if len(set(self.instruments)) != len(self.instruments):
            raise ValueError("instruments must be unique")
        return self

    def jump_matrix(self) -> np.ndarray:
        n = len(self.regimes)
        if self.transition is not None:
            return np.asarray(self.transition, dtype=float)
        if n == 1:
            return np.ones((1, 1))
        j = np.full((n, n), 1.0 / (n - 1))
        np.fill_diagonal(j, 0.0)
        return j

    def stationary(self) -> np.ndarray:
        """Long-run fraction of time in each regime (jump chain's stationary law x mean durations)."""
        j = self.jump_matrix()
        n = j.shape[0]
        if n == 1:
            return np.ones(1)
        a = np.vstack([j.T - np.eye(n), np.ones(n)])
        b = np.zeros(n + 1)
        b[-1] = 1.0
        nu = np.linalg.lstsq(a, b, rcond=None)[0]
        w = np.clip(nu, 0, None) * np.array([r.mean_duration_s for r in self.regimes])
        return np.asarray(w / w.sum())

    def business_days(self) -> list[dt.date]:
        d = np.busday_offset(np.datetime64(self.start_date, "D"), 0, roll="forward")
        return [dt.date.fromisoformat(str(np.busday_offset(d, i))) for i in range(self.days)]


@dataclass(frozen=True)
class InstrumentProfile:
    """How one simulated instrument differs from the base configuration."""

    instrument: Instrument
    tick_int: int
    start_ticks: int
    lot: int
    depth_mult: float
    events_per_day: int


# tick multiple, price multiple, lot divisor, depth multiple, events multiple
_VARIANTS = (
    (1, 1.0, 1, 1.0, 1.0),  # the base: a liquid $100 stock, 1-cent tick
    (5, 2.5, 1, 0.6, 0.7),  # coarser tick, higher price, thinner
    (25, 45.0, 100, 0.4, 1.3),  # futures-like: 0.25 tick, ~4500, sizes in single contracts
    (1, 0.3, 1, 2.0, 0.8),  # low-priced, deep book
)


def _symbol_hash(symbol: str) -> int:
    return int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:8], "little")


def instrument_profile(cfg: SimConfig, symbol: str) -> InstrumentProfile:
    """Per-symbol parameters: ``SIM<k>`` takes variant k mod 4 (SIM0 = the base config), others by hash."""
    k: int
    if symbol.startswith("SIM") and symbol[3:].isdigit():
        k = int(symbol[3:])
    else:
        k = _symbol_hash(symbol)
    tick_mult, price_mult, lot_div, depth_mult, ev_mult = _VARIANTS[k % len(_VARIANTS)]
    if k >= len(_VARIANTS):  # further symbols: the same family at another price level
        price_mult *= 1.0 + 0.37 * ((k // len(_VARIANTS)) % 7)
    tick = Decimal(cfg.tick_size) * tick_mult
    inst = Instrument(
        symbol=symbol, venue="SIM", tick_size=str(tick), size_unit="1", currency="USD", timezone=cfg.timezone
    )
    tick_int = inst.tick_int
    start_ticks = max(round(cfg.start_price * price_mult / float(tick)), 10 * cfg.levels + 10)
    return InstrumentProfile(
        instrument=inst,
        tick_int=tick_int,
        start_ticks=start_ticks,
        lot=max(1, cfg.lot_size // lot_div),
        depth_mult=depth_mult,
        events_per_day=max(1, round(cfg.events_per_day * ev_mult)),
    )


@dataclass
class SimDay:
    """One (instrument, date) of simulated data (or one chunk of it, from :func:`iter_simulate_day`)."""

    instrument: Instrument
    date: dt.date
    deltas: pl.DataFrame
    trades: pl.DataFrame
    regimes: pl.DataFrame
    artifacts: pl.DataFrame
    events: int = 0
    """Genuine (non-artifact) events in this piece."""


def _as_date(date: dt.date | str) -> dt.date:
    if isinstance(date, dt.datetime):
        return date.date()
    return date if isinstance(date, dt.date) else dt.date.fromisoformat(date)


def session_bounds_ns(cfg: SimConfig, date: dt.date) -> tuple[int, int]:
    """UTC ns of the session open and close of ``date`` (local time zone ``cfg.timezone``)."""
    tz = ZoneInfo(cfg.timezone)
    t0 = dt.datetime.combine(date, cfg.session_start, tzinfo=tz)
    t1 = dt.datetime.combine(date, cfg.session_end, tzinfo=tz)
    return int(t0.timestamp()) * NS_PER_S, int(t1.timestamp()) * NS_PER_S


_UA_BLOCK = 1 << 20
_STEP_EVENTS = 1 << 17


class _DayRun:
    """State of one simulated day between kernel calls."""

    def __init__(self, cfg: SimConfig, symbol: str, date: dt.date) -> None:
        self.cfg = cfg
        self.date = date
        prof = instrument_profile(cfg, symbol)
        self.prof = prof
        h = _symbol_hash(symbol)
        ss = np.random.SeedSequence([cfg.seed & 0xFFFFFFFF, h & 0xFFFFFFFF, h >> 32, date.toordinal()])
        s_init, s_a, s_b = ss.spawn(3)
        self.gen_a = np.random.Generator(np.random.PCG64(s_a))
        self.gen_b = np.random.Generator(np.random.PCG64(s_b))
        init = np.random.Generator(np.random.PCG64(s_init))
        L = cfg.levels
        self.L = L
        t_open, t_close = session_bounds_ns(cfg, date)
        pi = cfg.stationary()
        intens = np.array([r.intensity for r in cfg.regimes])
        base = prof.events_per_day / ((t_close - t_open) / NS_PER_S) / float(pi @ intens)
        P = np.array([r.vector() for r in cfg.regimes], dtype=np.float64)
        P[:, K.P_RATE] *= base
        P[:, K.P_DEPTH] = np.maximum(P[:, K.P_DEPTH] * prof.depth_mult, 1.0)
        for col, mean in ((K.P_LSIZE, K.P_SIZE), (K.P_LMSIZE, K.P_MSIZE), (K.P_LDEPTH, K.P_DEPTH)):
            P[:, col] = [K.inv_log(m) for m in P[:, mean]]
        self.P = P
        self.TR = np.cumsum(cfg.jump_matrix(), axis=1)
        self.TR[:, -1] = 2.0  # guard against rounding: the last regime with positive mass catches all
        for r in range(self.TR.shape[0]):
            pos = np.nonzero(cfg.jump_matrix()[r] > 0)[0]
            if pos.size:
                self.TR[r, pos[-1] :] = 2.0
        w = np.exp(-np.arange(L)[None, :] / P[:, K.P_DECAY][:, None])
        self.W = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
        self.W[:, -1] = 2.0
        self.A = cfg.artifacts.vector()
        # initial state: price near the instrument's level, regime from the stationary law
        start = round(prof.start_ticks * math.exp(0.01 * init.standard_normal()))
        reg = int(np.searchsorted(np.cumsum(pi), init.random(), side="right"))
        reg = min(reg, len(cfg.regimes) - 1)
        st = np.zeros(K.S_LEN, dtype=np.int64)
        st[K.S_BID] = start
        st[K.S_ASK] = start + 1
        st[K.S_REGIME] = reg
        st[K.S_T] = t_open
        if len(cfg.regimes) > 1:
            st[K.S_SPELL_END] = t_open + 1 + int(init.exponential(cfg.regimes[reg].mean_duration_s) * 1e9)
        else:
            st[K.S_SPELL_END] = t_close + 1
        st[K.S_SESSION_END] = t_close
        st[K.S_MAX_EVENTS] = prof.events_per_day
        st[K.S_TICK] = prof.tick_int
        st[K.S_LOT] = prof.lot
        st[K.S_RECV_LAT] = cfg.recv_latency_ns
        st[K.S_TRADE_ID] = 1
        self.st = st
        self.bq = np.zeros(L, dtype=np.int64)
        self.aq = np.zeros(L, dtype=np.int64)
        self.snap = np.zeros(L, dtype=np.int64)
        for q in (self.bq, self.aq):
            for k in range(L):
                if k > 0 and init.random() < P[reg, K.P_HOLE]:
                    continue
                q[k] = K.geometric(1.0 - init.random(), P[reg, K.P_DEPTH]) * prof.lot
        self.ua = self.gen_a.random(_UA_BLOCK)
        self.ub = self.gen_b.random(_UA_BLOCK // 4)
        self.pa = 0
        self.pb = 0
        self.mb = np.zeros((2 * L + 4, 3), dtype=np.int64)
        self.tb = np.zeros((L + 2, 3), dtype=np.int64)
        self.first = True

    def _alloc(self, step: int) -> None:
        pairs = self.cfg.artifacts.burst_pairs
        nd = 3 * step + 12 * self.L + 4 * pairs + 64
        self.o: dict[str, np.ndarray] = {
            "ts_event": np.empty(nd, np.int64),
            "seq": np.empty(nd, np.int64),
            "side": np.empty(nd, np.int8),
            "action": np.empty(nd, np.uint8),
            "price": np.empty(nd, np.int64),
            "size": np.empty(nd, np.int64),
            "flags": np.empty(nd, np.uint8),
        }
        nt = step + 4 * self.L + 32
        self.t: dict[str, np.ndarray] = {
            "ts_event": np.empty(nt, np.int64),
            "seq": np.empty(nt, np.int64),
            "price": np.empty(nt, np.int64),
            "size": np.empty(nt, np.int64),
            "aggressor": np.empty(nt, np.int8),
            "trade_id": np.empty(nt, np.uint64),
        }
        nr = 1024
        self.r: dict[str, np.ndarray] = {
            "ts_event": np.empty(nr, np.int64),
            "seq": np.empty(nr, np.int64),
            "regime": np.empty(nr, np.int16),
        }
        nx = step // 8 + 4 * pairs + 64
        self.x: dict[str, np.ndarray] = {
            "seq": np.empty(nx, np.int64),
            "ts_event": np.empty(nx, np.int64),
            "table": np.empty(nx, np.int8),
            "kind": np.empty(nx, np.int8),
        }

    @property
    def done(self) -> bool:
        return bool(self.st[K.S_DONE])

    def _snapshot_message(self) -> pl.DataFrame:
        st, L = self.st, self.L
        rows: list[tuple[int, int, int]] = []
        for k in range(L):
            if self.bq[k] > 0:
                rows.append((1, int(st[K.S_BID]) - k, int(self.bq[k])))
        for k in range(L):
            if self.aq[k] > 0:
                rows.append((-1, int(st[K.S_ASK]) + k, int(self.aq[k])))
        n = len(rows)
        flags = np.full(n, int(Flags.SNAPSHOT), np.uint8)
        flags[-1] |= int(Flags.LAST)
        ts = np.full(n, st[K.S_T], np.int64)
        df = self._deltas_frame(
            {
                "ts_event": ts,
                "seq": np.zeros(n, np.int64),
                "side": np.array([r[0] for r in rows], np.int8),
                "action": np.full(n, 4, np.uint8),
                "price": np.array([r[1] for r in rows], np.int64) * self.prof.tick_int,
                "size": np.array([r[2] for r in rows], np.int64),
                "flags": flags,
            },
            n,
        )
        st[K.S_SEQ] = 1
        return df

    def _deltas_frame(self, o: dict[str, np.ndarray], n: int) -> pl.DataFrame:
        ts = o["ts_event"][:n]
        return pl.DataFrame(
            {
                "ts_event": ts,
                "ts_recv": ts if self.cfg.recv_latency_ns == 0 else ts + self.cfg.recv_latency_ns,
                "seq": o["seq"][:n],
                "side": o["side"][:n],
                "action": o["action"][:n],
                "price": o["price"][:n],
                "size": o["size"][:n],
                "order_id": np.zeros(n, np.uint64),
                "flags": o["flags"][:n],
            }
        )

    def run(self, n_events: int, kernel: Callable[..., Any] = K.sim_kernel) -> SimDay:
        """Generate up to ``n_events`` more genuine events (fewer at the day's end)."""
        parts_d: list[pl.DataFrame] = []
        parts_t: list[pl.DataFrame] = []
        parts_r: list[pl.DataFrame] = []
        parts_x: list[pl.DataFrame] = []
        st = self.st
        ev0 = int(st[K.S_EVENTS])
        if self.first:
            self.first = False
            parts_d.append(self._snapshot_message())
            parts_r.append(
                pl.DataFrame(
                    {"ts_event": [int(st[K.S_T])], "seq": [0], "regime": [int(st[K.S_REGIME])]},
                    schema=SIM_REGIMES.polars_schema(),
                )
            )
        target = min(ev0 + n_events, int(st[K.S_MAX_EVENTS]))
        while not self.done and (int(st[K.S_EVENTS]) < target or target == int(st[K.S_MAX_EVENTS])):
            st[K.S_TARGET] = min(int(st[K.S_EVENTS]) + _STEP_EVENTS, target)
            # fresh buffers per call: the frames below wrap them without copying
            self._alloc(_STEP_EVENTS)
            o, t, r, x = self.o, self.t, self.r, self.x
            nd, nt, nr, nx, self.pa, self.pb = kernel(
                st,
                self.bq,
                self.aq,
                self.snap,
                self.P,
                self.TR,
                self.W,
                self.A,
                self.ua,
                self.pa,
                self.ub,
                self.pb,
                o["ts_event"],
                o["seq"],
                o["side"],
                o["action"],
                o["price"],
                o["size"],
                o["flags"],
                t["ts_event"],
                t["seq"],
                t["price"],
                t["size"],
                t["aggressor"],
                t["trade_id"],
                r["ts_event"],
                r["seq"],
                r["regime"],
                x["seq"],
                x["ts_event"],
                x["table"],
                x["kind"],
                self.mb,
                self.tb,
            )
            if nd:
                parts_d.append(self._deltas_frame(o, nd))
            if nt:
                ts = t["ts_event"][:nt]
                parts_t.append(
                    pl.DataFrame(
                        {
                            "ts_event": ts,
                            "ts_recv": ts if self.cfg.recv_latency_ns == 0 else ts + self.cfg.recv_latency_ns,
                            "seq": t["seq"][:nt],
                            "price": t["price"][:nt],
                            "size": t["size"][:nt],
                            "aggressor": t["aggressor"][:nt],
                            "kind": np.zeros(nt, np.uint8),
                            "trade_id": t["trade_id"][:nt],
                            "order_id": np.zeros(nt, np.uint64),
                            "flags": _last_of_seq(t["seq"][:nt]),
                        }
                    )
                )
            if nr:
                parts_r.append(pl.DataFrame({k: v[:nr] for k, v in r.items()}))
            if nx:
                parts_x.append(
                    pl.DataFrame(
                        {
                            "seq": x["seq"][:nx],
                            "ts_event": x["ts_event"][:nx],
                            "table": pl.Series(np.array(_TABLES)[x["table"][:nx]], dtype=pl.Utf8),
                            "kind": pl.Series(np.array(ARTIFACT_KINDS)[x["kind"][:nx]], dtype=pl.Utf8),
                        }
                    )
                )
            # refill the random streams (sequential consumption: chunking never changes the draws)
            if self.pa > self.ua.shape[0] - (8 * self.L + 64):
                self.ua = np.concatenate([self.ua[self.pa :], self.gen_a.random(_UA_BLOCK)])
                self.pa = 0
            if self.pb > self.ub.shape[0] - 64:
                self.ub = np.concatenate([self.ub[self.pb :], self.gen_b.random(_UA_BLOCK // 4)])
                self.pb = 0
        where = f"simulator {self.prof.instrument.symbol} {self.date}"
        return SimDay(
            instrument=self.prof.instrument,
            date=self.date,
            deltas=validate(_concat(parts_d, BOOK_DELTAS.empty()), BOOK_DELTAS, where=where),
            trades=validate(_concat(parts_t, TRADES.empty()), TRADES, where=where),
            regimes=validate(_concat(parts_r, SIM_REGIMES.empty()), SIM_REGIMES, where=where),
            artifacts=validate(_concat(parts_x, SIM_ARTIFACTS.empty()), SIM_ARTIFACTS, where=where),
            events=int(st[K.S_EVENTS]) - ev0,
        )

    def true_book(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The simulator's current book: (price int, size) per occupied level, best first, per side."""
        st, tick = self.st, self.prof.tick_int
        bids = [((int(st[K.S_BID]) - k) * tick, int(self.bq[k])) for k in range(self.L) if self.bq[k] > 0]
        asks = [((int(st[K.S_ASK]) + k) * tick, int(self.aq[k])) for k in range(self.L) if self.aq[k] > 0]
        return bids, asks


def _last_of_seq(seq: np.ndarray) -> np.ndarray:
    """Flags.LAST on the last row of each seq (a message never straddles two kernel calls)."""
    last = np.ones(seq.shape[0], dtype=bool)
    last[:-1] = seq[1:] != seq[:-1]
    return np.where(last, np.uint8(Flags.LAST), np.uint8(0)).astype(np.uint8)


def _concat(parts: list[pl.DataFrame], empty: pl.DataFrame) -> pl.DataFrame:
    if not parts:
        return empty
    return parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical")


def iter_simulate_day(
    cfg: SimConfig, instrument: str, date: dt.date | str, chunk_events: int = 1_000_000
) -> Iterator[SimDay]:
    """Simulate one (instrument, date) in pieces of ``chunk_events`` genuine events (bounded memory).

    Concatenating the pieces' tables gives exactly :func:`simulate_day`'s tables.
    """
    run = _DayRun(cfg, instrument, _as_date(date))
    while True:
        piece = run.run(max(1, int(chunk_events)))
        yield piece
        if run.done:
            return


def simulate_day(cfg: SimConfig, instrument: str, date: dt.date | str) -> SimDay:
    """Simulate one (instrument, date) in memory."""
    pieces = list(iter_simulate_day(cfg, instrument, date, chunk_events=max(cfg.events_per_day * 4, 1)))
    if len(pieces) == 1:
        return pieces[0]
    first = pieces[0]
    return SimDay(
        instrument=first.instrument,
        date=first.date,
        deltas=pl.concat([p.deltas for p in pieces]),
        trades=pl.concat([p.trades for p in pieces]),
        regimes=pl.concat([p.regimes for p in pieces]),
        artifacts=pl.concat([p.artifacts for p in pieces]),
        events=sum(p.events for p in pieces),
    )


ProgressFn = Callable[[str, str, int, int], None]
"""``progress(instrument, date, events_done, events_expected)``, called after each chunk."""


def simulate(
    cfg: SimConfig,
    out: str | Path | Dataset,
    *,
    progress: ProgressFn | None = None,
    chunk_events: int = 1_000_000,
) -> list[tuple[str, str]]:
    """Simulate every (instrument, business day) of ``cfg`` into the dataset ``out``.

    Writes the tables ``book_deltas``, ``trades``, ``sim_regimes`` and ``sim_artifacts`` (streamed in
    chunks, atomic per partition), ``instruments.json`` and one meta file per partition with the counts.
    Returns the (instrument, date) partitions written, sorted.
    """
    ds = out if isinstance(out, Dataset) else Dataset(out)
    parts: list[tuple[str, str]] = []
    for symbol in cfg.instruments:
        prof = instrument_profile(cfg, symbol)
        ds.add_instrument(prof.instrument)
        for day in cfg.business_days():
            dstr = day.isoformat()
            stats = day_stats_empty()
            with (
                ds.writer("book_deltas", symbol, day, schema=BOOK_DELTAS) as wd,
                ds.writer("trades", symbol, day, schema=TRADES) as wt,
                ds.writer("sim_regimes", symbol, day, schema=SIM_REGIMES) as wr,
                ds.writer("sim_artifacts", symbol, day, schema=SIM_ARTIFACTS) as wx,
            ):
                for piece in iter_simulate_day(cfg, symbol, day, chunk_events=chunk_events):
                    wd.write(piece.deltas)
                    wt.write(piece.trades)
                    wr.write(piece.regimes)
                    wx.write(piece.artifacts)
                    add_stats(stats, piece)
                    if progress is not None:
                        progress(symbol, dstr, stats["events"], prof.events_per_day)
            ds.write_meta(
                symbol,
                day,
                {
                    "source": "simulator",
                    "model": MODEL_VERSION,
                    "config": json.loads(cfg.model_dump_json()),
                    "instrument": prof.instrument.model_dump(),
                    **stats,
                },
            )
            parts.append((symbol, dstr))
    return sorted(parts)


def day_stats_empty() -> dict[str, Any]:
    """Zeroed counters for :func:`add_stats`."""
    return {
        "events": 0,
        "messages": 0,
        "delta_rows": 0,
        "trades": 0,
        "regime_switches": 0,
        "artifacts": dict.fromkeys(ARTIFACT_KINDS, 0),
    }


def add_stats(stats: dict[str, Any], piece: SimDay) -> None:
    """Add one piece's counts: genuine events, messages (seqs), rows, trades, regime switches, artifacts."""
    stats["events"] += piece.events
    stats["messages"] += piece.deltas["seq"].n_unique() if piece.deltas.height else 0
    stats["delta_rows"] += piece.deltas.height
    stats["trades"] += piece.trades.height
    # the first SIM_REGIMES row of a day is the initial regime, not a switch
    stats["regime_switches"] += piece.regimes.filter(pl.col("seq") > 0).height if piece.regimes.height else 0
    if piece.artifacts.height:
        for kind, n in piece.artifacts.group_by("kind").len().iter_rows():
            stats["artifacts"][kind] = stats["artifacts"].get(kind, 0) + int(n)


def load_sim_config(path: str | Path, **overrides: Any) -> SimConfig:
    """Read a SimConfig from TOML: the ``[data.simulator]`` or ``[simulator]`` table, else the top level.

    ``overrides`` (e.g. ``seed=3``) replace fields before validation. Unknown keys and bad values raise
    :class:`~orderflow.core.errors.ConfigError` naming the file and the key path.
    """
    import tomllib

    from orderflow.core.errors import ConfigError

    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML ({e})") from None
    prefix = ""
    if isinstance(doc.get("data"), dict) and "simulator" in doc["data"]:
        doc, prefix = doc["data"]["simulator"], "data.simulator."
    elif "simulator" in doc:
        doc, prefix = doc["simulator"], "simulator."
    return sim_config_from_dict({**doc, **overrides}, where=f"{p}: {prefix}")


def sim_config_from_dict(raw: dict[str, Any], *, where: str = "") -> SimConfig:
    """Validate ``raw`` into a SimConfig; errors become one ConfigError line with the key path."""
    from pydantic import ValidationError

    from orderflow.core.errors import ConfigError

    try:
        return SimConfig(**raw)
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"{where}{key}: {err['msg']}") from None


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far, in bytes (Linux reports KiB, macOS bytes)."""
    import resource
    import sys

    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r if sys.platform == "darwin" else r * 1024)


def run_benchmark(
    events: int = 1_000_000, *, seed: int = 7, chunk_events: int = 1_000_000, artifacts: bool = True
) -> dict[str, Any]:
    """Time generating one SIM0 day of (at most) ``events`` genuine events, after a JIT warm-up.

    Each chunk's tables are built and validated, then dropped (memory bounded by ``chunk_events``).
    Returns events, rows, seconds (wall), events_per_s, cpu_seconds and events_per_cpu_s (the process's
    CPU time, which stays meaningful on a shared machine) and peak_rss_bytes.
    """
    import time

    cfg = SimConfig(
        seed=seed, events_per_day=events, artifacts=ArtifactConfig() if artifacts else ArtifactConfig.clean()
    )
    simulate_day(cfg.model_copy(update={"events_per_day": 2_000}), "SIM0", cfg.start_date)  # compile
    n = rows = trades = 0
    t0 = time.perf_counter()
    c0 = time.process_time()
    for piece in iter_simulate_day(cfg, "SIM0", cfg.start_date, chunk_events=chunk_events):
        n += piece.events
        rows += piece.deltas.height
        trades += piece.trades.height
    secs = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return {
        "events": n,
        "delta_rows": rows,
        "trades": trades,
        "seconds": round(secs, 4),
        "events_per_s": round(n / secs, 1) if secs > 0 else None,
        "cpu_seconds": round(cpu, 4),
        "events_per_cpu_s": round(n / cpu, 1) if cpu > 0 else None,
        "peak_rss_bytes": peak_rss_bytes(),
        "chunk_events": chunk_events,
        "artifacts": artifacts,
    }


__all__ = [
    "ARTIFACT_KINDS",
    "CALM",
    "VOLATILE",
    "ArtifactConfig",
    "InstrumentProfile",
    "RegimeParams",
    "SimConfig",
    "SimDay",
    "add_stats",
    "instrument_profile",
    "iter_simulate_day",
    "load_sim_config",
    "peak_rss_bytes",
    "run_benchmark",
    "session_bounds_ns",
    "sim_config_from_dict",
    "simulate",
    "simulate_day",
]
