r"""Dynamic mean-field theory (DMFT) of the random recurrent network $\dot x = -x + J\phi(x)$ in its chaotic phase.

The network (Sompolinsky, Crisanti and Sommers, 1988; the model of Clark, 2026) has $N$ units,
$\dot x_i = -x_i + \sum_j J_{ij}\phi(x_j)$ with i.i.d. couplings $J_{ij} \sim \mathcal N(0, g^2/N)$ and an odd
activation $\phi$ with $\phi'(0) = 1$. As $N \to \infty$ every unit is a stationary Gaussian process with
autocorrelation $C^x(\tau) = \langle x(t)x(t+\tau)\rangle$ that solves

$$\bigl(1 - \partial_\tau^2\bigr)\, C^x(\tau) = g^2 C^\phi(\tau), \qquad
  C^\phi(\tau) = \langle \phi(x(t))\,\phi(x(t+\tau))\rangle,$$

where $C^\phi(\tau)$ is a Gaussian average over $(x(t), x(t+\tau))$ with variance $q = C^x(0)$ and covariance
$\Delta = C^x(\tau)$. This is Newton's equation $\ddot\Delta = -\partial_\Delta V$ of a particle in the potential
$V(\Delta) = -\Delta^2/2 + g^2 C^\Phi(\Delta)$, $\Phi' = \phi$. The chaotic solution leaves $\Delta = q$ at rest and
reaches $\Delta = 0$ as $\tau \to \infty$; energy conservation fixes $q$:

$$\frac{q^2}{2} = g^2 \operatorname{Var}\bigl[\Phi(\sqrt q\, z)\bigr], \qquad z \sim \mathcal N(0, 1).$$

The order parameters used by the linear-equivalent theory (:mod:`linear_lens.linear_equivalence`) are the gain
$a = \langle\phi'\rangle = E[\phi'(\sqrt q z)]$ and the spectrum of the residual $\xi = \phi(x) - a x$,

$$D(\omega) = S^\phi(\omega) - a^2 S^x(\omega) = S^\phi(\omega)\Bigl(1 - \frac{a^2 g^2}{1 + \omega^2}\Bigr),$$

with $S(\omega) = \int C(\tau) e^{-i\omega\tau}\,d\tau$ (the cross term $\langle \phi(x) x\rangle = a C^x$ is Price's
theorem). The tail of $C^x$ decays as $e^{-\lambda\tau}$ with $\lambda = \sqrt{1 - a^2 g^2}$.

Numerics (all float64, numpy/scipy): Gaussian averages by Gauss-Hermite quadrature; $C^\phi$ as a function of
$\rho = \Delta / q$ by a Hermite (Mehler) series $C^\phi = \sum_k c_k \rho^k$ for $\rho < 1/2$, where it converges
geometrically, and by a Chebyshev interpolant of nested quadrature on $[1/2, 1]$; $C^x(\tau)$ by integrating
Newton's equation from $\rho = 1$ to $1/2$, then the first-order energy equation in $u = \log\rho$, which is stable
all the way into the exponential tail. Activations: ``"tanh"`` and ``"erf"`` ($\phi(x) = \operatorname{erf}
(\sqrt\pi x / 2)$, whose Gaussian averages have closed forms, used by the tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np
from numpy.polynomial import chebyshev as _cheb
from scipy.integrate import solve_ivp
from scipy.optimize import brentq
from scipy.special import erf, roots_hermitenorm

from linear_lens._checks import check_positive_int, check_real

__all__ = [
    "ACTIVATIONS",
    "G_MAX",
    "DMFTSolution",
    "gaussian_mean",
    "pair_expectation",
    "hermite_coefficients",
    "solve_q",
    "gain",
    "solve",
]

#: The odd activations with $\phi'(0) = 1$ this module knows.
ACTIVATIONS = ("tanh", "erf")
#: The largest coupling strength the quadratures are sized for.
G_MAX = 5.0

_ALPHA = math.sqrt(math.pi) / 2  # erf(alpha x) has slope 1 at 0
_RHO_SWITCH = 0.5  # below: Hermite series; above: Chebyshev interpolant of nested quadrature
_SERIES_ORDER = 80  # c_k rho^k < 1e-20 for rho <= 1/2
_CHEB_DEGREE = 64
_RHO_END = 1e-20  # the energy equation is integrated until rho falls to this value
_RHO_LAPLACE = 1e-8  # the Laplace transform of D ~ rho^3 stops here
_PANEL = 0.25  # width of the Gauss-Legendre panels of the tau quadrature
_PANEL_NODES = 16


@dataclass(frozen=True)
class DMFTSolution:
    r"""The chaotic DMFT solution at coupling strength $g$: order parameters and correlation functions.

    ``g``: coupling strength; ``phi``: activation name; ``q`` $= C^x(0)$; ``a`` $= \langle\phi'\rangle$;
    ``lam`` $= \sqrt{1 - a^2 g^2}$, the decay rate of $C^x(\tau)$; ``phi_var`` $= C^\phi(0)$;
    ``energy_mismatch``: $|\dot\rho|$ from Newton's equation minus the energy equation where the two meet
    (a check of the self-consistency, near $10^{-12}$). Correlations are methods: ``Cx``, ``Cphi``, ``D`` in time
    (even in $\tau$), ``Sx``, ``Sphi``, ``D_omega`` in frequency, ``laplace_D`` the one-sided Laplace transform.
    """

    g: float
    phi: str
    q: float
    a: float
    lam: float
    phi_var: float
    energy_mismatch: float
    _rho: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    _cphi_rho: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    _d_rho: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    _tau_nodes: np.ndarray = field(repr=False)
    _tau_weights: np.ndarray = field(repr=False)
    _laplace_nodes: np.ndarray = field(repr=False)
    _laplace_weights: np.ndarray = field(repr=False)

    def rho(self, tau) -> np.ndarray:
        r"""$\rho(\tau) = C^x(\tau)/q$, the normalised autocorrelation of $x$ (even in $\tau$)."""
        return self._rho(np.abs(_as_array(tau, "tau")))

    def Cx(self, tau) -> np.ndarray:
        r"""$C^x(\tau) = \langle x(t)\,x(t+\tau)\rangle$."""
        return self.q * self.rho(tau)

    def Cphi(self, tau) -> np.ndarray:
        r"""$C^\phi(\tau) = \langle\phi(x(t))\,\phi(x(t+\tau))\rangle$."""
        return self._cphi_rho(self.rho(tau))

    def D(self, tau) -> np.ndarray:
        r"""$D(\tau) = C^\phi(\tau) - a^2 C^x(\tau)$, the autocorrelation of the residual $\phi(x) - a x$."""
        return self._d_rho(self.rho(tau))

    def Sx(self, omega) -> np.ndarray:
        r"""$S^x(\omega) = \int C^x(\tau) e^{-i\omega\tau} d\tau$."""
        return self._cosine_transform(lambda t: self.Cx(t), omega)

    def Sphi(self, omega) -> np.ndarray:
        r"""$S^\phi(\omega) = \int C^\phi(\tau) e^{-i\omega\tau} d\tau$."""
        return self._cosine_transform(lambda t: self.Cphi(t), omega)

    def D_omega(self, omega) -> np.ndarray:
        r"""$D(\omega) = \int D(\tau) e^{-i\omega\tau} d\tau = S^\phi(\omega) - a^2 S^x(\omega)$, the noise spectrum."""
        return self._cosine_transform(lambda t: self.D(t), omega)

    def laplace_D(self, kappa) -> np.ndarray:
        r"""$L(\kappa) = \int_0^\infty D(\tau) e^{-\kappa\tau} d\tau$ for complex $\kappa$ with
        $\operatorname{Re}\kappa > -\lambda$.

        $D(\tau) \sim \rho(\tau)^3 \sim e^{-3\lambda\tau}$, so the transform converges for $\operatorname{Re}\kappa >
        -3\lambda$; the quadrature stops where $\rho = 10^{-8}$, which keeps the truncation below $10^{-16}$ relative
        for $\operatorname{Re}\kappa > -\lambda$, the range allowed. ``kappa``: any shape, real or complex.
        Raises ``ValueError`` outside that half-plane.
        """
        k = np.asarray(kappa, dtype=np.complex128)
        if not np.all(np.isfinite(k)):
            raise ValueError("kappa: contains NaN or infinite entries")
        if np.any(k.real <= -self.lam):
            raise ValueError(f"kappa: needs Re(kappa) > -lam = {-self.lam:.4g}, where the quadrature is accurate")
        nodes = self._laplace_nodes
        values = self.D(nodes) * self._laplace_weights
        flat = k.reshape(-1)
        out = np.empty(flat.shape, dtype=np.complex128)
        for s in range(0, flat.size, 512):
            out[s:s + 512] = np.exp(-np.outer(flat[s:s + 512], nodes)) @ values
        return out.reshape(k.shape)

    def _cosine_transform(self, f, omega) -> np.ndarray:
        w = _as_array(omega, "omega")
        values = f(self._tau_nodes) * self._tau_weights
        flat = w.reshape(-1)
        out = np.empty(flat.shape)
        for s in range(0, flat.size, 256):
            out[s:s + 256] = 2 * np.cos(np.outer(flat[s:s + 256], self._tau_nodes)) @ values
        return out.reshape(w.shape)


def gaussian_mean(f: Callable[[np.ndarray], np.ndarray], variance: float, n_nodes: int = 200) -> float:
    r"""$E[f(x)]$ for $x \sim \mathcal N(0, \text{variance})$, by Gauss-Hermite quadrature with ``n_nodes`` nodes."""
    if not callable(f):
        raise ValueError(f"f: expected a function of a NumPy array, got {type(f).__name__}")
    v = _check_variance(variance)
    z, w = _hermite_nodes(check_positive_int(n_nodes, "n_nodes"))
    return float(w @ f(math.sqrt(v) * z))


def pair_expectation(phi: str, q: float, delta, n_nodes: int | None = None) -> np.ndarray:
    r"""$E[\phi(x)\phi(y)]$ for jointly Gaussian $(x, y)$ with variances $q$ and covariance $\Delta$.

    Nested Gauss-Hermite quadrature of $E_{z_0}\bigl[m(z_0)^2\bigr]$, $m(z_0) = E_z[\phi(\sqrt{\Delta} z_0 +
    \sqrt{q - \Delta}\, z)]$ for $\Delta \ge 0$ (and the sign-flipped form for $\Delta < 0$, using that $\phi$ is
    odd). ``phi``: one of :data:`ACTIVATIONS`; ``q > 0``; ``delta``: any shape, $|\Delta| \le q$.
    Returns an array of ``delta``'s shape.
    """
    f = _activation(phi)[0]
    q = _check_variance(q, "q")
    d = _as_array(delta, "delta")
    if np.any(np.abs(d) > q * (1 + 1e-12)):
        raise ValueError(f"delta: a covariance needs |delta| <= q = {q}, got max |delta| = {np.abs(d).max()}")
    z, w = _hermite_nodes(_nodes(n_nodes, q))
    flat = np.clip(np.abs(d.reshape(-1)), 0.0, q)
    sign = np.sign(d.reshape(-1))
    out = np.empty(flat.shape)
    for i, dd in enumerate(flat):
        inner = f(math.sqrt(dd) * z[:, None] + math.sqrt(q - dd) * z[None, :]) @ w
        out[i] = w @ inner**2
    return (sign * out).reshape(d.shape)


def hermite_coefficients(phi: str, q: float, order: int = _SERIES_ORDER, n_nodes: int | None = None) -> np.ndarray:
    r"""The coefficients $c_k$ of $E[\phi(x)\phi(y)] = \sum_{k \ge 0} c_k \rho^k$, $\rho = \Delta/q$ (Mehler).

    $c_k = \bigl(E[\phi(\sqrt q z)\,\mathrm{He}_k(z)]\bigr)^2 / k!$ with the probabilists' Hermite polynomials;
    all $c_k \ge 0$ and $\sum_k c_k = E[\phi^2]$. For odd $\phi$ only odd $k$ are nonzero, and $c_1 = q a^2$.
    Returns ``order + 1`` coefficients.
    """
    f = _activation(phi)[0]
    q = _check_variance(q, "q")
    order = check_positive_int(order, "order")
    z, w = _hermite_nodes(_nodes(n_nodes, q))
    fz = f(math.sqrt(q) * z) * w
    h_prev, h = np.zeros_like(z), np.ones_like(z)  # normalised He_k / sqrt(k!)
    coef = np.empty(order + 1)
    for k in range(order + 1):
        coef[k] = (fz @ h) ** 2
        h_prev, h = h, (z * h - math.sqrt(k) * h_prev) / math.sqrt(k + 1)
    return coef


def solve_q(g: float, phi: str = "tanh", n_nodes: int | None = None) -> float:
    r"""The variance $q = C^x(0)$ of the chaotic DMFT solution: the positive root of
    $q^2/2 = g^2 \operatorname{Var}[\Phi(\sqrt q z)]$, $\Phi' = \phi$ (energy conservation).

    ``g``: coupling strength, $1 < g \le$ :data:`G_MAX` (for $g \le 1$ the only solution is $q = 0$, the
    fixed point $x = 0$). Raises ``ValueError`` outside that range.
    """
    g = _check_g(g)
    Phi = _activation(phi)[2]

    def excess(q):
        z, w = _hermite_nodes(_nodes(n_nodes, q))
        values = Phi(math.sqrt(q) * z)
        mean = w @ values
        return q * q / 2 - g * g * (w @ (values - mean) ** 2)

    low, high = 1e-8, 2 * g * g + 1  # excess < 0 near 0 for g > 1; > 0 beyond 2 g^2 since Phi is 1-Lipschitz
    while excess(low) >= 0 and low > 1e-14:
        low /= 100
    if excess(low) >= 0:
        raise ValueError(f"g: no chaotic solution found for g = {g}; is g > 1?")
    return brentq(excess, low, high, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=200)


def gain(q: float, phi: str = "tanh", n_nodes: int | None = None) -> float:
    r"""The gain $a = \langle\phi'\rangle = E[\phi'(\sqrt q z)]$ at variance $q$."""
    dphi = _activation(phi)[1]
    q = _check_variance(q, "q")
    return gaussian_mean(dphi, q, _nodes(n_nodes, q))


def solve(g: float, phi: str = "tanh") -> DMFTSolution:
    r"""Solve the DMFT of $\dot x = -x + J\phi(x)$, $J_{ij} \sim \mathcal N(0, g^2/N)$, in the chaotic phase.

    Returns a :class:`DMFTSolution` with $q$, $a = \langle\phi'\rangle$, $\lambda$ and the functions
    $C^x(\tau)$, $C^\phi(\tau)$, $D(\tau)$ and their spectra. ``g``: $1 < g \le$ :data:`G_MAX`; ``phi``: one of
    :data:`ACTIVATIONS`. Implements the DMFT of Sompolinsky, Crisanti and Sommers (1988) used by Clark (2026).
    """
    g = _check_g(g)
    _activation(phi)
    q = solve_q(g, phi)
    a = gain(q, phi)
    lam2 = 1 - a * a * g * g
    if not lam2 > 0:
        raise ValueError(f"g: the DMFT solution at g = {g} has a g = {a * g:.6f} >= 1; no decaying solution")
    lam = math.sqrt(lam2)
    c = hermite_coefficients(phi, q)
    phi_var = float(pair_expectation(phi, q, q))

    # C^phi and the residual D = C^phi - a^2 q rho on [RHO_SWITCH, 1]: Chebyshev interpolants of nested quadrature.
    domain = [_RHO_SWITCH, 1.0]
    nodes = _cheb.chebpts2(_CHEB_DEGREE + 1)
    rho_nodes = _RHO_SWITCH + (nodes + 1) * (1 - _RHO_SWITCH) / 2
    cphi_nodes = pair_expectation(phi, q, q * rho_nodes)
    cphi_cheb = _cheb.Chebyshev.fit(rho_nodes, cphi_nodes, _CHEB_DEGREE, domain=domain)
    d_cheb = _cheb.Chebyshev.fit(rho_nodes, cphi_nodes - c[1] * rho_nodes, _CHEB_DEGREE, domain=domain)
    series = np.polynomial.Polynomial(c)
    d_series = np.polynomial.Polynomial(np.concatenate([[0.0, 0.0], c[2:]]))
    # G(rho) = (d rho / d tau)^2 / rho^2 from the energy equation, a series in rho (see the module docstring).
    k = np.arange(len(c))
    g_coef = np.zeros(len(c))
    g_coef[: len(c) - 1] = -(2 * g * g / q) * c[1:] / (k[1:] + 1)
    g_coef[0] += 1.0
    g_series = np.polynomial.Polynomial(g_coef)

    def cphi_rho(r):
        return np.where(r >= _RHO_SWITCH, cphi_cheb(np.clip(r, _RHO_SWITCH, 1)), series(np.minimum(r, _RHO_SWITCH)))

    def d_rho(r):
        return np.where(r >= _RHO_SWITCH, d_cheb(np.clip(r, _RHO_SWITCH, 1)), d_series(np.minimum(r, _RHO_SWITCH)))

    # Phase 1: Newton's equation rho'' = rho - (g^2/q) C^phi(rho) from rest at rho = 1 down to RHO_SWITCH.
    def newton(t, y):
        return [y[1], y[0] - g * g / q * float(cphi_rho(np.array(y[0])))]

    hit = lambda t, y: y[0] - _RHO_SWITCH  # noqa: E731
    hit.terminal, hit.direction = True, -1
    p1 = solve_ivp(newton, (0.0, 100.0), [1.0, 0.0], method="DOP853", rtol=1e-13, atol=1e-15,
                   events=hit, dense_output=True)
    if p1.status != 1:
        raise RuntimeError(f"DMFT: Newton's equation did not reach rho = {_RHO_SWITCH} (g = {g})")
    tau_s, velocity = float(p1.t_events[0][0]), float(p1.y_events[0][0][1])
    mismatch = abs(velocity + _RHO_SWITCH * math.sqrt(g_series(_RHO_SWITCH)))

    # Phase 2: u = log rho, u' = -sqrt(G(e^u)); regular everywhere, exponential tail u' -> -lam.
    def energy(t, u):
        return [-math.sqrt(max(g_series(math.exp(u[0])), 0.0))]

    u_end = math.log(_RHO_END)
    span = tau_s + 2 * (math.log(_RHO_SWITCH) - u_end) / lam
    done = lambda t, u: u[0] - u_end  # noqa: E731
    done.terminal, done.direction = True, -1
    p2 = solve_ivp(energy, (tau_s, span), [math.log(_RHO_SWITCH)], method="DOP853", rtol=1e-13, atol=1e-13,
                   events=done, dense_output=True)
    tau_end = float(p2.t_events[0][0]) if p2.status == 1 else float(p2.t[-1])
    u_last = float(p2.sol(tau_end)[0])

    def rho(t):
        t = np.asarray(t, dtype=float)
        out = np.empty(t.shape)
        first, second = t <= tau_s, (t > tau_s) & (t <= tau_end)
        tail = t > tau_end
        out[first] = p1.sol(t[first])[0] if first.any() else 0
        out[second] = np.exp(p2.sol(t[second])[0]) if second.any() else 0
        out[tail] = np.exp(u_last - lam * (t[tail] - tau_end))
        return out

    tau_nodes, tau_weights = _panel_quadrature(tau_end)
    # D ~ rho^3 decays three times faster and is smooth: coarser panels, stopped where rho = 1e-8.
    u_stop = math.log(_RHO_LAPLACE)
    tau_stop = tau_s + (math.log(_RHO_SWITCH) - u_stop) / lam if u_stop < u_last else tau_end
    lap_nodes, lap_weights = _panel_quadrature(min(tau_stop, tau_end), width=0.5, order=12)
    return DMFTSolution(
        g=g, phi=phi, q=q, a=a, lam=lam, phi_var=phi_var, energy_mismatch=mismatch,
        _rho=rho, _cphi_rho=cphi_rho, _d_rho=d_rho, _tau_nodes=tau_nodes, _tau_weights=tau_weights,
        _laplace_nodes=lap_nodes, _laplace_weights=lap_weights,
    )


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _activation(phi: str):
    """(phi, phi', Phi) as numpy functions, Phi the antiderivative with Phi(0) = 0."""
    if phi == "tanh":
        return np.tanh, lambda x: 1 - np.tanh(x) ** 2, lambda x: np.abs(x) + np.log1p(np.exp(-2 * np.abs(x))) - math.log(2)
    if phi == "erf":
        return (
            lambda x: erf(_ALPHA * x),
            lambda x: np.exp(-(_ALPHA * x) ** 2),
            lambda x: x * erf(_ALPHA * x) + np.expm1(-(_ALPHA * x) ** 2) / (_ALPHA * math.sqrt(math.pi)),
        )
    raise ValueError(f"phi: expected one of {', '.join(ACTIVATIONS)}, got {phi!r}")


@lru_cache(maxsize=16)
def _hermite_nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    z, w = roots_hermitenorm(n)
    return z, w / w.sum()


def _nodes(n_nodes, q: float) -> int:
    """``n_nodes`` checked, or the default for the variance ``q`` when it is ``None``."""
    return _default_nodes(q) if n_nodes is None else check_positive_int(n_nodes, "n_nodes")


def _default_nodes(q: float) -> int:
    # Gauss-Hermite converges geometrically for tanh(sqrt(q) z) at a rate set by its poles, at distance
    # ~ pi / (2 sqrt(q)) from the real axis: the node count grows with q.
    return int(min(2400, max(200, 110 * q + 200)))


def _panel_quadrature(end: float, width: float = _PANEL, order: int = _PANEL_NODES) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(order)
    starts = np.arange(0.0, end, width)
    nodes = (starts[:, None] + (x[None, :] + 1) * width / 2).reshape(-1)
    weights = np.broadcast_to(w * width / 2, (starts.size, order)).reshape(-1)
    return nodes, weights.copy()


def _check_g(g) -> float:
    g = check_real(g, "g")
    if not 1 < g <= G_MAX:
        raise ValueError(f"g: the chaotic phase needs g > 1, and the quadratures are sized for g <= {G_MAX}; got {g}")
    return g


def _check_variance(v, name: str = "variance") -> float:
    v = check_real(v, name)
    if not v > 0:
        raise ValueError(f"{name}: expected a positive variance, got {v}")
    return v


def _as_array(x, name: str) -> np.ndarray:
    if isinstance(x, (str, bytes)) or x is None:
        raise ValueError(f"{name}: expected real numbers, got {x!r}")
    try:
        arr = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected real numbers, got {type(x).__name__}") from err
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise ValueError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or infinite entries")
    return arr
