"""Lemma 3 (pointwise affine form), Remark 11 (z = 0) and Proposition 12 (ReLU: A* is the Jacobian)."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from linear_lens import activations, affine, networks, sampling

NAMES = activations.names()


@given(
    name=st.sampled_from(NAMES),
    widths=st.lists(st.integers(1, 6), min_size=2, max_size=9),
    batch=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    bias=st.booleans(),
    form=st.sampled_from(affine.FORMS),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**31 - 1),
)
def test_lemma3_is_exact(name, widths, batch, bias, form, dtype, seed):
    """A*(x) x + b*(x) = f(x) to roundoff, relative to the size of the terms summed (the backward error)."""
    g = torch.Generator().manual_seed(seed)
    W, B = networks.random_network(widths, bias=bias, generator=g, dtype=dtype)
    x = 3 * torch.randn(*batch, widths[0], generator=g, dtype=dtype)
    A, b = affine.pointwise_affine(W, B, name, x, form=form)
    assert A.shape == (*batch, widths[-1], widths[0]) and b.shape == (*batch, widths[-1])
    assert A.dtype == dtype and b.dtype == dtype
    f = networks.forward(W, B, name, x)
    err = (A @ x.unsqueeze(-1)).squeeze(-1) + b - f
    size = (A.abs() @ x.abs().unsqueeze(-1)).squeeze(-1) + b.abs() + f.abs()
    tol = 200 * len(widths) * torch.finfo(dtype).eps
    assert (err.abs() <= tol * size + 1e-30).all(), f"{name}/{form}: error {err.abs().max():.2e}"


def test_no_bias_and_trivial_null_space_gives_zero_bias(generator):
    W, _ = networks.random_network([3, 5, 5, 3], generator=generator)
    x = torch.randn(10, 3, generator=generator, dtype=torch.float64)
    _, b = affine.pointwise_affine(W, None, "tanh", x)
    assert torch.equal(b, torch.zeros_like(b)), "without biases and with sigma(0) = 0, f(x) = A*(x) x (eq. 5)"


def test_single_layer_is_the_weight(generator):
    W, B = networks.random_network([4, 3], bias=True, generator=generator)
    x = torch.randn(7, 4, generator=generator, dtype=torch.float64)
    A, b = affine.pointwise_affine(W, B, "sigmoid", x)
    assert torch.equal(A, W[0].expand(7, 3, 4)) and torch.equal(b, B[0].expand(7, 3))


def test_hand_computed_one_hidden_layer():
    """f(x) = c tanh(a x): A*(x) = c tanh(a x) / x, and c a at x = 0 (Remark 11)."""
    W = [torch.tensor([[2.0]], dtype=torch.float64), torch.tensor([[3.0]], dtype=torch.float64)]
    x = torch.tensor([[0.5], [0.0], [-1.0]], dtype=torch.float64)
    A, b = affine.pointwise_affine(W, None, "tanh", x)
    expected = torch.tensor([3 * math.tanh(1.0) / 0.5, 6.0, 3 * math.tanh(-2.0) / -1.0], dtype=torch.float64)
    assert torch.allclose(A.reshape(-1), expected, rtol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_remark11_slope_at_zero_and_offset(name):
    act = activations.get(name)
    z = torch.tensor([0.0, 1.0, -2.0], dtype=torch.float64)
    for form in affine.FORMS:
        lam, c = affine.activation_scaling(act, z, form=form)
        assert torch.isfinite(lam).all() and torch.isfinite(c).all(), f"{name}: non-finite scaling"
        assert lam[0] == act.slope0, f"{name}/{form}: Lambda at z=0 must be sigma'(0) = {act.slope0}, got {lam[0]}"
        assert c[0] == act.sigma0, f"{name}/{form}: offset at z=0 must be sigma(0)"
        assert torch.allclose(lam * z + c, act(z), rtol=1e-14, atol=1e-15)


def test_exact_at_points_where_a_preactivation_is_zero():
    """Inputs on the zero set of a first-layer unit: finite A*, and f reproduced even for sigma(0) != 0."""
    W = [torch.tensor([[1.0, -1.0], [2.0, 1.0]], dtype=torch.float64), torch.eye(2, dtype=torch.float64)]
    x = torch.tensor([[0.7, 0.7], [0.0, 0.0]], dtype=torch.float64)
    for name in ("sigmoid", "relu", "softplus"):
        for form in affine.FORMS:
            fwd, _ = affine.reconstruction_error(W, None, name, x, form=form)
            assert fwd < 1e-15, f"{name}/{form}: not exact on the zero set ({fwd:.1e})"


def test_shifted_equals_paper_when_sigma0_is_zero(generator):
    W, B = networks.random_network([2, 6, 6, 2], bias=True, generator=generator)
    x = torch.randn(50, 2, generator=generator, dtype=torch.float64)
    A1, b1 = affine.pointwise_affine(W, B, "gelu", x, form="paper")
    A2, b2 = affine.pointwise_affine(W, B, "gelu", x, form="shifted")
    assert torch.allclose(A1, A2, rtol=1e-12) and torch.allclose(b1, b2, rtol=1e-12)


def test_shifted_differs_from_paper_when_sigma0_is_not_zero(generator):
    W, _ = networks.random_network([2, 6, 2], generator=generator)
    x = torch.randn(50, 2, generator=generator, dtype=torch.float64)
    A1, _ = affine.pointwise_affine(W, None, "sigmoid", x, form="paper")
    A2, _ = affine.pointwise_affine(W, None, "sigmoid", x, form="shifted")
    assert (A1 - A2).abs().max() > 0.1


@pytest.mark.parametrize("bias", [False, True])
def test_proposition12_relu_astar_is_the_autograd_jacobian(bias, generator):
    W, B = networks.random_network([3, 8, 8, 8, 3], bias=bias, generator=generator)
    x = 2 * torch.randn(100, 3, generator=generator, dtype=torch.float64)
    A, _ = affine.pointwise_affine(W, B, "relu", x)
    J = affine.jacobian(W, B, "relu", x)
    assert torch.allclose(A, J, rtol=1e-12, atol=1e-14), f"max |A* - J| = {(A - J).abs().max():.2e}"


def test_smooth_activation_astar_is_not_the_jacobian(generator):
    W, B = networks.random_network([2, 8, 2], bias=True, generator=generator)
    x = 2 * torch.randn(20, 2, generator=generator, dtype=torch.float64)
    A, _ = affine.pointwise_affine(W, B, "tanh", x)
    assert (A - affine.jacobian(W, B, "tanh", x)).abs().max() > 1e-2


def test_jacobian_against_finite_differences(generator):
    W, B = networks.random_network([3, 5, 4], bias=True, generator=generator)
    x = torch.randn(3, generator=generator, dtype=torch.float64)
    J = affine.jacobian(W, B, "tanh", x)
    h = 1e-6
    fd = torch.stack([(networks.forward(W, B, "tanh", x + h * e) - networks.forward(W, B, "tanh", x - h * e)) / (2 * h)
                      for e in torch.eye(3, dtype=torch.float64)], dim=-1)
    assert torch.allclose(J, fd, atol=1e-8)


def test_secant_tangent_gap_predicts_homogeneous_activations():
    z = torch.linspace(-8, 8, 1601, dtype=torch.float64)
    homogeneous = {n for n in NAMES if affine.secant_tangent_gap(n, z).max() < 1e-12}
    assert {"relu", "leaky_relu", "prelu", "rrelu", "hardshrink", "identity"} <= homogeneous
    assert not {"tanh", "sigmoid", "gelu", "hardtanh", "softshrink"} & homogeneous


def test_sweeps_have_the_documented_shapes(generator):
    out = affine.exactness_sweep(["relu", "sigmoid"], [1, 2], n_points=8, generator=generator)
    assert out["forward"].shape == out["backward"].shape == (2, 2, 2, len(affine.FORMS))
    assert out["backward"].max() < 1e-12
    gaps = affine.jacobian_gap_sweep(["relu", "tanh"], n_points=8, generator=generator)
    assert gaps.shape == (2,) and gaps[0] < 1e-12 < gaps[1]


def test_device_and_dtype_follow_the_input(generator):
    W, _ = networks.random_network([2, 3, 2], generator=generator, dtype=torch.float32)
    x = torch.randn(4, 2, generator=generator, dtype=torch.float64)
    A, b = affine.pointwise_affine(W, None, "relu", x)
    assert A.dtype == torch.float64 and A.device == x.device


@pytest.mark.parametrize(
    "weights, biases, x, message",
    [
        ([], None, torch.zeros(2), "weights: need at least one"),
        ([torch.zeros(3)], None, torch.zeros(3), "weights: A_0 must be a 2-D matrix"),
        ([torch.zeros(3, 2), torch.zeros(2, 4)], None, torch.zeros(2), "weights: A_1 has 4 columns"),
        ([torch.zeros(3, 2)], [torch.zeros(2)], torch.zeros(2), "biases: b_0 must have shape"),
        ([torch.zeros(3, 2)], [torch.zeros(3), torch.zeros(3)], torch.zeros(2), "biases: expected 1 bias"),
        ([torch.zeros(3, 2)], None, torch.zeros(3), "x: last dimension must be n_0 = 2"),
        ([torch.zeros(3, 2)], None, torch.tensor([1.0, float("nan")]), "x: contains NaN"),
        ([torch.tensor([[float("inf"), 0.0]])], None, torch.zeros(2), r"weights\[0\]: contains NaN or infinite"),
    ],
)
def test_bad_input_raises_clear_errors(weights, biases, x, message):
    with pytest.raises(ValueError, match=message):
        affine.pointwise_affine(weights, biases, "relu", x)


def test_unknown_activation_and_form_raise():
    W = [torch.eye(2, dtype=torch.float64)] * 2
    with pytest.raises(ValueError, match="activation: unknown name 'swishy'"):
        affine.pointwise_affine(W, None, "swishy", torch.zeros(2))
    with pytest.raises(ValueError, match="form: expected one of paper, shifted"):
        affine.pointwise_affine(W, None, "relu", torch.zeros(2), form="tangent")


def test_activation_outside_its_domain_raises_instead_of_nan():
    """SoftExponential with alpha < 0 is a logarithm, defined only for z > 1/alpha - alpha."""
    act = activations.get("soft_exponential", alpha=-0.5)
    W = [torch.eye(1, dtype=torch.float64)] * 2
    x = torch.tensor([[-3.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match="activation: soft_exponential produced NaN or infinite values"):
        affine.pointwise_affine(W, None, act, x)
    with pytest.raises(ValueError, match="activation: soft_exponential produced NaN"):
        networks.forward(W, None, act, x)


def test_backward_error_counts_underflow_as_absolute():
    """A 7-layer Tanhshrink network maps inputs to subnormal outputs (sigma(z) ~ z^3/3 near 0); there roundoff is
    absolute, a few units of 2^-1074, and the backward error must stay at roundoff (chapter 1's full-size sweep)."""
    g = torch.Generator().manual_seed(0)
    W, _ = networks.random_network([3] + [8] * 7 + [3], generator=g)
    x = torch.randn(256, 3, generator=g, dtype=torch.float64)
    f = networks.forward(W, None, "tanhshrink", x)
    subnormal = (f.abs() > 0) & (f.abs() < torch.finfo(torch.float64).tiny)
    assert int(subnormal.sum()) > 5, "some outputs are subnormal"
    _, backward = affine.reconstruction_error(W, None, "tanhshrink", x)
    assert backward < 1e-12, backward


def test_backward_error_measures_against_the_nested_size():
    """The paper form's A* is a product with huge factors near z_i = 0 that cancel: measured against |A*||x| its
    backward error reached 1e-10 for some draws of chapter 1's network (seed 16 of the survey); measured against
    the nested product of absolute values, which bounds the rounding of the product, it stays at roundoff."""
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        _, _, grid = sampling.grid_2d(-6, 6, 101)
        W, _ = networks.random_network([2, 8, 8, 2], generator=g)
        for form in affine.FORMS:
            _, backward = affine.reconstruction_error(W, None, "sigmoid", grid, form=form)
            assert backward < 1e-14, (seed, form, backward)
