"""Tests of linear_lens.aligned: the closed-form dynamics of aligned lambda-balanced networks (Anguita, 2024, Sec. 3.2)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from linear_lens import aligned, balanced, gradient_flow as gf, tasks

F64 = torch.float64
LAMS = [-10.0, -3.0, -0.5, 0.0, 0.5, 3.0, 10.0]

lams = st.one_of(st.just(0.0), st.floats(-10, 10, allow_nan=False), st.sampled_from([1e-12, -1e-12, 1e-6]))
svals = st.floats(0.1, 5.0)
inits = st.floats(1e-3, 5.0)


def _scalar_network(lam, s, a0):
    """A 1x1x1 aligned lambda-balanced network on a task with singular value s (weights from balanced.py)."""
    X, Y = tasks.regression_task_with_spectrum([s], 1, 1, 4, generator=torch.Generator().manual_seed(0))
    S2, S1 = balanced.balanced_singular_values(torch.tensor([a0], dtype=F64), lam, 1, 1, 1)
    U, _, V = aligned.task_modes(X, Y)
    return S1 @ V.T, U @ S2, X, Y, U, V


def _scalar_ode(lam, s, a0, t):
    sol = solve_ivp(lambda _, a: np.sqrt(lam**2 + 4 * a**2) * (s - a), (0, t[-1]), [a0], t_eval=t,
                    rtol=1e-13, atol=1e-30, method="DOP853")
    return torch.as_tensor(sol.y[0])


# --- known answers ------------------------------------------------------------------------------------------------


@given(lam=lams, s=svals, a0=inits)
def test_starts_at_a0_and_ends_at_s(lam, s, a0):
    a = aligned.singular_value_trajectory([0.0, 1e6], lam, s, a0)
    assert math.isclose(float(a[0]), a0, rel_tol=1e-13), f"a(0) = {float(a[0])} != a0 = {a0}"
    assert math.isclose(float(a[1]), s, rel_tol=1e-13), f"a(inf) = {float(a[1])} != s = {s}"


def test_fixed_point_stays():
    a = aligned.singular_value_trajectory(np.linspace(0, 5, 11), torch.tensor(LAMS)[:, None], 2.0, 2.0)
    torch.testing.assert_close(a, torch.full_like(a, 2.0), rtol=1e-14, atol=0)


def test_shape_and_broadcasting():
    a = aligned.singular_value_trajectory(torch.linspace(0, 1, 5), torch.tensor(LAMS)[:, None], torch.tensor([3.0, 1.0]),
                                          0.1)
    assert a.shape == (5, 7, 2) and a.dtype == F64
    assert aligned.singular_value_trajectory(0.5, 1.0, 2.0, 0.1).shape == ()


# --- formula against an independent computation -------------------------------------------------------------------


@given(lam=lams, s=svals, a0=inits)
def test_closed_form_matches_integrated_flow(lam, s, a0):
    """Theorem 3.2.1 (corrected) against the full matrix gradient flow of a 1x1x1 network, to 1e-8 relative."""
    W1, W2, X, Y, U, V = _scalar_network(lam, s, a0)
    t = np.linspace(0, 4, 9)
    traj = gf.integrate(W1, W2, X, Y, t)
    a_flow, _ = aligned.mode_values(traj.W1, traj.W2, U, V)
    a_closed = aligned.singular_value_trajectory(t, lam, s, a0)
    torch.testing.assert_close(a_closed, a_flow[:, 0], rtol=1e-8, atol=0,
                               msg=f"closed form differs from the integrated flow at lam={lam}, s={s}, a0={a0}")


@pytest.mark.parametrize("lam", LAMS)
def test_closed_form_matches_a_wide_aligned_network(lam, generator):
    """Several modes at once, with weights from Algorithm 2 (balanced.aligned_lambda_balanced_init)."""
    X, Y = tasks.regression_task_with_spectrum([3.0, 2.0, 1.0, 0.5], 4, 4, 30, generator=generator)
    W1, W2 = balanced.aligned_lambda_balanced_init(lam, X, Y, 4, sigma=0.4, generator=generator)
    U, s, V = aligned.task_modes(X, Y)
    a0, misaligned = aligned.mode_values(W1, W2, U, V)
    assert float(misaligned) < 1e-12, "Algorithm 2 must give aligned weights"
    t = np.linspace(0, 3, 7)
    traj = gf.integrate(W1, W2, X, Y, t)
    a_flow, drift = aligned.mode_values(traj.W1, traj.W2, U, V)
    assert float(drift.max()) < 1e-9, "aligned weights must stay aligned"
    torch.testing.assert_close(aligned.singular_value_trajectory(t, lam, s, a0), a_flow, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("lam,s,a0", [(-3.0, 2.0, 0.05), (0.0, 1.0, 0.01), (10.0, 0.5, 0.2), (1e-12, 3.0, 0.3)])
def test_closed_form_is_exact_to_roundoff(lam, s, a0):
    """Against a 30-digit Taylor-series integration (mpmath) the closed form is correct to a few ulps."""
    t = [0.25, 1.0, 3.0]
    torch.testing.assert_close(aligned.singular_value_trajectory(t, lam, s, a0), aligned.reference_trajectory(t, lam, s, a0),
                               rtol=4e-15, atol=0)


@pytest.mark.parametrize("lam,a0", [(1000.0, 0.3), (-1000.0, -0.2), (300.0, 2.0)])
def test_closed_form_keeps_full_precision_at_large_lambda(lam, a0):
    """At |lambda| >> s the rate K - |lambda| is tiny; the closed form must not lose it to cancellation."""
    t = np.array([0.5, 1.0, 3.0]) / abs(lam)
    torch.testing.assert_close(aligned.singular_value_trajectory(t, lam, 0.5, a0),
                               aligned.reference_trajectory(t, lam, 0.5, a0), rtol=4e-15, atol=0)


def test_negative_initial_mode():
    """For lambda != 0 a mode may start negative (c and d of opposite signs) and still reaches s."""
    t = np.linspace(0, 3, 13)
    for lam in (-2.0, 0.7):
        torch.testing.assert_close(aligned.singular_value_trajectory(t, lam, 1.5, -0.8), _scalar_ode(lam, 1.5, -0.8, t),
                                   rtol=1e-9, atol=1e-12)


def test_small_modes_keep_relative_precision():
    """A mode 1e-9 below |lambda| = 10 is still accurate to 1e-9 relative (no cancellation)."""
    t = np.linspace(0, 0.5, 6)
    ref = _scalar_ode(10.0, 1.0, 1e-9, t)
    torch.testing.assert_close(aligned.singular_value_trajectory(t, 10.0, 1.0, 1e-9), ref, rtol=1e-9, atol=0)


def test_gradient_descent_converges_to_the_closed_form(generator):
    """Gradient descent at learning rate lr follows the closed form with error O(lr)."""
    X, Y = tasks.regression_task_with_spectrum([2.0, 1.0], 2, 2, 10, generator=generator)
    W1, W2 = balanced.aligned_lambda_balanced_init(-1.0, X, Y, 2, sigma=0.3, generator=generator)
    U, s, V = aligned.task_modes(X, Y)
    a0, _ = aligned.mode_values(W1, W2, U, V)
    errors = []
    for lr in (0.02, 0.01, 0.005):
        traj = gf.train(W1, W2, X, Y, lr=lr, steps=round(3 / lr), record_every=10)
        a_gd, _ = aligned.mode_values(traj.W1, traj.W2, U, V)
        errors.append(float((a_gd - aligned.singular_value_trajectory(traj.t, -1.0, s, a0)).abs().max()))
    assert errors[-1] < 5e-3, f"gradient descent at lr=0.005 is {errors[-1]:.2e} from the closed form"
    assert 1.8 < errors[0] / errors[1] < 2.2 and 1.8 < errors[1] / errors[2] < 2.2, f"not first order: {errors}"


@pytest.mark.parametrize("lam", [-3.0, 0.0, 0.5, 10.0])
def test_gradient_descent_shrinks_each_mode_balance_exactly(lam, generator):
    """d^2 - c^2 -> (d^2 - c^2)(1 - lr^2 e^2) per step, to roundoff; zero balance stays zero."""
    X, Y = tasks.regression_task_with_spectrum([3.0, 1.0, 0.5], 3, 3, 20, generator=generator)
    W1, W2 = balanced.aligned_lambda_balanced_init(lam, X, Y, 3, sigma=0.3, generator=generator)
    U, s, V = aligned.task_modes(X, Y)
    torch.testing.assert_close(aligned.mode_balance(W1, W2, U, V), torch.full((3,), lam, dtype=F64), rtol=0, atol=1e-12)
    traj = gf.train(W1, W2, X, Y, lr=0.02, steps=200)
    a, _ = aligned.mode_values(traj.W1, traj.W2, U, V)
    measured = aligned.mode_balance(traj.W1, traj.W2, U, V)
    torch.testing.assert_close(measured, aligned.descent_mode_balance(lam, a, s, 0.02), rtol=1e-12, atol=1e-12)
    if lam != 0:
        assert float((measured[-1] / lam).max()) < 1 - 1e-6, "gradient descent should shrink |lambda|"


# --- special cases ------------------------------------------------------------------------------------------------


@given(s=svals, a0=inits)
def test_zero_lambda_is_saxe_and_continuous(s, a0):
    t = np.linspace(0, 5, 11)
    at_zero = aligned.singular_value_trajectory(t, 0.0, s, a0)
    torch.testing.assert_close(at_zero, aligned.zero_balanced_trajectory(t, s, a0), rtol=1e-13, atol=0,
                               msg="lambda = 0 must give eq. (2.28)")
    torch.testing.assert_close(aligned.singular_value_trajectory(t, 1e-12, s, a0), at_zero, rtol=1e-11, atol=0,
                               msg="the closed form must be continuous at lambda = 0")


@given(lam=lams, s=svals, a0=inits)
def test_depends_on_lambda_only_through_its_magnitude(lam, s, a0):
    t = np.linspace(0, 2, 5)
    assert torch.equal(aligned.singular_value_trajectory(t, lam, s, a0), aligned.singular_value_trajectory(t, -lam, s, a0))


@given(lam=lams, s=svals, a0=st.floats(-5, 5), t=st.floats(0, 1e6))
def test_no_overflow(lam, s, a0, t):
    if lam == 0 and a0 <= 0:
        return
    a = aligned.singular_value_trajectory([t, 1e6], lam, s, a0)
    assert bool(torch.isfinite(a).all()), f"non-finite value at t={t}, lam={lam}, s={s}, a0={a0}"
    assert math.isclose(float(a[1]), s, rel_tol=1e-12)


def test_large_lambda_deviation_decays_like_inverse_square():
    """Theorem 3.2.2: in rescaled time |lambda| t the mode tends to the shallow exponential, with error O(lambda^-2)."""
    lam = np.array([20.0, 40.0, 80.0, 160.0])
    u = np.linspace(0, 8, 161)
    dev = []
    for L in lam:
        exact = aligned.singular_value_trajectory(u / L, L, 1.0, 0.1)
        limit = aligned.large_lambda_trajectory(u / L, L, 1.0, 0.1)
        dev.append(float((exact - limit).abs().max()))
    slope = np.polyfit(np.log(lam), np.log(dev), 1)[0]
    assert abs(slope + 2) < 0.05, f"deviation should scale like lambda^-2, fitted slope {slope:.3f}"


@pytest.mark.parametrize("s,a0", [(1.0, 0.1), (2.0, 3.0), (0.5, -0.2)])
def test_large_lambda_correction_is_the_next_order(s, a0):
    """lambda^2 (a(u/|lambda|) - b(u)) -> c(u), with an error that falls like lambda^-2."""
    u = np.linspace(0, 8, 801)
    misfit = []
    for lam in (100.0, 1000.0):
        gap = aligned.singular_value_trajectory(u / lam, -lam, s, a0) - aligned.large_lambda_trajectory(u / lam, lam, s, a0)
        misfit.append(float((lam**2 * gap - aligned.large_lambda_correction(u, s, a0)).abs().max()))
    assert misfit[1] < 1e-4 * max(1.0, s**3), f"misfit {misfit}"
    assert 50 < misfit[0] / misfit[1] < 200, f"the misfit should fall like lambda^-2: {misfit}"
    assert float(aligned.large_lambda_correction(0.0, s, a0)) == 0.0


def test_thesis_formula_as_printed_fails_and_corrected_holds():
    t = np.linspace(0, 2, 9)
    for lam in (-3.0, -0.5, 0.5, 3.0):
        ref = _scalar_ode(lam, 2.0, 0.3, t)
        printed = aligned.thesis_singular_value_trajectory(t, lam, 2.0, 0.3)
        corrected = aligned.thesis_singular_value_trajectory(t, lam, 2.0, 0.3, fix_c0=True, fix_sign=True)
        c0_only = aligned.thesis_singular_value_trajectory(t, lam, 2.0, 0.3, fix_c0=True)
        assert not bool(torch.isfinite(printed).all()) or float((printed - ref).abs().max()) > 0.1, (
            f"the printed formula unexpectedly holds at lam={lam}")
        torch.testing.assert_close(corrected, ref, rtol=1e-9, atol=1e-12)
        # With C_0 fixed but e^{+Kt}: right for lambda > 0 (sgn = 1), wrong for lambda < 0.
        if lam > 0:
            torch.testing.assert_close(c0_only, ref, rtol=1e-9, atol=1e-12)
        else:
            assert float((c0_only - ref).abs().max()) > 0.1, f"the unsigned exponent unexpectedly holds at lam={lam}"
    big = aligned.thesis_singular_value_trajectory([1e3], 3.0, 2.0, 0.3, fix_c0=True, fix_sign=True)
    assert not bool(torch.isfinite(big).all()), "the thesis's form should overflow at K t = 7e3"


@pytest.mark.parametrize("lam,expected", [(0.0, True), (0.5, True), (0.70, True), (0.72, False), (3.0, False)])
def test_inflection_threshold_matches_finite_differences(lam, expected):
    """Sigmoidal iff |lambda| < s / sqrt(2) for a small start (s = 1): check against the closed form's curvature."""
    a0 = 1e-4
    assert bool(aligned.has_inflection(lam, 1.0, a0)) is expected
    t = np.linspace(0, 12, 24001)
    a = aligned.singular_value_trajectory(t, lam, 1.0, a0).numpy()
    curvature = np.diff(a, 2)
    big = np.abs(curvature) > 1e-12
    changes = np.count_nonzero(np.diff(np.sign(curvature[big])) != 0)
    assert bool(changes >= 1) is expected, f"lam={lam}: {changes} sign changes of the second difference"


def test_count_inflections_known_answers():
    t = torch.linspace(-3, 3, 601, dtype=F64)[:, None]
    curves = torch.cat([t**2, t**3, torch.sin(2 * t), torch.ones_like(t)], dim=1)
    assert aligned.count_inflections(curves).tolist() == [0, 1, 3, 0]


def test_mode_rate_is_the_derivative_of_the_closed_form():
    t = np.array([0.3, 0.3 + 1e-6, 0.3 - 1e-6])
    for lam in (-2.0, 0.0, 1.5):
        a = aligned.singular_value_trajectory(t, lam, 1.2, 0.2)
        fd = (a[1] - a[2]) / 2e-6
        assert math.isclose(float(fd), float(aligned.mode_rate(a[0], lam, 1.2)), rel_tol=1e-7)


# --- bad input ----------------------------------------------------------------------------------------------------


def test_errors():
    with pytest.raises(ValueError, match="^s: singular values must be positive"):
        aligned.singular_value_trajectory([1.0], 1.0, 0.0, 0.1)
    with pytest.raises(ValueError, match="^a0: must be positive where lam = 0"):
        aligned.singular_value_trajectory([1.0], 0.0, 1.0, -0.1)
    with pytest.raises(ValueError, match="^t: times must be non-negative"):
        aligned.singular_value_trajectory([-1.0], 1.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="^tau: expected a finite positive number"):
        aligned.singular_value_trajectory([1.0], 1.0, 1.0, 0.1, tau=0.0)
    with pytest.raises(ValueError, match="^lam, s, a0: shapes"):
        aligned.singular_value_trajectory([1.0], torch.zeros(3), torch.ones(2), 0.1)
    with pytest.raises(ValueError, match="^lam: contains NaN"):
        aligned.singular_value_trajectory([1.0], float("nan"), 1.0, 0.1)
    with pytest.raises(ValueError, match="^lam: Theorem 3.2.1 assumes a non-zero lambda"):
        aligned.thesis_singular_value_trajectory([1.0], 0.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="^a0: must be positive"):
        aligned.zero_balanced_trajectory([1.0], 1.0, 0.0)
    with pytest.raises(ValueError, match="^lam: the large-lambda limit"):
        aligned.large_lambda_trajectory([1.0], 0.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="^s: singular values must be positive"):
        aligned.has_inflection(1.0, -1.0, 0.1)
    with pytest.raises(ValueError, match="^tau: expected a finite positive number"):
        aligned.mode_rate(0.1, 1.0, 1.0, tau=-1.0)
    with pytest.raises(ValueError, match="^digits: expected an integer"):
        aligned.reference_trajectory([1.0], 1.0, 1.0, 0.1, digits=5)
    with pytest.raises(ValueError, match="^s: singular values must be positive"):
        aligned.reference_trajectory([1.0], 1.0, -1.0, 0.1)
    with pytest.raises(ValueError, match="^t: times must be non-negative"):
        aligned.reference_trajectory([-1.0], 1.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="^lr: expected a finite positive number"):
        aligned.descent_mode_balance(1.0, torch.zeros(3, 2), 1.0, 0.0)
    with pytest.raises(ValueError, match="^a: expected the modes at every step"):
        aligned.descent_mode_balance(1.0, torch.tensor(0.5), 1.0, 0.1)
    with pytest.raises(ValueError, match="^W1, W2, U, V: shapes"):
        aligned.mode_balance(torch.ones(2, 3), torch.ones(2, 2), torch.eye(2), torch.eye(2))
    with pytest.raises(ValueError, match="^a: expected at least 3 samples"):
        aligned.count_inflections(torch.ones(2, 3))
    with pytest.raises(ValueError, match="^tol: expected a finite positive number"):
        aligned.count_inflections(torch.ones(5), tol=0.0)
    with pytest.raises(ValueError, match="^X, Y: expected shapes"):
        aligned.task_modes(torch.ones(2, 5), torch.ones(2, 4))
    with pytest.raises(ValueError, match="^W1, W2, U, V: shapes"):
        aligned.mode_values(torch.ones(2, 3), torch.ones(2, 2), torch.eye(2), torch.eye(2))
