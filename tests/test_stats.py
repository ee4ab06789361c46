"""Statistics helpers: power-law fits, extrapolation to zero, means and standard errors."""
import numpy as np
import pytest

from ebcore import stats


def test_power_law_fit_recovers_a_known_slope():
    x = np.geomspace(10, 1000, 8)
    rng = np.random.default_rng(0)
    y = 3.0 * x**-0.75 * np.exp(0.01 * rng.standard_normal(8))
    fit = stats.fit_power_law(x, y, 0.01 * y)
    assert fit.slope_low < -0.75 < fit.slope_high and fit.slope_high - fit.slope_low < 0.05
    with pytest.raises(ValueError, match="positive"):
        stats.fit_power_law(x, -y)
    with pytest.raises(ValueError, match="samples"):
        stats.mean_and_se(np.ones(1))


def test_extrapolation_recovers_a_line_and_checks_input():
    x = np.array([1 / 256, 1 / 512, 1 / 1024, 1 / 2048])
    fit = stats.extrapolate_to_zero(x, 0.5 + 3.0 * x, np.full(4, 1e-3))
    assert fit.intercept == pytest.approx(0.5, abs=1e-12) and fit.slope == pytest.approx(3.0, abs=1e-9)
    with pytest.raises(ValueError, match="y_se"):
        stats.extrapolate_to_zero(x, x, np.zeros(4))
    with pytest.raises(ValueError, match="y must have shape"):
        stats.extrapolate_to_zero(x, x[:3], np.ones(4))


@pytest.mark.parametrize("call, error, match", [
    (lambda: stats.mean_and_se(np.float64(1)), ValueError, "samples"),
    (lambda: stats.mean_and_se(np.ones(3), axis=2), ValueError, "axis"),
])
def test_inputs_that_used_to_reach_raw_exceptions_or_a_wrong_cache_entry(call, error, match):
    # each of these raised an AttributeError/KeyError/IndexError/RuntimeError from deep inside, or
    # (the cached functions) converted 2.9 to 2 or 0.7 to 0 and served another entry from a warm cache
    with pytest.raises(error, match=match):
        call()


def test_welch_interval_matches_scipy():
    from scipy import stats as scipy_stats

    from ebcore.stats import welch_interval

    gen = np.random.default_rng(8)
    first, second = gen.normal(1.0, 2.0, 5), gen.normal(0.0, 0.5, 9)
    difference, low, high, dof = welch_interval(first, second, 0.9)
    reference = scipy_stats.ttest_ind(first, second, equal_var=False)
    interval = reference.confidence_interval(0.9)
    assert difference == pytest.approx(first.mean() - second.mean(), rel=1e-12)
    assert (low, high) == pytest.approx((interval.low, interval.high), rel=1e-10)
    assert dof == pytest.approx(reference.df, rel=1e-10)
    with pytest.raises(ValueError, match="second"):
        welch_interval(first, [1.0])
    with pytest.raises(ValueError, match="zero variance"):
        welch_interval([1.0, 1.0], [2.0, 2.0])
    with pytest.raises(ValueError, match="level"):
        welch_interval(first, second, 1.5)


def test_interval_sign():
    from ebcore.stats import interval_sign

    assert interval_sign(0.1, 2.0) == 1 and interval_sign(-3.0, -0.5) == -1 and interval_sign(-1.0, 1.0) == 0
    assert interval_sign(0.0, 1.0) == 0  # an end at 0 does not exclude 0
    with pytest.raises(ValueError, match="low"):
        interval_sign(2.0, 1.0)
    with pytest.raises(ValueError, match="high"):
        interval_sign(0.0, float("nan"))


def test_claim_verdict_reads_the_interval_side():
    assert stats.claim_verdict(0.1, 2.0, +1) == "reproduced"
    assert stats.claim_verdict(-2.0, -0.1, +1) == "opposite"
    assert stats.claim_verdict(-2.0, -0.1, -1) == "reproduced"
    assert stats.claim_verdict(-0.1, 0.1, -1) == "not reproduced"
    with pytest.raises(ValueError, match="claimed_sign"):
        stats.claim_verdict(0.1, 2.0, 0)
    with pytest.raises(ValueError, match="low"):
        stats.claim_verdict(2.0, 0.1, 1)


def test_two_sample_bootstrap_covers_a_known_difference():
    """For a difference of means, the percentile interval's coverage is near its level (a test that could fail:
    200 replications; a 90 % interval covering less than 80 % or more than 98.5 % of the time fails it)."""
    rng = np.random.default_rng(11)
    covered = 0
    for k in range(200):
        a, b = rng.normal(1.0, 1.0, 40), rng.normal(0.0, 2.0, 40)
        estimate, low, high = stats.two_sample_bootstrap(a, b, lambda x, y: float(x.mean() - y.mean()), level=0.9,
                                                         n_resamples=400, seed=k)
        assert estimate == pytest.approx(a.mean() - b.mean()) and low < estimate < high
        covered += low <= 1.0 <= high
    # binomial(200, 0.9) has standard deviation 0.021: 0.985 is 4 of them above the level, 0.80 almost 5 below,
    # the extra room for the percentile interval's undercoverage at n = 40 (of order 1/n)
    assert 0.80 <= covered / 200 <= 0.985
    with pytest.raises(ValueError, match="first"):
        stats.two_sample_bootstrap(np.array([1.0]), np.array([1.0, 2.0]), lambda x, y: 0.0)
    with pytest.raises(TypeError, match="statistic"):
        stats.two_sample_bootstrap(np.array([1.0, 2.0]), np.array([1.0, 2.0]), None)
    with pytest.raises(ValueError, match="statistic"):
        stats.two_sample_bootstrap(np.array([1.0, 2.0]), np.array([1.0, 2.0]), lambda x, y: float("nan"))
