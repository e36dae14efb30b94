"""Tests of linear_lens.descent_accuracy: gradient descent against the exact flow (Anguita, 2024, Figs. 3.4-3.6)."""

import pytest
import torch

from linear_lens import descent_accuracy as da


def test_descent_deviation_vanishes_with_the_learning_rate():
    """Halving eta halves the per-step error but also the horizon K eta: the average shrinks by a factor in [2, 4]."""
    out = da.descent_deviation(4, [2.0, 2.0, 2.0], [4e-3, 2e-3, 1e-3], trials=3, steps=100,
                               generator=torch.Generator().manual_seed(0))
    dev = out["abs_deviation"].mean(1)
    assert out["deviation"].shape == (3, 3) and out["top_rate"].shape == (3, 3)
    ratios = dev[:-1] / dev[1:]
    assert bool(((ratios > 1.8) & (ratios < 4.2)).all()), ratios
    assert float(dev[-1]) < 2e-2


def test_descent_deviation_refuses_unequal_configuration_lists():
    with pytest.raises(ValueError, match="lams, lrs"):
        da.descent_deviation(3, [1.0], [1e-3, 1e-2], trials=1)
