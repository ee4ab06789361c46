"""Train the members of an ensemble together, as one batched computation (chapters 9, 11 and 12).

A block of members of one architecture and one optimizer keeps its parameters stacked, ``(B, D)``
(the layout of :func:`ebcore.training.flat_parameters`, one row per member), and every loss and
gradient of the block is one call of :meth:`ebcore.batched_loss.BatchedLoss.unchecked`
(:func:`torch.func.vmap` over :func:`torch.func.functional_call`). Each member still follows its
own run, the one :func:`ebcore.training.train` would give it alone:

* **SGD**: each member's own initialisation and its own mini-batch order
  (``ebcore.training.minibatch_order`` of its seed); one optimizer step updates every row.
* **L-BFGS-GSS**: each member has its own curvature memory (``ebcore.optim.lbfgs_direction``)
  and its own line search. The searches run in lockstep: each is the generator
  ``ebcore.optim.line_search_steps``, the same code the one-network optimizer drives, and each
  round evaluates the pending trial point of every member still searching in one batched call.

The arithmetic of a member differs from its solo run only by the rounding of the batched kernels,
so its trajectory agrees to about ``1e-13`` relative in float64 over a few epochs (the tests ask for
``1e-8``, with identical evaluation counts); a line-search comparison that a rounding error could flip
would separate them. Results are stored per member in the results cache, keyed by the member's
solo configuration plus the engine and the block (the seeds trained together), so a block is a
fixed unit: what a member's numbers are does not depend on how blocks are scheduled
(:func:`ebcore.ensembles.train_ensemble`'s ``n_jobs`` and ``backend``). A block is checkpointed as
a whole and resumes exactly.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from . import training
from .batched_loss import BatchedLoss
from .cache import ResultsCache, default_cache
from .optim import NonFiniteLossError, clear_memory, lbfgs_direction, line_search_steps
from .progress import progress_bar
from .tasks import check_task
from .validation import check_int

__all__ = ["ENSEMBLE_BLOCK", "train_block"]

#: Members trained together in one block by default. Blocks are cut by seed index, so the block size
#: (not the number of workers) decides which members share their batched kernels. On a CPU a member
#: costs no less in a block than alone: measured on 2 cores with one thread per process, L-BFGS-GSS
#: per member and epoch, blocks of 1, 2 and 3 against one network run by ``ebcore.training.train``:
#: FCP 0.93, 0.92, 0.93 times its speed; LeNet 0.94, 0.82, 0.66; LSTM 0.95, 0.59, 0.57 (batched, its
#: recurrence cannot use PyTorch's fused kernel). So the default is one member per block, the blocks
#: spread over processes. Larger blocks are for a GPU, where one small network leaves the device
#: mostly idle (``block_size`` of :func:`ebcore.ensembles.train_ensemble`; not measured for this book,
#: whose machines have no GPU).
ENSEMBLE_BLOCK = 1
_SPLITS = ("train", "validation", "test")


def _engine(seeds) -> dict:
    return {"name": "lockstep", "block": [int(s) for s in seeds]}


def _as_cache(cache):
    if cache is True:
        return default_cache()
    if cache is False or cache is None:
        return None
    if not isinstance(cache, ResultsCache):
        raise TypeError(f"cache must be a bool or a ResultsCache, got {type(cache).__name__}")
    return cache


def check_spec_and_seeds(spec, seeds) -> list:
    """Check an optimizer recipe the engine batches and a sequence of distinct seeds >= 0; return the seeds."""
    if not isinstance(spec, training.OptimizerSpec):
        raise TypeError(f"spec must be an ebcore.training.OptimizerSpec, got {type(spec).__name__}")
    if spec.name not in ("sgd", "lbfgs_gss"):
        raise ValueError(f"spec must be SGD or L-BFGS-GSS for the lockstep engine, got {spec.name!r}")
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be a sequence of integers, got {type(seeds).__name__}")
    seeds = [check_int(s, "seeds", minimum=0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    return seeds


def train_block(task, spec: training.OptimizerSpec, seeds, *, epochs: int, cache: ResultsCache | bool | None = True,
                checkpoint_every: int | None = None, progress: bool | None = None) -> list:
    """Train one member per seed of ``seeds`` on ``task`` with ``spec``, together, in lockstep.

    Member ``k`` starts from ``task.make_model(seeds[k])`` and, for SGD, draws its mini-batches from
    ``seeds[k]``, as :func:`ebcore.training.train` would with ``seed=seeds[k]``.

    Parameters
    ----------
    task : task
        A task with ``make_model(seed)`` (see :mod:`ebcore.tasks`), e.g. an
        :class:`ebcore.nets.DigitsTask`.
    spec : OptimizerSpec
        :func:`ebcore.training.sgd` (plain or with momentum) or :func:`ebcore.training.lbfgs_gss`.
    seeds : sequence of int
        Distinct seeds, each >= 0, at least one.
    epochs : int >= 1
        Epochs per member.
    cache : bool or ResultsCache, optional
        ``True``: the default results cache; ``False`` or ``None``: none.
    checkpoint_every : int >= 1, optional
        Epochs between the block's checkpoints (default a tenth of ``epochs``, at least 1).
    progress : bool, optional
        Show a progress bar over epochs (default: as ``EBCORE_PROGRESS`` decides).

    Returns
    -------
    list of TrainingRun
        One :class:`ebcore.training.TrainingRun` per seed, in order. ``seconds`` is the block's
        optimisation time divided by its number of members.

    Raises
    ------
    TypeError
        If ``task`` lacks the task protocol or ``make_model``, ``spec`` is not an
        :class:`~ebcore.training.OptimizerSpec`, a seed, ``epochs`` or ``checkpoint_every`` is not an
        integer, or ``cache`` is neither a bool, ``None`` nor a results cache.
    ValueError
        If ``seeds`` is empty or repeats a seed, a seed is negative, ``epochs < 1`` or
        ``checkpoint_every < 1``, or ``spec`` is an optimizer the engine does not batch (Adam, PyTorch's
        L-BFGS).
    FloatingPointError
        If a member diverges (the message names its seed).
    """
    check_task(task)
    if not callable(getattr(task, "make_model", None)):
        raise TypeError("task must have make_model(seed), e.g. an ebcore.nets.DigitsTask")
    seeds = check_spec_and_seeds(spec, seeds)
    epochs = check_int(epochs, "epochs", minimum=1)
    checkpoint_every = max(1, epochs // 10) if checkpoint_every is None else \
        check_int(checkpoint_every, "checkpoint_every", minimum=1)
    cache = _as_cache(cache)

    models = [task.make_model(seed) for seed in seeds]
    configs = [{**training.run_config(model, task, spec, epochs, seed), "engine": _engine(seeds)}
               for model, seed in zip(models, seeds)]
    if cache is not None:
        entries = [cache.load("train-run", config) for config in configs]
        if all(entry is not None for entry in entries):
            return [training.run_from_entry(None, entry, config) for entry, config in zip(entries, configs)]
    block = _Block(task, spec, seeds, models, configs, cache)
    runs = block.train(epochs, checkpoint_every, progress)
    if cache is not None:
        for run, config in zip(runs, configs):
            try:
                cache.store("train-run", config, *training.run_arrays(run), replace=True)
            except OSError:
                pass  # a cache that cannot be written: the runs are returned all the same
            cache.clear_entry("train-checkpoint", config)
    return runs


class _Block:
    """The members of one block: stacked parameters, one ``ebcore.training.RunState`` each, and
    each member's optimizer state (an L-BFGS memory, or a row of the SGD momentum buffer)."""

    def __init__(self, task, spec, seeds, models, configs, cache):
        self.task, self.spec, self.seeds, self.configs, self.cache = task, spec, seeds, configs, cache
        self.data = {split: task.data(split) for split in _SPLITS}
        x_train, y_train = self.data["train"]
        self.n_train = x_train.shape[0]
        self.loss = BatchedLoss(models[0], x_train, y_train, task.loss, chunk=len(seeds))
        self.flat = torch.stack([torch.from_numpy(training.flat_parameters(m)) for m in models]).to(self.loss.dtype)
        self.states = [training.RunState() for _ in seeds]
        self.memories = [{} for _ in seeds]  # L-BFGS-GSS: each member's curvature pairs
        self.momentum = None  # SGD: the stacked momentum buffer, (B, D), once the first step made it

    # -- monitoring ---------------------------------------------------------------------------
    def _record(self, epoch: int) -> None:
        with torch.no_grad():
            losses = {split: self.loss.unchecked(self.flat, x, y).tolist() for split, (x, y) in self.data.items()}
        for k, state in enumerate(self.states):
            state.record(epoch, {split: losses[split][k] for split in _SPLITS},
                         lambda k=k: self.flat[k].to(torch.float64).numpy().copy())
            if not np.isfinite(state.curves["train"][-1]):
                raise FloatingPointError(f"training diverged: non-finite training loss of the member with seed "
                                         f"{self.seeds[k]} after epoch {epoch}")

    # -- checkpoints --------------------------------------------------------------------------
    def _checkpoint(self) -> None:
        for k, config in enumerate(self.configs):
            arrays, scalars = self.states[k].progress_state()
            arrays["parameters"] = self.flat[k].numpy()
            memory = self.memories[k]
            for key in ("s", "y"):
                pairs = memory.get(key, [])
                arrays[f"memory.{key}"] = torch.stack(pairs).numpy() if pairs else np.zeros((0, self.flat.shape[1]))
            for key in ("x_prev", "g_prev"):
                if key in memory:
                    arrays[f"memory.{key}"] = memory[key].numpy()
            if self.momentum is not None:
                arrays["momentum"] = self.momentum[k].numpy()
            try:
                self.cache.store("train-checkpoint", config, arrays, scalars, replace=True)
            except OSError:
                return  # a cache that cannot be written keeps no checkpoints

    def _resume(self) -> bool:
        """Restore the block from its checkpoints if every member has one at the same epoch."""
        entries = [self.cache.load("train-checkpoint", config) for config in self.configs]
        if any(entry is None for entry in entries) or len({int(e.info["epoch"]) for e in entries}) != 1:
            return False
        dtype = self.loss.dtype
        self.flat = torch.stack([torch.as_tensor(e.arrays["parameters"]) for e in entries]).to(dtype)
        for k, entry in enumerate(entries):
            self.states[k].restore_progress(entry)
            memory = self.memories[k]
            memory["s"] = [row.clone() for row in torch.as_tensor(entry.arrays["memory.s"]).to(dtype)]
            memory["y"] = [row.clone() for row in torch.as_tensor(entry.arrays["memory.y"]).to(dtype)]
            for key in ("x_prev", "g_prev"):
                if f"memory.{key}" in entry.arrays:
                    memory[key] = torch.as_tensor(entry.arrays[f"memory.{key}"]).to(dtype).clone()
        if "momentum" in entries[0].arrays:
            self.momentum = torch.stack([torch.as_tensor(e.arrays["momentum"]) for e in entries]).to(dtype)
        return True

    # -- the loop -----------------------------------------------------------------------------
    def train(self, epochs: int, checkpoint_every: int, progress) -> list:
        if self.cache is None or not self._resume():
            self._record(0)
        start = self.states[0].epoch
        elapsed = 0.0
        name = f"{self.configs[0]['model']} {self.spec.name} x{len(self.seeds)}"
        for epoch in progress_bar(range(start + 1, epochs + 1), desc=name, progress=progress):
            tick = time.perf_counter()
            if self.spec.batch_size is None:
                self._lbfgs_epoch()
            else:
                self._sgd_epoch(epoch)
            share = (time.perf_counter() - tick) / len(self.seeds)
            elapsed += share
            for state in self.states:
                state.elapsed += share
            self._record(epoch)
            if self.cache is not None and epoch % checkpoint_every == 0 and epoch < epochs:
                self._checkpoint()
        return [state.result(None, config, final=self.flat[k].to(torch.float64).numpy().copy())
                for k, (state, config) in enumerate(zip(self.states, self.configs))]

    def _sgd_epoch(self, epoch: int) -> None:
        options = dict(self.spec.options)
        lr, momentum = options["lr"], options.get("momentum", 0.0)
        x_train, y_train = self.data["train"]
        orders = torch.stack([training.minibatch_order(seed, epoch, self.n_train) for seed in self.seeds])
        batch_size = self.spec.batch_size
        for start in range(0, self.n_train, batch_size):
            rows = orders[:, start:start + batch_size]
            points = self.flat.detach().requires_grad_(True)
            with torch.enable_grad():
                losses = self.loss.unchecked(points, x_train[rows], y_train[rows])
                bad = ~torch.isfinite(losses.detach())
                if bool(bad.any()):
                    seed = self.seeds[int(torch.nonzero(bad)[0])]
                    raise FloatingPointError(f"training diverged: non-finite loss of the member with seed {seed} "
                                             f"at epoch {epoch}")
                (gradient,) = torch.autograd.grad(losses.sum(), points)
            # torch.optim.SGD's update, row by row the same elementwise arithmetic (no dampening,
            # no weight decay, no Nesterov): buffer = momentum * buffer + gradient, x -= lr * buffer
            with torch.no_grad():
                if momentum != 0.0:
                    if self.momentum is None:
                        self.momentum = gradient.clone()
                    else:
                        self.momentum.mul_(momentum).add_(gradient)
                    step = self.momentum
                else:
                    step = gradient
                self.flat = self.flat - lr * step
            share = rows.shape[1] / self.n_train
            for state in self.states:
                state.steps += 1
                state.counts["evaluations"] += share
                state.counts["gradients"] += share

    def _lbfgs_epoch(self) -> None:
        options = dict(self.spec.options)
        history, rho_eps = options["history_size"], options.get("rho_eps", 1e-6)
        points = self.flat.detach().requires_grad_(True)
        with torch.enable_grad():
            values = self.loss.unchecked(points)
            (gradients,) = torch.autograd.grad(values.sum(), points)
        values = values.detach()
        searches, pending, starts, directions = {}, {}, {}, {}
        new_flat = list(self.flat.unbind(0))
        for k, seed in enumerate(self.seeds):
            self.states[k].counts["evaluations"] += 1.0
            self.states[k].counts["gradients"] += 1.0
            f0, g = float(values[k]), gradients[k]
            if not math.isfinite(f0):
                raise NonFiniteLossError(f"the loss of the member with seed {seed} is not finite ({f0})")
            if not bool(torch.isfinite(g).all()):
                raise NonFiniteLossError(f"the gradient of the member with seed {seed} contains NaN or infinity")
            x = self.flat[k]
            p = lbfgs_direction(self.memories[k], x, g, history, rho_eps)
            p_norm = float(p.norm())
            if p_norm == 0.0:
                continue
            starts[k], directions[k] = x, p / p_norm
            searches[k] = line_search_steps(options.get("line_search", "paper"), f0, p_norm,
                                            max_evals=options["max_evals"], tol=options["tol"],
                                            max_bracket_evals=options.get("max_bracket_evals", 30))
            pending[k] = next(searches[k])
        while pending:
            members = list(pending)
            trials = {k: starts[k] + pending[k] * directions[k] for k in members}
            # a step so long that the parameters overflow reads as an infinite loss, unevaluated (as alone)
            finite = [k for k in members if bool(torch.isfinite(trials[k]).all())]
            answers = dict.fromkeys(members, math.inf)
            if finite:
                with torch.no_grad():
                    losses = self.loss.unchecked(torch.stack([trials[k] for k in finite])).tolist()
                for k, value in zip(finite, losses):
                    self.states[k].counts["evaluations"] += 1.0
                    answers[k] = value if math.isfinite(value) else math.inf
            for k in members:
                try:
                    pending[k] = searches[k].send(answers[k])
                except StopIteration as stop:
                    t, reset = stop.value
                    if reset:
                        clear_memory(self.memories[k])
                    new_flat[k] = starts[k] + t * directions[k]
                    del pending[k]
        self.flat = torch.stack(new_flat)
