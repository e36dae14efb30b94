"""Coupling matrices shared by the tests of the random recurrent network and its linear equivalent."""

import torch

from linear_lens import rnn


def stable_couplings(n, g, a, seed, margin=0.05, naive=True):
    """A coupling matrix whose linear-equivalent network is stable with some margin (and, if ``naive``, whose naive
    closure is not resonant); the first of 50 draws that qualifies."""
    gen = torch.Generator().manual_seed(seed)
    for _ in range(50):
        J = rnn.couplings(n, g, generator=gen)
        lam = torch.linalg.eigvals(J)
        if float(a * lam.real.max()) < 1 - margin and (not naive or a * float(lam.abs().max()) < 1):
            return J
    raise AssertionError("no qualifying draw in 50")
