r"""The sweep that tests the linear equivalence of random recurrent networks over sizes $N$ and coupling strengths $g$.

For each $N$ and $g$, :func:`equivalence_sweep` draws couplings (:func:`linear_lens.rnn.couplings`), flags those whose
linear-equivalent network is unstable, simulates the others (:func:`linear_lens.rnn.simulate`, with their largest
Lyapunov exponent), and compares their simulated $C^\phi$ (:func:`linear_lens.covariance_comparison.compare`) with
the linear-equivalent prediction (:func:`linear_lens.linear_equivalence.linear_equivalent_covariance`) and its two
controls: another realisation of $J$, and the naive closure. Chapter 17 of the book.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from linear_lens._checks import (
    as_generator, check_float_dtype, check_positive_int, check_positive_real, check_real, check_sequence,
)
from linear_lens.covariance_comparison import compare, participation_ratio
from linear_lens.linear_equivalence import (
    _solution_gain,
    eigenbasis,
    linear_equivalent_covariance,
    naive_closure_covariance,
)
from linear_lens.rnn import couplings, moment_groups, population_autocorrelation, simulate

__all__ = ["SWEEP_METRICS", "SweepResult", "equivalence_sweep"]

#: Metrics of :func:`linear_lens.covariance_comparison.compare` kept by :func:`equivalence_sweep`, per prediction.
SWEEP_METRICS = ("rel_error", "rel_error_offdiag", "corr_offdiag")


@dataclass(frozen=True)
class SweepResult:
    r"""What :func:`equivalence_sweep` measured. Arrays are indexed ``[g, N, realisation]``.

    ``g``, ``n``: the grids; ``margin``: $1 - \max_k \operatorname{Re}(a\lambda_k)$ of the simulated realisations
    (all $> 0$); ``lyapunov``: the largest Lyapunov exponent of each simulated realisation; ``chaotic``: whether
    the simulated network still moves (the mean square change of $x$ over 10 time units exceeds 1% of its mean
    square) and its Lyapunov exponent exceeds ``min_lyapunov``, rather than having settled on a fixed point or a
    limit cycle, as small networks sometimes do (metrics are NaN for those); ``flagged``: ``[g, N]`` the fraction of drawn realisations with margin $\le 0$ (unstable linear
    network, prediction undefined), over ``n_draws`` draws; ``naive_defined``: whether $a\rho(J) < 1$;
    ``metrics[(prediction, metric)]``: value and error arrays for prediction in ``("linear", "other", "naive")``
    (``other``: the linear-equivalent prediction of another accepted realisation of the same $g$ and $N$) and
    metric in :data:`SWEEP_METRICS` (NaN where the naive closure is undefined); ``pr_sim``, ``pr_linear``:
    participation ratios (simulated, debiased, and predicted); ``ratio_phi``, ``ratio_residual``: the debiased
    $\|C_o\|_F/\|C_d\|_F$ (off-diagonal over diagonal) of $\phi$ and of the residual $\phi - a x$; ``noise``:
    the relative sampling error of the simulated $C^\phi$; ``lags``: times of ``cx``, ``cphi`` ``[g, N, r, lag]``,
    the population autocorrelations and their standard errors ``cx_err``, ``cphi_err``; ``seconds``: wall time.
    """

    g: np.ndarray
    n: np.ndarray
    n_draws: int
    margin: np.ndarray
    lyapunov: np.ndarray
    flagged: np.ndarray
    naive_defined: np.ndarray
    chaotic: np.ndarray
    metrics: dict
    pr_sim: tuple
    pr_linear: np.ndarray
    ratio_phi: tuple
    ratio_residual: tuple
    noise: np.ndarray
    lags: np.ndarray
    cx: np.ndarray
    cx_err: np.ndarray
    cphi: np.ndarray
    cphi_err: np.ndarray
    seconds: float


def equivalence_sweep(
    solutions,
    sizes,
    *,
    n_real: int = 2,
    n_draws: int = 6,
    n_traj: int = 6,
    t_burn: float = 100.0,
    t_record: float = 250.0,
    dt: float = 0.2,
    sample_every: float = 0.4,
    max_lag: float = 30.0,
    min_lyapunov: float = 0.01,
    generator=None,
    dtype: torch.dtype = torch.float32,
    device=None,
    progress: bool = False,
) -> SweepResult:
    r"""Simulate networks at several $g$ and $N$ and compare their $C^\phi$ with the linear-equivalent prediction
    and its two controls (another realisation of $J$; the naive closure).

    For each $N$ in ``sizes``, ``n_draws`` Gaussian matrices $G$ ($G_{ij} \sim \mathcal N(0, 1/N)$) are drawn and
    diagonalised once; the couplings are $J = gG$ for every $g$ (common random numbers: one eigendecomposition
    serves all $g$). A draw is flagged at a given $g$ when $\max\operatorname{Re}(a\lambda_J) \ge 1$; the first
    ``n_real`` unflagged draws ($\ge 2$) are simulated (``n_traj`` trajectories each, RK4 step ``dt`` in
    ``dtype`` on ``device``, burn-in ``t_burn``, then ``t_record`` recorded every ``sample_every``), and every
    trajectory is one group of :func:`linear_lens.covariance_comparison.compare`. Statistics and predictions are computed in float64. A
    realisation counts as chaotic, and is compared, when it still moves and the largest Lyapunov exponent of its
    first trajectory (:func:`linear_lens.rnn.simulate`) exceeds ``min_lyapunov``: over ``t_record = 250`` a limit cycle's
    exponent, zero in theory, measures within about 0.005 of zero.

    ``solutions``: :class:`linear_lens.dmft.DMFTSolution` per $g$; ``sizes``: increasing $N$ values.
    Returns a :class:`SweepResult`. Raises ``ValueError`` if fewer than ``n_real`` draws are unflagged.
    """
    import time

    solutions = check_sequence(solutions, "solutions")
    if not solutions:
        raise ValueError("solutions: expected at least one DMFT solution")
    for s in solutions:
        _solution_gain(s)
    sizes = [check_positive_int(n, "sizes") for n in check_sequence(sizes, "sizes")]
    if not sizes or any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError(f"sizes: expected increasing positive integers, got {sizes}")
    n_real = check_positive_int(n_real, "n_real")
    if n_real < 2:
        raise ValueError(f"n_real: the other-realisation control needs at least 2, got {n_real}")
    n_draws = check_positive_int(n_draws, "n_draws")
    if n_draws < n_real:
        raise ValueError(f"n_draws: at least n_real = {n_real}, got {n_draws}")
    n_traj = check_positive_int(n_traj, "n_traj")
    if n_traj < 3:
        raise ValueError(f"n_traj: debiasing and error bars need at least 3 trajectories, got {n_traj}")
    dt = check_positive_real(dt, "dt")
    sample_every = check_positive_real(sample_every, "sample_every")
    every = int(round(sample_every / dt))
    if every < 1 or abs(every * dt - sample_every) > 1e-9 * sample_every:
        raise ValueError(f"sample_every: expected a positive multiple of dt = {dt}, got {sample_every}")
    max_lag = check_positive_real(max_lag, "max_lag")
    min_lyapunov = check_real(min_lyapunov, "min_lyapunov")
    check_float_dtype(dtype)
    gen = as_generator(generator)
    start = time.perf_counter()
    G, S, R = len(solutions), len(sizes), n_real
    nan = lambda *shape: np.full(shape, np.nan)  # noqa: E731
    margin = nan(G, S, R)
    flagged = np.zeros((G, S))
    naive_defined = np.zeros((G, S, R), dtype=bool)
    chaotic = np.zeros((G, S, R), dtype=bool)
    lyapunov = nan(G, S, R)
    metrics = {(p, m): (nan(G, S, R), nan(G, S, R)) for p in ("linear", "other", "naive") for m in SWEEP_METRICS}
    pr_sim, pr_linear = (nan(G, S, R), nan(G, S, R)), nan(G, S, R)
    ratio_phi, ratio_residual = (nan(G, S, R), nan(G, S, R)), (nan(G, S, R), nan(G, S, R))
    noise = nan(G, S, R)
    n_lag = int(round(max_lag / sample_every))
    lags = np.arange(n_lag + 1) * sample_every
    cx, cx_err, cphi, cphi_err = (nan(G, S, R, n_lag + 1) for _ in range(4))
    gains = np.array([s.a for s in solutions])
    gs = np.array([s.g for s in solutions])
    steps = [(j, n) for j, n in enumerate(sizes)]
    if progress:
        from linear_lens.progress import progress as _bar

        steps = _bar(steps, desc="sizes", total=len(steps))
    for j, n in steps:
        base = couplings(n, 1.0, batch=(n_draws,), generator=gen).to(device)
        bases = [eigenbasis(base[d]) for d in range(n_draws)]
        edge = np.array([float(b[0].real.max()) for b in bases])  # max Re eigenvalue of G
        radius = np.array([float(b[0].abs().max()) for b in bases])
        chosen = []
        for i in range(G):
            m_all = 1 - gains[i] * gs[i] * edge
            flagged[i, j] = float((m_all <= 0).mean())
            ok = np.flatnonzero(m_all > 0)
            if ok.size < R:
                raise ValueError(
                    f"n_draws: only {ok.size} of {n_draws} draws are stable at g = {gs[i]}, N = {n}; need {R}")
            chosen.append(ok[:R])
            margin[i, j] = m_all[ok[:R]]
            naive_defined[i, j] = gains[i] * gs[i] * radius[ok[:R]] < 1
        J = torch.stack([gs[i] * base[chosen[i][r]] for i in range(G) for r in range(R)])
        x, lyap = simulate(J.to(dtype=dtype), n_traj=n_traj, t_burn=t_burn, t_record=t_record, dt=dt,
                           record_every=every, generator=gen, lyapunov=True)
        lyapunov[:, j] = lyap.cpu().numpy().reshape(G, R)
        preds = {}
        for i in range(G):
            for r in range(R):
                lam, V, Vi = bases[chosen[i][r]]
                basis = (gs[i] * lam, V, Vi)
                preds[i, r] = linear_equivalent_covariance(gs[i] * base[chosen[i][r]], solutions[i], basis)
                if naive_defined[i, j, r]:
                    preds[i, r, "naive"] = naive_closure_covariance(gs[i] * base[chosen[i][r]], solutions[i], basis)
        for i in range(G):
            a = float(gains[i])
            for r in range(R):
                xr = x[i * R + r].to(torch.float64)
                lag = min(max(int(round(10.0 / (dt * every))), 1), xr.shape[-2] - 1)
                change = float(((xr[..., lag:, :] - xr[..., :-lag, :]) ** 2).mean() / (xr * xr).mean())
                chaotic[i, j, r] = change > 1e-2 and lyapunov[i, j, r] > min_lyapunov
                if not chaotic[i, j, r]:
                    continue
                phi = torch.tanh(xr)
                groups = moment_groups(phi)
                others = {"linear": preds[i, r], "other": preds[i, (r + 1) % R]}
                if naive_defined[i, j, r]:
                    others["naive"] = preds[i, r, "naive"]
                for name, P in others.items():
                    res = compare(groups, P)
                    for m in SWEEP_METRICS:
                        metrics[name, m][0][i, j, r] = res[m].value
                        metrics[name, m][1][i, j, r] = res[m].error
                    if name == "linear":
                        pr_sim[0][i, j, r], pr_sim[1][i, j, r] = res["pr"].value, res["pr"].error
                        ratio_phi[0][i, j, r], ratio_phi[1][i, j, r] = (res["offdiag_to_diag"].value,
                                                                        res["offdiag_to_diag"].error)
                        noise[i, j, r] = res["noise"].value
                pr_linear[i, j, r] = float(participation_ratio(preds[i, r]))
                res = compare(moment_groups(phi - a * xr))
                ratio_residual[0][i, j, r] = res["offdiag_to_diag"].value
                ratio_residual[1][i, j, r] = res["offdiag_to_diag"].error
                for store, err, values in ((cx, cx_err, xr), (cphi, cphi_err, phi)):
                    mean, se = population_autocorrelation(values, min(n_lag, values.shape[-2] - 1))
                    store[i, j, r, : mean.numel()] = mean.cpu().numpy()
                    err[i, j, r, : se.numel()] = se.cpu().numpy()
    return SweepResult(
        g=gs, n=np.array(sizes), n_draws=n_draws, margin=margin, lyapunov=lyapunov, flagged=flagged, naive_defined=naive_defined, chaotic=chaotic,
        metrics=metrics, pr_sim=pr_sim, pr_linear=pr_linear, ratio_phi=ratio_phi, ratio_residual=ratio_residual,
        noise=noise, lags=lags, cx=cx, cx_err=cx_err, cphi=cphi, cphi_err=cphi_err,
        seconds=time.perf_counter() - start,
    )
