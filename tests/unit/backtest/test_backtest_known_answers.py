"""Hand-worked sessions: a dozen events each, the expected fills written out by hand.

Prices are in cents below (``c(10001)`` = 100.01 in 1e-9 units); the instrument has tick 0.01 and
size unit 1. The strategy is a script: ``(t_local, kind, side, type, tif, price, size, target_oid)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from orderflow.backtest import BacktestConfig, StrategyConfig, run_backtest
from orderflow.backtest.synthetic import make_frames
from orderflow.core.execution import ExecutionModel, FeeModel, LatencyModel
from orderflow.core.instruments import Instrument

INST = Instrument(symbol="TEST", tick_size="0.01")
BID, ASK = 1, -1
ADD, REDUCE, EXECUTE, SET = 1, 2, 3, 4
SUBMIT, CANCEL, MODIFY = 1, 2, 3
MARKET, LIMIT = 0, 1
GTC, IOC, FOK, POST = 0, 1, 2, 3
NOPX = 2**63 - 1


def c(cents: int) -> int:
    return cents * 10_000_000


def cfg(queue: str = "conservative", fees: FeeModel | None = None, **lat: int) -> BacktestConfig:
    return BacktestConfig(
        execution=ExecutionModel(latency=LatencyModel(**lat), fees=fees or FeeModel(), queue=queue),
        strategy=StrategyConfig(name="script"),
        wake_interval_ns=0,
        flatten_at_end=False,
        equity_interval_ns=1_000,
        markout_horizons_ns=(50,),
    )


def run(deltas, trades, script, config):  # type: ignore[no-untyped-def]
    d, t = make_frames(deltas, trades)
    return run_backtest(d, t, instrument=INST, config=config, script=np.array(script, dtype=np.int64))


def fills(res):  # type: ignore[no-untyped-def]
    return [
        (r["order_id"], r["ts_exchange"], r["price"], r["size"], r["maker"])
        for r in res.fills.iter_rows(named=True)
    ]


def order(res, oid):  # type: ignore[no-untyped-def]
    row = res.orders.filter(res.orders["order_id"] == oid).row(0, named=True)
    return row["filled"], row["status"]


BOOK = [  # t, seq, side, action, price, size
    (10, 1, BID, SET, c(9999), 5),
    (10, 2, BID, SET, c(9998), 7),
    (10, 3, ASK, SET, c(10001), 5),
    (10, 4, ASK, SET, c(10002), 3),
    (10, 5, ASK, SET, c(10003), 4),
    (10, 6, ASK, SET, c(10004), 10),
]


def test_market_order_sweeps_three_levels_and_consumes_them() -> None:
    # buy 10 at t=100: 5 @ 100.01, 3 @ 100.02, 2 @ 100.03. Then buy 5 at t=200, no feed update in
    # between: the 8 shares taken from 100.01/100.02 are gone, 2 are left at 100.03, then 100.04.
    deltas = [*BOOK, (300, 7, BID, ADD, c(9999), 1)]
    script = [
        (100, SUBMIT, BID, MARKET, IOC, NOPX, 10, 0),
        (200, SUBMIT, BID, MARKET, IOC, NOPX, 5, 0),
    ]
    res = run(deltas, [], script, cfg(fees=FeeModel(taker_bps=1.0)))
    assert fills(res) == [
        (1, 100, c(10001), 5, False),
        (1, 100, c(10002), 3, False),
        (1, 100, c(10003), 2, False),
        (2, 200, c(10003), 2, False),
        (2, 200, c(10004), 3, False),
    ]
    assert order(res, 1) == (10, 1) and order(res, 2) == (5, 1)
    notional = 5 * 100.01 + 3 * 100.02 + 2 * 100.03 + 2 * 100.03 + 3 * 100.04
    fee_expected = [5 * 100.01e-4, 3 * 100.02e-4, 2 * 100.03e-4, 2 * 100.03e-4, 3 * 100.04e-4]
    assert res.fills["fee"].to_list() == pytest.approx(fee_expected, rel=1e-12)
    assert res.summary["final_position_units"] == 15
    assert res.summary["cash"] == pytest.approx(-notional - sum(fee_expected), rel=1e-12)
    # spread capture against the mid at the fill (100.00): each bought share paid (price - 100.00)
    spread = -(5 * 0.01 + 3 * 0.02 + 2 * 0.03 + 2 * 0.03 + 3 * 0.04)
    assert res.summary["spread_capture"] == pytest.approx(spread, abs=1e-9)


def test_market_order_partial_when_depth_runs_out() -> None:
    # (the strategy only wakes while there is data: an event at t=300 keeps the session open)
    script = [(100, SUBMIT, ASK, MARKET, IOC, NOPX, 20, 0)]
    res = run([*BOOK, (300, 7, ASK, ADD, c(10001), 1)], [], script, cfg())
    assert fills(res) == [(1, 100, c(9999), 5, False), (1, 100, c(9998), 7, False)]
    assert order(res, 1) == (12, 4)  # expired with 12 of 20


def test_limit_order_behind_queue_trades_through() -> None:
    # our buy 3 @ 99.99 joins behind 5 (q = 5). Sellers hit 99.99: 2 (q 3), 2 (q 1), 3 (1 to the queue,
    # 2 to us), 4 (1 to us: filled). Each trade is followed in the same message by the level shrinking;
    # that shrink must not be counted again as a cancel.
    deltas = [
        *BOOK,
        (200, 8, BID, REDUCE, c(9999), 2),
        (300, 10, BID, REDUCE, c(9999), 2),
        (400, 12, BID, REDUCE, c(9999), 1),
        (500, 14, BID, SET, c(9999), 0),
        (600, 15, BID, ADD, c(9999), 9),
    ]
    trades = [
        (200, 8, c(9999), 2, -1),
        (300, 10, c(9999), 2, -1),
        (400, 12, c(9999), 3, -1),
        (500, 14, c(9999), 4, -1),
    ]
    script = [(100, SUBMIT, BID, LIMIT, GTC, c(9999), 3, 0)]
    for queue in ("conservative", "probabilistic"):
        res = run(deltas, trades, script, cfg(queue=queue))
        assert fills(res) == [(1, 400, c(9999), 2, True), (1, 500, c(9999), 1, True)], queue
        assert order(res, 1) == (3, 1)


def test_trade_through_our_price_fills_us() -> None:
    # our sell 2 @ 100.02 behind 3; a buyer prints 4 @ 100.03: our level was swept, we are filled.
    deltas = [*BOOK, (200, 8, ASK, REDUCE, c(10003), 4)]
    trades = [(200, 8, c(10003), 4, 1)]
    res = run(deltas, trades, [(100, SUBMIT, ASK, LIMIT, GTC, c(10002), 2, 0)], cfg())
    assert fills(res) == [(1, 200, c(10002), 2, True)]


def test_cancel_ahead_of_us_reduces_but_never_resets_queue() -> None:
    # level 99.99 has 5; we join (q = 5); 6 more join behind us (level 11); 4 are cancelled.
    deltas = [
        *BOOK,
        (200, 8, BID, ADD, c(9999), 6),
        (300, 9, BID, REDUCE, c(9999), 4),
        (350, 10, ASK, REDUCE, c(10004), 10),  # an unrelated cancel elsewhere: no effect on our queue
        (400, 11, BID, REDUCE, c(9999), 3),  # the trade below shrinks the level
        (500, 12, BID, REDUCE, c(9999), 2),
    ]
    trades = [(400, 11, c(9999), 3, -1), (500, 12, c(9999), 2, -1)]
    script = [(100, SUBMIT, BID, LIMIT, GTC, c(9999), 2, 0)]
    # conservative: the cancel came from behind (level 7 >= q 5); trades 3 -> q 2, then 2 -> q 0: no fill
    res = run(deltas, trades, script, cfg(queue="conservative"))
    assert fills(res) == []
    # probabilistic (power 2): front 5, back 6, prob(behind) = 36 / 61; q = 5 - 4 * 25 / 61
    q = 5 - 4 * (1 - 36 / 61)
    after = q - 3
    fill = math.floor(2 - after + 1e-9)
    res = run(deltas, trades, script, cfg(queue="probabilistic"))
    assert fill == 1
    assert fills(res) == [(1, 500, c(9999), 1, True)]
    # log family: prob(behind) = log(7) / (log(6) + log(7))
    p = math.log(7) / (math.log(6) + math.log(7))
    q = 5 - 4 * (1 - p)
    fill = math.floor(2 - (q - 3) + 1e-9)
    cfg_log = cfg(queue="probabilistic").model_copy(update={"queue_family": "log"})
    res = run(deltas, trades, script, cfg_log)
    assert [f[3] for f in fills(res)] == ([fill] if fill > 0 else [])


def test_fifo_queue_on_order_level_data() -> None:
    # venue order 1 (5 @ 99.99) is ahead of us, venue order 2 (6) behind us.
    deltas = [
        (10, 1, BID, ADD, c(9999), 5, 1),
        (10, 2, ASK, ADD, c(10001), 5, 9),
        (200, 3, BID, ADD, c(9999), 6, 2),
        (300, 4, BID, REDUCE, c(9999), 4, 2),  # behind us: q stays 5
        (400, 5, BID, REDUCE, c(9999), 2, 1),  # ahead: q 3
        (500, 6, BID, EXECUTE, c(9999), 3, 1),  # ahead, executes: q 0, no fill for us
        (600, 7, BID, EXECUTE, c(9999), 1, 2),  # behind us executes: we would have been hit first
    ]
    script = [(100, SUBMIT, BID, LIMIT, GTC, c(9999), 2, 0)]
    res = run(deltas, [], script, cfg(queue="fifo"))
    assert fills(res) == [(1, 600, c(9999), 1, True)]
    assert order(res, 1) == (1, 0)  # still open at the end


def test_latency_makes_an_order_miss_a_price() -> None:
    # at t=100 the strategy (no feed delay) sends IOC buy 5 @ 100.01; at t=120 someone takes 100.01.
    deltas = [*BOOK, (120, 7, ASK, REDUCE, c(10001), 5), (300, 8, BID, ADD, c(9998), 1)]
    trades = [(120, 7, c(10001), 5, 1)]
    script = [(100, SUBMIT, BID, LIMIT, IOC, c(10001), 5, 0), (130, SUBMIT, BID, MARKET, IOC, NOPX, 5, 0)]
    fast = run(deltas, trades, script, cfg())
    assert fills(fast)[0] == (1, 100, c(10001), 5, False)
    slow = run(deltas, trades, script, cfg(submit_ns=50))
    # order 1 arrives at 150 after the level is gone: expires unfilled; order 2 arrives at 180 -> 100.02
    assert order(slow, 1) == (0, 4)
    assert fills(slow) == [(2, 180, c(10002), 3, False), (2, 180, c(10003), 2, False)]
    assert slow.orders["ts_exchange"].to_list() == [150, 180]


def test_partial_fill_then_cancel() -> None:
    # our sell 5 @ 100.01 behind 5. Buyers take 7 (q 0, 2 to us); we cancel at t=300 (arrives 310);
    # a buyer at t=320 would have filled us but the order is gone. A second cancel is rejected.
    deltas = [*BOOK, (200, 7, ASK, REDUCE, c(10001), 5), (320, 8, ASK, SET, c(10001), 0)]
    trades = [(200, 7, c(10001), 7, 1), (320, 8, c(10001), 3, 1)]
    script = [
        (100, SUBMIT, ASK, LIMIT, GTC, c(10001), 5, 0),
        (300, CANCEL, 0, 0, 0, 0, 0, 1),
        (400, CANCEL, 0, 0, 0, 0, 0, 1),
    ]
    res = run(deltas, trades, script, cfg(cancel_ns=10))
    assert fills(res) == [(1, 200, c(10001), 2, True)]
    row = res.orders.row(0, named=True)
    assert (row["filled"], row["status"], row["ts_done"]) == (2, 2, 310)
    assert res.summary["final_position_units"] == -2


def test_two_orders_compete_for_the_same_liquidity() -> None:
    # two market buys reach the exchange at the same instant: the second cannot reuse the 5 @ 100.01.
    script = [
        (100, SUBMIT, BID, MARKET, IOC, NOPX, 4, 0),
        (100, SUBMIT, BID, MARKET, IOC, NOPX, 4, 0),
    ]
    res = run([*BOOK, (300, 7, ASK, ADD, c(10001), 1)], [], script, cfg())
    assert fills(res) == [
        (1, 100, c(10001), 4, False),
        (2, 100, c(10001), 1, False),
        (2, 100, c(10002), 3, False),
    ]
    # two resting sells at 100.01 (3 then 4, behind 5): a buyer takes 9 -> 5 queue, 3 to #1, 1 to #2.
    deltas = [*BOOK, (200, 7, ASK, REDUCE, c(10001), 5)]
    trades = [(200, 7, c(10001), 9, 1)]
    script = [
        (100, SUBMIT, ASK, LIMIT, GTC, c(10001), 3, 0),
        (101, SUBMIT, ASK, LIMIT, GTC, c(10001), 4, 0),
    ]
    res = run(deltas, trades, script, cfg())
    assert fills(res) == [(1, 200, c(10001), 3, True), (2, 200, c(10001), 1, True)]


def test_post_only_fok_and_modify() -> None:
    deltas = [*BOOK, (300, 7, BID, ADD, c(9999), 4), (400, 8, BID, REDUCE, c(9999), 9)]
    trades = [(400, 8, c(9999), 9, -1)]
    script = [
        (100, SUBMIT, BID, LIMIT, POST, c(10001), 1, 0),  # would cross: rejected
        (100, SUBMIT, BID, LIMIT, FOK, c(10002), 9, 0),  # only 8 within 100.02: nothing fills
        (100, SUBMIT, BID, LIMIT, POST, c(9999), 3, 0),  # rests behind 5
        (200, MODIFY, 0, 0, 0, c(9999), 2, 3),  # size down: keeps its place (q 5)
        # the 4 added at t=300 are behind us; a seller takes 9: 5 ahead, then our 2
    ]
    res = run(deltas, trades, script, cfg())
    assert order(res, 1) == (0, 3)
    assert order(res, 2) == (0, 4)
    assert fills(res) == [(3, 400, c(9999), 2, True)]
    assert res.orders.filter(res.orders["order_id"] == 3)["size"].item() == 2


def test_quantile_taker_asymmetric_thresholds_with_hysteresis() -> None:
    import polars as pl

    from orderflow.core.schema import PREDICTIONS, validate

    deltas = [(1_000, 1, BID, SET, c(9999), 100), (2_000, 2, ASK, SET, c(10001), 100)]
    deltas += [(1_000 * s, s, BID, ADD, c(9998), 1) for s in range(3, 12)]
    # (seq, q_05, q_95): long needs q_05 > 1.0 and exits below 0.2; short needs q_95 < -2.0, exits above -0.5
    preds = [(3, 0.5, 3.0), (4, 1.5, 3.0), (5, 0.3, 2.0), (6, 0.1, 2.0), (7, -5.0, -1.5), (8, -5.0, -2.5),
             (9, -5.0, -0.7), (10, -5.0, -0.3)]  # fmt: skip
    p = validate(
        pl.DataFrame(
            {
                "ts_event": [1_000 * s for s, _, _ in preds],
                "seq": [s for s, _, _ in preds],
                "fold": [0] * len(preds),
                "q_05": [lo for _, lo, _ in preds],
                "q_95": [hi for _, _, hi in preds],
            },
            schema_overrides={"fold": pl.Int32},
        ),
        PREDICTIONS,
    )
    params = {"long_entry": 1.0, "long_exit": 0.2, "short_entry": 2.0, "short_exit": 0.5, "max_position": 1.0,
              "order_size": 2.0}  # fmt: skip
    config = BacktestConfig(
        strategy=StrategyConfig(name="quantile_taker", params=params),
        wake_interval_ns=0,
        every_event=True,
        flatten_at_end=False,
        markout_horizons_ns=(500,),
    )
    d, t = make_frames(deltas, [])
    res = run_backtest(d, t, instrument=INST, config=config, predictions=p)
    got = [(r["ts_exchange"], r["side"], r["price"], r["size"]) for r in res.fills.iter_rows(named=True)]
    assert got == [
        (4_000, 1, c(10001), 1),
        (6_000, -1, c(9999), 1),
        (8_000, -1, c(9999), 1),
        (10_000, 1, c(10001), 1),
    ]
    # markout 500 ns later: the mid never moves (100.00), so each fill lost half the spread
    assert res.fills_detail["markout_bps_500ns"].to_list() == pytest.approx([-1.0] * 4, abs=1e-9)


def test_risk_limits_reject_before_sending() -> None:
    deltas = [*BOOK, (5_000_000_000, 7, BID, ADD, c(9998), 1)]
    script = [
        (100, SUBMIT, BID, LIMIT, GTC, c(9990), 1, 0),
        (200, SUBMIT, BID, LIMIT, GTC, c(9990), 1, 0),
        (300, SUBMIT, BID, LIMIT, GTC, c(9990), 1, 0),  # 3rd order within one second: rate limit
        (1_000_000_200, SUBMIT, BID, LIMIT, GTC, c(9990), 1, 0),  # one second after the 2nd: allowed
        (2_000_000_000, SUBMIT, ASK, LIMIT, GTC, c(10010), 3, 0),  # worst case 3 x 100.00 = 300 > 250
        (2_000_000_000, SUBMIT, BID, LIMIT, GTC, c(9990), 3, 0),  # worst case 3 open + 3 = 6 > max_position 5
    ]
    config = cfg().model_copy(
        update={
            "limits": cfg().limits.model_copy(
                update={"max_orders_per_s": 2, "max_notional": 600.0, "max_position": 5}
            )
        }
    )
    res = run(deltas, [], script, config)
    st = dict(zip(res.orders["order_id"].to_list(), res.orders["status"].to_list(), strict=True))
    assert st == {1: 0, 2: 0, 3: 3, 4: 0, 5: 0, 6: 3}
    assert res.summary["rejected_rate_limit"] == 1 and res.summary["rejected_position_limit"] == 1
    tight = config.model_copy(update={"limits": config.limits.model_copy(update={"max_notional": 250.0})})
    res = run(deltas, [], script, tight)
    st = dict(zip(res.orders["order_id"].to_list(), res.orders["status"].to_list(), strict=True))
    # checks run position -> notional -> rate: a 3rd bid (worst case long 3 = 300.00 at the mid > 250)
    # is refused for notional, at t=300 (order 3) and later (order 4); so are 5 (short 3) and 6 (long 5)
    assert st == {1: 0, 2: 0, 3: 3, 4: 3, 5: 3, 6: 3}
    assert res.summary["rejected_notional_limit"] == 4 and res.summary["rejected_rate_limit"] == 0
