"""Denoising tasks: corruption and clean-context tasks, the prior families."""
import numpy as np
import pytest

from ebcore import models, priors


def test_bad_input_names_the_argument():
    """Every public function added for chapters 7, 8, 12 and 13 rejects bad input with the argument's name."""
    prior = priors.Gaussian(np.zeros(2), np.eye(2))
    cases = [
        (ValueError, "family", lambda: models.family_task("laplace")),
        (ValueError, "name", lambda: models.predecessor_family_task("torus")),
        (ValueError, "n_contexts", lambda: models.CorruptionTask(prior, 1.0, 8, n_contexts=(4, 2))),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()
