r"""Spectral promises of the constrained weights of Appendix B of Drgoňa et al. (2020), and how far draws fall outside.

Each factorisation of :mod:`linear_lens.linear_maps` whose promise is stated through $(\lambda_{\min},
\lambda_{\max})$ (:data:`FACTORISATIONS`) guarantees a region of the complex plane for the eigenvalues of its weight
$W$. The guarantees, in the form proved in chapter 4 of the book (for the first two the seed claims more: errata
E04.1 and E04.2):

- ``"perron_frobenius"``: some eigenvalue of largest modulus is real and lies in the segment
  $[\lambda_{\min}, \lambda_{\max}]$ (when $\lambda_{\min} \ge 0$ or $\lambda_{\max} \le 0$); the others only lie in
  the disc $|z| \le \rho(W)$;
- ``"spectral_svd"``: every singular value and every $|\lambda|$ lies in $[a, b]$, $a = \min |t|$,
  $b = \max |t|$ over $t \in [\lambda_{\min}, \lambda_{\max}]$: an annulus, not the real interval;
- ``"gershgorin_real"``: every eigenvalue real, in $[\lambda_{\min}, \lambda_{\max}]$;
- ``"gershgorin_complex"``: every eigenvalue in the disc of centre $(\lambda_{\min} + \lambda_{\max})/2$ and radius
  $(\lambda_{\max} - \lambda_{\min})/2$.

:func:`guaranteed_region` returns each region as a :class:`Region` (a real segment or an annulus);
:func:`annulus_excess` and :func:`interval_excess` give how far points lie outside one (zero inside);
:func:`promise_excess` measures the spectrum of a weight against its promise, and :func:`worst_excess` takes the
worst over many draws (:func:`sample`) of many sizes; :func:`eigenvalue_clouds` collects the eigenvalues of draws
for plots. :func:`gershgorin_discs` returns the discs of the Gershgorin circle theorem (Horn and Johnson, 2012,
Thm. 6.1.1), and :func:`stability_verdict` classifies spectral radii against Theorem 6's $\rho \le 1$. The
skew-symmetric and Hamiltonian weights, whose spectra lie on lines, are described in :mod:`linear_lens.linear_maps`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from linear_lens._checks import as_float_tensor, check_positive_int, check_real
from linear_lens.linear_maps import _check_lams, _square, gershgorin, perron_frobenius, spectral_svd
from linear_lens.progress import progress

__all__ = [
    "FACTORISATIONS",
    "gershgorin_discs",
    "Region",
    "guaranteed_region",
    "annulus_excess",
    "interval_excess",
    "promise_excess",
    "worst_excess",
    "stability_verdict",
    "sample",
    "eigenvalue_clouds",
]

#: Factorisations whose promise is stated in terms of $(\lambda_{\min}, \lambda_{\max})$ (see :func:`promise_excess`).
FACTORISATIONS = ("perron_frobenius", "spectral_svd", "gershgorin_real", "gershgorin_complex")


# ---------------------------------------------------------------------------------------------------------------
# Checking the promises
# ---------------------------------------------------------------------------------------------------------------


def gershgorin_discs(W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return the Gershgorin row discs of ``W``: centres $w_{ii}$ and radii $R_i = \sum_{j \ne i} |w_{ij}|$.

    By the Gershgorin circle theorem (Horn and Johnson, 2012, Thm. 6.1.1) every eigenvalue of $W$ lies in the union
    of the discs $|z - w_{ii}| \le R_i$. ``W``: ``(..., n, n)``. Returns two ``(..., n)`` tensors.
    """
    W = _square(W, "W")
    centres = torch.diagonal(W, dim1=-2, dim2=-1)
    radii = W.abs().sum(dim=-1) - centres.abs()
    return centres, radii


@dataclass(frozen=True)
class Region:
    r"""A closed region of the complex plane: a real segment or an annulus.

    ``kind="segment"``: the segment $[\text{lo}, \text{hi}]$ of the real axis. ``kind="annulus"``:
    $r_{\text{in}} \le |z - c| \le r_{\text{out}}$ with $c$ = ``centre`` (a disc when ``r_in = 0``).
    """

    kind: str
    lo: float = 0.0
    hi: float = 0.0
    centre: float = 0.0
    r_in: float = 0.0
    r_out: float = 0.0

    def excess(self, z: torch.Tensor) -> torch.Tensor:
        """Distance from each point of ``z`` (real or complex, any shape) to the region; zero inside."""
        if self.kind == "segment":
            return interval_excess(z, self.lo, self.hi)
        return annulus_excess(z, self.r_in, self.r_out, self.centre)


def guaranteed_region(name: str, lam_min: float, lam_max: float) -> Region:
    r"""Return the region that factorisation ``name`` guarantees for its eigenvalues (see :func:`promise_excess`).

    ``"gershgorin_real"``: the segment $[\lambda_{\min}, \lambda_{\max}]$; ``"gershgorin_complex"``: the disc of
    centre $(\lambda_{\min} + \lambda_{\max})/2$ and radius $(\lambda_{\max} - \lambda_{\min})/2$;
    ``"spectral_svd"``: the annulus $a \le |z| \le b$, $a = \min |t|$, $b = \max |t|$ over
    $t \in [\lambda_{\min}, \lambda_{\max}]$ (it also holds the singular values);
    ``"perron_frobenius"``: the segment $[\lambda_{\min}, \lambda_{\max}]$, for a dominant eigenvalue only.
    """
    if name not in FACTORISATIONS:
        raise ValueError(f"name: expected one of {', '.join(FACTORISATIONS)}, got {name!r}")
    lam_min, lam_max = _check_lams(lam_min, lam_max)
    if name in ("perron_frobenius", "gershgorin_real"):
        return Region("segment", lo=lam_min, hi=lam_max)
    if name == "gershgorin_complex":
        return Region("annulus", centre=(lam_min + lam_max) / 2, r_out=(lam_max - lam_min) / 2)
    a = 0.0 if lam_min <= 0 <= lam_max else min(abs(lam_min), abs(lam_max))
    return Region("annulus", r_in=a, r_out=max(abs(lam_min), abs(lam_max)))


def annulus_excess(z: torch.Tensor, r_in: float, r_out: float, centre=0.0) -> torch.Tensor:
    r"""Return how far each point lies outside the annulus $r_{\text{in}} \le |z - c| \le r_{\text{out}}$ (0 inside).

    A disc is ``r_in = 0``. ``z``: real or complex, any shape; ``centre`` $= c$: a number or a tensor broadcasting
    against ``z``. Returns a real tensor of the broadcast shape.
    """
    r_in, r_out = check_real(r_in, "r_in"), check_real(r_out, "r_out")
    if not 0 <= r_in <= r_out:
        raise ValueError(f"r_in: need 0 <= r_in <= r_out, got r_in={r_in}, r_out={r_out}")
    zt = as_float_tensor(z, "z", allow_complex=True)
    z = z if isinstance(z, torch.Tensor) else zt  # validated; a tensor is used as given
    as_float_tensor(centre, "centre", allow_complex=True)
    d = (z - centre).abs()
    return torch.relu(d - r_out) + torch.relu(r_in - d)


def interval_excess(z: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    r"""Return the distance from each point ``z`` (real or complex) to the real segment $[\text{lo}, \text{hi}]$."""
    lo, hi = _check_lams(lo, hi, names=("lo", "hi"))
    zt = as_float_tensor(z, "z", allow_complex=True)
    z = z if isinstance(z, torch.Tensor) else zt  # validated; a tensor is used as given
    re = z.real if z.is_complex() else z
    return (z - re.clamp(lo, hi)).abs()


def promise_excess(name: str, W: torch.Tensor, lam_min: float, lam_max: float) -> torch.Tensor:
    r"""Return, per matrix, how far the spectrum of ``W`` is from what factorisation ``name`` guarantees (0: kept).

    The guarantees (proved in chapter 4; they are the corrected forms of the seed's statements):

    - ``"perron_frobenius"``: some eigenvalue of largest modulus, $|\lambda^*| = \rho(W)$, is real and lies in
      $[\lambda_{\min}, \lambda_{\max}]$ (it is the Perron root when $\lambda_{\min} \ge 0$, minus that of $-W$ when
      $\lambda_{\max} \le 0$; no promise when $\lambda_{\min} < 0 < \lambda_{\max}$). Returns
      $\min_i \big(\rho - |\lambda_i| + d(\lambda_i, [\lambda_{\min}, \lambda_{\max}])\big)$.
    - ``"spectral_svd"``: every singular value, and every $|\lambda|$, lies in $[a, b]$ with $a = \min |t|$,
      $b = \max |t|$ over $t \in [\lambda_{\min}, \lambda_{\max}]$. Returns the largest distance outside.
    - ``"gershgorin_complex"``: every eigenvalue in the disc $|z - \lambda| \le r$.
    - ``"gershgorin_real"``: every eigenvalue real and in $[\lambda_{\min}, \lambda_{\max}]$.

    ``W``: ``(..., n, n)``. Returns ``(...)``, real.
    """
    region = guaranteed_region(name, lam_min, lam_max)
    W = _square(W, "W")
    eig = torch.linalg.eigvals(W)
    if name == "perron_frobenius":
        rho = eig.abs().amax(dim=-1, keepdim=True)
        return ((rho - eig.abs()) + region.excess(eig)).amin(dim=-1)
    worst = region.excess(eig).amax(dim=-1)
    if name == "spectral_svd":
        worst = torch.maximum(worst, region.excess(torch.linalg.svdvals(W)).amax(dim=-1))
    return worst


def worst_excess(
    name: str, sizes: Sequence[int], lam_min: float, lam_max: float, draws: int = 500, generator=None
) -> torch.Tensor:
    r"""Return, for each size in ``sizes``, the largest :func:`promise_excess` over ``draws`` random weights.

    Weights come from the matching sampler (:func:`sample`; ``gershgorin_real``/``gershgorin_complex``:
    :func:`~linear_lens.linear_maps.gershgorin` with ``real`` true/false). Returns ``(len(sizes),)`` float64.
    """
    draws = check_positive_int(draws, "draws")
    if name not in FACTORISATIONS:
        raise ValueError(f"name: expected one of {', '.join(FACTORISATIONS)}, got {name!r}")
    out = []
    for n in progress(sizes, desc=f"{name} ({lam_min}, {lam_max})"):
        W = sample(name, n, lam_min, lam_max, draws, generator)
        out.append(promise_excess(name, W, lam_min, lam_max).amax())
    return torch.stack(out)


def stability_verdict(rho: torch.Tensor, tol: float = 1e-12) -> str:
    r"""Classify a family of linear layers by their spectral radii $\rho$ against Theorem 6's $\rho \le 1$.

    ``rho`` holds one spectral radius per draw.

    Returns ``"asymptotically stable (ρ < 1)"`` if every $\rho < 1 - \text{tol}$; ``"marginal (ρ = 1)"`` if every
    $|\rho - 1| \le \text{tol}$; ``"stable (ρ ≤ 1)"`` if every $\rho \le 1 + \text{tol}$ otherwise;
    ``"unstable (ρ > 1)"`` if every $\rho > 1 + \text{tol}$; else ``"mixed (ρ on both sides of 1)"``.
    ``rho``: any shape, at least one entry.
    """
    rho = as_float_tensor(rho, "rho")
    tol = check_real(tol, "tol")
    if rho.numel() == 0:
        raise ValueError("rho: need at least one spectral radius")
    if tol < 0:
        raise ValueError(f"tol: must be nonnegative, got {tol}")
    if bool((rho < 0).any()):
        raise ValueError("rho: spectral radii are nonnegative, got a negative entry")
    lo, hi = float(rho.min()), float(rho.max())
    if hi < 1 - tol:
        return "asymptotically stable (ρ < 1)"
    if lo >= 1 - tol and hi <= 1 + tol:
        return "marginal (ρ = 1)"
    if hi <= 1 + tol:
        return "stable (ρ ≤ 1)"
    if lo > 1 + tol:
        return "unstable (ρ > 1)"
    return "mixed (ρ on both sides of 1)"


def sample(name: str, n: int, lam_min: float, lam_max: float, draws: int = 1, generator=None) -> torch.Tensor:
    r"""Draw ``draws`` weights of size ``n`` from factorisation ``name`` (one of :data:`FACTORISATIONS`).

    ``gershgorin_real``/``gershgorin_complex`` call :func:`~linear_lens.linear_maps.gershgorin` with ``real``
    true/false; the others call :func:`~linear_lens.linear_maps.perron_frobenius` and
    :func:`~linear_lens.linear_maps.spectral_svd`. Returns ``(draws, n, n)`` float64.
    """
    if name not in FACTORISATIONS:
        raise ValueError(f"name: expected one of {', '.join(FACTORISATIONS)}, got {name!r}")
    draws = check_positive_int(draws, "draws")
    if name == "perron_frobenius":
        return perron_frobenius(n, lam_min, lam_max, batch=draws, generator=generator)
    if name == "spectral_svd":
        return spectral_svd(n, lam_min, lam_max, batch=draws, generator=generator)
    return gershgorin(n, lam_min, lam_max, real=name == "gershgorin_real", batch=draws, generator=generator)


def eigenvalue_clouds(
    names: Sequence[str], ranges: Sequence[tuple[float, float]], n: int, draws: int = 100, generator=None
) -> torch.Tensor:
    r"""Return the eigenvalues of ``draws`` random weights per factorisation and range, as one tensor.

    ``names``: factorisations (see :func:`sample`); ``ranges``: pairs $(\lambda_{\min}, \lambda_{\max})$.
    Returns a complex tensor ``(len(names), len(ranges), draws, n)``.
    """
    n, draws = check_positive_int(n, "n"), check_positive_int(draws, "draws")
    for value, label in ((names, "names"), (ranges, "ranges")):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or not len(value):
            raise ValueError(f"{label}: expected a non-empty list, got {value!r}")
    if not all(hasattr(r, "__len__") and len(r) == 2 for r in ranges):
        raise ValueError(f"ranges: expected pairs (lam_min, lam_max), got {ranges!r}")
    out = torch.empty(len(names), len(ranges), draws, n, dtype=torch.complex128)
    for i, name in enumerate(names):
        for j, (lo, hi) in enumerate(ranges):
            out[i, j] = torch.linalg.eigvals(sample(name, n, lo, hi, draws, generator))
    return out
