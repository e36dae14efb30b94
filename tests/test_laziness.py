"""Tests of linear_lens.laziness: the NTK's movement, the linearisation, and the sweep over lambda (Anguita, Sec. 4.1)."""

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from linear_lens import balanced, laziness as lz, ntk, representations as rp, riccati as rc, tasks
from bad_input import check_raises, uncovered

F64 = torch.float64


def test_ntk_change_leading_term_corrected_and_printed(generator):
    X, Y = tasks.random_regression_task(3, 3, 9, generator=generator)
    S = Y @ X.T / X.shape[1]
    W0 = torch.randn(3, 3, generator=generator, dtype=F64)
    errors = {}
    for lam in (100.0, 1000.0, -1000.0):
        W1, W2 = balanced.balanced_factors(W0, lam, 3, R=torch.eye(3, dtype=F64))
        b = rc.blocks(rc.qqt(torch.tensor([0.0, 20.0 / abs(lam)], dtype=F64), W1, W2, X, Y), 3)
        d1, d2 = b.input_rep[1] - b.input_rep[0], b.output_rep[1] - b.output_rep[0]
        for printed in (False, True):
            D1, D2 = lz.ntk_change_leading_term(b.product[0], b.product[1], lam, printed=printed)
            e1, e2 = d1 - D1, d2 - D2
            errors[lam, printed] = float((ntk.ntk_inner(e1, e2, e1, e2, X) / ntk.ntk_inner(D1, D2, D1, D2, X)).sqrt())
    assert errors[1000.0, False] < errors[100.0, False] / 50 and errors[1000.0, False] < 1e-4
    assert errors[1000.0, True] > 0.3 and errors[-1000.0, True] > 0.3 and errors[-1000.0, False] < 1e-4
    assert float(S.abs().max()) > 0


def test_linearised_product_solves_the_kernel_flow(generator):
    X, Y = tasks.random_regression_task(2, 3, 6, generator=generator)
    S = Y @ X.T / X.shape[1]
    W1, W2 = balanced.lambda_balanced_init(0.5, 2, 2, 3, generator=generator)
    K1, K2, W0 = W1.T @ W1, W2 @ W2.T, W2 @ W1
    t = np.linspace(0, 2, 5)

    def rhs(_, y):
        W = torch.from_numpy(y.reshape(3, 2))
        return (((S - W) @ K1 + K2 @ (S - W)) / 0.5).numpy().ravel()

    sol = solve_ivp(rhs, (0, 2), W0.numpy().ravel(), t_eval=t, rtol=1e-12, atol=1e-12, method="DOP853")
    ref = torch.from_numpy(sol.y.T.reshape(-1, 3, 2))
    torch.testing.assert_close(lz.linearised_product(t, W0, K1, K2, S, tau=0.5), ref, rtol=1e-9, atol=1e-10)


def test_laziness_matches_explicit_kernels_and_gap_vanishes_at_large_lambda(generator):
    X, Y = tasks.random_regression_task(3, 3, 9, generator=generator)
    S = Y @ X.T / X.shape[1]
    W0 = torch.randn(3, 3, generator=generator, dtype=F64)
    if float(torch.det(W0) * torch.det(S)) < 0:
        W0[:, 0] *= -1
    lams = torch.tensor([0.0, 10.0, 100.0], dtype=F64)
    W1, W2 = rp.balanced_weights(W0, lams, 3)
    t = torch.linspace(0, 1, 41, dtype=F64)[:, None] * 30 / (lams.abs() + 1)
    b = rc.blocks(rc.qqt_sigma(t, W1, W2, S), 3)
    lazy = lz.laziness(b.input_rep[-1], b.output_rep[-1], b.input_rep[0], b.output_rep[0], X)
    explicit = ntk.ntk_from_representations(b.input_rep[[0, -1]], b.output_rep[[0, -1]], X)
    torch.testing.assert_close(lazy.ntk_change, ntk.kernel_change(explicit[1], explicit[0]), rtol=1e-10, atol=0)
    gap = lz.linearisation_gap(b.product, t, W0, b.input_rep[0], b.output_rep[0], S)
    assert float(gap[0]) > 0.1 and float(gap[2]) < float(gap[1]) / 50, gap


def test_laziness_sweep_predictions_and_symmetry(generator):
    S, W0 = [], []
    for _ in range(3):
        X, Y = tasks.random_regression_task(3, 3, 6, generator=generator)
        S.append(Y @ X.T / X.shape[1])
        W = torch.randn(3, 3, generator=generator, dtype=F64)
        if float(torch.det(W) * torch.det(S[-1])) < 0:
            W[:, 0] *= -1
        W0.append(W)
    lams = torch.tensor([-30.0, -1.0, 0.0, 1.0, 30.0], dtype=F64)
    sw = lz.laziness_sweep(torch.stack(S), torch.stack(W0), lams, 3, n_times=31, chunk=2, show_progress=False)
    assert sw.times.shape == (31, 5, 3) and float(sw.residual.max()) < 1e-9
    torch.testing.assert_close(sw.predicted.ntk_change, sw.end.ntk_change, rtol=1e-8, atol=0)
    torch.testing.assert_close(sw.end.ntk_change, sw.end.ntk_change.flip(0), rtol=1e-10, atol=0)
    assert float(sw.end.ntk_change[0].max()) < float(sw.end.ntk_change[2].min()) / 10
    assert torch.equal(sw.ntk_path[-1], sw.end.ntk_change)
    with pytest.raises(ValueError, match="negative lambda"):
        lz.laziness_sweep(torch.randn(1, 5, 3, dtype=F64), torch.randn(1, 5, 3, dtype=F64), lams, 5)


def test_draw_trials_and_lazy_limit_constant(generator):
    S, W0, X, Y = lz.draw_trials(3, 3, 3, 4, generator=generator)
    assert S.shape == W0.shape == (4, 3, 3) and X.shape == (4, 3, 6)
    torch.testing.assert_close(Y @ X.mT / 6, S, rtol=1e-12, atol=1e-12)
    assert bool((torch.det(W0) * torch.det(S) > 0).all())
    c = lz.lazy_limit_constant(W0, S)
    W1, W2 = rp.balanced_weights(W0, 1e3, 3)
    K1, K2 = rp.representations_from_product(S, 1e3, 3)
    lazy = lz.laziness(K1, K2, W1.mT @ W1, W2 @ W2.mT, X[0])
    torch.testing.assert_close(lazy.ntk_change * 1e6, c, rtol=1e-3, atol=0)       # O(lambda^-2) correction
    S2, W2_, _, _ = lz.draw_trials(2, 4, 5, 2, sigma=0.1, generator=generator)
    assert W2_.shape == (2, 5, 2) and float(W2_.abs().max()) < 1.0


S53 = torch.randn(5, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
I3 = torch.eye(3, dtype=F64)
BAD = [
    ("leading shapes", lambda: lz.ntk_change_leading_term(S53, I3, 1.0), r"^W0, W: expected"),
    ("leading zero", lambda: lz.ntk_change_leading_term(I3, I3, 0.0), r"^lam: the leading term"),
    ("linearised shapes", lambda: lz.linearised_product([0.0], I3, I3, torch.eye(2, dtype=F64), I3),
     r"^input_0, output_0, sigma_yx"),
    ("linearised times", lambda: lz.linearised_product([-1.0], I3, I3, I3, I3), r"^t: times"),
    ("laziness X", lambda: lz.laziness(I3, I3, I3, I3, torch.eye(2, dtype=F64)), r"^X: expected shape"),
    ("gap shape", lambda: lz.linearisation_gap(I3[None, None], [0.0, 1.0], I3, I3, I3, I3), r"^product: expected"),
    ("constant shapes", lambda: lz.lazy_limit_constant(S53, I3), r"^W0, sigma_yx: expected"),
    ("draw trials", lambda: lz.draw_trials(3, 3, 3, 0), r"^trials: expected a positive integer"),
    ("draw sigma", lambda: lz.draw_trials(3, 3, 3, 1, sigma=-1.0), r"^sigma: expected"),
    ("sweep shapes", lambda: lz.laziness_sweep(I3, I3, [1.0], 3), r"^sigma_yx, W0: expected"),
    ("sweep empty", lambda: lz.laziness_sweep(I3[None], I3[None], torch.ones(0, dtype=F64), 3), r"^lams: expected"),
    ("sweep horizon", lambda: lz.laziness_sweep(I3[None], I3[None], [1.0], 3, horizon=0.0), r"^horizon: expected"),
]


@pytest.mark.parametrize("name, call, message", BAD, ids=[c[0] for c in BAD])
def test_bad_input_raises_a_clear_value_error(name, call, message):
    check_raises(name, call, message)


def test_every_public_function_has_a_bad_input_case():
    missing = uncovered(lz, "lz", __file__)
    assert not missing, f"public functions without a bad-input case: {missing}"
