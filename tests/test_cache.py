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
    folder = isolated_cache.path("demo", {"a": 1})
    data = (folder / "arrays.npz").read_bytes()
    (folder / "arrays.npz").write_bytes(data[:-20] + b"\0" * 20)
    entry = isolated_cache.get_or_compute("demo", {"a": 1}, _compute_counting(counter))
    assert not entry.hit and counter.read_text() == "xx"
    (folder / "meta.json").write_text("{not json")
    entry = isolated_cache.get_or_compute("demo", {"a": 1}, _compute_counting(counter))
    assert not entry.hit and counter.read_text() == "xxx"


def test_failed_computation_leaves_no_entry(isolated_cache):
    def broken():
        raise RuntimeError("crash in the middle")
    with pytest.raises(RuntimeError):
        isolated_cache.get_or_compute("demo", {"a": 3}, broken)
    assert not isolated_cache.path("demo", {"a": 3}).exists()
    assert isolated_cache.load("demo", {"a": 3}) is None


def test_pickled_objects_are_refused(isolated_cache):
    with pytest.raises(TypeError, match="object"):
        isolated_cache.store("demo", {"a": 4}, {"bad": np.array([{"x": 1}], dtype=object)})
    folder = isolated_cache.path("demo", {"a": 5})
    folder.mkdir(parents=True)
    np.savez(folder / "arrays.npz", bad=np.array([{"x": 1}], dtype=object))
    (folder / "meta.json").write_text(json.dumps({"arrays_sha256": cache_module._file_sha256(folder / "arrays.npz")}))
    assert isolated_cache.load("demo", {"a": 5}) is None  # allow_pickle=False refuses it; entry removed
    assert not folder.exists()


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
    from ebcore.cache import _normalised_source

    base = tmp_path / "a.py"
    base.write_text('"""Module doc."""\nimport math\n\n\ndef f(x):\n    """Doc."""\n    return math.sqrt(x)  # why\n')
    reference = _normalised_source(base)
    base.write_text('"""Other doc."""\nimport math\n\n# a comment\ndef f(x):\n    """Changed doc."""\n'
                    '    return math.sqrt(x)\n')
    assert _normalised_source(base) == reference
    base.write_text('"""Module doc."""\nimport math\n\n\ndef f(x):\n    """Doc."""\n    return math.sqrt(x + 1)\n')
    assert _normalised_source(base) != reference


def test_code_version_skips_the_book_machinery():
    from ebcore import cache as cache_module

    assert "audit.py" in cache_module.NON_NUMERICAL and "book/" in cache_module.NON_NUMERICAL
    assert "style.py" in cache_module.NON_NUMERICAL
