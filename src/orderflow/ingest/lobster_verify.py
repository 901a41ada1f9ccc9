"""Check a LOBSTER pair: replay every message onto the previous book row, compare with the next row.

The comparison covers every level the message stream determines. Two kinds of change cannot be
known from a level-L stream and are counted, not flagged:

* a **reveal**: a message removes a whole price level from a side that showed all L levels, so a
  level comes into view from deeper in the book (only the book file knows it);
* a **push-out**: a new level pushes the L-th level out of view.

Row 1 has no previous row. Its "previous" state is derived from row 1 itself with message 1
undone (the initial book that :func:`orderflow.ingest.lobster.read_lobster` emits at seq 0), so row
1 agrees by construction; it is included in ``rows_checked`` and noted in ``row1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from orderflow.ingest import _lobster_kernels as K
from orderflow.ingest.lobster import EVENT_NAMES, _initial_book, read_lobster_raw


def _levels(px: np.ndarray, sz: np.ndarray) -> list[list[int]]:
    return [[int(p), int(s)] for p, s in zip(px, sz, strict=True) if s > 0]


def verify_lobster(message_csv: str | Path, orderbook_csv: str | Path) -> dict[str, Any]:
    """Replay a LOBSTER message file against its orderbook file; return a JSON-ready summary.

    Keys: ``rows`` (message rows), ``levels``, ``rows_checked``, ``reveals``, ``pushouts``,
    ``out_of_view`` (messages acting beyond the visible levels), ``mismatches`` (rows where a
    level the stream determines differs from the book file), ``first_mismatch`` (null or
    ``{row, message, expected, got}``, row 1-based, prices in vendor units dollars x 10000),
    ``events`` (count per event type), ``crossed_rows`` / ``locked_rows`` (book rows with best bid
    above / equal to best ask), ``halts`` (type 7 rows with price -1), ``quarantined`` (zero-size
    messages), ``ok`` (mismatches == 0). Raises :class:`DataFormatError` for malformed files.
    """
    messages, _, orderbook, levels = read_lobster_raw(message_csv, orderbook_csv)
    n = messages.height
    ob = orderbook.to_numpy().astype(np.int64, copy=False)
    apx = np.ascontiguousarray(ob[:, 0::4])
    asz = np.ascontiguousarray(ob[:, 1::4])
    bpx = np.ascontiguousarray(ob[:, 2::4])
    bsz = np.ascontiguousarray(ob[:, 3::4])
    mtype = messages["type"].to_numpy().astype(np.int64)
    price = messages["price"].to_numpy().astype(np.int64)
    size = messages["size"].to_numpy().astype(np.int64)
    direction = messages["direction"].to_numpy().astype(np.int64)
    valid = ~((mtype <= 6) & (size == 0))
    ib = _initial_book(
        bpx, bsz, apx, asz, int(mtype[0]), int(price[0]), int(size[0]), int(direction[0]), bool(valid[0])
    )
    empty = np.zeros(0, dtype=np.int64)
    _, flags = K.replay(
        mtype,
        price,
        size,
        direction,
        valid,
        bpx,
        bsz,
        apx,
        asz,
        *ib,
        False,
        empty,
        empty,
        empty,
        empty,
        empty,
        empty,
    )
    mismatch = (flags & K.ROW_MISMATCH) != 0
    first: dict[str, Any] | None = None
    if mismatch.any():
        i = int(np.flatnonzero(mismatch)[0])
        prev = ib if i == 0 else (bpx[i - 1], bsz[i - 1], apx[i - 1], asz[i - 1])
        got: dict[str, list[list[int]]] = {}
        for name, px, sz, side in (("bid", prev[0], prev[1], 1), ("ask", prev[2], prev[3], -1)):
            cpx = np.zeros(levels + 1, dtype=np.int64)
            csz = np.zeros(levels + 1, dtype=np.int64)
            t = int(mtype[i]) if valid[i] and 1 <= mtype[i] <= 4 and direction[i] == side else 0
            K.apply_side(px, sz, t, int(price[i]), int(size[i]), side == 1, cpx, csz)
            got[name] = _levels(cpx[:levels], csz[:levels])
        row = messages.row(i, named=True)
        first = {
            "row": i + 1,
            "message": row,
            "expected": {"bid": _levels(bpx[i], bsz[i]), "ask": _levels(apx[i], asz[i])},
            "got": got,
        }
    both = (bsz[:, 0] > 0) & (asz[:, 0] > 0)
    events = {EVENT_NAMES[t]: int(np.count_nonzero(mtype == t)) for t in range(1, 8)}
    return {
        "message_file": str(message_csv),
        "orderbook_file": str(orderbook_csv),
        "rows": n,
        "levels": levels,
        "rows_checked": n,
        "row1": "initial state = row 1 with message 1 undone; row 1 agrees by construction",
        "reveals": int(np.count_nonzero(flags & K.ROW_REVEAL)),
        "pushouts": int(np.count_nonzero(flags & K.ROW_PUSHOUT)),
        "out_of_view": int(np.count_nonzero(flags & K.ROW_OUT_OF_VIEW)),
        "mismatches": int(np.count_nonzero(mismatch)),
        "first_mismatch": first,
        "events": events,
        "crossed_rows": int(np.count_nonzero(both & (bpx[:, 0] > apx[:, 0]))),
        "locked_rows": int(np.count_nonzero(both & (bpx[:, 0] == apx[:, 0]))),
        "halts": int(np.count_nonzero((mtype == 7) & (price == -1))),
        "quarantined": int(np.count_nonzero(~valid)),
        "ok": not bool(mismatch.any()),
    }


__all__ = ["verify_lobster"]
