"""Tests of linear_lens.stability: known answers, independent computations, special cases, and every ValueError."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from linear_lens import affine, dynamics as dy, networks, sampling, stability
from linear_lens.networks import network_batch

F64 = torch.float64


def t(x):
    return torch.tensor(x, dtype=F64)


# --- spectral_radius ---------------------------------------------------------------------------------------------


def test_spectral_radius_known_answers():
    A = t([[[0.0, 1.0], [-1.0, 0.0]], [[2.0, 5.0], [0.0, -3.0]], [[0.0, 1.0], [0.0, 0.0]]])
    rho = stability.spectral_radius(A)
    torch.testing.assert_close(rho, t([1.0, 3.0, 0.0]), atol=1e-12, rtol=0, msg="rotation 1, triangular 3, nilpotent 0")


def test_spectral_radius_matches_numpy(generator):
    A = torch.randn(4, 3, 5, 5, generator=generator, dtype=F64)
    expected = np.abs(np.linalg.eigvals(A.numpy())).max(-1)
    np.testing.assert_allclose(stability.spectral_radius(A).numpy(), expected, rtol=1e-12, err_msg="numpy eigvals")


def test_spectral_radius_gelfand_limit(generator):
    A = torch.randn(6, 6, generator=generator, dtype=F64)
    k = 200
    gelfand = float(torch.linalg.matrix_norm(torch.linalg.matrix_power(A / 3, k), 2)) ** (1 / k) * 3
    assert abs(gelfand - float(stability.spectral_radius(A))) < 0.05, "Gelfand: ||A^k||^(1/k) -> rho(A)"


@pytest.mark.parametrize("bad", [torch.zeros(2, 3), torch.zeros(3), t([[1.0, float("nan")], [0.0, 1.0]])])
def test_spectral_radius_rejects(bad):
    with pytest.raises(ValueError, match="^A:"):
        stability.spectral_radius(bad)


# --- activation_gain -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [("relu", 1.0), ("tanh", 1.0), ("leaky_relu", 1.0), ("gelu", 1.0), ("hardshrink", 1.0), ("identity", 1.0),
     ("selu", 1.0507009873554805 * 1.6732632423543772), ("softplus", math.inf), ("sigmoid", math.inf)],
)
def test_activation_gain_known(name, expected):
    gain = stability.activation_gain(name)
    if math.isinf(expected):
        assert math.isinf(gain), f"{name}: sigma(0) != 0 must give an infinite gain, got {gain}"
    else:
        assert abs(gain - expected) < 1e-6, f"{name}: gain {gain} != {expected}"


def test_activation_gain_rejects():
    with pytest.raises(ValueError, match="^activation:"):
        stability.activation_gain("no_such_activation")
    with pytest.raises(ValueError, match="^z_max:"):
        stability.activation_gain("relu", z_max=0.5)
    with pytest.raises(ValueError, match="^points:"):
        stability.activation_gain("relu", points=0)


# --- eq. (10), the JSR ----------------------------------------------------------------------------------------------


def test_eq10_smallest_counterexample_is_two_nilpotents():
    pairs = stability.eq10_counterexamples()
    A, B = pairs[0]
    torch.testing.assert_close(A, t([[0.0, 0.0], [1.0, 0.0]]), msg="first counterexample: E21")
    torch.testing.assert_close(B, t([[0.0, 1.0], [0.0, 0.0]]), msg="first counterexample: E12")
    assert float(stability.spectral_radius(A @ B)) == 1.0 and float(stability.spectral_radius(A)) == 0.0


def test_eq10_holds_for_scalars():
    assert stability.eq10_counterexamples(n=1, entries=[-2.0, -0.5, 0.0, 1.0, 3.0]).shape[0] == 0, "1x1 commute"


def test_eq10_counterexamples_are_violations_brute_force():
    pairs = stability.eq10_counterexamples()
    rho = stability.spectral_radius
    gap = rho(pairs[:, 0] @ pairs[:, 1]) - rho(pairs[:, 0]) * rho(pairs[:, 1])
    assert bool((gap > 1e-9).all()), "every returned pair must violate eq. (10)"


@given(st.integers(0, 10_000))
def test_eq10_holds_for_commuting_matrices(seed):
    g = torch.Generator().manual_seed(seed)
    V = torch.randn(3, 3, generator=g, dtype=F64) + 3 * torch.eye(3, dtype=F64)
    d1, d2 = torch.randn(2, 3, generator=g, dtype=F64)
    A, B = V @ torch.diag(d1) @ torch.linalg.inv(V), V @ torch.diag(d2) @ torch.linalg.inv(V)
    rho = stability.spectral_radius
    assert float(rho(A @ B)) <= float(rho(A) * rho(B)) * (1 + 1e-8) + 1e-12, "commuting: eq. (10) holds"


@given(st.integers(0, 10_000), st.integers(2, 6))
def test_product_bounded_by_norms(seed, n):
    g = torch.Generator().manual_seed(seed)
    A, B = torch.randn(2, n, n, generator=g, dtype=F64)
    lhs = float(stability.spectral_radius(A @ B))
    assert lhs <= float(torch.linalg.matrix_norm(A, 2) * torch.linalg.matrix_norm(B, 2)) * (1 + 1e-12)


def test_eq10_rejects():
    with pytest.raises(ValueError, match="^n, entries:"):
        stability.eq10_counterexamples(n=3)
    with pytest.raises(ValueError, match="^entries:"):
        stability.eq10_counterexamples(entries=[])


def test_jsr_single_and_normal_sets(generator):
    A = torch.randn(1, 3, 3, generator=generator, dtype=F64)
    lo, hi = stability.jsr_bounds(A, 10)
    rho = float(stability.spectral_radius(A[0]))
    assert abs(lo - rho) < 1e-10, "one matrix: lower bound is rho(A) at k = 1"
    assert hi >= rho - 1e-12
    S = torch.randn(3, 3, 3, generator=generator, dtype=F64)
    S = S + S.mT
    lo, hi = stability.jsr_bounds(S, 3)
    best = float(stability.spectral_radius(S).max())
    assert abs(lo - best) < 1e-10 and abs(hi - best) < 1e-10, "symmetric matrices: JSR = max rho"


def test_jsr_nilpotent_pair():
    N = t([[[0.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 0.0]]])
    lo, hi = stability.jsr_bounds(N, 8)
    assert abs(lo - 1.0) < 1e-12 and abs(hi - 1.0) < 1e-12, f"JSR of two nilpotents is 1, got [{lo}, {hi}]"


@given(st.integers(0, 10_000))
def test_jsr_bounds_ordered(seed):
    g = torch.Generator().manual_seed(seed)
    M = torch.randn(3, 2, 2, generator=g, dtype=F64)
    lo, hi = stability.jsr_bounds(M, 5)
    assert lo <= hi + 1e-12, f"lower {lo} > upper {hi}"
    assert lo >= float(stability.spectral_radius(M).max()) - 1e-12


def test_jsr_rejects():
    with pytest.raises(ValueError, match="^matrices:"):
        stability.jsr_bounds(torch.zeros(2, 2, 3))
    with pytest.raises(ValueError, match="^max_length:"):
        stability.jsr_bounds(torch.zeros(4, 2, 2), 11)


# --- the conditions ------------------------------------------------------------------------------------------------

NILPOTENT_NET = [t([[0.0, 0.0], [2.0, 0.0]]), t([[0.0, 2.0], [0.0, 0.0]])]


def test_seed_condition_holds_on_an_unstable_network():
    assert stability.seed_sufficient_condition(NILPOTENT_NET, "relu"), "rho(A_i) = 0 and ReLU: seed condition holds"
    x5 = dy.iterate(network_batch(NILPOTENT_NET, None, "relu"), t([[1.0, 0.0]]), 5).x[0, 0]
    torch.testing.assert_close(x5, t([4.0**5, 0.0]), msg="x_1 -> 4 x_1 every step")
    assert not stability.sufficient_condition(NILPOTENT_NET, "relu")
    assert float(stability.contraction_bound(NILPOTENT_NET, "relu")) == pytest.approx(4.0, abs=1e-12)


def test_contraction_bound_dominates_A_star(generator):
    weights, _ = networks.random_network([3, 3, 3, 3], generator=generator)
    x = torch.randn(500, 3, generator=generator, dtype=F64) * 4
    A, _ = affine.pointwise_affine(weights, None, "tanh", x)
    gamma = float(stability.contraction_bound(weights, "tanh"))
    assert float(torch.linalg.matrix_norm(A, 2).max()) <= gamma * (1 + 1e-12), "||A*(x)|| <= gamma"


@given(st.integers(0, 10_000), st.sampled_from(["relu", "tanh", "leaky_relu", "gelu", "elu", "softsign"]))
def test_sufficient_condition_implies_decay(seed, act):
    g = torch.Generator().manual_seed(seed)
    weights, _ = networks.random_network([3, 3, 3], generator=g)
    gamma = float(stability.contraction_bound(weights, act))
    weights = [A * (0.95 / gamma) ** (1 / len(weights)) for A in weights]
    assert stability.sufficient_condition(weights, act), "rescaled to gamma = 0.95"
    gamma = float(stability.contraction_bound(weights, act))
    x0 = torch.randn(50, 3, generator=g, dtype=F64) * 5
    norms = dy.iterate(network_batch(weights, None, act), x0, 30, norms=True).norms[:, 0]
    bound = gamma ** torch.arange(31, dtype=F64)[:, None] * x0.norm(dim=-1)
    assert bool((norms <= bound * (1 + 1e-9) + 1e-300).all()), "||x_k|| <= gamma^k ||x_0||"


def test_conditions_batched_agree_with_single(generator):
    W = [torch.randn(7, 2, 2, generator=generator, dtype=F64) * 0.8 for _ in range(3)]
    batched = stability.sufficient_condition(W, "tanh")
    seed = stability.seed_sufficient_condition(W, "tanh")
    for i in range(7):
        assert bool(batched[i]) == stability.sufficient_condition([w[i] for w in W], "tanh")
        assert bool(seed[i]) == stability.seed_sufficient_condition([w[i] for w in W], "tanh")


def test_relu_gamma_is_product_of_norms(generator):
    W = [torch.randn(200, 3, 3, generator=generator, dtype=F64) * 0.5 for _ in range(2)]
    ours = stability.sufficient_condition(W, "relu")
    norms = torch.stack([torch.linalg.matrix_norm(w, 2) for w in W]).prod(0)
    assert bool((ours == (norms <= 1 - 1e-9)).all()), "ReLU gain 1: gamma is the product of norms"


def test_softplus_never_satisfies_conditions():
    eye = torch.eye(2, dtype=F64) * 0.1
    assert not stability.sufficient_condition([eye, eye], "softplus")
    assert not stability.seed_sufficient_condition([eye, eye], "softplus")


@pytest.mark.parametrize("fn", [stability.sufficient_condition, stability.seed_sufficient_condition,
                                stability.contraction_bound])
def test_conditions_reject(fn):
    with pytest.raises(ValueError, match="^weights:.*square"):
        fn([torch.zeros(3, 2), torch.zeros(2, 3)], "relu")
    with pytest.raises(ValueError, match="^weights:"):
        fn([torch.zeros(2, 2), torch.zeros(3, 3)], "relu")
    with pytest.raises(ValueError, match="^weights:"):
        fn([], "relu")
    with pytest.raises(ValueError, match="^activation:"):
        fn([torch.eye(2)], "nope")


def test_sufficient_condition_rejects_margin():
    with pytest.raises(ValueError, match="^margin:"):
        stability.sufficient_condition([torch.eye(2)], "relu", margin=1.5)


# --- weights_with_spectrum -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("normal", [False, True])
def test_weights_with_spectrum(generator, normal):
    lam = torch.rand(10, 4, generator=generator, dtype=F64) * 2 - 1
    A = stability.weights_with_spectrum(lam, normal=normal, generator=generator)
    eig = torch.sort(torch.linalg.eigvals(A).real, dim=-1).values
    torch.testing.assert_close(eig, torch.sort(lam, dim=-1).values, atol=1e-8, rtol=0, msg="prescribed eigenvalues")
    if normal:
        torch.testing.assert_close(torch.linalg.matrix_norm(A, 2), lam.abs().amax(-1), atol=1e-10, rtol=0)


def test_weights_with_spectrum_rejects():
    with pytest.raises(ValueError, match="^eigenvalues:"):
        stability.weights_with_spectrum(torch.tensor(1.0, dtype=F64))


# --- the search -----------------------------------------------------------------------------------------------------


def test_search_finds_hardshrink_counterexample():
    _, _, P = sampling.grid_2d(-6, 6, 61)
    _, _, S = sampling.grid_2d(-6, 6, 7)
    res = stability.search_stable_pieces_unstable_map("hardshrink", P, S, candidates=3000, steps=300,
                                                      generator=torch.Generator().manual_seed(2))
    assert res.B is not None and res.rho_max < 1, "a candidate passes the spectral test"
    eye = torch.eye(2, dtype=F64)
    A, _ = affine.pointwise_affine([eye, res.B], None, "hardshrink", P)
    assert float(stability.spectral_radius(A).max()) <= res.rho_max + 1e-12, "rho(A*) recomputed with affine"
    x = dy.iterate(network_batch([eye, res.B], None, "hardshrink"), S.reshape(-1, 2), 300, escape=math.inf).x[0]
    assert int((x.norm(dim=-1) > 1e-9).sum()) == res.not_converged > 0, "non-converging starts recounted"


def test_search_rejects():
    with pytest.raises(ValueError, match="^points, starts:"):
        stability.search_stable_pieces_unstable_map("relu", torch.zeros(4, 2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="^candidates:"):
        stability.search_stable_pieces_unstable_map("relu", torch.zeros(4, 2), torch.zeros(3, 2), candidates=0)


@given(
    entries=st.lists(st.floats(-10, 10, allow_nan=False, allow_infinity=False), min_size=4, max_size=4),
    scale=st.sampled_from([1e-6, 1.0, 1e6]),
)
def test_spectral_radius_2x2_closed_form_matches_lapack(entries, scale):
    """The 2x2 closed form (trace/determinant) against LAPACK's eigenvalues, real and complex pairs alike."""
    A = scale * torch.tensor(entries, dtype=torch.float64).reshape(2, 2)
    expected = torch.linalg.eigvals(A).abs().max()
    got = stability.spectral_radius(A)
    assert torch.allclose(got, expected, rtol=1e-7, atol=1e-12 * scale), f"{A}: closed form {got}, LAPACK {expected}"


def test_spectral_radius_2x2_special_cases():
    cases = {
        "identity": (torch.eye(2), 1.0),
        "rotation by 90 degrees times 0.5": (0.5 * torch.tensor([[0.0, -1.0], [1.0, 0.0]]), 0.5),
        "nilpotent": (torch.tensor([[0.0, 1.0], [0.0, 0.0]]), 0.0),
        "diagonal": (torch.diag(torch.tensor([-3.0, 2.0])), 3.0),
        "2.5 times identity": (2.5 * torch.eye(2), 2.5),
    }
    for name, (A, rho) in cases.items():
        got = float(stability.spectral_radius(A.double()))
        assert got == pytest.approx(rho, abs=1e-15), f"{name}: {got} != {rho}"
    batch = torch.randn(4, 5, 2, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.allclose(stability.spectral_radius(batch), torch.linalg.eigvals(batch).abs().amax(-1), rtol=1e-10)


def test_observed_decay_against_a_plain_loop(generator):
    """worst ratio and growth rate per network against the iteration written out with networks.forward."""
    W = [torch.randn(4, 2, 2, generator=generator, dtype=F64) * 0.6 for _ in range(2)]
    starts = torch.randn(5, 2, generator=generator, dtype=F64) * 3
    gamma = stability.contraction_bound(W, "tanh")
    worst, rate = stability.observed_decay(W, "tanh", starts, 25, chunk=3)
    for m in range(4):
        x, ratios = starts, []
        for k in range(1, 26):
            x = networks.forward([w[m] for w in W], None, "tanh", x)
            ratios.append(x.norm(dim=-1) / (gamma[m] ** k * starts.norm(dim=-1)))
        assert float(worst[m]) == pytest.approx(float(torch.stack(ratios).max()), rel=1e-12)
        assert float(rate[m]) == pytest.approx(float(((x.norm(dim=-1) / starts.norm(dim=-1)) ** (1 / 25)).max()),
                                               rel=1e-12)
    assert bool((worst[gamma < 1] <= 1 + 1e-12).all()), "Proposition: ||x_k|| <= gamma^k ||x_0||"
    with pytest.raises(ValueError, match="^weights: expected a batch"):
        stability.observed_decay([w[0] for w in W], "tanh", starts, 5)
