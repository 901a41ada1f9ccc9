"""Order-level (L3, market-by-order) book.

:class:`L3Book` keeps every resting order (side, price, remaining size, queue priority) in an
open-addressing hash table held in numpy arrays and maps each order event to price-level
BOOK_DELTAS rows (carrying ``order_id``) for the L2 engine. It is streaming: call
:meth:`L3Book.apply` on consecutive chunks of one event stream.

Event semantics (``action`` input codes):

============  ===========================================================================
L3_ADD        new order (side, price, size). An add for an id already resting counts as a
              ``duplicate_adds`` and replaces it (REDUCE of the old remainder, then ADD).
L3_CANCEL     reduce the order by ``size``; it leaves the book at 0. A size larger than the
              remainder counts as ``over_reductions`` and removes the remainder.
L3_MODIFY     set the order to (price, size). A price change (or side change) is a REDUCE of
              the old remainder at the old price and an ADD at the new one, and the order loses
              its priority; at the same price a size increase is an ADD of the difference and
              loses priority, a decrease is a REDUCE and keeps it; size 0 removes the order.
L3_EXECUTE    reduce by ``size`` because of a trade: an EXECUTE delta.
L3_DELETE     remove the whole remaining order (``size`` ignored).
L3_CLEAR      clear the whole book: one CLEAR row (side 0).
L3_NONE       no book change (a trade print, a status record): carries flags, so an event may
              end on it.
============  ===========================================================================

Cancel/modify/execute/delete for an order not in the book counts as ``unknown_order_refs`` and
produces no row. Adds with side 0, an undefined price or size <= 0 count as ``invalid`` and
produce no row (market-order-like records never rest). Nothing raises on bad input.

Flags: every output row carries its record's flags, except that only the last row of a record
keeps :attr:`~orderflow.core.enums.Flags.LAST`; when an event-ending record produces no row,
LAST moves onto the event's previous row (if it is in the same :meth:`apply` call; otherwise it
is counted in ``lost_last``).

Priority: a global counter is bumped on each add and each priority-losing modify, and the order
takes its value. Orders at one (side, price) queue in increasing priority, so the exact FIFO
position of an order is the number of orders at its level with a smaller priority
(:meth:`L3Book.queue_ahead`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from orderflow.book import _l3_kernels as K
from orderflow.core.enums import UNDEF_PRICE
from orderflow.core.schema import BOOK_DELTAS

L3_NONE = 0
L3_ADD = 1
L3_CANCEL = 2
L3_MODIFY = 3
L3_EXECUTE = 4
L3_DELETE = 5
L3_CLEAR = 6


@dataclass
class L3Stats:
    """Counters over everything applied so far."""

    records: int = 0
    unknown_order_refs: int = 0
    duplicate_adds: int = 0
    over_reductions: int = 0
    invalid: int = 0
    """adds with side 0 / undefined price / size <= 0, negative sizes, unknown action codes"""
    side_changes: int = 0
    """modifies that moved an order to the other side (applied as delete + add)"""
    clears: int = 0
    crossed_events: int = 0
    """event ends (LAST records) after which best bid >= best ask"""
    lost_last: int = 0
    """event-ending records that produced no row and had no earlier row in the same call"""
    orders: int = 0
    """orders resting now"""

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def stats_from_counters(c: np.ndarray) -> L3Stats:
    """:class:`L3Stats` of a book's counter array (``_l3_kernels`` ``C_*`` layout)."""
    return L3Stats(
        records=int(c[K.C_RECORDS]),
        unknown_order_refs=int(c[K.C_UNKNOWN]),
        duplicate_adds=int(c[K.C_DUP_ADD]),
        over_reductions=int(c[K.C_OVER]),
        invalid=int(c[K.C_INVALID]),
        side_changes=int(c[K.C_SIDE_CHANGE]),
        clears=int(c[K.C_CLEARS]),
        crossed_events=int(c[K.C_CROSSED]),
        lost_last=int(c[K.C_LOST_LAST]),
        orders=int(c[K.C_ORDERS]),
    )


def _bits_for(capacity: int) -> int:
    bits = 4
    while (1 << bits) < capacity:
        bits += 1
    return bits


class L3Book:
    """Order-level book; see the module docstring for the event semantics.

    Parameters
    ----------
    capacity
        Initial number of hash slots for orders (a power of two is used; the table grows when
        half full, so ``capacity / 2`` orders rest before the first growth).
    """

    def __init__(self, capacity: int = 1 << 20) -> None:
        self._obits = max(_bits_for(capacity), K.MIN_BITS)
        self._lbits = max(_bits_for(capacity // 256), K.MIN_BITS)
        self._ot = np.zeros((1 << self._obits, 4), dtype=np.int64)
        self._lt = np.zeros((2, 1 << self._lbits, 3), dtype=np.int64)
        self._hp = np.zeros((2, 1 << self._lbits), dtype=np.int64)
        self._cnt = np.zeros(K.N_COUNTERS, dtype=np.int64)
        self._cnt[K.C_BEST_BID] = K.NO_BID
        self._cnt[K.C_BEST_ASK] = K.UNDEF
        self.last_crossed: np.ndarray = np.zeros(0, dtype=np.uint8)
        """Per input record of the last :meth:`apply` call: 1 when it ended an event (LAST) on a
        crossed or locked book."""
        self.last_cross_prices: np.ndarray = np.zeros((2, 0), dtype=np.int64)
        """(best bid, best ask) after each record of the last :meth:`apply` call where
        :attr:`last_crossed` is 1 (other columns are undefined)."""

    def _grow(self) -> None:
        if self._cnt[K.C_ORDERS] + 1 > (1 << self._obits) >> 1:
            self._obits += 1
            nt = np.zeros((1 << self._obits, 4), dtype=np.int64)
            K.rehash_orders(self._ot, nt, self._obits)
            self._ot = nt
        half = (1 << self._lbits) >> 1
        if self._cnt[K.C_LEVELS_BID] + 1 > half or self._cnt[K.C_LEVELS_ASK] + 1 > half:
            self._lbits += 1
            lt = np.zeros((2, 1 << self._lbits, 3), dtype=np.int64)
            K.rehash_levels(self._lt, lt, self._lbits)
            self._lt = lt
            self._hp = np.zeros((2, 1 << self._lbits), dtype=np.int64)
            K.heap_rebuild(self._lt, self._hp, self._cnt, 0)
            K.heap_rebuild(self._lt, self._hp, self._cnt, 1)

    @property
    def capacity(self) -> int:
        """Current number of order slots."""
        return 1 << self._obits

    # -- events -------------------------------------------------------------------------------------
    def apply_arrays(
        self,
        ts_event: np.ndarray,
        ts_recv: np.ndarray,
        seq: np.ndarray,
        action: np.ndarray,
        side: np.ndarray,
        price: np.ndarray,
        size: np.ndarray,
        order_id: np.ndarray,
        flags: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """As :meth:`apply`, returning the BOOK_DELTAS columns as numpy arrays (no polars frame)."""
        n = len(action)
        cols: dict[str, np.ndarray] = {
            "ts_event": np.ascontiguousarray(ts_event, dtype=np.int64),
            "ts_recv": np.ascontiguousarray(ts_recv, dtype=np.int64),
            "seq": np.ascontiguousarray(seq, dtype=np.int64),
            "action": np.ascontiguousarray(action, dtype=np.uint8),
            "side": np.ascontiguousarray(side, dtype=np.int8),
            "price": np.ascontiguousarray(price, dtype=np.int64),
            "size": np.ascontiguousarray(size, dtype=np.int64),
            "order_id": np.ascontiguousarray(order_id, dtype=np.uint64).view(np.int64),
            "flags": np.ascontiguousarray(flags, dtype=np.uint8),
        }
        for name, a in cols.items():
            if len(a) != n:
                raise ValueError(f"L3Book.apply: column '{name}' has {len(a)} rows, 'action' has {n}")
        act = cols["action"]
        # each record emits at most one row, except adds (duplicate) and modifies (price change)
        m = n + int(np.count_nonzero((act == L3_ADD) | (act == L3_MODIFY))) if n else 0
        # row stride 192 bytes off a multiple of 4 KiB: the 9 output streams do not share cache sets
        width = ((m + 511) // 512) * 512 + 24
        out = np.empty((9, width), dtype=np.int64)
        crossed = np.zeros(n, dtype=np.uint8)
        cross_px = np.empty((2, n), dtype=np.int64)
        i, pos = 0, 0
        while True:
            i, pos = K.l3_apply(
                i,
                n,
                pos,
                cols["ts_event"],
                cols["ts_recv"],
                cols["seq"],
                act,
                cols["side"],
                cols["price"],
                cols["size"],
                cols["order_id"],
                cols["flags"],
                self._ot,
                self._obits,
                self._lt,
                self._hp,
                self._lbits,
                self._cnt,
                out,
                crossed,
                cross_px,
            )
            if i >= n:
                break
            self._grow()
        self.last_crossed = crossed
        self.last_cross_prices = cross_px
        res = {name: out[k, :pos] for k, name in enumerate(K.OUT_COLUMNS)}
        res["side"] = res["side"].astype(np.int8)
        res["action"] = res["action"].astype(np.uint8)
        res["flags"] = res["flags"].astype(np.uint8)
        res["order_id"] = res["order_id"].view(np.uint64)
        return res

    def apply(
        self,
        ts_event: np.ndarray,
        ts_recv: np.ndarray,
        seq: np.ndarray,
        action: np.ndarray,
        side: np.ndarray,
        price: np.ndarray,
        size: np.ndarray,
        order_id: np.ndarray,
        flags: np.ndarray,
    ) -> pl.DataFrame:
        """Apply a chunk of order events; return the BOOK_DELTAS rows they cause (in order).

        Inputs are equal-length arrays: ``ts_event``/``ts_recv`` (int64 ns UTC), ``seq`` (int64,
        copied to the rows), ``action`` (L3_* codes), ``side`` (+1 bid, -1 ask, 0 unknown),
        ``price`` (int64 1e-9 units), ``size`` (int64), ``order_id`` (uint64), ``flags`` (uint8,
        DBN bits). State carries over to the next call.
        """
        cols = self.apply_arrays(ts_event, ts_recv, seq, action, side, price, size, order_id, flags)
        return pl.DataFrame(
            {c.name: pl.Series(c.name, cols[c.name], dtype=c.dtype) for c in BOOK_DELTAS.columns}
        )

    # -- queries ------------------------------------------------------------------------------------
    @property
    def stats(self) -> L3Stats:
        return stats_from_counters(self._cnt)

    def __len__(self) -> int:
        return int(self._cnt[K.C_ORDERS])

    def _slot(self, order_id: int) -> int:
        key = np.array([order_id], dtype=np.uint64).view(np.int64)[0]
        return int(K.find_order(self._ot, self._obits, key))

    def order(self, order_id: int) -> tuple[int, int, int, int] | None:
        """``(side, price, size, priority)`` of a resting order, or None."""
        j = self._slot(order_id)
        if j < 0:
            return None
        ps = int(self._ot[j, K.O_PS])
        return (1 if ps & 3 == 1 else -1), int(self._ot[j, K.O_PRICE]), int(self._ot[j, K.O_SIZE]), ps >> 2

    def _level(self, side: int, price: int) -> tuple[int, int]:
        s = 0 if side == 1 else 1
        j = int(K.find_level(self._lt, self._lbits, s, np.int64(price)))
        if j < 0:
            return 0, 0
        return int(self._lt[s, j, K.L_SIZE]), int(self._lt[s, j, K.L_COUNT])

    def depth_at(self, side: int, price: int) -> int:
        """Aggregate resting size at (side, price); 0 when the level is empty."""
        return self._level(side, price)[0]

    def count_at(self, side: int, price: int) -> int:
        """Number of orders resting at (side, price)."""
        return self._level(side, price)[1]

    def best_bid(self) -> int:
        """Best bid price (UNDEF_PRICE when the bid side is empty)."""
        b = int(self._cnt[K.C_BEST_BID])
        return UNDEF_PRICE if b == K.NO_BID else b

    def best_ask(self) -> int:
        """Best ask price (UNDEF_PRICE when the ask side is empty)."""
        return int(self._cnt[K.C_BEST_ASK])

    def levels(self, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(price, size, count) of every level of ``side``, best first."""
        s = 0 if side == 1 else 1
        t = self._lt[s]
        used = t[:, K.L_COUNT] != 0
        px, sz, ct = t[used, K.L_PRICE], t[used, K.L_SIZE], t[used, K.L_COUNT]
        order = np.argsort(-px if side == 1 else px, kind="stable")
        return px[order], sz[order], ct[order]

    def queue_ahead(self, order_id: int) -> tuple[int, int] | None:
        """(orders, size) ahead of ``order_id`` in its level's FIFO queue; None if not resting.

        O(capacity) scan: for analysis, not for hot loops.
        """
        o = self.order(order_id)
        if o is None:
            return None
        side, price, _, prio = o
        n, q = K.queue_ahead(self._ot, 1 if side == 1 else 2, price, prio)
        return int(n), int(q)

    def orders(self) -> pl.DataFrame:
        """Every resting order: order_id, side, price, size, priority (sorted by priority)."""
        t = self._ot[self._ot[:, K.O_PS] != 0]
        return pl.DataFrame(
            {
                "order_id": pl.Series(t[:, K.O_KEY].view(np.uint64), dtype=pl.UInt64),
                "side": pl.Series(np.where(t[:, K.O_PS] & 3 == 1, 1, -1).astype(np.int8), dtype=pl.Int8),
                "price": pl.Series(t[:, K.O_PRICE], dtype=pl.Int64),
                "size": pl.Series(t[:, K.O_SIZE], dtype=pl.Int64),
                "priority": pl.Series(t[:, K.O_PS] >> 2, dtype=pl.Int64),
            }
        ).sort("priority")


__all__ = [
    "L3_ADD",
    "L3_CANCEL",
    "L3_CLEAR",
    "L3_DELETE",
    "L3_EXECUTE",
    "L3_MODIFY",
    "L3_NONE",
    "L3Book",
    "L3Stats",
    "stats_from_counters",
]
