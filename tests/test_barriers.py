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
