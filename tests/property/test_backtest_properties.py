"""Property tests: accounting conservation and order-lifecycle invariants over random strategies and streams."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderflow.backtest import BacktestConfig, StrategyConfig, run_backtest
from orderflow.backtest.synthetic import random_stream
from orderflow.core.execution import ExecutionModel, FeeModel, LatencyModel
from orderflow.core.instruments import Instrument

T0 = 1_700_000_000_000_000_000
TICK = 10_000_000
P0 = 100_000_000_000
NOPX = 2**63 - 1


@st.composite
def sessions(draw):  # type: ignore[no-untyped-def]
    seed = draw(st.integers(0, 10_000))
    n_events = draw(st.integers(50, 600))
    n_act = draw(st.integers(1, 40))
    rows = []
    n_sub = 0
    for _ in range(n_act):
        t = T0 + draw(st.integers(0, n_events * 1_000))
        kind = draw(st.sampled_from([1, 1, 1, 2, 3])) if n_sub else 1
        if kind == 1:
            n_sub += 1
            otype = draw(st.sampled_from([0, 1, 1, 1]))
            tif = draw(st.integers(0, 3)) if otype == 1 else 1
            price = P0 + draw(st.integers(-12, 12)) * TICK if otype == 1 else NOPX
            rows.append(
                (t, 1, draw(st.sampled_from([1, -1])), otype, tif, price, draw(st.integers(1, 40)), 0)
            )
        else:
            oid = draw(st.integers(1, n_sub))
            rows.append(
                (t, kind, 0, 0, 0, P0 + draw(st.integers(-12, 12)) * TICK, draw(st.integers(0, 40)), oid)
            )
    rows.sort(key=lambda r: r[0])
    lat = LatencyModel(
        feed_ns=draw(st.integers(0, 5_000)),
        submit_ns=draw(st.integers(0, 5_000)),
        cancel_ns=draw(st.integers(0, 5_000)),
        modify_ns=draw(st.integers(0, 5_000)),
        response_ns=draw(st.integers(0, 5_000)),
    )
    fees = FeeModel(
        maker_bps=draw(st.floats(-1.0, 2.0)),
        taker_bps=draw(st.floats(0.0, 5.0)),
        taker_per_unit=draw(st.sampled_from([0.0, 0.001])),
        min_fee=draw(st.sampled_from([0.0, 0.05])),
    )
    queue = draw(st.sampled_from(["conservative", "probabilistic"]))
    cfg = BacktestConfig(
        execution=ExecutionModel(latency=lat, fees=fees, queue=queue),
        strategy=StrategyConfig(name="script"),
        wake_interval_ns=0,
        flatten_at_end=draw(st.booleans()),
        equity_interval_ns=draw(st.sampled_from([5_000, 50_000])),
        markout_horizons_ns=(10_000,),
        trade_source=draw(st.sampled_from(["auto", "executes"])),
        chunk_events=draw(st.sampled_from([10_000, 97])),
    )
    return seed, n_events, np.array(rows, dtype=np.int64), cfg, draw(st.booleans())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions())
def test_conservation_and_lifecycle(session) -> None:  # type: ignore[no-untyped-def]
    seed, n_events, script, cfg, executes = session
    deltas, trades = random_stream(n_events, seed=seed, executes=executes)
    res = run_backtest(
        deltas, trades, instrument=Instrument(symbol="P", tick_size="0.01"), config=cfg, script=script
    )
    f = res.fills_detail.sort("fill_index")
    o = res.orders
    signed = (f["side"].cast(pl.Int64) * f["size"]).to_numpy()
    # position == sum of signed fills, after every fill
    assert np.array_equal(np.cumsum(signed), f["position_after"].to_numpy())
    assert res.summary["final_position_units"] == signed.sum()
    # cash == -sum(signed notional) - fees
    notional = f["side"].to_numpy() * f["price"].to_numpy() * 1e-9 * f["size"].to_numpy()
    assert res.summary["cash"] == pytest.approx(-notional.sum() - f["fee"].sum(), rel=1e-9, abs=1e-9)
    fm = cfg.execution.fees
    assert f["fee"].to_list() == pytest.approx(
        [fm.fee(p * 1e-9 * q, q, m) for p, q, m in zip(f["price"], f["size"], f["maker"], strict=True)],
        rel=1e-12,
    )
    # equity = cash + position x mark
    e = res.equity
    assert np.allclose(
        e["equity"].to_numpy(), (e["cash"] + e["position"] * e["mid"]).to_numpy(), rtol=0, atol=1e-9
    )
    # one ORDERS row per order id; filled <= size; fills add up to filled
    assert o["order_id"].n_unique() == o.height
    assert o["order_id"].to_list() == list(range(1, o.height + 1))
    assert (o["filled"] <= o["size"]).all()
    per = f.group_by("order_id").agg(pl.col("size").sum().alias("sum"))
    joined = o.join(per, on="order_id", how="left").with_columns(pl.col("sum").fill_null(0))
    assert (joined["sum"] == joined["filled"]).all()
    # lifecycle: fills inside [arrival, done]; market/IOC/FOK never rest (never maker); entry latency
    fo = f.join(
        o.select("order_id", "ts_exchange", "ts_done", "order_type", "tif"), on="order_id", suffix="_o"
    )
    assert (fo["ts_exchange"] >= fo["ts_exchange_o"]).all()
    assert ((fo["ts_done"] < 0) | (fo["ts_exchange"] <= fo["ts_done"])).all()
    takers_only = fo.filter((pl.col("order_type") == 0) | pl.col("tif").is_in([1, 2]))
    assert not takers_only["maker"].any()
    post = fo.filter(pl.col("tif") == 3)
    assert post["maker"].all()
    fok = o.filter(pl.col("tif") == 2)
    assert ((fok["filled"] == 0) | (fok["filled"] == fok["size"])).all()
    t_last = max(int(deltas["ts_event"].max()), int(trades["ts_event"].max() or 0))  # type: ignore[arg-type]
    flatten = (
        (pl.col("order_type") == 0) & (pl.col("ts_submit") == t_last) & (pl.col("ts_exchange") == t_last)
    )
    arrived = o.filter((pl.col("ts_exchange") >= 0) & ~flatten)  # the end-of-stream flatten has no latency
    assert ((arrived["ts_exchange"] - arrived["ts_submit"]) == cfg.execution.latency.submit_ns).all()
    if cfg.flatten_at_end and res.summary["flatten_unfilled_units"] == 0:
        assert res.summary["final_position_units"] == 0
    # the kernel's running spread-capture total equals the per-fill recomputation
    mid = f["mid_at_fill"].to_numpy()
    sc = np.where(
        np.isnan(mid), 0.0, f["side"].to_numpy() * (mid - f["price"].to_numpy() * 1e-9) * f["size"].to_numpy()
    )
    assert res.summary["spread_capture"] == pytest.approx(sc.sum(), rel=1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions())
def test_passive_fills_never_exceed_the_flow_that_could_fill_them(session) -> None:  # type: ignore[no-untyped-def]
    """Per venue message, our passive fills are bounded by the aggressive volume printed (trades or
    executions) plus the new liquidity that crossed us: no volume is handed out twice."""
    seed, n_events, script, cfg, executes = session
    deltas, trades = random_stream(n_events, seed=seed, executes=executes)
    res = run_backtest(
        deltas, trades, instrument=Instrument(symbol="P", tick_size="0.01"), config=cfg, script=script
    )
    maker = (
        res.fills.filter(pl.col("maker")).group_by("ts_exchange").agg(pl.col("size").sum().alias("filled"))
    )
    if maker.height == 0:
        return
    flow = pl.concat(
        [
            trades.select(pl.col("ts_event").alias("ts_exchange"), pl.col("size")),
            deltas.filter(pl.col("action").is_in([1, 3, 4])).select(
                pl.col("ts_event").alias("ts_exchange"), "size"
            ),
        ]
    )
    bound = flow.group_by("ts_exchange").agg(pl.col("size").sum().alias("bound"))
    joined = maker.join(bound, on="ts_exchange", how="left").with_columns(pl.col("bound").fill_null(0))
    assert (joined["filled"] <= joined["bound"]).all(), joined.filter(pl.col("filled") > pl.col("bound"))
