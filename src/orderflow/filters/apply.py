"""``apply_filters``: run the enabled rules and turn their masks into one QC table and a report.

Nothing is deleted: every flagged event becomes one QC row per (rule, reason, table) with the rule's
action; downstream stages decide from the QC table. Switching a rule off removes exactly its rows
(rules never read each other's output), so ablation is a config change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from orderflow.core.instruments import Instrument
from orderflow.core.schema import QC, validate
from orderflow.filters.config import RULES, FilterConfig
from orderflow.filters.rules import FILTERS, RULE_FUNCTIONS, EventView, RuleMask, build_view

RULE_KIND: dict[str, str] = {
    "crossed_book": "crossed",
    "locked_book": "locked",
    "message_storm": "burst",
    "flicker": "burst",
    "quote_stuffing": "burst",
    "duplicate": "duplicate",
    "stale_quote": "stale_quote",
}
"""Which simulator artifact kind a rule detects (``stale_quote`` only with reason ``catch_up``: the
simulator labels the message that ends a stale spell)."""

KIND_REASONS: dict[str, tuple[str, ...]] = {"stale_quote": ("catch_up",)}
ARTIFACT_KINDS = ("stale_quote", "crossed", "locked", "burst", "duplicate")


@dataclass
class FilterResult:
    """QC rows (QC schema, sorted by seq) and the per-rule report."""

    qc: pl.DataFrame
    report: dict[str, Any] = field(default_factory=dict)


def _strings(codes: np.ndarray, names: tuple[str, ...]) -> pl.Series:
    if len(names) == 1:
        return pl.repeat(names[0], codes.shape[0], dtype=pl.Utf8, eager=True)
    return pl.Series(codes.astype(np.int8)).replace_strict(dict(enumerate(names)), return_dtype=pl.Utf8)


def _mask_rows(m: RuleMask, view: EventView) -> pl.DataFrame:
    idx = np.flatnonzero(m.mask)
    if m.index == "events":
        seq, ts = view.seq[idx], view.ts[idx]
    elif m.index == "snapshots":
        seq = view.snapshots["seq"].to_numpy()[idx]
        ts = view.snapshots["ts_event"].to_numpy()[idx]
    else:
        seq, ts = view.t["seq"][idx], view.t["ts_event"][idx]
    n = idx.shape[0]
    detail = (
        m.detail
        if m.detail is not None and m.detail.len() == n
        else pl.repeat("", n, dtype=pl.Utf8, eager=True)
    )
    base = pl.DataFrame(
        {
            "seq": seq.astype(np.int64),
            "ts_event": ts.astype(np.int64),
            "rule": pl.repeat(m.rule, n, dtype=pl.Utf8, eager=True),
            "reason": _strings(m.reason[idx], m.reasons),
            "action": _strings(m.action[idx], m.actions),
            "detail": detail.alias("detail"),
        }
    )
    if m.table is not None:
        return base.with_columns(pl.lit(m.table, dtype=pl.Utf8).alias("table"))
    has_d = view.has_deltas[idx] if m.index == "events" else np.zeros(n, np.bool_)
    if not m.all_tables:
        return base.with_columns(pl.Series("table", np.where(has_d, "book_deltas", "trades"), dtype=pl.Utf8))
    has_t = (view.t_hi > view.t_lo)[idx]
    parts = [
        base.filter(pl.Series(has_d)).with_columns(pl.lit("book_deltas").alias("table")),
        base.filter(pl.Series(has_t)).with_columns(pl.lit("trades").alias("table")),
    ]
    return pl.concat(parts)


def _report(qc: pl.DataFrame, view: EventView, config: FilterConfig) -> dict[str, Any]:
    """Counts of distinct flagged seqs and their traded volume, per rule, action and reason."""
    seq_all = qc["seq"].to_numpy()
    rule_col, action_col, reason_col = qc["rule"], qc["action"], qc["reason"]

    def unique(seqs: np.ndarray) -> np.ndarray:  # qc is sorted by seq, so are its subsets
        if seqs.shape[0] < 2:
            return seqs
        keep = np.empty(seqs.shape[0], np.bool_)
        keep[0] = True
        np.not_equal(seqs[1:], seqs[:-1], out=keep[1:])
        return seqs[keep]

    def events_volume(seqs: np.ndarray) -> tuple[int, int]:
        u = unique(seqs)
        pos = np.minimum(np.searchsorted(view.seq, u), max(view.n - 1, 0))
        hit = pos[view.seq[pos] == u] if view.n else pos[:0]
        return int(u.shape[0]), int(view.trade_vol[hit].sum())

    rules: dict[str, Any] = {}
    names = [r for r in RULES if getattr(config, r).enabled]
    names += sorted({str(r) for r in rule_col.unique().to_list()} - set(RULES))  # plug-in rules
    for rule in names:
        m = (rule_col == rule).to_numpy()
        ev, vol = events_volume(seq_all[m])
        entry: dict[str, Any] = {"events": ev, "volume": vol, "by_action": {}, "by_reason": {}}
        if ev:
            acts = action_col.filter(pl.Series(m))
            reas = reason_col.filter(pl.Series(m))
            seqs = seq_all[m]
            for a in sorted(acts.unique().to_list()):
                e, v = events_volume(seqs[(acts == a).to_numpy()])
                entry["by_action"][a] = {"events": e, "volume": v}
            for r in sorted(reas.unique().to_list()):
                entry["by_reason"][r] = int(unique(seqs[(reas == r).to_numpy()]).shape[0])
        rules[rule] = entry
    fe, fv = events_volume(seq_all)
    de, _ = events_volume(seq_all[(action_col == "drop").to_numpy()])
    return {
        "events": view.n,
        "volume": int(view.trade_vol.sum()),
        "flagged_events": fe,
        "flagged_volume": fv,
        "dropped_events": de,
        "rules": rules,
        "disabled": [r for r in RULES if not getattr(config, r).enabled]
        + [p.rule for p in config.plugins if not p.enabled],
    }


def apply_filters(
    snapshots: pl.DataFrame,
    deltas: pl.DataFrame,
    trades: pl.DataFrame,
    *,
    instrument: Instrument,
    config: FilterConfig,
    status: pl.DataFrame | None = None,
) -> FilterResult:
    """Run every enabled rule of ``config`` on one partition; return QC rows and a report.

    ``snapshots`` are BOOK_SNAPSHOTS (any depth; ``seq`` = the event after which the book holds),
    ``deltas`` BOOK_DELTAS, ``trades`` TRADES, ``status`` STATUS (optional). The report holds
    ``events`` and ``volume`` of the partition, ``flagged_events``/``flagged_volume`` (distinct seqs
    flagged by any rule and their traded volume), ``dropped_events``, and per rule under ``rules``:
    ``events``, ``volume``, ``by_action`` {action: {events, volume}}, ``by_reason`` {reason: events}.
    """
    view = build_view(snapshots, deltas, trades, instrument, status)
    frames: list[pl.DataFrame] = []
    for rule in RULES:
        rc = getattr(config, rule)
        if not rc.enabled:
            continue
        for m in RULE_FUNCTIONS[rule](view, rc):
            if m.mask.any():
                frames.append(_mask_rows(m, view))
    for plugin in config.plugins:
        if not plugin.enabled:
            continue
        fn = FILTERS.get(plugin.rule)
        for m in fn(view, plugin):
            if m.mask.shape[0] and m.mask.any():
                frames.append(_mask_rows(m, view))
    if frames:
        qc = pl.concat(frames, how="diagonal").select(QC.names).sort("seq", maintain_order=True)
    else:
        qc = QC.empty()
    qc = validate(qc, QC, where=f"filters {instrument.symbol}")
    return FilterResult(qc=qc, report=_report(qc, view, config))


def _score(flag: set[int], truth: set[int]) -> dict[str, Any]:
    tp = len(flag & truth)
    fp = len(flag - truth)
    fn = len(truth - flag)
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def score_against_truth(qc: pl.DataFrame, artifacts: pl.DataFrame) -> dict[str, Any]:
    """Precision and recall of the filters against SIM_ARTIFACTS, per artifact kind and per rule.

    Matching is by ``seq``: a QC row of rule R matches when its seq is an artifact seq of the kind
    :data:`RULE_KIND` maps R to (``stale_quote`` rows only with reason ``catch_up``). Counts are of
    distinct seqs (an artifact labelled in two tables counts once). Keys: each kind of
    :data:`ARTIFACT_KINDS` (the union of its rules) and ``rule:<name>`` per mapped rule; values
    ``precision``, ``recall`` (None when undefined), ``tp``, ``fp``, ``fn``.
    """
    truth = {k: set(artifacts.filter(pl.col("kind") == k)["seq"].to_list()) for k in ARTIFACT_KINDS}
    out: dict[str, Any] = {}
    per_kind: dict[str, set[int]] = {k: set() for k in ARTIFACT_KINDS}
    per_rule: dict[str, set[int]] = {}
    for rule, kind in RULE_KIND.items():
        f = qc.filter(pl.col("rule") == rule)
        if kind in KIND_REASONS:
            f = f.filter(pl.col("reason").is_in(list(KIND_REASONS[kind])))
        seqs = set(f["seq"].to_list())
        per_rule[rule] = seqs
        per_kind[kind] |= seqs
    for k in ARTIFACT_KINDS:
        out[k] = _score(per_kind[k], truth[k])
    for rule, kind in RULE_KIND.items():
        out[f"rule:{rule}"] = _score(per_rule[rule], truth[kind])
    return out


__all__ = ["ARTIFACT_KINDS", "RULE_KIND", "FilterResult", "apply_filters", "score_against_truth"]
