"""Tests for spectral_promises: the regions the factorisations of Appendix B of Drgona et al. (2020) promise for their
spectra, and how far draws fall outside them."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from linear_lens import linear_maps as lm
from linear_lens import spectral_promises as sp
from linear_maps_cases import gen, one_thread  # noqa: F401 (one_thread: an autouse fixture)

F64 = torch.float64
TOL = 1e-10


def lam_pair(lo=-2.0, hi=2.0):
    return st.tuples(st.floats(lo, hi), st.floats(0.0, 1.5)).map(lambda t: (t[0], t[0] + t[1]))


# --------------------------------------------------------------------------------------------------------------
# Known answers
# --------------------------------------------------------------------------------------------------------------


def test_gershgorin_discs_known():
    W = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, 0.0], [1.0, 1.0, -1.0]], dtype=F64)
    c, r = sp.gershgorin_discs(W)
    torch.testing.assert_close(c, torch.tensor([1.0, 3.0, -1.0], dtype=F64), atol=0, rtol=0)
    torch.testing.assert_close(r, torch.tensor([2.5, 0.0, 2.0], dtype=F64), atol=0, rtol=0)


def test_excess_functions_known():
    z = torch.tensor([0.5 + 0j, 2.0 + 0j, 0.0 + 3j, 1.0 + 0j], dtype=torch.complex128)
    torch.testing.assert_close(sp.annulus_excess(z, 1.0, 2.0), torch.tensor([0.5, 0.0, 1.0, 0.0], dtype=F64))
    torch.testing.assert_close(sp.annulus_excess(z, 0.0, 1.0, centre=1.0),
                               torch.tensor([0.0, 0.0, math.sqrt(10) - 1, 0.0], dtype=F64))
    torch.testing.assert_close(sp.interval_excess(z, 0.0, 1.0), torch.tensor([0.0, 1.0, 3.0, 0.0], dtype=F64))
    torch.testing.assert_close(sp.interval_excess(torch.tensor([-1.0, 0.3]), 0.0, 1.0), torch.tensor([1.0, 0.0]))


def test_guaranteed_regions_known():
    assert sp.guaranteed_region("gershgorin_complex", 0.0, 1.0) == sp.Region("annulus", centre=0.5, r_out=0.5)
    assert sp.guaranteed_region("gershgorin_real", 0.99, 1.1) == sp.Region("segment", lo=0.99, hi=1.1)
    assert sp.guaranteed_region("spectral_svd", -1.5, -1.1) == sp.Region("annulus", r_in=1.1, r_out=1.5)
    assert sp.guaranteed_region("spectral_svd", -0.5, 1.0) == sp.Region("annulus", r_in=0.0, r_out=1.0)
    z = torch.tensor([0.5 + 0.6j, 2.0 + 0j], dtype=torch.complex128)
    torch.testing.assert_close(sp.Region("segment", lo=0.0, hi=1.0).excess(z), torch.tensor([0.6, 1.0], dtype=F64))


def test_stability_verdict_known():
    t = lambda *v: torch.tensor(v, dtype=F64)  # noqa: E731
    assert sp.stability_verdict(t(0.2, 0.9)) == "asymptotically stable (ρ < 1)"
    assert sp.stability_verdict(t(1.0, 1.0 + 1e-15)) == "marginal (ρ = 1)"
    assert sp.stability_verdict(t(0.5, 1.0)) == "stable (ρ ≤ 1)"
    assert sp.stability_verdict(t(1.1, 2.0)) == "unstable (ρ > 1)"
    assert sp.stability_verdict(t(0.5, 1.5)) == "mixed (ρ on both sides of 1)"
    rho = torch.linalg.eigvals(lm.perron_frobenius(5, 1.0, 1.0, batch=50, generator=gen(0))).abs().amax(-1)
    assert sp.stability_verdict(rho) == "marginal (ρ = 1)", "row-stochastic weights have rho = 1"


def test_sample_and_clouds_shapes(generator):
    for name in sp.FACTORISATIONS:
        assert sp.sample(name, 5, 0.0, 1.0, draws=3, generator=generator).shape == (3, 5, 5), name
    clouds = sp.eigenvalue_clouds(["gershgorin_real", "spectral_svd"], [(0.0, 1.0), (1.1, 1.5)], 4, 6, generator)
    assert clouds.shape == (2, 2, 6, 4) and clouds.dtype == torch.complex128
    assert float(clouds[0].imag.abs().max()) < 1e-12, "real Gershgorin clouds are real"
    assert float(sp.worst_excess("gershgorin_complex", [2, 5], 0.0, 1.0, draws=20, generator=generator).max()) < 1e-12


# --------------------------------------------------------------------------------------------------------------
# Against independent computations: every draw keeps its promise
# --------------------------------------------------------------------------------------------------------------


def test_perron_frobenius_theorem_by_brute_force(generator):
    """Min row sum <= Perron root <= max row sum for nonnegative matrices, and the root is a real eigenvalue."""
    P = torch.rand(400, 7, 7, generator=generator, dtype=F64) ** 3
    eig = torch.linalg.eigvals(P)
    rho = eig.abs().amax(-1)
    rows = P.sum(-1)
    assert bool((rows.amin(-1) <= rho + TOL).all() and (rho <= rows.amax(-1) + TOL).all()), "row-sum bounds fail"
    assert float((eig.real.amax(-1) - rho).abs().max()) < 1e-10, "the Perron root is a real eigenvalue"


@pytest.mark.parametrize("lam_min, lam_max", [(0.0, 1.0), (0.99, 1.1), (1.1, 1.5), (1.0, 1.0), (-1.5, -1.1)])
def test_perron_frobenius_promise(lam_min, lam_max, generator):
    for n in (2, 5, 16, 64):
        W = lm.perron_frobenius(n, lam_min, lam_max, batch=100, generator=generator)
        ex = sp.promise_excess("perron_frobenius", W, lam_min, lam_max)
        assert float(ex.max()) < 1e-10, f"n={n}, ({lam_min}, {lam_max}): excess {float(ex.max())}"


def test_perron_frobenius_other_eigenvalues_leave_the_interval(generator):
    """Errata E04.1: only the Perron root is in [lam_min, lam_max]; the others are anywhere in |z| <= rho."""
    W = lm.perron_frobenius(8, 0.99, 1.1, batch=100, generator=generator)
    eig = torch.linalg.eigvals(W)
    outside = sp.interval_excess(eig, 0.99, 1.1) > 1e-3
    assert float(outside.double().mean()) > 0.5, "most non-Perron eigenvalues should lie far outside the interval"
    rho = eig.abs().amax(-1, keepdim=True)
    assert float((eig.abs() - rho).max()) <= 1e-12, "all eigenvalues in the disc |z| <= rho"


def test_perron_frobenius_mixed_signs_break_the_promise(generator):
    W = lm.perron_frobenius(4, -1.0, 1.0, batch=500, generator=generator)
    ex = sp.promise_excess("perron_frobenius", W, -1.0, 1.0)
    assert float(ex.max()) > 0.1, f"with lam_min < 0 < lam_max the dominant eigenvalue leaves the interval: {ex.max()}"


def test_gershgorin_theorem_by_brute_force(generator):
    W = torch.randn(300, 6, 6, generator=generator, dtype=F64)
    c, r = sp.gershgorin_discs(W)
    eig = torch.linalg.eigvals(W)
    inside = ((eig.unsqueeze(-1) - c.unsqueeze(-2)).abs() <= r.unsqueeze(-2) + 1e-12).any(-1)
    assert bool(inside.all()), "every eigenvalue lies in the union of the row discs"


@pytest.mark.parametrize("real", [True, False])
def test_gershgorin_row_discs_are_exact(real, generator):
    W = lm.gershgorin(10, 0.99, 1.1, real=real, batch=20, generator=generator)
    c, r = sp.gershgorin_discs(W)
    torch.testing.assert_close(c, torch.full_like(c, 1.045), atol=1e-15, rtol=0)
    torch.testing.assert_close(r, torch.full_like(r, 0.055), atol=1e-14, rtol=0)


def test_gershgorin_column_normalisation_as_printed(generator):
    """Errata E04.6: with s_j a column sum the row discs exceed r, but the eigenvalues stay in the disc."""
    M = torch.rand(300, 8, 8, generator=generator, dtype=F64)
    W = lm.gershgorin_weight(M, 0.0, 1.0, real=False, normalise="column")
    _, radii = sp.gershgorin_discs(W)
    assert float(radii.max()) > 0.6, f"some row disc is wider than r = 0.5: {float(radii.max())}"
    eig = torch.linalg.eigvals(W)
    assert float(sp.annulus_excess(eig, 0.0, 0.5, 0.5).max()) < 1e-12, "eigenvalues still within |z - 0.5| <= 0.5"
    assert float((eig.real.amax(-1) - 1.0).abs().max()) < 1e-12, "lam_max = centre + r is always an eigenvalue"


# --------------------------------------------------------------------------------------------------------------
# Property tests over many seeds and sizes
# --------------------------------------------------------------------------------------------------------------


@given(n=st.integers(2, 64), lams=lam_pair(0.0, 2.0), seed=st.integers(0, 2**31 - 1))
def test_perron_frobenius_property(n, lams, seed):
    W = lm.perron_frobenius(n, *lams, batch=8, generator=gen(seed))
    assert bool((W >= 0).all()), "lam_min >= 0 gives a nonnegative matrix"
    ex = float(sp.promise_excess("perron_frobenius", W, *lams).max())
    assert ex < 1e-9, f"n={n}, lams={lams}: Perron root outside [lam_min, lam_max] by {ex}"


@given(n=st.integers(2, 64), lams=lam_pair(), seed=st.integers(0, 2**31 - 1))
def test_spectral_property(n, lams, seed):
    W = lm.spectral_svd(n, *lams, batch=8, generator=gen(seed))
    ex = float(sp.promise_excess("spectral_svd", W, *lams).max())
    assert ex < 1e-9, f"n={n}, lams={lams}: singular values or |eigenvalues| outside the annulus by {ex}"


@given(n=st.integers(2, 64), lams=lam_pair(), seed=st.integers(0, 2**31 - 1), real=st.booleans())
def test_gershgorin_property(n, lams, seed, real):
    W = lm.gershgorin(n, *lams, real=real, batch=8, generator=gen(seed))
    name = "gershgorin_real" if real else "gershgorin_complex"
    ex = float(sp.promise_excess(name, W, *lams).max())
    assert ex < 1e-9, f"n={n}, lams={lams}, real={real}: eigenvalues outside the promised set by {ex}"
    if real:
        eig = torch.linalg.eigvals(W)
        top = eig.real.amax(-1)
        torch.testing.assert_close(top, torch.full_like(top, lams[1]), atol=1e-9, rtol=0,
                                   msg="nonnegative entries: lam_max itself is an eigenvalue")


@given(n=st.integers(2, 64), lams=lam_pair(-2.0, 0.0), seed=st.integers(0, 2**31 - 1))
def test_perron_frobenius_property_nonpositive_ranges(n, lams, seed):
    lo, hi = lams[0] - 1.5, lams[1] - 1.5  # a range inside [-3.5, 0]
    hi = min(hi, 0.0)
    lo = min(lo, hi)
    W = lm.perron_frobenius(n, lo, hi, batch=8, generator=gen(seed))
    ex = float(sp.promise_excess("perron_frobenius", W, lo, hi).max())
    assert ex < 1e-9, f"n={n}, ({lo}, {hi}): the dominant eigenvalue of -W's mirror left the interval by {ex}"


# --------------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda: sp.promise_excess("spectral_svd", torch.eye(2), 1.0, 0.5),
])
def test_lam_min_above_lam_max_raises(call):
    with pytest.raises(ValueError, match=r"^lam_min: must not exceed lam_max"):
        call()


@pytest.mark.parametrize("call, param", [
    (lambda: sp.gershgorin_discs(torch.zeros(2, 3)), "W"),
    (lambda: sp.promise_excess("gershgorin_real", torch.zeros(3, 2), 0, 1), "W"),
])
def test_non_square_or_mismatched_raises(call, param):
    with pytest.raises(ValueError, match=rf"^{param}:"):
        call()


@pytest.mark.parametrize("call, param", [
    (lambda: sp.promise_excess("hamiltonian", torch.eye(2), 0, 1), "name"),
    (lambda: sp.worst_excess("unstructured", [2], 0, 1), "name"),
    (lambda: sp.worst_excess("spectral_svd", [2], 0, 1, draws=0), "draws"),
    (lambda: sp.sample("hamiltonian", 2, 0, 1), "name"),
    (lambda: sp.stability_verdict(torch.zeros(0)), "rho"),
    (lambda: sp.stability_verdict(torch.ones(2), tol=-1.0), "tol"),
    (lambda: sp.sample("spectral_svd", 2, 0, 1, draws=0), "draws"),
    (lambda: sp.guaranteed_region("skew", 0, 1), "name"),
    (lambda: sp.guaranteed_region("gershgorin_real", 1, 0), "lam_min"),
    (lambda: sp.annulus_excess(torch.zeros(2), 2.0, 1.0), "r_in"),
    (lambda: sp.interval_excess(torch.zeros(2), 2.0, 1.0), "lo"),
])
def test_bad_arguments_raise(call, param):
    with pytest.raises(ValueError, match=rf"^{param}:"):
        call()
