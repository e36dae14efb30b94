r"""Closed-form learning dynamics of aligned $\lambda$-balanced two-layer linear networks (Anguita, 2024, Section 3.2).

Let the task have $\Sigma^{yx} = \tilde U \tilde S \tilde V^\top$ with singular values $s_\alpha > 0$, and let the
weights be *aligned*, $W_1 = R\,\mathrm{diag}(c)\,\tilde V^\top$, $W_2 = \tilde U\,\mathrm{diag}(d)\,R^\top$, and
$\lambda$-balanced, $d_\alpha^2 - c_\alpha^2 = \lambda$. Under the gradient flow (eqs. 2.11-2.12, whitened inputs)
each mode $a_\alpha = c_\alpha d_\alpha$ of $W_2 W_1 = \tilde U\,\mathrm{diag}(a)\,\tilde V^\top$ evolves on its own:

$$\tau \dot c = d (s - c d), \qquad \tau \dot d = c (s - c d), \qquad
  \tau \dot a = (c^2 + d^2)(s - a) = \sqrt{\lambda^2 + 4 a^2}\,(s - a),$$

using $(c^2 + d^2)^2 = (d^2 - c^2)^2 + 4 c^2 d^2$ (eqs. 3.3-3.9). The right-hand side depends on $\lambda$ only
through $\lambda^2$: a mode learns the same way for $\lambda$ and $-\lambda$.

**Closed form used here.** With $p = c + d$ and $P = p^2 = \sqrt{\lambda^2 + 4a^2} + 2a$, the flow becomes the Riccati
equation $\tau \dot P = -\tfrac12 (P - P_+)(P - P_-)$, $P_\pm = 2s \pm K$, $K = \sqrt{\lambda^2 + 4 s^2}$, so that

$$\frac{P(t) - P_+}{P(t) - P_-} = \frac{P(0) - P_+}{P(0) - P_-}\, e^{-K t / \tau}, \qquad
  a = \frac{P^2 - \lambda^2}{4P}.$$

Only the decaying exponential $e^{-Kt/\tau}$ appears, so nothing overflows as $t \to \infty$, and every quantity is
continuous at $\lambda = 0$, where the formula reduces to the sigmoid (2.28) of Saxe et al. (2014).
:func:`singular_value_trajectory` evaluates it in a rearranged form that keeps full relative precision even for
modes far below $|\lambda|$. :func:`thesis_singular_value_trajectory` evaluates Theorem 3.2.1 as printed (and with
its corrections) for comparison; it is wrong as printed, see errata E10.1-E10.2.
"""

from __future__ import annotations

import math

import torch

from linear_lens._checks import as_float_tensor, check_real

__all__ = [
    "singular_value_trajectory",
    "thesis_singular_value_trajectory",
    "zero_balanced_trajectory",
    "large_lambda_trajectory",
    "large_lambda_correction",
    "reference_trajectory",
    "mode_rate",
    "has_inflection",
    "count_inflections",
    "task_modes",
    "mode_values",
    "mode_balance",
    "descent_mode_balance",
]


def singular_value_trajectory(t, lam, s, a0, tau: float = 1.0) -> torch.Tensor:
    r"""Return the mode $a(t)$ of an aligned $\lambda$-balanced network: the exact solution of $\tau\dot a = \sqrt{\lambda^2 + 4a^2}(s - a)$.

    Theorem 3.2.1 of Anguita (2024), corrected: see errata E10.1-E10.2. Writing $L = |\lambda|$,
    $K = \sqrt{\lambda^2 + 4s^2}$ and $\Delta = P - L$ with $P = \sqrt{\lambda^2 + 4a^2} + 2a$ (module docstring),
    $\Delta$ has fixed points $\Delta_+ = 2s + K - L > 0$ and $\Delta_- = 2s - K - L \le 0$ and

    $$\Delta(t) = \Delta_+ \frac{1 - H_0 e^{-Kt/\tau}}{1 - G_0 e^{-Kt/\tau}}, \quad
      G_0 = \frac{\Delta_0 - \Delta_+}{\Delta_0 - \Delta_-}, \quad H_0 = G_0 \frac{\Delta_-}{\Delta_+}, \quad
      a(t) = \frac{\Delta (\Delta + 2L)}{4 (\Delta + L)},$$

    with $1 - H_0 e^{-Kt/\tau}$ evaluated through ``expm1``/``log1p`` and $\Delta_0 = 2a_0 (r_0 + L + 2a_0)/(r_0 + L)$,
    $r_0 = \sqrt{\lambda^2 + 4a_0^2}$, so that small modes keep their relative precision. It depends on $\lambda$
    only through $|\lambda|$, never overflows, and at $\lambda = 0$ equals eq. (2.28).

    ``t``: times $\ge 0$, shape ``(T,)`` (or a number); ``lam`` $= \lambda$, ``s`` $= s_\alpha > 0$,
    ``a0`` $= a_\alpha(0)$: numbers or tensors broadcastable to a common mode shape ``(...)``; ``tau`` $= \tau > 0$.
    Returns ``(T, ...)`` (``(...)`` for a scalar ``t``), float64, on the device of the first tensor argument.
    Raises ``ValueError`` for $s \le 0$, and for $a_0 \le 0$ where $\lambda = 0$ (the saddle at the origin).
    """
    times, lam, s, a0, tau, scalar_t = _prepare(t, lam, s, a0, tau)
    if bool(((lam == 0) & (a0 <= 0)).any()):
        raise ValueError("a0: must be positive where lam = 0 (a0 <= 0 sits on the saddle of the zero-balanced flow)")
    L = lam.abs()
    K = torch.hypot(lam, 2 * s)
    d_plus = 2 * s + 4 * s**2 / (K + L)          # 2s + K - |lam| without cancellation
    d_minus = -(lam**2) / (2 * s + K) - L
    r0 = torch.hypot(lam, 2 * a0)
    d0 = 2 * a0 * (r0 + L + 2 * a0) / (r0 + L + (r0 + L == 0).to(a0))
    g0 = (d0 - d_plus) / (d0 - d_minus)
    one_minus_h0 = d0 * (d_plus - d_minus) / ((d0 - d_minus) * d_plus)
    decay = torch.exp(-K * times / tau)
    # 1 - H0 e^{-Kt}: through log1p/expm1 where H0 in (0, 1], which is where it can cancel.
    safe = one_minus_h0 < 1
    log_h0 = torch.log1p(-torch.where(safe, one_minus_h0, torch.zeros_like(one_minus_h0)))
    one_minus_h = torch.where(safe, -torch.expm1(log_h0 - K * times / tau), 1 - (1 - one_minus_h0) * decay)
    delta = d_plus * one_minus_h / (1 - g0 * decay)
    a = delta * (delta + 2 * L) / (4 * (delta + L))
    return a[0] if scalar_t else a


def thesis_singular_value_trajectory(
    t, lam, s, a0, tau: float = 1.0, fix_c0: bool = False, fix_sign: bool = False
) -> torch.Tensor:
    r"""Evaluate Theorem 3.2.1 of Anguita (2024) as printed, eq. (3.2) with $C_{0}$ of eq. (3.19), optionally corrected.

    $$a(t) = \frac{\lambda x}{1 - x^2}, \quad x = \frac{K(C_0 e^{Kt/\tau} - 1) - \lambda(C_0 e^{Kt/\tau} + 1)}
      {2s (C_0 e^{Kt/\tau} + 1)}, \quad
      C_0 = \frac{K + \lambda + q}{K - \lambda - q}, \quad
      q = \frac{4 a_0 s \operatorname{sgn}\lambda}{\sqrt{\lambda^2 + 4a_0^2 + \lambda}}, \quad K = \sqrt{\lambda^2 + 4s^2}.$$

    ``fix_c0=True`` uses $q = 4 a_0 s \operatorname{sgn}\lambda / (\sqrt{\lambda^2 + 4a_0^2} + |\lambda|)$ (errata
    E10.1); ``fix_sign=True`` uses the exponent $\operatorname{sgn}(\lambda) K t/\tau$ of the thesis's own proof,
    eq. (3.14) (errata E10.2). With both corrections the formula is exact, but it overflows once $Kt/\tau \gtrsim 709$
    and is undefined at $\lambda = 0$: use :func:`singular_value_trajectory`. This function exists to show where the
    printed formula fails.

    Arguments as in :func:`singular_value_trajectory`; ``lam`` must be non-zero. Entries the printed formula
    cannot evaluate (a negative number under the root, an overflow) come out as NaN: that is part of the evidence.
    """
    times, lam, s, a0, tau, scalar_t = _prepare(t, lam, s, a0, tau)
    if bool((lam == 0).any()):
        raise ValueError("lam: Theorem 3.2.1 assumes a non-zero lambda (the formula divides 0 by 0 at lambda = 0)")
    K = torch.hypot(lam, 2 * s)
    sign = torch.sign(lam)
    if fix_c0:
        q = 4 * a0 * s * sign / (torch.hypot(lam, 2 * a0) + lam.abs())
    else:
        q = 4 * a0 * s * sign / torch.sqrt(lam**2 + 4 * a0**2 + lam)
    rate = sign * K if fix_sign else K
    C0 = (K + lam + q) / (K - lam - q)
    ce = C0 * torch.exp(rate * times / tau)
    x = (K * (ce - 1) - lam * (ce + 1)) / (2 * s * (ce + 1))
    a = lam * x / (1 - x**2)
    return a[0] if scalar_t else a


def zero_balanced_trajectory(t, s, a0, tau: float = 1.0) -> torch.Tensor:
    r"""Return Saxe's sigmoid $a(t) = \dfrac{s\, e^{2st/\tau}}{e^{2st/\tau} - 1 + s/a_0}$ for an aligned zero-balanced mode.

    Implements eq. (2.28) of Anguita (2024) (Saxe et al., 2014), the solution of $\tau \dot a = 2a(s - a)$, evaluated
    as $s / (1 + (s/a_0 - 1) e^{-2st/\tau})$ so that it does not overflow.
    ``t``: ``(T,)``; ``s`` $> 0$, ``a0`` $> 0$ broadcastable; returns ``(T, ...)``.
    """
    times, _, s, a0, tau, scalar_t = _prepare(t, 0.0, s, a0, tau)
    if bool((a0 <= 0).any()):
        raise ValueError("a0: must be positive (eq. 2.28 divides by a0; a0 <= 0 is the saddle at the origin)")
    a = s / (1 + (s / a0 - 1) * torch.exp(-2 * s * times / tau))
    return a[0] if scalar_t else a


def large_lambda_trajectory(t, lam, s, a0, tau: float = 1.0) -> torch.Tensor:
    r"""Return $a(t) = s + (a_0 - s) e^{-|\lambda| t/\tau}$, the $|\lambda| \to \infty$ limit of Theorem 3.2.2.

    Implements the exponential of the proof of Theorem 3.2.2 of Anguita (2024): the solution of
    $\tau \dot a = |\lambda| (s - a)$, i.e. the shallow mode $b(u) = s + (b_0 - s)e^{-u/\tau}$ (eq. 3.20) at the
    rescaled time $u = |\lambda| t$. Arguments as in :func:`singular_value_trajectory`; ``lam`` must be non-zero.
    """
    times, lam, s, a0, tau, scalar_t = _prepare(t, lam, s, a0, tau)
    if bool((lam == 0).any()):
        raise ValueError("lam: the large-lambda limit needs lam != 0")
    a = s + (a0 - s) * torch.exp(-lam.abs() * times / tau)
    return a[0] if scalar_t else a


def large_lambda_correction(u, s, a0) -> torch.Tensor:
    r"""Return the first correction $c(u)$ to the large-$|\lambda|$ limit: $a(u\tau/|\lambda|) = b(u) + c(u)/\lambda^2 + O(\lambda^{-4})$.

    In the rescaled time $u = |\lambda| t/\tau$ the mode equation reads $a' = \sqrt{1 + 4a^2/\lambda^2}\,(s - a)
    = (1 + 2a^2/\lambda^2)(s - a) + O(\lambda^{-4})$, whose limit is the shallow mode $b(u) = s - D e^{-u}$,
    $D = s - a_0$ (Theorem 3.2.2 of Anguita, 2024). Linearising about $b$,

    $$c(u) = 2 D e^{-u} \int_0^u b(v)^2\,dv = 2 D e^{-u}\Big(s^2 u - 2 s D (1 - e^{-u}) + \tfrac{D^2}{2}(1 - e^{-2u})\Big).$$

    It quantifies how far the deep network is from "a shallow network compressed in time by $|\lambda|$".
    ``u``: ``(T,)`` rescaled times $\ge 0$; ``s`` $> 0$, ``a0``: broadcastable. Returns ``(T, ...)``.
    """
    times, _, s, a0, _, scalar_t = _prepare(u, 1.0, s, a0, 1.0)
    D = s - a0
    decay = torch.exp(-times)
    integral = s**2 * times - 2 * s * D * (-torch.expm1(-times)) + D**2 / 2 * (-torch.expm1(-2 * times))
    c = 2 * D * decay * integral
    return c[0] if scalar_t else c


def reference_trajectory(t, lam: float, s: float, a0: float, tau: float = 1.0, digits: int = 30) -> torch.Tensor:
    r"""Solve the mode equation $\tau\dot a = \sqrt{\lambda^2 + 4a^2}\,(s - a)$ numerically in high precision.

    An independent reference for :func:`singular_value_trajectory` that knows nothing of its closed form: Taylor-series
    integration of eq. (3.9) of Anguita (2024) by ``mpmath.odefun`` with ``digits`` significant digits, rounded to
    float64. Slow (about a second per trajectory): for checks, not for sweeps.

    ``t``: ``(T,)`` non-negative times; ``lam``, ``s`` $> 0$, ``a0``, ``tau`` $> 0$: numbers (one mode);
    ``digits``: working precision, 16 to 60. Returns ``(T,)`` float64.
    """
    import mpmath

    times = as_float_tensor(t, "t", dtype=torch.float64).reshape(-1)
    if bool((times < 0).any()):
        raise ValueError("t: times must be non-negative")
    lam, s, a0 = check_real(lam, "lam"), check_real(s, "s"), check_real(a0, "a0")
    if s <= 0:
        raise ValueError("s: singular values must be positive")
    tau = _positive(tau, "tau")
    if isinstance(digits, bool) or not isinstance(digits, int) or not 16 <= digits <= 60:
        raise ValueError(f"digits: expected an integer in [16, 60], got {digits!r}")
    with mpmath.workdps(digits):
        L, S, T = mpmath.mpf(lam), mpmath.mpf(s), mpmath.mpf(tau)
        solution = mpmath.odefun(lambda _, a: mpmath.sqrt(L**2 + 4 * a**2) * (S - a) / T, 0, mpmath.mpf(a0))
        values = [float(solution(mpmath.mpf(float(x)))) for x in times]
    return torch.tensor(values, dtype=torch.float64)


def mode_rate(a, lam, s, tau: float = 1.0) -> torch.Tensor:
    r"""Return $\dot a = \sqrt{\lambda^2 + 4a^2}\,(s - a)/\tau$, the right-hand side of eq. (3.9) of Anguita (2024).

    ``a``, ``lam``, ``s``: broadcastable numbers or tensors. Returns their broadcast shape.
    """
    a = as_float_tensor(a, "a", dtype=torch.float64)
    lam = as_float_tensor(lam, "lam", dtype=torch.float64).to(a.device)
    s = as_float_tensor(s, "s", dtype=torch.float64).to(a.device)
    tau = _positive(tau, "tau")
    return torch.hypot(lam, 2 * a) * (s - a) / tau


def has_inflection(lam, s, a0) -> torch.Tensor:
    r"""Return whether the trajectory from $a_0$ to $s$ has an inflection point ("sigmoidal" dynamics).

    Differentiating eq. (3.9) gives $\tau^2 \ddot a = \tau \dot a\; q(a) / \sqrt{\lambda^2 + 4a^2}$ with
    $q(a) = 4as - 8a^2 - \lambda^2$. From $a_0 < s$ the mode rises to $s$, where $q(s) = -4s^2 - \lambda^2 < 0$; so
    $\ddot a$ changes sign (an inflection point) iff $q > 0$ somewhere on $[a_0, s)$, i.e. iff
    $q(\max(a_0, s/4)) > 0$. For small $a_0$ this is $|\lambda| < s/\sqrt{2}$. From $a_0 \ge s$ the mode decays
    convexly and never inflects. A refinement of Theorem 3.2.2 of Anguita (2024), which calls the $\lambda = 0$
    dynamics sigmoidal and the $|\lambda| \to \infty$ dynamics exponential without saying where one turns into the
    other.

    ``lam``, ``s`` $> 0$, ``a0``: broadcastable. Returns a boolean tensor.
    """
    lam = as_float_tensor(lam, "lam", dtype=torch.float64)
    s = as_float_tensor(s, "s", dtype=torch.float64).to(lam.device)
    a0 = as_float_tensor(a0, "a0", dtype=torch.float64).to(lam.device)
    if bool((s <= 0).any()):
        raise ValueError("s: singular values must be positive")
    return _inflection(lam, s, a0)


def count_inflections(a: torch.Tensor, tol: float = 1e-12) -> torch.Tensor:
    r"""Count the sign changes of the second difference of sampled trajectories along the time axis (axis 0).

    A numerical test for inflection points, independent of :func:`has_inflection`: for $a$ sampled on a uniform
    grid, $a_{k+1} - 2a_k + a_{k-1}$ has the sign of $\ddot a$; entries with magnitude below ``tol`` (where the curve
    is flat to roundoff) are ignored. ``a``: ``(T, ...)`` with ``T >= 3``. Returns an integer tensor of shape ``(...)``.
    """
    a = as_float_tensor(a, "a", dtype=torch.float64)
    if a.ndim < 1 or a.shape[0] < 3:
        raise ValueError(f"a: expected at least 3 samples along axis 0, got shape {tuple(a.shape)}")
    tol = _positive(tol, "tol")
    second = a[2:] - 2 * a[1:-1] + a[:-2]
    signs = torch.where(second.abs() > tol, torch.sign(second), torch.zeros_like(second))
    # carry the last non-zero sign forward so that ignored entries do not break or create a change
    counts = torch.zeros(a.shape[1:], dtype=torch.long, device=a.device)
    last = torch.zeros(a.shape[1:], dtype=a.dtype, device=a.device)
    for row in signs:
        counts += ((row != 0) & (last != 0) & (row != last)).long()
        last = torch.where(row != 0, row, last)
    return counts


def task_modes(X: torch.Tensor, Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Return the compact SVD $\Sigma^{yx} = \tilde U \tilde S \tilde V^\top$ of the task (eq. 2.16 of Anguita, 2024).

    ``X``: ``(N_i, P)``; ``Y``: ``(N_o, P)``. Returns ``U`` ``(N_o, k)``, ``s`` ``(k,)`` (descending) and ``V``
    ``(N_i, k)`` with $k = \min(N_i, N_o)$.
    """
    X = as_float_tensor(X, "X")
    Y = as_float_tensor(Y, "Y").to(X)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"X, Y: expected shapes (N_i, P) and (N_o, P) with the same P, got {tuple(X.shape)} and "
                         f"{tuple(Y.shape)}")
    U, s, Vh = torch.linalg.svd(Y @ X.T / X.shape[1], full_matrices=False)
    return U, s, Vh.mT


def mode_values(W1: torch.Tensor, W2: torch.Tensor, U: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return the modes $a_\alpha = \tilde u_\alpha^\top W_2 W_1 \tilde v_\alpha$ and how far $W_2W_1$ is from aligned.

    ``W1``: ``(..., N_h, N_i)``; ``W2``: ``(..., N_o, N_h)``; ``U``, ``V``: the task's singular vectors from
    :func:`task_modes`. Returns ``a`` of shape ``(..., k)`` and the misalignment
    $\lVert W_2 W_1 - \tilde U \mathrm{diag}(a) \tilde V^\top \rVert_F$ of shape ``(...)``, zero exactly when the
    product is aligned with the task (Definition 2.2.2). Both are invariant to the sign ambiguity of the SVD.
    """
    W1, W2, U, V = _check_modes(W1, W2, U, V)
    product = W2 @ W1
    a = (U.mT @ product @ V).diagonal(dim1=-2, dim2=-1)
    residual = product - U @ torch.diag_embed(a) @ V.mT
    return a, torch.linalg.matrix_norm(residual)


def mode_balance(W1: torch.Tensor, W2: torch.Tensor, U: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    r"""Return the balance of each mode, $\lambda_\alpha = \lVert W_2^\top \tilde u_\alpha\rVert^2 - \lVert W_1 \tilde v_\alpha\rVert^2$.

    For aligned weights $W_1 = R\,\mathrm{diag}(c)\,\tilde V^\top$, $W_2 = \tilde U\,\mathrm{diag}(d)\,R^\top$ this is
    $d_\alpha^2 - c_\alpha^2$, which equals $\lambda$ for every mode when the weights are $\lambda$-balanced
    (Definition 2.2.1 of Anguita, 2024). ``W1``: ``(..., N_h, N_i)``; ``W2``: ``(..., N_o, N_h)``; ``U``, ``V``: the
    task's singular vectors from :func:`task_modes`. Returns ``(..., k)``.
    """
    W1, W2, U, V = _check_modes(W1, W2, U, V)
    return (W2.mT @ U).pow(2).sum(-2) - (W1 @ V).pow(2).sum(-2)


def descent_mode_balance(lam, a: torch.Tensor, s, lr: float) -> torch.Tensor:
    r"""Return the balance of each mode along gradient descent on aligned weights: $\lambda \prod_{j<k} (1 - \eta^2 e_j^2)$.

    One gradient step on aligned weights maps $c \mapsto c + \eta d e$, $d \mapsto d + \eta c e$ with
    $e = s - cd$, so $d^2 - c^2 \mapsto (d^2 - c^2)(1 - \eta^2 e^2)$ exactly: gradient descent shrinks every mode's
    balance towards zero, each by its own factor, and $\lambda$-balanced weights stop being $\lambda$-balanced.
    (The gradient flow keeps $\lambda$, Theorem 2.2.1 of Anguita, 2024.)

    ``lam`` $=\lambda$ at step 0 (broadcastable to the modes); ``a``: ``(K + 1, ...)`` the modes at steps
    $0, \dots, K$ (every step); ``s``: the task's singular values; ``lr`` $= \eta > 0$.
    Returns ``(K + 1, ...)``, the predicted $\lambda_\alpha$ at every step.
    """
    a = as_float_tensor(a, "a", dtype=torch.float64)
    if a.ndim < 1:
        raise ValueError(f"a: expected the modes at every step along axis 0, got shape {tuple(a.shape)}")
    lam = as_float_tensor(lam, "lam", dtype=torch.float64).to(a.device)
    s = as_float_tensor(s, "s", dtype=torch.float64).to(a.device)
    lr = _positive(lr, "lr")
    factors = 1 - lr**2 * (s - a[:-1]) ** 2
    ones = torch.ones_like(a[:1])
    return lam * torch.cat([ones, torch.cumprod(factors, dim=0)])


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _prepare(t, lam, s, a0, tau):
    """Validate and broadcast: times to (T, 1, ..., 1), parameters to a common mode shape."""
    ref = next((x for x in (t, lam, s, a0) if isinstance(x, torch.Tensor)), None)
    device = ref.device if ref is not None else None
    times = as_float_tensor(t, "t", dtype=torch.float64).to(device)
    scalar_t = times.ndim == 0
    times = times.reshape(-1)
    if bool((times < 0).any()):
        raise ValueError("t: times must be non-negative")
    lam = as_float_tensor(lam, "lam", dtype=torch.float64).to(device)
    s = as_float_tensor(s, "s", dtype=torch.float64).to(device)
    a0 = as_float_tensor(a0, "a0", dtype=torch.float64).to(device)
    try:
        shape = torch.broadcast_shapes(lam.shape, s.shape, a0.shape)
    except RuntimeError as err:
        raise ValueError(f"lam, s, a0: shapes {tuple(lam.shape)}, {tuple(s.shape)}, {tuple(a0.shape)} do not broadcast") from err
    if bool((s <= 0).any()):
        raise ValueError("s: singular values must be positive")
    tau = _positive(tau, "tau")
    lam, s, a0 = (x.expand(shape) for x in (lam, s, a0))
    times = times.reshape(-1, *([1] * len(shape)))
    return times, lam, s, a0, tau, scalar_t


def _positive(x, name: str) -> float:
    value = check_real(x, name)
    if value <= 0:
        raise ValueError(f"{name}: must be positive, got {value}")
    return value


def _inflection(lam, s, a0):
    """Whether q(a) = 4as - 8a^2 - lam^2 changes sign on the path from a0 to s (q(s) = -4s^2 - lam^2 < 0)."""
    # q is a concave parabola with maximum s^2/2 - lam^2 at a = s/4. On the path [a0, s] (a0 < s) it is positive
    # somewhere iff max over [a0, s] of q > 0: at a = max(a0, s/4).
    peak = torch.maximum(a0, s / 4)
    q = 4 * peak * s - 8 * peak**2 - lam**2
    return (a0 < s) & (q > 0)


def _check_modes(W1, W2, U, V):
    """Validate weights and task singular vectors for :func:`mode_values` / :func:`mode_balance`; common dtype."""
    W1 = as_float_tensor(W1, "W1")
    W2 = as_float_tensor(W2, "W2").to(W1)
    U = as_float_tensor(U, "U").to(W1)
    V = as_float_tensor(V, "V").to(W1)
    if W2.shape[-1] != W1.shape[-2] or U.shape[0] != W2.shape[-2] or V.shape[0] != W1.shape[-1] or U.shape[1] != V.shape[1]:
        raise ValueError(f"W1, W2, U, V: shapes {tuple(W1.shape)}, {tuple(W2.shape)}, {tuple(U.shape)}, "
                         f"{tuple(V.shape)} do not fit (..., N_h, N_i), (..., N_o, N_h), (N_o, k), (N_i, k)")
    return W1, W2, U, V
