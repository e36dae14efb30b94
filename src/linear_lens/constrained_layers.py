r"""Trainable layers with constrained spectra: ``nn.Module`` forms of the weights of Drgoňa et al. (2020), Appendix B.

Each layer is a square linear map $x \mapsto \tilde A x$ (no bias) whose weight $\tilde A$ is, at every call, the
pure function of its free parameters given in :mod:`linear_lens.linear_maps`, so that gradient descent on the
parameters keeps $\tilde A$ inside the factorisation's set:

- :class:`PerronFrobeniusLinear`: eq. (21), parameters $A'$, $M'$
  (:func:`~linear_lens.linear_maps.perron_frobenius_weight`);
- :class:`SpectralLinear`: eq. (23), parameters $U$, $s$, $V$ (:func:`~linear_lens.linear_maps.spectral_weight`),
  with the orthogonality penalty of eq. (22) as its regulariser;
- :class:`SkewSymmetricLinear`: eq. (24), parameter $L$ (:func:`~linear_lens.linear_maps.skew_symmetric_weight`);
- :class:`HamiltonianLinear`: eq. (25), parameter $A$ (:func:`~linear_lens.linear_maps.hamiltonian_weight`);
- :class:`GershgorinLinear`: eq. (26) with row sums, parameter $M$ (:func:`~linear_lens.linear_maps.gershgorin_weight`).

A layer built with a generator draws its parameters as the matching sampler of :mod:`linear_lens.linear_maps`
does: a sampler and the layer built with an equally seeded generator give the same weight.
:func:`fit_linear` trains a layer by Adam to imitate a given linear map; whether the trained weight keeps its
promise is measured with :func:`linear_lens.spectral_promises.promise_excess` (chapter 4 of the book).
``lam_min``, ``lam_max`` are $\lambda_{\min} \le \lambda_{\max}$, as in :mod:`linear_lens.linear_maps`.
"""

from __future__ import annotations

import torch
from torch import nn

from linear_lens._checks import as_generator, check_float_dtype, check_positive_int, check_real
from linear_lens._threads import single_thread
from linear_lens.linear_maps import (
    _check_lams,
    _draw_gaussian,
    _draw_gershgorin,
    _draw_perron_frobenius,
    _draw_spectral,
    _square,
    gershgorin_weight,
    hamiltonian_weight,
    orthogonality_penalty,
    perron_frobenius_weight,
    skew_symmetric_weight,
    spectral_weight,
)
from linear_lens.progress import progress

__all__ = [
    "PerronFrobeniusLinear",
    "SpectralLinear",
    "SkewSymmetricLinear",
    "HamiltonianLinear",
    "GershgorinLinear",
    "fit_linear",
]


# ---------------------------------------------------------------------------------------------------------------
# Layers: nn.Modules whose weight is the pure map of their parameters
# ---------------------------------------------------------------------------------------------------------------


class _ConstrainedLinear(nn.Module):
    """A square linear layer $x \\mapsto \\tilde A x$ (no bias) whose weight is computed from free parameters."""

    n: int

    @property
    def weight(self) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply $\\tilde A$ to ``x``: ``(..., n)`` -> ``(..., n)``."""
        if x.shape[-1:] != (self.n,):
            raise ValueError(f"x: last dimension must be n = {self.n}, got shape {tuple(x.shape)}")
        return x @ self.weight.mT

    def regulariser(self) -> torch.Tensor:
        """The penalty to add to the training loss (zero: the constraint holds by construction)."""
        p = next(self.parameters())
        return p.new_zeros(())


class PerronFrobeniusLinear(_ConstrainedLinear):
    r"""Layer with the Perron-Frobenius weight of eq. (21); parameters ``A_raw`` $= A'$ and ``M_raw`` $= M'$."""

    def __init__(self, n, lam_min, lam_max, *, generator=None, dtype=torch.float64, device=None):
        super().__init__()
        generator, dtype = as_generator(generator), check_float_dtype(dtype)
        A_raw, M_raw = _draw_perron_frobenius(n, lam_min, lam_max, (), generator, dtype, device)
        self.n, self.lam_min, self.lam_max = A_raw.shape[-1], float(lam_min), float(lam_max)
        self.A_raw, self.M_raw = nn.Parameter(A_raw), nn.Parameter(M_raw)

    @property
    def weight(self) -> torch.Tensor:
        return perron_frobenius_weight(self.A_raw, self.M_raw, self.lam_min, self.lam_max)


class SpectralLinear(_ConstrainedLinear):
    r"""Layer with the spectral weight $U\tilde\Sigma V$ of eq. (23); parameters ``U``, ``s``, ``V``.

    ``regulariser()`` is the orthogonality penalty of eq. (22) (``norm`` as in
    :func:`~linear_lens.linear_maps.orthogonality_penalty`).
    """

    def __init__(self, n, lam_min, lam_max, *, norm="spectral", generator=None, dtype=torch.float64, device=None):
        super().__init__()
        generator, dtype = as_generator(generator), check_float_dtype(dtype)
        if norm not in ("spectral", "frobenius"):
            raise ValueError(f"norm: expected 'spectral' or 'frobenius', got {norm!r}")
        U, s, V = _draw_spectral(n, lam_min, lam_max, (), generator, dtype, device)
        self.n, self.lam_min, self.lam_max, self.norm = U.shape[-1], float(lam_min), float(lam_max), norm
        self.U, self.s, self.V = nn.Parameter(U), nn.Parameter(s), nn.Parameter(V)

    @property
    def weight(self) -> torch.Tensor:
        return spectral_weight(self.U, self.s, self.V, self.lam_min, self.lam_max)

    def regulariser(self) -> torch.Tensor:
        return orthogonality_penalty(self.U, self.V, self.norm)


class SkewSymmetricLinear(_ConstrainedLinear):
    r"""Layer with the damped skew-symmetric weight $L - L^\top - \gamma I$ of eq. (24); parameter ``L``."""

    def __init__(self, n, gamma=0.0, *, scale=1.0, generator=None, dtype=torch.float64, device=None):
        super().__init__()
        generator, dtype = as_generator(generator), check_float_dtype(dtype)
        self.gamma = check_real(gamma, "gamma")
        self.L = nn.Parameter(_draw_gaussian(n, n, scale, (), generator, dtype, device))
        self.n = self.L.shape[-1]

    @property
    def weight(self) -> torch.Tensor:
        return skew_symmetric_weight(self.L, self.gamma)


class HamiltonianLinear(_ConstrainedLinear):
    r"""Layer with the Hamiltonian weight $[[0, A], [-A^\top, 0]]$ of eq. (25).

    Parameter ``A`` of shape ``(n // 2, n - n // 2)``.
    """

    def __init__(self, n, *, scale=1.0, generator=None, dtype=torch.float64, device=None):
        super().__init__()
        generator, dtype = as_generator(generator), check_float_dtype(dtype)
        n = check_positive_int(n, "n")
        if n < 2:
            raise ValueError(f"n: a Hamiltonian weight needs n >= 2 (two blocks), got {n}")
        self.n = n
        self.A = nn.Parameter(_draw_gaussian(n // 2, n - n // 2, scale, (), generator, dtype, device, var_n=n))

    @property
    def weight(self) -> torch.Tensor:
        return hamiltonian_weight(self.A)


class GershgorinLinear(_ConstrainedLinear):
    r"""Layer with the Gershgorin weight of eq. (26) (row sums); parameter ``M``.

    ``real`` as in :func:`~linear_lens.linear_maps.gershgorin`.
    """

    def __init__(self, n, lam_min, lam_max, *, real=True, generator=None, dtype=torch.float64, device=None):
        super().__init__()
        generator, dtype = as_generator(generator), check_float_dtype(dtype)
        _check_lams(lam_min, lam_max)
        self.M = nn.Parameter(_draw_gershgorin(n, real, (), generator, dtype, device))
        self.n, self.lam_min, self.lam_max, self.real = self.M.shape[-1], float(lam_min), float(lam_max), real

    @property
    def weight(self) -> torch.Tensor:
        return gershgorin_weight(self.M, self.lam_min, self.lam_max, real=self.real)


# ---------------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------------


def fit_linear(
    layer: nn.Module,
    target: torch.Tensor,
    *,
    steps: int = 300,
    lr: float = 1e-2,
    reg_weight: float = 0.0,
    samples: int = 256,
    generator=None,
    desc: str = "",
) -> torch.Tensor:
    r"""Train ``layer`` to imitate the linear map $x \mapsto T x$ by Adam on the mean squared error.

    Loss: $\frac{1}{P}\sum_p \|\tilde A x_p - T x_p\|^2 + \text{reg\_weight} \cdot \text{layer.regulariser()}$ over
    $P$ = ``samples`` fixed inputs $x_p \sim \mathcal{N}(0, I)$ (drawn with ``generator``).
    ``target`` $= T$: ``(n, n)``. Returns the loss after each of the ``steps`` steps, ``(steps,)``.
    Runs on one CPU thread (restored afterwards): for layers this small, thread hand-offs cost more than they save.
    """
    if not isinstance(layer, nn.Module):
        raise ValueError(f"layer: expected a torch.nn.Module, got {type(layer).__name__}")
    target = _square(target, "target")
    dtypes = {p.dtype for p in layer.parameters()}
    if dtypes and dtypes != {target.dtype}:
        raise ValueError(f"target: dtype {target.dtype} differs from the layer's {', '.join(map(str, dtypes))}")
    generator = as_generator(generator)
    steps = check_positive_int(steps, "steps")
    samples = check_positive_int(samples, "samples")
    lr, reg_weight = check_real(lr, "lr"), check_real(reg_weight, "reg_weight")
    if lr <= 0:
        raise ValueError(f"lr: must be positive, got {lr}")
    if reg_weight < 0:
        raise ValueError(f"reg_weight: must be nonnegative, got {reg_weight}")
    n = target.shape[-1]
    if getattr(layer, "n", n) != n:
        raise ValueError(f"target: must be {layer.n} x {layer.n} to match the layer, got {tuple(target.shape)}")
    X = torch.randn(samples, n, generator=generator, dtype=target.dtype).to(target.device)
    Y = X @ target.mT
    opt = torch.optim.Adam(layer.parameters(), lr=lr)
    history = torch.empty(steps, dtype=torch.float64)
    with single_thread():
        for k in progress(range(steps), desc=desc or "training", total=steps):
            opt.zero_grad()
            loss = ((layer(X) - Y) ** 2).sum(-1).mean()
            total = loss + reg_weight * layer.regulariser() if reg_weight else loss
            total.backward()
            opt.step()
            history[k] = loss.detach()
    return history
