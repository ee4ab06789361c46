"""Barriers between trained solutions (chapter 11).

For pairs of solutions from one set (an ensemble's train or early-stopped solutions), a Fourier
path (:func:`ebcore.paths.fourier_path`, the paper's settings) is optimised on the training loss of
a data subsample, then its dense barrier is measured on the full training set and on the test
set (the *training* and *held-out* landscapes of the paper). Optionally the second solution of
each pair is first aligned to the first by permuting hidden units
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
from .batched_loss import batched_loss
from .cache import cached
from .parallel import default_workers, parallel_map
from .seeding import as_generator
from .tasks import check_task
from .validation import check_array, check_choice, check_int

__all__ = ["random_pairs", "pair_barriers", "BARRIER_FIELDS", "CONVERGENCE_RUNS", "path_convergence"]

#: The arrays :func:`pair_barriers` returns, one entry per pair.
BARRIER_FIELDS = ("train_barrier", "test_barrier", "train_excess", "test_excess", "linear_train_barrier",
                  "linear_test_barrier", "lipschitz_margin", "evaluations", "distance")


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


def _task(architecture):
    """The task of ``architecture`` (a digits architecture name, or a task with ``make_model``) and its
    name for progress bars and alignment (the architecture name; for a task object its class name)."""
    if isinstance(architecture, str):
        check_choice(architecture, "architecture", nets.ARCHITECTURES)
        return nets.DigitsTask(architecture), architecture
    check_task(architecture, "architecture", make_model=True)
    return architecture, type(architecture).__name__


def _one_pair(architecture, subsample, steps, n_modes, n_points, lam, lr, ends):
    a, b = ends
    task, _ = _task(architecture)
    optimise_on = batched_loss(task, "train", subsample=subsample, seed=0)
    train_loss = batched_loss(task, "train")
    test_loss = batched_loss(task, "test")
    start, end = torch.tensor(a, dtype=task.dtype), torch.tensor(b, dtype=task.dtype)
    result = paths.fourier_path(optimise_on, start, end, n_modes=n_modes, n_points=n_points, lam=lam,
                                steps=steps, lr=lr, report_loss=train_loss)
    test_heights = paths.path_heights(test_loss, torch.tensor(result.at(result.dense_t), dtype=task.dtype))
    # the straight line is a contrast, sampled at the optimisation resolution: its dense re-evaluation on
    # the full data would cost as much as the path's own report
    line_t = torch.linspace(0, 1, n_points, dtype=task.dtype)[:, None]
    line_points = (1 - line_t) * start + line_t * end
    line_train = paths.path_heights(train_loss, line_points)
    line_test = paths.path_heights(test_loss, line_points)
    return {"train_barrier": result.dense_barrier, "test_barrier": test_heights.max(),
            "train_excess": result.dense_barrier - max(result.dense_heights[0], result.dense_heights[-1]),
            "test_excess": test_heights.max() - max(test_heights[0], test_heights[-1]),
            "linear_train_barrier": line_train.max(), "linear_test_barrier": line_test.max(),
            "lipschitz_margin": result.lipschitz_margin, "evaluations": result.evaluations,
            "distance": float(np.linalg.norm(a - b))}


def _compute(architecture, solutions, pairs, align, subsample, steps, n_modes, n_points, lam, lr, progress, n_jobs):
    _, name = _task(architecture)
    ends = [(solutions[i], align_to(solutions[i], solutions[j], architecture) if align else solutions[j])
            for i, j in pairs]
    one_pair = functools.partial(_one_pair, architecture, subsample, steps, n_modes, n_points, lam, lr)
    rows = parallel_map(one_pair, ends, n_jobs=n_jobs, desc=f"{name} barriers", progress=progress)
    return {k: np.asarray([row[k] for row in rows], dtype=np.float64) for k in BARRIER_FIELDS}


def pair_barriers(architecture, solutions, pairs, *, align: bool = False, subsample: int | None = 128,
                  steps: int = 100, n_modes: int = 10, n_points: int = 51, lam: float = 1e-4, lr: float = 1e-3,
                  progress: bool | None = None, n_jobs: int = 1) -> dict:
    """Fourier-path barriers for ``pairs`` (``(n_pairs, 2)`` indices) of ``solutions`` ``(n, n_params)``.

    Returns ``{field: (n_pairs,) array}`` for :data:`BARRIER_FIELDS`: the dense barrier of the
    optimised path on the full training and test sets (absolute, as the paper), the same minus the
    higher end point (``*_excess``), the straight line's barriers (its maximum over ``n_points``
    evenly spaced points, a lower bound of the line's maximum), the Lipschitz margin of the
    training barrier, the evaluations used, and the distance between the (aligned) end points.
    Paths are optimised on ``subsample`` training samples (``None``: all of them; for the digits,
    1,078 images). ``architecture`` is a digits architecture name or a task object with
    ``make_model`` (:class:`ebcore.jobs.LandscapeTask` for the attention denoiser). Pairs are
    independent, so ``n_jobs`` processes can share them (the results depend on ``n_jobs`` only
    through floating-point round-off). The default is one process: on a 2-core CPU two one-thread
    processes were no faster than one two-thread process (chapter 11 took 178 s either way), as
    the path steps are bound by elementwise work that threads already spread.

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
    subsample : int >= 1, optional
        Training samples the paths are optimised on (``None``: all).
    steps, n_modes, n_points, lam, lr
        The :func:`ebcore.paths.fourier_path` settings (the paper's: 100 Adam steps, 10 modes, 51
        points, ``lam = 1e-4``, ``lr = 1e-3``).
    progress : bool, optional
        Show a progress bar (default: as ``EBCORE_PROGRESS`` decides).
    n_jobs : int >= 1
        Worker processes.

    Returns
    -------
    dict
        ``{field: numpy.ndarray of shape (n_pairs,)}`` for each field of :data:`BARRIER_FIELDS`.

    Raises
    ------
    TypeError
        If ``architecture`` is neither a string nor a task with ``make_model``, ``solutions`` is not a
        floating-point array, a setting is not JSON-like (it keys the cache), or ``n_jobs`` is not an
        integer; when the barriers are computed, the type errors of
        :func:`ebcore.paths.fourier_path` and :func:`ebcore.batched_loss.batched_loss` for the path
        settings.
    ValueError
        If ``architecture`` is an unknown name, ``solutions`` is not 2-D, is empty or holds a
        non-finite value, ``pairs`` is not an ``(n_pairs, 2)`` integer array of valid indices,
        ``align`` is asked for an architecture that cannot be aligned, or ``n_jobs < 1``; when the
        barriers are computed, the value errors of :func:`ebcore.paths.fourier_path` for the path
        settings.
    """
    task, name = _task(architecture)
    solutions = np.asarray(check_array(solutions, "solutions", ndim=2), dtype=np.float64)
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise ValueError(f"pairs must be an (n_pairs, 2) integer array, got shape {pairs.shape}")
    if pairs.size and (pairs.min() < 0 or pairs.max() >= len(solutions)):
        raise ValueError(f"pairs must index the {len(solutions)} solutions")
    if align and name not in ALIGNABLE:
        raise ValueError(f"align=True needs an architecture in {ALIGNABLE}, got {name!r}")
    config = {"task": task.config(), "solutions": solutions,
              "pairs": pairs.astype(np.int64), "align": bool(align),
              "subsample": subsample, "steps": steps, "n_modes": n_modes, "n_points": n_points, "lam": lam, "lr": lr}
    n_jobs = check_int(n_jobs, "n_jobs", minimum=1)
    entry = cached("pair-barriers", config, lambda: (_compute(architecture, solutions, pairs, align, subsample, steps,
                                                              n_modes, n_points, lam, lr, progress, n_jobs), {}))
    return {k: entry.arrays[k] for k in BARRIER_FIELDS}


#: The optimisation runs :func:`path_convergence` compares, by label, with their
#: :func:`ebcore.paths.fourier_path` options.
CONVERGENCE_RUNS = {
    "Adam (lr 1e-3)": {"steps": 600, "lr": 1e-3, "record_every": 20},
    "L-BFGS-GSS": {"steps": 60, "optimizer": "lbfgs", "record_every": 2},
}


def _convergence_run(architecture, a, b, subsample, options):
    task, _ = _task(architecture)
    loss = batched_loss(task, "train", subsample=subsample, seed=0)
    start, end = torch.tensor(a, dtype=task.dtype), torch.tensor(b, dtype=task.dtype)
    result = paths.fourier_path(loss, start, end, **options)
    return {**{f"record.{k}": np.asarray(v, dtype=np.float64) for k, v in result.record.items()},
            "evaluations": np.array(float(result.evaluations))}


def path_convergence(architecture, start, end, *, subsample: int | None = 128, n_jobs: int | None = None) -> dict:
    """The dense barrier along long Fourier-path optimisations between two solutions (chapter 11).

    Runs every entry of :data:`CONVERGENCE_RUNS` on the training loss of ``subsample`` samples,
    in parallel processes (``n_jobs``, default one per core), through the results cache. Returns
    ``{label: (record, evaluations)}`` with ``record`` the snapshots of
    :func:`ebcore.paths.fourier_path` (``steps``, ``evaluations``, ``dense_barrier``, ...).

    Parameters
    ----------
    architecture : str or task
        A digits architecture, one of ``ebcore.nets.ARCHITECTURES`` (``"fcp"``, ``"lenet"``,
        ``"lstm"``, ``"autoencoder"``), or a task with ``make_model``.
    start, end : numpy.ndarray, shape (n_params,)
        The two solutions.
    subsample : int >= 1, optional
        Training samples the paths are optimised on (``None``: all).
    n_jobs : int >= 1, optional
        Worker processes (default one per core, at most one per run).

    Returns
    -------
    dict
        ``{label: (record, evaluations)}``: a dict of arrays and an int per entry of
        :data:`CONVERGENCE_RUNS`.

    Raises
    ------
    TypeError
        If ``architecture`` is neither a string nor a task with ``make_model``, ``start`` or ``end`` is
        not a floating-point array, ``subsample`` is not JSON-like, or ``n_jobs`` is not an integer
        (``subsample`` is checked further by :func:`ebcore.batched_loss.batched_loss` when computed).
    ValueError
        If ``architecture`` is an unknown name, ``start`` or ``end`` is not 1-D, is empty or holds a
        non-finite value, their sizes differ, or ``n_jobs < 1``.
    """
    task, name = _task(architecture)
    a = np.asarray(check_array(start, "start", ndim=1), dtype=np.float64)
    b = np.asarray(check_array(end, "end", ndim=1), dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"start and end must have the same size, got {a.size} and {b.size}")
    n_jobs = default_workers(len(CONVERGENCE_RUNS)) if n_jobs is None else check_int(n_jobs, "n_jobs", minimum=1)
    config = {"task": task.config(), "start": a, "end": b, "subsample": subsample,
              "runs": {label: dict(options) for label, options in CONVERGENCE_RUNS.items()}}

    def compute():
        run = functools.partial(_convergence_run, architecture, a, b, subsample)
        outputs = parallel_map(run, list(CONVERGENCE_RUNS.values()), n_jobs=n_jobs, desc=f"{name} convergence",
                               progress=False)
        arrays = {f"{index}/{key}": value for index, out in enumerate(outputs) for key, value in out.items()}
        return arrays, {}

    entry = cached("path-convergence", config, compute)
    out = {}
    for index, label in enumerate(CONVERGENCE_RUNS):
        prefix = f"{index}/record."
        record = {k[len(prefix):]: v for k, v in entry.arrays.items() if k.startswith(prefix)}
        out[label] = (record, int(entry.arrays[f"{index}/evaluations"]))
    return out
