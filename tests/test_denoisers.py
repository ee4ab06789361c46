"""The trainable attention denoisers (chapter 8): AttentionDenoiser and OneLayerDenoiser."""
import pytest
import torch

import ebcore


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.models.OneLayerDenoiser(16, attention="linear", seed=2, dtype=torch.float64)(torch.zeros(2, 4, 16)),
     TypeError, "tokens"),
])
def test_inputs_that_used_to_reach_raw_exceptions_or_a_wrong_cache_entry(call, error, match):
    # each of these raised an AttributeError/KeyError/IndexError/RuntimeError from deep inside, or
    # (the cached functions) converted 2.9 to 2 or 0.7 to 0 and served another entry from a warm cache
    with pytest.raises(error, match=match):
        call()
