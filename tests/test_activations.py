"""The activation registry: definitions, sigma(0), the slope at zero, name lookup and errors."""

import math

import pytest
import torch

from linear_lens import activations

FOOTNOTE_ACTIVATIONS = [
    "SoftExponential", "BLU", "PReLU", "ReLU", "GELU", "RReLU", "Hardtanh", "ReLU6", "Tanh", "ELU", "CELU",
    "Hardshrink", "LeakyReLU", "Softshrink", "Softsign", "Tanhshrink", "APLU", "PELU", "Sigmoid", "Hardsigmoid",
    "Hardswish", "SELU", "LogSigmoid", "Softplus",
]


@pytest.mark.parametrize("name", FOOTNOTE_ACTIVATIONS)
def test_every_footnote_activation_is_registered(name):
    act = activations.get(name)
    assert act.definition and act.source, f"{name}: needs a one-line definition and a source"


@pytest.mark.parametrize("name", activations.names())
def test_sigma0_is_the_value_at_zero(name):
    act = activations.get(name)
    value = float(act(torch.zeros(1, dtype=torch.float64))[0])
    assert value == pytest.approx(act.sigma0, abs=1e-15), f"{name}: sigma(0) = {value}, registry says {act.sigma0}"


@pytest.mark.parametrize("name", activations.names())
def test_slope0_is_the_symmetric_derivative(name):
    """The registry's hand-written slope at 0 against a numerical symmetric derivative (independent)."""
    act = activations.get(name)
    numeric = activations.symmetric_derivative(act.fn)
    assert numeric == pytest.approx(act.slope0, abs=1e-7), f"{name}: slope0 {act.slope0} vs numeric {numeric}"


@pytest.mark.parametrize("name", [n for n in activations.names() if activations.get(n).smooth])
def test_slope0_is_the_autograd_derivative_for_smooth_activations(name):
    act = activations.get(name)
    z = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(act(z).sum(), z)
    assert float(grad) == pytest.approx(act.slope0, abs=1e-12), f"{name}: autograd gives {float(grad)}"


@pytest.mark.parametrize(
    "name, torch_fn",
    [
        ("relu", torch.nn.ReLU()), ("gelu", torch.nn.GELU()), ("hardtanh", torch.nn.Hardtanh()),
        ("relu6", torch.nn.ReLU6()), ("tanh", torch.nn.Tanh()), ("elu", torch.nn.ELU()), ("celu", torch.nn.CELU()),
        ("hardshrink", torch.nn.Hardshrink()), ("leaky_relu", torch.nn.LeakyReLU()),
        ("softshrink", torch.nn.Softshrink()), ("softsign", torch.nn.Softsign()), ("tanhshrink", torch.nn.Tanhshrink()),
        ("sigmoid", torch.nn.Sigmoid()), ("hardsigmoid", torch.nn.Hardsigmoid()), ("hardswish", torch.nn.Hardswish()),
        ("selu", torch.nn.SELU()), ("logsigmoid", torch.nn.LogSigmoid()), ("softplus", torch.nn.Softplus(threshold=40.0)),
        ("silu", torch.nn.SiLU()), ("rrelu", torch.nn.RReLU().eval()), ("prelu", torch.nn.PReLU(dtype=torch.float64)),
    ],
)
def test_matches_pytorch_modules(name, torch_fn):
    z = torch.linspace(-30, 30, 4001, dtype=torch.float64)
    with torch.no_grad():
        expected = torch_fn(z)
    assert torch.allclose(activations.get(name)(z), expected, rtol=1e-12, atol=1e-12), f"{name} differs from torch"


def test_parametrised_activations_follow_their_papers():
    z = torch.tensor([-2.0, -0.5, 0.5, 2.0], dtype=torch.float64)
    se = activations.get("soft_exponential", alpha=0.5)
    assert torch.allclose(se(z), torch.expm1(0.5 * z) / 0.5 + 0.5)
    se_neg = activations.get("soft_exponential", alpha=-0.5)
    inside = z[z > -1.5]  # the logarithmic branch is defined for z > 1/alpha - alpha = -1.5
    assert torch.allclose(se_neg(inside), -torch.log(1 - (-0.5) * (inside - 0.5)) / (-0.5))
    assert torch.equal(activations.get("soft_exponential")(z), z), "alpha = 0 is the identity"
    pelu = activations.get("pelu", alpha=1.0, beta=1.0)
    assert torch.allclose(pelu(z), activations.get("elu")(z)), "PELU with alpha = beta = 1 is ELU"
    blu = activations.get("blu", beta=0.0)
    assert torch.equal(blu(z), z), "BLU with beta = 0 is the identity"
    aplu = activations.get("aplu", a1=0.5, b1=0.5, a2=0.25, b2=1.0)
    expected = torch.relu(z) + 0.5 * torch.relu(0.5 - z) + 0.25 * torch.relu(1.0 - z)
    assert torch.allclose(aplu(z), expected)
    assert aplu.sigma0 == pytest.approx(0.5 * 0.5 + 0.25 * 1.0)


@pytest.mark.parametrize("spelling", ["LeakyReLU", "leaky_relu", "leaky-relu", "LEAKYRELU"])
def test_names_are_matched_loosely(spelling):
    assert activations.get(spelling).name == "leaky_relu"


def test_callables_are_accepted():
    act = activations.get(lambda z: torch.sin(z) + 0.5)
    assert act.sigma0 == pytest.approx(0.5)
    assert act.slope0 == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: activations.get("nope"), "activation: unknown name"),
        (lambda: activations.get("relu", alpha=1.0), "params: relu has no parameter"),
        (lambda: activations.get("elu", alpha=math.nan), "must be finite"),
        (lambda: activations.get("softplus", beta=-1.0), "softplus needs beta > 0"),
        (lambda: activations.get("pelu", alpha=-1.0), "pelu needs alpha > 0"),
        (lambda: activations.get(42), "activation: expected a name"),
        (lambda: activations.get(lambda z: z / 0 * torch.inf), "activation: the callable is not finite"),
    ],
)
def test_bad_requests_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- the closed-form derivative ------------------------------------------------------------------------------------

#: Registered activations with other parameter values, and the points where each is not differentiable.
DERIVATIVE_CASES = [(n, {}) for n in activations.names()] + [
    ("soft_exponential", {"alpha": 0.5}), ("soft_exponential", {"alpha": -0.5}), ("blu", {"beta": -0.7}),
    ("prelu", {"a": -2.0}), ("hardtanh", {"min_val": -2.0, "max_val": 0.5}), ("elu", {"alpha": 2.0}),
    ("celu", {"alpha": -1.5}), ("celu", {"alpha": 0.5}), ("hardshrink", {"lambd": 0.0}), ("softshrink", {"lambd": 2.0}),
    ("aplu", {"a1": 0.3, "b1": -0.5, "a2": -0.2, "b2": 0.0}), ("pelu", {"alpha": 2.0, "beta": 0.3}),
    ("softplus", {"beta": 4.0}),
]


def _kinks(name: str, p: dict) -> list[float]:
    p = {**activations.get(name).params, **p}
    return {"relu": [0.0], "prelu": [0.0], "rrelu": [0.0], "leaky_relu": [0.0], "relu6": [0.0, 6.0],
            "hardtanh": [p.get("min_val", 0.0), p.get("max_val", 0.0)], "elu": [0.0], "selu": [0.0],
            "hardshrink": [-p.get("lambd", 0), p.get("lambd", 0)] if p.get("lambd", 0) > 0 else [],
            "softshrink": [-p.get("lambd", 0), p.get("lambd", 0)] if p.get("lambd", 0) > 0 else [],
            "aplu": sorted({0.0, p.get("b1", 0.0), p.get("b2", 0.0)}), "hardsigmoid": [-3.0, 3.0],
            "hardswish": [-3.0, 3.0]}.get(name, [])


@pytest.mark.parametrize("name, params", DERIVATIVE_CASES)
def test_derivative_matches_autograd_away_from_kinks(name, params):
    """sigma' in closed form against autograd through sigma (independent), on a grid that avoids the kinks."""
    act = activations.get(name, **params)
    z = torch.linspace(-12, 12, 2401, dtype=torch.float64) + 1.234e-3
    if name == "soft_exponential" and act.params["alpha"] < 0:
        z = z[z > (1 - act.params["alpha"] ** 2) / act.params["alpha"] + 1e-3]  # sigma's domain
    for k in _kinks(name, params):
        z = z[(z - k).abs() > 1e-6]
    got = act.derivative(z)
    ref = activations.slope(act, z)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-13, msg=f"{name} {params}: closed form vs autograd")
    for kink in ("left", "right"):
        assert torch.equal(act.derivative(z, at_kink=kink), got), "away from kinks every convention agrees"


@pytest.mark.parametrize("name, params", DERIVATIVE_CASES)
def test_derivative_at_kinks(name, params):
    """At 0 the symmetric convention is the registry's slope0 (Remark 11); at every kink the one-sided
    derivatives are the slopes of the neighbouring pieces (difference quotients next to the kink, not across it)
    and the symmetric one is their mean."""
    act = activations.get(name, **params)
    zero = torch.zeros(1, dtype=torch.float64)
    assert float(act.derivative(zero)) == pytest.approx(act.slope0, abs=1e-15), f"{name}: sigma'(0) vs slope0"
    h = 1e-7
    for k in _kinks(name, params):
        at = torch.tensor([k], dtype=torch.float64)
        pts = torch.tensor([k - 2 * h, k - h, k + h, k + 2 * h], dtype=torch.float64)
        s = act(pts)
        left, right = float((s[1] - s[0]) / h), float((s[3] - s[2]) / h)
        got_left, got_right = float(act.derivative(at, at_kink="left")), float(act.derivative(at, at_kink="right"))
        assert got_left == pytest.approx(left, abs=1e-5) and got_right == pytest.approx(right, abs=1e-5), (
            f"{name} at {k}: one-sided ({got_left}, {got_right}) vs pieces ({left}, {right})")
        assert float(act.derivative(at)) == pytest.approx((got_left + got_right) / 2, abs=1e-15)


@pytest.mark.parametrize("name", ["relu", "selu", "gelu", "tanh", "sigmoid", "softplus"])
def test_left_derivative_is_autograd_for_the_sweep_activations(name):
    """The convention of the batched Jacobian (networks.jacobian): autograd's at a kink, at every z."""
    act = activations.get(name)
    z = torch.cat([torch.linspace(-60, 60, 2001, dtype=torch.float64),
                   torch.tensor([0.0, 1e-300, -1e-300, 1e-8, -1e-8], dtype=torch.float64)])
    torch.testing.assert_close(act.derivative(z, at_kink="left"), activations.slope(act, z), rtol=1e-13, atol=1e-15)


def test_derivative_of_a_callable_and_bad_input():
    act = activations.get(lambda z: torch.abs(z) + torch.sin(z))
    z = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)
    got = act.derivative(z)
    assert float(got[0]) == pytest.approx(-1 + math.cos(-1.0)) and float(got[2]) == pytest.approx(1 + math.cos(2.0))
    assert float(got[1]) == pytest.approx(act.slope0, abs=1e-9), "symmetric convention at 0: slope0"
    with pytest.raises(ValueError, match="^at_kink:"):
        act.derivative(z, at_kink="middle")
    with pytest.raises(ValueError, match="^z:"):
        activations.get("relu").derivative(torch.tensor([math.nan]))


@pytest.mark.parametrize("beta", [1.0, 0.3, 4.0])
def test_softplus_has_no_threshold(beta):
    """ln(1 + e^(beta z))/beta to a few ulps on both sides of torch's threshold (beta z = 40), and autograd's slope
    is sigmoid(beta z) there too (torch's thresholded Softplus has slope exactly 1 beyond it)."""
    import mpmath as mp

    act = activations.get("softplus", beta=beta)
    z = torch.tensor([-600.0, -40.0, -1.0, 0.0, 1e-8, 30.0, 39.9, 40.1, 45.0, 300.0], dtype=torch.float64) / beta
    got = act(z)
    with mp.workdps(50):
        ref = [float(mp.log1p(mp.exp(mp.mpf(beta) * mp.mpf(float(v)))) / mp.mpf(beta)) for v in z]
    for g, r in zip(got.tolist(), ref):
        assert abs(g - r) <= 4e-16 * abs(r) + 1e-320, (g, r)
    slope = activations.slope(act, z)
    torch.testing.assert_close(slope, torch.sigmoid(beta * z), rtol=1e-12, atol=1e-300)
