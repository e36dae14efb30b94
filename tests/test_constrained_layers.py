"""Tests for constrained_layers: the nn.Module forms of the factorisations of Appendix B of Drgona et al. (2020), and
training them."""

import pytest
import torch

from linear_lens import constrained_layers as cl
from linear_lens import linear_maps as lm
from linear_lens import spectral_promises as sp
from linear_maps_cases import gen, one_thread  # noqa: F401 (one_thread: an autouse fixture)

F64 = torch.float64


# --------------------------------------------------------------------------------------------------------------
# Layers and samplers agree
# --------------------------------------------------------------------------------------------------------------


def test_sampler_equals_module_weight():
    pairs = [
        (lm.perron_frobenius(5, 0.0, 1.0, generator=gen(3)), cl.PerronFrobeniusLinear(5, 0.0, 1.0, generator=gen(3))),
        (lm.spectral_svd(5, 0.5, 1.0, generator=gen(3)), cl.SpectralLinear(5, 0.5, 1.0, generator=gen(3))),
        (lm.skew_symmetric(5, 0.2, generator=gen(3)), cl.SkewSymmetricLinear(5, 0.2, generator=gen(3))),
        (lm.hamiltonian(5, generator=gen(3)), cl.HamiltonianLinear(5, generator=gen(3))),
        (lm.gershgorin(5, 0.0, 1.0, real=False, generator=gen(3)),
         cl.GershgorinLinear(5, 0.0, 1.0, real=False, generator=gen(3))),
    ]
    for W, layer in pairs:
        torch.testing.assert_close(W, layer.weight.detach(), atol=0, rtol=0, msg=type(layer).__name__)
        x = torch.randn(7, 5, generator=gen(4), dtype=F64)
        torch.testing.assert_close(layer(x), x @ W.T, atol=1e-14, rtol=0, msg=f"{type(layer).__name__}.forward")


# --------------------------------------------------------------------------------------------------------------
# Training keeps the constraint
# --------------------------------------------------------------------------------------------------------------


def test_trained_layers_keep_their_constraint():
    n = 6
    target = 2.0 * torch.randn(n, n, generator=gen(9), dtype=F64) / n**0.5
    layers = {
        "perron_frobenius": cl.PerronFrobeniusLinear(n, 0.0, 1.0, generator=gen(1)),
        "gershgorin_complex": cl.GershgorinLinear(n, 0.0, 1.0, real=False, generator=gen(1)),
        "gershgorin_real": cl.GershgorinLinear(n, 0.0, 1.0, real=True, generator=gen(1)),
    }
    for name, layer in layers.items():
        hist = cl.fit_linear(layer, target, steps=60, lr=0.05, generator=gen(2))
        assert float(hist[-1]) < float(hist[0]), f"{name}: training did not reduce the loss"
        ex = float(sp.promise_excess(name, layer.weight.detach(), 0.0, 1.0))
        assert ex < 1e-10, f"{name}: trained weight leaves the promised set by {ex}"
    skew = cl.SkewSymmetricLinear(n, 0.3, generator=gen(1))
    cl.fit_linear(skew, target, steps=60, lr=0.05, generator=gen(2))
    eig = torch.linalg.eigvals(skew.weight.detach())
    assert float((eig.real + 0.3).abs().max()) < 1e-12, "trained skew-symmetric weight keeps Re lambda = -gamma"


def test_trained_spectral_layer_obeys_the_factor_bound():
    """Errata E04.3: with U, V only regularised the singular values are bounded up to sigma(U) sigma(V)."""
    n = 6
    target = 3.0 * torch.randn(n, n, generator=gen(9), dtype=F64) / n**0.5
    layer = cl.SpectralLinear(n, 0.0, 1.0, generator=gen(1))
    cl.fit_linear(layer, target, steps=80, lr=0.05, reg_weight=0.1, generator=gen(2))
    U, V = layer.U.detach(), layer.V.detach()
    sig = 1.0 - torch.sigmoid(layer.s.detach())
    sv = torch.linalg.svdvals(layer.weight.detach())
    sU, sV = torch.linalg.svdvals(U), torch.linalg.svdvals(V)
    assert float(sv.max()) <= float(sU.max() * sV.max() * sig.max()) + 1e-12, "upper factor bound"
    assert float(sv.min()) >= float(sU.min() * sV.min() * sig.min()) - 1e-12, "lower factor bound"
    assert float(sv.max()) > 1.0, f"the soft constraint lets the largest singular value exceed lam_max: {sv.max()}"


def test_fit_linear_restores_the_thread_count():
    before = torch.get_num_threads()  # 1 under the module fixture; set 2 to see it restored
    torch.set_num_threads(2)
    cl.fit_linear(cl.GershgorinLinear(3, 0.0, 1.0, generator=gen(0)), torch.eye(3, dtype=F64), steps=2)
    assert torch.get_num_threads() == 2, "fit_linear must restore the caller's thread count"
    torch.set_num_threads(before)


def test_regulariser_is_zero_for_hard_constraints():
    assert float(cl.GershgorinLinear(3, 0.0, 1.0, generator=gen(0)).regulariser()) == 0.0


# --------------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda: cl.PerronFrobeniusLinear(3, 1.0, 0.5),
    lambda: cl.SpectralLinear(3, 1.0, 0.5),
    lambda: cl.GershgorinLinear(3, 1.0, 0.5),
])
def test_lam_min_above_lam_max_raises(call):
    with pytest.raises(ValueError, match=r"^lam_min: must not exceed lam_max"):
        call()


@pytest.mark.parametrize("call, param", [
    (lambda: cl.fit_linear(cl.GershgorinLinear(3, 0, 1), torch.zeros(3, 2)), "target"),
    (lambda: cl.fit_linear(cl.GershgorinLinear(3, 0, 1), torch.zeros(2, 2)), "target"),
])
def test_non_square_or_mismatched_raises(call, param):
    with pytest.raises(ValueError, match=rf"^{param}:"):
        call()


@pytest.mark.parametrize("call, param", [
    (lambda: cl.HamiltonianLinear(1), "n"),
    (lambda: cl.SpectralLinear(3, 0, 1, norm="max"), "norm"),
    (lambda: cl.fit_linear(cl.GershgorinLinear(2, 0, 1), torch.eye(2, dtype=F64), lr=0.0), "lr"),
    (lambda: cl.fit_linear(cl.GershgorinLinear(2, 0, 1), torch.eye(2, dtype=F64), reg_weight=-1.0), "reg_weight"),
    (lambda: cl.fit_linear(cl.GershgorinLinear(2, 0, 1), torch.eye(2, dtype=F64), steps=0), "steps"),
    (lambda: cl.GershgorinLinear(3, 0, 1)(torch.zeros(4, dtype=F64)), "x"),
])
def test_bad_arguments_raise(call, param):
    with pytest.raises(ValueError, match=rf"^{param}:"):
        call()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_trains():
    layer = cl.SpectralLinear(6, 0.0, 1.0, generator=gen(1), device="cuda")
    hist = cl.fit_linear(layer, 2 * torch.eye(6, dtype=F64, device="cuda"), steps=30, reg_weight=0.1, generator=gen(2))
    assert layer.weight.device.type == "cuda" and float(hist[-1]) < float(hist[0]), "training on CUDA"
