"""``apply_filters``: run the enabled rules and turn their masks into one QC table and a report.

Nothing is deleted: every flagged event becomes one QC row per (rule, reason, table) with the rule's
action; downstream stages decide from the QC table. Switching a rule off removes exactly its rows
(rules never read each other's output), so ablation is a config change.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from orderflow.core.errors import ArtifactError, ConfigError
from orderflow.core.instruments import Instrument
from orderflow.core.schema import QC, validate
from orderflow.filters import _kernels as K
from orderflow.filters.config import RULES, FilterConfig
from orderflow.filters.rules import _D_COLS as D_COLS
from orderflow.filters.rules import (
    FILTERS,
    INDEX_D_COLS,
    RULE_FUNCTIONS,
    EventView,
    RuleMask,
    _snap_seq,
    book_hits,
    build_view,
    delta_columns,
    flicker_rows,
    seq_sorted,
    unchanged_snapshots,
)

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _helper_pool() -> ThreadPoolExecutor:
    """One process-wide helper thread for the rules' work that needs no event index (the numba
    kernels release the GIL, and so do polars' column operations)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(1, thread_name_prefix="orderflow-filters")
        return _POOL


def default_threads() -> int:
    """Threads :func:`apply_filters` uses by default: ``ORDERFLOW_FILTER_THREADS`` when set, else 2
    when the machine has two or more cores (the rules' work splits two ways), else 1."""
    env = os.environ.get("ORDERFLOW_FILTER_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ConfigError(
                f"ORDERFLOW_FILTER_THREADS={env!r}: expected a whole number of threads"
            ) from None
    return 2 if (os.cpu_count() or 1) >= 2 else 1


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


@dataclass
class _Part:
    """The QC rows of one rule mask in one table; reasons and actions are indexes into the mask's own
    names (the global codes are given when the parts are joined, so parts build on any thread)."""

    rule: str
    table: str
    seq: np.ndarray
    ts: np.ndarray
    vol: np.ndarray
    """traded volume of the row's event (0 when its seq is not an event), for the report"""
    reason: np.ndarray
    reasons: tuple[str, ...]
    action: np.ndarray
    actions: tuple[str, ...]
    detail: pl.Series | None
    kind: int = 0
    """0 snapshot rows, 1 event rows in book_deltas, 2 event rows in trades, 3 trade rows: the order
    of a rule's rows at one seq (see :func:`_join`)"""


def _parts(view: EventView, m: RuleMask) -> list[_Part]:
    """The QC rows of ``m``: one part, or one per table (``table`` None or ``all_tables``)."""
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
    vol = np.where(ev >= 0, view.trade_vol[np.maximum(ev, 0)], 0) if view.n else np.zeros(n)
    detail = m.detail.cast(pl.Utf8) if m.detail is not None and m.detail.len() == n else None

    def part(table: str, keep: np.ndarray | None = None) -> _Part:
        def pick(a: np.ndarray) -> np.ndarray:
            return np.asarray(a if keep is None else a[keep], np.int64)

        kind = {"snapshots": 0, "trades": 3}.get(m.index, 1 if table == "book_deltas" else 2)
        return _Part(
            m.rule,
            table,
            pick(seq),
            pick(ts),
            pick(vol),
            pick(m.reason[idx]),
            m.reasons,
            pick(m.action[idx]),
            m.actions,
            detail if detail is None or keep is None else detail.filter(pl.Series(keep)),
            kind,
        )

    if m.table is not None:
        return [part(m.table)]
    has_d = view.d_hi[idx] > view.d_lo[idx] if m.index == "events" else np.zeros(n, np.bool_)
    if not m.all_tables:  # the event's delta rows when it has any, else its trades
        return [p for p in (part("book_deltas", has_d), part("trades", ~has_d)) if p.seq.shape[0]]
    has_t = view.t_hi[idx] > view.t_lo[idx]
    return [p for p in (part("book_deltas", has_d), part("trades", has_t)) if p.seq.shape[0]]


@dataclass
class _Joined:
    """All parts as one QC table (stable by seq: rule order, then row order within a rule), with the
    integer codes the report counts by and the code of each name."""

    qc: pl.DataFrame
    codes: dict[str, np.ndarray]
    names: dict[str, dict[str, int]]


def _join(parts: list[_Part], rule_order: list[str] | None = None) -> _Joined:
    """``parts`` in rule order (whole partition): a stable sort by seq keeps that order at each seq.
    With ``rule_order`` (parts of a streamed partition, in chunk order), rows are sorted by seq, then
    rule (that order), then part kind, then as given: the same order."""
    names: dict[str, dict[str, int]] = {"rule": {}, "reason": {}, "action": {}, "table": {}}

    def code(kind: str, name: str) -> int:
        return names[kind].setdefault(name, len(names[kind]))

    total = sum(p.seq.shape[0] for p in parts)
    seq, ts, vol, rule, reason, action, detail, table = (np.empty(total, np.int64) for _ in range(8))
    details: list[pl.Series] = [pl.Series("detail", [""], dtype=pl.Utf8)]  # detail code 0 = ""
    n_details = 1
    o = 0
    for p in parts:
        n = p.seq.shape[0]
        sl = slice(o, o + n)
        seq[sl], ts[sl], vol[sl] = p.seq, p.ts, p.vol
        rule[sl] = code("rule", p.rule)
        table[sl] = code("table", p.table)
        reason[sl] = np.array([code("reason", x) for x in p.reasons], np.int64)[p.reason]
        action[sl] = np.array([code("action", x) for x in p.actions], np.int64)[p.action]
        if p.detail is not None:
            detail[sl] = np.arange(n_details, n_details + n)
            details.append(p.detail)
            n_details += n
        else:
            detail[sl] = 0
        o += n
    if total == 0:
        return _Joined(
            QC.empty(), {"seq": seq, "rule": rule, "reason": reason, "action": action, "vol": vol}, names
        )
    if rule_order is None:
        order = np.argsort(seq, kind="stable")
    else:
        pos = {r: i for i, r in enumerate(rule_order)}
        rank = np.concatenate([np.full(p.seq.shape[0], pos[p.rule] * 4 + p.kind, np.int64) for p in parts])
        order = np.lexsort((rank, seq))  # stable: equal (seq, rank) keep their order
    seq, ts, rule, reason, action, detail, vol, table = (
        c[order] for c in (seq, ts, rule, reason, action, detail, vol, table)
    )

    def strings(kind: str, codes: np.ndarray) -> pl.Series:
        ordered = sorted(names[kind], key=names[kind].__getitem__)
        return pl.Series(kind, ordered, dtype=pl.Utf8).gather(pl.Series(codes, dtype=pl.Int64))

    qc = pl.DataFrame(
        [
            pl.Series("seq", seq, dtype=pl.Int64),
            pl.Series("ts_event", ts, dtype=pl.Int64),
            strings("table", table),
            strings("rule", rule),
            strings("reason", reason),
            strings("action", action),
            pl.concat(details).gather(pl.Series(detail, dtype=pl.Int64)).alias("detail"),
        ]
    )
    codes = {"seq": seq, "rule": rule, "reason": reason, "action": action, "vol": vol}
    return _Joined(qc.select(QC.names), codes, names)


def _report(n_events: int, volume: int, joined: _Joined, config: FilterConfig) -> dict[str, Any]:
    """Counts of distinct flagged seqs and their traded volume, per rule, action and reason, for a
    partition of ``n_events`` events trading ``volume``."""
    codes, all_names = joined.codes, joined.names
    seq = codes["seq"]
    rule_c, action_c, reason_c = codes["rule"], codes["action"], codes["reason"]
    vol = codes["vol"]  # traded volume of each row's event (0 when its seq is not an event)
    rule_names = all_names["rule"]
    act_names = sorted(all_names["action"], key=all_names["action"].__getitem__)
    rea_names = sorted(all_names["reason"], key=all_names["reason"].__getitem__)
    n_r, n_a, n_z = max(len(rule_names), 1), max(len(act_names), 1), max(len(rea_names), 1)
    r_ev, r_vol = K.distinct_counts(seq, rule_c, n_r, vol)
    a_ev, a_vol = K.distinct_counts(seq, rule_c * n_a + action_c, n_r * n_a, vol)
    z_ev, _ = K.distinct_counts(seq, rule_c * n_z + reason_c, n_r * n_z, vol)
    zero = np.zeros(seq.shape[0], np.int64)
    all_ev, all_vol = K.distinct_counts(seq, zero, 1, vol)
    drop = all_names["action"].get("drop", -1)
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
                g = rc * n_a + all_names["action"][a]
                if a_ev[g]:
                    entry["by_action"][a] = {"events": int(a_ev[g]), "volume": int(a_vol[g])}
            for z in sorted(rea_names):
                g = rc * n_z + all_names["reason"][z]
                if z_ev[g]:
                    entry["by_reason"][z] = int(z_ev[g])
        rules[rule] = entry
    return {
        "events": n_events,
        "volume": volume,
        "flagged_events": int(all_ev[0]),
        "flagged_volume": int(all_vol[0]),
        "dropped_events": int(drop_ev[0]),
        "rules": rules,
        "disabled": [r for r in RULES if not getattr(config, r).enabled]
        + [p.rule for p in config.plugins if not p.enabled],
    }


def apply_filters(
    snapshots: pl.DataFrame | Iterable[pl.DataFrame],
    deltas: pl.DataFrame,
    trades: pl.DataFrame,
    *,
    instrument: Instrument,
    config: FilterConfig,
    status: pl.DataFrame | None = None,
    threads: int | None = None,
) -> FilterResult:
    """Run every enabled rule of ``config`` on one partition; return QC rows and a report.

    ``snapshots`` are BOOK_SNAPSHOTS (any depth; ``seq`` = the event after which the book holds),
    ``deltas`` BOOK_DELTAS, ``trades`` TRADES, ``status`` STATUS (optional). The report holds
    ``events`` and ``volume`` of the partition, ``flagged_events``/``flagged_volume`` (distinct seqs
    flagged by any rule and their traded volume), ``dropped_events``, and per rule under ``rules``:
    ``events``, ``volume``, ``by_action`` {action: {events, volume}}, ``by_reason`` {reason: events}.

    One pass builds the per-event index (numba); each rule is one kernel or a few vectorised numpy
    operations over it; the QC rows are assembled as integer codes and turned into strings once.

    With ``threads`` >= 2 (default :func:`default_threads`), the work that needs no event index (the
    snapshot comparisons of ``low_info``, ``crossed_book`` and ``locked_book``, the per-row
    ``flicker`` kernel) runs on a helper thread while this thread builds the index and runs the
    other rules; the result is identical to ``threads=1``.

    ``snapshots`` may also be an iterable of consecutive BOOK_SNAPSHOTS batches in ``seq`` order
    (e.g. :meth:`orderflow.core.io.Dataset.iter_batches`): the snapshot rules then run batch by
    batch (each batch with the previous batch's last row in front, so the result is the same as
    for the whole table) and memory holds one batch of the book instead of the day's.
    """
    n_threads = default_threads() if threads is None else threads
    if n_threads < 1:
        raise ConfigError(f"apply_filters: threads={threads} (expected 1 or more)")
    batches: Iterator[pl.DataFrame] | None = None
    if not isinstance(snapshots, pl.DataFrame):
        batches = iter(snapshots)
        first = next(batches, None)
        if first is None:
            raise ValueError(
                "apply_filters: no snapshot batches (pass an empty BOOK_SNAPSHOTS frame instead)"
            )
        batches = itertools.chain([first], batches)
        snapshots = first.clear()  # the event view's own snapshot table: the schema, no rows
    snapshots = seq_sorted(snapshots)
    if n_threads == 1:
        return _apply(build_view(snapshots, deltas, trades, instrument, status), config, batches=batches)
    pool = _helper_pool()
    futures: list[Future[Any]] = []

    def submit(fn: Callable[..., Any], *args: Any) -> Future[Any]:
        futures.append(f := pool.submit(fn, *args))
        return f

    try:
        # the helper thread, in this order: the delta columns the index does not read, then the work
        # that needs no index; meanwhile this thread copies the index's columns and builds the index
        rest = submit(delta_columns, deltas, tuple(c for c in D_COLS if c not in INDEX_D_COLS))
        d = delta_columns(deltas, INDEX_D_COLS)
        pre: dict[Any, Future[Any]] = {}
        li, fl = config.low_info, config.flicker
        if li.enabled:
            pre[("low_info", li.top_k)] = submit(unchanged_snapshots, snapshots, li.top_k)
        if fl.enabled:
            pre[("flicker", fl)] = submit(
                lambda: flicker_rows({**d, **rest.result()}, instrument.tick_int, fl)
            )
        if config.crossed_book.enabled or config.locked_book.enabled:
            pre[("book",)] = submit(book_hits, snapshots)
        view = build_view(snapshots, deltas, trades, instrument, status, d=d, d_more=rest.result, pre=pre)
        return _apply(view, config, submit, batches=batches)
    finally:
        for f in futures:  # never leave work running on the caller's data (after an error)
            f.cancel() or f.exception()


AHEAD_RULES = ("flicker", "low_info", "crossed_book", "locked_book")
"""Rules whose heavy part the helper thread computes ahead (they wait for it): both threads take
the other rules first."""


def _rule_parts(view: EventView, rule: str, rc: Any) -> list[_Part]:
    return [p for m in RULE_FUNCTIONS[rule](view, rc) if m.mask.any() for p in _parts(view, m)]


SNAPSHOT_RULES = ("crossed_book", "locked_book", "low_info")
"""The rules that read BOOK_SNAPSHOTS rows (run batch by batch when the snapshots come in batches)."""


def _snapshot_parts(
    view: EventView,
    batches: Iterator[pl.DataFrame],
    config: FilterConfig,
    carry: pl.DataFrame | None = None,
) -> dict[str, list[_Part]]:
    """QC rows of the snapshot rules over consecutive snapshot batches. Each batch is judged with the
    previous batch's last row in front (what the row-to-row rules compare with) whose own verdicts
    are dropped: it was judged with its batch. ``low_info``'s odd-lot part reads no snapshots and
    runs once on the event view instead. ``carry`` is the row before the first batch (a stream of
    chunks)."""
    cfgs: dict[str, Any] = {r: getattr(config, r) for r in SNAPSHOT_RULES if getattr(config, r).enabled}
    if "low_info" in cfgs:
        cfgs["low_info"] = cfgs["low_info"].model_copy(update={"round_lot": None})
    out: dict[str, list[_Part]] = {r: [] for r in cfgs}
    for batch in batches:
        if batch.height == 0:
            continue
        if not batch["seq"].is_sorted() or (carry is not None and batch["seq"][0] <= carry["seq"][0]):
            raise ArtifactError(
                f"filters {view.instrument.symbol}: book_snapshots batches out of seq order near seq "
                f"{batch['seq'][0]} (rule: snapshot batches must be consecutive, in seq order)"
            )
        s = batch if carry is None else pl.concat([carry, batch], how="vertical")
        seq = s["seq"].to_numpy()
        bview = dataclasses.replace(
            view,
            snapshots=s,
            snap_event=np.asarray(K.locate_sorted(view.seq, np.ascontiguousarray(seq, np.int64)), np.int64),
            extra={**view.extra, "pre": {}, "snap_seq": seq},
        )
        for rule, rc in cfgs.items():
            for m in RULE_FUNCTIONS[rule](bview, rc):
                if carry is not None and m.index == "snapshots" and m.mask[0]:
                    m.mask[0] = False
                    if m.detail is not None:
                        m.detail = m.detail[1:]
                if m.mask.any():
                    out[rule] += _parts(bview, m)
        carry = batch[-1:]
    return out


def _apply(
    view: EventView,
    config: FilterConfig,
    submit: Callable[..., Future[Any]] | None = None,
    *,
    batches: Iterator[pl.DataFrame] | None = None,
) -> FilterResult:
    """The enabled rules on ``view`` and their QC rows (with ``submit``, this thread and the helper
    take rules from one queue until it is empty), joined in rule order, and the report. With
    ``batches``, the snapshot rules also run over those snapshot batches (first, on the helper)."""
    enabled = [r for r in RULES if getattr(config, r).enabled]
    snap: dict[str, list[_Part]] | Future[dict[str, list[_Part]]] = {}
    if batches is not None:
        snap = (
            submit(_snapshot_parts, view, batches, config)
            if submit
            else _snapshot_parts(view, batches, config)
        )
    queue = deque(sorted(enabled, key=lambda r: r in AHEAD_RULES))
    lock = threading.Lock()
    done: dict[str, list[_Part]] = {}

    def drain() -> None:
        while True:
            with lock:
                if not queue:
                    return
                rule = queue.popleft()
            done[rule] = _rule_parts(view, rule, getattr(config, rule))

    helper = submit(drain) if submit is not None else None
    drain()
    if helper is not None:
        helper.result()
    if isinstance(snap, Future):
        snap = snap.result()
    # rule order, whichever thread ran the rule; a rule's snapshot rows before its event rows
    parts = [p for rule in enabled for p in (*snap.get(rule, ()), *done[rule])]
    for plugin in config.plugins:
        if plugin.enabled:
            fn = FILTERS.get(plugin.rule)
            parts += [
                p for m in fn(view, plugin) if m.mask.shape[0] and m.mask.any() for p in _parts(view, m)
            ]
    joined = _join(parts)
    qc = validate(joined.qc, QC, where=f"filters {view.instrument.symbol}")
    return FilterResult(qc=qc, report=_report(view.n, int(view.trade_vol.sum()), joined, config))


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


__all__ = [
    "ARTIFACT_KINDS",
    "RULE_KIND",
    "FilterResult",
    "apply_filters",
    "default_threads",
    "score_against_truth",
]
