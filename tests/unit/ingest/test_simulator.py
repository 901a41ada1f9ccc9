"""Market simulator: determinism, feed/book consistency, microstructure facts and exact artifact labels.

Ground truth here is (a) a straightforward dict-book replay of the published deltas written in this
file, (b) the simulator's own internal book (the thing the feed must describe), and (c) the same day
simulated with artifacts turned off (artifacts use their own random stream, so the genuine events
are the same).
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from orderflow.book.engine import reconstruct
from orderflow.core.enums import BookAction, Flags
from orderflow.core.io import Dataset
from orderflow.ingest import _sim_kernels as K
from orderflow.ingest.simulator import (
    ArtifactConfig,
    SimConfig,
    _DayRun,
    instrument_profile,
    iter_simulate_day,
    session_bounds_ns,
    simulate,
    simulate_day,
)

DATE = dt.date(2024, 1, 2)
CLEAN = ArtifactConfig.clean()
NOISY = ArtifactConfig(
    stale_quote=0.002,
    crossed=0.003,
    locked=0.003,
    burst=0.002,
    duplicate=0.01,
    stale_mean_ms=3000.0,
    burst_pairs=4,
)


def _cfg(**kw: object) -> SimConfig:
    base: dict[str, object] = {"events_per_day": 20_000, "artifacts": CLEAN}
    base.update(kw)
    return SimConfig(**base)  # type: ignore[arg-type]


def replay(deltas: pl.DataFrame):  # type: ignore[no-untyped-def]
    """Straightforward price-level replay: yields (seq, ts_event, bids, asks) after each message's LAST row."""
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for ts, seq, side, action, price, size, flags in deltas.select(
        "ts_event", "seq", "side", "action", "price", "size", "flags"
    ).iter_rows():
        assert action == BookAction.SET
        book = bids if side == 1 else asks
        if size == 0:
            book.pop(price, None)
        else:
            book[price] = size
        if flags & Flags.LAST:
            yield seq, ts, bids, asks


def _state(bids: dict[int, int], asks: dict[int, int]) -> tuple[tuple[tuple[int, int], ...], ...]:
    return (tuple(sorted(bids.items(), reverse=True)), tuple(sorted(asks.items())))


def test_determinism_and_chunking_identical() -> None:
    cfg = _cfg(artifacts=NOISY)
    a = simulate_day(cfg, "SIM0", DATE)
    b = simulate_day(cfg, "SIM0", "2024-01-02")
    pieces = list(iter_simulate_day(cfg, "SIM0", DATE, chunk_events=777))
    assert len(pieces) > 5
    for name in ("deltas", "trades", "regimes", "artifacts"):
        assert getattr(a, name).equals(getattr(b, name)), name
        chunked = pl.concat([getattr(p, name) for p in pieces])
        assert getattr(a, name).equals(chunked), name
    assert sum(p.events for p in pieces) == a.events
    other = simulate_day(cfg.model_copy(update={"seed": 8}), "SIM0", DATE)
    assert not other.deltas.equals(a.deltas)


def test_written_partitions_are_byte_identical(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = _cfg(events_per_day=4_000, artifacts=NOISY, instruments=["SIM0", "SIM2"])
    simulate(cfg, tmp_path / "a", chunk_events=1_000)
    simulate(cfg.model_copy(update={"instruments": ["SIM2"]}), tmp_path / "b", chunk_events=1_000)
    for table in ("book_deltas", "trades", "sim_regimes", "sim_artifacts"):
        rel = f"{table}/instrument=SIM2/date=2024-01-02/part-00000.parquet"
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), table


def test_stream_shape_and_session() -> None:
    cfg = _cfg(artifacts=NOISY)
    day = simulate_day(cfg, "SIM0", DATE)
    d = day.deltas
    t0, t1 = session_bounds_ns(cfg, DATE)
    # 09:30 New York on 2024-01-02 is 14:30 UTC
    assert t0 == int(dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.UTC).timestamp()) * 10**9
    assert d["ts_event"].min() == t0
    assert d["ts_event"].max() < t1
    assert d["seq"].is_sorted() and d["ts_event"].is_sorted()
    assert 0 < day.events <= cfg.events_per_day
    # seqs are contiguous: every message has deltas or trades
    seqs = pl.concat([d["seq"], day.trades["seq"]]).unique().sort()
    assert seqs.to_list() == list(range(seqs.len()))
    # exactly one LAST row per delta message, on its last row
    last = d.group_by("seq", maintain_order=True).agg(
        (pl.col("flags") & int(Flags.LAST) > 0).sum().alias("n"),
        (pl.col("flags").last() & int(Flags.LAST)).alias("l"),
    )
    assert (last["n"] == 1).all() and (last["l"] > 0).all()
    tr_last = day.trades.group_by("seq", maintain_order=True).agg(
        (pl.col("flags") & int(Flags.LAST) > 0).sum().alias("n"),
        (pl.col("flags").last() & int(Flags.LAST)).alias("l"),
    )
    assert (tr_last["n"] == 1).all() and (tr_last["l"] > 0).all()
    snap = d.filter(pl.col("seq") == 0)
    assert (snap["flags"] & int(Flags.SNAPSHOT) > 0).all()
    # trades: the aggressor lifted the ask / hit the bid at a price of the book before the message
    prev_bids: dict[int, int] = {}
    prev_asks: dict[int, int] = {}
    trades = day.trades.filter(~pl.col("seq").is_in(day.artifacts["seq"].implode()))
    by_seq = {s: g for (s,), g in trades.group_by("seq")}
    checked = 0
    for seq, _ts, bids, asks in replay(d):
        if seq in by_seq:
            for px, _sz, agg in by_seq[seq].select("price", "size", "aggressor").iter_rows():
                assert px in (prev_asks if agg == 1 else prev_bids)
                checked += 1
        prev_bids, prev_asks = dict(bids), dict(asks)
    assert checked > 100
    assert day.instrument.symbol == "SIM0" and day.instrument.timezone == "America/New_York"


def test_instruments_and_days_are_independent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    one = _cfg(events_per_day=5_000, artifacts=NOISY)
    many = one.model_copy(update={"instruments": ["SIM1", "SIM0", "SIM2"], "days": 2})
    ref = simulate_day(one, "SIM0", "2024-01-03")
    parts = simulate(many, tmp_path / "ds", chunk_events=1_500)
    assert parts == sorted((s, d) for s in ("SIM0", "SIM1", "SIM2") for d in ("2024-01-02", "2024-01-03"))
    ds = Dataset(tmp_path / "ds")
    for table, frame in (
        ("book_deltas", ref.deltas),
        ("trades", ref.trades),
        ("sim_regimes", ref.regimes),
        ("sim_artifacts", ref.artifacts),
    ):
        assert ds.read(table, "SIM0", "2024-01-03").equals(frame), table
    insts = ds.instruments()
    assert {i.tick_size for i in insts.values()} == {"0.01", "0.05", "0.25"}
    meta = ds.read_meta("SIM0", "2024-01-03")
    assert meta["events"] == ref.events and meta["trades"] == ref.trades.height
    assert sum(meta["artifacts"].values()) == ref.artifacts.height
    # another instrument and another day are different streams
    assert not ds.read("book_deltas", "SIM0", "2024-01-02").equals(ref.deltas)
    px1 = ds.read("book_deltas", "SIM1", "2024-01-03")["price"]
    assert px1.min() % instrument_profile(many, "SIM1").tick_int == 0
    assert px1.median() > 2 * ref.deltas["price"].median()  # type: ignore[operator]


@pytest.mark.parametrize("symbol", ["SIM3", "SIM2", "SIM1", "XYZ"])
def test_clean_replay_equals_true_book_and_never_crosses(symbol: str) -> None:
    cfg = _cfg(events_per_day=12_000, seed=len(symbol) + int(symbol[-1] == "1"))
    run = _DayRun(cfg, symbol, DATE)
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    n_checks = 0
    while not run.done:
        piece = run.run(611)
        # continue the replay across pieces: apply this piece onto the running book
        for _seq, _ts, b, a in _replay_onto(piece.deltas, bids, asks):
            assert max(b) < min(a), "clean stream crossed or locked"
            bids, asks = b, a
        true_bids, true_asks = run.true_book()
        assert _state(bids, asks) == (tuple(true_bids), tuple(true_asks))
        n_checks += 1
    assert n_checks > 10
    # the engine (another stage) agrees with the simulator's book at the end of the day
    day = simulate_day(cfg, symbol, DATE)
    snaps = reconstruct(day.deltas, depth=cfg.levels)
    assert (snaps["bid_px_00"] < snaps["ask_px_00"]).all()
    last = snaps.row(-1, named=True)
    tb, ta = run.true_book()
    for k in range(cfg.levels):
        if k < len(tb):
            assert (last[f"bid_px_{k:02d}"], last[f"bid_sz_{k:02d}"]) == tb[k]
        if k < len(ta):
            assert (last[f"ask_px_{k:02d}"], last[f"ask_sz_{k:02d}"]) == ta[k]


def _replay_onto(deltas: pl.DataFrame, bids: dict[int, int], asks: dict[int, int]):  # type: ignore[no-untyped-def]
    bids, asks = dict(bids), dict(asks)
    for side, price, size, flags in deltas.select("side", "price", "size", "flags").iter_rows():
        book = bids if side == 1 else asks
        if size == 0:
            book.pop(price, None)
        else:
            book[price] = size
        if flags & Flags.LAST:
            yield 0, 0, bids, asks


@pytest.fixture(scope="module")
def clean_day():  # type: ignore[no-untyped-def]
    # a dense 1-hour session keeps the test fast while giving ~20 events/s
    cfg = _cfg(
        events_per_day=60_000,
        session_start=dt.time(10, 0),
        session_end=dt.time(11, 0),
        seed=3,
        regimes=[
            r.model_copy(update={"mean_duration_s": r.mean_duration_s / 4}) for r in SimConfig().regimes
        ],
    )
    day = simulate_day(cfg, "SIM0", DATE)
    snaps = reconstruct(day.deltas, depth=cfg.levels)
    return cfg, day, snaps


def _grid(snaps: pl.DataFrame, step_ns: int) -> np.ndarray:
    ts = snaps["ts_event"].to_numpy()
    grid = np.arange(ts[0] + step_ns, ts[-1], step_ns)
    return np.searchsorted(ts, grid, side="right") - 1


def test_ofi_moves_prices(clean_day) -> None:  # type: ignore[no-untyped-def]
    s = clean_day[2]
    bp, ap = s["bid_px_00"].to_numpy().astype(float), s["ask_px_00"].to_numpy().astype(float)
    bq, aq = s["bid_sz_00"].to_numpy().astype(float), s["ask_sz_00"].to_numpy().astype(float)
    # Cont, Kukanov & Stoikov (2014) order-flow imbalance per event, from the best levels only
    e = np.zeros(len(bp))
    e[1:] = (
        (bp[1:] >= bp[:-1]) * bq[1:]
        - (bp[1:] <= bp[:-1]) * bq[:-1]
        - (ap[1:] <= ap[:-1]) * aq[1:]
        + (ap[1:] >= ap[:-1]) * aq[:-1]
    )
    idx = _grid(s, 5 * 10**9)
    cum = np.cumsum(e)
    ofi = np.diff(cum[idx])
    dmid = np.diff((bp + ap)[idx] / 2)
    slope, _ = np.polyfit(ofi, dmid, 1)
    r2 = np.corrcoef(ofi, dmid)[0, 1] ** 2
    n = len(ofi)
    t_stat = np.sqrt(r2 * (n - 2) / (1 - r2))
    assert slope > 0
    assert r2 > 0.15 and t_stat > 8, (r2, t_stat, n)


def test_queue_imbalance_predicts_next_mid_move(clean_day) -> None:  # type: ignore[no-untyped-def]
    s = clean_day[2]
    bp, ap = s["bid_px_00"].to_numpy(), s["ask_px_00"].to_numpy()
    bq, aq = s["bid_sz_00"].to_numpy(), s["ask_sz_00"].to_numpy()
    mid2 = bp + ap
    change = np.nonzero(np.diff(mid2))[0]  # event i+1 moved the mid
    at = np.arange(len(mid2) - 1)
    nxt = np.searchsorted(change, at, side="left")
    ok = nxt < len(change)
    direction = np.sign(mid2[change[nxt[ok]] + 1] - mid2[at[ok]])
    imb = np.sign(bq[at[ok]] - aq[at[ok]])
    use = imb != 0
    hit = np.mean(imb[use] == direction[use])
    assert hit > 0.58, hit
    # and the microprice forecasts the mid 1 s ahead better than the mid itself
    ts = s["ts_event"].to_numpy()
    fut = np.searchsorted(ts, ts + 10**9, side="right") - 1
    ok = ts + 10**9 <= ts[-1]
    mid = mid2 / 2.0
    micro = (bp * aq + ap * bq) / (aq + bq)
    mse_mid = np.mean((mid[fut][ok] - mid[ok]) ** 2)
    mse_micro = np.mean((mid[fut][ok] - micro[ok]) ** 2)
    assert mse_micro < 0.98 * mse_mid, (mse_micro, mse_mid)


def test_regimes_differ_and_switch(clean_day) -> None:  # type: ignore[no-untyped-def]
    cfg, day, s = clean_day
    reg = day.regimes
    assert reg["seq"][0] == 0 and reg.height >= 4
    assert (reg["regime"].diff().drop_nulls() != 0).all()
    tick = instrument_profile(cfg, "SIM0").tick_int
    seq = s["seq"].to_numpy()
    regime = reg["regime"].to_numpy()[np.searchsorted(reg["seq"].to_numpy(), seq, side="right") - 1]
    spread = (s["ask_px_00"] - s["bid_px_00"]).to_numpy() / tick
    depth = sum(s[f"{side}_sz_{k:02d}"].to_numpy() for side in ("bid", "ask") for k in range(cfg.levels))
    idx = _grid(s, 10**9)
    dmid = np.diff((s["bid_px_00"] + s["ask_px_00"]).to_numpy()[idx] / (2 * tick))
    g_reg = regime[idx[:-1]]
    same = regime[idx[:-1]] == regime[idx[1:]]
    stats = {}
    for r in (0, 1):
        m = (g_reg == r) & same
        stats[r] = {
            "vol": dmid[m].std(),
            "events_per_s": np.diff(idx)[m].mean(),
            "spread": spread[regime == r].mean(),
            "depth": depth[regime == r].mean(),
        }
    calm, vol = stats[0], stats[1]
    assert vol["vol"] > 2.0 * calm["vol"], stats
    assert vol["events_per_s"] > 2.0 * calm["events_per_s"], stats
    assert vol["spread"] > 1.2 * calm["spread"], stats
    assert calm["depth"] > 1.8 * vol["depth"], stats


def _messages(deltas: pl.DataFrame) -> dict[int, tuple[int, tuple[tuple[int, int, int, int, int], ...]]]:
    out: dict[int, tuple[int, tuple[tuple[int, int, int, int, int], ...]]] = {}
    for (seq,), g in deltas.group_by("seq", maintain_order=True):
        out[int(seq)] = (
            int(g["ts_event"][0]),
            tuple(g.select("side", "action", "price", "size", "flags").iter_rows()),
        )
    return out


def test_artifact_labels_are_exact() -> None:
    cfg = _cfg(artifacts=NOISY.model_copy(update={"stale_quote": 0.0}), seed=11)
    day = simulate_day(cfg, "SIM1", DATE)
    clean = simulate_day(cfg.model_copy(update={"artifacts": CLEAN}), "SIM1", DATE)
    lab = day.artifacts
    kinds = dict(lab.group_by("kind").len().iter_rows())
    for k in ("crossed", "locked", "burst", "duplicate", "glitch_clear"):
        assert kinds.get(k, 0) > 5, kinds
    assert kinds["crossed"] + kinds["locked"] == kinds["glitch_clear"]
    labelled = {(s, t): k for s, _ts, t, k in lab.iter_rows()}
    # 1. crossed/locked labels are exactly the messages after which the replayed book crosses/locks
    for seq, _ts, bids, asks in replay(day.deltas):
        bb, ba = max(bids), min(asks)
        kind = labelled.get((seq, "book_deltas"))
        if bb > ba:
            assert kind == "crossed", seq
        elif bb == ba:
            assert kind == "locked", seq
        else:
            assert kind not in ("crossed", "locked"), seq
    # 2. duplicates are exact repeats of the previous message (deltas and trades), and only they are
    msgs = _messages(day.deltas)
    for seq, (ts, rows) in msgs.items():
        is_rep = seq - 1 in msgs and msgs[seq - 1] == (ts, rows)
        assert is_rep == (labelled.get((seq, "book_deltas")) == "duplicate"), seq
    dup_tr = lab.filter(pl.col("table") == "trades")
    assert dup_tr.height > 0 and (dup_tr["kind"] == "duplicate").all()
    tr = day.trades
    for seq in dup_tr["seq"]:
        a = tr.filter(pl.col("seq") == seq).drop("seq")
        b = tr.filter(pl.col("seq") == seq - 1).drop("seq")
        assert a.height > 0 and a.equals(b)
    # 3. burst messages flicker one level and leave the book as it was; label ts matches the rows
    ts_of = dict(day.deltas.group_by("seq").agg(pl.col("ts_event").first()).iter_rows())
    for s, ts, _t, _k in lab.iter_rows():
        assert ts_of.get(s, ts) == ts
    # 4. removing every labelled row gives back the clean stream's sequence of books exactly
    art_seqs = lab.filter(pl.col("table") == "book_deltas")["seq"].implode()
    filtered = day.deltas.filter(~pl.col("seq").is_in(art_seqs))
    books_a = [(ts, _state(b, a)) for _s, ts, b, a in replay(filtered)]
    books_c = [(ts, _state(b, a)) for _s, ts, b, a in replay(clean.deltas)]
    assert books_a == books_c
    clean_tr = clean.trades.drop("seq")
    kept_tr = day.trades.filter(~pl.col("seq").is_in(dup_tr["seq"].implode())).drop("seq")
    assert kept_tr.equals(clean_tr)


def test_stale_quotes_are_caught_up_exactly() -> None:
    arts = ArtifactConfig(
        stale_quote=0.003, crossed=0.0, locked=0.0, burst=0.0, duplicate=0.0, stale_mean_ms=4000.0
    )
    cfg = _cfg(artifacts=arts, seed=5)
    day = simulate_day(cfg, "SIM0", DATE)
    clean = simulate_day(cfg.model_copy(update={"artifacts": CLEAN}), "SIM0", DATE)
    lab = day.artifacts
    assert lab.height > 10 and (lab["kind"] == "stale_quote").all() and (lab["table"] == "book_deltas").all()
    stale_seqs = set(lab["seq"].to_list())
    clean_books = [(ts, _state(b, a)) for _s, ts, b, a in replay(clean.deltas)]
    clean_ts = np.array([t for t, _ in clean_books])
    n_behind = 0
    last_seq = int(day.deltas["seq"].max())  # type: ignore[arg-type]
    for seq, ts, bids, asks in replay(day.deltas):
        assert max(bids) < min(asks), "stale quotes must never lock or cross the published book"
        if seq in stale_seqs:
            # a catch-up comes before the genuine message of its time stamp (or after the day's last one)
            i = len(clean_ts) - 1 if seq == last_seq else int(np.searchsorted(clean_ts, ts, side="left")) - 1
            assert _state(bids, asks) == clean_books[i][1], seq
        elif _state(bids, asks) != clean_books[int(np.searchsorted(clean_ts, ts, side="right")) - 1][1]:
            n_behind += 1
    assert n_behind > 50  # the feed really was stale in between
    assert day.trades.drop("seq").equals(clean.trades.drop("seq"))  # trades keep printing


def test_heavy_artifacts_keep_time_order_and_exact_labels() -> None:
    heavy = ArtifactConfig(
        stale_quote=0.25,
        crossed=0.2,
        locked=0.2,
        burst=0.2,
        duplicate=0.3,
        stale_mean_ms=800.0,
        burst_pairs=3,
    )
    cfg = _cfg(events_per_day=3_000, artifacts=heavy, seed=13)
    run = _DayRun(cfg, "SIM0", DATE)
    pieces = []
    while not run.done:
        pieces.append(run.run(500))
    d = pl.concat([p.deltas for p in pieces])
    lab = pl.concat([p.artifacts for p in pieces])
    assert d["ts_event"].is_sorted() and d["seq"].is_sorted()
    kinds = dict(lab.group_by("kind").len().iter_rows())
    assert min(kinds.get(k, 0) for k in ("stale_quote", "crossed", "locked", "burst", "duplicate")) > 20, (
        kinds
    )
    labelled = {s: k for s, _ts, t, k in lab.iter_rows() if t == "book_deltas"}
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for seq, _ts, bids, asks in replay(d):
        bb, ba = max(bids), min(asks)
        want = "crossed" if bb > ba else "locked" if bb == ba else None
        assert (labelled.get(seq) if labelled.get(seq) in ("crossed", "locked") else None) == want, seq
    tb, ta = run.true_book()
    assert _state(bids, asks) == (tuple(tb), tuple(ta))  # the day ends caught up


def test_kernel_twin_matches_jitted() -> None:
    cfg = _cfg(events_per_day=1_500, artifacts=NOISY, seed=2)
    out = []
    for kernel in (K.sim_kernel, K.sim_kernel.py_func):
        run = _DayRun(cfg, "SIM2", DATE)
        pieces = []
        while not run.done:
            pieces.append(run.run(400, kernel=kernel))
        out.append(
            (
                pl.concat([p.deltas for p in pieces]),
                pl.concat([p.trades for p in pieces]),
                pl.concat([p.artifacts for p in pieces]),
                pl.concat([p.regimes for p in pieces]),
            )
        )
    for a, b in zip(out[0], out[1], strict=True):
        assert a.equals(b)
    assert out[0][2].height > 0 and out[0][1].height > 0


def test_config_validation() -> None:
    with pytest.raises(ValidationError, match="transition"):
        SimConfig(transition=[[0.0, 1.0, 0.0]])
    with pytest.raises(ValidationError, match="extra"):
        SimConfig(bogus=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ArtifactConfig(stale_quote=0.6, crossed=0.6)
    with pytest.raises(ValidationError):
        SimConfig(session_start=dt.time(16, 0), session_end=dt.time(9, 30))
    cfg = SimConfig()
    assert json.loads(cfg.model_dump_json())["events_per_day"] == 200_000
    assert [d.isoformat() for d in SimConfig(start_date=dt.date(2024, 1, 5), days=2).business_days()] == [
        "2024-01-05",
        "2024-01-08",
    ]
    pi = cfg.stationary()
    assert pi[0] == pytest.approx(600 / 840)
