r"""Continual learning with the exact solution, and the balance of nonlinear networks (Anguita, 2024, Sections 4.4-4.5).

**Sequences of tasks** (Section 4.4). A two-layer linear network $W = W_2W_1$ trains on tasks $\mathcal T_1, \mathcal T_2,
\dots$ one after the other, each with whitened inputs ($\Sigma^{xx}_i = I$) and correlations $\Sigma_i = \Sigma^{yx}_i$,
$\Sigma^{yy}_i = Y_iY_i^\top/P$. The loss on task $i$ is (eq. 4.40, corrected: errata E16.1)

$$\mathcal L_i(W) = \tfrac12\operatorname{Tr}(WW^\top) - \operatorname{Tr}(W\Sigma_i^\top) + \tfrac12\operatorname{Tr}\Sigma^{yy}_i
  = \tfrac12\lVert W - \Sigma_i\rVert_F^2 + \mathcal L_i^*,$$

so once training on $\mathcal T_k$ has converged ($W = \Sigma_k$), the loss on $\mathcal T_i$ has risen by
$\tfrac12\lVert\Sigma_k - \Sigma_i\rVert_F^2$ over its minimum (:func:`forgetting_matrix`; Section 2.3.4). The gradient
flow conserves the balance $W_2^\top W_2 - W_1W_1^\top$, so a network that starts $\lambda$-balanced stays
$\lambda$-balanced from task to task and :func:`linear_lens.riccati.qqt_sigma` gives the whole sequence exactly
(:func:`exact_sequence`); :func:`descent_sequence` runs gradient descent on the same sequence. Along the flow on task
$k$ the loss on task $i$ changes at the rate (Theorem 4.4.1, eq. 4.42)

$$\tfrac{d}{dt}\mathcal L_i = \operatorname{Tr}\big(\dot W(W - \Sigma_i)^\top\big), \qquad
  \tau\dot W = W_2W_2^\top(\Sigma_k - W) + (\Sigma_k - W)W_1^\top W_1,$$

a function of the blocks of $QQ^\top$ (:func:`loss_rate`).

**Nonlinear networks** (Section 4.5). For $\hat Y = W_2\sigma(W_1X)$ and $L = \lVert\hat Y - Y\rVert_F^2/(2P)$, write
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

from dataclasses import dataclass

import numpy as np
import torch
from scipy.integrate import solve_ivp

from linear_lens import balanced, riccati
from linear_lens.tasks import whiten
from linear_lens.gradient_flow import Trajectory
from linear_lens.sampling import haar_orthogonal
from linear_lens._checks import as_float_tensor, check_positive_int, check_positive_real, check_real
from linear_lens.progress import progress

__all__ = [
    "ACTIVATIONS",
    "random_target_task",
    "correlation_loss",
    "forgetting_matrix",
    "forgetting",
    "SequenceTrajectory",
    "exact_sequence",
    "descent_sequence",
    "loss_rate",
    "printed_loss_rate",
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


def random_target_task(n_in: int, n_out: int, n_samples: int, generator: torch.Generator | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Draw a task as the thesis's code does (``get_random_regression_task``): whitened Gaussian inputs, Gaussian targets.

    $X$ has i.i.d. standard normal entries, whitened so that $XX^\top/P = I$ (:func:`linear_lens.tasks.whiten`); $Y$ has
    i.i.d. standard normal entries, independent of $X$, so that no network fits it exactly when $P > N_i$ (unlike
    :func:`linear_lens.tasks.random_regression_task`, whose targets are a linear function of $X$).
    Returns ``X`` ``(n_in, n_samples)`` and ``Y`` ``(n_out, n_samples)``, float64.
    """

    n_in = check_positive_int(n_in, "n_in")
    n_out = check_positive_int(n_out, "n_out")
    n_samples = check_positive_int(n_samples, "n_samples")
    if n_samples < n_in:
        raise ValueError(f"n_samples: must be at least n_in={n_in} for whitened inputs, got {n_samples}")
    X = whiten(torch.randn(n_in, n_samples, generator=generator, dtype=F64))
    return X, torch.randn(n_out, n_samples, generator=generator, dtype=F64)


def correlation_loss(W, X, Y, printed: bool = False) -> torch.Tensor:
    r"""Return the loss written with correlations, eq. (4.40) of Anguita (2024), for whitened inputs.

    $\tfrac12\operatorname{Tr}(WW^\top) - \operatorname{Tr}(W\Sigma^{yx\top}) + \tfrac{1}{2P}\operatorname{Tr}(YY^\top)$,
    which equals $\lVert WX - Y\rVert_F^2/(2P)$ when $XX^\top/P = I$. ``printed=True`` uses the printed constant
    $\tfrac1P\operatorname{Tr}(YY^\top)$, which overstates the loss by $\tfrac{1}{2P}\operatorname{Tr}(YY^\top)$
    (errata E16.1). ``W``: ``(..., N_o, N_i)``; ``X``: ``(N_i, P)`` whitened (checked); ``Y``: ``(N_o, P)``.
    Returns ``(...)``.
    """
    W = as_float_tensor(W, "W", dtype=F64)
    X, Y = _task(X, Y)
    _check_whitened(X)
    P = X.shape[1]
    S = Y @ X.T / P
    if W.shape[-2:] != S.shape:
        raise ValueError(f"W: expected (..., {S.shape[0]}, {S.shape[1]}), got {tuple(W.shape)}")
    const = (Y * Y).sum() / P * (1.0 if printed else 0.5)
    return 0.5 * W.pow(2).sum((-2, -1)) - (W * S).sum((-2, -1)) + const


def forgetting_matrix(sigmas) -> torch.Tensor:
    r"""Return $M_{ik} = \tfrac12\lVert\Sigma_k - \Sigma_i\rVert_F^2$: how far the loss on task $i$ sits above its
    minimum once training on task $k$ has converged (Section 2.3.4 of Anguita, 2024; Braun et al., 2022).

    The forgetting of task $i$ when training moves from task $j$ to task $k$ is $F_i(\mathcal T_j, \mathcal T_k) =
    M_{ik} - M_{ij}$ (:func:`forgetting`). It assumes whitened inputs and training to convergence on each task.
    ``sigmas``: ``(K, N_o, N_i)`` the tasks' $\Sigma^{yx}$. Returns ``(K, K)`` (rows: evaluated task $i$; columns:
    last trained task $k$).
    """
    S = as_float_tensor(sigmas, "sigmas", dtype=F64)
    if S.ndim != 3:
        raise ValueError(f"sigmas: expected (K, N_o, N_i), got shape {tuple(S.shape)}")
    return 0.5 * (S[None, :] - S[:, None]).pow(2).sum((-2, -1))


def forgetting(sigmas, i: int, j: int, k: int) -> torch.Tensor:
    r"""Return $F_i(\mathcal T_j, \mathcal T_k) = \tfrac12(\lVert\Sigma_k - \Sigma_i\rVert_F^2 -
    \lVert\Sigma_j - \Sigma_i\rVert_F^2)$, the forgetting of task $i$ when training moves from task $j$ to task $k$
    (Section 2.3.4 of Anguita, 2024). ``sigmas``: ``(K, N_o, N_i)``; ``i``, ``j``, ``k``: task indices."""
    M = forgetting_matrix(sigmas)
    K = M.shape[0]
    for name, v in (("i", i), ("j", j), ("k", k)):
        if not isinstance(v, int) or not 0 <= v < K:
            raise ValueError(f"{name}: expected a task index in [0, {K}), got {v!r}")
    return M[i, k] - M[i, j]


@dataclass(frozen=True)
class SequenceTrajectory:
    r"""A trajectory through a sequence of tasks: global times ``t`` ``(T,)``, the index of the task being trained
    ``task`` ``(T,)``, $QQ^\top$ ``qqt`` ``(T, ..., N_i + N_o, N_i + N_o)`` (or ``None``), the network function
    ``product`` ``(T, ..., N_o, N_i)``, the losses on every task ``losses`` ``(T, ..., K)``, and the weights at the end
    of each task ``ends`` (a list of ``(W1, W2)``)."""

    t: torch.Tensor
    task: torch.Tensor
    qqt: torch.Tensor | None
    product: torch.Tensor
    losses: torch.Tensor
    ends: list


def exact_sequence(W1, W2, tasks, durations, n_times: int = 200, tau: float = 1.0) -> SequenceTrajectory:
    r"""The exact gradient flow of a $\lambda$-balanced network trained on a sequence of tasks, one after the other.

    On task $k$ (from global time $T_{k-1}$ to $T_k$) the flow is :func:`linear_lens.riccati.qqt_sigma` on
    $\Sigma_k$, started from the weights that task $k - 1$ ended with. $QQ^\top$ fixes the weights only up to a
    rotation of the hidden layer, $Q \mapsto QR$, under which both the balance and the solution are invariant; the
    factor $G$ with $QQ^\top = GG^\top$ at $T_k$ serves as the next initial condition ($W_1 = G_{\rm in}^\top$,
    $W_2 = G_{\rm out}$). This is the induction of Section 4.4: the balance is conserved, so the exact solution holds
    for the whole sequence.

    ``W1``, ``W2``: $\lambda$-balanced initial weights ``(..., N_h, N_i)``, ``(..., N_o, N_h)``; ``tasks``: a list of
    ``(X, Y)`` with whitened inputs; ``durations``: the training time of each task (a number for all); ``n_times``:
    points per task (the first at the task's start). Returns a :class:`SequenceTrajectory`.
    """

    W1 = as_float_tensor(W1, "W1", dtype=F64)
    W2 = as_float_tensor(W2, "W2", dtype=F64).to(W1.device)
    tasks = _task_list(tasks)
    durations = _durations(durations, len(tasks))
    n_times = check_positive_int(n_times, "n_times")
    tau = check_positive_real(tau, "tau")
    n_in = W1.shape[-1]
    sigmas = torch.stack([Y @ X.T / X.shape[1] for X, Y in tasks])
    times, labels, qqts, ends = [], [], [], []
    start = 0.0
    for k, ((X, Y), dur) in enumerate(zip(tasks, durations)):
        local = torch.linspace(0.0, dur, n_times + 1, dtype=F64)
        last = k == len(tasks) - 1
        local = local if last else local[:-1]
        G = riccati.qqt_sigma(torch.cat([local, torch.tensor([dur], dtype=F64)]), W1, W2, sigmas[k], tau, factor=True)
        qqts.append(G[:len(local)] @ G[:len(local)].mT)
        W1, W2 = G[-1][..., :n_in, :].mT, G[-1][..., n_in:, :]
        ends.append((W1, W2))
        times.append(start + local)
        labels.append(torch.full((len(local),), k, dtype=torch.int64))
        start += dur
    P = torch.cat(qqts)
    product = P[..., n_in:, :n_in]
    losses = torch.stack([_loss_of(product, X, Y) for X, Y in tasks], dim=-1)
    return SequenceTrajectory(torch.cat(times), torch.cat(labels), P, product, losses, ends)


def descent_sequence(W1, W2, tasks, lr: float, steps, record_every: int = 1) -> SequenceTrajectory:
    r"""Full-batch gradient descent on a sequence of tasks, one after the other (the experiment of Fig. 4.6).

    Each task is trained for its number of ``steps`` (a number for all, or one per task) with learning rate $\eta$,
    from the weights the previous task ended with; step $m$ of the whole run is at time $t = m\eta$. Records, every
    ``record_every`` steps and at the last one, the network function, $QQ^\top$ and the loss on every task
    ($\lVert WX_i - Y_i\rVert_F^2/(2P_i)$). Batched over leading dimensions of the weights, in NumPy.
    Returns a :class:`SequenceTrajectory` (``task``: the task the next step trains on).
    """
    W1 = as_float_tensor(W1, "W1", dtype=F64)
    W2 = as_float_tensor(W2, "W2", dtype=F64).to(W1.device)
    tasks = _task_list(tasks)
    lr = check_positive_real(lr, "lr")
    steps = [check_positive_int(s, "steps") for s in _durations(steps, len(tasks), integer=True)]
    record_every = check_positive_int(record_every, "record_every")
    a, b = W1.cpu().numpy().copy(), W2.cpu().numpy().copy()
    xs = [X.cpu().numpy() for X, _ in tasks]
    ys = [Y.cpu().numpy() for _, Y in tasks]
    moments = [(x @ x.T / x.shape[1], y @ x.T / x.shape[1]) for x, y in zip(xs, ys)]
    total = sum(steps)
    t, labels, qs, losses = [], [], [], []
    ends = []
    m = 0
    for k, n_k in enumerate(steps):
        sxx, syx = moments[k]
        for step in progress(range(n_k), desc=f"task {k + 1}", disable=n_k < 5000):
            if m % record_every == 0:
                _record_linear(a, b, xs, ys, m * lr, k, t, labels, qs, losses)
            err = syx - b @ a @ sxx
            a, b = a + lr * (np.swapaxes(b, -1, -2) @ err), b + lr * (err @ np.swapaxes(a, -1, -2))
            m += 1
        ends.append((torch.as_tensor(a.copy()), torch.as_tensor(b.copy())))
    _record_linear(a, b, xs, ys, total * lr, len(steps) - 1, t, labels, qs, losses)
    if not np.isfinite(losses[-1]).all():
        raise ValueError("lr: gradient descent diverged; use a smaller learning rate")
    P = torch.as_tensor(np.stack(qs))
    n_in = W1.shape[-1]
    return SequenceTrajectory(torch.tensor(t, dtype=F64), torch.tensor(labels), P, P[..., n_in:, :n_in],
                              torch.as_tensor(np.stack(losses)), ends)


def loss_rate(qqt, n_in: int, sigma_train, sigma_eval, tau: float = 1.0) -> torch.Tensor:
    r"""Return $\frac{d}{dt}\mathcal L_i = \operatorname{Tr}(\dot W(W - \Sigma_i)^\top)$ while training on task $k$.

    Theorem 4.4.1(2) of Anguita (2024) in the form of its proof's eq. (4.42) (the statement's eq. (4.36) misplaces a
    parenthesis: errata E16.2), with $\tau\dot W = W_2W_2^\top(\Sigma_k - W) + (\Sigma_k - W)W_1^\top W_1$ read off
    the blocks of $QQ^\top$, so that the exact $QQ^\top(t)$ gives the exact rate. By (4.35) it is also the rate of
    forgetting of task $i$. Whitened inputs assumed.

    ``qqt``: ``(..., N_i + N_o, N_i + N_o)``; ``n_in``: $N_i$; ``sigma_train``: $\Sigma_k$ ``(N_o, N_i)``;
    ``sigma_eval``: $\Sigma_i$ ``(N_o, N_i)``. Returns ``(...)``.
    """

    blocks = riccati.blocks(as_float_tensor(qqt, "qqt", dtype=F64), n_in)
    Sk = as_float_tensor(sigma_train, "sigma_train", dtype=F64).to(blocks.product.device)
    Si = as_float_tensor(sigma_eval, "sigma_eval", dtype=F64).to(blocks.product.device)
    W = blocks.product
    if Sk.shape != W.shape[-2:] or Si.shape != W.shape[-2:]:
        raise ValueError(f"sigma_train, sigma_eval: expected ({W.shape[-2]}, {W.shape[-1]}), got {tuple(Sk.shape)}, "
                         f"{tuple(Si.shape)}")
    tau = check_positive_real(tau, "tau")
    E = Sk - W
    Wdot = (blocks.output_rep @ E + E @ blocks.input_rep) / tau
    return (Wdot * (W - Si)).sum((-2, -1))


def printed_loss_rate(qqt, n_in: int, sigma_train, sigma_eval, tau: float = 1.0) -> torch.Tensor:
    r"""Evaluate eq. (4.36) of Anguita (2024) as printed: $\operatorname{Tr}\big(\dot W W^\top - \tilde\Sigma^{yx\top}\big)$.

    Read literally, the trace of $\dot WW^\top - \Sigma_i^\top$, which differs from (4.42) by
    $\operatorname{Tr}(\Sigma_i^\top) - \operatorname{Tr}(\dot W\Sigma_i^\top)$ (errata E16.2). Needs $N_i = N_o$
    (the trace of $\Sigma_i^\top$); arguments as in :func:`loss_rate`.
    """

    blocks = riccati.blocks(as_float_tensor(qqt, "qqt", dtype=F64), n_in)
    Sk = as_float_tensor(sigma_train, "sigma_train", dtype=F64).to(blocks.product.device)
    Si = as_float_tensor(sigma_eval, "sigma_eval", dtype=F64).to(blocks.product.device)
    W = blocks.product
    if W.shape[-1] != W.shape[-2]:
        raise ValueError("qqt: eq. (4.36) as printed takes the trace of Sigma^T, which needs N_i = N_o")
    tau = check_positive_real(tau, "tau")
    E = Sk - W
    Wdot = (blocks.output_rep @ E + E @ blocks.input_rep) / tau
    return (Wdot * W).sum((-2, -1)) - Si.diagonal().sum()


# ---------------------------------------------------------------------------------------------------------------
# Nonlinear networks
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


def _task(X, Y):
    X = as_float_tensor(X, "X", dtype=F64)
    Y = as_float_tensor(Y, "Y", dtype=F64).to(X.device)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"X, Y: expected shapes (N_i, P) and (N_o, P) with the same P, got {tuple(X.shape)} and "
                         f"{tuple(Y.shape)}")
    return X, Y


def _task_list(tasks):
    if isinstance(tasks, (str, bytes)) or not hasattr(tasks, "__len__") or len(tasks) == 0:
        raise ValueError("tasks: expected a non-empty list of (X, Y) pairs")
    out = []
    for pair in tasks:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError("tasks: each task must be a pair (X, Y)")
        out.append(_task(*pair))
    shapes = {(X.shape[0], Y.shape[0]) for X, Y in out}
    if len(shapes) != 1:
        raise ValueError(f"tasks: all tasks need the same input and output dimensions, got {sorted(shapes)}")
    return out


def _durations(durations, n: int, integer: bool = False):
    if isinstance(durations, (int, float)) and not isinstance(durations, bool):
        durations = [durations] * n
    durations = list(durations)
    if len(durations) != n:
        raise ValueError(f"durations: expected one value per task ({n}), got {len(durations)}")
    return durations if integer else [check_positive_real(d, "durations") for d in durations]


def _check_whitened(X, tol: float = 1e-8) -> None:
    dev = float((X @ X.T / X.shape[1] - torch.eye(X.shape[0], dtype=X.dtype, device=X.device)).abs().max())
    if dev > tol:
        raise ValueError(f"X: eq. (4.40) assumes whitened inputs (X X^T / P = I); largest deviation {dev:.2e}")


def _loss_of(product, X, Y):
    return (product @ X - Y).pow(2).sum((-2, -1)) / (2 * X.shape[1])


def _record_linear(a, b, xs, ys, t, k, times, labels, qs, losses):
    W = b @ a
    times.append(t)
    labels.append(k)
    Q = np.concatenate([np.swapaxes(a, -1, -2), b], axis=-2)
    qs.append(Q @ np.swapaxes(Q, -1, -2))
    losses.append(np.stack([np.square(W @ x - y).sum((-2, -1)) / (2 * x.shape[1]) for x, y in zip(xs, ys)], -1))


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
