"""Full-batch L-BFGS with a golden-section line search (L-BFGS-GSS), and its line search.

Implements the optimizer of Yu and Morozov (2026) as described in chapter 9
(:prf:ref:`thm-golden-section` for the line search, :prf:ref:`prop-two-loop` for the direction,
:prf:ref:`prop-lbfgs-quadratic` for what exact line searches would give on a quadratic).

The direction is the L-BFGS two-loop recursion with memory ``history_size``; the step length
comes from a derivative-free search along the unit direction: bracket a minimum by doubling
trial steps, then shrink the bracket by the golden section. There are no Wolfe conditions, so
the safeguards matter: a curvature pair with ``cos(y, s) < 1e-4`` (or ``|y||s| = 0``) clears the
memory, and a direction with NaN falls back to steepest descent.
"""
from __future__ import annotations

import functools
import inspect
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .arrays import flat_concat
from .registry import implements
from .validation import (
    SCALE_RANGE,
    as_float_array,
    check_array,
    check_choice,
    check_finite_scalar,
    check_int,
    check_nonnegative,
    check_positive,
    check_scale,
)

__all__ = ["two_loop_direction", "dense_inverse_hessian", "lbfgs_iteration_counts", "GOLDEN_FRACTION", "NonFiniteLossError", "LineSearchResult", "golden_section_search", "MinimizeTrace",
           "ill_conditioned_quadratic", "rosenbrock", "minimize", "pytorch_lbfgs",
           "golden_section_evaluations", "bracket_minimum", "LBFGSGSS", "paper_line_search", "LINE_SEARCHES",
           "PAPER_GOLDEN_FRACTION", "exact_search_lbfgs", "conjugate_gradient"]

#: The golden fraction ``(3 - sqrt 5) / 2 = 0.381966...``: where the new trial point goes in the
#: larger part of the bracket (the paper rounds it to 0.382).
GOLDEN_FRACTION = (3.0 - math.sqrt(5.0)) / 2.0
_CURVATURE_COSINE = 1e-4
_RHO_EPS = 1e-6
_FIRST_TRIAL, _SECOND_TRIAL = 0.2, 0.8


class NonFiniteLossError(ValueError, FloatingPointError):
    """A loss or gradient at the current point is NaN or infinite."""


@dataclass(frozen=True)
class LineSearchResult:
    """Outcome of a one-dimensional search: the best point, its value and the evaluations used."""

    x: float
    value: float
    evaluations: int
    bracket: tuple[float, float]


@implements("thm-golden-section")
def golden_section_evaluations(width: float, tol: float) -> int:
    """Evaluations :func:`golden_section_search` uses to shrink a bracket of ``width`` below ``tol``.

    Two evaluations place the first two interior points; every comparison shrinks the bracket by
    ``1 - GOLDEN_FRACTION = 0.618...`` and every further evaluation allows one more comparison
    (:prf:ref:`thm-golden-section`), so ``k`` evaluations leave a bracket of
    ``width * 0.618**(k - 1)``. A bracket already below ``tol`` costs one evaluation (its midpoint).

    Parameters
    ----------
    width : float > 0
        The initial bracket's width ``b - a``.
    tol : float > 0
        The width below which the search stops.

    Returns
    -------
    int
        The number of evaluations.

    Raises
    ------
    TypeError
        If ``width`` or ``tol`` is not a real number.
    ValueError
        If ``width`` or ``tol`` is not a finite number > 0.
    """
    width = check_positive(width, "width")
    tol = check_positive(tol, "tol")
    if width <= tol:
        return 1
    return 1 + math.ceil(math.log(tol / width) / math.log(1.0 - GOLDEN_FRACTION) - 1e-12)


@implements("thm-golden-section")
def golden_section_search(f: Callable[[float], float], a: float, b: float, tol: float = 1e-8,
                          max_evals: int = 200) -> LineSearchResult:
    """Minimise a unimodal ``f`` on ``[a, b]`` by golden-section search (:prf:ref:`thm-golden-section`).

    Stops as soon as the bracket is narrower than ``tol`` (after exactly
    :func:`golden_section_evaluations` evaluations) or after ``max_evals`` evaluations; returns
    the best point evaluated, which lies in the final bracket, and that bracket.

    Parameters
    ----------
    f : callable
        The function, a float to a float; a non-finite value counts as ``+inf``.
    a, b : float
        The initial bracket, finite, ``a < b``, spanning at most ``1e150``.
    tol : float > 0
        The bracket width at which the search stops.
    max_evals : int >= 2
        The most evaluations of ``f``.

    Returns
    -------
    LineSearchResult
        ``x`` (the best point), ``value`` (``f(x)``), ``evaluations`` and the final ``bracket``.

    Raises
    ------
    TypeError
        If ``f`` is not callable, ``a`` or ``b`` is of a type ``float()`` refuses (``None``, a list),
        ``tol`` is not a real number, or ``max_evals`` is not an integer.
    ValueError
        If ``a`` or ``b`` is a string that is not a number or is not finite, ``a >= b``,
        ``b - a > 1e150``, ``tol`` is not a finite number > 0, or ``max_evals < 2``.
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    a = float(a)
    b = float(b)
    if not (math.isfinite(a) and math.isfinite(b)) or not a < b:
        raise ValueError(f"a and b must be finite with a < b, got a={a!r}, b={b!r}")
    if not b - a <= SCALE_RANGE[1]:
        raise ValueError(f"a and b must span at most {SCALE_RANGE[1]:g}, got a={a!r}, b={b!r}")
    tol = check_positive(tol, "tol")
    max_evals = check_int(max_evals, "max_evals", minimum=2)
    lo, hi = a, b
    if hi - lo <= tol:
        mid = 0.5 * (lo + hi)
        return LineSearchResult(x=mid, value=_as_value(f(mid)), evaluations=1, bracket=(lo, hi))
    x1 = lo + GOLDEN_FRACTION * (hi - lo)
    x2 = hi - GOLDEN_FRACTION * (hi - lo)
    f1, f2 = _as_value(f(x1)), _as_value(f(x2))
    evals = 2
    while True:
        # Compare, drop the outer part beyond the worse point; the better point survives and
        # already sits at the golden position of the new bracket.
        keep_left = f1 <= f2
        if keep_left:
            hi, x2, f2 = x2, x1, f1
            survivor = (x2, f2)
        else:
            lo, x1, f1 = x1, x2, f2
            survivor = (x1, f1)
        if hi - lo <= tol or evals >= max_evals:
            return LineSearchResult(x=survivor[0], value=survivor[1], evaluations=evals, bracket=(lo, hi))
        if keep_left:
            x1 = lo + GOLDEN_FRACTION * (hi - lo)
            f1 = _as_value(f(x1))
        else:
            x2 = hi - GOLDEN_FRACTION * (hi - lo)
            f2 = _as_value(f(x2))
        evals += 1


def _as_value(v) -> float:
    """A loss value for the search: non-finite counts as +infinity."""
    v = float(v)
    return v if math.isfinite(v) else math.inf


def _drive(steps, phi):
    """Run a search written as a generator (it yields a trial step and is sent ``phi`` there) on one
    function, and return what the generator returns. The lockstep driver of
    :mod:`ebcore.lockstep` runs the same generators for many members at once."""
    try:
        trial = next(steps)
        while True:
            trial = steps.send(phi(trial))
    except StopIteration as stop:
        return stop.value


def _bracket_steps(phi0: float, first: float, max_evals: int):
    """:func:`bracket_minimum` as a generator of trial steps (see :func:`_drive`)."""
    trials = [(0.0, phi0)]
    evals = 0
    step = _FIRST_TRIAL * first
    value = _as_value((yield step))
    evals += 1
    if value >= phi0:
        # Shrink toward 0: the minimum lies inside (0, step).
        upper = (step, value)
        while evals < max_evals:
            step *= GOLDEN_FRACTION
            value = _as_value((yield step))
            evals += 1
            if value < phi0:
                return [0.0, step, upper[0]], [phi0, value, upper[1]], evals
            upper = (step, value)
        return [0.0], [phi0], evals
    trials.append((step, value))
    step = _SECOND_TRIAL * first
    while evals < max_evals:
        value = _as_value((yield step))
        evals += 1
        if value >= trials[-1][1]:
            (a, fa), (b, fb) = trials[-2], trials[-1]
            return [a, b, step], [fa, fb, value], evals
        trials.append((step, value))
        step *= 2.0
    best = min(trials, key=lambda t: t[1])
    return [best[0]], [best[1]], evals


def bracket_minimum(phi: Callable[[float], float], phi0: float, first: float, max_evals: int = 30):
    """Bracket a minimum of ``phi`` on ``[0, inf)`` starting from ``phi(0) = phi0``.

    Trial steps ``0.2, 0.8, 1.6, 3.2, ...`` times ``first`` (the paper's doubling) until the value
    rises; if the first trial already rises, shrink it toward 0 by the golden fraction until one
    falls below ``phi0``. Returns ``(points, values, evaluations)`` with three points
    ``a < b < c``, ``phi(b) <= min(phi(a), phi(c))`` when a bracket was found; when none was found
    within ``max_evals`` evaluations, ``points`` holds the best trial seen (possibly 0).
    """
    if not callable(phi):
        raise TypeError(f"phi must be callable, got {type(phi).__name__}")
    phi0 = check_finite_scalar(phi0, "phi0")
    first = check_scale(first, "first")
    max_evals = check_int(max_evals, "max_evals", minimum=1)
    return _drive(_bracket_steps(phi0, first, max_evals), phi)


def _narrow(lo: float, hi: float, best: float, f_best: float, trial: float, f_trial: float):
    """One golden-section comparison, shared by both line searches: a trial below the best becomes the
    best and the old best bounds the bracket on the far side; otherwise the trial bounds its own side.
    Returns the new ``(lo, hi, best, f_best)``."""
    if f_trial < f_best:
        if trial > best:
            lo = best
        else:
            hi = best
        return lo, hi, trial, f_trial
    if trial > best:
        hi = trial
    elif trial < best:
        lo = trial
    return lo, hi, best, f_best


def _golden_refine_steps(points, values, budget: int, tol: float):
    """Golden-section steps on a bracketing triple, at most ``budget`` evaluations (the book's search),
    as a generator of trial steps (see :func:`_drive`); returns ``(best, f_best, evaluations)``.

    The new point goes into the larger of the two parts of the bracket, a golden fraction of that
    part away from the best point (the textbook rule, which keeps the golden ratio). Stops early
    when the bracket is narrower than ``tol`` or the new value differs from the best by less than
    ``tol``.
    """
    (lo, best, hi), f_best = points, values[1]
    evals = 0
    while evals < budget and hi - lo > tol:
        if hi - best > best - lo:
            trial = best + GOLDEN_FRACTION * (hi - best)
        else:
            trial = best - GOLDEN_FRACTION * (best - lo)
        f_trial = _as_value((yield trial))
        evals += 1
        change = abs(f_trial - f_best)
        lo, hi, best, f_best = _narrow(lo, hi, best, f_best, trial, f_trial)
        if change < tol:
            break
    return best, f_best, evals


def _safeguarded_steps(phi0: float, scale: float, max_bracket_evals: int, max_evals: int, tol: float):
    """The book's search as a generator (see :func:`_drive`): bracket, refine, and never a step that
    does not lower the loss. Returns ``(step, value, reset)``, ``reset`` true when no lower point was
    found (the step is then 0 and the optimizer clears its memory)."""
    points, values, _ = yield from _bracket_steps(phi0, scale, max_bracket_evals)
    if len(points) == 3:
        t, ft, _ = yield from _golden_refine_steps(points, values, max_evals, tol)
    else:
        t, ft = points[0], values[0]
    if not ft < phi0:
        return 0.0, phi0, True
    return t, ft, False


#: The line searches :class:`LBFGSGSS` offers (see its ``line_search``).
LINE_SEARCHES = ("safeguarded", "paper")

#: The golden fraction as Yu and Morozov's code writes it (``0.382``), used by ``line_search="paper"``.
PAPER_GOLDEN_FRACTION = 0.382


def paper_line_search(phi: Callable[[float], float], phi0: float, scale: float, budget: int = 6,
                      tol: float = 1e-4) -> LineSearchResult:
    """The line search of Yu and Morozov's L-BFGS-GSS code, step for step (``line_search="paper"``).

    ``phi(t)`` is the loss at step ``t`` along a unit descent direction, ``phi0 = phi(0)`` and
    ``scale`` the length of the quasi-Newton step (the trials are multiples of it). What the
    authors' search does, and where it differs from :func:`bracket_minimum` with the book's golden
    refinement:

    * **One budget.** ``budget`` evaluations in all, the bracketing trials included (the book gives
      the bracket up to 30 evaluations of its own).
    * **Bracketing.** The first trial is ``0.2 scale``. If it falls, trials go on at ``0.8, 1.6,
      3.2, ... scale`` until one rises; if it rises, trials go to ``lo + 0.382 (hi - lo)``
      (toward 0) until one falls below ``phi0``.
    * **Placement.** In the golden phase the new point is ``lo + 0.382 (hi - lo)`` when the best
      point lies in the left half of the bracket, else ``hi - 0.382 (hi - lo)``: the golden
      points of the whole bracket, not the textbook's golden step inside its larger part.
    * **Stopping.** Before each new point: stop when ``hi - lo`` or the difference of the values
      at the bracket's ends is below ``tol``; a value equal to the best stops the search too.
    * **Ties.** A trial whose value equals its comparison value is answered by one more
      evaluation at the midpoint between the bracket's left end and that trial, returned as it is;
      that evaluation is not counted against the budget (as in the authors' code) but is counted in
      ``evaluations`` here.
    * **No safeguard.** The result may lie uphill of ``phi0``: when the shrinking phase stops on
      its tolerance or its budget it returns the bracket's right end, whatever its value.

    Returns the step, its value and the evaluations used (with the bracket at the end).
    """
    if not callable(phi):
        raise TypeError(f"phi must be callable, got {type(phi).__name__}")
    phi0 = check_finite_scalar(phi0, "phi0")
    scale = check_scale(scale, "scale")
    # at least 2: the expansion checks the budget from its second evaluation on
    budget = check_int(budget, "budget", minimum=2)
    tol = check_positive(tol, "tol")
    return _drive(_paper_steps(phi0, scale, budget, tol), phi)


def _paper_steps(phi0: float, scale: float, budget: int, tol: float):
    """:func:`paper_line_search` as a generator of trial steps (see :func:`_drive`)."""
    g = PAPER_GOLDEN_FRACTION
    # A step tried twice in one search keeps the value it had the first time. The authors' search
    # does try a step twice (the golden phase's first trial can land on the best step) and then
    # stops on the exact tie; evaluated again in a lockstep batch whose members have changed, the
    # same step can differ in its last bit, which would break the tie and the members' equivalence
    # with their solo runs. The repeat still counts as an evaluation, as in the authors' code.
    seen = {0.0: phi0}
    counted = 0
    lo, f_lo = 0.0, phi0
    first = _FIRST_TRIAL * scale
    f_first = seen.setdefault(first, _as_value((yield first)))
    counted += 1
    if f_first == f_lo:
        return (yield from _paper_tie(lo, first, counted))
    if f_first < f_lo:
        best, f_best = first, f_first
        multiple = _SECOND_TRIAL
        while True:  # expand until a trial rises
            trial = multiple * scale
            f_trial = seen.setdefault(trial, _as_value((yield trial)))
            counted += 1
            multiple *= 2.0
            if f_trial < f_best:
                lo, f_lo, best, f_best = best, f_best, trial, f_trial
                if counted == budget:
                    return LineSearchResult(best, f_best, counted, (lo, trial))
            elif f_trial > f_best:
                hi, f_hi = trial, f_trial
                if counted == budget:
                    return LineSearchResult(best, f_best, counted, (lo, hi))
                break
            else:
                return (yield from _paper_tie(lo, trial, counted))
    else:
        hi, f_hi = first, f_first
        while True:  # shrink toward 0 until a trial falls below phi0
            if hi - lo < tol or abs(f_lo - f_hi) < tol:
                return LineSearchResult(hi, f_hi, counted, (lo, hi))
            trial = lo + g * (hi - lo)
            f_trial = seen.setdefault(trial, _as_value((yield trial)))
            counted += 1
            if f_trial < f_lo:
                best, f_best = trial, f_trial
                if counted == budget:
                    return LineSearchResult(best, f_best, counted, (lo, hi))
                break
            if f_trial > f_lo:
                hi, f_hi = trial, f_trial
                if counted == budget:
                    return LineSearchResult(hi, f_hi, counted, (lo, hi))
            else:
                return (yield from _paper_tie(lo, trial, counted))
    while counted != budget:  # the golden phase on (lo, best, hi)
        if hi - lo < tol or abs(f_lo - f_hi) < tol:
            break
        trial = lo + g * (hi - lo) if hi - best > best - lo else hi - g * (hi - lo)
        f_trial = seen.setdefault(trial, _as_value((yield trial)))
        counted += 1
        if f_trial == f_best:
            break
        old_best, old_f = best, f_best
        new_lo, new_hi, best, f_best = _narrow(lo, hi, best, f_best, trial, f_trial)
        # the stop rule compares the values at the bracket's ends: move them with the ends
        if new_lo != lo:
            f_lo = old_f if new_lo == old_best else f_trial
        if new_hi != hi:
            f_hi = old_f if new_hi == old_best else f_trial
        lo, hi = new_lo, new_hi
    return LineSearchResult(best, f_best, counted, (lo, hi))


def _paper_tie(lo: float, trial: float, counted: int):
    """The authors' answer to a tie: one more evaluation at the midpoint, returned as it is."""
    t = 0.5 * (lo + trial)
    value = _as_value((yield t))
    return LineSearchResult(x=t, value=value, evaluations=counted + 1, bracket=(lo, trial))


def line_search_steps(line_search: str, f0: float, scale: float, *, max_evals: int, tol: float,
                      max_bracket_evals: int):
    """The step search of :class:`LBFGSGSS` as a generator: it yields trial steps along the unit
    direction and is sent the loss at each; it returns ``(step, reset)``.

    Written once for the one-member optimizer (which drives it with its closure) and the lockstep
    ensemble trainer (:mod:`ebcore.lockstep`, which drives one per member and evaluates every
    member's pending trial point in one batched call). ``reset`` asks the optimizer to clear its
    curvature memory (the safeguarded search found no lower point).
    """
    if line_search == "paper":
        # the authors' search and their rule: the step it returns is taken, uphill or not
        found = yield from _paper_steps(f0, scale, max_evals, tol)
        return found.x, False
    t, _, reset = yield from _safeguarded_steps(f0, scale, max_bracket_evals, max_evals, tol)
    return t, reset


def _check_pairs(g, s_list, y_list, g_name: str = "g"):
    for name, pairs in (("s_list", s_list), ("y_list", y_list)):
        if not isinstance(pairs, (list, tuple)):
            raise TypeError(f"{name} must be a list of torch tensors, got {type(pairs).__name__}")
    if not isinstance(g, torch.Tensor) or g.ndim != 1 or not g.dtype.is_floating_point:
        raise TypeError(f"{g_name} must be a 1-d floating-point torch tensor")
    if len(s_list) != len(y_list) or not s_list:
        raise ValueError(f"s_list and y_list must be non-empty and of equal length, got {len(s_list)} and {len(y_list)}")
    check_array(g, g_name, ndim=1)
    for i, (s, y) in enumerate(zip(s_list, y_list)):
        check_array(s, f"s_list[{i}]")
        check_array(y, f"y_list[{i}]")
        if s.shape != g.shape or y.shape != g.shape:
            raise ValueError(f"every s and y must have the shape of g {tuple(g.shape)}")
        if s.dtype != g.dtype or y.dtype != g.dtype:
            raise TypeError(f"s_list[{i}] and y_list[{i}] must have the dtype of g ({g.dtype}), "
                            f"got {s.dtype} and {y.dtype}")


@implements("prop-two-loop")
def two_loop_direction(g: torch.Tensor, s_list, y_list, rho_eps: float = 0.0) -> torch.Tensor:
    """``H g`` for the L-BFGS inverse-Hessian approximation, by the two-loop recursion.

    ``H`` is ``gamma I`` (``gamma = s.y / y.y`` of the newest pair) updated by the BFGS formula
    with the pairs ``(s_i, y_i)``, oldest first, with ``rho_i = 1 / (y_i . s_i + rho_eps)``
    (:prf:ref:`prop-two-loop`). Costs ``O(m n)`` for ``m`` pairs in dimension ``n``; the matrix is
    never formed (:func:`dense_inverse_hessian` forms it, for checking).
    """
    _check_pairs(g, s_list, y_list)
    rho_eps = check_nonnegative(rho_eps, "rho_eps")
    rhos = [1.0 / (float(y @ s) + rho_eps) for s, y in zip(s_list, y_list)]
    q = g.clone()
    alphas = []
    for s, y, rho in zip(reversed(s_list), reversed(y_list), reversed(rhos)):
        alpha = rho * float(s @ q)
        q.add_(y, alpha=-alpha)
        alphas.append(alpha)
    s, y = s_list[-1], y_list[-1]
    r = q.mul_(float(s @ y) / float(y @ y))
    for s, y, rho, alpha in zip(s_list, y_list, rhos, reversed(alphas)):
        beta = rho * float(y @ r)
        r.add_(s, alpha=alpha - beta)
    return r


@implements("prop-two-loop")
def dense_inverse_hessian(s_list, y_list, rho_eps: float = 0.0) -> torch.Tensor:
    """The matrix ``H`` of :func:`two_loop_direction`, by applying the BFGS update explicitly.

    ``H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T`` for each pair, oldest first, from
    ``gamma I``. ``O(m n^2)`` memory and ``O(m n^3)`` time: for tests and small examples only.
    """
    if not isinstance(s_list, (list, tuple)) or not s_list:
        raise ValueError("s_list must be a non-empty list of torch tensors")
    g = s_list[0]
    _check_pairs(g, s_list, y_list, g_name="s_list[0]")
    rho_eps = check_nonnegative(rho_eps, "rho_eps")
    n = g.numel()
    eye = torch.eye(n, dtype=g.dtype, device=g.device)
    s, y = s_list[-1], y_list[-1]
    h = eye * (float(s @ y) / float(y @ y))
    for s, y in zip(s_list, y_list):
        rho = 1.0 / (float(y @ s) + rho_eps)
        v = eye - rho * torch.outer(y, s)
        h = v.T @ h @ v + rho * torch.outer(s, s)
    return h


def clear_memory(state: dict) -> None:
    """Forget every curvature pair of an L-BFGS state (the next direction is steepest descent)."""
    state["s"].clear()
    state["y"].clear()


def lbfgs_direction(state: dict, x: torch.Tensor, g: torch.Tensor, history_size: int, rho_eps: float) -> torch.Tensor:
    """The L-BFGS-GSS search direction at ``x`` (gradient ``g``), updating the memory in ``state``.

    ``state`` holds the curvature pairs (``"s"``, ``"y"``, lists, oldest first) and the previous point
    and gradient. The newest pair is added unless its curvature is too small to keep ``H`` positive
    definite (``cos(s, y) < 1e-4`` or ``|s||y| = 0``: the memory is cleared); at most
    ``history_size`` pairs are kept. The direction is ``-H g`` (:func:`two_loop_direction`), or ``-g``
    when the memory is empty or ``-H g`` is not a finite descent direction (the memory is then
    cleared). Shared by :class:`LBFGSGSS` and the lockstep ensemble trainer, one state per member.
    """
    state.setdefault("s", [])
    state.setdefault("y", [])
    if "x_prev" in state:
        s = x - state["x_prev"]
        y = g - state["g_prev"]
        norm_product = float(s.norm() * y.norm())
        if norm_product == 0.0 or float(s @ y) / norm_product < _CURVATURE_COSINE:
            clear_memory(state)
        else:
            state["s"].append(s)
            state["y"].append(y)
            if len(state["s"]) > history_size:
                state["s"].pop(0)
                state["y"].pop(0)
    state["x_prev"], state["g_prev"] = x, g
    if not state["s"]:
        return -g
    p = -two_loop_direction(g, state["s"], state["y"], rho_eps=rho_eps)
    if not bool(torch.isfinite(p).all()) or float(p @ g) >= 0:
        clear_memory(state)  # not a descent direction: start again from steepest descent
        p = -g
    return p


@implements("prop-two-loop", "prop-lbfgs-quadratic")
class LBFGSGSS(torch.optim.Optimizer):
    """Full-batch L-BFGS with a golden-section line search (chapter 9, :prf:ref:`prop-two-loop`).

    Parameters
    ----------
    params : iterable of tensors or parameter groups
        The parameters to optimise (one group; all on one device and of one dtype).
    history_size : int, >= 1
        Number of curvature pairs ``(s, y)`` kept (the paper's ``m = 10``).
    max_evals : int, >= 2
        Budget of loss evaluations for the golden-section refinement of each step (the
        paper's 6). Bracketing has its own cap, ``max_bracket_evals``.
    tol : float, > 0
        The refinement stops when the bracket (in parameter-space distance along the unit
        direction) or the change in loss falls below ``tol`` (the paper's ``1e-4``).
    max_bracket_evals : int, >= 1
        Cap on the evaluations spent bracketing (doubling or shrinking the trial step).
    rho_eps : float, >= 0
        The paper's regulariser in ``rho_i = 1 / (y_i . s_i + rho_eps)`` (default ``1e-6``). Near a
        minimum ``y . s`` falls far below it and the memory fades, so the direction tends to the
        scaled gradient; ``rho_eps=0`` is textbook L-BFGS (chapter 9 measures the difference).
    line_search : {"paper", "safeguarded"}
        ``"paper"`` (the default, the book reproduces the paper) is the search of Yu and Morozov's
        code, :func:`paper_line_search`: ``max_evals`` covers every evaluation, bracketing included,
        and its step is taken whatever the loss does there; ``max_bracket_evals`` is then unused.
        ``"safeguarded"`` is the book's safer variant: it brackets with up to ``max_bracket_evals``
        evaluations of its own, refines by the textbook golden rule with ``max_evals`` more, and
        never takes a step that does not lower the loss (it resets the memory instead). Both share
        one golden-section comparison (``_narrow``).

    ``step(closure)`` takes a closure like :class:`torch.optim.LBFGS`: it zeroes the gradients,
    computes the loss, calls ``backward`` and returns the loss. If the closure accepts a keyword
    argument ``backward``, line-search trial points are evaluated with ``closure(backward=False)``
    under :func:`torch.no_grad` (a forward pass only); otherwise the plain closure is called.
    A non-finite loss at a trial point counts as ``+inf``; a non-finite loss or gradient at the
    current point raises :class:`NonFiniteLossError`. :attr:`evaluations` counts loss and
    gradient evaluations. One call of ``step`` is one L-BFGS iteration (the paper's epoch).
    """

    def __init__(self, params, history_size: int = 10, max_evals: int = 6, tol: float = 1e-4,
                 max_bracket_evals: int = 30, rho_eps: float = _RHO_EPS, line_search: str = "paper"):
        line_search = check_choice(line_search, "line_search", LINE_SEARCHES)
        history_size = check_int(history_size, "history_size", minimum=1)
        max_evals = check_int(max_evals, "max_evals", minimum=2)
        tol = check_positive(tol, "tol")
        max_bracket_evals = check_int(max_bracket_evals, "max_bracket_evals", minimum=1)
        rho_eps = check_nonnegative(rho_eps, "rho_eps")
        defaults = dict(history_size=history_size, max_evals=max_evals, tol=tol,
                        max_bracket_evals=max_bracket_evals, rho_eps=rho_eps, line_search=line_search)
        if isinstance(params, torch.Tensor):
            raise TypeError("params must be an iterable of tensors (e.g. [x] or model.parameters()), got a tensor")
        try:
            super().__init__(params, defaults)
        except (TypeError, ValueError) as exc:
            # torch's own messages do not name the argument
            raise type(exc)(f"params: {exc}") from None
        if len(self.param_groups) != 1:
            raise ValueError("params must form a single parameter group for LBFGSGSS")
        self._params = self.param_groups[0]["params"]
        if not self._params:
            raise ValueError("params must not be empty")
        dtypes = {p.dtype for p in self._params}
        if len(dtypes) != 1 or not next(iter(dtypes)).is_floating_point:
            raise TypeError(f"params must share one floating dtype, got {sorted(map(str, dtypes))}")
        for i, p in enumerate(self._params):
            check_array(p.detach(), f"params[{i}]", nonempty=False)
        self.evaluations = {"loss": 0, "gradient": 0}

    # -- flat views -------------------------------------------------------------------------
    def _flat_params(self) -> torch.Tensor:
        return flat_concat(self._params, finite=False)  # step() tests the loss and gradient itself

    def _flat_grad(self) -> torch.Tensor:
        return flat_concat((p.grad if p.grad is not None else torch.zeros_like(p) for p in self._params),
                           finite=False)

    @torch.no_grad()
    def _set_params(self, flat: torch.Tensor) -> None:
        offset = 0
        for p in self._params:
            n = p.numel()
            p.copy_(flat[offset:offset + n].view_as(p))
            offset += n

    @staticmethod
    def _scalar_loss(loss, where: str) -> float:
        if not isinstance(loss, torch.Tensor) and not isinstance(loss, (float, int)):
            raise TypeError(f"closure must return the loss as a scalar tensor, got {type(loss).__name__} ({where})")
        if isinstance(loss, torch.Tensor) and loss.numel() != 1:
            raise ValueError(f"closure must return a scalar loss, got shape {tuple(loss.shape)} ({where})")
        return float(loss)

    # -- the algorithm ----------------------------------------------------------------------
    def _loss_along(self, closure, x: torch.Tensor, direction: torch.Tensor) -> Callable[[float], float]:
        """``phi(t)``: the loss at ``x + t direction``, evaluated without a gradient where the closure allows."""
        takes_backward = "backward" in inspect.signature(closure).parameters

        def phi(t: float) -> float:
            trial = x + t * direction
            if not bool(torch.isfinite(trial).all()):
                # A step so long that the parameters overflow: read as an infinite loss ("step
                # back") without asking the objective, which may refuse non-finite inputs.
                return math.inf
            self._set_params(trial)
            self.evaluations["loss"] += 1
            try:
                if takes_backward:
                    value = closure(backward=False)
                else:
                    with torch.enable_grad():
                        value = closure()
                    self.evaluations["gradient"] += 1
            except NonFiniteLossError:
                # The objective diverges at this trial point (e.g. a network whose outputs
                # overflow): the search steps back, as from any infinite value.
                return math.inf
            return self._scalar_loss(value, "at a line-search trial point")

        return phi

    @torch.no_grad()
    def step(self, closure=None):
        """One iteration: the two-loop direction, then a bracket and golden-section search along it."""
        if closure is None or not callable(closure):
            raise TypeError("closure must be a callable that zeroes gradients, computes the loss, "
                            "calls backward and returns the loss")
        group = self.param_groups[0]
        state = self.state[self._params[0]]
        state.setdefault("s", [])
        state.setdefault("y", [])

        with torch.enable_grad():
            loss = closure()
        f0 = self._scalar_loss(loss, "at the current point")
        self.evaluations["loss"] += 1
        self.evaluations["gradient"] += 1
        x = self._flat_params()
        g = self._flat_grad()
        if not math.isfinite(f0):
            raise NonFiniteLossError(f"closure returned a non-finite loss ({f0}) at the current point")
        if not bool(torch.isfinite(g).all()):
            raise NonFiniteLossError("the gradient at the current point contains NaN or infinity")
        p = lbfgs_direction(state, x, g, group["history_size"], group["rho_eps"])
        p_norm = float(p.norm())
        if p_norm == 0.0:
            return loss
        direction = p / p_norm
        steps = line_search_steps(group["line_search"], f0, p_norm, max_evals=group["max_evals"], tol=group["tol"],
                                  max_bracket_evals=group["max_bracket_evals"])
        t, reset = _drive(steps, self._loss_along(closure, x, direction))
        if reset:
            clear_memory(state)
        self._set_params(x + t * direction)
        return loss


@dataclass(frozen=True)
class MinimizeTrace:
    """Loss after every iteration (index 0: the start) and the evaluations an optimizer used.

    ``iterations`` is the first iteration whose loss is below ``target`` (``None`` if never);
    ``loss_evaluations`` and ``gradient_evaluations`` count calls up to that iteration.
    """

    losses: np.ndarray
    iterations: int | None
    loss_evaluations: int
    gradient_evaluations: int
    x: np.ndarray


def ill_conditioned_quadratic(dim: int, condition: float):
    """``f(x) = x^T A x / 2`` with eigenvalues log-spaced from 1 to ``condition`` (minimum 0 at 0).

    Parameters
    ----------
    dim : int >= 1
        The dimension.
    condition : float >= 1
        The condition number of :math:`A` (its largest eigenvalue; the smallest is 1).

    Returns
    -------
    callable
        ``f``: a float64 torch vector ``(dim,)`` to a 0-d tensor, differentiable.

    Raises
    ------
    TypeError
        If ``dim`` is not an integer, or ``condition`` is not a real number.
    ValueError
        If ``dim < 1``, or ``condition`` is not finite or below 1.
    """
    dim = check_int(dim, "dim", minimum=1)
    condition = check_positive(condition, "condition")
    if condition < 1:
        raise ValueError(f"condition must be >= 1, got {condition}")
    eigenvalues = torch.logspace(0.0, math.log10(condition), dim, dtype=torch.float64)

    def f(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (eigenvalues * x * x).sum()

    return f


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    """Rosenbrock's function ``sum (1 - x_i)^2 + 100 (x_{i+1} - x_i^2)^2`` (minimum 0 at ones).

    ``x`` must be finite (:class:`LBFGSGSS` never evaluates a trial point with a non-finite entry).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch tensor, got {type(x).__name__}")
    check_array(x, "x", ndim=1)
    return ((1 - x[:-1]) ** 2 + 100.0 * (x[1:] - x[:-1] ** 2) ** 2).sum()


def pytorch_lbfgs(params, **options) -> torch.optim.LBFGS:
    """PyTorch's L-BFGS with the strong-Wolfe line search, the book's one set-up of it.

    Its gradient and change tolerances are switched off, so it stops only at its iteration cap
    ``max_iter`` (per ``step``) and evaluation cap ``max_eval``: the comparisons with
    :class:`LBFGSGSS` count iterations and evaluations to a target, which a tolerance would cut
    short. ``options`` go to :class:`torch.optim.LBFGS` (``history_size``, ``max_iter``,
    ``max_eval``, ``lr``). PyTorch's default ``max_eval`` is ``1.25 * max_iter``; with
    ``max_iter=1`` that is one evaluation, which ends every line search at its first trial, so
    callers that take one iteration per step pass ``max_eval`` themselves (:func:`minimize`: 30).
    """
    unknown = sorted(set(options) - {"history_size", "max_iter", "max_eval", "lr"})
    if unknown:
        raise TypeError(f"pytorch_lbfgs takes history_size, max_iter, max_eval and lr, got {unknown}")
    for name in ("history_size", "max_iter", "max_eval"):
        if name in options:
            options[name] = check_int(options[name], name, minimum=1)
    if "lr" in options:
        options["lr"] = check_positive(options["lr"], "lr")
    if isinstance(params, torch.Tensor):
        raise TypeError("params must be an iterable of tensors (e.g. [x] or model.parameters()), got a tensor")
    try:
        return torch.optim.LBFGS(params, line_search_fn="strong_wolfe", tolerance_grad=0.0, tolerance_change=0.0,
                                 **options)
    except (TypeError, ValueError) as exc:  # torch's messages do not name the argument
        raise type(exc)(f"params: {exc}") from None


def minimize(f: Callable, x0, *, target: float = 1e-8, max_iters: int = 1000, method: str = "lbfgs_gss",
             **options) -> MinimizeTrace:
    """Minimise a differentiable ``f`` (torch, one vector argument) from ``x0`` until ``f < target``.

    ``method="lbfgs_gss"`` runs :class:`LBFGSGSS` (``options`` go to it); ``"torch_lbfgs"`` runs
    :class:`torch.optim.LBFGS` with the strong-Wolfe line search, one iteration per step.
    Computation is in float64.
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if not isinstance(x0, (torch.Tensor, np.ndarray)):
        raise TypeError(f"x0 must be a numpy array or a torch tensor, got {type(x0).__name__}")
    x0 = torch.from_numpy(as_float_array(x0, "x0"))
    if x0.ndim != 1 or x0.numel() == 0 or not bool(torch.isfinite(x0).all()):
        raise ValueError(f"x0 must be a non-empty finite vector, got shape {tuple(x0.shape)}")
    target = check_positive(target, "target")
    max_iters = check_int(max_iters, "max_iters", minimum=1)
    if method not in ("lbfgs_gss", "torch_lbfgs"):
        raise ValueError(f"method must be 'lbfgs_gss' or 'torch_lbfgs', got {method!r}")
    x = torch.nn.Parameter(x0.clone())
    counts = {"loss": 0, "gradient": 0}
    if method == "lbfgs_gss":
        optimizer = LBFGSGSS([x], **options)
    else:
        options.setdefault("max_eval", 30)  # one iteration per step: see pytorch_lbfgs
        optimizer = pytorch_lbfgs([x], max_iter=1, **options)

    def closure(backward: bool = True):
        optimizer.zero_grad()
        value = f(x)
        counts["loss"] += 1
        if backward:
            value.backward()
            counts["gradient"] += 1
        return value

    losses = [float(f(x.detach()))]
    reached = None
    for iteration in range(1, max_iters + 1):
        optimizer.step(closure)
        losses.append(float(f(x.detach())))
        if not math.isfinite(losses[-1]):
            raise NonFiniteLossError(f"the loss became non-finite at iteration {iteration}")
        if losses[-1] < target:
            reached = iteration
            break
    return MinimizeTrace(losses=np.asarray(losses), iterations=reached, loss_evaluations=counts["loss"],
                         gradient_evaluations=counts["gradient"], x=x.detach().numpy().copy())


def _quadratic_inputs(matrix, rhs, x0, iterations, exact):
    """Checked ``A``, ``b``, ``x0`` (float64, or as exact fractions) and the iteration count."""
    from fractions import Fraction

    a = as_float_array(matrix, "matrix")
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise ValueError(f"matrix must be a non-empty square matrix, got shape {a.shape}")
    check_array(a, "matrix")
    if not np.array_equal(a, a.T):
        raise ValueError("matrix must be symmetric")
    if np.linalg.eigvalsh(a).min() <= 0:
        raise ValueError("matrix must be positive definite")
    vectors = []
    for name, v in (("rhs", rhs), ("x0", x0)):
        v = as_float_array(v, name)
        if v.shape != (a.shape[0],):
            raise ValueError(f"{name} must have shape ({a.shape[0]},), got {v.shape}")
        check_array(v, name)
        vectors.append(v)
    iterations = check_int(iterations, "iterations", minimum=0)
    if not isinstance(exact, bool):
        raise TypeError(f"exact must be a bool, got {type(exact).__name__}")
    if exact:  # every float is a rational number: Fraction(x) is exactly x
        to_fraction = np.vectorize(Fraction, otypes=[object])
        a, vectors = to_fraction(a), [to_fraction(v) for v in vectors]
    return a, vectors[0], vectors[1], iterations


def _as_iterates(points) -> np.ndarray:
    return np.array([[float(v) for v in x] for x in points], dtype=np.float64)


@implements("prop-lbfgs-quadratic")
def exact_search_lbfgs(matrix, rhs, x0, memory: int, iterations: int, *, exact: bool = False) -> np.ndarray:
    """L-BFGS with exact line searches on ``f(x) = x^T A x / 2 - b^T x``: the setting of
    :prf:ref:`prop-lbfgs-quadratic`.

    The direction is the two-loop recursion of the newest ``memory`` pairs with exact
    ``rho_i = 1 / (y_i^T s_i)`` and ``H^0 = (s^T y / y^T y) I`` (no regulariser, no safeguard: on a
    positive definite quadratic every pair has ``y^T s > 0``); the step is the exact minimiser along it,
    ``t = -g^T d / d^T A d``. With ``exact=True`` the arithmetic is rational (``fractions.Fraction``,
    the inputs' float values taken exactly) and the run stops at the first iterate whose gradient is
    exactly zero, so the number of rows tells where it terminated.

    Parameters
    ----------
    matrix : array_like, shape (n, n)
        ``A``, symmetric positive definite.
    rhs, x0 : array_like, shape (n,)
        ``b`` and the starting point.
    memory : int >= 1
        Curvature pairs kept.
    iterations : int >= 0
        The most iterations.
    exact : bool
        Rational arithmetic (slow: small ``n`` only) instead of float64.

    Returns
    -------
    numpy.ndarray, shape (k + 1, n)
        The iterates ``x_0, ..., x_k`` (rounded to float64 when ``exact``).

    Raises
    ------
    TypeError
        If an array is not real numbers, ``memory`` or ``iterations`` is not an integer, or ``exact`` is
        not a bool.
    ValueError
        If ``matrix`` is not square, symmetric and positive definite, ``rhs`` or ``x0`` does not match
        it, an entry is not finite, ``memory < 1`` or ``iterations < 0``.
    """
    a, b, x, iterations = _quadratic_inputs(matrix, rhs, x0, iterations, exact)
    memory = check_int(memory, "memory", minimum=1)
    g = a @ x - b
    pairs = []
    points = [x]
    for _ in range(iterations):
        if exact and not any(g):
            break
        q, alphas = g, []
        for s, y in reversed(pairs):
            alpha = (s @ q) / (y @ s)
            q = q - alpha * y
            alphas.append(alpha)
        if pairs:
            s, y = pairs[-1]
            q = q * ((s @ y) / (y @ y))
        for (s, y), alpha in zip(pairs, reversed(alphas)):
            q = q + s * (alpha - (y @ q) / (y @ s))
        d = -q
        curvature = d @ (a @ d)
        if not curvature > 0:  # float64 only: the gradient has vanished to round-off
            break
        x_new = x + (-(g @ d) / curvature) * d
        g_new = a @ x_new - b
        s_new, y_new = x_new - x, g_new - g
        if not s_new @ y_new > 0:  # float64 only: a step lost to round-off carries no curvature
            break
        pairs.append((s_new, y_new))
        if len(pairs) > memory:
            pairs.pop(0)
        x, g = x_new, g_new
        points.append(x)
    return _as_iterates(points)


@implements("prop-lbfgs-quadratic")
def conjugate_gradient(matrix, rhs, x0, iterations: int, *, exact: bool = False) -> np.ndarray:
    """The conjugate-gradient iterates for ``A x = b`` (the minimiser of ``x^T A x / 2 - b^T x``).

    Textbook CG (Fletcher-Reeves form, which equals Hestenes-Stiefel on a quadratic with exact steps),
    for comparison with :func:`exact_search_lbfgs`; the same arguments, checks and ``exact`` mode.

    Parameters
    ----------
    matrix : array_like, shape (n, n)
        ``A``, symmetric positive definite.
    rhs, x0 : array_like, shape (n,)
        ``b`` and the starting point.
    iterations : int >= 0
        The most iterations.
    exact : bool
        Rational arithmetic, stopping at an exactly zero residual.

    Returns
    -------
    numpy.ndarray, shape (k + 1, n)
        The iterates.

    Raises
    ------
    TypeError
        If an array is not real numbers, ``iterations`` is not an integer, or ``exact`` is not a bool.
    ValueError
        If ``matrix`` is not square, symmetric and positive definite, ``rhs`` or ``x0`` does not match
        it, an entry is not finite, or ``iterations < 0``.
    """
    a, b, x, iterations = _quadratic_inputs(matrix, rhs, x0, iterations, exact)
    r = b - a @ x
    p = r
    points = [x]
    for _ in range(iterations):
        if exact and not any(r):
            break
        ap = a @ p
        curvature = p @ ap
        if not curvature > 0:
            break
        step = (r @ r) / curvature
        x = x + step * p
        r_new = r - step * ap
        p = r_new + ((r_new @ r_new) / (r @ r)) * p
        r = r_new
        points.append(x)
    return _as_iterates(points)


def _iteration_count(problem, rho_eps, tol, target, max_iters, setting):
    """Iterations and evaluations of one (memory, budget) setting of :func:`lbfgs_iteration_counts`
    (NaN, NaN if ``max_iters`` was not enough)."""
    history_size, budget = setting
    if problem == "quadratic":
        f, x0 = ill_conditioned_quadratic(50, 1e3), torch.ones(50, dtype=torch.float64)
    else:
        f, x0 = rosenbrock, torch.tensor([-1.2, 1.0], dtype=torch.float64)
    trace = minimize(f, x0, target=target, max_iters=max_iters, history_size=history_size, max_evals=budget,
                     tol=tol, rho_eps=rho_eps)
    if trace.iterations is None:
        return math.nan, math.nan
    return float(trace.iterations), float(trace.loss_evaluations)


@implements("prop-lbfgs-quadratic")
def lbfgs_iteration_counts(problem: str, histories, budgets, *, rho_eps: float = _RHO_EPS, tol: float = 1e-4,
                           target: float = 1e-8, max_iters: int = 5000):
    """Iterations and loss evaluations of :class:`LBFGSGSS` to reach ``f < target``.

    ``problem`` is ``"quadratic"`` (dimension 50, condition number 1000, from the ones vector) or
    ``"rosenbrock"`` (two dimensions, from ``(-1.2, 1)``). Returns two ``(len(histories),
    len(budgets))`` float arrays (NaN where ``max_iters`` was not enough): iterations and loss
    evaluations, for each memory size and line-search budget ``max_evals``.

    Parameters
    ----------
    problem : str
        ``"quadratic"`` or ``"rosenbrock"``.
    histories : iterable of int
        The memory sizes ``history_size`` to try, each >= 1.
    budgets : iterable of int
        The line-search budgets ``max_evals`` to try, each >= 2.
    rho_eps : float >= 0
        The optimizer's curvature regulariser (see :class:`LBFGSGSS`).
    tol : float > 0
        The optimizer's line-search tolerance.
    target : float > 0
        The loss to reach.
    max_iters : int >= 1
        The most iterations per run.

    Returns
    -------
    iterations : numpy.ndarray, shape (len(histories), len(budgets))
        Iterations to reach ``target`` (NaN where not reached).
    evaluations : numpy.ndarray, shape (len(histories), len(budgets))
        Loss evaluations up to that iteration (NaN where not reached).

    Raises
    ------
    TypeError
        If a memory size or budget is not an integer, or ``rho_eps``, ``tol`` or ``target`` is not a
        real number, or ``max_iters`` is not an integer.
    ValueError
        If ``problem`` is unknown, a memory size is below 1 or a budget below 2, ``rho_eps`` is
        negative, ``tol`` or ``target`` is not a finite number > 0, or ``max_iters < 1``.
    """
    if problem not in ("quadratic", "rosenbrock"):
        raise ValueError(f"problem must be 'quadratic' or 'rosenbrock', got {problem!r}")
    histories = [check_int(m, "histories", minimum=1) for m in histories]
    budgets = [check_int(b, "budgets", minimum=2) for b in budgets]
    rho_eps = check_nonnegative(rho_eps, "rho_eps")
    tol, target = check_positive(tol, "tol"), check_positive(target, "target")
    max_iters = check_int(max_iters, "max_iters", minimum=1)
    from .parallel import parallel_map

    settings = [(m, budget) for m in histories for budget in budgets]
    run = functools.partial(_iteration_count, problem, rho_eps, tol, target, max_iters)
    counts = parallel_map(run, settings, progress=False)  # independent runs, one process per core
    iterations = np.array([c[0] for c in counts], dtype=np.float64).reshape(len(histories), len(budgets))
    evaluations = np.array([c[1] for c in counts], dtype=np.float64).reshape(len(histories), len(budgets))
    return iterations, evaluations
