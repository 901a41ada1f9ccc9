"""Benchmarks run the way orderflow's own processes do: with the allocator settings the CLI and the
pipeline's workers apply (:func:`orderflow.core.runtime.tune_allocator`; ``ORDERFLOW_TUNE_MALLOC=0``
measures without them). The fixture only runs for the benchmarks, not for ``make test``."""

from __future__ import annotations

import pytest

from orderflow.core.runtime import tune_allocator


@pytest.fixture(autouse=True, scope="session")
def _orderflow_allocator() -> None:
    tune_allocator()
