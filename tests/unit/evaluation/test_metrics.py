"""Metrics against hand-worked numbers and independent formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from orderflow.evaluation.metrics import (
    chance_macro_f1,
    classification_metrics,
    decision_metrics,
    deflated_sharpe_ratio,
    drawdown_metrics,
    pinball_loss,
    quantile_metrics,
    sharpe_ratio,
    transition_mask,
)
from orderflow.evaluation.report import headline_markdown, metrics_json


def test_classification_hand_worked() -> None:
    y = np.array([1, 1, 0, 0, -1, -1])
    p = np.array([1, 0, 0, 0, 1, -1])
    m = classification_metrics(y, p)
    # up: P = 1/2, R = 1/2 -> F1 1/2; flat: P = 2/3, R = 1 -> 0.8; down: P = 1, R = 1/2 -> 2/3
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert m["weighted_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)  # equal supports
    assert m["per_class"]["flat"]["precision"] == pytest.approx(2 / 3)
    assert m["confusion"] == [[1, 0, 1], [0, 2, 0], [0, 1, 1]]
    assert chance_macro_f1(y) == pytest.approx(1 / 3)


def test_pinball_and_coverage_hand_worked() -> None:
    y = np.array([0.0, 10.0])
    q = np.array([[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]])
    pin = pinball_loss(y, q, [0.1, 0.5, 0.9])
    # tau 0.1: y=0 -> 0.1*1; y=10 -> 0.1*11 -> mean 0.6; tau .5: 0, 5 -> 2.5; tau .9: 0.1*1, 0.9*9 -> 4.1
    assert (
        pin["q_10"] == pytest.approx(0.6)
        and pin["q_50"] == pytest.approx(2.5)
        and pin["q_90"] == pytest.approx(4.1)
    )
    qm = quantile_metrics(y, q, [0.1, 0.5, 0.9])
    assert qm["coverage_80"] == 0.5 and qm["width_80"] == 2.0
    assert qm["calibration"]["q_90"] == 0.5


def test_drawdown_hand_worked() -> None:
    pnl = np.array([1.0, 2.0, -4.0, 1.0, 5.0, -1.0])
    # equity 0,1,3,-1,0,5,4: max dd 4 (3 -> -1); under water at steps 3,4 and 6 -> longest 2
    d = drawdown_metrics(pnl, np.array([10, 20, 30, 40, 50, 60]))
    assert d["max"] == 4.0
    assert d["duration_steps"] == 2
    assert d["time_under_water"] == pytest.approx(3 / 6)


def test_sharpe_and_deflated_sharpe_formula() -> None:
    r = np.array([1.0, 2.0, -1.0, 3.0, 0.5])
    assert sharpe_ratio(r) == pytest.approx(r.mean() / r.std(ddof=1))
    # one trial: DSR is the probabilistic Sharpe ratio against 0 (normal returns: skew 0, kurtosis 3)
    d = deflated_sharpe_ratio(0.1, 101, [0.1], 0.0, 3.0)
    assert d["dsr"] == pytest.approx(norm.cdf(0.1 * 10 / math.sqrt(1 + 0.5 * 0.01)))
    # more trials raise the bar SR0 (Bailey & Lopez de Prado 2014, eq. for E[max SR])
    trials = [0.0, 0.05, 0.1, 0.15]
    d2 = deflated_sharpe_ratio(0.1, 101, trials, 0.0, 3.0)
    g = 0.5772156649015329
    sr0 = np.std(trials, ddof=1) * ((1 - g) * norm.ppf(1 - 1 / 4) + g * norm.ppf(1 - 1 / (4 * math.e)))
    assert d2["sr0"] == pytest.approx(sr0)
    assert d2["dsr"] < d["dsr"]


def test_decisions_and_transitions() -> None:
    dec = np.array([1, 0, -1, 1], dtype=np.int8)
    realized = np.array([2.0, 99.0, -1.0, 3.0])
    m = decision_metrics(dec, realized)
    assert m["trades"] == 3 and m["ev_mean"] == pytest.approx(4 / 3) and m["hit_rate"] == pytest.approx(2 / 3)
    reg = np.array([0, 0, 1, 1, 1, 0, 0])
    grp = np.array([0, 0, 0, 0, 0, 1, 1])
    assert transition_mask(reg, grp, 2).tolist() == [False, False, True, True, False, False, False]


def test_metrics_json_is_deterministic_and_valid() -> None:
    m = {"b": float("nan"), "a": {"z": np.int64(3), "y": 0.1 + 0.2}}
    s = metrics_json(m)
    assert s == metrics_json(dict(reversed(list(m.items()))))
    assert '"b": null' in s and s.index('"a"') < s.index('"b"')
    assert "macro F1" in headline_markdown({"classification": {"macro_f1": 0.5}})
