r"""The activations of the authors' library as it computed them in 2020, and their Fig. 1 script, re-run.

Fig. 1 of Drgoňa et al. (2020) and the footnotes of its Section 3.3 were produced by a script of the authors' library
PNNL ``neuromancer`` (``train_scripts/papers/lpv_l4dc/mk_activation_plots.py``, commit 8cb0b70), run on the
library's ``activations`` dictionary (``neuromancer/activations.py`` at that commit) created with its initial
values. :func:`library_2020` rebuilds that dictionary; :func:`authors_fig1_groups` re-runs the script's
classification, which applies neither Lemma 8 nor Lemma 10 (see :mod:`linear_lens.activation_stability` for
those): on the float32 grid $z = -6, -5.99, \dots, 6$ without 0, an activation with no $|\sigma(z)/z| > 1$ is
"stable"; otherwise it is "BIBO" if $|\sigma(\pm 6)| < 6$ and "unstable" if not.

Five of the library's activations differ from the registry's (:mod:`linear_lens.activations`), which follows their
papers: SoftExponential ($\alpha = 0$: the identity), BLU ($\beta = 0$, $\alpha = 1$, with $10^{-7}$ under the square
root: the identity), PReLU (slope 1 on $z < 0$ and 0 on $z > 0$: $\min(z, 0)$), APLU ($a_s, b_s \sim \mathcal U(0,
1)$, two segments) and PELU, written $\tfrac{\alpha}{\beta}\max(z, 0) + \alpha(e^{\max(-z, 0)/\beta} - 1)$ with
$\alpha = \beta = 1$, i.e. $e^{-z} - 1$ for $z < 0$: the sign of the exponent is flipped with respect to Trottier et
al.'s $e^{z/\beta}$ (errata E03.5). The others are PyTorch's modules at their defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from linear_lens._checks import as_generator

__all__ = ["COMMIT", "library_2020", "ScriptVerdict", "authors_fig1_groups"]

#: The commit of ``neuromancer`` whose activations and Fig. 1 script are reproduced here.
COMMIT = "8cb0b70"


def library_2020(generator: torch.Generator | None = None) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    r"""Return the library's ``activations`` dictionary at commit 8cb0b70, created with its initial values.

    24 elementwise functions, keyed by the registry's names (:func:`linear_lens.activations.names` less SiLU and the
    identity): the five of the library's own (module docstring) and PyTorch's modules at their defaults. APLU's
    $a_s, b_s \sim \mathcal U(0, 1)$ are drawn from ``generator`` (``None``, a ``torch.Generator`` or an ``int``
    seed), $a_1, a_2$ first, in float32 as the library drew them. RReLU is taken in evaluation mode (slope
    $(1/8 + 1/3)/2$): in training mode it draws its slopes from $\mathcal U(1/8, 1/3)$, so its ratio is below 1
    whatever is drawn and the script's verdict is the same.
    """
    g = as_generator(generator)
    a_s, b_s = torch.rand(2, generator=g), torch.rand(2, generator=g)
    return {
        "soft_exponential": lambda x: x,
        "blu": lambda x: 0.0 * (torch.sqrt(x * x + 1.0 + 1e-7) - 1.0) + x,
        "aplu": lambda x: torch.relu(x) + a_s[0] * torch.relu(b_s[0] - x) + a_s[1] * torch.relu(b_s[1] - x),
        "prelu": lambda x: -torch.relu(-x),
        "pelu": lambda x: torch.relu(x) + torch.expm1(torch.relu(-x)),
        "relu": nn.ReLU(), "gelu": nn.GELU(), "rrelu": nn.RReLU().eval(), "hardtanh": nn.Hardtanh(),
        "relu6": nn.ReLU6(), "sigmoid": nn.Sigmoid(), "hardsigmoid": nn.Hardsigmoid(), "tanh": nn.Tanh(),
        "hardswish": nn.Hardswish(), "elu": nn.ELU(), "celu": nn.CELU(), "selu": nn.SELU(),
        "hardshrink": nn.Hardshrink(), "leaky_relu": nn.LeakyReLU(), "logsigmoid": nn.LogSigmoid(),
        "softplus": nn.Softplus(), "softshrink": nn.Softshrink(), "softsign": nn.Softsign(),
        "tanhshrink": nn.Tanhshrink(),
    }


@dataclass(frozen=True)
class ScriptVerdict:
    r"""What the authors' Fig. 1 script computes for one activation (:func:`authors_fig1_groups`).

    ``group``: ``"stable"``, ``"BIBO"`` or ``"unstable"``; ``points_above_one``: how many grid points have
    $|\sigma(z)/z| > 1$ in float32; ``max_ratio``: the largest $|\sigma(z)/z|$ on the grid; ``ends``:
    $(\sigma(-6), \sigma(6))$ in float32.
    """

    group: str
    points_above_one: int
    max_ratio: float
    ends: tuple[float, float]


def authors_fig1_groups(library=None, *, generator: torch.Generator | None = None) -> dict[str, ScriptVerdict]:
    r"""Re-run the classification of the authors' ``mk_activation_plots.py`` on each activation of ``library``.

    The script evaluates $\sigma$ in float32 on $z = -6, -5.99, \dots, 6$ without $0$; "stable" if no
    $|\sigma(z)/z| > 1$ there, else "BIBO" if $|\sigma(\pm 6)| < 6$, else "unstable". ``library``: a dict of
    elementwise callables (default :func:`library_2020` drawn from ``generator``). Returns a
    :class:`ScriptVerdict` per name. Raises ``ValueError`` for a library that is not a non-empty dict of callables.
    """
    if library is None:
        library = library_2020(generator)
    if not isinstance(library, dict) or not library or not all(callable(f) for f in library.values()):
        raise ValueError("library: expected a non-empty dict of elementwise callables")
    grid = torch.arange(-600, 601, dtype=torch.float32) / 100
    grid = grid[grid != 0]
    ends = torch.tensor([-6.0, 6.0])
    out = {}
    with torch.no_grad():
        for name, f in library.items():
            ratio = (f(grid) / grid).abs()
            above = int((ratio > 1).sum())
            at_ends = f(ends)
            group = "stable" if above == 0 else "BIBO" if bool((at_ends.abs() < 6).all()) else "unstable"
            out[name] = ScriptVerdict(group, above, float(ratio.max()), (float(at_ends[0]), float(at_ends[1])))
    return out
