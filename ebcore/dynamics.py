r"""Stage 1 and Stage 2 of the attention-only denoiser: tokens as interacting particles.

Stage 1 ({prf:ref}`thm-energy-descent`): each layer moves every token toward the kernel posterior
mean of the current tokens, :math:`p_i \leftarrow p_i + \eta\,(A_h(p_i) - p_i)`, the keys and values
being all current tokens (itself included). Stage 2 ({prf:ref}`thm-stage-two`): the noisy input,
carried by a long skip connection, is the query of one posterior-mean step over the refined tokens.

One layer advances continuous time by :math:`\eta h^2` ({prf:ref}`prop-continuous-limit`):
:func:`flow_time` and :func:`flow_depth` convert.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .arrays import to_torch
from .kernel import chunk_rows, needs_differences, pairwise_squared_distances, posterior_mean, smoothed_log_density
from .registry import implements
from .validation import (
    SCALE_RANGE,
    check_array,
    check_fraction,
    check_grid,
    check_int,
    check_nonnegative,
    check_positive,
    check_scale,
)

__all__ = ["particle_flow", "energy", "query_energy", "two_stage_denoise", "flow_time", "flow_depth",
           "stage_one_velocity", "euler_error_against_ode", "two_stage_sweep"]


def _check_tokens(tokens, name="tokens"):
    check_array(tokens, name, ndim=(2, 3))
    if tokens.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} must be float32 or float64, got {tokens.dtype}")
    return tokens


@implements("thm-energy-descent", "prop-preconditioned-gradient", "prop-convex-hull", "conj-mean-field")
def particle_flow(tokens, bandwidth, step, depth, return_trajectory: bool = False, weights=None):
    r"""Stage 1: ``depth`` residual attention layers on the tokens themselves.

    Parameters
    ----------
    tokens : numpy.ndarray or torch.Tensor, shape (N, n) or (B, N, n)
        Initial tokens (B independent contexts when batched), float32 or float64.
    bandwidth : float > 0
        Kernel bandwidth :math:`h`.
    step : float >= 0
        Residual step :math:`\eta`; :func:`energy` is non-increasing for :math:`0 \le \eta \le 2`
        ({prf:ref}`thm-energy-descent`).
    depth : int >= 0
        Number of layers.
    return_trajectory : bool
        Return the whole trajectory, shape ``(depth + 1, N, n)`` (``(depth + 1, B, N, n)``
        batched), instead of the final tokens.
    weights : numpy.ndarray or torch.Tensor, shape (N,) or (B, N), optional
        Non-negative token weights with a positive sum (uniform, the empirical measure, if omitted).
        Each layer moves the points and leaves their weights with them, so a weighted measure flows
        as its push-forward: with the nodes and weights of a quadrature rule for a law, this is the
        population flow of that law, up to the rule's error.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        The tokens after ``depth`` layers, shaped like ``tokens`` (or the trajectory, see
        ``return_trajectory``), of the caller's type (numpy or torch).

    Raises
    ------
    TypeError
        If ``tokens`` is not a numpy array or torch tensor of dtype float32 or float64, or
        ``bandwidth``, ``step`` or ``depth`` is not a number (``depth`` not an integer).
    ValueError
        If ``tokens`` is not 2-D or 3-D, is empty or holds a non-finite value, ``bandwidth`` is not a
        finite number in ``[1e-150, 1e150]``, ``step`` is negative, not finite or above ``1e150``, or
        ``depth`` is negative, or ``weights`` does not match the tokens, has a negative entry or sums
        to zero.

    Notes
    -----
    Cost :math:`O(\text{depth}\, N^2 n)`, at the speed of :func:`ebcore.kernel.posterior_mean`.
    """
    (p, w), back = to_torch(tokens=tokens, weights=weights)
    _check_tokens(p)
    h = check_scale(bandwidth, "bandwidth")
    eta = check_nonnegative(step, "step")
    if eta > SCALE_RANGE[1]:
        raise ValueError(f"step must be at most {SCALE_RANGE[1]:g} (the flow overflows beyond), got {eta!r}")
    layers = check_int(depth, "depth", minimum=0)
    trajectory = [p] if return_trajectory else None
    if w is not None and layers == 0:  # no layer would check them (posterior_mean does)
        posterior_mean(p[..., :1, :], p, h, weights=w)
    for _ in range(layers):
        p = p + eta * (posterior_mean(p, p, h, weights=w) - p)
        if return_trajectory:
            trajectory.append(p)
    if return_trajectory:
        return back(torch.stack(trajectory))
    return back(p)


@implements("thm-energy-descent", "prop-preconditioned-gradient")
def energy(tokens, bandwidth):
    r"""The configuration energy that Stage 1 descends ({prf:ref}`thm-energy-descent`):

    .. math:: E_h(p_1..p_N) = -h^2 \log\Bigl(\frac{1}{N^2}\sum_{i,j} e^{-|p_i - p_j|^2/2h^2}\Bigr) \ge 0,

    :math:`h^2` times the quadratic Renyi entropy of the smoothed empirical measure up to a constant.

    Parameters
    ----------
    tokens : numpy.ndarray or torch.Tensor, shape (N, n) or (B, N, n)
        The tokens :math:`p_i`, float32 or float64 (B independent contexts when batched).
    bandwidth : float > 0
        Kernel bandwidth :math:`h`.

    Returns
    -------
    float array or tensor, shape () or (B,)
        The energy: a scalar (0-d), or one per context for batched tokens, of the caller's type.

    Raises
    ------
    TypeError
        If ``tokens`` is not a numpy array or torch tensor of dtype float32 or float64, or
        ``bandwidth`` is not a real number.
    ValueError
        If ``tokens`` is not 2-D or 3-D, is empty or holds a non-finite value, or ``bandwidth`` is not
        a finite number in ``[1e-150, 1e150]``.
    """
    (p,), back = to_torch(tokens=tokens)
    _check_tokens(p)
    h = check_scale(bandwidth, "bandwidth")
    batched = p.ndim == 3
    if not batched:
        p = p.unsqueeze(0)
    n = p.shape[1]
    c = p.mean(dim=1, keepdim=True)
    differences = needs_differences(p - c, p - c, 1.0 / (h * h))
    if not differences:  # centring helps the inner-product form; differences use the coordinates as given
        p = p - c
    rows = chunk_rows(n * (p.shape[-1] if differences else 1), p.shape[0], p.element_size(), p.device)
    pieces = [torch.logsumexp(-pairwise_squared_distances(p[:, s:s + rows], p, differences).reshape(p.shape[0], -1)
                              / (2 * h * h), dim=1) for s in range(0, n, rows)]
    log_mean_kernel = torch.logsumexp(torch.stack(pieces, dim=1), dim=1) - 2 * math.log(n)
    out = -h * h * log_mean_kernel
    return back(out if batched else out.squeeze(0))


@implements("prop-query-energy")
def query_energy(z, tokens, bandwidth):
    r"""The landscape a query sees: :math:`E_q(z) = -h^2 \log \sum_j e^{-|z - p_j|^2/2h^2}`.

    One attention step is an exact unit gradient step on it,
    :math:`A_h(z) = z - \nabla E_q(z)` ({prf:ref}`prop-query-energy`).

    Parameters
    ----------
    z : numpy.ndarray or torch.Tensor, shape (M, n) or (B, M, n)
        The query points, floating point.
    tokens : numpy.ndarray or torch.Tensor, shape (N, n) or (B, N, n)
        The tokens :math:`p_j`, float32 or float64, batched like ``z``.
    bandwidth : float > 0
        Kernel bandwidth :math:`h`.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (M,) or (B, M)
        :math:`E_q` at each query, of the caller's type (numpy or torch).

    Raises
    ------
    TypeError
        If ``z`` or ``tokens`` is not a floating-point numpy array or torch tensor (``tokens``
        float32 or float64), if numpy and torch inputs are mixed, or if ``bandwidth`` is not a real
        number.
    ValueError
        If ``z`` or ``tokens`` is not 2-D or 3-D, is empty or holds a non-finite value, if one is
        batched and the other not, if their dimensions or batch sizes disagree, or if ``bandwidth`` is
        not a finite number in ``[1e-150, 1e150]``.
    """
    (q, p), back = to_torch(z=z, tokens=tokens)
    h = check_scale(bandwidth, "bandwidth")
    check_array(q, "z", ndim=(2, 3))
    _check_tokens(p)
    if q.ndim != p.ndim:
        raise ValueError(f"z and tokens must both be unbatched (2-D) or both batched (3-D); got {q.ndim}-D and "
                         f"{p.ndim}-D")
    log_density = smoothed_log_density(q, p, h)  # validates shapes
    d = q.shape[-1]
    n = p.shape[-2]
    const = math.log(n) + 0.5 * d * math.log(2 * math.pi * h * h)
    return back(-h * h * (log_density + const))


@implements("thm-stage-two", "prop-depth-zero-bias", "thm-gaussian-recovery", "prop-theory-setting")
def two_stage_denoise(noisy_tokens, bandwidth, step, depth, query_bandwidth):
    r"""Stage 1 on the noisy tokens, then Stage 2 against the refined tokens.

    Returns :math:`A_{h_q}(y_i;\, p^{(L)}_{1..N})` for every noisy token :math:`y_i`: the posterior
    mean of a point of the refined particle cloud observed through noise of level ``query_bandwidth``
    (:math:`h_q`; the theory sets it to the noise level :math:`\sigma`, {prf:ref}`thm-stage-two`).

    Parameters
    ----------
    noisy_tokens : numpy.ndarray or torch.Tensor, shape (N, n) or (B, N, n)
        The noisy tokens :math:`y_i`, float32 or float64 (B independent contexts when batched).
    bandwidth : float > 0
        Stage 1's kernel bandwidth :math:`h`.
    step : float >= 0
        Stage 1's residual step :math:`\eta`.
    depth : int >= 0
        Stage 1's number of layers :math:`L` (0: Stage 2 against the noisy tokens themselves).
    query_bandwidth : float > 0
        Stage 2's bandwidth :math:`h_q`.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        The denoised tokens, shaped like ``noisy_tokens``, of the caller's type (numpy or torch).

    Raises
    ------
    TypeError
        If ``noisy_tokens`` is not a numpy array or torch tensor of dtype float32 or float64, or a
        scalar argument is not a number (``depth`` not an integer).
    ValueError
        If ``noisy_tokens`` is not 2-D or 3-D, is empty or holds a non-finite value, ``bandwidth`` or
        ``query_bandwidth`` is not a finite number in ``[1e-150, 1e150]``, ``step`` is negative or not
        finite, or ``depth`` is negative.
    """
    (y,), back = to_torch(noisy_tokens=noisy_tokens)
    _check_tokens(y, "noisy_tokens")
    hq = check_scale(query_bandwidth, "query_bandwidth")
    refined = particle_flow(y, bandwidth, step, depth)
    return back(posterior_mean(y, refined, hq))


@implements("prop-continuous-limit")
def flow_time(step, bandwidth, depth) -> float:
    r"""Continuous time reached after ``depth`` layers: :math:`t = \text{depth}\cdot\eta h^2`.

    Parameters
    ----------
    step : float > 0
        The residual step :math:`\eta`.
    bandwidth : float > 0
        The kernel bandwidth :math:`h`.
    depth : int >= 0
        The number of layers.

    Returns
    -------
    float
        The continuous time :math:`t`.

    Raises
    ------
    TypeError
        If ``step`` or ``bandwidth`` is not a real number, or ``depth`` is not an integer.
    ValueError
        If ``step`` is not a finite number > 0, ``bandwidth`` is not a finite number in
        ``[1e-150, 1e150]``, or ``depth`` is negative.
    """
    eta = check_positive(step, "step")
    h = check_scale(bandwidth, "bandwidth")
    layers = check_int(depth, "depth", minimum=0)
    return layers * eta * h * h


#: The most layers :func:`flow_depth` returns and :func:`euler_error_against_ode` runs for one step
#: size. A depth beyond it is a mistake in the arguments, not a flow.
MAX_LAYERS = 10**6


@implements("prop-continuous-limit")
def flow_depth(step, bandwidth, time) -> int:
    r"""Layers needed to reach continuous time ``time``: :math:`t / (\eta h^2)` rounded to the nearest
    integer (halves round up), so ``flow_time(step, h, flow_depth(step, h, t))`` is within half a
    layer, :math:`\eta h^2/2`, of ``t``.

    Parameters
    ----------
    step : float > 0
        The residual step :math:`\eta`.
    bandwidth : float > 0
        The kernel bandwidth :math:`h`.
    time : float >= 0
        The continuous time :math:`t` to reach.

    Returns
    -------
    int
        The number of layers.

    Raises
    ------
    TypeError
        If ``step``, ``bandwidth`` or ``time`` is not a real number.
    ValueError
        If ``step`` is not a finite number > 0, ``bandwidth`` is not a finite number in
        ``[1e-150, 1e150]``, ``time`` is negative or not finite, or the depth would exceed
        ``MAX_LAYERS`` (``10**6``).
    """
    eta = check_positive(step, "step")
    h = check_scale(bandwidth, "bandwidth")
    t = check_nonnegative(time, "time")
    unit = eta * h * h  # continuous time per layer
    layers = t / unit if unit > 0 else math.inf
    if not layers <= MAX_LAYERS:
        raise ValueError(f"time / (step * bandwidth**2) must be at most {MAX_LAYERS:g} layers, got {layers:.3g} "
                         f"(time={t!r}, step={eta!r}, bandwidth={h!r})")
    return int(math.floor(layers + 0.5))


def stage_one_velocity(tokens, bandwidth):
    r"""The Stage 1 ODE's velocity :math:`(A_h(p_i) - p_i)/h^2 = \nabla\log(\mu_N * \varphi_h)(p_i)`."""
    (p,), back = to_torch(tokens=tokens)
    _check_tokens(p)
    h = check_scale(bandwidth, "bandwidth")
    return back((posterior_mean(p, p, h) - p) / (h * h))



@implements("prop-continuous-limit")
def euler_error_against_ode(tokens, bandwidth, steps, time, rtol: float = 1e-11):
    r"""RMS distance at ``time`` between Stage 1 layers and the ODE of {prf:ref}`prop-continuous-limit`.

    The ODE is solved by scipy's DOP853 (eighth order, tolerance ``rtol``); for each step size the
    flow runs :func:`flow_depth` layers, and ``time`` must be a whole number of layers for each step.

    Parameters
    ----------
    tokens : numpy.ndarray, shape (N, n)
        The initial tokens, floating point (numpy only).
    bandwidth : float > 0
        The kernel bandwidth :math:`h`.
    steps : array_like of float, shape (K,)
        The residual steps :math:`\eta` to compare, each > 0.
    time : float > 0
        The continuous time at which the distances are taken.
    rtol : float, 0 < rtol < 1
        The ODE solver's relative tolerance (its absolute tolerance is ``rtol / 10``).

    Returns
    -------
    numpy.ndarray, shape (K,)
        One RMS error per step (float64).

    Raises
    ------
    TypeError
        If ``tokens`` is not a floating-point numpy array, ``steps`` is not real numbers, or
        ``bandwidth``, ``time`` or ``rtol`` is not a real number.
    ValueError
        If ``tokens`` is not 2-D, is empty or holds a non-finite value, ``bandwidth`` is not a finite
        number in ``[1e-150, 1e150]``, ``time`` is not a finite number > 0, ``rtol`` is outside
        ``(0, 1)``, ``steps`` is not a non-empty 1-D list of finite positive numbers, the smallest step
        would need more than ``MAX_LAYERS`` layers, or ``time`` is not a whole number of layers for
        some step.
    """
    from scipy.integrate import solve_ivp

    check_array(tokens, "tokens", ndim=2)
    if not isinstance(tokens, np.ndarray):
        raise TypeError("tokens must be a numpy array here")
    h = check_scale(bandwidth, "bandwidth")
    t_end = check_positive(time, "time")
    rtol = check_fraction(rtol, "rtol")
    steps = check_grid(steps, "steps")
    most = t_end / (steps.min() * h * h)
    if not most <= MAX_LAYERS:
        raise ValueError(f"time, steps, bandwidth: the flow would need {most:.3g} layers, more than "
                         f"MAX_LAYERS = {MAX_LAYERS}; lower time or raise the steps")
    shape = tokens.shape
    rhs = lambda _t, flat: stage_one_velocity(flat.reshape(shape), h).ravel()
    solution = solve_ivp(rhs, (0.0, t_end), tokens.astype(np.float64).ravel(), method="DOP853",
                         rtol=rtol, atol=rtol * 0.1)
    reference = solution.y[:, -1].reshape(shape)
    errors = []
    for eta in steps:
        layers = flow_depth(eta, h, t_end)
        if abs(flow_time(eta, h, layers) - t_end) > 1e-9 * t_end:
            raise ValueError(f"time {t_end} is not a whole number of layers for step {eta}")
        out = particle_flow(tokens.astype(np.float64), h, eta, layers)
        errors.append(np.sqrt(((out - reference) ** 2).sum(-1).mean()))
    return np.array(errors)


@implements("thm-stage-two")
def two_stage_sweep(noisy_tokens, bandwidth, step, depth, query_bandwidth):
    r"""Stage 1 trajectory and the Stage 2 output at *every* depth ``0..depth``, in batched calls.

    Returns ``(trajectory, outputs)``, both shaped ``(depth + 1, N, n)`` (``(depth + 1, B, N, n)``
    batched): ``outputs[k]`` is :func:`two_stage_denoise` with ``depth=k``. Used to find the best
    depth without re-running the flow for each candidate.

    Parameters
    ----------
    noisy_tokens : numpy.ndarray or torch.Tensor, shape (N, n) or (B, N, n)
        The noisy tokens, float32 or float64.
    bandwidth : float > 0
        Stage 1's kernel bandwidth :math:`h`.
    step : float >= 0
        Stage 1's residual step :math:`\eta`.
    depth : int >= 0
        The deepest Stage 1 depth.
    query_bandwidth : float > 0
        Stage 2's bandwidth :math:`h_q`.

    Returns
    -------
    trajectory : numpy.ndarray or torch.Tensor, shape (depth + 1, N, n) or (depth + 1, B, N, n)
        The Stage 1 tokens after each number of layers ``0..depth``.
    outputs : numpy.ndarray or torch.Tensor, shape (depth + 1, N, n) or (depth + 1, B, N, n)
        The Stage 2 output at each depth; both of the caller's type (numpy or torch).

    Raises
    ------
    TypeError
        If ``noisy_tokens`` is not a numpy array or torch tensor of dtype float32 or float64, or a
        scalar argument is not a number (``depth`` not an integer).
    ValueError
        If ``noisy_tokens`` is not 2-D or 3-D, is empty or holds a non-finite value, ``bandwidth`` or
        ``query_bandwidth`` is not a finite number in ``[1e-150, 1e150]``, ``step`` is negative or not
        finite, or ``depth`` is negative.
    """
    (y,), back = to_torch(noisy_tokens=noisy_tokens)
    _check_tokens(y, "noisy_tokens")
    hq = check_scale(query_bandwidth, "query_bandwidth")
    trajectory = particle_flow(y, bandwidth, step, depth, return_trajectory=True)
    layers = trajectory.shape[0]
    flat_particles = trajectory.reshape(-1, *y.shape[-2:])
    flat_queries = y.unsqueeze(0).expand(layers, *y.shape).reshape(-1, *y.shape[-2:])
    outputs = posterior_mean(flat_queries, flat_particles, hq).reshape(trajectory.shape)
    return back(trajectory), back(outputs)
