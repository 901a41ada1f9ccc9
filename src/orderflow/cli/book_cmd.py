"""``orderflow book`` (rebuild top-N book snapshots) and ``orderflow bench book``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.progress import TaskID

from orderflow.cli._common import Groups, console, print_json, progress

BOOK_HELP = """Rebuild the price-level book of a dataset and write top-N snapshots.

Reads book_deltas (plus trades for the volume and trade clocks) chunk
by chunk, replays them through the L2 engine and writes BOOK_SNAPSHOTS
(DBN mbp-N columns bid_px_00 .. ask_sz_NN) into the same dataset or
into --out. Memory is bounded by --chunk-rows, not by the day's length.

Snapshots are taken only at event boundaries (rows flagged LAST):

  --clock event       after every event (default)
  --clock events:K    after every K-th event
  --clock time:1s     on the 1 s grid (also 250ms, 10us, ...): the book
                      after the last event at or before each grid time
  --clock volume:V    after the event completing each V traded units
  --clock trade       after every event that traded

Reductions larger than a level are clamped to 0 and counted, as are
reductions of missing levels and crossed events (see the summary).
LOBSTER ingestion stores the vendor's own book in book_snapshots: write
to --out DIR (or --table book_snapshots_N, N = depth) to keep it.

Example:

  orderflow book data/ -i AMZN -d 2012-06-21 --clock time:1s --out data_1s/
"""

BENCH_HELP = """Time the L2 engine on a reproducible synthetic stream.

Generates N events (mostly ADD/REDUCE near the touch, some EXECUTE sweeps,
level creation and deletion, prices drifting) in chunks and times only the
engine, after a JIT warm-up, with a snapshot on every event. Each chunk's
snapshots are consumed and dropped, so memory stays bounded for any N.

Example:

  orderflow bench book --events 5000000 --levels 50 --json
  orderflow bench book --events 50000000 --levels 50 --bbo-only
"""


def register(app: typer.Typer, groups: Groups) -> None:
    """Add ``book`` and ``bench book``."""

    @app.command("book", help=BOOK_HELP)
    def book_cmd(
        dataset_dir: Path = typer.Argument(..., help="Canonical dataset directory holding book_deltas."),
        instrument: str | None = typer.Option(None, "--instrument", "-i", help="Only this instrument."),
        date: str | None = typer.Option(None, "--date", "-d", help="Only this date (YYYY-MM-DD)."),
        depth: int = typer.Option(10, "--depth", min=1, help="Levels per side in each snapshot."),
        clock: str = typer.Option("event", "--clock", help="event | events:K | time:1s | volume:V | trade"),
        out: Path | None = typer.Option(None, "--out", "-o", help="Write into this dataset instead."),
        table: str = typer.Option("book_snapshots", "--table", help="Name of the output table."),
        chunk_rows: int = typer.Option(2_000_000, "--chunk-rows", min=1, help="Deltas read per chunk."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        from orderflow.book import ClockSpec, reconstruct_dataset
        from orderflow.core.errors import ArtifactError
        from orderflow.core.io import Dataset

        spec = ClockSpec.parse(clock)
        ds = Dataset(dataset_dir)
        parts = [
            (i, d)
            for i, d in ds.partitions("book_deltas")
            if (instrument is None or i == instrument) and (date is None or d == date)
        ]
        if not parts:
            what = f" for {instrument or '*'} {date or '*'}" if instrument or date else ""
            raise ArtifactError(f"{dataset_dir}: no book_deltas partitions{what}")
        target = Dataset(out) if out is not None else ds
        if out is not None and ds.instruments():
            for meta in ds.instruments().values():
                target.add_instrument(meta)
        t0 = time.perf_counter()
        results: list[dict[str, Any]] = []
        totals: dict[str, int] = {}
        with progress(quiet=quiet or as_json) as bar:
            for inst, day in parts:
                task = bar.add_task(f"{inst} {day}", total=None)

                def tick(done: int, total: int, task: TaskID = task) -> None:
                    bar.update(task, completed=done, total=total)

                st = reconstruct_dataset(
                    ds,
                    inst,
                    day,
                    depth=depth,
                    clock=spec,
                    chunk_rows=chunk_rows,
                    table=table,
                    out=target,
                    on_progress=tick,
                )
                bar.remove_task(task)
                counts = st.as_dict()
                results.append({"instrument": inst, "date": day, **counts})
                for k, v in counts.items():
                    totals[k] = totals.get(k, 0) + v
        elapsed = time.perf_counter() - t0
        tot = totals
        summary = {
            "partitions": len(results),
            "clock": str(spec),
            "depth": depth,
            "table": table,
            "out": str(out or dataset_dir),
            "seconds": round(elapsed, 3),
            **tot,
            "per_partition": results,
        }
        if as_json:
            print_json(summary)
        else:
            console.print(
                f"{len(results)} partition(s): {tot['events']:,} events -> {tot['snapshots']:,} snapshots "
                f"(clock {spec}, depth {depth}) in {table}; {tot['negative_clamps']:,} clamped and "
                f"{tot['missing_level_reductions']:,} missing-level reductions, {tot['crossed_events']:,} crossed "
                f"events ({elapsed:.2f} s)",
                highlight=False,
            )

    @groups.bench.command("book", help=BENCH_HELP)
    def bench_book_cmd(
        events: int = typer.Option(
            5_000_000, "--events", "-n", min=1, help="Events to generate and process."
        ),
        levels: int = typer.Option(50, "--levels", "-k", min=1, help="Target levels per side."),
        depth: int = typer.Option(10, "--depth", min=1, help="Snapshot depth (ignored with --bbo-only)."),
        bbo_only: bool = typer.Option(False, "--bbo-only", help="Best bid/ask snapshots only (depth 1)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the synthetic stream."),
        chunk_events: int = typer.Option(
            1 << 20, "--chunk-events", min=1, help="Events generated per chunk."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
    ) -> None:
        from orderflow.book.engine import run_benchmark

        res = run_benchmark(
            events, levels, depth=depth, bbo_only=bbo_only, seed=seed, chunk_events=chunk_events
        )
        if as_json:
            print_json(res)
        else:
            console.print(
                f"events {res['events']:,}  levels {res['levels']}  depth {res['depth']}  "
                f"seconds {res['seconds']:.3f}  events_per_s {res['events_per_s']:.3e}  "
                f"peak_rss_bytes {res['peak_rss_bytes']:,} ({res['peak_rss_bytes'] / 2**30:.2f} GiB)",
                highlight=False,
            )
