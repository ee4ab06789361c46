"""Benchmark cases for ebcore.particle_flow (chapter 3)."""
from __future__ import annotations

import numpy as np
import torch

from .runner import Case

N, D, DEPTH, H, STEP = 4096, 8, 50, 0.5, 0.5


def _inputs():
    return np.random.default_rng(0).standard_normal((N, D)).astype(np.float32)


def _numpy_loop(tokens):
    """The plain version: every layer forms the full N x N kernel matrix with numpy."""
    p = tokens
    for _ in range(DEPTH):
        d2 = (p * p).sum(1)[:, None] + (p * p).sum(1)[None, :] - 2 * p @ p.T
        k = np.exp(-(d2 - d2.min(1, keepdims=True)) / (2 * H * H))
        p = p + STEP * ((k @ p) / k.sum(1, keepdims=True) - p)
    return p


def _ebcore(tokens):
    import ebcore
    with torch.no_grad():
        return ebcore.particle_flow(tokens, H, STEP, DEPTH)


CASES = [
    Case("numpy per-layer loop (depth 50, N=4096, d=8, f32)", _inputs, _numpy_loop, repeats=3),
    Case("ebcore.particle_flow vs numpy loop", _inputs, _ebcore, repeats=3,
         baseline="numpy per-layer loop (depth 50, N=4096, d=8, f32)", target=">= 5x", min_speedup=5.0),
]
