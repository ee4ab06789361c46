"""One bridge between numpy and torch.

Algorithms in ``ebcore`` are written once, in torch. :func:`to_torch` converts the
caller's arrays, remembers whether the caller used numpy or torch, and returns a
function that converts results back, so numpy in gives numpy out and torch in gives
torch out (same device, gradients preserved).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

__all__ = ["to_torch", "default_device", "flat_concat"]


def default_device() -> torch.device:
    """CUDA when available, else CPU: the device used for numpy inputs of heavy kernels."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_torch(**arrays) -> tuple[list, Callable]:
    """Convert named arrays to tensors and return ``(tensors, back)``.

    All non-``None`` arguments must be of one kind: all numpy arrays or all torch
    tensors (mixing them is a :class:`TypeError` naming the arguments). Numpy arrays
    become CPU tensors sharing memory where possible. ``back(t)`` turns a result tensor
    into the caller's type: a detached numpy array for numpy callers, the tensor itself
    for torch callers. ``None`` values pass through unchanged.

    Examples
    --------
    >>> (x, y), back = to_torch(x=np.ones(2), y=np.zeros(2))
    >>> type(back(x + y)).__name__
    'ndarray'
    """
    kinds = {}
    for name, value in arrays.items():
        if value is None:
            continue
        if isinstance(value, torch.Tensor):
            kinds[name] = "torch"
        elif isinstance(value, np.ndarray):
            kinds[name] = "numpy"
        else:
            raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(value).__name__}")
    if len(set(kinds.values())) > 1:
        np_names = [n for n, k in kinds.items() if k == "numpy"]
        t_names = [n for n, k in kinds.items() if k == "torch"]
        raise TypeError(
            "mixed numpy and torch inputs: "
            f"{', '.join(np_names)} numpy but {', '.join(t_names)} torch; pass all arrays of one kind"
        )
    for name, value in arrays.items():
        if isinstance(value, np.ndarray) and value.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a numeric array, got dtype {value.dtype}")
    caller_numpy = "numpy" in kinds.values()
    tensors = [
        None if v is None else (torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v)
        for v in arrays.values()
    ]

    def back(t):
        if caller_numpy and isinstance(t, torch.Tensor):
            return t.detach().cpu().numpy()
        return t

    return tensors, back


def flat_concat(tensors, *, finite: bool = True) -> torch.Tensor:
    """The tensors' entries in one detached 1-D tensor, each tensor in row-major order, in turn: the one
    layout of a network's parameters (and of their gradients) as a vector in this library.

    With ``finite`` a NaN or an infinity is refused; ``finite=False`` is for callers that test the
    vector themselves and report a non-finite one in their own terms (an optimizer's divergence).
    """
    if isinstance(tensors, torch.Tensor) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"tensors must be a sequence of torch tensors, got {type(tensors).__name__}")
    tensors = list(tensors)
    if not tensors or not all(isinstance(t, torch.Tensor) for t in tensors):
        raise TypeError("tensors must be a non-empty sequence of torch tensors")
    flat = torch.cat([t.detach().reshape(-1) for t in tensors])
    if finite and not bool(torch.isfinite(flat).all()):
        raise ValueError("tensors must contain only finite values (found NaN or infinity)")
    return flat
