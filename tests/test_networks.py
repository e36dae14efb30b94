"""Networks as lists of weights (eqs. 3 and 6 of Drgona et al.), and the sampling grids."""

import pytest
import torch

from linear_lens import networks, sampling


def test_forward_matches_torch_sequential(generator):
    W, B = networks.random_network([3, 5, 4, 2], bias=True, generator=generator)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)
    ).double()
    with torch.no_grad():
        for layer, w, b in zip([model[0], model[2], model[4]], W, B):
            layer.weight.copy_(w)
            layer.bias.copy_(b)
        x = torch.randn(6, 3, generator=generator, dtype=torch.float64)
        assert torch.allclose(networks.forward(W, B, "tanh", x), model(x), rtol=1e-14, atol=1e-15)


def test_no_activation_after_the_last_layer():
    W = [torch.eye(2, dtype=torch.float64), -torch.eye(2, dtype=torch.float64)]
    x = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    assert torch.equal(networks.forward(W, None, "relu", x), -x), "eq. (3a): f(x) = A_L h_L, no sigma at the end"


def test_random_network_shapes_and_scale(generator):
    W, B = networks.random_network([4, 400, 3], bias=True, generator=generator)
    assert [w.shape for w in W] == [(400, 4), (3, 400)] and [b.shape for b in B] == [(400,), (3,)]
    assert W[1].var().item() == pytest.approx(1 / 400, rel=0.2), "entries have variance scale^2 / fan_in"
    assert networks.random_network([2, 2], generator=generator)[1] is None


def test_random_network_is_reproducible():
    a = networks.random_network([2, 3, 2], generator=torch.Generator().manual_seed(1))[0]
    b = networks.random_network([2, 3, 2], generator=torch.Generator().manual_seed(1))[0]
    assert all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("widths, message", [([3], "widths: need at least"), ([3, 0], "widths: expected a positive")])
def test_random_network_rejects_bad_widths(widths, message):
    with pytest.raises(ValueError, match=message):
        networks.random_network(widths)


def test_grid_2d():
    x1, x2, pts = sampling.grid_2d(-6, 6, 5)
    assert pts.shape == (5, 5, 2) and x1[0, 0] == -6 and x1[0, -1] == 6 and x2[-1, 0] == 6
    assert torch.equal(pts[..., 0], x1) and torch.equal(pts[..., 1], x2)
    with pytest.raises(ValueError, match="low, high: need low < high"):
        sampling.grid_2d(1, 1, 3)
    with pytest.raises(ValueError, match="n: expected a positive integer"):
        sampling.grid_2d(0, 1, 0)
