"""numba kernels for NASDAQ TotalView-ITCH 5.0: message framing and the order-reference book.

Each kernel is written once in plain Python and compiled through :mod:`orderflow._numba`;
``kernel.py_func`` is the plain twin (tests check both agree).

Framing (as in NASDAQ's public day files): every message is preceded by a 2-byte big-endian
length; the first body byte is the message type. All integers are big-endian.
"""

from __future__ import annotations

import numpy as np

from orderflow._numba import jit
from orderflow.book import _l3_kernels as L

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

# state vector of order_pass / apply_events / flush_rows (int64[N_STATE])
S_ORDERS = 0  # orders in the order-reference table
S_ROWS = 1  # BOOK_DELTAS rows in ``out`` not yet moved to the stocks' segments
S_TRADES = 2  # trade rows written
S_MISSES = 3  # unknown-reference messages written
S_BATCH = 4  # order messages in the current batch
S_OPOOL = 5  # order-table rows in use in the book pool
S_ZERO_CROSS = 6  # Q messages of 0 shares
S_NEED = 7  # why a kernel stopped early (NEED_*)
S_LPOOL = 8  # level-table rows in use in the book pool
S_GEN = 9  # generation of the BOOK_DELTAS column arrays being filled
S_USED = 10  # rows of those arrays handed out to segments
S_SEGS = 11  # segments in the segment log
S_EVENTS = 12  # L3 records of the current batch in ``ev`` (order_pass)
S_SEGSIZE = 13  # rows of the segment that did not fit (NEED_ROWS)
S_CAP = 14  # rows of the current generation's column arrays
S_PHASE = 15  # apply_events: 0 events not yet grouped, 1 applying
S_J = 16  # apply_events: index of the stock being applied (in ``touched``)
S_E = 17  # apply_events: next record (row of ``grouped``), -1 at a new stock
S_STOCK_ROW = 18  # apply_events: first row of the stock being applied
S_NTOUCHED = 19  # apply_events: stocks with events in the batch
N_STATE = 20
NEED_NONE = 0
NEED_ROOM = 1  # out / trade / miss / segment-log arrays full
NEED_TAB = 2  # order-reference table must grow
NEED_OPOOL = 3  # book pool of order tables full
NEED_LPOOL = 4  # book pool of level tables / heaps full
NEED_ROWS = 5  # BOOK_DELTAS column arrays full: a new generation is needed
NEED_FLUSH = 6  # end of a batch: apply its L3 records to the books (apply_events)
# L3 record columns of ``ev`` (int64[m, 9], one row per record, message order)
E_SEQ = 0
E_LOC = 1
E_TS = 2
E_ACT = 3
E_SIDE = 4
E_PX = 5
E_SZ = 6
E_OID = 7
E_FLAGS = 8

# BOOK_DELTAS rows are written straight into typed column arrays, in segments of consecutive rows
# of one stock (a stock's rows are the concatenation of its segments, in log order). Segment log
# columns (int64[m, 5]):
G_LOC = 0
G_GEN = 1
G_START = 2
G_CAP = 3
G_FILL = 4
SEG_MIN = 1 << 12  # rows of a stock's first segment; each next one doubles, up to SEG_MAX
SEG_MAX = 1 << 20

# per-stock book descriptor columns (int64[65536, 4]; D_OT < 0: no book yet). A stock's order
# table is ``opool[D_OT : D_OT + 2**D_OBITS]``, its level tables ``lpool[:, D_LT : D_LT + 2**D_LBITS]``,
# its heaps ``hpool[:, same]`` and its counters ``cpool[locate]``: views, no copies.
D_OT = 0
D_OBITS = 1
D_LT = 2
D_LBITS = 3
BOOK_OBITS = 8  # a new stock's book: 256 order slots, 64 level slots per side (grown on demand)
BOOK_LBITS = 6


@jit(_nrt=False)
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


@jit(_nrt=False)
def _be(buf, off, nbytes):
    v = np.int64(0)
    for k in range(nbytes):
        v = (v << 8) | np.int64(buf[off + k])
    return v


@jit(_nrt=False)
def _hash(key, mask):
    """Home slot of ``key``: high bits folded in, then an odd multiplier modulo the table size."""
    return (((key ^ (key >> 17) ^ (key >> 31)) & mask) * _HASH_MUL) & mask


@jit(_nrt=False)
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


@jit(_nrt=False)
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


@jit(_nrt=False)
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


@jit(_nrt=False)
def _new_book(opool, lpool, cpool, desc, st, loc):
    """Give ``loc`` an empty book at the end of the pools (zero-filled); False when one is full."""
    o0 = st[S_OPOOL]
    l0 = st[S_LPOOL]
    if o0 + (1 << BOOK_OBITS) > opool.shape[0]:
        st[S_NEED] = NEED_OPOOL
        return False
    if l0 + (1 << BOOK_LBITS) > lpool.shape[1]:
        st[S_NEED] = NEED_LPOOL
        return False
    st[S_OPOOL] = o0 + (1 << BOOK_OBITS)
    st[S_LPOOL] = l0 + (1 << BOOK_LBITS)
    desc[loc, D_OT] = o0
    desc[loc, D_OBITS] = BOOK_OBITS
    desc[loc, D_LT] = l0
    desc[loc, D_LBITS] = BOOK_LBITS
    cpool[loc, L.C_BEST_BID] = L.NO_BID
    cpool[loc, L.C_BEST_ASK] = L.UNDEF
    return True


@jit(_nrt=False)
def _grow_book(opool, lpool, hpool, cpool, desc, st, loc):
    """Double the order and/or level tables of ``loc``'s book that are at the half-full limit (as
    :meth:`orderflow.book.l3.L3Book._grow`); the new tables go to the end of the pools (old rows
    are not reused). False when a pool is full (nothing changed then)."""
    ob = desc[loc, D_OBITS]
    lb = desc[loc, D_LBITS]
    cnt = cpool[loc]
    grow_o = cnt[L.C_ORDERS] + 1 > (1 << ob) >> 1
    half = (1 << lb) >> 1
    grow_l = cnt[L.C_LEVELS_BID] + 1 > half or cnt[L.C_LEVELS_ASK] + 1 > half
    o1 = st[S_OPOOL]
    l1 = st[S_LPOOL]
    if grow_o and o1 + (2 << ob) > opool.shape[0]:
        st[S_NEED] = NEED_OPOOL
        return False
    if grow_l and l1 + (2 << lb) > lpool.shape[1]:
        st[S_NEED] = NEED_LPOOL
        return False
    if grow_o:
        o0 = desc[loc, D_OT]
        L.rehash_orders(opool[o0 : o0 + (1 << ob)], opool[o1 : o1 + (2 << ob)], ob + 1)
        st[S_OPOOL] = o1 + (2 << ob)
        desc[loc, D_OT] = o1
        desc[loc, D_OBITS] = ob + 1
    if grow_l:
        l0 = desc[loc, D_LT]
        new_l = lpool[:, l1 : l1 + (2 << lb), :]
        L.rehash_levels(lpool[:, l0 : l0 + (1 << lb), :], new_l, lb + 1)
        hp = hpool[:, l1 : l1 + (2 << lb)]
        L.heap_rebuild(new_l, hp, cnt, 0)
        L.heap_rebuild(new_l, hp, cnt, 1)
        st[S_LPOOL] = l1 + (2 << lb)
        desc[loc, D_LT] = l1
        desc[loc, D_LBITS] = lb + 1
    return True


@jit(_nrt=False)
def flush_rows(out, out_loc, n, dcols, seg, seglog, st, tally, touched):
    """Move the rows ``out[:, :n]`` (message order, locate in ``out_loc``) to the end of their
    stock's open segment of the typed BOOK_DELTAS columns ``dcols`` (ts UTC, seq, side, action,
    price, size, order_id as int64, flags), opening segments as needed (``seg[locate]`` is the
    open segment's index in the log ``seglog``, see ``G_*``). ``tally`` (int64[65536], zero) and
    ``touched`` (int64[>= n]) are scratch. Returns False, having moved nothing, when ``seglog``
    is full (``NEED_ROOM``) or the columns lack room (``NEED_ROWS``: ``st[S_SEGSIZE]`` rows
    needed in a new generation).
    """
    nt = 0
    for i in range(n):
        loc = out_loc[i]
        if tally[loc] == 0:
            touched[nt] = loc
            nt += 1
        tally[loc] += 1
    # room: the open segment if it is in this generation and has room, else a new one
    fresh = 0  # rows of the new segments, were all of them new
    need = 0  # rows of the new segments needed here
    nseg = 0
    for j in range(nt):
        loc = touched[j]
        k = seg[loc]
        size = SEG_MIN if k < 0 else min(2 * seglog[k, G_CAP], SEG_MAX)
        size = max(size, tally[loc])
        fresh += size
        if k < 0 or seglog[k, G_GEN] != st[S_GEN] or seglog[k, G_FILL] + tally[loc] > seglog[k, G_CAP]:
            need += size
            nseg += 1
    ok = True
    if st[S_SEGS] + nseg > seglog.shape[0]:
        st[S_NEED] = NEED_ROOM
        ok = False
    elif st[S_USED] + need > st[S_CAP]:
        st[S_NEED] = NEED_ROWS
        st[S_SEGSIZE] = fresh
        ok = False
    if ok:
        for j in range(nt):
            loc = touched[j]
            k = seg[loc]
            if k < 0 or seglog[k, G_GEN] != st[S_GEN] or seglog[k, G_FILL] + tally[loc] > seglog[k, G_CAP]:
                size = SEG_MIN if k < 0 else min(2 * seglog[k, G_CAP], SEG_MAX)
                size = max(size, tally[loc])
                k = st[S_SEGS]
                st[S_SEGS] = k + 1
                seglog[k, G_LOC] = loc
                seglog[k, G_GEN] = st[S_GEN]
                seglog[k, G_START] = st[S_USED]
                seglog[k, G_CAP] = size
                seglog[k, G_FILL] = 0
                st[S_USED] += size
                seg[loc] = k
        ts_c, seq_c, side_c, act_c, px_c, sz_c, oid_c, fl_c = dcols
        for i in range(n):
            k = seg[out_loc[i]]
            r = seglog[k, G_START] + seglog[k, G_FILL]
            seglog[k, G_FILL] += 1
            ts_c[r] = out[0, i]
            seq_c[r] = out[2, i]
            side_c[r] = out[3, i]
            act_c[r] = out[4, i]
            px_c[r] = out[5, i]
            sz_c[r] = out[6, i]
            oid_c[r] = out[7, i]
            fl_c[r] = out[8, i]
        st[S_ROWS] = 0
    for j in range(nt):
        tally[touched[j]] = 0
    return ok


@jit(_nrt=False)
def _trade(tr, k, m, loc, te, px, sz, aggr, kind, match, oid):
    """Trade row ``k`` of ``tr``: seq, locate, ts UTC, price, size, aggressor, kind, match number, order id."""
    tr[0, k] = m
    tr[1, k] = loc
    tr[2, k] = te
    tr[3, k] = px
    tr[4, k] = sz
    tr[5, k] = aggr
    tr[6, k] = kind
    tr[7, k] = match
    tr[8, k] = oid


@jit(_nrt=False)
def _event(ev, k, m, loc, te, act, side, px, sz, oid, fl):
    ev[k, E_SEQ] = m
    ev[k, E_LOC] = loc
    ev[k, E_TS] = te
    ev[k, E_ACT] = act
    ev[k, E_SIDE] = side
    ev[k, E_PX] = px
    ev[k, E_SZ] = sz
    ev[k, E_OID] = oid
    ev[k, E_FLAGS] = fl


@jit(_nrt=False)
def order_pass(buf, offsets, types, keep, is_book, i0, seq0, midnight, batch, tab, st, ev, tr, ms):
    """Order and trade messages (A F E C X D U P Q) of the kept frames ``i0..`` -> L3 records, trades.

    ``tab`` maps live order references to (price, remaining, side) so that executions, cancels,
    deletes and replaces, which carry only the reference, get their side and price; an order leaves
    the table when deleted, replaced or reduced to 0. For the frames with ``keep`` set: L3 records go to the rows of ``ev`` (``E_*`` columns, ts in UTC ns) from
    ``st[S_EVENTS]`` on, trade rows to ``tr`` (rows: seq, locate, ts UTC, price, size, aggressor,
    kind, match, order id) and unknown references to ``ms`` (seq, locate, ts after midnight,
    type, reference). ``seq`` of frame ``i`` is ``seq0 + i``. ``st`` is the state vector
    (``S_*``). Order messages are taken in batches of ``batch``: at the end of one the pass stops
    (``NEED_FLUSH``) so that the caller applies the records (:func:`apply_events`). Returns the
    index of the next frame to process: when it is ``< len(offsets)``, ``st[S_NEED]`` says what
    the caller must do before calling again from there (``NEED_*``); nothing of that frame was
    applied.
    """
    mask = tab.shape[0] - 1
    n = offsets.shape[0]
    nord = st[S_ORDERS]
    ne = st[S_EVENTS]
    nt = st[S_TRADES]
    nm = st[S_MISSES]
    i = i0
    st[S_NEED] = NEED_NONE
    while i < n:
        t = types[i]
        if not keep[i] or not is_book[t]:
            i += 1
            continue
        if st[S_BATCH] == batch:
            if ne > 0:
                st[S_NEED] = NEED_FLUSH
                break
            st[S_BATCH] = 0
        if ne + 2 > ev.shape[0] or nt + 1 > tr.shape[1] or nm + 1 > ms.shape[1]:
            st[S_NEED] = NEED_ROOM
            break
        if (t == 65 or t == 70 or t == 85) and 2 * (nord + 1) > tab.shape[0]:
            st[S_NEED] = NEED_TAB
            break
        st[S_BATCH] += 1
        o = offsets[i]
        loc = _be(buf, o + 1, 2)
        ts = _be(buf, o + 5, 6)
        te = ts + midnight
        m = seq0 + i
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
            _event(ev, ne, m, loc, te, A_ADD, side, px, sh, ref, 128)
            ne += 1
        elif t == 69 or t == 67 or t == 88 or t == 68 or t == 85:  # E C X D U
            ref = _be(buf, o + 11, 8)
            s = _slot(tab, mask, ref)
            if s < 0:
                ms[0, nm] = m
                ms[1, nm] = loc
                ms[2, nm] = ts
                ms[3, nm] = t
                ms[4, nm] = ref
                nm += 1
                i += 1
                continue
            side = tab[s, O_SIDE]
            px = tab[s, O_PRICE]
            if t == 69 or t == 67 or t == 88:
                sh = _be(buf, o + 19, 4)
                _event(ev, ne, m, loc, te, A_CANCEL if t == 88 else A_EXECUTE, side, px, sh, ref, 128)
                ne += 1
                if t != 88:
                    printable = True
                    tpx = px
                    if t == 67:
                        printable = buf[o + 31] == 89  # 'Y'
                        tpx = _be(buf, o + 32, 4) * PX4
                    if printable and sh > 0:
                        _trade(tr, nt, m, loc, te, tpx, sh, -side, K_REGULAR, _be(buf, o + 23, 8), ref)
                        nt += 1
                rem = tab[s, O_REM] - sh
                if rem <= 0:
                    _remove(tab, mask, s)
                    nord -= 1
                else:
                    tab[s, O_REM] = rem
            elif t == 68:  # D
                _event(ev, ne, m, loc, te, A_DELETE, side, px, tab[s, O_REM], ref, 128)
                ne += 1
                _remove(tab, mask, s)
                nord -= 1
            else:  # U: delete the old reference, add the new one on the same side
                _event(ev, ne, m, loc, te, A_DELETE, side, px, tab[s, O_REM], ref, 0)
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
                _event(ev, ne, m, loc, te, A_ADD, side, npx, sh, nref, 128)
                ne += 1
        elif t == 80:  # P: trade against a non-displayed order
            sh = _be(buf, o + 20, 4)
            if sh > 0:
                _trade(
                    tr,
                    nt,
                    m,
                    loc,
                    te,
                    _be(buf, o + 32, 4) * PX4,
                    sh,
                    0,
                    K_HIDDEN,
                    _be(buf, o + 36, 8),
                    _be(buf, o + 11, 8),
                )
                nt += 1
        else:  # Q: cross trade
            sh = _be(buf, o + 11, 8)
            if sh > 0:
                _trade(tr, nt, m, loc, te, _be(buf, o + 27, 4) * PX4, sh, 0, K_CROSS, _be(buf, o + 31, 8), 0)
                nt += 1
            else:
                st[S_ZERO_CROSS] += 1
        i += 1
    st[S_ORDERS] = nord
    st[S_EVENTS] = ne
    st[S_TRADES] = nt
    st[S_MISSES] = nm
    return i


@jit(_nrt=False)
def apply_events(ev, opool, lpool, hpool, cpool, desc, st, out, out_loc, grouped, tally, touched, tstart):
    """Apply the batch's L3 records ``ev[:st[S_EVENTS]]`` to the stocks' books, stock by stock.

    Records are grouped by locate (stable counting sort into ``grouped``, like ``ev``; ``tally``
    int64[65536] zero, ``touched`` and ``tstart`` scratch), then each stock's records run through its book
    (:func:`orderflow.book._l3_kernels.l3_record`, tables in the pools ``opool`` int64[r, 4],
    ``lpool`` int64[2, q, 3], ``hpool`` int64[2, q], ``cpool`` int64[65536, N_COUNTERS], located
    by ``desc[locate]``, see ``D_*``), as one :meth:`~orderflow.book.l3.L3Book.apply` call per
    stock and batch would: same rows, same LAST handling, same counters; one stock's tables stay
    in cache while its records run. Rows go to ``out`` (int64[9, m],
    :data:`~orderflow.book._l3_kernels.OUT_COLUMNS`) from ``st[S_ROWS]`` on, grouped by stock,
    with the locate in ``out_loc``. Returns True when done; False when a pool must grow first
    (``st[S_NEED]``), after which a new call goes on where this one stopped.
    """
    if st[S_PHASE] == 0:
        ne = st[S_EVENTS]
        nt = 0
        for k in range(ne):
            loc = ev[k, E_LOC]
            if tally[loc] == 0:
                touched[nt] = loc
                nt += 1
            tally[loc] += 1
        acc = 0
        for j in range(nt):
            loc = touched[j]
            tstart[j] = acc
            acc += tally[loc]
            tally[loc] = tstart[j]  # fill position
        tstart[nt] = acc
        # records in stock order (a scatter into one stream per stock: the reads below are then
        # sequential, not a random gather over the whole batch)
        for k in range(ne):
            loc = ev[k, E_LOC]
            d = tally[loc]
            tally[loc] = d + 1
            for c in range(9):
                grouped[d, c] = ev[k, c]
        for j in range(nt):
            tally[touched[j]] = 0
        st[S_NTOUCHED] = nt
        st[S_PHASE] = 1
        st[S_J] = 0
        st[S_E] = -1
        st[S_ROWS] = 0
        st[S_STOCK_ROW] = 0
    nt = st[S_NTOUCHED]
    pos = st[S_ROWS]
    j = st[S_J]
    while j < nt:
        loc = touched[j]
        if desc[loc, D_OT] < 0 and not _new_book(opool, lpool, cpool, desc, st, loc):
            st[S_ROWS] = pos
            st[S_J] = j
            return False
        e = st[S_E]
        if e < 0:  # a new stock
            e = tstart[j]
            st[S_STOCK_ROW] = pos
        first = st[S_STOCK_ROW]
        cnt = cpool[loc]
        while e < tstart[j + 1]:
            act = grouped[e, E_ACT]
            ob = desc[loc, D_OBITS]
            lb = desc[loc, D_LBITS]
            if act == A_ADD and not L.has_room(ob, lb, cnt):
                if not _grow_book(opool, lpool, hpool, cpool, desc, st, loc):
                    st[S_ROWS] = pos
                    st[S_J] = j
                    st[S_E] = e
                    return False
                ob = desc[loc, D_OBITS]
                lb = desc[loc, D_LBITS]
            o0 = desc[loc, D_OT]
            l0 = desc[loc, D_LT]
            fl = grouped[e, E_FLAGS]
            start = pos
            te = grouped[e, E_TS]
            pos = L.l3_record(
                act,
                grouped[e, E_SIDE],
                grouped[e, E_PX],
                grouped[e, E_SZ],
                grouped[e, E_OID],
                te,
                te,
                grouped[e, E_SEQ],
                fl,
                opool[o0 : o0 + (1 << ob)],
                ob,
                lpool[:, l0 : l0 + (1 << lb), :],
                hpool[:, l0 : l0 + (1 << lb)],
                lb,
                cnt,
                out,
                start,
            )
            # the previous row of the same stock in this batch (as in one L3Book.apply call)
            L.l3_end_record(out, start, pos, start - 1 if start > first else -1, fl, cnt)
            for r in range(start, pos):
                out_loc[r] = loc
            e += 1
        st[S_E] = -1
        j += 1
    st[S_ROWS] = pos
    st[S_J] = j
    st[S_PHASE] = 0
    st[S_EVENTS] = 0
    return True


@jit
def group_trades(tr, n, nbins):
    """Trade rows ``tr[:, :n]`` (see :func:`order_pass`) grouped by locate (stable), typed.

    Returns ``(start, ts, seq, price, size, aggressor, kind, trade_id, order_id)``: the rows of
    locate ``b`` are ``start[b]:start[b + 1]``; ids are int64 (view them as uint64).
    """
    start = np.zeros(nbins + 1, dtype=np.int64)
    for i in range(n):
        start[tr[1, i] + 1] += 1
    for b in range(nbins):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    ts = np.empty(n, dtype=np.int64)
    seq = np.empty(n, dtype=np.int64)
    price = np.empty(n, dtype=np.int64)
    size = np.empty(n, dtype=np.int64)
    aggr = np.empty(n, dtype=np.int8)
    kind = np.empty(n, dtype=np.uint8)
    match = np.empty(n, dtype=np.int64)
    oid = np.empty(n, dtype=np.int64)
    for i in range(n):
        b = tr[1, i]
        j = fill[b]
        fill[b] = j + 1
        seq[j] = tr[0, i]
        ts[j] = tr[2, i]
        price[j] = tr[3, i]
        size[j] = tr[4, i]
        aggr[j] = tr[5, i]
        kind[j] = tr[6, i]
        match[j] = tr[7, i]
        oid[j] = tr[8, i]
    return start, ts, seq, price, size, aggr, kind, match, oid
