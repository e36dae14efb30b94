"""The sweep over sizes and coupling strengths that tests the linear equivalence: shapes, flags, and bad input."""

import numpy as np
import pytest
import torch

from linear_lens import dmft, rnn_sweep as sw


@pytest.fixture(scope="module")
def sol():
    return dmft.solve(2.0)


def test_small_sweep(sol):
    res = sw.equivalence_sweep([dmft.solve(3.0)], [60, 80, 100], n_real=2, n_draws=4, n_traj=3, t_burn=20,
                                t_record=30, generator=0, dtype=torch.float64)
    assert res.margin.shape == (1, 3, 2) and np.all(res.margin > 0)
    v, e = res.metrics["linear", "corr_offdiag"]
    assert v.shape == (1, 3, 2) and np.all(np.isnan(v) | (np.abs(v) <= 1.5))
    assert res.cx.shape[:3] == (1, 3, 2)
    assert res.lyapunov.shape == (1, 3, 2) and np.all(res.chaotic <= (res.lyapunov > 0.01))


def test_bad_inputs_of_the_sweep(sol):
    with pytest.raises(ValueError, match="sizes"):
        sw.equivalence_sweep([sol], [100, 50])
    with pytest.raises(ValueError, match="n_real"):
        sw.equivalence_sweep([sol], [50], n_real=1)
    with pytest.raises(ValueError, match="n_traj"):
        sw.equivalence_sweep([sol], [50], n_traj=2)
    with pytest.raises(ValueError, match="sample_every"):
        sw.equivalence_sweep([sol], [50], dt=0.2, sample_every=0.3)
    with pytest.raises(ValueError, match="solutions"):
        sw.equivalence_sweep([], [50])
