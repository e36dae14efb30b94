"""Tests of linear_lens.representations: Theorems 4.1.1-4.1.3 of Anguita (2024) against independent computations."""

import mpmath
import numpy as np
import pytest
import torch

from linear_lens import balanced, gradient_flow as gf, representations as rp, riccati as rc, tasks
from bad_input import check_raises, uncovered

F64 = torch.float64
SHAPES = [((3, 3, 3), 1.5), ((3, 3, 3), -1.5), ((3, 3, 5), 1.5), ((3, 3, 5), -1.5), ((3, 5, 5), 1.5),
          ((5, 3, 3), 1.5), ((5, 3, 3), -1.5), ((5, 5, 3), -1.5), ((3, 4, 4), 0.0)]


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def test_modal_squares_identities_and_no_cancellation():
    s = torch.tensor([0.0, 1e-3, 0.5, 2.0, 30.0], dtype=F64)
    for lam in (-1e8, -7.0, -1e-9, 0.0, 1e-9, 7.0, 1e8):
        plus, minus = rp.modal_squares(s, lam)
        torch.testing.assert_close(plus * minus, s**2, rtol=1e-14, atol=0)
        torch.testing.assert_close(plus - minus, torch.full_like(s, lam), rtol=1e-14, atol=1e-14 * max(1, abs(lam)))
    # 50-digit reference for the small square at huge lambda
    plus, minus = rp.modal_squares(torch.tensor([1.0, 3.0], dtype=F64), 1e8)
    with mpmath.workdps(50):
        ref = [float((mpmath.sqrt(mpmath.mpf(10) ** 16 + 4 * mpmath.mpf(v) ** 2) - mpmath.mpf(10) ** 8) / 2)
               for v in (1, 3)]
    torch.testing.assert_close(minus, torch.tensor(ref, dtype=F64), rtol=1e-15, atol=0)
    plus0, minus0 = rp.modal_squares(s, 0.0)
    assert torch.equal(plus0, s) and torch.equal(minus0, s)
    p32, m32 = rp.modal_squares(torch.tensor([1.0], dtype=torch.float32), 1e4)
    assert float(m32) == pytest.approx(1e-4, rel=1e-7)


@pytest.mark.parametrize("shape, lam", SHAPES)
def test_weight_singular_values_match_algorithm_1(shape, lam, generator):
    n_in, n_hidden, n_out = shape
    W1, W2 = balanced.lambda_balanced_init(lam, n_in, n_hidden, n_out, generator=generator)
    k = min(shape)
    s = torch.linalg.svdvals(W2 @ W1)[:k]
    sv2, sv1 = rp.weight_singular_values(s, lam, *shape)
    torch.testing.assert_close(sv2, torch.linalg.svdvals(W2), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(sv1, torch.linalg.svdvals(W1), rtol=1e-10, atol=1e-10)


def test_weight_singular_values_batched_over_lambda():
    lams = torch.tensor([-4.0, 0.0, 2.0], dtype=F64)
    s = torch.tensor([2.0, 1.0, 0.5], dtype=F64)
    sv2, sv1 = rp.weight_singular_values(s, lams[:, None].squeeze(-1), 3, 3, 3)
    assert sv2.shape == (3, 3)
    for i, lam in enumerate(lams.tolist()):
        S2, S1 = balanced.balanced_singular_values(s, lam, 3, 3, 3)
        torch.testing.assert_close(sv2[i], torch.linalg.svdvals(S2), rtol=1e-14, atol=1e-14)
        torch.testing.assert_close(sv1[i], torch.linalg.svdvals(S1), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("shape", [(3, 3, 3), (3, 3, 5), (5, 3, 3), (3, 5, 5), (5, 5, 3)])
def test_balanced_weights_match_balanced_factors(shape, generator):
    n_in, n_hidden, n_out = shape
    W = torch.randn(n_out, n_in, generator=generator, dtype=F64)
    lams = [v for v in (-3.0, -0.2, 0.0, 0.2, 3.0) if balanced.feasible(v, *shape)]
    W1, W2 = rp.balanced_weights(W, torch.tensor(lams, dtype=F64), n_hidden)
    for i, lam in enumerate(lams):
        A1, A2 = balanced.balanced_factors(W, lam, n_hidden, R=torch.eye(n_hidden, dtype=F64))
        torch.testing.assert_close(W1[i], A1, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(W2[i], A2, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(balanced.balance(W1[i], W2[i]), lam * torch.eye(n_hidden, dtype=F64),
                                   rtol=0, atol=1e-12)
        torch.testing.assert_close(W2[i] @ W1[i], W, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, lam", SHAPES[:-1] + [((3, 3, 3), 0.0)])
def test_representations_from_product_along_the_integrated_flow(shape, lam, generator):
    """Theorem 4.1.2 at any time t, with the corrected complements, against the integrated gradient flow."""
    n_in, n_hidden, n_out = shape
    X, Y = tasks.random_regression_task(n_in, n_out, 3 * max(n_in, n_out), generator=generator)
    W1, W2 = balanced.lambda_balanced_init(lam, n_in, n_hidden, n_out, generator=generator)
    traj = gf.integrate(W1, W2, X, Y, np.linspace(0, 3, 5), rtol=1e-12, atol=1e-12)
    K1, K2 = rp.representations_from_product(traj.product, lam, n_hidden)
    assert _rel(K1, traj.W1.mT @ traj.W1) < 1e-9
    assert _rel(K2, traj.W2 @ traj.W2.mT) < 1e-9


def test_representations_at_convergence_against_the_exact_solution(generator):
    """Theorem 4.1.2(1) corrected against riccati.qqt at a time where the flow has converged."""
    for (n_in, n_hidden, n_out), lam in [((3, 3, 5), 2.0), ((3, 5, 5), 2.0), ((5, 3, 3), -2.0), ((4, 4, 4), -2.0)]:
        X, Y = tasks.regression_task_with_spectrum([2.0, 1.5, 1.0, 0.8][:min(n_in, n_out)], n_in, n_out, 12,
                                                   generator=generator)
        S = Y @ X.T / X.shape[1]
        W1, W2 = balanced.lambda_balanced_init(lam, n_in, n_hidden, n_out, generator=generator)
        b = rc.blocks(rc.qqt(400.0, W1, W2, X, Y), n_in)
        K1, K2 = rp.representations_from_product(S, lam, n_hidden)
        assert _rel(K1, b.input_rep) < 1e-9 and _rel(K2, b.output_rep) < 1e-9


def test_printed_convergence_representations_fail_where_the_erratum_says(generator):
    S = torch.randn(5, 3, generator=generator, dtype=F64)
    for hidden, lam, ok in [(5, 2.0, True), (3, 2.0, False), (3, -2.0, False)]:
        P1, P2 = rp.printed_convergence_representations(S, lam)
        K1, K2 = rp.representations_from_product(S, lam, hidden)
        assert (_rel(P2, K2) < 1e-12) is ok and _rel(P1, K1) < 1e-12
    P1, P2 = rp.printed_convergence_representations(S, -2.0)
    assert float(torch.linalg.eigvalsh(P2).min()) == pytest.approx(-2.0)      # not a Gram matrix
    Sq = torch.randn(3, 3, generator=generator, dtype=F64)
    for lam in (-3.0, 3.0):
        for a, b in zip(rp.printed_convergence_representations(Sq, lam), rp.representations_from_product(Sq, lam, 3)):
            assert _rel(a, b) < 1e-12


def test_limit_representations_error_is_order_lambda_minus_two(generator):
    S = torch.randn(3, 3, generator=generator, dtype=F64)
    lams = torch.tensor([100.0, 1000.0, -100.0, -1000.0], dtype=F64)
    L1, L2 = rp.limit_representations(S, lams)
    K1, K2 = rp.representations_from_product(S, lams, 3)
    err = torch.stack([(L1 - K1).flatten(1).norm(dim=1) / K1.flatten(1).norm(dim=1),
                       (L2 - K2).flatten(1).norm(dim=1) / K2.flatten(1).norm(dim=1)]).amax(0)
    assert float(err[0] / err[1]) == pytest.approx(100, rel=0.01) and float(err[2] / err[3]) == pytest.approx(100, rel=0.01)
    # with N_h < N_o the output representation is not lambda I: O(1) error (errata E13.2)
    S53 = torch.randn(5, 3, generator=generator, dtype=F64)
    _, L2 = rp.limit_representations(S53, 1e4)
    _, K2 = rp.representations_from_product(S53, 1e4, 3)
    frob = float(torch.linalg.matrix_norm(L2 - K2) / torch.linalg.matrix_norm(K2))
    assert frob == pytest.approx((2 / 3) ** 0.5, rel=1e-6)          # lambda (I - P) against lambda P, P of rank 3


def test_printed_expansions():
    s = torch.tensor([0.7, 2.0], dtype=F64)
    for lam in (1e2, 1e3, -1e2, -1e3):
        e = rp.printed_expansions(s, lam)
        assert float((e["eq4_10_right"] - e["plus"]).abs().max()) < 2 * float(s.max()) ** 4 / abs(lam) ** 3
        assert float((e["eq4_12_right"] - e["minus"]).abs().max()) < 2 * float(s.max()) ** 4 / abs(lam) ** 3
        torch.testing.assert_close(e["eq4_10_middle"] - e["eq4_10_right"], s**2 / abs(lam), rtol=1e-9, atol=0)
    e = rp.printed_expansions(s, -1e3)
    assert float((e["eq4_13_right"] - e["minus"]).abs().max() / 1e3) < 1e-5
    assert float((e["eq4_13_middle"] / e["minus"]).max()) < 1e-5


def test_bad_input():
    S = torch.randn(5, 3, dtype=F64)
    with pytest.raises(ValueError, match="hidden_dim: for min"):
        rp.representations_from_product(S, 1.0, 4)
    with pytest.raises(ValueError, match="positive lambda needs hidden_dim <= out_dim"):
        rp.weight_singular_values(torch.ones(3, dtype=F64), 1.0, 3, 6, 5)
    with pytest.raises(ValueError, match="negative lambda"):
        rp.balanced_weights(S, torch.tensor([-1.0, 1.0], dtype=F64), 5)
    with pytest.raises(ValueError, match="bottlenecked"):
        rp.balanced_weights(S, 1.0, 2)
    with pytest.raises(ValueError, match="rank-deficient"):
        rp.representations_from_product(torch.zeros(5, 3, dtype=F64), 1.0, 3)
    with pytest.raises(ValueError, match="lam"):
        rp.limit_representations(S, 0.0)
    with pytest.raises(ValueError, match="s: singular values"):
        rp.modal_squares(-1.0, 1.0)
    with pytest.raises(ValueError, match="lam"):
        rp.modal_squares(1.0, float("nan"))


@pytest.mark.parametrize("shape, lam", [((3, 3, 3), 2.0), ((3, 3, 3), 0.0), ((3, 3, 5), 4.0), ((3, 3, 5), -0.5),
                                        ((3, 5, 5), 0.5), ((5, 3, 3), -4.0)])
def test_convergence_rate_is_the_final_decay_rate(shape, lam, generator):
    """The slope of log ||W(t) - Sigma|| at late times, from the exact solution, against convergence_rate."""
    n_in, n_hidden, n_out = shape
    s = torch.tensor([3.0, 2.0, 0.5][:min(n_in, n_out)], dtype=F64)   # well separated rates
    X, Y = tasks.regression_task_with_spectrum(s, n_in, n_out, 12, generator=generator)
    S = Y @ X.T / X.shape[1]
    W0 = torch.randn(n_out, n_in, generator=generator, dtype=F64)
    if n_in == n_out and float(torch.det(W0) * torch.det(S)) < 0:
        W0[:, 0] *= -1
    W1, W2 = rp.balanced_weights(W0, lam, n_hidden)
    r = float(rp.convergence_rate(s, lam, n_in, n_hidden, n_out))
    t = torch.tensor([20.0, 24.0], dtype=F64) / r
    err = torch.linalg.matrix_norm(rc.blocks(rc.qqt(t, W1, W2, X, Y), n_in).product - S)
    fitted = float(torch.log(err[0] / err[1]) / (t[1] - t[0]))
    assert fitted == pytest.approx(r, rel=1e-3), (fitted, r)


S53 = torch.randn(5, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
I3 = torch.eye(3, dtype=F64)
BAD = [
    ("modal nan", lambda: rp.modal_squares(float("nan"), 1.0), r"^s: contains NaN"),
    ("modal negative", lambda: rp.modal_squares(-1.0, 1.0), r"^s: singular values must be non-negative"),
    ("sv shape", lambda: rp.weight_singular_values(torch.ones(2, dtype=F64), 1.0, 3, 3, 3), r"^s: expected shape"),
    ("sv width", lambda: rp.weight_singular_values(torch.ones(3, dtype=F64), 1.0, 3, 0, 3), r"^hidden_dim: expected"),
    ("sv infeasible", lambda: rp.weight_singular_values(torch.ones(3, dtype=F64), -1.0, 3, 4, 5),
     r"^lam: a negative lambda"),
    ("weights 1d", lambda: rp.balanced_weights(torch.ones(3, dtype=F64), 1.0, 3), r"^W: expected"),
    ("weights R", lambda: rp.balanced_weights(I3, 1.0, 3, R=2 * I3), r"^R: expected orthogonal"),
    ("weights bottleneck", lambda: rp.balanced_weights(I3, 0.0, 2), r"^hidden_dim: the network would be"),
    ("reps between", lambda: rp.representations_from_product(S53, 1.0, 4), r"^hidden_dim: for min"),
    ("reps rank", lambda: rp.representations_from_product(torch.zeros(5, 3, dtype=F64), 1.0, 3),
     r"^W: rank-deficient"),
    ("reps tol", lambda: rp.representations_from_product(S53, 1.0, 3, rank_tol=0.0), r"^rank_tol: expected"),
    ("printed 1d", lambda: rp.printed_convergence_representations(torch.ones(3, dtype=F64), 1.0),
     r"^sigma_yx: expected"),
    ("limit zero", lambda: rp.limit_representations(S53, 0.0), r"^lam: Theorem 4.1.2\(2\)"),
    ("expansions zero", lambda: rp.printed_expansions(1.0, 0.0), r"^lam: the expansions"),
    ("rate shape", lambda: rp.convergence_rate(torch.ones(2, dtype=F64), 1.0, 3, 3, 3), r"^s: expected shape"),
    ("rate tau", lambda: rp.convergence_rate(torch.ones(3, dtype=F64), 1.0, 3, 3, 3, tau=0.0), r"^tau: expected"),
]


@pytest.mark.parametrize("name, call, message", BAD, ids=[c[0] for c in BAD])
def test_bad_input_raises_a_clear_value_error(name, call, message):
    check_raises(name, call, message)


def test_every_public_function_has_a_bad_input_case():
    missing = uncovered(rp, "rp", __file__)
    assert not missing, f"public functions without a bad-input case: {missing}"
