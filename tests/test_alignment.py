"""Alignment of solutions: permutations of hidden units, rotations of attention maps."""
import numpy as np
import pytest
import torch

import ebcore
from ebcore import landscape, models, nets


@pytest.mark.audit("prop-rotation-orbit")
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


@pytest.mark.audit("prop-permutation-symmetry")
@pytest.mark.parametrize("dataset", nets.DATASETS)
def test_alignment_undoes_a_permutation(dataset):
    for arch in landscape.ALIGNABLE:
        task = nets.DigitsTask(arch, dataset=dataset)
        a = landscape.flat_parameters(task.make_model(1))
        model = task.make_model(1)
        with torch.no_grad():  # permute the first hidden layer's units by hand
            layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
            perm = torch.randperm(layers[0].out_features, generator=torch.Generator().manual_seed(0))
            layers[0].weight.copy_(layers[0].weight[perm])
            layers[1].weight.copy_(layers[1].weight[:, perm])
        permuted = landscape.flat_parameters(model)
        assert np.linalg.norm(permuted - a) > 1.0
        np.testing.assert_allclose(landscape.align_to(a, permuted, arch, dataset=dataset), a, atol=0)
        loss = landscape.batched_loss(task, subsample=100)
        v = loss(torch.tensor(np.stack([a, permuted]))).detach().numpy()
        assert abs(v[0] - v[1]) < 1e-12
    with pytest.raises(ValueError, match="architecture"):
        landscape.align_to(np.zeros(3), np.zeros(3), "lstm")
    with pytest.raises(ValueError, match="solution"):
        landscape.align_to(a, a[:-1], "autoencoder", dataset=dataset)


def test_aligned_sets_align_every_row_and_cache_it(isolated_cache):
    from ebcore import alignment

    task = nets.DigitsTask("fcp")
    reference = landscape.flat_parameters(task.make_model(1))
    first = np.stack([reference, landscape.flat_parameters(task.make_model(2))])
    second = np.stack([landscape.flat_parameters(task.make_model(3))])
    out = alignment.aligned_sets(reference, [first, second], "fcp")
    np.testing.assert_array_equal(out[0][0], reference)  # the reference aligned to itself is itself
    np.testing.assert_array_equal(out[0][1], landscape.align_to(reference, first[1], "fcp"))
    np.testing.assert_array_equal(out[1][0], landscape.align_to(reference, second[0], "fcp"))
    again = alignment.aligned_sets(reference, [first, second], "fcp")  # loaded from the cache
    assert all(np.array_equal(a, b) for a, b in zip(out, again))
    assert alignment.alignment_choices("fcp") == (False, True) and alignment.alignment_choices("lstm") == (False,)
    with pytest.raises(ValueError, match="architecture"):
        alignment.aligned_sets(reference, [first], "lstm")
    with pytest.raises(ValueError, match=r"sets\[0\]"):
        alignment.aligned_sets(reference, [first[:, :-1]], "fcp")
    with pytest.raises(TypeError, match="sets"):
        alignment.aligned_sets(reference, first, "fcp")
