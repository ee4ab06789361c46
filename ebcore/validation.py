"""Input validation shared by every public ``ebcore`` function.

Every check raises :class:`TypeError` (wrong kind of object) or :class:`ValueError`
(right kind, wrong value) with a message that starts with the argument's name, so a
reader of a traceback knows at once which argument to fix.
"""
from __future__ import annotations

import numbers
from typing import Iterable

import numpy as np
import torch

__all__ = [
    "check_array",
    "check_positive",
    "check_nonnegative",
    "check_int",
    "check_probability_weights",
    "check_choice",
]

_FLOAT_TORCH = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _describe_shape(x) -> str:
    return "(" + ", ".join(str(int(s)) for s in x.shape) + ")"


def check_array(
    x,
    name: str,
    *,
    ndim: int | Iterable[int] | None = None,
    shape: tuple | None = None,
    floating: bool = True,
    finite: bool = True,
    nonempty: bool = True,
):
    """Check an array argument and return it unchanged.

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor
        The value to check. Python lists are refused: the caller decides the dtype.
    name : str
        The argument's name, used in error messages.
    ndim : int or iterable of int, optional
        Allowed numbers of dimensions.
    shape : tuple, optional
        Required shape; ``None`` entries match any size.
    floating : bool
        Require a floating-point dtype.
    finite : bool
        Require every entry to be finite.
    nonempty : bool
        Require at least one element.
    """
    if isinstance(x, torch.Tensor):
        if floating and x.dtype not in _FLOAT_TORCH:
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    elif isinstance(x, np.ndarray):
        if floating and not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"{name} must be a floating-point array, got dtype {x.dtype}")
    else:
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, numbers.Integral) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape {_describe_shape(x)}")
    if shape is not None:
        if len(shape) != x.ndim or any(s is not None and int(s) != int(t) for s, t in zip(shape, x.shape)):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {_describe_shape(x)}")
    if nonempty and (x.numel() if isinstance(x, torch.Tensor) else x.size) == 0:
        raise ValueError(f"{name} must not be empty, got shape {_describe_shape(x)}")
    if finite:
        ok = bool(torch.isfinite(x).all()) if isinstance(x, torch.Tensor) else bool(np.isfinite(x).all())
        if not ok:
            raise ValueError(f"{name} must contain only finite values (found NaN or infinity)")
    return x


def _scalar_value(value, name: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {_describe_shape(value)}")
        return float(value.detach())
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)


def check_positive(value, name: str) -> float:
    """Check a finite scalar ``> 0`` (numbers, 0-d arrays or one-element tensors); return it as float."""
    v = _scalar_value(value, name)
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    return v


def check_nonnegative(value, name: str) -> float:
    """Check a finite scalar ``>= 0``; return it as float."""
    v = _scalar_value(value, name)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    return v


def check_finite_scalar(value, name: str) -> float:
    """Check a finite real scalar of any sign; return it as float."""
    v = _scalar_value(value, name)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    return v


def check_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Check an integer (not a bool, not a float) within ``[minimum, maximum]``; return it."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {v}")
    return v


def check_probability_weights(w, name: str, size: int | None = None):
    """Check non-negative weights with a positive sum along the last axis."""
    check_array(w, name, ndim=(1, 2))
    if size is not None and int(w.shape[-1]) != int(size):
        raise ValueError(f"{name} must have {size} entries along its last axis, got {int(w.shape[-1])}")
    if bool((w < 0).any()):
        raise ValueError(f"{name} must be non-negative")
    if bool((w.sum(-1) <= 0).any()):
        raise ValueError(f"{name} must have a positive sum")
    return w


def check_choice(value, name: str, choices: Iterable[str]) -> str:
    """Check that ``value`` is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value
