"""numba kernels for LOBSTER: apply one message to a top-L price-level side, replay a whole day.

Both kernels work in the vendor's raw units (prices in dollars x 10000, sizes in shares). A side is
two arrays ``px[L], sz[L]`` holding the occupied levels best first; empty levels have size 0 and
come after every occupied level (the reader checks that).

Written once in plain Python and compiled through :mod:`orderflow._numba`; ``kernel.py_func`` is
the interpreted twin the tests compare against.
"""

from __future__ import annotations

import numpy as np

from orderflow._numba import jit

# status bits returned by apply_side
ST_REMOVED = 1  # the message removed a whole price level
ST_INSERTED = 2  # the message created a new price level
ST_OUT_OF_VIEW = 4  # the message's price lies beyond the L visible levels of a full side
ST_INCONSISTENT = 8  # the message cannot apply to the visible side (unknown level, size goes negative)

# row flags returned by replay
ROW_REVEAL = 1  # message removed a whole level from a side that showed all L levels
ROW_PUSHOUT = 2  # a new level pushed the L-th level out of view
ROW_MISMATCH = 4  # a level the stream determines differs from the vendor's book row
ROW_OUT_OF_VIEW = 8  # the message acts beyond the visible L levels (book unchanged)

# delta kinds written by replay
KIND_MESSAGE = 0  # ADD / REDUCE / EXECUTE taken from the message itself
KIND_PUSHOUT = 1  # SET size 0: level left the top-L view (still in the venue's book)
KIND_REVEAL = 2  # SET: level came into view from deeper in the book (known only from the book file)
KIND_CORRECTION = 3  # SET: the book file disagrees with the stream; the book file wins

# BookAction codes (orderflow.core.enums.BookAction) repeated as plain ints for the kernel
_ADD = 1
_REDUCE = 2
_EXECUTE = 3
_SET = 4


@jit
def apply_side(
    px: np.ndarray,
    sz: np.ndarray,
    mtype: int,
    price: int,
    size: int,
    is_bid: bool,
    cpx: np.ndarray,
    csz: np.ndarray,
) -> tuple[int, int]:
    """Apply one message (type 1-4) to one side; write the resulting levels to ``cpx, csz``.

    ``px, sz`` (length L) hold the side before the message; ``cpx, csz`` must have length L + 1,
    because a new level may push the L-th one down to position L (out of view). Returns
    ``(m, status)``: the number of occupied levels written and the ``ST_*`` bits.
    """
    n_max = px.shape[0]
    n = 0
    for k in range(n_max):
        if sz[k] > 0:
            cpx[k] = px[k]
            csz[k] = sz[k]
            n += 1
        else:
            break
    for k in range(n, cpx.shape[0]):
        cpx[k] = 0
        csz[k] = 0
    sgn = -1 if is_bid else 1  # key = sgn * price is ascending from the best level outwards
    key = sgn * price
    pos = -1
    ins = n
    for k in range(n):
        kk = sgn * cpx[k]
        if kk == key:
            pos = k
            break
        if kk > key:
            ins = k
            break
    status = 0
    m = n
    if mtype == 1:
        if pos >= 0:
            csz[pos] += size
        else:
            for k in range(m, ins, -1):
                cpx[k] = cpx[k - 1]
                csz[k] = csz[k - 1]
            cpx[ins] = price
            csz[ins] = size
            m += 1
            status |= ST_INSERTED
            if n == n_max and ins == n:
                status |= ST_OUT_OF_VIEW
    elif mtype == 2 or mtype == 3 or mtype == 4:
        if pos < 0:
            if n == n_max and ins == n:
                status |= ST_OUT_OF_VIEW
            else:
                status |= ST_INCONSISTENT
        else:
            rem = csz[pos] - size
            if rem > 0:
                csz[pos] = rem
            else:
                if rem < 0:
                    status |= ST_INCONSISTENT
                for k in range(pos, m - 1):
                    cpx[k] = cpx[k + 1]
                    csz[k] = csz[k + 1]
                cpx[m - 1] = 0
                csz[m - 1] = 0
                m -= 1
                status |= ST_REMOVED
    return m, status


@jit
def replay(
    mtype: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    direction: np.ndarray,
    valid: np.ndarray,
    bpx: np.ndarray,
    bsz: np.ndarray,
    apx: np.ndarray,
    asz: np.ndarray,
    init_bpx: np.ndarray,
    init_bsz: np.ndarray,
    init_apx: np.ndarray,
    init_asz: np.ndarray,
    write: bool,
    o_row: np.ndarray,
    o_side: np.ndarray,
    o_action: np.ndarray,
    o_price: np.ndarray,
    o_size: np.ndarray,
    o_kind: np.ndarray,
) -> tuple[int, np.ndarray]:
    """Replay every message onto the previous vendor book row and diff with the next row.

    For row i the book before is vendor row i - 1 (``init_*`` for row 0) and the book after is
    vendor row i. The message's own delta (ADD/REDUCE/EXECUTE) is emitted first, then one SET per
    level where the stream's result and the vendor row differ, classified as push-out, reveal or
    correction (see ``KIND_*``). Replaying the deltas on a top-L price-level book therefore gives
    the vendor rows exactly.

    With ``write`` false nothing is written (count pass); the outputs may then be empty arrays.
    Returns ``(n_deltas, row_flags)``.
    """
    n_rows = mtype.shape[0]
    n_lv = bpx.shape[1]
    flags = np.zeros(n_rows, dtype=np.uint8)
    cpx = np.zeros(n_lv + 1, dtype=np.int64)
    csz = np.zeros(n_lv + 1, dtype=np.int64)
    nd = 0
    for i in range(n_rows):
        t = mtype[i]
        book_msg = valid[i] and 1 <= t <= 4
        row_flag = 0
        for s in range(2):
            is_bid = s == 0
            side_code = 1 if is_bid else -1
            if i == 0:
                ppx = init_bpx if is_bid else init_apx
                psz = init_bsz if is_bid else init_asz
            else:
                ppx = bpx[i - 1] if is_bid else apx[i - 1]
                psz = bsz[i - 1] if is_bid else asz[i - 1]
            tpx = bpx[i] if is_bid else apx[i]
            tsz = bsz[i] if is_bid else asz[i]
            n_prev = 0
            for k in range(n_lv):
                if psz[k] > 0:
                    n_prev += 1
                else:
                    break
            on_side = book_msg and direction[i] == side_code
            m, status = apply_side(ppx, psz, t if on_side else 0, price[i], size[i], is_bid, cpx, csz)
            if on_side:
                if status & ST_INCONSISTENT or (status & ST_OUT_OF_VIEW and t != 1):
                    # the message cannot act on the visible side: emit no message delta and diff the
                    # vendor row against the unchanged side, so a consumer's book stays exact
                    row_flag |= ROW_MISMATCH if status & ST_INCONSISTENT else ROW_OUT_OF_VIEW
                    m, _ = apply_side(ppx, psz, 0, price[i], size[i], is_bid, cpx, csz)
                    status = 0
                else:
                    if status & ST_OUT_OF_VIEW:
                        row_flag |= ROW_OUT_OF_VIEW
                    if write:
                        o_row[nd] = i
                        o_side[nd] = side_code
                        o_action[nd] = _ADD if t == 1 else (_EXECUTE if t == 4 else _REDUCE)
                        o_price[nd] = price[i]
                        o_size[nd] = size[i]
                        o_kind[nd] = KIND_MESSAGE
                    nd += 1
                    if status & ST_REMOVED and n_prev == n_lv:
                        row_flag |= ROW_REVEAL
            n_tgt = 0
            for k in range(n_lv):
                if tsz[k] > 0:
                    n_tgt += 1
                else:
                    break
            sgn = -1 if is_bid else 1
            j = 0
            k = 0
            while j < m or k < n_tgt:
                if j < m and k < n_tgt and cpx[j] == tpx[k]:
                    if csz[j] != tsz[k]:
                        row_flag |= ROW_MISMATCH
                        if write:
                            o_row[nd] = i
                            o_side[nd] = side_code
                            o_action[nd] = _SET
                            o_price[nd] = tpx[k]
                            o_size[nd] = tsz[k]
                            o_kind[nd] = KIND_CORRECTION
                        nd += 1
                    j += 1
                    k += 1
                elif j < m and (k >= n_tgt or sgn * cpx[j] < sgn * tpx[k]):
                    # level in the stream's book but not in the vendor row
                    kind = KIND_CORRECTION
                    if j == n_lv:
                        kind = KIND_PUSHOUT
                        row_flag |= ROW_PUSHOUT
                    else:
                        row_flag |= ROW_MISMATCH
                    if write:
                        o_row[nd] = i
                        o_side[nd] = side_code
                        o_action[nd] = _SET
                        o_price[nd] = cpx[j]
                        o_size[nd] = 0
                        o_kind[nd] = kind
                    nd += 1
                    j += 1
                else:
                    # level in the vendor row the stream does not have
                    kind = KIND_CORRECTION
                    if on_side and status & ST_REMOVED and n_prev == n_lv and k == n_lv - 1 and j >= m:
                        kind = KIND_REVEAL
                    else:
                        row_flag |= ROW_MISMATCH
                    if write:
                        o_row[nd] = i
                        o_side[nd] = side_code
                        o_action[nd] = _SET
                        o_price[nd] = tpx[k]
                        o_size[nd] = tsz[k]
                        o_kind[nd] = kind
                    nd += 1
                    k += 1
        flags[i] = row_flag
    return nd, flags
