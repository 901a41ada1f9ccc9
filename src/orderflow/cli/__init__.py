"""Command-line interface (typer). No logic here beyond parsing arguments and printing results."""
