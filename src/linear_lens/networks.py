r"""Deep feedforward networks as lists of weights and biases (Drgona et al., 2020, eqs. 3 and 6).

A network with $L$ hidden layers is given by weights $A_0, \dots, A_L$, $A_l \in \mathbb{R}^{n_{l+1} \times n_l}$,
optional biases $b_0, \dots, b_L$, $b_l \in \mathbb{R}^{n_{l+1}}$, and an activation $\sigma$:

$$f(x) = A_L h_L + b_L, \qquad h_l = \sigma(A_{l-1} h_{l-1} + b_{l-1}), \qquad h_0 = x,$$

with the activation after every hidden layer and none after the last (eq. 3; eq. 6 with biases).
Functions here take the weights and return arrays; nothing is stored in objects.
"""

from __future__ import annotations

from typing import Sequence

import torch

from linear_lens import activations
from linear_lens._checks import check_finite, check_positive_int

__all__ = ["forward", "forward_unchecked", "random_network", "check_network", "check_values"]


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
    Returns ``(weights, biases)`` with ``biases = None`` when ``bias`` is false.
    """
    if len(widths) < 2:
        raise ValueError(f"widths: need at least an input and an output width, got {list(widths)}")
    widths = [check_positive_int(n, "widths") for n in widths]
    weights = [
        scale * torch.randn(n_out, n_in, generator=generator, dtype=dtype, device=device) / n_in**0.5
        for n_in, n_out in zip(widths[:-1], widths[1:])
    ]
    biases = (
        [torch.randn(n_out, generator=generator, dtype=dtype, device=device) for n_out in widths[1:]] if bias else None
    )
    return weights, biases


def check_values(values: torch.Tensor, act: activations.Activation) -> torch.Tensor:
    """Return ``values`` if finite; else raise ``ValueError`` (an activation left its domain or overflowed)."""
    if not bool(torch.isfinite(values).all()):
        raise ValueError(
            f"activation: {act.name} produced NaN or infinite values for these inputs (outside its domain, or "
            f"overflow); params {dict(act.params)}"
        )
    return values


def check_network(weights, biases, x=None):
    """Validate a network (and optionally an input) and return them as tensors of one common dtype.

    Raises ``ValueError`` naming the parameter for: no weights, a weight that is not 2-D, widths that do not chain,
    biases of the wrong number or shape, an input whose last dimension is not ``n_0``, non-finite entries.
    """
    if weights is None or len(weights) == 0:
        raise ValueError("weights: need at least one weight matrix A_0")
    weights = [w if isinstance(w, torch.Tensor) else torch.as_tensor(w, dtype=torch.float64) for w in weights]
    for l, A in enumerate(weights):
        if A.ndim != 2:
            raise ValueError(f"weights: A_{l} must be a 2-D matrix (n_{l + 1}, n_{l}), got shape {tuple(A.shape)}")
        if l > 0 and A.shape[1] != weights[l - 1].shape[0]:
            raise ValueError(
                f"weights: A_{l} has {A.shape[1]} columns but A_{l - 1} has {weights[l - 1].shape[0]} rows; "
                f"consecutive widths must agree"
            )
        check_finite(A, f"weights[{l}]")
    if biases is not None:
        biases = [b if isinstance(b, torch.Tensor) else torch.as_tensor(b, dtype=torch.float64) for b in biases]
        if len(biases) != len(weights):
            raise ValueError(f"biases: expected {len(weights)} bias vectors (one per weight) or None, got {len(biases)}")
        for l, (A, b) in enumerate(zip(weights, biases)):
            if b.shape != (A.shape[0],):
                raise ValueError(f"biases: b_{l} must have shape ({A.shape[0]},), got {tuple(b.shape)}")
            check_finite(b, f"biases[{l}]")
    tensors = list(weights) + (list(biases) if biases is not None else [])
    if x is not None:
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(x, dtype=torch.float64)
        if x.ndim == 0 or x.shape[-1] != weights[0].shape[1]:
            raise ValueError(f"x: last dimension must be n_0 = {weights[0].shape[1]}, got shape {tuple(x.shape)}")
        check_finite(x, "x")
        tensors.append(x)
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    weights = [A.to(dtype) for A in weights]
    if biases is not None:
        biases = [b.to(dtype) for b in biases]
    if x is None:
        return weights, biases
    return weights, biases, x.to(dtype)
