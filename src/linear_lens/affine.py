r"""Deep networks as pointwise affine maps $f(x) = A^*(x)\,x + b^*(x)$ (Drgoňa et al., 2020, Lemma 3).

Write each activation as a diagonal scaling plus a constant, $\boldsymbol\sigma(z) = \Lambda_z z + c_z$. Then the
network of eq. (6) (see :mod:`linear_lens.networks`) is, by composition,

$$A^*(x) = A_L \Lambda_{z_L} A_{L-1} \cdots \Lambda_{z_1} A_0, \qquad
  b^*_0 = b_0, \quad b^*_l = A_l (\Lambda_{z_l} b^*_{l-1} + c_{z_l}) + b_l, \quad b^*(x) = b^*_L,$$

with pre-activations $z_{l} = A_{l-1} h_{l-1} + b_{l-1}$. Two choices of $(\Lambda, c)$ are implemented:

- ``form="paper"``: $\Lambda_z = \operatorname{diag}(\sigma(z_i)/z_i)$ and $c = 0$, eq. (4); this is the paper's
  $A^*$ (eq. 5) and its bias recursion (eq. 7).
- ``form="shifted"``: $\Lambda_z = \operatorname{diag}((\sigma(z_i) - \sigma(0))/z_i)$ and $c = \sigma(0)\mathbf{1}$:
  the offset $\sigma(0)$ moves into the bias. It agrees with ``"paper"`` when $\sigma(0) = 0$.

The diagonal entries are the secant slopes of :mod:`linear_lens.activations` (:meth:`Activation.secant`,
:meth:`Activation.shifted_secant`), computed without cancellation: accurate to a few ulps in float32 and float64 at
every $z$, tiny $z$ included. The shifted form, and the paper's when $\sigma(0) = 0$, is continuous through
$z_i = 0$ wherever $\sigma$ is differentiable there, with the value $\sigma'(0)$ (``Activation.slope0``) that
Remark 11 prescribes; where $\sigma$ has a kink at 0, $\Lambda$ jumps there and takes Remark 11's symmetric
derivative at exactly $z_i = 0$. When $\sigma(0) \ne 0$ the paper's $\Lambda$ has a pole at $z_i = 0$
(errata E1.2 of the book): no finite $\Lambda$ maps $0$ to $\sigma(0)$, so at exactly those entries the
``"paper"`` form uses $\sigma'(0)$ and puts $c_i = \sigma(0)$; $f$ is then reproduced at every $x$, and $A^*$ is
the paper's wherever it is defined. Nearby, its entries grow like $\sigma(0)/z_i$ and overflow where that exceeds
the largest float ($|z_i| \lesssim 10^{-38}$ in float32), which raises a ``ValueError`` that says so.

The recursion is written once (``_compose``): :func:`pointwise_affine` runs it for one network, and
:func:`linear_lens.spectral_fields.affine_field` for a batch of networks with their own activations. The
independent references are :func:`jacobian` (autograd) and the reconstruction $A^*(x)x + b^*(x) = f(x)$ against
:func:`linear_lens.networks.forward` (:func:`reconstruction_error`).

Every function here takes ``x`` (and the weights) under the dtype policy of :mod:`linear_lens._checks`: float32 and
float64 are kept, mixed float dtypes are promoted to the widest, integers become float64, and complex, boolean and
``None`` input are refused with a ``ValueError`` naming the parameter.
"""

from __future__ import annotations

from typing import Sequence

import torch

from linear_lens import activations, secants
from linear_lens._checks import (
    as_float_tensor,
    as_generator,
    check_nonnegative_int,
    check_positive_int,
    check_positive_real,
)
from linear_lens.networks import check_network, check_values, forward_unchecked

__all__ = [
    "pointwise_affine",
    "activation_scaling",
    "preactivations",
    "layer_scalings",
    "jacobian",
    "reconstruction_error",
    "secant_tangent_gap",
    "exactness_sweep",
    "jacobian_gap_sweep",
    "FORMS",
]

#: The decompositions of $\sigma(z)$ that :func:`pointwise_affine` implements.
FORMS = ("paper", "shifted")


def pointwise_affine(
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor] | None,
    activation,
    x: torch.Tensor,
    *,
    form: str = "paper",
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $A^*(x)$ and $b^*(x)$ with $f(x) = A^*(x)\,x + b^*(x)$ (Lemma 3; eqs. 5-7 of Drgoňa et al., 2020).

    ``weights``: $[A_0, \dots, A_L]$, ``A_l`` of shape ``(n_{l+1}, n_l)``; ``biases``: $[b_0, \dots, b_L]$ or
    ``None`` (eq. 3, no bias); ``activation``: a registered name, an ``Activation`` or an elementwise callable,
    applied after every hidden layer and not after the last; ``x``: ``(..., n_0)``, batched over any leading dims;
    ``form``: ``"paper"`` ($\Lambda = \sigma(z)/z$, eq. 4) or ``"shifted"`` ($\Lambda = (\sigma(z)-\sigma(0))/z$,
    $\sigma(0)$ in the bias), see the module docstring.

    Returns ``A``: ``(..., n_{L+1}, n_0)`` and ``b``: ``(..., n_{L+1})``, in the promoted dtype of the inputs.
    ``b`` is zero exactly when there are no biases and no offsets $c$ (``form="paper"`` with $\sigma(0)=0$, or
    any form with $\sigma(0) = 0$).

    Raises ``ValueError`` for mismatched shapes, an unknown activation or form, a missing (``None``) or non-finite
    input, and for a paper-form $\Lambda$ that overflows next to a pole (see the module docstring).
    """
    weights, biases, x = check_network(weights, biases, x)
    act = activations.get(activation)
    _check_form(form)
    pole = form == "paper" and act.sigma0 != 0
    A, b, overflow = _compose(weights, biases, x, lambda z: _value_and_scaling(act, z, form), track_poles=pole)
    if overflow and not bool(torch.isfinite(A).all() and torch.isfinite(b).all()):
        raise ValueError(
            f"form: the paper form's Lambda = sigma(z)/z overflowed in {A.dtype} at a pre-activation next to 0, where "
            f"{act.name} has a pole (sigma(0) = {act.sigma0:.4g} != 0, errata E01.2); use form='shifted' or float64"
        )
    check_values(A, act)
    check_values(b, act)
    return A, b


def activation_scaling(activation, z: torch.Tensor, *, form: str = "paper") -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return the diagonal $\lambda$ of $\Lambda_z$ and the offset $c$ with $\sigma(z) = \lambda \odot z + c$ (eq. 4).

    ``activation``: as in :func:`pointwise_affine`; ``z``: pre-activations of any shape (a tensor, array or number;
    integers are computed in float64); ``form``: ``"paper"`` or ``"shifted"``. $\lambda$ is the secant slope of
    :meth:`Activation.secant` (paper) or :meth:`Activation.shifted_secant` (shifted), accurate to a few ulps at
    every $z$; at $z_i = 0$ it is $\sigma'(0)$ (Remark 11), and $c_i = \sigma(0)$ there in both forms. Both outputs
    have the shape, dtype and device of ``z``. Raises ``ValueError`` for ``None``, complex, boolean or non-finite
    ``z``, and for an unknown activation or form.
    """
    act = activations.get(activation)
    _check_form(form)
    z = as_float_tensor(z, "z")
    return _scaling(act, z, act(z), form)


def preactivations(
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor] | None,
    activation,
    x: torch.Tensor,
) -> list[torch.Tensor]:
    r"""Return the pre-activations $z_1, \dots, z_L$ of the hidden layers at ``x``, each of shape ``(..., n_l)``.

    $z_l = A_{l-1} h_{l-1} + b_{l-1}$ (eq. 6). $A^*(x)$ of eq. (5) is undefined exactly where some entry of some
    $z_l$ is zero, which is a union of hypersurfaces in $x$-space, not the coordinate hyperplanes $x_i = 0$.
    """
    weights, biases, x = check_network(weights, biases, x)
    act = activations.get(activation)
    zs = []
    h = x
    for l, W in enumerate(weights[:-1]):
        z = h @ W.mT + (biases[l] if biases is not None else 0)
        zs.append(z)
        h = act(z)
    return zs


def layer_scalings(
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor] | None,
    activation,
    x: torch.Tensor,
    *,
    form: str = "paper",
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    r"""Return the diagonals $\lambda_{z_1}, \dots, \lambda_{z_L}$ and offsets $c_{z_1}, \dots, c_{z_L}$ at ``x``.

    These are the activation scaling matrices $\Lambda_{z_l}$ of eq. (5), one per hidden layer, each of shape
    ``(..., n_l)``; Theorem 6's sufficient condition is stated in terms of them.
    """
    act = activations.get(activation)
    _check_form(form)
    pairs = [_scaling(act, z, act(z), form) for z in preactivations(weights, biases, act, x)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def jacobian(
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor] | None,
    activation,
    x: torch.Tensor,
) -> torch.Tensor:
    r"""Return the Jacobian $\partial f / \partial x$ by reverse-mode autodiff (``torch.func.jacrev``), batched.

    The independent reference for Proposition 12 of Drgoňa et al. (2020): for ReLU networks $A^*(x)$ equals this
    Jacobian wherever no pre-activation is zero. Returns ``(..., n_{L+1}, n_0)``.
    """
    weights, biases, x = check_network(weights, biases, x)
    act = activations.get(activation)

    def f(v: torch.Tensor) -> torch.Tensor:
        return forward_unchecked(weights, biases, act, v)

    flat = x.reshape(-1, x.shape[-1])
    J = torch.func.vmap(torch.func.jacrev(f))(flat)
    return J.reshape(*x.shape[:-1], *J.shape[-2:])


def reconstruction_error(
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor] | None,
    activation,
    x: torch.Tensor,
    *,
    form: str = "paper",
) -> tuple[float, float]:
    r"""Return how exactly $A^*(x)x + b^*(x)$ reproduces $f(x)$ (Lemma 3), as ``(forward, backward)``.

    ``forward`` $= \max |f(x) - A^*(x)x - b^*(x)| / (1 + |f(x)|)$ over the batch and outputs;
    ``backward`` $= \max |f(x) - A^*(x)x - b^*(x)| / s(x)$, the error relative to the size of the terms that are
    summed, which is what floating point can promise. $A^*$ and $b^*$ are products of the layers' factors, so the
    size is the same nested product with every factor replaced by its absolute value,
    $s = |W_L|\bigl(|\Lambda_{L-1}|(|W_{L-1}| \cdots (|\Lambda_1|(|W_1||x| + |b_1|) + |c_1|) \cdots) + |c_{L-1}|\bigr)
    + |b_L|$ (with the hidden layers' biases where the network has them), which bounds the rounding error of
    every way of evaluating them; $|A^*(x)|\,|x| + |b^*(x)|$ alone can be far smaller where the product cancels.
    The backward error is a few units of roundoff even where $A^*$ has huge entries (the ``"paper"`` form near
    $z_i = 0$ when $\sigma(0) \ne 0$), while ``forward`` then grows with the size of those entries. Below the
    normal range roundoff is absolute (gradual underflow: an
    operation may err by $2^{-1074} = \epsilon \cdot$ the smallest normal float in float64), so the size is taken
    as at least the smallest normal float of the dtype: a deep Tanhshrink network, whose values shrink like
    $z^{3^L}$, reaches subnormal outputs whose few-units error would otherwise read as a large relative one.
    """
    from linear_lens.networks import forward

    A, b = pointwise_affine(weights, biases, activation, x, form=form)
    weights, biases, x = check_network(weights, biases, x)
    f = forward(weights, biases, activation, x)
    ax = (A @ x.unsqueeze(-1)).squeeze(-1)
    err = (f - ax - b).abs()
    lams, cs = layer_scalings(weights, biases, activation, x, form=form)
    size = x.abs()
    for l, W in enumerate(weights):
        size = size @ W.abs().mT + (biases[l].abs() if biases is not None else 0)
        if l < len(lams):
            size = lams[l].abs() * size + cs[l].abs()
    backward = err / size.clamp(min=torch.finfo(size.dtype).tiny)
    return float((err / (1 + f.abs())).max()), float(backward.max())


def secant_tangent_gap(activation, z: torch.Tensor) -> torch.Tensor:
    r"""Return $|\sigma(z)/z - \sigma'(z)|$ elementwise: the paper's secant slope against the tangent slope.

    The secant is :meth:`Activation.secant` (accurate at every $z$, $\sigma'(0)$ at $z = 0$ by Remark 11); the
    tangent $\sigma'(z)$ comes from autograd, except at $z = 0$ for an activation with a kink there, where autograd
    returns one of the one-sided slopes and the tangent is taken as Remark 11's symmetric derivative (``slope0``),
    the value $\Lambda$ has there. The gap is then $0$ at $z = 0$ and continuous there whenever $\sigma(0) = 0$.

    $A^*(x)$ equals the Jacobian $\partial f/\partial x$ of every network at every $x$ where no pre-activation sits
    on a kink exactly when this gap vanishes wherever $\sigma$ is differentiable, i.e. when $\sigma(z) = \sigma'(z)\,z$
    there (Proposition 12 of Drgoňa et al. (2020) is the case of ReLU). That makes $\sigma$ a multiple $a_k z$ of $z$
    on each interval where it is differentiable. For a continuous $\sigma$ this means linear on each half-line
    through the origin, $\sigma(z) = a z$ for $z > 0$ and $b z$ for $z < 0$: ReLU, LeakyReLU, PReLU, RReLU in
    evaluation mode and the identity, the positively homogeneous activations. Hardshrink is discontinuous and belongs
    to the class too ($\sigma(z)$ is $z$ or $0$), without being positively homogeneous; Softshrink, Hardtanh and ReLU6
    are piecewise linear but not in it (their pieces $z \mp \lambda$ and constants do not pass through 0).

    ``activation``: as in :func:`pointwise_affine`; ``z``: any shape (integers are computed in float64). Returns the
    shape, dtype and device of ``z``. Raises ``ValueError`` for ``None``, complex, boolean or non-finite ``z``.
    """
    act = activations.get(activation)
    z = as_float_tensor(z, "z")
    zg = z.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (tangent,) = torch.autograd.grad(act(zg).sum(), zg)
    if not act.smooth:  # the kink's tangent is Remark 11's symmetric derivative, as for Lambda
        tangent = torch.where(z == 0, torch.full_like(tangent, act.slope0), tangent)
    return (secants._secant(act, z.detach(), "paper") - tangent).abs()


def exactness_sweep(
    names: Sequence[str],
    depths: Sequence[int],
    *,
    width: int = 8,
    n_io: int = 3,
    n_points: int = 256,
    input_scale: float = 3.0,
    forms: Sequence[str] = FORMS,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    r"""Measure Lemma 3's exactness over activations, depths, bias on/off and forms.

    For each activation in ``names`` and each number of hidden layers in ``depths`` draws a random network
    ($n_0 = n_{L+1} =$ ``n_io``, hidden width ``width``, :func:`linear_lens.networks.random_network`) without and with
    biases, evaluates :func:`reconstruction_error` on ``n_points`` inputs $x \sim \mathcal N(0, \text{input\_scale}^2 I)$
    for each form. Returns ``{"forward": E, "backward": E'}`` with tensors of shape
    ``(len(names), len(depths), 2, len(forms))`` (bias axis: without, with).

    ``names``: a list of activations (names, ``Activation`` objects or callables); ``depths``: a list of integers
    $\ge 0$ (0: a single linear map); ``width``, ``n_io``, ``n_points``: positive integers; ``input_scale`` > 0;
    ``forms``: a non-empty subset of :data:`FORMS`; ``generator``: ``None``, a ``torch.Generator`` or an ``int``
    seed. Raises ``ValueError`` naming the parameter otherwise.
    """
    from linear_lens.networks import random_network
    from linear_lens.progress import progress

    names = _check_names(names)
    depths = _check_list(depths, "depths", "integers >= 0")
    depths = [check_nonnegative_int(d, "depths") for d in depths]
    width, n_io = check_positive_int(width, "width"), check_positive_int(n_io, "n_io")
    n_points = check_positive_int(n_points, "n_points")
    input_scale = check_positive_real(input_scale, "input_scale")
    forms = _check_list(forms, "forms", f"forms from {', '.join(FORMS)}")
    for form in forms:
        _check_form(form, "forms")
    generator = as_generator(generator)

    shape = (len(names), len(depths), 2, len(forms))
    fwd, bwd = torch.zeros(shape, dtype=torch.float64), torch.zeros(shape, dtype=torch.float64)
    for i, name in enumerate(progress(names, desc="activations")):
        for j, depth in enumerate(depths):
            for k, bias in enumerate((False, True)):
                W, B = random_network([n_io] + [width] * depth + [n_io], bias=bias, generator=generator)
                x = input_scale * torch.randn(n_points, n_io, generator=generator, dtype=torch.float64)
                for m, form in enumerate(forms):
                    fwd[i, j, k, m], bwd[i, j, k, m] = reconstruction_error(W, B, name, x, form=form)
    return {"forward": fwd, "backward": bwd}


def jacobian_gap_sweep(
    names: Sequence[str],
    *,
    depth: int = 3,
    width: int = 8,
    n_io: int = 2,
    n_points: int = 256,
    bias: bool = True,
    input_scale: float = 3.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Return $\max_x \|A^*(x) - \partial f/\partial x\|_{\max} / \max_x \|\partial f/\partial x\|_{\max}$ per activation.

    One random network per activation (same architecture), ``n_points`` Gaussian inputs; Proposition 12 predicts 0
    (to roundoff) for ReLU. Returns a tensor of shape ``(len(names),)``. Arguments are checked as in
    :func:`exactness_sweep` (``depth`` an integer $\ge 0$, ``bias`` a boolean); ``ValueError`` otherwise.
    """
    from linear_lens.networks import random_network

    names = _check_names(names)
    depth = check_nonnegative_int(depth, "depth")
    width, n_io = check_positive_int(width, "width"), check_positive_int(n_io, "n_io")
    n_points = check_positive_int(n_points, "n_points")
    input_scale = check_positive_real(input_scale, "input_scale")
    generator = as_generator(generator)
    if not isinstance(bias, bool):
        raise ValueError(f"bias: expected True or False, got {bias!r}")

    gaps = torch.zeros(len(names), dtype=torch.float64)
    for i, name in enumerate(names):
        W, B = random_network([n_io] + [width] * depth + [n_io], bias=bias, generator=generator)
        x = input_scale * torch.randn(n_points, n_io, generator=generator, dtype=torch.float64)
        A, _ = pointwise_affine(W, B, name, x)
        J = jacobian(W, B, name, x)
        gaps[i] = (A - J).abs().max() / J.abs().max().clamp(min=torch.finfo(J.dtype).tiny)
    return gaps


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _compose(weights, biases, x: torch.Tensor, value_and_scaling, *, track_poles: bool = False):
    r"""$A^*(x)$ and $b^*(x)$ by the recursion of eqs. (5)-(7), shared by :func:`pointwise_affine` and
    :func:`linear_lens.spectral_fields.affine_field`.

    ``weights``, ``biases`` (or ``None``): either every $A_l$ ``(n_{l+1}, n_l)`` and $b_l$ ``(n_{l+1},)`` (one
    network; ``x``: ``(..., n_0)``), or every $A_l$ ``(M, n_{l+1}, n_l)`` and $b_l$ ``(M, n_{l+1})`` (a batch of
    networks; ``x``: ``(M, ..., n_0)``). ``value_and_scaling(z)`` returns $(\sigma(z), \lambda, c)$ with
    $\sigma(z) = \lambda z + c$ for pre-activations ``z`` ``(..., n_l)`` (``(M, ..., n_l)`` for a batch).
    Returns ``(A, b, overflow)``: ``A`` ``(..., n_{L+1}, n_0)``, ``b`` ``(..., n_{L+1})``, and, with
    ``track_poles``, whether some $\lambda$ was infinite where $\sigma$ was finite (a pole of the paper's form).
    """
    batched = weights[0].ndim == 3
    batch = x.shape[:-1]

    def times(T: torch.Tensor, W: torch.Tensor) -> torch.Tensor:  # T @ W^T, T: (..., k, n_l) or (..., n_l)
        if not batched:
            return T @ W.mT
        M = W.shape[0]
        return torch.bmm(T.reshape(M, -1, W.shape[-1]), W.mT).reshape(*T.shape[:-1], W.shape[-2])

    def along(v: torch.Tensor) -> torch.Tensor:  # a per-network tensor (M, ...) against the batch (M, *points)
        return v.reshape(v.shape[0], *([1] * (len(batch) - 1)), *v.shape[1:]) if batched else v

    # Keep A* transposed, (..., n_0, n_l): each layer is then one plain matmul with A_l^T (a batched one, one
    # matrix per network, for a batch), much faster than broadcasting A_l against a batch of matrices.
    At = along(weights[0].mT).expand(*batch, *weights[0].mT.shape[-2:])
    b0 = biases[0] if biases is not None else torch.zeros(weights[0].shape[:-1], dtype=x.dtype, device=x.device)
    b = along(b0).expand(*batch, weights[0].shape[-2])
    z = times(x, weights[0]) + b
    overflow = False
    for l in range(1, len(weights)):
        h, lam, c = value_and_scaling(z)
        if track_poles:
            overflow = overflow or bool((torch.isinf(lam) & torch.isfinite(h)).any())  # sigma(z)/z, not sigma
        W = weights[l]
        At = times(At * lam.unsqueeze(-2), W)
        b = times(lam * b + c, W)
        z = times(h, W)
        if biases is not None:
            b = b + along(biases[l])
            z = z + along(biases[l])
    return At.mT, b, overflow


def _value_and_scaling(act: activations.Activation, z: torch.Tensor, form: str):
    r"""$(\sigma(z), \lambda, c)$; where $\sigma = z g(z)$ with $g$ the secant (``secants._TimesSecant``),
    $g$ is evaluated once for both."""
    fn = act.fn
    if isinstance(fn, secants._TimesSecant) and act.secant_fn is fn.secant and act.sigma0 == 0:
        lam = fn.secant(z)
        return z * lam, lam, torch.zeros_like(lam)
    s = act(z)
    return (s, *_scaling(act, z, s, form))


def _scaling(act: activations.Activation, z: torch.Tensor, s: torch.Tensor, form: str):
    r"""$(\lambda, c)$ with $\sigma(z) = \lambda z + c$ given $s = \sigma(z)$; see :func:`activation_scaling`."""
    lam = secants._secant(act, z, form, s)
    if form == "shifted":
        return lam, torch.full_like(lam, act.sigma0)
    if act.sigma0 == 0:
        return lam, torch.zeros_like(lam)
    # the paper's secant has a pole at 0; at exactly z = 0, Remark 11's slope and c = sigma(0) reproduce sigma(0)
    return lam, torch.where(z == 0, torch.full_like(lam, act.sigma0), torch.zeros_like(lam))


def _check_form(form: str, name: str = "form") -> None:
    if not isinstance(form, str) or form not in FORMS:
        raise ValueError(f"{name}: expected one of {', '.join(FORMS)}, got {form!r}")


def _check_list(values, name: str, what: str) -> list:
    if values is None or isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name}: expected a non-empty list of {what}, got {values!r}")
    values = list(values)
    if not values:
        raise ValueError(f"{name}: expected a non-empty list of {what}, got an empty one")
    return values


def _check_names(names) -> list:
    """A non-empty list of activations, each resolved by :func:`activations.get` (which names the bad one)."""
    names = _check_list(names, "names", "activations (names, Activation objects or callables)")
    for n in names:
        activations.get(n)
    return names
