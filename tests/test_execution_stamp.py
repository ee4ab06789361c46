"""The build re-executes a chapter when the library's numerical code, EBCORE_SEED or EBCORE_SCALE changes."""
import importlib.util
from pathlib import Path

import pytest

from ebcore import cache as cache_module

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def stamp_module():
    spec = importlib.util.spec_from_file_location("execution_stamp", ROOT / "_ext" / "execution_stamp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stamp_follows_seed_scale_and_code(stamp_module, monkeypatch):
    monkeypatch.delenv("EBCORE_SEED", raising=False)
    monkeypatch.delenv("EBCORE_SCALE", raising=False)
    base = stamp_module.execution_stamp()
    assert base == {"code_version": cache_module.code_version(), "seed": 0, "scale": "default"}
    monkeypatch.setenv("EBCORE_SEED", "2")
    assert stamp_module.execution_stamp()["seed"] == 2
    monkeypatch.setenv("EBCORE_SCALE", "paper")
    assert stamp_module.execution_stamp()["scale"] == "paper"
    monkeypatch.setattr(cache_module, "_code_version", "0123456789abcdef")
    assert stamp_module.execution_stamp()["code_version"] == "0123456789abcdef"


def test_each_stamp_gets_its_own_execution_cache(stamp_module, monkeypatch, tmp_path):
    class App:
        outdir = str(tmp_path / "_build" / "html")

    class Config:
        nb_execution_cache_path = ""

    paths = []
    for seed in ("0", "1", "0"):
        monkeypatch.setenv("EBCORE_SEED", seed)
        config = Config()
        stamp_module._set_cache_path(App(), config)
        paths.append(Path(config.nb_execution_cache_path))
    assert paths[0] == paths[2] != paths[1]
    assert paths[0].parent == tmp_path / "_build" / ".jupyter_cache"
    assert (paths[1] / "stamp.json").is_file()
