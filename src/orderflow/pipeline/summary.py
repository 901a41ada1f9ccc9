"""The headline numbers of a run, per scope (all rows, each regime): one table for the CLI and the report."""

from __future__ import annotations

from typing import Any

HEADLINE_COLUMNS = ("scope", "macro F1", "baseline F1", "cover 90%", "trades", "EV/trade bps", "backtest PnL")
"""Columns of :func:`headline_rows`: LightGBM's out-of-sample macro F1, the best trivial/linear baseline's,
the conformal 90% interval's coverage, the decision rule's trades and mean EV per trade after costs, and
the backtest's PnL (currency) of the quantile strategy."""


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def headline_rows(metrics: dict[str, Any]) -> list[list[Any]]:
    """Rows ``[scope, macro_f1, best_baseline_f1, coverage_90, trades, ev_mean_bps, backtest_pnl]``.

    The first row is ``all``; then ``regime <r>`` for each regime in ``classification.by_regime``.
    Missing numbers are None.
    """
    cls = metrics.get("classification", {})
    q = metrics.get("quantile", {})
    dec = metrics.get("decisions", {})
    base = metrics.get("baselines", {})
    bt = metrics.get("backtest", {})

    def best_base(regime: str | None) -> float | None:
        vals = []
        for b in base.values():
            v = b.get("by_regime", {}).get(regime, {}).get("macro_f1") if regime else b.get("macro_f1")
            if (x := _num(v)) is not None:
                vals.append(x)
        return max(vals) if vals else None

    def ev(d: dict[str, Any]) -> float | None:
        return _num(d.get("ev_mean_bps", d.get("ev_mean")))

    rows: list[list[Any]] = [
        [
            "all",
            _num(cls.get("macro_f1")),
            best_base(None),
            _num(q.get("coverage_90")),
            _num(dec.get("trades")),
            ev(dec),
            _num(bt.get("total", {}).get("pnl")),
        ]
    ]
    for regime in sorted(cls.get("by_regime", {})):
        r = str(regime)
        d = dec.get("by_regime", {}).get(r, {})
        rows.append(
            [
                f"regime {r}",
                _num(cls["by_regime"][r].get("macro_f1")),
                best_base(r),
                _num(q.get("by_regime", {}).get(r, {}).get("coverage_90")),
                _num(d.get("trades")),
                ev(d),
                _num(bt.get("by_regime", {}).get(r, {}).get("pnl")),
            ]
        )
    return rows


__all__ = ["HEADLINE_COLUMNS", "headline_rows"]
