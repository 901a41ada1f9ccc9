"""Content-addressed stage artifacts, run ids and resumable, atomic stage completion.

A stage's *key* hashes its name, the config sections it reads, the keys of the stages it consumes,
the digests of its input files and the code version. Its artifacts live in
``<out>/cache/<stage>/<key>/`` and are complete only when ``_SUCCESS.json`` exists there (written
last, atomically, listing every file with its size and digest). A run directory
``<out>/<run_id>/<stage>`` links to the cached folder, so a second run with the same inputs
reuses every stage, a changed feature list recomputes only the stages downstream of features, and a
run killed mid-stage leaves no ``_SUCCESS.json`` behind: the stage is simply rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orderflow import __version__
from orderflow.core.io import atomic_write_json, file_digest

SUCCESS = "_SUCCESS.json"


def stable_json(obj: Any) -> str:
    """Canonical JSON (sorted keys, no whitespace) for hashing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def digest(*parts: Any, length: int = 16) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(stable_json(p).encode())
        h.update(b"\x00")
    return h.hexdigest()[:length]


def code_version() -> str:
    """The package version plus a digest of the installed source files, so code edits invalidate caches."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(__version__.encode())
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"


class StageCache:
    """The cache folder of one output root."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.root = self.out / "cache"

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def is_complete(self, stage: str, key: str, *, verify: bool = True) -> bool:
        """True when the stage's ``_SUCCESS.json`` exists and every listed file matches its size (and digest)."""
        d = self.path(stage, key)
        marker = d / SUCCESS
        if not marker.exists():
            return False
        try:
            info = json.loads(marker.read_text())
        except (OSError, json.JSONDecodeError):
            return False
        for rel, meta in info.get("files", {}).items():
            f = d / rel
            if not f.exists() or f.stat().st_size != meta["size"]:
                return False
            if verify and file_digest(f, "blake2b") != meta["blake2b"]:
                return False
        return True

    def is_corrupt(self, stage: str, key: str) -> bool:
        """True when the stage was committed (``_SUCCESS.json`` exists) but a listed file no longer matches.

        Such a stage must be rebuilt from scratch: its per-partition completion markers still vouch for
        files that have since changed on disk, so resuming would reuse the damaged artifact.
        """
        return (self.path(stage, key) / SUCCESS).exists() and not self.is_complete(stage, key)

    def begin(self, stage: str, key: str) -> Path:
        """A fresh, empty folder for the stage (any incomplete leftovers are removed)."""
        d = self.path(stage, key)
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        return d

    def commit(self, stage: str, key: str, summary: Mapping[str, Any] | None = None) -> None:
        """Mark the stage complete: list its files with sizes and digests, write ``_SUCCESS.json`` last."""
        d = self.path(stage, key)
        files = {}
        for f in sorted(d.rglob("*")):
            if f.is_file() and f.name != SUCCESS and not f.name.startswith("."):
                files[f.relative_to(d).as_posix()] = {
                    "size": f.stat().st_size,
                    "blake2b": file_digest(f, "blake2b"),
                }
        atomic_write_json(
            d / SUCCESS, {"stage": stage, "key": key, "files": files, "summary": dict(summary or {})}
        )

    def summary(self, stage: str, key: str) -> dict[str, Any]:
        info = json.loads((self.path(stage, key) / SUCCESS).read_text())
        return dict(info.get("summary", {}))


def link_stage(run_dir: Path, stage: str, target: Path) -> None:
    """Point ``run_dir/stage`` at the cached stage folder (atomic symlink replace)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    link = run_dir / stage
    rel = os.path.relpath(target, run_dir)
    fd, tmp = tempfile.mkstemp(prefix=f".{stage}.", dir=run_dir)
    os.close(fd)
    os.unlink(tmp)
    os.symlink(rel, tmp)
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    os.replace(tmp, link)


__all__ = ["SUCCESS", "StageCache", "code_version", "digest", "link_stage", "stable_json"]
