"""Evaluation: numbers (:mod:`~orderflow.evaluation.metrics`) -> figures (:mod:`~orderflow.evaluation.plots`)
-> report pieces (:mod:`~orderflow.evaluation.report`); never mixed. Plots are imported on demand.
"""

from orderflow.evaluation.metrics import (
    calibration_curve_top,
    chance_macro_f1,
    classification_metrics,
    decision_metrics,
    deflated_sharpe_ratio,
    drawdown_metrics,
    pinball_loss,
    quantile_metrics,
    sharpe_metrics,
    sharpe_ratio,
    transition_mask,
)
from orderflow.evaluation.report import headline_markdown, headline_rows, metrics_json, write_metrics

__all__ = [
    "calibration_curve_top",
    "chance_macro_f1",
    "classification_metrics",
    "decision_metrics",
    "deflated_sharpe_ratio",
    "drawdown_metrics",
    "headline_markdown",
    "headline_rows",
    "metrics_json",
    "pinball_loss",
    "quantile_metrics",
    "sharpe_metrics",
    "sharpe_ratio",
    "transition_mask",
    "write_metrics",
]
