r"""Comparing a covariance estimated from simulation with a prediction, free of the finite-sampling bias.

Simulated covariances come in independent *groups* $\hat C_b$ (trajectories or long time blocks,
:func:`linear_lens.rnn.moment_groups`). :func:`compare` estimates squared norms by U-statistics over distinct groups
(unbiased, whereas the norm of the mean is biased upwards by the sampling noise) and gives jackknife standard errors
(:class:`Estimate`): the relative Frobenius error against a prediction, the correlation of off-diagonal entries, the
participation ratio. :func:`participation_ratio` is the effective dimension of a matrix; :func:`fit_power_law` fits
$y \propto N^s$ (with optional further power-law covariates) by weighted least squares, with standard errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from linear_lens._checks import as_float_tensor

__all__ = ["Estimate", "compare", "participation_ratio", "fit_power_law"]


@dataclass(frozen=True)
class Estimate:
    """A debiased estimate with its jackknife standard error (over the independent groups)."""

    value: float
    error: float

    def __format__(self, spec: str) -> str:
        spec = spec or ".3g"
        return f"{self.value:{spec}} ± {self.error:{spec}}"


def compare(groups, prediction=None) -> dict[str, Estimate]:
    r"""Compare the covariance $C$ estimated by independent groups $\hat C_b$ with a prediction $P$, free of the
    finite-sampling bias.

    Squared norms are estimated by U-statistics over distinct groups, $\widehat{\|C\|^2} =
    \frac{1}{B(B-1)}\sum_{b \ne b'} \langle \hat C_b, \hat C_{b'}\rangle$, which are unbiased because
    $E\langle \hat C_b, \hat C_{b'}\rangle = \|C\|^2$ for independent groups, whereas $\|\bar C\|^2$ is biased
    upwards by the sampling noise. Standard errors by the jackknife over groups.

    ``groups``: ``(B, N, N)``, $B \ge 3$; ``prediction``: ``(N, N)`` or ``None``. Returns a dict of
    :class:`Estimate`:

    - ``rel_error``: $\|C - P\|_F / \|C\|_F$ (the debiased relative Frobenius error);
    - ``rel_error_offdiag``: the same over off-diagonal entries;
    - ``corr_offdiag``: $\langle C_o, P_o\rangle / (\|C_o\|\,\|P_o\|)$ over off-diagonal entries ($o$), the
      (uncentred) correlation of the entries, debiased;
    - ``offdiag_to_diag``: $\|C_o\|_F / \|C_d\|_F$, the size of cross-covariances relative to variances;
    - ``pr``: the participation ratio $(\operatorname{tr} C)^2 / \operatorname{tr} C^2$, debiased;
    - ``noise``: the relative sampling error $\|\bar C - C\|_F / \|C\|_F$ of the group mean.

    Keys that need ``prediction`` are omitted without one.
    """
    Cb = as_float_tensor(groups, "groups", dtype=torch.float64)
    if Cb.ndim != 3 or Cb.shape[-1] != Cb.shape[-2]:
        raise ValueError(f"groups: expected (B, N, N), got shape {tuple(Cb.shape)}")
    B = Cb.shape[0]
    if B < 3:
        raise ValueError(f"groups: need at least 3 independent groups for debiasing and error bars, got {B}")
    n = Cb.shape[-1]
    diag = torch.diagonal(Cb, dim1=-2, dim2=-1)  # (B, N)
    flat = Cb.reshape(B, -1)
    G = flat @ flat.T  # <C_b, C_b'>
    Gd = diag @ diag.T  # diagonal parts
    tr = diag.sum(-1)
    stats = {"G": G, "Gd": Gd, "T": tr[:, None] * tr[None, :]}
    if prediction is not None:
        P = as_float_tensor(prediction, "prediction", dtype=torch.float64).to(Cb.device)
        if tuple(P.shape) != (n, n):
            raise ValueError(f"prediction: expected shape ({n}, {n}), got {tuple(P.shape)}")
        Pd = torch.diagonal(P)
        p = flat @ P.reshape(-1)
        pd = diag @ Pd
        pp, ppd = float((P * P).sum()), float((Pd * Pd).sum())
    if not bool(Cb.any()):
        raise ValueError("groups: the covariances are all zero; the relative errors and ratios are undefined")

    def estimates(keep: torch.Tensor) -> dict[str, float]:
        m = int(keep.sum())
        off = ~torch.eye(B, dtype=torch.bool, device=Cb.device) & keep[:, None] & keep[None, :]
        u = lambda X: float(X[off].sum()) / (m * (m - 1))  # noqa: E731
        c2, c2d, trsq = u(stats["G"]), u(stats["Gd"]), u(stats["T"])
        c2o = c2 - c2d
        mean_norm = float(stats["G"][keep][:, keep].sum()) / m**2  # ||C-bar||^2, biased by the noise
        out = {
            "offdiag_to_diag": math.sqrt(max(c2o, 0.0) / c2d),
            "pr": trsq / c2,
            "noise": math.sqrt(max(mean_norm - c2, 0.0) / c2),
        }
        if prediction is not None:
            cp, cpd = float(p[keep].mean()), float(pd[keep].mean())
            cpo = cp - cpd
            out["rel_error"] = _signed_sqrt(c2 - 2 * cp + pp) / math.sqrt(c2)
            out["rel_error_offdiag"] = _signed_sqrt(c2o - 2 * cpo + (pp - ppd)) / math.sqrt(max(c2o, 1e-300))
            out["corr_offdiag"] = cpo / math.sqrt(max(c2o, 1e-300) * max(pp - ppd, 1e-300))
        return out

    everyone = torch.ones(B, dtype=torch.bool, device=Cb.device)
    full = estimates(everyone)
    loo = []
    for b in range(B):
        keep = everyone.clone()
        keep[b] = False
        loo.append(estimates(keep))
    result = {}
    for key, value in full.items():
        vals = np.array([d[key] for d in loo])
        err = math.sqrt((B - 1) / B * float(((vals - vals.mean()) ** 2).sum()))
        result[key] = Estimate(value, err)
    return result


def participation_ratio(C) -> torch.Tensor:
    r"""$(\operatorname{tr} C)^2 / \operatorname{tr}(C^2)$ of symmetric ``C`` ``(..., N, N)``: the effective dimension."""
    C = as_float_tensor(C, "C")
    if C.ndim < 2 or C.shape[-1] != C.shape[-2]:
        raise ValueError(f"C: expected square matrices (..., N, N), got shape {tuple(C.shape)}")
    tr = torch.diagonal(C, dim1=-2, dim2=-1).sum(-1)
    norm2 = (C * C).sum(dim=(-2, -1))
    if not bool((norm2 > 0).all()):
        raise ValueError("C: the participation ratio of a zero matrix is undefined")
    return tr**2 / norm2


def fit_power_law(n, value, error, **factors) -> tuple[Estimate, ...]:
    r"""Weighted least-squares fit of $\log y = \log A + s \log N$; returns ``(slope, log_amplitude)``.

    ``n``: sizes $N$; ``value``: $y > 0$; ``error``: standard errors of $y$ (> 0), propagated as
    $\sigma_{\log y} = \sigma_y / y$. The errors are the fit's standard errors, scaled by $\sqrt{\chi^2/\text{dof}}$
    when that exceeds 1 (scatter beyond the error bars). Needs one more point than parameters.

    Further positive covariates, given by name (``margin=m``), enter as further power laws,
    $\log y = \log A + s\log N + \sum_k e_k \log x_k$, and their exponents are returned after the slope,
    ``(slope, e_1, ..., log_amplitude)``: the slope in $N$ is then the one at fixed covariates.
    """
    n = np.asarray(as_float_tensor(n, "n"))
    y = np.asarray(as_float_tensor(value, "value"))
    e = np.asarray(as_float_tensor(error, "error"))
    if not (n.shape == y.shape == e.shape) or n.ndim != 1:
        raise ValueError(f"n, value, error: expected three 1-D arrays of one length, got {n.shape}, {y.shape}, {e.shape}")
    columns = [n]
    for name, x in factors.items():
        x = np.asarray(as_float_tensor(x, name))
        if x.shape != n.shape:
            raise ValueError(f"{name}: expected the shape of n, {n.shape}, got {x.shape}")
        if np.any(x <= 0):
            raise ValueError(f"{name}: a power-law covariate must be positive")
        columns.append(x)
    k = len(columns) + 1
    if n.size < k + 1:
        raise ValueError(f"n: need at least {k + 1} points for a fit of {k} parameters with an error, got {n.size}")
    if np.any(n <= 0) or np.any(y <= 0) or np.any(e <= 0):
        raise ValueError("n, value, error: a power-law fit needs positive sizes, values and errors")
    X = np.stack([np.log(c) for c in columns] + [np.ones_like(n)], axis=1)
    w = (y / e) ** 2
    A = X.T @ (w[:, None] * X)
    coef = np.linalg.solve(A, X.T @ (w * np.log(y)))
    cov = np.linalg.inv(A)
    chi2 = float((w * (np.log(y) - X @ coef) ** 2).sum()) / (n.size - k)
    cov = cov * max(chi2, 1.0)
    return tuple(Estimate(float(c), math.sqrt(cov[i, i])) for i, c in enumerate(coef))


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _signed_sqrt(x: float) -> float:
    """sqrt(x) for x >= 0 and -sqrt(-x) for x < 0: a debiased squared norm can come out negative by noise."""
    return math.copysign(math.sqrt(abs(x)), x)
