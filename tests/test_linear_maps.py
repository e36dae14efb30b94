"""Tests for linear_maps: the factorisations of Appendix B of Drgona et al. (2020), as printed and as slim builds them.

What their spectra promise is tested in test_spectral_promises.py, the layers in test_constrained_layers.py.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from linear_lens.sampling import haar_orthogonal
from linear_lens import linear_maps as lm
from linear_lens import spectral_promises as sp
from linear_maps_cases import gen, one_thread  # noqa: F401 (one_thread: an autouse fixture)

F64 = torch.float64
RANGES = [(-1.5, -1.1), (0.0, 1.0), (0.99, 1.0), (0.99, 1.01), (0.99, 1.1), (1.0, 1.01), (1.1, 1.5)]  # Appendix D


# --------------------------------------------------------------------------------------------------------------
# Known answers
# --------------------------------------------------------------------------------------------------------------


def test_perron_frobenius_equal_bounds_is_scaled_stochastic(generator):
    W = lm.perron_frobenius(6, 0.7, 0.7, batch=3, generator=generator)
    torch.testing.assert_close(W.sum(-1), torch.full((3, 6), 0.7, dtype=F64), atol=1e-14, rtol=0,
                               msg="rows of a PF weight with lam_min = lam_max = 0.7 must sum to 0.7")
    rho = torch.linalg.eigvals(W).abs().amax(-1)
    torch.testing.assert_close(rho, torch.full((3,), 0.7, dtype=F64), atol=1e-12, rtol=0,
                               msg="spectral radius of 0.7 x a stochastic matrix must be 0.7")


def test_perron_frobenius_hand_example():
    A_raw = torch.zeros(2, 2, dtype=F64)
    M_raw = torch.tensor([[0.0, 100.0], [-100.0, 0.0]], dtype=F64)
    W = lm.perron_frobenius_weight(A_raw, M_raw, 0.0, 2.0)
    # softmax of zeros = 1/2; M = 2 - 2 sigmoid(M') = [[1, ~0], [~2, 1]]
    expected = torch.tensor([[0.5, 0.0], [1.0, 0.5]], dtype=F64)
    torch.testing.assert_close(W, expected, atol=1e-15, rtol=0, msg=f"PF weight {W}")


def test_spectral_identity_factors_give_diagonal():
    s = torch.tensor([0.0, 50.0, -50.0], dtype=F64)
    eye = torch.eye(3, dtype=F64)
    W = lm.spectral_weight(eye, s, eye, 0.5, 1.5)
    torch.testing.assert_close(W, torch.diag(torch.tensor([1.0, 0.5, 1.5], dtype=F64)), atol=1e-15, rtol=0,
                               msg="sigma = lam_max - (lam_max - lam_min) sigmoid(s) on the diagonal")


def test_orthogonality_penalty_known_values():
    n = 4
    Q = haar_orthogonal(n, generator=gen(1))
    assert float(lm.orthogonality_penalty(Q, Q)) == pytest.approx(0.0, abs=1e-14), "orthogonal U, V: zero penalty"
    two = 2 * torch.eye(n, dtype=F64)
    # ||I - 4I||_2 = 3, four terms
    assert float(lm.orthogonality_penalty(two, two)) == pytest.approx(12.0, abs=1e-12), "spectral: 4 x 3"
    assert float(lm.orthogonality_penalty(two, two, norm="frobenius")) == pytest.approx(4 * 3 * math.sqrt(n), abs=1e-12)


def test_skew_symmetric_hand_example():
    L = torch.tensor([[5.0, 7.0], [2.0, 9.0]], dtype=F64)
    W = lm.skew_symmetric_weight(L, gamma=0.5)
    torch.testing.assert_close(W, torch.tensor([[-0.5, -2.0], [2.0, -0.5]], dtype=F64), atol=0, rtol=0,
                               msg="only the strict lower triangle matters, diagonal -gamma")
    eig = torch.linalg.eigvals(W)
    torch.testing.assert_close(eig.real, torch.full((2,), -0.5, dtype=F64), atol=1e-14, rtol=0)
    torch.testing.assert_close(eig.imag.abs(), torch.full((2,), 2.0, dtype=F64), atol=1e-14, rtol=0)


def test_hamiltonian_hand_example():
    W = lm.hamiltonian_weight(torch.tensor([[3.0]], dtype=F64))
    torch.testing.assert_close(W, torch.tensor([[0.0, 3.0], [-3.0, 0.0]], dtype=F64), atol=0, rtol=0)
    rho = torch.linalg.eigvals(W).abs().amax()
    assert float(rho) == pytest.approx(3.0, abs=1e-14), f"rho = sigma_max(A) = 3, not 1; got {float(rho)}"


def test_gershgorin_two_by_two_is_deterministic(generator):
    """With nonnegative entries and n = 2 every draw is lambda I + r [[0, 1], [1, 0]]: eigenvalues lam_min, lam_max."""
    M = torch.rand(50, 2, 2, generator=generator, dtype=F64)
    for real in (True, False):
        W = lm.gershgorin_weight(M, 0.2, 1.0, real=real)
        expected = torch.tensor([[0.6, 0.4], [0.4, 0.6]], dtype=F64).expand(50, 2, 2)
        torch.testing.assert_close(W, expected, atol=1e-15, rtol=0, msg=f"real={real}")


@pytest.mark.parametrize("real", [True, False])
def test_gershgorin_two_by_two_has_zero_gradient(real, generator):
    """A 2-D Gershgorin weight is piecewise constant in M: it cannot be trained."""
    M = torch.randn(2, 2, generator=generator, dtype=F64, requires_grad=True)
    W = lm.gershgorin_weight(M, 0.0, 1.0, real=real)
    (W * torch.randn(2, 2, generator=generator, dtype=F64)).sum().backward()
    assert float(M.grad.abs().max()) == 0.0, f"gradient {M.grad}"


# --------------------------------------------------------------------------------------------------------------
# Against independent computations
# --------------------------------------------------------------------------------------------------------------


def test_orthogonality_penalty_matches_numpy_norms(generator):
    U = torch.randn(5, 5, generator=generator, dtype=F64)
    V = torch.randn(3, 4, generator=generator, dtype=F64)
    for norm, ord_ in (("spectral", 2), ("frobenius", "fro")):
        ref = sum(np.linalg.norm(np.eye(G.shape[0]) - G, ord=ord_)
                  for X in (U.numpy(), V.numpy()) for G in (X @ X.T, X.T @ X))
        got = float(lm.orthogonality_penalty(U, V, norm=norm))
        assert got == pytest.approx(ref, rel=1e-12), f"{norm}: {got} vs numpy {ref}"


def test_penalty_gradient_is_finite_at_orthogonal_matrices():
    Q = haar_orthogonal(5, generator=gen(2)).requires_grad_(True)
    lm.orthogonality_penalty(Q, Q).backward()
    assert bool(torch.isfinite(Q.grad).all()), "the spectral-norm penalty must have a finite gradient at its minimum"


@pytest.mark.parametrize("which", ["pf", "spectral", "penalty", "skew", "hamiltonian", "gershgorin"])
def test_gradients_match_finite_differences(which, generator):
    def r(*shape):
        return torch.randn(*shape, generator=generator, dtype=F64, requires_grad=True)

    fns = {
        "pf": (lambda a, m: lm.perron_frobenius_weight(a, m, 0.1, 0.9), (r(3, 3), r(3, 3))),
        "spectral": (lambda u, s, v: lm.spectral_weight(u, s, v, 0.2, 1.1), (r(3, 3), r(3), r(3, 3))),
        "penalty": (lambda u, v: lm.orthogonality_penalty(u, v), (r(3, 3), r(3, 3))),
        "skew": (lambda l: lm.skew_symmetric_weight(l, 0.3), (r(4, 4),)),
        "hamiltonian": (lm.hamiltonian_weight, (r(2, 3),)),
        "gershgorin": (lambda m: lm.gershgorin_weight(m, -0.5, 1.0, real=False), (r(4, 4),)),
    }
    fn, args = fns[which]
    ok = torch.autograd.gradcheck(fn, args, eps=1e-6, atol=1e-7)
    assert ok, f"{which}: autograd disagrees with finite differences"


def test_hamiltonian_spectrum_is_imaginary_singular_values(generator):
    A = torch.randn(20, 3, 5, generator=generator, dtype=F64)
    W = lm.hamiltonian_weight(A)
    eig = torch.linalg.eigvals(W)
    assert float(eig.real.abs().max()) < 1e-12, "eigenvalues of a skew-symmetric matrix are imaginary"
    sv = torch.linalg.svdvals(A)
    expected = torch.cat([sv, sv, torch.zeros(20, 2, dtype=F64)], -1).sort(-1).values
    torch.testing.assert_close(eig.imag.abs().sort(-1).values, expected, atol=1e-12, rtol=0,
                               msg="|Im lambda| = singular values of A (twice) and |p - q| zeros")
    E = torch.linalg.matrix_exp(W)
    torch.testing.assert_close(E @ E.mT, torch.eye(8, dtype=F64).expand(20, 8, 8), atol=1e-12, rtol=0,
                               msg="exp(W) is orthogonal: the continuous-time flow conserves the norm")
    J = lm.hamiltonian_weight(torch.eye(4, dtype=F64))
    sympl = (W.mT @ J @ W - J).abs().amax((-2, -1))  # W is 8 x 8 here, J of matching size
    assert float(sympl.min()) > 1e-3, "a random Hamiltonian weight is not symplectic (errata E04.5)"


def test_skew_symmetric_spectrum_on_the_line(generator):
    gamma = 0.4
    W = lm.skew_symmetric(9, gamma, batch=50, generator=generator)
    eig = torch.linalg.eigvals(W)
    torch.testing.assert_close(eig.real, torch.full_like(eig.real, -gamma), atol=1e-12, rtol=0,
                               msg="Re lambda = -gamma for every eigenvalue")
    K = W + gamma * torch.eye(9, dtype=F64)
    torch.testing.assert_close(K, -K.mT, atol=0, rtol=0, msg="W + gamma I is skew-symmetric")
    rho = eig.abs().amax(-1)
    expected = torch.sqrt(gamma**2 + torch.linalg.matrix_norm(K, ord=2) ** 2)
    torch.testing.assert_close(rho, expected, atol=1e-12, rtol=0, msg="rho = sqrt(gamma^2 + ||K||_2^2)")


def test_sampler_dtype_and_shape():
    W = lm.gershgorin(4, 0.0, 1.0, batch=(2, 3), generator=gen(0), dtype=torch.float32)
    assert W.shape == (2, 3, 4, 4) and W.dtype == torch.float32
    assert lm.hamiltonian(5, batch=2, generator=gen(0)).shape == (2, 5, 5)


# --------------------------------------------------------------------------------------------------------------
# Special cases and property tests over many seeds and sizes
# --------------------------------------------------------------------------------------------------------------


@given(n=st.integers(2, 64), gamma=st.floats(-2.0, 2.0), seed=st.integers(0, 2**31 - 1))
def test_skew_and_hamiltonian_property(n, gamma, seed):
    eig = torch.linalg.eigvals(lm.skew_symmetric(n, gamma, batch=4, generator=gen(seed)))
    assert float((eig.real + gamma).abs().max()) < 1e-9, f"skew-symmetric: Re lambda != -gamma, n={n}"
    eig = torch.linalg.eigvals(lm.hamiltonian(n, batch=4, generator=gen(seed)))
    assert float(eig.real.abs().max()) < 1e-9, f"Hamiltonian: eigenvalues not imaginary, n={n}"


def test_spectral_negative_range_equals_positive_range(generator):
    """U diag(-s) V = U diag(s) (-V): the range (-1.5, -1.1) gives the singular values of (1.1, 1.5)."""
    W = lm.spectral_svd(6, -1.5, -1.1, batch=200, generator=generator)
    sv = torch.linalg.svdvals(W)
    assert float(sv.min()) >= 1.1 - 1e-12 and float(sv.max()) <= 1.5 + 1e-12, "singular values in [1.1, 1.5]"
    eig = torch.linalg.eigvals(W)
    assert float(eig.real.max()) > 1.0, "eigenvalues are not confined to [-1.5, -1.1]: some have Re > 1"


# --------------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda: lm.perron_frobenius(3, 1.0, 0.5),
    lambda: lm.spectral_svd(3, 1.0, 0.5),
    lambda: lm.gershgorin(3, 1.0, 0.5),
    lambda: lm.gershgorin_weight(torch.zeros(3, 3), 1.0, 0.5),
])
def test_lam_min_above_lam_max_raises(call):
    with pytest.raises(ValueError, match=r"^lam_min: must not exceed lam_max"):
        call()


@pytest.mark.parametrize("call, param", [
    (lambda: lm.perron_frobenius_weight(torch.zeros(2, 3), torch.zeros(2, 3), 0, 1), "A_raw"),
    (lambda: lm.perron_frobenius_weight(torch.zeros(2, 2), torch.zeros(3, 3), 0, 1), "M_raw"),
    (lambda: lm.spectral_weight(torch.zeros(2, 3), torch.zeros(2), torch.zeros(2, 2), 0, 1), "U"),
    (lambda: lm.spectral_weight(torch.eye(2), torch.zeros(3), torch.eye(2), 0, 1), "s"),
    (lambda: lm.skew_symmetric_weight(torch.zeros(2, 3)), "L"),
    (lambda: lm.gershgorin_weight(torch.zeros(4), 0, 1), "M"),
    (lambda: lm.hamiltonian_weight(torch.zeros(3)), "A"),
])
def test_non_square_or_mismatched_raises(call, param):
    with pytest.raises(ValueError, match=rf"^{param}:"):
        call()


@pytest.mark.parametrize("call, param", [
    (lambda: lm.perron_frobenius(0, 0, 1), "n"),
    (lambda: lm.spectral_svd(2.5, 0, 1), "n"),
    (lambda: lm.gershgorin(True, 0, 1), "n"),
    (lambda: lm.skew_symmetric(-3), "n"),
    (lambda: lm.hamiltonian(1), "n"),
    (lambda: lm.perron_frobenius(3, 0, 1, batch=-1), "batch"),
    (lambda: lm.perron_frobenius(3, 0, 1, batch="a"), "batch"),
    (lambda: lm.perron_frobenius(3, float("nan"), 1), "lam_min"),
    (lambda: lm.spectral_svd(3, 0, float("inf")), "lam_max"),
    (lambda: lm.skew_symmetric(3, float("nan")), "gamma"),
    (lambda: lm.skew_symmetric(3, 0.0, scale=0.0), "scale"),
    (lambda: lm.gershgorin(3, 0, 1, real="yes"), "real"),
    (lambda: lm.gershgorin_weight(torch.zeros(3, 3), 0, 1, normalise="both"), "normalise"),
    (lambda: lm.orthogonality_penalty(torch.eye(2), torch.eye(2), norm="nuclear"), "norm"),
    (lambda: lm.orthogonality_penalty(torch.ones(2), torch.eye(2)), "U"),
    (lambda: lm.gershgorin_weight(torch.full((2, 2), float("nan")), 0, 1), "M"),
])
def test_bad_arguments_raise(call, param):
    with pytest.raises(ValueError, match=rf"^{param}:"):
        call()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    for sampler, args in [(lm.perron_frobenius, (9, 0.0, 1.0)), (lm.spectral_svd, (9, 0.99, 1.1)),
                          (lm.gershgorin, (9, 0.0, 1.0)), (lm.skew_symmetric, (9, 0.3)), (lm.hamiltonian, (9,))]:
        W_cpu = sampler(*args, batch=4, generator=gen(5))
        W_gpu = sampler(*args, batch=4, generator=gen(5), device="cuda")
        assert W_gpu.device.type == "cuda", sampler.__name__
        torch.testing.assert_close(W_gpu.cpu(), W_cpu, atol=1e-13, rtol=0,
                                   msg=f"{sampler.__name__}: CPU and CUDA differ")


# --------------------------------------------------------------------------------------------------------------
# The authors' constructions (slim): known answers, an independent loop implementation, promises
# --------------------------------------------------------------------------------------------------------------


def _slim_gershgorin_by_loops(w, d, lam_min, lam_max, real):
    """slim's GershgorinLinear.effective_W written out entry by entry (row-vector convention), as a reference."""
    n = w.shape[0]
    mean, radius = (lam_min + lam_max) / 2, (lam_min - lam_max) / 2
    w = w + w.T if real else w
    offdiag = [(i, j) for i in range(n) for j in range(n) if i != j]  # row-major, as w[nonident]
    vals = np.array([float(w[i, j]) for i, j in offdiag])
    soft = np.exp(vals - vals.max()) / np.exp(vals - vals.max()).sum() * radius / 2
    out = np.zeros((n, n))
    for (i, j), v in zip(offdiag, soft):
        out[i, j] = v
    for i in range(n):
        out[i, i] = radius * (1 / (1 + math.exp(-float(d[i]))) - 0.5) + mean
    return out


@pytest.mark.parametrize("real", [True, False])
@pytest.mark.parametrize("n", [2, 3, 5])
def test_gershgorin_slim_matches_loop_reference(n, real):
    g = gen(7)
    w, d = torch.rand(n, n, generator=g, dtype=F64), torch.randn(n, generator=g, dtype=F64)
    got = lm.gershgorin_slim_weight(w, d, 0.2, 1.1, real=real)
    ref = _slim_gershgorin_by_loops(w, d, 0.2, 1.1, real)
    np.testing.assert_allclose(got.numpy(), ref.T, rtol=0, atol=1e-15, err_msg="column convention: slim's W^T")


@pytest.mark.parametrize("real", [True, False])
def test_gershgorin_slim_structure_and_promise(real):
    lo, hi = 0.0, 1.0
    W = lm.gershgorin(6, lo, hi, real=real, construction="slim", batch=400, generator=gen(1))
    eye = torch.eye(6, dtype=F64)
    off, diag = W * (1 - eye), torch.diagonal(W, dim1=-2, dim2=-1)
    r = (hi - lo) / 2
    torch.testing.assert_close(off.abs().sum((-2, -1)), torch.full((400,), r / 2, dtype=F64), rtol=0, atol=1e-14)
    assert bool((off <= 0).all()), "slim's signed radius is negative: every off-diagonal entry is <= 0"
    assert bool(((diag - 0.5).abs() < r / 2).all()), "diagonal within |r|/2 of the centre"
    assert float(sp.promise_excess("gershgorin_complex", W, lo, hi).max()) < 1e-12, "eigenvalues in the disc"
    if real:
        torch.testing.assert_close(W, W.mT, rtol=0, atol=0)


def test_gershgorin_slim_two_by_two_is_random_with_real_spectrum():
    for lo, hi in [(0.0, 1.0), (0.99, 1.0)]:
        for real in (True, False):
            W = lm.gershgorin(2, lo, hi, real=real, construction="slim", batch=2000, generator=gen(3))
            eig = torch.linalg.eigvals(W)
            rho = eig.abs().amax(-1)
            assert float(eig.imag.abs().max()) == 0.0, "same-sign off-diagonal entries: real eigenvalues"
            assert float(rho.max()) < hi - (hi - lo) / 8, f"rho stays inside the range: {float(rho.max())}"
            assert float(rho.max() - rho.min()) > (hi - lo) / 10, "random, unlike eq. (26) in 2-D"
    W = lm.gershgorin(2, 0.0, 1.0, real=True, batch=50, generator=gen(3))  # printed eq. (26)
    torch.testing.assert_close(torch.linalg.eigvals(W).abs().amax(-1), torch.ones(50, dtype=F64), rtol=0, atol=1e-15)


def test_spectral_slim_singular_values_in_the_subinterval():
    lo, hi = 0.99, 1.1
    W = lm.spectral_svd(4, lo, hi, construction="slim", batch=500, generator=gen(2))
    sv = torch.linalg.svdvals(W)
    width = hi - lo
    s_hi, s_lo = hi - width / 2, hi - width / (1 + math.exp(-1.0))
    assert float(sv.min()) >= s_lo - 1e-12 and float(sv.max()) <= s_hi + 1e-12, (float(sv.min()), float(sv.max()))
    assert float(sv.min()) > 1.0, "range (0.99, 1.10) in slim: every singular value above 1"


def test_slim_mlp_is_the_authors_network():
    """The appended identity layer makes eq. (3) apply the activation after every slim layer, the last included."""
    from linear_lens import networks

    for linear_map in lm.SLIM_MAPS:
        W, B = lm.slim_mlp(2, 3, linear_map, 0.0, 1.0, real=False, generator=gen(5))
        assert len(W) == 5 and len(B) == 5 and torch.equal(W[-1], torch.eye(2, dtype=F64))
        assert all(float(b.abs().max()) <= 2**-0.5 for b in B) and float(B[-1].abs().max()) == 0.0
        x = torch.randn(7, 2, generator=gen(6), dtype=F64)
        h = x
        for A, b in zip(W[:-1], B[:-1]):
            h = torch.tanh(h @ A.mT + b)
        torch.testing.assert_close(networks.forward(W, B, "tanh", x), h, rtol=0, atol=1e-15)
    W, B = lm.slim_mlp(2, 0, "gershgorin", bias=False, batch=(3,), generator=gen(5))
    assert B is None and len(W) == 2 and W[0].shape == (3, 2, 2)


@pytest.mark.parametrize(
    "call, param",
    [
        (lambda: lm.gershgorin(3, 0, 1, construction="eq27"), "construction"),
        (lambda: lm.spectral_svd(3, 0, 1, construction="torch"), "construction"),
        (lambda: lm.gershgorin_slim_weight(torch.rand(3, 3), torch.rand(2), 0, 1), "d_raw"),
        (lambda: lm.gershgorin_slim_weight(torch.rand(3, 2), torch.rand(3), 0, 1), "W_raw"),
        (lambda: lm.gershgorin_slim_weight(torch.rand(3, 3), torch.rand(3), 0, 1, real=1), "real"),
        (lambda: lm.gershgorin_slim_weight(torch.rand(3, 3), torch.rand(3), 1, 0), "lam_min"),
        (lambda: lm.slim_mlp(2, 1, "orthogonal"), "linear_map"),
        (lambda: lm.slim_mlp(2, -1, "gershgorin"), "hidden_layers"),
        (lambda: lm.slim_mlp(0, 1, "gershgorin"), "n"),
    ],
)
def test_slim_bad_arguments_raise(call, param):
    with pytest.raises(ValueError, match=f"^{param}:"):
        call()
