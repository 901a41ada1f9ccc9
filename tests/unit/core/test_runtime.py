"""The allocator settings orderflow's own processes apply (``orderflow.core.runtime``)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest


def _run(code: str, **env: str) -> str:
    import os

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, **env}
    )
    return out.stdout.strip()


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc malloc only"
)
def test_tune_allocator_applies_once_and_can_be_switched_off() -> None:
    # a fresh process each time: the setting is process-wide and applied at most once
    code = "from orderflow.core.runtime import tune_allocator as t; print(t(), t())"
    assert _run(code) == "True True"
    assert _run(code, ORDERFLOW_TUNE_MALLOC="0") == "False False"


def test_tune_allocator_is_not_applied_by_importing_the_library() -> None:
    code = "import orderflow.filters, orderflow.book.engine, orderflow.core.runtime as r; print(r._applied)"
    assert _run(code) == "None"


def test_pool_workers_apply_it() -> None:
    from orderflow.pipeline.executors import run_tasks

    got = run_tasks(runtime_state, [(), ()], executor="local", workers=2)
    expect = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert got == [expect, expect]


def runtime_state() -> bool | None:
    from orderflow.core import runtime as r

    return r._applied
