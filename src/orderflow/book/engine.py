"""The price-level (L2) book engine: BOOK_DELTAS in, sampled top-N BOOK_SNAPSHOTS out.

:class:`L2Book` is streaming: feed it chunks of a partition's deltas in ``seq`` order and its state
(levels, sampling clock, counters) carries over, so chunked processing equals one-shot processing.
Snapshots are emitted only at event boundaries (rows with ``Flags.LAST``) on a sampling clock
(:class:`~orderflow.book.clocks.ClockSpec`).

Bad data is never fixed silently: a REDUCE/EXECUTE larger than its level clamps the level to 0
(deleting it) and one on a missing level is ignored; both are counted in :class:`BookStats` and the
first ones are kept with their seq (:meth:`L2Book.anomalies`) for the QC table. A crossed or locked
book is kept as it is (the filters stage flags it) and counted.

The numba kernels and the state layout are documented in :mod:`orderflow.book._kernels`.
"""

from __future__ import annotations

import datetime as dt
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from orderflow.book import _kernels as K
from orderflow.book.clocks import ClockSpec
from orderflow.core.enums import BookAction, Flags
from orderflow.core.errors import ArtifactError, DataFormatError
from orderflow.core.io import Dataset
from orderflow.core.schema import BOOK_DELTAS, QC, TRADES, book_snapshots, level_names, validate

_DEFAULT_CHUNK_OUT = 1 << 20
_STAGE_ROWS = 4096
_ANOMALY_KEEP = 100_000
_INT_COLS = ("side", "action", "price", "size", "flags", "ts_event", "ts_recv", "seq")


@dataclass
class BookStats:
    """Counters of one engine (cumulative over all chunks it processed).

    ``events`` counts completed events (rows with LAST); ``rows`` all rows applied;
    ``negative_clamps`` REDUCE/EXECUTE rows larger than their level (level clamped to 0);
    ``missing_level_reductions`` REDUCE/EXECUTE rows on an absent level (ignored);
    ``crossed_events``/``locked_events`` events after which best bid > / == best ask;
    ``ignored_rows`` rows with an unknown action, side 0 outside CLEAR or an UNDEF price.
    """

    events: int = 0
    rows: int = 0
    snapshots: int = 0
    negative_clamps: int = 0
    missing_level_reductions: int = 0
    crossed_events: int = 0
    locked_events: int = 0
    ignored_rows: int = 0

    @classmethod
    def from_array(cls, a: np.ndarray) -> BookStats:
        return cls(
            events=int(a[K.ST_EVENTS]),
            rows=int(a[K.ST_ROWS]),
            snapshots=int(a[K.ST_SNAPSHOTS]),
            negative_clamps=int(a[K.ST_NEG_CLAMPS]),
            missing_level_reductions=int(a[K.ST_MISSING]),
            crossed_events=int(a[K.ST_CROSSED]),
            locked_events=int(a[K.ST_LOCKED]),
            ignored_rows=int(a[K.ST_IGNORED]),
        )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _level_buffer(depth: int, rows: int) -> np.ndarray:
    """Snapshot level buffer int64[4 * depth, rows + pad].

    The padding keeps consecutive rows (one per output column) off the same L1 cache set: with a
    row stride that is a multiple of 4 KiB, the 4 * depth writes of each snapshot would all alias
    and evict each other (a 5x slowdown at depth 10). Kernels take the capacity from ``out_ts``.
    """
    return np.empty((4 * depth, rows + 8), dtype=np.int64)


def _sorted_check(seq: np.ndarray, where: str) -> None:
    if seq.shape[0] > 1:
        bad = np.flatnonzero(seq[1:] < seq[:-1])
        if bad.shape[0]:
            r = int(bad[0]) + 1
            raise DataFormatError(
                f"rows must be in seq order to merge trades (seq {int(seq[r])} after {int(seq[r - 1])})",
                path=where or None,
                line=r,
                field="seq",
            )


def _merge_trades(
    cols: dict[str, np.ndarray], trades: pl.DataFrame
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Credit trade volume to the first delta row of its seq; trades without deltas become no-op events.

    Returns the (possibly extended) delta columns and the per-row volume array.
    """
    dseq = cols["seq"]
    _sorted_check(dseq, "book_deltas")
    vol = np.zeros(dseq.shape[0], dtype=np.int64)
    if trades.height == 0:
        return cols, vol
    tseq = trades["seq"].to_numpy()
    tsize = trades["size"].to_numpy().astype(np.int64, copy=False)
    tts = trades["ts_event"].to_numpy()
    trecv = trades["ts_recv"].to_numpy()
    if tseq.shape[0] > 1 and np.any(tseq[1:] < tseq[:-1]):
        order = np.argsort(tseq, kind="stable")
        tseq, tsize, tts, trecv = tseq[order], tsize[order], tts[order], trecv[order]
    uniq, first = np.unique(tseq, return_index=True)
    tvol = np.add.reduceat(tsize, first)
    pos = np.searchsorted(dseq, uniq, side="left")
    found = pos < dseq.shape[0]
    found[found] = dseq[pos[found]] == uniq[found]
    vol[pos[found]] = tvol[found]
    miss = ~found
    if not miss.any():
        return cols, vol
    at = pos[miss]
    k = int(miss.sum())
    pseudo = {
        "side": np.zeros(k, dtype=cols["side"].dtype),
        "action": np.full(k, K.A_NOOP, dtype=cols["action"].dtype),
        "price": np.zeros(k, dtype=cols["price"].dtype),
        "size": np.zeros(k, dtype=cols["size"].dtype),
        "flags": np.full(k, int(Flags.LAST), dtype=cols["flags"].dtype),
        "ts_event": tts[first[miss]].astype(cols["ts_event"].dtype),
        "ts_recv": trecv[first[miss]].astype(cols["ts_recv"].dtype),
        "seq": uniq[miss].astype(dseq.dtype),
    }
    out = {c: np.insert(cols[c], at, pseudo[c]) for c in _INT_COLS}
    return out, np.insert(vol, at, tvol[miss])


class L2Book:
    """Streaming price-level book with top-``depth`` snapshots on a sampling clock.

    Parameters
    ----------
    depth
        Levels per side in each snapshot (DBN mbp-N columns; empty levels UNDEF_PRICE/0).
    clock
        When to snapshot (default: after every event). See :mod:`orderflow.book.clocks`.
    capacity
        Initial levels per side; the state doubles automatically when a side fills up.

    Examples
    --------
    >>> book = L2Book(depth=5, clock=ClockSpec.parse("time:1s"))   # doctest: +SKIP
    >>> for chunk in chunks:                                        # doctest: +SKIP
    ...     snaps = book.process(chunk)                             # state carries over
    >>> book.stats.negative_clamps                                  # doctest: +SKIP
    """

    def __init__(self, depth: int = 10, clock: ClockSpec | None = None, capacity: int = 4096) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1 (got {depth})")
        self.depth = int(depth)
        self.clock = clock or ClockSpec()
        self.keys, self.sizes, self.nlev = K.new_state(capacity)
        self.clk = K.new_clock()
        self._stats = K.new_stats()
        self._an_seq: list[np.ndarray] = []
        self._an_ts: list[np.ndarray] = []
        self._an_code: list[np.ndarray] = []
        self._an_kept = 0
        self.schema = book_snapshots(self.depth)
        self.columns = ["ts_event", "ts_recv", "seq", *level_names(self.depth)]

    # -- state ----------------------------------------------------------------------------------------
    @property
    def stats(self) -> BookStats:
        """Counters so far (a copy)."""
        return BookStats.from_array(self._stats)

    def best(self) -> tuple[int, int, int, int]:
        """``(bid_px, bid_sz, ask_px, ask_sz)``; UNDEF_PRICE/0 for an empty side."""
        bp, bs, ap, az = K.best_bid_ask(self.keys, self.sizes, self.nlev)
        return int(bp), int(bs), int(ap), int(az)

    def levels(self, side: int) -> tuple[np.ndarray, np.ndarray]:
        """All occupied levels of ``side`` (+1 bid, -1 ask) best first: ``(prices, sizes)`` (copies)."""
        if side not in (1, -1):
            raise ValueError(f"side must be +1 (bid) or -1 (ask), got {side}")
        s = 0 if side == 1 else 1
        n = int(self.nlev[s])
        keys = self.keys[s, :n][::-1]
        prices = keys.copy() if s == 0 else ~keys
        return np.ascontiguousarray(prices), self.sizes[s, :n][::-1].copy()

    def snapshot_deltas(self, ts_event: int, seq: int, ts_recv: int | None = None) -> pl.DataFrame:
        """The current book as BOOK_DELTAS: CLEAR (side 0) then one SET per level, all flagged SNAPSHOT.

        The last row carries LAST, so the rows form one event; replaying them into an empty engine
        reproduces this state (DBN's snapshot convention).
        """
        recv = ts_event if ts_recv is None else ts_recv
        sides, prices, sizes = [0], [0], [0]
        actions = [int(BookAction.CLEAR)]
        for side in (1, -1):
            p, s = self.levels(side)
            sides += [side] * len(p)
            prices += p.tolist()
            sizes += s.tolist()
            actions += [int(BookAction.SET)] * len(p)
        n = len(sides)
        flags = [int(Flags.SNAPSHOT)] * n
        flags[-1] |= int(Flags.LAST)
        return pl.DataFrame(
            {
                "ts_event": [ts_event] * n,
                "ts_recv": [recv] * n,
                "seq": [seq] * n,
                "side": sides,
                "action": actions,
                "price": prices,
                "size": sizes,
                "order_id": [0] * n,
                "flags": flags,
            },
            schema=BOOK_DELTAS.polars_schema(),
        )

    def anomalies(self) -> pl.DataFrame:
        """QC rows for the first 100,000 clamped/missing-level reductions (all are counted in stats)."""
        if self._an_seq:
            seq = np.concatenate(self._an_seq)
            ts = np.concatenate(self._an_ts)
            code = np.concatenate(self._an_code)
        else:
            seq = ts = np.zeros(0, dtype=np.int64)
            code = np.zeros(0, dtype=np.int8)
        reason = np.where(code == K.AN_NEG_CLAMP, "negative_clamp", "missing_level")
        df = pl.DataFrame(
            {
                "seq": seq,
                "ts_event": ts,
                "table": ["book_deltas"] * len(seq),
                "rule": ["book_engine"] * len(seq),
                "reason": reason.tolist(),
                "action": ["mark"] * len(seq),
                "detail": np.where(
                    code == K.AN_NEG_CLAMP,
                    "REDUCE/EXECUTE larger than level: clamped to 0",
                    "REDUCE/EXECUTE on a missing level: ignored",
                ).tolist(),
            },
            schema=QC.polars_schema(),
        )
        return validate(df, QC)

    # -- processing -----------------------------------------------------------------------------------
    def run_arrays(
        self, cols: dict[str, np.ndarray], vol: np.ndarray | None, out_rows: int = 4096
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Low-level loop over numpy columns (keys ``side, action, price, size, flags, ts_event, ts_recv, seq``).

        ``vol`` is the traded volume per row (None: EXECUTE sizes count as volume). Yields
        ``(n, ts_event, ts_recv, seq, levels)`` output buffers holding ``n`` snapshots each; the
        buffers are REUSED for the next yield, so consume (or copy) them before resuming.
        """
        out_rows = max(int(out_rows), 1)
        out_ts = np.empty(out_rows, dtype=np.int64)
        out_recv = np.empty(out_rows, dtype=np.int64)
        out_seq = np.empty(out_rows, dtype=np.int64)
        out_lv = _level_buffer(self.depth, out_rows)
        yield from self._run(cols, vol, out_ts, out_recv, out_seq, out_lv, reuse=True)

    def _run(
        self,
        cols: dict[str, np.ndarray],
        vol: np.ndarray | None,
        out_ts: np.ndarray,
        out_recv: np.ndarray,
        out_seq: np.ndarray,
        out_lv: np.ndarray,
        reuse: bool,
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        v = np.zeros(0, dtype=np.int64) if vol is None else vol
        an_cap = 4096 if self._an_kept < _ANOMALY_KEEP else 0
        an_seq = np.empty(an_cap, dtype=np.int64)
        an_ts = np.empty(an_cap, dtype=np.int64)
        an_code = np.empty(an_cap, dtype=np.int8)
        start = 0
        n_out = 0
        clock = self.clock
        while True:
            self._stats[K.ST_ANOMALIES] = 0
            nxt, n_out, status = K.process_deltas(
                cols["side"],
                cols["action"],
                cols["price"],
                cols["size"],
                cols["flags"],
                cols["ts_event"],
                cols["ts_recv"],
                cols["seq"],
                v,
                start,
                self.keys,
                self.sizes,
                self.nlev,
                self.clk,
                self._stats,
                clock.code,
                clock.every,
                self.depth,
                out_ts,
                out_recv,
                out_seq,
                out_lv,
                n_out,
                an_seq,
                an_ts,
                an_code,
            )
            na = int(self._stats[K.ST_ANOMALIES])
            if na:
                keep = min(na, _ANOMALY_KEEP - self._an_kept)
                self._an_seq.append(an_seq[:keep].copy())
                self._an_ts.append(an_ts[:keep].copy())
                self._an_code.append(an_code[:keep].copy())
                self._an_kept += keep
                if self._an_kept >= _ANOMALY_KEEP:
                    an_seq, an_ts, an_code = an_seq[:0], an_ts[:0], an_code[:0]
            start = int(nxt)
            if status == K.NEED_CAPACITY:
                self.keys, self.sizes = K.grow_state(self.keys, self.sizes)
                continue
            if n_out:
                yield int(n_out), out_ts, out_recv, out_seq, out_lv
                n_out = 0
                if not reuse and status == K.OUTPUT_FULL:
                    m = out_ts.shape[0]
                    out_ts, out_recv, out_seq = (np.empty(m, dtype=np.int64) for _ in range(3))
                    out_lv = _level_buffer(self.depth, m)
            if status == K.OK:
                return

    def _columns(
        self, deltas: pl.DataFrame, trades: pl.DataFrame | None
    ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        deltas = validate(deltas, BOOK_DELTAS, where="L2Book.process")
        cols = {c: deltas[c].to_numpy() for c in _INT_COLS}
        vol: np.ndarray | None = None
        if trades is not None and self.clock.needs_trades:
            trades = validate(trades, TRADES, where="L2Book.process trades")
            cols, vol = _merge_trades(cols, trades)
        return cols, vol

    def iter_process(
        self, deltas: pl.DataFrame, trades: pl.DataFrame | None = None, max_rows: int = _DEFAULT_CHUNK_OUT
    ) -> Iterator[pl.DataFrame]:
        """Like :meth:`process`, yielding the snapshots as frames of at most ``max_rows`` rows."""
        cols, vol = self._columns(deltas, trades)
        n = cols["side"].shape[0]
        if n == 0:
            return
        last = int(np.count_nonzero(cols["flags"] & int(Flags.LAST)))
        if self.clock.kind == "time":
            span = int(cols["ts_event"].max()) - int(cols["ts_event"].min())
            est = last + span // self.clock.every + 2
        elif self.clock.kind == "events":
            est = last // self.clock.every + 2
        else:
            est = last + 1
        m = max(1, min(int(est), int(max_rows)))
        # The kernel writes into a small cache-resident staging buffer; each full stage is copied
        # column by column (sequential memcpy) into the frame's arrays. Writing the 4 * depth columns
        # of a large buffer directly, one scattered row at a time, is ~3x slower (TLB and DRAM bound).
        dst = np.empty((3 + 4 * self.depth, m), dtype=np.int64)
        filled = 0
        for k, ts, recv, seq, lv in self.run_arrays(cols, vol, out_rows=min(m, _STAGE_ROWS)):
            done = 0
            while done < k:
                take = min(k - done, m - filled)
                dst[0, filled : filled + take] = ts[done : done + take]
                dst[1, filled : filled + take] = recv[done : done + take]
                dst[2, filled : filled + take] = seq[done : done + take]
                dst[3:, filled : filled + take] = lv[:, done : done + take]
                filled += take
                done += take
                if filled == m:
                    yield self._frame(dst, filled)
                    dst = np.empty((3 + 4 * self.depth, m), dtype=np.int64)
                    filled = 0
        if filled:
            yield self._frame(dst, filled)

    def flush(self, until_ns: int) -> pl.DataFrame:
        """Time clock only: emit the grid times ``<= until_ns`` still pending after the last event.

        Call this once the stream is known to have ended (e.g. at the session close): the book is
        then unchanged up to ``until_ns``, so those grid rows are final. Returns an empty frame for
        other clocks, before the first event, or when no grid time is pending.
        """
        if self.clock.kind != "time" or self.clk[K.CS_GRID_INIT] == 0:
            return self.schema.empty()
        g0 = int(self.clk[K.CS_NEXT_GRID])
        every = self.clock.every
        if until_ns < g0:
            return self.schema.empty()
        grid = np.arange(g0, int(until_ns) + 1, every, dtype=np.int64)
        k = grid.shape[0]
        out_ts, out_recv, out_seq = (np.empty(1, dtype=np.int64) for _ in range(3))
        lv = _level_buffer(self.depth, 1)
        K.write_snapshot(
            self.keys,
            self.sizes,
            self.nlev,
            self.depth,
            0,
            0,
            0,
            int(self.clk[K.CS_LAST_SEQ]),
            out_ts,
            out_recv,
            out_seq,
            lv.reshape(lv.size),
            lv.shape[1],
        )
        dst = np.empty((3 + 4 * self.depth, k), dtype=np.int64)
        dst[0] = grid
        dst[1] = grid
        dst[2] = out_seq[0]
        dst[3:] = lv[:, :1]
        self.clk[K.CS_NEXT_GRID] = g0 + k * every
        self._stats[K.ST_SNAPSHOTS] += k
        return self._frame(dst, k)

    def _frame(self, dst: np.ndarray, k: int) -> pl.DataFrame:
        return pl.DataFrame({name: dst[j, :k] for j, name in enumerate(self.columns)})

    def process(self, deltas: pl.DataFrame, trades: pl.DataFrame | None = None) -> pl.DataFrame:
        """Apply one chunk of BOOK_DELTAS (in seq order) and return its BOOK_SNAPSHOTS(depth).

        ``trades`` (TRADES rows of the same seq range) feed the volume and trade clocks; without them
        EXECUTE deltas count as trades. State carries over between calls, so a partition may be fed
        in chunks (an event may even straddle two chunks).
        """
        parts = list(self.iter_process(deltas, trades))
        if not parts:
            return self.schema.empty()
        return parts[0] if len(parts) == 1 else pl.concat(parts, rechunk=False)


def reconstruct(
    deltas: pl.DataFrame,
    *,
    depth: int = 10,
    clock: ClockSpec | None = None,
    trades: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Replay BOOK_DELTAS from an empty book; return BOOK_SNAPSHOTS(depth) on ``clock``."""
    return L2Book(depth=depth, clock=clock).process(deltas, trades)


def reconstruct_dataset(
    ds: Dataset,
    instrument: str,
    date: dt.date | str,
    *,
    depth: int = 10,
    clock: ClockSpec | None = None,
    chunk_rows: int = 2_000_000,
    table: str = "book_snapshots",
    out: Dataset | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> BookStats:
    """Stream one partition's ``book_deltas`` (+ ``trades`` for volume/trade clocks) into ``table``.

    Deltas are read ``chunk_rows`` at a time (pyarrow ``iter_batches``) and snapshots are written as
    they come (atomic partition write), so memory is bounded by the chunk size, not the day.
    ``out`` writes to another dataset (default: ``ds``). ``on_progress(rows_done, rows_total)`` is
    called after each chunk. Returns the engine's counters.
    """
    clock = clock or ClockSpec()
    d = ds.partition_dir("book_deltas", instrument, date)
    files = sorted(d.glob("part-*.parquet"))
    if not files:
        raise ArtifactError(f"{d}: no book_deltas Parquet files for ({instrument}, {date})")
    trades: pl.DataFrame | None = None
    tseq = np.zeros(0, dtype=np.int64)
    if clock.needs_trades and ds.has("trades", instrument, date):
        trades = ds.read("trades", instrument, date).sort("seq", maintain_order=True)
        tseq = trades["seq"].to_numpy()
    book = L2Book(depth=depth, clock=clock)
    pfs = [pq.ParquetFile(f) for f in files]
    total = sum(pf.metadata.num_rows for pf in pfs)
    done = 0
    t_lo = 0
    target = out or ds
    with target.writer(table, instrument, date, schema=book.schema) as w:
        for pf in pfs:
            for batch in pf.iter_batches(batch_size=max(int(chunk_rows), 1)):
                chunk = pl.from_arrow(batch)
                assert isinstance(chunk, pl.DataFrame)
                tr = None
                if trades is not None and chunk.height:
                    t_hi = int(np.searchsorted(tseq, int(chunk["seq"][-1]), side="right"))
                    tr = trades.slice(t_lo, t_hi - t_lo)
                    t_lo = t_hi
                for snaps in book.iter_process(chunk, tr, max_rows=max(int(chunk_rows) // 4, 1024)):
                    w.write(snaps)
                done += chunk.height
                if on_progress is not None:
                    on_progress(done, total)
        if trades is not None and t_lo < trades.height:  # trades after the last delta
            for snaps in book.iter_process(BOOK_DELTAS.empty(), trades.slice(t_lo)):
                w.write(snaps)
    return book.stats


# -- benchmark ------------------------------------------------------------------------------------------------
def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far, in bytes."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r if sys.platform == "darwin" else r * 1024)


class SyntheticStream:
    """Reproducible, never-crossing synthetic L2 delta stream, generated chunk by chunk.

    ``levels`` is the target number of levels per side; prices are ticks of ``tick`` (1e-9 units)
    drifting from ``mid``. The same seed gives the same stream whatever the chunk sizes.
    """

    def __init__(
        self, levels: int = 50, seed: int = 0, tick: int = 10_000_000, mid_ticks: int = 10_000
    ) -> None:
        self.levels = max(int(levels), 1)
        self.tick = int(tick)
        self.rng = np.random.default_rng(seed)
        self.keys, self.sizes, self.nlev = K.new_state(max(4 * self.levels + 64, 256))
        self.st = np.array([1_700_000_000 * 10**9, 0, int(mid_ticks)], dtype=np.int64)

    def next(self, events: int) -> dict[str, np.ndarray]:
        """The next ``events`` events as BOOK_DELTAS numpy columns (one or two rows per event)."""
        u = self.rng.random((int(events), 4))
        m = 2 * int(events)
        side = np.empty(m, dtype=np.int8)
        action = np.empty(m, dtype=np.uint8)
        price = np.empty(m, dtype=np.int64)
        size = np.empty(m, dtype=np.int64)
        flags = np.empty(m, dtype=np.uint8)
        ts = np.empty(m, dtype=np.int64)
        seq = np.empty(m, dtype=np.int64)
        n = int(
            K.synth_stream(
                u,
                self.levels,
                self.tick,
                self.keys,
                self.sizes,
                self.nlev,
                self.st,
                side,
                action,
                price,
                size,
                flags,
                ts,
                seq,
            )
        )
        return {
            "side": side[:n],
            "action": action[:n],
            "price": price[:n],
            "size": size[:n],
            "flags": flags[:n],
            "ts_event": ts[:n],
            "ts_recv": ts[:n],
            "seq": seq[:n],
        }

    @staticmethod
    def to_frame(cols: dict[str, np.ndarray]) -> pl.DataFrame:
        """Columns from :meth:`next` as a BOOK_DELTAS frame."""
        data: dict[str, Any] = dict(cols)
        data["order_id"] = np.zeros(cols["side"].shape[0], dtype=np.uint64)
        return pl.DataFrame(data).select(BOOK_DELTAS.names)


def run_benchmark(
    events: int,
    levels: int,
    *,
    depth: int = 10,
    bbo_only: bool = False,
    seed: int = 0,
    chunk_events: int = 1 << 20,
    out_rows: int = 1 << 10,
) -> dict[str, Any]:
    """Time the engine (snapshots on every event) over a synthetic stream, generated in chunks.

    Only the engine kernel is timed (after a JIT warm-up); each chunk's snapshots are consumed and
    dropped, so memory stays bounded for any ``events``. ``bbo_only`` emits depth-1 snapshots.
    ``seconds`` is wall time; ``cpu_seconds`` the thread's CPU time (less sensitive to other load on
    a shared machine).
    """
    depth = 1 if bbo_only else int(depth)
    warm = SyntheticStream(levels=levels, seed=seed + 1)
    wb = L2Book(depth=depth)
    for _ in wb.run_arrays(warm.next(2000), None, out_rows=out_rows):
        pass
    gen = SyntheticStream(levels=levels, seed=seed)
    book = L2Book(depth=depth)
    out_ts = np.empty(out_rows, dtype=np.int64)
    out_recv = np.empty(out_rows, dtype=np.int64)
    out_seq = np.empty(out_rows, dtype=np.int64)
    out_lv = _level_buffer(depth, out_rows)
    checksum = 0
    seconds = 0.0
    cpu = 0.0
    left = int(events)
    while left > 0:
        ne = min(left, int(chunk_events))
        cols = gen.next(ne)
        left -= ne
        t0 = time.perf_counter()
        c0 = time.thread_time()
        for k, _ts, _recv, _seq, lv in book._run(cols, None, out_ts, out_recv, out_seq, out_lv, reuse=True):
            checksum ^= int(lv[0, k - 1])  # consume the output so nothing is optimised away
        cpu += time.thread_time() - c0
        seconds += time.perf_counter() - t0
        del cols
    st = book.stats
    return {
        "events": st.events,
        "rows": st.rows,
        "levels": int(levels),
        "depth": depth,
        "seconds": round(seconds, 6),
        "events_per_s": st.events / seconds if seconds > 0 else float("inf"),
        "peak_rss_bytes": peak_rss_bytes(),
        "cpu_seconds": round(cpu, 6),
        "events_per_cpu_s": st.events / cpu if cpu > 0 else float("inf"),
        "snapshots": st.snapshots,
        "final_levels": [int(book.nlev[0]), int(book.nlev[1])],
        "negative_clamps": st.negative_clamps,
        "missing_level_reductions": st.missing_level_reductions,
        "crossed_events": st.crossed_events,
        "checksum": checksum,
    }


__all__ = [
    "BookStats",
    "L2Book",
    "SyntheticStream",
    "peak_rss_bytes",
    "reconstruct",
    "reconstruct_dataset",
    "run_benchmark",
]
