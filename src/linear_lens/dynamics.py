r"""Deep networks as discrete-time systems $x_{k+1} = f(x_k)$: orbits, fixed points and Lyapunov exponents, batched.

A square network $f: \mathbb{R}^n \to \mathbb{R}^n$ (weights $A_0, \dots, A_L$, optional biases, an activation
$\sigma$; eqs. 3 and 6 of Drgoňa et al., 2020) is read as the discrete-time system $x_{k+1} = f(x_k)$.
Everything here works on a :class:`~linear_lens.networks.NetworkBatch`: $M$ networks of equal depth and widths,
each with its own activation (:func:`linear_lens.networks.network_batch`), evaluated together, and on many starts.

- **Orbits** from many starts (:func:`iterate`, keeping the states' norms, the last states or both), their mean
  growth per step (:func:`growth_rate`), periods (:func:`orbit_period`), rotation numbers (:func:`rotation_number`),
  and whether they have settled on one closed curve (:func:`on_closed_curve`);
- **fixed points** by Newton's method with the true Jacobian $f'(x)$ (:func:`linear_lens.networks.batch_jacobian`),
  deduplicated, each with the spectrum of $f'(\bar x)$ and a verdict (:func:`fixed_points`). Unlike $A^*(x)$, $f'$
  decides whether a fixed point attracts: $x_{k+1} - \bar x \approx f'(\bar x)(x_k - \bar x)$;
- the **largest Lyapunov exponent** from products of true Jacobians along an orbit, with a batch-means error bar
  (:func:`lyapunov_exponent`).

The classification of each network's attractor from this evidence is in :mod:`linear_lens.attractors`; fields over
a grid ($A^*$, $b^*$, their spectra, linear regions) are in :mod:`linear_lens.spectral_fields`.
Tensors stay on the device and in the dtype of the weights (points are converted to them); random draws are made
on the CPU and moved. Points must be finite and real (``ValueError`` otherwise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from linear_lens._checks import as_float_tensor, as_generator, check_positive_int, check_real
from linear_lens.networks import NetworkBatch, _forward, _jacobian, _jvp, _points, _subset, batch_jacobian
from linear_lens.spectral_fields import affine_field, eigenvalues, spectral_field

__all__ = [
    "Orbits",
    "iterate",
    "growth_rate",
    "orbit_period",
    "rotation_number",
    "on_closed_curve",
    "hausdorff_distance",
    "FixedPoints",
    "fixed_points",
    "Lyapunov",
    "lyapunov_exponent",
]

# ---------------------------------------------------------------------------------------------------------------
# Orbits
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Orbits:
    r"""Result of :func:`iterate` for $M$ networks and $S$ starts.

    ``x``: ``(M, S, n)``, the state after ``steps`` steps (an escaped orbit keeps its first state beyond
    ``escape``, an overflowing one its last finite state); ``half``: the state after ``steps // 2`` steps;
    ``tail``: ``(T, M, S, n)``, the last $T$ states (``tail[-1]`` is ``x``); ``escaped``: ``(M, S)`` bool, the orbit
    left the ball of radius ``escape`` (or overflowed); ``escape_step``: the step it did (``-1`` if not);
    ``growth``: the mean growth factor per step of $\lVert x_k\rVert$ from its last recorded value below
    $\sqrt{\text{escape}}$ (norms are recorded every 4 steps) to the escape (``nan`` if it did not escape);
    ``norms``: ``(steps + 1, M, S)``, $\lVert x_k\rVert_2$ at every step, if asked for (else ``None``);
    ``steps``: the number of steps.
    """

    x: torch.Tensor
    half: torch.Tensor
    tail: torch.Tensor
    escaped: torch.Tensor
    escape_step: torch.Tensor
    growth: torch.Tensor
    steps: int
    norms: torch.Tensor | None = None


def iterate(
    net: NetworkBatch, x0, steps: int, *, tail: int = 1, escape: float = 1e6, norms: bool = False
) -> Orbits:
    r"""Iterate $x_{k+1} = f(x_k)$ from every start for every network, keeping only what the analysis needs.

    ``x0``: ``(S, n)`` (the same starts for every network) or ``(M, S, n)``; ``steps`` $\ge 1$; ``tail``: how many
    last states to keep ($1 \le T \le$ ``steps`` $+ 1$; ``steps + 1`` keeps the whole orbit); ``escape``: an orbit
    whose largest entry exceeds it is frozen there (and counted as escaped), which keeps overflow out of the
    arithmetic; ``math.inf`` never freezes an orbit before it overflows (then it keeps its last finite state);
    ``norms``: also keep $\lVert x_k\rVert_2$ for every $k$ (enough for :func:`growth_rate` and for bounds on
    $\lVert x_k\rVert$ along the whole orbit). Memory: $O((T n + \text{steps}\cdot[\text{norms}]) M S)$.
    Returns :class:`Orbits`. Raises ``ValueError`` for a bad ``steps``, ``tail`` or ``escape``, or points that are
    not finite and real.
    """
    steps = check_positive_int(steps, "steps")
    tail = check_positive_int(tail, "tail")
    if tail > steps + 1:
        raise ValueError(f"tail: at most steps + 1 = {steps + 1}, got {tail}")
    if not (isinstance(escape, (int, float)) and not isinstance(escape, bool) and escape == math.inf):
        escape = check_real(escape, "escape")
        if not escape > 1:
            raise ValueError(f"escape: expected a radius > 1 or math.inf, got {escape}")
    if not isinstance(norms, bool):
        raise ValueError(f"norms: expected True or False, got {norms!r}")
    x = _points(net, x0).clone()
    r_low = math.sqrt(escape)

    def outside(size):
        return ~(size <= escape) if escape < math.inf else ~torch.isfinite(size)

    escaped = outside(x.abs().amax(-1))
    escape_step = torch.where(escaped, 0, -1)
    kept = [x] if steps + 1 - tail <= 0 else []
    half = x
    every = 4  # the norm history, for the growth rate of escaping orbits, is kept every few steps
    hist_k, hist_n = [0], [x.norm(dim=-1)]
    all_norms = [hist_n[0]] if norms else None
    with torch.no_grad():
        for k in range(1, steps + 1):
            new = _forward(net, x)
            size = new.abs().amax(-1)
            keep_old = escaped | ~torch.isfinite(size)
            newly = outside(size) & ~escaped
            x = torch.where(keep_old.unsqueeze(-1), x, new)
            if bool(newly.any()):
                escape_step = torch.where(newly, k, escape_step)
                escaped = escaped | newly
            if norms:
                all_norms.append(x.norm(dim=-1))
            if k % every == 0:
                hist_k.append(k)
                hist_n.append(all_norms[-1] if norms else x.norm(dim=-1))
            if k == steps // 2:
                half = x
            if k >= steps + 1 - tail:
                kept.append(x)
    growth = torch.full(x.shape[:-1], float("nan"), dtype=x.dtype, device=x.device)
    if bool((escape_step > 0).any()):
        ks = torch.tensor(hist_k, device=x.device).view(-1, *([1] * escape_step.ndim))
        hist = torch.stack(hist_n)
        below = (hist <= r_low) & (ks < escape_step)
        k_low = torch.where(below, ks, -1).amax(dim=0)
        n_low = torch.gather(hist, 0, torch.argmax(torch.where(below, ks, -1), dim=0, keepdim=True))[0]
        span = (escape_step - k_low).to(x.dtype)
        rate = torch.exp((torch.log(x.norm(dim=-1)) - torch.log(n_low)) / span)
        growth = torch.where((escape_step > 0) & (k_low >= 0) & (n_low > 0), rate, growth)
    return Orbits(x, half, torch.stack(kept), escaped, escape_step, growth, steps,
                  torch.stack(all_norms) if norms else None)


def growth_rate(norms) -> torch.Tensor:
    r"""Return the mean growth factor per step $(\lVert x_K\rVert / \lVert x_0\rVert)^{1/K}$ of each orbit.

    ``norms``: ``(K + 1, ...)``, the norms $\lVert x_0\rVert, \dots, \lVert x_K\rVert$ (``Orbits.norms``, or a
    slice of it, e.g. ``norms[1:]`` to start after the first step), $K \ge 1$. Returns ``(...)``; $0$ where the
    orbit reaches the origin, ``nan`` where it starts there. For a linear map $x \mapsto Ax$ and large $K$ this
    tends to $\rho(A)$ from almost every start (Gelfand's formula).
    """
    norms = norms if isinstance(norms, torch.Tensor) else as_float_tensor(norms, "norms")
    if norms.is_complex() or norms.dtype == torch.bool:
        raise ValueError(f"norms: expected real numbers, got {norms.dtype}")
    if bool((norms < 0).any()):
        raise ValueError("norms: norms are nonnegative, got a negative entry")
    if norms.ndim < 1 or norms.shape[0] < 2:
        raise ValueError(f"norms: expected (K + 1, ...) with K >= 1, got shape {tuple(norms.shape)}")
    start, end = norms[0], norms[-1]
    rate = (end / torch.where(start > 0, start, torch.ones_like(start))) ** (1 / (norms.shape[0] - 1))
    return torch.where(start > 0, rate, torch.full_like(rate, float("nan")))


def orbit_period(tail: torch.Tensor, max_period: int, tol: float = 1e-9) -> torch.Tensor:
    r"""Return the smallest period $p \le$ ``max_period`` of the end of each orbit, or $0$ if there is none.

    $p$ is accepted when $\lVert x_t - x_{t-p}\rVert_\infty \le \text{tol}\,(1 + \lVert x_t\rVert_\infty)$ for
    every $t$ in the kept tail (not only the last state, so that a near-return by chance is not taken for a cycle).
    ``tail``: ``(T, ...batch, n)`` with $T > 2\,$``max_period``. Period 1 is a fixed point. Returns ``(...batch)``,
    int64.
    """
    max_period = check_positive_int(max_period, "max_period")
    tol = check_real(tol, "tol")
    if tol < 0:
        raise ValueError(f"tol: must be nonnegative, got {tol}")
    tail = _tail(tail)
    if tail.ndim < 2 or tail.shape[0] <= 2 * max_period:
        raise ValueError(f"tail: need more than 2 * max_period = {2 * max_period} states, got {tail.shape[0]}")
    scale = 1 + tail.abs().amax(dim=(0, -1))
    period = torch.zeros(tail.shape[1:-1], dtype=torch.int64, device=tail.device)
    for p in range(max_period, 0, -1):
        gap = (tail[p:] - tail[:-p]).abs().amax(dim=(0, -1))
        period = torch.where((gap <= tol * scale) & torch.isfinite(scale), p, period)
    return period


def rotation_number(tail: torch.Tensor, centre: torch.Tensor | None = None) -> torch.Tensor:
    r"""Return the mean turn per step of 2-D orbits about ``centre``, $\omega = \sum_t \Delta\theta_t/(2\pi T)$.

    $\Delta\theta_t \in (-\pi, \pi]$ is the angle from $x_{t-1} - c$ to $x_t - c$. For an orbit on a closed
    invariant curve around $c$, $\omega$ is the curve's rotation number (rational for a periodic orbit, irrational
    for a quasi-periodic one); the sign gives the direction. ``tail``: ``(T, ...batch, 2)``; ``centre``:
    ``(...batch, 2)``, default the mean of the tail. Returns ``(...batch)``.
    """
    tail = _tail(tail)
    if tail.ndim < 2 or tail.shape[-1] != 2 or tail.shape[0] < 2:
        raise ValueError(f"tail: expected (T >= 2, ..., 2), got shape {tuple(tail.shape)}")
    if centre is not None:
        centre = as_float_tensor(centre, "centre")
        if centre.shape[-1:] != (2,):
            raise ValueError(f"centre: expected (...batch, 2), got shape {tuple(centre.shape)}")
    c = tail.mean(dim=0) if centre is None else centre
    rel = tail - c
    theta = torch.atan2(rel[..., 1], rel[..., 0])
    d = torch.remainder(theta[1:] - theta[:-1] + math.pi, 2 * math.pi) - math.pi
    return d.mean(dim=0) / (2 * math.pi)


def on_closed_curve(tail: torch.Tensor, *, sectors: int = 36, rtol: float = 0.1, centre=None) -> torch.Tensor:
    r"""Return whether the states of all starts lie on one closed curve around ``centre``, per network.

    The evidence: pooled over the kept states and the starts, the states cover every one of ``sectors`` equal
    sectors of angle about ``centre`` (default the origin), and within each sector their distances to it agree
    to within ``rtol`` (the largest at most $1 + $ ``rtol`` times the smallest). Orbits from inside and outside
    that end on the same invariant closed curve pass; orbits that end at separate points, or on curves of
    different sizes, do not (a periodic orbit with fewer points than sectors does not cover them). ``tail``:
    ``(T, ..., S, 2)``, e.g. ``Orbits.tail``; ``centre``: ``(2,)``. Returns ``(...)`` bool.
    """
    tail = _tail(tail)
    if tail.ndim < 3 or tail.shape[-1] != 2:
        raise ValueError(f"tail: expected (T, ..., S, 2), got shape {tuple(tail.shape)}")
    sectors = check_positive_int(sectors, "sectors")
    rtol = check_real(rtol, "rtol")
    if rtol < 0:
        raise ValueError(f"rtol: must be nonnegative, got {rtol}")
    rel = tail if centre is None else tail - as_float_tensor(centre, "centre").to(tail)
    radius, angle = rel.norm(dim=-1), torch.atan2(rel[..., 1], rel[..., 0])  # (T, ..., S)
    sector = ((angle + math.pi) / (2 * math.pi) * sectors).long().clamp(0, sectors - 1)
    batch = tail.shape[1:-2]
    sector = sector.movedim(-1, 1).reshape(-1, *batch)  # pooled over states and starts: (T S, ...)
    radius = radius.movedim(-1, 1).reshape(-1, *batch)
    lo = torch.full((sectors, *batch), math.inf, dtype=tail.dtype, device=tail.device)
    hi = torch.full_like(lo, -math.inf)
    lo = lo.scatter_reduce(0, sector, radius, "amin")
    hi = hi.scatter_reduce(0, sector, radius, "amax")
    covered = torch.isfinite(lo).all(0)
    spread = ((hi - lo) / lo).nan_to_num(nan=math.inf).amax(0)
    return covered & (spread <= rtol)


def hausdorff_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    r"""Return the Hausdorff distance $\max(\sup_{p\in a} d(p, b), \sup_{q \in b} d(q, a))$ of two point clouds.

    ``a``: ``(P, n)``, ``b``: ``(Q, n)``. Used to show that orbits from inside and outside a limit cycle end on the
    same closed curve.
    """
    a, b = as_float_tensor(a, "a"), as_float_tensor(b, "b")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or not a.shape[0] or not b.shape[0]:
        raise ValueError(f"a, b: expected point clouds (P, n) and (Q, n), P, Q >= 1, got {tuple(a.shape)}, "
                         f"{tuple(b.shape)}")
    d = torch.cdist(a, b)
    return float(torch.maximum(d.amin(dim=1).amax(), d.amin(dim=0).amax()))


# ---------------------------------------------------------------------------------------------------------------
# Fixed points
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixedPoints:
    r"""Result of :func:`fixed_points` for $M$ networks.

    Per start: ``x`` ``(M, S, n)``, the last Newton iterate; ``residual`` ``(M, S)``, $\lVert f(x) - x\rVert_\infty$;
    ``converged`` ``(M, S)`` bool; ``iterations`` ``(M, S)``, the Newton steps taken from each start (``max_iter``
    where it did not converge). Per network, lists of length $M$: ``points[m]`` ``(k_m, n)``, the distinct fixed
    points found (sorted by norm); ``spectra[m]`` complex ``(k_m, n)``, the eigenvalues of the true Jacobian
    $f'(\bar x)$; ``rho_jacobian[m]`` ``(k_m,)``; ``rho_astar[m]`` ``(k_m,)``, $\rho(A^*(\bar x))$ of the paper's
    form (to compare); ``verdicts[m]``: for each point ``"stable"`` ($\rho(f'(\bar x)) < 1$), ``"unstable"`` (every
    $|\lambda| > 1$), ``"saddle"`` (one inside, one outside) or ``"non-hyperbolic"`` (an eigenvalue on the unit circle
    within ``tol_unit``).
    """

    x: torch.Tensor
    residual: torch.Tensor
    converged: torch.Tensor
    iterations: torch.Tensor
    points: list
    spectra: list
    rho_jacobian: list
    rho_astar: list
    verdicts: list


def fixed_points(
    net: NetworkBatch,
    starts: torch.Tensor,
    *,
    tol: float = 1e-11,
    max_iter: int = 60,
    box: float = 1e3,
    dedupe: float = 1e-6,
    tol_unit: float = 1e-6,
) -> FixedPoints:
    r"""Find the fixed points $\bar x = f(\bar x)$ by damped Newton iteration from many starts, for every network.

    Solves $F(x) = f(x) - x = 0$ with $x \leftarrow x - t\,(f'(x) - I)^{-1}F(x)$, the true Jacobian of
    :func:`linear_lens.networks.batch_jacobian`, and the first $t \in \{1, \frac12, \dots, 2^{-8}\}$ that lowers $\lVert F\rVert_\infty$ (else
    a plain step $x \leftarrow f(x)$). A start converges when $\lVert F\rVert_\infty \le \text{tol}\,(1 +
    \lVert x\rVert_\infty)$ and $\lVert x\rVert_\infty \le$ ``box``. Converged points closer than ``dedupe`` (relative)
    are merged; each distinct point gets the spectrum of $f'(\bar x)$ and a verdict (:class:`FixedPoints`).
    ``starts``: ``(S, n)`` or ``(M, S, n)``. Nothing is hidden: a start that did not converge is returned as it
    ended, with its residual.
    """
    tol, box, dedupe, tol_unit = (check_real(v, name) for v, name in
                                  ((tol, "tol"), (box, "box"), (dedupe, "dedupe"), (tol_unit, "tol_unit")))
    if tol <= 0 or box <= 0 or dedupe <= 0 or tol_unit < 0:
        raise ValueError("tol, box, dedupe: must be positive; tol_unit: nonnegative")
    max_iter = check_positive_int(max_iter, "max_iter")
    x = _points(net, starts).clone()
    M, S, n = x.shape
    with torch.no_grad():
        flat, res, its = _newton(net, x.reshape(M * S, n), torch.arange(M, device=x.device).repeat_interleave(S),
                                 tol, max_iter)
        x, res, its = flat.reshape(M, S, n), res.reshape(M, S), its.reshape(M, S)
        scale = 1 + x.abs().amax(-1)
        converged = (res <= tol * scale) & (x.abs().amax(-1) <= box) & torch.isfinite(x).all(-1)
        points, spectra, rho_j, rho_a, verdicts = [], [], [], [], []
        for m in range(M):
            pts = _unique_points(x[m][converged[m]], dedupe)
            points.append(pts)
        counts = [p.shape[0] for p in points]
        if sum(counts):
            idx = torch.repeat_interleave(torch.arange(M, device=x.device), torch.tensor(counts, device=x.device))
            allp = torch.cat(points)
            sub = _subset(net, idx)
            _, Jp = batch_jacobian(sub, allp.unsqueeze(1))
            Ap, _ = affine_field(sub, allp.unsqueeze(1))
            lam = eigenvalues(Jp[:, 0])
            rj = lam.abs().amax(-1)
            ra = spectral_field(Ap[:, 0]).rho
            mods = lam.abs()
            verdict = []
            for row in mods.cpu().tolist():
                if any(abs(v - 1) <= tol_unit for v in row):
                    verdict.append("non-hyperbolic")
                elif max(row) < 1:
                    verdict.append("stable")
                elif min(row) > 1:
                    verdict.append("unstable")
                else:
                    verdict.append("saddle")
            start = 0
            for k in counts:
                spectra.append(lam[start:start + k])
                rho_j.append(rj[start:start + k])
                rho_a.append(ra[start:start + k])
                verdicts.append(verdict[start:start + k])
                start += k
        else:
            empty = torch.zeros(0, dtype=x.dtype, device=x.device)
            for _ in range(M):
                spectra.append(torch.zeros(0, n, dtype=torch.complex128, device=x.device))
                rho_j.append(empty)
                rho_a.append(empty)
                verdicts.append([])
    return FixedPoints(x, res, converged, its, points, spectra, rho_j, rho_a, verdicts)


# ---------------------------------------------------------------------------------------------------------------
# Lyapunov exponents
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lyapunov:
    r"""Result of :func:`lyapunov_exponent` for $M$ networks and $S$ orbits.

    ``exponent`` ``(M, S)``: the estimate $\hat\lambda_1 = \frac1N\sum_{k<N}\ln\lVert f'(x_k)v_k\rVert$ with
    $v_{k+1} = f'(x_k)v_k/\lVert f'(x_k)v_k\rVert$ ($-\infty$ when the tangent vector is mapped to $0$);
    ``stderr`` ``(M, S)``: the standard error from $B$ block means (batch means); ``running`` ``(B, M, S)``: the
    estimate after each block, to judge convergence; ``x`` ``(M, S, n)``: the end of the orbits.
    """

    exponent: torch.Tensor
    stderr: torch.Tensor
    running: torch.Tensor
    x: torch.Tensor


def lyapunov_exponent(
    net: NetworkBatch,
    x0: torch.Tensor,
    steps: int = 1024,
    *,
    blocks: int = 16,
    generator=None,
) -> Lyapunov:
    r"""Estimate the largest Lyapunov exponent of each orbit from products of true Jacobians (Benettin's method).

    From $x_0$ and a random unit tangent $v_0$, iterate $x_{k+1} = f(x_k)$ and $v_{k+1} = f'(x_k)v_k$, renormalising
    $v$ each step and summing $\ln\lVert f'(x_k)v_k\rVert$ (Jacobian-vector products of :mod:`linear_lens.networks`). $\hat\lambda_1 > 0$ means
    nearby orbits separate exponentially (chaos, if the orbit stays bounded), $\hat\lambda_1 = 0$ a neutral direction
    (an invariant curve, a line of fixed points), $\hat\lambda_1 < 0$ an attracting fixed point or cycle. The
    ``steps`` are split into ``blocks`` equal blocks; the spread of the block means gives the error bar
    (:class:`Lyapunov`). Start after a transient (``x0`` on the attractor). ``x0``: ``(S, n)`` or ``(M, S, n)``;
    ``generator``: ``None``, a ``torch.Generator`` or an ``int`` seed for $v_0$.
    """
    steps = check_positive_int(steps, "steps")
    blocks = check_positive_int(blocks, "blocks")
    if steps % blocks or blocks < 2:
        raise ValueError(f"blocks: need at least 2 blocks dividing steps = {steps}, got {blocks}")
    g = as_generator(generator)
    x = _points(net, x0).clone()
    v = torch.randn(x.shape, generator=g, dtype=torch.float64).to(dtype=x.dtype, device=x.device)
    v = v / v.norm(dim=-1, keepdim=True)
    per = steps // blocks
    sums = torch.zeros(blocks, *x.shape[:-1], dtype=x.dtype, device=x.device)
    dead = torch.zeros(x.shape[:-1], dtype=torch.bool, device=x.device)
    tiny = torch.finfo(x.dtype).tiny
    with torch.no_grad():
        for k in range(steps):
            x, w = _jvp(net, x, v)
            nw = w.norm(dim=-1)
            zero = ~(nw > tiny)
            dead = dead | zero
            sums[k // per] += torch.log(torch.where(zero, torch.ones_like(nw), nw))
            v = torch.where(zero.unsqueeze(-1), v, w / torch.where(zero, torch.ones_like(nw), nw).unsqueeze(-1))
    means = sums / per
    exponent = means.mean(dim=0)
    stderr = means.std(dim=0) / math.sqrt(blocks)
    running = torch.cumsum(means, dim=0) / torch.arange(1, blocks + 1, dtype=x.dtype, device=x.device).view(
        -1, *([1] * exponent.ndim))
    neg = torch.full_like(exponent, float("-inf"))
    exponent = torch.where(dead, neg, exponent)
    stderr = torch.where(dead, torch.zeros_like(stderr), stderr)
    running = torch.where(dead.unsqueeze(0), neg.unsqueeze(0).expand_as(running), running)
    return Lyapunov(exponent, stderr, running, x)


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _tail(tail) -> torch.Tensor:
    """Orbit states as a real tensor (non-finite entries allowed in a tensor: escaped orbits leave them)."""
    if tail is None or isinstance(tail, (str, bytes)):
        raise ValueError(f"tail: expected a tensor of orbit states, got {type(tail).__name__}")
    if isinstance(tail, torch.Tensor) and not (tail.is_complex() or tail.dtype == torch.bool):
        return tail
    return as_float_tensor(tail, "tail")


def _newton(net: NetworkBatch, x: torch.Tensor, model: torch.Tensor, tol: float, max_iter: int):
    """Damped Newton on $f(x) - x$ for points ``x`` ``(Q, n)`` of networks ``model`` ``(Q,)`` (sorted); see
    :func:`fixed_points`. Only the points not yet converged are computed on. Returns ``(x, residual,
    iterations)``."""
    n = x.shape[-1]
    eye = torch.eye(n, dtype=x.dtype, device=x.device)

    def resid(sub, v):
        F = _forward(sub, v.unsqueeze(1))[:, 0] - v
        r = F.abs().amax(-1)
        return F, torch.where(torch.isfinite(r), r, torch.full_like(r, float("inf")))

    x = x.clone()
    _, res = resid(_subset(net, model), x)
    iterations = torch.zeros(x.shape[0], dtype=torch.int64, device=x.device)
    for _ in range(max_iter):
        active = torch.nonzero(res > tol * (1 + x.abs().amax(-1))).flatten()
        if active.numel() == 0:
            break
        iterations[active] += 1
        sub = _subset(net, model[active])
        xa, ra = x[active], res[active]
        Fa, _ = resid(sub, xa)
        _, J = _jacobian(sub, xa.unsqueeze(1))
        step, info = torch.linalg.solve_ex(J[:, 0] - eye, Fa.unsqueeze(-1))
        step = step.squeeze(-1)
        ok = (info == 0) & torch.isfinite(step).all(-1)
        step = torch.where(ok.unsqueeze(-1), step, torch.zeros_like(step))
        new_x = Fa + xa  # fallback: a plain step x <- f(x)
        _, new_r = resid(sub, new_x)
        pending, t = ok, 1.0
        for _ in range(9):
            if not bool(pending.any()):
                break
            trial = xa - t * step
            _, tr = resid(sub, trial)
            better = pending & (tr < ra)
            new_x = torch.where(better.unsqueeze(-1), trial, new_x)
            new_r = torch.where(better, tr, new_r)
            pending = pending & ~better
            t /= 2
        x[active], res[active] = new_x, new_r
    return x, res, iterations


def _unique_points(pts: torch.Tensor, tol: float) -> torch.Tensor:
    """Greedy merge of points closer than ``tol * (1 + |p|)`` (max norm); sorted by norm, then by coordinates."""
    if pts.shape[0] == 0:
        return pts
    arr = pts.detach().cpu().numpy()
    keep = [0]
    for i in range(1, arr.shape[0]):
        p = arr[i]
        if (np.abs(arr[keep] - p).max(axis=-1) > tol * (1 + np.abs(p).max())).all():
            keep.append(i)
    kept = arr[keep]
    order = np.lexsort([kept[:, j] for j in range(kept.shape[1] - 1, -1, -1)]
                       + [np.round(np.linalg.norm(kept, axis=-1), 9)])
    return pts[torch.as_tensor(np.asarray(keep)[order], device=pts.device)]
