"""Tests of linear_lens.continual: sequences of tasks and forgetting (Anguita, 2024, Section 4.4)."""

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
