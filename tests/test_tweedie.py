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
