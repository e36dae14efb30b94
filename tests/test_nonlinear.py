"""Tests of linear_lens.nonlinear: what survives of the balance in Y = W2 sigma(W1 X) (Anguita, 2024, Sec. 4.5)."""

import pytest
import torch

from linear_lens import nonlinear
from linear_lens.balanced import lambda_balanced_init
from linear_lens.tasks import random_regression_task

F64 = torch.float64


# ----------------------------------------------------------------------------------------------------------------
# fitted_lambda under training (Section 4.5): conserved by gradient flow for homogeneous activations
# ----------------------------------------------------------------------------------------------------------------


def _small_training_problem():
    gen = torch.Generator().manual_seed(8)
    X, Y = random_regression_task(4, 3, 20, generator=gen)
    W1, W2 = lambda_balanced_init(0.5, 4, 3, 3, sigma=0.5, generator=gen)
    return W1, W2, X, 2 * Y


@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_diagonal_of_balance_drifts_at_first_order_in_lr_for_homogeneous_activations(activation):
    """Gradient flow conserves diag(B) (Du et al. 2018); gradient descent drifts by O(lr): halving lr halves it."""
    W1, W2, X, Y = _small_training_problem()
    rec = nonlinear.fitted_lambda_training(W1, W2, X, Y, activation, [0.04, 0.02, 0.01], horizon=2.0, n_record=5)
    drift = rec["diag_drift"][:, -1]
    assert float(drift[0]) > 1e-5, f"{activation}: no measurable drift at lr=0.04 ({float(drift[0])})"
    ratios = drift[:-1] / drift[1:]
    assert bool(((ratios - 2).abs() < 0.25).all()), f"{activation}: drift ratios {ratios.tolist()}, expected 2"
    assert float(rec["loss"][0, -1]) < float(rec["loss"][0, 0]), "training should lower the loss"


def test_linear_network_conserves_all_of_balance_and_tanh_does_not():
    W1, W2, X, Y = _small_training_problem()
    lin = nonlinear.fitted_lambda_training(W1, W2, X, Y, "identity", [0.02, 0.01], horizon=2.0, n_record=4)
    assert bool((lin["distance"][:, -1] / torch.tensor([0.02, 0.01], dtype=F64) < 5).all()), "B = lam I up to O(lr)"
    tanh = nonlinear.fitted_lambda_training(W1, W2, X, Y, "tanh", [0.02, 0.01], horizon=2.0, n_record=4)
    drift = (tanh["lam_star"][:, -1] - tanh["lam_star"][:, 0]).abs()
    assert float(drift[1]) > 1e-2 and abs(float(drift[0] / drift[1]) - 1) < 0.05, f"tanh drift {drift.tolist()}"


def test_fitted_lambda_training_rejects_bad_input():
    W1, W2, X, Y = _small_training_problem()
    with pytest.raises(ValueError, match="^lrs: horizon / lr must be a multiple of n_record"):
        nonlinear.fitted_lambda_training(W1, W2, X, Y, "relu", [0.03], horizon=1.0, n_record=4)
    with pytest.raises(ValueError, match="^lrs: expected a non-empty list"):
        nonlinear.fitted_lambda_training(W1, W2, X, Y, "relu", [], horizon=1.0)
    with pytest.raises(ValueError, match="^X, Y: expected shapes"):
        nonlinear.fitted_lambda_training(W1, W2, X[:2], Y, "relu", [0.1], horizon=1.0, n_record=5)
    with pytest.raises(ValueError, match="^activation: unknown name"):
        nonlinear.fitted_lambda_training(W1, W2, X, Y, "swish2", [0.1], horizon=1.0, n_record=5)
    with pytest.raises(ValueError, match="^horizon: expected a finite positive number"):
        nonlinear.fitted_lambda_training(W1, W2, X, Y, "relu", [0.1], horizon=-1.0)


def test_mixed_dtypes_are_computed_in_float64_and_seeds_are_accepted():
    W1, W2, X, Y = _small_training_problem()
    rec = nonlinear.fitted_lambda_training(W1.float(), W2, X, Y.float(), "relu", [0.05], horizon=0.5, n_record=5,
                                           show_progress=False)
    assert rec["lam_star"].dtype == F64 and bool(torch.isfinite(rec["loss"]).all())


def test_gradient_descent_lowers_the_loss_for_every_activation():
    W1, W2, X, Y = _small_training_problem()
    for activation in ("relu", "tanh", "identity"):
        rec = nonlinear.fitted_lambda_training(W1, W2, X, Y, activation, [0.02], horizon=1.0, n_record=5,
                                               show_progress=False)
        assert float(rec["loss"][0, -1]) < float(rec["loss"][0, 0]), activation
