"""Public test helpers: locating the shared real-data samples and small assertion helpers."""

from __future__ import annotations

import os
from pathlib import Path


def data_root() -> Path:
    """Root of the real-data samples: ``$ORDERFLOW_DATA``, else ``../shared/data`` beside the repo."""
    env = os.environ.get("ORDERFLOW_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent.parent / "shared" / "data"
        if (parent / "pyproject.toml").exists() and cand.exists():
            return cand
    return Path.cwd().parent / "shared" / "data"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


__all__ = ["data_root", "in_ci"]
