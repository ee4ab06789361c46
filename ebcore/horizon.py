r"""The depth-noise relationship: closed forms for an isotropic Gaussian prior in the mean-field limit.

For :math:`\rho_0 = N(m, s_0^2 I)` the noisy tokens are :math:`N(m, (s_0^2 + \sigma^2) I)`. Under the
mean-field Stage 1 flow at a fixed bandwidth :math:`h` the law stays Gaussian with variance
:math:`v(t)` per coordinate solving :math:`\dot v = -2v/(v + h^2)`
({prf:ref}`thm-gaussian-horizon`), so it returns to the prior at the finite horizon
:math:`T^* = \tfrac12\bigl[\sigma^2 + h^2 \log(1 + \sigma^2/s_0^2)\bigr]`.
"""
from __future__ import annotations

import numpy as np
from scipy import special

from .dynamics import flow_depth
from .registry import implements
from .validation import (
    as_float_array,
    check_array,
    check_finite_result,
    check_int,
    check_nonnegative,
    check_positive,
    check_scale,
)

__all__ = ["gaussian_horizon", "gaussian_depth", "gaussian_variance_ode", "gaussian_variance_layers", "exact_step",
           "gaussian_query_landscape", "gaussian_pair_energy"]


@implements("thm-gaussian-horizon")
def gaussian_horizon(sigma, bandwidth, prior_variance) -> float:
    r""":math:`T^*(\sigma, h, s_0^2) = \tfrac12[\sigma^2 + h^2 \log(1 + \sigma^2/s_0^2)]`; as
    :math:`h \to 0` it tends to :math:`\sigma^2/2`, the horizon of the reverse heat flow.

    Parameters
    ----------
    sigma : float > 0
        The noise level :math:`\sigma`.
    bandwidth : float >= 0
        The kernel bandwidth :math:`h` (0 gives the reverse heat flow's horizon).
    prior_variance : float > 0
        The prior's variance per coordinate :math:`s_0^2`.

    Returns
    -------
    float
        The horizon :math:`T^*` (continuous time).

    Raises
    ------
    TypeError
        If an argument is not a real number.
    ValueError
        If ``sigma`` is not a finite number in ``[1e-150, 1e150]``, ``bandwidth`` is negative or not
        finite, ``prior_variance`` is not a finite number > 0, or the result overflows float64.
    """
    s = check_scale(sigma, "sigma")
    h = check_nonnegative(bandwidth, "bandwidth")
    v = check_positive(prior_variance, "prior_variance")
    return check_finite_result(0.5 * (s * s + h * h * np.log1p(s * s / v)), "sigma, bandwidth, prior_variance")


@implements("thm-gaussian-horizon")
def gaussian_depth(sigma, bandwidth, prior_variance, step) -> int:
    r""":math:`L^* =` :func:`~ebcore.dynamics.flow_depth` of :func:`gaussian_horizon`: layers to return to the prior.

    Parameters
    ----------
    sigma : float > 0
        The noise level :math:`\sigma`.
    bandwidth : float > 0
        The kernel bandwidth :math:`h`.
    prior_variance : float > 0
        The prior's variance per coordinate :math:`s_0^2`.
    step : float > 0
        The residual step :math:`\eta`.

    Returns
    -------
    int
        The depth :math:`L^*`.

    Raises
    ------
    TypeError
        If an argument is not a real number.
    ValueError
        If ``sigma`` or ``bandwidth`` is not a finite number in ``[1e-150, 1e150]``,
        ``prior_variance`` or ``step`` is not a finite number > 0, the horizon overflows float64, or
        the depth exceeds :func:`~ebcore.dynamics.flow_depth`'s limit.
    """
    return flow_depth(step, bandwidth, gaussian_horizon(sigma, bandwidth, prior_variance))


@implements("thm-gaussian-horizon", "prop-no-horizon-degenerate")
def gaussian_variance_ode(initial_variance, bandwidth, time):
    r"""Exact solution of :math:`\dot v = -2v/(v + h^2)`: :math:`v + h^2 \log v = v_0 + h^2 \log v_0 - 2t`,
    i.e. :math:`v = h^2\, \omega\bigl((v_0 + h^2\log v_0 - 2t)/h^2 - \log h^2\bigr)` with Wright's omega
    function (:math:`\omega + \log\omega = z`). ``time`` may be an array; returns an array.

    Parameters
    ----------
    initial_variance : float > 0
        The variance per coordinate at time 0, :math:`v_0`.
    bandwidth : float > 0
        The kernel bandwidth :math:`h`.
    time : float or array_like of float
        The times :math:`t \ge 0`.

    Returns
    -------
    numpy.ndarray
        :math:`v(t)`, shaped like ``time`` (0-d for a scalar time).

    Raises
    ------
    TypeError
        If ``initial_variance`` or ``bandwidth`` is not a real number, or ``time`` is not real
        numbers.
    ValueError
        If ``initial_variance`` is not a finite number > 0, ``bandwidth`` is not a finite number in
        ``[1e-150, 1e150]``, or a time is negative or not finite.
    """
    v0 = check_positive(initial_variance, "initial_variance")
    h = check_scale(bandwidth, "bandwidth")
    t = as_float_array(time, "time")
    if not np.isfinite(t).all() or (t < 0).any():
        raise ValueError("time must be finite and >= 0")
    h2 = h * h
    z = (v0 + h2 * np.log(v0) - 2 * t) / h2 - np.log(h2)
    return h2 * np.real(special.wrightomega(z))


@implements("conj-mean-field", "thm-gaussian-horizon")
def gaussian_variance_layers(initial_variance, bandwidth, step, depth):
    r"""Mean-field variance after each layer of the discrete flow, shape (depth + 1,).

    A layer maps :math:`x - m \mapsto (1 - \eta h^2/(v + h^2))(x - m)` (the Gaussian kernel posterior
    mean is linear), so :math:`v_{k+1} = v_k\,(1 - \eta h^2/(v_k + h^2))^2`.

    Parameters
    ----------
    initial_variance : float > 0
        The variance per coordinate before the first layer, :math:`v_0`.
    bandwidth : float > 0
        The kernel bandwidth :math:`h`.
    step : float >= 0
        The residual step :math:`\eta`.
    depth : int >= 0
        The number of layers.

    Returns
    -------
    numpy.ndarray, shape (depth + 1,)
        :math:`v_0, \dots, v_{\text{depth}}`.

    Raises
    ------
    TypeError
        If ``initial_variance``, ``bandwidth`` or ``step`` is not a real number, or ``depth`` is not an
        integer.
    ValueError
        If ``initial_variance`` is not a finite number > 0, ``bandwidth`` is not a finite number in
        ``[1e-150, 1e150]``, ``step`` is negative or not finite, ``depth`` is negative, or the variance
        overflows float64.
    """
    v = check_positive(initial_variance, "initial_variance")
    h = check_scale(bandwidth, "bandwidth")
    eta = check_nonnegative(step, "step")
    layers = check_int(depth, "depth", minimum=0)
    out = np.empty(layers + 1)
    out[0] = v
    try:
        for k in range(layers):
            v = v * (1 - eta * h * h / (v + h * h)) ** 2
            out[k + 1] = v
    except OverflowError:
        raise ValueError(f"step, bandwidth: the variance overflows float64 (step={eta!r}, bandwidth={h!r})") from None
    return check_finite_result(out, "initial_variance, bandwidth, step")


@implements("thm-gaussian-recovery")
def exact_step(sigma, bandwidth, prior_variance, depth) -> float:
    r"""The residual step :math:`\eta` for which ``depth`` layers return the Gaussian variance exactly.

    Solves ``gaussian_variance_layers(s0^2 + sigma^2, h, eta, depth)[-1] = s0^2`` for
    :math:`\eta \in (0, 1]` (the final variance falls monotonically in :math:`\eta` there, since each
    layer multiplies it by :math:`(1 - \eta h^2/(v + h^2))^2`); this makes the layered population
    estimator of {prf:ref}`thm-gaussian-recovery` exact, with no :math:`O(\eta)` time-step error.

    Parameters
    ----------
    sigma : float > 0
        The noise level :math:`\sigma`.
    bandwidth : float > 0
        The kernel bandwidth :math:`h`.
    prior_variance : float > 0
        The prior's variance per coordinate :math:`s_0^2`.
    depth : int >= 1
        The number of layers.

    Returns
    -------
    float
        The step :math:`\eta \in (0, 1]`.

    Raises
    ------
    TypeError
        If ``sigma``, ``bandwidth`` or ``prior_variance`` is not a real number, or ``depth`` is not an
        integer.
    ValueError
        If ``sigma`` or ``bandwidth`` is not a finite number in ``[1e-150, 1e150]``,
        ``prior_variance`` is not a finite number > 0, ``depth < 1``, or even :math:`\eta = 1` does not
        reach :math:`s_0^2` in ``depth`` layers.
    """
    from scipy.optimize import brentq

    s = check_scale(sigma, "sigma")
    h = check_scale(bandwidth, "bandwidth")
    s0_sq = check_positive(prior_variance, "prior_variance")
    layers = check_int(depth, "depth", minimum=1)
    v0 = s0_sq + s * s

    def gap(eta):
        return gaussian_variance_layers(v0, h, eta, layers)[-1] - s0_sq

    if gap(1.0) > 0:
        raise ValueError(f"depth, prior_variance: {layers} layer(s) are too few, even step 1 leaves the variance "
                         f"above prior_variance = {s0_sq!r}")
    return float(brentq(gap, 1e-12, 1.0, xtol=1e-15, rtol=1e-15, maxiter=200))


@implements("prop-gaussian-landscapes")
def gaussian_query_landscape(queries, mean, variance, bandwidth) -> np.ndarray:
    r"""The query landscape of a Gaussian law of tokens, in closed form, shape (M,).

    For tokens with law :math:`N(m, vI_n)`, the population version of the query energy,
    :math:`E(z) = -h^2 \log \int e^{-|z - p|^2/2h^2}\,N(dp; m, vI)`, is

    .. math::  E(z) = \frac{n h^2}{2}\log\Bigl(1 + \frac{v}{h^2}\Bigr) + \frac{h^2\,|z - m|^2}{2(v + h^2)},

    a single well at :math:`m` whose unit gradient step :math:`z - \nabla E(z)` is the kernel posterior
    mean :math:`m + \frac{v}{v + h^2}(z - m)`. :func:`ebcore.dynamics.query_energy` of :math:`N` tokens drawn
    from the law, plus :math:`h^2 \log N`, estimates it.

    Parameters
    ----------
    queries : (M, n) array
        The query points :math:`z`.
    mean : (n,) array
        The mean :math:`m` of the tokens' law.
    variance : float > 0
        The variance per coordinate :math:`v`.
    bandwidth : float > 0
        The kernel bandwidth :math:`h` (for Stage 2's landscape, :math:`h_q = \sigma`).

    Returns
    -------
    numpy.ndarray, shape (M,)
        :math:`E(z)` at each query, float64.

    Raises
    ------
    TypeError
        If ``queries`` or ``mean`` is not real numbers, or ``variance`` or ``bandwidth`` is not a real
        number.
    ValueError
        If ``queries`` is not a finite non-empty (M, n) array, ``mean`` is not a finite array of shape
        (n,), ``variance`` is not a finite number > 0, or ``bandwidth`` is not a finite number in
        ``[1e-150, 1e150]``.
    """
    z = check_array(as_float_array(queries, "queries"), "queries", ndim=2)
    m = check_array(as_float_array(mean, "mean"), "mean", shape=(z.shape[1],))
    v = check_positive(variance, "variance")
    h = check_scale(bandwidth, "bandwidth")
    dim = z.shape[1]
    out = 0.5 * dim * h * h * np.log1p(v / (h * h)) + h * h * np.sum((z - m) ** 2, axis=1) / (2 * (v + h * h))
    check_finite_result(out, "queries, variance, bandwidth")
    return out


@implements("prop-gaussian-landscapes")
def gaussian_pair_energy(variance, bandwidth, dim) -> float:
    r"""The pair energy of a Gaussian law of tokens, in closed form.

    For tokens with law :math:`N(m, vI_n)` the population version of chapter 3's pair energy,
    :math:`E_h = -h^2\log \iint e^{-|p - q|^2/2h^2}\,N(dp)\,N(dq)`, is
    :math:`\frac{n h^2}{2}\log\bigl(1 + 2v/h^2\bigr)` (the difference :math:`p - q` is :math:`N(0, 2vI)`).

    Parameters
    ----------
    variance : float > 0
        The variance per coordinate :math:`v`.
    bandwidth : float > 0
        The kernel bandwidth :math:`h`.
    dim : int >= 1
        The token dimension :math:`n`.

    Returns
    -------
    float
        The pair energy.

    Raises
    ------
    TypeError
        If ``variance`` or ``bandwidth`` is not a real number, or ``dim`` is not an integer.
    ValueError
        If ``variance`` is not a finite number > 0, ``bandwidth`` is not a finite number in
        ``[1e-150, 1e150]``, or ``dim < 1``.
    """
    v = check_positive(variance, "variance")
    h = check_scale(bandwidth, "bandwidth")
    n = check_int(dim, "dim", minimum=1)
    out = 0.5 * n * h * h * np.log1p(2 * v / (h * h))
    check_finite_result(out, "variance, bandwidth")
    return float(out)
