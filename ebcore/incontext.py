"""The one-layer in-context denoising experiment of the predecessor paper.

Clean context tokens :math:`x_1..x_L \\sim \\rho_0`, one noisy query :math:`y = x + \\sigma\\xi`;
an attention layer reads the context and outputs an estimate of :math:`x`. Three read-outs:

* ``"rbf"``: :func:`ebcore.kernel.posterior_mean` with bandwidth :math:`\\sigma`
  ({prf:ref}`prop-snis-consistency`);
* ``"softmax"``: :func:`ebcore.kernel.softmax_attention` with ``W_KQ = I/sigma^2``, ``W_PV = I``
  ({prf:ref}`prop-softmax-tilt`);
* ``"linear"``: :func:`ebcore.kernel.linear_attention` with scale :math:`1/(s_0^2 + \\sigma^2)`, where
  :math:`s_0^2` is the prior's variance per coordinate ({prf:ref}`prop-linear-attention-subspace`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .arrays import to_torch
from .kernel import linear_attention, posterior_mean, softmax_attention
from .priors import Gaussian, Prior
from .registry import implements
from .seeding import as_generator
from .stats import mean_and_se
from .validation import (
    check_array,
    check_choice,
    check_finite_result,
    check_int,
    check_int_sequence,
    check_positive,
    check_scale,
)

__all__ = ["ESTIMATORS", "TASKS", "predecessor_task", "predecessor_excess_curves", "in_context_estimate", "ExcessCurve", "excess_mse_curve", "softmax_gaussian_limit",
           "softmax_excess_floor", "linear_attention_excess"]

ESTIMATORS = ("rbf", "softmax", "linear")


def in_context_estimate(estimator: str, queries, context, sigma, prior_variance: float | None = None):
    r"""Apply one read-out to queries (B, Q, n) against clean contexts (B, L, n).

    Parameters
    ----------
    estimator : str
        One of ``ESTIMATORS``: ``"rbf"``, ``"softmax"`` or ``"linear"`` (see the module docstring).
    queries : numpy.ndarray or torch.Tensor, shape (Q, n) or (B, Q, n)
        The noisy queries, floating point.
    context : numpy.ndarray or torch.Tensor, shape (L, n) or (B, L, n)
        The clean context tokens, batched like ``queries``.
    sigma : float > 0
        The noise level :math:`\sigma` (the RBF bandwidth; softmax scale :math:`1/\sigma^2`).
    prior_variance : float > 0, optional
        The prior's variance per coordinate :math:`s_0^2`; required by the linear read-out only.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        The estimates, shaped like ``queries``, of the caller's type (numpy or torch).

    Raises
    ------
    TypeError
        If ``queries`` or ``context`` is not a floating-point numpy array or torch tensor, if numpy
        and torch inputs are mixed, or if ``sigma`` or ``prior_variance`` is not a real number.
    ValueError
        If ``estimator`` is unknown, ``sigma`` is not a finite number in ``[1e-150, 1e150]``,
        ``queries`` or ``context`` is not 2-D or 3-D, is empty or holds a non-finite value, one is
        batched and the other not, their dimensions or batch sizes disagree, or the linear read-out
        is asked for without a ``prior_variance`` that is a finite number > 0.
    """
    check_choice(estimator, "estimator", ESTIMATORS)
    s = check_scale(sigma, "sigma")
    (queries, context), back = to_torch(queries=queries, context=context)
    check_array(queries, "queries", ndim=(2, 3))
    check_array(context, "context", ndim=(2, 3))
    if queries.ndim != context.ndim:
        raise ValueError(f"queries and context must both be unbatched (2-D) or both batched (3-D); got "
                         f"{queries.ndim}-D and {context.ndim}-D")
    if estimator == "rbf":
        return back(posterior_mean(queries, context, s))
    if estimator == "softmax":
        return back(softmax_attention(queries, context, context, 1.0 / s**2))
    if prior_variance is None:
        raise ValueError("prior_variance is required for the linear read-out")
    inverse = 1.0 / (check_positive(prior_variance, "prior_variance") + s**2)
    return back(linear_attention(queries, context, context, inverse))


class ExcessCurve(NamedTuple):
    """Mean excess MSE over the Bayes denoiser per context size, with standard errors."""

    context_sizes: np.ndarray
    mean: np.ndarray
    se: np.ndarray


@implements("prop-snis-consistency")
def excess_mse_curve(prior: Prior, sigma, estimator: str, context_sizes, n_contexts: int, n_queries: int,
                     rng) -> ExcessCurve:
    r"""Excess MSE :math:`E|f_L(y) - E[x\mid y]|^2` of an in-context read-out against context size L.

    By orthogonality ({prf:ref}`thm-posterior-mean-optimal`) this equals MSE minus Bayes MSE,
    estimated with far less noise. For each L, ``n_contexts`` independent contexts with
    ``n_queries`` fresh noisy queries each are drawn; the per-context averages give the mean and
    its standard error. The contexts are processed as one batch.
    """
    s = check_scale(sigma, "sigma")
    check_choice(estimator, "estimator", ESTIMATORS)
    sizes = np.asarray(check_int_sequence(context_sizes, "context_sizes", minimum=1), dtype=np.int64)
    b = check_int(n_contexts, "n_contexts", minimum=2)
    q = check_int(n_queries, "n_queries", minimum=1)
    gen = as_generator(rng)
    prior_variance = None
    if estimator == "linear":
        if not isinstance(prior, Gaussian):
            raise ValueError("the linear read-out is defined here for Gaussian (and Subspace) priors")
        prior_variance = float(np.max(prior.eigenvalues))
    means, ses = [], []
    for size in sizes:
        context = prior.sample(b * int(size), gen).reshape(b, int(size), prior.dim)
        x = prior.sample(b * q, gen)
        y = x + s * gen.standard_normal(x.shape)
        target = prior.posterior_mean(y, s).reshape(b, q, prior.dim)
        estimate = in_context_estimate(estimator, y.reshape(b, q, prior.dim), context, s, prior_variance)
        per_context = ((estimate - target) ** 2).sum(-1).mean(-1)
        mean, se = mean_and_se(per_context)
        means.append(mean)
        ses.append(se)
    return ExcessCurve(sizes, np.array(means), np.array(ses))


@implements("prop-softmax-tilt")
def softmax_gaussian_limit(prior_variance, sigma) -> float:
    r"""The :math:`L\to\infty` slope :math:`a = s_0^2/\sigma^2` of softmax attention with
    ``W_KQ = I/sigma^2`` over a clean context from a centred Gaussian with variance :math:`s_0^2`
    in each of its directions: :math:`f_L(y) \to a\, P y` ({prf:ref}`prop-softmax-tilt`), against
    the Bayes slope :math:`s_0^2/(s_0^2 + \sigma^2)`.

    Parameters
    ----------
    prior_variance : float > 0
        The prior's variance :math:`s_0^2` in each of its directions.
    sigma : float > 0
        The noise level :math:`\sigma`.

    Returns
    -------
    float
        The limiting slope :math:`a`.

    Raises
    ------
    TypeError
        If an argument is not a real number.
    ValueError
        If ``prior_variance`` is not a finite number > 0, or ``sigma`` is not a finite number in
        ``[1e-150, 1e150]``.
    """
    v = check_positive(prior_variance, "prior_variance")
    s = check_scale(sigma, "sigma")
    return v / s**2


@implements("prop-softmax-tilt")
def softmax_excess_floor(prior_variance, sigma, rank: int) -> float:
    r"""The limit of the excess risk of softmax attention for :math:`N(0, s_0^2 P)`, ``rank`` = tr P:

    :math:`E|(a - b) P y|^2 = r\,(s_0^2+\sigma^2)(a-b)^2 = r\, s_0^8 / (\sigma^4 (s_0^2 + \sigma^2))`
    with :math:`a = s_0^2/\sigma^2`, :math:`b = s_0^2/(s_0^2+\sigma^2)` ({prf:ref}`prop-softmax-tilt`).

    Parameters
    ----------
    prior_variance : float > 0
        The prior's variance :math:`s_0^2` in each of its directions.
    sigma : float > 0
        The noise level :math:`\sigma`.
    rank : int >= 1
        The rank :math:`r` of the projection :math:`P`.

    Returns
    -------
    float
        The excess-risk floor.

    Raises
    ------
    TypeError
        If ``prior_variance`` or ``sigma`` is not a real number, or ``rank`` is not an integer.
    ValueError
        If ``prior_variance`` is not a finite number > 0, ``sigma`` is not a finite number in
        ``[1e-150, 1e150]``, ``rank < 1``, or the result overflows float64.
    """
    v = check_positive(prior_variance, "prior_variance")
    s = check_scale(sigma, "sigma")
    r = check_int(rank, "rank", minimum=1)
    with np.errstate(over="ignore", invalid="ignore"):
        value = r * np.float64(v) ** 4 / (np.float64(s) ** 4 * (v + s**2))
    return float(check_finite_result(value, "prior_variance, sigma, rank"))


@implements("prop-linear-attention-subspace")
def linear_attention_excess(prior_variance, sigma, rank: int, context_size: int) -> float:
    r"""Exact excess risk of the linear read-out for :math:`N(0, s_0^2 P)` at context size L:
    :math:`r (r + 1) s_0^4 / (L (s_0^2 + \sigma^2))` ({prf:ref}`prop-linear-attention-subspace`).

    Parameters
    ----------
    prior_variance : float > 0
        The prior's variance :math:`s_0^2` in each of its directions.
    sigma : float > 0
        The noise level :math:`\sigma`.
    rank : int >= 1
        The rank :math:`r` of the projection :math:`P`.
    context_size : int >= 1
        The context size :math:`L`.

    Returns
    -------
    float
        The excess risk over the Bayes denoiser.

    Raises
    ------
    TypeError
        If ``prior_variance`` or ``sigma`` is not a real number, or ``rank`` or ``context_size`` is
        not an integer.
    ValueError
        If ``prior_variance`` is not a finite number > 0, ``sigma`` is not a finite number in
        ``[1e-150, 1e150]``, ``rank`` or ``context_size`` is below 1, or the result overflows float64.
    """
    v = check_positive(prior_variance, "prior_variance")
    s = check_scale(sigma, "sigma")
    r = check_int(rank, "rank", minimum=1)
    size = check_int(context_size, "context_size", minimum=1)
    with np.errstate(over="ignore", invalid="ignore"):
        value = r * (r + 1) * np.float64(v) ** 2 / (size * (v + s**2))
    return float(check_finite_result(value, "prior_variance, sigma, rank, context_size"))


#: The predecessor paper's tasks in n = 16 (plus a full-rank Gaussian), as (prior factory, sigma).
#: Subspace: d = 8, s0^2 = 2, sigma^2 = 1. Sphere: d = 8, R = 1, sigma^2 = 0.1. Mixture: 8 unit-norm
#: centres, s0^2 = 0.02, sigma^2 = 0.1. Gaussian: N(0, 0.1 I), sigma^2 = 0.5.
TASKS = ("Gaussian", "subspace", "sphere", "mixture")


def predecessor_task(name: str, rng, n: int = 16):
    """Build one task of :data:`TASKS`: returns ``(prior, sigma)``; the random parts from ``rng``.

    Parameters
    ----------
    name : str
        One of :data:`TASKS`.
    rng : numpy.random.Generator or int
        Source of the random subspace, sphere or centres (a generator, or a non-negative integer seed).
    n : int >= 9
        The dimension.

    Returns
    -------
    prior : Prior
        A :class:`~ebcore.priors.Gaussian`, :class:`~ebcore.priors.Subspace`,
        :class:`~ebcore.priors.Sphere` or :class:`~ebcore.priors.GaussianMixture`.
    sigma : float
        The task's noise level.

    Raises
    ------
    TypeError
        If ``n`` is not an integer, or ``rng`` is neither a numpy Generator nor an integer seed.
    ValueError
        If ``name`` is not one of :data:`TASKS`, ``n < 9``, or ``rng`` is a negative seed.
    """
    from .priors import GaussianMixture, Sphere, Subspace

    check_choice(name, "name", TASKS)
    n = check_int(n, "n", minimum=9)
    gen = as_generator(rng)
    if name == "Gaussian":
        return Gaussian(np.zeros(n), 0.1 * np.eye(n)), float(np.sqrt(0.5))
    if name == "subspace":
        return Subspace(n, 8, float(np.sqrt(2.0)), gen), 1.0
    if name == "sphere":
        return Sphere(n, 8, 1.0, gen), float(np.sqrt(0.1))
    centres = gen.standard_normal((8, n))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return GaussianMixture(centres, np.full(8, 1 / 8), float(np.sqrt(0.02))), float(np.sqrt(0.1))


def predecessor_excess_curves(context_sizes, n_contexts: int, n_queries: int, seed: int, n: int = 16):
    """Excess-risk curves of every read-out on every task of :data:`TASKS`, through the results cache.

    Returns ``{(task, estimator): ExcessCurve}``; the linear read-out only for the Gaussian tasks.

    Parameters
    ----------
    context_sizes : sequence of int
        The context sizes L, each >= 2.
    n_contexts : int >= 2
        Independent contexts per size.
    n_queries : int >= 1
        Noisy queries per context.
    seed : int >= 0
        Seeds the tasks and the draws.
    n : int >= 9
        The dimension of the tasks (see :func:`predecessor_task`).

    Returns
    -------
    dict
        ``{(task, estimator): ExcessCurve}`` (:class:`ExcessCurve`: context sizes, mean excess risk
        and its standard error per size).

    Raises
    ------
    TypeError
        If ``context_sizes`` is not a sequence of integers, or ``n_contexts``, ``n_queries``, ``seed``
        or ``n`` is not an integer.
    ValueError
        If a context size is below 2, ``n_contexts < 2``, ``n_queries < 1``, ``seed`` is negative,
        ``n < 1``, or (when the curves are computed rather than read from the cache) ``n < 9``.
    """
    from .cache import cached

    # validated first: the key must name exactly what is computed (2.9 contexts is an error, not 2)
    sizes = check_int_sequence(context_sizes, "context_sizes", minimum=2)
    n_contexts = check_int(n_contexts, "n_contexts", minimum=2)
    n_queries = check_int(n_queries, "n_queries", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    n = check_int(n, "n", minimum=1)
    config = {"sizes": sizes, "n_contexts": n_contexts, "n_queries": n_queries, "seed": seed, "n": n}

    def compute():
        arrays = {}
        for index, task in enumerate(TASKS):
            prior, sigma = predecessor_task(task, np.random.default_rng([seed, index]), n)
            for estimator in ESTIMATORS:
                if estimator == "linear" and task not in ("Gaussian", "subspace"):
                    continue
                curve = excess_mse_curve(prior, sigma, estimator, sizes, n_contexts, n_queries,
                                         np.random.default_rng([seed, index, ESTIMATORS.index(estimator)]))
                arrays[f"{task}/{estimator}/mean"] = curve.mean
                arrays[f"{task}/{estimator}/se"] = curve.se
        return arrays, {}

    entry = cached("incontext-excess", config, compute)
    curves = {}
    for key in entry.arrays:
        task, estimator, field = key.split("/")
        if field == "mean":
            curves[(task, estimator)] = ExcessCurve(np.array(sizes), entry.arrays[key],
                                                    entry.arrays[f"{task}/{estimator}/se"])
    return curves
