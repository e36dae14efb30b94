"""Debiased comparisons of estimated covariances with predictions, the participation ratio, and power-law fits."""

import math

import numpy as np
import pytest
import torch

from linear_lens import covariance_comparison as cc


def test_compare_is_unbiased_on_synthetic_groups():
    """Groups = C + independent noise: the debiased error of P = C is ~0 and of P = 1.1 C is ~0.1, within 4 errors,
    although the noise is larger than both."""
    gen = torch.Generator().manual_seed(0)
    n, B = 40, 24
    X = torch.randn(n, n, generator=gen, dtype=torch.float64)
    C = X @ X.T / n + torch.eye(n, dtype=torch.float64)
    noise = torch.randn(B, n, n, generator=gen, dtype=torch.float64) * 0.4
    groups = C + (noise + noise.mT) / 2
    exact = cc.compare(groups, C)
    assert abs(exact["rel_error"].value) < 4 * exact["rel_error"].error + 0.02
    assert exact["noise"].value > 0.1, "the test needs noise larger than the effect"
    scaled = cc.compare(groups, 1.1 * C)
    assert abs(scaled["rel_error"].value - 0.1) < 4 * scaled["rel_error"].error
    assert abs(exact["corr_offdiag"].value - 1) < 4 * exact["corr_offdiag"].error + 0.01
    pr = float(cc.participation_ratio(C))
    assert abs(exact["pr"].value - pr) < 4 * exact["pr"].error + 0.01 * pr
    assert "rel_error" not in cc.compare(groups)


def test_fit_power_law():
    n = np.array([100.0, 200, 400, 800])
    slope, amp = cc.fit_power_law(n, 3 * n**-0.5, 0.01 * 3 * n**-0.5)
    assert slope.value == pytest.approx(-0.5, abs=1e-12) and math.exp(amp.value) == pytest.approx(3, rel=1e-12)


def test_fit_power_law_at_fixed_covariate():
    """With a covariate, the fit recovers both exponents of exact data, and the slope in N at fixed margin differs
    from the naive one when the margin is correlated with N."""
    n = np.repeat([100.0, 200, 400, 800], 3)
    margin = np.tile([0.01, 0.03, 0.05], 4) * (n / 100) ** 0.3
    y = 2 * n**-0.5 * margin**-0.4
    slope, e_margin, amp = cc.fit_power_law(n, y, 0.01 * y, margin=margin)
    assert slope.value == pytest.approx(-0.5, abs=1e-10) and e_margin.value == pytest.approx(-0.4, abs=1e-10)
    assert math.exp(amp.value) == pytest.approx(2, rel=1e-10)
    naive = cc.fit_power_law(n, y, 0.01 * y)[0]
    assert naive.value == pytest.approx(-0.5 - 0.4 * 0.3, abs=1e-10)
    with pytest.raises(ValueError, match="margin"):
        cc.fit_power_law(n, y, 0.01 * y, margin=-margin)
    with pytest.raises(ValueError, match="margin"):
        cc.fit_power_law(n, y, 0.01 * y, margin=margin[:-1])
    with pytest.raises(ValueError, match="4 points"):
        cc.fit_power_law(n[:3], y[:3], y[:3], margin=margin[:3])


def test_bad_inputs_of_the_comparisons():
    with pytest.raises(ValueError, match="groups"):
        cc.compare(torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="prediction"):
        cc.compare(torch.zeros(4, 3, 3), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="C"):
        cc.participation_ratio(torch.zeros(3))
    with pytest.raises(ValueError, match="n"):
        cc.fit_power_law([1.0, 2.0], [1.0, 1.0], [0.1, 0.1])
    with pytest.raises(ValueError, match="value"):
        cc.fit_power_law([1.0, 2.0, 3.0], [1.0, -1.0, 1.0], [0.1, 0.1, 0.1])
