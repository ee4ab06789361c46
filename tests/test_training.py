"""The training loop (chapter 9): curves, caching, resuming, optimizers, input checks."""
import numpy as np
import pytest
import torch

import ebcore
from ebcore import landscape, models, nets, priors, training
from ebcore.cache import ResultsCache


def test_train_records_curves_and_solutions(isolated_cache):
    task = nets.DigitsTask("autoencoder")
    run = training.train(task.make_model(0), task, training.sgd(1.0, 0.9), epochs=3, seed=0)
    assert set(run.curves) >= {"train", "validation", "test", "evaluations", "gradients", "seconds"}
    assert all(len(v) == 4 for v in run.curves.values())
    assert run.curves["train"][run.best_epoch["train"]] == run.curves["train"].min()
    assert abs(run.curves["evaluations"][-1] - 3.0) < 1e-9  # three passes over the training set
    model = landscape.set_flat_parameters(task.make_model(9), run.solutions["early_stopped"])
    x, y = task.data("test")
    with torch.no_grad():
        assert abs(float(task.loss(model(x), y)) - run.curves["test"].min()) < 1e-12


def test_cached_rerun_skips_training(isolated_cache):
    task = nets.DigitsTask("fcp")
    first = training.train(task.make_model(0), task, training.lbfgs_gss(), epochs=4)
    second = training.train(task.make_model(0), task, training.lbfgs_gss(), epochs=4)
    assert not first.from_cache and second.from_cache
    np.testing.assert_array_equal(first.curves["train"], second.curves["train"])
    different = training.train(task.make_model(1), task, training.lbfgs_gss(), epochs=4)
    assert not different.from_cache


def test_resume_after_interruption_gives_the_same_run(tmp_path):
    spec = training.sgd(1.0, 0.9)
    reference = training.train(nets.make_net("autoencoder", 0), nets.DigitsTask("autoencoder"), spec, epochs=6,
                               seed=2, cache=False)

    class Crash(Exception):
        pass

    class CountingTask(nets.DigitsTask):
        """Counts loss calls; raises at call ``crash_at`` (each epoch: 17 batches + 3 monitoring losses)."""

        calls = 0
        crash_at = None

        def loss(self, outputs, targets):
            type(self).calls += 1
            if type(self).calls == self.crash_at:
                raise Crash()
            return super().loss(outputs, targets)

    cache = ResultsCache(tmp_path)
    CountingTask.crash_at = 3 + 3 * 20 + 15  # in epoch 4, after the checkpoint written at epoch 2
    with pytest.raises(Crash):
        training.train(nets.make_net("autoencoder", 0), CountingTask("autoencoder"), spec, epochs=6, seed=2,
                       cache=cache, checkpoint_every=2)
    CountingTask.calls, CountingTask.crash_at = 0, None
    resumed = training.train(nets.make_net("autoencoder", 0), CountingTask("autoencoder"), spec, epochs=6, seed=2,
                             cache=cache, checkpoint_every=2)
    # Resumed from epoch 2: four epochs trained, not six (and no evaluation of the initialisation).
    assert CountingTask.calls == 4 * 20
    np.testing.assert_allclose(resumed.curves["train"], reference.curves["train"], rtol=1e-12)
    np.testing.assert_allclose(resumed.solutions["final"], reference.solutions["final"], rtol=1e-12)
    np.testing.assert_allclose(resumed.curves["evaluations"], reference.curves["evaluations"], rtol=1e-12)


def test_train_input_checks(isolated_cache):
    task = nets.DigitsTask("fcp")
    model = task.make_model(0)
    with pytest.raises(TypeError, match="model"):
        training.train("net", task, training.sgd(0.1), epochs=1)
    with pytest.raises(TypeError, match="task"):
        training.train(model, object(), training.sgd(0.1), epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        training.train(model, task, training.sgd(0.1), epochs=0)
    with pytest.raises(TypeError, match="config"):
        training.train(model, task, lambda p: torch.optim.SGD(p, lr=0.1), epochs=1)
    with pytest.raises(ValueError, match="lr"):
        training.sgd(-1.0)
    with pytest.raises(ValueError, match="momentum"):
        training.sgd(0.1, momentum=1.0)
    with pytest.raises(ValueError, match="architecture"):
        nets.DigitsTask("resnet")
    with pytest.raises(ValueError, match="split"):
        nets.digits("dev")
    with pytest.raises(TypeError, match="dtype"):
        nets.make_net("fcp", 0, dtype=torch.int64)
    with pytest.raises(TypeError, match="dtype"):
        nets.digits("train", dtype=torch.float16)
    with pytest.raises(ValueError, match="seed"):
        nets.make_net("fcp", -1)
    with pytest.raises(TypeError, match="model"):
        nets.parameter_count("fcp")
    with pytest.raises(ValueError, match="vector"):
        landscape.set_flat_parameters(model, np.full(6200, np.nan))
    with pytest.raises(ValueError, match="history_size"):
        training.lbfgs_gss(history_size=0)
    with pytest.raises(ValueError, match="max_evals"):
        training.lbfgs_gss(max_evals=1)
    with pytest.raises(ValueError, match="max_iter"):
        training.torch_lbfgs(max_iter=0)
    with pytest.raises(ValueError, match="lr"):
        training.adam(lr=0.0)
    with pytest.raises(ValueError, match="batch_size"):
        training.sgd(0.1, batch_size=0)
    with pytest.raises(TypeError, match="cache"):
        training.train(model, task, training.sgd(0.1), epochs=1, cache="yes")


def test_diverging_sgd_is_reported(isolated_cache):
    task = nets.DigitsTask("fcp")
    with pytest.raises(FloatingPointError, match="diverged"):
        training.train(task.make_model(0), task, training.sgd(1e300, 0.9), epochs=5, cache=False)


def test_train_with_torch_lbfgs_and_adam(isolated_cache):
    task = nets.DigitsTask("autoencoder")
    for spec in (training.torch_lbfgs(max_iter=3), training.adam(1e-2)):
        run = training.train(task.make_model(0), task, spec, epochs=2)
        assert run.curves["train"][-1] < run.curves["train"][0]


def test_training_cache_key_separates_model_settings(tmp_path):
    """Two models with identical initial parameters but different forward maps must not share a cache entry."""
    cache = ebcore.ResultsCache(tmp_path)
    task = models.CleanContextTask(priors.Gaussian(np.zeros(3), np.eye(3)), 0.5, 10, n_contexts=(8, 2, 2))
    runs = [training.train(models.OneLayerDenoiser(3, attention=a, seed=4), task, training.adam(0.01, batch_size=4),
                           epochs=2, cache=cache, progress=False) for a in ("linear", "softmax")]
    assert not runs[1].from_cache
    assert not np.allclose(runs[0].solutions["final"], runs[1].solutions["final"])


def test_first_below_reads_the_curves_and_says_never(isolated_cache):
    task = nets.DigitsTask("fcp")
    run = training.train(task.make_model(0), task, training.sgd(0.1), epochs=2, progress=False)
    losses = run.curves["train"]
    level = float(losses[1]) * 1.0000001  # reached at epoch 1 (or 0)
    hit = int(np.nonzero(losses < level)[0][0])
    assert training.first_below(run, level) == float(run.curves["evaluations"][hit])
    assert training.first_below(run, float(losses.min()) / 2) is None
    with pytest.raises(ValueError, match="curve"):
        training.first_below(run, level, "nonsense")
    with pytest.raises(TypeError, match="run"):
        training.first_below(run.curves, level)
