"""Numerical helpers: the finite-difference gradient."""
import numpy as np
import pytest

import ebcore


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.finite_difference_gradient(np.sum, np.zeros(3)), ValueError, "y must have 2 dimensions"),
    (lambda: ebcore.finite_difference_gradient(np.sum, np.zeros((2, 3)), step=0.0), ValueError, "step"),
])
def test_more_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
