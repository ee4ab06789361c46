r"""Symmetries of the loss and the alignment of solutions they allow (chapters 11 to 13).

Permutations of hidden units (:func:`align_to`, weight matching) leave a network's function
unchanged, as do common rotations of a planar attention layer's query and key maps
(:func:`rotation_path`, :func:`align_rotation`). Aligning one solution to another before
comparing them removes the differences that are only due to these symmetries.
"""
from __future__ import annotations

import numpy as np
import torch

from .denoisers import AttentionDenoiser
from .registry import implements
from .training import flat_parameters, set_flat_parameters
from .validation import as_float_array, check_array, check_choice, check_int

__all__ = ['ALIGNABLE', 'align_to', 'rotation_path', 'align_rotation', "alignment_choices", "aligned_sets"]


#: Architectures whose hidden units :func:`align_to` can permute (chains of bias-free linear layers
#: with elementwise activations).
ALIGNABLE = ("fcp", "autoencoder")


def _layer_shapes(architecture: str, dataset: str = "digits"):
    from .nets import make_net

    check_choice(architecture, "architecture", ALIGNABLE)
    model = make_net(architecture, 0, dataset=dataset)
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


@implements("prop-permutation-symmetry")
def align_to(reference, solution, architecture: str, *, max_sweeps: int = 100, dataset: str = "digits"):
    """Permute the hidden units of ``solution`` to match ``reference`` (weight matching).

    A network computes the same function after any permutation of the units of a hidden layer,
    applied to the rows of the layer's weight matrix and to the columns of the next one. Weight
    matching (Ainsworth, Hayase and Srinivasa 2023) picks, layer by layer, the permutation that
    maximises the inner product of the two networks' weights touching that layer (a linear
    assignment problem, solved exactly by :func:`scipy.optimize.linear_sum_assignment`), and sweeps
    over the layers until no permutation changes. Returns the permuted flat vector (the same
    function as ``solution``; tested) for ``architecture`` in :data:`ALIGNABLE`.

    Parameters
    ----------
    reference : numpy.ndarray, shape (D,)
        The flat parameter vector to match.
    solution : numpy.ndarray, shape (D,)
        The flat parameter vector to permute.
    architecture : str
        One of :data:`ALIGNABLE`.
    max_sweeps : int >= 1
        The most sweeps over the layers.
    dataset : str
        One of ``ebcore.nets.DATASETS``: whose network sizes the vectors have.

    Returns
    -------
    numpy.ndarray, shape (D,)
        The permuted ``solution`` (float64).

    Raises
    ------
    TypeError
        If ``reference`` or ``solution`` is not a floating-point array, or ``max_sweeps`` is not an
        integer.
    ValueError
        If ``architecture`` is not one of :data:`ALIGNABLE`, ``reference`` or ``solution`` is not 1-D,
        holds a non-finite value or does not have the architecture's number of parameters, or
        ``max_sweeps < 1``.
    """
    from scipy.optimize import linear_sum_assignment

    shapes = _layer_shapes(architecture, dataset)
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


@implements("prop-rotation-orbit")
def rotation_path(model: AttentionDenoiser, angle, n_points: int = 51) -> np.ndarray:
    r"""Flat parameter vectors along a rotation orbit of a planar attention denoiser ({prf:ref}`prop-rotation-orbit`).

    Point :math:`k` replaces every :math:`(Q, K)` pair (each layer's and the final one) by
    :math:`(R(\theta_k) Q, R(\theta_k) K)` with :math:`R(\theta)` the rotation of the plane by
    :math:`\theta_k = \text{angle} \cdot k/(n_\text{points} - 1)`; by {prf:ref}`prop-attention-symmetries`
    every point computes the same function. Returns ``(n_points, n_params)`` (float64).

    Parameters
    ----------
    model : AttentionDenoiser
        A planar (``dim`` 2) :class:`~ebcore.denoisers.AttentionDenoiser`; its parameters are the
        orbit's first point.
    angle : float
        The total rotation angle (radians).
    n_points : int >= 2
        Points along the orbit, both ends included.

    Returns
    -------
    numpy.ndarray, shape (n_points, n_params)
        The flat parameter vectors (float64).

    Raises
    ------
    TypeError
        If ``model`` is not an :class:`~ebcore.denoisers.AttentionDenoiser`, ``angle`` is not a real
        number, or ``n_points`` is not an integer.
    ValueError
        If the model is not planar, ``angle`` is not finite, or ``n_points < 2``.
    """
    if not isinstance(model, AttentionDenoiser):
        raise TypeError(f"model must be an AttentionDenoiser, got {type(model).__name__}")
    if model.dim != 2:
        raise ValueError(f"rotation_path is defined for planar models (dim 2), got dim {model.dim}")
    theta = float(as_float_array(angle, "angle"))
    if not np.isfinite(theta):
        raise ValueError(f"angle must be finite, got {angle!r}")
    n_points = check_int(n_points, "n_points", minimum=2)
    original = flat_parameters(model)
    copy = AttentionDenoiser(model.dim, model.depth, kernel=model.kernel, tied=model.tied, skip=model.skip,
                             dtype=model.final_query.dtype)
    out = []
    for t in np.linspace(0.0, 1.0, n_points):
        c, s_ = np.cos(t * theta), np.sin(t * theta)
        rotation = torch.tensor([[c, -s_], [s_, c]], dtype=model.final_query.dtype)
        set_flat_parameters(copy, original)
        with torch.no_grad():
            for q, k in ((copy.layer_query, copy.layer_key), (copy.final_query, copy.final_key)):
                q.copy_(rotation @ q)
                k.copy_(rotation @ k)
        out.append(flat_parameters(copy))
    return np.stack(out)


@implements("prop-rotation-orbit")
def align_rotation(reference, solution, model: AttentionDenoiser) -> np.ndarray:
    r"""Rotate the query-key pairs of ``solution`` to match ``reference``: the continuous analogue of weight matching.

    For each layer (and the final step) independently, the rotation :math:`R` of the plane that
    minimises :math:`|Q_\text{ref} - RQ|^2 + |K_\text{ref} - RK|^2` (orthogonal Procrustes restricted
    to rotations: :math:`\theta = \operatorname{atan2}(M_{10} - M_{01}, M_{00} + M_{11})` with
    :math:`M = Q_\text{ref}Q^\top + K_\text{ref}K^\top`) is applied to that pair; by
    {prf:ref}`prop-attention-symmetries` the function is unchanged. ``model`` supplies the layout
    (any :class:`~ebcore.denoisers.AttentionDenoiser` of the right shape). Returns the aligned flat
    vector.

    Parameters
    ----------
    reference : numpy.ndarray, shape (D,)
        The flat parameter vector to match.
    solution : numpy.ndarray, shape (D,)
        The flat parameter vector to rotate.
    model : AttentionDenoiser
        A planar (``dim`` 2) model with the layout of both vectors.

    Returns
    -------
    numpy.ndarray, shape (D,)
        The rotated ``solution`` (float64).

    Raises
    ------
    TypeError
        If ``model`` is not an :class:`~ebcore.denoisers.AttentionDenoiser`, or ``reference`` or
        ``solution`` is not a floating-point array.
    ValueError
        If the model is not planar, or ``reference`` or ``solution`` is not 1-D, holds a non-finite
        value or does not have the model's number of parameters.
    """
    if not isinstance(model, AttentionDenoiser):
        raise TypeError(f"model must be an AttentionDenoiser, got {type(model).__name__}")
    if model.dim != 2:
        raise ValueError(f"align_rotation is defined for planar models (dim 2), got dim {model.dim}")
    size = flat_parameters(model).size
    vectors = []
    for name, v in (("reference", reference), ("solution", solution)):
        v = np.asarray(check_array(v, name, ndim=1), dtype=np.float64)
        if v.size != size:
            raise ValueError(f"{name} must have {size} entries for this model, got {v.size}")
        vectors.append(v)
    ref_model = AttentionDenoiser(2, model.depth, kernel=model.kernel, tied=model.tied, skip=model.skip)
    out_model = AttentionDenoiser(2, model.depth, kernel=model.kernel, tied=model.tied, skip=model.skip)
    set_flat_parameters(ref_model, vectors[0])
    set_flat_parameters(out_model, vectors[1])
    pairs = [(ref_model.layer_query[i], ref_model.layer_key[i], out_model.layer_query[i], out_model.layer_key[i])
             for i in range(ref_model.layer_query.shape[0])]
    pairs.append((ref_model.final_query, ref_model.final_key, out_model.final_query, out_model.final_key))
    with torch.no_grad():
        for q_ref, k_ref, q, k in pairs:
            m = (q_ref @ q.T + k_ref @ k.T).numpy()
            theta = np.arctan2(m[1, 0] - m[0, 1], m[0, 0] + m[1, 1])
            rotation = torch.tensor([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]], dtype=q.dtype)
            q.copy_(rotation @ q)
            k.copy_(rotation @ k)
    return flat_parameters(out_model)


def alignment_choices(architecture: str) -> tuple[bool, ...]:
    """``(False, True)`` where :func:`align_to` can permute ``architecture``'s hidden units, else ``(False,)``:
    the comparisons that exist for it (unaligned, and aligned where alignment is defined)."""
    from .nets import ARCHITECTURES

    check_choice(architecture, "architecture", ARCHITECTURES)
    return (False, True) if architecture in ALIGNABLE else (False,)


def aligned_sets(reference, sets, architecture: str, dataset: str = "digits") -> tuple:
    """Every solution of every set aligned to ``reference`` by :func:`align_to`, through the results cache.

    ``sets`` is a sequence of ``(n_i, n_params)`` arrays (e.g. an L-BFGS and an SGD solution set);
    returns them in order, aligned (a row equal to ``reference`` stays itself). Weight matching is
    a few linear assignment problems per solution: cached so that a chapter's second execution
    and the chapters that share the sets compute it once.
    """
    from .cache import cached

    check_choice(architecture, "architecture", ALIGNABLE)
    ref = np.asarray(check_array(reference, "reference", ndim=1), dtype=np.float64)
    if isinstance(sets, (np.ndarray, torch.Tensor)) or not isinstance(sets, (list, tuple)) or not sets:
        raise TypeError("sets must be a non-empty list or tuple of (n, n_params) arrays")
    arrays = []
    for index, one in enumerate(sets):
        one = np.asarray(check_array(one, f"sets[{index}]", ndim=2), dtype=np.float64)
        if one.shape[1] != ref.size:
            raise ValueError(f"sets[{index}] must have {ref.size} columns (the reference's size), got {one.shape[1]}")
        arrays.append(one)

    def compute():
        return {str(i): np.stack([align_to(ref, w, architecture, dataset=dataset) for w in one])
                for i, one in enumerate(arrays)}, {}

    entry = cached("aligned-sets", {"architecture": architecture, "dataset": dataset, "reference": ref, "sets": arrays},
                   compute)
    return tuple(entry.arrays[str(i)] for i in range(len(arrays)))
