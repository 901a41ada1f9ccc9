"""Purged, embargoed cross-validation for overlapping labels (López de Prado, AFML ch. 7 and 12).

Each row i has a label window ``[t0[i], t1[i]]`` (``ts_event`` and ``t_end_ns``, inclusive). A training
row is *purged* when its window overlaps the window of any row of a test block, and *embargoed* when it
starts within ``embargo_ns`` after a test block ends (serial correlation leaks forward too).

Overlap is checked in time across ALL rows, whatever their instrument or date: a conservative rule that
also keeps same-time information from another instrument out of training.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from orderflow.core.errors import ConfigError

IntArray = NDArray[np.int64]


def _check(t0: NDArray[np.int64], t1: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    a = np.asarray(t0, dtype=np.int64)
    b = np.asarray(t1, dtype=np.int64)
    if a.shape != b.shape or a.ndim != 1:
        raise ConfigError("purged CV: t0 and t1 must be 1-d arrays of the same length")
    if np.any(b < a):
        bad = int(np.argmax(b < a))
        raise ConfigError(f"purged CV: label window ends before it starts at row {bad} (t_end_ns < ts_event)")
    return a, b


def purge(
    train: IntArray,
    test_blocks: list[IntArray],
    t0: NDArray[np.int64],
    t1: NDArray[np.int64],
    embargo_ns: int = 0,
) -> IntArray:
    """Drop from ``train`` every row whose window overlaps a test block's span or falls in its embargo.

    A test block is a set of rows contiguous in time; its span is ``[min t0, max t1]``. A training row i is
    kept only if ``t1[i] < span_start`` or ``t0[i] > span_end + embargo_ns``.
    """
    keep = np.ones(train.shape[0], dtype=bool)
    tr0, tr1 = t0[train], t1[train]
    for blk in test_blocks:
        if blk.size == 0:
            continue
        s = int(t0[blk].min())
        e = int(t1[blk].max())
        keep &= (tr1 < s) | (tr0 > e + embargo_ns)
    return train[keep]


def _time_blocks(t0: NDArray[np.int64], n_blocks: int) -> list[IntArray]:
    """Split rows into ``n_blocks`` groups of consecutive times with about equal row counts.

    Rows sharing a timestamp stay in one block.
    """
    order = np.argsort(t0, kind="stable").astype(np.int64)
    n = order.shape[0]
    if n_blocks < 1 or n < n_blocks:
        raise ConfigError(f"purged CV: {n} rows cannot make {n_blocks} blocks")
    ts_sorted = t0[order]
    cuts = [0]
    for k in range(1, n_blocks):
        c = int(np.searchsorted(ts_sorted, ts_sorted[(k * n) // n_blocks], side="left"))
        cuts.append(max(c, cuts[-1]))
    cuts.append(n)
    return [np.sort(order[cuts[k] : cuts[k + 1]]) for k in range(n_blocks)]


class PurgedWalkForward:
    """Walk-forward splits: block k+1 is tested with a model trained on blocks before it, purged + embargoed.

    Parameters
    ----------
    n_splits : number of test blocks (the data is cut into ``n_splits + 1`` time blocks; block 0 only trains).
    embargo_ns : rows starting within this many ns after the end of a test block are not used for training.
    max_train_blocks : rolling window length in blocks (None: expanding window).
    """

    def __init__(self, n_splits: int = 5, embargo_ns: int = 0, max_train_blocks: int | None = None) -> None:
        self.n_splits = n_splits
        self.embargo_ns = embargo_ns
        self.max_train_blocks = max_train_blocks

    def get_n_splits(self) -> int:
        return self.n_splits

    def split(self, t0: NDArray[np.int64], t1: NDArray[np.int64]) -> Iterator[tuple[IntArray, IntArray]]:
        """Yield ``(train_idx, test_idx)`` pairs of row indices (each sorted)."""
        if self.n_splits < 1:
            raise ConfigError(f"cv.n_splits must be >= 1, got {self.n_splits}")
        a, b = _check(t0, t1)
        blocks = _time_blocks(a, self.n_splits + 1)
        for k in range(1, self.n_splits + 1):
            lo = 0 if self.max_train_blocks is None else max(0, k - self.max_train_blocks)
            train = np.sort(np.concatenate(blocks[lo:k])) if k > lo else np.empty(0, dtype=np.int64)
            test = blocks[k]
            # rows after the test block are never trained on here; purge the ones overlapping it
            yield purge(train, [test], a, b, self.embargo_ns), test


class CombinatorialPurgedCV:
    """Combinatorial purged CV: ``n_groups`` time blocks, every choice of ``n_test_groups`` is a test set.

    Training rows come from both sides of the test blocks, purged against each test block and embargoed
    after each (so paths of backtests can be assembled, AFML ch. 12).
    """

    def __init__(self, n_groups: int = 6, n_test_groups: int = 2, embargo_ns: int = 0) -> None:
        self.n_groups = n_groups
        self.n_test_groups = n_test_groups
        self.embargo_ns = embargo_ns

    def get_n_splits(self) -> int:
        from math import comb

        return comb(self.n_groups, self.n_test_groups)

    def split(self, t0: NDArray[np.int64], t1: NDArray[np.int64]) -> Iterator[tuple[IntArray, IntArray]]:
        if not 1 <= self.n_test_groups < self.n_groups:
            raise ConfigError("cv: need 1 <= n_test_groups < n_groups")
        a, b = _check(t0, t1)
        blocks = _time_blocks(a, self.n_groups)
        for chosen in combinations(range(self.n_groups), self.n_test_groups):
            test_blocks = [blocks[g] for g in chosen]
            train = np.sort(np.concatenate([blocks[g] for g in range(self.n_groups) if g not in chosen]))
            test = np.sort(np.concatenate(test_blocks))
            yield purge(train, test_blocks, a, b, self.embargo_ns), test


def calibration_split(
    train: IntArray, t0: NDArray[np.int64], t1: NDArray[np.int64], fraction: float
) -> tuple[IntArray, IntArray]:
    """Split training rows into (proper, calibration) for conformal calibration, by time.

    The calibration rows are the ``fraction`` of ``train`` with the LATEST start times ``t0``, whatever
    the row order (rows of several instruments on the same days are not in time order); the proper rows
    are the rest, purged of any row whose label window ``[t0, t1]`` reaches the first calibration start,
    so calibration scores are out of sample for the model they calibrate. ``fraction = 0`` returns
    ``(train, [])``. Both outputs are sorted row indices.
    """
    train = np.asarray(train, dtype=np.int64)
    n_cal = max(int(train.size * fraction), 1) if fraction > 0 and train.size else 0
    if n_cal == 0:
        return np.sort(train), train[:0]
    by_time = train[np.argsort(t0[train], kind="stable")]
    cal = np.sort(by_time[train.size - n_cal :])
    proper = np.sort(by_time[: train.size - n_cal])
    proper = proper[t1[proper] < t0[cal].min()]
    return proper, cal


def windows_overlap(t0: NDArray[np.int64], t1: NDArray[np.int64], train: IntArray, test: IntArray) -> int:
    """Number of (train, test) row pairs whose windows ``[t0, t1]`` overlap (0 for a clean split).

    Counted with sorting, not a double loop: for each training window, the number of test windows with
    ``t0_test <= t1_train`` and ``t1_test >= t0_train``.
    """
    a0, a1 = t0[test], t1[test]
    s0 = np.sort(a0)
    s1 = np.sort(a1)
    starts_le = np.searchsorted(s0, t1[train], side="right")  # test windows starting before train ends
    ends_lt = np.searchsorted(s1, t0[train], side="left")  # test windows ending before train starts
    return int(np.sum(starts_le - np.minimum(starts_le, ends_lt)))


__all__ = ["CombinatorialPurgedCV", "PurgedWalkForward", "calibration_split", "purge", "windows_overlap"]
