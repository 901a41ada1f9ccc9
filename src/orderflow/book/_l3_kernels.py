"""numba kernels of the order-level (L3) book: open-addressing hash tables in numpy arrays.

Two tables:

* orders, keyed by ``order_id`` (stored as its int64 bit pattern): side, price, size, priority;
* price levels, one table per side, keyed by price: aggregate size and order count.

Both use linear probing with backward-shift deletion (no tombstones, so a long day of adds and
deletes never degrades the probe lengths). Tables are kept at most half full: the apply kernel
stops *before* a record that could exceed that load and returns its index; the caller grows the
tables (:func:`rehash_orders`, :func:`rehash_levels`) and calls again from there.

Hashing avoids integer overflow on purpose so the plain-Python twins (numpy scalars, which warn
on overflow) compute the same slots as the compiled kernels: the key is folded to 32 bits and
multiplied by a 31-bit odd constant (product < 2**63), and the top ``bits`` of the low 32 bits
of the product pick the home slot (Fibonacci-style hashing).
"""

from __future__ import annotations

from orderflow._numba import jit

# action codes (input)
A_NONE = 0
A_ADD = 1
A_CANCEL = 2
A_MODIFY = 3
A_EXECUTE = 4
A_DELETE = 5
A_CLEAR = 6

# BOOK_DELTAS action codes (output; = core.enums.BookAction)
D_ADD = 1
D_REDUCE = 2
D_EXECUTE = 3
D_CLEAR = 5

F_LAST = 128
NOT_LAST = 127

UNDEF = 9223372036854775807
NO_BID = -9223372036854775807 - 1

# counters layout (int64 array)
C_ORDERS = 0
C_LEVELS_BID = 1
C_LEVELS_ASK = 2
C_PRIO = 3
C_BEST_BID = 4
C_BEST_ASK = 5
C_UNKNOWN = 6
C_DUP_ADD = 7
C_OVER = 8
C_RECORDS = 9
C_INVALID = 10
C_LOST_LAST = 11
C_CLEARS = 12
C_CROSSED = 13
C_SIDE_CHANGE = 14
C_HEAP_BID = 16  # heap sizes (bid, ask)
C_HEAP_ASK = 17
N_COUNTERS = 18

HASH_MUL = 0x5BD1E995
MASK32 = 0xFFFFFFFF
BLOCK_BITS = 4
MIN_BITS = 6

# order table columns (int64[cap, 4]); a slot is free when its PS column is 0
O_KEY = 0
O_PRICE = 1
O_SIZE = 2
O_PS = 3  # priority * 4 + side code (1 bid, 2 ask)

# level table columns (int64[2, cap, 3]); a slot is free when its count is 0
L_PRICE = 0
L_SIZE = 1
L_COUNT = 2


@jit(_nrt=False)
def mix32(key: int) -> int:
    """32-bit Fibonacci-style hash of an int64 (no overflow: product < 2**63)."""
    x = (key ^ (key >> 32)) & MASK32
    return (x * HASH_MUL) & MASK32


@jit(_nrt=False)
def order_home(key: int, bits: int) -> int:
    """Home slot of order id ``key`` in a table of ``2**bits`` slots (MIN_BITS <= bits <= 36).

    Blocks of 16 consecutive ids share one block of 16 slots (venues hand out ids roughly in
    sequence, so the live orders stay close together in memory); blocks are spread by hashing.
    """
    block = (
        mix32(key >> BLOCK_BITS) >> (32 - (bits - BLOCK_BITS))
        if bits - BLOCK_BITS <= 32
        else mix32(key >> BLOCK_BITS)
    )
    return (block << BLOCK_BITS) | (key & ((1 << BLOCK_BITS) - 1))


@jit(_nrt=False)
def level_home(price: int, bits: int) -> int:
    return mix32(price) >> (32 - bits)


@jit(_nrt=False)
def find_order(ot, bits, key):
    """Slot holding ``key``, or ``-(free slot) - 1`` when absent."""
    mask = (1 << bits) - 1
    i = order_home(key, bits)
    while ot[i, O_PS] != 0:
        if ot[i, O_KEY] == key:
            return i
        i = (i + 1) & mask
    return -i - 1


@jit(_nrt=False)
def delete_order_slot(ot, bits, i):
    """Free slot ``i`` with backward-shift deletion (keeps every remaining key reachable)."""
    mask = (1 << bits) - 1
    j = i
    while True:
        j = (j + 1) & mask
        if ot[j, O_PS] == 0:
            break
        k = order_home(ot[j, O_KEY], bits)
        # leave j in place when its home k lies cyclically in (i, j]
        if i <= j:
            if i < k <= j:
                continue
        elif k > i or k <= j:
            continue
        ot[i, 0] = ot[j, 0]
        ot[i, 1] = ot[j, 1]
        ot[i, 2] = ot[j, 2]
        ot[i, 3] = ot[j, 3]
        i = j
    ot[i, O_PS] = 0


@jit(_nrt=False)
def find_level(lt, bits, s, price):
    mask = (1 << bits) - 1
    i = level_home(price, bits)
    while lt[s, i, L_COUNT] != 0:
        if lt[s, i, L_PRICE] == price:
            return i
        i = (i + 1) & mask
    return -i - 1


@jit(_nrt=False)
def delete_level_slot(lt, bits, s, i):
    mask = (1 << bits) - 1
    j = i
    while True:
        j = (j + 1) & mask
        if lt[s, j, L_COUNT] == 0:
            break
        k = level_home(lt[s, j, L_PRICE], bits)
        if i <= j:
            if i < k <= j:
                continue
        elif k > i or k <= j:
            continue
        lt[s, i, 0] = lt[s, j, 0]
        lt[s, i, 1] = lt[s, j, 1]
        lt[s, i, 2] = lt[s, j, 2]
        i = j
    lt[s, i, L_COUNT] = 0


@jit(_nrt=False)
def heap_push(hp, cnt, s, key):
    """Push ``key`` on side ``s``'s max-heap ``hp[s, :size]``; compacts when full."""
    n = cnt[C_HEAP_BID + s]
    row = hp[s]
    i = n
    row[i] = key
    while i > 0:
        parent = (i - 1) >> 1
        if row[parent] >= row[i]:
            break
        t = row[parent]
        row[parent] = row[i]
        row[i] = t
        i = parent
    cnt[C_HEAP_BID + s] = n + 1


@jit(_nrt=False)
def heap_pop(hp, cnt, s):
    """Remove the top of side ``s``'s heap."""
    n = cnt[C_HEAP_BID + s] - 1
    row = hp[s]
    row[0] = row[n]
    cnt[C_HEAP_BID + s] = n
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        c = left
        if left + 1 < n and row[left + 1] > row[left]:
            c = left + 1
        if row[i] >= row[c]:
            break
        t = row[c]
        row[c] = row[i]
        row[i] = t
        i = c


@jit(_nrt=False)
def heap_rebuild(lt, hp, cnt, s):
    """Refill side ``s``'s heap with exactly the live levels (drops stale entries)."""
    cnt[C_HEAP_BID + s] = 0
    for j in range(lt.shape[1]):
        if lt[s, j, L_COUNT] != 0:
            p = lt[s, j, L_PRICE]
            heap_push(hp, cnt, s, p if s == 0 else -p)


@jit(_nrt=False)
def level_change(lt, hp, lbits, cnt, s, price, dsize, dcount):
    """Add ``dsize``/``dcount`` (may be negative) to level (s, price); keeps best prices current.

    Best prices: each side keeps a max-heap of level keys (price for bids, -price for asks) with
    lazy deletion: a level pushes its key when it is created; when the best level empties, keys
    are popped until the top is a live level. Stale keys are dropped when the heap fills up (it is
    rebuilt from the live levels), so every operation is O(log levels) amortised, wherever in the
    book the level is.
    """
    j = find_level(lt, lbits, s, price)
    if j < 0:
        j = -j - 1
        lt[s, j, L_PRICE] = price
        lt[s, j, L_SIZE] = 0
        lt[s, j, L_COUNT] = 1  # occupied from here on (count fixed below)
        cnt[C_LEVELS_BID + s] += 1
        if cnt[C_HEAP_BID + s] >= hp.shape[1]:
            heap_rebuild(lt, hp, cnt, s)
        else:
            heap_push(hp, cnt, s, price if s == 0 else -price)
        lt[s, j, L_COUNT] = 0
        if s == 0:
            if price > cnt[C_BEST_BID]:
                cnt[C_BEST_BID] = price
        elif price < cnt[C_BEST_ASK]:
            cnt[C_BEST_ASK] = price
    lt[s, j, L_SIZE] += dsize
    c = lt[s, j, L_COUNT] + dcount
    lt[s, j, L_COUNT] = c
    if c <= 0:
        lt[s, j, L_COUNT] = 1  # occupied until the backward shift frees it
        delete_level_slot(lt, lbits, s, j)
        cnt[C_LEVELS_BID + s] -= 1
        best = cnt[C_BEST_BID] if s == 0 else cnt[C_BEST_ASK]
        if price == best:
            row = hp[s]
            while cnt[C_HEAP_BID + s] > 0:
                top = row[0]
                p = top if s == 0 else -top
                if find_level(lt, lbits, s, p) >= 0:
                    break
                heap_pop(hp, cnt, s)
            if cnt[C_HEAP_BID + s] > 0:
                top = row[0]
                if s == 0:
                    cnt[C_BEST_BID] = top
                else:
                    cnt[C_BEST_ASK] = -top
            elif s == 0:
                cnt[C_BEST_BID] = NO_BID
            else:
                cnt[C_BEST_ASK] = UNDEF


@jit(_nrt=False)
def emit(out, pos, ts_e, ts_r, sq, side, action, price, size, oid, fl):
    """Write one BOOK_DELTAS row into column-major ``out[9, m]`` at ``pos``."""
    out[0, pos] = ts_e
    out[1, pos] = ts_r
    out[2, pos] = sq
    out[3, pos] = side
    out[4, pos] = action
    out[5, pos] = price
    out[6, pos] = size
    out[7, pos] = oid
    out[8, pos] = fl


OUT_COLUMNS = ("ts_event", "ts_recv", "seq", "side", "action", "price", "size", "order_id", "flags")


@jit(_nrt=False)
def l3_apply(
    i0,
    n,
    pos,
    ts_event,
    ts_recv,
    seq,
    action,
    side,
    price,
    size,
    order_id,
    flags,
    ot,
    obits,
    lt,
    hp,
    lbits,
    cnt,
    out,
    crossed,
    cross_px,
):
    """Apply records ``i0 .. n-1`` to the book, writing BOOK_DELTAS rows into ``out`` from ``pos`` on.

    ``order_id`` is the int64 view of the uint64 ids; ``side`` is +1 bid / -1 ask. ``out`` is
    int64[9, m] in :data:`OUT_COLUMNS` order. Returns ``(next_record, pos)``: ``next_record < n``
    means a table must grow before that record. ``crossed[i]`` is set to 1 when record ``i`` ends
    an event (flags has LAST) and the book is then crossed or locked (best bid >= best ask); the best
    bid and ask then go to ``cross_px[0, i]`` and ``cross_px[1, i]`` (other entries untouched).
    """
    ocap_half = (1 << obits) >> 1
    lcap_half = (1 << lbits) >> 1
    i = i0
    while i < n:
        act = action[i]
        if act in (A_ADD, A_MODIFY):
            if cnt[C_ORDERS] + 1 > ocap_half:
                return i, pos
            if cnt[C_LEVELS_BID] + 1 > lcap_half or cnt[C_LEVELS_ASK] + 1 > lcap_half:
                return i, pos
        fl = int(flags[i])
        start = pos
        pos = l3_record(
            act,
            int(side[i]),
            price[i],
            size[i],
            order_id[i],
            ts_event[i],
            ts_recv[i],
            seq[i],
            fl,
            ot,
            obits,
            lt,
            hp,
            lbits,
            cnt,
            out,
            pos,
        )
        if l3_end_record(out, start, pos, pos - 1, fl, cnt):
            crossed[i] = 1
            cross_px[0, i] = cnt[C_BEST_BID]
            cross_px[1, i] = cnt[C_BEST_ASK]
        i += 1
    return i, pos


@jit(_nrt=False)
def has_room(obits, lbits, cnt):
    """True when one more order and one more level per side fit under the half-full load."""
    ocap_half = (1 << obits) >> 1
    lcap_half = (1 << lbits) >> 1
    return (
        cnt[C_ORDERS] + 1 <= ocap_half
        and cnt[C_LEVELS_BID] + 1 <= lcap_half
        and cnt[C_LEVELS_ASK] + 1 <= lcap_half
    )


@jit(_nrt=False, inline="always")
def l3_record(act, sd, px, sz, key, te, tr, sq, fl, ot, obits, lt, hp, lbits, cnt, out, pos):
    """Apply one record (see :func:`l3_apply`) and write its rows into ``out`` from ``pos``; returns the new ``pos``.

    The caller checks first that the tables have room (:func:`has_room`) for adds and modifies, and
    calls :func:`l3_end_record` afterwards.
    """
    cnt[C_RECORDS] += 1
    if act == A_CLEAR:
        ot[:, O_PS] = 0
        lt[:, :, L_COUNT] = 0
        cnt[C_ORDERS] = 0
        cnt[C_LEVELS_BID] = 0
        cnt[C_LEVELS_ASK] = 0
        cnt[C_BEST_BID] = NO_BID
        cnt[C_BEST_ASK] = UNDEF
        cnt[C_HEAP_BID] = 0
        cnt[C_HEAP_ASK] = 0
        cnt[C_CLEARS] += 1
        emit(out, pos, te, tr, sq, 0, D_CLEAR, UNDEF, 0, 0, fl)
        pos += 1
    elif act == A_ADD:
        if (sd != 1 and sd != -1) or px == UNDEF or sz <= 0:
            cnt[C_INVALID] += 1
        else:
            slot = find_order(ot, obits, key)
            if slot >= 0:
                # duplicate add: the new add replaces the old order (its remainder is removed)
                cnt[C_DUP_ADD] += 1
                osd = 1 if (ot[slot, O_PS] & 3) == 1 else -1
                level_change(
                    lt, hp, lbits, cnt, 0 if osd == 1 else 1, ot[slot, O_PRICE], -ot[slot, O_SIZE], -1
                )
                emit(out, pos, te, tr, sq, osd, D_REDUCE, ot[slot, O_PRICE], ot[slot, O_SIZE], key, fl)
                pos += 1
            else:
                slot = -slot - 1
                ot[slot, O_KEY] = key
                cnt[C_ORDERS] += 1
            cnt[C_PRIO] += 1
            ot[slot, O_PRICE] = px
            ot[slot, O_SIZE] = sz
            ot[slot, O_PS] = cnt[C_PRIO] * 4 + (1 if sd == 1 else 2)
            level_change(lt, hp, lbits, cnt, 0 if sd == 1 else 1, px, sz, 1)
            emit(out, pos, te, tr, sq, sd, D_ADD, px, sz, key, fl)
            pos += 1
    elif act in (A_CANCEL, A_EXECUTE, A_DELETE):
        slot = find_order(ot, obits, key)
        if slot < 0:
            cnt[C_UNKNOWN] += 1
        else:
            rem = ot[slot, O_SIZE]
            if act == A_DELETE:
                q = rem
            else:
                q = sz
                if q > rem:
                    cnt[C_OVER] += 1
                    q = rem
                elif q < 0:
                    cnt[C_INVALID] += 1
                    q = 0
            sd = 1 if (ot[slot, O_PS] & 3) == 1 else -1
            px = ot[slot, O_PRICE]
            if q > 0:
                emit(out, pos, te, tr, sq, sd, D_EXECUTE if act == A_EXECUTE else D_REDUCE, px, q, key, fl)
                pos += 1
            if q >= rem:
                delete_order_slot(ot, obits, slot)
                cnt[C_ORDERS] -= 1
                level_change(lt, hp, lbits, cnt, 0 if sd == 1 else 1, px, -q, -1)
            else:
                ot[slot, O_SIZE] = rem - q
                level_change(lt, hp, lbits, cnt, 0 if sd == 1 else 1, px, -q, 0)
    elif act == A_MODIFY:
        slot = find_order(ot, obits, key)
        if slot < 0:
            cnt[C_UNKNOWN] += 1
        else:
            osd = 1 if (ot[slot, O_PS] & 3) == 1 else -1
            opx = ot[slot, O_PRICE]
            osz = ot[slot, O_SIZE]
            if sd != 1 and sd != -1:
                sd = osd
            elif sd != osd:
                cnt[C_SIDE_CHANGE] += 1
            if px == UNDEF or sz < 0:
                cnt[C_INVALID] += 1
            elif sz == 0:
                # modify to zero: the order leaves the book
                emit(out, pos, te, tr, sq, osd, D_REDUCE, opx, osz, key, fl)
                pos += 1
                delete_order_slot(ot, obits, slot)
                cnt[C_ORDERS] -= 1
                level_change(lt, hp, lbits, cnt, 0 if osd == 1 else 1, opx, -osz, -1)
            elif px != opx or sd != osd:
                # price (or side) change: leave the old level, join the back of the new one
                emit(out, pos, te, tr, sq, osd, D_REDUCE, opx, osz, key, fl)
                pos += 1
                level_change(lt, hp, lbits, cnt, 0 if osd == 1 else 1, opx, -osz, -1)
                cnt[C_PRIO] += 1
                ot[slot, O_PRICE] = px
                ot[slot, O_SIZE] = sz
                ot[slot, O_PS] = cnt[C_PRIO] * 4 + (1 if sd == 1 else 2)
                level_change(lt, hp, lbits, cnt, 0 if sd == 1 else 1, px, sz, 1)
                emit(out, pos, te, tr, sq, sd, D_ADD, px, sz, key, fl)
                pos += 1
            elif sz != osz:
                if sz > osz:
                    # size up at the same price: loses priority
                    emit(out, pos, te, tr, sq, osd, D_ADD, opx, sz - osz, key, fl)
                    cnt[C_PRIO] += 1
                    ot[slot, O_PS] = cnt[C_PRIO] * 4 + (1 if osd == 1 else 2)
                else:
                    emit(out, pos, te, tr, sq, osd, D_REDUCE, opx, osz - sz, key, fl)
                pos += 1
                ot[slot, O_SIZE] = sz
                level_change(lt, hp, lbits, cnt, 0 if osd == 1 else 1, opx, sz - osz, 0)
    elif act != A_NONE:
        cnt[C_INVALID] += 1
    return pos


@jit(_nrt=False)
def l3_end_record(out, start, pos, prev, fl, cnt):
    """Flags of a record's rows ``out[:, start:pos]``: only the last keeps LAST.

    When a LAST record produced no row, LAST moves onto row ``prev`` (the event's previous row;
    ``prev < 0``: none, counted in ``lost_last``). Returns True when the record is LAST and the
    book is then crossed or locked (counted in ``crossed_events``).
    """
    for j in range(start, pos - 1):
        out[8, j] = out[8, j] & NOT_LAST
    if (fl & F_LAST) != 0:
        if pos == start:
            if prev >= 0:
                out[8, prev] = out[8, prev] | F_LAST
            else:
                cnt[C_LOST_LAST] += 1
        if cnt[C_BEST_BID] != NO_BID and cnt[C_BEST_ASK] != UNDEF and cnt[C_BEST_BID] >= cnt[C_BEST_ASK]:
            cnt[C_CROSSED] += 1
            return True
    return False


@jit(_nrt=False)
def rehash_orders(ot, nt, nbits):
    """Insert every order of table ``ot`` into the empty table ``nt`` (2**nbits slots)."""
    for i in range(ot.shape[0]):
        if ot[i, O_PS] != 0:
            j = -find_order(nt, nbits, ot[i, O_KEY]) - 1
            for c in range(4):
                nt[j, c] = ot[i, c]


@jit(_nrt=False)
def rehash_levels(lt, nt, nbits):
    for s in range(2):
        for i in range(lt.shape[1]):
            if lt[s, i, L_COUNT] != 0:
                j = -find_level(nt, nbits, s, lt[s, i, L_PRICE]) - 1
                for c in range(3):
                    nt[s, j, c] = lt[s, i, c]


@jit(_nrt=False)
def queue_ahead(ot, ps_code, price, prio):
    """(orders, size) resting at (side code, price) with a better (smaller) priority than ``prio``."""
    n = 0
    q = 0
    for i in range(ot.shape[0]):
        v = ot[i, O_PS]
        if v != 0 and (v & 3) == ps_code and ot[i, O_PRICE] == price and (v >> 2) < prio:
            n += 1
            q += ot[i, O_SIZE]
    return n, q
