r"""Two-dimensional test landscapes whose saddle points are known, for validating barrier estimates.

Chapter 10 checks path methods where the answer is known. Each potential maps points ``(P, 2)``
(torch, any float dtype, differentiable) to values ``(P,)``:

``two_bump``
    the illustration of Yu and Morozov (2026): two Gaussian wells and two Gaussian bumps,
    :math:`f(r) = -\sum_i e^{-3|r - c_i|^2} + \sum_j e^{-15|r - d_j|^2} + C`.
``curved_double_well``
    :math:`V(x, y) = (x^2 - 1)^2 + 2\,(y - c(1 - x^2))^2`: minima at :math:`(\pm 1, 0)` with
    :math:`V = 0`, and the minimum energy path is the parabola :math:`y = c(1 - x^2)` on which
    :math:`V = (x^2 - 1)^2`, so the saddle is exactly :math:`(0, c)` with height exactly 1, while
    the straight line between the minima climbs to :math:`1 + 2c^2`.
``muller_brown``
    the Müller-Brown potential (Müller and Brown 1979), the standard test of reaction-path
    methods: three minima, two saddles; between the deepest two minima the path crosses both.

Exact saddle points and minima are found by Newton's method on the gradient
(:func:`stationary_point`), to float64 round-off, from a starting guess.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .validation import SCALE_RANGE, as_float_array, check_array, check_finite_scalar, check_int, check_positive

__all__ = ["TWO_BUMP", "two_bump", "curved_double_well", "muller_brown", "stationary_point", "StationaryPoint",
           "POTENTIALS", "ReferenceLandscape", "reference_landscape"]

#: The constants of the paper's two-bump illustration (its notebook's values).
TWO_BUMP = {
    "wells": ((-0.5, -0.5), (0.5, 0.0)),
    "bumps": ((-0.2, -0.4), (0.0, 0.3)),
    "well_width": 3.0,
    "bump_width": 15.0,
    "offset": 1.0190055296306975,
    "start": (-0.62, -0.54),
    "end": (0.49, -0.02),
}

_MB_A = (-200.0, -100.0, -170.0, 15.0)
_MB_a = (-1.0, -1.0, -6.5, 0.7)
_MB_b = (0.0, 0.0, 11.0, 0.6)
_MB_c = (-10.0, -10.0, -6.5, 0.7)
_MB_x0 = (1.0, 0.0, -0.5, -1.0)
_MB_y0 = (0.0, 0.5, 1.5, 1.0)


def _xy(points):
    check_array(points, "points", ndim=2, shape=(None, 2))
    if not isinstance(points, torch.Tensor):
        raise TypeError(f"points must be a torch tensor, got {type(points).__name__}")
    return points[:, 0], points[:, 1]


def two_bump(points: torch.Tensor) -> torch.Tensor:
    """The paper's two-well, two-bump landscape at ``points`` ``(P, 2)``.

    Parameters
    ----------
    points : torch.Tensor, shape (P, 2)
        The points, any float dtype (differentiable).

    Returns
    -------
    torch.Tensor, shape (P,)
        The values (constants in :data:`TWO_BUMP`).

    Raises
    ------
    TypeError
        If ``points`` is not a floating-point torch tensor.
    ValueError
        If ``points`` is not of shape ``(P, 2)``, is empty or holds a non-finite value.
    """
    x, y = _xy(points)
    value = torch.full_like(x, TWO_BUMP["offset"])
    for cx, cy in TWO_BUMP["wells"]:
        value = value - torch.exp(-TWO_BUMP["well_width"] * ((x - cx) ** 2 + (y - cy) ** 2))
    for dx, dy in TWO_BUMP["bumps"]:
        value = value + torch.exp(-TWO_BUMP["bump_width"] * ((x - dx) ** 2 + (y - dy) ** 2))
    return value


def curved_double_well(points: torch.Tensor, curvature: float = 1.0) -> torch.Tensor:
    """:math:`(x^2 - 1)^2 + 2 (y - c (1 - x^2))^2` with ``c = curvature`` (saddle exactly at ``(0, c)``, height 1).

    Parameters
    ----------
    points : torch.Tensor, shape (P, 2)
        The points, any float dtype (differentiable).
    curvature : float or 0-d tensor
        The curvature :math:`c` of the minimum energy path, finite, at most ``1e150`` in magnitude (a
        tensor keeps its gradient).

    Returns
    -------
    torch.Tensor, shape (P,)
        The values.

    Raises
    ------
    TypeError
        If ``points`` is not a floating-point torch tensor, or ``curvature`` is not a real number.
    ValueError
        If ``points`` is not of shape ``(P, 2)``, is empty or holds a non-finite value, or
        ``curvature`` is not finite or above ``1e150`` in magnitude.
    """
    x, y = _xy(points)
    c = check_finite_scalar(curvature, "curvature")
    if abs(c) > SCALE_RANGE[1]:
        raise ValueError(f"curvature must be at most {SCALE_RANGE[1]:g} in magnitude, got {c!r}")
    if isinstance(curvature, torch.Tensor):
        c = curvature  # keep a tensor curvature (and its gradient)
    return (x * x - 1.0) ** 2 + 2.0 * (y - c * (1.0 - x * x)) ** 2


def muller_brown(points: torch.Tensor) -> torch.Tensor:
    """The Müller-Brown potential at ``points`` ``(P, 2)``.

    Parameters
    ----------
    points : torch.Tensor, shape (P, 2)
        The points, any float dtype (differentiable).

    Returns
    -------
    torch.Tensor, shape (P,)
        The values.

    Raises
    ------
    TypeError
        If ``points`` is not a floating-point torch tensor.
    ValueError
        If ``points`` is not of shape ``(P, 2)``, is empty or holds a non-finite value.
    """
    x, y = _xy(points)
    value = torch.zeros_like(x)
    for A, a, b, c, x0, y0 in zip(_MB_A, _MB_a, _MB_b, _MB_c, _MB_x0, _MB_y0):
        dx, dy = x - x0, y - y0
        value = value + A * torch.exp(a * dx * dx + b * dx * dy + c * dy * dy)
    return value


@dataclass(frozen=True)
class StationaryPoint:
    """A point where the gradient vanishes: location, value, Hessian eigenvalues, Newton steps."""

    point: np.ndarray
    value: float
    hessian_eigenvalues: np.ndarray
    gradient_norm: float
    iterations: int

    @property
    def is_saddle(self) -> bool:
        return bool(self.hessian_eigenvalues[0] < 0 < self.hessian_eigenvalues[-1])


def stationary_point(potential: Callable, guess, *, tol: float = 1e-12, max_iterations: int = 100) -> StationaryPoint:
    """Newton's method on the gradient of a 2-D ``potential`` from ``guess``, in float64.

    Converges quadratically to the stationary point nearest the guess (saddle or minimum alike);
    stops when the gradient norm is below ``tol`` and raises ``ValueError`` if it never is.
    """
    if not callable(potential):
        raise TypeError("potential must be callable")
    guess = as_float_array(guess, "guess")
    check_array(guess, "guess", shape=(2,))
    tol = check_positive(tol, "tol")
    max_iterations = check_int(max_iterations, "max_iterations", minimum=1)
    x = torch.tensor(guess, dtype=torch.float64)

    def f(z):
        return potential(z[None, :])[0]

    for iteration in range(1, max_iterations + 1):
        g = torch.func.grad(f)(x)
        if float(g.norm()) < tol:
            break
        h = torch.func.hessian(f)(x)
        x = x - torch.linalg.solve(h, g)
    else:
        raise ValueError(f"Newton's method did not reach gradient norm {tol} in {max_iterations} iterations "
                         f"from guess {guess.tolist()}")
    h = torch.func.hessian(f)(x)
    return StationaryPoint(point=x.numpy().copy(), value=float(f(x)),
                           hessian_eigenvalues=torch.linalg.eigvalsh(h).numpy(),
                           gradient_norm=float(torch.func.grad(f)(x).norm()), iterations=iteration)


@dataclass(frozen=True)
class ReferenceLandscape:
    """A potential, two end points (minima), and the exact barrier between them.

    ``barrier`` is the height of the highest saddle on the minimum energy path between the end
    points, found by :func:`stationary_point` from ``saddle_guesses``.
    """

    name: str
    potential: Callable
    start: np.ndarray
    end: np.ndarray
    saddles: tuple

    @property
    def barrier(self) -> float:
        return max(s.value for s in self.saddles)


#: The validation landscapes of chapter 10, each as (potential, start guess, end guess, saddle guesses).
POTENTIALS = {
    "curved_double_well": (curved_double_well, (-1.0, 0.0), (1.0, 0.0), ((0.0, 1.0),)),
    "muller_brown": (muller_brown, (-0.558, 1.442), (0.623, 0.028), ((-0.822, 0.624), (0.212, 0.293))),
    # the paper's end points (-0.62, -0.54), (0.49, -0.02) refined to the wells' minima; the saddle
    # guess is the climbing image of an elastic band between them
    "two_bump": (two_bump, (-0.62, -0.54), (0.49, -0.02), ((-0.165, -0.070),)),
}


def reference_landscape(name: str) -> ReferenceLandscape:
    """One of :data:`POTENTIALS` with its end points and saddles refined by Newton's method.

    Parameters
    ----------
    name : str
        A key of :data:`POTENTIALS`: ``"curved_double_well"``, ``"muller_brown"`` or ``"two_bump"``.

    Returns
    -------
    ReferenceLandscape
        The potential, its two minima (``start``, ``end``) and its saddles; ``barrier`` is the
        highest saddle's height.

    Raises
    ------
    ValueError
        If ``name`` is not a key of :data:`POTENTIALS`, or Newton's method does not converge from a
        stored guess.
    RuntimeError
        If Newton's method from a saddle guess reaches a point that is not a saddle.
    """
    if name not in POTENTIALS:
        raise ValueError(f"name must be one of {sorted(POTENTIALS)}, got {name!r}")
    potential, start, end, saddle_guesses = POTENTIALS[name]
    start_point = stationary_point(potential, start)
    end_point = stationary_point(potential, end)
    saddles = tuple(stationary_point(potential, guess) for guess in saddle_guesses)
    for s in saddles:
        if not s.is_saddle:
            raise RuntimeError(f"{name}: Newton from a saddle guess reached a non-saddle {s.point}")
    return ReferenceLandscape(name, potential, start_point.point, end_point.point, saddles)

