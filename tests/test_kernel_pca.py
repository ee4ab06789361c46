"""Kernel PCA of solutions and the two-cloud spectra (chapter 12)."""
import numpy as np
import pytest

from ebcore import kernel_pca, landscape


def test_bad_input_names_the_argument():
    """Every public function added for chapters 7, 8, 12 and 13 rejects bad input with the argument's name."""
    cases = [
        (ValueError, "delta_sq", lambda: landscape.two_cloud_critical_size(1.0, 1.0, float("inf"))),
        (ValueError, "gamma", lambda: landscape.two_cloud_spectrum(1.0, 1.0, 0.0, 3, gamma=-1.0)),
        (ValueError, "rho_a", lambda: landscape.two_cloud_points(2, 9, -1.0, 1.0, 0.0, 0)),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()


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


@pytest.mark.audit("thm-two-cloud-spectra")
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


def test_separation_test_has_its_level_and_power():
    """Under one distribution the p-value is uniform (its level holds); two far-apart groups are found."""
    rng = np.random.default_rng(5)
    rejections = 0
    for k in range(400):
        Z = rng.standard_normal((20, 2))
        rejections += kernel_pca.separation_test(Z, 10, n_permutations=199, seed=k).p_value <= 0.05
    # binomial(400, 0.05): mean 20, standard deviation 4.4; 4 standard deviations either side
    assert 2 <= rejections <= 38
    Z = rng.standard_normal((20, 2))
    Z[:10, 1] += 5.0
    test = kernel_pca.separation_test(Z, 10, n_permutations=199, seed=0)
    # only the labels themselves and their swap reach the observed R^2 (seed 0 happens to draw the swap once)
    assert test.p_value <= 3 / 200 and test.r2 > test.critical
    assert test.r2 == pytest.approx(kernel_pca.label_r2(Z, 10).max())
    with pytest.raises(ValueError, match="n_first"):
        kernel_pca.separation_test(Z, 20)
