"""Jitted LOBSTER kernels == their plain-Python twins; exact time text conversion."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from orderflow.ingest import _lobster_kernels as K
from orderflow.ingest.lobster import _initial_book, _time_to_ns, read_lobster_raw

AAPL = "lobster/AAPL_2012-06-21_10_first999rows/AAPL_2012-06-21_34200000_57600000_{}_10.csv"


@pytest.mark.realdata
def test_replay_twin_on_real_rows(shared_data) -> None:  # type: ignore[no-untyped-def]
    messages, _, orderbook, _ = read_lobster_raw(
        shared_data(AAPL.format("message")), shared_data(AAPL.format("orderbook"))
    )
    ob = orderbook.to_numpy().astype(np.int64)
    apx, asz, bpx, bsz = (np.ascontiguousarray(ob[:, k::4]) for k in range(4))
    cols = [messages[c].to_numpy().astype(np.int64) for c in ("type", "price", "size", "direction")]
    valid = np.ones(messages.height, dtype=np.bool_)
    valid[5] = False  # exercise the no-op path too
    ib = _initial_book(
        bpx, bsz, apx, asz, int(cols[0][0]), int(cols[1][0]), int(cols[2][0]), int(cols[3][0]), True
    )
    outs = []
    for fn in (K.replay, K.replay.py_func):
        e = np.zeros(0, dtype=np.int64)
        nd, flags = fn(*cols, valid, bpx, bsz, apx, asz, *ib, False, e, e, e, e, e, e)
        o = [np.zeros(nd, dtype=np.int64) for _ in range(6)]
        nd2, flags2 = fn(*cols, valid, bpx, bsz, apx, asz, *ib, True, *o)
        assert nd2 == nd and np.array_equal(flags, flags2)
        outs.append((nd, flags, o))
    (nd_j, fl_j, o_j), (nd_p, fl_p, o_p) = outs
    assert nd_j == nd_p > 0
    assert np.array_equal(fl_j, fl_p)
    for a, b in zip(o_j, o_p, strict=True):
        assert np.array_equal(a, b)
    assert np.count_nonzero(fl_j & K.ROW_MISMATCH) == 1  # row 6: the skipped message's change


def test_time_text_exact() -> None:
    rng = np.random.default_rng(7)
    texts = ["34200", "34200.1", "57599.999999999", "0.000000001", "86399.5", "34200.004241176"]
    for _ in range(2000):
        sec = int(rng.integers(0, 86400))
        nd = int(rng.integers(0, 10))
        frac = "".join(str(d) for d in rng.integers(0, 10, nd))
        texts.append(f"{sec}.{frac}" if nd else str(sec))
    got = _time_to_ns(Path("x.csv"), pl.Series(texts))
    want = [int(Decimal(t) * 10**9) for t in texts]
    assert got.tolist() == want
    # the naive float route (parse as float64, scale, cast to int) would get some of these wrong
    assert any(int(float(t) * 1e9) != w for t, w in zip(texts, want, strict=True))
