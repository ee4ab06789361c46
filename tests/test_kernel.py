"""Gaussian-kernel attention: exactness, stability, properties, types, gradients, input checks."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ebcore
from ebcore import kernel


def naive_posterior_mean(q, p, h, w=None):
    """The definition, written out with the full kernel matrix (float64, no tricks)."""
    w = np.ones(len(p)) if w is None else w
    d2 = ((q[:, None, :] - p[None]) ** 2).sum(-1)
    logits = np.log(w)[None] - d2 / (2 * h * h)
    k = np.exp(logits - logits.max(1, keepdims=True))
    return (k @ p) / k.sum(1, keepdims=True)


@pytest.mark.audit("thm-attention-posterior-mean")
def test_matches_naive_weighted_average(rng):
    q, p, w = rng.standard_normal((30, 4)), rng.standard_normal((50, 4)), rng.uniform(0.1, 1, 50)
    for h in (0.3, 1.0, 5.0):
        np.testing.assert_allclose(ebcore.posterior_mean(q, p, h, w), naive_posterior_mean(q, p, h, w), atol=1e-13)
    batched = ebcore.posterior_mean(np.stack([q, 2 * q]), np.stack([p, p + 1]), 0.7)
    np.testing.assert_allclose(batched[1], naive_posterior_mean(2 * q, p + 1, 0.7), atol=1e-13)


def test_chunking_does_not_change_the_result(rng, monkeypatch):
    q, p = rng.standard_normal((97, 3)), rng.standard_normal((61, 3))
    full = ebcore.posterior_mean(q, p, 0.5)
    monkeypatch.setattr(kernel, "CHUNK_BYTES", 61 * 8 * 7)  # 7 query rows per chunk
    np.testing.assert_allclose(ebcore.posterior_mean(q, p, 0.5), full, atol=1e-14)
    np.testing.assert_allclose(ebcore.smoothed_log_density(q, p, 0.5),
                               ebcore.smoothed_log_density(q, p, 0.5), atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiny_bandwidth_gives_nearest_particle(dtype):
    p = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], dtype=dtype)
    q = np.array([[1.0, 1.0], [9.0, 2.0], [-3.0, 8.0]], dtype=dtype)
    out = ebcore.posterior_mean(q, p, 1e-4)
    assert out.dtype == dtype and np.isfinite(out).all()
    np.testing.assert_array_equal(out, p)


def test_common_offset_costs_no_precision():
    rng = np.random.default_rng(0)
    p = rng.standard_normal((64, 3)).astype(np.float32)
    q = rng.standard_normal((16, 3)).astype(np.float32)
    offset = np.float32(1e4)
    shifted = ebcore.posterior_mean(q + offset, p + offset, 0.05) - offset
    reference = naive_posterior_mean(q.astype(np.float64), p.astype(np.float64), 0.05)
    np.testing.assert_allclose(shifted, reference, atol=5e-3)  # float32 spacing at 1e4 is 1e-3


def test_large_bandwidth_gives_weighted_mean(rng):
    p, w = rng.standard_normal((20, 3)), rng.uniform(0.1, 1, 20)
    out = ebcore.posterior_mean(rng.standard_normal((5, 3)), p, 1e6, w)
    np.testing.assert_allclose(out, np.broadcast_to(w @ p / w.sum(), out.shape), atol=1e-9)


# Property-based tests: hypothesis draws the configurations (derandomised in CI).
points = arrays(np.float64, st.tuples(st.integers(2, 12), st.integers(1, 4)),
                elements=st.floats(-5, 5, allow_nan=False, width=64))


@given(p=points, seed=st.integers(0, 2**16), h=st.floats(0.05, 10))
def test_output_lies_in_the_bounding_box(p, seed, h):
    q = np.random.default_rng(seed).uniform(-8, 8, size=(7, p.shape[1]))
    out = ebcore.posterior_mean(q, p, h)
    assert (out >= p.min(0) - 1e-9).all() and (out <= p.max(0) + 1e-9).all()


@given(p=points, seed=st.integers(0, 2**16), h=st.floats(0.1, 10))
def test_permutation_invariance(p, seed, h):
    gen = np.random.default_rng(seed)
    q = gen.uniform(-5, 5, size=(5, p.shape[1]))
    w = gen.uniform(0.1, 1.0, size=len(p))
    perm = gen.permutation(len(p))
    np.testing.assert_allclose(ebcore.posterior_mean(q, p, h, w), ebcore.posterior_mean(q, p[perm], h, w[perm]),
                               atol=1e-10)


@given(p=points, seed=st.integers(0, 2**16), h=st.floats(0.2, 10))
def test_translation_and_rotation_equivariance(p, seed, h):
    gen = np.random.default_rng(seed)
    d = p.shape[1]
    q = gen.uniform(-5, 5, size=(5, d))
    rotation, _ = np.linalg.qr(gen.standard_normal((d, d)))
    shift = gen.uniform(-100, 100, size=d)
    base = ebcore.posterior_mean(q, p, h)
    moved = ebcore.posterior_mean(q @ rotation.T + shift, p @ rotation.T + shift, h)
    np.testing.assert_allclose(moved, base @ rotation.T + shift, atol=1e-8)


@given(p=points, seed=st.integers(0, 2**16), h=st.floats(0.3, 10))
def test_float32_agrees_with_float64(p, seed, h):
    q = np.random.default_rng(seed).uniform(-5, 5, size=(6, p.shape[1]))
    exact = ebcore.posterior_mean(q, p, h)
    single = ebcore.posterior_mean(q.astype(np.float32), p.astype(np.float32), h)
    # Error budget: after centring, |q|, |p| <= r, so each float32 logit carries an absolute error of
    # at most about 4 eps r^2 / h^2 =: delta; perturbing logits by delta moves softmax weights by a
    # relative 2 delta, hence the output by at most 2 delta times the spread of the particles.
    eps = np.finfo(np.float32).eps
    r = 2 * np.sqrt(p.shape[1]) * max(np.abs(p).max(), np.abs(q).max(), 1.0)
    delta = 4 * eps * r**2 / h**2
    spread = np.ptp(p, axis=0).max()
    tol = 4 * eps * r + 2 * delta * spread
    np.testing.assert_allclose(single, exact, atol=tol, rtol=0)


def test_numpy_and_torch_types(rng):
    q, p = rng.standard_normal((4, 2)), rng.standard_normal((6, 2))
    assert isinstance(ebcore.posterior_mean(q, p, 1.0), np.ndarray)
    out = ebcore.posterior_mean(torch.from_numpy(q), torch.from_numpy(p), 1.0)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    with pytest.raises(TypeError, match="mixed numpy and torch"):
        ebcore.posterior_mean(q, torch.from_numpy(p), 1.0)


def test_gradients_in_every_argument(rng):
    q = torch.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    p = torch.tensor(rng.standard_normal((5, 2)), requires_grad=True)
    w = torch.tensor(rng.uniform(0.2, 1, 5), requires_grad=True)
    h = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q, p, w, h: ebcore.posterior_mean(q, p, h, w), (q, p, w, h))


@pytest.mark.audit("cor-empirical-tweedie")
def test_smoothed_log_density_gradient_by_autograd(rng):
    p = torch.tensor(rng.standard_normal((30, 3)))
    w = torch.tensor(rng.uniform(0.1, 1, 30))
    z = torch.tensor(rng.standard_normal((8, 3)), requires_grad=True)
    h = 0.6
    (grad,) = torch.autograd.grad(ebcore.smoothed_log_density(z, p, h, w).sum(), z)
    torch.testing.assert_close(z.detach() + h**2 * grad, ebcore.posterior_mean(z.detach(), p, h, w),
                               atol=1e-12, rtol=0)
    # normalisation: a single particle gives the Gaussian log density exactly
    single = ebcore.smoothed_log_density(np.zeros((1, 3)), np.zeros((1, 3)), 2.0)
    np.testing.assert_allclose(single, -1.5 * np.log(2 * np.pi * 4.0))


@pytest.mark.audit("prop-rbf-softmax")
def test_rbf_as_softmax_round_trip(rng):
    q, p, w = rng.standard_normal((9, 3)), rng.standard_normal((11, 3)), rng.uniform(0.1, 1, 11)
    form = ebcore.rbf_as_softmax(q, p, 0.9, w)
    np.testing.assert_allclose(ebcore.softmax_attention(*form), ebcore.posterior_mean(q, p, 0.9, w), atol=1e-13)
    batched = ebcore.rbf_as_softmax(np.stack([q, q]), np.stack([p, -p]), 0.9)
    np.testing.assert_allclose(ebcore.softmax_attention(*batched)[1], ebcore.posterior_mean(q, -p, 0.9), atol=1e-13)


def test_linear_attention_definition(rng):
    q, k, v = rng.standard_normal((4, 3)), rng.standard_normal((7, 3)), rng.standard_normal((7, 2))
    np.testing.assert_allclose(ebcore.linear_attention(q, k, v, 0.5), 0.5 * q @ (v.T @ k / 7).T, atol=1e-14)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(rng):
    q, p = torch.tensor(rng.standard_normal((300, 8))), torch.tensor(rng.standard_normal((500, 8)))
    torch.testing.assert_close(ebcore.posterior_mean(q.cuda(), p.cuda(), 0.5).cpu(), ebcore.posterior_mean(q, p, 0.5))


@pytest.mark.parametrize("call, match", [
    (lambda q, p: ebcore.posterior_mean(q[0], p, 1.0), "queries must have 2 or 3 dimensions"),
    (lambda q, p: ebcore.posterior_mean(q, p[:, :2], 1.0), "dimension"),
    (lambda q, p: ebcore.posterior_mean(q, p[:0], 1.0), "particles must not be empty"),
    (lambda q, p: ebcore.posterior_mean(q, p, 0.0), "bandwidth must be a finite number in"),
    (lambda q, p: ebcore.posterior_mean(q, p, -1.0), "bandwidth"),
    (lambda q, p: ebcore.posterior_mean(q, p, float("nan")), "bandwidth"),
    (lambda q, p: ebcore.posterior_mean(q * np.nan, p, 1.0), "queries must contain only finite"),
    (lambda q, p: ebcore.posterior_mean(q, p, 1.0, -np.ones(len(p))), "weights must be non-negative"),
    (lambda q, p: ebcore.posterior_mean(q, p, 1.0, np.zeros(len(p))), "weights must have a positive sum"),
    (lambda q, p: ebcore.posterior_mean(q, p, 1.0, np.ones(3)), "weights must have"),
    (lambda q, p: ebcore.posterior_mean(q[None], p, 1.0), "both be unbatched"),
    (lambda q, p: ebcore.posterior_mean(np.stack([q, q]), np.stack([p, p, p]), 1.0), "same batch size"),
    (lambda q, p: ebcore.posterior_mean(q.astype(int), p, 1.0), "floating-point"),
    (lambda q, p: ebcore.posterior_mean(q.tolist(), p, 1.0), "numpy array or a torch tensor"),
    (lambda q, p: ebcore.softmax_attention(q, p, p[:, :1][:3], 1.0), "values must have the same leading shape"),
    (lambda q, p: ebcore.softmax_attention(q, p, p, 1.0, np.ones(2)), "key_bias"),
    (lambda q, p: ebcore.linear_attention(q, p, p, 0.0), "scale"),
    (lambda q, p: ebcore.smoothed_log_density(q, p, "wide"), "bandwidth must be a real number"),
])
def test_bad_input_is_named(rng, call, match):
    q, p = rng.standard_normal((4, 3)), rng.standard_normal((6, 3))
    with pytest.raises((ValueError, TypeError), match=match):
        call(q, p)


# --- the nearest-particle limit and the precision of the logits, for every bandwidth ------------------


def _reference(q, p, h):
    """float64 posterior mean from coordinate differences with the log-sum-exp shift (no cancellation)."""
    q, p = np.asarray(q, np.float64), np.asarray(p, np.float64)
    logits = -((q[:, None, :] - p[None]) ** 2).sum(-1) / (2 * h * h)
    w = np.exp(logits - logits.max(1, keepdims=True))
    return (w @ p) / w.sum(1, keepdims=True)


def _bound(q, p, dtype):
    """What kernel.logit_precision guarantees: 2 * LOGIT_ERROR times the points' diameter, plus rounding."""
    from ebcore.kernel import LOGIT_ERROR

    allp = np.concatenate([np.asarray(q, np.float64), np.asarray(p, np.float64)])
    diameter = np.linalg.norm(allp.max(0) - allp.min(0))
    return 2.2 * LOGIT_ERROR * diameter + 64 * np.finfo(dtype).eps * (np.abs(allp).max() + diameter)


BANDWIDTHS = [1e-8, 1e-6, 1e-4, 1e-2, 1.0, 1e2, 1e4, 1e8]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("autograd", [False, True])
@pytest.mark.parametrize("h", BANDWIDTHS)
def test_every_bandwidth_coincident_queries(dtype, autograd, h):
    # queries equal to particles: the call particle_flow and two_stage_denoise make at every layer
    y = np.array([[.3, -.7], [.9, .1], [-.2, .4], [.31, -.7]], dtype)
    if autograd:
        out = ebcore.posterior_mean(torch.tensor(y, requires_grad=True), torch.tensor(y), h).detach().numpy()
    else:
        out = ebcore.posterior_mean(y, y, h)
    assert np.isfinite(out).all()
    assert np.abs(out - _reference(y, y, h)).max() <= _bound(y, y, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("autograd", [False, True])
@pytest.mark.parametrize("h", BANDWIDTHS)
def test_every_bandwidth_two_far_clouds(dtype, autograd, h):
    # two clouds 1e3 apart: in float32 the expanded logits cancel badly unless handled
    gen = np.random.default_rng(3)
    a = gen.standard_normal((40, 3))
    p = np.concatenate([a, a[:20] + 1e3]).astype(dtype)
    q = (p + 1e-3 * gen.standard_normal(p.shape)).astype(dtype)
    if autograd:
        out = ebcore.posterior_mean(torch.tensor(q, requires_grad=True), torch.tensor(p), h).detach().numpy()
    else:
        out = ebcore.posterior_mean(q, p, h)
    assert np.isfinite(out).all()
    reference = _reference(q, p, h)
    error = np.abs(out - reference).max(1)
    # the guarantee is global; where the kernel is sharp (h small), each query must also keep its
    # own nearest particle, which is what the expanded float32 logits used to lose
    assert error.max() <= _bound(q, p, dtype)
    if h <= 1e-4:
        nearest = p[((q[:, None] - p[None]) ** 2).sum(-1).argmin(1)]
        assert np.abs(out - nearest).max() <= 64 * np.finfo(dtype).eps * 1e3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exactly_equal_distances_are_averaged_in_the_limit(dtype):
    p = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 5.0]], dtype)
    q = np.array([[1.0, 0.0]], dtype)  # equidistant from the first two
    for h in (1e-8, 1e-4, 1e-2):
        np.testing.assert_allclose(ebcore.posterior_mean(q, p, h), [[1.0, 0.0]], atol=1e-6)


def test_precision_modes_follow_the_rounding_bound():
    from ebcore.kernel import logit_precision

    assert logit_precision(80.0, 1.0, torch.float32, 16) == "expanded"          # the benchmark's regime
    assert logit_precision(1e6, 1e4, torch.float32, 2) == "expanded-float64"    # spread 1e3 h in float32
    assert logit_precision(1.0, 1e16, torch.float64, 2) == "differences"        # h = 1e-8
    assert logit_precision(1.0, 1e16, torch.float32, 2) == "differences"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_density_and_energy_keep_small_distances_far_from_the_origin(dtype):
    # two tight clouds 1e3 apart: the inner-product form of |z - p|^2 (torch.cdist's) loses the
    # distances that dominate the kernel at this bandwidth, the coordinate differences do not
    gen = np.random.default_rng(4)
    a = 1e-3 * gen.standard_normal((30, 2))
    p = np.concatenate([a, a + 1e3]).astype(dtype)
    h = 1e-3
    d2 = ((p[:, None].astype(np.float64) - p[None].astype(np.float64)) ** 2).sum(-1)
    logits = -d2 / (2 * h * h)
    m = logits.max(1, keepdims=True)
    reference = (m[:, 0] + np.log(np.exp(logits - m).mean(1))) - np.log(2 * np.pi * h * h)
    out = ebcore.smoothed_log_density(p, p, h)
    assert np.abs(out - reference).max() < 1e-2  # a logit error of 1e-3 bounds this by about 2e-3
    energy_reference = -h * h * (np.log(np.exp(logits - logits.max()).sum()) + logits.max() - 2 * np.log(len(p)))
    assert abs(float(ebcore.energy(p, h)) - energy_reference) < 1e-2 * h * h


@pytest.mark.parametrize("call, match", [
    (lambda: ebcore.posterior_mean(np.zeros((2, 3)), np.zeros((2, 3)), 1e300), "bandwidth"),
    (lambda: ebcore.posterior_mean(np.zeros((2, 3)), np.zeros((2, 3)), 1e-300), "bandwidth"),
])
def test_scales_outside_their_domain_are_refused(call, match):
    # values that used to pass validation and then overflow, divide by zero or give 0/0
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.softmax_attention(np.zeros((2, 2)), np.zeros((2, 2)), None, 1.0), TypeError, "values"),
    (lambda: ebcore.posterior_mean(np.array([[1, 2]], dtype=object), np.zeros((2, 2)), 1.0), TypeError, "queries"),
])
def test_inputs_that_used_to_reach_raw_exceptions_or_a_wrong_cache_entry(call, error, match):
    # each of these raised an AttributeError/KeyError/IndexError/RuntimeError from deep inside, or
    # (the cached functions) converted 2.9 to 2 or 0.7 to 0 and served another entry from a warm cache
    with pytest.raises(error, match=match):
        call()
