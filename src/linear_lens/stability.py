r"""Spectral radii and the global stability of deep networks (Drgona et al., 2020, Section 3.2).

The spectral radius of a square matrix is $\rho(A) = \max_i |\lambda_i(A)|$ (Definition 5, eq. 9).
"""

from __future__ import annotations

import torch

from linear_lens._checks import as_float_tensor

__all__ = ["spectral_radius"]


def spectral_radius(A: torch.Tensor) -> torch.Tensor:
    r"""Return $\rho(A) = \max_i |\lambda_i(A)|$ (eq. 9 of Drgona et al., 2020), batched.

    ``A``: ``(..., n, n)``. Returns ``(...)``, real. Raises ``ValueError`` for non-square or non-finite input.
    """
    A = as_float_tensor(A, "A")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A: eigenvalues need square matrices (..., n, n), got shape {tuple(A.shape)}")
    return torch.linalg.eigvals(A).abs().amax(dim=-1)
