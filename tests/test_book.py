"""The whole book builds with warnings as errors (-W -n), every chapter executed in full."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.book
def test_book_builds_with_warnings_as_errors(tmp_path):
    jb = shutil.which("jupyter-book") or str(Path(sys.executable).with_name("jupyter-book"))
    # A fresh output folder has no execution cache, so every chapter runs against the current src/.
    result = subprocess.run(
        [jb, "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    log = result.stdout[-6000:] + result.stderr[-6000:]
    assert result.returncode == 0, f"book build failed:\n{log}"
    html = tmp_path / "_build" / "html"
    assert (html / "index.html").exists(), f"no index.html:\n{log}"
    for chapter in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md")):
        page = html / "notebooks" / f"{chapter.stem}.html"
        assert page.exists(), f"{chapter.stem} missing from the book"
        text = page.read_text()
        assert "<img" in text, f"{chapter.stem}: no figure in the rendered page"
        assert (html / "_sources" / "notebooks" / f"{chapter.stem}.ipynb").exists(), f"{chapter.stem}: no .ipynb download"
        assert f"_sources/notebooks/{chapter.stem}.ipynb" in text, f"{chapter.stem}: the download menu lacks the .ipynb"
    # MathJax is served from the book itself (sphinx-mathjax-offline), so maths renders without a network
    page = (html / "notebooks" / "01_pointwise_affine.html").read_text()
    assert 'src="../_static/mathjax/tex-chtml.js' in page, "MathJax is not bundled with the book"
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists(), "MathJax is not bundled with the book"
    assert "cdn.jsdelivr" not in page, "maths would need a network to render"
