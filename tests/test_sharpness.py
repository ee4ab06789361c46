"""Curvature at solutions (ebcore.sharpness): Hessian-vector products, Lanczos top eigenvalue, Hutchinson trace."""
import numpy as np
import pytest
import torch
from torch import nn

from ebcore import sharpness
from ebcore.batched_loss import BatchedLoss


def _mean_square(outputs, targets):
    return ((outputs - targets) ** 2).mean()


def _dense_hessian(loss, point):
    def flat(w):
        pieces = torch.split(w, loss.sizes)
        return loss._on({n: p.reshape(s) for n, p, s in zip(loss.names, pieces, loss.shapes)}, loss.inputs,
                        loss.targets)
    return torch.autograd.functional.hessian(flat, point).numpy()


@pytest.fixture
def small_network():
    gen = torch.Generator().manual_seed(2)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    inputs = torch.randn(40, 3, generator=gen, dtype=torch.float64)
    targets = torch.randn(40, 2, generator=gen, dtype=torch.float64)
    loss = BatchedLoss(model, inputs, targets, _mean_square, chunk=2)
    points = torch.randn(3, loss.dimension, generator=gen, dtype=torch.float64)
    return loss, points


def test_products_equal_the_dense_hessian(small_network):
    loss, points = small_network
    vectors = torch.randn(points.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    products = sharpness.hessian_vector_products(loss, points, vectors).numpy()
    for p in range(points.shape[0]):
        np.testing.assert_allclose(products[p], _dense_hessian(loss, points[p]) @ vectors[p].numpy(), atol=1e-12)


def test_lanczos_top_eigenvalue_and_its_bound(small_network):
    loss, points = small_network
    exact = np.array([np.linalg.eigvalsh(_dense_hessian(loss, w))[-1] for w in points])
    top, residual = sharpness.top_hessian_eigenvalue(loss, points, steps=loss.dimension)
    np.testing.assert_allclose(top, exact, rtol=1e-9)
    few_top, few_residual = sharpness.top_hessian_eigenvalue(loss, points, steps=6, seed=1)
    assert np.all(few_top <= exact + 1e-12)  # a Rayleigh quotient never exceeds the top eigenvalue
    for p, w in enumerate(points):
        spectrum = np.linalg.eigvalsh(_dense_hessian(loss, w))
        assert np.abs(spectrum - few_top[p]).min() <= few_residual[p] + 1e-12


def test_an_invariant_krylov_space_stops_without_a_spurious_zero():
    """A Hessian with three distinct eigenvalues, all negative: the Krylov space is invariant after 3 steps,
    and the top Ritz value must be the top (negative) eigenvalue, not a 0 from unused steps."""
    gen = torch.Generator().manual_seed(4)
    model = nn.Linear(3, 3, bias=False).double()
    inputs = torch.randn(30, 3, generator=gen, dtype=torch.float64)
    loss = BatchedLoss(model, inputs, torch.zeros(30, 3, dtype=torch.float64), lambda o, t: -(o ** 2).mean(), chunk=4)
    points = torch.randn(2, loss.dimension, generator=gen, dtype=torch.float64)
    top, residual = sharpness.top_hessian_eigenvalue(loss, points, steps=9)
    exact = np.linalg.eigvalsh(_dense_hessian(loss, points[0]))[-1]
    assert exact < 0
    np.testing.assert_allclose(top, exact, rtol=1e-10)
    assert np.all(residual < 1e-8)


def test_hutchinson_trace(small_network):
    loss, points = small_network
    exact = np.array([np.trace(_dense_hessian(loss, w)) for w in points])
    trace, error = sharpness.hessian_trace(loss, points, probes=200, seed=5)
    assert np.all(np.abs(trace - exact) < 5 * error)  # 5 standard errors: a false alarm about 6e-7 per point
    # a diagonal Hessian: random signs give the trace exactly (the estimator's variance has no diagonal term)
    model = nn.Linear(2, 1, bias=False).double()
    inputs = torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    diagonal = BatchedLoss(model, inputs, torch.zeros(2, 1, dtype=torch.float64), _mean_square)
    trace, error = sharpness.hessian_trace(diagonal, torch.ones(1, 2, dtype=torch.float64), probes=4)
    np.testing.assert_allclose(trace, [5.0], rtol=1e-14)
    np.testing.assert_allclose(error, [0.0], atol=1e-14)


def test_bad_input_is_named(small_network):
    loss, points = small_network
    with pytest.raises(TypeError, match="loss"):
        sharpness.hessian_trace("loss", points)
    with pytest.raises(TypeError, match="points"):
        sharpness.top_hessian_eigenvalue(loss, points.numpy())
    with pytest.raises(ValueError, match="points"):
        sharpness.hessian_trace(loss, points[:, :-1])
    with pytest.raises(ValueError, match="vectors"):
        sharpness.hessian_vector_products(loss, points, points[:1])
    with pytest.raises(ValueError, match="steps"):
        sharpness.top_hessian_eigenvalue(loss, points, steps=loss.dimension + 1)
    with pytest.raises(ValueError, match="probes"):
        sharpness.hessian_trace(loss, points, probes=1)
    with pytest.raises(ValueError, match="points"):
        sharpness.hessian_trace(loss, torch.full_like(points, float("nan")))


def test_solution_sharpness_is_cached_and_checks_its_input(tmp_path, monkeypatch):
    from ebcore import nets
    from ebcore.training import flat_parameters

    monkeypatch.setenv("EBCORE_CACHE", str(tmp_path))
    task = nets.DigitsTask("fcp", dtype=torch.float64)
    solutions = np.stack([flat_parameters(task.make_model(seed)) for seed in (0, 1)])
    first = sharpness.solution_sharpness("fcp", solutions, steps=3, probes=2)
    assert set(first) == {"top", "top_residual", "trace", "trace_se"} and first["top"].shape == (2,)
    assert list(tmp_path.rglob("*solution-sharpness*")), "the result was not stored"
    again = sharpness.solution_sharpness("fcp", solutions, steps=3, probes=2)
    np.testing.assert_array_equal(again["top"], first["top"])
    with pytest.raises(ValueError, match="architecture"):
        sharpness.solution_sharpness("lstm", solutions)
    with pytest.raises(ValueError, match="solutions"):
        sharpness.solution_sharpness("fcp", solutions[:, :-1])


def test_lanczos_finds_a_top_eigenvector_that_random_signs_can_miss():
    """H = diag(1, 1, 2) plus 18 (e0 - e1)(e0 - e1)^T / 2: its top eigenvector (e0 - e1)/sqrt 2 (eigenvalue 19) is
    exactly orthogonal to half of all sign vectors; a normal start vector finds it for every seed."""
    model = nn.Linear(3, 1, bias=False).double()
    # the loss 0.5 w^T H w through a linear network: inputs whose Gram matrix is H (mean over 3 samples of o^2 / 2 * 3)
    hessian = np.diag([1.0, 1.0, 2.0]) + 9.0 * np.outer([1.0, -1.0, 0.0], [1.0, -1.0, 0.0])
    root = np.linalg.cholesky(hessian).T  # root^T root = H
    inputs = torch.as_tensor(root, dtype=torch.float64)
    loss = BatchedLoss(model, inputs, torch.zeros(3, 1, dtype=torch.float64), lambda o, t: 1.5 * (o ** 2).mean())
    points = torch.zeros(1, 3, dtype=torch.float64)
    np.testing.assert_allclose(_dense_hessian(loss, points[0]), hessian, atol=1e-12)
    for seed in range(20):
        top, _ = sharpness.top_hessian_eigenvalue(loss, points, steps=3, seed=seed)
        assert top[0] == pytest.approx(19.0, rel=1e-10)
