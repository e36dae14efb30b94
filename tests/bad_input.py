"""Shared checks of the bad-input tables that test modules keep (``BAD = [(name, call, message), ...]``)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest


def check_raises(name: str, call, message: str) -> None:
    """``call()`` raises a one-line ``ValueError`` whose message matches the regular expression ``message``."""
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value), f"{name}: the message should be one line"


def uncovered(module, alias: str, test_file: str) -> list[str]:
    """The public functions of ``module`` that no ``alias.function(`` call of the test file's BAD table exercises."""
    table = Path(test_file).read_text().split("BAD = [")[1]
    covered = set(re.findall(rf"\b{re.escape(alias)}\.([a-z_0-9]+)\(", table))
    return [name for name in module.__all__ if inspect.isfunction(getattr(module, name)) and name not in covered]
