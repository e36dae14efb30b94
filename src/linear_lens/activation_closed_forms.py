r"""Closed forms of what Section 3.3 of Drgoňa et al. (2020) asks of each registered activation.

For every activation of :mod:`linear_lens.activations` at any parameter values, in closed form, with the place where
each supremum is attained and a line of evidence (used by :func:`linear_lens.activation_stability.classify`):

- $r(\sigma) = \sup_z |\sigma(z)/z|$ ($|\sigma'(0)|$ at $z = 0$, Remark 11), the largest eigenvalue modulus of any
  $\Lambda_z$; $K(\sigma)$, the Lipschitz constant of Definition 7; the gains $g_\pm = \lim_{z\to\pm\infty}
  |\sigma(z)/z|$ and whether $\sigma$ is locally bounded (:data:`CLOSED_FORMS`);
- the hull of the set $\{z : |\sigma(z)/z| > c\}$, $c = 1 + \text{atol}$, where $\Lambda_z$ has an eigenvalue
  outside the (slightly enlarged) unit disk (:data:`SETS`; :func:`linear_lens.activation_stability.unstable_interval`
  documents how each end is obtained).

The float64 grid search of :mod:`linear_lens.activation_stability` is the independent check of all of them.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable

import numpy as np

from linear_lens.secants import _SELU_ALPHA, _SELU_SCALE

__all__ = ["CLOSED_FORMS", "SETS"]

_INF = math.inf


def _cf(max_ratio, max_ratio_at, max_ratio_how, lipschitz, lipschitz_at, lipschitz_how, gain, locally_bounded=True):
    return {"max_ratio": float(max_ratio), "max_ratio_at": float(max_ratio_at), "max_ratio_how": max_ratio_how,
            "lipschitz": float(lipschitz), "lipschitz_at": float(lipschitz_at), "lipschitz_how": lipschitz_how,
            "gain": (float(gain[0]), float(gain[1])), "locally_bounded": bool(locally_bounded)}


def _cf_identity(**_):
    return _cf(1, 1, "sigma(z)/z = 1 at every z", 1, 1, "sigma' = 1 at every z", (1, 1))


def _cf_offset(sigma0: float, lipschitz, lipschitz_at, lipschitz_how, gain, locally_bounded=True):
    return _cf(_INF, 0.0, f"sigma(0) = {sigma0:.4g} != 0, so |sigma(z)/z| -> inf as z -> 0", lipschitz, lipschitz_at,
               lipschitz_how, gain, locally_bounded)


def _cf_soft_exponential(alpha):
    if alpha == 0:
        return _cf_identity()
    if alpha > 0:
        return _cf_offset(alpha, _INF, _INF, "sigma'(z) = exp(alpha z) -> inf as z -> +inf", (0, _INF))
    z_min = (1 - alpha * alpha) / alpha
    return _cf_offset(-math.log1p(-alpha * alpha) / alpha, _INF, z_min,
                      f"sigma -> -inf as z -> {z_min:.4g}+, and sigma is undefined below", (_INF, 0),
                      locally_bounded=False)


def _cf_blu(beta):
    if beta == 0:
        return _cf_identity()
    side = math.copysign(_INF, beta)
    k = 1 + abs(beta)
    return _cf(k, side, f"sigma(z)/z -> 1 + |beta| as z -> {'+' if beta > 0 else '-'}inf, not attained", k, side,
               "sigma'(z) = 1 + beta z / sqrt(z^2 + 1) -> 1 + |beta| there", (abs(1 - beta), abs(1 + beta)))


def _cf_leaky(a):
    if abs(a) <= 1:
        return _cf(1, 1, "sigma(z)/z = 1 at every z > 0", 1, 1, "sigma' = 1 at every z > 0", (abs(a), 1))
    return _cf(abs(a), -1, "|sigma(z)/z| = |a| at every z < 0", abs(a), -1, "|sigma'| = |a| at every z < 0", (abs(a), 1))


def _cf_gelu():
    lip = 0.5 * (1 + math.erf(1.0)) + math.exp(-1.0) / math.sqrt(math.pi)
    return _cf(1, _INF, "sigma(z)/z = Phi(z) < 1, -> 1 as z -> +inf", lip, math.sqrt(2),
               "sigma'' = phi(z)(2 - z^2) = 0 at z = sqrt(2): Phi(sqrt 2) + sqrt(2) phi(sqrt 2)", (0, 1))


def _cf_hardtanh(min_val, max_val):
    return _cf(1, max_val / 2, f"sigma(z)/z = 1 at every z in [{min_val:g}, {max_val:g}]", 1, max_val / 2,
               f"sigma' = 1 on ({min_val:g}, {max_val:g})", (0, 0))


def _cf_elu(alpha, scale=1.0):
    neg = scale * abs(alpha)
    how_neg = "|sigma(z)/z| -> {k:.6g} as z -> 0-, not attained"
    if neg <= scale:
        return _cf(scale, 1, f"sigma(z)/z = {scale:.6g} at every z > 0", scale, 1,
                   f"sigma' = {scale:.6g} at every z > 0", (0, scale))
    return _cf(neg, 0.0, how_neg.format(k=neg), neg, 0.0, f"|sigma'(z)| = {neg:.6g} e^z -> {neg:.6g} as z -> 0-",
               (0, scale))


def _cf_celu(alpha):
    if alpha > 0:
        return _cf(1, 1, "sigma(z)/z = 1 at every z > 0 (and < 1 for z < 0)", 1, 1, "sigma' = 1 at every z > 0",
                   (0, 1))
    return _cf(_INF, -_INF, "sigma(z) = alpha(exp(z/alpha) - 1) grows exponentially as z -> -inf", _INF, -_INF,
               "sigma'(z) = exp(z/alpha) -> inf as z -> -inf", (_INF, 1))


def _cf_hardshrink(lambd):
    if lambd <= 0:
        return _cf_identity()
    return _cf(1, 2 * lambd, f"sigma(z)/z = 1 at every |z| > {lambd:g}", _INF, lambd,
               f"sigma jumps by {lambd:g} at z = +-{lambd:g}: not Lipschitz (not even continuous)", (1, 1))


def _cf_softshrink(lambd):
    if lambd == 0:
        return _cf_identity()
    return _cf(1, _INF, f"(|z| - {lambd:g})/|z| < 1, -> 1 as |z| -> inf", 1, 2 * lambd,
               f"sigma' = 1 at every |z| > {lambd:g}", (1, 1))


def _cf_aplu(a1, b1, a2, b2):
    """Piecewise linear: breakpoints 0, b1, b2; on each piece sigma = s z + c, so sigma/z is monotone there."""
    a, b = (a1, a2), (b1, b2)
    sigma0 = a1 * max(b1, 0.0) + a2 * max(b2, 0.0)
    breaks = sorted({0.0, b1, b2})
    edges = [-_INF, *breaks, _INF]
    pieces = []  # (slope, a point inside)
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = hi - 1 if lo == -_INF else lo + 1 if hi == _INF else (lo + hi) / 2
        pieces.append((float(m > 0) - sum(ak for ak, bk in zip(a, b) if m < bk), m))
    lip, lip_at = max(((abs(s), m) for s, m in pieces), key=lambda t: t[0])
    gain = (abs(pieces[0][0]), abs(pieces[-1][0]))
    how_lip = f"|slope| = {lip:.6g} on the piece around z = {lip_at:.4g}"
    if sigma0 != 0:
        return _cf_offset(sigma0, lip, lip_at, how_lip, gain)

    def sigma(z):
        return max(z, 0.0) + sum(ak * max(bk - z, 0.0) for ak, bk in zip(a, b))

    k0 = breaks.index(0.0)
    cands = [(abs(sigma(p) / p), p) for p in breaks if p != 0]
    cands += [(abs(pieces[k0][0]), -0.0), (abs(pieces[k0 + 1][0]), 0.0), (gain[0], -_INF), (gain[1], _INF)]
    ratio, at = max(cands, key=lambda t: t[0])
    return _cf(ratio, at, f"sigma/z is monotone on each linear piece: maximum {ratio:.6g} at z = {at:g}", lip, lip_at,
               how_lip, gain)


def _cf_silu():
    from scipy.optimize import brentq

    def s(z):
        return 1 / (1 + math.exp(-z))

    z_star = brentq(lambda z: 2 + z * (1 - 2 * s(z)), 1.0, 4.0, xtol=1e-15)
    lip = s(z_star) * (1 + z_star * (1 - s(z_star)))
    return _cf(1, _INF, "sigma(z)/z = 1/(1 + e^-z) < 1, -> 1 as z -> +inf", lip, z_star,
               f"sigma'' = 0 at z = {z_star:.6g} (root of 2 + z(1 - 2 s(z)), brentq in float64)", (0, 1))


#: name -> (params -> dict of r, K, gains, where they are attained and why): :func:`_cf`'s keys.
CLOSED_FORMS: dict[str, Callable[..., dict]] = {
    "soft_exponential": _cf_soft_exponential,
    "blu": _cf_blu,
    "prelu": lambda a: _cf_leaky(a),
    "relu": lambda: _cf_leaky(0.0),
    "gelu": _cf_gelu,
    "rrelu": lambda lower, upper: _cf_leaky((lower + upper) / 2),
    "hardtanh": _cf_hardtanh,
    "relu6": lambda: _cf(1, 3, "sigma(z)/z = 1 at every z in (0, 6]", 1, 3, "sigma' = 1 on (0, 6)", (0, 0)),
    "tanh": lambda: _cf(1, 0, "sigma'(0) = 1 (Remark 11); tanh(z)/z < 1 for z != 0", 1, 0, "sigma'(0) = 1", (0, 0)),
    "elu": _cf_elu,
    "celu": _cf_celu,
    "hardshrink": _cf_hardshrink,
    "leaky_relu": lambda negative_slope: _cf_leaky(negative_slope),
    "softshrink": _cf_softshrink,
    "softsign": lambda: _cf(1, 0, "sigma'(0) = 1 (Remark 11); 1/(1 + |z|) < 1 for z != 0", 1, 0,
                            "sigma'(z) = 1/(1 + |z|)^2, 1 at z = 0", (0, 0)),
    "tanhshrink": lambda: _cf(1, _INF, "1 - tanh(z)/z < 1, -> 1 as |z| -> inf", 1, _INF,
                              "sigma' = tanh(z)^2 < 1, -> 1 as |z| -> inf", (1, 1)),
    "aplu": _cf_aplu,
    "pelu": lambda alpha, beta: _cf(alpha / beta, 1, f"sigma(z)/z = alpha/beta = {alpha / beta:.6g} at every z > 0",
                                    alpha / beta, 1, "sigma' = alpha/beta at every z > 0", (0, alpha / beta)),
    "sigmoid": lambda: _cf_offset(0.5, 0.25, 0, "sigma'(0) = 1/4", (0, 0)),
    "hardsigmoid": lambda: _cf_offset(0.5, 1 / 6, 0, "sigma' = 1/6 on (-3, 3)", (0, 0)),
    "hardswish": lambda: _cf(1, 3, "sigma(z)/z = min(max(0, z + 3), 6)/6 = 1 at every z >= 3", 1.5, 3,
                             "sigma'(z) = (2z + 3)/6 -> 3/2 as z -> 3-", (0, 1)),
    "selu": lambda: _cf_elu(_SELU_ALPHA, _SELU_SCALE),
    "logsigmoid": lambda: _cf_offset(-math.log(2.0), 1, -_INF, "sigma'(z) = 1/(1 + e^z) -> 1 as z -> -inf", (1, 0)),
    "softplus": lambda beta: _cf_offset(math.log(2.0) / beta, 1, _INF, "sigma'(z) = 1/(1 + e^(-beta z)) -> 1 as z -> +inf",
                                        (0, 1)),
    "silu": _cf_silu,
    "identity": _cf_identity,
}


# ---------------------------------------------------------------------------------------------------------------
# The sets {z : |sigma(z)/z| > c}, c = 1 + atol, in closed form: each returns the hull (lo, hi) or None
# ---------------------------------------------------------------------------------------------------------------


def _root(f: Callable[[float], float], a: float, b: float) -> float:
    from scipy.optimize import brentq

    return float(brentq(f, a, b, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))


def _hull(parts) -> tuple[float, float] | None:
    parts = [p for p in parts if p is not None]
    return (min(p[0] for p in parts), max(p[1] for p in parts)) if parts else None


def _at_zero(slope0: float, c: float):
    """{0} when the ratio there, |sigma'(0)| (Remark 11), exceeds c."""
    return (0.0, 0.0) if abs(slope0) > c else None


def _set_none(c, **_):
    return None


def _set_leaky(c, a):
    return _hull([(-_INF, 0.0) if abs(a) > c else None, _at_zero((1 + a) / 2, c)])


def _set_exp(c: float, right: float, k: float, width: float, slope0: float):
    """sigma = right z on z > 0 and k width (e^(z/width) - 1) on z < 0 (k > 0): ELU, SELU, PELU, CELU with alpha > 0.

    On z < 0 the ratio is k (1 - e^(-u))/u with u = -z/width, decreasing from k to 0: above c exactly for u < u*,
    the root of kappa (1 - e^(-u))/u = 1 with kappa = k/c (u* = kappa + W0(-kappa e^(-kappa)), Lambert's W; found
    by brentq on the closed form, which stays accurate next to W's branch point at kappa = 1)."""
    neg = None
    if k > c:
        kappa = k / c
        u = _root(lambda v: kappa * -math.expm1(-v) / v - 1 if v > 0 else kappa - 1, 0.0, kappa)
        neg = (-width * u, 0.0)
    return _hull([neg, (0.0, _INF) if abs(right) > c else None, _at_zero(slope0, c)])


def _set_elu(c, alpha, scale=1.0):
    return _set_exp(c, scale, scale * abs(alpha), 1.0, scale * (1 + alpha) / 2)


def _set_celu(c, alpha):
    """alpha > 0: as ELU. alpha < 0: on z < 0 the ratio is (e^u - 1)/u, u = z/alpha > 0, increasing from 1 to inf:
    above c for u > u_c, the root other than u = 0 of e^u = 1 + c u (u_c = -W_{-1}(-e^(-1/c)/c) - 1/c)."""
    if alpha > 0:
        return _set_exp(c, 1.0, 1.0, alpha, 1.0)
    u = 0.0 if c == 1 else _root(lambda v: math.expm1(v) / v - c if v > 0 else 1 - c, 0.0, 10.0)
    return (-_INF, alpha * u if u else 0.0)


def _set_pelu(c, alpha, beta):
    return _set_exp(c, alpha / beta, alpha / beta, beta, alpha / beta)


def _set_blu(c, beta):
    """ratio 1 + s w(|z|), s = beta sign(z), w = |z|/(sqrt(z^2 + 1) + 1) = tanh(asinh(|z|)/2) in [0, 1); w > t for
    |z| > 2t/(1 - t^2)."""
    def beyond(t: float):
        return 2 * t / ((1 - t) * (1 + t)) if t < 1 else None

    parts = []
    for side in (1.0, -1.0):
        s = beta * side
        t = (c - 1) / s if s > 0 else (c + 1) / -s if s < 0 else None  # 1 + s w > c, or 1 + s w < -c
        z = beyond(t) if t is not None else None
        if z is not None:
            parts.append((z, _INF) if side > 0 else (-_INF, -z))
    return _hull(parts)


def _set_soft_exponential(c, alpha):
    if alpha == 0:
        return None
    if alpha > 0:  # sigma(z)/z > 1 on all of z > 0 and -> inf at both ends; on z < 0 one root of sigma(z) + c z
        def g(z):
            return math.expm1(alpha * z) / alpha + alpha + c * z

        z0 = math.log1p(-alpha * alpha) / alpha if alpha < 1 else -(alpha + 1) / c  # g(z0) < 0
        return (_root(g, z0, 0.0), _INF)
    z_min = (1 - alpha * alpha) / alpha  # sigma -> -inf at the edge of its domain

    def h(z):  # |sigma(z)| - c z on (0, -alpha), where sigma < 0
        return math.log1p(-alpha * (z + alpha)) / alpha - c * z

    return (z_min, _root(h, 0.0, -alpha))


def _set_aplu(c, a1, b1, a2, b2):
    """Piecewise linear: on a piece sigma = s z + k; |s z + k| = c |z| only at z = k/(c - s) and -k/(c + s), so
    the set is decided exactly (rational arithmetic) between consecutive candidate points."""
    cf = Fraction(c)
    a, b = [Fraction(a1), Fraction(a2)], [Fraction(b1), Fraction(b2)]
    breaks = sorted({Fraction(0), *b})
    ends = []
    for i in range(len(breaks) + 1):
        lo = breaks[i - 1] if i > 0 else None
        hi = breaks[i] if i < len(breaks) else None
        m = (lo + hi) / 2 if lo is not None and hi is not None else (hi - 1 if lo is None else lo + 1)
        s = (1 if m > 0 else 0) - sum(ak for ak, bk in zip(a, b) if m < bk)
        k = sum(ak * bk for ak, bk in zip(a, b) if m < bk)
        cand = {p for p in (k / (cf - s) if cf != s else None, -k / (cf + s) if cf != -s else None)
                if p is not None and (lo is None or p > lo) and (hi is None or p < hi)}
        pts = sorted(cand | {p for p in (lo, hi) if p is not None})
        first = pts[0] - 1 if lo is None else None
        last = pts[-1] + 1 if hi is None else None
        probes = ([first] if first is not None else []) + [(u + v) / 2 for u, v in zip(pts, pts[1:])]
        probes += [last] if last is not None else []
        bounds = ([None] if lo is None else []) + pts + ([None] if hi is None else [])
        for j, z in enumerate(probes):
            if z != 0 and abs(s * z + k) > cf * abs(z):
                left, right = bounds[j], bounds[j + 1]
                ends.append((-_INF if left is None else float(left), _INF if right is None else float(right)))
    sigma0 = sum(ak * max(bk, 0) for ak, bk in zip(a, b))
    slope0 = Fraction(1, 2) - sum(ak * (1 if bk > 0 else Fraction(1, 2) if bk == 0 else 0) for ak, bk in zip(a, b))
    if sigma0 == 0:
        ends.append(_at_zero(float(slope0), c))
    return _hull(ends)


def _set_sigmoid(c):
    """sigma(z)/|z| decreases in |z| on each side, from inf to 0: one root each of sigma(z) = c |z|."""
    def s(z):
        return 0.5 * (1 + math.tanh(z / 2))

    return (_root(lambda z: s(z) + c * z, -1.0, 0.0), _root(lambda z: s(z) - c * z, 0.0, 1.0))


def _set_hardsigmoid(c):
    return (-3 / (6 * c + 1), 3 / (6 * c - 1))  # (z + 3)/6 = -c z and = c z, both inside (-3, 3)


def _set_softplus(c, beta):
    """z > 0: ratio 1 + ln(1 + e^(-beta z))/(beta z) > 1 everywhere, = c at one point if c > 1; z < 0: the ratio
    ln(1 + e^(beta z))/(beta |z|) decreases from inf to 0, = c at one point (-ln(phi)/beta for c = 1)."""
    def sp(u):  # ln(1 + e^u), stable
        return max(u, 0.0) + math.log1p(math.exp(-abs(u)))

    if c == 1:
        lo = -math.log((1 + math.sqrt(5)) / 2) / beta
    else:
        lo = _root(lambda z: sp(beta * z) / beta + c * z, -2.0 / beta, 0.0)  # sp(-2) = 0.127 < 2c
    hi = _INF if c == 1 else _root(lambda z: math.log1p(math.exp(-beta * z)) / beta - (c - 1) * z, 0.0,
                                   (1 + 750 / beta) / (c - 1) ** 0.5)
    return (lo, hi)


def _set_logsigmoid(c):
    lo, hi = _set_softplus(c, 1.0)  # |logsigmoid(z)| = softplus(-z)
    return (-hi, -lo)


#: name -> ((c, params) -> the hull (lo, hi) of {z : |sigma(z)/z| > c}, or None).
SETS: dict[str, Callable[..., tuple[float, float] | None]] = {
    "soft_exponential": _set_soft_exponential,
    "blu": _set_blu,
    "prelu": lambda c, a: _set_leaky(c, a),
    "relu": _set_none,
    "gelu": _set_none,
    "rrelu": lambda c, lower, upper: _set_leaky(c, (lower + upper) / 2),
    "hardtanh": _set_none,
    "relu6": _set_none,
    "tanh": _set_none,
    "elu": lambda c, alpha: _set_elu(c, alpha),
    "celu": _set_celu,
    "hardshrink": _set_none,
    "leaky_relu": lambda c, negative_slope: _set_leaky(c, negative_slope),
    "softshrink": _set_none,
    "softsign": _set_none,
    "tanhshrink": _set_none,
    "aplu": _set_aplu,
    "pelu": _set_pelu,
    "sigmoid": _set_sigmoid,
    "hardsigmoid": _set_hardsigmoid,
    "hardswish": _set_none,
    "selu": lambda c: _set_elu(c, _SELU_ALPHA, _SELU_SCALE),
    "logsigmoid": _set_logsigmoid,
    "softplus": _set_softplus,
    "silu": _set_none,
    "identity": _set_none,
}
