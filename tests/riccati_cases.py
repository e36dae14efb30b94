"""Networks and comparisons shared by the tests of the exact solution and its reference forms (Anguita, 2024, Ch. 3)."""

import torch

from linear_lens import balanced, gradient_flow as gf, riccati as rc, tasks


def network(lam, n_in, n_hidden, n_out, seed=0, sigma=1.0, samples=None):
    g = torch.Generator().manual_seed(seed)
    X, Y = tasks.random_regression_task(n_in, n_out, samples or 3 * max(n_in, n_out), generator=g)
    W1, W2 = balanced.lambda_balanced_init(lam, n_in, n_hidden, n_out, sigma=sigma, generator=g)
    return W1, W2, X, Y


def rel(a, b):
    """Largest entry error of each matrix relative to the largest entry of the reference, over all times."""
    return float(((a - b).abs().amax((-1, -2)) / b.abs().amax((-1, -2))).max())


def flow(W1, W2, X, Y, t, method="DOP853"):
    traj = gf.integrate(W1, W2, X, Y, t, rtol=1e-13, atol=1e-13, method=method)
    return rc.qqt_from_weights(traj.W1, traj.W2)


def orientation_mismatch(W1, W2, X, Y):
    S = Y @ X.T / X.shape[1]
    return S.shape[0] == S.shape[1] and float(torch.det(W2 @ W1)) * float(torch.det(S)) < 0
