"""``orderflow simulate`` (write a simulated canonical dataset) and ``orderflow bench simulate``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from orderflow.cli._common import Groups, console, print_json, progress

SIMULATE_HELP = """Simulate a market and write it as a canonical dataset (needs no data).

A regime-switching queue-reactive limit order book (calm/liquid and
volatile/thin regimes) for several instruments and business days. Writes
book_deltas (MBP-style SET updates), trades, and the ground truth
sim_regimes (hidden regime changes) and sim_artifacts (every injected
stale quote, crossed/locked glitch, burst and duplicate message), plus
instruments.json and one meta file per partition. Sessions run
09:30-16:00 America/New_York; timestamps are ns UTC. The same seed gives
byte-identical partitions whatever else is requested.

Instruments are SIM0, SIM1, ... (SIM0: 0.01 tick near 100; SIM1: 0.05
tick; SIM2: futures-like 0.25 tick; SIM3: low-priced, deep).

--config reads SimConfig fields from TOML (\\[data.simulator] of a pipeline
config, a \\[simulator] table, or top-level keys); flags override it.

Example:

  orderflow simulate --out data/sim --instruments 3 --days 3 --events-per-day 200000
  orderflow simulate --out data/sim --config configs/demo.toml --seed 11 --json
"""

BENCH_HELP = """Time the simulator: one SIM0 day of N events, chunked, after a JIT warm-up.

Every chunk's tables are built and validated, then dropped, so memory
stays bounded for any N. Prints events, seconds, events_per_s and the
peak RSS of the process.

Example:

  orderflow bench simulate --events 5000000 --json
"""


def register(app: typer.Typer, groups: Groups) -> None:
    """Add ``simulate`` and ``bench simulate``."""

    @app.command("simulate", help=SIMULATE_HELP)
    def simulate_cmd(
        out: Path = typer.Option(..., "--out", "-o", help="Dataset directory to write (created if missing)."),
        instruments: int | None = typer.Option(
            None, "--instruments", min=1, help="Instruments SIM0..SIM{n-1}."
        ),
        days: int | None = typer.Option(None, "--days", min=1, help="Business days from the start date."),
        events_per_day: int | None = typer.Option(
            None, "--events-per-day", min=1, help="Expected (and maximal) genuine events per day."
        ),
        seed: int | None = typer.Option(None, "--seed", help="Random seed."),
        start_date: str | None = typer.Option(None, "--start-date", help="First date YYYY-MM-DD."),
        config: Path | None = typer.Option(None, "--config", "-c", help="TOML file with SimConfig fields."),
        clean: bool = typer.Option(False, "--clean", help="Inject no artifacts."),
        chunk_events: int = typer.Option(
            1_000_000, "--chunk-events", min=1, help="Events generated per chunk."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        from orderflow.ingest.simulator import (
            ArtifactConfig,
            load_sim_config,
            sim_config_from_dict,
            simulate,
        )

        overrides: dict[str, Any] = {}
        if instruments is not None:
            overrides["instruments"] = [f"SIM{k}" for k in range(instruments)]
        if days is not None:
            overrides["days"] = days
        if events_per_day is not None:
            overrides["events_per_day"] = events_per_day
        if seed is not None:
            overrides["seed"] = seed
        if start_date is not None:
            overrides["start_date"] = start_date
        if clean:
            overrides["artifacts"] = ArtifactConfig.clean().model_dump()
        cfg = (
            load_sim_config(config, **overrides)
            if config is not None
            else sim_config_from_dict(overrides, where="option ")
        )
        t0 = time.perf_counter()
        per_part: dict[tuple[str, str], int] = {}
        with progress(quiet=quiet or as_json) as bar:
            tasks: dict[tuple[str, str], Any] = {}

            def tick(inst: str, day: str, done: int, total: int) -> None:
                key = (inst, day)
                if key not in tasks:
                    tasks[key] = bar.add_task(f"{inst} {day}", total=total)
                bar.update(tasks[key], completed=min(done, total))
                per_part[key] = done

            parts = simulate(cfg, out, progress=tick, chunk_events=chunk_events)
        elapsed = time.perf_counter() - t0
        from orderflow.core.io import Dataset

        ds = Dataset(out)
        metas = [{"instrument": i, "date": d, **_meta_counts(ds.read_meta(i, d))} for i, d in parts]
        kinds: dict[str, int] = {}
        for m in metas:
            for k, v in m["artifacts"].items():
                kinds[k] = kinds.get(k, 0) + v
        total = {
            key: sum(m[key] for m in metas)
            for key in ("events", "messages", "delta_rows", "trades", "regime_switches")
        }
        summary = {
            "out": str(out),
            "partitions": len(parts),
            "seed": cfg.seed,
            "seconds": round(elapsed, 3),
            **total,
            "artifacts": kinds,
            "per_partition": metas,
        }
        if as_json:
            print_json(summary)
        else:
            arts = ", ".join(f"{k} {v:,}" for k, v in kinds.items() if v) or "none"
            console.print(
                f"{len(parts)} partition(s) -> {out}: {total['events']:,} events, {total['trades']:,} trades, "
                f"{total['regime_switches']:,} regime switches; artifacts: {arts} ({elapsed:.2f} s)",
                highlight=False,
            )

    @groups.bench.command("simulate", help=BENCH_HELP)
    def bench_simulate_cmd(
        events: int = typer.Option(1_000_000, "--events", "-n", min=1, help="Genuine events to generate."),
        seed: int = typer.Option(7, "--seed", help="Random seed."),
        chunk_events: int = typer.Option(1_000_000, "--chunk-events", min=1, help="Events per chunk."),
        clean: bool = typer.Option(False, "--clean", help="Without artifacts."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
    ) -> None:
        from orderflow.ingest.simulator import run_benchmark

        res = run_benchmark(events, seed=seed, chunk_events=chunk_events, artifacts=not clean)
        if as_json:
            print_json(res)
        else:
            console.print(
                f"simulate: {res['events']:,} events ({res['delta_rows']:,} delta rows, {res['trades']:,} trades) "
                f"in {res['seconds']:.3f} s = {res['events_per_s']:,.0f} events/s "
                f"({res['events_per_cpu_s']:,.0f} per CPU second); "
                f"peak RSS {res['peak_rss_bytes'] / 2**20:,.0f} MiB",
                highlight=False,
            )


def _meta_counts(meta: dict[str, Any]) -> dict[str, Any]:
    keys = ("events", "messages", "delta_rows", "trades", "regime_switches")
    return {**{k: int(meta.get(k, 0)) for k in keys}, "artifacts": dict(meta.get("artifacts", {}))}
