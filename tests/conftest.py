"""Shared test configuration: deterministic hypothesis runs in CI, float64 by default."""
import os

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
