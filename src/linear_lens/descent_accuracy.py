r"""How closely gradient descent with step $\eta$ follows the exact gradient flow at $t_k = k\eta$ (Anguita, 2024, Section 3.3).

The accuracy experiment behind Figs. 3.4-3.6: train $\lambda$-balanced two-layer linear networks on random whitened
tasks by full-batch gradient descent and compare the loss after $k$ steps with the exact loss of the flow at
$t = k\eta$ (:func:`linear_lens.riccati.qqt_sigma`). :func:`descent_deviation` runs all trials and configurations
$(\lambda, \eta)$ as one batch.
"""

from __future__ import annotations

import numpy as np
import torch

from linear_lens._checks import as_generator, check_positive_int, check_real, check_sequence
from linear_lens._threads import single_thread
from linear_lens.riccati import _positive, qqt_sigma, riccati_eigenbasis

__all__ = ["descent_deviation"]

F64 = torch.float64


def descent_deviation(n: int, lams, lrs, trials: int, steps: int = 200, sigma: float = 1.0,
                      n_samples: int | None = None, generator: torch.Generator | None = None,
                      chunk: int = 50) -> dict[str, torch.Tensor]:
    r"""The accuracy experiment of Section 3.3 (Figs. 3.4-3.6 of Anguita, 2024): gradient descent against the exact flow.

    For each of ``trials`` trials, draw a whitened task with $N_i = N_o = n$ and $P = 2n$ samples
    (:func:`linear_lens.tasks.random_regression_task`) and, for each configuration $(\lambda_c, \eta_c)$, $\lambda_c$-
    balanced weights of width $n$ by Algorithm 1 (:func:`linear_lens.balanced.lambda_balanced_init`, standard deviation
    ``sigma``; the same Gaussian draw for every configuration of a trial). Train by full-batch gradient descent for
    ``steps`` steps and record the loss $L_k$ before each step, as the authors' code does; evaluate the exact loss
    $L(t_k)$ at $t_k = k\eta_c$ (:func:`linear_lens.riccati.qqt_sigma`, $\tau = 1$). The *average deviation* of a trial is
    $\frac{1}{K}\sum_k (L(t_k) - L_k)/L_k$ (signed, as in the authors' ``loss_difference``); its absolute version
    $\frac1K\sum_k |L(t_k) - L_k|/L_k$ is returned too.

    ``lams``, ``lrs``: equal-length sequences of configurations (use a repeated value to vary one of them);
    ``chunk``: time steps per batch of the exact solution (memory). Gradient descent runs for all trials and
    configurations as one batch. Returns a dict with ``deviation`` and ``abs_deviation`` ``(C, trials)``,
    ``lams`` and ``lrs`` ``(C,)``, ``top_rate`` ``(C, trials)``: the largest eigenvalue $\kappa_{\max}$ of $F$, the
    fastest rate of the flow near its end, and ``weight_scale`` ``(C, trials)``: $\lVert W_1(0)\rVert_2^2 +
    \lVert W_2(0)\rVert_2^2$, the scale of the loss's Hessian at the start, which sets the error of one step.
    """
    from linear_lens import balanced, tasks

    n = check_positive_int(n, "n")
    trials = check_positive_int(trials, "trials")
    steps = check_positive_int(steps, "steps")
    chunk = check_positive_int(chunk, "chunk")
    lams = [check_real(v, "lams") for v in check_sequence(lams, "lams")]
    lrs = [_positive(v, "lrs") for v in check_sequence(lrs, "lrs")]
    if len(lams) != len(lrs) or not lams:
        raise ValueError(f"lams, lrs: expected two non-empty sequences of equal length, got {len(lams)} and {len(lrs)}")
    n_samples = 2 * n if n_samples is None else check_positive_int(n_samples, "n_samples")
    generator = as_generator(generator)
    seeds = torch.randint(0, 2**62, (trials,), generator=generator).tolist()
    sig, syy, W1s, W2s = [], [], [], []
    for seed in seeds:                                      # drawing only; the computation below is batched
        g = torch.Generator().manual_seed(int(seed))
        X, Y = tasks.random_regression_task(n, n, n_samples, generator=g)
        sig.append(Y @ X.T / n_samples)
        syy.append((Y * Y).sum() / n_samples)
        # Algorithm 1 draws Gaussians, keeps the product's SVD and a Haar R; with one draw for every lambda it is
        # the same product factored for each lambda (balanced.balanced_factors)
        W1_0, W2_0 = balanced.lambda_balanced_init(0.0, n, n, n, sigma, g)
        U, _, _ = torch.linalg.svd(W2_0 @ W1_0)
        R = W2_0.T @ U / torch.linalg.svdvals(W2_0)[None, :]            # W2_0 = U S^(1/2) R^T at lambda = 0
        pairs = [balanced.balanced_factors(W2_0 @ W1_0, lam, n, R=R) for lam in lams]
        W1s.append(torch.stack([p[0] for p in pairs]))
        W2s.append(torch.stack([p[1] for p in pairs]))
    S = torch.stack(sig)[None]                               # (1, trials, n, n)
    syy = torch.stack(syy)[None]                             # (1, trials)
    W1 = torch.stack(W1s, dim=1)                             # (C, trials, n, n)
    W2 = torch.stack(W2s, dim=1)
    losses = torch.as_tensor(_descent_losses(W1.numpy(), W2.numpy(), S.numpy(), syy.numpy(), np.asarray(lrs), steps))
    # the exact flow at t_k = k eta
    exact = torch.empty_like(losses)
    k_all = torch.arange(steps, dtype=F64)
    for start in range(0, steps, chunk):
        ks = k_all[start:start + chunk]
        times = (ks[:, None, None] * torch.tensor(lrs, dtype=F64)[None, :, None]).expand(-1, -1, trials)
        G = qqt_sigma(times, W1, W2, S, balance_tol=1e-8, rcond=1e-10, factor=True, cholesky=True)
        with single_thread():
            Wp = G[..., n:, :] @ G[..., :n, :].mT
        exact[start:start + chunk] = 0.5 * (Wp.pow(2).sum((-2, -1)) - 2 * (Wp * S).sum((-2, -1)) + syy)
    rel = (exact - losses) / losses
    basis = riccati_eigenbasis(S[0], torch.tensor(lams, dtype=F64)[:, None])
    scale = torch.linalg.matrix_norm(W1, 2) ** 2 + torch.linalg.matrix_norm(W2, 2) ** 2
    return {
        "deviation": rel.mean(0),
        "abs_deviation": rel.abs().mean(0),
        "lams": torch.tensor(lams, dtype=F64),
        "lrs": torch.tensor(lrs, dtype=F64),
        "top_rate": basis.kappa.amax(-1),
        "weight_scale": scale,
    }


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _descent_losses(A: np.ndarray, B: np.ndarray, S: np.ndarray, syy: np.ndarray, lrs: np.ndarray,
                    steps: int) -> np.ndarray:
    """Full-batch gradient descent on whitened tasks, batched over (configuration, trial); the loss before each step.

    NumPy rather than torch: its stacked matmul of many small matrices is several times faster on a CPU.
    """
    eta = lrs[:, None, None, None]
    losses = np.empty((steps,) + A.shape[:-2])
    A, B = A.copy(), B.copy()
    for step in range(steps):
        W = B @ A
        losses[step] = 0.5 * ((W * W).sum((-2, -1)) - 2 * (W * S).sum((-2, -1)) + syy)
        err = S - W
        A, B = A + eta * (np.swapaxes(B, -1, -2) @ err), B + eta * (err @ np.swapaxes(A, -1, -2))
    return losses
