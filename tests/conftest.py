"""Shared fixtures. Real-data tests read ../shared/data (ORDERFLOW_DATA overrides).

Locally a missing sample skips the test; with CI=true it fails.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orderflow.testing import data_root, in_ci


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_blas():  # type: ignore[no-untyped-def]
    """xdist workers share the cores: keep BLAS single-threaded even if numpy was imported first."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="session")
def shared_data() -> Callable[[str], Path]:
    """Return a function mapping a path relative to shared/data to an existing file."""

    def get(rel: str) -> Path:
        p = data_root() / rel
        if not p.exists():
            msg = (
                f"real-data sample missing: {p} (set ORDERFLOW_DATA or place ../shared/data beside the repo)"
            )
            if in_ci():
                pytest.fail(msg)
            pytest.skip(msg)
        return p

    return get


@pytest.fixture
def rng():  # type: ignore[no-untyped-def]
    import numpy as np

    return np.random.default_rng(12345)
