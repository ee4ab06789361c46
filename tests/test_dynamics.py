"""Stage 1 / Stage 2 dynamics: particle flow, energy, the two-stage denoiser, flow time and depth."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import ebcore


@pytest.mark.audit("thm-energy-descent")
@given(seed=st.integers(0, 2**16), bandwidth=st.floats(0.05, 5.0), step=st.floats(0.0, 2.0))
def test_energy_never_increases(seed, bandwidth, step):
    tokens = np.random.default_rng(seed).standard_normal((3, 12, 2))
    path = ebcore.particle_flow(tokens, bandwidth, step, 8, return_trajectory=True)
    energies = np.stack([ebcore.energy(layer, bandwidth) for layer in path])
    radius = np.abs(tokens).max() * 2
    assert (np.diff(energies, axis=0) <= 1e-13 * bandwidth**2 * (1 + radius**2 / bandwidth**2)).all()


def test_energy_is_zero_for_a_single_point_and_positive_otherwise():
    assert float(ebcore.energy(np.zeros((5, 3)), 1.0)) == pytest.approx(0.0, abs=1e-15)
    assert float(ebcore.energy(np.eye(3), 1.0)) > 0


def test_trajectory_shapes_and_types():
    tokens = np.random.default_rng(0).standard_normal((2, 7, 3))
    path = ebcore.particle_flow(tokens, 0.5, 0.5, 4, return_trajectory=True)
    assert path.shape == (5, 2, 7, 3) and isinstance(path, np.ndarray)
    np.testing.assert_array_equal(path[0], tokens)
    single = ebcore.particle_flow(torch.from_numpy(tokens[0]), 0.5, 0.5, 4, return_trajectory=True)
    assert isinstance(single, torch.Tensor) and single.shape == (5, 7, 3)
    np.testing.assert_allclose(single[-1].numpy(), path[-1, 0], atol=1e-13)
    np.testing.assert_array_equal(ebcore.particle_flow(tokens, 0.5, 0.5, 0), tokens)
    assert ebcore.energy(tokens, 1.0).shape == (2,)
    assert ebcore.query_energy(tokens[:, :3], tokens, 1.0).shape == (2, 3)


def test_float32_flow_tracks_float64():
    tokens = np.random.default_rng(1).standard_normal((64, 2))
    exact = ebcore.particle_flow(tokens, 0.5, 0.5, 20)
    single = ebcore.particle_flow(tokens.astype(np.float32), 0.5, 0.5, 20)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, exact, atol=1e-4)


@pytest.mark.audit("thm-stage-two")
def test_two_stage_is_posterior_mean_over_refined_tokens():
    noisy = np.random.default_rng(2).standard_normal((50, 2))
    refined = ebcore.particle_flow(noisy, 0.4, 0.7, 6)
    np.testing.assert_allclose(ebcore.two_stage_denoise(noisy, 0.4, 0.7, 6, 0.9),
                               ebcore.posterior_mean(noisy, refined, 0.9), atol=1e-15)
    trajectory, outputs = ebcore.dynamics.two_stage_sweep(noisy, 0.4, 0.7, 6, 0.9)
    np.testing.assert_allclose(outputs[6], ebcore.two_stage_denoise(noisy, 0.4, 0.7, 6, 0.9), atol=1e-13)
    np.testing.assert_allclose(outputs[0], ebcore.posterior_mean(noisy, noisy, 0.9), atol=1e-13)


@pytest.mark.audit("prop-continuous-limit")
def test_flow_time_and_depth():
    assert ebcore.flow_time(0.5, 2.0, 10) == pytest.approx(20.0)
    assert ebcore.flow_depth(0.5, 2.0, 20.0) == 10
    assert ebcore.flow_depth(0.5, 2.0, 21.0) == 11   # 10.5 layers: halves round up
    assert ebcore.flow_depth(0.5, 2.0, 20.9) == 10
    for t in np.linspace(0, 7, 29):
        assert abs(ebcore.flow_time(0.3, 1.1, ebcore.flow_depth(0.3, 1.1, t)) - t) <= 0.5 * 0.3 * 1.1**2 + 1e-12


@pytest.mark.parametrize("call, error, match", [
    (lambda t: ebcore.particle_flow(t, 1.0, -0.1, 3), ValueError, "step must be a finite number >= 0"),
    (lambda t: ebcore.particle_flow(t, 1.0, 0.5, 2.5), TypeError, "depth must be an integer"),
    (lambda t: ebcore.particle_flow(t, 1.0, 0.5, -1), ValueError, "depth must be >= 0"),
    (lambda t: ebcore.particle_flow(t, 0.0, 0.5, 1), ValueError, "bandwidth"),
    (lambda t: ebcore.particle_flow(t[0, 0], 1.0, 0.5, 1), ValueError, "tokens must have 2 or 3 dimensions"),
    (lambda t: ebcore.particle_flow(t * np.nan, 1.0, 0.5, 1), ValueError, "tokens must contain only finite"),
    (lambda t: ebcore.two_stage_denoise(t, 1.0, 0.5, 2, 0.0), ValueError, "query_bandwidth"),
    (lambda t: ebcore.two_stage_denoise(t, 1.0, 0.5, 2, -1.0), ValueError, "query_bandwidth"),
    (lambda t: ebcore.query_energy(t[0, :, :1], t[0], 1.0), ValueError, "dimension"),
    (lambda t: ebcore.energy(t.tolist(), 1.0), TypeError, "tokens must be a numpy array or a torch tensor"),
    (lambda t: ebcore.flow_depth(0.5, 1.0, -1.0), ValueError, "time"),
    (lambda t: ebcore.flow_time(0.0, 1.0, 3), ValueError, "step"),
])
def test_bad_input_is_named(call, error, match):
    tokens = np.random.default_rng(0).standard_normal((2, 5, 2))
    with pytest.raises(error, match=match):
        call(tokens)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_flow_on_cuda_matches_cpu():
    tokens = torch.tensor(np.random.default_rng(3).standard_normal((4, 300, 3)))
    torch.testing.assert_close(ebcore.particle_flow(tokens.cuda(), 0.5, 0.5, 10).cpu(),
                               ebcore.particle_flow(tokens, 0.5, 0.5, 10))


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.dynamics.euler_error_against_ode(np.zeros((3, 2)), 0.5, [0.0], 0.1), ValueError, "steps"),
    (lambda: ebcore.dynamics.euler_error_against_ode(np.zeros((3, 2)), 0.5, [0.3], 0.1), ValueError,
     "whole number of layers"),
    (lambda: ebcore.dynamics.two_stage_sweep(np.zeros((3, 2)), 0.5, 0.5, 2, 0.0), ValueError, "query_bandwidth"),
    (lambda: ebcore.dynamics.stage_one_velocity(np.zeros((3, 2)), -1.0), ValueError, "bandwidth"),
])
def test_more_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: ebcore.flow_depth(0.5, 1e-300, 1.0), "bandwidth"),
    (lambda: ebcore.flow_depth(1e-300, 1e-100, 1.0), "layers"),
    (lambda: ebcore.flow_depth(1e-300, 0.5, 1.0), "layers"),
])
def test_scales_outside_their_domain_are_refused(call, match):
    # values that used to pass validation and then overflow, divide by zero or give 0/0
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.energy(np.zeros((3, 2), np.float16), 1.0), TypeError, "tokens"),
])
def test_inputs_that_used_to_reach_raw_exceptions_or_a_wrong_cache_entry(call, error, match):
    # each of these raised an AttributeError/KeyError/IndexError/RuntimeError from deep inside, or
    # (the cached functions) converted 2.9 to 2 or 0.7 to 0 and served another entry from a warm cache
    with pytest.raises(error, match=match):
        call()


def test_weighted_flow_is_the_flow_of_repeated_tokens():
    """Integer weights are repeated tokens: weight 3 on a token flows as three copies of it (the empirical measure
    is the same), batched or not; uniform weights are the unweighted flow; bad weights are named."""
    rng = np.random.default_rng(5)
    tokens = rng.standard_normal((2, 6, 2))
    counts = np.array([[1, 3, 1, 2, 1, 1], [2, 1, 1, 1, 4, 1]])
    weighted = ebcore.particle_flow(tokens, 0.6, 0.7, 5, weights=counts / counts.sum(-1, keepdims=True))
    for b in range(2):
        repeated = ebcore.particle_flow(np.repeat(tokens[b], counts[b], axis=0), 0.6, 0.7, 5)
        first = np.cumsum(counts[b]) - counts[b]
        np.testing.assert_allclose(weighted[b], repeated[first], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ebcore.particle_flow(tokens[0], 0.6, 0.7, 5, weights=np.full(6, 1 / 6)),
                               ebcore.particle_flow(tokens[0], 0.6, 0.7, 5), rtol=1e-12, atol=1e-13)
    for depth in (0, 2):
        with pytest.raises(ValueError, match="weights"):
            ebcore.particle_flow(tokens[0], 0.6, 0.7, depth, weights=-np.ones(6))
        with pytest.raises(ValueError, match="weights"):
            ebcore.particle_flow(tokens[0], 0.6, 0.7, depth, weights=np.ones(5))
