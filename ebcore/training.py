"""One training loop for every model of the book.

:func:`train` runs an optimizer (built by ``make_optimizer(params)``) on a *task* for a number of
epochs and records, after every epoch, the loss on each split of the task's data. It keeps three
solutions: the parameters at the minimum of the training-loss curve (the *train solution*), at
the minimum of the test-loss curve (the paper's early stopping) and at the minimum of the
validation-loss curve (early stopping on data the comparison does not use).

A task is any object with ``data(split) -> (inputs, targets)`` for the splits ``"train"``,
``"validation"`` and ``"test"``, ``loss(outputs, targets) -> scalar tensor`` and ``config() ->
dict`` (JSON-like, it keys the cache); :class:`ebcore.nets.DigitsTask` is one. The optimizer
factories :func:`sgd`, :func:`lbfgs_gss` and :func:`adam` return an :class:`OptimizerSpec`, a
callable with a ``config()``, so a run's whole configuration (task, initial parameters, optimizer,
epochs, seed) keys the results cache. Runs are checkpointed into the cache while they train, so a
crash loses at most ``checkpoint_every`` epochs, and a finished run is loaded, not retrained.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .arrays import flat_concat
from .cache import ResultsCache, array_digest, default_cache
from .optim import LBFGSGSS, pytorch_lbfgs
from .progress import progress_bar
from .tasks import check_task
from .validation import as_float_array, check_array, check_int, check_nonnegative, check_positive

__all__ = ["OptimizerSpec", "sgd", "adam", "lbfgs_gss", "torch_lbfgs", "TrainingRun", "train", "flat_parameters",
           "set_flat_parameters", "SOLUTIONS", "first_below"]

#: The solutions a run keeps, and the curve each one minimises.
SOLUTIONS = {"train": "train", "early_stopped": "test", "validation_stopped": "validation"}
_SPLITS = ("train", "validation", "test")
_COUNTERS = ("evaluations", "gradients", "seconds")


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer recipe: ``spec(params)`` builds it; ``spec.config()`` describes it.

    ``batch_size=None`` means full batch (one optimizer step per epoch, with a closure).
    """

    name: str
    options: tuple
    batch_size: int | None

    def __call__(self, params) -> torch.optim.Optimizer:
        options = dict(self.options)
        if self.name == "sgd":
            return torch.optim.SGD(params, **options)
        if self.name == "adam":
            return torch.optim.Adam(params, **options)
        if self.name == "lbfgs_gss":
            return LBFGSGSS(params, **options)
        if self.name == "torch_lbfgs":
            return pytorch_lbfgs(params, **options)
        raise ValueError(f"unknown optimizer name {self.name!r}")

    def config(self) -> dict:
        return {"name": self.name, "options": dict(self.options), "batch_size": self.batch_size}


def sgd(lr: float, momentum: float = 0.0, batch_size: int = 64) -> OptimizerSpec:
    """Mini-batch SGD (the paper: batches of 64, loss averaged over the batch)."""
    lr = check_positive(lr, "lr")
    momentum = check_nonnegative(momentum, "momentum")
    if not momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    return OptimizerSpec("sgd", (("lr", lr), ("momentum", float(momentum))), batch_size)


def adam(lr: float = 1e-3, batch_size: int | None = 64) -> OptimizerSpec:
    """Adam with mini-batches (``batch_size=None``: full batch)."""
    lr = check_positive(lr, "lr")
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", minimum=1)
    return OptimizerSpec("adam", (("lr", lr),), batch_size)


def lbfgs_gss(history_size: int = 10, max_evals: int = 6, tol: float = 1e-4,
              line_search: str = "paper") -> OptimizerSpec:
    """Full-batch :class:`ebcore.optim.LBFGSGSS` with the paper's defaults.

    Parameters
    ----------
    history_size : int >= 1
        Curvature pairs kept (the paper's ``m = 10``).
    max_evals : int >= 2
        Loss evaluations of each step's line search (the paper's 6): the golden-section refinement's
        with ``"safeguarded"``, all of them with ``"paper"``.
    tol : float > 0
        The line search's tolerance (the paper's ``1e-4``).
    line_search : {"paper", "safeguarded"}
        The search (see :class:`ebcore.optim.LBFGSGSS`; the paper's by default); part of the
        results-cache key.

    Returns
    -------
    OptimizerSpec
        The recipe (full batch: ``batch_size`` is ``None``).

    Raises
    ------
    TypeError
        If ``history_size`` or ``max_evals`` is not an integer, or ``tol`` is not a real number.
    ValueError
        If ``history_size < 1``, ``max_evals < 2``, ``tol`` is not a finite number > 0, or
        ``line_search`` is not one of the two searches.
    """
    from .optim import LINE_SEARCHES
    from .validation import check_choice

    history_size = check_int(history_size, "history_size", minimum=1)
    max_evals = check_int(max_evals, "max_evals", minimum=2)
    tol = check_positive(tol, "tol")
    line_search = check_choice(line_search, "line_search", LINE_SEARCHES)
    return OptimizerSpec("lbfgs_gss", (("history_size", history_size), ("max_evals", max_evals),
                                       ("tol", tol), ("line_search", line_search)), None)


def torch_lbfgs(history_size: int = 10, max_iter: int = 10) -> OptimizerSpec:
    """Full-batch :class:`torch.optim.LBFGS` with the strong-Wolfe line search, for comparison.

    One epoch is one ``step``, which runs up to ``max_iter`` L-BFGS iterations (with
    ``max_iter=1`` PyTorch's implementation restarts its line-search scale every call and stalls).

    Parameters
    ----------
    history_size : int >= 1
        Curvature pairs kept.
    max_iter : int >= 1
        L-BFGS iterations per ``step`` (per epoch).

    Returns
    -------
    OptimizerSpec
        The recipe (full batch), built by :func:`ebcore.optim.pytorch_lbfgs`.

    Raises
    ------
    TypeError
        If ``history_size`` or ``max_iter`` is not an integer.
    ValueError
        If ``history_size < 1`` or ``max_iter < 1``.
    """
    history_size = check_int(history_size, "history_size", minimum=1)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    return OptimizerSpec("torch_lbfgs", (("history_size", history_size), ("max_iter", max_iter)), None)


def flat_parameters(model: nn.Module) -> np.ndarray:
    """All trainable parameters of ``model`` as one float64 vector (in ``parameters()`` order)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return flat_concat(p for p in model.parameters() if p.requires_grad).to(torch.float64).cpu().numpy()


@torch.no_grad()
def set_flat_parameters(model: nn.Module, vector) -> nn.Module:
    """Write a flat vector (as from :func:`flat_parameters`) into ``model``; returns ``model``.

    Parameters
    ----------
    model : torch.nn.Module
        The model whose trainable parameters are overwritten, in ``parameters()`` order.
    vector : numpy.ndarray, torch.Tensor or sequence of float, shape (D,)
        The flat parameters, ``D`` the model's number of trainable parameters; each entry is cast to
        its parameter's dtype.

    Returns
    -------
    torch.nn.Module
        ``model`` itself.

    Raises
    ------
    TypeError
        If ``vector`` is not real numbers (or is a non-floating tensor).
    ValueError
        If ``vector`` is not of shape ``(D,)``, or holds a non-finite value.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    total = sum(p.numel() for p in params)
    if not isinstance(vector, torch.Tensor):
        vector = torch.from_numpy(as_float_array(vector, "vector"))
    check_array(vector, "vector", finite=False)
    if vector.ndim != 1 or vector.numel() != total:
        raise ValueError(f"vector must have shape ({total},), got {tuple(vector.shape)}")
    if not bool(torch.isfinite(vector).all()):
        raise ValueError("vector must contain only finite values")
    offset = 0
    for p in params:
        p.copy_(vector[offset:offset + p.numel()].view_as(p).to(p.dtype))
        offset += p.numel()
    return model


@dataclass
class TrainingRun:
    """What :func:`train` returns.

    ``curves[split]`` holds the loss on each split after every epoch (index 0: the
    initialisation), ``curves["evaluations"]`` the cumulative loss evaluations on the training
    data counted in examples / training-set size (a full-batch loss is 1, a mini-batch of 64
    is 64 / n_train; gradients included), ``curves["gradients"]`` the same for backward passes
    and ``curves["seconds"]`` the cumulative optimisation time (monitoring excluded);
    ``solutions[kind]`` the flat parameters of each kept solution (see :data:`SOLUTIONS`) and
    ``"final"``; ``best_epoch[kind]`` where it was taken; ``evaluations`` the totals;
    ``seconds`` the training time (of the original run when loaded).
    """

    curves: dict
    solutions: dict
    best_epoch: dict
    evaluations: dict
    seconds: float
    config: dict = field(default_factory=dict)
    from_cache: bool = False


def _optimizer_state_arrays(optimizer) -> tuple[dict, dict]:
    """Flatten an optimizer's state (tensors, lists of tensors, numbers) for the cache."""
    arrays, scalars = {}, {}
    for index, param in enumerate(optimizer.param_groups[0]["params"]):
        for key, value in optimizer.state.get(param, {}).items():
            name = f"opt.{index}.{key}"
            if isinstance(value, torch.Tensor):
                arrays[name] = value.detach().cpu().numpy()
            elif isinstance(value, list):
                stacked = (torch.stack(value) if value else torch.zeros(0)).detach().cpu().numpy()
                arrays[name + ".list"] = stacked
            elif isinstance(value, (int, float)):
                scalars[name] = value
    counters = getattr(optimizer, "evaluations", None)
    if counters is not None:
        scalars["evaluations"] = dict(counters)
    return arrays, scalars


def _restore_optimizer_state(optimizer, arrays: dict, scalars: dict) -> None:
    params = optimizer.param_groups[0]["params"]
    for name, value in list(arrays.items()) + list(scalars.items()):
        if not name.startswith("opt."):
            continue
        _, index, key = name.split(".", 2)
        param = params[int(index)]
        if key.endswith(".list"):
            tensor = torch.as_tensor(value).to(param.device)
            optimizer.state[param][key[:-5]] = [row.clone() for row in tensor]
        elif isinstance(value, np.ndarray):
            optimizer.state[param][key] = torch.as_tensor(value).to(param.device).clone()
        else:
            optimizer.state[param][key] = value
    if "evaluations" in scalars and hasattr(optimizer, "evaluations"):
        optimizer.evaluations.update(scalars["evaluations"])


def train(model: nn.Module, task, make_optimizer, *, epochs: int, seed: int = 0,
          cache: ResultsCache | bool | None = True, checkpoint_every: int | None = None,
          progress: bool | None = None) -> TrainingRun:
    """Train ``model`` on ``task`` with the optimizer ``make_optimizer(params)`` for ``epochs`` epochs.

    Full-batch optimizers (``make_optimizer.batch_size is None``, e.g. :func:`lbfgs_gss`) take
    one step per epoch with a closure; mini-batch ones take one pass over the shuffled training
    set per epoch, the order drawn from ``seed`` and the epoch number (so a resumed run draws the
    same batches). The model is left at the final parameters. With ``cache`` (the default cache,
    or a :class:`ebcore.cache.ResultsCache`), a finished run is loaded instead of retrained and an
    unfinished one resumes from its last checkpoint; ``make_optimizer`` must then have a
    ``config()`` (as :class:`OptimizerSpec` does).

    Parameters
    ----------
    model : torch.nn.Module
        The model, at its initial parameters.
    task : task
        An object with ``data(split)``, ``loss(outputs, targets)`` and ``config()`` (see
        :mod:`ebcore.tasks`), e.g. an :class:`ebcore.nets.DigitsTask`.
    make_optimizer : callable
        Parameters to a torch optimizer, e.g. an :class:`OptimizerSpec` from :func:`sgd`,
        :func:`adam`, :func:`lbfgs_gss` or :func:`torch_lbfgs`; its ``batch_size`` (``None``: full
        batch) sets the batches.
    epochs : int >= 1
        The number of epochs.
    seed : int >= 0
        Orders the mini-batches.
    cache : bool or ResultsCache, optional
        ``True``: the default results cache; ``False`` or ``None``: no cache; or a
        :class:`ebcore.cache.ResultsCache`.
    checkpoint_every : int >= 1, optional
        Epochs between checkpoints in the cache (default a tenth of ``epochs``, at least 1).
    progress : bool, optional
        Show a progress bar (default: as ``EBCORE_PROGRESS`` decides).

    Returns
    -------
    TrainingRun
        The loss curves, the kept solutions (see :data:`SOLUTIONS`) and ``"final"``, their epochs,
        the evaluation counts and the training time.

    Raises
    ------
    TypeError
        If ``model`` is not a torch module, ``task`` lacks the task protocol, ``make_optimizer`` is
        not callable (or, with a cache, has no ``config()``), ``epochs``, ``seed`` or
        ``checkpoint_every`` is not an integer, or ``cache`` is neither a bool, ``None`` nor a
        :class:`ebcore.cache.ResultsCache`.
    ValueError
        If ``epochs < 1``, ``seed`` is negative, or ``checkpoint_every < 1``.
    FloatingPointError
        If training diverges (a non-finite loss); :class:`ebcore.optim.NonFiniteLossError` from the
        task's loss or the optimizer is one.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_task(task)
    if not callable(make_optimizer):
        raise TypeError(f"make_optimizer must be callable, got {type(make_optimizer).__name__}")
    epochs = check_int(epochs, "epochs", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    batch_size = getattr(make_optimizer, "batch_size", None)
    if checkpoint_every is None:
        checkpoint_every = max(1, epochs // 10)
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every", minimum=1)
    if cache is True:
        cache = default_cache()
    elif cache is False or cache is None:
        cache = None
    elif not isinstance(cache, ResultsCache):
        raise TypeError(f"cache must be a bool or a ResultsCache, got {type(cache).__name__}")
    if cache is not None and not callable(getattr(make_optimizer, "config", None)):
        raise TypeError("make_optimizer needs a config() to key the results cache "
                        "(use ebcore.training.sgd/adam/lbfgs_gss, or pass cache=False)")

    config = run_config(model, task, make_optimizer, epochs, seed, keyed=cache is not None)

    if cache is None:
        return _train_loop(model, task, make_optimizer, epochs, seed, batch_size, None, config,
                           checkpoint_every, progress)

    def compute():
        return run_arrays(_train_loop(model, task, make_optimizer, epochs, seed, batch_size, cache, config,
                                      checkpoint_every, progress))

    entry = cache.get_or_compute("train-run", config, compute)
    if not entry.hit:
        cache.clear_entry("train-checkpoint", config)  # the finished run supersedes its checkpoint
    return run_from_entry(model, entry, config)


def run_config(model: nn.Module, task, make_optimizer, epochs: int, seed: int, *, keyed: bool = True) -> dict:
    """What decides a training run, the key of its results-cache entries (:func:`train` and the lockstep
    ensembles of :mod:`ebcore.lockstep`, which add their engine)."""
    initial = flat_parameters(model)
    # repr(model) names the class and its settings (extra_repr), which the parameters alone do not fix
    return {"task": task.config(), "model": type(model).__name__, "architecture": repr(model),
            "initial": array_digest(initial), "n_params": int(initial.size), "epochs": epochs, "seed": seed,
            "optimizer": make_optimizer.config() if keyed else repr(make_optimizer)}


def run_arrays(run: "TrainingRun") -> tuple[dict, dict]:
    """A finished run as the ``(arrays, info)`` of its results-cache entry (read back by :func:`run_from_entry`)."""
    arrays = {f"curve.{k}": v for k, v in run.curves.items()}
    arrays.update({f"solution.{k}": v for k, v in run.solutions.items()})
    return arrays, {"best_epoch": run.best_epoch, "evaluations": run.evaluations, "seconds": run.seconds}


def run_from_entry(model, entry, config) -> TrainingRun:
    """The :class:`TrainingRun` of a results-cache entry; ``model`` (if given) is left at its final parameters."""
    curves = {k[6:]: v for k, v in entry.arrays.items() if k.startswith("curve.")}
    solutions = {k[9:]: v for k, v in entry.arrays.items() if k.startswith("solution.")}
    if model is not None:
        set_flat_parameters(model, solutions["final"])
    return TrainingRun(curves=curves, solutions=solutions, best_epoch=dict(entry.info["best_epoch"]),
                       evaluations=dict(entry.info["evaluations"]), seconds=float(entry.info["seconds"]),
                       config=config, from_cache=entry.hit)


class RunState:
    """Everything a training run records, and what a checkpoint stores to resume it exactly.

    ``curves`` hold one entry per recorded epoch (the initialisation first), ``counts`` the
    cumulative loss evaluations and gradients in units of the training set, ``best[kind]`` the
    ``(value, epoch, parameters)`` of the lowest loss on that kind's split (:data:`SOLUTIONS`).
    """

    def __init__(self):
        self.curves = {split: [] for split in _SPLITS + _COUNTERS}
        self.counts = {"evaluations": 0.0, "gradients": 0.0}
        self.best = {kind: (np.inf, 0, None) for kind in SOLUTIONS}
        self.steps, self.epoch, self.elapsed = 0, 0, 0.0

    def record(self, epoch: int, losses: dict, parameters) -> None:
        """Append an epoch's losses; ``parameters()`` gives the flat parameters, read only where a
        solution improves."""
        for split in _SPLITS:
            self.curves[split].append(losses[split])
        self.curves["evaluations"].append(self.counts["evaluations"])
        self.curves["gradients"].append(self.counts["gradients"])
        self.curves["seconds"].append(self.elapsed)
        for kind, split in SOLUTIONS.items():
            if losses[split] < self.best[kind][0]:
                self.best[kind] = (losses[split], epoch, parameters())
        self.epoch = epoch

    def checkpoint(self, optimizer, model) -> tuple[dict, dict]:
        arrays, scalars = _optimizer_state_arrays(optimizer)
        arrays["parameters"] = flat_parameters(model)
        progress_arrays, progress_scalars = self.progress_state()
        arrays.update(progress_arrays)
        scalars.update(progress_scalars)
        return arrays, scalars

    def progress_state(self) -> tuple[dict, dict]:
        """The recorded curves, counts and best solutions, as checkpoint arrays and scalars."""
        arrays = {f"curve.{s}": np.asarray(self.curves[s]) for s in _SPLITS + _COUNTERS}
        arrays.update({f"best.{k}": self.best[k][2] for k in SOLUTIONS})
        scalars = {"epoch": self.epoch, "steps": self.steps, "seconds": self.elapsed,
                   "counts": dict(self.counts), "best_value": {k: self.best[k][0] for k in SOLUTIONS},
                   "best_epoch": {k: self.best[k][1] for k in SOLUTIONS}}
        return arrays, scalars

    def resume(self, entry, optimizer, model) -> None:
        set_flat_parameters(model, entry.arrays["parameters"])
        _restore_optimizer_state(optimizer, entry.arrays, entry.info)
        self.restore_progress(entry)

    def restore_progress(self, entry) -> None:
        """Read back what :meth:`progress_state` wrote."""
        for split in _SPLITS + _COUNTERS:
            self.curves[split] = list(entry.arrays[f"curve.{split}"])
        self.counts.update(entry.info["counts"])
        for kind in SOLUTIONS:
            self.best[kind] = (float(entry.info["best_value"][kind]), int(entry.info["best_epoch"][kind]),
                               entry.arrays[f"best.{kind}"])
        self.steps = int(entry.info["steps"])
        self.epoch = int(entry.info["epoch"])
        self.elapsed = float(entry.info["seconds"])

    def result(self, model, config, final=None) -> TrainingRun:
        """The finished run; ``final`` (flat parameters) stands in for ``model``'s when given."""
        evaluations = {"loss": self.counts["evaluations"], "gradient": self.counts["gradients"], "steps": self.steps}
        solutions = {kind: self.best[kind][2] for kind in SOLUTIONS}
        solutions["final"] = flat_parameters(model) if final is None else final
        return TrainingRun(curves={s: np.asarray(v) for s, v in self.curves.items()}, solutions=solutions,
                           best_epoch={k: int(self.best[k][1]) for k in SOLUTIONS}, evaluations=evaluations,
                           seconds=self.elapsed, config=config, from_cache=False)


def _full_batch_epoch(model, task, optimizer, x_train, y_train, state: RunState) -> None:
    """One step of a full-batch optimizer, which calls the closure as often as its line search needs."""
    def closure(backward: bool = True):
        optimizer.zero_grad(set_to_none=True)
        loss = task.loss(model(x_train), y_train)
        state.counts["evaluations"] += 1.0
        if backward:
            loss.backward()
            state.counts["gradients"] += 1.0
        return loss

    optimizer.step(closure)


def minibatch_order(seed: int, epoch: int, n_train: int) -> torch.Tensor:
    """The order of the training examples in one epoch of a mini-batch run, drawn from the run's seed and
    the epoch (so a resumed run, and a member trained in a lockstep block, draws the same batches)."""
    return torch.randperm(n_train, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def _minibatch_epoch(model, task, optimizer, x_train, y_train, batch_size, seed, epoch, state: RunState) -> None:
    """One pass over the training set in the order drawn from ``seed`` and ``epoch`` (so a resumed run
    draws the same batches)."""
    n_train = x_train.shape[0]
    order = minibatch_order(seed, epoch, n_train)
    for start in range(0, n_train, batch_size):
        rows = order[start:start + batch_size]
        optimizer.zero_grad(set_to_none=True)
        loss = task.loss(model(x_train[rows]), y_train[rows])
        if not bool(torch.isfinite(loss)):
            raise FloatingPointError(f"training diverged: non-finite loss at epoch {epoch}")
        loss.backward()
        optimizer.step()
        state.steps += 1
        state.counts["evaluations"] += len(rows) / n_train
        state.counts["gradients"] += len(rows) / n_train


def _train_loop(model, task, make_optimizer, epochs, seed, batch_size, cache, config, checkpoint_every,
                progress) -> TrainingRun:
    data = {split: task.data(split) for split in _SPLITS}
    x_train, y_train = data["train"]
    optimizer = make_optimizer(model.parameters())
    state = RunState()

    def losses() -> dict:
        with torch.no_grad():
            return {split: float(task.loss(model(x), y)) for split, (x, y) in data.items()}

    checkpoint = cache.load("train-checkpoint", config) if cache is not None else None
    if checkpoint is not None:
        state.resume(checkpoint, optimizer, model)
    else:
        state.record(0, losses(), lambda: flat_parameters(model))
    name = getattr(make_optimizer, "name", type(optimizer).__name__)
    for epoch in progress_bar(range(state.epoch + 1, epochs + 1), desc=f"{config['model']} {name}",
                              progress=progress):
        tick = time.perf_counter()
        if batch_size is None:
            _full_batch_epoch(model, task, optimizer, x_train, y_train, state)
        else:
            _minibatch_epoch(model, task, optimizer, x_train, y_train, batch_size, seed, epoch, state)
        state.elapsed += time.perf_counter() - tick
        state.record(epoch, losses(), lambda: flat_parameters(model))
        if not np.isfinite(state.curves["train"][-1]):
            raise FloatingPointError(f"training diverged: non-finite training loss after epoch {epoch}")
        if cache is not None and epoch % checkpoint_every == 0 and epoch < epochs:
            cache.store("train-checkpoint", config, *state.checkpoint(optimizer, model), replace=True)
    return state.result(model, config)


def first_below(run: TrainingRun, level, curve: str = "evaluations") -> float | None:
    """The value of ``run.curves[curve]`` at the first recorded epoch whose training loss is below ``level``,
    or ``None`` when the training loss never falls below it (an answer that cannot enter arithmetic)."""
    if not isinstance(run, TrainingRun):
        raise TypeError(f"run must be a TrainingRun, got {type(run).__name__}")
    level = check_positive(level, "level")
    if not isinstance(curve, str) or curve not in run.curves:
        raise ValueError(f"curve must be one of {sorted(run.curves)}, got {curve!r}")
    hit = np.nonzero(np.asarray(run.curves["train"]) < level)[0]
    return float(run.curves[curve][hit[0]]) if hit.size else None
