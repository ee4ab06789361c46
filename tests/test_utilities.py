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


@pytest.mark.parametrize("call, match", [
    (lambda: ebcore.posterior_mean(np.zeros((2, 3)), np.zeros((2, 3)), 1e300), "bandwidth"),
    (lambda: ebcore.posterior_mean(np.zeros((2, 3)), np.zeros((2, 3)), 1e-300), "bandwidth"),
    (lambda: ebcore.flow_depth(0.5, 1e-300, 1.0), "bandwidth"),
    (lambda: ebcore.flow_depth(1e-300, 1e-100, 1.0), "layers"),
    (lambda: ebcore.flow_depth(1e-300, 0.5, 1.0), "layers"),
    (lambda: priors.Subspace(3, 1, 1.0, 0).posterior_mean(np.zeros((2, 3)), 1e-200), "sigma"),
    (lambda: priors.Gaussian(np.zeros(2), np.eye(2)).bayes_mse(1e200), "sigma"),
])
def test_scales_outside_their_domain_are_refused(call, match):
    # values that used to pass validation and then overflow, divide by zero or give 0/0
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call, error, match", [
    (lambda: priors.monte_carlo_posterior_mean("x", np.zeros((2, 2)), 1.0, 10, 0), TypeError, "prior"),
    (lambda: ebcore.models.build({"epochs": 1}), ValueError, "kind"),
    (lambda: ebcore.models.build({"kind": "attention", "task": 3}), TypeError, "task"),
    (lambda: ebcore.softmax_attention(np.zeros((2, 2)), np.zeros((2, 2)), None, 1.0), TypeError, "values"),
    (lambda: stats.mean_and_se(np.float64(1)), ValueError, "samples"),
    (lambda: stats.mean_and_se(np.ones(3), axis=2), ValueError, "axis"),
    (lambda: ebcore.paths.fourier_points(torch.tensor(0.5), torch.zeros(3), torch.ones(3), torch.zeros((2, 3))),
     ValueError, "t must"),
    (lambda: ebcore.energy(np.zeros((3, 2), np.float16), 1.0), TypeError, "tokens"),
    (lambda: ebcore.models.OneLayerDenoiser(16, attention="linear", seed=2, dtype=torch.float64)(torch.zeros(2, 4, 16)),
     TypeError, "tokens"),
    (lambda: ebcore.diffusion.trajectory_error(ebcore.diffusion.one_d_prior("gaussian"), 1.0, 0, 0.5, 0.5, 0.1, 0, 1),
     ValueError, "n_tokens"),
    (lambda: ebcore.posterior_mean(np.array([[1, 2]], dtype=object), np.zeros((2, 2)), 1.0), TypeError, "queries"),
    (lambda: ebcore.incontext.predecessor_excess_curves([20, 40], 2.9, 4, 0), TypeError, "n_contexts"),
    (lambda: ebcore.incontext.predecessor_excess_curves([20, 40], 4, 4, 0.7), TypeError, "seed"),
    (lambda: ebcore.incontext.predecessor_excess_curves(["20", 40], 4, 4, 0), TypeError, "context_sizes"),
    (lambda: ebcore.diffusion.error_grid("gaussian", 1.0, [64.5], [0.5], 0.5, 0.1, 2, 0), TypeError, "sizes"),
    (lambda: ebcore.diffusion.error_grid("gaussian", 1.0, [64], [0.5], 0.5, 0.1, 2, "0"), TypeError, "seed"),
    (lambda: ebcore.recovery.recovery_curve(priors.Gaussian(np.zeros(1), np.eye(1)), 1.0, [8, 16],
                                            schedule=ebcore.recovery.SCHEDULES[0], bandwidth=1.0,
                                            prior_variance=1.0, seed=0.7, cache_as="g"), TypeError, "seed"),
])
def test_inputs_that_used_to_reach_raw_exceptions_or_a_wrong_cache_entry(call, error, match):
    # each of these raised an AttributeError/KeyError/IndexError/RuntimeError from deep inside, or
    # (the cached functions) converted 2.9 to 2 or 0.7 to 0 and served another entry from a warm cache
    with pytest.raises(error, match=match):
        call()
