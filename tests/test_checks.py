"""The shared validation helpers (linear_lens._checks): check_times, used by riccati, representations, shallow."""

from __future__ import annotations

import pytest
import torch

from linear_lens._checks import check_times


def test_check_times_shapes():
    times, scalar = check_times(0.5, (2, 3))
    assert scalar and times.shape == (1, 2, 3) and times.dtype == torch.float64
    times, scalar = check_times([0.0, 1.0], (4,))
    assert not scalar and times.shape == (2, 4) and bool((times[1] == 1.0).all())
    times, _ = check_times(torch.ones(5, 2, 1), (2, 3))
    assert times.shape == (5, 2, 3)
    times, _ = check_times(torch.ones(5, 7), (), extend_batch=True)  # the times add a batch dimension
    assert times.shape == (5, 7)


@pytest.mark.parametrize("t, batch, extend, match", [
    (-1.0, (2,), False, r"^t: times must be non-negative$"),
    ([0.0, float("nan")], (2,), False, r"^t: "),
    (torch.ones(5, 3), (2,), False, r"^t: shape \(5, 3\) does not broadcast to \(T, \(2,\)\)$"),
    (torch.ones(5, 7), (), False, r"^t: shape \(5, 7\) has batch dimensions beyond the weights' \(\)$"),
    ("x", (2,), False, r"^t: "),
])
def test_check_times_refuses(t, batch, extend, match):
    with pytest.raises(ValueError, match=match):
        check_times(t, batch, extend_batch=extend)
