r"""Paths between two solutions and the loss barrier along them.

Implements {prf:ref}`prop-fourier-endpoints` and {prf:ref}`prop-fourier-gradient` (the path family
of Yu and Morozov's FourierPathFinder and the gradient of its objective) and the barrier bound of
{prf:ref}`prop-barrier-bound`.

Three methods share one result type, :class:`PathResult`:

:func:`fourier_path`
    :math:`w(t) = (1 - t)\,w_a + t\,w_b + \sum_{n=1}^{K} b_n \sin(n\pi t)`, the coefficients
    :math:`b_n` optimised (Adam as in the paper, or L-BFGS with golden-section search) for the summed
    loss over the path points plus ``lam`` times the summed squared segment lengths, or for a
    smooth maximum of the loss along the path.
:func:`linear_path`
    the straight line, no optimisation.
:func:`nudged_elastic_band`
    the nudged elastic band with a climbing image (Henkelman, Uberuaga and Jónsson 2000), relaxed
    with FIRE (Bitzek et al. 2006).

A *loss* is a callable taking a batch of points ``(P, D)`` (a torch tensor) to their losses
``(P,)``, differentiable; every path point of an iteration is evaluated in one call.
:func:`ebcore.batched_loss.batched_loss` builds one from a network and its data. Evaluations are counted
in point-evaluations (one loss value and its gradient at one point of parameter space), the unit of
the paper's per-point loop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .optim import LBFGSGSS, NonFiniteLossError
from .progress import progress_bar
from .registry import implements
from .validation import as_float_array, check_array, check_choice, check_int, check_nonnegative, check_positive

__all__ = ["PathResult", "fourier_path", "linear_path", "nudged_elastic_band", "fourier_basis",
           "fourier_points", "fourier_gradient", "path_objective", "path_heights", "OBJECTIVES", "PATH_OPTIMIZERS", "settled_at"]

OBJECTIVES = ("sum", "smooth_max")
PATH_OPTIMIZERS = ("adam", "lbfgs")
#: Points of the dense re-evaluation per path segment, so that the barrier is read off a grid ten times
#: finer than the optimised points and a peak between them cannot hide.
DENSE_FACTOR = 10


@implements("prop-barrier-bound")
@dataclass
class PathResult:
    """A path, its loss profile and its barrier.

    ``t`` ``(P,)`` and ``points`` ``(P, D)`` are the path points (both ends included); ``heights``
    the loss at them (on the *report* loss, see :func:`fourier_path`); ``barrier`` their maximum
    (absolute, as in the paper); ``excess_barrier`` the barrier minus the higher end point.
    ``dense_t``/``dense_heights`` re-evaluate the path ``density`` times finer and
    ``dense_barrier`` is their maximum: a lower bound of the path's true maximum.
    ``lipschitz_margin`` is the amount that makes it an upper bound ({prf:ref}`prop-barrier-bound`):
    ``dense_barrier + lipschitz_margin`` bounds the maximum of the loss on the continuous path when
    the derivative of the loss along the path never exceeds the largest derivative seen at the
    dense points (``slope``). ``objective_history`` has one entry per optimisation step,
    ``evaluations`` counts point-evaluations of the loss used by the optimisation (the report is not
    counted), and ``record`` holds the ``record_every`` snapshots (steps, evaluations, dense
    barrier) when asked for.
    """

    method: str
    t: np.ndarray
    points: np.ndarray
    heights: np.ndarray
    barrier: float
    excess_barrier: float
    dense_t: np.ndarray
    dense_heights: np.ndarray
    dense_barrier: float
    density: int
    slope: float
    lipschitz_margin: float
    objective_history: np.ndarray
    evaluations: int
    coefficients: np.ndarray | None = None
    record: dict = field(default_factory=dict)

    @property
    def barrier_upper_bound(self) -> float:
        return self.dense_barrier + self.lipschitz_margin

    def at(self, t) -> np.ndarray:
        """Points of the path at parameters ``t`` in ``[0, 1]`` (``(T, D)``, float64).

        Exact for a Fourier path; piecewise-linear between the path points otherwise.

        Parameters
        ----------
        t : float or array_like of float
            The path parameters, each in ``[0, 1]`` (a scalar or a 1-D sequence).

        Returns
        -------
        numpy.ndarray, shape (T, D)
            The points, float64.

        Raises
        ------
        ValueError
            If ``t`` is not a scalar or 1-D, is empty, holds a non-finite value or a value outside
            ``[0, 1]`` (and numpy's own ``TypeError`` or ``ValueError`` if it cannot be read as floats).
        """
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        check_array(t, "t", ndim=1)
        if t.min() < 0 or t.max() > 1:
            raise ValueError("t must lie in [0, 1]")
        start, end = self.points[0], self.points[-1]
        if self.coefficients is not None:
            basis = fourier_basis(torch.as_tensor(t), self.coefficients.shape[0]).numpy()
            return (1 - t)[:, None] * start + t[:, None] * end + basis @ self.coefficients
        points, _ = _polyline(torch.as_tensor(self.t), torch.as_tensor(self.points))(torch.as_tensor(t))
        return points.numpy()


def _polyline(knots: torch.Tensor, values: torch.Tensor):
    """``t -> (points, velocities)`` of the piecewise-linear path through ``values`` at ``knots``."""
    def curve(t):
        index = torch.clamp(torch.searchsorted(knots, t, right=True) - 1, 0, len(knots) - 2)
        width = knots[index + 1] - knots[index]
        segment = values[index + 1] - values[index]
        return values[index] + ((t - knots[index]) / width)[:, None] * segment, segment / width[:, None]
    return curve


def fourier_basis(t: torch.Tensor, n_modes: int) -> torch.Tensor:
    """``sin(n pi t)`` for ``n = 1..n_modes``: ``(T, n_modes)``; zero at ``t = 0`` and ``t = 1``."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"t must be a torch tensor, got {type(t).__name__}")
    check_array(t, "t", ndim=1)
    n_modes = check_int(n_modes, "n_modes", minimum=1)
    n = torch.arange(1, n_modes + 1, dtype=t.dtype, device=t.device)
    return torch.sin(math.pi * t[:, None] * n[None, :])


@implements("prop-fourier-endpoints")
def fourier_points(t: torch.Tensor, start: torch.Tensor, end: torch.Tensor, coefficients: torch.Tensor):
    r"""The Fourier path :math:`(1 - t) w_a + t w_b + \sum_n b_n \sin(n\pi t)` at ``t``: ``(T, D)``.

    Parameters
    ----------
    t : torch.Tensor, shape (T,)
        The path parameters (floating point).
    start : torch.Tensor, shape (D,)
        The end point :math:`w_a` at ``t = 0``.
    end : torch.Tensor, shape (D,)
        The end point :math:`w_b` at ``t = 1``.
    coefficients : torch.Tensor, shape (n_modes, D)
        The coefficients :math:`b_n`.

    Returns
    -------
    torch.Tensor, shape (T, D)
        The path points, differentiable in every argument.

    Raises
    ------
    TypeError
        If an argument is not a floating-point torch tensor, or they do not share one dtype.
    ValueError
        If ``t``, ``start`` or ``end`` is not 1-D, ``coefficients`` is not 2-D, one is empty or holds
        a non-finite value, or the shapes do not match (``start`` and ``end`` ``(D,)``,
        ``coefficients`` ``(n_modes, D)``).
    """
    for name, x in (("t", t), ("start", start), ("end", end), ("coefficients", coefficients)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch tensor, got {type(x).__name__}")
    check_array(t, "t", ndim=1)
    check_array(start, "start", ndim=1)
    check_array(end, "end", ndim=1)
    check_array(coefficients, "coefficients", ndim=2)
    if len({t.dtype, start.dtype, end.dtype, coefficients.dtype}) != 1:
        raise TypeError(f"t, start, end and coefficients must share one dtype, got {t.dtype}, {start.dtype}, "
                        f"{end.dtype} and {coefficients.dtype}")
    if start.shape != end.shape or start.ndim != 1 or coefficients.shape[1] != start.shape[0]:
        raise ValueError(f"start and end must be (D,) and coefficients (n_modes, D); got {tuple(start.shape)}, "
                         f"{tuple(end.shape)} and {tuple(coefficients.shape)}")
    return (1 - t)[:, None] * start + t[:, None] * end + fourier_basis(t, coefficients.shape[0]) @ coefficients


@implements("prop-fourier-gradient")
def fourier_gradient(point_gradients, points, n_modes: int, lam: float) -> np.ndarray:
    r"""The gradient of the summed objective with respect to the coefficients ({prf:ref}`prop-fourier-gradient`).

    For points :math:`w_m = w(t_m)` on ``n_points`` equally spaced ``t`` and loss gradients
    :math:`g_m = \nabla f(w_m)` (``(P, D)``, ends included), returns ``(n_modes, D)``:
    :math:`\partial J / \partial b_n = \sum_m \sin(n\pi t_m)\,[g_m + 2\lambda (2 w_m - w_{m-1} - w_{m+1})]`,
    the second difference taken with the end points' own rows dropped (their sine vanishes).

    Parameters
    ----------
    point_gradients : numpy.ndarray or torch.Tensor, shape (P, D)
        The loss gradients :math:`g_m` at the path points, ends included.
    points : numpy.ndarray or torch.Tensor, shape (P, D)
        The path points :math:`w_m` on equally spaced ``t``, ends included.
    n_modes : int >= 1
        The number of coefficient vectors :math:`K`.
    lam : float >= 0
        The weight :math:`\lambda` of the summed squared segment lengths.

    Returns
    -------
    numpy.ndarray, shape (n_modes, D)
        :math:`\partial J / \partial b_n`, float64.

    Raises
    ------
    TypeError
        If ``point_gradients`` or ``points`` is not a floating-point array or tensor, ``n_modes`` is
        not an integer, or ``lam`` is not a real number.
    ValueError
        If ``point_gradients`` or ``points`` is not 2-D, is empty or holds a non-finite value, their
        shapes differ, ``n_modes < 1``, or ``lam`` is negative or not finite.
    """
    g = np.asarray(check_array(point_gradients, "point_gradients", ndim=2), dtype=np.float64)
    w = np.asarray(check_array(points, "points", ndim=2), dtype=np.float64)
    if g.shape != w.shape:
        raise ValueError(f"point_gradients and points must have the same shape, got {g.shape} and {w.shape}")
    n_modes = check_int(n_modes, "n_modes", minimum=1)
    lam = check_nonnegative(lam, "lam")
    t = np.linspace(0.0, 1.0, w.shape[0])
    basis = np.sin(np.pi * t[:, None] * np.arange(1, n_modes + 1)[None, :])
    diff = np.diff(w, axis=0)
    length_grad = np.zeros_like(w)
    length_grad[:-1] -= 2 * lam * diff
    length_grad[1:] += 2 * lam * diff
    return basis.T @ (g + length_grad)


def _fourier_velocity(t, start, end, coefficients):
    n = torch.arange(1, coefficients.shape[0] + 1, dtype=t.dtype, device=t.device)
    return (end - start)[None, :] + (math.pi * n[None, :] * torch.cos(math.pi * t[:, None] * n[None, :])) @ coefficients


def _check_loss_output(values, points, name, where):
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"{name} must return a torch tensor, got {type(values).__name__}")
    if values.shape != (points.shape[0],):
        raise ValueError(f"{name} must map points ({points.shape[0]}, D) to losses ({points.shape[0]},), "
                         f"got shape {tuple(values.shape)}")
    bad = ~torch.isfinite(values.detach())
    if bool(bad.any()):
        which = torch.nonzero(bad).flatten().tolist()
        raise NonFiniteLossError(f"{name} returned a non-finite value {where} at path point(s) {which[:10]}; "
                                 f"the path would become NaN. Lower the learning rate or check the loss.")
    return values


def path_heights(loss: Callable, points, *, chunk: int = 256, gradients: bool = False):
    """``loss`` at ``points`` ``(T, D)``, in chunks of ``chunk`` points; with ``gradients``, also ``(T, D)`` gradients.

    Parameters
    ----------
    loss : callable
        Points ``(P, D)`` (a torch tensor) to losses ``(P,)``, differentiable when ``gradients``.
    points : numpy.ndarray, torch.Tensor or sequence of float, shape (T, D)
        The points.
    chunk : int >= 1
        Points per call of ``loss``.
    gradients : bool
        Also return the loss gradients at the points.

    Returns
    -------
    numpy.ndarray, shape (T,)
        The losses, float64; with ``gradients``, a pair ``(losses, gradients)``, the gradients of
        shape ``(T, D)``.

    Raises
    ------
    TypeError
        If ``loss`` is not callable or returns anything but a torch tensor, ``points`` is not real
        numbers (or is a non-floating tensor), or ``chunk`` is not an integer.
    ValueError
        If ``points`` is not 2-D, is empty or holds a non-finite value, ``chunk < 1``, or ``loss`` does
        not return one loss per point; :class:`ebcore.optim.NonFiniteLossError` (a ``ValueError``)
        if a loss is not finite.
    """
    if not callable(loss):
        raise TypeError("loss must be callable")
    pts = points if isinstance(points, torch.Tensor) else torch.from_numpy(as_float_array(points, "points"))
    check_array(pts, "points", ndim=2)
    chunk = check_int(chunk, "chunk", minimum=1)
    heights, grads = [], []
    for block in torch.split(pts, chunk):
        if gradients:
            block = block.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                values = _check_loss_output(loss(block), block, "loss", "on the report")
                (g,) = torch.autograd.grad(values.sum(), block)
            grads.append(g.detach().to(torch.float64).cpu().numpy())
        else:
            with torch.no_grad():
                values = _check_loss_output(loss(block), block, "loss", "on the report")
        heights.append(values.detach().to(torch.float64).cpu().numpy())
    h = np.concatenate(heights)
    return (h, np.concatenate(grads)) if gradients else h


def _check_endpoints(start, end):
    for name, x in (("start", start), ("end", end)):
        check_array(x, name, ndim=1)
    if start.shape != end.shape:
        raise ValueError(f"start and end must have the same size, got {tuple(start.shape)} and {tuple(end.shape)}")
    if isinstance(start, torch.Tensor) != isinstance(end, torch.Tensor):
        raise TypeError("start and end must both be numpy arrays or both be torch tensors")
    s = torch.as_tensor(start).detach()
    e = torch.as_tensor(end).detach().to(s.dtype)
    return s, e


def _report(method, loss, report_loss, t, points_t, *, velocity, density, objective_history, evaluations,
            coefficients=None, record=None, chunk=256):
    """Heights, barrier and the dense re-evaluation with its Lipschitz margin."""
    report = loss if report_loss is None else report_loss
    heights = path_heights(report, points_t.detach(), chunk=chunk)
    t_np = t.detach().cpu().numpy().astype(np.float64)
    dense_t = torch.linspace(0.0, 1.0, (len(t_np) - 1) * density + 1, dtype=points_t.dtype, device=points_t.device)
    dense_points, dense_velocity = velocity(dense_t)
    dense_heights, dense_grads = path_heights(report, dense_points.detach(), chunk=chunk, gradients=True)
    derivative = np.einsum("td,td->t", dense_grads, dense_velocity.detach().to(torch.float64).cpu().numpy())
    slope = float(np.abs(derivative).max())
    dt = float(dense_t[1] - dense_t[0])
    pair_bound = 0.5 * (dense_heights[:-1] + dense_heights[1:] + slope * dt)
    dense_barrier = float(dense_heights.max())
    points_np = points_t.detach().to(torch.float64).cpu().numpy()
    barrier = float(heights.max())
    return PathResult(
        method=method, t=t_np, points=points_np, heights=heights, barrier=barrier,
        excess_barrier=barrier - float(max(heights[0], heights[-1])),
        dense_t=dense_t.cpu().numpy().astype(np.float64), dense_heights=dense_heights, dense_barrier=dense_barrier,
        density=density, slope=slope, lipschitz_margin=max(0.0, float(pair_bound.max()) - dense_barrier),
        objective_history=np.asarray(objective_history, dtype=np.float64), evaluations=int(evaluations),
        coefficients=None if coefficients is None else coefficients.detach().to(torch.float64).cpu().numpy(),
        record=record or {})


def _check_common(loss, report_loss, n_points, density):
    if not callable(loss):
        raise TypeError("loss must be callable, mapping points (P, D) to losses (P,)")
    if report_loss is not None and not callable(report_loss):
        raise TypeError("report_loss must be callable or None")
    n_points = check_int(n_points, "n_points", minimum=2)
    density = check_int(density, "density", minimum=1)
    return n_points, density


def linear_path(loss: Callable, start, end, n_points: int = 51, *, report_loss: Callable | None = None,
                density: int = DENSE_FACTOR) -> PathResult:
    """The straight line from ``start`` to ``end``: ``n_points`` points, both ends included.

    Parameters
    ----------
    loss : callable
        Points ``(P, D)`` (a torch tensor) to losses ``(P,)``, differentiable (the dense
        re-evaluation takes its gradients for the Lipschitz margin).
    start, end : numpy.ndarray or torch.Tensor, shape (D,)
        The end points (flat parameter vectors), both numpy or both torch, same size.
    n_points : int >= 2
        Points on the line, both ends included.
    report_loss : callable, optional
        The loss on which heights and barriers are reported; by default ``loss``.
    density : int >= 1
        The dense re-evaluation uses ``density`` points per segment.

    Returns
    -------
    PathResult
        The line, its heights, barrier, dense barrier and Lipschitz margin (no optimisation: no
        evaluations are counted).

    Raises
    ------
    TypeError
        If ``loss`` or ``report_loss`` is not callable or returns anything but a torch tensor,
        ``start`` or ``end`` is not a floating-point array or tensor or they are of different kinds,
        or ``n_points`` or ``density`` is not an integer.
    ValueError
        If ``start`` or ``end`` is not 1-D, is empty or holds a non-finite value, their sizes differ,
        ``n_points < 2``, ``density < 1``, or the loss does not return one value per point;
        :class:`ebcore.optim.NonFiniteLossError` (a ``ValueError``) if a reported loss is not finite.
    """
    n_points, density = _check_common(loss, report_loss, n_points, density)
    s, e = _check_endpoints(start, end)
    t = torch.linspace(0.0, 1.0, n_points, dtype=s.dtype, device=s.device)

    def velocity(tt):
        return (1 - tt)[:, None] * s + tt[:, None] * e, (e - s).expand(len(tt), -1)

    return _report("linear", loss, report_loss, t, velocity(t)[0], velocity=velocity, density=density,
                   objective_history=[], evaluations=0)


@implements("prop-fourier-gradient")
def path_objective(values, points, lam, objective="sum", temperature=None):
    r"""The FourierPathFinder objective of losses ``values`` ``(P,)`` at ``points`` ``(P, D)`` (torch, differentiable).

    ``"sum"``: the summed loss plus ``lam`` times the summed squared segment lengths;
    ``"smooth_max"``: :math:`T \log\sum_m e^{f_m / T}` plus the same length term (see
    :func:`fourier_path`).

    Parameters
    ----------
    values : torch.Tensor, shape (P,)
        The losses :math:`f_m` at the path points, ends included.
    points : torch.Tensor, shape (P, D)
        The path points.
    lam : float >= 0
        The weight of the summed squared segment lengths.
    objective : str
        One of ``OBJECTIVES``: ``"sum"`` or ``"smooth_max"``.
    temperature : float > 0, optional
        :math:`T` of the smooth maximum (required for ``"smooth_max"``).

    Returns
    -------
    torch.Tensor
        The objective, a 0-d tensor, differentiable in ``values`` and ``points``.

    Raises
    ------
    TypeError
        If ``values`` or ``points`` is not a floating-point torch tensor, or ``lam`` or
        ``temperature`` is not a real number.
    ValueError
        If ``objective`` is unknown, ``"smooth_max"`` is asked for without a ``temperature``, ``lam``
        is negative or not finite, ``temperature`` is not a finite number > 0, or ``values`` and
        ``points`` are not ``(P,)`` and ``(P, D)``, are empty or hold a non-finite value.
    """
    check_choice(objective, "objective", OBJECTIVES)
    if objective == "smooth_max" and temperature is None:
        raise ValueError("temperature must be given for objective='smooth_max'")
    lam = check_nonnegative(lam, "lam")
    if temperature is not None:
        temperature = check_positive(temperature, "temperature")
    if not isinstance(values, torch.Tensor) or not isinstance(points, torch.Tensor):
        raise TypeError("values and points must be torch tensors")
    check_array(values, "values")
    check_array(points, "points")
    if values.ndim != 1 or points.ndim != 2 or values.shape[0] != points.shape[0]:
        raise ValueError(f"values must be (P,) and points (P, D), got {tuple(values.shape)} and {tuple(points.shape)}")
    length = ((points[1:] - points[:-1]) ** 2).sum()
    if objective == "sum":
        return values.sum() + lam * length
    return temperature * torch.logsumexp(values / temperature, dim=0) + lam * length


@implements("prop-fourier-endpoints")
def fourier_path(loss: Callable, start, end, n_modes: int = 10, n_points: int = 51, lam: float = 1e-4,
                 steps: int = 100, lr: float = 1e-3, objective: str = "sum", temperature: float | None = None, *,
                 optimizer: str = "adam", report_loss: Callable | None = None, density: int = DENSE_FACTOR,
                 record_every: int | None = None, gradient_noise: float = 0.0, noise_seed: int = 0,
                 progress: bool | None = None) -> PathResult:
    r"""FourierPathFinder (Yu and Morozov 2026): a low path from ``start`` to ``end``.

    The path is :math:`w(t) = (1-t)\,w_a + t\,w_b + \sum_{n=1}^{K} b_n \sin(n\pi t)` with ``K = n_modes``
    coefficient vectors, all starting at zero (the straight line); the end points never move
    ({prf:ref}`prop-fourier-endpoints`). It is sampled at ``n_points`` equally spaced ``t`` (both
    ends included; the paper: 51 for networks, 101 in its 2-D figure).

    Parameters
    ----------
    loss : callable
        Points ``(P, D)`` to losses ``(P,)`` (torch, differentiable); all interior path points of a
        step go through one call.
    start, end : (D,) array or tensor
        The end points (flat parameter vectors), same size.
    n_modes : int >= 1
        The number :math:`K` of coefficient vectors :math:`b_n`.
    n_points : int >= 2
        Path points, both ends included (at least 3 when ``steps > 0``: an interior point is needed).
    lam : float >= 0
        Weight of the summed squared segment lengths :math:`\sum_m |w(t_{m+1}) - w(t_m)|^2`. Its
        meaning depends on ``n_points``: with :math:`M` segments the sum is about
        :math:`\frac1M\int_0^1 |w'|^2 dt` while the summed loss is about :math:`M\int_0^1 f\,dt`, so the
        objective is :math:`M[\int f + (\lambda/M^2)\int |w'|^2]` and the continuous trade-off is
        :math:`\lambda/M^2`.
    steps, lr : int, float
        Optimisation steps and the Adam learning rate (the paper: 100 and ``1e-3``). For
        ``optimizer="lbfgs"`` (L-BFGS with golden-section search, :class:`ebcore.optim.LBFGSGSS` with
        its default, the paper's line search, ``line_search="paper"``),
        ``steps`` counts its iterations and ``lr`` is unused.
    objective : {"sum", "smooth_max"}
        ``"sum"``: the paper's summed loss over the path points. ``"smooth_max"``:
        :math:`T \log\sum_m e^{f_m / T}`, a soft maximum that targets the barrier itself.
    temperature : float > 0, optional
        ``T`` of the smooth maximum; by default 2 % of the loss range on the straight line.
    optimizer : {"adam", "lbfgs"}
        Adam on the coefficients (the paper's), or :class:`ebcore.optim.LBFGSGSS`.
    report_loss : callable, optional
        The loss on which heights and barriers are reported (for example the full data set when
        ``loss`` is a subsample); by default ``loss``.
    density : int >= 1
        The dense re-evaluation uses ``density`` points per segment (default 10).
    record_every : int, optional
        Every this many steps, record the dense barrier of the current iterate (on the report
        loss) with the evaluations used so far: ``result.record``. For convergence studies.
    gradient_noise : float >= 0
        Standard deviation of Gaussian noise added to every coefficient's gradient before each Adam
        step (``optimizer="adam"`` only; default 0, no noise). The authors' two-dimensional notebook
        adds noise of standard deviation 1; the kept iterate is still the one of lowest objective.
    noise_seed : int >= 0
        Seeds the noise (drawn in float64 on the CPU, so a seed gives the same noise on any device).
    progress : bool, optional
        Show a progress bar (default: as ``EBCORE_PROGRESS`` decides).

    Returns
    -------
    PathResult
        The best iterate's path, its heights, barrier, dense barrier and Lipschitz margin, the
        objective history, the evaluations used and the coefficients.

    Raises
    ------
    TypeError
        If ``loss`` or ``report_loss`` is not callable or returns anything but a torch tensor,
        ``start`` or ``end`` is not a floating-point array or tensor or they are of different kinds, an
        integer argument is not an integer, or ``lam``, ``lr`` or ``temperature`` is not a real number.
    ValueError
        If ``start`` or ``end`` is not 1-D, is empty or holds a non-finite value, their sizes differ,
        ``n_modes``, ``density`` or ``record_every`` is below 1, ``n_points`` is below 2 (below 3 with
        ``steps > 0``), ``steps`` is negative, ``lam`` or ``gradient_noise`` is negative (or the noise is
        positive with ``optimizer="lbfgs"``), ``lr`` or ``temperature`` is not a
        finite number > 0, ``objective`` or ``optimizer`` is unknown, or the loss does not return one
        value per point; :class:`ebcore.optim.NonFiniteLossError` (a ``ValueError``) if the loss or the
        path points become non-finite.

    Notes
    -----
    The iterate with the lowest objective is returned (as in the paper). A non-finite loss during
    the optimisation raises :class:`ebcore.optim.NonFiniteLossError` naming the step and path points.
    """
    n_points, density = _check_common(loss, report_loss, n_points, density)
    s, e = _check_endpoints(start, end)
    n_modes = check_int(n_modes, "n_modes", minimum=1)
    lam = check_nonnegative(lam, "lam")
    steps = check_int(steps, "steps", minimum=0)
    lr = check_positive(lr, "lr")
    check_choice(objective, "objective", OBJECTIVES)
    check_choice(optimizer, "optimizer", PATH_OPTIMIZERS)
    if temperature is not None:
        temperature = check_positive(temperature, "temperature")
    if record_every is not None:
        record_every = check_int(record_every, "record_every", minimum=1)
    if n_points < 3 and steps > 0:
        raise ValueError(f"n_points must be >= 3 to optimise a path (an interior point is needed), got {n_points}")
    gradient_noise = check_nonnegative(gradient_noise, "gradient_noise")
    noise_seed = check_int(noise_seed, "noise_seed", minimum=0)
    if gradient_noise > 0 and optimizer != "adam":
        raise ValueError(f"gradient_noise is for optimizer='adam' only, got optimizer={optimizer!r}")

    t = torch.linspace(0.0, 1.0, n_points, dtype=s.dtype, device=s.device)
    objective_at = _FourierObjective(loss, s, e, t, n_modes, lam, objective, temperature, lr)
    coefficients = torch.zeros(n_modes, s.numel(), dtype=s.dtype, device=s.device, requires_grad=True)
    record = {"steps": [], "evaluations": [], "dense_barrier": []}

    def snapshot(step):
        if record_every is None or step % record_every:
            return
        now = coefficients.detach()
        r = _report("fourier", loss, report_loss, t, fourier_points(t, s, e, now), velocity=_fourier_curve(s, e, now),
                    density=density, objective_history=[], evaluations=objective_at.evaluations)
        record["steps"].append(step)
        record["evaluations"].append(objective_at.evaluations)
        record["dense_barrier"].append(r.dense_barrier)

    snapshot(0)
    best = _Best(coefficients)
    if optimizer == "adam":
        history = _adam_steps(objective_at, coefficients, steps, lr, best, snapshot, progress,
                              gradient_noise=gradient_noise, noise_seed=noise_seed)
    else:
        history = _lbfgs_steps(objective_at, coefficients, steps, lr, best, snapshot, progress)
    with torch.no_grad():
        best.offer(float(objective_at(coefficients, where="at the last iterate")), coefficients)
    return _report("fourier", loss, report_loss, t, fourier_points(t, s, e, best.coefficients),
                   velocity=_fourier_curve(s, e, best.coefficients), density=density, objective_history=history,
                   evaluations=objective_at.evaluations, coefficients=best.coefficients,
                   record={k: np.asarray(v) for k, v in record.items()} if record_every else {})


class _FourierObjective:
    """The path objective as a function of the Fourier coefficients, counting loss evaluations.

    Holds what does not change during an optimisation: the straight line, the sine basis at the
    interior points and the losses at the two fixed ends (two evaluations, counted). With
    ``objective="smooth_max"`` and no ``temperature``, the temperature is 2 % of the loss range
    on the straight line (``n_points - 2`` more evaluations).
    """

    def __init__(self, loss, start, end, t, n_modes, lam, objective, temperature, lr):
        self.loss, self.start, self.end, self.lam, self.objective, self.lr = loss, start, end, lam, objective, lr
        self.straight = (1 - t)[:, None] * start + t[:, None] * end
        self.basis = fourier_basis(t[1:-1], n_modes)
        ends = torch.stack([start, end])
        self.end_values = _check_loss_output(loss(ends).detach(), ends, "loss", "at the end points")
        self.evaluations = 2
        if objective == "smooth_max" and temperature is None:
            with torch.no_grad():
                inner = self.straight[1:-1]
                line = _check_loss_output(loss(inner), inner, "loss", "on the straight line")
            self.evaluations += inner.shape[0]
            values = torch.cat([line, self.end_values])
            temperature = max(0.02 * float(values.max() - values.min()), 1e-12)
        self.temperature = temperature

    def _step_back(self):
        return torch.tensor(math.inf, dtype=self.start.dtype, device=self.start.device)

    def __call__(self, coef, where: str = "during the optimisation", trial: bool = False):
        """The objective at ``coef``; at a line-search ``trial`` point an infinity means "step back"."""
        inner = self.straight[1:-1] + self.basis @ coef
        if not bool(torch.isfinite(inner.detach()).all()):
            if trial:
                return self._step_back()
            raise NonFiniteLossError(f"lr: the path points overflowed {where} (lr={self.lr!r}); lower the learning "
                                     "rate")
        raw = self.loss(inner)
        self.evaluations += inner.shape[0]
        if trial and isinstance(raw, torch.Tensor) and not bool(torch.isfinite(raw.detach()).all()):
            return self._step_back()
        values = _check_loss_output(raw, inner, "loss", where)
        all_values = torch.cat([self.end_values[:1], values, self.end_values[1:]])
        all_points = torch.cat([self.start[None], inner, self.end[None]])
        return path_objective(all_values, all_points, self.lam, self.objective, self.temperature)


class _Best:
    """The lowest objective value seen and the coefficients where it was seen (the start until then)."""

    def __init__(self, coefficients):
        self.value, self.coefficients = math.inf, coefficients.detach().clone()

    def offer(self, value: float, coefficients) -> None:
        if value < self.value:
            self.value, self.coefficients = value, coefficients.detach().clone()


def _fourier_curve(start, end, coefficients):
    """``t -> (w(t), w'(t))`` of the Fourier path with these coefficients (for the dense report)."""
    def curve(tt):
        return fourier_points(tt, start, end, coefficients), _fourier_velocity(tt, start, end, coefficients)
    return curve


def _adam_steps(objective_at, coefficients, steps, lr, best, snapshot, progress, *, gradient_noise: float = 0.0,
                noise_seed: int = 0) -> list:
    """``steps`` Adam steps on the coefficients (each gradient plus ``gradient_noise`` times standard normal
    noise); returns the objective before each step."""
    opt = torch.optim.Adam([coefficients], lr=lr)
    generator = torch.Generator().manual_seed(noise_seed) if gradient_noise > 0 else None
    history = []
    for step in progress_bar(range(1, steps + 1), desc="Fourier path", progress=progress):
        opt.zero_grad(set_to_none=True)
        value = objective_at(coefficients, where=f"at step {step}")
        best.offer(value.item(), coefficients)
        value.backward()
        if generator is not None:
            noise = torch.randn(coefficients.shape, generator=generator, dtype=torch.float64)
            coefficients.grad.add_(gradient_noise * noise.to(coefficients.grad))
        opt.step()
        history.append(value.item())
        snapshot(step)
    return history


def _lbfgs_steps(objective_at, coefficients, steps, lr, best, snapshot, progress) -> list:
    """``steps`` iterations of :class:`~ebcore.optim.LBFGSGSS` (``lr`` unused); returns each step's start value."""
    opt = LBFGSGSS([coefficients])

    def closure(backward: bool = True):
        if backward:
            opt.zero_grad(set_to_none=True)
            value = objective_at(coefficients)
            value.backward()
        else:
            value = objective_at(coefficients, trial=True)
        return value

    history = []
    for step in progress_bar(range(1, steps + 1), desc="Fourier path (L-BFGS)", progress=progress):
        value = float(torch.as_tensor(opt.step(closure)).detach())
        best.offer(value, coefficients)
        history.append(value)
        snapshot(step)
    return history


def _neb_tangents(points, energies):
    """Henkelman and Jónsson's (2000) upwind tangent at every interior image, unit length."""
    forward = points[2:] - points[1:-1]
    backward = points[1:-1] - points[:-2]
    e_prev, e_here, e_next = energies[:-2], energies[1:-1], energies[2:]
    up = (e_next > e_here) & (e_here > e_prev)
    down = (e_next < e_here) & (e_here < e_prev)
    d_max = torch.maximum((e_next - e_here).abs(), (e_prev - e_here).abs())
    d_min = torch.minimum((e_next - e_here).abs(), (e_prev - e_here).abs())
    rising = (e_next > e_prev)[:, None]
    mixed = torch.where(rising, forward * d_max[:, None] + backward * d_min[:, None],
                        forward * d_min[:, None] + backward * d_max[:, None])
    tangent = torch.where(up[:, None], forward, torch.where(down[:, None], backward, mixed))
    norm = tangent.norm(dim=1, keepdim=True)
    return tangent / torch.where(norm > 0, norm, torch.ones_like(norm))


def nudged_elastic_band(loss: Callable, start, end, n_points: int = 21, *, steps: int = 500, spring: float = 1.0,
                        step_size: float = 1e-2, climbing: bool = True, climb_after: int = 50,
                        force_tol: float = 0.0, report_loss: Callable | None = None, density: int = DENSE_FACTOR,
                        progress: bool | None = None) -> PathResult:
    """The nudged elastic band with a climbing image, relaxed by FIRE.

    ``n_points`` images (both ends fixed) start on the straight line. Each image feels the loss
    force perpendicular to the path tangent (the upwind tangent of Henkelman and Jónsson 2000) and
    a spring force of stiffness ``spring`` along it. After ``climb_after`` steps the highest image
    climbs (loss force along the tangent reversed, no spring), so it converges to the saddle point
    and its height to the barrier. FIRE (Bitzek et al. 2006) integrates the forces with time step
    ``step_size`` (at most 10 times larger as it adapts). Stops after ``steps`` steps or when the
    largest force on an image falls below ``force_tol``. Returns the images as a piecewise-linear path.

    Parameters
    ----------
    loss : callable
        Points ``(P, D)`` (a torch tensor) to losses ``(P,)``, differentiable.
    start, end : numpy.ndarray or torch.Tensor, shape (D,)
        The fixed end images, both numpy or both torch, same size.
    n_points : int >= 3
        Images, both ends included.
    steps : int >= 0
        The most FIRE steps.
    spring : float > 0
        The spring stiffness along the path.
    step_size : float > 0
        FIRE's initial time step (it adapts up to 10 times larger).
    climbing : bool
        Let the highest image climb after ``climb_after`` steps.
    climb_after : int >= 0
        Steps before the climbing image is switched on.
    force_tol : float >= 0
        Stop when the largest force on an image falls below it (0: run all ``steps``).
    report_loss : callable, optional
        The loss on which heights and barriers are reported; by default ``loss``.
    density : int >= 1
        The dense re-evaluation uses ``density`` points per segment.
    progress : bool, optional
        Show a progress bar (default: as ``EBCORE_PROGRESS`` decides).

    Returns
    -------
    PathResult
        The images as a piecewise-linear path, with heights, barrier, dense barrier, Lipschitz
        margin, the highest image's height per step (``objective_history``) and the evaluations used.

    Raises
    ------
    TypeError
        If ``loss`` or ``report_loss`` is not callable or returns anything but a torch tensor,
        ``start`` or ``end`` is not a floating-point array or tensor or they are of different kinds, an
        integer argument is not an integer, or ``spring``, ``step_size`` or ``force_tol`` is not a real
        number.
    ValueError
        If ``n_points < 3``, ``start`` or ``end`` is not 1-D, is empty or holds a non-finite value,
        their sizes differ, ``steps`` or ``climb_after`` is negative, ``density < 1``, ``spring`` or
        ``step_size`` is not a finite number > 0, ``force_tol`` is negative, or the loss does not
        return one value per point; :class:`ebcore.optim.NonFiniteLossError` (a ``ValueError``) if the
        loss or the images become non-finite.
    """
    n_points, density = _check_common(loss, report_loss, n_points, density)
    if n_points < 3:
        raise ValueError(f"n_points must be >= 3 for an elastic band, got {n_points}")
    s, e = _check_endpoints(start, end)
    steps = check_int(steps, "steps", minimum=0)
    spring = check_positive(spring, "spring")
    step_size = check_positive(step_size, "step_size")
    climb_after = check_int(climb_after, "climb_after", minimum=0)
    force_tol = check_nonnegative(force_tol, "force_tol")
    t = torch.linspace(0.0, 1.0, n_points, dtype=s.dtype, device=s.device)
    images = ((1 - t)[:, None] * s + t[:, None] * e).clone()
    with torch.no_grad():
        end_values = _check_loss_output(loss(images[[0, -1]]), images[[0, -1]], "loss", "at the end points")
    evaluations = 2
    velocity = torch.zeros_like(images[1:-1])
    fire = _Fire(step_size)
    history = []
    for step in progress_bar(range(1, steps + 1), desc="NEB", progress=progress):
        inner = images[1:-1].detach().clone().requires_grad_(True)
        if not bool(torch.isfinite(inner).all()):
            raise NonFiniteLossError(f"step_size: the images overflowed at step {step} (step_size={step_size!r}); "
                                     "lower it")
        with torch.enable_grad():
            values = _check_loss_output(loss(inner), inner, "loss", f"at step {step}")
            (grad,) = torch.autograd.grad(values.sum(), inner)
        evaluations += n_points - 2
        energies = torch.cat([end_values[:1], values.detach(), end_values[1:]])
        history.append(float(energies.max()))
        force = _neb_force(images, energies, grad, spring, climb=climbing and step > climb_after)
        if force_tol > 0 and float(force.norm(dim=1).max()) < force_tol:
            break
        velocity = fire.step(force, velocity)
        images[1:-1] = images[1:-1] + fire.dt * velocity
    return _report("neb", loss, report_loss, t, images, velocity=_polyline(t, images), density=density,
                   objective_history=history, evaluations=evaluations)


def _neb_force(images, energies, grad, spring: float, climb: bool):
    """The force on each interior image: the loss force across the path plus the springs along it; with
    ``climb``, the highest image instead climbs along the tangent (its loss force there reversed)."""
    tangent = _neb_tangents(images, energies)
    along = (grad * tangent).sum(1, keepdim=True)
    force = -(grad - along * tangent)
    gaps = (images[1:] - images[:-1]).norm(dim=1)
    force = force + spring * (gaps[1:] - gaps[:-1])[:, None] * tangent
    if climb:
        top = int(torch.argmax(energies[1:-1]))
        force[top] = -grad[top] + 2 * along[top] * tangent[top]
    return force


class _Fire:
    """FIRE (Bitzek et al. 2006): velocity mixed toward the force, a time step that grows while the
    motion goes downhill and halves (with the velocity reset) when it goes uphill."""

    def __init__(self, dt: float):
        self.dt, self.dt_max, self.alpha, self.since_negative = dt, 10 * dt, 0.1, 0

    def step(self, force, velocity):
        power = float((force * velocity).sum())
        f_norm, v_norm = float(force.norm()), float(velocity.norm())
        if power > 0:
            velocity = (1 - self.alpha) * velocity + self.alpha * v_norm * force / max(f_norm, 1e-300)
            self.since_negative += 1
            if self.since_negative > 5:
                self.dt, self.alpha = min(self.dt * 1.1, self.dt_max), self.alpha * 0.99
        else:
            velocity = torch.zeros_like(velocity)
            self.dt, self.alpha, self.since_negative = self.dt * 0.5, 0.1, 0
        return velocity + self.dt * force


def settled_at(record: dict, fraction: float = 0.01) -> int:
    """Loss evaluations until a :func:`fourier_path` record's dense barrier stays within ``fraction`` of its
    final value (the ``record`` of a run with ``record_every``: ``evaluations`` and ``dense_barrier``)."""
    if not isinstance(record, dict) or not {"evaluations", "dense_barrier"} <= set(record):
        raise TypeError("record must be a fourier_path record with 'evaluations' and 'dense_barrier'")
    fraction = check_positive(fraction, "fraction")
    barrier = np.asarray(check_array(np.asarray(record["dense_barrier"], dtype=np.float64), "record", ndim=1))
    evaluations = np.asarray(record["evaluations"])
    if evaluations.shape != barrier.shape:
        raise ValueError("record's evaluations and dense_barrier must have one entry per snapshot")
    outside = np.abs(barrier - barrier[-1]) > fraction * abs(barrier[-1])
    last_outside = int(np.nonzero(outside)[0].max()) if outside.any() else -1
    return int(evaluations[min(last_outside + 1, len(barrier) - 1)])
