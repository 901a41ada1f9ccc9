"""A small synthetic market with a KNOWN signal and KNOWN regimes, for tests, benchmarks and demos.

Generative story (one row per book event):

* a hidden 2-state Markov regime (0 calm/liquid, 1 volatile/thin) with mean dwell ``dwell`` events;
* event inter-arrival times exponential, faster in regime 1;
* a persistent latent order-flow signal ``s`` (AR(1));
* the best bid moves by one tick with a regime-dependent probability, upwards with probability
  ``sigmoid(beta * s)``; the spread is wider and depth thinner in regime 1;
* the touch sizes lean with ``s`` (queue imbalance carries the signal), and ``ofi_l1`` is ``s`` plus noise.

Features are causal: each uses the book at or before its row only. This is NOT the project's market
simulator (``orderflow.ingest.simulator``); it only serves the research stage's own tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from orderflow.core.enums import PRICE_SCALE
from orderflow.labels._kernels import ewma_vol_kernel


@dataclass(frozen=True)
class SyntheticMarket:
    """Features (FEATURES), book snapshots (mbp-``depth``) and the true regime path (SIM_REGIMES)."""

    features: pl.DataFrame
    book: pl.DataFrame
    regimes: pl.DataFrame
    signal: np.ndarray


def _regime_path(n: int, dwell: float, rng: np.random.Generator) -> np.ndarray:
    out = np.empty(n, dtype=np.int16)
    i = 0
    state = 0
    while i < n:
        run = int(rng.geometric(1.0 / dwell))
        out[i : i + run] = state
        i += run
        state = 1 - state
    return out


def _ewma_rate(ts: np.ndarray, halflife_ns: float) -> np.ndarray:
    """Causal event intensity (events/s): exponentially time-decayed event count."""
    lam = np.log(2.0) / halflife_ns
    out = np.empty(ts.shape[0])
    acc = 0.0
    last = ts[0] if ts.shape[0] else 0
    for j in range(ts.shape[0]):
        acc = acc * np.exp(-lam * float(ts[j] - last)) + 1.0
        last = ts[j]
        out[j] = acc * lam * 1e9
    return out


def make_synthetic_market(
    n: int = 20_000,
    *,
    seed: int = 0,
    depth: int = 5,
    dwell: float = 2_000.0,
    beta: float = 2.5,
    phi: float = 0.995,
    start_ns: int = 1_704_205_800 * 1_000_000_000,
    instrument: str | None = None,
    date: str | None = None,
) -> SyntheticMarket:
    """Generate ``n`` events; ``beta`` scales how strongly the signal drives price moves (0: no signal)."""
    rng = np.random.default_rng(seed)
    reg = _regime_path(n, dwell, rng)
    mean_dt = np.where(reg == 0, 20e6, 6e6)  # ns
    dt = np.maximum(rng.exponential(mean_dt), 1.0).astype(np.int64)
    ts = start_ns + np.cumsum(dt)
    e = rng.standard_normal(n)
    s = np.empty(n)
    acc = 0.0
    c = np.sqrt(1.0 - phi * phi)
    for i in range(n):
        acc = phi * acc + c * e[i]
        s[i] = acc
    p_move = np.where(reg == 0, 0.04, 0.25)
    moves = rng.random(n) < p_move
    up = rng.random(n) < 1.0 / (1.0 + np.exp(-beta * s))
    step = np.where(moves, np.where(up, 1, -1), 0)
    step[0] = 0
    tick = 10_000_000  # $0.01 in 1e-9 units
    bid0 = 100 * PRICE_SCALE + np.cumsum(step) * tick
    # the spread is redrawn only now and then (it is persistent, as on a real book)
    draw = np.where(reg == 0, 1 + (rng.random(n) < 0.1), 1 + rng.integers(1, 4, n))
    redraw = (rng.random(n) < 0.02) | (np.diff(reg, prepend=reg[0]) != 0)
    redraw[0] = True
    spread = draw[np.maximum.accumulate(np.where(redraw, np.arange(n), 0))]
    ask0 = bid0 + spread * tick
    base = np.where(reg == 0, 600.0, 120.0)
    lean = 0.6 * np.tanh(s)
    cols: dict[str, np.ndarray] = {
        "ts_event": ts,
        "ts_recv": ts + 50_000,
        "seq": np.arange(n, dtype=np.int64),
    }
    for side, sign in (("bid", 1), ("ask", -1)):
        p0 = bid0 if side == "bid" else ask0
        for k in range(depth):
            cols[f"{side}_px_{k:02d}"] = (p0 - sign * k * tick).astype(np.int64)
        for k in range(depth):
            scale = base * (1.0 + sign * lean) if k == 0 else base * (1.0 + 0.3 * k)
            cols[f"{side}_sz_{k:02d}"] = np.maximum(rng.poisson(scale), 1).astype(np.int64)
    book = pl.DataFrame(cols)
    bs = cols["bid_sz_00"].astype(float)
    as_ = cols["ask_sz_00"].astype(float)
    bid = bid0 / PRICE_SCALE
    ask = ask0 / PRICE_SCALE
    mid = (bid + ask) / 2
    micro = (bid * as_ + ask * bs) / (bs + as_)
    depth5 = sum(cols[f"{s_}_sz_{k:02d}"].astype(float) for s_ in ("bid", "ask") for k in range(depth))
    rv = np.sqrt(ewma_vol_kernel(ts, mid, 5e9)) * 1e4
    feats = pl.DataFrame(
        {
            "ts_event": ts,
            "seq": cols["seq"],
            "spread_ticks": spread.astype(np.float64),
            "imb_l1": (bs - as_) / (bs + as_),
            "ofi_l1": s + 1.2 * rng.standard_normal(n),
            "microprice_minus_mid": (micro - mid) / 0.01,
            "depth_5": np.log(depth5),
            "rv": np.nan_to_num(rv, nan=0.0),
            "intensity": _ewma_rate(ts, 2e9),
            "noise": rng.standard_normal(n),
        }
    )
    regimes = pl.DataFrame({"ts_event": ts, "seq": cols["seq"], "regime": reg})
    if instrument is not None or date is not None:
        extra = []
        if instrument is not None:
            extra.append(pl.lit(instrument).alias("instrument"))
        if date is not None:
            extra.append(pl.lit(date).alias("date"))
        feats, book, regimes = (f.with_columns(extra) for f in (feats, book, regimes))
    return SyntheticMarket(features=feats, book=book, regimes=regimes, signal=s)


__all__ = ["SyntheticMarket", "make_synthetic_market"]
