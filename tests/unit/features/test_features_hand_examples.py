"""Every feature against a tiny hand-worked book (numbers worked out on paper in the comments)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from orderflow.core.instruments import Instrument
from orderflow.features import FeatureConfig, MicropriceEstimator, compute_features

P = 1_000_000_000  # 1e-9 price units per dollar
UNDEF = 2**63 - 1
INST = Instrument(symbol="T", tick_size="0.01")


def px(d: float) -> int:
    return round(d * 100) * 10_000_000


def book(
    rows: list[tuple[list[tuple[float, int]], list[tuple[float, int]]]], ts: list[int] | None = None
) -> pl.DataFrame:
    L = max(max(len(b), len(a)) for b, a in rows)
    cols: dict[str, list[int]] = {"ts_event": ts or [i * 1_000_000_000 for i in range(len(rows))]}
    cols["ts_recv"] = cols["ts_event"]
    cols["seq"] = [10 * (i + 1) for i in range(len(rows))]
    for side, j in (("bid", 0), ("ask", 1)):
        for k in range(L):
            cols[f"{side}_px_{k:02d}"] = [px(r[j][k][0]) if k < len(r[j]) else UNDEF for r in rows]
        for k in range(L):
            cols[f"{side}_sz_{k:02d}"] = [r[j][k][1] if k < len(r[j]) else 0 for r in rows]
    return pl.DataFrame(cols, schema={c: pl.Int64 for c in cols})


# Row 0: bid 10.00x100, 9.99x200 | ask 10.02x50, 10.03x150
# Row 1: bid 10.01x30, 10.00x100 | ask 10.02x20, 10.03x150   (bid improves, ask queue shrinks)
# Row 2: bid 10.01x30, 10.00x100 | ask 10.03x150, 10.04x10   (best ask depleted)
ROWS = [
    ([(10.00, 100), (9.99, 200)], [(10.02, 50), (10.03, 150)]),
    ([(10.01, 30), (10.00, 100)], [(10.02, 20), (10.03, 150)]),
    ([(10.01, 30), (10.00, 100)], [(10.03, 150), (10.04, 10)]),
]


def trades_frame(rows: list[tuple[int, int, int, int]]) -> pl.DataFrame:
    """(seq, price_int, size, aggressor) -> TRADES."""
    n = len(rows)
    return pl.DataFrame(
        {
            "ts_event": [r[0] * 100_000_000 for r in rows],
            "ts_recv": [r[0] * 100_000_000 for r in rows],
            "seq": [r[0] for r in rows],
            "price": [r[1] for r in rows],
            "size": [r[2] for r in rows],
            "aggressor": pl.Series([r[3] for r in rows], dtype=pl.Int8),
            "kind": pl.Series([0] * n, dtype=pl.UInt8),
            "trade_id": pl.Series([0] * n, dtype=pl.UInt64),
            "order_id": pl.Series([0] * n, dtype=pl.UInt64),
            "flags": pl.Series([128] * n, dtype=pl.UInt8),
        },
        schema_overrides={
            "ts_event": pl.Int64,
            "ts_recv": pl.Int64,
            "seq": pl.Int64,
            "price": pl.Int64,
            "size": pl.Int64,
        },
    )


@pytest.fixture(scope="module")
def feats() -> pl.DataFrame:
    cfg = FeatureConfig(
        names=[
            "spread",
            "wmid",
            "imbalance",
            "ofi",
            "mlofi",
            "sweep",
            "depth",
            "shape",
            "queue",
            "trade_flow",
            "volatility",
        ],
        levels=2,
        sweep_sizes=[100, 500],
        queue_window_events=3,
        intensity_tau="1s",
        vol_window_ticks=2,
    )
    tr = trades_frame([(20, px(10.02), 10, 1), (30, px(10.01), 5, -1)])
    return compute_features(book(ROWS), tr, instrument=INST, config=cfg)


def test_spread_mid_wmid(feats: pl.DataFrame) -> None:
    assert feats["mid"].to_list() == pytest.approx([10.01, 10.015, 10.02])
    assert feats["spread_ticks"].to_list() == pytest.approx([2.0, 1.0, 2.0])
    assert feats["spread_bps"][0] == pytest.approx(0.02 / 10.01 * 1e4)
    # wmid = (qb * ask + qa * bid) / (qb + qa) = (100 * 10.02 + 50 * 10.00) / 150
    assert feats["wmid"][0] == pytest.approx(1502 / 150)
    assert feats["wmid_dev_ticks"][0] == pytest.approx((1502 / 150 - 10.01) / 0.01)


def test_imbalance(feats: pl.DataFrame) -> None:
    assert feats["imb_l1"].to_list() == pytest.approx([50 / 150, 10 / 50, (30 - 150) / 180])
    assert feats["imb_l2"].to_list() == pytest.approx([100 / 500, -40 / 300, (130 - 160) / 290])


def test_ofi_and_mlofi(feats: pl.DataFrame) -> None:
    # row 1, level 1: bid up -> +qb_n = 30; ask equal -> -qa_n + qa_n-1 = -20 + 50 => 60
    # row 2, level 1: bid equal -> 30 - 30; ask up -> +qa_n-1 = 20 => 20
    # level 2: row 1 bid 10.00 > 9.99 -> +100, ask equal 150 - 150 => 100; row 2 ask 10.04 > 10.03 -> +150
    assert math.isnan(feats["ofi_l1"][0])
    assert feats["ofi_l1"].to_list()[1:] == [60.0, 20.0]
    assert feats["mlofi_l1"].to_list()[1:] == [60.0, 20.0]
    assert feats["mlofi_l2"].to_list()[1:] == [100.0, 150.0]


def test_sweep(feats: pl.DataFrame) -> None:
    # buy 100 at row 0: 50 @ 10.02 + 50 @ 10.03 -> avg 10.025
    assert feats["sweep_bps_buy_100"][0] == pytest.approx((10.025 / 10.01 - 1) * 1e4)
    assert feats["sweep_fill_buy_100"][0] == 1.0
    # buy 500: only 200 displayed: (50 * 10.02 + 150 * 10.03) / 200
    assert feats["sweep_bps_buy_500"][0] == pytest.approx(((501 + 1504.5) / 200 / 10.01 - 1) * 1e4)
    assert feats["sweep_fill_buy_500"][0] == pytest.approx(0.4)
    # sell 100 at row 0: 100 @ 10.00
    assert feats["sweep_bps_sell_100"][0] == pytest.approx((1 - 10.00 / 10.01) * 1e4)
    # sell 500 at row 1: 30 @ 10.01 + 100 @ 10.00 = 130 fillable
    assert feats["sweep_fill_sell_500"][1] == pytest.approx(130 / 500)
    assert feats["sweep_bps_sell_500"][1] == pytest.approx((1 - (300.3 + 1000) / 130 / 10.015) * 1e4)


def test_depth_and_shape(feats: pl.DataFrame) -> None:
    assert feats["depth_bid_l1"].to_list() == [100.0, 30.0, 30.0]
    assert feats["cumdepth_bid_l2"].to_list() == [300.0, 130.0, 130.0]
    assert feats["cumdepth_ask_l2"].to_list() == [200.0, 170.0, 160.0]
    # row 0 bids: distances 1, 2 ticks; cumulative 100, 300 -> slope (100 + 600) / (1 + 4)
    assert feats["book_slope_bid"][0] == pytest.approx(140.0)
    assert feats["depth_conc_bid"][0] == pytest.approx(1 / 3)
    assert feats["depth_center_bid_ticks"][0] == pytest.approx((100 * 1 + 200 * 2) / 300)


def test_queue_features(feats: pl.DataFrame) -> None:
    # EWMA span 3 -> alpha 0.5: means 100, 65, 47.5
    assert feats["queue_rel_bid"].to_list() == pytest.approx([1.0, 30 / 65, 30 / 47.5])
    # best bid moves at row 1 (t = 1 s), then stays
    assert feats["touch_age_bid_s"].to_list() == pytest.approx([0.0, 0.0, 1.0])
    assert feats["touch_age_ask_s"].to_list() == pytest.approx([0.0, 1.0, 0.0])
    # ask depletion (tau 1 s): row 1 removes 30 at 10.02 -> 30/s; row 2 the ask moves up, the 20 left go
    assert feats["touch_depletion_ask"].to_list() == pytest.approx([0.0, 30.0, 30 * math.exp(-1) + 20])
    assert feats["touch_depletion_bid"].to_list() == pytest.approx([0.0, 0.0, 0.0])


def test_trade_flow(feats: pl.DataFrame) -> None:
    assert feats["signed_volume"].to_list() == [0.0, 10.0, -5.0]
    assert feats["buy_volume"].to_list() == [0.0, 10.0, 0.0]
    assert feats["trade_count"].to_list() == [0.0, 1.0, 1.0]
    assert math.isnan(feats["tfi"][0])
    assert feats["tfi"].to_list()[1:] == [1.0, -1.0]


def test_volatility(feats: pl.DataFrame) -> None:
    r1, r2 = math.log(10.015 / 10.01), math.log(10.02 / 10.015)
    assert math.isnan(feats["rv_w2"][1])
    assert feats["rv_w2"][2] == pytest.approx(r1 * r1 + r2 * r2)
    assert feats["bv_w2"][2] == pytest.approx(math.pi / 2 * abs(r1) * abs(r2))


def test_intensities_hand() -> None:
    # adds on the bid at t = 0 (1), 1 s (0), 3 s (2) with tau = 1 s:
    # lam = 1, e^-1, e^-1 * e^-2 + 2
    ts = [0, 1_000_000_000, 3_000_000_000]
    rows = [ROWS[0], ROWS[0], ROWS[0]]
    snaps = book(rows, ts)
    n = 3
    deltas = pl.DataFrame(
        {
            "ts_event": [0, 3_000_000_000, 3_000_000_000, 1_000_000_000],
            "ts_recv": [0, 3_000_000_000, 3_000_000_000, 1_000_000_000],
            "seq": [10, 30, 30, 20],
            "side": pl.Series([1, 1, 1, -1], dtype=pl.Int8),
            "action": pl.Series([1, 1, 1, 3], dtype=pl.UInt8),
            "price": [px(10.0)] * 4,
            "size": [1] * 4,
            "order_id": pl.Series([0] * 4, dtype=pl.UInt64),
            "flags": pl.Series([128] * 4, dtype=pl.UInt8),
        },
        schema_overrides={
            "ts_event": pl.Int64,
            "ts_recv": pl.Int64,
            "seq": pl.Int64,
            "price": pl.Int64,
            "size": pl.Int64,
        },
    ).sort("seq")
    f = compute_features(
        snaps, deltas=deltas, instrument=INST, config=FeatureConfig(names=["intensity"], intensity_tau="1s")
    )
    assert f.height == n
    assert f["lam_add_bid_hz"].to_list() == pytest.approx([1.0, math.exp(-1), math.exp(-3) + 2])
    assert f["lam_trade_ask_hz"].to_list() == pytest.approx([0.0, 1.0, math.exp(-2)])
    # cancel-to-trade: no cancels -> 0 once a trade was seen; NaN before any
    assert math.isnan(f["cancel_to_trade"][0])
    assert f["cancel_to_trade"][1] == 0.0


def test_vpin_hand() -> None:
    # bucket 10, 2 buckets: +6, -4 fill bucket 1 (|6 - 4| = 2), +10 fills bucket 2 (10) -> VPIN 12 / 20
    rows = [ROWS[0]] * 3
    snaps = book(rows)
    tr = trades_frame([(10, px(10.02), 6, 1), (20, px(10.0), 4, -1), (30, px(10.02), 10, 1)])
    f = compute_features(
        snaps,
        tr,
        instrument=INST,
        config=FeatureConfig(names=["vpin"], vpin_bucket_volume=10, vpin_n_buckets=2),
    )
    assert math.isnan(f["vpin"][0]) and math.isnan(f["vpin"][1])
    assert f["vpin"][2] == pytest.approx(0.6)


def test_microprice_uses_the_fitted_table() -> None:
    snaps = book(ROWS)
    est = MicropriceEstimator(n_imbalance_buckets=2, max_spread_ticks=2, tick_int=INST.tick_int)
    est.table_ = np.array([[-0.5, 0.5], [-0.25, 0.25]])
    est.counts_ = np.ones((2, 2))
    est.tick_int_ = INST.tick_int
    f = compute_features(
        snaps, instrument=INST, config=FeatureConfig(names=["microprice"]), microprice_model=est
    )
    # row 0: spread 2 ticks, I = 100/150 -> bucket 1 -> +0.25 tick; row 1: spread 1, I = 30/50 -> +0.5
    assert f["microprice_adj_ticks"].to_list() == pytest.approx([0.25, 0.5, -0.25])
    assert f["microprice"][0] == pytest.approx(10.01 + 0.0025)
    assert est.predict(snaps)[1] == pytest.approx(10.015 + 0.005)


def test_one_sided_book_gives_nan_not_garbage() -> None:
    snaps = book([([(10.0, 100)], [(10.02, 50)]), ([], [(10.02, 50)])])
    f = compute_features(
        snaps, instrument=INST, config=FeatureConfig(names=["spread", "imbalance", "ofi"], levels=1)
    )
    assert math.isnan(f["spread_ticks"][1]) and math.isnan(f["mid"][1])
    assert f["imb_l1"][1] == -1.0
    # empty bid = price -inf, size 0: the bid side contributes -qb_n-1 = -100
    assert f["ofi_l1"][1] == -100.0


def test_set_feed_intensities_use_trades_and_leave_adds_unknown() -> None:
    snaps = book([ROWS[0]] * 3)
    deltas = pl.DataFrame(
        {
            "ts_event": [0, 1_000_000_000],
            "ts_recv": [0, 1_000_000_000],
            "seq": [10, 20],
            "side": pl.Series([1, -1], dtype=pl.Int8),
            "action": pl.Series([4, 4], dtype=pl.UInt8),
            "price": [px(10.0), px(10.02)],
            "size": [100, 50],
            "order_id": pl.Series([0, 0], dtype=pl.UInt64),
            "flags": pl.Series([128, 128], dtype=pl.UInt8),
        },
        schema_overrides={
            "ts_event": pl.Int64,
            "ts_recv": pl.Int64,
            "seq": pl.Int64,
            "price": pl.Int64,
            "size": pl.Int64,
        },
    )
    tr = trades_frame([(20, px(10.02), 5, 1)])  # buyer-initiated: hits the ask at row 1
    f = compute_features(
        snaps, tr, deltas, instrument=INST, config=FeatureConfig(names=["intensity"], intensity_tau="1s")
    )
    assert np.isnan(f["lam_add_bid_hz"].to_numpy()).all() and np.isnan(f["cancel_to_trade"].to_numpy()).all()
    assert f["lam_trade_ask_hz"].to_list() == pytest.approx([0.0, 1.0, math.exp(-1)])
    assert f["lam_trade_bid_hz"].to_list() == [0.0, 0.0, 0.0]
