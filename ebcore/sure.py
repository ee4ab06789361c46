r"""Stein's unbiased risk estimate (SURE) of a denoiser, by Monte Carlo divergence (chapter 7).

For tokens :math:`y = x + \sigma\varepsilon` with standard normal :math:`\varepsilon` and a weakly
differentiable estimator :math:`T` of all the tokens of a context at once (the output of token
:math:`i` may depend on every token, as attention's does), Stein's lemma gives, conditionally on the
clean tokens :math:`x`,

.. math:: E\,|T(y) - x|^2 = E\bigl[\,|T(y) - y|^2 + 2\sigma^2 \operatorname{div} T(y) - D\sigma^2\bigr],

with :math:`D = Nn` the number of coordinates (Stein 1981). The divergence is estimated without
derivatives by Ramani, Blu and Unser's (2008) Monte Carlo rule,
:math:`\operatorname{div} T(y) \approx b^\top (T(y + \epsilon b) - T(y)) / \epsilon` with a standard
probe :math:`b` of independent random signs, averaged over ``probes`` probes. For any matrix
:math:`J`, :math:`E[b^\top J b] = \operatorname{tr} J` and the variance is
:math:`\sum_{i \ne j} (J_{ij}^2 + J_{ij}J_{ji})`: the diagonal, which carries a denoiser's divergence,
adds no variance (Hutchinson 1990), which is why signs are used rather than normal probes (whose
variance :math:`2\lVert J\rVert_F^2` includes the diagonal). The finite difference adds an
:math:`O(\epsilon)` bias. The estimate uses only
the noisy tokens and :math:`\sigma`, so it can tune an estimator's settings from the data alone.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .registry import implements
from .validation import check_array, check_int, check_positive, check_scale

__all__ = ["monte_carlo_sure"]


@implements("prop-sure")
def monte_carlo_sure(denoiser: Callable, noisy, sigma, *, probes: int = 2, epsilon: float | None = None,
                     seed: int = 0, denoised=None) -> np.ndarray:
    r"""SURE of ``denoiser`` on each context, per coordinate: an estimate of :math:`\frac{1}{Nn}E|T(y) - x|^2`.

    Parameters
    ----------
    denoiser : callable
        Maps noisy tokens ``(B, N, n)`` (numpy, float64) to estimates ``(..., B, N, n)``: any leading
        axes hold several settings (a grid) estimated on the same tokens.
    noisy : numpy.ndarray, shape (B, N, n)
        The noisy tokens of ``B`` contexts, float64.
    sigma : float > 0
        The noise level.
    probes : int >= 1
        Monte Carlo probes of the divergence (each costs one more call of ``denoiser``).
    epsilon : float > 0, optional
        The finite-difference step (default ``1e-4 * sigma``).
    seed : int >= 0
        Seeds the probes.
    denoised : numpy.ndarray, optional
        ``denoiser(noisy)`` if the caller has it already (it is checked like a fresh call's result).

    Returns
    -------
    numpy.ndarray, shape (..., B)
        The estimate for every setting and context (it can be negative: it is unbiased, not positive).

    Raises
    ------
    TypeError
        If ``denoiser`` is not callable, ``noisy`` is not a float64 numpy array, or ``probes`` or
        ``seed`` is not an integer.
    ValueError
        If ``noisy`` is not 3-D, is empty or holds a non-finite value, ``sigma`` or ``epsilon`` is not
        a finite number > 0, ``probes`` is below 1, ``seed`` is negative, or ``denoiser`` returns an
        array whose trailing shape is not ``noisy``'s or that holds a non-finite value.
    """
    if not callable(denoiser):
        raise TypeError(f"denoiser must be callable, got {type(denoiser).__name__}")
    if not isinstance(noisy, np.ndarray) or noisy.dtype != np.float64:
        raise TypeError(f"noisy must be a float64 numpy array, got {type(noisy).__name__} "
                        f"{getattr(noisy, 'dtype', '')}".rstrip())
    check_array(noisy, "noisy", ndim=3)
    sigma = check_scale(sigma, "sigma")
    probes = check_int(probes, "probes", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    epsilon = 1e-4 * sigma if epsilon is None else check_positive(epsilon, "epsilon")

    def estimate(tokens):
        out = np.asarray(tokens() if callable(tokens) else denoiser(tokens))
        if out.shape[-3:] != noisy.shape or not np.isfinite(out).all():
            raise ValueError(f"denoiser must return finite estimates of shape (..., {', '.join(map(str, noisy.shape))}),"
                             f" got shape {out.shape}" + ("" if out.shape[-3:] != noisy.shape else " with non-finite values"))
        return out

    base = estimate(noisy) if denoised is None else estimate(lambda: denoised)
    rng = np.random.default_rng(seed)
    divergence = np.zeros(base.shape[:-2])
    for _ in range(probes):
        probe = rng.choice(np.array([-1.0, 1.0]), size=noisy.shape)
        divergence += (probe * (estimate(noisy + epsilon * probe) - base)).sum(axis=(-2, -1)) / epsilon
    divergence /= probes
    coordinates = noisy.shape[1] * noisy.shape[2]
    residual = ((base - noisy) ** 2).sum(axis=(-2, -1))
    return (residual + 2 * sigma**2 * divergence) / coordinates - sigma**2
