"""The linear-equivalent and naive-closure predictions in J's eigenbasis against direct dense solves, frequency by
frequency and at equal time, special cases, and bad input."""

import math

import numpy as np
import pytest
import torch

from linear_lens import dmft, linear_equivalence as le, rnn
from rnn_cases import stable_couplings as _stable


@pytest.fixture(scope="module")
def sol():
    return dmft.solve(2.0)


# ---- predictions: eigenbasis against direct solves --------------------------------------------------------------


def test_eigenbasis_reconstructs(sol):
    J = rnn.couplings(50, 2.0, generator=0)
    lam, V, Vi = le.eigenbasis(J)
    assert torch.allclose(V @ torch.diag(lam) @ Vi, J.to(torch.complex128), atol=1e-12)


def test_spectra_eigenbasis_equals_direct(sol):
    w = np.array([0.0, 0.3, 1.0, 4.0])
    D = sol.D_omega(w)
    for closure, f, n in (("linear", le.linear_equivalent_spectrum, 40), ("naive", le.naive_closure_spectrum, 12)):
        J = _stable(n, 1.8, sol.a, 1)
        A = f(J, sol.a, D, w)
        B = le.direct_spectrum(J, sol.a, D, w, closure=closure)
        assert (A - B).abs().max() < 1e-11 * B.abs().max(), closure


def test_equal_time_covariance_three_ways(sol):
    """Closed form in the Laplace transform = eigenbasis quadrature = direct solves, frequency by frequency."""
    J = _stable(25, 1.8, sol.a, 2)
    C = le.linear_equivalent_covariance(J, sol)
    Cq = le.linear_equivalent_covariance(J, sol, method="quadrature", n_omega=2048)
    omega, weight = le._frequency_quadrature(1024)
    Cd = (le.direct_spectrum(J, sol.a, sol.D_omega(omega) * weight / (2 * math.pi), omega).sum(0)).real
    scale = float(C.abs().max())
    assert (C - Cq).abs().max() < 1e-10 * scale and (C - Cd).abs().max() < 1e-10 * scale
    assert torch.allclose(C, C.T) and float(torch.linalg.eigvalsh(C).min()) > 0, "a covariance: symmetric, PD"


def test_naive_closure_equal_time_against_direct(sol):
    J = _stable(10, 1.5, sol.a, 3)
    C = le.naive_closure_covariance(J, sol)
    omega, weight = le._frequency_quadrature(1024)
    Cd = le.direct_spectrum(J, sol.a, sol.D_omega(omega) * weight / (2 * math.pi), omega, closure="naive")
    assert (C - Cd.sum(0).real).abs().max() < 1e-9 * float(C.abs().max())


def test_special_cases(sol):
    """J = 0: the covariance is D(0) I; J = c I: one mode, C = K I with K the 1-D frequency integral."""
    n = 6
    C0 = le.linear_equivalent_covariance(torch.zeros(n, n, dtype=torch.float64), sol)
    assert torch.allclose(C0, float(sol.D(0.0)) * torch.eye(n, dtype=torch.float64), atol=1e-14)
    c = 0.9
    Cc = le.linear_equivalent_covariance(c * torch.eye(n, dtype=torch.float64), sol)
    omega, weight = le._frequency_quadrature(4096)
    K = float((sol.D_omega(omega) * weight / np.abs(1 - sol.a * c / (1 + 1j * omega)) ** 2).sum() / (2 * math.pi))
    assert torch.allclose(Cc, K * torch.eye(n, dtype=torch.float64), rtol=1e-10)
    # the diagonal of a large realisation is close to the DMFT variance of phi (self-consistency of D)
    J = _stable(400, 2.0, sol.a, 4, margin=0.02, naive=False)
    diag = float(torch.diagonal(le.linear_equivalent_covariance(J, sol)).mean())
    assert abs(diag - sol.phi_var) < 0.1 * sol.phi_var, f"mean diagonal {diag:.4f} vs C^phi(0) = {sol.phi_var:.4f}"


def test_bad_inputs_of_the_predictions(sol):
    J = _stable(12, 1.5, sol.a, 5)
    w, D = np.array([0.0, 1.0]), sol.D_omega(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="a"):
        le.max_real_gain(J, 0.0)
    with pytest.raises(ValueError, match="D"):
        le.linear_equivalent_spectrum(J, sol.a, -D, w)
    with pytest.raises(ValueError, match="D"):
        le.naive_closure_spectrum(J, sol.a, D[:1], w)
    with pytest.raises(ValueError, match="J"):
        le.linear_equivalent_spectrum(torch.zeros(2, 3, 3), sol.a, D, w)
    with pytest.raises(ValueError, match="closure"):
        le.direct_spectrum(J, sol.a, D, w, closure="gaussian")
    with pytest.raises(ValueError, match="J"):
        le.direct_spectrum(torch.zeros(31, 31), sol.a, D, w, closure="naive")
    unstable = torch.eye(5, dtype=torch.float64) * (1.01 / sol.a)
    with pytest.raises(ValueError, match="unstable"):
        le.linear_equivalent_covariance(unstable, sol)
    resonant = torch.tensor([[0.0, 1.2], [-1.2, 0.0]], dtype=torch.float64) / sol.a  # Re = 0, |a lambda| = 1.2
    le.linear_equivalent_covariance(resonant, sol)  # stable linear network ...
    with pytest.raises(ValueError, match="resonant"):
        le.naive_closure_covariance(resonant, sol)  # ... but a resonant naive closure
    with pytest.raises(ValueError, match="solution"):
        le.linear_equivalent_covariance(J, {"a": 0.5})
    with pytest.raises(ValueError, match="method"):
        le.linear_equivalent_covariance(J, sol, method="euler")
