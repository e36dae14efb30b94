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


# --- batches of networks (NetworkBatch) ---------------------------------------------------------------------------

SWEEP_ACTS = ["relu", "selu", "gelu", "tanh", "sigmoid", "softplus"]
F64 = torch.float64


def random_batch(generator, acts, depth=3, n=2, bias=True, convention="eq3"):
    """M = len(acts) random square networks as a stacked tensor, and their NetworkBatch."""
    M = len(acts)
    W = torch.randn(M, depth + 1, n, n, generator=generator, dtype=F64)
    B = torch.randn(M, depth + 1, n, generator=generator, dtype=F64) if bias else None
    return W, B, networks.network_batch(W, B, acts, convention=convention)


def eq3_lists(W, B, m, convention):
    """Network m of a stacked batch as the lists of networks.forward (the identity layer appended for "authors")."""
    Ws, Bs = list(W[m]), (list(B[m]) if B is not None else None)
    if convention == "authors":
        n = W.shape[-1]
        Ws.append(torch.eye(n, dtype=F64))
        Bs = None if Bs is None else Bs + [torch.zeros(n, dtype=F64)]
    return Ws, Bs


@pytest.mark.parametrize("convention", networks.CONVENTIONS)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("n", [2, 3, 5])
def test_batch_matches_the_per_network_implementation(generator, convention, bias, n):
    from linear_lens import affine

    acts = SWEEP_ACTS + ["leaky_relu", "hardshrink", "elu"]
    W, B, net = random_batch(generator, acts, n=n, bias=bias, convention=convention)
    x = 3 * torch.randn(40, n, generator=generator, dtype=F64)
    f = networks.batch_forward(net, x)
    fj, J = networks.batch_jacobian(net, x)
    for m, act in enumerate(acts):
        Ws, Bs = eq3_lists(W, B, m, convention)
        f0 = networks.forward(Ws, Bs, act, x)
        assert torch.allclose(f[m], f0, rtol=1e-13, atol=1e-13), f"f differs for {act}"
        assert torch.allclose(fj[m], f0, rtol=1e-13, atol=1e-13)
        J0 = affine.jacobian(Ws, Bs, act, x)
        assert torch.allclose(J[m], J0, rtol=1e-10, atol=1e-12), f"Jacobian differs from autodiff for {act}"


def test_rectangular_layers(generator):
    """Hidden layers of other widths than n: each network against networks.forward and autograd."""
    from linear_lens import affine

    nets = [networks.random_network([2, 5, 3, 2], bias=True, generator=generator) for _ in range(3)]
    W = [torch.stack([w[l] for w, _ in nets]) for l in range(3)]
    B = [torch.stack([b[l] for _, b in nets]) for l in range(3)]
    net = networks.network_batch(W, B, ["tanh", "tanh", "relu"])
    assert net.widths == (2, 5, 3, 2) and net.size == 3
    x = 2 * torch.randn(11, 2, generator=generator, dtype=F64)
    f, J = networks.batch_jacobian(net, x)
    for m, act in enumerate(["tanh", "tanh", "relu"]):
        Wm, Bm = nets[m]
        assert torch.allclose(f[m], networks.forward(Wm, Bm, act, x), rtol=1e-13, atol=1e-14)
        assert torch.allclose(J[m], affine.jacobian(Wm, Bm, act, x), rtol=1e-12, atol=1e-13)
    shared = networks.network_batch([W[0][0], W[1][0], W[2][0]], None, "tanh")  # one network from 2-D layers
    assert shared.size == 1 and shared.widths == (2, 5, 3, 2)
    with pytest.raises(ValueError, match="^net: stacking needs square layers"):
        net.stacked()


def test_authors_convention_applies_the_activation_after_the_output(generator):
    from linear_lens.activations import get

    W, B, net_a = random_batch(generator, SWEEP_ACTS, depth=2, convention="authors")
    net_e = networks.network_batch(W, B, SWEEP_ACTS, convention="eq3")
    x = 4 * torch.randn(30, 2, generator=generator, dtype=F64)
    fa, fe = networks.batch_forward(net_a, x), networks.batch_forward(net_e, x)
    for m, act in enumerate(SWEEP_ACTS):
        assert torch.allclose(fa[m], get(act)(fe[m]), rtol=1e-14, atol=1e-15)
    assert net_a.depth == net_e.depth == 2 and len(net_a.weights) == 4 and len(net_e.weights) == 3
    assert net_a.stacked().shape == (6, 4, 2, 2) and torch.equal(net_e.stacked(), W)


def test_jvp_is_the_jacobian_times_the_vector(generator):
    _, _, net = random_batch(generator, SWEEP_ACTS, depth=4, convention="authors")
    x = 3 * torch.randn(6, 25, 2, generator=generator, dtype=F64)
    v = torch.randn(6, 25, 2, generator=generator, dtype=F64)
    f, J = networks.batch_jacobian(net, x)
    f2, Jv = networks.batch_jvp(net, x, v)
    assert torch.allclose(f, f2, rtol=0, atol=0)
    assert torch.allclose(Jv, (J @ v.unsqueeze(-1)).squeeze(-1), rtol=1e-12, atol=1e-13)


def test_jacobian_takes_the_left_derivative_at_kinks():
    """At a kink the batched Jacobian uses autograd's one-sided choice: ReLU'(0) = 0 (activations, at_kink="left")."""
    W = torch.stack([torch.eye(2, dtype=F64), 2 * torch.eye(2, dtype=F64)])
    net = networks.network_batch(W, None, "relu")
    _, J = networks.batch_jacobian(net, torch.zeros(1, 2, dtype=F64))
    assert torch.equal(J[0, 0], torch.zeros(2, 2, dtype=F64))


def test_batch_refuses_bad_input():
    W = torch.zeros(2, 2, 2, 2, dtype=F64)
    with pytest.raises(ValueError, match="convention"):
        networks.network_batch(W, convention="paper")
    with pytest.raises(ValueError, match="weights"):
        networks.network_batch(torch.zeros(2, 2, 2, 3))
    with pytest.raises(ValueError, match="biases"):
        networks.network_batch(W, torch.zeros(2, 3, 2))
    with pytest.raises(ValueError, match="activation"):
        networks.network_batch(W, None, ["relu"] * 3)
    with pytest.raises(ValueError, match="activation"):
        networks.network_batch(W, None, "nonsense")
    with pytest.raises(ValueError, match="weights"):
        networks.network_batch(W.clone().fill_(float("nan")))
    with pytest.raises(ValueError, match="^weights: a network of the plane"):
        networks.network_batch([torch.zeros(3, 2), torch.zeros(3, 3)])
    with pytest.raises(ValueError, match="^weights: A_1 has"):
        networks.network_batch([torch.zeros(3, 2), torch.zeros(2, 2)])
    with pytest.raises(ValueError, match="^weights, biases: the numbers of networks differ"):
        networks.network_batch([torch.zeros(3, 2, 2), torch.zeros(4, 2, 2)])
    net = networks.network_batch(W)
    with pytest.raises(ValueError, match="x"):
        networks.batch_forward(net, torch.zeros(5, 3, dtype=F64))
    with pytest.raises(ValueError, match="index"):
        net.select([])
    with pytest.raises(ValueError, match="x"):
        networks.batch_forward(net, torch.tensor([[float("nan"), 0.0]]))


def test_activation_runs_are_grouped():
    W = torch.zeros(5, 2, 2, 2, dtype=F64)
    net = networks.network_batch(W, None, ["relu", "relu", "tanh", "tanh", "relu"])
    assert [(g[0].name, g[1], g[2]) for g in net.groups] == [("relu", 0, 2), ("tanh", 2, 4), ("relu", 4, 5)]
    sub = net.select([1, 2, 3])
    assert [g[0].name for g in sub.groups] == ["relu", "tanh"] and sub.size == 3


def test_float32_batches_compute_in_float32(generator):
    W, B, net64 = random_batch(generator, SWEEP_ACTS, depth=3, convention="authors")
    net32 = networks.network_batch(W.float(), B.float(), SWEEP_ACTS, convention="authors")
    x = 3 * torch.randn(50, 2, generator=generator, dtype=F64)
    f32, f64 = networks.batch_forward(net32, x.float()), networks.batch_forward(net64, x)
    assert f32.dtype == torch.float32 and torch.allclose(f32.double(), f64, rtol=1e-5, atol=1e-5)


def test_random_batch_holds_the_networks_random_network_draws():
    net = networks.random_batch([2, 4, 2], 3, "tanh", bias=True, scale=1.5, generator=7)
    g = torch.Generator().manual_seed(7)
    for m in range(3):
        W, B = networks.random_network([2, 4, 2], bias=True, scale=1.5, generator=g)
        assert all(torch.equal(net.weights[l][m], W[l]) and torch.equal(net.biases[l][m], B[l]) for l in range(2))
    assert not bool(networks.random_batch([2, 2], 2, generator=0).has_bias.any())
    with pytest.raises(ValueError, match="^count:"):
        networks.random_batch([2, 2], 0)
    with pytest.raises(ValueError, match="^weights: a network of the plane"):
        networks.random_batch([2, 3], 1)
