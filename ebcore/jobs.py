"""Training jobs: a typed description of one training run, built and trained many at a time.

A :class:`TrainingJob` names the model kind, the task's and the model's keyword arguments, the
optimizer and the number of epochs; :func:`build` turns it into a task and a freshly initialised
model, :func:`train_many` trains a list of jobs in parallel processes through the results cache,
and :class:`LandscapeTask` binds a job's task to its model for the landscape and barrier code.
Plain dicts with the same keys are accepted wherever a job is.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping

from torch import nn

from .denoisers import AttentionDenoiser, OneLayerDenoiser
from .tasks import family_task, predecessor_family_task
from .validation import check_choice, check_int

__all__ = ['TrainingJob', 'build', 'LandscapeTask', 'train_many']


#: Model kinds a job can build: the model class and the function that makes its task.
KINDS = {"attention": (AttentionDenoiser, family_task), "one_layer": (OneLayerDenoiser, predecessor_family_task)}
#: Optimizers a job can name (see :func:`ebcore.training.adam`, :func:`~ebcore.training.sgd`,
#: :func:`~ebcore.training.lbfgs_gss`).
JOB_OPTIMIZERS = ("adam", "sgd", "lbfgs_gss")


@dataclasses.dataclass(frozen=True)
class TrainingJob:
    """One training run: what to build, how to train it.

    ``kind`` is a key of ``KINDS``; ``task`` and ``model`` are keyword arguments of the
    kind's task function and model class (the model's ``dim`` and ``dtype`` come from the task).
    ``optimizer`` is one of ``JOB_OPTIMIZERS``; ``lr`` ``None`` means the optimizer's own
    default (:func:`ebcore.training.adam`'s; SGD has none and needs one); ``batch_size`` and
    ``momentum`` apply to the mini-batch optimizers. ``seed`` orders the mini-batches.
    """

    kind: str
    epochs: int
    task: Mapping = dataclasses.field(default_factory=dict)
    model: Mapping = dataclasses.field(default_factory=dict)
    seed: int = 0
    optimizer: str = "adam"
    lr: float | None = None
    batch_size: int = 32
    momentum: float = 0.0

    def __post_init__(self):
        check_choice(self.kind, "kind", tuple(KINDS))
        check_int(self.epochs, "epochs", minimum=1)
        check_int(self.seed, "seed", minimum=0)
        check_choice(self.optimizer, "optimizer", JOB_OPTIMIZERS)
        for name in ("task", "model"):
            if not isinstance(getattr(self, name), Mapping):
                raise TypeError(f"{name} must be a mapping of keyword arguments, got {type(getattr(self, name)).__name__}")
        if self.optimizer == "sgd" and self.lr is None:
            raise ValueError("lr must be given for optimizer 'sgd' (SGD has no default learning rate)")
        self.make_optimizer()  # checks lr, batch_size and momentum now, before any training

    @classmethod
    def from_any(cls, job) -> "TrainingJob":
        """A :class:`TrainingJob` from a job or a dict with its field names (unknown keys are refused)."""
        if isinstance(job, cls):
            return job
        if not isinstance(job, Mapping):
            raise TypeError(f"job must be a TrainingJob or a dict, got {type(job).__name__}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(job) - fields)
        if unknown:
            raise ValueError(f"job has unknown keys {unknown}; the keys are {sorted(fields)}")
        for name in ("task", "model"):
            if name in job and not isinstance(job[name], Mapping):
                raise TypeError(f"job[{name!r}] must be a dict of keyword arguments, got {type(job[name]).__name__}")
        missing = [name for name in ("kind", "epochs") if name not in job]
        if missing:
            raise ValueError(f"job must give {' and '.join(repr(m) for m in missing)}; got the keys {sorted(job)}")
        return cls(**job)

    def make_optimizer(self):
        """The :class:`ebcore.training.OptimizerSpec` of this job."""
        from .training import adam, lbfgs_gss, sgd

        if self.optimizer == "adam":
            return adam(batch_size=self.batch_size) if self.lr is None else adam(self.lr, batch_size=self.batch_size)
        if self.optimizer == "sgd":
            return sgd(self.lr, momentum=self.momentum, batch_size=self.batch_size)
        return lbfgs_gss()

    def build(self, model_seed: int | None = None):
        """The task and a freshly initialised model (initialised from ``model_seed`` if given)."""
        model_class, make_task = KINDS[self.kind]
        task = make_task(**dict(self.task))
        options = dict(self.model) if model_seed is None else {**self.model, "seed": model_seed}
        return task, model_class(task.dim, dtype=task.dtype, **options)


def build(job):
    """The task and the freshly initialised model of a training job (a :class:`TrainingJob` or a dict).

    Parameters
    ----------
    job : TrainingJob or dict
        The job; a dict has the fields of :class:`TrainingJob` as keys (``kind`` and ``epochs``
        required).

    Returns
    -------
    task : CorruptionTask or CleanContextTask
        The job's task (from the kind's task function and the job's ``task`` arguments).
    model : AttentionDenoiser or OneLayerDenoiser
        A freshly initialised model of the kind, with the task's ``dim`` and ``dtype``.

    Raises
    ------
    TypeError
        If ``job`` is neither a :class:`TrainingJob` nor a dict, its ``task`` or ``model`` is not a
        mapping, or a field or keyword argument has the wrong type (an unknown keyword argument
        included).
    ValueError
        If the dict has unknown keys or lacks ``kind`` or ``epochs``, or a field or keyword argument
        has a wrong value (an unknown kind or optimizer, ``epochs < 1``, a negative seed, SGD without
        ``lr``, and the task's and model's own checks).
    """
    return TrainingJob.from_any(job).build()


class LandscapeTask:
    """A training job's task bound to its model: the task protocol with ``make_model`` (:mod:`ebcore.tasks`).

    ``data(split)``, ``loss`` and ``config()`` come from the task (the config also names the model),
    ``make_model(seed)`` builds the job's model, ``dtype`` is the task's. Lets
    :func:`ebcore.batched_loss.batched_loss` and :func:`ebcore.barriers.pair_barriers` work on the
    attention denoiser as they do on the digits networks.

    Parameters
    ----------
    job : TrainingJob or dict
        The training job (see :func:`build`); its task is built once, here.

    Raises
    ------
    TypeError
        If ``job`` is neither a :class:`TrainingJob` nor a dict, or a field or keyword argument has
        the wrong type (see :func:`build`).
    ValueError
        If the job is invalid (see :func:`build`).
    """

    def __init__(self, job):
        self.job = TrainingJob.from_any(job)
        self.task, model = self.job.build()
        self.dtype = self.task.dtype
        self._model_repr = repr(model)

    def data(self, split: str):
        """The inputs and targets of a split, from the task (see :meth:`ebcore.tasks.CorruptionTask.data`).

        Parameters
        ----------
        split : str
            ``"train"``, ``"validation"`` or ``"test"``.

        Returns
        -------
        inputs, targets : torch.Tensor
            The split's inputs and targets, of the task's dtype.

        Raises
        ------
        ValueError
            If ``split`` is not one of the task's splits.
        """
        return self.task.data(split)

    def loss(self, outputs, targets):
        """The task's loss of ``outputs`` against ``targets`` (see :meth:`ebcore.tasks.CorruptionTask.loss`).

        Parameters
        ----------
        outputs : torch.Tensor
            The model's outputs.
        targets : torch.Tensor
            The targets, of the same shape.

        Returns
        -------
        torch.Tensor
            The loss, a differentiable 0-d tensor.

        Raises
        ------
        TypeError
            If ``outputs`` or ``targets`` is not a floating-point tensor (or both arrays), or they are of
            different kinds.
        ValueError
            If their shapes differ or ``targets`` is not finite; :class:`ebcore.optim.NonFiniteLossError`
            (a ``ValueError``) if the outputs or the loss are not finite.
        """
        return self.task.loss(outputs, targets)

    def make_model(self, seed: int) -> nn.Module:
        """A freshly initialised model of the job, initialised from ``seed``.

        Parameters
        ----------
        seed : int >= 0
            The model's initialisation seed (replaces the job's own model seed).

        Returns
        -------
        torch.nn.Module
            An :class:`~ebcore.denoisers.AttentionDenoiser` or :class:`~ebcore.denoisers.OneLayerDenoiser`.

        Raises
        ------
        TypeError
            If ``seed`` is not an integer.
        ValueError
            If ``seed`` is negative.
        """
        return self.job.build(model_seed=seed)[1]

    def config(self) -> dict:
        return {**self.task.config(), "model": self._model_repr}


def _train_job(job: TrainingJob):
    from .training import train

    task, model = job.build()
    return train(model, task, job.make_optimizer(), epochs=job.epochs, seed=job.seed, progress=False)


def train_many(jobs, *, n_jobs: int | None = None, progress: bool | None = None):
    """Train several jobs (:class:`TrainingJob` or dicts), one process per core, each through the results cache.

    Returns the :class:`ebcore.training.TrainingRun` of each job, in order; finished runs load from
    the cache. Every job is checked before any is trained.

    Parameters
    ----------
    jobs : iterable of TrainingJob or dict
        The jobs (see :func:`build`).
    n_jobs : int, optional
        Worker processes (default :func:`ebcore.parallel.default_workers`).
    progress : bool, optional
        Show a progress bar (default: as :func:`ebcore.progress.progress_enabled` decides from
        ``EBCORE_PROGRESS``).

    Returns
    -------
    list of TrainingRun
        One :class:`ebcore.training.TrainingRun` per job, in order.

    Raises
    ------
    TypeError
        If a job is neither a :class:`TrainingJob` nor a dict, or has a field of the wrong type (the
        message starts with ``jobs[i]``), or ``n_jobs`` is not an integer.
    ValueError
        If a job is invalid (see :func:`build`; the message starts with ``jobs[i]``), or
        ``n_jobs < 1``.
    """
    from .parallel import parallel_map

    checked = []
    for index, job in enumerate(jobs):
        try:
            checked.append(TrainingJob.from_any(job))
        except (TypeError, ValueError) as error:
            raise type(error)(f"jobs[{index}]: {error}") from None
    return parallel_map(_train_job, checked, n_jobs=n_jobs, desc="training", progress=progress)
