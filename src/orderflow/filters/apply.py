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
from orderflow.filters import _kernels as K
from orderflow.filters.config import RULES, FilterConfig
from orderflow.filters.rules import FILTERS, RULE_FUNCTIONS, EventView, RuleMask, _snap_seq, build_view

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


class _Rows:
    """QC rows being assembled as integer codes (strings interned once, joined at the end)."""

    def __init__(self, view: EventView) -> None:
        self.view = view
        self.names: dict[str, dict[str, int]] = {"rule": {}, "reason": {}, "action": {}, "table": {}}
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.details: list[pl.Series] = []
        self.n_details = 1  # detail code 0 = ""

    def code(self, kind: str, name: str) -> int:
        return self.names[kind].setdefault(name, len(self.names[kind]))

    def codes(self, kind: str, names: tuple[str, ...]) -> np.ndarray:
        return np.array([self.code(kind, x) for x in names], np.int64)

    def add(self, m: RuleMask) -> None:
        view = self.view
        idx = np.flatnonzero(m.mask)
        n = idx.shape[0]
        if m.index == "events":
            seq, ts, ev = view.seq[idx], view.ts[idx], idx
        elif m.index == "snapshots":
            seq = _snap_seq(view)[idx]
            ts = view.snapshots["ts_event"].gather(pl.Series(idx, dtype=pl.Int64)).to_numpy()
            ev = view.snap_event[idx]
        else:
            seq, ts = view.t["seq"][idx], view.t["ts_event"][idx]
            # the event holding trade row r: the last event whose trade rows start at or before r
            ev = np.searchsorted(view.t_lo, idx, side="right") - 1 if view.n else np.full(n, -1)
        # traded volume of the row's event (0 when its seq is not an event), for the report
        vol = np.where(ev >= 0, view.trade_vol[np.maximum(ev, 0)], 0) if view.n else np.zeros(n)
        vol = vol.astype(np.int64)
        seq = seq.astype(np.int64)
        ts = ts.astype(np.int64)
        rule = np.full(n, self.code("rule", m.rule), np.int64)
        reason = self.codes("reason", m.reasons)[m.reason[idx].astype(np.int64)]
        action = self.codes("action", m.actions)[m.action[idx].astype(np.int64)]
        if m.detail is not None and m.detail.len() == n:
            detail = np.arange(self.n_details, self.n_details + n, dtype=np.int64)
            self.details.append(m.detail.cast(pl.Utf8))
            self.n_details += n
        else:
            detail = np.zeros(n, np.int64)
        cols = (seq, ts, rule, reason, action, detail, vol)
        if m.table is not None:
            self.parts.append((*cols, np.full(n, self.code("table", m.table), np.int64)))
            return
        has_d = view.d_hi[idx] > view.d_lo[idx] if m.index == "events" else np.zeros(n, np.bool_)
        bd, tr = self.code("table", "book_deltas"), self.code("table", "trades")
        if not m.all_tables:
            self.parts.append((*cols, np.where(has_d, bd, tr).astype(np.int64)))
            return
        has_t = view.t_hi[idx] > view.t_lo[idx]
        self.parts.append((*(c[has_d] for c in cols), np.full(int(has_d.sum()), bd, np.int64)))
        self.parts.append((*(c[has_t] for c in cols), np.full(int(has_t.sum()), tr, np.int64)))

    def frame(self) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
        """The QC table (stable by seq: rule order, then row order within a rule) and its codes."""
        if not self.parts:
            z = np.zeros(0, np.int64)
            return QC.empty(), {"seq": z, "rule": z, "reason": z, "action": z, "vol": z}
        cols = [np.concatenate(c) for c in zip(*self.parts, strict=True)]
        order = np.argsort(cols[0], kind="stable")
        seq, ts, rule, reason, action, detail, vol, table = (c[order] for c in cols)

        def strings(kind: str, codes: np.ndarray) -> pl.Series:
            names = sorted(self.names[kind], key=self.names[kind].__getitem__)
            return pl.Series(kind, names, dtype=pl.Utf8).gather(pl.Series(codes, dtype=pl.Int64))

        details = pl.concat([pl.Series("detail", [""], dtype=pl.Utf8), *self.details])
        qc = pl.DataFrame(
            [
                pl.Series("seq", seq, dtype=pl.Int64),
                pl.Series("ts_event", ts, dtype=pl.Int64),
                strings("table", table),
                strings("rule", rule),
                strings("reason", reason),
                strings("action", action),
                details.gather(pl.Series(detail, dtype=pl.Int64)).alias("detail"),
            ]
        )
        codes = {"seq": seq, "rule": rule, "reason": reason, "action": action, "vol": vol}
        return qc.select(QC.names), codes


def _report(rows: _Rows, codes: dict[str, np.ndarray], config: FilterConfig) -> dict[str, Any]:
    """Counts of distinct flagged seqs and their traded volume, per rule, action and reason."""
    view = rows.view
    seq = codes["seq"]
    rule_c, action_c, reason_c = codes["rule"], codes["action"], codes["reason"]
    vol = codes["vol"]  # traded volume of each row's event (0 when its seq is not an event)
    rule_names = rows.names["rule"]
    act_names = sorted(rows.names["action"], key=rows.names["action"].__getitem__)
    rea_names = sorted(rows.names["reason"], key=rows.names["reason"].__getitem__)
    n_r, n_a, n_z = max(len(rule_names), 1), max(len(act_names), 1), max(len(rea_names), 1)
    r_ev, r_vol = K.distinct_counts(seq, rule_c, n_r, vol)
    a_ev, a_vol = K.distinct_counts(seq, rule_c * n_a + action_c, n_r * n_a, vol)
    z_ev, _ = K.distinct_counts(seq, rule_c * n_z + reason_c, n_r * n_z, vol)
    zero = np.zeros(seq.shape[0], np.int64)
    all_ev, all_vol = K.distinct_counts(seq, zero, 1, vol)
    drop = rows.names["action"].get("drop", -1)
    drop_ev, _ = K.distinct_counts(seq, np.where(action_c == drop, 0, -1).astype(np.int64), 1, vol)

    rules: dict[str, Any] = {}
    names = [r for r in RULES if getattr(config, r).enabled]
    names += sorted(set(rule_names) - set(RULES))  # plug-in rules (only names with QC rows are interned)
    for rule in names:
        rc = rule_names.get(rule)
        ev = int(r_ev[rc]) if rc is not None else 0
        entry: dict[str, Any] = {
            "events": ev,
            "volume": int(r_vol[rc]) if rc is not None else 0,
            "by_action": {},
            "by_reason": {},
        }
        if ev and rc is not None:
            for a in sorted(act_names):
                g = rc * n_a + rows.names["action"][a]
                if a_ev[g]:
                    entry["by_action"][a] = {"events": int(a_ev[g]), "volume": int(a_vol[g])}
            for z in sorted(rea_names):
                g = rc * n_z + rows.names["reason"][z]
                if z_ev[g]:
                    entry["by_reason"][z] = int(z_ev[g])
        rules[rule] = entry
    return {
        "events": view.n,
        "volume": int(view.trade_vol.sum()),
        "flagged_events": int(all_ev[0]),
        "flagged_volume": int(all_vol[0]),
        "dropped_events": int(drop_ev[0]),
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

    One pass builds the per-event index (numba); each rule is one kernel or a few vectorised numpy
    operations over it; the QC rows are assembled as integer codes and turned into strings once.
    """
    view = build_view(snapshots, deltas, trades, instrument, status)
    rows = _Rows(view)
    for rule in RULES:
        rc = getattr(config, rule)
        if not rc.enabled:
            continue
        for m in RULE_FUNCTIONS[rule](view, rc):
            if m.mask.any():
                rows.add(m)
    for plugin in config.plugins:
        if not plugin.enabled:
            continue
        fn = FILTERS.get(plugin.rule)
        for m in fn(view, plugin):
            if m.mask.shape[0] and m.mask.any():
                rows.add(m)
    qc, codes = rows.frame()
    qc = validate(qc, QC, where=f"filters {instrument.symbol}")
    return FilterResult(qc=qc, report=_report(rows, codes, config))


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
