"""The research stage end to end: labels -> per-fold regimes, classes and models -> out-of-sample metrics.

Leak-free by construction: every fitted object (regime model, class thresholds, scalers, classifiers,
quantile models, conformal corrections) sees the training fold only; splits are purged by label windows
and embargoed; labels never cross an (instrument, date) partition; regimes are filtered causally.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from orderflow.core.errors import ConfigError, SchemaError
from orderflow.core.execution import ExecutionModel
from orderflow.core.schema import PREDICTIONS, validate
from orderflow.evaluation.metrics import (
    chance_macro_f1,
    classification_metrics,
    decision_metrics,
    drawdown_metrics,
    quantile_metrics,
    sharpe_metrics,
    sharpe_ratio,
    transition_mask,
)
from orderflow.evaluation.report import metrics_json
from orderflow.labels.book import book_arrays
from orderflow.labels.core import (
    classify,
    compute_labels,
    parse_horizon,
    partition_keys,
    regime_scales,
    regime_thresholds,
)
from orderflow.models.classifiers import (
    LGBMDirectionClassifier,
    MajorityClassifier,
    SignClassifier,
    logistic_baseline,
)
from orderflow.models.config import ResearchConfig
from orderflow.models.quantile import (
    ConformalQuantileCalibrator,
    LGBMQuantileRegressor,
    LinearQuantileRegressor,
)
from orderflow.models.splits import CombinatorialPurgedCV, PurgedWalkForward, calibration_split
from orderflow.regimes.inputs import align_truth, regime_agreement, regime_inputs
from orderflow.regimes.models import make_regime_model

Arr = NDArray[Any]
_NON_FEATURES = {"ts_event", "ts_recv", "seq", "instrument", "date"}


@dataclass
class ResearchResult:
    """Out-of-sample predictions (PREDICTIONS + ``instrument``/``date``), metrics (JSON-ready), figures."""

    predictions: pl.DataFrame
    metrics: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)


def decide(q_long_lo: Arr, q_short_lo: Arr, threshold_bps: float) -> NDArray[np.int8]:
    """+1 when the lower quantile of the long executable return clears the threshold, -1 when that of the
    short one does (the better of the two if both), else 0."""
    go_long = q_long_lo > threshold_bps
    go_short = q_short_lo > threshold_bps
    out = np.zeros(q_long_lo.shape[0], dtype=np.int8)
    out[go_long & (~go_short | (q_long_lo >= q_short_lo))] = 1
    out[go_short & (~go_long | (q_short_lo > q_long_lo))] = -1
    return out


def _feature_columns(
    features: pl.DataFrame, wanted: tuple[str, ...], exclude: tuple[str, ...] = ()
) -> list[str]:
    if wanted:
        missing = [c for c in wanted if c not in features.columns]
        if missing:
            raise ConfigError(f"research.model.features: {missing} not in features")
        return list(wanted)
    return [
        c
        for c, t in features.schema.items()
        if c not in _NON_FEATURES and c not in exclude and t.is_numeric()
    ]


def regime_balanced_weights(y: Arr, regime: Arr) -> Arr:
    """Per-row weights that balance the classes WITHIN each regime (relative to the pooled balance).

    The flat band scales with the regime, so class frequencies differ by regime (flat is most rows in a
    calm regime, a minority in a volatile one); pooled class balancing then over-weights up/down where
    flat is common and pushes the volatile regime's predictions away from flat. Multiplying the pooled
    ``class_weight='balanced'`` weight ``n / (k n_c)`` by ``w = (n_c / n) / (n_{r,c} / n_r)`` gives each row
    the weight ``n_r / (k n_{r,c})``: balanced inside its regime, with regimes weighted by their size.
    """
    y = np.asarray(y)
    regime = np.asarray(regime)
    w = np.ones(y.shape[0], dtype=np.float64)
    n = y.shape[0]
    if n == 0:
        return w
    classes, cnt = np.unique(y, return_counts=True)
    pooled = dict(zip(classes.tolist(), (cnt / n).tolist(), strict=True))
    for r in np.unique(regime):
        in_r = regime == r
        n_r = int(in_r.sum())
        cr, cc = np.unique(y[in_r], return_counts=True)
        for c, k in zip(cr.tolist(), cc.tolist(), strict=True):
            w[in_r & (y == c)] = pooled[c] / (k / n_r)
    return w


def standardize_by_group(X: Arr, group: Arr, train: Arr) -> Arr:
    """Z-score each column of ``X`` within each group (instrument) by that group's TRAINING rows.

    Spreads in bps, depths and event rates live on instrument-specific scales (tick size, lot, price
    level); a regime model pooled over instruments would otherwise split instruments, not regimes.
    Statistics come from ``train`` rows only (a group absent from them uses all training rows), NaN-aware;
    a constant column keeps scale 1.
    """
    Z = np.empty_like(X, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        mu_all = np.nanmean(X[train], axis=0) if train.size else np.zeros(X.shape[1])
        sd_all = np.nanstd(X[train], axis=0) if train.size else np.ones(X.shape[1])
        for g in np.unique(group):
            rows = group == g
            tg = train[group[train] == g]
            mu, sd = (
                (np.nanmean(X[tg], axis=0), np.nanstd(X[tg], axis=0)) if tg.size > 1 else (mu_all, sd_all)
            )
            sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
            mu = np.where(np.isfinite(mu), mu, 0.0)
            Z[rows] = (X[rows] - mu) / sd
    return Z


def _runs(ids: Arr) -> list[int]:
    """Lengths of runs of equal consecutive values."""
    if ids.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(ids) != 0) + 1
    return np.diff(np.concatenate([[0], cuts, [ids.size]])).astype(int).tolist()


def _splitter(cfg: ResearchConfig) -> PurgedWalkForward | CombinatorialPurgedCV:
    if cfg.cv.scheme == "cpcv":
        return CombinatorialPurgedCV(cfg.cv.n_groups, cfg.cv.n_test_groups, cfg.cv.embargo_ns)
    return PurgedWalkForward(cfg.cv.n_splits, cfg.cv.embargo_ns, cfg.cv.max_train_blocks)


def _quantile_model(cfg: ResearchConfig) -> LGBMQuantileRegressor | LinearQuantileRegressor:
    m = cfg.model
    if m.quantile_model == "linear":
        return LinearQuantileRegressor(levels=m.quantile_levels)
    return LGBMQuantileRegressor(
        levels=m.quantile_levels,
        n_estimators=m.quantile_estimators,
        num_leaves=m.num_leaves,
        min_child_samples=m.min_child_samples,
        n_jobs=m.n_jobs,
        random_state=cfg.seed + m.random_state,
    )


def run_research(
    features: pl.DataFrame,
    book: pl.DataFrame,
    *,
    config: ResearchConfig,
    execution: ExecutionModel,
    regimes_truth: pl.DataFrame | None = None,
    trades: pl.DataFrame | None = None,
) -> ResearchResult:
    """Fit and evaluate everything out of sample.

    Parameters
    ----------
    features : FEATURES rows (``ts_event``, ``seq`` + numeric columns), optionally several partitions with
        ``instrument`` / ``date`` columns.
    book : BOOK_SNAPSHOTS of the same partitions (for mids, spreads and the executable returns). The more
        complete (every event, not only the feature rows), the more exact the time-clock labels.
    regimes_truth : optional SIM_REGIMES ground truth; adds ``regimes.ari`` per method.
    trades : optional TRADES (needed for volume-clock horizons only).
    """
    cfg = config
    keys = partition_keys(features)
    for k in keys:
        if k not in book.columns:
            raise SchemaError(f"book_snapshots: features carry '{k}' but the book does not")
    feats = features.sort([*keys, "seq"])
    base = feats.select([*keys, "ts_event", "seq"])
    labels = compute_labels(book, base, cfg.labels, execution, trades)
    target = parse_horizon(cfg.labels.target).tag
    y_col = f"y_midret_{target}"
    fcols = _feature_columns(feats, cfg.model.features, cfg.model.exclude)

    # per-partition regime inputs and half-spreads (all causal); partition id per row
    reg_cols = tuple(cfg.regimes.inputs) or None
    methods = [cfg.regimes.method]
    if cfg.regimes.compare_methods:
        methods += [m for m in ("hmm", "gmm", "rules") if m != cfg.regimes.method]
    xin: dict[str, list[Arr]] = {m: [] for m in methods}
    halfspread: list[Arr] = []
    pid: list[Arr] = []
    parts = [((), feats)] if not keys else list(feats.group_by(keys, maintain_order=True))
    part_names: list[str] = []
    for i, (key, part) in enumerate(parts):
        flt = (
            pl.all_horizontal([pl.col(k) == v for k, v in zip(keys, key, strict=True)])
            if keys
            else pl.lit(True)
        )
        b = book.filter(flt).sort("seq")
        ba = book_arrays(b)
        for m in methods:
            cols = cfg.regimes.rule_inputs if m == "rules" else reg_cols
            xin[m].append(regime_inputs(part, ba, cfg.regimes, columns=cols).to_numpy())
        rows = np.clip(ba.rows_at_or_before(part["seq"].to_numpy()), 0, max(ba.n - 1, 0))
        with np.errstate(invalid="ignore", divide="ignore"):
            halfspread.append((ba.spread / ba.mid * 1e4 / 2.0)[rows])
        pid.append(np.full(part.height, i, dtype=np.int64))
        part_names.append("/".join(str(v) for v in key) if keys else "all")
    X_reg = {m: np.concatenate(v) for m, v in xin.items()}
    hs = np.concatenate(halfspread)
    part_id = np.concatenate(pid)
    lengths_all = _runs(part_id)
    inst_id = (
        np.unique(feats["instrument"].cast(pl.Utf8).to_numpy(), return_inverse=True)[1].astype(np.int64)
        if "instrument" in feats.columns
        else None
    )

    X = feats.select(fcols).cast(pl.Float64).to_numpy()
    X[~np.isfinite(X)] = np.nan  # +-inf (e.g. a ratio over an empty side) is "missing" for every model
    ymid = labels[y_col].to_numpy()
    t0 = labels["ts_event"].to_numpy().astype(np.int64)
    t1 = labels["t_end_ns"].to_numpy().astype(np.int64)
    ylong = (
        labels[f"y_exec_long_{target}"].to_numpy() if cfg.labels.executable else np.full(ymid.shape, np.nan)
    )
    yshort = (
        labels[f"y_exec_short_{target}"].to_numpy() if cfg.labels.executable else np.full(ymid.shape, np.nan)
    )
    valid = np.isfinite(ymid) & (t1 >= t0)
    if cfg.labels.executable:
        valid &= np.isfinite(ylong) & np.isfinite(yshort)
    vidx = np.flatnonzero(valid)
    if vidx.size < 10 * (cfg.cv.n_splits + 1):
        raise ConfigError(f"research: only {vidx.size} labelled rows; too few for {cfg.cv.n_splits} folds")

    levels = list(cfg.model.quantile_levels)
    dq = levels.index(next(q for q in levels if abs(q - cfg.model.decision_quantile) < 1e-12))
    rng = np.random.default_rng(cfg.seed)
    out_rows: list[dict[str, Arr]] = []
    fold_info: list[dict[str, Any]] = []
    ofi_j = fcols.index(cfg.model.ofi_column) if cfg.model.ofi_column in fcols else None
    mic = next((c for c in cfg.model.microprice_columns if c in fcols), None)
    mic_j = fcols.index(mic) if mic is not None else None
    ari_folds: dict[str, list[tuple[Arr, Arr]]] = {m: [] for m in methods}
    truth_all = align_truth(feats, regimes_truth) if regimes_truth is not None else None

    for fold, (tr_v, te_v) in enumerate(_splitter(cfg).split(t0[vidx], t1[vidx])):
        tr = vidx[tr_v]
        te = vidx[te_v]
        if tr.size < 50 or te.size == 0:
            continue
        # row order is (instrument, date, seq), not time: "most recent" and the calibration tail are
        # chosen by t0 across all partitions; tr itself stays in row order (HMM sequences per partition)
        if tr.size > cfg.model.max_train_rows:
            tr = np.sort(tr[np.argsort(t0[tr], kind="stable")[-cfg.model.max_train_rows :]])
        # regimes: fit on training rows, filter over every row (causal), read off the rows we need
        reg_proba: Arr | None = None
        for m in methods:
            model = make_regime_model(
                m, cfg.regimes.n_regimes, cfg.regimes.random_state, n_buckets=cfg.regimes.n_buckets
            )
            Xr = X_reg[m]
            if cfg.regimes.normalize == "instrument" and inst_id is not None:
                Xr = standardize_by_group(Xr, inst_id, tr)
            if m == "hmm":
                model.fit(Xr[tr], lengths=_runs(part_id[tr]))
            else:
                model.fit(Xr[tr])
            proba = model.predict_proba(Xr, lengths_all)
            if m == cfg.regimes.method:
                reg_proba = proba
            if truth_all is not None:
                ari_folds[m].append((np.argmax(proba[te], axis=1), truth_all[te]))
        assert reg_proba is not None
        regime = np.argmax(reg_proba, axis=1).astype(np.int64)
        # classes with a regime-aware flat band fitted on the training rows
        if cfg.labels.class_threshold == "regime_vol":
            thr = regime_thresholds(regime, regime_scales(ymid[tr], regime[tr]), cfg.labels.class_k)
        elif cfg.labels.class_threshold == "spread":
            thr = cfg.labels.class_k * np.nan_to_num(hs, nan=0.0)
        else:
            thr = np.full(ymid.shape[0], cfg.labels.fixed_bps)
        ycls = classify(ymid, thr)
        Xf = np.column_stack([X, reg_proba]) if cfg.model.regime_features else X
        m_cfg = cfg.model
        clf = LGBMDirectionClassifier(
            n_estimators=m_cfg.n_estimators,
            learning_rate=m_cfg.learning_rate,
            num_leaves=m_cfg.num_leaves,
            min_child_samples=m_cfg.min_child_samples,
            n_jobs=m_cfg.n_jobs,
            random_state=cfg.seed + m_cfg.random_state,
        )
        sw = regime_balanced_weights(ycls[tr], regime[tr]) if m_cfg.class_balance == "regime" else None
        clf.fit(Xf[tr], ycls[tr], sample_weight=sw)
        proba_c = clf.predict_proba(Xf[te])
        full_p = np.zeros((te.size, 3))
        for j, c in enumerate(clf.classes_):
            full_p[:, int(c) + 1] = proba_c[:, j]
        rec: dict[str, Arr] = {
            "row": te,
            "fold": np.full(te.size, fold, dtype=np.int32),
            "regime": regime[te],
            "y_class": ycls[te],
            "pred_class": clf.predict(Xf[te]).astype(np.int8),
            "p_down": full_p[:, 0],
            "p_flat": full_p[:, 1],
            "p_up": full_p[:, 2],
            "y_ret": ymid[te],
            "y_exec_long": ylong[te],
            "y_exec_short": yshort[te],
            "threshold_bps": thr[te],
        }
        for kk in range(reg_proba.shape[1]):
            rec[f"p_regime_{kk}"] = reg_proba[te, kk]
        # baselines (fitted on the same training rows)
        rec["base_majority"] = MajorityClassifier().fit(X[tr], ycls[tr]).predict(X[te])
        if ofi_j is not None:
            rec["base_sign_ofi"] = SignClassifier(column=ofi_j).fit(X[tr], ycls[tr]).predict(X[te])
        if mic_j is not None:
            rec["base_sign_microprice"] = SignClassifier(column=mic_j).fit(X[tr], ycls[tr]).predict(X[te])
        if m_cfg.logistic:
            Xl = np.nan_to_num(Xf)
            if np.unique(ycls[tr]).size < 2:  # a quiet fold (one class only): the logistic fit is undefined
                rec["base_logistic"] = np.full(te.size, ycls[tr][0] if tr.size else 0, dtype=np.int8)
            else:
                rec["base_logistic"] = (
                    logistic_baseline(random_state=cfg.seed).fit(Xl[tr], ycls[tr]).predict(Xl[te])
                )
        if m_cfg.leakage_test:
            perm = LGBMDirectionClassifier(
                n_estimators=min(100, m_cfg.n_estimators),
                learning_rate=m_cfg.learning_rate,
                num_leaves=m_cfg.num_leaves,
                min_child_samples=m_cfg.min_child_samples,
                n_jobs=m_cfg.n_jobs,
                random_state=cfg.seed,
            )
            perm.fit(Xf[tr], rng.permutation(ycls[tr]))
            rec["perm_pred"] = perm.predict(Xf[te]).astype(np.int8)
        # quantiles of the executable returns: proper-train / calibration split in time, purged
        if cfg.labels.executable:
            frac = m_cfg.calibration_fraction if m_cfg.conformal else 0.0
            proper, cal = calibration_split(tr, t0, t1, frac)
            n_cal = cal.size
            if proper.size == 0:
                raise ConfigError(
                    f"research: fold {fold} leaves no quantile training rows after purging against the "
                    f"calibration span ({tr.size} training rows); lower model.calibration_fraction or "
                    "the label horizon, or use more data"
                )
            for side, yv in (("long", ylong), ("short", yshort)):
                Xq = Xf if m_cfg.quantile_model == "lgbm" else np.nan_to_num(Xf)
                qm = _quantile_model(cfg).fit(Xq[proper], yv[proper])
                q_te = qm.predict_quantiles(Xq[te])
                if n_cal:
                    groups_cal = regime[cal] if m_cfg.conformal_by_regime else None
                    calib = ConformalQuantileCalibrator(levels=tuple(levels)).fit(
                        qm.predict_quantiles(Xq[cal]), yv[cal], groups_cal
                    )
                    q_te = calib.transform(q_te, regime[te] if m_cfg.conformal_by_regime else None)
                for j, lv in enumerate(levels):
                    rec[f"q{side[0]}_{round(lv * 100):02d}"] = q_te[:, j]
            rec["decision"] = decide(
                rec[f"ql_{round(levels[dq] * 100):02d}"],
                rec[f"qs_{round(levels[dq] * 100):02d}"],
                m_cfg.decision_threshold_bps,
            )
        out_rows.append(rec)
        fold_info.append(
            {
                "fold": fold,
                "train_rows": int(tr.size),
                "test_rows": int(te.size),
                "test_start_ns": int(t0[te].min()),
                "test_end_ns": int(t0[te].max()),
            }
        )

    if not out_rows:
        raise ConfigError("research: no fold had enough training rows")
    cat = {k: np.concatenate([r[k] for r in out_rows]) for k in out_rows[0] if all(k in r for r in out_rows)}
    order = np.argsort(cat["row"], kind="stable")
    cat = {k: v[order] for k, v in cat.items()}
    rows = cat.pop("row")
    preds = feats.select([*keys, "ts_event", "seq"])[rows]
    pred_cols = {k: v for k, v in cat.items() if not k.startswith("base_") and k != "perm_pred"}
    preds = preds.with_columns([pl.Series(k, v) for k, v in pred_cols.items()])
    preds = preds.with_columns(
        pl.col("regime").cast(pl.Int16),
        pl.col("y_class").cast(pl.Int8),
        pl.col("pred_class").cast(pl.Int8),
        pl.col("fold").cast(pl.Int32),
    )
    if "decision" in preds.columns:
        preds = preds.with_columns(pl.col("decision").cast(pl.Int8))
    validate(preds.drop(keys), PREDICTIONS, where="research predictions")

    metrics = evaluate(cat, part_id[rows], t0[rows], cfg, levels)
    metrics["labels"] = {
        "rows": int(labels.height),
        "labelled": int(vidx.size),
        "dropped_no_label": int(labels.height - vidx.size),
        "target": y_col,
        "class_threshold": cfg.labels.class_threshold,
    }
    metrics["cv"] = {
        "scheme": cfg.cv.scheme,
        "n_splits": len(fold_info),
        "embargo_ns": cfg.cv.embargo_ns,
        "folds": fold_info,
    }
    reg_m: dict[str, Any] = {
        "method": cfg.regimes.method,
        "n_regimes": int(cat["regime"].max() + 1),
        "share": {str(r): float(np.mean(cat["regime"] == r)) for r in np.unique(cat["regime"])},
    }
    if truth_all is not None:
        reg_m["ari"] = {
            m: regime_agreement(np.concatenate([a for a, _ in v]), np.concatenate([b for _, b in v]))["ari"]
            for m, v in ari_folds.items()
            if v
        }
    metrics["regimes"] = reg_m
    metrics["partitions"] = part_names
    metrics = json.loads(metrics_json(metrics))  # JSON-ready and deterministic: NaN -> null, rounded floats
    figures: dict[str, Any] = {}
    if cfg.eval.figures:
        from orderflow.evaluation.plots import research_figures

        figures = research_figures(preds, metrics)
    return ResearchResult(predictions=preds, metrics=metrics, figures=figures)


def _subset_bundle(
    cat: dict[str, Arr], m: NDArray[np.bool_], levels: list[float], cfg: ResearchConfig, ts: Arr
) -> dict[str, dict[str, Any]]:
    y = cat["y_class"][m]
    out: dict[str, dict[str, Any]] = {"classification": classification_metrics(y, cat["pred_class"][m])}
    base = {}
    for k in sorted(cat):
        if k.startswith("base_"):
            base[k[5:]] = classification_metrics(y, cat[k][m])
    out["baselines"] = base
    if "perm_pred" in cat:
        out["leakage"] = {
            "permuted_macro_f1": classification_metrics(y, cat["perm_pred"][m])["macro_f1"],
            "chance_macro_f1": chance_macro_f1(y),
        }
    if "decision" in cat:
        dec = cat["decision"][m]
        realized = np.where(dec > 0, cat["y_exec_long"][m], np.where(dec < 0, cat["y_exec_short"][m], 0.0))
        tr = dec != 0
        qcols = [f"ql_{round(lv * 100):02d}" for lv in levels]
        ql = np.column_stack([cat[c][m] for c in qcols])
        out["quantile"] = quantile_metrics(cat["y_exec_long"][m], ql, levels)
        qs = np.column_stack([cat[c.replace("ql_", "qs_")][m] for c in qcols])
        out["quantile"]["short"] = quantile_metrics(cat["y_exec_short"][m], qs, levels)
        out["decisions"] = decision_metrics(dec, realized)
        out["drawdown"] = drawdown_metrics(realized[tr], ts[m][tr])
        srs = []
        for thr in cfg.eval.dsr_thresholds_bps:
            d2 = decide(
                cat[f"ql_{round(cfg.model.decision_quantile * 100):02d}"][m],
                cat[f"qs_{round(cfg.model.decision_quantile * 100):02d}"][m],
                thr,
            )
            r2 = np.where(d2 > 0, cat["y_exec_long"][m], cat["y_exec_short"][m])[d2 != 0]
            srs.append(sharpe_ratio(r2))
        out["sharpe"] = sharpe_metrics(realized[tr], srs)
    return out


def evaluate(
    cat: dict[str, Arr], part_id: Arr, ts: Arr, cfg: ResearchConfig, levels: list[float]
) -> dict[str, Any]:
    """metrics.json content from the concatenated out-of-sample rows (time-ordered within partitions)."""
    n = cat["y_class"].shape[0]
    glob = _subset_bundle(cat, np.ones(n, dtype=bool), levels, cfg, ts)
    regs = [int(r) for r in np.unique(cat["regime"])]
    by = {str(r): _subset_bundle(cat, cat["regime"] == r, levels, cfg, ts) for r in regs}
    trans = _subset_bundle(
        cat, transition_mask(cat["regime"], part_id, cfg.eval.transition_window), levels, cfg, ts
    )
    metrics: dict[str, Any] = {}
    for section in glob:
        if section == "baselines":
            metrics["baselines"] = {
                name: {
                    **vals,
                    "by_regime": {r: by[r]["baselines"][name] for r in by},
                    "transition": trans["baselines"].get(name, {}),
                }
                for name, vals in glob["baselines"].items()
            }
            continue
        metrics[section] = {
            **glob[section],
            "by_regime": {r: by[r][section] for r in by},
            "transition": trans[section],
        }
    metrics["transition_rows"] = int(trans["classification"]["rows"])
    return metrics


__all__ = ["ResearchResult", "decide", "evaluate", "run_research"]
