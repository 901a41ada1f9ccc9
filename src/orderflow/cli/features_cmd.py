"""``orderflow features`` and ``orderflow study ofi-impact|microprice``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from orderflow.cli._common import Groups, console, print_json, progress

FEATURES_HELP = """Compute causal order-book / order-flow features for every partition of a canonical dataset.

Reads book_snapshots (and trades / book_deltas when the chosen groups need them), streams each partition in chunks (state carries across chunks) and writes the FEATURES table to OUT/features/instrument=X/date=D/ (OUT defaults to DATASET_DIR). Feature groups, levels, sweep sizes, windows and the clock come from --config (a TOML file with a [features] table) and may be overridden on the command line. Clocks: event, events:100, time:1s, volume:5000 (size units), trade.

Example:

  orderflow features data/ --clock time:1s --names spread,imbalance,ofi,mlofi,sweep --levels 10
"""

OFI_HELP = """Price impact of order-flow imbalance (Cont, Kukanov, Stoikov 2014) over fixed intervals.

Sums the best-level OFI e_n over [session start + kT, session start + (k+1)T) (instrument-local time), regresses the mid change in ticks on it (OLS with intercept) and reports slope, intercept, R^2, the same against signed trade volume (r2_volume) and against multi-level OFI (r2_mlofi).

Example:

  orderflow study ofi-impact data/ --interval 10s --json
"""

MICRO_HELP = """Stoikov (2018) micro-price: MSE of mid, weighted mid and micro-price as forecasts of the mid --horizon later. The estimator is fitted on the first --train-fraction of the day (by time) and scored on every later book row (out of sample). MSE in ticks^2.

Example:

  orderflow study microprice data/ --horizon 1s --json
"""


def _select(ds: Any, table: str, instrument: str | None, date: str | None) -> list[tuple[str, str]]:
    from orderflow.core.errors import ArtifactError

    parts = [
        (i, d)
        for i, d in ds.partitions(table)
        if (instrument is None or i == instrument) and (date is None or d == date)
    ]
    if not parts:
        raise ArtifactError(
            f"{ds.root}: no {table} partitions"
            + (f" for {instrument or '*'}/{date or '*'}" if instrument or date else "")
        )
    return parts


def _emit(results: list[dict[str, Any]], as_json: bool, title: str) -> None:
    payload: Any = results[0] if len(results) == 1 else {"partitions": results}
    if as_json:
        print_json(payload)
        return
    for r in results:
        t = Table(title=f"{title}: {r.get('instrument')} {r.get('date')}")
        t.add_column("key")
        t.add_column("value")
        for k, v in r.items():
            if isinstance(v, list) and len(v) > 6:
                continue
            t.add_row(k, repr(v) if isinstance(v, float) else str(v))
        console.print(t)


def register(app: typer.Typer, groups: Groups) -> None:
    """Add ``features`` and the ``study`` commands."""

    @app.command("features", help=FEATURES_HELP)
    def features_cmd(
        dataset_dir: Path = typer.Argument(
            ..., help="Canonical dataset directory (written by orderflow ingest)."
        ),
        config: Path | None = typer.Option(None, "--config", "-c", help="TOML file with a [features] table."),
        clock: str | None = typer.Option(
            None, "--clock", help="event | events:N | time:1s | volume:V | trade."
        ),
        names: str | None = typer.Option(
            None, "--names", help="Comma-separated feature groups (overrides config)."
        ),
        levels: int | None = typer.Option(None, "--levels", help="Book levels for depth/imbalance/MLOFI."),
        out: Path | None = typer.Option(
            None, "--out", "-o", help="Output dataset directory (default: DATASET_DIR)."
        ),
        instrument: str | None = typer.Option(None, "--instrument", help="Only this instrument."),
        date: str | None = typer.Option(None, "--date", help="Only this date (YYYY-MM-DD)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    ) -> None:
        from orderflow.core.io import Dataset
        from orderflow.features.config import FeatureConfig
        from orderflow.features.stream import compute_partition

        cfg = FeatureConfig.from_toml(config) if config else FeatureConfig()
        upd: dict[str, Any] = {}
        if clock is not None:
            upd["clock"] = clock
        if names is not None:
            upd["names"] = [n.strip() for n in names.split(",") if n.strip()]
        if levels is not None:
            upd["levels"] = levels
        if upd:
            cfg = FeatureConfig.from_mapping({**cfg.model_dump(), **upd}, where="command line")
        src = Dataset(dataset_dir)
        dst = Dataset(out) if out else src
        parts = _select(src, "book_snapshots", instrument, date)
        summary: list[dict[str, Any]] = []
        with progress(quiet) as bar:
            task = bar.add_task("features", total=len(parts))
            for inst, day in parts:
                t0 = time.perf_counter()
                if dst.root != src.root:
                    dst.add_instrument(src.instrument(inst))
                info = compute_partition(src, dst, inst, day, cfg)
                info.update(instrument=inst, date=day, seconds=round(time.perf_counter() - t0, 3))
                summary.append(info)
                bar.advance(task)
        if as_json:
            print_json({"clock": cfg.clock, "groups": cfg.names, "partitions": summary})
            return
        t = Table(title=f"features ({cfg.clock}) -> {dst.root / 'features'}")
        for c in ("instrument", "date", "book_rows", "rows", "columns", "seconds"):
            t.add_column(c)
        for s in summary:
            t.add_row(*(str(s[c]) for c in ("instrument", "date", "book_rows", "rows", "columns", "seconds")))
        console.print(t)

    @groups.study.command("ofi-impact", help=OFI_HELP)
    def ofi_impact_cmd(
        dataset_dir: Path = typer.Argument(..., help="Canonical dataset directory."),
        interval: str = typer.Option("10s", "--interval", help="Interval length (e.g. 10s, 1m)."),
        session_start: str = typer.Option(
            "09:30", "--session-start", help="Local time the intervals start from."
        ),
        levels: int | None = typer.Option(None, "--levels", help="Levels of multi-level OFI (default: all)."),
        instrument: str | None = typer.Option(None, "--instrument", help="Only this instrument."),
        date: str | None = typer.Option(None, "--date", help="Only this date."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
    ) -> None:
        from orderflow.core.io import Dataset
        from orderflow.core.time import parse_duration_ns
        from orderflow.features.studies import ofi_impact

        try:
            interval_ns = parse_duration_ns(interval)
        except ValueError as e:
            from orderflow.core.errors import ConfigError

            raise ConfigError(f"--interval: {e}") from None
        ds = Dataset(dataset_dir)
        results = []
        for inst, day in _select(ds, "book_snapshots", instrument, date):
            snaps = ds.read("book_snapshots", inst, day)
            trades = ds.read("trades", inst, day) if ds.has("trades", inst, day) else None
            r = ofi_impact(
                snaps,
                trades,
                instrument=ds.instrument(inst),
                interval_ns=interval_ns,
                session_start=session_start,
                levels=levels,
            )
            results.append({"study": "ofi-impact", "instrument": inst, "date": day, **r})
        _emit(results, as_json, "ofi-impact")

    @groups.study.command("microprice", help=MICRO_HELP)
    def microprice_cmd(
        dataset_dir: Path = typer.Argument(..., help="Canonical dataset directory."),
        horizon: str = typer.Option("1s", "--horizon", help="Forecast horizon (e.g. 1s, 500ms)."),
        train_fraction: float = typer.Option(
            0.5, "--train-fraction", help="Share of the day (by time) to fit on."
        ),
        buckets: int = typer.Option(10, "--buckets", help="Imbalance buckets of the estimator."),
        max_spread: int = typer.Option(3, "--max-spread", help="Spread states 1..N ticks (wider clipped)."),
        instrument: str | None = typer.Option(None, "--instrument", help="Only this instrument."),
        date: str | None = typer.Option(None, "--date", help="Only this date."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
    ) -> None:
        from orderflow.core.io import Dataset
        from orderflow.core.time import parse_duration_ns
        from orderflow.features.studies import microprice_study

        try:
            horizon_ns = parse_duration_ns(horizon)
        except ValueError as e:
            from orderflow.core.errors import ConfigError

            raise ConfigError(f"--horizon: {e}") from None
        ds = Dataset(dataset_dir)
        results = []
        for inst, day in _select(ds, "book_snapshots", instrument, date):
            snaps = ds.read("book_snapshots", inst, day)
            r = microprice_study(
                snaps,
                instrument=ds.instrument(inst),
                horizon_ns=horizon_ns,
                train_fraction=train_fraction,
                n_imbalance_buckets=buckets,
                max_spread_ticks=max_spread,
            )
            results.append({"study": "microprice", "instrument": inst, "date": day, **r})
        _emit(results, as_json, "microprice")
