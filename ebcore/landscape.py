"""Views of trained solutions as points in parameter space.

Chapter 9 compares the weights of the two optimizers' solutions (:func:`weight_statistics`);
chapters 10 to 12 build on the same flat-vector view (:func:`ebcore.training.flat_parameters`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .optim import NonFiniteLossError
from .training import flat_parameters, set_flat_parameters
from .validation import check_array, check_finite_result, check_int

__all__ = ["flat_parameters", "set_flat_parameters", "weight_statistics", "WEIGHT_STATISTICS", "BatchedLoss",
           "batched_loss", "KERNELS", "kernel_pca", "centroid_midpoint_distances", "label_r2", "TwoCloud",
           "two_cloud_fit", "two_cloud_spectrum", "two_cloud_critical_size", "two_cloud_points", "ALIGNABLE", "align_to"]

#: The per-solution statistics :func:`weight_statistics` returns, in order.
WEIGHT_STATISTICS = ("std", "mean_abs", "max_abs", "norm")


def weight_statistics(solutions) -> dict:
    """Spread of each solution's weights: ``{name: (n_solutions,) array}``.

    ``solutions`` is ``(n_solutions, n_params)`` (e.g. ``Ensemble.solutions["train"]``). The
    statistics are the standard deviation of the entries, their mean and largest absolute value,
    and the Euclidean norm of the vector (the paper reports the spread: L-BFGS solutions have
    wider weight distributions than SGD's).
    """
    solutions = check_array(solutions, "solutions", ndim=2)
    w = np.asarray(solutions, dtype=np.float64)
    return {"std": w.std(axis=1), "mean_abs": np.abs(w).mean(axis=1), "max_abs": np.abs(w).max(axis=1),
            "norm": np.linalg.norm(w, axis=1)}


class BatchedLoss:
    """A network's loss at many flat parameter vectors in one call: ``(P, D)`` to ``(P,)``.

    The parameters of ``model`` (in ``parameters()`` order, the layout of
    :func:`flat_parameters`) are replaced by each row of ``points`` through
    :func:`torch.func.functional_call`, and :func:`torch.func.vmap` batches the rows, so the
    forward and backward passes of all path points run as batched matrix products. Rows are taken
    ``chunk`` at a time to bound memory (activations grow as ``chunk x n_samples x width``).
    :meth:`loop` is the reference method of the paper's notebooks: one forward and one backward
    pass per point through the module itself.
    """

    def __init__(self, model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss_fn, *, chunk: int = 64):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise TypeError("loss_fn must be callable (outputs, targets) -> scalar")
        check_array(inputs, "inputs", ndim=(2, 3, 4))
        if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
            raise TypeError("inputs and targets must be torch tensors")
        if targets.shape[0] != inputs.shape[0]:
            raise ValueError(f"inputs and targets must have the same number of samples, got {inputs.shape[0]} "
                             f"and {targets.shape[0]}")
        self.model, self.inputs, self.targets, self.loss_fn = model, inputs, targets, loss_fn
        self.chunk = check_int(chunk, "chunk", minimum=1)
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.dimension = sum(self.sizes)
        self.dtype = named[0][1].dtype
        self.buffers = dict(model.named_buffers())
        # Set to False once vmap has failed for this model (no batching rule, e.g. nn.LSTM); points
        # then go through functional_call one by one, still differentiable with respect to the points.
        self.vectorised = True

    def _unflatten(self, points):
        pieces = torch.split(points, self.sizes, dim=1)
        return {n: piece.reshape(points.shape[0], *shape) for n, piece, shape in zip(self.names, pieces, self.shapes)}

    def _one(self, params):
        outputs = torch.func.functional_call(self.model, (params, self.buffers), (self.inputs,))
        return self.loss_fn(outputs, self.targets)

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        if not isinstance(points, torch.Tensor):
            raise TypeError(f"points must be a torch tensor, got {type(points).__name__}")
        check_array(points, "points", ndim=2, shape=(None, self.dimension))
        points = points.to(self.dtype)
        losses = None
        if self.vectorised:
            try:
                batched = torch.func.vmap(self._one)
                losses = torch.cat([batched(self._unflatten(block)) for block in torch.split(points, self.chunk)])
            except RuntimeError as error:
                if "Batching rule not implemented" not in str(error):
                    raise
                self.vectorised = False  # e.g. nn.LSTM: torch has no batching rule for aten::lstm
        if losses is None:
            params = self._unflatten(points)
            losses = torch.stack([self._one({n: v[i] for n, v in params.items()}) for i in range(points.shape[0])])
        bad = ~torch.isfinite(losses.detach())
        if bool(bad.any()):
            which = torch.nonzero(bad).flatten().tolist()
            raise NonFiniteLossError(f"points: the loss is not finite at point(s) {which[:10]}")
        return losses

    def loop(self, points: torch.Tensor):
        """Losses ``(P,)`` and gradients ``(P, D)``, one point at a time through the module (the paper's way)."""
        check_array(points, "points", ndim=2, shape=(None, self.dimension))
        losses, grads = [], []
        params = [p for p in self.model.parameters() if p.requires_grad]
        for w in points:
            set_flat_parameters(self.model, w.detach())
            for p in params:
                p.grad = None
            value = self.loss_fn(self.model(self.inputs), self.targets)
            value.backward()
            losses.append(value.detach())
            grads.append(torch.cat([p.grad.reshape(-1) for p in params]))
        return torch.stack(losses), torch.stack(grads)


def batched_loss(task, split: str = "train", *, subsample: int | None = None, seed: int = 0,
                 chunk: int = 64) -> BatchedLoss:
    """:class:`BatchedLoss` of a :class:`ebcore.nets.DigitsTask` on one data split.

    ``subsample`` keeps that many samples of the split (drawn without replacement under ``seed``):
    paths are optimised on a subsample and their barriers measured on the whole split.
    """
    from .nets import SPLITS
    from .seeding import as_generator
    from .validation import check_choice

    check_choice(split, "split", SPLITS)
    inputs, targets = task.data(split)
    if subsample is not None:
        subsample = check_int(subsample, "subsample", minimum=1)
        if subsample < inputs.shape[0]:
            rows = np.sort(as_generator(seed).choice(inputs.shape[0], subsample, replace=False))
            inputs, targets = inputs[rows], targets[rows]
    return BatchedLoss(task.make_model(0), inputs, targets, task.loss, chunk=chunk)


#: Kernels :func:`kernel_pca` accepts (scikit-learn's names).
KERNELS = ("rbf", "linear", "poly", "sigmoid", "cosine")


def kernel_pca(X, n_components: int = 2, gamma: float | None = None, kernel: str = "rbf"):
    """Kernel PCA of solutions ``X`` ``(n, n_params)``: the projections ``(n, n_components)``.

    scikit-learn's :class:`~sklearn.decomposition.KernelPCA`; the RBF kernel is
    ``exp(-gamma |x - x'|^2)`` with default ``gamma = 1 / n_params``, the paper's choice
    ``2 sigma^2 = n_params``. ``kernel="linear"`` is ordinary PCA (centred in feature space);
    ``"poly"`` and ``"sigmoid"`` use the same ``gamma``. The sign of each component is fixed so that
    its largest-magnitude entry is positive (eigenvectors are defined up to sign).
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
    r"""Fit the two-cloud model (:class:`TwoCloud`) to two equal-sized sets of solutions.

    The model ({prf:ref}`thm-two-cloud-spectra`) prescribes every pairwise squared distance from
    three numbers; they are fitted by matching the mean squared distance within each set and
    across, which is exact when the model holds.
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


def two_cloud_spectrum(rho_a_sq, rho_b_sq, delta_sq, m: int, gamma=None) -> dict:
    r"""Eigenvalues of the centred kernel matrix of the two-cloud model ({prf:ref}`thm-two-cloud-spectra`).

    Returns ``{"contrast", "within_a", "within_b"}``: the eigenvalue of the group-contrast
    direction (multiplicity 1) and of the within-set directions (multiplicity ``m - 1`` each), for
    the RBF kernel ``exp(-gamma d^2)`` when ``gamma`` is given and for linear PCA (the centred Gram
    matrix) when ``gamma`` is None. ``delta_sq`` may be negative (a fitted model whose sets are
    closer across than the orthogonal realisation allows); the algebra of the proof does not use its
    sign, only that every model distance is non-negative. These are the eigenvalues scikit-learn's ``KernelPCA`` reports:
    the squared norms of the columns :func:`kernel_pca` returns.
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


def two_cloud_critical_size(rho_a_sq, rho_b_sq, delta_sq, gamma=None) -> float | None:
    r"""Set size above which the group contrast is the leading component ({prf:ref}`thm-two-cloud-spectra`).

    The contrast eigenvalue grows linearly in ``m`` with slope ``c`` and the within-set eigenvalues
    do not depend on ``m``, so the contrast leads exactly when ``m > |within_a - within_b| / (2 c)``.
    Returns that bound, or ``None`` when ``c <= 0``: then no set size makes the contrast lead (a
    ``None`` rather than an infinity, so that the answer cannot enter arithmetic unnoticed);
    ``gamma=None`` means linear PCA.
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


def two_cloud_points(m: int, dim: int, rho_a, rho_b, delta, rng):
    r"""A configuration of ``2 m`` points in ``dim`` dimensions that satisfies the two-cloud model exactly.

    Point ``i`` of set A is ``c_A + rho_a u_i`` (set B likewise) with orthonormal ``u_i``, all
    orthogonal to ``c_A - c_B``, ``|c_A - c_B| = delta``; the frame is a random rotation from
    ``rng``. Needs ``dim >= 2 m + 1``. Returns ``(set_a, set_b)``, each ``(m, dim)``.
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


#: Architectures whose hidden units :func:`align_to` can permute (chains of bias-free linear layers
#: with elementwise activations).
ALIGNABLE = ("fcp", "autoencoder")


def _layer_shapes(architecture: str):
    from .nets import make_net
    from .validation import check_choice

    check_choice(architecture, "architecture", ALIGNABLE)
    model = make_net(architecture, 0)
    shapes = [tuple(p.shape) for p in model.parameters()]
    if any(len(s) != 2 for s in shapes):
        raise ValueError(f"{architecture}: alignment needs a chain of weight matrices without biases")
    return shapes


def _split_layers(vector, shapes):
    out, offset = [], 0
    for rows, cols in shapes:
        out.append(vector[offset:offset + rows * cols].reshape(rows, cols))
        offset += rows * cols
    return out


def align_to(reference, solution, architecture: str, *, max_sweeps: int = 100):
    """Permute the hidden units of ``solution`` to match ``reference`` (weight matching).

    A network computes the same function after any permutation of the units of a hidden layer,
    applied to the rows of the layer's weight matrix and to the columns of the next one. Weight
    matching (Ainsworth, Hayase and Srinivasa 2023) picks, layer by layer, the permutation that
    maximises the inner product of the two networks' weights touching that layer (a linear
    assignment problem, solved exactly by :func:`scipy.optimize.linear_sum_assignment`), and sweeps
    over the layers until no permutation changes. Returns the permuted flat vector (the same
    function as ``solution``; tested) for ``architecture`` in :data:`ALIGNABLE`.
    """
    from scipy.optimize import linear_sum_assignment

    shapes = _layer_shapes(architecture)
    ref = np.asarray(check_array(reference, "reference", ndim=1), dtype=np.float64)
    sol = np.asarray(check_array(solution, "solution", ndim=1), dtype=np.float64)
    total = sum(r * c for r, c in shapes)
    for name, v in (("reference", ref), ("solution", sol)):
        if v.size != total:
            raise ValueError(f"{name} must have {total} entries for {architecture}, got {v.size}")
    max_sweeps = check_int(max_sweeps, "max_sweeps", minimum=1)
    A, B = _split_layers(ref, shapes), _split_layers(sol, shapes)
    perms = [np.arange(rows) for rows, _ in shapes[:-1]]  # one per hidden layer

    def permuted(layer):
        W = B[layer]
        if layer < len(perms):
            W = W[perms[layer]]
        if layer > 0:
            W = W[:, perms[layer - 1]]
        return W

    for _ in range(max_sweeps):
        changed = False
        for layer in range(len(perms)):
            # rows of layer `layer` (with its input side permuted) and columns of the next layer
            W_in = B[layer] if layer == 0 else B[layer][:, perms[layer - 1]]
            W_out = B[layer + 1] if layer + 1 >= len(perms) else B[layer + 1][perms[layer + 1]]
            score = A[layer] @ W_in.T + A[layer + 1].T @ W_out
            _, cols = linear_sum_assignment(score, maximize=True)
            if not np.array_equal(cols, perms[layer]):
                perms[layer], changed = cols, True
        if not changed:
            break
    return np.concatenate([permuted(layer).reshape(-1) for layer in range(len(shapes))])
