"""``orderflow run CONFIG`` and ``orderflow config validate|show|schema``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from orderflow.cli._common import Groups, console, print_json


def _stage_line(rep: Any) -> str:
    how = "[dim]cached[/]" if rep.cached else "[green]done[/]"
    extras = ", ".join(f"{k}={_short(v)}" for k, v in list(rep.summary.items())[:4])
    return f"  {rep.stage:<9} {how} in {rep.seconds:6.2f}s  {extras}"


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def headline_table(metrics: dict[str, Any]) -> Table:
    """The per-regime headline table printed at the end of a run and by ``make demo``."""
    from orderflow.pipeline.summary import HEADLINE_COLUMNS, headline_rows

    t = Table(title="Headline metrics (out of sample)", title_justify="left")
    for col in HEADLINE_COLUMNS:
        t.add_column(col, justify="right" if col != "scope" else "left")

    def f(v: Any, pct: bool = False) -> str:
        if v is None:
            return "–"
        if isinstance(v, str):
            return v
        return f"{100 * v:.1f}%" if pct else f"{v:.4g}"

    for row in headline_rows(metrics):
        t.add_row(*(f(v, pct=(j == 3)) for j, v in enumerate(row)))
    return t


def verdict_line(metrics: dict[str, Any], cfg: Any) -> str | None:
    """One sentence on the trading verdict when the decision rule never fired (an honest 'stay out')."""
    trades = metrics.get("decisions", {}).get("trades")
    if trades != 0:
        return None
    m = cfg.research_config().model
    return (
        f"verdict: stay out. No out-of-sample row's {m.decision_quantile:g} quantile of the executable return "
        f"(after spread, sweep and fees) cleared {m.decision_threshold_bps:g} bps on either side, so the "
        "quantile strategy did not trade; the costs exceed the predictable move at this horizon."
    )


def execute_run(
    config: Path | None,
    *,
    out: Path | None = None,
    executor: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    quiet: bool = False,
    as_json: bool = False,
    overrides: dict[str, Any] | None = None,
) -> Any:
    """Load a config, run the pipeline with progress bars, print the summary; returns the RunResult."""
    from orderflow.cli._common import progress
    from orderflow.pipeline.config import load_config
    from orderflow.pipeline.runner import Pipeline

    cfg = load_config(config, overrides=overrides)
    quiet = quiet or as_json
    with progress(quiet=quiet) as prog:
        tasks: dict[str, Any] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(stage, total=total)
            prog.update(tasks[stage], completed=done)

        def on_stage(rep: Any) -> None:
            if stage_task := tasks.pop(rep.stage, None):
                prog.remove_task(stage_task)
            if not quiet:
                console.print(_stage_line(rep), highlight=False)

        if not quiet:
            console.print(f"[bold]orderflow run[/] {config or '(defaults)'} -> {out or cfg.run.out}/")
        res = Pipeline(
            cfg,
            out=out,
            executor=executor,
            workers=workers,
            scheduler=scheduler,
            on_stage=on_stage,
            on_progress=on_progress,
        ).run()
    if as_json:
        print_json(
            {
                "run_id": res.run_id,
                "run_dir": str(res.run_dir),
                "report": str(res.report_path),
                "metrics": str(res.metrics_path),
                "stages": [
                    {"stage": r.stage, "cached": r.cached, "seconds": round(r.seconds, 3)} for r in res.stages
                ],
            }
        )
    elif not quiet:
        console.print(headline_table(res.metrics))
        if (line := verdict_line(res.metrics, cfg)) is not None:
            console.print(line, highlight=False)
        console.print(f"report:  {res.report_path}\nmetrics: {res.metrics_path}", highlight=False)
    return res


def register(app: typer.Typer, groups: Groups) -> None:
    @app.command("run")
    def run(
        config: Path = typer.Argument(
            ..., exists=False, help="Pipeline config (TOML), e.g. configs/demo.toml."
        ),
        out: Path | None = typer.Option(None, "--out", help="Output root (replaces runs/)."),
        executor: str | None = typer.Option(
            None, "--executor", help="local (process pool, default), dask or serial."
        ),
        workers: int | None = typer.Option(None, "--workers", help="Worker processes."),
        scheduler: str | None = typer.Option(
            None, "--scheduler", help="Dask scheduler tcp://HOST:PORT (default: a LocalCluster)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or tables."),
        as_json: bool = typer.Option(
            False, "--json", help="Print one JSON object (run id, paths, stage timings)."
        ),
    ) -> None:
        """Run the whole pipeline: ingest -> book -> filters -> features -> research -> backtest -> report.

        Each stage is cached under OUT/cache/<stage>/<key>; an unchanged stage is reused, a killed run resumes.

        Example: orderflow run configs/demo.toml --executor dask
        """
        execute_run(
            config,
            out=out,
            executor=executor,
            workers=workers,
            scheduler=scheduler,
            quiet=quiet,
            as_json=as_json,
        )

    @groups.config.command("validate")
    def validate_cmd(config: Path = typer.Argument(..., help="Pipeline config (TOML).")) -> None:
        """Check a config: unknown keys and bad values are reported with their key path.

        Example: orderflow config validate configs/demo.toml
        """
        from orderflow.pipeline.config import load_config

        load_config(config)
        console.print(f"[green]ok[/] {config}")

    @groups.config.command("show")
    def show_cmd(
        config: Path | None = typer.Argument(None, help="Pipeline config (TOML); none: the defaults."),
    ) -> None:
        """Print the resolved config with every default filled in (TOML).

        Example: orderflow config show configs/demo.toml
        """
        import tomli_w

        from orderflow.pipeline.config import load_config

        cfg = load_config(config)
        typer.echo(tomli_w.dumps(_strip_none(json.loads(cfg.model_dump_json()))))

    @groups.config.command("schema")
    def schema_cmd(
        out: Path | None = typer.Option(None, "--out", help="Write the JSON schema here instead of stdout."),
    ) -> None:
        """JSON schema of the pipeline config, for editors (e.g. VS Code 'Even Better TOML').

        Example: orderflow config schema --out orderflow.schema.json
        """
        from orderflow.core.io import atomic_write_text
        from orderflow.pipeline.config import config_json_schema

        text = json.dumps(config_json_schema(), indent=2)
        if out:
            atomic_write_text(out, text + "\n")
            console.print(f"wrote {out}")
        else:
            typer.echo(text)


def _strip_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_strip_none(v) for v in obj]
    return obj
