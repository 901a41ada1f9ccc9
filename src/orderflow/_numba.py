"""The one place numba is imported.

Every hot loop is written once in plain Python and compiled here. ``ORDERFLOW_DISABLE_JIT=1``
runs all kernels as plain Python (for debugging and coverage). The plain-Python twin of any
jitted kernel is always reachable as ``kernel.py_func``, which tests use to check that the
compiled and interpreted versions agree (the ``arch`` pattern).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

JIT_DISABLED = os.environ.get("ORDERFLOW_DISABLE_JIT", "").strip() in {"1", "true", "yes"}

_nb: Any = None
if not JIT_DISABLED:
    import numba

    _nb = numba
HAVE_NUMBA = _nb is not None


def _plain(fn: F) -> F:
    fn.py_func = fn  # type: ignore[attr-defined]
    return fn


def jit(fn: F | None = None, *, cache: bool = True, fastmath: bool = False, **kwargs: Any) -> Any:
    """Compile ``fn`` in nopython mode (or return it unchanged when JIT is disabled).

    Usable bare (``@jit``) or with options (``@jit(cache=False)``). The result always has a
    ``py_func`` attribute holding the plain-Python twin.
    """

    def wrap(f: F) -> F:
        if _nb is None:
            return _plain(f)
        return _nb.njit(cache=cache, fastmath=fastmath, nogil=True, **kwargs)(f)

    if fn is not None:
        return wrap(fn)
    return wrap


def typed_list_of_int64() -> Any:
    """An empty numba typed list of int64 (a plain list when JIT is disabled)."""
    if _nb is None:
        return []
    from numba.typed import List

    return List.empty_list(_nb.int64)


__all__ = ["HAVE_NUMBA", "JIT_DISABLED", "jit", "typed_list_of_int64"]
