"""``orderflow ingest lobster`` and ``orderflow verify lobster``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer
from rich.table import Table

from orderflow.cli._common import Groups, console, print_json

INGEST_HELP = """Convert a LOBSTER message + orderbook CSV pair into a canonical dataset.

Writes book_deltas, trades, status, book_snapshots (the vendor's book rows) and qc tables under
OUT/<table>/instrument=TICKER/date=DATE/, plus instruments.json and a meta file with the source
paths, sha256 digests and row counts. Ticker and date come from the vendor file name unless given.
Times are New York local seconds after midnight, stored as exact UTC nanoseconds.

Example:

  orderflow ingest lobster AMZN_2012-06-21_34200000_57600000_message_1.csv \\
      AMZN_2012-06-21_34200000_57600000_orderbook_1.csv --out data/ --json
"""

VERIFY_HELP = """Replay every LOBSTER message onto the previous book row and compare with the next row.

Counts reveals (a message empties a level of a side that showed all L levels, so an unseen deeper
level comes into view), push-outs, crossed rows and halts, and reports every row where a level the
stream determines differs from the book file. Exit code 0 when there is no mismatch, 1 otherwise.

Example:

  orderflow verify lobster AMZN_2012-06-21_34200000_57600000_message_1.csv \\
      AMZN_2012-06-21_34200000_57600000_orderbook_1.csv --json
"""


def register(app: typer.Typer, groups: Groups) -> None:
    """Add ``ingest lobster`` and ``verify lobster``."""

    @groups.ingest.command("lobster", help=INGEST_HELP)
    def ingest_lobster_cmd(
        message_csv: Path = typer.Argument(
            ..., help="LOBSTER message file (TICKER_DATE_start_end_message_L.csv)."
        ),
        orderbook_csv: Path = typer.Argument(..., help="Matching orderbook file (…_orderbook_L.csv)."),
        out: Path = typer.Option(..., "--out", "-o", help="Dataset directory (created if missing)."),
        ticker: str | None = typer.Option(None, "--ticker", help="Ticker (default: from the file name)."),
        date: str | None = typer.Option(
            None, "--date", help="Trading date YYYY-MM-DD (default: from the file name)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    ) -> None:
        from orderflow.ingest.lobster import ingest_lobster

        t0 = time.perf_counter()
        day = ingest_lobster(message_csv, orderbook_csv, out, ticker=ticker, date=date)
        elapsed = time.perf_counter() - t0
        summary = {
            "instrument": day.instrument.symbol,
            "date": day.date.isoformat(),
            "levels": day.levels,
            "rows": day.snapshots.height,
            "book_deltas": day.deltas.height,
            "trades": day.trades.height,
            "status": day.status.height,
            "qc": day.qc.height,
            "out": str(out),
            "seconds": round(elapsed, 3),
        }
        if as_json:
            print_json(summary)
        else:
            console.print(
                f"{summary['instrument']} {summary['date']} L{day.levels}: {summary['rows']:,} messages -> "
                f"{summary['book_deltas']:,} deltas, {summary['trades']:,} trades, {summary['status']} status, "
                f"{summary['qc']:,} qc rows -> {out} ({elapsed:.2f} s)",
                highlight=False,
            )

    @groups.verify.command("lobster", help=VERIFY_HELP)
    def verify_lobster_cmd(
        message_csv: Path = typer.Argument(..., help="LOBSTER message file."),
        orderbook_csv: Path = typer.Argument(..., help="Matching orderbook file."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object on stdout."),
    ) -> None:
        from orderflow.ingest.lobster_verify import verify_lobster

        res = verify_lobster(message_csv, orderbook_csv)
        if as_json:
            print_json(res)
        else:
            table = Table(title=f"LOBSTER replay check: {Path(message_csv).name}", show_header=True)
            table.add_column("check")
            table.add_column("value", justify="right")
            for key in (
                "rows",
                "levels",
                "rows_checked",
                "reveals",
                "pushouts",
                "out_of_view",
                "crossed_rows",
                "locked_rows",
                "halts",
                "quarantined",
                "mismatches",
            ):
                table.add_row(key, f"{res[key]:,}")
            for name, count in res["events"].items():
                if count:
                    table.add_row(f"events: {name}", f"{count:,}")
            console.print(table)
            fm = res["first_mismatch"]
            if fm is not None:
                console.print(
                    f"[red]first mismatch at row {fm['row']}[/]: message {fm['message']}", highlight=False
                )
                console.print(f"  expected {fm['expected']}", highlight=False)
                console.print(f"  got      {fm['got']}", highlight=False)
            else:
                console.print("[green]OK[/]: every level the message stream determines matches the book file")
        if not res["ok"]:
            # sys.exit, not typer.Exit: main() runs click with standalone_mode=False, which turns
            # typer.Exit into a return value that main() does not pass on as the exit status
            sys.exit(1)
