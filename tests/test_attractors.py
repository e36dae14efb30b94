"""Tests of linear_lens.attractors: the attractor of batched networks, classified, against networks whose attractor
is known (contracting, decoupled, rotating and flipping maps, the skew tent map, a slow non-hyperbolic approach) and
against classifying one network at a time."""

import math

import pytest
import torch

from linear_lens import attractors as at
from linear_lens.networks import network_batch
from test_dynamics import _linear_net, _skew_tent
from test_networks import SWEEP_ACTS, random_batch

F64 = torch.float64


# --- the six kinds and the evidence --------------------------------------------------------------------------------


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
    net = network_batch(W, None, [v[2] for v in nets.values()])
    res = at.classify_attractor(net, _starts(), steps=600, generator=0)
    for (kind, _), a in zip(nets.items(), res):
        assert a.kind == kind, (kind, a.kind, a.evidence)
    single, multiple, line, cycle, unstable = res
    assert single.limits.shape[0] == 1 and single.fixed_point_verdicts == ["stable"]
    assert multiple.limits.shape[0] == 4
    assert line.line_points >= 4 and line.limit_eigenvalue_gap < 1e-12
    assert cycle.fates["quasi-periodic"] > 0 and cycle.period == 0 and 0.1 < abs(cycle.rotation) < 0.25
    assert "unstable" in cycle.fixed_point_verdicts  # the origin inside the invariant curve
    assert abs(unstable.growth - 2.0) < 1e-6
    chaotic = at.classify_attractor(_skew_tent(), torch.tensor([[0.31, 0.0], [0.62, 0.0]], dtype=F64),
                                    steps=200, lyapunov_steps=2048, generator=0)[0]
    assert chaotic.kind == "chaotic" and chaotic.lyapunov - 3 * chaotic.lyapunov_stderr > 0.3
    period2 = at.classify_attractor(network_batch(torch.stack([-2 * I, I]), None, "tanh"), _starts(),
                                    steps=300, generator=0)[0]
    assert period2.kind == "limit cycle" and period2.period == 2 and period2.fates["periodic"] > 0
    row = single.row()
    assert row["kind"] == "single point" and row["starts_fixed_point"] == 64 and "evidence" in row


def test_classify_slow_convergence_to_a_non_hyperbolic_point_is_a_single_point():
    # tanh with an orthogonal weight: f'(0) has |eigenvalues| = 1, orbits approach 0 like k^(-1/2)
    net = network_batch(torch.stack([_rot(0.7), torch.eye(2, dtype=F64)]), None, "tanh")
    a = at.classify_attractor(net, _starts(), steps=800, generator=0)[0]
    assert a.kind == "single point", a.evidence
    assert a.fixed_point_verdicts == ["non-hyperbolic"]


def test_classify_is_batched_consistently(generator):
    _, _, net = random_batch(generator, SWEEP_ACTS, depth=2, bias=True, convention="authors")
    together = at.classify_attractor(net, _starts(), steps=300, generator=0)
    alone = [at.classify_attractor(net.select([m]), _starts(), steps=300, generator=0)[0] for m in range(net.size)]
    assert [a.kind for a in together] == [a.kind for a in alone]


# --- bad input ----------------------------------------------------------------------------------------------------


def _bad_calls():
    net = _linear_net([[0.5, 0.0], [0.0, 0.5]])
    x = torch.zeros(3, 2, dtype=F64)
    return [
        (lambda: at.classify_attractor(net, x, steps=100, tail=20, max_period=12), "tail"),
        (lambda: at.classify_attractor(net, torch.tensor([[float("inf"), 0.0]])), "x"),
    ]


@pytest.mark.parametrize("case", range(2))
def test_bad_input_gives_a_clear_error(case):
    call, match = _bad_calls()[case]
    with pytest.raises(ValueError, match=match):
        call()
