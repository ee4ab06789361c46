"""Recovery (chapter 7): bandwidth schedules and input checks."""
import numpy as np
import pytest

import ebcore
from ebcore import priors, recovery


def test_schedule_bandwidth():
    assert recovery.schedule_bandwidth("fixed", 4096, 0.5, 2) == 0.5
    assert recovery.schedule_bandwidth("shrinking", 64 * 2**6, 0.5, 2) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="schedule"):
        recovery.schedule_bandwidth("linear", 64, 1.0, 2)


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.recovery.recovery_curve(priors.Gaussian(np.zeros(1), np.eye(1)), 1.0, [8, 16],
                                            schedule=ebcore.recovery.SCHEDULES[0], bandwidth=1.0,
                                            prior_variance=1.0, seed=0.7, cache_as="g"), TypeError, "seed"),
])
def test_inputs_that_used_to_reach_raw_exceptions_or_a_wrong_cache_entry(call, error, match):
    # each of these raised an AttributeError/KeyError/IndexError/RuntimeError from deep inside, or
    # (the cached functions) converted 2.9 to 2 or 0.7 to 0 and served another entry from a warm cache
    with pytest.raises(error, match=match):
        call()


def test_bad_input_names_the_argument():
    """Every public function added for chapters 7, 8, 12 and 13 rejects bad input with the argument's name."""
    prior = priors.Gaussian(np.zeros(2), np.eye(2))
    cases = [
        (ValueError, "nominal_step", lambda: recovery.recovery_settings(1.0, 1.0, 1.0, nominal_step=0.0)),
        (TypeError, "prior", lambda: recovery.two_stage_excess("gaussian", 1.0, 8, 1.0, 0.5, 1, 2, 0)),
        (ValueError, "context_size", lambda: recovery.two_stage_excess(prior, 1.0, 0, 1.0, 0.5, 1, 2, 0)),
        (ValueError, "context_sizes", lambda: recovery.recovery_curve(prior, 1.0, [64], schedule="fixed",
                                                                      bandwidth=1.0, prior_variance=1.0)),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()
