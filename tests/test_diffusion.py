"""Reverse diffusion (chapter 6): the probability-flow ODE, trajectory errors, input checks."""
import numpy as np
import pytest

import ebcore
from ebcore import diffusion, priors


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.diffusion.trajectory_error(ebcore.diffusion.one_d_prior("gaussian"), 1.0, 0, 0.5, 0.5, 0.1, 0, 1),
     ValueError, "n_tokens"),
    (lambda: ebcore.diffusion.error_grid("gaussian", 1.0, [64.5], [0.5], 0.5, 0.1, 2, 0), TypeError, "sizes"),
    (lambda: ebcore.diffusion.error_grid("gaussian", 1.0, [64], [0.5], 0.5, 0.1, 2, "0"), TypeError, "seed"),
])
def test_inputs_that_used_to_reach_raw_exceptions_or_a_wrong_cache_entry(call, error, match):
    # each of these raised an AttributeError/KeyError/IndexError/RuntimeError from deep inside, or
    # (the cached functions) converted 2.9 to 2 or 0.7 to 0 and served another entry from a warm cache
    with pytest.raises(error, match=match):
        call()


@pytest.mark.audit("prop-backward-heat")
def test_probability_flow_ode_solver():
    mean = np.array([0.5])
    gaussian = priors.Gaussian(mean, np.array([[0.8]]))
    as_mixture = priors.GaussianMixture(mean[None], np.array([1.0]), np.sqrt(0.8))
    y = np.linspace(-3, 3, 7)[:, None]
    np.testing.assert_allclose(diffusion.probability_flow_ode(as_mixture, y, 1.0, 0.45),
                               diffusion.probability_flow_ode(gaussian, y, 1.0, 0.45), atol=1e-7)
    with pytest.raises(ValueError, match="time must be <"):
        diffusion.probability_flow_ode(gaussian, y, 1.0, 0.5)


def test_trajectory_error_reaches_the_time_exactly():
    errors = diffusion.trajectory_error(diffusion.one_d_prior("gaussian"), 1.0, 64, 0.7, 0.5, 0.3, 0, n_contexts=2)
    assert errors.shape == (2,) and np.isfinite(errors).all()


@pytest.mark.parametrize("call, error, match", [
    (lambda t: diffusion.error_grid("gaussian", 1.0, [8, 16], [0.5], 0.5, 0.2, 2, 0, schedule=True),
     ValueError, "one entry per size"),
    (lambda t: diffusion.one_d_prior("laplace"), ValueError, "name"),
])
def test_bad_input_is_named(call, error, match):
    tokens = np.random.default_rng(0).standard_normal((2, 5, 2))
    with pytest.raises(error, match=match):
        call(tokens)


def test_clumping_counts_clumps_and_their_weights():
    """Two tight pairs and a lone token, far apart at this bandwidth: three clumps, each token's weight all on
    its clump (about half of it on itself in a pair), and a mean speed of 4/5 of (gap x partner weight); spread-out tokens are one
    token per clump with a small clump weight."""
    from ebcore import diffusion

    tight = np.array([[0.0], [0.001], [1.0], [1.001], [5.0]])
    result = diffusion.clumping(tight, 0.1)
    assert result["clumps"] == 3
    assert result["clump_weight"] == pytest.approx(1.0, abs=1e-12)
    pair_own = 1 / (1 + np.exp(-0.001**2 / (2 * 0.1**2)))  # the partner's weight is a hair below one's own
    assert result["own_weight"] == pytest.approx((4 * pair_own + 1) / 5, rel=1e-12)
    assert result["speed"] == pytest.approx(4 * 0.001 * (1 - pair_own) / 5, rel=1e-9)
    spread = np.linspace(0.0, 10.0, 50)[:, None]
    loose = diffusion.clumping(spread, 0.3)
    assert loose["clumps"] == 50 and loose["clump_weight"] == pytest.approx(loose["own_weight"])
    assert loose["clump_weight"] < 0.5
    with pytest.raises(ValueError, match="tokens"):
        diffusion.clumping(np.zeros((4, 2)), 0.3)
    with pytest.raises(ValueError, match="radius"):
        diffusion.clumping(tight, 0.1, radius=1.5)
