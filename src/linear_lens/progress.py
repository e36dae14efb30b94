"""Progress bars for anything that takes more than a few seconds.

Bars go to stderr as plain text (not widgets), so a terminal and Jupyter show them, papermill records them, and the
rendered book drops them (``stderr_output: remove`` in ``_config.yml``).
"""

from __future__ import annotations

from typing import Iterable, TypeVar

from tqdm.std import tqdm

__all__ = ["progress"]

T = TypeVar("T")


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None, disable: bool = False) -> Iterable[T]:
    """Wrap ``iterable`` in a text progress bar labelled ``desc``."""
    return tqdm(iterable, desc=desc, total=total, disable=disable, mininterval=1.0, leave=False)
