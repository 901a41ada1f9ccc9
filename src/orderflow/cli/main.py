"""``orderflow`` command: one sub-command per question a user asks.

Each command group lives in its own module with a ``register(app, groups)`` function.
"""

from __future__ import annotations

import os
import sys

import typer

from orderflow import __version__
from orderflow.cli import (
    backtest_cmd,
    book_cmd,
    crypto_cmd,
    dbn_cmd,
    demo_cmd,
    features_cmd,
    filter_cmd,
    itch_cmd,
    lobster_cmd,
    research_cmd,
    run_cmd,
    simulate_cmd,
)
from orderflow.cli._common import Groups, console
from orderflow.core.errors import OrderflowError
from orderflow.core.runtime import tune_allocator

HELP = """orderflow: market-microstructure order-flow research, from raw venue data to a per-regime,
cost-aware verdict.

Typical use:

  orderflow demo                                   # simulated market, whole pipeline
  orderflow ingest lobster MSG.csv BOOK.csv --out data/
  orderflow verify lobster MSG.csv BOOK.csv --json
  orderflow run configs/demo.toml
"""

app = typer.Typer(
    name="orderflow",
    help=HELP,
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)
groups = Groups(
    ingest=typer.Typer(
        help="Convert venue files into a canonical dataset (Parquet, instrument/date partitions).",
        no_args_is_help=True,
    ),
    verify=typer.Typer(
        help="Replay venue data and check the reconstructed book against the venue's own truth.",
        no_args_is_help=True,
    ),
    bench=typer.Typer(
        help="Reproducible benchmarks on this machine (events/s, peak memory).", no_args_is_help=True
    ),
    study=typer.Typer(help="Classic microstructure studies on a canonical dataset.", no_args_is_help=True),
    config=typer.Typer(help="Validate, show and export the pipeline configuration.", no_args_is_help=True),
)
app.add_typer(groups.ingest, name="ingest")
app.add_typer(groups.verify, name="verify")
app.add_typer(groups.bench, name="bench")
app.add_typer(groups.study, name="study")
app.add_typer(groups.config, name="config")

for _mod in (
    lobster_cmd,
    book_cmd,
    simulate_cmd,
    dbn_cmd,
    crypto_cmd,
    itch_cmd,
    filter_cmd,
    features_cmd,
    research_cmd,
    backtest_cmd,
    run_cmd,
    demo_cmd,
):
    _mod.register(app, groups)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"orderflow {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors."),
) -> None:
    if debug:
        os.environ["ORDERFLOW_DEBUG"] = "1"


def main() -> None:
    """Entry point: user mistakes become one line on stderr and exit code 2 (no traceback unless --debug)."""
    debug = "--debug" in sys.argv or os.environ.get("ORDERFLOW_DEBUG") == "1"
    tune_allocator()
    try:
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc:  # typer.Exit(n) inside a command returns n in non-standalone mode
            sys.exit(rc)
    except OrderflowError as e:
        if debug:
            raise
        console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)
    except Exception as e:  # click usage errors
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, FileNotFoundError) and not debug:
            console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
            sys.exit(2)
        raise


if __name__ == "__main__":  # pragma: no cover
    main()
