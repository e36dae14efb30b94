"""Tests of linear_lens.modes: the task's modes, weights read in them, and gradient descent mode by mode (Anguita, 2024)."""

import os

import pytest
import torch

from linear_lens import aligned, balanced, gradient_flow as gf, modes, tasks
from test_aligned import _aligned_net

F64 = torch.float64


# --- weights read in the task's modes -----------------------------------------------------------------------------


def test_factored_residual():
    for lam, dims in [(0.5, (4, 4, 4)), (3.0, (3, 5, 4)), (-3.0, (5, 3, 4)), (1.0, (4, 4, 2)), (0.0, (3, 5, 7))]:
        W1, W2, X, Y = _aligned_net(lam, dims[0], dims[1], dims[2])
        U, _, V = modes.task_modes(X, Y, full=True)
        assert float(modes.factored_residual(W1, W2, U, V)) < 1e-13
        # any basis of the null spaces describes the same form
        k = min(dims[:2])
        Qo = torch.eye(dims[1], dtype=F64)
        if dims[1] - k >= 2:
            Qo[k:, k:] = torch.linalg.qr(torch.randn(dims[1] - k, dims[1] - k, dtype=F64,
                                                     generator=torch.Generator().manual_seed(0)))[0]
        assert float(modes.factored_residual(W1, W2, U @ Qo, V)) < 1e-13
        n_h = dims[2]
        G = torch.eye(n_h, dtype=F64) + 0.3 * torch.randn(n_h, n_h, dtype=F64, generator=torch.Generator().manual_seed(1))
        assert float(modes.factored_residual(G @ W1, W2 @ torch.linalg.inv(G), U, V)) > 1e-3
    batch = modes.factored_residual(torch.stack([W1, 2 * W1]), torch.stack([W2, W2 / 2]), U, V)
    assert batch.shape == (2,) and float(batch.max()) < 1e-13


# --- gradient descent, mode by mode -------------------------------------------------------------------------------


@pytest.mark.parametrize("lam", [-3.0, 0.0, 0.5, 10.0])
def test_gradient_descent_shrinks_each_mode_balance_exactly(lam, generator):
    """d^2 - c^2 -> (d^2 - c^2)(1 - lr^2 e^2) per step, to roundoff; zero balance stays zero."""
    X, Y = tasks.regression_task_with_spectrum([3.0, 1.0, 0.5], 3, 3, 20, generator=generator)
    W1, W2 = balanced.aligned_lambda_balanced_init(lam, X, Y, 3, sigma=0.3, generator=generator)
    U, s, V = modes.task_modes(X, Y)
    torch.testing.assert_close(modes.mode_balance(W1, W2, U, V), torch.full((3,), lam, dtype=F64), rtol=0, atol=1e-12)
    traj = gf.train(W1, W2, X, Y, lr=0.02, steps=200)
    a, _ = modes.mode_values(traj.W1, traj.W2, U, V)
    measured = modes.mode_balance(traj.W1, traj.W2, U, V)
    torch.testing.assert_close(measured, modes.descent_mode_balance(lam, a, s, 0.02), rtol=1e-12, atol=1e-12)
    if lam != 0:
        assert float((measured[-1] / lam).max()) < 1 - 1e-6, "gradient descent should shrink |lambda|"


def test_mode_descent_is_gradient_descent_on_an_aligned_network():
    W1, W2, X, Y = _aligned_net(0.8, 3, 3, 3)
    U, s, V = modes.task_modes(X, Y)
    a0, _ = modes.mode_values(W1, W2, U, V)
    run = gf.train(W1, W2, X, Y, lr=0.05, steps=40, record_every=1, show_progress=False)
    a_net, _ = modes.mode_values(run.W1, run.W2, U, V)
    a_modes, balance = modes.mode_descent(0.8, s, a0, 0.05, 40)
    torch.testing.assert_close(a_modes, a_net, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(balance, modes.mode_balance(run.W1, run.W2, U, V), rtol=1e-10, atol=1e-12)


def test_mode_descent_step_cap():
    """Below 2/K gradient descent settles at the lambda-balanced minimum; above it, it does not."""
    lam = torch.tensor([0.0, 1.0, 10.0, 1e3], dtype=F64)
    K = aligned.mode_curvature(lam, 1.0)
    a, b = modes.mode_descent(lam, 1.0, 1e-3, 1.8 / K, 600)
    assert float((a[-1] - 1).abs().max()) < 1e-10
    a, b = modes.mode_descent(lam, 1.0, 1e-3, 2.2 / K, 600)
    at_min = ((a[-1] - 1).abs() < 1e-6) & ((b[-1] - lam).abs() < 1e-3 * lam.clamp(min=1))
    assert not bool(at_min.any())
    a, _ = modes.mode_descent(1.0, 1.0, 0.5, 50.0, 20)
    assert bool(torch.isnan(a[-1])), "a diverging run is reported as NaN"


# --- bad input ----------------------------------------------------------------------------------------------------


def test_errors():
    with pytest.raises(ValueError, match="^lr: expected a finite positive number"):
        modes.descent_mode_balance(1.0, torch.zeros(3, 2), 1.0, 0.0)
    with pytest.raises(ValueError, match="^a: expected the modes at every step"):
        modes.descent_mode_balance(1.0, torch.tensor(0.5), 1.0, 0.1)
    with pytest.raises(ValueError, match="^W1, W2, U, V: shapes"):
        modes.mode_balance(torch.ones(2, 3), torch.ones(2, 2), torch.eye(2), torch.eye(2))
    with pytest.raises(ValueError, match="^X, Y: expected shapes"):
        modes.task_modes(torch.ones(2, 5), torch.ones(2, 4))
    with pytest.raises(ValueError, match="^W1, W2, U, V: shapes"):
        modes.mode_values(torch.ones(2, 3), torch.ones(2, 2), torch.eye(2), torch.eye(2))


DEVICE = torch.device(os.environ.get("LINEAR_LENS_TEST_DEVICE", "cpu"))


@pytest.mark.skipif(DEVICE.type == "cuda" and not torch.cuda.is_available(), reason="no CUDA device")
def test_on_device():
    """Results stay on the device of the inputs (LINEAR_LENS_TEST_DEVICE, default cpu)."""
    lam = torch.tensor([-2.0, 0.0, 0.5, 30.0], dtype=F64)
    a0 = torch.tensor([-0.3, 0.01, 0.2, 1e-100], dtype=F64)
    m_dev, _ = modes.mode_descent(lam.to(DEVICE), 1.0, a0.abs().to(DEVICE), 0.05, 10)
    assert m_dev.device.type == DEVICE.type
