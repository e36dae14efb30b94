"""Bad input to every public function of the Part I modules without a table elsewhere, and the ValueError each gives.

Modules: authors_activations, attractors, constrained_layers, dynamics, linear_maps, model_sweep, spectral_fields
and spectral_promises. Every row is (name, call, regex): the call must raise a one-line ``ValueError`` (not another
exception, not a silent NaN, not a wrong answer) whose message starts with the parameter's name. The last test
checks that every public function of those modules that takes an argument has a row.
"""

import inspect
import re
from pathlib import Path

import pytest
import torch

from linear_lens import attractors as AT
from linear_lens import authors_activations as AA
from linear_lens import constrained_layers as CL
from linear_lens import dynamics as DY
from linear_lens import linear_maps as LM
from linear_lens import model_sweep as MS
from linear_lens import spectral_fields as SF
from linear_lens import spectral_promises as SP
from linear_lens.networks import network_batch

F64 = torch.float64
NAN, INF = float("nan"), float("inf")
I2 = torch.eye(2, dtype=F64)
NET = network_batch(torch.stack([0.5 * I2, I2]).unsqueeze(0), None, "tanh")
S2 = torch.zeros(3, 2, dtype=F64)
NANS = torch.full((3, 2), NAN, dtype=F64)
CPLX = torch.tensor([[1j, 0], [0, 1]])
TAIL = torch.zeros(10, 1, 1, 2, dtype=F64)
WC = MS.weight_configs()[0]
MC = MS.configurations(depths=[1], activations=["relu"], weights=[WC])[0]
PF = lambda: CL.PerronFrobeniusLinear(2, 0.0, 1.0)  # noqa: E731
GEN = r"^generator: expected None, a torch.Generator or an integer seed"
DTYPE = r"^dtype: expected torch.float32 or torch.float64"
NAME = r"^name: expected one of perron_frobenius, spectral_svd, gershgorin_real, gershgorin_complex, got 'x'"
NET_MSG = r"^net: expected a NetworkBatch \(see network_batch\), got NoneType"

BAD = [
    # --- authors_activations -------------------------------------------------------------------------------------
    ("library_2020 generator float", lambda: AA.library_2020(1.5), GEN + ", got float"),
    ("library_2020 generator str", lambda: AA.library_2020("a"), GEN + ", got str"),
    ("authors_fig1_groups list", lambda: AA.authors_fig1_groups([1]), r"^library: expected a non-empty dict of elementwise callables"),
    ("authors_fig1_groups empty", lambda: AA.authors_fig1_groups({}), r"^library: expected a non-empty dict"),
    ("authors_fig1_groups not callable", lambda: AA.authors_fig1_groups({"a": 3}), r"^library: expected a non-empty dict"),
    ("authors_fig1_groups seed -1", lambda: AA.authors_fig1_groups(generator=-1), r"^generator: an integer seed must be nonnegative, got -1"),
    # --- attractors ---------------------------------------------------------------------------------------------
    ("classify_attractor steps 0", lambda: AT.classify_attractor(NET, S2, steps=0), r"^steps: expected a positive integer, got 0"),
    ("classify_attractor tail", lambda: AT.classify_attractor(NET, S2, steps=100, tail=10), r"^tail: need 2 \* max_period < tail <= steps"),
    ("classify_attractor starts None", lambda: AT.classify_attractor(NET, None, steps=100), r"^x: expected an array of real numbers, got None"),
    ("classify_attractor starts NaN", lambda: AT.classify_attractor(NET, NANS, steps=100), r"^x: contains NaN or infinite entries"),
    ("classify_attractor starts shape", lambda: AT.classify_attractor(NET, torch.zeros(3, 3), steps=100), r"^x: expected \(P, 2\) or \(1, P, 2\)"),
    ("classify_attractor starts complex", lambda: AT.classify_attractor(NET, CPLX, steps=100), r"^x: expected real numbers, got complex dtype"),
    ("classify_attractor net None", lambda: AT.classify_attractor(None, S2, steps=100), NET_MSG),
    ("classify_attractor escape", lambda: AT.classify_attractor(NET, S2, steps=100, escape=-1.0), r"^escape: expected a radius > 1 or math.inf"),
    ("classify_attractor tol_fixed NaN", lambda: AT.classify_attractor(NET, S2, steps=100, tol_fixed=NAN), r"^tol_fixed: expected a finite real number, got nan"),
    ("classify_attractor tol_fixed -1", lambda: AT.classify_attractor(NET, S2, steps=100, tol_fixed=-1.0), r"^tol_fixed: must be nonnegative, got -1.0"),
    ("classify_attractor tol_period NaN", lambda: AT.classify_attractor(NET, S2, steps=100, tol_period=NAN), r"^tol: expected a finite real number, got nan"),
    ("classify_attractor lyapunov_tol None", lambda: AT.classify_attractor(NET, S2, steps=100, lyapunov_tol=None), r"^lyapunov_tol: expected a finite real number, got None"),
    ("classify_attractor line_points 0", lambda: AT.classify_attractor(NET, S2, steps=100, line_points=0), r"^line_points: expected a positive integer, got 0"),
    ("classify_attractor line_tol NaN", lambda: AT.classify_attractor(NET, S2, steps=100, line_tol=NAN), r"^line_tol: expected a finite real number, got nan"),
    ("classify_attractor generator", lambda: AT.classify_attractor(NET, S2, steps=100, generator="x"), GEN + ", got str"),
    ("classify_attractor lyapunov_steps 0", lambda: AT.classify_attractor(NET, S2, steps=100, lyapunov_steps=0), r"^lyapunov_steps: expected a positive integer, got 0"),
    ("classify_attractor blocks 3", lambda: AT.classify_attractor(NET, S2, steps=100, blocks=3), r"^blocks: need at least 2 blocks dividing lyapunov_steps = 512, got 3"),
    # --- constrained_layers ------------------------------------------------------------------------------------
    ("PerronFrobeniusLinear generator", lambda: CL.PerronFrobeniusLinear(2, 0.0, 1.0, generator=1.5), GEN + ", got float"),
    ("PerronFrobeniusLinear dtype", lambda: CL.PerronFrobeniusLinear(2, 0.0, 1.0, dtype=torch.int64), DTYPE + ", got torch.int64"),
    ("PerronFrobeniusLinear lams", lambda: CL.PerronFrobeniusLinear(2, 1.0, 0.0), r"^lam_min: must not exceed lam_max"),
    ("SpectralLinear norm", lambda: CL.SpectralLinear(2, 0.0, 1.0, norm="x"), r"^norm: expected 'spectral' or 'frobenius', got 'x'"),
    ("SkewSymmetricLinear scale", lambda: CL.SkewSymmetricLinear(2, scale=-1.0), r"^scale: must be positive, got -1.0"),
    ("HamiltonianLinear n 1", lambda: CL.HamiltonianLinear(1), r"^n: a Hamiltonian weight needs n >= 2"),
    ("GershgorinLinear real", lambda: CL.GershgorinLinear(2, 0.0, 1.0, real="yes"), r"^real: expected True or False, got 'yes'"),
    ("layer forward x", lambda: PF()(torch.zeros(3)), r"^x: last dimension must be n = 2"),
    ("fit_linear target None", lambda: CL.fit_linear(PF(), None), r"^target: expected an array of real numbers, got None"),
    ("fit_linear target size", lambda: CL.fit_linear(PF(), torch.eye(3, dtype=F64)), r"^target: must be 2 x 2 to match the layer"),
    ("fit_linear target NaN", lambda: CL.fit_linear(PF(), torch.full((2, 2), NAN, dtype=F64)), r"^target: contains NaN or infinite entries"),
    ("fit_linear target float32", lambda: CL.fit_linear(PF(), I2.float(), steps=1), r"^target: dtype torch.float32 differs from the layer's torch.float64"),
    ("fit_linear steps 0", lambda: CL.fit_linear(PF(), I2, steps=0), r"^steps: expected a positive integer, got 0"),
    ("fit_linear lr 0", lambda: CL.fit_linear(PF(), I2, lr=0.0), r"^lr: must be positive, got 0.0"),
    ("fit_linear generator", lambda: CL.fit_linear(PF(), I2, steps=1, generator=1.5), GEN + ", got float"),
    ("fit_linear layer None", lambda: CL.fit_linear(None, I2, steps=1), r"^layer: expected a torch.nn.Module, got NoneType"),
    # --- dynamics -----------------------------------------------------------------------------------------------
    ("iterate steps 0", lambda: DY.iterate(NET, S2, 0), r"^steps: expected a positive integer, got 0"),
    ("iterate x0 None", lambda: DY.iterate(NET, None, 3), r"^x: expected an array of real numbers, got None"),
    ("iterate x0 NaN", lambda: DY.iterate(NET, NANS, 3), r"^x: contains NaN or infinite entries"),
    ("iterate x0 complex", lambda: DY.iterate(NET, CPLX, 3), r"^x: expected real numbers, got complex dtype"),
    ("iterate net None", lambda: DY.iterate(None, S2, 3), NET_MSG),
    ("iterate escape", lambda: DY.iterate(NET, S2, 3, escape=0.5), r"^escape: expected a radius > 1 or math.inf, got 0.5"),
    ("iterate tail", lambda: DY.iterate(NET, S2, 3, tail=5), r"^tail: at most steps \+ 1 = 4, got 5"),
    ("iterate norms", lambda: DY.iterate(NET, S2, 3, norms="y"), r"^norms: expected True or False, got 'y'"),
    ("growth_rate None", lambda: DY.growth_rate(None), r"^norms: expected an array of real numbers, got None"),
    ("growth_rate shape", lambda: DY.growth_rate(torch.ones(1)), r"^norms: expected \(K \+ 1, \.\.\.\) with K >= 1"),
    ("growth_rate negative", lambda: DY.growth_rate(torch.tensor([1.0, -1.0])), r"^norms: norms are nonnegative"),
    ("growth_rate complex", lambda: DY.growth_rate(torch.tensor([1j, 1.0])), r"^norms: expected real numbers, got torch.complex64"),
    ("orbit_period max_period 0", lambda: DY.orbit_period(TAIL, 0), r"^max_period: expected a positive integer, got 0"),
    ("orbit_period short", lambda: DY.orbit_period(TAIL, 5), r"^tail: need more than 2 \* max_period = 10 states, got 10"),
    ("orbit_period None", lambda: DY.orbit_period(None, 2), r"^tail: expected a tensor of orbit states, got NoneType"),
    ("orbit_period complex", lambda: DY.orbit_period(TAIL.to(torch.complex128), 2), r"^tail: expected real numbers, got complex dtype"),
    ("orbit_period tol -1", lambda: DY.orbit_period(TAIL, 2, tol=-1.0), r"^tol: must be nonnegative, got -1.0"),
    ("rotation_number shape", lambda: DY.rotation_number(torch.zeros(10, 1, 3)), r"^tail: expected \(T >= 2, \.\.\., 2\)"),
    ("rotation_number None", lambda: DY.rotation_number(None), r"^tail: expected a tensor of orbit states, got NoneType"),
    ("rotation_number centre str", lambda: DY.rotation_number(torch.zeros(10, 1, 2), centre="x"), r"^centre: expected an array of real numbers, got a string"),
    ("rotation_number centre shape", lambda: DY.rotation_number(torch.zeros(10, 1, 2), centre=torch.zeros(3)), r"^centre: expected \(\.\.\.batch, 2\)"),
    ("on_closed_curve shape", lambda: DY.on_closed_curve(torch.zeros(10, 2)), r"^tail: expected \(T, \.\.\., S, 2\)"),
    ("on_closed_curve sectors 0", lambda: DY.on_closed_curve(TAIL, sectors=0), r"^sectors: expected a positive integer, got 0"),
    ("on_closed_curve rtol -1", lambda: DY.on_closed_curve(TAIL, rtol=-1.0), r"^rtol: must be nonnegative, got -1.0"),
    ("on_closed_curve None", lambda: DY.on_closed_curve(None), r"^tail: expected a tensor of orbit states, got NoneType"),
    ("on_closed_curve centre NaN", lambda: DY.on_closed_curve(TAIL, centre=[NAN, 0.0]), r"^centre: contains NaN or infinite entries"),
    ("hausdorff_distance None", lambda: DY.hausdorff_distance(None, S2), r"^a: expected an array of real numbers, got None"),
    ("hausdorff_distance NaN", lambda: DY.hausdorff_distance(NANS, S2), r"^a: contains NaN or infinite entries"),
    ("hausdorff_distance columns", lambda: DY.hausdorff_distance(S2, torch.zeros(3, 3)), r"^a, b: expected point clouds \(P, n\) and \(Q, n\)"),
    ("hausdorff_distance empty", lambda: DY.hausdorff_distance(torch.zeros(0, 2), S2), r"^a, b: expected point clouds"),
    ("hausdorff_distance 1-D", lambda: DY.hausdorff_distance(torch.zeros(3), torch.zeros(3)), r"^a, b: expected point clouds"),
    ("fixed_points tol 0", lambda: DY.fixed_points(NET, S2, tol=0.0), r"^tol, box, dedupe: must be positive"),
    ("fixed_points max_iter 0", lambda: DY.fixed_points(NET, S2, max_iter=0), r"^max_iter: expected a positive integer, got 0"),
    ("fixed_points starts None", lambda: DY.fixed_points(NET, None), r"^x: expected an array of real numbers, got None"),
    ("fixed_points starts shape", lambda: DY.fixed_points(NET, torch.zeros(3, 3)), r"^x: expected \(P, 2\)"),
    ("fixed_points net None", lambda: DY.fixed_points(None, S2), NET_MSG),
    ("lyapunov_exponent steps 0", lambda: DY.lyapunov_exponent(NET, S2, 0), r"^steps: expected a positive integer, got 0"),
    ("lyapunov_exponent blocks", lambda: DY.lyapunov_exponent(NET, S2, 16, blocks=3), r"^blocks: need at least 2 blocks dividing steps = 16"),
    ("lyapunov_exponent x0 NaN", lambda: DY.lyapunov_exponent(NET, NANS, 16), r"^x: contains NaN or infinite entries"),
    ("lyapunov_exponent generator", lambda: DY.lyapunov_exponent(NET, S2, 16, generator="x"), GEN + ", got str"),
    ("lyapunov_exponent net None", lambda: DY.lyapunov_exponent(None, S2, 16), NET_MSG),
    # --- linear_maps --------------------------------------------------------------------------------------------
    ("perron_frobenius_weight None", lambda: LM.perron_frobenius_weight(None, I2, 0.0, 1.0), r"^A_raw: expected an array of real numbers, got None"),
    ("perron_frobenius_weight sizes", lambda: LM.perron_frobenius_weight(I2, torch.eye(3), 0.0, 1.0), r"^M_raw: must have the size of A_raw"),
    ("perron_frobenius_weight lams", lambda: LM.perron_frobenius_weight(I2, I2, 1.0, 0.0), r"^lam_min: must not exceed lam_max"),
    ("perron_frobenius_weight complex", lambda: LM.perron_frobenius_weight(CPLX, I2, 0.0, 1.0), r"^A_raw: expected real numbers, got complex dtype"),
    ("spectral_weight s size", lambda: LM.spectral_weight(I2, torch.ones(3), I2, 0.0, 1.0), r"^s: U, s, V must have shapes"),
    ("spectral_weight s NaN", lambda: LM.spectral_weight(I2, torch.tensor([NAN, 1.0]), I2, 0.0, 1.0), r"^s: contains NaN or infinite entries"),
    ("spectral_weight lam NaN", lambda: LM.spectral_weight(I2, torch.ones(2), I2, NAN, 1.0), r"^lam_min: expected a finite real number, got nan"),
    ("orthogonality_penalty norm", lambda: LM.orthogonality_penalty(I2, I2, norm="x"), r"^norm: expected 'spectral' or 'frobenius', got 'x'"),
    ("orthogonality_penalty U 1-D", lambda: LM.orthogonality_penalty(torch.ones(2), I2), r"^U: expected a matrix \(\.\.\., m, k\)"),
    ("orthogonality_penalty V None", lambda: LM.orthogonality_penalty(I2, None), r"^V: expected an array of real numbers, got None"),
    ("skew_symmetric_weight not square", lambda: LM.skew_symmetric_weight(torch.zeros(2, 3)), r"^L: expected square matrices \(\.\.\., n, n\)"),
    ("skew_symmetric_weight gamma NaN", lambda: LM.skew_symmetric_weight(I2, NAN), r"^gamma: expected a finite real number, got nan"),
    ("hamiltonian_weight 1-D", lambda: LM.hamiltonian_weight(torch.ones(2)), r"^A: expected a matrix \(\.\.\., p, q\)"),
    ("hamiltonian_weight None", lambda: LM.hamiltonian_weight(None), r"^A: expected an array of real numbers, got None"),
    ("gershgorin_weight normalise", lambda: LM.gershgorin_weight(I2, 0.0, 1.0, normalise="x"), r"^normalise: expected 'row' or 'column', got 'x'"),
    ("gershgorin_weight real", lambda: LM.gershgorin_weight(I2, 0.0, 1.0, real=None), r"^real: expected True or False, got None"),
    ("gershgorin_slim_weight d_raw", lambda: LM.gershgorin_slim_weight(I2, torch.ones(3), 0.0, 1.0), r"^d_raw: expected shape \(\.\.\., 2\) to match W_raw"),
    ("gershgorin_slim_weight inf", lambda: LM.gershgorin_slim_weight(I2, torch.tensor([INF, 0.0]), 0.0, 1.0), r"^d_raw: contains NaN or infinite entries"),
    ("perron_frobenius n 0", lambda: LM.perron_frobenius(0, 0.0, 1.0), r"^n: expected a positive integer, got 0"),
    ("perron_frobenius generator", lambda: LM.perron_frobenius(2, 0.0, 1.0, generator=1.5), GEN + ", got float"),
    ("perron_frobenius dtype int", lambda: LM.perron_frobenius(2, 0.0, 1.0, dtype=torch.int64), DTYPE + ", got torch.int64"),
    ("perron_frobenius dtype f16", lambda: LM.perron_frobenius(2, 0.0, 1.0, dtype=torch.float16), DTYPE + ", got torch.float16"),
    ("perron_frobenius batch", lambda: LM.perron_frobenius(2, 0.0, 1.0, batch=-1), r"^batch: expected nonnegative integers, got \(-1,\)"),
    ("spectral_svd construction", lambda: LM.spectral_svd(2, 0.0, 1.0, construction="x"), r"^construction: expected one of printed, slim, got 'x'"),
    ("spectral_svd n", lambda: LM.spectral_svd(-1, 0.0, 1.0), r"^n: expected a positive integer, got -1"),
    ("spectral_svd dtype", lambda: LM.spectral_svd(2, 0.0, 1.0, dtype=torch.int64), DTYPE + ", got torch.int64"),
    ("spectral_svd generator", lambda: LM.spectral_svd(2, 0.0, 1.0, construction="slim", generator="x"), GEN + ", got str"),
    ("skew_symmetric n 0", lambda: LM.skew_symmetric(0), r"^n: expected a positive integer, got 0"),
    ("skew_symmetric gamma inf", lambda: LM.skew_symmetric(2, INF), r"^gamma: expected a finite real number, got inf"),
    ("skew_symmetric scale 0", lambda: LM.skew_symmetric(2, scale=0.0), r"^scale: must be positive, got 0.0"),
    ("skew_symmetric dtype", lambda: LM.skew_symmetric(2, dtype=torch.int32), DTYPE + ", got torch.int32"),
    ("hamiltonian n 1", lambda: LM.hamiltonian(1), r"^n: a Hamiltonian weight needs n >= 2 \(two blocks\), got 1"),
    ("hamiltonian dtype", lambda: LM.hamiltonian(2, dtype=torch.int32), DTYPE + ", got torch.int32"),
    ("hamiltonian generator", lambda: LM.hamiltonian(2, generator=[1]), GEN + ", got list"),
    ("gershgorin construction", lambda: LM.gershgorin(2, 0.0, 1.0, construction="x"), r"^construction: expected one of printed, slim, got 'x'"),
    ("gershgorin real", lambda: LM.gershgorin(2, 0.0, 1.0, real=1), r"^real: expected True or False, got 1"),
    ("gershgorin dtype", lambda: LM.gershgorin(2, 0.0, 1.0, dtype=torch.int32), DTYPE + ", got torch.int32"),
    ("gershgorin generator", lambda: LM.gershgorin(2, 0.0, 1.0, generator="x"), GEN + ", got str"),
    ("slim_mlp linear_map", lambda: LM.slim_mlp(2, 1, "x"), r"^linear_map: expected one of gershgorin, softSVD, pf, linear, got 'x'"),
    ("slim_mlp hidden_layers", lambda: LM.slim_mlp(2, -1, "softSVD"), r"^hidden_layers: expected a nonnegative integer, got -1"),
    ("slim_mlp n", lambda: LM.slim_mlp(0, 1, "softSVD"), r"^n: expected a positive integer, got 0"),
    ("slim_mlp bias", lambda: LM.slim_mlp(2, 1, "softSVD", bias="x"), r"^bias: expected True or False, got 'x'"),
    ("slim_mlp dtype", lambda: LM.slim_mlp(2, 1, "linear", dtype=torch.int32), DTYPE + ", got torch.int32"),
    ("slim_mlp generator", lambda: LM.slim_mlp(2, 1, "pf", generator="x"), GEN + ", got str"),
    ("slim_mlp lams", lambda: LM.slim_mlp(2, 1, "pf", lam_min=1.0, lam_max=0.0), r"^lam_min: must not exceed lam_max"),
    # --- model_sweep --------------------------------------------------------------------------------------------
    ("configurations depths 0", lambda: MS.configurations(depths=[0]), r"^depths: expected a positive integer, got 0"),
    ("configurations depths None", lambda: MS.configurations(depths=None), r"^depths: expected a list, got NoneType"),
    ("configurations activation", lambda: MS.configurations(activations=["x"]), r"^activation: unknown name 'x'"),
    ("configurations seed -1", lambda: MS.configurations(seed=-1), r"^seed: expected a nonnegative integer, got -1"),
    ("configurations seed bool", lambda: MS.configurations(seed=True), r"^seed: expected a nonnegative integer, got True"),
    ("configurations weights", lambda: MS.configurations(weights=[1]), r"^weights: expected WeightConfig entries"),
    ("configurations distinct_seeds", lambda: MS.configurations(distinct_seeds="x"), r"^distinct_seeds: expected True or False, got 'x'"),
    ("draw_network construction", lambda: MS.draw_network(WC, 1, 2, torch.Generator(), construction="x"), r"^construction: expected one of authors, printed, got 'x'"),
    ("draw_network n 0", lambda: MS.draw_network(WC, 1, 0, torch.Generator()), r"^n: expected a positive integer, got 0"),
    ("draw_network depth 0", lambda: MS.draw_network(WC, 0, 2, torch.Generator()), r"^depth: expected a positive integer, got 0"),
    ("draw_network generator", lambda: MS.draw_network(WC, 1, 2, "x"), GEN + ", got str"),
    ("draw_network config None", lambda: MS.draw_network(None, 1, 2, torch.Generator()), r"^config: expected a WeightConfig, got NoneType"),
    ("draw_network factorisation", lambda: MS.draw_network(MS.WeightConfig("x", 0.0, 1.0), 1, 2, torch.Generator()), r"^config: unknown factorisation 'x'"),
    ("draw_network lams", lambda: MS.draw_network(MS.WeightConfig("spectral", 1.0, 0.0), 1, 2, torch.Generator()), r"^lam_min: must not exceed lam_max"),
    ("draw_network dtype", lambda: MS.draw_network(WC, 1, 2, torch.Generator(), dtype=torch.int32), DTYPE + ", got torch.int32"),
    ("network_draws seeds -1", lambda: MS.network_draws(MC, [-1]), r"^seeds: expected nonnegative integers, got \[-1\]"),
    ("network_draws seeds empty", lambda: MS.network_draws(MC, []), r"^seeds: expected nonnegative integers, got \[\]"),
    ("network_draws convention", lambda: MS.network_draws(MC, convention="x"), r"^convention: expected one of eq3, authors, got 'x'"),
    ("network_draws construction", lambda: MS.network_draws(MC, construction="x"), r"^construction: expected one of authors, printed"),
    ("network_draws n 0", lambda: MS.network_draws(MC, n=0), r"^n: expected a positive integer, got 0"),
    ("network_draws config None", lambda: MS.network_draws(None), r"^config: expected a ModelConfig, got NoneType"),
    ("shows kind", lambda: MS.shows(None, "x"), r"^kind: expected one of single point, multiple points"),
    ("shows attractor None", lambda: MS.shows(None, "chaotic"), r"^attractor: expected an Attractor \(see classify_attractor\), got NoneType"),
    ("find_attractor kind", lambda: MS.find_attractor(MC, "x", S2, 1), r"^kind: expected one of single point"),
    ("find_attractor search_seeds", lambda: MS.find_attractor(MC, "chaotic", S2, 0), r"^search_seeds: expected a positive integer, got 0"),
    ("find_attractor starts None", lambda: MS.find_attractor(MC, "chaotic", None, 1), r"^x: expected an array of real numbers, got None"),
    ("authors_grid dtype int", lambda: MS.authors_grid(torch.int32), DTYPE + ", got torch.int32"),
    ("authors_grid dtype f16", lambda: MS.authors_grid(torch.float16), DTYPE + ", got torch.float16"),
    ("authors_starts dtype int", lambda: MS.authors_starts(torch.int32), DTYPE + ", got torch.int32"),
    ("authors_starts dtype None", lambda: MS.authors_starts(None), DTYPE + ", got None"),
    ("sweep configs empty", lambda: MS.sweep([]), r"^configs: need at least one model"),
    ("sweep convention", lambda: MS.sweep([MC], convention="x"), r"^convention: expected one of eq3, authors, got 'x'"),
    ("sweep construction", lambda: MS.sweep([MC], construction="x"), r"^construction: expected one of authors, printed, got 'x'"),
    ("sweep n 0", lambda: MS.sweep([MC], n=0, classify=False), r"^n: expected a positive integer, got 0"),
    ("sweep grid shape", lambda: MS.sweep([MC], grid=torch.zeros(3, 3), classify=False, show_progress=False), r"^x: expected \(P, 2\)"),
    ("sweep grid NaN", lambda: MS.sweep([MC], grid=NANS, classify=False, show_progress=False), r"^x: contains NaN or infinite entries"),
    ("crosstab rows empty", lambda: MS.crosstab([], "depth"), r"^rows: need at least one row"),
    ("crosstab rows None", lambda: MS.crosstab(None, "depth"), r"^rows: need at least one row"),
    ("crosstab by", lambda: MS.crosstab([{"kind": 1}], "depth"), r"^by, column: must be columns of the rows, got 'depth', 'kind'"),
    ("summary rows empty", lambda: MS.summary([], "depth"), r"^rows: need at least one row"),
    ("summary by", lambda: MS.summary([{"kind": "chaotic"}], "depth"), r"^by, column: must be columns of the rows"),
    ("per_point_reference convention", lambda: MS.per_point_reference([I2], None, "relu", S2, convention="x"), r"^convention: expected one of eq3, authors, got 'x'"),
    ("per_point_reference form", lambda: MS.per_point_reference([I2], None, "relu", S2, form="x"), r"^form: expected one of paper, shifted, got 'x'"),
    ("per_point_reference grid None", lambda: MS.per_point_reference([I2], None, "relu", None), r"^grid: expected an array of real numbers, got None"),
    ("per_point_reference grid 1-D", lambda: MS.per_point_reference([I2], None, "relu", torch.zeros(2)), r"^grid: expected points \(P, n\), got shape \(2,\)"),
    ("per_point_reference grid NaN", lambda: MS.per_point_reference([I2], None, "relu", NANS), r"^grid: contains NaN or infinite entries"),
    ("per_point_reference activation", lambda: MS.per_point_reference([I2], None, "x", S2), r"^activation: unknown name 'x'"),
    ("per_point_reference weights None", lambda: MS.per_point_reference(None, None, "relu", S2), r"^weights: expected a non-empty list of weight matrices, got NoneType"),
    ("reference_check configs empty", lambda: MS.reference_check(None, []), r"^configs: expected at least one model of the sweep"),
    ("reference_check result None", lambda: MS.reference_check(None, [MC]), r"^result: expected a SweepResult \(see sweep\), got NoneType"),
    # --- spectral_fields ----------------------------------------------------------------------------------------
    ("affine_field form", lambda: SF.affine_field(NET, S2, form="x"), r"^form: expected one of paper, shifted, got 'x'"),
    ("affine_field x None", lambda: SF.affine_field(NET, None), r"^x: expected an array of real numbers, got None"),
    ("affine_field x NaN", lambda: SF.affine_field(NET, NANS), r"^x: contains NaN or infinite entries"),
    ("affine_field net None", lambda: SF.affine_field(None, S2), NET_MSG),
    ("eigenvalues not square", lambda: SF.eigenvalues(torch.zeros(2, 3)), r"^A: eigenvalues need square matrices \(\.\.\., n, n\)"),
    ("eigenvalues None", lambda: SF.eigenvalues(None), r"^A: expected an array of real numbers, got None"),
    ("eigenvalues complex", lambda: SF.eigenvalues(CPLX), r"^A: expected real numbers, got complex dtype"),
    ("eigenvalues NaN", lambda: SF.eigenvalues(torch.full((2, 2), NAN)), r"^A: contains NaN or infinite entries"),
    ("spectral_field not square", lambda: SF.spectral_field(torch.zeros(2, 3)), r"^A: eigenvalues need square matrices"),
    ("spectral_field n 0", lambda: SF.spectral_field(torch.zeros(0, 0)), r"^A: eigenvalues need matrices of size n >= 1"),
    ("dominant_eigenvector 1-D", lambda: SF.dominant_eigenvector(torch.zeros(3)), r"^A: eigenvalues need square matrices"),
    ("activation_pattern x None", lambda: SF.activation_pattern(NET, None), r"^x: expected an array of real numbers, got None"),
    ("activation_pattern x shape", lambda: SF.activation_pattern(NET, torch.zeros(3, 3)), r"^x: expected \(P, 2\)"),
    ("activation_pattern net None", lambda: SF.activation_pattern(None, S2), NET_MSG),
    ("count_regions float", lambda: SF.count_regions(torch.zeros(3, 3)), r"^codes: expected a 2-D integer grid of labels"),
    ("count_regions 1-D", lambda: SF.count_regions(torch.zeros(3, dtype=torch.int64)), r"^codes: expected a 2-D integer grid"),
    ("count_regions connectivity", lambda: SF.count_regions(torch.zeros(3, 3, dtype=torch.int64), connectivity=6), r"^connectivity: expected 4 or 8, got 6"),
    ("count_regions min_cells", lambda: SF.count_regions(torch.zeros(3, 3, dtype=torch.int64), min_cells=0), r"^min_cells: expected a positive integer, got 0"),
    ("count_regions None", lambda: SF.count_regions(None), r"^codes: expected an array, got NoneType"),
    ("count_sectors empty", lambda: SF.count_sectors(torch.zeros(0, dtype=torch.int64)), r"^codes: need at least one label"),
    ("count_sectors None", lambda: SF.count_sectors(None), r"^codes: expected an array, got NoneType"),
    ("region_bound n_in 0", lambda: SF.region_bound([2], 0), r"^n_in: expected a positive integer, got 0"),
    ("region_bound widths 0", lambda: SF.region_bound([0], 2), r"^widths: expected a positive integer, got 0"),
    ("region_bound widths None", lambda: SF.region_bound(None, 2), r"^widths: expected a list of positive integers, got NoneType"),
    ("max_jump 1-D", lambda: SF.max_jump(torch.zeros(3)), r"^field: expected \(\.\.\., rows, cols\)"),
    ("max_jump None", lambda: SF.max_jump(None), r"^field: expected an array of real numbers, got NoneType"),
    ("max_jump NaN", lambda: SF.max_jump(torch.full((3, 3), NAN)), r"^field: contains NaN or infinite entries"),
    ("max_jump complex", lambda: SF.max_jump(torch.zeros(3, 3, dtype=torch.complex64)), r"^field: expected real numbers, got torch.complex64"),
    # --- spectral_promises --------------------------------------------------------------------------------------
    ("gershgorin_discs not square", lambda: SP.gershgorin_discs(torch.zeros(2, 3)), r"^W: expected square matrices \(\.\.\., n, n\)"),
    ("gershgorin_discs None", lambda: SP.gershgorin_discs(None), r"^W: expected an array of real numbers, got None"),
    ("gershgorin_discs complex", lambda: SP.gershgorin_discs(CPLX), r"^W: expected real numbers, got complex dtype"),
    ("guaranteed_region name", lambda: SP.guaranteed_region("x", 0.0, 1.0), NAME),
    ("guaranteed_region lams", lambda: SP.guaranteed_region("spectral_svd", 1.0, 0.0), r"^lam_min: must not exceed lam_max"),
    ("annulus_excess radii", lambda: SP.annulus_excess(torch.zeros(2), 2.0, 1.0), r"^r_in: need 0 <= r_in <= r_out, got r_in=2.0, r_out=1.0"),
    ("annulus_excess z None", lambda: SP.annulus_excess(None, 0.0, 1.0), r"^z: expected an array of real numbers, got None"),
    ("annulus_excess z NaN", lambda: SP.annulus_excess(torch.tensor([NAN]), 0.0, 1.0), r"^z: contains NaN or infinite entries"),
    ("annulus_excess centre NaN", lambda: SP.annulus_excess(torch.zeros(2), 0.0, 1.0, centre=NAN), r"^centre: contains NaN or infinite entries"),
    ("annulus_excess centre None", lambda: SP.annulus_excess(torch.zeros(2), 0.0, 1.0, centre=None), r"^centre: expected an array of real numbers, got None"),
    ("interval_excess lo > hi", lambda: SP.interval_excess(torch.zeros(2), 1.0, 0.0), r"^lo: must not exceed hi, got lo=1.0, hi=0.0"),
    ("interval_excess z None", lambda: SP.interval_excess(None, 0.0, 1.0), r"^z: expected an array of real numbers, got None"),
    ("interval_excess z NaN", lambda: SP.interval_excess(torch.tensor([NAN]), 0.0, 1.0), r"^z: contains NaN or infinite entries"),
    ("promise_excess name", lambda: SP.promise_excess("x", I2, 0.0, 1.0), NAME),
    ("promise_excess W", lambda: SP.promise_excess("spectral_svd", torch.zeros(2, 3), 0.0, 1.0), r"^W: expected square matrices"),
    ("promise_excess W None", lambda: SP.promise_excess("spectral_svd", None, 0.0, 1.0), r"^W: expected an array of real numbers, got None"),
    ("promise_excess lams", lambda: SP.promise_excess("spectral_svd", I2, 1.0, 0.0), r"^lam_min: must not exceed lam_max"),
    ("worst_excess name", lambda: SP.worst_excess("x", [2], 0.0, 1.0), NAME),
    ("worst_excess draws 0", lambda: SP.worst_excess("spectral_svd", [2], 0.0, 1.0, draws=0), r"^draws: expected a positive integer, got 0"),
    ("worst_excess sizes 0", lambda: SP.worst_excess("spectral_svd", [0], 0.0, 1.0, draws=1), r"^n: expected a positive integer, got 0"),
    ("worst_excess generator", lambda: SP.worst_excess("spectral_svd", [2], 0.0, 1.0, draws=1, generator="x"), GEN + ", got str"),
    ("stability_verdict empty", lambda: SP.stability_verdict(torch.zeros(0)), r"^rho: need at least one spectral radius"),
    ("stability_verdict tol -1", lambda: SP.stability_verdict(torch.ones(1), tol=-1.0), r"^tol: must be nonnegative, got -1.0"),
    ("stability_verdict None", lambda: SP.stability_verdict(None), r"^rho: expected an array of real numbers, got None"),
    ("stability_verdict NaN", lambda: SP.stability_verdict(torch.tensor([NAN])), r"^rho: contains NaN or infinite entries"),
    ("stability_verdict negative", lambda: SP.stability_verdict(torch.tensor([-1.0])), r"^rho: spectral radii are nonnegative"),
    ("sample name", lambda: SP.sample("x", 2, 0.0, 1.0), NAME),
    ("sample n 0", lambda: SP.sample("spectral_svd", 0, 0.0, 1.0), r"^n: expected a positive integer, got 0"),
    ("sample draws 0", lambda: SP.sample("spectral_svd", 2, 0.0, 1.0, draws=0), r"^draws: expected a positive integer, got 0"),
    ("sample generator", lambda: SP.sample("gershgorin_real", 2, 0.0, 1.0, generator="x"), GEN + ", got str"),
    ("sample lams", lambda: SP.sample("perron_frobenius", 2, 1.0, 0.0), r"^lam_min: must not exceed lam_max"),
    ("eigenvalue_clouds names", lambda: SP.eigenvalue_clouds(["x"], [(0.0, 1.0)], 2), NAME),
    ("eigenvalue_clouds ranges order", lambda: SP.eigenvalue_clouds(["spectral_svd"], [(1.0, 0.0)], 2), r"^lam_min: must not exceed lam_max"),
    ("eigenvalue_clouds n -1", lambda: SP.eigenvalue_clouds(["spectral_svd"], [(0.0, 1.0)], -1), r"^n: expected a positive integer, got -1"),
    ("eigenvalue_clouds draws 0", lambda: SP.eigenvalue_clouds(["spectral_svd"], [(0.0, 1.0)], 2, draws=0), r"^draws: expected a positive integer, got 0"),
    ("eigenvalue_clouds names None", lambda: SP.eigenvalue_clouds(None, [(0.0, 1.0)], 2), r"^names: expected a non-empty list, got None"),
    ("eigenvalue_clouds ranges None", lambda: SP.eigenvalue_clouds(["spectral_svd"], None, 2), r"^ranges: expected a non-empty list, got None"),
    ("eigenvalue_clouds ranges flat", lambda: SP.eigenvalue_clouds(["spectral_svd"], [1.0], 2), r"^ranges: expected pairs \(lam_min, lam_max\)"),
    ("eigenvalue_clouds generator", lambda: SP.eigenvalue_clouds(["spectral_svd"], [(0.0, 1.0)], 2, generator="x"), GEN + ", got str"),
]


@pytest.mark.parametrize("name, call, message", BAD, ids=[row[0] for row in BAD])
def test_bad_input_raises_a_clear_value_error(name, call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value), f"{name}: the message should be one line"


MODULES = {"AA": AA, "AT": AT, "CL": CL, "DY": DY, "LM": LM, "MS": MS, "SF": SF, "SP": SP}


def test_every_public_function_has_a_row():
    table = Path(__file__).read_text().split("BAD = [")[1].split("\n]\n")[0]
    covered = set(re.findall(r"\b(AA|AT|CL|DY|LM|MS|SF|SP)\.([a-z_0-9]+)\(", table))
    missing = [f"{module.__name__}.{name}" for alias, module in MODULES.items() for name in module.__all__
               if inspect.isfunction(getattr(module, name)) and (alias, name) not in covered
               and inspect.signature(getattr(module, name)).parameters]  # weight_configs() takes no input
    assert not missing, f"public functions without a bad-input row: {missing}"
