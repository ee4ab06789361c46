"""Recovery (chapter 7) and the trainable attention models (chapter 8)."""
import numpy as np
import pytest
import torch

import ebcore
from ebcore import horizon, models, priors, recovery, training


def test_exact_step_returns_the_prior():
    for sigma, h, depth in ((0.5, 0.5, 1), (1.0, 0.3, 25), (2.0, 1.5, 3)):
        step = horizon.exact_step(sigma, h, 0.7, depth)
        assert 0 < step <= 1
        assert horizon.gaussian_variance_layers(0.7 + sigma**2, h, step, depth)[-1] == pytest.approx(0.7, abs=1e-12)
    # a large-context Gaussian run at the exact step is close to Bayes (population theorem + finite N)
    prior = priors.Gaussian(np.zeros(2), np.eye(2))
    depth, step = recovery.recovery_settings(1.0, 1.0, 1.0)
    excess = recovery.two_stage_excess(prior, 1.0, 2048, 1.0, step, depth, 2, 0)
    assert excess.mean() < 0.02  # the measured 1/N curve of chapter 7 gives about 0.004 here
    with pytest.raises(ValueError, match="too few"):
        horizon.exact_step(3.0, 0.1, 1.0, 1)


def test_schedule_bandwidth():
    assert recovery.schedule_bandwidth("fixed", 4096, 0.5, 2) == 0.5
    assert recovery.schedule_bandwidth("shrinking", 64 * 2**6, 0.5, 2) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="schedule"):
        recovery.schedule_bandwidth("linear", 64, 1.0, 2)


def test_student_t_posterior_mean_against_dense_quadrature():
    prior = priors.StudentT(2, 3.0, 1.0)
    xs = np.linspace(-80, 80, 400_001)
    density = np.exp(prior._log_density(xs))
    for sigma in (0.1, 0.5, 1.0):
        for y in (0.3, 5.0):
            w = density * np.exp(-(y - xs) ** 2 / (2 * sigma**2))
            reference = (w * xs).sum() / w.sum()
            assert prior.posterior_mean(np.array([[y, 0.0]]), sigma)[0, 0] == pytest.approx(reference, abs=1e-9)
    y = np.array([[0.4, -1.2]])
    step = 1e-5
    numeric = (prior.log_marginal(y + [[step, 0]], 0.7) - prior.log_marginal(y - [[step, 0]], 0.7)) / (2 * step)
    assert prior.score(y, 0.7)[0, 0] == pytest.approx(numeric[0], rel=1e-6)


def test_from_theory_reproduces_two_stage_denoise():
    rng = np.random.default_rng(0)
    tokens = rng.normal(size=(3, 150, 2)) * 1.5
    for depth in (0, 1, 6):
        for tied in (False, True):
            model = models.AttentionDenoiser.from_theory(depth, 0.7, 0.3, 0.9, 2, tied=tied)
            out = model(torch.tensor(tokens)).detach().numpy()
            np.testing.assert_allclose(out, ebcore.two_stage_denoise(tokens, 0.7, 0.3, depth, 0.9), atol=1e-12, rtol=0)
    # softmax attention with the same maps differs (no key bias), unless all keys share one norm
    softmax = models.AttentionDenoiser.from_theory(2, 0.7, 0.3, 0.9, 2, kernel="softmax")
    assert np.abs(softmax(torch.tensor(tokens)).detach().numpy() - ebcore.two_stage_denoise(tokens, 0.7, 0.3, 2, 0.9)).max() > 1e-3


def test_attention_denoiser_input_checks_and_training_step():
    model = models.AttentionDenoiser(2, 2, seed=1)
    with pytest.raises(ValueError, match="tokens"):
        model(torch.zeros(4, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="dtype"):
        model(torch.zeros(4, 2, dtype=torch.float32))
    with pytest.raises(ValueError, match="kernel"):
        models.AttentionDenoiser(2, 2, kernel="linear")
    with pytest.raises(TypeError, match="prior"):
        models.CorruptionTask("gaussian", 1.0, 16)
    task = models.CorruptionTask(priors.Gaussian(np.zeros(2), np.eye(2)), 1.0, 16, n_contexts=(8, 2, 2))
    run = training.train(model, task, training.adam(0.01, batch_size=4), epochs=3, cache=False, progress=False)
    assert run.curves["train"][-1] < run.curves["train"][0]
    sequence, target = models.CleanContextTask(priors.Gaussian(np.zeros(3), np.eye(3)), 0.5, 10,
                                               n_contexts=(4, 2, 2)).data("train")
    assert sequence.shape == (4, 11, 3) and target.shape == (4, 3)
    assert models.OneLayerDenoiser(3, attention="linear")(sequence).shape == (4, 3)


def test_attention_invariants():
    model = models.AttentionDenoiser.from_theory(3, 0.5, 0.2, 0.8, 2)
    rows = models.attention_invariants(model)
    assert [r["layer"] for r in rows] == ["layer 1", "layer 2", "layer 3", "final"]
    np.testing.assert_allclose(rows[0]["bandwidths"], [0.5, 0.5], rtol=1e-12)
    np.testing.assert_allclose(rows[-1]["bandwidths"], [0.8, 0.8], rtol=1e-12)
    assert rows[0]["cross"][0] == pytest.approx(4.0) and rows[0]["cross"][1] == pytest.approx(0.0, abs=1e-15)
    assert rows[1]["step"] == pytest.approx(0.2) and rows[-1]["step"] is None
    c, residual = models.scaled_identity_fit(np.array([[2.0, 1.0], [0.0, 2.0]]))
    assert c == 2.0 and residual == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="square"):
        models.scaled_identity_fit(np.ones((2, 3)))
    with pytest.raises(TypeError, match="AttentionDenoiser"):
        models.attention_invariants(models.OneLayerDenoiser(2))


def test_training_cache_key_separates_model_settings(tmp_path):
    """Two models with identical initial parameters but different forward maps must not share a cache entry."""
    cache = ebcore.ResultsCache(tmp_path)
    task = models.CleanContextTask(priors.Gaussian(np.zeros(3), np.eye(3)), 0.5, 10, n_contexts=(8, 2, 2))
    runs = [training.train(models.OneLayerDenoiser(3, attention=a, seed=4), task, training.adam(0.01, batch_size=4),
                           epochs=2, cache=cache, progress=False) for a in ("linear", "softmax")]
    assert not runs[1].from_cache
    assert not np.allclose(runs[0].solutions["final"], runs[1].solutions["final"])


def test_prior_families_and_shift():
    rng = np.random.default_rng(5)
    base = priors.Sphere(2, 1, 1.0, rng)
    shifted = priors.Shifted(base, np.array([2.0, -1.0]))
    y = rng.normal(size=(4, 2))
    np.testing.assert_allclose(shifted.posterior_mean(y, 0.3), base.posterior_mean(y - [2.0, -1.0], 0.3) + [2.0, -1.0])
    np.testing.assert_allclose(shifted.log_marginal(y, 0.3), base.log_marginal(y - [2.0, -1.0], 0.3))
    assert np.allclose(shifted.sample(2000, 0).mean(0), [2.0, -1.0], atol=0.1)
    for family in priors.FAMILIES:
        assert priors.random_prior(family, 1).dim == 2
    with pytest.raises(ValueError, match="family"):
        priors.random_prior("cauchy", 1)
    with pytest.raises(ValueError, match="shift"):
        priors.Shifted(base, np.zeros(3))
    task = models.family_task("circle", n_tokens=8, n_contexts=(3, 2, 2))
    noisy, clean = task.data("test")
    assert noisy.shape == (2, 8, 2) and task.bayes("test").shape == (2, 8, 2)
    with pytest.raises(ValueError, match="job 0"):
        models.train_many([{"kind": "attention"}])
    with pytest.raises(ValueError, match="steps"):
        models.theory_grid_search(task, 2, [0.5], [-1.0])


def test_rotation_orbit_and_alignment():
    job = {"kind": "attention", "task": {"family": "mixture", "n_tokens": 8, "n_contexts": (4, 2, 2), "dtype": torch.float64},
           "model": {"depth": 2, "seed": 3}, "epochs": 1}
    bound = models.LandscapeTask(job)
    model = bound.make_model(3)
    orbit = models.rotation_path(model, 2.0, n_points=5)
    loss = ebcore.landscape.batched_loss(bound, "train")
    heights = loss(torch.tensor(orbit)).detach().numpy()
    np.testing.assert_allclose(heights, heights[0], rtol=1e-12)
    # the end of the orbit aligns back onto its start exactly
    np.testing.assert_allclose(models.align_rotation(orbit[0], orbit[-1], model), orbit[0], atol=1e-12)
    assert np.abs(orbit[-1] - orbit[0]).max() > 0.1
    with pytest.raises(ValueError, match="solution"):
        models.align_rotation(orbit[0], orbit[0][:-1], model)
    with pytest.raises(ValueError, match="planar"):
        models.rotation_path(models.AttentionDenoiser(3, 1), 1.0)
    assert bound.config()["model"].startswith("AttentionDenoiser")
    with pytest.raises(TypeError, match="architecture"):
        ebcore.barriers.pair_barriers(object(), orbit, np.array([[0, 1]]))


def test_bad_input_names_the_argument():
    """Every public function added for chapters 7, 8, 12 and 13 rejects bad input with the argument's name."""
    from ebcore import landscape

    prior = priors.Gaussian(np.zeros(2), np.eye(2))
    cases = [
        (ValueError, "sigma", lambda: horizon.exact_step(-1.0, 1.0, 1.0, 2)),
        (ValueError, "depth", lambda: horizon.exact_step(1.0, 1.0, 1.0, 0)),
        (ValueError, "nominal_step", lambda: recovery.recovery_settings(1.0, 1.0, 1.0, nominal_step=0.0)),
        (TypeError, "prior", lambda: recovery.two_stage_excess("gaussian", 1.0, 8, 1.0, 0.5, 1, 2, 0)),
        (ValueError, "context_size", lambda: recovery.two_stage_excess(prior, 1.0, 0, 1.0, 0.5, 1, 2, 0)),
        (ValueError, "context_sizes", lambda: recovery.recovery_curve(prior, 1.0, [64], schedule="fixed",
                                                                      bandwidth=1.0, prior_variance=1.0)),
        (ValueError, "dof", lambda: priors.StudentT(2, 0.0, 1.0)),
        (ValueError, "scale", lambda: priors.StudentT(2, 3.0, -1.0)),
        (ValueError, "bandwidth", lambda: models.AttentionDenoiser.from_theory(2, 0.0, 0.5, 1.0, 2)),
        (ValueError, "depth", lambda: models.AttentionDenoiser(2, -1)),
        (ValueError, "attention", lambda: models.OneLayerDenoiser(4, attention="relu")),
        (ValueError, "family", lambda: models.family_task("laplace")),
        (ValueError, "name", lambda: models.predecessor_family_task("torus")),
        (ValueError, "kind", lambda: models.build({"kind": "mlp", "epochs": 1})),
        (ValueError, "optimizer", lambda: models.train_many([{"kind": "attention", "epochs": 1, "optimizer": "rmsprop"}])),
        (TypeError, "task", lambda: models.denoising_report(models.AttentionDenoiser(2, 1), "task")),
        (TypeError, "task", lambda: models.scaled_identity_loss("task", "linear", [1.0], [1.0])),
        (TypeError, "model", lambda: models.rotation_path("model", 1.0)),
        (ValueError, "angle", lambda: models.rotation_path(models.AttentionDenoiser(2, 1), float("nan"))),
        (ValueError, "n_contexts", lambda: models.CorruptionTask(prior, 1.0, 8, n_contexts=(4, 2))),
        (ValueError, "delta_sq", lambda: landscape.two_cloud_critical_size(1.0, 1.0, float("inf"))),
        (ValueError, "gamma", lambda: landscape.two_cloud_spectrum(1.0, 1.0, 0.0, 3, gamma=-1.0)),
        (ValueError, "rho_a", lambda: landscape.two_cloud_points(2, 9, -1.0, 1.0, 0.0, 0)),
        (ValueError, "n_jobs", lambda: ebcore.barriers.pair_barriers("fcp", np.zeros((2, 6200)), np.array([[0, 1]]),
                                                                    n_jobs=0)),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.recovery.recovery_curve(priors.Gaussian(np.zeros(1), np.eye(1)), 1.0, [8, 16],
                                            schedule=ebcore.recovery.SCHEDULES[0], bandwidth=1.0,
                                            prior_variance=1.0, seed=0.7, cache_as="g"), TypeError, "seed"),
])
def test_inputs_that_used_to_reach_raw_exceptions_or_a_wrong_cache_entry(call, error, match):
    # each of these raised an AttributeError/KeyError/IndexError/RuntimeError from deep inside, or
    # (the cached functions) converted 2.9 to 2 or 0.7 to 0 and served another entry from a warm cache
    with pytest.raises(error, match=match):
        call()
