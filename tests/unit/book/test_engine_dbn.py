"""Ground truth on real CME data: ES futures MBO (Databento) -> order-level book -> BOOK_DELTAS -> L2 engine.

The reference is computed independently from Databento's own record objects with a plain dict of
orders aggregated to price levels, and compared with the engine's top 10 after every event.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from orderflow.book import reconstruct

ES = "databento/glbx-mdp3/esh4-glbx-mdp3-20231225.mbo.dbn.zst"
DEPTH = 10
U = 2**63 - 1


def _records(path: Path) -> list[Any]:
    import databento_dbn as dbn
    import pyarrow as pa

    data = pa.input_stream(pa.BufferReader(path.read_bytes()), compression="zstd").read()
    dec = dbn.DBNDecoder()
    dec.write(data)
    return [r for r in dec.decode() if type(r).__name__ == "MBOMsg"]


def _reference_tops(
    recs: list[Any],
) -> tuple[np.ndarray, list[tuple[list[tuple[int, int]], list[tuple[int, int]]]]]:
    """Record index and (bids, asks) top DEPTH after every record flagged LAST."""
    orders: dict[int, tuple[int, int, int]] = {}
    books: dict[int, dict[int, int]] = {1: {}, -1: {}}
    prices: dict[int, list[int]] = {1: [], -1: []}  # occupied prices per side, ascending (bisect)

    def remove(oid: int) -> None:
        side, px, sz = orders.pop(oid)
        left = books[side][px] - sz
        if left > 0:
            books[side][px] = left
        else:
            del books[side][px]
            prices[side].pop(bisect.bisect_left(prices[side], px))

    def add(oid: int, side: int, px: int, sz: int) -> None:
        orders[oid] = (side, px, sz)
        if px not in books[side]:
            bisect.insort(prices[side], px)
        books[side][px] = books[side].get(px, 0) + sz

    seqs: list[int] = []
    tops = []
    for i, r in enumerate(recs):
        a = str(getattr(r.action, "value", r.action))
        side = {"B": 1, "A": -1}.get(str(getattr(r.side, "value", r.side)), 0)
        if a == "R":
            orders.clear()
            for sd in (1, -1):
                books[sd].clear()
                prices[sd].clear()
        elif a == "A" and side and r.price != U:
            add(r.order_id, side, r.price, r.size)
        elif a == "C" and r.order_id in orders:
            s, px, sz = orders[r.order_id]
            remove(r.order_id)
            if sz - r.size > 0:
                add(r.order_id, s, px, sz - r.size)
        elif a == "M":
            if r.order_id in orders:
                remove(r.order_id)
            if side and r.price != U and r.size > 0:
                add(r.order_id, side, r.price, r.size)
        if r.flags & 128:
            seqs.append(i)
            bids = [(p, books[1][p]) for p in prices[1][-DEPTH:][::-1]]
            asks = [(p, books[-1][p]) for p in prices[-1][:DEPTH]]
            tops.append((bids, asks))
    return np.asarray(seqs), tops


@pytest.mark.realdata
def test_es_mbo_top10_after_every_event(shared_data: Callable[[str], Path]) -> None:
    from orderflow.ingest.dbn import read_dbn

    path = shared_data(ES)
    deltas = read_dbn(path).partitions[0].book_deltas
    ours = reconstruct(deltas, depth=DEPTH)
    ref_seq, ref_tops = _reference_tops(_records(path))
    assert ours.height > 40_000
    our_seq = ours["seq"].to_numpy()
    px_b = [ours[f"bid_px_{k:02d}"].to_numpy() for k in range(DEPTH)]
    sz_b = [ours[f"bid_sz_{k:02d}"].to_numpy() for k in range(DEPTH)]
    px_a = [ours[f"ask_px_{k:02d}"].to_numpy() for k in range(DEPTH)]
    sz_a = [ours[f"ask_sz_{k:02d}"].to_numpy() for k in range(DEPTH)]
    # the book after venue event i is our latest snapshot at or before record i (events that do not
    # change the book, e.g. trade summaries, emit no deltas); only events after our first snapshot
    idx = np.searchsorted(our_seq, ref_seq, side="right") - 1
    checked = 0
    for j, row in enumerate(idx):
        if row < 0:
            continue
        bids = [(int(px_b[k][row]), int(sz_b[k][row])) for k in range(DEPTH) if sz_b[k][row] > 0]
        asks = [(int(px_a[k][row]), int(sz_a[k][row])) for k in range(DEPTH) if sz_a[k][row] > 0]
        assert (bids, asks) == ref_tops[j], f"record {ref_seq[j]}"
        checked += 1
    assert checked > 0.99 * len(ref_seq)
