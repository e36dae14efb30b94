"""Tests of linear_lens.balanced: the balance computation, lambda-balanced weights and their constructions."""

import math
import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from linear_lens import balanced
from linear_lens.balanced import (
    algorithm1_accepts,
    aligned_lambda_balanced_init,
    balance,
    balanced_singular_values,
    feasible,
    fitted_lambda,
    lambda_balanced_init,
)
from linear_lens.init_balance import random_init
from linear_lens.tasks import input_output_correlation, random_regression_task

F64 = torch.float64
EPS = torch.finfo(F64).eps


def _eye(n):
    return torch.eye(n, dtype=F64)


def _balance_error(W1, W2, lam):
    """Max-entry distance of B from lam I, relative to the scale of the weights."""
    B = balance(W1, W2)
    scale = 1.0 + torch.linalg.matrix_norm(W1, 2) ** 2 + torch.linalg.matrix_norm(W2, 2) ** 2 + abs(lam)
    return float((B - lam * _eye(B.shape[-1])).abs().max() / scale)


# Widths and lambdas for which balanced weights exist: lam > 0 needs hidden <= out, lam < 0 needs hidden <= in.
@st.composite
def feasible_requests(draw):
    in_dim = draw(st.integers(1, 7))
    out_dim = draw(st.integers(1, 7))
    sign = draw(st.sampled_from([-1, 0, 1]))
    if sign > 0:
        hidden = draw(st.integers(1, out_dim))
    elif sign < 0:
        hidden = draw(st.integers(1, in_dim))
    else:
        hidden = draw(st.integers(1, 9))
    magnitude = draw(st.floats(1e-3, 1e3))
    return sign * magnitude, in_dim, hidden, out_dim


@st.composite
def infeasible_requests(draw):
    in_dim = draw(st.integers(1, 7))
    out_dim = draw(st.integers(1, 7))
    sign = draw(st.sampled_from([-1, 1]))
    low = (out_dim if sign > 0 else in_dim) + 1
    hidden = draw(st.integers(low, low + 5))
    return sign * draw(st.floats(1e-3, 1e3)), in_dim, hidden, out_dim


# ----------------------------------------------------------------------------------------------------------------
# balance and fitted_lambda
# ----------------------------------------------------------------------------------------------------------------


def test_balance_known_answer():
    W1 = torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=F64)  # (N_h=2, N_i=2)
    W2 = torch.tensor([[3.0, 0.0], [1.0, 1.0], [0.0, 2.0]], dtype=F64)  # (N_o=3, N_h=2)
    # W2^T W2 = [[10, 1], [1, 5]], W1 W1^T = [[5, 2], [2, 1]]
    expected = torch.tensor([[5.0, -1.0], [-1.0, 4.0]], dtype=F64)
    torch.testing.assert_close(balance(W1, W2), expected, atol=0, rtol=0, msg="B = W2^T W2 - W1 W1^T by hand")


def test_balance_is_batched(generator):
    W1 = torch.randn(4, 3, 5, 2, generator=generator, dtype=F64)
    W2 = torch.randn(4, 3, 6, 5, generator=generator, dtype=F64)
    B = balance(W1, W2)
    assert B.shape == (4, 3, 5, 5), f"batched balance has shape {tuple(B.shape)}"
    torch.testing.assert_close(B[2, 1], balance(W1[2, 1], W2[2, 1]), atol=1e-14, rtol=0, msg="batch entry")


def test_fitted_lambda_is_trace_over_width(generator):
    W1 = torch.randn(7, 3, generator=generator, dtype=F64)
    W2 = torch.randn(5, 7, generator=generator, dtype=F64)
    B = balance(W1, W2)
    expected = torch.trace(B) / 7
    torch.testing.assert_close(fitted_lambda(W1, W2), expected, atol=1e-14, rtol=0, msg="lambda* = Tr(B)/N_h")


def test_fitted_lambda_minimises_frobenius_distance_brute_force(generator):
    """Independent check of Theorem 4.5.1: a grid search over lambda finds the same minimiser."""
    W1 = torch.randn(6, 4, generator=generator, dtype=F64)
    W2 = torch.randn(8, 6, generator=generator, dtype=F64)
    B = balance(W1, W2)
    lam_star = float(fitted_lambda(W1, W2))
    grid = torch.linspace(lam_star - 5, lam_star + 5, 200001, dtype=F64)
    loss = ((B[None] - grid[:, None, None] * _eye(6)) ** 2).sum((-1, -2))
    best = float(grid[loss.argmin()])
    assert abs(best - lam_star) <= 1e-4, f"grid minimiser {best} vs Tr(B)/N_h = {lam_star}"
    # the thesis's statement Tr(B) (without 1/N_h) is a worse fit whenever Tr(B) != 0
    thesis = float(torch.trace(B))
    worse = float(((B - thesis * _eye(6)) ** 2).sum()) - float(((B - lam_star * _eye(6)) ** 2).sum())
    assert worse > 1.0, f"Tr(B) fits no better than Tr(B)/N_h? loss difference {worse}"


@given(feasible_requests())
def test_fitted_lambda_recovers_lambda_of_balanced_weights(request):
    lam, i, h, o = request
    W1, W2 = lambda_balanced_init(lam, i, h, o, generator=torch.Generator().manual_seed(3))
    assert math.isclose(float(fitted_lambda(W1, W2)), lam, rel_tol=1e-9, abs_tol=1e-10), f"{request}"


def test_balance_rejects_bad_input():
    with pytest.raises(ValueError, match="^W1, W2: the hidden widths differ"):
        balance(torch.zeros(3, 2), torch.zeros(4, 5))
    with pytest.raises(ValueError, match="^W1: expected shape"):
        balance(torch.zeros(3), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="^W2: expected shape"):
        balance(torch.zeros(3, 2), torch.zeros(3))
    with pytest.raises(ValueError, match="^W1: contains NaN"):
        balance(torch.tensor([[float("nan")]]), torch.zeros(1, 1))
    with pytest.raises(ValueError, match="^W2: expected an array"):
        balance(torch.zeros(1, 1), "weights")
    with pytest.raises(ValueError, match="^W1, W2: the hidden widths differ"):
        fitted_lambda(torch.zeros(3, 2), torch.zeros(4, 5))


# ----------------------------------------------------------------------------------------------------------------
# lambda_balanced_init (Algorithm 1, Theorem 4.1.1 corrected) and feasibility (Theorem 3.4.1 corrected)
# ----------------------------------------------------------------------------------------------------------------


@given(feasible_requests(), st.integers(0, 2**31 - 1))
def test_lambda_balanced_init_is_balanced_to_machine_precision(request, seed):
    lam, i, h, o = request
    W1, W2 = lambda_balanced_init(lam, i, h, o, generator=torch.Generator().manual_seed(seed))
    assert W1.shape == (h, i) and W2.shape == (o, h), f"shapes {tuple(W1.shape)}, {tuple(W2.shape)} for {request}"
    assert W1.dtype == F64 and W2.dtype == F64
    err = _balance_error(W1, W2, lam)
    assert err <= 50 * EPS, f"relative balance error {err:.2e} for (lam, in, hidden, out) = {request}"


@given(infeasible_requests())
def test_infeasible_requests_raise(request):
    lam, i, h, o = request
    assert not feasible(lam, i, h, o)
    side = "out_dim" if lam > 0 else "in_dim"
    with pytest.raises(ValueError, match=rf"^lam: a (positive|negative) lambda needs hidden_dim <= {side}"):
        lambda_balanced_init(lam, i, h, o)


def test_hidden_wider_than_both_ends_names_the_constraint():
    with pytest.raises(ValueError, match="a hidden layer wider than both ends admits only lambda = 0"):
        lambda_balanced_init(1.0, 3, 6, 4)
    with pytest.raises(ValueError, match="a hidden layer wider than both ends admits only lambda = 0"):
        lambda_balanced_init(-1.0, 3, 6, 4)
    W1, W2 = lambda_balanced_init(0.0, 3, 6, 4, generator=torch.Generator().manual_seed(0))
    assert _balance_error(W1, W2, 0.0) <= 50 * EPS, "lambda = 0 is possible for every width"


@pytest.mark.parametrize(
    "lam, dims, thesis_rule",
    [
        (-1.0, (3, 3, 5), "Theorem 3.4.1(2): n_o > n_i implies lambda > 0"),
        (1.0, (5, 3, 3), "Theorem 3.4.1(2) and Algorithm 1: n_i > n_o implies lambda < 0"),
        (2.0, (4, 2, 6), "Theorem 3.4.1(1) and Algorithm 1: no bottleneck, n_h >= min(n_i, n_o)"),
        (-2.0, (6, 2, 4), "Theorem 3.4.1(1) and Algorithm 1: no bottleneck, n_h >= min(n_i, n_o)"),
    ],
)
def test_counterexamples_to_theorem_3_4_1_are_balanced(lam, dims, thesis_rule, generator):
    """Requests the thesis forbids, yet balanced weights exist: brute-force check of B = lam I."""
    assert feasible(lam, *dims)
    W1, W2 = lambda_balanced_init(lam, *dims, generator=generator)
    assert _balance_error(W1, W2, lam) <= 50 * EPS, f"{thesis_rule}: counterexample {dims}, lam={lam} not balanced"


@given(feasible_requests())
def test_singular_values_follow_corrected_theorem_4_1_1(request):
    """Eigenvalues of W2^T W2 and W1 W1^T are S2^2, S1^2 of eq. (4.2) corrected, from S = svd(W2 W1)."""
    lam, i, h, o = request
    W1, W2 = lambda_balanced_init(lam, i, h, o, generator=torch.Generator().manual_seed(11))
    k = min(i, h, o)
    S = torch.linalg.svdvals(W2 @ W1)[:k]
    S2, S1 = balanced_singular_values(S, lam, i, h, o)
    expected2 = torch.sort(torch.diagonal(S2.T @ S2)).values
    expected1 = torch.sort(torch.diagonal(S1 @ S1.T)).values
    scale = 1.0 + abs(lam) + float(S.max()) if k else 1.0
    got2 = torch.linalg.eigvalsh(W2.T @ W2)
    got1 = torch.linalg.eigvalsh(W1 @ W1.T)
    assert float((got2 - expected2).abs().max()) <= 1e-11 * scale, f"W2^T W2 spectrum for {request}"
    assert float((got1 - expected1).abs().max()) <= 1e-11 * scale, f"W1 W1^T spectrum for {request}"


def test_balanced_singular_values_known_answer():
    # S = 2, lam = 3: a = sqrt(9 + 16) = 5, s2^2 = 4, s1^2 = 1; extra hidden direction gets sqrt(3) in S2
    S2, S1 = balanced_singular_values(torch.tensor([2.0], dtype=F64), 3.0, 1, 2, 2)
    torch.testing.assert_close(S2, torch.tensor([[2.0, 0.0], [0.0, math.sqrt(3.0)]], dtype=F64), atol=1e-15, rtol=0)
    torch.testing.assert_close(S1, torch.tensor([[1.0], [0.0]], dtype=F64), atol=1e-15, rtol=0)
    # lam = -3: roles swap, the extra direction gets sqrt(3) in S1
    S2, S1 = balanced_singular_values(torch.tensor([2.0], dtype=F64), -3.0, 2, 2, 1)
    torch.testing.assert_close(S2, torch.tensor([[1.0, 0.0]], dtype=F64), atol=1e-15, rtol=0)
    torch.testing.assert_close(S1, torch.tensor([[2.0, 0.0], [0.0, math.sqrt(3.0)]], dtype=F64), atol=1e-15, rtol=0)


def test_balanced_singular_values_are_accurate_for_large_lambda():
    """The small factor S^2 / s2 is computed without cancellation: s2 s1 = S to relative precision."""
    S = torch.tensor([1e-6, 1.0], dtype=F64)
    S2, S1 = balanced_singular_values(S, 1e8, 2, 2, 2)
    product = torch.diagonal(S2 @ S1)
    torch.testing.assert_close(product, S, atol=0, rtol=1e-14, msg="s2 * s1 = S at lam = 1e8")


def test_zero_balanced_special_case(generator):
    """lam = 0 gives the zero-balanced weights of Saxe et al.: W1, W2 share the singular values sqrt(S)."""
    W1, W2 = lambda_balanced_init(0.0, 4, 4, 4, generator=generator)
    S = torch.linalg.svdvals(W2 @ W1)
    torch.testing.assert_close(torch.linalg.svdvals(W1), S.sqrt(), atol=1e-12, rtol=1e-12, msg="W1 singular values")
    torch.testing.assert_close(torch.linalg.svdvals(W2), S.sqrt(), atol=1e-12, rtol=1e-12, msg="W2 singular values")


def test_sigma_scales_the_product_and_generator_reproduces():
    W1a, W2a = lambda_balanced_init(0.5, 3, 4, 5, sigma=1.0, generator=torch.Generator().manual_seed(5))
    W1b, W2b = lambda_balanced_init(0.5, 3, 4, 5, sigma=3.0, generator=torch.Generator().manual_seed(5))
    W1c, W2c = lambda_balanced_init(0.5, 3, 4, 5, sigma=1.0, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(W2b @ W1b, 9.0 * (W2a @ W1a), atol=1e-12, rtol=1e-12, msg="product scales as sigma^2")
    assert torch.equal(W1a, W1c) and torch.equal(W2a, W2c), "same seed, same weights"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lam=float("nan")), "^lam: expected a finite real number"),
        (dict(lam="1"), "^lam: expected a finite real number"),
        (dict(in_dim=0), "^in_dim: expected a positive integer"),
        (dict(hidden_dim=2.5), "^hidden_dim: expected a positive integer"),
        (dict(out_dim=-1), "^out_dim: expected a positive integer"),
        (dict(sigma=0.0), "^sigma: expected a finite positive number"),
        (dict(sigma=float("inf")), "^sigma: expected a finite real number"),
    ],
)
def test_lambda_balanced_init_rejects_bad_arguments(kwargs, match):
    args = dict(lam=1.0, in_dim=3, hidden_dim=3, out_dim=3, sigma=1.0) | kwargs
    with pytest.raises(ValueError, match=match):
        lambda_balanced_init(**args)


def test_balanced_singular_values_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"^S: expected shape \(\.\.\., 2\)"):
        balanced_singular_values(torch.ones(3, dtype=F64), 1.0, 2, 2, 2)
    with pytest.raises(ValueError, match="^S: singular values must be non-negative"):
        balanced_singular_values(torch.tensor([1.0, -1.0], dtype=F64), 1.0, 2, 2, 2)
    with pytest.raises(ValueError, match="^lam: a positive lambda needs hidden_dim <= out_dim"):
        balanced_singular_values(torch.ones(2, dtype=F64), 1.0, 2, 3, 2)


# ----------------------------------------------------------------------------------------------------------------
# aligned_lambda_balanced_init (Algorithm 2)
# ----------------------------------------------------------------------------------------------------------------


@given(feasible_requests(), st.integers(0, 2**31 - 1))
def test_aligned_init_is_aligned_and_balanced(request, seed):
    lam, i, h, o = request
    gen = torch.Generator().manual_seed(seed)
    X, Y = random_regression_task(i, o, 3 * i + 2, generator=gen)
    W1, W2 = aligned_lambda_balanced_init(lam, X, Y, h, generator=gen)
    assert W1.shape == (h, i) and W2.shape == (o, h)
    assert _balance_error(W1, W2, lam) <= 50 * EPS, f"aligned weights not balanced for {request}"
    U, _, Vh = torch.linalg.svd(input_output_correlation(X, Y), full_matrices=True)
    M = U.T @ (W2 @ W1) @ Vh.T  # diagonal iff W2 W1 has the singular vectors of Sigma^yx
    off = M.clone()
    k = min(i, o)
    off[range(k), range(k)] = 0.0
    scale = 1.0 + float(torch.linalg.matrix_norm(W2 @ W1, 2))
    assert float(off.abs().max()) <= 1e-12 * scale, f"U^T W2 W1 V not diagonal for {request}: {float(off.abs().max())}"
    assert bool((torch.diagonal(M)[:k] >= -1e-12 * scale).all()), "singular values of the product are non-negative"


def test_aligned_init_rejects_bad_input():
    X = torch.randn(3, 10, dtype=F64)
    with pytest.raises(ValueError, match="^X, Y: expected shapes"):
        aligned_lambda_balanced_init(1.0, X, torch.randn(4, 9, dtype=F64), 4)
    with pytest.raises(ValueError, match="^Y: contains NaN"):
        aligned_lambda_balanced_init(1.0, X, torch.full((4, 10), float("nan")), 4)
    with pytest.raises(ValueError, match="^lam: a positive lambda needs hidden_dim <= out_dim"):
        aligned_lambda_balanced_init(1.0, X, torch.randn(4, 10, dtype=F64), 5)


def test_feasible_rejects_bad_widths():
    with pytest.raises(ValueError, match="^in_dim: expected a positive integer"):
        feasible(1.0, 0, 1, 1)


# ----------------------------------------------------------------------------------------------------------------
# Gradient descent over all weights: the feasibility boundary of Theorem 3.4.1 (corrected)
# ----------------------------------------------------------------------------------------------------------------


def test_gradient_descent_confirms_feasibility_and_bound():
    requests = [(1.0, 3, 3, 5), (-1.0, 3, 3, 5), (1.0, 5, 3, 3), (2.0, 3, 5, 4), (-1.0, 3, 5, 4), (1.0, 4, 2, 6)]
    gen = torch.Generator().manual_seed(0)
    best, bound = balanced.min_balance_residuals(requests, starts=4, steps=800, generator=gen)
    for (lam, i, h, o), b, lb in zip(requests, best.tolist(), bound.tolist()):
        if feasible(lam, i, h, o):
            assert lb == 0 and b < 1e-8, f"{(lam, i, h, o)} is feasible but gradient descent stops at {b}"
        else:
            assert lb > 0 and lb * (1 - 1e-9) <= b <= lb * (1 + 1e-6), f"{(lam, i, h, o)}: residual {b}, bound {lb}"
    single = balanced.min_balance_residual(2.0, 3, 5, 4, starts=2, steps=400, generator=gen)
    assert math.isclose(single[1], 2.0) and single[0] >= 2.0 * (1 - 1e-9), f"single request {single}"


def test_algorithm1_transcription():
    assert algorithm1_accepts(-1.0, 3, 3, 5) == (False, "Lambda must be positive if out_dim > in_dim")
    assert algorithm1_accepts(1.0, 5, 3, 3) == (False, "Lambda must be positive if in_dim > out_dim")
    assert algorithm1_accepts(1.0, 4, 2, 6)[1] == "Network cannot be bottlenecked"
    assert algorithm1_accepts(0.0, 3, 6, 4) == (True, None)
    assert algorithm1_accepts(1.0, 3, 6, 4)[0] is False


def test_min_balance_residuals_rejects_bad_input():
    with pytest.raises(ValueError, match="^requests: expected a non-empty list"):
        balanced.min_balance_residuals([])
    with pytest.raises(ValueError, match="^requests: each request must be"):
        balanced.min_balance_residuals([(1.0, 2, 3)])
    with pytest.raises(ValueError, match="^hidden_dim: expected a positive integer"):
        balanced.min_balance_residuals([(1.0, 2, 0, 3)])
    with pytest.raises(ValueError, match="^lr: expected a finite positive number"):
        balanced.min_balance_residual(1.0, 2, 2, 2, lr=0.0)


# ----------------------------------------------------------------------------------------------------------------
# Device-agnostic: on LINEAR_LENS_TEST_DEVICE (default cpu) results stay on the device and agree with the CPU
# ----------------------------------------------------------------------------------------------------------------

DEVICE = torch.device(os.environ.get("LINEAR_LENS_TEST_DEVICE", "cpu"))
needs_device = pytest.mark.skipif(
    DEVICE.type == "cuda" and not torch.cuda.is_available(), reason="LINEAR_LENS_TEST_DEVICE=cuda but no CUDA device"
)


@needs_device
def test_balance_and_fitted_lambda_on_device_match_cpu(generator):
    W1 = torch.randn(5, 4, 3, generator=generator, dtype=F64)
    W2 = torch.randn(5, 6, 4, generator=generator, dtype=F64)
    B_dev = balance(W1.to(DEVICE), W2.to(DEVICE))
    assert B_dev.device.type == DEVICE.type
    torch.testing.assert_close(B_dev.cpu(), balance(W1, W2), atol=1e-12, rtol=1e-12)
    lam_dev = fitted_lambda(W1.to(DEVICE), W2.to(DEVICE))
    torch.testing.assert_close(lam_dev.cpu(), fitted_lambda(W1, W2), atol=1e-12, rtol=1e-12)


@needs_device
@pytest.mark.parametrize("lam, dims", [(1.5, (3, 4, 5)), (-0.5, (5, 4, 3)), (0.0, (3, 6, 4)), (2.0, (4, 2, 6))])
def test_lambda_balanced_init_on_device(lam, dims):
    W1, W2 = lambda_balanced_init(lam, *dims, generator=torch.Generator(device=DEVICE).manual_seed(4))
    assert W1.device.type == DEVICE.type and W2.device.type == DEVICE.type
    assert _balance_error(W1.cpu(), W2.cpu(), lam) <= 50 * EPS, f"not balanced on {DEVICE} for {lam}, {dims}"


@needs_device
def test_aligned_init_and_min_balance_residuals_on_device():
    gen = torch.Generator().manual_seed(6)
    X, Y = random_regression_task(4, 6, 30, generator=gen)
    W1, W2 = aligned_lambda_balanced_init(1.0, X.to(DEVICE), Y.to(DEVICE), 5, generator=gen)
    assert W1.device.type == DEVICE.type and W2.device.type == DEVICE.type
    assert _balance_error(W1.cpu(), W2.cpu(), 1.0) <= 50 * EPS
    best, bound = balanced.min_balance_residuals([(1.0, 3, 3, 5), (1.0, 3, 4, 3)], starts=2, steps=400,
                                                 generator=torch.Generator(device=DEVICE).manual_seed(0))
    assert float(best[0]) < 1e-6 and abs(float(best[1]) - float(bound[1])) < 1e-6 * float(bound[1])


@settings(max_examples=6)
@given(st.lists(st.tuples(st.sampled_from([-1.0, 1.0]), st.integers(1, 5), st.integers(1, 6), st.integers(1, 5)),
                min_size=6, max_size=6), st.integers(0, 2**31 - 1))
def test_feasible_agrees_with_gradient_descent(requests, seed):
    """Brute force over all weights: the residual is ~0 exactly when feasible(), else it reaches the proven bound."""
    best, bound = balanced.min_balance_residuals(requests, starts=3, steps=800,
                                                 generator=torch.Generator().manual_seed(seed))
    for req, b, lb in zip(requests, best.tolist(), bound.tolist()):
        if feasible(*req):
            assert b < 1e-6, f"{req} is feasible but gradient descent stops at {b}"
        else:
            assert lb > 0 and abs(b - lb) <= 1e-6 * lb, f"{req}: residual {b} vs proven minimum {lb}"


# ----------------------------------------------------------------------------------------------------------------
# Theorem 4.1.1, both halves; balanced partners; alignment; seeds and dtypes
# ----------------------------------------------------------------------------------------------------------------


def _balanced_pair(lam, dims, seed):
    """A lambda-balanced pair drawn by the polar construction, independently of the product's SVD."""
    n_in, n_hidden, n_out = dims
    gen = torch.Generator().manual_seed(seed)
    if lam >= 0:
        W1 = torch.randn(n_hidden, n_in, generator=gen, dtype=F64)
        return W1, balanced.balanced_second_layer(W1, lam, n_out, generator=gen)
    W2 = torch.randn(n_out, n_hidden, generator=gen, dtype=F64)
    return balanced.balanced_second_layer(W2.mT, -lam, n_in, generator=gen).mT, W2


@pytest.mark.parametrize("lam, dims", [(1.5, (3, 4, 5)), (0.0, (4, 4, 6)), (2.0, (4, 2, 6)), (-2.0, (5, 4, 3)),
                                       (-0.5, (6, 3, 2)), (1e3, (2, 3, 4)), (1e-6, (3, 3, 3)), (0.0, (5, 2, 3))])
def test_every_balanced_pair_has_the_form_of_theorem_4_1_1(lam, dims):
    n_in, n_hidden, n_out = dims
    for seed in range(3):
        W1, W2 = _balanced_pair(lam, dims, seed)
        assert _balance_error(W1, W2, lam) < 20 * EPS
        parts = balanced.balanced_decomposition(W1, W2)
        assert float(parts["residual"]) < 1e-13
        for name, size in (("U", n_out), ("R", n_hidden), ("V", n_in)):
            Q = parts[name]
            torch.testing.assert_close(Q.mT @ Q, _eye(size), rtol=0, atol=1e-12, msg=f"{name} not orthogonal")
        k = min(dims)
        S2, S1 = balanced_singular_values(torch.linalg.svdvals(W2 @ W1)[:k], lam, n_in, n_hidden, n_out)
        scale = float(W1.norm() + W2.norm())
        torch.testing.assert_close(parts["S2"] / scale, S2 / scale, rtol=0, atol=1e-13)
        torch.testing.assert_close(parts["S1"] / scale, S1 / scale, rtol=0, atol=1e-13)


def test_balanced_decomposition_refuses_unbalanced_pairs(generator):
    W1, W2 = random_init("lecun", 4, 4, 6, 1, generator=generator)
    with pytest.raises(ValueError, match="^W1, W2: not lambda-balanced"):
        balanced.balanced_decomposition(W1[0], W2[0])


@pytest.mark.parametrize("lam, dims", [(0.7, (3, 4, 5)), (-1.2, (5, 4, 3)), (0.0, (4, 6, 3)), (2.0, (4, 2, 6))])
def test_balanced_factors_keep_the_product(lam, dims):
    n_in, n_hidden, n_out = dims
    gen = torch.Generator().manual_seed(4)
    k = min(dims)
    M = torch.randn(n_out, k, generator=gen, dtype=F64) @ torch.randn(k, n_in, generator=gen, dtype=F64)
    W1, W2 = balanced.balanced_factors(M, lam, n_hidden, generator=7)
    torch.testing.assert_close(W2 @ W1, M, rtol=0, atol=1e-12)
    assert _balance_error(W1, W2, lam) < 20 * EPS
    V1, V2 = balanced.balanced_factors(M, lam, n_hidden, generator=torch.Generator().manual_seed(7))
    assert torch.equal(W1, V1) and torch.equal(W2, V2), "an int seed equals the generator it names"


def test_balanced_factors_refuse_ranks_and_non_orthogonal_R():
    with pytest.raises(ValueError, match="^product: has rank larger than hidden_dim"):
        balanced.balanced_factors(torch.eye(3, dtype=F64), 0.0, 2)
    with pytest.raises(ValueError, match="^R: must be orthogonal"):
        balanced.balanced_factors(torch.eye(3, dtype=F64), 0.0, 3, R=2 * torch.eye(3))


def test_balanced_second_layer(generator):
    W1 = torch.randn(3, 4, generator=generator, dtype=F64)
    for lam in (0.0, 0.5, 40.0):
        W2 = balanced.balanced_second_layer(W1, lam, 5, generator=generator)
        assert W2.shape == (5, 3) and _balance_error(W1, W2, lam) < 20 * EPS
    sigma_min = float(torch.linalg.svdvals(W1)[-1])
    W2 = balanced.balanced_second_layer(W1, -0.9 * sigma_min**2, 3, generator=generator)
    assert _balance_error(W1, W2, -0.9 * sigma_min**2) < 50 * EPS
    with pytest.raises(ValueError, match="^lam: lambda I \\+ W1 W1\\^T must be positive semidefinite"):
        balanced.balanced_second_layer(W1, -1.1 * sigma_min**2, 3)


def test_align_with_task_keeps_balance_and_aligns(generator):
    X, Y = random_regression_task(3, 5, 20, generator=generator)
    W1, W2 = lambda_balanced_init(1.0, 3, 4, 5, generator=generator)
    A1, A2 = balanced.align_with_task(W1, W2, X, Y)
    torch.testing.assert_close(balance(A1, A2), balance(W1, W2), rtol=0, atol=1e-12)
    Ut, _, Vht = torch.linalg.svd(input_output_correlation(X, Y))
    M = Ut.T @ A2 @ A1 @ Vht.T
    off = M - M * torch.eye(*M.shape, dtype=F64)
    assert float(off.abs().max()) < 1e-12, f"the product is not diagonal in the task's bases: {off}"


def test_seeds_dtypes_and_devices():
    a = lambda_balanced_init(0.5, 3, 3, 4, generator=0)
    b = lambda_balanced_init(0.5, 3, 3, 4, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    W1, W2 = lambda_balanced_init(0.5, 3, 3, 4, generator=0, dtype=torch.float32, device="cpu")
    assert W1.dtype == torch.float32 and W2.device.type == "cpu"
    R1, R2 = random_init("he", 3, 4, 5, 2, generator=3, dtype=torch.float32)
    assert balance(R1, R2.double()).dtype == F64, "mixed float32 and float64 is computed in float64"
    X, Y = random_regression_task(3, 4, 10, generator=1)
    A1, A2 = aligned_lambda_balanced_init(1.0, X.float(), Y, 4, generator=2)
    assert A1.dtype == F64
