"""Reverse diffusion (chapter 6): the probability-flow ODE, trajectory errors, input checks."""
import pytest

import ebcore


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.diffusion.trajectory_error(ebcore.diffusion.one_d_prior("gaussian"), 1.0, 0, 0.5, 0.5, 0.1, 0, 1),
     ValueError, "n_tokens"),
    (lambda: ebcore.diffusion.error_grid("gaussian", 1.0, [64.5], [0.5], 0.5, 0.1, 2, 0), TypeError, "sizes"),
    (lambda: ebcore.diffusion.error_grid("gaussian", 1.0, [64], [0.5], 0.5, 0.1, 2, "0"), TypeError, "seed"),
])
def test_inputs_that_used_to_reach_raw_exceptions_or_a_wrong_cache_entry(call, error, match):
    # each of these raised an AttributeError/KeyError/IndexError/RuntimeError from deep inside, or
    # (the cached functions) converted 2.9 to 2 or 0.7 to 0 and served another entry from a warm cache
    with pytest.raises(error, match=match):
        call()
