r"""Secant slopes of activations without cancellation: $\sigma(z)/z$ and $(\sigma(z) - \sigma(0))/z$.

The diagonal of $\Lambda_z$ in the pointwise affine form of a network (:mod:`linear_lens.affine`) is a *secant
slope* of the activation $\sigma$ (:mod:`linear_lens.activations`): $\sigma(z)/z$ (the paper's form, eq. 4 of
Drgoňa et al., 2020) or $(\sigma(z) - \sigma(0))/z$ (the shifted form). Computed as written, both lose every digit as
$z \to 0$ where they cancel (for sigmoid, $(\sigma(z) - \tfrac12)/z$ is $0$ instead of $\tfrac14$ at
$|z| \le 10^{-16}$ in float64, $10^{-8}$ in float32). :meth:`Activation.secant` and
:meth:`Activation.shifted_secant` compute them without cancellation for every finite $z$, in float32 and float64:
closed forms per registered activation ($\tanh(z/2)/(2z)$ for sigmoid, ``expm1``/``log1p`` forms for Softplus,
LogSigmoid, ELU, CELU, SELU, PELU and SoftExponential, $\Phi(z)$ with an extra-precise argument for GELU, Lambert's
continued fraction for Tanhshrink, a cancellation-free form of BLU, exact slopes and offsets per linear piece for
the piecewise-linear ones), a Taylor polynomial only next to 0 where it is exact to the last bit, and the products
$\beta z$, $z/\alpha$ of the parametric exponentials in double length (their condition number grows like
$|\beta z|$). At $z = 0$ the value is ``slope0``, reached as a limit wherever $\sigma$ is differentiable at 0.
Where the definition itself cancels (Tanhshrink's $z - \tanh z$, BLU's $\sqrt{z^2+1} - 1$, GELU's
$1 + \operatorname{erf}$ for $z < 0$, SoftExponential's and Softshrink's $z$ minus a parameter) ``fn`` evaluates
$\sigma$ the same stable way, so $\Lambda_z z + c = \sigma(z)$ to roundoff. Against ``mpmath``, over
$10^{-300} \le |z| \le 10^{300}$ (float32: $10^{-37} \dots 10^{38}$) and $z = 0$, every activation, both forms
and several parameter values of each sign, the worst errors are 2.4 ulps in float64 and 3 ulps in float32 (with
respect to the parameters as Python floats), relative to the exact secant, or to the
terms that cancel where the secant itself has a zero away from 0 (APLU, SoftExponential with $0 < \alpha < 1$),
or to the condition number at the edge of SoftExponential's domain ($\alpha < 0$); ``tests/test_secants.py``.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

if TYPE_CHECKING:
    from linear_lens.activations import Activation

__all__ = ["secant"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def secant(activation, z, *, form: str = "paper") -> torch.Tensor:
    r"""Return the secant slope of ``form`` elementwise: $\sigma(z)/z$ (``"paper"``, eq. 4) or $(\sigma(z) - \sigma(0))/z$
    (``"shifted"``), with ``slope0`` at $z = 0$ (Remark 11); the diagonal of $\Lambda_z$ in :mod:`linear_lens.affine`.

    ``activation``: as in :func:`get`; ``z``: any shape (integers are computed in float64). Returns the shape, dtype
    and device of ``z``, accurate to a few ulps for registered activations (:meth:`Activation.shifted_secant`,
    :meth:`Activation.secant`). Raises ``ValueError`` for an unknown form or activation and for ``None``, complex,
    boolean or non-finite ``z``.
    """
    from linear_lens._checks import as_float_tensor
    from linear_lens.activations import get

    act = get(activation)
    if form not in ("paper", "shifted"):
        raise ValueError(f"form: expected one of paper, shifted, got {form!r}")
    return _secant(act, as_float_tensor(z, "z"), form)


# ---------------------------------------------------------------------------------------------------------------
# Numerics: secant slopes without cancellation, and sigma itself where its definition cancels
# ---------------------------------------------------------------------------------------------------------------
#
# Every function below takes z (float32 or float64, any shape) and returns g(z) = (sigma(z) - sigma(0)) / z in the
# dtype of z, accurate to a few ulps, with g(0) = slope0. Where g is smooth at 0 the value at 0 comes out of the
# formula (a Taylor polynomial on |u| < cutoff, whose truncation error is below eps/8 there; both branches are
# accurate across the cutoff, so which one a value near it takes does not matter). Where sigma has a kink at 0,
# g jumps there, and the value at exactly 0 is Remark 11's symmetric derivative (_kinked).

_LN2 = math.log(2.0)
_INV_SQRT_PI = 1 / math.sqrt(math.pi)


def _eps(z: torch.Tensor) -> float:
    return torch.finfo(z.dtype).eps


def _ones(z: torch.Tensor) -> torch.Tensor:
    return torch.ones_like(z)


def _kinked(z: torch.Tensor, right, left, at0: float) -> torch.Tensor:
    """Secant of an activation with a kink at 0: ``right`` for z > 0, ``left`` for z < 0, ``at0`` at z = 0."""
    right, left = (v if isinstance(v, torch.Tensor) else torch.full_like(z, v) for v in (right, left))
    return torch.where(z > 0, right, torch.where(z < 0, left, torch.full_like(z, at0)))


def _expm1_ratio(u: torch.Tensor) -> torch.Tensor:
    """(e^u - 1)/u; 1 + u/2 + u^2/6 for |u| < (3 eps)^(1/3) (remainder u^3/24 < eps/8)."""
    small = u.abs() < (3 * _eps(u)) ** (1 / 3)
    safe = torch.where(small, _ones(u), u)
    return torch.where(small, 1 + u * (0.5 + u / 6), torch.expm1(safe) / safe)


def _log1p_ratio(v: torch.Tensor) -> torch.Tensor:
    """ln(1 + v)/v for v > -1; 1 - v/2 + v^2/3 for |v| < (eps/2)^(1/3) (remainder v^3/4 < eps/8)."""
    small = v.abs() < (_eps(v) / 2) ** (1 / 3)
    safe = torch.where(small, _ones(v), v)
    return torch.where(small, 1 - v * (0.5 - v / 3), torch.log1p(safe) / safe)


def _tanh_ratio(u: torch.Tensor) -> torch.Tensor:
    """tanh(u)/u; 1 - u^2/3 for |u| < (15 eps/16)^(1/4) (remainder 2u^4/15 < eps/8)."""
    small = u.abs() < (15 * _eps(u) / 16) ** (1 / 4)
    safe = torch.where(small, _ones(u), u)
    return torch.where(small, 1 - u * u / 3, torch.tanh(safe) / safe)


def _softplus_ratio(u: torch.Tensor) -> torch.Tensor:
    """(ln(1 + e^u) - ln 2)/u = ln(1 + w)/u with w = expm1(u)/2, written as (e/u)(ln(1 + w)/w)/2 with e = expm1(u):
    a product of two ratios, each with its Taylor polynomial where its argument underflows, and no division of a
    difference by u. Where e^u overflows, 1 - ln(2)/u (e^-u is below the last bit there)."""
    limit = _exp_limit(u)
    big = u > limit
    ub = torch.where(big, torch.full_like(u, limit), u)
    e = torch.expm1(ub)
    small_u = ub.abs() < (3 * _eps(u)) ** (1 / 3)
    safe_u = torch.where(small_u, _ones(u), ub)
    r = torch.where(small_u, 1 + ub * (0.5 + ub / 6), e / safe_u)  # (e^u - 1)/u
    w = 0.5 * e
    small_w = w.abs() < (_eps(u) / 2) ** (1 / 3)
    safe_w = torch.where(small_w, _ones(u), w)
    lr = torch.where(small_w, 1 - w * (0.5 - w / 3), torch.log1p(safe_w) / safe_w)  # ln(1 + w)/w
    return torch.where(big, 1 - _LN2 / torch.where(big, u, _ones(u)), 0.5 * r * lr)


_TANHSHRINK_LEVELS = 12  # levels of Lambert's continued fraction: truncation error < 1e-20 for |z| <= 2


def _tanhshrink_ratio(z: torch.Tensor) -> torch.Tensor:
    r"""1 - tanh(z)/z. For |z| <= 2 from Lambert's continued fraction tanh z = z/(1 + T),
    T = z^2/(3 + z^2/(5 + z^2/(7 + ...))), so 1 - tanh(z)/z = T/(1 + T): every operation adds positive terms.
    For |z| > 2, 1 - tanh(z)/z >= 0.5 does not cancel."""
    inner = z.abs() <= 2
    zi = torch.where(inner, z, torch.zeros_like(z))
    zo = torch.where(inner, torch.full_like(z, 4.0), z)
    u = zi * zi
    d = torch.full_like(z, 2.0 * _TANHSHRINK_LEVELS + 1)
    for k in range(_TANHSHRINK_LEVELS - 1, 0, -1):
        d = (2 * k + 1) + u / d
    t = u / d
    return torch.where(inner, t / (1 + t), 1 - torch.tanh(zo) / zo)


class _TimesSecant:
    """sigma(z) = z g(z) with g the stable secant: the evaluation of the activations whose definition cancels
    (Tanhshrink, BLU, GELU). :func:`linear_lens.affine.pointwise_affine` computes g once for both."""

    def __init__(self, secant: Callable[[torch.Tensor], torch.Tensor]):
        self.secant = secant

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.secant(z)


def _exp_limit(z: torch.Tensor) -> float:
    """A bound below which e^u and e^-u are finite in the dtype of z (0.98 ln of its largest float)."""
    return 0.98 * math.log(torch.finfo(z.dtype).max)


def _veltkamp(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x = hi + lo exactly, with hi and lo of half the dtype's precision (Veltkamp's split; |x| < 1e30 here)."""
    t = x * (2.0 ** (27 if x.dtype == torch.float64 else 12) + 1)
    hi = t - (t - x)
    return hi, x - hi


def _double_length(c: Fraction, dtype: torch.dtype) -> tuple[float, float, float, float]:
    """(c_hi, c_lo, c_hi_hi, c_hi_lo): c_hi + c_lo = c to twice the precision of ``dtype``, c_hi split by Veltkamp."""
    np_dtype = {torch.float64: np.float64, torch.float32: np.float32}[dtype]
    hi = np_dtype(float(c))
    lo = np_dtype(float(c - Fraction(float(hi))))
    factor = np_dtype(2.0 ** (27 if dtype == torch.float64 else 12) + 1)
    t = factor * hi
    hh = t - (t - hi)
    return float(hi), float(lo), float(hh), float(hi - hh)


class _Scaling:
    r"""$u = c z$ for a constant $c$ as a double-length number $u_{hi} + u_{lo}$ (Dekker's product).

    An activation such as $\ln(1 + e^{\beta z})/\beta$ has relative condition number about $|\beta z|$, so rounding
    $\beta z$ alone costs $|\beta z|/2$ ulps (26 in float32 at $\beta z = -52$); with $u_{lo}$ a first-order term
    $f'(u_{hi}) u_{lo}$ restores the last bits. ``exact`` is true when $c$ is a power of two ($u_{lo} = 0$).
    """

    def __init__(self, c: float | Fraction):
        c = Fraction(c)
        self.c = float(c)
        num, den = abs(c.numerator), c.denominator
        self.exact = num & (num - 1) == 0 and den & (den - 1) == 0
        self.parts = {dt: _double_length(c, dt) for dt in (torch.float32, torch.float64)}

    def __call__(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        c_hi, c_lo, c_hh, c_hl = self.parts[z.dtype]
        u = z * c_hi
        if self.exact:
            return u, None
        inside = u.abs() <= _exp_limit(z)  # beyond, e^u overflows or e^-u underflows: no last bits to restore
        zs = torch.where(inside, z, torch.zeros_like(z))
        us = zs * c_hi
        z_hi, z_lo = _veltkamp(zs)
        err = ((z_hi * c_hh - us) + z_hi * c_hl + z_lo * c_hh) + z_lo * c_hl
        return u, err + zs * c_lo


def _first_order(value: torch.Tensor, u: torch.Tensor, lo: torch.Tensor | None, slope) -> torch.Tensor:
    """value(u_hi) + value'(u_hi) u_lo, the derivative ``slope(u_hi)`` taken only where |u_hi| >= 1 (elsewhere the
    correction is below half an ulp)."""
    if lo is None:
        return value
    big = (u.abs() >= 1) & (u.abs() <= _exp_limit(u))
    ub = torch.where(big, u, torch.ones_like(u))
    return value + torch.where(big, lo * slope(ub), torch.zeros_like(u))


def _expm1_ratio_at(u: torch.Tensor, lo: torch.Tensor | None) -> torch.Tensor:
    """(e^u - 1)/u at u = u_hi + u_lo."""
    r = _expm1_ratio(u)
    return _first_order(r, u, lo, lambda ub: (torch.exp(ub) - _expm1_ratio(ub)) / ub)


def _expm1_at(u: torch.Tensor, lo: torch.Tensor | None) -> torch.Tensor:
    """e^u - 1 at u = u_hi + u_lo (u_lo = 0 where e^u overflows)."""
    if lo is None:
        return torch.expm1(u)
    return torch.expm1(u) + torch.exp(torch.clamp(u, max=_exp_limit(u))) * lo


def _parts(x: float, dtype: torch.dtype) -> tuple[float, float]:
    """x = hi + lo with hi the nearest float of ``dtype`` (lo = 0 in float64: parameters are Python floats)."""
    if dtype == torch.float64:
        return x, 0.0
    with np.errstate(over="ignore"):
        hi = float(np.float32(x))
    return (hi, float(np.float32(x - hi))) if math.isfinite(hi) else (x, 0.0)


def _minus(z: torch.Tensor, x: float) -> torch.Tensor:
    """z - x for a parameter x that float32 may not hold: (z - x_hi) - x_lo, exact where z is close to x."""
    hi, lo = _parts(x, z.dtype)
    return (z - hi) - lo if lo else z - hi


_INV_SQRT2_LO = -4.833646656726457e-17  # 1/sqrt(2) - math.sqrt(0.5), from mpmath at 50 digits
_INV_SQRT2 = {dt: _double_length(Fraction(math.sqrt(0.5)) + Fraction(_INV_SQRT2_LO), dt)
              for dt in (torch.float32, torch.float64)}


def _phi(z: torch.Tensor) -> torch.Tensor:
    r"""$\Phi(z) = \tfrac12 \operatorname{erfc}(-z/\sqrt 2)$ with the argument in double length.

    $\Phi$ has relative condition number $\approx z^2$ for $z \ll 0$, so rounding $-z/\sqrt 2$ alone costs
    $z^2/2$ ulps (1400 at $z = -35$ in float64). The product $x = -z/\sqrt 2 = x_{hi} + x_{lo}$ is formed exactly
    (Dekker's product with Veltkamp's split; $1/\sqrt 2$ as a sum of two floats) and
    $\operatorname{erfc}(x_{hi} + x_{lo}) = \operatorname{erfc}(x_{hi}) - 2 x_{lo} e^{-x_{hi}^2}/\sqrt\pi$.
    """
    c_hi, c_lo, c_hh, c_hl = _INV_SQRT2[z.dtype]
    a = -z
    inside = a.abs() < (40.0 if z.dtype == torch.float64 else 20.0)  # beyond, Phi is 0 or 1 to the last bit
    a_in = torch.where(inside, a, torch.zeros_like(a))
    p = a_in * c_hi
    a_hi, a_lo = _veltkamp(a_in)
    x_lo = (((a_hi * c_hh - p) + a_hi * c_hl + a_lo * c_hh) + a_lo * c_hl) + a_in * c_lo
    x_hi = torch.where(inside, p, a * c_hi)
    return 0.5 * torch.erfc(x_hi) - x_lo * _INV_SQRT_PI * torch.exp(-x_hi * x_hi)


def _blu_ratio(z: torch.Tensor, beta: float) -> torch.Tensor:
    r"""$1 + \beta(\sqrt{z^2+1} - 1)/z = 1 + s w$ with $w = |z|/(\sqrt{z^2+1} + 1) \in [0, 1)$, $s = \beta\,\mathrm{sign}(z)$.

    Where $s < 0$ and $w > 1/2$ it is $(1 + s) + |s|(1 - w)$ with $1 - w = (1 + 1/(\sqrt{z^2+1} + |z|))/(\sqrt{z^2+1}
    + 1)$: for $|\beta| \le 1$ every sum then adds terms of one sign.
    """
    a = z.abs()
    h = torch.hypot(a, _ones(a))
    w = a / (h + 1)
    s = torch.where(z >= 0, torch.full_like(z, beta), torch.full_like(z, -beta))
    q = (1 + 1 / (h + a)) / (h + 1)
    return torch.where((s >= 0) | (w <= 0.5), 1 + s * w, (1 + s) - s * q)


def _leaky_numerics(a: float):
    return None, lambda z: _kinked(z, 1.0, a, (1 + a) / 2)


def _elu_numerics(alpha: float, scale: float = 1.0):
    return None, lambda z: _kinked(z, scale, scale * alpha * _expm1_ratio(z), scale * (1 + alpha) / 2)


def _hardtanh_numerics(min_val: float, max_val: float):
    def secant(z):
        inside = (z >= min_val) & (z <= max_val)
        safe = torch.where(inside, _ones(z), z)
        return torch.where(inside, _ones(z), torch.where(z > max_val, max_val / safe, min_val / safe))

    return None, secant


def _relu6_secant(z: torch.Tensor) -> torch.Tensor:
    safe = torch.where(z > 6, z, torch.full_like(z, 6.0))
    return torch.where(z > 6, 6 / safe, _kinked(z, 1.0, 0.0, 0.5))


def _softshrink_numerics(lambd: float):
    if lambd == 0:
        return None, _ones

    def secant(z):
        a = z.abs()
        excess = _minus(a, lambd)  # |z| - lambda: exact near lambda, also for a lambda float32 cannot hold
        safe = torch.where(excess > 0, a, _ones(a))
        return torch.where(excess > 0, excess / safe, torch.zeros_like(z))

    def fn(z):
        return torch.sign(z) * torch.clamp(_minus(z.abs(), lambd), min=0.0)

    return fn, secant


def _hardsigmoid_secant(z: torch.Tensor) -> torch.Tensor:
    a = z.abs()
    out = a > 3
    safe = torch.where(out, a, _ones(a))
    return torch.where(out, 0.5 / safe, torch.full_like(z, 1 / 6))


def _soft_exponential_numerics(alpha: float):
    if alpha == 0:
        return None, _ones
    if alpha > 0:
        scale = _Scaling(alpha)
        fn = None if scale.exact else (lambda z: _expm1_at(*scale(z)) / alpha + alpha)
        return fn, lambda z: _expm1_ratio_at(*scale(z))
    one_minus_sq = (1 - alpha) * (1 + alpha)
    c = -alpha / one_minus_sq
    sigma0 = -(math.log1p(-alpha * alpha) if alpha > -0.5 else math.log(one_minus_sq)) / alpha
    # sigma(z) = sigma(0) + ln(1 + c z)/|alpha|: sigma(0) < 0 and the logarithm has the sign of z, so this sum does
    # not cancel for z < z_split (the logarithm at most half of |sigma(0)|); beyond, -ln(1 - alpha(z + alpha))/alpha
    # is accurate near its root z = -alpha, where z + alpha is exact
    z_split = math.expm1(-alpha * abs(sigma0) / 2) / c

    def fn(z):
        left = z <= z_split
        near = sigma0 + torch.log1p(c * torch.where(left, z, torch.zeros_like(z))) / (-alpha)
        far = -torch.log1p(-alpha * _minus(torch.where(left, torch.full_like(z, -alpha), z), -alpha)) / alpha
        return torch.where(left, near, far)

    # (sigma(z) - sigma(0))/z = ln(1 + v)/(v (1 - alpha^2)) with v = c z; for z > 2^60, where c z may overflow,
    # ln(1 + v) = ln c + ln z to the last bit and v (1 - alpha^2) = -alpha z

    def secant(z):
        big = z > 2.0**60
        zb = torch.where(big, z, torch.ones_like(z))
        far = (math.log(c) + torch.log(zb)) / (-alpha) / zb
        return torch.where(big, far, _log1p_ratio(c * torch.where(big, torch.zeros_like(z), z)) / one_minus_sq)

    return fn, secant


def _aplu_numerics(a1: float, b1: float, a2: float, b2: float):
    """On each linear piece sigma(z) = s z + c, so the secant is s + (c - sigma(0))/z, with s and c - sigma(0) from
    the exact (rational) parameters, rounded once: two roundings in all, and s alone on the pieces next to 0."""
    a, b = [Fraction(a1), Fraction(a2)], [Fraction(b1), Fraction(b2)]
    sigma0 = sum(ak * max(bk, 0) for ak, bk in zip(a, b))
    breaks = sorted({Fraction(0), *b})
    pieces = []  # (lower end, slope, offset c - sigma(0)), in order
    for k in range(len(breaks) + 1):
        lo = breaks[k - 1] if k > 0 else None
        hi = breaks[k] if k < len(breaks) else None
        m = (lo + hi) / 2 if lo is not None and hi is not None else (hi - 1 if lo is None else lo + 1)
        slope = (1 if m > 0 else 0) - sum(ak for ak, bk in zip(a, b) if m < bk)
        offset = sum(ak * bk for ak, bk in zip(a, b) if m < bk) - sigma0
        pieces.append((lo, float(slope), float(offset)))
    at0 = 0.5 - sum(float(ak) * (1.0 if bk > 0 else 0.5 if bk == 0 else 0.0) for ak, bk in zip(a, b))

    def secant(z):
        safe = torch.where(z == 0, _ones(z), z)
        out = torch.full_like(z, at0)
        for lo, slope, offset in pieces:
            value = torch.full_like(z, slope) if offset == 0 else slope + offset / safe
            out = out if lo is None else torch.where(z > float(lo), value, out)
            out = value if lo is None else out
        return torch.where(z == 0, torch.full_like(z, at0), out)  # the kink at 0: Remark 11's symmetric derivative

    return None, secant


def _pelu_numerics(alpha: float, beta: float):
    ratio = alpha / beta
    scale = _Scaling(Fraction(1) / Fraction(beta))

    def fn(z):
        neg = torch.where(z > 0, torch.zeros_like(z), z)
        return torch.where(z >= 0, ratio * z, alpha * _expm1_at(*scale(neg)))

    return (None if scale.exact else fn), lambda z: torch.where(z > 0, ratio * _ones(z), ratio * _expm1_ratio_at(*scale(z)))


def _celu_numerics(alpha: float):
    scale = _Scaling(Fraction(1) / Fraction(alpha))

    def fn(z):  # max(0, z) + min(0, alpha (e^(z/alpha) - 1)) is z for z > 0 and alpha (e^(z/alpha) - 1) below
        neg = torch.where(z > 0, torch.zeros_like(z), z)
        return torch.where(z > 0, z, alpha * _expm1_at(*scale(neg)))

    return (None if scale.exact else fn), lambda z: torch.where(z > 0, _ones(z), _expm1_ratio_at(*scale(z)))


def _softplus_numerics(beta: float):
    scale = _Scaling(beta)

    def secant(z):
        u, lo = scale(z)
        return _first_order(_softplus_ratio(u), u, lo, lambda ub: (torch.sigmoid(ub) - _softplus_ratio(ub)) / ub)

    def fn(z):
        u, lo = scale(z)
        return (torch.logaddexp(u, torch.zeros_like(u)) + torch.sigmoid(u) * lo) / beta

    return (None if scale.exact else fn), secant


def _product_numerics(secant):
    fn = _TimesSecant(secant)
    return fn, fn.secant


#: name -> (params -> (stable fn or None to keep the builder's, shifted secant)).
_NUMERICS: dict[str, Callable[..., tuple]] = {
    "soft_exponential": _soft_exponential_numerics,
    "blu": lambda beta: _product_numerics(lambda z: _blu_ratio(z, beta)),
    "prelu": _leaky_numerics,
    "relu": lambda: _leaky_numerics(0.0),
    "gelu": lambda: _product_numerics(_phi),
    "rrelu": lambda lower, upper: _leaky_numerics((lower + upper) / 2),
    "hardtanh": _hardtanh_numerics,
    "relu6": lambda: (None, _relu6_secant),
    "tanh": lambda: (None, _tanh_ratio),
    "elu": _elu_numerics,
    "celu": _celu_numerics,
    "hardshrink": lambda lambd: (None, _ones if lambd <= 0 else
                                 (lambda z: torch.where(z.abs() > lambd, _ones(z), torch.zeros_like(z)))),
    "leaky_relu": lambda negative_slope: _leaky_numerics(negative_slope),
    "softshrink": _softshrink_numerics,
    "softsign": lambda: (None, lambda z: 1 / (1 + z.abs())),
    "tanhshrink": lambda: _product_numerics(_tanhshrink_ratio),
    "aplu": _aplu_numerics,
    "pelu": _pelu_numerics,
    "sigmoid": lambda: (None, lambda z: 0.25 * _tanh_ratio(0.5 * z)),  # (sigma(z) - 1/2)/z = tanh(z/2)/(2z)
    "hardsigmoid": lambda: (None, _hardsigmoid_secant),
    "hardswish": lambda: (None, lambda z: torch.clamp(z + 3, 0.0, 6.0) / 6),
    "selu": lambda: _elu_numerics(_SELU_ALPHA, _SELU_SCALE),
    "logsigmoid": lambda: (None, lambda z: _softplus_ratio(-z)),  # logsigmoid(z) = -softplus(-z)
    "softplus": _softplus_numerics,
    "silu": lambda: (None, torch.sigmoid),
    "identity": lambda: (None, _ones),
}


def _attach(act: Activation) -> Activation:
    """Attach the registered activation's stable secant (and stable fn, where its definition cancels)."""
    fn, secant = _NUMERICS[act.name](**act.params)
    return dataclasses.replace(act, fn=fn if fn is not None else act.fn, secant_fn=secant)


_FALLBACK_H = 2.0**-16  # |z| below which the fallback secant of a callable with sigma(0) != 0 is extrapolated


def _fallback_shifted_secant(act: Activation, z: torch.Tensor) -> torch.Tensor:
    """The generic shifted secant of a user activation, in float64; see :meth:`Activation.shifted_secant`."""
    z64 = z.to(torch.float64)
    zero = z64 == 0  # sigma'(0) is a definition at 0 here (Remark 11), not a limit the formula reaches
    if act.sigma0 == 0:
        safe = torch.where(zero, torch.ones_like(z64), z64)
        g = act.fn(safe).to(torch.float64) / safe
    else:
        h = _FALLBACK_H
        near = z64.abs() < h
        side = torch.where(z64 < 0, -torch.ones_like(z64), torch.ones_like(z64))
        z1 = torch.where(near, side * h, z64)
        g1 = (act.fn(z1).to(torch.float64) - act.sigma0) / z1  # the secant itself away from 0
        g2 = (act.fn(2 * side * h).to(torch.float64) - act.sigma0) / (2 * side * h)
        g = torch.where(near, g1 + (g2 - g1) * (z64.abs() - h) / h, g1)
    return torch.where(zero, torch.full_like(z64, act.slope0), g).to(z.dtype)


def _shifted_secant(act: Activation, z: torch.Tensor) -> torch.Tensor:
    """(sigma(z) - sigma(0))/z for a validated float tensor z (no checks)."""
    if act.secant_fn is None:
        return _fallback_shifted_secant(act, z)
    return act.secant_fn(z)


def _secant(act: Activation, z: torch.Tensor, form: str, s: torch.Tensor | None = None) -> torch.Tensor:
    """The secant of ``form`` ("paper" or "shifted") at a validated float tensor z; ``s`` = sigma(z) if known."""
    if form == "shifted" or act.sigma0 == 0:
        return _shifted_secant(act, z)
    if s is None:
        s = act.fn(z)
    zero = z == 0  # the paper's secant has a pole at 0 (sigma(0) != 0); Remark 11 assigns slope0 there
    return torch.where(zero, torch.full_like(s, act.slope0), s / torch.where(zero, torch.ones_like(z), z))

