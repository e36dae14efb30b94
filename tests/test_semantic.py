"""Tests of linear_lens.semantic and tasks.semantic_hierarchy: the semantic task of Anguita (2024), Section 4.3."""

import math

import numpy as np
import pytest
import torch

from linear_lens import balanced, gradient_flow as gf, riccati as rc, semantic as sm, tasks

F64 = torch.float64


# --- the task -----------------------------------------------------------------------------------------------------


def test_semantic_hierarchy_data():
    X, Y = tasks.semantic_hierarchy()
    assert X.shape == Y.shape == (8, 8) and X.dtype == Y.dtype == F64
    torch.testing.assert_close(X, torch.eye(8, dtype=F64), rtol=0, atol=0, msg="items are one-hot inputs")
    assert set(Y.unique().tolist()) == {-1.0, 0.0, 1.0}
    torch.testing.assert_close(Y[0], torch.ones(8, dtype=F64), msg="the root feature belongs to every item")
    # every feature splits a node of the tree: +1 on its left branch, -1 on its right, so each row sums to 0
    torch.testing.assert_close(Y[1:].sum(1), torch.zeros(7, dtype=F64), msg="non-root features must balance")
    gram = Y @ Y.T
    torch.testing.assert_close(gram, torch.diag(torch.diag(gram)), rtol=0, atol=0, msg="rows must be orthogonal")
    assert len(tasks.SEMANTIC_ITEMS) == len(tasks.SEMANTIC_FEATURES) == 8


def test_semantic_hierarchy_singular_values_one_per_level():
    X, Y = tasks.semantic_hierarchy()
    s = torch.linalg.svdvals(Y @ X.T / 8)
    expected = torch.tensor([math.sqrt(8)] * 2 + [2.0] * 2 + [math.sqrt(2)] * 4, dtype=F64) / 8
    torch.testing.assert_close(s, expected, rtol=0, atol=1e-15, msg="singular values sqrt8/8 (x2), 2/8 (x2), sqrt2/8")


def test_semantic_hierarchy_similarity_follows_the_tree():
    X, Y = tasks.semantic_hierarchy()
    sim = Y.T @ Y                            # items' similarity; fish 1 is item 0
    assert sim[0, 1] > sim[0, 2] > sim[0, 4], "fish-fish > fish-bird > fish-plant"
    assert sim[4, 5] > sim[4, 6] > sim[4, 0], "algae-algae > algae-flower > algae-animal"


def test_semantic_hierarchy_dtype_and_refusals():
    X, Y = tasks.semantic_hierarchy(dtype=torch.float32)
    assert X.dtype == Y.dtype == torch.float32
    with pytest.raises(ValueError, match="dtype"):
        tasks.semantic_hierarchy(dtype=torch.int64)


# --- isotropic inputs ---------------------------------------------------------------------------------------------


def test_isotropic_equivalence_against_integrated_flow(generator):
    X, Y = tasks.semantic_hierarchy()
    S, c = sm.isotropic_equivalent(X, Y)
    assert c == pytest.approx(1 / 8, abs=1e-15)
    torch.testing.assert_close(S, Y, rtol=0, atol=1e-15, msg="Sigma_hat = Sigma^yx / c = Y for X = I")
    W1, W2 = balanced.lambda_balanced_init(-2.0, 8, 8, 8, sigma=0.5, generator=generator)
    t = np.linspace(0, 30, 7)
    flow = gf.integrate(W1, W2, X, Y, t, rtol=1e-12, atol=1e-12)
    exact = sm.exact_loss(torch.tensor(t), W1, W2, X, Y)
    torch.testing.assert_close(exact, flow.loss, rtol=1e-9, atol=1e-12,
                               msg="the exact loss on (Sigma/c, tau/c) must match the integrated flow")


def test_exact_loss_keeps_the_floor_of_unrealisable_tasks(generator):
    # isotropic inputs with more samples than inputs: Y is not a linear function of X, the loss floor is positive
    Q = rc.riccati_eigenbasis(torch.randn(4, 4, generator=generator, dtype=F64), 0.0).O[:, :4]   # 8 x 4 orthonormal
    X = Q.T * 2.0                                            # (4, 8): X X^T / 8 = I / 2
    Y = torch.randn(3, 8, generator=generator, dtype=F64)
    W1, W2 = balanced.lambda_balanced_init(1.0, 4, 3, 3, generator=generator)
    t = np.array([0.0, 1.0, 5.0, 60.0])
    flow = gf.integrate(W1, W2, X, Y, t, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(sm.exact_loss(torch.tensor(t), W1, W2, X, Y), flow.loss, rtol=1e-9, atol=1e-12,
                               msg="exact loss with a positive floor")


def test_isotropic_refuses_anisotropic_inputs(generator):
    X = torch.randn(3, 20, generator=generator, dtype=F64)
    with pytest.raises(ValueError, match="isotropic"):
        sm.isotropic_equivalent(X, torch.randn(2, 20, generator=generator, dtype=F64))
    with pytest.raises(ValueError, match="X, Y"):
        sm.isotropic_equivalent(torch.eye(3, dtype=F64), torch.zeros(2, 4, dtype=F64))


# --- representations and scores -----------------------------------------------------------------------------------


@pytest.mark.parametrize("lam", [-3.0, 0.5, 4.0])
def test_converged_representations_against_exact_solution(lam, generator):
    X, Y = tasks.random_regression_task(4, 4, 12, generator=generator)
    W1, W2 = balanced.lambda_balanced_init(lam, 4, 4, 4, sigma=0.7, generator=generator)
    if lam == 0.5 and float(rc.orientation(W1, W2, X, Y)) < 0:
        W1 = W1 @ torch.diag(torch.tensor([-1.0, 1, 1, 1], dtype=F64))
    P = rc.qqt(1e5, W1, W2, X, Y)
    b = rc.blocks(P, 4)
    K1, K2 = sm.converged_representations(Y @ X.T / 12, lam)
    torch.testing.assert_close(K1, b.input_rep, rtol=1e-9, atol=1e-10, msg="W1^T W1 at convergence (Thm 4.1.2)")
    torch.testing.assert_close(K2, b.output_rep, rtol=1e-9, atol=1e-10, msg="W2 W2^T at convergence (Thm 4.1.2)")


def test_converged_representations_are_stable_for_huge_lambda():
    S = torch.diag(torch.tensor([2.0, 1.0], dtype=F64))
    K1, K2 = sm.converged_representations(S, torch.tensor([1e9, -1e9], dtype=F64))
    # g1 = 2 s^2 / (sqrt(lam^2 + 4 s^2) + lam) ~ s^2 / lam without cancellation
    torch.testing.assert_close(torch.diagonal(K1[0]), torch.tensor([4e-9, 1e-9], dtype=F64), rtol=1e-12, atol=0)
    torch.testing.assert_close(torch.diagonal(K2[1]), torch.tensor([4e-9, 1e-9], dtype=F64), rtol=1e-12, atol=0)
    torch.testing.assert_close(K1[0] @ K1[0] + 1e9 * K1[0], S.T @ S, rtol=1e-12, atol=0,
                               msg="K1^2 + lam K1 = W^T W")


def test_task_structure_is_basis_free_with_repeated_values():
    X, Y = tasks.semantic_hierarchy()
    S = Y / 8
    U, s, Vh = torch.linalg.svd(S)
    for power in (1, 2):
        torch.testing.assert_close(sm.task_structure(S, "input", power), Vh.T @ torch.diag(s**power) @ Vh,
                                   rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(sm.task_structure(S, "output", power), U @ torch.diag(s**power) @ U.T,
                                   rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="side"):
        sm.task_structure(S, "hidden", 1)
    with pytest.raises(ValueError, match="power"):
        sm.task_structure(S, "input", 3)


def test_cosine_similarity_known_values():
    A = torch.eye(2, dtype=F64)
    assert float(sm.cosine_similarity(A, 3 * A)) == pytest.approx(1.0, abs=1e-15)
    assert float(sm.cosine_similarity(A, torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=F64))) == pytest.approx(0.0)
    assert float(sm.cosine_similarity(A, torch.diag(torch.tensor([1.0, 0.0], dtype=F64)))) == pytest.approx(
        1 / math.sqrt(2), abs=1e-15)
    with pytest.raises(ValueError, match="zero"):
        sm.cosine_similarity(A, torch.zeros(2, 2, dtype=F64))


def test_task_specific_score_at_zero_and_its_symmetry():
    _, Y = tasks.semantic_hierarchy()
    S = Y.clone()
    lams = torch.tensor([-7.0, -1.0, 0.0, 1.0, 7.0], dtype=F64)
    K1, K2 = sm.converged_representations(S, lams)
    tin, tout = sm.task_specific_score(K1, S, "input"), sm.task_specific_score(K2, S, "output")
    assert float(tin[2]) == pytest.approx(1.0, abs=1e-14) and float(tout[2]) == pytest.approx(1.0, abs=1e-14)
    torch.testing.assert_close(tin, torch.flip(tout, [0]), rtol=0, atol=1e-14, msg="TSC_in(lam) = TSC_out(-lam)")
    # far from 0 the lazy side tends to the score of the identity matrix
    K1f, _ = sm.converged_representations(S, -1e6)
    assert float(sm.task_specific_score(K1f, S, "input")) == pytest.approx(
        float(sm.task_specific_score(torch.eye(8, dtype=F64), S, "input")), abs=1e-9)


def test_printed_output_score_needs_square_hidden_layer(generator):
    S = torch.randn(3, 3, generator=generator, dtype=F64)
    with pytest.raises(ValueError, match="N_h = N_o"):
        sm.printed_output_score(torch.randn(3, 4, generator=generator, dtype=F64), S)
    W2 = torch.randn(3, 3, generator=generator, dtype=F64)
    assert 0 < float(sm.printed_output_score(W2, S)) <= 1 + 1e-15


# --- initialisations ----------------------------------------------------------------------------------------------


def test_initialisations_of_fig42(generator):
    inits = sm.initialisations([10.0, -10.0], generator=generator)
    assert list(inits) == ["Gaussian small", "Gaussian large", "0-balanced", "10-balanced", "-10-balanced"]
    eye = torch.eye(8, dtype=F64)
    for name, lam in [("0-balanced", 0.0), ("10-balanced", 10.0), ("-10-balanced", -10.0)]:
        W1, W2 = inits[name]
        torch.testing.assert_close(balanced.balance(W1, W2), lam * eye, rtol=0, atol=1e-11,
                                   msg=f"{name} must be balanced")
    assert float(inits["Gaussian small"][0].std()) < 0.01 < float(inits["Gaussian large"][0].std())


def test_initialisations_zero_balanced_product_scale():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    inits = sm.initialisations([], generator=g1)
    for _ in range(2):                                   # replay the two Gaussian draws
        torch.randn(8, 8, generator=g2, dtype=F64), torch.randn(8, 8, generator=g2, dtype=F64)
    A = 0.42 * torch.randn(8, 8, generator=g2, dtype=F64)
    B = 0.42 * torch.randn(8, 8, generator=g2, dtype=F64)
    W1, W2 = inits["0-balanced"]
    torch.testing.assert_close(W2 @ W1, 1.15**2 * (B @ A), rtol=1e-12, atol=1e-13,
                               msg="zero-balanced weights factor 1.15^2 times a Gaussian product")


def test_orient_flips_orientation_and_keeps_balance(generator):
    X, Y = tasks.semantic_hierarchy()
    W1, W2 = sm.initialisations([], generator=generator)["0-balanced"]
    for sign in (1, -1):
        A, B = sm.orient(W1, W2, Y, sign)
        assert int(rc.orientation(A, B, X, Y)) == sign
        torch.testing.assert_close(balanced.balance(A, B), balanced.balance(W1, W2), rtol=0, atol=1e-13)
    with pytest.raises(ValueError, match="sign"):
        sm.orient(W1, W2, Y, 0)
    with pytest.raises(ValueError, match="singular"):
        sm.orient(W1, W2, torch.zeros(8, 8, dtype=F64), 1)


# --- gradient descent and convergence times ------------------------------------------------------------------------


def test_descent_matches_gradient_flow_train(generator):
    X, Y = tasks.random_regression_task(3, 2, 9, generator=generator)
    W1 = 0.5 * torch.randn(4, 4, 3, generator=generator, dtype=F64)
    W2 = 0.5 * torch.randn(4, 2, 4, generator=generator, dtype=F64)
    ours = sm.descent(W1, W2, X, Y, 0.05, 200, show_progress=False)
    ref = gf.train(W1, W2, X, Y, 0.05, 200, show_progress=False)
    torch.testing.assert_close(ours.loss, ref.loss, rtol=1e-12, atol=1e-15, msg="losses along the way")
    torch.testing.assert_close(ours.W1, ref.W1[-1], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(ours.W2, ref.W2[-1], rtol=1e-12, atol=1e-14)


def test_descent_learning_rate_per_network_and_refusals(generator):
    X, Y = tasks.random_regression_task(2, 2, 6, generator=generator)
    W1 = 0.3 * torch.randn(2, 2, 2, generator=generator, dtype=F64)
    W2 = 0.3 * torch.randn(2, 2, 2, generator=generator, dtype=F64)
    both = sm.descent(W1, W2, X, Y, torch.tensor([0.01, 0.02], dtype=F64), 50, show_progress=False)
    one = sm.descent(W1[1], W2[1], X, Y, 0.02, 50, show_progress=False)
    torch.testing.assert_close(both.loss[:, 1], one.loss, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="lr"):
        sm.descent(W1, W2, X, Y, -0.1, 5)
    with pytest.raises(ValueError, match="diverged"):
        sm.descent(10 * W1, 10 * W2, X, Y, 50.0, 200, show_progress=False)
    with pytest.raises(ValueError, match="chain"):
        sm.descent(W1, W2, X, Y[:1], 0.1, 5)


def test_first_below_known_answers():
    L = torch.tensor([[5.0, 5.0], [3.0, 4.0], [1.0, 4.0], [0.5, 4.0]], dtype=F64)
    out = sm.first_below(L, 2.0)
    assert float(out[0]) == 2.0 and math.isnan(float(out[1]))
    with pytest.raises(ValueError, match="level"):
        sm.first_below(L, 0.0)


def test_exact_first_below_is_the_crossing_of_the_exact_loss(generator):
    X, Y = tasks.semantic_hierarchy()
    W1, W2 = balanced.lambda_balanced_init(4.0, 8, 8, 8, generator=generator)
    level = 1e-2
    t_star = float(sm.exact_first_below(W1, W2, X, Y, level, t_max=50.0))
    L = sm.exact_loss(torch.tensor([t_star - 1e-6, t_star + 1e-6]), W1, W2, X, Y)
    assert float(L[0]) > level > float(L[1]), "t* must bracket the crossing"
    # gradient descent at a small step crosses at about the same time
    run = sm.descent(W1, W2, X, Y, 0.001, int(t_star / 0.001) + 200, show_progress=False)
    assert float(sm.first_below(run.loss, level)) * 0.001 == pytest.approx(t_star, rel=2e-2)
    assert math.isnan(float(sm.exact_first_below(W1, W2, X, Y, 1e-30, t_max=1.0)))


def test_asymptotic_loss_rate_against_exact_solution(generator):
    # well separated singular values, so that the slowest mode dominates long before the rounding floor
    X, Y = tasks.regression_task_with_spectrum([3.0, 0.5], 2, 2, 6, generator=generator)
    S = Y @ X.T / 6
    lam = 2.0
    W1, W2 = balanced.lambda_balanced_init(lam, 2, 2, 2, sigma=0.5, generator=generator)
    t = torch.tensor([5.0, 5.5], dtype=F64)
    L = sm.exact_loss(t, W1, W2, X, Y)
    measured = float(torch.log(L[0] / L[1]) / 0.5)
    assert measured == pytest.approx(float(sm.asymptotic_loss_rate(S, lam)), rel=1e-4)
    # per step of gradient descent
    lr = 0.01
    run = sm.descent(W1, W2, X, Y, lr, 600, show_progress=False)
    per_step = float(torch.log(run.loss[500] / run.loss[600]) / 100)
    assert per_step == pytest.approx(float(sm.asymptotic_loss_rate(S, lam, lr=lr)), rel=3e-3)
    with pytest.raises(ValueError, match="overshoots"):
        sm.asymptotic_loss_rate(S, lam, lr=10.0)


def test_fit_convergence_law_recovers_parameters():
    lams = np.linspace(5, 60, 30)
    fit = sm.fit_convergence_law(lams, 3000 / np.sqrt(lams**2 + 8), "hyperbolic")
    assert fit.params == pytest.approx((3000, 8), rel=1e-6) and fit.rms < 1e-6
    fit1 = sm.fit_convergence_law(-lams, 3000 / np.sqrt(lams**2 + 8), "hyperbolic", offset=8.0)
    assert fit1.params[0] == pytest.approx(3000, rel=1e-8)
    fit_e = sm.fit_convergence_law(lams, 700 * np.exp(-0.08 * lams), "exponential")
    assert fit_e.params == pytest.approx((-0.08, 700), rel=1e-6)
    np.testing.assert_allclose(fit_e(np.array([-10.0, 10.0])), 700 * np.exp(-0.8) * np.ones(2), rtol=1e-6)
    with pytest.raises(ValueError, match="law"):
        sm.fit_convergence_law(lams, lams, "linear")


def test_log_linear_fit():
    k = np.arange(10.0)
    rate, r2 = sm.log_linear_fit(k, 3 * np.exp(-0.25 * k))
    assert rate == pytest.approx(0.25, abs=1e-12) and r2 == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="positive"):
        sm.log_linear_fit(k, -np.ones(10))
