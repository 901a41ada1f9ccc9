"""Each filter rule on a hand-worked tiny stream (expected flags worked out by hand in the comments)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from orderflow.core.enums import UNDEF_PRICE, Flags
from orderflow.core.instruments import Instrument
from orderflow.core.schema import BOOK_DELTAS, QC, STATUS, TRADES, book_snapshots, validate
from orderflow.filters import FilterConfig, apply_filters

TICK = 10_000_000  # 0.01 in 1e-9 units
T0 = 1_704_206_400_000_000_000 + 3 * 3600 * 10**9  # 2024-01-02 17:00 UTC = 12:00 New York
INST = Instrument(symbol="TST", tick_size="0.01", timezone="America/New_York")
LAST = int(Flags.LAST)


def deltas(
    rows: list[tuple[int, int, int, int, int, int]], order_ids: list[int] | None = None
) -> pl.DataFrame:
    """rows: (seq, ts_offset_ns, side, action, price_ticks, size); every row is LAST of its event."""
    n = len(rows)
    df = pl.DataFrame(
        {
            "ts_event": [T0 + r[1] for r in rows],
            "ts_recv": [T0 + r[1] for r in rows],
            "seq": [r[0] for r in rows],
            "side": [r[2] for r in rows],
            "action": [r[3] for r in rows],
            "price": [r[4] * TICK for r in rows],
            "size": [r[5] for r in rows],
            "order_id": order_ids or [0] * n,
            "flags": [LAST] * n,
        },
        schema=BOOK_DELTAS.polars_schema(),
    )
    return validate(df, BOOK_DELTAS)


def trades(rows: list[tuple[int, int, int, int, int]], kind: int = 0) -> pl.DataFrame:
    """rows: (seq, ts_offset_ns, price_ticks, size, aggressor)."""
    n = len(rows)
    df = pl.DataFrame(
        {
            "ts_event": [T0 + r[1] for r in rows],
            "ts_recv": [T0 + r[1] for r in rows],
            "seq": [r[0] for r in rows],
            "price": [r[2] * TICK for r in rows],
            "size": [r[3] for r in rows],
            "aggressor": [r[4] for r in rows],
            "kind": [kind] * n,
            "trade_id": list(range(1, n + 1)),
            "order_id": [0] * n,
            "flags": [LAST] * n,
        },
        schema=TRADES.polars_schema(),
    )
    return validate(df, TRADES)


def snaps(
    rows: list[tuple[int, int, list[tuple[int, int]], list[tuple[int, int]]]], depth: int = 2
) -> pl.DataFrame:
    """rows: (seq, ts_offset, [(bid_ticks, size) best first], [(ask_ticks, size)]); missing = empty."""
    data: dict[str, list[int]] = {"ts_event": [], "ts_recv": [], "seq": []}
    for side in ("bid", "ask"):
        for w in ("px", "sz"):
            for k in range(depth):
                data[f"{side}_{w}_{k:02d}"] = []
    for seq, off, bids, asks in rows:
        data["ts_event"].append(T0 + off)
        data["ts_recv"].append(T0 + off)
        data["seq"].append(seq)
        for side, lv in (("bid", bids), ("ask", asks)):
            for k in range(depth):
                px, sz = lv[k] if k < len(lv) else (None, 0)
                data[f"{side}_px_{k:02d}"].append(UNDEF_PRICE if px is None else px * TICK)
                data[f"{side}_sz_{k:02d}"].append(sz)
    return validate(pl.DataFrame(data, schema=book_snapshots(depth).polars_schema()), book_snapshots(depth))


def only(rule: str, **kw: object) -> FilterConfig:
    """A config with just ``rule`` enabled (with overrides)."""
    cfg = FilterConfig().disable(*[r for r in FilterConfig().enabled_rules() if r != rule])
    if kw:
        cur = getattr(cfg, rule)
        cfg = cfg.model_copy(update={rule: cur.model_copy(update=kw)})
    return cfg


def run(
    cfg: FilterConfig,
    d: pl.DataFrame,
    t: pl.DataFrame | None = None,
    s: pl.DataFrame | None = None,
    status: pl.DataFrame | None = None,
):  # type: ignore[no-untyped-def]
    res = apply_filters(
        s if s is not None else snaps([]),
        d,
        t if t is not None else TRADES.empty(),
        instrument=INST,
        config=cfg,
        status=status,
    )
    validate(res.qc, QC)
    return res


def flagged(res, rule: str) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    q = res.qc.filter(pl.col("rule") == rule)
    return sorted(set(zip(q["seq"].to_list(), q["reason"].to_list(), strict=True)))


# ---------------------------------------------------------------------------------------------------
def test_crossed_and_locked_with_reasons() -> None:
    # seq 1 crosses before any trade (auction); seq 2 trade; seq 3 locked (feed glitch); seq 4 normal;
    # seq 5 crossed during a STATUS halt (STATUS at seq 5 applies to seq 5)
    d = deltas([(1, 10, 1, 4, 102, 5), (3, 30, 1, 4, 101, 5), (4, 40, 1, 4, 100, 5), (5, 50, 1, 4, 103, 5)])
    t = trades([(2, 20, 101, 1, 1)])
    s = snaps(
        [
            (1, 10, [(102, 5)], [(101, 5)]),
            (2, 20, [(100, 5)], [(101, 4)]),
            (3, 30, [(101, 5)], [(101, 4)]),
            (4, 40, [(100, 5)], [(101, 4)]),
            (5, 50, [(103, 5)], [(101, 4)]),
            (6, 60, [(100, 5)], []),  # one side empty: never crossed
        ]
    )
    st = validate(
        pl.DataFrame(
            {"ts_event": [T0 + 50], "ts_recv": [T0 + 50], "seq": [5], "status": [1], "detail": ["H"]},
            schema=STATUS.polars_schema(),
        ),
        STATUS,
    )
    cfg = FilterConfig().disable(
        "stale_quote", "message_storm", "flicker", "quote_stuffing", "duplicate", "low_info", "session"
    )
    res = run(cfg, d, t, s, st)
    assert flagged(res, "crossed_book") == [(1, "auction"), (5, "halt")]
    assert flagged(res, "locked_book") == [(3, "feed_glitch")]
    q = res.qc.filter(pl.col("rule") == "crossed_book")
    assert q["table"].to_list() == ["book_snapshots"] * 2
    assert q["action"].to_list() == ["drop"] * 2
    assert q["detail"][0] == f"bid_px_00={102 * TICK} ask_px_00={101 * TICK}"


def test_stale_quote_unmatched_trade_and_catch_up() -> None:
    ms = 1_000_000
    # seq0 both sides; seq1 ask update; seq2 seller hits the bid but no bid row (unmatched) at 300 ms;
    # seq3 ask update (bid still stale -> stale_side); seq4 bid catch-up at 400 ms.
    d = deltas(
        [
            (0, 0, 1, 4, 100, 5),
            (0, 0, -1, 4, 101, 5),
            (1, 100 * ms, -1, 4, 101, 6),
            (3, 350 * ms, -1, 4, 101, 7),
            (4, 400 * ms, 1, 4, 100, 3),
        ]
    )
    t = trades([(2, 300 * ms, 100, 2, -1)])
    res = run(only("stale_quote", min_age_ms=200.0), d, t)
    assert flagged(res, "stale_quote") == [(2, "stale_side"), (3, "stale_side"), (4, "catch_up")]
    acts = dict(zip(res.qc["seq"].to_list(), res.qc["action"].to_list(), strict=True))
    assert acts == {2: "downweight", 3: "downweight", 4: "mark"}
    # younger than min_age: nothing
    assert run(only("stale_quote", min_age_ms=500.0), d, t).qc.height == 0
    # the same trade WITH a bid row in its message is a normal update: nothing stale
    d2 = pl.concat([d, deltas([(2, 300 * ms, 1, 4, 100, 3)])]).sort("seq", maintain_order=True)
    assert run(only("stale_quote", min_age_ms=200.0), d2, t).qc.height == 0


def test_stale_quote_other_side_updates_and_heartbeat() -> None:
    ms = 1_000_000
    rows = [(0, 0, 1, 4, 100, 5), (0, 0, -1, 4, 101, 5)]
    rows += [(k, k * 100 * ms, -1, 4, 101, 5 + k) for k in range(1, 4)]  # ask moves at 100, 200, 300 ms
    rows += [(4, 450 * ms, 1, 4, 100, 9)]  # bid finally updates
    d = deltas(rows)
    # min_other_updates=3: stale from seq 3 (age 300 ms >= 250, 3 ask updates), catch-up at seq 4
    res = run(only("stale_quote", min_age_ms=250.0, min_other_updates=3), d)
    assert flagged(res, "stale_quote") == [(3, "stale_side"), (4, "catch_up")]
    # heartbeat 150 ms (age >= heartbeat): bid 200, 300 ms old at seq 2, 3; at seq 4 (450 ms) the bid
    # updates but the ask's last update (seq 3, 300 ms) is 150 ms old
    res = run(only("stale_quote", min_age_ms=10_000.0, heartbeat_ms=150.0), d)
    assert flagged(res, "stale_quote") == [(2, "heartbeat"), (3, "heartbeat"), (4, "heartbeat")]


def test_message_storm_closed_window() -> None:
    us = 1000
    # seqs 1..4 at 0, 4, 8, 10 us; seq 5 at 30 us; seq 6 at 31 us
    d = deltas([(i + 1, o * us, 1, 1, 100, 1) for i, o in enumerate([0, 4, 8, 10, 30, 31])])
    res = run(only("message_storm", min_messages=4, window_us=10.0), d)
    assert [s for s, _ in flagged(res, "message_storm")] == [1, 2, 3, 4]  # [0, 10] holds 4 (closed)
    res = run(only("message_storm", min_messages=4, window_us=9.9), d)
    assert flagged(res, "message_storm") == []
    res = run(only("message_storm", min_messages=3, window_us=21.0), d)
    # windows ending at 8 (0,4,8), 10 (0..10), 30 (10,30), 31 (10,30,31)
    assert [s for s, _ in flagged(res, "message_storm")] == [1, 2, 3, 4, 5, 6]


def test_flicker_set_feed() -> None:
    us = 1000
    # level 100 bid: SET 5 (new), 8, 5, 8, 5 each 10 us apart; then 9 at +1 s; another price untouched
    sizes = [5, 8, 5, 8, 5]
    rows = [(i + 1, i * 10 * us, 1, 4, 100, sz) for i, sz in enumerate(sizes)]
    rows += [(6, 60 * us, 1, 4, 99, 4), (7, 10**9, 1, 4, 100, 9)]
    d = deltas(rows)
    # changes: +5, +3, -3 (flip 1), +3 (flip 2), -3 (flip 3) -> run of 3 flips: rows seq 2..5
    res = run(only("flicker", min_flips=3, window_us=50.0), d)
    assert [s for s, _ in flagged(res, "flicker")] == [2, 3, 4, 5]
    assert run(only("flicker", min_flips=4, window_us=50.0), d).qc.height == 0
    assert run(only("flicker", min_flips=3, window_us=5.0), d).qc.height == 0  # flips 10 us apart


def test_flicker_add_cancel_feed() -> None:
    us = 1000
    # ADD 3 / REDUCE 3 / ADD 3 at one price within 2 us; an EXECUTE breaks the next run
    d = deltas(
        [
            (1, 0, -1, 1, 101, 3),
            (2, 1 * us, -1, 2, 101, 3),
            (3, 2 * us, -1, 1, 101, 3),
            (4, 3 * us, -1, 3, 101, 3),
            (5, 4 * us, -1, 1, 101, 3),
        ]
    )
    res = run(only("flicker", min_flips=2, window_us=10.0), d)
    assert [s for s, _ in flagged(res, "flicker")] == [1, 2, 3]


def test_quote_stuffing_ratio() -> None:
    ms = 1_000_000
    # 6 messages in 5 ms, one of them a trade; window 10 ms, >= 5 msgs and msgs >= 2 * (trades + 1)
    d = deltas([(i + 1, i * ms, 1, 4, 100, i + 1) for i in range(6)])
    t = trades([(3, 2 * ms, 100, 1, -1)])
    res = run(only("quote_stuffing", window_ms=10.0, min_messages=5, min_ratio=2.0), d, t)
    # at seq 5: 5 msgs, 1 trade -> 5 >= 4: flagged; seq 6: 6 >= 4
    assert [s for s, _ in flagged(res, "quote_stuffing")] == [5, 6]
    res = run(only("quote_stuffing", window_ms=10.0, min_messages=5, min_ratio=3.0), d, t)
    assert [s for s, _ in flagged(res, "quote_stuffing")] == [6]  # 6 >= 6 only at seq 6


def test_duplicates() -> None:
    # seq 2 repeats seq 1 (same ts, rows, trade) -> duplicate in both tables; seq 4 repeats seq 3 at
    # another ts -> not a duplicate; seq 6 differs from seq 5 in order_id only -> not a duplicate
    d = deltas(
        [
            (1, 5, -1, 3, 101, 2),
            (2, 5, -1, 3, 101, 2),
            (3, 7, 1, 1, 99, 1),
            (4, 8, 1, 1, 99, 1),
            (5, 9, 1, 1, 98, 1),
            (6, 9, 1, 1, 98, 1),
        ],
        order_ids=[7, 7, 0, 0, 11, 12],
    )
    t = trades([(1, 5, 101, 2, 1), (2, 5, 101, 2, 1)])
    res = run(only("duplicate"), d, t)
    q = res.qc
    assert q["seq"].to_list() == [2, 2]
    assert sorted(q["table"].to_list()) == ["book_deltas", "trades"]
    assert q["detail"].to_list() == ["copy of seq 1"] * 2
    assert res.report["rules"]["duplicate"] == {
        "events": 1,
        "volume": 2,
        "by_action": {"drop": {"events": 1, "volume": 2}},
        "by_reason": {"duplicate": 1},
    }
    # lag: with max_lag=1 a copy two messages later is missed
    d3 = deltas([(1, 5, 1, 1, 99, 1), (2, 5, 1, 1, 98, 1), (3, 5, 1, 1, 99, 1)])
    assert run(only("duplicate", max_lag=1), d3).qc.height == 0
    assert run(only("duplicate", max_lag=2), d3).qc["seq"].to_list() == [3]


def test_low_info() -> None:
    d = deltas([(i, i, 1, 4, 100, 5) for i in range(1, 6)])
    t = trades([(4, 4, 100, 1, -1)])
    s = snaps(
        [
            (1, 1, [(100, 5), (99, 1)], [(101, 5)]),
            (2, 2, [(100, 5), (99, 2)], [(101, 5)]),  # level 1 changed only -> beyond_top_k
            (3, 3, [(100, 5), (99, 2)], [(101, 5)]),  # nothing changed -> no_change
            (4, 4, [(100, 5), (99, 2)], [(101, 5)]),  # unchanged but a trade -> not low-info
            (5, 5, [(100, 6), (99, 2)], [(101, 5)]),  # top changed
        ]
    )
    res = run(only("low_info", top_k=1), d, t, s)
    assert flagged(res, "low_info") == [(2, "beyond_top_k"), (3, "no_change")]
    # odd lots: ADD 150 with round lot 100 (SET rows are level totals: never odd)
    d2 = deltas([(1, 1, 1, 1, 100, 150), (2, 2, 1, 1, 100, 200), (3, 3, 1, 4, 100, 350)])
    t2 = trades([(4, 4, 100, 50, 1)])
    res = run(only("low_info", round_lot=100), d2, t2, snaps([]))
    assert flagged(res, "low_info") == [(1, "odd_lot"), (4, "odd_lot")]
    assert sorted(res.qc["table"].to_list()) == ["book_deltas", "trades"]


def test_session_rules_local_time() -> None:
    ny = dt.timezone(dt.timedelta(hours=-5))  # 2024-01-02 is EST

    def off(h: int, m: int) -> int:
        return int(dt.datetime(2024, 1, 2, h, m, tzinfo=ny).timestamp()) * 10**9 - T0

    times = [(9, 29), (9, 31), (12, 0), (12, 1), (12, 2), (15, 58), (16, 1)]
    d = deltas([(i + 1, off(h, m), 1, 4, 100, 1) for i, (h, m) in enumerate(times)])
    st = validate(
        pl.DataFrame(
            {
                "ts_event": [T0 + off(12, 1), T0 + off(12, 2)],
                "ts_recv": [T0 + off(12, 1), T0 + off(12, 2)],
                "seq": [4, 5],
                "status": [1, 3],
                "detail": ["halt", "resume"],
            },
            schema=STATUS.polars_schema(),
        ),
        STATUS,
    )
    res = run(only("session"), d, None, None, st)
    assert flagged(res, "session") == [
        (1, "pre_open"),
        (2, "opening_minutes"),
        (4, "halt"),
        (6, "closing_minutes"),
        (7, "post_close"),
    ]
    acts = dict(zip(res.qc["seq"].to_list(), res.qc["action"].to_list(), strict=True))
    assert acts[4] == "drop" and acts[2] == "mark"
    # 24h market: clock rules off, STATUS rules still on
    res = run(only("session", open_time=None), d, None, None, st)
    assert flagged(res, "session") == [(4, "halt")]


def test_no_input_rows() -> None:
    res = run(FilterConfig(), BOOK_DELTAS.empty())
    assert res.qc.height == 0 and res.report["flagged_events"] == 0


@pytest.mark.parametrize("rule", FilterConfig().enabled_rules())
def test_report_lists_each_enabled_rule(rule: str) -> None:
    d = deltas([(1, 1, 1, 4, 100, 5)])
    res = run(only(rule), d)
    assert list(res.report["rules"]) == [rule]
    assert res.report["events"] == 1
    assert np.array_equal(res.qc["rule"].unique().to_numpy(), np.array([rule])) or res.qc.height == 0


def test_duplicate_hidden_prints_are_not_duplicates() -> None:
    # two hidden executions of one aggressor at the same ns (no order id): equal rows, not a copy
    t = trades([(1, 5, 101, 100, 1), (2, 5, 101, 100, 1)], kind=1)
    assert run(only("duplicate"), BOOK_DELTAS.empty(), t).qc.height == 0
    res = run(only("duplicate", skip_hidden=False), BOOK_DELTAS.empty(), t)
    assert res.qc["seq"].to_list() == [2] and res.qc["table"].to_list() == ["trades"]
