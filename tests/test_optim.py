"""L-BFGS-GSS and the golden-section search (chapter 9)."""
import math

import numpy as np
import pytest
import torch

from ebcore import optim
from ebcore.optim import LBFGSGSS, NonFiniteLossError


def _pairs(rng, n=7, m=4):
    a = torch.as_tensor(rng.standard_normal((n, n)))
    a = a @ a.T + torch.eye(n, dtype=torch.float64)
    s_list = [torch.as_tensor(rng.standard_normal(n)) for _ in range(m)]
    y_list = [a @ s for s in s_list]
    return s_list, y_list, torch.as_tensor(rng.standard_normal(n))


@pytest.mark.audit("prop-two-loop")
def test_two_loop_matches_dense_bfgs(rng):
    for rho_eps in (0.0, 1e-6):
        s_list, y_list, g = _pairs(rng)
        dense = optim.dense_inverse_hessian(s_list, y_list, rho_eps=rho_eps) @ g
        fast = optim.two_loop_direction(g, s_list, y_list, rho_eps=rho_eps)
        assert torch.allclose(fast, dense, rtol=1e-10, atol=1e-12)


@pytest.mark.audit("prop-two-loop")
def test_two_loop_satisfies_secant_condition(rng):
    s_list, y_list, _ = _pairs(rng)
    # The newest pair is always interpolated exactly: H y_{m-1} = s_{m-1}.
    out = optim.two_loop_direction(y_list[-1], s_list, y_list)
    assert torch.allclose(out, s_list[-1], rtol=1e-10, atol=1e-12)


@pytest.mark.audit("thm-golden-section")
@pytest.mark.parametrize("width,tol", [(1.0, 1e-6), (10.0, 1e-3), (0.5, 0.4), (2.0, 1e-12)])
def test_golden_section_evaluation_count(width, tol):
    for c in np.linspace(0.05, 0.95, 7) * width:
        result = optim.golden_section_search(lambda t: (t - c) ** 2, 0.0, width, tol=tol)
        assert result.evaluations == optim.golden_section_evaluations(width, tol)
        lo, hi = result.bracket
        assert hi - lo <= tol and lo <= c <= hi and lo <= result.x <= hi


def test_golden_section_respects_budget():
    result = optim.golden_section_search(lambda t: (t - 0.3) ** 2, 0.0, 1.0, tol=1e-12, max_evals=5)
    assert result.evaluations == 5


def test_golden_section_treats_nan_as_infinite():
    result = optim.golden_section_search(lambda t: float("nan") if t > 0.6 else (t - 0.2) ** 2, 0.0, 1.0, tol=1e-8)
    assert abs(result.x - 0.2) < 1e-8


@pytest.mark.parametrize("problem", ["quadratic", "rosenbrock"])
def test_reaches_1e_8(problem):
    iterations, _ = optim.lbfgs_iteration_counts(problem, [10], [6])
    assert np.isfinite(iterations).all()


def test_finite_termination_with_full_memory():
    iterations, _ = optim.lbfgs_iteration_counts("quadratic", [50], [40], rho_eps=0.0, tol=1e-12)
    assert iterations[0, 0] <= 50


def test_matches_closure_without_backward_keyword():
    # A closure without the ``backward`` keyword is called with gradients at trial points too.
    f = optim.ill_conditioned_quadratic(5, 10.0)
    x = torch.nn.Parameter(torch.ones(5, dtype=torch.float64))
    opt = LBFGSGSS([x])

    def closure():
        opt.zero_grad()
        value = f(x)
        value.backward()
        return value

    for _ in range(30):
        opt.step(closure)
    assert float(f(x.detach())) < 1e-8
    assert opt.evaluations["gradient"] == opt.evaluations["loss"]


def test_counts_evaluations_and_skips_gradients_at_trial_points():
    f = optim.ill_conditioned_quadratic(5, 10.0)
    x = torch.nn.Parameter(torch.ones(5, dtype=torch.float64))
    opt = LBFGSGSS([x])
    calls = {"loss": 0, "backward": 0}

    def closure(backward=True):
        opt.zero_grad()
        value = f(x)
        calls["loss"] += 1
        if backward:
            value.backward()
            calls["backward"] += 1
        return value

    for _ in range(5):
        opt.step(closure)
    assert calls["backward"] == 5 == opt.evaluations["gradient"]
    assert calls["loss"] == opt.evaluations["loss"] > 10


@pytest.mark.parametrize("kwargs,match", [({"history_size": 0}, "history_size"), ({"max_evals": 1}, "max_evals"),
                                          ({"tol": 0.0}, "tol"), ({"tol": -1.0}, "tol"),
                                          ({"history_size": 2.5}, "history_size"), ({"rho_eps": -1.0}, "rho_eps")])
def test_bad_options(kwargs, match):
    x = torch.nn.Parameter(torch.ones(3))
    with pytest.raises((ValueError, TypeError), match=match):
        LBFGSGSS([x], **kwargs)


def test_bad_closures():
    x = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = LBFGSGSS([x])
    with pytest.raises(TypeError, match="closure"):
        opt.step()
    with pytest.raises(ValueError, match="scalar"):
        opt.step(lambda: (x * x).sum() * torch.ones(2))
    with pytest.raises(TypeError, match="closure"):
        opt.step(lambda: "loss")

    def nan_closure():
        opt.zero_grad()
        value = (x * x).sum() * float("nan")
        value.backward()
        return value

    with pytest.raises(NonFiniteLossError, match="non-finite"):
        opt.step(nan_closure)


def _infinite_beyond_two(x):
    return torch.where(x > 2.0, torch.full_like(x, math.inf), (x - 1.9) ** 2).sum()


def _refusing_beyond_two(x):
    # as ebcore.models.per_token_mse does for diverged outputs
    if bool((x > 2.0).any()):
        raise NonFiniteLossError("outputs: diverged")
    return ((x - 1.9) ** 2).sum()


@pytest.mark.parametrize("objective", [_infinite_beyond_two, _refusing_beyond_two])
def test_trial_points_that_are_infinite_or_refused_are_avoided(objective):
    # The loss is infinite (or the objective refuses) beyond x = 2 along the descent direction: the
    # search must read it as "step back" and stay inside.
    x = torch.nn.Parameter(torch.tensor([0.0], dtype=torch.float64))
    opt = LBFGSGSS([x])

    def closure(backward=True):
        opt.zero_grad()
        value = objective(x)
        if backward:
            value.backward()
        return value

    for _ in range(10):
        opt.step(closure)
    assert abs(float(x.detach()) - 1.9) < 1e-3


def test_losses_refuse_non_finite_inputs_naming_them():
    from ebcore import models, potentials

    outputs = torch.tensor([[[math.inf, 0.0]]], dtype=torch.float64)
    with pytest.raises(NonFiniteLossError, match="outputs"):
        models.per_token_mse(outputs, torch.zeros_like(outputs))
    with pytest.raises(ValueError, match="points"):
        potentials.two_bump(torch.tensor([[math.nan, 0.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="x"):
        optim.rosenbrock(torch.tensor([math.inf, 0.0], dtype=torch.float64))


def test_minimize_input_checks():
    with pytest.raises(TypeError, match="x0"):
        optim.minimize(optim.rosenbrock, [1.0, 2.0])
    with pytest.raises(ValueError, match="method"):
        optim.minimize(optim.rosenbrock, np.ones(2), method="newton")
    with pytest.raises(ValueError, match="x0"):
        optim.minimize(optim.rosenbrock, np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match="a and b"):
        optim.golden_section_search(lambda t: t, 1.0, 0.0)
    with pytest.raises(ValueError, match="problem"):
        optim.lbfgs_iteration_counts("himmelblau", [1], [2])


def test_line_search_helpers_input_checks(rng):
    s_list, y_list, g = _pairs(rng)
    with pytest.raises(ValueError, match="s_list and y_list"):
        optim.two_loop_direction(g, s_list, y_list[:-1])
    with pytest.raises(ValueError, match="shape of g"):
        optim.two_loop_direction(g[:-1], s_list, y_list)
    with pytest.raises(TypeError, match="g must"):
        optim.two_loop_direction(g.numpy(), s_list, y_list)
    with pytest.raises(ValueError, match="s_list"):
        optim.dense_inverse_hessian([], [])
    with pytest.raises(ValueError, match="tol"):
        optim.golden_section_evaluations(1.0, 0.0)
    with pytest.raises(ValueError, match="width"):
        optim.golden_section_evaluations(-1.0, 1e-3)
    with pytest.raises(TypeError, match="phi"):
        optim.bracket_minimum("phi", 0.0, 1.0)
    with pytest.raises(ValueError, match="phi0"):
        optim.bracket_minimum(lambda t: t, float("nan"), 1.0)
    with pytest.raises(ValueError, match="first"):
        optim.bracket_minimum(lambda t: t, 0.0, 0.0)
    with pytest.raises(ValueError, match="condition"):
        optim.ill_conditioned_quadratic(5, 0.5)
    with pytest.raises(ValueError, match="dim"):
        optim.ill_conditioned_quadratic(0, 10.0)


def test_bracket_minimum_brackets_and_shrinks():
    points, values, _ = optim.bracket_minimum(lambda t: (t - 3.0) ** 2, 9.0, 1.0)
    assert len(points) == 3 and points[0] < 3.0 < points[2] and values[1] <= min(values[0], values[2])
    # The first trial (0.2) already rises: the step shrinks toward 0 until it falls below phi(0).
    points, values, _ = optim.bracket_minimum(lambda t: (t - 0.01) ** 2, 1e-4, 1.0)
    assert len(points) == 3 and points[0] == 0.0 and points[1] < 0.2 and values[1] < 1e-4


def _recording(phi):
    calls = []

    def recorded(t):
        calls.append(t)
        return phi(t)

    return recorded, calls


def test_paper_line_search_follows_the_authors_rules_on_a_parabola():
    # phi(t) = (t - 1)^2 from phi(0) = 1 with a unit step scale, traced by hand: trials 0.2 and 0.8 fall,
    # 1.6 rises (bracket (0.2, 0.8, 1.6)); then the golden points of the whole bracket, 0.382 from an
    # end: 0.2 + 0.382 * 1.4, then 0.7348 + 0.382 * 0.8652, then 0.8 + 0.382 * 0.8; six in all.
    phi, calls = _recording(lambda t: (t - 1.0) ** 2)
    result = optim.paper_line_search(phi, 1.0, 1.0, budget=6, tol=1e-4)
    expected = [0.2, 0.8, 1.6, 0.2 + 0.382 * 1.4]
    expected.append(expected[3] + 0.382 * (1.6 - expected[3]))
    expected.append(0.8 + 0.382 * (1.6 - 0.8))
    np.testing.assert_allclose(calls, expected, rtol=0, atol=1e-15)
    assert result.evaluations == 6 and result.x == pytest.approx(expected[4], abs=1e-15)
    # the book's bracketing takes the same three trials, outside its refinement budget
    book, _ = _recording(lambda t: (t - 1.0) ** 2)
    points, _, bracket_evals = optim.bracket_minimum(book, 1.0, 1.0)
    assert bracket_evals == 3 and points == [0.2, 0.8, 1.6]


def test_paper_line_search_can_step_uphill_and_answers_ties_with_one_more_evaluation():
    # a rising line: the shrinking phase runs out of budget and returns the right end, uphill of phi(0)
    phi, calls = _recording(lambda t: t)
    result = optim.paper_line_search(phi, 0.0, 1.0, budget=4, tol=1e-12)
    assert len(calls) == 4 and result.value > 0.0 and result.x == calls[-1]
    # a flat line: the first trial ties with phi(0); one more evaluation at the midpoint, returned
    phi, calls = _recording(lambda t: 3.0)
    result = optim.paper_line_search(phi, 3.0, 2.0, budget=6)
    assert calls == [0.4, 0.2] and result.x == 0.2 and result.evaluations == 2
    with pytest.raises(ValueError, match="budget"):
        optim.paper_line_search(phi, 3.0, 2.0, budget=1)


def test_paper_line_search_repeats_a_step_and_keeps_its_first_value():
    """The golden phase's first trial can land on the best step (here: trials 0.2 and 0.0764 rise, 0.0292 falls,
    and 0.382 * 0.0764 is that step again). The authors' search evaluates it again and stops on the exact tie; the
    repeat keeps its first value, so a recomputation that differs in the last bit (as in a lockstep batch whose
    members changed) ends the search the same way, after the same four evaluations."""
    def exact(t):
        return (t - 0.02) ** 2

    seen = set()

    def last_bit_noise(t):
        value = exact(t)
        if t in seen:  # a second evaluation of the same step, one unit in the last place away
            value = np.nextafter(value, np.inf)
        seen.add(t)
        return value

    phi, calls = _recording(exact)
    reference = optim.paper_line_search(phi, exact(0.0), 1.0, budget=6, tol=1e-12)
    assert reference.evaluations == 4 and calls[3] == calls[2]
    noisy, noisy_calls = _recording(last_bit_noise)
    result = optim.paper_line_search(noisy, exact(0.0), 1.0, budget=6, tol=1e-12)
    assert noisy_calls == calls and result == reference


def test_lbfgsgss_with_the_papers_search_minimises_and_counts_every_evaluation():
    x = torch.nn.Parameter(torch.tensor([-1.2, 1.0], dtype=torch.float64))
    opt = LBFGSGSS([x], line_search="paper")

    def closure(backward=True):
        opt.zero_grad()
        value = optim.rosenbrock(x)
        if backward:
            value.backward()
        return value

    start = float(optim.rosenbrock(x.detach()))
    for _ in range(60):
        opt.step(closure)
    assert float(optim.rosenbrock(x.detach())) < 1e-3 * start
    # each step: one evaluation with its gradient, then at most the budget of 6 (+1 for a tie)
    assert opt.evaluations["loss"] <= 60 * (1 + 6 + 1)
    with pytest.raises(ValueError, match="line_search"):
        LBFGSGSS([x], line_search="brent")
