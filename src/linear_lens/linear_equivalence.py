r"""The linear-equivalent covariance of a random recurrent network, and the naive Gaussian closure (Clark, 2026).

For $\dot x = -x + J\phi(x)$ (:mod:`linear_lens.rnn`) with the gain $a = \langle\phi'\rangle$ and the residual
spectrum $D(\omega)$ of dynamic mean-field theory (:mod:`linear_lens.dmft`), write $\phi(x) = a x + \xi$ and
$x(\omega) = J\phi(\omega)/(1 + i\omega)$: then, exactly,

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
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch

from linear_lens._checks import as_float_tensor, check_positive_int, check_positive_real
from linear_lens._threads import single_thread
from linear_lens.rnn import _check_couplings

__all__ = [
    "eigenbasis",
    "max_real_gain",
    "linear_equivalent_spectrum",
    "linear_equivalent_covariance",
    "naive_closure_spectrum",
    "naive_closure_covariance",
    "direct_spectrum",
]


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
    lam, V, Vi = _check_basis(basis, J) if basis is not None else eigenbasis(J)
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
    lam, V, Vi = _check_basis(basis, J) if basis is not None else eigenbasis(J)
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
    lam, V, Vi = _check_basis(basis, J) if basis is not None else eigenbasis(J)
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
    lam, V, Vi = _check_basis(basis, J) if basis is not None else eigenbasis(J)
    radius = float((a * lam).abs().max())
    if radius >= 1:
        raise ValueError(f"J: a * rho(J) = {radius:.6f} >= 1; the naive-closure equation is resonant")
    c = (a * a) * lam[:, None] * lam[None, :]
    kappa = torch.sqrt(1 - c)
    L = _laplace_on_many(solution, kappa, check_positive_int(check_points, "check_points"))
    K = float(solution.D(0.0)) + c * L / kappa
    C = V @ (K * (Vi @ Vi.mT)) @ V.mT
    return _real_symmetric(C)


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


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


def _check_basis(basis, J: torch.Tensor):
    """``basis`` as ``(lam, V, Vi)`` of an :func:`eigenbasis` of an ``(..., N, N)`` ``J``, else ``ValueError``."""
    n = J.shape[-1]
    if not (isinstance(basis, (tuple, list)) and len(basis) == 3 and all(isinstance(b, torch.Tensor) for b in basis)
            and basis[0].shape[-1:] == (n,) and basis[1].shape[-2:] == (n, n) and basis[2].shape[-2:] == (n, n)):
        shapes = [tuple(b.shape) if isinstance(b, torch.Tensor) else type(b).__name__ for b in basis] \
            if isinstance(basis, (tuple, list)) else type(basis).__name__
        raise ValueError(f"basis: expected eigenbasis(J) = (lam (..., {n}), V (..., {n}, {n}), V^-1 (..., {n}, {n})), "
                         f"got {shapes}")
    return basis


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
