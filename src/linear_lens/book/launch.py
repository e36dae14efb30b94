r"""Launch links: every chapter as a plain notebook that Binder and Colab can open, and the links that open it.

Binder and Colab open ``.ipynb`` files from the book's public repository, not the MyST sources. :func:`write_launch_notebooks`
writes each chapter, without outputs, to ``launch/NN_slug.ipynb``, with a first cell that installs ``linear_lens``
from the repository where it is missing (Colab) and does nothing where it is installed (Binder builds the repository's
``environment.yml``, which installs the package; a local clone after ``pip install -e .``). These files are committed
(Colab reads them from GitHub); ``tests/test_launch.py`` checks that they match the chapters, and ``make launch``
rewrites them. :func:`launch_links` gives the Binder and Colab addresses that the book's pages offer in their
"launch" menu (``book/_ext/notebook_download.py``).

The repository is :data:`REPOSITORY` unless the book's ``_config.yml`` names another (``linear_lens_repository``):
a fork that publishes the book sets its own address there and runs ``make launch``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from linear_lens.book.runner import REPO_ROOT, chapters, find_chapter

__all__ = ["REPOSITORY", "REF", "FOLDER", "install_cell_source", "launch_notebook", "write_launch_notebooks",
           "launch_links"]

REPOSITORY = "https://github.com/linear-lens/linear-lens"
"""The public repository the launch links point at (``_config.yml``'s ``linear_lens_repository`` overrides it)."""
REF = "main"
"""The branch (or tag, or commit) of :data:`REPOSITORY` that the launch links open."""
FOLDER = "launch"
"""The repository folder of the launch notebooks."""

_GITHUB = re.compile(r"^https://github\.com/([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9._-]+?)(?:\.git)?/?$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def install_cell_source(repository: str = REPOSITORY, ref: str = REF) -> str:
    """The first cell of a launch notebook: install ``linear_lens`` from ``repository`` at ``ref`` if it is missing."""
    _check(repository, ref)
    return ("# Installs the book's package where it is missing (Colab); does nothing where it is installed\n"
            "# (Binder, or a clone after `pip install -e .`). If pip upgraded numpy or torch, restart the runtime once.\n"
            "try:\n"
            "    import linear_lens\n"
            "except ImportError:\n"
            f"    %pip install --quiet \"linear-lens @ git+{repository}@{ref}\"\n")


def launch_notebook(key: str, repository: str = REPOSITORY, ref: str = REF, notebooks_dir: Path | None = None):
    """Return chapter ``key`` as an nbformat notebook without outputs, its first cell :func:`install_cell_source`.

    The cells are the chapter's own (converted from MyST by jupytext), with stable cell ids (``cell-0``, ``cell-1``,
    ...) so that the file does not change unless the chapter does.
    """
    import jupytext
    import nbformat

    chapter = find_chapter(key, notebooks_dir)
    nb = jupytext.read(chapter.path)
    install = nbformat.v4.new_code_cell(install_cell_source(repository, ref), metadata={"tags": ["hide-input"]})
    nb.cells = [install, *nb.cells]
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "linear_lens": {"chapter": chapter.number, "source": f"notebooks/{chapter.path.name}"},
    }
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def write_launch_notebooks(output_dir: Path | None = None, repository: str = REPOSITORY, ref: str = REF,
                           notebooks_dir: Path | None = None) -> list[Path]:
    """Write :func:`launch_notebook` of every chapter to ``output_dir/NN_slug.ipynb`` (default ``launch/``)."""
    import nbformat

    output_dir = Path(output_dir) if output_dir is not None else REPO_ROOT / FOLDER
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for chapter in chapters(notebooks_dir):
        path = output_dir / f"{chapter.stem}.ipynb"
        text = nbformat.writes(launch_notebook(chapter.number, repository, ref, notebooks_dir)) + "\n"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        paths.append(path)
    return paths


def launch_links(stem: str, repository: str = REPOSITORY, ref: str = REF) -> dict[str, str]:
    """The addresses that open ``launch/<stem>.ipynb`` of ``repository`` at ``ref``: ``{"Binder": ..., "Colab": ...}``.

    ``stem``: a chapter's file name without extension (``"02_global_stability"``).
    """
    owner, name = _check(repository, ref)
    if not re.fullmatch(r"[0-9]{2}_[a-z0-9_]+", str(stem)):
        raise ValueError(f"stem: expected a chapter's file name such as '02_global_stability', got {stem!r}")
    path = f"{FOLDER}/{stem}.ipynb"
    return {
        "Binder": f"https://mybinder.org/v2/gh/{owner}/{name}/{quote(ref, safe='')}?labpath={quote(path, safe='')}",
        "Colab": f"https://colab.research.google.com/github/{owner}/{name}/blob/{ref}/{path}",
    }


def _check(repository: str, ref: str) -> tuple[str, str]:
    m = _GITHUB.match(str(repository))
    if m is None:
        raise ValueError(f"repository: expected a GitHub address https://github.com/owner/name, got {repository!r}")
    if not isinstance(ref, str) or not _REF.match(ref) or ".." in ref:
        raise ValueError(f"ref: expected a branch, tag or commit name (letters, digits, . _ / -), got {ref!r}")
    return m.group(1), m.group(2)
