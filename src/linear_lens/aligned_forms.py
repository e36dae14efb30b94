r"""Theorem 3.2.1 of Anguita (2024) as printed, and an independent high-precision reference for the aligned modes.

The closed form of :mod:`linear_lens.aligned` solves the mode equation $\tau\dot a = \sqrt{\lambda^2 + 4a^2}\,(s - a)$
of aligned $\lambda$-balanced networks. This module holds what it is checked against:

- :func:`thesis_singular_value_trajectory`: Theorem 3.2.1 as printed, eq. (3.2) with $C_0$ of eq. (3.19), and with
  either or both of its corrections (errata E10.1, E10.2);
- :func:`printed_c0_curve`: the only initial modes at which the printed $C_0$ is right ($0 < \lambda \le 1/3$);
- :func:`reference_trajectory`: the mode equation solved in high precision with ``mpmath`` (separation of variables,
  quadrature, root finding), knowing nothing of the closed form's algebra.
"""

from __future__ import annotations

import torch

from linear_lens._checks import as_float_tensor, check_positive_real, check_real
from linear_lens.aligned import _prepare

__all__ = ["thesis_singular_value_trajectory", "printed_c0_curve", "reference_trajectory"]


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
    and is undefined at $\lambda = 0$: use :func:`linear_lens.aligned.singular_value_trajectory`. As printed it is exact only where the
    printed and the corrected $q$ agree (:func:`printed_c0_curve`). This function exists to show where the printed
    formula fails.

    Arguments as in :func:`linear_lens.aligned.singular_value_trajectory`; ``lam`` must be non-zero. Entries the printed formula
    cannot evaluate (a negative number under the root, an overflow) come out as NaN: that is part of the evidence.
    """
    for flag, name in ((fix_c0, "fix_c0"), (fix_sign, "fix_sign")):
        if not isinstance(flag, bool):
            raise ValueError(f"{name}: expected True or False, got {flag!r}")
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


def printed_c0_curve(lam) -> torch.Tensor:
    r"""Return the initial mode $a_0 \ge 0$ at which the printed $C_0$ of Theorem 3.2.1 is right, for each $\lambda$.

    The printed $q = 4a_0 s\operatorname{sgn}\lambda/\sqrt{\lambda^2 + 4a_0^2 + \lambda}$ equals the corrected
    $4a_0 s\operatorname{sgn}\lambda/(\sqrt{\lambda^2 + 4a_0^2} + |\lambda|)$ iff $a_0 = 0$ or
    $\lambda^2 + 4a_0^2 + \lambda = (\sqrt{\lambda^2 + 4a_0^2} + |\lambda|)^2$, i.e. $\lambda = \lambda^2 +
    2|\lambda|\sqrt{\lambda^2 + 4a_0^2}$. For $\lambda < 0$ the right side is positive and the left negative: never.
    For $\lambda > 0$ it reads $\sqrt{\lambda^2 + 4a_0^2} = (1 - \lambda)/2$, that is

    $$16 a_0^2 = (1 - 3\lambda)(1 + \lambda), \qquad 0 < \lambda \le 1/3.$$

    The curve does not depend on $s$ and is not invariant under rescaling $(\lambda, s, a_0) \mapsto c(\lambda, s, a_0)$
    (which only rescales time in the mode equation): a sign that the printed formula mixes $\lambda$ and $\lambda^2$
    (errata E10.1). Since the exponent of eq. (3.2) is right for $\lambda > 0$ (errata E10.2), the printed Theorem 3.2.1
    is exact for $\lambda > 0$ exactly at $a_0 = 0$ and at $a_0 = \pm$ this value, and wrong for every other $a_0$.

    ``lam``: a number or tensor. Returns the non-negative root $a_0 = \sqrt{(1 - 3\lambda)(1 + \lambda)}/4$ where
    $0 < \lambda \le 1/3$ and NaN elsewhere (float64, the shape of ``lam``).
    """
    lam = as_float_tensor(lam, "lam", dtype=torch.float64)
    inside = (lam > 0) & (lam <= 1 / 3)
    value = torch.sqrt(((1 - 3 * lam) * (1 + lam)).clamp(min=0)) / 4
    return torch.where(inside, value, torch.full_like(lam, float("nan")))


def reference_trajectory(t, lam: float, s: float, a0: float, tau: float = 1.0, digits: int = 30) -> torch.Tensor:
    r"""Solve the mode equation $\tau\dot a = \sqrt{\lambda^2 + 4a^2}\,(s - a)$ in high precision, independently of the closed form.

    An independent reference for :func:`linear_lens.aligned.singular_value_trajectory` that knows nothing of its Riccati algebra:
    separation of variables, numerical quadrature and root finding in ``mpmath``. With $L = |\lambda| > 0$ and the
    thesis's substitution $a = \tfrac{L}{2}\sinh\theta$, the mode equation becomes $\tau\dot\theta = 2s - L\sinh\theta$,
    which moves $\theta$ monotonically from $\theta_0$ to $\theta_s = \operatorname{asinh}(2s/L)$; at $\lambda = 0$ the
    variable $\theta = \ln a$ obeys $\tau\dot\theta = 2(s - e^\theta)$. Writing $\theta = \theta_s - \delta$,
    $\delta = (\theta_s - \theta_0)e^{-y}$, the time to reach $y$ is

    $$t(y) = \tau\int_0^y \frac{\delta\,dv}{2L\cosh\frac{\theta_s + \theta}{2}\,\sinh\frac{\delta}{2}}
      \quad\Big(\text{or } \tau\int_0^y \frac{\delta\,dv}{2s\,(1 - e^{-\delta})} \text{ at } \lambda = 0\Big),$$

    a smooth, bounded integrand (no cancellation, no singularity as $a \to s$). For each time, $t(y) = t$ is solved by
    Newton's method safeguarded by bisection, each integral by Gauss-Legendre quadrature with ``digits`` + 5
    significant digits, continuing from the previous time; then $\theta = \theta_0 - (\theta_s - \theta_0)
    \operatorname{expm1}(-y)$ and $a = \tfrac{L}{2}\sinh\theta$ (or $e^\theta$), rounded to float64. The floating
    exponent of ``mpmath`` keeps full relative precision for modes far below one (an ODE integrator with an
    absolute tolerance would not).

    ``t``: ``(T,)`` non-negative times; ``lam``, ``s`` $> 0$, ``a0``, ``tau`` $> 0$: numbers (one mode); with
    $\lambda = 0$, ``a0`` must be positive. ``digits``: working precision, 16 to 60. Returns ``(T,)`` float64.
    Slow (hundredths of a second per time): for checks, not for sweeps.
    """
    import mpmath

    times = as_float_tensor(t, "t", dtype=torch.float64)
    if times.ndim > 1:
        raise ValueError(f"t: expected a number or a 1-D array of times, got shape {tuple(times.shape)}")
    times = times.reshape(-1)
    if bool((times < 0).any()):
        raise ValueError("t: times must be non-negative")
    lam, s, a0 = check_real(lam, "lam"), check_real(s, "s"), check_real(a0, "a0")
    if s <= 0:
        raise ValueError("s: singular values must be positive")
    if lam == 0 and a0 <= 0:
        raise ValueError("a0: must be positive where lam = 0 (the reference follows a mode that moves)")
    tau = check_positive_real(tau, "tau")
    if isinstance(digits, bool) or not isinstance(digits, int) or not 16 <= digits <= 60:
        raise ValueError(f"digits: expected an integer in [16, 60], got {digits!r}")
    values = {}
    with mpmath.workdps(digits + 5):
        L, S, A0, T = (mpmath.mpf(v) for v in (abs(lam), s, a0, tau))
        K = mpmath.sqrt(L**2 + 4 * S**2)
        if L > 0:
            theta0, theta_s = mpmath.asinh(2 * A0 / L), mpmath.asinh(2 * S / L)
        else:
            theta0, theta_s = mpmath.log(A0), mpmath.log(S)
        span = theta_s - theta0
        tol = mpmath.mpf(10) ** (-digits)
        v_flat = mpmath.mpf(2.31 * (digits + 8) + 5)          # beyond it delta < 10^-(digits+8): the rate is 1/K

        def speed(v):                                         # dt/dy divided by tau
            delta = span * mpmath.exp(-v)
            if L > 0:
                return delta / (2 * L * mpmath.cosh(theta_s - delta / 2) * mpmath.sinh(delta / 2))
            return delta / (-2 * S * mpmath.expm1(-delta))

        def elapsed(y1, y2):
            total = mpmath.mpf(0)
            top = min(y2, v_flat)
            if top > y1:
                pieces = int(min(top - y1, 40)) + 1
                total += mpmath.quad(speed, mpmath.linspace(y1, top, pieces + 1), method="gauss-legendre")
            start = max(y1, v_flat)
            if y2 > start:
                total += (y2 - start) / K
            return T * total

        base_y, base_t = mpmath.mpf(0), mpmath.mpf(0)
        for value in sorted(set(times.tolist())):
            target = mpmath.mpf(value)
            if target == 0 or span == 0:
                values[value] = float(A0)
                continue
            lo, hi = base_y, None
            y = base_y + (target - base_t) / (T * speed(base_y))
            for _ in range(200):
                t_y = base_t + elapsed(base_y, y) if y > base_y else base_t
                gap = t_y - target
                if gap <= 0:
                    lo, base_y, base_t = y, y, t_y
                else:
                    hi = y
                if gap == 0:
                    break
                step = y - gap / (T * speed(y))
                if step < lo or (hi is not None and step > hi):
                    step = (lo + hi) / 2 if hi is not None else 2 * y + 1
                done = (abs(step - y) <= tol * abs(step) or abs(gap) <= tol * target / 100
                        or (hi is not None and hi - lo <= tol * hi))
                y = step
                if done:
                    break
            theta = theta0 - span * mpmath.expm1(-y)
            values[value] = float(L / 2 * mpmath.sinh(theta)) if L > 0 else float(mpmath.exp(theta))
    return torch.tensor([values[v] for v in times.tolist()], dtype=torch.float64)
