"""Thread control for loops over many tiny tensors, where torch's intra-op parallelism costs more than it saves."""

from __future__ import annotations

import contextlib

import torch

__all__ = ["single_thread"]


@contextlib.contextmanager
def single_thread():
    """Run the block with one intra-op thread, restoring the previous setting afterwards (also on error)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
