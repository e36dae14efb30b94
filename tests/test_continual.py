"""Tests of linear_lens.continual: sequences of tasks (Anguita, 2024, Section 4.4) and nonlinear balance (Section 4.5)."""

import numpy as np
import pytest
import torch

from linear_lens import balanced, continual as cl, gradient_flow as gf, product_flow as pf, riccati as rc

F64 = torch.float64


# --- tasks and losses ---------------------------------------------------------------------------------------------


def test_random_target_task(generator):
    X, Y = cl.random_target_task(3, 2, 9, generator)
    assert X.shape == (3, 9) and Y.shape == (2, 9)
    torch.testing.assert_close(X @ X.T / 9, torch.eye(3, dtype=F64), rtol=0, atol=1e-12, msg="whitened inputs")
    with pytest.raises(ValueError, match="n_samples"):
        cl.random_target_task(4, 2, 3)


def test_correlation_loss_corrected_and_printed(generator):
    X, Y = cl.random_target_task(4, 3, 12, generator)
    W = torch.randn(2, 3, 4, generator=generator, dtype=F64)
    direct = pf.product_loss(W, X, Y)
    torch.testing.assert_close(cl.correlation_loss(W, X, Y), direct, rtol=1e-12, atol=1e-12,
                               msg="eq. (4.40) with 1/(2P) is the loss")
    torch.testing.assert_close(cl.correlation_loss(W, X, Y, printed=True) - direct,
                               ((Y * Y).sum() / 24).expand(2), rtol=1e-12, atol=1e-12,
                               msg="eq. (4.40) as printed overstates by Tr(YY^T)/(2P)")
    with pytest.raises(ValueError, match="whitened"):
        cl.correlation_loss(W, 2 * X, Y)


def test_forgetting_matrix_known_values():
    S = torch.stack([torch.zeros(2, 2, dtype=F64), torch.eye(2, dtype=F64), 3 * torch.eye(2, dtype=F64)])
    M = cl.forgetting_matrix(S)
    expected = torch.tensor([[0.0, 1.0, 9.0], [1.0, 0.0, 4.0], [9.0, 4.0, 0.0]], dtype=F64)
    torch.testing.assert_close(M, expected, rtol=0, atol=0)
    assert float(cl.forgetting(S, 0, 2, 1)) == pytest.approx(1.0 - 9.0), "moving to a closer task is negative"
    with pytest.raises(ValueError, match="i"):
        cl.forgetting(S, 3, 0, 1)


# --- sequences of tasks -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dims, lam", [((3, 3, 3), 0.7), ((3, 2, 2), 1.5), ((2, 2, 3), -0.8)])
def test_exact_sequence_against_integrated_flow(dims, lam, generator):
    n_in, n_h, n_out = dims
    tasks = [cl.random_target_task(n_in, n_out, 3 * n_in, generator) for _ in range(3)]
    W1, W2 = balanced.lambda_balanced_init(lam, n_in, n_h, n_out, sigma=0.7, generator=generator)
    seq = cl.exact_sequence(W1, W2, tasks, [2.0, 1.5, 3.0], n_times=6)
    products, A, B = [], W1, W2
    for (X, Y), dur, last in zip(tasks, [2.0, 1.5, 3.0], [False, False, True]):
        flow = gf.integrate(A, B, X, Y, np.linspace(0, dur, 7), rtol=1e-12, atol=1e-12)
        products.append(flow.product if last else flow.product[:-1])
        A, B = flow.W1[-1], flow.W2[-1]
    torch.testing.assert_close(seq.product, torch.cat(products), rtol=1e-8, atol=1e-9,
                               msg="the chained exact solution must follow the flow through the tasks")
    assert seq.t.shape == (19,) and int(seq.task[-1]) == 2
    for a, b in seq.ends:
        assert float(rc.balance_coefficient(a, b)[1]) < 1e-10, "the balance must survive every task"


def test_descent_sequence_matches_chained_train(generator):
    tasks = [cl.random_target_task(3, 2, 9, generator) for _ in range(2)]
    W1 = 0.5 * torch.randn(4, 3, generator=generator, dtype=F64)
    W2 = 0.5 * torch.randn(2, 4, generator=generator, dtype=F64)
    seq = cl.descent_sequence(W1, W2, tasks, 0.05, [30, 20], record_every=10)
    first = gf.train(W1, W2, *tasks[0], 0.05, 30, show_progress=False)
    second = gf.train(first.W1[-1], first.W2[-1], *tasks[1], 0.05, 20, show_progress=False)
    torch.testing.assert_close(seq.product[-1], second.product[-1], rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(seq.losses[3, 0], first.loss[-1], rtol=1e-12, atol=1e-13,
                               msg="loss on task 1 at the switch")
    assert seq.t.tolist() == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])


def test_loss_rate_integrates_to_the_change_of_loss(generator):
    from scipy.integrate import cumulative_simpson

    tasks = [cl.random_target_task(3, 3, 9, generator) for _ in range(2)]
    S = [Y @ X.T / 9 for X, Y in tasks]
    W1, W2 = balanced.lambda_balanced_init(2.0, 3, 3, 3, sigma=0.8, generator=generator)
    t = torch.linspace(0, 2, 2001, dtype=F64)
    P = rc.qqt_sigma(t, W1, W2, S[1])
    rate = cl.loss_rate(P, 3, S[1], S[0])
    loss = pf.product_loss(P[:, 3:, :3], *tasks[0])
    integral = cumulative_simpson(rate.numpy(), x=t.numpy(), initial=0)
    np.testing.assert_allclose(integral, (loss - loss[0]).numpy(), rtol=0, atol=1e-7)
    printed = cl.printed_loss_rate(P, 3, S[1], S[0])
    assert float((printed - rate).abs().max()) > 1e-2, "eq. (4.36) read literally is a different quantity"
    with pytest.raises(ValueError, match="N_i = N_o"):
        cl.printed_loss_rate(torch.eye(5, dtype=F64), 2, torch.zeros(3, 2), torch.zeros(3, 2))


# --- nonlinear networks -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", cl.ACTIVATIONS)
def test_nonlinear_gradients_against_autograd(activation, generator):
    X, Y = cl.random_target_task(4, 3, 10, generator)
    W1 = torch.randn(2, 5, 4, generator=generator, dtype=F64)
    W2 = torch.randn(2, 3, 5, generator=generator, dtype=F64)
    A, B = W1.clone().requires_grad_(), W2.clone().requires_grad_()
    ga, gb = torch.autograd.grad(cl.nonlinear_loss(A, B, X, Y, activation).sum(), (A, B))
    g1, g2 = cl.nonlinear_gradients(W1, W2, X, Y, activation)
    torch.testing.assert_close(g1, ga, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(g2, gb, rtol=1e-12, atol=1e-13)
    rate = cl.neuron_balance_rate(W1, W2, X, Y, activation)
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
    ours = cl.integrate_nonlinear(W1, W2, X, Y, "linear", t)
    ref = gf.integrate(W1, W2, X, Y, t, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours.W1, ref.W1, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(ours.loss, ref.loss, rtol=1e-9, atol=1e-12)


def test_tanh_descent_converges_to_the_flow(generator):
    X, Y = cl.random_target_task(3, 2, 8, generator)
    W1 = 0.7 * torch.randn(4, 3, generator=generator, dtype=F64)
    W2 = 0.7 * torch.randn(2, 4, generator=generator, dtype=F64)
    flow = cl.integrate_nonlinear(W1, W2, X, Y, "tanh", [0.0, 2.0])
    gaps = []
    for eta in (0.02, 0.01):
        r = cl.nonlinear_sequence(W1, W2, X[None], Y[None], "tanh", eta, int(round(2 / eta)), show_progress=False)
        gaps.append(float((r["W1"] - flow.W1[-1]).abs().max()))
    assert gaps[1] < 0.6 * gaps[0] and gaps[1] < 1e-2, f"gradient descent must approach the flow at O(eta): {gaps}"


def test_relu_step_changes_balance_at_second_order_only(generator):
    X, Y = cl.random_target_task(3, 2, 8, generator)
    W1 = torch.randn(5, 3, generator=generator, dtype=F64)
    W2 = torch.randn(2, 5, generator=generator, dtype=F64)
    eta = 0.05
    g1, g2 = cl.nonlinear_gradients(W1, W2, X, Y, "relu")
    r = cl.nonlinear_sequence(W1, W2, X[None], Y[None], "relu", eta, 1, show_progress=False)
    Bjj = lambda A, C: (C**2).sum(-2) - (A**2).sum(-1)  # noqa: E731
    expected = eta**2 * (g2.pow(2).sum(-2) - g1.pow(2).sum(-1))
    torch.testing.assert_close(Bjj(r["W1"], r["W2"]) - Bjj(W1, W2), expected, rtol=1e-9, atol=1e-13,
                               msg="one ReLU step changes B_jj by eta^2 (|g_out|^2 - |g_in|^2) exactly")


def test_nonlinear_sequence_padding_is_exact(generator):
    # a 3-3-3 network with P = 6 embedded in 5-5-5 with P = 10 must train exactly as on its own
    X = torch.stack([cl.random_target_task(3, 3, 6, generator)[0] for _ in range(2)])
    Y = torch.randn(2, 3, 6, generator=generator, dtype=F64)
    W1, W2 = balanced.lambda_balanced_init(2.0, 3, 3, 3, generator=generator)
    alone = cl.nonlinear_sequence(W1, W2, X, Y, "tanh", 0.01, 50, show_progress=False)
    P1, P2 = torch.zeros(5, 5, dtype=F64), torch.zeros(5, 5, dtype=F64)
    P1[:3, :3], P2[:3, :3] = W1, W2
    Xp, Yp = torch.zeros(2, 5, 10, dtype=F64), torch.zeros(2, 5, 10, dtype=F64)
    Xp[:, :3, :6], Yp[:, :3, :6] = X, Y
    padded = cl.nonlinear_sequence(P1[None], P2[None], Xp[:, None], Yp[:, None], "tanh", 0.01, 50, n_samples=[6],
                                   hidden=[3], show_progress=False)
    torch.testing.assert_close(padded["W1"][0, :3, :3], alone["W1"], rtol=1e-12, atol=1e-14)
    assert float(padded["W1"][0, 3:].abs().max()) == 0.0 and float(padded["W2"][0, :, 3:].abs().max()) == 0.0
    for key in ("lam_star", "distance", "loss"):
        torch.testing.assert_close(padded[key][:, 0], alone[key], rtol=1e-12, atol=1e-12, msg=key)


def test_nonlinear_sequence_refusals(generator):
    X, Y = cl.random_target_task(3, 2, 6, generator)
    W1, W2 = torch.zeros(4, 3, dtype=F64), torch.zeros(2, 4, dtype=F64)
    with pytest.raises(ValueError, match="activation"):
        cl.nonlinear_sequence(W1, W2, X[None], Y[None], "gelu", 0.1, 2)
    with pytest.raises(ValueError, match="chain"):
        cl.nonlinear_sequence(W1, W2, Y[None], Y[None], "relu", 0.1, 2)
    with pytest.raises(ValueError, match="lr"):
        cl.nonlinear_sequence(W1, W2, X[None], Y[None], "relu", -0.1, 2)


def test_balance_experiment_shapes_and_extension():
    a = cl.balance_experiment([1.0, -1.0], ["linear", "tanh"], 3, n_tasks=1, steps=40, lr=0.01, widths=(3, 5),
                              generator=torch.Generator().manual_seed(4), show_progress=False)
    b = cl.balance_experiment([1.0, -1.0], ["linear", "tanh"], 3, n_tasks=2, steps=40, lr=0.01, widths=(3, 5),
                              generator=torch.Generator().manual_seed(4), show_progress=False)
    assert a["lam_star"].shape == (2, 2, 3, 2) and b["lam_star"].shape == (2, 2, 3, 3)
    torch.testing.assert_close(b["lam_star"][..., :2], a["lam_star"], rtol=0, atol=0,
                               msg="a longer sequence must extend a shorter one")
    torch.testing.assert_close(a["lam_star"][:, :, :, 0], torch.tensor([1.0, -1.0], dtype=F64)[None, :, None]
                               .expand(2, 2, 3), rtol=0, atol=1e-12, msg="balanced start")
    assert float((a["lam_star"][0, :, :, -1] - a["lam_star"][0, :, :, 0]).abs().max()) < 5e-2, "linear keeps lambda* (to O(eta))"
