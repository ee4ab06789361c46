"""Kernel PCA of solution sets and the two-cloud model of their squared distances (chapter 12)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .registry import implements
from .validation import check_array, check_finite_result, check_int

__all__ = ['KERNELS', 'kernel_pca', 'centroid_midpoint_distances', 'label_r2', 'SeparationTest', 'separation_test', 'TwoCloud', 'two_cloud_fit', 'two_cloud_spectrum', 'two_cloud_critical_size', 'two_cloud_points', "contrast_leads"]


#: Kernels :func:`kernel_pca` accepts (scikit-learn's names).
KERNELS = ("rbf", "linear", "poly", "sigmoid", "cosine")


@implements("thm-two-cloud-spectra")
def kernel_pca(X, n_components: int = 2, gamma: float | None = None, kernel: str = "rbf"):
    """Kernel PCA of solutions ``X`` ``(n, n_params)``: the projections ``(n, n_components)``.

    scikit-learn's :class:`~sklearn.decomposition.KernelPCA`; the RBF kernel is
    ``exp(-gamma |x - x'|^2)`` with default ``gamma = 1 / n_params``, the paper's choice
    ``2 sigma^2 = n_params``. ``kernel="linear"`` is ordinary PCA (centred in feature space);
    ``"poly"`` and ``"sigmoid"`` use the same ``gamma``. The sign of each component is fixed so that
    its largest-magnitude entry is positive (eigenvectors are defined up to sign).

    Parameters
    ----------
    X : numpy.ndarray, shape (n, n_params)
        One solution per row, floating point.
    n_components : int, 1 <= n_components <= n
        The number of components.
    gamma : float > 0, optional
        The kernel's scale (default ``1 / n_params``).
    kernel : str
        One of :data:`KERNELS`.

    Returns
    -------
    numpy.ndarray, shape (n, n_components)
        The projections, each component's largest-magnitude entry positive.

    Raises
    ------
    TypeError
        If ``X`` is not a floating-point array, ``n_components`` is not an integer, or ``gamma`` is
        not a real number.
    ValueError
        If ``X`` is not 2-D, is empty or holds a non-finite value, ``n_components`` is below 1 or above
        the number of solutions, ``kernel`` is unknown, or ``gamma`` is not a finite number > 0.
    """
    from sklearn.decomposition import KernelPCA

    from .validation import check_choice, check_positive

    X = check_array(X, "X", ndim=2)
    X = np.asarray(X, dtype=np.float64)
    n_components = check_int(n_components, "n_components", minimum=1)
    if n_components > X.shape[0]:
        raise ValueError(f"n_components must be <= the number of solutions ({X.shape[0]}), got {n_components}")
    check_choice(kernel, "kernel", KERNELS)
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    gamma = check_positive(gamma, "gamma")
    model = KernelPCA(n_components=n_components, kernel=kernel, gamma=gamma, eigen_solver="dense")
    Z = model.fit_transform(X)
    signs = np.sign(Z[np.abs(Z).argmax(axis=0), np.arange(Z.shape[1])])
    return Z * np.where(signs == 0, 1.0, signs)


def centroid_midpoint_distances(set_a, set_b):
    """Distances of every solution of two sets to the midpoint of the two set centroids.

    Returns ``(distances_a, distances_b)``; the midpoint is ``(mean(set_a) + mean(set_b)) / 2``,
    the common centre the paper measures the shell structure from.

    Parameters
    ----------
    set_a : numpy.ndarray, shape (m_a, n_params)
        The first set, one solution per row.
    set_b : numpy.ndarray, shape (m_b, n_params)
        The second set.

    Returns
    -------
    distances_a : numpy.ndarray, shape (m_a,)
        Each solution of ``set_a``'s distance to the midpoint.
    distances_b : numpy.ndarray, shape (m_b,)
        The same for ``set_b``.

    Raises
    ------
    TypeError
        If ``set_a`` or ``set_b`` is not a floating-point array.
    ValueError
        If a set is not 2-D, is empty or holds a non-finite value, or the sets have different
        numbers of parameters.
    """
    a = np.asarray(check_array(set_a, "set_a", ndim=2), dtype=np.float64)
    b = np.asarray(check_array(set_b, "set_b", ndim=2), dtype=np.float64)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"set_a and set_b must have the same number of parameters, got {a.shape[1]} and {b.shape[1]}")
    midpoint = 0.5 * (a.mean(axis=0) + b.mean(axis=0))
    return np.linalg.norm(a - midpoint, axis=1), np.linalg.norm(b - midpoint, axis=1)


def label_r2(Z, n_first: int):
    """Squared correlation of each column of ``Z`` with the group label (first ``n_first`` rows vs the rest).

    1 means the component is exactly the group contrast (constant on each group), 0 that it does
    not see the groups at all. Returns shape ``(n_components,)``.

    Parameters
    ----------
    Z : numpy.ndarray, shape (n, n_components)
        The components (e.g. from :func:`kernel_pca`), floating point.
    n_first : int, 1 <= n_first < n
        The size of the first group (its rows come first).

    Returns
    -------
    numpy.ndarray, shape (n_components,)
        The squared correlations (0 for a constant column).

    Raises
    ------
    TypeError
        If ``Z`` is not a floating-point array, or ``n_first`` is not an integer.
    ValueError
        If ``Z`` is not 2-D, is empty or holds a non-finite value, or ``n_first`` is outside
        ``[1, n)``.
    """
    Z = np.asarray(check_array(Z, "Z", ndim=2), dtype=np.float64)
    n_first = check_int(n_first, "n_first", minimum=1)
    if n_first >= Z.shape[0]:
        raise ValueError(f"n_first must be smaller than the number of rows ({Z.shape[0]}), got {n_first}")
    labels = np.zeros(Z.shape[0])
    labels[:n_first] = 1.0
    labels -= labels.mean()
    centred = Z - Z.mean(axis=0)
    norms = np.linalg.norm(centred, axis=0) * np.linalg.norm(labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (labels @ centred) / norms
    return np.where(norms > 0, r * r, 0.0)


class SeparationTest(NamedTuple):
    """Whether components see two groups: the largest label R^2 and its label-permutation null.

    ``r2`` is the largest :func:`label_r2` over the components, ``critical`` the permutation null's
    ``level`` quantile of that largest value, ``p_value`` the permutation p-value
    ``(1 + #{null >= r2}) / (1 + n_permutations)``.
    """

    r2: float
    critical: float
    p_value: float


def separation_test(Z, n_first: int, n_permutations: int = 9999, level: float = 0.95, seed=0) -> SeparationTest:
    """A permutation test of whether any column of ``Z`` separates the first ``n_first`` rows from the rest.

    The statistic is the largest squared correlation of a column with the group label
    (:func:`label_r2`). A (kernel) PCA is computed without the labels, so when the two groups are
    drawn from one distribution the labels are exchangeable given the components, and the
    statistic's null distribution is that of the same statistic under random relabellings: the test
    has level ``1 - level`` exactly (up to the Monte Carlo error of ``n_permutations`` draws), for
    any components.

    Parameters
    ----------
    Z : numpy.ndarray, shape (n, n_components)
        The components, floating point.
    n_first : int, 1 <= n_first < n
        The size of the first group (its rows come first).
    n_permutations : int >= 1
        Random relabellings drawn for the null.
    level : float in (0, 1)
        The quantile reported as ``critical``.
    seed : int or numpy.random.Generator
        Draws the relabellings.

    Returns
    -------
    SeparationTest

    Raises
    ------
    TypeError
        If ``Z`` is not a floating-point array, ``n_first`` or ``n_permutations`` is not an integer,
        ``level`` is not a real number, or ``seed`` is neither an integer nor a Generator.
    ValueError
        If ``Z`` is not 2-D, is empty or holds a non-finite value, ``n_first`` is outside ``[1, n)``,
        ``n_permutations < 1``, ``level`` is not in ``(0, 1)``, or ``seed`` is negative.
    """
    from .seeding import as_generator
    from .validation import check_fraction

    observed = float(label_r2(Z, n_first).max())
    Z = np.asarray(Z, dtype=np.float64)
    n_permutations = check_int(n_permutations, "n_permutations", minimum=1)
    level = check_fraction(level, "level")
    rng = as_generator(seed, "seed")
    n = Z.shape[0]
    labels = np.zeros((n_permutations, n))
    for row in labels:
        row[rng.permutation(n)[:n_first]] = 1.0
    labels -= labels.mean(axis=1, keepdims=True)
    centred = Z - Z.mean(axis=0)
    norms = np.linalg.norm(labels, axis=1)[:, None] * np.linalg.norm(centred, axis=0)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (labels @ centred) / norms
    null = np.where(norms > 0, r * r, 0.0).max(axis=1)
    # the observed value counts as one draw of the null (a valid p-value at any n_permutations)
    p_value = (1 + int(np.sum(null >= observed - 1e-12))) / (1 + n_permutations)
    return SeparationTest(r2=observed, critical=float(np.quantile(null, level)), p_value=float(p_value))


class TwoCloud(NamedTuple):
    r"""The two-cloud model of {prf:ref}`thm-two-cloud-spectra` fitted to two sets of solutions.

    ``rho_a_sq`` and ``rho_b_sq`` are half the mean squared distance within each set,
    ``delta_sq`` the mean squared distance across the sets minus their sum, ``m`` the set size,
    ``misfit`` the root-mean-square relative deviation of the pairwise squared distances from the
    model's.
    """

    rho_a_sq: float
    rho_b_sq: float
    delta_sq: float
    m: int
    misfit: float


def _pairwise_sq(X):
    sq = (X * X).sum(axis=1)
    return np.maximum(sq[:, None] + sq[None, :] - 2.0 * X @ X.T, 0.0)


def two_cloud_fit(set_a, set_b) -> TwoCloud:
    """Fit the two-cloud model (:class:`TwoCloud`) to two equal-sized sets of solutions.

    The model ({prf:ref}`thm-two-cloud-spectra`) prescribes every pairwise squared distance from
    three numbers; they are fitted by matching the mean squared distance within each set and
    across, which is exact when the model holds.

    Parameters
    ----------
    set_a : numpy.ndarray, shape (m, n_params)
        The first set, one solution per row, at least two.
    set_b : numpy.ndarray, shape (m, n_params)
        The second set, of the same shape.

    Returns
    -------
    TwoCloud
        ``rho_a_sq``, ``rho_b_sq``, ``delta_sq``, ``m`` and the ``misfit``.

    Raises
    ------
    TypeError
        If ``set_a`` or ``set_b`` is not a floating-point array.
    ValueError
        If a set is not 2-D, is empty or holds a non-finite value, the sets' shapes differ, or a set
        has fewer than 2 solutions.
    """
    a = np.asarray(check_array(set_a, "set_a", ndim=2), dtype=np.float64)
    b = np.asarray(check_array(set_b, "set_b", ndim=2), dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"set_a and set_b must have the same shape, got {a.shape} and {b.shape}")
    m = a.shape[0]
    if m < 2:
        raise ValueError("each set needs at least 2 solutions")
    d2 = _pairwise_sq(np.vstack([a, b]))
    off = ~np.eye(m, dtype=bool)
    rho_a_sq = d2[:m, :m][off].mean() / 2
    rho_b_sq = d2[m:, m:][off].mean() / 2
    delta_sq = d2[:m, m:].mean() - rho_a_sq - rho_b_sq
    rho = np.r_[np.full(m, rho_a_sq), np.full(m, rho_b_sq)]
    model = rho[:, None] + rho[None, :]
    model[:m, m:] += delta_sq
    model[m:, :m] += delta_sq
    mask = ~np.eye(2 * m, dtype=bool)
    misfit = float(np.sqrt(np.mean(((d2 - model)[mask] / model[mask]) ** 2)))
    return TwoCloud(float(rho_a_sq), float(rho_b_sq), float(delta_sq), m, misfit)


@implements("thm-two-cloud-spectra")
def two_cloud_spectrum(rho_a_sq, rho_b_sq, delta_sq, m: int, gamma=None) -> dict:
    """Eigenvalues of the centred kernel matrix of the two-cloud model ({prf:ref}`thm-two-cloud-spectra`).

    Returns ``{"contrast", "within_a", "within_b"}``: the eigenvalue of the group-contrast
    direction (multiplicity 1) and of the within-set directions (multiplicity ``m - 1`` each), for
    the RBF kernel ``exp(-gamma d^2)`` when ``gamma`` is given and for linear PCA (the centred Gram
    matrix) when ``gamma`` is None. ``delta_sq`` may be negative (a fitted model whose sets are
    closer across than the orthogonal realisation allows); the algebra of the proof does not use its
    sign, only that every model distance is non-negative. These are the eigenvalues scikit-learn's ``KernelPCA`` reports:
    the squared norms of the columns :func:`kernel_pca` returns.

    Parameters
    ----------
    rho_a_sq, rho_b_sq : float >= 0
        The within-set squared radii of the model.
    delta_sq : float
        The across-set excess squared distance (any sign, with ``rho_a_sq + rho_b_sq + delta_sq >= 0``).
    m : int >= 2
        The size of each set.
    gamma : float > 0, optional
        The RBF kernel's scale; ``None`` for linear PCA.

    Returns
    -------
    dict
        ``{"contrast": float, "within_a": float, "within_b": float}``.

    Raises
    ------
    TypeError
        If ``rho_a_sq``, ``rho_b_sq``, ``delta_sq`` or ``gamma`` is not a real number, or ``m`` is not
        an integer.
    ValueError
        If ``rho_a_sq`` or ``rho_b_sq`` is negative or not finite, ``delta_sq`` is not finite, the
        squared distance across the sets is negative, ``m < 2``, or ``gamma`` is not a finite number
        in ``[1e-150, 1e150]``.
    """
    from .validation import check_finite_scalar, check_nonnegative, check_scale

    ra = check_nonnegative(rho_a_sq, "rho_a_sq")
    rb = check_nonnegative(rho_b_sq, "rho_b_sq")
    dd = check_finite_scalar(delta_sq, "delta_sq")
    if ra + rb + dd < 0:
        raise ValueError(f"the squared distance across the sets, rho_a_sq + rho_b_sq + delta_sq, must be >= 0, got {ra + rb + dd}")
    m = check_int(m, "m", minimum=2)
    if gamma is None:
        return {"contrast": (ra + rb) / 2 + m * dd / 2, "within_a": ra, "within_b": rb}
    g = check_scale(gamma, "gamma")
    alpha, beta, kappa = np.exp(-g * ra), np.exp(-g * rb), np.exp(-g * dd)
    mean_sq = (alpha ** 2 + beta ** 2) / 2
    return {"contrast": float(m * (mean_sq - kappa * alpha * beta) + 1 - mean_sq),
            "within_a": float(1 - alpha ** 2), "within_b": float(1 - beta ** 2)}


@implements("thm-two-cloud-spectra")
def two_cloud_critical_size(rho_a_sq, rho_b_sq, delta_sq, gamma=None) -> float | None:
    """Set size above which the group contrast is the leading component ({prf:ref}`thm-two-cloud-spectra`).

    The contrast eigenvalue grows linearly in ``m`` with slope ``c`` and the within-set eigenvalues
    do not depend on ``m``, so the contrast leads exactly when ``m > |within_a - within_b| / (2 c)``.
    Returns that bound, or ``None`` when ``c <= 0``: then no set size makes the contrast lead (a
    ``None`` rather than an infinity, so that the answer cannot enter arithmetic unnoticed);
    ``gamma=None`` means linear PCA.

    Parameters
    ----------
    rho_a_sq, rho_b_sq : float >= 0
        The within-set squared radii of the model.
    delta_sq : float
        The across-set excess squared distance.
    gamma : float > 0, optional
        The RBF kernel's scale; ``None`` for linear PCA.

    Returns
    -------
    float or None
        The critical set size, or ``None`` when no size makes the contrast lead.

    Raises
    ------
    TypeError
        If an argument is not a real number.
    ValueError
        If the arguments are invalid for :func:`two_cloud_spectrum`, or the spectrum or the bound is
        not finite.
    """
    two = two_cloud_spectrum(rho_a_sq, rho_b_sq, delta_sq, 2, gamma)
    three = two_cloud_spectrum(rho_a_sq, rho_b_sq, delta_sq, 3, gamma)
    slope = three["contrast"] - two["contrast"]
    if not np.isfinite(slope):
        raise ValueError("rho_a_sq, rho_b_sq, delta_sq, gamma: the spectrum is not finite for these values")
    if slope <= 0:
        return None
    return check_finite_result(abs(two["within_a"] - two["within_b"]) / (2 * slope),
                               "rho_a_sq, rho_b_sq, delta_sq, gamma")


@implements("thm-two-cloud-spectra")
def two_cloud_points(m: int, dim: int, rho_a, rho_b, delta, rng):
    """A configuration of ``2 m`` points in ``dim`` dimensions that satisfies the two-cloud model exactly.

    Point ``i`` of set A is ``c_A + rho_a u_i`` (set B likewise) with orthonormal ``u_i``, all
    orthogonal to ``c_A - c_B``, ``|c_A - c_B| = delta``; the frame is a random rotation from
    ``rng``. Needs ``dim >= 2 m + 1``. Returns ``(set_a, set_b)``, each ``(m, dim)``.

    Parameters
    ----------
    m : int >= 2
        Points per set.
    dim : int >= 2 m + 1
        The dimension.
    rho_a, rho_b : float >= 0
        The sets' radii.
    delta : float >= 0
        The distance between the two centres.
    rng : numpy.random.Generator or int
        Source of the frame and the common centre (a generator, or a non-negative integer seed).

    Returns
    -------
    set_a, set_b : numpy.ndarray, shape (m, dim)
        The two sets.

    Raises
    ------
    TypeError
        If ``m`` or ``dim`` is not an integer, ``rho_a``, ``rho_b`` or ``delta`` is not a real number,
        or ``rng`` is neither a numpy Generator nor an integer seed.
    ValueError
        If ``m < 2``, ``dim < 2 m + 1``, ``rho_a``, ``rho_b`` or ``delta`` is negative or not finite,
        or ``rng`` is a negative seed.
    """
    from .seeding import as_generator, random_orthonormal
    from .validation import check_nonnegative

    m = check_int(m, "m", minimum=2)
    dim = check_int(dim, "dim", minimum=2 * m + 1)
    rho_a = check_nonnegative(rho_a, "rho_a")
    rho_b = check_nonnegative(rho_b, "rho_b")
    delta = check_nonnegative(delta, "delta")
    gen = as_generator(rng)
    frame = random_orthonormal(dim, 2 * m + 1, gen)
    offset = delta * frame[:, 2 * m]
    centre = gen.standard_normal(dim)
    set_a = centre + offset / 2 + rho_a * frame[:, :m].T
    set_b = centre - offset / 2 + rho_b * frame[:, m:2 * m].T
    return set_a, set_b


def contrast_leads(spectrum: dict, margin: float = 0.0) -> bool:
    """Whether the group contrast is the first component of a :func:`two_cloud_spectrum`: its eigenvalue
    exceeds both within-set eigenvalues by more than ``margin``."""
    if not isinstance(spectrum, dict) or not {"contrast", "within_a", "within_b"} <= set(spectrum):
        raise TypeError("spectrum must be a dict from two_cloud_spectrum (contrast, within_a, within_b)")
    from .validation import check_finite_scalar, check_nonnegative

    margin = check_nonnegative(margin, "margin")
    values = {k: check_finite_scalar(spectrum[k], f"spectrum[{k!r}]") for k in ("contrast", "within_a", "within_b")}
    return values["contrast"] - max(values["within_a"], values["within_b"]) > margin
