"""The validation helpers: messages that name the argument, clean return values."""
import numpy as np
import pytest

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
