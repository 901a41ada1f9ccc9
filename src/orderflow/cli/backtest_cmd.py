"""``orderflow backtest`` and ``orderflow bench backtest``: the execution-aware backtest on the command line."""

from __future__ import annotations

import json
import resource
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import typer

from orderflow.cli._common import Groups, console, print_json

BACKTEST_HELP = """Replay a canonical dataset partition through the execution-aware backtest.

PATH is either a TOML file with a \\[backtest] section (BacktestConfig) and a \\[data] section, or a
dataset directory (then pick the partition with --instrument/--date and the strategy with options).

Example TOML:

  \\[data]
  dataset = "data/"            # canonical dataset (book_deltas/, trades/, instruments.json)
  instrument = "AMZN"
  date = "2012-06-21"
  predictions = "preds.parquet" # optional PREDICTIONS table (quantile_taker)
  regimes = "regimes.parquet"   # optional REGIMES table (per-regime metrics)
  out = "runs/bt-amzn"

  \\[backtest]
  wake_interval_ns = 100000000
  strategy = { name = "market_maker", params = { half_spread_ticks = 1, skew_ticks = 0.5 } }
  execution = { queue = "probabilistic", latency = { feed_ns = 20000, submit_ns = 50000 } }

Examples:

  orderflow backtest configs/backtest.toml
  orderflow backtest data/ --instrument AMZN --date 2012-06-21 --strategy market_maker --out runs/bt --json
"""


def _read_table(path: str | None) -> Any:
    import polars as pl

    if not path:
        return None
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    return pl.read_parquet(p)


def _run(
    dataset: Path,
    instrument: str | None,
    date: str | None,
    cfg_raw: dict[str, Any],
    out: Path | None,
    predictions: str | None,
    regimes: str | None,
    as_json: bool,
) -> None:
    import polars as pl

    from orderflow.backtest import load_backtest_config, run_backtest
    from orderflow.core.errors import ConfigError
    from orderflow.core.io import Dataset
    from orderflow.core.schema import TRADES

    config = load_backtest_config(cfg_raw)
    ds = Dataset(dataset)
    parts = ds.partitions("book_deltas")
    if not parts:
        raise ConfigError(f"{dataset}: no book_deltas partitions (is this a canonical dataset?)")
    if instrument is None:
        instrument = parts[0][0]
    if date is None:
        dates = [d for i, d in parts if i == instrument]
        if not dates:
            raise ConfigError(f"{dataset}: no book_deltas partition for instrument '{instrument}'")
        date = dates[0]
    inst = ds.instrument(instrument)
    deltas = ds.read("book_deltas", instrument, date)
    trades = ds.read("trades", instrument, date) if ds.has("trades", instrument, date) else TRADES.empty()
    if "instrument" in deltas.columns:
        deltas = deltas.drop("instrument", "date", strict=False)
    t0 = time.perf_counter()
    res = run_backtest(
        deltas,
        trades.drop("instrument", "date", strict=False) if isinstance(trades, pl.DataFrame) else trades,
        instrument=inst,
        config=config,
        predictions=_read_table(predictions),
        regimes=_read_table(regimes),
    )
    seconds = time.perf_counter() - t0
    summary = {"instrument": instrument, "date": date, "seconds": round(seconds, 3), **res.summary}
    if out is not None:
        paths = res.write(out)
        if config.plots_dir is None:
            from orderflow.backtest.plots import write_plots

            paths += write_plots(res, out)
        summary["written"] = [str(p) for p in paths]
    if as_json:
        print_json({"summary": summary, "per_regime": res.per_regime})
        return
    from rich.table import Table

    tab = Table(title=f"backtest {instrument} {date} ({config.strategy.name})")
    tab.add_column("metric")
    tab.add_column("value", justify="right")
    for k in ("events", "n_orders", "n_fills", "fill_ratio", "pnl", "spread_capture", "fees", "inventory_pnl",
              "max_drawdown", "sharpe", "turnover_notional", "final_position_units"):  # fmt: skip
        v = summary.get(k)
        tab.add_row(k, f"{v:.6g}" if isinstance(v, float) else str(v))
    for k, v in summary.items():
        if k.startswith("markout_bps_") or k.startswith("adverse_selection_bps_"):
            tab.add_row(k, f"{v:.4g}")
    console.print(tab)
    if "written" in summary:
        console.print(f"wrote {len(summary['written'])} files to {out}")


def register(app: typer.Typer, groups: Groups) -> None:
    """Add ``backtest`` to ``app`` and ``backtest`` to the ``bench`` group."""

    @app.command("backtest", help=BACKTEST_HELP)
    def backtest(
        path: Path = typer.Argument(
            ..., help="TOML config (\\[data] + \\[backtest]) or a dataset directory."
        ),
        instrument: str | None = typer.Option(None, help="Instrument (dataset mode; default: the first)."),
        date: str | None = typer.Option(
            None, help="Trading date YYYY-MM-DD (dataset mode; default: the first)."
        ),
        strategy: str = typer.Option(
            "market_maker", help="Strategy (dataset mode): market_maker, quantile_taker, none."
        ),
        queue: str = typer.Option(
            "probabilistic", help="Queue model (dataset mode): conservative, probabilistic, fifo."
        ),
        config_file: Path | None = typer.Option(
            None, "--config", help="TOML with a \\[backtest] section (dataset mode)."
        ),
        predictions: str | None = typer.Option(None, help="PREDICTIONS Parquet (quantile_taker)."),
        regimes: str | None = typer.Option(None, help="REGIMES Parquet (per-regime metrics)."),
        out: Path | None = typer.Option(
            None, help="Write orders/fills/equity Parquet, summary.json and PNG plots here."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    ) -> None:
        from orderflow.core.errors import ConfigError

        if path.is_file():
            try:
                raw = tomllib.loads(path.read_text())
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(f"{path}: not valid TOML ({e})") from None
            data = raw.get("data", {})
            if "dataset" not in data:
                raise ConfigError(f"{path}: [data] dataset = '...' is required")
            base = path.parent
            ds = Path(data["dataset"])
            _run(
                ds if ds.is_absolute() else base / ds,
                data.get("instrument", instrument),
                data.get("date", date),
                raw.get("backtest", {}),
                Path(data["out"]) if "out" in data else out,
                data.get("predictions", predictions),
                data.get("regimes", regimes),
                as_json,
            )
            return
        if not path.is_dir():
            raise ConfigError(f"{path}: neither a TOML file nor a dataset directory")
        cfg_raw: dict[str, Any] = {}
        if config_file is not None:
            cfg_raw = dict(tomllib.loads(config_file.read_text()).get("backtest", {}))
        cfg_raw.setdefault("strategy", {"name": strategy})
        ex = dict(cfg_raw.get("execution", {}))
        ex.setdefault("queue", queue)
        cfg_raw["execution"] = ex
        _run(path, instrument, date, cfg_raw, out, predictions, regimes, as_json)

    @groups.bench.command(
        "backtest",
        help=(
            "Replay a reproducible random L2 stream (generated chunk by chunk, not timed) with latency, "
            "probabilistic queue and fee models on, a market maker waking every 100 ms (or on every event "
            "with --every-event). Prints events, seconds, events_per_s, peak_rss_bytes.\n\n"
            "Example: orderflow bench backtest --events 20000000 --json"
        ),
    )
    def bench_backtest(
        events: int = typer.Option(10_000_000, help="Number of events to replay."),
        every_event: bool = typer.Option(False, "--every-event", help="Call the strategy on every event."),
        chunk: int = typer.Option(1_000_000, help="Events per chunk."),
        seed: int = typer.Option(0, help="Random seed of the stream."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
    ) -> None:
        out = run_bench(events, every_event=every_event, chunk=chunk, seed=seed)
        if as_json:
            print_json(out)
        else:
            console.print(json.dumps(out, indent=2))


def run_bench(
    events: int, *, every_event: bool = False, chunk: int = 1_000_000, seed: int = 0
) -> dict[str, Any]:
    """The ``bench backtest`` measurement (also used by tests/benchmarks)."""
    from orderflow.backtest import BacktestConfig, BacktestEngine
    from orderflow.backtest.synthetic import StreamGenerator
    from orderflow.core.instruments import Instrument

    cfg = BacktestConfig.model_validate(
        {
            "execution": {
                "latency": {
                    "feed_ns": 20_000,
                    "submit_ns": 30_000,
                    "cancel_ns": 30_000,
                    "modify_ns": 30_000,
                    "response_ns": 30_000,
                },
                "fees": {"maker_bps": -0.2, "taker_bps": 0.5, "min_fee": 0.01},
                "queue": "probabilistic",
                "order_size": 5,
            },
            "strategy": {"name": "market_maker", "params": {"skew_ticks": 0.5}},
            "wake_interval_ns": 100_000_000,
            "every_event": every_event,
        }
    )
    inst = Instrument(symbol="BENCH", tick_size="0.01")
    eng = BacktestEngine(inst, cfg)
    gen = StreamGenerator(seed=seed, feed_latency_ns=20_000)
    # compile (or load the cache) before timing
    warm = BacktestEngine(inst, cfg)
    warm.feed_events(StreamGenerator(seed=seed + 1).next_events(1_000), final=True)
    done = 0
    seconds = 0.0
    cpu = 0.0
    while done < events:
        ev = gen.next_events(min(chunk, events - done))
        t0 = time.perf_counter()
        c0 = time.process_time()
        eng.feed_events(ev, final=done + len(ev) >= events)
        seconds += time.perf_counter() - t0
        cpu += time.process_time() - c0
        done += len(ev)
    res = eng.finish()
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = ru if sys.platform == "darwin" else ru * 1024
    return {
        "events": done,
        "seconds": round(seconds, 4),
        "events_per_s": round(done / seconds) if seconds > 0 else None,
        "peak_rss_bytes": int(peak),
        "cpu_seconds": round(cpu, 4),
        "events_per_cpu_s": round(done / cpu) if cpu > 0 else None,
        "every_event": every_event,
        "strategy_calls": res.summary["strategy_calls"],
        "n_fills": res.summary["n_fills"],
        "chunk": chunk,
    }


__all__ = ["register", "run_bench"]
