"""Alignment of solutions: permutations of hidden units, rotations of attention maps."""
import numpy as np
import pytest
import torch

import ebcore
from ebcore import models


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
    cases = [
        (TypeError, "model", lambda: models.rotation_path("model", 1.0)),
        (ValueError, "angle", lambda: models.rotation_path(models.AttentionDenoiser(2, 1), float("nan"))),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()
