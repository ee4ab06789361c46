"""Stein's unbiased risk estimate with a Monte Carlo divergence (chapter 7)."""
import numpy as np
import pytest

from ebcore import priors, recovery, sure


def test_exact_for_a_linear_shrinkage():
    """For T(y) = a y every probe's finite difference is exactly a |b|^2 = a D, so the estimate is the closed
    form (|1 - a|^2 |y|^2 + 2 sigma^2 a D) / D - sigma^2, up to rounding."""
    rng = np.random.default_rng(0)
    noisy = rng.standard_normal((3, 7, 2))
    a, sigma = 0.4, 0.8
    got = sure.monte_carlo_sure(lambda y: a * y, noisy, sigma, probes=3, seed=1)
    d = 7 * 2
    expected = ((1 - a) ** 2 * (noisy**2).sum(axis=(1, 2)) + 2 * sigma**2 * a * d) / d - sigma**2
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_leading_axes_are_settings():
    rng = np.random.default_rng(1)
    noisy = rng.standard_normal((4, 5, 2))
    both = sure.monte_carlo_sure(lambda y: np.stack([0.3 * y, 0.7 * y]), noisy, 1.0, seed=2)
    single = sure.monte_carlo_sure(lambda y: 0.7 * y, noisy, 1.0, seed=2)
    assert both.shape == (2, 4)
    np.testing.assert_allclose(both[1], single, rtol=1e-9)


def test_unbiased_for_a_nonlinear_shrinkage():
    """Soft thresholding (weakly differentiable, divergence = number of coordinates above the threshold):
    over 400 contexts the mean of SURE minus the realised loss lies within 4 standard errors of zero
    (false alarm 6e-5); dropping the divergence term moves it far outside."""
    rng = np.random.default_rng(3)
    clean = rng.standard_normal((400, 16, 2))
    noisy = clean + rng.standard_normal(clean.shape)

    def soft(y):
        return np.sign(y) * np.maximum(np.abs(y) - 0.5, 0.0)

    estimate = sure.monte_carlo_sure(soft, noisy, 1.0, probes=1, epsilon=1e-6, seed=4)
    realised = ((soft(noisy) - clean) ** 2).mean(axis=(1, 2))
    gap = estimate - realised
    assert abs(gap.mean()) < 4 * gap.std(ddof=1) / np.sqrt(len(gap))
    no_divergence = ((soft(noisy) - noisy) ** 2).mean(axis=(1, 2)) - 1.0
    gap = no_divergence - realised
    assert abs(gap.mean()) > 4 * gap.std(ddof=1) / np.sqrt(len(gap))


def test_refusals_name_the_argument():
    noisy = np.zeros((2, 3, 2))
    with pytest.raises(TypeError, match="noisy"):
        sure.monte_carlo_sure(lambda y: y, noisy.astype(np.float32), 1.0)
    with pytest.raises(ValueError, match="denoiser"):
        sure.monte_carlo_sure(lambda y: y[:, :2], noisy, 1.0)
    with pytest.raises(ValueError, match="denoiser"):
        sure.monte_carlo_sure(lambda y: y * np.nan, noisy, 1.0)


def test_cross_fitted_choice_uses_the_other_half():
    """The even contexts get the setting whose SURE is lowest on the odd ones, and vice versa."""
    sure_values = np.array([[0.0, 9.0, 0.0, 9.0], [9.0, 0.0, 9.0, 0.0]])  # setting 0 low on even, 1 on odd
    excess = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    np.testing.assert_array_equal(recovery.cross_fitted_choice(sure_values, excess), [5.0, 2.0, 7.0, 4.0])
    with pytest.raises(ValueError, match="sure and excess"):
        recovery.cross_fitted_choice(sure_values, excess[:, :3])


def test_baseline_comparison_shapes_and_the_depth_zero_identity():
    """At Stage 1 depth 0 with Stage 2 at sigma, the two-stage estimate is the one-layer one at h = sigma, so
    their excesses agree on the same contexts."""
    prior = priors.Gaussian(np.zeros(2), np.eye(2))
    r = recovery.baseline_comparison(prior, 0.5, 16, 4, one_layer_bandwidths=[0.5, 0.3], two_stage_bandwidths=[0.2],
                                     step=0.5, max_depth=3, probes=1, seed=5)
    assert r["one_layer_excess"].shape == (2, 4) and r["two_stage_sure"].shape == (1, 4, 4)
    np.testing.assert_allclose(r["two_stage_excess"][0, 0], r["one_layer_excess"][0], rtol=1e-10)
