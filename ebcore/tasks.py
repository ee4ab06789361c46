"""Tasks: what a model is trained on, and the protocol every task follows.

A *task* is any object with ``data(split)`` (inputs and targets of a split as tensors),
``loss(outputs, targets)`` (a differentiable scalar) and ``config()`` (a JSON-like description
that keys the results cache); a task that can also build its model has ``make_model(seed)``.
:func:`check_task` checks that protocol, so :func:`ebcore.training.train`,
:func:`ebcore.batched_loss.batched_loss` and :func:`ebcore.barriers.pair_barriers` accept the digits
networks' :class:`ebcore.nets.DigitsTask`, the denoising tasks here and a bound training job
(:class:`ebcore.jobs.LandscapeTask`) alike.

:class:`CorruptionTask` is all-token corruption (Part I); :class:`CleanContextTask` the
predecessor's clean context with one noisy query.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .cache import array_digest
from .optim import NonFiniteLossError
from .priors import Prior
from .seeding import as_generator
from .validation import check_array, check_choice, check_int, check_int_sequence, check_scale

__all__ = ['TASK_METHODS', 'check_task', 'per_token_mse', 'CorruptionTask', 'CleanContextTask', 'family_task', 'predecessor_family_task']


#: The methods of the task protocol (see the module docstring); ``make_model`` where a model is built.
TASK_METHODS = ("data", "loss", "config")


def check_task(task, name: str = "task", *, make_model: bool = False):
    """Check the task protocol (:data:`TASK_METHODS`, and ``make_model`` if asked); return ``task``."""
    needed = TASK_METHODS + (("make_model",) if make_model else ())
    missing = [m for m in needed if not callable(getattr(task, m, None))]
    if missing:
        raise TypeError(f"{name} must be a task with {', '.join(f'{m}()' for m in needed)} (see ebcore.tasks); "
                        f"{type(task).__name__} lacks {', '.join(missing)}")
    return task


def per_token_mse(outputs, targets):
    """Mean over tokens of the squared error summed over coordinates (the unit of ``Prior.bayes_mse``).

    Raises :class:`ebcore.optim.NonFiniteLossError` (a ``ValueError``) when ``outputs`` hold a NaN
    or an infinity, or when the loss overflows: training reads it as divergence, and
    :class:`ebcore.optim.LBFGSGSS` as "step back" at a line-search trial point.
    """
    check_array(outputs, "outputs", finite=False)
    check_array(targets, "targets")
    if isinstance(outputs, torch.Tensor) != isinstance(targets, torch.Tensor):
        raise TypeError(f"outputs and targets must both be torch tensors or both numpy arrays, got "
                        f"{type(outputs).__name__} and {type(targets).__name__}")
    if tuple(outputs.shape) != tuple(targets.shape):
        raise ValueError(f"outputs and targets must have the same shape, got {tuple(outputs.shape)} and "
                         f"{tuple(targets.shape)}")
    loss = ((outputs - targets) ** 2).sum(-1).mean()
    try:
        value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
    except RuntimeError:
        # Inside a function transform (torch.func.vmap in ebcore.batched_loss.BatchedLoss) no value can
        # be read; BatchedLoss checks the batched losses itself.
        return loss
    if not math.isfinite(value):
        raise NonFiniteLossError(f"outputs: the loss is not finite ({value}); the model diverged")
    return loss


class CorruptionTask:
    """All-token corruption: contexts of ``n_tokens`` noisy tokens, targets the clean tokens.

    ``prior`` is one :class:`~ebcore.priors.Prior` shared by every context, or a family: a callable
    ``rng -> Prior`` called once per context (e.g. ``lambda g: priors.random_prior("mixture", g)``),
    so that the prior must be inferred from each context. Each split holds a fixed set of contexts
    drawn once from ``seed`` (so the training loss is a fixed function of the parameters: a
    landscape). ``data(split)`` returns ``(noisy, clean)``, both ``(n_contexts, n_tokens, dim)``.
    The clean tokens are used only as the training target; the model only ever sees noisy tokens.
    """

    def __init__(self, prior, sigma, n_tokens: int, *, n_contexts=(256, 32, 64), seed: int = 0,
                 dtype: torch.dtype = torch.float64):
        if not isinstance(prior, Prior) and not callable(prior):
            raise TypeError(f"prior must be an ebcore.priors.Prior or a callable rng -> Prior, got {type(prior).__name__}")
        self.prior = prior
        self.sigma = check_scale(sigma, "sigma")
        self.n_tokens = check_int(n_tokens, "n_tokens", minimum=2)
        counts = tuple(check_int_sequence(n_contexts, "n_contexts", minimum=1))
        if len(counts) != 3:
            raise ValueError(f"n_contexts must give (train, validation, test) counts, got {len(counts)} numbers")
        self.seed = check_int(seed, "seed", minimum=0)
        self.dtype = dtype
        gen = as_generator(self.seed)
        self._data, self._priors = {}, {}
        for split, count in zip(("train", "validation", "test"), counts):
            if isinstance(prior, Prior):
                self._priors[split] = [prior] * count
            else:
                self._priors[split] = [prior(gen) for _ in range(count)]
                if not all(isinstance(p, Prior) for p in self._priors[split]):
                    raise TypeError("the prior family must return ebcore.priors.Prior objects")
            clean = np.stack([p.sample(self.n_tokens, gen) for p in self._priors[split]])
            noisy = clean + self.sigma * gen.standard_normal(clean.shape)
            self._data[split] = (noisy, clean)
        self.dim = self._priors["train"][0].dim
        self._digest = array_digest(*(a for pair in self._data.values() for a in pair))

    def data(self, split: str):
        """The inputs and targets of a split, as tensors ``(noisy, clean)``.

        Parameters
        ----------
        split : str
            ``"train"``, ``"validation"`` or ``"test"``.

        Returns
        -------
        noisy : torch.Tensor, shape (n_contexts, n_tokens, dim)
            The noisy tokens (the model's input), of the task's dtype.
        clean : torch.Tensor, shape (n_contexts, n_tokens, dim)
            The clean tokens (the target). For a :class:`CleanContextTask` the input is the clean context
            followed by the noisy query and the target the clean query, ``(n_contexts, dim)``.

        Raises
        ------
        ValueError
            If ``split`` is not one of the three splits.
        """
        check_choice(split, "split", tuple(self._data))
        noisy, clean = self._data[split]
        return torch.as_tensor(noisy, dtype=self.dtype), torch.as_tensor(clean, dtype=self.dtype)

    def bayes(self, split: str):
        """The Bayes denoiser of each context's own prior on a split's noisy tokens (numpy)."""
        check_choice(split, "split", tuple(self._data))
        return np.stack([p.posterior_mean(y, self.sigma) for p, y in zip(self._priors[split], self._data[split][0])])

    def loss(self, outputs, targets):
        """The training loss, :func:`per_token_mse` of ``outputs`` against ``targets``.

        Parameters
        ----------
        outputs : torch.Tensor or numpy.ndarray
            The model's outputs, floating point.
        targets : torch.Tensor or numpy.ndarray
            The targets, of the same shape and kind.

        Returns
        -------
        torch.Tensor or numpy.ndarray
            The mean over tokens of the squared error summed over coordinates (a 0-d tensor for torch
            inputs, differentiable).

        Raises
        ------
        TypeError
            If ``outputs`` or ``targets`` is not a floating-point array or tensor, or one is a tensor and
            the other not.
        ValueError
            If either is empty, ``targets`` holds a non-finite value, or their shapes differ.
        ebcore.optim.NonFiniteLossError
            A ``ValueError``: ``outputs`` hold a NaN or an infinity, or the loss overflows.
        """
        return per_token_mse(outputs, targets)

    def config(self) -> dict:
        return {"task": "all-token-corruption", "data": self._digest, "sigma": self.sigma, "dtype": str(self.dtype)}


class CleanContextTask(CorruptionTask):
    """The predecessor's task: ``n_tokens`` clean context tokens and one noisy query per sequence.

    ``data(split)`` returns ``(sequence, clean_query)`` with ``sequence`` of shape
    ``(n_contexts, n_tokens + 1, dim)``: the clean context followed by the noisy query.
    """

    def __init__(self, prior: Prior, sigma, n_tokens: int, *, n_contexts=(512, 64, 256), seed: int = 0,
                 dtype: torch.dtype = torch.float64):
        super().__init__(prior, sigma, check_int(n_tokens, "n_tokens", minimum=1) + 1, n_contexts=n_contexts, seed=seed,
                         dtype=dtype)
        for split, (noisy, clean) in self._data.items():
            sequence = clean.copy()
            sequence[:, -1] = noisy[:, -1]
            self._data[split] = (sequence, clean[:, -1])
        self._digest = array_digest(*(a for pair in self._data.values() for a in pair))

    def bayes(self, split: str):
        check_choice(split, "split", tuple(self._data))
        return np.stack([p.posterior_mean(y[-1:], self.sigma)[0]
                         for p, y in zip(self._priors[split], self._data[split][0])])

    def config(self) -> dict:
        return {**super().config(), "task": "clean-context"}


def family_task(family: str, *, n_tokens: int = 64, n_contexts=(512, 64, 256), seed: int = 0,
                dtype: torch.dtype = torch.float32) -> CorruptionTask:
    """All-token corruption with a fresh prior per context from :func:`ebcore.priors.random_prior`,
    at the family's noise level (:data:`ebcore.priors.FAMILIES`)."""
    from .priors import FAMILIES, random_prior

    check_choice(family, "family", tuple(FAMILIES))
    return CorruptionTask(lambda g: random_prior(family, g), FAMILIES[family], n_tokens, n_contexts=n_contexts,
                          seed=seed, dtype=dtype)


def predecessor_family_task(name: str, *, n_tokens: int = 500, n: int = 16, n_contexts=(512, 64, 256), seed: int = 0,
                            dtype: torch.dtype = torch.float32) -> CleanContextTask:
    """The predecessor's clean-context task with a fresh random subspace, sphere or set of centres per
    sequence (:func:`ebcore.incontext.predecessor_task`), at that task's noise level."""
    from .incontext import TASKS, predecessor_task

    check_choice(name, "name", TASKS)
    sigma = predecessor_task(name, 0, n)[1]
    return CleanContextTask(lambda g: predecessor_task(name, g, n)[0], sigma, n_tokens, n_contexts=n_contexts,
                            seed=seed, dtype=dtype)
