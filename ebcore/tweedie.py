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

import torch

from .arrays import to_torch
from .kernel import chunk_rows, needs_differences, pairwise_squared_distances, posterior_mean
from .validation import check_array, check_scale

__all__ = ["tweedie_denoise"]


def _leave_one_out_attention(y: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """``A_h(y_i)`` against the context without ``y_i``, for batched tokens ``(B, N, d)``, chunked over queries."""
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
