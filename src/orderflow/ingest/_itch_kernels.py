"""numba kernels for NASDAQ TotalView-ITCH 5.0: message framing and the order-reference book.

Each kernel is written once in plain Python and compiled through :mod:`orderflow._numba`;
``kernel.py_func`` is the plain twin (tests check both agree).

Framing (as in NASDAQ's public day files): every message is preceded by a 2-byte big-endian
length; the first body byte is the message type. All integers are big-endian.
"""

from __future__ import annotations

import numpy as np

from orderflow._numba import jit

# status codes of framed messages
ST_OK = 0
ST_UNKNOWN = 1  # type byte not in ITCH 5.0
ST_BADLEN = 2  # length prefix differs from the spec's length for the type

# outputs of the order kernel: L3 actions (same codes as orderflow.book.l3)
A_ADD = 1
A_CANCEL = 2
A_EXECUTE = 4
A_DELETE = 5

# trade kinds (orderflow.core.enums.TradeKind)
K_REGULAR = 0
K_HIDDEN = 1
K_CROSS = 2

# miss codes: order messages whose reference is not resting
MISS_UNKNOWN_REF = 1

_HASH_MUL = 0x2545F5  # odd and < 2**22: (key & mask) * _HASH_MUL never overflows int64
EMPTY = -1
# order table columns: key (order ref), price (1e-9), remaining shares, side (+1/-1)
O_KEY = 0
O_PRICE = 1
O_REM = 2
O_SIDE = 3

PX4 = 100_000  # Price(4) (1e-4 dollars) -> 1e-9 units


@jit
def frame_scan(buf, start, end, spec_len, offsets, types, lengths, status):
    """Find whole messages in ``buf[start:end]``.

    Writes the body offset, type byte, length and status (ST_*) of each whole message into the
    output arrays and returns ``(count, stop)``: the number of messages found and the offset of
    the first byte not consumed (the start of a partial message, ``end``, or where the output
    arrays filled up).
    """
    pos = start
    n = 0
    cap = offsets.shape[0]
    while pos + 2 <= end and n < cap:
        ln = (np.int64(buf[pos]) << 8) | np.int64(buf[pos + 1])
        if pos + 2 + ln > end:
            break
        body = pos + 2
        offsets[n] = body
        lengths[n] = ln
        if ln == 0:
            types[n] = 0
            status[n] = ST_BADLEN
        else:
            t = buf[body]
            types[n] = t
            exp = spec_len[t]
            if exp == 0:
                status[n] = ST_UNKNOWN
            elif exp != ln:
                status[n] = ST_BADLEN
            else:
                status[n] = ST_OK
        n += 1
        pos = body + ln
    return n, pos


@jit
def _be(buf, off, nbytes):
    v = np.int64(0)
    for k in range(nbytes):
        v = (v << 8) | np.int64(buf[off + k])
    return v


@jit
def _hash(key, mask):
    """Home slot of ``key``: high bits folded in, then an odd multiplier modulo the table size."""
    return (((key ^ (key >> 17) ^ (key >> 31)) & mask) * _HASH_MUL) & mask


@jit
def _slot(tab, mask, key):
    """Slot holding ``key``, or -(free slot) - 1 when absent (linear probing)."""
    j = _hash(key, mask)
    while True:
        k = tab[j, O_KEY]
        if k == key:
            return j
        if k == EMPTY:
            return -j - 1
        j = (j + 1) & mask


@jit
def _remove(tab, mask, j):
    """Delete slot ``j`` with backward-shift deletion (keeps probe chains intact)."""
    i = j
    while True:
        tab[i, O_KEY] = EMPTY
        k = i
        while True:
            k = (k + 1) & mask
            kk = tab[k, O_KEY]
            if kk == EMPTY:
                return
            h = _hash(kk, mask)
            # the entry at k may stay when its home h lies cyclically in (i, k]
            if i <= k:
                if i < h <= k:
                    continue
            elif h > i or h <= k:
                continue
            break
        for c in range(4):
            tab[i, c] = tab[k, c]
        i = k


@jit
def rehash(old, new):
    """Insert every order of table ``old`` into the empty table ``new``."""
    mask = new.shape[0] - 1
    for j in range(old.shape[0]):
        key = old[j, O_KEY]
        if key != EMPTY:
            s = -_slot(new, mask, key) - 1
            for c in range(4):
                new[s, c] = old[j, c]


@jit
def order_events(
    buf,
    offsets,
    types,
    msg_index,
    tab,
    counts,
    ev_msg,
    ev_loc,
    ev_ts,
    ev_act,
    ev_side,
    ev_px,
    ev_sz,
    ev_oid,
    ev_flags,
    tr_msg,
    tr_loc,
    tr_ts,
    tr_px,
    tr_sz,
    tr_aggr,
    tr_kind,
    tr_match,
    tr_oid,
    ms_msg,
    ms_loc,
    ms_ts,
    ms_type,
    ms_ref,
):
    """Turn order and trade messages (A F E C X D U P Q) into L3 events and trade rows.

    ``tab`` maps live order references to (price, remaining, side) so that executions,
    cancels, deletes and replaces, which carry only the reference, get their side and price;
    an order leaves the table when deleted, replaced or reduced to 0. ``counts`` holds
    ``[orders in tab, L3 rows, trade rows, misses]`` and is updated. Timestamps are ns after
    midnight (the caller adds the date). Output arrays need 2 L3 rows and 1 trade row per
    message. Messages of other types are skipped. The table must have room for every add.
    """
    mask = tab.shape[0] - 1
    nord = counts[0]
    ne = 0
    nt = 0
    nm = 0
    for i in range(offsets.shape[0]):
        t = types[i]
        o = offsets[i]
        loc = _be(buf, o + 1, 2)
        ts = _be(buf, o + 5, 6)
        m = msg_index[i]
        if t == 65 or t == 70:  # A, F: add order
            ref = _be(buf, o + 11, 8)
            side = 1 if buf[o + 19] == 66 else -1
            sh = _be(buf, o + 20, 4)
            px = _be(buf, o + 32, 4) * PX4
            s = _slot(tab, mask, ref)
            if s < 0:
                s = -s - 1
                nord += 1
            tab[s, O_KEY] = ref
            tab[s, O_PRICE] = px
            tab[s, O_REM] = sh
            tab[s, O_SIDE] = side
            ev_msg[ne] = m
            ev_loc[ne] = loc
            ev_ts[ne] = ts
            ev_act[ne] = A_ADD
            ev_side[ne] = side
            ev_px[ne] = px
            ev_sz[ne] = sh
            ev_oid[ne] = ref
            ev_flags[ne] = 128
            ne += 1
        elif t == 69 or t == 67 or t == 88 or t == 68 or t == 85:  # E C X D U
            ref = _be(buf, o + 11, 8)
            s = _slot(tab, mask, ref)
            if s < 0:
                ms_msg[nm] = m
                ms_loc[nm] = loc
                ms_ts[nm] = ts
                ms_type[nm] = t
                ms_ref[nm] = ref
                nm += 1
                continue
            side = tab[s, O_SIDE]
            px = tab[s, O_PRICE]
            ev_msg[ne] = m
            ev_loc[ne] = loc
            ev_ts[ne] = ts
            ev_side[ne] = side
            ev_px[ne] = px
            ev_oid[ne] = ref
            ev_flags[ne] = 128
            if t == 69 or t == 67 or t == 88:
                sh = _be(buf, o + 19, 4)
                ev_act[ne] = A_CANCEL if t == 88 else A_EXECUTE
                ev_sz[ne] = sh
                ne += 1
                if t != 88:
                    printable = True
                    tpx = px
                    if t == 67:
                        printable = buf[o + 31] == 89  # 'Y'
                        tpx = _be(buf, o + 32, 4) * PX4
                    if printable and sh > 0:
                        tr_msg[nt] = m
                        tr_loc[nt] = loc
                        tr_ts[nt] = ts
                        tr_px[nt] = tpx
                        tr_sz[nt] = sh
                        tr_aggr[nt] = -side
                        tr_kind[nt] = K_REGULAR
                        tr_match[nt] = _be(buf, o + 23, 8)
                        tr_oid[nt] = ref
                        nt += 1
                rem = tab[s, O_REM] - sh
                if rem <= 0:
                    _remove(tab, mask, s)
                    nord -= 1
                else:
                    tab[s, O_REM] = rem
            elif t == 68:  # D
                ev_act[ne] = A_DELETE
                ev_sz[ne] = tab[s, O_REM]
                ne += 1
                _remove(tab, mask, s)
                nord -= 1
            else:  # U: delete the old reference, add the new one on the same side
                ev_act[ne] = A_DELETE
                ev_sz[ne] = tab[s, O_REM]
                ev_flags[ne] = 0
                ne += 1
                _remove(tab, mask, s)
                nref = _be(buf, o + 19, 8)
                sh = _be(buf, o + 27, 4)
                npx = _be(buf, o + 31, 4) * PX4
                s2 = _slot(tab, mask, nref)
                if s2 < 0:
                    s2 = -s2 - 1
                else:
                    nord -= 1
                tab[s2, O_KEY] = nref
                tab[s2, O_PRICE] = npx
                tab[s2, O_REM] = sh
                tab[s2, O_SIDE] = side
                ev_msg[ne] = m
                ev_loc[ne] = loc
                ev_ts[ne] = ts
                ev_act[ne] = A_ADD
                ev_side[ne] = side
                ev_px[ne] = npx
                ev_sz[ne] = sh
                ev_oid[ne] = nref
                ev_flags[ne] = 128
                ne += 1
        elif t == 80:  # P: trade against a non-displayed order
            sh = _be(buf, o + 20, 4)
            if sh > 0:
                tr_msg[nt] = m
                tr_loc[nt] = loc
                tr_ts[nt] = ts
                tr_px[nt] = _be(buf, o + 32, 4) * PX4
                tr_sz[nt] = sh
                tr_aggr[nt] = 0
                tr_kind[nt] = K_HIDDEN
                tr_match[nt] = _be(buf, o + 36, 8)
                tr_oid[nt] = _be(buf, o + 11, 8)
                nt += 1
        elif t == 81:  # Q: cross trade
            sh = _be(buf, o + 11, 8)
            if sh > 0:
                tr_msg[nt] = m
                tr_loc[nt] = loc
                tr_ts[nt] = ts
                tr_px[nt] = _be(buf, o + 27, 4) * PX4
                tr_sz[nt] = sh
                tr_aggr[nt] = 0
                tr_kind[nt] = K_CROSS
                tr_match[nt] = _be(buf, o + 31, 8)
                tr_oid[nt] = 0
                nt += 1
    counts[0] = nord
    counts[1] = ne
    counts[2] = nt
    counts[3] = nm


@jit
def keep_mask(buf, offsets, types, status, wanted):
    """1 for messages to keep: status OK and (stock locate 0 or ``wanted[locate]``)."""
    n = offsets.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        if status[i] != ST_OK:
            continue
        o = offsets[i]
        loc = (np.int64(buf[o + 1]) << 8) | np.int64(buf[o + 2])
        if loc == 0 or wanted[loc]:
            out[i] = True
    return out


@jit
def group_order(loc, nbins):
    """Stable counting sort of ``loc`` (values in [0, nbins)): (permutation, start of each bin).

    ``perm[start[b]:start[b + 1]]`` are the indices with ``loc == b`` in their original order.
    """
    n = loc.shape[0]
    start = np.zeros(nbins + 1, dtype=np.int64)
    for i in range(n):
        start[loc[i] + 1] += 1
    for b in range(nbins):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    perm = np.empty(n, dtype=np.int64)
    for i in range(n):
        b = loc[i]
        perm[fill[b]] = i
        fill[b] += 1
    return perm, start


@jit
def gather_columns(src, perm, ts_row, ts_add):
    """``src[:, perm]`` as a new array, with ``ts_add`` added to row ``ts_row``."""
    k = src.shape[0]
    n = perm.shape[0]
    out = np.empty((k, n), dtype=src.dtype)
    for r in range(k):
        add = ts_add if r == ts_row else 0
        for i in range(n):
            out[r, i] = src[r, perm[i]] + add
    return out
