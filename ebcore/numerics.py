"""Small numerical tools used by the checks: finite-difference gradients with error bounds, and a
quadrature rule for an isotropic Gaussian law (the population, as a weighted measure)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .registry import implements
from .validation import check_array, check_finite_result, check_int, check_positive, check_scale

__all__ = ["finite_difference_gradient", "gaussian_quadrature"]

# numpy's Gauss-Hermite weights overflow beyond about 360 nodes
MAX_NODES_PER_AXIS = 320
MAX_POINTS = 2**20


@implements("thm-tweedie")
def finite_difference_gradient(f: Callable[[np.ndarray], np.ndarray], y: np.ndarray, step: float = 1e-4):
    r"""Gradient of a scalar field by fourth-order central differences, one coordinate at a time.

    ``f`` maps points ``(N, n)`` to values ``(N,)``; returns the gradient ``(N, n)``. The stencil
    :math:`[-f(y+2\delta)+8f(y+\delta)-8f(y-\delta)+f(y-2\delta)]/12\delta` has truncation error
    :math:`\delta^4 |f^{(5)}|/30` and round-off error about :math:`1.5\,\epsilon |f| / \delta`;
    with :math:`\delta = 10^{-3}` in float64 both are below :math:`10^{-10}` for the smooth
    log-densities of the book whose derivatives are of order one.

    Parameters
    ----------
    f : callable
        The scalar field: points, an array ``(P, n)``, to values ``(P,)``. It is called once, on all
        ``4 d N`` stencil points at once.
    y : numpy.ndarray, shape (N, n)
        The points at which the gradient is taken, floating point.
    step : float > 0
        The finite-difference step :math:`\delta`.

    Returns
    -------
    numpy.ndarray, shape (N, n)
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


@implements("thm-gaussian-recovery")
def gaussian_quadrature(mean, variance, nodes: int):
    r"""The tensor Gauss-Hermite rule for :math:`N(m, vI_n)`: points and probability weights.

    Expectations under the law become weighted sums, :math:`E f(X) \approx \sum_k w_k f(x_k)`, exact
    for polynomials of degree below :math:`2K` in each coordinate (``K = nodes``). Passed with its
    weights to :func:`ebcore.dynamics.particle_flow` or :func:`ebcore.kernel.posterior_mean`, the rule
    stands in for the population (the :math:`N \to \infty` law) instead of a sample of it.

    Parameters
    ----------
    mean : numpy.ndarray, shape (n,)
        The mean :math:`m` (float64).
    variance : float > 0
        The variance per coordinate :math:`v`.
    nodes : int in [2, 320]
        Nodes per coordinate, :math:`K`; the rule has :math:`K^n` points (at most :math:`2^{20}`).

    Returns
    -------
    points : numpy.ndarray, shape (K**n, n)
        The nodes, float64.
    weights : numpy.ndarray, shape (K**n,)
        Positive weights summing to 1.

    Raises
    ------
    TypeError
        If ``mean`` is not a float64 numpy array, ``variance`` is not a real number or ``nodes`` is not
        an integer.
    ValueError
        If ``mean`` is not 1-D, empty or not finite, ``variance`` is not a finite number > 0,
        ``nodes`` is outside ``[2, 320]``, or the rule would have more than :math:`2^{20}` points.
    """
    m = check_array(mean, "mean", ndim=1)
    if m.dtype != np.float64:
        raise TypeError(f"mean must be float64, got {m.dtype}")
    v = check_positive(variance, "variance")
    k = check_int(nodes, "nodes", minimum=2, maximum=MAX_NODES_PER_AXIS)
    dim = m.shape[0]
    if k**dim > MAX_POINTS:
        raise ValueError(f"nodes: {k}**{dim} points exceed the limit of {MAX_POINTS}")
    x, w = np.polynomial.hermite_e.hermegauss(k)  # weight exp(-x^2/2)
    x, w = np.sqrt(v) * x, w / w.sum()
    grids = np.meshgrid(*([x] * dim), indexing="ij")
    points = m + np.stack([g.ravel() for g in grids], axis=-1)
    weights = np.ones(1)
    for _ in range(dim):
        weights = np.multiply.outer(weights, w).ravel()
    return points, weights / weights.sum()
