r"""What trained denoisers learned (chapter 8): scaled-identity fits, the identifiable attention
invariants, the theory construction's best grid point, and test reports against the Bayes denoiser.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .denoisers import AttentionDenoiser, OneLayerDenoiser
from .registry import implements
from .stats import mean_and_se
from .tasks import CleanContextTask, CorruptionTask
from .validation import check_array, check_grid, check_int

__all__ = ['scaled_identity_fit', 'attention_invariants', 'theory_grid_search', 'denoising_report', 'scaled_identity_loss',
           'own_input_jacobian', 'query_sensitivity']


@implements("prop-attention-symmetries")
def scaled_identity_fit(matrix):
    """Nearest multiple of the identity: ``(c, residual)`` with ``c = tr(W)/n`` and the relative
    Frobenius residual ``|W - cI| / |W|`` (0 for an exact scaled identity).

    Parameters
    ----------
    matrix : numpy.ndarray or torch.Tensor, shape (n, n)
        The square matrix :math:`W`, floating point.

    Returns
    -------
    c : float
        The scale ``tr(W)/n``.
    residual : float
        ``|W - cI| / |W|`` in the Frobenius norm (0 for the zero matrix).

    Raises
    ------
    TypeError
        If ``matrix`` is not a floating-point numpy array or torch tensor.
    ValueError
        If ``matrix`` is not 2-D or square, is empty or holds a non-finite value.
    """
    W = np.asarray(check_array(matrix, "matrix", ndim=2), dtype=np.float64)
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"matrix must be square, got {W.shape}")
    c = np.trace(W) / W.shape[0]
    norm = np.linalg.norm(W)
    return float(c), float(np.linalg.norm(W - c * np.eye(W.shape[0])) / norm) if norm > 0 else 0.0


@implements("prop-attention-symmetries")
def attention_invariants(model: AttentionDenoiser) -> list[dict]:
    r"""What the loss of a Gaussian-kernel layer can see, per layer and for the final step.

    The scores :math:`-|Qz - Kp|^2/2` up to terms the softmax cancels are
    :math:`z^\top Q^\top K p - |Kp|^2/2`, unchanged when :math:`Q` and :math:`K` are both rotated
    by the same orthogonal matrix. So the identifiable quantities are the metric :math:`K^\top K`
    (theory :math:`I/h^2`), the cross map :math:`Q^\top K` (theory :math:`I/h^2`), the value map
    :math:`V` (theory :math:`I`) and the step. Returns one dict per layer (``"final"`` last) with
    ``bandwidths`` (:math:`1/\sqrt{\lambda}` of the metric's eigenvalues) and the scaled-identity
    fits of ``cross`` and ``value``.

    Parameters
    ----------
    model : AttentionDenoiser
        The (trained) model.

    Returns
    -------
    list of dict
        One dict per layer, then ``"final"``, with keys ``layer`` (its name), ``bandwidths`` (an
        array), ``cross`` and ``value`` (``(c, residual)`` pairs of :func:`scaled_identity_fit`) and
        ``step`` (a float, ``None`` for the final step).

    Raises
    ------
    TypeError
        If ``model`` is not an :class:`~ebcore.denoisers.AttentionDenoiser`.
    """
    if not isinstance(model, AttentionDenoiser):
        raise TypeError(f"model must be an AttentionDenoiser, got {type(model).__name__}")
    rows = []
    n_layers = model.layer_key.shape[0]
    maps = [(f"layer {i + 1}", model.layer_query[i], model.layer_key[i], model.layer_value[i], model.layer_step[i])
            for i in range(n_layers)]
    maps.append(("final", model.final_query, model.final_key, model.final_value, None))
    for name, Q, K, V, step in maps:
        Q, K, V = (m.detach().double().numpy() for m in (Q, K, V))
        metric = np.linalg.eigvalsh(K.T @ K)
        rows.append({"layer": name, "bandwidths": 1.0 / np.sqrt(np.maximum(metric, 1e-300)),
                     "cross": scaled_identity_fit(Q.T @ K), "value": scaled_identity_fit(V),
                     "step": None if step is None else float(step.detach())})
    return rows


def theory_grid_search(task: CorruptionTask, depth: int, bandwidths, steps, *, split: str = "train",
                       max_contexts: int | None = 128, cache: bool = True):
    """Best Stage 1 bandwidth and step for :meth:`AttentionDenoiser.from_theory <ebcore.denoisers.AttentionDenoiser.from_theory>` on a task, by grid search.

    The query bandwidth is the task's noise level (the theory's choice). The grid is evaluated on
    ``split`` (the training contexts by default, so that the test split stays unseen). Returns
    ``(bandwidth, step, loss, losses)`` with ``losses`` of shape ``(len(bandwidths), len(steps))``.

    Parameters
    ----------
    task : CorruptionTask
        The task (an :class:`ebcore.tasks.CorruptionTask`).
    depth : int >= 0
        The theory model's depth.
    bandwidths : array_like of float
        The grid of Stage 1 bandwidths, each > 0.
    steps : array_like of float
        The grid of residual steps, each > 0.
    split : str
        The split the grid is evaluated on.
    max_contexts : int >= 1, optional
        Use only the split's first ``max_contexts`` contexts (``None``: all of them).
    cache : bool
        Go through the results cache.

    Returns
    -------
    bandwidth, step : float
        The best grid point.
    loss : float
        Its loss.
    losses : numpy.ndarray, shape (len(bandwidths), len(steps))
        The loss at every grid point.

    Raises
    ------
    TypeError
        If ``task`` is not a :class:`~ebcore.tasks.CorruptionTask`, ``bandwidths`` or ``steps`` is not
        real numbers, or ``depth`` or ``max_contexts`` is not an integer.
    ValueError
        If ``bandwidths`` or ``steps`` is not a non-empty 1-D list of finite positive numbers,
        ``depth < 0``, ``split`` is unknown, or ``max_contexts < 1``.
    """
    if not isinstance(task, CorruptionTask):
        raise TypeError(f"task must be a CorruptionTask, got {type(task).__name__}")
    hs = check_grid(bandwidths, "bandwidths")
    etas = check_grid(steps, "steps")
    depth = check_int(depth, "depth", minimum=0)
    x, t = task.data(split)
    if max_contexts is not None:
        x, t = x[:check_int(max_contexts, "max_contexts", minimum=1)], t[:max_contexts]
    x, t = x.double(), t.double()

    def compute():
        losses = np.empty((hs.size, etas.size))
        with torch.no_grad():
            for i, h in enumerate(hs):
                for j, eta in enumerate(etas):
                    model = AttentionDenoiser.from_theory(depth, float(h), float(eta), task.sigma, task.dim)
                    losses[i, j] = float(task.loss(model(x), t))
        return {"losses": losses}, {}

    if cache:
        from .cache import cached

        config = {"task": task.config(), "depth": depth, "bandwidths": hs.tolist(), "steps": etas.tolist(),
                  "split": split, "contexts": int(x.shape[0])}
        losses = cached("theory-grid", config, compute).arrays["losses"]
    else:
        losses = compute()[0]["losses"]
    i, j = np.unravel_index(np.argmin(losses), losses.shape)
    return float(hs[i]), float(etas[j]), float(losses[i, j]), losses


def denoising_report(model: nn.Module, task: CorruptionTask, split: str = "test") -> dict:
    r"""Test MSE, Bayes MSE and excess of a model on a task's split, with standard errors over contexts.

    Returns ``{name: (mean, standard error)}`` for ``mse``, ``bayes`` (the Bayes denoiser's MSE on
    the same tokens), ``gap`` (their difference, paired by context) and ``excess``, the mean of
    :math:`|f(y) - E[x \mid y]|^2`, each context judged against the Bayes denoiser of its own prior.

    Parameters
    ----------
    model : torch.nn.Module
        The denoiser; it is applied to the split's inputs cast to its parameters' dtype.
    task : CorruptionTask or CleanContextTask
        The task.
    split : str
        The split to report on.

    Returns
    -------
    dict
        ``{"mse", "bayes", "gap", "excess"}`` to ``(mean, standard error)`` pairs of floats.

    Raises
    ------
    TypeError
        If ``model`` is not a torch module, or ``task`` is not a :class:`~ebcore.tasks.CorruptionTask`
        (or :class:`~ebcore.tasks.CleanContextTask`).
    ValueError
        If ``split`` is unknown, or the split has fewer than 2 contexts (no standard error).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch module, got {type(model).__name__}")
    if not isinstance(task, CorruptionTask):
        raise TypeError(f"task must be a CorruptionTask or CleanContextTask, got {type(task).__name__}")
    x, t = task.data(split)
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        out = model(x.to(dtype)).double().numpy()
    clean = t.double().numpy()
    bayes = task.bayes(split)
    axes = tuple(range(1, out.ndim - 1)) or None

    def per_context(a, b):
        v = ((a - b) ** 2).sum(-1)
        return v.mean(axis=axes) if axes else v

    rows = {"mse": per_context(out, clean), "bayes": per_context(bayes, clean), "excess": per_context(out, bayes)}
    rows["gap"] = rows["mse"] - rows["bayes"]
    return {k: tuple(float(x) for x in mean_and_se(v)) for k, v in rows.items()}


def scaled_identity_loss(task: CleanContextTask, attention: str, a_values, b_values, *, split: str = "test"):
    """Loss of :class:`OneLayerDenoiser <ebcore.denoisers.OneLayerDenoiser>` with ``W_PV = aI`` and ``W_KQ = bI`` on a grid: shape ``(len(a), len(b))``.

    Parameters
    ----------
    task : CleanContextTask
        The task (an :class:`ebcore.tasks.CleanContextTask`).
    attention : str
        ``"softmax"`` or ``"linear"``.
    a_values : array_like of float
        The grid of value scales :math:`a` (any sign).
    b_values : array_like of float
        The grid of key-query scales :math:`b` (any sign).
    split : str
        The split the loss is taken on.

    Returns
    -------
    numpy.ndarray, shape (len(a_values), len(b_values))
        The loss at every grid point.

    Raises
    ------
    TypeError
        If ``task`` is not a :class:`~ebcore.tasks.CleanContextTask`, or ``a_values`` or ``b_values``
        is not real numbers.
    ValueError
        If ``a_values`` or ``b_values`` is not a non-empty 1-D list of finite numbers, ``split`` is
        unknown, or ``attention`` is neither ``"softmax"`` nor ``"linear"``.
    """
    if not isinstance(task, CleanContextTask):
        raise TypeError(f"task must be a CleanContextTask, got {type(task).__name__}")
    a_grid = check_grid(a_values, "a_values", positive=False)
    b_grid = check_grid(b_values, "b_values", positive=False)
    x, t = task.data(split)
    x, t = x.double(), t.double()
    model = OneLayerDenoiser(task.dim, attention=attention, dtype=torch.float64)
    eye = torch.eye(task.dim, dtype=torch.float64)
    out = np.empty((a_grid.size, b_grid.size))
    with torch.no_grad():
        for j, b in enumerate(b_grid):
            model.key_query.copy_(float(b) * eye)
            model.value.copy_(eye)
            base = model(x)
            for i, a in enumerate(a_grid):
                out[i, j] = float(task.loss(float(a) * base, t))
    return out


def own_input_jacobian(model: AttentionDenoiser, tokens) -> np.ndarray:
    r"""How much of each token's own input survives Stage 1: the blocks :math:`\partial p^{(L)}_i / \partial y_i`.

    For each context and token, the ``(dim, dim)`` Jacobian of the refined token
    :math:`p^{(L)}_i` (``model.refine``) with respect to the same token's input :math:`y_i`, the other
    tokens held fixed, computed exactly by forward-mode differentiation in float64 (on a copy of the
    model; the model itself is not changed). A Stage 1 that collapses the tokens toward the prior's
    modes has blocks near 0. The blocks depend on the coordinates Stage 1 happens to use: rescaling the
    last layer's output by ``c`` and the final maps by ``1/c`` changes them by ``c`` and the network's
    output not at all, so compare networks with :func:`query_sensitivity`, which is invariant.

    One forward-mode pass over all the contexts per token and coordinate (``N dim`` passes), so memory
    stays that of one forward pass.

    Parameters
    ----------
    model : AttentionDenoiser
        The model.
    tokens : torch.Tensor, shape (B, N, dim)
        Inputs of ``B`` contexts, floating point.

    Returns
    -------
    numpy.ndarray, shape (B, N, dim, dim)
        The blocks, float64: ``[b, i, :, k]`` is the derivative of :math:`p^{(L)}_i` in context ``b``
        with respect to coordinate ``k`` of :math:`y_i`.

    Raises
    ------
    TypeError
        If ``model`` is not an :class:`~ebcore.denoisers.AttentionDenoiser`, or ``tokens`` is not a
        floating-point tensor.
    ValueError
        If ``tokens`` is not of shape ``(B, N, model.dim)``, is empty or holds a non-finite value.
    """
    from copy import deepcopy

    from torch.func import jvp

    if not isinstance(model, AttentionDenoiser):
        raise TypeError(f"model must be an AttentionDenoiser, got {type(model).__name__}")
    if not isinstance(tokens, torch.Tensor):
        raise TypeError(f"tokens must be a torch tensor, got {type(tokens).__name__}")
    check_array(tokens, "tokens", ndim=3)
    if tokens.shape[-1] != model.dim:
        raise ValueError(f"tokens must have shape (B, N, {model.dim}), got {tuple(tokens.shape)}")
    exact = deepcopy(model).double()
    x = tokens.detach().double()
    n_contexts, n_tokens, dim = x.shape
    blocks = torch.empty(n_contexts, n_tokens, dim, dim, dtype=torch.float64)
    with torch.no_grad():
        for token in range(n_tokens):
            for coordinate in range(dim):
                tangent = torch.zeros_like(x)
                tangent[:, token, coordinate] = 1.0
                _, derivative = jvp(exact._refine, (x,), (tangent,))
                blocks[:, token, :, coordinate] = derivative[:, token]
    return blocks.numpy()


def query_sensitivity(model: AttentionDenoiser, tokens, sigma) -> np.ndarray:
    r"""How far a noise-sized move of a token's input moves its final query, in widths of the final kernel.

    The final step weighs key :math:`j` for query :math:`i` by :math:`\exp(-|Q q_i - K p^{(L)}_j|^2/2)`
    (Gaussian kernel), with :math:`q_i = y_i` (skip connection) or :math:`q_i = p^{(L)}_i` (none), so
    :math:`Q q_i` is measured in widths of the kernel. This returns, per token, the smallest singular
    value of :math:`\sigma\,Q\,\partial q_i / \partial y_i`: the least distance, in kernel widths, that
    the query moves when the input moves by :math:`\sigma` in some direction. It is unchanged by the
    reparametrisations that leave the network's output unchanged (rescaling Stage 1's last output
    against the final maps, rotating :math:`Q` and :math:`K` together). Near 0: the query no longer
    tells the token's own input apart at the resolution of the final step. With the skip connection it
    is :math:`\sigma\,\sigma_{\min}(Q)` for every token; for the construction
    (:meth:`~ebcore.denoisers.AttentionDenoiser.from_theory`, :math:`Q = I/h_q`, :math:`h_q = \sigma`)
    it is 1 with the skip and :math:`\sigma_{\min}(\partial p^{(L)}_i/\partial y_i)` without.

    Parameters
    ----------
    model : AttentionDenoiser
        The model.
    tokens : torch.Tensor, shape (B, N, dim)
        Inputs of ``B`` contexts, floating point.
    sigma : float > 0
        The noise level.

    Returns
    -------
    numpy.ndarray, shape (B, N)
        The sensitivity of every token's query, float64.

    Raises
    ------
    TypeError
        As :func:`own_input_jacobian`; or if ``sigma`` is not a real number.
    ValueError
        As :func:`own_input_jacobian`; or if ``sigma`` is not a finite number in ``[1e-150, 1e150]``.
    """
    from .validation import check_scale

    sigma = check_scale(sigma, "sigma")
    if not isinstance(model, AttentionDenoiser):
        raise TypeError(f"model must be an AttentionDenoiser, got {type(model).__name__}")
    query_map = model.final_query.detach().double().numpy()
    if model.skip:
        check_array(tokens, "tokens", ndim=3)
        blocks = np.broadcast_to(query_map, (*tokens.shape[:2], model.dim, model.dim))
    else:
        blocks = query_map @ own_input_jacobian(model, tokens)
    return sigma * np.linalg.svd(blocks, compute_uv=False)[..., -1]
