"""Seeding, corruption, validation, statistics, scale switch, style and the in-context helpers."""
import numpy as np
import pytest
import torch

import ebcore
from ebcore import incontext, priors, stats, validation


def test_seed_everything_makes_runs_repeat():
    first = ebcore.seed_everything(3)
    a = (first.standard_normal(3), np.random.rand(2), torch.rand(2))
    second = ebcore.seed_everything(3)
    b = (second.standard_normal(3), np.random.rand(2), torch.rand(2))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    with pytest.raises(ValueError, match="seed"):
        ebcore.seed_everything(-1)
    with pytest.raises(TypeError, match="rng"):
        ebcore.as_generator(1.5)


def test_corrupt_is_seeded_and_type_preserving():
    x = np.zeros((4, 3))
    y1, y2 = ebcore.corrupt(x, 0.5, 7), ebcore.corrupt(x, 0.5, 7)
    np.testing.assert_array_equal(y1, y2)
    yt = ebcore.corrupt(torch.zeros(4, 3, dtype=torch.float64), 0.5, 7)
    assert isinstance(yt, torch.Tensor)
    np.testing.assert_array_equal(yt.numpy(), y1)
    assert abs(ebcore.corrupt(np.zeros(200_000), 2.0, 0).std() - 2.0) < 0.02
    with pytest.raises(ValueError, match="sigma"):
        ebcore.corrupt(x, -1.0, 0)
    with pytest.raises(TypeError, match="x must be"):
        ebcore.corrupt([0.0], 1.0, 0)


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


def test_power_law_fit_recovers_a_known_slope():
    x = np.geomspace(10, 1000, 8)
    rng = np.random.default_rng(0)
    y = 3.0 * x**-0.75 * np.exp(0.01 * rng.standard_normal(8))
    fit = stats.fit_power_law(x, y, 0.01 * y)
    assert fit.slope_low < -0.75 < fit.slope_high and fit.slope_high - fit.slope_low < 0.05
    with pytest.raises(ValueError, match="positive"):
        stats.fit_power_law(x, -y)
    with pytest.raises(ValueError, match="samples"):
        stats.mean_and_se(np.ones(1))


def test_scale_switch(monkeypatch):
    monkeypatch.delenv("EBCORE_SCALE", raising=False)
    assert ebcore.at_scale(1, 2) == 1
    monkeypatch.setenv("EBCORE_SCALE", "paper")
    assert ebcore.at_scale(1, 2) == 2
    monkeypatch.setenv("EBCORE_SCALE", "huge")
    with pytest.raises(ValueError, match="EBCORE_SCALE"):
        ebcore.current_scale()


def test_book_style_sets_the_palette():
    import matplotlib as mpl
    ebcore.use_book_style()
    colours = [mpl.colors.to_hex(c) for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"]]
    assert colours[:3] == [c.lower() for c in ebcore.PALETTE[:3]]


def test_glue_refuses_bad_values():
    with pytest.raises(ValueError, match="finite"):
        ebcore.glue("x", float("nan"))
    with pytest.raises(ValueError, match="name"):
        ebcore.glue("", 1.0)


def test_linear_read_out_exact_risk_small_case():
    # Monte Carlo check of the exact formula at a small size (the chapter checks it at the paper's)
    prior = priors.Subspace(6, 2, 1.0, 0)
    curve = incontext.excess_mse_curve(prior, 0.5, "linear", [5, 40], 400, 32, 1)
    exact = [incontext.linear_attention_excess(1.0, 0.5, 2, size) for size in (5, 40)]
    assert np.all(np.abs(curve.mean - exact) < 5 * curve.se)


def test_incontext_input_checks():
    prior = priors.Sphere(4, 2, 1.0, 0)
    with pytest.raises(ValueError, match="estimator"):
        incontext.excess_mse_curve(prior, 0.5, "cubic", [5], 4, 4, 0)
    with pytest.raises(ValueError, match="linear read-out"):
        incontext.excess_mse_curve(prior, 0.5, "linear", [5], 4, 4, 0)
    with pytest.raises(ValueError, match="context_sizes"):
        incontext.excess_mse_curve(prior, 0.5, "rbf", [0], 4, 4, 0)
    with pytest.raises(ValueError, match="n_contexts"):
        incontext.excess_mse_curve(prior, 0.5, "rbf", [5], 1, 4, 0)
    with pytest.raises(ValueError, match="rank"):
        incontext.softmax_excess_floor(1.0, 1.0, 0)


def test_extrapolation_recovers_a_line_and_checks_input():
    x = np.array([1 / 256, 1 / 512, 1 / 1024, 1 / 2048])
    fit = stats.extrapolate_to_zero(x, 0.5 + 3.0 * x, np.full(4, 1e-3))
    assert fit.intercept == pytest.approx(0.5, abs=1e-12) and fit.slope == pytest.approx(3.0, abs=1e-9)
    with pytest.raises(ValueError, match="y_se"):
        stats.extrapolate_to_zero(x, x, np.zeros(4))
    with pytest.raises(ValueError, match="y must have shape"):
        stats.extrapolate_to_zero(x, x[:3], np.ones(4))


def test_predecessor_tasks_and_their_checks():
    for name in incontext.TASKS:
        prior, sigma = incontext.predecessor_task(name, 0)
        assert prior.dim == 16 and sigma > 0
    with pytest.raises(ValueError, match="name"):
        incontext.predecessor_task("cube", 0)
    with pytest.raises(ValueError, match="n must be >= 9"):
        incontext.predecessor_task("sphere", 0, n=4)


@pytest.mark.parametrize("call, error, match", [
    (lambda: incontext.softmax_gaussian_limit(0.0, 1.0), ValueError, "prior_variance"),
    (lambda: incontext.linear_attention_excess(1.0, 1.0, 2, 0), ValueError, "context_size"),
    (lambda: incontext.in_context_estimate("linear", np.zeros((1, 2, 3)), np.zeros((1, 4, 3)), 1.0),
     ValueError, "prior_variance is required"),
    (lambda: incontext.in_context_estimate("rbf", np.zeros((1, 2, 3)), np.zeros((1, 4, 3)), -1.0),
     ValueError, "sigma"),
    (lambda: ebcore.finite_difference_gradient(np.sum, np.zeros(3)), ValueError, "y must have 2 dimensions"),
    (lambda: ebcore.finite_difference_gradient(np.sum, np.zeros((2, 3)), step=0.0), ValueError, "step"),
    (lambda: priors.monte_carlo_posterior_mean(priors.Sphere(3, 1, 1.0, 0), np.zeros((2, 3)), 1.0, 1, 0),
     ValueError, "n_samples"),
    (lambda: ebcore.dynamics.euler_error_against_ode(np.zeros((3, 2)), 0.5, [0.0], 0.1), ValueError, "steps"),
    (lambda: ebcore.dynamics.euler_error_against_ode(np.zeros((3, 2)), 0.5, [0.3], 0.1), ValueError,
     "whole number of layers"),
    (lambda: ebcore.dynamics.two_stage_sweep(np.zeros((3, 2)), 0.5, 0.5, 2, 0.0), ValueError, "query_bandwidth"),
    (lambda: ebcore.dynamics.stage_one_velocity(np.zeros((3, 2)), -1.0), ValueError, "bandwidth"),
])
def test_more_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
