"""The chapters read well in the rendered book: checks of their sources that a browser audit of the book asked for.

- headings in Unicode (no TeX: headings appear in the navigation, the tab title and search results);
- code a reader sees fits the column (at most 88 characters a line); plumbing cells (parameter checks, glue calls,
  claims) have their input hidden behind a click;
- every figure has a caption and real alt text, is drawn for the text column (at most 7.5 inches wide, unless its cell
  is tagged ``full-width``) with fonts of at least 10 points;
- every chapter opens with an overview box and adds entries to the book's index;
- the seed's first author is spelled Drgoňa.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))
PLUMBING = {"glue", "claim", "check_range", "check_choice"}
MAX_COLUMNS = 88
MAX_WIDTH = 7.5  # inches: the text column


def cells(path: Path):
    return jupytext.read(path).cells


def metadata(cell) -> dict:
    return dict(cell.metadata)


def tags(cell) -> list[str]:
    return list(cell.metadata.get("tags", []))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_headings_are_unicode(path):
    bad = [line for c in cells(path) if c.cell_type == "markdown" for line in c.source.splitlines()
           if re.match(r"^#{1,6} ", line) and ("$" in line or "\\" in line)]
    assert not bad, f"{path.name}: headings with TeX (write λ, ρ in Unicode): {bad}"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_visible_code_fits_the_column(path):
    long = []
    for c in cells(path):
        if c.cell_type != "code" or {"hide-input", "remove-input", "hide-cell"} & set(tags(c)):
            continue
        long += [line for line in c.source.splitlines() if len(line) > MAX_COLUMNS]
    assert not long, f"{path.name}: {len(long)} visible code lines over {MAX_COLUMNS} columns, e.g. {long[0]!r}"


def _is_plumbing(source: str) -> bool:
    """A cell whose every statement is a call of glue, claim, check_* or claims.* (or an import of them)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    if not tree.body:
        return False
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        call = node.value if isinstance(node, ast.Expr) else None
        if not isinstance(call, ast.Call):
            return False
        f = call.func
        name = f.id if isinstance(f, ast.Name) else f.value.id if isinstance(f, ast.Attribute) and isinstance(
            f.value, ast.Name) else None
        if name not in PLUMBING | {"claims"}:
            return False
    return True


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_plumbing_is_hidden(path):
    shown = []
    for i, c in enumerate(cells(path)):
        if c.cell_type != "code" or "parameters" in tags(c):
            continue
        plumbing = _is_plumbing(c.source) or "claims.report()" in c.source or "check_range(" in c.source
        if plumbing and not {"hide-input", "remove-input", "hide-cell"} & set(tags(c)):
            shown.append(c.source.splitlines()[0][:60])
    assert not shown, f"{path.name}: plumbing cells shown to the reader (tag them hide-input): {shown}"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_figures_have_captions_alt_text_and_fit_the_column(path):
    problems = []
    for c in cells(path):
        if c.cell_type != "code" or not re.search(r"plt\.(subplots|figure)\(", c.source):
            continue
        meta = metadata(c).get("mystnb", {})
        first = c.source.splitlines()[0][:50]
        if "figure" not in meta or not meta["figure"].get("caption"):
            problems.append(f"no caption: {first}")
        alt = meta.get("image", {}).get("alt", "")
        if len(alt.split()) < 5:
            problems.append(f"no alt text (or under five words): {first}")
        if "full-width" not in tags(c):
            for w in re.findall(r"figsize\s*=\s*\(\s*([0-9.]+)", c.source):
                if float(w) > MAX_WIDTH:
                    problems.append(f"figure {w} in wide (at most {MAX_WIDTH}, or tag the cell full-width): {first}")
        for size in re.findall(r"(?:fontsize|labelsize|size)\s*=\s*([0-9.]+)", c.source):
            if float(size) < 10 and not re.search(r"markersize|ms\s*=", c.source[:0]):
                problems.append(f"font of {size} pt (at least 10): {first}")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_opens_with_an_overview_and_indexes_its_notions(path):
    text = path.read_text()
    head = text[: text.find("```{code-cell}")]
    assert re.search(r"(```|:::)\{admonition\} Overview", head) and ":class: overview" in head, (
        f"{path.name}: no overview box (admonition 'Overview' with class overview) before the first code cell")
    assert re.search(r"\{index\}", text), f"{path.name}: no index entries ({{index}} directive or role)"


@pytest.mark.parametrize("path", CHAPTERS + sorted((ROOT / "book").glob("*.md")), ids=lambda p: p.stem)
def test_drgona_is_spelled_with_its_caron(path):
    prose = re.sub(r"`[^`]*`|\{cite[^}]*\}`[^`]*`", "", path.read_text())  # code and citation keys may say drgona
    assert not re.search(r"\bDrgona\b", prose), f"{path.name}: write Drgoňa"
    # strings in code too: a claim's source is shown in the ledger and the chapter's claims table
    assert not re.search(r"[\"']Drgona\b", path.read_text()), f"{path.name}: a string says Drgona; write Drgoňa"


def test_matplotlib_defaults_for_the_column():
    rc = (ROOT / "notebooks" / "matplotlibrc").read_text()
    values = dict(line.split(":", 1) for line in rc.splitlines() if ":" in line and not line.startswith("#"))
    assert float(values["font.size"]) >= 10
    assert float(values["figure.figsize"].split(",")[0]) <= MAX_WIDTH
