"""The loss of many parameter vectors at once (BatchedLoss)."""
import numpy as np
import pytest
import torch

from ebcore import landscape, nets


def test_batched_loss_matches_the_per_point_loop():
    for arch in ("fcp", "lstm"):
        task = nets.DigitsTask(arch)
        loss = landscape.batched_loss(task, subsample=64)
        w = torch.stack([torch.as_tensor(landscape.flat_parameters(task.make_model(s))) for s in range(3)]).to(task.dtype)
        pts = w.clone().requires_grad_(True)
        values = loss(pts)
        (grads,) = torch.autograd.grad(values.sum(), pts)
        loop_values, loop_grads = loss.loop(w)
        tol = 1e-12 if task.dtype == torch.float64 else 1e-5
        torch.testing.assert_close(values.detach(), loop_values, rtol=tol, atol=tol)
        torch.testing.assert_close(grads, loop_grads, rtol=tol, atol=tol)


def test_batched_loss_input_errors():
    task = nets.DigitsTask("fcp")
    loss = landscape.batched_loss(task, subsample=10)
    with pytest.raises(ValueError, match="points"):
        loss(torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match="points"):
        loss(np.zeros((2, loss.dimension)))
    with pytest.raises(ValueError, match="split"):
        landscape.batched_loss(task, "holdout")
    with pytest.raises(ValueError, match="subsample"):
        landscape.batched_loss(task, subsample=0)
    x, y = task.data("train")
    with pytest.raises(ValueError, match="same number of samples"):
        landscape.BatchedLoss(task.make_model(0), x, y[:-1], task.loss)
    with pytest.raises(TypeError, match="model"):
        landscape.BatchedLoss("net", x, y, task.loss)
