"""Tests of linear_lens.aligned: the closed-form dynamics of aligned lambda-balanced networks (Anguita, 2024, Sec. 3.2)."""

import math
import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from linear_lens import aligned, aligned_forms as af, balanced, gradient_flow as gf, modes, tasks

F64 = torch.float64
LAMS = [-10.0, -3.0, -0.5, 0.0, 0.5, 3.0, 10.0]

lams = st.one_of(st.just(0.0), st.floats(-10, 10, allow_nan=False), st.sampled_from([1e-12, -1e-12, 1e-6]))
svals = st.floats(0.1, 5.0)
inits = st.floats(1e-3, 5.0)


def _scalar_network(lam, s, a0):
    """A 1x1x1 aligned lambda-balanced network on a task with singular value s (weights from balanced.py)."""
    X, Y = tasks.regression_task_with_spectrum([s], 1, 1, 4, generator=torch.Generator().manual_seed(0))
    S2, S1 = balanced.balanced_singular_values(torch.tensor([a0], dtype=F64), lam, 1, 1, 1)
    U, _, V = modes.task_modes(X, Y)
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
    a_flow, _ = modes.mode_values(traj.W1, traj.W2, U, V)
    a_closed = aligned.singular_value_trajectory(t, lam, s, a0)
    torch.testing.assert_close(a_closed, a_flow[:, 0], rtol=1e-8, atol=0,
                               msg=f"closed form differs from the integrated flow at lam={lam}, s={s}, a0={a0}")


@pytest.mark.parametrize("lam", LAMS)
def test_closed_form_matches_a_wide_aligned_network(lam, generator):
    """Several modes at once, with weights from Algorithm 2 (balanced.aligned_lambda_balanced_init)."""
    X, Y = tasks.regression_task_with_spectrum([3.0, 2.0, 1.0, 0.5], 4, 4, 30, generator=generator)
    W1, W2 = balanced.aligned_lambda_balanced_init(lam, X, Y, 4, sigma=0.4, generator=generator)
    U, s, V = modes.task_modes(X, Y)
    a0, misaligned = modes.mode_values(W1, W2, U, V)
    assert float(misaligned) < 1e-12, "Algorithm 2 must give aligned weights"
    t = np.linspace(0, 3, 7)
    traj = gf.integrate(W1, W2, X, Y, t)
    a_flow, drift = modes.mode_values(traj.W1, traj.W2, U, V)
    assert float(drift.max()) < 1e-9, "aligned weights must stay aligned"
    torch.testing.assert_close(aligned.singular_value_trajectory(t, lam, s, a0), a_flow, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("lam,s,a0", [(-3.0, 2.0, 0.05), (0.0, 1.0, 0.01), (10.0, 0.5, 0.2), (1e-12, 3.0, 0.3)])
def test_closed_form_is_exact_to_roundoff(lam, s, a0):
    """Against a 30-digit Taylor-series integration (mpmath) the closed form is correct to a few ulps."""
    t = [0.25, 1.0, 3.0]
    torch.testing.assert_close(aligned.singular_value_trajectory(t, lam, s, a0), af.reference_trajectory(t, lam, s, a0),
                               rtol=4e-15, atol=0)


@pytest.mark.parametrize("lam,a0", [(1000.0, 0.3), (-1000.0, -0.2), (300.0, 2.0)])
def test_closed_form_keeps_full_precision_at_large_lambda(lam, a0):
    """At |lambda| >> s the rate K - |lambda| is tiny; the closed form must not lose it to cancellation."""
    t = np.array([0.5, 1.0, 3.0]) / abs(lam)
    torch.testing.assert_close(aligned.singular_value_trajectory(t, lam, 0.5, a0),
                               af.reference_trajectory(t, lam, 0.5, a0), rtol=4e-15, atol=0)


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
    U, s, V = modes.task_modes(X, Y)
    a0, _ = modes.mode_values(W1, W2, U, V)
    errors = []
    for lr in (0.02, 0.01, 0.005):
        traj = gf.train(W1, W2, X, Y, lr=lr, steps=round(3 / lr), record_every=10)
        a_gd, _ = modes.mode_values(traj.W1, traj.W2, U, V)
        errors.append(float((a_gd - aligned.singular_value_trajectory(traj.t, -1.0, s, a0)).abs().max()))
    assert errors[-1] < 5e-3, f"gradient descent at lr=0.005 is {errors[-1]:.2e} from the closed form"
    assert 1.8 < errors[0] / errors[1] < 2.2 and 1.8 < errors[1] / errors[2] < 2.2, f"not first order: {errors}"


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
        af.thesis_singular_value_trajectory([1.0], 0.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="^a0: must be positive"):
        aligned.zero_balanced_trajectory([1.0], 1.0, 0.0)
    with pytest.raises(ValueError, match="^lam: the large-lambda limit"):
        aligned.large_lambda_trajectory([1.0], 0.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="^s: singular values must be positive"):
        aligned.has_inflection(1.0, -1.0, 0.1)
    with pytest.raises(ValueError, match="^tau: expected a finite positive number"):
        aligned.mode_rate(0.1, 1.0, 1.0, tau=-1.0)
    with pytest.raises(ValueError, match="^digits: expected an integer"):
        af.reference_trajectory([1.0], 1.0, 1.0, 0.1, digits=5)
    with pytest.raises(ValueError, match="^s: singular values must be positive"):
        af.reference_trajectory([1.0], 1.0, -1.0, 0.1)
    with pytest.raises(ValueError, match="^t: times must be non-negative"):
        af.reference_trajectory([-1.0], 1.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="^a: expected at least 3 samples"):
        aligned.count_inflections(torch.ones(2, 3))
    with pytest.raises(ValueError, match="^tol: expected a finite positive number"):
        aligned.count_inflections(torch.ones(5), tol=0.0)


# --- reliability: the cases of the review, the promised ranges, and an independent high-precision reference -------


def test_negative_mode_with_tiny_lambda_keeps_its_value():
    """r0 + 2 a0 cancels for negative a0 and small |lambda|; the closed form must still start at a0 (issue 8)."""
    assert float(aligned.singular_value_trajectory(0.0, 1e-8, 3.0, -1.0)) == pytest.approx(-1.0, rel=1e-15)
    for lam in (1e-8, 1e-30, 1e-100, -1e-150):
        a = aligned.singular_value_trajectory([0.0, 0.1], lam, 3.0, -1.0)
        assert float(a[0]) == pytest.approx(-1.0, rel=1e-15), lam
        assert -1.0 < float(a[1]) < 0.0, f"the mode must rise towards 0 from below at lam={lam}"


def test_zero_lambda_with_a_tiny_mode_is_finite_and_right():
    a = aligned.singular_value_trajectory([0.0, 1.0, 1e8], 0.0, 1.0, 1e-200)
    expected = [1e-200, 1e-200 * math.exp(2.0) / (1 + 1e-200 * (math.exp(2.0) - 1)), 1.0]
    torch.testing.assert_close(a, torch.tensor(expected, dtype=F64), rtol=1e-14, atol=0)


_mag = st.floats(-300, 3).map(lambda e: 10.0**e)


@settings(max_examples=30, deadline=None)
@given(lam=st.one_of(st.just(0.0), st.tuples(st.sampled_from([-1.0, 1.0]), _mag).map(lambda p: p[0] * p[1])),
       s=st.floats(-1.3, 1.3).map(lambda e: 10.0**e),
       a0=st.tuples(st.sampled_from([-1.0, 1.0]), st.floats(-300, 1.5).map(lambda e: 10.0**e)).map(lambda p: p[0] * p[1]),
       t=st.sampled_from([0.0, 1e-3, 0.3, 2.0, 40.0, 1e8]))
def test_closed_form_against_the_reference_over_the_promised_ranges(lam, s, a0, t):
    """Relative accuracy over |lambda| <= 1e3 (and 0), |a0| down to 1e-300, t up to 1e8; near a zero crossing the
    error is measured against |lambda| instead."""
    if lam == 0 and a0 <= 0:
        a0 = -a0
    ref = float(af.reference_trajectory([t], lam, s, a0)[0])
    got = float(aligned.singular_value_trajectory(t, lam, s, a0))
    scale = abs(ref) + (abs(lam) if a0 < 0 else 0.0)
    assert abs(got - ref) <= 1e-13 * scale, f"lam={lam}, s={s}, a0={a0}, t={t}: {got} vs {ref}"


@pytest.mark.parametrize("lam", [-1e-156, -1e-200, -1e-300, 1e-200])
@pytest.mark.parametrize("frac", [-0.45, -0.1, 3.0])
def test_tiny_lambda_with_a_mode_of_its_size_keeps_full_precision(lam, frac):
    """Found by hypothesis: for |lambda| below about 1e-154 and a negative mode of its size, the product
    Delta (Delta + 2L) underflowed (a came out 0 at lambda = -1e-200, wrong by 2e-12 at -1e-156), and below 1e-250
    E / L went through a logarithm and lost 1e-13. Both are now a few ulps."""
    a0 = abs(lam) * frac
    t = [0.0, 0.3, 40.0]
    got = aligned.singular_value_trajectory(t, lam, 1.0, a0)
    ref = af.reference_trajectory(t, lam, 1.0, a0)
    scale = ref.abs() + (abs(lam) if a0 < 0 else 0.0)
    assert bool(((got - ref).abs() <= 4e-15 * scale).all()), (got, ref)


@pytest.mark.parametrize("lam", [0.0, 1e-3, -1.0, 1e3, -1e3])
@pytest.mark.parametrize("t", [0.0, 1e8])
def test_promises_at_their_ends(lam, t):
    """Finite, and right, at t = 1e8, |lambda| = 1e3 and lambda = 0 (the docstring's promise)."""
    for a0 in (1e-300, 0.2, 3.0, -2.0) if lam != 0 else (1e-300, 0.2, 3.0):
        got = aligned.singular_value_trajectory(t, lam, 0.7, a0)
        ref = af.reference_trajectory([t], lam, 0.7, a0)[0]
        assert bool(torch.isfinite(got)) and abs(float(got - ref)) <= 1e-13 * (abs(float(ref)) + abs(lam)), (a0, got, ref)


def test_huge_and_tiny_scales_are_rescaled_exactly():
    """The mode equation is homogeneous: a(t; c lam, c s, c a0) = c a(c t; lam, s, a0), also for c = 1e200, 1e-250."""
    t = torch.tensor([0.0, 0.2, 1.5], dtype=F64)
    base = aligned.singular_value_trajectory(t, 0.7, 1.3, -0.4)
    for c in (1e200, 1e-250):
        scaled = aligned.singular_value_trajectory(t / c, 0.7 * c, 1.3 * c, -0.4 * c)
        torch.testing.assert_close(scaled / c, base, rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError, match="^s: a singular value more than 1e290 times smaller"):
        aligned.singular_value_trajectory(1.0, 0.0, 1e-300, 1e150)


def test_dtype_policy():
    """Integers and float32 are computed in float64; complex is refused."""
    ints = aligned.singular_value_trajectory(torch.tensor([0, 1]), torch.tensor(2), torch.tensor(3), torch.tensor(1))
    floats = aligned.singular_value_trajectory([0.0, 1.0], 2.0, 3.0, 1.0)
    assert ints.dtype == F64 and torch.equal(ints, floats)
    f32 = aligned.singular_value_trajectory(torch.tensor([0.5], dtype=torch.float32), 1.0, 2.0, 0.1)
    assert f32.dtype == F64
    with pytest.raises(ValueError, match="^a0: expected real numbers, got complex"):
        aligned.singular_value_trajectory(1.0, 1.0, 1.0, torch.tensor([0.1 + 0j]))


# --- the closed form applied to networks: preconditions and hidden units -------------------------------------------


def _aligned_net(lam, n_in, n_out, n_hidden, seed=3, sigma=0.4):
    gen = torch.Generator().manual_seed(seed)
    svals = [3.0, 2.0, 1.0, 0.5, 0.25][: min(n_in, n_out)]
    X, Y = tasks.regression_task_with_spectrum(svals, n_in, n_out, 30, generator=gen)
    W1, W2 = balanced.aligned_lambda_balanced_init(lam, X, Y, n_hidden, sigma=sigma, generator=gen)
    return W1, W2, X, Y


@pytest.mark.parametrize("lam, dims", [(0.5, (4, 4, 4)), (3.0, (3, 5, 4)), (-3.0, (5, 3, 4)), (1.0, (4, 4, 2)),
                                       (0.0, (4, 4, 6)), (-1.0, (5, 4, 1)), (0.0, (3, 5, 2))])
def test_network_trajectory_matches_the_flow(lam, dims):
    n_in, n_out, n_hidden = dims
    W1, W2, X, Y = _aligned_net(lam, n_in, n_out, n_hidden)
    U, s, V = modes.task_modes(X, Y)
    t = np.linspace(0, 3, 7)
    flow = gf.integrate(W1, W2, X, Y, t)
    a_flow, _ = modes.mode_values(flow.W1, flow.W2, U, V)
    a = aligned.network_trajectory(t, W1, W2, X, Y)
    torch.testing.assert_close(a, a_flow, rtol=1e-8, atol=1e-12)
    if n_hidden < min(n_in, n_out):
        assert float(a_flow[:, n_hidden:].abs().max()) < 1e-12, "modes without a hidden unit must stay at zero"
        blind = aligned.singular_value_trajectory(t, lam if lam != 0 else 1.0, s, a_flow[0])
        assert float((blind[-1, n_hidden:] - a_flow[-1, n_hidden:]).abs().max()) > 0.1, "the blind form learns them"


def test_network_trajectory_zero_lambda_with_opposite_signs():
    """At lambda = 0 a mode with c = -d has a = -c^2 < 0 and decays to 0 without crossing; the flow agrees."""
    W1, W2, X, Y = _aligned_net(0.0, 3, 3, 3)
    U, _, V = modes.task_modes(X, Y)
    flip = torch.diag(torch.tensor([1.0, -1.0, 1.0], dtype=F64))
    U_full, _, V_full = modes.task_modes(X, Y, full=True)
    W1n = W1 @ V_full @ flip @ V_full.T                     # c_2 -> -c_2: factored form and zero balance kept
    t = np.linspace(0, 2, 5)
    flow = gf.integrate(W1n, W2, X, Y, t)
    a_flow, _ = modes.mode_values(flow.W1, flow.W2, U, V)
    assert float(a_flow[0, 1]) < 0
    torch.testing.assert_close(aligned.network_trajectory(t, W1n, W2, X, Y), a_flow, rtol=1e-8, atol=1e-12)


def test_network_trajectory_refuses_what_the_closed_form_does_not_cover():
    W1, W2, X, Y = _aligned_net(1.0, 4, 4, 4)
    G = torch.eye(4, dtype=F64) + 0.3 * torch.ones(4, 4, dtype=F64).triu(1)
    with pytest.raises(ValueError, match="^W1, W2: the closed form needs weights aligned with the task in factored form"):
        aligned.network_trajectory([1.0], G @ W1, W2 @ torch.linalg.inv(G), X, Y)
    with pytest.raises(ValueError, match="^W1, W2: the closed form needs lambda-balanced weights"):
        aligned.network_trajectory([1.0], W1, 2 * W2, X, Y)
    with pytest.raises(ValueError, match="^X: the closed form needs whitened inputs"):
        aligned.network_trajectory([1.0], W1, W2, 2 * X, Y)


# --- printed formula: where it is exact -----------------------------------------------------------------------------


# --- learning time and curvature ----------------------------------------------------------------------------------


@pytest.mark.parametrize("lam, s, a0, target", [(0.0, 1.0, 1e-3, 0.5), (2.0, 1.5, -0.3, 1.0), (-30.0, 0.5, 0.1, 0.45),
                                                (0.7, 1.0, 3.0, 1.5), (1e3, 2.0, 1e-200, 1.9)])
def test_learning_time_inverts_the_closed_form(lam, s, a0, target):
    t = aligned.learning_time(lam, s, a0, target)
    assert float(aligned.singular_value_trajectory(t, lam, s, a0)) == pytest.approx(target, rel=1e-11)


def test_learning_time_at_zero_lambda_is_eq_2_27():
    s, a0, af = 2.0, 0.01, 1.3
    assert float(aligned.learning_time(0.0, s, a0, af)) == pytest.approx(math.log(af * (s - a0) / (a0 * (s - af))) / (2 * s),
                                                                        rel=1e-13)


@pytest.mark.parametrize("lam", [0.0, -0.5, 3.0, 100.0])
def test_mode_curvature_is_the_hessian_eigenvalue_at_the_balanced_minimum(lam):
    s = 1.3
    r = math.sqrt(lam**2 + 4 * s**2)
    cd = torch.tensor([math.sqrt((r - lam) / 2), math.sqrt((r + lam) / 2)], dtype=F64)
    H = torch.autograd.functional.hessian(lambda v: 0.5 * (s - v[0] * v[1]) ** 2, cd)
    assert float(torch.linalg.eigvalsh(H)[-1]) == pytest.approx(float(aligned.mode_curvature(lam, s)), rel=1e-12)


DEVICE = torch.device(os.environ.get("LINEAR_LENS_TEST_DEVICE", "cpu"))


@pytest.mark.skipif(DEVICE.type == "cuda" and not torch.cuda.is_available(), reason="no CUDA device")
def test_on_device_matches_cpu():
    """Results stay on the device of the inputs and agree with the CPU (LINEAR_LENS_TEST_DEVICE, default cpu)."""
    lam = torch.tensor([-2.0, 0.0, 0.5, 30.0], dtype=F64)
    a0 = torch.tensor([-0.3, 0.01, 0.2, 1e-100], dtype=F64)
    t = torch.linspace(0, 3, 7, dtype=F64)
    cpu = aligned.singular_value_trajectory(t, lam, 1.5, a0)
    dev = aligned.singular_value_trajectory(t.to(DEVICE), lam.to(DEVICE), 1.5, a0.to(DEVICE))
    assert dev.device.type == DEVICE.type
    torch.testing.assert_close(dev.cpu(), cpu, rtol=1e-13, atol=0)
    W1, W2, X, Y = _aligned_net(1.0, 4, 4, 2)
    a_dev = aligned.network_trajectory(t.to(DEVICE), W1.to(DEVICE), W2.to(DEVICE), X.to(DEVICE), Y.to(DEVICE))
    assert a_dev.device.type == DEVICE.type
    torch.testing.assert_close(a_dev.cpu(), aligned.network_trajectory(t, W1, W2, X, Y), rtol=1e-12, atol=1e-14)
