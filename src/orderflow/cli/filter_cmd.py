"""CLI commands of this group (filled in by the stage that owns them)."""

from __future__ import annotations

import typer

from orderflow.cli._common import Groups


def register(app: typer.Typer, groups: Groups) -> None:
    """Add this module's commands to ``app`` and ``groups``."""
