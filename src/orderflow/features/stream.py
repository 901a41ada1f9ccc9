"""Bounded-memory feature computation over a dataset partition (used by ``orderflow features``).

Book snapshots are read in record batches of ``config.chunk_rows`` rows; trades and deltas of each
chunk are read by seq range from their Parquet files (predicate pushdown); features stream into the
output partition through an atomic :class:`~orderflow.core.io.PartWriter`. Memory is bounded by the
chunk size, not the day.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow.parquet as pq

from orderflow.core.errors import ArtifactError
from orderflow.core.io import Dataset
from orderflow.core.schema import FEATURES
from orderflow.features.compute import FeatureEngine, fit_microprice_window
from orderflow.features.config import FEATURE_GROUPS, FeatureConfig

_NEEDS_TRADES = {"trade_flow", "vpin", "kyle"}


def _files(ds: Dataset, table: str, inst: str, day: str) -> list[str]:
    return sorted(str(p) for p in ds.partition_dir(table, inst, day).glob("part-*.parquet"))


def compute_partition(src: Dataset, dst: Dataset, inst: str, day: str, cfg: FeatureConfig) -> dict[str, Any]:
    """Compute FEATURES for partition (inst, day) of ``src`` and write it to ``dst``; return counts."""
    snap_files = _files(src, "book_snapshots", inst, day)
    if not snap_files:
        raise ArtifactError(
            f"{src.partition_dir('book_snapshots', inst, day)}: no book_snapshots Parquet files"
        )
    instrument = src.instrument(inst)
    groups = set(cfg.names)
    clk = cfg.clock_spec
    need_trades = bool(_NEEDS_TRADES & groups) or clk.kind in ("volume", "trade")
    need_deltas = "intensity" in groups
    trades_files = _files(src, "trades", inst, day) if need_trades else []
    delta_files = _files(src, "book_deltas", inst, day) if need_deltas else []
    if need_trades and not trades_files:
        raise ArtifactError(
            f"{src.root}: features {sorted(_NEEDS_TRADES & groups) or cfg.clock} need the trades table for {inst}/{day}"
        )
    if need_deltas and not delta_files:
        raise ArtifactError(f"{src.root}: feature 'intensity' needs the book_deltas table for {inst}/{day}")
    snaps_lf = pl.scan_parquet(snap_files)
    depth = sum(1 for c in snaps_lf.collect_schema().names() if c.startswith("bid_px_"))
    table = None
    valid_from = None
    if "microprice" in groups:
        first = snaps_lf.select("ts_event").head(1).collect()
        if first.height:
            t0 = int(first["ts_event"][0])
            head = snaps_lf.filter(pl.col("ts_event") < t0 + cfg.microprice_fit_window_ns).collect()
            est, valid_from = fit_microprice_window(head, instrument, cfg)
            table = est.table_
    eng = FeatureEngine(
        cfg,
        instrument,
        depth,
        microprice_table=table,
        microprice_valid_from_ns=valid_from,
        has_trades=bool(trades_files),
        has_deltas=bool(delta_files),
    )
    trades_lf = pl.scan_parquet(trades_files) if trades_files else None
    deltas_lf = pl.scan_parquet(delta_files) if delta_files else None
    lo = None
    book_rows = rows = 0
    ncols = len(FEATURES.columns)
    plugins = [g for g in cfg.names if g not in FEATURE_GROUPS]
    if plugins:  # plug-ins see whole sampled frames; fall back to the in-memory path
        from orderflow.features.compute import compute_features

        snaps = snaps_lf.collect()
        trades = trades_lf.collect() if trades_lf is not None else None
        deltas = deltas_lf.collect() if deltas_lf is not None else None
        out = compute_features(snaps, trades, deltas, instrument=instrument, config=cfg)
        dst.write("features", out, inst, day, schema=FEATURES)
        return {"book_rows": snaps.height, "rows": out.height, "columns": out.width}
    with dst.writer("features", inst, day, schema=FEATURES, validate_values=False) as w:
        for f in snap_files:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=cfg.chunk_rows):
                chunk = pl.from_arrow(batch)
                if not isinstance(chunk, pl.DataFrame) or chunk.height == 0:
                    continue
                hi = int(chunk["seq"][-1])

                def rng(lf: pl.LazyFrame | None, lo: int | None = lo, hi: int = hi) -> pl.DataFrame | None:
                    if lf is None:
                        return None
                    cond = pl.col("seq") <= hi
                    if lo is not None:
                        cond = cond & (pl.col("seq") > lo)
                    return lf.filter(cond).sort("seq", maintain_order=True).collect()

                out = eng.process(chunk, rng(trades_lf), rng(deltas_lf))
                lo = hi
                book_rows += chunk.height
                if out.height:
                    w.write(out)
                    rows += out.height
                    ncols = out.width
    return {"book_rows": book_rows, "rows": rows, "columns": ncols}


__all__ = ["compute_partition"]
