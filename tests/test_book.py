"""The whole book builds with warnings as errors (-W -n), and reads correctly in a real browser.

The build runs once per test session (module fixture); the browser tests open every page of it in headless Chromium
(Playwright driving the system's Chromium), served on localhost.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import shutil
import socketserver
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


BOOK_SOURCES = ("_config.yml", "_toc.yml", "_static", "book", "notebooks")


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """Build the book into a fresh folder (no execution cache: every chapter runs against the current src/).

    The test suite builds the book with every chapter in quick mode (a copy of the sources whose parameters cells say
    ``quick = True``), so that ``make test`` stays within its time budget; ``make book`` builds and checks the full
    book. ``LINEAR_LENS_BOOK_FULL=1`` makes the tests build the full book instead, and
    ``LINEAR_LENS_BUILT_BOOK=<folder>/_build/html`` runs them on a book built before (for authors).
    """
    import os

    if os.environ.get("LINEAR_LENS_BUILT_BOOK"):
        return Path(os.environ["LINEAR_LENS_BUILT_BOOK"])
    out = tmp_path_factory.mktemp("book")
    source = ROOT
    if os.environ.get("LINEAR_LENS_BOOK_FULL") != "1":
        source = out / "src"
        source.mkdir()
        for name in BOOK_SOURCES:
            (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, source / name)
        for chapter in (source / "notebooks").glob("[0-9][0-9]_*.md"):
            text = chapter.read_text()
            assert "\nquick = False\n" in text, f"{chapter.name}: no 'quick = False' line"
            chapter.write_text(text.replace("\nquick = False\n", "\nquick = True\n", 1))
    jb = shutil.which("jupyter-book") or str(Path(sys.executable).with_name("jupyter-book"))
    result = subprocess.run(
        [jb, "build", str(source), "-W", "-n", "--keep-going", "--path-output", str(out)],
        cwd=source, capture_output=True, text=True,
    )
    log = result.stdout[-6000:] + result.stderr[-6000:]
    assert result.returncode == 0, f"book build failed:\n{log}"
    html = out / "_build" / "html"
    assert (html / "index.html").exists(), f"no index.html:\n{log}"
    return html


def chapters() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))


@pytest.mark.book
def test_book_builds_with_warnings_as_errors(book):
    for chapter in chapters():
        page = book / "notebooks" / f"{chapter.stem}.html"
        assert page.exists(), f"{chapter.stem} missing from the book"
        text = page.read_text()
        assert "<img" in text, f"{chapter.stem}: no figure in the rendered page"
        assert (book / "_sources" / "notebooks" / f"{chapter.stem}.ipynb").exists(), f"{chapter.stem}: no .ipynb download"
        assert f"_sources/notebooks/{chapter.stem}.ipynb" in text, f"{chapter.stem}: the download menu lacks the .ipynb"
    # MathJax is served from the book itself (sphinx-mathjax-offline), so maths renders without a network
    page = (book / "notebooks" / f"{chapters()[0].stem}.html").read_text()
    assert 'src="../_static/mathjax/tex-chtml.js' in page, "MathJax is not bundled with the book"
    assert (book / "_static" / "mathjax" / "tex-chtml.js").exists(), "MathJax is not bundled with the book"
    assert "cdn.jsdelivr" not in page, "maths would need a network to render"


@pytest.mark.book
def test_claims_ledger_lists_every_chapters_claims(book):
    """Every claim an executed chapter reported is in the ledger, linked to an anchor on its chapter's page."""
    from linear_lens.book import claims

    ledger = (book / "book" / "claims.html").read_text()
    for chapter in chapters():
        data = claims.extract(book / "_sources" / "notebooks" / f"{chapter.stem}.ipynb")
        assert data is not None and data["claims"], f"{chapter.stem}: the executed chapter reported no claims"
        ids = [c["id"] for c in data["claims"]]
        missing = [i for i in ids if f">{i}</code>" not in ledger]
        assert not missing, f"{chapter.stem}: claims missing from the ledger: {missing}"
        page = (book / "notebooks" / f"{chapter.stem}.html").read_text()
        for i in ids:
            anchor = "claim-" + re.sub(r"[^a-z0-9]+", "-", i.lower()).strip("-")
            assert f'id="{anchor}"' in page, f"{i}: no anchor on its cell"
        literal = set(re.findall(r"""claim\(\s*["'](ch\d\d\.[^"']+)["']""", chapter.read_text()))
        assert literal & set(ids), f"{chapter.stem}: none of its literal claim ids was reported"
        sidecar = book.parent / "jupyter_execute" / "notebooks" / f"{chapter.stem}.claims.json"
        if not os.environ.get("LINEAR_LENS_BUILT_BOOK") or sidecar.exists():
            assert json.loads(sidecar.read_text()) == data, f"{chapter.stem}: no claims sidecar beside the notebook"


@pytest.mark.book
def test_chapter_pages_offer_binder_and_colab_launch_links(book):
    """Each chapter page links Binder and Colab to its launch notebook, a committed file of the repository."""
    from linear_lens.book import launch

    for chapter in chapters():
        page = (book / "notebooks" / f"{chapter.stem}.html").read_text()
        for name, url in launch.launch_links(chapter.stem).items():
            assert html.escape(url) in page or url in page, f"{chapter.stem}: no {name} link {url}"
        assert (ROOT / launch.FOLDER / f"{chapter.stem}.ipynb").exists(), f"{chapter.stem}: run make launch"


# ---------------------------------------------------------------------------------------------------------------
# In a browser
# ---------------------------------------------------------------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(book):
    """Serve the built book on localhost; yields its base URL."""
    handler = functools.partial(_Quiet, directory=str(book))
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM, "Chromium is not installed: `make install` installs it (Debian package chromium)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def pages(book: Path) -> list[str]:
    skip = {"genindex.html", "search.html"}  # the root index.html only redirects to the intro
    return sorted(str(p.relative_to(book)) for p in book.rglob("*.html")
                  if not str(p.relative_to(book)).startswith(("_", "page-")) and p.name not in skip
                  and str(p.relative_to(book)) != "index.html")


_TYPESET = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
}"""

# Evaluated in the page after MathJax has typeset it.
_AUDIT = """() => {
  const root = document.querySelector('main') || document.body;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {acceptNode: n =>
    n.parentElement.closest('pre, code, script, style, mjx-container, .highlight, .cell_input, textarea')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  let text = '';
  while (walker.nextNode()) { text += walker.currentNode.textContent; }
  const raw = [];
  for (const m of text.matchAll(/\\\\(?:frac|lambda|sigma|rho|mathbb|mathcal|operatorname|begin|left|right|lVert|rVert)\\b|\\$[^$\\n]{1,40}\\$/g)) {
    raw.push(text.slice(Math.max(0, m.index - 30), m.index + 40));
  }
  const clipped = [];
  for (const c of document.querySelectorAll('mjx-container')) {
    const r = c.getBoundingClientRect();
    if (r.width === 0) continue;
    let el = c.parentElement;
    while (el && el !== document.body) {
      const ov = getComputedStyle(el).overflowX;
      if (ov === 'auto' || ov === 'scroll') break;  // the reader can scroll to it
      if (ov === 'hidden' || ov === 'clip') {
        const a = el.getBoundingClientRect();
        if (r.right > a.right + 1 || r.left < a.left - 1) { clipped.push(c.textContent.slice(0, 60)); }
        break;
      }
      el = el.parentElement;
    }
  }
  const images = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
  const glued = [...document.querySelectorAll('.pasted-text')].map(e => e.textContent.trim());
  return {
    raw, clipped, images, glued,
    errors: document.querySelectorAll('mjx-merror').length,
    title: document.title,
    nav: [...document.querySelectorAll('nav a')].map(a => a.textContent),
    links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  };
}"""


@pytest.mark.book
def test_every_page_reads_correctly_in_a_browser(book, site, browser):
    problems: list[str] = []
    anchors: dict[str, set[str]] = {}
    links: list[tuple[str, str]] = []
    for rel in pages(book):
        errors: list[str] = []
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda e: errors.append(f"exception: {e}"))
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.goto(f"{site}/{rel}", wait_until="load")
        page.evaluate(_TYPESET)
        audit = page.evaluate(_AUDIT)
        page.close()
        problems += [f"{rel}: {e}" for e in errors]
        problems += [f"{rel}: raw TeX {r!r}" for r in audit["raw"]]
        problems += [f"{rel}: maths clipped {c!r}" for c in audit["clipped"]]
        problems += [f"{rel}: image did not load {i}" for i in audit["images"]]
        problems += [f"{rel}: {audit['errors']} MathJax errors"] if audit["errors"] else []
        problems += [f"{rel}: TeX in the title {audit['title']!r}"] if "\\" in audit["title"] or "$" in audit["title"] else []
        problems += [f"{rel}: TeX in the navigation {t!r}" for t in audit["nav"] if "\\(" in t or "$" in t]
        for value in audit["glued"]:
            if re.search(r"\b(nan|inf)\b", value, re.I):
                problems.append(f"{rel}: glued value {value!r} is not finite")
        anchors[rel] = set(audit["ids"])
        links += [(rel, href) for href in audit["links"]]
    for rel, href in links:
        url = urlparse(href)
        if url.scheme or href.startswith(("mailto:", "javascript:")):
            continue
        target = (Path(rel).parent / unquote(url.path)).as_posix() if url.path else rel
        target = str(Path(target)).replace("\\", "/")
        parts = []
        for part in target.split("/"):
            if part == "..":
                parts = parts[:-1]
            elif part not in ("", "."):
                parts.append(part)
        target = "/".join(parts)
        if not (book / target).exists():
            problems.append(f"{rel}: broken link {href}")
        elif url.fragment and target in anchors and url.fragment not in anchors[target]:
            problems.append(f"{rel}: link to a missing anchor {href}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:60])


@pytest.mark.book
def test_exercise_solutions_open(book, site, browser):
    page = browser.new_page()
    opened = 0
    for chapter in chapters():
        page.goto(f"{site}/notebooks/{chapter.stem}.html", wait_until="load")
        buttons = page.locator(".dropdown .toggle-button, .dropdown button.toggle-button")
        if buttons.count() == 0:
            continue
        for i in range(buttons.count()):            # every solution of the chapter, not only the first
            buttons.nth(i).click()
        page.wait_for_timeout(300)
        bodies = page.locator(".dropdown")
        for i in range(bodies.count()):
            assert "toggle-hidden" not in (bodies.nth(i).locator("> *").last.get_attribute("class") or ""), (
                f"{chapter.stem}: drop-down {i + 1} did not open")
        opened += bodies.count()
    page.close()
    assert opened > 0, "no exercise solution drop-down found in any chapter"


@pytest.mark.book
def test_search_finds_a_theorem_by_name(site, browser):
    page = browser.new_page()
    for term in ("Gershgorin", "Riccati"):          # one notion of each Part
        page.goto(f"{site}/search.html?q={term}", wait_until="load")
        page.wait_for_selector("#search-results li", timeout=20000)
        hits = page.locator("#search-results li a").all_inner_texts()
        assert hits, f"search for {term!r} found nothing"
        assert not any("\\(" in h or "$" in h for h in hits), f"TeX in search results: {hits}"
    page.close()


@pytest.mark.book
def test_the_index_lists_the_theorems_and_notions(book):
    """genindex is not empty: the chapters' index entries (theorems, main notions) are in it."""
    index = (book / "genindex.html").read_text()
    entries = re.findall(r'href="notebooks/[^"#]+\.html#index-\d+"', index)
    assert len(entries) >= 50, f"the index has only {len(entries)} entries into the chapters"
    for notion in ("Riccati equation", "Gershgorin"):
        assert notion in index, f"the index has no entry for {notion}"


@pytest.mark.book
def test_downloaded_notebook_executes_with_the_package(book, tmp_path):
    """The .ipynb a reader downloads runs top to bottom with the package installed (quick mode)."""
    import nbformat
    from nbclient import NotebookClient

    chapter = chapters()[0]
    nb = nbformat.read(book / "_sources" / "notebooks" / f"{chapter.stem}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace("quick = False", "quick = True", 1)
        if cell.cell_type == "code":
            cell.outputs = []
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    assert any(o.get("output_type") in ("display_data", "execute_result") for c in nb.cells if c.cell_type == "code"
               for o in c.get("outputs", [])), "the downloaded notebook produced no output"
