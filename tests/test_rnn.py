"""Random recurrent networks: couplings, RK4 simulation and its largest Lyapunov exponent, estimators of covariances,
spectra and autocorrelations, and bad input."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from linear_lens import dmft, rnn
from rnn_cases import stable_couplings as _stable


@pytest.fixture(scope="module")
def sol():
    return dmft.solve(2.0)


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


# ---- bad input --------------------------------------------------------------------------------------------------


def test_bad_inputs_of_the_simulation(sol):
    J = _stable(12, 1.5, sol.a, 5)
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
