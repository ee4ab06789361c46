"""Paths between solutions, barriers, alignment and kernel PCA (chapters 10 to 12)."""
import numpy as np
import pytest
import torch

import ebcore
from ebcore import barriers, landscape, nets, paths, potentials, stats
from ebcore.optim import NonFiniteLossError


def _quadratic_bowl(points):
    return (points ** 2).sum(1)


@pytest.fixture(scope="module")
def double_well():
    return potentials.reference_landscape("curved_double_well")


def test_reference_saddle_is_exact(double_well):
    # V = (x^2 - 1)^2 + 2 (y - (1 - x^2))^2 has its saddle at (0, 1), height 1, exactly
    np.testing.assert_allclose(double_well.saddles[0].point, [0.0, 1.0], atol=1e-12)
    assert double_well.barrier == pytest.approx(1.0, abs=1e-14)
    assert double_well.saddles[0].is_saddle


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


def test_batched_loss_matches_the_per_point_loop():
    for arch in ("fcp", "lstm"):
        task = nets.DigitsTask(arch)
        loss = landscape.batched_loss(task, subsample=64)
        w = torch.stack([torch.as_tensor(landscape.flat_parameters(task.make_model(s))) for s in range(3)]).to(task.dtype)
        pts = w.clone().requires_grad_(True)
        values = loss(pts)
        (grads,) = torch.autograd.grad(values.sum(), pts)
        loop_values, loop_grads = loss.loop(w)
        tol = 1e-12 if task.dtype == torch.float64 else 1e-5
        torch.testing.assert_close(values.detach(), loop_values, rtol=tol, atol=tol)
        torch.testing.assert_close(grads, loop_grads, rtol=tol, atol=tol)


def test_alignment_undoes_a_permutation():
    for arch in landscape.ALIGNABLE:
        task = nets.DigitsTask(arch)
        a = landscape.flat_parameters(task.make_model(1))
        model = task.make_model(1)
        with torch.no_grad():  # permute the first hidden layer's units by hand
            layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
            perm = torch.randperm(layers[0].out_features, generator=torch.Generator().manual_seed(0))
            layers[0].weight.copy_(layers[0].weight[perm])
            layers[1].weight.copy_(layers[1].weight[:, perm])
        permuted = landscape.flat_parameters(model)
        assert np.linalg.norm(permuted - a) > 1.0
        np.testing.assert_allclose(landscape.align_to(a, permuted, arch), a, atol=0)
        loss = landscape.batched_loss(task, subsample=100)
        v = loss(torch.tensor(np.stack([a, permuted]))).detach().numpy()
        assert abs(v[0] - v[1]) < 1e-12
    with pytest.raises(ValueError, match="architecture"):
        landscape.align_to(np.zeros(3), np.zeros(3), "lstm")
    with pytest.raises(ValueError, match="solution"):
        landscape.align_to(a, a[:-1], "autoencoder")


def test_kernel_pca_and_distances():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (10, 50)), rng.normal(3, 1, (10, 50))])
    Z = landscape.kernel_pca(X, 2)
    assert Z.shape == (20, 2)
    # two well separated clusters split along the first component
    first, second = np.sign(Z[:10, 0]), np.sign(Z[10:, 0])
    assert len(set(first)) == 1 and len(set(second)) == 1 and first[0] == -second[0]
    linear = landscape.kernel_pca(X, 2, kernel="linear")
    from sklearn.decomposition import PCA
    np.testing.assert_allclose(np.abs(linear), np.abs(PCA(2).fit_transform(X)), atol=1e-8)
    da, db = landscape.centroid_midpoint_distances(X[:10], X[10:])
    mid = 0.5 * (X[:10].mean(0) + X[10:].mean(0))
    np.testing.assert_allclose(da, np.linalg.norm(X[:10] - mid, axis=1))
    with pytest.raises(ValueError, match="n_components"):
        landscape.kernel_pca(X, 0)
    with pytest.raises(ValueError, match="kernel"):
        landscape.kernel_pca(X, 2, kernel="laplacian")
    with pytest.raises(ValueError, match="set_b"):
        landscape.centroid_midpoint_distances(X, X[:, :3])


def test_two_cloud_spectra():
    """thm-two-cloud-spectra against a direct eigen-decomposition of the centred kernel matrices."""
    rng = np.random.default_rng(3)
    m, gamma = 5, 0.2
    set_a, set_b = landscape.two_cloud_points(m, 40, 2.5, 1.0, 0.7, rng)
    fit = landscape.two_cloud_fit(set_a, set_b)
    np.testing.assert_allclose([fit.rho_a_sq, fit.rho_b_sq, fit.delta_sq], [6.25, 1.0, 0.49], rtol=1e-10)
    assert fit.m == m and fit.misfit < 1e-10
    X = np.vstack([set_a, set_b])
    sq = ((X[:, None] - X[None]) ** 2).sum(-1)
    J = np.eye(2 * m) - 1.0 / (2 * m)
    for g, matrix in ((gamma, np.exp(-gamma * sq)), (None, -0.5 * sq)):
        spectrum = landscape.two_cloud_spectrum(6.25, 1.0, 0.49, m, g)
        expected = sorted([spectrum["contrast"]] + [spectrum["within_a"]] * (m - 1) + [spectrum["within_b"]] * (m - 1) + [0.0])
        np.testing.assert_allclose(np.linalg.eigvalsh(J @ matrix @ J), expected, atol=1e-10)
    # the critical size is where the contrast overtakes the within-set eigenvalues
    for g in (gamma, None):
        critical = landscape.two_cloud_critical_size(6.25, 1.0, 0.49, g)
        for size in range(2, 60):
            s = landscape.two_cloud_spectrum(6.25, 1.0, 0.49, size, g)
            assert (s["contrast"] > max(s["within_a"], s["within_b"])) == (size > critical)
    assert landscape.two_cloud_critical_size(2.0, 1.0, 0.0, None) is None
    Z = np.c_[np.r_[np.ones(3), -np.ones(3)], rng.normal(size=6)]
    assert landscape.label_r2(Z, 3)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="dim"):
        landscape.two_cloud_points(5, 10, 1.0, 1.0, 0.0, rng)
    with pytest.raises(ValueError, match="set_b"):
        landscape.two_cloud_fit(set_a, set_b[:-1])
    with pytest.raises(ValueError, match="delta_sq"):
        landscape.two_cloud_spectrum(1.0, 1.0, float("nan"), m)
    with pytest.raises(ValueError, match="across"):
        landscape.two_cloud_spectrum(1.0, 1.0, -3.0, m)
    with pytest.raises(ValueError, match="n_first"):
        landscape.label_r2(Z, 6)


def test_random_pairs_and_bootstrap():
    pairs = barriers.random_pairs(5, 10, seed=0)
    assert len({tuple(p) for p in pairs}) == 10 and (pairs[:, 0] < pairs[:, 1]).all()
    with pytest.raises(ValueError, match="n_pairs"):
        barriers.random_pairs(4, 7)
    median, low, high = stats.bootstrap_median_ci(np.arange(101.0))
    assert median == 50.0 and low < 50 < high
    with pytest.raises(ValueError, match="samples"):
        stats.bootstrap_median_ci([])
    with pytest.raises(ValueError, match="pairs"):
        barriers.pair_barriers("fcp", np.zeros((3, 6200)), np.array([[0, 5]]))
    with pytest.raises(ValueError, match="align"):
        barriers.pair_barriers("lstm", np.zeros((3, 11616)), np.array([[0, 1]]), align=True)


def test_stationary_point_errors():
    with pytest.raises(ValueError, match="guess"):
        potentials.stationary_point(potentials.muller_brown, [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="name"):
        potentials.reference_landscape("rosenbrock")


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


def test_batched_loss_input_errors():
    task = nets.DigitsTask("fcp")
    loss = landscape.batched_loss(task, subsample=10)
    with pytest.raises(ValueError, match="points"):
        loss(torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match="points"):
        loss(np.zeros((2, loss.dimension)))
    with pytest.raises(ValueError, match="split"):
        landscape.batched_loss(task, "holdout")
    with pytest.raises(ValueError, match="subsample"):
        landscape.batched_loss(task, subsample=0)
    x, y = task.data("train")
    with pytest.raises(ValueError, match="same number of samples"):
        landscape.BatchedLoss(task.make_model(0), x, y[:-1], task.loss)
    with pytest.raises(TypeError, match="model"):
        landscape.BatchedLoss("net", x, y, task.loss)


def test_path_convergence_input_checks():
    with pytest.raises(ValueError, match="same size"):
        barriers.path_convergence("fcp", np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match="architecture"):
        barriers.path_convergence("resnet", np.zeros(4), np.zeros(4))


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.paths.fourier_points(torch.tensor(0.5), torch.zeros(3), torch.ones(3), torch.zeros((2, 3))),
     ValueError, "t must"),
])
def test_inputs_that_used_to_reach_raw_exceptions_or_a_wrong_cache_entry(call, error, match):
    # each of these raised an AttributeError/KeyError/IndexError/RuntimeError from deep inside, or
    # (the cached functions) converted 2.9 to 2 or 0.7 to 0 and served another entry from a warm cache
    with pytest.raises(error, match=match):
        call()
