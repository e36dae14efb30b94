"""Input validation shared by the package: clear ``ValueError``s that name the parameter and what is allowed.

The dtype policy, one for the whole package:

- real floating tensors keep their dtype (float32 or float64); tensors of several float dtypes are promoted to the
  widest (:func:`common_dtype`);
- integer tensors, Python numbers and array-likes become float64 (never the float32 default of torch);
- complex and boolean input, ``None`` and strings are refused with a ``ValueError`` naming the parameter
  (a function that supports complex numbers says so and passes ``allow_complex=True``);
- NaN and infinite entries are refused.

Seeds: every ``generator`` argument accepts ``None`` (torch's global generator), a ``torch.Generator`` or an
``int`` seed (:func:`as_generator`).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

__all__ = [
    "as_float_tensor",
    "as_generator",
    "check_finite",
    "check_float_dtype",
    "check_nonnegative_int",
    "check_positive_int",
    "check_positive_real",
    "check_real",
    "check_same_device",
    "check_sequence",
    "check_times",
    "common_dtype",
]


def as_float_tensor(
    x, name: str, dtype: torch.dtype | None = None, *, allow_complex: bool = False
) -> torch.Tensor:
    """Return ``x`` as a real floating-point tensor, refusing what the package cannot compute with.

    ``name`` is the parameter name used in error messages; ``dtype`` converts the result (``None``: keep a float
    tensor's dtype, float64 for everything else). Raises ``ValueError`` for ``None``, strings, complex or boolean
    input (complex is kept when ``allow_complex``), and non-finite entries.
    """
    if x is None:
        raise ValueError(f"{name}: expected an array of real numbers, got None")
    if isinstance(x, (str, bytes)):
        raise ValueError(f"{name}: expected an array of real numbers, got a string {x!r}")
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name}: expected an array of real numbers, got {type(x).__name__}") from err
        if arr.dtype == object or arr.dtype.kind in "USV":
            raise ValueError(f"{name}: expected an array of real numbers, got {type(x).__name__} of {arr.dtype}")
        t = torch.as_tensor(arr)
    if t.dtype == torch.bool:
        raise ValueError(f"{name}: expected real numbers, got a boolean tensor")
    if t.is_complex():
        if not allow_complex:
            raise ValueError(f"{name}: expected real numbers, got complex dtype {t.dtype}; complex input is not supported")
    elif not t.is_floating_point():
        t = t.to(torch.float64)
    elif t.dtype in (torch.float16, torch.bfloat16):
        raise ValueError(f"{name}: dtype {t.dtype} is not supported; use float32 or float64")
    if dtype is not None:
        t = t.to(dtype)
    check_finite(t, name)
    return t


def common_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """The dtype to compute in for several tensors: the widest floating dtype among them (float64 if none is float)."""
    floats = [t.dtype for t in tensors if t.is_floating_point() or t.is_complex()]
    if not floats:
        return torch.float64
    out = floats[0]
    for d in floats[1:]:
        out = torch.promote_types(out, d)
    return out


def as_generator(generator, name: str = "generator", device=None) -> torch.Generator | None:
    """Return a ``torch.Generator`` for ``generator``: ``None`` (global RNG), a generator, or an ``int`` seed.

    An ``int`` seeds a new CPU generator (``device`` names the generator's device if given).
    Raises ``ValueError`` for anything else.
    """
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        if generator < 0:
            raise ValueError(f"{name}: an integer seed must be nonnegative, got {generator}")
        g = torch.Generator(device=device) if device is not None else torch.Generator()
        return g.manual_seed(int(generator))
    raise ValueError(f"{name}: expected None, a torch.Generator or an integer seed, got {type(generator).__name__}")


def check_finite(t: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``t`` has a NaN or an infinite entry."""
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: contains NaN or infinite entries; only finite values are allowed")


def check_positive_int(n, name: str) -> int:
    """Return ``n`` as an ``int`` if it is a positive integer, else raise ``ValueError``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{name}: expected a positive integer, got {n!r}")
    return int(n)


def check_nonnegative_int(n, name: str) -> int:
    """Return ``n`` as an ``int`` if it is an integer ``>= 0``, else raise ``ValueError``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"{name}: expected a nonnegative integer, got {n!r}")
    return int(n)


def check_real(x, name: str) -> float:
    """Return ``x`` as a finite ``float``, else raise ``ValueError``.

    Accepts Python and NumPy real numbers and 0-d real tensors; refuses booleans, complex numbers, NaN and infinity.
    """
    if isinstance(x, torch.Tensor) and x.ndim == 0 and not (x.is_complex() or x.dtype == torch.bool):
        x = x.item()
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(float(x)):
        raise ValueError(f"{name}: expected a finite real number, got {x!r}")
    return float(x)


def check_positive_real(x, name: str) -> float:
    """Return ``x`` as a finite ``float > 0``, else raise ``ValueError``."""
    v = check_real(x, name)
    if not v > 0:
        raise ValueError(f"{name}: expected a finite positive number, got {x!r}")
    return v


def check_float_dtype(dtype, name: str = "dtype") -> torch.dtype:
    """Return ``dtype`` if it is ``torch.float32`` or ``torch.float64`` (the dtypes the package computes in), else raise
    ``ValueError``."""
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"{name}: expected torch.float32 or torch.float64, got {dtype!r}")
    return dtype


def check_same_device(tensors, name: str) -> None:
    """Raise ``ValueError`` if the tensors are not all on one device (torch would fail deep inside an operation)."""
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        raise ValueError(f"{name}: tensors are on different devices ({', '.join(sorted(map(str, devices)))}); "
                         f"move them to one device")


def check_sequence(x, name: str) -> list:
    """Return ``x`` as a list if it is a sequence (a list, tuple, array...), else raise ``ValueError`` (``None``, a
    string, a number or another object that cannot be iterated)."""
    if x is None or isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        raise ValueError(f"{name}: expected a sequence (a list or an array), got {type(x).__name__}")
    return list(x)


def check_times(t, batch, device=None, *, extend_batch: bool = False) -> tuple[torch.Tensor, bool]:
    """Times ``t`` (a scalar, ``(T,)`` or ``(T, *b)``) as a float64 tensor ``(T, *batch)`` on ``device``.

    Times must be non-negative; ``(T,)`` is the same times for every batch element. Without ``extend_batch`` the
    batch dimensions of ``t`` must broadcast to ``batch``; with it they may add to it, and the result has the
    broadcast shape. Returns the times and whether ``t`` was a scalar.
    """
    times = as_float_tensor(t, "t", dtype=torch.float64).to(device)
    scalar = times.ndim == 0
    if scalar:
        times = times.reshape(1)
    if bool((times < 0).any()):
        raise ValueError("t: times must be non-negative")
    if times.ndim == 1:
        times = times.reshape(-1, *([1] * len(batch)))
    try:
        shape = torch.broadcast_shapes(times.shape[1:], tuple(batch))
    except RuntimeError as err:
        raise ValueError(f"t: shape {tuple(times.shape)} does not broadcast to (T, {tuple(batch)})") from err
    if not extend_batch and shape != tuple(batch):
        raise ValueError(f"t: shape {tuple(times.shape)} has batch dimensions beyond the weights' {tuple(batch)}")
    return times.expand(times.shape[0], *shape), scalar
