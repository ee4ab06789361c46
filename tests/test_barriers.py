"""Barriers between pairs of solutions (chapter 11)."""
import numpy as np
import pytest

import ebcore
from ebcore import barriers, stats


def test_bad_input_names_the_argument():
    """Every public function added for chapters 7, 8, 12 and 13 rejects bad input with the argument's name."""
    cases = [
        (ValueError, "n_jobs", lambda: ebcore.barriers.pair_barriers("fcp", np.zeros((2, 6200)), np.array([[0, 1]]),
                                                                    n_jobs=0)),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()


def test_random_pairs_and_bootstrap():
    pairs = barriers.random_pairs(5, 10, seed=0)
    assert len({tuple(p) for p in pairs}) == 10 and (pairs[:, 0] < pairs[:, 1]).all()
    with pytest.raises(ValueError, match="n_pairs"):
        barriers.random_pairs(4, 7)
    median, low, high = stats.bootstrap_median_ci(np.arange(101.0))
    assert median == 50.0 and low < 50 < high
    with pytest.raises(ValueError, match="samples"):
        stats.bootstrap_median_ci([])
    with pytest.raises(ValueError, match="pairs"):
        barriers.pair_barriers("fcp", np.zeros((3, 6200)), np.array([[0, 5]]))
    with pytest.raises(ValueError, match="align"):
        barriers.pair_barriers("lstm", np.zeros((3, 11616)), np.array([[0, 1]]), align=True)


def test_path_convergence_input_checks():
    with pytest.raises(ValueError, match="pairs"):
        barriers.path_convergence("fcp", np.zeros((2, 4)), np.array([[0, 2]]))
    with pytest.raises(ValueError, match="architecture"):
        barriers.path_convergence("resnet", np.zeros((2, 4)), np.array([[0, 1]]))


def test_dataset_goes_with_an_architecture_name_only():
    from ebcore import nets

    with pytest.raises(ValueError, match="dataset"):
        barriers.pair_barriers(nets.DigitsTask("fcp"), np.zeros((2, 6200)), np.array([[0, 1]]), dataset="mnist")


def test_disjoint_pairs_are_a_matching():
    """Every solution is in at most one pair, the pairs cover all but one of an odd set, and the seed decides them."""
    for n in (2, 7, 16):
        pairs = barriers.disjoint_pairs(n, seed=3)
        assert pairs.shape == (n // 2, 2) and (pairs[:, 0] < pairs[:, 1]).all()
        assert len(np.unique(pairs)) == 2 * (n // 2) and pairs.max() < n
        assert np.array_equal(pairs, barriers.disjoint_pairs(n, seed=3))
    draws = {tuple(map(tuple, barriers.disjoint_pairs(6, seed=s))) for s in range(50)}
    assert len(draws) > 10  # a random matching, not a fixed one (6 solutions have 15 matchings)
    with pytest.raises(ValueError, match="n"):
        barriers.disjoint_pairs(1)


def test_line_barriers_match_the_line_measured_by_hand(isolated_cache):
    """The line's barrier is the highest whole-set loss at the equally spaced points; aligning keeps the end losses."""
    from ebcore import nets, paths

    solutions = np.stack([ebcore.landscape.flat_parameters(nets.make_net("fcp", seed)) for seed in range(4)])
    pairs = np.array([[0, 1], [2, 3]])
    out = barriers.line_barriers("fcp", solutions, pairs, n_points=11, precision="float64")
    task = nets.DigitsTask("fcp")
    for split in ("train", "test"):
        loss = barriers.landscape_loss(task, split, "float64")
        for k, (i, j) in enumerate(pairs):
            t = np.linspace(0.0, 1.0, 11)[:, None]
            heights = paths.path_heights(loss, (1 - t) * solutions[i] + t * solutions[j])
            assert out[f"{split}_barrier"][k] == pytest.approx(heights.max(), rel=1e-12)
            assert out[f"{split}_excess"][k] == pytest.approx(heights.max() - max(heights[0], heights[-1]), rel=1e-12)
    assert out["distance"] == pytest.approx(np.linalg.norm(solutions[[1, 3]] - solutions[[0, 2]], axis=1))
    aligned = barriers.line_barriers("fcp", solutions, pairs, n_points=11, precision="float64", align=True)
    # a permutation keeps each end point's loss, so the higher end is the same before and after aligning
    for split in ("train", "test"):
        np.testing.assert_allclose(aligned[f"{split}_barrier"] - aligned[f"{split}_excess"],
                                   out[f"{split}_barrier"] - out[f"{split}_excess"], rtol=1e-10)
    assert (aligned["distance"] <= out["distance"] + 1e-9).all()
    with pytest.raises(ValueError, match="align"):
        barriers.line_barriers("lstm", np.zeros((2, 11616)), np.array([[0, 1]]), align=True)
    with pytest.raises(TypeError, match="architecture"):
        barriers.line_barriers(object(), solutions, pairs)
