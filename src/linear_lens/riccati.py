r"""Exact learning dynamics of unaligned $\lambda$-balanced two-layer linear networks: the matrix Riccati equation.

Anguita (2024), Theorems 2.2.4-2.2.5 and Sections 3.3-3.4. A network $\hat Y = W_2 W_1 X$ has
$W_1 \in \mathbb{R}^{N_h \times N_i}$, $W_2 \in \mathbb{R}^{N_o \times N_h}$; the task has whitened inputs
($\Sigma^{xx} = I$) and $\Sigma^{yx} = \tilde U \tilde S \tilde V^\top$ (full SVD, $k = \min(N_i, N_o)$ singular values
$\tilde s_\alpha$, complements $\tilde U_\perp$, $\tilde V_\perp$ of which one is empty). Stack the weights as

$$Q = \begin{bmatrix} W_1^\top \\ W_2 \end{bmatrix} \in \mathbb{R}^{(N_i + N_o) \times N_h}, \qquad
  QQ^\top = \begin{bmatrix} W_1^\top W_1 & W_1^\top W_2^\top \\ W_2 W_1 & W_2 W_2^\top \end{bmatrix}.$$

If the weights are $\lambda$-balanced ($W_2^\top W_2 - W_1 W_1^\top = \lambda I$, conserved by the flow), the gradient
flow $\tau\dot W_1 = W_2^\top(\Sigma^{yx} - W_2W_1)$, $\tau\dot W_2 = (\Sigma^{yx} - W_2W_1)W_1^\top$ is
$\tau \dot Q = FQ - \tfrac12 QQ^\top Q$, hence the matrix Riccati equation (eq. 3.39)

$$\tau \tfrac{d}{dt}(QQ^\top) = F QQ^\top + QQ^\top F - (QQ^\top)^2, \qquad
  F = \begin{bmatrix} -\tfrac{\lambda}{2} I_{N_i} & \Sigma^{yx\top} \\ \Sigma^{yx} & \tfrac{\lambda}{2} I_{N_o} \end{bmatrix},$$

for equal and unequal dimensions alike. Its solution (Fukumizu, 1998; Theorem 2.2.4) is, with $u = t/\tau$,

$$QQ^\top(t) = e^{Fu} Q_0 \big[I + \tfrac12 Q_0^\top \varphi_u(F) Q_0\big]^{-1} Q_0^\top e^{Fu}, \qquad
  \varphi_u(F) = (e^{2Fu} - I)F^{-1} = \int_0^{2u} e^{Fv}\,dv,$$

which :func:`linear_lens.riccati_forms.fukumizu_qqt` evaluates literally (it overflows once $e^{Fu}$ does).

**Eigenbasis** (Theorems 3.3.1(2) and 3.4.2, corrected: see errata E11.3-E11.6, E12.2). $F = O \Lambda O^\top$ with
$O$ orthogonal: for each task mode, eigenvalues $\pm\kappa_\alpha$, $\kappa_\alpha = \sqrt{\tilde s_\alpha^2 +
\lambda^2/4}$, eigenvectors $\tfrac{1}{\sqrt2}[\tilde v_\alpha (a-xa)_\alpha; \tilde u_\alpha (a+xa)_\alpha]$ and
$\tfrac{1}{\sqrt2}[\tilde v_\alpha (a+xa)_\alpha; -\tilde u_\alpha (a-xa)_\alpha]$ with
$x = (\sqrt{\lambda^2 + 4\tilde s^2} - 2\tilde s)/\lambda = \lambda / (\sqrt{\lambda^2 + 4\tilde s^2} + 2\tilde s)$ and
$a = (1 + x^2)^{-1/2}$; and $d = |N_o - N_i|$ extra eigenvalues $\mu = \operatorname{sgn}(N_o - N_i)\lambda/2$ on
$[0; \tilde U_\perp]$ (if $N_o > N_i$) or $[\tilde V_\perp; 0]$ (if $N_i > N_o$). :func:`riccati_eigenbasis`.

**The stable form** (:func:`qqt`). Write $Y_0 = O^\top Q_0$ with row blocks $Y_+$ ($k$ rows, rates $+\kappa$),
$Y_-$ ($k$ rows, $-\kappa$) and $E$ ($d$ rows, $\mu$). For any invertible $T(t)$,
$QQ^\top = O Z C^{-1} Z^\top O^\top$ with $Z = e^{\Lambda u} Y_0 T$ and $C = T^\top [I + \tfrac12 Y_0^\top
\varphi_u(\Lambda) Y_0] T$. Choosing $T = [\,Y_+^{+} e^{-Ku},\ N e^{-\mu^+ u}\,]$, where $Y_+^{+}$ is the
pseudo-inverse of $Y_+$ ($k \times N_h$, full row rank required), $N$ an orthonormal basis of its null space
($N_h - k$ columns) and $\mu^+ = \max(\mu, 0)$, every entry of $Z$ and $C$ contains only decaying exponentials
$e^{-(\kappa_\alpha + \kappa_\beta)u}$, $e^{(\mu - \kappa_\beta)u}$ ($\kappa_\beta \ge |\mu|$), and the bounded weights
$(1 - e^{-2|\ell| u})/|\ell|$ (equal to $2u$ for a zero eigenvalue $\ell$). In equal dimensions $T = Y_+^{-1}e^{-Ku}$,
and with $Y_+ = B^\top R^\top/\sqrt2$, $Y_- = -C^\top R^\top/\sqrt2$ this is Theorem 3.3.1(3) with the inverse the
printed statement omits (errata E11.9). In unequal dimensions the growing extra directions ($\mu > 0$, which happens
for $N_o > N_i$ with $\lambda > 0$ and for $N_i > N_o$ with $\lambda < 0$) are factored out by the $N$ columns: this
completes Section 3.4, which stops at the diagonalisation. At $\lambda = 0$ the same formula is Theorem 2.2.5
(Braun et al., 2022), corrected in :func:`linear_lens.riccati_forms.zero_balanced_qqt` (errata E11.10).

The form needs $Y_+$ (equivalently the thesis's $B$) to have full row rank. At $\lambda = 0$ in equal dimensions it
is singular exactly when $\det(W_2W_1)$ and $\det\Sigma^{yx}$ have opposite signs (about half of random draws): the
flow then cannot reach the global minimum and converges to a saddle. :func:`qqt` refuses such weights.

The reference forms it corrects (Fukumizu's, Theorem 2.2.5, Theorem 3.3.1(3) as printed, and the proof step by step)
are in :mod:`linear_lens.riccati_forms`; the closed ODE of the product $W_2W_1$ in :mod:`linear_lens.product_flow`; the
learning-rate study of Figs. 3.4-3.6 in :mod:`linear_lens.descent_accuracy`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from linear_lens._checks import as_float_tensor, check_positive_int, check_real, check_times
from linear_lens._threads import single_thread

__all__ = [
    "QQtBlocks",
    "Eigenbasis",
    "stack_q",
    "qqt_from_weights",
    "blocks",
    "riccati_matrix",
    "riccati_rhs",
    "riccati_eigenbasis",
    "balance_coefficient",
    "orientation",
    "qqt",
    "qqt_sigma",
]

F64 = torch.float64


class QQtBlocks(NamedTuple):
    r"""The four blocks of $QQ^\top$: input representation $W_1^\top W_1$ ``(..., N_i, N_i)``, cross block
    $W_1^\top W_2^\top$ ``(..., N_i, N_o)``, network function $W_2 W_1$ ``(..., N_o, N_i)`` and output representation
    $W_2 W_2^\top$ ``(..., N_o, N_o)`` (eq. 3.21 of Anguita, 2024; Definition 2.2.3)."""

    input_rep: torch.Tensor
    cross: torch.Tensor
    product: torch.Tensor
    output_rep: torch.Tensor


@dataclass(frozen=True)
class Eigenbasis:
    r"""The eigendecomposition $F = O\,\mathrm{diag}(\ell)\,O^\top$ built from the task's SVD (:func:`riccati_eigenbasis`).

    ``O``: ``(..., N_i + N_o, N_i + N_o)`` orthogonal, columns ordered as $k$ growing task modes, $k$ decaying task
    modes, $d$ extra directions; ``eigenvalues``: ``(..., N_i + N_o)`` $= (\kappa, -\kappa, \mu\mathbf 1_d)$;
    ``kappa``: ``(..., k)``; ``mu``: ``(...)`` the extra eigenvalue $\operatorname{sgn}(N_o - N_i)\lambda/2$ (0 if
    $d = 0$); ``s``: ``(..., k)`` task singular values; ``x``, ``a_minus`` $= a - xa$, ``a_plus`` $= a + xa$:
    ``(..., k)``; ``U``: ``(..., N_o, N_o)``, ``V``: ``(..., N_i, N_i)`` the full singular vectors of $\Sigma^{yx}$
    (first $k$ columns $\tilde U$, $\tilde V$, the rest the complements).
    """

    O: torch.Tensor
    eigenvalues: torch.Tensor
    kappa: torch.Tensor
    mu: torch.Tensor
    s: torch.Tensor
    x: torch.Tensor
    a_minus: torch.Tensor
    a_plus: torch.Tensor
    U: torch.Tensor
    V: torch.Tensor
    k: int
    d: int



# ---------------------------------------------------------------------------------------------------------------
# Definitions
# ---------------------------------------------------------------------------------------------------------------


def stack_q(W1: torch.Tensor, W2: torch.Tensor) -> torch.Tensor:
    r"""Return $Q = [W_1^\top; W_2]$ of shape ``(..., N_i + N_o, N_h)`` (Theorem 2.2.4 of Anguita, 2024)."""
    W1, W2 = _check_pair(W1, W2)
    batch = torch.broadcast_shapes(W1.shape[:-2], W2.shape[:-2])
    return torch.cat([W1.mT.expand(*batch, *W1.mT.shape[-2:]), W2.expand(*batch, *W2.shape[-2:])], dim=-2)


def qqt_from_weights(W1: torch.Tensor, W2: torch.Tensor) -> torch.Tensor:
    r"""Return $QQ^\top$ computed from the weights (its definition, eq. 3.21): ``(..., N_i + N_o, N_i + N_o)``."""
    Q = stack_q(W1, W2)
    return Q @ Q.mT


def blocks(P: torch.Tensor, n_in: int) -> QQtBlocks:
    r"""Split $QQ^\top$ ``(..., N_i + N_o, N_i + N_o)`` into its four blocks (:class:`QQtBlocks`); ``n_in`` $= N_i$."""
    P = as_float_tensor(P, "P")
    n_in = check_positive_int(n_in, "n_in")
    if P.ndim < 2 or P.shape[-1] != P.shape[-2] or P.shape[-1] <= n_in:
        raise ValueError(f"P: expected a square (..., N_i + N_o, N_i + N_o) matrix with N_i = {n_in}, got {tuple(P.shape)}")
    return QQtBlocks(P[..., :n_in, :n_in], P[..., :n_in, n_in:], P[..., n_in:, :n_in], P[..., n_in:, n_in:])


def riccati_matrix(sigma_yx: torch.Tensor, lam) -> torch.Tensor:
    r"""Return $F = \begin{bmatrix} -\tfrac{\lambda}{2} I & \Sigma^{yx\top} \\ \Sigma^{yx} & \tfrac{\lambda}{2} I\end{bmatrix}$.

    Implements eq. (3.38) / Theorem 3.3.1(1) of Anguita (2024), for equal and unequal dimensions; $F$ is
    $(N_i + N_o) \times (N_i + N_o)$ (Theorem 2.2.4's "$(n_h + n_o) \times (n_h + n_i)$" is a slip, errata E11.1).
    ``sigma_yx``: $\Sigma^{yx}$ ``(..., N_o, N_i)``; ``lam``: $\lambda$, a number or a tensor of shape ``(...)``.
    Returns ``(..., N_i + N_o, N_i + N_o)``.
    """
    S = _check_sigma(sigma_yx)
    lam = _lam_tensor(lam, S)
    n_out, n_in = S.shape[-2:]
    batch = torch.broadcast_shapes(S.shape[:-2], lam.shape)
    S = S.expand(*batch, n_out, n_in)
    half = (lam / 2).expand(batch)[..., None, None]
    top = torch.cat([-half * torch.eye(n_in, dtype=S.dtype, device=S.device), S.mT], dim=-1)
    bottom = torch.cat([S, half * torch.eye(n_out, dtype=S.dtype, device=S.device)], dim=-1)
    return torch.cat([top, bottom], dim=-2)


def riccati_rhs(P: torch.Tensor, F: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    r"""Return $\frac{d}{dt}QQ^\top = (FP + PF - P^2)/\tau$, the right-hand side of the Riccati equation (3.39)."""
    P = as_float_tensor(P, "P")
    F = as_float_tensor(F, "F").to(P)
    if P.ndim < 2 or P.shape[-1] != P.shape[-2] or F.shape[-2:] != P.shape[-2:]:
        raise ValueError(f"P, F: expected square (..., n, n) matrices of one size n, got {tuple(P.shape)} and "
                         f"{tuple(F.shape)}")
    tau = _positive(tau, "tau")
    return (F @ P + P @ F - P @ P) / tau


def riccati_eigenbasis(sigma_yx: torch.Tensor, lam) -> Eigenbasis:
    r"""Diagonalise $F$ from the task's SVD: $F = O\,\mathrm{diag}(\kappa, -\kappa, \mu \mathbf 1_d)\,O^\top$.

    Theorem 3.3.1(2) of Anguita (2024), corrected (errata E11.3-E11.6: the printed statement's lower blocks are
    swapped; the proof's eq. (3.52) is right), and Theorem 3.4.2 for unequal dimensions (errata E12.2). With
    $\kappa = \sqrt{\tilde s^2 + \lambda^2/4}$, $x = \lambda/(\sqrt{\lambda^2 + 4\tilde s^2} + 2\tilde s)$, $a = (1 +
    x^2)^{-1/2}$,

    $$O = \begin{bmatrix} \tfrac{1}{\sqrt2}\tilde V(A - XA) & \tfrac{1}{\sqrt2}\tilde V(A + XA) & \tilde V_\perp \\
          \tfrac{1}{\sqrt2}\tilde U(A + XA) & -\tfrac{1}{\sqrt2}\tilde U(A - XA) & \tilde U_\perp \end{bmatrix},$$

    where only one of $\tilde V_\perp$, $\tilde U_\perp$ is non-empty and the other block is zero. The entries
    $a \mp xa = (\sqrt{\lambda^2 + 4\tilde s^2} \mp \lambda + 2\tilde s)/\sqrt{(\sqrt{\lambda^2 + 4\tilde s^2} +
    2\tilde s)^2 + \lambda^2}$ are computed without cancellation and are continuous at $\lambda = 0$ (where
    $x = 0$, $A = I$), which the printed $x = (\sqrt{\lambda^2 + 4\tilde s^2} - 2\tilde s)/\lambda$ is not.

    ``sigma_yx``: ``(..., N_o, N_i)``; ``lam``: a number or a tensor ``(...)``. Returns an :class:`Eigenbasis`.
    """
    S = _check_sigma(sigma_yx)
    lam = _lam_tensor(lam, S)
    n_out, n_in = S.shape[-2:]
    batch = torch.broadcast_shapes(S.shape[:-2], lam.shape)
    S = S.expand(*batch, n_out, n_in)
    lam = lam.expand(batch)
    k, d = min(n_in, n_out), abs(n_out - n_in)
    U, s, Vh = torch.linalg.svd(S, full_matrices=True)
    V = Vh.mT
    lam_k = lam[..., None]
    root = torch.hypot(lam_k, 2 * s)                       # sqrt(lambda^2 + 4 s^2) = 2 kappa
    denom = root + 2 * s
    safe = torch.where(denom > 0, denom, torch.ones_like(denom))
    x = torch.where(denom > 0, lam_k / safe, torch.zeros_like(denom))
    # root -/+ lambda without cancellation: root - |lambda| = 4 s^2 / (root + |lambda|)
    small = 4 * s**2 / torch.where(root + lam_k.abs() > 0, root + lam_k.abs(), torch.ones_like(root))
    big = root + lam_k.abs()
    r_minus = torch.where(lam_k >= 0, small, big)          # root - lambda
    r_plus = torch.where(lam_k >= 0, big, small)           # root + lambda
    norm = torch.hypot(denom, lam_k)
    norm = torch.where(norm > 0, norm, torch.ones_like(norm))
    a_minus = torch.where(denom > 0, (r_minus + 2 * s) / norm, torch.ones_like(s))
    a_plus = torch.where(denom > 0, (r_plus + 2 * s) / norm, torch.ones_like(s))
    kappa = root / 2
    mu = (math.copysign(1.0, n_out - n_in) if d else 0.0) * lam / 2
    Ut, Vt = U[..., :k], V[..., :k]
    r2 = math.sqrt(2.0)
    top = [Vt * (a_minus / r2)[..., None, :], Vt * (a_plus / r2)[..., None, :]]
    bottom = [Ut * (a_plus / r2)[..., None, :], -Ut * (a_minus / r2)[..., None, :]]
    if n_in > n_out:
        top.append(V[..., k:])
        bottom.append(S.new_zeros(*batch, n_out, d))
    elif n_out > n_in:
        top.append(S.new_zeros(*batch, n_in, d))
        bottom.append(U[..., k:])
    O = torch.cat([torch.cat(top, dim=-1), torch.cat(bottom, dim=-1)], dim=-2)
    eigenvalues = torch.cat([kappa, -kappa, mu[..., None].expand(*batch, d)], dim=-1)
    return Eigenbasis(O, eigenvalues, kappa, mu, s, x, a_minus, a_plus, U, V, k, d)


def balance_coefficient(W1: torch.Tensor, W2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $\lambda = \operatorname{Tr}(B)/N_h$ and the relative balance error $\lVert B - \lambda I\rVert_F /
    \max(\lVert W_1W_1^\top\rVert_F, \lVert W_2^\top W_2\rVert_F)$, $B = W_2^\top W_2 - W_1W_1^\top$ (eq. 2.13).

    ``W1``: ``(..., N_h, N_i)``, ``W2``: ``(..., N_o, N_h)``. Returns two tensors of shape ``(...)``; the error is
    zero (to roundoff) exactly when the weights are $\lambda$-balanced.
    """
    W1, W2 = _check_pair(W1, W2)
    A, Bm = W1 @ W1.mT, W2.mT @ W2
    B = Bm - A
    lam = B.diagonal(dim1=-2, dim2=-1).mean(-1)
    eye = torch.eye(B.shape[-1], dtype=B.dtype, device=B.device)
    scale = torch.maximum(torch.linalg.matrix_norm(A), torch.linalg.matrix_norm(Bm))
    err = torch.linalg.matrix_norm(B - lam[..., None, None] * eye)
    return lam, torch.where(scale > 0, err / torch.where(scale > 0, scale, torch.ones_like(scale)), err)


def orientation(W1: torch.Tensor, W2: torch.Tensor, X, Y) -> torch.Tensor:
    r"""Return $\operatorname{sgn}(\det W_2W_1 \cdot \det\Sigma^{yx})$ for square networks: $-1$ means opposite orientations.

    At $\lambda = 0$ the flow keeps the sign of $\det W_1$ and $\det W_2$ (their rank is conserved), so with
    $-1$ the product can never reach $\Sigma^{yx}$: it converges to a saddle, and Braun et al.'s $B$ is singular.
    ``W1``, ``W2``: ``(..., n, n)``; returns ``(...)``.
    """
    W1, W2 = _check_pair(W1, W2)
    S = _sigma_of(X, Y).to(W1)
    if not (W1.shape[-1] == W1.shape[-2] == W2.shape[-2] == S.shape[0] == S.shape[1]):
        raise ValueError(f"W1, W2: orientation needs N_i = N_h = N_o, got {tuple(W1.shape)}, {tuple(W2.shape)}")
    return torch.sign(torch.linalg.det(W2 @ W1) * torch.linalg.det(S))


# ---------------------------------------------------------------------------------------------------------------
# The exact solution
# ---------------------------------------------------------------------------------------------------------------


def qqt(t, W1, W2, X, Y, tau: float = 1.0, *, balance_tol: float = 1e-8, rcond: float = 1e-6,
        whiten_tol: float = 1e-8) -> torch.Tensor:
    r"""Return $QQ^\top(t)$, the exact gradient-flow dynamics of $\lambda$-balanced weights, for any dimensions and $\lambda$.

    The stable form of the module docstring: Theorem 3.3.1(3) of Anguita (2024), corrected (errata E11.9, E11.11), and
    its completion to unequal dimensions (Section 3.4 stops at the diagonalisation of $F$). It evaluates only
    decaying exponentials, so it is finite for every $t \ge 0$ and every $|\lambda|$; at $\lambda = 0$ it is
    Theorem 2.2.5 (Braun et al., 2022), corrected. The blocks of the result are $W_1^\top W_1$, $W_1^\top W_2^\top$,
    $W_2W_1$, $W_2W_2^\top$ (:func:`blocks`).

    ``t``: times $\ge 0$, a number or ``(T,)``; ``W1``: $W_1(0)$ ``(..., N_h, N_i)``; ``W2``: $W_2(0)$
    ``(..., N_o, N_h)``; ``X``: ``(N_i, P)`` whitened inputs; ``Y``: ``(N_o, P)``; ``tau``: $\tau > 0$;
    ``balance_tol``: largest relative balance error accepted (see :func:`balance_coefficient`); ``rcond``: smallest
    accepted ratio of extreme singular values of $Y_+$ (the thesis's $B$): the relative error of the result is about
    $10^{-16}$ divided by that ratio, so the default $10^{-6}$ keeps it below about $10^{-10}$ (the ratio is small only
    near the zero-balanced saddle of equal dimensions); ``whiten_tol``: largest accepted entry of
    $|\Sigma^{xx} - I|$. Returns ``(T, ..., N_i + N_o, N_i + N_o)`` float64 (``(..., N_i + N_o, N_i + N_o)`` for a
    number ``t``) on the device of ``W1``.

    Raises ``ValueError`` naming the failing condition and the measured quantity: inputs not whitened, weights not
    $\lambda$-balanced, a bottlenecked network ($N_h < \min(N_i, N_o)$), a rank-deficient product at $\lambda = 0$,
    or a singular $Y_+$ (at $\lambda = 0$: $\det W_2W_1$ and $\det\Sigma^{yx}$ of opposite signs).
    """
    X = as_float_tensor(X, "X", dtype=F64)
    Y = as_float_tensor(Y, "Y", dtype=F64).to(X.device)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"X, Y: expected shapes (N_i, P) and (N_o, P) with the same P, got {tuple(X.shape)} and "
                         f"{tuple(Y.shape)}")
    _check_whitened(X, whiten_tol)
    sigma = Y @ X.T / X.shape[1]
    return qqt_sigma(t, W1, W2, sigma.to(_device_of(W1)), tau, balance_tol=balance_tol, rcond=rcond)


def qqt_sigma(t, W1, W2, sigma_yx, tau: float = 1.0, *, balance_tol: float = 1e-8, rcond: float = 1e-6,
              factor: bool = False, cholesky: bool = False) -> torch.Tensor:
    r"""Return $QQ^\top(t)$ from $\Sigma^{yx}$ directly (whitened inputs assumed): the batched core of :func:`qqt`.

    ``t``: a number, ``(T,)``, or ``(T, ...)`` broadcastable against the batch shape (one time grid per network, e.g.
    $t = k\eta$ with a learning rate per network); ``W1`` ``(..., N_h, N_i)``, ``W2`` ``(..., N_o, N_h)`` and
    ``sigma_yx`` ``(..., N_o, N_i)`` broadcast together; ``factor=True`` returns $G$ ``(T, ..., N_i + N_o, N_h)``
    with $QQ^\top = GG^\top$ instead (cheaper when only one block is needed: $W_2W_1 = G_{\rm out}G_{\rm in}^\top$);
    ``cholesky=True`` factors the centre matrix by a Cholesky factor of $A^\top A$ instead of a QR of $A$ (about
    twice as fast, error about $\epsilon\,\mathrm{cond}(A)^2$ instead of $\epsilon\,\mathrm{cond}(A)$: for
    well-conditioned $Y_+$ only). Other arguments and errors as in :func:`qqt`.
    """
    form = _stable_form(W1, W2, sigma_yx, balance_tol, rcond)
    tau = _positive(tau, "tau")
    times, scalar_t = check_times(t, form.batch, form.O.device)
    u = times / tau
    n, r = form.O.shape[-1], form.Yplus.shape[-2]
    per_time = max(1, math.prod(form.batch) * (n + r) * (n + 2 * r))
    step = max(1, int(4e6 // per_time))                      # bound the memory of one evaluation
    parts = []
    for start in range(0, u.shape[0], step):
        G = _stable_factor(form, u[start:start + step], square_root=not cholesky)
        if not factor:
            with single_thread():
                G = G @ G.mT
        parts.append(G)
    out = parts[0] if len(parts) == 1 else torch.cat(parts)
    return out[0] if scalar_t else out



# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _check_pair(W1, W2) -> tuple[torch.Tensor, torch.Tensor]:
    W1 = as_float_tensor(W1, "W1")
    W2 = as_float_tensor(W2, "W2").to(W1)
    if W1.ndim < 2:
        raise ValueError(f"W1: expected shape (..., N_h, N_i), got {tuple(W1.shape)}")
    if W2.ndim < 2:
        raise ValueError(f"W2: expected shape (..., N_o, N_h), got {tuple(W2.shape)}")
    if W2.shape[-1] != W1.shape[-2]:
        raise ValueError(f"W1, W2: the hidden widths differ: W1 has {W1.shape[-2]} rows but W2 has {W2.shape[-1]} columns")
    try:
        torch.broadcast_shapes(W1.shape[:-2], W2.shape[:-2])
    except RuntimeError as err:
        raise ValueError(f"W1, W2: batch shapes {tuple(W1.shape[:-2])} and {tuple(W2.shape[:-2])} do not broadcast") from err
    return W1, W2


def _check_sigma(sigma_yx) -> torch.Tensor:
    S = as_float_tensor(sigma_yx, "sigma_yx", dtype=F64)
    if S.ndim < 2:
        raise ValueError(f"sigma_yx: expected a matrix (..., N_o, N_i), got shape {tuple(S.shape)}")
    return S


def _lam_tensor(lam, ref: torch.Tensor) -> torch.Tensor:
    if isinstance(lam, torch.Tensor):
        return as_float_tensor(lam, "lam", dtype=F64).to(ref.device)
    return torch.tensor(check_real(lam, "lam"), dtype=F64, device=ref.device)


def _positive(x, name: str) -> float:
    value = check_real(x, name)
    if value <= 0:
        raise ValueError(f"{name}: must be positive, got {value}")
    return value


def _device_of(x):
    return x.device if isinstance(x, torch.Tensor) else torch.device("cpu")


def _check_whitened(X: torch.Tensor, tol: float) -> None:
    tol = _positive(tol, "whiten_tol")
    sxx = X @ X.T / X.shape[1]
    dev = float((sxx - torch.eye(X.shape[0], dtype=X.dtype, device=X.device)).abs().max())
    if dev > tol:
        raise ValueError(f"X: the exact solution assumes whitened inputs (X X^T / P = I); the largest deviation is "
                         f"{dev:.2e} > whiten_tol = {tol:.1e} (use linear_lens.tasks.whiten)")


def _sigma_of(X, Y) -> torch.Tensor:
    X = as_float_tensor(X, "X", dtype=F64)
    Y = as_float_tensor(Y, "Y", dtype=F64).to(X.device)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"X, Y: expected shapes (N_i, P) and (N_o, P) with the same P, got {tuple(X.shape)} and "
                         f"{tuple(Y.shape)}")
    return Y @ X.T / X.shape[1]


def _weight(rate: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """(1 - e^{-2 rate u}) / rate, equal to 2u at rate 0, for rate >= 0 (broadcast)."""
    x = -2 * rate * u
    nonzero = x != 0
    safe = torch.where(nonzero, x, torch.ones_like(x))
    h = torch.where(nonzero, torch.expm1(safe) / safe, torch.ones_like(x))
    return 2 * u * h


@dataclass(frozen=True)
class _StableForm:
    """The time-independent part of the stable form: eigenbasis and the split of Y0 = O^T Q(0) (see qqt)."""

    O: torch.Tensor
    kappa: torch.Tensor
    mu: torch.Tensor
    Yplus: torch.Tensor
    N: torch.Tensor
    A1: torch.Tensor
    A2: torch.Tensor
    E1: torch.Tensor
    E2: torch.Tensor
    k: int
    d: int
    batch: tuple


def _stable_form(W1, W2, sigma_yx, balance_tol, rcond) -> _StableForm:
    W1, W2 = _check_pair(W1, W2)
    device = W1.device
    W1, W2 = W1.to(F64), W2.to(F64)
    S = _check_sigma(sigma_yx).to(device=device, dtype=F64)
    n_hidden, n_in = W1.shape[-2:]
    n_out = W2.shape[-2]
    if S.shape[-2:] != (n_out, n_in):
        raise ValueError(f"sigma_yx: expected (..., {n_out}, {n_in}) to match W2 and W1, got {tuple(S.shape)}")
    balance_tol = _positive(balance_tol, "balance_tol")
    rcond = _positive(rcond, "rcond")
    k, d = min(n_in, n_out), abs(n_out - n_in)
    if n_hidden < k:
        raise ValueError(f"W1, W2: the network is bottlenecked (N_h = {n_hidden} < min(N_i, N_o) = {k}); the exact "
                         "solution assumes N_h >= min(N_i, N_o) (Assumption 2.2.4 of Anguita, 2024)")
    batch = torch.broadcast_shapes(W1.shape[:-2], W2.shape[:-2], S.shape[:-2])
    W1 = W1.expand(*batch, n_hidden, n_in)
    W2 = W2.expand(*batch, n_out, n_hidden)
    S = S.expand(*batch, n_out, n_in)
    lam, bal_err = balance_coefficient(W1, W2)
    worst = float(bal_err.max()) if bal_err.numel() else 0.0
    if worst > balance_tol:
        i = int(bal_err.reshape(-1).argmax())
        raise ValueError(f"W1, W2: the weights are not lambda-balanced: ||B - lambda I||_F / ||W W^T||_F = {worst:.2e} "
                         f"> balance_tol = {balance_tol:.1e} (lambda = Tr(B)/N_h = {float(lam.reshape(-1)[i]):.6g}); "
                         "the exact solution needs W2^T W2 - W1 W1^T = lambda I")
    _check_rank_at_zero(lam, W1, W2, k)
    basis = riccati_eigenbasis(S, lam)
    Y0 = basis.O.mT @ torch.cat([W1.mT, W2], dim=-2)        # (..., n, r)
    Yp, Ym, E = Y0[..., :k, :], Y0[..., k:2 * k, :], Y0[..., 2 * k:, :]
    Uy, sy, Vyh = torch.linalg.svd(Yp, full_matrices=True)
    ratio = sy[..., -1] / torch.where(sy[..., 0] > 0, sy[..., 0], torch.ones_like(sy[..., 0]))
    if bool((ratio < rcond).any()):
        _raise_singular(ratio, lam, W1, W2, S, rcond)
    Vy = Vyh.mT
    Yplus = Vy[..., :k] @ (Uy.mT / sy[..., :, None])         # pseudo-inverse of Y_+, (..., r, k)
    N = Vy[..., k:]                                          # orthonormal null space of Y_+, (..., r, m)
    return _StableForm(basis.O, basis.kappa, basis.mu, Yplus, N, Ym @ Yplus, Ym @ N, E @ Yplus, E @ N, k, d,
                       tuple(batch))


def _stable_factor(f: _StableForm, u: torch.Tensor, square_root: bool = True) -> torch.Tensor:
    """G(u) with QQ^T = G G^T, for rescaled times u = t / tau of shape (T, *batch): only decaying exponentials.

    ``square_root``: factor C = A^T A by a QR of A (error ~ eps cond(A)); ``False`` uses a Cholesky factor of A^T A
    (about twice as fast, error ~ eps cond(A)^2: for well-conditioned Y+ only).
    """
    k, d = f.k, f.d
    r = f.Yplus.shape[-2]
    n = 2 * k + d
    T_len = u.shape[0]
    kappa, mu = f.kappa, f.mu
    mu_plus = mu.clamp(min=0)
    with single_thread():                                    # many tiny matrices: threads cost more than they save
        uk = u[..., None]
        eK = torch.exp(-kappa * uk)                          # (T, ..., k)
        rootK = torch.sqrt(0.5 * _weight(kappa, uk))         # sqrt((1 - e^{-2 kappa u}) / (2 kappa))
        eN = torch.exp(-mu_plus * u)[..., None, None]        # (T, ..., 1, 1)
        # T = [Y+^+ e^{-K u}, N e^{-mu+ u}]; C = T^T [I + Y0^T phi(Lambda) Y0 / 2] T = A^T A with A stacked from
        # square roots (QR keeps the conditioning of C's square root); Z = e^{Lambda u} Y0 T, block by block.
        A = u.new_zeros(T_len, *f.batch, r + n, r)
        Z = u.new_zeros(T_len, *f.batch, n, r)
        A[..., :r, :k] = f.Yplus * eK[..., None, :]
        A[..., :r, k:] = f.N * eN
        idx = torch.arange(k, device=u.device)
        A[..., r + idx, idx] = rootK
        Z[..., idx, idx] = 1.0
        ym_task, ym_null = f.A1 * eK[..., None, :], f.A2 * eN                          # Y_- T
        A[..., r + k:r + 2 * k, :k] = rootK[..., :, None] * ym_task
        A[..., r + k:r + 2 * k, k:] = rootK[..., :, None] * ym_null
        Z[..., k:2 * k, :k] = eK[..., :, None] * ym_task
        Z[..., k:2 * k, k:] = eK[..., :, None] * ym_null
        if d:
            ze_task = torch.exp((mu[..., None, None] - kappa[..., None, :]) * uk[..., None]) * f.E1
            ze_null = torch.exp((mu - mu_plus) * u)[..., None, None] * f.E2
            Z[..., 2 * k:, :k] = ze_task
            Z[..., 2 * k:, k:] = ze_null
            # growing extra rows enter C through Z (bounded), the others through E T (bounded)
            growing = (mu > 0)[..., None, None]
            w = torch.sqrt(0.5 * _weight(mu.abs(), u))[..., None, None]
            A[..., r + 2 * k:, :k] = w * torch.where(growing, ze_task, f.E1 * eK[..., None, :])
            A[..., r + 2 * k:, k:] = w * torch.where(growing, ze_null, f.E2 * eN)
        if square_root:
            R = torch.linalg.qr(A, mode="r").R
        else:
            L, info = torch.linalg.cholesky_ex(A.mT @ A)
            if bool((info != 0).any()):
                raise ValueError("W1, W2: the centre matrix C(t) is not positive definite to working precision")
            R = L.mT
        diag = R.diagonal(dim1=-2, dim2=-1).abs()
        if bool((diag <= torch.finfo(F64).eps * diag.amax(-1, keepdim=True)).any()):
            raise ValueError("W1, W2: the centre matrix C(t) of the stable form is singular to working precision; "
                             "the initial weights are too close to a singular Y+ (see rcond)")
        H = torch.linalg.solve_triangular(R.mT, Z.mT, upper=False)                      # R^{-T} Z^T
        return f.O @ H.mT                                    # (T, ..., n, r)



def _check_rank_at_zero(lam, W1, W2, k) -> None:
    """At lambda = 0 the flow keeps rank(W1) = rank(W2 W1): a rank-deficient product never reaches a full-rank task."""
    scale = torch.linalg.matrix_norm(W1, 2) ** 2 + torch.linalg.matrix_norm(W2, 2) ** 2
    zero = lam.abs() <= 1e-12 * torch.where(scale > 0, scale, torch.ones_like(scale))
    if not bool(zero.any()):
        return
    sv = torch.linalg.svdvals(W2 @ W1)[..., :k]
    ratio = sv[..., -1] / torch.where(sv[..., 0] > 0, sv[..., 0], torch.ones_like(sv[..., 0]))
    bad = zero & (ratio <= 1e-10)
    if bool(bad.any()):
        worst = float(ratio[bad].min())
        raise ValueError(f"W1, W2: the product W2 W1 is rank-deficient (sigma_min/sigma_max = {worst:.1e}) and "
                         "lambda = 0: zero-balanced flow keeps rank(W2 W1), so the closed form (which inverts the "
                         "thesis's B, singular here) does not apply (Assumption 2.2.4 of Anguita, 2024)")


def _raise_singular(ratio, lam, W1, W2, S, rcond) -> None:
    flat = ratio.reshape(-1)
    i = int(flat.argmin())
    lam_i = float(lam.reshape(-1)[i])
    msg = (f"W1, W2: Y+ = O_+^T Q(0) (the thesis's B, up to R and sqrt 2) is singular to the accuracy asked for: "
           f"sigma_min/sigma_max = {float(flat[i]):.1e} < rcond = {rcond:.0e} (lambda = {lam_i:.3g}); the stable form "
           "would lose about -log10(ratio) digits")
    n_out, n_in = S.shape[-2:]
    if n_out == n_in:
        prod = (W2 @ W1).reshape(-1, n_out, n_in)[i]
        Si = S.reshape(-1, n_out, n_in)[i]
        if float(torch.linalg.det(prod)) * float(torch.linalg.det(Si)) < 0:
            msg += ("; det(W2 W1) and det(Sigma_yx) have opposite signs, so at lambda = 0 the flow would converge to "
                    "a saddle, and for small |lambda| it escapes only after a time of order log(1/|lambda|): use "
                    "gradient_flow.integrate, or pass a smaller rcond and accept about 1e-16/ratio relative error")
    raise ValueError(msg)
