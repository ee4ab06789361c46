"""Kernel PCA of solutions and the two-cloud spectra (chapter 12)."""
import pytest

from ebcore import landscape


def test_bad_input_names_the_argument():
    """Every public function added for chapters 7, 8, 12 and 13 rejects bad input with the argument's name."""
    cases = [
        (ValueError, "delta_sq", lambda: landscape.two_cloud_critical_size(1.0, 1.0, float("inf"))),
        (ValueError, "gamma", lambda: landscape.two_cloud_spectrum(1.0, 1.0, 0.0, 3, gamma=-1.0)),
        (ValueError, "rho_a", lambda: landscape.two_cloud_points(2, 9, -1.0, 1.0, 0.0, 0)),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()
