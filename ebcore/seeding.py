"""One seed for every random number generator the book uses."""
from __future__ import annotations

import numbers
import random

import numpy as np
import torch

__all__ = ["seed_everything", "as_generator", "torch_generator"]


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's, numpy's and torch's global generators; return a fresh numpy Generator.

    Chapters call this once in their import cell, so every executed cell is reproducible.
    Library functions never rely on the global state: they take an ``rng`` argument.
    """
    if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def as_generator(rng, name: str = "rng") -> np.random.Generator:
    """Coerce ``rng`` (a numpy Generator or a non-negative integer seed) to a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be a numpy Generator or an integer seed, got {type(rng).__name__}")
    if rng < 0:
        raise ValueError(f"{name} must be a non-negative integer seed, got {rng}")
    return np.random.default_rng(int(rng))


def torch_generator(rng, device="cpu", name: str = "rng") -> torch.Generator:
    """A torch Generator seeded from ``rng`` (Generator or integer), for torch-side sampling."""
    seed = int(as_generator(rng, name).integers(0, 2**63 - 1))
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen
