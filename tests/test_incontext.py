"""In-context estimation (chapters 2 and 8): excess-risk curves, predecessor tasks, input checks."""
import numpy as np
import pytest

import ebcore
from ebcore import incontext, priors


def test_linear_read_out_exact_risk_small_case():
    # Monte Carlo check of the exact formula at a small size (the chapter checks it at the paper's)
    prior = priors.Subspace(6, 2, 1.0, 0)
    curve = incontext.excess_mse_curve(prior, 0.5, "linear", [5, 40], 400, 32, 1)
    exact = [incontext.linear_attention_excess(1.0, 0.5, 2, size) for size in (5, 40)]
    assert np.all(np.abs(curve.mean - exact) < 5 * curve.se)


def test_incontext_input_checks():
    prior = priors.Sphere(4, 2, 1.0, 0)
    with pytest.raises(ValueError, match="estimator"):
        incontext.excess_mse_curve(prior, 0.5, "cubic", [5], 4, 4, 0)
    with pytest.raises(ValueError, match="linear read-out"):
        incontext.excess_mse_curve(prior, 0.5, "linear", [5], 4, 4, 0)
    with pytest.raises(ValueError, match="context_sizes"):
        incontext.excess_mse_curve(prior, 0.5, "rbf", [0], 4, 4, 0)
    with pytest.raises(ValueError, match="n_contexts"):
        incontext.excess_mse_curve(prior, 0.5, "rbf", [5], 1, 4, 0)
    with pytest.raises(ValueError, match="rank"):
        incontext.softmax_excess_floor(1.0, 1.0, 0)


def test_predecessor_tasks_and_their_checks():
    for name in incontext.TASKS:
        prior, sigma = incontext.predecessor_task(name, 0)
        assert prior.dim == 16 and sigma > 0
    with pytest.raises(ValueError, match="name"):
        incontext.predecessor_task("cube", 0)
    with pytest.raises(ValueError, match="n must be >= 9"):
        incontext.predecessor_task("sphere", 0, n=4)


@pytest.mark.parametrize("call, error, match", [
    (lambda: incontext.softmax_gaussian_limit(0.0, 1.0), ValueError, "prior_variance"),
    (lambda: incontext.linear_attention_excess(1.0, 1.0, 2, 0), ValueError, "context_size"),
    (lambda: incontext.in_context_estimate("linear", np.zeros((1, 2, 3)), np.zeros((1, 4, 3)), 1.0),
     ValueError, "prior_variance is required"),
    (lambda: incontext.in_context_estimate("rbf", np.zeros((1, 2, 3)), np.zeros((1, 4, 3)), -1.0),
     ValueError, "sigma"),
])
def test_more_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.incontext.predecessor_excess_curves([20, 40], 2.9, 4, 0), TypeError, "n_contexts"),
    (lambda: ebcore.incontext.predecessor_excess_curves([20, 40], 4, 4, 0.7), TypeError, "seed"),
    (lambda: ebcore.incontext.predecessor_excess_curves(["20", 40], 4, 4, 0), TypeError, "context_sizes"),
])
def test_inputs_that_used_to_reach_raw_exceptions_or_a_wrong_cache_entry(call, error, match):
    # each of these raised an AttributeError/KeyError/IndexError/RuntimeError from deep inside, or
    # (the cached functions) converted 2.9 to 2 or 0.7 to 0 and served another entry from a warm cache
    with pytest.raises(error, match=match):
        call()
