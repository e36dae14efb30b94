"""Stability classification of activations (Lemmas 8 and 10, Remark 11 of Drgona et al., 2020).

Three kinds of test: known answers (closed forms, the paper's footnotes); the closed forms against the independent
float64 grid search, autograd, scipy's optimisers and root finders, and random sampling; special cases that reduce
to known results (identity, ReLU, parameters at which an activation becomes the identity).
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq, minimize_scalar

from linear_lens import activation_stability as S
from linear_lens import activations as A

NAMES = A.names()
REL = 1e-6  # agreement of the closed forms and the float64 grid search


def close(a: float, b: float, rel: float = REL) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def assert_same(analytic: S.ActivationStability, numeric: S.ActivationStability, label: str) -> None:
    assert close(analytic.max_ratio, numeric.max_ratio), (
        f"{label}: sup|s(z)/z| closed form {analytic.max_ratio} vs grid {numeric.max_ratio}")
    assert close(analytic.lipschitz, numeric.lipschitz), (
        f"{label}: Lipschitz closed form {analytic.lipschitz} vs grid {numeric.lipschitz}")
    for side in (0, 1):  # the grid reads the gains at |z| = 1e8: a bounded offset c shows as c/1e8
        assert close(analytic.gain[side], numeric.gain[side], 1e-4), f"{label}: gains {analytic.gain} vs {numeric.gain}"
    for key in ("locally_bounded", "null_space_trivial", "asymptotically_stable", "contractive",
                "lipschitz_stable", "bibo_stable"):
        assert getattr(analytic, key) == getattr(numeric, key), (
            f"{label}: {key} closed form {getattr(analytic, key)} vs grid {getattr(numeric, key)}")


# ---------------------------------------------------------------------------------------------------------------
# Known answers
# ---------------------------------------------------------------------------------------------------------------

# The defaults are the initial values of the authors' library (BLU beta = 0, the identity) and of PELU's own code
# (alpha = beta = 1, ELU); see the sources in linear_lens.activations.
STABLE_DEFAULTS = {"soft_exponential", "blu", "prelu", "relu", "gelu", "rrelu", "hardtanh", "relu6", "tanh", "elu",
                   "celu", "hardshrink", "leaky_relu", "softshrink", "softsign", "tanhshrink", "pelu", "hardswish",
                   "silu", "identity"}
NOT_BIBO_DEFAULTS = {"selu"}


def test_default_verdicts():
    got = {n for n in NAMES if S.classify(n).asymptotically_stable}
    assert got == STABLE_DEFAULTS, f"stable activations differ: extra {got - STABLE_DEFAULTS}, missing {STABLE_DEFAULTS - got}"
    not_bibo = {n for n in NAMES if not S.classify(n).bibo_stable}
    assert not_bibo == NOT_BIBO_DEFAULTS, f"non-BIBO activations: {not_bibo}"


def test_known_constants():
    gelu = S.classify("gelu")
    expected = 0.5 * (1 + math.erf(1)) + math.sqrt(2) * math.exp(-1) / math.sqrt(2 * math.pi)
    assert close(gelu.lipschitz, expected, 1e-14) and abs(gelu.lipschitz - 1.1289) < 1e-4, gelu.lipschitz
    assert gelu.lipschitz_at == pytest.approx(math.sqrt(2), abs=1e-15)
    silu = S.classify("silu")
    assert abs(silu.lipschitz - 1.0998) < 1e-4 and abs(silu.lipschitz_at - 2.3994) < 1e-4, silu
    hs = S.classify("hardswish")
    assert (hs.max_ratio, hs.lipschitz, hs.lipschitz_at) == (1.0, 1.5, 3.0), hs
    selu = S.classify("selu")
    assert close(selu.max_ratio, 1.0507009873554805 * 1.6732632423543772, 1e-14), selu.max_ratio
    assert selu.gain[1] == pytest.approx(1.0507009873554805, rel=1e-15)
    sig = S.classify("sigmoid")
    assert sig.max_ratio == math.inf and sig.lipschitz == 0.25 and sig.sigma0 == 0.5 and sig.bibo_stable, sig
    blu = S.classify("blu", beta=-0.25)
    assert blu.max_ratio == 1.25 and blu.max_ratio_at == -math.inf and blu.gain == (1.25, 0.75), blu


def test_paper_footnotes():
    assert S.paper_footnotes("Hardswish") == (2,), "Hardswish, printed twice in footnote 2, is listed once"
    assert S.paper_footnotes("sigmoid") == (2, 3) and S.paper_footnotes("silu") == ()
    listed = {n for n in NAMES if S.paper_footnotes(n)}
    assert len(listed) == 24 and listed == set(NAMES) - {"silu", "identity"}, listed
    assert all(len(S.paper_footnotes(n)) >= 1 for n in listed)
    assert not any({1, 2} <= set(S.paper_footnotes(n)) for n in NAMES), "no activation is in footnotes 1 and 2"


def test_disagreements_with_paper_at_defaults():
    disagree = {n for n in NAMES if S.classify(n).agrees_with_paper is False}
    assert disagree == {"hardswish", "pelu"}, disagree
    assert S.classify("blu", beta=0.5).agrees_with_paper is False and S.classify("pelu", alpha=1.5).agrees_with_paper
    assert S.classify("silu").agrees_with_paper is None
    assert S.classify("soft_exponential", alpha=0.5).agrees_with_paper is False
    assert S.classify("hardswish").paper_verdict == {"asymptotically_stable": False, "bibo_stable": None}


def test_sigmoid_unstable_interval_against_brentq():
    lo, hi = S.classify("sigmoid", atol=0.0).unstable_interval  # with atol = 0: where |s(z)| = |z|
    root_hi = brentq(lambda z: 1 / (1 + math.exp(-z)) - z, 0.1, 1.0, xtol=1e-14)
    root_lo = brentq(lambda z: 1 / (1 + math.exp(-z)) + z, -1.0, -0.1, xtol=1e-14)
    assert abs(hi - root_hi) < 1e-9 and abs(lo - root_lo) < 1e-9, (lo, hi, root_lo, root_hi)
    lo, hi = S.classify("sigmoid").unstable_interval  # default atol: where |s(z)/z| = 1 + atol
    sig = A.get("sigmoid")
    ends = torch.tensor([lo, hi], dtype=torch.float64)
    assert torch.allclose((sig(ends) / ends).abs(), torch.full((2,), 1 + 1e-6, dtype=torch.float64), atol=1e-12)
    assert S.classify("relu").unstable_interval is None
    blu_lo, blu_hi = S.classify("blu", beta=0.5).unstable_interval
    assert blu_hi == math.inf and 0 < blu_lo < 1e-5, (blu_lo, blu_hi)


# ---------------------------------------------------------------------------------------------------------------
# Closed forms against independent computations
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_closed_form_matches_grid_search(name):
    assert_same(S.classify(name, method="analytic"), S.classify(name, method="numeric"), name)


_BREAK = st.floats(-2, -1e-3) | st.floats(1e-3, 2) | st.just(0.0)
PARAMS = {
    "prelu": st.fixed_dictionaries({"a": st.floats(-3, 3)}),
    "leaky_relu": st.fixed_dictionaries({"negative_slope": st.floats(-3, 3)}),
    "elu": st.fixed_dictionaries({"alpha": st.floats(-3, 3)}),
    "celu": st.fixed_dictionaries({"alpha": st.floats(0.1, 3) | st.floats(-3, -0.1)}),
    # parameters within ~atol of a verdict's boundary, or too small for any finite grid to see, are left out
    "blu": st.fixed_dictionaries({"beta": st.floats(-1, -1e-3) | st.floats(1e-3, 1) | st.just(0.0)}),
    "pelu": st.fixed_dictionaries({"alpha": st.floats(0.1, 3), "beta": st.floats(0.1, 3)}),
    "softplus": st.fixed_dictionaries({"beta": st.floats(0.1, 10)}),
    "hardtanh": st.fixed_dictionaries({"min_val": st.floats(-5, -0.1), "max_val": st.floats(0.1, 5)}),
    "hardshrink": st.fixed_dictionaries({"lambd": st.floats(0.05, 3)}),
    "softshrink": st.fixed_dictionaries({"lambd": st.floats(0.05, 3)}),
    "soft_exponential": st.fixed_dictionaries({"alpha": st.floats(-0.9, -1e-3) | st.floats(1e-3, 2) | st.just(0.0)}),
    # breakpoints closer to 0 than the grid's resolution (|b| < 1e-3, other than 0) are left out
    "aplu": st.fixed_dictionaries({"a1": st.floats(-1, 1), "b1": _BREAK, "a2": st.floats(-1, 1), "b2": _BREAK}),
}


@settings(max_examples=12)
@given(data=st.data())
@pytest.mark.parametrize("name", sorted(PARAMS))
def test_closed_form_matches_grid_search_over_parameters(name, data):
    params = data.draw(PARAMS[name])
    label = f"{name}{params}"
    assert_same(S.classify(name, method="analytic", **params), S.classify(name, method="numeric", **params), label)


@pytest.mark.parametrize("name", NAMES)
def test_samples_never_exceed_the_suprema_and_approach_them(name, generator):
    c = S.classify(name)
    act = A.get(name)
    z = torch.randn(20000, generator=generator, dtype=torch.float64) * torch.logspace(-6, 6, 20000, dtype=torch.float64)
    s = act(z)
    ratio = (s / z).abs()
    assert float(ratio.max()) <= c.max_ratio * (1 + 1e-9), f"{name}: sampled ratio {float(ratio.max())} > {c.max_ratio}"
    a, b = z[:10000], z[10000:]
    quotient = (act(a) - act(b)).abs() / (a - b).abs()
    assert float(quotient.max()) <= c.lipschitz * (1 + 1e-9) + 1e-12, f"{name}: secant {float(quotient.max())}"
    # a witness: the supremum is approached next to where it is said to be attained
    at = c.max_ratio_at
    if math.isinf(at):
        probe = torch.tensor([math.copysign(1e12, at)], dtype=torch.float64)
    else:
        probe = torch.tensor([at - 1e-9, at + 1e-9], dtype=torch.float64)
    near = float((act(probe) / probe).abs().max())
    limit = c.max_ratio if math.isfinite(c.max_ratio) else 1e6
    assert near >= limit * (1 - 1e-6), f"{name}: |s(z)/z| = {near} near z = {at}, supremum {c.max_ratio}"


@pytest.mark.parametrize("name", ["gelu", "silu", "hardswish", "tanh", "softsign", "sigmoid"])
def test_lipschitz_against_scipy_and_autograd(name):
    act = A.get(name)

    def neg_abs_derivative(x: float) -> float:
        z = torch.tensor([x], dtype=torch.float64, requires_grad=True)
        (d,) = torch.autograd.grad(act(z).sum(), z)
        return -abs(float(d))

    lows = np.arange(-6.0, 6.0, 1.0)
    best = min(minimize_scalar(neg_abs_derivative, bounds=(lo, lo + 1), method="bounded",
                               options={"xatol": 1e-12}).fun for lo in lows)
    best = min(best, *(neg_abs_derivative(lo) for lo in lows))  # a maximum at a kink sits on a unit grid point
    assert abs(-best - S.classify(name).lipschitz) < 1e-8, f"{name}: scipy {-best} vs {S.classify(name).lipschitz}"


# ---------------------------------------------------------------------------------------------------------------
# Special cases and the relations between the verdicts
# ---------------------------------------------------------------------------------------------------------------


def test_identity_and_parameters_that_reduce_to_it():
    ident = S.classify("identity")
    assert (ident.max_ratio, ident.lipschitz, ident.gain) == (1.0, 1.0, (1.0, 1.0))
    assert ident.asymptotically_stable and ident.bibo_stable and not ident.contractive
    for name, params in [("blu", {"beta": 0.0}), ("soft_exponential", {"alpha": 0.0}),
                         ("hardshrink", {"lambd": 0.0}), ("softshrink", {"lambd": 0.0}), ("prelu", {"a": 1.0})]:
        for method in ("analytic", "numeric"):
            c = S.classify(name, method=method, **params)
            assert (c.max_ratio, c.gain) == (1.0, (1.0, 1.0)) and c.asymptotically_stable, (name, method, c)


def test_prelu_zero_is_relu_and_elu_one_is_celu_one():
    for method in ("analytic", "numeric"):
        p, r = S.classify("prelu", a=0.0, method=method), S.classify("relu", method=method)
        assert (p.max_ratio, p.lipschitz, p.gain) == (r.max_ratio, r.lipschitz, r.gain), (method, p, r)
        e, c = S.classify("elu", alpha=1.0, method=method), S.classify("celu", alpha=1.0, method=method)
        assert close(e.max_ratio, c.max_ratio) and close(e.lipschitz, c.lipschitz), (method, e, c)


def test_registry_slopes_at_zero_for_identity_like_parameters():
    for name in ("hardshrink", "softshrink"):
        act = A.get(name, lambd=0.0)
        assert act.slope0 == 1.0 and abs(A.symmetric_derivative(act.fn) - 1.0) < 1e-12, name


@pytest.mark.parametrize("name", NAMES)
def test_lemma8_relations(name):
    c = S.classify(name)
    if c.null_space_trivial:
        assert c.max_ratio <= c.lipschitz * (1 + 1e-12), f"{name}: sigma(0) = 0 gives sup|s/z| <= K"
    assert not c.lipschitz_stable or c.asymptotically_stable, f"{name}: K <= 1 must imply the ratio condition"
    assert not c.contractive or c.asymptotically_stable, name
    assert c.contractive is False, f"{name}: no registered activation has sup|s(z)/z| < 1"


def test_scaled_tanh_is_contractive():
    c = S.classify(lambda z: 0.5 * torch.tanh(z))
    assert c.contractive and abs(c.max_ratio - 0.5) < 1e-12 and c.method == "numeric", c


def test_ratio_and_lipschitz_verdicts_differ():
    for name in ("gelu", "hardswish", "silu", "hardshrink"):
        c = S.classify(name)
        assert c.asymptotically_stable and not c.lipschitz_stable, f"{name}: {c.max_ratio} vs K = {c.lipschitz}"


def test_float32_rounding_does_not_flip_verdicts():
    for name, f in [("tanh", torch.tanh), ("gelu", F.gelu), ("relu", torch.relu), ("softsign", F.softsign)]:
        c64, c32 = S.classify(name), S.classify(lambda z, f=f: f(z.float()).double())
        for key in ("asymptotically_stable", "lipschitz_stable", "bibo_stable", "null_space_trivial"):
            assert getattr(c64, key) == getattr(c32, key), f"{name} in float32: {key} flips ({c32.max_ratio})"
    assert S.classify(lambda z: (1 + 1e-7) * z).asymptotically_stable
    assert not S.classify(lambda z: (1 + 1e-7) * z, atol=0.0).asymptotically_stable, "atol = 0 is exact"
    assert not S.classify(lambda z: (1 + 1e-3) * z).asymptotically_stable


def test_numeric_detects_jumps_and_undefined_values():
    step = S.classify(lambda z: torch.where(z > 1, z, torch.zeros_like(z)))
    assert step.lipschitz == math.inf and abs(step.lipschitz_at - 1) < 1e-9, step
    shifted = S.classify(lambda z: torch.sign(z) * (z.abs() + 0.5))  # sigma(0) = 0 but discontinuous there
    assert shifted.null_space_trivial and shifted.max_ratio == math.inf and not shifted.asymptotically_stable
    log = S.classify(lambda z: torch.log1p(z))
    assert not log.locally_bounded and not log.bibo_stable, log


# ---------------------------------------------------------------------------------------------------------------
# Sweeps and the scalar iteration behind Lemma 10
# ---------------------------------------------------------------------------------------------------------------


def test_sweep_parameter_ranges():
    a = np.linspace(-2, 2, 9)
    out = S.sweep("prelu", "a", a)
    assert (out["asymptotically_stable"] == (np.abs(a) <= 1)).all(), out
    assert np.allclose(out["max_ratio"], np.maximum(1, np.abs(a)), rtol=0, atol=1e-15)
    beta = np.linspace(-1, 1, 5)
    assert (S.sweep("blu", "beta", beta)["asymptotically_stable"] == (beta == 0)).all()
    alpha = np.array([-0.5, 0.0, 0.5])
    assert (S.sweep("soft_exponential", "alpha", alpha)["asymptotically_stable"] == (alpha == 0)).all()
    ratio = np.array([0.5, 1.0, 1.5])
    pelu = S.sweep("pelu", "alpha", ratio, beta=1.0, method="numeric")
    assert (pelu["asymptotically_stable"] == (ratio <= 1)).all() and np.allclose(pelu["max_ratio"], ratio, rtol=1e-9)


def test_iterate_known_answers():
    x = S.iterate("identity", 0.5, torch.tensor([1.0, -2.0], dtype=torch.float64), 10)
    expected = torch.tensor([1.0, -2.0], dtype=torch.float64) * 0.5 ** torch.arange(11, dtype=torch.float64)[:, None]
    assert x.shape == (11, 2) and torch.allclose(x, expected, rtol=0, atol=1e-15), x
    r = S.iterate("relu", torch.tensor([0.5, 0.9], dtype=torch.float64), -3.0, 2)
    assert r.shape == (3, 2) and (r[1:] == 0).all() and r.dtype == torch.float64, r


def test_iterate_bounded_exactly_when_gain_times_weight_below_one():
    w, x0 = 0.99, torch.tensor([-10.0, 10.0], dtype=torch.float64)
    for name in NAMES:
        c = S.classify(name)
        if not c.locally_bounded:
            continue
        traj = S.iterate(name, w, x0, 600)
        peak = float(traj.abs().max())
        if w * max(c.gain) < 1:
            assert peak < 1e3, f"{name}: gain {c.gain}, |x_k| reached {peak}"
        else:
            assert peak > 1e6, f"{name}: gain {c.gain} times w = {w} > 1, yet |x_k| stayed below {peak}"


# ---------------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, prefix",
    [
        (lambda: S.classify("nope"), "activation:"),
        (lambda: S.classify(3.0), "activation:"),
        (lambda: S.classify("relu", method="bogus"), "method:"),
        (lambda: S.classify("relu", atol=-1.0), "atol:"),
        (lambda: S.classify("relu", atol=True), "atol:"),
        (lambda: S.classify(lambda z: z, method="analytic"), "method:"),
        (lambda: S.classify("relu", a=1.0), "params:"),
        (lambda: S.classify("soft_exponential", alpha=-1.0), "params:"),
        (lambda: S.classify("softshrink", lambd=-0.5), "params:"),
        (lambda: S.classify("pelu", alpha=-1.0), "params:"),
        (lambda: S.paper_footnotes("nope"), "activation:"),
        (lambda: S.sweep("relu", "a", [1.0]), "param:"),
        (lambda: S.sweep("prelu", "a", []), "values:"),
        (lambda: S.sweep("prelu", "a", [float("nan")]), "values:"),
        (lambda: S.sweep("nope", "a", [1.0]), "activation:"),
        (lambda: S.iterate("relu", 0.5, 1.0, 0), "steps:"),
        (lambda: S.iterate("relu", 0.5, float("nan"), 3), "x0:"),
        (lambda: S.iterate("relu", float("inf"), 1.0, 3), "w:"),
    ],
)
def test_value_errors(call, prefix):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value).startswith(prefix), f"message {str(err.value)!r} should start with {prefix!r}"


def test_slope_against_closed_forms():
    z = torch.linspace(-4, 4, 801, dtype=torch.float64)
    phi = torch.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    Phi = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
    assert torch.allclose(A.slope("gelu", z), Phi + z * phi, rtol=0, atol=1e-14)
    assert torch.allclose(A.slope("tanh", z), 1 - torch.tanh(z) ** 2, rtol=0, atol=1e-15)
    assert A.slope("relu", z.reshape(1, 801, 1)).shape == (1, 801, 1)
    with pytest.raises(ValueError, match="^z:"):
        A.slope("relu", torch.tensor([float("nan")]))


def test_activation_objects_and_user_activations():
    elu2 = A.get("elu", alpha=2.0)
    c = S.classify(elu2)
    assert c.method == "analytic" and c.max_ratio == 2.0 and c.params == {"alpha": 2.0}, c
    fake = A.Activation("relu", lambda z: 2 * z, 0.0, 2.0)  # a user object that borrows a registered name
    f = S.classify(fake)
    assert f.method == "numeric" and abs(f.max_ratio - 2) < 1e-12 and not f.asymptotically_stable, f
    assert f.footnotes == () and f.agrees_with_paper is None
    with pytest.raises(ValueError, match="^method:"):
        S.classify(fake, method="analytic")


def test_offset_known_answers():
    assert S.offset("relu") == 0.0 and S.offset("identity") == 0.0
    assert abs(S.offset("softplus") - math.log(2)) < 1e-12 and abs(S.offset("logsigmoid") - math.log(2)) < 1e-12
    assert abs(S.offset("softplus", beta=4.0) - math.log(2) / 4) < 1e-12
    assert S.offset("sigmoid") == 0.5 and S.offset("blu", beta=0.5) == math.inf and S.offset("selu") == math.inf
    assert S.offset("soft_exponential", alpha=-0.5) == math.inf, "not locally bounded"


def test_iterate_layer_against_a_loop_and_the_scalar_case(generator):
    W = torch.randn(3, 3, generator=generator, dtype=torch.float64) / 3
    b = torch.randn(3, generator=generator, dtype=torch.float64)
    x0 = torch.randn(4, 3, generator=generator, dtype=torch.float64)
    traj = S.iterate_layer("tanh", W, b, x0, 3)
    x = x0.clone()
    for k in range(3):
        x = torch.stack([W @ torch.tanh(xi) + b for xi in x])
        assert torch.allclose(traj[k + 1], x, rtol=0, atol=1e-15), k
    scalar = S.iterate_layer("selu", torch.tensor([[0.9]], dtype=torch.float64), None, torch.tensor([[2.0], [-3.0]]), 5)[..., 0]
    assert torch.allclose(scalar, S.iterate("selu", 0.9, torch.tensor([2.0, -3.0]), 5), rtol=0, atol=1e-15)


def test_corrected_lemma10_bound(generator):
    n, w = 6, 0.95
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
    b = torch.randn(n, generator=generator, dtype=torch.float64)
    x0 = 20 * torch.randn(64, n, generator=generator, dtype=torch.float64)
    for name in NAMES:
        M = S.offset(name)
        if not math.isfinite(M):
            continue
        norms = S.iterate_layer(name, w * Q, b, x0, 300).norm(dim=-1)
        bound = torch.maximum(norms[0], torch.tensor((w * max(M, 0.0) * math.sqrt(n) + float(b.norm())) / (1 - w)))
        assert (norms <= bound * (1 + 1e-12)).all(), f"{name}: |x_k| {float(norms.max())} above the bound"


@pytest.mark.parametrize(
    "call, prefix",
    [
        (lambda: S.iterate_layer("relu", torch.ones(2, 3), None, torch.ones(3), 2), "W:"),
        (lambda: S.iterate_layer("relu", torch.eye(2), None, torch.ones(3), 2), "W:"),
        (lambda: S.iterate_layer("relu", torch.eye(2), torch.ones(3), torch.ones(2), 2), "b:"),
        (lambda: S.iterate_layer("relu", torch.eye(2), None, torch.ones(2), 0), "steps:"),
        (lambda: S.iterate_layer("relu", torch.eye(2) * float("nan"), None, torch.ones(2), 1), "W:"),
        (lambda: S.offset("nope"), "activation:"),
    ],
)
def test_value_errors_layer(call, prefix):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value).startswith(prefix), f"message {str(err.value)!r} should start with {prefix!r}"


# ---------------------------------------------------------------------------------------------------------------
# The set where |sigma(z)/z| > 1 + atol, and the excess |sigma(z)| - |z|
# ---------------------------------------------------------------------------------------------------------------

SET_CASES = [(n, {}) for n in NAMES] + [
    ("soft_exponential", {"alpha": 0.5}), ("soft_exponential", {"alpha": 1.5}), ("soft_exponential", {"alpha": 0.1}),
    ("blu", {"beta": 0.5}), ("blu", {"beta": -0.7}), ("blu", {"beta": 2.5}), ("prelu", {"a": -2.0}),
    ("prelu", {"a": 1.5}), ("elu", {"alpha": 2.0}), ("elu", {"alpha": -1.5}), ("celu", {"alpha": -1.5}),
    ("aplu", {"a1": 0.5, "b1": 0.5, "a2": 0.25, "b2": 1.0}), ("aplu", {"a1": -1.5, "b1": -0.5, "a2": 0.2, "b2": 0.3}),
    ("pelu", {"alpha": 1.5, "beta": 1.0}), ("pelu", {"alpha": 2.0, "beta": 0.3}), ("softplus", {"beta": 0.3}),
    ("softplus", {"beta": 4.0}),
]


@pytest.mark.parametrize("name, params", SET_CASES)
@pytest.mark.parametrize("atol", [1e-6, 1e-3])
def test_unstable_interval_closed_form_matches_the_grid(name, params, atol):
    """The closed-form hull against the float64 grid with bisection (independent); infinite ends agree exactly,
    finite ones to 1e-6 (the grid's bisection), except ends at 0 that the grid resolves to the nearest float."""
    exact = S.unstable_interval(name, atol=atol, **params)
    grid = S._grid_interval(A.get(name, **params), atol)
    if exact is None or grid is None:
        assert exact is None and grid is None, (exact, grid)
        return
    for e, g in zip(exact, grid):
        assert (e == g if math.isinf(e) or math.isinf(g) else abs(e - g) <= 1e-6 * max(1.0, abs(e))), (exact, grid)


@pytest.mark.parametrize("name, params", SET_CASES)
def test_unstable_interval_ends_are_where_the_ratio_is_one(name, params):
    """At a finite end other than 0 the ratio |sigma(z)/z| equals 1 (atol = 0), from the stable secant."""
    ends = S.unstable_interval(name, **params)
    if ends is None:
        return
    act = A.get(name, **params)
    for e in ends:
        if math.isfinite(e) and e != 0 and not (name == "soft_exponential" and act.params["alpha"] < 0):
            r = float(act.secant(torch.tensor([e], dtype=torch.float64)).abs())
            assert abs(r - 1) < 1e-9, f"{name} {params}: |sigma(z)/z| = {r} at the end {e}"


def test_unstable_interval_known_sets():
    phi = (1 + math.sqrt(5)) / 2
    assert S.unstable_interval("softplus") == (-math.log(phi), math.inf)
    assert S.unstable_interval("logsigmoid") == (-math.inf, math.log(phi))
    assert S.unstable_interval("softplus", beta=4.0) == (-math.log(phi) / 4, math.inf)
    assert S.unstable_interval("aplu") == (-math.inf, 0.5), "sigma = -z + 1/2 for z < 0, 1/2 on (0, 1/2), z after"
    lo, hi = S.unstable_interval("hardsigmoid")
    assert abs(lo + 3 / 7) < 1e-16 and abs(hi - 3 / 5) < 1e-16
    assert S.unstable_interval("soft_exponential", alpha=-0.5)[0] == (1 - 0.25) / -0.5, "the edge of sigma's domain"
    assert S.unstable_interval("blu", beta=0.5) == (0.0, math.inf) and S.unstable_interval("blu", beta=2.5) == (
        -math.inf, math.inf)
    assert S.unstable_interval("relu") is None and S.unstable_interval("hardswish") is None
    lo, hi = S.unstable_interval("softplus", atol=1e-6)
    assert math.isfinite(hi) and abs(float(S.excess("softplus", torch.tensor([hi], dtype=torch.float64))) - 1e-6 * hi) \
        < 1e-15, "with a tolerance the set is bounded: ln(1 + e^-z) = atol z at its right end"
    c = S.classify("softplus")
    assert c.unstable_interval == S.unstable_interval("softplus", atol=c.atol), "classify uses the closed form"


def test_excess_in_stable_form_against_mpmath():
    import mpmath as mp

    z = torch.tensor([-800.0, -40.0, -1.0, -1e-9, 0.0, 1e-9, 1.0, 37.0, 40.0, 700.0], dtype=torch.float64)
    for name, f in (("softplus", lambda v: mp.log1p(mp.exp(v))), ("logsigmoid", lambda v: -mp.log1p(mp.exp(-v)))):
        got = S.excess(name, z)
        with mp.workdps(60):
            ref = [float(abs(f(mp.mpf(float(v)))) - abs(mp.mpf(float(v)))) for v in z]
        for g, r, v in zip(got.tolist(), ref, z.tolist()):
            assert abs(g - r) <= 4e-16 * abs(r) + 1e-300, f"{name} at {v}: {g} vs {r}"
    far = torch.logspace(0, 2.8, 300, dtype=torch.float64)
    assert bool((S.excess("softplus", far) > 0).all()) and bool((S.excess("logsigmoid", -far) > 0).all())
    naive = A.get("softplus")(far) - far
    assert bool((naive[far > 40] == 0).all()), "as written the excess rounds to 0 beyond z = 40"
    assert torch.equal(S.excess("relu", torch.tensor([-2.0, 3.0])), torch.tensor([-2.0, 0.0]))


def test_state_bound_is_attained_by_relu_with_a_positive_bias():
    """x_{k+1} = w x_k + |b| (ReLU, W = wI) climbs from 0 to the fixed point |b|/(1 - w), whose norm is the bound."""
    w, n = 0.9, 4
    b = torch.tensor([0.5, 1.0, 0.25, 2.0], dtype=torch.float64)
    cap = S.state_bound("relu", w, float(b.norm()), n)
    assert cap == pytest.approx(float(b.norm()) / (1 - w), rel=1e-15)
    x = S.iterate_layer("relu", w * torch.eye(n, dtype=torch.float64), b, torch.zeros(n, dtype=torch.float64), 400)
    assert float(x[-1].norm()) == pytest.approx(cap, rel=1e-15) and bool((x.norm(dim=-1) <= cap * (1 + 1e-15)).all())
    assert S.state_bound("selu", w, 1.0, n) == math.inf
    sp = S.state_bound("softplus", 0.5, 0.0, 9)
    assert sp == pytest.approx(0.5 * math.log(2) * 3 / 0.5, rel=1e-12), "M = ln 2 for softplus"
    with pytest.raises(ValueError, match="^weight:"):
        S.state_bound("relu", 1.0, 0.0, 2)
    with pytest.raises(ValueError, match="^bias_norm:"):
        S.state_bound("relu", 0.5, -1.0, 2)
