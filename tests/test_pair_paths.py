"""All pairs' paths optimised together on the full training landscape (chapter 11)."""
import numpy as np
import pytest
import torch

from ebcore import barriers, nets, paths
from ebcore.training import flat_parameters


def _solutions(n=4):
    return np.stack([np.asarray(flat_parameters(nets.make_net("fcp", seed))) for seed in range(n)])


SETTINGS = dict(steps=6, lr=3e-3, batch_size=64, select_every=2, seed=3)


def _optimise(loss, solutions, pairs, **options):
    starts = torch.tensor(solutions[pairs[:, 0]], dtype=loss.dtype)
    ends = torch.tensor(solutions[pairs[:, 1]], dtype=loss.dtype)
    return barriers.optimise_pair_paths(loss, starts, ends, pairs, **{**SETTINGS, **options})


def test_a_pair_in_a_batch_follows_its_own_path():
    """A pair's kept path does not depend on the other pairs of its call: its mini-batches come from its own
    stream and Adam acts coordinate by coordinate. float64, so only summation order can differ."""
    loss = barriers.landscape_loss(nets.DigitsTask("fcp"), "train", "float64")
    solutions = _solutions()
    pairs = np.array([[0, 1], [1, 3], [2, 3]])
    together = _optimise(loss, solutions, pairs)
    for k in range(len(pairs)):
        alone = _optimise(loss, solutions, pairs[k:k + 1])
        scale = np.abs(alone["coefficients"][0].numpy()).max()
        assert scale > 0  # the path moved
        np.testing.assert_allclose(together["coefficients"][k].numpy(), alone["coefficients"][0].numpy(),
                                   rtol=0, atol=1e-10 * scale)
        assert together["kept_step"][k] == alone["kept_step"][0]
    # a different seed draws other mini-batches, so other paths
    other = _optimise(loss, solutions, pairs[:1], seed=4)
    assert not np.allclose(other["coefficients"][0].numpy(), together["coefficients"][0].numpy())


def test_the_kept_objective_is_the_exact_full_set_objective():
    """The returned objective is the full-data path objective (less its constant end values) of the kept
    coefficients, recomputed here with paths.path_objective, and never above the straight line's."""
    task = nets.DigitsTask("fcp")
    loss = barriers.landscape_loss(task, "train", "float64")
    solutions = _solutions()
    pairs = np.array([[0, 2], [1, 2]])
    out = _optimise(loss, solutions, pairs)
    t = torch.linspace(0, 1, 51, dtype=torch.float64)
    for k, (i, j) in enumerate(pairs):
        start, end = torch.tensor(solutions[i]), torch.tensor(solutions[j])
        points = paths.fourier_points(t, start, end, out["coefficients"][k])
        values = loss(points)
        expected = paths.path_objective(values, points, 1e-4) - values[0] - values[-1]
        assert abs(float(expected) - out["objective"][k]) <= 1e-10 * abs(float(expected))
        assert out["objective"][k] <= out["line_objective"][k]
    assert (out["objective"] < out["line_objective"]).all()  # six steps from random networks always help


def test_mini_batch_losses_are_the_subset_losses():
    """A pair's points on its mini-batch give the loss of that subset (the per-point data path)."""
    task = nets.DigitsTask("fcp")
    loss = barriers.landscape_loss(task, "train", "float64")
    solutions = torch.tensor(_solutions(3))
    inner = torch.stack([solutions[:2], solutions[1:]])  # (Q=2, M=2, D)
    rows = torch.tensor([[0, 5, 7], [2, 3, 900]])
    values = barriers._interior_losses(loss, inner, rows, loss.inputs, loss.targets, group=1)
    for q in range(2):
        subset = loss.unchecked(inner[q], loss.inputs[rows[q]], loss.targets[rows[q]])
        np.testing.assert_allclose(values[q].numpy(), subset.numpy(), rtol=1e-12)
    whole = barriers._interior_losses(loss, inner, None, None, None, group=1)
    assert not np.allclose(values.numpy(), whole.numpy())


def test_pair_barriers_do_not_depend_on_n_jobs(tmp_path, monkeypatch):
    monkeypatch.setenv("EBCORE_CACHE", str(tmp_path))
    solutions = _solutions()
    pairs = np.array([[0, 1], [2, 3]])
    options = dict(steps=2, select_every=1, precision="float64")
    one = barriers.pair_barriers("fcp", solutions, pairs, n_jobs=1, **options)
    two = barriers.pair_barriers("fcp", solutions, pairs, n_jobs=2, **options)
    assert set(one) >= set(barriers.BARRIER_FIELDS)
    for key in one:
        np.testing.assert_allclose(one[key], two[key], rtol=1e-9, err_msg=key)


def test_paths_optimised_on_the_test_landscape(tmp_path, monkeypatch):
    """landscape="test" optimises and selects on the test set's loss: the kept objective is the test landscape's
    exact objective, below the test line's, and not the training landscape's."""
    monkeypatch.setenv("EBCORE_CACHE", str(tmp_path))
    solutions = _solutions(2)
    pairs = np.array([[0, 1]])
    options = dict(steps=4, select_every=2, precision="float64", batch_size=None)
    on_test = barriers.pair_barriers("fcp", solutions, pairs, landscape="test", **options)
    on_train = barriers.pair_barriers("fcp", solutions, pairs, **options)
    test_loss = barriers.landscape_loss(nets.DigitsTask("fcp"), "test", "float64")
    start, end = (torch.tensor(solutions[k]) for k in (0, 1))
    t = torch.linspace(0, 1, 51, dtype=torch.float64)
    line = (1 - t)[:, None] * start + t[:, None] * end
    values = test_loss(line)
    line_objective = float(paths.path_objective(values, line, 1e-4) - values[0] - values[-1])
    assert on_test["line_objective"][0] == pytest.approx(line_objective, rel=1e-10)
    assert on_test["objective"][0] < on_test["line_objective"][0]
    assert on_train["line_objective"][0] != pytest.approx(line_objective, rel=1e-6)  # the training set's line


def test_pair_path_settings_are_checked():
    loss = barriers.landscape_loss(nets.DigitsTask("fcp"), "train", "float32")
    solutions = _solutions(2)
    pairs = np.array([[0, 1]])
    with pytest.raises(ValueError, match="settings"):
        barriers.pair_barriers("fcp", solutions, pairs, subsample=128)
    with pytest.raises(ValueError, match="precision"):
        barriers.pair_barriers("fcp", solutions, pairs, precision="float16")
    with pytest.raises(ValueError, match="landscape"):
        barriers.pair_barriers("fcp", solutions, pairs, landscape="validation")
    with pytest.raises(ValueError, match="pair_ids"):
        start = torch.tensor(solutions[:1], dtype=torch.float32)
        barriers.optimise_pair_paths(loss, start, start, np.array([[0, 1, 2]]))
    with pytest.raises(TypeError, match="loss"):
        barriers.optimise_pair_paths(lambda x: x.sum(1), torch.zeros(1, 3), torch.zeros(1, 3), [[0, 1]])
    with pytest.raises(ValueError, match="batch_size"):
        _optimise(loss, solutions, pairs, batch_size=0)
    with pytest.raises(ValueError, match="precision"):
        barriers.landscape_loss(nets.DigitsTask("fcp"), "train", "half")


def test_attention_paths_on_mini_batches():
    """The attention denoiser checks its tokens in forward; on the per-pair mini-batch path those tokens are
    vmap-batched, so the check must keep to shapes and dtypes (the data were checked when the loss was built)
    and the optimisation must still run and keep a path no higher than the straight line."""
    from ebcore import models
    job = {"kind": "attention", "task": {"family": "mixture", "n_tokens": 8, "n_contexts": (12, 4, 4), "seed": 5,
                                         "dtype": torch.float64}, "model": {"depth": 1}, "epochs": 2}
    bound = models.LandscapeTask(job)
    points = np.stack([np.asarray(flat_parameters(bound.make_model(seed))) for seed in (1, 2)])
    out = barriers.pair_barriers(bound, points, np.array([[0, 1]]), steps=4, batch_size=4, select_every=2,
                                 progress=False)
    assert np.isfinite(out["train_barrier"]).all()
    assert out["train_barrier"][0] <= out["linear_train_barrier"][0] * (1 + 1e-6)
    with pytest.raises(ValueError, match="tokens"):
        bound.make_model(1)(torch.full((8, 2), float("nan"), dtype=torch.float64))


def test_bezier_family_is_the_quadratic_bezier_curve():
    """family_points("bezier") is (1-t)^2 a + 2t(1-t) theta + t^2 b with theta = (a + b)/2 + phi; the ends stay."""
    generator = torch.Generator().manual_seed(0)
    a, b, phi = (torch.randn(5, dtype=torch.float64, generator=generator) for _ in range(3))
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    curve = barriers.family_points("bezier", t, a, b, phi[None])
    theta = (a + b) / 2 + phi
    expected = (1 - t)[:, None] ** 2 * a + (2 * t * (1 - t))[:, None] * theta + t[:, None] ** 2 * b
    torch.testing.assert_close(curve, expected, rtol=0, atol=1e-14)
    fourier = barriers.family_points("fourier", t, a, b, phi[None])
    torch.testing.assert_close(fourier, paths.fourier_points(t, a, b, phi[None]), rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="family"):
        barriers.path_basis("spline", t, 1)


def test_bezier_paths_keep_the_exact_objective():
    """Optimised as a Bezier curve, each pair keeps one control point, and its kept objective is the exact
    full-set objective of that curve, below the straight line's."""
    loss = barriers.landscape_loss(nets.DigitsTask("fcp"), "train", "float64")
    solutions = _solutions()
    pairs = np.array([[0, 2], [1, 3]])
    out = _optimise(loss, solutions, pairs, family="bezier")
    assert out["coefficients"].shape == (2, 1, solutions.shape[1])
    t = torch.linspace(0, 1, 51, dtype=torch.float64)
    for k, (i, j) in enumerate(pairs):
        points = barriers.family_points("bezier", t, torch.tensor(solutions[i]), torch.tensor(solutions[j]),
                                        out["coefficients"][k])
        values = loss(points)
        expected = paths.path_objective(values, points, 1e-4) - values[0] - values[-1]
        assert abs(float(expected) - out["objective"][k]) <= 1e-10 * abs(float(expected))
    assert (out["objective"] < out["line_objective"]).all()
    fourier = _optimise(loss, solutions, pairs)
    assert out["evaluations"] == fourier["evaluations"]  # the same budget
    with pytest.raises(ValueError, match="family"):
        _optimise(loss, solutions, pairs, family="spline")
