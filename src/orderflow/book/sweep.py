"""Walking the displayed book: the cost of taking Q by consuming levels from the touch outwards.

Used by sweep-cost features, cost-aware (executable) labels and marketable orders in the backtest,
so all three agree on what "crossing the spread for size Q" costs.
"""

from __future__ import annotations

import numpy as np

from orderflow._numba import jit
from orderflow.core.enums import UNDEF_PRICE


@jit
def walk_book(px: np.ndarray, sz: np.ndarray, qty: float) -> tuple[float, float]:
    """Take up to ``qty`` from levels ``px[k], sz[k]`` (best first; empty levels have size 0).

    Returns ``(filled, notional)``: the quantity the displayed depth can fill (<= qty) and the
    sum of price x size taken. Prices and sizes are floats in natural units here; the average
    price is ``notional / filled`` when ``filled > 0``.
    """
    filled = 0.0
    notional = 0.0
    remaining = qty
    for k in range(px.shape[0]):
        if remaining <= 0.0:
            break
        s = sz[k]
        if s <= 0.0 or px[k] != px[k]:
            continue
        take = s if s < remaining else remaining
        filled += take
        notional += take * px[k]
        remaining -= take
    return filled, notional


@jit
def walk_book_int(px: np.ndarray, sz: np.ndarray, qty: int) -> tuple[int, int, int]:
    """Exact integer version on canonical columns (prices 1e-9 units, sizes in size units).

    Returns ``(filled, notional_int, worst_price)``: ``notional_int`` is sum(price_int x size), so the
    average price in 1e-9 units is ``notional_int / filled``; ``worst_price`` is the last level touched
    (UNDEF_PRICE when nothing fills). Python ints are arbitrary precision; the jitted version uses int64,
    which holds price x size up to 9.2e18 (e.g. $9.2e9 of notional at 1e-9 price units per size unit).
    """
    filled = 0
    notional = 0
    worst = UNDEF_PRICE
    remaining = qty
    for k in range(px.shape[0]):
        if remaining <= 0:
            break
        s = sz[k]
        if s <= 0 or px[k] == UNDEF_PRICE:
            continue
        take = s if s < remaining else remaining
        filled += take
        notional += take * px[k]
        remaining -= take
        worst = px[k]
    return filled, notional, worst


__all__ = ["walk_book", "walk_book_int"]
