"""The orbit functions of linear_lens.stability: what ``iterate(record=...)`` keeps, and growth rates from norms."""

import pytest
import torch

from linear_lens import stability

F64 = torch.float64


def _network(seed=0, batch=(3,)):
    g = torch.Generator().manual_seed(seed)
    W = [torch.randn(*batch, 2, 2, generator=g, dtype=F64) for _ in range(3)]
    b = [torch.randn(*batch, 2, generator=g, dtype=F64) for _ in range(3)]
    return W, b


def test_record_modes_keep_the_same_values():
    W, b = _network()
    x0 = torch.randn(5, 1, 2, generator=torch.Generator().manual_seed(1), dtype=F64)  # starts x networks
    full = stability.iterate(W, b, "tanh", x0, 12)
    assert full.shape == (13, 5, 3, 2)
    torch.testing.assert_close(stability.iterate(W, b, "tanh", x0, 12, record="norms"), full.norm(dim=-1),
                               rtol=0, atol=0)
    for m in (0, 1, 4, 12):
        torch.testing.assert_close(stability.iterate(W, b, "tanh", x0, 12, record=m), full[12 - m:], rtol=0, atol=0)


def test_growth_rate_from_norms_equals_from_states():
    W, b = _network(2)
    x0 = torch.randn(4, 3, 2, generator=torch.Generator().manual_seed(3), dtype=F64)
    full = stability.iterate(W, None, "relu", x0, 9)
    torch.testing.assert_close(stability.growth_rate(full.norm(dim=-1), norms=True), stability.growth_rate(full))


def test_linear_map_growth_rate_is_the_spectral_radius():
    A = torch.tensor([[0.5, 2.0], [0.0, 0.9]], dtype=F64)
    norms = stability.iterate([torch.eye(2, dtype=F64), A], None, "identity", torch.tensor([1.0, 1.0], dtype=F64),
                              2000, record="norms")
    assert abs(float(stability.growth_rate(norms, norms=True)) - 0.9) < 2e-3


def test_orbit_period_on_a_tail():
    R = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=F64)  # rotation by 90 degrees: period 4
    tail = stability.iterate([torch.eye(2, dtype=F64), R], None, "identity", torch.tensor([1.0, 0.0], dtype=F64),
                             50, record=8)
    assert int(stability.orbit_period(tail, 8)) == 4


@pytest.mark.parametrize("record", ["some", -1, 1.5, True, 11])
def test_bad_record_raises(record):
    W, b = _network()
    with pytest.raises(ValueError, match="^record:"):
        stability.iterate(W, b, "tanh", torch.zeros(2, dtype=F64), 10, record=record)


def test_bad_norms_trajectory_raises():
    with pytest.raises(ValueError, match="^trajectory:"):
        stability.growth_rate(torch.ones(1, 3, dtype=F64), norms=True)
