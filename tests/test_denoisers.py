"""The trainable attention denoisers (chapter 8): AttentionDenoiser and OneLayerDenoiser."""
import numpy as np
import pytest
import torch

import ebcore
from ebcore import models, priors, training


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.models.OneLayerDenoiser(16, attention="linear", seed=2, dtype=torch.float64)(torch.zeros(2, 4, 16)),
     TypeError, "tokens"),
])
def test_inputs_that_used_to_reach_raw_exceptions_or_a_wrong_cache_entry(call, error, match):
    # each of these raised an AttributeError/KeyError/IndexError/RuntimeError from deep inside, or
    # (the cached functions) converted 2.9 to 2 or 0.7 to 0 and served another entry from a warm cache
    with pytest.raises(error, match=match):
        call()


@pytest.mark.audit("prop-theory-setting")
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


def test_bad_input_names_the_argument():
    """Every public function added for chapters 7, 8, 12 and 13 rejects bad input with the argument's name."""
    cases = [
        (ValueError, "bandwidth", lambda: models.AttentionDenoiser.from_theory(2, 0.0, 0.5, 1.0, 2)),
        (ValueError, "depth", lambda: models.AttentionDenoiser(2, -1)),
        (ValueError, "attention", lambda: models.OneLayerDenoiser(4, attention="relu")),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()
