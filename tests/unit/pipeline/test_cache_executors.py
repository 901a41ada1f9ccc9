from __future__ import annotations

import operator

import pytest

from orderflow.core.errors import ConfigError
from orderflow.pipeline.cache import StageCache, digest, link_stage
from orderflow.pipeline.config import load_config
from orderflow.pipeline.executors import run_tasks


def test_digest_is_order_independent_for_dict_keys() -> None:
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
    assert digest({"a": 1}) != digest({"a": 2})


def test_stage_cache_commit_detects_corruption(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cache = StageCache(tmp_path)
    d = cache.begin("book", "k1")
    (d / "x.parquet").write_bytes(b"0123456789")
    assert not cache.is_complete("book", "k1")  # no marker yet: an interrupted stage
    assert not cache.is_corrupt("book", "k1")  # ... which resumes, it is not corrupt
    cache.commit("book", "k1", {"rows": 10})
    assert cache.is_complete("book", "k1") and not cache.is_corrupt("book", "k1")
    assert cache.summary("book", "k1") == {"rows": 10}
    (d / "x.parquet").write_bytes(b"0123456788")  # same size, different bytes
    assert not cache.is_complete("book", "k1")
    assert cache.is_corrupt("book", "k1")
    (d / "x.parquet").write_bytes(b"short")
    assert not cache.is_complete("book", "k1", verify=False)


def test_link_stage_points_run_dir_at_cache(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cache = StageCache(tmp_path)
    d = cache.begin("features", "abc")
    (d / "f.txt").write_text("hi")
    link_stage(tmp_path / "run1", "features", d)
    assert (tmp_path / "run1" / "features" / "f.txt").read_text() == "hi"
    d2 = cache.begin("features", "def")
    (d2 / "f.txt").write_text("new")
    link_stage(tmp_path / "run1", "features", d2)
    assert (tmp_path / "run1" / "features" / "f.txt").read_text() == "new"


@pytest.mark.parametrize("executor", ["serial", "local"])
def test_run_tasks_keeps_order(executor: str) -> None:
    seen: list[int] = []
    # a stdlib function: workers of a forkserver/spawn pool import it by name
    out = run_tasks(
        operator.mul,
        [(i, i) for i in range(7)],
        executor=executor,
        workers=2,  # type: ignore[arg-type]
        on_done=lambda i, r: seen.append(i),
    )
    assert out == [i * i for i in range(7)]
    assert sorted(seen) == list(range(7))


@pytest.mark.slow
def test_run_tasks_dask_local_cluster_matches_local() -> None:
    args = [(i, i) for i in range(5)]
    assert run_tasks(operator.mul, args, executor="dask", workers=2) == run_tasks(
        operator.mul, args, executor="serial"
    )


def test_local_pool_never_forks_a_threaded_parent() -> None:
    # polars' (and OpenMP's) thread pools do not survive fork(): a forked worker deadlocked on its
    # first pl.concat once the parent had used polars. The pool must use forkserver or spawn.
    from orderflow.pipeline.executors import _mp_context

    assert _mp_context().get_start_method() in {"forkserver", "spawn"}


def test_config_rejects_unknown_keys_with_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "c.toml"
    p.write_text("[book]\ndepth = 10\ncolour = 'red'\n")
    with pytest.raises(ConfigError, match=r"book\.colour: unknown key"):
        load_config(p)
    p.write_text("[book]\ndepth = 0\n")
    with pytest.raises(ConfigError, match=r"book\.depth"):
        load_config(p)
    p.write_text("[data]\nsource = 'lobster'\n")
    with pytest.raises(ConfigError, match="lobster"):
        load_config(p)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
