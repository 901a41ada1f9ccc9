"""Integer codes shared by every table and kernel.

Codes are small integers so they live in int8/uint8 columns and in numba kernels unchanged.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag


class Side(IntEnum):
    """Side of a resting order or book level. Bid = +1, ask = -1, none = 0."""

    BID = 1
    ASK = -1
    NONE = 0


class AggressorSide(IntEnum):
    """Side that initiated a trade. Buyer-initiated = +1 (lifted the ask), seller-initiated = -1."""

    BUY = 1
    SELL = -1
    NONE = 0


class BookAction(IntEnum):
    """What a BOOK_DELTAS row does to the price level (side, price).

    ADD, REDUCE and EXECUTE are incremental (size is the quantity added or removed);
    SET is absolute (size is the new level size, 0 deletes the level, as Binance, Tardis and
    Bybit publish); CLEAR empties one side (side = +1/-1) or the whole book (side = 0).
    """

    ADD = 1
    REDUCE = 2
    EXECUTE = 3
    SET = 4
    CLEAR = 5


class TradeKind(IntEnum):
    """Kind of a TRADES row."""

    REGULAR = 0  # execution against a displayed order
    HIDDEN = 1  # execution against hidden liquidity (no displayed-book change)
    CROSS = 2  # auction / cross trade
    OTHER = 3  # venue-specific (e.g. an off-book print)


class MarketStatus(IntEnum):
    """Market state changes (STATUS table)."""

    HALT = 1
    QUOTE_RESUME = 2  # quoting resumes (LOBSTER type 7, price 0)
    TRADE_RESUME = 3  # trading resumes (LOBSTER type 7, price 1)
    AUCTION = 4
    OPEN = 5
    CLOSE = 6
    OTHER = 7


class Flags(IntFlag):
    """Record flags, bit-compatible with Databento's DBN ``flags`` field."""

    NONE = 0
    LAST = 128  # last record of an event: a consistent book only exists after it
    TOB = 64  # top-of-book message
    SNAPSHOT = 32  # part of a (re)initialising snapshot
    MBP = 16  # aggregated price-level message
    BAD_TS_RECV = 8  # ts_recv is unreliable
    MAYBE_BAD_BOOK = 4  # unrecoverable gap: the book may be wrong


UNDEF_PRICE = 2**63 - 1
"""Price of an empty book level (Databento's ``UNDEF_PRICE``); its size is 0."""

PRICE_SCALE = 1_000_000_000
"""Prices are int64 fixed point: ``price_int = round(price * PRICE_SCALE)`` (1e-9 units, as DBN)."""
