"""Random and regular samples used across the book: Haar-random orthogonal matrices and grids over boxes.

Random draws are made on the CPU with the given generator and then moved to the requested device, so a seed gives
the same numbers on every device.
"""

from __future__ import annotations

import torch

from linear_lens._checks import (
    as_generator,
    check_float_dtype,
    check_nonnegative_int,
    check_positive_int,
    check_real,
)

__all__ = ["grid_2d", "haar_orthogonal", "randn"]


def randn(shape, generator=None, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """Standard normal entries of the given shape, drawn on the generator's device (the CPU for ``None`` and ``int``
    seeds) with ``generator`` and moved to ``device``.

    ``shape``: a sequence of integers >= 0; ``generator``: ``None``, a ``torch.Generator`` or an ``int`` seed;
    ``dtype``: float32 or float64. Raises ``ValueError`` otherwise.
    """
    shape = _check_shape(shape)
    dtype = check_float_dtype(dtype, "dtype")
    generator = as_generator(generator)
    gen_device = generator.device if generator is not None else None
    return torch.randn(shape, generator=generator, dtype=dtype, device=gen_device).to(device)


def haar_orthogonal(
    n: int, batch=(), generator=None, dtype: torch.dtype = torch.float64, device=None, columns: int | None = None
) -> torch.Tensor:
    r"""Haar-distributed orthogonal matrices: the QR factor of a Gaussian matrix with the signs of $\operatorname{diag}(R)$
    moved into $Q$ (Mezzadri, 2007).

    ``n``: the size; ``batch``: leading batch shape (a tuple, or ``()``); ``generator``: ``None``, a
    ``torch.Generator`` or an ``int`` seed; ``columns``: keep the first ``columns`` columns only (orthonormal
    columns of a Haar matrix). Returns ``(*batch, n, n)`` (or ``(*batch, n, columns)``).
    """
    n = check_positive_int(n, "n")
    batch = _check_shape((batch,) if isinstance(batch, int) else batch, "batch")
    if columns is not None:
        columns = check_nonnegative_int(columns, "columns")
        if columns > n:
            raise ValueError(f"columns: at most n = {n}, got {columns}")
    G = randn((*batch, n, n), generator, dtype, device)
    Q, R = torch.linalg.qr(G)
    signs = torch.sign(torch.diagonal(R, dim1=-2, dim2=-1))
    signs = torch.where(signs == 0, torch.ones_like(signs), signs)  # exact zero: a measure-zero event, keep Q's sign
    Q = Q * signs.unsqueeze(-2)
    return Q if columns is None else Q[..., :columns]


def grid_2d(
    low: float = -6.0, high: float = 6.0, n: int = 101, dtype: torch.dtype = torch.float64, device=None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Return a regular ``n`` x ``n`` grid over $[\text{low}, \text{high}]^2$ (Section 4 uses $[-6, 6]^2$).

    Returns ``(x1, x2, points)``: the coordinate arrays of shape ``(n, n)`` (``x1`` varies along columns) and the
    points of shape ``(n, n, 2)``, ready for batched maps.
    """
    low, high = check_real(low, "low"), check_real(high, "high")
    if not low < high:
        raise ValueError(f"low, high: need low < high, got {low}, {high}")
    n = check_positive_int(n, "n")
    dtype = check_float_dtype(dtype, "dtype")
    axis = torch.linspace(low, high, n, dtype=dtype, device=device)
    x2, x1 = torch.meshgrid(axis, axis, indexing="ij")
    return x1, x2, torch.stack([x1, x2], dim=-1)


def _check_shape(shape, name: str = "shape") -> tuple[int, ...]:
    if shape is None or isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise ValueError(f"{name}: expected a sequence of integers >= 0, got {shape!r}")
    return tuple(check_nonnegative_int(k, name) for k in shape)
