"""Benchmark cases for ebcore.posterior_mean (chapter 2)."""
from __future__ import annotations

import numpy as np
import torch

from .runner import Case

N = M = 8192
D = 16
H = 1.0


def _inputs_numpy():
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, D)).astype(np.float32), rng.standard_normal((M, D)).astype(np.float32)


def _inputs_torch():
    q, p = _inputs_numpy()
    return torch.from_numpy(q), torch.from_numpy(p)


def _ebcore(inputs):
    import ebcore
    q, p = inputs
    with torch.no_grad():
        return ebcore.posterior_mean(q, p, H)


def _naive_numpy(inputs):
    """The textbook version: the whole N x M kernel matrix in memory, then normalise and multiply."""
    q, p = inputs
    d2 = (q * q).sum(1)[:, None] + (p * p).sum(1)[None, :] - 2 * q @ p.T
    k = np.exp(-(d2 - d2.min(1, keepdims=True)) / (2 * H * H))
    return (k @ p) / k.sum(1, keepdims=True)


def _sdpa(inputs):
    """torch's fused attention fed the RBF problem through the per-key bias -|p|^2 / 2h^2."""
    q, p = inputs
    bias = (-(p * p).sum(1) / (2 * H * H)).expand(q.shape[0], -1)
    with torch.no_grad():
        return torch.nn.functional.scaled_dot_product_attention(q[None], p[None], p[None], attn_mask=bias[None],
                                                                scale=1.0 / (H * H))[0]


def _big_inputs():
    rng = np.random.default_rng(1)
    n = 100_000
    return (torch.from_numpy(rng.standard_normal((n, D)).astype(np.float32)),
            torch.from_numpy(rng.standard_normal((n, D)).astype(np.float32)))


CASES = [
    Case("naive numpy, full kernel matrix (N=M=8192, d=16, f32)", _inputs_numpy, _naive_numpy),
    Case("torch SDPA with RBF bias (N=M=8192, d=16, f32)", _inputs_torch, _sdpa),
    Case("ebcore.posterior_mean vs naive numpy", _inputs_torch, _ebcore,
         baseline="naive numpy, full kernel matrix (N=M=8192, d=16, f32)", target=">= 5x", min_speedup=5.0),
    Case("ebcore.posterior_mean vs SDPA", _inputs_torch, _ebcore,
         baseline="torch SDPA with RBF bias (N=M=8192, d=16, f32)", target="> 1x", min_speedup=1.0),
    Case("ebcore.posterior_mean N=M=100,000, d=16, f32 (memory)", _big_inputs, _ebcore, repeats=1,
         target="peak well under 2 GB"),
]
