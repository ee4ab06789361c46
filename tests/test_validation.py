"""The validation helpers: messages that name the argument, clean return values."""
import numpy as np
import pytest

import ebcore
from ebcore import validation


def test_validation_messages_name_the_argument():
    with pytest.raises(ValueError, match="^depth must be >= 0"):
        validation.check_int(-1, "depth", minimum=0)
    with pytest.raises(TypeError, match="^depth must be an integer"):
        validation.check_int(2.0, "depth")
    with pytest.raises(TypeError, match="^flag must be an integer"):
        validation.check_int(True, "flag")
    with pytest.raises(ValueError, match="^step must be a finite number >= 0"):
        validation.check_nonnegative(-0.1, "step")
    with pytest.raises(ValueError, match="^kind must be one of"):
        validation.check_choice("c", "kind", ("a", "b"))
    with pytest.raises(ValueError, match="^x must have shape"):
        validation.check_array(np.zeros((2, 3)), "x", shape=(2, 4))


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.validation.check_scale(0.0, "bandwidth"), ValueError, "bandwidth"),
    (lambda: ebcore.validation.check_scale(float("nan"), "sigma"), ValueError, "sigma"),
    (lambda: ebcore.validation.check_scale("1", "sigma"), TypeError, "sigma"),
    (lambda: ebcore.validation.check_int_sequence("123", "sizes"), TypeError, "sizes"),
    (lambda: ebcore.validation.check_int_sequence([1, 2.0], "sizes"), TypeError, r"sizes\[1\]"),
    (lambda: ebcore.validation.check_int_sequence(np.ones((2, 2), int), "sizes"), ValueError, "sizes"),
    (lambda: ebcore.validation.check_int_sequence([], "sizes"), ValueError, "sizes"),
    (lambda: ebcore.validation.check_int_sequence([1], "sizes", minimum=2), ValueError, r"sizes\[0\]"),
    (lambda: ebcore.validation.check_seed(-1), ValueError, "seed"),
    (lambda: ebcore.validation.check_seed([0, 0.5]), TypeError, r"seed\[1\]"),
])
def test_validation_helpers_name_the_bad_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_validation_helpers_return_clean_values():
    assert ebcore.validation.check_scale(np.float32(0.5), "h") == 0.5
    assert ebcore.validation.check_int_sequence(np.array([2, 3]), "sizes") == [2, 3]
    assert ebcore.validation.check_seed([1, 2]) == [1, 2] and ebcore.validation.check_seed(3) == 3
