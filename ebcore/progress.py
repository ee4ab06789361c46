"""Progress bars for long work (training runs, ensembles, path optimisation).

Bars are drawn with :mod:`tqdm` on standard error. ``EBCORE_PROGRESS=0`` turns them off (the
book build and the test command set it, so built pages carry no bar output); anything else, or
nothing, leaves them on.
"""
from __future__ import annotations

import os

from tqdm import tqdm

__all__ = ["progress_enabled", "progress_bar"]


def progress_enabled(progress: bool | None = None) -> bool:
    """``progress`` if given, else whether ``EBCORE_PROGRESS`` allows bars."""
    if progress is not None:
        return bool(progress)
    return os.environ.get("EBCORE_PROGRESS", "1").strip().lower() not in ("0", "false", "no", "off")


def progress_bar(iterable=None, *, total=None, desc=None, progress: bool | None = None, **kwargs):
    """A tqdm bar over ``iterable`` (disabled when :func:`progress_enabled` says so)."""
    return tqdm(iterable, total=total, desc=desc, disable=not progress_enabled(progress),
                dynamic_ncols=True, leave=False, **kwargs)
