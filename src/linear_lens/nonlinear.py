r"""Two-layer networks with a nonlinearity, $Y \approx W_2\,\sigma(W_1 X)$: what survives of the balance (Anguita, 2024, Section 4.5).

For a linear network the gradient flow conserves the whole balance $B = W_2^\top W_2 - W_1 W_1^\top$ (Theorem 2.2.1).
With an activation $\sigma$ between the layers only part of it survives: for a positively homogeneous $\sigma$
($\sigma(z) = \sigma'(z) z$: ReLU, leaky ReLU, the identity) the flow conserves every diagonal entry $B_{jj}$, one per
hidden unit (Du et al., 2018), hence the fitted coefficient $\lambda^* = \operatorname{Tr}(B)/N_h$ of Section 4.5
(:func:`linear_lens.balanced.fitted_lambda`), but not the off-diagonal entries; for other activations (tanh) not
even the diagonal. :func:`fitted_lambda_training` trains such networks by gradient descent and records what moves.
"""

from __future__ import annotations

import torch

from linear_lens import activations
from linear_lens._checks import as_float_tensor, check_positive_int, check_positive_real, common_dtype
from linear_lens._threads import single_thread
from linear_lens.balanced import balance
from linear_lens.progress import progress

__all__ = ["fitted_lambda_training"]


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
