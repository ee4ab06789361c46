r"""The reverse-diffusion limit of Stage 1 ({prf:ref}`prop-backward-heat`, {prf:ref}`conj-reverse-diffusion`).

As :math:`h \to 0` the Stage 1 velocity :math:`\nabla\log(\rho_t * \varphi_h)` becomes
:math:`\nabla \log \rho_t`, and started from the noisy law :math:`\rho_0 * \varphi_\sigma` the particles
follow the probability-flow ODE of a variance-exploding diffusion run backward,
:math:`\dot x = \nabla \log p_{\sigma^2 - 2t}(x)` with :math:`p_v = \rho_0 * N(0, v I)`, whose noise
variance falls at rate 2 and vanishes at :math:`t = \sigma^2/2`.
"""
from __future__ import annotations

import numpy as np

from .dynamics import particle_flow
from .priors import Gaussian, Prior
from .registry import implements
from .stats import mean_and_se
from .validation import check_array, check_fraction, check_positive, check_scale

__all__ = ["probability_flow_ode", "trajectory_error", "ONE_D_PRIORS", "one_d_prior", "error_grid",
           "gaussian_meanfield_bias", "clumping"]


@implements("prop-backward-heat")
def probability_flow_ode(prior: Prior, y, sigma, time, rtol: float = 1e-10):
    r"""Solve :math:`\dot x = \nabla \log p_{\sigma^2 - 2t}(x)`, :math:`x(0) = y`, up to ``time``.

    Gaussian priors use the closed form :math:`x(t) - m = \sqrt{(C + (\sigma^2 - 2t))(C + \sigma^2)^{-1}}\,(y - m)`
    (in the eigenbasis of :math:`C`); other priors are integrated with scipy's DOP853 at relative
    tolerance ``rtol``, every point at once, with the prior's closed-form ``score``.
    Requires ``time < sigma**2 / 2``. Returns an array shaped like ``y``.
    """
    from scipy.integrate import solve_ivp

    check_array(y, "y", ndim=2)
    s = check_scale(sigma, "sigma")
    t_end = check_positive(time, "time")
    rtol = check_fraction(rtol, "rtol")
    if t_end >= s * s / 2:
        raise ValueError(f"time must be < sigma**2 / 2 = {s * s / 2}, got {t_end}")
    y = np.asarray(y, dtype=np.float64)
    if isinstance(prior, Gaussian):
        values, vectors = prior.eigenvalues, prior.eigenvectors
        coords = (y - prior.mean) @ vectors
        factor = np.sqrt((values + s * s - 2 * t_end) / (values + s * s))
        return prior.mean + (coords * factor) @ vectors.T
    shape = y.shape
    rhs = lambda t, flat: prior.score(flat.reshape(shape), np.sqrt(s * s - 2 * t)).ravel()
    solution = solve_ivp(rhs, (0.0, t_end), y.ravel(), method="DOP853", rtol=rtol, atol=rtol)
    if not solution.success:
        raise RuntimeError(f"the ODE solver failed: {solution.message}")
    return solution.y[:, -1].reshape(shape)


#: The most Stage 1 layers :func:`trajectory_error` runs. More means a mistaken ``max_step`` or ``time``.
MAX_LAYERS = 10**6


@implements("conj-reverse-diffusion")
def trajectory_error(prior: Prior, sigma, n_tokens: int, bandwidth, max_step, time, rng, n_contexts: int = 1):
    r"""RMS distance at ``time`` between Stage 1 tokens and the probability-flow ODE from the same start.

    Draws ``n_contexts`` contexts of ``n_tokens`` noisy tokens and runs
    :math:`L = \lceil t / (\eta_{max} h^2)\rceil` layers with step :math:`t/(L h^2) \le \eta_{max}`, so
    the flow reaches ``time`` exactly; compares each token with the ODE solution started at its own
    noisy value. Returns the RMS error per context (numpy array of length ``n_contexts``).
    """
    from .seeding import as_generator
    from .validation import check_int

    if not isinstance(prior, Prior):
        raise TypeError(f"prior must be an ebcore.priors.Prior, got {type(prior).__name__}")
    gen = as_generator(rng)
    sigma = check_scale(sigma, "sigma")
    n_tokens = check_int(n_tokens, "n_tokens", minimum=1)
    n_contexts = check_int(n_contexts, "n_contexts", minimum=1)
    h = check_scale(bandwidth, "bandwidth")
    eta_max = check_positive(max_step, "max_step")
    reached = check_positive(time, "time")
    n_layers = reached / (eta_max * h * h)
    if not n_layers <= MAX_LAYERS:
        raise ValueError(f"time, max_step, bandwidth: time / (max_step * bandwidth**2) = {n_layers:.3g} layers, "
                         f"more than MAX_LAYERS = {MAX_LAYERS}; raise max_step or lower time")
    layers = max(1, int(np.ceil(n_layers - 1e-12)))
    step = reached / (layers * h * h)
    x = prior.sample(n_contexts * n_tokens, gen)
    y = (x + sigma * gen.standard_normal(x.shape)).reshape(n_contexts, n_tokens, prior.dim)
    flowed = particle_flow(y, h, step, layers)
    reference = probability_flow_ode(prior, y.reshape(-1, prior.dim), sigma, reached).reshape(y.shape)
    return np.sqrt(((flowed - reference) ** 2).sum(-1).mean(-1))


#: One-dimensional test priors of the reverse-diffusion chapter, by name.
ONE_D_PRIORS = ("gaussian", "mixture")


def one_d_prior(name: str) -> Prior:
    """``"gaussian"``: N(0, 1); ``"mixture"``: 0.5 N(-1.5, 0.09) + 0.5 N(1, 0.09).

    Parameters
    ----------
    name : str
        One of :data:`ONE_D_PRIORS`.

    Returns
    -------
    Prior
        A :class:`~ebcore.priors.Gaussian` or a :class:`~ebcore.priors.GaussianMixture` on the line.

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`ONE_D_PRIORS`.
    """
    from .priors import GaussianMixture
    from .validation import check_choice

    check_choice(name, "name", ONE_D_PRIORS)
    if name == "gaussian":
        return Gaussian(np.zeros(1), np.eye(1))
    return GaussianMixture(np.array([[-1.5], [1.0]]), np.array([0.5, 0.5]), 0.3)


@implements("conj-reverse-diffusion")
def error_grid(prior_name: str, sigma, sizes, bandwidths, max_step, time, n_contexts, seed: int,
               schedule: bool = False):
    r"""Mean trajectory error (:func:`trajectory_error`) on a grid of token counts x bandwidths.

    ``bandwidths`` is one list used for every size, or with ``schedule=True`` one bandwidth per size.
    ``n_contexts`` is one count for every size or one count per size (small contexts are cheap and
    their errors noisy, so they can afford more). Results go through the results cache. Returns
    ``(mean, standard_error)`` arrays shaped ``(len(sizes), len(bandwidths))`` (``(len(sizes),)``
    for a schedule); the standard error is over contexts.

    Parameters
    ----------
    prior_name : str
        One of :data:`ONE_D_PRIORS` (see :func:`one_d_prior`).
    sigma : float > 0
        The noise level :math:`\sigma`.
    sizes : sequence of int
        The token counts, each >= 2.
    bandwidths : sequence of float
        The bandwidths, each > 0: a grid, or one per size with ``schedule``.
    max_step : float > 0
        The largest residual step (see :func:`trajectory_error`).
    time : float > 0
        The continuous time at which the errors are taken (below :math:`\sigma^2/2`).
    n_contexts : int or sequence of int
        Contexts per grid point, each >= 2: one count, or one per size.
    seed : int >= 0
        Seeds the contexts (each grid point draws from ``[seed, index]``).
    schedule : bool
        Pair ``sizes`` and ``bandwidths`` one to one instead of taking every combination.

    Returns
    -------
    mean : numpy.ndarray, shape (len(sizes), len(bandwidths)) or (len(sizes),)
        The mean RMS error over contexts.
    standard_error : numpy.ndarray
        Its standard error over contexts, of the same shape.

    Raises
    ------
    TypeError
        If ``sigma``, ``max_step``, ``time`` or a bandwidth is not a real number, ``sizes`` or
        ``bandwidths`` is not a sequence, a size, a context count or ``seed`` is not an integer, or
        ``schedule`` is not a bool.
    ValueError
        If ``prior_name`` is unknown, ``sigma`` or a bandwidth is not a finite number in
        ``[1e-150, 1e150]``, a size is below 2, ``bandwidths`` is empty, ``max_step`` or ``time`` is
        not a finite number > 0, ``seed`` is negative, ``schedule`` pairs lists of different lengths,
        ``n_contexts`` is neither one count nor one per size or holds a count below 2, or (when the
        grid is computed) ``time`` is not below :math:`\sigma^2/2` or a point needs more than
        ``MAX_LAYERS`` layers.
    """
    from .cache import cached
    from .validation import check_choice, check_int, check_int_sequence

    # validated before the key is built: a key names exactly what is computed
    check_choice(prior_name, "prior_name", ONE_D_PRIORS)
    sigma = check_scale(sigma, "sigma")
    sizes = check_int_sequence(sizes, "sizes", minimum=2)
    if isinstance(bandwidths, (str, bytes)) or not hasattr(bandwidths, "__len__"):
        raise TypeError(f"bandwidths must be a sequence of numbers, got {type(bandwidths).__name__}")
    bands = [check_scale(v, f"bandwidths[{i}]") for i, v in enumerate(np.asarray(bandwidths).ravel().tolist())]
    if not bands:
        raise ValueError("bandwidths must not be empty")
    max_step = check_positive(max_step, "max_step")
    time = check_positive(time, "time")
    seed = check_int(seed, "seed", minimum=0)
    if not isinstance(schedule, bool):
        raise TypeError(f"schedule must be a bool, got {type(schedule).__name__}")
    if schedule and len(bands) != len(sizes):
        raise ValueError("with schedule=True, bandwidths must have one entry per size")
    counts = np.atleast_1d(np.asarray(n_contexts))
    if counts.ndim != 1 or len(counts) not in (1, len(sizes)):
        raise ValueError(f"n_contexts must be one count or one count per size, got {n_contexts!r}")
    # at least two contexts per point: the standard error needs two
    counts = [check_int(c, "n_contexts", minimum=2) for c in counts.tolist()]
    if len(counts) == 1:
        counts = counts * len(sizes)
    config = {"prior": prior_name, "sigma": sigma, "sizes": sizes, "bandwidths": bands, "max_step": max_step,
              "time": time, "n_contexts": counts, "seed": seed, "schedule": schedule}

    def compute():
        prior = one_d_prior(prior_name)
        pairs = (list(zip(sizes, bands, counts)) if schedule
                 else [(n, h, c) for n, c in zip(sizes, counts) for h in bands])
        means, ses = [], []
        for index, (n, h, contexts) in enumerate(pairs):
            errors = trajectory_error(prior, sigma, n, h, max_step, time, np.random.default_rng([seed, index]),
                                      contexts)
            mean, se = mean_and_se(errors)
            means.append(mean)
            ses.append(se)
        return {"mean": np.array(means), "se": np.array(ses)}, {}

    entry = cached("diffusion-error-grid", config, compute)
    shape = (len(sizes),) if schedule else (len(sizes), len(bands))
    return entry.arrays["mean"].reshape(shape), entry.arrays["se"].reshape(shape)


@implements("prop-gaussian-bias")
def gaussian_meanfield_bias(prior_variance, sigma, bandwidth, time) -> float:
    r"""RMS distance at ``time`` between the fixed-:math:`h` mean-field flow and the probability-flow ODE
    for :math:`\rho_0 = N(m, s_0^2)` in one coordinate ({prf:ref}`prop-gaussian-bias`).

    Both maps are linear in :math:`y - m`: :math:`\sqrt{v_h(t)/v_0}` and :math:`\sqrt{(v_0 - 2t)/v_0}`
    with :math:`v_0 = s_0^2 + \sigma^2`, so the RMS distance is
    :math:`\lvert\sqrt{v_h(t)} - \sqrt{v_0 - 2t}\rvert` (as :math:`E(y-m)^2 = v_0`).

    Parameters
    ----------
    prior_variance : float > 0
        The prior's variance :math:`s_0^2`.
    sigma : float > 0
        The noise level :math:`\sigma`.
    bandwidth : float > 0
        The kernel bandwidth :math:`h` of the mean-field flow.
    time : float, 0 < time < sigma**2 / 2
        The continuous time :math:`t`.

    Returns
    -------
    float
        The RMS distance.

    Raises
    ------
    TypeError
        If an argument is not a real number.
    ValueError
        If ``sigma`` or ``bandwidth`` is not a finite number in ``[1e-150, 1e150]``,
        ``prior_variance`` or ``time`` is not a finite number > 0, or ``time`` is not below
        :math:`\sigma^2/2`.
    """
    from .horizon import gaussian_variance_ode

    s = check_scale(sigma, "sigma")
    v0 = check_positive(prior_variance, "prior_variance") + s * s
    t = check_positive(time, "time")
    if t >= s * s / 2:
        raise ValueError(f"time must be < sigma**2 / 2 = {s * s / 2!r}, got {t!r}")
    v_h = float(gaussian_variance_ode(v0, bandwidth, t))
    return abs(np.sqrt(v_h) - np.sqrt(v0 - 2 * t))


@implements("conj-reverse-diffusion")
def clumping(tokens, bandwidth, radius: float = 0.1) -> dict:
    r"""How clumped a cloud of tokens is at a bandwidth, and how fast Stage 1 still moves it.

    A clump is a run of tokens whose gaps are all below ``radius * bandwidth`` (tokens sorted along
    their one coordinate). For each token, its attention weight on itself and on the tokens within
    ``radius * bandwidth`` of it are averaged over the tokens, with the mean speed
    :math:`|A_h(p_i) - p_i|` of one layer's move ({doc}`06_reverse_diffusion` measures why the flow
    freezes along fast-shrinking bandwidths).

    Parameters
    ----------
    tokens : numpy.ndarray, shape (N, 1)
        One-dimensional tokens, float64.
    bandwidth : float > 0
        The kernel bandwidth :math:`h`.
    radius : float in (0, 1)
        The clump radius as a fraction of the bandwidth.

    Returns
    -------
    dict
        ``own_weight`` (mean weight of a token on itself), ``clump_weight`` (mean weight on the
        tokens within the radius, itself included), ``clumps`` (their number), ``speed`` (mean
        :math:`|A_h(p) - p|`) and ``variance`` (the tokens' variance).

    Raises
    ------
    TypeError
        If ``tokens`` is not a float64 numpy array, or ``bandwidth`` or ``radius`` is not a real number.
    ValueError
        If ``tokens`` is not of shape (N, 1) with N >= 2 or holds a non-finite value, ``bandwidth`` is not
        a finite number in ``[1e-150, 1e150]``, or ``radius`` is not in (0, 1).
    """
    p = check_array(tokens, "tokens", ndim=2)
    if p.dtype != np.float64:
        raise TypeError(f"tokens must be float64, got {p.dtype}")
    if p.shape[1] != 1 or p.shape[0] < 2:
        raise ValueError(f"tokens must have shape (N, 1) with N >= 2, got {p.shape}")
    h = check_scale(bandwidth, "bandwidth")
    r = check_fraction(radius, "radius")
    x = p[:, 0]
    own, clump, move = np.empty(len(x)), np.empty(len(x)), np.empty(len(x))
    for start in range(0, len(x), 1024):  # rows of the attention matrix in blocks: memory O(1024 N)
        rows = x[start:start + 1024, None] - x[None, :]
        logits = -(rows ** 2) / (2 * h * h)
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        block = np.arange(start, start + len(rows))
        own[block] = weights[np.arange(len(rows)), block]
        clump[block] = (weights * (np.abs(rows) < r * h)).sum(axis=1)
        move[block] = np.abs(weights @ x - x[block])  # |A_h(p) - p| from the same weights
    gaps = np.diff(np.sort(x))
    return {"own_weight": float(own.mean()), "clump_weight": float(clump.mean()),
            "clumps": int(1 + (gaps >= r * h).sum()), "speed": float(move.mean()), "variance": float(x.var())}
