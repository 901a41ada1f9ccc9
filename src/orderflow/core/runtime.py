"""Process-wide runtime settings that orderflow's own processes apply (the CLI, pipeline workers).

Library functions never call these: a program that imports orderflow keeps its allocator as it
was, and can opt in with :func:`tune_allocator`.

**The allocator.** glibc's malloc serves large blocks (above a threshold that adapts between 128 KiB
and 32 MiB) with fresh ``mmap`` pages and returns them on ``free``, and it trims the heap's free top
back to the kernel. A stage that allocates and drops arrays of a few MB per kernel, partition after
partition, then pays a page fault per 4 KiB page of every array each time: on this project's
benchmark machine (a KVM guest) the filters took about 13,000 faults per million events, some 15%
of their time. :func:`tune_allocator` keeps such blocks in the heap and the heap's free memory in
the process, so the pages are faulted once and reused. The peak resident size is unchanged (it is
set by the largest working set); the resident size after a peak stays near it instead of falling.
``ORDERFLOW_TUNE_MALLOC=0`` switches this off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 256 << 20
"""Blocks from this size up (256 MiB) still get their own mapping (rare, one-off buffers)."""
TRIM_THRESHOLD = 1 << 30
"""The heap is trimmed only when its free top exceeds 1 GiB."""

_applied: bool | None = None


def tune_allocator() -> bool:
    """Raise glibc malloc's mmap and trim thresholds (see the module docs); True when applied.

    Idempotent; a no-op returning False off glibc or with ``ORDERFLOW_TUNE_MALLOC=0``."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("ORDERFLOW_TUNE_MALLOC", "1").strip().lower() in {"0", "false", "no", "off"}:
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        ok = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
            libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        )
    except (OSError, AttributeError):
        return False
    _applied = ok
    return ok


__all__ = ["tune_allocator"]
