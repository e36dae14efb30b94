r"""The representations of $\lambda$-balanced two-layer linear networks as functions of $\lambda$ (Anguita, Section 4.1).

Anguita (2024), Section 4.1 (Theorems 4.1.1-4.1.3). A network $\hat Y = W_2W_1X$ with $W_1 \in \mathbb{R}^{N_h
\times N_i}$, $W_2 \in \mathbb{R}^{N_o \times N_h}$ has the *input representation* $K_1 = W_1^\top W_1$ and the
*output representation* $K_2 = W_2W_2^\top$ (Definition 2.2.3); its NTK is $I_{N_o} \otimes X^\top K_1X + K_2 \otimes
X^\top X$ (eq. 4.1, :mod:`linear_lens.ntk`). For $\lambda$-balanced weights, $W_2^\top W_2 - W_1W_1^\top = \lambda I$,
both are functions of the network function $W = W_2W_1 = USV^\top$ and of $\lambda$ alone. With the *modal squares*

$$\sigma_\pm(s, \lambda) = \tfrac12\big(\sqrt{\lambda^2 + 4s^2} \pm \lambda\big), \qquad
  \sigma_+\sigma_- = s^2, \quad \sigma_+ - \sigma_- = \lambda$$

(:func:`modal_squares`, evaluated without cancellation), $W_2$ has singular values $\sqrt{\sigma_+(s_\alpha)}$ and
$W_1$ has $\sqrt{\sigma_-(s_\alpha)}$ on the $k = \min(N_i, N_h, N_o)$ modes of $W$, and the remaining $N_h - k$ hidden
directions carry $\sqrt\lambda$ in $W_2$ if $\lambda > 0$ or $\sqrt{-\lambda}$ in $W_1$ if $\lambda < 0$ (Theorem 4.1.1,
corrected: errata E09.7; :func:`weight_singular_values`, :func:`balanced_weights`). Hence, at any time of training,

$$K_2 = U\,\mathrm{diag}\big(\sigma_+(s),\ c_{\rm out}\big)\,U^\top, \qquad
  K_1 = V\,\mathrm{diag}\big(\sigma_-(s),\ c_{\rm in}\big)\,V^\top$$

with the full singular vectors $U$, $V$ of $W$ and, on the complements of its range and row space,
$c_{\rm out} = \max(\lambda, 0)$ if $N_h = N_o$ and $0$ if $N_h = \min(N_i, N_o)$, $c_{\rm in} = \max(-\lambda, 0)$
if $N_h = N_i$ and $0$ if $N_h = \min(N_i, N_o)$ (Theorem 4.1.2, corrected: errata E13.1;
:func:`representations_from_product`). For a hidden width strictly between, the extra eigenvalue $|\lambda|$ sits on
$N_h - \min(N_i, N_o)$ directions of that complement which $W$ does not determine. At convergence $W = \Sigma^{yx}$.

How lazily such networks learn (the NTK's movement, the distance from the linearisation) is measured in
:mod:`linear_lens.laziness`.
"""

from __future__ import annotations

import torch

from linear_lens._checks import as_float_tensor, check_positive_int, check_positive_real

__all__ = [
    "modal_squares",
    "weight_singular_values",
    "balanced_weights",
    "representations_from_product",
    "printed_convergence_representations",
    "limit_representations",
    "printed_expansions",
    "convergence_rate",
]

F64 = torch.float64


def modal_squares(s, lam) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $\sigma_\pm = \tfrac12(\sqrt{\lambda^2 + 4s^2} \pm \lambda)$, the squared singular values of $W_2$ and $W_1$.

    Eq. (4.2) of Anguita (2024) squared. The larger of the two is $(\sqrt{\lambda^2 + 4s^2} + |\lambda|)/2$ and the
    smaller is $s^2$ divided by it, so neither cancels: at $|\lambda| = 10^8$, $s = 1$ the small one is $10^{-8}$ to
    full relative precision. ``s`` $\ge 0$ and ``lam`` broadcast; returns two float64 tensors of their shape.
    """
    s = as_float_tensor(s, "s", dtype=F64)
    lam = as_float_tensor(lam, "lam", dtype=F64).to(s.device)
    if bool((s < 0).any()):
        raise ValueError("s: singular values must be non-negative")
    r = torch.hypot(lam, 2 * s)
    big = (r + lam.abs()) / 2
    small = torch.where(big > 0, s**2 / torch.where(big > 0, big, torch.ones_like(big)), torch.zeros_like(big))
    return torch.where(lam >= 0, big, small), torch.where(lam >= 0, small, big)


def weight_singular_values(s, lam, in_dim: int, hidden_dim: int, out_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return the singular values of $W_2$ and $W_1$ for $\lambda$-balanced weights whose product has values ``s``.

    Theorem 4.1.1 of Anguita (2024), corrected (errata E09.7): on the $k = \min(N_i, N_h, N_o)$ modes of $W_2W_1$,
    $\sqrt{\sigma_\pm(s_\alpha)}$ (:func:`modal_squares`); on the other $N_h - k$ hidden directions $\sqrt{\lambda}$ in
    $W_2$ if $\lambda > 0$, $\sqrt{-\lambda}$ in $W_1$ if $\lambda < 0$; zeros elsewhere. It holds at every time of the
    gradient flow, since the flow keeps $\lambda$ (Theorem 2.2.1).

    ``s``: ``(..., k)`` the singular values of $W_2W_1$; ``lam``: ``(...)`` broadcastable; widths $N_i, N_h, N_o$.
    Returns ``sv2`` ``(..., min(N_o, N_h))`` and ``sv1`` ``(..., min(N_h, N_i))``, each in descending order.
    Raises ``ValueError`` for widths that admit no such $\lambda$ (see :func:`linear_lens.balanced.feasible`).
    """
    in_dim, hidden_dim, out_dim = (check_positive_int(n, name) for n, name in
                                   ((in_dim, "in_dim"), (hidden_dim, "hidden_dim"), (out_dim, "out_dim")))
    s = as_float_tensor(s, "s", dtype=F64)
    k = min(in_dim, hidden_dim, out_dim)
    if s.ndim < 1 or s.shape[-1] != k:
        raise ValueError(f"s: expected shape (..., {k}) with k = min(in_dim, hidden_dim, out_dim), got {tuple(s.shape)}")
    lam = _lam(lam, s.device)
    _check_feasible(lam, in_dim, hidden_dim, out_dim)
    plus, minus = modal_squares(s, lam[..., None])
    batch = plus.shape[:-1]
    extra = hidden_dim - k
    pos = lam.clamp(min=0).expand(batch)[..., None].expand(*batch, extra)
    neg = (-lam).clamp(min=0).expand(batch)[..., None].expand(*batch, extra)
    sv2 = torch.cat([plus, pos], -1).sqrt().sort(-1, descending=True).values
    sv1 = torch.cat([minus, neg], -1).sqrt().sort(-1, descending=True).values
    return sv2[..., :min(out_dim, hidden_dim)], sv1[..., :min(hidden_dim, in_dim)]


def balanced_weights(W, lam, hidden_dim: int, R=None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $\lambda$-balanced weights with $W_2W_1 = W$, for many $\lambda$ at once: $W_2 = US_2R^\top$, $W_1 = RS_1V^\top$.

    The construction of Theorem 4.1.1 (Algorithm 1 of Anguita, 2024, corrected: errata E09.5-E09.7) with the
    singular values of :func:`weight_singular_values` on the diagonals of $S_2$ ``(N_o, N_h)`` and $S_1$
    ``(N_h, N_i)``; $W = USV^\top$ is the full SVD and $R$ an orthogonal $N_h \times N_h$ matrix (identity by
    default). The batched counterpart of :func:`linear_lens.balanced.balanced_factors`: the same initial function
    factored for every $\lambda$ of a sweep, the setting of Theorem 4.1.3 ("$S$ does not depend on $\lambda$").

    ``W``: ``(..., N_o, N_i)``; ``lam``: ``(...)``, broadcast against the batch of ``W``; ``hidden_dim``: $N_h \ge
    \min(N_i, N_o)$; ``R``: ``(..., N_h, N_h)`` or ``None``. Returns ``W1`` ``(..., N_h, N_i)`` and ``W2``
    ``(..., N_o, N_h)``, float64.
    """
    W = as_float_tensor(W, "W", dtype=F64)
    if W.ndim < 2:
        raise ValueError(f"W: expected (..., N_o, N_i), got shape {tuple(W.shape)}")
    hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
    n_out, n_in = W.shape[-2:]
    if hidden_dim < min(n_in, n_out):
        raise ValueError(f"hidden_dim: the network would be bottlenecked (N_h = {hidden_dim} < min(N_i, N_o) = "
                         f"{min(n_in, n_out)}); Theorem 4.1.1 assumes N_h >= min(N_i, N_o)")
    lam = _lam(lam, W.device)
    _check_feasible(lam, n_in, hidden_dim, n_out)
    batch = torch.broadcast_shapes(W.shape[:-2], lam.shape)
    U, s, Vh = torch.linalg.svd(W, full_matrices=True)      # once per distinct W, then broadcast over lambda
    U, s, Vh = U.expand(*batch, n_out, n_out), s.expand(*batch, s.shape[-1]), Vh.expand(*batch, n_in, n_in)
    lam = lam.expand(batch)
    k = min(n_in, n_out)
    plus, minus = modal_squares(s[..., :k], lam[..., None])
    S2 = W.new_zeros(*batch, n_out, hidden_dim)
    S1 = W.new_zeros(*batch, hidden_dim, n_in)
    idx = torch.arange(k, device=W.device)
    S2[..., idx, idx] = plus.sqrt()
    S1[..., idx, idx] = minus.sqrt()
    for i in range(k, hidden_dim):                          # the extra hidden directions (not a loop over lambda)
        if i < n_out:
            S2[..., i, i] = lam.clamp(min=0).sqrt()
        if i < n_in:
            S1[..., i, i] = (-lam).clamp(min=0).sqrt()
    if R is None:
        R = torch.eye(hidden_dim, dtype=F64, device=W.device)
    R = as_float_tensor(R, "R", dtype=F64).to(W.device)
    eye = torch.eye(hidden_dim, dtype=F64, device=W.device)
    if R.shape[-2:] != (hidden_dim, hidden_dim) or float((R.mT @ R - eye).abs().max()) > 1e-10:
        raise ValueError(f"R: expected orthogonal ({hidden_dim}, {hidden_dim}) matrices, got shape {tuple(R.shape)}")
    return R @ S1 @ Vh, U @ S2 @ R.mT


def representations_from_product(W, lam, hidden_dim: int, rank_tol: float = 1e-10) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $(W_1^\top W_1, W_2W_2^\top)$ of $\lambda$-balanced weights from their product $W = W_2W_1$ and $\lambda$.

    Theorem 4.1.2 of Anguita (2024), corrected (errata E13.1), at any time of training ("substituting
    $\hat U\hat S\hat V^\top$ for $\tilde U\tilde S\tilde V^\top$"); at convergence pass $W = \Sigma^{yx}$ for part (1).
    With the full SVD $W = U\,\mathrm{diag}(s)\,V^\top$ and $k = \min(N_i, N_o)$,
    $W_2W_2^\top = U\,\mathrm{diag}(\sigma_+(s), c_{\rm out}\mathbf 1_{N_o - k})U^\top$ and
    $W_1^\top W_1 = V\,\mathrm{diag}(\sigma_-(s), c_{\rm in}\mathbf 1_{N_i - k})V^\top$, where $c_{\rm out} =
    \max(\lambda, 0)$ if $N_h = N_o$, else $0$; $c_{\rm in} = \max(-\lambda, 0)$ if $N_h = N_i$, else $0$.

    ``W``: ``(..., N_o, N_i)``; ``lam``: ``(...)`` broadcastable; ``hidden_dim``: $N_h$; ``rank_tol``: where the
    complement must be told apart from a zero mode of $W$ ($N_h = k < N_o$ with $\lambda > 0$, or $N_h = k < N_i$ with
    $\lambda < 0$), $W$ must have $s_{\min}/s_{\max} >$ ``rank_tol``. Returns ``(K1, K2)``, ``(..., N_i, N_i)`` and
    ``(..., N_o, N_o)``. Raises ``ValueError`` for infeasible widths, a bottleneck, a hidden width strictly between
    $\min(N_i, N_o)$ and $N_o$ (for $\lambda > 0$) or $N_i$ (for $\lambda < 0$), where the extra directions are not a
    function of $W$, and for a rank-deficient $W$ where that matters.
    """
    W = as_float_tensor(W, "W", dtype=F64)
    if W.ndim < 2:
        raise ValueError(f"W: expected (..., N_o, N_i), got shape {tuple(W.shape)}")
    hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
    rank_tol = check_positive_real(rank_tol, "rank_tol")
    n_out, n_in = W.shape[-2:]
    k = min(n_in, n_out)
    if hidden_dim < k:
        raise ValueError(f"hidden_dim: the network is bottlenecked (N_h = {hidden_dim} < min(N_i, N_o) = {k})")
    lam = _lam(lam, W.device)
    _check_feasible(lam, n_in, hidden_dim, n_out)
    batch = torch.broadcast_shapes(W.shape[:-2], lam.shape)
    W = W.expand(*batch, n_out, n_in)
    lam = lam.expand(batch)
    for side, width, sign in (("N_o", n_out, lam > 0), ("N_i", n_in, lam < 0)):
        if k < hidden_dim < width and bool(sign.any()):
            raise ValueError(f"hidden_dim: for min(N_i, N_o) < N_h = {hidden_dim} < {side} = {width} the extra "
                             f"eigenvalue |lambda| lies on {hidden_dim - k} directions of the complement that W does "
                             "not determine; use the weights themselves")
    U, s, Vh = torch.linalg.svd(W, full_matrices=True)
    plus, minus = modal_squares(s, lam[..., None])
    needs_rank = ((lam > 0) & (hidden_dim < n_out)) | ((lam < 0) & (hidden_dim < n_in))
    ratio = s[..., -1] / torch.where(s[..., 0] > 0, s[..., 0], torch.ones_like(s[..., 0]))
    if bool((needs_rank & (ratio <= rank_tol)).any()):
        raise ValueError(f"W: rank-deficient (s_min/s_max <= rank_tol = {rank_tol:.0e}) where the range of W must be "
                         "told apart from its complement (N_h = min(N_i, N_o) with the sign of lambda that has extra "
                         "directions)")
    c_out = (lam.clamp(min=0) if hidden_dim == n_out else torch.zeros_like(lam))[..., None]
    c_in = ((-lam).clamp(min=0) if hidden_dim == n_in else torch.zeros_like(lam))[..., None]
    out_vals = torch.cat([plus, c_out.expand(*batch, n_out - k)], -1)
    in_vals = torch.cat([minus, c_in.expand(*batch, n_in - k)], -1)
    V = Vh.mT
    return (V * in_vals[..., None, :]) @ V.mT, (U * out_vals[..., None, :]) @ U.mT


def printed_convergence_representations(sigma_yx, lam) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Evaluate Theorem 4.1.2(1) of Anguita (2024) as printed: $(W_1^\top W_1, W_2W_2^\top)$ after convergence.

    $W_2W_2^\top = \tilde U\,\mathrm{diag}(\sigma_+(\tilde s), \lambda\mathbf 1)\tilde U^\top$,
    $W_1^\top W_1 = \tilde V\,\mathrm{diag}(\sigma_-(\tilde s), -\lambda\mathbf 1)\tilde V^\top$. The printed blocks
    $\lambda\mathbb{I}_{\max(n_o, n_i)}$ do not fit (the matrices would be $(k + \max(n_i, n_o))$ square); they are
    read here as filling the complements $\tilde U_\perp$, $\tilde V_\perp$, as in eq. (4.2). A reference kept to show
    where the statement fails (errata E13.1): the block has the wrong size or sign unless $N_h = N_o$ with
    $\lambda > 0$ (resp. $N_h = N_i$ with $\lambda < 0$). ``sigma_yx``: ``(..., N_o, N_i)``; ``lam``: ``(...)``.
    """
    S = as_float_tensor(sigma_yx, "sigma_yx", dtype=F64)
    if S.ndim < 2:
        raise ValueError(f"sigma_yx: expected (..., N_o, N_i), got shape {tuple(S.shape)}")
    lam = _lam(lam, S.device)
    n_out, n_in = S.shape[-2:]
    k = min(n_in, n_out)
    batch = torch.broadcast_shapes(S.shape[:-2], lam.shape)
    S = S.expand(*batch, n_out, n_in)
    lam = lam.expand(batch)[..., None]
    U, s, Vh = torch.linalg.svd(S, full_matrices=True)
    plus, minus = modal_squares(s, lam)
    out_vals = torch.cat([plus, lam.expand(*batch, n_out - k)], -1)
    in_vals = torch.cat([minus, (-lam).expand(*batch, n_in - k)], -1)
    V = Vh.mT
    return (V * in_vals[..., None, :]) @ V.mT, (U * out_vals[..., None, :]) @ U.mT


def limit_representations(W, lam) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return the large-$|\lambda|$ forms of Theorem 4.1.2(2) of Anguita (2024): $(W_1^\top W_1, W_2W_2^\top)$.

    As printed: for $\lambda > 0$, $W_2W_2^\top = \lambda I$ and $W_1^\top W_1 = \frac1\lambda\tilde V\tilde S^2
    \tilde V^\top = W^\top W/\lambda$; for $\lambda < 0$, $W_2W_2^\top = -\frac1\lambda\tilde U\tilde S^2\tilde U^\top
    = WW^\top/|\lambda|$ and $W_1^\top W_1 = -\lambda I$. Each has relative error $O(\lambda^{-2})$ where the
    large representation has full rank ($N_h = N_o$ for $\lambda > 0$, $N_h = N_i$ for $\lambda < 0$), and $O(1)$
    otherwise (errata E13.2). ``W``: the network function (``(..., N_o, N_i)``; $\Sigma^{yx}$ after convergence);
    ``lam``: ``(...)``, non-zero. Returns ``(K1, K2)``.
    """
    W = as_float_tensor(W, "W", dtype=F64)
    if W.ndim < 2:
        raise ValueError(f"W: expected (..., N_o, N_i), got shape {tuple(W.shape)}")
    lam = _lam(lam, W.device)
    if bool((lam == 0).any()):
        raise ValueError("lam: Theorem 4.1.2(2) is a statement about |lambda| -> infinity; lam must be non-zero")
    n_out, n_in = W.shape[-2:]
    L = lam[..., None, None]
    small_in, small_out = W.mT @ W / L.abs(), W @ W.mT / L.abs()
    eye_in = torch.eye(n_in, dtype=F64, device=W.device)
    eye_out = torch.eye(n_out, dtype=F64, device=W.device)
    K1 = torch.where(L > 0, small_in, L.abs() * eye_in)
    K2 = torch.where(L > 0, L * eye_out, small_out)
    return K1, K2


def printed_expansions(s, lam) -> dict[str, torch.Tensor]:
    r"""Evaluate the expansions of the proof of Theorem 4.1.2 (eqs. 4.10-4.13 of Anguita, 2024) as printed.

    Returns a dict of tensors shaped like the broadcast of ``s`` and ``lam`` ($\lambda \ne 0$):
    ``plus``, ``minus``: $\sigma_\pm$ exactly (:func:`modal_squares`); ``eq4_10_middle``:
    $\tfrac12(|\lambda|(1 + (2s/\lambda)^2) + \lambda)$, the middle expression of (4.10), whose Taylor coefficient
    should be $\tfrac12$; ``eq4_10_right``: $\tfrac{|\lambda| + \lambda}{2} + s^2/|\lambda|$, its right-hand side;
    ``eq4_12_right``: $\tfrac{|\lambda| - \lambda}{2} + s^2/|\lambda|$; ``eq4_13_middle``: $s^2/|\lambda|$, printed
    as the limit of $\sigma_-$ for $\lambda \to -\infty$; ``eq4_13_right``: $-\lambda$, printed right after it.
    """
    plus, minus = modal_squares(s, lam)
    s = as_float_tensor(s, "s", dtype=F64).to(plus.device)
    lam = as_float_tensor(lam, "lam", dtype=F64).to(plus.device)
    if bool((lam == 0).any()):
        raise ValueError("lam: the expansions (4.10)-(4.13) divide by lambda; lam must be non-zero")
    s, lam = torch.broadcast_tensors(s, lam)
    L = lam.abs()
    return {
        "plus": plus,
        "minus": minus,
        "eq4_10_middle": (L * (1 + (2 * s / lam) ** 2) + lam) / 2,
        "eq4_10_right": (L + lam) / 2 + s**2 / L,
        "eq4_12_right": (L - lam) / 2 + s**2 / L,
        "eq4_13_middle": s**2 / L,
        "eq4_13_right": -lam,
    }


def convergence_rate(s, lam, in_dim: int, hidden_dim: int, out_dim: int, tau: float = 1.0) -> torch.Tensor:
    r"""Return the rate $r$ at which $\lVert W(t) - \Sigma^{yx}\rVert$ finally decays, $\propto e^{-rt}$, for $\lambda$-balanced weights.

    Near convergence $E = \Sigma^{yx} - W$ obeys $\tau\dot E = -(K_2E + EK_1)$ with the representations at
    convergence (:func:`representations_from_product` at $W = \Sigma^{yx}$), a Sylvester operator whose eigenvalues
    are the sums of an eigenvalue of $K_2$ and one of $K_1$; the slowest is
    $r = (\lambda_{\min}(K_2) + \lambda_{\min}(K_1))/\tau$. In equal dimensions $r = \sqrt{\lambda^2 + 4\tilde s_{\min}^2}
    /\tau$ ($2\tilde s_{\min}/\tau$ at $\lambda = 0$, Saxe et al.'s rate); when a complement carries the eigenvalue
    $0$ (e.g. $N_h < N_o$ with $\lambda > 0$) it is $\sigma_-(\tilde s_{\min})/\tau \approx \tilde s_{\min}^2/(|\lambda|\tau)$.
    A result of this book (it bounds the thesis's $e^{-|\lambda|t/\tau}$ of Theorem 4.2.3).

    ``s``: ``(..., k)`` the task's singular values, $k = \min(N_i, N_o)$; ``lam``: ``(...)``; widths; ``tau``.
    Returns ``(...)``.
    """
    in_dim, hidden_dim, out_dim = (check_positive_int(n, name) for n, name in
                                   ((in_dim, "in_dim"), (hidden_dim, "hidden_dim"), (out_dim, "out_dim")))
    tau = check_positive_real(tau, "tau")
    s = as_float_tensor(s, "s", dtype=F64)
    k = min(in_dim, out_dim)
    if s.ndim < 1 or s.shape[-1] != k:
        raise ValueError(f"s: expected shape (..., {k}) with k = min(in_dim, out_dim), got {tuple(s.shape)}")
    if hidden_dim < k:
        raise ValueError(f"hidden_dim: the network is bottlenecked (N_h = {hidden_dim} < {k})")
    lam = _lam(lam, s.device)
    _check_feasible(lam, in_dim, hidden_dim, out_dim)
    plus, minus = modal_squares(s, lam[..., None])
    low2, low1 = plus.amin(-1), minus.amin(-1)
    if out_dim > k:
        low2 = torch.minimum(low2, lam.clamp(min=0) if hidden_dim == out_dim else torch.zeros_like(low2))
    if in_dim > k:
        low1 = torch.minimum(low1, (-lam).clamp(min=0) if hidden_dim == in_dim else torch.zeros_like(low1))
    return (low2 + low1) / tau


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _lam(lam, device) -> torch.Tensor:
    return as_float_tensor(lam, "lam", dtype=F64).to(device)


def _check_feasible(lam: torch.Tensor, in_dim: int, hidden_dim: int, out_dim: int) -> None:
    """Theorem 3.4.1 corrected (errata E09.5): lambda > 0 needs N_h <= N_o, lambda < 0 needs N_h <= N_i."""
    if hidden_dim > out_dim and bool((lam > 0).any()):
        raise ValueError(f"lam: a positive lambda needs hidden_dim <= out_dim, got hidden_dim={hidden_dim}, "
                         f"out_dim={out_dim} (largest lambda {float(lam.max()):.3g})")
    if hidden_dim > in_dim and bool((lam < 0).any()):
        raise ValueError(f"lam: a negative lambda needs hidden_dim <= in_dim, got hidden_dim={hidden_dim}, "
                         f"in_dim={in_dim} (smallest lambda {float(lam.min()):.3g})")
