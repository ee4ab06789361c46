r"""The curvature of a loss at trained solutions (chapter 12): Hessian-vector products, the top
eigenvalue by Lanczos iteration and the trace by Hutchinson's estimator, all batched over solutions.

Nothing here forms a Hessian. A Hessian-vector product :math:`H(w)v` is the gradient of
:math:`\langle \nabla L(w), v\rangle`, computed exactly by differentiating the reverse-mode gradient
once more (:func:`torch.func.grad` twice; Pearlmutter 1994) and batched over solutions with :func:`torch.func.vmap`, as :class:`ebcore.batched_loss.BatchedLoss`
batches losses.

*Top eigenvalue.* ``k`` steps of the Lanczos iteration with full reorthogonalisation (Golub and Van
Loan, *Matrix Computations*, ch. 10) give a tridiagonal :math:`T_k` whose largest eigenvalue
:math:`\theta` (the top Ritz value) is a Rayleigh quotient of :math:`H`, so
:math:`\theta \le \lambda_{\max}(H)` always; and with :math:`s` its unit eigenvector of
:math:`T_k`, :math:`H` has an eigenvalue within :math:`|\beta_k s_k|` of :math:`\theta` (the
residual norm of the Ritz pair, :math:`\lVert Hy - \theta y\rVert = |\beta_k s_k|` for the Ritz
vector :math:`y`, from the Lanczos relation; Parlett, *The Symmetric Eigenvalue Problem*, ch. 4 and
13; Golub and Van Loan, section 10.1). Both hold up to round-off of order :math:`\epsilon\lVert H\rVert`.
The start vector is a seeded standard normal vector: a vector of random signs can be exactly
orthogonal to a top eigenvector with a simple structure (to :math:`(e_1 - e_2)/\sqrt 2` with
probability 1/2), and Lanczos would then miss that eigenvalue; a normal start is orthogonal to a
given vector with probability 0 (and gives the probabilistic bounds of Kuczyński and Woźniakowski
1992).

*Trace.* For probes :math:`z` of independent random signs, :math:`E[z^\top H z] = \operatorname{tr} H`
with variance :math:`2\sum_{i \ne j} H_{ij}^2` (Hutchinson 1990); the estimate is the mean over
probes with its standard error.
"""
from __future__ import annotations

import numpy as np
import torch

from .batched_loss import BatchedLoss
from .seeding import as_generator
from .validation import check_array, check_int

__all__ = ["hessian_vector_products", "top_hessian_eigenvalue", "hessian_trace", "solution_sharpness"]


def _check_points(loss, points, name="points"):
    if not isinstance(loss, BatchedLoss):
        raise TypeError(f"loss must be an ebcore.batched_loss.BatchedLoss, got {type(loss).__name__}")
    if not isinstance(points, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(points).__name__}")
    check_array(points, name, ndim=2, shape=(None, loss.dimension))
    return points.detach().to(loss.dtype)


def hessian_vector_products(loss: BatchedLoss, points, vectors) -> torch.Tensor:
    r"""Exact products :math:`H(w_p)\,v_p` of the loss's Hessian at each point with its own vector.

    Parameters
    ----------
    loss : BatchedLoss
        The loss (its model, data and loss function; :func:`ebcore.batched_loss.batched_loss`).
    points : torch.Tensor, shape (P, D)
        Flat parameter vectors :math:`w_p`, finite.
    vectors : torch.Tensor, shape (P, D)
        The vectors :math:`v_p`, finite.

    Returns
    -------
    torch.Tensor, shape (P, D)
        The products, in the loss's dtype (``loss.chunk`` points at a time).

    Raises
    ------
    TypeError
        If ``loss`` is not a :class:`~ebcore.batched_loss.BatchedLoss`, or ``points`` or ``vectors``
        is not a floating-point torch tensor.
    ValueError
        If ``points`` or ``vectors`` is not of shape ``(P, D)`` with ``D = loss.dimension``, is empty
        or holds a non-finite value, or the two differ in shape; if a product is not finite.
    """
    points = _check_points(loss, points)
    vectors = _check_points(loss, vectors, "vectors")
    if vectors.shape != points.shape:
        raise ValueError(f"vectors must have the shape of points {tuple(points.shape)}, got {tuple(vectors.shape)}")

    def flat_loss(w):
        pieces = torch.split(w, loss.sizes)
        params = {n: piece.reshape(shape) for n, piece, shape in zip(loss.names, pieces, loss.shapes)}
        return loss._on(params, loss.inputs, loss.targets)

    def product(w, v):
        # reverse over reverse: the gradient of <grad L(w), v>. Forward over reverse would save a
        # little time but has no rule for some of the networks' operations (the autoencoder's).
        return torch.func.grad(lambda u: (torch.func.grad(flat_loss)(u) * v).sum())(w)

    batched = torch.func.vmap(product)
    out = torch.cat([batched(points[i:i + loss.chunk], vectors[i:i + loss.chunk])
                     for i in range(0, points.shape[0], loss.chunk)])
    if not bool(torch.isfinite(out).all()):
        raise ValueError("points: a Hessian-vector product is not finite")
    return out.detach()


def _random_signs(gen, shape, dtype):
    return torch.as_tensor(gen.choice(np.array([-1.0, 1.0]), size=shape), dtype=dtype)


def top_hessian_eigenvalue(loss: BatchedLoss, points, *, steps: int = 30, seed: int = 0):
    r"""The largest eigenvalue of the Hessian at each point by ``steps`` Lanczos steps, with its error bound.

    Parameters
    ----------
    loss : BatchedLoss
        The loss.
    points : torch.Tensor, shape (P, D)
        Flat parameter vectors, finite.
    steps : int, 1 <= steps <= D
        Lanczos steps (one batched Hessian-vector product each); the iteration stops early for a
        point whose Krylov space becomes invariant (the Ritz value is then an exact eigenvalue).
    seed : int >= 0
        Seeds the start vectors (independent standard normal vectors, one per point).

    Returns
    -------
    top : numpy.ndarray, shape (P,)
        The top Ritz value :math:`\theta_p`, a lower bound of :math:`\lambda_{\max}(H(w_p))`.
    residual : numpy.ndarray, shape (P,)
        :math:`|\beta_k s_k|`: an eigenvalue of :math:`H(w_p)` lies within it of :math:`\theta_p`.

    Raises
    ------
    TypeError
        As :func:`hessian_vector_products`; or if ``steps`` or ``seed`` is not an integer.
    ValueError
        As :func:`hessian_vector_products`; or if ``steps`` is outside ``[1, D]`` or ``seed`` is negative.
    """
    points = _check_points(loss, points)
    steps = check_int(steps, "steps", minimum=1, maximum=loss.dimension)
    gen = as_generator(check_int(seed, "seed", minimum=0))
    n_points = points.shape[0]
    q = torch.as_tensor(gen.standard_normal(points.shape), dtype=torch.float64)
    q = q / q.norm(dim=1, keepdim=True)
    basis, alphas, betas = [q], [], []
    active = torch.ones(n_points, dtype=torch.bool)
    lengths = np.zeros(n_points, dtype=int)  # Lanczos steps each point took before its space became invariant
    for _ in range(steps):
        lengths += active.numpy()
        w = hessian_vector_products(loss, points, basis[-1].to(loss.dtype)).double()
        alpha = (w * basis[-1]).sum(1)
        # full reorthogonalisation, twice (classical Gram-Schmidt loses orthogonality once)
        stacked = torch.stack(basis, 1)  # (P, j, D)
        for _ in range(2):
            w = w - torch.einsum("pj,pjd->pd", torch.einsum("pjd,pd->pj", stacked, w), stacked)
        beta = w.norm(dim=1)
        alphas.append(torch.where(active, alpha, torch.zeros_like(alpha)))
        # beta at round-off relative to the tridiagonal's entries: the Krylov space is invariant
        previous = betas[-1] if betas else torch.zeros_like(beta)
        invariant = beta <= 1e-12 * (alpha.abs() + previous + 1e-300)
        active = active & ~invariant
        betas.append(torch.where(active, beta, torch.zeros_like(beta)))
        if not bool(active.any()) or len(basis) == steps:
            break
        basis.append(torch.where(active[:, None], w / torch.clamp(beta, min=1e-300)[:, None], torch.zeros_like(w)))
    alpha = torch.stack(alphas, 1).numpy()
    beta = torch.stack(betas, 1).numpy()
    top, residual = np.empty(n_points), np.empty(n_points)
    for p in range(n_points):
        k = lengths[p]
        tridiagonal = np.diag(alpha[p, :k]) + np.diag(beta[p, :k - 1], 1) + np.diag(beta[p, :k - 1], -1)
        values, vectors = np.linalg.eigh(tridiagonal)
        top[p] = values[-1]
        residual[p] = abs(beta[p, k - 1] * vectors[-1, -1])
    return top, residual


def hessian_trace(loss: BatchedLoss, points, *, probes: int = 32, seed: int = 0):
    r"""Hutchinson's estimate of the trace of the Hessian at each point, with its standard error.

    Parameters
    ----------
    loss : BatchedLoss
        The loss.
    points : torch.Tensor, shape (P, D)
        Flat parameter vectors, finite.
    probes : int >= 2
        Probes of independent random signs per point (one Hessian-vector product each, batched).
    seed : int >= 0
        Seeds the probes.

    Returns
    -------
    trace : numpy.ndarray, shape (P,)
        The mean of :math:`z^\top H z` over the probes (unbiased).
    standard_error : numpy.ndarray, shape (P,)
        Its standard error over the probes.

    Raises
    ------
    TypeError
        As :func:`hessian_vector_products`; or if ``probes`` or ``seed`` is not an integer.
    ValueError
        As :func:`hessian_vector_products`; or if ``probes < 2`` or ``seed`` is negative.
    """
    points = _check_points(loss, points)
    probes = check_int(probes, "probes", minimum=2)
    gen = as_generator(check_int(seed, "seed", minimum=0))
    n_points = points.shape[0]
    z = _random_signs(gen, (n_points * probes, loss.dimension), loss.dtype)
    products = hessian_vector_products(loss, points.repeat_interleave(probes, 0), z)
    quadratic = (z.double() * products.double()).sum(1).reshape(n_points, probes).numpy()
    return quadratic.mean(1), quadratic.std(1, ddof=1) / np.sqrt(probes)


def solution_sharpness(architecture: str, solutions, *, split: str = "train", steps: int = 20, probes: int = 16,
                       seed: int = 0, chunk: int = 8) -> dict:
    r"""The top Hessian eigenvalue and trace of a digits network's loss at each of ``solutions``, in float64, cached.

    The loss is the whole ``split`` of :class:`ebcore.nets.DigitsTask` (float64, whatever the
    architecture's training dtype); the results go through the results cache, keyed by the
    architecture, the solutions' contents, the split and the settings.

    Parameters
    ----------
    architecture : str
        ``"fcp"``, ``"autoencoder"`` or ``"lenet"``. The LSTM is refused: batched, it runs its
        recurrence written out step by step (:class:`ebcore.nets.PixelLSTM`), and a batch of its
        Hessian-vector products costs seconds on a CPU, too slow for the Lanczos and Hutchinson counts here.
    solutions : numpy.ndarray, shape (P, D)
        Flat parameter vectors, finite.
    split : str
        The data split whose loss is differentiated.
    steps : int >= 1
        Lanczos steps (:func:`top_hessian_eigenvalue`).
    probes : int >= 2
        Hutchinson probes (:func:`hessian_trace`).
    seed : int >= 0
        Seeds the start vectors and the probes.
    chunk : int >= 1
        Points per batched Hessian-vector product.

    Returns
    -------
    dict
        ``{"top", "top_residual", "trace", "trace_se"}``, each a numpy array of shape ``(P,)``.

    Raises
    ------
    TypeError
        If ``solutions`` is not a floating-point numpy array, or a setting is not an integer.
    ValueError
        If ``architecture`` is not one of those above, ``split`` is unknown, ``solutions`` is not of
        shape ``(P, D)`` for the architecture or holds a non-finite value, or a setting is out of range.
    """
    from .batched_loss import batched_loss
    from .cache import array_digest, cached
    from .nets import DigitsTask
    from .validation import check_choice

    check_choice(architecture, "architecture", ("fcp", "autoencoder", "lenet"))
    check_array(solutions, "solutions", ndim=2)
    steps, probes = check_int(steps, "steps", minimum=1), check_int(probes, "probes", minimum=2)
    seed, chunk = check_int(seed, "seed", minimum=0), check_int(chunk, "chunk", minimum=1)
    task = DigitsTask(architecture, dtype=torch.float64)
    loss = batched_loss(task, split, chunk=chunk)
    points = torch.as_tensor(np.asarray(solutions, dtype=np.float64))
    _check_points(loss, points, "solutions")

    def compute():
        top, residual = top_hessian_eigenvalue(loss, points, steps=steps, seed=seed)
        trace, trace_se = hessian_trace(loss, points, probes=probes, seed=seed + 1)
        return {"top": top, "top_residual": residual, "trace": trace, "trace_se": trace_se}, {}

    config = {"architecture": architecture, "solutions": array_digest(np.asarray(solutions, dtype=np.float64)),
              "split": split, "steps": steps, "probes": probes, "seed": seed}
    return dict(cached("solution-sharpness", config, compute).arrays)
