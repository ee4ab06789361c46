"""Shared test configuration: deterministic hypothesis runs in CI, float64 by default, the served book."""
import functools
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """A results cache in a temporary folder, also used by code that reads EBCORE_CACHE."""
    monkeypatch.setenv("EBCORE_CACHE", str(tmp_path / "cache"))
    from ebcore.cache import ResultsCache

    return ResultsCache(tmp_path / "cache")


@pytest.fixture(scope="module")
def double_well():
    """The curved double well, shared by tests/test_paths.py and tests/test_potentials.py."""
    from ebcore import potentials

    return potentials.reference_landscape("curved_double_well")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    """The built book named by ``EBCORE_BOOK_HTML``, served from 127.0.0.1: ``(folder, base URL)``.

    Used by the browser test and the downloaded-notebook test; modules that use it skip themselves when
    the variable is not set."""
    root = Path(os.environ["EBCORE_BOOK_HTML"]).resolve()
    assert (root / "index.html").is_file(), f"{root} holds no built book"
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
