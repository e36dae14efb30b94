"""Launch notebooks and links (linear_lens.book.launch): committed files current, first cell installs, links well formed."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from linear_lens.book import launch, runner

LAUNCH = runner.REPO_ROOT / launch.FOLDER


def test_committed_launch_notebooks_match_the_chapters(tmp_path):
    fresh = launch.write_launch_notebooks(tmp_path)
    committed = sorted(p.name for p in LAUNCH.glob("*.ipynb"))
    assert committed == sorted(p.name for p in fresh), "launch/ does not have one notebook per chapter: run make launch"
    stale = [p.name for p in fresh if (LAUNCH / p.name).read_text() != p.read_text()]
    assert not stale, f"launch notebooks out of date with their chapters (run make launch): {stale}"


def test_launch_notebook_is_the_chapter_after_an_install_cell():
    nb = launch.launch_notebook("02")
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "code" and "%pip install" in first.source and launch.REPOSITORY in first.source
    python = TransformerManager().transform_cell(first.source)
    compile(python, "install-cell", "exec")  # the magic inside try/except becomes valid Python
    assert "run_line_magic('pip'" in python
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), "the parameters cell keeps its tag"
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert [c.id for c in nb.cells] == [f"cell-{i}" for i in range(len(nb.cells))]


def test_launch_links_open_the_launch_notebook():
    links = launch.launch_links("02_global_stability", "https://github.com/someone/fork", "v1.0")
    binder, colab = urlparse(links["Binder"]), urlparse(links["Colab"])
    assert binder.netloc == "mybinder.org" and binder.path == "/v2/gh/someone/fork/v1.0"
    assert parse_qs(binder.query)["labpath"] == ["launch/02_global_stability.ipynb"]
    assert colab.netloc == "colab.research.google.com"
    assert colab.path == "/github/someone/fork/blob/v1.0/launch/02_global_stability.ipynb"


def test_the_book_config_names_the_repository_the_links_use():
    import yaml

    book = yaml.safe_load((runner.REPO_ROOT / "_config.yml").read_text())
    config = book["sphinx"]["config"]
    assert config["linear_lens_repository"] == launch.REPOSITORY and config["linear_lens_ref"] == launch.REF
    assert book["parse"]["myst_substitutions"]["repository"] == launch.REPOSITORY, "how-to-use names another address"


@pytest.mark.parametrize("repository, ref, stem, match", [
    ("https://gitlab.com/a/b", "main", "02_global_stability", r"^repository: expected a GitHub address"),
    ("github.com/a/b", "main", "02_global_stability", r"^repository: expected a GitHub address"),
    (None, "main", "02_global_stability", r"^repository: expected a GitHub address"),
    ("https://github.com/a/b", "", "02_global_stability", r"^ref: expected a branch, tag or commit name"),
    ("https://github.com/a/b", "a b", "02_global_stability", r"^ref: expected a branch, tag or commit name"),
    ("https://github.com/a/b", "../x", "02_global_stability", r"^ref: expected a branch, tag or commit name"),
    ("https://github.com/a/b", "main", "global_stability", r"^stem: expected a chapter's file name"),
    ("https://github.com/a/b", "main", "02_x.ipynb", r"^stem: expected a chapter's file name"),
])
def test_bad_input(repository, ref, stem, match):
    with pytest.raises(ValueError, match=match):
        launch.launch_links(stem, repository, ref)


def test_install_cell_refuses_a_bad_repository():
    with pytest.raises(ValueError, match=r"^repository:"):
        launch.install_cell_source("https://github.com/a")


def test_cli_writes_the_launch_notebooks(tmp_path, capsys):
    assert runner.main(["launch", "-o", str(tmp_path)]) == 0
    assert "launch notebooks in" in capsys.readouterr().out
    nb = json.loads((tmp_path / "01_pointwise_affine.ipynb").read_text())
    assert nb["metadata"]["linear_lens"]["chapter"] == "01"
