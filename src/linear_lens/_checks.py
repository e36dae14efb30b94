"""Input validation shared by the package: clear ``ValueError``s that name the parameter and what is allowed."""

from __future__ import annotations

import numbers

import numpy as np
import torch

__all__ = ["as_float_tensor", "check_finite", "check_positive_int", "check_real"]


def as_float_tensor(x, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Return ``x`` as a floating-point tensor (float64 for non-tensors), refusing non-finite entries.

    ``name`` is the parameter name used in error messages.
    """
    if isinstance(x, torch.Tensor):
        t = x
        if not (t.is_floating_point() or t.is_complex()):
            t = t.to(torch.get_default_dtype() if dtype is None else dtype)
    else:
        try:
            t = torch.as_tensor(np.asarray(x, dtype=np.float64))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name}: expected an array of real numbers, got {type(x).__name__}") from err
    if dtype is not None:
        t = t.to(dtype)
    check_finite(t, name)
    return t


def check_finite(t: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``t`` has a NaN or an infinite entry."""
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: contains NaN or infinite entries; only finite values are allowed")


def check_positive_int(n, name: str) -> int:
    """Return ``n`` as an ``int`` if it is a positive integer, else raise ``ValueError``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{name}: expected a positive integer, got {n!r}")
    return int(n)


def check_real(x, name: str) -> float:
    """Return ``x`` as a finite ``float``, else raise ``ValueError``."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not np.isfinite(float(x)):
        raise ValueError(f"{name}: expected a finite real number, got {x!r}")
    return float(x)
