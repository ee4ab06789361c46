"""Barriers between trained solutions (chapter 11).

For pairs of solutions from one set (an ensemble's train or early-stopped solutions), Fourier
paths (the path family and objective of :func:`ebcore.paths.fourier_path`, the paper's) are
optimised on the loss of the *whole* training set, all pairs of a call together
(:func:`optimise_pair_paths`): each step estimates each pair's objective without bias on a fresh
mini-batch, and the kept path is the iterate whose exact full-set objective was lowest. A path
optimised on a fixed subsample would overfit it, and its barrier on the full set would be that of
the subsample's landscape. Each kept path's dense barrier is then measured on the full training set
and on the test set (the *training* and *held-out* landscapes of the paper). Optionally the second
solution of each pair is first aligned to the first by permuting hidden units
(:func:`ebcore.alignment.align_to`), which leaves its function unchanged and removes barriers that
are only due to the permutation symmetry. Results are cached by the solutions, the settings and
the code version.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from . import nets, paths
from .alignment import ALIGNABLE, align_to
from .batched_loss import BatchedLoss
from .cache import cached
from .optim import NonFiniteLossError
from .parallel import parallel_map
from .progress import progress_bar
from .registry import implements
from .seeding import as_generator
from .tasks import check_task
from .validation import check_array, check_choice, check_int, check_nonnegative, check_positive

__all__ = ["random_pairs", "disjoint_pairs", "line_barriers", "LINE_FIELDS", "pair_barriers", "optimise_pair_paths", "landscape_loss", "PATH_SETTINGS", "PATH_LANDSCAPES", "PATH_FAMILIES", "path_basis", "family_points", "PRECISIONS",
           "BARRIER_FIELDS", "CONVERGENCE_RUNS", "path_convergence"]

#: The arrays :func:`pair_barriers` returns, one entry per pair.
BARRIER_FIELDS = ("train_barrier", "test_barrier", "train_excess", "test_excess", "linear_train_barrier",
                  "linear_test_barrier", "evaluations", "distance")


def random_pairs(n: int, n_pairs: int, seed: int = 0) -> np.ndarray:
    """``n_pairs`` distinct unordered pairs ``(i, j)``, ``i < j < n``, drawn without replacement.

    Parameters
    ----------
    n : int >= 2
        The number of solutions.
    n_pairs : int, 1 <= n_pairs <= n (n - 1) / 2
        The number of pairs.
    seed : int or numpy.random.Generator
        Draws the pairs.

    Returns
    -------
    numpy.ndarray, shape (n_pairs, 2)
        The pairs, each with ``i < j``, in lexicographic order.

    Raises
    ------
    TypeError
        If ``n`` or ``n_pairs`` is not an integer, or ``seed`` is neither an integer nor a numpy
        Generator.
    ValueError
        If ``n < 2``, ``n_pairs`` is below 1 or above the number of pairs, or ``seed`` is negative.
    """
    n = check_int(n, "n", minimum=2)
    n_pairs = check_int(n_pairs, "n_pairs", minimum=1)
    all_pairs = np.array([(i, j) for i in range(n) for j in range(i + 1, n)])
    if n_pairs > len(all_pairs):
        raise ValueError(f"n_pairs must be <= {len(all_pairs)} (all pairs of {n}), got {n_pairs}")
    pick = as_generator(seed).choice(len(all_pairs), n_pairs, replace=False)
    return all_pairs[np.sort(pick)]


@implements("lem-disjoint-pairs")
def disjoint_pairs(n: int, seed=0) -> np.ndarray:
    """A random perfect matching of ``n`` solutions: ``n // 2`` pairs that share no solution.

    The solutions are shuffled by ``seed`` and paired in order, so each pair is ``(order[2k], order[2k + 1])``
    (with ``i < j``); for an odd ``n`` one solution is left out. When the solutions are independent, so are
    the pairs' barriers ({prf:ref}`lem-disjoint-pairs`), which is what a two-sample interval between two sets
    of pairs needs; :func:`random_pairs` draws pairs that may share a solution.

    Parameters
    ----------
    n : int >= 2
        The number of solutions.
    seed : int or numpy.random.Generator
        Draws the matching.

    Returns
    -------
    numpy.ndarray, shape (n // 2, 2)
        The pairs, each with ``i < j``, in the order of their first index.

    Raises
    ------
    TypeError
        If ``n`` is not an integer, or ``seed`` is neither an integer nor a numpy Generator.
    ValueError
        If ``n < 2`` or ``seed`` is negative.
    """
    n = check_int(n, "n", minimum=2)
    order = as_generator(seed, "seed").permutation(n)[: 2 * (n // 2)].reshape(-1, 2)
    pairs = np.sort(order, axis=1)
    return pairs[np.argsort(pairs[:, 0], kind="stable")]


def _check_pairs(pairs, n: int) -> np.ndarray:
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer) or not len(pairs):
        raise ValueError(f"pairs must be an (n_pairs, 2) integer array with n_pairs >= 1, got shape {pairs.shape}")
    if pairs.min() < 0 or pairs.max() >= n:
        raise ValueError(f"pairs must index the {n} solutions")
    return pairs


def _task(architecture, dataset="digits"):
    """The task of ``architecture`` (a digits architecture name, with ``dataset``, or a task with
    ``make_model``) and its name for progress bars and alignment (the architecture name; for a task
    object its class name)."""
    check_choice(dataset, "dataset", nets.DATASETS)
    if isinstance(architecture, str):
        check_choice(architecture, "architecture", nets.ARCHITECTURES)
        return nets.DigitsTask(architecture, dataset=dataset), architecture
    if dataset != "digits":
        raise ValueError("dataset: a task object brings its own data; pass dataset= only with an architecture name")
    check_task(architecture, "architecture", make_model=True)
    return architecture, type(architecture).__name__


#: The floating-point types :func:`pair_barriers` can optimise and measure paths in.
PRECISIONS = {"float32": torch.float32, "float64": torch.float64}


def landscape_loss(task, split: str, precision: str) -> BatchedLoss:
    """The loss of ``task`` on the whole ``split``, at many points, in ``precision`` (``"float32"`` or ``"float64"``).

    The landscapes of chapter 11 are measured on the full training and test sets; this casts the
    task's model and its floating-point data to the asked precision (integer labels stay integers).

    Parameters
    ----------
    task : task
        A task with ``data(split)``, ``loss`` and ``make_model(seed)`` (an
        :class:`ebcore.nets.DigitsTask` or an :class:`ebcore.jobs.LandscapeTask`).
    split : str
        ``"train"``, ``"validation"`` or ``"test"``.
    precision : {"float32", "float64"}
        The floating-point type of the model and the data.

    Returns
    -------
    BatchedLoss
        ``(P, D)`` points to ``(P,)`` losses on the whole split.

    Raises
    ------
    TypeError
        If the task's model, data or loss are not a torch module, torch tensors and a callable.
    ValueError
        If ``split`` or ``precision`` is unknown.
    """
    check_choice(precision, "precision", tuple(PRECISIONS))
    dtype = PRECISIONS[precision]
    check_choice(split, "split", nets.SPLITS)
    inputs, targets = task.data(split)
    if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError("the task's data must be torch tensors")
    inputs = inputs.to(dtype) if inputs.is_floating_point() else inputs
    targets = targets.to(dtype) if targets.is_floating_point() else targets
    return BatchedLoss(task.make_model(0).to(dtype), inputs, targets, task.loss)


def _pair_generator(seed: int, i: int, j: int) -> np.random.Generator:
    """Pair ``(i, j)``'s mini-batch stream: it depends on the pair and the seed only, so a pair's path does not
    depend on which other pairs share its call."""
    return np.random.default_rng([seed, i, j])


def _objectives(values, starts, inner, ends, lam):
    """Each pair's path objective without its two constant end values: summed interior losses plus ``lam``
    times the summed squared segment lengths. ``values`` ``(Q, M)``, ``inner`` ``(Q, M, D)``."""
    points = torch.cat([starts[:, None], inner, ends[:, None]], dim=1)
    length = ((points[:, 1:] - points[:, :-1]) ** 2).sum(dim=(1, 2))
    return values.sum(dim=1) + lam * length


def _interior_losses(loss, inner, batches, inputs, targets, group):
    """Losses ``(Q, M)`` at the interior points ``(Q, M, D)``: on the whole bound data (``batches`` None), or
    pair q's points on its own mini-batch ``batches[q]``; ``group`` pairs per batched call bound the memory
    of the per-point data."""
    q, m, d = inner.shape
    if batches is None:
        return loss.unchecked(inner.reshape(q * m, d)).reshape(q, m)
    pieces = []
    for first in range(0, q, group):
        rows = batches[first:first + group]
        x = inputs[rows].repeat_interleave(m, dim=0)
        y = targets[rows].repeat_interleave(m, dim=0)
        block = inner[first:first + group]
        pieces.append(loss.unchecked(block.reshape(-1, d), x, y).reshape(block.shape[0], m))
    return torch.cat(pieces)


#: The path families :func:`optimise_pair_paths` can optimise: the paper's Fourier series, and the quadratic
#: Bezier curve of Garipov et al. (2018), :math:`(1-t)^2 a + 2t(1-t)\,\theta + t^2 b`, written as the line plus
#: :math:`2t(1-t)\,\varphi` with :math:`\varphi = \theta - (a + b)/2` (one control point, from the line).
PATH_FAMILIES = ("fourier", "bezier")


def path_basis(family: str, t: torch.Tensor, n_modes: int) -> torch.Tensor:
    """The functions of ``t`` that multiply a path's coefficients: ``(T, n_modes)`` for ``"fourier"``
    (``sin(n pi t)``), ``(T, 1)`` for ``"bezier"`` (``2 t (1 - t)``; ``n_modes`` is not used). Both vanish at
    ``t = 0`` and ``t = 1``, so the end points stay fixed."""
    check_choice(family, "family", PATH_FAMILIES)
    if family == "fourier":
        return paths.fourier_basis(t, n_modes)
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"t must be a torch tensor, got {type(t).__name__}")
    check_array(t, "t", ndim=1)
    check_int(n_modes, "n_modes", minimum=1)
    return (2 * t * (1 - t))[:, None]


def family_points(family: str, t: torch.Tensor, start: torch.Tensor, end: torch.Tensor, coefficients: torch.Tensor):
    """A path of ``family`` at ``t``: the straight line plus :func:`path_basis` times ``coefficients``, ``(T, D)``.

    ``t`` is ``(T,)``, ``start`` and ``end`` ``(D,)``, ``coefficients`` ``(K, D)`` (``K`` modes for
    ``"fourier"``, 1 for ``"bezier"``), all torch tensors of one dtype; a wrong shape, dtype or a non-finite entry
    raises ``TypeError`` or ``ValueError`` naming the argument.
    """
    for name, x, ndim in (("t", t, 1), ("start", start, 1), ("end", end, 1), ("coefficients", coefficients, 2)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch tensor, got {type(x).__name__}")
        check_array(x, name, ndim=ndim)
    if start.shape != end.shape or coefficients.shape[1] != start.shape[0]:
        raise ValueError(f"start, end and coefficients must share their last size, got {tuple(start.shape)}, "
                         f"{tuple(end.shape)} and {tuple(coefficients.shape)}")
    dtypes = {x.dtype for x in (t, start, end, coefficients)}
    if len(dtypes) != 1:
        raise TypeError(f"t, start, end and coefficients must share one dtype, got {sorted(map(str, dtypes))}")
    if family == "bezier" and coefficients.shape[0] != 1:
        raise ValueError(f"coefficients: a Bezier curve has one control point, got {coefficients.shape[0]} rows")
    basis = path_basis(family, t, coefficients.shape[0])
    return (1 - t)[:, None] * start + t[:, None] * end + basis @ coefficients


def optimise_pair_paths(loss, starts, ends, pair_ids, *, steps: int = 300, n_modes: int = 10, n_points: int = 51,
                        lam: float = 1e-4, lr: float = 1e-2, batch_size: int | None = 128, select_every: int = 10,
                        seed: int = 0, record_every: int | None = None, progress: bool | None = None,
                        family: str = "fourier") -> dict:
    r"""FourierPathFinder paths for many pairs at once, on a full-data landscape; returns the kept coefficients.

    Every pair's path :math:`w_q(t) = (1-t)\,a_q + t\,b_q + \sum_n b_{qn}\sin(n\pi t)` (coefficients
    from zero, the straight line; with ``family="bezier"`` the quadratic Bezier curve
    :math:`(1-t)\,a_q + t\,b_q + 2t(1-t)\,\varphi_q`, see :data:`PATH_FAMILIES`) is optimised with Adam on the paper's objective (summed loss over
    the ``n_points`` path points plus ``lam`` times the summed squared segment lengths), all pairs
    in one optimiser (Adam acts coordinate by coordinate, so this is each pair's own Adam run). The
    loss is ``loss``'s whole data set: exact (``batch_size=None``) or estimated without bias on a
    fresh mini-batch of ``batch_size`` samples per step, drawn for each pair from its own stream
    (``seed`` and the pair's ids), so a pair's path does not depend on the other pairs of the call.
    Every ``select_every`` steps, at step 0 (the straight line) and at the last step, each pair's
    exact full-data objective is computed and the kept path is the iterate where it was lowest: a
    path is never kept for being low on one mini-batch.

    Parameters
    ----------
    loss : BatchedLoss
        The full-data loss (e.g. :func:`landscape_loss`); its data are the mini-batches' population.
    starts, ends : torch.Tensor, shape (Q, D)
        The pairs' end points, of ``loss``'s dtype.
    pair_ids : array_like of int, shape (Q, 2)
        The pairs' indices, which name their mini-batch streams.
    steps : int >= 0
        Adam steps.
    n_modes, n_points, lam, lr
        The path family and objective of :func:`ebcore.paths.fourier_path`, and Adam's learning rate.
    family : str
        One of :data:`PATH_FAMILIES`: ``"fourier"`` (``n_modes`` sine modes) or ``"bezier"`` (one
        control point; ``n_modes`` is not used). Every family starts at the straight line and spends
        the same evaluations per step.
    batch_size : int >= 1, optional
        Samples per mini-batch (``None``: the exact objective on all samples, every step).
    select_every : int >= 1
        Steps between exact evaluations of the objective for the selection.
    seed : int >= 0
        Seeds the mini-batch streams.
    record_every : int, optional
        Also return the full-data objective and barrier of the current iterate every this many steps
        (the current iterate, not the kept one).
    progress : bool, optional
        Show a progress bar (default: as ``EBCORE_PROGRESS`` decides).

    Returns
    -------
    dict
        ``"coefficients"`` ``(Q, K, D)`` of the kept paths (``K = n_modes`` for Fourier, 1 for Bezier), ``"objective"`` ``(Q,)`` their exact
        objective (without the two constant end values), ``"line_objective"`` ``(Q,)`` the straight
        line's, ``"kept_step"`` ``(Q,)``, ``"evaluations"`` (point-evaluations per pair, counting a
        mini-batch evaluation as ``batch_size / n_samples`` of a full one), and with ``record_every``
        ``"record_steps"`` ``(R,)``, ``"record_objective"`` and ``"record_barrier"`` ``(R, Q)`` (the highest
        full-data loss at the ``n_points`` path points, ends included).

    Raises
    ------
    TypeError
        If ``loss`` is not a :class:`~ebcore.batched_loss.BatchedLoss`, ``starts`` or ``ends`` is not a
        torch tensor, or an integer setting is not an integer.
    ValueError
        If ``starts`` and ``ends`` are not the same ``(Q, D)`` shape matching ``loss``, hold a
        non-finite value, ``pair_ids`` is not ``(Q, 2)``, a count is out of range, ``lam`` is
        negative or ``lr`` not positive; :class:`ebcore.optim.NonFiniteLossError` if a path point's
        loss or a path point becomes non-finite.
    """
    if not isinstance(loss, BatchedLoss):
        raise TypeError(f"loss must be a BatchedLoss, got {type(loss).__name__}")
    for name, x in (("starts", starts), ("ends", ends)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch tensor, got {type(x).__name__}")
        check_array(x, name, ndim=2, shape=(None, loss.dimension))
    if starts.shape != ends.shape:
        raise ValueError(f"starts and ends must have the same shape, got {tuple(starts.shape)} and {tuple(ends.shape)}")
    pair_ids = np.asarray(pair_ids)
    if pair_ids.shape != (starts.shape[0], 2) or not np.issubdtype(pair_ids.dtype, np.integer):
        raise ValueError(f"pair_ids must be a ({starts.shape[0]}, 2) integer array, got shape {pair_ids.shape}")
    steps = check_int(steps, "steps", minimum=0)
    n_modes = check_int(n_modes, "n_modes", minimum=1)
    check_choice(family, "family", PATH_FAMILIES)
    n_points = check_int(n_points, "n_points", minimum=3)
    lam = check_nonnegative(lam, "lam")
    lr = check_positive(lr, "lr")
    select_every = check_int(select_every, "select_every", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    n_samples = loss.inputs.shape[0]
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        if batch_size >= n_samples:
            batch_size = None
    if record_every is not None:
        record_every = check_int(record_every, "record_every", minimum=1)

    dtype = loss.dtype
    starts, ends = starts.detach().to(dtype), ends.detach().to(dtype)
    q, d = starts.shape
    t = torch.linspace(0.0, 1.0, n_points, dtype=dtype)
    basis = path_basis(family, t[1:-1], n_modes)
    straight = (1 - t[1:-1])[None, :, None] * starts[:, None] + t[1:-1][None, :, None] * ends[:, None]
    coefficients = torch.zeros(q, basis.shape[1], d, dtype=dtype, requires_grad=True)
    streams = [_pair_generator(seed, int(i), int(j)) for i, j in pair_ids]
    group = max(1, loss.chunk * 4 // (n_points - 2))

    def inner_points(coef):
        return straight + torch.einsum("mk,qkd->qmd", basis, coef)

    with torch.no_grad():
        end_values = loss.unchecked(torch.cat([starts, ends])).reshape(2, q).max(dim=0).values

    def exact_objective(coef, barrier=False):
        """The full-data objective of each pair's path; with ``barrier``, also the highest loss at its points."""
        with torch.no_grad():
            inner = inner_points(coef)
            values = _interior_losses(loss, inner, None, None, None, group)
            if not bool(torch.isfinite(values).all()):
                raise NonFiniteLossError("the full-data loss is not finite on a path; lower the learning rate")
            objective = _objectives(values, starts, inner, ends, lam)
            if barrier:
                return objective, torch.maximum(values.max(dim=1).values, end_values)
            return objective

    best = exact_objective(coefficients)
    line_objective = best.clone()
    kept = coefficients.detach().clone()
    kept_step = np.zeros(q, dtype=np.int64)
    exact_evaluations = 1
    record_steps, record_values, record_barriers = [], [], []

    def record(step):
        objective, barrier = exact_objective(coefficients, barrier=True)
        record_steps.append(step)
        record_values.append(objective.numpy().astype(np.float64))
        record_barriers.append(barrier.numpy().astype(np.float64))

    if record_every is not None:
        record(0)
    optimizer = torch.optim.Adam([coefficients], lr=lr)
    for step in progress_bar(range(1, steps + 1), desc="pair paths", progress=progress):
        optimizer.zero_grad(set_to_none=True)
        inner = inner_points(coefficients)
        if not bool(torch.isfinite(inner.detach()).all()):
            raise NonFiniteLossError(f"lr: the path points overflowed at step {step} (lr={lr!r}); lower it")
        batches = None if batch_size is None else torch.from_numpy(
            np.stack([g.choice(n_samples, batch_size, replace=False) for g in streams]))
        values = _interior_losses(loss, inner, batches, loss.inputs, loss.targets, group)
        if not bool(torch.isfinite(values.detach()).all()):
            raise NonFiniteLossError(f"the loss is not finite on a path at step {step}; lower the learning rate")
        objectives = _objectives(values, starts, inner, ends, lam)
        objectives.sum().backward()
        if batch_size is None:
            # the exact objective of the iterate before this step is already known: offer it for free
            better = objectives.detach() < best
            best = torch.where(better, objectives.detach(), best)
            kept[better] = coefficients.detach()[better]
            kept_step[better.numpy()] = step - 1
        optimizer.step()
        if step == steps or (batch_size is not None and step % select_every == 0):
            now = exact_objective(coefficients)
            exact_evaluations += 1
            better = now < best
            best = torch.where(better, now, best)
            kept[better] = coefficients.detach()[better]
            kept_step[better.numpy()] = step
        if record_every is not None and step % record_every == 0:
            record(step)
    per_step = n_points - 2 if batch_size is None else (n_points - 2) * batch_size / n_samples
    out = {"coefficients": kept, "objective": best.numpy().astype(np.float64),
           "line_objective": line_objective.numpy().astype(np.float64), "kept_step": kept_step,
           "evaluations": 2 + steps * per_step + exact_evaluations * (n_points - 2)}
    if record_every is not None:
        out["record_steps"] = np.asarray(record_steps)
        out["record_objective"] = np.stack(record_values)
        out["record_barrier"] = np.stack(record_barriers)
    return out


def _measure_pair(train_loss, test_loss, reference_loss, start, end, coefficients, n_points, density,
                  family="fourier"):
    """The kept path's dense barriers on the training and test landscapes, and the straight line's; with a
    float64 ``reference_loss``, also the training barrier at the same dense points in float64. Losses only,
    no gradients: a gradient pass for a Lipschitz certificate would cost twice the training landscape's
    forward passes, and no barrier reported from these paths uses one."""
    dense = torch.linspace(0.0, 1.0, (n_points - 1) * density + 1, dtype=start.dtype)
    curve = family_points(family, dense, start, end, coefficients)
    train_heights = paths.path_heights(train_loss, curve)
    test_heights = paths.path_heights(test_loss, curve)
    line_train, line_test = _line_heights(train_loss, test_loss, start, end, dense)
    train_barrier = float(train_heights.max())
    return {"train_barrier": train_barrier, "test_barrier": float(test_heights.max()),
            "train_excess": train_barrier - max(train_heights[0], train_heights[-1]),
            "test_excess": float(test_heights.max() - max(test_heights[0], test_heights[-1])),
            "linear_train_barrier": float(line_train.max()), "linear_test_barrier": float(line_test.max()),
            "distance": float(torch.linalg.norm(end - start)),
            "train_barrier_float64": train_barrier if reference_loss is None else float(paths.path_heights(
                reference_loss, family_points(family, dense.double(), start.double(), end.double(),
                                              coefficients.double())).max())}


def _line_heights(train_loss, test_loss, start, end, dense):
    """The straight line's losses on the training and test landscapes at the parameters ``dense`` in [0, 1]."""
    line_points = (1 - dense)[:, None] * start + dense[:, None] * end
    return paths.path_heights(train_loss, line_points), paths.path_heights(test_loss, line_points)


#: The fields of :func:`line_barriers`, one value per pair.
LINE_FIELDS = ("train_barrier", "test_barrier", "train_excess", "test_excess", "distance")


def line_barriers(architecture, solutions, pairs, *, align: bool = False, dataset: str = "digits",
                  precision: str = "float32", n_points: int = 101) -> dict:
    """The straight line's barriers between ``pairs`` of ``solutions``, on the whole training and test sets.

    The line is measured at ``n_points`` equally spaced parameters in [0, 1], ends included, after
    aligning the second solution of each pair onto the first when ``align``. No path is optimised, so
    this costs ``2 n_points`` whole-set loss evaluations per pair; the line's barrier bounds the lowest
    barrier of any path from above (and the highest of ``n_points`` values bounds the line's own
    barrier from below). Cached (``"line-barriers"``).

    Parameters
    ----------
    architecture : str
        One of ``ebcore.nets.ARCHITECTURES``.
    solutions : numpy.ndarray, shape (n, n_params)
        The solutions, one flat parameter vector per row.
    pairs : array_like of int, shape (n_pairs, 2)
        Indices into ``solutions`` (e.g. from :func:`disjoint_pairs`).
    align : bool
        Permute the second solution onto the first first (:func:`ebcore.alignment.align_to`;
        architectures in :data:`ebcore.alignment.ALIGNABLE` only).
    dataset : str
        One of ``ebcore.nets.DATASETS``.
    precision : {"float32", "float64"}
        The floating-point type of the landscapes.
    n_points : int >= 2
        Points on the line, ends included.

    Returns
    -------
    dict
        ``{field: numpy.ndarray of shape (n_pairs,)}`` for :data:`LINE_FIELDS`: the highest loss on
        the line (absolute, as the paper's barrier), the same minus the higher end point, and the
        distance between the (aligned) end points.

    Raises
    ------
    TypeError
        If ``architecture`` is not a string or ``solutions`` is not a floating-point array.
    ValueError
        If ``architecture``, ``dataset`` or ``precision`` is unknown, ``solutions`` is not 2-D, is empty
        or holds a non-finite value, ``pairs`` is not an ``(n_pairs, 2)`` integer array of valid
        indices, ``align`` is asked for an architecture that cannot be aligned, or ``n_points < 2``.
    """
    if not isinstance(architecture, str):
        raise TypeError(f"architecture must be an architecture name, got {type(architecture).__name__}")
    task, name = _task(architecture, dataset)
    solutions = np.asarray(check_array(solutions, "solutions", ndim=2), dtype=np.float64)
    pairs = _check_pairs(pairs, len(solutions))
    if align and name not in ALIGNABLE:
        raise ValueError(f"align=True needs an architecture in {ALIGNABLE}, got {name!r}")
    check_choice(precision, "precision", tuple(PRECISIONS))
    n_points = check_int(n_points, "n_points", minimum=2)
    config = {"task": task.config(), "solutions": solutions, "pairs": pairs.astype(np.int64), "align": bool(align),
              "precision": precision, "n_points": n_points}

    def compute():
        dtype = PRECISIONS[precision]
        train_loss, test_loss = (landscape_loss(task, split, precision) for split in ("train", "test"))
        dense = torch.linspace(0.0, 1.0, n_points, dtype=dtype)
        rows = {field: [] for field in LINE_FIELDS}
        for i, j in pairs:
            second = align_to(solutions[i], solutions[j], architecture, dataset=dataset) if align else solutions[j]
            start, end = torch.tensor(solutions[i], dtype=dtype), torch.tensor(second, dtype=dtype)
            train, test = _line_heights(train_loss, test_loss, start, end, dense)
            rows["train_barrier"].append(train.max())
            rows["test_barrier"].append(test.max())
            rows["train_excess"].append(train.max() - max(train[0], train[-1]))
            rows["test_excess"].append(test.max() - max(test[0], test[-1]))
            rows["distance"].append(float(np.linalg.norm(second - solutions[i])))
        return {field: np.asarray(values, dtype=np.float64) for field, values in rows.items()}, {}

    return dict(cached("line-barriers", config, compute).arrays)


def _compute_groups(architecture, solutions, pairs, align, settings, progress, n_jobs, backend, dataset):
    """The pairs cut into ``n_jobs`` contiguous groups, one :func:`_compute` per worker; a pair's path does not
    depend on its group (its own mini-batch stream), so the result does not depend on ``n_jobs``."""
    groups = [g for g in np.array_split(np.arange(len(pairs)), min(n_jobs, len(pairs)))]
    if len(groups) == 1 and backend is None:
        return _compute(architecture, solutions, pairs, align, settings, progress, dataset)
    one_group = functools.partial(_compute_group, architecture, solutions, pairs, align, settings, dataset)
    outs = parallel_map(one_group, groups, n_jobs=n_jobs, backend=backend, desc="pair groups", progress=progress)
    return {k: np.concatenate([out[k] for out in outs]) for k in outs[0]}


def _compute_group(architecture, solutions, pairs, align, settings, dataset, rows):
    return _compute(architecture, solutions, pairs[rows], align, settings, False, dataset)


def _compute(architecture, solutions, pairs, align, settings, progress, dataset="digits"):
    task, name = _task(architecture, dataset)
    precision = settings["precision"]
    dtype = PRECISIONS[precision]
    train_loss = landscape_loss(task, "train", precision)
    test_loss = landscape_loss(task, "test", precision)
    reference_loss = None if precision == "float64" else landscape_loss(task, "train", "float64")
    seconds = [align_to(solutions[i], solutions[j], architecture, dataset=dataset) if align else solutions[j]
               for i, j in pairs]
    starts = torch.tensor(np.stack([solutions[i] for i, _ in pairs]), dtype=dtype)
    ends = torch.tensor(np.stack(seconds), dtype=dtype)
    # the landscape the paths are optimised on (the paper's supplement optimises test-landscape paths on it)
    optimised = optimise_pair_paths(train_loss if settings["landscape"] == "train" else test_loss, starts, ends, pairs,
                                    progress=progress,
                                    **{k: settings[k] for k in ("steps", "n_modes", "n_points", "lam", "lr",
                                                                "batch_size", "select_every", "seed", "family")})
    rows = [_measure_pair(train_loss, test_loss, reference_loss, starts[k], ends[k], optimised["coefficients"][k],
                          settings["n_points"], paths.DENSE_FACTOR, settings["family"])
            for k in progress_bar(range(len(pairs)), desc=f"{name} barriers", progress=progress)]
    out = {k: np.asarray([row[k] for row in rows], dtype=np.float64) for k in rows[0]}
    out["evaluations"] = np.full(len(pairs), float(optimised["evaluations"]))
    out["objective"] = optimised["objective"]
    out["line_objective"] = optimised["line_objective"]
    out["kept_step"] = optimised["kept_step"].astype(np.float64)
    return out


#: The path settings of :func:`pair_barriers` by default: the paper's path family, objective and 100 Adam
#: steps, with a learning rate of 3e-3 (the paper: 1e-3; chapter 11 measures what each gives),
#: fresh mini-batches of 128 from the full training set, the exact full-set objective every 25 steps
#: for the selection, float32, optimised on the training landscape.
PATH_SETTINGS = {"steps": 100, "n_modes": 10, "n_points": 51, "lam": 1e-4, "lr": 3e-3, "batch_size": 128,
                 "select_every": 25, "seed": 0, "precision": "float32", "landscape": "train", "family": "fourier"}
#: The landscapes a path can be optimised on (``PATH_SETTINGS["landscape"]``).
PATH_LANDSCAPES = ("train", "test")


def pair_barriers(architecture, solutions, pairs, *, align: bool = False, progress: bool | None = None,
                  n_jobs: int = 1, backend: str | None = None, dataset: str = "digits", **settings) -> dict:
    """Fourier-path barriers for ``pairs`` (``(n_pairs, 2)`` indices) of ``solutions`` ``(n, n_params)``.

    All pairs of a call are optimised together (:func:`optimise_pair_paths`) on the full training
    set's loss (estimated without bias on a fresh mini-batch per step; the kept path is the one
    whose exact full-set objective was lowest), then measured densely
    (``ebcore.paths.DENSE_FACTOR`` times finer) on the full training and test sets. Returns
    ``{field: (n_pairs,) array}`` for :data:`BARRIER_FIELDS` plus ``"objective"``,
    ``"line_objective"`` (the exact full-set path objectives of the kept path and of the straight
    line) and ``"kept_step"``: the dense barriers (absolute, as the paper), the same minus the
    higher end point (``*_excess``), the straight line's dense barriers, the point-evaluations per
    pair and the distance between the (aligned) end points; ``"train_barrier_float64"`` is the training barrier re-evaluated in float64 at the same
    dense points (the float32 landscape's round-off is its difference from ``"train_barrier"``).
    ``architecture`` is a digits architecture name or a task object with ``make_model``
    (:class:`ebcore.jobs.LandscapeTask` for the attention denoiser).

    Parameters
    ----------
    architecture : str or task
        A digits architecture, one of ``ebcore.nets.ARCHITECTURES`` (``"fcp"``, ``"lenet"``,
        ``"lstm"``, ``"autoencoder"``), or a task with ``data``, ``loss``, ``config`` and
        ``make_model``.
    solutions : numpy.ndarray, shape (n, n_params)
        The solutions, one flat parameter vector per row.
    pairs : array_like of int, shape (n_pairs, 2)
        Indices into ``solutions`` (e.g. from :func:`random_pairs`).
    align : bool
        Before the path is optimised, permute the second solution of each pair onto the first
        (:func:`ebcore.alignment.align_to`; architectures in :data:`ebcore.alignment.ALIGNABLE` only).
    progress : bool, optional
        Show a progress bar (default: as ``EBCORE_PROGRESS`` decides).
    n_jobs : int >= 1
        Workers: the pairs are cut into this many groups, each optimised together in one worker.
        A pair's path does not depend on the other pairs of its group, so the result does not
        depend on ``n_jobs`` (up to floating-point round-off of the batched calls). One is the
        default: on a CPU the batched calls already use every core.
    backend : str, optional
        The :func:`ebcore.parallel.parallel_map` backend for the groups (``"dask"`` for a Dask
        cluster).
    dataset : str
        One of ``ebcore.nets.DATASETS`` when ``architecture`` is a name (``"digits"`` by default, or
        ``"mnist"`` for the paper's network sizes); part of the task's configuration, so of the cache key.
    **settings
        Any of :data:`PATH_SETTINGS`: ``steps``, ``n_modes``, ``n_points``, ``lam``, ``lr``,
        ``batch_size`` and ``select_every`` (see :func:`optimise_pair_paths`), ``seed`` (the
        mini-batch streams), ``precision`` (``"float32"`` or ``"float64"``, of the paths and
        the landscapes) and ``landscape`` (``"train"`` or ``"test"``: the whole set whose loss the
        paths are optimised on and their kept iterate is chosen by; ``"objective"`` and
        ``"line_objective"`` are on it; the barriers are measured on both landscapes either way) and
        ``family`` (``"fourier"`` or ``"bezier"``, :data:`PATH_FAMILIES`).

    Returns
    -------
    dict
        ``{field: numpy.ndarray of shape (n_pairs,)}``.

    Raises
    ------
    TypeError
        If ``architecture`` is neither a string nor a task with ``make_model``, ``solutions`` is not a
        floating-point array, or a setting has the wrong type (it keys the cache).
    ValueError
        If ``architecture`` is an unknown name, ``solutions`` is not 2-D, is empty or holds a
        non-finite value, ``pairs`` is not an ``(n_pairs, 2)`` integer array of valid indices,
        ``align`` is asked for an architecture that cannot be aligned, or a setting is unknown or
        out of range (see :func:`optimise_pair_paths`).
    """
    task, name = _task(architecture, dataset)
    solutions = np.asarray(check_array(solutions, "solutions", ndim=2), dtype=np.float64)
    pairs = _check_pairs(pairs, len(solutions))
    if align and name not in ALIGNABLE:
        raise ValueError(f"align=True needs an architecture in {ALIGNABLE}, got {name!r}")
    unknown = sorted(set(settings) - set(PATH_SETTINGS))
    if unknown:
        raise ValueError(f"settings: unknown path setting(s) {unknown}; known: {sorted(PATH_SETTINGS)}")
    settings = {**PATH_SETTINGS, **settings}
    check_choice(settings["precision"], "precision", tuple(PRECISIONS))
    check_choice(settings["landscape"], "landscape", PATH_LANDSCAPES)
    check_choice(settings["family"], "family", PATH_FAMILIES)
    n_jobs = check_int(n_jobs, "n_jobs", minimum=1)
    config = {"task": task.config(), "solutions": solutions, "pairs": pairs.astype(np.int64), "align": bool(align),
              **settings}
    entry = cached("pair-barriers", config, lambda: (_compute_groups(architecture, solutions, pairs, align, settings,
                                                                     progress, n_jobs, backend, dataset), {}))
    return dict(entry.arrays)


#: The optimisation runs :func:`path_convergence` compares, by label: settings of
#: :func:`optimise_pair_paths` (each records the full-data objective and barrier every 25 steps).
CONVERGENCE_RUNS = {
    "paper: Adam lr 1e-3, mini-batches": {"steps": 100, "lr": 1e-3, "batch_size": 128},
    "full batch, lr 3e-3": {"steps": 100, "lr": 3e-3, "batch_size": None},
    "mini-batches, lr 3e-3": {"steps": 600, "lr": 3e-3, "batch_size": 128},
}


def path_convergence(architecture, solutions, pairs, *, progress: bool | None = None) -> dict:
    """How the full-training-set objective and barrier of pairs' paths fall along longer optimisations (chapter 11).

    Runs every entry of :data:`CONVERGENCE_RUNS` on the same ``pairs`` of ``solutions`` (all pairs of
    a run optimised together, float32, the paper's path family and ``lam``), through the results
    cache, recording every 25 steps the current iterate's exact full-training-set objective and
    its barrier (the highest loss at the 51 path points, ends included).

    Parameters
    ----------
    architecture : str or task
        A digits architecture, one of ``ebcore.nets.ARCHITECTURES``, or a task with ``make_model``.
    solutions : numpy.ndarray, shape (n, n_params)
        The solutions.
    pairs : array_like of int, shape (n_pairs, 2)
        Indices into ``solutions``.
    progress : bool, optional
        Show a progress bar (default: as ``EBCORE_PROGRESS`` decides).

    Returns
    -------
    dict
        ``{label: {"steps": (R,), "objective": (R, n_pairs), "barrier": (R, n_pairs),
        "evaluations": (R,)}}`` per entry of :data:`CONVERGENCE_RUNS`, ``evaluations`` the
        point-evaluations per pair spent by each recorded step.

    Raises
    ------
    TypeError
        If ``architecture`` is neither a string nor a task with ``make_model`` or ``solutions`` is not
        a floating-point array.
    ValueError
        If ``architecture`` is an unknown name, ``solutions`` is not 2-D, is empty or holds a
        non-finite value, or ``pairs`` is not an ``(n_pairs, 2)`` integer array of valid indices.
    """
    task, name = _task(architecture)
    solutions = np.asarray(check_array(solutions, "solutions", ndim=2), dtype=np.float64)
    pairs = _check_pairs(pairs, len(solutions))
    config = {"task": task.config(), "solutions": solutions, "pairs": pairs.astype(np.int64),
              "runs": {label: dict(options) for label, options in CONVERGENCE_RUNS.items()}}

    def compute():
        loss = landscape_loss(task, "train", "float32")
        starts = torch.tensor(solutions[pairs[:, 0]], dtype=torch.float32)
        ends = torch.tensor(solutions[pairs[:, 1]], dtype=torch.float32)
        arrays = {}
        for index, options in enumerate(CONVERGENCE_RUNS.values()):
            out = optimise_pair_paths(loss, starts, ends, pairs, record_every=25, progress=progress, **options)
            batch = options["batch_size"]
            per_step = (PATH_SETTINGS["n_points"] - 2) * (1.0 if batch is None else batch / loss.inputs.shape[0])
            arrays[f"{index}/steps"] = out["record_steps"]
            arrays[f"{index}/objective"] = out["record_objective"]
            arrays[f"{index}/barrier"] = out["record_barrier"]
            arrays[f"{index}/evaluations"] = out["record_steps"] * per_step
        return arrays, {}

    entry = cached("path-convergence", config, compute)
    return {label: {key: entry.arrays[f"{index}/{key}"] for key in ("steps", "objective", "barrier", "evaluations")}
            for index, label in enumerate(CONVERGENCE_RUNS)}
