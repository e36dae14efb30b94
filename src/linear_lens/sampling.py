"""Points at which to look at a map: regular grids over boxes, the domain of the phase portraits of Drgona et al."""

from __future__ import annotations

import torch

from linear_lens._checks import check_positive_int, check_real

__all__ = ["grid_2d"]


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
    axis = torch.linspace(low, high, n, dtype=dtype, device=device)
    x2, x1 = torch.meshgrid(axis, axis, indexing="ij")
    return x1, x2, torch.stack([x1, x2], dim=-1)
