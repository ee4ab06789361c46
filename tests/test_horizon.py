"""The Gaussian horizon: exact steps, the layer recursion, the variance ODE (chapters 5 and 7)."""
import numpy as np
import pytest

from ebcore import horizon, priors, recovery


def test_exact_step_returns_the_prior():
    for sigma, h, depth in ((0.5, 0.5, 1), (1.0, 0.3, 25), (2.0, 1.5, 3)):
        step = horizon.exact_step(sigma, h, 0.7, depth)
        assert 0 < step <= 1
        assert horizon.gaussian_variance_layers(0.7 + sigma**2, h, step, depth)[-1] == pytest.approx(0.7, abs=1e-12)
    # a large-context Gaussian run at the exact step is close to Bayes (population theorem + finite N)
    prior = priors.Gaussian(np.zeros(2), np.eye(2))
    depth, step = recovery.recovery_settings(1.0, 1.0, 1.0)
    excess = recovery.two_stage_excess(prior, 1.0, 2048, 1.0, step, depth, 2, 0)
    assert excess.mean() < 0.02  # the measured 1/N curve of chapter 7 gives about 0.004 here
    with pytest.raises(ValueError, match="too few"):
        horizon.exact_step(3.0, 0.1, 1.0, 1)


def test_bad_input_names_the_argument():
    """Every public function added for chapters 7, 8, 12 and 13 rejects bad input with the argument's name."""
    cases = [
        (ValueError, "sigma", lambda: horizon.exact_step(-1.0, 1.0, 1.0, 2)),
        (ValueError, "depth", lambda: horizon.exact_step(1.0, 1.0, 1.0, 0)),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()
