r"""Continual learning with the exact solution: sequences of tasks and forgetting (Anguita, 2024, Section 4.4).

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

The balance of nonlinear networks (Section 4.5) is in :mod:`linear_lens.nonlinear`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from linear_lens import riccati
from linear_lens._checks import as_float_tensor, as_generator, check_positive_int, check_positive_real, check_sequence
from linear_lens.progress import progress
from linear_lens.tasks import whiten

__all__ = [
    "random_target_task",
    "correlation_loss",
    "forgetting_matrix",
    "forgetting",
    "SequenceTrajectory",
    "exact_sequence",
    "descent_sequence",
    "loss_rate",
    "printed_loss_rate",
]

F64 = torch.float64


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
    generator = as_generator(generator)
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
    _check_network(W1, W2, tasks)
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
    _check_network(W1, W2, tasks)
    lr = check_positive_real(lr, "lr")
    steps = [check_positive_int(s, "steps") for s in _durations(steps, len(tasks), integer=True, name="steps")]
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


def _check_network(W1, W2, tasks) -> None:
    X, Y = tasks[0]
    if W1.ndim < 2 or W2.ndim < 2 or W2.shape[-1] != W1.shape[-2] or (X.shape[0], Y.shape[0]) != (W1.shape[-1],
                                                                                                    W2.shape[-2]):
        raise ValueError(f"W1, W2, tasks: shapes {tuple(W1.shape)}, {tuple(W2.shape)} and tasks (X {tuple(X.shape)}, "
                         f"Y {tuple(Y.shape)}) do not chain as W2 W1 X ~ Y")


def _durations(durations, n: int, integer: bool = False, name: str = "durations"):
    if isinstance(durations, (int, float)) and not isinstance(durations, bool):
        durations = [durations] * n
    durations = check_sequence(durations, name)
    if len(durations) != n:
        raise ValueError(f"{name}: expected one value per task ({n}), got {len(durations)}")
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

