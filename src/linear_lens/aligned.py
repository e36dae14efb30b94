r"""Closed-form learning dynamics of aligned $\lambda$-balanced two-layer linear networks (Anguita, 2024, Section 3.2).

Let the task have $\Sigma^{yx} = \tilde U \tilde S \tilde V^\top$ with singular values $s_\alpha > 0$, and let the
weights be *aligned in factored form*, $W_1 = R\,C\,\tilde V^\top$, $W_2 = \tilde U\,D\,R^\top$ with $R$ orthogonal
and $C$, $D$ rectangular diagonal (one hidden unit $r_\alpha$ per mode, with strengths $c_\alpha$, $d_\alpha$), and
$\lambda$-balanced, $d_\alpha^2 - c_\alpha^2 = \lambda$. Under the gradient flow (eqs. 2.11-2.12, whitened inputs)
each mode $a_\alpha = c_\alpha d_\alpha$ of $W_2 W_1 = \tilde U\,\mathrm{diag}(a)\,\tilde V^\top$ evolves on its own:

$$\tau \dot c = d (s - c d), \qquad \tau \dot d = c (s - c d), \qquad
  \tau \dot a = (c^2 + d^2)(s - a) = \sqrt{\lambda^2 + 4 a^2}\,(s - a),$$

using $(c^2 + d^2)^2 = (d^2 - c^2)^2 + 4 c^2 d^2$ (eqs. 3.3-3.9). The right-hand side depends on $\lambda$ only
through $\lambda^2$: a mode learns the same way for $\lambda$ and $-\lambda$. The same ODE appears in
Tarmoun et al. (2021); the thesis's results were published as Dominé et al. (2025).

The factored form is stronger than Definition 2.2.2 (the *product* shares the task's singular vectors): a product
that is aligned while its factors are not leaves alignment under the flow (chapter 8).
:func:`linear_lens.modes.factored_residual` measures the distance from the factored form; :func:`network_trajectory`
applies the closed form to a network only after checking both preconditions, and keeps at zero the modes that have
no hidden unit (a bottlenecked network, $N_h < \min(N_i, N_o)$, has at most $N_h$ modes that can move).

**Closed form used here.** With $p = c + d$ and $P = p^2 = \sqrt{\lambda^2 + 4a^2} + 2a$, the flow becomes the Riccati
equation $\tau \dot P = -\tfrac12 (P - P_+)(P - P_-)$, $P_\pm = 2s \pm K$, $K = \sqrt{\lambda^2 + 4 s^2}$, so that

$$\frac{P(t) - P_+}{P(t) - P_-} = \frac{P(0) - P_+}{P(0) - P_-}\, e^{-K t / \tau}, \qquad
  a = \frac{P^2 - \lambda^2}{4P}.$$

Only the decaying exponential $e^{-Kt/\tau}$ appears, so nothing overflows as $t \to \infty$, and every quantity is
continuous at $\lambda = 0$, where the formula reduces to the sigmoid (2.28) of Saxe et al. (2014).
:func:`singular_value_trajectory` evaluates it in rearranged forms that keep full relative precision for small,
negative and tiny modes. Theorem 3.2.1 as printed (wrong, errata E10.1-E10.2) and an independent high-precision
reference are in :mod:`linear_lens.aligned_forms`.

**Gradient descent.** The flow's time is not the number of steps. The loss of one mode, $(s - cd)^2/2$, has at its
$\lambda$-balanced minimum the curvature $c^2 + d^2 = K$ (:func:`mode_curvature`), so gradient descent converges to
it only for learning rates $\eta < 2/K$; :func:`linear_lens.modes.mode_descent` runs it mode by mode.

All functions compute in float64; inputs follow the package's dtype policy (:mod:`linear_lens._checks`).
"""

from __future__ import annotations

import torch

from linear_lens._checks import as_float_tensor, check_positive_real
from linear_lens.modes import _check_modes, factored_residual, task_modes

__all__ = [
    "singular_value_trajectory",
    "network_trajectory",
    "zero_balanced_trajectory",
    "large_lambda_trajectory",
    "large_lambda_correction",
    "learning_time",
    "mode_rate",
    "mode_curvature",
    "has_inflection",
    "count_inflections",
]


def singular_value_trajectory(t, lam, s, a0, tau: float = 1.0) -> torch.Tensor:
    r"""Return the mode $a(t)$ of an aligned $\lambda$-balanced network: the exact solution of $\tau\dot a = \sqrt{\lambda^2 + 4a^2}(s - a)$.

    Theorem 3.2.1 of Anguita (2024), corrected: see errata E10.1-E10.2 (the ODE is that of Tarmoun et al., 2021).
    With $L = |\lambda|$, $K = \sqrt{\lambda^2 + 4s^2}$, $P_\pm = 2s \pm K$, $P_0 = \sqrt{\lambda^2 + 4a_0^2} + 2a_0$,
    $A = P_0 - P_-$, $B = P_+ - P_0$, $E = e^{-Kt/\tau}$ and $\Delta = P - L$ (module docstring),

    $$\Delta(t) = \frac{\Delta_+ A - B\,m\,E}{A + B E}, \qquad m = L + \lambda^2/P_+, \quad \Delta_+ = P_+ - L,
      \qquad a = \frac{\Delta(\Delta + 2L)}{4(\Delta + L)},$$

    evaluated in forms without cancellation: the numerator as $2K\Delta_0 + B m (1 - E)$ where that is the sum of
    smaller terms, $1 - E$ by ``expm1``, $\Delta_0 = 2a_0 (L + P_0)/(r_0 + L)$, $P_0 = \lambda^2/(r_0 - 2a_0)$ for
    $a_0 < 0$, and, for negative modes far below $-|\lambda|$, $a = (P - \lambda^2/P)/4$ with $P$ and $\lambda^2/P$
    scaled by $L$. It depends on $\lambda$ only through $|\lambda|$ and at $\lambda = 0$ equals eq. (2.28).

    Accuracy (tested against :func:`linear_lens.aligned_forms.reference_trajectory`): a few units of float64 roundoff
    relative to $|a|$ for $t \in [0, 10^8\tau]$, $|\lambda| \le 10^3$ including $\lambda = 0$ (and $|\lambda|$ down to
    $10^{-300}$), $s > 0$, and $|a_0|$ down to $10^{-300}$; near the time where a mode that starts negative crosses zero
    the error is a few ulps of $|\lambda|$ instead. Where $a$ is still proportional to $e^{-Kt/\tau}$ at large
    $Kt/\tau$ (a tiny mode), the rounding of the exponent's argument alone costs about $Kt/\tau$ ulps (below
    $10^{-13}$ relative over the tested range).
    Finite for every finite input.

    This is the trajectory of a mode *carried by a hidden unit*. A network whose hidden layer is narrower than the
    task's number of modes has modes with no hidden unit, which stay at zero; use :func:`network_trajectory`, which
    reads the modes, the hidden units and $\lambda$ from the weights and checks the preconditions.

    ``t``: times $\ge 0$, shape ``(T,)`` (or a number); ``lam`` $= \lambda$, ``s`` $= s_\alpha > 0$,
    ``a0`` $= a_\alpha(0)$: numbers or tensors broadcastable to a common mode shape ``(...)``; ``tau`` $= \tau > 0$.
    Returns ``(T, ...)`` (``(...)`` for a scalar ``t``), float64, on the device of the first tensor argument.
    Raises ``ValueError`` for $s \le 0$, for $a_0 \le 0$ where $\lambda = 0$ (the saddle at the origin), and for
    an $s$ more than $10^{290}$ times smaller than $|\lambda|$ or $|a_0|$ (the equation is evaluated after an exact
    rescaling by a power of two, $a(t; c\lambda, cs, ca_0) = c\,a(ct; \lambda, s, a_0)$, which keeps every other
    combination of magnitudes in range).
    """
    times, lam, s, a0, tau, scalar_t = _prepare(t, lam, s, a0, tau)
    if bool(((lam == 0) & (a0 <= 0)).any()):
        raise ValueError("a0: must be positive where lam = 0 (a0 <= 0 sits on the saddle of the zero-balanced flow)")
    a = _scaled_closed_form(times / tau, lam, s, a0)
    return a[0] if scalar_t else a


def network_trajectory(t, W1, W2, X, Y, tau: float = 1.0, tol: float = 1e-9) -> torch.Tensor:
    r"""Return the closed-form modes $a_\alpha(t)$ of a network, after checking that the closed form applies to it.

    The closed form (:func:`singular_value_trajectory`, Theorem 3.2.1 of Anguita (2024), corrected) assumes
    (i) whitened inputs, (ii) weights aligned with the task *in factored form*, $W_1 = R\,C\,\tilde V^\top$,
    $W_2 = \tilde U\,D\,R^\top$ (:func:`linear_lens.modes.factored_residual`), and (iii) $\lambda$-balanced weights,
    $W_2^\top W_2 - W_1 W_1^\top = \lambda I$. It raises ``ValueError`` naming the first assumption that fails,
    with the measured deviation; ``tol`` is the relative tolerance of the checks.

    Each mode $\alpha$ moves only if a hidden unit carries it, $c_\alpha^2 + d_\alpha^2 =
    \lVert W_1\tilde v_\alpha\rVert^2 + \lVert W_2^\top\tilde u_\alpha\rVert^2 > 0$. In a bottlenecked network
    ($N_h < \min(N_i, N_o)$) at least $\min(N_i, N_o) - N_h$ modes have none: the flow keeps them at zero, and so
    does this function (applied blindly with $a_0 = 0$ and $\lambda \neq 0$, the closed form would have them
    learned). At $\lambda = 0$ a mode with $c_\alpha = d_\alpha = 0$ sits on the saddle and stays at zero too.

    ``t``: ``(T,)`` times $\ge 0$; ``W1``: ``(..., N_h, N_i)``; ``W2``: ``(..., N_o, N_h)``; ``X``: ``(N_i, P)``;
    ``Y``: ``(N_o, P)``; ``tau``: $\tau > 0$. Returns ``(T, ..., k)`` float64 with $k = \min(N_i, N_o)$, the modes in
    the order of :func:`linear_lens.modes.task_modes` (descending $s_\alpha$). The task's singular values must be
    positive.
    """
    tol = check_positive_real(tol, "tol")
    X = as_float_tensor(X, "X")
    Y = as_float_tensor(Y, "Y")
    dtype = torch.float64
    X, Y = X.to(dtype), Y.to(dtype=dtype, device=X.device)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"X, Y: expected shapes (N_i, P) and (N_o, P) with the same P, got {tuple(X.shape)} and "
                         f"{tuple(Y.shape)}")
    sxx = X @ X.T / X.shape[1]
    dev = float((sxx - torch.eye(X.shape[0], dtype=dtype, device=X.device)).abs().max())
    if dev > tol * 100:
        raise ValueError(f"X: the closed form needs whitened inputs (X X^T / P = I); max deviation {dev:.2e}")
    U, s, V = task_modes(X, Y, full=True)
    W1, W2, U, V = _check_modes(W1, W2, U, V)
    W1, W2 = W1.to(dtype), W2.to(dtype)
    k = s.shape[0]
    if bool((s <= s[0] * 1e-12).any()):
        raise ValueError("Y: the closed form needs a task whose singular values are all positive")
    scale = (W1.pow(2).sum((-2, -1)) + W2.pow(2).sum((-2, -1))).clamp(min=torch.finfo(dtype).tiny)
    resid = factored_residual(W1, W2, U, V)
    if bool((resid > tol).any()):
        raise ValueError(f"W1, W2: the closed form needs weights aligned with the task in factored form, "
                         f"W1 = R C V^T and W2 = U D R^T (Definition 2.2.2 for the product is not enough); relative "
                         f"residual {float(resid.max()):.2e} > tol = {tol:g}")
    n_h = W1.shape[-2]
    B = W2.mT @ W2 - W1 @ W1.mT
    lam = B.diagonal(dim1=-2, dim2=-1).mean(-1)
    eye = torch.eye(n_h, dtype=dtype, device=W1.device)
    off = torch.linalg.matrix_norm(B - lam[..., None, None] * eye) / scale
    if bool((off > tol).any()):
        raise ValueError(f"W1, W2: the closed form needs lambda-balanced weights, W2^T W2 - W1 W1^T = lambda I; "
                         f"relative distance {float(off.max()):.2e} > tol = {tol:g}")
    Uk, Vk = U[:, :k], V[:, :k]
    a0 = (Uk.mT @ W2 @ W1 @ Vk).diagonal(dim1=-2, dim2=-1)
    strength = (W1 @ Vk).pow(2).sum(-2) + (W2.mT @ Uk).pow(2).sum(-2)            # c^2 + d^2 per mode
    carried = strength > tol * scale[..., None]
    times = as_float_tensor(t, "t", dtype=dtype).to(W1.device)
    if times.ndim > 1:
        raise ValueError(f"t: expected a number or a 1-D array of times, got shape {tuple(times.shape)}")
    times = times.reshape(-1)
    if bool((times < 0).any()):
        raise ValueError("t: times must be non-negative")
    tau = check_positive_real(tau, "tau")
    lam_modes = lam[..., None].expand_as(a0)
    a0_safe = torch.where(carried, a0, torch.ones_like(a0))
    a = _scaled_closed_form(times.reshape(-1, *([1] * a0.ndim)) / tau, lam_modes, s.expand_as(a0), a0_safe)
    return torch.where(carried, a, torch.zeros_like(a))


def zero_balanced_trajectory(t, s, a0, tau: float = 1.0) -> torch.Tensor:
    r"""Return Saxe's sigmoid $a(t) = \dfrac{s\, e^{2st/\tau}}{e^{2st/\tau} - 1 + s/a_0}$ for an aligned zero-balanced mode.

    Implements eq. (2.28) of Anguita (2024) (Saxe et al., 2014), the solution of $\tau \dot a = 2a(s - a)$ for
    $a_0 > 0$, evaluated as $s a_0/(a_0 + (s - a_0)e^{-2st/\tau})$ for $a_0 \le s$ and as
    $s a_0/(s + (a_0 - s)(1 - e^{-2st/\tau}))$ for $a_0 > s$ (sums of positive terms, $1 - e^{-x}$ by ``expm1``), after
    an exact rescaling by a power of two: the $\lambda = 0$ case of :func:`singular_value_trajectory`. No overflow, and
    full relative precision for $a_0$ down to $10^{-300}$.
    ``t``: ``(T,)``; ``s`` $> 0$, ``a0`` $> 0$ broadcastable; returns ``(T, ...)``.
    """
    times, _, s, a0, tau, scalar_t = _prepare(t, 0.0, s, a0, tau)
    if bool((a0 <= 0).any()):
        raise ValueError("a0: must be positive (eq. 2.28 divides by a0; a0 <= 0 is the saddle at the origin)")
    a = _scaled_closed_form(times / tau, torch.zeros_like(s), s, a0)
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
    times, _, s, a0, _, scalar_t = _prepare(u, 1.0, s, a0, 1.0, time_name="u")
    D = s - a0
    decay = torch.exp(-times)
    integral = s**2 * times - 2 * s * D * (-torch.expm1(-times)) + D**2 / 2 * (-torch.expm1(-2 * times))
    c = 2 * D * decay * integral
    return c[0] if scalar_t else c


def learning_time(lam, s, a0, target, tau: float = 1.0) -> torch.Tensor:
    r"""Return the time the mode of :func:`singular_value_trajectory` takes to go from $a_0$ to ``target``.

    Inverting the closed form (module docstring): with $G(a) = (P(a) - P_+)/(P(a) - P_-)$,
    $t = \frac{\tau}{K}\ln\frac{G(a_0)}{G(a_*)}$, evaluated as a difference of logarithms. At $\lambda = 0$ it is
    eq. (2.27) of Anguita (2024), $t = \frac{\tau}{2s}\ln\frac{a_*(s - a_0)}{a_0(s - a_*)}$; for $|\lambda| \to \infty$
    it tends to $\frac{\tau}{|\lambda|}\ln\frac{s - a_0}{s - a_*}$.

    ``lam``, ``s`` $> 0$, ``a0``, ``target`` $= a_*$: broadcastable; $a_*$ must lie strictly between $a_0$ and $s$
    (or equal $a_0$, time 0), and $a_0 > 0$ where $\lambda = 0$. Returns the broadcast shape, float64.
    """
    lam = as_float_tensor(lam, "lam", dtype=torch.float64)
    s = as_float_tensor(s, "s", dtype=torch.float64).to(lam.device)
    a0 = as_float_tensor(a0, "a0", dtype=torch.float64).to(lam.device)
    target = as_float_tensor(target, "target", dtype=torch.float64).to(lam.device)
    tau = check_positive_real(tau, "tau")
    if bool((s <= 0).any()):
        raise ValueError("s: singular values must be positive")
    try:
        lam, s, a0, target = torch.broadcast_tensors(lam, s, a0, target)
    except RuntimeError as err:
        raise ValueError("lam, s, a0, target: shapes do not broadcast") from err
    between = ((a0 <= target) & (target < s)) | ((s < target) & (target <= a0))
    if not bool(between.all()):
        raise ValueError("target: must lie between a0 (included) and s (excluded), where the mode passes")
    if bool(((lam == 0) & (a0 <= 0)).any()):
        raise ValueError("a0: must be positive where lam = 0 (a0 <= 0 never leaves the saddle at 0)")
    K = torch.hypot(lam, 2 * s)
    return tau / K * (_log_abs_g(lam, s, a0) - _log_abs_g(lam, s, target))


def mode_rate(a, lam, s, tau: float = 1.0) -> torch.Tensor:
    r"""Return $\dot a = \sqrt{\lambda^2 + 4a^2}\,(s - a)/\tau$, the right-hand side of eq. (3.9) of Anguita (2024).

    ``a``, ``lam``, ``s``: broadcastable numbers or tensors. Returns their broadcast shape, float64.
    """
    a = as_float_tensor(a, "a", dtype=torch.float64)
    lam = as_float_tensor(lam, "lam", dtype=torch.float64).to(a.device)
    s = as_float_tensor(s, "s", dtype=torch.float64).to(a.device)
    tau = check_positive_real(tau, "tau")
    return torch.hypot(lam, 2 * a) * (s - a) / tau


def mode_curvature(lam, s) -> torch.Tensor:
    r"""Return $K = \sqrt{\lambda^2 + 4s^2}$, the curvature of a mode's loss at its $\lambda$-balanced minimum.

    The loss of one mode of an aligned network is $\ell(c, d) = (s - cd)^2/2$. Its Hessian is
    $\begin{pmatrix} d^2 & 2cd - s \\ 2cd - s & c^2 \end{pmatrix}$; at a minimum, $cd = s$, its eigenvalues are
    $0$ (along the curve of minima) and $c^2 + d^2$, which at the $\lambda$-balanced minimum ($d^2 - c^2 = \lambda$)
    is $K$. It is also the rate of the decaying exponential of the closed form. Gradient descent with learning rate
    $\eta$ is stable at that minimum only if $\eta < 2/K$: its step is capped by the curvature, so the flow's
    speed-up with $|\lambda|$ does not carry over to the number of steps (chapter 10).

    ``lam``, ``s``: broadcastable. Returns their broadcast shape, float64.
    """
    lam = as_float_tensor(lam, "lam", dtype=torch.float64)
    s = as_float_tensor(s, "s", dtype=torch.float64).to(lam.device)
    if bool((s <= 0).any()):
        raise ValueError("s: singular values must be positive")
    return torch.hypot(lam, 2 * s)


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
    try:
        lam, s, a0 = torch.broadcast_tensors(lam, s, a0)
    except RuntimeError as err:
        raise ValueError(f"lam, s, a0: shapes {tuple(lam.shape)}, {tuple(s.shape)}, {tuple(a0.shape)} do not broadcast") from err
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
    tol = check_positive_real(tol, "tol")
    second = a[2:] - 2 * a[1:-1] + a[:-2]
    signs = torch.where(second.abs() > tol, torch.sign(second), torch.zeros_like(second))
    # carry the last non-zero sign forward so that ignored entries do not break or create a change
    counts = torch.zeros(a.shape[1:], dtype=torch.long, device=a.device)
    last = torch.zeros(a.shape[1:], dtype=a.dtype, device=a.device)
    for row in signs:
        counts += ((row != 0) & (last != 0) & (row != last)).long()
        last = torch.where(row != 0, row, last)
    return counts


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _scaled_closed_form(x, lam, s, a0):
    """The closed form after an exact rescaling by a power of two: a(t; c lam, c s, c a0) = c a(c t; lam, s, a0).

    The mode equation is homogeneous of degree 2, so scaling (lam, s, a0) by c scales a by c and time by 1/c; with
    c = 2^-e, e the exponent of max(|lam|, s, |a0|), every quantity inside is of order one and nothing overflows or
    underflows unless the inputs themselves span more than the float64 range.
    """
    big = torch.maximum(torch.maximum(lam.abs(), s), a0.abs())
    if bool((s < big * 1e-290).any()):
        raise ValueError("s: a singular value more than 1e290 times smaller than |lam| or |a0| cannot be resolved in "
                         "float64 (the rescaled mode equation underflows)")
    _, exponent = torch.frexp(big)
    scale = torch.ldexp(torch.ones_like(big), exponent)
    return _closed_form(x * scale, lam / scale, s / scale, a0 / scale) * scale


def _closed_form(x, lam, s, a0):
    """The corrected Theorem 3.2.1 at rescaled times x = t / tau, shape (T, 1, ..., 1); lam, s, a0 of one shape.

    Every branch is free of cancellation except at a zero crossing of a (module and function docstrings).
    Entries of untaken branches may be inf or NaN; torch.where discards them.
    """
    f64 = torch.float64
    zero = torch.zeros((), dtype=f64, device=a0.device)
    L = lam.abs()
    K = torch.hypot(lam, 2 * s)
    Pp = 2 * s + K                                           # P_+ > 0
    Dp = 2 * s + 4 * s**2 / (K + L)                          # Delta_+ = P_+ - L > 0, no cancellation
    r0 = torch.hypot(lam, 2 * a0)
    neg = a0 < 0
    Lpos = torch.where(L > 0, L, torch.ones_like(L))         # L where it is used as a scale (L > 0 there)
    E = torch.exp(-K * x)
    omE = -torch.expm1(-K * x)                               # 1 - E
    # --- a0 >= 0 (then a >= 0 for all t): Delta = (Delta_+ A - B m E) / (A + B E)
    P0 = r0 + 2 * a0
    lam2_Pp = lam**2 / Pp                                # |P_-|
    m = L + lam2_Pp                                      # -Delta_-
    A = P0 + lam2_Pp                                     # P0 - P_- > 0
    D0 = 2 * a0 * ((L + P0) / torch.where(r0 + L > 0, r0 + L, torch.ones_like(L)))
    B = Dp - D0                                          # P_+ - P0
    Bn = B.clamp(max=0).abs()
    num_up = 2 * K * D0 + B.clamp(min=0) * m * omE       # B >= 0: a sum of non-negative terms
    den_up = A + B.clamp(min=0) * E
    num_down = Dp * A + Bn * m * E                       # B < 0 (a0 > s): positive terms
    den_down = 2 * K + Bn * omE
    up = B >= 0
    delta_pos = torch.where(up, num_up / den_up, num_down / den_down)
    ratio = torch.where(L > 0, (delta_pos + 2 * L) / (4 * (delta_pos + L)), torch.full_like(delta_pos, 0.25))
    a_pos = delta_pos * ratio
    # --- a0 < 0 and lam != 0: everything scaled by L so that lam^2 never underflows.
    rm = torch.where(neg, r0 - 2 * a0, torch.ones_like(r0))          # r0 - 2 a0 = lam^2 / P0 > 0
    P0h = 1 / rm                                                     # P0 / lam^2
    LA = Lpos * (P0h + 1 / Pp)                                       # L * A / lam^2 = A / L
    mh = 1 + Lpos / Pp                                               # m / L
    D0L = 2 * a0 * (1 + Lpos * P0h) / (r0 + Lpos)                    # Delta_0 / L
    Bneg = Dp - Lpos * D0L                                           # P_+ - P0 > 0
    # E / L: divided directly (one rounding) while E is a normal number and the quotient finite; otherwise (E
    # underflows, or L is subnormal) as exp(-K x - log L), whose argument is then large anyway
    direct = E / Lpos
    exact = (E >= torch.finfo(f64).tiny) & torch.isfinite(direct)
    eps = torch.where(exact, direct, torch.exp(-K * x - torch.log(Lpos)))
    den = LA + Bneg * eps                                            # (A + B E) / L
    form1 = 2 * K * D0L + Bneg * mh * omE                            # (numerator) / L, two ways
    form2 = Dp * LA - Bneg * mh * E
    big1 = torch.maximum((2 * K * D0L).abs(), Bneg * mh * omE)
    big2 = torch.maximum(Dp * LA, Bneg * mh * E)
    delta_neg = torch.where(big1 <= big2, form1, form2) / den
    dl = delta_neg / Lpos                                            # Delta / L: the product Delta (Delta + 2L)
    a_cross = delta_neg * ((dl + 2) / (4 * (dl + 1)))                # would underflow for |lam| below ~1e-154
    q = den / (2 * K * P0h + Bneg / Pp * omE)                        # (lam^2 / P) / L, from P = lam^2 N / (A + B E)
    a_far = Lpos * (1 / q - q) / 4                                   # (P - lam^2/P) / 4 with P / L = 1 / q
    a_negl = torch.where(delta_neg < -Lpos / 2, a_far, a_cross)
    # --- a0 <= 0 and lam == 0: tau a' = 2|a| (s - a) never leaves (-inf, 0]: a = s g / (1 + g)
    g = a0 / (s - a0) * torch.exp(-2 * s * x)
    a_zero = s * g / (1 + g)
    a = torch.where(neg, torch.where(L > 0, a_negl, a_zero), a_pos)
    return torch.where((a0 == 0) & (L == 0), zero.expand_as(a), a)


def _prepare(t, lam, s, a0, tau, time_name: str = "t"):
    """Validate and broadcast: times to (T, 1, ..., 1), parameters to a common mode shape, all float64."""
    ref = next((x for x in (t, lam, s, a0) if isinstance(x, torch.Tensor)), None)
    device = ref.device if ref is not None else None
    times = as_float_tensor(t, time_name, dtype=torch.float64).to(device)
    if times.ndim > 1:
        raise ValueError(f"{time_name}: expected a number or a 1-D array of times, got shape {tuple(times.shape)}")
    scalar_t = times.ndim == 0
    times = times.reshape(-1)
    if bool((times < 0).any()):
        raise ValueError(f"{time_name}: times must be non-negative")
    lam = as_float_tensor(lam, "lam", dtype=torch.float64).to(device)
    s = as_float_tensor(s, "s", dtype=torch.float64).to(device)
    a0 = as_float_tensor(a0, "a0", dtype=torch.float64).to(device)
    try:
        shape = torch.broadcast_shapes(lam.shape, s.shape, a0.shape)
    except RuntimeError as err:
        raise ValueError(f"lam, s, a0: shapes {tuple(lam.shape)}, {tuple(s.shape)}, {tuple(a0.shape)} do not broadcast") from err
    if bool((s <= 0).any()):
        raise ValueError("s: singular values must be positive")
    tau = check_positive_real(tau, "tau")
    lam, s, a0 = (x.expand(shape) for x in (lam, s, a0))
    times = times.reshape(-1, *([1] * len(shape)))
    return times, lam, s, a0, tau, scalar_t


def _inflection(lam, s, a0):
    """Whether q(a) = 4as - 8a^2 - lam^2 changes sign on the path from a0 to s (q(s) = -4s^2 - lam^2 < 0)."""
    # q is a concave parabola with maximum s^2/2 - lam^2 at a = s/4. On the path [a0, s] (a0 < s) it is positive
    # somewhere iff max over [a0, s] of q > 0: at a = max(a0, s/4).
    peak = torch.maximum(a0, s / 4)
    q = 4 * peak * s - 8 * peak**2 - lam**2
    return (a0 < s) & (q > 0)


def _log_abs_g(lam, s, a):
    """log |G(a)| with G(a) = (P(a) - P_+) / (P(a) - P_-), without overflow or cancellation beyond P_+ - P(a)."""
    L = lam.abs()
    K = torch.hypot(lam, 2 * s)
    Pp = 2 * s + K
    Dp = 2 * s + 4 * s**2 / (K + L)
    r = torch.hypot(lam, 2 * a)
    neg = a < 0
    Lpos = torch.where(L > 0, L, torch.ones_like(L))
    P = torch.where(neg, lam**2 / torch.where(neg, r - 2 * a, torch.ones_like(r)), r + 2 * a)
    delta = 2 * a * ((L + P) / torch.where(r + L > 0, r + L, torch.ones_like(r)))      # P - L
    log_top = torch.log((Dp - delta).abs())                                             # |P_+ - P|
    log_bottom = torch.where(neg, 2 * torch.log(Lpos) + torch.log(1 / torch.where(neg, r - 2 * a, torch.ones_like(r))
                                                                   + 1 / Pp),
                             torch.log(P + lam**2 / Pp))                                # P - P_- > 0
    return log_top - log_bottom
