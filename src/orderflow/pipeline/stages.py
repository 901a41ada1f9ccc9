"""Cross-partition steps of the pipeline (research, backtest roll-up) and the report's contents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from orderflow.core.enums import PRICE_SCALE, UNDEF_PRICE
from orderflow.core.io import Dataset, atomic_write_json, atomic_write_text, write_parquet
from orderflow.pipeline.config import PipelineConfig
from orderflow.pipeline.report import Section, render


def _concat_partitions(
    ds: Dataset,
    table: str,
    parts: list[Any],
    columns: list[str] | None = None,
    keep_seqs: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One frame of ``table`` over ``parts`` with ``instrument`` and ``date`` columns.

    ``keep_seqs`` (``instrument``, ``date``, ``seq``) keeps only those rows, filtered partition by partition
    as each is read: a day of event-clock book snapshots is far larger than the sampled rows research
    needs, and holding every partition's full table at once does not fit in memory at scale.
    """
    frames = []
    for p in parts:
        if not ds.has(table, p.instrument, p.date):
            continue
        df = ds.read(table, p.instrument, p.date, validate_schema=False)
        if keep_seqs is not None:
            want = keep_seqs.filter((pl.col("instrument") == p.instrument) & (pl.col("date") == p.date))
            df = df.join(want.select("seq"), on="seq", how="semi")
        if columns is not None:
            df = df.select([c for c in columns if c in df.columns])
        frames.append(df.with_columns(pl.lit(p.instrument).alias("instrument"), pl.lit(p.date).alias("date")))
        del df
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def run_research_stage(
    cfg: PipelineConfig, parts: list[Any], ingest: Dataset, book: Dataset, features: Dataset, out_dir: Path
) -> None:
    """Fit regimes, labels and models across all partitions (purged walk-forward) and evaluate.

    Writes ``predictions.parquet``, ``metrics.json`` and ``figures/*.png`` into ``out_dir``.
    """
    from orderflow.models import run_research

    feats = _concat_partitions(features, "features", parts)
    seqs = feats.select("instrument", "date", "seq")
    snaps = _concat_partitions(book, "book_snapshots", parts, keep_seqs=seqs)
    truth = _concat_partitions(ingest, "sim_regimes", parts)
    res = run_research(
        feats,
        snaps,
        config=cfg.research_config(),
        execution=cfg.execution,
        regimes_truth=truth if truth.height else None,
    )
    write_parquet(res.predictions, out_dir / "predictions.parquet")
    atomic_write_text(
        out_dir / "metrics.json", json.dumps(res.metrics, indent=2, sort_keys=True, default=_jd) + "\n"
    )
    figs = out_dir / "figures"
    figs.mkdir(exist_ok=True)
    for name, fig in sorted(res.figures.items()):
        sec = Section("x", "x")
        sec.add_figure(name, fig)
        (figs / f"{name}.png").write_bytes(sec.figures[0][1])


def filter_truth_rows(names: list[str], summaries: list[dict[str, Any]]) -> list[list[Any]]:
    """Rows (partition, artifact, precision, recall, tp, fp, fn) of the filter stage's scores against
    the simulator's artifacts, from its per-partition summaries (partitions named ``names``)."""
    rows: list[list[Any]] = []
    for name, s in zip(names, summaries, strict=True):
        for kind, sc in (s.get("truth") or {}).items():
            if isinstance(sc, dict):
                rows.append([name, kind, *(sc.get(k) for k in ("precision", "recall", "tp", "fp", "fn"))])
    return rows


def pool_scores(rows: list[list[Any]]) -> list[list[Any]]:
    """Sum tp/fp/fn per artifact over partitions (rows: partition, artifact, precision, recall, tp, fp,
    fn) and recompute precision = tp / (tp + fp) and recall = tp / (tp + fn) (None when undefined)."""
    acc: dict[str, list[int]] = {}
    for _, kind, _p, _r, tp, fp, fn in rows:
        a = acc.setdefault(str(kind), [0, 0, 0])
        for j, v in enumerate((tp, fp, fn)):
            a[j] += int(v or 0)
    out: list[list[Any]] = []
    for kind, (tp, fp, fn) in acc.items():
        prec = tp / (tp + fp) if tp + fp else None
        rec = tp / (tp + fn) if tp + fn else None
        out.append([kind, prec, rec, tp, fp, fn])
    return out


def _jd(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    return str(o)


def combine_backtests(parts: list[Any], summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Roll per-partition backtest summaries up into totals and per-regime sums (deterministic order)."""
    per: dict[str, Any] = {}
    total: dict[str, float] = {}
    by_regime: dict[str, dict[str, float]] = {}
    for p, s in zip(parts, summaries, strict=True):
        summ = s.get("summary", {})
        per[p.name] = summ
        for k, v in summ.items():
            if isinstance(v, int | float) and k in (
                "pnl",
                "fees",
                "trades",
                "fills",
                "volume",
                "spread_pnl",
                "inventory_pnl",
            ):
                total[k] = total.get(k, 0.0) + float(v)
        for r, rs in (summ.get("by_regime") or {}).items():
            agg = by_regime.setdefault(str(r), {})
            for k, v in rs.items():
                if isinstance(v, int | float) and k in ("pnl", "fees", "trades", "fills", "volume"):
                    agg[k] = agg.get(k, 0.0) + float(v)
    return {"total": total, "by_regime": by_regime, "partitions": per}


# -- report -----------------------------------------------------------------------------------------------------
def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _px(a: np.ndarray) -> np.ndarray:
    out = a.astype(np.float64) / PRICE_SCALE
    out[a == UNDEF_PRICE] = np.nan
    return out


def book_figures(snaps: pl.DataFrame, title: str) -> list[tuple[str, Any]]:
    """Best bid/ask over the day and the average depth profile by level."""
    plt = _plt()
    figs = []
    n = snaps.height
    step = max(1, n // 4000)
    s = snaps.gather_every(step)
    t = (s["ts_event"].to_numpy() - s["ts_event"][0]) / 3.6e12
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(t, _px(s["bid_px_00"].to_numpy()), lw=0.7, label="best bid", color="#2b8a3e")
    ax.plot(t, _px(s["ask_px_00"].to_numpy()), lw=0.7, label="best ask", color="#c92a2a")
    ax.set_xlabel("hours since first event")
    ax.set_ylabel("price")
    ax.set_title(f"{title}: best bid / ask")
    ax.legend(loc="best", fontsize=8)
    figs.append((f"{title}: best bid and ask", fig))
    depth = sum(1 for c in snaps.columns if c.startswith("bid_sz_"))
    bid = [float(snaps[f"bid_sz_{k:02d}"].cast(pl.Float64).mean() or 0.0) for k in range(depth)]  # type: ignore[arg-type]
    ask = [float(snaps[f"ask_sz_{k:02d}"].cast(pl.Float64).mean() or 0.0) for k in range(depth)]  # type: ignore[arg-type]
    fig, ax = plt.subplots(figsize=(5, 3))
    lv = np.arange(depth)
    ax.barh(-lv - 0.2, bid, height=0.4, color="#2b8a3e", label="bid")
    ax.barh(-lv + 0.2, ask, height=0.4, color="#c92a2a", label="ask")
    ax.set_yticks(-lv, [str(k) for k in lv])
    ax.set_ylabel("level (0 = best)")
    ax.set_xlabel("mean displayed size")
    ax.set_title(f"{title}: depth profile")
    ax.legend(fontsize=8)
    figs.append((f"{title}: mean depth by level", fig))
    return figs


def feature_regime_figure(feats: pl.DataFrame, preds: pl.DataFrame, columns: list[str]) -> Any | None:
    """Histograms of a few features split by assigned regime."""
    if "regime" not in preds.columns or not columns:
        return None
    plt = _plt()
    j = feats.join(
        preds.select("instrument", "date", "seq", "regime"), on=["instrument", "date", "seq"], how="inner"
    )
    if j.height == 0:
        return None
    fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 2.8))
    axes = np.atleast_1d(axes)
    for ax, col in zip(axes, columns, strict=False):
        for r in sorted(j["regime"].unique().to_list()):
            v = j.filter(pl.col("regime") == r)[col].drop_nans().drop_nulls().to_numpy()
            if v.size == 0:
                continue
            lo, hi = np.nanpercentile(v, [1, 99])
            ax.hist(np.clip(v, lo, hi), bins=40, alpha=0.5, density=True, label=f"regime {r}")
        ax.set_title(col, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def regime_timeline_figure(preds: pl.DataFrame, truth: pl.DataFrame, part: Any) -> Any | None:
    if "regime" not in preds.columns:
        return None
    plt = _plt()
    p = preds.filter((pl.col("instrument") == part.instrument) & (pl.col("date") == part.date)).sort("seq")
    if p.height == 0:
        return None
    t0 = p["ts_event"][0]
    fig, ax = plt.subplots(figsize=(7, 2.4))
    ax.step(
        (p["ts_event"].to_numpy() - t0) / 3.6e12,
        p["regime"].to_numpy(),
        where="post",
        lw=0.8,
        label="assigned (causal)",
    )
    if truth.height:
        tr = truth.filter((pl.col("instrument") == part.instrument) & (pl.col("date") == part.date)).sort(
            "seq"
        )
        if tr.height:
            ax.step(
                (tr["ts_event"].to_numpy() - t0) / 3.6e12,
                tr["regime"].to_numpy() + 0.08,
                where="post",
                lw=0.8,
                label="simulator truth (+0.08)",
                color="#e8590c",
            )
    ax.set_xlabel("hours (test folds only)")
    ax.set_ylabel("regime")
    ax.set_title(f"Regime timeline {part.name}")
    ax.legend(fontsize=7, loc="upper right")
    return fig


def equity_figure(bt: Dataset, parts: list[Any]) -> Any | None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3))
    any_line = False
    for p in parts:
        if not bt.has("equity", p.instrument, p.date):
            continue
        e = bt.read("equity", p.instrument, p.date)
        if e.height == 0:
            continue
        ax.plot((e["ts"].to_numpy() - e["ts"][0]) / 3.6e12, e["equity"].to_numpy(), lw=0.8, label=p.name)
        any_line = True
    if not any_line:
        plt.close(fig)
        return None
    ax.set_xlabel("hours")
    ax.set_ylabel("equity (currency)")
    ax.set_title("Backtest equity per partition")
    ax.legend(fontsize=6, ncol=3)
    return fig


def _flatten(prefix: str, obj: Any, out: list[tuple[str, Any]]) -> None:
    if isinstance(obj, dict):
        for k in sorted(obj):
            _flatten(f"{prefix}.{k}" if prefix else str(k), obj[k], out)
    elif isinstance(obj, int | float | str | bool) or obj is None:
        out.append((prefix, obj))


def build_report(
    cfg: PipelineConfig,
    run_id: str,
    parts: list[Any],
    metrics: dict[str, Any],
    path: Path,
    *,
    ingest: Dataset,
    book: Dataset,
    filters: Dataset,
    features: Dataset,
    research_dir: Path,
    backtest: Dataset | None,
    filter_summaries: list[dict[str, Any]],
) -> None:
    """Assemble report.html from the stages' artifacts (self-contained, opens offline)."""
    sections: list[Section] = []
    # QC
    qc = Section(
        "qc",
        "Data quality (filters)",
        note="Flagged events per rule and action. Nothing is deleted: 'drop' rows are left out of features, "
        "'downweight' rows get weight 0.5, 'mark' rows are only reported.",
    )
    qc_all = _concat_partitions(filters, "qc", parts)
    if qc_all.height:
        counts = (
            qc_all.group_by("rule", "reason", "action")
            .agg(pl.len().alias("events"))
            .sort("events", descending=True)
        )
        qc.add_table("Flagged events (all partitions)", ["rule", "reason", "action", "events"], counts.rows())
    else:
        qc.note += " No event was flagged."
    truth_rows = filter_truth_rows([p.name for p in parts], filter_summaries)
    if truth_rows:
        qc.add_table(
            "Filters against the simulator's injected artifacts (all partitions)",
            ["artifact", "precision", "recall", "tp", "fp", "fn"],
            pool_scores(truth_rows),
        )
        qc.add_table(
            "... per partition",
            ["partition", "artifact", "precision", "recall", "tp", "fp", "fn"],
            truth_rows,
            collapsed=True,
        )
    sections.append(qc)
    # book
    bk = Section("book", "Order book", note="Reconstructed top-of-book and depth profile (first partition).")
    p0 = parts[0]
    snaps0 = book.read("book_snapshots", p0.instrument, p0.date)
    for cap, fig in book_figures(snaps0, p0.name):
        bk.add_figure(cap, fig)
    sections.append(bk)
    # features / regimes
    preds_path = research_dir / "predictions.parquet"
    preds = pl.read_parquet(preds_path) if preds_path.exists() else pl.DataFrame()
    feats_all = _concat_partitions(features, "features", parts)
    fsec = Section(
        "features",
        "Features by regime",
        note=f"{feats_all.width - 4 if feats_all.width else 0} feature columns; distributions on test rows "
        "split by the causally assigned regime.",
    )
    candidates: list[str] = [
        c for c in ("spread_ticks", "imb_l1", "ofi_l1", "rv", "depth_l1") if c in feats_all.columns
    ]
    if not candidates and feats_all.width:
        candidates = [c for c in feats_all.columns if feats_all[c].dtype == pl.Float64][:4]
    if preds.height and (fig := feature_regime_figure(feats_all, preds, candidates[:4])) is not None:
        fsec.add_figure("feature distributions by regime", fig)
    sections.append(fsec)
    rsec = Section(
        "regimes",
        "Regimes",
        note="Regimes are fitted on training folds only and assigned causally "
        "(filtered probabilities), so the path uses nothing after each row.",
    )
    truth = _concat_partitions(ingest, "sim_regimes", parts)
    if preds.height and (fig := regime_timeline_figure(preds, truth, p0)) is not None:
        rsec.add_figure("regime timeline", fig)
    reg = metrics.get("regimes", {})
    flat: list[tuple[str, Any]] = []
    _flatten("", reg, flat)
    if flat:
        rsec.add_table("Regime metrics", ["metric", "value"], flat[:40])
    sections.append(rsec)
    # research figures + metrics
    msec = Section(
        "models",
        "Models and evaluation",
        note="Out-of-sample (purged, embargoed walk-forward) classification and quantile metrics, "
        "globally and per regime; decisions use the quantiles of the executable return.",
    )
    from orderflow.pipeline.summary import HEADLINE_COLUMNS, headline_rows

    msec.add_table("Out-of-sample summary by regime", HEADLINE_COLUMNS, headline_rows(metrics))
    figs_dir = research_dir / "figures"
    if figs_dir.exists():
        for f in sorted(figs_dir.glob("*.png")):
            msec.add_figure(f.stem.replace("_", " "), f.read_bytes())
    flat = []
    for key in (
        "classification",
        "baselines",
        "quantile",
        "decisions",
        "drawdown",
        "leakage",
        "labels",
        "cv",
    ):
        _flatten(key, metrics.get(key, {}), flat)
    msec.add_table("Every metric (metrics.json)", ["metric", "value"], flat[:400], collapsed=True)
    sections.append(msec)
    # backtest
    if backtest is not None:
        bsec = Section(
            "backtest",
            "Backtest",
            note="Event-driven replay on the reconstructed book with the configured "
            "latency, fees and queue model.",
        )
        if (fig := equity_figure(backtest, parts)) is not None:
            bsec.add_figure("equity", fig)
        flat = []
        _flatten(
            "backtest", {k: v for k, v in metrics.get("backtest", {}).items() if k != "partitions"}, flat
        )
        bsec.add_table("Backtest totals", ["metric", "value"], flat)
        sections.append(bsec)
    html = render(
        f"orderflow report: {cfg.name}",
        f"run {run_id} · {len(parts)} partitions · source {cfg.data.source}",
        sections,
        config=json.loads(cfg.model_dump_json()),
    )
    atomic_write_text(path, html)
    atomic_write_json(path.parent / "partitions.json", [p.name for p in parts])


__all__ = ["build_report", "combine_backtests", "run_research_stage"]
