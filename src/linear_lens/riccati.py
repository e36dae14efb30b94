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

which :func:`fukumizu_qqt` evaluates literally (it overflows once $e^{Fu}$ does).

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
(Braun et al., 2022), corrected in :func:`zero_balanced_qqt` (errata E11.10).

The form needs $Y_+$ (equivalently the thesis's $B$) to have full row rank. At $\lambda = 0$ in equal dimensions it
is singular exactly when $\det(W_2W_1)$ and $\det\Sigma^{yx}$ have opposite signs (about half of random draws): the
flow then cannot reach the global minimum and converges to a saddle. :func:`qqt` refuses such weights.

Also here: :func:`thesis_qqt` (Theorem 3.3.1(3) as printed and corrected), :func:`proof_steps` (every intermediate
matrix of the proof of Theorem 3.3.1, as printed and as defined), the closed ODE of the product $W_2W_1$
(:func:`product_velocity`, :func:`integrate_product`), and the learning-rate studies of Figs. 3.4-3.6
(:func:`descent_deviation`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from scipy.integrate import solve_ivp

from linear_lens._checks import as_float_tensor, check_positive_int, check_real, check_times
from linear_lens._threads import single_thread

__all__ = [
    "QQtBlocks",
    "Eigenbasis",
    "ProofStep",
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
    "fukumizu_qqt",
    "zero_balanced_qqt",
    "zero_balanced_b",
    "thesis_qqt",
    "thesis_bc",
    "proof_steps",
    "product_velocity",
    "integrate_product",
    "product_loss",
    "descent_deviation",
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


@dataclass(frozen=True)
class ProofStep:
    r"""One displayed equation of the proof of Theorem 3.3.1: the matrix as printed and the matrix it should equal.

    ``label``: the thesis's equation number (``"3.45"``); ``what``: a short description; ``printed``: the printed
    expression evaluated literally (``None`` where it cannot be evaluated); ``reference``: the quantity it claims to
    equal, computed from its definition; ``corrected``: the corrected expression (``None`` if the printed one holds).
    """

    label: str
    what: str
    printed: torch.Tensor | None
    reference: torch.Tensor
    corrected: torch.Tensor | None = None

    def error(self, which: str = "printed") -> float:
        r"""Largest entry of $|M - M_{\rm ref}|$ relative to the largest entry of the reference (``inf`` if absent)."""
        value = self.printed if which == "printed" else self.corrected
        if value is None:
            return math.inf
        scale = float(self.reference.abs().max())
        return float((value - self.reference).abs().max()) / (scale if scale > 0 else 1.0)


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
              factor: bool = False) -> torch.Tensor:
    r"""Return $QQ^\top(t)$ from $\Sigma^{yx}$ directly (whitened inputs assumed): the batched core of :func:`qqt`.

    ``t``: a number, ``(T,)``, or ``(T, ...)`` broadcastable against the batch shape (one time grid per network, e.g.
    $t = k\eta$ with a learning rate per network); ``W1`` ``(..., N_h, N_i)``, ``W2`` ``(..., N_o, N_h)`` and
    ``sigma_yx`` ``(..., N_o, N_i)`` broadcast together; ``factor=True`` returns $G$ ``(T, ..., N_i + N_o, N_h)``
    with $QQ^\top = GG^\top$ instead (cheaper when only one block is needed: $W_2W_1 = G_{\rm out}G_{\rm in}^\top$).
    Other arguments and errors as in :func:`qqt`.
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
        G = _stable_factor(form, u[start:start + step])
        if not factor:
            with single_thread():
                G = G @ G.mT
        parts.append(G)
    out = parts[0] if len(parts) == 1 else torch.cat(parts)
    return out[0] if scalar_t else out


def fukumizu_qqt(t, W1, W2, X, Y, tau: float = 1.0) -> torch.Tensor:
    r"""Evaluate Fukumizu's solution (Theorem 2.2.4, eq. 3.43 of Anguita, 2024) literally, with $e^{Ft/\tau}$ and $F^{-1}$.

    $$QQ^\top(t) = e^{F\frac t\tau} Q_0 \Big[I + \tfrac12 Q_0^\top\big(e^{F\frac t\tau}F^{-1}e^{F\frac t\tau}
      - F^{-1}\big)Q_0\Big]^{-1} Q_0^\top e^{F\frac t\tau}.$$

    Valid for any $Q_0$ (also rank-deficient, also when $Y_+$ is singular) as long as $F$ is invertible; it needs
    balanced weights and whitened inputs (checked). A reference kept to show where it fails: once
    $e^{\kappa_{\max} t/\tau}$ overflows (about $\kappa_{\max}t/\tau > 709$ in float64) the result is not finite, and
    that is part of the evidence. Raises ``ValueError`` if $F$ is singular ($\lambda = 0$ with $N_i \ne N_o$, or a
    rank-deficient task at $\lambda = 0$). Arguments as in :func:`qqt`.
    """
    W1, W2, S, lam, times, scalar_t = _prepare_reference(t, W1, W2, X, Y, tau)
    F = riccati_matrix(S, lam)
    ev = torch.linalg.eigvalsh(F)
    if bool((ev.abs().amin(-1) <= 1e-13 * ev.abs().amax(-1)).any()):
        raise ValueError(f"lam: F is singular (smallest |eigenvalue| {float(ev.abs().amin()):.2e}), so F^{{-1}} in "
                         "Theorem 2.2.4 is undefined; this happens at lambda = 0 with N_i != N_o or a rank-deficient task")
    Q0 = torch.cat([W1.mT, W2], dim=-2)
    Fi = torch.linalg.inv(F)
    u = (times / tau).reshape(-1, *([1] * (F.ndim - 2)), 1, 1)
    Et = torch.linalg.matrix_exp(F * u)
    M = torch.eye(Q0.shape[-1], dtype=F64, device=F.device) + 0.5 * Q0.mT @ (Et @ Fi @ Et - Fi) @ Q0
    left = Et @ Q0
    finite = torch.isfinite(M).all(-1).all(-1) & torch.isfinite(left).all(-1).all(-1)
    eye = torch.eye(M.shape[-1], dtype=F64, device=M.device)
    sol, info = torch.linalg.solve_ex(torch.where(finite[..., None, None], M, eye),
                                      torch.where(finite[..., None, None], left, 0.0).mT)
    out = left @ sol
    bad = ~finite | (info != 0)
    out = torch.where(bad[..., None, None], torch.full_like(out, float("nan")), out)
    return out[0] if scalar_t else out


def zero_balanced_b(W1, W2, X, Y) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return Braun et al.'s $B = U^\top\tilde U + V^\top\tilde V$ and $C = U^\top\tilde U - V^\top\tilde V$ ($k \times k$).

    Assumption 2.2.1 of Anguita (2024): with compact SVDs $W_2W_1 = USV^\top$ and $\Sigma^{yx} = \tilde U\tilde S
    \tilde V^\top$, $B$ must be non-singular. In equal dimensions $\det(O_u + O_v) = 0$ for orthogonal $O_u =
    U^\top\tilde U$, $O_v = V^\top\tilde V$ whenever $\det(O_v^\top O_u) = -1$, i.e. whenever $\det W_2W_1$ and
    $\det\Sigma^{yx}$ have opposite signs: $B$ is singular for about half of random initialisations.
    ``W1``, ``W2``: single networks; ``X``, ``Y``: the task. Returns ``(B, C)``.
    """
    W1, W2 = _check_pair(W1, W2)
    S = _sigma_of(X, Y).to(W1)
    k = min(S.shape)
    Ut, _, Vth = torch.linalg.svd(S)
    U, _, Vh = torch.linalg.svd(W2 @ W1)
    O_u = U[..., :k].mT @ Ut[..., :k]
    O_v = Vh[..., :k, :] @ Vth[..., :k, :].mT
    return O_u + O_v, O_u - O_v


def zero_balanced_qqt(t, W1, W2, X, Y, tau: float = 1.0, printed: bool = False) -> torch.Tensor:
    r"""Theorem 2.2.5 of Anguita (2024) (Theorem 3.1 of Braun et al., 2022), corrected: zero-balanced weights, any dimensions.

    With compact SVDs $W_2W_1 = USV^\top$ ($k$ values), $\Sigma^{yx} = \tilde U\tilde S\tilde V^\top$, complements
    $\tilde U_\perp$, $\tilde V_\perp$, $B = U^\top\tilde U + V^\top\tilde V$, $C = U^\top\tilde U - V^\top\tilde V$,
    $e = e^{-\tilde S t/\tau}$:

    $$QQ^\top = Z\Big[4eB^{-1}S^{-1}B^{-\top}e + (I - e^2)\tilde S^{-1} + eB^{-1}C(I - e^2)\tilde S^{-1}C^\top
      B^{-\top}e + 4\tfrac{t}{\tau}\, eB^{-1}\big(V^\top\tilde V_\perp\tilde V_\perp^\top V + U^\top\tilde U_\perp
      \tilde U_\perp^\top U\big)B^{-\top}e\Big]^{-1}Z^\top,$$
    $$Z = \begin{bmatrix}\tilde V(I - eC^\top B^{-\top}e) + 2\tilde V_\perp\tilde V_\perp^\top VB^{-\top}e \\
          \tilde U(I + eC^\top B^{-\top}e) + 2\tilde U_\perp\tilde U_\perp^\top UB^{-\top}e\end{bmatrix}.$$

    The printed eq. (2.30) lacks the inverse, has $e$ for $e^2$ in the $C$ term, and a garbled $t/\tau$ term (errata
    E11.10). An independent parametrisation of the $\lambda = 0$ case of :func:`qqt` (SVD-based rather than
    eigenbasis-based). Requires balance at $\lambda = 0$, full-rank $W_2W_1$ and $\Sigma^{yx}$, and non-singular $B$
    (raises ``ValueError`` otherwise). Arguments as in :func:`qqt`; single networks only. ``printed=True`` evaluates
    the equal-dimension part of eq. (2.30) as printed, $Z[4eB^{-1}S^{-1}B^{-\top}e + (I - e^2)\tilde S^{-1} -
    eB^{-1}C(e - I)\tilde S^{-1}C^\top B^{-\top}e]Z^\top$ (no inverse, $e$ for $e^2$), to show that it fails; its
    unequal-dimension terms are not conformable as printed, so ``printed=True`` needs $N_i = N_o$.
    """
    W1, W2, S, lam, times, scalar_t = _prepare_reference(t, W1, W2, X, Y, tau)
    if W1.ndim != 2:
        raise ValueError(f"W1: zero_balanced_qqt takes a single network, got shape {tuple(W1.shape)}")
    if abs(float(lam)) > 1e-8 * max(1.0, float(torch.linalg.matrix_norm(W1, 2)) ** 2):
        raise ValueError(f"lam: Theorem 2.2.5 needs zero-balanced weights, got lambda = {float(lam):.3e}")
    n_out, n_in = S.shape
    if printed and n_in != n_out:
        raise ValueError(f"printed: eq. (2.30) as printed can only be evaluated for N_i = N_o, got {n_in}, {n_out}")
    k = min(n_in, n_out)
    Ut, st, Vth = torch.linalg.svd(S, full_matrices=True)
    U, s, Vh = torch.linalg.svd(W2 @ W1, full_matrices=False)
    U, s, V = U[:, :k], s[:k], Vh[:k].mT
    if float(s.min()) <= 1e-12 * float(s.max()) or float(st[:k].min()) <= 1e-12 * float(st[0]):
        raise ValueError(f"W1, W2: Theorem 2.2.5 needs full-rank W2 W1 and Sigma_yx (smallest singular values "
                         f"{float(s.min()):.2e}, {float(st[:k].min()):.2e})")
    Vt_, Ut_ = Vth.mT[:, :k], Ut[:, :k]
    Vperp, Uperp = Vth.mT[:, k:], Ut[:, k:]
    B = U.mT @ Ut_ + V.mT @ Vt_
    C = U.mT @ Ut_ - V.mT @ Vt_
    sv = torch.linalg.svdvals(B)
    if float(sv[-1]) <= 1e-12 * float(sv[0]):
        raise ValueError(f"W1, W2: B = U^T U~ + V^T V~ is singular (sigma_min/sigma_max = {float(sv[-1] / sv[0]):.1e});"
                         " det(W2 W1) and det(Sigma_yx) have opposite signs")
    Bi = torch.linalg.inv(B)
    st = st[:k]
    u = (times / tau)[:, None]
    e = torch.exp(-st * u)                                   # (T, k)
    e2 = e**2
    D = lambda v: torch.diag_embed(v)  # noqa: E731
    CtBit = C.mT @ Bi.mT
    inner = D(e) @ CtBit @ D(e)
    I = torch.eye(k, dtype=F64, device=W1.device)
    Ztop = Vt_ @ (I - inner) + 2 * Vperp @ Vperp.mT @ V @ Bi.mT @ D(e)
    Zbot = Ut_ @ (I + inner) + 2 * Uperp @ Uperp.mT @ U @ Bi.mT @ D(e)
    Z = torch.cat([Ztop, Zbot], dim=-2)
    if printed:
        centre = (4 * D(e) @ Bi @ D(1 / s) @ Bi.mT @ D(e) + D((1 - e2) / st)
                  - D(e) @ Bi @ C @ D((e - 1) / st) @ C.mT @ Bi.mT @ D(e))
        out = Z @ centre @ Z.mT
        return out[0] if scalar_t else out
    perp = V.mT @ Vperp @ Vperp.mT @ V + U.mT @ Uperp @ Uperp.mT @ U
    centre = (4 * D(e) @ Bi @ D(1 / s) @ Bi.mT @ D(e) + D((1 - e2) / st)
              + D(e) @ Bi @ C @ D((1 - e2) / st) @ C.mT @ Bi.mT @ D(e)
              + 4 * u[..., None] * D(e) @ Bi @ perp @ Bi.mT @ D(e))
    out = Z @ torch.linalg.solve(centre, Z.mT)
    return out[0] if scalar_t else out


def thesis_bc(W1, W2, X, Y) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return the thesis's $B = S_2U^\top\tilde U(A + XA) + S_1V^\top\tilde V(A - XA)$ and
    $C = S_2U^\top\tilde U(A - XA) - S_1V^\top\tilde V(A + XA)$ (Theorem 3.3.1(3), equal dimensions).

    $W_2W_1 = USV^\top$, $S_2 = ((\sqrt{\lambda^2 + 4S^2} + \lambda)/2)^{1/2}$, $S_1 = ((\sqrt{\lambda^2 + 4S^2} -
    \lambda)/2)^{1/2}$, $X, A$ from :func:`riccati_eigenbasis`. (The proof's eq. (3.60) prints $\tilde U^\top\tilde U$
    for $U^\top\tilde U$: errata E11.7.) At $\lambda = 0$, $B = S^{1/2}(U^\top\tilde U + V^\top\tilde V)$, which is
    :func:`zero_balanced_b` scaled by $S^{1/2}$. ``W1``, ``W2``: single square networks. Returns ``(B, C)``.
    """
    W1, W2, S, lam, _, _ = _prepare_reference(0.0, W1, W2, X, Y, 1.0)
    if not (W1.shape[0] == W1.shape[1] == W2.shape[0]):
        raise ValueError(f"W1, W2: Theorem 3.3.1 is for N_i = N_h = N_o, got shapes {tuple(W1.shape)}, {tuple(W2.shape)}")
    basis = riccati_eigenbasis(S, lam)
    U, s, Vh = torch.linalg.svd(W2 @ W1)
    V = Vh.mT
    root = torch.hypot(lam, 2 * s)
    s2 = torch.sqrt((root + lam) / 2)
    s1 = torch.sqrt(torch.clamp(root - lam, min=0) / 2)
    Ut, Vt = basis.U, basis.V
    Ap, Am = torch.diag(basis.a_plus), torch.diag(basis.a_minus)
    B = torch.diag(s2) @ U.mT @ Ut @ Ap + torch.diag(s1) @ V.mT @ Vt @ Am
    C = torch.diag(s2) @ U.mT @ Ut @ Am - torch.diag(s1) @ V.mT @ Vt @ Ap
    return B, C


def thesis_qqt(t, W1, W2, X, Y, tau: float = 1.0, invert: bool = True) -> torch.Tensor:
    r"""Evaluate Theorem 3.3.1(3) of Anguita (2024): $QQ^\top = Z\,[\dots]\,Z^\top$ as printed, or with the inverse.

    $$Z = \begin{bmatrix}\tilde V\big((A - XA) - (A + XA)e C^\top B^{-\top}e\big) \\
          \tilde U\big((A + XA) + (A - XA)eC^\top B^{-\top}e\big)\end{bmatrix}, \quad
      [\dots] = 4eB^{-1}B^{-\top}e + (I - e^2)K^{-1} - eB^{-1}C(e^2 - I)K^{-1}C^\top B^{-\top}e,$$

    $e = e^{-Kt/\tau}$, $K = \sqrt{\tilde S^2 + \lambda^2/4}$, $B$, $C$ from :func:`thesis_bc`. The statement prints
    no inverse on the bracket (``invert=False``); the authors' code inverts it by a Cholesky solve (``invert=True``,
    correct: errata E11.9). Equal dimensions; $\lambda \neq 0$ as in the thesis, whose $X = (\sqrt{\lambda^2 +
    4\tilde S^2} - 2\tilde S)/\lambda$ is $0/0$ at $\lambda = 0$ (we use the continuous form, so $\lambda = 0$ works
    too when $B$ is invertible). Arguments as in :func:`qqt`; single networks.
    """
    W1, W2, S, lam, times, scalar_t = _prepare_reference(t, W1, W2, X, Y, tau)
    B, C = thesis_bc(W1, W2, X, Y)
    basis = riccati_eigenbasis(S, lam)
    Ut, Vt = basis.U, basis.V
    Ap, Am = torch.diag(basis.a_plus), torch.diag(basis.a_minus)
    Bi = torch.linalg.inv(B)
    u = (times / tau)[:, None]
    e = torch.diag_embed(torch.exp(-basis.kappa * u))
    e2 = e @ e
    I = torch.eye(B.shape[0], dtype=F64, device=B.device)
    Ki = torch.diag(1 / basis.kappa)
    inner = e @ C.mT @ Bi.mT @ e
    Z = torch.cat([Vt @ (Am - Ap @ inner), Ut @ (Ap + Am @ inner)], dim=-2)
    centre = 4 * e @ Bi @ Bi.mT @ e + (I - e2) @ Ki - e @ Bi @ C @ (e2 - I) @ Ki @ C.mT @ Bi.mT @ e
    out = Z @ torch.linalg.solve(centre, Z.mT) if invert else Z @ centre @ Z.mT
    return out[0] if scalar_t else out


def proof_steps(W1, W2, X, Y, t: float = 0.7, tau: float = 1.0) -> list[ProofStep]:
    r"""Evaluate every displayed equation of the proof of Theorem 3.3.1 (Anguita, 2024) that can be evaluated.

    For equal dimensions $N_i = N_h = N_o$ and $\lambda \ne 0$: the derivative blocks (3.22)-(3.37) against the
    derivative of $QQ^\top$ along the flow, the Riccati form (3.39), the diagonalisation (3.45)-(3.53) against $F$,
    the statement's (2), the rotated initial condition (3.54)-(3.62) against $O^\top Q(0)$, the propagated weights
    (3.63)-(3.65) against $e^{Ft/\tau}Q(0)$, and the inverted bracket (3.66)-(3.76) against its definition
    $R^\top[I + \tfrac12 Q_0^\top(e^{Ft}F^{-1}e^{Ft} - F^{-1})Q_0]R$, each as printed and, where it is wrong,
    corrected. ``t``: the time used for the time-dependent steps. Returns a list of :class:`ProofStep`.
    """
    W1, W2, S, lam, _, _ = _prepare_reference(0.0, W1, W2, X, Y, tau)
    n = W1.shape[0]
    if not (W1.shape == W2.shape == (n, n)) or S.shape != (n, n):
        raise ValueError(f"W1, W2: the proof of Theorem 3.3.1 is for N_i = N_h = N_o, got {tuple(W1.shape)}, "
                         f"{tuple(W2.shape)}")
    if abs(float(lam)) < 1e-12:
        raise ValueError("lam: the proof of Theorem 3.3.1 assumes lambda != 0 (its X divides by lambda)")
    t = float(check_real(t, "t"))
    u = t / _positive(tau, "tau")
    lam_f = float(lam)
    I = torch.eye(n, dtype=F64, device=W1.device)
    steps: list[ProofStep] = []
    # --- statement 1: derivative blocks -------------------------------------------------------------------------
    E = S - W2 @ W1                                            # Sigma - W2 W1 (whitened inputs)
    dW1 = W2.mT @ E / tau                                      # tau dW1/dt = W2^T E
    dW2 = E @ W1.mT / tau
    Q = torch.cat([W1.mT, W2], dim=-2)
    dQ = torch.cat([dW1.mT, dW2], dim=-2)
    dP = (dQ @ Q.mT + Q @ dQ.mT) * tau                         # tau d(QQ^T)/dt
    P = Q @ Q.mT
    b11, b12, b21, b22 = dP[:n, :n], dP[:n, n:], dP[n:, :n], dP[n:, n:]
    printed_322 = torch.cat([torch.cat([b11, tau * (dW1.mT @ W2 + W1.mT @ dW2)], -1),
                             torch.cat([b21, tau * (dW2.mT @ W2 + W2.mT @ dW2)], -1)], -2)
    corrected_322 = torch.cat([torch.cat([b11, tau * (dW1.mT @ W2.mT + W1.mT @ dW2.mT)], -1),
                               torch.cat([b21, tau * (dW2 @ W2.mT + W2 @ dW2.mT)], -1)], -2)
    steps.append(ProofStep("3.22", "tau d(QQ^T)/dt block by block", printed_322, dP, corrected_322))
    St = S.mT
    steps += [
        ProofStep("3.24", "(1,1) block", E.mT @ W2 @ W1 + W1.mT @ W2.mT @ E, b11),
        ProofStep("3.25", "(1,1) block expanded", St @ W2 @ W1 + W1.mT @ W2.mT @ S - W1.mT @ W2.mT @ W2 @ W1
                  - (W2 @ W1).mT @ W2 @ W1, b11),
        ProofStep("3.26", "(1,1) block with the balance", St @ W2 @ W1 + W1.mT @ W2.mT @ S - W1.mT @ W2.mT @ W2 @ W1
                  - W1.mT @ W1 @ W1.mT @ W1 - lam_f * W1.mT @ W1, b11),
        ProofStep("3.28", "(1,2) block", E.mT @ W2 @ W2.mT + W1.mT @ W1 @ E.mT, b12),
        ProofStep("3.29", "(1,2) block expanded", St @ W2 @ W2.mT + W1.mT @ W1 @ St - W1.mT @ W1 @ W1.mT @ W2.mT
                  - W1.mT @ W2.mT @ W2 @ W2.mT, b12),
        ProofStep("3.31", "(2,1) block", E @ W1.mT @ W1 + W2 @ W2.mT @ E, b21),
        ProofStep("3.32", "(2,1) block expanded", S @ W1.mT @ W1 + W2 @ W2.mT @ S - W2 @ W2.mT @ W2 @ W1
                  - W2 @ W1 @ W1.mT @ W1, b21),
        ProofStep("3.34", "(2,2) block", E @ W1.mT @ W2.mT + W2 @ W1 @ E.mT, b22),
        ProofStep("3.36", "(2,2) block expanded", S @ W1.mT @ W2.mT + W2 @ W1 @ St - 2 * W2 @ W1 @ W1.mT @ W2.mT, b22),
        ProofStep("3.37", "(2,2) block with the balance", S @ W1.mT @ W2.mT + W2 @ W1 @ St - W2 @ W1 @ W1.mT @ W2.mT
                  - W2 @ W2.mT @ W2 @ W2.mT + lam_f * W2 @ W2.mT, b22),
    ]
    F = riccati_matrix(S, lam)
    steps.append(ProofStep("3.39", "the Riccati form F QQ^T + QQ^T F - (QQ^T)^2", F @ P + P @ F - P @ P, dP))
    # --- statement 2: diagonalisation ----------------------------------------------------------------------------
    basis = riccati_eigenbasis(S, lam)
    Ut, Vt = basis.U, basis.V
    st = basis.s
    Sd = torch.diag(st)
    J = torch.cat([torch.cat([Vt, Vt], -1), torch.cat([Ut, -Ut], -1)], -2)
    half = lam_f / 2 * I
    M_printed = torch.cat([torch.cat([Sd, half], -1), torch.cat([half, -Sd], -1)], -2)
    M_correct = torch.cat([torch.cat([Sd, -half], -1), torch.cat([-half, -Sd], -1)], -2)
    steps.append(ProofStep("3.45", "F = 1/2 J [[S, lam/2],[lam/2, -S]] J^T", 0.5 * J @ M_printed @ J.mT, F,
                           0.5 * J @ M_correct @ J.mT))
    x_printed = (torch.sqrt(lam_f**2 + 4 * st**2) - 2 * st) / lam_f
    a_printed = 1 / torch.sqrt(1 + x_printed**2)
    Xd, Ad = torch.diag(x_printed), torch.diag(a_printed)
    Kd = torch.diag(basis.kappa)
    Lam = torch.block_diag(Kd, -Kd)
    Rot = torch.cat([torch.cat([Ad, Xd @ Ad], -1), torch.cat([-Xd @ Ad, Ad], -1)], -2)
    steps.append(ProofStep("3.48", "the 2x2 block matrix (3.46) = R diag(K, -K) R^T", Rot @ Lam @ Rot.mT, M_printed,
                           None))
    steps.append(ProofStep("3.48*", "(3.48)'s right-hand side diagonalises the corrected (3.46)", Rot @ Lam @ Rot.mT,
                           M_correct))
    x_349 = (torch.sqrt(lam_f**2 / 4 + st**2) - st) / lam_f
    steps.append(ProofStep("3.49", "X = (sqrt(lam^2/4 + S^2) - S)/lam", torch.diag(x_349), torch.diag(basis.x)))
    steps.append(ProofStep("3.50", "F = 1/2 J R Lam R J^T (no transpose on the second R)",
                           0.5 * J @ Rot @ Lam @ Rot @ J.mT, F, 0.5 * J @ Rot @ Lam @ Rot.mT @ J.mT))
    Am, Ap = torch.diag(basis.a_minus), torch.diag(basis.a_plus)
    O = basis.O
    steps.append(ProofStep("3.51", "F = O Lam O^T with O of (3.52)", O @ Lam @ O.mT, F))
    steps.append(ProofStep("3.52", "O^T O = I", O.mT @ O, torch.eye(2 * n, dtype=F64, device=O.device)))
    r2 = math.sqrt(2.0)
    O_stmt = torch.cat([torch.cat([Vt @ Am, Vt @ Ap], -1), torch.cat([Ut @ Am, -Ut @ Ap], -1)], -2) / r2
    steps.append(ProofStep("3.3.1(2)", "the statement's diagonalisation of F", O_stmt @ Lam @ O_stmt.mT, F,
                           O @ Lam @ O.mT))
    # --- statement 3 ---------------------------------------------------------------------------------------------
    U, s, Vh = torch.linalg.svd(W2 @ W1)
    V = Vh.mT
    root = torch.hypot(lam, 2 * s)
    S2, S1 = torch.diag(torch.sqrt((root + lam) / 2)), torch.diag(torch.sqrt(torch.clamp(root - lam, min=0) / 2))
    R = W2.mT @ U @ torch.linalg.inv(S2)                      # W2 = U S2 R^T
    Q0 = Q
    OQ = O.mT @ Q0
    steps.append(ProofStep("3.55", "Q(0) = [V S1 R^T; U S2 R^T]", torch.cat([V @ S1 @ R.mT, U @ S2 @ R.mT], -2), Q0))
    steps.append(ProofStep("3.57", "O^T Q(0) expanded",
                           torch.cat([Am @ Vt.mT @ V @ S1 + Ap @ Ut.mT @ U @ S2,
                                      Ap @ Vt.mT @ V @ S1 - Am @ Ut.mT @ U @ S2], -2) @ R.mT / r2, OQ))
    B, C = thesis_bc(W1, W2, X, Y)
    B_printed = S2 @ Ut.mT @ Ut @ Ap + S1 @ V.mT @ Vt @ Am
    steps.append(ProofStep("3.60", "O^T Q(0) = [B^T; -C^T] R^T / sqrt 2 with B as printed in (3.60)",
                           torch.cat([B_printed.mT, -C.mT], -2) @ R.mT / r2, OQ,
                           torch.cat([B.mT, -C.mT], -2) @ R.mT / r2))
    eK = torch.diag(torch.exp(basis.kappa * u))
    emK = torch.diag(torch.exp(-basis.kappa * u))
    EtQ = torch.linalg.matrix_exp(F * u) @ Q0
    steps.append(ProofStep("3.64", "e^{Ft} Q(0)", 0.5 * torch.cat([Vt @ Am @ eK @ B.mT - Vt @ Ap @ emK @ C.mT,
                                                                     Ut @ Ap @ eK @ B.mT + Ut @ Am @ emK @ C.mT], -2)
                           @ R.mT, EtQ))
    Zhat = torch.cat([Vt @ (Am - Ap @ emK @ C.mT @ torch.linalg.inv(B).mT @ emK),
                      Ut @ (Ap + Am @ emK @ C.mT @ torch.linalg.inv(B).mT @ emK)], -2)
    steps.append(ProofStep("3.65", "e^{Ft} Q(0) = 1/2 Z B^T e^{Kt} R^T", 0.5 * Zhat @ B.mT @ eK @ R.mT, EtQ,
                           0.5 * Zhat @ eK @ B.mT @ R.mT))
    Fi = torch.linalg.inv(F)
    EF = torch.linalg.matrix_exp(F * u)
    steps.append(ProofStep("3.67", "e^{Ft} F^{-1} e^{Ft} = O e^{Lam t} Lam^{-1} O^T",
                           O @ torch.diag(torch.exp(torch.diag(Lam) * u) / torch.diag(Lam)) @ O.mT, EF @ Fi @ EF,
                           O @ torch.diag(torch.exp(2 * torch.diag(Lam) * u) / torch.diag(Lam)) @ O.mT))
    bracket = R.mT @ (torch.eye(n, dtype=F64, device=W1.device) + 0.5 * Q0.mT @ (EF @ Fi @ EF - Fi) @ Q0) @ R
    Ki = torch.diag(1 / basis.kappa)
    e1, e2 = torch.diag(torch.exp(basis.kappa * u)), torch.diag(torch.exp(2 * basis.kappa * u))
    m1, m2 = torch.diag(torch.exp(-basis.kappa * u)), torch.diag(torch.exp(-2 * basis.kappa * u))
    steps.append(ProofStep("3.75", "the bracket of (3.66), expanded",
                           I + 0.25 * (B @ e1 @ Ki @ B.mT - C @ m1 @ Ki @ C.mT) - (B @ Ki @ B.mT + C @ Ki @ C.mT), bracket,
                           I + 0.25 * (B @ e2 @ Ki @ B.mT - C @ m2 @ Ki @ C.mT) - 0.25 * (B @ Ki @ B.mT - C @ Ki @ C.mT)))
    steps.append(ProofStep("3.76", "the bracket of (3.66), collected",
                           I + 0.25 * (B @ (e1 - I) @ Ki @ B.mT - C @ (m1 - I) @ Ki @ C.mT), bracket,
                           I + 0.25 * (B @ (e2 - I) @ Ki @ B.mT - C @ (m2 - I) @ Ki @ C.mT)))
    return steps


# ---------------------------------------------------------------------------------------------------------------
# The product W2 W1 on its own
# ---------------------------------------------------------------------------------------------------------------


def product_velocity(W: torch.Tensor, sigma_yx: torch.Tensor, lam, tau: float = 1.0,
                     hidden_dim: int | None = None) -> torch.Tensor:
    r"""Return $\dot W$ for the network function $W = W_2W_1$ of $\lambda$-balanced weights, in terms of $W$ alone.

    A closed ODE derived in this book (not in the thesis). From $W^\top W = K_1^2 + \lambda K_1$ with
    $K_1 = W_1^\top W_1$ and $WW^\top = K_2^2 - \lambda K_2$ with $K_2 = W_2W_2^\top$ (balance),
    $K_1 = \sqrt{W^\top W + \lambda^2/4} - \lambda/2$ and $K_2 = \sqrt{WW^\top + \lambda^2/4} + \lambda/2$ wherever
    these roots are the right branch; $\tau\dot W = (\Sigma - W)K_1 + K_2(\Sigma - W)$ then gives

    $$\tau \dot W = (\Sigma - W)\sqrt{W^\top W + \tfrac{\lambda^2}{4}I} + \sqrt{WW^\top + \tfrac{\lambda^2}{4}I}\,
      (\Sigma - W) - 2\mu^+\big(\Pi_{\rm out}\Sigma\,[N_o > N_i] + \Sigma\Pi_{\rm in}\,[N_i > N_o]\big),$$

    with $\mu^+ = \max(0, \operatorname{sgn}(N_o - N_i)\lambda/2)$ and $\Pi_{\rm out} = I - WW^+$, $\Pi_{\rm in} =
    I - W^+W$ the projectors onto the null spaces of $W^\top$ and $W$. In equal dimensions the last term vanishes
    and $\dot W$ depends on $\lambda$ only through $\lambda^2$. Valid for $N_h = \min(N_i, N_o)$ and $W$ of rank
    $N_h$; with a wider hidden layer $W$ does not determine $K_1$, $K_2$ (no closed ODE), so ``hidden_dim`` must be
    $\min(N_i, N_o)$ (the default).

    ``W``: ``(..., N_o, N_i)``; ``sigma_yx``: ``(N_o, N_i)`` or broadcastable; ``lam``: $\lambda$; returns
    ``(..., N_o, N_i)``.
    """
    W = as_float_tensor(W, "W", dtype=F64)
    S = _check_sigma(sigma_yx).to(W)
    lam = check_real(lam, "lam")
    tau = _positive(tau, "tau")
    n_out, n_in = W.shape[-2:]
    k = min(n_in, n_out)
    if hidden_dim is not None and check_positive_int(hidden_dim, "hidden_dim") != k:
        raise ValueError(f"hidden_dim: the product obeys a closed ODE only for N_h = min(N_i, N_o) = {k}, got {hidden_dim}")
    E = S - W
    quarter = lam**2 / 4
    v = E @ _sym_sqrt(W.mT @ W, quarter) + _sym_sqrt(W @ W.mT, quarter) @ E
    mu_plus = max(0.0, math.copysign(1.0, n_out - n_in) * lam / 2) if n_out != n_in else 0.0
    if mu_plus > 0:
        pinv = torch.linalg.pinv(W)
        if n_out > n_in:
            v = v - 2 * mu_plus * (torch.eye(n_out, dtype=F64, device=W.device) - W @ pinv) @ S
        else:
            v = v - 2 * mu_plus * S @ (torch.eye(n_in, dtype=F64, device=W.device) - pinv @ W)
    return v / tau


def integrate_product(W0: torch.Tensor, X, Y, lam, t, tau: float = 1.0, rtol: float = 1e-12, atol: float = 1e-12,
                      method: str = "DOP853", hidden_dim: int | None = None) -> torch.Tensor:
    r"""Integrate the closed product ODE of :func:`product_velocity` from $W(0)$ with ``scipy.integrate.solve_ivp``.

    A third, independent check of :func:`qqt` (and of :func:`linear_lens.gradient_flow.integrate`): it never forms
    the weights. ``W0``: $W_2(0)W_1(0)$ ``(N_o, N_i)``; ``X``, ``Y``: the task (whitened); ``lam``: $\lambda$ of the
    weights; ``t``: ``(T,)`` non-decreasing times $\ge 0$. Returns ``(T, N_o, N_i)`` float64.
    """
    W0 = as_float_tensor(W0, "W0", dtype=F64)
    if W0.ndim != 2:
        raise ValueError(f"W0: expected a single (N_o, N_i) matrix, got shape {tuple(W0.shape)}")
    S = _sigma_of(X, Y).to(W0)
    if S.shape != W0.shape:
        raise ValueError(f"W0: expected shape {tuple(S.shape)} (N_o, N_i) of the task, got {tuple(W0.shape)}")
    times = as_float_tensor(t, "t", dtype=F64).reshape(-1).cpu().numpy()
    if times.size == 0 or times.min() < 0 or np.any(np.diff(times) < 0):
        raise ValueError("t: times must be non-negative and non-decreasing")
    lam = check_real(lam, "lam")
    shape = tuple(W0.shape)

    def rhs(_, y):
        Wt = torch.from_numpy(y.reshape(shape))
        return product_velocity(Wt, S.cpu(), lam, tau, hidden_dim).numpy().ravel()

    y0 = W0.detach().cpu().numpy().ravel()
    if times[-1] == 0:
        return W0.expand(len(times), *shape).clone()
    sol = solve_ivp(rhs, (0.0, float(times[-1])), y0, method=method, t_eval=times, rtol=rtol, atol=atol)
    if not sol.success:
        raise ValueError(f"t: the ODE solver failed before t = {times[-1]}: {sol.message}")
    return torch.as_tensor(sol.y.T.reshape(len(times), *shape), dtype=F64).to(W0.device)


def product_loss(W: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    r"""Return $\lVert WX - Y\rVert_F^2/(2P)$ for network functions $W$ ``(..., N_o, N_i)`` (eq. 2.3 of Anguita, 2024)."""
    W = as_float_tensor(W, "W")
    X = as_float_tensor(X, "X").to(W)
    Y = as_float_tensor(Y, "Y").to(W)
    return (W @ X - Y).pow(2).sum((-2, -1)) / (2 * X.shape[1])


# ---------------------------------------------------------------------------------------------------------------
# Gradient descent against the exact flow (Figs. 3.4-3.6)
# ---------------------------------------------------------------------------------------------------------------


def descent_deviation(n: int, lams, lrs, trials: int, steps: int = 200, sigma: float = 1.0,
                      n_samples: int | None = None, generator: torch.Generator | None = None,
                      chunk: int = 50) -> dict[str, torch.Tensor]:
    r"""The accuracy experiment of Section 3.3 (Figs. 3.4-3.6 of Anguita, 2024): gradient descent against the exact flow.

    For each of ``trials`` trials, draw a whitened task with $N_i = N_o = n$ and $P = 2n$ samples
    (:func:`linear_lens.tasks.random_regression_task`) and, for each configuration $(\lambda_c, \eta_c)$, $\lambda_c$-
    balanced weights of width $n$ by Algorithm 1 (:func:`linear_lens.balanced.lambda_balanced_init`, standard deviation
    ``sigma``; the same Gaussian draw for every configuration of a trial). Train by full-batch gradient descent for
    ``steps`` steps and record the loss $L_k$ before each step, as the authors' code does; evaluate the exact loss
    $L(t_k)$ at $t_k = k\eta_c$ (:func:`qqt_sigma`, $\tau = 1$). The *average deviation* of a trial is
    $\frac{1}{K}\sum_k (L(t_k) - L_k)/L_k$ (signed, as in the authors' ``loss_difference``); its absolute version
    $\frac1K\sum_k |L(t_k) - L_k|/L_k$ is returned too.

    ``lams``, ``lrs``: equal-length sequences of configurations (use a repeated value to vary one of them);
    ``chunk``: time steps per batch of the exact solution (memory). Gradient descent runs for all trials and
    configurations as one batch. Returns a dict with ``deviation`` and ``abs_deviation`` ``(C, trials)``,
    ``lams`` and ``lrs`` ``(C,)``, ``top_rate`` ``(C, trials)``: the largest eigenvalue $\kappa_{\max}$ of $F$, the
    fastest rate of the flow near its end, and ``weight_scale`` ``(C, trials)``: $\lVert W_1(0)\rVert_2^2 +
    \lVert W_2(0)\rVert_2^2$, the scale of the loss's Hessian at the start, which sets the error of one step.
    """
    from linear_lens import balanced, tasks

    n = check_positive_int(n, "n")
    trials = check_positive_int(trials, "trials")
    steps = check_positive_int(steps, "steps")
    chunk = check_positive_int(chunk, "chunk")
    lams = [check_real(v, "lams") for v in lams]
    lrs = [_positive(v, "lrs") for v in lrs]
    if len(lams) != len(lrs) or not lams:
        raise ValueError(f"lams, lrs: expected two non-empty sequences of equal length, got {len(lams)} and {len(lrs)}")
    n_samples = 2 * n if n_samples is None else check_positive_int(n_samples, "n_samples")
    seeds = torch.randint(0, 2**62, (trials,), generator=generator).tolist()
    sig, syy, W1s, W2s = [], [], [], []
    for seed in seeds:                                      # drawing only; the computation below is batched
        g = torch.Generator().manual_seed(int(seed))
        X, Y = tasks.random_regression_task(n, n, n_samples, generator=g)
        sig.append(Y @ X.T / n_samples)
        syy.append((Y * Y).sum() / n_samples)
        # Algorithm 1 draws Gaussians, keeps the product's SVD and a Haar R; with one draw for every lambda it is
        # the same product factored for each lambda (balanced.balanced_factors)
        W1_0, W2_0 = balanced.lambda_balanced_init(0.0, n, n, n, sigma, g)
        U, _, _ = torch.linalg.svd(W2_0 @ W1_0)
        R = W2_0.T @ U / torch.linalg.svdvals(W2_0)[None, :]            # W2_0 = U S^(1/2) R^T at lambda = 0
        pairs = [balanced.balanced_factors(W2_0 @ W1_0, lam, n, R=R) for lam in lams]
        W1s.append(torch.stack([p[0] for p in pairs]))
        W2s.append(torch.stack([p[1] for p in pairs]))
    S = torch.stack(sig)[None]                               # (1, trials, n, n)
    syy = torch.stack(syy)[None]                             # (1, trials)
    W1 = torch.stack(W1s, dim=1)                             # (C, trials, n, n)
    W2 = torch.stack(W2s, dim=1)
    losses = torch.as_tensor(_descent_losses(W1.numpy(), W2.numpy(), S.numpy(), syy.numpy(), np.asarray(lrs), steps))
    # the exact flow at t_k = k eta
    exact = torch.empty_like(losses)
    form = _stable_form(W1, W2, S, 1e-8, 1e-10)
    k_all = torch.arange(steps, dtype=F64)
    for start in range(0, steps, chunk):
        ks = k_all[start:start + chunk]
        times = (ks[:, None, None] * torch.tensor(lrs, dtype=F64)[None, :, None]).expand(-1, -1, trials)
        G = _stable_factor(form, times, square_root=False)
        with single_thread():
            Wp = G[..., n:, :] @ G[..., :n, :].mT
        exact[start:start + chunk] = 0.5 * (Wp.pow(2).sum((-2, -1)) - 2 * (Wp * S).sum((-2, -1)) + syy)
    rel = (exact - losses) / losses
    basis = riccati_eigenbasis(S[0], torch.tensor(lams, dtype=F64)[:, None])
    scale = torch.linalg.matrix_norm(W1, 2) ** 2 + torch.linalg.matrix_norm(W2, 2) ** 2
    return {
        "deviation": rel.mean(0),
        "abs_deviation": rel.abs().mean(0),
        "lams": torch.tensor(lams, dtype=F64),
        "lrs": torch.tensor(lrs, dtype=F64),
        "top_rate": basis.kappa.amax(-1),
        "weight_scale": scale,
    }


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


def _descent_losses(A: np.ndarray, B: np.ndarray, S: np.ndarray, syy: np.ndarray, lrs: np.ndarray,
                    steps: int) -> np.ndarray:
    """Full-batch gradient descent on whitened tasks, batched over (configuration, trial); the loss before each step.

    NumPy rather than torch: its stacked matmul of many small matrices is several times faster on a CPU.
    """
    eta = lrs[:, None, None, None]
    losses = np.empty((steps,) + A.shape[:-2])
    A, B = A.copy(), B.copy()
    for step in range(steps):
        W = B @ A
        losses[step] = 0.5 * ((W * W).sum((-2, -1)) - 2 * (W * S).sum((-2, -1)) + syy)
        err = S - W
        A, B = A + eta * (np.swapaxes(B, -1, -2) @ err), B + eta * (err @ np.swapaxes(A, -1, -2))
    return losses


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


def _prepare_reference(t, W1, W2, X, Y, tau):
    """Checks shared by the reference forms: balance, whitening, shapes; returns float64 tensors and lambda."""
    W1, W2 = _check_pair(W1, W2)
    W1, W2 = W1.to(F64), W2.to(F64)
    X = as_float_tensor(X, "X", dtype=F64).to(W1.device)
    Y = as_float_tensor(Y, "Y", dtype=F64).to(W1.device)
    S = _sigma_of(X, Y)
    if S.shape != (W2.shape[-2], W1.shape[-1]):
        raise ValueError(f"X, Y: the task has shape (N_o, N_i) = {tuple(S.shape)}, the weights "
                         f"({W2.shape[-2]}, {W1.shape[-1]})")
    _check_whitened(X, 1e-8)
    tau = _positive(tau, "tau")
    lam, err = balance_coefficient(W1, W2)
    if float(err.max()) > 1e-8:
        raise ValueError(f"W1, W2: the weights are not lambda-balanced (relative balance error {float(err.max()):.2e})")
    times = as_float_tensor(t, "t", dtype=F64).to(W1.device)
    scalar = times.ndim == 0
    times = times.reshape(-1)
    if bool((times < 0).any()):
        raise ValueError("t: times must be non-negative")
    return W1, W2, S, lam, times, scalar


def _sym_sqrt(A: torch.Tensor, shift: float) -> torch.Tensor:
    """sqrt(A + shift I) for symmetric positive semi-definite A (eigenvalues clamped at 0)."""
    ev, vec = torch.linalg.eigh(A)
    return (vec * torch.sqrt(ev.clamp(min=0) + shift)[..., None, :]) @ vec.mT
