"""``orderflow regimes``, ``orderflow labels``, ``orderflow fit`` and ``orderflow evaluate``."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import typer

from orderflow.cli._common import Groups, console, print_json, progress

REGIMES_HELP = """Fit a regime model on the first --train-fraction of the rows (in time) and assign regimes
CAUSALLY (filtered, never smoothed) to every row of every partition.

Reads DATASET/features and DATASET/book_snapshots (as written by `orderflow features` and the book
stage), writes the REGIMES table (ts_event, seq, regime, p_regime_k) to OUT/regimes/instrument=X/date=D/.
When DATASET has the simulator's sim_regimes table, prints the adjusted Rand index against it.

Example:

  orderflow regimes data/ --method hmm --n-regimes 2 --out runs/regimes --json
"""

LABELS_HELP = """Compute forward-looking labels for every feature row: mid / microprice returns at each horizon
(time 1s, events 100ev, volume 500vol), cost-aware executable returns at the target horizon (cross the
spread, walk the book for the order size after the execution latency, pay taker fees), the triple barrier,
and t_end_ns (end of each row's label window, for purging).

Reads DATASET/features (or the book rows when there are no features), DATASET/book_snapshots and
DATASET/trades; writes OUT/labels/instrument=X/date=D/. Execution assumptions come from the \\[execution]
table of --config (same model as the backtest).

Example:

  orderflow labels data/ --horizons 100ms,1s,50ev --target 1s --out runs/labels --config configs/demo.toml
"""

FIT_HELP = """Run the research stage: regimes, regime-aware labels, LightGBM / logistic / trivial baselines,
quantile models with conformal calibration, all inside purged + embargoed walk-forward folds, then the
out-of-sample evaluation.

Reads DATASET/{features,book_snapshots,trades,sim_regimes}; writes OUT/predictions.parquet,
OUT/metrics.json (deterministic, sorted keys) and OUT/figures/*.png|svg. --config is a pipeline TOML
whose \\[research] table is the ResearchConfig and \\[execution] the shared ExecutionModel.

Example:

  orderflow fit data/ --out runs/research --config configs/demo.toml
"""

EVALUATE_HELP = """Show (and re-plot) the evaluation of a research artifact directory written by `orderflow fit`.

Reads DIR/metrics.json and DIR/predictions.parquet; prints the headline table (or the metrics JSON with
--json) and rewrites DIR/figures/*.png|svg with --plots.

Example:

  orderflow evaluate runs/research --plots
"""


def _load_config(path: Path | None) -> tuple[Any, Any]:
    from orderflow.core.errors import ConfigError
    from orderflow.core.execution import ExecutionModel
    from orderflow.models import ResearchConfig

    raw: dict[str, Any] = {}
    if path is not None:
        if not path.exists():
            raise ConfigError(f"{path}: config file not found")
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: invalid TOML ({e})") from None
    from pydantic import ValidationError

    try:
        return ResearchConfig.model_validate(raw.get("research", {})), ExecutionModel.model_validate(
            raw.get("execution", {})
        )
    except ValidationError as e:
        msgs = "; ".join(".".join(str(p) for p in err["loc"]) + ": " + err["msg"] for err in e.errors())
        raise ConfigError(f"{path}: {msgs}") from None


def _read_all(dataset: Path, table: str, required: bool = True) -> Any:
    import polars as pl

    from orderflow.core.errors import ArtifactError
    from orderflow.core.io import Dataset

    ds = Dataset(dataset)
    parts = ds.partitions(table)
    if not parts:
        if required:
            raise ArtifactError(f"{dataset}: no '{table}' partitions")
        return None
    frames = [
        ds.read(table, i, d, validate_schema=False).with_columns(
            pl.lit(i).alias("instrument"), pl.lit(d).alias("date")
        )
        for i, d in parts
    ]
    return pl.concat(frames, how="diagonal_relaxed")


def _write_partitions(out: Path, table: str, df: Any) -> list[str]:
    from orderflow.core.io import Dataset

    ds = Dataset(out)
    written = []
    for (inst, date), part in df.group_by(["instrument", "date"], maintain_order=True):
        ds.write(table, part.drop("instrument", "date"), str(inst), str(date))
        written.append(f"{inst}/{date}")
    return written


def register(app: typer.Typer, groups: Groups) -> None:
    """Add this module's commands to ``app``."""

    @app.command("regimes", help=REGIMES_HELP)
    def regimes_cmd(
        dataset: Path = typer.Argument(..., help="canonical dataset directory (features + book_snapshots)"),
        out: Path = typer.Option(..., "--out", help="output dataset directory for the REGIMES table"),
        method: str = typer.Option("hmm", help="hmm | gmm | rules"),
        n_regimes: int = typer.Option(2, help="number of regimes (gmm, hmm)"),
        train_fraction: float = typer.Option(0.5, help="share of the rows (earliest first) used to fit"),
        config: Path | None = typer.Option(None, help="pipeline TOML (\\[research.regimes] table)"),
        as_json: bool = typer.Option(False, "--json", help="print a JSON summary on stdout"),
    ) -> None:
        import numpy as np
        import polars as pl

        from orderflow.regimes import (
            align_truth,
            make_regime_model,
            regime_agreement,
            regime_inputs,
            regimes_frame,
        )

        rcfg, _ = _load_config(config)
        reg = rcfg.regimes.model_copy(update={"method": method, "n_regimes": n_regimes})
        feats = _read_all(dataset, "features").sort(["instrument", "date", "seq"])
        book = _read_all(dataset, "book_snapshots")
        cols = reg.rule_inputs if method == "rules" else (tuple(reg.inputs) or None)
        xs, lens = [], []
        for (i, d), part in feats.group_by(["instrument", "date"], maintain_order=True):
            b = book.filter((pl.col("instrument") == i) & (pl.col("date") == d)).sort("seq")
            xs.append(regime_inputs(part, b, reg, columns=cols).to_numpy())
            lens.append(part.height)
        X = np.concatenate(xs)
        order = np.argsort(feats["ts_event"].to_numpy(), kind="stable")
        train = np.sort(order[: max(2, int(train_fraction * X.shape[0]))])
        model = make_regime_model(method, n_regimes, reg.random_state, n_buckets=reg.n_buckets)
        model.fit(X[train])
        proba = model.predict_proba(X, lens)
        frame = regimes_frame(feats, np.argmax(proba, axis=1), proba)
        parts = _write_partitions(out, "regimes", frame)
        summary: dict[str, Any] = {
            "method": method,
            "rows": int(X.shape[0]),
            "train_rows": int(train.size),
            "partitions": parts,
            "share": {str(r): float(np.mean(frame["regime"].to_numpy() == r)) for r in range(proba.shape[1])},
        }
        truth = _read_all(dataset, "sim_regimes", required=False)
        if truth is not None:
            summary["agreement"] = regime_agreement(
                frame["regime"].to_numpy().astype(np.int64), align_truth(feats, truth)
            )
        if as_json:
            print_json(summary)
        else:
            console.print(f"regimes ({method}) for {len(parts)} partitions -> {out}: {summary}")

    @app.command("labels", help=LABELS_HELP)
    def labels_cmd(
        dataset: Path = typer.Argument(..., help="canonical dataset directory"),
        out: Path = typer.Option(..., "--out", help="output dataset directory for the LABELS table"),
        horizons: str | None = typer.Option(None, help="comma-separated horizons, e.g. 100ms,1s,50ev,500vol"),
        target: str | None = typer.Option(None, help="horizon of the executable / triple-barrier labels"),
        config: Path | None = typer.Option(None, help="pipeline TOML (\\[research.labels], \\[execution])"),
        as_json: bool = typer.Option(False, "--json", help="print a JSON summary on stdout"),
    ) -> None:
        from orderflow.labels import compute_labels

        rcfg, execution = _load_config(config)
        upd: dict[str, Any] = {}
        if horizons:
            upd["horizons"] = tuple(h.strip() for h in horizons.split(",") if h.strip())
        if target:
            upd["target"] = target
        lcfg = type(rcfg.labels).model_validate({**rcfg.labels.model_dump(), **upd})
        book = _read_all(dataset, "book_snapshots")
        rows = _read_all(dataset, "features", required=False)
        rows = (rows if rows is not None else book).select("instrument", "date", "ts_event", "seq")
        trades = _read_all(dataset, "trades", required=False)
        with progress(quiet=as_json) as p:
            task = p.add_task("labels", total=1)
            lab = compute_labels(book, rows, lcfg, execution, trades)
            p.advance(task)
        parts = _write_partitions(out, "labels", lab)
        summary = {
            "rows": lab.height,
            "partitions": parts,
            "columns": [c for c in lab.columns if c.startswith("y_")],
            "unlabelled_rows": int((lab["t_end_ns"] < 0).sum()),
        }
        if as_json:
            print_json(summary)
        else:
            console.print(f"labels -> {out}: {summary}")

    @app.command("fit", help=FIT_HELP)
    def fit_cmd(
        dataset: Path = typer.Argument(..., help="canonical dataset directory"),
        out: Path = typer.Option(
            ..., "--out", help="artifact directory (predictions, metrics.json, figures)"
        ),
        config: Path | None = typer.Option(None, help="pipeline TOML (\\[research], \\[execution])"),
        as_json: bool = typer.Option(False, "--json", help="print metrics.json on stdout"),
    ) -> None:
        from orderflow.core.io import write_parquet
        from orderflow.evaluation.plots import save_figures
        from orderflow.evaluation.report import headline_markdown, write_metrics
        from orderflow.models import run_research

        rcfg, execution = _load_config(config)
        feats = _read_all(dataset, "features")
        book = _read_all(dataset, "book_snapshots")
        trades = _read_all(dataset, "trades", required=False)
        truth = _read_all(dataset, "sim_regimes", required=False)
        with progress(quiet=as_json) as p:
            task = p.add_task("research", total=1)
            res = run_research(
                feats, book, config=rcfg, execution=execution, regimes_truth=truth, trades=trades
            )
            p.advance(task)
        out.mkdir(parents=True, exist_ok=True)
        write_parquet(res.predictions, out / "predictions.parquet")
        write_metrics(res.metrics, out / "metrics.json")
        save_figures(res.figures, out / "figures")
        if as_json:
            print_json(res.metrics)
        else:
            console.print(headline_markdown(res.metrics))
            console.print(f"-> {out}")

    @app.command("evaluate", help=EVALUATE_HELP)
    def evaluate_cmd(
        directory: Path = typer.Argument(..., help="artifact directory written by `orderflow fit`"),
        plots: bool = typer.Option(False, "--plots", help="re-draw the figures into DIR/figures"),
        as_json: bool = typer.Option(False, "--json", help="print metrics.json on stdout"),
    ) -> None:
        from orderflow.core.errors import ArtifactError
        from orderflow.evaluation.report import headline_markdown

        mpath = directory / "metrics.json"
        if not mpath.exists():
            raise ArtifactError(f"{mpath}: not found (run `orderflow fit DATASET --out {directory}` first)")
        metrics = json.loads(mpath.read_text())
        if plots:
            import polars as pl

            from orderflow.evaluation.plots import research_figures, save_figures

            preds = pl.read_parquet(directory / "predictions.parquet")
            save_figures(research_figures(preds, metrics), directory / "figures")
        if as_json:
            print_json(metrics)
        else:
            console.print(headline_markdown(metrics))
