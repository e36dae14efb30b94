r"""Activation functions: a registry with definitions, sources, $\sigma(0)$ and the slope at zero.

An activation is a scalar function $\sigma: \mathbb{R} \to \mathbb{R}$ applied elementwise,
$\boldsymbol\sigma(z) = [\sigma(z_1), \dots, \sigma(z_n)]^\top$ (Drgoňa et al., 2020, Section 3.1).
The pointwise affine form of a network (:mod:`linear_lens.affine`) writes it as a diagonal scaling,
$\boldsymbol\sigma(z) = \Lambda_z z + c$, which needs two numbers besides $\sigma$ itself:

- ``sigma0`` $= \sigma(0)$: the activation has a *trivial null space* when it is zero (Lemma 8);
- ``slope0``: the value Remark 11 uses for $\sigma(z)/z$ at $z = 0$, namely $\sigma'(0)$. Where $\sigma$ has a kink
  at 0 (ReLU, LeakyReLU, ...) $\sigma'(0)$ does not exist; the registry then uses the *symmetric derivative*
  $\lim_{h \to 0} (\sigma(h) - \sigma(-h)) / 2h$, the mean of the one-sided slopes, which equals $\sigma'(0)$
  whenever that exists. It is stated per entry, never a silent default.

The registry holds every activation of the footnotes of Section 3.3 of Drgoňa et al. (2020), with PyTorch's
default parameters where PyTorch has the function. The four parametric activations that PyTorch lacks
(SoftExponential, BLU, APLU, PELU) take the parametrisation of their own papers and, as default values, the
initial values of the authors' library (neuromancer, ``neuromancer/activations.py``) or of the activation's own
reference code where the library's differ from the paper's; their parameters are learnable there and fixed here.
Each entry's ``source`` says which (chapter 3 of the book compares them with what the library computes).

The stability classification of these activations (Lemmas 8 and 10 of the paper) is in
:mod:`linear_lens.activation_stability`.

Secant slopes, the diagonal entries of $\Lambda_z$, are computed without cancellation in
:mod:`linear_lens.secants`; :meth:`Activation.secant` and :meth:`Activation.shifted_secant` call it.
The tangent slope $\sigma'$ has a closed form per entry (:meth:`Activation.derivative`): where $\sigma$ has a kink or
a jump it takes the mean of the one-sided derivatives (Remark 11's convention, ``slope0`` at 0) or one of them, on
request; :func:`slope` is the autograd reference it is tested against. The activations of the authors' library as
it computed them in 2020 are in :mod:`linear_lens.authors_activations`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Callable, Mapping

import torch
import torch.nn.functional as F

from linear_lens import secants
from linear_lens.secants import _SELU_ALPHA, _SELU_SCALE

__all__ = ["Activation", "get", "names", "REGISTRY", "symmetric_derivative", "slope"]


@dataclass(frozen=True)
class Activation:
    r"""An elementwise activation $\sigma$ with what the pointwise affine form needs.

    ``name``: canonical name; ``fn``: the elementwise torch function; ``sigma0`` $= \sigma(0)$;
    ``slope0``: $\sigma'(0)$, or the symmetric derivative at 0 where $\sigma$ has a kink (Remark 11);
    ``definition``: one line of LaTeX; ``source``: where the definition comes from;
    ``params``: the parameter values used; ``smooth``: whether $\sigma$ is continuously differentiable;
    ``secant_fn``: $z \mapsto (\sigma(z) - \sigma(0))/z$ evaluated without cancellation, with the value ``slope0`` at
    $z = 0$, in the dtype of $z$ (set for every registered activation; ``None`` selects the generic fallback of
    :meth:`shifted_secant`). Whoever replaces ``fn`` (``dataclasses.replace``) must replace or clear ``secant_fn``.
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor] = field(repr=False)
    sigma0: float
    slope0: float
    definition: str = ""
    source: str = ""
    params: Mapping[str, float] = field(default_factory=dict)
    smooth: bool = True
    secant_fn: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, repr=False, compare=False)
    derivative_fn: Callable[[torch.Tensor, int], torch.Tensor] | None = field(default=None, repr=False, compare=False)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.fn(z)

    def derivative(self, z, *, at_kink: str = "symmetric") -> torch.Tensor:
        r"""Return $\sigma'(z)$ elementwise in closed form, with a stated convention where $\sigma$ has no derivative.

        Where $\sigma$ is differentiable this is $\sigma'(z)$. At a kink or a jump (ReLU at 0, Hardtanh at its
        limits, Hardshrink at $\pm\lambda$, APLU at its hinges, ...) ``at_kink`` decides: ``"symmetric"``, the mean of
        the one-sided derivatives, Remark 11's convention, which is ``slope0`` at $z = 0$ (and the symmetric
        derivative $\lim_h (\sigma(z + h) - \sigma(z - h))/2h$ at every kink of a continuous $\sigma$); ``"left"``
        or ``"right"``, the one-sided derivative (``"left"`` is what PyTorch's autograd returns for ReLU, ELU and
        SELU at 0). Registered activations use their closed forms (``derivative_fn``); a user callable gets
        autograd, whose choice at a kink is the callable's own (``at_kink="symmetric"`` puts ``slope0`` at
        $z = 0$ when $\sigma$ is not ``smooth``).

        ``z``: a tensor or array-like of any shape (integers are computed in float64). Returns the shape, dtype
        and device of ``z``. Raises ``ValueError`` for ``None``, complex, boolean or non-finite ``z`` and an
        unknown ``at_kink``.
        """
        from linear_lens._checks import as_float_tensor

        if at_kink not in _SIDES:
            raise ValueError(f"at_kink: expected one of {', '.join(_SIDES)}, got {at_kink!r}")
        return _derivative(self, as_float_tensor(z, "z"), at_kink)

    def shifted_secant(self, z) -> torch.Tensor:
        r"""Return $(\sigma(z) - \sigma(0))/z$ elementwise, and ``slope0`` where $z = 0$, in the dtype of ``z``.

        The diagonal of $\Lambda_z$ in the shifted form of :mod:`linear_lens.affine`. Registered activations use a
        closed form free of cancellation (:mod:`linear_lens.secants`): accurate to a few ulps for every finite $z$,
        and continuous through $z = 0$ wherever $\sigma$ is differentiable at 0 (``slope0`` is then the limit).

        A user callable (``secant_fn`` is ``None``) gets the generic fallback, computed in float64 and rounded to the
        dtype of ``z``. Where $\sigma(0) = 0$ it is $\sigma(z)/z$ as written, as accurate as $\sigma$ itself.
        Otherwise it is $(\sigma(z) - \sigma(0))/z$ as written for $|z| \ge h = 2^{-16}$, whose relative error is
        about $\epsilon\,|\sigma(0)| / |\sigma(z) - \sigma(0)|$, at most about $10^{-11}\,|\sigma(0)/\sigma'(0)|$;
        for $0 < |z| < h$ it is the straight line through the secants at $\operatorname{sign}(z)\,h$ and
        $\operatorname{sign}(z)\,2h$, which adds at most $h^2 \max|\sigma'''| / 3 \approx 8 \cdot 10^{-11}
        \max|\sigma'''|$, and nothing where $\sigma$ is linear on each side of 0. At $z = 0$ the fallback returns
        ``slope0``, the symmetric derivative (accurate to about $10^{-10}$ for a smooth callable).

        ``z``: a tensor or array-like of any shape (integers are computed in float64). Raises ``ValueError`` for
        ``None``, complex, boolean or non-finite ``z``.
        """
        from linear_lens._checks import as_float_tensor

        return secants._shifted_secant(self, as_float_tensor(z, "z"))

    def secant(self, z) -> torch.Tensor:
        r"""Return the paper's secant slope $\sigma(z)/z$ (eq. 4) elementwise, and ``slope0`` where $z = 0$ (Remark 11).

        Where $\sigma(0) = 0$ this is :meth:`shifted_secant`. Where $\sigma(0) \ne 0$ it is $\sigma(z)/z$ as written
        (it does not cancel, so it is as accurate as ``fn``); it has a pole at $z = 0$, so ``slope0`` there is
        Remark 11's convention, not a limit (errata E01.2), and it overflows to $\pm\infty$ where $|\sigma(0)/z|$
        exceeds the largest float of the dtype (float32: $|z| \lesssim 3 \cdot 10^{-39}\,|\sigma(0)|$).
        ``z`` as in :meth:`shifted_secant`.
        """
        from linear_lens._checks import as_float_tensor

        return secants._secant(self, as_float_tensor(z, "z"), "paper")


def names() -> list[str]:
    """Return the canonical names of the registered activations, in registry order."""
    return list(_BUILDERS)


def get(activation: str | Activation | Callable[[torch.Tensor], torch.Tensor], **params: float) -> Activation:
    r"""Return the :class:`Activation` for a registered name, an :class:`Activation`, or a callable.

    Names are matched ignoring case, ``-`` and ``_`` (``"LeakyReLU"``, ``"leaky_relu"``).
    ``params`` override the registered parameters (``get("elu", alpha=0.5)``).
    A plain callable must act elementwise on a float64 tensor; its ``sigma0`` is evaluated and its ``slope0`` is
    the symmetric derivative at 0 (:func:`symmetric_derivative`).

    Raises ``ValueError`` for an unknown name or unknown parameter names, listing what is allowed.
    """
    if isinstance(activation, Activation):
        if params:
            raise ValueError("params: parameters can only be given with an activation name")
        return activation
    if isinstance(activation, str):
        key = _normalise(activation)
        if key not in _ALIASES:
            raise ValueError(f"activation: unknown name {activation!r}; allowed: {', '.join(names())}")
        name = _ALIASES[key]
        builder, defaults = _BUILDERS[name]
        unknown = set(params) - set(defaults)
        if unknown:
            allowed = ", ".join(defaults) if defaults else "none"
            raise ValueError(f"params: {name} has no parameter {sorted(unknown)}; allowed: {allowed}")
        for k, v in params.items():
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
                raise ValueError(f"params: {name} parameter {k} must be finite and real, got {v!r}")
        values = {**defaults, **{k: float(v) for k, v in params.items()}}
        act = builder(**values)
        return secants._attach(dataclasses.replace(act, derivative_fn=_DERIVATIVES[name](**values)))
    if callable(activation):
        if params:
            raise ValueError("params: parameters can only be given with an activation name")
        return _from_callable(activation)
    raise ValueError(f"activation: expected a name, an Activation or a callable, got {type(activation).__name__}")


def symmetric_derivative(fn: Callable[[torch.Tensor], torch.Tensor], z0: float = 0.0) -> float:
    r"""Return $\lim_{h\to 0} (\sigma(z_0 + h) - \sigma(z_0 - h)) / 2h$, estimated in float64.

    Uses Richardson extrapolation of central differences at $h = 10^{-3}, h/2, h/4$, eliminating the $O(h)$ term
    (present where $\sigma$ has a kink with curvature on one side, as ELU) and the $O(h^2)$ term: exact for
    piecewise-linear $\sigma$ near $z_0$ and accurate to about $10^{-9}$ otherwise.
    """

    if not callable(fn):
        raise ValueError(f"fn: expected an elementwise callable, got {type(fn).__name__}")
    from linear_lens._checks import check_real

    z0 = check_real(z0, "z0")

    def central(h: float) -> float:
        pts = torch.tensor([z0 + h, z0 - h], dtype=torch.float64)
        vals = fn(pts)
        return float((vals[0] - vals[1]) / (2 * h))

    h = 1e-3
    d = [central(h), central(h / 2), central(h / 4)]
    e1 = [2 * d[1] - d[0], 2 * d[2] - d[1]]
    return (4 * e1[1] - e1[0]) / 3




def slope(activation, z: torch.Tensor) -> torch.Tensor:
    r"""Return $\sigma'(z)$ elementwise by autograd, batched: the tangent slope, next to the secant $\sigma(z)/z$ of eq. (4).

    ``activation``: as in :func:`get`; ``z``: any shape, float (float64 recommended). Returns the shape and device
    of ``z``. At a kink autograd returns one of the one-sided slopes. Raises ``ValueError`` for non-finite ``z``.
    """
    from linear_lens._checks import as_float_tensor

    act = get(activation)
    z = as_float_tensor(z, "z").detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (d,) = torch.autograd.grad(act(z).sum(), z)
    return d


# ---------------------------------------------------------------------------------------------------------------
# Private helpers and the registry
# ---------------------------------------------------------------------------------------------------------------

#: at_kink of :meth:`Activation.derivative` -> the side a kink belongs to (0: the mean of both).
_SIDES = {"symmetric": 0, "left": -1, "right": 1}


def _derivative(act: Activation, z: torch.Tensor, at_kink: str) -> torch.Tensor:
    """sigma'(z) for a validated float tensor z (no checks); see :meth:`Activation.derivative`."""
    side = _SIDES[at_kink]
    d = act.derivative_fn
    if d is None:
        zz = z.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            (out,) = torch.autograd.grad(act.fn(zz).sum(), zz)
        if side == 0 and not act.smooth:
            out = torch.where(z == 0, torch.full_like(out, act.slope0), out)
        return out
    if side or act.smooth:
        return d(z, side or 1)
    return 0.5 * (d(z, -1) + d(z, 1))


def _right(z: torch.Tensor, k: float, side: int) -> torch.Tensor:
    """Whether z lies on the piece right of a kink at k; z = k counts as right when ``side`` > 0."""
    return z >= k if side > 0 else z > k


def _piece(mask: torch.Tensor, z: torch.Tensor, inside, outside) -> torch.Tensor:
    inside, outside = (v if isinstance(v, torch.Tensor) else torch.full_like(z, v) for v in (inside, outside))
    return torch.where(mask, inside, outside)


def _d_leaky(a: float):
    return lambda z, s: _piece(_right(z, 0.0, s), z, 1.0, a)


def _d_window(lo: float, hi: float, value: float = 1.0):
    """value on (lo, hi), 0 outside: Hardtanh, ReLU6, Hardsigmoid."""
    return lambda z, s: _piece(_right(z, lo, s) & ~_right(z, hi, s), z, value, 0.0)


def _d_shrink(lambd: float):
    """1 on |z| > lambda, 0 inside: Hardshrink and Softshrink (the identity when lambda <= 0)."""
    if lambd <= 0:
        return lambda z, s: torch.ones_like(z)
    return lambda z, s: _piece(_right(z, lambd, s) | ~_right(z, -lambd, s), z, 1.0, 0.0)


def _d_exp(scale: float, alpha: float, beta: float = 1.0):
    """scale on z > 0, scale alpha e^(z/beta)/beta on z < 0: ELU, SELU, CELU (alpha = beta), PELU."""
    def d(z, s):
        right = _right(z, 0.0, s)
        neg = torch.exp(torch.where(right, torch.zeros_like(z), z) / beta)
        return _piece(right, z, scale, scale * alpha / beta * neg)

    return d


def _d_sigmoid(z, s):
    p = torch.sigmoid(z)
    return p * (1 - p)


def _d_soft_exponential(alpha: float):
    if alpha == 0:
        return lambda z, s: torch.ones_like(z)
    if alpha > 0:
        return lambda z, s: torch.exp(alpha * z)

    def d(z, s):  # 1/(1 - alpha(z + alpha)); sigma is undefined (NaN) where the denominator is not positive
        den = 1 - alpha * (z + alpha)
        return torch.where(den > 0, 1 / den, torch.full_like(z, math.nan))

    return d


def _d_aplu(a1: float, b1: float, a2: float, b2: float):
    def d(z, s):
        out = _right(z, 0.0, s).to(z.dtype)
        for a, b in ((a1, b1), (a2, b2)):
            out = out - a * (~_right(z, b, s)).to(z.dtype)
        return out

    return d


def _d_hardswish(z, s):
    inner = (2 * z + 3) / 6
    return torch.where(_right(z, 3.0, s), torch.ones_like(z), torch.where(_right(z, -3.0, s), inner,
                                                                           torch.zeros_like(z)))


def _d_silu(z, s):
    p = torch.sigmoid(z)
    return p * (1 + z * (1 - p))


def _d_gelu(z, s):
    return 0.5 * torch.erfc(-z / math.sqrt(2.0)) + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


#: name -> (params -> sigma'(z, side)): the closed-form derivatives of the registry, side as in :func:`_right`.
_DERIVATIVES: dict[str, Callable[..., Callable[[torch.Tensor, int], torch.Tensor]]] = {
    "soft_exponential": _d_soft_exponential,
    "blu": lambda beta: (lambda z, s: 1 + beta * z / torch.hypot(z, torch.ones_like(z))),
    "prelu": lambda a: _d_leaky(a),
    "relu": lambda: _d_leaky(0.0),
    "gelu": lambda: _d_gelu,
    "rrelu": lambda lower, upper: _d_leaky((lower + upper) / 2),
    "hardtanh": lambda min_val, max_val: _d_window(min_val, max_val),
    "relu6": lambda: _d_window(0.0, 6.0),
    "tanh": lambda: (lambda z, s: 1 - torch.tanh(z) ** 2),
    "elu": lambda alpha: _d_exp(1.0, alpha),
    "celu": lambda alpha: _d_exp(1.0, alpha, alpha),
    "hardshrink": lambda lambd: _d_shrink(lambd),
    "leaky_relu": lambda negative_slope: _d_leaky(negative_slope),
    "softshrink": lambda lambd: _d_shrink(lambd),
    "softsign": lambda: (lambda z, s: 1 / (1 + z.abs()) ** 2),
    "tanhshrink": lambda: (lambda z, s: torch.tanh(z) ** 2),
    "aplu": _d_aplu,
    "pelu": lambda alpha, beta: _d_exp(alpha / beta, beta, beta),
    "sigmoid": lambda: _d_sigmoid,
    "hardsigmoid": lambda: _d_window(-3.0, 3.0, 1 / 6),
    "hardswish": lambda: _d_hardswish,
    "selu": lambda: _d_exp(_SELU_SCALE, _SELU_ALPHA),
    "logsigmoid": lambda: (lambda z, s: torch.sigmoid(-z)),
    "softplus": lambda beta: (lambda z, s: torch.sigmoid(beta * z)),
    "silu": lambda: _d_silu,
    "identity": lambda: (lambda z, s: torch.ones_like(z)),
}


def _normalise(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


def _from_callable(fn: Callable[[torch.Tensor], torch.Tensor]) -> Activation:
    zero = torch.zeros(1, dtype=torch.float64)
    try:
        sigma0 = float(fn(zero)[0])
    except Exception as err:  # noqa: BLE001 - any failure means the callable is unusable here
        raise ValueError(f"activation: the callable failed on a float64 tensor: {err}") from err
    slope0 = symmetric_derivative(fn)
    if not (math.isfinite(sigma0) and math.isfinite(slope0)):
        raise ValueError("activation: the callable is not finite at 0 (sigma(0) or its slope)")
    name = getattr(fn, "__name__", type(fn).__name__)
    return Activation(name, fn, sigma0, slope0, definition="user-supplied", source="user", smooth=False)


def _leaky(z: torch.Tensor, slope: float) -> torch.Tensor:
    return torch.where(z >= 0, z, slope * z)


def _relu(**p):
    return Activation("relu", torch.relu, 0.0, 0.5, r"\max(0, z)", "Nair and Hinton (2010); torch.nn.ReLU",
                      p, smooth=False)


def _prelu(a):
    return Activation("prelu", lambda z: _leaky(z, a), 0.0, (1 + a) / 2, r"\max(0,z) + a\min(0,z)",
                      "He et al. (2015); torch.nn.PReLU (a learnable, initialised at 0.25 in both)", {"a": a}, smooth=False)


def _gelu(**p):
    return Activation("gelu", F.gelu, 0.0, 0.5, r"z\,\Phi(z)", "Hendrycks and Gimpel (2016); torch.nn.GELU", p)


def _rrelu(lower, upper):
    slope = (lower + upper) / 2
    return Activation("rrelu", lambda z: _leaky(z, slope), 0.0, (1 + slope) / 2,
                      r"\max(0,z) + \tfrac{l+u}{2}\min(0,z)",
                      "Xu et al. (2015); torch.nn.RReLU in eval mode (slope (l+u)/2)",
                      {"lower": lower, "upper": upper}, smooth=False)


def _hardtanh(min_val, max_val):
    if not min_val < 0 < max_val:
        raise ValueError(f"params: hardtanh needs min_val < 0 < max_val, got {min_val}, {max_val}")
    return Activation("hardtanh", lambda z: torch.clamp(z, min_val, max_val), 0.0, 1.0,
                      r"\min(\max(z, z_{\min}), z_{\max})", "torch.nn.Hardtanh",
                      {"min_val": min_val, "max_val": max_val}, smooth=False)


def _relu6(**p):
    return Activation("relu6", lambda z: torch.clamp(z, 0.0, 6.0), 0.0, 0.5, r"\min(\max(0, z), 6)",
                      "Krizhevsky (2010); torch.nn.ReLU6", p, smooth=False)


def _tanh(**p):
    return Activation("tanh", torch.tanh, 0.0, 1.0, r"\tanh z", "torch.nn.Tanh", p)


def _elu(alpha):
    return Activation("elu", lambda z: torch.where(z > 0, z, alpha * torch.expm1(torch.clamp(z, max=0.0))), 0.0,
                      (1 + alpha) / 2, r"z \text{ if } z>0 \text{ else } \alpha(e^z-1)",
                      "Clevert et al. (2016); torch.nn.ELU", {"alpha": alpha}, smooth=alpha == 1.0)


def _celu(alpha):
    if alpha == 0:
        raise ValueError("params: celu needs alpha != 0")
    return Activation("celu", lambda z: F.celu(z, alpha=alpha),
                      0.0, 1.0, r"\max(0,z) + \min(0, \alpha(e^{z/\alpha}-1))", "Barron (2017); torch.nn.CELU",
                      {"alpha": alpha})


def _hardshrink(lambd):
    # lambd <= 0 makes it the identity, whose slope at 0 is 1
    return Activation("hardshrink", lambda z: torch.where(z.abs() > lambd, z, torch.zeros_like(z)), 0.0,
                      1.0 if lambd <= 0 else 0.0,
                      r"z \text{ if } |z|>\lambda \text{ else } 0", "torch.nn.Hardshrink", {"lambd": lambd},
                      smooth=False)


def _leaky_relu(negative_slope):
    return Activation("leaky_relu", lambda z: _leaky(z, negative_slope), 0.0, (1 + negative_slope) / 2,
                      r"\max(0,z) + a\min(0,z)", "Maas et al. (2013); torch.nn.LeakyReLU",
                      {"negative_slope": negative_slope}, smooth=False)


def _softshrink(lambd):
    if lambd < 0:
        raise ValueError(f"params: softshrink needs lambd >= 0 (as torch.nn.Softshrink), got {lambd}")
    return Activation("softshrink", lambda z: torch.sign(z) * torch.clamp(z.abs() - lambd, min=0.0), 0.0,
                      1.0 if lambd == 0 else 0.0,
                      r"\operatorname{sign}(z)\max(|z|-\lambda, 0)", "torch.nn.Softshrink", {"lambd": lambd},
                      smooth=False)


def _softsign(**p):
    return Activation("softsign", lambda z: z / (1 + z.abs()), 0.0, 1.0, r"z / (1 + |z|)", "torch.nn.Softsign", p)


def _tanhshrink(**p):
    return Activation("tanhshrink", lambda z: z - torch.tanh(z), 0.0, 0.0, r"z - \tanh z", "torch.nn.Tanhshrink", p)


def _soft_exponential(alpha):
    def fn(z: torch.Tensor) -> torch.Tensor:
        if alpha == 0:
            return z.clone()
        if alpha < 0:
            return -torch.log1p(-alpha * (z + alpha)) / alpha
        return torch.expm1(alpha * z) / alpha + alpha

    if alpha <= -1:
        raise ValueError(f"params: soft_exponential needs alpha > -1, got {alpha}")
    if alpha == 0:
        sigma0, slope0 = 0.0, 1.0
    elif alpha < 0:
        one_minus_sq = (1 - alpha) * (1 + alpha)  # 1 - alpha^2 without cancellation as alpha -> -1
        log_term = math.log1p(-alpha * alpha) if alpha > -0.5 else math.log(one_minus_sq)
        sigma0, slope0 = -log_term / alpha, 1 / one_minus_sq
    else:
        sigma0, slope0 = alpha, 1.0
    return Activation("soft_exponential", fn, sigma0, slope0,
                      r"-\ln(1-\alpha(z+\alpha))/\alpha,\; z,\; (e^{\alpha z}-1)/\alpha + \alpha"
                      r"\text{ for } \alpha<0, =0, >0",
                      "Godfrey and Gashler (2015); alpha learnable, initialised at 0 (the identity) in neuromancer's "
                      "SoftExponential",
                      {"alpha": alpha})


def _blu(beta):
    return Activation("blu", lambda z: beta * (torch.sqrt(z * z + 1) - 1) + z, 0.0, 1.0,
                      r"\beta(\sqrt{z^2+1}-1) + z",
                      "Bendable linear unit, Godfrey (2019): beta(sqrt(z^2 + a^2) - a) + z with a = 1 as in "
                      "neuromancer's BLU; beta learnable, initialised at 0 (the identity) there",
                      {"beta": beta})


def _aplu(a1, b1, a2, b2):
    def fn(z: torch.Tensor) -> torch.Tensor:
        return torch.relu(z) + a1 * torch.relu(b1 - z) + a2 * torch.relu(b2 - z)

    sigma0 = a1 * max(b1, 0.0) + a2 * max(b2, 0.0)
    slope0 = 0.5 - sum(a * (1.0 if b > 0 else 0.5 if b == 0 else 0.0) for a, b in ((a1, b1), (a2, b2)))
    return Activation("aplu", fn, sigma0, slope0, r"\max(0,z) + \sum_{s=1}^{2} a_s \max(0, b_s - z)",
                      "Agostinelli et al. (2015), two segments; a_s, b_s learnable, initialised U(0, 1) in neuromancer's "
                      "APLU: here their mean 1/2",
                      {"a1": a1, "b1": b1, "a2": a2, "b2": b2}, smooth=False)


def _pelu(alpha, beta):
    if alpha <= 0 or beta <= 0:
        raise ValueError(f"params: pelu needs alpha > 0 and beta > 0, got {alpha}, {beta}")
    return Activation("pelu",
                      lambda z: torch.where(z >= 0, (alpha / beta) * z,
                                            alpha * torch.expm1(torch.clamp(z, max=0.0) / beta)),
                      0.0, alpha / beta,
                      r"\tfrac{\alpha}{\beta} z \text{ if } z \ge 0 \text{ else } \alpha(e^{z/\beta}-1)",
                      "Trottier et al. (2017); alpha, beta learnable, initialised at 1 (ELU) in the authors' code "
                      "(ltrottier/pelu.resnet.torch)", {"alpha": alpha, "beta": beta})


def _sigmoid(**p):
    return Activation("sigmoid", torch.sigmoid, 0.5, 0.25, r"1/(1+e^{-z})", "torch.nn.Sigmoid", p)


def _hardsigmoid(**p):
    return Activation("hardsigmoid", lambda z: torch.clamp(z + 3, 0.0, 6.0) / 6, 0.5, 1 / 6,
                      r"\min(\max(0, z+3), 6)/6", "torch.nn.Hardsigmoid", p, smooth=False)


def _hardswish(**p):
    return Activation("hardswish", lambda z: z * torch.clamp(z + 3, 0.0, 6.0) / 6, 0.0, 0.5,
                      r"z\min(\max(0, z+3), 6)/6", "Howard et al. (2019); torch.nn.Hardswish", p, smooth=False)


def _selu(**p):
    return Activation("selu",
                      lambda z: _SELU_SCALE * torch.where(z > 0, z, _SELU_ALPHA * torch.expm1(torch.clamp(z, max=0.0))),
                      0.0, _SELU_SCALE * (1 + _SELU_ALPHA) / 2,
                      r"s\,(z \text{ if } z>0 \text{ else } \alpha(e^z-1))",
                      "Klambauer et al. (2017); torch.nn.SELU", p, smooth=False)


def _logsigmoid(**p):
    return Activation("logsigmoid", F.logsigmoid, -math.log(2.0), 0.5, r"-\ln(1+e^{-z})", "torch.nn.LogSigmoid", p)


def _softplus(beta):
    if beta <= 0:
        raise ValueError(f"params: softplus needs beta > 0, got {beta}")
    # ln(1 + e^u)/beta = (max(u, 0) + ln(1 + e^-|u|))/beta: no threshold (torch's Softplus returns z beyond one);
    # the quantities that cancel against z, such as sigma(z) - z, have their own stable forms
    # (activation_stability.excess, the secants of secants.py)
    return Activation("softplus", lambda z: _softplus_fn(z, beta), math.log(2.0) / beta, 0.5,
                      r"\tfrac{1}{\beta}\ln(1+e^{\beta z})", "torch.nn.Softplus", {"beta": beta})


def _softplus_fn(z: torch.Tensor, beta: float) -> torch.Tensor:
    u = beta * z
    return torch.logaddexp(u, torch.zeros_like(u)) / beta


def _silu(**p):
    return Activation("silu", F.silu, 0.0, 0.5, r"z/(1+e^{-z})", "Elfwing et al. (2018); torch.nn.SiLU", p)


def _identity(**p):
    return Activation("identity", lambda z: z.clone(), 0.0, 1.0, r"z", "linear network", p)


# name -> (builder, default parameters); the first 24 are the footnotes of Section 3.3, in their order.
_BUILDERS: dict[str, tuple[Callable[..., Activation], dict[str, float]]] = {
    "soft_exponential": (_soft_exponential, {"alpha": 0.0}),
    "blu": (_blu, {"beta": 0.0}),
    "prelu": (_prelu, {"a": 0.25}),
    "relu": (_relu, {}),
    "gelu": (_gelu, {}),
    "rrelu": (_rrelu, {"lower": 1 / 8, "upper": 1 / 3}),
    "hardtanh": (_hardtanh, {"min_val": -1.0, "max_val": 1.0}),
    "relu6": (_relu6, {}),
    "tanh": (_tanh, {}),
    "elu": (_elu, {"alpha": 1.0}),
    "celu": (_celu, {"alpha": 1.0}),
    "hardshrink": (_hardshrink, {"lambd": 0.5}),
    "leaky_relu": (_leaky_relu, {"negative_slope": 0.01}),
    "softshrink": (_softshrink, {"lambd": 0.5}),
    "softsign": (_softsign, {}),
    "tanhshrink": (_tanhshrink, {}),
    "aplu": (_aplu, {"a1": 0.5, "b1": 0.5, "a2": 0.5, "b2": 0.5}),
    "pelu": (_pelu, {"alpha": 1.0, "beta": 1.0}),
    "sigmoid": (_sigmoid, {}),
    "hardsigmoid": (_hardsigmoid, {}),
    "hardswish": (_hardswish, {}),
    "selu": (_selu, {}),
    "logsigmoid": (_logsigmoid, {}),
    "softplus": (_softplus, {"beta": 1.0}),
    "silu": (_silu, {}),
    "identity": (_identity, {}),
}

_ALIASES: dict[str, str] = {_normalise(n): n for n in _BUILDERS}
_ALIASES.update({"softexponential": "soft_exponential", "leakyrelu": "leaky_relu", "swish": "silu",
                 "logistic": "sigmoid", "linear": "identity"})

#: Every registered activation with its default parameters, by canonical name.
REGISTRY: dict[str, Activation] = {name: get(name) for name in _BUILDERS}
