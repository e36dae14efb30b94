r"""The semantic learning task of Anguita (2024), Section 4.3: representations, speed and task specificity against λ.

The task (:func:`linear_lens.tasks.semantic_hierarchy`) presents eight items as one-hot inputs, $X = I_8$, so its
inputs are *isotropic*, $\Sigma^{xx} = cI$ with $c = 1/P$, but not whitened. For isotropic inputs the gradient flow
$\tau\dot W_1 = W_2^\top(\Sigma^{yx} - W_2W_1\Sigma^{xx})$, $\tau\dot W_2 = (\Sigma^{yx} - W_2W_1\Sigma^{xx})W_1^\top$
is the whitened flow of the book's exact solution with

$$\hat\Sigma = \Sigma^{yx}/c, \qquad \hat\tau = \tau/c$$

(:func:`isotropic_equivalent`), so :func:`linear_lens.riccati.qqt_sigma` applies after this change of scale.

At convergence a $\lambda$-balanced network of equal dimensions has the representations of Theorem 4.1.2(1),
$W_1^\top W_1 = \tilde V\,\tfrac12(\sqrt{\lambda^2 + 4\hat S^2} - \lambda)\,\tilde V^\top$ and
$W_2W_2^\top = \tilde U\,\tfrac12(\sqrt{\lambda^2 + 4\hat S^2} + \lambda)\,\tilde U^\top$
(:func:`converged_representations`). The thesis scores how "task specific" a representation is by its cosine
similarity with the task's structure (eqs. 4.33-4.34, :func:`task_specific_score`). The remaining functions serve
Figs. 4.2-4.4: the initialisations of Fig. 4.2 (:func:`initialisations`), batched gradient descent that records the
loss at every step (:func:`descent`), steps to a loss threshold for gradient descent and for the exact flow
(:func:`first_below`, :func:`exact_first_below`), the asymptotic rate of the loss (:func:`asymptotic_loss_rate`), and
the two laws fitted to Fig. 4.4 (:func:`fit_convergence_law`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from scipy.optimize import curve_fit

from linear_lens import balanced, riccati
from linear_lens.sampling import haar_orthogonal
from linear_lens._checks import (
    as_float_tensor, as_generator, check_positive_int, check_positive_real, check_real, check_sequence,
)
from linear_lens.progress import progress

__all__ = [
    "isotropic_equivalent",
    "converged_representations",
    "task_structure",
    "cosine_similarity",
    "task_specific_score",
    "printed_output_score",
    "initialisations",
    "orient",
    "Descent",
    "descent",
    "first_below",
    "exact_loss",
    "exact_first_below",
    "asymptotic_loss_rate",
    "ConvergenceFit",
    "fit_convergence_law",
    "log_linear_fit",
]

F64 = torch.float64


def isotropic_equivalent(X, Y, tol: float = 1e-10) -> tuple[torch.Tensor, float]:
    r"""Return $(\hat\Sigma, c)$ with $\hat\Sigma = \Sigma^{yx}/c$ for a task whose inputs are isotropic, $\Sigma^{xx} = cI$.

    The gradient flow on $(X, Y)$ with time constant $\tau$ equals the whitened flow (eqs. 2.11-2.12 with
    $\Sigma^{xx} = I$) on $\hat\Sigma$ with time constant $\tau/c$: factor $c$ out of
    $\Sigma^{yx} - W_2W_1\Sigma^{xx} = c(\hat\Sigma - W_2W_1)$. Gradient descent with learning rate $\eta$, step $k$
    at time $t = k\eta$ and $\tau = 1$, is therefore compared with :func:`linear_lens.riccati.qqt_sigma` at
    $\hat\tau = 1/c$. ``X``: ``(N_i, P)``; ``Y``: ``(N_o, P)``; ``tol``: largest accepted
    $\max|\Sigma^{xx} - cI| / c$. Raises ``ValueError`` if the inputs are not isotropic.
    """
    X = as_float_tensor(X, "X", dtype=F64)
    Y = as_float_tensor(Y, "Y", dtype=F64).to(X.device)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"X, Y: expected shapes (N_i, P) and (N_o, P) with the same P, got {tuple(X.shape)} and "
                         f"{tuple(Y.shape)}")
    tol = check_positive_real(tol, "tol")
    P = X.shape[1]
    sxx = X @ X.T / P
    c = float(sxx.diagonal().mean())
    if c <= 0:
        raise ValueError("X: the inputs are zero")
    dev = float((sxx - c * torch.eye(X.shape[0], dtype=F64, device=X.device)).abs().max()) / c
    if dev > tol:
        raise ValueError(f"X: the inputs are not isotropic (X X^T / P = c I): relative deviation {dev:.2e} > tol = "
                         f"{tol:.1e}")
    return Y @ X.T / P / c, c


def converged_representations(sigma_yx, lam) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $W_1^\top W_1$ and $W_2W_2^\top$ at convergence for $\lambda$-balanced weights, $N_i = N_o$, whitened inputs.

    Theorem 4.1.2(1) of Anguita (2024): with $\Sigma^{yx} = \tilde U\tilde S\tilde V^\top$,
    $W_1^\top W_1 = \tilde V\,g_1\,\tilde V^\top$, $W_2W_2^\top = \tilde U\,g_2\,\tilde U^\top$ with
    $g_{1,2} = \tfrac12(\sqrt{\lambda^2 + 4\tilde s^2} \mp \lambda)$, computed without cancellation
    ($g_1 = 2\tilde s^2/(\sqrt{\lambda^2 + 4\tilde s^2} + \lambda)$ for $\lambda \ge 0$). Equivalently
    $W_1^\top W_1 = (\Sigma^{yx\top}\Sigma^{yx} + \tfrac{\lambda^2}{4})^{1/2} - \tfrac\lambda2$, which does not depend
    on the choice of singular vectors when singular values repeat. Whatever the initial weights, this is where the flow
    ends when it reaches $W_2W_1 = \Sigma^{yx}$ (the balance is conserved).

    ``sigma_yx``: ``(N, N)``; ``lam``: a number or a tensor of shape ``(L,)``. Returns two tensors
    ``(..., N, N)`` (``...`` the shape of ``lam``).
    """
    S = as_float_tensor(sigma_yx, "sigma_yx", dtype=F64)
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"sigma_yx: expected a square (N, N) matrix (equal input and output dimensions), got "
                         f"{tuple(S.shape)}")
    lam_t = as_float_tensor(lam, "lam", dtype=F64).to(S.device)
    U, s, Vh = torch.linalg.svd(S)
    L = lam_t[..., None]
    root = torch.sqrt(L**2 + 4 * s**2)
    big = (root + L.abs()) / 2
    small = torch.where(big > 0, s**2 / torch.where(big > 0, big, torch.ones_like(big)), torch.zeros_like(big))
    g1 = torch.where(L >= 0, small, big)
    g2 = torch.where(L >= 0, big, small)
    V = Vh.mT
    return (V * g1[..., None, :]) @ V.mT, (U * g2[..., None, :]) @ U.mT


def task_structure(sigma_yx, side: str, power: int) -> torch.Tensor:
    r"""Return the task's structure matrix on one side: $\tilde V\tilde S^p\tilde V^\top$ (input) or $\tilde U\tilde S^p\tilde U^\top$.

    Computed basis-free as $(\Sigma^{yx\top}\Sigma^{yx})^{p/2}$ and $(\Sigma^{yx}\Sigma^{yx\top})^{p/2}$, so repeated
    singular values (the semantic task has three distinct values) do not matter. ``side``: ``"input"`` or
    ``"output"``; ``power``: 1 or 2. Returns ``(N_i, N_i)`` or ``(N_o, N_o)``.
    """
    S = as_float_tensor(sigma_yx, "sigma_yx", dtype=F64)
    if S.ndim != 2:
        raise ValueError(f"sigma_yx: expected a matrix (N_o, N_i), got shape {tuple(S.shape)}")
    side = _check_side(side)
    if power not in (1, 2):
        raise ValueError(f"power: expected 1 or 2, got {power!r}")
    M = S.mT @ S if side == "input" else S @ S.mT
    if power == 2:
        return M
    ev, vec = torch.linalg.eigh(M)
    return (vec * ev.clamp(min=0).sqrt()[None, :]) @ vec.mT


def cosine_similarity(A, B) -> torch.Tensor:
    r"""Return $\langle A, B\rangle_F / (\lVert A\rVert_F \lVert B\rVert_F)$, the cosine similarity of two matrices.

    The thesis's $f(A, B)$ of eqs. (4.33)-(4.34) (its code flattens both matrices and takes the cosine).
    ``A``, ``B``: ``(..., m, n)``, broadcast. Returns ``(...)``; raises ``ValueError`` if a matrix is zero.
    """
    A = as_float_tensor(A, "A")
    B = as_float_tensor(B, "B").to(A)
    if A.ndim < 2 or B.ndim < 2 or A.shape[-2:] != B.shape[-2:]:
        raise ValueError(f"A, B: expected matrices of the same shape, got {tuple(A.shape)} and {tuple(B.shape)}")
    na, nb = torch.linalg.matrix_norm(A), torch.linalg.matrix_norm(B)
    if bool((na == 0).any()) or bool((nb == 0).any()):
        raise ValueError("A, B: the cosine similarity of a zero matrix is undefined")
    return (A * B).sum((-2, -1)) / (na * nb)


def task_specific_score(rep, sigma_yx, side: str) -> torch.Tensor:
    r"""Return the task specific score of a representation: $\max_{p \in \{1, 2\}} f(K, \tilde V\tilde S^p\tilde V^\top)$.

    Eq. (4.33) of Anguita (2024) for the input representation $K = W_1^\top W_1$ (``side="input"``), and eq. (4.34),
    corrected, for the output representation $K = W_2W_2^\top$ (``side="output"``) against $\tilde U\tilde S^p\tilde
    U^\top$: the printed (4.34) has $W_2^\top W_2$ in its second term (errata E15.5; :func:`printed_output_score`).
    $f$ is :func:`cosine_similarity`, so the score ignores the scale of $K$ and equals 1 exactly when $K$ is
    proportional to $\tilde V\tilde S\tilde V^\top$ or to $\tilde V\tilde S^2\tilde V^\top$.

    ``rep``: ``(..., N, N)``; ``sigma_yx``: ``(N_o, N_i)``. Returns ``(...)``.
    """
    K = as_float_tensor(rep, "rep", dtype=F64)
    side = _check_side(side)
    T1, T2 = (task_structure(sigma_yx, side, p).to(K.device) for p in (1, 2))
    if K.shape[-2:] != T1.shape:
        raise ValueError(f"rep: expected (..., {T1.shape[0]}, {T1.shape[1]}) for the {side} side, got {tuple(K.shape)}")
    return torch.maximum(cosine_similarity(K, T1), cosine_similarity(K, T2))


def printed_output_score(W2, sigma_yx) -> torch.Tensor:
    r"""Evaluate eq. (4.34) of Anguita (2024) as printed: $\max(f(W_2W_2^\top, \tilde U\tilde S\tilde U^\top),
    f(W_2^\top W_2, \tilde U\tilde S^2\tilde U^\top))$.

    The second term compares the $N_h \times N_h$ matrix $W_2^\top W_2 = R S_2^\top S_2 R^\top$, which depends on the
    hidden-layer rotation $R$, with an $N_o \times N_o$ matrix of the task: it is defined only when $N_h = N_o$ and
    is then not a function of the representation $W_2W_2^\top$ (errata E15.5). ``W2``: ``(..., N_o, N_h)``;
    ``sigma_yx``: ``(N_o, N_i)``. Returns ``(...)``.
    """
    W2 = as_float_tensor(W2, "W2", dtype=F64)
    T1, T2 = (task_structure(sigma_yx, "output", p).to(W2.device) for p in (1, 2))
    if W2.ndim < 2 or W2.shape[-2] != T1.shape[0] or W2.shape[-1] != T1.shape[0]:
        raise ValueError(f"W2: eq. (4.34) as printed needs N_h = N_o = {T1.shape[0]}, got shape {tuple(W2.shape)}")
    return torch.maximum(cosine_similarity(W2 @ W2.mT, T1), cosine_similarity(W2.mT @ W2, T2))


def initialisations(lams, n: int = 8, sigma_small: float = 0.001, sigma_large: float = 0.42,
                    zero_scale: float = 1.15**2, generator: torch.Generator | None = None
                    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    r"""Draw the initial weights of Fig. 4.2 of Anguita (2024) for an $n$-$n$-$n$ network.

    - ``"Gaussian small"``, ``"Gaussian large"``: i.i.d. $\mathcal N(0, \sigma^2)$ entries with ``sigma_small``,
      ``sigma_large`` (0.001 and 0.42 in the thesis's ``illustrative_example.ipynb``);
    - ``"0-balanced"``: the product of two Gaussian matrices with ``sigma_large``, scaled by ``zero_scale`` (the
      code's singular values $1.15\sqrt{s}$ give $1.15^2$) and factored zero-balanced with a Haar-random hidden
      rotation (:func:`linear_lens.balanced.balanced_factors`);
    - ``"λ-balanced"`` for each $\lambda$ in ``lams`` (formatted ``f"{lam:g}-balanced"``): Algorithm 1 with
      $\sigma = 1$ (:func:`linear_lens.balanced.lambda_balanced_init`), as the code draws them.

    Returns a dict from these names to ``(W1, W2)``, each ``(n, n)`` float64, in that order.
    """

    n = check_positive_int(n, "n")
    sigma_small = check_positive_real(sigma_small, "sigma_small")
    sigma_large = check_positive_real(sigma_large, "sigma_large")
    zero_scale = check_positive_real(zero_scale, "zero_scale")
    lams = [check_real(v, "lams") for v in check_sequence(lams, "lams")]
    generator = as_generator(generator)
    out = {}
    for name, sigma in (("Gaussian small", sigma_small), ("Gaussian large", sigma_large)):
        W1 = sigma * torch.randn(n, n, generator=generator, dtype=F64)
        out[name] = (W1, sigma * torch.randn(n, n, generator=generator, dtype=F64))
    A = sigma_large * torch.randn(n, n, generator=generator, dtype=F64)
    B = sigma_large * torch.randn(n, n, generator=generator, dtype=F64)
    R = haar_orthogonal(n, generator=generator, dtype=F64)
    out["0-balanced"] = balanced.balanced_factors(zero_scale * (B @ A), 0.0, n, R)
    for lam in lams:
        out[f"{lam:g}-balanced"] = balanced.lambda_balanced_init(lam, n, n, n, 1.0, generator)
    return out


def orient(W1, W2, sigma_yx, sign: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $(W_1D, W_2)$ with $D = \mathrm{diag}(\pm1, 1, \dots, 1)$ chosen so that $\operatorname{sgn}(\det W_2W_1D
    \cdot \det\Sigma^{yx}) =$ ``sign``.

    Flipping one input column of $W_1$ keeps $W_1W_1^\top$, hence the balance $W_2^\top W_2 - W_1W_1^\top$, and maps a
    Gaussian draw to an equally likely one; it flips the sign of $\det W_2W_1$. A zero-balanced network of equal
    dimensions with the opposite orientation to the task's ($-1$) converges to a saddle under gradient flow
    (chapter 11, errata E11.11). ``W1``, ``W2``: ``(N, N)``; ``sigma_yx``: ``(N, N)``; ``sign``: $+1$ or $-1$.
    """
    W1 = as_float_tensor(W1, "W1", dtype=F64)
    W2 = as_float_tensor(W2, "W2", dtype=F64).to(W1.device)
    S = as_float_tensor(sigma_yx, "sigma_yx", dtype=F64).to(W1.device)
    n = S.shape[-1]
    if not (W1.shape == W2.shape == S.shape == (n, n)):
        raise ValueError(f"W1, W2, sigma_yx: orientation needs square (N, N) matrices, got {tuple(W1.shape)}, "
                         f"{tuple(W2.shape)}, {tuple(S.shape)}")
    if sign not in (1, -1):
        raise ValueError(f"sign: expected +1 or -1, got {sign!r}")
    current = float(torch.sign(torch.linalg.det(W2 @ W1) * torch.linalg.det(S)))
    if current == 0:
        raise ValueError("W1, W2: the product W2 W1 or the task is singular; its orientation is undefined")
    if current == sign:
        return W1, W2
    D = torch.ones(n, dtype=F64, device=W1.device)
    D[0] = -1.0
    return W1 * D[None, :], W2


class Descent(NamedTuple):
    r"""Full-batch gradient descent: ``loss`` ``(steps + 1, ...)`` before each step (and after the last),
    final weights ``W1`` ``(..., N_h, N_i)`` and ``W2`` ``(..., N_o, N_h)``."""

    loss: torch.Tensor
    W1: torch.Tensor
    W2: torch.Tensor


def descent(W1, W2, X, Y, lr, steps: int, show_progress: bool = True) -> Descent:
    r"""Run full-batch gradient descent on $\lVert W_2W_1X - Y\rVert_F^2/(2P)$, recording the loss at every step.

    The updates of :func:`linear_lens.gradient_flow.train` (eqs. 2.7-2.8 with the $1/P$ of the loss, errata E08.1),
    batched over the leading dimensions of the weights, with the loss computed from the residual $W_2W_1X - Y$
    (so that it stays accurate down to $10^{-30}$, where Fig. 4.3 ends), in NumPy (its stacked products of small
    matrices are faster on a CPU). ``lr``: $\eta > 0$, a number or an array broadcastable to the batch shape.
    Returns a :class:`Descent`.
    """
    A = as_float_tensor(W1, "W1", dtype=F64)
    B = as_float_tensor(W2, "W2", dtype=F64).to(A.device)
    X = as_float_tensor(X, "X", dtype=F64).to(A.device)
    Y = as_float_tensor(Y, "Y", dtype=F64).to(A.device)
    steps = check_positive_int(steps, "steps")
    if A.ndim < 2 or B.ndim < 2 or B.shape[-1] != A.shape[-2] or A.shape[-1] != X.shape[0] or B.shape[-2] != Y.shape[0]:
        raise ValueError(f"W1, W2, X, Y: shapes {tuple(A.shape)}, {tuple(B.shape)}, {tuple(X.shape)}, {tuple(Y.shape)} "
                         "do not chain as W2 W1 X ~ Y")
    batch = torch.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    eta = np.asarray(as_float_tensor(lr, "lr", dtype=F64).cpu().numpy())
    if bool((eta <= 0).any()):
        raise ValueError("lr: learning rates must be positive")
    try:
        eta = np.broadcast_to(eta, batch)[..., None, None]
    except ValueError as err:
        raise ValueError(f"lr: shape {eta.shape} does not broadcast to the batch shape {tuple(batch)}") from err
    P = X.shape[1]
    x, y = X.cpu().numpy(), Y.cpu().numpy()
    sxx, syx = x @ x.T / P, y @ x.T / P
    a = np.broadcast_to(A.cpu().numpy(), (*batch, *A.shape[-2:])).copy()
    b = np.broadcast_to(B.cpu().numpy(), (*batch, *B.shape[-2:])).copy()
    losses = np.empty((steps + 1, *batch))
    with np.errstate(over="ignore", invalid="ignore"):
        for k in progress(range(steps + 1), desc="gradient descent", disable=not show_progress or steps < 5000):
            W = b @ a
            losses[k] = np.square(W @ x - y).sum((-2, -1)) / (2 * P)
            if (k % 100 == 0 or k == steps) and not np.isfinite(losses[k]).all():
                raise ValueError(f"lr: gradient descent diverged by step {k}; use a smaller learning rate")
            if k == steps:
                break
            err = syx - W @ sxx
            a, b = a + eta * (np.swapaxes(b, -1, -2) @ err), b + eta * (err @ np.swapaxes(a, -1, -2))
    as_t = lambda v: torch.as_tensor(v, dtype=F64, device=A.device)  # noqa: E731
    return Descent(as_t(losses), as_t(a), as_t(b))


def first_below(losses, level: float) -> torch.Tensor:
    r"""Return the first index $k$ along axis 0 with ``losses[k] < level`` (NaN where the losses never get there).

    The convergence criterion of Fig. 4.4 (the thesis's code counts the steps until the mean squared error falls
    below $10^{-3}$). ``losses``: ``(K, ...)``. Returns a float tensor ``(...)``.
    """
    L = as_float_tensor(losses, "losses")
    level = check_positive_real(level, "level")
    if L.ndim < 1:
        raise ValueError("losses: expected at least one axis (the steps)")
    below = L < level
    first = below.to(torch.int64).argmax(0).to(F64)
    return torch.where(below.any(0), first, torch.full_like(first, math.nan))


def exact_loss(t, W1, W2, X, Y, tau: float = 1.0) -> torch.Tensor:
    r"""Return the loss $\lVert W_2W_1(t)X - Y\rVert_F^2/(2P)$ along the exact gradient flow, for isotropic inputs.

    With $(\hat\Sigma, c)$ from :func:`isotropic_equivalent`, $W(t) = W_2W_1(t)$ is the product block of
    :func:`linear_lens.riccati.qqt_sigma` at time constant $\tau/c$, and the loss is
    $\tfrac c2\lVert W(t) - \hat\Sigma\rVert_F^2 + L^*$ with $L^* = \lVert\hat\Sigma X - Y\rVert_F^2/(2P)$ the minimum,
    written so that small losses do not cancel. ``t``: ``(T,)`` or ``(T, ...)`` times; weights $\lambda$-balanced,
    ``(..., N_h, N_i)``, ``(..., N_o, N_h)``. Returns ``(T, ...)``.
    """

    S, c = isotropic_equivalent(X, Y)
    X = as_float_tensor(X, "X", dtype=F64).to(S.device)
    Y = as_float_tensor(Y, "Y", dtype=F64).to(S.device)
    tau = check_positive_real(tau, "tau")
    n_in = S.shape[1]
    G = riccati.qqt_sigma(t, W1, W2, S, tau / c, factor=True)
    W = G[..., n_in:, :] @ G[..., :n_in, :].mT
    floor = float((S @ X - Y).pow(2).sum()) / (2 * X.shape[1])
    return 0.5 * c * (W - S).pow(2).sum((-2, -1)) + floor


def exact_first_below(W1, W2, X, Y, level: float, t_max: float, tau: float = 1.0, iterations: int = 60
                      ) -> torch.Tensor:
    r"""Return the time $t^*$ at which the exact loss first falls below ``level``, for a batch of balanced networks.

    Along the gradient flow the loss never increases ($\dot L = -\lVert\nabla L\rVert^2$), so $t^*$ is the unique
    crossing and bisection on $[0, t_{\max}]$ (``iterations`` halvings, run for the whole batch at once) finds it.
    The exact loss is :func:`exact_loss`. Returns ``(...)`` times; NaN where $L(t_{\max}) \ge$ ``level``, and 0 where
    $L(0) <$ ``level``. Divide by the learning rate to compare with :func:`first_below` of gradient descent.
    """
    level = check_positive_real(level, "level")
    t_max = check_positive_real(t_max, "t_max")
    iterations = check_positive_int(iterations, "iterations")
    W1 = as_float_tensor(W1, "W1", dtype=F64)
    W2 = as_float_tensor(W2, "W2", dtype=F64).to(W1.device)
    batch = torch.broadcast_shapes(W1.shape[:-2], W2.shape[:-2])
    ends = exact_loss(torch.tensor([0.0, t_max], dtype=F64), W1, W2, X, Y, tau)
    lo = torch.zeros(batch, dtype=F64, device=W1.device)
    hi = torch.full(batch, t_max, dtype=F64, device=W1.device)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        below = exact_loss(mid[None], W1, W2, X, Y, tau)[0] < level
        hi = torch.where(below, mid, hi)
        lo = torch.where(below, lo, mid)
    out = torch.where(ends[0] < level, torch.zeros_like(hi), hi)
    return torch.where(ends[1] < level, out, torch.full_like(out, math.nan))


def asymptotic_loss_rate(sigma_yx, lam, tau: float = 1.0, lr: float | None = None) -> torch.Tensor:
    r"""Return the rate at which the loss of a $\lambda$-balanced network decays near convergence ($N_i = N_o$).

    Near $W = \Sigma^{yx}$ the error $E = \Sigma^{yx} - W$ obeys $\tau\dot E = -(W_2W_2^\top E + EW_1^\top W_1)$, whose
    modes $\tilde u_\alpha\tilde v_\beta^\top$ decay at $(\kappa_\alpha + \kappa_\beta)/\tau$ with $\kappa =
    \tfrac12\sqrt{\lambda^2 + 4\tilde s^2}$ (the eigenvalues of $F$, Theorem 3.3.1). The loss is quadratic in $E$, so
    $-\tfrac{d}{dt}\ln L \to 4\kappa_{\min}/\tau = 2\sqrt{\lambda^2 + 4\tilde s_{\min}^2}/\tau$, which tends to
    $2|\lambda|/\tau$ for large $|\lambda|$. With ``lr`` $= \eta$, returns instead the decay per step of gradient
    descent, $-2\ln(1 - 2\eta\kappa_{\min}/\tau)$ (each mode is multiplied by $1 - \eta(\kappa_\alpha +
    \kappa_\beta)/\tau$ per step). ``sigma_yx``: ``(N, N)``; ``lam``: a number or ``(L,)``. Returns ``(...)``.
    """
    S = as_float_tensor(sigma_yx, "sigma_yx", dtype=F64)
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"sigma_yx: expected a square matrix, got shape {tuple(S.shape)}")
    tau = check_positive_real(tau, "tau")
    lam_t = as_float_tensor(lam, "lam", dtype=F64).to(S.device)
    s_min = torch.linalg.svdvals(S).min()
    two_kappa = torch.sqrt(lam_t**2 + 4 * s_min**2)
    if lr is None:
        return 2 * two_kappa / tau
    factor = 1 - check_positive_real(lr, "lr") * two_kappa / tau
    if bool((factor <= 0).any()):
        raise ValueError("lr: eta (kappa_a + kappa_b) / tau >= 1, gradient descent overshoots the slowest mode")
    return -2 * torch.log(factor)


@dataclass(frozen=True)
class ConvergenceFit:
    r"""A law $n(\lambda)$ fitted to steps to convergence: ``law``, its parameters, and the root mean square residual
    on the fitted points. Call it with $\lambda$ values to evaluate the law."""

    law: str
    params: tuple[float, ...]
    rms: float

    def __call__(self, lams) -> np.ndarray:
        return _LAWS[self.law](np.abs(np.asarray(lams, dtype=float)), *self.params)


def fit_convergence_law(lams, steps, law: str, offset: float | None = None) -> ConvergenceFit:
    r"""Fit steps to convergence against $\lambda$ by least squares (``scipy.optimize.curve_fit``).

    - ``"exponential"``: $n = b\,e^{a|\lambda|}$, the thesis's fit of Fig. 4.4 (its code: ``b * exp(a * |x|)``);
    - ``"hyperbolic"``: $n = c/\sqrt{\lambda^2 + d}$, the law of the exact solution: the loss decays at
      $2\sqrt{\lambda^2 + 4\tilde s_{\min}^2}/\tau$ (:func:`asymptotic_loss_rate`), so the time to reach a threshold
      is about $\ln(L_0/\epsilon)\,\tau/(2\sqrt{\lambda^2 + 4\tilde s^2_{\min}})$. ``offset`` fixes $d$ (one
      parameter, $c$); by default $d$ is fitted too, so both laws have two parameters.

    ``lams``, ``steps``: equal-length sequences (NaN steps are dropped). Returns a :class:`ConvergenceFit`.
    """
    if law not in _LAWS:
        raise ValueError(f"law: expected one of {', '.join(_LAWS)}; got {law!r}")
    x = np.abs(np.asarray(as_float_tensor(lams, "lams").cpu(), dtype=float))
    y = np.asarray(torch.as_tensor(steps, dtype=F64).cpu(), dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"lams, steps: expected two 1-D sequences of the same length, got {x.shape} and {y.shape}")
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 3:
        raise ValueError("steps: need at least three finite values to fit a law")
    if law == "exponential":
        params, _ = curve_fit(_LAWS[law], x, y, p0=(-0.1, float(y.max())), maxfev=20000)
    elif offset is None:
        params, _ = curve_fit(_LAWS[law], x, y, p0=(float(y.mean() * x.mean()), 1.0), bounds=((0, 0), (np.inf, np.inf)),
                              maxfev=20000)
    else:
        offset = float(check_real(offset, "offset"))
        c, _ = curve_fit(lambda v, c: _LAWS[law](v, c, offset), x, y, p0=(float(y.mean() * x.mean()),), maxfev=20000)
        params = (float(c[0]), offset)
    params = tuple(float(p) for p in params)
    rms = float(np.sqrt(np.mean((y - _LAWS[law](x, *params)) ** 2)))
    return ConvergenceFit(law, params, rms)


def log_linear_fit(steps, losses) -> tuple[float, float]:
    r"""Fit $\ln L_k \approx \alpha - \rho k$ by least squares; return the decay rate $\rho$ and $R^2$ of the fit.

    ``steps``, ``losses``: 1-D, positive losses. A line in Fig. 4.3's log axis is $R^2 \approx 1$.
    """
    k = np.asarray(as_float_tensor(steps, "steps").cpu(), dtype=float)
    L = np.asarray(as_float_tensor(losses, "losses").cpu(), dtype=float)
    if k.ndim != 1 or k.shape != L.shape or k.size < 3:
        raise ValueError("steps, losses: expected two 1-D sequences of the same length, at least 3")
    if (L <= 0).any():
        raise ValueError("losses: must be positive to take logarithms")
    y = np.log(L)
    slope, intercept = np.polyfit(k, y, 1)
    ss_res = float(np.sum((y - (slope * k + intercept)) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return float(-slope), 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _check_side(side) -> str:
    if side not in ("input", "output"):
        raise ValueError(f"side: expected 'input' or 'output', got {side!r}")
    return side


def _exponential(x, a, b):
    return b * np.exp(a * x)


def _hyperbolic(x, c, d):
    return c / np.sqrt(x**2 + d)


_LAWS = {"exponential": _exponential, "hyperbolic": _hyperbolic}
