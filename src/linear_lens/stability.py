r"""Spectral radii and the global stability of deep networks (Drgona et al., 2020, Section 3.2).

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
  :func:`jsr_bounds`;
- trajectories of $x_{k+1} = f(x_k)$ (:func:`iterate`, batched over initial points *and* over networks) and fixed
  points $\bar x = f(\bar x)$ (:func:`fixed_point`, Newton's method with an autograd Jacobian, reporting whether it
  converged).
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
from linear_lens.networks import check_network, forward_unchecked
from linear_lens.sampling import randn

__all__ = [
    "spectral_radius",
    "activation_gain",
    "contraction_bound",
    "sufficient_condition",
    "seed_sufficient_condition",
    "jsr_bounds",
    "eq10_counterexamples",
    "weights_with_spectrum",
    "iterate",
    "orbit_period",
    "growth_rate",
    "FixedPoint",
    "fixed_point",
    "SearchResult",
    "search_stable_pieces_unstable_map",
]


def spectral_radius(A: torch.Tensor) -> torch.Tensor:
    r"""Return $\rho(A) = \max_i |\lambda_i(A)|$ (eq. 9 of Drgona et al., 2020), batched.

    ``A``: ``(..., n, n)``, real (a tensor, array or nested list; integers are computed in float64, float32 stays
    float32). Returns ``(...)``, real, in the dtype of ``A``. Raises ``ValueError`` for non-square, non-finite,
    complex, boolean or ``None`` input.

    For $n = 2$ (the phase portraits) the eigenvalues come in closed form, written so that nothing is squared:
    with $m = (a_{11} + a_{22})/2$, $p = (a_{11} - a_{22})/2$ and $q = \sqrt{|a_{12}|}\sqrt{|a_{21}|}$, the
    eigenvalues are $m \pm \sqrt{p^2 + q^2}$ if $a_{12} a_{21} \ge 0$ (``hypot``), $m \pm \sqrt{(|p| - q)(|p| + q)}$
    if $a_{12} a_{21} < 0$ and $q \le |p|$, and $m \pm i\sqrt{(q - |p|)(q + |p|)}$ otherwise (modulus by ``hypot``).
    No intermediate overflows or underflows unless $\rho$ itself does (entries up to about $10^{307}$ and down to the
    subnormals in float64), the result is accurate to a few ulps where the eigenvalues are well conditioned, and
    the branches meet continuously. It is checked against LAPACK and ``mpmath`` in the tests. For $n > 2$ the
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
        return _spectral_radius_2x2(A)
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


def seed_sufficient_condition(weights: Sequence[torch.Tensor], activation, *, tol: float = 1e-12):
    r"""Return whether Theorem 6's sufficient condition *as stated in the seed* holds. It does not imply stability.

    The seed's condition: $\rho(A_i) \le 1$ for every weight and $\rho(\Lambda_{z_j}) \le 1$ for every activation
    scaling matrix at every $x$; the latter holds exactly when $K_\sigma \le 1$ (:func:`activation_gain`), since
    $\rho(\Lambda_z) = \max_i |\sigma(z_i)/z_i|$. Theorem 6 of Drgona et al. (2020); its proof rests on eq. (10),
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

    Eq. (10) of Drgona et al. (2020) claims $\rho(AB) \le \rho(A)\rho(B)$. Brute force over all
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


def iterate(
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor] | None,
    activation,
    x0: torch.Tensor,
    steps: int,
    *,
    record="all",
) -> torch.Tensor:
    r"""Return the trajectory $x_0, x_1 = f(x_0), \dots, x_K = f(x_{K-1})$ of the network as a dynamical system.

    $f$ is eq. (3) (eq. 6 with biases) of Drgona et al. (2020). ``weights``: $[A_0, \dots, A_L]$ with ``A_l`` of
    shape ``(..., n_{l+1}, n_l)`` and $n_{L+1} = n_0$; leading dimensions are a batch of networks, broadcast
    against those of ``x0``. ``biases``: ``(..., n_{l+1})`` each, or ``None``. ``x0``: ``(..., n_0)``.
    ``steps``: $K \ge 1$. Entries that overflow become ``inf``; they are kept (a diverging trajectory is a
    result), not raised.

    ``record`` says what is kept, so that long runs over many networks need not store every state:

    - ``"all"`` (default): every state, ``(K + 1, *batch, n_0)``;
    - ``"norms"``: the Euclidean norms $\lVert x_0\rVert_2, \dots, \lVert x_K\rVert_2$, ``(K + 1, *batch)``
      (enough for :func:`growth_rate` with ``norms=True`` and for bounds on $\lVert x_k\rVert$);
    - an integer $m \ge 0$: the last $m + 1$ states $x_{K-m}, \dots, x_K$, ``(m + 1, *batch, n_0)``
      (enough for :func:`orbit_period` with ``max_period <= m``); $m \le K$.

    The states are computed the same way in every mode, so the kept values are identical.
    """
    weights, biases = _check_map(weights, biases)
    act = activations.get(activation)
    x = as_float_tensor(x0, "x0")
    if x.ndim == 0 or x.shape[-1] != weights[0].shape[-1]:
        raise ValueError(f"x0: last dimension must be n_0 = {weights[0].shape[-1]}, got shape {tuple(x.shape)}")
    steps = check_positive_int(steps, "steps")
    tail = _check_record(record, steps)
    check_same_device([x, *weights, *(biases or [])], "x0, weights, biases")
    dtype = common_dtype(x, *weights, *(biases or []))  # mixed float32/float64: computed in float64
    x = x.to(dtype)
    weights = [A.to(dtype) for A in weights]
    biases = None if biases is None else [b.to(dtype=dtype, device=x.device) for b in biases]
    batch = torch.broadcast_shapes(x.shape[:-1], *[A.shape[:-2] for A in weights],
                                   *([] if biases is None else [b.shape[:-1] for b in biases]))
    x = x.expand(*batch, x.shape[-1])
    keep = steps + 1 if record == "all" else None if record == "norms" else tail + 1
    if keep is None:
        out = torch.empty(steps + 1, *batch, dtype=dtype, device=x.device)
        out[0] = x.norm(dim=-1)
    else:
        out = torch.empty(keep, *batch, x.shape[-1], dtype=dtype, device=x.device)
        if steps + 1 <= keep:
            out[0] = x
    with torch.no_grad():
        for k in range(1, steps + 1):
            x = _forward_batched(weights, biases, act, x).expand(*batch, x.shape[-1])
            if keep is None:
                out[k] = x.norm(dim=-1)
            elif k >= steps + 1 - keep:
                out[k - (steps + 1 - keep)] = x
    return out


def growth_rate(trajectory: torch.Tensor, *, norms: bool = False) -> torch.Tensor:
    r"""Return the mean growth factor per step $(\lVert x_K\rVert_2 / \lVert x_0\rVert_2)^{1/K}$ of each trajectory.

    ``trajectory``: ``(K + 1, ..., n)`` as returned by :func:`iterate`, $K \ge 1$; with ``norms=True``, the norms
    ``(K + 1, ...)`` that ``iterate(..., record="norms")`` returns. Returns ``(...)``; $0$ where the
    trajectory reaches the origin, ``nan`` where it starts there, ``inf`` where it overflowed. For a linear map
    $x \mapsto Ax$ and large $K$ this tends to $\rho(A)$ from almost every start (Gelfand's formula).
    """
    traj = as_float_tensor(trajectory, "trajectory") if not isinstance(trajectory, torch.Tensor) else trajectory
    if traj.ndim < (1 if norms else 2) or traj.shape[0] < 2:
        want = "(K + 1, ...)" if norms else "(K + 1, ..., n)"
        raise ValueError(f"trajectory: expected {want} with K >= 1, got shape {tuple(traj.shape)}")
    start, end = (traj[0], traj[-1]) if norms else (traj[0].norm(dim=-1), traj[-1].norm(dim=-1))
    rate = (end / start) ** (1 / (traj.shape[0] - 1))
    return torch.where(start > 0, rate, torch.full_like(rate, float("nan")))


def orbit_period(trajectory: torch.Tensor, max_period: int = 8, tol: float = 1e-9) -> torch.Tensor:
    r"""Return the smallest $p \le$ ``max_period`` with $x_K = x_{K-p}$ at the end of each trajectory, or 0 if none.

    ``trajectory``: ``(K + 1, ..., n)`` as returned by :func:`iterate`, with $K \ge$ ``max_period``. Equality is
    $\lVert x_K - x_{K-p}\rVert_\infty \le \text{tol}\,(1 + \lVert x_K\rVert_\infty)$. Period 1 is a fixed point
    (the origin included), $p > 1$ a periodic orbit of $f$; 0 means the trajectory has not (yet) settled on an orbit
    of period up to ``max_period`` (it may still converge slowly, diverge, or be aperiodic). Returns ``(...)``, long.
    """
    traj = as_float_tensor(trajectory, "trajectory") if not isinstance(trajectory, torch.Tensor) else trajectory
    max_period = check_positive_int(max_period, "max_period")
    tol = check_real(tol, "tol")
    if traj.ndim < 2 or traj.shape[0] <= max_period:
        raise ValueError(
            f"trajectory: expected (K + 1, ..., n) with K >= max_period = {max_period}, got shape {tuple(traj.shape)}"
        )
    last = traj[-1]
    scale = 1 + last.abs().amax(-1)
    period = torch.zeros(last.shape[:-1], dtype=torch.long, device=last.device)
    for p in range(max_period, 0, -1):
        close = (last - traj[-1 - p]).abs().amax(-1) <= tol * scale
        period = torch.where(close & torch.isfinite(scale), torch.full_like(period, p), period)
    return period


@dataclass(frozen=True)
class FixedPoint:
    r"""Result of :func:`fixed_point`: the last iterate and an honest account of how good it is.

    ``x``: ``(..., n)``, the last iterate; ``residual``: ``(...)``, $\|f(x) - x\|_\infty$ at that ``x``;
    ``converged``: ``(...)`` boolean, ``residual <= tol``; ``iterations``: ``(...)``, Newton steps taken for each
    start (``max_iter`` where it did not converge).
    """

    x: torch.Tensor
    residual: torch.Tensor
    converged: torch.Tensor
    iterations: torch.Tensor


def fixed_point(
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor] | None,
    activation,
    x0: torch.Tensor,
    *,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> FixedPoint:
    r"""Find $\bar x$ with $f(\bar x) = \bar x$ by damped Newton iteration from each start in ``x0``, batched.

    Solves $F(x) = f(x) - x = 0$ with steps $x \leftarrow x - t\,(J_f(x) - I)^{-1} F(x)$, $J_f$ the Jacobian by
    reverse-mode autodiff (:func:`linear_lens.affine.jacobian`) and $t \in \{1, \frac12, \dots, 2^{-20}\}$ the
    first that lowers $\|F\|_\infty$; where $J_f - I$ is singular or no step lowers it, a plain step
    $x \leftarrow f(x)$ is taken instead. Starts stop once $\|F\|_\infty \le$ ``tol``. Nothing is hidden: the
    result says for each start whether it converged (:class:`FixedPoint`); a start that did not is returned as is.

    ``weights``, ``biases``, ``activation``: a network $\mathbb{R}^n \to \mathbb{R}^n$ as in
    :func:`linear_lens.networks.forward` (2-D weights). ``x0``: ``(..., n)``. ``tol`` > 0, ``max_iter`` >= 1.
    """
    weights, biases, x = check_network(weights, biases, x0, x_name="x0")
    if weights[-1].shape[0] != weights[0].shape[1]:
        raise ValueError(
            f"weights: a fixed point needs f: R^n -> R^n, got n_0 = {weights[0].shape[1]}, "
            f"n_(L+1) = {weights[-1].shape[0]}"
        )
    tol = check_real(tol, "tol")
    if tol <= 0:
        raise ValueError(f"tol: expected a positive number, got {tol}")
    max_iter = check_positive_int(max_iter, "max_iter")
    act = activations.get(activation)
    n = x.shape[-1]
    batch = x.shape[:-1]
    x = x.reshape(-1, n).clone()
    eye = torch.eye(n, dtype=x.dtype, device=x.device)

    def f(v):
        return forward_unchecked(weights, biases, act, v)

    jac = torch.func.vmap(torch.func.jacrev(f))
    F = f(x) - x
    res = F.abs().amax(-1)
    iterations = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
    for _ in range(max_iter):
        active = res > tol
        if not bool(active.any()):
            break
        iterations += active.long()
        xa, Fa, ra = x[active], F[active], res[active]
        J = jac(xa) - eye
        step, info = torch.linalg.solve_ex(J, Fa)
        solvable = (info == 0) & torch.isfinite(step).all(-1)
        new_x = f(xa)
        new_F = f(new_x) - new_x  # fallback: a plain fixed-point step
        new_res = new_F.abs().amax(-1)
        pending = solvable.clone()
        t = 1.0
        for _ in range(21):
            if not bool(pending.any()):
                break
            trial = xa - t * torch.where(pending.unsqueeze(-1), step, torch.zeros_like(step))
            trial_F = f(trial) - trial
            trial_res = trial_F.abs().amax(-1)
            better = pending & (trial_res < ra)
            new_x = torch.where(better.unsqueeze(-1), trial, new_x)
            new_F = torch.where(better.unsqueeze(-1), trial_F, new_F)
            new_res = torch.where(better, trial_res, new_res)
            pending = pending & ~better
            t /= 2
        x[active], F[active], res[active] = new_x, new_F, new_res
    converged = res <= tol
    return FixedPoint(
        x=x.reshape(*batch, n),
        residual=res.reshape(batch),
        converged=converged.reshape(batch),
        iterations=iterations.reshape(batch),
    )


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
    Tests the necessary condition of Theorem 6 of Drgona et al. (2020) against the dynamics it is meant to describe.

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
    x = starts.reshape(-1, n).to(torch.float64)
    with torch.no_grad():
        x = x.expand(Bp.shape[0], *x.shape)
        for _ in range(steps):
            x = _forward_batched([eye, Bp[:, None]], None, act, x)
    away = (x.norm(dim=-1) > tol).sum(dim=-1)
    best = int(torch.argmax(away))
    return SearchResult(Bp[best].clone(), float(rho_p[best]), int(away[best]), int(passed.sum()),
                        int((away > 0).sum()), candidates)


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _check_record(record, steps: int) -> int:
    """Validate ``record`` of :func:`iterate`; return the tail length (``steps`` for ``"all"``, 0 for ``"norms"``)."""
    if isinstance(record, str):
        if record not in ("all", "norms"):
            raise ValueError(f"record: expected 'all', 'norms' or an integer m >= 0, got {record!r}")
        return steps if record == "all" else 0
    if isinstance(record, bool) or not isinstance(record, int) or record < 0:
        raise ValueError(f"record: expected 'all', 'norms' or an integer m >= 0, got {record!r}")
    if record > steps:
        raise ValueError(f"record: the tail m = {record} cannot exceed steps = {steps}")
    return record


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


def _spectral_radius_2x2(A: torch.Tensor) -> torch.Tensor:
    """rho of real 2 x 2 matrices without squaring an entry; see :func:`spectral_radius`."""
    a, b, c, d = A[..., 0, 0], A[..., 0, 1], A[..., 1, 0], A[..., 1, 1]
    m = 0.5 * a + 0.5 * d  # halves first: a + d may overflow
    p = (0.5 * a - 0.5 * d).abs()
    q = b.abs().sqrt() * c.abs().sqrt()  # sqrt|bc| without forming bc
    same_sign = (b >= 0) == (c >= 0)  # bc >= 0, zeros included
    real_pair = same_sign | (q <= p)
    r_same = torch.hypot(p, q)
    r_diff = (p - q).clamp(min=0).sqrt() * (p + q).sqrt()  # real pair, bc < 0, q <= |p|
    w = (q - p).clamp(min=0).sqrt() * (q + p).sqrt()  # imaginary part of a complex pair
    real = m.abs() + torch.where(same_sign, r_same, r_diff)
    return torch.where(real_pair, real, torch.hypot(m, w))


def _check_map(weights, biases):
    if weights is None or len(weights) == 0:
        raise ValueError("weights: need at least one weight matrix A_0")
    weights = [as_float_tensor(A, f"weights[{l}]") for l, A in enumerate(weights)]
    for l, A in enumerate(weights):
        if A.ndim < 2:
            raise ValueError(f"weights: A_{l} must be a matrix (..., n_{l + 1}, n_{l}), got shape {tuple(A.shape)}")
        if l > 0 and A.shape[-1] != weights[l - 1].shape[-2]:
            raise ValueError(f"weights: A_{l} has {A.shape[-1]} columns but A_{l - 1} has {weights[l - 1].shape[-2]} rows")
    if weights[-1].shape[-2] != weights[0].shape[-1]:
        raise ValueError(
            f"weights: iterating f needs n_(L+1) = n_0, got {weights[-1].shape[-2]} and {weights[0].shape[-1]}"
        )
    if biases is not None:
        if len(biases) != len(weights):
            raise ValueError(f"biases: expected {len(weights)} bias vectors (one per weight) or None, got {len(biases)}")
        biases = [as_float_tensor(b, f"biases[{l}]") for l, b in enumerate(biases)]
        for l, (A, b) in enumerate(zip(weights, biases)):
            if b.ndim < 1 or b.shape[-1] != A.shape[-2]:
                raise ValueError(f"biases: b_{l} must have last dimension {A.shape[-2]}, got shape {tuple(b.shape)}")
    return weights, biases


def _forward_batched(weights, biases, act, x):
    h = x
    for l, A in enumerate(weights):
        z = (A @ h.unsqueeze(-1)).squeeze(-1)
        if biases is not None:
            z = z + biases[l]
        h = act(z) if l < len(weights) - 1 else z
    return h

