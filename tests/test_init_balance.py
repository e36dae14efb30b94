"""Tests of linear_lens.init_balance: how balanced the standard random initialisations are (Anguita, Section 3.1)."""

import math
import os

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from linear_lens import init_balance
from linear_lens.balanced import balance
from linear_lens.init_balance import (
    balance_moments,
    balance_statistics,
    init_variances,
    random_init,
)

F64 = torch.float64


# ----------------------------------------------------------------------------------------------------------------
# Random initialisations: Theorem 3.1.1 and Tables 3.1-3.2 (corrected) against Monte Carlo
# ----------------------------------------------------------------------------------------------------------------

ALPHA = (0.7, 1.3)


def _alpha(scheme):
    return ALPHA if scheme == "scaled" else None


def test_balance_moments_known_answer_fig_3_1_widths():
    mean, var_diag, var_off = balance_moments("lecun", 40, 200, 80)
    assert math.isclose(mean, 80 / 200 - 1, rel_tol=1e-14), f"LeCun mean {mean}"
    assert math.isclose(var_off, 80 / 200**2 + 1 / 40, rel_tol=1e-14), f"LeCun off-diagonal variance {var_off}"
    assert math.isclose(var_diag, 2 * var_off, rel_tol=1e-14), f"LeCun diagonal variance {var_diag}"


@pytest.mark.parametrize("scheme", init_balance.SCHEMES)
@given(n=st.integers(1, 60), n_hidden=st.integers(1, 300), n_out=st.integers(1, 300))
def test_balance_moments_match_table_3_2(scheme, n, n_hidden, n_out):
    """Table 3.2 with k = N_h / N_i, r = N_o / N_i; corrected: scaled variance in alpha^4, diagonal factor 2."""
    a1, a2 = ALPHA
    k, r = n_hidden / n, n_out / n
    table = {
        "lecun": (r / k - 1, (r / k**2 + 1) / n),
        "glorot": (2 * (r / (k + r) - 1 / (k + 1)), 4 / n * (r / (r + k) ** 2 + 1 / (k + 1) ** 2)),
        "he": (2 * (r / k - 1), 4 / n * (r / k**2 + 1)),
        "scaled": (r / k * a2**2 - a1**2, (r * a2**4 / k**2 + a1**4) / n),
    }[scheme]
    mean, var_diag, var_off = balance_moments(scheme, n, n_hidden, n_out, _alpha(scheme))
    assert math.isclose(mean, table[0], rel_tol=1e-12, abs_tol=1e-12), f"{scheme} mean {mean} vs {table[0]}"
    assert math.isclose(var_off, table[1], rel_tol=1e-12), f"{scheme} off-diagonal variance {var_off} vs {table[1]}"
    assert math.isclose(var_diag, 2 * table[1], rel_tol=1e-12), f"{scheme} diagonal variance {var_diag}"


def _z(estimate, se, theory):
    return abs(estimate - theory) / se


@pytest.mark.parametrize("scheme", init_balance.SCHEMES)
def test_balance_moments_agree_with_monte_carlo(scheme):
    """Mean, diagonal and off-diagonal variances within 4.5 standard errors of 4000 seeded draws."""
    dims = (5, 7, 4)
    W1, W2 = random_init(scheme, *dims, trials=4000, alpha=_alpha(scheme), generator=torch.Generator().manual_seed(9))
    stats = balance_statistics(balance(W1, W2))
    mean, var_diag, var_off = balance_moments(scheme, *dims, alpha=_alpha(scheme))
    for name, est, se, theory in [
        ("mean", stats.mean, stats.mean_se, mean),
        ("var_diag", stats.var_diag, stats.var_diag_se, var_diag),
        ("var_offdiag", stats.var_offdiag, stats.var_offdiag_se, var_off),
        ("offdiag_mean", stats.offdiag_mean, stats.offdiag_mean_se, 0.0),
    ]:
        assert _z(est, se, theory) < 4.5, f"{scheme} {name}: MC {est:.5g} +- {se:.2g} vs theory {theory:.5g}"
    # the thesis's matrix B (fours on the diagonal) is rejected by the same data
    thesis = 4 * var_off
    assert _z(stats.var_diag, stats.var_diag_se, thesis) > 10, f"{scheme}: MC cannot tell 2v from 4v"


@given(
    scheme=st.sampled_from(init_balance.SCHEMES),
    dims=st.tuples(st.integers(1, 6), st.integers(2, 6), st.integers(1, 6)),
    seed=st.integers(0, 2**31 - 1),
)
def test_balance_moments_monte_carlo_property(scheme, dims, seed):
    gen = torch.Generator().manual_seed(seed)
    W1, W2 = random_init(scheme, *dims, trials=1500, alpha=_alpha(scheme), generator=gen)
    stats = balance_statistics(balance(W1, W2))
    mean, var_diag, var_off = balance_moments(scheme, *dims, alpha=_alpha(scheme))
    assert _z(stats.mean, stats.mean_se, mean) < 5, f"{scheme} {dims} mean {stats.mean} vs {mean}"
    assert _z(stats.var_diag, stats.var_diag_se, var_diag) < 5, f"{scheme} {dims} var_diag {stats.var_diag}"
    assert _z(stats.var_offdiag, stats.var_offdiag_se, var_off) < 5, f"{scheme} {dims} var_off {stats.var_offdiag}"


def test_init_variances_known_answers():
    assert init_variances("lecun", 4, 5, 6) == (1 / 4, 1 / 5)
    assert init_variances("he", 4, 5, 6) == (2 / 4, 2 / 5)
    assert init_variances("glorot", 4, 5, 6) == (2 / 9, 2 / 11)
    v1, v2 = init_variances("scaled", 4, 5, 6, alpha=(2.0, 3.0))
    assert math.isclose(v1, 4 / 4) and math.isclose(v2, 9 / 5), "scaled: alpha^2 / fan-in"


def test_random_init_shapes_and_variances():
    W1, W2 = random_init("he", 30, 40, 50, trials=3, generator=torch.Generator().manual_seed(1))
    assert W1.shape == (3, 40, 30) and W2.shape == (3, 50, 40), f"{tuple(W1.shape)}, {tuple(W2.shape)}"
    # sample variances of 3600 and 6000 entries: relative standard error about sqrt(2/N) < 0.025
    assert abs(float(W1.var()) / (2 / 30) - 1) < 0.1 and abs(float(W2.var()) / (2 / 40) - 1) < 0.1


def test_balance_statistics_known_answer():
    B = torch.stack([torch.tensor([[1.0, 2.0], [2.0, 3.0]]), torch.tensor([[3.0, -2.0], [-2.0, 1.0]])]).to(F64)
    stats = balance_statistics(B)
    assert math.isclose(stats.mean, 2.0) and math.isclose(stats.mean_se, 0.0, abs_tol=1e-15)
    assert math.isclose(stats.var_diag, 4 / 3), f"pooled diagonal variance {stats.var_diag}"
    assert math.isclose(stats.var_offdiag, 4.0) and math.isclose(stats.offdiag_mean, 0.0)
    assert math.isclose(stats.offdiag_mean_se, 2.0 * math.sqrt(2) / math.sqrt(2)), f"{stats.offdiag_mean_se}"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: init_variances("xavier", 2, 2, 2), "^scheme: expected one of lecun, glorot, he, scaled"),
        (lambda: init_variances("scaled", 2, 2, 2), r"^alpha: the 'scaled' scheme needs alpha"),
        (lambda: init_variances("scaled", 2, 2, 2, alpha=(1.0,)), r"^alpha: the 'scaled' scheme needs alpha"),
        (lambda: init_variances("scaled", 2, 2, 2, alpha=(1.0, -1.0)), "^alpha: expected a finite positive"),
        (lambda: init_variances("lecun", 2, 2, 2, alpha=(1.0, 1.0)), "^alpha: only the 'scaled' scheme"),
        (lambda: init_variances("he", 0, 2, 2), "^n_in: expected a positive integer"),
        (lambda: balance_moments("he", 2, 0, 2), "^n_hidden: expected a positive integer"),
        (lambda: balance_moments("he", 2, 2, 1.5), "^n_out: expected a positive integer"),
        (lambda: random_init("he", 2, 2, 2, trials=0), "^trials: expected a positive integer"),
        (lambda: balance_statistics(torch.zeros(1, 3, 3)), r"^B: expected shape \(trials, N_h, N_h\)"),
        (lambda: balance_statistics(torch.zeros(4, 3, 2)), r"^B: expected shape \(trials, N_h, N_h\)"),
    ],
)
def test_random_init_functions_reject_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------------------------------------------
# Growing widths: B stays away from lambda I (errata E09.10); bad input
# ----------------------------------------------------------------------------------------------------------------


def test_deviation_sweep_rank_and_norm_bounds():
    sweep = init_balance.deviation_sweep("lecun", (1, 5, 2), [2, 4], 3, generator=torch.Generator().manual_seed(2),
                                         progress_bar=False)
    assert torch.equal(sweep["n_hidden"], torch.tensor([10.0, 20.0], dtype=F64))
    # B has rank <= N_i + N_o, so at least (N_h - N_i - N_o) / N_h = 2/5 of its eigenvalues vanish
    assert bool((sweep["zero_fraction"] >= 0.4 - 1e-12).all()), f"zero fractions {sweep['zero_fraction']}"
    v = torch.tensor([balance_moments("lecun", 2 * s, 10 * s, 4 * s)[2] for s in (1, 2)], dtype=F64)
    torch.testing.assert_close(sweep["entry_sd_theory"], v.sqrt(), atol=0, rtol=1e-14)
    assert bool((sweep["spectral"] >= sweep["lam"].abs()).all()), "||B - lam I||_2 >= |lam| when B is singular"


def test_monte_carlo_balance_and_sweep_reject_bad_input():
    with pytest.raises(ValueError, match="^trials: need at least 2 draws"):
        init_balance.monte_carlo_balance("he", [(2, 3, 4)], 1)
    with pytest.raises(ValueError, match="^widths: the hidden width must be at least 2"):
        init_balance.monte_carlo_balance("he", [(2, 1, 4)], 5)
    with pytest.raises(ValueError, match="^widths: expected a triple"):
        init_balance.monte_carlo_balance("he", [(2, 3)], 5)
    with pytest.raises(ValueError, match="^scales: expected a non-empty list"):
        init_balance.deviation_sweep("he", (1, 2, 3), [], 2)
    with pytest.raises(ValueError, match="^scales: expected a positive integer"):
        init_balance.deviation_sweep("he", (1, 2, 3), [0], 2)


# ----------------------------------------------------------------------------------------------------------------
# Device-agnostic: on LINEAR_LENS_TEST_DEVICE (default cpu) results stay on the device; seeds and dtypes
# ----------------------------------------------------------------------------------------------------------------

DEVICE = torch.device(os.environ.get("LINEAR_LENS_TEST_DEVICE", "cpu"))
needs_device = pytest.mark.skipif(
    DEVICE.type == "cuda" and not torch.cuda.is_available(), reason="LINEAR_LENS_TEST_DEVICE=cuda but no CUDA device"
)


@needs_device
def test_random_init_and_deviation_sweep_on_device():
    V1, V2 = random_init("glorot", 3, 4, 5, trials=7, generator=torch.Generator(device=DEVICE).manual_seed(0))
    assert V1.device.type == DEVICE.type and V1.shape == (7, 4, 3) and V2.shape == (7, 5, 4)
    stats = balance_statistics(balance(V1, V2))
    assert math.isfinite(stats.var_diag) and stats.trials == 7
    gen = torch.Generator(device=DEVICE).manual_seed(0)
    sweep = init_balance.deviation_sweep("he", (1, 2, 1), [2, 3], 3, generator=gen, progress_bar=False)
    assert bool(torch.isfinite(sweep["spectral"]).all())


def test_seeds_and_dtypes():
    R1, R2 = random_init("he", 3, 4, 5, 2, generator=3, dtype=torch.float32)
    assert R1.dtype == torch.float32 and R1.shape == (2, 4, 3)
    stats = init_balance.monte_carlo_balance("he", [(3, 4, 5)], 5, generator=0, progress_bar=False)
    assert stats[0].trials == 5
