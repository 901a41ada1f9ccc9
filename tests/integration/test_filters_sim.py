"""Filters against the simulator's ground truth (SIM_ARTIFACTS).

Mapping rule -> artifact kind (orderflow.filters.RULE_KIND): crossed_book -> crossed, locked_book ->
locked, message_storm / flicker / quote_stuffing -> burst, duplicate -> duplicate, stale_quote (reason
catch_up) -> stale_quote. A QC row matches when its seq is an artifact seq of that kind.
Targets: recall >= 0.95 and precision >= 0.9 for crossed, locked, burst and duplicate.
"""

from __future__ import annotations

import pytest

from orderflow.book.engine import reconstruct
from orderflow.filters import FilterConfig, apply_filters, score_against_truth
from orderflow.ingest.simulator import ArtifactConfig, SimConfig, simulate_day

RATES = ArtifactConfig(stale_quote=3e-4, crossed=3e-4, locked=3e-4, burst=3e-4, duplicate=1e-3)


def _run(symbol: str, seed: int, artifacts: ArtifactConfig, events: int = 60_000):  # type: ignore[no-untyped-def]
    cfg = SimConfig(seed=seed, instruments=[symbol], events_per_day=events, artifacts=artifacts)
    day = simulate_day(cfg, symbol, "2024-01-03")
    snaps = reconstruct(day.deltas, depth=10)
    res = apply_filters(snaps, day.deltas, day.trades, instrument=day.instrument, config=FilterConfig())
    return day, res


@pytest.mark.parametrize(("symbol", "seed"), [("SIM0", 11), ("SIM2", 12)])
def test_precision_recall_targets(symbol: str, seed: int) -> None:
    day, res = _run(symbol, seed, RATES)
    sc = score_against_truth(res.qc, day.artifacts)
    for key in (
        "crossed",
        "locked",
        "burst",
        "duplicate",
        "rule:crossed_book",
        "rule:locked_book",
        "rule:message_storm",
        "rule:flicker",
        "rule:duplicate",
    ):
        s = sc[key]
        assert s["tp"] + s["fn"] >= 5, f"{key}: too few artifacts to score ({s})"
        assert s["recall"] >= 0.95, f"{symbol} {key}: {s}"
        assert s["precision"] >= 0.9, f"{symbol} {key}: {s}"
    # stale quotes: no target; the catch-up rows that are flagged are right (unmatched trades are proof)
    st = sc["stale_quote"]
    assert st["tp"] >= 1 and st["precision"] >= 0.75, st
    print(symbol, {k: v for k, v in sc.items()})


def test_clean_stream_has_no_artifact_flags() -> None:
    day, res = _run("SIM0", 13, ArtifactConfig.clean(), events=40_000)
    assert day.artifacts.height == 0
    rules = set(res.qc["rule"].unique().to_list())
    assert not rules & {"crossed_book", "locked_book", "duplicate", "flicker", "message_storm"}, rules
