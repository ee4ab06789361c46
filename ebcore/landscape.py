"""Views of trained solutions as points in parameter space.

Chapter 9 compares the weights of the two optimizers' solutions (:func:`weight_statistics`);
chapters 10 to 12 build on the same flat-vector view (:func:`ebcore.training.flat_parameters`).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .training import flat_parameters, set_flat_parameters
from .validation import check_array, check_int

__all__ = ["flat_parameters", "set_flat_parameters", "weight_statistics", "WEIGHT_STATISTICS", "BatchedLoss",
           "batched_loss", "KERNELS", "kernel_pca", "centroid_midpoint_distances", "ALIGNABLE", "align_to"]

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
        check_array(points, "points", ndim=2, shape=(None, self.dimension), finite=False)
        points = points.to(self.dtype)
        if self.vectorised:
            try:
                batched = torch.func.vmap(self._one)
                return torch.cat([batched(self._unflatten(block)) for block in torch.split(points, self.chunk)])
            except RuntimeError as error:
                if "Batching rule not implemented" not in str(error):
                    raise
                self.vectorised = False  # e.g. nn.LSTM: torch has no batching rule for aten::lstm
        params = self._unflatten(points)
        return torch.stack([self._one({n: v[i] for n, v in params.items()}) for i in range(points.shape[0])])

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
    check_positive(gamma, "gamma")
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
