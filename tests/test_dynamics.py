"""Tests of linear_lens.dynamics: orbits, fixed points and Lyapunov exponents of batched networks, against closed
forms, brute force, plain loops and known dynamics."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import brentq

from linear_lens import dynamics as dy, networks
from linear_lens.networks import network_batch

F64 = torch.float64


def t(x):
    return torch.tensor(x, dtype=F64)


# --- orbits, periods, rotation ------------------------------------------------------------------------------------


def _linear_net(A, act="identity"):
    """f(x) = A x as an eq3 network with one hidden layer: A_0 = A, A_1 = I, identity activation."""
    A = torch.as_tensor(A, dtype=F64)
    return network_batch(torch.stack([A, torch.eye(2, dtype=F64)]), None, act)


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
    net = network_batch(torch.stack([2 * torch.eye(2, dtype=F64), torch.eye(2, dtype=F64)]), None, "tanh")
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
    return network_batch(torch.stack([A0, A1]), torch.stack([b0, torch.zeros(2, dtype=F64)]), "relu")


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
    net = network_batch(torch.stack([-torch.eye(2, dtype=F64), torch.eye(2, dtype=F64)]), None, "relu")
    ly = dy.lyapunov_exponent(net, torch.tensor([[1.0, 2.0]], dtype=F64), 64, blocks=4)
    assert ly.exponent[0, 0] == float("-inf")


# --- dtypes and bad input -----------------------------------------------------------------------------------------


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
        (lambda: dy.orbit_period(orb.tail, 0), "max_period"),
        (lambda: dy.rotation_number(torch.zeros(5, 3)), "tail"),
        (lambda: dy.fixed_points(net, x, max_iter=0), "max_iter"),
        (lambda: dy.iterate(net, torch.tensor([[1j, 0]]), 3), "x"),
        (lambda: dy.iterate(net, x, 3, escape=float("nan")), "escape"),
        (lambda: dy.iterate(net, x, 3, norms="yes"), "norms"),
        (lambda: dy.growth_rate(torch.zeros(1, 2, dtype=F64)), "norms"),
        (lambda: dy.on_closed_curve(torch.zeros(5, 3, 3)), "tail"),
        (lambda: dy.on_closed_curve(torch.zeros(5, 3, 2), sectors=0), "sectors"),
    ]


@pytest.mark.parametrize("case", range(15))
def test_bad_input_gives_a_clear_error(case):
    call, match = _bad_calls()[case]
    with pytest.raises(ValueError, match=match):
        call()


# --- iterate, growth_rate, orbit_period on small networks (the former stability.iterate tests) -------------------


def test_iterate_matches_forward_loop(generator):
    weights, biases = networks.random_network([2, 5, 2], bias=True, generator=generator)
    x0 = torch.randn(7, 2, generator=generator, dtype=F64)
    traj = dy.iterate(network_batch(weights, biases, "tanh"), x0, 4, tail=5).tail[:, 0]
    x = x0
    for k in range(1, 5):
        x = networks.forward(weights, biases, "tanh", x)
        torch.testing.assert_close(traj[k], x, atol=1e-14, rtol=0, msg=f"step {k}")


def test_iterate_batched_networks(generator):
    W = [torch.randn(5, 2, 2, generator=generator, dtype=F64) for _ in range(2)]
    x0 = torch.randn(3, 2, generator=generator, dtype=F64)
    traj = dy.iterate(network_batch(W, None, "relu"), x0, 3, tail=4).tail
    assert traj.shape == (4, 5, 3, 2)
    single = dy.iterate(network_batch([w[2] for w in W], None, "relu"), x0, 3, tail=4).tail[:, 0]
    torch.testing.assert_close(traj[:, 2], single, atol=1e-14, rtol=0, msg="network 2 of the batch")


def test_iterate_linear_is_matrix_power(generator):
    A = torch.randn(3, 3, generator=generator, dtype=F64) * 0.5
    x0 = torch.randn(3, generator=generator, dtype=F64)
    x6 = dy.iterate(network_batch([A], None, "relu"), x0[None], 6).x[0, 0]
    torch.testing.assert_close(x6, torch.linalg.matrix_power(A, 6) @ x0, atol=1e-12, rtol=0, msg="A^6 x0")


def test_iterate_rejects():
    eye = torch.eye(2)
    with pytest.raises(ValueError, match="^weights:"):
        dy.iterate(network_batch([torch.zeros(3, 2)]), torch.zeros(1, 2), 2)
    with pytest.raises(ValueError, match="^x:"):
        dy.iterate(network_batch([eye]), torch.zeros(1, 3), 2)
    with pytest.raises(ValueError, match="^steps:"):
        dy.iterate(network_batch([eye]), torch.zeros(1, 2), 0)
    with pytest.raises(ValueError, match="^biases:"):
        dy.iterate(network_batch([eye], [torch.zeros(3)]), torch.zeros(1, 2), 1)
    with pytest.raises(ValueError, match="^activation:"):
        dy.iterate(network_batch([eye], None, "bogus"), torch.zeros(1, 2), 1)


def test_tail_and_norms_keep_the_same_values():
    g = torch.Generator().manual_seed(0)
    W = [torch.randn(3, 2, 2, generator=g, dtype=F64) for _ in range(3)]
    b = [torch.randn(3, 2, generator=g, dtype=F64) for _ in range(3)]
    net = network_batch(W, b, "tanh")
    x0 = torch.randn(5, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    full = dy.iterate(net, x0, 12, tail=13, norms=True)
    assert full.tail.shape == (13, 3, 5, 2) and full.norms.shape == (13, 3, 5)
    torch.testing.assert_close(full.norms, full.tail.norm(dim=-1), rtol=0, atol=0)
    for m in (0, 1, 4, 12):
        torch.testing.assert_close(dy.iterate(net, x0, 12, tail=m + 1).tail, full.tail[12 - m:], rtol=0, atol=0)
    assert dy.iterate(net, x0, 12).norms is None


@pytest.mark.parametrize("tail", ["some", -1, 1.5, True, 12, 0])
def test_bad_tail_raises(tail):
    net = network_batch([torch.eye(2, dtype=F64)], None, "tanh")
    with pytest.raises(ValueError, match="^tail:"):
        dy.iterate(net, torch.zeros(1, 2, dtype=F64), 10, tail=tail)


def test_escape_infinity_never_freezes_before_overflow():
    net = network_batch([2.0 * torch.eye(2, dtype=F64)], None, "relu")
    orb = dy.iterate(net, t([[1.0, 0.0]]), 100, escape=math.inf, norms=True)
    torch.testing.assert_close(orb.norms[:, 0, 0], 2.0 ** torch.arange(101, dtype=F64), rtol=0, atol=0)
    assert not bool(orb.escaped.any())
    over = dy.iterate(net, t([[1.0, 0.0]]), 1100, escape=math.inf)
    assert bool(over.escaped[0, 0]) and int(over.escape_step[0, 0]) == 1024 and float(over.x[0, 0, 0]) == 2.0**1023


def test_growth_rate_linear_map_gelfand(generator):
    from linear_lens.stability import spectral_radius

    A = torch.randn(3, 3, generator=generator, dtype=F64)
    A = A / spectral_radius(A) * 0.8
    orb = dy.iterate(network_batch([A], None, "relu"), torch.randn(5, 3, generator=generator, dtype=F64), 400,
                     norms=True)
    rate = dy.growth_rate(orb.norms)[0]
    torch.testing.assert_close(rate, torch.full((5,), 0.8, dtype=F64), atol=0.02, rtol=0, msg="rate -> rho(A)")
    scaled = dy.iterate(network_batch([2.0 * torch.eye(2, dtype=F64)], None, "relu"), t([[1.0, 1.0], [0.0, 0.0]]),
                        3, norms=True)
    r = dy.growth_rate(scaled.norms)[0]
    assert float(r[0]) == pytest.approx(2.0, abs=1e-12) and bool(torch.isnan(r[1])), "2I: rate 2; origin: nan"
    with pytest.raises(ValueError, match="^norms:"):
        dy.growth_rate(torch.zeros(1, 2, dtype=F64))


def test_growth_rate_from_norms_equals_from_states():
    g = torch.Generator().manual_seed(2)
    W = [torch.randn(3, 2, 2, generator=g, dtype=F64) for _ in range(3)]
    x0 = torch.randn(4, 2, generator=torch.Generator().manual_seed(3), dtype=F64)
    orb = dy.iterate(network_batch(W, None, "relu"), x0, 9, tail=10, norms=True)
    torch.testing.assert_close(dy.growth_rate(orb.norms), dy.growth_rate(orb.tail.norm(dim=-1)))


def test_linear_map_growth_rate_is_the_spectral_radius():
    A = torch.tensor([[0.5, 2.0], [0.0, 0.9]], dtype=F64)
    net = network_batch([torch.eye(2, dtype=F64), A], None, "identity")
    norms = dy.iterate(net, t([[1.0, 1.0]]), 2000, norms=True).norms
    assert abs(float(dy.growth_rate(norms)) - 0.9) < 2e-3


def test_orbit_period_known_orbits():
    rot = t([[0.0, -1.0], [1.0, 0.0]])  # rotation by 90 degrees: period 4
    traj = dy.iterate(network_batch([rot], None, "relu"), t([[1.0, 0.0], [0.0, 0.0]]), 20, tail=20).tail
    assert dy.orbit_period(traj, 8)[0].tolist() == [4, 1], "rotation: period 4; origin: fixed point"
    flip = dy.iterate(network_batch([-torch.eye(2, dtype=F64)], None, "relu"), t([[1.0, 2.0]]), 20, tail=20).tail
    assert int(dy.orbit_period(flip, 8)) == 2
    slow = dy.iterate(network_batch([0.5 * torch.eye(2, dtype=F64)], None, "relu"), t([[1.0, 2.0]]), 20,
                      tail=20).tail
    assert int(dy.orbit_period(slow, 8)) == 0, "still converging after 20 steps: no period"
    R = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=F64)  # the same rotation as a 2-layer identity network
    tail = dy.iterate(network_batch([torch.eye(2, dtype=F64), R], None, "identity"), t([[1.0, 0.0]]), 50,
                      tail=17).tail
    assert int(dy.orbit_period(tail, 8)) == 4


def test_orbit_period_rejects():
    with pytest.raises(ValueError, match="^tail:"):
        dy.orbit_period(torch.zeros(3, 2, dtype=F64), max_period=4)
    with pytest.raises(ValueError, match="^max_period:"):
        dy.orbit_period(torch.zeros(3, 2, dtype=F64), max_period=0)


def test_on_closed_curve():
    """Orbits of a rotation by an irrational angle, from two radii, and a period-4 orbit."""
    theta = 2 * math.pi * (math.sqrt(5) - 1) / 2
    rot = t([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    one = dy.iterate(network_batch([rot], None, "relu"), t([[1.0, 0.0], [0.0, 1.0]]), 400, tail=300).tail
    assert bool(dy.on_closed_curve(one)[0]), "one circle, reached from two starts"
    two = dy.iterate(network_batch([rot], None, "relu"), t([[1.0, 0.0], [0.0, 2.0]]), 400, tail=300).tail
    assert not bool(dy.on_closed_curve(two)[0]), "two circles: radii differ by 2x in every sector"
    quarter = t([[0.0, -1.0], [1.0, 0.0]])
    four = dy.iterate(network_batch([quarter], None, "relu"), t([[1.0, 0.3]]), 100, tail=64).tail
    assert not bool(dy.on_closed_curve(four)[0]), "a period-4 orbit does not cover 36 sectors"
    assert bool(dy.on_closed_curve(four, sectors=4)[0])


# --- fixed points against closed forms, brute force and Banach's iteration (the former stability.fixed_point) ----


def test_fixed_point_linear_closed_form(generator):
    A = torch.randn(3, 3, generator=generator, dtype=F64) * 0.4
    b = torch.randn(3, generator=generator, dtype=F64)
    res = dy.fixed_points(network_batch([A], [b], "tanh"), torch.zeros(4, 3, dtype=F64))
    expected = torch.linalg.solve(torch.eye(3, dtype=F64) - A, b)
    assert bool(res.converged.all()) and int(res.iterations.max()) <= 2, "affine map: one Newton step"
    torch.testing.assert_close(res.x[0], expected.expand(4, 3), atol=1e-12, rtol=0, msg="(I - A)^-1 b")


def test_fixed_point_relu_brute_force_patterns(generator):
    A0 = torch.randn(2, 2, generator=generator, dtype=F64) * 0.6
    A1 = torch.randn(2, 2, generator=generator, dtype=F64) * 0.6
    b0, b1 = torch.randn(2, generator=generator, dtype=F64), torch.randn(2, generator=generator, dtype=F64)
    found = []
    for pattern in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        D = torch.diag(t(pattern))
        x = torch.linalg.solve(torch.eye(2, dtype=F64) - A1 @ D @ A0, A1 @ D @ b0 + b1)
        z = A0 @ x + b0
        if all((z[i] > 0) == bool(pattern[i]) for i in range(2)):
            found.append(x)
    res = dy.fixed_points(network_batch([A0, A1], [b0, b1], "relu"),
                          torch.randn(20, 2, generator=generator, dtype=F64) * 3)
    for x in res.x[0][res.converged[0]]:
        assert min(float((x - y).abs().max()) for y in found) < 1e-9, "every Newton root is a pattern solution"
    assert bool(res.converged.any()), "some start converges"


def test_fixed_point_agrees_with_iteration_for_contraction(generator):
    weights, biases = networks.random_network([2, 4, 2], bias=True, generator=generator)
    gamma = float(torch.linalg.matrix_norm(weights[0], 2) * torch.linalg.matrix_norm(weights[1], 2))
    weights = [w * (0.8 / gamma) ** 0.5 for w in weights]
    net = network_batch(weights, biases, "tanh")
    res = dy.fixed_points(net, torch.randn(5, 2, generator=generator, dtype=F64) * 4)
    limit = dy.iterate(net, torch.zeros(1, 2, dtype=F64), 300).x[0, 0]
    assert bool(res.converged.all())
    torch.testing.assert_close(res.x[0], limit.expand(5, 2), atol=1e-10, rtol=0, msg="Banach iteration")


@given(st.integers(0, 10_000), st.sampled_from(["tanh", "relu", "elu"]))
def test_fixed_point_of_contraction_is_iteration_limit(seed, act):
    g = torch.Generator().manual_seed(seed)
    weights, biases = networks.random_network([2, 3, 2], bias=True, generator=g)
    gamma = float(torch.linalg.matrix_norm(weights[0], 2) * torch.linalg.matrix_norm(weights[1], 2))
    weights = [w * (0.7 / gamma) ** 0.5 for w in weights]  # Lipschitz constant of each activation <= 1
    net = network_batch(weights, biases, act)
    res = dy.fixed_points(net, torch.randn(3, 2, generator=g, dtype=F64) * 3)
    limit = dy.iterate(net, torch.zeros(1, 2, dtype=F64), 120).x[0, 0]  # 0.7^120 ~ 1e-19
    assert bool(res.converged.all()), f"Newton should converge on a contraction: {res.residual}"
    torch.testing.assert_close(res.x[0], limit.expand(3, 2), atol=1e-9, rtol=0, msg="unique fixed point (Banach)")


def test_fixed_point_reports_failure():
    # f(x) = x + 1 in 1-D (one affine layer) has no fixed point.
    res = dy.fixed_points(network_batch([t([[1.0]])], [t([1.0])], "relu"), t([[0.0], [5.0]]), max_iter=5)
    assert not bool(res.converged.any()), "x + 1 has no fixed point: must not report convergence"
    assert bool((res.residual >= 1 - 1e-12).all()), f"residual stays 1, got {res.residual}"
    assert bool((res.iterations == 5).all())
    assert res.points[0].shape == (0, 1) and res.verdicts == [[]]


def test_fixed_point_rejects():
    with pytest.raises(ValueError, match="^weights:"):
        dy.fixed_points(network_batch([torch.zeros(3, 2, dtype=F64)]), torch.zeros(1, 2, dtype=F64))
    eye = network_batch([torch.eye(2, dtype=F64)], None, "relu")
    with pytest.raises(ValueError, match="tol"):
        dy.fixed_points(eye, torch.zeros(1, 2, dtype=F64), tol=0.0)
    with pytest.raises(ValueError, match="^max_iter:"):
        dy.fixed_points(eye, torch.zeros(1, 2, dtype=F64), max_iter=0)
    with pytest.raises(ValueError, match="^x:"):
        dy.fixed_points(eye, torch.zeros(1, 3, dtype=F64))
