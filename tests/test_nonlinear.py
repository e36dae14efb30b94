"""Tests of linear_lens.nonlinear: what survives of the balance in Y = W2 sigma(W1 X) (Anguita, 2024, Sec. 4.5)."""

import numpy as np
import pytest
import torch

from linear_lens import balanced, continual as cl, gradient_flow as gf, nonlinear
from linear_lens.balanced import lambda_balanced_init
from linear_lens.tasks import random_regression_task

F64 = torch.float64


# ----------------------------------------------------------------------------------------------------------------
# fitted_lambda under training (Section 4.5): conserved by gradient flow for homogeneous activations
# ----------------------------------------------------------------------------------------------------------------


def _small_training_problem():
    gen = torch.Generator().manual_seed(8)
    X, Y = random_regression_task(4, 3, 20, generator=gen)
    W1, W2 = lambda_balanced_init(0.5, 4, 3, 3, sigma=0.5, generator=gen)
    return W1, W2, X, 2 * Y


@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_diagonal_of_balance_drifts_at_first_order_in_lr_for_homogeneous_activations(activation):
    """Gradient flow conserves diag(B) (Du et al. 2018); gradient descent drifts by O(lr): halving lr halves it."""
    W1, W2, X, Y = _small_training_problem()
    rec = nonlinear.fitted_lambda_training(W1, W2, X, Y, activation, [0.04, 0.02, 0.01], horizon=2.0, n_record=5)
    drift = rec["diag_drift"][:, -1]
    assert float(drift[0]) > 1e-5, f"{activation}: no measurable drift at lr=0.04 ({float(drift[0])})"
    ratios = drift[:-1] / drift[1:]
    assert bool(((ratios - 2).abs() < 0.25).all()), f"{activation}: drift ratios {ratios.tolist()}, expected 2"
    assert float(rec["loss"][0, -1]) < float(rec["loss"][0, 0]), "training should lower the loss"


def test_linear_network_conserves_all_of_balance_and_tanh_does_not():
    W1, W2, X, Y = _small_training_problem()
    lin = nonlinear.fitted_lambda_training(W1, W2, X, Y, "identity", [0.02, 0.01], horizon=2.0, n_record=4)
    assert bool((lin["distance"][:, -1] / torch.tensor([0.02, 0.01], dtype=F64) < 5).all()), "B = lam I up to O(lr)"
    tanh = nonlinear.fitted_lambda_training(W1, W2, X, Y, "tanh", [0.02, 0.01], horizon=2.0, n_record=4)
    drift = (tanh["lam_star"][:, -1] - tanh["lam_star"][:, 0]).abs()
    assert float(drift[1]) > 1e-2 and abs(float(drift[0] / drift[1]) - 1) < 0.05, f"tanh drift {drift.tolist()}"


def test_fitted_lambda_training_rejects_bad_input():
    W1, W2, X, Y = _small_training_problem()
    with pytest.raises(ValueError, match="^lrs: horizon / lr must be a multiple of n_record"):
        nonlinear.fitted_lambda_training(W1, W2, X, Y, "relu", [0.03], horizon=1.0, n_record=4)
    with pytest.raises(ValueError, match="^lrs: expected a non-empty list"):
        nonlinear.fitted_lambda_training(W1, W2, X, Y, "relu", [], horizon=1.0)
    with pytest.raises(ValueError, match="^X, Y: expected shapes"):
        nonlinear.fitted_lambda_training(W1, W2, X[:2], Y, "relu", [0.1], horizon=1.0, n_record=5)
    with pytest.raises(ValueError, match="^activation: unknown name"):
        nonlinear.fitted_lambda_training(W1, W2, X, Y, "swish2", [0.1], horizon=1.0, n_record=5)
    with pytest.raises(ValueError, match="^horizon: expected a finite positive number"):
        nonlinear.fitted_lambda_training(W1, W2, X, Y, "relu", [0.1], horizon=-1.0)


def test_mixed_dtypes_are_computed_in_float64_and_seeds_are_accepted():
    W1, W2, X, Y = _small_training_problem()
    rec = nonlinear.fitted_lambda_training(W1.float(), W2, X, Y.float(), "relu", [0.05], horizon=0.5, n_record=5,
                                           show_progress=False)
    assert rec["lam_star"].dtype == F64 and bool(torch.isfinite(rec["loss"]).all())


def test_gradient_descent_lowers_the_loss_for_every_activation():
    W1, W2, X, Y = _small_training_problem()
    for activation in ("relu", "tanh", "identity"):
        rec = nonlinear.fitted_lambda_training(W1, W2, X, Y, activation, [0.02], horizon=1.0, n_record=5,
                                               show_progress=False)
        assert float(rec["loss"][0, -1]) < float(rec["loss"][0, 0]), activation


# --- the balance through gradient flow and sequences of tasks (Fig. 4.8) -------------------------------------------


@pytest.mark.parametrize("activation", nonlinear.ACTIVATIONS)
def test_nonlinear_gradients_against_autograd(activation, generator):
    X, Y = cl.random_target_task(4, 3, 10, generator)
    W1 = torch.randn(2, 5, 4, generator=generator, dtype=F64)
    W2 = torch.randn(2, 3, 5, generator=generator, dtype=F64)
    A, B = W1.clone().requires_grad_(), W2.clone().requires_grad_()
    ga, gb = torch.autograd.grad(nonlinear.nonlinear_loss(A, B, X, Y, activation).sum(), (A, B))
    g1, g2 = nonlinear.nonlinear_gradients(W1, W2, X, Y, activation)
    torch.testing.assert_close(g1, ga, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(g2, gb, rtol=1e-12, atol=1e-13)
    rate = nonlinear.neuron_balance_rate(W1, W2, X, Y, activation)
    reference = -2 * ((W2 * g2).sum(-2) - (W1 * g1).sum(-1))           # d/dt B_jj = -2(<w_out, g_out> - <w_in, g_in>)
    torch.testing.assert_close(rate, reference, rtol=1e-12, atol=1e-12)
    if activation in ("linear", "relu"):
        assert float(rate.abs().max()) < 1e-12, "positively homogeneous activations conserve B_jj"
    grad_norm = torch.sqrt(g1.pow(2).sum((-1, -2)) + g2.pow(2).sum((-1, -2)))
    theta_norm = torch.sqrt(W1.pow(2).sum((-1, -2)) + W2.pow(2).sum((-1, -2)))
    assert bool((rate.mean(-1).abs() <= 2 / 5 * grad_norm * theta_norm + 1e-12).all()), "the bound on dlambda*/dt"


def test_integrate_nonlinear_linear_matches_gradient_flow(generator):
    X, Y = cl.random_target_task(3, 2, 9, generator)
    W1 = 0.6 * torch.randn(4, 3, generator=generator, dtype=F64)
    W2 = 0.6 * torch.randn(2, 4, generator=generator, dtype=F64)
    t = np.linspace(0, 3, 4)
    ours = nonlinear.integrate_nonlinear(W1, W2, X, Y, "linear", t)
    ref = gf.integrate(W1, W2, X, Y, t, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours.W1, ref.W1, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(ours.loss, ref.loss, rtol=1e-9, atol=1e-12)


def test_tanh_descent_converges_to_the_flow(generator):
    X, Y = cl.random_target_task(3, 2, 8, generator)
    W1 = 0.7 * torch.randn(4, 3, generator=generator, dtype=F64)
    W2 = 0.7 * torch.randn(2, 4, generator=generator, dtype=F64)
    flow = nonlinear.integrate_nonlinear(W1, W2, X, Y, "tanh", [0.0, 2.0])
    gaps = []
    for eta in (0.02, 0.01):
        r = nonlinear.nonlinear_sequence(W1, W2, X[None], Y[None], "tanh", eta, int(round(2 / eta)), show_progress=False)
        gaps.append(float((r["W1"] - flow.W1[-1]).abs().max()))
    assert gaps[1] < 0.6 * gaps[0] and gaps[1] < 1e-2, f"gradient descent must approach the flow at O(eta): {gaps}"


def test_relu_step_changes_balance_at_second_order_only(generator):
    X, Y = cl.random_target_task(3, 2, 8, generator)
    W1 = torch.randn(5, 3, generator=generator, dtype=F64)
    W2 = torch.randn(2, 5, generator=generator, dtype=F64)
    eta = 0.05
    g1, g2 = nonlinear.nonlinear_gradients(W1, W2, X, Y, "relu")
    r = nonlinear.nonlinear_sequence(W1, W2, X[None], Y[None], "relu", eta, 1, show_progress=False)
    Bjj = lambda A, C: (C**2).sum(-2) - (A**2).sum(-1)  # noqa: E731
    expected = eta**2 * (g2.pow(2).sum(-2) - g1.pow(2).sum(-1))
    torch.testing.assert_close(Bjj(r["W1"], r["W2"]) - Bjj(W1, W2), expected, rtol=1e-9, atol=1e-13,
                               msg="one ReLU step changes B_jj by eta^2 (|g_out|^2 - |g_in|^2) exactly")


def test_nonlinear_sequence_padding_is_exact(generator):
    # a 3-3-3 network with P = 6 embedded in 5-5-5 with P = 10 must train exactly as on its own
    X = torch.stack([cl.random_target_task(3, 3, 6, generator)[0] for _ in range(2)])
    Y = torch.randn(2, 3, 6, generator=generator, dtype=F64)
    W1, W2 = balanced.lambda_balanced_init(2.0, 3, 3, 3, generator=generator)
    alone = nonlinear.nonlinear_sequence(W1, W2, X, Y, "tanh", 0.01, 50, show_progress=False)
    P1, P2 = torch.zeros(5, 5, dtype=F64), torch.zeros(5, 5, dtype=F64)
    P1[:3, :3], P2[:3, :3] = W1, W2
    Xp, Yp = torch.zeros(2, 5, 10, dtype=F64), torch.zeros(2, 5, 10, dtype=F64)
    Xp[:, :3, :6], Yp[:, :3, :6] = X, Y
    padded = nonlinear.nonlinear_sequence(P1[None], P2[None], Xp[:, None], Yp[:, None], "tanh", 0.01, 50, n_samples=[6],
                                   hidden=[3], show_progress=False)
    torch.testing.assert_close(padded["W1"][0, :3, :3], alone["W1"], rtol=1e-12, atol=1e-14)
    assert float(padded["W1"][0, 3:].abs().max()) == 0.0 and float(padded["W2"][0, :, 3:].abs().max()) == 0.0
    for key in ("lam_star", "distance", "loss"):
        torch.testing.assert_close(padded[key][:, 0], alone[key], rtol=1e-12, atol=1e-12, msg=key)


def test_nonlinear_sequence_refusals(generator):
    X, Y = cl.random_target_task(3, 2, 6, generator)
    W1, W2 = torch.zeros(4, 3, dtype=F64), torch.zeros(2, 4, dtype=F64)
    with pytest.raises(ValueError, match="activation"):
        nonlinear.nonlinear_sequence(W1, W2, X[None], Y[None], "gelu", 0.1, 2)
    with pytest.raises(ValueError, match="chain"):
        nonlinear.nonlinear_sequence(W1, W2, Y[None], Y[None], "relu", 0.1, 2)
    with pytest.raises(ValueError, match="lr"):
        nonlinear.nonlinear_sequence(W1, W2, X[None], Y[None], "relu", -0.1, 2)


def test_balance_experiment_shapes_and_extension():
    a = nonlinear.balance_experiment([1.0, -1.0], ["linear", "tanh"], 3, n_tasks=1, steps=40, lr=0.01, widths=(3, 5),
                              generator=torch.Generator().manual_seed(4), show_progress=False)
    b = nonlinear.balance_experiment([1.0, -1.0], ["linear", "tanh"], 3, n_tasks=2, steps=40, lr=0.01, widths=(3, 5),
                              generator=torch.Generator().manual_seed(4), show_progress=False)
    assert a["lam_star"].shape == (2, 2, 3, 2) and b["lam_star"].shape == (2, 2, 3, 3)
    torch.testing.assert_close(b["lam_star"][..., :2], a["lam_star"], rtol=0, atol=0,
                               msg="a longer sequence must extend a shorter one")
    torch.testing.assert_close(a["lam_star"][:, :, :, 0], torch.tensor([1.0, -1.0], dtype=F64)[None, :, None]
                               .expand(2, 2, 3), rtol=0, atol=1e-12, msg="balanced start")
    assert float((a["lam_star"][0, :, :, -1] - a["lam_star"][0, :, :, 0]).abs().max()) < 5e-2, "linear keeps lambda* (to O(eta))"
