r"""The one-layer empirical-Bayes denoiser: Tweedie's formula with a kernel estimate of the score.

The noisy tokens :math:`y_1, \dots, y_N` of a context are draws from the noisy marginal
:math:`p = \rho * \varphi_\sigma`. Tweedie's formula gives the Bayes denoiser from that marginal alone,
:math:`E[x \mid y] = y + \sigma^2 \nabla \log p(y)`, and the Gaussian kernel density estimate
:math:`\hat p_h(y) = \frac1N \sum_j \varphi_h(y - y_j)` has the score
:math:`\nabla \log \hat p_h(y) = (A_h(y) - y)/h^2`, where :math:`A_h` is one attention step
(:func:`ebcore.kernel.posterior_mean`) with the noisy tokens as its context. Plugging one into the
other gives a single attention layer over the noisy tokens,

.. math:: T_h(y) = y + \frac{\sigma^2}{h^2}\,\bigl(A_h(y) - y\bigr),

the kernel empirical-Bayes estimator that Brown and Greenshtein (2009) study for normal means in
one dimension (their results are about that setting and their conditions on :math:`h`; nothing
about its rate is claimed here). At :math:`h = \sigma` it is :math:`A_\sigma(y)`, the two-stage
estimator of :func:`ebcore.dynamics.two_stage_denoise` with no Stage 1 layer.
"""
from __future__ import annotations

import math

import torch

from .arrays import to_torch
from .kernel import chunk_rows, needs_differences, pairwise_squared_distances, posterior_mean
from .registry import implements
from .validation import check_array, check_int, check_scale

__all__ = ["tweedie_denoise", "gaussian_one_layer_risk"]


def _leave_one_out_attention(y: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """``A_h(y_i)`` against the context without ``y_i``, for batched tokens ``(B, N, n)``, chunked over queries."""
    centred = y - y.mean(dim=1, keepdim=True)  # the softmax is unchanged; the distances lose no precision
    inv_h2 = 1.0 / (bandwidth * bandwidth)
    differences = needs_differences(centred, centred, inv_h2)
    batch, n, dim = centred.shape
    rows = chunk_rows(n * (dim if differences else 1), batch, centred.element_size(), centred.device)
    out = []
    for start in range(0, n, rows):
        queries = centred[:, start:start + rows]
        logits = -0.5 * inv_h2 * pairwise_squared_distances(queries, centred, differences)
        own = torch.arange(start, start + queries.shape[1], device=y.device)
        logits[:, torch.arange(queries.shape[1], device=y.device), own] = -torch.inf
        out.append(torch.softmax(logits, dim=-1) @ y)
    return torch.cat(out, dim=1)


def tweedie_denoise(noisy, bandwidth, sigma, leave_one_out: bool = False):
    r"""The kernel empirical-Bayes denoiser :math:`y + (\sigma^2/h^2)(A_h(y) - y)` of every noisy token.

    Parameters
    ----------
    noisy : numpy.ndarray or torch.Tensor, shape (N, n) or (B, N, n)
        The noisy tokens of one context (or of ``B`` contexts); each is also the context of the
        score estimate. A floating-point array of finite values.
    bandwidth : float
        The bandwidth :math:`h` of the kernel score estimate, in :data:`ebcore.validation.SCALE_RANGE`.
    sigma : float
        The noise level :math:`\sigma` of the tokens.
    leave_one_out : bool
        Leave each token out of its own score estimate (then ``N`` must be at least 2). Without it a
        token's own kernel term pulls its estimate toward itself, which matters once ``h`` is small
        against the spacing of the tokens.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        The estimates, of the shape and the kind (numpy or torch) of ``noisy``.

    Raises
    ------
    TypeError
        If ``noisy`` is not a floating-point numpy array or tensor, or ``leave_one_out`` not a bool.
    ValueError
        If ``noisy`` has the wrong number of dimensions, is empty or holds a NaN or an infinity; if
        ``bandwidth`` or ``sigma`` is not a finite number in range; if ``leave_one_out`` with fewer
        than two tokens per context.

    Notes
    -----
    With ``bandwidth == sigma`` and ``leave_one_out=False`` the result is ``A_sigma(y)``, exactly
    ``ebcore.two_stage_denoise(noisy, h, step, 0, sigma)`` for any ``h`` and ``step``.
    """
    (y,), back = to_torch(noisy=noisy)
    check_array(y, "noisy", ndim=(2, 3))
    h = check_scale(bandwidth, "bandwidth")
    s = check_scale(sigma, "sigma")
    if not isinstance(leave_one_out, bool):
        raise TypeError(f"leave_one_out must be a bool, got {type(leave_one_out).__name__}")
    if leave_one_out:
        batched = y if y.ndim == 3 else y.unsqueeze(0)
        if batched.shape[1] < 2:
            raise ValueError(f"noisy must hold at least 2 tokens per context to leave one out, got {batched.shape[1]}")
        attended = _leave_one_out_attention(batched, h)
        attended = attended if y.ndim == 3 else attended[0]
    else:
        attended = posterior_mean(y, y, h)
    return back(y + (s * s) / (h * h) * (attended - y))


@implements("prop-one-layer-gaussian-limit", "prop-one-layer-gaussian-variance")
def gaussian_one_layer_risk(bandwidth, sigma, prior_variance: float = 1.0, dim: int = 2) -> dict:
    r"""The one-layer estimator's risk for a Gaussian prior: the Bayes risk, the limit's excess and the first-order term.

    For a prior :math:`N(m, vI_n)`, noise :math:`\sigma`, :math:`s^2 = v + \sigma^2` and a fixed
    bandwidth :math:`h` (chapter 7): the leave-one-out estimator :math:`T_{h,N}` tends, as the number
    of tokens :math:`N \to \infty`, to :math:`T_\infty(y) = m + c_h(y - m)` with
    :math:`c_h = (v + h^2)/(s^2 + h^2)`, whose excess over the Bayes risk :math:`nv\sigma^2/s^2` is
    :math:`n\sigma^4h^4/(s^2(s^2 + h^2)^2)` (``prop-one-layer-gaussian-limit``); and
    :math:`N(R_N - R(T_\infty)) \to W(h)`, the first-order term of the delta method
    (``prop-one-layer-gaussian-variance``, checked numerically): the variance of the kernel ratio
    plus twice its :math:`1/N` bias times the limit's bias,

    .. math::

        W(h) = \frac{\sigma^4}{h^4}\,P\,g^{-n/2}\Bigl[n\tau^2 + \frac{n s^2\delta^2}{g}\Bigr]
               - \frac{2\sigma^2}{h^2}\,(c_h - c_0)\,P\,\delta\,n s^2 g^{-n/2 - 1},

    with :math:`P = \bigl(\tfrac{h^2/2}{s^2 + h^2/2}\bigr)^{n/2}\bigl(\tfrac{s^2 + h^2}{h^2}\bigr)^n`,
    :math:`g = 1 - \frac{2s^4}{(s^2 + h^2)(2s^2 + h^2)}`, :math:`\tau^2 = \frac{s^2h^2/2}{s^2 + h^2/2}`,
    :math:`\delta = \frac{s^2h^2/2}{(s^2 + h^2/2)(s^2 + h^2)}` and :math:`c_0 = v/s^2`.

    Parameters
    ----------
    bandwidth : float > 0
        The bandwidth :math:`h`.
    sigma : float > 0
        The noise level.
    prior_variance : float > 0
        :math:`v`, the prior's variance per coordinate.
    dim : int >= 1
        The dimension :math:`n`.

    Returns
    -------
    dict
        ``{"bayes", "limit_excess", "limit_slope", "bayes_slope", "first_order", "variance", "bias_cross"}``:
        :math:`nv\sigma^2/s^2`, the limit's excess, :math:`c_h` and :math:`c_0`, :math:`W(h)` (so that
        :math:`R_N \approx` ``bayes + limit_excess + first_order / N``) and its two terms, the variance
        and the bias cross term.

    Raises
    ------
    TypeError
        If a scale is not a real number or ``dim`` is not an integer.
    ValueError
        If a scale is not a finite number in ``[1e-150, 1e150]`` or ``dim < 1``, or the bandwidth is so
        far from ``sigma`` that :math:`W(h)` is not representable in float64.
    """
    h = check_scale(bandwidth, "bandwidth")
    sigma = check_scale(sigma, "sigma")
    v = check_scale(prior_variance, "prior_variance")
    n = check_int(dim, "dim", minimum=1)
    s2, h2, noise = v + sigma * sigma, h * h, sigma * sigma
    try:
        c_h, c_0 = (v + h2) / (s2 + h2), v / s2
        half = h2 / 2
        p = (half / (s2 + half)) ** (n / 2) * ((s2 + h2) / h2) ** n
        # 1 - 2 s^4 / ((s^2 + h^2)(2 s^2 + h^2)) without the cancellation at small h
        g = h2 * (3.0 * s2 + h2) / ((s2 + h2) * (2.0 * s2 + h2))
        tau2 = s2 * half / (s2 + half)
        delta = s2 * half / ((s2 + half) * (s2 + h2))
        variance = noise * noise / (h2 * h2) * p * g ** (-n / 2) * (n * tau2 + n * s2 * delta * delta / g)
        cross = -2.0 * noise / h2 * (c_h - c_0) * p * delta * n * s2 * g ** (-n / 2 - 1)
    except (ZeroDivisionError, OverflowError) as error:
        raise ValueError(f"bandwidth: W(h) is not representable in float64 at bandwidth {h!r} relative to sigma "
                         f"{sigma!r} ({error})") from error
    if not all(math.isfinite(value) for value in (variance, cross)):
        raise ValueError(f"bandwidth: W(h) is not finite in float64 at bandwidth {h!r} relative to sigma {sigma!r}")
    return {"bayes": n * v * noise / s2, "limit_excess": n * noise * noise * h2 * h2 / (s2 * (s2 + h2) ** 2),
            "limit_slope": c_h, "bayes_slope": c_0, "first_order": variance + cross, "variance": variance, "bias_cross": cross}
