r"""Stability of activations: Lemmas 8 and 10 and Remark 11 of Drgoňa et al. (2020), computed with evidence.

The activations themselves are in :mod:`linear_lens.activations` (the registry).

Section 3.3 of the paper, Lemmas 8 and 10, Remark 11. The eigenvalues of $\Lambda_z$ are the secant slopes
$\sigma(z_i)/z_i$, so what an activation can do to them is summed up by

- $r(\sigma) = \sup_z |\sigma(z)/z|$ (with $|\sigma'(0)|$ at $0$), the largest eigenvalue modulus of any $\Lambda_z$;
- $K(\sigma)$, the Lipschitz constant of Definition 7, which bounds $r$ when $\sigma(0) = 0$ but can exceed it;
- the gains $g_\pm = \lim_{z \to \pm\infty} |\sigma(z)/z|$, which decide whether layers with $\|W\|_2 < 1$ keep
  their states bounded (the corrected Lemma 10).

:func:`classify` computes them, from closed forms for the registered activations
(:mod:`linear_lens.activation_closed_forms`) and by a float64 grid search for any elementwise callable, and returns an
:class:`ActivationStability` with the verdicts, the evidence (where each supremum is attained) and the verdicts of the
paper's footnotes (:data:`PAPER_FOOTNOTES`). :func:`sweep` classifies over a range of one parameter,
:func:`unstable_interval` gives the set where $|\sigma(z)/z| > 1$ (exact ends, $\pm\infty$ where it is unbounded),
:func:`excess` the distance $|\sigma(z)| - |z|$ outside the cone in a stable form, :func:`offset` the constant of the
corrected Lemma 10, and :func:`iterate`, :func:`iterate_layer` run the scalar layer $x_{k+1} = w\,\sigma(x_k)$ and the
layer $x_{k+1} = W\sigma(x_k) + b$.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import torch

from linear_lens._checks import as_float_tensor, check_positive_int, check_real
from linear_lens.activations import Activation, _ALIASES, _normalise, get, names
from linear_lens.activation_closed_forms import CLOSED_FORMS, SETS, _cf
from linear_lens.secants import _secant

__all__ = [
    "ActivationStability", "classify", "paper_footnotes", "sweep", "offset", "state_bound", "unstable_interval",
    "excess", "iterate",
    "iterate_layer",
    "PAPER_FOOTNOTES", "METHODS",
]


#: The footnotes of Section 3.3 of Drgoňa et al. (2020), names as printed, in their order (seed
#: ``drgona-spectral-analysis-stability-deep-neural-dynamics.md``, footnotes 1-3 under Fig. 1).
#: 1: "Asymptotically stable activations"; 2: "Activations with unstable regions" (Hardswish is printed twice);
#: 3: "BIBO stable activations", introduced as "some activations", so not claimed to be exhaustive.
PAPER_FOOTNOTES: dict[int, tuple[str, ...]] = {
    1: ("SoftExponential", "BLU", "PReLU", "ReLU", "GELU", "RReLU", "Hardtanh", "ReLU6", "Tanh", "ELU", "CELU",
        "Hardshrink", "LeakyReLU", "Softshrink", "Softsign", "Tanhshrink"),
    2: ("APLU", "PELU", "Sigmoid", "Hardsigmoid", "Hardswish", "SELU", "LogSigmoid", "Softplus", "Hardswish"),
    3: ("Sigmoid", "Hardsigmoid"),
}

#: Methods :func:`classify` accepts.
METHODS = ("auto", "analytic", "numeric")


@dataclass(frozen=True)
class ActivationStability:
    r"""What Section 3.3 of Drgoňa et al. (2020) asks of an activation $\sigma$, computed, with the evidence.

    Quantities (``inf`` where unbounded):

    - ``sigma0`` $=\sigma(0)$; ``null_space_trivial``: $\sigma(0) = 0$ (Lemma 8);
    - ``max_ratio`` $= \sup_z |\sigma(z)/z|$ with $|\sigma'(0)|$ at $z = 0$ (Remark 11): the largest
      $|\text{eigenvalue}|$ of $\Lambda_z$ (eq. 4) over all $z$; ``max_ratio_at``: a $z$ where it is attained or
      approached ($\pm\infty$: a limit at infinity; $0$: at or next to $z = 0$);
    - ``lipschitz`` $= \sup_{a \ne b} |\sigma(a) - \sigma(b)|/|a - b|$ (Definition 7), which is $\sup|\sigma'|$ for a
      continuous, piecewise $C^1$ $\sigma$ and $\infty$ where $\sigma$ jumps; ``lipschitz_at`` as above;
    - ``gain`` $= (\lim_{z\to-\infty}, \lim_{z\to+\infty})\, |\sigma(z)/z|$, the asymptotic gains;
    - ``locally_bounded``: $\sigma$ is defined and finite on every bounded interval;
    - ``unstable_interval``: the smallest interval holding every $z$ with $|\sigma(z)/z| > 1 + $ ``atol``
      (``None`` if there is none or $\sigma$ is asymptotically stable; infinite ends where the set is unbounded),
      Lemma 10's "bounded interval": from the closed forms for the analytic method (:func:`unstable_interval`),
      from the grid for the numeric one.

    Verdicts, each up to the tolerance ``atol`` (a rounding excess such as $1 + 10^{-7}$ flips none):

    - ``asymptotically_stable``: $\sigma(0) = 0$ and ``max_ratio`` $\le 1$, i.e. $\rho(\Lambda_z) \le 1$ for every
      $z$: Lemma 8 in its non-strict form, with the secant ratio of Remark 11 in place of the Lipschitz constant
      (corrected: see errata E03.1, E03.2). It is the condition Theorem 6 and Fig. 1 use.
    - ``contractive``: $\sigma(0) = 0$ and ``max_ratio`` $< 1$: the strict form, $\rho(\Lambda_z) \le K < 1$.
    - ``lipschitz_stable``: $\sigma(0) = 0$ and ``lipschitz`` $\le 1$: Lemma 8's hypothesis as printed (non-strict);
      it implies ``asymptotically_stable`` but not conversely.
    - ``bibo_stable``: ``locally_bounded`` and $\max(\text{gain}) \le 1$: every network $x \mapsto W\sigma(x) + b$
      with $\|W\|_2 < 1$ has bounded trajectories (the operational form of Lemma 10, see errata E03.6).

    ``method``: ``"analytic"`` (closed forms) or ``"numeric"`` (float64 grid); ``evidence``: one line per quantity
    saying where the supremum is attained and why; ``footnotes``: the footnotes of the paper that list $\sigma$.
    """

    name: str
    params: Mapping[str, float]
    sigma0: float
    null_space_trivial: bool
    max_ratio: float
    max_ratio_at: float
    lipschitz: float
    lipschitz_at: float
    gain: tuple[float, float]
    locally_bounded: bool
    unstable_interval: tuple[float, float] | None
    asymptotically_stable: bool
    contractive: bool
    lipschitz_stable: bool
    bibo_stable: bool
    method: str
    atol: float
    evidence: Mapping[str, str] = field(default_factory=dict)
    footnotes: tuple[int, ...] = ()

    @property
    def paper_verdict(self) -> dict[str, bool | None]:
        """The paper's claims: ``asymptotically_stable`` (footnote 1 True, 2 False) and ``bibo_stable`` (footnote 3
        True); ``None`` where the paper makes no claim."""
        stable = True if 1 in self.footnotes else False if 2 in self.footnotes else None
        return {"asymptotically_stable": stable, "bibo_stable": True if 3 in self.footnotes else None}

    @property
    def agrees_with_paper(self) -> bool | None:
        """Whether every claim of :attr:`paper_verdict` matches the computed verdict; ``None`` if the paper makes none."""
        claims = {k: v for k, v in self.paper_verdict.items() if v is not None}
        if not claims:
            return None
        return all(getattr(self, k) == v for k, v in claims.items())


def paper_footnotes(activation: str) -> tuple[int, ...]:
    """Return the footnotes (1, 2, 3) of Section 3.3 of Drgoňa et al. (2020) that list ``activation``.

    ``activation``: a registered name (any spelling :func:`get` accepts). Raises ``ValueError`` for an unknown name.
    """
    if not isinstance(activation, str) or _normalise(activation) not in _ALIASES:
        raise ValueError(f"activation: unknown name {activation!r}; allowed: {', '.join(names())}")
    name = _ALIASES[_normalise(activation)]
    return tuple(k for k, listed in PAPER_FOOTNOTES.items() if name in {_ALIASES[_normalise(n)] for n in listed})


def classify(
    activation: str | Activation | Callable[[torch.Tensor], torch.Tensor],
    *,
    method: str = "auto",
    atol: float = 1e-6,
    **params: float,
) -> ActivationStability:
    r"""Classify an activation by Lemmas 8 and 10 and Remark 11 of Drgoňa et al. (2020); see :class:`ActivationStability`.

    $\Lambda_z = \operatorname{diag}(\sigma(z_i)/z_i)$ (eq. 4) has eigenvalues $\sigma(z_i)/z_i$, so
    $\sup_z \rho(\Lambda_z) = \sup_z |\sigma(z)/z|$, with $|\sigma'(0)|$ at $z = 0$ (Remark 11).

    ``activation``: a registered name (with ``params`` as in :func:`get`), an :class:`Activation`, or an elementwise
    callable acting on float64 tensors. ``method``: ``"analytic"`` uses the closed forms of the registered
    activations (exact suprema, and where they are attained); ``"numeric"`` evaluates $\sigma$ in float64 on a grid
    of $0$, $\pm 10^{-8} \dots \pm 10^{8}$ (log-spaced) and $[-10, 10]$ (uniform), refines each interior maximum,
    takes $\sigma'$ by autograd, detects jumps by bisection, and reads the gains at $|z| = 10^8$;
    ``"auto"`` is ``"analytic"`` for registered activations and ``"numeric"`` otherwise. ``atol``: the tolerance of
    every verdict (``max_ratio <= 1 + atol``, ...), in $[0, 10^{-2}]$.

    Numeric caveats: a supremum narrower than the grid can be missed, and a gain that converges more slowly than
    at $|z| = 10^8$ is read off there. The analytic and numeric results agree for every registered activation
    (``tests/test_activation_stability.py``).

    Raises ``ValueError`` for an unknown activation, method or parameter, or an ``atol`` out of range.
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    atol = _check_atol(atol)
    act = get(activation, **params)
    registered = _is_registered(act)
    if method == "analytic" and not registered:
        raise ValueError(f"method: no closed form for {act.name!r}; use 'numeric' or 'auto' for a callable")
    use_analytic = method == "analytic" or (method == "auto" and registered)
    values = CLOSED_FORMS[act.name](**act.params) if use_analytic else _numeric(act)
    footnotes = paper_footnotes(act.name) if registered else ()
    return _verdicts(act, values, "analytic" if use_analytic else "numeric", atol, footnotes)


def sweep(activation: str, param: str, values, *, method: str = "auto", atol: float = 1e-6,
          **fixed: float) -> dict[str, np.ndarray]:
    r"""Classify a registered activation for each value of one of its parameters (the others in ``fixed``).

    ``activation``: a registered name; ``param``: one of its parameters; ``values``: ``(P,)`` finite numbers.
    Returns arrays of shape ``(P,)``: ``values``, ``max_ratio``, ``lipschitz``, ``gain`` (the larger of the two),
    ``sigma0``, and the booleans ``asymptotically_stable``, ``lipschitz_stable``, ``bibo_stable``.
    Each value is a different function, classified by :func:`classify` (whose grid evaluation is batched).

    Raises ``ValueError`` for an unknown activation or parameter, or values the activation does not accept.
    """
    if not isinstance(activation, str):
        raise ValueError(f"activation: expected a registered name, got {type(activation).__name__}")
    act = get(activation)
    if not isinstance(param, str) or param not in act.params:
        allowed = ", ".join(act.params) or "none"
        raise ValueError(f"param: {act.name} has no parameter {param!r}; allowed: {allowed}")
    vals = as_float_tensor(values, "values", dtype=torch.float64).reshape(-1).cpu().numpy()
    if vals.size == 0:
        raise ValueError("values: expected a non-empty array of finite numbers")
    results = [classify(act.name, method=method, atol=atol, **{**fixed, param: float(v)}) for v in vals]
    out = {"values": vals}
    for key in ("max_ratio", "lipschitz", "sigma0"):
        out[key] = np.array([getattr(r, key) for r in results], dtype=np.float64)
    out["gain"] = np.array([max(r.gain) for r in results], dtype=np.float64)
    for key in ("asymptotically_stable", "lipschitz_stable", "bibo_stable"):
        out[key] = np.array([getattr(r, key) for r in results], dtype=bool)
    return out




def offset(activation, **params: float) -> float:
    r"""Return $M = \sup_z \big(|\sigma(z)| - |z|\big)$, so that $|\sigma(z)| \le |z| + M$ for every $z$.

    The constant in the proof of the corrected Lemma 10: with it, every trajectory of
    $x_{k+1} = W\sigma(x_k) + b$, $x \in \mathbb{R}^n$, $\|W\|_2 = w < 1$, satisfies
    $\|x_k\|_2 \le \max\big(\|x_0\|_2, (w \max(M, 0)\sqrt{n} + \|b\|_2)/(1 - w)\big)$.
    ``activation`` and ``params`` as in :func:`classify`. Estimated on the float64 grid of :func:`classify`
    (``inf`` if $\sigma$ is not locally bounded or its gain exceeds 1); an excess that grows more slowly than the
    grid can see (like $\sqrt{|z|}$) is underestimated. Raises ``ValueError`` as :func:`get` does.
    """
    act = get(activation, **params)
    c = classify(act)
    if not c.bibo_stable:
        return _INF
    e = excess(act, torch.as_tensor(_grid(), dtype=torch.float64)).numpy()
    return float(np.nanmax(e)) if not np.isnan(e).all() else _INF


def state_bound(activation, weight: float, bias_norm: float, n: int, **params: float) -> float:
    r"""Return the bound of the corrected Lemma 10: $C = (w \max(M, 0)\sqrt n + \lVert b\rVert_2)/(1 - w)$.

    Every trajectory of $x_{k+1} = W\sigma(x_k) + b$, $x \in \mathbb{R}^n$, $\lVert W\rVert_2 = w < 1$, satisfies
    $\lVert x_k\rVert_2 \le \max(\lVert x_0\rVert_2, C)$, with $M$ = :func:`offset` (``inf`` when $\sigma$ is
    not BIBO stable). ``weight``: $w \in [0, 1)$; ``bias_norm``: $\lVert b\rVert_2 \ge 0$; ``n``: the width.
    ``activation``, ``params`` as in :func:`classify`. Raises ``ValueError`` for values out of range.
    """
    w, beta = check_real(weight, "weight"), check_real(bias_norm, "bias_norm")
    if not 0 <= w < 1:
        raise ValueError(f"weight: expected a number in [0, 1), got {w}")
    if beta < 0:
        raise ValueError(f"bias_norm: expected a number >= 0, got {beta}")
    n = check_positive_int(n, "n")
    M = offset(activation, **params)
    if math.isinf(M):
        return _INF
    return (w * max(M, 0.0) * math.sqrt(n) + beta) / (1 - w)


def unstable_interval(activation, *, atol: float = 0.0, **params: float) -> tuple[float, float] | None:
    r"""Return the smallest interval holding every $z$ with $|\sigma(z)/z| > 1 + $ ``atol``, or ``None`` if there is none.

    Lemma 10's "bounded interval" of inputs outside which the eigenvalues of $\Lambda_z$ are stable, when the set is
    bounded; an end is $\pm\infty$ exactly where the set is unbounded. At $z = 0$ the ratio is $|\sigma'(0)|$
    (Remark 11), and where $\sigma(0) \ne 0$ the set contains a neighbourhood of 0. The set can have gaps (APLU,
    SoftExponential): the interval is its hull.

    For a registered activation (name and ``params`` as in :func:`classify`) the ends come from the closed forms:
    exact for the linear pieces (APLU, Hardsigmoid, the leaky family) and for BLU (the half-angle substitution
    $w = \tanh(\operatorname{asinh}|z|/2)$), and otherwise the unique root of a monotone closed-form function on a
    bracket (``brentq`` to $10^{-15}$): the exponential branches of ELU, SELU, CELU and PELU
    ($\kappa(1 - e^{-u})/u = 1 + $ ``atol``, whose root is a value of Lambert's $W$), Sigmoid, Softplus,
    LogSigmoid, SoftExponential. Unboundedness is decided from the asymptotics, not from a grid:
    Softplus has $\sigma(z)/z - 1 = \ln(1 + e^{-\beta z})/(\beta z) > 0$ for every $z > 0$, so with ``atol`` $= 0$
    its set is $(-\ln\varphi/\beta, \infty)$, $\varphi$ the golden ratio, and LogSigmoid's is $(-\infty, \ln\varphi)$;
    with ``atol`` $> 0$ both are bounded. For SoftExponential with $\alpha < 0$ the left end is the edge
    $(1 - \alpha^2)/\alpha$ of $\sigma$'s domain, where $\sigma \to -\infty$.

    For any other callable it is the grid estimate of :func:`classify` with its ends refined by bisection; there
    ``atol`` should be positive, since a float32 evaluation can exceed 1 by a rounding error. ``atol``: in
    $[0, 10^{-2}]$. Raises ``ValueError`` as :func:`classify` does.
    """
    atol = _check_atol(atol)
    act = get(activation, **params)
    if _is_registered(act):
        return SETS[act.name](1.0 + atol, **act.params)
    return _grid_interval(act, atol)


def excess(activation, z, **params: float) -> torch.Tensor:
    r"""Return $|\sigma(z)| - |z|$ elementwise, positive exactly where $|\sigma(z)/z| > 1$ (outside the cone).

    Computed as written, it is $0$ wherever $|\sigma(z)|$ rounds to $|z|$, although the exact value may be
    positive: Softplus has $\sigma(z) - z = \ln(1 + e^{-\beta z})/\beta > 0$ for every $z > 0$, below the last bit
    of $z$ beyond $z \approx 37/\beta$ in float64. Softplus and LogSigmoid, whose excess is exponentially small
    where it is positive, use that form (``log1p`` of an exponential), accurate to a few ulps of the excess; the
    others are evaluated as written. ``activation``, ``params`` as in :func:`classify`; ``z``: any shape (integers
    are computed in float64). Returns the shape, dtype and device of ``z``. Raises ``ValueError`` for ``None``,
    complex, boolean or non-finite ``z``.
    """
    act = get(activation, **params)
    z = as_float_tensor(z, "z")
    if _is_registered(act) and act.name in ("softplus", "logsigmoid"):
        if act.name == "softplus":
            beta, u = act.params["beta"], act.params["beta"] * z
        else:
            beta, u = 1.0, -z  # |logsigmoid(z)| = softplus(-z)
        tail = torch.log1p(torch.exp(-u.abs())) / beta  # |sigma| = max(u, 0)/beta + tail, and max(u, 0)/beta = |z|
        return torch.where(u >= 0, tail, tail - z.abs())
    return act(z).abs() - z.abs()


def iterate_layer(activation, W: torch.Tensor, b: torch.Tensor | None, x0: torch.Tensor, steps: int) -> torch.Tensor:
    r"""Iterate the layer $x_{k+1} = W\sigma(x_k) + b$ and return $x_0, \dots, x_K$, batched over starting points.

    ``activation``: as in :func:`get`; ``W``: ``(n, n)``; ``b``: ``(n,)`` or ``None``; ``x0``: ``(..., n)``;
    ``steps``: $K \ge 1$. Returns ``(K + 1, ..., n)`` in float64 on the device of ``x0``.
    Raises ``ValueError`` for mismatched shapes, non-finite input or a ``steps`` that is not a positive integer.
    """
    act = get(activation)
    steps = check_positive_int(steps, "steps")
    x = as_float_tensor(x0, "x0", dtype=torch.float64)
    W = as_float_tensor(W, "W", dtype=torch.float64).to(x.device)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or x.ndim < 1 or x.shape[-1] != W.shape[1]:
        raise ValueError(f"W: expected a square (n, n) matrix matching x0 (..., n); got W {tuple(W.shape)}, "
                         f"x0 {tuple(x.shape)}")
    b = torch.zeros(W.shape[0], dtype=torch.float64, device=x.device) if b is None else \
        as_float_tensor(b, "b", dtype=torch.float64).to(x.device)
    if b.shape != (W.shape[0],):
        raise ValueError(f"b: expected shape ({W.shape[0]},), got {tuple(b.shape)}")
    out = [x]
    for _ in range(steps):
        out.append(act(out[-1]) @ W.mT + b)
    return torch.stack(out)


def iterate(activation, w, x0, steps: int) -> torch.Tensor:
    r"""Iterate the scalar layer $x_{k+1} = w\,\sigma(x_k)$ and return $x_0, \dots, x_K$, batched.

    The simplest network whose boundedness Lemma 10 is about: a weight $|w| < 1$ (stable) and the activation.
    ``activation``: as in :func:`get`; ``w``, ``x0``: numbers or tensors, broadcast together to ``(...)``;
    ``steps``: $K \ge 1$. Returns ``(K + 1, ...)`` in float64 (on the device of ``x0`` if it is a tensor).
    Raises ``ValueError`` for non-finite ``w`` or ``x0`` or a ``steps`` that is not a positive integer.
    """
    act = get(activation)
    steps = check_positive_int(steps, "steps")
    x = as_float_tensor(x0, "x0", dtype=torch.float64)
    w = as_float_tensor(w, "w", dtype=torch.float64).to(x.device)
    try:
        x, w = torch.broadcast_tensors(x, w)
    except RuntimeError as err:
        raise ValueError(f"w, x0: shapes {tuple(w.shape)} and {tuple(x.shape)} do not broadcast") from err
    out = [x]
    for _ in range(steps):
        out.append(w * act(out[-1]))
    return torch.stack(out)


# ---------------------------------------------------------------------------------------------------------------
# Private helpers: the numerical classification
# ---------------------------------------------------------------------------------------------------------------

_INF = math.inf
_Z_LO, _Z_HI = 1e-8, 1e8  # innermost and outermost |z| of the numerical grid




def _check_atol(atol) -> float:
    if isinstance(atol, bool) or not isinstance(atol, (int, float, np.floating, np.integer)) or not 0 <= atol <= 1e-2:
        raise ValueError(f"atol: expected a number in [0, 0.01], got {atol!r}")
    return float(atol)


def _is_registered(act: Activation) -> bool:
    """Whether ``act`` is a registry activation (by name, parameters, definition and source), so closed forms apply."""
    if act.name not in CLOSED_FORMS:
        return False
    try:
        ref = get(act.name, **act.params)
    except ValueError:
        return False
    return (ref.definition, ref.source, dict(ref.params)) == (act.definition, act.source, dict(act.params))


def _grid() -> np.ndarray:
    pos = np.logspace(-8, 8, 2401)
    z = np.unique(np.concatenate([-pos, pos, np.linspace(-10.0, 10.0, 4001)]))
    keep = np.concatenate([[True], np.diff(z) > 1e-6 * np.maximum(np.abs(z[1:]), 1e-8)])  # no near-duplicates
    return z[keep]


def _eval(act: Activation, z: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = act(torch.as_tensor(z, dtype=torch.float64))
    return out.detach().to("cpu", torch.float64).numpy()


def _ratio(act: Activation, z: np.ndarray) -> np.ndarray:
    """|sigma(z)/z| from the stable secant of the registry (slope0 at z = 0, Remark 11); NaN (sigma undefined) -> inf."""
    with torch.no_grad():
        r = _secant(act, torch.as_tensor(z, dtype=torch.float64), "paper").abs().cpu().numpy()
    r[np.isnan(r)] = _INF
    return r


def _abs_derivative(act: Activation, z: np.ndarray) -> np.ndarray:
    zt = torch.as_tensor(z, dtype=torch.float64).clone().requires_grad_(True)
    try:
        (d,) = torch.autograd.grad(act(zt).sum(), zt)
        d = d.detach().cpu().numpy()
    except (RuntimeError, TypeError):  # a callable autograd cannot follow: central differences
        h = 1e-6 * np.maximum(1.0, np.abs(z))
        d = (_eval(act, z + h) - _eval(act, z - h)) / (2 * h)
    d = np.abs(d)
    d[np.isnan(d)] = _INF
    return d


def _sup(g: Callable[[np.ndarray], np.ndarray], z: np.ndarray) -> tuple[float, float]:
    """Max of g on the grid z (ties: the largest |z|), refined on finer grids around an isolated interior maximum."""
    vals = g(z)
    vmax = float(vals.max())
    if not math.isfinite(vmax):
        return _INF, float(z[int(np.argmax(vals))])
    ties = np.flatnonzero(vals >= vmax - 1e-12 * max(1.0, abs(vmax)))
    i = int(ties[np.argmax(np.abs(z[ties]))])
    best, at = vmax, float(z[i])
    if 0 < i < len(z) - 1 and len(ties) == 1:
        a, b = z[i - 1], z[i + 1]
        for _ in range(4):
            zz = np.linspace(a, b, 201)
            v = g(zz)
            j = int(np.argmax(v))
            if v[j] > best:
                best, at = float(v[j]), float(zz[j])
            a, b = zz[max(j - 1, 0)], zz[min(j + 1, 200)]
    return best, at


def _where(at: float) -> float:
    if abs(at) >= _Z_HI * (1 - 1e-9):
        return math.copysign(_INF, at)
    return 0.0 if abs(at) <= 1e-5 else at


def _describe(at: float) -> str:
    if math.isinf(at):
        return f"approached at the end of the grid: limit as z -> {'+' if at > 0 else '-'}inf"
    return f"grid maximum at z = {at:.6g}"


def _numeric(act: Activation) -> dict:
    z = _grid()
    s = _eval(act, z)
    locally_bounded = not np.isnan(s).any() and bool(np.isfinite(s[np.abs(z) <= 100]).all())
    ends = _eval(act, np.array([-_Z_HI, _Z_HI]))
    gain = tuple(float(abs(v) / _Z_HI) if math.isfinite(v) else _INF for v in ends)
    near0 = np.abs(_eval(act, np.array([-_Z_LO, _Z_LO]))).max()
    if act.sigma0 != 0:
        ratio, r_at, r_how = _INF, 0.0, f"sigma(0) = {act.sigma0:.4g} != 0, so |sigma(z)/z| -> inf as z -> 0"
    elif not near0 <= 1e-6:
        ratio, r_at, r_how = _INF, 0.0, "sigma(z) does not tend to 0 as z -> 0: |sigma(z)/z| -> inf"
    else:
        ratio, r_at = _sup(lambda zz: _ratio(act, zz), z)
        r_at = _where(r_at)
        r_how = _describe(r_at)
    lip, l_at = _sup(lambda zz: _abs_derivative(act, zz), z)
    l_at, l_how = _where(l_at), _describe(_where(l_at))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        roundoff = 8 * np.finfo(np.float64).eps * np.maximum(np.abs(s[1:]), np.abs(s[:-1]))
        secant = np.maximum(np.abs(np.diff(s)) - roundoff, 0.0) / np.diff(z)  # a lower bound of the true secant
    secant[np.isnan(secant)] = _INF
    k = int(np.argmax(secant))
    if secant[k] > lip * (1 + 1e-6) + 1e-9:  # steeper than every derivative: is it a jump?
        a, b = float(z[k]), float(z[k + 1])
        for _ in range(200):
            m = 0.5 * (a + b)
            if m in (a, b):
                break
            sa, sm, sb = _eval(act, np.array([a, m, b]))
            if abs(sm - sa) >= abs(sb - sm):
                b = m
            else:
                a = m
        sa, sb = _eval(act, np.array([a, b]))
        jump = abs(sb - sa)
        if not jump <= 1e-6 * max(1.0, abs(sa)):  # else: no jump, and the secant is roundoff (float32 callables)
            lip, l_at, l_how = _INF, 0.5 * (a + b), f"sigma jumps by {jump:.4g} at z = {0.5 * (a + b):.6g}"
    return _cf(ratio, r_at, r_how, lip, l_at, l_how, gain, locally_bounded)


def _grid_interval(act: Activation, atol: float) -> tuple[float, float] | None:
    """Hull of {z : |sigma(z)/z| > 1 + atol} on the grid, its finite ends refined by bisection."""
    z = _grid()
    mask = _ratio(act, z) > 1 + atol
    if not mask.any():
        return None

    def edge(out: float, inside: float) -> float:
        for _ in range(100):
            m = 0.5 * (out + inside)
            if m in (out, inside):
                break
            if _ratio(act, np.array([m]))[0] > 1 + atol:
                inside = m
            else:
                out = m
        return 0.5 * (out + inside)

    idx = np.flatnonzero(mask)
    i, j = int(idx[0]), int(idx[-1])
    lo = -_INF if i == 0 else edge(float(z[i - 1]), float(z[i]))
    hi = _INF if j == len(z) - 1 else edge(float(z[j + 1]), float(z[j]))
    return (lo, hi)


def _verdicts(act: Activation, v: dict, method: str, atol: float, footnotes: tuple[int, ...]) -> ActivationStability:
    trivial = act.sigma0 == 0.0
    stable = trivial and v["max_ratio"] <= 1 + atol
    interval = None
    if not stable:
        interval = SETS[act.name](1.0 + atol, **act.params) if method == "analytic" else _grid_interval(act, atol)
        if interval is None:  # the excess is only approached beyond the grid
            interval = (v["max_ratio_at"], v["max_ratio_at"])
    return ActivationStability(
        name=act.name,
        params=dict(act.params),
        sigma0=float(act.sigma0),
        null_space_trivial=trivial,
        max_ratio=v["max_ratio"],
        max_ratio_at=v["max_ratio_at"],
        lipschitz=v["lipschitz"],
        lipschitz_at=v["lipschitz_at"],
        gain=v["gain"],
        locally_bounded=v["locally_bounded"],
        unstable_interval=interval,
        asymptotically_stable=stable,
        contractive=trivial and v["max_ratio"] < 1 - atol,
        lipschitz_stable=trivial and v["lipschitz"] <= 1 + atol,
        bibo_stable=v["locally_bounded"] and max(v["gain"]) <= 1 + atol,
        method=method,
        atol=atol,
        evidence={"max_ratio": v["max_ratio_how"], "lipschitz": v["lipschitz_how"]},
        footnotes=footnotes,
    )
