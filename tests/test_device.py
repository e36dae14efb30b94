"""The package is device-agnostic: results on another device equal the CPU's.

Runs on the device named by ``LINEAR_LENS_TEST_DEVICE`` (default ``cpu``, where it checks that nothing moves data
to another device behind the caller's back). On a GPU machine: ``LINEAR_LENS_TEST_DEVICE=cuda pytest tests/test_device.py``.
"""

import os

import pytest
import torch

from linear_lens import affine, networks, sampling, stability

DEVICE = torch.device(os.environ.get("LINEAR_LENS_TEST_DEVICE", "cpu"))
if DEVICE.type == "cuda" and not torch.cuda.is_available():
    pytest.skip("LINEAR_LENS_TEST_DEVICE=cuda but no CUDA device is visible", allow_module_level=True)


def _to(tensors, device):
    return None if tensors is None else [t.to(device) for t in tensors]


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "gelu", "softplus"])
@pytest.mark.parametrize("form", affine.FORMS)
def test_pointwise_affine_on_device_matches_cpu(name, form, generator):
    W, B = networks.random_network([2, 16, 16, 16, 2], bias=True, generator=generator)
    _, _, grid = sampling.grid_2d(-6, 6, 41)
    A_cpu, b_cpu = affine.pointwise_affine(W, B, name, grid, form=form)
    A_dev, b_dev = affine.pointwise_affine(_to(W, DEVICE), _to(B, DEVICE), name, grid.to(DEVICE), form=form)
    assert A_dev.device.type == DEVICE.type and b_dev.device.type == DEVICE.type
    assert torch.allclose(A_dev.cpu(), A_cpu, rtol=1e-10, atol=1e-12), f"{name}/{form}: device and CPU differ"
    assert torch.allclose(b_dev.cpu(), b_cpu, rtol=1e-10, atol=1e-12)


def test_random_network_is_created_on_the_device():
    W, B = networks.random_network([2, 4, 2], bias=True, device=DEVICE, generator=torch.Generator(device=DEVICE))
    assert all(t.device.type == DEVICE.type for t in W + B)


def test_jacobian_and_spectral_radius_on_device(generator):
    W, B = networks.random_network([3, 8, 8, 3], bias=True, generator=generator)
    x = torch.randn(64, 3, generator=generator, dtype=torch.float64)
    J_cpu = affine.jacobian(W, B, "relu", x)
    J_dev = affine.jacobian(_to(W, DEVICE), _to(B, DEVICE), "relu", x.to(DEVICE))
    assert torch.allclose(J_dev.cpu(), J_cpu, rtol=1e-10, atol=1e-12)
    rho_dev = stability.spectral_radius(J_dev)
    assert rho_dev.device.type == DEVICE.type
    assert torch.allclose(rho_dev.cpu(), stability.spectral_radius(J_cpu), rtol=1e-10)
