"""Tests of linear_lens.shallow: Section 4.2 of Anguita (2024) against independent computations."""

import numpy as np
import pytest
import torch

from linear_lens import aligned, gradient_flow as gf, laziness as lz, ntk, representations as rp, riccati as rc
from linear_lens import shallow as sh, tasks
from bad_input import check_raises, uncovered

F64 = torch.float64


def _gap(a, b, scale):
    return float((torch.linalg.matrix_norm(a - b) / scale).max())


def test_shallow_representations_at_convergence(generator):
    X, Y = tasks.random_regression_task(3, 4, 8, generator=generator)
    S = Y @ X.T / X.shape[1]
    W0 = torch.randn(4, 3, generator=generator, dtype=F64)
    W_end = gf.integrate_shallow(W0, X, Y, [0.0, 40.0])[-1]
    G_in, G_out = sh.shallow_representations(S)
    torch.testing.assert_close(G_in, W_end.T @ W_end, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(G_out, W_end @ W_end.T, rtol=1e-9, atol=1e-9)
    P_in, P_out = sh.printed_shallow_representations(S)
    assert float((P_in - G_in).abs().max()) > 0.1
    # the printed form is the zero-balanced deep network's representations at convergence
    K1, K2 = rp.representations_from_product(S, 0.0, 3)
    torch.testing.assert_close(P_in, K1, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(P_out, K2, rtol=1e-12, atol=1e-12)


def test_shallow_descent_is_first_order_in_the_step(generator):
    X, Y = tasks.random_regression_task(3, 2, 6, generator=generator)
    W0 = torch.randn(2, 3, generator=generator, dtype=F64)
    errors = []
    for lr in (0.02, 0.01):
        t, W = sh.shallow_descent(W0, X, Y, lr, int(round(3 / lr)), record_every=10)
        ref = gf.shallow_solution(W0, X, Y, t)
        errors.append(float((W - ref).abs().max()))
        S = Y @ X.T / X.shape[1]
        k = torch.round(t / lr)
        exact_steps = S + (W0 - S) * (1 - lr) ** k[:, None, None]                   # the recursion solved
        torch.testing.assert_close(W, exact_steps, rtol=1e-10, atol=1e-12)
    assert errors[0] / errors[1] == pytest.approx(2, rel=0.05)
    t, W = sh.shallow_descent(W0.expand(3, 2, 3), X, Y, torch.tensor([0.1, 0.2, 0.3], dtype=F64), 5)
    assert t.shape == (6, 3) and W.shape == (6, 3, 2, 3)


def test_compressed_shallow_matches_shallow_solution(generator):
    X, Y = tasks.random_regression_task(3, 3, 6, generator=generator)
    S = Y @ X.T / X.shape[1]
    W0 = torch.randn(3, 3, generator=generator, dtype=F64)
    t = np.linspace(0, 0.2, 5)
    for lam in (-30.0, 7.0):
        torch.testing.assert_close(sh.compressed_shallow(t, W0, S, lam),
                                   gf.shallow_solution(W0, X, Y, t, tau=1 / abs(lam)), rtol=1e-12, atol=1e-12)


def test_shallow_correction_reduces_to_the_aligned_one():
    s = torch.tensor([2.0, 1.0, 0.5], dtype=F64)
    a0 = torch.tensor([0.1, 0.2, 1.3], dtype=F64)
    u = torch.linspace(0, 12, 61, dtype=F64)
    C = sh.shallow_correction(u, torch.diag(a0), torch.diag(s))
    torch.testing.assert_close(C.diagonal(dim1=-2, dim2=-1), aligned.large_lambda_correction(u, s, a0),
                               rtol=1e-13, atol=1e-14)
    assert float((C - torch.diag_embed(C.diagonal(dim1=-2, dim2=-1))).abs().max()) == 0.0


@pytest.mark.parametrize("shape, sign", [((3, 3, 3), 1.0), ((3, 3, 3), -1.0), ((2, 4, 4), 1.0), ((4, 2, 2), 1.0),
                                         ((2, 2, 4), -1.0)])
def test_correction_leaves_order_lambda_minus_four(shape, sign, generator):
    """Where the large representation has full rank, W - W_s - C/lambda^2 = O(lambda^-4) (exact solution)."""
    S, W0, _, _ = lz.draw_trials(*shape, 1, generator=generator)
    S, W0 = S[0], W0[0]
    u = torch.linspace(0, 10, 101, dtype=F64)
    scale = torch.linalg.matrix_norm(S - W0)
    res, first = [], []
    for L in (100.0, 300.0):
        W1, W2 = rp.balanced_weights(W0, sign * L, shape[1])
        W = rc.blocks(rc.qqt_sigma(u / L, W1, W2, S), shape[0]).product
        Ws = sh.compressed_shallow(u / L, W0, S, sign * L)
        torch.testing.assert_close(Ws, sh.projected_limit(u / L, W1, W2, S), rtol=1e-10, atol=1e-12)
        first.append(_gap(W, Ws, scale))
        res.append(_gap(W, Ws + sh.shallow_correction(u, W0, S) / L**2, scale))
    assert first[0] / first[1] == pytest.approx(9, rel=0.05)
    assert res[0] / res[1] == pytest.approx(81, rel=0.15), res


@pytest.mark.parametrize("shape, sign", [((3, 3, 5), 1.0), ((5, 3, 3), -1.0), ((3, 4, 5), 1.0)])
def test_projected_limit_where_the_thesis_limit_fails(shape, sign, generator):
    S, W0, _, _ = lz.draw_trials(*shape, 1, generator=generator)
    S, W0 = S[0], W0[0]
    u = torch.linspace(0, 10, 101, dtype=F64)
    scale = torch.linalg.matrix_norm(S - W0)
    thesis, corrected = [], []
    for L in (100.0, 300.0):
        W1, W2 = rp.balanced_weights(W0, sign * L, shape[1])
        W = rc.blocks(rc.qqt_sigma(u / L, W1, W2, S), shape[0]).product
        thesis.append(_gap(W, sh.compressed_shallow(u / L, W0, S, sign * L), scale))
        corrected.append(_gap(W, sh.projected_limit(u / L, W1, W2, S), scale))
    assert min(thesis) > 0.02 and thesis[1] == pytest.approx(thesis[0], rel=0.02)
    assert corrected[0] / corrected[1] == pytest.approx(9, rel=0.1) and corrected[1] < 1e-3


def test_deep_network_at_large_lambda_has_the_shallow_kernel_up_to_the_scale(generator):
    X, Y = tasks.random_regression_task(3, 3, 6, generator=generator)
    S = Y @ X.T / X.shape[1]
    W0 = torch.randn(3, 3, generator=generator, dtype=F64)
    W1, W2 = rp.balanced_weights(W0, 1e3, 3)
    t = torch.linspace(0, 10e-3, 11, dtype=F64)
    b = rc.blocks(rc.qqt_sigma(t, W1, W2, S), 3)
    K = ntk.ntk_from_representations(b.input_rep, b.output_rep, X) / 1e3
    assert float(ntk.kernel_change(K, ntk.shallow_ntk(X, 3)).max()) < 1e-4


def test_bad_input():
    S = torch.randn(3, 3, dtype=F64)
    with pytest.raises(ValueError, match="lam"):
        sh.compressed_shallow([0.0], S, S, 0.0)
    with pytest.raises(ValueError, match="lr"):
        sh.shallow_descent(S, torch.eye(3, dtype=F64), torch.eye(3, dtype=F64), -0.1, 3)
    with pytest.raises(ValueError, match="not lambda-balanced"):
        sh.projected_limit([0.0], torch.randn(3, 3, dtype=F64), torch.randn(3, 3, dtype=F64), S)
    W1, W2 = rp.balanced_weights(S, 0.0, 3)
    with pytest.raises(ValueError, match="lambda = 0"):
        sh.projected_limit([0.0], W1, W2, S)
    with pytest.raises(ValueError, match="t: times"):
        sh.shallow_correction([-1.0], S, S)


I3 = torch.eye(3, dtype=F64)
BAD = [
    ("reps 1d", lambda: sh.shallow_representations(torch.ones(3, dtype=F64)), r"^sigma_yx: expected a matrix"),
    ("printed nan", lambda: sh.printed_shallow_representations(I3 * float("nan")), r"^sigma_yx: contains NaN"),
    ("descent shapes", lambda: sh.shallow_descent(I3, torch.eye(2, dtype=F64), I3, 0.1, 3), r"^W0, X, Y: expected"),
    ("descent steps", lambda: sh.shallow_descent(I3, I3, I3, 0.1, 0), r"^steps: expected a positive integer"),
    ("descent lr", lambda: sh.shallow_descent(I3, I3, I3, 0.0, 3), r"^lr: learning rates must be positive"),
    ("compressed zero", lambda: sh.compressed_shallow([0.0], I3, I3, 0.0), r"^lam: Theorem 4.2.3"),
    ("compressed times", lambda: sh.compressed_shallow(torch.ones(2, 4, dtype=F64), I3[None].expand(3, 3, 3), I3,
                                                       1.0), r"^t: shape"),
    ("correction times", lambda: sh.shallow_correction([-1.0], I3, I3), r"^t: times must be non-negative"),
    ("projected zero", lambda: sh.projected_limit([0.0], I3, I3, I3), r"^W1_0, W2_0: lambda = 0"),
    ("projected unbalanced", lambda: sh.projected_limit([0.0], 2 * I3, torch.ones(3, 3, dtype=F64), I3),
     r"^W1_0, W2_0: the weights are not lambda-balanced"),
    ("projected tau", lambda: sh.projected_limit([0.0], I3, I3, I3, tau=-1.0), r"^tau: expected"),
]


@pytest.mark.parametrize("name, call, message", BAD, ids=[c[0] for c in BAD])
def test_bad_input_raises_a_clear_value_error(name, call, message):
    check_raises(name, call, message)


def test_every_public_function_has_a_bad_input_case():
    missing = uncovered(sh, "sh", __file__)
    assert not missing, f"public functions without a bad-input case: {missing}"
