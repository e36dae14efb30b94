"""Tests of linear_lens.ntk: the NTK of a two-layer linear network from its representations (eq. 2.37)."""

import numpy as np
import pytest
import torch

from linear_lens import balanced, ntk, riccati as rc, tasks

F64 = torch.float64


@pytest.mark.parametrize("shape", [(3, 3, 3), (2, 4, 5), (4, 3, 2)])
def test_ntk_formula_matches_autograd(shape, generator):
    n_in, n_hidden, n_out = shape
    W1 = torch.randn(n_hidden, n_in, generator=generator, dtype=F64)
    W2 = torch.randn(n_out, n_hidden, generator=generator, dtype=F64)
    X = torch.randn(n_in, 6, generator=generator, dtype=F64)
    torch.testing.assert_close(ntk.ntk(W1, W2, X), ntk.empirical_ntk(W1, W2, X), rtol=1e-12, atol=1e-12)


def test_ntk_from_exact_representations(generator):
    """The NTK along the flow from the blocks of the exact QQ^T equals the NTK of the integrated weights."""
    from linear_lens import gradient_flow as gf

    X, Y = tasks.random_regression_task(3, 3, 8, generator=generator)
    W1, W2 = balanced.lambda_balanced_init(2.0, 3, 3, 3, generator=generator)
    t = np.linspace(0, 1, 4)
    b = rc.blocks(rc.qqt(t, W1, W2, X, Y), 3)
    traj = gf.integrate(W1, W2, X, Y, t)
    torch.testing.assert_close(ntk.ntk_from_representations(b.input_rep, b.output_rep, X),
                               ntk.ntk(traj.W1, traj.W2, X), rtol=1e-9, atol=1e-9)


def test_kernel_change_and_shapes(generator):
    K0 = torch.eye(4, dtype=F64)
    assert float(ntk.kernel_change(K0, K0)) == 0.0
    assert ntk.ntk(torch.randn(2, 3, 3, dtype=F64), torch.randn(3, 3, dtype=F64), torch.randn(3, 5, dtype=F64)).shape \
        == (2, 15, 15)


def test_ntk_refuses_bad_shapes():
    with pytest.raises(ValueError, match="W1, W2"):
        ntk.ntk(torch.eye(3, dtype=F64), torch.eye(2, dtype=F64), torch.eye(3, dtype=F64))
    with pytest.raises(ValueError, match="X: expected shape"):
        ntk.ntk_from_representations(torch.eye(3, dtype=F64), torch.eye(2, dtype=F64), torch.eye(2, dtype=F64))
