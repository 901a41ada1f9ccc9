"""Shared CLI helpers: the console, JSON output, progress bars, and turning errors into one line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)
"""Human-facing output (tables, progress, summaries) goes to stderr; machine output (JSON) to stdout."""


@dataclass
class Groups:
    """Sub-command groups every CLI module may add commands to."""

    ingest: typer.Typer
    verify: typer.Typer
    bench: typer.Typer
    study: typer.Typer
    config: typer.Typer


def print_json(obj: Any) -> None:
    """Print one JSON object to stdout (machine-readable output)."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


@contextmanager
def progress(quiet: bool = False) -> Iterator[Progress]:
    """A rich progress bar on stderr (disabled with ``quiet`` or when stderr is not a terminal)."""
    p = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=True,
    )
    with p:
        yield p


def fail(message: str, code: int = 2) -> None:
    """Print one error line and exit non-zero."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


__all__ = ["Groups", "console", "fail", "print_json", "progress"]
