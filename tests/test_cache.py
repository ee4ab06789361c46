"""The results cache: keyed by configuration and code version, atomic, safe to load, self-healing."""
import json
import multiprocessing as mp
from pathlib import Path

import numpy as np
import pytest

import ebcore
from ebcore import cache as cache_module
from ebcore.cache import ResultsCache


def _compute_counting(counter: Path, value=1.0):
    def compute():
        with open(counter, "a") as handle:
            handle.write("x")
        return {"weights": np.full(3, value)}, {"note": "computed"}
    return compute


def test_round_trip_and_hit(isolated_cache, tmp_path):
    counter = tmp_path / "count"
    first = isolated_cache.get_or_compute("demo", {"a": 1}, _compute_counting(counter))
    second = isolated_cache.get_or_compute("demo", {"a": 1}, _compute_counting(counter))
    assert not first.hit and second.hit
    np.testing.assert_array_equal(second.arrays["weights"], np.ones(3))
    assert second.info == {"note": "computed"}
    assert counter.read_text() == "x"


def test_key_depends_on_configuration_and_code_version(isolated_cache, monkeypatch):
    key = cache_module.config_key("demo", {"a": 1, "b": [1, 2]})
    assert key == cache_module.config_key("demo", {"b": [1, 2], "a": 1})  # order-independent
    assert key != cache_module.config_key("demo", {"a": 2, "b": [1, 2]})
    monkeypatch.setattr(cache_module, "_code_version", "a-different-version")
    assert key != cache_module.config_key("demo", {"a": 1, "b": [1, 2]})


def test_corrupt_entry_is_recomputed(isolated_cache, tmp_path):
    counter = tmp_path / "count"
    isolated_cache.get_or_compute("demo", {"a": 1}, _compute_counting(counter))
    file = isolated_cache.path("demo", {"a": 1})
    data = file.read_bytes()
    file.write_bytes(data[:-20] + b"\0" * 20)  # truncated / overwritten tail
    entry = isolated_cache.get_or_compute("demo", {"a": 1}, _compute_counting(counter))
    assert not entry.hit and counter.read_text() == "xx"
    file.write_bytes(b"not an npz at all")
    entry = isolated_cache.get_or_compute("demo", {"a": 1}, _compute_counting(counter))
    assert not entry.hit and counter.read_text() == "xxx"


def _rewrite_entry(file, edit):
    with np.load(file, allow_pickle=False) as data:
        members = {k: data[k] for k in data.files}
    edit(members)
    with open(file, "wb") as handle:
        np.savez(handle, **members)


def test_an_edited_value_or_info_fails_the_integrity_check(isolated_cache, tmp_path):
    counter = tmp_path / "count"
    isolated_cache.get_or_compute("demo", {"a": 1}, _compute_counting(counter))
    file = isolated_cache.path("demo", {"a": 1})

    def edit_value(members):
        members["weights"] = members["weights"] * 2

    _rewrite_entry(file, edit_value)
    assert isolated_cache.load("demo", {"a": 1}) is None and not file.exists()
    isolated_cache.get_or_compute("demo", {"a": 1}, _compute_counting(counter))

    def edit_info(members):
        meta = json.loads(members["__meta__"].tobytes())
        meta["info"]["note"] = "edited"
        members["__meta__"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)

    _rewrite_entry(file, edit_info)
    assert isolated_cache.load("demo", {"a": 1}) is None
    assert counter.read_text() == "xx"


def test_a_failure_to_read_that_is_not_corruption_keeps_the_entry(isolated_cache, tmp_path, monkeypatch):
    isolated_cache.get_or_compute("demo", {"a": 1}, _compute_counting(tmp_path / "count"))
    file = isolated_cache.path("demo", {"a": 1})

    def out_of_memory(*args, **kwargs):
        raise MemoryError("no room for a 320 MB entry")

    monkeypatch.setattr(cache_module.np, "load", out_of_memory)
    with pytest.raises(MemoryError):
        isolated_cache.load("demo", {"a": 1})
    monkeypatch.undo()
    assert file.exists() and isolated_cache.load("demo", {"a": 1}).hit


def test_failed_computation_leaves_no_entry(isolated_cache):
    def broken():
        raise RuntimeError("crash in the middle")
    with pytest.raises(RuntimeError):
        isolated_cache.get_or_compute("demo", {"a": 3}, broken)
    assert not isolated_cache.path("demo", {"a": 3}).exists()
    assert isolated_cache.load("demo", {"a": 3}) is None
    assert not list(isolated_cache.path("demo", {"a": 3}).parent.glob(".tmp-*"))


def test_pickled_objects_are_refused(isolated_cache):
    with pytest.raises(TypeError, match="object"):
        isolated_cache.store("demo", {"a": 4}, {"bad": np.array([{"x": 1}], dtype=object)})
    file = isolated_cache.path("demo", {"a": 5})
    file.parent.mkdir(parents=True, exist_ok=True)
    with open(file, "wb") as handle:
        np.savez(handle, bad=np.array([{"x": 1}], dtype=object))
    assert isolated_cache.load("demo", {"a": 5}) is None  # allow_pickle=False refuses it; entry removed
    assert not file.exists()


def test_replace_is_one_atomic_step(isolated_cache, monkeypatch):
    isolated_cache.store("ckpt", {"a": 1}, {"v": np.zeros(2)})
    renames = []
    real_replace = cache_module.os.replace
    monkeypatch.setattr(cache_module.os, "rename", lambda *a: pytest.fail("store must not rename in two steps"))
    monkeypatch.setattr(cache_module.os, "replace", lambda a, b: (renames.append(b), real_replace(a, b)))
    isolated_cache.store("ckpt", {"a": 1}, {"v": np.ones(2)}, replace=True)
    assert renames == [isolated_cache.path("ckpt", {"a": 1})]
    np.testing.assert_array_equal(isolated_cache.load("ckpt", {"a": 1}).arrays["v"], np.ones(2))


def test_stale_temporary_and_lock_files_are_cleaned(isolated_cache, tmp_path):
    import os
    import time

    isolated_cache.store("demo", {"a": 1}, {"v": np.zeros(1)})
    folder = isolated_cache.path("demo", {"a": 1}).parent
    old_tmp, old_lock, fresh_tmp = folder / ".tmp-123-abc.npz", folder / ".deadbeef.lock", folder / ".tmp-9-new.npz"
    for path in (old_tmp, old_lock, fresh_tmp):
        path.write_bytes(b"x" * 1000)
    past = time.time() - 2 * cache_module.STALE_SECONDS
    os.utime(old_tmp, (past, past))
    os.utime(old_lock, (past, past))
    isolated_cache.store("demo", {"a": 2}, {"v": np.zeros(1)})
    assert not old_tmp.exists() and not old_lock.exists() and fresh_tmp.exists()


def test_clear_never_leaves_the_cache(tmp_path):
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("x")
    cache = ResultsCache(tmp_path / "cache")
    cache.store("demo", {"a": 1}, {"v": np.zeros(1)})
    for name in ("..", "../precious", str(outside), "", ".hidden", "a/b"):
        with pytest.raises(ValueError, match="name"):
            cache.clear(name)
    assert (outside / "keep.txt").exists()
    cache.clear("demo")
    assert cache.load("demo", {"a": 1}) is None
    cache.store("demo", {"a": 1}, {"v": np.zeros(1)})
    cache.clear()
    assert cache.load("demo", {"a": 1}) is None and (outside / "keep.txt").exists()


def test_a_read_only_cache_serves_hits_and_computes_misses_without_storing(tmp_path):
    import os
    import stat
    import warnings

    root = tmp_path / "shared"
    cache = ResultsCache(root)
    cache.store("demo", {"a": 1}, {"v": np.ones(2)})
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        os.chmod(path, mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        if os.access(root, os.W_OK):  # root ignores permission bits: nothing to test as root
            pytest.skip("permission bits are not enforced for this user")
        assert cache.get_or_compute("demo", {"a": 1}, lambda: pytest.fail("a hit must not compute")).hit
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            entry = cache.get_or_compute("demo", {"a": 2}, lambda: ({"v": np.zeros(3)}, {}))
        assert not entry.hit and entry.arrays["v"].shape == (3,)
        assert any(issubclass(w.category, cache_module.CacheNotWritableWarning) for w in caught)
        assert issubclass(cache_module.CacheNotWritableWarning, UserWarning)
    finally:
        for path in [root, *root.rglob("*")]:
            os.chmod(path, path.stat().st_mode | stat.S_IWUSR)


def test_unwritable_lock_falls_back_to_an_unstored_result(isolated_cache, monkeypatch):
    import errno

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(isolated_cache, "lock", read_only)
    with pytest.warns(cache_module.CacheNotWritableWarning):
        entry = isolated_cache.get_or_compute("demo", {"a": 7}, lambda: ({"v": np.arange(3)}, {"n": 3}))
    assert not entry.hit and entry.info == {"n": 3}
    assert isolated_cache.load("demo", {"a": 7}) is None


def test_entries_are_readable_by_others_under_the_usual_umask(isolated_cache):
    import os

    old = os.umask(0o022)
    try:
        isolated_cache.store("demo", {"a": 1}, {"v": np.zeros(1)})
    finally:
        os.umask(old)
    assert isolated_cache.path("demo", {"a": 1}).stat().st_mode & 0o777 == 0o644


def _fill(root, counter):
    ResultsCache(root).get_or_compute("race", {"k": 1}, _slow_compute(counter))


def _slow_compute(counter):
    def compute():
        import time
        with open(counter, "a") as handle:
            handle.write("x")
        time.sleep(0.5)
        return {"v": np.arange(4.0)}, {}
    return compute


def test_two_processes_compute_an_entry_once(tmp_path):
    counter = tmp_path / "count"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_fill, args=(tmp_path / "cache", counter)) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    assert counter.read_text() == "x"
    np.testing.assert_array_equal(ResultsCache(tmp_path / "cache").load("race", {"k": 1}).arrays["v"], np.arange(4.0))


def test_cached_refresh_and_bad_arguments(isolated_cache, tmp_path):
    counter = tmp_path / "count"
    ebcore.cached("demo", {"a": 1}, _compute_counting(counter))
    ebcore.cached("demo", {"a": 1}, _compute_counting(counter), mode="refresh")
    assert counter.read_text() == "xx"
    with pytest.raises(ValueError, match="mode"):
        ebcore.cached("demo", {"a": 1}, _compute_counting(counter), mode="sometimes")
    with pytest.raises(ValueError, match="name"):
        isolated_cache.path("../escape", {})
    with pytest.raises(TypeError, match="config"):
        isolated_cache.path("demo", {"f": object()})
    with pytest.raises(TypeError, match="pair"):
        isolated_cache.get_or_compute("demo", {"a": 9}, lambda: {"x": np.ones(1)})


def test_code_version_is_a_stable_hash():
    assert ebcore.code_version() == ebcore.code_version()
    assert len(ebcore.code_version()) == 16


def test_cached_call_round_trip_and_keying(isolated_cache):
    x = np.random.default_rng(0).standard_normal((10, 2))
    first = ebcore.cached_call(ebcore.particle_flow, x, 0.5, 0.5, 3, return_trajectory=True)
    again = ebcore.cached_call(ebcore.particle_flow, x, 0.5, 0.5, 3, return_trajectory=True)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first, ebcore.particle_flow(x, 0.5, 0.5, 3, return_trajectory=True))
    other = ebcore.cached_call(ebcore.particle_flow, x + 1.0, 0.5, 0.5, 3, return_trajectory=True)
    assert not np.allclose(other, first)  # a different input array is a different entry
    pair = ebcore.cached_call(ebcore.dynamics.two_stage_sweep, x, 0.5, 0.5, 2, 0.7)
    assert isinstance(pair, tuple) and len(pair) == 2
    with pytest.raises(TypeError, match="config"):
        ebcore.cached_call(ebcore.particle_flow, x, 0.5, 0.5, 3, return_trajectory=object())
    with pytest.raises(TypeError, match="callable"):
        ebcore.cached_call("particle_flow", x)


def test_array_digest_is_a_content_key():
    from ebcore.cache import array_digest

    a = np.arange(6.0).reshape(2, 3)
    assert array_digest(a) == array_digest(a.copy()) and len(array_digest(a)) == 16
    assert array_digest(a) != array_digest(a + 1e-12)
    assert array_digest(a, a) != array_digest(a)
    assert array_digest(np.asfortranarray(a)) == array_digest(a)  # C-order bytes, not memory layout
    with pytest.raises(ValueError, match="arrays"):
        array_digest()


def test_code_version_ignores_docstrings_and_comments_but_not_code(tmp_path):
    from ebcore.cache import normalised_source

    base = tmp_path / "a.py"
    base.write_text('"""Module doc."""\nimport math\n\n\ndef f(x):\n    """Doc."""\n    return math.sqrt(x)  # why\n')
    reference = normalised_source(base)
    base.write_text('"""Other doc."""\nimport math\n\n# a comment\ndef f(x):\n    """Changed doc."""\n'
                    '    return math.sqrt(x)\n')
    assert normalised_source(base) == reference
    base.write_text('"""Module doc."""\nimport math\n\n\ndef f(x):\n    """Doc."""\n    return math.sqrt(x + 1)\n')
    assert normalised_source(base) != reference


def test_code_version_skips_the_book_machinery():
    from ebcore import cache as cache_module

    assert "audit.py" in cache_module.NON_NUMERICAL and "book/" in cache_module.NON_NUMERICAL
    assert "style.py" in cache_module.NON_NUMERICAL


def test_cached_call_tells_lambdas_closures_and_edits_apart(isolated_cache):
    a = np.arange(3.0)
    assert np.array_equal(ebcore.cached_call(lambda x: x * 2, a), a * 2)
    assert np.array_equal(ebcore.cached_call(lambda x: x * 3, a), a * 3)

    def scaled(factor):
        return lambda x: x * factor

    assert np.array_equal(ebcore.cached_call(scaled(2.0), a), a * 2)
    assert np.array_equal(ebcore.cached_call(scaled(5.0), a), a * 5)


def test_cached_call_refuses_what_it_cannot_key(isolated_cache):
    with pytest.raises(TypeError, match="Python function"):
        ebcore.cached_call(np.add, np.arange(3.0), 1.0)
    holder = object()
    with pytest.raises(TypeError, match="captures"):
        ebcore.cached_call(lambda x: x if holder else x, np.arange(3.0))
    with pytest.raises(TypeError, match="callable"):
        ebcore.cached_call(3, np.arange(3.0))


def test_cached_call_key_follows_the_source(tmp_path):
    import importlib.util

    module_path = tmp_path / "user_module.py"

    def load(body):
        module_path.write_text(f"def f(x):\n    return {body}\n")
        spec = importlib.util.spec_from_file_location("user_module", module_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.f

    first = cache_module.function_key(load("x * 2"))
    assert cache_module.function_key(load("x * 2")) == first
    assert cache_module.function_key(load("x * 3")) != first


def test_unwritable_entry_file_falls_back_to_an_unstored_result(isolated_cache, monkeypatch):
    # the lock can be taken but the entry cannot be written (a full disk, a read-only entry folder)
    import errno

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_module.tempfile, "mkstemp", no_space)
    with pytest.warns(cache_module.CacheNotWritableWarning):
        entry = isolated_cache.get_or_compute("demo", {"a": 8}, lambda: ({"v": np.arange(2.0)}, {}))
    assert not entry.hit and entry.arrays["v"].tolist() == [0.0, 1.0]
    monkeypatch.undo()
    assert isolated_cache.load("demo", {"a": 8}) is None


def test_other_write_errors_are_not_hidden(isolated_cache, monkeypatch):
    import errno

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(cache_module.tempfile, "mkstemp", broken)
    with pytest.raises(OSError, match="Input/output"):
        isolated_cache.get_or_compute("demo", {"a": 9}, lambda: ({"v": np.arange(2.0)}, {}))
