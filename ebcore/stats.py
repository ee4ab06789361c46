"""Statistics for the book's checks: means with standard errors and power-law fits."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats as _st

from .registry import implements
from .validation import as_float_array, check_array, check_fraction, check_int

__all__ = ["mean_and_se", "t_interval", "welch_interval", "interval_sign", "claim_verdict", "two_sample_bootstrap", "PowerLawFit", "fit_power_law", "Extrapolation", "extrapolate_to_zero", "bootstrap_median_ci"]


def mean_and_se(samples, axis=0, *, name: str = "samples"):
    """Sample mean and its standard error (``std(ddof=1) / sqrt(n)``) along ``axis``.

    The one implementation of the book's error bars; ``name`` is the argument's name in error
    messages (for callers that pass their own argument through).

    Parameters
    ----------
    samples : array_like of float
        The samples (a list, a tuple, a numpy array or a tensor of real numbers), at least 1-D.
    axis : int
        The axis along which the samples are taken; it needs at least 2 entries.
    name : str
        The name of ``samples`` in error messages.

    Returns
    -------
    mean : numpy.ndarray or float
        The sample mean, ``samples`` with ``axis`` removed.
    se : numpy.ndarray or float
        Its standard error, of the same shape.

    Raises
    ------
    TypeError
        If ``samples`` is not real numbers (a string, ``None``, objects numpy cannot read).
    ValueError
        If ``samples`` is a scalar, empty or holds a non-finite value, if ``axis`` is not an integer
        in ``[-ndim, ndim)``, or if fewer than 2 samples lie along ``axis``.
    """
    samples = as_float_array(samples, name)
    check_array(samples, name)
    if samples.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension, got a scalar")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -samples.ndim <= axis < samples.ndim:
        raise ValueError(f"axis must be an integer in [-{samples.ndim}, {samples.ndim}), got {axis!r}")
    n = samples.shape[axis]
    if n < 2:
        raise ValueError(f"{name} needs at least 2 entries along axis {axis}, got {n}")
    return samples.mean(axis=axis), samples.std(axis=axis, ddof=1) / np.sqrt(n)


def t_interval(samples, level: float = 0.95, *, name: str = "samples") -> tuple[float, float, float]:
    """The mean of 1-D ``samples`` and its Student-t confidence interval, ``(mean, low, high)``.

    ``mean -+ t_{(1 + level) / 2, n - 1} * se`` with ``se`` from :func:`mean_and_se`: exact coverage for
    independent normal samples, approximate otherwise (the chapters apply it to paired differences and
    to log ratios, whose distributions are closer to normal than the raw values).

    Parameters
    ----------
    samples : array_like of float, shape (n,)
        At least two finite values.
    level : float in (0, 1)
        The confidence level.
    name : str
        The name of ``samples`` in error messages.

    Returns
    -------
    tuple of float
        ``(mean, low, high)``.

    Raises
    ------
    TypeError
        If ``samples`` is not real numbers or ``level`` is not a real number.
    ValueError
        If ``samples`` is not 1-D, has fewer than two values or a non-finite one, or ``level`` is not in
        ``(0, 1)``.
    """
    values = as_float_array(samples, name)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {values.shape}")
    level = check_fraction(level, "level")
    mean, se = mean_and_se(values, name=name)
    half = float(_st.t.ppf(0.5 + level / 2, values.size - 1)) * float(se)
    return float(mean), float(mean) - half, float(mean) + half


def welch_interval(first, second, level: float = 0.95) -> tuple[float, float, float, float]:
    """The difference of the means of two independent samples with Welch's confidence interval.

    ``mean(first) - mean(second) -+ t_{(1 + level)/2, nu} * sqrt(s1^2/n1 + s2^2/n2)``, with the
    Welch-Satterthwaite degrees of freedom ``nu``: approximately exact for independent normal samples
    whose variances may differ (Welch 1947); the chapters apply it to logarithms of positive measurements.

    Parameters
    ----------
    first, second : array_like of float, shape (n1,) and (n2,)
        At least two finite values each.
    level : float in (0, 1)
        The confidence level.

    Returns
    -------
    tuple of float
        ``(difference, low, high, degrees_of_freedom)``.

    Raises
    ------
    TypeError
        If a sample is not real numbers or ``level`` is not a real number.
    ValueError
        If a sample is not 1-D, has fewer than two values or a non-finite one, both samples have zero
        variance, or ``level`` is not in ``(0, 1)``.
    """
    level = check_fraction(level, "level")
    parts = []
    for values, name in ((first, "first"), (second, "second")):
        values = as_float_array(values, name)
        if values.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {values.shape}")
        mean, se = mean_and_se(values, name=name)
        parts.append((float(mean), float(se) ** 2, values.size))
    (m1, v1, n1), (m2, v2, n2) = parts
    if v1 + v2 == 0:
        raise ValueError("first and second both have zero variance: no interval")
    dof = (v1 + v2) ** 2 / (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1))
    half = float(_st.t.ppf(0.5 + level / 2, dof)) * float(np.sqrt(v1 + v2))
    return m1 - m2, m1 - m2 - half, m1 - m2 + half, float(dof)


def interval_sign(low, high) -> int:
    """Which side of 0 a confidence interval ``[low, high]`` decides: +1 above, -1 below, 0 if it covers 0.

    The one rule behind the chapters' verdicts ("L-BFGS larger", "same direction as the paper",
    "undecided", ...), which map the sign to their own words.

    Raises
    ------
    TypeError
        If ``low`` or ``high`` is not a real number.
    ValueError
        If either is not finite or ``low > high``.
    """
    from .validation import check_finite_scalar

    low, high = check_finite_scalar(low, "low"), check_finite_scalar(high, "high")
    if low > high:
        raise ValueError(f"low must not exceed high, got {low!r} > {high!r}")
    return 1 if low > 0 else (-1 if high < 0 else 0)


#: The words of :func:`claim_verdict`.
VERDICTS = ("reproduced", "not reproduced", "opposite")


def claim_verdict(low, high, claimed_sign: int) -> str:
    """A claim's verdict from the confidence interval ``[low, high]`` of its effect.

    ``claimed_sign`` is the sign the claim gives the effect (+1 or -1). "reproduced" when the
    interval lies on the claimed side of 0, "opposite" when it lies on the other side, "not
    reproduced" when it covers 0 (the data do not decide the sign). By :func:`interval_sign`.

    Raises
    ------
    TypeError
        If ``low`` or ``high`` is not a real number, or ``claimed_sign`` is not an integer.
    ValueError
        If ``low`` or ``high`` is not finite, ``low > high``, or ``claimed_sign`` is not +1 or -1.
    """
    claimed_sign = check_int(claimed_sign, "claimed_sign")
    if claimed_sign not in (1, -1):
        raise ValueError(f"claimed_sign must be +1 or -1, got {claimed_sign}")
    side = interval_sign(low, high)
    return VERDICTS[1] if side == 0 else (VERDICTS[0] if side == claimed_sign else VERDICTS[2])


def two_sample_bootstrap(first, second, statistic, level: float = 0.95, n_resamples: int = 2000, seed=0):
    """``statistic(first, second)`` with a percentile bootstrap interval, resampling each sample apart.

    Each resample draws the rows of ``first`` and of ``second`` with replacement, each sample within
    itself, and recomputes the statistic; the interval is the ``(1 - level)/2`` and ``(1 + level)/2``
    quantiles of the resampled values (Efron and Tibshirani 1993). Use it for a statistic of two
    independent samples that is not a difference of per-row means, for example a distance to a centre
    both samples estimate.

    Parameters
    ----------
    first, second : numpy.ndarray, shape (n1, ...) and (n2, ...)
        The two samples, one observation per row, at least two rows each, finite.
    statistic : callable
        ``statistic(first_rows, second_rows)`` -> a real number.
    level : float in (0, 1)
        The confidence level.
    n_resamples : int >= 1
        Bootstrap resamples.
    seed : int or numpy.random.Generator
        Source of the resampling.

    Returns
    -------
    tuple of float
        ``(estimate, low, high)``: the statistic on the samples and the interval's ends.

    Raises
    ------
    TypeError
        If a sample is not a floating-point array, ``statistic`` is not callable, ``level`` is not a
        real number, ``n_resamples`` is not an integer or ``seed`` is neither an integer nor a Generator.
    ValueError
        If a sample has fewer than two rows or a non-finite value, ``level`` is not in ``(0, 1)``,
        ``n_resamples < 1``, ``seed`` is negative, or the statistic is not a finite real number.
    """
    from .seeding import as_generator
    from .validation import check_finite_scalar

    a = np.asarray(check_array(first, "first"), dtype=np.float64)
    b = np.asarray(check_array(second, "second"), dtype=np.float64)
    for values, name in ((a, "first"), (b, "second")):
        if values.ndim < 1 or values.shape[0] < 2:
            raise ValueError(f"{name} must have at least two rows, got shape {values.shape}")
    if not callable(statistic):
        raise TypeError(f"statistic must be callable, got {type(statistic).__name__}")
    level = check_fraction(level, "level")
    n_resamples = check_int(n_resamples, "n_resamples", minimum=1)
    rng = as_generator(seed, "seed")
    estimate = check_finite_scalar(statistic(a, b), "statistic(first, second)")
    values = np.empty(n_resamples)
    for k in range(n_resamples):
        rows_a = rng.integers(0, a.shape[0], size=a.shape[0])
        rows_b = rng.integers(0, b.shape[0], size=b.shape[0])
        values[k] = check_finite_scalar(statistic(a[rows_a], b[rows_b]), "statistic on a resample")
    alpha = (1 - level) / 2
    return float(estimate), float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


class PowerLawFit(NamedTuple):
    """``y ~ prefactor * x**slope`` with a confidence interval for the slope."""

    slope: float
    slope_low: float
    slope_high: float
    prefactor: float


@implements("conj-recovery")
def fit_power_law(x, y, y_se=None, level: float = 0.95) -> PowerLawFit:
    """Fit ``log y = a + slope log x`` by weighted least squares.

    Weights are ``(y / y_se)^2`` (delta method: the standard error of ``log y`` is
    ``y_se / y``); the interval uses Student's t with ``len(x) - 2`` degrees of freedom and the
    residual scatter, so it is honest when the error bars are too small as well as too large.

    Parameters
    ----------
    x : array_like of float, shape (K,)
        The abscissae, positive, at least 3 of them.
    y : array_like of float, shape (K,)
        The values, positive.
    y_se : array_like of float, shape (K,), optional
        Standard errors of ``y``, positive (equal weights if omitted).
    level : float, 0 < level < 1
        The confidence level of the slope's interval.

    Returns
    -------
    PowerLawFit
        ``(slope, slope_low, slope_high, prefactor)``: ``y ~ prefactor * x**slope`` and the
        interval ``[slope_low, slope_high]``.

    Raises
    ------
    TypeError
        If ``x``, ``y`` or ``y_se`` is not real numbers, or ``level`` is not a real number.
    ValueError
        If ``x`` is not 1-D, ``y`` or ``y_se`` does not have its shape, an array is empty or holds a
        non-finite value, there are fewer than 3 points, ``level`` is outside ``(0, 1)``, or a value
        of ``x``, ``y`` or ``y_se`` is not positive.
    """
    x = as_float_array(x, "x")
    y = as_float_array(y, "y")
    check_array(x, "x", ndim=1)
    check_array(y, "y", shape=(x.shape[0],))
    if x.shape[0] < 3:
        raise ValueError("x needs at least 3 points for a slope with an interval")
    level = check_fraction(level, "level")
    if (x <= 0).any() or (y <= 0).any():
        raise ValueError("x and y must be positive for a power-law fit")
    if y_se is None:
        w = np.ones_like(y)
    else:
        y_se = as_float_array(y_se, "y_se")
        check_array(y_se, "y_se", shape=(x.shape[0],))
        if (y_se <= 0).any():
            raise ValueError("y_se must be positive")
        w = (y / y_se) ** 2
    lx, ly = np.log(x), np.log(y)
    design = np.stack([np.ones_like(lx), lx], axis=1)
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(design * sw[:, None], ly * sw, rcond=None)
    resid = (ly - design @ coef) * sw
    dof = len(x) - 2
    sigma2 = float(resid @ resid) / dof
    cov = sigma2 * np.linalg.inv((design * w[:, None]).T @ design)
    half = _st.t.ppf(0.5 + level / 2, dof) * np.sqrt(cov[1, 1])
    return PowerLawFit(float(coef[1]), float(coef[1] - half), float(coef[1] + half), float(np.exp(coef[0])))


class Extrapolation(NamedTuple):
    """Weighted straight-line fit ``y = intercept + slope * x`` with standard errors."""

    intercept: float
    intercept_se: float
    slope: float
    slope_se: float


@implements("prop-depth-zero-bias", "conj-recovery")
def extrapolate_to_zero(x, y, y_se) -> Extrapolation:
    """Weighted least squares of ``y`` on ``x`` (weights ``1/y_se^2``), for limits such as ``N -> inf``
    in the variable ``x = 1/N``. Standard errors come from ``y_se`` (assumed correct and independent).

    Parameters
    ----------
    x : array_like of float, shape (K,)
        The abscissae (e.g. ``1/N``), at least 2 of them.
    y : array_like of float, shape (K,)
        The values.
    y_se : array_like of float, shape (K,)
        Standard errors of ``y``, positive.

    Returns
    -------
    Extrapolation
        ``(intercept, intercept_se, slope, slope_se)`` of ``y = intercept + slope * x``; the
        intercept is the limit at ``x = 0``.

    Raises
    ------
    TypeError
        If ``x``, ``y`` or ``y_se`` is not real numbers.
    ValueError
        If ``x`` is not 1-D, ``y`` or ``y_se`` does not have its shape, an array is empty or holds a
        non-finite value, there are fewer than 2 points, or a value of ``y_se`` is not positive.
    """
    x = as_float_array(x, "x")
    y = as_float_array(y, "y")
    y_se = as_float_array(y_se, "y_se")
    check_array(x, "x", ndim=1)
    check_array(y, "y", shape=(x.shape[0],))
    check_array(y_se, "y_se", shape=(x.shape[0],))
    if x.shape[0] < 2 or (y_se <= 0).any():
        raise ValueError("need at least 2 points and positive y_se")
    w = 1.0 / y_se**2
    design = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv((design * w[:, None]).T @ design)
    coef = cov @ (design * w[:, None]).T @ y
    return Extrapolation(float(coef[0]), float(np.sqrt(cov[0, 0])), float(coef[1]), float(np.sqrt(cov[1, 1])))


def bootstrap_median_ci(samples, level: float = 0.95, n_resamples: int = 2000, seed: int = 0):
    """The median of ``samples`` and a percentile bootstrap interval ``(low, high)`` at ``level``.

    With fewer than about 10 samples the interval is wide and its coverage is poor (the bootstrap
    distribution of a median takes only a handful of values); callers should say so.

    Parameters
    ----------
    samples : array_like of float, shape (K,)
        The samples (real numbers, 1-D).
    level : float, 0 < level < 1
        The confidence level of the interval.
    n_resamples : int >= 1
        Bootstrap resamples.
    seed : int or numpy.random.Generator
        Source of the resampling (a non-negative integer seed, or a generator).

    Returns
    -------
    median : float
        The sample median.
    low, high : float
        The ends of the percentile interval.

    Raises
    ------
    TypeError
        If ``samples`` is not real numbers, ``level`` is not a real number, ``n_resamples`` is not an
        integer, or ``seed`` is neither an integer nor a numpy Generator.
    ValueError
        If ``samples`` is not 1-D, is empty or holds a non-finite value, ``level`` is outside
        ``(0, 1)``, ``n_resamples < 1``, or ``seed`` is negative.
    """
    from .seeding import as_generator

    x = check_array(as_float_array(samples, "samples"), "samples", ndim=1)
    level = check_fraction(level, "level")
    n_resamples = check_int(n_resamples, "n_resamples", minimum=1)
    rng = as_generator(seed)
    medians = np.median(x[rng.integers(0, x.size, size=(int(n_resamples), x.size))], axis=1)
    alpha = (1 - level) / 2
    return float(np.median(x)), float(np.quantile(medians, alpha)), float(np.quantile(medians, 1 - alpha))
