"""The digits data and the networks of Part II (chapter 9)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ebcore import landscape, nets


def test_digits_split_is_fixed_and_stratified():
    sizes = {split: nets.digits(split)[0].shape[0] for split in nets.SPLITS}
    assert sizes == {"train": 1078, "validation": 359, "test": 360}
    labels = [nets.digits(split)[1].numpy() for split in nets.SPLITS]
    all_rows = np.concatenate([nets.digits(split)[0].numpy() for split in nets.SPLITS])
    assert all_rows.shape == (1797, 64) and all_rows.min() >= 0 and all_rows.max() <= 1
    counts = [np.bincount(y, minlength=10) / len(y) for y in labels]
    assert np.abs(counts[0] - counts[2]).max() < 0.02


def test_parameter_counts():
    assert nets.parameter_counts() == {"fcp": 64 * 50 + 50 * 50 + 50 * 10,
                                       "lenet": 6 * 9 + 6 + 16 * 6 * 4 + 16 + 16 * 120 + 120 + 120 * 84 + 84
                                       + 84 * 10 + 10,
                                       "lstm": 4 * 48 * (8 + 48) + 2 * 4 * 48 + 48 * 10,
                                       "autoencoder": 64 * 32 + 32 * 32 + 32 * 32 + 32 * 64}


def test_lenet_matches_reference_layers():
    model = nets.make_net("lenet", 3)
    x, _ = nets.digits("test")
    with torch.no_grad():
        h = F.avg_pool2d(F.softplus(model.conv1(x.reshape(-1, 1, 8, 8))), 2)
        h = F.avg_pool2d(F.softplus(model.conv2(h)), 2)
        ref = model.fc3(F.softplus(model.fc2(F.softplus(model.fc1(h.flatten(1))))))
        assert torch.allclose(model(x), ref)


def test_make_net_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = landscape.flat_parameters(nets.make_net("fcp", 5))
    after = torch.rand(1)
    b = landscape.flat_parameters(nets.make_net("fcp", 5))
    assert np.array_equal(a, b) and torch.equal(before, after)


def test_flat_parameters_round_trip():
    model = nets.make_net("autoencoder", 0)
    w = landscape.flat_parameters(model)
    other = landscape.set_flat_parameters(nets.make_net("autoencoder", 1), w)
    assert np.array_equal(landscape.flat_parameters(other), w)
    with pytest.raises(ValueError, match="vector"):
        landscape.set_flat_parameters(model, w[:-1])
