"""Secant slopes sigma(z)/z and (sigma(z) - sigma(0))/z against mpmath, for every activation, form and dtype.

The reference evaluates each activation's textbook definition in mpmath with enough digits to survive the
cancellation the package avoids (40 + 2 |log10 |z|| significant digits), and takes the value at z = 0 from a
symmetric difference at h = 1e-50 (sigma'(0) where it exists, the mean of the one-sided slopes at a kink: Remark 11).
Errors are measured in ulps of the exact value in the dtype of z (subnormal ulps below the normal range).

Run ``python tests/test_secants.py`` for the table of worst errors per activation and dtype.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from linear_lens import activations, affine, secants

F32, F64 = torch.float32, torch.float64
FORMS = ("paper", "shifted")

#: (activation, parameters): the registry's defaults and, for parametric activations, other values of each sign.
CASES = [(n, {}) for n in activations.names()] + [
    ("soft_exponential", {"alpha": 0.5}), ("soft_exponential", {"alpha": -0.5}),
    ("soft_exponential", {"alpha": -0.9}), ("soft_exponential", {"alpha": -0.1}), ("soft_exponential", {"alpha": 1.5}),
    ("blu", {"beta": 0.5}), ("blu", {"beta": -0.7}), ("blu", {"beta": 1.0}), ("blu", {"beta": -1.0}),
    ("prelu", {"a": -0.5}), ("leaky_relu", {"negative_slope": 1.5}), ("rrelu", {"lower": 0.1, "upper": 0.2}),
    ("hardtanh", {"min_val": -2.0, "max_val": 0.5}), ("elu", {"alpha": 0.5}), ("elu", {"alpha": 2.0}),
    ("celu", {"alpha": 0.5}), ("celu", {"alpha": -1.5}), ("hardshrink", {"lambd": 0.0}),
    ("softshrink", {"lambd": 0.0}), ("softshrink", {"lambd": 2.0}),
    ("aplu", {"a1": 0.5, "b1": 0.5, "a2": 0.25, "b2": 1.0}), ("aplu", {"a1": 0.5, "b1": 0.5, "a2": 0.5, "b2": 0.5}),
    ("aplu", {"a1": 0.3, "b1": -0.5, "a2": -0.2, "b2": 0.0}),
    ("pelu", {"alpha": 1.0, "beta": 1.0}), ("pelu", {"alpha": 1.5, "beta": 1.0}), ("pelu", {"alpha": 2.0, "beta": 0.3}),
    ("softplus", {"beta": 0.3}), ("softplus", {"beta": 4.0}),
]
CASE_IDS = [n + "".join(f"-{k}={v:g}" for k, v in p.items()) for n, p in CASES]

# The secants that vanish or change sign away from z = 0, where relative accuracy is out of reach of any formula in
# the working precision: the error there is measured against the size of the terms that cancel (see scale()).
TINY = {F64: 1e-300, F32: 1e-37}


def _mpf(x: float) -> mp.mpf:
    return mp.mpf(float(x))


def ref_sigma(name: str, p: dict, z: mp.mpf) -> mp.mpf:
    """The textbook definition of each registered activation, in mpmath (``p`` overrides the registry's defaults)."""
    p = {**activations.get(name).params, **p}
    m = {k: _mpf(v) for k, v in p.items()}
    if name == "soft_exponential":
        a = m["alpha"]
        if a == 0:
            return z
        if a > 0:
            return (mp.exp(a * z) - 1) / a + a
        arg = 1 - a * (z + a)
        return -mp.log(arg) / a if arg > 0 else mp.nan
    if name == "blu":
        return m["beta"] * (mp.sqrt(z * z + 1) - 1) + z
    if name in ("prelu", "leaky_relu", "rrelu", "relu"):
        slope = {"prelu": m.get("a"), "leaky_relu": m.get("negative_slope"), "relu": 0}.get(name)
        if name == "rrelu":
            slope = _mpf((p["lower"] + p["upper"]) / 2)  # the float the package uses
        return z if z >= 0 else slope * z
    if name == "gelu":
        if abs(z) > 1e4:  # mpmath's erfc overflows there; Phi is 1, or far below the smallest subnormal
            return z if z > 0 else z * mp.npdf(z) / abs(z)
        return z * mp.ncdf(z)
    if name == "hardtanh":
        return min(max(z, m["min_val"]), m["max_val"])
    if name == "relu6":
        return min(max(z, 0), 6)
    if name == "tanh":
        return mp.tanh(z)
    if name == "elu":
        return z if z > 0 else m["alpha"] * mp.expm1(z)
    if name == "celu":
        a = m["alpha"]
        return max(0, z) + min(0, a * mp.expm1(z / a))
    if name == "hardshrink":
        return z if abs(z) > m["lambd"] else mp.mpf(0)
    if name == "softshrink":
        return mp.sign(z) * max(abs(z) - m["lambd"], 0)
    if name == "softsign":
        return z / (1 + abs(z))
    if name == "tanhshrink":
        return z - mp.tanh(z)
    if name == "aplu":
        return max(0, z) + m["a1"] * max(0, m["b1"] - z) + m["a2"] * max(0, m["b2"] - z)
    if name == "pelu":
        return _mpf(p["alpha"] / p["beta"]) * z if z >= 0 else m["alpha"] * mp.expm1(z / m["beta"])
    if name == "sigmoid":
        return 1 / (1 + mp.exp(-z))
    if name == "hardsigmoid":
        return min(max(z + 3, 0), 6) / 6
    if name == "hardswish":
        return z * min(max(z + 3, 0), 6) / 6
    if name == "selu":
        return _mpf(activations._SELU_SCALE) * (z if z > 0 else _mpf(activations._SELU_ALPHA) * mp.expm1(z))
    if name == "logsigmoid":
        return -mp.log1p(mp.exp(-z))
    if name == "softplus":
        b = m["beta"]
        return mp.log1p(mp.exp(b * z)) / b
    if name == "silu":
        return z / (1 + mp.exp(-z))
    if name == "identity":
        return z
    raise KeyError(name)


def ref_secants(name: str, p: dict, z: float) -> dict[str, mp.mpf]:
    """Exact paper and shifted secants at the float z (and the symmetric derivative at z = 0)."""
    with mp.workdps(digits_for(z)):
        s0 = ref_sigma(name, p, mp.mpf(0))
        if z == 0:  # the error of the symmetric difference, h^2 |sigma'''|, is far below any subnormal
            h = mp.mpf(10) ** -200
            d = (ref_sigma(name, p, h) - ref_sigma(name, p, -h)) / (2 * h)
            return {"paper": +d, "shifted": +d, "terms": abs(d)}
        zz = _mpf(z)
        s = ref_sigma(name, p, zz)
        return {"paper": s / zz, "shifted": (s - s0) / zz, "terms": terms(name, p, zz, s, s0)}


def digits_for(z: float) -> int:
    """Enough digits for the cancellations of the definitions: z - tanh z ~ z^3 and sqrt(z^2 + 1) - |z| ~ 1/|z|."""
    return 40 + 2 * abs(math.floor(math.log10(abs(z)))) if z != 0 else 640


def terms(name: str, p: dict, z: mp.mpf, s: mp.mpf, s0: mp.mpf) -> mp.mpf:
    """The size of the terms a secant sums, for the secants with a root away from 0 (a sign change): there no
    working-precision formula is relatively accurate, and the error is measured against these terms."""
    if name == "aplu":  # on each linear piece: slope + (c - sigma(0))/z
        h = mp.mpf(10) ** -30
        slope = (ref_sigma(name, p, z + h) - ref_sigma(name, p, z - h)) / (2 * h)
        return abs(slope) + abs((s - slope * z - s0) / z)
    return (abs(s) + abs(s0)) / abs(z)


def ulps(got: float, exact: mp.mpf, dtype: torch.dtype, scale: mp.mpf | None = None) -> float:
    """|got - exact| in ulps of ``exact`` (or of ``scale`` if larger) in ``dtype``; 0 for a correctly overflowed inf."""
    fi = torch.finfo(dtype)
    if mp.isnan(exact):
        return 0.0 if math.isnan(got) else math.inf
    if abs(exact) > _mpf(fi.max):
        return 0.0 if math.isinf(got) and (got > 0) == (exact > 0) else math.inf
    if not math.isfinite(got):
        return math.inf
    size = max(abs(exact), scale or 0)
    if size == 0:
        return 0.0 if got == 0 else math.inf
    e = max(int(mp.floor(mp.log(size, 2))), int(math.log2(fi.tiny)))
    return float(abs(_mpf(got) - exact) / mp.ldexp(1, e - (53 if dtype == F64 else 24) + 1))


def secant_of(act, z: torch.Tensor, form: str) -> torch.Tensor:
    return act.shifted_secant(z) if form == "shifted" else act.secant(z)


def sample_z(dtype: torch.dtype, n: int, seed: int = 0) -> np.ndarray:
    """z = 0, tiny (10^-300 ... 10^-3; 10^-37 in float32), moderate (|z| < 40) and large (to 10^300, 10^38)."""
    rng = np.random.default_rng(seed)
    lo, hi = (-300, 300) if dtype == F64 else (-37, 38)
    tiny = 10 ** rng.uniform(lo, -3, n) * rng.choice([-1, 1], n)
    moderate = rng.uniform(-40, 40, n)
    large = 10 ** rng.uniform(1.6, hi, n // 4) * rng.choice([-1, 1], n // 4)
    fixed = [0.0, 5e-18, -5e-18, 1e-8, -1e-8, 0.5, -0.5, 1.0, 2.0, -2.0, 3.0, -3.0, 6.0]
    z = np.concatenate([fixed, tiny, moderate, large])
    return torch.tensor(z, dtype=dtype).double().numpy()  # the values as the dtype holds them


def scale_for(name: str, p: dict, form: str, ref: dict, z: float = 0.0) -> mp.mpf | None:
    """The size against which an error is measured, where it is not the exact value itself.

    Where the exact secant has a root away from 0 (APLU's pieces; SoftExponential with 0 < alpha < 1 in the paper's
    form, whose sigma vanishes at ln(1 - alpha^2)/alpha), the terms that cancel. Near the edge of SoftExponential's
    domain (alpha < 0, z -> 1/alpha - alpha), where sigma is a logarithm of a vanishing argument, the exact value
    times half the relative condition number kappa = |z g'(z)/g(z)|: rounding z itself costs kappa/2 ulps there.
    """
    alpha = {**activations.get(name).params, **p}.get("alpha", 0)
    if name == "aplu" or (name == "soft_exponential" and 0 < alpha < 1 and form == "paper"):
        return ref["terms"]
    if name == "soft_exponential" and alpha < 0 and z != 0 and not mp.isnan(ref[form]):
        with mp.workdps(digits_for(z) + 40):
            dz = _mpf(z) * mp.mpf(10) ** -30
            g = ref_secants(name, p, float(z))[form]
            with mp.workdps(digits_for(z) + 40):
                s1 = ref_sigma(name, p, _mpf(z) + dz)
                s0 = ref_sigma(name, p, mp.mpf(0))
                g1 = (s1 - (0 if form == "paper" else s0)) / (_mpf(z) + dz)
            kappa = abs((g1 - g) / dz * _mpf(z) / g) if g != 0 else mp.mpf(0)
        return abs(ref[form]) * max(1, kappa / 2)
    return None


def worst_errors(name: str, p: dict, form: str, dtype: torch.dtype, n: int = 60, seed: int = 0):
    """The largest error in ulps over sample_z, with the z where it occurs."""
    act = activations.get(name, **p)
    z = sample_z(dtype, n, seed)
    got = secant_of(act, torch.tensor(z, dtype=dtype), form).double().numpy()
    worst, at = 0.0, float("nan")
    for zi, gi in zip(z, got):
        ref = ref_secants(name, p, float(zi))
        e = ulps(float(gi), ref[form], dtype, scale_for(name, p, form, ref, float(zi)))
        if e > worst or math.isnan(e):
            worst, at = e, float(zi)
    return worst, at


# ---------------------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------------------

MAX_ULPS = 4.0


@pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name, params", CASES, ids=CASE_IDS)
def test_secant_within_a_few_ulps_on_a_wide_sample(name, params, form, dtype):
    worst, at = worst_errors(name, params, form, dtype, n=40)
    assert worst <= MAX_ULPS, f"{name}{params} {form} {dtype}: {worst:.2f} ulps at z = {at!r}"


@given(
    case=st.sampled_from(range(len(CASES))),
    form=st.sampled_from(FORMS),
    dtype=st.sampled_from([F64, F32]),
    exponent=st.floats(-300, 2),
    mantissa=st.floats(1, 10),
    negative=st.booleans(),
)
def test_secant_against_mpmath_hypothesis(case, form, dtype, exponent, mantissa, negative):
    """Tiny to moderate |z| (1e-300 ... 1e2; below the float32 range it rounds to 0 or a subnormal)."""
    name, params = CASES[case]
    z = (-1 if negative else 1) * mantissa * 10.0**exponent
    zt = torch.tensor([z], dtype=dtype)
    act = activations.get(name, **params)
    got = float(secant_of(act, zt, form)[0])
    ref = ref_secants(name, params, float(zt[0]))
    e = ulps(got, ref[form], dtype, scale_for(name, params, form, ref, float(zt[0])))
    assert e <= MAX_ULPS, f"{name}{params} {form} {dtype} at z = {float(zt[0])!r}: {got!r} is {e:.2f} ulps off"


@pytest.mark.parametrize("name, params", CASES, ids=CASE_IDS)
def test_value_at_zero_is_slope0_and_the_limit(name, params):
    """shifted_secant(0) = slope0 (to an ulp), and tiny z give the limit when sigma is differentiable at 0."""
    act = activations.get(name, **params)
    for dtype in (F64, F32):
        at0 = act.shifted_secant(torch.zeros(1, dtype=dtype))
        assert abs(float(at0) - act.slope0) <= 2 * torch.finfo(dtype).eps * max(1.0, abs(act.slope0)), (name, dtype)
        if act.smooth:
            tiny = act.shifted_secant(torch.tensor([TINY[dtype], -TINY[dtype]], dtype=dtype))
            assert torch.allclose(tiny, at0.expand(2), rtol=2 * torch.finfo(dtype).eps, atol=0), (name, tiny, at0)


def test_the_chapter_01_failure_is_impossible():
    """Sigmoid's shifted secant at z ~ 5e-18 (the chapter's point on the zero line) is 1/4, in both dtypes."""
    for dtype in (F64, F32):
        z = torch.tensor([5e-18, -5e-18, 1e-16, 1e-14, 1e-8, 0.0], dtype=dtype)
        lam, c = affine.activation_scaling("sigmoid", z, form="shifted")
        assert torch.allclose(lam, torch.full_like(lam, 0.25), rtol=2 * torch.finfo(dtype).eps, atol=0), lam
        assert torch.equal(c, torch.full_like(c, 0.5))


@pytest.mark.parametrize("name, params", CASES, ids=CASE_IDS)
def test_stable_fn_matches_the_definition(name, params):
    """sigma itself (the stable evaluations of BLU, GELU, Tanhshrink included) against mpmath, relative to |sigma| + |z| eps."""
    act = activations.get(name, **params)
    for dtype in (F64, F32):
        z = sample_z(dtype, 30, seed=1)
        got = act(torch.tensor(z, dtype=dtype)).double().numpy()
        full = {**activations.get(name).params, **params}
        for zi, gi in zip(z, got):
            with mp.workdps(digits_for(zi)):
                zz = _mpf(zi)
                exact = ref_sigma(name, params, zz)
                scale = abs(exact)
                if name == "aplu":  # a sum of three terms
                    scale = max(zz, 0) + sum(abs(_mpf(full[f"a{k}"])) * max(_mpf(full[f"b{k}"]) - zz, 0) for k in (1, 2))
                elif name == "soft_exponential" and full["alpha"] > 0:  # e^(alpha z)/alpha - 1/alpha + alpha
                    scale = abs(exact) + abs(_mpf(full["alpha"]) - 1 / _mpf(full["alpha"]))
            e = ulps(float(gi), exact, dtype, scale)
            assert e <= MAX_ULPS, f"{name}{params} {dtype}: sigma({zi!r}) = {gi!r} is {e:.2f} ulps off"


@pytest.mark.parametrize("name, params", CASES, ids=CASE_IDS)
def test_secant_times_z_is_sigma(name, params):
    """Lemma 3's building block: lambda z + c = sigma(z) to roundoff, both forms, at tiny and moderate z."""
    act = activations.get(name, **params)
    for dtype in (F64, F32):
        z = torch.tensor(sample_z(dtype, 40, seed=2), dtype=dtype)
        if name == "soft_exponential" and params.get("alpha", 0) < 0:
            z = z[z > 1 / params["alpha"] - params["alpha"] + 1e-3]
        z = z[z.abs() < 1e30]
        z = z[torch.isfinite(act(z))]  # sigma overflows for exponentials (SoftExponential, CELU with alpha < 0)
        s = act(z)
        eps = torch.finfo(dtype).eps
        for form in FORMS:
            lam, c = affine.activation_scaling(act, z, form=form)
            size = (lam * z).abs() + c.abs() + s.abs()
            subnormal = torch.finfo(dtype).tiny * eps  # a subnormal lambda holds |z| times this, absolutely
            assert ((lam * z + c - s).abs() <= 8 * eps * size + 2 * subnormal * z.abs()).all(), (name, form, dtype)


def test_user_callable_fallback_accuracy():
    """The documented fallback: a callable sigmoid (sigma(0) != 0) and a callable tanh (sigma(0) = 0)."""
    sig = activations.get(lambda z: 1 / (1 + torch.exp(-z)))
    tanh = activations.get(lambda z: torch.tanh(z))
    z = torch.tensor([0.0, 1e-300, -1e-200, 1e-10, -3e-6, 1e-5, 2e-5, -1e-3, 0.7, -20.0], dtype=F64)
    for act, name in ((sig, "sigmoid"), (tanh, "tanh")):
        for form in FORMS:
            got = secant_of(act, z, form)
            for zi, gi in zip(z.tolist(), got.tolist()):
                exact = ref_secants(name, {}, zi)[form]
                assert abs(gi - float(exact)) <= 1e-9 * abs(float(exact)), (name, form, zi, gi, float(exact))
    # piecewise linear on each side of 0: the fallback is exact to roundoff, with the symmetric derivative at 0
    plin = activations.get(lambda z: torch.relu(z) + 1.0)
    got = plin.shifted_secant(torch.tensor([-1e-9, 0.0, 1e-9, 1e-6], dtype=F64))
    torch.testing.assert_close(got, torch.tensor([0.0, 0.5, 1.0, 1.0], dtype=F64), rtol=1e-12, atol=1e-12)
    assert plin.shifted_secant(torch.tensor([1e-7], dtype=F32)).dtype == F32


@pytest.mark.parametrize("bad, message", [
    (None, "z: expected an array of real numbers, got None"),
    (torch.tensor([1.0, float("nan")]), "z: contains NaN"),
    (torch.tensor([1j]), "z: expected real numbers, got complex"),
    (torch.tensor([True]), "z: expected real numbers, got a boolean"),
    ("0.5", "z: expected an array of real numbers, got a string"),
])
def test_secant_methods_refuse_bad_z(bad, message):
    act = activations.get("sigmoid")
    for call in (act.secant, act.shifted_secant, lambda z: secants.secant("sigmoid", z)):
        with pytest.raises(ValueError, match=message):
            call(bad)
    with pytest.raises(ValueError, match="form: expected one of paper, shifted"):
        secants.secant("sigmoid", torch.zeros(1), form="tangent")


def test_integer_z_is_computed_in_float64():
    lam = activations.get("sigmoid").shifted_secant(torch.tensor([0, 1, -2]))
    assert lam.dtype == F64
    torch.testing.assert_close(lam, torch.tensor([0.25, math.tanh(0.5) / 2, math.tanh(-1.0) / -4], dtype=F64))


if __name__ == "__main__":
    print(f"{'activation':44s} {'form':8s} {'float64 ulps (at z)':28s} float32 ulps (at z)")
    for (name, params), cid in zip(CASES, CASE_IDS):
        for form in FORMS:
            cells = [worst_errors(name, params, form, dt, n=400) for dt in (F64, F32)]
            print(f"{cid:44s} {form:8s} " + " ".join(f"{w:6.2f} ({a:10.3g})          " for w, a in cells))
