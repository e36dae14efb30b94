r"""Deep networks as maps of the plane: fields, orbits, fixed points and attractors, batched over models.

A square network $f: \mathbb{R}^n \to \mathbb{R}^n$ (weights $A_0, \dots, A_L$, optional biases, an activation
$\sigma$; eqs. 3 and 6 of Drgona et al., 2020) is read as the discrete-time system $x_{k+1} = f(x_k)$.
Everything here works on a :class:`NetworkBatch`: $M$ networks of equal depth and width stacked into one tensor,
each with its own activation, so that a sweep over hundreds of models is a handful of batched tensor operations.

- **Fields over a grid** (one pass): $A^*(x)$ and $b^*(x)$ of Lemma 3 (:func:`affine_field`), their eigenvalues in
  closed form for $2 \times 2$ matrices (:func:`eigenvalues`), spectral radius and spectral norm
  (:func:`spectral_field`); for piecewise-linear activations the activation pattern that labels linear regions
  (:func:`activation_pattern`, :func:`count_regions`, :func:`count_sectors`, :func:`region_bound`).
- **The true Jacobian** $f'(x)$ (:func:`jacobian`, forward-mode derivatives of $\sigma$). Unlike $A^*(x)$ it decides
  whether a fixed point attracts: $x_{k+1} - \bar x \approx f'(\bar x)(x_k - \bar x)$.
- **Orbits** from many starts (:func:`iterate`), **fixed points** by Newton's method, deduplicated, each with the
  spectrum of $f'(\bar x)$ and a verdict (:func:`fixed_points`), the **largest Lyapunov exponent** from products of
  true Jacobians along an orbit, with a batch-means error bar (:func:`lyapunov_exponent`), periods
  (:func:`orbit_period`) and rotation numbers (:func:`rotation_number`), and a **classification** of the attractor
  with its evidence (:func:`classify_attractor`).

Two conventions for the network, chosen when a batch is built (:func:`network_batch`):

- ``"eq3"``: eq. (3)/(6) of the paper, $f(x) = A_L h_L + b_L$, $h_l = \sigma(A_{l-1}h_{l-1} + b_{l-1})$: $L$ hidden
  layers, $L + 1$ weights, no activation after the output;
- ``"authors"``: the network of the authors' scripts (``blocks.MLP`` of PNNL's ``neuromancer`` with
  ``hsizes=[n] * L``, whose activations are all replaced by $\sigma$, the output's identity included):
  $f(x) = \sigma(A_L h_L + b_L)$. It is the ``"eq3"`` network with one more weight, $A_{L+1} = I$, $b_{L+1} = 0$,
  which is how it is stored.

Tensors are float64 by default and stay on the device and in the dtype of the weights (points are converted to
them); random draws are made on the CPU and moved. Points must be finite and real (``ValueError`` otherwise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from linear_lens import activations
from linear_lens._checks import as_float_tensor, as_generator, check_positive_int, check_real

__all__ = [
    "CONVENTIONS",
    "KINDS",
    "NetworkBatch",
    "network_batch",
    "forward",
    "affine_field",
    "jacobian",
    "jacobian_vector",
    "eigenvalues",
    "SpectralField",
    "spectral_field",
    "activation_pattern",
    "count_regions",
    "count_sectors",
    "region_bound",
    "max_jump",
    "Orbits",
    "iterate",
    "orbit_period",
    "rotation_number",
    "FixedPoints",
    "fixed_points",
    "Lyapunov",
    "lyapunov_exponent",
    "Attractor",
    "classify_attractor",
    "hausdorff_distance",
]

#: The two network conventions (see the module docstring).
CONVENTIONS = ("eq3", "authors")
#: The attractor types of the paper's Fig. 6, and ``"undetermined"`` when the evidence does not settle the type.
KINDS = ("single point", "multiple points", "line attractor", "limit cycle", "chaotic", "unstable", "undetermined")


# ---------------------------------------------------------------------------------------------------------------
# A batch of networks
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkBatch:
    r"""$M$ square networks $\mathbb{R}^n \to \mathbb{R}^n$ of equal depth, stored as the ``"eq3"`` network they are.

    ``weights``: ``(M, K, n, n)``, the matrices $A_0, \dots, A_{K-1}$ applied in order (column convention,
    $z = A h + b$); ``biases``: ``(M, K, n)`` (zeros for a network without bias); ``activations``: the $M$
    :class:`~linear_lens.activations.Activation` objects; ``has_bias``: ``(M,)`` bool, whether the network was given
    biases; ``convention``: ``"eq3"`` or ``"authors"`` (then ``weights[:, -1]`` is the appended identity);
    ``depth``: the depth $L$ the networks were built with (hidden layers; $K = L + 1$ for ``"eq3"``, $L + 2$ for
    ``"authors"``). Build it with :func:`network_batch`.
    """

    weights: torch.Tensor
    biases: torch.Tensor
    activations: tuple
    has_bias: torch.Tensor
    convention: str
    depth: int
    groups: tuple = field(repr=False)
    cols: tuple = field(repr=False, default=())

    def __post_init__(self):
        if not self.cols:
            object.__setattr__(self, "cols", _columns(self.weights, self.biases))

    @property
    def size(self) -> int:
        """The number of networks $M$."""
        return self.weights.shape[0]

    @property
    def n(self) -> int:
        """The width $n$ (input, hidden and output)."""
        return self.weights.shape[-1]

    def select(self, index) -> "NetworkBatch":
        """The sub-batch of the networks ``index`` (a slice, a list of ints or a boolean mask), same convention."""
        if isinstance(index, torch.Tensor) and index.dtype == torch.bool:
            index = torch.nonzero(index.cpu()).flatten().tolist()
        if isinstance(index, slice):
            index = list(range(self.size))[index]
        index = [int(i) for i in index]
        if not index:
            raise ValueError("index: select at least one network")
        acts = tuple(self.activations[i] for i in index)
        ix = torch.tensor(index, device=self.weights.device)
        return NetworkBatch(self.weights[ix], self.biases[ix], acts, self.has_bias[ix], self.convention, self.depth,
                            _groups(acts))


def network_batch(
    weights,
    biases=None,
    activation="relu",
    *,
    convention: str = "eq3",
    dtype: torch.dtype | None = None,
) -> NetworkBatch:
    r"""Stack networks of equal depth and width into a :class:`NetworkBatch`.

    ``weights``: ``(M, L + 1, n, n)`` or ``(L + 1, n, n)`` (one network) or a list of $L + 1$ matrices ``(n, n)``:
    $A_0, \dots, A_L$ of eq. (3); ``biases``: the matching ``(M, L + 1, n)``, a list of vectors, ``None`` (no bias
    anywhere), or a boolean tensor is not allowed; ``activation``: one name (or
    :class:`~linear_lens.activations.Activation`) for all, or a sequence of $M$ of them; ``convention``: ``"eq3"`` or
    ``"authors"`` (module docstring). Networks with the same activation should be adjacent: the batch applies each
    run of equal activations as one call. ``dtype``: convert to it (default: keep a float dtype, float64 otherwise).

    Raises ``ValueError`` for non-square or mismatched shapes, an unknown activation or convention, non-finite values.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention: expected one of {', '.join(CONVENTIONS)}, got {convention!r}")
    if isinstance(weights, (list, tuple)):
        if len(weights) == 0:
            raise ValueError("weights: need at least one weight matrix A_0")
        weights = torch.stack([as_float_tensor(w, f"weights[{i}]") for i, w in enumerate(weights)])
    W = as_float_tensor(weights, "weights", dtype)
    if W.ndim == 3:
        W = W.unsqueeze(0)
    if W.ndim != 4 or W.shape[-1] != W.shape[-2]:
        raise ValueError(f"weights: expected (M, L + 1, n, n) square matrices, got shape {tuple(W.shape)}")
    M, K, n = W.shape[0], W.shape[1], W.shape[-1]
    if M == 0 or K == 0:
        raise ValueError(f"weights: need at least one network and one weight, got shape {tuple(W.shape)}")
    if biases is None:
        B = torch.zeros(M, K, n, dtype=W.dtype, device=W.device)
        has_bias = torch.zeros(M, dtype=torch.bool, device=W.device)
    else:
        if isinstance(biases, (list, tuple)):
            biases = torch.stack([as_float_tensor(b, f"biases[{i}]") for i, b in enumerate(biases)])
        B = as_float_tensor(biases, "biases", W.dtype).to(W.device)
        if B.ndim == 2:
            B = B.unsqueeze(0)
        if B.shape != (M, K, n):
            raise ValueError(f"biases: expected shape {(M, K, n)} to match the weights, got {tuple(B.shape)}")
        has_bias = torch.ones(M, dtype=torch.bool, device=W.device)
    if isinstance(activation, (str, activations.Activation)) or callable(activation):
        acts = (activations.get(activation),) * M
    else:
        acts = tuple(activations.get(a) for a in activation)
        if len(acts) != M:
            raise ValueError(f"activation: expected one activation or {M} (one per network), got {len(acts)}")
    depth = K - 1
    if convention == "authors":
        eye = torch.eye(n, dtype=W.dtype, device=W.device).expand(M, 1, n, n)
        W = torch.cat([W, eye], dim=1)
        B = torch.cat([B, torch.zeros(M, 1, n, dtype=W.dtype, device=W.device)], dim=1)
    return NetworkBatch(W, B, acts, has_bias, convention, depth, _groups(acts))


# ---------------------------------------------------------------------------------------------------------------
# Evaluation: f, A*, b*, the Jacobian
# ---------------------------------------------------------------------------------------------------------------


def forward(net: NetworkBatch, x: torch.Tensor) -> torch.Tensor:
    r"""Evaluate every network at its points: $f_m(x)$ of eq. (3)/(6).

    ``x``: ``(P, n)`` (the same points for every network) or ``(M, P, n)``. Returns ``(M, P, n)``. Values that
    overflow become ``inf``; they are returned, not raised (a diverging orbit is a result).
    """
    return _forward(net, _points(net, x))


def affine_field(net: NetworkBatch, x: torch.Tensor, *, form: str = "paper") -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $A^*(x)$ and $b^*(x)$ with $f(x) = A^*(x)x + b^*(x)$ for every network and point (Lemma 3).

    $A^*(x) = A_L \Lambda_{z_L} A_{L-1} \cdots \Lambda_{z_1} A_0$ (eq. 5), $b^*$ by the recursion of eq. (7) with the
    offsets of ``form`` (``"paper"``: $\Lambda = \operatorname{diag}(\sigma(z_i)/z_i)$, eq. 4; ``"shifted"``:
    $\Lambda = \operatorname{diag}((\sigma(z_i) - \sigma(0))/z_i)$ with $\sigma(0)$ moved into $b^*$), the same
    decomposition as :func:`linear_lens.affine.pointwise_affine` (whose $\Lambda$ it uses), batched across networks
    with different activations. ``x``: ``(P, n)`` or ``(M, P, n)``. Returns ``A``: ``(M, P, n, n)`` and
    ``b``: ``(M, P, n)``.
    """
    from linear_lens.affine import FORMS

    if form not in FORMS:
        raise ValueError(f"form: expected one of {', '.join(FORMS)}, got {form!r}")
    xt = _points(net, x).permute(2, 0, 1)
    _, V, b = _run(net, xt, _unit_tangents(xt), mode=form)
    return V.permute(2, 3, 1, 0), b.permute(1, 2, 0)


def jacobian(net: NetworkBatch, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $f(x)$ and the true Jacobian $f'(x) = A_L D_L \cdots D_1 A_0$, $D_l = \operatorname{diag}\sigma'(z_l)$.

    $\sigma'$ in closed form for the activations of the paper's sweep, by autograd for the others (at a kink,
    PyTorch's one-sided choice, e.g. $\mathrm{ReLU}'(0) = 0$). This is the linearisation that decides the stability
    of a fixed point; it equals $A^*(x)$ only for activations with $\sigma(z) = \sigma'(z)z$ (errata E01.3).
    ``x``: ``(P, n)`` or ``(M, P, n)``. Returns ``f``: ``(M, P, n)`` and ``J``: ``(M, P, n, n)``.
    """
    return _jacobian(net, _points(net, x))


def jacobian_vector(net: NetworkBatch, x: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $f(x)$ and the product $f'(x)\,v$ (one pass with one tangent; cheaper than :func:`jacobian`).

    ``x``, ``v``: ``(M, P, n)``. Returns two tensors ``(M, P, n)``.
    """
    x = _points(net, x)
    return _jvp(net, x, _points(net, v))


# ---------------------------------------------------------------------------------------------------------------
# Spectra of fields of matrices
# ---------------------------------------------------------------------------------------------------------------


def eigenvalues(A: torch.Tensor) -> torch.Tensor:
    r"""Return the eigenvalues of square real matrices, batched: ``(..., n, n)`` -> complex ``(..., n)``.

    For $n = 2$ in closed form, scaled to avoid overflow and underflow and free of cancellation: with
    $s = \max_{ij}|a_{ij}|$, $B = A/s$, $\tau = \operatorname{tr}B/2$ and $\Delta = ((b_{11} - b_{22})/2)^2 +
    b_{12}b_{21}$ (exact for multiples of the identity), the pair is $\tau \pm i\sqrt{-\Delta}$ if $\Delta < 0$,
    else $\mu = \tau + \operatorname{sign}(\tau)\sqrt{\Delta}$ and $\det B/\mu$, times $s$. The larger root is then
    the one without cancellation, and the order is: larger modulus first. Otherwise ``torch.linalg.eigvals`` (on the
    CPU, which is faster than GPU solvers for small matrices).
    """
    A = as_float_tensor(A, "A")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A: eigenvalues need square matrices (..., n, n), got shape {tuple(A.shape)}")
    n = A.shape[-1]
    if n == 1:
        return torch.complex(A[..., 0, :], torch.zeros_like(A[..., 0, :]))
    if n != 2:
        return torch.linalg.eigvals(A.cpu()).to(A.device)
    s = A.abs().amax(dim=(-2, -1))
    s = torch.where(s > 0, s, torch.ones_like(s))
    B = A / s[..., None, None]
    a, b, c, d = B[..., 0, 0], B[..., 0, 1], B[..., 1, 0], B[..., 1, 1]
    tau = (a + d) / 2
    disc = ((a - d) / 2) ** 2 + b * c
    root = torch.sqrt(disc.abs())
    mu = tau + torch.copysign(root, tau)
    det = a * d - b * c
    other = torch.where(mu != 0, det / torch.where(mu != 0, mu, torch.ones_like(mu)), torch.zeros_like(mu))
    real = disc >= 0
    re1, re2 = torch.where(real, mu, tau), torch.where(real, other, tau)
    im1 = torch.where(real, torch.zeros_like(root), root)
    lam = torch.stack([torch.complex(re1, im1), torch.complex(re2, -im1)], dim=-1)
    return lam * s[..., None]


@dataclass(frozen=True)
class SpectralField:
    r"""Spectral quantities of a field of matrices $A^*(x)$ (:func:`spectral_field`).

    ``eigenvalues``: complex ``(..., n)``; ``rho``: the spectral radius $\max_i|\lambda_i|$, ``(...)``; ``norm``:
    the spectral norm $\lVert A\rVert_2$ (largest singular value), ``(...)``. Always $\rho \le \lVert A\rVert_2$.
    """

    eigenvalues: torch.Tensor
    rho: torch.Tensor
    norm: torch.Tensor


def spectral_field(A: torch.Tensor) -> SpectralField:
    r"""Return eigenvalues, spectral radius $\rho(A)$ (Definition 5) and spectral norm of ``A``: ``(..., n, n)``.

    For $n = 2$ all three are closed forms (:func:`eigenvalues`; $\lVert A\rVert_2 = (\sqrt{(a+d)^2 + (b-c)^2} +
    \sqrt{(a-d)^2 + (b+c)^2})/2$), so a field over a grid for hundreds of models is a few elementwise operations.
    """
    lam = eigenvalues(A)
    rho = lam.abs().amax(dim=-1)
    if A.shape[-1] == 2:
        a, b, c, d = A[..., 0, 0], A[..., 0, 1], A[..., 1, 0], A[..., 1, 1]
        norm = (torch.hypot(a + d, b - c) + torch.hypot(a - d, b + c)) / 2
    else:
        norm = torch.linalg.matrix_norm(A, ord=2)
    return SpectralField(lam, rho, norm)


# ---------------------------------------------------------------------------------------------------------------
# Linear regions and the continuity of fields
# ---------------------------------------------------------------------------------------------------------------


def activation_pattern(net: NetworkBatch, x: torch.Tensor) -> torch.Tensor:
    r"""Return the activation pattern at each point: one bit per hidden unit, set where its pre-activation is $> 0$.

    For a piecewise-linear activation with one kink at $0$ (ReLU, LeakyReLU, ...) the pattern is constant exactly on
    the linear regions of $f$ (where $A^*$ and $b^*$ are constant); for other activations it labels the cells cut by
    the zero sets of the pre-activations, where $A^*$ of eq. (4) is undefined (errata E01.1). At most 62 units.
    ``x``: ``(P, n)`` or ``(M, P, n)``. Returns int64 ``(M, P)``.
    """
    h = _points(net, x).permute(2, 0, 1)
    K = net.weights.shape[1]
    units = (K - 1) * net.n
    if units > 62:
        raise ValueError(f"net: the pattern holds at most 62 hidden units in an int64, this network has {units}")
    code = torch.zeros(h.shape[1:], dtype=torch.int64, device=h.device)
    bit = 0
    for l in range(K - 1):
        z = _affine(net, l, h)
        for i in range(net.n):
            code = code | ((z[i] > 0).to(torch.int64) << bit)
            bit += 1
        h = _activate(net, z)
    return code


def count_regions(codes: torch.Tensor, *, connectivity: int = 8, min_cells: int = 1) -> int:
    r"""Count the connected regions of equal label in a 2-D grid of labels.

    ``codes``: ``(rows, cols)`` integer labels, e.g. :func:`activation_pattern` on a regular grid reshaped;
    ``connectivity``: 4 (edge neighbours) or 8 (edges and corners: a thin diagonal wedge stays one region);
    ``min_cells``: components with fewer cells are not counted (stray cells where many regions meet, such as the
    apex of the cones of a network without bias). A region thinner than the spacing can still be missed: compare
    resolutions. Returns an ``int``.
    """
    from scipy import ndimage

    codes = torch.as_tensor(codes)
    if codes.ndim != 2 or codes.dtype.is_floating_point:
        raise ValueError(f"codes: expected a 2-D integer grid of labels, got {codes.dtype} {tuple(codes.shape)}")
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity: expected 4 or 8, got {connectivity!r}")
    min_cells = check_positive_int(min_cells, "min_cells")
    structure = np.ones((3, 3)) if connectivity == 8 else None
    arr = codes.cpu().numpy()
    total = 0
    for value in np.unique(arr):
        labels, k = ndimage.label(arr == value, structure=structure)
        if k:
            sizes = np.bincount(labels.ravel())[1:]
            total += int((sizes >= min_cells).sum())
    return total


def count_sectors(codes: torch.Tensor) -> int:
    r"""Count the maximal runs of equal labels along a closed loop (the last label is next to the first).

    For a network without bias and a positively homogeneous activation (ReLU), $f(tx) = tf(x)$ for $t > 0$ and the
    linear regions are cones from the origin: labelling a fine circle around it with :func:`activation_pattern`
    counts them exactly, up to sectors narrower than the angular spacing. ``codes``: ``(K,)``. A loop with a
    single label counts 1.
    """
    codes = torch.as_tensor(codes).flatten()
    if codes.numel() == 0:
        raise ValueError("codes: need at least one label")
    changes = int((codes != codes.roll(1)).sum())
    return max(changes, 1)


def region_bound(widths: Sequence[int], n_in: int) -> int:
    r"""Upper bound on the number of linear regions of a ReLU network (Serra, Tjandraatmadja and Ramalingam, 2018).

    For hidden widths $n_1, \dots, n_L$ and input dimension $n_0$: $\sum_{(j_1,\dots,j_L) \in J} \prod_l
    \binom{n_l}{j_l}$ with $J = \{0 \le j_l \le \min(n_0, n_1 - j_1, \dots, n_{l-1} - j_{l-1}, n_l)\}$ (their
    Theorem 1). For one layer it is Zaslavsky's count $\sum_{j \le n_0}\binom{n_1}{j}$ for hyperplanes in general
    position. ``widths``: $[n_1, \dots, n_L]$; ``n_in``: $n_0$. Returns an ``int``.
    """
    n_in = check_positive_int(n_in, "n_in")
    widths = [check_positive_int(w, "widths") for w in widths]
    if not widths:
        return 1

    def rec(l: int, cap: int) -> int:
        if l == len(widths):
            return 1
        total = 0
        for j in range(0, min(cap, widths[l]) + 1):
            total += math.comb(widths[l], j) * rec(l + 1, min(cap, widths[l] - j))
        return total

    return rec(0, n_in)


def max_jump(field: torch.Tensor) -> torch.Tensor:
    r"""Return the largest difference between horizontally or vertically adjacent values of a gridded field.

    ``field``: ``(..., rows, cols)``. Returns ``(...)``. For a continuous field on a compact domain it tends to $0$
    as the grid is refined (about halving with the spacing for a Lipschitz field); across a discontinuity it does not.
    """
    f = torch.as_tensor(field)
    if f.ndim < 2:
        raise ValueError(f"field: expected (..., rows, cols), got shape {tuple(f.shape)}")
    dx = (f[..., :, 1:] - f[..., :, :-1]).abs().flatten(-2).amax(-1)
    dy = (f[..., 1:, :] - f[..., :-1, :]).abs().flatten(-2).amax(-1)
    return torch.maximum(dx, dy)


# ---------------------------------------------------------------------------------------------------------------
# Orbits
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Orbits:
    r"""Result of :func:`iterate` for $M$ networks and $S$ starts.

    ``x``: ``(M, S, n)``, the state after ``steps`` steps (an escaped orbit keeps its first state beyond
    ``escape``); ``half``: the state after ``steps // 2`` steps; ``tail``: ``(T, M, S, n)``, the last $T$ states
    (``tail[-1]`` is ``x``); ``escaped``: ``(M, S)`` bool, the orbit left the ball of radius ``escape``;
    ``escape_step``: the step it did (``-1`` if not); ``growth``: the mean growth factor per step of
    $\lVert x_k\rVert$ from its last recorded value below $\sqrt{\text{escape}}$ (norms are recorded every 4
    steps) to the escape (``nan`` if it did not escape);
    ``steps``: the number of steps.
    """

    x: torch.Tensor
    half: torch.Tensor
    tail: torch.Tensor
    escaped: torch.Tensor
    escape_step: torch.Tensor
    growth: torch.Tensor
    steps: int


def iterate(
    net: NetworkBatch, x0: torch.Tensor, steps: int, *, tail: int = 1, escape: float = 1e6
) -> Orbits:
    r"""Iterate $x_{k+1} = f(x_k)$ from every start for every network, keeping only what the analysis needs.

    ``x0``: ``(S, n)`` (the same starts for every network) or ``(M, S, n)``; ``steps`` $\ge 1$; ``tail``: how many
    last states to keep ($1 \le T \le$ ``steps`` $+ 1$); ``escape``: an orbit whose norm exceeds it is frozen there
    (and counted as escaped), which keeps overflow out of the arithmetic. Memory: $O(T M S n)$, not
    $O(\text{steps})$. Returns :class:`Orbits`.
    """
    steps = check_positive_int(steps, "steps")
    tail = check_positive_int(tail, "tail")
    if tail > steps + 1:
        raise ValueError(f"tail: at most steps + 1 = {steps + 1}, got {tail}")
    escape = check_real(escape, "escape")
    if not escape > 1:
        raise ValueError(f"escape: expected a radius > 1, got {escape}")
    x = _points(net, x0).clone()
    r_low = math.sqrt(escape)
    escaped = ~(x.abs().amax(-1) <= escape)
    escape_step = torch.where(escaped, 0, -1)
    kept = [x] if steps + 1 - tail <= 0 else []
    half = x
    every = 4  # the norm history, for the growth rate of escaping orbits, is kept every few steps
    hist_k, hist_n = [0], [x.norm(dim=-1)]
    with torch.no_grad():
        for k in range(1, steps + 1):
            new = _forward(net, x)
            size = new.abs().amax(-1)
            inside = size <= escape
            keep_old = escaped | ~torch.isfinite(size)
            newly = ~inside & ~escaped
            x = torch.where(keep_old.unsqueeze(-1), x, new)
            if bool(newly.any()):
                escape_step = torch.where(newly, k, escape_step)
                escaped = escaped | newly
            if k % every == 0:
                hist_k.append(k)
                hist_n.append(x.norm(dim=-1))
            if k == steps // 2:
                half = x
            if k >= steps + 1 - tail:
                kept.append(x)
    growth = torch.full(x.shape[:-1], float("nan"), dtype=x.dtype, device=x.device)
    if bool((escape_step > 0).any()):
        ks = torch.tensor(hist_k, device=x.device).view(-1, *([1] * escape_step.ndim))
        norms = torch.stack(hist_n)
        below = (norms <= r_low) & (ks < escape_step)
        k_low = torch.where(below, ks, -1).amax(dim=0)
        n_low = torch.gather(norms, 0, torch.argmax(torch.where(below, ks, -1), dim=0, keepdim=True))[0]
        span = (escape_step - k_low).to(x.dtype)
        rate = torch.exp((torch.log(x.norm(dim=-1)) - torch.log(n_low)) / span)
        growth = torch.where((escape_step > 0) & (k_low >= 0) & (n_low > 0), rate, growth)
    return Orbits(x, half, torch.stack(kept), escaped, escape_step, growth, steps)


def orbit_period(tail: torch.Tensor, max_period: int, tol: float = 1e-9) -> torch.Tensor:
    r"""Return the smallest period $p \le$ ``max_period`` of the end of each orbit, or $0$ if there is none.

    $p$ is accepted when $\lVert x_t - x_{t-p}\rVert_\infty \le \text{tol}\,(1 + \lVert x_t\rVert_\infty)$ for
    every $t$ in the kept tail (not only the last state, so that a near-return by chance is not taken for a cycle).
    ``tail``: ``(T, ...batch, n)`` with $T > 2\,$``max_period``. Period 1 is a fixed point. Returns ``(...batch)``,
    int64. (Supersedes :func:`linear_lens.stability.orbit_period`, which compares the last state only.)
    """
    max_period = check_positive_int(max_period, "max_period")
    tol = check_real(tol, "tol")
    if tail.ndim < 2 or tail.shape[0] <= 2 * max_period:
        raise ValueError(f"tail: need more than 2 * max_period = {2 * max_period} states, got {tail.shape[0]}")
    scale = 1 + tail.abs().amax(dim=(0, -1))
    period = torch.zeros(tail.shape[1:-1], dtype=torch.int64, device=tail.device)
    for p in range(max_period, 0, -1):
        gap = (tail[p:] - tail[:-p]).abs().amax(dim=(0, -1))
        period = torch.where((gap <= tol * scale) & torch.isfinite(scale), p, period)
    return period


def rotation_number(tail: torch.Tensor, centre: torch.Tensor | None = None) -> torch.Tensor:
    r"""Return the mean turn per step of 2-D orbits about ``centre``, $\omega = \sum_t \Delta\theta_t/(2\pi T)$.

    $\Delta\theta_t \in (-\pi, \pi]$ is the angle from $x_{t-1} - c$ to $x_t - c$. For an orbit on a closed
    invariant curve around $c$, $\omega$ is the curve's rotation number (rational for a periodic orbit, irrational
    for a quasi-periodic one); the sign gives the direction. ``tail``: ``(T, ...batch, 2)``; ``centre``:
    ``(...batch, 2)``, default the mean of the tail. Returns ``(...batch)``.
    """
    if tail.shape[-1] != 2 or tail.shape[0] < 2:
        raise ValueError(f"tail: expected (T >= 2, ..., 2), got shape {tuple(tail.shape)}")
    c = tail.mean(dim=0) if centre is None else centre
    rel = tail - c
    theta = torch.atan2(rel[..., 1], rel[..., 0])
    d = torch.remainder(theta[1:] - theta[:-1] + math.pi, 2 * math.pi) - math.pi
    return d.mean(dim=0) / (2 * math.pi)


def hausdorff_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    r"""Return the Hausdorff distance $\max(\sup_{p\in a} d(p, b), \sup_{q \in b} d(q, a))$ of two point clouds.

    ``a``: ``(P, n)``, ``b``: ``(Q, n)``. Used to show that orbits from inside and outside a limit cycle end on the
    same closed curve.
    """
    a, b = as_float_tensor(a, "a"), as_float_tensor(b, "b")
    d = torch.cdist(a, b)
    return float(torch.maximum(d.amin(dim=1).amax(), d.amin(dim=0).amax()))


# ---------------------------------------------------------------------------------------------------------------
# Fixed points
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixedPoints:
    r"""Result of :func:`fixed_points` for $M$ networks.

    Per start: ``x`` ``(M, S, n)``, the last Newton iterate; ``residual`` ``(M, S)``, $\lVert f(x) - x\rVert_\infty$;
    ``converged`` ``(M, S)`` bool. Per network, lists of length $M$: ``points[m]`` ``(k_m, n)``, the distinct fixed
    points found (sorted by norm); ``spectra[m]`` complex ``(k_m, n)``, the eigenvalues of the true Jacobian
    $f'(\bar x)$; ``rho_jacobian[m]`` ``(k_m,)``; ``rho_astar[m]`` ``(k_m,)``, $\rho(A^*(\bar x))$ of the paper's
    form (to compare); ``verdicts[m]``: for each point ``"stable"`` ($\rho(f'(\bar x)) < 1$), ``"unstable"`` (every
    $|\lambda| > 1$), ``"saddle"`` (one inside, one outside) or ``"non-hyperbolic"`` (an eigenvalue on the unit circle
    within ``tol_unit``).
    """

    x: torch.Tensor
    residual: torch.Tensor
    converged: torch.Tensor
    points: list
    spectra: list
    rho_jacobian: list
    rho_astar: list
    verdicts: list


def fixed_points(
    net: NetworkBatch,
    starts: torch.Tensor,
    *,
    tol: float = 1e-11,
    max_iter: int = 60,
    box: float = 1e3,
    dedupe: float = 1e-6,
    tol_unit: float = 1e-6,
) -> FixedPoints:
    r"""Find the fixed points $\bar x = f(\bar x)$ by damped Newton iteration from many starts, for every network.

    Solves $F(x) = f(x) - x = 0$ with $x \leftarrow x - t\,(f'(x) - I)^{-1}F(x)$, the true Jacobian of
    :func:`jacobian`, and the first $t \in \{1, \frac12, \dots, 2^{-8}\}$ that lowers $\lVert F\rVert_\infty$ (else
    a plain step $x \leftarrow f(x)$). A start converges when $\lVert F\rVert_\infty \le \text{tol}\,(1 +
    \lVert x\rVert_\infty)$ and $\lVert x\rVert_\infty \le$ ``box``. Converged points closer than ``dedupe`` (relative)
    are merged; each distinct point gets the spectrum of $f'(\bar x)$ and a verdict (:class:`FixedPoints`).
    ``starts``: ``(S, n)`` or ``(M, S, n)``. (Supersedes :func:`linear_lens.stability.fixed_point`: batched over
    networks, analytic Jacobian, deduplicated, with verdicts.)
    """
    tol, box, dedupe, tol_unit = (check_real(v, name) for v, name in
                                  ((tol, "tol"), (box, "box"), (dedupe, "dedupe"), (tol_unit, "tol_unit")))
    if tol <= 0 or box <= 0 or dedupe <= 0 or tol_unit < 0:
        raise ValueError("tol, box, dedupe: must be positive; tol_unit: nonnegative")
    max_iter = check_positive_int(max_iter, "max_iter")
    x = _points(net, starts).clone()
    M, S, n = x.shape
    with torch.no_grad():
        flat, res = _newton(net, x.reshape(M * S, n), torch.arange(M, device=x.device).repeat_interleave(S),
                            tol, max_iter)
        x, res = flat.reshape(M, S, n), res.reshape(M, S)
        scale = 1 + x.abs().amax(-1)
        converged = (res <= tol * scale) & (x.abs().amax(-1) <= box) & torch.isfinite(x).all(-1)
        points, spectra, rho_j, rho_a, verdicts = [], [], [], [], []
        for m in range(M):
            pts = _unique_points(x[m][converged[m]], dedupe)
            points.append(pts)
        counts = [p.shape[0] for p in points]
        if sum(counts):
            idx = torch.repeat_interleave(torch.arange(M, device=x.device), torch.tensor(counts, device=x.device))
            allp = torch.cat(points)
            sub = _subset(net, idx)
            _, Jp = jacobian(sub, allp.unsqueeze(1))
            Ap, _ = affine_field(sub, allp.unsqueeze(1))
            lam = eigenvalues(Jp[:, 0])
            rj = lam.abs().amax(-1)
            ra = spectral_field(Ap[:, 0]).rho
            mods = lam.abs()
            verdict = []
            for row in mods.cpu().tolist():
                if any(abs(v - 1) <= tol_unit for v in row):
                    verdict.append("non-hyperbolic")
                elif max(row) < 1:
                    verdict.append("stable")
                elif min(row) > 1:
                    verdict.append("unstable")
                else:
                    verdict.append("saddle")
            start = 0
            for k in counts:
                spectra.append(lam[start:start + k])
                rho_j.append(rj[start:start + k])
                rho_a.append(ra[start:start + k])
                verdicts.append(verdict[start:start + k])
                start += k
        else:
            empty = torch.zeros(0, dtype=x.dtype, device=x.device)
            for _ in range(M):
                spectra.append(torch.zeros(0, n, dtype=torch.complex128, device=x.device))
                rho_j.append(empty)
                rho_a.append(empty)
                verdicts.append([])
    return FixedPoints(x, res, converged, points, spectra, rho_j, rho_a, verdicts)


# ---------------------------------------------------------------------------------------------------------------
# Lyapunov exponents
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lyapunov:
    r"""Result of :func:`lyapunov_exponent` for $M$ networks and $S$ orbits.

    ``exponent`` ``(M, S)``: the estimate $\hat\lambda_1 = \frac1N\sum_{k<N}\ln\lVert f'(x_k)v_k\rVert$ with
    $v_{k+1} = f'(x_k)v_k/\lVert f'(x_k)v_k\rVert$ ($-\infty$ when the tangent vector is mapped to $0$);
    ``stderr`` ``(M, S)``: the standard error from $B$ block means (batch means); ``running`` ``(B, M, S)``: the
    estimate after each block, to judge convergence; ``x`` ``(M, S, n)``: the end of the orbits.
    """

    exponent: torch.Tensor
    stderr: torch.Tensor
    running: torch.Tensor
    x: torch.Tensor


def lyapunov_exponent(
    net: NetworkBatch,
    x0: torch.Tensor,
    steps: int = 1024,
    *,
    blocks: int = 16,
    generator=None,
) -> Lyapunov:
    r"""Estimate the largest Lyapunov exponent of each orbit from products of true Jacobians (Benettin's method).

    From $x_0$ and a random unit tangent $v_0$, iterate $x_{k+1} = f(x_k)$ and $v_{k+1} = f'(x_k)v_k$, renormalising
    $v$ each step and summing $\ln\lVert f'(x_k)v_k\rVert$ (:func:`jacobian_vector`). $\hat\lambda_1 > 0$ means
    nearby orbits separate exponentially (chaos, if the orbit stays bounded), $\hat\lambda_1 = 0$ a neutral direction
    (an invariant curve, a line of fixed points), $\hat\lambda_1 < 0$ an attracting fixed point or cycle. The
    ``steps`` are split into ``blocks`` equal blocks; the spread of the block means gives the error bar
    (:class:`Lyapunov`). Start after a transient (``x0`` on the attractor). ``x0``: ``(S, n)`` or ``(M, S, n)``;
    ``generator``: ``None``, a ``torch.Generator`` or an ``int`` seed for $v_0$.
    """
    steps = check_positive_int(steps, "steps")
    blocks = check_positive_int(blocks, "blocks")
    if steps % blocks or blocks < 2:
        raise ValueError(f"blocks: need at least 2 blocks dividing steps = {steps}, got {blocks}")
    g = as_generator(generator)
    x = _points(net, x0).clone()
    v = torch.randn(x.shape, generator=g, dtype=torch.float64).to(dtype=x.dtype, device=x.device)
    v = v / v.norm(dim=-1, keepdim=True)
    per = steps // blocks
    sums = torch.zeros(blocks, *x.shape[:-1], dtype=x.dtype, device=x.device)
    dead = torch.zeros(x.shape[:-1], dtype=torch.bool, device=x.device)
    tiny = torch.finfo(x.dtype).tiny
    with torch.no_grad():
        for k in range(steps):
            x, w = _jvp(net, x, v)
            nw = w.norm(dim=-1)
            zero = ~(nw > tiny)
            dead = dead | zero
            sums[k // per] += torch.log(torch.where(zero, torch.ones_like(nw), nw))
            v = torch.where(zero.unsqueeze(-1), v, w / torch.where(zero, torch.ones_like(nw), nw).unsqueeze(-1))
    means = sums / per
    exponent = means.mean(dim=0)
    stderr = means.std(dim=0) / math.sqrt(blocks)
    running = torch.cumsum(means, dim=0) / torch.arange(1, blocks + 1, dtype=x.dtype, device=x.device).view(
        -1, *([1] * exponent.ndim))
    neg = torch.full_like(exponent, float("-inf"))
    exponent = torch.where(dead, neg, exponent)
    stderr = torch.where(dead, torch.zeros_like(stderr), stderr)
    running = torch.where(dead.unsqueeze(0), neg.unsqueeze(0).expand_as(running), running)
    return Lyapunov(exponent, stderr, running, x)


# ---------------------------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attractor:
    r"""The attractor type of one network (:func:`classify_attractor`) and the evidence behind it.

    ``kind``: one of :data:`KINDS`. ``fates``: how many starts ended in each fate (``"fixed point"``,
    ``"periodic"``, ``"quasi-periodic"``, ``"chaotic"``, ``"diverging"``, ``"undetermined"``).
    ``limits`` ``(j, n)``: the distinct fixed points the orbits converged to (deduplicated); ``line_points``: how
    many of them have an eigenvalue of $f'(\bar x)$ within ``line_tol`` of 1 (points of a continuum of fixed points);
    ``limit_eigenvalue_gap``: the largest $\min_i |\lambda_i(f'(\bar x)) - 1|$ over those (``nan`` if none).
    ``fixed_points``, ``fixed_point_verdicts``, ``rho_jacobian``, ``rho_astar``: every fixed point Newton's method found
    from the starts and the limits, with its verdict, $\rho(f'(\bar x))$ and $\rho(A^*(\bar x))$.
    ``period``: the smallest period $\ge 2$ of a periodic orbit ($0$ if none); ``rotation``: the median rotation
    number of the quasi-periodic or periodic orbits (``nan`` if none); ``lyapunov``, ``lyapunov_stderr``: the largest
    exponent over the bounded orbits and its error bar; ``growth``: the median growth factor per step of the
    diverging orbits (``nan`` if none or too slow to measure); ``evidence``: one line in words.
    """

    kind: str
    fates: dict
    limits: torch.Tensor
    line_points: int
    limit_eigenvalue_gap: float
    fixed_points: torch.Tensor
    fixed_point_verdicts: list
    rho_jacobian: torch.Tensor
    rho_astar: torch.Tensor
    period: int
    rotation: float
    lyapunov: float
    lyapunov_stderr: float
    growth: float
    evidence: str

    def row(self) -> dict:
        """The evidence as a flat dict of numbers and short strings (one row of a table)."""
        pts = "; ".join(
            f"({', '.join(f'{v:.4g}' for v in p)}) {verdict}"
            for p, verdict in zip(self.fixed_points.cpu().tolist(), self.fixed_point_verdicts)
        )
        return {
            "kind": self.kind,
            **{f"starts_{k.replace(' ', '_').replace('-', '_')}": v for k, v in self.fates.items()},
            "attracting_points": int(self.limits.shape[0]),
            "line_points": self.line_points,
            "fixed_points": int(self.fixed_points.shape[0]),
            "stable_fixed_points": sum(v == "stable" for v in self.fixed_point_verdicts),
            "fixed_point_list": pts,
            "period": self.period,
            "rotation": self.rotation,
            "lyapunov": self.lyapunov,
            "lyapunov_stderr": self.lyapunov_stderr,
            "growth": self.growth,
            "evidence": self.evidence,
        }


def classify_attractor(
    net: NetworkBatch,
    starts: torch.Tensor,
    *,
    steps: int = 1000,
    tail: int = 64,
    lyapunov_steps: int = 512,
    blocks: int = 16,
    max_period: int = 24,
    escape: float = 1e6,
    tol_fixed: float = 1e-9,
    tol_period: float = 1e-7,
    lyapunov_tol: float = 2e-3,
    line_points: int = 4,
    line_tol: float = 1e-6,
    generator=None,
) -> list[Attractor]:
    r"""Classify the attractor of each network from orbits of ``starts``, and return the evidence.

    Each start is iterated ``steps`` steps (:func:`iterate`) and given a fate:

    1. *diverging*: it left the ball of radius ``escape``, or its norm grew by half over the second half of the run
       and ended above twice the largest start norm plus one;
    2. *fixed point*: $\lVert f(x) - x\rVert_\infty \le$ ``tol_fixed`` $(1 + \lVert x\rVert_\infty)$ at the end; or,
       for slow convergence, Newton's method from the end state finds a $\bar x$ that does not repel
       ($\rho(f'(\bar x)) \le 1$), the distance to it shrank by 10% over the second half, and the orbit's Lyapunov
       exponent (below) is not positive;
    3. *periodic*: a period $2 \le p \le$ ``max_period`` over the last ``tail`` states (:func:`orbit_period`);
    4. otherwise, by the largest Lyapunov exponent $\hat\lambda_1 \pm s$ over ``lyapunov_steps`` more steps
       (:func:`lyapunov_exponent`): *chaotic* if $\hat\lambda_1 - 3s >$ ``lyapunov_tol``, *quasi-periodic* if
       $|\hat\lambda_1| \le \max(3s,$ ``lyapunov_tol``$)$, *undetermined* else.

    The network's kind, in this order: ``"unstable"`` if a start diverges; ``"chaotic"`` if one is chaotic;
    ``"limit cycle"`` if one is periodic or quasi-periodic (a cycle of $p$ points, or an invariant closed curve);
    else, from the distinct limits of the converging starts: ``"line attractor"`` if at least ``line_points`` of
    them are fixed points where $f'(\bar x)$ has an eigenvalue within ``line_tol`` of 1 (a continuum of fixed
    points, along which $f'$ leaves the tangent direction unchanged), ``"multiple points"`` if more than one limit,
    ``"single point"`` if one; ``"undetermined"`` if no start could be classified. ``starts``: ``(S, n)``;
    ``generator``: for the tangent vectors of the Lyapunov exponents. Returns one :class:`Attractor` per network.

    The spectral radius of $A^*$ is not an input: what decides is the behaviour of orbits and the true Jacobian.
    """
    steps = check_positive_int(steps, "steps")
    max_period = check_positive_int(max_period, "max_period")
    tail = check_positive_int(tail, "tail")
    if tail <= 2 * max_period or tail > steps:
        raise ValueError(f"tail: need 2 * max_period < tail <= steps, got tail={tail}, max_period={max_period}")
    start_pts = _points(net, starts)
    M, S, n = start_pts.shape
    orb = iterate(net, start_pts, steps, tail=tail, escape=escape)
    x_end, x_half = orb.x, orb.half
    r0 = start_pts.norm(dim=-1).amax(dim=-1, keepdim=True) + 1
    n_end, n_half = x_end.norm(dim=-1), x_half.norm(dim=-1)
    diverging = orb.escaped | ((n_end > 1.5 * n_half) & (n_end > 2 * r0))
    F = _forward(net, x_end) - x_end
    settled = ~diverging & (F.abs().amax(-1) <= tol_fixed * (1 + x_end.abs().amax(-1)))
    period = orbit_period(orb.tail, max_period, tol_period)
    periodic = ~diverging & ~settled & (period >= 2)
    rest = ~diverging & ~settled & ~periodic
    # the largest Lyapunov exponent of the orbits still undecided (only the networks that have some, batched)
    lam = torch.full((M, S), float("nan"), dtype=x_end.dtype, device=x_end.device)
    se = torch.full_like(lam, float("nan"))
    todo = torch.nonzero(rest.any(dim=-1).cpu()).flatten().tolist()
    if todo:
        ix = torch.tensor(todo, device=x_end.device)
        lyap = lyapunov_exponent(net.select(todo), torch.where(rest[ix].unsqueeze(-1), x_end[ix], 0 * x_end[ix]),
                                 lyapunov_steps, blocks=blocks, generator=generator)
        lam[ix], se[ix] = lyap.exponent, lyap.stderr
    positive = lam - 3 * se > lyapunov_tol
    # slow convergence to a fixed point: Newton from the end state finds a point that is not repelling
    # (rho(f') <= 1), the distance to it shrank by 10% over the second half, and the orbit is not chaotic
    slow = torch.zeros_like(rest)
    newton_limit = x_end.clone()
    if bool(rest.any()):
        fp = fixed_points(net, torch.where(rest.unsqueeze(-1), x_end, torch.zeros_like(x_end)), tol=1e-11)
        at = torch.where(fp.converged.unsqueeze(-1), fp.x, torch.zeros_like(fp.x))
        _, Jn = _jacobian(net, at)
        attracting = fp.converged & (eigenvalues(Jn).abs().amax(-1) <= 1 + 1e-9)
        d_end = (x_end - fp.x).norm(dim=-1)
        d_half = (x_half - fp.x).norm(dim=-1)
        slow = rest & fp.converged & attracting & (d_end <= 0.9 * d_half) & ~positive
        newton_limit = torch.where(slow.unsqueeze(-1), fp.x, x_end)
    rest = rest & ~slow
    chaotic = rest & positive
    quasi = rest & ~chaotic & (lam.abs() <= torch.clamp(3 * se, min=lyapunov_tol))
    undetermined = rest & ~chaotic & ~quasi
    converged = settled | slow
    limits_all = torch.where(settled.unsqueeze(-1), x_end, newton_limit)
    rot = rotation_number(orb.tail) if n == 2 else torch.full((M, S), float("nan"), dtype=x_end.dtype)
    # Newton from the starts and from the limits: every fixed point we can find, with verdicts
    fp_all = fixed_points(net, torch.cat([start_pts, limits_all], dim=1))
    # the Jacobian at the limits, for the line-attractor test
    limit_sets = [_unique_points(limits_all[m][converged[m]], 1e-6) for m in range(M)]
    counts = [p.shape[0] for p in limit_sets]
    gaps = [torch.zeros(0)] * M
    if sum(counts):
        idx = torch.repeat_interleave(torch.arange(M), torch.tensor(counts))
        _, J = jacobian(_subset(net, idx), torch.cat(limit_sets).unsqueeze(1))
        dist = (eigenvalues(J[:, 0]) - 1).abs().amin(-1).cpu()
        gaps = list(torch.split(dist, counts))
    out = []
    for m in range(M):
        limits = limit_sets[m]
        on_line = gaps[m] <= line_tol
        n_line = int(on_line.sum())
        gap = float(gaps[m][on_line].amax()) if n_line else float("nan")
        fates = {
            "fixed point": int(converged[m].sum()),
            "periodic": int(periodic[m].sum()),
            "quasi-periodic": int(quasi[m].sum()),
            "chaotic": int(chaotic[m].sum()),
            "diverging": int(diverging[m].sum()),
            "undetermined": int(undetermined[m].sum()),
        }
        bounded = ~diverging[m]
        lam_b = lam[m][rest[m]]
        if lam_b.numel():
            i = int(torch.argmax(lam_b))
            lyap_max, lyap_se = float(lam_b[i]), float(se[m][rest[m]][i])
        else:
            lyap_max, lyap_se = float("nan"), float("nan")
        cyc = (periodic[m] | quasi[m]) & bounded
        rotation = float(rot[m][cyc].median()) if bool(cyc.any()) else float("nan")
        per = int(period[m][periodic[m]].min()) if bool(periodic[m].any()) else 0
        g = orb.growth[m][diverging[m] & torch.isfinite(orb.growth[m])]
        growth = float(g.median()) if g.numel() else float("nan")
        if fates["diverging"]:
            kind = "unstable"
            ev = f"{fates['diverging']}/{S} starts diverge"
            if growth == growth:
                ev += f", |x| grows by {growth:.4g} per step"
        elif fates["chaotic"]:
            kind = "chaotic"
            ev = f"{fates['chaotic']}/{S} bounded orbits with Lyapunov exponent {lyap_max:.3g} ± {lyap_se:.1g} > 0"
        elif fates["periodic"] or fates["quasi-periodic"]:
            kind = "limit cycle"
            ev = (f"{fates['periodic']} periodic (period {per}) and {fates['quasi-periodic']} quasi-periodic "
                  f"orbits of {S}")
            if rotation == rotation:
                ev += f", rotation number {rotation:.4g}"
        elif n_line >= line_points:
            kind = "line attractor"
            ev = (f"{n_line} of {limits.shape[0]} distinct limits are fixed points where f' has an eigenvalue "
                  f"within {gap:.1e} of 1 (a continuum of fixed points)")
        elif limits.shape[0] > 1:
            kind = "multiple points"
            ev = f"{limits.shape[0]} distinct attracting fixed points"
        elif limits.shape[0] == 1:
            kind = "single point"
            ev = f"all {fates['fixed point']} converging starts end at one fixed point"
        else:
            kind = "undetermined"
            ev = f"{fates['undetermined']}/{S} orbits not classified"
        if kind != "undetermined" and fates["undetermined"]:
            ev += f"; {fates['undetermined']} orbits undetermined"
        out.append(Attractor(kind, fates, limits, n_line, gap, fp_all.points[m], fp_all.verdicts[m],
                             fp_all.rho_jacobian[m], fp_all.rho_astar[m], per, rotation, lyap_max, lyap_se, growth, ev))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _groups(acts) -> tuple:
    """Runs of equal activations: ((Activation, start, stop), ...)."""
    registered = set(activations.names())
    runs, last = [], None
    for i, act in enumerate(acts):
        key = (act.name, tuple(sorted(act.params.items())), None if act.name in registered else id(act.fn))
        if runs and key == last:
            runs[-1][2] = i + 1
        else:
            runs.append([act, i, i + 1])
        last = key
    return tuple(tuple(r) for r in runs)


def _apply_groups(net: NetworkBatch, z: torch.Tensor, fn):
    """Apply ``fn(act, z_slice)`` (a tensor or a tuple) run by run along the network axis (dim -2), concatenated."""
    if len(net.groups) == 1:
        return fn(net.groups[0][0], z)
    parts = [fn(act, z[..., a:b, :]) for act, a, b in net.groups]
    if isinstance(parts[0], tuple):
        return tuple(torch.cat([p[i] for p in parts], dim=-2) for i in range(len(parts[0])))
    return torch.cat(parts, dim=-2)


def _activate(net: NetworkBatch, z: torch.Tensor) -> torch.Tensor:
    return _apply_groups(net, z, lambda act, zz: act(zz))


def _affine(net: NetworkBatch, l: int, h: torch.Tensor, bias: bool = True) -> torch.Tensor:
    """$A_l h + b_l$ in the coordinate-major layout: ``h``: ``(..., n, M, P)`` -> ``(..., n, M, P)``.

    With the coordinate first, each term is a ``(n, M, 1) * (M, P)`` product: much faster than $M$ tiny matmuls.
    """
    cols, b = net.cols[l]
    if cols:
        z = cols[0] * h[..., 0:1, :, :]
        for j in range(1, len(cols)):
            z = z + cols[j] * h[..., j:j + 1, :, :]
    else:
        z = torch.einsum("mij,...jmp->...imp", net.weights[:, l], h)
    return z + b if bias else z


def _run(net: NetworkBatch, x: torch.Tensor, V: torch.Tensor | None = None, mode: str | None = None):
    """The network on points ``x`` ``(n, M, P)`` (coordinate-major), carrying tangents ``V`` ``(T, n, M, P)``.

    ``mode="jacobian"``: tangents are multiplied by $\\sigma'(z)$ at each activation (products with $f'(x)$);
    ``"paper"``/``"shifted"``: by the diagonal of $\\Lambda_z$ of that form, and $b^*$ is accumulated (eq. 7).
    Returns ``(f(x), V, b*)`` (``None`` where not computed).
    """
    from linear_lens.affine import activation_scaling

    K = net.weights.shape[1]
    z = _affine(net, 0, x)
    if V is not None:
        V = _affine(net, 0, V, bias=False)
    b = None
    if mode in ("paper", "shifted"):
        b = net.cols[0][1].expand_as(z)
    for l in range(1, K):
        if mode == "jacobian":
            h, lam = _apply_groups(net, z, _value_and_slope)
        elif mode is None:
            h = _activate(net, z)
        else:
            lam, c = _apply_groups(net, z, lambda act, zz: activation_scaling(act, zz, form=mode))
            h = _activate(net, z)
            b = _affine(net, l, lam * b + c)
        if V is not None:
            V = _affine(net, l, V * lam, bias=False)
        z = _affine(net, l, h)
    return z, V, b


def _forward(net: NetworkBatch, x: torch.Tensor) -> torch.Tensor:
    """:func:`forward` without validation, for inner loops (``x``: ``(M, P, n)``)."""
    return _run(net, x.permute(2, 0, 1))[0].permute(1, 2, 0)


def _jacobian(net: NetworkBatch, x: torch.Tensor):
    """:func:`jacobian` without validation, for inner loops."""
    xt = x.permute(2, 0, 1)
    out, V, _ = _run(net, xt, _unit_tangents(xt), mode="jacobian")
    return out.permute(1, 2, 0), V.permute(2, 3, 1, 0)


def _jvp(net: NetworkBatch, x: torch.Tensor, v: torch.Tensor):
    """:func:`jacobian_vector` without validation, for inner loops."""
    out, V, _ = _run(net, x.permute(2, 0, 1), v.permute(2, 0, 1).unsqueeze(0), mode="jacobian")
    return out.permute(1, 2, 0), V[0].permute(1, 2, 0)


def _unit_tangents(xt: torch.Tensor) -> torch.Tensor:
    """The unit vectors $e_1, \\dots, e_n$ as tangents ``(n, n, M, P)`` for points ``xt`` ``(n, M, P)``."""
    n = xt.shape[0]
    eye = torch.eye(n, dtype=xt.dtype, device=xt.device)
    return eye.view(n, n, 1, 1).expand(n, n, *xt.shape[1:])


def _columns(W: torch.Tensor, B: torch.Tensor) -> tuple:
    """Per layer: the columns of $A_l$ as ``(n, M, 1)`` tensors and $b_l$ as ``(n, M, 1)``, for :func:`_affine`."""
    n = W.shape[-1]
    return tuple((tuple(W[:, l, :, j].T.contiguous().unsqueeze(-1) for j in range(n)) if n <= 4 else (),
                  B[:, l].T.contiguous().unsqueeze(-1)) for l in range(W.shape[1]))


def _value_and_slope(act, z: torch.Tensor):
    """$\\sigma(z)$ (the registry's function) and $\\sigma'(z)$: closed forms for common activations, else autograd."""
    known = _SLOPES.get(act.name)
    if known is not None and (act.name != "softplus" or act.params.get("beta") == 1.0):
        return act(z), known(z)
    with torch.enable_grad():
        zz = z.detach().requires_grad_(True)
        s = act(zz)
        (d,) = torch.autograd.grad(s.sum(), zz)
    return s.detach(), d


def _slope_relu(z):
    return (z > 0).to(z.dtype)


def _slope_tanh(z):
    t = torch.tanh(z)
    return 1 - t * t


def _slope_sigmoid(z):
    s = torch.sigmoid(z)
    return s * (1 - s)


def _slope_softplus(z):
    # the registry's softplus is torch's with threshold 40: linear above it, where sigmoid(z) is 1 to roundoff
    return torch.sigmoid(z)


def _slope_selu(z):
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return torch.where(z > 0, scale, scale * alpha * torch.exp(torch.clamp(z, max=0.0)))


def _slope_gelu(z):
    return 0.5 * torch.erfc(-z / math.sqrt(2.0)) + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


# sigma'(z) in closed form for the activations of the paper's sweep; each is checked against autograd in the tests
_SLOPES = {"relu": _slope_relu, "tanh": _slope_tanh, "sigmoid": _slope_sigmoid, "softplus": _slope_softplus,
           "selu": _slope_selu, "gelu": _slope_gelu}


def _points(net: NetworkBatch, x) -> torch.Tensor:
    """Validate points ``(P, n)`` or ``(M, P, n)`` (finite, real) and return them ``(M, P, n)`` in the weights'
    dtype and device."""
    x = as_float_tensor(x, "x")
    if x.ndim == 2:
        x = x.unsqueeze(0).expand(net.size, *x.shape)
    if x.ndim != 3 or x.shape[0] != net.size or x.shape[-1] != net.n:
        raise ValueError(f"x: expected (P, {net.n}) or ({net.size}, P, {net.n}), got shape {tuple(x.shape)}")
    return x.to(dtype=net.weights.dtype, device=net.weights.device)


def _subset(net: NetworkBatch, model: torch.Tensor) -> NetworkBatch:
    """The networks ``model`` (a sorted int64 tensor, repeats allowed), one per entry; activation runs preserved."""
    run = torch.zeros(net.size, dtype=torch.int64)
    for r, (_, a, b) in enumerate(net.groups):
        run[a:b] = r
    runs, counts = torch.unique_consecutive(run[model.cpu()], return_counts=True)
    groups, start = [], 0
    for r, c in zip(runs.tolist(), counts.tolist()):
        groups.append((net.groups[r][0], start, start + c))
        start += c
    acts = tuple(g[0] for g in groups for _ in range(g[2] - g[1]))
    m = model.to(net.weights.device)
    return NetworkBatch(net.weights[m], net.biases[m], acts, net.has_bias[m], net.convention, net.depth,
                        tuple(groups))


def _newton(net: NetworkBatch, x: torch.Tensor, model: torch.Tensor, tol: float, max_iter: int):
    """Damped Newton on $f(x) - x$ for points ``x`` ``(Q, n)`` of networks ``model`` ``(Q,)`` (sorted); see
    :func:`fixed_points`. Only the points not yet converged are computed on. Returns ``(x, residual)``."""
    n = x.shape[-1]
    eye = torch.eye(n, dtype=x.dtype, device=x.device)

    def resid(sub, v):
        F = _forward(sub, v.unsqueeze(1))[:, 0] - v
        r = F.abs().amax(-1)
        return F, torch.where(torch.isfinite(r), r, torch.full_like(r, float("inf")))

    x = x.clone()
    _, res = resid(_subset(net, model), x)
    for _ in range(max_iter):
        active = torch.nonzero(res > tol * (1 + x.abs().amax(-1))).flatten()
        if active.numel() == 0:
            break
        sub = _subset(net, model[active])
        xa, ra = x[active], res[active]
        Fa, _ = resid(sub, xa)
        _, J = _jacobian(sub, xa.unsqueeze(1))
        step, info = torch.linalg.solve_ex(J[:, 0] - eye, Fa.unsqueeze(-1))
        step = step.squeeze(-1)
        ok = (info == 0) & torch.isfinite(step).all(-1)
        step = torch.where(ok.unsqueeze(-1), step, torch.zeros_like(step))
        new_x = Fa + xa  # fallback: a plain step x <- f(x)
        _, new_r = resid(sub, new_x)
        pending, t = ok, 1.0
        for _ in range(9):
            if not bool(pending.any()):
                break
            trial = xa - t * step
            _, tr = resid(sub, trial)
            better = pending & (tr < ra)
            new_x = torch.where(better.unsqueeze(-1), trial, new_x)
            new_r = torch.where(better, tr, new_r)
            pending = pending & ~better
            t /= 2
        x[active], res[active] = new_x, new_r
    return x, res


def _unique_points(pts: torch.Tensor, tol: float) -> torch.Tensor:
    """Greedy merge of points closer than ``tol * (1 + |p|)`` (max norm); sorted by norm, then by coordinates."""
    if pts.shape[0] == 0:
        return pts
    arr = pts.detach().cpu().numpy()
    keep = [0]
    for i in range(1, arr.shape[0]):
        p = arr[i]
        if (np.abs(arr[keep] - p).max(axis=-1) > tol * (1 + np.abs(p).max())).all():
            keep.append(i)
    kept = arr[keep]
    order = np.lexsort([kept[:, j] for j in range(kept.shape[1] - 1, -1, -1)]
                       + [np.round(np.linalg.norm(kept, axis=-1), 9)])
    return pts[torch.as_tensor(np.asarray(keep)[order], device=pts.device)]
