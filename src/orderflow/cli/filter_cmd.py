"""``orderflow filter``: run the filtration rules over a canonical dataset and write the QC table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from orderflow.cli._common import Groups, console, print_json, progress

FILTER_HELP = """Flag artifacts and low-information events in every (instrument, date) partition.

Reads book_deltas, trades (and status when present) and book_snapshots (reconstructed with the L2
engine at --depth levels when the dataset has none), runs the filter rules and writes the QC table
(one row per flagged event: seq, ts_event, table, rule, reason, action, detail) to
OUT/qc/instrument=X/date=D/. Nothing is deleted: downstream stages decide from the QC actions
(drop | downweight | mark). QC rows written by ingest (rules that are not filter rules) are kept.

Rules: stale_quote, crossed_book, locked_book, message_storm, flicker, quote_stuffing, duplicate,
low_info, session. Thresholds and actions come from --config (TOML, one table per rule, optionally
under [filters]); --disable switches rules off for an ablation run.

Prints, per instrument and day, the events and traded volume flagged per rule and action.

Example:

  orderflow filter data/ --config filters.toml --disable session --disable low_info --json
"""


def _select(ds: Any, instrument: str | None, date: str | None) -> list[tuple[str, str]]:
    from orderflow.core.errors import ArtifactError

    parts = [
        (i, d)
        for i, d in ds.partitions("book_deltas")
        if (instrument is None or i == instrument) and (date is None or d == date)
    ]
    if not parts:
        raise ArtifactError(
            f"{ds.root}: no book_deltas partitions"
            + (f" for {instrument or '*'}/{date or '*'}" if instrument or date else "")
        )
    return parts


def filter_partition(
    src: Any, dst: Any, instrument: str, date: str, cfg: Any, depth: int = 10
) -> dict[str, Any]:
    """Filter one partition of ``src`` into ``dst`` (table ``qc``); return the report with timings."""
    import polars as pl

    from orderflow.book.engine import reconstruct
    from orderflow.core.schema import TRADES
    from orderflow.filters import RULES, apply_filters
    from orderflow.filters.stream import apply_filters_stream, dataset_batches

    t0 = time.perf_counter()
    status = src.read("status", instrument, date) if src.has("status", instrument, date) else None
    inst = src.instrument(instrument)
    reconstructed = not src.has("book_snapshots", instrument, date)
    if reconstructed:  # the book is rebuilt in memory: the partition is filtered whole
        deltas = src.read("book_deltas", instrument, date, rechunk=True)
        has_trades = src.has("trades", instrument, date)
        trades = src.read("trades", instrument, date, rechunk=True) if has_trades else TRADES.empty()
        snaps = reconstruct(deltas, depth=depth)
        t1 = time.perf_counter()
        res = apply_filters(snaps, deltas, trades, instrument=inst, config=cfg, status=status)
    else:  # streamed in chunks: memory holds a chunk of the day, not the day
        t1 = time.perf_counter()
        batches = dataset_batches(src, instrument, date)
        res = apply_filters_stream(batches, instrument=inst, config=cfg, status=status)
    t2 = time.perf_counter()
    qc = res.qc
    if dst.has("qc", instrument, date):  # keep ingest-time rows; replace this stage's rows
        old = dst.read("qc", instrument, date)
        ours = {*RULES, *(p.rule for p in cfg.plugins), *qc["rule"].unique().to_list()}
        keep = old.filter(~pl.col("rule").is_in(sorted(ours)))
        if keep.height:
            qc = pl.concat([keep, qc]).sort("seq", maintain_order=True)
    dst.write("qc", qc, instrument, date)
    return {
        "instrument": instrument,
        "date": date,
        "snapshots": "reconstructed" if reconstructed else "dataset",
        "qc_rows": qc.height,
        "read_seconds": round(t1 - t0, 3),
        "filter_seconds": round(t2 - t1, 4),  # streamed: includes reading the partition
        "report": res.report,
    }


def _summary_table(results: list[dict[str, Any]], out: Path) -> Table:
    t = Table(title=f"filters -> {out / 'qc'}")
    for c in ("instrument", "date", "rule", "action", "events", "% events", "volume", "% volume"):
        t.add_column(c, justify="right" if c.startswith(("%", "events", "volume")) else "left")
    for r in results:
        rep = r["report"]
        ev, vol = max(rep["events"], 1), max(rep["volume"], 1)
        for rule, entry in rep["rules"].items():
            actions = entry["by_action"] or {"-": {"events": 0, "volume": 0}}
            for action, a in actions.items():
                t.add_row(
                    r["instrument"],
                    r["date"],
                    rule,
                    action,
                    str(a["events"]),
                    f"{100 * a['events'] / ev:.3f}",
                    str(a["volume"]),
                    f"{100 * a['volume'] / vol:.3f}",
                )
        t.add_row(
            r["instrument"],
            r["date"],
            "[bold]any[/]",
            "",
            str(rep["flagged_events"]),
            f"{100 * rep['flagged_events'] / ev:.3f}",
            str(rep["flagged_volume"]),
            f"{100 * rep['flagged_volume'] / vol:.3f}",
            end_section=True,
        )
    return t


def register(app: typer.Typer, groups: Groups) -> None:
    """Add the ``filter`` command."""

    @app.command("filter", help=FILTER_HELP)
    def filter_cmd(
        dataset_dir: Path = typer.Argument(
            ..., help="Canonical dataset directory (written by orderflow ingest)."
        ),
        config: Path | None = typer.Option(
            None, "--config", "-c", help="TOML file with one table per rule (optionally under [filters])."
        ),
        disable: list[str] | None = typer.Option(
            None, "--disable", "-x", help="Switch a rule off (repeatable, or comma-separated)."
        ),
        out: Path | None = typer.Option(
            None, "--out", "-o", help="Output dataset directory (default: DATASET_DIR)."
        ),
        depth: int = typer.Option(10, "--depth", help="Levels when snapshots must be reconstructed."),
        instrument: str | None = typer.Option(None, "--instrument", help="Only this instrument."),
        date: str | None = typer.Option(None, "--date", help="Only this date (YYYY-MM-DD)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
        as_json: bool = typer.Option(False, "--json", help="Print the reports as JSON on stdout."),
    ) -> None:
        from orderflow.core.io import Dataset
        from orderflow.filters import FilterConfig

        cfg = FilterConfig.from_toml(config) if config else FilterConfig()
        names = [n.strip() for d in (disable or []) for n in d.split(",") if n.strip()]
        if names:
            cfg = cfg.disable(*names)
        src = Dataset(dataset_dir)
        dst = Dataset(out) if out else src
        parts = _select(src, instrument, date)
        results: list[dict[str, Any]] = []
        with progress(quiet) as bar:
            task = bar.add_task("filters", total=len(parts))
            for inst, day in parts:
                if dst.root != src.root:
                    dst.add_instrument(src.instrument(inst))
                results.append(filter_partition(src, dst, inst, day, cfg, depth=depth))
                bar.advance(task)
        if as_json:
            print_json(
                {
                    "out": str(dst.root / "qc"),
                    "enabled": cfg.enabled_rules(),
                    "partitions": results,
                }
            )
            return
        console.print(_summary_table(results, dst.root))


__all__ = ["FILTER_HELP", "filter_partition", "register"]
