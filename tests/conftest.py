"""Shared test settings: float64 by default, seeded generators, hypothesis profiles."""

import os

import pytest
import torch
from hypothesis import settings

settings.register_profile("default", max_examples=40, deadline=None, derandomize=True)
settings.register_profile("thorough", max_examples=400, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def generator() -> torch.Generator:
    """A seeded torch generator: every test sees the same numbers on every run."""
    return torch.Generator().manual_seed(20201127)
