"""Tests of linear_lens.riccati: exact dynamics of unaligned lambda-balanced networks (Anguita, 2024, Sec. 3.3-3.4)."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from linear_lens import balanced, gradient_flow as gf, riccati as rc, tasks
from riccati_cases import (
    flow as _flow,
    network as _network,
    orientation_mismatch as _orientation_mismatch,
    rel as _rel,
)

F64 = torch.float64
UNEQUAL = [(3, 4, 5), (5, 4, 3), (2, 6, 6), (6, 6, 2), (4, 4, 7), (7, 4, 4)]


def _sqrtm(A):
    """The principal square root by SciPy's Schur method (independent of the package's eigh-based root)."""
    return torch.as_tensor(scipy.linalg.sqrtm(A.numpy()).real, dtype=F64)


# --- F and its eigenbasis ----------------------------------------------------------------------------------------


def test_riccati_matrix_known_answer():
    S = torch.tensor([[1.0, 2.0]], dtype=F64)                # N_o = 1, N_i = 2
    F = rc.riccati_matrix(S, 4.0)
    expected = torch.tensor([[-2.0, 0, 1], [0, -2, 2], [1, 2, 2]], dtype=F64)
    torch.testing.assert_close(F, expected, rtol=0, atol=0)


dims = st.tuples(st.integers(1, 5), st.integers(1, 5))
lam_values = st.one_of(st.sampled_from([0.0, 1e-8, -1e-8, 1e3, -1e3]), st.floats(-20, 20, allow_nan=False))


@given(d=dims, lam=lam_values, seed=st.integers(0, 10_000))
def test_eigenbasis_diagonalises_F(d, lam, seed):
    """Theorem 3.3.1(2) corrected and Theorem 3.4.2: O orthogonal, O diag O^T = F, eigenvalues as eigh's."""
    n_in, n_out = d
    S = torch.randn(n_out, n_in, generator=torch.Generator().manual_seed(seed), dtype=F64)
    basis = rc.riccati_eigenbasis(S, lam)
    F = rc.riccati_matrix(S, lam)
    scale = max(1.0, abs(lam))
    n = n_in + n_out
    torch.testing.assert_close(basis.O.mT @ basis.O, torch.eye(n, dtype=F64), rtol=0, atol=1e-13)
    torch.testing.assert_close(basis.O @ torch.diag(basis.eigenvalues) @ basis.O.mT, F, rtol=0, atol=1e-12 * scale)
    torch.testing.assert_close(torch.sort(basis.eigenvalues).values, torch.linalg.eigvalsh(F), rtol=0,
                               atol=1e-12 * scale)
    if n_in != n_out:
        extra = basis.eigenvalues[2 * min(n_in, n_out):]
        torch.testing.assert_close(extra, torch.full_like(extra, math.copysign(1, n_out - n_in) * lam / 2))


def test_eigenbasis_is_continuous_at_lambda_zero():
    """x = lam / (sqrt(lam^2 + 4 s^2) + 2 s) -> 0 and A -> I as lambda -> 0 (the printed x is 0/0 at lambda = 0)."""
    S = torch.diag(torch.tensor([2.0, 1.0, 0.5], dtype=F64))
    b0 = rc.riccati_eigenbasis(S, 0.0)
    b1 = rc.riccati_eigenbasis(S, 1e-12)
    torch.testing.assert_close(b0.O, b1.O, rtol=0, atol=1e-12)
    torch.testing.assert_close(b0.a_plus, torch.ones(3, dtype=F64), rtol=0, atol=0)


def test_eigenbasis_has_no_cancellation_at_large_lambda():
    """a - xa for lambda >> s is about s/|lambda| and keeps full relative precision."""
    import mpmath

    s, lam = 1e-3, 1e4
    b = rc.riccati_eigenbasis(torch.tensor([[s]], dtype=F64), lam)
    with mpmath.workdps(50):
        x = mpmath.mpf(lam) / (mpmath.sqrt(mpmath.mpf(lam) ** 2 + 4 * mpmath.mpf(s) ** 2) + 2 * mpmath.mpf(s))
        ref = float((1 - x) / mpmath.sqrt(1 + x**2))
    assert math.isclose(float(b.a_minus[0]), ref, rel_tol=1e-14), (float(b.a_minus[0]), ref)


def test_riccati_equation_holds_along_the_flow():
    """tau d(QQ^T)/dt = F QQ^T + QQ^T F - (QQ^T)^2 for balanced weights, equal and unequal dimensions."""
    for (n_in, n_hidden, n_out), lam in [((3, 3, 3), 1.5), ((3, 4, 5), 0.7), ((6, 6, 2), -2.0)]:
        W1, W2, X, Y = _network(lam, n_in, n_hidden, n_out)
        S = Y @ X.T / X.shape[1]
        g1, g2 = gf.gradients(W1, W2, X, Y)
        dQ = torch.cat([-g1.mT, -g2], dim=0)
        Q = rc.stack_q(W1, W2)
        dP = dQ @ Q.mT + Q @ dQ.mT
        torch.testing.assert_close(rc.riccati_rhs(Q @ Q.mT, rc.riccati_matrix(S, lam)), dP, rtol=1e-12, atol=1e-12)


# --- the exact solution against the integrated flow --------------------------------------------------------------


shapes = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))


@given(shape=shapes, lam=lam_values, seed=st.integers(0, 10_000), horizon=st.sampled_from([0.5, 2.0, 6.0]))
def test_qqt_matches_integrated_flow(shape, lam, seed, horizon):
    """The stable form against gf.integrate at rtol = 1e-13, any feasible dims and lambda, to 1e-9 relative.

    Near the zero-balanced saddle (equal dims, det(W2 W1) of the opposite sign to det(Sigma_yx), |lambda| tiny) the
    form refuses, and only there."""
    n_in, n_hidden, n_out = shape
    assume(n_hidden >= min(n_in, n_out) and balanced.feasible(lam, n_in, n_hidden, n_out))
    W1, W2, X, Y = _network(lam, n_in, n_hidden, n_out, seed=seed, sigma=0.8)
    kappa = float(rc.riccati_eigenbasis(Y @ X.T / X.shape[1], lam).kappa.max())
    t = np.linspace(0, horizon / max(1.0, kappa), 5)         # a few time constants of the fastest mode
    try:
        P = rc.qqt(t, W1, W2, X, Y)
    except ValueError as err:
        assert "singular" in str(err) and _orientation_mismatch(W1, W2, X, Y) and abs(lam) < 1e-4, str(err)
        return
    method = "Radau" if abs(lam) > 100 else "DOP853"
    assert _rel(P, _flow(W1, W2, X, Y, t, method)) < 1e-9


@pytest.mark.parametrize("shape", [(3, 3, 3)] + UNEQUAL)
def test_qqt_unequal_dimensions_to_1e8(shape):
    """Chapter 12's promise: relative error <= 1e-8 for the listed dims and every allowed sign of lambda."""
    for lam in (-2.0, -0.4, 0.4, 2.0):
        if not balanced.feasible(lam, *shape):
            continue
        W1, W2, X, Y = _network(lam, *shape, seed=11)
        t = np.linspace(0, 4, 9)
        assert _rel(rc.qqt(t, W1, W2, X, Y), _flow(W1, W2, X, Y, t)) < 1e-8, (shape, lam)


@given(shape=shapes, lam=lam_values, seed=st.integers(0, 1000))
def test_qqt_is_finite_for_huge_times_and_converges(shape, lam, seed):
    """Only decaying exponentials: finite at t = 1e8, and the network function equals Sigma_yx there."""
    n_in, n_hidden, n_out = shape
    assume(n_hidden >= min(n_in, n_out) and balanced.feasible(lam, n_in, n_hidden, n_out))
    W1, W2, X, Y = _network(lam, n_in, n_hidden, n_out, seed=seed)
    try:
        P = rc.qqt([0.0, 1e4, 1e8], W1, W2, X, Y)
    except ValueError:
        assert _orientation_mismatch(W1, W2, X, Y)
        return
    assert bool(torch.isfinite(P).all())
    S = Y @ X.T / X.shape[1]
    torch.testing.assert_close(rc.blocks(P[-1], n_in).product, S, rtol=0, atol=1e-9 * max(1.0, abs(lam)))
    torch.testing.assert_close(P[0], rc.qqt_from_weights(W1, W2), rtol=0, atol=1e-12 * float(P[0].abs().max()))


def test_converged_representations_in_equal_dimensions():
    """At convergence W = Sigma, so W1^T W1 = sqrt(S^T S + lam^2/4) - lam/2 and W2 W2^T = sqrt(S S^T + lam^2/4) + lam/2."""
    for lam in (-3.0, 0.5, 4.0):
        W1, W2, X, Y = _network(lam, 3, 3, 3, seed=2)
        S = Y @ X.T / X.shape[1]
        b = rc.blocks(rc.qqt(1e6, W1, W2, X, Y), 3)
        torch.testing.assert_close(b.input_rep, _sqrtm(S.T @ S + lam**2 / 4 * torch.eye(3, dtype=F64)) - lam / 2 * torch.eye(3, dtype=F64),
                                   rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(b.output_rep, _sqrtm(S @ S.T + lam**2 / 4 * torch.eye(3, dtype=F64)) + lam / 2 * torch.eye(3, dtype=F64),
                                   rtol=1e-12, atol=1e-12)


def test_product_depends_on_abs_lambda_only_in_equal_dimensions():
    """Same product W(0), balanced for lambda and -lambda: W(t) agrees in equal dims, not in (4, 4, 7)."""
    for shape, same in [((3, 3, 3), True), ((4, 4, 7), False)]:
        n_in, n_hidden, n_out = shape
        g = torch.Generator().manual_seed(4)
        X, Y = tasks.random_regression_task(n_in, n_out, 20, generator=g)
        W1, W2 = balanced.lambda_balanced_init(1.0, n_in, n_hidden, n_out, generator=g)
        U, s, Vh = torch.linalg.svd(W2 @ W1)
        k = min(n_in, n_out)
        products = []
        for lam in (1.0, -1.0):
            S2, S1 = balanced.balanced_singular_values(s[:k], lam, n_in, n_hidden, n_out)
            P = rc.qqt(np.linspace(0, 3, 7), S1 @ Vh, U @ S2, X, Y)
            products.append(rc.blocks(P, n_in).product)
        gap = float((products[0] - products[1]).abs().max())
        assert (gap < 1e-12) if same else (gap > 1e-2), (shape, gap)


def test_vectorised_over_times_and_batch():
    W1, W2, X, Y = _network(0.7, 3, 3, 3)
    W1b = torch.stack([W1, W1])
    P = rc.qqt(torch.linspace(0, 1, 4), W1b, W2, X, Y)
    assert P.shape == (4, 2, 6, 6) and P.dtype == F64
    torch.testing.assert_close(P[:, 0], P[:, 1], rtol=0, atol=0)
    assert rc.qqt(0.3, W1, W2, X, Y).shape == (6, 6)
    per_net = rc.qqt_sigma(torch.tensor([[0.0, 0.2], [0.5, 1.0]], dtype=F64), W1b, W2, Y @ X.T / X.shape[1])
    torch.testing.assert_close(per_net[1, 1], rc.qqt(1.0, W1, W2, X, Y), rtol=1e-13, atol=1e-13)


def test_float32_weights_are_computed_in_float64():
    W1, W2, X, Y = _network(1.0, 3, 3, 3)
    P32 = rc.qqt([0.0, 1.0], W1.float(), W2.float(), X, Y, balance_tol=1e-6)
    assert P32.dtype == F64 and bool(torch.isfinite(P32).all())


# --- refusals ------------------------------------------------------------------------------------------------------


def test_refuses_unwhitened_inputs():
    W1, W2, X, Y = _network(1.0, 3, 3, 3)
    with pytest.raises(ValueError, match="X: the exact solution assumes whitened inputs"):
        rc.qqt(1.0, W1, W2, 2 * X, Y)


def test_refuses_unbalanced_weights():
    W1, W2, X, Y = _network(1.0, 3, 3, 3)
    with pytest.raises(ValueError, match=r"not lambda-balanced: .* = \d"):
        rc.qqt(1.0, W1 * 1.01, W2, X, Y)


def test_refuses_bottlenecked_networks():
    g = torch.Generator().manual_seed(0)
    X, Y = tasks.random_regression_task(3, 3, 9, generator=g)
    W1, W2 = balanced.lambda_balanced_init(0.0, 3, 2, 3, generator=g)
    with pytest.raises(ValueError, match="bottlenecked"):
        rc.qqt(1.0, W1, W2, X, Y)


def test_refuses_rank_deficient_products_at_lambda_zero():
    g = torch.Generator().manual_seed(0)
    X, Y = tasks.random_regression_task(3, 3, 9, generator=g)
    S2, S1 = balanced.balanced_singular_values(torch.tensor([1.0, 0.5, 0.0], dtype=F64), 0.0, 3, 3, 3)
    with pytest.raises(ValueError, match="rank-deficient"):
        rc.qqt(1.0, S1, S2, X, Y)


def test_accepts_rank_deficient_products_when_lambda_is_not_zero():
    """With lambda != 0 a rank-deficient product is covered (Y+ stays invertible): beyond the thesis's assumptions."""
    g = torch.Generator().manual_seed(1)
    X, Y = tasks.random_regression_task(3, 3, 9, generator=g)
    S2, S1 = balanced.balanced_singular_values(torch.tensor([1.0, 0.5, 0.0], dtype=F64), 1.0, 3, 3, 3)
    R = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=F64))[0]
    W1, W2 = R @ S1, S2 @ R.T
    t = np.linspace(0, 2, 5)
    assert _rel(rc.qqt(t, W1, W2, X, Y), _flow(W1, W2, X, Y, t)) < 1e-9


def test_refuses_singular_b_with_the_orientation_explained():
    for seed in range(10):
        W1, W2, X, Y = _network(0.0, 3, 3, 3, seed=seed)
        if _orientation_mismatch(W1, W2, X, Y):
            with pytest.raises(ValueError, match="opposite signs"):
                rc.qqt(1.0, W1, W2, X, Y)
            return
    pytest.fail("no draw with opposite orientation in 10 seeds")


@pytest.mark.parametrize("kwargs,match", [({"tau": 0.0}, "tau: must be positive"),
                                          ({"rcond": -1.0}, "rcond: must be positive"),
                                          ({"balance_tol": 0.0}, "balance_tol: must be positive")])
def test_refuses_bad_parameters(kwargs, match):
    W1, W2, X, Y = _network(1.0, 3, 3, 3)
    with pytest.raises(ValueError, match=match):
        rc.qqt(1.0, W1, W2, X, Y, **kwargs)


def test_refuses_bad_times_and_shapes():
    W1, W2, X, Y = _network(1.0, 3, 3, 3)
    with pytest.raises(ValueError, match="t: times must be non-negative"):
        rc.qqt([-1.0], W1, W2, X, Y)
    with pytest.raises(ValueError, match="hidden widths differ"):
        rc.qqt(1.0, W1[:2], W2, X, Y)
    with pytest.raises(ValueError, match="sigma_yx"):
        rc.qqt_sigma(1.0, W1, W2, torch.zeros(2, 3, dtype=F64))
