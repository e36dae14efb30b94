r"""The reference forms of the exact solution that :func:`linear_lens.riccati.qqt` corrects, and the proof it checks.

Anguita (2024), Theorems 2.2.4, 2.2.5 and 3.3.1. Notation as in :mod:`linear_lens.riccati`: $Q = [W_1^\top; W_2]$,
$F = \begin{bmatrix} -\tfrac{\lambda}{2} I & \Sigma^{yx\top} \\ \Sigma^{yx} & \tfrac{\lambda}{2} I\end{bmatrix}$,
task SVD $\Sigma^{yx} = \tilde U\tilde S\tilde V^\top$, product SVD $W_2W_1 = USV^\top$.

- :func:`fukumizu_qqt`: Fukumizu's solution (Theorem 2.2.4) evaluated literally with $e^{Ft/\tau}$ and $F^{-1}$; kept to
  show where it overflows and where $F$ is singular.
- :func:`zero_balanced_b`, :func:`zero_balanced_qqt`: Braun et al.'s $B$, $C$ and the zero-balanced solution
  (Theorem 2.2.5), as printed and corrected (errata E11.10); an SVD-based parametrisation independent of the
  eigenbasis of :func:`linear_lens.riccati.qqt`.
- :func:`thesis_bc`, :func:`thesis_qqt`: Theorem 3.3.1(3) as printed (no inverse) and corrected (errata E11.7, E11.9).
- :func:`proof_steps`: every displayed equation of the proof of Theorem 3.3.1, evaluated as printed, against the
  quantity it claims to equal, and corrected where it is wrong (:class:`ProofStep`).

Every form here takes single networks (or batches where stated), whitened inputs and balanced weights, and refuses
other input with a ``ValueError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from linear_lens._checks import as_float_tensor, check_real
from linear_lens.riccati import (
    _check_pair,
    _check_whitened,
    _positive,
    _sigma_of,
    balance_coefficient,
    riccati_eigenbasis,
    riccati_matrix,
)

__all__ = [
    "ProofStep",
    "fukumizu_qqt",
    "zero_balanced_b",
    "zero_balanced_qqt",
    "thesis_bc",
    "thesis_qqt",
    "proof_steps",
]

F64 = torch.float64


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
# The reference forms
# ---------------------------------------------------------------------------------------------------------------


def fukumizu_qqt(t, W1, W2, X, Y, tau: float = 1.0) -> torch.Tensor:
    r"""Evaluate Fukumizu's solution (Theorem 2.2.4, eq. 3.43 of Anguita, 2024) literally, with $e^{Ft/\tau}$ and $F^{-1}$.

    $$QQ^\top(t) = e^{F\frac t\tau} Q_0 \Big[I + \tfrac12 Q_0^\top\big(e^{F\frac t\tau}F^{-1}e^{F\frac t\tau}
      - F^{-1}\big)Q_0\Big]^{-1} Q_0^\top e^{F\frac t\tau}.$$

    Valid for any $Q_0$ (also rank-deficient, also when $Y_+$ is singular) as long as $F$ is invertible; it needs
    balanced weights and whitened inputs (checked). A reference kept to show where it fails: once
    $e^{\kappa_{\max} t/\tau}$ overflows (about $\kappa_{\max}t/\tau > 709$ in float64) the result is not finite, and
    that is part of the evidence. Raises ``ValueError`` if $F$ is singular ($\lambda = 0$ with $N_i \ne N_o$, or a
    rank-deficient task at $\lambda = 0$). Arguments as in :func:`linear_lens.riccati.qqt`.
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
    if S.shape != (W2.shape[-2], W1.shape[-1]):
        raise ValueError(f"X, Y: the task has shape (N_o, N_i) = {tuple(S.shape)}, the weights "
                         f"({W2.shape[-2]}, {W1.shape[-1]})")
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
    E11.10). An independent parametrisation of the $\lambda = 0$ case of :func:`linear_lens.riccati.qqt` (SVD-based rather than
    eigenbasis-based). Requires balance at $\lambda = 0$, full-rank $W_2W_1$ and $\Sigma^{yx}$, and non-singular $B$
    (raises ``ValueError`` otherwise). Arguments as in :func:`linear_lens.riccati.qqt`; single networks only. ``printed=True`` evaluates
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
    \lambda)/2)^{1/2}$, $X, A$ from :func:`linear_lens.riccati.riccati_eigenbasis`. (The proof's eq. (3.60) prints $\tilde U^\top\tilde U$
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
    too when $B$ is invertible). Arguments as in :func:`linear_lens.riccati.qqt`; single networks.
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
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


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
