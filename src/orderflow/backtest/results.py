"""Backtest results: the ORDERS / FILLS / EQUITY tables, markouts, PnL attribution and summary metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from orderflow.backtest import _layout as L
from orderflow.core.schema import EQUITY, FILLS, ORDERS, REGIMES, validate

if TYPE_CHECKING:
    from orderflow.backtest.engine import BacktestEngine


@dataclass
class BacktestResult:
    """What a backtest produced.

    ``orders``, ``fills`` and ``equity`` are the canonical tables (validated). ``fills_detail`` adds
    per fill: ``mid_at_fill`` (currency), ``position_after`` (size units), ``regime`` (when regimes were
    given) and for each markout horizon H: ``mid_H`` (mid at fill time + H) and ``markout_bps_H`` =
    ``side * (mid_H - price) / mid_at_fill * 1e4`` (positive: the fill made money by then).
    """

    orders: pl.DataFrame
    fills: pl.DataFrame
    equity: pl.DataFrame
    fills_detail: pl.DataFrame
    summary: dict[str, Any]
    per_regime: dict[str, dict[str, Any]] = field(default_factory=dict)

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write the three tables (Parquet) and the summary (JSON) atomically into ``out_dir``."""
        from orderflow.core.io import atomic_write_json, write_parquet

        out = Path(out_dir)
        paths = []
        for name, df in (("orders", self.orders), ("fills", self.fills), ("equity", self.equity),
                         ("fills_detail", self.fills_detail)):  # fmt: skip
            p = out / f"{name}.parquet"
            write_parquet(df, p)
            paths.append(p)
        p = out / "summary.json"
        atomic_write_json(p, {"summary": self.summary, "per_regime": self.per_regime})
        paths.append(p)
        return paths


def _horizon_name(ns: int) -> str:
    for unit, div in (("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)):
        if ns % div == 0:
            return f"{ns // div}{unit}"
    return f"{ns}ns"


def _cat(parts: list[np.ndarray], shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(shape, dtype)


def max_drawdown(equity: np.ndarray) -> float:
    """Largest peak-to-trough fall of an equity curve (currency, >= 0)."""
    if equity.size == 0:
        return 0.0
    peak = np.maximum.accumulate(equity)
    return float(np.max(peak - equity))


def metrics(fills: pl.DataFrame, equity: pl.DataFrame, horizons: list[str], seconds_per_year: float,
            interval_ns: int, orders: pl.DataFrame | None = None) -> dict[str, Any]:  # fmt: skip
    """Trading metrics over a fills_detail frame and an EQUITY frame (either may be a regime subset)."""
    out: dict[str, Any] = {}
    n = fills.height
    units = (fills["size_units"].abs().sum() if n else 0.0) or 0.0
    notional = (fills["notional"].abs().sum() if n else 0.0) or 0.0
    out["n_fills"] = n
    out["filled_units"] = float(units)
    out["traded_notional"] = float(notional)
    out["fees"] = float(fills["fee"].sum()) if n else 0.0
    out["spread_capture"] = float(fills["spread_capture"].sum()) if n else 0.0
    out["maker_share"] = float(fills["maker"].cast(pl.Float64).mean()) if n else math.nan  # type: ignore[arg-type]
    if orders is not None and orders.height:
        sent = orders.filter(pl.col("status") != L.ST_REJECTED)
        tot = float(sent["size"].sum()) if sent.height else 0.0
        out["fill_ratio"] = float(sent["filled"].sum()) / tot if tot > 0 else math.nan
        out["n_orders"] = orders.height
        out["n_rejected"] = int((orders["status"] == L.ST_REJECTED).sum())
    for h in horizons:
        col = f"markout_bps_{h}"
        vals = fills[col].drop_nans().drop_nulls() if n else pl.Series([], dtype=pl.Float64)
        out[f"markout_bps_{h}"] = float(vals.mean()) if vals.len() else math.nan  # type: ignore[arg-type]
        adv = fills[f"adverse_bps_{h}"].drop_nans().drop_nulls() if n else pl.Series([], dtype=pl.Float64)
        out[f"adverse_selection_bps_{h}"] = float(adv.mean()) if adv.len() else math.nan  # type: ignore[arg-type]
    eq = equity["equity"].to_numpy() if equity.height else np.zeros(0)
    out["max_drawdown"] = max_drawdown(eq)
    if eq.size > 2:
        d = np.diff(eq)
        sd = float(np.std(d, ddof=1))
        per_year = seconds_per_year / (interval_ns * 1e-9)
        out["sharpe"] = float(np.mean(d)) / sd * math.sqrt(per_year) if sd > 0 else math.nan
    else:
        out["sharpe"] = math.nan
    return out


def build_result(eng: BacktestEngine, *, regimes: pl.DataFrame | None = None) -> BacktestResult:
    cfg = eng.config
    o = eng.out
    orders_a = _cat(o.orders, (0, L.OO_N), np.int64)
    fi = _cat(o.fills_i, (0, L.OFI_N), np.int64)
    ff = _cat(o.fills_f, (0, L.OFF_N), np.float64)
    et = _cat(o.eq_t, (0,), np.int64)
    ef = _cat(o.eq_f, (0, L.OE_N), np.float64)
    mk = _cat(o.markouts, (0, L.OM_N), np.float64)
    orders = pl.DataFrame(
        {
            "order_id": orders_a[:, 0],
            "ts_submit": orders_a[:, 1],
            "ts_exchange": orders_a[:, 2],
            "ts_done": orders_a[:, 3],
            "side": orders_a[:, 4].astype(np.int8),
            "order_type": orders_a[:, 5].astype(np.uint8),
            "tif": orders_a[:, 6].astype(np.uint8),
            "price": orders_a[:, 7],
            "size": orders_a[:, 8],
            "filled": orders_a[:, 9],
            "status": orders_a[:, 10].astype(np.uint8),
        }
    ).sort("order_id")
    orders = validate(orders, ORDERS, where="backtest")
    fills = pl.DataFrame(
        {
            "order_id": fi[:, 0],
            "ts_exchange": fi[:, 1],
            "side": fi[:, 2].astype(np.int8),
            "price": fi[:, 3],
            "size": fi[:, 4],
            "maker": fi[:, 5].astype(bool),
            "fee": ff[:, 0],
        }
    )
    fills = validate(fills, FILLS, where="backtest")
    equity = validate(
        pl.DataFrame({"ts": et, "position": ef[:, 0], "cash": ef[:, 1], "mid": ef[:, 2], "equity": ef[:, 3]}),
        EQUITY,
        where="backtest",
    )
    unit = eng.cf[L.CF_SIZE_UNIT]
    mult = eng.cf[L.CF_MULT]
    side_f = fi[:, 2].astype(np.float64)
    price_f = fi[:, 3] * 1e-9
    size_units = fi[:, 4] * unit
    mid_fill = ff[:, 1]
    detail: dict[str, Any] = {
        "fill_index": fi[:, 6],
        "mid_at_fill": mid_fill,
        "position_after": ff[:, 2].astype(np.int64),
        "size_units": size_units,
        "notional": price_f * size_units * mult,
        "spread_capture": np.where(
            np.isnan(mid_fill), 0.0, side_f * (mid_fill - price_f) * size_units * mult
        ),
    }
    horizons = [_horizon_name(h) for h in cfg.markout_horizons_ns]
    nf = fi.shape[0]
    first_g = int(fi[0, 6]) if nf else 0
    for k, hname in enumerate(horizons):
        mids = np.full(nf, np.nan)
        sel = mk[mk[:, 1] == k] if mk.size else mk
        if sel.shape[0]:
            pos = sel[:, 0].astype(np.int64) - first_g
            ok = (pos >= 0) & (pos < nf)
            mids[pos[ok]] = sel[ok, 2]
        detail[f"mid_{hname}"] = mids
        with np.errstate(invalid="ignore", divide="ignore"):
            detail[f"markout_bps_{hname}"] = side_f * (mids - price_f) / mid_fill * 1e4
            detail[f"adverse_bps_{hname}"] = side_f * (mids - mid_fill) / mid_fill * 1e4
    fills_detail = pl.concat([fills, pl.DataFrame(detail)], how="horizontal")
    per_regime: dict[str, dict[str, Any]] = {}
    eq_reg = equity
    if regimes is not None:
        regimes = (
            validate(regimes, REGIMES, where="backtest regimes").select("ts_event", "regime").sort("ts_event")
        )
        fills_detail = fills_detail.sort("ts_exchange").join_asof(
            regimes.rename({"ts_event": "ts_exchange"}), on="ts_exchange", strategy="backward"
        )
        eq_reg = equity.sort("ts").join_asof(regimes.rename({"ts_event": "ts"}), on="ts", strategy="backward")
        eq_reg = eq_reg.with_columns(pl.col("equity").diff().fill_null(0.0).alias("_d"))
        for (reg,), fsub in fills_detail.partition_by("regime", as_dict=True, include_key=True).items():
            key = "none" if reg is None else str(reg)
            esub = (
                eq_reg.filter(pl.col("regime") == reg)
                if reg is not None
                else eq_reg.filter(pl.col("regime").is_null())
            )
            m = metrics(fsub, esub.with_columns(pl.col("_d").cum_sum().alias("equity")), horizons,
                        cfg.trading_seconds_per_year, cfg.equity_interval_ns)  # fmt: skip
            m["pnl"] = float(esub["_d"].sum()) if esub.height else 0.0
            per_regime[key] = m
    si, sf = eng.si, eng.sf
    pos_units = float(si[L.S_POS]) * unit
    last_mid = si[L.S_MID2] * 0.5e-9 if si[L.S_MID2] > 0 else math.nan
    pnl = sf[L.F_CASH] + pos_units * mult * (last_mid if pos_units else 0.0)
    summary: dict[str, Any] = {
        "events": int(si[L.S_NEVENTS]),
        "chunks": eng.chunks,
        "strategy": cfg.strategy.name,
        "queue_model": cfg.execution.queue,
        "trade_source": "executes" if eng.ci[L.C_TRADE_SRC] == 1 else "trades",
        "pnl": float(pnl),
        "final_position_units": pos_units,
        "cash": float(sf[L.F_CASH]),
        "inventory_pnl": float(pnl - sf[L.F_SPREAD] + sf[L.F_FEES]),
        "turnover_notional": float(sf[L.F_NOTIONAL]),
        "maker_units": float(sf[L.F_MAKER_UNITS]),
        "taker_units": float(sf[L.F_TAKER_UNITS]),
        "strategy_calls": int(si[L.S_NCALLS]),
        "orders_sent": int(si[L.S_NSUBMIT]),
        "cancels_sent": int(si[L.S_NCANCEL]),
        "modifies_sent": int(si[L.S_NMODIFY]),
        "rejected_position_limit": int(si[L.S_REJ_POS]),
        "rejected_notional_limit": int(si[L.S_REJ_NOTIONAL]),
        "rejected_rate_limit": int(si[L.S_REJ_RATE]),
        "rejected_no_slot": int(si[L.S_REJ_SLOTS]),
        "rejected_post_only": int(si[L.S_POST_REJ]),
        "cancel_rejects": int(si[L.S_CXL_REJ]),
        "modify_rejects": int(si[L.S_MOD_REJ]),
        "flatten_unfilled_units": float(si[L.S_FLAT_SHORT]) * unit,
        "qc": {
            "book_size_below_zero": int(si[L.S_BOOK_NEG]),
            "levels_dropped_outside_window": int(si[L.S_DROPPED]),
            "window_recentres": int(si[L.S_NRECENTER]),
            "trades_unknown_aggressor": int(si[L.S_UNKNOWN_AGGR]),
            "ts_event_backwards_clamped": eng.ts_fixed,
            "ts_recv_before_ts_event": eng.recv_fixed,
        },
    }
    summary.update(metrics(fills_detail, equity, horizons, cfg.trading_seconds_per_year,
                           cfg.equity_interval_ns, orders))  # fmt: skip
    summary["fees"] = float(sf[L.F_FEES])
    summary["spread_capture"] = float(sf[L.F_SPREAD])
    res = BacktestResult(orders, fills, equity, fills_detail, summary, per_regime)
    if cfg.plots_dir:
        from orderflow.backtest.plots import write_plots

        summary["plots"] = [str(p) for p in write_plots(res, cfg.plots_dir)]
    return res


__all__ = ["BacktestResult", "build_result", "max_drawdown", "metrics"]
