"""Small numerical tools used by the checks: finite-difference gradients with error bounds."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .registry import implements
from .validation import check_array, check_finite_result, check_scale

__all__ = ["finite_difference_gradient"]


@implements("thm-tweedie")
def finite_difference_gradient(f: Callable[[np.ndarray], np.ndarray], y: np.ndarray, step: float = 1e-4):
    r"""Gradient of a scalar field by fourth-order central differences, one coordinate at a time.

    ``f`` maps points ``(N, d)`` to values ``(N,)``; returns the gradient ``(N, d)``. The stencil
    :math:`[-f(y+2\delta)+8f(y+\delta)-8f(y-\delta)+f(y-2\delta)]/12\delta` has truncation error
    :math:`\delta^4 |f^{(5)}|/30` and round-off error about :math:`1.5\,\epsilon |f| / \delta`;
    with :math:`\delta = 10^{-3}` in float64 both are below :math:`10^{-10}` for the smooth
    log-densities of the book whose derivatives are of order one.

    Parameters
    ----------
    f : callable
        The scalar field: points, an array ``(P, d)``, to values ``(P,)``. It is called once, on all
        ``4 d N`` stencil points at once.
    y : numpy.ndarray, shape (N, d)
        The points at which the gradient is taken, floating point.
    step : float > 0
        The finite-difference step :math:`\delta`.

    Returns
    -------
    numpy.ndarray, shape (N, d)
        The gradient at each point, float64.

    Raises
    ------
    TypeError
        If ``y`` is not a floating-point array, or ``step`` is not a real number.
    ValueError
        If ``y`` is not 2-D, is empty or holds a non-finite value, if ``step`` is not a finite number
        in ``[1e-150, 1e150]``, or if the gradient is not finite (``f`` returned a NaN or an infinity,
        or the differences overflowed).
    """
    check_array(y, "y", ndim=2)
    delta = check_scale(step, "step")
    y = np.asarray(y, dtype=np.float64)
    n, d = y.shape
    offsets = delta * np.eye(d)                                   # one stencil per coordinate
    stencil = np.concatenate([y[None] + k * offsets[:, None, :] for k in (2, 1, -1, -2)])   # (4d, n, d)
    values = np.asarray(f(stencil.reshape(-1, d)), dtype=np.float64).reshape(4, d, n)
    return check_finite_result(((-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * delta)).T,
                               "f, y, step")
