"""A network's loss at many flat parameter vectors in one call (chapters 10 to 13).

Paths through parameter space (:mod:`ebcore.paths`) need the loss at every path point; here
those evaluations are batched with :mod:`torch.func` instead of looping over points.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .arrays import flat_concat
from .optim import NonFiniteLossError
from .training import set_flat_parameters
from .validation import check_array, check_int

__all__ = ['BatchedLoss', 'batched_loss']


class BatchedLoss:
    """A network's loss at many flat parameter vectors in one call: ``(P, D)`` to ``(P,)``.

    The parameters of ``model`` (in ``parameters()`` order, the layout of
    :func:`~ebcore.training.flat_parameters`) are replaced by each row of ``points`` through
    :func:`torch.func.functional_call`, and :func:`torch.func.vmap` batches the rows, so the
    forward and backward passes of all path points run as batched matrix products. Rows are taken
    ``chunk`` at a time to bound memory (activations grow as ``chunk x n_samples x width``).
    :meth:`loop` is the reference method of the paper's notebooks: one forward and one backward
    pass per point through the module itself.
    """

    def __init__(self, model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss_fn, *, chunk: int = 64):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise TypeError("loss_fn must be callable (outputs, targets) -> scalar")
        check_array(inputs, "inputs", ndim=(2, 3, 4))
        if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
            raise TypeError("inputs and targets must be torch tensors")
        if targets.shape[0] != inputs.shape[0]:
            raise ValueError(f"inputs and targets must have the same number of samples, got {inputs.shape[0]} "
                             f"and {targets.shape[0]}")
        self.model, self.inputs, self.targets, self.loss_fn = model, inputs, targets, loss_fn
        self.chunk = check_int(chunk, "chunk", minimum=1)
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.dimension = sum(self.sizes)
        self.dtype = named[0][1].dtype
        self.buffers = dict(model.named_buffers())

    def _unflatten(self, points):
        pieces = torch.split(points, self.sizes, dim=1)
        return {n: piece.reshape(points.shape[0], *shape) for n, piece, shape in zip(self.names, pieces, self.shapes)}

    def _one(self, params):
        return self._on(params, self.inputs, self.targets)

    def _on(self, params, inputs, targets):
        outputs = torch.func.functional_call(self.model, (params, self.buffers), (inputs,))
        return self.loss_fn(outputs, targets)

    def unchecked(self, points: torch.Tensor, inputs: torch.Tensor | None = None,
                  targets: torch.Tensor | None = None) -> torch.Tensor:
        """The losses ``(P,)`` at ``points`` without the finiteness check of a call (a NaN or an infinity
        is returned, for callers that read one as "too far", like a line search), on the bound data or
        on other data: ``inputs`` and ``targets`` shared by every point (the bound data's shapes but any
        number of samples) or, with a leading ``P`` axis, one data set per point (the lockstep
        ensembles' mini-batches). ``points`` must already be checked: of shape ``(P, D)`` and finite.
        """
        points = points.to(self.dtype)
        if inputs is None:
            inputs, targets = self.inputs, self.targets
        per_point = inputs.ndim == self.inputs.ndim + 1
        if points.shape[0] == 1:
            # one point: no vmap, so a network with a fused kernel outside vmap (the LSTM) keeps it
            params = {n: v[0] for n, v in self._unflatten(points).items()}
            data = (inputs[0], targets[0]) if per_point else (inputs, targets)
            return self._on(params, *data)[None]
        dims = (0, 0, 0) if per_point else (0, None, None)
        batched = torch.func.vmap(self._on, in_dims=dims)
        pieces = []
        for start in range(0, points.shape[0], self.chunk):
            block = points[start:start + self.chunk]
            data = (inputs[start:start + self.chunk], targets[start:start + self.chunk]) if per_point \
                else (inputs, targets)
            pieces.append(batched(self._unflatten(block), *data))
        return torch.cat(pieces)

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        """The losses at ``points``, ``(P, D)`` to ``(P,)``, differentiable with respect to the points.

        Parameters
        ----------
        points : torch.Tensor, shape (P, D)
            Flat parameter vectors, ``D`` the model's number of trainable parameters; cast to the
            model's dtype.

        Returns
        -------
        torch.Tensor, shape (P,)
            The loss at each point.

        Raises
        ------
        TypeError
            If ``points`` is not a floating-point torch tensor.
        ValueError
            If ``points`` is not of shape ``(P, D)``, is empty or holds a non-finite value;
            :class:`ebcore.optim.NonFiniteLossError` (a ``ValueError``) if the loss is not finite at a
            point.
        """
        if not isinstance(points, torch.Tensor):
            raise TypeError(f"points must be a torch tensor, got {type(points).__name__}")
        check_array(points, "points", ndim=2, shape=(None, self.dimension))
        points = points.to(self.dtype)
        losses = self.unchecked(points)
        bad = ~torch.isfinite(losses.detach())
        if bool(bad.any()):
            which = torch.nonzero(bad).flatten().tolist()
            raise NonFiniteLossError(f"points: the loss is not finite at point(s) {which[:10]}")
        return losses

    def loop(self, points: torch.Tensor):
        """Losses ``(P,)`` and gradients ``(P, D)``, one point at a time through the module (the paper's way)."""
        check_array(points, "points", ndim=2, shape=(None, self.dimension))
        losses, grads = [], []
        params = [p for p in self.model.parameters() if p.requires_grad]
        for w in points:
            set_flat_parameters(self.model, w.detach())
            for p in params:
                p.grad = None
            value = self.loss_fn(self.model(self.inputs), self.targets)
            value.backward()
            losses.append(value.detach())
            grads.append(flat_concat(p.grad for p in params))
        return torch.stack(losses), torch.stack(grads)


def batched_loss(task, split: str = "train", *, subsample: int | None = None, seed: int = 0,
                 chunk: int = 64) -> BatchedLoss:
    """:class:`BatchedLoss` of a :class:`ebcore.nets.DigitsTask` on one data split.

    ``subsample`` keeps that many samples of the split (drawn without replacement under ``seed``):
    paths are optimised on a subsample and their barriers measured on the whole split.

    Parameters
    ----------
    task : task
        A task with ``data(split)``, ``loss`` and ``make_model(seed)``: an
        :class:`ebcore.nets.DigitsTask` or an :class:`ebcore.jobs.LandscapeTask`.
    split : str
        ``"train"``, ``"validation"`` or ``"test"``.
    subsample : int >= 1, optional
        Keep this many samples of the split (all of them if omitted or not smaller).
    seed : int or numpy.random.Generator
        Draws the subsample.
    chunk : int >= 1
        Points per vectorised batch (bounds memory).

    Returns
    -------
    BatchedLoss
        The loss of the task's model at many flat parameter vectors in one call.

    Raises
    ------
    TypeError
        If ``subsample`` or ``chunk`` is not an integer, ``seed`` is neither an integer nor a numpy
        Generator, or the task's model, data or loss are not a torch module, torch tensors and a
        callable.
    ValueError
        If ``split`` is unknown, ``subsample`` or ``chunk`` is below 1, ``seed`` is negative, or the
        split's inputs and targets do not match.
    """
    from .nets import SPLITS
    from .seeding import as_generator
    from .validation import check_choice

    check_choice(split, "split", SPLITS)
    inputs, targets = task.data(split)
    if subsample is not None:
        subsample = check_int(subsample, "subsample", minimum=1)
        if subsample < inputs.shape[0]:
            rows = np.sort(as_generator(seed).choice(inputs.shape[0], subsample, replace=False))
            inputs, targets = inputs[rows], targets[rows]
    return BatchedLoss(task.make_model(0), inputs, targets, task.loss, chunk=chunk)
