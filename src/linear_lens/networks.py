r"""Deep feedforward networks as lists of weights and biases (Drgoňa et al., 2020, eqs. 3 and 6).

A network with $L$ hidden layers is given by weights $A_0, \dots, A_L$, $A_l \in \mathbb{R}^{n_{l+1} \times n_l}$,
optional biases $b_0, \dots, b_L$, $b_l \in \mathbb{R}^{n_{l+1}}$, and an activation $\sigma$:

$$f(x) = A_L h_L + b_L, \qquad h_l = \sigma(A_{l-1} h_{l-1} + b_{l-1}), \qquad h_0 = x,$$

with the activation after every hidden layer and none after the last (eq. 3; eq. 6 with biases).
Functions here take the weights and return arrays.

A :class:`NetworkBatch` stacks $M$ networks $\mathbb{R}^n \to \mathbb{R}^n$ of equal depth and widths, each with its
own activation, so that a sweep over hundreds of models is a handful of batched tensor operations:
:func:`batch_forward` evaluates them, :func:`batch_jacobian` gives the true Jacobian
$f'(x) = A_L D_L \cdots D_1 A_0$, $D_l = \operatorname{diag}\sigma'(z_l)$, and :func:`batch_jvp` its product with a
vector. Two conventions for such a batch, chosen when it is built (:func:`network_batch`):

- ``"eq3"``: eq. (3)/(6) of the paper, $f(x) = A_L h_L + b_L$: $L$ hidden layers, $L + 1$ weights, no activation
  after the output;
- ``"authors"``: the network of the authors' scripts (``blocks.MLP`` of PNNL's ``neuromancer`` with
  ``hsizes=[n] * L``, whose activations are all replaced by $\sigma$, the output's identity included):
  $f(x) = \sigma(A_L h_L + b_L)$. It is the ``"eq3"`` network with one more weight, $A_{L+1} = I$, $b_{L+1} = 0$,
  which is how it is stored.

Batches stay on the device and in the dtype of their weights (points are converted to them; float64 by default).
Points must be finite and real (``ValueError`` otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from linear_lens import activations
from linear_lens._checks import (
    as_float_tensor,
    as_generator,
    check_float_dtype,
    check_positive_int,
    check_real,
    check_same_device,
    common_dtype,
)

__all__ = [
    "forward", "forward_unchecked", "random_network", "check_network", "check_values",
    "CONVENTIONS", "NetworkBatch", "network_batch", "random_batch", "batch_forward", "batch_jacobian", "batch_jvp",
]

#: The two conventions of a :class:`NetworkBatch` (see the module docstring).
CONVENTIONS = ("eq3", "authors")


def forward(
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor] | None,
    activation,
    x: torch.Tensor,
) -> torch.Tensor:
    r"""Evaluate the network $f(x)$ of eq. (3) (eq. 6 with biases), batched over the leading dimensions of ``x``.

    ``weights``: $[A_0, \dots, A_L]$ with ``A_l`` of shape ``(n_{l+1}, n_l)``; ``biases``: $[b_0, \dots, b_L]$ or
    ``None``; ``activation``: a name of :func:`linear_lens.activations.get`, an ``Activation`` or a callable;
    ``x``: ``(..., n_0)``. Returns ``(..., n_{L+1})``.
    """
    weights, biases, x = check_network(weights, biases, x)
    act = activations.get(activation)
    return check_values(forward_unchecked(weights, biases, act, x), act)


def forward_unchecked(weights, biases, act: activations.Activation, x: torch.Tensor) -> torch.Tensor:
    """Evaluate eq. (3)/(6) without validation (for ``torch.func`` transforms); prefer :func:`forward`."""
    h = x
    for l, A in enumerate(weights):
        z = h @ A.mT
        if biases is not None:
            z = z + biases[l]
        h = act(z) if l < len(weights) - 1 else z
    return h


def random_network(
    widths: Sequence[int],
    bias: bool = False,
    scale: float = 1.0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
    r"""Draw a random network with layer widths $[n_0, \dots, n_{L+1}]$.

    Weights have i.i.d. entries $\mathcal{N}(0, \text{scale}^2 / n_l)$ (so ``scale = 1`` keeps the variance of
    activations roughly constant); biases, if ``bias``, are i.i.d. $\mathcal{N}(0, 1)$.
    ``widths``: at least two positive integers; ``scale``: a finite number $\ge 0$; ``generator``: ``None``, a
    ``torch.Generator`` or an ``int`` seed (:func:`linear_lens._checks.as_generator`); ``dtype``: float32 or
    float64. The draws are made on the generator's device and moved to ``device``, so a seed gives the same
    network on every device. Returns ``(weights, biases)`` with ``biases = None`` when ``bias`` is false.
    Raises ``ValueError`` for bad widths, a negative or non-finite scale, a non-boolean ``bias``, an unsupported
    dtype or a bad generator.
    """
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__"):
        raise ValueError(f"widths: expected a list of positive integers, got {type(widths).__name__}")
    if len(widths) < 2:
        raise ValueError(f"widths: need at least an input and an output width, got {list(widths)}")
    widths = [check_positive_int(n, "widths") for n in widths]
    if not isinstance(bias, (bool, np.bool_)):
        raise ValueError(f"bias: expected True or False, got {bias!r}")
    scale = check_real(scale, "scale")
    if scale < 0:
        raise ValueError(f"scale: expected a finite number >= 0, got {scale!r}")
    dtype = check_float_dtype(dtype, "dtype")
    generator = as_generator(generator)
    gen_device = generator.device if generator is not None else None

    def draw(*shape):
        return torch.randn(*shape, generator=generator, dtype=dtype, device=gen_device).to(device)

    weights = [scale * draw(n_out, n_in) / n_in**0.5 for n_in, n_out in zip(widths[:-1], widths[1:])]
    biases = [draw(n_out) for n_out in widths[1:]] if bias else None
    return weights, biases


def check_values(values: torch.Tensor, act: activations.Activation) -> torch.Tensor:
    """Return ``values`` if finite; else raise ``ValueError`` (an activation left its domain or overflowed)."""
    if not bool(torch.isfinite(values).all()):
        raise ValueError(
            f"activation: {act.name} produced NaN or infinite values for these inputs (outside its domain, or "
            f"overflow); params {dict(act.params)}"
        )
    return values


_NO_INPUT = object()  # check_network's default: validate the network only


def check_network(weights, biases, x=_NO_INPUT, *, x_name: str = "x"):
    r"""Validate a network (and optionally an input) and return them as tensors of one common dtype and device.

    ``weights``: a list (or other sequence) of 2-D matrices $A_0, \dots, A_L$; ``biases``: a list of vectors or
    ``None``; ``x``: the input ``(..., n_0)``, if given (``None`` given explicitly is an error: an input is expected).
    Tensors, NumPy arrays and nested lists are accepted under the dtype policy of :mod:`linear_lens._checks`: float32
    and float64 are kept, several float dtypes are promoted to the widest (float32 weights and a float64 input give
    float64), integers become float64, and complex, boolean, float16 or ``None`` entries are refused.

    Raises ``ValueError`` naming the parameter for: no weights, a weight that is not 2-D, widths that do not chain,
    biases of the wrong number or shape, an input whose last dimension is not ``n_0``, non-finite entries, tensors
    on different devices. Returns ``(weights, biases)``, or ``(weights, biases, x)`` when ``x`` is given.
    """
    weights = _as_list(weights, "weights", "weight matrices [A_0, ..., A_L]")
    if len(weights) == 0:
        raise ValueError("weights: need at least one weight matrix A_0")
    weights = [as_float_tensor(A, f"weights[{l}]") for l, A in enumerate(weights)]
    for l, A in enumerate(weights):
        if A.ndim != 2:
            raise ValueError(f"weights: A_{l} must be a 2-D matrix (n_{l + 1}, n_{l}), got shape {tuple(A.shape)}")
        if l > 0 and A.shape[1] != weights[l - 1].shape[0]:
            raise ValueError(
                f"weights: A_{l} has {A.shape[1]} columns but A_{l - 1} has {weights[l - 1].shape[0]} rows; "
                f"consecutive widths must agree"
            )
    if biases is not None:
        biases = _as_list(biases, "biases", "bias vectors [b_0, ..., b_L] or None")
        if len(biases) != len(weights):
            raise ValueError(f"biases: expected {len(weights)} bias vectors (one per weight) or None, got {len(biases)}")
        biases = [as_float_tensor(b, f"biases[{l}]") for l, b in enumerate(biases)]
        for l, (A, b) in enumerate(zip(weights, biases)):
            if b.shape != (A.shape[0],):
                raise ValueError(f"biases: b_{l} must have shape ({A.shape[0]},), got {tuple(b.shape)}")
    tensors = list(weights) + (list(biases) if biases is not None else [])
    if x is not _NO_INPUT:
        x = as_float_tensor(x, x_name)
        if x.ndim == 0 or x.shape[-1] != weights[0].shape[1]:
            raise ValueError(
                f"{x_name}: last dimension must be n_0 = {weights[0].shape[1]}, got shape {tuple(x.shape)}"
            )
        tensors.append(x)
    check_same_device(tensors, "weights, biases" + ("" if x is _NO_INPUT else f" and {x_name}"))
    dtype = common_dtype(*tensors)
    weights = [A.to(dtype) for A in weights]
    if biases is not None:
        biases = [b.to(dtype) for b in biases]
    if x is _NO_INPUT:
        return weights, biases
    return weights, biases, x.to(dtype)


# ---------------------------------------------------------------------------------------------------------------
# A batch of networks
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkBatch:
    r"""$M$ networks $\mathbb{R}^n \to \mathbb{R}^n$ of equal depth and widths, stored as the ``"eq3"`` networks they are.

    ``weights``: $K$ tensors ``(M, n_{l+1}, n_l)``, the matrices $A_0, \dots, A_{K-1}$ applied in order (column
    convention, $z = A h + b$), $n_K = n_0 = n$; ``biases``: $K$ tensors ``(M, n_{l+1})`` (zeros for a network
    without bias); ``activations``: the $M$ :class:`~linear_lens.activations.Activation` objects; ``has_bias``:
    ``(M,)`` bool, whether the network was given biases; ``convention``: ``"eq3"`` or ``"authors"`` (then
    ``weights[-1]`` is the appended identity); ``depth``: the depth $L$ the networks were built with (hidden layers;
    $K = L + 1$ for ``"eq3"``, $L + 2$ for ``"authors"``). Build it with :func:`network_batch`.
    """

    weights: tuple
    biases: tuple
    activations: tuple
    has_bias: torch.Tensor
    convention: str
    depth: int
    groups: tuple = field(repr=False)
    cols: tuple = field(repr=False, default=())

    def __post_init__(self):
        if not self.cols:
            object.__setattr__(self, "cols", _columns(self.weights, self.biases))

    @property
    def size(self) -> int:
        """The number of networks $M$."""
        return self.weights[0].shape[0]

    @property
    def n(self) -> int:
        """The input and output width $n$."""
        return self.weights[0].shape[-1]

    @property
    def widths(self) -> tuple[int, ...]:
        r"""The widths $(n_0, n_1, \dots, n_K)$."""
        return (self.n, *(W.shape[-2] for W in self.weights))

    def stacked(self) -> torch.Tensor:
        """The weights as one tensor ``(M, K, n, n)``; ``ValueError`` unless every layer is square."""
        if len(set(self.widths)) != 1:
            raise ValueError(f"net: stacking needs square layers, the widths are {self.widths}")
        return torch.stack(self.weights, dim=1)

    def select(self, index) -> "NetworkBatch":
        """The sub-batch of the networks ``index`` (a slice, a list of ints or a boolean mask), same convention."""
        if isinstance(index, torch.Tensor) and index.dtype == torch.bool:
            index = torch.nonzero(index.cpu()).flatten().tolist()
        if isinstance(index, slice):
            index = list(range(self.size))[index]
        index = [int(i) for i in index]
        if not index:
            raise ValueError("index: select at least one network")
        acts = tuple(self.activations[i] for i in index)
        ix = torch.tensor(index, device=self.weights[0].device)
        return NetworkBatch(tuple(W[ix] for W in self.weights), tuple(b[ix] for b in self.biases), acts,
                            self.has_bias[ix], self.convention, self.depth, _groups(acts))


def network_batch(
    weights,
    biases=None,
    activation="relu",
    *,
    convention: str = "eq3",
    dtype: torch.dtype | None = None,
) -> NetworkBatch:
    r"""Stack networks of equal depth and widths into a :class:`NetworkBatch`.

    ``weights``: $A_0, \dots, A_L$ of eq. (3), either as one tensor ``(M, L + 1, n, n)`` (square layers;
    ``(L + 1, n, n)`` for one network) or as a list of $L + 1$ matrices, each ``(n_{l+1}, n_l)`` (shared by every
    network) or ``(M, n_{l+1}, n_l)``, with $n_{L+1} = n_0$; ``biases``: likewise ``(M, L + 1, n)``,
    ``(L + 1, n)``, or a list of vectors ``(n_{l+1},)`` or ``(M, n_{l+1})``; ``None``: no bias anywhere;
    ``activation``: one name (or :class:`~linear_lens.activations.Activation`) for all, or a sequence of $M$ of
    them; ``convention``: ``"eq3"`` or ``"authors"`` (module docstring). Networks with the same activation should be
    adjacent: the batch applies each run of equal activations as one call. ``dtype``: convert to it (default: the
    widest float dtype of the inputs, float64 for integers).

    Raises ``ValueError`` for shapes that do not chain or do not map $\mathbb{R}^n$ to itself, mismatched batch
    sizes, an unknown activation or convention, and non-finite values.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention: expected one of {', '.join(CONVENTIONS)}, got {convention!r}")
    W = _layers(weights, "weights", 2)
    B = None if biases is None else _layers(biases, "biases", 1)
    check_same_device(W + (B or []), "weights, biases")
    dt = dtype if dtype is not None else common_dtype(*W, *(B or []))
    W = [w.to(dt) for w in W]
    sizes = {w.shape[0] for w in W if w.ndim == 3} | {b.shape[0] for b in (B or []) if b.ndim == 2}
    if len(sizes) > 1:
        raise ValueError(f"weights, biases: the numbers of networks differ between layers: {sorted(sizes)}")
    M = sizes.pop() if sizes else 1
    if M == 0:
        raise ValueError("weights: need at least one network")
    W = [w.expand(M, *w.shape[-2:]) if w.ndim == 2 else w for w in W]
    for l, w in enumerate(W):
        if l and w.shape[-1] != W[l - 1].shape[-2]:
            raise ValueError(f"weights: A_{l} has {w.shape[-1]} columns but A_{l - 1} has {W[l - 1].shape[-2]} rows")
    n = W[0].shape[-1]
    if W[-1].shape[-2] != n:
        raise ValueError(f"weights: a network of the plane R^n -> R^n needs n_(L+1) = n_0, got {W[-1].shape[-2]} "
                         f"and {n}")
    device = W[0].device
    if B is None:
        B = [torch.zeros(M, w.shape[-2], dtype=dt, device=device) for w in W]
        has_bias = torch.zeros(M, dtype=torch.bool, device=device)
    else:
        if len(B) != len(W):
            raise ValueError(f"biases: expected {len(W)} bias vectors (one per weight), got {len(B)}")
        B = [b.to(dt).expand(M, b.shape[-1]) if b.ndim == 1 else b.to(dt) for b in B]
        for l, (w, b) in enumerate(zip(W, B)):
            if b.shape[-1] != w.shape[-2]:
                raise ValueError(f"biases: b_{l} must have {w.shape[-2]} entries, got shape {tuple(b.shape)}")
        has_bias = torch.ones(M, dtype=torch.bool, device=device)
    if isinstance(activation, (str, activations.Activation)) or callable(activation):
        acts = (activations.get(activation),) * M
    else:
        acts = tuple(activations.get(a) for a in activation)
        if len(acts) != M:
            raise ValueError(f"activation: expected one activation or {M} (one per network), got {len(acts)}")
    depth = len(W) - 1
    if convention == "authors":
        W.append(torch.eye(n, dtype=dt, device=device).expand(M, n, n))
        B.append(torch.zeros(M, n, dtype=dt, device=device))
    return NetworkBatch(tuple(w.contiguous() for w in W), tuple(b.contiguous() for b in B), acts, has_bias,
                        convention, depth, _groups(acts))


def random_batch(
    widths: Sequence[int],
    count: int,
    activation="relu",
    *,
    bias: bool = False,
    scale: float = 1.0,
    generator: torch.Generator | None = None,
    convention: str = "eq3",
) -> NetworkBatch:
    r"""Draw ``count`` random networks with widths $[n_0, \dots, n_{L+1}]$, $n_{L+1} = n_0$, as a :class:`NetworkBatch`.

    Each is :func:`random_network` (``widths``, ``bias``, ``scale``), drawn one after the other from ``generator``
    (``None``, a ``torch.Generator`` or an ``int`` seed), so the batch holds exactly the networks that ``count``
    calls of :func:`random_network` would return. ``activation`` and ``convention`` as in :func:`network_batch`.
    Raises ``ValueError`` as those two do, and for a ``count`` that is not a positive integer.
    """
    count = check_positive_int(count, "count")
    generator = as_generator(generator)
    drawn = [random_network(widths, bias=bias, scale=scale, generator=generator) for _ in range(count)]
    W = [torch.stack([d[0][l] for d in drawn]) for l in range(len(drawn[0][0]))]
    B = [torch.stack([d[1][l] for d in drawn]) for l in range(len(W))] if bias else None
    return network_batch(W, B, activation, convention=convention)


def batch_forward(net: NetworkBatch, x) -> torch.Tensor:
    r"""Evaluate every network at its points: $f_m(x)$ of eq. (3)/(6).

    ``x``: ``(P, n)`` (the same points for every network) or ``(M, P, n)``. Returns ``(M, P, n)``. Values that
    overflow become ``inf``; they are returned, not raised (a diverging orbit is a result).
    """
    return _forward(net, _points(net, x))


def batch_jacobian(net: NetworkBatch, x) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $f(x)$ and the true Jacobian $f'(x) = A_L D_L \cdots D_1 A_0$, $D_l = \operatorname{diag}\sigma'(z_l)$.

    $\sigma'$ is :meth:`~linear_lens.activations.Activation.derivative` with ``at_kink="left"``, the one-sided
    derivative that PyTorch's autograd takes for ReLU, ELU and SELU at 0 (e.g. $\mathrm{ReLU}'(0) = 0$). This is
    the linearisation that decides the stability of a fixed point; it equals $A^*(x)$ only for activations with
    $\sigma(z) = \sigma'(z)z$ (errata E01.3). ``x``: ``(P, n)`` or ``(M, P, n)``. Returns ``f``: ``(M, P, n)``
    and ``J``: ``(M, P, n, n)``.
    """
    return _jacobian(net, _points(net, x))


def batch_jvp(net: NetworkBatch, x, v) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $f(x)$ and the product $f'(x)\,v$ (one pass with one tangent; cheaper than :func:`batch_jacobian`).

    ``x``, ``v``: ``(M, P, n)``. Returns two tensors ``(M, P, n)``.
    """
    x = _points(net, x)
    return _jvp(net, x, _points(net, v))


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _as_list(values, name: str, what: str) -> list:
    if values is None:
        raise ValueError(f"{name}: expected a list of {what}, got None")
    if isinstance(values, (str, bytes)) or (isinstance(values, (torch.Tensor, np.ndarray)) and values.ndim < 3
                                            and name == "weights"):
        raise ValueError(f"{name}: expected a list of {what}, got {type(values).__name__}"
                         + (f" of shape {tuple(values.shape)} (wrap a single matrix in a list)"
                            if hasattr(values, "shape") else ""))
    try:
        return list(values)
    except TypeError as err:
        raise ValueError(f"{name}: expected a list of {what}, got {type(values).__name__}") from err


def _layers(values, name: str, matrix_dims: int) -> list[torch.Tensor]:
    """The per-layer tensors of :func:`network_batch`: a stacked tensor split along its layer axis, or a list."""
    what = "matrices" if matrix_dims == 2 else "vectors"
    if isinstance(values, (list, tuple)):
        if len(values) == 0:
            raise ValueError(f"{name}: need at least one layer")
        out = [as_float_tensor(v, f"{name}[{l}]") for l, v in enumerate(values)]
        for l, v in enumerate(out):
            if v.ndim not in (matrix_dims, matrix_dims + 1):
                raise ValueError(f"{name}: layer {l} must be a batch of {what}, got shape {tuple(v.shape)}")
        return out
    T = as_float_tensor(values, name)
    if T.ndim == matrix_dims + 1:
        T = T.unsqueeze(0)
    if T.ndim != matrix_dims + 2 or (matrix_dims == 2 and T.shape[-1] != T.shape[-2]):
        want = "(M, L + 1, n, n) square matrices" if matrix_dims == 2 else "(M, L + 1, n)"
        raise ValueError(f"{name}: expected {want} or a list of layers, got shape {tuple(T.shape)}")
    if T.shape[0] == 0 or T.shape[1] == 0:
        raise ValueError(f"{name}: need at least one network and one layer, got shape {tuple(T.shape)}")
    return list(T.unbind(1))


def _groups(acts) -> tuple:
    """Runs of equal activations: ((Activation, start, stop), ...)."""
    registered = set(activations.names())
    runs, last = [], None
    for i, act in enumerate(acts):
        key = (act.name, tuple(sorted(act.params.items())), None if act.name in registered else id(act.fn))
        if runs and key == last:
            runs[-1][2] = i + 1
        else:
            runs.append([act, i, i + 1])
        last = key
    return tuple(tuple(r) for r in runs)


def _apply_groups(net: NetworkBatch, z: torch.Tensor, fn, dim: int = -2):
    """Apply ``fn(act, z_slice)`` (a tensor or a tuple) run by run along the network axis ``dim``, concatenated."""
    if len(net.groups) == 1:
        return fn(net.groups[0][0], z)
    parts = [fn(act, z.narrow(dim, a, b - a)) for act, a, b in net.groups]
    if isinstance(parts[0], tuple):
        return tuple(torch.cat([p[i] for p in parts], dim=dim) for i in range(len(parts[0])))
    return torch.cat(parts, dim=dim)


def _affine(net: NetworkBatch, l: int, h: torch.Tensor, bias: bool = True) -> torch.Tensor:
    """$A_l h + b_l$ in the coordinate-major layout: ``h``: ``(..., n_l, M, P)`` -> ``(..., n_{l+1}, M, P)``.

    With the coordinate first, each term is a ``(n_{l+1}, M, 1) * (M, P)`` product: much faster than $M$ tiny
    matmuls.
    """
    cols, b = net.cols[l]
    if cols:
        z = cols[0] * h[..., 0:1, :, :]
        for j in range(1, len(cols)):
            z = z + cols[j] * h[..., j:j + 1, :, :]
    else:
        z = torch.einsum("mij,...jmp->...imp", net.weights[l], h)
    return z + b if bias else z


def _run(net: NetworkBatch, x: torch.Tensor, V: torch.Tensor | None = None):
    r"""The networks on points ``x`` ``(n, M, P)`` (coordinate-major), carrying tangents ``V`` ``(T, n, M, P)``
    multiplied by $\sigma'(z)$ at each activation (products with $f'(x)$). Returns ``(f(x), V)``."""
    K = len(net.weights)
    z = _affine(net, 0, x)
    if V is not None:
        V = _affine(net, 0, V, bias=False)
    for l in range(1, K):
        if V is None:
            h = _apply_groups(net, z, lambda act, zz: act(zz))
        else:
            h, d = _apply_groups(net, z, lambda act, zz: (act(zz), activations._derivative(act, zz, "left")))
            V = _affine(net, l, V * d, bias=False)
        z = _affine(net, l, h)
    return z, V


def _forward(net: NetworkBatch, x: torch.Tensor) -> torch.Tensor:
    """:func:`batch_forward` without validation, for inner loops (``x``: ``(M, P, n)``)."""
    return _run(net, x.permute(2, 0, 1))[0].permute(1, 2, 0)


def _jacobian(net: NetworkBatch, x: torch.Tensor):
    """:func:`batch_jacobian` without validation, for inner loops."""
    xt = x.permute(2, 0, 1)
    n = xt.shape[0]
    eye = torch.eye(n, dtype=xt.dtype, device=xt.device)
    out, V = _run(net, xt, eye.view(n, n, 1, 1).expand(n, n, *xt.shape[1:]))
    return out.permute(1, 2, 0), V.permute(2, 3, 1, 0)


def _jvp(net: NetworkBatch, x: torch.Tensor, v: torch.Tensor):
    """:func:`batch_jvp` without validation, for inner loops."""
    out, V = _run(net, x.permute(2, 0, 1), v.permute(2, 0, 1).unsqueeze(0))
    return out.permute(1, 2, 0), V[0].permute(1, 2, 0)


def _columns(weights: tuple, biases: tuple) -> tuple:
    r"""Per layer: the columns of $A_l$ as ``(n_{l+1}, M, 1)`` tensors (for $n_l \le 4$) and $b_l$ as
    ``(n_{l+1}, M, 1)``, for :func:`_affine`."""
    return tuple((tuple(W[:, :, j].T.contiguous().unsqueeze(-1) for j in range(W.shape[-1])) if W.shape[-1] <= 4
                  else (), b.T.contiguous().unsqueeze(-1)) for W, b in zip(weights, biases))


def _points(net: NetworkBatch, x) -> torch.Tensor:
    """Validate points ``(P, n)`` or ``(M, P, n)`` (finite, real) and return them ``(M, P, n)`` in the weights'
    dtype and device."""
    if not isinstance(net, NetworkBatch):
        raise ValueError(f"net: expected a NetworkBatch (see network_batch), got {type(net).__name__}")
    x = as_float_tensor(x, "x")
    if x.ndim == 2:
        x = x.unsqueeze(0).expand(net.size, *x.shape)
    if x.ndim != 3 or x.shape[0] != net.size or x.shape[-1] != net.n:
        raise ValueError(f"x: expected (P, {net.n}) or ({net.size}, P, {net.n}), got shape {tuple(x.shape)}")
    return x.to(dtype=net.weights[0].dtype, device=net.weights[0].device)


def _subset(net: NetworkBatch, model: torch.Tensor) -> NetworkBatch:
    """The networks ``model`` (a sorted int64 tensor, repeats allowed), one per entry; activation runs preserved."""
    run = torch.zeros(net.size, dtype=torch.int64)
    for r, (_, a, b) in enumerate(net.groups):
        run[a:b] = r
    runs, counts = torch.unique_consecutive(run[model.cpu()], return_counts=True)
    groups, start = [], 0
    for r, c in zip(runs.tolist(), counts.tolist()):
        groups.append((net.groups[r][0], start, start + c))
        start += c
    acts = tuple(g[0] for g in groups for _ in range(g[2] - g[1]))
    m = model.to(net.weights[0].device)
    return NetworkBatch(tuple(W[m] for W in net.weights), tuple(b[m] for b in net.biases), acts, net.has_bias[m],
                        net.convention, net.depth, tuple(groups))
