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

from typing import Any

import numpy as np

from orderflow._numba import HAVE_NUMBA, jit

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


# ------------------------------------------------------------------------------------------------
# memory primitives of the streaming decoder (LLVM intrinsics under numba, plain numpy without it)
#
# ``_ld_*`` read a little-endian field at any byte offset of a uint8 array in one load (numba's own
# indexing adds a negative-index test to every access, and an 8-byte field from 4-byte words takes
# two loads, a shift and an or). ``_nt_store`` / ``_nt_store32`` are non-temporal stores: the line
# is written to memory without first being read into the cache (a normal store to a line that is
# not cached reads it first, "read for ownership", which doubles the memory traffic of a decoder
# whose outputs are larger than the cache). ``_store_fence`` orders them before later stores.

if HAVE_NUMBA:
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic as _numba_intrinsic

    intrinsic: Any = _numba_intrinsic  # (numba's typing of it does not fit intrinsics called from kernels)

    def _byte_loader(bits: int, ret: Any) -> Any:
        def typer(typingctx: Any, u8: Any, off: Any) -> Any:
            if not (
                isinstance(u8, types.Array) and u8.dtype == types.uint8 and isinstance(off, types.Integer)
            ):
                return None

            def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
                ary = context.make_array(sig.args[0])(context, builder, args[0])
                o = context.cast(builder, args[1], sig.args[1], types.intp)
                ptr = builder.bitcast(builder.gep(ary.data, [o]), ir.IntType(bits).as_pointer())
                return builder.load(ptr, align=1)

            return ret(u8, off), codegen

        return intrinsic(typer)

    _ld_u8 = _byte_loader(8, types.uint8)
    _ld_u32 = _byte_loader(32, types.uint32)
    _ld_i64 = _byte_loader(64, types.int64)

    def _nontemporal(builder: Any, store: Any) -> None:
        store.set_metadata("nontemporal", builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]))

    @intrinsic
    def _nt_store(typingctx: Any, arr: Any, i: Any, val: Any) -> Any:
        """``arr[i] = val`` (1-D ``arr``, no negative indices) as a non-temporal store."""
        if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(i, types.Integer)):
            return None

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            aryty, ity, vty = sig.args
            ary = context.make_array(aryty)(context, builder, args[0])
            idx = context.cast(builder, args[1], ity, types.intp)
            ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [idx], wraparound=False)
            _nontemporal(builder, builder.store(context.cast(builder, args[2], vty, aryty.dtype), ptr))
            return context.get_dummy_value()

        return types.void(arr, i, val), codegen

    @intrinsic
    def _nt_store32(typingctx: Any, dst: Any, i: Any, src: Any, j: Any) -> Any:
        """The 32 bytes at ``&src[j]`` to ``&dst[i]`` (contiguous 1-D arrays, ``&dst[i]`` 32-byte
        aligned) as one non-temporal vector store."""
        if not (
            isinstance(dst, types.Array)
            and isinstance(src, types.Array)
            and dst.ndim == 1
            and src.ndim == 1
            and isinstance(i, types.Integer)
            and isinstance(j, types.Integer)
        ):
            return None

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            dty, ity, sty, jty = sig.args
            da = context.make_array(dty)(context, builder, args[0])
            sa = context.make_array(sty)(context, builder, args[2])
            ii = context.cast(builder, args[1], ity, types.intp)
            jj = context.cast(builder, args[3], jty, types.intp)
            vec = ir.VectorType(ir.IntType(64), 4).as_pointer()
            v = builder.load(builder.bitcast(builder.gep(sa.data, [jj]), vec), align=1)
            _nontemporal(
                builder, builder.store(v, builder.bitcast(builder.gep(da.data, [ii]), vec), align=32)
            )
            return context.get_dummy_value()

        return types.void(dst, i, src, j), codegen

    @intrinsic
    def _at(typingctx: Any, arr: Any, i: Any) -> Any:
        """``arr[i]`` (1-D ``arr``) without numba's negative-index test, which keeps loops from
        being vectorized."""
        if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(i, types.Integer)):
            return None

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            aryty, ity = sig.args
            ary = context.make_array(aryty)(context, builder, args[0])
            idx = context.cast(builder, args[1], ity, types.intp)
            return builder.load(
                cgutils.get_item_pointer(context, builder, aryty, ary, [idx], wraparound=False)
            )

        return arr.dtype(arr, i), codegen

    @intrinsic
    def _store_fence(typingctx: Any) -> Any:
        """A full memory fence (orders the non-temporal stores before anything after it)."""

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            builder.fence("seq_cst")
            return context.get_dummy_value()

        return types.void(), codegen

else:

    def _ld_u8(u8: Any, off: Any) -> Any:
        return u8[off]

    def _ld_u32(u8: Any, off: Any) -> Any:
        return u8[off : off + 4].view(np.uint32)[0]

    def _ld_i64(u8: Any, off: Any) -> Any:
        return u8[off : off + 8].view(np.int64)[0]

    def _at(arr: Any, i: Any) -> Any:
        return arr[i]

    def _nt_store(arr: Any, i: Any, val: Any) -> None:
        arr[i] = val

    def _nt_store32(dst: Any, i: Any, src: Any, j: Any) -> None:
        step = 32 // dst.itemsize
        dst[i : i + step] = src[j : j + step]

    def _store_fence() -> None:
        pass


@jit(inline="always")
def ld_u8(u8, off):
    """``u8[off]`` (``off >= 0``)."""
    return _ld_u8(u8, off)


@jit(inline="always")
def ld_u32(u8, off):
    """The little-endian uint32 at byte ``off`` of ``u8`` (any alignment)."""
    return _ld_u32(u8, off)


@jit(inline="always")
def ld_i64(u8, off):
    """The little-endian int64 at byte ``off`` of ``u8`` (any alignment)."""
    return _ld_i64(u8, off)


@jit(inline="always")
def at(arr, i):
    """``arr[i]`` (1-D, ``i >= 0``) without the negative-index test (loops over it vectorize)."""
    return _at(arr, i)


@jit(inline="always")
def nt_store(arr, i, val):
    """``arr[i] = val`` (1-D, ``i >= 0``) as a non-temporal store."""
    _nt_store(arr, i, val)


@jit(inline="always")
def nt_store32(dst, i, src, j):
    """The 32 bytes at ``&src[j]`` to the 32-byte aligned ``&dst[i]`` as one non-temporal store."""
    _nt_store32(dst, i, src, j)


@jit
def store_fence():
    """Make the non-temporal stores of :func:`stream_copy` globally visible before what follows."""
    _store_fence()


@jit(inline="always")
def stream_copy(dst, d0, src, n):
    """``dst[d0:d0 + n] = src[:n]`` (1-D) with non-temporal stores: the destination lines are written
    without being read first and do not displace the cache. Call :func:`store_fence` after a run of
    copies. Contiguous arrays of 1, 2, 4 or 8-byte items get 32-byte vector stores between a scalar
    head (up to the first 32-byte boundary) and tail."""
    isz = dst.itemsize
    t = 0
    if dst.strides[0] == isz and src.strides[0] == isz and isz <= 8:
        mis = np.int64(dst.ctypes.data & np.uint64(31)) + d0 * isz
        while t < n and (mis + t * isz) & 31 != 0:
            nt_store(dst, d0 + t, src[t])
            t += 1
        step = 32 // isz
        while t + step <= n:
            nt_store32(dst, d0 + t, src, t)
            t += step
    while t < n:
        nt_store(dst, d0 + t, src[t])
        t += 1


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


DIFF_BLOCK = 1024  # records per block of diff_levels' change scan
MASK_LEVELS = 16  # diff_levels keeps per-level change bits up to this depth (2 * 16 rows of each kind)


@jit(inline="always")
def _set_row(out, pos, te, tr, sq, sd, px, sz, fl):
    out[0, pos] = te
    out[1, pos] = tr
    out[2, pos] = sq
    out[3, pos] = sd
    out[4, pos] = D_SET
    out[5, pos] = px
    out[6, pos] = sz
    out[7, pos] = 0
    out[8, pos] = fl


@jit
def _change_bits(lv_px, lv_sz, w, i, m, prev_px, prev_sz, chg):
    """``chg[c]`` for records ``i .. i + m - 1``: bit ``r`` set when level row ``r``'s price differs
    from the record before (``prev_px`` for record ``i``), bit ``32 + r`` when its size does
    (``w <= 32`` rows). One sequential pass per row, vectorized."""
    for c in range(m):
        chg[c] = 0
    for r in range(w):
        rp = lv_px[r]
        rs = lv_sz[r]
        bp = np.int64(1) << r
        bs = np.int64(1) << (32 + r)
        chg[0] |= (bp if at(rp, i) != prev_px[r] else 0) | (bs if at(rs, i) != prev_sz[r] else 0)
        for c in range(1, m):
            chg[c] |= (bp if at(rp, i + c) != at(rp, i + c - 1) else 0) | (
                bs if at(rs, i + c) != at(rs, i + c - 1) else 0
            )


@jit
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

    A usual update changes one or two levels of one side. So each block of ``DIFF_BLOCK`` records
    first gets per-level change bits from :func:`_change_bits` (a sequential pass per level row;
    rows should be C-contiguous for it to vectorize). A side whose prices did not move and are
    distinct (strictly monotone) then only needs the levels whose size changed; a record that
    changes nothing is skipped. ``prev_px/prev_sz`` always hold the last record's levels.
    """
    cap = out.shape[1]
    w = 2 * depth
    masked = depth <= MASK_LEVELS
    side_bits = (np.int64(1) << depth) - 1 if masked else np.int64(0)
    chg = np.zeros(DIFF_BLOCK, np.int64)
    mono_bid = _distinct_prices(prev_px, 0, depth)  # kept up to date as prev_px changes
    mono_ask = _distinct_prices(prev_px, depth, depth)
    i = i0
    while i < n:
        m = min(DIFF_BLOCK, n - i)
        if masked:
            _change_bits(lv_px, lv_sz, w, i, m, prev_px, prev_sz, chg)
        for c in range(m):
            if pos + 4 * depth > cap:
                return i, pos, lost
            fl = np.int64(flags[i])
            bits = chg[c] if masked else np.int64(-1)
            if bits == 0 and mono_bid and mono_ask:  # same book as the record before: no rows
                if (fl & F_LAST) != 0:
                    if pos > 0:
                        out[8, pos - 1] = out[8, pos - 1] | F_LAST
                    else:
                        lost += 1
                i += 1
                continue
            start = pos
            te = ts_event[i]
            tr = ts_recv[i]
            sq = seq[i]
            moved_bid = False
            moved_ask = False
            for s in range(2):
                sd = 1 if s == 0 else -1
                base = s * depth
                # fast path, the usual update: the side's prices are where they were and distinct
                # (strictly monotone), so a price can only match at its own level
                if masked:
                    same = ((bits >> base) & side_bits) == 0
                    sz_bits = (bits >> (32 + base)) & side_bits
                else:
                    same = True
                    for a in range(depth):
                        if lv_px[base + a, i] != prev_px[base + a]:
                            same = False
                            break
                    sz_bits = np.int64(-1)
                if s == 0:
                    moved_bid = not same
                else:
                    moved_ask = not same
                if same and (mono_bid if s == 0 else mono_ask):
                    if sz_bits == 0:  # rows come only from levels whose size changed
                        continue
                    for a in range(depth):
                        if (sz_bits >> a) & 1 == 0:
                            continue
                        p = prev_px[base + a]
                        if p == UNDEF or prev_sz[base + a] == 0 or lv_sz[base + a, i] != 0:
                            continue
                        _set_row(out, pos, te, tr, sq, sd, p, 0, fl)
                        pos += 1
                    for b in range(depth):
                        if (sz_bits >> b) & 1 == 0:
                            continue
                        q = lv_px[base + b, i]
                        qs = np.int64(lv_sz[base + b, i])
                        if q == UNDEF or qs == 0:
                            continue
                        old = prev_sz[base + b]
                        if old == 0:
                            old = -1
                        if old != qs:
                            _set_row(out, pos, te, tr, sq, sd, q, qs, fl)
                            pos += 1
                    continue
                # the previous side's live prices are distinct when strictly monotone (the normal
                # case): then any match is the first match and the searches below may start at the
                # same level
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
                        _set_row(out, pos, te, tr, sq, sd, p, 0, fl)
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
                        _set_row(out, pos, te, tr, sq, sd, q, qs, fl)
                        pos += 1
            if bits != 0:
                for j in range(w):
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


@jit(inline="always")
def _put_mbp(
    u8,
    off,
    r,
    k,
    depth,
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
    """Decode the mbp record at byte ``off`` (record index ``r``) into row ``k`` of the columns,
    each field with one load (:func:`ld_i64` / :func:`ld_u32`, no index tests)."""
    iid[k] = ld_u32(u8, off + 4)
    ts_event[k] = ld_i64(u8, off + 8)
    price[k] = ld_i64(u8, off + 16)
    size[k] = ld_u32(u8, off + 24)
    action[k] = ld_u8(u8, off + 28)
    side[k] = ld_u8(u8, off + 29)
    flags[k] = ld_u8(u8, off + 30)
    ts_recv[k] = ld_i64(u8, off + 32)
    sequence[k] = ld_u32(u8, off + 44)
    rec[k] = r
    b = off + 48
    for j in range(depth):
        lv_px[j, k] = ld_i64(u8, b)
        lv_px[depth + j, k] = ld_i64(u8, b + 8)
        lv_sz[j, k] = ld_u32(u8, b + 16)
        lv_sz[depth + j, k] = ld_u32(u8, b + 20)
        lv_ct[j, k] = ld_u32(u8, b + 24)
        lv_ct[depth + j, k] = ld_u32(u8, b + 28)
        b += 32


@jit(inline="always")
def _flush_mbp(
    k,
    kb,
    depth,
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
    c_iid,
    c_ts_event,
    c_ts_recv,
    c_price,
    c_size,
    c_flags,
    c_action,
    c_side,
    c_sequence,
    c_rec,
    s_px,
    s_sz,
    s_ct,
):
    """Rows ``0 .. kb - 1`` of the scratch to rows ``k .. k + kb - 1`` of the outputs, one column
    at a time (:func:`stream_copy`; the byte columns with plain stores)."""
    stream_copy(iid, k, c_iid, kb)
    stream_copy(ts_event, k, c_ts_event, kb)
    stream_copy(ts_recv, k, c_ts_recv, kb)
    stream_copy(price, k, c_price, kb)
    stream_copy(size, k, c_size, kb)
    flags[k : k + kb] = c_flags[:kb]
    action[k : k + kb] = c_action[:kb]
    side[k : k + kb] = c_side[:kb]
    stream_copy(sequence, k, c_sequence, kb)
    stream_copy(rec, k, c_rec, kb)
    for j in range(2 * depth):
        stream_copy(lv_px[j], k, s_px[j], kb)
        stream_copy(lv_sz[j], k, s_sz[j], kb)
        stream_copy(lv_ct[j], k, s_ct[j], kb)


@jit
def decode_mbp_stream(
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
    c_iid,
    c_ts_event,
    c_ts_recv,
    c_price,
    c_size,
    c_flags,
    c_action,
    c_side,
    c_sequence,
    c_rec,
    s_px,
    s_sz,
    s_ct,
):
    """:func:`decode_mbp` for outputs in DRAM: what :func:`read_dbn` uses.

    Each block of ``len(c_rec)`` records is decoded into a cache-resident scratch of every column
    (``c_*`` 1-D, ``s_*`` levels as in :func:`decode_mbp_blocked`; :func:`mbp_stream_scratch`),
    then copied out one column at a time with :func:`stream_copy`: sequential non-temporal stores,
    so the output lines are never read (no read for ownership: ~450 bytes a record less memory
    traffic at depth 10) and every write is one long stream. The fields are read from ``u8`` with
    one load each, at any alignment (``u32`` is not used). Same arguments and results as
    :func:`decode_mbp` plus the scratch.
    """
    need = 48 + 32 * depth
    block = c_rec.shape[0]
    off = off0
    r = r0
    k = 0
    while off < stop and k < n_out:
        m = min(block, n_out - k)
        kb = 0
        while off < stop and kb < m:
            length = int(ld_u8(u8, off)) * 4
            if ld_u8(u8, off + 1) == rtype and length >= need:
                _put_mbp(
                    u8,
                    off,
                    r,
                    kb,
                    depth,
                    c_iid,
                    c_ts_event,
                    c_ts_recv,
                    c_price,
                    c_size,
                    c_flags,
                    c_action,
                    c_side,
                    c_sequence,
                    c_rec,
                    s_px,
                    s_sz,
                    s_ct,
                )
                kb += 1
            r += 1
            off += length
        _flush_mbp(
            k,
            kb,
            depth,
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
            c_iid,
            c_ts_event,
            c_ts_recv,
            c_price,
            c_size,
            c_flags,
            c_action,
            c_side,
            c_sequence,
            c_rec,
            s_px,
            s_sz,
            s_ct,
        )
        k += kb
    store_fence()
    return k, off, r


@jit
def scan_decode_mbp_stream(
    u8,
    n_bytes,
    counts,
    short,
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
    c_iid,
    c_ts_event,
    c_ts_recv,
    c_price,
    c_size,
    c_flags,
    c_action,
    c_side,
    c_sequence,
    c_rec,
    s_px,
    s_sz,
    s_ct,
):
    """:func:`scan_records` and :func:`decode_mbp_stream` in one pass over the region.

    For a file whose schema says which records dominate: the region is read once instead of
    twice. ``n_out`` must be at least the number of ``rtype`` records (``n_bytes // (48 + 32 *
    depth)`` always is). Returns ``(n_records, stop, rows)``: the first two as
    :func:`scan_records` (whose ``counts`` / ``short`` it fills), ``rows`` as :func:`decode_mbp`.
    Records are decoded exactly when :func:`scan_records` passes them whole and not short.
    """
    need = 48 + 32 * depth
    block = c_rec.shape[0]
    off = 0
    n = 0
    k = 0
    done = False
    while not done:
        kb = 0
        m = min(block, n_out - k)
        while kb < m:
            if off + 2 > n_bytes:
                done = True
                break
            length = int(ld_u8(u8, off)) * 4
            if length < 16 or off + length > n_bytes:
                done = True
                break
            rt = ld_u8(u8, off + 1)
            counts[rt] += 1
            if (
                (rt == 0xA0 and length < 56)
                or (rt == 0x00 and length < 48)
                or (rt == 0x01 and length < 80)
                or (rt == 0x0A and length < 368)
            ):
                short[rt] += 1
            if rt == rtype and length >= need:
                _put_mbp(
                    u8,
                    off,
                    n,
                    kb,
                    depth,
                    c_iid,
                    c_ts_event,
                    c_ts_recv,
                    c_price,
                    c_size,
                    c_flags,
                    c_action,
                    c_side,
                    c_sequence,
                    c_rec,
                    s_px,
                    s_sz,
                    s_ct,
                )
                kb += 1
            n += 1
            off += length
        if m == 0:  # the outputs are full (n_out too small): go on counting only
            n, off = scan_records_from(u8, off, n, n_bytes, counts, short)
            done = True
        _flush_mbp(
            k,
            kb,
            depth,
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
            c_iid,
            c_ts_event,
            c_ts_recv,
            c_price,
            c_size,
            c_flags,
            c_action,
            c_side,
            c_sequence,
            c_rec,
            s_px,
            s_sz,
            s_ct,
        )
        k += kb
    store_fence()
    return n, off, k


@jit
def distinct_gcd(prices, need, limit):
    """Tick-size evidence from ``prices`` without sorting them.

    Considers the first ``limit`` prices that are neither UNDEF nor 0. Returns ``(d, g)``: ``d`` the
    number of distinct values among them, counted up to ``need`` (``d == need`` means at least that
    many), and ``g`` the gcd of their absolute values (the gcd of the distinct values: repeats do not
    change it). ``(-1, 0)`` when a value has no int64 absolute value (the caller uses numpy instead).
    The distinct values are counted in a small open-addressing hash set; a value that ``g``
    already divides leaves ``g`` as it is (one division instead of Euclid's loop).
    """
    bits = 1
    while (1 << bits) < 2 * max(need, 1):
        bits += 1
    mask = (1 << bits) - 1
    table = np.zeros(mask + 1, np.int64)  # 0 = empty slot (0 is never counted)
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
            h = (x % 2147483629) & mask  # a prime modulus mixes the low bits (prices end in zeros)
            while True:
                v = table[h]
                if v == 0:
                    table[h] = x
                    d += 1
                    break
                if v == x:
                    break
                h = (h + 1) & mask
        a = x if x > 0 else -x
        if g != 0 and a % g == 0:
            continue
        while a != 0:
            g, a = a, g % a
    return d, g


@jit
def utc_days(ts_recv, ts_event, out):
    """``out[i]`` = the UTC day (days since the epoch) of record ``i``'s ``ts_recv``, or of its
    ``ts_event`` where ``ts_recv`` is UNDEF (-1). Returns how often the day changes from one record
    to the next (0: one day)."""
    changes = 0
    prev = np.int64(0)
    for i in range(out.shape[0]):
        t = ts_recv[i]
        if t == -1:
            t = ts_event[i]
        day = t // 86_400_000_000_000
        out[i] = day
        if i > 0 and day != prev:
            changes += 1
        prev = day
    return changes


@jit
def byte_counts(a, hist):
    """``hist[v]`` += the number of bytes ``v`` in the uint8 array ``a`` (four interleaved partial
    histograms: runs of one value do not wait on each other's increments)."""
    part = np.zeros((4, 256), np.int64)
    n = a.shape[0]
    n4 = n - n % 4
    for i in range(0, n4, 4):
        part[0, a[i]] += 1
        part[1, a[i + 1]] += 1
        part[2, a[i + 2]] += 1
        part[3, a[i + 3]] += 1
    for i in range(n4, n):
        part[0, a[i]] += 1
    for v in range(256):
        hist[v] += part[0, v] + part[1, v] + part[2, v] + part[3, v]


@jit
def crossed_rows(flags, bid, ask, out):
    """Indices (into ``out``; returns how many) of the records that end an event (LAST) on a
    crossed or locked book: both best prices defined and ``bid >= ask``."""
    k = 0
    for i in range(flags.shape[0]):
        b = bid[i]
        x = ask[i]
        if (flags[i] & F_LAST) != 0 and b != UNDEF and x != UNDEF and b >= x:
            out[k] = i
            k += 1
    return k
