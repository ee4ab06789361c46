"""The spread of trained weights (chapter 9): per-solution statistics of the flat parameter vector."""
from __future__ import annotations

import numpy as np

from .validation import check_array

__all__ = ['WEIGHT_STATISTICS', 'weight_statistics']


#: The per-solution statistics :func:`weight_statistics` returns, in order.
WEIGHT_STATISTICS = ("std", "mean_abs", "max_abs", "norm")


def weight_statistics(solutions) -> dict:
    """Spread of each solution's weights: ``{name: (n_solutions,) array}``.

    ``solutions`` is ``(n_solutions, n_params)`` (e.g. ``Ensemble.solutions["train"]``). The
    statistics are the standard deviation of the entries, their mean and largest absolute value,
    and the Euclidean norm of the vector (the paper reports the spread: L-BFGS solutions have
    wider weight distributions than SGD's).

    Parameters
    ----------
    solutions : numpy.ndarray, shape (n_solutions, n_params)
        One flat parameter vector per row, floating point.

    Returns
    -------
    dict
        ``{name: numpy.ndarray of shape (n_solutions,)}`` for each name of
        :data:`WEIGHT_STATISTICS`.

    Raises
    ------
    TypeError
        If ``solutions`` is not a floating-point array or tensor.
    ValueError
        If ``solutions`` is not 2-D, is empty or holds a non-finite value.
    """
    solutions = check_array(solutions, "solutions", ndim=2)
    w = np.asarray(solutions, dtype=np.float64)
    return {"std": w.std(axis=1), "mean_abs": np.abs(w).mean(axis=1), "max_abs": np.abs(w).max(axis=1),
            "norm": np.linalg.norm(w, axis=1)}
