"""The end-of-run summary: headline table and the stay-out verdict."""

from __future__ import annotations

from orderflow.cli.run_cmd import headline_table, verdict_line
from orderflow.pipeline.config import load_config


def test_verdict_only_when_no_decision_fired() -> None:
    cfg = load_config(None, overrides={"research": {"model": {"decision_quantile": 0.25}}})
    line = verdict_line({"decisions": {"trades": 0}}, cfg)
    assert line is not None and "0.25 quantile" in line and "stay out" in line
    assert verdict_line({"decisions": {"trades": 12}}, cfg) is None
    assert verdict_line({}, cfg) is None  # no research metrics: nothing to say


def test_headline_table_has_a_row_per_regime() -> None:
    metrics = {
        "classification": {"macro_f1": 0.5, "by_regime": {"0": {"macro_f1": 0.4}, "1": {"macro_f1": 0.6}}},
        "decisions": {
            "trades": 3,
            "ev_mean_bps": 1.25,
            "by_regime": {"0": {"trades": 1}, "1": {"trades": 2}},
        },
    }
    t = headline_table(metrics)
    assert t.row_count == 3
    cells = [list(c.cells) for c in t.columns]
    assert cells[0] == ["all", "regime 0", "regime 1"]
    assert cells[1] == ["0.5", "0.4", "0.6"]
    assert cells[4] == ["3", "1", "2"]


def test_pooled_filter_scores_sum_counts_then_divide() -> None:
    from orderflow.pipeline.stages import pool_scores

    rows = [
        ["A/1", "burst", 0.5, 1.0, 1, 1, 0],
        ["B/1", "burst", 1.0, 0.5, 3, 0, 3],
        ["A/1", "stale", None, None, 0, 0, 0],
    ]
    pooled = {r[0]: r[1:] for r in pool_scores(rows)}
    assert pooled["burst"] == [4 / 5, 4 / 7, 4, 1, 3]  # not the mean of the per-partition ratios
    assert pooled["stale"] == [None, None, 0, 0, 0]
