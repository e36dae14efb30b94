r"""Gradient descent and exactly integrated gradient flow of two-layer linear networks (Anguita, 2024, Section 2.2).

A two-layer ("deep" in the thesis) linear network maps inputs $X \in \mathbb{R}^{N_i \times P}$ to
$\hat Y = W_2 W_1 X$ with $W_1 \in \mathbb{R}^{N_h \times N_i}$, $W_2 \in \mathbb{R}^{N_o \times N_h}$; a shallow
network maps them to $\hat Y = W X$. Both are trained on the mean squared error (eqs. 2.3-2.4)

$$\mathcal{L}(W_1, W_2) = \tfrac{1}{2P} \lVert W_2 W_1 X - Y \rVert_F^2,$$

whose gradients are, with $\Sigma^{xx} = X X^\top / P$ and $\Sigma^{yx} = Y X^\top / P$ (eq. 2.5),

$$\nabla_{W_1} \mathcal{L} = -W_2^\top (\Sigma^{yx} - W_2 W_1 \Sigma^{xx}), \qquad
  \nabla_{W_2} \mathcal{L} = -(\Sigma^{yx} - W_2 W_1 \Sigma^{xx}) W_1^\top .$$

Full-batch gradient descent with learning rate $\eta$ (:func:`train`) takes $W \leftarrow W - \eta \nabla_W
\mathcal{L}$; step $k$ is placed at time $t = k\eta$, so that as $\eta \to 0$ it follows the gradient flow
(eqs. 2.11-2.12)

$$\tau \dot W_1 = W_2^\top (\Sigma^{yx} - W_2 W_1 \Sigma^{xx}), \qquad
  \tau \dot W_2 = (\Sigma^{yx} - W_2 W_1 \Sigma^{xx}) W_1^\top$$

with $\tau = 1$. (Counting time in steps instead, $t = k$, gives $\tau = 1/\eta$, the thesis's convention.)
:func:`integrate` solves this matrix ODE numerically at tight tolerance: it is the independent reference that every
closed form in the book is checked against. :func:`shallow_solution` is the closed form for the shallow network
(Theorem 2.2.3), checked against :func:`integrate_shallow`.

Weights may carry leading batch dimensions, ``W1: (..., N_h, N_i)``, ``W2: (..., N_o, N_h)``; one task ``(X, Y)``
is shared by the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.integrate import solve_ivp

from linear_lens._checks import as_float_tensor, check_positive_int, check_real
from linear_lens.progress import progress

__all__ = [
    "Trajectory",
    "loss",
    "gradients",
    "train",
    "integrate",
    "shallow_solution",
    "integrate_shallow",
    "balance_drift_coefficient",
]


@dataclass(frozen=True)
class Trajectory:
    r"""Weights and loss of a two-layer linear network at a sequence of times.

    ``t``: ``(T,)`` times (or ``(T, ...)`` when each batch element has its own learning rate);
    ``W1``: ``(T, ..., N_h, N_i)``; ``W2``: ``(T, ..., N_o, N_h)``; ``loss``: ``(T, ...)``.
    """

    t: torch.Tensor
    W1: torch.Tensor
    W2: torch.Tensor
    loss: torch.Tensor

    @property
    def product(self) -> torch.Tensor:
        r"""The network function $W_2 W_1$ at every time, ``(T, ..., N_o, N_i)``."""
        return self.W2 @ self.W1


def loss(W1: torch.Tensor, W2: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    r"""Return the mean squared error $\lVert W_2 W_1 X - Y \rVert_F^2 / (2P)$ of eqs. (2.3)-(2.4) of Anguita (2024).

    ``W1``: $W_1$ ``(..., N_h, N_i)``; ``W2``: $W_2$ ``(..., N_o, N_h)``; ``X``: ``(N_i, P)``; ``Y``: ``(N_o, P)``.
    Returns ``(...)``.
    """
    W1, W2, X, Y = _check(W1, W2, X, Y)
    return _loss(W1, W2, X, Y)


def gradients(
    W1: torch.Tensor, W2: torch.Tensor, X: torch.Tensor, Y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $(\nabla_{W_1}\mathcal{L}, \nabla_{W_2}\mathcal{L})$ of the loss (2.3), in closed form.

    $\nabla_{W_1}\mathcal{L} = -W_2^\top E$, $\nabla_{W_2}\mathcal{L} = -E W_1^\top$ with
    $E = \Sigma^{yx} - W_2 W_1 \Sigma^{xx}$. These are the updates (2.7)-(2.8) of Anguita (2024) divided by $P$,
    corrected: see errata E08.1 (the printed updates drop the $1/P$ of the loss).

    Shapes as in :func:`loss`; returns tensors shaped like ``W1`` and ``W2``.
    """
    W1, W2, X, Y = _check(W1, W2, X, Y)
    sxx, syx = _moments(X, Y)
    return _gradients(W1, W2, sxx, syx)


def train(
    W1: torch.Tensor,
    W2: torch.Tensor,
    X: torch.Tensor,
    Y: torch.Tensor,
    lr,
    steps: int,
    record_every: int = 1,
    show_progress: bool = True,
) -> Trajectory:
    r"""Full-batch gradient descent on $\lVert W_2 W_1 X - Y \rVert_F^2 / (2P)$, recording the trajectory.

    $W_i^{(k+1)} = W_i^{(k)} - \eta \nabla_{W_i}\mathcal{L}(W_1^{(k)}, W_2^{(k)})$ with the gradients of
    :func:`gradients` (eqs. 2.7-2.8 of Anguita (2024) with the $1/P$ of the loss; errata E08.1).
    Step $k$ is at time $t = k\eta$, which makes the trajectory comparable with :func:`integrate` at $\tau = 1$.

    ``W1``: $W_1(0)$ ``(..., N_h, N_i)``; ``W2``: $W_2(0)$ ``(..., N_o, N_h)``; ``X``: ``(N_i, P)``; ``Y``:
    ``(N_o, P)``; ``lr``: $\eta > 0$, a number or a tensor broadcastable to the batch shape ``(...)`` (one learning
    rate per batch element); ``steps``: number of steps; ``record_every``: keep every this many steps (step 0 and
    the last step are always kept).
    Returns a :class:`Trajectory` whose ``t`` is ``(T,)`` for a scalar ``lr`` and ``(T, ...)`` otherwise.
    """
    W1, W2, X, Y = _check(W1, W2, X, Y)
    steps = check_positive_int(steps, "steps")
    record_every = check_positive_int(record_every, "record_every")
    batch = torch.broadcast_shapes(W1.shape[:-2], W2.shape[:-2])
    if isinstance(lr, torch.Tensor) and lr.ndim > 0:
        eta = as_float_tensor(lr, "lr").to(W1)
        if not bool((eta > 0).all()):
            raise ValueError("lr: learning rates must be positive")
        try:
            torch.broadcast_shapes(eta.shape, batch)
        except RuntimeError as err:
            raise ValueError(f"lr: shape {tuple(eta.shape)} does not broadcast to the batch shape {tuple(batch)}") from err
        scalar = False
    else:
        value = check_real(float(lr) if isinstance(lr, torch.Tensor) else lr, "lr")
        if value <= 0:
            raise ValueError(f"lr: must be positive, got {value}")
        eta = torch.tensor(value, dtype=W1.dtype, device=W1.device)
        scalar = True
    sxx, syx = _moments(X, Y)
    eta_m = eta[..., None, None]
    W1, W2 = W1.expand(*batch, *W1.shape[-2:]).clone(), W2.expand(*batch, *W2.shape[-2:]).clone()
    kept = [0]
    W1s, W2s = [W1.clone()], [W2.clone()]
    for k in progress(range(1, steps + 1), desc="gradient descent", disable=not show_progress or steps < 5000):
        g1, g2 = _gradients(W1, W2, sxx, syx)
        W1, W2 = W1 - eta_m * g1, W2 - eta_m * g2
        if not bool(torch.isfinite(W2).all() and torch.isfinite(W1).all()):
            raise ValueError(f"lr: gradient descent diverged at step {k}; use a smaller learning rate")
        if k % record_every == 0 or k == steps:
            kept.append(k)
            W1s.append(W1.clone())
            W2s.append(W2.clone())
    W1t, W2t = torch.stack(W1s), torch.stack(W2s)
    k = torch.tensor(kept, dtype=W1.dtype, device=W1.device)
    t = k * eta if scalar else k.reshape(-1, *([1] * eta.ndim)) * eta
    return Trajectory(t, W1t, W2t, _loss(W1t, W2t, X, Y))


def integrate(
    W1: torch.Tensor,
    W2: torch.Tensor,
    X: torch.Tensor,
    Y: torch.Tensor,
    t,
    tau: float = 1.0,
    rtol: float = 1e-12,
    atol: float = 1e-12,
    method: str = "DOP853",
) -> Trajectory:
    r"""Integrate the gradient flow (2.11)-(2.12) of Anguita (2024) numerically and return $W_1(t)$, $W_2(t)$.

    $\tau \dot W_1 = W_2^\top (\Sigma^{yx} - W_2 W_1 \Sigma^{xx})$,
    $\tau \dot W_2 = (\Sigma^{yx} - W_2 W_1 \Sigma^{xx}) W_1^\top$, the full matrix ODE (no alignment or balance
    assumed), flattened and solved by ``scipy.integrate.solve_ivp`` at tolerances ``rtol``, ``atol``.

    ``W1``: $W_1(0)$ ``(..., N_h, N_i)``; ``W2``: $W_2(0)$ ``(..., N_o, N_h)``; ``X``: ``(N_i, P)``;
    ``Y``: ``(N_o, P)``; ``t``: ``(T,)`` non-decreasing times $\ge 0$; ``tau``: $\tau > 0$; ``method``: a
    ``solve_ivp`` method (``"DOP853"``, ``"Radau"``, ``"RK45"``, ...).
    Returns a :class:`Trajectory` on the device and dtype of ``W1`` (float64 inside).
    """
    W1, W2, X, Y = _check(W1, W2, X, Y)
    times = _check_times(t)
    tau = _check_positive_real(tau, "tau")
    rtol, atol = _check_positive_real(rtol, "rtol"), _check_positive_real(atol, "atol")
    batch = torch.broadcast_shapes(W1.shape[:-2], W2.shape[:-2])
    s1, s2 = (*batch, *W1.shape[-2:]), (*batch, *W2.shape[-2:])
    sxx, syx = (m.detach().cpu().numpy().astype(np.float64) for m in _moments(X, Y))
    w1 = W1.expand(s1).detach().cpu().numpy().astype(np.float64)
    w2 = W2.expand(s2).detach().cpu().numpy().astype(np.float64)
    n1 = w1.size

    def rhs(_, y):
        a = y[:n1].reshape(s1)
        b = y[n1:].reshape(s2)
        err = syx - b @ a @ sxx
        return np.concatenate([(np.swapaxes(b, -1, -2) @ err).ravel(), (err @ np.swapaxes(a, -1, -2)).ravel()]) / tau

    y0 = np.concatenate([w1.ravel(), w2.ravel()])
    ys = _solve(rhs, y0, times, rtol, atol, method)
    W1t = torch.as_tensor(ys[:, :n1].reshape(len(times), *s1), dtype=torch.float64).to(W1)
    W2t = torch.as_tensor(ys[:, n1:].reshape(len(times), *s2), dtype=torch.float64).to(W1)
    return Trajectory(torch.as_tensor(times).to(W1), W1t, W2t, _loss(W1t, W2t, X.to(W1), Y.to(W1)))


def shallow_solution(W0: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, t, tau: float = 1.0) -> torch.Tensor:
    r"""Return $W(t) = \Sigma^{yx} + (W(0) - \Sigma^{yx}) e^{-t/\tau}$, the gradient flow of a shallow network.

    Implements Theorem 2.2.3 (= Theorem 4.2.2, eq. 4.21) of Anguita (2024): the solution of
    $\tau \dot W = \Sigma^{yx} - W \Sigma^{xx}$ for whitened inputs $\Sigma^{xx} = I$.

    ``W0``: $W(0)$ ``(..., N_o, N_i)``; ``X``: ``(N_i, P)`` whitened (raises ``ValueError`` otherwise);
    ``Y``: ``(N_o, P)``; ``t``: ``(T,)`` times; ``tau``: $\tau > 0$. Returns ``(T, ..., N_o, N_i)``.
    """
    W0, X, Y = _check_shallow(W0, X, Y)
    times = torch.as_tensor(_check_times(t)).to(W0)
    tau = _check_positive_real(tau, "tau")
    sxx, syx = _moments(X, Y)
    eye = torch.eye(sxx.shape[0], dtype=sxx.dtype, device=sxx.device)
    dev = float((sxx - eye).abs().max())
    if dev > 1e-9:
        raise ValueError(f"X: the closed form needs whitened inputs (X X^T / P = I); max deviation {dev:.2e}")
    decay = torch.exp(-times / tau).reshape(-1, *([1] * W0.ndim))
    return syx + (W0 - syx) * decay


def integrate_shallow(
    W0: torch.Tensor,
    X: torch.Tensor,
    Y: torch.Tensor,
    t,
    tau: float = 1.0,
    rtol: float = 1e-12,
    atol: float = 1e-12,
    method: str = "DOP853",
) -> torch.Tensor:
    r"""Integrate the shallow gradient flow $\tau \dot W = \Sigma^{yx} - W \Sigma^{xx}$ numerically (solve_ivp).

    The gradient flow of $\lVert W X - Y \rVert_F^2 / (2P)$; the independent reference for
    :func:`shallow_solution`. Arguments as there, without the whitening requirement.
    Returns ``(T, ..., N_o, N_i)``.
    """
    W0, X, Y = _check_shallow(W0, X, Y)
    times = _check_times(t)
    tau = _check_positive_real(tau, "tau")
    rtol, atol = _check_positive_real(rtol, "rtol"), _check_positive_real(atol, "atol")
    sxx, syx = (m.detach().cpu().numpy().astype(np.float64) for m in _moments(X, Y))
    w0 = W0.detach().cpu().numpy().astype(np.float64)
    shape = w0.shape

    def rhs(_, y):
        return ((syx - y.reshape(shape) @ sxx) / tau).ravel()

    ys = _solve(rhs, w0.ravel(), times, rtol, atol, method)
    return torch.as_tensor(ys.reshape(len(times), *shape), dtype=torch.float64).to(W0)


def balance_drift_coefficient(trajectory: Trajectory, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    r"""Return $D(t) = \int_0^t (G_2^\top G_2 - G_1 G_1^\top)\,dt'$ along a gradient-flow trajectory (trapezoid rule).

    One gradient-descent step changes the balance $B = W_2^\top W_2 - W_1 W_1^\top$ by exactly
    $\eta^2 (G_2^\top G_2 - G_1 G_1^\top)$ with $G_i = \nabla_{W_i}\mathcal{L}$: the first-order terms cancel, which
    is why the flow conserves $B$ (Theorem 2.2.1 of Anguita, 2024). Summed over the $t/\eta$ steps up to time $t$,
    gradient descent therefore drifts by $B_\eta(t) - B(0) = \eta\, D(t) + O(\eta^2)$, with $D$ evaluated along the
    flow. This function computes $D$ from a trajectory of :func:`integrate` (use a fine time grid).

    ``trajectory``: a :class:`Trajectory` with ``t`` of shape ``(T,)``; ``X``, ``Y``: the task.
    Returns ``(T, ..., N_h, N_h)``, with ``D[0] = 0``.
    """
    if not isinstance(trajectory, Trajectory) or trajectory.t.ndim != 1:
        raise ValueError("trajectory: expected a Trajectory with one time axis, as returned by integrate")
    W1, W2, X, Y = _check(trajectory.W1, trajectory.W2, X, Y)
    sxx, syx = _moments(X, Y)
    g1, g2 = _gradients(W1, W2, sxx, syx)
    rate = g2.mT @ g2 - g1 @ g1.mT
    dt = trajectory.t.diff().reshape(-1, *([1] * (rate.ndim - 1)))
    steps = 0.5 * dt * (rate[1:] + rate[:-1])
    return torch.cat([torch.zeros_like(rate[:1]), steps.cumsum(0)])


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _check(W1, W2, X, Y):
    W1 = as_float_tensor(W1, "W1")
    W2 = as_float_tensor(W2, "W2").to(W1)
    X = as_float_tensor(X, "X").to(W1)
    Y = as_float_tensor(Y, "Y").to(W1)
    if W1.ndim < 2 or W2.ndim < 2:
        raise ValueError(f"W1, W2: expected matrices (..., N_h, N_i) and (..., N_o, N_h), got shapes "
                         f"{tuple(W1.shape)} and {tuple(W2.shape)}")
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"X, Y: expected shapes (N_i, P) and (N_o, P) with the same P, got {tuple(X.shape)} and "
                         f"{tuple(Y.shape)}")
    if W2.shape[-1] != W1.shape[-2]:
        raise ValueError(f"W2: expected {W1.shape[-2]} columns (the hidden width N_h of W1), got shape {tuple(W2.shape)}")
    if W1.shape[-1] != X.shape[0]:
        raise ValueError(f"W1: expected {X.shape[0]} columns (the input dimension of X), got shape {tuple(W1.shape)}")
    if W2.shape[-2] != Y.shape[0]:
        raise ValueError(f"W2: expected {Y.shape[0]} rows (the output dimension of Y), got shape {tuple(W2.shape)}")
    try:
        torch.broadcast_shapes(W1.shape[:-2], W2.shape[:-2])
    except RuntimeError as err:
        raise ValueError(f"W1, W2: batch shapes {tuple(W1.shape[:-2])} and {tuple(W2.shape[:-2])} do not broadcast") from err
    return W1, W2, X, Y


def _check_shallow(W0, X, Y):
    W0 = as_float_tensor(W0, "W0")
    X = as_float_tensor(X, "X").to(W0)
    Y = as_float_tensor(Y, "Y").to(W0)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"X, Y: expected shapes (N_i, P) and (N_o, P) with the same P, got {tuple(X.shape)} and "
                         f"{tuple(Y.shape)}")
    if W0.ndim < 2 or W0.shape[-2:] != (Y.shape[0], X.shape[0]):
        raise ValueError(f"W0: expected shape (..., {Y.shape[0]}, {X.shape[0]}), got {tuple(W0.shape)}")
    return W0, X, Y


def _check_times(t) -> np.ndarray:
    try:
        times = np.asarray(t.detach().cpu() if isinstance(t, torch.Tensor) else t, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"t: expected a 1-D array of times, got {type(t).__name__}") from err
    times = np.atleast_1d(times)
    if times.ndim != 1 or times.size == 0:
        raise ValueError(f"t: expected a non-empty 1-D array of times, got shape {times.shape}")
    if not np.all(np.isfinite(times)) or times.min() < 0 or np.any(np.diff(times) < 0):
        raise ValueError("t: times must be finite, non-negative and non-decreasing")
    return times


def _check_positive_real(x, name: str) -> float:
    value = check_real(x, name)
    if value <= 0:
        raise ValueError(f"{name}: must be positive, got {value}")
    return value


def _moments(X, Y):
    P = X.shape[1]
    return X @ X.T / P, Y @ X.T / P


def _gradients(W1, W2, sxx, syx):
    err = syx - W2 @ W1 @ sxx
    return -W2.mT @ err, -err @ W1.mT


def _loss(W1, W2, X, Y):
    residual = W2 @ W1 @ X - Y
    return residual.pow(2).sum(dim=(-2, -1)) / (2 * X.shape[1])


_METHODS = ("DOP853", "Radau", "RK45", "RK23", "BDF", "LSODA")


def _solve(rhs, y0, times, rtol, atol, method):
    if method not in _METHODS:
        raise ValueError(f"method: expected one of {', '.join(_METHODS)}; got {method!r}")
    if times[-1] == 0:
        return np.tile(y0, (len(times), 1))
    sol = solve_ivp(rhs, (0.0, float(times[-1])), y0, method=method, t_eval=times, rtol=rtol, atol=atol)
    if not sol.success:
        raise ValueError(f"t: the ODE solver failed before t = {times[-1]}: {sol.message}")
    return sol.y.T
