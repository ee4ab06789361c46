"""All-token corruption: every token is observed through additive Gaussian noise."""
from __future__ import annotations

import torch

from .seeding import as_generator
from .validation import check_array, check_nonnegative

__all__ = ["corrupt"]


def corrupt(x, sigma, rng):
    r"""Return :math:`y = x + \sigma \xi` with :math:`\xi \sim N(0, I)` i.i.d. for every entry.

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor, shape (..., d)
        Clean tokens (any leading shape).
    sigma : float >= 0
        Noise standard deviation (0 returns a copy).
    rng : numpy.random.Generator or int
        Source of the noise; the same seed gives the same noise for numpy and torch inputs.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (..., d)
        The noisy tokens, of the type, dtype (and device) of ``x``.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point numpy array or torch tensor, ``sigma`` is not a real number,
        or ``rng`` is neither a numpy Generator nor an integer seed.
    ValueError
        If ``x`` is empty or holds a non-finite value, ``sigma`` is negative or not finite, or
        ``rng`` is a negative seed.
    """
    check_array(x, "x")
    s = check_nonnegative(sigma, "sigma")
    gen = as_generator(rng)
    noise = gen.standard_normal(tuple(x.shape))
    if isinstance(x, torch.Tensor):
        return x + s * torch.as_tensor(noise, dtype=x.dtype, device=x.device)
    return x + s * noise.astype(x.dtype, copy=False)
