"""Shared by the tests of linear_maps, spectral_promises and constrained_layers: one thread, seeded generators."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """These matrices are small: one thread avoids hand-off costs on a busy machine (restored after each test).

    Autouse in every test module that imports it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def gen(seed):
    """A torch generator seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)
