"""The results cache: every expensive result of the book, stored once.

An entry is keyed by a *name* (what kind of result), the *configuration* that made it
(any JSON-serialisable mapping) and the *code version* (a hash of the source of the
``ebcore`` package), so a fix to the code never serves a stale result. An entry is a
folder holding ``arrays.npz`` and ``meta.json``; it is written into a temporary folder
and renamed into place (atomic on POSIX file systems), under a per-entry file lock so two
processes filling the same entry compute it once. Loading executes nothing
(``numpy.load(allow_pickle=False)`` and JSON), and the recorded SHA-256 of the array file
is checked first: a corrupt or half-written entry is deleted and recomputed, never used.

The cache lives in ``$EBCORE_CACHE`` if set, else ``$XDG_CACHE_HOME/ebcore`` or
``~/.cache/ebcore``.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from .validation import check_choice

__all__ = ["ResultsCache", "CacheEntry", "code_version", "NON_NUMERICAL", "config_key", "default_cache", "array_digest"]

_PACKAGE_DIR = Path(__file__).resolve().parent
_code_version: str | None = None


#: Modules of the package that compute nothing a result depends on (the book's audit registry,
#: figure style, prose helpers, progress bars): their edits never invalidate stored results.
NON_NUMERICAL = ("audit.py", "reporting.py", "style.py", "progress.py", "book/")


def _normalised_source(path: Path) -> str:
    """The module's syntax tree without docstrings: comments, formatting and docs do not count."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def code_version() -> str:
    """SHA-256 (first 16 hex digits) of the numerical code of the installed ``ebcore``, numpy's and torch's versions.

    Only what can change a result counts: the syntax tree of every module except
    :data:`NON_NUMERICAL`, without docstrings or comments, and the versions of numpy and torch.
    """
    global _code_version
    if _code_version is None:
        import torch

        digest = hashlib.sha256(f"numpy {np.__version__} torch {torch.__version__}".encode())
        for path in sorted(_PACKAGE_DIR.rglob("*.py")):
            relative = path.relative_to(_PACKAGE_DIR).as_posix()
            if any(relative == skip or relative.startswith(skip) for skip in NON_NUMERICAL if skip):
                continue
            digest.update(relative.encode())
            digest.update(_normalised_source(path).encode())
        _code_version = digest.hexdigest()[:16]
    return _code_version


def array_digest(*arrays, length: int = 16) -> str:
    """SHA-256 of the bytes of one or more arrays (C order), as ``length`` hex digits: a content key."""
    if not arrays:
        raise ValueError("arrays must hold at least one array")
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()[:length]


def _canonical(value):
    """A JSON-ready, order-independent form of a configuration value."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return {"__ndarray__": array_digest(value, length=64),
                "shape": list(value.shape), "dtype": str(value.dtype)}
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise TypeError(f"config values must be JSON-like (dict, list, str, number, bool, None, ndarray); "
                    f"got {type(value).__name__}")


def config_key(name: str, config: Mapping) -> str:
    """The entry key: a hash of the name, the canonical configuration and the code version."""
    payload = json.dumps({"name": name, "config": _canonical(config), "code": code_version()},
                         sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class CacheEntry:
    """A loaded entry: named arrays and a JSON-serialisable ``info`` mapping."""

    arrays: dict
    info: dict = field(default_factory=dict)
    hit: bool = False


class ResultsCache:
    """A folder of results keyed by configuration and code version (see the module docstring)."""

    def __init__(self, root: str | os.PathLike | None = None):
        if root is None:
            root = os.environ.get("EBCORE_CACHE") or Path(
                os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ebcore"
        self.root = Path(root)

    def path(self, name: str, config: Mapping) -> Path:
        """The folder of the entry for ``name`` and ``config``."""
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ValueError(f"name must be a non-empty string without '/', got {name!r}")
        return self.root / name / config_key(name, config)

    def load(self, name: str, config: Mapping) -> CacheEntry | None:
        """The stored entry, or ``None`` if it is missing or corrupt (a corrupt one is removed)."""
        folder = self.path(name, config)
        if not folder.is_dir():
            return None
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if _file_sha256(folder / "arrays.npz") != meta["arrays_sha256"]:
                raise ValueError("checksum mismatch")
            with np.load(folder / "arrays.npz", allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
            return CacheEntry(arrays=arrays, info=meta.get("info", {}), hit=True)
        except Exception:  # any failure to read back means the entry cannot be trusted
            shutil.rmtree(folder, ignore_errors=True)
            return None

    def store(self, name: str, config: Mapping, arrays: Mapping, info: Mapping | None = None,
              replace: bool = False) -> CacheEntry:
        """Write an entry atomically and return it.

        An existing valid entry is kept, unless ``replace`` (used for checkpoints that move on):
        then the old folder is moved aside, the new one renamed into place and the old removed.
        """
        folder = self.path(name, config)
        folder.parent.mkdir(parents=True, exist_ok=True)
        arrays = {str(k): np.asarray(v) for k, v in arrays.items()}
        for key, value in arrays.items():
            if value.dtype == object:
                raise TypeError(f"arrays[{key!r}] has dtype object, which cannot be stored safely")
        info = dict(info or {})
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
        try:
            np.savez(tmp / "arrays.npz", **arrays)
            meta = {"name": name, "config": _canonical(config), "code_version": code_version(),
                    "arrays_sha256": _file_sha256(tmp / "arrays.npz"), "info": info}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
            for path in tmp.iterdir():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
            if folder.exists():
                if replace:
                    trash = Path(tempfile.mkdtemp(prefix=".old-", dir=folder.parent))
                    os.rename(folder, trash / "entry")
                    os.rename(tmp, folder)
                    shutil.rmtree(trash, ignore_errors=True)
                    return CacheEntry(arrays=arrays, info=info, hit=False)
                existing = self.load(name, config)
                if existing is not None:
                    return existing
                shutil.rmtree(folder, ignore_errors=True)
            os.rename(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return CacheEntry(arrays=arrays, info=info, hit=False)

    @contextlib.contextmanager
    def lock(self, name: str, config: Mapping):
        """An exclusive inter-process lock for one entry."""
        folder = self.path(name, config)
        folder.parent.mkdir(parents=True, exist_ok=True)
        with open(folder.parent / f".{folder.name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def get_or_compute(self, name: str, config: Mapping, compute: Callable[[], tuple]) -> CacheEntry:
        """Load the entry, or call ``compute()`` -> ``(arrays, info)`` once, store and return it.

        Concurrent callers with the same key wait on a lock; the second one loads what the
        first stored instead of computing it again.
        """
        entry = self.load(name, config)
        if entry is not None:
            return entry
        with self.lock(name, config):
            entry = self.load(name, config)
            if entry is not None:
                return entry
            result = compute()
            if not (isinstance(result, tuple) and len(result) == 2):
                raise TypeError("compute must return a pair (arrays, info)")
            arrays, info = result
            return self.store(name, config, arrays, info)

    def clear_entry(self, name: str, config: Mapping) -> None:
        """Remove one entry (nothing happens if it does not exist)."""
        shutil.rmtree(self.path(name, config), ignore_errors=True)

    def clear(self, name: str | None = None) -> None:
        """Remove every entry (or every entry of one name)."""
        target = self.root if name is None else self.root / name
        shutil.rmtree(target, ignore_errors=True)


def default_cache() -> ResultsCache:
    """The cache at the default location (re-read from the environment on every call)."""
    return ResultsCache()


def cached(name: str, config: Mapping, compute: Callable[[], tuple], cache: ResultsCache | None = None,
           mode: str = "use") -> CacheEntry:
    """Shorthand for ``default_cache().get_or_compute``; ``mode="refresh"`` recomputes."""
    check_choice(mode, "mode", ("use", "refresh"))
    cache = cache or default_cache()
    if mode == "refresh":
        shutil.rmtree(cache.path(name, config), ignore_errors=True)
    return cache.get_or_compute(name, config, compute)


__all__.append("cached")


def cached_call(function: Callable, *args, **kwargs):
    """Call ``function(*args, **kwargs)`` through the results cache.

    For deterministic functions of JSON-like arguments and numpy arrays (hashed by content) that
    return a numpy array or a tuple of them, such as :func:`ebcore.dynamics.particle_flow` on a seeded
    context. The key holds the function's qualified name, the arguments and the code version, so a
    chapter's second execution loads instead of recomputing, and a change to the code recomputes.
    """
    if not callable(function):
        raise TypeError(f"function must be callable, got {type(function).__name__}")
    name = f"call-{function.__module__}.{function.__qualname__}".replace("<", "").replace(">", "")
    config = {"args": list(args), "kwargs": kwargs}
    _canonical(config)  # fail early, before computing, on arguments that cannot key the cache

    def compute():
        out = function(*args, **kwargs)
        parts = out if isinstance(out, tuple) else (out,)
        arrays = {}
        for index, part in enumerate(parts):
            if not isinstance(part, np.ndarray):
                raise TypeError(f"cached_call needs numpy results; result {index} is {type(part).__name__}")
            arrays[str(index)] = part
        return arrays, {"tuple": isinstance(out, tuple), "count": len(parts)}

    entry = cached(name, config, compute)
    parts = tuple(entry.arrays[str(i)] for i in range(int(entry.info["count"])))
    return parts if entry.info["tuple"] else parts[0]


__all__.append("cached_call")
