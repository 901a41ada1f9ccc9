"""orderflow.book: price-level book reconstruction, top-N snapshots and sampling clocks.

Public API: :class:`L2Book` (streaming engine), :func:`reconstruct`, :func:`reconstruct_dataset`,
:class:`ClockSpec`, :class:`BookStats`. Low-level numba entry points: :mod:`orderflow.book._kernels`.
"""

from orderflow.book.clocks import ClockSpec
from orderflow.book.engine import BookStats, L2Book, reconstruct, reconstruct_dataset

__all__ = ["BookStats", "ClockSpec", "L2Book", "reconstruct", "reconstruct_dataset"]
