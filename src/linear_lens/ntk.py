r"""The neural tangent kernel and the representations of a two-layer linear network (Anguita, 2024, Sections 2.3, 4.1).

For $f(X) = W_2 W_1 X$ with $X \in \mathbb{R}^{N_i \times P}$, flatten the outputs row by row
($f_{op}$ at index $oP + p$). The Jacobian of $f$ with respect to $\theta = (W_1, W_2)$ gives the kernel
$K = JJ^\top$ (eq. 2.34 with parameters stacked), which for a linear network depends on the weights only through the
*representations* $W_1^\top W_1$ (input) and $W_2W_2^\top$ (output) of Definition 2.2.3:

$$\mathrm{NTK} = I_{N_o} \otimes X^\top W_1^\top W_1 X + W_2 W_2^\top \otimes X^\top X$$

(eq. 2.37 = eq. 4.1, from Braun et al., 2022). :func:`ntk` evaluates it from the weights,
:func:`ntk_from_representations` from the blocks of $QQ^\top$ (so that an exact $QQ^\top(t)$ gives the exact NTK), and
:func:`empirical_ntk` by automatic differentiation, the independent reference. A shallow network $f(X) = WX$ has the
kernel $I_{N_o} \otimes X^\top X$, whatever $W$ is (:func:`shallow_ntk`, :func:`empirical_shallow_ntk`).

**How far a kernel moved.** Two measures from the literature on lazy and rich learning: the relative change
$\lVert K - K_0\rVert_F / \lVert K_0\rVert_F$ (:func:`kernel_change`; e.g. Geiger et al., 2020) and the kernel
distance $1 - \langle K, K_0\rangle_F / (\lVert K\rVert_F \lVert K_0\rVert_F)$ of Fort et al. (2020)
(:func:`kernel_distance`), which ignores a change of scale. Since the NTK is linear in the pair of representations,
inner products of two NTKs reduce to traces of $N_i \times N_i$ and $N_o \times N_o$ matrices, with $M = XX^\top$:

$$\langle \mathrm{NTK}_a, \mathrm{NTK}_b\rangle_F = N_o \operatorname{tr}(K_{1a} M K_{1b} M)
  + \operatorname{tr}(K_{2b}) \operatorname{tr}(K_{1a} M^2) + \operatorname{tr}(K_{2a}) \operatorname{tr}(K_{1b} M^2)
  + \operatorname{tr}(K_{2a} K_{2b}) \operatorname{tr}(M^2),$$

using $\langle A \otimes B, C \otimes D\rangle_F = \langle A, C\rangle_F \langle B, D\rangle_F$. :func:`ntk_inner`,
:func:`representation_kernel_change` and :func:`representation_kernel_distance` use it, batched, without forming
the $N_oP \times N_oP$ kernels.
"""

from __future__ import annotations

import torch

from linear_lens._checks import as_float_tensor

__all__ = [
    "ntk",
    "ntk_from_representations",
    "empirical_ntk",
    "shallow_ntk",
    "empirical_shallow_ntk",
    "kernel_change",
    "kernel_distance",
    "ntk_inner",
    "representation_kernel_change",
    "representation_kernel_distance",
]


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
    K1, K2, X = _check_reps(input_rep, output_rep, X)
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


def shallow_ntk(X: torch.Tensor, n_out: int) -> torch.Tensor:
    r"""Return $I_{N_o} \otimes X^\top X$, the NTK of a shallow linear network $f(X) = WX$, for every $W$.

    The Jacobian of $\mathrm{vec}(WX)$ with respect to $W$ does not depend on $W$, so the kernel is constant along any
    training: a shallow linear network is its own linearisation, the lazy regime exactly. ``X``: ``(N_i, P)``;
    ``n_out``: $N_o$. Returns ``(N_o P, N_o P)`` with the ordering of :func:`ntk`.
    """
    X = as_float_tensor(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X: expected shape (N_i, P), got {tuple(X.shape)}")
    if isinstance(n_out, bool) or not isinstance(n_out, int) or n_out < 1:
        raise ValueError(f"n_out: expected a positive integer, got {n_out!r}")
    return torch.kron(torch.eye(n_out, dtype=X.dtype, device=X.device), X.T @ X)


def empirical_shallow_ntk(W: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    r"""Return $JJ^\top$ with $J = \partial\,\mathrm{vec}(WX)/\partial W$ by autograd: the reference for :func:`shallow_ntk`.

    ``W``: ``(N_o, N_i)``; ``X``: ``(N_i, P)``. Returns ``(N_o P, N_o P)``.
    """
    W = as_float_tensor(W, "W").detach()
    X = as_float_tensor(X, "X").to(W)
    if W.ndim != 2 or X.ndim != 2 or X.shape[0] != W.shape[1]:
        raise ValueError(f"W, X: expected (N_o, N_i) and (N_i, P), got {tuple(W.shape)}, {tuple(X.shape)}")
    J = torch.autograd.functional.jacobian(lambda a: (a @ X).reshape(-1), W)
    J = J.reshape(J.shape[0], -1)
    return J @ J.T


def kernel_change(K: torch.Tensor, K0: torch.Tensor) -> torch.Tensor:
    r"""Return $\lVert K - K_0\rVert_F / \lVert K_0\rVert_F$, how far a kernel moved from its initial value.

    ``K``: ``(..., M, M)``; ``K0``: ``(M, M)`` or broadcastable. Returns ``(...)``; ``inf`` where $K_0 = 0 \ne K$,
    ``0`` where both vanish.
    """
    K, K0 = _check_kernels(K, K0)
    return _ratio(torch.linalg.matrix_norm(K - K0), torch.linalg.matrix_norm(K0))


def kernel_distance(K: torch.Tensor, K0: torch.Tensor) -> torch.Tensor:
    r"""Return the kernel distance $1 - \langle K, K_0\rangle_F / (\lVert K\rVert_F\lVert K_0\rVert_F)$ (Fort et al., 2020).

    Evaluated as $\tfrac12\lVert K/\lVert K\rVert_F - K_0/\lVert K_0\rVert_F\rVert_F^2$, which is the same number
    without the cancellation of $1 - \cos$ when the kernels are nearly parallel (the lazy regime). In $[0, 2]$;
    invariant to rescaling either kernel. ``K``: ``(..., M, M)``; ``K0``: broadcastable. Both must be non-zero.
    """
    K, K0 = _check_kernels(K, K0)
    n, n0 = torch.linalg.matrix_norm(K), torch.linalg.matrix_norm(K0)
    if bool((n == 0).any()) or bool((n0 == 0).any()):
        raise ValueError("K, K0: the kernel distance needs non-zero kernels")
    return 0.5 * torch.linalg.matrix_norm(K / n[..., None, None] - K0 / n0[..., None, None]) ** 2


def ntk_inner(input_a: torch.Tensor, output_a: torch.Tensor, input_b: torch.Tensor, output_b: torch.Tensor,
              X: torch.Tensor) -> torch.Tensor:
    r"""Return $\langle \mathrm{NTK}_a, \mathrm{NTK}_b\rangle_F$ for the NTKs of two pairs of representations.

    Implements the trace formula of the module docstring (no $N_oP \times N_oP$ matrix is formed).
    ``input_a``, ``input_b``: ``(..., N_i, N_i)``; ``output_a``, ``output_b``: ``(..., N_o, N_o)``; ``X``:
    ``(N_i, P)``. Returns ``(...)``.
    """
    K1a, K2a, X = _check_reps(input_a, output_a, X)
    K1b, K2b, _ = _check_reps(input_b, output_b, X)
    M = X @ X.T
    M2 = M @ M
    n_out = K2a.shape[-1]
    tr = lambda A: A.diagonal(dim1=-2, dim2=-1).sum(-1)  # noqa: E731
    return (n_out * (K1a.mT @ M * (K1b @ M).mT).sum((-2, -1))
            + tr(K2b) * (K1a * M2).sum((-2, -1)) + tr(K2a) * (K1b * M2).sum((-2, -1))
            + (K2a * K2b).sum((-2, -1)) * (M2.diagonal().sum()))


def representation_kernel_change(input_rep: torch.Tensor, output_rep: torch.Tensor, input_0: torch.Tensor,
                                 output_0: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    r"""Return $\lVert \mathrm{NTK} - \mathrm{NTK}_0\rVert_F / \lVert \mathrm{NTK}_0\rVert_F$ from the representations.

    The NTK is linear in $(W_1^\top W_1, W_2W_2^\top)$, so the difference is the NTK of the differences
    (:func:`ntk_inner`). ``input_rep``, ``output_rep``: ``(..., N_i, N_i)``, ``(..., N_o, N_o)`` at time $t$;
    ``input_0``, ``output_0``: at time 0 (broadcastable); ``X``: ``(N_i, P)``. Returns ``(...)``, as
    :func:`kernel_change` of the explicit kernels.
    """
    K1, K2, X = _check_reps(input_rep, output_rep, X)
    K10, K20, _ = _check_reps(input_0, output_0, X)
    D1, D2 = K1 - K10, K2 - K20
    return _ratio(ntk_inner(D1, D2, D1, D2, X).clamp(min=0).sqrt(), ntk_inner(K10, K20, K10, K20, X).clamp(min=0).sqrt())


def representation_kernel_distance(input_rep: torch.Tensor, output_rep: torch.Tensor, input_0: torch.Tensor,
                                   output_0: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    r"""Return the kernel distance (:func:`kernel_distance`) between $\mathrm{NTK}$ and $\mathrm{NTK}_0$ from the representations.

    $\tfrac12\lVert \mathrm{NTK}(K_1/n, K_2/n) - \mathrm{NTK}(K_{10}/n_0, K_{20}/n_0)\rVert_F^2$ with $n$, $n_0$
    the Frobenius norms of the two kernels. Arguments as in :func:`representation_kernel_change`.
    """
    K1, K2, X = _check_reps(input_rep, output_rep, X)
    K10, K20, _ = _check_reps(input_0, output_0, X)
    n = ntk_inner(K1, K2, K1, K2, X).clamp(min=0).sqrt()
    n0 = ntk_inner(K10, K20, K10, K20, X).clamp(min=0).sqrt()
    if bool((n == 0).any()) or bool((n0 == 0).any()):
        raise ValueError("input_rep, output_rep: the kernel distance needs non-zero kernels")
    a, a0 = n[..., None, None], n0[..., None, None]
    D1, D2 = K1 / a - K10 / a0, K2 / a - K20 / a0
    return 0.5 * ntk_inner(D1, D2, D1, D2, X).clamp(min=0)


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _check_reps(input_rep, output_rep, X):
    K1 = as_float_tensor(input_rep, "input_rep")
    K2 = as_float_tensor(output_rep, "output_rep").to(K1)
    X = as_float_tensor(X, "X").to(K1)
    if K1.ndim < 2 or K1.shape[-1] != K1.shape[-2] or K2.ndim < 2 or K2.shape[-1] != K2.shape[-2]:
        raise ValueError(f"input_rep, output_rep: expected square matrices, got {tuple(K1.shape)}, {tuple(K2.shape)}")
    if X.ndim != 2 or X.shape[0] != K1.shape[-1]:
        raise ValueError(f"X: expected shape ({K1.shape[-1]}, P), got {tuple(X.shape)}")
    try:
        torch.broadcast_shapes(K1.shape[:-2], K2.shape[:-2])
    except RuntimeError as err:
        raise ValueError(f"input_rep, output_rep: batch shapes {tuple(K1.shape[:-2])} and {tuple(K2.shape[:-2])} "
                         "do not broadcast") from err
    return K1, K2, X


def _check_kernels(K, K0):
    K = as_float_tensor(K, "K")
    K0 = as_float_tensor(K0, "K0").to(K)
    if K.ndim < 2 or K0.ndim < 2:
        raise ValueError(f"K, K0: expected matrices (..., M, M), got shapes {tuple(K.shape)}, {tuple(K0.shape)}")
    try:
        torch.broadcast_shapes(K.shape, K0.shape)
    except RuntimeError as err:
        raise ValueError(f"K, K0: shapes {tuple(K.shape)} and {tuple(K0.shape)} do not broadcast") from err
    return K, K0


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num / den with inf where den = 0 < num and 0 where both vanish."""
    safe = torch.where(den > 0, den, torch.ones_like(den))
    out = num / safe
    return torch.where(den > 0, out, torch.where(num > 0, torch.full_like(out, float("inf")), torch.zeros_like(out)))
