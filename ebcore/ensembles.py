"""Ensembles of trained networks: many initialisations, one optimizer, the best kept.

Following Yu and Morozov (2026), an ensemble trains ``n_runs`` random initialisations of one
architecture with one optimizer and keeps the ``n_keep`` runs with the lowest training loss
(the paper: 75 runs, 48 kept). Each kept run contributes two solutions, the parameters at the
minimum of its training-loss curve (``"train"``) and at the minimum of its test-loss curve
(``"early_stopped"``, the paper's early stopping); the book adds early stopping on a separate
validation split (``"validation_stopped"``).

Members are trained together in blocks of :data:`ebcore.lockstep.ENSEMBLE_BLOCK` seeds, as one
batched computation each (:mod:`ebcore.lockstep`: stacked parameters, every member's own
mini-batches or its own line search, in lockstep); member ``k`` of a block follows the run that
:func:`ebcore.training.train` gives seed ``k`` alone, to rounding. Blocks are cut by seed index and
dispatched through :func:`ebcore.parallel.parallel_map`: local processes by default, a Dask
cluster with ``backend="dask"`` inside a ``distributed.Client`` (or Ray after
``ray.util.joblib.register_ray()``); the block, not the scheduling, decides every number. Each
member's run is a results-cache entry, so a finished ensemble is loaded, not retrained, and an
interrupted block resumes from its checkpoint.

The two optimizers' ensembles start from different initialisations: the SGD ensemble's seeds are
offset by :data:`SEED_OFFSETS` (a shared seed would make an L-BFGS solution and an SGD solution
share their starting point, which the distance and kernel-PCA comparisons would then confound).
``seed_offset=0`` gives the shared-seed ensembles, for the experiment that measures what sharing does.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import lockstep, nets, training
from .parallel import parallel_map
from .scale import at_scale
from .stats import mean_and_se
from .validation import check_choice, check_int

__all__ = ["OPTIMIZERS", "SEED_OFFSETS", "Ensemble", "ensemble_settings", "optimizer_spec", "train_runs", "train_ensemble", "compare_means", "book_ensembles"]

OPTIMIZERS = ("lbfgs_gss", "sgd")
#: Added to the seeds of each optimizer's ensemble by default, so that the two ensembles never share an
#: initialisation (far above any ensemble's number of runs).
SEED_OFFSETS = {"lbfgs_gss": 0, "sgd": 1_000_000}

# SGD (batch 64, momentum 0.9): for each architecture, the learning rate from
# {0.03, 0.1, 0.3, 1, 3} with the lowest mean validation loss after 30 epochs over seeds 0 and 1
# (a sweep run once while writing chapter 9; larger rates diverged or stalled at log 10).
_SGD_LR = {"fcp": 0.3, "lenet": 0.03, "lstm": 0.3, "autoencoder": 3.0}
_SGD_MOMENTUM = 0.9

# Default scale (a 2-core machine, chapter 9 within 3 minutes) and the paper's scale.
_SETTINGS = {
    "default": {
        "fcp": dict(n_runs=6, n_keep=4, epochs={"lbfgs_gss": 250, "sgd": 40}),
        "autoencoder": dict(n_runs=6, n_keep=4, epochs={"lbfgs_gss": 250, "sgd": 40}),
        "lenet": dict(n_runs=4, n_keep=3, epochs={"lbfgs_gss": 200, "sgd": 30}),
        "lstm": dict(n_runs=4, n_keep=3, epochs={"lbfgs_gss": 100, "sgd": 30}),
    },
    "paper": {name: dict(n_runs=75, n_keep=48, epochs={"lbfgs_gss": 1000, "sgd": 200})
              for name in nets.ARCHITECTURES},
}

# Real MNIST at the paper's network sizes. At default scale chapter 14 trains the FCP only, with fewer
# runs and epochs than the digits ensembles so that it stays within its time budget on a 2-core
# machine; the paper's counts are for EBCORE_SCALE=paper (a GPU).
_MNIST_SETTINGS = {
    "default": {name: dict(n_runs=5, n_keep=4, epochs={"lbfgs_gss": 150, "sgd": 20}) for name in nets.ARCHITECTURES},
    "paper": _SETTINGS["paper"],  # the paper's counts are the same whatever the data
}


def ensemble_settings(architecture: str, dataset: str = "digits", scale: str | None = None) -> dict:
    """``n_runs``, ``n_keep`` and ``epochs`` (per optimizer) at the current scale.

    Parameters
    ----------
    architecture : str
        One of ``ebcore.nets.ARCHITECTURES``: ``"fcp"``, ``"lenet"``, ``"lstm"`` or
        ``"autoencoder"``.
    dataset : str
        One of ``ebcore.nets.DATASETS``: ``"digits"`` or ``"mnist"``.
    scale : str, optional
        ``"default"`` or ``"paper"``; by default the current scale (``EBCORE_SCALE``).

    Returns
    -------
    dict
        ``{"n_runs": int, "n_keep": int, "epochs": {optimizer: int}}`` (a fresh copy).

    Raises
    ------
    ValueError
        If ``architecture`` or ``dataset`` is unknown, or ``EBCORE_SCALE`` is neither ``"default"`` nor
        ``"paper"``.
    """
    check_choice(architecture, "architecture", nets.ARCHITECTURES)
    check_choice(dataset, "dataset", nets.DATASETS)
    source = _SETTINGS if dataset == "digits" else _MNIST_SETTINGS
    if scale is None:
        table = at_scale(source["default"], source["paper"])
    else:
        table = source[check_choice(scale, "scale", ("default", "paper"))]
    settings = table[architecture]
    return {"n_runs": settings["n_runs"], "n_keep": settings["n_keep"], "epochs": dict(settings["epochs"])}


def optimizer_spec(architecture: str, optimizer: str) -> training.OptimizerSpec:
    """The book's optimizer recipe for an architecture: L-BFGS-GSS (paper defaults) or SGD."""
    check_choice(architecture, "architecture", nets.ARCHITECTURES)
    check_choice(optimizer, "optimizer", OPTIMIZERS)
    if optimizer == "lbfgs_gss":
        return training.lbfgs_gss()
    return training.sgd(_SGD_LR[architecture], momentum=_SGD_MOMENTUM, batch_size=64)


@dataclass
class Ensemble:
    """The kept runs of one ensemble.

    ``solutions[kind]`` is ``(n_keep, n_params)`` (kinds: ``"train"``, ``"early_stopped"``,
    ``"validation_stopped"``, ``"final"``); ``curves[split]`` is ``(n_keep, epochs + 1)``;
    ``train_loss`` the minimum training loss of each kept run; ``seeds`` their seeds;
    ``all_train_loss`` the minimum training loss of every run (kept or not), in seed order.
    """

    architecture: str
    optimizer: str
    seeds: np.ndarray
    solutions: dict
    curves: dict
    best_epoch: dict
    train_loss: np.ndarray
    all_train_loss: np.ndarray
    seconds: np.ndarray
    evaluations: list
    dataset: str = "digits"

    @property
    def n_params(self) -> int:
        return int(self.solutions["train"].shape[1])

    def losses_at(self, kind: str, split: str) -> np.ndarray:
        """Loss on ``split`` at each kept run's ``kind`` solution (read off the recorded curves).

        Parameters
        ----------
        kind : str
            A solution kind, a key of :data:`ebcore.training.SOLUTIONS`: ``"train"``,
            ``"early_stopped"`` or ``"validation_stopped"``.
        split : str
            ``"train"``, ``"validation"`` or ``"test"``.

        Returns
        -------
        numpy.ndarray, shape (n_keep,)
            The loss of each kept run.

        Raises
        ------
        ValueError
            If ``kind`` or ``split`` is unknown.
        """
        check_choice(kind, "kind", tuple(training.SOLUTIONS))
        check_choice(split, "split", nets.SPLITS)
        epochs = self.best_epoch[kind]
        return self.curves[split][np.arange(len(epochs)), epochs]


def _train_block(architecture: str, spec: training.OptimizerSpec, epochs: int, dataset: str, seeds):
    return lockstep.train_block(nets.DigitsTask(architecture, dataset=dataset), spec, seeds, epochs=epochs,
                                progress=False)


def train_runs(architecture: str, spec: training.OptimizerSpec, seeds, *, epochs: int, block_size: int | None = None,
               n_jobs: int | None = None, backend: str | None = None, progress: bool | None = None,
               dataset: str = "digits") -> list:
    """Every run of an ensemble, in seed order: one member per seed, in lockstep blocks of ``block_size``.

    What :func:`train_ensemble` trains before it keeps the best runs, for any optimizer recipe
    ``spec`` (chapter 9 trains the FCP's runs again with the safeguarded line search this way). The
    blocks are cut by seed index and scheduled on ``n_jobs`` workers with ``backend``
    (:func:`ebcore.parallel.parallel_map`).

    Parameters
    ----------
    architecture : str
        One of ``ebcore.nets.ARCHITECTURES``.
    spec : OptimizerSpec
        :func:`ebcore.training.sgd` or :func:`ebcore.training.lbfgs_gss`.
    seeds : sequence of int
        Distinct seeds >= 0.
    epochs : int >= 1
        Epochs per run.
    block_size : int >= 1, optional
        Members per block (default :data:`ebcore.lockstep.ENSEMBLE_BLOCK`).
    n_jobs : int >= 1, optional
        Worker processes (default one per core, at most one per block).
    backend : str, optional
        A :class:`joblib.Parallel` backend name.
    progress : bool, optional
        Show a progress bar over blocks.
    dataset : str
        One of ``ebcore.nets.DATASETS`` (:class:`ebcore.nets.DigitsTask`).

    Returns
    -------
    list of TrainingRun
        One :class:`ebcore.training.TrainingRun` per seed, in order.

    Raises
    ------
    TypeError
        If ``spec`` is not an optimizer recipe, or a seed, ``epochs``, ``block_size`` or ``n_jobs`` is
        not an integer.
    ValueError
        If ``architecture`` is unknown, ``seeds`` is empty or repeats a seed, a seed is negative,
        ``epochs``, ``block_size`` or ``n_jobs`` is below 1, or ``spec`` is an optimizer the lockstep
        engine does not batch.
    """
    check_choice(architecture, "architecture", nets.ARCHITECTURES)
    check_choice(dataset, "dataset", nets.DATASETS)
    seeds = lockstep.check_spec_and_seeds(spec, seeds)
    epochs = check_int(epochs, "epochs", minimum=1)
    block_size = lockstep.ENSEMBLE_BLOCK if block_size is None else check_int(block_size, "block_size", minimum=1)
    blocks = [seeds[i:i + block_size] for i in range(0, len(seeds), block_size)]
    done = parallel_map(functools.partial(_train_block, architecture, spec, epochs, dataset), blocks, n_jobs=n_jobs,
                        backend=backend, desc=f"{architecture} {spec.name}" + ("" if dataset == "digits" else f" {dataset}"),
                        progress=progress)
    return [run for block in done for run in block]


def train_ensemble(architecture: str, optimizer: str, *, n_runs: int | None = None, n_keep: int | None = None,
                   epochs: int | None = None, first_seed: int = 0, seed_offset: int | None = None,
                   block_size: int | None = None, n_jobs: int | None = None, backend: str | None = None,
                   progress: bool | None = None, dataset: str = "digits") -> Ensemble:
    """Train ``n_runs`` initialisations and keep the ``n_keep`` with the lowest training loss.

    The seeds are ``first_seed + seed_offset + i`` for ``i < n_runs`` (``seed_offset`` by default the
    optimizer's :data:`SEED_OFFSETS`, so the two optimizers' ensembles share no initialisation).
    Defaults come from :func:`ensemble_settings` (``EBCORE_SCALE=paper``: 75 runs, 48 kept, the
    paper's 1,000 L-BFGS epochs). Members train in lockstep blocks (:mod:`ebcore.lockstep`);
    ``n_jobs`` worker processes (default: one per core, at most one per block) and ``backend`` (a
    :class:`joblib.Parallel` backend) only schedule the blocks.

    Parameters
    ----------
    architecture : str
        One of ``ebcore.nets.ARCHITECTURES``: ``"fcp"``, ``"lenet"``, ``"lstm"`` or
        ``"autoencoder"``.
    optimizer : str
        One of ``OPTIMIZERS``: ``"lbfgs_gss"`` or ``"sgd"`` (:func:`optimizer_spec`).
    n_runs : int >= 1, optional
        Initialisations trained (default from :func:`ensemble_settings`).
    n_keep : int, 1 <= n_keep <= n_runs, optional
        Runs kept, those with the lowest training loss (default from :func:`ensemble_settings`).
    epochs : int >= 1, optional
        Epochs per run (default from :func:`ensemble_settings`, per optimizer).
    first_seed : int >= 0
        The first run's seed before the offset (initialisation and batch order).
    seed_offset : int >= 0, optional
        Added to every seed (default ``SEED_OFFSETS[optimizer]``).
    block_size : int >= 1, optional
        Members per lockstep block (default :data:`ebcore.lockstep.ENSEMBLE_BLOCK`); part of each
        member's cache key, as it decides which members share their batched kernels.
    n_jobs : int >= 1, optional
        Worker processes.
    backend : str, optional
        A :class:`joblib.Parallel` backend name.
    progress : bool, optional
        Show a progress bar (default: as ``EBCORE_PROGRESS`` decides).
    dataset : str
        One of ``ebcore.nets.DATASETS``: ``"digits"`` (the default) or ``"mnist"`` (the paper's network
        sizes; :func:`ensemble_settings` gives its counts).

    Returns
    -------
    Ensemble
        The kept runs: their seeds, solutions, loss curves, best epochs and training losses.

    Raises
    ------
    TypeError
        If ``n_runs``, ``n_keep``, ``epochs``, ``first_seed``, ``seed_offset``, ``block_size`` or
        ``n_jobs`` is not an integer, or ``backend`` is neither a string nor ``None``.
    ValueError
        If ``architecture`` or ``optimizer`` is unknown, ``EBCORE_SCALE`` is invalid, ``n_runs``,
        ``n_keep``, ``epochs``, ``block_size`` or ``n_jobs`` is below 1, ``n_keep > n_runs``, or
        ``first_seed`` or ``seed_offset`` is negative.
    """
    settings = ensemble_settings(architecture, dataset)
    check_choice(optimizer, "optimizer", OPTIMIZERS)
    n_runs = settings["n_runs"] if n_runs is None else check_int(n_runs, "n_runs", minimum=1)
    n_keep = settings["n_keep"] if n_keep is None else check_int(n_keep, "n_keep", minimum=1)
    if n_keep > n_runs:
        raise ValueError(f"n_keep must be <= n_runs ({n_runs}), got {n_keep}")
    epochs = settings["epochs"][optimizer] if epochs is None else check_int(epochs, "epochs", minimum=1)
    first_seed = check_int(first_seed, "first_seed", minimum=0)
    seed_offset = SEED_OFFSETS[optimizer] if seed_offset is None else check_int(seed_offset, "seed_offset", minimum=0)
    spec = optimizer_spec(architecture, optimizer)
    seeds = list(range(first_seed + seed_offset, first_seed + seed_offset + n_runs))
    runs = train_runs(architecture, spec, seeds, epochs=epochs, block_size=block_size, n_jobs=n_jobs,
                      backend=backend, progress=progress, dataset=dataset)
    all_train = np.array([run.curves["train"].min() for run in runs])
    kept = np.sort(np.argsort(all_train, kind="stable")[:n_keep])
    kinds = list(training.SOLUTIONS) + ["final"]
    return Ensemble(
        architecture=architecture, optimizer=optimizer, seeds=np.array(seeds)[kept],
        solutions={k: np.stack([runs[i].solutions[k] for i in kept]) for k in kinds},
        curves={s: np.stack([runs[i].curves[s] for i in kept]) for s in runs[0].curves},
        best_epoch={k: np.array([runs[i].best_epoch[k] for i in kept]) for k in training.SOLUTIONS},
        train_loss=all_train[kept], all_train_loss=all_train,
        seconds=np.array([runs[i].seconds for i in kept]),
        evaluations=[runs[i].evaluations for i in kept], dataset=dataset,
    )


def compare_means(a, b) -> dict:
    """Means, standard errors and the difference in units of its standard error, for two samples.

    Returns ``{"mean_a", "se_a", "mean_b", "se_b", "z"}`` with ``z = (mean_a - mean_b) /
    sqrt(se_a^2 + se_b^2)`` (NaN when both standard errors are 0). Each sample needs at least two values.

    Parameters
    ----------
    a : array_like of float, shape (n,)
        The first sample, at least two values.
    b : array_like of float, shape (k,)
        The second sample, at least two values.

    Returns
    -------
    dict
        ``{"mean_a", "se_a", "mean_b", "se_b", "z"}``, floats.

    Raises
    ------
    TypeError
        If ``a`` or ``b`` is not real numbers.
    ValueError
        If ``a`` or ``b`` is a scalar, holds a non-finite value or has fewer than two values.
    """
    (mean_a, se_a), (mean_b, se_b) = mean_and_se(a, name="a"), mean_and_se(b, name="b")
    scale = np.hypot(se_a, se_b)
    z = (mean_a - mean_b) / scale if scale > 0 else np.nan
    return {"mean_a": float(mean_a), "se_a": float(se_a), "mean_b": float(mean_b), "se_b": float(se_b),
            "z": float(z)}


def book_ensembles(architectures=None, *, progress: bool | None = None) -> dict:
    """The ensembles chapters 9, 11 and 12 share: ``{(architecture, optimizer): Ensemble}``.

    Every architecture of ``architectures`` (default ``ebcore.nets.ARCHITECTURES``) with each of
    ``OPTIMIZERS``, trained by :func:`train_ensemble` from the first seed
    ``ebcore.book_seed("ensembles")``, so that the chapters load the same runs from the results cache.
    """
    from .seeding import book_seed

    architectures = nets.ARCHITECTURES if architectures is None else tuple(architectures)
    for arch in architectures:
        check_choice(arch, "architectures", nets.ARCHITECTURES)
    first = book_seed("ensembles")
    return {(arch, opt): train_ensemble(arch, opt, first_seed=first, progress=progress)
            for arch in architectures for opt in OPTIMIZERS}
