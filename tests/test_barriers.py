"""Barriers between pairs of solutions (chapter 11)."""
import numpy as np
import pytest

import ebcore


def test_bad_input_names_the_argument():
    """Every public function added for chapters 7, 8, 12 and 13 rejects bad input with the argument's name."""
    cases = [
        (ValueError, "n_jobs", lambda: ebcore.barriers.pair_barriers("fcp", np.zeros((2, 6200)), np.array([[0, 1]]),
                                                                    n_jobs=0)),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()
