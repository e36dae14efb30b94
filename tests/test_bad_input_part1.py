"""Bad input to every public function of the Part I package, and the one-line ValueError each must give.

Modules: activations, activation_stability, affine, networks, sampling, _checks and the spectral functions of
stability (the orbit functions belong to chapter 2's tests). Every row is (call, regex the message must match);
a message starts with the parameter's name and says what is allowed. Then the documented promises at their ends:
integer input computed in float64, mixed float32/float64 promoted, int seeds accepted, extreme magnitudes.
"""

import math

import numpy as np
import pytest
import torch

from linear_lens import _checks
from linear_lens import activation_stability as AS
from linear_lens import activations as AC
from linear_lens import affine as AF
from linear_lens import attractors as AT
from linear_lens import networks as N
from linear_lens import sampling as SA
from linear_lens import secants as SC
from linear_lens import dynamics as DY
from linear_lens import spectral_fields as SF
from linear_lens import stability as ST

F32, F64 = torch.float32, torch.float64
NAN, INF = float("nan"), float("inf")


def _net():
    g = torch.Generator().manual_seed(0)
    return N.random_network([2, 3, 2], bias=True, generator=g)


W, B = _net()
X = torch.randn(4, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
WSQ = [0.5 * torch.eye(2, dtype=F64), torch.eye(2, dtype=F64)]
CPLX = torch.tensor([[1j, 0], [0, 1]])

ROWS = [
    # --- activations -----------------------------------------------------------------------------------------
    ("get unknown", lambda: AC.get("nope"), r"^activation: unknown name 'nope'; allowed: "),
    ("get None", lambda: AC.get(None), r"^activation: expected a name, an Activation or a callable, got NoneType"),
    ("get number", lambda: AC.get(3), r"^activation: expected a name, an Activation or a callable, got int"),
    ("get bad param", lambda: AC.get("relu", alpha=1.0), r"^params: relu has no parameter \['alpha'\]; allowed: none"),
    ("get NaN param", lambda: AC.get("elu", alpha=NAN), r"^params: elu parameter alpha must be finite and real, got nan"),
    ("get None param", lambda: AC.get("elu", alpha=None), r"^params: elu parameter alpha must be finite and real, got None"),
    ("get str param", lambda: AC.get("elu", alpha="1"), r"^params: elu parameter alpha must be finite and real, got '1'"),
    ("get bool param", lambda: AC.get("elu", alpha=True), r"^params: elu parameter alpha must be finite and real"),
    ("get params with Activation", lambda: AC.get(AC.get("elu"), alpha=1.0), r"^params: parameters can only be given"),
    ("get domain softplus", lambda: AC.get("softplus", beta=0.0), r"^params: softplus needs beta > 0"),
    ("get domain soft_exponential", lambda: AC.get("soft_exponential", alpha=-1.0), r"^params: soft_exponential needs alpha > -1"),
    ("get callable failing", lambda: AC.get(lambda z: z.nonexistent), r"^activation: the callable failed on a float64 tensor"),
    ("get callable non-finite", lambda: AC.get(lambda z: 1 / z), r"^activation: the callable is not finite at 0"),
    ("symmetric_derivative fn", lambda: AC.symmetric_derivative(None), r"^fn: expected an elementwise callable, got NoneType"),
    ("symmetric_derivative z0", lambda: AC.symmetric_derivative(torch.tanh, NAN), r"^z0: expected a finite real number, got nan"),
    ("slope None", lambda: AC.slope("tanh", None), r"^z: expected an array of real numbers, got None"),
    ("slope complex", lambda: AC.slope("tanh", CPLX), r"^z: expected real numbers, got complex dtype"),
    ("secant NaN", lambda: SC.secant("tanh", torch.tensor([NAN])), r"^z: contains NaN or infinite entries"),
    ("secant form", lambda: SC.secant("tanh", torch.zeros(1), form="tangent"), r"^form: expected one of paper, shifted"),
    ("Activation.derivative at_kink", lambda: AC.get("relu").derivative(torch.zeros(1), at_kink="both"), r"^at_kink: expected one of symmetric, left, right"),
    ("Activation.derivative z None", lambda: AC.get("relu").derivative(None), r"^z: expected an array of real numbers, got None"),
    ("Activation.secant None", lambda: AC.get("sigmoid").secant(None), r"^z: expected an array of real numbers, got None"),
    ("Activation.shifted_secant bool", lambda: AC.get("sigmoid").shifted_secant(torch.tensor([True])),
     r"^z: expected real numbers, got a boolean tensor"),
    ("Activation.shifted_secant str", lambda: AC.get("sigmoid").shifted_secant("1"), r"^z: expected an array of real numbers, got a string"),
    # --- activation_stability -------------------------------------------------------------------------------
    ("classify unknown", lambda: AS.classify("nope"), r"^activation: unknown name"),
    ("unstable_interval atol", lambda: AS.unstable_interval("relu", atol=-1.0), r"^atol: expected a number in \[0, 0.01\]"),
    ("unstable_interval params", lambda: AS.unstable_interval("relu", alpha=1.0), r"^params: relu has no parameter"),
    ("state_bound weight", lambda: AS.state_bound("relu", 1.5, 0.0, 2), r"^weight: expected a number in \[0, 1\)"),
    ("excess z NaN", lambda: AS.excess("softplus", torch.tensor([NAN])), r"^z: contains NaN"),
    ("excess z None", lambda: AS.excess("softplus", None), r"^z: expected an array of real numbers, got None"),
    ("classify method", lambda: AS.classify("relu", method="exact"), r"^method: expected one of auto, analytic, numeric"),
    ("classify method None", lambda: AS.classify("relu", method=None), r"^method: expected one of .*got None"),
    ("classify atol NaN", lambda: AS.classify("relu", atol=NAN), r"^atol: expected a number in \[0, 0.01\], got nan"),
    ("classify atol None", lambda: AS.classify("relu", atol=None), r"^atol: expected a number in \[0, 0.01\], got None"),
    ("classify atol large", lambda: AS.classify("relu", atol=0.5), r"^atol: expected a number in \[0, 0.01\]"),
    ("classify analytic callable", lambda: AS.classify(torch.tanh, method="analytic"), r"^method: no closed form for"),
    ("paper_footnotes None", lambda: AS.paper_footnotes(None), r"^activation: unknown name None"),
    ("sweep activation callable", lambda: AS.sweep(torch.tanh, "alpha", [1.0]), r"^activation: expected a registered name"),
    ("sweep param", lambda: AS.sweep("elu", "beta", [1.0]), r"^param: elu has no parameter 'beta'; allowed: alpha"),
    ("sweep param None", lambda: AS.sweep("elu", None, [1.0]), r"^param: elu has no parameter None"),
    ("sweep values None", lambda: AS.sweep("elu", "alpha", None), r"^values: expected an array of real numbers, got None"),
    ("sweep values NaN", lambda: AS.sweep("elu", "alpha", [NAN]), r"^values: contains NaN or infinite entries"),
    ("sweep values empty", lambda: AS.sweep("elu", "alpha", []), r"^values: expected a non-empty array"),
    ("sweep values complex", lambda: AS.sweep("elu", "alpha", [1j]), r"^values: expected real numbers, got complex"),
    ("offset unknown", lambda: AS.offset("nope"), r"^activation: unknown name"),
    ("iterate w None", lambda: AS.iterate("tanh", None, 1.0, 3), r"^w: expected an array of real numbers, got None"),
    ("iterate x0 NaN", lambda: AS.iterate("tanh", 0.5, NAN, 3), r"^x0: contains NaN or infinite entries"),
    ("iterate steps 0", lambda: AS.iterate("tanh", 0.5, 1.0, 0), r"^steps: expected a positive integer, got 0"),
    ("iterate steps float", lambda: AS.iterate("tanh", 0.5, 1.0, 2.5), r"^steps: expected a positive integer, got 2.5"),
    ("iterate shapes", lambda: AS.iterate("tanh", torch.ones(2), torch.ones(3), 2), r"^w, x0: shapes \(2,\) and \(3,\) do not broadcast"),
    ("iterate_layer W shape", lambda: AS.iterate_layer("tanh", torch.ones(2, 3), None, torch.zeros(2), 3), r"^W: expected a square"),
    ("iterate_layer W complex", lambda: AS.iterate_layer("tanh", CPLX, None, torch.zeros(2), 3), r"^W: expected real numbers"),
    ("iterate_layer b shape", lambda: AS.iterate_layer("tanh", torch.eye(2), torch.ones(3), torch.zeros(2), 3), r"^b: expected shape \(2,\)"),
    ("iterate_layer x0 None", lambda: AS.iterate_layer("tanh", torch.eye(2), None, None, 3), r"^x0: expected an array of real numbers, got None"),
    # --- affine ----------------------------------------------------------------------------------------------
    ("pointwise_affine x None", lambda: AF.pointwise_affine(W, B, "tanh", None), r"^x: expected an array of real numbers, got None"),
    ("pointwise_affine x complex", lambda: AF.pointwise_affine(W, B, "tanh", X.to(torch.complex128)), r"^x: expected real numbers, got complex"),
    ("pointwise_affine x shape", lambda: AF.pointwise_affine(W, B, "tanh", torch.zeros(3)), r"^x: last dimension must be n_0 = 2"),
    ("pointwise_affine weights None", lambda: AF.pointwise_affine(None, None, "tanh", X), r"^weights: expected a list of weight matrices .*got None"),
    ("pointwise_affine weights tensor", lambda: AF.pointwise_affine(torch.eye(2), None, "tanh", X),
     r"^weights: expected a list .*wrap a single matrix in a list"),
    ("pointwise_affine weight None", lambda: AF.pointwise_affine([None], None, "tanh", X), r"^weights\[0\]: expected an array of real numbers, got None"),
    ("pointwise_affine weight NaN", lambda: AF.pointwise_affine([torch.full((2, 2), NAN)], None, "tanh", X), r"^weights\[0\]: contains NaN"),
    ("pointwise_affine biases 3", lambda: AF.pointwise_affine(W, B + B[:1], "tanh", X), r"^biases: expected 2 bias vectors"),
    ("pointwise_affine bias None", lambda: AF.pointwise_affine(W, [None, B[1]], "tanh", X), r"^biases\[0\]: expected an array of real numbers, got None"),
    ("pointwise_affine bias complex", lambda: AF.pointwise_affine(W, [B[0].to(torch.complex128), B[1]], "tanh", X), r"^biases\[0\]: expected real numbers"),
    ("pointwise_affine activation", lambda: AF.pointwise_affine(W, B, None, X), r"^activation: expected a name"),
    ("pointwise_affine form", lambda: AF.pointwise_affine(W, B, "tanh", X, form=None), r"^form: expected one of paper, shifted, got None"),
    ("pointwise_affine paper pole overflow", lambda: AF.pointwise_affine([torch.eye(1, dtype=F32)] * 2, None, "sigmoid",
                                                                         torch.tensor([[1e-40]], dtype=F32)),
     r"^form: the paper form's Lambda = sigma\(z\)/z overflowed in torch.float32 .* use form='shifted' or float64"),
    ("pointwise_affine outside the domain", lambda: AF.pointwise_affine([torch.eye(1, dtype=F64)] * 2, None,
                                                                        AC.get("soft_exponential", alpha=-0.5),
                                                                        torch.tensor([[-3.0]], dtype=F64)),
     r"^activation: soft_exponential produced NaN or infinite values"),
    ("activation_scaling z None", lambda: AF.activation_scaling("tanh", None), r"^z: expected an array of real numbers, got None"),
    ("activation_scaling z NaN", lambda: AF.activation_scaling("tanh", torch.tensor([NAN])), r"^z: contains NaN or infinite entries"),
    ("activation_scaling form", lambda: AF.activation_scaling("tanh", torch.zeros(1), form="tangent"), r"^form: expected one of"),
    ("preactivations x None", lambda: AF.preactivations(W, B, "tanh", None), r"^x: expected an array of real numbers, got None"),
    ("layer_scalings form", lambda: AF.layer_scalings(W, B, "tanh", X, form=1), r"^form: expected one of paper, shifted, got 1"),
    ("jacobian x str", lambda: AF.jacobian(W, B, "tanh", "x"), r"^x: expected an array of real numbers, got a string"),
    ("reconstruction_error x bool", lambda: AF.reconstruction_error(W, B, "tanh", torch.ones(4, 2, dtype=torch.bool)), r"^x: expected real numbers, got a boolean"),
    ("secant_tangent_gap z None", lambda: AF.secant_tangent_gap("tanh", None), r"^z: expected an array of real numbers, got None"),
    ("secant_tangent_gap z inf", lambda: AF.secant_tangent_gap("tanh", torch.tensor([INF])), r"^z: contains NaN or infinite entries"),
    ("exactness_sweep depths -1", lambda: AF.exactness_sweep(["relu"], [-1]), r"^depths: expected a nonnegative integer, got -1"),
    ("exactness_sweep depths None", lambda: AF.exactness_sweep(["relu"], None), r"^depths: expected a non-empty list of integers >= 0, got None"),
    ("exactness_sweep names str", lambda: AF.exactness_sweep("relu", [1]), r"^names: expected a non-empty list of activations"),
    ("exactness_sweep names unknown", lambda: AF.exactness_sweep(["relu", "nope"], [1]), r"^activation: unknown name 'nope'"),
    ("exactness_sweep width 0", lambda: AF.exactness_sweep(["relu"], [1], width=0), r"^width: expected a positive integer, got 0"),
    ("exactness_sweep n_points", lambda: AF.exactness_sweep(["relu"], [1], n_points=1.5), r"^n_points: expected a positive integer"),
    ("exactness_sweep input_scale NaN", lambda: AF.exactness_sweep(["relu"], [1], input_scale=NAN), r"^input_scale: expected a finite real number, got nan"),
    ("exactness_sweep input_scale 0", lambda: AF.exactness_sweep(["relu"], [1], input_scale=0.0), r"^input_scale: expected a finite positive number"),
    ("exactness_sweep forms", lambda: AF.exactness_sweep(["relu"], [1], forms=["paper", "tangent"]), r"^forms: expected one of paper, shifted, got 'tangent'"),
    ("exactness_sweep generator", lambda: AF.exactness_sweep(["relu"], [1], generator="0"), r"^generator: expected None, a torch.Generator or an integer seed, got str"),
    ("exactness_sweep generator -1", lambda: AF.exactness_sweep(["relu"], [1], generator=-1), r"^generator: an integer seed must be nonnegative"),
    ("jacobian_gap_sweep depth -1", lambda: AF.jacobian_gap_sweep(["relu"], depth=-1), r"^depth: expected a nonnegative integer, got -1"),
    ("jacobian_gap_sweep bias", lambda: AF.jacobian_gap_sweep(["relu"], bias=None), r"^bias: expected True or False, got None"),
    ("jacobian_gap_sweep names None", lambda: AF.jacobian_gap_sweep(None), r"^names: expected a non-empty list"),
    # --- networks -----------------------------------------------------------------------------------------
    ("forward x None", lambda: N.forward(W, B, "tanh", None), r"^x: expected an array of real numbers, got None"),
    ("forward weights str", lambda: N.forward("W", None, "tanh", X), r"^weights: expected a list of weight matrices"),
    ("forward widths", lambda: N.forward([torch.zeros(3, 2), torch.zeros(2, 4)], None, "relu", X), r"^weights: A_1 has 4 columns"),
    ("network_batch None", lambda: N.network_batch(None), r"^weights: expected an array of real numbers, got None"),
    ("network_batch convention", lambda: N.network_batch([torch.eye(2)], convention="paper"), r"^convention: expected one of eq3, authors"),
    ("network_batch widths", lambda: N.network_batch([torch.zeros(3, 2), torch.zeros(2, 4)]), r"^weights: A_1 has 4 columns"),
    ("random_batch count", lambda: N.random_batch([2, 2], 0), r"^count: expected a positive integer, got 0"),
    ("batch_forward x NaN", lambda: N.batch_forward(N.network_batch([torch.eye(2)]), torch.tensor([[NAN, 0.0]])), r"^x: contains NaN"),
    ("batch_jacobian x shape", lambda: N.batch_jacobian(N.network_batch([torch.eye(2)]), torch.zeros(3, 3)), r"^x: expected \(P, 2\)"),
    ("batch_jvp v None", lambda: N.batch_jvp(N.network_batch([torch.eye(2)]), torch.zeros(1, 3, 2), None), r"^x: expected an array of real numbers, got None"),
    ("random_network widths None", lambda: N.random_network(None), r"^widths: expected a list of positive integers, got NoneType"),
    ("random_network widths short", lambda: N.random_network([3]), r"^widths: need at least an input and an output width"),
    ("random_network widths 0", lambda: N.random_network([3, 0]), r"^widths: expected a positive integer, got 0"),
    ("random_network scale NaN", lambda: N.random_network([2, 2], scale=NAN), r"^scale: expected a finite real number, got nan"),
    ("random_network scale -1", lambda: N.random_network([2, 2], scale=-1.0), r"^scale: expected a finite number >= 0, got -1.0"),
    ("random_network bias", lambda: N.random_network([2, 2], bias="yes"), r"^bias: expected True or False, got 'yes'"),
    ("random_network dtype", lambda: N.random_network([2, 2], dtype=torch.float16), r"^dtype: expected torch.float32 or torch.float64"),
    ("random_network generator", lambda: N.random_network([2, 2], generator=1.5), r"^generator: expected None, a torch.Generator or an integer seed, got float"),
    ("check_network weights empty", lambda: N.check_network([], None), r"^weights: need at least one weight matrix A_0"),
    ("check_network x None", lambda: N.check_network(W, B, None), r"^x: expected an array of real numbers, got None"),
    ("check_network f16", lambda: N.check_network([torch.zeros(2, 2, dtype=torch.float16)], None), r"^weights\[0\]: dtype torch.float16 is not supported"),
    ("check_values", lambda: N.check_values(torch.tensor([NAN]), AC.get("relu")), r"^activation: relu produced NaN or infinite values"),
    # --- sampling ---------------------------------------------------------------------------------------------
    ("randn shape None", lambda: SA.randn(None), r"^shape: expected a sequence of integers >= 0, got None"),
    ("randn shape -1", lambda: SA.randn((2, -1)), r"^shape: expected a nonnegative integer, got -1"),
    ("randn dtype", lambda: SA.randn((2,), dtype=torch.int64), r"^dtype: expected torch.float32 or torch.float64"),
    ("randn generator", lambda: SA.randn((2,), "seed"), r"^generator: expected None, a torch.Generator or an integer seed"),
    ("haar_orthogonal n 0", lambda: SA.haar_orthogonal(0), r"^n: expected a positive integer, got 0"),
    ("haar_orthogonal n None", lambda: SA.haar_orthogonal(None), r"^n: expected a positive integer, got None"),
    ("haar_orthogonal batch", lambda: SA.haar_orthogonal(2, (2, -1)), r"^batch: expected a nonnegative integer, got -1"),
    ("haar_orthogonal batch None", lambda: SA.haar_orthogonal(2, None), r"^batch: expected a sequence of integers >= 0, got None"),
    ("haar_orthogonal columns", lambda: SA.haar_orthogonal(2, columns=3), r"^columns: at most n = 2, got 3"),
    ("grid_2d low NaN", lambda: SA.grid_2d(NAN, 1.0, 3), r"^low: expected a finite real number, got nan"),
    ("grid_2d order", lambda: SA.grid_2d(1.0, 1.0, 3), r"^low, high: need low < high, got 1.0, 1.0"),
    ("grid_2d n", lambda: SA.grid_2d(0.0, 1.0, 0), r"^n: expected a positive integer, got 0"),
    ("grid_2d dtype", lambda: SA.grid_2d(0.0, 1.0, 3, dtype=torch.int32), r"^dtype: expected torch.float32 or torch.float64"),
    # --- stability (spectral functions) -------------------------------------------------------------------
    ("spectral_radius None", lambda: ST.spectral_radius(None), r"^A: expected an array of real numbers, got None"),
    ("spectral_radius complex", lambda: ST.spectral_radius(CPLX), r"^A: expected real numbers, got complex dtype"),
    ("spectral_radius shape", lambda: ST.spectral_radius(torch.zeros(2, 3)), r"^A: eigenvalues need square matrices"),
    ("spectral_radius n = 0", lambda: ST.spectral_radius(torch.zeros(3, 0, 0)), r"^A: eigenvalues need matrices of size n >= 1"),
    ("spectral_radius NaN", lambda: ST.spectral_radius(torch.tensor([[NAN]])), r"^A: contains NaN or infinite entries"),
    ("activation_gain z_max", lambda: ST.activation_gain("relu", z_max=0.5), r"^z_max: expected a finite number > 1, got 0.5"),
    ("activation_gain z_max NaN", lambda: ST.activation_gain("relu", z_max=NAN), r"^z_max: expected a finite real number, got nan"),
    ("activation_gain points 1", lambda: ST.activation_gain("relu", points=1), r"^points: expected an integer >= 2, got 1"),
    ("activation_gain overflow", lambda: ST.activation_gain(AC.get("celu", alpha=-1.5), z_max=1e300), r"^activation: celu is not finite"),
    ("contraction_bound None", lambda: ST.contraction_bound(None, "relu"), r"^weights: expected a list of square matrices"),
    ("contraction_bound rectangular", lambda: ST.contraction_bound([torch.zeros(2, 3)], "relu"), r"^weights: A_0 must be square"),
    ("contraction_bound sizes", lambda: ST.contraction_bound([torch.eye(2), torch.eye(3)], "relu"), r"^weights: all A_l must have the same size"),
    ("contraction_bound batch", lambda: ST.contraction_bound([torch.zeros(2, 2, 2), torch.zeros(3, 2, 2)], "relu"), r"^weights: the batch dimensions"),
    ("contraction_bound complex", lambda: ST.contraction_bound([CPLX], "relu"), r"^weights\[0\]: expected real numbers"),
    ("sufficient_condition margin", lambda: ST.sufficient_condition(WSQ, "relu", margin=1.0), r"^margin: expected a number in \[0, 1\)"),
    ("sufficient_condition margin None", lambda: ST.sufficient_condition(WSQ, "relu", margin=None), r"^margin: expected a finite real number, got None"),
    ("seed_sufficient_condition tol", lambda: ST.seed_sufficient_condition(WSQ, "relu", tol=-1e-3), r"^tol: expected a number in \[0, 1\)"),
    ("jsr_bounds shape", lambda: ST.jsr_bounds(torch.zeros(2, 2)), r"^matrices: expected a stack \(m, n, n\)"),
    ("jsr_bounds None", lambda: ST.jsr_bounds(None), r"^matrices: expected an array of real numbers, got None"),
    ("jsr_bounds too many", lambda: ST.jsr_bounds(torch.zeros(2, 2, 2), 21), r"^max_length: 2 \*\* 21 products is more than 2\*\*20"),
    ("jsr_bounds max_length 0", lambda: ST.jsr_bounds(torch.zeros(2, 2, 2), 0), r"^max_length: expected a positive integer, got 0"),
    ("eq10_counterexamples n", lambda: ST.eq10_counterexamples(0), r"^n: expected a positive integer, got 0"),
    ("eq10_counterexamples entries", lambda: ST.eq10_counterexamples(2, NAN), r"^entries: expected a non-empty list of numbers, got nan"),
    ("eq10_counterexamples entries NaN", lambda: ST.eq10_counterexamples(2, [0.0, NAN]), r"^entries: contains NaN"),
    ("eq10_counterexamples entries empty", lambda: ST.eq10_counterexamples(2, []), r"^entries: expected a non-empty list of numbers"),
    ("eq10_counterexamples too many", lambda: ST.eq10_counterexamples(3), r"^n, entries: .* pairs is more than 2\*\*22"),
    ("weights_with_spectrum scalar", lambda: ST.weights_with_spectrum(torch.tensor(1.0)), r"^eigenvalues: expected a real tensor \(\.\.\., n\)"),
    ("weights_with_spectrum complex", lambda: ST.weights_with_spectrum(torch.tensor([1j])), r"^eigenvalues: expected real numbers"),
    ("weights_with_spectrum normal", lambda: ST.weights_with_spectrum(torch.ones(2), normal="yes"), r"^normal: expected True or False"),
    ("weights_with_spectrum generator", lambda: ST.weights_with_spectrum(torch.ones(2), generator=2.0), r"^generator: expected None"),
    # --- _checks ---------------------------------------------------------------------------------------------
    ("as_float_tensor object", lambda: _checks.as_float_tensor([None, 1], "v"), r"^v: expected an array of real numbers, got list of object"),
    ("as_float_tensor ragged", lambda: _checks.as_float_tensor([[1.0], [1.0, 2.0]], "v"), r"^v: expected an array of real numbers"),
    ("check_real complex", lambda: _checks.check_real(1j, "v"), r"^v: expected a finite real number, got 1j"),
    ("check_positive_real 0", lambda: _checks.check_positive_real(0.0, "v"), r"^v: expected a finite positive number, got 0.0"),
    ("check_positive_int bool", lambda: _checks.check_positive_int(True, "v"), r"^v: expected a positive integer, got True"),
    ("check_sequence None", lambda: _checks.check_sequence(None, "v"), r"^v: expected a sequence \(a list or an array\), got NoneType"),
    ("check_sequence str", lambda: _checks.check_sequence("abc", "v"), r"^v: expected a sequence \(a list or an array\), got str"),
    ("check_nonnegative_int float", lambda: _checks.check_nonnegative_int(1.0, "v"), r"^v: expected a nonnegative integer, got 1.0"),
    ("check_float_dtype", lambda: _checks.check_float_dtype("float64", "v"), r"^v: expected torch.float32 or torch.float64, got 'float64'"),
    ("as_generator", lambda: _checks.as_generator(np.random.default_rng(0)), r"^generator: expected None, a torch.Generator or an integer seed"),
    ("check_times negative", lambda: _checks.check_times([-1.0, 2.0], (3,)), r"^t: times must be non-negative"),
    ("check_times batch", lambda: _checks.check_times(torch.ones(2, 4), (3,)), r"^t: shape \(2, 4\) does not broadcast"),
]


@pytest.mark.parametrize("call, pattern", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_input_gives_one_clear_value_error(call, pattern):
    with pytest.raises(ValueError, match=pattern) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, f"one line, please: {message!r}"
    assert "contains NaN" not in message or "None" not in pattern, "None must be reported as None"


def test_every_public_function_has_a_row():
    """The table covers every public function of the modules it is about (a new function needs a row)."""
    covered = " ".join(r[0] for r in ROWS)
    modules = {AC: None, AS: None, AF: None, N: {"forward_unchecked"}, SA: None, SC: None,
               _checks: {"check_finite", "common_dtype", "check_same_device"},
               ST: {"search_stable_pieces_unstable_map", "SearchResult", "observed_decay"}}
    missing = []
    for mod, skip in modules.items():
        for name in mod.__all__:
            obj = getattr(mod, name)
            if not callable(obj) or isinstance(obj, type) and name not in ("Activation",) or name in (skip or set()):
                continue
            if name == "Activation":
                name = "Activation.secant"
            if name not in covered:
                missing.append(f"{mod.__name__}.{name}")
    assert not missing, f"no bad-input row for {missing}"


# ---------------------------------------------------------------------------------------------------------------
# The ends of the documented promises
# ---------------------------------------------------------------------------------------------------------------


def test_integer_input_is_computed_in_float64():
    Wi = [torch.tensor([[1, 2], [3, 4]]), torch.tensor([[1, 0], [0, 1]])]
    A, b = AF.pointwise_affine(Wi, None, "sigmoid", torch.tensor([[1, -1]]), form="shifted")
    assert A.dtype == F64 and b.dtype == F64
    Wf = [w.to(F64) for w in Wi]
    A64, _ = AF.pointwise_affine(Wf, None, "sigmoid", torch.tensor([[1.0, -1.0]], dtype=F64), form="shifted")
    assert torch.equal(A, A64)
    assert ST.spectral_radius(torch.tensor([[0, 1], [-2, 0]])).dtype == F64
    lam, c = AF.activation_scaling("softplus", torch.tensor([0, 3]))
    assert lam.dtype == F64 and lam[1] == pytest.approx(math.log1p(math.exp(3)) / 3, rel=1e-15)
    assert AF.secant_tangent_gap("relu", torch.tensor([-2, 0, 5])).dtype == F64
    assert N.forward([[[1, 2]]], None, "relu", [[3, 4]]).dtype == F64, "nested lists of ints are float64 too"


def test_mixed_float32_and_float64_promote_to_float64():
    W32 = [w.to(F32) for w in W]
    A, b = AF.pointwise_affine(W32, B, "tanh", X.to(F32))
    assert A.dtype == F64 and b.dtype == F64, "float32 weights with float64 biases: float64"
    f = N.forward(W32, None, "tanh", X)
    assert f.dtype == F64
    assert ST.contraction_bound([WSQ[0].to(F32), WSQ[1]], "relu").dtype == F64
    assert ST.sufficient_condition([WSQ[0].to(F32), WSQ[1]], "relu") is True, "gamma = 0.5"


def test_float32_stays_float32():
    W32, X32 = [w.to(F32) for w in W], X.to(F32)
    A, b = AF.pointwise_affine(W32, [v.to(F32) for v in B], "gelu", X32, form="shifted")
    assert A.dtype == F32 and b.dtype == F32
    assert ST.spectral_radius(torch.eye(2, dtype=F32)).dtype == F32
    assert AC.get("gelu").secant(torch.zeros(3, dtype=F32)).dtype == F32


def test_int_seeds_are_accepted_everywhere_a_generator_is():
    w0, _ = N.random_network([2, 3], generator=0)
    w1, _ = N.random_network([2, 3], generator=torch.Generator().manual_seed(0))
    assert torch.equal(w0[0], w1[0])
    assert torch.equal(SA.randn((3,), 7), SA.randn((3,), torch.Generator().manual_seed(7)))
    assert torch.equal(SA.haar_orthogonal(3, generator=5), SA.haar_orthogonal(3, generator=torch.Generator().manual_seed(5)))
    a = ST.weights_with_spectrum(torch.tensor([0.5, -0.2], dtype=F64), generator=3)
    b = ST.weights_with_spectrum(torch.tensor([0.5, -0.2], dtype=F64), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    s1 = AF.exactness_sweep(["relu"], [1], n_points=8, generator=11)
    s2 = AF.exactness_sweep(["relu"], [1], n_points=8, generator=torch.Generator().manual_seed(11))
    assert torch.equal(s1["forward"], s2["forward"])
    g1 = AF.jacobian_gap_sweep(["tanh"], n_points=8, generator=2)
    g2 = AF.jacobian_gap_sweep(["tanh"], n_points=8, generator=torch.Generator().manual_seed(2))
    assert torch.equal(g1, g2)


def test_allowed_ends_of_the_ranges():
    assert AF.exactness_sweep(["tanh"], [0], n_points=4, generator=0)["backward"].shape == (1, 1, 2, 2), "depth 0: linear"
    assert AF.jacobian_gap_sweep(["relu"], depth=0, n_points=4, generator=0)[0] < 1e-12
    W0, _ = N.random_network([2, 2], scale=0.0, generator=0)
    assert torch.equal(W0[0], torch.zeros(2, 2)), "scale 0: zero weights"
    assert SA.haar_orthogonal(3, columns=0, generator=0).shape == (3, 0)
    assert SA.haar_orthogonal(3, batch=(0,), generator=0).shape == (0, 3, 3)
    assert SA.grid_2d(-1.0, 1.0, 1)[2].shape == (1, 1, 2)
    assert ST.activation_gain("relu", points=2) == 1.0
    assert ST.sufficient_condition(WSQ, "relu", margin=0.0) is True
    assert ST.seed_sufficient_condition(WSQ, "relu", tol=0.0) is True
    assert ST.jsr_bounds(torch.eye(2, dtype=F64).expand(4, 2, 2), 10) == (1.0, 1.0), "m ** k = 2 ** 20 exactly"
    for atol in (0.0, 0.01):
        assert AS.classify("relu", atol=atol).asymptotically_stable


@pytest.mark.parametrize("scale", [2.0**-1000, 1e-300, 1e-200, 1e200, 1e300])
def test_spectral_radius_2x2_neither_overflows_nor_underflows(scale):
    """The issue's cases: entries ~1e200 gave inf, ~1e-200 were off by 2x. Against mpmath at 50 digits."""
    import mpmath as mp

    cases = [[[1.0, 1.0], [1.0, 1.0]], [[1.0, 2.0], [-3.0, 0.5]], [[0.0, 1.0], [-1.0, 0.0]], [[3.0, 1e-5], [-1e5, 2.0]],
             [[-2.0, 0.5], [0.25, 1.0]], [[1.0, 1.0], [0.0, 1.0]]]
    for entries in cases:
        A = torch.tensor(entries, dtype=F64) * scale
        got = float(ST.spectral_radius(A))
        with mp.workdps(50):
            M = mp.matrix([[mp.mpf(float(v)) for v in row] for row in A.tolist()])
            exact = max(abs(e) for e in mp.eig(M)[0])
        assert math.isfinite(got) and abs(got - float(exact)) <= 1e-14 * float(exact) + 1e-300 * (scale < 1e-290), (
            entries, scale, got, float(exact))


@pytest.mark.parametrize("k", [-600, -300, 300, 600])
def test_spectral_radius_scales_with_even_powers_of_two(k, generator):
    """rho(2^k A) = 2^k rho(A) for even k, far beyond the range where squaring an entry is safe."""
    A = torch.randn(200, 2, 2, generator=generator, dtype=F64)
    factor = 2.0**k
    rho = ST.spectral_radius(A)
    torch.testing.assert_close(ST.spectral_radius(A * factor), rho * factor, rtol=4e-16, atol=0)


def test_spectral_radius_float32_extremes():
    for scale in (1e-30, 1e30):
        A = torch.tensor([[1.0, 2.0], [-3.0, 0.5]], dtype=F32) * scale
        assert torch.isfinite(ST.spectral_radius(A)) and float(ST.spectral_radius(A)) == pytest.approx(2.5495097 * scale, rel=1e-6)


def test_docstrings_have_no_control_characters():
    """Docstrings are raw strings: no interpreted \\a, \\t, \\r, \\f, \\v or \\b in the rendered text."""
    import inspect

    bad = []
    for mod in (AC, AS, AF, AT, DY, N, SA, SC, SF, ST, _checks):
        objects = [mod] + [getattr(mod, n) for n in dir(mod) if not n.startswith("__")]
        objects += [getattr(AC.Activation, n) for n in ("secant", "shifted_secant")]
        for obj in objects:
            doc = inspect.getdoc(obj) if (inspect.isfunction(obj) or inspect.ismodule(obj) or inspect.isclass(obj)) else None
            if doc and any(ord(ch) < 32 and ch != "\n" for ch in doc):
                bad.append(f"{mod.__name__}.{getattr(obj, '__name__', obj)}")
    assert not bad, f"control characters in the docstrings of {sorted(set(bad))}"
