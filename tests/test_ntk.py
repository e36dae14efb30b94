"""Tests of linear_lens.ntk: the NTK of a two-layer linear network from its representations (eq. 2.37)."""

import numpy as np
import pytest
import torch

from linear_lens import balanced, ntk, riccati as rc, tasks
from bad_input import check_raises, uncovered

F64 = torch.float64


@pytest.mark.parametrize("shape", [(3, 3, 3), (2, 4, 5), (4, 3, 2)])
def test_ntk_formula_matches_autograd(shape, generator):
    n_in, n_hidden, n_out = shape
    W1 = torch.randn(n_hidden, n_in, generator=generator, dtype=F64)
    W2 = torch.randn(n_out, n_hidden, generator=generator, dtype=F64)
    X = torch.randn(n_in, 6, generator=generator, dtype=F64)
    torch.testing.assert_close(ntk.ntk(W1, W2, X), ntk.empirical_ntk(W1, W2, X), rtol=1e-12, atol=1e-12)


def test_ntk_from_exact_representations(generator):
    """The NTK along the flow from the blocks of the exact QQ^T equals the NTK of the integrated weights."""
    from linear_lens import gradient_flow as gf

    X, Y = tasks.random_regression_task(3, 3, 8, generator=generator)
    W1, W2 = balanced.lambda_balanced_init(2.0, 3, 3, 3, generator=generator)
    t = np.linspace(0, 1, 4)
    b = rc.blocks(rc.qqt(t, W1, W2, X, Y), 3)
    traj = gf.integrate(W1, W2, X, Y, t)
    torch.testing.assert_close(ntk.ntk_from_representations(b.input_rep, b.output_rep, X),
                               ntk.ntk(traj.W1, traj.W2, X), rtol=1e-9, atol=1e-9)


def test_kernel_change_and_shapes(generator):
    K0 = torch.eye(4, dtype=F64)
    assert float(ntk.kernel_change(K0, K0)) == 0.0
    assert ntk.ntk(torch.randn(2, 3, 3, dtype=F64), torch.randn(3, 3, dtype=F64), torch.randn(3, 5, dtype=F64)).shape \
        == (2, 15, 15)


def test_ntk_refuses_bad_shapes():
    with pytest.raises(ValueError, match="W1, W2"):
        ntk.ntk(torch.eye(3, dtype=F64), torch.eye(2, dtype=F64), torch.eye(3, dtype=F64))
    with pytest.raises(ValueError, match="X: expected shape"):
        ntk.ntk_from_representations(torch.eye(3, dtype=F64), torch.eye(2, dtype=F64), torch.eye(2, dtype=F64))


@pytest.mark.parametrize("shape", [(3, 3, 3), (2, 4, 5), (5, 3, 2)])
def test_ntk_inner_and_changes_match_explicit_kernels(shape, generator):
    """The trace formulas equal the Frobenius products, changes and distances of the explicit NTKs."""
    n_in, n_hidden, n_out = shape
    W1 = torch.randn(2, n_hidden, n_in, generator=generator, dtype=F64)
    W2 = torch.randn(2, n_out, n_hidden, generator=generator, dtype=F64)
    X = torch.randn(n_in, 7, generator=generator, dtype=F64)          # not whitened: the formula is general
    K = ntk.ntk(W1, W2, X)
    reps = (W1.mT @ W1, W2 @ W2.mT)
    explicit = (K[0] * K[1]).sum()
    inner = ntk.ntk_inner(reps[0][0], reps[1][0], reps[0][1], reps[1][1], X)
    torch.testing.assert_close(inner, explicit, rtol=1e-12, atol=0)
    torch.testing.assert_close(ntk.representation_kernel_change(reps[0][1], reps[1][1], reps[0][0], reps[1][0], X),
                               ntk.kernel_change(K[1], K[0]), rtol=1e-11, atol=0)
    torch.testing.assert_close(ntk.representation_kernel_distance(reps[0][1], reps[1][1], reps[0][0], reps[1][0], X),
                               ntk.kernel_distance(K[1], K[0]), rtol=1e-10, atol=1e-15)
    cos = (K[0] * K[1]).sum() / (torch.linalg.matrix_norm(K[0]) * torch.linalg.matrix_norm(K[1]))
    torch.testing.assert_close(ntk.kernel_distance(K[1], K[0]), 1 - cos, rtol=1e-10, atol=1e-15)


def test_kernel_distance_is_scale_invariant_and_stable_near_zero(generator):
    """Rescaling does not move the distance; a kernel nudged by 1e-9 has distance of order 1e-18, not 0 or 1e-16."""
    K0 = torch.randn(6, 6, generator=generator, dtype=F64)
    K0 = K0 @ K0.T
    D = torch.randn(6, 6, generator=generator, dtype=F64)
    K = K0 + 1e-9 * (D + D.T)
    d = float(ntk.kernel_distance(K, K0))
    assert float(ntk.kernel_distance(7.0 * K, K0)) == pytest.approx(d, rel=1e-9)
    assert 1e-22 < d < 1e-16, d
    for dtype in (torch.float32, F64):
        assert float(ntk.kernel_distance(K0.to(dtype), K0.to(dtype))) == 0.0


def test_kernel_change_zero_denominator():
    zero = torch.zeros(3, 3, dtype=F64)
    assert float(ntk.kernel_change(zero, zero)) == 0.0
    assert float(ntk.kernel_change(torch.eye(3, dtype=F64), zero)) == float("inf")
    with pytest.raises(ValueError, match="non-zero kernels"):
        ntk.kernel_distance(torch.eye(3, dtype=F64), zero)


@pytest.mark.parametrize("shape", [(3, 2), (2, 4)])
def test_shallow_ntk_is_constant_and_matches_autograd(shape, generator):
    n_out, n_in = shape
    X = torch.randn(n_in, 5, generator=generator, dtype=F64)
    for _ in range(3):
        W = torch.randn(n_out, n_in, generator=generator, dtype=F64) * 10
        torch.testing.assert_close(ntk.empirical_shallow_ntk(W, X), ntk.shallow_ntk(X, n_out), rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="n_out"):
        ntk.shallow_ntk(X, 0)
    with pytest.raises(ValueError, match="W, X"):
        ntk.empirical_shallow_ntk(torch.eye(2, dtype=F64), torch.eye(3, dtype=F64))


def test_large_lambda_ntk_is_lambda_times_shallow_ntk(generator):
    """For lambda-balanced weights the NTK divided by |lambda| tends to the shallow network's kernel, like 1/lambda^2."""
    X, Y = tasks.random_regression_task(3, 3, 9, generator=generator)
    W0 = torch.randn(3, 3, generator=generator, dtype=F64)
    gaps = []
    for lam in (10.0, 100.0, -100.0):
        W1, W2 = balanced.balanced_factors(W0, lam, 3, R=torch.eye(3, dtype=F64))
        K = ntk.ntk(W1, W2, X) / abs(lam)
        gaps.append(float(ntk.kernel_change(K, ntk.shallow_ntk(X, 3))))
    assert gaps[1] < gaps[0] / 50 and gaps[2] == pytest.approx(gaps[1], rel=1e-3), gaps


E = torch.eye(3, dtype=F64)
BAD = [
    ("ntk shapes", lambda: ntk.ntk(E, torch.eye(2, dtype=F64), E), r"^W1, W2: expected"),
    ("reps square", lambda: ntk.ntk_from_representations(torch.ones(3, 2, dtype=F64), E, E), r"^input_rep, output_rep"),
    ("reps X", lambda: ntk.ntk_from_representations(E, E, torch.eye(2, dtype=F64)), r"^X: expected shape"),
    ("empirical", lambda: ntk.empirical_ntk(E[None], E, E), r"^W1, W2, X: expected"),
    ("shallow n_out", lambda: ntk.shallow_ntk(E, 0), r"^n_out: expected a positive integer"),
    ("shallow X", lambda: ntk.shallow_ntk(torch.ones(3, dtype=F64), 2), r"^X: expected shape"),
    ("empirical shallow", lambda: ntk.empirical_shallow_ntk(E, torch.eye(2, dtype=F64)), r"^W, X: expected"),
    ("change shapes", lambda: ntk.kernel_change(E, torch.eye(4, dtype=F64)), r"^K, K0: shapes"),
    ("change nan", lambda: ntk.kernel_change(E * float("nan"), E), r"^K: contains NaN"),
    ("distance zero", lambda: ntk.kernel_distance(E, 0 * E), r"^K, K0: the kernel distance needs"),
    ("distance 1d", lambda: ntk.kernel_distance(torch.ones(3, dtype=F64), E), r"^K, K0: expected matrices"),
    ("inner batch", lambda: ntk.ntk_inner(E.expand(2, 3, 3), E.expand(3, 3, 3), E, E, E), r"^input_rep, output_rep: batch"),
    ("rep change X", lambda: ntk.representation_kernel_change(E, E, E, E, torch.eye(2, dtype=F64)), r"^X: expected shape"),
    ("rep distance zero", lambda: ntk.representation_kernel_distance(E, E, 0 * E, 0 * E, E),
     r"^input_rep, output_rep: the kernel distance needs"),
]


@pytest.mark.parametrize("name, call, message", BAD, ids=[c[0] for c in BAD])
def test_bad_input_raises_a_clear_value_error(name, call, message):
    check_raises(name, call, message)


def test_every_public_function_has_a_bad_input_case():
    missing = uncovered(ntk, "ntk", __file__)
    assert not missing, f"public functions without a bad-input case: {missing}"
