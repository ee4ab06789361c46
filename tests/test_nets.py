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


def test_mnist_networks_have_the_papers_parameter_counts():
    """Table I of Yu and Morozov (2026): 42,200, 61,706, 52,224 and 15,456 parameters."""
    assert nets.parameter_counts("mnist") == {"fcp": 42_200, "lenet": 61_706, "lstm": 15_456, "autoencoder": 52_224}


def test_mnist_split_is_fixed_and_stratified():
    sizes = {}
    for split in nets.SPLITS:
        x, y = nets.mnist(split)
        assert x.shape[1] == 784 and x.dtype == torch.float64 and float(x.min()) >= 0 and float(x.max()) <= 1
        counts = np.bincount(y.numpy(), minlength=10)
        assert counts.min() == counts.max()  # 500 per class in all, split evenly
        sizes[split] = len(y)
    assert sizes == {"train": 3500, "validation": 750, "test": 750}
    # the split is pinned: a new data file or a changed splitter changes this digest (and every cache key)
    assert nets.split_digest("mnist") == "a251696d01e2062c"
    rows = {split: {row.tobytes() for row in nets.mnist(split)[0].numpy()} for split in nets.SPLITS}
    assert sum(len(r) for r in rows.values()) == 5000  # every image distinct, and in one split only
    assert not (rows["train"] & rows["test"] or rows["train"] & rows["validation"] or rows["validation"] & rows["test"])
    with pytest.raises(ValueError, match="split"):
        nets.mnist("holdout")
    with pytest.raises(TypeError, match="dtype"):
        nets.mnist("train", torch.int64)
    with pytest.raises(ValueError, match="dataset"):
        nets.images("cifar", "train")


def test_mnist_task_runs_every_network_and_keys_the_cache_by_dataset():
    for architecture in nets.ARCHITECTURES:
        task = nets.DigitsTask(architecture, dataset="mnist")
        inputs, targets = task.data("validation")
        model = task.make_model(0)
        with torch.no_grad():
            loss = float(task.loss(model(inputs[:16]), targets[:16]))
        assert np.isfinite(loss)
        assert task.config() != nets.DigitsTask(architecture).config()
    with pytest.raises(ValueError, match="dataset"):
        nets.DigitsTask("fcp", dataset="cifar")
    with pytest.raises(ValueError, match="dataset"):
        nets.make_net("fcp", 0, dataset="cifar")
