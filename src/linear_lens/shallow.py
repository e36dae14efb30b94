r"""Shallow linear networks, and how close $\lambda$-balanced two-layer networks come to them as $|\lambda| \to \infty$.

Anguita (2024), Section 4.2 (Theorems 4.2.1-4.2.3). A *shallow* network $\hat Y = WX$, trained by gradient flow on
whitened inputs, follows $\tau\dot W = \Sigma^{yx} - W$, so $W(t) = \Sigma^{yx} + (W(0) - \Sigma^{yx})e^{-t/\tau}$
(Theorem 4.2.2 = Theorem 2.2.3, :func:`linear_lens.gradient_flow.shallow_solution`); its NTK,
$I_{N_o} \otimes X^\top X$, does not depend on $W$ (:func:`linear_lens.ntk.shallow_ntk`). At convergence
$W^\top W = \tilde V\tilde S^2\tilde V^\top$ and $WW^\top = \tilde U\tilde S^2\tilde U^\top$
(:func:`shallow_representations`; Theorem 4.2.1 prints $\tilde S$, errata E14.1).

A deep network $W = W_2W_1$ with $\lambda$-balanced weights obeys $\tau\dot W = EK_1 + K_2E$, $E = \Sigma^{yx} - W$,
with $K_1 = W_1^\top W_1$, $K_2 = W_2W_2^\top$. Where the large representation has full rank ($N_h = N_o$ for
$\lambda > 0$, $N_h = N_i$ for $\lambda < 0$; always in equal dimensions) $K_1 + K_2$ acts like $|\lambda|$, and in the
rescaled time $u = |\lambda|t/\tau$

$$W\big(u\tau/|\lambda|\big) = W_s(u) + \frac{C(u)}{\lambda^2} + O(\lambda^{-4}), \qquad
  W_s(u) = \Sigma^{yx} + (W_0 - \Sigma^{yx})e^{-u},$$

the shallow network compressed in time by $|\lambda|$ (Theorem 4.2.3) with the first correction $C$ of
:func:`shallow_correction`, the matrix form of :func:`linear_lens.aligned.large_lambda_correction`. Where it has
rank $N_h$ below its side, the large representation is $|\lambda|$ times the projector $\Pi$ onto the range of
$W_2(0)$ (for $\lambda > 0$; the row space of $W_1(0)$ for $\lambda < 0$), and the limit is the projected flow
$W_\Pi(u) = W_0 + \Pi(\Sigma^{yx} - W_0)(1 - e^{-u})$ (:func:`projected_limit`): the rest of the task is learned on a
time scale $|\lambda|/\tilde s^2$, not $1/|\lambda|$ (errata E14.3).
"""

from __future__ import annotations

import torch

from linear_lens._checks import as_float_tensor, check_positive_int, check_positive_real, check_times

__all__ = [
    "shallow_representations",
    "printed_shallow_representations",
    "shallow_descent",
    "compressed_shallow",
    "shallow_correction",
    "projected_limit",
]

F64 = torch.float64


def shallow_representations(sigma_yx) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $(W^\top W, WW^\top)$ of a shallow network after convergence: $(\tilde V\tilde S^2\tilde V^\top, \tilde U\tilde S^2\tilde U^\top)$.

    Theorem 4.2.1 of Anguita (2024), corrected (errata E14.1): the network converges to $W = \Sigma^{yx} =
    \tilde U\tilde S\tilde V^\top$ (whitened inputs), so the Gram matrices carry $\tilde S^2$.
    ``sigma_yx``: ``(..., N_o, N_i)``. Returns ``(..., N_i, N_i)`` and ``(..., N_o, N_o)``.
    """
    S = _matrix(sigma_yx, "sigma_yx")
    return S.mT @ S, S @ S.mT


def printed_shallow_representations(sigma_yx) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Evaluate eq. (4.20) of Anguita (2024) as printed: $(\tilde V\tilde S\tilde V^\top, \tilde U\tilde S\tilde U^\top)$.

    These are the representations of a zero-balanced *deep* network after convergence ($\sigma_\pm(\tilde s) =
    \tilde s$ at $\lambda = 0$), not the Gram matrices of the shallow network's $W$ (errata E14.1). Compact SVD of
    ``sigma_yx`` ``(..., N_o, N_i)``; returns ``(..., N_i, N_i)`` and ``(..., N_o, N_o)``.
    """
    S = _matrix(sigma_yx, "sigma_yx")
    U, s, Vh = torch.linalg.svd(S, full_matrices=False)
    return (Vh.mT * s[..., None, :]) @ Vh, (U * s[..., None, :]) @ U.mT


def shallow_descent(W0, X, Y, lr, steps: int, record_every: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Full-batch gradient descent on $\lVert WX - Y\rVert_F^2/(2P)$ for shallow networks: $W \leftarrow W + \eta(\Sigma^{yx} - W\Sigma^{xx})$.

    The gradient descent of Theorem 4.2.2 of Anguita (2024); step $k$ at time $t = k\eta$, as in
    :func:`linear_lens.gradient_flow.train`. ``W0``: ``(..., N_o, N_i)``; ``X``: ``(N_i, P)``; ``Y``: ``(N_o, P)``;
    ``lr``: $\eta > 0$, a number or a tensor broadcastable to the batch ``(...)``; ``steps``; ``record_every``.
    Returns ``t`` ``(K, ...)`` (or ``(K,)`` for a number ``lr``) and ``W`` ``(K, ..., N_o, N_i)`` at the recorded
    steps (0 and the last always included).
    """
    W = _matrix(W0, "W0")
    X = as_float_tensor(X, "X", dtype=F64).to(W.device)
    Y = as_float_tensor(Y, "Y", dtype=F64).to(W.device)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1] or W.shape[-2:] != (Y.shape[0], X.shape[0]):
        raise ValueError(f"W0, X, Y: expected (..., N_o, N_i), (N_i, P), (N_o, P), got {tuple(W.shape)}, "
                         f"{tuple(X.shape)}, {tuple(Y.shape)}")
    steps = check_positive_int(steps, "steps")
    record_every = check_positive_int(record_every, "record_every")
    eta = as_float_tensor(lr, "lr", dtype=F64).to(W.device)
    if bool((eta <= 0).any()):
        raise ValueError("lr: learning rates must be positive")
    P = X.shape[1]
    sxx, syx = X @ X.T / P, Y @ X.T / P
    eta_m = eta[..., None, None]
    kept, Ws = [0], [W.clone()]
    for k in range(1, steps + 1):
        W = W + eta_m * (syx - W @ sxx)
        if k % record_every == 0 or k == steps:
            kept.append(k)
            Ws.append(W.clone())
    k = torch.tensor(kept, dtype=F64, device=W.device)
    t = k.reshape(-1, *([1] * eta.ndim)) * eta
    return t, torch.stack(Ws)


def compressed_shallow(t, W0, sigma_yx, lam, tau: float = 1.0) -> torch.Tensor:
    r"""Return $\Sigma^{yx} + (W_0 - \Sigma^{yx})e^{-|\lambda|t/\tau}$, the limit claimed by Theorem 4.2.3 of Anguita (2024).

    Eq. (4.26): the shallow network's solution (4.21) with time compressed by $|\lambda|$ (for one $\lambda$ this is
    :func:`linear_lens.gradient_flow.shallow_solution` with $\tau/|\lambda|$). ``t``: ``(T,)`` or ``(T, ...)``;
    ``W0``, ``sigma_yx``: ``(..., N_o, N_i)``; ``lam``: ``(...)``, non-zero. Returns ``(T, ..., N_o, N_i)``.
    """
    W0 = _matrix(W0, "W0")
    S = _matrix(sigma_yx, "sigma_yx").to(W0.device)
    lam = as_float_tensor(lam, "lam", dtype=F64).to(W0.device)
    if bool((lam == 0).any()):
        raise ValueError("lam: Theorem 4.2.3 is a statement about |lambda| -> infinity; lam must be non-zero")
    tau = check_positive_real(tau, "tau")
    batch = torch.broadcast_shapes(W0.shape[:-2], S.shape[:-2], lam.shape)
    u = check_times(t, batch, W0.device, extend_batch=True)[0] * lam.abs() / tau
    return S + (W0 - S) * torch.exp(-u)[..., None, None]


def shallow_correction(u, W0, sigma_yx) -> torch.Tensor:
    r"""Return $C(u)$ with $W(u\tau/|\lambda|) = W_s(u) + C(u)/\lambda^2 + O(\lambda^{-4})$ for $\lambda$-balanced networks.

    A result of this book that makes Theorem 4.2.3 of Anguita (2024) quantitative. In the time $u = |\lambda|t/\tau$
    the product obeys $W' = E + (EW^\top W + WW^\top E)/\lambda^2 + O(\lambda^{-4})$ (expand $K_1$, $K_2$ of
    :func:`linear_lens.representations.representations_from_product`); linearising about $W_s(u) = \Sigma -
    De^{-u}$, $D = \Sigma - W_0$,

    $$C(u) = e^{-u}\big(D\,G(u) + H(u)\,D\big), \quad
      G(u) = \int_0^u W_s^\top W_s = \Sigma^\top\Sigma u - (\Sigma^\top D + D^\top\Sigma)(1 - e^{-u})
             + \tfrac12 D^\top D(1 - e^{-2u}),$$

    and $H(u) = \int_0^u W_sW_s^\top$ likewise. For aligned, diagonal $\Sigma$ and $W_0$ it is
    :func:`linear_lens.aligned.large_lambda_correction` on the diagonal. Valid where the large representation has
    full rank (:mod:`linear_lens.shallow`). ``u``: ``(T,)`` or ``(T, ...)`` rescaled times $\ge 0$; ``W0``,
    ``sigma_yx``: ``(..., N_o, N_i)``. Returns ``(T, ..., N_o, N_i)``.
    """
    W0 = _matrix(W0, "W0")
    S = _matrix(sigma_yx, "sigma_yx").to(W0.device)
    batch = torch.broadcast_shapes(W0.shape[:-2], S.shape[:-2])
    u = check_times(u, batch, W0.device, extend_batch=True)[0][..., None, None]
    D = S - W0
    e1, e2 = -torch.expm1(-u), -torch.expm1(-2 * u)
    G = S.mT @ S * u - (S.mT @ D + D.mT @ S) * e1 + D.mT @ D * e2 / 2
    H = S @ S.mT * u - (S @ D.mT + D @ S.mT) * e1 + D @ D.mT * e2 / 2
    return torch.exp(-u) * (D @ G + H @ D)


def projected_limit(t, W1_0, W2_0, sigma_yx, tau: float = 1.0, rank_tol: float = 1e-10) -> torch.Tensor:
    r"""Return the $|\lambda| \to \infty$ limit of $W_2W_1$ for any admissible widths: $W_0 + \Pi(\Sigma - W_0)(1 - e^{-|\lambda|t/\tau})$.

    Theorem 4.2.3 of Anguita (2024), corrected (errata E14.3). For $\lambda > 0$ the output representation is
    $\lambda\Pi + O(1/\lambda)$ with $\Pi$ the projector onto the range of $W_2$, which moves only by $O(\lambda^{-2})$
    per unit of $u = |\lambda|t/\tau$, and the input one is $O(1/\lambda)$; so $W' = \Pi(\Sigma - W) + O(\lambda^{-2})$.
    For $\lambda < 0$, $W' = (\Sigma - W)\Pi$ with $\Pi$ the projector onto the row space of $W_1$. When $N_h = N_o$
    (resp. $N_i$), $\Pi = I$ and this is :func:`compressed_shallow`. $\lambda$ is read from the weights'
    balance (:func:`linear_lens.riccati.balance_coefficient`).

    ``t``: ``(T,)`` or ``(T, ...)``; ``W1_0``: ``(..., N_h, N_i)``; ``W2_0``: ``(..., N_o, N_h)``; ``sigma_yx``:
    ``(..., N_o, N_i)``; ``rank_tol``: the smallest accepted $\sigma_{\min}/\sigma_{\max}$ of the weight whose range
    is projected on. Returns ``(T, ..., N_o, N_i)``.
    """
    from linear_lens import riccati

    W1 = _matrix(W1_0, "W1_0")
    W2 = _matrix(W2_0, "W2_0").to(W1.device)
    S = _matrix(sigma_yx, "sigma_yx").to(W1.device)
    tau = check_positive_real(tau, "tau")
    rank_tol = check_positive_real(rank_tol, "rank_tol")
    lam, err = riccati.balance_coefficient(W1, W2)
    if bool((err > 1e-8).any()):
        raise ValueError(f"W1_0, W2_0: the weights are not lambda-balanced (relative error {float(err.max()):.1e})")
    if bool((lam.abs() <= 1e-12 * (1 + W2.abs().amax((-2, -1)) ** 2)).any()):
        raise ValueError("W1_0, W2_0: lambda = 0; the large-lambda limit needs lambda != 0")
    n_hidden = W1.shape[-2]
    W0 = W2 @ W1
    batch = torch.broadcast_shapes(W0.shape[:-2], S.shape[:-2], lam.shape)
    U2, s2, _ = torch.linalg.svd(W2, full_matrices=False)          # range of W2: (..., N_o, min(N_o, N_h))
    _, s1, V1h = torch.linalg.svd(W1, full_matrices=False)         # row space of W1: (..., min(N_h, N_i), N_i)
    for name, s, used in (("W2_0", s2, lam > 0), ("W1_0", s1, lam < 0)):
        if bool((used & (s[..., -1] <= rank_tol * s[..., 0])).any()):
            raise ValueError(f"{name}: rank-deficient (s_min/s_max <= {rank_tol:.0e}); its range is not determined")
    P_out = U2[..., :, :n_hidden] @ U2[..., :, :n_hidden].mT
    P_in = V1h[..., :n_hidden, :].mT @ V1h[..., :n_hidden, :]
    D = S - W0
    step = torch.where((lam > 0)[..., None, None], P_out @ D, D @ P_in)
    u = check_times(t, batch, W1.device, extend_batch=True)[0] * lam.abs() / tau
    return W0 + step * (-torch.expm1(-u))[..., None, None]


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _matrix(x, name: str) -> torch.Tensor:
    t = as_float_tensor(x, name, dtype=F64)
    if t.ndim < 2:
        raise ValueError(f"{name}: expected a matrix (..., rows, columns), got shape {tuple(t.shape)}")
    return t
