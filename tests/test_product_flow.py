"""Tests of linear_lens.product_flow: the closed ODE of the product W2 W1 of lambda-balanced weights."""

import numpy as np
import pytest
import torch

from linear_lens import product_flow as pf, riccati as rc
from riccati_cases import (
    network as _network,
    orientation_mismatch as _orientation_mismatch,
    rel as _rel,
)

F64 = torch.float64


def test_product_ode_matches_in_equal_dimensions():
    """The closed ODE of W2 W1 (a third, independent check) integrates to the same product as qqt."""
    for lam in (-2.0, 0.0, 0.5):
        W1, W2, X, Y = _network(lam, 3, 3, 3, seed=8)
        if _orientation_mismatch(W1, W2, X, Y):
            W1 = W1 @ torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=F64))
        t = np.linspace(0, 3, 7)
        Wp = pf.integrate_product(W2 @ W1, X, Y, lam, t)
        assert _rel(Wp, rc.blocks(rc.qqt(t, W1, W2, X, Y), 3).product) < 1e-9


@pytest.mark.parametrize("shape,lam", [((4, 4, 7), 1.0), ((4, 4, 7), -1.0), ((7, 4, 4), 1.0), ((7, 4, 4), -1.0)])
def test_product_velocity_with_the_projector_term(shape, lam):
    """Unequal dims with N_h = min: the velocity formula (with the sign-dependent projector term) is exact."""
    W1, W2, X, Y = _network(lam, *shape, seed=5)
    S = Y @ X.T / X.shape[1]
    E = S - W2 @ W1
    true = E @ W1.T @ W1 + W2 @ W2.T @ E
    torch.testing.assert_close(pf.product_velocity(W2 @ W1, S, lam), true, rtol=1e-11, atol=1e-11)


def test_product_velocity_refuses_a_hidden_layer_wider_than_min_dims():
    with pytest.raises(ValueError, match="hidden_dim"):
        pf.product_velocity(torch.eye(3, 2, dtype=F64), torch.eye(3, 2, dtype=F64), 1.0, hidden_dim=3)
