r"""Two-layer networks with a nonlinearity, $Y \approx W_2\,\sigma(W_1 X)$: what survives of the balance (Anguita, 2024, Section 4.5).

For a linear network the gradient flow conserves the whole balance $B = W_2^\top W_2 - W_1 W_1^\top$ (Theorem 2.2.1).
With an activation $\sigma$ between the layers only part of it survives: for a positively homogeneous $\sigma$
($\sigma(z) = \sigma'(z) z$: ReLU, leaky ReLU, the identity) the flow conserves every diagonal entry $B_{jj}$, one per
hidden unit (Du et al., 2018), hence the fitted coefficient $\lambda^* = \operatorname{Tr}(B)/N_h$ of Section 4.5
(:func:`linear_lens.balanced.fitted_lambda`), but not the off-diagonal entries; for other activations (tanh) not
even the diagonal. :func:`fitted_lambda_training` trains such networks by gradient descent and records what moves.

**The balance under gradient flow.** For $\hat Y = W_2\sigma(W_1X)$ and $L = \lVert\hat Y - Y\rVert_F^2/(2P)$, write
$w^{\rm in}_j$ for row $j$ of $W_1$ (the weights into hidden unit $j$), $w^{\rm out}_j$ for column $j$ of $W_2$ (out
of it), $h = W_1X$, and $\delta = W_2^\top(Y - \hat Y)$ the error sent back to the hidden layer. Under gradient flow
the diagonal balance $B_{jj} = \lVert w^{\rm out}_j\rVert^2 - \lVert w^{\rm in}_j\rVert^2$ moves at

$$\dot B_{jj} = \tfrac2P\sum_p \delta_{jp}\,\big(\sigma(h_{jp}) - h_{jp}\sigma'(h_{jp})\big)$$

(:func:`neuron_balance_rate`), which vanishes for positively homogeneous $\sigma$ (ReLU, linear: Du et al., 2018):
each $B_{jj}$, hence $\lambda^* = \operatorname{Tr}B/N_h$, is conserved. One gradient-descent step changes $B_{jj}$ by
$-\eta\,\dot B_{jj} + \eta^2(\lVert g^{\rm out}_j\rVert^2 - \lVert g^{\rm in}_j\rVert^2)$, $g = \nabla L$, so for
ReLU its drift over a time $t$ is $O(\eta)$ and vanishes with the step. :func:`integrate_nonlinear` integrates the
flow (smooth activations; ReLU's switching makes adaptive solvers crawl), :func:`nonlinear_sequence` runs batched
gradient descent through a sequence of tasks, and :func:`balance_experiment` is the experiment of Fig. 4.8.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.integrate import solve_ivp

from linear_lens import activations, balanced
from linear_lens._checks import as_float_tensor, check_positive_int, check_positive_real, check_real, common_dtype
from linear_lens._threads import single_thread
from linear_lens.balanced import balance
from linear_lens.continual import _task, random_target_task
from linear_lens.gradient_flow import Trajectory
from linear_lens.progress import progress
from linear_lens.sampling import haar_orthogonal

__all__ = [
    "ACTIVATIONS",
    "fitted_lambda_training",
    "nonlinear_loss",
    "nonlinear_gradients",
    "neuron_balance_rate",
    "integrate_nonlinear",
    "nonlinear_sequence",
    "balance_experiment",
]

F64 = torch.float64
ACTIVATIONS = ("linear", "relu", "tanh")
"""The activations of Fig. 4.8 (with their closed-form derivatives; ReLU's derivative at 0 is taken as 0)."""


def fitted_lambda_training(
    W1,
    W2,
    X,
    Y,
    activation: str,
    lrs: list[float],
    horizon: float,
    n_record: int = 20,
    show_progress: bool = True,
) -> dict[str, torch.Tensor]:
    r"""Train $Y \approx W_2\,\sigma(W_1 X)$ by gradient descent at several learning rates and track $\lambda^*$.

    Minimises $L = \tfrac{1}{2P}\lVert Y - W_2 \sigma(W_1 X)\rVert_F^2$ from the same $(W_1, W_2)$ with each learning
    rate $\eta$ in ``lrs`` (one batch) for ``horizon`` $/\eta$ steps, i.e. up to the same time $t = \eta k$ of the
    gradient flow, and records at ``n_record + 1`` equally spaced times the fitted coefficient
    $\lambda^* = \operatorname{Tr}(B)/N_h$ (:func:`linear_lens.balanced.fitted_lambda`), the distance
    $\lVert B - \lambda^* I\rVert_F$, the largest change of a diagonal entry of $B$ since $t = 0$, and the loss. For a
    positively homogeneous $\sigma$ (ReLU, identity) gradient flow conserves every diagonal entry of $B$
    (Du et al., 2018), so under gradient descent their drift is $O(\eta)$; Section 4.5 of Anguita (2024) relies on
    this for $\lambda^*$.

    ``W1``: ``(N_h, N_i)``; ``W2``: ``(N_o, N_h)``; ``X``: ``(N_i, P)``; ``Y``: ``(N_o, P)`` (computed in their widest
    dtype, on the device of ``W1``); ``activation``: a name of :func:`linear_lens.activations.get`;
    ``horizon / lr`` must be a multiple of ``n_record`` for every ``lr``. Returns a dict with ``times``
    ``(n_record + 1,)`` and ``lam_star``, ``distance``, ``diag_drift``, ``loss`` of shape ``(len(lrs), n_record + 1)``.
    """
    W1, W2, X, Y = (as_float_tensor(x, name) for x, name in ((W1, "W1"), (W2, "W2"), (X, "X"), (Y, "Y")))
    dtype = common_dtype(W1, W2, X, Y)
    W1 = W1.to(dtype)
    W2, X, Y = (x.to(dtype=dtype, device=W1.device) for x in (W2, X, Y))
    if W1.ndim != 2 or W2.ndim != 2 or W2.shape[1] != W1.shape[0]:
        raise ValueError(f"W1, W2: expected single matrices (N_h, N_i) and (N_o, N_h), got shapes {tuple(W1.shape)}, "
                         f"{tuple(W2.shape)}")
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1] or X.shape[0] != W1.shape[1] or Y.shape[0] != W2.shape[0]:
        raise ValueError(f"X, Y: expected shapes ({W1.shape[1]}, P) and ({W2.shape[0]}, P), got "
                         f"{tuple(X.shape)} and {tuple(Y.shape)}")
    act = activations.get(activation).fn
    horizon = check_positive_real(horizon, "horizon")
    n_record = check_positive_int(n_record, "n_record")
    if isinstance(lrs, (str, bytes)) or not hasattr(lrs, "__len__") or len(lrs) == 0:
        raise ValueError(f"lrs: expected a non-empty list of positive learning rates, got {lrs!r}")
    lrs = [check_positive_real(lr, "lrs") for lr in lrs]
    steps = [round(horizon / lr) for lr in lrs]
    for lr, n in zip(lrs, steps):
        if abs(n * lr - horizon) > 1e-9 * horizon or n % n_record:
            raise ValueError(f"lrs: horizon / lr must be a multiple of n_record={n_record}; got lr={lr}, {horizon / lr}")
    n_lr, P = len(lrs), X.shape[1]
    eta = torch.tensor(lrs, dtype=W1.dtype, device=W1.device)[:, None, None]
    A1 = W1.detach().expand(n_lr, *W1.shape).clone().requires_grad_(True)
    A2 = W2.detach().expand(n_lr, *W2.shape).clone().requires_grad_(True)
    stride = [n // n_record for n in steps]
    diag0 = balance(W1, W2).diagonal()
    rec = {k: torch.zeros(n_lr, n_record + 1, dtype=W1.dtype) for k in ("lam_star", "distance", "diag_drift", "loss")}

    def record(b: int, m: int, loss_b: torch.Tensor) -> None:
        B = balance(A1[b].detach(), A2[b].detach())
        lam = B.diagonal().mean()
        rec["lam_star"][b, m] = float(lam)
        rec["distance"][b, m] = float(torch.linalg.matrix_norm(B - lam * torch.eye(B.shape[0], dtype=B.dtype,
                                                                                   device=B.device)))
        rec["diag_drift"][b, m] = float((B.diagonal() - diag0).abs().max())
        rec["loss"][b, m] = float(loss_b)

    n_steps = torch.tensor(steps, device=W1.device)
    with single_thread():  # small tensors, many steps: one thread is fastest
        for k in progress(range(max(steps) + 1), desc=f"training ({activation})",
                          disable=not show_progress):
            residual = Y - A2 @ act(A1 @ X)
            losses = 0.5 * residual.pow(2).sum((-1, -2)) / P
            for b in range(n_lr):
                if k <= steps[b] and k % stride[b] == 0:
                    record(b, k // stride[b], losses[b].detach())
            if k == max(steps):
                break
            g1, g2 = torch.autograd.grad(losses.sum(), (A1, A2))
            active = (n_steps > k).to(W1.dtype)[:, None, None]
            with torch.no_grad():
                A1 -= eta * active * g1
                A2 -= eta * active * g2
    rec["times"] = torch.linspace(0.0, horizon, n_record + 1, dtype=torch.float64)
    return rec


# ---------------------------------------------------------------------------------------------------------------
# The balance through gradient flow and through sequences of tasks (Fig. 4.8)
# ---------------------------------------------------------------------------------------------------------------


def nonlinear_loss(W1, W2, X, Y, activation: str) -> torch.Tensor:
    r"""Return $\lVert W_2\sigma(W_1X) - Y\rVert_F^2/(2P)$ for ``activation`` in :data:`ACTIVATIONS`; weights batched."""
    W1, W2, X, Y = _check_net(W1, W2, X, Y)
    f, _ = _act_torch(activation)
    return (W2 @ f(W1 @ X) - Y).pow(2).sum((-2, -1)) / (2 * X.shape[1])


def nonlinear_gradients(W1, W2, X, Y, activation: str) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $(\nabla_{W_1}L, \nabla_{W_2}L)$ of $L = \lVert W_2\sigma(W_1X) - Y\rVert_F^2/(2P)$ in closed form.

    $\nabla_{W_2}L = -E\sigma(h)^\top/P$ and $\nabla_{W_1}L = -\big((W_2^\top E)\odot\sigma'(h)\big)X^\top/P$ with
    $h = W_1X$, $E = Y - W_2\sigma(h)$; the updates of the thesis's ``relu_network.py`` and ``tanh_network.py``.
    Shapes as in :func:`nonlinear_loss`.
    """
    W1, W2, X, Y = _check_net(W1, W2, X, Y)
    f, df = _act_torch(activation)
    H = W1 @ X
    Z = f(H)
    E = Y - W2 @ Z
    P = X.shape[1]
    return -((W2.mT @ E) * df(H)) @ X.T / P, -E @ Z.mT / P


def neuron_balance_rate(W1, W2, X, Y, activation: str) -> torch.Tensor:
    r"""Return $\dot B_{jj} = \tfrac2P\sum_p\delta_{jp}(\sigma(h_{jp}) - h_{jp}\sigma'(h_{jp}))$ under gradient flow.

    The rate of change of $B_{jj} = \lVert w^{\rm out}_j\rVert^2 - \lVert w^{\rm in}_j\rVert^2$ for each hidden unit
    $j$, with $\delta = W_2^\top(Y - \hat Y)$ and $h = W_1X$ (module docstring). It equals $2\langle\nabla L, v_j\rangle$
    for the rescaling direction $v_j$ that grows $w^{\rm in}_j$ and shrinks $w^{\rm out}_j$, so
    $|\dot B_{jj}| \le 2\lVert\nabla L\rVert\,(\lVert w^{\rm in}_j\rVert^2 + \lVert w^{\rm out}_j\rVert^2)^{1/2}$; it is
    identically zero for ReLU and the identity, and zero at every stationary point for any $\sigma$.
    Shapes as in :func:`nonlinear_loss`; returns ``(..., N_h)``.
    """
    W1, W2, X, Y = _check_net(W1, W2, X, Y)
    f, df = _act_torch(activation)
    H = W1 @ X
    delta = W2.mT @ (Y - W2 @ f(H))
    return 2 * (delta * (f(H) - H * df(H))).sum(-1) / X.shape[1]


def integrate_nonlinear(W1, W2, X, Y, activation: str, t, rtol: float = 1e-12, atol: float = 1e-12,
                        method: str = "DOP853"):
    r"""Integrate the gradient flow $\dot W_i = -\nabla_{W_i}L$ of $\hat Y = W_2\sigma(W_1X)$ with ``solve_ivp``.

    The nonlinear counterpart of :func:`linear_lens.gradient_flow.integrate` ($\tau = 1$), with the gradients of
    :func:`nonlinear_gradients`. ReLU makes the right-hand side discontinuous where a pre-activation crosses zero;
    the adaptive step resolves the crossings, at a cost. Returns a :class:`linear_lens.gradient_flow.Trajectory`
    (``t`` ``(T,)``, weights ``(T, ..., ...)``, loss ``(T, ...)``).
    """

    W1, W2, X, Y = _check_net(W1, W2, X, Y)
    times = np.asarray(as_float_tensor(t, "t", dtype=F64).reshape(-1).cpu())
    if times.size == 0 or times.min() < 0 or np.any(np.diff(times) < 0):
        raise ValueError("t: times must be non-negative and non-decreasing")
    rtol, atol = check_positive_real(rtol, "rtol"), check_positive_real(atol, "atol")
    f, df = _act_numpy(activation)
    batch = torch.broadcast_shapes(W1.shape[:-2], W2.shape[:-2])
    s1, s2 = (*batch, *W1.shape[-2:]), (*batch, *W2.shape[-2:])
    x, y = X.cpu().numpy(), Y.cpu().numpy()
    P = x.shape[1]
    n1 = int(np.prod(s1))

    def rhs(_, v):
        a, b = v[:n1].reshape(s1), v[n1:].reshape(s2)
        H = a @ x
        Z = f(H)
        E = y - b @ Z
        g1 = ((np.swapaxes(b, -1, -2) @ E) * df(H, Z)) @ x.T / P
        g2 = E @ np.swapaxes(Z, -1, -2) / P
        return np.concatenate([g1.ravel(), g2.ravel()])

    v0 = np.concatenate([W1.expand(s1).cpu().numpy().ravel(), W2.expand(s2).cpu().numpy().ravel()])
    if times[-1] == 0:
        ys = np.tile(v0, (len(times), 1))
    else:
        sol = solve_ivp(rhs, (0.0, float(times[-1])), v0, method=method, t_eval=times, rtol=rtol, atol=atol)
        if not sol.success:
            raise ValueError(f"t: the ODE solver failed before t = {times[-1]}: {sol.message}")
        ys = sol.y.T
    A = torch.as_tensor(ys[:, :n1].reshape(len(times), *s1))
    B = torch.as_tensor(ys[:, n1:].reshape(len(times), *s2))
    return Trajectory(torch.as_tensor(times), A, B, nonlinear_loss(A, B, X, Y, activation))


def nonlinear_sequence(W1, W2, Xs, Ys, activation: str, lr, steps: int, n_samples=None, hidden=None,
                       record_every: int | None = None, show_progress: bool = True) -> dict[str, torch.Tensor]:
    r"""Batched gradient descent for $\hat Y = W_2\sigma(W_1X)$ through a sequence of tasks, tracking the balance.

    Trains every network of the batch on task 1 for ``steps`` steps, then on task 2 from where it stopped, and so
    on (the protocol of Fig. 4.8), with the gradients of :func:`nonlinear_gradients`. Networks of different widths
    share a batch by zero padding: a padded hidden unit, input or sample contributes nothing and receives no
    gradient ($\sigma(0) = 0$ for the activations here); ``n_samples`` gives each network's true $P$ (the loss
    divides by it) and ``hidden`` its true $N_h$ (for $\lambda^*$ and the distance).

    ``W1``: ``(..., N_h, N_i)``; ``W2``: ``(..., N_o, N_h)``; ``Xs``: ``(K, ..., N_i, P)``; ``Ys``: ``(K, ..., N_o, P)``;
    ``lr``: a number or ``(...)``; ``steps``: per task; ``record_every``: also record every this many steps within a
    task (``None``: only at task ends). Returns a dict with ``lam_star``, ``distance`` (:math:`\lVert B - \lambda^*
    I\rVert_F`), ``diag_drift`` (largest change of a diagonal entry of $B$ since the start) of shape
    ``(R, ...)`` at the ``R`` records, ``loss`` ``(R, ...)`` on the task being trained, ``record_task``, ``record_step``
    ``(R,)``, and the final ``W1``, ``W2``.
    """
    f, df = _act_numpy(activation)
    A = as_float_tensor(W1, "W1", dtype=F64).cpu().numpy().copy()
    B = as_float_tensor(W2, "W2", dtype=F64).cpu().numpy().copy()
    Xs = as_float_tensor(Xs, "Xs", dtype=F64).cpu().numpy()
    Ys = as_float_tensor(Ys, "Ys", dtype=F64).cpu().numpy()
    batch = A.shape[:-2]
    n_tasks = Xs.shape[0]
    if B.shape[:-2] != batch or Xs.shape[1:-2] != batch or Ys.shape[1:-2] != batch or Ys.shape[0] != n_tasks:
        raise ValueError(f"W1, W2, Xs, Ys: batch shapes differ: {A.shape}, {B.shape}, {Xs.shape}, {Ys.shape}")
    if B.shape[-1] != A.shape[-2] or Xs.shape[-2] != A.shape[-1] or Ys.shape[-2] != B.shape[-2] \
            or Xs.shape[-1] != Ys.shape[-1]:
        raise ValueError(f"W1, W2, Xs, Ys: shapes {A.shape}, {B.shape}, {Xs.shape}, {Ys.shape} do not chain")
    steps = check_positive_int(steps, "steps")
    record_every = steps if record_every is None else check_positive_int(record_every, "record_every")
    eta = np.broadcast_to(np.asarray(as_float_tensor(lr, "lr", dtype=F64).cpu()), batch)[..., None, None]
    if (eta <= 0).any():
        raise ValueError("lr: learning rates must be positive")
    P = np.broadcast_to(np.asarray(Xs.shape[-1] if n_samples is None else n_samples, dtype=float), batch)
    Nh = np.broadcast_to(np.asarray(A.shape[-2] if hidden is None else hidden, dtype=float), batch)
    if (P <= 0).any() or (Nh <= 0).any():
        raise ValueError("n_samples, hidden: must be positive")
    Pm = P[..., None, None]
    mask = (np.arange(A.shape[-2]) < Nh[..., None]).astype(float)
    maskB = mask[..., :, None] * mask[..., None, :]
    diag0 = _diag_balance(A, B)
    rec = {k: [] for k in ("lam_star", "distance", "diag_drift", "loss", "record_task", "record_step")}

    def record(task, step, loss):
        Bm = np.swapaxes(B, -1, -2) @ B - A @ np.swapaxes(A, -1, -2)
        lam = np.trace(Bm, axis1=-2, axis2=-1) / Nh
        dev = (Bm - lam[..., None, None] * np.eye(Bm.shape[-1])) * maskB
        rec["lam_star"].append(lam)
        rec["distance"].append(np.sqrt((dev**2).sum((-2, -1))))
        rec["diag_drift"].append(np.abs(_diag_balance(A, B) - diag0).max(-1))
        rec["loss"].append(loss)
        rec["record_task"].append(task)
        rec["record_step"].append(step)

    with np.errstate(over="ignore", invalid="ignore"):
        x, y = Xs[0], Ys[0]
        rec_loss = np.square(B @ f(A @ x) - y).sum((-2, -1)) / (2 * P)
        record(-1, 0, rec_loss)
        for k in range(n_tasks):
            x, y = Xs[k], Ys[k]
            xT = np.swapaxes(x, -1, -2)
            for s in progress(range(1, steps + 1), desc=f"{activation}, task {k + 1}", disable=not show_progress):
                H = A @ x
                Z = f(H)
                E = B @ Z - y
                G2 = E @ np.swapaxes(Z, -1, -2) / Pm
                G1 = ((np.swapaxes(B, -1, -2) @ E) * df(H, Z)) @ xT / Pm
                A -= eta * G1
                B -= eta * G2
                if s % record_every == 0 or s == steps:
                    loss = np.square(B @ f(A @ x) - y).sum((-2, -1)) / (2 * P)
                    if not np.isfinite(loss).all():
                        raise ValueError(f"lr: gradient descent diverged on task {k + 1}; use a smaller learning rate")
                    record(k, s, loss)
    out = {k: torch.as_tensor(np.stack(v)) for k, v in rec.items()}
    out["W1"], out["W2"] = torch.as_tensor(A), torch.as_tensor(B)
    return out


def balance_experiment(lams, activations, trials: int, n_tasks: int = 2, steps: int = 10000, lr: float = 0.001,
                       widths: tuple[int, int] = (3, 19), sample_factor: int = 2, n_buckets: int = 4,
                       generator: torch.Generator | None = None, show_progress: bool = True) -> dict:
    r"""The experiment of Fig. 4.8 of Anguita (2024): balanced networks trained on a sequence of random tasks.

    As in the thesis's code (``continual_learning_figure.ipynb``): each trial draws a width $n$ uniformly from
    ``widths`` (the code's ``randint(3, 20)``), sets $N_i = N_h = N_o = n$ and $P = $ ``sample_factor`` $n$, draws
    ``n_tasks`` tasks with :func:`random_target_task` and an initial function (Algorithm 1, $\sigma = 1$), factors it
    $\lambda$-balanced for each $\lambda$ in ``lams``, and trains it with each activation for ``steps`` steps per task
    (:func:`nonlinear_sequence`). Unlike the code, every $\lambda$ and activation sees the same draws, so that the
    comparisons are paired; each trial draws from its own generator (seeded from ``generator``), so that runs with
    more tasks extend runs with fewer. Trials are padded to the widest network of their bucket (``n_buckets`` buckets
    of widths), which keeps the padding small.

    Returns a dict with ``lam_star``, ``distance``, ``diag_drift`` of shape ``(A, L, trials, n_tasks + 1)`` (after
    each task; index 0 is the start), ``loss`` ``(A, L, trials, n_tasks)`` (at the end of each task), ``width``
    ``(trials,)``, and ``activations``, ``lams``.
    """

    lams = [check_real(v, "lams") for v in lams]
    activations = [_check_activation(a) for a in activations]
    trials = check_positive_int(trials, "trials")
    n_tasks = check_positive_int(n_tasks, "n_tasks")
    steps = check_positive_int(steps, "steps")
    lr = check_positive_real(lr, "lr")
    lo, hi = (check_positive_int(w, "widths") for w in widths)
    if lo > hi:
        raise ValueError(f"widths: expected (low, high) with low <= high, got {widths}")
    sample_factor = check_positive_int(sample_factor, "sample_factor")
    n_buckets = check_positive_int(n_buckets, "n_buckets")
    draws = []
    seeds = torch.randint(0, 2**62, (trials,), generator=generator).tolist()
    for seed in seeds:                     # one generator per trial: its first tasks do not depend on n_tasks
        g = torch.Generator().manual_seed(int(seed))
        n = int(torch.randint(lo, hi + 1, (1,), generator=g))
        P = sample_factor * n
        W0 = torch.randn(n, n, generator=g, dtype=F64) @ torch.randn(n, n, generator=g, dtype=F64)
        R = haar_orthogonal(n, generator=g)
        inits = [balanced.balanced_factors(W0, lam, n, R) for lam in lams]
        tasks = [random_target_task(n, n, P, g) for _ in range(n_tasks)]
        draws.append((n, P, tasks, inits))
    widths_arr = np.array([d[0] for d in draws])
    order = np.argsort(widths_arr, kind="stable")
    buckets = [b for b in np.array_split(order, min(n_buckets, trials)) if len(b)]
    L, T = len(lams), trials
    shape = (len(activations), L, T)
    out = {k: np.zeros((*shape, n_tasks + 1)) for k in ("lam_star", "distance", "diag_drift")}
    out["loss"] = np.zeros((*shape, n_tasks))
    for bucket in progress(buckets, desc="width buckets", disable=not show_progress):
        nmax = int(widths_arr[bucket].max())
        pmax = sample_factor * nmax
        W1 = np.zeros((L, len(bucket), nmax, nmax))
        W2 = np.zeros_like(W1)
        Xs = np.zeros((n_tasks, L, len(bucket), nmax, pmax))
        Ys = np.zeros_like(Xs)
        for c, trial in enumerate(bucket):
            n, P, tasks, inits = draws[trial]
            for li, (a, b) in enumerate(inits):
                W1[li, c, :n, :n], W2[li, c, :n, :n] = a.numpy(), b.numpy()
            for k, (X, Y) in enumerate(tasks):
                Xs[k, :, c, :n, :P], Ys[k, :, c, :n, :P] = X.numpy(), Y.numpy()
        P_eff = sample_factor * widths_arr[bucket][None, :].repeat(L, 0)
        N_h = widths_arr[bucket][None, :].repeat(L, 0)
        for ai, act in enumerate(activations):
            res = nonlinear_sequence(W1, W2, Xs, Ys, act, lr, steps, n_samples=P_eff, hidden=N_h,
                                     show_progress=False)
            for key in ("lam_star", "distance", "diag_drift"):
                out[key][ai][:, bucket] = np.moveaxis(res[key].numpy(), 0, -1)
            out["loss"][ai][:, bucket] = np.moveaxis(res["loss"].numpy()[1:], 0, -1)
    result = {k: torch.as_tensor(v) for k, v in out.items()}
    result["width"] = torch.as_tensor(widths_arr)
    result["activations"] = list(activations)
    result["lams"] = list(lams)
    return result


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _check_activation(activation) -> str:
    if not isinstance(activation, str) or activation.lower() not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {', '.join(ACTIVATIONS)}; got {activation!r}")
    return activation.lower()


def _act_torch(activation):
    name = _check_activation(activation)
    if name == "linear":
        return (lambda h: h), torch.ones_like
    if name == "relu":
        return torch.relu, (lambda h: (h > 0).to(h.dtype))
    return torch.tanh, (lambda h: 1 - torch.tanh(h) ** 2)


def _act_numpy(activation):
    """(sigma, sigma') in NumPy; sigma' takes the pre-activation h and sigma(h) (tanh reuses it)."""
    name = _check_activation(activation)
    if name == "linear":
        return (lambda h: h), (lambda h, z: np.ones_like(h))
    if name == "relu":
        return (lambda h: np.maximum(h, 0.0)), (lambda h, z: (h > 0).astype(h.dtype))
    return np.tanh, (lambda h, z: 1 - z * z)


def _check_net(W1, W2, X, Y):
    W1 = as_float_tensor(W1, "W1", dtype=F64)
    W2 = as_float_tensor(W2, "W2", dtype=F64).to(W1.device)
    X, Y = _task(X, Y)
    X, Y = X.to(W1.device), Y.to(W1.device)
    if W1.ndim < 2 or W2.ndim < 2 or W2.shape[-1] != W1.shape[-2] or W1.shape[-1] != X.shape[0] \
            or W2.shape[-2] != Y.shape[0]:
        raise ValueError(f"W1, W2, X, Y: shapes {tuple(W1.shape)}, {tuple(W2.shape)}, {tuple(X.shape)}, "
                         f"{tuple(Y.shape)} do not chain as W2 sigma(W1 X) ~ Y")
    return W1, W2, X, Y


def _diag_balance(A, B):
    return (B * B).sum(-2) - (A * A).sum(-1)
