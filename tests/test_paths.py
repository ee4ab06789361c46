"""Paths between solutions (chapter 10): Fourier and linear paths, nudged elastic band, input checks."""
import numpy as np
import pytest
import torch

import ebcore
from ebcore import paths, potentials
from ebcore.optim import NonFiniteLossError


def _quadratic_bowl(points):
    return (points ** 2).sum(1)


@pytest.mark.audit("prop-fourier-endpoints")
def test_fourier_path_keeps_end_points(double_well):
    start, end = torch.tensor(double_well.start), torch.tensor(double_well.end)
    result = paths.fourier_path(double_well.potential, start, end, n_modes=5, n_points=21, lam=1e-2, steps=50,
                                lr=5e-2)
    assert np.abs(result.coefficients).max() > 1e-2  # the path did move
    np.testing.assert_allclose(result.points[[0, -1]], np.stack([double_well.start, double_well.end]), atol=1e-14)
    np.testing.assert_allclose(result.at([0.0, 1.0]), result.points[[0, -1]], atol=1e-14)
    assert result.barrier < 3.0  # below the straight line's 1 + 2 c^2
    assert result.evaluations == 2 + 50 * 19 + 19


def test_fourier_gradient_matches_autograd():
    torch.manual_seed(0)
    start, end = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    coef = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    t = torch.linspace(0, 1, 17, dtype=torch.float64)
    pts = paths.fourier_points(t, start, end, coef)
    (auto,) = torch.autograd.grad(paths.path_objective(_quadratic_bowl(pts), pts, 0.7), coef)
    closed = paths.fourier_gradient(2 * pts.detach().numpy(), pts.detach().numpy(), 4, 0.7)
    np.testing.assert_allclose(closed, auto.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.audit("prop-barrier-bound")
def test_barrier_bounds_bracket_the_true_maximum(double_well):
    start, end = torch.tensor(double_well.start), torch.tensor(double_well.end)
    for result in (paths.linear_path(double_well.potential, start, end, n_points=6),
                   paths.fourier_path(double_well.potential, start, end, n_points=11, steps=30, lr=0.05)):
        fine = double_well.potential(torch.tensor(result.at(np.linspace(0, 1, 20001)))).max().item()
        assert result.barrier <= result.dense_barrier + 1e-12
        assert result.dense_barrier <= fine + 1e-12 <= result.barrier_upper_bound + 2e-12
    # the straight line's exact maximum is 1 + 2 c^2 = 3 at x = 0
    line = paths.linear_path(double_well.potential, start, end, n_points=51)
    assert line.dense_barrier == pytest.approx(3.0, abs=1e-12)
    assert line.excess_barrier == pytest.approx(3.0, abs=1e-12)


def test_neb_finds_the_saddle(double_well):
    start, end = torch.tensor(double_well.start), torch.tensor(double_well.end)
    result = paths.nudged_elastic_band(double_well.potential, start, end, n_points=11, steps=800)
    assert abs(result.barrier - 1.0) < 1e-8


def test_smooth_max_lbfgs_lowers_the_barrier(double_well):
    start, end = torch.tensor(double_well.start), torch.tensor(double_well.end)
    result = paths.fourier_path(double_well.potential, start, end, n_points=21, steps=20, objective="smooth_max",
                                optimizer="lbfgs", record_every=5)
    assert result.dense_barrier < 1.1
    assert list(result.record["steps"]) == [0, 5, 10, 15, 20]


def test_path_input_errors(double_well):
    f = double_well.potential
    a, b = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    with pytest.raises(ValueError, match="same size"):
        paths.fourier_path(f, a, torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="n_modes"):
        paths.fourier_path(f, a, b, n_modes=0)
    with pytest.raises(ValueError, match="n_points"):
        paths.fourier_path(f, a, b, n_points=1)
    with pytest.raises(ValueError, match="n_points"):
        paths.linear_path(f, a, b, n_points=1)
    with pytest.raises(ValueError, match="objective"):
        paths.fourier_path(f, a, b, objective="max")
    with pytest.raises(ValueError, match="temperature"):
        paths.fourier_path(f, a, b, objective="smooth_max", temperature=-1.0)
    with pytest.raises(ValueError, match="start"):
        paths.fourier_path(f, torch.tensor([np.nan, 0.0], dtype=torch.float64), b)
    with pytest.raises(TypeError, match="loss"):
        paths.fourier_path("not callable", a, b)
    with pytest.raises(ValueError, match="losses"):
        paths.fourier_path(lambda p: p.sum(), a, b, steps=1)
    with pytest.raises(ValueError, match="n_points"):
        paths.nudged_elastic_band(f, a, b, n_points=2)


def test_non_finite_loss_is_reported_not_propagated():
    def explodes(points):
        return torch.where(points[:, 0] > 0.3, torch.full_like(points[:, 0], np.nan), (points ** 2).sum(1))

    a, b = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    with pytest.raises(NonFiniteLossError, match="path point"):
        paths.fourier_path(explodes, a, b, steps=5)


def test_helper_input_errors():
    t = torch.linspace(0, 1, 5, dtype=torch.float64)
    a, b = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    with pytest.raises(ValueError, match="n_modes"):
        paths.fourier_basis(t, 0)
    with pytest.raises(TypeError, match="t must"):
        paths.fourier_basis(np.linspace(0, 1, 5), 3)
    with pytest.raises(ValueError, match="coefficients"):
        paths.fourier_points(t, a, b, torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="values"):
        paths.path_objective(torch.zeros(4, dtype=torch.float64), torch.zeros(5, 2, dtype=torch.float64), 0.1)
    with pytest.raises(ValueError, match="lam"):
        paths.path_objective(torch.zeros(5, dtype=torch.float64), torch.zeros(5, 2, dtype=torch.float64), -1.0)
    with pytest.raises(ValueError, match="temperature"):
        paths.path_objective(torch.zeros(5, dtype=torch.float64), torch.zeros(5, 2, dtype=torch.float64), 0.1,
                             objective="smooth_max")
    with pytest.raises(ValueError, match="point_gradients"):
        paths.fourier_gradient(np.zeros((5, 2)), np.zeros((5, 3)), 2, 0.1)
    with pytest.raises(ValueError, match="n_modes"):
        paths.fourier_gradient(np.zeros((5, 2)), np.zeros((5, 2)), 0, 0.1)
    with pytest.raises(TypeError, match="loss"):
        paths.path_heights(None, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="chunk"):
        paths.path_heights(potentials.two_bump, torch.zeros(3, 2, dtype=torch.float64), chunk=0)
    with pytest.raises(ValueError, match="points"):
        potentials.two_bump(torch.zeros(3, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="points"):
        potentials.muller_brown(np.zeros((3, 2)))


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.paths.fourier_points(torch.tensor(0.5), torch.zeros(3), torch.ones(3), torch.zeros((2, 3))),
     ValueError, "t must"),
])
def test_inputs_that_used_to_reach_raw_exceptions_or_a_wrong_cache_entry(call, error, match):
    # each of these raised an AttributeError/KeyError/IndexError/RuntimeError from deep inside, or
    # (the cached functions) converted 2.9 to 2 or 0.7 to 0 and served another entry from a warm cache
    with pytest.raises(error, match=match):
        call()


def test_gradient_noise_is_seeded_and_changes_the_run():
    """The notebook variant's gradient noise: one seed gives one path, another seed another, and no noise
    is the plain run; the noise is refused for the L-BFGS optimizer, which it would break."""
    from ebcore import potentials
    landscape = potentials.reference_landscape("two_bump")
    start, end = torch.tensor(landscape.start), torch.tensor(landscape.end)
    settings = dict(n_modes=4, n_points=21, steps=20, lr=0.01, lam=35.0, progress=False)
    plain = paths.fourier_path(landscape.potential, start, end, **settings)
    a = paths.fourier_path(landscape.potential, start, end, gradient_noise=1.0, noise_seed=3, **settings)
    b = paths.fourier_path(landscape.potential, start, end, gradient_noise=1.0, noise_seed=3, **settings)
    c = paths.fourier_path(landscape.potential, start, end, gradient_noise=1.0, noise_seed=4, **settings)
    np.testing.assert_array_equal(a.points, b.points)
    assert not np.allclose(a.points, c.points)
    assert not np.allclose(a.points, plain.points)
    with pytest.raises(ValueError, match="gradient_noise"):
        paths.fourier_path(landscape.potential, start, end, optimizer="lbfgs", gradient_noise=1.0,
                           **{**settings, "lr": 1e-3})
