"""``orderflow run CONFIG``: the whole pipeline, cached stage by stage.

Stages and what their keys hash (see :mod:`orderflow.pipeline.cache`)::

    ingest    per (instrument, day)   data section + input file digests
    book      per (instrument, day)   ingest key + book section
    filters   per (instrument, day)   book key + filters section
    features  per (instrument, day)   filters key + features section
    research  across partitions       features key + research + execution sections
    backtest  per (instrument, day)   research key + backtest + execution sections
    report    across partitions       every key above

Per-partition stages run on the chosen executor (process pool or Dask); the cross-partition steps
(model fitting and evaluation, the report) run in this process, explicitly, after their inputs exist.
Each partition writes its tables atomically and then a marker, so a run killed mid-stage resumes with
the partitions it had not finished.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from orderflow.core.errors import ArtifactError, ConfigError
from orderflow.core.instruments import Instrument
from orderflow.core.io import Dataset, SeqCursor, atomic_write_json, atomic_write_text, file_digest
from orderflow.pipeline.cache import StageCache, code_version, digest, link_stage
from orderflow.pipeline.config import EDGE_COLUMNS, PipelineConfig
from orderflow.pipeline.executors import run_tasks

PARTITION_STAGES = ("ingest", "book", "filters", "features")


@dataclass(frozen=True)
class Partition:
    instrument: str
    date: str
    source: tuple[str, ...] = ()  # input files of this partition (LOBSTER pair, DBN file, dataset dir)

    @property
    def name(self) -> str:
        return f"{self.instrument}/{self.date}"


@dataclass
class StageReport:
    stage: str
    key: str
    cached: bool
    seconds: float
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    stages: list[StageReport]
    metrics: dict[str, Any]
    report_path: Path
    metrics_path: Path


# -- planning ---------------------------------------------------------------------------------------------
def business_days(start: dt.date, n: int) -> list[str]:
    d = np.busday_offset(np.datetime64(start, "D"), 0, roll="forward")
    return [str(np.busday_offset(d, i)) for i in range(n)]


def plan_partitions(cfg: PipelineConfig) -> list[Partition]:
    """The (instrument, day) partitions of the run, sorted, after the data section's filters."""
    data = cfg.data
    parts: list[Partition] = []
    if data.source == "simulator":
        sim = cfg.sim_config()
        for inst in sim.instruments:
            for d in business_days(sim.start_date, sim.days):
                parts.append(Partition(inst, d))
    elif data.source == "lobster":
        from orderflow.ingest.lobster import parse_lobster_filename

        for e in data.lobster:
            for f in (e.message, e.orderbook):
                if not Path(f).exists():
                    raise ConfigError(f"data.lobster: file not found: {f}")
            ticker, date, _levels = parse_lobster_filename(e.message)
            parts.append(Partition(e.ticker or ticker, e.date or date.isoformat(), (e.message, e.orderbook)))
    elif data.source == "dbn":
        from orderflow.ingest.dbn import read_dbn

        for f in data.dbn:
            if not Path(f).exists():
                raise ConfigError(f"data.dbn: file not found: {f}")
            for dp in read_dbn(f).partitions:
                parts.append(Partition(dp.instrument, dp.date.isoformat(), (f,)))
    else:
        assert data.dataset is not None
        ds = Dataset(data.dataset)
        found = ds.partitions("book_deltas")
        if not found:
            raise ConfigError(f"data.dataset: no book_deltas partitions in {data.dataset}")
        parts = [Partition(i, d, (data.dataset,)) for i, d in found]
    if data.instruments:
        parts = [p for p in parts if p.instrument in set(data.instruments)]
    if data.dates:
        parts = [p for p in parts if p.date in set(data.dates)]
    if not parts:
        raise ConfigError("data: no (instrument, date) partitions left after the instruments/dates filters")
    return sorted(parts, key=lambda p: (p.instrument, p.date))


def input_digests(parts: list[Partition]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in parts:
        for f in p.source:
            fp = Path(f)
            if fp.is_file() and f not in out:
                out[f] = file_digest(fp)
            elif fp.is_dir() and f not in out:
                out[f] = digest(
                    sorted(
                        (str(q.relative_to(fp)), q.stat().st_size, q.stat().st_mtime_ns)
                        for q in fp.rglob("*.parquet")
                    )
                )
    return out


# -- per-partition tasks (top-level so process pools and Dask can pickle them) ------------------------------
def _marker(stage_dir: Path, part: Partition) -> Path:
    return stage_dir / "_parts" / f"{part.instrument}__{part.date}.json"


def stage_summaries(stage_dir: Path) -> dict[str, dict[str, Any]]:
    """The per-partition summaries a partition stage wrote, by partition (``INSTRUMENT__DATE``)."""
    return {m.stem: json.loads(m.read_text()) for m in sorted((stage_dir / "_parts").glob("*.json"))}


def _done(stage_dir: Path, part: Partition) -> dict[str, Any] | None:
    m = _marker(stage_dir, part)
    if m.exists():
        return dict(json.loads(m.read_text()))
    return None


def _finish(stage_dir: Path, part: Partition, summary: dict[str, Any]) -> dict[str, Any]:
    import resource

    # peak RSS of the worker process so far (Linux: KiB); goes to run_log.json, never to metrics.json
    summary["worker_peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    atomic_write_json(_marker(stage_dir, part), summary)
    return summary


def task_ingest(stage_dir: str, cfg_json: str, part: Partition) -> dict[str, Any]:
    sd = Path(stage_dir)
    if (s := _done(sd, part)) is not None:
        return s
    cfg = PipelineConfig.model_validate_json(cfg_json)
    ds = Dataset(sd)
    summary: dict[str, Any]
    if cfg.data.source == "simulator":
        from orderflow.ingest.simulator import simulate_day

        day = simulate_day(cfg.sim_config(), part.instrument, part.date)
        ds.write("book_deltas", day.deltas, part.instrument, part.date)
        ds.write("trades", day.trades, part.instrument, part.date)
        ds.write("sim_regimes", day.regimes, part.instrument, part.date)
        ds.write("sim_artifacts", day.artifacts, part.instrument, part.date)
        inst = day.instrument
        summary = {
            "events": int(day.deltas["seq"].n_unique()),
            "trades": day.trades.height,
            "artifacts": day.artifacts.height,
            "regime_changes": day.regimes.height,
        }
    elif cfg.data.source == "lobster":
        from orderflow.ingest.lobster import read_lobster

        lday = read_lobster(part.source[0], part.source[1], ticker=part.instrument, date=part.date)
        ds.write("book_deltas", lday.deltas, part.instrument, part.date)
        ds.write("trades", lday.trades, part.instrument, part.date)
        ds.write("status", lday.status, part.instrument, part.date)
        ds.write("qc", lday.qc, part.instrument, part.date)
        inst = lday.instrument
        summary = {"events": lday.snapshots.height, "trades": lday.trades.height, "levels": lday.levels}
    elif cfg.data.source == "dbn":
        from orderflow.ingest.dbn import read_dbn

        res = read_dbn(part.source[0], instrument=part.instrument)
        dp = res.partition(part.instrument, part.date)
        ds.write("book_deltas", dp.book_deltas, part.instrument, part.date)
        ds.write("trades", dp.trades, part.instrument, part.date)
        ds.write("qc", dp.qc, part.instrument, part.date)
        inst = res.instruments[part.instrument]
        summary = {
            "events": int(dp.book_deltas["seq"].n_unique()),
            "trades": dp.trades.height,
            "source": dp.source,
        }
    else:
        src = Dataset(part.source[0])
        for table in ("book_deltas", "trades", "status", "qc", "sim_regimes", "sim_artifacts"):
            if src.has(table, part.instrument, part.date):
                ds.write(table, src.read(table, part.instrument, part.date), part.instrument, part.date)
        inst = src.instrument(part.instrument)
        summary = {"events": ds.read("book_deltas", part.instrument, part.date)["seq"].n_unique()}
    summary["instrument"] = inst.model_dump()
    return _finish(sd, part, summary)


def task_book(stage_dir: str, ingest_dir: str, cfg_json: str, part: Partition) -> dict[str, Any]:
    sd = Path(stage_dir)
    if (s := _done(sd, part)) is not None:
        return s
    from orderflow.book.engine import reconstruct_dataset

    cfg = PipelineConfig.model_validate_json(cfg_json)
    st = reconstruct_dataset(
        Dataset(ingest_dir),
        part.instrument,
        part.date,
        depth=cfg.book.depth,
        chunk_rows=1_000_000,
        out=Dataset(sd),
    )
    return _finish(
        sd,
        part,
        {
            "snapshots": st.snapshots,
            "events": st.events,
            "crossed_events": st.crossed_events,
            "negative_clamps": st.negative_clamps,
        },
    )


def task_filters(
    stage_dir: str, ingest_dir: str, book_dir: str, cfg_json: str, part: Partition, instrument: dict[str, Any]
) -> dict[str, Any]:
    sd = Path(stage_dir)
    if (s := _done(sd, part)) is not None:
        return s
    from orderflow.filters.stream import apply_filters_stream, dataset_batches

    cfg = PipelineConfig.model_validate_json(cfg_json)
    src, bk = Dataset(ingest_dir), Dataset(book_dir)
    i, d = part.instrument, part.date
    # the partition streams in chunks: memory holds a chunk of the day, not the day
    res = apply_filters_stream(
        dataset_batches(src, i, d, book=bk),
        instrument=Instrument(**instrument),
        config=cfg.filter_config(),
        status=src.read("status", i, d) if src.has("status", i, d) else None,
    )
    qc = res.qc
    if src.has("qc", i, d):  # ingest-time QC rows (reveals, gaps) travel with the filter flags
        qc = pl.concat([src.read("qc", i, d), qc]).sort("seq", maintain_order=True)
    Dataset(sd).write("qc", qc, i, d)
    summary = {"report": res.report}
    if src.has("sim_artifacts", i, d):
        from orderflow.filters import score_against_truth

        summary["truth"] = score_against_truth(qc, src.read("sim_artifacts", i, d))
    return _finish(sd, part, summary)


FEATURE_BATCH_ROWS = 250_000
"""Book rows per batch in the pipeline's feature stage: memory is flat in the day's length."""


def task_features(
    stage_dir: str,
    ingest_dir: str,
    book_dir: str,
    filters_dir: str,
    cfg_json: str,
    part: Partition,
    instrument: dict[str, Any],
) -> dict[str, Any]:
    """Features of one partition, streamed: book rows, trades and deltas are read in batches.

    Snapshots whose event a filter marked ``drop`` are left out; ``downweight`` rows get
    ``qc_weight`` 0.5. Only :data:`FEATURE_BATCH_ROWS` book rows (and the trades/deltas in their seq
    range) are in memory at once, so a worker's memory does not grow with the day's length.
    """
    sd = Path(stage_dir)
    if (s := _done(sd, part)) is not None:
        return s
    from orderflow.core.schema import snapshot_depth
    from orderflow.features.compute import compute_features_chunked, fit_microprice_window

    cfg = PipelineConfig.model_validate_json(cfg_json)
    fcfg = cfg.feature_config()
    inst = Instrument(**instrument)
    i, d = part.instrument, part.date
    src, bk, flt = Dataset(ingest_dir), Dataset(book_dir), Dataset(filters_dir)
    qc = flt.read("qc", i, d).select("seq", "action")
    dropped = qc.filter(pl.col("action") == "drop")["seq"].unique().implode()
    down = qc.filter(pl.col("action") == "downweight")["seq"].unique().implode()
    del qc
    kept = ~pl.col("seq").is_in(dropped)
    rows = min(fcfg.chunk_rows, FEATURE_BATCH_ROWS)
    # the first kept book row and the micro-price's fitting window (the start of the day), streamed
    head: pl.DataFrame | None = None
    window: list[pl.DataFrame] = []
    want_window = "microprice" in fcfg.names
    for batch in bk.iter_batches("book_snapshots", i, d, rows):
        if head is None:
            head = batch[:0]
        batch = batch.filter(kept)
        if not batch.height:
            continue
        if not head.height:
            head = batch[:1]
            if not want_window:
                break
        end = int(head["ts_event"][0]) + fcfg.microprice_fit_window_ns
        window.append(batch.filter(pl.col("ts_event") < end))
        if window[-1].height < batch.height:
            break
    if head is None:
        raise ArtifactError(f"{part.name}: book_snapshots is empty")
    depth = snapshot_depth(head)
    model, valid_from = None, None
    if want_window and head.height:
        model, valid_from = fit_microprice_window(pl.concat(window), inst, fcfg)
    del window
    has_trades = src.has("trades", i, d)
    trades = SeqCursor(src.iter_batches("trades", i, d, rows)) if has_trades else None
    deltas = SeqCursor(src.iter_batches("book_deltas", i, d, 4 * rows))
    counts = {"snapshots": 0, "kept": 0}

    def chunks() -> Iterator[tuple[pl.DataFrame, pl.DataFrame | None, pl.DataFrame | None]]:
        for batch in bk.iter_batches("book_snapshots", i, d, rows):
            counts["snapshots"] += batch.height
            batch = batch.filter(kept)
            if not batch.height:
                continue  # their trades/deltas go with the next kept rows (seq ranges are cumulative)
            counts["kept"] += batch.height
            hi = int(batch["seq"][-1])
            yield batch, trades.upto(hi) if trades else None, deltas.upto(hi)
        if counts["kept"] == 0:  # no book row survives: an empty FEATURES table, as compute_features
            yield head[:0], None, None

    feats = compute_features_chunked(
        chunks(),
        instrument=inst,
        config=fcfg,
        depth=depth,
        has_trades=has_trades,
        has_deltas=True,
        microprice_model=model,
        microprice_valid_from_ns=valid_from,
        book_columns=head.columns,
    )
    feats = feats.with_columns(pl.when(pl.col("seq").is_in(down)).then(0.5).otherwise(1.0).alias("qc_weight"))
    Dataset(sd).write("features", feats, i, d)
    return _finish(
        sd,
        part,
        {
            "rows": feats.height,
            "columns": feats.width - 2,
            "dropped_snapshots": counts["snapshots"] - counts["kept"],
        },
    )


def _with_edge_columns(preds: pl.DataFrame, cfg: PipelineConfig) -> pl.DataFrame:
    """Add :data:`EDGE_COLUMNS` (the research decision quantiles, short side negated) to PREDICTIONS."""
    q = round(cfg.research_config().model.decision_quantile * 100)
    lo, hi = f"ql_{q:02d}", f"qs_{q:02d}"
    if lo not in preds.columns or hi not in preds.columns:
        return preds
    return preds.with_columns(
        pl.col(lo).cast(pl.Float64).alias(EDGE_COLUMNS[0]),
        (-pl.col(hi).cast(pl.Float64)).alias(EDGE_COLUMNS[1]),
    )


def task_backtest(
    stage_dir: str,
    ingest_dir: str,
    research_dir: str,
    cfg_json: str,
    part: Partition,
    instrument: dict[str, Any],
) -> dict[str, Any]:
    sd = Path(stage_dir)
    if (s := _done(sd, part)) is not None:
        return s
    from orderflow.backtest import run_backtest

    cfg = PipelineConfig.model_validate_json(cfg_json)
    i, d = part.instrument, part.date
    src = Dataset(ingest_dir)
    preds_all = pl.read_parquet(Path(research_dir) / "predictions.parquet")
    preds = preds_all.filter((pl.col("instrument") == i) & (pl.col("date") == d)).drop("instrument", "date")
    preds = _with_edge_columns(preds, cfg)
    regimes = None
    if "regime" in preds.columns:
        regimes = preds.select("ts_event", "seq", "regime")
    res = run_backtest(
        src.read("book_deltas", i, d),
        src.read("trades", i, d),
        instrument=Instrument(**instrument),
        config=cfg.backtest_config(),
        predictions=preds,
        regimes=regimes,
    )
    ds = Dataset(sd)
    ds.write("orders", res.orders, i, d)
    ds.write("fills", res.fills, i, d)
    ds.write("equity", res.equity, i, d)
    return _finish(sd, part, {"summary": res.summary})


# -- orchestration -------------------------------------------------------------------------------------------
class Pipeline:
    """One pipeline run: plans partitions, computes stage keys, runs or reuses each stage."""

    def __init__(
        self,
        cfg: PipelineConfig,
        *,
        out: str | Path | None = None,
        executor: str | None = None,
        workers: int | None = None,
        scheduler: str | None = None,
        on_stage: Callable[[StageReport], None] | None = None,
        on_progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.out = Path(out or cfg.run.out)
        self.executor: Any = executor or cfg.run.executor
        self.workers = workers or cfg.run.workers
        self.scheduler = scheduler or cfg.run.scheduler
        self.cache = StageCache(self.out)
        self.on_stage = on_stage
        self.on_progress = on_progress
        self.cfg_json = cfg.model_dump_json()

    def _run_partition_stage(
        self,
        stage: str,
        key: str,
        fn: Callable[..., dict[str, Any]],
        make_args: Callable[[str, Partition], tuple[Any, ...]],
        parts: list[Partition],
    ) -> tuple[Path, list[dict[str, Any]], bool]:
        d = self.cache.path(stage, key)
        if self.cache.is_complete(stage, key):
            summaries = [json.loads(_marker(d, p).read_text()) for p in parts]
            return d, summaries, True
        if self.cache.is_corrupt(stage, key):
            self.cache.begin(stage, key)  # committed, then damaged on disk: rebuild every partition
        d.mkdir(parents=True, exist_ok=True)
        total = len(parts)
        done = [0]

        def progress(_i: int, _r: Any) -> None:
            done[0] += 1
            if self.on_progress:
                self.on_progress(stage, done[0], total)

        if self.on_progress:
            self.on_progress(stage, 0, total)
        args = [make_args(str(d), p) for p in parts]
        summaries = run_tasks(
            fn,
            args,
            executor=self.executor,
            workers=self.workers,
            scheduler=self.scheduler,
            on_done=progress,
        )
        self.cache.commit(stage, key, {"partitions": len(parts)})
        return d, summaries, False

    def run(self) -> RunResult:
        cfg = self.cfg
        parts = plan_partitions(cfg)
        inputs = input_digests(parts)
        version = code_version()
        run_id = digest(json.loads(self.cfg_json), inputs, version, length=12)
        run_dir = self.out / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        reports: list[StageReport] = []
        log: dict[str, Any] = {
            "run_id": run_id,
            "code_version": version,
            "started": time.time(),
            "stages": {},
        }

        def record(
            stage: str,
            key: str,
            d: Path,
            cached: bool,
            t0: float,
            summary: dict[str, Any],
            parts_summaries: list[dict[str, Any]] | None = None,
        ) -> None:
            link_stage(run_dir, stage, d)
            rep = StageReport(stage, key, cached, time.perf_counter() - t0, summary)
            reports.append(rep)
            log["stages"][stage] = {"key": key, "cached": cached, "seconds": rep.seconds}
            rss = [s.get("worker_peak_rss_bytes", 0) for s in parts_summaries or []]
            if rss:
                log["stages"][stage]["max_worker_peak_rss_bytes"] = max(rss)
            if self.on_stage:
                self.on_stage(rep)

        c = json.loads(self.cfg_json)
        # ingest
        t0 = time.perf_counter()
        k_ing = digest("ingest", c["data"], inputs, version)
        d_ing, s_ing, cached = self._run_partition_stage(
            "ingest", k_ing, task_ingest, lambda sd, p: (sd, self.cfg_json, p), parts
        )
        instruments = {p.instrument: s["instrument"] for p, s in zip(parts, s_ing, strict=True)}
        ds_ing = Dataset(d_ing)
        for inst in instruments.values():
            if inst["symbol"] not in ds_ing.instruments():
                ds_ing.add_instrument(Instrument(**inst))
        record(
            "ingest",
            k_ing,
            d_ing,
            cached,
            t0,
            {"partitions": len(parts), "events": sum(s.get("events", 0) for s in s_ing)},
            s_ing,
        )
        # book
        t0 = time.perf_counter()
        k_book = digest("book", k_ing, c["book"])
        d_book, s_book, cached = self._run_partition_stage(
            "book", k_book, task_book, lambda sd, p: (sd, str(d_ing), self.cfg_json, p), parts
        )
        record(
            "book",
            k_book,
            d_book,
            cached,
            t0,
            {
                "snapshots": sum(s["snapshots"] for s in s_book),
                "crossed_events": sum(s["crossed_events"] for s in s_book),
            },
            s_book,
        )
        # filters
        t0 = time.perf_counter()
        k_flt = digest("filters", k_book, c["filters"])
        d_flt, s_flt, cached = self._run_partition_stage(
            "filters",
            k_flt,
            task_filters,
            lambda sd, p: (sd, str(d_ing), str(d_book), self.cfg_json, p, instruments[p.instrument]),
            parts,
        )
        record("filters", k_flt, d_flt, cached, t0, _merge_filter_reports(s_flt), s_flt)
        # features
        t0 = time.perf_counter()
        k_feat = digest("features", k_flt, c["features"])
        d_feat, s_feat, cached = self._run_partition_stage(
            "features",
            k_feat,
            task_features,
            lambda sd, p: (
                sd,
                str(d_ing),
                str(d_book),
                str(d_flt),
                self.cfg_json,
                p,
                instruments[p.instrument],
            ),
            parts,
        )
        record(
            "features",
            k_feat,
            d_feat,
            cached,
            t0,
            {"rows": sum(s["rows"] for s in s_feat), "columns": s_feat[0]["columns"] if s_feat else 0},
            s_feat,
        )
        # research (cross-partition, in this process)
        t0 = time.perf_counter()
        k_res = digest("research", k_feat, c["research"], c["execution"])
        d_res = self.cache.path("research", k_res)
        cached = self.cache.is_complete("research", k_res)
        if not cached:
            from orderflow.pipeline.stages import run_research_stage

            if self.on_progress:
                self.on_progress("research", 0, 1)
            self.cache.begin("research", k_res)
            run_research_stage(cfg, parts, Dataset(d_ing), Dataset(d_book), Dataset(d_feat), d_res)
            self.cache.commit("research", k_res)
            if self.on_progress:
                self.on_progress("research", 1, 1)
        metrics = json.loads((d_res / "metrics.json").read_text())
        record("research", k_res, d_res, cached, t0, _headline(metrics))
        # backtest
        k_bt = ""
        s_bt: list[dict[str, Any]] = []
        d_bt: Path | None = None
        if cfg.run.backtest:
            t0 = time.perf_counter()
            k_bt = digest("backtest", k_res, c["backtest"], c["execution"])
            d_bt, s_bt, cached = self._run_partition_stage(
                "backtest",
                k_bt,
                task_backtest,
                lambda sd, p: (sd, str(d_ing), str(d_res), self.cfg_json, p, instruments[p.instrument]),
                parts,
            )
            from orderflow.pipeline.stages import combine_backtests

            metrics["backtest"] = combine_backtests(parts, s_bt)
            record("backtest", k_bt, d_bt, cached, t0, metrics["backtest"].get("total", {}), s_bt)
        # metrics.json + report (always re-rendered: cheap, and it names this run)
        metrics["run"] = {"partitions": [p.name for p in parts], "stages": {r.stage: r.key for r in reports}}
        metrics_path = run_dir / "metrics.json"
        atomic_write_text(
            metrics_path, json.dumps(metrics, indent=2, sort_keys=True, default=_json_default) + "\n"
        )
        from orderflow.pipeline.stages import build_report

        t0 = time.perf_counter()
        report_path = run_dir / "report.html"
        build_report(
            cfg,
            run_id,
            parts,
            metrics,
            report_path,
            ingest=Dataset(d_ing),
            book=Dataset(d_book),
            filters=Dataset(d_flt),
            features=Dataset(d_feat),
            research_dir=d_res,
            backtest=Dataset(d_bt) if d_bt else None,
            filter_summaries=s_flt,
        )
        log["report_seconds"] = time.perf_counter() - t0
        log["finished"] = time.time()
        atomic_write_json(run_dir / "run_log.json", log)
        return RunResult(run_id, run_dir, reports, metrics, report_path, metrics_path)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _merge_filter_reports(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    flagged = 0
    for s in summaries:
        rep = s.get("report", {})
        flagged += int(rep.get("flagged_events", 0)) if isinstance(rep, dict) else 0
    return {"flagged_events": flagged}


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cls = metrics.get("classification", {})
    if "macro_f1" in cls:
        out["macro_f1"] = cls["macro_f1"]
    q = metrics.get("quantile", {})
    if "coverage_90" in q:
        out["coverage_90"] = q["coverage_90"]
    return out


def run_pipeline(cfg: PipelineConfig, **kwargs: Any) -> RunResult:
    return Pipeline(cfg, **kwargs).run()


__all__ = [
    "Partition",
    "Pipeline",
    "RunResult",
    "StageReport",
    "business_days",
    "plan_partitions",
    "run_pipeline",
    "stage_summaries",
]
