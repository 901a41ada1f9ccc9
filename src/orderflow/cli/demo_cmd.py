"""``orderflow demo``: the whole pipeline on the built-in simulator (what ``make demo`` runs)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer

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
        execute_run(cfg, out=out, executor=executor, quiet=quiet)
