"""Every numba kernel of the feature stage agrees with its plain-Python twin (``kernel.py_func``)."""

from __future__ import annotations

import numpy as np
import pytest

from orderflow.features import _kernels as K

UNDEF = 2**63 - 1


def random_book(rng: np.random.Generator, n: int, L: int) -> tuple[np.ndarray, ...]:
    tick = 10_000_000
    mid = 10_000 + np.cumsum(rng.integers(-2, 3, n))
    bb = (mid - rng.integers(0, 3, n)) * tick
    ba = (mid + 1 + rng.integers(0, 3, n)) * tick
    bpx = np.stack([bb - k * tick * rng.integers(1, 3, n) for k in range(L)])
    apx = np.stack([ba + k * tick * rng.integers(1, 3, n) for k in range(L)])
    bsz = rng.integers(0, 300, (L, n))
    asz = rng.integers(0, 300, (L, n))
    bpx = np.where(bsz == 0, UNDEF, bpx)
    apx = np.where(asz == 0, UNDEF, apx)
    return bpx, bsz, apx, asz


def run_book(fn, rng: np.random.Generator, notional: bool):  # type: ignore[no-untyped-def]
    n, L = 60, 4
    bpx, bsz, apx, asz = random_book(rng, n, L)
    q = np.array([50.0, 200.0, 900.0]) * (100.0 if notional else 1.0)
    ncols = 1 + 2 + 2 + 2 + L + L + 4 * 3 + 4 * L + 6
    out = np.full((ncols, n), -7.0)
    prev = np.zeros((4, L), dtype=np.int64)
    table = np.linspace(-1, 1, 6).reshape(2, 3)
    hp = fn(
        bpx,
        bsz,
        apx,
        asz,
        prev,
        0,
        10_000_000,
        1.0,
        out,
        0,
        1,
        3,
        5,
        table,
        7,
        L,
        7 + L,
        L,
        7 + 2 * L,
        q,
        np.array([0, 1, 2]),
        notional,
        7 + 2 * L + 12,
        L,
        7 + 2 * L + 12 + 4 * L,
        L,
    )
    return out, prev, hp


@pytest.mark.parametrize("notional", [False, True])
def test_book_kernel_twin(notional: bool) -> None:
    a = run_book(K.book_kernel, np.random.default_rng(1), notional)
    b = run_book(K.book_kernel.py_func, np.random.default_rng(1), notional)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-12, equal_nan=True)
    assert (a[0] != -7.0).all()  # every slot written
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2] == b[2] == 1


def test_event_kernel_twin() -> None:
    rng = np.random.default_rng(2)
    n = 80
    ts = np.cumsum(rng.integers(0, 3_000_000_000, n))
    bpx, bsz, apx, asz = random_book(rng, n, 1)
    counts = rng.integers(0, 3, (6, n))
    res = []
    for fn in (K.event_kernel, K.event_kernel.py_func):
        st = np.zeros(K.EVENT_STATE_SIZE)
        out = np.empty((13, n))
        fn(ts, bpx[0], bsz[0], apx[0], asz[0], counts, st, 5_000_000_000, 0.1, 1.0, out)
        res.append((out, st))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-12)


@pytest.mark.parametrize(
    "kind,every",
    [(K.CLK_EVENT, 1), (K.CLK_EVENTS, 3), (K.CLK_TIME, 2_000_000_000), (K.CLK_VOLUME, 250), (K.CLK_TRADE, 1)],
)
def test_clock_kernel_twin(kind: int, every: int) -> None:
    rng = np.random.default_rng(3)
    n = 100
    ts = np.cumsum(rng.integers(0, 1_500_000_000, n))
    vol = rng.integers(0, 200, n) * (rng.random(n) < 0.4)
    ntr = (vol > 0).astype(np.int64)
    res = []
    for fn in (K.clock_kernel, K.clock_kernel.py_func):
        st = np.zeros(3, dtype=np.int64)
        rows = np.empty(n + 200, dtype=np.int64)
        stamps = np.empty(n + 200, dtype=np.int64)
        m = fn(ts, vol, ntr, kind, every, st, rows, stamps)
        res.append((rows[:m].copy(), stamps[:m].copy(), st))
    for x, y in zip(res[0], res[1], strict=True):
        np.testing.assert_array_equal(x, y)
    assert len(res[0][0]) > 0


def test_clocked_kernel_twin_and_against_numpy() -> None:
    rng = np.random.default_rng(4)
    n, W = 50, 8
    mid = 100 + np.cumsum(rng.integers(-1, 2, n)) * 0.01
    sv = rng.normal(0, 100, n)
    res = []
    for fn in (K.clocked_kernel, K.clocked_kernel.py_func):
        out = np.empty((3, n))
        fn(mid, sv, 0.01, W, W, np.zeros(8), np.zeros(W), np.zeros(W), np.zeros(W), out)
        res.append(out)
    np.testing.assert_allclose(res[0], res[1], rtol=1e-12, equal_nan=True)
    # independent: at row i >= W the window holds returns of rows i-W+1 .. i
    r = np.diff(np.log(mid))
    dm = np.diff(mid) / 0.01
    i = 30
    win = r[i - W : i]
    assert res[0][0, i] == pytest.approx((win**2).sum())
    assert res[0][1, i] == pytest.approx(np.pi / 2 * (np.abs(win[1:]) * np.abs(win[:-1])).sum())
    slope = np.polyfit(sv[i - W + 1 : i + 1], dm[i - W : i], 1)[0]
    assert res[0][2, i] == pytest.approx(slope)
    assert np.isnan(res[0][0, W - 1]) and not np.isnan(res[0][0, W])


def test_vpin_kernel_twin_and_bvc() -> None:
    rng = np.random.default_rng(5)
    n = 200
    price = 100 + np.cumsum(rng.normal(0, 0.01, n))
    size = rng.integers(1, 50, n).astype(np.float64)
    aggr = rng.choice([-1, 0, 1], n)
    res = []
    for fn in (K.vpin_kernel, K.vpin_kernel.py_func):
        out = np.empty(n)
        fn(price, size, aggr, 100.0, 5, 0.1, np.zeros(8), np.zeros(5), out)
        res.append(out)
    np.testing.assert_allclose(res[0], res[1], rtol=1e-12, equal_nan=True)
    done = res[0][~np.isnan(res[0])]
    assert done.size and ((done >= 0) & (done <= 1)).all()
