r"""Random recurrent networks $\dot x = -x + J\phi(x)$: batched simulation, covariances, and their linear equivalent.

Notation (Clark, 2026): $N$ units, couplings $J_{ij} \sim \mathcal N(0, g^2/N)$, $\phi = \tanh$. Dynamic mean-field
theory (:mod:`linear_lens.dmft`) gives the gain $a = \langle\phi'\rangle$ and the residual spectrum $D(\omega)$.
Write $\phi(x) = a x + \xi$ and $x(\omega) = J\phi(\omega)/(1 + i\omega)$: then, exactly,

$$\phi(\omega) = S(\omega) J \phi(\omega) + \xi(\omega), \qquad S(\omega) = \frac{a}{1 + i\omega}.$$

The *linear-equivalent* claim is that, for one typical realisation of $J$ at large $N$, the residuals act as
independent noise with spectrum $D(\omega)$, so that the covariance of $\phi$ is that of a linear network,

$$C^\phi(\omega) = (I - S J)^{-1} D(\omega) (I - S J)^{-H}, \qquad
  C^\phi = \int \frac{d\omega}{2\pi}\, C^\phi(\omega) \quad\text{(equal time)}.$$

It needs the linear network to be stable, $\max_k \operatorname{Re}(a\lambda_k) < 1$ over the eigenvalues $\lambda_k$
of $J$. The *naive Gaussian closure* instead treats $\phi_i, \phi_j$ ($i \ne j$) as Gaussian with Price's theorem,
$C^\phi_{ij} = a^2 C^x_{ij}$, and keeps the single-site spectrum; it gives the Stein equation
$C^\phi(\omega) = |S|^2 J C^\phi(\omega) J^\top + D(\omega) I$, which drops the cross terms
$S J C^\phi + C^\phi J^\top S^*$ (this book's reading of the naive closure of Clark, 2026).

Both predictions are computed in $J$'s eigenbasis $J = V\Lambda V^{-1}$: one eigendecomposition, then $O(N^2)$
work per frequency for an integral over frequencies (a spectrum returned as full matrices costs the change of
basis, $O(N^3)$, at each frequency); the equal-time integrals have closed forms in the one-sided Laplace transform
$L(\kappa) = \int_0^\infty D(\tau) e^{-\kappa\tau} d\tau$ of the residual autocorrelation.

Simulation: classical Runge-Kutta (RK4), batched over realisations of $J$ (leading dimensions) and trajectories,
on any torch device. Covariance estimates come in *groups* (independent trajectories or long time blocks) so that
the finite-sampling noise can be estimated and removed (:func:`compare`).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np
import torch

from linear_lens._threads import single_thread
from linear_lens._checks import (
    as_float_tensor,
    as_generator,
    check_positive_int,
    check_positive_real,
    check_real,
)

__all__ = [
    "couplings",
    "simulate",
    "moment_groups",
    "cross_spectrum",
    "population_autocorrelation",
    "eigenbasis",
    "max_real_gain",
    "linear_equivalent_spectrum",
    "linear_equivalent_covariance",
    "naive_closure_spectrum",
    "naive_closure_covariance",
    "direct_spectrum",
    "Estimate",
    "compare",
    "participation_ratio",
    "fit_power_law",
    "SweepResult",
    "equivalence_sweep",
]


# ---------------------------------------------------------------------------------------------------------------
# The network and its simulation
# ---------------------------------------------------------------------------------------------------------------


def couplings(n: int, g: float, batch=(), generator=None, dtype: torch.dtype = torch.float64, device=None):
    r"""Random couplings $J_{ij} \sim \mathcal N(0, g^2/N)$ of shape ``(*batch, n, n)``.

    ``n``: the number of units $N$; ``g > 0``: the coupling strength; ``generator``: ``None``, a
    ``torch.Generator`` or an ``int`` seed. Drawn on the CPU and moved to ``device``, so a seed gives the same
    matrix on every device.
    """
    n = check_positive_int(n, "n")
    g = check_positive_real(g, "g")
    batch = (batch,) if isinstance(batch, int) else tuple(batch)
    for b in batch:
        check_positive_int(b, "batch")
    J = torch.randn((*batch, n, n), generator=as_generator(generator), dtype=torch.float64) * (g / math.sqrt(n))
    return J.to(dtype=dtype, device=device)


def simulate(
    J,
    *,
    n_traj: int,
    t_burn: float,
    t_record: float,
    dt: float = 0.1,
    record_every: int = 5,
    x0=None,
    generator=None,
    progress: bool = False,
    lyapunov: bool = False,
):
    r"""Integrate $\dot x = -x + J\tanh(x)$ with RK4 and return the recorded states.

    ``J``: ``(..., N, N)``, one or a batch of coupling matrices (float32 or float64, any device);
    ``n_traj``: independent trajectories per matrix, started from $x_i(0) \sim \mathcal N(0, 1)$ (or ``x0`` of
    shape ``(..., n_traj, N)``); ``t_burn``: time discarded first; ``t_record``: time recorded after it;
    ``dt``: the RK4 step; ``record_every``: record every so many steps (sampling interval ``dt * record_every``).

    Returns ``x`` of shape ``(..., n_traj, n_samples, N)`` with ``n_samples = floor(t_record / (dt *
    record_every))``, in ``J``'s dtype and device. With ``lyapunov=True`` returns ``(x, exponent)``: the largest
    Lyapunov exponent of the first trajectory of each matrix, ``(...)`` in float64, from a tangent vector
    $\dot\delta = -\delta + J(\phi'(x)\odot\delta)$ integrated by the same RK4 steps (started along
    $(1, \dots, 1)$, aligned during the burn-in, renormalised every step; the exponent is its mean logarithmic
    growth rate over the recorded time). It is $> 0$ on a chaotic attractor and $\le 0$, up to $O(1/t_{record})$,
    on a fixed point or a limit cycle. Raises ``ValueError`` for a non-square ``J``, a step that is
    not positive or larger than 0.5 (RK4 is then neither accurate nor stable for $g \le 5$), or a record
    interval shorter than one sample.
    """
    J = _check_couplings(J)
    n = J.shape[-1]
    n_traj = check_positive_int(n_traj, "n_traj")
    dt = check_positive_real(dt, "dt")
    if dt > 0.5:
        raise ValueError(f"dt: RK4 on this network needs a step of at most 0.5, got {dt}")
    t_burn = check_real(t_burn, "t_burn")
    if t_burn < 0:
        raise ValueError(f"t_burn: expected a nonnegative time, got {t_burn}")
    t_record = check_positive_real(t_record, "t_record")
    record_every = check_positive_int(record_every, "record_every")
    n_samples = int(math.floor(t_record / (dt * record_every) + 1e-9))
    if n_samples < 1:
        raise ValueError(f"t_record: shorter than one sampling interval dt * record_every = {dt * record_every}")
    shape = (*J.shape[:-2], n_traj, n)
    if x0 is None:
        x = torch.randn(shape, generator=as_generator(generator), dtype=torch.float64).to(J.dtype).to(J.device)
    else:
        x = as_float_tensor(x0, "x0").to(dtype=J.dtype, device=J.device)
        if tuple(x.shape) != shape:
            raise ValueError(f"x0: expected shape {shape}, got {tuple(x.shape)}")
    Jt = J.mT.contiguous()

    def rhs(y):
        return torch.tanh(y) @ Jt - y

    if lyapunov:  # the tangent vector rides along as one more row, multiplied by J in the same product

        def rhs(y):
            t = torch.tanh(y)
            slope = 1 - t[..., :1, :] ** 2  # phi' along the first trajectory
            t = torch.cat([t[..., :-1, :], slope * y[..., -1:, :]], dim=-2)
            return t @ Jt - y

        x = torch.cat([x, torch.ones_like(x[..., :1, :]) / math.sqrt(n)], dim=-2)
        growth = torch.zeros(J.shape[:-2], dtype=torch.float64, device=J.device)

    def step(y):
        k1 = rhs(y)
        k2 = rhs(y + (dt / 2) * k1)
        k3 = rhs(y + (dt / 2) * k2)
        k4 = rhs(y + dt * k3)
        return y + (dt / 6) * (k1 + 2 * k2 + 2 * k3 + k4)

    n_burn = int(round(t_burn / dt))
    out = torch.empty((*J.shape[:-2], n_traj, n_samples, n), dtype=J.dtype, device=J.device)
    steps = range(n_burn + n_samples * record_every)
    if progress:
        from linear_lens.progress import progress as _bar

        steps = _bar(steps, desc=f"RK4, N = {n}", total=len(steps))
    # Each step is a few small matrix products: on the CPU one thread avoids the cost of synchronising threads
    # (and of oversubscription on a shared machine), which exceeds the gain at these sizes.
    threads = single_thread() if J.device.type == "cpu" else contextlib.nullcontext()
    with torch.no_grad(), threads:
        for s in steps:
            x = step(x)
            r = s + 1 - n_burn
            if lyapunov:
                norm = torch.linalg.vector_norm(x[..., -1, :], dim=-1)
                if r > 0:
                    growth += torch.log(norm.to(torch.float64))
                x[..., -1, :] /= norm[..., None]
            if r > 0 and r % record_every == 0:
                out[..., r // record_every - 1, :] = x[..., :n_traj, :]
    if not bool(torch.isfinite(out).all()):
        raise FloatingPointError("simulate: the trajectory left the floating-point range; reduce dt")
    if lyapunov:
        return out, growth / (n_samples * record_every * dt)
    return out


def moment_groups(values, n_blocks: int = 1) -> torch.Tensor:
    r"""Second moments $\hat C_b = \frac1T \sum_t y(t) y(t)^\top$ of recorded activity, one per group.

    ``values``: ``(..., n_traj, n_samples, N)`` (for example $\phi(x)$ or the residual $\phi(x) - a x$ of
    :func:`simulate`'s output); ``n_blocks``: split each trajectory into that many consecutive time blocks.
    Returns ``(..., n_traj * n_blocks, N, N)``: the groups, independent when the trajectories are and nearly so
    when blocks are much longer than the correlation time. The activity has mean zero by the symmetry
    $x \to -x$ of an odd $\phi$, so second moments are covariances and no mean is subtracted (which would bias them).
    """
    y = as_float_tensor(values, "values")
    if y.ndim < 3:
        raise ValueError(f"values: expected (..., n_traj, n_samples, N), got shape {tuple(y.shape)}")
    n_blocks = check_positive_int(n_blocks, "n_blocks")
    t = y.shape[-2]
    if n_blocks > t:
        raise ValueError(f"n_blocks: at most the number of samples {t}, got {n_blocks}")
    length = t // n_blocks
    y = y[..., : length * n_blocks, :]
    y = y.reshape(*y.shape[:-3], y.shape[-3] * n_blocks, length, y.shape[-1])
    return y.mT @ y / length


def cross_spectrum(values, dt_sample: float, omega, segment: int) -> torch.Tensor:
    r"""Frequency-resolved covariance $\hat C(\omega) = \langle \hat y(\omega) \hat y(\omega)^H\rangle / T_s$ (Welch).

    ``values``: ``(..., n_traj, n_samples, N)``; ``dt_sample``: time between samples; ``omega``: ``(F,)`` angular
    frequencies; ``segment``: samples per segment (a Hann window, half-overlapping segments, averaged over segments
    and trajectories). Normalised so that $\int \hat C(\omega)\,d\omega/2\pi$ estimates the equal-time covariance;
    the window blurs features narrower than about $2\pi / (\text{segment} \cdot \text{dt\_sample})$.
    Returns ``(..., F, N, N)`` complex Hermitian matrices.
    """
    y = as_float_tensor(values, "values")
    if y.ndim < 3:
        raise ValueError(f"values: expected (..., n_traj, n_samples, N), got shape {tuple(y.shape)}")
    dt_sample = check_positive_real(dt_sample, "dt_sample")
    segment = check_positive_int(segment, "segment")
    if segment < 4 or segment > y.shape[-2]:
        raise ValueError(f"segment: expected 4 <= segment <= n_samples = {y.shape[-2]}, got {segment}")
    w = as_float_tensor(omega, "omega", dtype=y.dtype).to(y.device).reshape(-1)
    hop = max(segment // 2, 1)
    starts = range(0, y.shape[-2] - segment + 1, hop)
    window = torch.hann_window(segment, periodic=False, dtype=y.dtype, device=y.device)
    t = torch.arange(segment, dtype=y.dtype, device=y.device) * dt_sample
    basis = torch.exp(-1j * w[:, None] * t[None, :]) * window * dt_sample  # (F, segment)
    norm = float((window**2).sum()) * dt_sample
    ctype = torch.complex128 if y.dtype == torch.float64 else torch.complex64
    total = None
    count = 0
    for s in starts:
        seg = y[..., s:s + segment, :].to(ctype)  # (..., B, segment, N)
        f = basis.to(ctype) @ seg  # (..., B, F, N)
        contrib = (f.unsqueeze(-1) * f.conj().unsqueeze(-2)).sum(dim=-4)  # (..., F, N, N)
        total = contrib if total is None else total + contrib
        count += y.shape[-3]
    return total / (count * norm)


def population_autocorrelation(values, max_lag: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Population-averaged autocorrelation $\frac1N \sum_i \langle y_i(t) y_i(t+\tau)\rangle_t$ at lags
    $0, \dots, \text{max\_lag}$ samples, with its standard error across trajectories.

    ``values``: ``(..., n_traj, n_samples, N)``; every trajectory (all leading dimensions together) gives one
    estimate (time average by FFT, unbiased by the overlap count). Returns ``(mean, stderr)``, each ``(max_lag+1,)``.
    """
    y = as_float_tensor(values, "values")
    if y.ndim < 3:
        raise ValueError(f"values: expected (..., n_traj, n_samples, N), got shape {tuple(y.shape)}")
    t = y.shape[-2]
    max_lag = check_positive_int(max_lag, "max_lag")
    if max_lag >= t:
        raise ValueError(f"max_lag: at most n_samples - 1 = {t - 1}, got {max_lag}")
    y = y.reshape(-1, t, y.shape[-1])
    size = 1 << (2 * t - 1).bit_length()
    f = torch.fft.rfft(y, n=size, dim=-2)
    corr = torch.fft.irfft(f * f.conj(), n=size, dim=-2)[:, : max_lag + 1, :].mean(dim=-1)
    corr = corr / torch.arange(t, t - max_lag - 1, -1, dtype=y.dtype, device=y.device)
    mean = corr.mean(dim=0)
    err = corr.std(dim=0) / math.sqrt(corr.shape[0]) if corr.shape[0] > 1 else torch.full_like(mean, float("nan"))
    return mean, err


# ---------------------------------------------------------------------------------------------------------------
# Linear-equivalent and naive-closure predictions
# ---------------------------------------------------------------------------------------------------------------


def eigenbasis(J) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Eigendecomposition $J = V \Lambda V^{-1}$: returns ``(lam, V, V_inv)``, complex, on ``J``'s device.

    ``J``: ``(..., N, N)`` real. On the CPU with one thread (LAPACK's threads gain little at these sizes and
    lose much on a shared machine).
    """
    J = _check_couplings(J).to(torch.float64)
    threads = single_thread() if J.device.type == "cpu" else contextlib.nullcontext()
    with threads:
        lam, V = torch.linalg.eig(J)
        return lam, V, torch.linalg.inv(V)


def max_real_gain(J, a: float) -> torch.Tensor:
    r"""$\max_k \operatorname{Re}(a\lambda_k)$ over the eigenvalues of $J$: the linear-equivalent network is stable
    (and its prediction defined) only when this is below 1. ``J``: ``(..., N, N)``; returns ``(...)``."""
    J = _check_couplings(J)
    a = check_positive_real(a, "a")
    threads = single_thread() if J.device.type == "cpu" else contextlib.nullcontext()
    with threads:
        lam = torch.linalg.eigvals(J.to(torch.float64))
    return (a * lam.real).amax(dim=-1)


def linear_equivalent_spectrum(J, a: float, D, omega, basis=None) -> torch.Tensor:
    r"""$C^\phi(\omega) = (I - S J)^{-1} D(\omega) (I - S J)^{-H}$ with $S = a/(1 + i\omega)$, in $J$'s eigenbasis.

    With $J = V\Lambda V^{-1}$ and $u_k(\omega) = 1/(1 - S(\omega)\lambda_k)$:
    $C^\phi(\omega) = V \bigl[D(\omega)\, u u^H \circ V^{-1}V^{-H}\bigr] V^H$ (eq. of the linear equivalence of
    Clark, 2026). ``J``: ``(N, N)``; ``a``: the gain; ``D``: ``(F,)`` values $D(\omega)$; ``omega``: ``(F,)``;
    ``basis``: an :func:`eigenbasis` of ``J`` to reuse. Returns ``(F, N, N)`` complex.
    Raises ``ValueError`` if some $1 - S(\omega)\lambda_k$ vanishes (to roundoff) at a requested frequency.
    """
    J, a, D, w = _check_prediction_inputs(J, a, D, omega)
    lam, V, Vi = basis if basis is not None else eigenbasis(J)
    S = a / (1 + 1j * w)
    den = 1 - S[:, None] * lam[None, :]
    if bool((den.abs() < 1e-12).any()):
        raise ValueError("omega: I - S(omega) J is singular at a requested frequency")
    u = 1 / den  # (F, N)
    M = Vi @ Vi.mH
    inner = D[:, None, None] * u[:, :, None] * u.conj()[:, None, :] * M
    return V @ inner @ V.mH


def naive_closure_spectrum(J, a: float, D, omega, basis=None) -> torch.Tensor:
    r"""The naive-closure spectrum: the solution of $C(\omega) = |S|^2 J C(\omega) J^\top + D(\omega) I$.

    In the eigenbasis: $C = V \bigl[D\,(V^{-1}V^{-\top}) \oslash (1 - |S|^2 \lambda_k\lambda_l)\bigr] V^\top$.
    Arguments as :func:`linear_equivalent_spectrum`. Returns ``(F, N, N)`` complex (real to roundoff).
    """
    J, a, D, w = _check_prediction_inputs(J, a, D, omega)
    lam, V, Vi = basis if basis is not None else eigenbasis(J)
    s2 = a * a / (1 + w * w)
    den = 1 - s2[:, None, None] * lam[None, :, None] * lam[None, None, :]
    if bool((den.abs() < 1e-12).any()):
        raise ValueError("omega: the naive-closure equation is singular at a requested frequency")
    Mt = Vi @ Vi.mT
    return V @ (D[:, None, None] * Mt / den) @ V.mT


def direct_spectrum(J, a: float, D, omega, closure: str = "linear") -> torch.Tensor:
    r"""The same spectra by direct dense linear algebra, one frequency at a time (a check of the eigenbasis forms).

    ``closure="linear"``: $(I - SJ)^{-1} D (I - SJ)^{-H}$ by a linear solve; ``"naive"``: the Stein equation
    $C = |S|^2 J C J^\top + D I$ by its Kronecker form (small $N$ only, $N \le 30$).
    """
    J, a, D, w = _check_prediction_inputs(J, a, D, omega)
    n = J.shape[-1]
    Jc = J.to(torch.complex128)
    S = (a / (1 + 1j * w))[:, None, None]
    if closure == "linear":
        eye = torch.eye(n, dtype=torch.complex128, device=J.device)
        # one frequency at a time: batched complex LU solves hit an MKL error (ZLASWP) at some sizes
        R = torch.stack([torch.linalg.solve(eye - S[k] * Jc, eye) for k in range(w.numel())])
        return D[:, None, None] * R @ R.mH
    if closure == "naive":
        if n > 30:
            raise ValueError(f"J: the Kronecker solve of the naive closure is for N <= 30, got N = {n}")
        K = torch.eye(n * n, dtype=torch.complex128, device=J.device) - S.abs() ** 2 * torch.kron(Jc, Jc)
        rhs = D[:, None] * torch.eye(n, dtype=torch.complex128, device=J.device).reshape(1, -1)
        return torch.stack([torch.linalg.solve(K[k], rhs[k]) for k in range(w.numel())]).reshape(-1, n, n)
    raise ValueError(f"closure: expected 'linear' or 'naive', got {closure!r}")


def linear_equivalent_covariance(J, solution, basis=None, *, method: str = "laplace", n_omega: int = 4096):
    r"""The equal-time linear-equivalent covariance $C^\phi = \int \frac{d\omega}{2\pi} (I - SJ)^{-1} D (I - SJ)^{-H}$.

    ``method="laplace"`` (exact given $D(\tau)$): with $\mu_k = a\lambda_k$, $\kappa_k = 1 - \mu_k$ and
    $L_k = \int_0^\infty D(\tau) e^{-\kappa_k\tau}d\tau$, $C^\phi = V [K \circ V^{-1}V^{-H}] V^H$ where

    $$K_{kl} = D(0) + \mu_k L_k + \bar\mu_l \bar L_l + \mu_k\bar\mu_l\,\frac{L_k + \bar L_l}{\kappa_k + \bar\kappa_l}$$

    (the transfer function $1 + \mu_k/(1 + i\omega - \mu_k)$ is a delta plus an exponential in time).
    ``method="quadrature"``: $K = \sum_\omega w_\omega D(\omega)\, u(\omega) u(\omega)^H$ on ``n_omega``
    Gauss-Legendre nodes in $|\omega| \le 40$, clustered near $\omega = 0$ (a check: $D(\omega)$ is below
    $10^{-15}$ beyond, and the nodes cannot resolve modes closer to instability than about $10^{-3}$).

    ``J``: ``(N, N)``; ``solution``: a :class:`linear_lens.dmft.DMFTSolution` (for $a$ and $D$); ``basis``: an
    :func:`eigenbasis` to reuse. Returns the real ``(N, N)`` matrix. Raises ``ValueError`` when
    $\max_k \operatorname{Re}(a\lambda_k) \ge 1$: the linear network is unstable and its covariance undefined.
    """
    J = _check_couplings(J)
    if J.ndim != 2:
        raise ValueError(f"J: expected one (N, N) matrix, got shape {tuple(J.shape)}")
    a = _solution_gain(solution)
    lam, V, Vi = basis if basis is not None else eigenbasis(J)
    mu = a * lam
    worst = float(mu.real.max())
    if worst >= 1:
        raise ValueError(f"J: max Re(a lambda) = {worst:.6f} >= 1; the linear-equivalent network is unstable")
    if method == "laplace":
        kappa = 1 - mu
        L = torch.from_numpy(solution.laplace_D(kappa.cpu().numpy())).to(lam.device)
        D0 = float(solution.D(0.0))
        K = (D0 + (mu * L)[:, None] + (mu * L).conj()[None, :]
             + mu[:, None] * mu.conj()[None, :] * (L[:, None] + L.conj()[None, :]) / (kappa[:, None] + kappa.conj()[None, :]))
    elif method == "quadrature":
        omega, weight = _frequency_quadrature(check_positive_int(n_omega, "n_omega"))
        Dw = solution.D_omega(omega) * weight / (2 * math.pi)
        u = 1 / (1 - (a / (1 + 1j * torch.from_numpy(omega)))[None, :] * lam[:, None])  # (N, F)
        K = (u * torch.from_numpy(Dw).to(u.dtype)) @ u.mH
    else:
        raise ValueError(f"method: expected 'laplace' or 'quadrature', got {method!r}")
    C = V @ (K * (Vi @ Vi.mH)) @ V.mH
    return _real_symmetric(C)


def naive_closure_covariance(J, solution, basis=None, *, check_points: int = 400):
    r"""The equal-time naive-closure covariance, $\int \frac{d\omega}{2\pi}$ of :func:`naive_closure_spectrum`.

    With $c_{kl} = a^2\lambda_k\lambda_l$ and $\kappa_{kl} = \sqrt{1 - c_{kl}}$,
    $\int\frac{d\omega}{2\pi}\frac{D(\omega)}{1 - c/(1+\omega^2)} = D(0) + \frac{c}{\kappa} L(\kappa)$, so
    $C = V[K \circ V^{-1}V^{-\top}]V^\top$ with $K_{kl} = D(0) + c_{kl} L(\kappa_{kl})/\kappa_{kl}$. $L$ is
    needed at $N^2$ points: it is analytic for $\operatorname{Re}\kappa > -3\lambda$, and is evaluated through
    a rational (AAA) approximant built from exact values and checked at ``check_points`` other points (relative
    error below $10^{-9}$, else ``RuntimeError``). Requires $a\,\rho(J) < 1$ (else ``ValueError``): beyond it the
    Stein equation is resonant at some frequency.
    """
    J = _check_couplings(J)
    if J.ndim != 2:
        raise ValueError(f"J: expected one (N, N) matrix, got shape {tuple(J.shape)}")
    a = _solution_gain(solution)
    lam, V, Vi = basis if basis is not None else eigenbasis(J)
    radius = float((a * lam).abs().max())
    if radius >= 1:
        raise ValueError(f"J: a * rho(J) = {radius:.6f} >= 1; the naive-closure equation is resonant")
    c = (a * a) * lam[:, None] * lam[None, :]
    kappa = torch.sqrt(1 - c)
    L = _laplace_on_many(solution, kappa, check_points)
    K = float(solution.D(0.0)) + c * L / kappa
    C = V @ (K * (Vi @ Vi.mT)) @ V.mT
    return _real_symmetric(C)


# ---------------------------------------------------------------------------------------------------------------
# Comparing simulated covariances with predictions
# ---------------------------------------------------------------------------------------------------------------


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
    return tr**2 / (C * C).sum(dim=(-2, -1))


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
# The sweep over sizes and coupling strengths
# ---------------------------------------------------------------------------------------------------------------

#: Metrics of :func:`compare` kept by :func:`equivalence_sweep`, per prediction.
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
    trajectory is one group of :func:`compare`. Statistics and predictions are computed in float64. A
    realisation counts as chaotic, and is compared, when it still moves and the largest Lyapunov exponent of its
    first trajectory (:func:`simulate`) exceeds ``min_lyapunov``: over ``t_record = 250`` a limit cycle's
    exponent, zero in theory, measures within about 0.005 of zero.

    ``solutions``: :class:`linear_lens.dmft.DMFTSolution` per $g$; ``sizes``: increasing $N$ values.
    Returns a :class:`SweepResult`. Raises ``ValueError`` if fewer than ``n_real`` draws are unflagged.
    """
    import time

    solutions = list(solutions)
    if not solutions:
        raise ValueError("solutions: expected at least one DMFT solution")
    for s in solutions:
        _solution_gain(s)
    sizes = [check_positive_int(n, "sizes") for n in sizes]
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


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _check_couplings(J) -> torch.Tensor:
    J = as_float_tensor(J, "J")
    if J.ndim < 2 or J.shape[-1] != J.shape[-2]:
        raise ValueError(f"J: expected square coupling matrices (..., N, N), got shape {tuple(J.shape)}")
    return J


def _check_prediction_inputs(J, a, D, omega):
    J = _check_couplings(J)
    if J.ndim != 2:
        raise ValueError(f"J: expected one (N, N) matrix, got shape {tuple(J.shape)}")
    a = check_positive_real(a, "a")
    w = as_float_tensor(omega, "omega", dtype=torch.float64).reshape(-1).to(J.device)
    D = as_float_tensor(D, "D", dtype=torch.float64).reshape(-1).to(J.device)
    if D.shape != w.shape:
        raise ValueError(f"D: expected one value per frequency ({w.numel()}), got {D.numel()}")
    if bool((D < -1e-10 * D.abs().max()).any()):  # roundoff of a computed spectrum may dip below 0
        raise ValueError("D: a noise spectrum is nonnegative")
    return J, a, D.to(torch.complex128), w.to(torch.complex128)


def _solution_gain(solution) -> float:
    if not all(hasattr(solution, k) for k in ("a", "laplace_D", "D", "D_omega")):
        raise ValueError(f"solution: expected a linear_lens.dmft.DMFTSolution, got {type(solution).__name__}")
    return float(solution.a)


def _real_symmetric(C: torch.Tensor) -> torch.Tensor:
    scale = float(C.abs().max())
    imag = float(C.imag.abs().max())
    if imag > 1e-6 * max(scale, 1e-300):
        raise RuntimeError(f"prediction: imaginary part {imag:.2e} of a real covariance (scale {scale:.2e})")
    R = C.real
    return (R + R.mT) / 2


def _signed_sqrt(x: float) -> float:
    """sqrt(x) for x >= 0 and -sqrt(-x) for x < 0: a debiased squared norm can come out negative by noise."""
    return math.copysign(math.sqrt(abs(x)), x)


def _frequency_quadrature(n: int, limit: float = 40.0, scale: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for integrals over omega in [-limit, limit]: ~n Gauss-Legendre nodes on panels that are
    fine near 0 (width ~ scale / panels) and wider far out (breakpoints scale * sinh(uniform))."""
    per, order = max(n // 16, 1), 8
    edges = scale * np.sinh(np.linspace(0.0, np.arcsinh(limit / scale), per + 1))
    edges = np.concatenate([-edges[::-1], edges[1:]])
    x, w = np.polynomial.legendre.leggauss(order)
    lo, hi = edges[:-1, None], edges[1:, None]
    nodes = (lo + (x + 1) * (hi - lo) / 2).reshape(-1)
    weights = (w * (hi - lo) / 2).reshape(-1)
    return nodes, weights


def _laplace_on_many(solution, kappa: torch.Tensor, check_points: int) -> torch.Tensor:
    """L(kappa) at many complex points through a checked AAA rational approximant (see naive_closure_covariance)."""
    from scipy.interpolate import AAA

    k = kappa.reshape(-1).cpu().numpy()
    rng = np.random.default_rng(0)
    # Support candidates: the extreme points of the set and a random subset; then a check on other points.
    pick = np.unique(np.concatenate([
        np.argsort(k.real)[:40], np.argsort(k.real)[-40:], np.argsort(np.abs(k.imag))[-40:],
        rng.choice(k.size, size=min(k.size, 500), replace=False),
    ]))
    x = k[pick]
    r = AAA(x, solution.laplace_D(x), rtol=1e-13, max_terms=60)
    test = k[rng.choice(k.size, size=min(k.size, check_points), replace=False)]
    exact = solution.laplace_D(test)
    err = float(np.max(np.abs(r(test) - exact) / np.maximum(np.abs(exact), 1e-300)))
    if err > 1e-9:
        raise RuntimeError(f"naive closure: the rational approximation of L(kappa) is off by {err:.2e}")
    z = torch.from_numpy(r.support_points)
    fz = torch.from_numpy(r.support_values)
    wz = torch.from_numpy(r.weights)
    kk = kappa.reshape(-1).cpu()
    out = torch.empty_like(kk)
    for s in range(0, kk.numel(), 1 << 18):
        d = kk[s:s + (1 << 18), None] - z[None, :]
        hit = d == 0
        d = torch.where(hit, torch.ones_like(d), d)
        c = wz / d
        val = (c @ fz) / c.sum(-1)
        exact_hit = hit.any(-1)
        if bool(exact_hit.any()):
            val[exact_hit] = fz[hit[exact_hit].float().argmax(-1)]
        out[s:s + (1 << 18)] = val
    return out.reshape(kappa.shape).to(kappa.device)
