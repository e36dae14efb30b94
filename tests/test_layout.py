"""The README's map of chapters to modules stays true: every module a chapter imports is in its row, every name in
the table is a module of the package, and every module of the package is named in the README."""

import ast
import pkgutil
import re
from pathlib import Path

import jupytext
import pytest

import linear_lens
import linear_lens.book
from linear_lens.book import runner

README = Path(__file__).resolve().parents[1] / "README.md"
MODULES = {m.name for m in pkgutil.iter_modules(linear_lens.__path__)}
BOOK_MODULES = {m.name for m in pkgutil.iter_modules(linear_lens.book.__path__)}
# the book machinery (the subpackage linear_lens.book) and helpers shared by the mathematics: not in a chapter's row
NOT_IN_ROWS = {"book", "progress", "sampling", "_checks", "_threads"}
SRC = Path(linear_lens.__file__).resolve().parent


def _rows() -> dict[str, set[str]]:
    text = README.read_text()
    section = text.split("## Chapters and the modules behind them", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"\d\d", cells[0]):
            rows[cells[0]] = set(re.findall(r"`([a-z_]+)`", cells[2] + " " + cells[3]))
    return rows


def _imports(path: Path) -> set[str]:
    found = set()
    for cell in jupytext.read(path).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:          # IPython magics
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "linear_lens":
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("linear_lens."):
                found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("linear_lens.")}
    return found


def test_every_chapter_has_a_row_of_real_modules():
    rows = _rows()
    assert sorted(rows) == sorted(c.number for c in runner.chapters()), "one row per chapter"
    unknown = {ch: sorted(names - MODULES) for ch, names in rows.items() if names - MODULES}
    assert not unknown, f"names in the README's chapter table that are not modules: {unknown}"


@pytest.mark.parametrize("chapter", runner.chapters(), ids=[c.stem for c in runner.chapters()])
def test_a_chapter_imports_only_modules_of_its_row(chapter):
    missing = _imports(chapter.path) - NOT_IN_ROWS - _rows()[chapter.number]
    assert not missing, f"chapter {chapter.number} imports {sorted(missing)}, not in its README row"


def test_every_module_is_named_in_the_readme():
    text = README.read_text()
    absent = sorted(m for m in MODULES | BOOK_MODULES if m != "__main__" and f"`{m}`" not in text)
    assert not absent, f"modules the README does not name: {absent}"


def test_the_mathematics_does_not_import_the_book_machinery():
    """The modules of the mathematics run without the book: none imports from ``linear_lens.book``."""
    offenders = []
    for path in sorted(p for p in SRC.glob("*.py") if p.name != "__main__.py"):  # __main__: the command line
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if any(n == "linear_lens.book" or n.startswith("linear_lens.book.") for n in names):
                offenders.append(path.name)
    assert not offenders, f"mathematical modules importing the book machinery: {sorted(set(offenders))}"
