"""Tests of linear_lens.tasks: whitening, random tasks and their correlation matrices (Anguita, 2024, eqs. 2.5-2.6)."""

import os

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from linear_lens import tasks


# --- known answers ------------------------------------------------------------------------------------------------


@given(n_in=st.integers(1, 6), extra=st.integers(0, 20), seed=st.integers(0, 10_000))
def test_whiten_gives_identity_input_correlation(n_in, extra, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n_in, n_in + 1 + extra, generator=g, dtype=torch.float64) * 3 + 1
    Xw = tasks.whiten(X)
    torch.testing.assert_close(
        Xw @ Xw.T / Xw.shape[1], torch.eye(n_in, dtype=torch.float64), rtol=0, atol=1e-12,
        msg="whitened inputs must satisfy X X^T / P = I",
    )


def test_whiten_is_symmetric_zca(generator):
    # ZCA whitening is W X with W symmetric positive definite: recover W by least squares and check it.
    X = torch.randn(3, 40, generator=generator, dtype=torch.float64)
    Xw = tasks.whiten(X)
    W = torch.linalg.lstsq(X.T, Xw.T).solution.T
    torch.testing.assert_close(W, W.T, rtol=0, atol=1e-12, msg="the whitening matrix must be symmetric")
    assert bool((torch.linalg.eigvalsh(W) > 0).all()), "the whitening matrix must be positive definite"


def test_whiten_of_whitened_is_identity_map(generator):
    X = tasks.whiten(torch.randn(4, 30, generator=generator, dtype=torch.float64))
    torch.testing.assert_close(tasks.whiten(X), X, rtol=0, atol=1e-12, msg="whitening must be idempotent")


def test_random_task_correlations(generator):
    X, Y = tasks.random_regression_task(5, 3, 60, generator=generator)
    assert X.shape == (5, 60) and Y.shape == (3, 60)
    assert X.dtype == torch.float64
    torch.testing.assert_close(tasks.input_correlation(X), torch.eye(5, dtype=torch.float64), rtol=0, atol=1e-12)
    # Independent computation: the teacher is the least-squares map from X to Y, which for whitened X is Sigma^yx.
    teacher = torch.linalg.lstsq(X.T, Y.T).solution.T
    torch.testing.assert_close(tasks.input_output_correlation(X, Y), teacher, rtol=1e-10, atol=1e-12,
                               msg="Sigma^yx must equal the least-squares teacher for whitened inputs")


def test_random_task_is_reproducible():
    a = tasks.random_regression_task(3, 2, 10, generator=torch.Generator().manual_seed(5))
    b = tasks.random_regression_task(3, 2, 10, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]), "a seeded generator must give the same task"


@pytest.mark.parametrize("n_in,n_out", [(4, 4), (5, 3), (2, 6)])
def test_task_with_spectrum_has_the_singular_values(n_in, n_out, generator):
    k = min(n_in, n_out)
    s = torch.linspace(3.0, 0.5, k, dtype=torch.float64)
    X, Y = tasks.regression_task_with_spectrum(s, n_in, n_out, 50, generator=generator)
    torch.testing.assert_close(tasks.input_correlation(X), torch.eye(n_in, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.linalg.svdvals(tasks.input_output_correlation(X, Y)), s, rtol=1e-12, atol=1e-12,
                               msg="Sigma^yx must have the prescribed singular values")


def test_correlations_known_answer():
    X = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]], dtype=torch.float64) * 2**0.5
    Y = torch.tensor([[2.0, -2.0, 1.0, -1.0]], dtype=torch.float64)
    torch.testing.assert_close(tasks.input_correlation(X), torch.eye(2, dtype=torch.float64))
    torch.testing.assert_close(tasks.input_output_correlation(X, Y),
                               torch.tensor([[2**0.5, 0.5 * 2**0.5]], dtype=torch.float64))


# --- bad input ----------------------------------------------------------------------------------------------------


def test_whiten_errors():
    with pytest.raises(ValueError, match="^X: whitening needs at least as many samples"):
        tasks.whiten(torch.randn(5, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="^X: the input correlation"):
        tasks.whiten(torch.ones(2, 10, dtype=torch.float64))
    with pytest.raises(ValueError, match="^X: expected a 2-D tensor"):
        tasks.whiten(torch.ones(10, dtype=torch.float64))
    with pytest.raises(ValueError, match="^X: contains NaN"):
        tasks.whiten(torch.full((2, 4), float("nan")))


def test_task_errors():
    with pytest.raises(ValueError, match="^n_in: expected a positive integer"):
        tasks.random_regression_task(0, 2, 10)
    with pytest.raises(ValueError, match="^n_out: expected a positive integer"):
        tasks.random_regression_task(2, 1.5, 10)
    with pytest.raises(ValueError, match="^n_samples: must be at least n_in"):
        tasks.random_regression_task(5, 2, 3)
    with pytest.raises(ValueError, match="^singular_values: expected 2"):
        tasks.regression_task_with_spectrum([1.0, 2.0, 3.0], 2, 4, 10)
    with pytest.raises(ValueError, match="^singular_values: must be positive"):
        tasks.regression_task_with_spectrum([1.0, 0.0], 2, 2, 10)
    with pytest.raises(ValueError, match="^n_samples: must be at least n_in"):
        tasks.regression_task_with_spectrum([1.0, 2.0], 2, 2, 1)
    with pytest.raises(ValueError, match="^X, Y: expected shapes"):
        tasks.input_output_correlation(torch.ones(2, 5), torch.ones(1, 4))
    with pytest.raises(ValueError, match="^X: expected a 2-D tensor"):
        tasks.input_correlation(torch.ones(5))


# --- seeds, dtypes and devices ---------------------------------------------------------------------------------------


def test_integer_seeds_equal_generators():
    a = tasks.random_regression_task(3, 2, 8, generator=5)
    b = tasks.random_regression_task(3, 2, 8, generator=torch.Generator().manual_seed(5))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    c = tasks.regression_task_with_spectrum([2.0, 1.0], 3, 2, 8, generator=0)
    d = tasks.regression_task_with_spectrum([2.0, 1.0], 3, 2, 8, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(x, y) for x, y in zip(c, d))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_are_honoured(dtype):
    X, Y = tasks.regression_task_with_spectrum([2.0, 1.0], 2, 3, 10, generator=1, dtype=dtype, device="cpu")
    assert X.dtype == dtype and Y.dtype == dtype and X.device.type == "cpu"
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(tasks.input_correlation(X), torch.eye(2, dtype=dtype), rtol=0, atol=tol)
    s = torch.linalg.svdvals(tasks.input_output_correlation(X, Y))
    torch.testing.assert_close(s, torch.tensor([2.0, 1.0], dtype=dtype), rtol=tol, atol=0)
    X2, Y2 = tasks.random_regression_task(2, 3, 10, generator=1, dtype=dtype)
    assert X2.dtype == dtype and Y2.dtype == dtype


def test_mixed_and_integer_inputs():
    X, Y = tasks.random_regression_task(2, 2, 6, generator=3)
    assert tasks.input_output_correlation(X.float(), Y).dtype == torch.float64
    assert tasks.input_correlation(torch.ones(2, 3, dtype=torch.int64)).dtype == torch.float64
    assert tasks.whiten(torch.tensor([[1, 2, 3], [2, 0, 1]])).dtype == torch.float64


DEVICE = torch.device(os.environ.get("LINEAR_LENS_TEST_DEVICE", "cpu"))


@pytest.mark.skipif(DEVICE.type == "cuda" and not torch.cuda.is_available(), reason="no CUDA device")
def test_tasks_on_device_equal_the_cpu_draws():
    X, Y = tasks.regression_task_with_spectrum([2.0, 1.0], 2, 3, 8, generator=4, device=DEVICE)
    Xc, Yc = tasks.regression_task_with_spectrum([2.0, 1.0], 2, 3, 8, generator=4)
    assert X.device.type == DEVICE.type
    torch.testing.assert_close(X.cpu(), Xc, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(Y.cpu(), Yc, rtol=1e-12, atol=1e-13)
