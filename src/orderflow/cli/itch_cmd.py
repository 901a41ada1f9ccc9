"""``orderflow ingest itch``: NASDAQ TotalView-ITCH 5.0 binary day files -> canonical dataset."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from orderflow.cli._common import Groups, console, print_json, progress

INGEST_HELP = """Convert a NASDAQ TotalView-ITCH 5.0 binary file into a canonical dataset, one partition per stock.

Parses every message type of the ITCH 5.0 spec (2-byte length framing, as NASDAQ's public day
files), rebuilds an order-level book per stock and writes book_deltas (price levels, with the
order id), trades (E, printable C, hidden P, cross Q), status (H trading actions, S system events)
and qc (broken trades, unknown order references, bad lengths, unknown types, truncation) under
OUT/<table>/instrument=SYMBOL/date=DATE/, plus instruments.json and a meta file per stock.
--snapshots N also writes book_snapshots with the top N levels after every event.
The file is streamed in blocks; --symbols keeps only those stocks, so a full day need not fit in
memory. The date comes from a file name like 01302019.NASDAQ_ITCH50 unless --date is given.
A truncated last message is reported (byte offset), not an error, unless --strict.

Example:

  orderflow ingest itch 01302019.NASDAQ_ITCH50 --out data/ --symbols AAPL,MSFT --json
"""


def register(app: typer.Typer, groups: Groups) -> None:
    """Add ``ingest itch``."""

    @groups.ingest.command("itch", help=INGEST_HELP)
    def ingest_itch_cmd(
        file: Path = typer.Argument(..., help="Uncompressed ITCH 5.0 file (e.g. 01302019.NASDAQ_ITCH50)."),
        out: Path = typer.Option(..., "--out", "-o", help="Dataset directory (created if missing)."),
        symbols: str | None = typer.Option(
            None, "--symbols", help="Comma-separated stocks to keep, e.g. AAPL,MSFT (default: all)."
        ),
        date: str | None = typer.Option(
            None, "--date", help="Trading date YYYY-MM-DD (default: from the file name MMDDYYYY.*)."
        ),
        snapshots: int = typer.Option(
            0, "--snapshots", min=0, help="Also write book_snapshots with this many levels (0: none)."
        ),
        chunk_mib: int = typer.Option(64, "--chunk-mib", min=1, help="Read block size in MiB."),
        strict: bool = typer.Option(
            False, "--strict", help="Fail on a bad length, unknown type or truncated file."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        from orderflow.ingest.itch import ingest_itch

        wanted = [s.strip() for s in symbols.split(",") if s.strip()] if symbols else None
        size = file.stat().st_size if file.exists() else 0
        t0 = time.perf_counter()
        with progress(quiet or as_json) as bar:
            task = bar.add_task(f"itch {file.name}", total=size)
            res = ingest_itch(
                file,
                out,
                date=date,
                symbols=wanted,
                chunk_bytes=chunk_mib << 20,
                strict=strict,
                snapshots=snapshots,
                on_progress=lambda done: bar.update(task, completed=done),
            )
        elapsed = time.perf_counter() - t0
        st = res.stats
        per_symbol = {
            sym: {
                "book_deltas": res.deltas[sym].height,
                "trades": res.trades[sym].height,
                "status": res.status[sym].height,
                "qc": res.qc[sym].height,
            }
            for sym in res.instruments
        }
        summary = {
            "file": str(file),
            "date": res.date.isoformat(),
            "bytes": st["bytes"],
            "messages": st["messages"],
            "messages_by_type": st["messages_by_type"],
            "kept_messages": st["kept_messages"],
            "unknown_types": st["unknown_types"],
            "bad_lengths": st["bad_lengths"],
            "truncated_at": st["truncated_at"],
            "truncated_bytes": st["truncated_bytes"],
            "symbols": len(res.instruments),
            "unknown_order_refs": st["unknown_order_refs"],
            "out": str(out),
            "seconds": round(elapsed, 3),
            "messages_per_s": round(st["messages"] / elapsed) if elapsed > 0 else None,
            "per_symbol": per_symbol,
        }
        if as_json:
            print_json(summary)
            return
        table = Table(title=f"ITCH 5.0 {file.name} ({res.date})", show_header=True)
        table.add_column("type")
        table.add_column("messages", justify="right")
        for t, n in st["messages_by_type"].items():
            table.add_row(t, f"{n:,}")
        console.print(table)
        rows = sum(v["book_deltas"] for v in per_symbol.values())
        trades = sum(v["trades"] for v in per_symbol.values())
        console.print(
            f"{st['messages']:,} messages ({st['kept_messages']:,} kept) -> {len(per_symbol)} symbols, "
            f"{rows:,} deltas, {trades:,} trades -> {out} ({elapsed:.2f} s)",
            highlight=False,
        )
        if st["unknown_types"] or st["bad_lengths"]:
            console.print(
                f"[yellow]quarantined[/]: unknown types {st['unknown_types']}, bad lengths {st['bad_lengths']}",
                highlight=False,
            )
        if st["truncated_at"] is not None:
            console.print(
                f"[yellow]truncated[/]: last whole message ends at byte {st['truncated_at']:,} "
                f"({st['truncated_bytes']} trailing bytes ignored)",
                highlight=False,
            )
