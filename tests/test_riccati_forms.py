"""Tests of linear_lens.riccati_forms: the reference forms of the exact solution, the proof of Theorem 3.3.1."""

import numpy as np
import pytest
import torch

from linear_lens import balanced, riccati as rc, riccati_forms as rf, tasks
from riccati_cases import (
    flow as _flow,
    network as _network,
    orientation_mismatch as _orientation_mismatch,
    rel as _rel,
)

F64 = torch.float64


def test_fukumizu_form_agrees_then_overflows():
    W1, W2, X, Y = _network(1.3, 3, 3, 3, seed=3)
    t = np.array([0.0, 0.5, 2.0])
    assert _rel(rf.fukumizu_qqt(t, W1, W2, X, Y), rc.qqt(t, W1, W2, X, Y)) < 1e-12
    late = rf.fukumizu_qqt([1000.0], W1, W2, X, Y)
    assert not bool(torch.isfinite(late).all()), "e^{Ft} should overflow at t = 1000"


def test_fukumizu_form_needs_no_full_rank_and_no_b():
    """Rank-deficient product at lambda = 0: the printed assumption 'Q(0) full rank' is not needed."""
    g = torch.Generator().manual_seed(0)
    X, Y = tasks.regression_task_with_spectrum([2.0, 1.0, 0.5], 3, 3, 9, generator=g)
    s = torch.tensor([1.0, 0.3, 0.0], dtype=F64)
    S2, S1 = balanced.balanced_singular_values(s, 0.0, 3, 3, 3)
    W1, W2 = S1, S2
    t = np.linspace(0, 2, 5)
    assert _rel(rf.fukumizu_qqt(t, W1, W2, X, Y), _flow(W1, W2, X, Y, t)) < 1e-9


@pytest.mark.parametrize("shape", [(3, 3, 3), (3, 4, 5), (5, 4, 3), (2, 6, 6)])
def test_zero_balanced_form_is_the_lambda_zero_case(shape):
    """Theorem 2.2.5 corrected (SVD parametrisation, with the 4t/tau term) against the eigenbasis form at lambda = 0."""
    checked = 0
    for seed in range(12):
        W1, W2, X, Y = _network(0.0, *shape, seed=seed)
        if _orientation_mismatch(W1, W2, X, Y):
            continue
        t = np.array([0.0, 0.4, 2.0, 10.0])
        assert _rel(rf.zero_balanced_qqt(t, W1, W2, X, Y), rc.qqt(t, W1, W2, X, Y)) < 1e-11
        checked += 1
    assert checked >= 2


def test_zero_balanced_form_as_printed_fails():
    for seed in range(12):
        W1, W2, X, Y = _network(0.0, 3, 3, 3, seed=seed)
        if not _orientation_mismatch(W1, W2, X, Y):
            break
    t = np.array([0.0, 0.5, 2.0])
    assert _rel(rf.zero_balanced_qqt(t, W1, W2, X, Y, printed=True), rc.qqt(t, W1, W2, X, Y)) > 0.1
    with pytest.raises(ValueError, match="printed"):
        rf.zero_balanced_qqt(1.0, *_network(0.0, 3, 4, 5)[:2], *_network(0.0, 3, 4, 5)[2:], printed=True)


def test_zero_balanced_b_is_singular_exactly_for_opposite_orientation():
    for seed in range(12):
        W1, W2, X, Y = _network(0.0, 3, 3, 3, seed=seed)
        B, _ = rf.zero_balanced_b(W1, W2, X, Y)
        sv = torch.linalg.svdvals(B)
        assert (float(sv[-1] / sv[0]) < 1e-12) == _orientation_mismatch(W1, W2, X, Y)


def test_thesis_statement_needs_the_inverse():
    W1, W2, X, Y = _network(-2.5, 3, 3, 3, seed=5)
    t = np.array([0.0, 0.3, 1.5])
    exact = rc.qqt(t, W1, W2, X, Y)
    assert _rel(rf.thesis_qqt(t, W1, W2, X, Y, invert=True), exact) < 1e-12
    assert _rel(rf.thesis_qqt(t, W1, W2, X, Y, invert=False), exact) > 0.1


def test_thesis_b_at_lambda_zero_is_braun_b_scaled():
    W1, W2, X, Y = _network(0.0, 3, 3, 3, seed=3)
    B, _ = rf.thesis_bc(W1, W2, X, Y)
    Bb, _ = rf.zero_balanced_b(W1, W2, X, Y)
    s = torch.linalg.svdvals(W2 @ W1)
    torch.testing.assert_close(B, torch.diag(s.sqrt()) @ Bb, rtol=1e-12, atol=1e-12)


ERRATA_STEPS = {"3.22", "3.45", "3.48", "3.49", "3.50", "3.3.1(2)", "3.60", "3.65", "3.67", "3.75", "3.76"}


@pytest.mark.parametrize("lam", [-1.7, 0.9, 6.0])
def test_proof_steps_fail_exactly_where_the_errata_say(lam):
    W1, W2, X, Y = _network(lam, 3, 3, 3, seed=7)
    for step in rf.proof_steps(W1, W2, X, Y, t=0.6):
        printed_holds = step.error() < 1e-12
        assert printed_holds == (step.label not in ERRATA_STEPS), (step.label, step.error())
        if step.corrected is not None:
            assert step.error("corrected") < 1e-12, (step.label, step.error("corrected"))


def test_reference_forms_refuse_outside_their_assumptions():
    W1, W2, X, Y = _network(0.0, 3, 4, 5)
    with pytest.raises(ValueError, match="F is singular"):
        rf.fukumizu_qqt(1.0, W1, W2, X, Y)
    W1, W2, X, Y = _network(1.0, 3, 3, 3)
    with pytest.raises(ValueError, match="zero-balanced"):
        rf.zero_balanced_qqt(1.0, W1, W2, X, Y)
    W1, W2, X, Y = _network(0.0, 3, 3, 3, seed=3)
    with pytest.raises(ValueError, match="lambda != 0"):
        rf.proof_steps(W1, W2, X, Y)
