r"""Deep feedforward networks as lists of weights and biases (Drgona et al., 2020, eqs. 3 and 6).

A network with $L$ hidden layers is given by weights $A_0, \dots, A_L$, $A_l \in \mathbb{R}^{n_{l+1} \times n_l}$,
optional biases $b_0, \dots, b_L$, $b_l \in \mathbb{R}^{n_{l+1}}$, and an activation $\sigma$:

$$f(x) = A_L h_L + b_L, \qquad h_l = \sigma(A_{l-1} h_{l-1} + b_{l-1}), \qquad h_0 = x,$$

with the activation after every hidden layer and none after the last (eq. 3; eq. 6 with biases).
Functions here take the weights and return arrays; nothing is stored in objects.
"""

from __future__ import annotations

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
