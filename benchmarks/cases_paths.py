"""Benchmark cases for the path evaluations of FourierPathFinder (chapters 10 and 11).

One optimisation step of a Fourier path on the digits FCP landscape costs the loss and its
gradient at the 51 path points (the update of the 10 x 6,200 coefficients is negligible):
(a) all points in one batched call (``ebcore.landscape.BatchedLoss``: ``torch.func.vmap`` over
``functional_call``), (b) the paper notebooks' per-point loop (load the point into the module,
forward, backward), (c) one bare matrix multiply with the same floating-point operation count,
the machine's limit for this work. Targets: (a) faster than (b); (a) within 2x of (c).
A fourth case times the step's softplus activations alone (forward and backward, float64): the
matrix products of this network are thin (inner sizes 50 to 64), so the step is bounded by these
transcendental evaluations rather than by multiply-adds, which is why (c) is not reachable here.
"""
from __future__ import annotations

import numpy as np
import torch

from .runner import Case

N_POINTS = 51


def _points(device="cpu"):
    from ebcore import landscape, nets

    task = nets.DigitsTask("fcp")
    loss = landscape.batched_loss(task)
    if device != "cpu":
        loss = landscape.BatchedLoss(task.make_model(0).to(device), loss.inputs.to(device),
                                     loss.targets.to(device), task.loss)
    start = torch.as_tensor(landscape.flat_parameters(task.make_model(1)))
    end = torch.as_tensor(landscape.flat_parameters(task.make_model(2)))
    t = torch.linspace(0, 1, N_POINTS, dtype=torch.float64)[:, None]
    points = ((1 - t) * start + t * end + 0.01 * torch.randn(N_POINTS, start.numel(), dtype=torch.float64))
    return loss, points.to(device)


def fcp_step_flops() -> float:
    """Forward 2 n sum(in x out); backward: weight gradients as much again, input gradients for all but layer 1."""
    sizes = (64, 50, 50, 10)
    layer_flops = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    n = 1078
    return N_POINTS * 2.0 * n * (3 * sum(layer_flops) - layer_flops[0])


def _sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def _batched(inputs):
    loss, points = inputs
    p = points.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(p).sum(), p)
    _sync(points.device.type)
    return grad


def _loop(inputs):
    loss, points = inputs
    out = loss.loop(points)
    _sync(points.device.type)
    return out


def _matmul_inputs(device="cpu"):
    side = round((fcp_step_flops() / 2.0) ** (1.0 / 3.0))
    g = torch.Generator().manual_seed(0)
    a = torch.randn(side, side, dtype=torch.float64, generator=g).to(device)
    b = torch.randn(side, side, dtype=torch.float64, generator=g).to(device)
    return a, b


def _matmul(inputs):
    a, b = inputs
    c = a @ b
    _sync(a.device.type)
    return c


def _activations(device="cpu"):
    g = torch.Generator().manual_seed(0)
    pre = torch.randn(2, N_POINTS, 1078, 50, dtype=torch.float64, generator=g).to(device).requires_grad_(True)
    return pre


def _softplus_only(pre):
    """The step's transcendental work alone: softplus forward and backward on both hidden layers."""
    out = torch.nn.functional.softplus(pre)
    (grad,) = torch.autograd.grad(out.sum(), pre)
    _sync(pre.device.type)
    return grad


_LOOP = f"FCP loss+grad at {N_POINTS} path points: per-point loop (paper)"
_MATMUL = f"FCP step FLOPs as one bare float64 matmul ({fcp_step_flops() / 1e9:.2f} GFLOP)"

_SOFTPLUS = "FCP step's softplus fwd+bwd alone (2 x 51 x 1078 x 50)"

CASES = [
    Case(_LOOP, _points, _loop, repeats=5),
    Case(_SOFTPLUS, _activations, _softplus_only, repeats=7),
    Case(_MATMUL, _matmul_inputs, _matmul, repeats=7),
    Case("FCP path step batched (vmap) vs per-point loop", _points, _batched, repeats=7,
         baseline=_LOOP, target="faster than the loop (>= 1x)", min_speedup=1.0),
    Case("FCP path step batched (vmap) vs bare matmul", _points, _batched, repeats=7,
         baseline=_MATMUL, target="within 2x of the matmul (>= 0.5x)", min_speedup=0.5),
    Case("FCP path step batched (vmap) vs its softplus alone", _points, _batched, repeats=7,
         baseline=_SOFTPLUS, target="report: share of the step that is elementwise"),
]

if torch.cuda.is_available():
    _CUDA_LOOP = _LOOP + " [cuda]"
    CASES += [
        Case(_CUDA_LOOP, lambda: _points("cuda"), _loop, repeats=5),
        Case("FCP path step batched (vmap) vs per-point loop [cuda]", lambda: _points("cuda"), _batched, repeats=7,
             baseline=_CUDA_LOOP, target="report (launch-bound loop)"),
    ]



# --- pairs per second: all pairs batched on the full landscape against one pair at a time --------------------
#
# The baseline is the pipeline chapter 11 used before pairs were batched: one pair at a time, the paper's
# Adam (lr 1e-3, 100 steps) on a fixed subsample of 128 training images in float64, then the dense
# barrier on the full training set. The case is ebcore.barriers.pair_barriers with its default settings
# (all pairs in one batched optimisation, fresh float32 mini-batches of 128 from the full set, the kept
# path chosen by the exact full-set objective, dense barriers on train and test plus a float64
# re-evaluation). Both are timed end to end for N_PAIRS pairs of FCP solutions; each row's notes give
# the median full-training-set barrier reached, so the speed-up is read at the convergence it buys.
N_PAIRS = 30


def _pair_inputs():
    import os
    import tempfile

    os.environ["EBCORE_CACHE"] = tempfile.mkdtemp(prefix="ebcore-bench-")  # this subprocess only
    from ebcore import barriers, nets, training

    task = nets.DigitsTask("fcp")
    # 9 members give 36 pairs; a short SGD run puts them in low regions without a long training
    runs = [training.train(task.make_model(seed), task, training.sgd(0.3, momentum=0.9), epochs=10, seed=seed)
            for seed in range(9)]
    solutions = np.stack([run.solutions["final"] for run in runs])
    return solutions, barriers.random_pairs(len(solutions), N_PAIRS, seed=0)


def _one_at_a_time(inputs):
    from ebcore import landscape, nets, paths

    solutions, pairs = inputs
    task = nets.DigitsTask("fcp")
    optimise_on = landscape.batched_loss(task, "train", subsample=128, seed=0)
    train_loss = landscape.batched_loss(task, "train")
    barriers_reached = []
    for i, j in pairs:
        result = paths.fourier_path(optimise_on, torch.tensor(solutions[i]), torch.tensor(solutions[j]),
                                    steps=100, lr=1e-3, report_loss=train_loss, progress=False)
        barriers_reached.append(result.dense_barrier)
    return np.median(barriers_reached)


def _batched_pairs(inputs):
    from ebcore import barriers

    solutions, pairs = inputs
    # a fresh seed per call keys a fresh cache entry, so every repeat optimises
    _batched_pairs.calls = getattr(_batched_pairs, "calls", 0) + 1
    return np.median(barriers.pair_barriers("fcp", solutions, pairs, seed=1000 + _batched_pairs.calls,
                                            progress=False)["train_barrier"])


_ONE_AT_A_TIME = f"{N_PAIRS} FCP pairs one at a time (128-image subsample, float64)"
CASES += [
    Case(_ONE_AT_A_TIME, _pair_inputs, _one_at_a_time, repeats=1),
    Case(f"{N_PAIRS} FCP pairs batched (full set, float32) vs one at a time", _pair_inputs, _batched_pairs,
         repeats=1, baseline=_ONE_AT_A_TIME, target=">= 4x the pairs per second", min_speedup=4.0),
]
