"""The Gaussian horizon: exact steps, the layer recursion, the variance ODE (chapters 5 and 7)."""
import numpy as np
import pytest

import ebcore
from ebcore import horizon, priors, recovery


@pytest.mark.audit("thm-gaussian-recovery")
def test_exact_step_returns_the_prior():
    for sigma, h, depth in ((0.5, 0.5, 1), (1.0, 0.3, 25), (2.0, 1.5, 3)):
        step = horizon.exact_step(sigma, h, 0.7, depth)
        assert 0 < step <= 1
        assert horizon.gaussian_variance_layers(0.7 + sigma**2, h, step, depth)[-1] == pytest.approx(0.7, abs=1e-12)
    # a large-context Gaussian run at the exact step is close to Bayes (population theorem + finite N)
    prior = priors.Gaussian(np.zeros(2), np.eye(2))
    depth, step = recovery.recovery_settings(1.0, 1.0, 1.0)
    excess = recovery.two_stage_excess(prior, 1.0, 2048, 1.0, step, depth, 2, 0)
    assert excess.mean() < 0.02  # the measured 1/N curve of chapter 7 gives about 0.004 here
    with pytest.raises(ValueError, match="too few"):
        horizon.exact_step(3.0, 0.1, 1.0, 1)


def test_bad_input_names_the_argument():
    """Every public function added for chapters 7, 8, 12 and 13 rejects bad input with the argument's name."""
    cases = [
        (ValueError, "sigma", lambda: horizon.exact_step(-1.0, 1.0, 1.0, 2)),
        (ValueError, "depth", lambda: horizon.exact_step(1.0, 1.0, 1.0, 0)),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()


@pytest.mark.audit("thm-gaussian-horizon")
def test_gaussian_layer_recursion_matches_particles():
    """One layer over a Gaussian *density* (fine weighted quadrature grid) is the recursion's linear map."""
    v, h, step = 1.7, 0.6, 0.8
    grid = np.linspace(-12, 12, 4001)[:, None]
    weights = np.exp(-grid[:, 0] ** 2 / (2 * v))
    x = np.array([[-2.0], [0.3], [1.5]])
    moved = x + step * (ebcore.posterior_mean(x, grid, h, weights) - x)
    factor = np.sqrt(horizon.gaussian_variance_layers(v, h, step, 1)[1] / v)
    np.testing.assert_allclose(moved, factor * x, atol=1e-9)


def test_gaussian_horizon_limits():
    assert horizon.gaussian_horizon(1.3, 0.0, 2.0) == pytest.approx(1.3**2 / 2)
    t = horizon.gaussian_horizon(1.0, 0.5, 0.5)
    assert horizon.gaussian_variance_ode(1.5, 0.5, t) == pytest.approx(0.5, rel=1e-12)
    assert horizon.gaussian_depth(1.0, 0.5, 0.5, 0.1) == ebcore.flow_depth(0.1, 0.5, t)


@pytest.mark.parametrize("call, error, match", [
    (lambda t: horizon.gaussian_variance_ode(1.0, 1.0, -0.1), ValueError, "time"),
])
def test_bad_input_is_named(call, error, match):
    tokens = np.random.default_rng(0).standard_normal((2, 5, 2))
    with pytest.raises(error, match=match):
        call(tokens)


@pytest.mark.audit("prop-gaussian-landscapes")
@pytest.mark.parametrize("seed", [3, 11])
def test_gaussian_landscapes_match_many_tokens_and_give_the_posterior_mean(seed):
    """Part 1 against the empirical query energy of many tokens (plus h^2 log N), within 5 delta-method standard
    errors of the log-mean kernel (about 2e-6 false alarms per query); the unit gradient step of the closed form
    (central differences of the library's function: exact for a quadratic up to round-off, about 1e-11 at
    delta = 1e-5) is the kernel posterior mean; part 2 against the empirical pair energy of batches of the same
    tokens."""
    rng = np.random.default_rng(seed)
    mean, variance, h, n_tokens = np.array([0.5, -1.0]), 0.8, 0.6, 200_000
    tokens = mean + np.sqrt(variance) * rng.standard_normal((n_tokens, 2))
    queries = mean + np.array([[0.0, 0.0], [0.7, -0.3], [-1.2, 0.4]])
    closed = horizon.gaussian_query_landscape(queries, mean, variance, h)
    kernels = np.exp(-((queries[:, None, :] - tokens[None]) ** 2).sum(-1) / (2 * h * h))     # (3, N)
    empirical = ebcore.query_energy(queries, tokens, h) + h * h * np.log(n_tokens)
    se = h * h * kernels.std(axis=1) / (np.sqrt(n_tokens) * kernels.mean(axis=1))
    assert np.all(np.abs(empirical - closed) < 5 * se), (empirical - closed) / se
    delta = 1e-5
    gradient = np.stack([(horizon.gaussian_query_landscape(queries + delta * e, mean, variance, h)
                          - horizon.gaussian_query_landscape(queries - delta * e, mean, variance, h)) / (2 * delta)
                         for e in np.eye(2)], axis=1)
    step = queries - gradient
    assert np.allclose(step, mean + variance / (variance + h * h) * (queries - mean), rtol=0, atol=1e-8)
    # pair energy: 10 disjoint batches of 1,000 tokens (one batched call); each batch's double sum includes its
    # N diagonal terms (kernel 1), so its expectation is 1/N + (1 - 1/N) I with I = exp(-E/h^2) from the closed form
    pairs = np.asarray(ebcore.energy(tokens[:10_000].reshape(10, 1000, 2), h))
    overlap = np.exp(-horizon.gaussian_pair_energy(variance, h, 2) / (h * h))
    expected = -h * h * np.log(1 / 1000 + (1 - 1 / 1000) * overlap)
    # |t| > 5 with 9 degrees of freedom has probability 7e-4
    assert abs(pairs.mean() - expected) < 5 * pairs.std(ddof=1) / np.sqrt(len(pairs))
