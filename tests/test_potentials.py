"""Reference potentials with known saddles (chapter 10)."""
import numpy as np
import pytest

from ebcore import potentials


def test_reference_saddle_is_exact(double_well):
    # V = (x^2 - 1)^2 + 2 (y - (1 - x^2))^2 has its saddle at (0, 1), height 1, exactly
    np.testing.assert_allclose(double_well.saddles[0].point, [0.0, 1.0], atol=1e-12)
    assert double_well.barrier == pytest.approx(1.0, abs=1e-14)
    assert double_well.saddles[0].is_saddle


def test_stationary_point_errors():
    with pytest.raises(ValueError, match="guess"):
        potentials.stationary_point(potentials.muller_brown, [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="name"):
        potentials.reference_landscape("rosenbrock")
