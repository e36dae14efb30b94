"""Tests of linear_lens.gradient_flow: gradients, gradient descent, integrated gradient flow (Anguita, 2024, Sec. 2.2)."""

import math
import os

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from linear_lens import aligned, balanced, gradient_flow as gf, modes, tasks

F64 = torch.float64


def _setup(generator, n_in=3, n_hidden=4, n_out=2, n_samples=20, scale=0.5, batch=()):
    X, Y = tasks.random_regression_task(n_in, n_out, n_samples, generator=generator)
    W1 = scale * torch.randn(*batch, n_hidden, n_in, generator=generator, dtype=F64)
    W2 = scale * torch.randn(*batch, n_out, n_hidden, generator=generator, dtype=F64)
    return W1, W2, X, Y


# --- known answers ------------------------------------------------------------------------------------------------


def test_loss_known_answer(generator):
    X, Y = tasks.random_regression_task(3, 2, 12, generator=generator)
    teacher = tasks.input_output_correlation(X, Y)
    W1 = torch.eye(3, dtype=F64)
    assert float(gf.loss(W1, teacher, X, Y)) < 1e-28, "the teacher itself must have zero loss"
    # W = 0: loss = ||Y||^2 / (2P)
    expected = float(Y.pow(2).sum()) / (2 * 12)
    assert math.isclose(float(gf.loss(W1, torch.zeros(2, 3, dtype=F64), X, Y)), expected, rel_tol=1e-14)


def test_integrate_returns_initial_weights_at_zero(generator):
    W1, W2, X, Y = _setup(generator)
    traj = gf.integrate(W1, W2, X, Y, [0.0])
    torch.testing.assert_close(traj.W1[0], W1, rtol=0, atol=0)
    torch.testing.assert_close(traj.W2[0], W2, rtol=0, atol=0)


def test_train_times_are_steps_times_lr(generator):
    W1, W2, X, Y = _setup(generator)
    traj = gf.train(W1, W2, X, Y, lr=0.01, steps=25, record_every=10)
    torch.testing.assert_close(traj.t, torch.tensor([0.0, 0.1, 0.2, 0.25], dtype=F64), rtol=1e-14, atol=1e-15)
    assert traj.W1.shape == (4, 4, 3) and traj.W2.shape == (4, 2, 4) and traj.loss.shape == (4,)


def test_train_one_step_by_hand(generator):
    W1, W2, X, Y = _setup(generator)
    g1, g2 = gf.gradients(W1, W2, X, Y)
    traj = gf.train(W1, W2, X, Y, lr=0.3, steps=1)
    torch.testing.assert_close(traj.W1[1], W1 - 0.3 * g1, rtol=0, atol=1e-15)
    torch.testing.assert_close(traj.W2[1], W2 - 0.3 * g2, rtol=0, atol=1e-15)


# --- formula against an independent computation -------------------------------------------------------------------


@given(seed=st.integers(0, 10_000), n_hidden=st.integers(1, 5))
def test_gradients_match_autograd(seed, n_hidden):
    g = torch.Generator().manual_seed(seed)
    W1, W2, X, Y = _setup(g, n_hidden=n_hidden, batch=(2,))
    a, b = W1.clone().requires_grad_(), W2.clone().requires_grad_()
    gf.loss(a, b, X, Y).sum().backward()
    g1, g2 = gf.gradients(W1, W2, X, Y)
    torch.testing.assert_close(g1, a.grad, rtol=1e-12, atol=1e-13, msg="dL/dW1 differs from autograd")
    torch.testing.assert_close(g2, b.grad, rtol=1e-12, atol=1e-13, msg="dL/dW2 differs from autograd")


def test_printed_updates_are_P_times_the_gradient(generator):
    """Eqs. (2.7)-(2.8) as printed omit the 1/P of the loss: their step is P times the gradient (errata E08.1)."""
    W1, W2, X, Y = _setup(generator, n_samples=17)
    printed_1 = W2.T @ (W2 @ W1 @ X - Y) @ X.T
    g1, _ = gf.gradients(W1, W2, X, Y)
    torch.testing.assert_close(printed_1, 17 * g1, rtol=1e-12, atol=1e-12)


def test_integrate_matches_scalar_ode_solution(generator):
    """A 1x1x1 network is the scalar system c' = d(s - cd), d' = c(s - cd): compare with the balanced closed form."""
    X, Y = tasks.regression_task_with_spectrum([2.0], 1, 1, 5, generator=generator)
    W1 = torch.tensor([[0.1]], dtype=F64)
    W2 = torch.tensor([[0.1]], dtype=F64)
    t = np.linspace(0, 3, 7)
    traj = gf.integrate(W1, W2, X, Y, t)
    expected = aligned.zero_balanced_trajectory(t, 2.0, 0.01)
    torch.testing.assert_close(traj.product[:, 0, 0], expected, rtol=1e-10, atol=0)


def test_integrate_methods_agree(generator):
    W1, W2, X, Y = _setup(generator)
    t = [0.0, 0.5, 2.0]
    a = gf.integrate(W1, W2, X, Y, t, method="DOP853")
    b = gf.integrate(W1, W2, X, Y, t, method="Radau", rtol=1e-11, atol=1e-12)
    torch.testing.assert_close(a.W1, b.W1, rtol=0, atol=1e-8, msg="DOP853 and Radau disagree")
    torch.testing.assert_close(a.W2, b.W2, rtol=0, atol=1e-8, msg="DOP853 and Radau disagree")


def test_integrate_batched_equals_one_by_one(generator):
    W1, W2, X, Y = _setup(generator, batch=(3,))
    t = [0.0, 1.0, 2.0]
    batch = gf.integrate(W1, W2, X, Y, t)
    for i in range(3):
        single = gf.integrate(W1[i], W2[i], X, Y, t)
        torch.testing.assert_close(batch.W1[:, i], single.W1, rtol=0, atol=1e-9)
        torch.testing.assert_close(batch.W2[:, i], single.W2, rtol=0, atol=1e-9)


def test_loss_decreases_along_flow(generator):
    W1, W2, X, Y = _setup(generator)
    traj = gf.integrate(W1, W2, X, Y, np.linspace(0, 5, 26))
    assert bool((traj.loss.diff() <= 1e-14).all()), "the loss must not increase along gradient flow"


def test_train_converges_to_integrate_linearly_in_lr(generator):
    """Gradient descent is the Euler method for the flow: its error at fixed time T is O(lr)."""
    W1, W2, X, Y = _setup(generator, scale=0.4)
    T = 2.0
    ref = gf.integrate(W1, W2, X, Y, [T]).product[-1]
    errors = []
    for lr in (0.02, 0.01, 0.005):
        traj = gf.train(W1, W2, X, Y, lr=lr, steps=round(T / lr), record_every=10_000)
        errors.append(float((traj.product[-1] - ref).abs().max()))
    assert errors[-1] < 1e-2, f"gradient descent at lr=0.005 is {errors[-1]:.2e} from the flow"
    for e1, e2 in zip(errors[:-1], errors[1:]):
        assert 1.8 < e1 / e2 < 2.2, f"halving lr should halve the error (first order): errors {errors}"


def test_train_batched_learning_rates(generator):
    W1, W2, X, Y = _setup(generator)
    lrs = torch.tensor([0.01, 0.02], dtype=F64)
    batch = gf.train(W1.expand(2, -1, -1), W2.expand(2, -1, -1), X, Y, lr=lrs, steps=10)
    assert batch.t.shape == (11, 2)
    for i, lr in enumerate((0.01, 0.02)):
        single = gf.train(W1, W2, X, Y, lr=lr, steps=10)
        torch.testing.assert_close(batch.W1[:, i], single.W1, rtol=0, atol=1e-15)
        torch.testing.assert_close(batch.t[:, i], single.t, rtol=0, atol=1e-15)


def test_shallow_solution_matches_integration(generator):
    X, Y = tasks.random_regression_task(3, 2, 15, generator=generator)
    W0 = torch.randn(4, 2, 3, generator=generator, dtype=F64)
    t = np.linspace(0, 6, 13)
    closed = gf.shallow_solution(W0, X, Y, t, tau=1.5)
    numeric = gf.integrate_shallow(W0, X, Y, t, tau=1.5)
    torch.testing.assert_close(closed, numeric, rtol=1e-10, atol=1e-11, msg="Theorem 2.2.3 disagrees with the ODE")


# --- special cases and conservation laws --------------------------------------------------------------------------


@given(seed=st.integers(0, 1000))
def test_balance_is_conserved_by_the_flow(seed):
    """Theorem 2.2.1: W2^T W2 - W1 W1^T is constant along gradient flow, for any initial weights."""
    g = torch.Generator().manual_seed(seed)
    W1, W2, X, Y = _setup(g, n_hidden=3, n_out=3, scale=0.8)
    traj = gf.integrate(W1, W2, X, Y, [0.0, 1.0, 3.0])
    B = balanced.balance(traj.W1, traj.W2)
    torch.testing.assert_close(B, B[:1].expand_as(B), rtol=0, atol=1e-9, msg="the balance drifted along the flow")


def test_the_quantity_in_the_printed_proof_is_not_conserved(generator):
    """The proof of Theorem 2.2.1 differentiates W2 W2^T - W1 W1^T; that matrix moves (errata E08.2)."""
    W1, W2, X, Y = _setup(generator, n_hidden=3, n_out=3, scale=0.8)
    traj = gf.integrate(W1, W2, X, Y, [0.0, 3.0])
    M = traj.W2 @ traj.W2.mT - traj.W1 @ traj.W1.mT
    assert float((M[1] - M[0]).abs().max()) > 1e-2, "W2 W2^T - W1 W1^T unexpectedly conserved"


def test_gradient_descent_changes_balance_by_lr_squared(generator):
    """One step changes B by exactly lr^2 (G2^T G2 - G1 G1^T): the first-order terms cancel."""
    W1, W2, X, Y = _setup(generator)
    g1, g2 = gf.gradients(W1, W2, X, Y)
    lr = 0.1
    traj = gf.train(W1, W2, X, Y, lr=lr, steps=1)
    change = balanced.balance(traj.W1[1], traj.W2[1]) - balanced.balance(W1, W2)
    torch.testing.assert_close(change, lr**2 * (g2.T @ g2 - g1 @ g1.T), rtol=1e-10, atol=1e-14)


def test_shallow_solution_at_zero_and_infinity(generator):
    X, Y = tasks.random_regression_task(3, 2, 15, generator=generator)
    W0 = torch.randn(2, 3, generator=generator, dtype=F64)
    out = gf.shallow_solution(W0, X, Y, [0.0, 1e6])
    torch.testing.assert_close(out[0], W0, rtol=0, atol=1e-15)
    torch.testing.assert_close(out[1], tasks.input_output_correlation(X, Y), rtol=0, atol=1e-15)


# --- bad input ----------------------------------------------------------------------------------------------------


def test_errors(generator):
    W1, W2, X, Y = _setup(generator)
    with pytest.raises(ValueError, match="^W2: expected 4 columns"):
        gf.loss(W1, W2[:, :3], X, Y)
    with pytest.raises(ValueError, match="^W1: expected 3 columns"):
        gf.gradients(W1[:, :2], W2, X, Y)
    with pytest.raises(ValueError, match="^W2: expected 2 rows"):
        gf.loss(W1, torch.ones(3, 4, dtype=F64), X, Y)
    with pytest.raises(ValueError, match="^X, Y: expected shapes"):
        gf.loss(W1, W2, X, Y[:, :5])
    with pytest.raises(ValueError, match="^W1, W2: expected matrices"):
        gf.loss(W1[0], W2, X, Y)
    with pytest.raises(ValueError, match="^W1, W2: batch shapes"):
        gf.loss(W1.expand(2, -1, -1), W2.expand(3, -1, -1), X, Y)
    with pytest.raises(ValueError, match="^W1: contains NaN"):
        gf.loss(torch.full_like(W1, float("nan")), W2, X, Y)
    with pytest.raises(ValueError, match="^lr: expected a finite positive number"):
        gf.train(W1, W2, X, Y, lr=0.0, steps=3)
    with pytest.raises(ValueError, match="^lr: learning rates must be positive"):
        gf.train(W1, W2, X, Y, lr=torch.tensor([0.1, -0.1]), steps=3)
    with pytest.raises(ValueError, match="^lr: shape"):
        gf.train(W1.expand(2, -1, -1), W2, X, Y, lr=torch.tensor([0.1, 0.1, 0.1]), steps=3)
    with pytest.raises(ValueError, match="^lr: expected a finite real number"):
        gf.train(W1, W2, X, Y, lr=float("inf"), steps=3)
    with pytest.raises(ValueError, match="^steps: expected a positive integer"):
        gf.train(W1, W2, X, Y, lr=0.1, steps=0)
    with pytest.raises(ValueError, match="^record_every: expected a positive integer"):
        gf.train(W1, W2, X, Y, lr=0.1, steps=3, record_every=0)
    with pytest.raises(ValueError, match="^lr: gradient descent diverged"):
        gf.train(10 * W1, 10 * W2, X, Y, lr=10.0, steps=200)
    with pytest.raises(ValueError, match="^t: times must be"):
        gf.integrate(W1, W2, X, Y, [1.0, 0.5])
    with pytest.raises(ValueError, match="^t: times must be"):
        gf.integrate(W1, W2, X, Y, [-1.0, 0.5])
    with pytest.raises(ValueError, match="^t: expected a non-empty"):
        gf.integrate(W1, W2, X, Y, [])
    with pytest.raises(ValueError, match="^tau: expected a finite positive number"):
        gf.integrate(W1, W2, X, Y, [1.0], tau=0.0)
    with pytest.raises(ValueError, match="^rtol: expected a finite positive number"):
        gf.integrate(W1, W2, X, Y, [1.0], rtol=-1.0)
    with pytest.raises(ValueError, match="^method: expected one of"):
        gf.integrate(W1, W2, X, Y, [1.0], method="Euler")


def test_shallow_errors(generator):
    X, Y = tasks.random_regression_task(3, 2, 15, generator=generator)
    W0 = torch.zeros(2, 3, dtype=F64)
    with pytest.raises(ValueError, match="^X: the closed form needs whitened inputs"):
        gf.shallow_solution(W0, 2 * X, Y, [1.0])
    with pytest.raises(ValueError, match="^W0: expected shape"):
        gf.shallow_solution(torch.zeros(3, 2), X, Y, [1.0])
    with pytest.raises(ValueError, match="^X, Y: expected shapes"):
        gf.integrate_shallow(W0, X, Y[:, :3], [1.0])
    with pytest.raises(ValueError, match="^tau: expected a finite positive number"):
        gf.shallow_solution(W0, X, Y, [1.0], tau=-2.0)


def test_gradient_descent_balance_drift_is_lr_times_the_predicted_coefficient(generator):
    """B_lr(T) - B(0) = lr D(T) + O(lr^2): the relative discrepancy halves with lr."""
    W1, W2, X, Y = _setup(generator, scale=0.6)
    T = 2.0
    flow = gf.integrate(W1, W2, X, Y, np.linspace(0, T, 2001))
    D = gf.balance_drift_coefficient(flow, X, Y)[-1]
    misfits = []
    for lr in (0.02, 0.01):
        gd = gf.train(W1, W2, X, Y, lr=lr, steps=round(T / lr), record_every=10_000)
        drift = balanced.balance(gd.W1[-1], gd.W2[-1]) - balanced.balance(W1, W2)
        misfits.append(float((drift / lr - D).norm() / D.norm()))
    assert misfits[-1] < 0.05, f"drift / lr differs from D(T) by {misfits[-1]:.2%}"
    assert 1.7 < misfits[0] / misfits[1] < 2.3, f"the misfit should be O(lr): {misfits}"


def test_balance_drift_coefficient_errors(generator):
    W1, W2, X, Y = _setup(generator)
    gd = gf.train(W1.expand(2, -1, -1), W2.expand(2, -1, -1), X, Y, lr=torch.tensor([0.1, 0.2]), steps=2)
    with pytest.raises(ValueError, match="^trajectory: expected a Trajectory"):
        gf.balance_drift_coefficient(gd, X, Y)
    with pytest.raises(ValueError, match="^trajectory: expected a Trajectory"):
        gf.balance_drift_coefficient((W1, W2), X, Y)


def test_train_follows_the_flow_without_whitening(generator):
    """Neither train nor integrate assumes whitened inputs: they agree for a raw Gaussian X as well."""
    X = torch.randn(3, 25, generator=generator, dtype=F64) * torch.tensor([[0.5], [1.0], [2.0]], dtype=F64)
    Y = torch.randn(2, 25, generator=generator, dtype=F64)
    W1 = 0.3 * torch.randn(4, 3, generator=generator, dtype=F64)
    W2 = 0.3 * torch.randn(2, 4, generator=generator, dtype=F64)
    ref = gf.integrate(W1, W2, X, Y, [1.0]).product[-1]
    errors = [float((gf.train(W1, W2, X, Y, lr=lr, steps=round(1 / lr)).product[-1] - ref).abs().max())
              for lr in (0.01, 0.005)]
    assert errors[1] < 1e-2 and 1.8 < errors[0] / errors[1] < 2.2, f"errors {errors}"


# --- repeated times, long horizons, dtypes, representations ----------------------------------------------------------


def test_repeated_times_are_allowed(generator):
    W1, W2, X, Y = _setup(generator, batch=(2,))
    traj = gf.integrate(W1, W2, X, Y, [0.0, 0.0, 1.0, 1.0, 1.0, 2.5])
    once = gf.integrate(W1, W2, X, Y, [0.0, 1.0, 2.5])
    torch.testing.assert_close(traj.W1[[0, 2, 5]], once.W1, rtol=0, atol=1e-14)
    assert torch.equal(traj.W1[2], traj.W1[3]) and torch.equal(traj.W1[3], traj.W1[4])
    assert torch.equal(traj.W2[0], W2)
    shallow = gf.integrate_shallow(W2 @ W1, X, Y, [1.0, 1.0])
    assert torch.equal(shallow[0], shallow[1])


@pytest.mark.parametrize("horizon", [1e3, 1e6, 1e8])
def test_long_horizons_are_finite_and_converged(horizon, generator):
    """t = 1e6 and 1e8 take a stiff method past the flow's time scales; the flow has converged long before."""
    W1, W2, X, Y = _setup(generator, n_in=3, n_hidden=3, n_out=3, batch=(2,))
    traj = gf.integrate(W1, W2, X, Y, [0.0, 1.0, 400.0, horizon])
    assert bool(torch.isfinite(traj.W1).all() and torch.isfinite(traj.W2).all())
    assert float(traj.loss[-1].max()) < 1e-20
    torch.testing.assert_close(traj.product[-1], traj.product[-2], rtol=0, atol=1e-9)
    torch.testing.assert_close(balanced.balance(traj.W1[-1], traj.W2[-1]), balanced.balance(W1, W2), rtol=0, atol=1e-8)
    ref = gf.integrate(W1, W2, X, Y, [0.0, 1.0], method="DOP853")
    torch.testing.assert_close(traj.W1[1], ref.W1[1], rtol=0, atol=1e-10)


def test_auto_switches_to_the_implicit_method_only_for_long_horizons(generator, monkeypatch):
    W1, W2, X, Y = _setup(generator)
    used = []
    real = gf.solve_ivp

    def spy(fun, span, y0, method, **kwargs):
        used.append(method)
        return real(fun, span, y0, method=method, **kwargs)

    monkeypatch.setattr(gf, "solve_ivp", spy)
    gf.integrate(W1, W2, X, Y, [0.0, 2.0])
    assert used == ["DOP853"]
    used.clear()
    gf.integrate(W1, W2, X, Y, [0.0, 2.0, 1e7])
    assert used == ["DOP853", "Radau"]


def test_dtype_policy(generator):
    W1, W2, X, Y = _setup(generator)
    mixed = gf.integrate(W1.float(), W2, X, Y, [0.5])
    assert mixed.W1.dtype == F64 and mixed.loss.dtype == F64
    single = gf.integrate(W1.float(), W2.float(), X.float(), Y.float(), [0.5])
    assert single.W1.dtype == torch.float32
    torch.testing.assert_close(single.W1[0].double(), mixed.W1[0], rtol=1e-5, atol=1e-6)
    ints = gf.loss(torch.ones(2, 3, dtype=torch.int64), torch.ones(2, 2, dtype=torch.int32), X, Y[:2])
    assert ints.dtype == F64
    assert gf.train(W1.float(), W2, X, Y, lr=0.1, steps=2).W1.dtype == F64
    with pytest.raises(ValueError, match="^Y: expected real numbers, got complex"):
        gf.loss(W1, W2, X, Y.to(torch.complex128))


def test_representations(generator):
    W1, W2, X, Y = _setup(generator, batch=(3,))
    r_in, r_out = gf.representations(W1, W2)
    torch.testing.assert_close(r_in, W1.mT @ W1, rtol=0, atol=0)
    torch.testing.assert_close(r_out, W2 @ W2.mT, rtol=0, atol=0)
    Q = torch.linalg.qr(torch.randn(4, 4, generator=generator, dtype=F64))[0]
    q_in, q_out = gf.representations(Q @ W1, W2 @ Q.mT)
    torch.testing.assert_close(q_in, r_in, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(q_out, r_out, rtol=1e-12, atol=1e-13)
    traj = gf.integrate(W1, W2, X, Y, [0.0, 0.5])
    torch.testing.assert_close(traj.input_representation[0], r_in, rtol=0, atol=0)
    torch.testing.assert_close(traj.output_representation[0], r_out, rtol=0, atol=0)


def test_zero_balanced_aligned_representations_converge_to_the_task_roots(generator):
    X, Y = tasks.regression_task_with_spectrum([2.0, 1.0, 0.5], 3, 3, 20, generator=generator)
    W1, W2 = balanced.aligned_lambda_balanced_init(0.0, X, Y, 3, sigma=0.2, generator=generator)
    traj = gf.integrate(W1, W2, X, Y, [0.0, 1e4])
    U, s, V = modes.task_modes(X, Y)
    torch.testing.assert_close(traj.input_representation[-1], V @ torch.diag(s) @ V.T, rtol=0, atol=1e-9)
    torch.testing.assert_close(traj.output_representation[-1], U @ torch.diag(s) @ U.T, rtol=0, atol=1e-9)


DEVICE = torch.device(os.environ.get("LINEAR_LENS_TEST_DEVICE", "cpu"))


@pytest.mark.skipif(DEVICE.type == "cuda" and not torch.cuda.is_available(), reason="no CUDA device")
def test_on_device_matches_cpu(generator):
    W1, W2, X, Y = _setup(generator, batch=(2,))
    on = [x.to(DEVICE) for x in (W1, W2, X, Y)]
    traj = gf.integrate(*on, [0.0, 1.0])
    assert traj.W1.device.type == DEVICE.type and traj.loss.device.type == DEVICE.type
    torch.testing.assert_close(traj.W1.cpu(), gf.integrate(W1, W2, X, Y, [0.0, 1.0]).W1, rtol=1e-12, atol=1e-13)
    run = gf.train(*on, lr=0.05, steps=5)
    assert run.W2.device.type == DEVICE.type
    torch.testing.assert_close(run.W2.cpu(), gf.train(W1, W2, X, Y, lr=0.05, steps=5).W2, rtol=1e-12, atol=1e-13)
