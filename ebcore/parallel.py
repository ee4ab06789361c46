"""One parallel map for the whole library: independent jobs (training runs, path optimisations) in
worker processes, in order, with a progress bar.

Every caller's jobs are seeded by the job itself, so the results do not depend on the number of
workers: one worker runs the jobs in this process, several run them in joblib processes, each with
one torch thread (the processes, not BLAS threads, share the cores; a thread count changes the
order of floating-point sums, a process count does not change anything).
"""
from __future__ import annotations

import os
from typing import Callable, Iterable

import torch

from .progress import progress_bar
from .validation import check_int

__all__ = ["parallel_map", "default_workers"]


def default_workers(n_items: int) -> int:
    """One worker per core, at most one per item (and at least one)."""
    return max(1, min(os.cpu_count() or 1, check_int(n_items, "n_items", minimum=0)))


def _with_one_thread(function: Callable, item):
    torch.set_num_threads(1)
    return function(item)


def parallel_map(function: Callable, items: Iterable, *, n_jobs: int | None = None, backend: str | None = None,
                 desc: str | None = None, progress: bool | None = None) -> list:
    """``[function(item) for item in items]``, in order, on ``n_jobs`` workers.

    Parameters
    ----------
    function : callable
        A picklable function of one item (a module-level function or a ``functools.partial``
        of one) when ``n_jobs > 1``.
    items : iterable
        The jobs' inputs.
    n_jobs : int, optional
        Worker processes; default :func:`default_workers`. With ``1`` (and no ``backend``) the
        jobs run here, with this process's thread count.
    backend : str, optional
        A :class:`joblib.Parallel` backend (e.g. ``"loky"``, or a registered Dask backend).
    desc, progress
        The progress bar's label and switch (see :func:`ebcore.progress.progress_bar`).

    Returns
    -------
    list
        The results, in the order of ``items``.
    """
    if not callable(function):
        raise TypeError(f"function must be callable, got {type(function).__name__}")
    items = list(items)
    n_jobs = default_workers(len(items)) if n_jobs is None else check_int(n_jobs, "n_jobs", minimum=1)
    if backend is not None and not isinstance(backend, str):
        raise TypeError(f"backend must be a joblib backend name or None, got {type(backend).__name__}")
    if n_jobs == 1 and backend is None:
        return [function(item) for item in progress_bar(items, desc=desc, progress=progress)]
    from joblib import Parallel, delayed, parallel_config

    # parallel_config, not Parallel(backend=...), is what registers joblib's external backends
    # ("dask" needs a distributed.Client; "ray" needs ray.util.joblib.register_ray())
    with parallel_config(backend=backend or "loky", n_jobs=n_jobs):
        parallel = Parallel(return_as="generator")
        jobs = (delayed(_with_one_thread)(function, item) for item in items)
        return list(progress_bar(parallel(jobs), total=len(items), desc=desc, progress=progress))
