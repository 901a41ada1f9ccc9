"""Labels against hand-worked books: forward returns on three clocks, executable returns, triple barrier."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from orderflow.core.errors import ConfigError
from orderflow.core.execution import ExecutionModel, FeeModel, LatencyModel
from orderflow.labels import (
    LabelConfig,
    book_arrays,
    classify,
    compute_labels,
    label_partition,
    parse_horizon,
    regime_scales,
    regime_thresholds,
    smoothed_mean_return,
)
from orderflow.labels._kernels import (
    ewma_vol_kernel,
    executable_return_kernel,
    forward_return_kernel,
    taker_fee,
    triple_barrier_kernel,
)

S = 1_000_000_000
BIDS = [100.00, 100.02, 100.00, 100.04]  # best bid per row; best ask = bid + 0.02, second levels 1 cent away
TS = [0, 1 * S, 3 * S // 2, 3 * S]


def _book(bids: list[float] = BIDS, ts: list[int] = TS) -> pl.DataFrame:
    n = len(bids)
    b0 = np.round(np.array(bids) * 1e9).astype(np.int64)
    c = 10_000_000
    return pl.DataFrame(
        {
            "ts_event": np.array(ts, dtype=np.int64),
            "ts_recv": np.array(ts, dtype=np.int64),
            "seq": np.arange(n, dtype=np.int64),
            "bid_px_00": b0,
            "bid_px_01": b0 - c,
            "bid_sz_00": np.full(n, 2),
            "bid_sz_01": np.full(n, 5),
            "ask_px_00": b0 + 2 * c,
            "ask_px_01": b0 + 3 * c,
            "ask_sz_00": np.full(n, 2),
            "ask_sz_01": np.full(n, 5),
        }
    )


def _cfg(**kw: object) -> LabelConfig:
    base: dict[str, object] = {
        "horizons": ("1s", "1ev"),
        "target": "1s",
        "triple_barrier": False,
        "executable": False,
    }
    base.update(kw)
    return LabelConfig.model_validate(base)


def _bps(a: float, b: float) -> float:
    return (b - a) / a * 1e4


def test_parse_horizon() -> None:
    assert parse_horizon("500ms").amount == 500_000_000 and parse_horizon("500ms").clock == "time"
    assert parse_horizon("100ev").clock == "event" and parse_horizon("100ev").amount == 100
    assert parse_horizon("25vol").clock == "volume"
    with pytest.raises(ConfigError):
        parse_horizon("10 bananas")


def test_forward_mid_returns_time_and_event_clock_hand_worked() -> None:
    book = _book()
    lab = label_partition(book, book.select("ts_event", "seq"), _cfg(), ExecutionModel())
    mids = [b + 0.01 for b in BIDS]
    # 1s: row0 -> book as of 1s (row1); row1 -> as of 2s (row2); row2 -> as of 2.5s (row2); row3 past the data
    exp_t = [_bps(mids[0], mids[1]), _bps(mids[1], mids[2]), 0.0, np.nan]
    np.testing.assert_allclose(lab["y_midret_1s"].to_numpy(), exp_t, rtol=1e-9, atol=1e-9)
    exp_e = [_bps(mids[0], mids[1]), _bps(mids[1], mids[2]), _bps(mids[2], mids[3]), np.nan]
    np.testing.assert_allclose(lab["y_midret_1ev"].to_numpy(), exp_e, rtol=1e-9, atol=1e-9)
    assert lab["t_end_ns"].to_list() == [1 * S, 2 * S, 5 * S // 2, -1]
    # microprice with equal touch sizes is the mid
    np.testing.assert_allclose(lab["y_microret_1s"].to_numpy(), exp_t, rtol=1e-9, atol=1e-9)


def test_volume_clock_hand_worked() -> None:
    book = _book()
    trades = pl.DataFrame({"seq": [1, 2, 3], "size": [5, 5, 10]})
    lab = label_partition(
        book,
        book.select("ts_event", "seq"),
        _cfg(horizons=("10vol",), target="1s"),
        ExecutionModel(),
        trades=trades,
    )
    mids = [b + 0.01 for b in BIDS]
    # cumulative volume per book row: 0, 5, 10, 20 -> 10 more units: row0 -> row2, row1 -> row3, row2 -> row3
    exp = [_bps(mids[0], mids[2]), _bps(mids[1], mids[3]), _bps(mids[2], mids[3]), np.nan]
    np.testing.assert_allclose(lab["y_midret_10vol"].to_numpy(), exp, rtol=1e-9, atol=1e-9)
    with pytest.raises(ConfigError):
        label_partition(book, book.select("ts_event", "seq"), _cfg(horizons=("10vol",)), ExecutionModel())


def test_executable_return_walks_the_book_and_pays_fees() -> None:
    book = _book()
    ex = ExecutionModel(order_size=3, fees=FeeModel(taker_bps=1.0))
    lab = label_partition(book, book.select("ts_event", "seq"), _cfg(executable=True), ex)
    # row 0 long: buy 2 @ 100.02 + 1 @ 100.03 (asks of row 0); sell 2 @ 100.02 + 1 @ 100.01 (bids of row 1)
    buy = 2 * 100.02 + 100.03
    sell = 2 * 100.02 + 100.01
    fees = (buy + sell) * 1e-4
    assert lab["y_exec_long_1s"][0] == pytest.approx((sell - buy - fees) / buy * 1e4, rel=1e-9)
    # row 0 short: sell 2 @ 100.00 + 1 @ 99.99 (bids row 0), buy back 2 @ 100.04 + 1 @ 100.05 (asks row 1)
    s_in = 2 * 100.00 + 99.99
    b_out = 2 * 100.04 + 100.05
    assert lab["y_exec_short_1s"][0] == pytest.approx(
        (s_in - b_out - (s_in + b_out) * 1e-4) / s_in * 1e4, rel=1e-9
    )
    # an order larger than the displayed depth (7): NaN, or the rest priced at the deepest level
    nan_cfg = _cfg(executable=True, insufficient_depth="nan")
    big = label_partition(book, book.select("ts_event", "seq"), nan_cfg, ExecutionModel(order_size=8))
    assert np.isnan(big["y_exec_long_1s"].to_numpy()).all()
    ext = label_partition(
        book, book.select("ts_event", "seq"), _cfg(executable=True), ExecutionModel(order_size=8)
    )
    buy8 = 2 * 100.02 + 6 * 100.03
    sell8 = 2 * 100.02 + 6 * 100.01
    assert ext["y_exec_long_1s"][0] == pytest.approx((sell8 - buy8) / buy8 * 1e4, rel=1e-9)


def test_executable_return_uses_the_book_after_latency() -> None:
    book = _book()
    ex = ExecutionModel(order_size=1, latency=LatencyModel(submit_ns=600_000_000))
    lab = label_partition(book, book.select("ts_event", "seq"), _cfg(executable=True), ex)
    # row 0: entry at the book as of 0.6 s (row 0), exit decided at 1 s, arrives 1.6 s: book row 2
    assert lab["y_exec_long_1s"][0] == pytest.approx((100.00 - 100.02) / 100.02 * 1e4, rel=1e-9)
    assert lab["t_end_ns"][0] == 1_600_000_000
    # row 1 (t = 1 s): entry as of 1.6 s is row 2 (asks 100.02); exit as of 2.6 s is row 2 (bid 100.00)
    assert lab["y_exec_long_1s"][1] == pytest.approx((100.00 - 100.02) / 100.02 * 1e4, rel=1e-9)


def test_fee_formula_matches_execution_model() -> None:
    fm = FeeModel(taker_bps=2.5, taker_per_unit=0.001, min_fee=0.5)
    for notional, units in ((1000.0, 10.0), (10.0, 1.0), (1e6, 500.0)):
        assert taker_fee(notional, units, 2.5, 0.001, 0.5) == pytest.approx(
            fm.fee(notional, units, maker=False)
        )


def test_triple_barrier_hand_worked() -> None:
    ts = np.array(TS, dtype=np.int64)
    mid = np.array([b + 0.01 for b in BIDS])
    start = np.arange(4, dtype=np.int64)
    up = np.full(4, 1.5)
    lab, t_end, ret = triple_barrier_kernel(start, ts + 2 * S, ts, mid, up, up, False)
    # row0: +2.0 bps at 1 s -> upper; row1: -2.0 bps at 1.5 s -> lower; row2: +4 bps at 3 s (window ends 3.5 s)
    assert lab[:3].tolist() == [1, -1, 1]
    assert t_end[:3].tolist() == [1 * S, 3 * S // 2, 3 * S]
    assert lab[3] == -2  # window past the data
    wide = np.full(4, 50.0)
    lab2, t2, _ = triple_barrier_kernel(start, ts + 2 * S, ts, mid, wide, wide, False)
    assert lab2[0] == 0 and t2[0] == 2 * S  # time limit
    lab3, _, _ = triple_barrier_kernel(start, ts + 2 * S, ts, mid, wide, wide, True)
    assert lab3[0] == 0  # back at the start price at the limit: sign 0
    for a, b in zip(
        triple_barrier_kernel.py_func(start, ts + 2 * S, ts, mid, up, up, False),
        (lab, t_end, ret),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_kernel_twins_agree(rng: np.random.Generator) -> None:
    n = 300
    ts = np.cumsum(rng.integers(1, 10_000_000, n)).astype(np.int64)
    px = 100 + np.cumsum(rng.choice([-0.01, 0.0, 0.01], n))
    start = np.arange(n, dtype=np.int64)
    end = np.minimum(start + 5, n - 1)
    end[-3:] = -1
    np.testing.assert_array_equal(
        forward_return_kernel(start, end, px), forward_return_kernel.py_func(start, end, px)
    )
    np.testing.assert_allclose(ewma_vol_kernel(ts, px, 1e8), ewma_vol_kernel.py_func(ts, px, 1e8), rtol=1e-12)
    bp = np.column_stack([px, px - 0.01])
    ap = bp + 0.02
    sz = np.full((n, 2), 3.0)
    a = executable_return_kernel(start, end, bp, sz, ap, sz, 7.0, 1.0, 0.0, 0.0, 1.0, True)
    b = executable_return_kernel.py_func(start, end, bp, sz, ap, sz, 7.0, 1.0, 0.0, 0.0, 1.0, True)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_labels_only_look_forward_and_never_cross_partitions() -> None:
    b1 = _book().with_columns(pl.lit("X").alias("instrument"), pl.lit("2024-01-02").alias("date"))
    b2 = _book([50.0, 50.5, 51.0, 49.0]).with_columns(
        pl.lit("X").alias("instrument"), pl.lit("2024-01-03").alias("date")
    )
    book = pl.concat([b1, b2])
    rows = book.select("instrument", "date", "ts_event", "seq")
    lab = compute_labels(book, rows, _cfg(), ExecutionModel())
    y = lab["y_midret_1ev"].to_numpy()
    assert np.isnan(y[3]) and np.isnan(y[7])  # last row of each day: no next event inside the partition
    assert y[4] == pytest.approx(_bps(50.01, 50.51))
    ok = lab["t_end_ns"].to_numpy() >= 0
    assert (lab["t_end_ns"].to_numpy()[ok] >= lab["ts_event"].to_numpy()[ok]).all()
    # changing the past of a row leaves its label unchanged (labels use rows >= start only)
    past = _book([99.0, 100.02, 100.00, 100.04])
    l2 = label_partition(past, past.select("ts_event", "seq"), _cfg(), ExecutionModel())
    l1 = label_partition(_book(), _book().select("ts_event", "seq"), _cfg(), ExecutionModel())
    np.testing.assert_array_equal(l1["y_midret_1ev"].to_numpy()[1:], l2["y_midret_1ev"].to_numpy()[1:])


def test_smoothed_mean_label_fi2010() -> None:
    p = np.array([10.0, 11.0, 12.0, 13.0, 14.0])
    out = smoothed_mean_return(np.arange(5, dtype=np.int64), p, 2)
    np.testing.assert_allclose(
        out[:3], [(11.5 - 10) / 10 * 1e4, (12.5 - 11) / 11 * 1e4, (13.5 - 12) / 12 * 1e4]
    )
    assert np.isnan(out[3:]).all()


def test_classes_and_regime_scaled_thresholds() -> None:
    ret = np.array([3.0, -3.0, 0.5, 10.0, -1.0, 0.0])
    regime = np.array([0, 0, 0, 1, 1, 1])
    scales = regime_scales(ret, regime)
    assert scales[0] == pytest.approx(np.std([3.0, -3.0, 0.5]))
    thr = regime_thresholds(regime, scales, 0.5)
    np.testing.assert_allclose(thr, [0.5 * scales[0]] * 3 + [0.5 * scales[1]] * 3)
    assert classify(ret, thr).tolist() == [1, -1, 0, 1, 0, 0]
    assert classify(np.array([np.nan]), 0.0).tolist() == [0]


def test_triple_barrier_on_an_event_clock_target() -> None:
    book = _book()
    lab = label_partition(
        book,
        book.select("ts_event", "seq"),
        LabelConfig(horizons=("1ev",), target="1ev", barrier_k=1e-6),
        ExecutionModel(),
    )
    # vertical barrier = time of the next event; tiny barriers: the first move decides
    # row 0 has no volatility history yet (infinite barriers): it times out at the next event -> 0
    assert lab["y_tb_1ev"].to_list()[:3] == [0, -1, 1]
    assert lab["y_tb_1ev"][3] == -2


def test_triple_barrier_and_executable_in_one_call() -> None:
    book = _book()
    lab = label_partition(
        book,
        book.select("ts_event", "seq"),
        LabelConfig(horizons=("1s",), target="1s", smoothed=True, smoothed_k=1),
        ExecutionModel(),
    )
    assert {"y_tb_1s", "y_exec_long_1s", "y_exec_short_1s", "y_smooth_1ev"} <= set(lab.columns)
    assert lab["y_tb_1s"].dtype == pl.Int8
    assert book_arrays(book).n == 4
