"""Crypto venue commands: ``ingest binance|binance-vision|tardis|bybit`` and ``verify binance``."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from orderflow.cli._common import Groups, console, print_json

BINANCE_HELP = """Convert raw Binance websocket captures (spot or USD-M) into a canonical dataset.

Each line is '<local_ts_ns> <json>' (gzip or plain); combined-stream envelopes {"stream","data"} and bare
payloads are both accepted. depthUpdate diffs are applied with Binance's documented local-book procedure
(REST snapshot lastUpdateId, straddling first diff, then U == prev u + 1 on spot / pu == prev u on USD-M);
a gap is reported in qc (rule binance_gap) and later diffs are quarantined until the next snapshot.
Give consecutive files of one symbol in time order: the book carries over from file to file.
Writes book_deltas, trades, book_snapshots (bookTicker, depth 1) and qc, partitioned by symbol and UTC date.

Example:

  orderflow ingest binance btcusdt_20240808.gz btcusdt_20240809.gz --out data/ --json
"""

VISION_HELP = """Convert data.binance.vision CSV files (T_DEPTH snapshot/update, trades, aggTrades, bookTicker).

Depth update rows that do not chain to the snapshot are reported as a gap (qc rule binance_gap) and
quarantined, never applied. Header rows are optional.

Example:

  orderflow ingest binance-vision --depth-snapshot btcusdt-depth-snap.csv \\
      --depth-update btcusdt-depth-update.csv --out data/ --json
"""

TARDIS_HELP = """Convert a Tardis.dev CSV (incremental_book_L2, book_snapshot_N, trades or quotes).

The data type is detected from the header unless --kind is given. Timestamps are µs (timestamp ->
ts_event, local_timestamp -> ts_recv).

Example:

  orderflow ingest tardis deribit_incremental_book_L2_BTC-PERPETUAL.csv --out data/ --json
"""

BYBIT_HELP = """Convert Bybit orderbook.N history files (snapshot + delta JSON lines; zip, gzip or plain).

Deltas must continue the update id (u == prev u + 1); u == 1 is a service restart (treated as a
snapshot); a gap is reported in qc (rule bybit_gap) and deltas are quarantined until the next snapshot.

Example:

  orderflow ingest bybit 2024-12-01_XRPUSDT_ob500.data.zip --out data/ --json
"""

HYPERLIQUID_HELP = """Convert a Hyperliquid websocket capture ('<local_ts_ns> <json>' lines, l2Book + trades).

Every l2Book message is a full top-N snapshot: CLEAR + SET rows in book_deltas and one book_snapshots
row (with order counts); repeated snapshots and trade ids are reported in qc and dropped.

Example:

  orderflow ingest hyperliquid btcusd_20250126.gz --out data/ --json
"""

VERIFY_HELP = """Replay Binance captures and check the reconstructed book against the venue's bookTicker.

bbo_checked/bbo_mismatches: bookTickers whose update id equals the final id of an applied depth diff,
compared with the book right after that diff. asof_checked/asof_mismatches: after every applied diff, the
book against the latest bookTicker with id <= its final id (bookTicker pushes every top-of-book change,
so they must agree; a disagreement is a data defect, flagged in qc as binance_asof). Exit code 1 when
there is a gap or a bbo mismatch.

Example:

  orderflow verify binance btcusdt_20240808.gz btcusdt_20240809.gz --json
"""


def _summary(res: Any, out: Path, elapsed: float) -> dict[str, Any]:
    return {
        "instrument": res.instrument.symbol,
        "venue": res.instrument.venue,
        "tick_size": res.instrument.tick_size,
        "size_unit": res.instrument.size_unit,
        "book_deltas": res.deltas.height,
        "trades": res.trades.height,
        "book_snapshots": 0 if res.snapshots is None else res.snapshots.height,
        "qc": res.qc.height,
        "stats": res.stats,
        "out": str(out),
        "seconds": round(elapsed, 3),
    }


def _report(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(summary)
        return
    st = summary["stats"]
    extra = ", ".join(
        f"{k} {st[k]:,}" for k in ("gaps", "quarantined", "applied") if isinstance(st.get(k), int)
    )
    console.print(
        f"{summary['instrument']} ({summary['venue']}): {summary['book_deltas']:,} deltas, {summary['trades']:,} "
        f"trades, {summary['book_snapshots']:,} snapshots, {summary['qc']:,} qc rows"
        f"{' (' + extra + ')' if extra else ''} -> {summary['out']} ({summary['seconds']:.2f} s)",
        highlight=False,
    )


def register(app: typer.Typer, groups: Groups) -> None:
    """Add the crypto ingest and verify commands."""

    @groups.ingest.command("binance", help=BINANCE_HELP)
    def ingest_binance_cmd(
        files: list[Path] = typer.Argument(..., help="Capture files of one symbol, in time order."),
        out: Path = typer.Option(..., "--out", "-o", help="Dataset directory (created if missing)."),
        symbol: str | None = typer.Option(
            None, "--symbol", help="Keep only this symbol (default: first seen)."
        ),
        continue_on_error: bool = typer.Option(
            False, "--continue-on-error", help="Quarantine malformed lines into qc instead of stopping."
        ),
        engine: str = typer.Option("fast", "--engine", help="fast (default) or reference (line by line)."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    ) -> None:
        from orderflow.ingest.binance import ingest_binance

        t0 = time.perf_counter()
        res = ingest_binance(
            list(files), out, symbol=symbol, continue_on_error=continue_on_error, engine=engine
        )
        _report(_summary(res, out, time.perf_counter() - t0), as_json)

    @groups.ingest.command("binance-vision", help=VISION_HELP)
    def ingest_vision_cmd(
        out: Path = typer.Option(..., "--out", "-o", help="Dataset directory (created if missing)."),
        depth_snapshot: Path | None = typer.Option(None, "--depth-snapshot", help="T_DEPTH snapshot CSV."),
        depth_update: Path | None = typer.Option(None, "--depth-update", help="T_DEPTH update CSV."),
        trades: Path | None = typer.Option(None, "--trades", help="trades CSV."),
        agg_trades: Path | None = typer.Option(None, "--agg-trades", help="aggTrades CSV."),
        book_ticker: Path | None = typer.Option(None, "--book-ticker", help="bookTicker CSV."),
        spot: bool = typer.Option(False, "--spot", help="Spot files (default: USD-M futures)."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    ) -> None:
        from orderflow.ingest.binance import ingest_binance_vision

        t0 = time.perf_counter()
        res = ingest_binance_vision(
            out,
            depth_snapshot=depth_snapshot,
            depth_update=depth_update,
            trades=trades,
            agg_trades=agg_trades,
            book_ticker=book_ticker,
            futures=not spot,
        )
        _report(_summary(res, out, time.perf_counter() - t0), as_json)

    @groups.ingest.command("tardis", help=TARDIS_HELP)
    def ingest_tardis_cmd(
        file: Path = typer.Argument(..., help="Tardis CSV file (plain or .gz)."),
        out: Path = typer.Option(..., "--out", "-o", help="Dataset directory (created if missing)."),
        kind: str | None = typer.Option(
            None,
            "--kind",
            help="incremental_book_L2 | book_snapshot | trades | quotes (default: from header).",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    ) -> None:
        from orderflow.ingest.tardis import ingest_tardis

        t0 = time.perf_counter()
        res = ingest_tardis(file, out, kind=kind)
        _report(_summary(res, out, time.perf_counter() - t0), as_json)

    @groups.ingest.command("bybit", help=BYBIT_HELP)
    def ingest_bybit_cmd(
        files: list[Path] = typer.Argument(..., help="Bybit orderbook file(s) of one symbol, in time order."),
        out: Path = typer.Option(..., "--out", "-o", help="Dataset directory (created if missing)."),
        continue_on_error: bool = typer.Option(
            False, "--continue-on-error", help="Quarantine malformed lines into qc instead of stopping."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    ) -> None:
        from orderflow.ingest.bybit import ingest_bybit

        t0 = time.perf_counter()
        res = ingest_bybit(list(files), out, continue_on_error=continue_on_error)
        _report(_summary(res, out, time.perf_counter() - t0), as_json)

    @groups.ingest.command("hyperliquid", help=HYPERLIQUID_HELP)
    def ingest_hyperliquid_cmd(
        file: Path = typer.Argument(..., help="Hyperliquid capture file (gzip or plain)."),
        out: Path = typer.Option(..., "--out", "-o", help="Dataset directory (created if missing)."),
        continue_on_error: bool = typer.Option(
            False, "--continue-on-error", help="Quarantine malformed lines into qc instead of stopping."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    ) -> None:
        from orderflow.ingest.binance import ingest_hyperliquid

        t0 = time.perf_counter()
        res = ingest_hyperliquid(file, out, continue_on_error=continue_on_error)
        _report(_summary(res, out, time.perf_counter() - t0), as_json)

    @groups.verify.command("binance", help=VERIFY_HELP)
    def verify_binance_cmd(
        files: list[Path] = typer.Argument(..., help="Capture files of one symbol, in time order."),
        symbol: str | None = typer.Option(
            None, "--symbol", help="Keep only this symbol (default: first seen)."
        ),
        continue_on_error: bool = typer.Option(
            False, "--continue-on-error", help="Quarantine malformed lines into qc instead of stopping."
        ),
        engine: str = typer.Option("fast", "--engine", help="fast (default) or reference (line by line)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object on stdout."),
    ) -> None:
        from orderflow.ingest.binance import verify_binance

        res = verify_binance(list(files), symbol=symbol, continue_on_error=continue_on_error, engine=engine)
        if as_json:
            print_json(res)
        else:
            table = Table(title=f"Binance book check: {res['symbol']} ({res['market']})", show_header=True)
            table.add_column("check")
            table.add_column("value", justify="right")
            for key in (
                "lines",
                "depth_events",
                "applied",
                "snapshots",
                "gaps",
                "quarantined",
                "superseded",
                "duplicates",
                "book_tickers",
                "bbo_checked",
                "bbo_mismatches",
                "asof_checked",
                "asof_mismatches",
                "crossed_after_event",
                "trades",
                "malformed_lines",
            ):
                table.add_row(key, f"{res[key]:,}")
            console.print(table)
            for name in ("first_bbo_mismatch", "first_asof_mismatch"):
                if res[name] is not None:
                    console.print(f"[yellow]{name}[/]: {res[name]}", highlight=False)
            if not res["gaps"] and not res["bbo_mismatches"]:
                console.print("[green]OK[/]: no gap, every id-matched bookTicker equals the book")
        if res["gaps"] or res["bbo_mismatches"]:
            # sys.exit, not typer.Exit: main() runs click with standalone_mode=False, which would turn
            # typer.Exit into a return value instead of the exit status
            sys.exit(1)
