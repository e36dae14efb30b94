r"""Random recurrent networks $\dot x = -x + J\phi(x)$: couplings, batched simulation, and statistics of the activity.

Notation (Clark, 2026): $N$ units, couplings $J_{ij} \sim \mathcal N(0, g^2/N)$, $\phi = \tanh$. Dynamic mean-field
theory (:mod:`linear_lens.dmft`) describes the population statistics; the linear-equivalent prediction of the
covariance of one realisation is in :mod:`linear_lens.linear_equivalence`, its debiased comparison with simulation in
:mod:`linear_lens.covariance_comparison`, and the sweep over sizes and coupling strengths in
:mod:`linear_lens.rnn_sweep`.

Simulation: classical Runge-Kutta (RK4), batched over realisations of $J$ (leading dimensions) and trajectories,
on any torch device. Covariance estimates come in *groups* (independent trajectories or long time blocks) so that
the finite-sampling noise can be estimated and removed (:func:`linear_lens.covariance_comparison.compare`).
"""


from __future__ import annotations

import contextlib
import math

import torch

from linear_lens._checks import (
    as_float_tensor,
    as_generator,
    check_float_dtype,
    check_positive_int,
    check_positive_real,
    check_real,
)
from linear_lens._threads import single_thread

__all__ = [
    "couplings",
    "simulate",
    "moment_groups",
    "cross_spectrum",
    "population_autocorrelation",
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
    check_float_dtype(dtype)
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

    if lyapunov:  # the tangent vector rides along as one more row, multiplied by J in the same product

        def rhs(y):
            t = torch.tanh(y)
            slope = 1 - t[..., :1, :] ** 2  # phi' along the first trajectory
            t = torch.cat([t[..., :-1, :], slope * y[..., -1:, :]], dim=-2)
            return t @ Jt - y

        x = torch.cat([x, torch.ones_like(x[..., :1, :]) / math.sqrt(n)], dim=-2)
        growth = torch.zeros(J.shape[:-2], dtype=torch.float64, device=J.device)
    else:

        def rhs(y):
            return torch.tanh(y) @ Jt - y

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


# ---------------------------------------------------------------------------------------------------------------
# Statistics of the recorded activity
# ---------------------------------------------------------------------------------------------------------------


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
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _check_couplings(J) -> torch.Tensor:
    J = as_float_tensor(J, "J")
    if J.ndim < 2 or J.shape[-1] != J.shape[-2]:
        raise ValueError(f"J: expected square coupling matrices (..., N, N), got shape {tuple(J.shape)}")
    return J
