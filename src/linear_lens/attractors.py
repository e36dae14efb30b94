r"""The attractor of a deep network $x_{k+1} = f(x_k)$, classified from the evidence of its orbits, batched.

Appendix C of Drgoňa et al. (2020) shows six attractor types of deep networks (Fig. 6: single point, multiple points,
line attractor, limit cycle, chaotic attractor, unstable dynamics), named by looking at phase portraits. Here each
network of a :class:`~linear_lens.networks.NetworkBatch` gets a type only from evidence that could have come out
otherwise (:func:`classify_attractor`, returning an :class:`Attractor` per network; the types in :data:`KINDS`):

- each start's **fate** from its orbit (:func:`linear_lens.dynamics.iterate`): it diverges, converges to a fixed
  point (found and judged by Newton's method with the true Jacobian $f'$, :func:`linear_lens.dynamics.fixed_points`),
  is periodic (:func:`linear_lens.dynamics.orbit_period`), or, failing these, is chaotic or quasi-periodic by the
  sign of its largest Lyapunov exponent $\hat\lambda_1 \pm s$ (:func:`linear_lens.dynamics.lyapunov_exponent`);
- the network's **type** from the fates of all starts, and for converging ones from the distinct limits and the
  spectrum of $f'$ there (a line attractor is a continuum of fixed points where $f'$ has an eigenvalue 1).

The spectral radius of $A^*(x)$ is not an input: what decides is the behaviour of orbits and the true Jacobian.
Orbits, fixed points and Lyapunov exponents themselves are in :mod:`linear_lens.dynamics`. Tensors stay on the
device and in the dtype of the weights; starts must be finite and real (``ValueError`` otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from linear_lens._checks import as_generator, check_positive_int, check_real
from linear_lens.dynamics import _unique_points, fixed_points, iterate, lyapunov_exponent, orbit_period, rotation_number
from linear_lens.networks import NetworkBatch, _forward, _jacobian, _points, _subset, batch_jacobian
from linear_lens.spectral_fields import eigenvalues

__all__ = ["KINDS", "Attractor", "classify_attractor"]

#: The attractor types of the paper's Fig. 6, and ``"undetermined"`` when the evidence does not settle the type.
KINDS = ("single point", "multiple points", "line attractor", "limit cycle", "chaotic", "unstable", "undetermined")


@dataclass(frozen=True)
class Attractor:
    r"""The attractor type of one network (:func:`classify_attractor`) and the evidence behind it.

    ``kind``: one of :data:`KINDS`. ``fates``: how many starts ended in each fate (``"fixed point"``,
    ``"periodic"``, ``"quasi-periodic"``, ``"chaotic"``, ``"diverging"``, ``"undetermined"``).
    ``limits`` ``(j, n)``: the distinct fixed points the orbits converged to (deduplicated); ``line_points``: how
    many of them have an eigenvalue of $f'(\bar x)$ within ``line_tol`` of 1 (points of a continuum of fixed points);
    ``limit_eigenvalue_gap``: the largest $\min_i |\lambda_i(f'(\bar x)) - 1|$ over those (``nan`` if none).
    ``fixed_points``, ``fixed_point_verdicts``, ``rho_jacobian``, ``rho_astar``: every fixed point Newton's method found
    from the starts and the limits, with its verdict, $\rho(f'(\bar x))$ and $\rho(A^*(\bar x))$.
    ``period``: the smallest period $\ge 2$ of a periodic orbit ($0$ if none); ``rotation``: the median rotation
    number of the quasi-periodic or periodic orbits (``nan`` if none); ``lyapunov``, ``lyapunov_stderr``: the largest
    exponent over the bounded orbits and its error bar; ``growth``: the median growth factor per step of the
    diverging orbits (``nan`` if none or too slow to measure); ``evidence``: one line in words.
    """

    kind: str
    fates: dict
    limits: torch.Tensor
    line_points: int
    limit_eigenvalue_gap: float
    fixed_points: torch.Tensor
    fixed_point_verdicts: list
    rho_jacobian: torch.Tensor
    rho_astar: torch.Tensor
    period: int
    rotation: float
    lyapunov: float
    lyapunov_stderr: float
    growth: float
    evidence: str

    def row(self) -> dict:
        """The evidence as a flat dict of numbers and short strings (one row of a table)."""
        pts = "; ".join(
            f"({', '.join(f'{v:.4g}' for v in p)}) {verdict}"
            for p, verdict in zip(self.fixed_points.cpu().tolist(), self.fixed_point_verdicts)
        )
        return {
            "kind": self.kind,
            **{f"starts_{k.replace(' ', '_').replace('-', '_')}": v for k, v in self.fates.items()},
            "attracting_points": int(self.limits.shape[0]),
            "line_points": self.line_points,
            "fixed_points": int(self.fixed_points.shape[0]),
            "stable_fixed_points": sum(v == "stable" for v in self.fixed_point_verdicts),
            "fixed_point_list": pts,
            "period": self.period,
            "rotation": self.rotation,
            "lyapunov": self.lyapunov,
            "lyapunov_stderr": self.lyapunov_stderr,
            "growth": self.growth,
            "evidence": self.evidence,
        }


def classify_attractor(
    net: NetworkBatch,
    starts: torch.Tensor,
    *,
    steps: int = 1000,
    tail: int = 64,
    lyapunov_steps: int = 512,
    blocks: int = 16,
    max_period: int = 24,
    escape: float = 1e6,
    tol_fixed: float = 1e-9,
    tol_period: float = 1e-7,
    lyapunov_tol: float = 2e-3,
    line_points: int = 4,
    line_tol: float = 1e-6,
    generator=None,
) -> list[Attractor]:
    r"""Classify the attractor of each network from orbits of ``starts``, and return the evidence.

    Each start is iterated ``steps`` steps (:func:`~linear_lens.dynamics.iterate`) and given a fate:

    1. *diverging*: it left the ball of radius ``escape``, or its norm grew by half over the second half of the run
       and ended above twice the largest start norm plus one;
    2. *fixed point*: $\lVert f(x) - x\rVert_\infty \le$ ``tol_fixed`` $(1 + \lVert x\rVert_\infty)$ at the end; or,
       for slow convergence, Newton's method from the end state finds a $\bar x$ that does not repel
       ($\rho(f'(\bar x)) \le 1$), the distance to it shrank by 10% over the second half, and the orbit's Lyapunov
       exponent (below) is not positive;
    3. *periodic*: a period $2 \le p \le$ ``max_period`` over the last ``tail`` states
       (:func:`~linear_lens.dynamics.orbit_period`);
    4. otherwise, by the largest Lyapunov exponent $\hat\lambda_1 \pm s$ over ``lyapunov_steps`` more steps
       (:func:`~linear_lens.dynamics.lyapunov_exponent`): *chaotic* if $\hat\lambda_1 - 3s >$ ``lyapunov_tol``,
       *quasi-periodic* if $|\hat\lambda_1| \le \max(3s,$ ``lyapunov_tol``$)$, *undetermined* else.

    The network's kind, in this order: ``"unstable"`` if a start diverges; ``"chaotic"`` if one is chaotic;
    ``"limit cycle"`` if one is periodic or quasi-periodic (a cycle of $p$ points, or an invariant closed curve);
    else, from the distinct limits of the converging starts: ``"line attractor"`` if at least ``line_points`` of
    them are fixed points where $f'(\bar x)$ has an eigenvalue within ``line_tol`` of 1 (a continuum of fixed
    points, along which $f'$ leaves the tangent direction unchanged), ``"multiple points"`` if more than one limit,
    ``"single point"`` if one; ``"undetermined"`` if no start could be classified. ``starts``: ``(S, n)``;
    ``generator``: for the tangent vectors of the Lyapunov exponents. Returns one :class:`Attractor` per network.

    The spectral radius of $A^*$ is not an input: what decides is the behaviour of orbits and the true Jacobian.
    """
    steps = check_positive_int(steps, "steps")
    max_period = check_positive_int(max_period, "max_period")
    tail = check_positive_int(tail, "tail")
    if tail <= 2 * max_period or tail > steps:
        raise ValueError(f"tail: need 2 * max_period < tail <= steps, got tail={tail}, max_period={max_period}")
    lyapunov_steps = check_positive_int(lyapunov_steps, "lyapunov_steps")
    blocks = check_positive_int(blocks, "blocks")
    if blocks < 2 or lyapunov_steps % blocks:
        raise ValueError(f"blocks: need at least 2 blocks dividing lyapunov_steps = {lyapunov_steps}, got {blocks}")
    line_points = check_positive_int(line_points, "line_points")
    for value, label in ((tol_fixed, "tol_fixed"), (lyapunov_tol, "lyapunov_tol"), (line_tol, "line_tol")):
        if check_real(value, label) < 0:
            raise ValueError(f"{label}: must be nonnegative, got {value}")
    as_generator(generator)  # validated here; lyapunov_exponent makes the generator
    start_pts = _points(net, starts)
    M, S, n = start_pts.shape
    orb = iterate(net, start_pts, steps, tail=tail, escape=escape)
    x_end, x_half = orb.x, orb.half
    r0 = start_pts.norm(dim=-1).amax(dim=-1, keepdim=True) + 1
    n_end, n_half = x_end.norm(dim=-1), x_half.norm(dim=-1)
    diverging = orb.escaped | ((n_end > 1.5 * n_half) & (n_end > 2 * r0))
    F = _forward(net, x_end) - x_end
    settled = ~diverging & (F.abs().amax(-1) <= tol_fixed * (1 + x_end.abs().amax(-1)))
    period = orbit_period(orb.tail, max_period, tol_period)
    periodic = ~diverging & ~settled & (period >= 2)
    rest = ~diverging & ~settled & ~periodic
    # the largest Lyapunov exponent of the orbits still undecided (only the networks that have some, batched)
    lam = torch.full((M, S), float("nan"), dtype=x_end.dtype, device=x_end.device)
    se = torch.full_like(lam, float("nan"))
    todo = torch.nonzero(rest.any(dim=-1).cpu()).flatten().tolist()
    if todo:
        ix = torch.tensor(todo, device=x_end.device)
        lyap = lyapunov_exponent(net.select(todo), torch.where(rest[ix].unsqueeze(-1), x_end[ix], 0 * x_end[ix]),
                                 lyapunov_steps, blocks=blocks, generator=generator)
        lam[ix], se[ix] = lyap.exponent, lyap.stderr
    positive = lam - 3 * se > lyapunov_tol
    # slow convergence to a fixed point: Newton from the end state finds a point that is not repelling
    # (rho(f') <= 1), the distance to it shrank by 10% over the second half, and the orbit is not chaotic
    slow = torch.zeros_like(rest)
    newton_limit = x_end.clone()
    if bool(rest.any()):
        fp = fixed_points(net, torch.where(rest.unsqueeze(-1), x_end, torch.zeros_like(x_end)), tol=1e-11)
        at = torch.where(fp.converged.unsqueeze(-1), fp.x, torch.zeros_like(fp.x))
        _, Jn = _jacobian(net, at)
        attracting = fp.converged & (eigenvalues(Jn).abs().amax(-1) <= 1 + 1e-9)
        d_end = (x_end - fp.x).norm(dim=-1)
        d_half = (x_half - fp.x).norm(dim=-1)
        slow = rest & fp.converged & attracting & (d_end <= 0.9 * d_half) & ~positive
        newton_limit = torch.where(slow.unsqueeze(-1), fp.x, x_end)
    rest = rest & ~slow
    chaotic = rest & positive
    quasi = rest & ~chaotic & (lam.abs() <= torch.clamp(3 * se, min=lyapunov_tol))
    undetermined = rest & ~chaotic & ~quasi
    converged = settled | slow
    limits_all = torch.where(settled.unsqueeze(-1), x_end, newton_limit)
    rot = rotation_number(orb.tail) if n == 2 else torch.full((M, S), float("nan"), dtype=x_end.dtype)
    # Newton from the starts and from the limits: every fixed point we can find, with verdicts
    fp_all = fixed_points(net, torch.cat([start_pts, limits_all], dim=1))
    # the Jacobian at the limits, for the line-attractor test
    limit_sets = [_unique_points(limits_all[m][converged[m]], 1e-6) for m in range(M)]
    counts = [p.shape[0] for p in limit_sets]
    gaps = [torch.zeros(0)] * M
    if sum(counts):
        idx = torch.repeat_interleave(torch.arange(M), torch.tensor(counts))
        _, J = batch_jacobian(_subset(net, idx), torch.cat(limit_sets).unsqueeze(1))
        dist = (eigenvalues(J[:, 0]) - 1).abs().amin(-1).cpu()
        gaps = list(torch.split(dist, counts))
    out = []
    for m in range(M):
        limits = limit_sets[m]
        on_line = gaps[m] <= line_tol
        n_line = int(on_line.sum())
        gap = float(gaps[m][on_line].amax()) if n_line else float("nan")
        fates = {
            "fixed point": int(converged[m].sum()),
            "periodic": int(periodic[m].sum()),
            "quasi-periodic": int(quasi[m].sum()),
            "chaotic": int(chaotic[m].sum()),
            "diverging": int(diverging[m].sum()),
            "undetermined": int(undetermined[m].sum()),
        }
        bounded = ~diverging[m]
        lam_b = lam[m][rest[m]]
        if lam_b.numel():
            i = int(torch.argmax(lam_b))
            lyap_max, lyap_se = float(lam_b[i]), float(se[m][rest[m]][i])
        else:
            lyap_max, lyap_se = float("nan"), float("nan")
        cyc = (periodic[m] | quasi[m]) & bounded
        rotation = float(rot[m][cyc].median()) if bool(cyc.any()) else float("nan")
        per = int(period[m][periodic[m]].min()) if bool(periodic[m].any()) else 0
        g = orb.growth[m][diverging[m] & torch.isfinite(orb.growth[m])]
        growth = float(g.median()) if g.numel() else float("nan")
        if fates["diverging"]:
            kind = "unstable"
            ev = f"{fates['diverging']}/{S} starts diverge"
            if growth == growth:
                ev += f", |x| grows by {growth:.4g} per step"
        elif fates["chaotic"]:
            kind = "chaotic"
            ev = f"{fates['chaotic']}/{S} bounded orbits with Lyapunov exponent {lyap_max:.3g} ± {lyap_se:.1g} > 0"
        elif fates["periodic"] or fates["quasi-periodic"]:
            kind = "limit cycle"
            ev = (f"{fates['periodic']} periodic (period {per}) and {fates['quasi-periodic']} quasi-periodic "
                  f"orbits of {S}")
            if rotation == rotation:
                ev += f", rotation number {rotation:.4g}"
        elif n_line >= line_points:
            kind = "line attractor"
            ev = (f"{n_line} of {limits.shape[0]} distinct limits are fixed points where f' has an eigenvalue "
                  f"within {gap:.1e} of 1 (a continuum of fixed points)")
        elif limits.shape[0] > 1:
            kind = "multiple points"
            ev = f"{limits.shape[0]} distinct attracting fixed points"
        elif limits.shape[0] == 1:
            kind = "single point"
            ev = f"all {fates['fixed point']} converging starts end at one fixed point"
        else:
            kind = "undetermined"
            ev = f"{fates['undetermined']}/{S} orbits not classified"
        if kind != "undetermined" and fates["undetermined"]:
            ev += f"; {fates['undetermined']} orbits undetermined"
        out.append(Attractor(kind, fates, limits, n_line, gap, fp_all.points[m], fp_all.verdicts[m],
                             fp_all.rho_jacobian[m], fp_all.rho_astar[m], per, rotation, lyap_max, lyap_se, growth, ev))
    return out
