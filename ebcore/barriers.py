"""Barriers between trained solutions (chapter 11).

For pairs of solutions from one set (an ensemble's train or early-stopped solutions), a Fourier
path (:func:`ebcore.paths.fourier_path`, the paper's settings) is optimised on the training loss of
a data subsample, then its dense barrier is measured on the full training set and on the test
set (the *training* and *held-out* landscapes of the paper). Optionally the second solution of
each pair is first aligned to the first by permuting hidden units
(:func:`ebcore.landscape.align_to`), which leaves its function unchanged and removes barriers that
are only due to the permutation symmetry. Results are cached by the solutions, the settings and
the code version.
"""
from __future__ import annotations

import numpy as np
import torch

from . import landscape, nets, paths
from .cache import cached
from .progress import progress_bar
from .seeding import as_generator
from .validation import check_array, check_choice, check_int

__all__ = ["random_pairs", "pair_barriers", "BARRIER_FIELDS"]

#: The arrays :func:`pair_barriers` returns, one entry per pair.
BARRIER_FIELDS = ("train_barrier", "test_barrier", "train_excess", "test_excess", "linear_train_barrier",
                  "linear_test_barrier", "lipschitz_margin", "evaluations", "distance")


def random_pairs(n: int, n_pairs: int, seed: int = 0) -> np.ndarray:
    """``n_pairs`` distinct unordered pairs ``(i, j)``, ``i < j < n``, drawn without replacement."""
    n = check_int(n, "n", minimum=2)
    n_pairs = check_int(n_pairs, "n_pairs", minimum=1)
    all_pairs = np.array([(i, j) for i in range(n) for j in range(i + 1, n)])
    if n_pairs > len(all_pairs):
        raise ValueError(f"n_pairs must be <= {len(all_pairs)} (all pairs of {n}), got {n_pairs}")
    pick = as_generator(seed).choice(len(all_pairs), n_pairs, replace=False)
    return all_pairs[np.sort(pick)]


def _compute(architecture, solutions, pairs, align, subsample, steps, n_modes, n_points, lam, lr, progress):
    task = nets.DigitsTask(architecture)
    optimise_on = landscape.batched_loss(task, "train", subsample=subsample, seed=0)
    train_loss = landscape.batched_loss(task, "train")
    test_loss = landscape.batched_loss(task, "test")
    out = {name: [] for name in BARRIER_FIELDS}
    for i, j in progress_bar(pairs, desc=f"{architecture} barriers", progress=progress):
        a = solutions[i]
        b = landscape.align_to(a, solutions[j], architecture) if align else solutions[j]
        start, end = torch.tensor(a, dtype=task.dtype), torch.tensor(b, dtype=task.dtype)
        result = paths.fourier_path(optimise_on, start, end, n_modes=n_modes, n_points=n_points, lam=lam,
                                    steps=steps, lr=lr, report_loss=train_loss)
        test_heights = paths.path_heights(test_loss, torch.tensor(result.at(result.dense_t), dtype=task.dtype))
        line_t = torch.linspace(0, 1, (n_points - 1) * paths.DENSE_FACTOR + 1, dtype=task.dtype)[:, None]
        line_points = (1 - line_t) * start + line_t * end
        line_train = paths.path_heights(train_loss, line_points)
        line_test = paths.path_heights(test_loss, line_points)
        out["train_barrier"].append(result.dense_barrier)
        out["test_barrier"].append(test_heights.max())
        out["train_excess"].append(result.dense_barrier - max(result.dense_heights[0], result.dense_heights[-1]))
        out["test_excess"].append(test_heights.max() - max(test_heights[0], test_heights[-1]))
        out["linear_train_barrier"].append(line_train.max())
        out["linear_test_barrier"].append(line_test.max())
        out["lipschitz_margin"].append(result.lipschitz_margin)
        out["evaluations"].append(result.evaluations)
        out["distance"].append(float(np.linalg.norm(a - b)))
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def pair_barriers(architecture: str, solutions, pairs, *, align: bool = False, subsample: int | None = 128,
                  steps: int = 100, n_modes: int = 10, n_points: int = 51, lam: float = 1e-4, lr: float = 1e-3,
                  progress: bool | None = None) -> dict:
    """Fourier-path barriers for ``pairs`` (``(n_pairs, 2)`` indices) of ``solutions`` ``(n, n_params)``.

    Returns ``{field: (n_pairs,) array}`` for :data:`BARRIER_FIELDS`: the dense barrier of the
    optimised path on the full training and test sets (absolute, as the paper), the same minus the
    higher end point (``*_excess``), the straight line's dense barriers, the Lipschitz margin of the
    training barrier, the evaluations used, and the distance between the (aligned) end points.
    Paths are optimised on ``subsample`` training images (``None``: all 1,078).
    """
    check_choice(architecture, "architecture", nets.ARCHITECTURES)
    solutions = np.asarray(check_array(solutions, "solutions", ndim=2), dtype=np.float64)
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise ValueError(f"pairs must be an (n_pairs, 2) integer array, got shape {pairs.shape}")
    if pairs.size and (pairs.min() < 0 or pairs.max() >= len(solutions)):
        raise ValueError(f"pairs must index the {len(solutions)} solutions")
    if align and architecture not in landscape.ALIGNABLE:
        raise ValueError(f"align=True needs an architecture in {landscape.ALIGNABLE}, got {architecture!r}")
    config = {"architecture": architecture, "solutions": solutions, "pairs": pairs.astype(np.int64), "align": bool(align),
              "subsample": subsample, "steps": steps, "n_modes": n_modes, "n_points": n_points, "lam": lam, "lr": lr}
    entry = cached("pair-barriers", config, lambda: (_compute(architecture, solutions, pairs, align, subsample, steps,
                                                              n_modes, n_points, lam, lr, progress), {}))
    return {k: entry.arrays[k] for k in BARRIER_FIELDS}
