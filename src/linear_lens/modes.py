r"""The task's modes, and two-layer linear networks read and trained in them (Anguita, 2024, Sections 2.2 and 3.2).

A task's input-output correlation has the SVD $\Sigma^{yx} = \tilde U \tilde S \tilde V^\top$ (eq. 2.16,
:func:`task_modes`): one *mode* $\alpha$ per singular value $s_\alpha$, with directions $\tilde u_\alpha$ (output)
and $\tilde v_\alpha$ (input). Weights $W_1$ ($N_h \times N_i$) and $W_2$ ($N_o \times N_h$) are read in these
coordinates:

- the modes of the product, $a_\alpha = \tilde u_\alpha^\top W_2 W_1 \tilde v_\alpha$, and the distance of $W_2W_1$
  from $\tilde U\,\mathrm{diag}(a)\,\tilde V^\top$, zero exactly when the product is aligned with the task
  (Definition 2.2.2, :func:`mode_values`);
- the balance of each mode,
  $\lambda_\alpha = \lVert W_2^\top \tilde u_\alpha\rVert^2 - \lVert W_1 \tilde v_\alpha\rVert^2$, equal to
  $\lambda$ for every mode of aligned $\lambda$-balanced weights (Definition 2.2.1, :func:`mode_balance`);
- the distance from the *factored* aligned form $W_1 = R\,C\,\tilde V^\top$, $W_2 = \tilde U\,D\,R^\top$, with $R$
  orthogonal and $C$, $D$ rectangular diagonal (:func:`factored_residual`): the form under which each mode
  $a_\alpha = c_\alpha d_\alpha$ evolves on its own, which the closed forms of :mod:`linear_lens.aligned` need.

**Gradient descent, mode by mode.** On weights in factored form and whitened inputs the loss (2.3) is, up to a
constant, $\sum_\alpha (s_\alpha - c_\alpha d_\alpha)^2/2$, and one step of gradient descent with learning rate
$\eta$ is $c \leftarrow c + \eta d e$, $d \leftarrow d + \eta c e$ with $e = s - cd$, mode by mode
(:func:`mode_descent`): the discrete-time counterpart of the flow whose closed form :mod:`linear_lens.aligned` gives.
It keeps the factored form but not the balance: each step multiplies $d^2 - c^2$ by $1 - \eta^2 e^2$
(:func:`descent_mode_balance`). It converges to the $\lambda$-balanced minimum only for $\eta < 2/K$, where
$K = \sqrt{\lambda^2 + 4s^2}$ is the curvature of the loss there (:func:`linear_lens.aligned.mode_curvature`).

The readings compute in the widest dtype of their arguments, gradient descent in float64; inputs follow the
package's dtype policy (:mod:`linear_lens._checks`).
"""

from __future__ import annotations

import torch

from linear_lens._checks import as_float_tensor, check_nonnegative_int, check_positive_real, common_dtype
from linear_lens._threads import single_thread
from linear_lens.tasks import input_output_correlation

__all__ = [
    "task_modes",
    "mode_values",
    "mode_balance",
    "factored_residual",
    "mode_descent",
    "descent_mode_balance",
]


def task_modes(X, Y, full: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Return the SVD $\Sigma^{yx} = \tilde U \tilde S \tilde V^\top$ of the task (eq. 2.16 of Anguita, 2024).

    ``X``: ``(N_i, P)``; ``Y``: ``(N_o, P)``. Returns ``U`` ``(N_o, k)``, ``s`` ``(k,)`` (descending) and ``V``
    ``(N_i, k)`` with $k = \min(N_i, N_o)$; with ``full=True`` the full orthogonal bases ``U`` ``(N_o, N_o)`` and
    ``V`` ``(N_i, N_i)`` (their first $k$ columns are the compact ones), as eq. (2.1) defines the SVD.
    Computed in the wider dtype of ``X`` and ``Y``, on the device of ``X``.
    """
    U, s, Vh = torch.linalg.svd(input_output_correlation(X, Y), full_matrices=bool(full))
    return U, s, Vh.mT


def mode_values(W1, W2, U, V) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return the modes $a_\alpha = \tilde u_\alpha^\top W_2 W_1 \tilde v_\alpha$ and how far $W_2W_1$ is from aligned.

    ``W1``: ``(..., N_h, N_i)``; ``W2``: ``(..., N_o, N_h)``; ``U``, ``V``: the task's singular vectors from
    :func:`task_modes`. Returns ``a`` of shape ``(..., k)`` and the misalignment
    $\lVert W_2 W_1 - \tilde U \mathrm{diag}(a) \tilde V^\top \rVert_F$ of shape ``(...)``, zero exactly when the
    product is aligned with the task (Definition 2.2.2). Both are invariant to the sign ambiguity of the SVD.
    With full bases (``task_modes(..., full=True)``) only the first $k = \min(N_i, N_o)$ columns are used.
    """
    W1, W2, U, V = _check_modes(W1, W2, U, V)
    k = min(U.shape[1], V.shape[1])
    U, V = U[:, :k], V[:, :k]
    product = W2 @ W1
    a = (U.mT @ product @ V).diagonal(dim1=-2, dim2=-1)
    residual = product - U @ torch.diag_embed(a) @ V.mT
    return a, torch.linalg.matrix_norm(residual)


def mode_balance(W1, W2, U, V) -> torch.Tensor:
    r"""Return the balance of each mode, $\lambda_\alpha = \lVert W_2^\top \tilde u_\alpha\rVert^2 - \lVert W_1 \tilde v_\alpha\rVert^2$.

    For aligned weights $W_1 = R\,\mathrm{diag}(c)\,\tilde V^\top$, $W_2 = \tilde U\,\mathrm{diag}(d)\,R^\top$ this is
    $d_\alpha^2 - c_\alpha^2$, which equals $\lambda$ for every mode when the weights are $\lambda$-balanced
    (Definition 2.2.1 of Anguita, 2024). ``W1``: ``(..., N_h, N_i)``; ``W2``: ``(..., N_o, N_h)``; ``U``, ``V``: the
    task's singular vectors from :func:`task_modes`. Returns ``(..., k)``.
    """
    W1, W2, U, V = _check_modes(W1, W2, U, V)
    k = min(U.shape[1], V.shape[1])
    return (W2.mT @ U[:, :k]).pow(2).sum(-2) - (W1 @ V[:, :k]).pow(2).sum(-2)


def factored_residual(W1, W2, U, V) -> torch.Tensor:
    r"""Return how far the weights are from the factored aligned form $W_1 = R\,C\,\tilde V^\top$, $W_2 = \tilde U\,D\,R^\top$.

    Definition 2.2.2 of Anguita (2024) asks only that the product $W_2W_1$ share the task's singular vectors; the
    closed forms of Sections 2.2 and 3.2 use the stronger *factored* form, with $R$ orthogonal and $C$
    ($N_h \times N_i$), $D$ ($N_o \times N_h$) rectangular diagonal: every task direction $\tilde v_\alpha$
    (resp. $\tilde u_\alpha$) is sent by $W_1$ (resp. $W_2^\top$) to a multiple of one hidden unit $r_\alpha$, and
    different directions to orthogonal hidden units. With $m_\alpha = W_1\tilde v_\alpha$ and
    $n_\alpha = W_2^\top\tilde u_\alpha$ for the $k = \min(N_i, N_o)$ modes, and the blocks $M_\perp = W_1\tilde V_\perp$,
    $N_\perp = W_2^\top\tilde U_\perp$ of the null spaces of $\Sigma^{yx}$ (whose bases are arbitrary), the form holds
    (for distinct singular values) iff the $m_\alpha$, $n_\beta$ are pairwise orthogonal except
    $m_\alpha \parallel n_\alpha$, both null blocks are orthogonal to all of them, and $M_\perp M_\perp^\top$ commutes
    with $N_\perp N_\perp^\top$ (then a choice of null-space bases makes both blocks diagonal on the same hidden units).
    This returns the root of the sum of the squares of all these defects (the off-diagonal Gram entries, the wedge
    products $m_\alpha \wedge n_\alpha$, the cross products with the null blocks and the commutator) divided by
    $\lVert W_1\rVert_F^2 + \lVert W_2\rVert_F^2$: zero exactly in factored form, dimensionless, invariant under the
    choice of the null-space bases, and computed without cancellation (roundoff gives a few ulps).

    ``W1``: ``(..., N_h, N_i)``; ``W2``: ``(..., N_o, N_h)``; ``U``: ``(N_o, N_o)``, ``V``: ``(N_i, N_i)``, the full
    bases of ``task_modes(X, Y, full=True)``. Returns ``(...)``.
    """
    W1, W2, U, V = _check_modes(W1, W2, U, V)
    if U.shape[0] != U.shape[1] or V.shape[0] != V.shape[1]:
        raise ValueError(f"U, V: expected the full square bases of task_modes(X, Y, full=True), got shapes "
                         f"{tuple(U.shape)} and {tuple(V.shape)}")
    n_i, n_o = V.shape[0], U.shape[0]
    k = min(n_i, n_o)
    M = W1 @ V                                    # columns m_alpha = W1 v_alpha, (..., N_h, N_i)
    N = W2.mT @ U                                 # columns n_beta = W2^T u_beta, (..., N_h, N_o)
    Mk, Nk, Mn, Nn = M[..., :k], N[..., :k], M[..., k:], N[..., k:]
    gm, gn, gx = Mk.mT @ Mk, Nk.mT @ Nk, Mk.mT @ Nk

    def off_diagonal(G):
        return (G - torch.diag_embed(G.diagonal(dim1=-2, dim2=-1))).pow(2).sum((-2, -1))

    total = off_diagonal(gm) + off_diagonal(gn) + off_diagonal(gx)
    # m_alpha parallel to n_alpha: |m ^ n|^2 = sum_{i<j} (m_i n_j - m_j n_i)^2, computed without cancellation
    wedge = Mk.mT[..., :, :, None] * Nk.mT[..., :, None, :] - Nk.mT[..., :, :, None] * Mk.mT[..., :, None, :]
    total = total + wedge.pow(2).sum((-3, -2, -1)) / 2
    # the null-space blocks: orthogonal to every mode's hidden unit, and sharing one set of hidden units
    for block in (Mn, Nn):
        total = total + (Mk.mT @ block).pow(2).sum((-2, -1)) + (Nk.mT @ block).pow(2).sum((-2, -1))
    Pm, Pn = Mn @ Mn.mT, Nn @ Nn.mT
    total = total + (Pm @ Pn - Pn @ Pm).pow(2).sum((-2, -1))
    scale = (W1.pow(2).sum((-2, -1)) + W2.pow(2).sum((-2, -1))).clamp(min=torch.finfo(W1.dtype).tiny)
    return total.sqrt() / scale


def mode_descent(lam, s, a0, lr, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Run gradient descent on one mode of an aligned $\lambda$-balanced network, for many modes at once.

    The loss of mode $\alpha$ is $(s - cd)^2/2$ (the network's loss (2.3) restricted to aligned weights, whitened
    inputs); one step is $c \leftarrow c + \eta d e$, $d \leftarrow d + \eta c e$ with $e = s - cd$, which is what
    :func:`linear_lens.gradient_flow.train` does to aligned weights. It starts from the balanced factors
    $d = \sqrt{(r_0 + \lambda)/2}$, $c = \operatorname{sgn}(a_0)\sqrt{(r_0 - \lambda)/2}$, $r_0 = \sqrt{\lambda^2 + 4a_0^2}$.
    Entries whose iterates overflow are NaN from then on (divergence, reported, not raised).

    ``lam``, ``s`` $> 0$, ``a0``, ``lr`` $= \eta > 0$: broadcastable to a batch shape ``(...)``; ``steps``: number
    of steps $\ge 0$. Returns ``(a, balance)``, each ``(steps + 1, ...)``: the mode $cd$ and the balance
    $d^2 - c^2$ after every step (step 0 included).
    """
    lam = as_float_tensor(lam, "lam", dtype=torch.float64)
    s = as_float_tensor(s, "s", dtype=torch.float64).to(lam.device)
    a0 = as_float_tensor(a0, "a0", dtype=torch.float64).to(lam.device)
    lr = as_float_tensor(lr, "lr", dtype=torch.float64).to(lam.device)
    steps = check_nonnegative_int(steps, "steps")
    if bool((s <= 0).any()):
        raise ValueError("s: singular values must be positive")
    if bool((lr <= 0).any()):
        raise ValueError("lr: learning rates must be positive")
    try:
        lam, s, a0, lr = torch.broadcast_tensors(lam, s, a0, lr)
    except RuntimeError as err:
        raise ValueError("lam, s, a0, lr: shapes do not broadcast") from err
    r0 = torch.hypot(lam, 2 * a0)
    d = torch.sqrt((r0 + lam).clamp(min=0) / 2)
    c = torch.where(a0 < 0, -1.0, 1.0).to(r0) * torch.sqrt((r0 - lam).clamp(min=0) / 2)
    a_out = torch.empty(steps + 1, *a0.shape, dtype=torch.float64, device=a0.device)
    b_out = torch.empty_like(a_out)
    a_out[0], b_out[0] = c * d, d**2 - c**2
    with single_thread():                                   # many steps on small tensors
        for k in range(1, steps + 1):
            e = s - c * d
            c, d = c + lr * d * e, d + lr * c * e
            bad = ~(torch.isfinite(c) & torch.isfinite(d))
            c = torch.where(bad, torch.full_like(c, float("nan")), c)
            d = torch.where(bad, torch.full_like(d, float("nan")), d)
            a_out[k], b_out[k] = c * d, d**2 - c**2
    return a_out, b_out


def descent_mode_balance(lam, a, s, lr: float) -> torch.Tensor:
    r"""Return the balance of each mode along gradient descent on aligned weights: $\lambda \prod_{j<k} (1 - \eta^2 e_j^2)$.

    One gradient step on aligned weights maps $c \mapsto c + \eta d e$, $d \mapsto d + \eta c e$ with
    $e = s - cd$, so $d^2 - c^2 \mapsto (d^2 - c^2)(1 - \eta^2 e^2)$ exactly: gradient descent shrinks every mode's
    balance towards zero, each by its own factor, and $\lambda$-balanced weights stop being $\lambda$-balanced.
    (The gradient flow keeps $\lambda$, Theorem 2.2.1 of Anguita, 2024.)

    ``lam`` $=\lambda$ at step 0 (broadcastable to the modes); ``a``: ``(K + 1, ...)`` the modes at steps
    $0, \dots, K$ (every step); ``s``: the task's singular values; ``lr`` $= \eta > 0$.
    Returns ``(K + 1, ...)``, the predicted $\lambda_\alpha$ at every step.
    """
    a = as_float_tensor(a, "a", dtype=torch.float64)
    if a.ndim < 1:
        raise ValueError(f"a: expected the modes at every step along axis 0, got shape {tuple(a.shape)}")
    lam = as_float_tensor(lam, "lam", dtype=torch.float64).to(a.device)
    s = as_float_tensor(s, "s", dtype=torch.float64).to(a.device)
    lr = check_positive_real(lr, "lr")
    factors = 1 - lr**2 * (s - a[:-1]) ** 2
    ones = torch.ones_like(a[:1])
    return lam * torch.cat([ones, torch.cumprod(factors, dim=0)])


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _check_modes(W1, W2, U, V):
    """Validate weights and task singular vectors; compute in their widest dtype, on the device of W1."""
    W1 = as_float_tensor(W1, "W1")
    W2 = as_float_tensor(W2, "W2")
    U = as_float_tensor(U, "U")
    V = as_float_tensor(V, "V")
    dtype = common_dtype(W1, W2, U, V)
    W1 = W1.to(dtype)
    W2, U, V = (x.to(dtype=dtype, device=W1.device) for x in (W2, U, V))
    if (W1.ndim < 2 or W2.ndim < 2 or U.ndim != 2 or V.ndim != 2 or W2.shape[-1] != W1.shape[-2]
            or U.shape[0] != W2.shape[-2] or V.shape[0] != W1.shape[-1]
            or min(U.shape[1], V.shape[1]) != min(W1.shape[-1], W2.shape[-2])):
        raise ValueError(f"W1, W2, U, V: shapes {tuple(W1.shape)}, {tuple(W2.shape)}, {tuple(U.shape)}, "
                         f"{tuple(V.shape)} do not fit (..., N_h, N_i), (..., N_o, N_h), (N_o, k), (N_i, k)")
    return W1, W2, U, V
