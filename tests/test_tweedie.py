"""The one-layer empirical-Bayes denoiser: Tweedie's formula with the kernel score, exactly."""
import numpy as np
import pytest
import torch

import ebcore
from ebcore import kernel, tweedie


def _tokens(batch=None, n=40, dim=2, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n, dim) if batch is None else (batch, n, dim)
    return rng.normal(size=shape) * 1.3 + 0.4


def test_at_bandwidth_sigma_it_is_the_two_stage_estimator_without_stage_one():
    y = _tokens(batch=3)
    for sigma in (0.3, 0.9):
        np.testing.assert_allclose(ebcore.tweedie_denoise(y, sigma, sigma),
                                   ebcore.two_stage_denoise(y, 0.5, 0.2, 0, sigma), rtol=0, atol=1e-12)


def test_it_is_y_plus_sigma_squared_times_the_kernel_density_score():
    # the score of the kernel density estimate of the noisy tokens, by autograd of its logarithm
    y = torch.tensor(_tokens(n=30), dtype=torch.float64)
    for h, sigma in ((0.4, 0.7), (1.5, 0.5)):
        z = y.clone().requires_grad_(True)
        (score,) = torch.autograd.grad(kernel.smoothed_log_density(z, y, h).sum(), z)
        expected = y + sigma**2 * score
        torch.testing.assert_close(tweedie.tweedie_denoise(y, h, sigma), expected, rtol=0, atol=1e-12)


def test_leave_one_out_matches_the_estimate_without_each_token():
    y = _tokens(batch=2, n=25, seed=1)
    h, sigma = 0.35, 0.6
    out = tweedie.tweedie_denoise(y, h, sigma, leave_one_out=True)
    for b in range(2):
        for i in range(25):
            others = np.delete(y[b], i, axis=0)
            attended = kernel.posterior_mean(y[b, i:i + 1], others, h)[0]
            expected = y[b, i] + sigma**2 / h**2 * (attended - y[b, i])
            np.testing.assert_allclose(out[b, i], expected, rtol=0, atol=1e-12)
    # unbatched input, torch in torch out
    single = tweedie.tweedie_denoise(torch.tensor(y[0]), h, sigma, leave_one_out=True)
    assert isinstance(single, torch.Tensor)
    np.testing.assert_allclose(single.numpy(), out[0], rtol=0, atol=1e-12)
    # tiny bandwidths: the nearest other token, not NaN
    tiny = tweedie.tweedie_denoise(y[0], 1e-6, 1e-6, leave_one_out=True)
    distances = ((y[0][:, None] - y[0][None]) ** 2).sum(-1) + np.diag(np.full(25, np.inf))
    np.testing.assert_allclose(tiny, y[0][np.argmin(distances, axis=1)], rtol=0, atol=1e-9)


def test_refusals_name_the_argument():
    y = _tokens()
    with pytest.raises(ValueError, match="noisy"):
        tweedie.tweedie_denoise(y[None, None], 0.5, 0.5)
    with pytest.raises(ValueError, match="bandwidth"):
        tweedie.tweedie_denoise(y, 0.0, 0.5)
    with pytest.raises(ValueError, match="sigma"):
        tweedie.tweedie_denoise(y, 0.5, np.inf)
    with pytest.raises(TypeError, match="leave_one_out"):
        tweedie.tweedie_denoise(y, 0.5, 0.5, leave_one_out=1)
    with pytest.raises(ValueError, match="noisy"):
        tweedie.tweedie_denoise(y[:1], 0.5, 0.5, leave_one_out=True)


@pytest.mark.audit("prop-one-layer-gaussian-limit", "prop-one-layer-gaussian-variance")
@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("bandwidth, sigma, prior_variance", [(0.7, 1.0, 1.0), (0.4, 0.6, 2.0)])
def test_gaussian_one_layer_risk_against_quadrature(bandwidth, sigma, prior_variance, dim):
    """Every closed form of gaussian_one_layer_risk against Gauss-Hermite quadrature of its defining integrals, on the
    line and in the plane (m = 0): the kernel-weighted means, the limit's excess and the delta method's covariance and
    bias terms (in the plane the kernel weights factor over the coordinates)."""
    h2, s2 = bandwidth ** 2, prior_variance + sigma ** 2
    t, w = np.polynomial.hermite.hermgauss(40)  # the inner rule (exact here up to degree 79)
    outer_t, outer_w = np.polynomial.hermite.hermgauss(200)
    nodes, weights = np.sqrt(2 * s2) * outer_t, outer_w / np.sqrt(np.pi)  # E over N(0, s2) in one coordinate

    def moments(y, power):
        # E[K^power(y - Y)], E[K^power(y - Y) Y], E[K^power(y - Y) Y^2] in one coordinate, Y ~ N(0, s2): a
        # Gauss-Hermite rule on a grid centred where K^power(y - u) N(u; 0, s2) peaks (the tails of the query
        # grid are far outside the noisy law's own grid)
        width2 = s2 * (h2 / power) / (s2 + h2 / power)
        centre = (s2 / (s2 + h2 / power)) * y[:, None]
        u = centre + np.sqrt(2 * width2) * t[None]
        density = np.exp(-u ** 2 / (2 * s2)) / np.sqrt(2 * np.pi * s2)
        proposal = np.exp(-(u - centre) ** 2 / (2 * width2)) / np.sqrt(2 * np.pi * width2)
        k = np.exp(-power * (y[:, None] - u) ** 2 / (2 * h2)) * density / proposal * (w / np.sqrt(np.pi))[None]
        return k.sum(-1), (k * u).sum(-1), (k * u ** 2).sum(-1)

    b1, a1, _ = moments(nodes, 1)
    c_h = (prior_variance + h2) / (s2 + h2)
    np.testing.assert_allclose(nodes + sigma ** 2 / h2 * (a1 / b1 - nodes), c_h * nodes, rtol=1e-10, atol=1e-12)
    risk = tweedie.gaussian_one_layer_risk(bandwidth, sigma, prior_variance, dim=dim)
    c_0 = prior_variance / s2
    assert risk["limit_excess"] == pytest.approx(dim * ((c_h - c_0) ** 2 * nodes ** 2 * weights).sum(), rel=1e-10)
    # the delta method, per query y = (y_1, ..., y_dim)
    b2, a2, q2 = moments(nodes, 2)
    mean = a1 / b1                                     # A in one coordinate
    second = q2 - 2 * mean * a2 + mean ** 2 * b2       # E[K^2 (Y - A)^2] in one coordinate
    shift = a2 - mean * b2                             # E[K^2 (Y - A)] in one coordinate
    index = np.meshgrid(*[np.arange(nodes.size)] * dim, indexing="ij")
    weight = np.prod([weights[i] for i in index], axis=0)
    ratio = np.exp(sum(np.log(b2[i]) - 2 * np.log(b1[i]) for i in index))
    trace_cov = ratio * sum(second[i] / b2[i] for i in index)
    bias_dot = ratio * sum(shift[i] / b2[i] * nodes[i] for i in index)
    variance = sigma ** 4 / h2 ** 2 * (trace_cov * weight).sum()
    cross = -2 * sigma ** 2 / h2 * (c_h - c_0) * (bias_dot * weight).sum()
    assert risk["variance"] == pytest.approx(variance, rel=1e-8)
    assert risk["bias_cross"] == pytest.approx(cross, rel=1e-8)
    assert risk["first_order"] == pytest.approx(variance + cross, rel=1e-8)
    assert risk["bayes"] == pytest.approx(dim * prior_variance * sigma ** 2 / s2, rel=1e-14)
