"""Purged, embargoed splits checked DIRECTLY on the split indices with a brute-force overlap count."""

from __future__ import annotations

import numpy as np
import pytest

from orderflow.core.errors import ConfigError
from orderflow.models.splits import (
    CombinatorialPurgedCV,
    PurgedWalkForward,
    calibration_split,
    purge,
    windows_overlap,
)


def _windows(rng: np.random.Generator, n: int = 400, instruments: int = 1) -> tuple[np.ndarray, np.ndarray]:
    t0 = np.sort(rng.integers(0, 10_000, n * instruments)).astype(np.int64)
    t1 = t0 + rng.integers(0, 300, t0.size)
    return t0, t1


def _brute_overlaps(t0: np.ndarray, t1: np.ndarray, train: np.ndarray, test: np.ndarray) -> int:
    """Every (train, test) pair compared (broadcast, no sorting tricks)."""
    a0, a1 = t0[train][:, None], t1[train][:, None]
    b0, b1 = t0[test][None, :], t1[test][None, :]
    return int(np.sum((a0 <= b1) & (b0 <= a1)))


def test_overlap_counter_matches_brute_force(rng: np.random.Generator) -> None:
    t0, t1 = _windows(rng, 120)
    idx = rng.permutation(t0.size)
    tr, te = idx[:70], idx[70:]
    assert windows_overlap(t0, t1, tr, te) == _brute_overlaps(t0, t1, tr, te) > 0


@pytest.mark.parametrize("embargo", [0, 250])
def test_walk_forward_no_overlap_train_before_test(rng: np.random.Generator, embargo: int) -> None:
    t0, t1 = _windows(rng, 300, instruments=2)  # two instruments interleaved in time
    splits = list(PurgedWalkForward(n_splits=4, embargo_ns=embargo).split(t0, t1))
    assert len(splits) == 4
    seen = set()
    for tr, te in splits:
        assert _brute_overlaps(t0, t1, tr, te) == 0
        assert t1[tr].max() < t0[te].min()  # strictly before the test block, label windows included
        assert not seen & set(te.tolist())
        seen |= set(te.tolist())
        assert tr.size > 0
    # the test blocks cover everything except block 0
    assert len(seen) > 0.75 * t0.size


def test_purge_removes_exactly_the_overlapping_and_embargoed_rows() -> None:
    t0 = np.array([0, 10, 20, 30, 40, 50, 60], dtype=np.int64)
    t1 = np.array([5, 25, 22, 35, 41, 55, 65], dtype=np.int64)
    test = np.array([3], dtype=np.int64)  # window [30, 35]
    train = np.array([0, 1, 2, 4, 5, 6], dtype=np.int64)
    # row 1 ends at 25 < 30: kept; no overlap except... none; embargo 10 drops row 4 (starts 40 <= 45)
    assert purge(train, [test], t0, t1, 0).tolist() == [0, 1, 2, 4, 5, 6]
    assert purge(train, [test], t0, t1, 10).tolist() == [0, 1, 2, 5, 6]
    t1b = t1.copy()
    t1b[2] = 31  # now row 2's window [20, 31] overlaps the test window
    assert purge(train, [test], t0, t1b, 0).tolist() == [0, 1, 4, 5, 6]


def test_cpcv_purges_and_embargoes_on_both_sides(rng: np.random.Generator) -> None:
    t0, t1 = _windows(rng, 240)
    cv = CombinatorialPurgedCV(n_groups=5, n_test_groups=2, embargo_ns=200)
    splits = list(cv.split(t0, t1))
    assert len(splits) == cv.get_n_splits() == 10
    for tr, te in splits:
        assert _brute_overlaps(t0, t1, tr, te) == 0
        # embargo: no training row starts within 200 ns after the end of a contiguous test stretch
        order = np.sort(te)
        breaks = np.flatnonzero(np.diff(order) > 1)
        ends = np.concatenate([order[breaks], order[-1:]])
        for e in ends:
            end_t = t1[te][t0[te] <= t0[e]].max()
            assert not np.any((t0[tr] > end_t) & (t0[tr] <= end_t + 200))
    # training rows come from both sides of the test blocks in some split
    assert any(np.any(t0[tr] > t0[te].min()) and np.any(t0[tr] < t0[te].max()) for tr, te in splits)


def test_bad_windows_raise() -> None:
    with pytest.raises(ConfigError, match="t_end_ns < ts_event"):
        list(PurgedWalkForward(2).split(np.array([5, 6, 7]), np.array([6, 5, 8])))
    with pytest.raises(ConfigError):
        list(PurgedWalkForward(10).split(np.arange(3), np.arange(3)))


def test_calibration_split_is_by_time_across_interleaved_instruments() -> None:
    # rows in (instrument, time) order: instrument A then B, both over the same hour; label windows 10 s
    t_a = np.arange(0, 3600, 10, dtype=np.int64) * 1_000_000_000
    t_b = t_a + 5_000_000_000
    t0 = np.concatenate([t_a, t_b])
    t1 = t0 + 10_000_000_000
    train = np.arange(t0.size, dtype=np.int64)
    proper, cal = calibration_split(train, t0, t1, 0.25)
    # calibration = the latest quarter of the hour from BOTH instruments (not instrument B's rows)
    assert cal.size == t0.size // 4
    assert t0[cal].min() >= np.quantile(t0, 0.74)
    assert set(cal) & set(range(t_a.size)) and set(cal) & set(range(t_a.size, t0.size))
    # proper rows end before the calibration span starts (purged), and are most of the rest
    assert t1[proper].max() < t0[cal].min()
    assert proper.size >= t0.size - cal.size - 4
    assert np.all(np.diff(proper) > 0) and np.all(np.diff(cal) > 0)
    # the brute-force definition
    order = np.argsort(t0[train], kind="stable")
    want_cal = np.sort(train[order][-cal.size :])
    assert np.array_equal(cal, want_cal)
    p0, c0 = calibration_split(train, t0, t1, 0.0)
    assert np.array_equal(p0, train) and c0.size == 0


def test_regime_balanced_weights_balance_classes_inside_each_regime() -> None:
    from orderflow.models.research import regime_balanced_weights

    # regime 0: 6 flat, 2 up, 2 down; regime 1: 2 flat, 4 up, 4 down (pooled: 8 flat, 6 up, 6 down)
    y = np.array([0] * 6 + [1] * 2 + [-1] * 2 + [0] * 2 + [1] * 4 + [-1] * 4)
    reg = np.array([0] * 10 + [1] * 10)
    w = regime_balanced_weights(y, reg)
    pooled = {0: 8 / 20, 1: 6 / 20, -1: 6 / 20}
    for r in (0, 1):
        for c in (0, 1, -1):
            m = (reg == r) & (y == c)
            share = m.sum() / (reg == r).sum()
            assert np.allclose(w[m], pooled[c] / share)
            # pooled balanced weight x w: the same total weight for every class inside the regime
            assert np.isclose((w[m] / (3 * pooled[c])).sum(), (reg == r).sum() / 3)


def test_standardize_by_group_uses_each_groups_training_rows_only() -> None:
    from orderflow.models.research import standardize_by_group

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(5, 2, (50, 2)), rng.normal(-100, 10, (50, 2))])
    g = np.repeat([0, 1], 50)
    train = np.r_[0:30, 50:80]
    Z = standardize_by_group(X, g, train)
    for grp, rows in ((0, np.r_[0:30]), (1, np.r_[50:80])):
        assert np.allclose(Z[rows].mean(axis=0), 0, atol=1e-12)
        assert np.allclose(Z[rows].std(axis=0), 1)
        test = np.flatnonzero(g == grp)[30:]
        mu, sd = X[rows].mean(axis=0), X[rows].std(axis=0)
        assert np.allclose(Z[test], (X[test] - mu) / sd)  # test rows use training statistics
    X2 = X.copy()
    X2[30:50] += 1e6  # changing test rows never changes the statistics
    assert np.allclose(standardize_by_group(X2, g, train)[:30], Z[:30])
