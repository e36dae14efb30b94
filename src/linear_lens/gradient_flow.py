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
is shared by the batch. Tensors of different float dtypes are computed in the widest of them (float32 with float64
gives float64), on the device of ``W1``; integers are computed in float64 and complex input is refused
(:mod:`linear_lens._checks`).

The *representations* of Definition 2.2.3 of Anguita (2024) (after Braun et al., 2022) are the input
representation $W_1^\top W_1$ ($N_i \times N_i$) and the output representation $W_2 W_2^\top$ ($N_o \times N_o$):
the Gram matrices of the hidden-layer images of the inputs and of the read-out directions. They determine the
network's neural tangent kernel (eq. 2.37) and are what "rich" and "lazy" learning are about (chapters 13-14);
:func:`representations` computes them, and :class:`Trajectory` has them as properties.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
from scipy.integrate import solve_ivp

from linear_lens._checks import as_float_tensor, check_positive_int, check_positive_real, common_dtype
from linear_lens._threads import single_thread
from linear_lens.progress import progress

__all__ = [
    "Trajectory",
    "representations",
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

    @property
    def input_representation(self) -> torch.Tensor:
        r"""$W_1^\top W_1$ at every time, ``(T, ..., N_i, N_i)`` (Definition 2.2.3 of Anguita, 2024)."""
        return self.W1.mT @ self.W1

    @property
    def output_representation(self) -> torch.Tensor:
        r"""$W_2 W_2^\top$ at every time, ``(T, ..., N_o, N_o)`` (Definition 2.2.3 of Anguita, 2024)."""
        return self.W2 @ self.W2.mT


def representations(W1, W2) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return the input and output representations $W_1^\top W_1$ and $W_2 W_2^\top$ (Definition 2.2.3 of Anguita, 2024).

    ``W1``: ``(..., N_h, N_i)``; ``W2``: ``(..., N_o, N_h)``. Returns ``(..., N_i, N_i)`` and ``(..., N_o, N_o)``,
    in the widest dtype of the two. Both are invariant under $W_1 \mapsto QW_1$, $W_2 \mapsto W_2Q^\top$ for an
    orthogonal $Q$ on the hidden layer, so they describe what the network computes in its hidden layer up to a
    rotation of the hidden units.
    """
    W1 = as_float_tensor(W1, "W1")
    W2 = as_float_tensor(W2, "W2")
    dtype = common_dtype(W1, W2)
    W1, W2 = W1.to(dtype), W2.to(dtype=dtype, device=W1.device)
    if W1.ndim < 2 or W2.ndim < 2 or W2.shape[-1] != W1.shape[-2]:
        raise ValueError(f"W1, W2: expected shapes (..., N_h, N_i) and (..., N_o, N_h), got {tuple(W1.shape)} and "
                         f"{tuple(W2.shape)}")
    return W1.mT @ W1, W2 @ W2.mT


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
        value = check_positive_real(lr, "lr")
        eta = torch.tensor(value, dtype=W1.dtype, device=W1.device)
        scalar = True
    sxx, syx = _moments(X, Y)
    eta_m = eta[..., None, None]
    W1, W2 = W1.expand(*batch, *W1.shape[-2:]).clone(), W2.expand(*batch, *W2.shape[-2:]).clone()
    kept = [0]
    W1s, W2s = [W1.clone()], [W2.clone()]
    small = W1.device.type == "cpu" and W1.numel() + W2.numel() < 2**18
    with single_thread() if small else contextlib.nullcontext():  # many steps on small tensors: one thread
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
    method: str = "auto",
) -> Trajectory:
    r"""Integrate the gradient flow (2.11)-(2.12) of Anguita (2024) numerically and return $W_1(t)$, $W_2(t)$.

    $\tau \dot W_1 = W_2^\top (\Sigma^{yx} - W_2 W_1 \Sigma^{xx})$,
    $\tau \dot W_2 = (\Sigma^{yx} - W_2 W_1 \Sigma^{xx}) W_1^\top$, the full matrix ODE (no alignment or balance
    assumed), flattened and solved by ``scipy.integrate.solve_ivp`` at tolerances ``rtol``, ``atol``.

    ``method="auto"`` (the default) uses the explicit DOP853 while the horizon is short compared with the flow's
    fastest time scale, $t/\tau \le 2000/\rho$ with $\rho = \lVert W_1\rVert_F^2 + \lVert W_2\rVert_F^2 +
    2\lVert\Sigma^{yx}\rVert_F(1 + \lVert\Sigma^{xx}\rVert_F)$ (a bound on the Jacobian along the flow, up to a
    constant), and continues beyond with Radau, an implicit (stiff) method: near a minimum the flow is stiff (rates
    up to $\sim\rho$ on a manifold of minima), and an explicit method would need $\sim t\rho$ steps. So $t = 10^6$
    or $10^8$ costs about as much as $t = 10^3$ (Radau builds a dense Jacobian: for more than 2000 unknowns per
    network, or 40000 in all, the explicit method continues instead). Other values of ``method``
    (``"DOP853"``, ``"Radau"``, ``"RK45"``, ``"RK23"``, ``"BDF"``, ``"LSODA"``) are used throughout.

    ``W1``: $W_1(0)$ ``(..., N_h, N_i)``; ``W2``: $W_2(0)$ ``(..., N_o, N_h)``; ``X``: ``(N_i, P)``;
    ``Y``: ``(N_o, P)``; ``t``: ``(T,)`` non-decreasing times $\ge 0$ (repeated times are allowed and get equal
    weights); ``tau``: $\tau > 0$. Returns a :class:`Trajectory` on the device of ``W1``, in the widest dtype of the
    inputs (float64 inside). Finite for finite inputs; tested up to $t = 10^8\tau$.
    """
    W1, W2, X, Y = _check(W1, W2, X, Y)
    times = _check_times(t)
    tau = check_positive_real(tau, "tau")
    rtol, atol = check_positive_real(rtol, "rtol"), check_positive_real(atol, "atol")
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
    n_batch = max(1, int(np.prod(batch)))
    rho = (float((w1**2).sum() + (w2**2).sum()) / n_batch
           + 2 * float(np.linalg.norm(syx)) * (1 + float(np.linalg.norm(sxx))))
    ys = _solve(rhs, y0, times / tau, rtol, atol, method, rho, tau, blocks=_block_pattern(s1, s2))
    W1t = torch.as_tensor(ys[:, :n1].reshape(len(times), *s1), dtype=torch.float64).to(W1)
    W2t = torch.as_tensor(ys[:, n1:].reshape(len(times), *s2), dtype=torch.float64).to(W1)
    return Trajectory(torch.as_tensor(times).to(W1), W1t, W2t, _loss(W1t, W2t, X, Y))


def shallow_solution(W0: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, t, tau: float = 1.0) -> torch.Tensor:
    r"""Return $W(t) = \Sigma^{yx} + (W(0) - \Sigma^{yx}) e^{-t/\tau}$, the gradient flow of a shallow network.

    Implements Theorem 2.2.3 (= Theorem 4.2.2, eq. 4.21) of Anguita (2024): the solution of
    $\tau \dot W = \Sigma^{yx} - W \Sigma^{xx}$ for whitened inputs $\Sigma^{xx} = I$.

    ``W0``: $W(0)$ ``(..., N_o, N_i)``; ``X``: ``(N_i, P)`` whitened (raises ``ValueError`` otherwise);
    ``Y``: ``(N_o, P)``; ``t``: ``(T,)`` times; ``tau``: $\tau > 0$. Returns ``(T, ..., N_o, N_i)``.
    """
    W0, X, Y = _check_shallow(W0, X, Y)
    times = torch.as_tensor(_check_times(t)).to(W0)
    tau = check_positive_real(tau, "tau")
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
    method: str = "auto",
) -> torch.Tensor:
    r"""Integrate the shallow gradient flow $\tau \dot W = \Sigma^{yx} - W \Sigma^{xx}$ numerically (solve_ivp).

    The gradient flow of $\lVert W X - Y \rVert_F^2 / (2P)$; the independent reference for
    :func:`shallow_solution`. Arguments as there, without the whitening requirement.
    Returns ``(T, ..., N_o, N_i)``.
    """
    W0, X, Y = _check_shallow(W0, X, Y)
    times = _check_times(t)
    tau = check_positive_real(tau, "tau")
    rtol, atol = check_positive_real(rtol, "rtol"), check_positive_real(atol, "atol")
    sxx, syx = (m.detach().cpu().numpy().astype(np.float64) for m in _moments(X, Y))
    w0 = W0.detach().cpu().numpy().astype(np.float64)
    shape = w0.shape

    def rhs(_, y):
        return ((syx - y.reshape(shape) @ sxx) / tau).ravel()


    rho = 2 * float(np.linalg.norm(sxx)) + 1.0
    ys = _solve(rhs, w0.ravel(), times / tau, rtol, atol, method, rho, tau)
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
    """Validate a network and a task; convert all four to their widest dtype, on the device of W1."""
    W1, W2, X, Y = (as_float_tensor(x, name) for x, name in ((W1, "W1"), (W2, "W2"), (X, "X"), (Y, "Y")))
    dtype = common_dtype(W1, W2, X, Y)
    W1 = W1.to(dtype)
    W2, X, Y = (x.to(dtype=dtype, device=W1.device) for x in (W2, X, Y))
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
    """Validate a shallow network and a task; convert to their widest dtype, on the device of W0."""
    W0, X, Y = (as_float_tensor(x, name) for x, name in ((W0, "W0"), (X, "X"), (Y, "Y")))
    dtype = common_dtype(W0, X, Y)
    W0 = W0.to(dtype)
    X, Y = (x.to(dtype=dtype, device=W0.device) for x in (X, Y))
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"X, Y: expected shapes (N_i, P) and (N_o, P) with the same P, got {tuple(X.shape)} and "
                         f"{tuple(Y.shape)}")
    if W0.ndim < 2 or W0.shape[-2:] != (Y.shape[0], X.shape[0]):
        raise ValueError(f"W0: expected shape (..., {Y.shape[0]}, {X.shape[0]}), got {tuple(W0.shape)}")
    return W0, X, Y


def _check_times(t) -> np.ndarray:
    times = np.atleast_1d(as_float_tensor(t, "t", dtype=torch.float64).detach().cpu().numpy())
    if times.ndim != 1 or times.size == 0:
        raise ValueError(f"t: expected a non-empty 1-D array of times, got shape {times.shape}")
    if times.min() < 0 or np.any(np.diff(times) < 0):
        raise ValueError("t: times must be non-negative and non-decreasing")
    return times


def _moments(X, Y):
    P = X.shape[1]
    return X @ X.T / P, Y @ X.T / P


def _gradients(W1, W2, sxx, syx):
    err = syx - W2 @ W1 @ sxx
    return -W2.mT @ err, -err @ W1.mT


def _loss(W1, W2, X, Y):
    residual = W2 @ W1 @ X - Y
    return residual.pow(2).sum(dim=(-2, -1)) / (2 * X.shape[1])


_METHODS = ("auto", "DOP853", "Radau", "RK45", "RK23", "BDF", "LSODA")
_EXPLICIT_STEPS = 2000.0       # "auto": explicit up to t/tau = _EXPLICIT_STEPS / rho, then Radau
_DENSE_LIMIT = 2000            # Radau stores a Jacobian: only up to this many unknowns per batch element


def _block_pattern(s1, s2):
    """Batch index of every unknown of the flattened (W1, W2) state: batch elements do not interact."""
    b1 = np.broadcast_to(np.arange(int(np.prod(s1[:-2]))).reshape(*s1[:-2], 1, 1), s1).ravel()
    b2 = np.broadcast_to(np.arange(int(np.prod(s2[:-2]))).reshape(*s2[:-2], 1, 1), s2).ravel()
    return np.concatenate([b1, b2])


def _solve(rhs, y0, times, rtol, atol, method, rho, tau, blocks=None):
    """Solve y' = rhs(t, y) (t in units of tau: ``times`` are t / tau) and return y at ``times``, shape (T, n).

    Repeated times are integrated once; ``method="auto"`` switches from DOP853 to Radau past _EXPLICIT_STEPS / rho.
    ``blocks``: the batch index of every unknown (the Jacobian is block diagonal), used by the implicit methods.
    """
    if method not in _METHODS:
        raise ValueError(f"method: expected one of {', '.join(_METHODS)}; got {method!r}")
    unique, inverse = np.unique(times, return_inverse=True)

    def scaled(s, y):                       # rhs takes time in units of tau only through the 1/tau factor
        return rhs(s, y) * tau

    def run(meth, start, y_start, stops):
        if stops[-1] <= start:
            return np.tile(y_start, (len(stops), 1))
        extra = {}
        if meth in ("Radau", "BDF") and blocks is not None and blocks.max() > 0:
            from scipy.sparse import csr_matrix

            same = blocks[:, None] == blocks[None, :]
            extra["jac_sparsity"] = csr_matrix(same.astype(np.int8))
        sol = solve_ivp(scaled, (start, float(stops[-1])), y_start, method=meth, t_eval=stops, rtol=rtol, atol=atol,
                        **extra)
        if not sol.success:
            raise ValueError(f"t: the ODE solver ({meth}) failed before t = {stops[-1] * tau:g}: {sol.message}")
        return sol.y.T

    out = np.empty((len(unique), len(y0)))
    if method != "auto":
        positive = unique > 0
        out[~positive] = y0
        if positive.any():
            out[positive] = run(method, 0.0, y0, unique[positive])
        return out[inverse]
    switch = _EXPLICIT_STEPS / max(rho, 1e-300)
    early = unique <= switch
    out[unique == 0] = y0
    first = early & (unique > 0)
    late = ~early
    stops = unique[first]
    if late.any():
        stops = np.append(stops, switch)
    if len(stops):
        values = run("DOP853", 0.0, y0, stops)
        out[first] = values[: first.sum()]
        if late.any():
            y_switch = values[-1]
            per_element = len(y0) if blocks is None else int(np.bincount(blocks).max())
            tail = "Radau" if per_element <= _DENSE_LIMIT and len(y0) <= 20 * _DENSE_LIMIT else "DOP853"
            out[late] = run(tail, float(switch), y_switch, unique[late])
    return out[inverse]
