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


def test_gaussian_quadrature_moments_are_exact():
    """The tensor rule integrates polynomials of degree below 2K per coordinate exactly: mean, variance, the fourth
    moment 3 v^2 and a mixed moment, in the plane; weights positive and summing to 1."""
    from ebcore import numerics

    mean, variance = np.array([0.7, -1.2]), 1.7
    points, weights = numerics.gaussian_quadrature(mean, variance, 6)
    assert points.shape == (36, 2) and (weights > 0).all()
    assert weights.sum() == pytest.approx(1.0, abs=1e-15)
    centred = points - mean
    np.testing.assert_allclose(weights @ points, mean, atol=1e-14)
    np.testing.assert_allclose(weights @ centred**2, [variance] * 2, rtol=1e-13)
    assert weights @ centred[:, 0] ** 4 == pytest.approx(3 * variance**2, rel=1e-13)
    assert weights @ (centred[:, 0] ** 2 * centred[:, 1] ** 2) == pytest.approx(variance**2, rel=1e-13)
    # degree 2K = 12 is not integrated exactly: the rule's error is real (E x^12 = 10395 v^6)
    assert abs(weights @ centred[:, 0] ** 12 / (10395 * variance**6) - 1) > 1e-3
    with pytest.raises(ValueError, match="nodes"):
        numerics.gaussian_quadrature(np.zeros(5), 1.0, 30)
