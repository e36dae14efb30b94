r"""Fields of matrices over a grid of states: $A^*(x)$, $b^*(x)$, their spectra, and linear regions.

A batch of networks $\mathbb{R}^n \to \mathbb{R}^n$ (:class:`linear_lens.networks.NetworkBatch`, eqs. 3 and 6 of
Drgoňa et al., 2020) is evaluated at every point of a grid in one pass:

- $A^*(x)$ and $b^*(x)$ of Lemma 3 (:func:`affine_field`, the recursion of :func:`linear_lens.affine.pointwise_affine`
  batched across networks with different activations);
- eigenvalues of square matrices, in closed form for $2 \times 2$ ones (:func:`eigenvalues`, the one closed form of
  the package, which :func:`linear_lens.stability.spectral_radius` uses too), spectral radius and spectral norm
  (:func:`spectral_field`);
- for piecewise-linear activations the activation pattern that labels the linear regions
  (:func:`activation_pattern`, :func:`count_regions`, :func:`count_sectors`, :func:`region_bound`), and the
  continuity of a gridded field (:func:`max_jump`).

The orbits and fixed points of the same networks are in :mod:`linear_lens.dynamics`, their attractors in
:mod:`linear_lens.attractors`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from linear_lens._checks import as_float_tensor, check_finite, check_positive_int
from linear_lens.networks import NetworkBatch, _affine, _apply_groups, _points

__all__ = [
    "affine_field",
    "eigenvalues",
    "SpectralField",
    "spectral_field",
    "dominant_eigenvector",
    "activation_pattern",
    "count_regions",
    "count_sectors",
    "region_bound",
    "max_jump",
]


def affine_field(net: NetworkBatch, x, *, form: str = "paper") -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return $A^*(x)$ and $b^*(x)$ with $f(x) = A^*(x)x + b^*(x)$ for every network and point (Lemma 3).

    $A^*(x) = A_L \Lambda_{z_L} A_{L-1} \cdots \Lambda_{z_1} A_0$ (eq. 5), $b^*$ by the recursion of eq. (7) with the
    offsets of ``form`` (``"paper"``: $\Lambda = \operatorname{diag}(\sigma(z_i)/z_i)$, eq. 4; ``"shifted"``:
    $\Lambda = \operatorname{diag}((\sigma(z_i) - \sigma(0))/z_i)$ with $\sigma(0)$ moved into $b^*$): the code of
    :func:`linear_lens.affine.pointwise_affine`, run on the whole batch, each run of networks with its own
    activation. ``x``: ``(P, n)`` or ``(M, P, n)``. Returns ``A``: ``(M, P, n, n)`` and ``b``: ``(M, P, n)``.
    Entries of the paper's form next to a pole ($\sigma(0) \ne 0$, errata E01.2) are returned as computed,
    ``inf`` included.
    """
    from linear_lens.affine import FORMS, _compose, _value_and_scaling

    if form not in FORMS:
        raise ValueError(f"form: expected one of {', '.join(FORMS)}, got {form!r}")
    xm = _points(net, x)

    def value_and_scaling(z):
        return _apply_groups(net, z, lambda act, zz: _value_and_scaling(act, zz, form), dim=0)

    A, b, _ = _compose(net.weights, net.biases, xm, value_and_scaling)
    return A, b


def eigenvalues(A) -> torch.Tensor:
    r"""Return the eigenvalues of square real matrices, batched: ``(..., n, n)`` -> complex ``(..., n)``.

    For $n = 2$ in closed form, written so that nothing is squared: with $m = (a_{11} + a_{22})/2$,
    $p = |a_{11} - a_{22}|/2$ and $q = \sqrt{|a_{12}|}\sqrt{|a_{21}|}$, the pair is $m \pm r$ with
    $r = \sqrt{p^2 + q^2}$ (``hypot``) if $a_{12}a_{21} \ge 0$, $r = \sqrt{(p - q)(p + q)}$ if $a_{12}a_{21} < 0$ and
    $q \le p$, and $m \pm i\sqrt{(q - p)(q + p)}$ otherwise. Of a real pair the one of larger modulus,
    $\mu = m + \operatorname{sign}(m)\,r$, is free of cancellation, and the other is $\det A/\mu$, formed as
    $(a_{11}/\mu)\,a_{22} - \operatorname{sign}(a_{12}a_{21})\,q\,(q/\mu)$ ($|a_{11}/\mu| \le 2$, $q \le |\mu|$), so
    no intermediate overflows or underflows unless an eigenvalue does (entries up to about $10^{307}$ and down to
    the subnormals in float64). Order: larger modulus first, $+i$ first for a complex pair. The branches meet
    continuously. Checked against LAPACK and ``mpmath`` in the tests. For $n \ne 2$, ``torch.linalg.eigvals``
    (on the CPU, which is faster than GPU solvers for small matrices).

    ``A``: real, float32 or float64 (integers are computed in float64). Raises ``ValueError`` for non-square,
    non-finite, complex, boolean or ``None`` input.
    """
    A = _check_square(A)
    if A.shape[-1] == 2:
        return _eigenvalues2x2(A, _eig2x2(A))
    return _eigenvalues(A)


@dataclass(frozen=True)
class SpectralField:
    r"""Spectral quantities of a field of matrices $A^*(x)$ (:func:`spectral_field`).

    ``eigenvalues``: complex ``(..., n)``; ``rho``: the spectral radius $\max_i|\lambda_i|$, ``(...)``; ``norm``:
    the spectral norm $\lVert A\rVert_2$ (largest singular value), ``(...)``. Always $\rho \le \lVert A\rVert_2$.
    """

    eigenvalues: torch.Tensor
    rho: torch.Tensor
    norm: torch.Tensor


def spectral_field(A) -> SpectralField:
    r"""Return eigenvalues, spectral radius $\rho(A)$ (Definition 5) and spectral norm of ``A``: ``(..., n, n)``.

    For $n = 2$ all three are closed forms (:func:`eigenvalues`; $\rho$ is $|m| + r$ for a real pair and
    $\sqrt{m^2 + r_i^2}$ for a complex one, as in :func:`linear_lens.stability.spectral_radius`;
    $\lVert A\rVert_2 = (\sqrt{(a+d)^2 + (b-c)^2} + \sqrt{(a-d)^2 + (b+c)^2})/2$), so a field over a grid for
    hundreds of models is a few elementwise operations.
    """
    A = _check_square(A)
    if A.shape[-1] == 2:
        parts = _eig2x2(A)
        lam = _eigenvalues2x2(A, parts)
        m, r, w, real = parts[:4]
        rho = torch.where(real, m.abs() + r, torch.hypot(m, w))
        a, b, c, d = A[..., 0, 0], A[..., 0, 1], A[..., 1, 0], A[..., 1, 1]
        norm = (torch.hypot(a + d, b - c) + torch.hypot(a - d, b + c)) / 2
    else:
        lam = _eigenvalues(A)
        rho = lam.abs().amax(dim=-1)
        norm = torch.linalg.matrix_norm(A, ord=2)
    return SpectralField(lam, rho, norm)


def dominant_eigenvector(A) -> torch.Tensor:
    r"""Return a unit eigenvector of the eigenvalue of largest modulus of each matrix, batched.

    ``A``: ``(..., n, n)`` real. Returns complex ``(..., n)`` with $\lVert v\rVert_2 = 1$, from
    ``torch.linalg.eig`` (an eigenvector is defined up to a complex factor of modulus 1: compare directions with
    $|u^* v|$). Where several eigenvalues share the largest modulus, the first LAPACK returns.
    Raises ``ValueError`` as :func:`eigenvalues` does.
    """
    A = _check_square(A)
    vals, vecs = torch.linalg.eig(A)
    pick = vals.abs().argmax(-1)[..., None, None].expand(*vecs.shape[:-1], 1)
    v = vecs.gather(-1, pick)[..., 0]
    return v / v.norm(dim=-1, keepdim=True)


# ---------------------------------------------------------------------------------------------------------------
# Linear regions and the continuity of fields
# ---------------------------------------------------------------------------------------------------------------


def activation_pattern(net: NetworkBatch, x) -> torch.Tensor:
    r"""Return the activation pattern at each point: one bit per hidden unit, set where its pre-activation is $> 0$.

    For a piecewise-linear activation with one kink at $0$ (ReLU, LeakyReLU, ...) the pattern is constant exactly on
    the linear regions of $f$ (where $A^*$ and $b^*$ are constant); for other activations it labels the cells cut by
    the zero sets of the pre-activations, where $A^*$ of eq. (4) is undefined (errata E01.1). At most 62 units.
    ``x``: ``(P, n)`` or ``(M, P, n)``. Returns int64 ``(M, P)``.
    """
    h = _points(net, x).permute(2, 0, 1)
    hidden = net.widths[1:-1]
    if sum(hidden) > 62:
        raise ValueError(f"net: the pattern holds at most 62 hidden units in an int64, this network has {sum(hidden)}")
    code = torch.zeros(h.shape[1:], dtype=torch.int64, device=h.device)
    bit = 0
    for l, width in enumerate(hidden):
        z = _affine(net, l, h)
        for i in range(width):
            code = code | ((z[i] > 0).to(torch.int64) << bit)
            bit += 1
        h = _apply_groups(net, z, lambda act, zz: act(zz))
    return code


def count_regions(codes, *, connectivity: int = 8, min_cells: int = 1):
    r"""Count the connected regions of equal label in a 2-D grid of labels, or in each of a batch of grids.

    ``codes``: ``(rows, cols)`` integer labels, e.g. :func:`activation_pattern` on a regular grid reshaped, or
    ``(..., rows, cols)`` for several grids; ``connectivity``: 4 (edge neighbours) or 8 (edges and corners: a thin
    diagonal wedge stays one region); ``min_cells``: components with fewer cells are not counted (stray cells where
    many regions meet, such as the apex of the cones of a network without bias). A region thinner than the spacing
    can still be missed: compare resolutions. Returns an ``int`` for one grid, an int64 tensor ``(...)`` for a batch.
    """
    from scipy import ndimage

    if codes is None or isinstance(codes, (str, bytes)):
        raise ValueError(f"codes: expected an array, got {type(codes).__name__}")
    codes = torch.as_tensor(codes)
    if codes.ndim < 2 or codes.dtype.is_floating_point or codes.dtype == torch.bool:
        raise ValueError(f"codes: expected a 2-D integer grid of labels (or a batch of them), got {codes.dtype} "
                         f"{tuple(codes.shape)}")
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity: expected 4 or 8, got {connectivity!r}")
    min_cells = check_positive_int(min_cells, "min_cells")
    structure = np.ones((3, 3)) if connectivity == 8 else None
    grids = codes.reshape(-1, *codes.shape[-2:]).cpu().numpy()
    totals = []
    for arr in grids:
        total = 0
        for value in np.unique(arr):
            labels, k = ndimage.label(arr == value, structure=structure)
            if k:
                sizes = np.bincount(labels.ravel())[1:]
                total += int((sizes >= min_cells).sum())
        totals.append(total)
    if codes.ndim == 2:
        return totals[0]
    return torch.tensor(totals, dtype=torch.int64).reshape(codes.shape[:-2])


def count_sectors(codes) -> int:
    r"""Count the maximal runs of equal labels along a closed loop (the last label is next to the first).

    For a network without bias and a positively homogeneous activation (ReLU), $f(tx) = tf(x)$ for $t > 0$ and the
    linear regions are cones from the origin: labelling a fine circle around it with :func:`activation_pattern`
    counts them exactly, up to sectors narrower than the angular spacing. ``codes``: ``(K,)``. A loop with a
    single label counts 1.
    """
    if codes is None or isinstance(codes, (str, bytes)):
        raise ValueError(f"codes: expected an array, got {type(codes).__name__}")
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
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise ValueError(f"widths: expected a list of positive integers, got {type(widths).__name__}")
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


def max_jump(field) -> torch.Tensor:
    r"""Return the largest difference between horizontally or vertically adjacent values of a gridded field.

    ``field``: ``(..., rows, cols)``. Returns ``(...)``. For a continuous field on a compact domain it tends to $0$
    as the grid is refined (about halving with the spacing for a Lipschitz field); across a discontinuity it does not.
    """
    if field is None or isinstance(field, (str, bytes)):
        raise ValueError(f"field: expected an array of real numbers, got {type(field).__name__}")
    f = torch.as_tensor(field)
    if f.is_complex() or f.dtype == torch.bool:
        raise ValueError(f"field: expected real numbers, got {f.dtype}")
    if f.is_floating_point():
        check_finite(f, "field")
    if f.ndim < 2:
        raise ValueError(f"field: expected (..., rows, cols), got shape {tuple(f.shape)}")
    dx = (f[..., :, 1:] - f[..., :, :-1]).abs().flatten(-2).amax(-1)
    dy = (f[..., 1:, :] - f[..., :-1, :]).abs().flatten(-2).amax(-1)
    return torch.maximum(dx, dy)


# ---------------------------------------------------------------------------------------------------------------
# Private helpers: the 2 x 2 closed form
# ---------------------------------------------------------------------------------------------------------------


def _check_square(A) -> torch.Tensor:
    A = as_float_tensor(A, "A")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A: eigenvalues need square matrices (..., n, n), got shape {tuple(A.shape)}")
    if A.shape[-1] == 0:
        raise ValueError("A: eigenvalues need matrices of size n >= 1, got n = 0")
    return A


def _eigenvalues(A: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of validated square matrices other than 2 x 2."""
    if A.shape[-1] == 1:
        return torch.complex(A[..., 0, :], torch.zeros_like(A[..., 0, :]))
    return torch.linalg.eigvals(A.cpu()).to(A.device)


def _eigenvalues2x2(A: torch.Tensor, parts) -> torch.Tensor:
    """The eigenvalues of 2 x 2 matrices from the pieces of :func:`_eig2x2`; see :func:`eigenvalues`."""
    m, r, w, real, sign_bc, q = parts
    mu = m + torch.copysign(r, m)
    nonzero = mu != 0
    safe = torch.where(nonzero, mu, torch.ones_like(mu))
    other = torch.where(nonzero, (A[..., 0, 0] / safe) * A[..., 1, 1] - sign_bc * q * (q / safe), torch.zeros_like(mu))
    re1, re2 = torch.where(real, mu, m), torch.where(real, other, m)
    im1 = torch.where(real, torch.zeros_like(w), w)
    return torch.stack([torch.complex(re1, im1), torch.complex(re2, -im1)], dim=-1)


def _eig2x2(A: torch.Tensor):
    """The pieces of the 2 x 2 closed form of :func:`eigenvalues`: ``(m, r, w, real, sign_bc, q)`` with the
    eigenvalues ``m +- r`` where ``real``, ``m +- i w`` elsewhere; ``sign_bc`` = sign(a12 a21) (+1 for 0)."""
    a, b, c, d = A[..., 0, 0], A[..., 0, 1], A[..., 1, 0], A[..., 1, 1]
    m = 0.5 * a + 0.5 * d  # halves first: a + d may overflow
    p = (0.5 * a - 0.5 * d).abs()
    q = b.abs().sqrt() * c.abs().sqrt()  # sqrt|bc| without forming bc
    same_sign = (b >= 0) == (c >= 0)  # bc >= 0, zeros included
    real = same_sign | (q <= p)
    r_same = torch.hypot(p, q)
    r_diff = (p - q).clamp(min=0).sqrt() * (p + q).sqrt()  # real pair, bc < 0, q <= p
    r = torch.where(same_sign, r_same, r_diff)
    w = (q - p).clamp(min=0).sqrt() * (q + p).sqrt()  # imaginary part of a complex pair
    sign_bc = torch.where(same_sign, torch.ones_like(m), -torch.ones_like(m))
    return m, r, w, real, sign_bc, q


def _rho2x2(A: torch.Tensor) -> torch.Tensor:
    """The spectral radius of real 2 x 2 matrices from :func:`_eig2x2`: |m| + r (real pair), hypot(m, w) else."""
    m, r, w, real, _, _ = _eig2x2(A)
    return torch.where(real, m.abs() + r, torch.hypot(m, w))
