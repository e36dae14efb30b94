r"""The $\lambda$-balanced property of two-layer linear networks and the initialisations that produce it.

A two-layer linear network $Y = W_2 W_1 X$ has weights $W_1 \in \mathbb{R}^{N_h \times N_i}$ (``(hidden, in)``) and
$W_2 \in \mathbb{R}^{N_o \times N_h}$ (``(out, hidden)``). Its *balance computation* is the $N_h \times N_h$ matrix

$$B(W_1, W_2) = W_2^\top W_2 - W_1 W_1^\top,$$

and the weights are $\lambda$-balanced when $B = \lambda I_{N_h}$ (Definition 2.2.1 of Anguita, 2024).

Writing $W_2 = U S_2 R^\top$, $W_1 = R S_1 V^\top$ with $R$ orthogonal, $B = \lambda I$ holds iff
$S_2^\top S_2 - S_1 S_1^\top = \lambda I$. Since $W_2^\top W_2 = \lambda I + W_1 W_1^\top$, a positive $\lambda$ makes
$W_2^\top W_2$ invertible, so it needs $N_h \le N_o$; a negative $\lambda$ needs $N_h \le N_i$ likewise; $\lambda = 0$
is possible for every shape. These are the only constraints (Theorem 3.4.1 of Anguita (2024), corrected: see errata
E09.5-E09.6); :func:`lambda_balanced_init` builds weights for every admissible request, and
:func:`min_balance_residual` checks the constraints independently, by minimising $\lVert B - \lambda I\rVert_F$.

How far the standard random initialisations (LeCun, Glorot, He) are from $\lambda$-balanced (Theorem 3.1.1) is the
subject of :mod:`linear_lens.init_balance`.

Notation follows the thesis with the book's shapes: the thesis's layers $i, i+1, i+2$ have widths
$n_i = N_i$, $n_{i+1} = N_h$, $n_{i+2} = N_o$, and its $W_i, W_{i+1}$ are our $W_1, W_2$.
"""

from __future__ import annotations

import math

import torch

from linear_lens._checks import (
    as_float_tensor,
    as_generator,
    check_float_dtype,
    check_positive_int,
    check_positive_real,
    check_real,
    common_dtype,
)
from linear_lens.sampling import haar_orthogonal, randn
from linear_lens._threads import single_thread

__all__ = [
    "balance",
    "fitted_lambda",
    "feasible",
    "balanced_singular_values",
    "balanced_factors",
    "balanced_decomposition",
    "lambda_balanced_init",
    "balanced_second_layer",
    "align_with_task",
    "aligned_lambda_balanced_init",
    "algorithm1_accepts",
    "min_balance_residual",
    "min_balance_residuals",
]


def balance(W1: torch.Tensor, W2: torch.Tensor) -> torch.Tensor:
    r"""Return the balance computation $B = W_2^\top W_2 - W_1 W_1^\top$ (eq. 2.13 of Anguita, 2024).

    ``W1``: $W_1$ of shape ``(..., N_h, N_i)``; ``W2``: $W_2$ of shape ``(..., N_o, N_h)``; leading dimensions are
    broadcast. Returns $B$ of shape ``(..., N_h, N_h)``.
    """
    W1, W2 = _check_pair(W1, W2)
    return W2.mT @ W2 - W1 @ W1.mT


def fitted_lambda(W1: torch.Tensor, W2: torch.Tensor) -> torch.Tensor:
    r"""Return the least-squares balance coefficient $\lambda^* = \operatorname{Tr}(B) / N_h$.

    $\lambda^* = \arg\min_\lambda \lVert B - \lambda I \rVert_F^2 = \tfrac{1}{N_h}\operatorname{Tr}(W_2^\top W_2 -
    W_1 W_1^\top)$: Theorem 4.5.1 of Anguita (2024), corrected: see errata E09.8 (the theorem's statement drops the
    factor $1/N_h$ that its proof derives).

    ``W1``: ``(..., N_h, N_i)``, ``W2``: ``(..., N_o, N_h)``. Returns a tensor of shape ``(...)``.
    """
    B = balance(W1, W2)
    return B.diagonal(dim1=-2, dim2=-1).mean(-1)


def feasible(lam: float, in_dim: int, hidden_dim: int, out_dim: int) -> bool:
    r"""Return whether $\lambda$-balanced weights with these widths exist (Theorem 3.4.1, corrected: errata E09.5).

    True iff $\lambda = 0$, or $\lambda > 0$ and $N_h \le N_o$, or $\lambda < 0$ and $N_h \le N_i$.
    ``lam`` $=\lambda$, ``in_dim`` $=N_i$, ``hidden_dim`` $=N_h$, ``out_dim`` $=N_o$.
    """
    lam = check_real(lam, "lam")
    in_dim = check_positive_int(in_dim, "in_dim")
    hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
    out_dim = check_positive_int(out_dim, "out_dim")
    return _infeasibility(lam, in_dim, hidden_dim, out_dim) is None


def balanced_singular_values(
    S: torch.Tensor, lam: float, in_dim: int, hidden_dim: int, out_dim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return the rectangular diagonal factors $S_2$, $S_1$ of $\lambda$-balanced weights whose product has values $S$.

    With $k = \min(N_i, N_h, N_o)$ and $a = \sqrt{\lambda^2 + 4 S^2}$, the first $k$ diagonal entries are

    $$\hat S_2 = \Big(\tfrac{a + \lambda}{2}\Big)^{1/2}, \qquad \hat S_1 = \Big(\tfrac{a - \lambda}{2}\Big)^{1/2},$$

    so that $\hat S_2 \hat S_1 = S$ and $\hat S_2^2 - \hat S_1^2 = \lambda$; the remaining $N_h - k$ hidden
    directions get $\sqrt{\lambda}$ in $S_2$ if $\lambda > 0$ (needs $N_h \le N_o$) or $\sqrt{-\lambda}$ in $S_1$ if
    $\lambda < 0$ (needs $N_h \le N_i$), and zero otherwise. Then $S_2^\top S_2 - S_1 S_1^\top = \lambda I_{N_h}$ and
    $S_2 S_1$ carries $S$. Implements eq. (4.2) of Theorem 4.1.1 of Anguita (2024), corrected: see errata E09.7. The
    entries are computed without cancellation ($\hat S_1^2 = 2S^2/(a+\lambda)$ for $\lambda \ge 0$).

    ``S``: the $k$ singular values of $W_2 W_1$, shape ``(..., k)``, non-negative; ``lam`` $=\lambda$.
    Returns ``S2`` of shape ``(..., N_o, N_h)`` and ``S1`` of shape ``(..., N_h, N_i)``.
    Raises ``ValueError`` if the request is infeasible (see :func:`feasible`).
    """
    lam = check_real(lam, "lam")
    in_dim = check_positive_int(in_dim, "in_dim")
    hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
    out_dim = check_positive_int(out_dim, "out_dim")
    _raise_if_infeasible(lam, in_dim, hidden_dim, out_dim)
    S = as_float_tensor(S, "S")
    k = min(in_dim, hidden_dim, out_dim)
    if S.ndim < 1 or S.shape[-1] != k:
        raise ValueError(
            f"S: expected shape (..., {k}) with k = min(in_dim, hidden_dim, out_dim), got {tuple(S.shape)}"
        )
    if bool((S < 0).any()):
        raise ValueError("S: singular values must be non-negative")
    s2_sq, s1_sq = _split_squares(S, lam)
    batch = S.shape[:-1]
    S2 = S.new_zeros(*batch, out_dim, hidden_dim)
    S1 = S.new_zeros(*batch, hidden_dim, in_dim)
    idx = torch.arange(k, device=S.device)
    S2[..., idx, idx] = s2_sq.sqrt()
    S1[..., idx, idx] = s1_sq.sqrt()
    extra = torch.arange(k, hidden_dim, device=S.device)
    if lam > 0:
        S2[..., extra, extra] = math.sqrt(lam)
    elif lam < 0:
        S1[..., extra, extra] = math.sqrt(-lam)
    return S2, S1


def balanced_factors(product, lam: float, hidden_dim: int, R=None, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $\lambda$-balanced weights with a given product: $W_2 = U S_2 R^\top$, $W_1 = R S_1 V^\top$, $W_2 W_1 = M$.

    The construction half of Theorem 4.1.1 of Anguita (2024), corrected (errata E09.7): with the full SVD
    $M = U S V^\top$ and $S_2$, $S_1$ from :func:`balanced_singular_values`, $W_2^\top W_2 - W_1 W_1^\top =
    R (S_2^\top S_2 - S_1 S_1^\top) R^\top = \lambda I$ and $W_2 W_1 = U S_2 S_1 V^\top = M$. Every $\lambda$-balanced
    pair with product $M$ is of this form for some $R$ (the other half, :func:`balanced_decomposition`).

    ``product`` $= M$: ``(N_o, N_i)``; ``lam`` $= \lambda$; ``hidden_dim`` $= N_h$, at least the rank of $M$;
    ``R``: an orthogonal ``(N_h, N_h)`` matrix, or ``None`` for a Haar-random one drawn with ``generator``
    (``None``, a ``torch.Generator`` or an ``int`` seed). Returns ``W1`` ``(N_h, N_i)`` and ``W2`` ``(N_o, N_h)`` in the
    dtype of ``product`` (float64 for integers), on its device. Raises ``ValueError`` if no such weights exist
    (:func:`feasible`) or if $M$ has rank larger than $N_h$.
    """
    M = as_float_tensor(product, "product")
    if M.ndim != 2:
        raise ValueError(f"product: expected a matrix (N_o, N_i), got shape {tuple(M.shape)}")
    lam = check_real(lam, "lam")
    hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
    out_dim, in_dim = M.shape
    _raise_if_infeasible(lam, in_dim, hidden_dim, out_dim)
    U, S, Vh = torch.linalg.svd(M, full_matrices=True)
    k = min(in_dim, hidden_dim, out_dim)
    if S.shape[0] > k and bool(S[k] > 1e-12 * max(float(S[0]), 1e-300)):
        raise ValueError(f"product: has rank larger than hidden_dim = {hidden_dim} (singular value {float(S[k]):.3g}); "
                         "a product of N_h-wide factors has rank at most N_h")
    if R is None:
        R = haar_orthogonal(hidden_dim, generator=as_generator(generator), dtype=M.dtype, device=M.device)
    else:
        R = as_float_tensor(R, "R").to(dtype=M.dtype, device=M.device)
        if R.shape != (hidden_dim, hidden_dim):
            raise ValueError(f"R: expected shape ({hidden_dim}, {hidden_dim}), got {tuple(R.shape)}")
        dev = float((R.mT @ R - torch.eye(hidden_dim, dtype=M.dtype, device=M.device)).abs().max())
        tol = 0.01 * torch.finfo(M.dtype).eps ** 0.5  # 1.5e-10 in float64: R computed from data is orthogonal to ~1e-12
        if dev > tol:
            raise ValueError(f"R: must be orthogonal; max |R^T R - I| = {dev:.2e} > {tol:.1e}")
    S2, S1 = balanced_singular_values(S[:k], lam, in_dim, hidden_dim, out_dim)
    return R @ S1 @ Vh, U @ S2 @ R.mT


def balanced_decomposition(W1, W2, tol: float = 1e-9) -> dict[str, torch.Tensor]:
    r"""Write $\lambda$-balanced weights as $W_2 = U S_2 R^\top$, $W_1 = R S_1 V^\top$: the second half of Theorem 4.1.1.

    Theorem 4.1.1 of Anguita (2024) states that *every* $\lambda$-balanced pair has this form, with $U S V^\top$ an SVD
    of the product, $R$ orthogonal and $S_2$, $S_1$ given by eq. (4.2) (corrected, errata E09.7; see
    :func:`balanced_singular_values`). Proof, and the algorithm used here: $W_2^\top W_2 = \lambda I + W_1 W_1^\top$
    commutes with $W_1 W_1^\top$, so one orthogonal $R$ (eigenvectors of $W_1 W_1^\top$, eigenvalues $c_j^2$ in
    decreasing order) diagonalises both: $d_j^2 = c_j^2 + \lambda$. Then $V$ is the orthogonal polar factor of
    $W_1^\top R S_1$ and $U$ that of $W_2 R S_2^\top$ (the closest orthogonal matrices, which on the directions with
    $c_j > 0$, resp. $d_j > 0$, are $W_1^\top r_j / c_j$, resp. $W_2 r_j / d_j$), and $U (S_2 S_1) V^\top$ is an SVD of
    $W_2 W_1$ whose values $a_j = c_j d_j$ fix $c_j$, $d_j$ through eq. (4.2).

    ``W1``: ``(N_h, N_i)``; ``W2``: ``(N_o, N_h)``; ``tol``: relative tolerance of the balance check,
    $\lVert B - \lambda I\rVert_F \le \mathrm{tol}\,(\lVert W_1\rVert_F^2 + \lVert W_2\rVert_F^2)$ with
    $\lambda = \operatorname{Tr}(B)/N_h$. Returns a dict with ``U`` ``(N_o, N_o)``, ``S2`` ``(N_o, N_h)``, ``R``
    ``(N_h, N_h)``, ``S1`` ``(N_h, N_i)``, ``V`` ``(N_i, N_i)``, ``lam`` (0-d) and ``residual``, the relative
    reconstruction error $\max(\lVert W_2 - U S_2 R^\top\rVert_F, \lVert W_1 - R S_1 V^\top\rVert_F) /
    (\lVert W_1\rVert_F + \lVert W_2\rVert_F)$. Raises ``ValueError`` if the weights are not $\lambda$-balanced.
    """
    W1, W2 = _check_pair(W1, W2)
    if W1.ndim != 2:
        raise ValueError(f"W1, W2: expected single matrices, got shapes {tuple(W1.shape)}, {tuple(W2.shape)}")
    tol = check_positive_real(tol, "tol")
    n_h, n_i = W1.shape
    n_o = W2.shape[0]
    B = W2.mT @ W2 - W1 @ W1.mT
    lam = B.diagonal().mean()
    scale = float(W1.pow(2).sum() + W2.pow(2).sum())
    eye = torch.eye(n_h, dtype=W1.dtype, device=W1.device)
    off = float(torch.linalg.matrix_norm(B - lam * eye))
    if off > tol * max(scale, 1e-300):
        raise ValueError(f"W1, W2: not lambda-balanced: ||B - lambda I||_F = {off:.3g} for the best lambda = "
                         f"{float(lam):.6g}, more than tol = {tol:g} times ||W1||^2 + ||W2||^2 = {scale:.3g}")
    evals, R = torch.linalg.eigh(W1 @ W1.mT)
    evals, R = evals.flip(-1), R.flip(-1)                       # c_j^2 in decreasing order
    floor = 8 * max(n_h, n_i, n_o) * torch.finfo(W1.dtype).eps * (evals.abs().max() + lam.abs())
    c2, d2 = evals, evals + lam
    c = torch.where(c2 > floor, c2, torch.zeros_like(c2)).sqrt()     # roundoff of a zero eigenvalue is not a value
    d = torch.where(d2 > floor, d2, torch.zeros_like(d2)).sqrt()
    S1 = W1.new_zeros(n_h, n_i)
    S2 = W1.new_zeros(n_o, n_h)
    idx1 = torch.arange(min(n_h, n_i), device=W1.device)
    idx2 = torch.arange(min(n_h, n_o), device=W1.device)
    S1[idx1, idx1] = c[: len(idx1)]
    S2[idx2, idx2] = d[: len(idx2)]
    V = _polar(W1.mT @ R @ S1)
    U = _polar(W2 @ R @ S2.mT)
    err = max(float(torch.linalg.matrix_norm(W2 - U @ S2 @ R.mT)), float(torch.linalg.matrix_norm(W1 - R @ S1 @ V.mT)))
    norm = float(torch.linalg.matrix_norm(W1) + torch.linalg.matrix_norm(W2))
    return {"U": U, "S2": S2, "R": R, "S1": S1, "V": V, "lam": lam, "residual": torch.tensor(err / max(norm, 1e-300))}


def lambda_balanced_init(
    lam: float,
    in_dim: int,
    hidden_dim: int,
    out_dim: int,
    sigma: float = 1.0,
    generator: torch.Generator | None = None,
    *,
    dtype: torch.dtype = torch.float64,
    device=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Draw random $\lambda$-balanced weights $W_1, W_2$ with $W_2^\top W_2 - W_1 W_1^\top = \lambda I$.

    Draws $W_1^0, W_2^0$ with i.i.d. $\mathcal{N}(0, \sigma^2)$ entries, takes the SVD $W_2^0 W_1^0 = U S V^\top$
    and a Haar-random orthogonal $R \in \mathbb{R}^{N_h \times N_h}$, and returns $W_2 = U S_2 R^\top$,
    $W_1 = R S_1 V^\top$ with $S_2, S_1$ from :func:`balanced_singular_values`, so that $W_2 W_1 = W_2^0 W_1^0$.
    Implements Algorithm 1 of Anguita (2024), corrected: see errata E09.5-E09.7 (the admissible widths and signs,
    Algorithm 1's error message, and which factor carries the $\sqrt{\pm\lambda}$ block).

    ``lam`` $=\lambda$; ``in_dim`` $=N_i$, ``hidden_dim`` $=N_h$, ``out_dim`` $=N_o$; ``sigma`` $=\sigma > 0$;
    ``generator``: ``None``, a ``torch.Generator`` or an ``int`` seed (draws are made on the CPU, so a seed gives the
    same weights on every device); ``dtype``, ``device`` of the result. Returns ``W1`` of shape
    ``(hidden_dim, in_dim)`` and ``W2`` of shape ``(out_dim, hidden_dim)``, balanced to machine precision.

    Raises ``ValueError`` naming the constraint when no such weights exist: $\lambda > 0$ with $N_h > N_o$, or
    $\lambda < 0$ with $N_h > N_i$ (in particular any $\lambda \neq 0$ with $N_h > \max(N_i, N_o)$).
    """
    lam = check_real(lam, "lam")
    in_dim = check_positive_int(in_dim, "in_dim")
    hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
    out_dim = check_positive_int(out_dim, "out_dim")
    sigma = check_positive_real(sigma, "sigma")
    _raise_if_infeasible(lam, in_dim, hidden_dim, out_dim)
    check_float_dtype(dtype)
    generator = as_generator(generator)
    W1 = sigma * randn((hidden_dim, in_dim), generator, dtype, device)
    W2 = sigma * randn((out_dim, hidden_dim), generator, dtype, device)
    R = haar_orthogonal(hidden_dim, generator=generator, dtype=dtype, device=device)
    return balanced_factors(W2 @ W1, lam, hidden_dim, R=R)


def aligned_lambda_balanced_init(
    lam: float,
    X: torch.Tensor,
    Y: torch.Tensor,
    hidden_dim: int,
    sigma: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Draw $\lambda$-balanced weights whose product is aligned with the task: $W_2 W_1 = \tilde U S \tilde V^\top$.

    With $\Sigma^{yx} = Y X^\top / P = \tilde U \tilde S \tilde V^\top$ (full SVD) and balanced weights
    $W_1^0, W_2^0$ from :func:`lambda_balanced_init` with $W_2^0 W_1^0 = U S V^\top$ (full SVD), returns

    $$W_2 = \tilde U U^\top W_2^0, \qquad W_1 = W_1^0 V \tilde V^\top,$$

    so $W_2 W_1 = \tilde U S \tilde V^\top$ shares the singular vectors of $\Sigma^{yx}$ (Definition 2.2.2) and
    $B(W_1, W_2) = B(W_1^0, W_2^0) = \lambda I$ because the multiplying factors are orthogonal. Implements
    Algorithm 2 of Anguita (2024), with ``sigma`` passed on (errata E09.9).

    The thesis's own definition of the SVD (eq. 2.1) is the full one, and its authors' code (``numpy.linalg.svd``
    with its default ``full_matrices=True``) uses full SVDs; only an implementation with reduced SVDs would break
    the balance. The slip of Algorithm 2 is that it accepts $\sigma$ and does not pass it on (errata E09.9).

    ``lam`` $=\lambda$; ``X``: inputs ``(N_i, P)``; ``Y``: targets ``(N_o, P)``; ``hidden_dim`` $=N_h$;
    ``sigma``, ``generator`` as in :func:`lambda_balanced_init`. Returns ``W1`` ``(N_h, N_i)``, ``W2`` ``(N_o, N_h)``
    in the widest dtype of ``X`` and ``Y``, on the device of ``X``.
    """
    X = as_float_tensor(X, "X")
    Y = as_float_tensor(Y, "Y")
    dtype = common_dtype(X, Y)
    X, Y = X.to(dtype), Y.to(dtype=dtype, device=X.device)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X, Y: expected shapes (N_i, P) and (N_o, P) with the same P, got {tuple(X.shape)} and {tuple(Y.shape)}"
        )
    in_dim, out_dim = X.shape[0], Y.shape[0]
    W1, W2 = lambda_balanced_init(lam, in_dim, hidden_dim, out_dim, sigma, generator, dtype=dtype, device=X.device)
    return align_with_task(W1, W2, X, Y)


def balanced_second_layer(W1, lam: float, out_dim: int, generator=None) -> torch.Tensor:
    r"""Return a random $W_2$ that makes $(W_1, W_2)$ $\lambda$-balanced: $W_2 = Q\,(\lambda I + W_1 W_1^\top)^{1/2}$.

    $W_2^\top W_2 - W_1 W_1^\top = \lambda I$ says exactly that $W_2^\top W_2 = \lambda I + W_1 W_1^\top$, so (polar
    decomposition) the $\lambda$-balanced partners of $W_1$ are $W_2 = Q M^{1/2}$ with $M = \lambda I + W_1W_1^\top$
    and $Q$ any $N_o \times N_h$ matrix with orthonormal columns, here Haar-random. This parametrises balanced pairs
    without going through the singular values of the product, which makes it an independent check of
    Theorem 4.1.1 of Anguita (2024) (:func:`balanced_decomposition`).

    ``W1``: ``(N_h, N_i)``; ``lam`` $= \lambda$ with $\lambda I + W_1W_1^\top \succeq 0$ (any $\lambda \ge 0$, or
    $\lambda \ge -\sigma_{\min}(W_1)^2$); ``out_dim`` $= N_o \ge N_h$; ``generator``: ``None``, a ``torch.Generator``
    or an ``int`` seed. Returns ``W2`` ``(N_o, N_h)`` in the dtype and on the device of ``W1``.
    """
    W1 = as_float_tensor(W1, "W1")
    if W1.ndim != 2:
        raise ValueError(f"W1: expected a matrix (N_h, N_i), got shape {tuple(W1.shape)}")
    lam = check_real(lam, "lam")
    out_dim = check_positive_int(out_dim, "out_dim")
    n_h = W1.shape[0]
    if out_dim < n_h:
        raise ValueError(f"out_dim: needs out_dim >= N_h = {n_h} for W2 = Q M^(1/2) with orthonormal Q, got {out_dim}")
    evals, P = torch.linalg.eigh(W1 @ W1.mT + lam * torch.eye(n_h, dtype=W1.dtype, device=W1.device))
    floor = -8 * n_h * torch.finfo(W1.dtype).eps * float(evals.abs().max())
    if float(evals.min()) < floor:
        raise ValueError(f"lam: lambda I + W1 W1^T must be positive semidefinite; its smallest eigenvalue is "
                         f"{float(evals.min()):.3g} (lam must be at least -sigma_min(W1)^2)")
    root = P @ torch.diag(evals.clamp(min=0).sqrt()) @ P.mT
    Q = haar_orthogonal(out_dim, generator=as_generator(generator), dtype=W1.dtype, device=W1.device, columns=n_h)
    return Q @ root


def align_with_task(W1, W2, X, Y) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Rotate a weight pair so that its product has the task's singular vectors: the second step of Algorithm 2.

    With full SVDs $\Sigma^{yx} = \tilde U \tilde S \tilde V^\top$ and $W_2 W_1 = U S V^\top$, returns
    $(W_1 V \tilde V^\top, \tilde U U^\top W_2)$: the product becomes $\tilde U S \tilde V^\top$ (aligned in the sense
    of Definition 2.2.2 of Anguita, 2024) and the balance $W_2^\top W_2 - W_1 W_1^\top$ is unchanged, because the
    rotations are orthogonal. ``W1``: ``(N_h, N_i)``; ``W2``: ``(N_o, N_h)``; ``X``: ``(N_i, P)``; ``Y``: ``(N_o, P)``.
    Returns the rotated pair in the widest dtype of the inputs, on the device of ``W1``.
    """
    W1, W2 = _check_pair(W1, W2)
    X = as_float_tensor(X, "X")
    Y = as_float_tensor(Y, "Y")
    dtype = common_dtype(W1, X, Y)
    W1, W2 = W1.to(dtype), W2.to(dtype)
    X, Y = X.to(dtype=dtype, device=W1.device), Y.to(dtype=dtype, device=W1.device)
    if W1.ndim != 2:
        raise ValueError(f"W1, W2: expected single matrices, got shapes {tuple(W1.shape)}, {tuple(W2.shape)}")
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1] or X.shape[0] != W1.shape[1] or Y.shape[0] != W2.shape[0]:
        raise ValueError(f"X, Y: expected shapes ({W1.shape[1]}, P) and ({W2.shape[0]}, P), got {tuple(X.shape)} and "
                         f"{tuple(Y.shape)}")
    U_task, _, Vh_task = torch.linalg.svd(Y @ X.T / X.shape[1], full_matrices=True)
    U, _, Vh = torch.linalg.svd(W2 @ W1, full_matrices=True)
    return W1 @ Vh.mT @ Vh_task, U_task @ U.mT @ W2


def algorithm1_accepts(lam: float, in_dim: int, hidden_dim: int, out_dim: int) -> tuple[bool, str | None]:
    r"""Return whether Algorithm 1 of Anguita (2024), as printed, accepts a request, and its error message if not.

    A literal transcription of the four checks of Algorithm 1 (lines 2-12), kept to compare them with
    :func:`feasible`; they encode Theorem 3.4.1 as stated, which rejects feasible requests, and the second message
    says "positive" where it means "negative" (see errata E09.5-E09.6). Not used to build weights.
    """
    lam = check_real(lam, "lam")
    in_dim = check_positive_int(in_dim, "in_dim")
    hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
    out_dim = check_positive_int(out_dim, "out_dim")
    if out_dim > in_dim and lam < 0:
        return False, "Lambda must be positive if out_dim > in_dim"
    if in_dim > out_dim and lam > 0:
        return False, "Lambda must be positive if in_dim > out_dim"
    if hidden_dim < min(in_dim, out_dim):
        return False, "Network cannot be bottlenecked"
    if hidden_dim > max(in_dim, out_dim) and lam != 0:
        return False, "hidden_dim cannot be the largest dimension if lambda is not 0"
    return True, None


def min_balance_residual(
    lam: float,
    in_dim: int,
    hidden_dim: int,
    out_dim: int,
    starts: int = 8,
    steps: int = 3000,
    lr: float = 0.02,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    r"""Minimise $\lVert W_2^\top W_2 - W_1 W_1^\top - \lambda I \rVert_F$ over all weights by gradient descent.

    An independent check of which widths admit $\lambda$-balanced weights (Theorem 3.4.1 corrected, errata E09.5).
    Returns ``(best, bound)``: the smallest residual Adam finds from ``starts`` random initialisations in ``steps``
    steps, and the proven minimum $|\lambda| \sqrt{d}$ with $d = \max(0, N_h - N_o)$ if $\lambda > 0$,
    $d = \max(0, N_h - N_i)$ if $\lambda < 0$, $d = 0$ if $\lambda = 0$. The bound holds because
    $B \preceq W_2^\top W_2$ (resp. $B \succeq -W_1 W_1^\top$) and that matrix has at least $d$ zero eigenvalues,
    so $B$ has at least $d$ eigenvalues on the wrong side of zero (Weyl); $W_1 = 0$ and $W_2$ with $N_o$ singular
    values $\sqrt{\lambda}$ attain it. See :func:`min_balance_residuals` for many requests at once.
    """
    best, bound = min_balance_residuals([(lam, in_dim, hidden_dim, out_dim)], starts, steps, lr, generator)
    return float(best[0]), float(bound[0])


def min_balance_residuals(
    requests: list[tuple[float, int, int, int]],
    starts: int = 8,
    steps: int = 3000,
    lr: float = 0.02,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Run :func:`min_balance_residual` for many ``(lam, in_dim, hidden_dim, out_dim)`` requests as one batch.

    Every request is embedded in the largest widths with masks that keep the padding at zero, so all requests and
    starts share one Adam run (single-threaded: the tensors are tiny). Returns ``(best, bound)``, float64 tensors of
    shape ``(len(requests),)``.
    """
    if isinstance(requests, (str, bytes)) or not hasattr(requests, "__len__") or len(requests) == 0:
        raise ValueError(f"requests: expected a non-empty list of (lam, in_dim, hidden_dim, out_dim), got {requests!r}")
    checked = []
    for req in requests:
        if not isinstance(req, (tuple, list)) or len(req) != 4:
            raise ValueError(f"requests: each request must be (lam, in_dim, hidden_dim, out_dim), got {req!r}")
        checked.append((check_real(req[0], "lam"), check_positive_int(req[1], "in_dim"),
                        check_positive_int(req[2], "hidden_dim"), check_positive_int(req[3], "out_dim")))
    starts = check_positive_int(starts, "starts")
    steps = check_positive_int(steps, "steps")
    lr = check_positive_real(lr, "lr")
    generator = as_generator(generator)
    device = None
    f64 = torch.float64
    n, (mi, mh, mo) = len(checked), (max(r[k] for r in checked) for k in (1, 2, 3))
    lam = torch.tensor([r[0] for r in checked], dtype=f64, device=device)[:, None, None, None]
    dims = torch.tensor([r[1:] for r in checked], device=device)
    i_act = torch.arange(mi, device=device) < dims[:, 0, None]
    h_act = torch.arange(mh, device=device) < dims[:, 1, None]
    o_act = torch.arange(mo, device=device) < dims[:, 2, None]
    mask1 = (h_act[:, :, None] & i_act[:, None, :]).to(f64)[:, None]  # (n, 1, mh, mi)
    mask2 = (o_act[:, :, None] & h_act[:, None, :]).to(f64)[:, None]  # (n, 1, mo, mh)
    maskB = (h_act[:, :, None] & h_act[:, None, :]).to(f64)[:, None]  # (n, 1, mh, mh)
    target = lam * torch.diag_embed(h_act.to(f64))[:, None]
    scale = (lam.abs().clamp(min=1.0) / dims[:, 1, None, None, None]).sqrt()
    W1 = (scale * torch.randn(n, starts, mh, mi, generator=generator, dtype=f64, device=device) * mask1)
    W2 = (scale * torch.randn(n, starts, mo, mh, generator=generator, dtype=f64, device=device) * mask2)
    W1.requires_grad_(True)
    W2.requires_grad_(True)
    opt = torch.optim.Adam([W1, W2], lr=lr)
    with single_thread():  # tiny tensors: thread synchronisation would cost more than it saves
        for _ in range(steps):
            opt.zero_grad()
            A1, A2 = W1 * mask1, W2 * mask2
            ((A2.mT @ A2 - A1 @ A1.mT - target) * maskB).pow(2).sum().backward()
            opt.step()
    with torch.no_grad():
        A1, A2 = W1 * mask1, W2 * mask2
        residual = torch.linalg.matrix_norm((A2.mT @ A2 - A1 @ A1.mT - target) * maskB)
    bounds = []
    for lam_r, i_r, h_r, o_r in checked:
        deficit = max(0, h_r - o_r) if lam_r > 0 else max(0, h_r - i_r) if lam_r < 0 else 0
        bounds.append(abs(lam_r) * math.sqrt(deficit))
    return residual.amin(-1), torch.tensor(bounds, dtype=f64)


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _check_pair(W1, W2) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a weight pair; convert both to their widest dtype, on the device of W1."""
    W1 = as_float_tensor(W1, "W1")
    W2 = as_float_tensor(W2, "W2")
    dtype = common_dtype(W1, W2)
    W1, W2 = W1.to(dtype), W2.to(dtype=dtype, device=W1.device)
    if W1.ndim < 2:
        raise ValueError(f"W1: expected shape (..., N_h, N_i), got {tuple(W1.shape)}")
    if W2.ndim < 2:
        raise ValueError(f"W2: expected shape (..., N_o, N_h), got {tuple(W2.shape)}")
    if W2.shape[-1] != W1.shape[-2]:
        raise ValueError(
            f"W1, W2: the hidden widths differ: W1 has {W1.shape[-2]} rows but W2 has {W2.shape[-1]} columns"
        )
    return W1, W2


def _polar(M: torch.Tensor) -> torch.Tensor:
    """The orthogonal polar factor of a square matrix: the orthogonal Q closest to M in Frobenius norm."""
    P, _, Qh = torch.linalg.svd(M)
    return P @ Qh


def _infeasibility(lam: float, in_dim: int, hidden_dim: int, out_dim: int) -> str | None:
    """Return why no lambda-balanced weights exist for these widths, or None if they do."""
    if lam > 0 and hidden_dim > out_dim:
        why = (
            f"lam: a positive lambda needs hidden_dim <= out_dim (W2^T W2 = lambda I + W1 W1^T has full rank "
            f"hidden_dim, so W2 needs at least hidden_dim rows); got lam={lam}, hidden_dim={hidden_dim}, "
            f"out_dim={out_dim}"
        )
    elif lam < 0 and hidden_dim > in_dim:
        why = (
            f"lam: a negative lambda needs hidden_dim <= in_dim (W1 W1^T = -lambda I + W2^T W2 has full rank "
            f"hidden_dim, so W1 needs at least hidden_dim columns); got lam={lam}, hidden_dim={hidden_dim}, "
            f"in_dim={in_dim}"
        )
    else:
        return None
    if hidden_dim > max(in_dim, out_dim):
        why += "; a hidden layer wider than both ends admits only lambda = 0"
    return why


def _raise_if_infeasible(lam: float, in_dim: int, hidden_dim: int, out_dim: int) -> None:
    why = _infeasibility(lam, in_dim, hidden_dim, out_dim)
    if why is not None:
        raise ValueError(why)


def _split_squares(S: torch.Tensor, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (s2^2, s1^2) with s2^2 - s1^2 = lam and s2 s1 = S, computed without cancellation."""
    a = torch.sqrt(lam**2 + 4 * S**2)
    big = (a + abs(lam)) / 2
    small = torch.where(big > 0, S**2 / torch.where(big > 0, big, torch.ones_like(big)), torch.zeros_like(big))
    return (big, small) if lam >= 0 else (small, big)
