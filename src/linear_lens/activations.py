r"""Activation functions: a registry with definitions, sources, $\sigma(0)$ and the slope at zero.

An activation is a scalar function $\sigma: \mathbb{R} \to \mathbb{R}$ applied elementwise,
$\boldsymbol\sigma(z) = [\sigma(z_1), \dots, \sigma(z_n)]^\top$ (Drgona et al., 2020, Section 3.1).
The pointwise affine form of a network (:mod:`linear_lens.affine`) writes it as a diagonal scaling,
$\boldsymbol\sigma(z) = \Lambda_z z + c$, which needs two numbers besides $\sigma$ itself:

- ``sigma0`` $= \sigma(0)$: the activation has a *trivial null space* when it is zero (Lemma 8);
- ``slope0``: the value Remark 11 uses for $\sigma(z)/z$ at $z = 0$, namely $\sigma'(0)$. Where $\sigma$ has a kink
  at 0 (ReLU, LeakyReLU, ...) $\sigma'(0)$ does not exist; the registry then uses the *symmetric derivative*
  $\lim_{h \to 0} (\sigma(h) - \sigma(-h)) / 2h$, the mean of the one-sided slopes, which equals $\sigma'(0)$
  whenever that exists. It is stated per entry, never a silent default.

The registry holds every activation of the footnotes of Section 3.3 of Drgona et al. (2020), with PyTorch's
default parameters where PyTorch has the function. The four parametric activations that PyTorch lacks
(SoftExponential, BLU, APLU, PELU) take the parametrisation of their own papers and, as default values, the
initial values of the authors' library (neuromancer, ``neuromancer/activations.py``) or of the activation's own
reference code where the library's differ from the paper's; their parameters are learnable there and fixed here.
Each entry's ``source`` says which (chapter 3 of the book compares them with what the library computes).

The stability classification of these activations (Lemmas 8 and 10 of the paper) is in
:mod:`linear_lens.activation_stability`.

Secant slopes. The diagonal of $\Lambda_z$ is a *secant slope* of $\sigma$: $\sigma(z)/z$ (the paper's form,
eq. 4) or $(\sigma(z) - \sigma(0))/z$ (the shifted form). Computed as written, both lose every digit as
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
import numbers
from fractions import Fraction
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["Activation", "get", "names", "REGISTRY", "symmetric_derivative", "slope", "secant"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


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

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.fn(z)

    def shifted_secant(self, z) -> torch.Tensor:
        r"""Return $(\sigma(z) - \sigma(0))/z$ elementwise, and ``slope0`` where $z = 0$, in the dtype of ``z``.

        The diagonal of $\Lambda_z$ in the shifted form of :mod:`linear_lens.affine`. Registered activations use a
        closed form free of cancellation (see the module docstring): accurate to a few ulps for every finite $z$,
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

        return _shifted_secant(self, as_float_tensor(z, "z"))

    def secant(self, z) -> torch.Tensor:
        r"""Return the paper's secant slope $\sigma(z)/z$ (eq. 4) elementwise, and ``slope0`` where $z = 0$ (Remark 11).

        Where $\sigma(0) = 0$ this is :meth:`shifted_secant`. Where $\sigma(0) \ne 0$ it is $\sigma(z)/z$ as written
        (it does not cancel, so it is as accurate as ``fn``); it has a pole at $z = 0$, so ``slope0`` there is
        Remark 11's convention, not a limit (errata E01.2), and it overflows to $\pm\infty$ where $|\sigma(0)/z|$
        exceeds the largest float of the dtype (float32: $|z| \lesssim 3 \cdot 10^{-39}\,|\sigma(0)|$).
        ``z`` as in :meth:`shifted_secant`.
        """
        from linear_lens._checks import as_float_tensor

        return _secant(self, as_float_tensor(z, "z"), "paper")


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
        return _with_numerics(builder(**values))
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


def secant(activation, z, *, form: str = "paper") -> torch.Tensor:
    r"""Return the secant slope of ``form`` elementwise: $\sigma(z)/z$ (``"paper"``, eq. 4) or $(\sigma(z) - \sigma(0))/z$
    (``"shifted"``), with ``slope0`` at $z = 0$ (Remark 11); the diagonal of $\Lambda_z$ in :mod:`linear_lens.affine`.

    ``activation``: as in :func:`get`; ``z``: any shape (integers are computed in float64). Returns the shape, dtype
    and device of ``z``, accurate to a few ulps for registered activations (:meth:`Activation.shifted_secant`,
    :meth:`Activation.secant`). Raises ``ValueError`` for an unknown form or activation and for ``None``, complex,
    boolean or non-finite ``z``.
    """
    from linear_lens._checks import as_float_tensor

    act = get(activation)
    if form not in ("paper", "shifted"):
        raise ValueError(f"form: expected one of paper, shifted, got {form!r}")
    return _secant(act, as_float_tensor(z, "z"), form)




# ---------------------------------------------------------------------------------------------------------------
# Private helpers and the registry
# ---------------------------------------------------------------------------------------------------------------


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
    return Activation("softplus", lambda z: F.softplus(z, beta=beta, threshold=40.0), math.log(2.0) / beta, 0.5,
                      r"\tfrac{1}{\beta}\ln(1+e^{\beta z})", "torch.nn.Softplus", {"beta": beta})


def _silu(**p):
    return Activation("silu", F.silu, 0.0, 0.5, r"z/(1+e^{-z})", "Elfwing et al. (2018); torch.nn.SiLU", p)


def _identity(**p):
    return Activation("identity", lambda z: z.clone(), 0.0, 1.0, r"z", "linear network", p)


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
        return (F.softplus(u, threshold=40.0) + torch.sigmoid(u) * lo) / beta

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


def _with_numerics(act: Activation) -> Activation:
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
