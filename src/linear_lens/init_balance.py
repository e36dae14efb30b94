r"""How balanced the standard random initialisations of a two-layer linear network are (Anguita, Section 3.1).

A two-layer linear network $Y = W_2 W_1 X$ has weights $W_1 \in \mathbb{R}^{N_h \times N_i}$ (``(hidden, in)``) and
$W_2 \in \mathbb{R}^{N_o \times N_h}$ (``(out, hidden)``), and its balance computation is
$B = W_2^\top W_2 - W_1 W_1^\top$ (:func:`linear_lens.balanced.balance`, where the $\lambda$-balanced property
$B = \lambda I$ and the constructions that achieve it live). This module asks how close to $\lambda$-balanced the usual
random initialisations are: LeCun, Glorot, He and a scaled scheme (:data:`SCHEMES`, Table 3.1 of Anguita, 2024).

For i.i.d. $\mathcal{N}(0, \sigma_1^2)$ entries in $W_1$ and $\mathcal{N}(0, \sigma_2^2)$ in $W_2$, the entries of $B$
have mean $\lambda I$ with $\lambda = N_o \sigma_2^2 - N_i \sigma_1^2$, variance $2 (N_o \sigma_2^4 + N_i \sigma_1^4)$
on the diagonal and $N_o \sigma_2^4 + N_i \sigma_1^4$ off it (Theorem 3.1.1 of Anguita (2024), corrected: see errata
E09.1; :func:`balance_moments`). The module draws such initialisations in batches (:func:`random_init`), estimates the
moments by Monte Carlo with standard errors (:func:`balance_statistics`, :func:`monte_carlo_balance`), and measures how
far $B$ stays from $\lambda I$ as the widths grow (:func:`deviation_sweep`, errata E09.10).

Notation follows the thesis with the book's shapes: the thesis's layers $i, i+1, i+2$ have widths
$n_i = N_i$, $n_{i+1} = N_h$, $n_{i+2} = N_o$, and its $W_i, W_{i+1}$ are our $W_1, W_2$. Sources: Anguita (2024),
Section 3.1 and Tables 3.1-3.2; LeCun et al. (1998), Glorot & Bengio (2010), He et al. (2015) for the schemes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from linear_lens._checks import (
    as_float_tensor,
    as_generator,
    check_float_dtype,
    check_positive_int,
    check_positive_real,
)
from linear_lens.balanced import balance
from linear_lens.progress import progress
from linear_lens.sampling import randn

__all__ = [
    "SCHEMES",
    "init_variances",
    "random_init",
    "balance_moments",
    "BalanceStatistics",
    "balance_statistics",
    "monte_carlo_balance",
    "deviation_sweep",
]

SCHEMES = ("lecun", "glorot", "he", "scaled")
"""The random initialisations of Section 3.1 (Table 3.1)."""


def init_variances(
    scheme: str, n_in: int, n_hidden: int, n_out: int, alpha: tuple[float, float] | None = None
) -> tuple[float, float]:
    r"""Return the entry variances $(\sigma_1^2, \sigma_2^2)$ of $W_1$ and $W_2$ under a random initialisation.

    Fan-in and fan-out of each layer as in Table 3.1 of Anguita (2024): with widths $n_i = N_i$, $n_{i+1} = N_h$,
    $n_{i+2} = N_o$,

    - ``"lecun"``: $\sigma_1^2 = 1/N_i$, $\sigma_2^2 = 1/N_h$ (LeCun et al., 1998);
    - ``"glorot"``: $\sigma_1^2 = 2/(N_i + N_h)$, $\sigma_2^2 = 2/(N_h + N_o)$ (Glorot & Bengio, 2010);
    - ``"he"``: $\sigma_1^2 = 2/N_i$, $\sigma_2^2 = 2/N_h$ (He et al., 2015);
    - ``"scaled"``: $\sigma_1^2 = \alpha_1^2/N_i$, $\sigma_2^2 = \alpha_2^2/N_h$ with ``alpha`` $= (\alpha_1, \alpha_2)$
      (Table 3.1 squares $\alpha$; the bullet list above it does not, see errata E09.3).

    ``alpha`` is required for ``"scaled"`` and refused for the other schemes.
    """
    scheme = _check_scheme(scheme)
    n_in = check_positive_int(n_in, "n_in")
    n_hidden = check_positive_int(n_hidden, "n_hidden")
    n_out = check_positive_int(n_out, "n_out")
    if scheme == "scaled":
        if alpha is None or isinstance(alpha, (str, bytes)) or len(alpha) != 2:
            raise ValueError(f"alpha: the 'scaled' scheme needs alpha = (alpha_1, alpha_2), got {alpha!r}")
        a1 = check_positive_real(alpha[0], "alpha")
        a2 = check_positive_real(alpha[1], "alpha")
        return a1**2 / n_in, a2**2 / n_hidden
    if alpha is not None:
        raise ValueError(f"alpha: only the 'scaled' scheme takes alpha; got alpha={alpha!r} with scheme {scheme!r}")
    if scheme == "lecun":
        return 1.0 / n_in, 1.0 / n_hidden
    if scheme == "he":
        return 2.0 / n_in, 2.0 / n_hidden
    return 2.0 / (n_in + n_hidden), 2.0 / (n_hidden + n_out)


def random_init(
    scheme: str,
    n_in: int,
    n_hidden: int,
    n_out: int,
    trials: int = 1,
    alpha: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Draw ``trials`` independent weight pairs under a random initialisation scheme, as one batch.

    Entries of $W_1$ are i.i.d. $\mathcal{N}(0, \sigma_1^2)$ and of $W_2$ i.i.d. $\mathcal{N}(0, \sigma_2^2)$ with the
    variances of :func:`init_variances` (the setting of Theorem 3.1.1 of Anguita, 2024).

    ``generator``: ``None``, a ``torch.Generator`` or an ``int`` seed (draws are made on the CPU and moved to
    ``device``). Returns ``W1`` of shape ``(trials, n_hidden, n_in)`` and ``W2`` of shape ``(trials, n_out, n_hidden)``.
    """
    var1, var2 = init_variances(scheme, n_in, n_hidden, n_out, alpha)
    trials = check_positive_int(trials, "trials")
    check_float_dtype(dtype)
    generator = as_generator(generator)
    W1 = randn((trials, n_hidden, n_in), generator, dtype, device) * math.sqrt(var1)
    W2 = randn((trials, n_out, n_hidden), generator, dtype, device) * math.sqrt(var2)
    return W1, W2


def balance_moments(
    scheme: str, n_in: int, n_hidden: int, n_out: int, alpha: tuple[float, float] | None = None
) -> tuple[float, float, float]:
    r"""Return the mean $\lambda$ and the entry variances of $B = W_2^\top W_2 - W_1 W_1^\top$ under a random init.

    With $(\sigma_1^2, \sigma_2^2)$ from :func:`init_variances` and $v = N_o \sigma_2^4 + N_i \sigma_1^4$:

    $$\mathbb{E}[B] = (N_o \sigma_2^2 - N_i \sigma_1^2) I, \qquad \operatorname{Var}[B_{jj}] = 2v, \qquad
    \operatorname{Var}[B_{jl}] = v \ (j \ne l).$$

    Implements Theorem 3.1.1 and Tables 3.1-3.2 of Anguita (2024), corrected: see errata E09.1 (the theorem's
    matrix $\mathbb{B}$ has fours on the diagonal; the correct factor is two).

    Returns ``(mean, var_diag, var_offdiag)`` as floats.
    """
    var1, var2 = init_variances(scheme, n_in, n_hidden, n_out, alpha)
    v = n_out * var2**2 + n_in * var1**2
    return n_out * var2 - n_in * var1, 2.0 * v, v


class BalanceStatistics(NamedTuple):
    """Monte Carlo estimates of the moments of the entries of $B$, each with its standard error."""

    mean: float
    mean_se: float
    var_diag: float
    var_diag_se: float
    var_offdiag: float
    var_offdiag_se: float
    offdiag_mean: float
    offdiag_mean_se: float
    trials: int


def balance_statistics(B: torch.Tensor) -> BalanceStatistics:
    r"""Estimate the mean of the diagonal and the variances of diagonal and off-diagonal entries of a batch of $B$.

    ``B``: ``(trials, N_h, N_h)``, independent draws (``trials >= 2``, ``N_h >= 2``). Per draw $t$ it takes the mean
    $m_t$ of the diagonal, the mean squared deviation $d_t$ of the diagonal from the pooled mean, the mean $o_t$ of
    the strictly upper entries and their mean square $q_t$; each estimate is the average over draws, and its standard
    error is the sample standard deviation over draws divided by $\sqrt{T}$ (draws are independent; entries within a
    draw need not be).
    """
    B = as_float_tensor(B, "B")
    if B.ndim != 3 or B.shape[-1] != B.shape[-2] or B.shape[0] < 2 or B.shape[-1] < 2:
        raise ValueError(f"B: expected shape (trials, N_h, N_h) with trials >= 2 and N_h >= 2, got {tuple(B.shape)}")
    trials, n = B.shape[0], B.shape[-1]
    diag = B.diagonal(dim1=-2, dim2=-1)
    rows, cols = torch.triu_indices(n, n, offset=1, device=B.device)
    upper = B[:, rows, cols]
    pooled = diag.mean()
    correction = diag.numel() / (diag.numel() - 1)
    per_mean = diag.mean(-1)
    per_dvar = ((diag - pooled) ** 2).mean(-1) * correction
    per_off = upper.mean(-1)
    per_osq = (upper**2).mean(-1)

    def _avg(x: torch.Tensor) -> tuple[float, float]:
        return float(x.mean()), float(x.std() / math.sqrt(trials))

    m, m_se = _avg(per_mean)
    d, d_se = _avg(per_dvar)
    q, q_se = _avg(per_osq)
    o, o_se = _avg(per_off)
    return BalanceStatistics(m, m_se, d, d_se, q, q_se, o, o_se, trials)


def monte_carlo_balance(
    scheme: str,
    widths: list[tuple[int, int, int]],
    trials: int,
    alpha: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
    progress_bar: bool = True,
) -> list[BalanceStatistics]:
    r"""Monte Carlo moments of $B$ for each width triple $(N_i, N_h, N_o)$ in ``widths``, one batch per triple.

    Draws ``trials`` weight pairs with :func:`random_init` and summarises them with :func:`balance_statistics`.
    Returns one :class:`BalanceStatistics` per triple, in order.
    """
    trials = check_positive_int(trials, "trials")
    if trials < 2:
        raise ValueError(f"trials: need at least 2 draws for a standard error, got {trials}")
    generator = as_generator(generator)
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise ValueError(f"widths: expected a list of triples (n_in, n_hidden, n_out), got {widths!r}")
    widths = list(widths)
    if not widths:
        raise ValueError("widths: expected a non-empty list of triples (n_in, n_hidden, n_out)")
    out = []
    for triple in progress(widths, desc=f"Monte Carlo {scheme}", disable=not progress_bar):
        n_in, n_hidden, n_out = _check_widths(triple)
        if n_hidden < 2:
            raise ValueError(f"widths: the hidden width must be at least 2 for off-diagonal entries, got {triple}")
        W1, W2 = random_init(scheme, n_in, n_hidden, n_out, trials, alpha, generator)
        out.append(balance_statistics(balance(W1, W2)))
    return out


def deviation_sweep(
    scheme: str,
    base: tuple[int, int, int],
    scales: list[int],
    trials: int,
    alpha: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
    progress_bar: bool = True,
) -> dict[str, torch.Tensor]:
    r"""How far $B$ is from $\lambda I$ as the widths $s \cdot (N_i, N_h, N_o)$ grow with fixed ratios.

    For each scale $s$ in ``scales`` draws ``trials`` pairs (widths ``s * base``) and measures, with
    $\lambda$ from :func:`balance_moments` and $E = B - \lambda I$:

    - ``entry_sd``: the root mean square of the off-diagonal entries of $E$ (Monte Carlo), ``entry_sd_se`` its
      standard error (rows of the draws as units: entries of one row are dependent), and ``entry_sd_theory``
      $= \sqrt{v}$ with $v = N_o\sigma_2^4 + N_i\sigma_1^4$;
    - ``max_entry``: the largest $|E_{jl}|$ (mean over draws);
    - ``spectral``: $\lVert E \rVert_2$ (mean over draws), and ``frobenius_bound`` $= \sqrt{(N_h + 1) v}$, the value
      around which $\lVert E \rVert_F / \sqrt{N_h} \le \lVert E \rVert_2$ concentrates;
    - ``zero_fraction``: the fraction of eigenvalues of $B$ that vanish (below $10^{-9}$ times its norm); $B$ has rank
      at most $N_i + N_o$, so at least $N_h - N_i - N_o$ of them do.

    Returns a dict of 1-D float64 tensors indexed like ``scales`` (plus ``n_in``, ``n_hidden``, ``n_out``, ``lam``).
    """
    base = _check_widths(base)
    trials = check_positive_int(trials, "trials")
    generator = as_generator(generator)
    if isinstance(scales, (str, bytes)) or not hasattr(scales, "__len__") or not scales:
        raise ValueError("scales: expected a non-empty list of positive integers")
    scales = [check_positive_int(s, "scales") for s in scales]
    keys = ("n_in", "n_hidden", "n_out", "lam", "entry_sd", "entry_sd_se", "entry_sd_theory", "max_entry",
            "spectral", "frobenius_bound", "zero_fraction")
    rows = {k: [] for k in keys}
    for s in progress(scales, desc=f"widths sweep {scheme}", disable=not progress_bar):
        n_in, n_hidden, n_out = (s * b for b in base)
        lam, _, v = balance_moments(scheme, n_in, n_hidden, n_out, alpha)
        W1, W2 = random_init(scheme, n_in, n_hidden, n_out, trials, alpha, generator)
        B = balance(W1, W2)
        E = B - lam * torch.eye(n_hidden, dtype=B.dtype, device=B.device)
        rows_i, cols_i = torch.triu_indices(n_hidden, n_hidden, offset=1, device=B.device)
        upper = E[:, rows_i, cols_i]
        eig_B = torch.linalg.eigvalsh(B)
        eig_E = eig_B - lam  # E = B - lam I has the same eigenvectors
        tol = 1e-9 * eig_B.abs().amax(-1, keepdim=True)
        rms = float((upper**2).mean().sqrt()) if upper.numel() else float("nan")
        values = (n_in, n_hidden, n_out, lam, rms, _rms_standard_error(E, rms), math.sqrt(v),
                  float(E.abs().amax((-1, -2)).mean()), float(eig_E.abs().amax(-1).mean()),
                  math.sqrt((n_hidden + 1) * v), float((eig_B.abs() <= tol).double().mean()))
        for k, val in zip(keys, values):
            rows[k].append(val)
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in rows.items()}


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _check_widths(triple) -> tuple[int, int, int]:
    if not isinstance(triple, (tuple, list)) or len(triple) != 3:
        raise ValueError(f"widths: expected a triple (n_in, n_hidden, n_out) of positive integers, got {triple!r}")
    return tuple(check_positive_int(n, "widths") for n in triple)


def _check_scheme(scheme) -> str:
    if not isinstance(scheme, str) or scheme.lower() not in SCHEMES:
        raise ValueError(f"scheme: expected one of {', '.join(SCHEMES)}; got {scheme!r}")
    return scheme.lower()


def _rms_standard_error(E: torch.Tensor, rms: float) -> float:
    r"""Standard error of the root mean square of the off-diagonal entries of ``E`` ``(trials, n, n)``.

    Entries of one matrix are dependent (entries of a row share a column of each weight matrix), so the units of the
    error bar are the rows: $m_{t,i}$ = mean of $E_{ij}^2$ over $j \ne i$; the mean square's standard error is their
    standard deviation over $\sqrt{T n / 2}$ (each entry sits in two rows), and the root mean square's is half that
    divided by the root mean square (delta method).
    """
    trials, n = E.shape[0], E.shape[-1]
    if n < 2 or trials * n < 4 or not rms > 0:
        return float("nan")
    off = ~torch.eye(n, dtype=torch.bool, device=E.device)
    m = (E**2).masked_select(off).reshape(trials, n, n - 1).mean(-1).flatten()
    return float(m.std() / math.sqrt(trials * n / 2) / (2 * rms))
