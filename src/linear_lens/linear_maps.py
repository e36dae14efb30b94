r"""Square weights with constrained spectra: the factorisations of Appendix B of Drgoňa et al. (2020).

Each factorisation builds a weight $\tilde A \in \mathbb{R}^{n \times n}$ from free parameters by a differentiable map,
so that gradient descent on the parameters moves $\tilde A$ only inside a set of matrices whose spectrum is promised
to lie in a region fixed by $(\lambda_{\min}, \lambda_{\max})$ (or by a damping $\gamma$):

- Perron-Frobenius (eq. 21, Tuor et al., 2020): $\tilde A = \operatorname{softmax}_{\text{row}}(A') \odot M$ with
  damping $M = \lambda_{\max} - (\lambda_{\max} - \lambda_{\min})\,\sigma(M')$;
- spectral SVD (eqs. 22-23, Zhang et al., 2018): $\tilde A = U \tilde\Sigma V$ with
  $\tilde\Sigma = \operatorname{diag}(\lambda_{\max} - (\lambda_{\max} - \lambda_{\min})\,\sigma(s))$ and $U, V$ kept
  near-orthogonal by the penalty of eq. (22);
- skew-symmetric (eq. 24, Haber and Ruthotto, 2017): $\tilde A = L - L^\top - \gamma I$, $L$ lower triangular;
- Hamiltonian (eq. 25, Haber and Ruthotto, 2017): $\tilde A = \begin{bmatrix} 0 & A \\ -A^\top & 0 \end{bmatrix}$;
- Gershgorin discs (eq. 26, Lechner et al., 2020): $\tilde A = \lambda I + r\,\operatorname{diag}(1/s_i)\,M$,
  off-diagonal $M$, with centre $\lambda = (\lambda_{\min} + \lambda_{\max})/2$ and radius
  $r = (\lambda_{\max} - \lambda_{\min})/2$.

Where the authors' implementation (PNNL's ``slim``, ``slim/linear.py``, used through ``neuromancer`` for the
paper's experiments) differs from the printed formula, both are here: :func:`gershgorin_slim_weight` is slim's
``GershgorinLinear`` (random diagonal, softmax-normalised off-diagonal entries; it is *not* eq. 26, and unlike
eq. 26 it is random in 2-D), ``construction="slim"`` in :func:`gershgorin` and :func:`spectral_svd` draws the
parameters as slim does, and :func:`slim_mlp` builds the 2-D networks of the paper's figures the way its scripts
did (depth, biases, an activation after every layer).

For each there is a pure function from parameters to weight (``*_weight``) and a sampler returning random weights
(``perron_frobenius``, ``spectral_svd``, ``skew_symmetric``, ``hamiltonian``, ``gershgorin``; batched over
``batch`` draws). The trainable layers whose ``.weight`` is the pure function of their parameters, and
:func:`~linear_lens.constrained_layers.fit_linear` which trains them, are in :mod:`linear_lens.constrained_layers`.

$\sigma$ is the logistic sigmoid throughout. ``lam_min``, ``lam_max`` are $\lambda_{\min} \le \lambda_{\max}$.
What each promise really guarantees (and where the seed overstates it) is in :mod:`linear_lens.spectral_promises`
(the region of each factorisation, and how far the spectrum of a weight falls outside it) and in chapter 4 of the
book.
"""

from __future__ import annotations

import numbers

import torch

from linear_lens.sampling import haar_orthogonal
from linear_lens._checks import (as_float_tensor, as_generator, check_float_dtype, check_nonnegative_int,
                                 check_positive_int, check_real)

__all__ = [
    "perron_frobenius_weight",
    "spectral_weight",
    "orthogonality_penalty",
    "skew_symmetric_weight",
    "hamiltonian_weight",
    "gershgorin_weight",
    "gershgorin_slim_weight",
    "perron_frobenius",
    "spectral_svd",
    "skew_symmetric",
    "hamiltonian",
    "gershgorin",
    "CONSTRUCTIONS",
    "SLIM_MAPS",
    "slim_mlp",
]

#: How :func:`gershgorin` and :func:`spectral_svd` draw a weight: as printed in the paper, or as slim implements it.
CONSTRUCTIONS = ("printed", "slim")
#: The slim maps :func:`slim_mlp` builds (the keys of ``slim.linear.maps`` the paper's scripts use).
SLIM_MAPS = ("gershgorin", "softSVD", "pf", "linear")


# ---------------------------------------------------------------------------------------------------------------
# Pure maps from free parameters to weights
# ---------------------------------------------------------------------------------------------------------------


def perron_frobenius_weight(A_raw: torch.Tensor, M_raw: torch.Tensor, lam_min: float, lam_max: float) -> torch.Tensor:
    r"""Return the Perron-Frobenius weight $\tilde A_{ij} = \operatorname{softmax}(A'_{i,:})_j\, M_{ij}$.

    $M = \lambda_{\max} - (\lambda_{\max} - \lambda_{\min})\,\sigma(M')$ (eq. 21a) and
    $\tilde A_{ij} = \exp(A'_{ij}) M_{ij} / \sum_k \exp(A'_{ik})$ (eq. 21b). Implements eq. (21) of Drgoňa et al.
    (2020), after Tuor et al. (2020).

    Each row of $\tilde A$ is a convex combination of entries of $M \in (\lambda_{\min}, \lambda_{\max})$, so every
    row sum lies in $(\lambda_{\min}, \lambda_{\max})$. For $\lambda_{\min} \ge 0$ the matrix is nonnegative and its
    Perron root $\rho(\tilde A)$ (a real eigenvalue) lies between the smallest and largest row sum, hence in
    $[\lambda_{\min}, \lambda_{\max}]$; the other eigenvalues only lie in the disc $|z| \le \rho(\tilde A)$
    (corrected: see errata E04.1).

    ``A_raw`` $= A'$ and ``M_raw`` $= M'$: ``(..., n, n)``. Returns ``(..., n, n)``.
    """
    A_raw = _square(A_raw, "A_raw")
    M_raw = _square(M_raw, "M_raw")
    if A_raw.shape[-1] != M_raw.shape[-1]:
        raise ValueError(f"M_raw: must have the size of A_raw, got {tuple(M_raw.shape)} and {tuple(A_raw.shape)}")
    lam_min, lam_max = _check_lams(lam_min, lam_max)
    M = lam_max - (lam_max - lam_min) * torch.sigmoid(M_raw)
    return torch.softmax(A_raw, dim=-1) * M


def spectral_weight(U: torch.Tensor, s: torch.Tensor, V: torch.Tensor, lam_min: float, lam_max: float) -> torch.Tensor:
    r"""Return the spectral weight $\tilde A = U \tilde\Sigma V$ with singular values squashed into the range.

    $\tilde\Sigma = \operatorname{diag}(\lambda_{\max} - (\lambda_{\max} - \lambda_{\min})\sigma(s))$.

    Implements eq. (23) of Drgoňa et al. (2020), after Zhang et al. (2018). If $U$ and $V$ are orthogonal, the
    singular values of $\tilde A$ are $|\tilde\Sigma_{ii}|$, in $(\lambda_{\min}, \lambda_{\max})$ when
    $\lambda_{\min} \ge 0$, and every eigenvalue satisfies
    $\min_i |\tilde\Sigma_{ii}| \le |\lambda| \le \max_i |\tilde\Sigma_{ii}|$: an annulus, not the real interval
    (corrected: see errata E04.2). Otherwise singular values are off by at most the factors
    $\sigma_{\min/\max}(U)\,\sigma_{\min/\max}(V)$ (errata E04.3).

    ``U`` $= U$: ``(..., n, n)``; ``s`` $= \Sigma$ (the raw singular values): ``(..., n)``;
    ``V`` $= V$: ``(..., n, n)``.
    Returns ``(..., n, n)``.
    """
    U = _square(U, "U")
    V = _square(V, "V")
    s = as_float_tensor(s, "s")
    if s.ndim < 1 or s.shape[-1] != U.shape[-1] or V.shape[-1] != U.shape[-1]:
        raise ValueError(
            f"s: U, s, V must have shapes (..., n, n), (..., n), (..., n, n), got {tuple(U.shape)}, "
            f"{tuple(s.shape)}, {tuple(V.shape)}"
        )
    lam_min, lam_max = _check_lams(lam_min, lam_max)
    sigma = lam_max - (lam_max - lam_min) * torch.sigmoid(s)
    return (U * sigma.unsqueeze(-2)) @ V


def orthogonality_penalty(U: torch.Tensor, V: torch.Tensor, norm: str = "spectral") -> torch.Tensor:
    r"""Return the orthogonality penalty $\mathcal{L}_{\text{reg}} = \mathcal{L}_U + \mathcal{L}_V$ of spectral weights.

    $\mathcal{L}_U = \|I - UU^\top\| + \|I - U^\top U\|$, and likewise $\mathcal{L}_V$.

    Implements eq. (22) of Drgoňa et al. (2020). The seed writes $\|\cdot\|_2$, which for a matrix is the spectral
    norm (``norm="spectral"``, the largest $|$eigenvalue$|$ of the symmetric argument); ``norm="frobenius"`` gives
    the entrywise 2-norm, which is what ``torch.norm(X, 2)`` computes. For a square $U$ the two terms of
    $\mathcal{L}_U$ are equal ($UU^\top$ and $U^\top U$ have the same eigenvalues), so $\mathcal{L}_U$ is twice
    either; $\|I - UU^\top\|_2 = \max_i |1 - \sigma_i(U)^2|$ bounds how far the singular values of $U$ are from 1.

    ``U``: ``(..., m, k)``; ``V``: ``(..., p, q)`` (square in the spectral factorisation). Returns ``(...)``.
    """
    if norm not in ("spectral", "frobenius"):
        raise ValueError(f"norm: expected 'spectral' or 'frobenius', got {norm!r}")
    total = 0
    for X, name in ((U, "U"), (V, "V")):
        X = as_float_tensor(X, name)
        if X.ndim < 2:
            raise ValueError(f"{name}: expected a matrix (..., m, k), got shape {tuple(X.shape)}")
        for G in (X @ X.mT, X.mT @ X):
            D = torch.eye(G.shape[-1], dtype=G.dtype, device=G.device) - G
            if norm == "spectral":
                total = total + torch.linalg.eigvalsh(D).abs().amax(dim=-1)
            else:
                total = total + torch.linalg.matrix_norm(D, ord="fro")
    return total


def skew_symmetric_weight(L: torch.Tensor, gamma: float = 0.0) -> torch.Tensor:
    r"""Return $\tilde A = L - L^\top - \gamma I$ with $L$ the lower triangle of ``L`` (eq. 24).

    Implements eq. (24) of Drgoňa et al. (2020), after Haber and Ruthotto (2017). $K = L - L^\top$ is
    skew-symmetric, so its eigenvalues are $\pm i\omega_k$ and those of $\tilde A$ are $-\gamma \pm i\omega_k$: all on
    the line $\operatorname{Re}\lambda = -\gamma$, with spectral radius $\sqrt{\gamma^2 + \|K\|_2^2}$. For
    $\gamma \ne 0$ the matrix is not skew-symmetric, and as a discrete-time map $\gamma$ raises every $|\lambda|$
    (it damps only in continuous time; see errata E04.4).

    ``L``: ``(..., n, n)``, only its lower triangle is used (its diagonal cancels); ``gamma`` $= \gamma$.
    Returns ``(..., n, n)``.
    """
    L = _square(L, "L")
    gamma = check_real(gamma, "gamma")
    T = torch.tril(L)
    return T - T.mT - gamma * torch.eye(L.shape[-1], dtype=L.dtype, device=L.device)


def hamiltonian_weight(A: torch.Tensor) -> torch.Tensor:
    r"""Return the block matrix $\tilde A = \begin{bmatrix} 0 & A \\ -A^\top & 0 \end{bmatrix}$ (eq. 25).

    Implements eq. (25) of Drgoňa et al. (2020), after Haber and Ruthotto (2017). $\tilde A$ is skew-symmetric, so its
    eigenvalues are $\pm i\sigma_k(A)$ (and $|p - q|$ zeros): purely imaginary, with spectral radius
    $\sigma_{\max}(A)$, not 1, and $\tilde A$ is in general not symplectic (corrected: see errata E04.5). What is
    conservative is the continuous-time flow: $e^{t\tilde A}$ is orthogonal, all its eigenvalues have modulus 1.

    ``A`` $= A$: ``(..., p, q)``. Returns ``(..., p + q, p + q)``.
    """
    A = as_float_tensor(A, "A")
    if A.ndim < 2:
        raise ValueError(f"A: expected a matrix (..., p, q), got shape {tuple(A.shape)}")
    p, q = A.shape[-2:]
    zp = A.new_zeros(*A.shape[:-2], p, p)
    zq = A.new_zeros(*A.shape[:-2], q, q)
    top = torch.cat([zp, A], dim=-1)
    bottom = torch.cat([-A.mT, zq], dim=-1)
    return torch.cat([top, bottom], dim=-2)


def gershgorin_weight(
    M: torch.Tensor, lam_min: float, lam_max: float, *, real: bool = True, normalise: str = "row"
) -> torch.Tensor:
    r"""Return the Gershgorin weight $\tilde A = \lambda I + r\,\operatorname{diag}(1/s_1, \dots, 1/s_n)\,M_0$.

    $M_0$ is ``M`` with its diagonal set to zero, symmetrised ($(M_0 + M_0^\top)/2$) when ``real``; the centre is
    $\lambda = (\lambda_{\min} + \lambda_{\max})/2$ and the radius $r = (\lambda_{\max} - \lambda_{\min})/2$.
    Implements eq. (26) of Drgoňa et al. (2020), after Lechner et al. (2020), with $s_i$ the absolute off-diagonal
    sums of the rows of $M_0$ (``normalise="row"``): every Gershgorin row disc is then centred at $\lambda$ with
    radius exactly $r$, so every eigenvalue lies in $|z - \lambda| \le r$. ``normalise="column"`` uses eq. (26) as
    printed, $s_j = \sum_{i \ne j} |m_{ij}|$, a column sum scaling row $j$: the row discs then have radii
    $r\,R_j / s_j \ne r$ (errata E04.6). A zero sum leaves that row zero (disc of radius 0).

    With ``real`` the weight is $D S$ with $D$ positive diagonal and $S$ symmetric, similar to the symmetric
    $D^{1/2} S D^{1/2}$: all eigenvalues are real, in $[\lambda_{\min}, \lambda_{\max}]$.

    ``M``: ``(..., n, n)``, free parameters (the seed draws $m_{ij} \sim \mathcal{U}(0, 1)$). Returns ``(..., n, n)``.
    """
    M = _square(M, "M")
    lam_min, lam_max = _check_lams(lam_min, lam_max)
    if normalise not in ("row", "column"):
        raise ValueError(f"normalise: expected 'row' or 'column', got {normalise!r}")
    if not isinstance(real, bool):
        raise ValueError(f"real: expected True or False, got {real!r}")
    eye = torch.eye(M.shape[-1], dtype=M.dtype, device=M.device)
    M0 = M * (1 - eye)
    if real:
        M0 = (M0 + M0.mT) / 2
    sums = M0.abs().sum(dim=-1 if normalise == "row" else -2)
    positive = sums > 0
    scale = torch.where(positive, 1 / torch.where(positive, sums, torch.ones_like(sums)), torch.zeros_like(sums))
    centre, radius = (lam_min + lam_max) / 2, (lam_max - lam_min) / 2
    return centre * eye + radius * scale.unsqueeze(-1) * M0


def gershgorin_slim_weight(
    W_raw: torch.Tensor, d_raw: torch.Tensor, lam_min: float, lam_max: float, *, real: bool = True
) -> torch.Tensor:
    r"""Return the weight of slim's ``GershgorinLinear``, the construction the paper's experiments used.

    With centre $c = (\lambda_{\min} + \lambda_{\max})/2$ and slim's *signed* radius
    $\varrho = (\lambda_{\min} - \lambda_{\max})/2 \le 0$ (slim's ``radius``):

    - diagonal: $\tilde a_{ii} = c + \varrho\,(\sigma(d_i) - \tfrac12)$, $\sigma$ the logistic sigmoid, so every
      centre lies within $|\varrho|/2$ of $c$;
    - off-diagonal: $\tilde a_{ij} = \tfrac{\varrho}{2}\,\operatorname{softmax}(w)_{ij}$, the softmax taken over
      *all* $n(n-1)$ off-diagonal entries of $w$ at once (symmetrised first, $w + w^\top$, when ``real``), so
      the off-diagonal entries all have the sign of $\varrho$ and their absolute values sum to $|\varrho|/2$
      over the whole matrix.

    Every Gershgorin disc therefore lies inside $|z - c| \le |\varrho|$, the disc eq. (26) promises, but the
    construction is not eq. (26): the diagonal is random and the rows are not normalised to radius $r$. For
    $n = 2$ it is random (eq. 26 is one fixed matrix there), its eigenvalues are always real (the two off-diagonal
    entries have the same sign), and its spectral radius lies strictly inside the range.

    Implements ``GershgorinLinear.effective_W`` of PNNL's slim (``slim/linear.py``, commit 86979af of
    github.com/pnnl/slim; see chapter 4 of the book). slim multiplies row vectors, $x \mapsto xW$; the weight
    returned here is $W^\top$, the matrix acting on column vectors (for ``real`` it is symmetric anyway).
    ``W_raw`` $= w$: ``(..., n, n)`` (its diagonal is ignored; slim draws $w_{ij} \sim \mathcal U(0, 1)$);
    ``d_raw`` $= d$: ``(..., n)`` (slim draws $d_i \sim \mathcal N(0, 1)$). Returns ``(..., n, n)``.
    """
    W_raw = _square(W_raw, "W_raw")
    d_raw = as_float_tensor(d_raw, "d_raw")
    n = W_raw.shape[-1]
    if d_raw.ndim < 1 or d_raw.shape[-1] != n:
        raise ValueError(f"d_raw: expected shape (..., {n}) to match W_raw, got {tuple(d_raw.shape)}")
    if not isinstance(real, bool):
        raise ValueError(f"real: expected True or False, got {real!r}")
    lam_min, lam_max = _check_lams(lam_min, lam_max)
    centre, signed_radius = (lam_min + lam_max) / 2, (lam_min - lam_max) / 2
    batch = torch.broadcast_shapes(W_raw.shape[:-2], d_raw.shape[:-1])
    w = W_raw.expand(*batch, n, n)
    if real:
        w = w + w.mT
    off = ~torch.eye(n, dtype=torch.bool, device=w.device)
    values = torch.softmax(w[..., off], dim=-1) * (signed_radius / 2) if n > 1 else w[..., off]
    diagonal = centre + signed_radius * (torch.sigmoid(d_raw.expand(*batch, n)) - 0.5)
    out = torch.diag_embed(diagonal)
    out = out.masked_scatter(off.expand_as(out), values.reshape(-1)) if n > 1 else out
    return out.mT


# ---------------------------------------------------------------------------------------------------------------
# Samplers: random weights, batched over draws
# ---------------------------------------------------------------------------------------------------------------


def perron_frobenius(
    n: int, lam_min: float, lam_max: float, *, batch=(), generator=None, dtype=torch.float64, device=None
) -> torch.Tensor:
    r"""Draw Perron-Frobenius weights (eq. 21) of size ``n``: ``(*batch, n, n)``.

    $A'_{ij} \sim \mathcal{N}(0, 1)$ and $M' = \operatorname{logit}(u)$, $u_{ij} \sim \mathcal{U}(0, 1)$, so the
    damping entries $M_{ij}$ are uniform on $(\lambda_{\min}, \lambda_{\max})$. See :func:`perron_frobenius_weight`.
    """
    generator, dtype = as_generator(generator), check_float_dtype(dtype)
    A_raw, M_raw = _draw_perron_frobenius(n, lam_min, lam_max, batch, generator, dtype, device)
    return perron_frobenius_weight(A_raw, M_raw, lam_min, lam_max)


def spectral_svd(
    n: int, lam_min: float, lam_max: float, *, construction: str = "printed", batch=(), generator=None,
    dtype=torch.float64, device=None,
) -> torch.Tensor:
    r"""Draw spectral weights (eq. 23) of size ``n``: ``(*batch, n, n)``.

    $U$, $V$ are Haar-random orthogonal matrices. ``construction="printed"``: $s = \operatorname{logit}(u)$,
    $u_i \sim \mathcal{U}(0, 1)$, so the entries of $\tilde\Sigma$ are uniform on $(\lambda_{\min}, \lambda_{\max})$.
    ``construction="slim"``: $s_i \sim \mathcal U(0, 1)$ as slim's ``SVDLinear`` (the paper's "spectral"
    factorisation, ``softSVD`` in its scripts) initialises them, so $\sigma(s_i) \in (\tfrac12, 0.731)$ and the
    singular values lie in the sub-interval
    $(\lambda_{\max} - 0.731\,\Delta, \lambda_{\max} - \Delta/2)$, $\Delta = \lambda_{\max} - \lambda_{\min}$: for
    the range $(0.99, 1.10)$ of the paper's Fig. 2, every singular value exceeds 1. See :func:`spectral_weight`.
    """
    _check_construction(construction)
    generator, dtype = as_generator(generator), check_float_dtype(dtype)
    if construction == "slim":
        n = check_positive_int(n, "n")
        _check_lams(lam_min, lam_max)
        b = _batch(batch)
        U = haar_orthogonal(n, b, generator, dtype, device)
        V = haar_orthogonal(n, b, generator, dtype, device)
        return spectral_weight(U, _rand((*b, n), generator, dtype, device), V, lam_min, lam_max)
    U, s, V = _draw_spectral(n, lam_min, lam_max, batch, generator, dtype, device)
    return spectral_weight(U, s, V, lam_min, lam_max)


def skew_symmetric(
    n: int, gamma: float = 0.0, *, scale: float = 1.0, batch=(), generator=None, dtype=torch.float64, device=None
) -> torch.Tensor:
    r"""Draw damped skew-symmetric weights (eq. 24) of size ``n``: ``(*batch, n, n)``.

    $L_{ij} \sim \mathcal{N}(0, \text{scale}^2 / n)$ below the diagonal, so $\|L - L^\top\|_2 \approx 2\,\text{scale}$
    for large $n$. See :func:`skew_symmetric_weight`.
    """
    generator, dtype = as_generator(generator), check_float_dtype(dtype)
    L = _draw_gaussian(n, n, scale, batch, generator, dtype, device)
    return skew_symmetric_weight(L, gamma)


def hamiltonian(
    n: int, *, scale: float = 1.0, batch=(), generator=None, dtype=torch.float64, device=None
) -> torch.Tensor:
    r"""Draw Hamiltonian weights (eq. 25) of size ``n`` (``n >= 2``): ``(*batch, n, n)``.

    $A \in \mathbb{R}^{p \times q}$ with $p = \lfloor n/2 \rfloor$, $q = n - p$ and entries
    $\mathcal{N}(0, \text{scale}^2 / n)$. See :func:`hamiltonian_weight`.
    """
    n = check_positive_int(n, "n")
    if n < 2:
        raise ValueError(f"n: a Hamiltonian weight needs n >= 2 (two blocks), got {n}")
    generator, dtype = as_generator(generator), check_float_dtype(dtype)
    A = _draw_gaussian(n // 2, n - n // 2, scale, batch, generator, dtype, device, var_n=n)
    return hamiltonian_weight(A)


def gershgorin(
    n: int, lam_min: float, lam_max: float, *, real: bool = True, construction: str = "printed", batch=(),
    generator=None, dtype=torch.float64, device=None,
) -> torch.Tensor:
    r"""Draw Gershgorin weights of size ``n``: ``(*batch, n, n)``; every eigenvalue lies in the disc over the range.

    ``construction="printed"``: eq. (26) with row sums (:func:`gershgorin_weight`).
    ``real=True``: $m_{ij} \sim \mathcal{U}(0, 1)$ as in the seed, symmetrised, so the eigenvalues are real, in
    $[\lambda_{\min}, \lambda_{\max}]$. ``real=False``: $m_{ij} \sim \mathcal{U}(-1, 1)$, not symmetrised (the
    book's reading: the seed does not say how its "complex" variant differs, and with nonnegative $m_{ij}$ and
    $n = 2$ every draw of eq. (26) is $\lambda I + r\,[[0, 1], [1, 0]]$, eigenvalues $\lambda \pm r$, so
    $\rho = \max(|\lambda_{\min}|, |\lambda_{\max}|)$ exactly).

    ``construction="slim"``: the authors' implementation (:func:`gershgorin_slim_weight`), with its parameters
    drawn as slim draws them, $w_{ij} \sim \mathcal U(0, 1)$ and $d_i \sim \mathcal N(0, 1)$; ``real`` symmetrises
    $w$ (slim's ``real`` flag). This is what produced the paper's figures.
    """
    _check_construction(construction)
    generator, dtype = as_generator(generator), check_float_dtype(dtype)
    if construction == "slim":
        n = check_positive_int(n, "n")
        b = _batch(batch)
        W_raw = _rand((*b, n, n), generator, dtype, device)
        d_raw = _randn((*b, n), generator, dtype, device)
        return gershgorin_slim_weight(W_raw, d_raw, lam_min, lam_max, real=real)
    M = _draw_gershgorin(n, real, batch, generator, dtype, device)
    return gershgorin_weight(M, lam_min, lam_max, real=real)


def slim_mlp(
    n: int,
    hidden_layers: int,
    linear_map: str,
    lam_min: float = 0.0,
    lam_max: float = 1.0,
    *,
    real: bool = True,
    bias: bool = True,
    batch=(),
    generator=None,
    dtype=torch.float64,
    device=None,
) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
    r"""Draw a network as the paper's scripts built it, returned in the book's convention of eq. (3).

    The scripts (``neuromancer/train_scripts/papers/lpv_l4dc/mk_phase_and_spectra_plots.py`` in
    github.com/pnnl/neuromancer, commit 8cb0b70) build ``blocks.MLP(n, n, hsizes=[n] * hidden_layers,
    linear_map=slim.linear.maps[linear_map], bias=True)``, i.e. ``hidden_layers`` hidden layers and
    ``hidden_layers + 1`` slim maps, and then replace *every* nonlinearity, the output layer's included, by the
    activation: their network is $\sigma(A_L \sigma(\cdots \sigma(A_0 x + b_0) \cdots) + b_L)$, with an
    activation after the last layer that eq. (3) does not have. Appending an identity weight (and a zero bias)
    turns it into an eq.-(3) network with one more hidden layer,
    $I\,\sigma(A_L h_L + b_L) + 0$, which is what this returns, so that :func:`linear_lens.networks.forward`,
    :func:`linear_lens.affine.pointwise_affine` and :func:`linear_lens.dynamics.iterate` compute the authors'
    $f$ and $A^*$.

    ``n``: the state size (the figures use 2); ``hidden_layers``: the "N. Layers" of the paper's Table 1;
    ``linear_map``: ``"gershgorin"`` (:func:`gershgorin_slim_weight`), ``"softSVD"`` (the paper's "spectral":
    :func:`spectral_svd` with ``construction="slim"``), ``"pf"`` (slim's ``PerronFrobeniusLinear``:
    :func:`perron_frobenius_weight` with $A'_{ij} \sim \mathcal U(-1/\sqrt n, 1/\sqrt n)$, $M'_{ij} \sim \mathcal
    U(0, 1)$) or ``"linear"`` (``torch.nn.Linear``: entries $\mathcal U(-1/\sqrt n, 1/\sqrt n)$);
    ``lam_min``, ``lam_max``: slim's ``sigma_min``, ``sigma_max``; ``real``: slim's ``real`` (Gershgorin only);
    ``bias``: whether to return biases, drawn as slim draws them, $\mathcal U(-1/\sqrt n, 1/\sqrt n)$ (the
    figures "without bias" drop them from the same network). Returns ``(weights, biases)``: ``hidden_layers + 2``
    tensors ``(*batch, n, n)`` (the last one the identity) and as many ``(*batch, n)`` biases (the last one zero),
    or ``None``.
    """
    n = check_positive_int(n, "n")
    hidden_layers = check_nonnegative_int(hidden_layers, "hidden_layers")
    if linear_map not in SLIM_MAPS:
        raise ValueError(f"linear_map: expected one of {', '.join(SLIM_MAPS)}, got {linear_map!r}")
    lam_min, lam_max = _check_lams(lam_min, lam_max)
    generator, dtype = as_generator(generator), check_float_dtype(dtype)
    if not isinstance(bias, bool):
        raise ValueError(f"bias: expected True or False, got {bias!r}")
    b = _batch(batch)
    bound = 1 / n**0.5
    weights, biases = [], []
    for _ in range(hidden_layers + 1):
        biases.append((2 * _rand((*b, n), generator, dtype, device) - 1) * bound)
        if linear_map == "gershgorin":
            A = gershgorin(n, lam_min, lam_max, real=real, construction="slim", batch=b, generator=generator,
                           dtype=dtype, device=device)
        elif linear_map == "softSVD":
            A = spectral_svd(n, lam_min, lam_max, construction="slim", batch=b, generator=generator, dtype=dtype,
                             device=device)
        elif linear_map == "pf":
            A_raw = (2 * _rand((*b, n, n), generator, dtype, device) - 1) * bound
            A = perron_frobenius_weight(A_raw, _rand((*b, n, n), generator, dtype, device), lam_min, lam_max).mT
        else:
            A = (2 * _rand((*b, n, n), generator, dtype, device) - 1) * bound
        weights.append(A)
    eye = torch.eye(n, dtype=dtype, device=device).expand(*b, n, n)
    weights.append(eye.clone())
    biases.append(torch.zeros(*b, n, dtype=dtype, device=device))
    return weights, (biases if bias else None)


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _check_construction(construction) -> None:
    if construction not in CONSTRUCTIONS:
        raise ValueError(f"construction: expected one of {', '.join(CONSTRUCTIONS)}, got {construction!r}")


def _check_lams(lam_min, lam_max, names=("lam_min", "lam_max")) -> tuple[float, float]:
    lo, hi = check_real(lam_min, names[0]), check_real(lam_max, names[1])
    if lo > hi:
        raise ValueError(f"{names[0]}: must not exceed {names[1]}, got {names[0]}={lo}, {names[1]}={hi}")
    return lo, hi


def _square(X, name: str) -> torch.Tensor:
    X = as_float_tensor(X, name)
    if X.ndim < 2 or X.shape[-1] != X.shape[-2]:
        raise ValueError(f"{name}: expected square matrices (..., n, n), got shape {tuple(X.shape)}")
    return X


def _batch(batch) -> tuple[int, ...]:
    if isinstance(batch, numbers.Integral) and not isinstance(batch, bool):
        batch = (batch,)
    try:
        shape = tuple(batch)
    except TypeError:
        raise ValueError(f"batch: expected an integer or a tuple of integers, got {batch!r}") from None
    if not all(isinstance(b, numbers.Integral) and not isinstance(b, bool) and b >= 0 for b in shape):
        raise ValueError(f"batch: expected nonnegative integers, got {batch!r}")
    return tuple(int(b) for b in shape)


def _rand(shape, generator, dtype, device) -> torch.Tensor:
    # draw on the CPU with the (CPU) generator, then move: the same numbers on every device
    return torch.rand(shape, generator=generator, dtype=dtype).to(device)


def _randn(shape, generator, dtype, device) -> torch.Tensor:
    return torch.randn(shape, generator=generator, dtype=dtype).to(device)


def _logit_uniform(shape, generator, dtype, device) -> torch.Tensor:
    u = _rand(shape, generator, dtype, device).clamp(1e-6, 1 - 1e-6)
    return torch.logit(u)


def _draw_perron_frobenius(n, lam_min, lam_max, batch, generator, dtype, device):
    n = check_positive_int(n, "n")
    _check_lams(lam_min, lam_max)
    shape = (*_batch(batch), n, n)
    return _randn(shape, generator, dtype, device), _logit_uniform(shape, generator, dtype, device)


def _draw_spectral(n, lam_min, lam_max, batch, generator, dtype, device):
    n = check_positive_int(n, "n")
    _check_lams(lam_min, lam_max)
    b = _batch(batch)
    U = haar_orthogonal(n, b, generator, dtype, device)
    V = haar_orthogonal(n, b, generator, dtype, device)
    return U, _logit_uniform((*b, n), generator, dtype, device), V


def _draw_gaussian(p, q, scale, batch, generator, dtype, device, var_n=None):
    p, q = check_positive_int(p, "n"), check_positive_int(q, "n")
    scale = check_real(scale, "scale")
    if scale <= 0:
        raise ValueError(f"scale: must be positive, got {scale}")
    var_n = var_n if var_n is not None else max(p, q)
    return scale * _randn((*_batch(batch), p, q), generator, dtype, device) / var_n**0.5


def _draw_gershgorin(n, real, batch, generator, dtype, device):
    n = check_positive_int(n, "n")
    if not isinstance(real, bool):
        raise ValueError(f"real: expected True or False, got {real!r}")
    u = _rand((*_batch(batch), n, n), generator, dtype, device)
    return u if real else 2 * u - 1
