"""Tests of linear_lens.dynamics: the batched engine against independent computations and known dynamics."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import brentq

from linear_lens import affine, dynamics as dy, networks
from linear_lens.activations import get

SWEEP_ACTS = ["relu", "selu", "gelu", "tanh", "sigmoid", "softplus"]
F64 = torch.float64


def _random_batch(generator, acts, depth=3, n=2, bias=True, convention="eq3"):
    M = len(acts)
    W = torch.randn(M, depth + 1, n, n, generator=generator, dtype=F64)
    B = torch.randn(M, depth + 1, n, generator=generator, dtype=F64) if bias else None
    return W, B, dy.network_batch(W, B, acts, convention=convention)


def _eq3_lists(W, B, m, convention):
    Ws, Bs = list(W[m]), (list(B[m]) if B is not None else None)
    if convention == "authors":
        n = W.shape[-1]
        Ws.append(torch.eye(n, dtype=F64))
        Bs = None if Bs is None else Bs + [torch.zeros(n, dtype=F64)]
    return Ws, Bs


# --- evaluation: f, A*, b*, the Jacobian -----------------------------------------------------------------------


@pytest.mark.parametrize("convention", dy.CONVENTIONS)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("n", [2, 3, 5])
def test_fields_match_the_per_network_implementation(generator, convention, bias, n):
    acts = SWEEP_ACTS + ["leaky_relu", "hardshrink", "elu"]  # the last three go through autograd
    W, B, net = _random_batch(generator, acts, n=n, bias=bias, convention=convention)
    x = 3 * torch.randn(40, n, generator=generator, dtype=F64)
    f = dy.forward(net, x)
    fj, J = dy.jacobian(net, x)
    for form in ("paper", "shifted"):
        A, b = dy.affine_field(net, x, form=form)
        for m, act in enumerate(acts):
            Ws, Bs = _eq3_lists(W, B, m, convention)
            A0, b0 = affine.pointwise_affine(Ws, Bs, act, x, form=form)
            assert torch.allclose(A[m], A0, rtol=1e-12, atol=1e-12), f"A* differs for {act} ({form})"
            assert torch.allclose(b[m], b0, rtol=1e-12, atol=1e-12), f"b* differs for {act} ({form})"
    for m, act in enumerate(acts):
        Ws, Bs = _eq3_lists(W, B, m, convention)
        f0 = networks.forward(Ws, Bs, act, x)
        assert torch.allclose(f[m], f0, rtol=1e-13, atol=1e-13), f"f differs for {act}"
        assert torch.allclose(fj[m], f0, rtol=1e-13, atol=1e-13)
        J0 = affine.jacobian(Ws, Bs, act, x)
        assert torch.allclose(J[m], J0, rtol=1e-10, atol=1e-12), f"Jacobian differs from autodiff for {act}"


def test_authors_convention_applies_the_activation_after_the_output(generator):
    W, B, net_a = _random_batch(generator, SWEEP_ACTS, depth=2, convention="authors")
    net_e = dy.network_batch(W, B, SWEEP_ACTS, convention="eq3")
    x = 4 * torch.randn(30, 2, generator=generator, dtype=F64)
    fa, fe = dy.forward(net_a, x), dy.forward(net_e, x)
    for m, act in enumerate(SWEEP_ACTS):
        assert torch.allclose(fa[m], get(act)(fe[m]), rtol=1e-14, atol=1e-15)
    assert net_a.depth == net_e.depth == 2 and net_a.weights.shape[1] == 4 and net_e.weights.shape[1] == 3


def test_jacobian_vector_is_the_jacobian_times_the_vector(generator):
    _, _, net = _random_batch(generator, SWEEP_ACTS, depth=4, convention="authors")
    x = 3 * torch.randn(6, 25, 2, generator=generator, dtype=F64)
    v = torch.randn(6, 25, 2, generator=generator, dtype=F64)
    f, J = dy.jacobian(net, x)
    f2, Jv = dy.jacobian_vector(net, x, v)
    assert torch.allclose(f, f2, rtol=0, atol=0)
    assert torch.allclose(Jv, (J @ v.unsqueeze(-1)).squeeze(-1), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", SWEEP_ACTS)
def test_closed_form_slopes_match_autograd(name):
    act = get(name)
    z = torch.cat([torch.linspace(-60, 60, 2001, dtype=F64), torch.tensor([0.0, 1e-300, -1e-300, 1e-8, -1e-8])])
    value, slope = dy._value_and_slope(act, z)
    zz = z.clone().requires_grad_(True)
    (d,) = torch.autograd.grad(act(zz).sum(), zz)
    assert torch.equal(value, act(z))
    assert torch.allclose(slope, d, rtol=1e-13, atol=1e-15), f"{name}: closed-form slope differs from autograd"


def test_batch_refuses_bad_input():
    W = torch.zeros(2, 2, 2, 2, dtype=F64)
    with pytest.raises(ValueError, match="convention"):
        dy.network_batch(W, convention="paper")
    with pytest.raises(ValueError, match="weights"):
        dy.network_batch(torch.zeros(2, 2, 2, 3))
    with pytest.raises(ValueError, match="biases"):
        dy.network_batch(W, torch.zeros(2, 3, 2))
    with pytest.raises(ValueError, match="activation"):
        dy.network_batch(W, None, ["relu"] * 3)
    with pytest.raises(ValueError, match="activation"):
        dy.network_batch(W, None, "nonsense")
    with pytest.raises(ValueError, match="weights"):
        dy.network_batch(W.clone().fill_(float("nan")))
    net = dy.network_batch(W)
    with pytest.raises(ValueError, match="x"):
        dy.forward(net, torch.zeros(5, 3, dtype=F64))
    with pytest.raises(ValueError, match="form"):
        dy.affine_field(net, torch.zeros(5, 2, dtype=F64), form="other")


def test_activation_runs_are_grouped():
    W = torch.zeros(5, 2, 2, 2, dtype=F64)
    net = dy.network_batch(W, None, ["relu", "relu", "tanh", "tanh", "relu"])
    assert [(g[0].name, g[1], g[2]) for g in net.groups] == [("relu", 0, 2), ("tanh", 2, 4), ("relu", 4, 5)]
    sub = net.select([1, 2, 3])
    assert [g[0].name for g in sub.groups] == ["relu", "tanh"] and sub.size == 3


# --- spectra ------------------------------------------------------------------------------------------------------


@given(st.integers(0, 2**31 - 1), st.sampled_from([1e-200, 1e-8, 1.0, 1e8, 1e200]))
def test_closed_form_eigenvalues_match_lapack(seed, scale):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(64, 2, 2, generator=g, dtype=F64) * scale
    lam = dy.eigenvalues(A)
    ref = torch.linalg.eigvals(A)
    dist = (lam.unsqueeze(-1) - ref.unsqueeze(-2)).abs().amin(-1).amax(-1)
    assert bool((dist <= 1e-12 * A.abs().amax((-2, -1))).all()), "closed-form eigenvalues differ from LAPACK"
    assert bool(torch.isfinite(lam).all())


def test_eigenvalues_exact_cases():
    I = torch.eye(2, dtype=F64)
    assert torch.equal(dy.eigenvalues(3 * I), torch.tensor([3 + 0j, 3 + 0j], dtype=torch.complex128))
    T = torch.tensor([[1e-9, 1.0], [0.0, 2.0]], dtype=F64)  # triangular: the diagonal, the small one accurate
    lam = dy.eigenvalues(T)
    assert lam[0].real == 2.0 and abs(lam[1].real - 1e-9) <= 1e-24
    R = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=F64)
    assert torch.allclose(dy.eigenvalues(R), torch.tensor([1j, -1j], dtype=torch.complex128))
    assert dy.eigenvalues(torch.zeros(2, 2, dtype=F64)).abs().max() == 0
    lam32 = dy.eigenvalues(torch.tensor([[0.5, 0.2], [0.1, 0.3]], dtype=torch.float32))
    assert lam32.dtype == torch.complex64


def test_spectral_field_norm_and_radius(generator):
    for n in (2, 3):
        A = torch.randn(200, n, n, generator=generator, dtype=F64)
        sf = dy.spectral_field(A)
        assert torch.allclose(sf.norm, torch.linalg.matrix_norm(A, 2), rtol=1e-13)
        assert torch.allclose(sf.rho, torch.linalg.eigvals(A).abs().amax(-1), rtol=1e-12)
        assert bool((sf.rho <= sf.norm * (1 + 1e-12)).all())


# --- regions ------------------------------------------------------------------------------------------------------


def test_region_bound_known_values():
    assert dy.region_bound([3], 2) == 1 + 3 + 3  # Zaslavsky: 3 lines in general position cut the plane in 7
    assert dy.region_bound([2], 2) == 4
    assert dy.region_bound([2, 2], 2) == 11
    assert dy.region_bound([1, 5], 1) <= 2 * 6
    assert dy.region_bound([], 2) == 1


def test_activation_pattern_and_region_count():
    # f = relu(x1) and relu(x2) patterns: four quadrants
    W = torch.eye(2, dtype=F64).expand(1, 2, 2, 2).clone()
    net = dy.network_batch(W, None, "relu")
    axis = torch.linspace(-1, 1, 41, dtype=F64) + 1e-3
    x1, x2 = torch.meshgrid(axis, axis, indexing="xy")
    codes = dy.activation_pattern(net, torch.stack([x1, x2], -1).reshape(-1, 2))[0].reshape(41, 41)
    assert sorted(torch.unique(codes).tolist()) == [0, 1, 2, 3]
    assert dy.count_regions(codes) == 4
    stripes = torch.tensor([[0, 1, 0, 1]] * 3)
    assert dy.count_regions(stripes) == 4  # equal labels in separate stripes count separately
    diagonal = torch.eye(4, dtype=torch.int64)
    assert dy.count_regions(diagonal, connectivity=4) == 4 + 2  # the diagonal cells and the two triangles
    assert dy.count_regions(diagonal) == 2  # with corners, the diagonal and the triangles are each connected
    assert dy.count_regions(diagonal, min_cells=5) == 1
    assert dy.count_sectors(torch.tensor([0, 0, 1, 1, 2, 0])) == 2 + 0 + 1 and dy.count_sectors(torch.ones(5)) == 1
    with pytest.raises(ValueError, match="codes"):
        dy.count_regions(torch.zeros(3, 3))


def test_max_jump_detects_discontinuities():
    for n in (101, 201):
        t = torch.linspace(-1, 1, n, dtype=F64)
        X, Y = torch.meshgrid(t, t, indexing="xy")
        smooth, step = torch.sin(X + Y), (X > 0.0123).to(F64)
        assert dy.max_jump(smooth) <= 2 * 2 / (n - 1) + 1e-12
        assert dy.max_jump(step) == 1.0


# --- orbits, periods, rotation ------------------------------------------------------------------------------------


def _linear_net(A, act="identity"):
    """f(x) = A x as an eq3 network with one hidden layer: A_0 = A, A_1 = I, identity activation."""
    A = torch.as_tensor(A, dtype=F64)
    return dy.network_batch(torch.stack([A, torch.eye(2, dtype=F64)]), None, act)


def test_iterate_escape_and_growth_rate():
    net = _linear_net([[2.0, 0.0], [0.0, 0.5]])
    starts = torch.tensor([[1.0, 1.0], [0.0, 3.0]], dtype=F64)
    orb = dy.iterate(net, starts, 100, tail=5, escape=1e6)
    assert bool(orb.escaped[0, 0]) and not bool(orb.escaped[0, 1])
    assert orb.escape_step[0, 0] == 20  # 2^20 > 1e6 > 2^19
    assert abs(float(orb.growth[0, 0]) - 2.0) < 1e-6
    assert orb.tail.shape == (5, 1, 2, 2) and torch.equal(orb.tail[-1], orb.x)
    assert float(orb.x[0, 1].norm()) < 1e-25


def test_orbit_period_and_rotation_number():
    theta = 2 * math.pi / 5
    R = [[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]]
    net = _linear_net(R)
    orb = dy.iterate(net, torch.tensor([[1.0, 0.0]], dtype=F64), 60, tail=40)
    assert int(dy.orbit_period(orb.tail, 12, 1e-9)[0, 0]) == 5
    assert abs(float(dy.rotation_number(orb.tail)[0, 0]) - 0.2) < 1e-12
    still = dy.iterate(_linear_net([[0.0, 0.0], [0.0, 0.0]]), torch.tensor([[1.0, 2.0]], dtype=F64), 30, tail=25)
    assert int(dy.orbit_period(still.tail, 12)[0, 0]) == 1
    with pytest.raises(ValueError, match="tail"):
        dy.orbit_period(orb.tail[:10], 12)


def test_hausdorff_distance():
    a = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=F64)
    b = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]], dtype=F64)
    assert dy.hausdorff_distance(a, b) == 2.0 and dy.hausdorff_distance(a, a) == 0.0


# --- fixed points ------------------------------------------------------------------------------------------------


def test_fixed_points_of_a_decoupled_tanh_map():
    # f(x) = tanh(2x) componentwise: fixed points 0 and +-s with s = tanh(2s), 9 in the plane
    s = brentq(lambda t: math.tanh(2 * t) - t, 0.5, 1.5)
    net = dy.network_batch(torch.stack([2 * torch.eye(2, dtype=F64), torch.eye(2, dtype=F64)]), None, "tanh")
    axis = torch.linspace(-3, 3, 7, dtype=F64) + 0.01
    starts = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1).reshape(-1, 2)
    fp = dy.fixed_points(net, starts)
    pts, verdicts = fp.points[0], fp.verdicts[0]
    assert pts.shape[0] == 9, pts
    coords = sorted({round(float(v), 9) for v in pts.flatten()})
    assert coords == [round(-s, 9), 0.0, round(s, 9)]
    slope = 2 * (1 - s * s)
    for p, v, rho in zip(pts, verdicts, fp.rho_jacobian[0]):
        k = int((p.abs() > 0.1).sum())
        assert v == {0: "unstable", 1: "saddle", 2: "stable"}[k]
        assert abs(float(rho) - (2.0 if k < 2 else slope)) < 1e-9
    # rho(A*) at the stable nonzero fixed points is 1, not below it: A*(x)x = x (no bias)
    assert torch.allclose(fp.rho_astar[0][[i for i, v in enumerate(verdicts) if v == "stable"]],
                          torch.ones(4, dtype=F64), atol=1e-12)


def test_fixed_points_refuse_bad_tolerances():
    net = _linear_net([[0.5, 0.0], [0.0, 0.5]])
    with pytest.raises(ValueError, match="tol"):
        dy.fixed_points(net, torch.zeros(1, 2, dtype=F64), tol=0.0)


# --- Lyapunov exponents -----------------------------------------------------------------------------------------


def _skew_tent(a=0.4):
    """The skew tent map x -> x/a (x < a), (1 - x)/(1 - a) (x >= a) as a 2-D ReLU network (second coordinate 0)."""
    A0 = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=F64)
    b0 = torch.tensor([0.0, -a], dtype=F64)
    A1 = torch.tensor([[1 / a, -(1 / a + 1 / (1 - a))], [0.0, 0.0]], dtype=F64)
    return dy.network_batch(torch.stack([A0, A1]), torch.stack([b0, torch.zeros(2, dtype=F64)]), "relu")


def test_lyapunov_exponent_of_a_linear_map_and_of_the_skew_tent_map():
    net = _linear_net([[0.5, 1.0], [0.0, 1.5]])
    ly = dy.lyapunov_exponent(net, torch.tensor([[1e-3, 1e-3]], dtype=F64), 256, blocks=8, generator=0)
    assert abs(float(ly.exponent[0, 0]) - math.log(1.5)) < 2 / 256  # the O(1/N) transient of the tangent
    a = 0.4
    exact = a * math.log(1 / a) + (1 - a) * math.log(1 / (1 - a))  # uniform invariant density
    tent = _skew_tent(a)
    ly = dy.lyapunov_exponent(tent, torch.tensor([[0.1234, 0.0], [0.777, 0.0]], dtype=F64), 8192, blocks=16,
                              generator=0)
    for k in range(2):
        est, se = float(ly.exponent[0, k]), float(ly.stderr[0, k])
        assert 0 < se < 0.05 and abs(est - exact) < 4 * se + 0.01, (est, se, exact)
    assert ly.running.shape == (16, 1, 2)


def test_lyapunov_exponent_collapses_to_minus_infinity_on_a_dead_relu():
    net = dy.network_batch(torch.stack([-torch.eye(2, dtype=F64), torch.eye(2, dtype=F64)]), None, "relu")
    ly = dy.lyapunov_exponent(net, torch.tensor([[1.0, 2.0]], dtype=F64), 64, blocks=4)
    assert ly.exponent[0, 0] == float("-inf")


# --- classification ----------------------------------------------------------------------------------------------


def _starts(k=8):
    axis = torch.linspace(-5, 5, k, dtype=F64)
    return torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1).reshape(-1, 2) + 0.013


def _rot(theta, r=1.0):
    return r * torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]], dtype=F64)


def test_classify_the_six_kinds_and_the_evidence():
    I = torch.eye(2, dtype=F64)
    nets = {
        "single point": (torch.stack([0.5 * _rot(0.3), I]), None, "tanh"),
        "multiple points": (torch.stack([2 * I, I]), None, "tanh"),
        "line attractor": (torch.stack([I, torch.diag(torch.tensor([1.0, 0.5], dtype=F64))]), None, "relu"),
        "limit cycle": (torch.stack([_rot(1.0, 1.3), I]), None, "tanh"),
        "unstable": (torch.stack([2 * I, I]), None, "relu"),
    }
    W = torch.stack([v[0] for v in nets.values()])
    net = dy.network_batch(W, None, [v[2] for v in nets.values()])
    res = dy.classify_attractor(net, _starts(), steps=600, generator=0)
    for (kind, _), a in zip(nets.items(), res):
        assert a.kind == kind, (kind, a.kind, a.evidence)
    single, multiple, line, cycle, unstable = res
    assert single.limits.shape[0] == 1 and single.fixed_point_verdicts == ["stable"]
    assert multiple.limits.shape[0] == 4
    assert line.line_points >= 4 and line.limit_eigenvalue_gap < 1e-12
    assert cycle.fates["quasi-periodic"] > 0 and cycle.period == 0 and 0.1 < abs(cycle.rotation) < 0.25
    assert "unstable" in cycle.fixed_point_verdicts  # the origin inside the invariant curve
    assert abs(unstable.growth - 2.0) < 1e-6
    chaotic = dy.classify_attractor(_skew_tent(), torch.tensor([[0.31, 0.0], [0.62, 0.0]], dtype=F64),
                                    steps=200, lyapunov_steps=2048, generator=0)[0]
    assert chaotic.kind == "chaotic" and chaotic.lyapunov - 3 * chaotic.lyapunov_stderr > 0.3
    period2 = dy.classify_attractor(dy.network_batch(torch.stack([-2 * I, I]), None, "tanh"), _starts(),
                                    steps=300, generator=0)[0]
    assert period2.kind == "limit cycle" and period2.period == 2 and period2.fates["periodic"] > 0
    row = single.row()
    assert row["kind"] == "single point" and row["starts_fixed_point"] == 64 and "evidence" in row


def test_classify_slow_convergence_to_a_non_hyperbolic_point_is_a_single_point():
    # tanh with an orthogonal weight: f'(0) has |eigenvalues| = 1, orbits approach 0 like k^(-1/2)
    net = dy.network_batch(torch.stack([_rot(0.7), torch.eye(2, dtype=F64)]), None, "tanh")
    a = dy.classify_attractor(net, _starts(), steps=800, generator=0)[0]
    assert a.kind == "single point", a.evidence
    assert a.fixed_point_verdicts == ["non-hyperbolic"]


def test_classify_is_batched_consistently(generator):
    _, _, net = _random_batch(generator, SWEEP_ACTS, depth=2, bias=True, convention="authors")
    together = dy.classify_attractor(net, _starts(), steps=300, generator=0)
    alone = [dy.classify_attractor(net.select([m]), _starts(), steps=300, generator=0)[0] for m in range(net.size)]
    assert [a.kind for a in together] == [a.kind for a in alone]


# --- dtypes and bad input -----------------------------------------------------------------------------------------


def test_float32_batches_compute_in_float32(generator):
    W, B, net64 = _random_batch(generator, SWEEP_ACTS, depth=3, convention="authors")
    net32 = dy.network_batch(W.float(), B.float(), SWEEP_ACTS, convention="authors")
    x = 3 * torch.randn(50, 2, generator=generator, dtype=F64)
    f32, f64 = dy.forward(net32, x.float()), dy.forward(net64, x)
    assert f32.dtype == torch.float32 and torch.allclose(f32.double(), f64, rtol=1e-5, atol=1e-5)
    A32, _ = dy.affine_field(net32, x.float())
    A64, _ = dy.affine_field(net64, x)
    assert A32.dtype == torch.float32 and torch.allclose(A32.double(), A64, rtol=1e-4, atol=1e-5)


def _bad_calls():
    net = _linear_net([[0.5, 0.0], [0.0, 0.5]])
    x = torch.zeros(3, 2, dtype=F64)
    orb = dy.iterate(net, x, 10, tail=10)
    return [
        (lambda: dy.iterate(net, x, 0), "steps"),
        (lambda: dy.iterate(net, x, 5, tail=7), "tail"),
        (lambda: dy.iterate(net, x, 5, escape=0.5), "escape"),
        (lambda: dy.lyapunov_exponent(net, x, 100, blocks=16), "blocks"),
        (lambda: dy.lyapunov_exponent(net, x, 16, blocks=1), "blocks"),
        (lambda: dy.lyapunov_exponent(net, x, 16, generator="seed"), "generator"),
        (lambda: dy.classify_attractor(net, x, steps=100, tail=20, max_period=12), "tail"),
        (lambda: dy.orbit_period(orb.tail, 0), "max_period"),
        (lambda: dy.rotation_number(torch.zeros(5, 3)), "tail"),
        (lambda: dy.count_regions(torch.zeros(3, 3, dtype=torch.int64), connectivity=6), "connectivity"),
        (lambda: dy.count_regions(torch.zeros(3, 3, dtype=torch.int64), min_cells=0), "min_cells"),
        (lambda: dy.count_sectors(torch.zeros(0)), "codes"),
        (lambda: dy.region_bound([2, 0], 2), "widths"),
        (lambda: dy.region_bound([2], 0), "n_in"),
        (lambda: dy.max_jump(torch.zeros(5)), "field"),
        (lambda: dy.eigenvalues(torch.zeros(2, 3)), "A"),
        (lambda: dy.eigenvalues(torch.full((2, 2), float("nan"))), "A"),
        (lambda: dy.fixed_points(net, x, max_iter=0), "max_iter"),
        (lambda: dy.activation_pattern(dy.network_batch(torch.zeros(1, 33, 2, 2)), x), "62"),
        (lambda: net.select([]), "index"),
        (lambda: dy.forward(net, torch.tensor([[float("nan"), 0.0]])), "x"),
        (lambda: dy.iterate(net, torch.tensor([[1j, 0]]), 3), "x"),
        (lambda: dy.classify_attractor(net, torch.tensor([[float("inf"), 0.0]])), "x"),
    ]


@pytest.mark.parametrize("case", range(23))
def test_bad_input_gives_a_clear_error(case):
    call, match = _bad_calls()[case]
    with pytest.raises(ValueError, match=match):
        call()
