"""Reading trained denoisers: attention invariants, scaled-identity fits, reports."""
import numpy as np
import pytest

from ebcore import models


@pytest.mark.audit("prop-attention-symmetries")
def test_attention_invariants():
    model = models.AttentionDenoiser.from_theory(3, 0.5, 0.2, 0.8, 2)
    rows = models.attention_invariants(model)
    assert [r["layer"] for r in rows] == ["layer 1", "layer 2", "layer 3", "final"]
    np.testing.assert_allclose(rows[0]["bandwidths"], [0.5, 0.5], rtol=1e-12)
    np.testing.assert_allclose(rows[-1]["bandwidths"], [0.8, 0.8], rtol=1e-12)
    assert rows[0]["cross"][0] == pytest.approx(4.0) and rows[0]["cross"][1] == pytest.approx(0.0, abs=1e-15)
    assert rows[1]["step"] == pytest.approx(0.2) and rows[-1]["step"] is None
    c, residual = models.scaled_identity_fit(np.array([[2.0, 1.0], [0.0, 2.0]]))
    assert c == 2.0 and residual == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="square"):
        models.scaled_identity_fit(np.ones((2, 3)))
    with pytest.raises(TypeError, match="AttentionDenoiser"):
        models.attention_invariants(models.OneLayerDenoiser(2))


def test_bad_input_names_the_argument():
    """Every public function added for chapters 7, 8, 12 and 13 rejects bad input with the argument's name."""
    cases = [
        (TypeError, "task", lambda: models.denoising_report(models.AttentionDenoiser(2, 1), "task")),
        (TypeError, "task", lambda: models.scaled_identity_loss("task", "linear", [1.0], [1.0])),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()
