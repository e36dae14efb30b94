r"""The network function $W = W_2W_1$ of $\lambda$-balanced weights on its own: a closed ODE, derived in this book.

For $\lambda$-balanced weights with $N_h = \min(N_i, N_o)$ the product obeys a closed equation (no weights needed),

$$\tau \dot W = (\Sigma - W)\sqrt{W^\top W + \tfrac{\lambda^2}{4}I} + \sqrt{WW^\top + \tfrac{\lambda^2}{4}I}\,(\Sigma - W)
  - 2\mu^+\big(\Pi_{\rm out}\Sigma\,[N_o > N_i] + \Sigma\Pi_{\rm in}\,[N_i > N_o]\big)$$

(:func:`product_velocity`), which :func:`integrate_product` integrates with SciPy: a third check of
:func:`linear_lens.riccati.qqt`, independent of both the weights' flow and the Riccati solution. :func:`product_loss`
is the loss of a network function (eq. 2.3 of Anguita, 2024).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.integrate import solve_ivp

from linear_lens._checks import as_float_tensor, check_positive_int, check_real
from linear_lens.riccati import _check_sigma, _positive, _sigma_of

__all__ = ["product_velocity", "integrate_product", "product_loss"]

F64 = torch.float64
_METHODS = ("RK23", "RK45", "DOP853", "Radau", "BDF", "LSODA")  # scipy.integrate.solve_ivp's


def product_velocity(W: torch.Tensor, sigma_yx: torch.Tensor, lam, tau: float = 1.0,
                     hidden_dim: int | None = None) -> torch.Tensor:
    r"""Return $\dot W$ for the network function $W = W_2W_1$ of $\lambda$-balanced weights, in terms of $W$ alone.

    A closed ODE derived in this book (not in the thesis). From $W^\top W = K_1^2 + \lambda K_1$ with
    $K_1 = W_1^\top W_1$ and $WW^\top = K_2^2 - \lambda K_2$ with $K_2 = W_2W_2^\top$ (balance),
    $K_1 = \sqrt{W^\top W + \lambda^2/4} - \lambda/2$ and $K_2 = \sqrt{WW^\top + \lambda^2/4} + \lambda/2$ wherever
    these roots are the right branch; $\tau\dot W = (\Sigma - W)K_1 + K_2(\Sigma - W)$ then gives

    $$\tau \dot W = (\Sigma - W)\sqrt{W^\top W + \tfrac{\lambda^2}{4}I} + \sqrt{WW^\top + \tfrac{\lambda^2}{4}I}\,
      (\Sigma - W) - 2\mu^+\big(\Pi_{\rm out}\Sigma\,[N_o > N_i] + \Sigma\Pi_{\rm in}\,[N_i > N_o]\big),$$

    with $\mu^+ = \max(0, \operatorname{sgn}(N_o - N_i)\lambda/2)$ and $\Pi_{\rm out} = I - WW^+$, $\Pi_{\rm in} =
    I - W^+W$ the projectors onto the null spaces of $W^\top$ and $W$. In equal dimensions the last term vanishes
    and $\dot W$ depends on $\lambda$ only through $\lambda^2$. Valid for $N_h = \min(N_i, N_o)$ and $W$ of rank
    $N_h$; with a wider hidden layer $W$ does not determine $K_1$, $K_2$ (no closed ODE), so ``hidden_dim`` must be
    $\min(N_i, N_o)$ (the default).

    ``W``: ``(..., N_o, N_i)``; ``sigma_yx``: ``(N_o, N_i)`` or broadcastable; ``lam``: $\lambda$; returns
    ``(..., N_o, N_i)``.
    """
    W = as_float_tensor(W, "W", dtype=F64)
    if W.ndim < 2:
        raise ValueError(f"W: expected a matrix (..., N_o, N_i), got shape {tuple(W.shape)}")
    S = _check_sigma(sigma_yx).to(W)
    if S.shape[-2:] != W.shape[-2:]:
        raise ValueError(f"sigma_yx: expected (..., {W.shape[-2]}, {W.shape[-1]}) to match W, got {tuple(S.shape)}")
    lam = check_real(lam, "lam")
    tau = _positive(tau, "tau")
    n_out, n_in = W.shape[-2:]
    k = min(n_in, n_out)
    if hidden_dim is not None and check_positive_int(hidden_dim, "hidden_dim") != k:
        raise ValueError(f"hidden_dim: the product obeys a closed ODE only for N_h = min(N_i, N_o) = {k}, got {hidden_dim}")
    E = S - W
    quarter = lam**2 / 4
    v = E @ _sym_sqrt(W.mT @ W, quarter) + _sym_sqrt(W @ W.mT, quarter) @ E
    mu_plus = max(0.0, math.copysign(1.0, n_out - n_in) * lam / 2) if n_out != n_in else 0.0
    if mu_plus > 0:
        pinv = torch.linalg.pinv(W)
        if n_out > n_in:
            v = v - 2 * mu_plus * (torch.eye(n_out, dtype=F64, device=W.device) - W @ pinv) @ S
        else:
            v = v - 2 * mu_plus * S @ (torch.eye(n_in, dtype=F64, device=W.device) - pinv @ W)
    return v / tau


def integrate_product(W0: torch.Tensor, X, Y, lam, t, tau: float = 1.0, rtol: float = 1e-12, atol: float = 1e-12,
                      method: str = "DOP853", hidden_dim: int | None = None) -> torch.Tensor:
    r"""Integrate the closed product ODE of :func:`product_velocity` from $W(0)$ with ``scipy.integrate.solve_ivp``.

    A third, independent check of :func:`linear_lens.riccati.qqt` (and of :func:`linear_lens.gradient_flow.integrate`): it never forms
    the weights. ``W0``: $W_2(0)W_1(0)$ ``(N_o, N_i)``; ``X``, ``Y``: the task (whitened); ``lam``: $\lambda$ of the
    weights; ``t``: ``(T,)`` non-decreasing times $\ge 0$. Returns ``(T, N_o, N_i)`` float64.
    """
    W0 = as_float_tensor(W0, "W0", dtype=F64)
    if W0.ndim != 2:
        raise ValueError(f"W0: expected a single (N_o, N_i) matrix, got shape {tuple(W0.shape)}")
    S = _sigma_of(X, Y).to(W0)
    if S.shape != W0.shape:
        raise ValueError(f"W0: expected shape {tuple(S.shape)} (N_o, N_i) of the task, got {tuple(W0.shape)}")
    times = as_float_tensor(t, "t", dtype=F64).reshape(-1).cpu().numpy()
    if times.size == 0 or times.min() < 0 or np.any(np.diff(times) < 0):
        raise ValueError("t: times must be non-negative and non-decreasing")
    lam = check_real(lam, "lam")
    if isinstance(method, str) and method not in _METHODS:
        raise ValueError(f"method: expected one of {', '.join(_METHODS)}; got {method!r}")
    _positive(rtol, "rtol")
    _positive(atol, "atol")
    shape = tuple(W0.shape)

    def rhs(_, y):
        Wt = torch.from_numpy(y.reshape(shape))
        return product_velocity(Wt, S.cpu(), lam, tau, hidden_dim).numpy().ravel()

    y0 = W0.detach().cpu().numpy().ravel()
    if times[-1] == 0:
        return W0.expand(len(times), *shape).clone()
    sol = solve_ivp(rhs, (0.0, float(times[-1])), y0, method=method, t_eval=times, rtol=rtol, atol=atol)
    if not sol.success:
        raise ValueError(f"t: the ODE solver failed before t = {times[-1]}: {sol.message}")
    return torch.as_tensor(sol.y.T.reshape(len(times), *shape), dtype=F64).to(W0.device)


def product_loss(W: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    r"""Return $\lVert WX - Y\rVert_F^2/(2P)$ for network functions $W$ ``(..., N_o, N_i)`` (eq. 2.3 of Anguita, 2024)."""
    W = as_float_tensor(W, "W")
    X = as_float_tensor(X, "X").to(W)
    Y = as_float_tensor(Y, "Y").to(W)
    if W.ndim < 2 or X.ndim != 2 or Y.ndim != 2 or W.shape[-1] != X.shape[0] or W.shape[-2] != Y.shape[0] \
            or X.shape[1] != Y.shape[1]:
        raise ValueError(f"W, X, Y: shapes {tuple(W.shape)}, {tuple(X.shape)}, {tuple(Y.shape)} do not chain as "
                         "W X ~ Y with X (N_i, P) and Y (N_o, P)")
    return (W @ X - Y).pow(2).sum((-2, -1)) / (2 * X.shape[1])


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _sym_sqrt(A: torch.Tensor, shift: float) -> torch.Tensor:
    """sqrt(A + shift I) for symmetric positive semi-definite A (eigenvalues clamped at 0)."""
    ev, vec = torch.linalg.eigh(A)
    return (vec * torch.sqrt(ev.clamp(min=0) + shift)[..., None, :]) @ vec.mT
