r"""The 828-model sweep of Appendix D of Drgoňa et al. (2020): configurations, weights, spectra and attractors.

Appendix D crosses 23 weight configurations (Gershgorin discs with real and with complex eigenvalues and spectral
SVD weights, each over seven eigenvalue ranges; Perron-Frobenius weights with range $(1, 1)$; unstructured weights),
three depths (1, 4, 8), six activations (ReLU, SELU, GELU, Tanh, logistic sigmoid, Softplus) and bias on/off:
$23 \times 3 \times 6 \times 2 = 828$ models of $\mathbb{R}^2 \to \mathbb{R}^2$ (:func:`configurations`). "For each
combination of factorization, spectral constraints, and network depths, we swap out activation functions and toggle
bias usage while keeping model parameters fixed": here too, one generator seeded once per (factorisation, range,
depth) draws the weights and the biases, which every activation and both bias settings share (bias off means the
same network with its biases set to zero, as in the authors' scripts, whose linearisation ignores the biases).

What the authors ran (PNNL's ``neuromancer``, ``train_scripts/papers/stability_l4dc/mk_phase_and_spectra_plots.py``,
and ``slim.linear``; read for facts, not copied):

- the seed: ``torch.manual_seed(408)`` before each (depth, map), so every configuration starts from seed 408;
- the network: ``blocks.MLP(2, 2, hsizes=[2] * nlayers, bias=True)`` with every nonlinearity, the output's identity
  included, replaced by the activation; so "N. Layers" $= L$ hidden layers, $L + 1$ weights, and $L + 1$
  activations (``convention="authors"`` of :mod:`linear_lens.networks`), against eq. (3)'s $L$ activations;
- the weights (``construction="authors"``): slim's initialisations, drawn layer by layer after the layer's bias
  (:func:`draw_network`);
- the grid ``arange(-6, 6, 0.5)`` squared (:func:`authors_grid`), one $A^*$ and one eigenvalue problem per point;
- phase portraits from 8 starts on the circle of radius 4, 20 steps (:func:`authors_starts`).

:func:`sweep` computes, for all models at once (batched across models of equal depth), the fields of
$\rho(A^*(x))$ in both forms of $A^*$ (the paper's $\sigma(z)/z$ and the shifted one), the spectral norms of $A^*$
and of the true Jacobian, and the attractor of each model with its evidence
(:func:`linear_lens.attractors.classify_attractor`); it returns one row per model (:class:`SweepResult`).
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from linear_lens import attractors, networks, spectral_fields
from linear_lens._checks import as_float_tensor, as_generator, check_float_dtype, check_positive_int
from linear_lens.progress import progress

__all__ = [
    "RANGES",
    "FACTORISATIONS",
    "DEPTHS",
    "ACTIVATIONS",
    "CONSTRUCTIONS",
    "AUTHORS_SEED",
    "WeightConfig",
    "ModelConfig",
    "weight_configs",
    "configurations",
    "TABLE1",
    "draw_network",
    "network_draws",
    "shows",
    "find_attractor",
    "authors_grid",
    "authors_starts",
    "SweepResult",
    "sweep",
    "crosstab",
    "summary",
    "per_point_reference",
    "reference_check",
]

#: The eigenvalue ranges $(\lambda_{\min}, \lambda_{\max})$ of Appendix D.
RANGES = ((-1.5, -1.1), (0.0, 1.0), (0.99, 1.0), (0.99, 1.01), (0.99, 1.1), (1.0, 1.01), (1.1, 1.5))
#: The factorisations of Appendix D (``"unstructured"``: the plain linear layer, no constraint).
FACTORISATIONS = ("gershgorin_real", "gershgorin_complex", "spectral", "perron_frobenius", "unstructured")
#: The depths of Appendix D (hidden layers $L$).
DEPTHS = (1, 4, 8)
#: The activations of Appendix D, in its order.
ACTIVATIONS = ("relu", "selu", "gelu", "tanh", "sigmoid", "softplus")
#: How the constrained weights are drawn: eq. (26) and the samplers of :mod:`linear_lens.linear_maps`
#: (``"printed"``), or the initialisations of the authors' code in ``slim`` (``"authors"``).
CONSTRUCTIONS = ("authors", "printed")
#: The seed of the authors' scripts, set before each (depth, weight configuration).
AUTHORS_SEED = 408

_LABELS = {
    "gershgorin_real": "Gershgorin, real",
    "gershgorin_complex": "Gershgorin, complex",
    "spectral": "Spectral",
    "perron_frobenius": "Perron-Frobenius",
    "unstructured": "Unstructured",
}


@dataclass(frozen=True)
class WeightConfig:
    r"""A factorisation and its eigenvalue range $(\lambda_{\min}, \lambda_{\max})$ (``None`` for unstructured)."""

    factorisation: str
    lam_min: float | None
    lam_max: float | None

    @property
    def label(self) -> str:
        """E.g. ``"Gershgorin, real (0.00, 1.00)"``, as in Table 1."""
        rng = "" if self.lam_min is None else f" ({self.lam_min:.2f}, {self.lam_max:.2f})"
        return _LABELS[self.factorisation] + rng

    @property
    def range_label(self) -> str:
        """E.g. ``"(0.00, 1.00)"``, or ``"none"``."""
        return "none" if self.lam_min is None else f"({self.lam_min:.2f}, {self.lam_max:.2f})"


@dataclass(frozen=True)
class ModelConfig:
    """One model of the sweep: weights, depth $L$ (hidden layers), activation, bias, and the seed of its weights."""

    weights: WeightConfig
    depth: int
    activation: str
    bias: bool
    seed: int

    @property
    def key(self) -> tuple:
        """``(factorisation, range label, depth, activation, bias)``: identifies the model up to its seed."""
        return (self.weights.factorisation, self.weights.range_label, self.depth, self.activation, self.bias)


def weight_configs() -> list[WeightConfig]:
    """The 23 weight configurations of Appendix D, in its order (7 + 7 + 7 + 1 + 1)."""
    out = [WeightConfig(f, lo, hi) for f in ("gershgorin_real", "gershgorin_complex", "spectral") for lo, hi in RANGES]
    return out + [WeightConfig("perron_frobenius", 1.0, 1.0), WeightConfig("unstructured", None, None)]


def configurations(
    *,
    depths: Sequence[int] = DEPTHS,
    activations: Sequence[str] = ACTIVATIONS,
    weights: Sequence[WeightConfig] | None = None,
    seed: int = AUTHORS_SEED,
    distinct_seeds: bool = False,
) -> list[ModelConfig]:
    r"""Return the models of Appendix D: every weight configuration x depth x activation x bias.

    With the defaults, $23 \times 3 \times 6 \times 2 = 828$ models. Seeds: one per (factorisation, range, depth),
    equal to ``seed`` for every one of them (the authors' scripts reset ``torch.manual_seed(408)`` before each), or,
    with ``distinct_seeds``, ``seed + k`` for the $k$-th (depth, weight configuration) pair in this order. Order:
    depth, then activation, then weight configuration, then bias (so that equal activations are adjacent).
    """
    weights = list(weight_configs() if weights is None else weights)
    if not all(isinstance(w, WeightConfig) for w in weights):
        raise ValueError("weights: expected WeightConfig entries (see weight_configs)")
    for value, label in ((depths, "depths"), (activations, "activations")):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise ValueError(f"{label}: expected a list, got {type(value).__name__}")
    if not isinstance(distinct_seeds, bool):
        raise ValueError(f"distinct_seeds: expected True or False, got {distinct_seeds!r}")
    depths = [check_positive_int(d, "depths") for d in depths]
    for a in activations:
        from linear_lens.activations import get

        get(a)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected a nonnegative integer, got {seed!r}")
    out = []
    for i, depth in enumerate(depths):
        for act in activations:
            for j, wc in enumerate(weights):
                s = seed + i * len(weights) + j if distinct_seeds else seed
                for bias in (False, True):
                    out.append(ModelConfig(wc, depth, act, bias, s))
    return out


def _table1():
    G, C, S = "gershgorin_real", "gershgorin_complex", "spectral"
    rows = [
        ("Fig. 2 (stable)", G, (0.99, 1.0), "tanh", 8, False),
        ("Fig. 2 (BIBO stable)", S, (0.99, 1.1), "tanh", 8, False),
        ("Fig. 2 (unstable)", G, (1.0, 1.01), "softplus", 8, True),
        ("Fig. 3 (ReLU)", C, (0.0, 1.0), "relu", 4, False),
        ("Fig. 3 (Tanh)", G, (0.0, 1.0), "tanh", 4, False),
        ("Fig. 3 (Sigmoid)", G, (0.0, 1.0), "sigmoid", 4, False),
        ("Fig. 3 (SELU)", S, (0.0, 1.0), "selu", 4, False),
        ("Fig. 4 (bias)", C, (0.0, 1.0), "relu", 1, True),
        ("Fig. 4 (no bias)", C, (0.0, 1.0), "relu", 1, False),
    ]
    for (lo, hi), bias, fac in (((0.0, 1.0), False, C), ((0.99, 1.0), False, C), ((0.99, 1.1), True, G)):
        for d in (1, 4, 8):
            rows.append((f"Fig. 5 ({lo:.2f}, {hi:.2f}), L={d}", fac, (lo, hi), "gelu", d, bias))
    rows += [
        ("Fig. 6 single point", G, (0.0, 1.0), "relu", 1, False),
        ("Fig. 6 multiple points", G, (-1.5, -1.1), "selu", 1, True),
        ("Fig. 6 line attractor", "perron_frobenius", (1.0, 1.0), "relu", 1, False),
        ("Fig. 6 limit cycle", S, (0.99, 1.1), "tanh", 8, False),
        ("Fig. 6 chaotic", S, (0.99, 1.1), "selu", 8, False),
        ("Fig. 6 unstable", C, (0.99, 1.1), "softplus", 1, False),
    ]
    return tuple((fig, ModelConfig(WeightConfig(f, lo, hi), d, a, b, AUTHORS_SEED))
                 for fig, f, (lo, hi), a, d, b in rows)


#: Table 1 of the paper: ``(figure, ModelConfig)`` for every curated model (seed: the authors' 408). The paper's
#: "Gershgoric" in the Fig. 3 sigmoid row is read as Gershgorin.
TABLE1 = _table1()


# ---------------------------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------------------------


def draw_network(
    config: WeightConfig, depth: int, n: int, generator: torch.Generator, *, construction: str = "authors",
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Draw the $L + 1$ weights and biases of a network with ``depth`` $= L$ hidden layers of width ``n``.

    ``construction="authors"``: the network of the authors' scripts, ``blocks.MLP(n, n, hsizes=[n] * L,
    bias=True)`` with slim's maps (:func:`linear_lens.linear_maps.slim_mlp`): layer by layer, a
    bias $\mathcal U(-1/\sqrt n, 1/\sqrt n)$, then the weight as slim initialises it (PNNL's ``slim.linear``; its
    layers compute $xW$, so $A = W^\top$):

    - Gershgorin (``GershgorinLinear``): centre $c = (\lambda_{\min} + \lambda_{\max})/2$, signed "radius"
      $r = (\lambda_{\min} - \lambda_{\max})/2 \le 0$; diagonal $c + r(\operatorname{sigmoid}(d_i) - \frac12)$,
      $d_i \sim \mathcal N(0, 1)$; off-diagonal entries $\frac r2 \operatorname{softmax}(w)_{ij}$, one softmax over
      all $n(n-1)$ off-diagonal entries of $w \sim \mathcal U(0, 1)$, symmetrised first ($w + w^\top$) when real.
      The diagonal is within $|r|/2$ of $c$ and the off-diagonal entries sum to $|r|/2$ in modulus, so every
      eigenvalue lies within $|r|$ of $c$: in the disc over $(\lambda_{\min}, \lambda_{\max})$;
    - spectral (``SVDLinear``, "softSVD"): $U \tilde\Sigma V$ with Haar $U$, $V$ and $\tilde\Sigma = \lambda_{\max} -
      (\lambda_{\max} - \lambda_{\min})\operatorname{sigmoid}(s)$, $s \sim \mathcal U(0, 1)$;
    - Perron-Frobenius (``PerronFrobeniusLinear``): row softmax of $w \sim \mathcal U(-1/\sqrt n, 1/\sqrt n)$ times
      $\lambda_{\max} - (\lambda_{\max} - \lambda_{\min})\operatorname{sigmoid}(m)$, $m \sim \mathcal U(0, 1)$;
    - unstructured (``torch.nn.Linear``): entries $\mathcal U(-1/\sqrt n, 1/\sqrt n)$.

    ``construction="printed"``: eq. (26) and the samplers of :mod:`linear_lens.linear_maps`
    (:func:`~linear_lens.linear_maps.gershgorin` with ``real`` and ``construction="printed"``,
    :func:`~linear_lens.linear_maps.spectral_svd`, :func:`~linear_lens.linear_maps.perron_frobenius`), unstructured
    $\mathcal N(0, 1/n)$; then the biases as above.

    The biases are drawn whether or not a model uses them ("bias off" is the same network with zero biases).
    Returns ``(W, B)``: ``(L + 1, n, n)`` and ``(L + 1, n)``, float64 by default, in the convention of eq. (3)
    (the authors' activation after the output is added by :func:`linear_lens.networks.network_batch`).
    """
    from linear_lens import linear_maps as lm

    if construction not in CONSTRUCTIONS:
        raise ValueError(f"construction: expected one of {', '.join(CONSTRUCTIONS)}, got {construction!r}")
    if not isinstance(config, WeightConfig):
        raise ValueError(f"config: expected a WeightConfig, got {type(config).__name__}")
    generator, dtype = as_generator(generator), check_float_dtype(dtype)
    if config.factorisation not in FACTORISATIONS:
        raise ValueError(f"config: unknown factorisation {config.factorisation!r}; "
                         f"allowed: {', '.join(FACTORISATIONS)}")
    n, depth = check_positive_int(n, "n"), check_positive_int(depth, "depth")
    f, g = config.factorisation, generator
    lo, hi = (1.0, 1.0) if config.lam_min is None else (config.lam_min, config.lam_max)
    if construction == "authors":
        key = {"gershgorin_real": "gershgorin", "gershgorin_complex": "gershgorin", "spectral": "softSVD",
               "perron_frobenius": "pf", "unstructured": "linear"}[f]
        Ws, Bs = lm.slim_mlp(n, depth, key, lo, hi, real=f != "gershgorin_complex", bias=True, generator=g,
                             dtype=dtype)
        return torch.stack(Ws[:-1]), torch.stack(Bs[:-1])  # drop the identity layer: see network_batch
    count = depth + 1
    if f.startswith("gershgorin"):
        W = lm.gershgorin(n, lo, hi, real=f == "gershgorin_real", construction="printed", batch=(count,),
                          generator=g, dtype=dtype)
    elif f == "spectral":
        W = lm.spectral_svd(n, lo, hi, construction="printed", batch=(count,), generator=g, dtype=dtype)
    elif f == "perron_frobenius":
        W = lm.perron_frobenius(n, lo, hi, batch=(count,), generator=g, dtype=dtype)
    else:
        W = torch.randn(count, n, n, generator=g, dtype=dtype) / math.sqrt(n)
    B = (2 * torch.rand(count, n, generator=g, dtype=dtype) - 1) / math.sqrt(n)
    return W, B


def network_draws(
    config: ModelConfig, seeds: Sequence[int] | None = None, *, construction: str = "authors",
    convention: str = "authors", n: int = 2, bias: bool | None = None,
) -> networks.NetworkBatch:
    r"""One network of configuration ``config`` per seed, as a :class:`~linear_lens.networks.NetworkBatch`.

    ``seeds``: default ``[config.seed]``; each seeds its own generator for :func:`draw_network`. ``bias``: override
    ``config.bias``. ``construction``, ``convention``: as in :func:`sweep`.
    """
    if not isinstance(config, ModelConfig):
        raise ValueError(f"config: expected a ModelConfig, got {type(config).__name__}")
    seeds = [config.seed] if seeds is None else list(seeds)
    if not seeds or any(not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds: expected nonnegative integers, got {seeds!r}")
    use_bias = config.bias if bias is None else bool(bias)
    drawn = [draw_network(config.weights, config.depth, n, torch.Generator().manual_seed(s),
                          construction=construction) for s in seeds]
    W = torch.stack([d[0] for d in drawn])
    B = torch.stack([d[1] for d in drawn]) if use_bias else None
    return networks.network_batch(W, B, config.activation, convention=convention)


def shows(attractor: attractors.Attractor, kind: str) -> bool:
    r"""Whether a classified network shows the attractor type ``kind`` as the paper's Fig. 6 draws it.

    The type of :func:`linear_lens.attractors.classify_attractor`; for ``"limit cycle"`` also a closed invariant curve
    (some quasi-periodic orbits), not only a periodic orbit. Raises ``ValueError`` for a kind not in
    :data:`linear_lens.attractors.KINDS`.
    """
    if kind not in attractors.KINDS:
        raise ValueError(f"kind: expected one of {', '.join(attractors.KINDS)}, got {kind!r}")
    if not isinstance(attractor, attractors.Attractor):
        raise ValueError(f"attractor: expected an Attractor (see classify_attractor), got {type(attractor).__name__}")
    return attractor.kind == kind and (kind != "limit cycle" or attractor.fates["quasi-periodic"] > 0)


def find_attractor(
    config: ModelConfig, kind: str, starts: torch.Tensor, search_seeds: int, **options
) -> tuple[tuple[ModelConfig, int], str] | None:
    r"""Search for a network that :func:`shows` the attractor type ``kind``, near a configuration of the sweep.

    In this order, keeping the first network found: (1) ``config`` with seeds $0, \dots,$ ``search_seeds`` $- 1$;
    (2) the same factorisation, activation, depth and bias with every eigenvalue range of Appendix D
    (:data:`RANGES`, in that order), seed by seed (every range of seed 0, then of seed 1, ...). Each step is one
    batch for :func:`linear_lens.attractors.classify_attractor` (``starts``, ``options``). Networks are drawn as
    :func:`network_draws` draws them (the authors' construction and convention).

    Returns ``((model, seed), origin)``, where ``origin`` says in words which step found it, or ``None``.
    Raises ``ValueError`` for an unknown kind or a ``search_seeds`` that is not a positive integer.
    """
    if kind not in attractors.KINDS:
        raise ValueError(f"kind: expected one of {', '.join(attractors.KINDS)}, got {kind!r}")
    search_seeds = check_positive_int(search_seeds, "search_seeds")
    batch = network_draws(config, range(search_seeds))
    hits = [s for s, a in enumerate(attractors.classify_attractor(batch, starts, **options)) if shows(a, kind)]
    if hits:
        return (config, hits[0]), f"Table 1's configuration, seed {hits[0]} (step 1)"
    cands = [ModelConfig(WeightConfig(config.weights.factorisation, lo, hi), config.depth, config.activation,
                         config.bias, 0) for lo, hi in RANGES]
    order = [(s, m) for s in range(search_seeds) for m in cands]  # seed by seed, ranges in Appendix D's order
    drawn = [draw_network(m.weights, m.depth, 2, torch.Generator().manual_seed(s)) for s, m in order]
    batch = networks.network_batch(torch.stack([d[0] for d in drawn]),
                                   torch.stack([d[1] for d in drawn]) if config.bias else None, config.activation,
                                   convention="authors")
    found = [i for i, a in enumerate(attractors.classify_attractor(batch, starts, **options)) if shows(a, kind)]
    if not found:
        return None
    s, m = order[found[0]]
    return (m, s), f"{m.weights.label}, seed {s} (step 2)"


def authors_grid(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""The grid of the authors' scripts: ``arange(-6, 6, 0.5)`` in each coordinate, $24^2 = 576$ points, ``(576, 2)``.

    (The authors' ``meshgrid`` is in ``"ij"`` order, this one in ``"xy"``; the set of points is the same.)
    """
    axis = torch.arange(-6.0, 6.0, 0.5, dtype=check_float_dtype(dtype))
    x1, x2 = torch.meshgrid(axis, axis, indexing="xy")
    return torch.stack([x1.flatten(), x2.flatten()], dim=-1)


def authors_starts(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""The 8 initial states of the authors' phase portraits: $4(\cos t, \sin t)$, $t = 0.25 + k\pi/4$. ``(8, 2)``."""
    t = 0.25 + torch.arange(8, dtype=check_float_dtype(dtype)) * math.pi / 4
    return 4 * torch.stack([torch.cos(t), torch.sin(t)], dim=-1)


# ---------------------------------------------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    r"""The sweep's table: one dict per model (:attr:`rows`), and what produced it.

    Columns: ``factorisation``, ``range``, ``depth``, ``activation``, ``bias``, ``seed``; ``rho_weights_max``,
    ``rho_weights_min`` ($\max_l$, $\min_l$ of $\rho(A_l)$ over the drawn weights), ``norm_weights_prod``
    ($\prod_l \lVert A_l\rVert_2$); over the grid, for the paper's $A^*$: ``rho_max``, ``rho_mean``,
    ``rho_median``, ``frac_rho_gt1`` (share of points with $\rho > 1$), ``norm_max``; the same for the shifted form
    (``*_shifted``; equal when $\sigma(0) = 0$, ``forms_differ`` says whether they can differ); ``jac_rho_max``,
    ``jac_norm_max``, ``jac_norm_min``, ``jac_norm_median`` (the true Jacobian $f'(x)$ over the grid); and the
    attractor
    (``kind`` and the columns of :meth:`linear_lens.attractors.Attractor.row`). ``timings``: seconds per stage.
    """

    rows: list
    construction: str
    convention: str
    grid_points: int
    starts: int
    timings: dict

    def to_csv(self) -> str:
        """The table as CSV text (header row first)."""
        buf = io.StringIO()
        keys = list(self.rows[0])
        w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
        return buf.getvalue()

    def find(self, config: ModelConfig) -> dict | None:
        """The row of the model with the same factorisation, range, depth, activation and bias (any seed), or None."""
        for r in self.rows:
            if _row_key(r) == config.key:
                return r
        return None


def sweep(
    configs: Sequence[ModelConfig] | None = None,
    *,
    construction: str = "authors",
    convention: str = "authors",
    grid: torch.Tensor | None = None,
    starts: torch.Tensor | None = None,
    classify: bool = True,
    n: int = 2,
    device=None,
    show_progress: bool = True,
    classify_options: dict | None = None,
    network_fn: Callable | None = None,
) -> SweepResult:
    r"""Run the sweep: spectra of $A^*$ over ``grid`` and the attractor of every model, batched by depth.

    ``configs``: the models (default :func:`configurations`, all 828); ``construction``: ``"authors"`` or
    ``"printed"`` (:func:`draw_weights`); ``convention``: ``"authors"`` or ``"eq3"``
    (:mod:`linear_lens.networks`, :mod:`linear_lens.spectral_fields`, :mod:`linear_lens.dynamics`); ``grid``: ``(P, n)`` points (default :func:`authors_grid`); ``starts``: ``(S, n)``
    initial states for the attractors (default: an $8 \times 8$ grid over $[-6, 6]^2$ and the authors' 8 starts);
    ``classify``: skip the attractors when false (the spectral part alone); ``classify_options``: keyword arguments
    for :func:`linear_lens.attractors.classify_attractor`; ``network_fn``: replaces :func:`draw_network`, called as
    ``network_fn(weight_config, depth, n, generator)`` (another construction of the weights). Weights and biases
    are drawn once per (weight configuration, depth, seed) and shared by every activation and both bias settings.
    Float64; ``device`` for the tensors. Runs on one CPU thread (restored afterwards), which is faster here.
    Returns a :class:`SweepResult` whose rows follow the order of ``configs``.
    """
    from linear_lens._threads import single_thread

    with single_thread():  # thousands of small tensor operations: thread hand-offs cost more than they save
        return _sweep(configs, construction, convention, grid, starts, classify, n, device, show_progress,
                      classify_options, network_fn)


def _sweep(configs, construction, convention, grid, starts, classify, n, device, show_progress, classify_options,
           network_fn) -> SweepResult:
    from linear_lens.sampling import grid_2d

    if convention not in networks.CONVENTIONS:
        raise ValueError(f"convention: expected one of {', '.join(networks.CONVENTIONS)}, got {convention!r}")
    if construction not in CONSTRUCTIONS:
        raise ValueError(f"construction: expected one of {', '.join(CONSTRUCTIONS)}, got {construction!r}")
    configs = list(configurations() if configs is None else configs)
    if not configs:
        raise ValueError("configs: need at least one model")
    grid = (authors_grid() if grid is None else grid).to(torch.float64)
    if starts is None:
        starts = torch.cat([grid_2d(-6.0, 6.0, 8)[2].reshape(-1, 2), authors_starts()])
    starts = starts.to(torch.float64)
    draw = network_fn or (lambda wc, depth, n_, g: draw_network(wc, depth, n_, g, construction=construction))
    options = dict(classify_options or {})
    options.setdefault("generator", 0)
    rows: list[dict | None] = [None] * len(configs)
    timings = {"weights": 0.0, "spectra": 0.0, "attractors": 0.0}
    # draw every distinct (weight configuration, depth, seed) once
    t0 = time.perf_counter()
    drawn: dict = {}
    for c in configs:
        k = (c.weights, c.depth, c.seed)
        if k not in drawn:
            drawn[k] = draw(c.weights, c.depth, n, torch.Generator().manual_seed(c.seed))
    timings["weights"] = time.perf_counter() - t0
    by_depth: dict[int, list[int]] = {}
    for i, c in enumerate(configs):
        by_depth.setdefault(c.depth, []).append(i)
    batches = sorted(by_depth.items())
    for depth, idx in progress(batches, desc="sweep (depth batches)", disable=not show_progress):
        idx = sorted(idx, key=lambda i: (configs[i].activation, i))  # equal activations adjacent
        cs = [configs[i] for i in idx]
        W = torch.stack([drawn[(c.weights, c.depth, c.seed)][0] for c in cs])
        B = torch.stack([drawn[(c.weights, c.depth, c.seed)][1] * (1.0 if c.bias else 0.0) for c in cs])
        W, B = W.to(device), B.to(device)
        net = networks.network_batch(W, B, [c.activation for c in cs], convention=convention)
        t0 = time.perf_counter()
        spec = _spectra(net, grid.to(device), W)
        timings["spectra"] += time.perf_counter() - t0
        if classify:
            t0 = time.perf_counter()
            att = attractors.classify_attractor(net, starts.to(device), **options)
            timings["attractors"] += time.perf_counter() - t0
        for j, (i, c) in enumerate(zip(idx, cs)):
            row = {
                "factorisation": c.weights.factorisation,
                "range": c.weights.range_label,
                "depth": c.depth,
                "activation": c.activation,
                "bias": c.bias,
                "seed": c.seed,
                **{k: float(v[j]) if not isinstance(v[j], bool) else v[j] for k, v in spec.items()},
            }
            if classify:
                row.update(att[j].row())
            rows[i] = row
    return SweepResult(rows, construction, convention, grid.shape[0], starts.shape[0], timings)


def crosstab(rows: Sequence[dict], by: str, column: str = "kind", values: Sequence | None = None) -> dict:
    r"""Count rows by the value of ``by`` and of ``column``: ``{by value: {column value: count}}``.

    ``values``: the column values to report, in order (default: those that occur, sorted). Every inner dict has
    every value, zeros included, and a ``"total"``.
    """
    if not rows:
        raise ValueError("rows: need at least one row")
    if by not in rows[0] or column not in rows[0]:
        raise ValueError(f"by, column: must be columns of the rows, got {by!r}, {column!r}")
    values = list(values) if values is not None else sorted({r[column] for r in rows}, key=str)
    out: dict = {}
    for r in rows:
        d = out.setdefault(r[by], {v: 0 for v in values} | {"total": 0})
        if r[column] in d:
            d[r[column]] += 1
        d["total"] += 1
    return out


def summary(rows: Sequence[dict], by: str, kinds: Sequence[str] | None = None) -> list[dict]:
    r"""One summary row per value of ``by``: the number of models, of each attractor kind, and of $\max\rho > 1$.

    ``kinds``: the kinds to count (default :data:`linear_lens.attractors.KINDS`). Columns: ``by``, ``models``, one per
    kind, ``rho > 1`` (the paper's $A^*$) and ``rho > 1 (shifted)``.
    """
    kinds = list(attractors.KINDS if kinds is None else kinds)
    tab = crosstab(rows, by, "kind", kinds)
    out = []
    for value, counts in tab.items():
        group = [r for r in rows if r[by] == value]
        out.append({by: value, "models": counts["total"], **{k: counts[k] for k in kinds},
                    "rho > 1": sum(r["rho_max"] > 1 for r in group),
                    "rho > 1 (shifted)": sum(r["rho_max_shifted"] > 1 for r in group)})
    return out


def per_point_reference(weights, biases, activation, grid: torch.Tensor, *, convention: str = "authors",
                        form: str = "paper") -> torch.Tensor:
    r"""Return $\rho(A^*(x))$ at each grid point the way the authors' scripts compute it: one point at a time.

    For each point, one call of :func:`linear_lens.affine.pointwise_affine` (no batching: the code of Lemma 3 for
    one network at one point) and one ``torch.linalg.eigvals`` (LAPACK, not the closed form). ``weights``: $[A_0, \dots, A_L]$; ``biases``: list or ``None``;
    ``convention``: as in :func:`sweep` (``"authors"`` appends the identity layer). Slow by design: it is the
    reference against which the batched engine is tested and timed. Returns ``(P,)``.
    """
    from linear_lens.affine import pointwise_affine

    if convention not in networks.CONVENTIONS:
        raise ValueError(f"convention: expected one of {', '.join(networks.CONVENTIONS)}, got {convention!r}")
    if not isinstance(weights, (list, tuple, torch.Tensor)) or len(weights) == 0:
        raise ValueError(f"weights: expected a non-empty list of weight matrices, got {type(weights).__name__}")
    grid = as_float_tensor(grid, "grid")
    if grid.ndim != 2:
        raise ValueError(f"grid: expected points (P, n), got shape {tuple(grid.shape)}")
    weights = list(weights)
    n = weights[0].shape[-1]
    if convention == "authors":
        weights = weights + [torch.eye(n, dtype=weights[0].dtype)]
        biases = None if biases is None else list(biases) + [torch.zeros(n, dtype=weights[0].dtype)]
    out = torch.empty(grid.shape[0], dtype=torch.float64)
    for i, x in enumerate(grid):
        A, _ = pointwise_affine(weights, biases, activation, x, form=form)
        out[i] = torch.linalg.eigvals(A).abs().max()
    return out


def reference_check(result: SweepResult, configs: Sequence[ModelConfig], *, construction: str = "authors",
                    convention: str = "authors") -> tuple[float, float]:
    r"""Recompute $\max_x\rho(A^*(x))$ of some models of a sweep the way the authors' scripts do, and time it.

    For each of ``configs`` (models of ``result``), :func:`per_point_reference` on the authors' grid: one $A^*$ and
    one LAPACK eigenvalue problem per point. Returns ``(seconds per model, largest relative difference)`` from the
    batched ``rho_max`` of ``result`` (which differs only by roundoff). ``construction``, ``convention``: as the
    sweep used. Raises ``ValueError`` for an empty ``configs`` or a model that is not in ``result``.
    """
    import time

    configs = list(configs)
    if not configs:
        raise ValueError("configs: expected at least one model of the sweep")
    if not isinstance(result, SweepResult):
        raise ValueError(f"result: expected a SweepResult (see sweep), got {type(result).__name__}")
    grid, worst = authors_grid(), 0.0
    start = time.perf_counter()
    for c in configs:
        row = result.find(c)
        if row is None:
            raise ValueError(f"configs: {c.key} is not a model of this sweep")
        W, B = draw_network(c.weights, c.depth, 2, torch.Generator().manual_seed(c.seed), construction=construction)
        rho = float(per_point_reference(list(W), list(B) if c.bias else None, c.activation, grid,
                                        convention=convention).max())
        worst = max(worst, abs(rho - row["rho_max"]) / max(1.0, rho))
    return (time.perf_counter() - start) / len(configs), worst


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _row_key(r: dict) -> tuple:
    return (r["factorisation"], r["range"], r["depth"], r["activation"], r["bias"])


def _spectra(net: networks.NetworkBatch, grid: torch.Tensor, W: torch.Tensor) -> dict:
    """The spectral columns of the table for a batch (see :class:`SweepResult`)."""
    from linear_lens.activations import get

    out = {}
    differ = [i for i, a in enumerate(net.activations) if get(a).sigma0 != 0]
    for form, suffix in (("paper", ""), ("shifted", "_shifted")):
        if form == "shifted":  # the forms agree when sigma(0) = 0: compute only the networks where they differ
            keep = {k: v.clone() for k, v in out.items()}
            if not differ:
                out.update({k + suffix: v for k, v in keep.items()})
                continue
            sub = net.select(differ)
        else:
            sub = net
        A, _ = spectral_fields.affine_field(sub, grid, form=form)
        sf = spectral_fields.spectral_field(A)
        cols = {"rho_max": sf.rho.amax(-1), "rho_mean": sf.rho.mean(-1), "rho_median": sf.rho.median(-1).values,
                "frac_rho_gt1": (sf.rho > 1).to(A.dtype).mean(-1), "norm_max": sf.norm.amax(-1)}
        if form == "paper":
            out.update(cols)
        else:
            ix = torch.tensor(differ, device=A.device)
            for k, v in cols.items():
                keep[k][ix] = v
                out[k + suffix] = keep[k]
    _, J = networks.batch_jacobian(net, grid)
    sj = spectral_fields.spectral_field(J)
    out["jac_rho_max"] = sj.rho.amax(-1)
    out["jac_norm_max"] = sj.norm.amax(-1)
    out["jac_norm_min"] = sj.norm.amin(-1)
    out["jac_norm_median"] = sj.norm.median(-1).values
    out["rho_weights_max"] = spectral_fields.spectral_field(W).rho.amax(-1)
    out["rho_weights_min"] = spectral_fields.spectral_field(W).rho.amin(-1)
    out["norm_weights_prod"] = spectral_fields.spectral_field(W).norm.prod(-1)
    out = {k: v.cpu() for k, v in out.items()}
    out["forms_differ"] = [get(a).sigma0 != 0 for a in net.activations]
    return out
