"""``orderflow ingest dbn`` and ``orderflow verify dbn``."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from orderflow.cli._common import Groups, console, print_json

INGEST_HELP = """Convert a Databento DBN file (.dbn or .dbn.zst; mbo, mbp-1, mbp-10, tbbo, trades,
definition; other record types are counted and skipped) into a canonical dataset.

Writes book_deltas, trades, qc (and book_snapshots for mbp schemas) under
OUT/<table>/instrument=SYMBOL/date=YYYY-MM-DD/ (one partition per instrument and UTC date), plus
instruments.json and a meta file with the source path, sha256 digest, DBN metadata and counts.
MBO is replayed through the order-level book; symbols and tick sizes come from the file's
symbology and definitions (or --definitions FILE).

Example:

  orderflow ingest dbn esh4-glbx-mdp3-20231225.mbo.dbn.zst --out data/ --json
"""

VERIFY_HELP = """Decode and replay a DBN file and report its health as JSON or a table.

Reports records, unknown_order_refs (cancel/modify for orders never added), crossed_events (event
ends with best bid >= best ask), crossed_after_open (those after the session's first trade: a
pre-open auction book may cross, a continuous book must not), final_bbo per instrument id, record
counts by action and flag, QC counts and truncation. Exit code 0 when there are no unknown order
refs, no crossing after the open and the file is whole; 1 otherwise.

Example:

  orderflow verify dbn esh4-glbx-mdp3-20231225.mbo.dbn.zst --json
"""


def _reflow(text: str) -> str:
    """Join the wrapped lines of each paragraph (rich re-wraps them); keep indented example lines."""
    return re.sub(r"(?<=\S)\n(?=[^\s])", " ", text)


def register(app: typer.Typer, groups: Groups) -> None:
    """Add ``ingest dbn`` and ``verify dbn``."""

    @groups.ingest.command("dbn", help=_reflow(INGEST_HELP))
    def ingest_dbn_cmd(
        file: Path = typer.Argument(..., help="DBN file (.dbn or .dbn.zst)."),
        out: Path = typer.Option(..., "--out", "-o", help="Dataset directory (created if missing)."),
        definitions: Path | None = typer.Option(
            None, "--definitions", help="A DBN definition file giving tick sizes and symbols."
        ),
        instrument: str | None = typer.Option(
            None, "--instrument", help="Keep only this symbol (or instrument id)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    ) -> None:
        import warnings

        from orderflow.ingest.dbn import DbnTruncationWarning, ingest_dbn

        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DbnTruncationWarning)  # printed below / in the JSON instead
            res = ingest_dbn(file, out, instrument=instrument, definitions=definitions)
        elapsed = time.perf_counter() - t0
        summary: dict[str, Any] = {
            "file": str(file),
            "schema": res.stats.schema,
            "version": res.stats.version,
            "records": res.stats.records,
            "by_rtype": res.stats.by_rtype,
            "skipped": res.stats.skipped,
            "unknown_rtypes": {str(k): v for k, v in res.stats.unknown_rtypes.items()},
            "truncated_at": res.stats.truncated_at,
            "partitions": [
                {
                    "instrument": p.instrument,
                    "instrument_id": p.instrument_id,
                    "date": p.date.isoformat(),
                    "source": p.source,
                    "book_deltas": p.book_deltas.height,
                    "trades": p.trades.height,
                    "book_snapshots": p.book_snapshots.height if p.book_snapshots is not None else 0,
                    "qc": p.qc.height,
                }
                for p in res.partitions
            ],
            "instruments": {k: v.model_dump() for k, v in res.instruments.items()},
            "warnings": res.warnings,
            "out": str(out),
            "seconds": round(elapsed, 3),
        }
        if as_json:
            print_json(summary)
            return
        table = Table(
            title=f"{file.name}: {res.stats.records:,} records ({res.stats.schema}, DBN v{res.stats.version})"
        )
        for col in ("instrument", "date", "source", "book_deltas", "trades", "snapshots", "qc"):
            table.add_column(col, justify="right" if col not in ("instrument", "date", "source") else "left")
        for p in summary["partitions"]:
            table.add_row(
                p["instrument"],
                p["date"],
                p["source"],
                f"{p['book_deltas']:,}",
                f"{p['trades']:,}",
                f"{p['book_snapshots']:,}",
                f"{p['qc']:,}",
            )
        console.print(table)
        for w in res.warnings:
            console.print(f"[yellow]warning:[/] {w}", highlight=False)
        console.print(f"-> {out} ({elapsed:.2f} s)", highlight=False)

    @groups.verify.command("dbn", help=_reflow(VERIFY_HELP))
    def verify_dbn_cmd(
        file: Path = typer.Argument(..., help="DBN file (.dbn or .dbn.zst)."),
        definitions: Path | None = typer.Option(
            None, "--definitions", help="A DBN definition file giving tick sizes and symbols."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
    ) -> None:
        import warnings

        from orderflow.ingest.dbn import DbnTruncationWarning, verify_dbn

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DbnTruncationWarning)  # reported in the output instead
            rep = verify_dbn(file, definitions=definitions)
        if as_json:
            print_json(rep)
        else:
            t = Table(title=f"verify dbn {file.name}")
            t.add_column("check")
            t.add_column("value", justify="right")
            for key in ("schema", "records", "unknown_order_refs", "crossed_events", "crossed_after_open"):
                t.add_row(key, str(rep[key]))
            for iid, b in rep["final_bbo"].items():
                t.add_row(
                    f"final bbo {b.get('symbol', iid)}",
                    f"{b.get('bid_sz', 0)} @ {b.get('bid_px')} / {b.get('ask_sz', 0)} @ {b.get('ask_px')}",
                )
            t.add_row("actions", ", ".join(f"{k}={v:,}" for k, v in sorted(rep["actions"].items())))
            t.add_row("flags", ", ".join(f"{k}={v:,}" for k, v in rep["flags"].items() if v))
            t.add_row("qc", ", ".join(f"{k}={v:,}" for k, v in rep["qc"].items()) or "-")
            console.print(t)
            for w in rep["warnings"]:
                console.print(f"[yellow]warning:[/] {w}", highlight=False)
            console.print("[green]OK[/]" if rep["ok"] else "[red]NOT OK[/]")
        if not rep["ok"]:
            raise typer.Exit(1)
