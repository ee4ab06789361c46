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

