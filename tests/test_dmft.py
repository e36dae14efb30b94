"""DMFT of the random network dx/dt = -x + J phi(x): published order parameters, closed forms (phi = erf), the
equations themselves, Monte Carlo, and a simulation of a large network."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad
from scipy.optimize import brentq

from linear_lens import dmft, rnn


@pytest.fixture(scope="module")
def solutions():
    return {g: dmft.solve(g) for g in (1.5, 2.0, 3.0)}


# ---- published values -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("g, q, a", [(2.0, 1.925, 0.487), (3.0, 5.446, 0.319)])
def test_published_order_parameters(solutions, g, q, a):
    """The reference values for tanh, to the three digits given."""
    s = solutions[g]
    assert round(s.q, 3) == q, f"g = {g}: q = {s.q:.6f}, reference {q}"
    assert round(s.a, 3) == a, f"g = {g}: <phi'> = {s.a:.6f}, reference {a}"


def test_q_converges_in_the_quadrature():
    for g in (1.5, 3.0, 5.0):
        q = dmft.solve_q(g)
        assert abs(dmft.solve_q(g, n_nodes=2400) - q) < 1e-10 * q, f"g = {g}: q not converged in the node count"


# ---- closed forms for phi = erf(sqrt(pi) x / 2) -----------------------------------------------------------------


def _erf_pair(q, d):
    k = (math.pi / 2) / (1 + math.pi * q / 2)
    return (2 / math.pi) * np.arcsin(k * np.asarray(d))


def test_pair_expectation_erf_closed_form():
    for q in (0.3, 2.0, 8.0):
        d = np.linspace(-q, q, 9)
        got = dmft.pair_expectation("erf", q, d)
        assert np.allclose(got, _erf_pair(q, d), rtol=1e-12, atol=1e-14), f"q = {q}"


def test_gain_and_q_erf_closed_forms():
    for g in (1.2, 2.0, 3.5):
        q = dmft.solve_q(g, "erf")

        def energy(q):  # q^2/2 = g^2 int_0^q C^phi(D) dD with C^phi = (2/pi) arcsin(k D)
            k = (math.pi / 2) / (1 + math.pi * q / 2)
            return q * q / 2 - g * g * (2 / math.pi) * (q * math.asin(k * q) + (math.sqrt(1 - (k * q) ** 2) - 1) / k)

        exact = brentq(energy, 1e-6, 2 * g * g + 1, xtol=1e-15)
        assert abs(q - exact) < 1e-11 * exact, f"g = {g}: q = {q}, closed form {exact}"
        assert abs(dmft.gain(q, "erf") - 1 / math.sqrt(1 + math.pi * q / 2)) < 1e-13


def test_erf_solution_matches_closed_form_correlations():
    s = dmft.solve(2.0, "erf")
    tau = np.array([0.0, 0.7, 2.0, 6.0, 15.0])
    assert np.allclose(s.Cphi(tau), _erf_pair(s.q, s.Cx(tau)), rtol=1e-10, atol=1e-14)


# ---- the Hermite series and the nested quadrature for tanh ------------------------------------------------------


def test_hermite_coefficients():
    q = 1.9248
    c = dmft.hermite_coefficients("tanh", q, order=250)
    assert np.all(c >= 0)
    assert np.abs(c[0::2]).max() < 1e-28, "odd phi: even coefficients vanish"
    assert abs(c[1] - q * dmft.gain(q) ** 2) < 1e-13, "c_1 = q a^2 (Stein's lemma)"
    assert abs(c.sum() - float(dmft.pair_expectation("tanh", q, q))) < 1e-12, "sum c_k = E[phi^2]"
    rho = 0.37
    series = np.polynomial.Polynomial(c)(rho)
    assert abs(series - float(dmft.pair_expectation("tanh", q, rho * q))) < 1e-14


def test_pair_expectation_tanh_monte_carlo():
    """Nested quadrature against 10^6 Gaussian pairs, within 4 standard errors."""
    rng = np.random.default_rng(0)
    q, d = 2.5, 1.1
    z0, z1, z2 = rng.standard_normal((3, 1_000_000))
    s = np.tanh(math.sqrt(d) * z0 + math.sqrt(q - d) * z1) * np.tanh(math.sqrt(d) * z0 + math.sqrt(q - d) * z2)
    se = s.std() / math.sqrt(s.size)
    got = float(dmft.pair_expectation("tanh", q, d))
    assert abs(got - s.mean()) < 4 * se, f"quadrature {got:.6f}, Monte Carlo {s.mean():.6f} +- {se:.1e}"


# ---- the DMFT equations -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("g", [1.5, 2.0, 3.0])
def test_newton_equation_holds(solutions, g):
    """(1 - d^2/dtau^2) C^x = g^2 C^phi, by central differences (truncation error ~ h^2)."""
    s = solutions[g]
    h = 1e-3
    tau = np.array([0.2, 1.0, 2.5, 7.0, 20.0])
    d2 = (s.Cx(tau + h) - 2 * s.Cx(tau) + s.Cx(tau - h)) / h**2
    residual = s.Cx(tau) - d2 - g * g * s.Cphi(tau)
    assert np.abs(residual).max() < 1e-5 * s.q, f"g = {g}: residual {residual}"


@pytest.mark.parametrize("g", [1.5, 2.0, 3.0])
def test_solution_shape(solutions, g):
    s = solutions[g]
    assert s.Cx(0.0) == pytest.approx(s.q, rel=1e-12)
    assert s.energy_mismatch < 1e-9, "Newton's and the energy equation must agree where they meet"
    tau = np.linspace(0, 60, 601)
    cx = s.Cx(tau)
    assert np.all(np.diff(cx) < 0) and np.all(cx > 0), "C^x decreases monotonically to 0"
    assert np.allclose(s.Cx(-tau), cx), "even in tau"
    slope = (math.log(s.Cx(300.0)) - math.log(s.Cx(200.0))) / 100
    assert slope == pytest.approx(-s.lam, rel=1e-6), "exponential tail with rate sqrt(1 - a^2 g^2)"
    assert s.a * g < 1


@pytest.mark.parametrize("g", [1.5, 2.0, 3.0])
def test_spectra(solutions, g):
    s = solutions[g]
    w = np.array([0.0, 0.1, 0.5, 1.0, 3.0, 8.0])
    Sx, Sp, D = s.Sx(w), s.Sphi(w), s.D_omega(w)
    floor = 1e-12 * Sx[0]  # roundoff of the cosine transforms, relative to the peak
    assert np.allclose(Sx, g * g * Sp / (1 + w * w), rtol=1e-9, atol=floor), "(1 + w^2) S^x = g^2 S^phi"
    assert np.allclose(D, Sp * (1 - (s.a * g) ** 2 / (1 + w * w)), rtol=1e-8, atol=floor)
    assert np.all(D[w < 5] > 0)
    grid = np.linspace(-30, 30, 3001)
    assert np.trapezoid(s.Sphi(grid), grid) / (2 * math.pi) == pytest.approx(s.phi_var, rel=1e-9)


def test_laplace_transform_against_quad(solutions):
    s = solutions[2.0]
    for kappa in (0.3, 1.0, 0.05 + 0.8j, 2.0 - 1.5j, -0.9 * s.lam):
        f = lambda t, part: getattr(complex(s.D(t) * np.exp(-kappa * t)), part)  # noqa: E731
        exact = quad(f, 0, 400, args=("real",), limit=400)[0] + 1j * quad(f, 0, 400, args=("imag",), limit=400)[0]
        assert abs(s.laplace_D(kappa) - exact) < 1e-10, f"kappa = {kappa}"


# ---- against a simulated network -------------------------------------------------------------------------------


def test_dmft_against_simulation(solutions):
    """Population averages of 4 networks (N = 500, g = 2) against q and C^phi(0), within 4 standard errors
    across realisations plus a 3% allowance for the O(1/N) finite-size corrections."""
    s = solutions[2.0]
    J = rnn.couplings(500, 2.0, batch=(4,), generator=0)
    x = rnn.simulate(J, n_traj=2, t_burn=60, t_record=80, dt=0.2, record_every=2, generator=1)
    q_r = (x * x).mean(dim=(-3, -2, -1)).numpy()
    cphi_r = (torch.tanh(x) ** 2).mean(dim=(-3, -2, -1)).numpy()
    for name, values, theory in (("q", q_r, s.q), ("C^phi(0)", cphi_r, s.phi_var)):
        se = values.std(ddof=1) / math.sqrt(values.size)
        assert abs(values.mean() - theory) < 4 * se + 0.03 * theory, f"{name}: {values.mean():.4f} +- {se:.4f}"


# ---- bad input --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("g", [1.0, 0.5, 5.5, float("nan"), "2", None, True])
def test_bad_g(g):
    with pytest.raises(ValueError, match="g"):
        dmft.solve(g)
    with pytest.raises(ValueError, match="g"):
        dmft.solve_q(g)


def test_bad_inputs(solutions):
    s = solutions[2.0]
    with pytest.raises(ValueError, match="phi"):
        dmft.solve(2.0, "relu")
    with pytest.raises(ValueError, match="phi"):
        dmft.pair_expectation("sigmoid", 1.0, 0.5)
    with pytest.raises(ValueError, match="q"):
        dmft.pair_expectation("tanh", 0.0, 0.0)
    with pytest.raises(ValueError, match="delta"):
        dmft.pair_expectation("tanh", 1.0, 1.5)
    with pytest.raises(ValueError, match="q"):
        dmft.gain(-1.0)
    with pytest.raises(ValueError, match="order"):
        dmft.hermite_coefficients("tanh", 1.0, order=0)
    with pytest.raises(ValueError, match="n_nodes"):
        dmft.gaussian_mean(np.tanh, 1.0, n_nodes=0)
    with pytest.raises(ValueError, match="variance"):
        dmft.gaussian_mean(np.tanh, float("inf"))
    with pytest.raises(ValueError, match="tau"):
        s.Cx(float("nan"))
    with pytest.raises(ValueError, match="tau"):
        s.Cphi("1.0")
    with pytest.raises(ValueError, match="omega"):
        s.Sphi(np.array([1.0, np.inf]))
    with pytest.raises(ValueError, match="omega"):
        s.D_omega(np.array([1 + 1j]))
    with pytest.raises(ValueError, match="kappa"):
        s.laplace_D(-s.lam)
    with pytest.raises(ValueError, match="kappa"):
        s.laplace_D(np.nan)
