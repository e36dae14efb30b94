r"""How lazily $\lambda$-balanced two-layer linear networks learn: the NTK's movement and the linearisation (Section 4.1).

Anguita (2024), Theorem 4.1.3. With the representations $K_1 = W_1^\top W_1$ and $K_2 = W_2W_2^\top$ of
:mod:`linear_lens.representations` and the NTK of :mod:`linear_lens.ntk`:

**Laziness** (:func:`laziness`, :func:`linearisation_gap`): a network learns lazily when it behaves like its
linearisation around the initial weights (Chizat et al., 2019), equivalently when its NTK hardly moves (Jacot et al.,
2018). For a two-layer linear network with whitened inputs the linearisation's network function obeys
$\tau\dot W = (\Sigma^{yx} - W)K_1(0) + K_2(0)(\Sigma^{yx} - W)$, whose solution is
$W_{\rm lin}(t) = \Sigma^{yx} - e^{-K_2(0)t/\tau}(\Sigma^{yx} - W(0))e^{-K_1(0)t/\tau}$ (:func:`linearised_product`).

:func:`ntk_change_leading_term` is the leading term of the NTK's change at large $|\lambda|$ (Theorem 4.1.3, corrected),
:func:`lazy_limit_constant` its size; :func:`draw_trials` draws the tasks and initial products of the chapter's
experiments, and :func:`laziness_sweep` measures laziness along the exact solution over a grid of $\lambda$
(:class:`LazinessSweep`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from linear_lens import ntk as _ntk
from linear_lens._checks import as_float_tensor, check_positive_int, check_positive_real, check_times
from linear_lens.progress import progress
from linear_lens.representations import (
    _check_feasible,
    _lam,
    balanced_weights,
    convergence_rate,
    representations_from_product,
)

__all__ = [
    "Laziness",
    "ntk_change_leading_term",
    "linearised_product",
    "laziness",
    "linearisation_gap",
    "lazy_limit_constant",
    "draw_trials",
    "LazinessSweep",
    "laziness_sweep",
]

F64 = torch.float64


@dataclass(frozen=True)
class Laziness:
    r"""How far a network moved from its initial kernel and representations (all ``(...)``).

    ``ntk_change``: $\lVert K - K_0\rVert_F/\lVert K_0\rVert_F$ of the NTK; ``kernel_distance``: $1 - \cos$ of the
    angle between the NTKs (Fort et al., 2020); ``input_change``, ``output_change``: the relative changes of
    $W_1^\top W_1$ and $W_2W_2^\top$.
    """

    ntk_change: torch.Tensor
    kernel_distance: torch.Tensor
    input_change: torch.Tensor
    output_change: torch.Tensor


def ntk_change_leading_term(W0, W, lam, printed: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return the representations whose NTK is the leading term of $\mathrm{NTK}(t) - \mathrm{NTK}(0)$ as $|\lambda| \to \infty$.

    Theorem 4.1.3(2)-(3) of Anguita (2024). Corrected (errata E13.3): both representations contribute at order
    $1/|\lambda|$, $\mathrm{NTK}(t) - \mathrm{NTK}(0) = \frac{1}{|\lambda|}\mathrm{NTK}\big(W^\top W - W_0^\top W_0,\
    WW^\top - W_0W_0^\top\big) + O(|\lambda|^{-3})$, for both signs (where the large representation has full rank).
    As printed (``printed=True``, with its $S_2^{*2}$ read as $S^{*2}$): only the small representation's term,
    $\frac1\lambda\mathrm{NTK}(W^\top W - W_0^\top W_0, 0)$ for $\lambda \to \infty$ (eq. 4.18) and
    $\frac1\lambda\mathrm{NTK}(0, W_0W_0^\top - WW^\top)$ for $\lambda \to -\infty$ (eq. 4.19).

    ``W0``: $W_2(0)W_1(0)$; ``W``: $W_2(t)W_1(t)$, both ``(..., N_o, N_i)``; ``lam``: ``(...)``, non-zero.
    Returns ``(D1, D2)`` ``(..., N_i, N_i)``, ``(..., N_o, N_o)``: pass them to :func:`linear_lens.ntk.ntk_inner` or
    :func:`linear_lens.ntk.ntk_from_representations`.
    """
    W0 = as_float_tensor(W0, "W0", dtype=F64)
    W = as_float_tensor(W, "W", dtype=F64).to(W0.device)
    if W0.ndim < 2 or W.shape[-2:] != W0.shape[-2:]:
        raise ValueError(f"W0, W: expected two (..., N_o, N_i) matrices of one shape, got {tuple(W0.shape)}, "
                         f"{tuple(W.shape)}")
    lam = _lam(lam, W0.device)
    if bool((lam == 0).any()):
        raise ValueError("lam: the leading term is a statement about |lambda| -> infinity; lam must be non-zero")
    L = lam.abs()[..., None, None]
    D1 = (W.mT @ W - W0.mT @ W0) / L
    D2 = (W @ W.mT - W0 @ W0.mT) / L
    if printed:
        pos = (lam > 0)[..., None, None]
        D1, D2 = torch.where(pos, D1, torch.zeros_like(D1)), torch.where(pos, torch.zeros_like(D2), D2)
    return D1, D2


def linearised_product(t, W0, input_0, output_0, sigma_yx, tau: float = 1.0) -> torch.Tensor:
    r"""Return $W_{\rm lin}(t) = \Sigma^{yx} - e^{-K_2(0)t/\tau}(\Sigma^{yx} - W_0)e^{-K_1(0)t/\tau}$, the lazy network function.

    The network function of the linearisation of $W_2W_1$ around the initial weights, trained by gradient flow on
    whitened inputs: $\tau\dot W = (\Sigma^{yx} - W)K_1(0) + K_2(0)(\Sigma^{yx} - W)$, i.e. kernel gradient flow with
    the initial NTK (Chizat et al., 2019; Jacot et al., 2018). Exponentials from the eigendecompositions of the
    (symmetric, positive semi-definite) representations, so nothing overflows.

    ``t``: ``(T,)`` or ``(T, ...)`` times $\ge 0$ (one grid per batch element); ``W0``: ``(..., N_o, N_i)``;
    ``input_0``: $K_1(0) = W_1(0)^\top W_1(0)$ ``(..., N_i, N_i)``; ``output_0``: $K_2(0)$ ``(..., N_o, N_o)``;
    ``sigma_yx``: ``(..., N_o, N_i)``. Returns ``(T, ..., N_o, N_i)``.
    """
    W0 = as_float_tensor(W0, "W0", dtype=F64)
    K1 = as_float_tensor(input_0, "input_0", dtype=F64).to(W0.device)
    K2 = as_float_tensor(output_0, "output_0", dtype=F64).to(W0.device)
    S = as_float_tensor(sigma_yx, "sigma_yx", dtype=F64).to(W0.device)
    tau = check_positive_real(tau, "tau")
    n_out, n_in = W0.shape[-2:]
    if K1.shape[-2:] != (n_in, n_in) or K2.shape[-2:] != (n_out, n_out) or S.shape[-2:] != (n_out, n_in):
        raise ValueError(f"input_0, output_0, sigma_yx: expected ({n_in}, {n_in}), ({n_out}, {n_out}), ({n_out}, "
                         f"{n_in}) to match W0, got {tuple(K1.shape)}, {tuple(K2.shape)}, {tuple(S.shape)}")
    batch = torch.broadcast_shapes(W0.shape[:-2], K1.shape[:-2], K2.shape[:-2], S.shape[:-2])
    times = check_times(t, batch, W0.device)[0] / tau                # (T, *batch)
    e1, V1 = torch.linalg.eigh(K1)
    e2, V2 = torch.linalg.eigh(K2)
    E0 = V2.mT @ (S - W0) @ V1                               # in the eigenbases, (..., N_o, N_i)
    decay = torch.exp(-(e2.clamp(min=0)[..., :, None] + e1.clamp(min=0)[..., None, :]) * times[..., None, None])
    return S - V2 @ (decay * E0) @ V1.mT


def laziness(input_rep, output_rep, input_0, output_0, X) -> Laziness:
    r"""Return how far the NTK and the representations moved from their initial values (:class:`Laziness`).

    ``input_rep``, ``output_rep``: $W_1^\top W_1$, $W_2W_2^\top$ at the time of interest, ``(..., N_i, N_i)``,
    ``(..., N_o, N_o)`` (e.g. blocks of :func:`linear_lens.riccati.qqt`); ``input_0``, ``output_0``: at time 0,
    broadcastable; ``X``: ``(N_i, P)`` the inputs of the NTK (eq. 4.1). Uses the trace formulas of
    :mod:`linear_lens.ntk` (no $N_oP \times N_oP$ kernel is formed).
    """
    K1 = as_float_tensor(input_rep, "input_rep", dtype=F64)
    K2 = as_float_tensor(output_rep, "output_rep", dtype=F64).to(K1.device)
    K10 = as_float_tensor(input_0, "input_0", dtype=F64).to(K1.device)
    K20 = as_float_tensor(output_0, "output_0", dtype=F64).to(K1.device)
    X = as_float_tensor(X, "X", dtype=F64).to(K1.device)

    def rel(A, A0):
        return _ntk._ratio(torch.linalg.matrix_norm(A - A0), torch.linalg.matrix_norm(A0))

    return Laziness(
        ntk_change=_ntk.representation_kernel_change(K1, K2, K10, K20, X),
        kernel_distance=_ntk.representation_kernel_distance(K1, K2, K10, K20, X),
        input_change=rel(K1, K10),
        output_change=rel(K2, K20),
    )


def linearisation_gap(product, t, W0, input_0, output_0, sigma_yx, tau: float = 1.0) -> torch.Tensor:
    r"""Return $\max_t \lVert W(t) - W_{\rm lin}(t)\rVert_F / \lVert \Sigma^{yx} - W_0\rVert_F$: how far from lazy training.

    Zero when the network trains exactly like its linearisation (Chizat et al., 2019); of order one when the
    representations it learns matter. ``product``: $W(t)$ ``(T, ..., N_o, N_i)`` at the times ``t`` (``(T,)`` or
    ``(T, ...)``); other arguments as in :func:`linearised_product`. Returns ``(...)``.
    """
    W = as_float_tensor(product, "product", dtype=F64)
    lin = linearised_product(t, W0, input_0, output_0, sigma_yx, tau)
    if lin.shape != W.shape:
        raise ValueError(f"product: expected shape {tuple(lin.shape)} (times, batch, N_o, N_i), got {tuple(W.shape)}")
    S = as_float_tensor(sigma_yx, "sigma_yx", dtype=F64).to(W.device)
    W0 = as_float_tensor(W0, "W0", dtype=F64).to(W.device)
    scale = torch.linalg.matrix_norm(S - W0)
    return _ntk._ratio(torch.linalg.matrix_norm(W - lin).amax(0), scale)


def lazy_limit_constant(W0, sigma_yx) -> torch.Tensor:
    r"""Return $c_\infty$ with $\lVert\mathrm{NTK}(\infty) - \mathrm{NTK}(0)\rVert_F/\lVert\mathrm{NTK}(0)\rVert_F =
    c_\infty/\lambda^2 + O(\lambda^{-4})$ for whitened inputs, where the large representation has full rank.

    From the corrected Theorem 4.1.3 (errata E13.3): the change is $\frac{1}{|\lambda|}\mathrm{NTK}(D_1, D_2)$ with
    $D_1 = \Sigma^\top\Sigma - W_0^\top W_0$, $D_2 = \Sigma\Sigma^\top - W_0W_0^\top$, and $\mathrm{NTK}(0) =
    |\lambda|\, I_{N_o}\otimes X^\top X + O(1/|\lambda|)$ for either sign; with $XX^\top = PI$ the ratio is

    $$c_\infty = \Big(\frac{N_o\lVert D_1\rVert_F^2 + 2\operatorname{tr}D_1\operatorname{tr}D_2 +
      N_i\lVert D_2\rVert_F^2}{N_oN_i}\Big)^{1/2},$$

    the same for $\lambda \to +\infty$ and $-\infty$. A result of this book. ``W0``, ``sigma_yx``:
    ``(..., N_o, N_i)``. Returns ``(...)``.
    """
    W0 = as_float_tensor(W0, "W0", dtype=F64)
    S = as_float_tensor(sigma_yx, "sigma_yx", dtype=F64).to(W0.device)
    if W0.ndim < 2 or S.shape[-2:] != W0.shape[-2:]:
        raise ValueError(f"W0, sigma_yx: expected (..., N_o, N_i) of one shape, got {tuple(W0.shape)}, {tuple(S.shape)}")
    n_out, n_in = W0.shape[-2:]
    D1 = S.mT @ S - W0.mT @ W0
    D2 = S @ S.mT - W0 @ W0.mT
    tr1, tr2 = D1.diagonal(dim1=-2, dim2=-1).sum(-1), D2.diagonal(dim1=-2, dim2=-1).sum(-1)
    sq = n_out * D1.pow(2).sum((-2, -1)) + 2 * tr1 * tr2 + n_in * D2.pow(2).sum((-2, -1))
    return (sq.clamp(min=0) / (n_out * n_in)).sqrt()


def draw_trials(in_dim: int, hidden_dim: int, out_dim: int, trials: int, sigma: float = 1.0, generator=None,
                n_samples: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Draw ``trials`` whitened tasks and initial network functions as the thesis's experiments do.

    Each trial: a task from :func:`linear_lens.tasks.random_regression_task` with $P$ = ``n_samples`` (default
    $2\max(N_i, N_o)$) samples, and the initial function $W_0 = G_2G_1$ of Algorithm 1 (Anguita, 2024), the product of
    Gaussian matrices $G_1 \in \mathbb{R}^{N_h \times N_i}$, $G_2 \in \mathbb{R}^{N_o \times N_h}$ with entries
    $\mathcal N(0, \sigma^2)$; Algorithm 1 keeps this product and rebalances it for any $\lambda$
    (:func:`balanced_weights`). In equal dimensions the sign of the first column of $G_1$ is chosen so that
    $\det W_0\det\Sigma^{yx} > 0$ (a reflection, which keeps the Gaussian law): otherwise the zero-balanced flow
    converges to a saddle and the exact solution does not apply at $\lambda = 0$ (errata E11.11).

    Returns ``sigma_yx`` ``(B, N_o, N_i)``, ``W0`` ``(B, N_o, N_i)``, ``X`` ``(B, N_i, P)`` and ``Y``
    ``(B, N_o, P)`` with $B$ = ``trials``.
    """
    from linear_lens import tasks
    from linear_lens._checks import as_generator
    from linear_lens.sampling import randn

    in_dim, hidden_dim, out_dim, trials = (check_positive_int(v, name) for v, name in
                                           ((in_dim, "in_dim"), (hidden_dim, "hidden_dim"), (out_dim, "out_dim"),
                                            (trials, "trials")))
    sigma = check_positive_real(sigma, "sigma")
    generator = as_generator(generator)
    n_samples = 2 * max(in_dim, out_dim) if n_samples is None else check_positive_int(n_samples, "n_samples")
    Ss, W0s, Xs, Ys = [], [], [], []
    for _ in range(trials):                                  # drawing only
        X, Y = tasks.random_regression_task(in_dim, out_dim, n_samples, generator=generator)
        S = Y @ X.T / n_samples
        G1 = sigma * randn((hidden_dim, in_dim), generator=generator)
        G2 = sigma * randn((out_dim, hidden_dim), generator=generator)
        if in_dim == out_dim and float(torch.det(G2 @ G1) * torch.det(S)) < 0:
            G1[:, 0] = -G1[:, 0]                             # W0 -> W0 diag(-1, 1, ...): det changes sign
        Ss.append(S)
        W0s.append(G2 @ G1)
        Xs.append(X)
        Ys.append(Y)
    return torch.stack(Ss), torch.stack(W0s), torch.stack(Xs), torch.stack(Ys)


@dataclass(frozen=True)
class LazinessSweep:
    r"""The result of :func:`laziness_sweep` for $L$ values of $\lambda$ and $B$ trials.

    ``lams``: ``(L,)``; ``times``: ``(T, L, B)`` the time grid of each run (up to ``horizon`` divided by the
    :func:`convergence_rate`); ``end``: :class:`Laziness` ``(L, B)`` from the exact solution at the last time;
    ``predicted``: :class:`Laziness` ``(L, B)`` at convergence from Theorem 4.1.2(1) and 4.1.3(1) corrected, without
    solving the dynamics (NaN where the widths leave the extra directions undetermined); ``ntk_path``: ``(T, L, B)``
    the relative NTK change along the way; ``gap``: ``(L, B)`` :func:`linearisation_gap`; ``residual``: ``(L, B)``
    $\lVert W(T) - \Sigma^{yx}\rVert_F / \lVert\Sigma^{yx}\rVert_F$ at the last time.
    """

    lams: torch.Tensor
    times: torch.Tensor
    end: Laziness
    predicted: Laziness
    ntk_path: torch.Tensor
    gap: torch.Tensor
    residual: torch.Tensor


def laziness_sweep(sigma_yx, W0, lams, hidden_dim: int, n_times: int = 61, horizon: float = 30.0,
                   chunk: int = 32, show_progress: bool = True) -> LazinessSweep:
    r"""Train one initial network function for every $\lambda$ of a sweep, exactly, and measure how lazily it learns.

    For each trial $b$ (task $\Sigma^{yx}_b$, initial function $W_{0,b}$) and each $\lambda$: factor $W_{0,b}$ into
    $\lambda$-balanced weights (:func:`balanced_weights`, Theorem 4.1.3's setting: "$S$ does not depend on
    $\lambda$"), evaluate the exact $QQ^\top(t)$ (:func:`linear_lens.riccati.qqt_sigma`) at $t = 0$ and ``n_times - 1``
    times spaced geometrically from $10^{-6}t_{\rm end}$ to $t_{\rm end} = $ ``horizon`` $/ r$, $r$ the
    :func:`convergence_rate` (a fast phase at rate $\sim|\lambda|$ may precede a slow one), and return the :class:`Laziness` at
    $t_{\rm end}$, the NTK change along the way, the :func:`linearisation_gap`, and the prediction at convergence from
    the corrected Theorems 4.1.2(1) and 4.1.3(1). The NTK is that of whitened inputs (the measures are the same for
    every whitened $X$). Batched over $\lambda$ and trials, in chunks of ``chunk`` values of $\lambda$ (progress bar).

    ``sigma_yx``, ``W0``: ``(B, N_o, N_i)``; ``lams``: ``(L,)``, each admissible for the widths; ``hidden_dim``:
    $N_h$. Returns a :class:`LazinessSweep`.
    """
    from linear_lens import riccati

    S = as_float_tensor(sigma_yx, "sigma_yx", dtype=F64)
    W0 = as_float_tensor(W0, "W0", dtype=F64).to(S.device)
    if S.ndim != 3 or W0.shape != S.shape:
        raise ValueError(f"sigma_yx, W0: expected two (B, N_o, N_i) tensors of one shape, got {tuple(S.shape)}, "
                         f"{tuple(W0.shape)}")
    lams = _lam(lams, S.device)
    if lams.ndim != 1 or lams.numel() == 0:
        raise ValueError(f"lams: expected a non-empty 1-D tensor, got shape {tuple(lams.shape)}")
    hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
    n_times = check_positive_int(n_times, "n_times")
    chunk = check_positive_int(chunk, "chunk")
    horizon = check_positive_real(horizon, "horizon")
    n_out, n_in = S.shape[-2:]
    _check_feasible(lams, n_in, hidden_dim, n_out)
    X = torch.eye(n_in, dtype=F64, device=S.device)          # whitened inputs with P = N_i
    s_task = torch.linalg.svdvals(S)                         # (B, k)
    undetermined = [hidden_dim not in (min(n_in, n_out), n_out) and bool((lams > 0).any()),
                    hidden_dim not in (min(n_in, n_out), n_in) and bool((lams < 0).any())]
    # 0, then geometric up to t_end: the flow has a fast phase (rate ~|lambda|) and may have a slow one (~s^2/|lambda|)
    u = torch.cat([torch.zeros(1, dtype=F64, device=S.device),
                   torch.logspace(-6, 0, max(n_times - 1, 1), dtype=F64, device=S.device)])
    parts = []
    starts = list(range(0, lams.numel(), chunk))
    for start in progress(starts, desc="exact flows over lambda", disable=not show_progress or len(starts) < 3):
        lam = lams[start:start + chunk][:, None]             # (l, 1)
        W1, W2 = balanced_weights(W0[None], lam, hidden_dim)   # (l, B, ...)
        rate = convergence_rate(s_task[None], lam, n_in, hidden_dim, n_out)
        times = u[:, None, None] * (horizon / rate)[None]    # (T, l, B)
        b = riccati.blocks(riccati.qqt_sigma(times, W1, W2, S[None]), n_in)
        end = laziness(b.input_rep[-1], b.output_rep[-1], b.input_rep[0], b.output_rep[0], X)
        path = _ntk.representation_kernel_change(b.input_rep, b.output_rep, b.input_rep[0], b.output_rep[0], X)
        gap = linearisation_gap(b.product, times, W0[None], b.input_rep[0], b.output_rep[0], S[None])
        residual = torch.linalg.matrix_norm(b.product[-1] - S[None]) / torch.linalg.matrix_norm(S)[None]
        lam_b = lam.expand(-1, S.shape[0])
        if any(undetermined):
            nan = torch.full_like(lam_b, float("nan"))
            predicted = Laziness(nan, nan, nan, nan)
        else:
            K1_inf, K2_inf = representations_from_product(S[None], lam_b, hidden_dim)
            K1_0, K2_0 = representations_from_product(W0[None], lam_b, hidden_dim)
            predicted = laziness(K1_inf, K2_inf, K1_0, K2_0, X)
        parts.append((times, end, predicted, path, gap, residual))
    cat = lambda i, dim=0: torch.cat([p[i] for p in parts], dim)  # noqa: E731
    catl = lambda i: Laziness(*(torch.cat([getattr(p[i], f) for p in parts]) for f in  # noqa: E731
                                ("ntk_change", "kernel_distance", "input_change", "output_change")))
    return LazinessSweep(lams, cat(0, 1), catl(1), catl(2), cat(3, 1), cat(4), cat(5))
