r"""The neural tangent kernel and the representations of a two-layer linear network (Anguita, 2024, Section 2.3).

For $f(X) = W_2 W_1 X$ with $X \in \mathbb{R}^{N_i \times P}$, flatten the outputs row by row
($f_{op}$ at index $oP + p$). The Jacobian of $f$ with respect to $\theta = (W_1, W_2)$ gives the kernel
$K = JJ^\top$ (eq. 2.34 with parameters stacked), which for a linear network depends on the weights only through the
*representations* $W_1^\top W_1$ (input) and $W_2W_2^\top$ (output) of Definition 2.2.3:

$$\mathrm{NTK} = I_{N_o} \otimes X^\top W_1^\top W_1 X + W_2 W_2^\top \otimes X^\top X$$

(eq. 2.37 = eq. 4.1, from Braun et al., 2022). :func:`ntk` evaluates it from the weights,
:func:`ntk_from_representations` from the blocks of $QQ^\top$ (so that an exact $QQ^\top(t)$ gives the exact NTK), and
:func:`empirical_ntk` by automatic differentiation, the independent reference. :func:`kernel_change` measures how far a
kernel moved, the criterion of lazy ($\approx 0$) against rich learning.
"""

from __future__ import annotations

import torch

from linear_lens._checks import as_float_tensor

__all__ = ["ntk", "ntk_from_representations", "empirical_ntk", "kernel_change"]


def ntk(W1: torch.Tensor, W2: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    r"""Return $I_{N_o} \otimes X^\top W_1^\top W_1 X + W_2W_2^\top \otimes X^\top X$ (eq. 2.37 of Anguita, 2024).

    ``W1``: ``(..., N_h, N_i)``; ``W2``: ``(..., N_o, N_h)``; ``X``: ``(N_i, P)``. Returns
    ``(..., N_o P, N_o P)``, rows and columns indexed by $(o, p) \mapsto oP + p$.
    """
    W1 = as_float_tensor(W1, "W1")
    W2 = as_float_tensor(W2, "W2").to(W1)
    if W1.ndim < 2 or W2.ndim < 2 or W2.shape[-1] != W1.shape[-2]:
        raise ValueError(f"W1, W2: expected (..., N_h, N_i) and (..., N_o, N_h), got {tuple(W1.shape)}, {tuple(W2.shape)}")
    return ntk_from_representations(W1.mT @ W1, W2 @ W2.mT, X)


def ntk_from_representations(input_rep: torch.Tensor, output_rep: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    r"""Return the NTK from the representations $W_1^\top W_1$ ``(..., N_i, N_i)`` and $W_2W_2^\top$ ``(..., N_o, N_o)``.

    Use the blocks of an exact $QQ^\top(t)$ (:func:`linear_lens.riccati.blocks`) to get the exact NTK along the flow.
    ``X``: ``(N_i, P)``. Returns ``(..., N_o P, N_o P)``.
    """
    K1 = as_float_tensor(input_rep, "input_rep")
    K2 = as_float_tensor(output_rep, "output_rep").to(K1)
    X = as_float_tensor(X, "X").to(K1)
    if K1.ndim < 2 or K1.shape[-1] != K1.shape[-2] or K2.ndim < 2 or K2.shape[-1] != K2.shape[-2]:
        raise ValueError(f"input_rep, output_rep: expected square matrices, got {tuple(K1.shape)}, {tuple(K2.shape)}")
    if X.ndim != 2 or X.shape[0] != K1.shape[-1]:
        raise ValueError(f"X: expected shape ({K1.shape[-1]}, P), got {tuple(X.shape)}")
    n_out, P = K2.shape[-1], X.shape[1]
    batch = torch.broadcast_shapes(K1.shape[:-2], K2.shape[:-2])
    inner = X.T @ K1 @ X                                       # (..., P, P)
    gram = X.T @ X
    eye = torch.eye(n_out, dtype=K1.dtype, device=K1.device)
    first = torch.einsum("ab,...pq->...apbq", eye, inner)
    second = torch.einsum("...ab,pq->...apbq", K2, gram)
    return (first + second).expand(*batch, n_out, P, n_out, P).reshape(*batch, n_out * P, n_out * P)


def empirical_ntk(W1: torch.Tensor, W2: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    r"""Return $JJ^\top$ with $J = \partial\,\mathrm{vec}(W_2W_1X)/\partial(W_1, W_2)$ computed by autograd (eq. 2.34).

    The independent reference for :func:`ntk`; single networks only. ``W1``: ``(N_h, N_i)``; ``W2``: ``(N_o, N_h)``;
    ``X``: ``(N_i, P)``. Returns ``(N_o P, N_o P)``.
    """
    W1 = as_float_tensor(W1, "W1").detach()
    W2 = as_float_tensor(W2, "W2").to(W1).detach()
    X = as_float_tensor(X, "X").to(W1)
    if W1.ndim != 2 or W2.ndim != 2 or W2.shape[1] != W1.shape[0] or X.shape[0] != W1.shape[1]:
        raise ValueError(f"W1, W2, X: expected (N_h, N_i), (N_o, N_h), (N_i, P), got {tuple(W1.shape)}, "
                         f"{tuple(W2.shape)}, {tuple(X.shape)}")
    J1, J2 = torch.autograd.functional.jacobian(lambda a, b: (b @ a @ X).reshape(-1), (W1, W2))
    J = torch.cat([J1.reshape(J1.shape[0], -1), J2.reshape(J2.shape[0], -1)], dim=1)
    return J @ J.T


def kernel_change(K: torch.Tensor, K0: torch.Tensor) -> torch.Tensor:
    r"""Return $\lVert K - K_0\rVert_F / \lVert K_0\rVert_F$, how far a kernel moved from its initial value.

    ``K``: ``(..., M, M)``; ``K0``: ``(M, M)`` or broadcastable. Returns ``(...)``.
    """
    K = as_float_tensor(K, "K")
    K0 = as_float_tensor(K0, "K0").to(K)
    return torch.linalg.matrix_norm(K - K0) / torch.linalg.matrix_norm(K0)
