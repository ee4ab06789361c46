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


def test_own_input_jacobian_matches_finite_differences():
    import torch

    model = models.AttentionDenoiser(2, 3, seed=4, dtype=torch.float32)
    tokens = torch.randn(3, 9, 2, generator=torch.Generator().manual_seed(1))
    blocks = models.own_input_jacobian(model, tokens)
    assert blocks.shape == (3, 9, 2, 2) and blocks.dtype == np.float64
    exact = model.double()
    x, step = tokens.double(), 1e-6
    for context, token, coordinate in ((0, 0, 0), (1, 4, 1), (2, 8, 0)):
        bump = torch.zeros_like(x)
        bump[context, token, coordinate] = step
        with torch.no_grad():
            difference = (exact.refine(x + bump) - exact.refine(x - bump))[context, token] / (2 * step)
        np.testing.assert_allclose(blocks[context, token, :, coordinate], difference.numpy(), rtol=1e-6, atol=1e-8)
    # with no Stage 1 the refined token is the input: the identity
    np.testing.assert_allclose(models.own_input_jacobian(models.AttentionDenoiser(2, 0), x), np.broadcast_to(np.eye(2), (3, 9, 2, 2)))
    with pytest.raises(TypeError, match="model"):
        models.own_input_jacobian(models.OneLayerDenoiser(2), x)
    with pytest.raises(ValueError, match="tokens"):
        models.own_input_jacobian(exact, x[0])


def test_query_sensitivity_is_invariant_where_the_jacobian_is_not():
    """Rescaling Stage 1's last output by c and the final maps by 1/c leaves the output unchanged: the raw
    own-input Jacobian scales by c, the query sensitivity does not move."""
    import torch

    gen = torch.Generator().manual_seed(6)
    model = models.AttentionDenoiser(2, 3, skip=False, seed=7)
    tokens = torch.randn(2, 10, 2, generator=gen, dtype=torch.float64)
    c = 5.0
    rescaled = models.AttentionDenoiser(2, 3, skip=False, seed=7)
    with torch.no_grad():
        eta = float(model.layer_step[-1])
        new_eta = 1 - c * (1 - eta)
        rescaled.layer_step[-1] = new_eta
        rescaled.layer_value[-1] = model.layer_value[-1] * c * eta / new_eta
        for name in ("final_query", "final_key", "final_value"):
            getattr(rescaled, name).copy_(getattr(model, name) / c)
        np.testing.assert_allclose(rescaled(tokens).numpy(), model(tokens).numpy(), atol=1e-12)
    raw, raw_rescaled = (np.linalg.svd(models.own_input_jacobian(m, tokens), compute_uv=False)[..., -1]
                         for m in (model, rescaled))
    np.testing.assert_allclose(raw_rescaled, c * raw, rtol=1e-9)
    np.testing.assert_allclose(models.query_sensitivity(rescaled, tokens, 0.5), models.query_sensitivity(model, tokens, 0.5),
                               rtol=1e-9)
    # the construction with its skip: Q = I / sigma, so every token's sensitivity is 1
    theory = models.AttentionDenoiser.from_theory(3, 0.7, 0.25, 0.5, 2)
    np.testing.assert_allclose(models.query_sensitivity(theory, tokens, 0.5), 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="sigma"):
        models.query_sensitivity(theory, tokens, -1.0)
