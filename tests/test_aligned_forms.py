"""Tests of linear_lens.aligned_forms: Theorem 3.2.1 as printed, and the high-precision reference (Anguita, 2024)."""

import math

import numpy as np
import pytest
import torch

from linear_lens import aligned, aligned_forms as af
from test_aligned import _scalar_ode

F64 = torch.float64


def test_thesis_formula_as_printed_fails_and_corrected_holds():
    t = np.linspace(0, 2, 9)
    for lam in (-3.0, -0.5, 0.5, 3.0):
        ref = _scalar_ode(lam, 2.0, 0.3, t)
        printed = af.thesis_singular_value_trajectory(t, lam, 2.0, 0.3)
        corrected = af.thesis_singular_value_trajectory(t, lam, 2.0, 0.3, fix_c0=True, fix_sign=True)
        c0_only = af.thesis_singular_value_trajectory(t, lam, 2.0, 0.3, fix_c0=True)
        assert not bool(torch.isfinite(printed).all()) or float((printed - ref).abs().max()) > 0.1, (
            f"the printed formula unexpectedly holds at lam={lam}")
        torch.testing.assert_close(corrected, ref, rtol=1e-9, atol=1e-12)
        # With C_0 fixed but e^{+Kt}: right for lambda > 0 (sgn = 1), wrong for lambda < 0.
        if lam > 0:
            torch.testing.assert_close(c0_only, ref, rtol=1e-9, atol=1e-12)
        else:
            assert float((c0_only - ref).abs().max()) > 0.1, f"the unsigned exponent unexpectedly holds at lam={lam}"
    big = af.thesis_singular_value_trajectory([1e3], 3.0, 2.0, 0.3, fix_c0=True, fix_sign=True)
    assert not bool(torch.isfinite(big).all()), "the thesis's form should overflow at K t = 7e3"


def test_reference_is_right_for_tiny_modes():
    """The reference of the review's case: true value e^2 1e-200 = 7.389e-200 at t = 1."""
    ref = af.reference_trajectory([0.0, 1.0], 0.0, 1.0, 1e-200)
    torch.testing.assert_close(ref, torch.tensor([1e-200, math.exp(2.0) * 1e-200], dtype=F64), rtol=1e-15, atol=0)


def _zero_lambda_exact(t, s, a0):
    """Eq. (2.28) in 50-digit arithmetic: a = s a0 / (a0 + (s - a0) e^{-2st})."""
    import mpmath

    with mpmath.workdps(50):
        s_, a_ = mpmath.mpf(s), mpmath.mpf(a0)
        return float(s_ * a_ / (a_ + (s_ - a_) * mpmath.exp(-2 * s_ * mpmath.mpf(t))))


@pytest.mark.parametrize("a0", [1e-300, 1e-100, 0.3, 2.5, 40.0])
def test_reference_at_zero_lambda_matches_saxe_in_high_precision(a0):
    t = [0.0, 0.3, 2.0, 50.0]
    expected = torch.tensor([_zero_lambda_exact(x, 1.5, a0) for x in t], dtype=F64)
    torch.testing.assert_close(af.reference_trajectory(t, 0.0, 1.5, a0), expected, rtol=1e-15, atol=0)
    torch.testing.assert_close(aligned.singular_value_trajectory(t, 0.0, 1.5, a0), expected, rtol=1e-14, atol=0)
    torch.testing.assert_close(aligned.zero_balanced_trajectory(t, 1.5, a0), expected, rtol=1e-14, atol=0)


def test_printed_formula_is_exact_on_its_curve_and_only_there():
    lam = torch.tensor([0.01, 0.1, 0.25, 1 / 3], dtype=F64)
    a0 = af.printed_c0_curve(lam)
    t = np.linspace(0, 2, 5)
    for sign in (1.0, -1.0):
        exact = aligned.singular_value_trajectory(t, lam, 1.7, sign * a0)
        printed = af.thesis_singular_value_trajectory(t, lam, 1.7, sign * a0)
        assert float((printed - exact).abs().max()) < 1e-11
    off = af.thesis_singular_value_trajectory(t, lam[:3], 1.7, a0[:3] + 0.05)
    assert float((off - aligned.singular_value_trajectory(t, lam[:3], 1.7, a0[:3] + 0.05)).abs().amax(0).min()) > 1e-3
    assert bool(torch.isnan(af.printed_c0_curve(torch.tensor([-0.5, 0.0, 0.4, 2.0]))).all())
    zero = af.thesis_singular_value_trajectory(t, torch.tensor([0.5, 3.0]), 1.0, 0.0)
    assert float((zero - aligned.singular_value_trajectory(t, torch.tensor([0.5, 3.0]), 1.0, 0.0)).abs().max()) < 1e-12
