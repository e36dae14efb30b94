r"""Spectral radii and the global stability of deep networks (Drgoňa et al., 2020, Section 3.2).

A network $f: \mathbb{R}^n \to \mathbb{R}^n$ (weights $A_0, \dots, A_L$, optional biases, activation $\sigma$; see
:mod:`linear_lens.networks`) is read as the dynamical system $x_{k+1} = f(x_k)$. Objects:

- the spectral radius $\rho(A) = \max_i |\lambda_i(A)|$ of a square matrix (Definition 5, eq. 9);
- the *gain* of an activation, $K_\sigma = \sup_{z \ne 0} |\sigma(z)/z|$, the largest entry any activation scaling
  matrix $\Lambda_z$ of eq. (4) can have, so $\rho(\Lambda_z) = \|\Lambda_z\|_2 \le K_\sigma$;
- the *contraction bound* $\gamma = K_\sigma^L \prod_{l=0}^{L} \|A_l\|_2$, which bounds $\|A^*(x)\|_2$ for every $x$;
- Theorem 6's sufficient condition as the seed states it (:func:`seed_sufficient_condition`, which does not imply
  stability: errata E02.2) and the operator-norm condition that does (:func:`sufficient_condition`);
- the joint spectral radius $\hat\rho(\mathcal{M}) = \lim_{k\to\infty} \max_{M_i \in \mathcal{M}}
  \|M_{i_k} \cdots M_{i_1}\|^{1/k}$ of a finite set of matrices (Rota and Strang, 1960), bracketed by
  :func:`jsr_bounds`, and the brute-force counterexamples to eq. (10) (:func:`eq10_counterexamples`);
- weights with a prescribed spectrum (:func:`weights_with_spectrum`) and a random search for networks whose pieces
  $A^*(x)$ are all stable while the network is not (:func:`search_stable_pieces_unstable_map`).

Trajectories and fixed points of $x_{k+1} = f(x_k)$ are computed in :mod:`linear_lens.dynamics`, its attractors
in :mod:`linear_lens.attractors`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from linear_lens import activations, secants
from linear_lens._checks import (
    as_float_tensor,
    as_generator,
    check_positive_int,
    check_real,
    check_same_device,
    common_dtype,
)
from linear_lens.dynamics import iterate
from linear_lens.networks import network_batch
from linear_lens.sampling import randn
from linear_lens.spectral_fields import _rho2x2

__all__ = [
    "spectral_radius",
    "activation_gain",
    "contraction_bound",
    "sufficient_condition",
    "seed_sufficient_condition",
    "observed_decay",
    "jsr_bounds",
    "eq10_counterexamples",
    "weights_with_spectrum",
    "SearchResult",
    "search_stable_pieces_unstable_map",
]


def spectral_radius(A: torch.Tensor) -> torch.Tensor:
    r"""Return $\rho(A) = \max_i |\lambda_i(A)|$ (eq. 9 of Drgoňa et al., 2020), batched.

    ``A``: ``(..., n, n)``, real (a tensor, array or nested list; integers are computed in float64, float32 stays
    float32). Returns ``(...)``, real, in the dtype of ``A``. Raises ``ValueError`` for non-square, non-finite,
    complex, boolean or ``None`` input.

    For $n = 2$ (the phase portraits) the eigenvalues come in the closed form of
    :func:`linear_lens.spectral_fields.eigenvalues`, written so that nothing is squared: with
    $m = (a_{11} + a_{22})/2$, $p = |a_{11} - a_{22}|/2$ and $q = \sqrt{|a_{12}|}\sqrt{|a_{21}|}$, the
    eigenvalues are $m \pm \sqrt{p^2 + q^2}$ if $a_{12} a_{21} \ge 0$ (``hypot``), $m \pm \sqrt{(p - q)(p + q)}$
    if $a_{12} a_{21} < 0$ and $q \le p$, and $m \pm i\sqrt{(q - p)(q + p)}$ otherwise, so $\rho = |m| + r$ for a
    real pair and the modulus by ``hypot`` for a complex one. No intermediate overflows or underflows unless $\rho$
    itself does (entries up to about $10^{307}$ and down to the subnormals in float64), the result is accurate to a
    few ulps where the eigenvalues are well conditioned, and the branches meet continuously. It is checked against
    LAPACK and ``mpmath`` in the tests. For $n > 2$ the
    eigenvalues come from ``torch.linalg.eigvals`` (LAPACK scales the matrix first); off the CPU the matrices are
    moved to the CPU for it, because batched non-symmetric eigensolvers on GPUs are far slower than LAPACK for small
    matrices.
    """
    A = as_float_tensor(A, "A")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A: eigenvalues need square matrices (..., n, n), got shape {tuple(A.shape)}")
    if A.shape[-1] == 0:
        raise ValueError("A: eigenvalues need matrices of size n >= 1, got n = 0")
    if A.shape[-1] == 1:
        return A[..., 0, 0].abs()
    if A.shape[-1] == 2:
        return _rho2x2(A)
    if A.device.type != "cpu":
        return torch.linalg.eigvals(A.cpu()).abs().amax(dim=-1).to(A.device)
    return torch.linalg.eigvals(A).abs().amax(dim=-1)


def activation_gain(activation, *, z_max: float = 1e12, points: int = 8001) -> float:
    r"""Return $K_\sigma = \sup_{z \ne 0} |\sigma(z)/z|$, the largest possible entry of $\Lambda_z$ (eq. 4).

    ``activation``: a registered name, an ``Activation`` or an elementwise callable (:func:`activations.get`).
    Returns ``inf`` when $\sigma(0) \ne 0$ (then $|\sigma(z)/z| \to \infty$ as $z \to 0$). Otherwise the supremum
    is taken over $z = \pm 10^{t}$ on ``points`` log-spaced $t \in [-8, \log_{10} z_{\max}]$ together with
    $|\sigma'(0)|$ (the value Remark 11 gives $\Lambda$ at $z = 0$, ``Activation.slope0``). It is a numerical
    estimate from below; for a $K$-Lipschitz $\sigma$ the ratio moves by at most $2K$ per unit of $\ln|z|$, so the
    estimate is within $2K \cdot 2.3\,\Delta t$ of the supremum on the grid's range ($\Delta t \approx 0.0025$).
    The ratios are the stable secant slopes of :meth:`Activation.secant` (no cancellation at small $|z|$).
    ``z_max``: a finite number $> 1$; ``points``: an integer $\ge 2$.
    """
    act = activations.get(activation)
    z_max = check_real(z_max, "z_max")
    if not z_max > 1:
        raise ValueError(f"z_max: expected a finite number > 1, got {z_max}")
    points = check_positive_int(points, "points")
    if points < 2:
        raise ValueError(f"points: expected an integer >= 2, got {points}")
    if act.sigma0 != 0:
        return float("inf")
    t = torch.linspace(-8.0, math.log10(z_max), points, dtype=torch.float64)
    z = torch.cat([10**t, -(10**t)])
    with torch.no_grad():
        ratio = secants._secant(act, z, "paper").abs()
    if not bool(torch.isfinite(ratio).all()):
        raise ValueError(f"activation: {act.name} is not finite on [-{z_max:g}, {z_max:g}]")
    return max(float(ratio.max()), abs(act.slope0))


def contraction_bound(weights: Sequence[torch.Tensor], activation) -> torch.Tensor:
    r"""Return $\gamma = K_\sigma^{L} \prod_{l=0}^{L} \|A_l\|_2$, an upper bound of $\|A^*(x)\|_2$ for every $x$.

    From eq. (5), $A^*(x) = A_L \Lambda_{z_L} \cdots \Lambda_{z_1} A_0$ with diagonal $\Lambda$ whose entries are
    bounded by $K_\sigma$ (:func:`activation_gain`), and the spectral norm is submultiplicative.
    ``weights``: $[A_0, \dots, A_L]$, square ``(..., n, n)`` with common leading (batch) dimensions, which the
    result keeps: ``(...)``. ``activation``: as in :func:`activation_gain`. Raises ``ValueError`` for weights that
    are not square $n \times n$ or do not share $n$.
    """
    weights = _check_square_weights(weights)
    gain = activation_gain(activation)
    norms = torch.stack([torch.linalg.matrix_norm(A, ord=2) for A in torch.broadcast_tensors(*weights)])
    L = len(weights) - 1
    if gain == float("inf"):
        return torch.full(norms.shape[1:], float("inf"), dtype=norms.dtype, device=norms.device)
    return gain**L * norms.prod(dim=0)


def sufficient_condition(weights: Sequence[torch.Tensor], activation, *, margin: float = 1e-9):
    r"""Return whether $\gamma = K_\sigma^L \prod_l \|A_l\|_2 < 1$: a sufficient condition for global stability.

    Corrected replacement of Theorem 6's sufficient condition (corrected: see errata E02.2 and chapter 2): if
    $\sigma(0) = 0$ and $\gamma < 1$, the network without bias satisfies $\|f(x)\|_2 \le \gamma \|x\|_2$ for all
    $x$, so $x_{k+1} = f(x_k)$ converges to $\bar x = 0$ from every $x_0$, with $\|x_k\| \le \gamma^k \|x_0\|$.
    ($\gamma$ is :func:`contraction_bound`; $\sigma(0) \ne 0$ gives $\gamma = \infty$, i.e. ``False``.)
    The condition asks for ``gamma <= 1 - margin``, to absorb the grid estimate of $K_\sigma$.

    ``weights``: $[A_0, \dots, A_L]$, each square $n \times n$ (Theorem 6 is about such networks; a rectangular
    weight raises ``ValueError``), optionally with common batch dimensions ``(..., n, n)``.
    Returns a ``bool`` for one network, a boolean tensor ``(...)`` for a batch of networks.
    """
    margin = check_real(margin, "margin")
    if not 0 <= margin < 1:
        raise ValueError(f"margin: expected a number in [0, 1), got {margin}")
    ok = contraction_bound(weights, activation) <= 1 - margin
    return bool(ok) if ok.ndim == 0 else ok


def observed_decay(
    weights: Sequence[torch.Tensor],
    activation,
    starts,
    steps: int,
    gamma=None,
    *,
    chunk: int = 250,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Iterate networks without bias from every start and measure their decay against the bound $\gamma^k$.

    For each network returns ``(worst, rate)``: ``worst`` $= \max_{1 \le k \le K,\ x_0}
    \lVert x_k\rVert_2 / (\gamma^k \lVert x_0\rVert_2)$, which the corrected sufficient condition
    (:func:`sufficient_condition`) says is at most 1 when $\gamma < 1$, and ``rate`` $= \max_{x_0}
    (\lVert x_K\rVert_2 / \lVert x_0\rVert_2)^{1/K}$, the observed growth per step (0 for a start at the origin
    or an orbit that reaches it). The orbits are those of :func:`linear_lens.dynamics.iterate` (never frozen before
    they overflow), ``chunk`` networks at a time, keeping only the norms.

    ``weights``: $[A_0, \dots, A_L]$, each ``(N, n, n)`` (or ``(n, n)``, shared), a batch of $N$ networks;
    ``activation``: as in :func:`activation_gain`; ``starts``: ``(S, n)``; ``steps``: $K \ge 1$; ``gamma``:
    ``(N,)``, default :func:`contraction_bound`. Returns two tensors ``(N,)``.
    """
    from linear_lens.dynamics import growth_rate

    weights = _check_square_weights(weights)
    weights = list(torch.broadcast_tensors(*weights))
    if weights[0].ndim != 3:
        raise ValueError(f"weights: expected a batch of networks, each A_l of shape (N, n, n), got "
                         f"{tuple(weights[0].shape)}")
    gamma = contraction_bound(weights, activation) if gamma is None else as_float_tensor(gamma, "gamma")
    steps, chunk = check_positive_int(steps, "steps"), check_positive_int(chunk, "chunk")
    starts = as_float_tensor(starts, "starts", dtype=weights[0].dtype)
    k = torch.arange(steps + 1, dtype=starts.dtype, device=starts.device)[:, None, None]
    worst, rates = [], []
    for c in torch.split(torch.arange(weights[0].shape[0]), chunk):
        net = network_batch([W[c] for W in weights], None, activation)
        norms = iterate(net, starts, steps, escape=math.inf, norms=True).norms  # (K + 1, chunk, S)
        bound = (gamma[c][None, :, None] ** k * starts.norm(dim=-1)).clamp_min(1e-300)
        worst.append((norms / bound)[1:].amax((0, 2)))
        rates.append(growth_rate(norms).nan_to_num(nan=0.0).amax(-1))
    return torch.cat(worst), torch.cat(rates)


def seed_sufficient_condition(weights: Sequence[torch.Tensor], activation, *, tol: float = 1e-12):
    r"""Return whether Theorem 6's sufficient condition *as stated in the seed* holds. It does not imply stability.

    The seed's condition: $\rho(A_i) \le 1$ for every weight and $\rho(\Lambda_{z_j}) \le 1$ for every activation
    scaling matrix at every $x$; the latter holds exactly when $K_\sigma \le 1$ (:func:`activation_gain`), since
    $\rho(\Lambda_z) = \max_i |\sigma(z_i)/z_i|$. Theorem 6 of Drgoňa et al. (2020); its proof rests on eq. (10),
    which is false (errata E02.1), and the condition does not imply stability (errata E02.2). ``tol`` is added to both bounds. ``weights`` as in :func:`sufficient_condition`.
    Returns a ``bool`` for one network, a boolean tensor for a batch.
    """
    weights = _check_square_weights(weights)
    tol = check_real(tol, "tol")
    if not 0 <= tol < 1:
        raise ValueError(f"tol: expected a number in [0, 1), got {tol}")
    gain = activation_gain(activation)
    rhos = torch.stack([spectral_radius(A) for A in torch.broadcast_tensors(*weights)])
    ok = (rhos <= 1 + tol).all(dim=0) & torch.tensor(gain <= 1 + tol, device=rhos.device)
    return bool(ok) if ok.ndim == 0 else ok


def jsr_bounds(matrices: torch.Tensor, max_length: int = 8) -> tuple[float, float]:
    r"""Bracket the joint spectral radius $\hat\rho(\mathcal{M})$ of a finite set of square matrices by brute force.

    For every product length $k \le$ ``max_length`` all $m^k$ products $P = M_{i_k} \cdots M_{i_1}$ are formed
    (batched), and (Rota and Strang, 1960; Jungers, 2009, Prop. 1.5)

    $$\max_{k} \max_{P} \rho(P)^{1/k} \;\le\; \hat\rho(\mathcal{M}) \;\le\; \min_{k} \max_{P} \|P\|_2^{1/k}.$$

    ``matrices``: ``(m, n, n)``. Returns ``(lower, upper)``. Cost grows as $m^{k}$: ``m ** max_length`` must not
    exceed $2^{20}$ (``ValueError`` otherwise).
    """
    M = as_float_tensor(matrices, "matrices")
    if M.ndim != 3 or M.shape[-1] != M.shape[-2] or M.shape[0] < 1:
        raise ValueError(f"matrices: expected a stack (m, n, n) of square matrices, got shape {tuple(M.shape)}")
    max_length = check_positive_int(max_length, "max_length")
    if M.shape[0] ** max_length > 2**20:
        raise ValueError(f"max_length: {M.shape[0]} ** {max_length} products is more than 2**20; use a shorter one")
    lower, upper = 0.0, float("inf")
    products = M
    for k in range(1, max_length + 1):
        if k > 1:
            products = (M[:, None] @ products[None]).reshape(-1, *M.shape[1:])
        lower = max(lower, float(spectral_radius(products).max()) ** (1 / k))
        upper = min(upper, float(torch.linalg.matrix_norm(products, ord=2).max()) ** (1 / k))
    return lower, upper


def eq10_counterexamples(n: int = 2, entries: Sequence[float] = (-1.0, 0.0, 1.0)) -> torch.Tensor:
    r"""Return every pair $(A, B)$ of $n \times n$ matrices with entries in ``entries`` violating eq. (10).

    Eq. (10) of Drgoňa et al. (2020) claims $\rho(AB) \le \rho(A)\rho(B)$. Brute force over all
    ``len(entries) ** (2 n^2)`` pairs (at most $2^{22}$; ``ValueError`` otherwise), batched; a pair violates it
    when $\rho(AB) > \rho(A)\rho(B) + 10^{-9}$. Returns ``(k, 2, n, n)``, sorted by the number of nonzero entries
    (fewest first), then by the gap $\rho(AB) - \rho(A)\rho(B)$ (largest first), then by the number of negative
    entries.
    """
    n = check_positive_int(n, "n")
    if entries is None or isinstance(entries, (str, bytes)) or not hasattr(entries, "__iter__"):
        raise ValueError(f"entries: expected a non-empty list of numbers, got {entries!r}")
    values = as_float_tensor(list(entries), "entries")
    if values.ndim != 1 or values.numel() < 1:
        raise ValueError("entries: expected a non-empty list of numbers")
    count = values.numel() ** (n * n)
    if count * count > 2**22:
        raise ValueError(f"n, entries: {count}**2 pairs is more than 2**22; use a smaller n or fewer entries")
    mats = torch.cartesian_prod(*[values] * (n * n)).reshape(count, n, n) if n * n > 1 else values.reshape(-1, 1, 1)
    rho = spectral_radius(mats)
    rho_ab = spectral_radius(mats[:, None] @ mats[None])
    gap = rho_ab - rho[:, None] * rho[None]
    i, j = torch.nonzero(gap > 1e-9, as_tuple=True)
    pairs = torch.stack([mats[i], mats[j]], dim=1)
    nonzeros = (pairs != 0).sum(dim=(1, 2, 3))
    negatives = (pairs < 0).sum(dim=(1, 2, 3))
    # gaps equal in exact arithmetic must tie whatever their last bits (stable sort: then enumeration order)
    order = sorted(range(len(i)), key=lambda k: (int(nonzeros[k]), -round(float(gap[i[k], j[k]]), 9),
                                                  int(negatives[k])))
    return pairs[order]


def weights_with_spectrum(
    eigenvalues: torch.Tensor, *, normal: bool = False, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Return a real matrix $A = V \operatorname{diag}(\lambda) V^{-1}$ with the given real eigenvalues, batched.

    ``eigenvalues``: ``(..., n)``, real. ``normal``: if true, $V$ is a Haar-random orthogonal matrix, so $A$ is
    symmetric and $\|A\|_2 = \rho(A)$; otherwise $V$ has i.i.d. $\mathcal{N}(0, 1)$ entries and $A$ is in general
    non-normal, $\|A\|_2 > \rho(A)$. Returns ``(..., n, n)`` on the device and dtype of ``eigenvalues``.
    ``generator``: ``None``, a ``torch.Generator`` or an ``int`` seed; the draws are made on the CPU in float64,
    so a seed gives the same matrices on every device. Raises ``ValueError`` for complex, non-finite or scalar
    ``eigenvalues`` and a non-boolean ``normal``.
    """
    from linear_lens.sampling import haar_orthogonal, randn

    lam = as_float_tensor(eigenvalues, "eigenvalues")
    if lam.ndim < 1 or lam.shape[-1] < 1:
        raise ValueError(f"eigenvalues: expected a real tensor (..., n) with n >= 1, got shape {tuple(lam.shape)}")
    if not isinstance(normal, bool):
        raise ValueError(f"normal: expected True or False, got {normal!r}")
    generator = as_generator(generator)
    n = lam.shape[-1]
    if normal:
        V = haar_orthogonal(n, tuple(lam.shape[:-1]), generator).to(lam.device, lam.dtype)
        return V @ (lam.unsqueeze(-1) * V.mT)
    V = randn((*lam.shape, n), generator).to(lam.device, lam.dtype)
    return torch.linalg.solve(V.mT, (V * lam.unsqueeze(-2)).mT).mT


@dataclass(frozen=True)
class SearchResult:
    r"""Result of :func:`search_stable_pieces_unstable_map`.

    ``B``: ``(n, n)``, the best candidate (``None`` if no candidate passed the spectral test); ``rho_max``: its
    largest $\rho(A^*(x))$ over the sampled points; ``not_converged``: how many of its sampled starts are still
    farther than ``tol`` from 0 after ``steps`` steps; ``passed``: how many candidates had $\rho(A^*) < 1$ at every
    sampled point; ``found``: how many of those had a start that did not converge; ``candidates``: how many were drawn.
    """

    B: torch.Tensor | None
    rho_max: float
    not_converged: int
    passed: int
    found: int
    candidates: int


def search_stable_pieces_unstable_map(
    activation,
    points: torch.Tensor,
    starts: torch.Tensor,
    *,
    candidates: int = 10_000,
    scale: float = 1.5,
    steps: int = 500,
    tol: float = 1e-9,
    margin: float = 1e-3,
    generator: torch.Generator | None = None,
) -> SearchResult:
    r"""Random search for a network $f(x) = B\,\sigma(x)$ with $\rho(A^*(x)) < 1$ at every sampled $x$ that is not stable.

    Candidates $B$ have i.i.d. $\mathcal{N}(0, \text{scale}^2)$ entries; the network has weights $A_0 = I$,
    $A_1 = B$ and no bias, so $A^*(x) = B\,\Lambda_x$ (eq. 5). A candidate *passes* when
    $\max_x \rho(B \Lambda_x) \le 1 - \text{margin}$ over ``points`` (computed once per distinct diagonal
    $\Lambda_x$); among those that pass, the one with the most ``starts`` still farther than ``tol`` from the
    origin after ``steps`` iterations of $x_{k+1} = f(x_k)$ is returned (ties: the first drawn).
    Tests the necessary condition of Theorem 6 of Drgoňa et al. (2020) against the dynamics it is meant to describe.

    ``points``: ``(..., n)`` where $\rho(A^*)$ is sampled; ``starts``: ``(..., n)`` initial points.
    Returns a :class:`SearchResult`.
    """
    act = activations.get(activation)
    points = as_float_tensor(points, "points")
    starts = as_float_tensor(starts, "starts")
    if points.ndim < 1 or starts.ndim < 1 or points.shape[-1] != starts.shape[-1]:
        raise ValueError(f"points, starts: need the same last dimension n, got {tuple(points.shape)}, {tuple(starts.shape)}")
    n = points.shape[-1]
    candidates = check_positive_int(candidates, "candidates")
    steps = check_positive_int(steps, "steps")
    scale, tol, margin = check_real(scale, "scale"), check_real(tol, "tol"), check_real(margin, "margin")
    from linear_lens.affine import activation_scaling

    lam = torch.unique(activation_scaling(act, points.reshape(-1, n))[0], dim=0)
    B = randn((candidates, n, n), as_generator(generator)).to(points.device) * scale
    rho = torch.zeros(candidates, dtype=torch.float64, device=points.device)
    for chunk in torch.split(lam, 256):
        rho = torch.maximum(rho, spectral_radius(B[:, None] * chunk[None, :, None, :]).amax(-1))
    passed = rho <= 1 - margin
    Bp, rho_p = B[passed], rho[passed]
    if Bp.shape[0] == 0:
        return SearchResult(None, float("nan"), 0, 0, 0, candidates)
    eye = torch.eye(n, dtype=torch.float64, device=points.device)
    net = network_batch([eye, Bp], None, act)
    x = iterate(net, starts.reshape(-1, n).to(torch.float64), steps, escape=math.inf).x
    away = (x.norm(dim=-1) > tol).sum(dim=-1)
    best = int(torch.argmax(away))
    return SearchResult(Bp[best].clone(), float(rho_p[best]), int(away[best]), int(passed.sum()),
                        int((away > 0).sum()), candidates)


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _check_square_weights(weights) -> list[torch.Tensor]:
    if weights is None or isinstance(weights, (str, bytes)):
        raise ValueError(f"weights: expected a list of square matrices [A_0, ..., A_L], got {weights!r}")
    if isinstance(weights, torch.Tensor) and weights.ndim < 3:
        raise ValueError(f"weights: expected a list of square matrices [A_0, ..., A_L], got a tensor of shape "
                         f"{tuple(weights.shape)} (wrap a single matrix in a list)")
    try:
        weights = list(weights)
    except TypeError as err:
        raise ValueError(f"weights: expected a list of square matrices, got {type(weights).__name__}") from err
    if len(weights) == 0:
        raise ValueError("weights: need at least one weight matrix A_0")
    out = []
    for l, A in enumerate(weights):
        A = as_float_tensor(A, f"weights[{l}]")
        if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
            raise ValueError(
                f"weights: A_{l} must be square n x n for its spectral radius to exist (Theorem 6 assumes square "
                f"weights), got shape {tuple(A.shape)}"
            )
        if out and A.shape[-1] != out[0].shape[-1]:
            raise ValueError(f"weights: all A_l must have the same size n, A_{l} has {A.shape[-1]}")
        out.append(A)
    try:
        torch.broadcast_shapes(*[A.shape[:-2] for A in out])
    except RuntimeError as err:
        raise ValueError("weights: the batch dimensions of the weights do not broadcast") from err
    check_same_device(out, "weights")
    dtype = common_dtype(*out)  # mixed float32/float64: computed in float64
    return [A.to(dtype) for A in out]
