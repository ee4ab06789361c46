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
    "check_scale",
    "SCALE_RANGE",
    "check_nonnegative",
    "check_finite_scalar",
    "check_fraction",
    "as_float_array",
    "check_grid",
    "check_int",
    "check_int_sequence",
    "check_seed",
    "check_probability_weights",
    "check_choice",
    "check_finite_result",
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
    if finite and not _inside_vmap(x):
        ok = bool(torch.isfinite(x).all()) if isinstance(x, torch.Tensor) else bool(np.isfinite(x).all())
        if not ok:
            raise ValueError(f"{name} must contain only finite values (found NaN or infinity)")
    return x


def _inside_vmap(x) -> bool:
    """Whether ``x`` is a tensor batched by ``torch.vmap``, whose values cannot steer Python control flow.

    Such a tensor is a slice of data that entered ``vmap`` whole (a batched loss checks its data once,
    when it is built), so its finiteness was checked there; shapes and dtypes are still checked here.
    """
    is_batched = getattr(getattr(torch._C, "_functorch", None), "is_batchedtensor", None)
    return isinstance(x, torch.Tensor) and is_batched is not None and bool(is_batched(x))


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


#: The range of a length scale, such as a bandwidth or a noise level. Its square and its inverse square
#: must be finite in float64, or formulas such as ``1 / h**2`` overflow or divide by zero.
SCALE_RANGE = (1e-150, 1e150)


def check_scale(value, name: str) -> float:
    """Check a length scale: a finite number in :data:`SCALE_RANGE`; return it as float."""
    v = _scalar_value(value, name)
    low, high = SCALE_RANGE
    if not np.isfinite(v) or not low <= v <= high:
        raise ValueError(f"{name} must be a finite number in [{low:g}, {high:g}] (its square and inverse square "
                         f"must be finite), got {v!r}")
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


def check_fraction(value, name: str) -> float:
    """Check a number strictly between 0 and 1 (a confidence level, a relative tolerance); return it."""
    v = _scalar_value(value, name)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must be a number in (0, 1), got {v!r}")
    return v


def as_float_array(values, name: str) -> np.ndarray:
    """Convert real numbers (a list, a tuple, a numpy array or a tensor) to a float64 numpy array.

    Refuses strings, ``None`` and anything numpy cannot read as real numbers with a
    :class:`TypeError` naming the argument (numpy's own message names none). The result is not
    checked further: follow with :func:`check_array` for shape and finiteness.
    """
    if values is None or isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be real numbers, got {type(values).__name__}")
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be real numbers, got {type(values).__name__} ({exc})") from None
    return array


def check_grid(values, name: str, *, positive: bool = True) -> np.ndarray:
    """Check a grid of values (bandwidths, step sizes, scales): a non-empty, finite 1-D list or array of
    real numbers, each ``> 0`` when ``positive``; return it as a float64 numpy array."""
    grid = check_array(as_float_array(values, name), name, ndim=1)
    if positive and bool((grid <= 0).any()):
        raise ValueError(f"{name} must hold positive numbers only, got {grid[grid <= 0][:3].tolist()}")
    return grid


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


def check_int_sequence(values, name: str, *, minimum: int | None = None, min_length: int = 1) -> list[int]:
    """Check a 1-D sequence (list, tuple or integer array) of integers, each ``>= minimum``; return a list.

    Floats are refused even when whole (``2.0``), so a key built from the returned list always names
    what was computed.
    """
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"{name} must be a sequence of integers, got {type(values).__name__}")
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {_describe_shape(values)}")
    out = [check_int(v, f"{name}[{i}]", minimum=minimum) for i, v in enumerate(values)]
    if len(out) < min_length:
        raise ValueError(f"{name} must hold at least {min_length} value(s), got {len(out)}")
    return out


def check_seed(seed, name: str = "seed"):
    """Check a seed: a non-negative integer or a non-empty sequence of them; return an int or a list."""
    if isinstance(seed, (list, tuple, np.ndarray)):
        return check_int_sequence(seed, name, minimum=0)
    return check_int(seed, name, minimum=0)


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


def check_finite_result(value, names: str):
    """Raise :class:`ValueError` when a closed-form result overflowed to a NaN or an infinity.

    ``names`` lists the arguments that determine the result (``"prior_variance, sigma"``): inputs
    each finite on their own can still combine to a number beyond float64, which must be refused
    rather than returned. Returns ``value`` unchanged when finite.
    """
    ok = bool(torch.isfinite(value).all()) if isinstance(value, torch.Tensor) else bool(np.isfinite(value).all())
    if not ok:
        raise ValueError(f"{names}: the result is not finite in float64 (overflow); use values of a "
                         f"sensible magnitude")
    return value
