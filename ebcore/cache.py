"""The results cache: every expensive result of the book, stored once.

An entry is keyed by a *name* (what kind of result), the *configuration* that made it (any
JSON-serialisable mapping, validated before it is keyed) and the *code version* (a hash of the
numerical code of the ``ebcore`` package and of the numpy and torch versions), so a fix to the code
never serves a stale result. An entry is one file, ``<name>/<key>.npz``: the arrays, a JSON
``__meta__`` member (name, configuration, code version, ``info``) and a ``__digest__`` member, the
SHA-256 of every other member. It is written to a temporary file beside it and moved into place
with one ``os.replace`` (atomic on POSIX file systems, for a new entry and for a replaced
checkpoint alike), under a per-entry file lock so two processes filling the same entry compute it
once. Loading executes nothing (``numpy.load(allow_pickle=False)`` and JSON) and checks the digest
first: an entry that fails the integrity check (truncated, edited, not an entry) is deleted and
recomputed, never used; any other failure to read it (no memory, no permission) is raised or
treated as a miss, and the entry is kept.

A cache that cannot be written (a shared, read-only, pre-computed one) still serves its entries;
on a miss the result is computed and returned without being stored, with a
:class:`CacheNotWritableWarning`. Temporary files of writers that were killed and lock files are
removed when they are old. Entries are created with the permissions the umask allows (readable by
others by default), so a cache can be shared.

The cache lives in ``$EBCORE_CACHE`` if set, else ``$XDG_CACHE_HOME/ebcore`` or
``~/.cache/ebcore``.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import inspect
import json
import os
import tempfile
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from .validation import check_choice

__all__ = ["ResultsCache", "CacheEntry", "CacheNotWritableWarning", "code_version", "NON_NUMERICAL", "config_key",
           "default_cache", "array_digest", "cached", "cached_call", "function_key", "normalised_source"]

_PACKAGE_DIR = Path(__file__).resolve().parent
_code_version: str | None = None


#: Modules of the package that compute nothing a result depends on (the book's audit registry,
#: figure style, prose helpers, progress bars): their edits never invalidate stored results.
NON_NUMERICAL = ("audit.py", "reporting.py", "style.py", "progress.py", "registry.py", "book/")


def normalised_source(path) -> str:
    """The module's syntax tree without docstrings, ``@implements`` labels and their import: comments,
    formatting, docs and the audit registry do not count."""
    import ast

    path = Path(path) if isinstance(path, (str, os.PathLike)) else path
    if not isinstance(path, Path) or not path.is_file():
        raise ValueError(f"path must name an existing Python file, got {path!r}")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError as error:
        raise ValueError(f"path: {path} is not valid Python ({error.msg})") from None
    tree.body = [node for node in tree.body
                 if not (isinstance(node, ast.ImportFrom) and node.level == 1 and node.module == "registry")]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            node.decorator_list = [d for d in node.decorator_list
                                   if not (isinstance(d, ast.Call) and isinstance(d.func, ast.Name)
                                           and d.func.id == "implements")]
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
            digest.update(normalised_source(path).encode())
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


#: Temporary files and lock files older than this (seconds) belong to no live writer.
STALE_SECONDS = 6 * 3600
_META, _DIGEST = "__meta__", "__digest__"


class CacheNotWritableWarning(UserWarning):
    """The cache could not store a result (read-only or full): it was computed and returned unstored."""


class _IntegrityError(Exception):
    """An entry file that is not a complete, unmodified entry."""


@dataclass
class CacheEntry:
    """A loaded entry: named arrays and a JSON-serialisable ``info`` mapping."""

    arrays: dict
    info: dict = field(default_factory=dict)
    hit: bool = False


def _members_digest(arrays: Mapping[str, np.ndarray], meta_bytes: bytes) -> str:
    digest = hashlib.sha256()
    for key in sorted(arrays):
        value = np.ascontiguousarray(arrays[key])
        digest.update(json.dumps([key, value.dtype.str, list(value.shape)]).encode())
        digest.update(value.tobytes())
    digest.update(meta_bytes)
    return digest.hexdigest()


def _check_name(name) -> str:
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith(".") \
            or "\0" in name:
        raise ValueError(f"name must be a non-empty string without '/', '\\' or a leading '.', got {name!r}")
    return name


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _is_not_writable(error: OSError) -> bool:
    return error.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT)


class ResultsCache:
    """A folder of results keyed by configuration and code version (see the module docstring)."""

    def __init__(self, root: str | os.PathLike | None = None):
        if root is None:
            root = os.environ.get("EBCORE_CACHE") or Path(
                os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ebcore"
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be a path, got {type(root).__name__}")
        self.root = Path(root)

    def path(self, name: str, config: Mapping) -> Path:
        """The file of the entry for ``name`` and ``config``."""
        return self.root / _check_name(name) / f"{config_key(name, config)}.npz"

    # -- reading ------------------------------------------------------------------------------
    def _read(self, file: Path) -> CacheEntry:
        try:
            with np.load(file, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (zipfile.BadZipFile, EOFError, ValueError, KeyError) as error:
            # not a complete npz of plain arrays (truncated, overwritten, pickled objects)
            raise _IntegrityError(str(error)) from error
        meta_array, digest_array = arrays.pop(_META, None), arrays.pop(_DIGEST, None)
        if meta_array is None or digest_array is None or meta_array.dtype != np.uint8:
            raise _IntegrityError("no metadata or digest")
        meta_bytes = meta_array.tobytes()
        if _members_digest(arrays, meta_bytes) != bytes(digest_array.tobytes()).decode("ascii", "replace"):
            raise _IntegrityError("digest mismatch")
        try:
            meta = json.loads(meta_bytes.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise _IntegrityError("unreadable metadata") from error
        return CacheEntry(arrays=arrays, info=meta.get("info", {}), hit=True)

    def load(self, name: str, config: Mapping) -> CacheEntry | None:
        """The stored entry, or ``None`` if it is missing, unreadable or fails its integrity check.

        Only an entry that fails the integrity check is removed; a ``MemoryError`` (or any other
        error that says nothing about the file) propagates and leaves the entry in place.
        """
        file = self.path(name, config)
        try:
            return self._read(file)
        except FileNotFoundError:
            return None
        except PermissionError:
            return None  # someone else's entry we may not read: a miss, but not ours to delete
        except _IntegrityError:
            with contextlib.suppress(OSError):
                file.unlink()
            return None

    # -- writing ------------------------------------------------------------------------------
    def _write(self, file: Path, name: str, config: Mapping, arrays: Mapping, info: Mapping) -> None:
        file.parent.mkdir(parents=True, exist_ok=True)
        self._remove_stale(file.parent)
        meta = {"name": name, "config": _canonical(config), "code_version": code_version(), "info": info}
        meta_bytes = json.dumps(meta, sort_keys=True).encode("utf-8")
        members = dict(arrays)
        members[_META] = np.frombuffer(meta_bytes, dtype=np.uint8)
        members[_DIGEST] = np.frombuffer(_members_digest(arrays, meta_bytes).encode("ascii"), dtype=np.uint8)
        handle, tmp_name = tempfile.mkstemp(prefix=f".tmp-{os.getpid()}-", suffix=".npz", dir=file.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, **members)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: let the umask decide, as for any file
            os.replace(tmp, file)  # one atomic step: readers see the old entry or the new, never neither
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def store(self, name: str, config: Mapping, arrays: Mapping, info: Mapping | None = None,
              replace: bool = False) -> CacheEntry:
        """Write an entry atomically and return it.

        An existing valid entry is kept, unless ``replace`` (used for checkpoints that move on), in
        which case the new entry takes its place in one atomic step.
        """
        if not isinstance(arrays, Mapping):
            raise TypeError(f"arrays must be a mapping of names to arrays, got {type(arrays).__name__}")
        if info is not None and not isinstance(info, Mapping):
            raise TypeError(f"info must be a mapping or None, got {type(info).__name__}")
        if not isinstance(replace, bool):
            raise TypeError(f"replace must be a bool, got {type(replace).__name__}")
        file = self.path(name, config)
        checked = {}
        for key, value in arrays.items():
            if not isinstance(key, str) or not key or key in (_META, _DIGEST):
                raise ValueError(f"array names must be non-empty strings other than {_META}/{_DIGEST}, got {key!r}")
            value = np.asarray(value)
            if value.dtype == object:
                raise TypeError(f"arrays[{key!r}] has dtype object, which cannot be stored safely")
            checked[key] = value
        info = dict(info or {})
        json.dumps(info)  # fail now, not after the write, on an info that JSON cannot hold
        if not replace:
            existing = self.load(name, config)
            if existing is not None:
                return existing
        self._write(file, name, config, checked, info)
        return CacheEntry(arrays=checked, info=info, hit=False)

    def _remove_stale(self, folder: Path) -> None:
        """Remove temporary files of writers that died and lock files nobody has used for long."""
        now = time.time()
        for path in folder.glob(".tmp-*"):
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > STALE_SECONDS:
                    path.unlink()
        for path in folder.glob(".*.lock"):
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > STALE_SECONDS:
                    # only when no one holds it: take it without waiting, then remove it
                    with open(path, "a") as handle:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        path.unlink()

    @contextlib.contextmanager
    def lock(self, name: str, config: Mapping):
        """An exclusive inter-process lock for one entry (raises OSError where the cache is read-only)."""
        file = self.path(name, config)
        file.parent.mkdir(parents=True, exist_ok=True)
        lock_path = file.parent / f".{file.stem}.lock"
        while True:
            handle = open(lock_path, "a")
            fcntl.flock(handle, fcntl.LOCK_EX)
            # the file may have been removed as stale while we waited: then lock the new one
            try:
                same = os.fstat(handle.fileno()).st_ino == os.stat(lock_path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            handle.close()
        try:
            os.utime(lock_path)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def get_or_compute(self, name: str, config: Mapping, compute: Callable[[], tuple]) -> CacheEntry:
        """Load the entry, or call ``compute()`` -> ``(arrays, info)`` once, store and return it.

        Concurrent callers with the same key wait on a lock; the second one loads what the first
        stored instead of computing it again. Where the cache cannot be written, the result is
        computed, returned unstored, and a :class:`CacheNotWritableWarning` says so.
        """
        if not callable(compute):
            raise TypeError(f"compute must be callable, got {type(compute).__name__}")
        entry = self.load(name, config)
        if entry is not None:
            return entry
        try:
            with self.lock(name, config):
                entry = self.load(name, config)
                if entry is not None:
                    return entry
                arrays, info = _checked_result(compute())
                try:
                    return self.store(name, config, arrays, info)
                except OSError as error:
                    if not _is_not_writable(error):
                        raise
                    return _unstored(name, error, arrays, info)
        except OSError as error:
            if not _is_not_writable(error):
                raise
            arrays, info = _checked_result(compute())
            return _unstored(name, error, arrays, info)

    def clear_entry(self, name: str, config: Mapping) -> None:
        """Remove one entry (nothing happens if it does not exist)."""
        with contextlib.suppress(FileNotFoundError):
            self.path(name, config).unlink()

    def clear(self, name: str | None = None) -> None:
        """Remove every entry of the cache (or every entry of one name); nothing outside it."""
        folders = [self.root / _check_name(name)] if name is not None else \
            [p for p in self.root.iterdir() if p.is_dir() and not p.is_symlink()] if self.root.is_dir() else []
        for folder in folders:
            if not folder.is_dir() or folder.is_symlink():
                continue
            for path in folder.iterdir():
                if path.is_file() and (path.suffix == ".npz" or path.name.endswith(".lock")):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
            with contextlib.suppress(OSError):
                folder.rmdir()


def _checked_result(result):
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError("compute must return a pair (arrays, info)")
    arrays, info = result
    if not isinstance(arrays, Mapping):
        raise TypeError(f"compute must return (arrays, info) with a mapping of arrays, got {type(arrays).__name__}")
    return arrays, info


def _unstored(name, error, arrays, info) -> CacheEntry:
    warnings.warn(f"results cache not writable ({error.strerror or error}); {name!r} computed and not stored",
                  CacheNotWritableWarning, stacklevel=3)
    return CacheEntry(arrays={str(k): np.asarray(v) for k, v in arrays.items()}, info=dict(info or {}), hit=False)


def default_cache() -> ResultsCache:
    """The cache at the default location (re-read from the environment on every call)."""
    return ResultsCache()


def cached(name: str, config: Mapping, compute: Callable[[], tuple], cache: ResultsCache | None = None,
           mode: str = "use") -> CacheEntry:
    """Shorthand for ``default_cache().get_or_compute``; ``mode="refresh"`` recomputes."""
    check_choice(mode, "mode", ("use", "refresh"))
    if cache is not None and not isinstance(cache, ResultsCache):
        raise TypeError(f"cache must be a ResultsCache or None, got {type(cache).__name__}")
    cache = cache or default_cache()
    if mode == "refresh":
        cache.clear_entry(name, config)
    return cache.get_or_compute(name, config, compute)


def function_key(function: Callable) -> dict:
    """What identifies a function for the cache: its module, qualified name and source.

    The source (and the values its closure and defaults capture) make two lambdas, two closures
    over different values, or an edited function distinct. A function whose source cannot be
    read (a builtin, one typed at an interactive prompt) or whose captured values cannot key the
    cache is refused with a ``TypeError``: a key it cannot tell apart would serve another's result.
    """
    if not callable(function):
        raise TypeError(f"function must be callable, got {type(function).__name__}")
    target = inspect.unwrap(function)
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        raise TypeError(f"function must be a Python function (its source keys the cache), got "
                        f"{type(function).__name__}")
    try:
        source = inspect.getsource(target)
    except (OSError, TypeError) as error:
        raise TypeError(f"the source of {target.__qualname__} cannot be read, so it cannot key the cache") from error
    code = getattr(target, "__func__", target)
    captured = {}
    if code.__closure__:
        for var, cell in zip(code.__code__.co_freevars, code.__closure__):
            captured[var] = cell.cell_contents
    try:
        captured = _canonical({"closure": captured, "defaults": list(code.__defaults__ or ()),
                               "kwdefaults": code.__kwdefaults__ or {}})
    except TypeError as error:
        raise TypeError(f"{target.__qualname__} captures values that cannot key the cache: {error}") from error
    return {"module": target.__module__, "qualname": target.__qualname__,
            "source": hashlib.sha256(source.encode()).hexdigest(), "captured": captured}


def cached_call(function: Callable, *args, **kwargs):
    """Call ``function(*args, **kwargs)`` through the results cache.

    For deterministic functions of JSON-like arguments and numpy arrays (hashed by content) that
    return a numpy array or a tuple of them, such as :func:`ebcore.dynamics.particle_flow` on a seeded
    context. The key holds :func:`function_key` (module, qualified name, source, captured values),
    the arguments and the code version, so a chapter's second execution loads instead of
    recomputing, and a change to the function or the library recomputes.

    Parameters
    ----------
    function : callable
        A Python function with readable source (not a builtin), deterministic in its arguments.
    *args
        Its positional arguments: JSON-like values (dict, list, tuple, str, number, bool, ``None``)
        and numpy arrays.
    **kwargs
        Its keyword arguments, of the same kinds.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        What ``function`` returns (loaded from the cache when stored).

    Raises
    ------
    TypeError
        If ``function`` is not a Python function whose source can be read, if it or its arguments
        capture values that cannot key the cache (anything but the kinds above), or if it returns
        anything but a numpy array or a tuple of them.
    """
    identity = function_key(function)
    name = f"call-{identity['module']}.{identity['qualname']}".replace("<", "").replace(">", "")
    config = {"function": identity, "args": list(args), "kwargs": kwargs}
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
