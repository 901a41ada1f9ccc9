"""``orderflow demo``: the whole pipeline on the built-in simulator (what ``make demo`` runs)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from orderflow.cli._common import Groups, console


def demo_config_path() -> Path:
    """The packaged demo config (``configs/demo.toml`` in the repository links to it)."""
    return Path(str(resources.files("orderflow") / "configs" / "demo.toml"))


def register(app: typer.Typer, groups: Groups) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("runs"), "--out", help="Output root for run artifacts."),
        config: Path | None = typer.Option(
            None, "--config", help="Use this config instead of the packaged demo."
        ),
        executor: str | None = typer.Option(None, "--executor", help="local (default), dask or serial."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the final table and paths."),
    ) -> None:
        """Simulate 3 instruments x 3 days with regime changes and injected artifacts, run every stage
        (book, filters, features, regimes, labels, models, evaluation, backtest) and print the headline
        metrics per regime and the path of the HTML report.

        Example: orderflow demo --out /tmp/runs
        """
        from orderflow.cli.run_cmd import execute_run

        cfg = config or demo_config_path()
        console.print(f"[bold]orderflow demo[/]: simulated market, full pipeline ({cfg})", highlight=False)
        res = execute_run(cfg, out=out, executor=executor, quiet=quiet)
        if not quiet:
            console.print(qc_summary_table(res.run_dir))
            console.print(feature_stats_table(res.run_dir))


def filter_summary(run_dir: Path) -> dict[str, Any]:
    """The filter stage's per-partition reports of a run, summed: ``events`` and ``volume`` of the
    run, per rule the flagged ``events``, ``volume`` and ``actions``, and per artifact kind the pooled
    precision/recall against the simulator's truth (``truth``, when the data is simulated)."""
    from orderflow.pipeline.runner import stage_summaries
    from orderflow.pipeline.stages import filter_truth_rows, pool_scores

    summaries = stage_summaries(run_dir / "filters")
    events = volume = 0
    rules: dict[str, dict[str, Any]] = {}
    for s in summaries.values():
        rep = s.get("report", {})
        events += int(rep.get("events", 0))
        volume += int(rep.get("volume", 0))
        for rule, e in rep.get("rules", {}).items():
            t = rules.setdefault(rule, {"events": 0, "volume": 0, "actions": set()})
            t["events"] += int(e["events"])
            t["volume"] += int(e["volume"])
            t["actions"] |= set(e.get("by_action", {}))
    truth_rows = filter_truth_rows(list(summaries), list(summaries.values()))
    # per artifact kind (the per-rule "rule:..." scores are left to the report)
    truth = {row[0]: row[1:] for row in pool_scores(truth_rows) if not str(row[0]).startswith("rule:")}
    return {"events": events, "volume": volume, "rules": rules, "truth": truth}


def qc_summary_table(run_dir: Path) -> Table:
    """Flagged events per rule over the run, with the simulator's precision/recall per artifact."""
    from orderflow.filters.apply import RULE_KIND

    s = filter_summary(run_dir)
    ev, vol = max(s["events"], 1), max(s["volume"], 1)
    t = Table(title=f"Filters: {s['events']:,} events; flagged per rule (nothing is deleted)")
    for c in ("rule", "action", "events", "% ev", "% vol", "sim. P / R %"):
        left = c in ("rule", "action") or c.startswith("sim")
        t.add_column(c, justify="left" if left else "right", no_wrap=c != "action")
    for rule, e in s["rules"].items():
        kind = RULE_KIND.get(rule)  # the simulator artifact kind the rule is scored against
        pr = s["truth"].get(kind) if kind else None
        score = "" if pr is None else f"{kind} {_pct(pr[0])} / {_pct(pr[1])}"
        row = [f"{e['events']:,}", f"{100 * e['events'] / ev:.2f}", f"{100 * e['volume'] / vol:.2f}", score]
        t.add_row(rule, ",".join(sorted(e["actions"])) or "-", *row)
    return t


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


DEMO_FEATURES = (
    "spread_bps",
    "imb_l1",
    "wmid_dev_ticks",
    "ofi_l1",
    "mlofi_l5",
    "sweep_bps_buy_1000",
    "queue_rel_bid",
    "touch_age_bid_s",
    "rv_w100",
)


def feature_stats_table(run_dir: Path, columns: tuple[str, ...] = DEMO_FEATURES) -> Table:
    """Distribution of a few features over every partition of the run (nulls: warm-up rows)."""
    import polars as pl

    lf = pl.scan_parquet(str(run_dir / "features" / "features" / "**" / "*.parquet"), hive_partitioning=True)
    cols = [c for c in columns if c in lf.collect_schema().names()]
    t = Table(title="Features (all partitions; event clock, after filters)")
    for c in ("feature", "null %", "mean", "std", "p5", "median", "p95"):
        t.add_column(c, justify="left" if c == "feature" else "right", no_wrap=True)
    if not cols:
        return t
    schema = lf.collect_schema()
    aggs = []
    for c in cols:
        x = pl.col(c).fill_nan(None) if schema[c].is_float() else pl.col(c)  # NaN: warm-up rows too
        aggs += [
            x.len().alias(f"{c}|n"),
            x.null_count().alias(f"{c}|null"),
            x.mean().alias(f"{c}|mean"),
            x.std().alias(f"{c}|std"),
            x.quantile(0.05).alias(f"{c}|p5"),
            x.median().alias(f"{c}|p50"),
            x.quantile(0.95).alias(f"{c}|p95"),
        ]
    row = lf.select(aggs).collect().row(0, named=True)
    t.title = f"Features: {int(row[f'{cols[0]}|n']):,} rows (all partitions; event clock, after filters)"
    for c in cols:
        n = int(row[f"{c}|n"])
        t.add_row(
            c,
            f"{100 * row[f'{c}|null'] / max(n, 1):.1f}",
            *(_num(row[f"{c}|{k}"]) for k in ("mean", "std", "p5", "p50", "p95")),
        )
    return t


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"
