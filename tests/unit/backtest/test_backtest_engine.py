"""Engine-level checks: the frictionless limit, streaming invariance, twin kernels, strategies, results."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from orderflow.backtest import BacktestConfig, BacktestEngine, StrategyConfig, run_backtest
from orderflow.backtest._kernels import run_chunk
from orderflow.backtest.synthetic import random_stream
from orderflow.core.errors import ConfigError, DataFormatError
from orderflow.core.execution import ExecutionModel, FeeModel, LatencyModel
from orderflow.core.instruments import Instrument
from orderflow.core.schema import PREDICTIONS, REGIMES, validate

INST = Instrument(symbol="SIM", tick_size="0.01")


def _mid_after_each_seq(deltas: pl.DataFrame) -> dict[int, float]:
    """Independent replay with a dict book (SET/REDUCE only, as random_stream emits)."""
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    mids: dict[int, float] = {}
    for r in deltas.iter_rows(named=True):
        book = bids if r["side"] == 1 else asks
        if r["action"] == 4:
            book[r["price"]] = r["size"]
        else:
            book[r["price"]] = book.get(r["price"], 0) - r["size"]
        if book[r["price"]] == 0:
            del book[r["price"]]
        if bids and asks:
            mids[r["seq"]] = (max(bids) + min(asks)) / 2 * 1e-9
    return mids


def _predictions(deltas: pl.DataFrame, every: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    seqs = np.unique(deltas["seq"].to_numpy())[50::every]
    sign = rng.choice([-1.0, 1.0], size=seqs.size)
    ts = deltas.group_by("seq").agg(pl.col("ts_event").last()).sort("seq")
    ts_map = dict(zip(ts["seq"].to_list(), ts["ts_event"].to_list(), strict=True))
    return validate(
        pl.DataFrame(
            {
                "ts_event": [ts_map[int(s)] for s in seqs],
                "seq": seqs.astype(np.int64),
                "fold": np.zeros(seqs.size, np.int32),
                "q_05": np.where(sign > 0, 1.0, -2.0),
                "q_95": np.where(sign > 0, 2.0, -1.0),
            }
        ),
        PREDICTIONS,
    )


def test_frictionless_limit_is_the_mid_to_mid_backtest() -> None:
    """Zero latency, zero fees, infinite size at mid: PnL = sum of position x mid change."""
    deltas, trades = random_stream(3_000, seed=7)
    preds = _predictions(deltas, every=97, seed=3)
    cfg = BacktestConfig(
        execution=ExecutionModel(order_size=1.0),
        strategy=StrategyConfig(name="quantile_taker", params={"max_position": 1.0, "order_size": 2.0}),
        wake_interval_ns=0,
        every_event=True,
        fill_model="mid",
        flatten_at_end=True,
    )
    res = run_backtest(deltas, trades, instrument=INST, config=cfg, predictions=preds)
    # independent: position after the prediction's event = its sign, held until the next one
    mids = _mid_after_each_seq(deltas)
    seqs = sorted(set(deltas["seq"].to_list()) | set(trades["seq"].to_list()))
    mid_path = []
    last = float("nan")
    for s in seqs:
        last = mids.get(s, last)
        mid_path.append(last)
    target = dict(zip(preds["seq"].to_list(), np.sign(preds["q_05"].to_numpy()).tolist(), strict=True))
    pos = 0.0
    pnl = 0.0
    for k, s in enumerate(seqs):
        if k and pos != 0:
            pnl += pos * (mid_path[k] - mid_path[k - 1])
        pos = target.get(s, pos)
    signs = [0.0, *np.sign(preds["q_05"].to_numpy()).tolist()]
    changes = sum(1 for a, b in itertools.pairwise(signs) if a != b)
    assert res.summary["n_fills"] == changes + 1  # one fill per change of target + the final flatten
    assert res.summary["pnl"] == pytest.approx(pnl, abs=1e-9)
    assert res.summary["spread_capture"] == pytest.approx(0.0, abs=1e-12)
    assert res.summary["final_position_units"] == 0


def _mm_config(**kw: object) -> BacktestConfig:
    base: dict[str, object] = {
        "execution": {
            "latency": {
                "feed_ns": 2_000,
                "submit_ns": 5_000,
                "cancel_ns": 4_000,
                "modify_ns": 4_000,
                "response_ns": 3_000,
            },
            "fees": {"maker_bps": -0.2, "taker_bps": 0.5, "min_fee": 0.0},
            "order_size": 3,
        },
        "strategy": {"name": "market_maker", "params": {"skew_ticks": 0.5}},
        "wake_interval_ns": 200_000,
        "equity_interval_ns": 1_000_000,
        "markout_horizons_ns": [50_000, 500_000],
    }
    base.update(kw)
    return BacktestConfig.model_validate(base)


def test_streaming_in_chunks_gives_identical_results() -> None:
    deltas, trades = random_stream(20_000, seed=11)
    one = run_backtest(deltas, trades, instrument=INST, config=_mm_config())
    many = run_backtest(deltas, trades, instrument=INST, config=_mm_config(chunk_events=1_234))
    assert many.summary["chunks"] > 10
    assert one.fills.equals(many.fills)
    assert one.orders.equals(many.orders)
    assert one.equity.equals(many.equity)
    assert one.fills.height > 20


def test_twin_plain_python_equals_jitted() -> None:
    deltas, trades = random_stream(1_500, seed=5)
    out = []
    for fn in (run_chunk, run_chunk.py_func):
        import orderflow.backtest.engine as eng_mod

        orig = eng_mod.run_chunk
        eng_mod.run_chunk = fn
        try:
            res = run_backtest(deltas, trades, instrument=INST, config=_mm_config())
        finally:
            eng_mod.run_chunk = orig
        out.append(res)
    assert out[0].fills.height > 0
    assert out[0].fills.equals(out[1].fills)
    assert out[0].orders.equals(out[1].orders)
    assert out[0].summary["pnl"] == out[1].summary["pnl"]


def test_market_maker_accounting_and_regimes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    deltas, trades = random_stream(20_000, seed=2)
    ts = deltas["ts_event"].to_numpy()
    regimes = validate(
        pl.DataFrame(
            {
                "ts_event": ts[::500],
                "seq": deltas["seq"].to_numpy()[::500],
                "regime": (np.arange(ts[::500].size) % 2).astype(np.int16),
            }
        ),
        REGIMES,
    )
    cfg = _mm_config(plots_dir=str(tmp_path / "plots"))
    res = run_backtest(deltas, trades, instrument=INST, config=cfg, regimes=regimes)
    s = res.summary
    f = res.fills
    signed = (f["side"].cast(pl.Int64) * f["size"]).to_numpy()
    # every fill: position == running sum of signed fills
    assert np.array_equal(np.cumsum(signed), res.fills_detail.sort("fill_index")["position_after"].to_numpy())
    notional = (f["price"].to_numpy() * 1e-9 * f["size"].to_numpy() * f["side"].to_numpy()).sum()
    assert s["cash"] == pytest.approx(-notional - f["fee"].sum(), rel=1e-9, abs=1e-9)
    # fees: the same rule as FeeModel.fee, fill by fill
    fm = cfg.execution.fees
    expect = [fm.fee(p * 1e-9 * q, q, m) for p, q, m in zip(f["price"], f["size"], f["maker"], strict=True)]
    assert f["fee"].to_list() == pytest.approx(expect, rel=1e-12)
    # PnL attribution adds up
    assert s["pnl"] == pytest.approx(s["spread_capture"] - s["fees"] + s["inventory_pnl"], abs=1e-9)
    e = res.equity
    assert np.allclose(e["equity"], e["cash"] + e["position"] * e["mid"])
    assert set(res.per_regime) <= {"0", "1", "none"} and len(res.per_regime) >= 2
    assert sum(m["n_fills"] for m in res.per_regime.values()) == f.height
    assert s["final_position_units"] == 0  # flattened
    assert all((tmp_path / "plots" / n).exists() for n in ("equity.png", "drawdown.png", "fills.png"))
    # orders: filled never exceeds size, and equals the sum of its fills
    per = f.group_by("order_id").agg(pl.col("size").sum().alias("sum")).join(res.orders, on="order_id")
    assert (per["sum"] == per["filled"]).all()
    assert (res.orders["filled"] <= res.orders["size"]).all()
    assert s["markout_bps_50us"] == s["markout_bps_50us"]  # computed (not NaN)
    out = res.write(tmp_path / "out")
    assert all(p.exists() for p in out)


def test_measured_feed_latency_delays_what_the_strategy_sees() -> None:
    deltas, trades = random_stream(5_000, seed=4, recv_latency_ns=50_000)
    lat = {"mode": "measured", "submit_ns": 1_000, "response_ns": 1_000}
    res = run_backtest(
        deltas, trades, instrument=INST, config=_mm_config(execution={"latency": lat, "order_size": 2})
    )
    o = res.orders.filter(pl.col("ts_exchange") >= 0)
    first_event = int(deltas["ts_event"].min())  # type: ignore[arg-type]
    # nothing can be sent before the first event has reached the strategy
    assert int(o["ts_submit"].min()) >= first_event + 50_000  # type: ignore[arg-type]
    assert (o["ts_exchange"] - o["ts_submit"] == 1_000).all()


def test_feed_latency_distribution_and_limits() -> None:
    deltas, trades = random_stream(5_000, seed=8)
    cfg = _mm_config(
        feed_latency_distribution={"median_ns": 20_000, "sigma": 0.3, "rate_ref_per_s": 1e6},
        limits={"max_position": 3, "max_orders_per_s": 1_000_000},
    )
    res = run_backtest(deltas, trades, instrument=INST, config=cfg)
    pos = res.fills_detail["position_after"].abs()
    assert int(pos.max()) <= 3  # type: ignore[arg-type]
    assert res.summary["n_fills"] > 0


def test_config_and_data_errors() -> None:
    with pytest.raises(ValueError, match="unknown parameter"):
        StrategyConfig(name="market_maker", params={"nope": 1.0})
    with pytest.raises(ValueError):
        BacktestConfig.model_validate({"wake": 1})
    deltas, trades = random_stream(100, seed=1)
    with pytest.raises(ConfigError, match="predictions"):
        run_backtest(
            deltas,
            trades,
            instrument=INST,
            config=BacktestConfig(strategy=StrategyConfig(name="quantile_taker")),
        )
    with pytest.raises(ConfigError, match="fifo"):
        run_backtest(
            deltas, trades, instrument=INST, config=BacktestConfig(execution=ExecutionModel(queue="fifo"))
        )
    bad = Instrument(symbol="SIM", tick_size="0.03")
    with pytest.raises(DataFormatError, match="tick"):
        run_backtest(deltas, trades, instrument=bad, config=BacktestConfig())
    eng = BacktestEngine(
        INST, BacktestConfig(execution=ExecutionModel(latency=LatencyModel(), fees=FeeModel()))
    )
    eng.feed(deltas, trades)
    with pytest.raises(DataFormatError, match="seq"):
        eng.feed(deltas, trades)


def test_feed_latency_conditioned_on_regime_and_lazy_input() -> None:
    deltas, trades = random_stream(2_000, seed=9)
    ts = deltas["ts_event"].to_numpy()
    cut = int(ts[1_000])
    regimes = validate(
        pl.DataFrame({"ts_event": [int(ts[0]), cut], "seq": [1, 2], "regime": np.array([0, 1], np.int16)}),
        REGIMES,
    )
    cfg = _mm_config(
        execution={"latency": {"feed_ns": 0}},
        feed_latency_distribution={"median_ns": 1_000, "sigma": 0.0, "regime_multipliers": [1.0, 50.0]},
    )
    eng = BacktestEngine(INST, cfg, regimes=regimes)
    ev = eng.prepare(deltas, trades)
    delay = ev.local - ev.ts
    calm = ev.ts < cut
    # as-of regime: 1 us in regime 0, 50 us from the cut on (the running max keeps the feed in order)
    assert (delay[calm] == 1_000).all()
    assert (delay[~calm] >= 50_000 - 1_000).all() and int(delay[~calm].max()) == 50_000
    eager = run_backtest(deltas, trades, instrument=INST, config=_mm_config(chunk_events=500))
    lazy = run_backtest(deltas.lazy(), trades.lazy(), instrument=INST, config=_mm_config(chunk_events=500))
    assert eager.fills.equals(lazy.fills) and eager.summary["chunks"] == lazy.summary["chunks"] > 3
