"""Default scale versus the papers' scale.

``EBCORE_SCALE=paper`` in the environment selects the papers' run counts and sizes
(where the data allows); anything else, or nothing, selects the default scale that
keeps each chapter within its time budget on a 2-core machine.
"""
from __future__ import annotations

import os

__all__ = ["current_scale", "at_scale"]

_SCALES = ("default", "paper")


def current_scale() -> str:
    """The active scale, ``"default"`` or ``"paper"``, read from ``EBCORE_SCALE``.

    The variable is read at every call, case and surrounding spaces ignored; empty or unset means
    ``"default"``.

    Returns
    -------
    str
        ``"default"`` or ``"paper"``.

    Raises
    ------
    ValueError
        If ``EBCORE_SCALE`` holds anything else (case and surrounding spaces are ignored).
    """
    value = os.environ.get("EBCORE_SCALE", "default").strip().lower() or "default"
    if value not in _SCALES:
        raise ValueError(f"EBCORE_SCALE must be one of {_SCALES}, got {value!r}")
    return value


def at_scale(default, paper):
    """Return ``paper`` when ``EBCORE_SCALE=paper``, else ``default``.

    Parameters
    ----------
    default : object
        The value at the default scale (a count, a size, a tuple of them: anything).
    paper : object
        The value at the papers' scale.

    Returns
    -------
    object
        ``paper`` or ``default``, unchanged.

    Raises
    ------
    ValueError
        If ``EBCORE_SCALE`` is neither ``"default"`` nor ``"paper"`` (see :func:`current_scale`).
    """
    return paper if current_scale() == "paper" else default
