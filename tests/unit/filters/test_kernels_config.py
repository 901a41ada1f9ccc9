"""Kernel twins (jitted == plain Python), window counts against brute force, config, ablation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from orderflow.core.errors import ConfigError
from orderflow.core.schema import QC, validate
from orderflow.filters import FilterConfig, apply_filters, score_against_truth
from orderflow.filters import _kernels as K
from orderflow.filters.config import RULES
from orderflow.filters.rules import window_members


def _same(a: object, b: object) -> None:
    if isinstance(a, tuple):
        assert isinstance(b, tuple)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    else:
        np.testing.assert_array_equal(a, b)


def test_stale_kernel_twin(rng: np.random.Generator) -> None:
    n = 3000
    ts = np.cumsum(rng.integers(0, 50_000_000, n)).astype(np.int64)
    bu = rng.random(n) < 0.3
    au = rng.random(n) < 0.6
    ub = (rng.random(n) < 0.02).astype(np.int64)
    ua = (rng.random(n) < 0.02).astype(np.int64)
    args = (ts, bu, au, ub, ua, 200_000_000, 5, 1, 400_000_000)
    _same(K.stale_kernel(*args), K.stale_kernel.py_func(*args))
    reason = K.stale_kernel(*args)[0]
    assert set(np.unique(reason)) <= {0, 1, 2, 3} and (reason > 0).any()


def test_flicker_kernel_twin(rng: np.random.Generator) -> None:
    n = 4000
    key = rng.integers(0, 6, n).astype(np.int64)
    action = rng.choice(np.array([1, 2, 3, 4], np.uint8), n)
    size = rng.choice(np.array([1, 2, 3], np.int64), n)
    flags = np.zeros(n, np.uint8)
    ts = np.cumsum(rng.integers(0, 3000, n)).astype(np.int64)
    args = (key, 6, action, size, flags, ts, 5000, 2)
    out = K.flicker_kernel(*args)
    _same(out, K.flicker_kernel.py_func(*args))
    assert out.any()


def test_duplicate_kernel_twin(rng: np.random.Generator) -> None:
    ne = 500
    ts = np.repeat(np.arange(ne // 2, dtype=np.int64), 2)
    nd = rng.integers(0, 3, ne)
    d_hi = np.cumsum(nd).astype(np.int64)
    d_lo = d_hi - nd
    t_lo = np.zeros(ne, np.int64)
    t_hi = np.zeros(ne, np.int64)
    m = int(d_hi[-1])
    cols = [rng.integers(0, 2, m).astype(t) for t in (np.int8, np.uint8, np.int64, np.int64, np.uint64)]
    flags = np.zeros(m, np.uint8)
    empty = np.zeros(0, np.int64)
    args = (
        ts,
        d_lo,
        d_hi,
        t_lo,
        t_hi,
        *cols,
        flags,
        empty,
        empty,
        empty.astype(np.int8),
        empty.astype(np.uint64),
        4,
    )
    out = K.duplicate_kernel(*args)
    _same(out, K.duplicate_kernel.py_func(*args))
    # brute force: earlier event with the same ts and identical rows
    for i in range(ne):
        rows_i = [tuple(int(c[r]) for c in cols) for r in range(d_lo[i], d_hi[i])]
        expect = -1
        if rows_i:
            for j in range(i - 1, max(i - 5, -1), -1):
                if ts[j] != ts[i]:
                    break
                if [tuple(int(c[r]) for c in cols) for r in range(d_lo[j], d_hi[j])] == rows_i:
                    expect = j
                    break
        assert out[i] == expect


def test_index_events_and_locate_twins(rng: np.random.Generator) -> None:
    dseq = np.sort(rng.integers(0, 300, 500)).astype(np.int64)
    tseq = np.sort(rng.integers(0, 300, 100)).astype(np.int64)
    got = K.index_events(dseq, tseq)
    _same(got, K.index_events.py_func(dseq, tseq))
    seq = got[0]
    np.testing.assert_array_equal(seq, np.union1d(dseq, tseq))
    np.testing.assert_array_equal(got[1], np.searchsorted(dseq, seq, "left"))
    np.testing.assert_array_equal(got[4], np.searchsorted(tseq, seq, "right"))
    keys = np.sort(rng.integers(0, 320, 50)).astype(np.int64)
    loc = K.locate_sorted(seq, keys)
    _same(loc, K.locate_sorted.py_func(seq, keys))
    for k, p in zip(keys, loc, strict=True):
        assert (p == -1) == (k not in set(seq.tolist()))
        if p >= 0:
            assert seq[p] == k


def test_window_members_brute_force(rng: np.random.Generator) -> None:
    ts = np.sort(rng.integers(0, 2000, 300)).astype(np.int64)
    got = window_members(ts, 4, 25)
    expect = np.zeros(ts.shape[0], bool)
    for i in range(ts.shape[0]):
        members = np.flatnonzero((ts >= ts[i] - 25) & (ts <= ts[i]))
        if members.shape[0] >= 4:
            expect[members] = True
    np.testing.assert_array_equal(got, expect)
    # unsorted input gives the same membership per event
    perm = rng.permutation(ts.shape[0])
    np.testing.assert_array_equal(window_members(ts[perm], 4, 25), expect[perm])


# -- config ------------------------------------------------------------------------------------------------
def test_config_toml_and_errors(tmp_path: Path) -> None:
    p = tmp_path / "f.toml"
    p.write_text(
        "[filters.message_storm]\nmin_messages = 7\n[filters.session]\nopen_time = 2024-01-01T09:00:00\n"
    )
    with pytest.raises(ConfigError):
        FilterConfig.from_toml(p)  # a datetime is not a time
    p.write_text('[message_storm]\nmin_messages = 7\naction = "mark"\n[session]\nopen_time = 09:00:00\n')
    cfg = FilterConfig.from_toml(p)
    assert cfg.message_storm.min_messages == 7 and cfg.message_storm.action == "mark"
    p.write_text("[message_storm]\nmin_mesages = 7\n")
    with pytest.raises(ConfigError, match=r"message_storm\.min_mesages"):
        FilterConfig.from_toml(p)
    p.write_text('[duplicate]\naction = "delete"\n')
    with pytest.raises(ConfigError, match=r"duplicate\.action"):
        FilterConfig.from_toml(p)
    with pytest.raises(ConfigError, match="unknown rule 'nope'"):
        FilterConfig().disable("nope")
    assert FilterConfig().disable("flicker").enabled_rules() == [r for r in RULES if r != "flicker"]


# -- ablation on a simulated day -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim_day():  # type: ignore[no-untyped-def]
    from orderflow.book.engine import reconstruct
    from orderflow.ingest.simulator import ArtifactConfig, SimConfig, simulate_day

    cfg = SimConfig(
        events_per_day=15_000,
        artifacts=ArtifactConfig(stale_quote=1e-3, crossed=1e-3, locked=1e-3, burst=1e-3, duplicate=3e-3),
    )
    day = simulate_day(cfg, "SIM0", "2024-01-02")
    return day, reconstruct(day.deltas, depth=10)


@pytest.mark.parametrize("rule", RULES)
def test_ablation_removes_exactly_the_rule_rows(sim_day, rule: str) -> None:  # type: ignore[no-untyped-def]
    day, snaps = sim_day
    full = apply_filters(snaps, day.deltas, day.trades, instrument=day.instrument, config=FilterConfig())
    less = apply_filters(
        snaps, day.deltas, day.trades, instrument=day.instrument, config=FilterConfig().disable(rule)
    )
    validate(less.qc, QC)
    expect = full.qc.filter(pl.col("rule") != rule)
    assert less.qc.equals(expect)
    assert rule not in less.report["rules"] and less.report["disabled"] == [rule]


def test_report_counts_match_qc(sim_day) -> None:  # type: ignore[no-untyped-def]
    day, snaps = sim_day
    res = apply_filters(snaps, day.deltas, day.trades, instrument=day.instrument, config=FilterConfig())
    qc = res.qc
    assert res.report["flagged_events"] == qc["seq"].n_unique()
    vol = day.trades.group_by("seq").agg(pl.col("size").sum().alias("v"))
    for rule, entry in res.report["rules"].items():
        seqs = qc.filter(pl.col("rule") == rule)["seq"].unique()
        assert entry["events"] == seqs.len()
        assert entry["volume"] == int(vol.filter(pl.col("seq").is_in(seqs.implode()))["v"].sum())
        assert sum(a["events"] for a in entry["by_action"].values()) >= entry["events"]
    # every QC row sits on an event of the partition
    ev = set(day.deltas["seq"].to_list()) | set(day.trades["seq"].to_list())
    assert set(qc["seq"].to_list()) <= ev


def test_score_against_truth_hand_counts() -> None:
    qc = pl.DataFrame(
        {
            "seq": [1, 2, 3, 5, 9, 9],
            "ts_event": [0] * 6,
            "table": ["book_snapshots"] * 6,
            "rule": ["crossed_book", "crossed_book", "stale_quote", "stale_quote", "duplicate", "duplicate"],
            "reason": ["feed_glitch", "feed_glitch", "catch_up", "stale_side", "duplicate", "duplicate"],
            "action": ["drop"] * 6,
            "detail": [""] * 6,
        }
    )
    art = pl.DataFrame(
        {
            "seq": [1, 4, 5, 9, 9],
            "ts_event": [0] * 5,
            "table": ["book_deltas"] * 4 + ["trades"],
            "kind": ["crossed", "crossed", "stale_quote", "duplicate", "duplicate"],
        }
    )
    sc = score_against_truth(qc, art)
    assert sc["crossed"] == {"precision": 0.5, "recall": 0.5, "tp": 1, "fp": 1, "fn": 1}
    # stale_side rows are not matched; seq 3 catch_up is a false positive; seq 5 missed
    assert sc["stale_quote"] == {"precision": 0.0, "recall": 0.0, "tp": 0, "fp": 1, "fn": 1}
    assert sc["duplicate"] == {"precision": 1.0, "recall": 1.0, "tp": 1, "fp": 0, "fn": 0}
    assert sc["locked"] == {"precision": None, "recall": None, "tp": 0, "fp": 0, "fn": 0}
    assert sc["rule:crossed_book"]["tp"] == 1


def test_event_counts_and_window_start_twins(rng: np.random.Generator) -> None:
    ne = 400
    nd = rng.integers(0, 4, ne)
    nt = rng.integers(0, 3, ne)
    d_hi = np.cumsum(nd).astype(np.int64)
    d_lo = d_hi - nd
    t_hi = np.cumsum(nt).astype(np.int64)
    t_lo = t_hi - nt
    side = rng.choice(np.array([-1, 1], np.int8), int(d_hi[-1]))
    size = rng.integers(1, 9, int(t_hi[-1])).astype(np.int64)
    aggr = rng.choice(np.array([-1, 0, 1], np.int8), int(t_hi[-1]))
    kind = rng.choice(np.array([0, 0, 1], np.uint8), int(t_hi[-1]))
    args = (d_lo, d_hi, t_lo, t_hi, side, size, aggr, kind)
    got = K.event_counts(*args)
    _same(got, K.event_counts.py_func(*args))
    bid, ask, vol, nonreg, unm_bid, unm_ask = got
    for i in range(ne):  # straightforward recount
        ds = side[d_lo[i] : d_hi[i]]
        ts_ = slice(t_lo[i], t_hi[i])
        assert bid[i] == (ds == 1).sum() and ask[i] == (ds == -1).sum()
        assert vol[i] == size[ts_].sum() and nonreg[i] == (kind[ts_] != 0).sum()
        reg = kind[ts_] == 0
        assert unm_bid[i] == (((aggr[ts_] == -1) & reg).sum() if bid[i] == 0 else 0)
        assert unm_ask[i] == (((aggr[ts_] == 1) & reg).sum() if ask[i] == 0 else 0)
    ts = np.sort(rng.integers(0, 1000, 300)).astype(np.int64)
    for edge in (True, False):
        lo = K.window_start(ts, 37, edge)
        _same(lo, K.window_start.py_func(ts, 37, edge))
        np.testing.assert_array_equal(lo, np.searchsorted(ts, ts - 37, "left" if edge else "right"))


def _every_tenth(view, cfg):  # type: ignore[no-untyped-def]
    from orderflow.filters.rules import RuleMask

    step = int(cfg.params.get("step", 10))
    mask = np.arange(view.n) % step == 0
    z = np.zeros(view.n, np.int8)
    return [RuleMask("every_nth", "events", mask, z, ("nth",), z, (cfg.action,))]


def test_plugin_rule_by_registry_name(sim_day) -> None:  # type: ignore[no-untyped-def]
    from orderflow.filters.rules import FILTERS

    if "every_nth" not in FILTERS:
        FILTERS.add("every_nth", _every_tenth)
    day, snaps = sim_day
    cfg = FilterConfig.from_mapping(
        {"plugins": [{"rule": "every_nth", "action": "downweight", "params": {"step": 100}}]}
    ).disable(*RULES)
    res = apply_filters(snaps, day.deltas, day.trades, instrument=day.instrument, config=cfg)
    events = np.union1d(day.deltas["seq"].unique().to_numpy(), day.trades["seq"].unique().to_numpy())
    assert res.qc["seq"].to_list() == events[::100].tolist()
    assert set(res.qc["action"].to_list()) == {"downweight"}
    assert res.report["rules"]["every_nth"]["events"] == len(events[::100])
    off = apply_filters(
        snaps, day.deltas, day.trades, instrument=day.instrument, config=cfg.disable("every_nth")
    )
    assert off.qc.height == 0
    with pytest.raises(ConfigError, match="cannot import"):
        bad = FilterConfig.from_mapping({"plugins": [{"rule": "no.such.module:fn"}]})
        apply_filters(snaps, day.deltas, day.trades, instrument=day.instrument, config=bad)


def test_dense_keys_distinct_per_side_and_price() -> None:
    from orderflow.core.enums import UNDEF_PRICE
    from orderflow.filters.rules import _dense_keys

    side = np.array([1, -1, 1, 1, -1, 0], np.int8)
    for price, tick in (
        (np.array([100, 100, 101, 100, 250_000_000, UNDEF_PRICE], np.int64), 1),  # wide range: sort path
        (np.array([100, 100, 101, 100, 102, UNDEF_PRICE], np.int64), 1),  # compact: grid path
        (np.array([100, 100, 101, 100, 102, UNDEF_PRICE], np.int64), 7),  # off-grid: sort path
    ):
        keys, n_keys = _dense_keys(side, price, tick)
        assert keys.max() < n_keys
        pairs = list(zip(side.tolist(), price.tolist(), strict=True))
        for i in range(6):
            for j in range(6):
                same = pairs[i] == pairs[j] or (price[i] == UNDEF_PRICE and price[j] == UNDEF_PRICE)
                assert (keys[i] == keys[j]) == same, (price, tick, i, j)
