"""All-token corruption: seeded, type-preserving, input checks."""
import numpy as np
import pytest
import torch

import ebcore


def test_corrupt_is_seeded_and_type_preserving():
    x = np.zeros((4, 3))
    y1, y2 = ebcore.corrupt(x, 0.5, 7), ebcore.corrupt(x, 0.5, 7)
    np.testing.assert_array_equal(y1, y2)
    yt = ebcore.corrupt(torch.zeros(4, 3, dtype=torch.float64), 0.5, 7)
    assert isinstance(yt, torch.Tensor)
    np.testing.assert_array_equal(yt.numpy(), y1)
    assert abs(ebcore.corrupt(np.zeros(200_000), 2.0, 0).std() - 2.0) < 0.02
    with pytest.raises(ValueError, match="sigma"):
        ebcore.corrupt(x, -1.0, 0)
    with pytest.raises(TypeError, match="x must be"):
        ebcore.corrupt([0.0], 1.0, 0)
