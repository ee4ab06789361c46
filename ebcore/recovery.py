r"""Posterior-mean recovery: the two-stage estimator against the Bayes denoiser as the context grows.

For a prior, a noise level and a bandwidth schedule, :func:`recovery_curve` measures the excess
risk :math:`E|f_N(y) - E[x \mid y]|^2` of the two-stage estimator (:func:`ebcore.dynamics.two_stage_denoise`)
over contexts of ``N`` noisy tokens, each token's own noisy value being the query (all-token
corruption). The depth follows the Gaussian horizon ({prf:ref}`thm-gaussian-horizon`) and the step
is set by :func:`ebcore.horizon.exact_step` so that the layered population flow returns a
Gaussian prior exactly ({prf:ref}`thm-gaussian-recovery`). :func:`ebcore.stats.fit_power_law`
(the rate) and :func:`ebcore.stats.extrapolate_to_zero` in :math:`1/N` (the floor) summarise a curve.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .dynamics import flow_depth, two_stage_denoise
from .horizon import exact_step, gaussian_horizon
from .priors import Prior
from .registry import implements
from .seeding import as_generator
from .stats import mean_and_se
from .validation import check_array, check_choice, check_int, check_positive, check_scale

__all__ = ["SCHEDULES", "RecoveryCurve", "schedule_bandwidth", "recovery_settings", "two_stage_excess",
           "recovery_curve", "BASELINE_FIELDS", "baseline_comparison", "cross_fitted_choice"]

#: Bandwidth schedules. "fixed" keeps h, "shrinking" uses h (N / N_0)^(-1/(d+4)).
SCHEDULES = ("fixed", "shrinking")


class RecoveryCurve(NamedTuple):
    """Excess risk per context size: mean and standard error over independent contexts."""

    context_sizes: np.ndarray
    bandwidths: np.ndarray
    depths: np.ndarray
    steps: np.ndarray
    mean: np.ndarray
    se: np.ndarray


def schedule_bandwidth(schedule: str, context_size: int, bandwidth, dim: int, reference_size: int = 64) -> float:
    r"""The bandwidth at context size ``N``: fixed, or :math:`h (N/N_0)^{-1/(n+4)}` (the rate that
    balances squared bias :math:`O(h^4)` against variance :math:`O(1/(N h^n))` in kernel density
    estimation)."""
    check_choice(schedule, "schedule", SCHEDULES)
    n = check_int(context_size, "context_size", minimum=1)
    h = check_scale(bandwidth, "bandwidth")
    d = check_int(dim, "dim", minimum=1)
    n0 = check_int(reference_size, "reference_size", minimum=1)
    return h if schedule == "fixed" else h * (n / n0) ** (-1.0 / (d + 4))


@implements("thm-gaussian-recovery")
def recovery_settings(sigma, bandwidth, prior_variance, nominal_step: float = 0.5) -> tuple[int, float]:
    """Depth and exact step for one bandwidth: ``depth = flow_depth(nominal_step, h, T*)`` (at least 1),
    then :func:`ebcore.horizon.exact_step`. ``prior_variance`` is the prior's variance per coordinate
    (for non-Gaussian priors the Gaussian horizon is a heuristic)."""
    t_star = gaussian_horizon(sigma, bandwidth, prior_variance)
    nominal_step = check_positive(nominal_step, "nominal_step")
    try:
        depth = max(1, flow_depth(nominal_step, bandwidth, t_star))
        return depth, exact_step(sigma, bandwidth, prior_variance, depth)
    except ValueError as exc:  # the inner functions name their own arguments (step, depth)
        raise ValueError(f"nominal_step={nominal_step!r} with bandwidth={bandwidth!r}: {exc}") from None


def two_stage_excess(prior: Prior, sigma, context_size: int, bandwidth, step, depth: int, n_contexts: int, rng):
    r"""Per-context excess risk :math:`\frac1N\sum_i |f_N(y_i) - E[x_i \mid y_i]|^2` of the two-stage
    estimator on ``n_contexts`` fresh contexts (one batched call). Returns shape ``(n_contexts,)``."""
    if not isinstance(prior, Prior):
        raise TypeError(f"prior must be an ebcore.priors.Prior, got {type(prior).__name__}")
    s = check_scale(sigma, "sigma")
    n = check_int(context_size, "context_size", minimum=1)
    b = check_int(n_contexts, "n_contexts", minimum=1)
    gen = as_generator(rng)
    clean = prior.sample(b * n, gen).reshape(b, n, prior.dim)
    noisy = clean + s * gen.standard_normal(clean.shape)
    estimate = two_stage_denoise(noisy, bandwidth, step, depth, s)
    return ((estimate - prior.posterior_mean(noisy, s)) ** 2).sum(-1).mean(-1)


@implements("conj-recovery")
def recovery_curve(prior: Prior, sigma, context_sizes, *, schedule: str, bandwidth, prior_variance,
                   tokens_per_size: int = 32768, min_contexts: int = 4, seed=0,
                   cache_as: str | None = None) -> RecoveryCurve:
    r"""Excess risk of the two-stage estimator against context size (see the module docstring).

    At size ``N``, ``max(min_contexts, tokens_per_size // N)`` independent contexts are drawn, so
    every size costs about the same number of token estimates; the standard error is over contexts.
    ``seed`` is an integer or a list of integers (numpy's seed sequence). With ``cache_as`` (a name
    for the prior, part of the key together with every other argument and the code version) the
    curve goes through the results cache.

    Parameters
    ----------
    prior : Prior
        The prior of the clean tokens (an :class:`ebcore.priors.Prior`).
    sigma : float > 0
        The noise level :math:`\sigma` (also Stage 2's bandwidth).
    context_sizes : sequence of int
        The context sizes ``N``, at least two of them, each >= 2.
    schedule : str
        One of :data:`SCHEDULES`: ``"fixed"`` keeps ``bandwidth``, ``"shrinking"`` scales it as
        :math:`(N/N_0)^{-1/(n+4)}` from the first size :math:`N_0` (:func:`schedule_bandwidth`).
    bandwidth : float > 0
        Stage 1's bandwidth at the first size.
    prior_variance : float > 0
        The prior's variance per coordinate, for the Gaussian horizon that sets the depth and step
        (:func:`recovery_settings`; a heuristic for non-Gaussian priors).
    tokens_per_size : int >= 2
        About how many token estimates each size costs.
    min_contexts : int >= 2
        The fewest contexts per size.
    seed : int or sequence of int
        Non-negative seed(s) of the draws.
    cache_as : str, optional
        A name for the prior; given, the curve goes through the results cache.

    Returns
    -------
    RecoveryCurve
        Per size: the context size, bandwidth, depth and step used, and the mean excess risk with its
        standard error over contexts.

    Raises
    ------
    TypeError
        If ``context_sizes`` or ``seed`` is not integers, ``tokens_per_size`` or ``min_contexts`` is not
        an integer, ``sigma``, ``bandwidth`` or ``prior_variance`` is not a real number, ``cache_as`` is
        neither ``None`` nor a non-empty string, or (when the curve is computed) ``prior`` is not an
        :class:`ebcore.priors.Prior`.
    ValueError
        If fewer than two sizes are given or one is below 2, ``schedule`` is unknown,
        ``tokens_per_size`` or ``min_contexts`` is below 2, a seed is negative, ``sigma`` or
        ``bandwidth`` is not a finite number in ``[1e-150, 1e150]``, ``prior_variance`` is not a
        finite number > 0, or no exact step exists for a size's depth (:func:`recovery_settings`).
    """
    from .validation import check_int_sequence, check_seed

    # validated before anything is keyed or computed: a key names exactly what is computed
    sizes_list = check_int_sequence(context_sizes, "context_sizes", minimum=2, min_length=2)
    check_choice(schedule, "schedule", SCHEDULES)
    tokens_per_size = check_int(tokens_per_size, "tokens_per_size", minimum=2)
    min_contexts = check_int(min_contexts, "min_contexts", minimum=2)
    seed = check_seed(seed)
    sigma = check_scale(sigma, "sigma")
    bandwidth = check_scale(bandwidth, "bandwidth")
    prior_variance = check_positive(prior_variance, "prior_variance")
    if cache_as is not None:
        if not isinstance(cache_as, str) or not cache_as:
            raise TypeError(f"cache_as must be a non-empty string or None, got {cache_as!r}")
        seed_list = seed if isinstance(seed, list) else [seed]
        from .cache import array_digest, cached

        # the name is for people; the fingerprint (seeded draws) makes a changed prior a new key
        fingerprint = array_digest(prior.sample(256, np.random.default_rng(0)))
        config = {"prior": cache_as, "fingerprint": fingerprint, "sigma": sigma, "sizes": sizes_list,
                  "schedule": schedule, "bandwidth": bandwidth, "prior_variance": prior_variance,
                  "tokens_per_size": tokens_per_size, "min_contexts": min_contexts, "seed": seed_list}
        entry = cached("recovery-curve", config, lambda: (recovery_curve(
            prior, sigma, context_sizes, schedule=schedule, bandwidth=bandwidth, prior_variance=prior_variance,
            tokens_per_size=tokens_per_size, min_contexts=min_contexts, seed=seed_list)._asdict(), {}))
        return RecoveryCurve(**{k: entry.arrays[k] for k in RecoveryCurve._fields})
    sizes = np.asarray(sizes_list, dtype=np.int64)
    tokens = tokens_per_size
    gen = np.random.default_rng(seed)
    rows = []
    for size in sizes:
        h = schedule_bandwidth(schedule, int(size), bandwidth, prior.dim, int(sizes[0]))
        depth, step = recovery_settings(sigma, h, prior_variance)
        excess = two_stage_excess(prior, sigma, int(size), h, step, depth, max(min_contexts, tokens // int(size)), gen)
        rows.append((h, depth, step, *mean_and_se(excess)))
    h, depth, step, mean, se = (np.array(col) for col in zip(*rows))
    return RecoveryCurve(sizes, h, depth.astype(np.int64), step, mean, se)


#: The fields of :func:`baseline_comparison`'s result, each an array over contexts (last axis).
BASELINE_FIELDS = ("one_layer_excess", "one_layer_sure", "two_stage_excess", "two_stage_sure", "bayes_mse")


@implements("prop-sure")
def baseline_comparison(prior: Prior, sigma, context_size: int, n_contexts: int, *, one_layer_bandwidths,
                        two_stage_bandwidths, step, max_depth: int, probes: int = 2, seed=0,
                        cache_as: str | None = None) -> dict:
    r"""The one-layer empirical-Bayes denoiser against the two-stage estimator, on the same contexts.

    ``n_contexts`` contexts of ``context_size`` tokens are drawn from ``prior`` with noise ``sigma``.
    The one-layer estimator :func:`ebcore.tweedie.tweedie_denoise` is run at every bandwidth of
    ``one_layer_bandwidths``; the two-stage estimator (:func:`ebcore.dynamics.two_stage_sweep`, Stage 2
    at bandwidth ``sigma``) at every Stage 1 bandwidth of ``two_stage_bandwidths`` with step ``step``
    and every depth ``0..max_depth``. For every setting and context the result holds the excess risk
    over the Bayes denoiser (per token: :math:`\frac1N\sum_i |f(y_i) - E[x_i\mid y_i]|^2`) and the
    SURE estimate of the per-token risk :math:`\frac1N E|f(y) - x|^2` from the noisy tokens and
    ``sigma`` alone (:func:`ebcore.sure.monte_carlo_sure`), plus the Bayes risk of each context's
    draw, so that settings can be chosen either by an oracle or from the data.

    Parameters
    ----------
    prior : Prior
        The prior of the clean tokens.
    sigma : float > 0
        The noise level.
    context_size, n_contexts : int >= 2
        Tokens per context and contexts.
    one_layer_bandwidths, two_stage_bandwidths : sequence of float > 0
        The bandwidth grids.
    step : float > 0
        Stage 1's residual step.
    max_depth : int >= 0
        The deepest Stage 1 depth tried.
    probes : int >= 1
        Monte Carlo probes of the SURE divergence.
    seed : int or sequence of int
        Seeds the contexts and the probes.
    cache_as : str, optional
        A name for the prior; given, the result goes through the results cache.

    Returns
    -------
    dict
        ``"one_layer_excess"`` and ``"one_layer_sure"`` of shape ``(H1, B)``, ``"two_stage_excess"`` and
        ``"two_stage_sure"`` of shape ``(H2, max_depth + 1, B)``, ``"bayes_mse"`` of shape ``(B,)``.

    Raises
    ------
    TypeError
        If ``prior`` is not an :class:`ebcore.priors.Prior`, a count is not an integer, a bandwidth,
        ``sigma`` or ``step`` is not a real number, or ``cache_as`` is neither ``None`` nor a string.
    ValueError
        If a count is out of range, a grid is empty, a bandwidth, ``sigma`` or ``step`` is not a finite
        number > 0, or a seed is negative.
    """
    from .dynamics import two_stage_sweep
    from .sure import monte_carlo_sure
    from .tweedie import tweedie_denoise
    from .validation import check_seed

    if not isinstance(prior, Prior):
        raise TypeError(f"prior must be an ebcore.priors.Prior, got {type(prior).__name__}")
    sigma = check_scale(sigma, "sigma")
    context_size = check_int(context_size, "context_size", minimum=2)
    n_contexts = check_int(n_contexts, "n_contexts", minimum=2)
    grids = {}
    for name, grid in (("one_layer_bandwidths", one_layer_bandwidths), ("two_stage_bandwidths", two_stage_bandwidths)):
        values = [check_scale(h, name) for h in np.atleast_1d(np.asarray(grid, dtype=object)).ravel()]
        if not values:
            raise ValueError(f"{name} must not be empty")
        grids[name] = values
    step = check_positive(step, "step")
    max_depth = check_int(max_depth, "max_depth", minimum=0)
    probes = check_int(probes, "probes", minimum=1)
    seed = check_seed(seed)
    seed_list = seed if isinstance(seed, list) else [seed]
    if cache_as is not None:
        if not isinstance(cache_as, str) or not cache_as:
            raise TypeError(f"cache_as must be a non-empty string or None, got {cache_as!r}")
        from .cache import array_digest, cached

        config = {"prior": cache_as, "fingerprint": array_digest(prior.sample(256, np.random.default_rng(0))),
                  "sigma": sigma, "context_size": context_size, "n_contexts": n_contexts, **grids, "step": step,
                  "max_depth": max_depth, "probes": probes, "seed": seed_list}
        entry = cached("baseline-comparison", config, lambda: (baseline_comparison(
            prior, sigma, context_size, n_contexts, **grids, step=step, max_depth=max_depth, probes=probes,
            seed=seed_list), {}))
        return {k: entry.arrays[k] for k in BASELINE_FIELDS}

    gen = np.random.default_rng(seed_list)
    clean = prior.sample(n_contexts * context_size, gen).reshape(n_contexts, context_size, prior.dim)
    noisy = clean + sigma * gen.standard_normal(clean.shape)
    bayes = prior.posterior_mean(noisy, sigma)
    probe_seed = int(gen.integers(2**31))

    def one_layer(tokens):
        return np.stack([tweedie_denoise(tokens, h, sigma) for h in grids["one_layer_bandwidths"]])

    def two_stage(tokens):
        return np.stack([two_stage_sweep(tokens, h, step, max_depth, sigma)[1] for h in grids["two_stage_bandwidths"]])

    def excess(estimates):
        return ((estimates - bayes) ** 2).sum(-1).mean(-1)

    per_token = prior.dim  # SURE is per coordinate; the excess and the Bayes risk are per token
    out = {"bayes_mse": ((bayes - clean) ** 2).sum(-1).mean(-1)}
    for name, denoiser in (("one_layer", one_layer), ("two_stage", two_stage)):
        estimates = denoiser(noisy)
        out[f"{name}_excess"] = excess(estimates)
        out[f"{name}_sure"] = per_token * monte_carlo_sure(denoiser, noisy, sigma, probes=probes, seed=probe_seed,
                                                           denoised=estimates)
    return out


def cross_fitted_choice(sure, excess) -> np.ndarray:
    """Per-context excess of the setting chosen from the data: the lowest mean SURE on the other half.

    The contexts (last axis) are split into even and odd positions; the setting (any leading axes,
    flattened) with the lowest mean SURE on one half is applied to the other, so no context's own
    noise picks its setting (a choice made on the same contexts would favour settings whose SURE is
    low by chance on them).

    Parameters
    ----------
    sure, excess : numpy.ndarray, shape (..., B)
        SURE and excess risk of every setting on every context (``B >= 2``), same shape.

    Returns
    -------
    numpy.ndarray, shape (B,)
        The excess of the chosen setting on each context.

    Raises
    ------
    TypeError
        If either is not a floating-point numpy array.
    ValueError
        If their shapes differ, there are fewer than two contexts, or a value is not finite.
    """
    for name, x in (("sure", sure), ("excess", excess)):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
        check_array(x, name)
    if sure.shape != excess.shape or sure.ndim < 1 or sure.shape[-1] < 2:
        raise ValueError(f"sure and excess must have one shape (..., B) with B >= 2, got {sure.shape} and "
                         f"{excess.shape}")
    b = sure.shape[-1]
    s, e = sure.reshape(-1, b), excess.reshape(-1, b)
    even = np.arange(b) % 2 == 0
    out = np.empty(b)
    for tune, apply in ((even, ~even), (~even, even)):
        out[apply] = e[int(s[:, tune].mean(axis=1).argmin()), apply]
    return out
