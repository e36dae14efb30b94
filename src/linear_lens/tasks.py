r"""Regression tasks with whitened inputs, the setting of Anguita (2024), Chapter 2.

A task is a pair $(X, Y)$ with inputs $X \in \mathbb{R}^{N_i \times P}$ and targets $Y \in \mathbb{R}^{N_o \times P}$,
one column per sample. Its correlation matrices are (eq. 2.5)

$$\Sigma^{xx} = \tfrac{1}{P} X X^\top, \qquad \Sigma^{yx} = \tfrac{1}{P} Y X^\top,$$

and the inputs are *whitened* when $\Sigma^{xx} = I$ (eq. 2.6).

Random tasks take a ``generator`` (``None``, a ``torch.Generator`` or an ``int`` seed), a ``dtype`` (float32 or
float64) and a ``device``; draws are made on the CPU and moved to ``device``, so a seed gives the same task on every
device.
"""

from __future__ import annotations

import torch

from linear_lens._checks import as_float_tensor, as_generator, check_positive_int, common_dtype
from linear_lens.sampling import haar_orthogonal, randn

__all__ = [
    "whiten",
    "random_regression_task",
    "regression_task_with_spectrum",
    "input_output_correlation",
    "input_correlation",
    "semantic_hierarchy",
    "SEMANTIC_ITEMS",
    "SEMANTIC_FEATURES",
]


def whiten(X: torch.Tensor) -> torch.Tensor:
    r"""Return inputs $\tilde X = W X$ with $\tilde X \tilde X^\top / P = I$ exactly (eq. 2.6 of Anguita, 2024).

    Uses the symmetric (ZCA) whitening $W = (\Sigma^{xx})^{-1/2}$ with $\Sigma^{xx} = X X^\top / P$, so the
    result is the whitened matrix closest to ``X``.

    ``X``: ``(N_i, P)`` inputs, one column per sample, with full row rank (``P >= N_i``).
    Returns a tensor of the same shape, dtype (float64 for integers) and device. Raises ``ValueError`` if ``X`` is
    not full rank.
    """
    X = as_float_tensor(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D tensor of shape (N_i, P), got shape {tuple(X.shape)}")
    n_in, n_samples = X.shape
    if n_samples < n_in:
        raise ValueError(f"X: whitening needs at least as many samples as inputs, got P={n_samples} < N_i={n_in}")
    sxx = X @ X.T / n_samples
    evals, evecs = torch.linalg.eigh(sxx)
    tol = evals.max() * n_in * torch.finfo(X.dtype).eps * 100
    if evals.min() <= tol:
        raise ValueError("X: the input correlation X X^T / P is singular; whitening needs full row rank")
    inv_sqrt = evecs @ torch.diag(evals.rsqrt()) @ evecs.T
    return inv_sqrt @ X


def random_regression_task(
    n_in: int,
    n_out: int,
    n_samples: int,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Draw a random linear regression task with whitened inputs.

    $X$ has i.i.d. standard normal entries and is then whitened (:func:`whiten`); $Y = T X$ for a teacher
    $T \in \mathbb{R}^{N_o \times N_i}$ with i.i.d. standard normal entries scaled by $1/\sqrt{N_i}$, so that
    $\Sigma^{yx} = T$.

    ``n_in`` $= N_i$, ``n_out`` $= N_o$, ``n_samples`` $= P \ge N_i$; ``generator``, ``dtype``, ``device``: see the
    module docstring. Returns ``X`` of shape ``(n_in, n_samples)`` and ``Y`` of shape ``(n_out, n_samples)``.
    """
    n_in = check_positive_int(n_in, "n_in")
    n_out = check_positive_int(n_out, "n_out")
    n_samples = check_positive_int(n_samples, "n_samples")
    if n_samples < n_in:
        raise ValueError(f"n_samples: must be at least n_in={n_in} for whitened inputs, got {n_samples}")
    _check_dtype(dtype)
    generator = as_generator(generator)
    X = whiten(randn((n_in, n_samples), generator, dtype, device))
    teacher = randn((n_out, n_in), generator, dtype, device) / n_in**0.5
    return X, teacher @ X


def regression_task_with_spectrum(
    singular_values,
    n_in: int,
    n_out: int,
    n_samples: int,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Draw a regression task with whitened inputs whose $\Sigma^{yx}$ has prescribed singular values.

    $X$ is drawn and whitened as in :func:`random_regression_task`; $Y = \tilde U \operatorname{diag}(s) \tilde V^\top X$
    with Haar-random orthonormal columns $\tilde U \in \mathbb{R}^{N_o \times k}$, $\tilde V \in \mathbb{R}^{N_i \times k}$,
    $k = \min(N_i, N_o)$, so that $\Sigma^{yx} = \tilde U \operatorname{diag}(s) \tilde V^\top$ (eq. 2.16 of
    Anguita, 2024) exactly up to rounding.

    ``singular_values``: $k$ positive numbers $s_1, \dots, s_k$ (any order); ``n_in`` $= N_i$, ``n_out`` $= N_o$,
    ``n_samples`` $= P \ge N_i$; ``generator``, ``dtype``, ``device``: see the module docstring.
    Returns ``X`` of shape ``(n_in, n_samples)`` and ``Y`` of shape ``(n_out, n_samples)``.
    """
    n_in = check_positive_int(n_in, "n_in")
    n_out = check_positive_int(n_out, "n_out")
    n_samples = check_positive_int(n_samples, "n_samples")
    if n_samples < n_in:
        raise ValueError(f"n_samples: must be at least n_in={n_in} for whitened inputs, got {n_samples}")
    _check_dtype(dtype)
    s = as_float_tensor(singular_values, "singular_values", dtype=dtype).to(device)
    k = min(n_in, n_out)
    if s.ndim != 1 or s.shape[0] != k:
        raise ValueError(f"singular_values: expected {k} = min(n_in, n_out) values, got shape {tuple(s.shape)}")
    if bool((s <= 0).any()):
        raise ValueError("singular_values: must be positive")
    generator = as_generator(generator)
    X = whiten(randn((n_in, n_samples), generator, dtype, device))
    U = haar_orthogonal(n_out, generator=generator, dtype=dtype, device=device, columns=k)
    V = haar_orthogonal(n_in, generator=generator, dtype=dtype, device=device, columns=k)
    return X, U @ torch.diag(s) @ V.T @ X


def input_output_correlation(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    r"""Return $\Sigma^{yx} = Y X^\top / P$ (eq. 2.5 of Anguita, 2024), of shape ``(N_o, N_i)``.

    Computed in the wider dtype of ``X`` and ``Y``, on the device of ``X``.
    """
    X = as_float_tensor(X, "X")
    Y = as_float_tensor(Y, "Y")
    dtype = common_dtype(X, Y)
    X, Y = X.to(dtype), Y.to(dtype=dtype, device=X.device)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X, Y: expected shapes (N_i, P) and (N_o, P) with the same P, got {tuple(X.shape)} and {tuple(Y.shape)}"
        )
    return Y @ X.T / X.shape[1]


def input_correlation(X: torch.Tensor) -> torch.Tensor:
    r"""Return $\Sigma^{xx} = X X^\top / P$ (eq. 2.5 of Anguita, 2024), of shape ``(N_i, N_i)``."""
    X = as_float_tensor(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D tensor of shape (N_i, P), got shape {tuple(X.shape)}")
    return X @ X.T / X.shape[1]


SEMANTIC_ITEMS = ("fish 1", "fish 2", "bird 1", "bird 2", "algae 1", "algae 2", "flower 1", "flower 2")
"""The eight items of :func:`semantic_hierarchy`, in the order of its columns (the leaves of Fig. 4.1's tree)."""

SEMANTIC_FEATURES = ("living thing", "animal / plant", "fish / bird", "algae / flower", "fish 1 / fish 2",
                     "bird 1 / bird 2", "algae 1 / algae 2", "flower 1 / flower 2")
"""The eight features of :func:`semantic_hierarchy`, one per internal node of the tree, in the order of its rows."""


def semantic_hierarchy(dtype: torch.dtype = torch.float64, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return the hierarchical semantic task of Fig. 4.1 of Anguita (2024): eight living things and their features.

    A binary tree splits living things into animals and plants, animals into fish and birds, plants into algae and
    flowers, and each of these into two items (:data:`SEMANTIC_ITEMS`). Each item is presented as a one-hot input,
    $X = I_8$ ($P = 8$ samples), and its target is a column of $Y \in \{-1, 0, 1\}^{8 \times 8}$ with one feature per
    internal node of the tree (:data:`SEMANTIC_FEATURES`): $+1$ on the node's left branch, $-1$ on its right branch,
    $0$ elsewhere, and the root feature "living thing" equal to $+1$ for every item. This contrast coding is the data
    of Braun et al. (2022), reused by the thesis's code (``illustrative_example.ipynb`` of LinearNetworkDynamics, whose
    array holds $Y^\top$); Saxe, McClelland and Ganguli (2019) use the same kind of tree.

    The rows of $Y$ are orthogonal, so $\Sigma^{yx} = YX^\top/P = Y/8$ has $\tilde U = I$ (each feature is a mode) and
    singular values $\sqrt{8}/8$ (twice), $2/8$ (twice) and $\sqrt2/8$ (four times), one per level of the tree. The
    inputs are not whitened in the sense of eq. (2.6): $\Sigma^{xx} = I/8$.

    ``dtype``: ``torch.float32`` or ``torch.float64``; ``device``: where to create the tensors. Returns ``X`` ``(8, 8)`` and ``Y`` ``(8, 8)``
    (rows: features, columns: items).
    """
    _check_dtype(dtype)
    Y = torch.zeros(8, 8, dtype=dtype, device=device)
    Y[0] = 1.0                                                  # living thing: every item
    Y[1, :4], Y[1, 4:] = 1.0, -1.0                              # animal / plant
    for row, start in ((2, 0), (3, 4)):                         # fish / bird, algae / flower
        Y[row, start:start + 2], Y[row, start + 2:start + 4] = 1.0, -1.0
    for pair in range(4):                                       # the two items of each kind
        Y[4 + pair, 2 * pair], Y[4 + pair, 2 * pair + 1] = 1.0, -1.0
    return torch.eye(8, dtype=dtype, device=device), Y


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _check_dtype(dtype) -> None:
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
