"""numba kernels decoding raw DBN records into columns in one pass.

The record region (everything after the metadata header) is passed twice: as ``u8`` (bytes) and as
``u32`` (little-endian 4-byte words) over the same memory. Every DBN record length is a multiple of
4 bytes (the header's ``length`` byte counts 4-byte words), so every record and every field of the
records decoded here starts on a 4-byte boundary: 8-byte fields are assembled from two words, which
needs no 8-byte alignment of the region.

Record layouts (DBN versions 1, 2 and 3 agree on all of these; see databento/dbn ``record.rs``):

``RecordHeader`` (16 bytes): length u8 @0 (in 4-byte words), rtype u8 @1, publisher_id u16 @2,
instrument_id u32 @4, ts_event u64 @8.

``MboMsg`` (rtype 0xA0, 56 bytes): order_id u64 @16, price i64 @24, size u32 @32, flags u8 @36,
channel_id u8 @37, action char @38, side char @39, ts_recv u64 @40, ts_in_delta i32 @48,
sequence u32 @52.

``TradeMsg`` (rtype 0x00, 48 bytes), ``Mbp1Msg`` (0x01, 80 bytes, also TBBO), ``Mbp10Msg``
(0x0A, 368 bytes): price i64 @16, size u32 @24, action char @28, side char @29, flags u8 @30,
depth u8 @31, ts_recv u64 @32, ts_in_delta i32 @40, sequence u32 @44, then ``levels``: depth x
``BidAskPair`` of 32 bytes from @48: bid_px i64 @0, ask_px i64 @8, bid_sz u32 @16, ask_sz u32 @20,
bid_ct u32 @24, ask_ct u32 @28.
"""

from __future__ import annotations

import numpy as np

from orderflow._numba import jit

RTYPE_MBP0 = 0x00  # trades
RTYPE_MBP1 = 0x01  # mbp-1, tbbo
RTYPE_MBP10 = 0x0A
RTYPE_STATUS = 0x12
RTYPE_DEFINITION = 0x13
RTYPE_IMBALANCE = 0x14
RTYPE_ERROR = 0x15
RTYPE_SYMBOL_MAPPING = 0x16
RTYPE_SYSTEM = 0x17
RTYPE_STATISTICS = 0x18
RTYPE_OHLCV_1S = 0x20
RTYPE_OHLCV_1M = 0x21
RTYPE_OHLCV_1H = 0x22
RTYPE_OHLCV_1D = 0x23
RTYPE_OHLCV_EOD = 0x24
RTYPE_MBO = 0xA0
RTYPE_CMBP1 = 0xB1
RTYPE_CBBO_1S = 0xC0
RTYPE_CBBO_1M = 0xC1
RTYPE_TCBBO = 0xC2
RTYPE_BBO_1S = 0xC3
RTYPE_BBO_1M = 0xC4

RTYPE_NAMES = {
    RTYPE_MBP0: "trades",
    RTYPE_MBP1: "mbp-1",
    RTYPE_MBP10: "mbp-10",
    RTYPE_STATUS: "status",
    RTYPE_DEFINITION: "definition",
    RTYPE_IMBALANCE: "imbalance",
    RTYPE_ERROR: "error",
    RTYPE_SYMBOL_MAPPING: "symbol_mapping",
    RTYPE_SYSTEM: "system",
    RTYPE_STATISTICS: "statistics",
    RTYPE_OHLCV_1S: "ohlcv-1s",
    RTYPE_OHLCV_1M: "ohlcv-1m",
    RTYPE_OHLCV_1H: "ohlcv-1h",
    RTYPE_OHLCV_1D: "ohlcv-1d",
    RTYPE_OHLCV_EOD: "ohlcv-eod",
    RTYPE_MBO: "mbo",
    RTYPE_CMBP1: "cmbp-1",
    RTYPE_CBBO_1S: "cbbo-1s",
    RTYPE_CBBO_1M: "cbbo-1m",
    RTYPE_TCBBO: "tcbbo",
    RTYPE_BBO_1S: "bbo-1s",
    RTYPE_BBO_1M: "bbo-1m",
}

MIN_LENGTH = {RTYPE_MBO: 56, RTYPE_MBP0: 48, RTYPE_MBP1: 80, RTYPE_MBP10: 368}

UNDEF = 9223372036854775807
F_LAST = 128
NOT_LAST = 127
D_SET = 4  # BookAction.SET


@jit
def rd64(u32, w):
    """int64 from the two little-endian words ``u32[w], u32[w+1]`` (two's complement wraps)."""
    return np.int64(u32[w]) | (np.int64(u32[w + 1]) << 32)


@jit
def scan_records(u8, n_bytes, counts, short):
    """Walk the records of ``u8[:n_bytes]``: count them per rtype into ``counts[256]``.

    Returns ``(n_records, stop)``: ``stop`` is the byte offset after the last whole record
    (``stop < n_bytes`` means the region is truncated or corrupt there: a zero length or a
    record running past the end). ``short[rtype]`` counts decodable-rtype records whose length is
    too small for their layout (they are skipped by the decoders).
    """
    return scan_records_from(u8, 0, 0, n_bytes, counts, short)


@jit
def scan_records_from(u8, off, n, n_bytes, counts, short):
    """:func:`scan_records` resumed at byte ``off`` after ``n`` records, over ``u8[:n_bytes]``.

    Calling it again with the returned ``(n, stop)`` as more bytes become available gives the same
    result as one call over all of them (a reader can count each chunk while it is in cache).
    """
    while off + 2 <= n_bytes:
        length = int(u8[off]) * 4
        if length < 16 or off + length > n_bytes:
            break
        rt = u8[off + 1]
        counts[rt] += 1
        if (
            (rt == 0xA0 and length < 56)
            or (rt == 0x00 and length < 48)
            or (rt == 0x01 and length < 80)
            or (rt == 0x0A and length < 368)
        ):
            short[rt] += 1
        n += 1
        off += length
    return n, off


@jit
def decode_mbo(
    u8,
    u32,
    off0,
    r0,
    stop,
    n_out,
    iid,
    ts_event,
    ts_recv,
    order_id,
    price,
    size,
    flags,
    action,
    side,
    sequence,
    rec,
):
    """Decode the MBO records of ``u8[off0:stop]`` (at most ``n_out``) into the output columns.

    ``r0`` is the index of the record at ``off0`` among all records of the region; ``rec`` gets
    each decoded record's index (file order). Returns ``(rows, next_offset, next_record_index)``,
    so a caller can decode a large region in chunks into reused buffers.
    """
    off = off0
    k = 0
    r = r0
    while off < stop and k < n_out:
        length = int(u8[off]) * 4
        if u8[off + 1] == 0xA0 and length >= 56:
            w = off >> 2
            iid[k] = u32[w + 1]
            ts_event[k] = rd64(u32, w + 2)
            order_id[k] = rd64(u32, w + 4)
            price[k] = rd64(u32, w + 6)
            size[k] = u32[w + 8]
            flags[k] = u8[off + 36]
            action[k] = u8[off + 38]
            side[k] = u8[off + 39]
            ts_recv[k] = rd64(u32, w + 10)
            sequence[k] = u32[w + 13]
            rec[k] = r
            k += 1
        r += 1
        off += length
    return k, off, r


@jit
def decode_mbp(
    u8,
    u32,
    off0,
    r0,
    stop,
    rtype,
    depth,
    n_out,
    iid,
    ts_event,
    ts_recv,
    price,
    size,
    flags,
    action,
    side,
    sequence,
    rec,
    lv_px,
    lv_sz,
    lv_ct,
):
    """Decode records of ``rtype`` (0x00 trades, 0x01 mbp-1/tbbo, 0x0A mbp-10) in one pass.

    Header and trade fields go to the 1-D columns; level ``j < depth`` goes to ``lv_px[j]`` /
    ``lv_sz[j]`` / ``lv_ct[j]`` (bid) and ``lv_px[depth + j]`` ... (ask), column-major so each
    output column is one contiguous row of the 2-D buffers. Chunking as :func:`decode_mbo`:
    returns ``(rows, next_offset, next_record_index)``.
    """
    need = 48 + 32 * depth
    off = off0
    k = 0
    r = r0
    while off < stop and k < n_out:
        length = int(u8[off]) * 4
        if u8[off + 1] == rtype and length >= need:
            w = off >> 2
            iid[k] = u32[w + 1]
            ts_event[k] = rd64(u32, w + 2)
            price[k] = rd64(u32, w + 4)
            size[k] = u32[w + 6]
            action[k] = u8[off + 28]
            side[k] = u8[off + 29]
            flags[k] = u8[off + 30]
            ts_recv[k] = rd64(u32, w + 8)
            sequence[k] = u32[w + 11]
            rec[k] = r
            for j in range(depth):
                b = w + 12 + 8 * j
                lv_px[j, k] = rd64(u32, b)
                lv_px[depth + j, k] = rd64(u32, b + 2)
                lv_sz[j, k] = u32[b + 4]
                lv_sz[depth + j, k] = u32[b + 5]
                lv_ct[j, k] = u32[b + 6]
                lv_ct[depth + j, k] = u32[b + 7]
            k += 1
        r += 1
        off += length
    return k, off, r


@jit(inline="always")
def _distinct_prices(prev_px, base, depth):
    """The valid prices of ``prev_px[base:base + depth]`` are strictly monotone (hence distinct)."""
    inc = True
    dec = True
    last = np.int64(0)
    have = False
    for a in range(depth):
        p = prev_px[base + a]
        if p == UNDEF:
            continue
        if have:
            if p <= last:
                inc = False
            if p >= last:
                dec = False
        last = p
        have = True
    return inc or dec


@jit(_nrt=False)
def diff_levels(lv_px, lv_sz, depth, i0, n, ts_event, ts_recv, seq, flags, out, pos, lost, prev_px, prev_sz):
    """BOOK_DELTAS SET rows that turn each snapshot into the next (row-wise, both sides).

    ``lv_px/lv_sz[side * depth + j, i]`` are record ``i``'s levels (UNDEF price = empty level).
    ``prev_px/prev_sz[2 * depth]`` hold the book before record 0 (updated in place, so chunks
    chain). A price present before and absent now gets SET 0; a price whose size changed (or is
    new) gets SET size. Rows go to ``out[9, m]`` (ts_event, ts_recv, seq, side, action, price,
    size, order_id, flags). Only the last row of a record keeps LAST; when a LAST record changes
    nothing, LAST moves onto the previous row. Processes records ``i0 .. n-1`` writing from row
    ``pos``; stops before a record that might not fit (``4 * depth`` rows) and returns
    ``(next_record, rows, lost_last)`` so the caller can grow ``out`` and resume.
    """
    cap = out.shape[1]
    i = i0
    mono_bid = _distinct_prices(prev_px, 0, depth)  # kept up to date as prev_px changes
    mono_ask = _distinct_prices(prev_px, depth, depth)
    while i < n:
        if pos + 4 * depth > cap:
            return i, pos, lost
        start = pos
        fl = np.int64(flags[i])
        moved_bid = False
        moved_ask = False
        for s in range(2):
            sd = 1 if s == 0 else -1
            base = s * depth
            # fast path, the usual update: the side's prices are where they were and distinct
            # (strictly monotone), so a price can only match at its own level
            same = True
            for a in range(depth):
                if lv_px[base + a, i] != prev_px[base + a]:
                    same = False
                    break
            if s == 0:
                moved_bid = not same
            else:
                moved_ask = not same
            if same and (mono_bid if s == 0 else mono_ask):
                for a in range(depth):
                    p = prev_px[base + a]
                    if p == UNDEF or prev_sz[base + a] == 0 or lv_sz[base + a, i] != 0:
                        continue
                    out[0, pos] = ts_event[i]
                    out[1, pos] = ts_recv[i]
                    out[2, pos] = seq[i]
                    out[3, pos] = sd
                    out[4, pos] = D_SET
                    out[5, pos] = p
                    out[6, pos] = 0
                    out[7, pos] = 0
                    out[8, pos] = fl
                    pos += 1
                for b in range(depth):
                    q = lv_px[base + b, i]
                    qs = np.int64(lv_sz[base + b, i])
                    if q == UNDEF or qs == 0:
                        continue
                    old = prev_sz[base + b]
                    if old == 0:
                        old = -1
                    if old != qs:
                        out[0, pos] = ts_event[i]
                        out[1, pos] = ts_recv[i]
                        out[2, pos] = seq[i]
                        out[3, pos] = sd
                        out[4, pos] = D_SET
                        out[5, pos] = q
                        out[6, pos] = qs
                        out[7, pos] = 0
                        out[8, pos] = fl
                        pos += 1
                continue
            # the previous side's live prices are distinct when strictly monotone (the normal case):
            # then any match is the first match and the searches below may start at the same level
            inc = True
            dec = True
            last = np.int64(0)
            have = False
            for a in range(depth):
                p = prev_px[base + a]
                if p == UNDEF or prev_sz[base + a] == 0:
                    continue
                if have:
                    if p <= last:
                        inc = False
                    if p >= last:
                        dec = False
                last = p
                have = True
            distinct = inc or dec
            # removed levels (any match will do: searched from the same level on, wrapping around)
            for a in range(depth):
                p = prev_px[base + a]
                if p == UNDEF or prev_sz[base + a] == 0:
                    continue
                found = False
                for t in range(depth):
                    b = a + t
                    if b >= depth:
                        b -= depth
                    if lv_px[base + b, i] == p and lv_sz[base + b, i] != 0:
                        found = True
                        break
                if not found:
                    out[0, pos] = ts_event[i]
                    out[1, pos] = ts_recv[i]
                    out[2, pos] = seq[i]
                    out[3, pos] = sd
                    out[4, pos] = D_SET
                    out[5, pos] = p
                    out[6, pos] = 0
                    out[7, pos] = 0
                    out[8, pos] = fl
                    pos += 1
            # new or changed levels
            for b in range(depth):
                q = lv_px[base + b, i]
                qs = np.int64(lv_sz[base + b, i])
                if q == UNDEF or qs == 0:
                    continue
                old = np.int64(-1)
                for t in range(depth):
                    a = t
                    if distinct:
                        a = b + t
                        if a >= depth:
                            a -= depth
                    if prev_px[base + a] == q and prev_sz[base + a] != 0:
                        old = prev_sz[base + a]
                        break
                if old != qs:
                    out[0, pos] = ts_event[i]
                    out[1, pos] = ts_recv[i]
                    out[2, pos] = seq[i]
                    out[3, pos] = sd
                    out[4, pos] = D_SET
                    out[5, pos] = q
                    out[6, pos] = qs
                    out[7, pos] = 0
                    out[8, pos] = fl
                    pos += 1
        for j in range(2 * depth):
            prev_px[j] = lv_px[j, i]
            prev_sz[j] = lv_sz[j, i]
        if moved_bid:
            mono_bid = _distinct_prices(prev_px, 0, depth)
        if moved_ask:
            mono_ask = _distinct_prices(prev_px, depth, depth)
        for j in range(start, pos - 1):
            out[8, j] = out[8, j] & NOT_LAST
        if (fl & F_LAST) != 0 and pos == start:
            if pos > 0:
                out[8, pos - 1] = out[8, pos - 1] | F_LAST
            else:
                lost += 1
        i += 1
    return i, pos, lost


@jit
def mbo_to_l3(action, side, flags, n, l3_action, l3_side, l3_flags, ext_flags):
    """Map MBO records to L3 book inputs, and fix snapshot boundaries.

    ``action``/``side`` are DBN chars. A->ADD, C->CANCEL (size = quantity cancelled), M->MODIFY,
    R->CLEAR; T, F, N (and anything else) -> NONE (no book change). Side B->+1, A->-1, N->0.
    A snapshot (records with flag 32) that ends without LAST gets LAST on its last record (it ends
    at the first live record). ``ext_flags[i]`` returns 1 where a CLEAR must be inserted before
    record i: a snapshot that starts after book-changing records without a clear in front of it
    (a repeated snapshot must not add to the book it replaces).
    """
    dirty = False
    for i in range(n):
        a = action[i]
        if a == 65:  # 'A'
            l3_action[i] = 1
        elif a == 67:  # 'C'
            l3_action[i] = 2
        elif a == 77:  # 'M'
            l3_action[i] = 3
        elif a == 82:  # 'R'
            l3_action[i] = 6
        else:
            l3_action[i] = 0
        sd = side[i]
        l3_side[i] = 1 if sd == 66 else (-1 if sd == 65 else 0)
        fl = flags[i]
        snap = (fl & 32) != 0
        if snap and (i + 1 == n or (flags[i + 1] & 32) == 0):
            fl = fl | F_LAST
        l3_flags[i] = fl
        prev_snap = i > 0 and (flags[i - 1] & 32) != 0
        if snap and not prev_snap and dirty and not (i > 0 and action[i - 1] == 82):
            ext_flags[i] = 1
            dirty = False
        if l3_action[i] == 6:
            dirty = False
        elif l3_action[i] != 0:
            dirty = True


MBP_BLOCK = (
    512  # records per block of decode_mbp_blocked: its level scratch (~100 KB at depth 10) stays in L2
)


@jit
def decode_mbp_blocked(
    u8,
    u32,
    off0,
    r0,
    stop,
    rtype,
    depth,
    n_out,
    iid,
    ts_event,
    ts_recv,
    price,
    size,
    flags,
    action,
    side,
    sequence,
    rec,
    lv_px,
    lv_sz,
    lv_ct,
    s_px,
    s_sz,
    s_ct,
):
    """:func:`decode_mbp` with the level columns decoded block by block through a scratch.

    Writing one record's levels touches ``6 * depth`` output columns at once (60 write streams at
    depth 10), more than the cache can combine when the outputs are in DRAM. Here each block of
    ``s_px.shape[1]`` records is decoded into the cache-resident scratch ``s_px/s_sz/s_ct``
    (same layout, ``(2 * depth, block)``), then copied out one output column at a time: long
    sequential writes. Same arguments and results as :func:`decode_mbp` plus the scratch.
    """
    block = s_px.shape[1]
    off = off0
    r = r0
    k = 0
    while off < stop and k < n_out:
        m = min(block, n_out - k)
        kb, off, r = decode_mbp(
            u8,
            u32,
            off,
            r,
            stop,
            rtype,
            depth,
            m,
            iid[k:],
            ts_event[k:],
            ts_recv[k:],
            price[k:],
            size[k:],
            flags[k:],
            action[k:],
            side[k:],
            sequence[k:],
            rec[k:],
            s_px,
            s_sz,
            s_ct,
        )
        for j in range(2 * depth):
            lv_px[j, k : k + kb] = s_px[j, :kb]
            lv_sz[j, k : k + kb] = s_sz[j, :kb]
            lv_ct[j, k : k + kb] = s_ct[j, :kb]
        k += kb
    return k, off, r


@jit
def distinct_gcd(prices, need, limit):
    """Tick-size evidence from ``prices`` without sorting them.

    Considers the first ``limit`` prices that are neither UNDEF nor 0. Returns ``(d, g)``: ``d`` the
    number of distinct values among them, counted up to ``need`` (``d == need`` means at least that
    many), and ``g`` the gcd of their absolute values (the gcd of the distinct values: repeats do not
    change it). ``(-1, 0)`` when a value has no int64 absolute value (the caller uses numpy instead).
    """
    seen = np.empty(max(need, 1), np.int64)
    d = 0
    g = np.int64(0)
    last = np.int64(0)
    taken = 0
    for i in range(prices.shape[0]):
        x = prices[i]
        if x == UNDEF or x == 0:
            continue
        if taken == limit:
            break
        taken += 1
        if x == last:
            continue
        last = x
        if x == -UNDEF - 1:
            return -1, np.int64(0)
        if d < need:
            new = True
            for j in range(d):
                if seen[j] == x:
                    new = False
                    break
            if new:
                seen[d] = x
                d += 1
        a = x if x > 0 else -x
        while a != 0:
            g, a = a, g % a
    return d, g
