"""Random recurrent networks: RK4 simulation, covariance estimators, the linear-equivalent and naive-closure
predictions in the eigenbasis against direct dense solves, debiased comparisons, and bad input."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from linear_lens import dmft, rnn


@pytest.fixture(scope="module")
def sol():
    return dmft.solve(2.0)


def _stable(n, g, a, seed, margin=0.05, naive=True):
    """A coupling matrix whose linear-equivalent network is stable with some margin (and, if ``naive``, whose naive
    closure is not resonant); the first of 50 draws that qualifies."""
    gen = torch.Generator().manual_seed(seed)
    for _ in range(50):
        J = rnn.couplings(n, g, generator=gen)
        lam = torch.linalg.eigvals(J)
        if float(a * lam.real.max()) < 1 - margin and (not naive or a * float(lam.abs().max()) < 1):
            return J
    raise AssertionError("no qualifying draw in 50")


# ---- couplings and simulation -----------------------------------------------------------------------------------


def test_couplings_statistics_and_seed():
    J = rnn.couplings(400, 2.0, batch=(3,), generator=7)
    assert J.shape == (3, 400, 400) and J.dtype == torch.float64
    var = float(J.var()) * 400
    assert abs(var - 4.0) < 4 * 4.0 * math.sqrt(2 / J.numel()), f"N Var J = {var}, expected g^2 = 4"
    assert torch.equal(J, rnn.couplings(400, 2.0, batch=(3,), generator=7))
    assert rnn.couplings(5, 1.0, dtype=torch.float32).dtype == torch.float32


def test_rk4_against_tight_ode_solver_and_its_order():
    """Before chaos amplifies differences (t = 4), RK4 agrees with DOP853 at rtol 1e-12, and halving dt divides
    the error by about 2^4."""
    J = rnn.couplings(20, 2.0, generator=3)
    x0 = torch.randn(1, 20, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    Jn = J.numpy()
    ref = solve_ivp(lambda t, y: -y + Jn @ np.tanh(y), (0, 4), x0[0].numpy(), method="DOP853", rtol=1e-12,
                    atol=1e-12).y[:, -1]
    errors = []
    for dt in (0.1, 0.05):
        x = rnn.simulate(J, n_traj=1, t_burn=0, t_record=4.0, dt=dt, record_every=int(round(4.0 / dt)), x0=x0)
        errors.append(float(np.abs(x[0, -1].numpy() - ref).max()))
    assert errors[1] < 1e-5, f"RK4 error {errors[1]:.2e} at dt = 0.05"
    assert 10 < errors[0] / errors[1] < 24, f"error ratio {errors[0] / errors[1]:.1f}, expected ~16 (4th order)"


def test_simulate_shapes_dtypes_and_batches():
    J = rnn.couplings(30, 2.0, batch=(2,), generator=0, dtype=torch.float32)
    x = rnn.simulate(J, n_traj=3, t_burn=1.0, t_record=2.0, dt=0.1, record_every=5, generator=1)
    assert x.shape == (2, 3, 4, 30) and x.dtype == torch.float32
    x2 = rnn.simulate(J, n_traj=3, t_burn=1.0, t_record=2.0, dt=0.1, record_every=5, generator=1)
    assert torch.equal(x, x2), "a seed fixes the trajectories"
    # a batch of matrices gives the same trajectories as the matrices one by one
    x0 = torch.randn(2, 3, 30, generator=torch.Generator().manual_seed(2)).float()
    xb = rnn.simulate(J, n_traj=3, t_burn=0, t_record=1.0, dt=0.1, record_every=10, x0=x0)
    x1 = rnn.simulate(J[1], n_traj=3, t_burn=0, t_record=1.0, dt=0.1, record_every=10, x0=x0[1])
    assert torch.allclose(xb[1], x1, rtol=1e-5, atol=1e-6)


# ---- estimators -------------------------------------------------------------------------------------------------


def test_moment_groups_known_answer():
    y = torch.arange(24, dtype=torch.float64).reshape(1, 6, 4)
    g = rnn.moment_groups(y, n_blocks=2)
    assert g.shape == (2, 4, 4)
    first = y[0, :3]
    assert torch.allclose(g[0], first.T @ first / 3)


def _ou(A, n_traj, n_steps, h, seed):
    """Exact discretisation of dy = -A y dt + dW (A symmetric positive definite), sampled every h."""
    w, U = np.linalg.eigh(A)
    decay = np.exp(-w * h)
    sd = np.sqrt((1 - decay**2) / (2 * w))
    rng = np.random.default_rng(seed)
    z = np.zeros((n_traj, A.shape[0]))
    z += rng.standard_normal(z.shape) * np.sqrt(1 / (2 * w))
    out = np.empty((n_traj, n_steps, A.shape[0]))
    for t in range(n_steps):
        z = decay * z + sd * rng.standard_normal(z.shape)
        out[:, t] = z @ U.T
    return torch.from_numpy(out)


def test_cross_spectrum_and_autocorrelation_of_an_ou_process():
    """A 2-unit Ornstein-Uhlenbeck process: S(w) = (iw + A)^-1 (iw + A)^-H, C(tau) = e^{-A tau} / (2A)."""
    A = np.array([[1.0, 0.4], [0.4, 0.7]])
    h = 0.1
    y = _ou(A, 8, 40000, h, 0)
    omega = np.array([0.0, 0.5, 1.5])
    S = rnn.cross_spectrum(y, h, omega, segment=512).numpy()
    for k, w in enumerate(omega):
        R = np.linalg.inv(1j * w * np.eye(2) + A)
        exact = R @ R.conj().T
        assert np.abs(S[k] - exact).max() < 0.08 * np.abs(exact).max(), f"omega = {w}: {S[k]} vs {exact}"
    mean, err = rnn.population_autocorrelation(y, 30)
    w, U = np.linalg.eigh(A)
    for lag in (0, 10, 30):
        C = U @ np.diag(np.exp(-w * lag * h) / (2 * w)) @ U.T
        assert abs(float(mean[lag]) - np.trace(C) / 2) < 5 * float(err[lag]) + 1e-3, f"lag {lag}"


# ---- predictions: eigenbasis against direct solves --------------------------------------------------------------


def test_eigenbasis_reconstructs(sol):
    J = rnn.couplings(50, 2.0, generator=0)
    lam, V, Vi = rnn.eigenbasis(J)
    assert torch.allclose(V @ torch.diag(lam) @ Vi, J.to(torch.complex128), atol=1e-12)


def test_spectra_eigenbasis_equals_direct(sol):
    w = np.array([0.0, 0.3, 1.0, 4.0])
    D = sol.D_omega(w)
    for closure, f, n in (("linear", rnn.linear_equivalent_spectrum, 40), ("naive", rnn.naive_closure_spectrum, 12)):
        J = _stable(n, 1.8, sol.a, 1)
        A = f(J, sol.a, D, w)
        B = rnn.direct_spectrum(J, sol.a, D, w, closure=closure)
        assert (A - B).abs().max() < 1e-11 * B.abs().max(), closure


def test_equal_time_covariance_three_ways(sol):
    """Closed form in the Laplace transform = eigenbasis quadrature = direct solves, frequency by frequency."""
    J = _stable(25, 1.8, sol.a, 2)
    C = rnn.linear_equivalent_covariance(J, sol)
    Cq = rnn.linear_equivalent_covariance(J, sol, method="quadrature", n_omega=2048)
    omega, weight = rnn._frequency_quadrature(1024)
    Cd = (rnn.direct_spectrum(J, sol.a, sol.D_omega(omega) * weight / (2 * math.pi), omega).sum(0)).real
    scale = float(C.abs().max())
    assert (C - Cq).abs().max() < 1e-10 * scale and (C - Cd).abs().max() < 1e-10 * scale
    assert torch.allclose(C, C.T) and float(torch.linalg.eigvalsh(C).min()) > 0, "a covariance: symmetric, PD"


def test_naive_closure_equal_time_against_direct(sol):
    J = _stable(10, 1.5, sol.a, 3)
    C = rnn.naive_closure_covariance(J, sol)
    omega, weight = rnn._frequency_quadrature(1024)
    Cd = rnn.direct_spectrum(J, sol.a, sol.D_omega(omega) * weight / (2 * math.pi), omega, closure="naive")
    assert (C - Cd.sum(0).real).abs().max() < 1e-9 * float(C.abs().max())


def test_special_cases(sol):
    """J = 0: the covariance is D(0) I; J = c I: one mode, C = K I with K the 1-D frequency integral."""
    n = 6
    C0 = rnn.linear_equivalent_covariance(torch.zeros(n, n, dtype=torch.float64), sol)
    assert torch.allclose(C0, float(sol.D(0.0)) * torch.eye(n, dtype=torch.float64), atol=1e-14)
    c = 0.9
    Cc = rnn.linear_equivalent_covariance(c * torch.eye(n, dtype=torch.float64), sol)
    omega, weight = rnn._frequency_quadrature(4096)
    K = float((sol.D_omega(omega) * weight / np.abs(1 - sol.a * c / (1 + 1j * omega)) ** 2).sum() / (2 * math.pi))
    assert torch.allclose(Cc, K * torch.eye(n, dtype=torch.float64), rtol=1e-10)
    # the diagonal of a large realisation is close to the DMFT variance of phi (self-consistency of D)
    J = _stable(400, 2.0, sol.a, 4, margin=0.02, naive=False)
    diag = float(torch.diagonal(rnn.linear_equivalent_covariance(J, sol)).mean())
    assert abs(diag - sol.phi_var) < 0.1 * sol.phi_var, f"mean diagonal {diag:.4f} vs C^phi(0) = {sol.phi_var:.4f}"


# ---- comparisons ------------------------------------------------------------------------------------------------


def test_compare_is_unbiased_on_synthetic_groups():
    """Groups = C + independent noise: the debiased error of P = C is ~0 and of P = 1.1 C is ~0.1, within 4 errors,
    although the noise is larger than both."""
    gen = torch.Generator().manual_seed(0)
    n, B = 40, 24
    X = torch.randn(n, n, generator=gen, dtype=torch.float64)
    C = X @ X.T / n + torch.eye(n, dtype=torch.float64)
    noise = torch.randn(B, n, n, generator=gen, dtype=torch.float64) * 0.4
    groups = C + (noise + noise.mT) / 2
    exact = rnn.compare(groups, C)
    assert abs(exact["rel_error"].value) < 4 * exact["rel_error"].error + 0.02
    assert exact["noise"].value > 0.1, "the test needs noise larger than the effect"
    scaled = rnn.compare(groups, 1.1 * C)
    assert abs(scaled["rel_error"].value - 0.1) < 4 * scaled["rel_error"].error
    assert abs(exact["corr_offdiag"].value - 1) < 4 * exact["corr_offdiag"].error + 0.01
    pr = float(rnn.participation_ratio(C))
    assert abs(exact["pr"].value - pr) < 4 * exact["pr"].error + 0.01 * pr
    assert "rel_error" not in rnn.compare(groups)


def test_fit_power_law():
    n = np.array([100.0, 200, 400, 800])
    slope, amp = rnn.fit_power_law(n, 3 * n**-0.5, 0.01 * 3 * n**-0.5)
    assert slope.value == pytest.approx(-0.5, abs=1e-12) and math.exp(amp.value) == pytest.approx(3, rel=1e-12)


def test_fit_power_law_at_fixed_covariate():
    """With a covariate, the fit recovers both exponents of exact data, and the slope in N at fixed margin differs
    from the naive one when the margin is correlated with N."""
    n = np.repeat([100.0, 200, 400, 800], 3)
    margin = np.tile([0.01, 0.03, 0.05], 4) * (n / 100) ** 0.3
    y = 2 * n**-0.5 * margin**-0.4
    slope, e_margin, amp = rnn.fit_power_law(n, y, 0.01 * y, margin=margin)
    assert slope.value == pytest.approx(-0.5, abs=1e-10) and e_margin.value == pytest.approx(-0.4, abs=1e-10)
    assert math.exp(amp.value) == pytest.approx(2, rel=1e-10)
    naive = rnn.fit_power_law(n, y, 0.01 * y)[0]
    assert naive.value == pytest.approx(-0.5 - 0.4 * 0.3, abs=1e-10)
    with pytest.raises(ValueError, match="margin"):
        rnn.fit_power_law(n, y, 0.01 * y, margin=-margin)
    with pytest.raises(ValueError, match="margin"):
        rnn.fit_power_law(n, y, 0.01 * y, margin=margin[:-1])
    with pytest.raises(ValueError, match="4 points"):
        rnn.fit_power_law(n[:3], y[:3], y[:3], margin=margin[:3])


# ---- the largest Lyapunov exponent ------------------------------------------------------------------------------


def test_lyapunov_at_a_fixed_point_is_the_linear_rate():
    """For g < 1 every trajectory falls to x = 0, where the tangent dynamics is linear: the exponent is
    max Re(lambda(J)) - 1. The tangent vector does not change the trajectories."""
    J = rnn.couplings(60, 0.5, generator=1)
    x, lam = rnn.simulate(J, n_traj=2, t_burn=30, t_record=400, dt=0.1, record_every=5, generator=2,
                          lyapunov=True)
    exact = float(torch.linalg.eigvals(J).real.max()) - 1
    assert lam.shape == () and lam.dtype == torch.float64
    assert float(lam) == pytest.approx(exact, abs=5e-3)
    x2 = rnn.simulate(J, n_traj=2, t_burn=30, t_record=400, dt=0.1, record_every=5, generator=2)
    assert torch.allclose(x, x2, rtol=1e-12, atol=1e-14)
    _, lam32 = rnn.simulate(J.float(), n_traj=2, t_burn=30, t_record=400, dt=0.1, record_every=5, generator=2,
                            lyapunov=True)
    assert lam32.dtype == torch.float64 and float(lam32) == pytest.approx(exact, abs=5e-3)


def test_lyapunov_of_a_limit_cycle_is_near_zero():
    """Two units with a rotating coupling: the origin is an unstable spiral (eigenvalues 0.5 +- 2i of -I + J),
    tanh bounds the orbit, and the attractor is a limit cycle: its largest exponent is 0."""
    J = torch.tensor([[1.5, -2.0], [2.0, 1.5]], dtype=torch.float64)
    x, lam = rnn.simulate(J, n_traj=1, t_burn=100, t_record=250, dt=0.05, record_every=4, generator=0,
                          lyapunov=True)
    assert float((x[0, :, 0] ** 2).min()) < 0.5 < float((x[0, :, 0] ** 2).max()), "the orbit keeps turning"
    assert abs(float(lam)) < 5e-3


def test_lyapunov_against_two_nearby_trajectories():
    """In the chaotic phase the tangent-vector exponent matches Benettin's method: two trajectories 1e-7 apart,
    integrated by the same RK4, their separation renormalised every time unit (batched over two matrices)."""
    n = 200
    J = rnn.couplings(n, 3.0, batch=(2,), generator=3)
    x0 = torch.randn(2, 1, n, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    _, lam = rnn.simulate(J, n_traj=1, t_burn=50, t_record=300, dt=0.1, record_every=5, x0=x0, lyapunov=True)
    xa = rnn.simulate(J, n_traj=1, t_burn=0, t_record=50, dt=0.1, record_every=500, x0=x0)[:, :, -1]
    eps = 1e-7
    xb = xa + eps * torch.ones_like(xa) / math.sqrt(n)
    total = torch.zeros(2, dtype=torch.float64)
    for _ in range(300):
        xa = rnn.simulate(J, n_traj=1, t_burn=0, t_record=1.0, dt=0.1, record_every=10, x0=xa)[:, :, -1]
        xb = rnn.simulate(J, n_traj=1, t_burn=0, t_record=1.0, dt=0.1, record_every=10, x0=xb)[:, :, -1]
        d = (xb - xa).norm(dim=-1)[:, 0]
        total += torch.log(d / eps)
        xb = xa + eps * (xb - xa) / d[:, None, None]
    assert torch.all(lam > 0.1), f"chaotic exponents expected, got {lam}"
    assert torch.allclose(lam, total / 300, atol=0.015), f"tangent {lam} vs Benettin {total / 300}"


def test_small_sweep(sol):
    res = rnn.equivalence_sweep([dmft.solve(3.0)], [60, 80, 100], n_real=2, n_draws=4, n_traj=3, t_burn=20,
                                t_record=30, generator=0, dtype=torch.float64)
    assert res.margin.shape == (1, 3, 2) and np.all(res.margin > 0)
    v, e = res.metrics["linear", "corr_offdiag"]
    assert v.shape == (1, 3, 2) and np.all(np.isnan(v) | (np.abs(v) <= 1.5))
    assert res.cx.shape[:3] == (1, 3, 2)
    assert res.lyapunov.shape == (1, 3, 2) and np.all(res.chaotic <= (res.lyapunov > 0.01))


# ---- bad input --------------------------------------------------------------------------------------------------


def test_bad_inputs(sol):
    J = _stable(12, 1.5, sol.a, 5)
    w, D = np.array([0.0, 1.0]), sol.D_omega(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="n"):
        rnn.couplings(0, 2.0)
    with pytest.raises(ValueError, match="g"):
        rnn.couplings(5, -1.0)
    with pytest.raises(ValueError, match="J"):
        rnn.simulate(torch.zeros(3, 4), n_traj=1, t_burn=0, t_record=1)
    with pytest.raises(ValueError, match="dt"):
        rnn.simulate(J, n_traj=1, t_burn=0, t_record=1, dt=0.8)
    with pytest.raises(ValueError, match="dt"):
        rnn.simulate(J, n_traj=1, t_burn=0, t_record=1, dt=0.0)
    with pytest.raises(ValueError, match="t_record"):
        rnn.simulate(J, n_traj=1, t_burn=0, t_record=0.1, dt=0.1, record_every=5)
    with pytest.raises(ValueError, match="t_burn"):
        rnn.simulate(J, n_traj=1, t_burn=-1, t_record=1)
    with pytest.raises(ValueError, match="n_traj"):
        rnn.simulate(J, n_traj=0, t_burn=0, t_record=1)
    with pytest.raises(ValueError, match="x0"):
        rnn.simulate(J, n_traj=2, t_burn=0, t_record=1, x0=torch.zeros(3, 12))
    with pytest.raises(ValueError, match="J"):
        rnn.simulate(J * float("nan"), n_traj=1, t_burn=0, t_record=1)
    with pytest.raises(ValueError, match="values"):
        rnn.moment_groups(torch.zeros(5, 4))
    with pytest.raises(ValueError, match="n_blocks"):
        rnn.moment_groups(torch.zeros(1, 3, 4), n_blocks=4)
    with pytest.raises(ValueError, match="segment"):
        rnn.cross_spectrum(torch.zeros(1, 10, 2), 0.1, [0.0], segment=20)
    with pytest.raises(ValueError, match="dt_sample"):
        rnn.cross_spectrum(torch.zeros(1, 10, 2), 0.0, [0.0], segment=8)
    with pytest.raises(ValueError, match="max_lag"):
        rnn.population_autocorrelation(torch.zeros(1, 10, 2), 10)
    with pytest.raises(ValueError, match="a"):
        rnn.max_real_gain(J, 0.0)
    with pytest.raises(ValueError, match="D"):
        rnn.linear_equivalent_spectrum(J, sol.a, -D, w)
    with pytest.raises(ValueError, match="D"):
        rnn.naive_closure_spectrum(J, sol.a, D[:1], w)
    with pytest.raises(ValueError, match="J"):
        rnn.linear_equivalent_spectrum(torch.zeros(2, 3, 3), sol.a, D, w)
    with pytest.raises(ValueError, match="closure"):
        rnn.direct_spectrum(J, sol.a, D, w, closure="gaussian")
    with pytest.raises(ValueError, match="J"):
        rnn.direct_spectrum(torch.zeros(31, 31), sol.a, D, w, closure="naive")
    unstable = torch.eye(5, dtype=torch.float64) * (1.01 / sol.a)
    with pytest.raises(ValueError, match="unstable"):
        rnn.linear_equivalent_covariance(unstable, sol)
    resonant = torch.tensor([[0.0, 1.2], [-1.2, 0.0]], dtype=torch.float64) / sol.a  # Re = 0, |a lambda| = 1.2
    rnn.linear_equivalent_covariance(resonant, sol)  # stable linear network ...
    with pytest.raises(ValueError, match="resonant"):
        rnn.naive_closure_covariance(resonant, sol)  # ... but a resonant naive closure
    with pytest.raises(ValueError, match="solution"):
        rnn.linear_equivalent_covariance(J, {"a": 0.5})
    with pytest.raises(ValueError, match="method"):
        rnn.linear_equivalent_covariance(J, sol, method="euler")
    with pytest.raises(ValueError, match="groups"):
        rnn.compare(torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="prediction"):
        rnn.compare(torch.zeros(4, 3, 3), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="C"):
        rnn.participation_ratio(torch.zeros(3))
    with pytest.raises(ValueError, match="n"):
        rnn.fit_power_law([1.0, 2.0], [1.0, 1.0], [0.1, 0.1])
    with pytest.raises(ValueError, match="value"):
        rnn.fit_power_law([1.0, 2.0, 3.0], [1.0, -1.0, 1.0], [0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="sizes"):
        rnn.equivalence_sweep([sol], [100, 50])
    with pytest.raises(ValueError, match="n_real"):
        rnn.equivalence_sweep([sol], [50], n_real=1)
    with pytest.raises(ValueError, match="n_traj"):
        rnn.equivalence_sweep([sol], [50], n_traj=2)
    with pytest.raises(ValueError, match="sample_every"):
        rnn.equivalence_sweep([sol], [50], dt=0.2, sample_every=0.3)
    with pytest.raises(ValueError, match="solutions"):
        rnn.equivalence_sweep([], [50])
