# ruff: noqa: NPY002  (numba supports only the legacy np.random API inside kernels)
"""Small helpers to build canonical BOOK_DELTAS / TRADES frames: by hand (tests, examples) or as a
reproducible random L2 stream (benchmarks, property tests)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from orderflow._numba import jit
from orderflow.backtest.engine import EventChunk
from orderflow.core.enums import Flags
from orderflow.core.schema import BOOK_DELTAS, TRADES, validate


def make_frames(
    deltas: Sequence[tuple[int, ...]], trades: Sequence[tuple[int, ...]] = ()
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical frames from tuples.

    ``deltas``: ``(ts_event, seq, side, action, price, size)`` or with a 7th ``order_id``.
    ``trades``: ``(ts_event, seq, price, size, aggressor)``. ``ts_recv = ts_event``; the last row of
    each ``seq`` gets the LAST flag.
    """
    d = pl.DataFrame(
        {
            "ts_event": [r[0] for r in deltas],
            "ts_recv": [r[0] for r in deltas],
            "seq": [r[1] for r in deltas],
            "side": [r[2] for r in deltas],
            "action": [r[3] for r in deltas],
            "price": [r[4] for r in deltas],
            "size": [r[5] for r in deltas],
            "order_id": [r[6] if len(r) > 6 else 0 for r in deltas],
            "flags": [int(Flags.LAST)] * len(deltas),
        },
        schema=BOOK_DELTAS.polars_schema(),
    )
    t = pl.DataFrame(
        {
            "ts_event": [r[0] for r in trades],
            "ts_recv": [r[0] for r in trades],
            "seq": [r[1] for r in trades],
            "price": [r[2] for r in trades],
            "size": [r[3] for r in trades],
            "aggressor": [r[4] for r in trades],
            "kind": [0] * len(trades),
            "trade_id": list(range(1, len(trades) + 1)),
            "order_id": [0] * len(trades),
            "flags": [int(Flags.LAST)] * len(trades),
        },
        schema=TRADES.polars_schema(),
    )
    return validate(d, BOOK_DELTAS), validate(t, TRADES)


@jit
def _gen(
    n, seed, tick, p0, width, dt_ns, executes, bid, ask, st, out_k, out_ts, out_side, out_act, out_px, out_sz
):
    """Random L2 stream over a book of ``width`` ticks around ``p0``. Every row is one venue message
    except trades, which print a trade and shrink the level in the same message. ``st`` = (best bid
    index, best ask index, clock, started) carries the generator across calls."""
    r = 0
    if st[3] == 0:
        np.random.seed(seed)
        c = width // 2
        for k in range(1, 11):
            bid[c - k] = 10 + k
            ask[c + k] = 10 + k
        st[0] = c - 1
        st[1] = c + 1
        st[2] = 1_700_000_000_000_000_000
        st[3] = 1
        for k in range(1, 11):  # the initial book, as absolute level sizes
            for side in (1, -1):
                out_k[r] = 0
                out_ts[r] = st[2]
                out_side[r] = side
                out_act[r] = 4
                out_px[r] = p0 + (side * -k) * tick
                out_sz[r] = 10 + k
                r += 1
    bb = st[0]
    ba = st[1]
    t = st[2]
    while r < n - 1:
        t += 1 + np.random.randint(0, 2 * dt_ns)
        u = np.random.random()
        side = 1 if np.random.random() < 0.5 else -1
        if u < 0.55 or bb < 12 or ba > width - 12 or bb < 0 or ba >= width:
            # add near the touch (may improve the touch by one tick)
            off = np.random.randint(-1, 8)
            if side == 1:
                k = bb - off
                if k >= ba:
                    k = ba - 1
                if k < 1:
                    k = 1
                bid[k] += 1 + np.random.randint(0, 20)
                sz = bid[k]
                if k > bb:
                    bb = k
            else:
                k = ba + off
                if k <= bb:
                    k = bb + 1
                if k > width - 2:
                    k = width - 2
                ask[k] += 1 + np.random.randint(0, 20)
                sz = ask[k]
                if k < ba:
                    ba = k
            out_k[r] = 0
            out_ts[r] = t
            out_side[r] = side
            out_act[r] = 4  # SET: absolute level size
            out_px[r] = p0 + (k - width // 2) * tick
            out_sz[r] = sz
            r += 1
        elif u < 0.85:
            # cancel part of a level near the touch
            off = np.random.randint(0, 8)
            k = bb - off if side == 1 else ba + off
            lvl = bid if side == 1 else ask
            if k <= 0 or k >= width - 1 or lvl[k] == 0:
                continue
            q = 1 + np.random.randint(0, lvl[k])
            lvl[k] -= q
            out_k[r] = 0
            out_ts[r] = t
            out_side[r] = side
            out_act[r] = 2  # REDUCE
            out_px[r] = p0 + (k - width // 2) * tick
            out_sz[r] = q
            r += 1
            if lvl[k] == 0 and k == (bb if side == 1 else ba):
                if side == 1:
                    while bb > 0 and bid[bb] == 0:
                        bb -= 1
                else:
                    while ba < width - 1 and ask[ba] == 0:
                        ba += 1
        else:
            # a trade against the touch: TRADES row then the level shrinks (same message)
            k = ba if side == 1 else bb
            lvl = ask if side == 1 else bid
            if lvl[k] == 0:
                continue
            q = 1 + np.random.randint(0, lvl[k])
            px = p0 + (k - width // 2) * tick
            out_k[r] = 1
            out_ts[r] = t
            out_side[r] = side
            out_act[r] = 0
            out_px[r] = px
            out_sz[r] = q
            r += 1
            lvl[k] -= q
            out_k[r] = 0
            out_ts[r] = t
            out_side[r] = -side
            out_act[r] = 3 if executes else 2
            out_px[r] = px
            out_sz[r] = q
            r += 1
            if lvl[k] == 0:
                if side == 1:
                    while ba < width - 1 and ask[ba] == 0:
                        ba += 1
                else:
                    while bb > 0 and bid[bb] == 0:
                        bb -= 1
    st[0] = bb
    st[1] = ba
    st[2] = t
    return r


def random_stream(
    n_events: int,
    *,
    seed: int = 0,
    tick: int = 10_000_000,
    p0: int = 100_000_000_000,
    width: int = 4096,
    mean_dt_ns: int = 1_000,
    executes: bool = False,
    recv_latency_ns: int = 0,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A reproducible random L2 stream (``SET`` adds, ``REDUCE`` cancels, trades) as canonical frames.

    Trades are a TRADES row followed, in the same ``seq``, by the level shrinking (``EXECUTE`` when
    ``executes``, else ``REDUCE``). Prices are ``p0 + k * tick``; ``ts_recv = ts_event + recv_latency_ns``.
    """
    n = int(n_events) + 1
    k = np.zeros(n, np.int64)
    ts = np.zeros(n, np.int64)
    side = np.zeros(n, np.int64)
    act = np.zeros(n, np.int64)
    px = np.zeros(n, np.int64)
    sz = np.zeros(n, np.int64)
    bid = np.zeros(width, np.int64)
    ask = np.zeros(width, np.int64)
    st = np.zeros(4, np.int64)
    r = _gen(n, seed, tick, p0, width, mean_dt_ns, executes, bid, ask, st, k, ts, side, act, px, sz)
    k, ts, side, act, px, sz = (a[:r] for a in (k, ts, side, act, px, sz))
    # seq: a trade and its level change share one seq
    new_msg = np.ones(r, bool)
    if r > 1:
        new_msg[1:] = ~((k[:-1] == 1) & (k[1:] == 0))
    seq = np.cumsum(new_msg).astype(np.int64)
    d = k == 0
    t = ~d
    deltas = pl.DataFrame(
        {
            "ts_event": ts[d],
            "ts_recv": ts[d] + recv_latency_ns,
            "seq": seq[d],
            "side": side[d].astype(np.int8),
            "action": act[d].astype(np.uint8),
            "price": px[d],
            "size": sz[d],
            "order_id": np.zeros(int(d.sum()), np.uint64),
            "flags": np.full(int(d.sum()), int(Flags.LAST), np.uint8),
        }
    )
    nt = int(t.sum())
    trades = pl.DataFrame(
        {
            "ts_event": ts[t],
            "ts_recv": ts[t] + recv_latency_ns,
            "seq": seq[t],
            "price": px[t],
            "size": sz[t],
            "aggressor": side[t].astype(np.int8),
            "kind": np.zeros(nt, np.uint8),
            "trade_id": np.arange(1, nt + 1, dtype=np.uint64),
            "order_id": np.zeros(nt, np.uint64),
            "flags": np.zeros(nt, np.uint8),
        }
    )
    return deltas, trades


class StreamGenerator:
    """The :func:`random_stream` process, produced chunk by chunk as ready-to-replay event arrays
    (memory flat in the stream length; used by ``orderflow bench backtest``)."""

    def __init__(self, *, seed: int = 0, tick: int = 10_000_000, p0: int = 100_000_000_000, width: int = 4096,
                 mean_dt_ns: int = 1_000, executes: bool = False, feed_latency_ns: int = 0) -> None:  # fmt: skip
        self.seed, self.tick, self.p0, self.width = seed, tick, p0, width
        self.mean_dt_ns, self.executes, self.feed_latency_ns = mean_dt_ns, executes, feed_latency_ns
        self.bid = np.zeros(width, np.int64)
        self.ask = np.zeros(width, np.int64)
        self.st = np.zeros(4, np.int64)
        self.seq = 0

    def next_events(self, n: int) -> EventChunk:
        """About ``n`` merged events (a trade and its level change are never split)."""
        bufs = [np.zeros(n + 2, np.int64) for _ in range(6)]
        k, ts, side, act, px, sz = bufs
        r = _gen(n + 2, self.seed, self.tick, self.p0, self.width, self.mean_dt_ns, self.executes,
                 self.bid, self.ask, self.st, k, ts, side, act, px, sz)  # fmt: skip
        k, ts, side, act, px, sz = (a[:r] for a in bufs)
        new_msg = np.ones(r, bool)
        if r > 1:
            new_msg[1:] = ~((k[:-1] == 1) & (k[1:] == 0))
        seq = self.seq + np.cumsum(new_msg).astype(np.int64)
        self.seq = int(seq[-1]) if r else self.seq
        last = np.ones(r, np.int64)
        if r > 1:
            last[:-1] = (seq[1:] != seq[:-1]).astype(np.int64)
        return EventChunk(
            ts, ts + self.feed_latency_ns, seq, k, side, act, px, sz, np.zeros(r, np.int64), last
        )


__all__ = ["StreamGenerator", "make_frames", "random_stream"]
