"""Re-execute a chapter with your own parameters: ``python -m linear_lens run 01 -p depth 8 -p activation gelu``.

(``python -m linear_lens survey 02 --seeds 0:20`` runs chapters once per seed on Dask: see :mod:`linear_lens.book.survey`.)

Every chapter ``notebooks/NN_slug.md`` has one code cell tagged ``parameters`` whose first line is ``quick = False``;
its other lines are simple assignments ``name = literal``. The runner

1. finds the chapter by its number or slug and reads the defaults of its parameters cell;
2. checks each ``-p name value``: the name must be a parameter of the chapter, and the value is converted to the type
   of the default (``True``/``False`` for booleans, integers, floats, strings, lists as ``1,2,3`` or ``[1, 2, 3]``);
3. converts the chapter with jupytext and executes it with papermill into ``_build/executed/NN_slug.ipynb``;
4. writes the figures the chapter produced to ``_build/executed/NN_slug/`` and prints where everything is.

Reading the parameters cell, converting the values and checking them is :mod:`linear_lens.book.parameters`' job; a chapter
checks its values itself right after its parameters cell (with :func:`~linear_lens.book.parameters.check_choice` and
:func:`~linear_lens.book.parameters.check_range`), and the runner refuses what the chapter would refuse before a kernel
starts; a rejected value is reported as one line naming the parameter and what is allowed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from linear_lens.book.parameters import (
    ParameterError,
    check_choice,
    check_range,
    coerce,
    describe_check,
    describe_default,
    read_checks,
    read_parameters,
)

__all__ = [
    "Chapter",
    "chapters",
    "find_chapter",
    "run_chapter",
    "student_notebook",
    "write_student_notebooks",
    "glued_values",
    "glue_digest",
    "environment",
    "main",
    "ChapterError",
]

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_OUTPUT = REPO_ROOT / "_build" / "executed"


@dataclass(frozen=True)
class Chapter:
    """A chapter: its number (``"01"``), slug (``"pointwise_affine"``) and source path."""

    number: str
    slug: str
    path: Path

    @property
    def stem(self) -> str:
        return self.path.stem


def chapters(notebooks_dir: Path | None = None) -> list[Chapter]:
    """Return every chapter ``NN_slug.md`` in ``notebooks_dir`` (default: the repository's ``notebooks/``)."""
    root = Path(notebooks_dir) if notebooks_dir is not None else _notebooks_dir()
    found = []
    for path in sorted(root.glob("[0-9][0-9]_*.md")):
        number, slug = path.stem.split("_", 1)
        found.append(Chapter(number, slug, path))
    return found


def find_chapter(key: str, notebooks_dir: Path | None = None) -> Chapter:
    """Return the chapter whose number (``"1"``, ``"01"``), slug or ``NN_slug`` stem is ``key``."""
    available = chapters(notebooks_dir)
    key = str(key).strip().removesuffix(".md")
    for ch in available:
        if key in (ch.number, ch.slug, ch.stem) or (key.isdigit() and int(key) == int(ch.number)):
            return ch
    listing = ", ".join(f"{c.number} ({c.slug})" for c in available) or "none found"
    raise ParameterError(f"chapter: unknown chapter {key!r}; available: {listing}")


def run_chapter(
    key: str,
    parameters: dict[str, Any] | None = None,
    raw_parameters: Iterable[tuple[str, str]] = (),
    output_dir: Path | None = None,
    notebooks_dir: Path | None = None,
    progress: bool = True,
    env: dict[str, str] | None = None,
) -> tuple[Path, list[Path]]:
    """Execute a chapter with papermill and return ``(executed_notebook, figure_paths)``.

    ``parameters``: values by name (already typed); ``raw_parameters``: ``(name, string)`` pairs from the command
    line, converted with :func:`~linear_lens.book.parameters.coerce`; ``env``: environment variables for the chapter's kernel (for example
    ``{"MKL_ENABLE_INSTRUCTIONS": "AVX2"}``, or ``{"LINEAR_LENS_CLAIMS": "survey"}``). Unknown names raise
    :class:`ParameterError` listing the chapter's parameters. A cell that fails raises :class:`ChapterError` with the
    error's type and message. The chapter's claims (:mod:`linear_lens.book.claims`) are written next to the executed
    notebook, as ``NN_slug.claims.json``.
    """
    import jupytext
    import papermill

    chapter = find_chapter(key, notebooks_dir)
    defaults = read_parameters(chapter)
    values: dict[str, Any] = {}
    for name, raw in raw_parameters:
        values[name] = coerce(name, raw, defaults[name]) if name in defaults else raw
    values.update(parameters or {})
    unknown = [n for n in values if n not in defaults]
    if unknown:
        allowed = ", ".join(f"{n} (default {defaults[n]!r})" for n in defaults)
        raise ParameterError(f"parameter {unknown[0]}: not a parameter of chapter {chapter.number}; allowed: {allowed}")
    checks = read_checks(chapter)
    for name, value in values.items():  # refuse what the chapter would refuse, before a kernel starts
        if name in checks:
            check = checks[name]
            if check["kind"] == "choice":
                values[name] = check_choice(name, value, check["choices"])
            else:
                check_range(name, value, check["low"], check["high"], integer=check["integer"])
    out_dir = Path(output_dir) if output_dir is not None else DEFAULT_OUTPUT
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"output: {out_dir} is a file; give a folder (it is created if missing)")
    out_dir.mkdir(parents=True, exist_ok=True)
    source = out_dir / f"{chapter.stem}.source.ipynb"
    target = out_dir / f"{chapter.stem}.ipynb"
    jupytext.write(jupytext.read(chapter.path), source, fmt="ipynb")
    live = target.with_suffix(".claims.json")
    live.unlink(missing_ok=True)
    try:
        with _environment({"LINEAR_LENS_CLAIMS_FILE": str(live), **(env or {})}):
            papermill.execute_notebook(
                str(source),
                str(target),
                parameters=values,
                kernel_name="python3",
                cwd=str(chapter.path.parent),
                progress_bar=progress,
            )
    except papermill.PapermillExecutionError as err:
        _write_claims(target)
        raise ChapterError(chapter, err.ename, err.evalue, err.exec_count, target) from None
    finally:
        source.unlink(missing_ok=True)
    _write_claims(target)
    return target, _save_figures(target, out_dir / chapter.stem)


def student_notebook(key: str, notebooks_dir: Path | None = None):
    """Return the student version of a chapter: its notebook with every exercise solution removed.

    The text between ``{solution-start}`` and ``{solution-end}`` (and any cell in between) is dropped, the exercises
    stay, the chapter runs as it is, and a first cell says so. Returns an nbformat notebook (no outputs).
    """
    import jupytext
    import nbformat

    chapter = find_chapter(key, notebooks_dir)
    nb = jupytext.read(chapter.path)
    start = re.compile(r"^(```|:::)\{solution-start\}.*?$", re.M)
    end = re.compile(r"^(```|:::)\{solution-end\}[^\n]*\n?(```|:::)?[ \t]*$", re.M)
    cells, inside = [], False
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            if not inside:
                cells.append(cell)
            continue
        text, kept = cell.source, ""
        while text:
            if inside:
                m = end.search(text)
                if m is None:
                    text = ""
                    break
                text, inside = text[m.end():], False
            else:
                m = start.search(text)
                if m is None:
                    kept += text
                    break
                kept += text[:m.start()]
                text, inside = text[m.end():], True
        if kept.strip():
            cell.source = kept.rstrip() + "\n"
            cells.append(cell)
    if inside:
        raise ValueError(f"{chapter.path.name}: a solution-start without its solution-end")
    note = nbformat.v4.new_markdown_cell(
        f"*Student version of chapter {chapter.number}: the solutions of the exercises are removed.* "
        "It needs the package `linear_lens` (see *How to use this book*); run it top to bottom, then work the exercises.")
    nb.cells = [note, *cells]
    return nb


def write_student_notebooks(output_dir: Path, notebooks_dir: Path | None = None) -> list[Path]:
    """Write the student version (:func:`student_notebook`) of every chapter to ``output_dir/NN_slug.ipynb``."""
    import nbformat

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for chapter in chapters(notebooks_dir):
        path = output_dir / f"{chapter.stem}.ipynb"
        nbformat.write(student_notebook(chapter.number, notebooks_dir), str(path))
        paths.append(path)
    return paths


def glued_values(notebook) -> dict[str, str]:
    """Return the values an executed chapter glued, as ``{name: text}`` (their ``text/plain`` form; figures skipped).

    ``notebook``: an executed ``.ipynb`` (a path or an nbformat node), or the ``.glue.json`` file myst-nb writes beside
    the notebooks it executes.
    """
    import json

    import nbformat

    if not hasattr(notebook, "cells") and str(notebook).endswith(".glue.json"):
        outputs = json.loads(Path(notebook).read_text()).values()
    else:
        nb = notebook if hasattr(notebook, "cells") else nbformat.read(str(notebook), as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    values = {}
    for out in outputs:
        meta = out.get("metadata", {}).get("scrapbook")
        if not meta:
            continue
        data = out.get("data", {})
        text = data.get(meta.get("mime_prefix", "") + "text/plain", data.get("text/plain"))
        images = [k for k in data if "image/" in k]
        if text is not None and not images:
            values[meta["name"]] = text if isinstance(text, str) else "".join(text)
    return values


def glue_digest(notebook) -> str:
    """A SHA-256 digest (16 hex digits) of the values a chapter glued: equal digests, equal numbers in the prose.

    ``notebook`` as in :func:`glued_values`. Two runs of a chapter with the same parameters on the same machine give
    the same digest (the chapters are seeded); the book's reproducibility page lists each chapter's. The times a
    chapter measures (its run time, and timings named as :data:`linear_lens.book.claims.UNREPRODUCIBLE_GLUE` says) are
    left out.
    """
    import hashlib
    import json

    from linear_lens.book.claims import UNREPRODUCIBLE_GLUE

    values = {k: v for k, v in glued_values(notebook).items() if not UNREPRODUCIBLE_GLUE.match(k)}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def environment() -> dict[str, str]:
    """The versions of Python and of the packages the chapters compute with."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("linear-lens", "torch", "numpy", "scipy", "mpmath", "matplotlib", "jupyter-book", "myst-nb"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


class ChapterError(RuntimeError):
    """A chapter cell raised: carries the chapter, the exception's type and message, and the cell number."""

    def __init__(self, chapter: Chapter, ename: str, evalue: str, cell: int | None, notebook: Path | None = None):
        self.chapter, self.ename, self.evalue, self.cell, self.notebook = chapter, ename, evalue, cell, notebook
        where = f" (the partly executed notebook is {notebook})" if notebook is not None else ""
        super().__init__(f"chapter {chapter.number} failed in cell {cell}: {ename}: {evalue}{where}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (``python -m linear_lens``); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m linear_lens", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute a chapter with your own parameters")
    run.add_argument("chapter", help="chapter number or slug, e.g. 01 or pointwise_affine")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="set a parameter (repeatable); booleans take true/false, yes/no, on/off or 1/0, lists "
                          "'1,2,3' or '[1, 2, 3]'; 'python -m linear_lens list NN' shows what each allows")
    run.add_argument("-o", "--output", type=Path, default=None, help=f"output folder (default {DEFAULT_OUTPUT})")
    run.add_argument("--no-progress", action="store_true", help="hide papermill's progress bar")
    listing = sub.add_parser("list", help="list the chapters and their parameters")
    listing.add_argument("chapter", nargs="?", default=None)
    survey = sub.add_parser("survey", help="run chapters once per seed in survey mode, in parallel on Dask")
    survey.add_argument("chapters", nargs="+", help="chapter numbers or slugs, e.g. 02 09 (or 'all')")
    survey.add_argument("--seeds", default="0:20", help="seeds: 'a:b' (b excluded), 'n' or 'n1,n2' (default 0:20)")
    survey.add_argument("--quick", action="store_true", help="run the chapters in quick mode")
    survey.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="set a parameter for every run; repeat a name to survey several values")
    survey.add_argument("--workers", type=int, default=2, help="worker processes of the local Dask cluster")
    survey.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler (tcp://host:8786)")
    survey.add_argument("--threads-per-run", type=int, default=1, help="torch/BLAS threads in each run's kernel")
    survey.add_argument("-o", "--output", type=Path, default=REPO_ROOT / "_build" / "survey",
                        help="folder of the results (a re-run skips what is there)")
    student = sub.add_parser("student", help="write the student version of every chapter (solutions removed)")
    student.add_argument("-o", "--output", type=Path, default=REPO_ROOT / "_build" / "student")
    launch = sub.add_parser("launch", help="write every chapter as launch/NN_slug.ipynb for Binder and Colab")
    launch.add_argument("-o", "--output", type=Path, default=REPO_ROOT / "launch")
    args = parser.parse_args(argv)
    try:
        if args.command == "launch":
            from linear_lens.book.launch import write_launch_notebooks

            paths = write_launch_notebooks(args.output)
            print(f"{len(paths)} launch notebooks in {args.output}")
            return 0
        if args.command == "student":
            paths = write_student_notebooks(args.output)
            print(f"{len(paths)} student notebooks in {args.output}")
            return 0
        if args.command == "survey":
            return _survey(args)
        if args.command == "list":
            selected = [find_chapter(args.chapter)] if args.chapter else chapters()
            for ch in selected:
                checks = read_checks(ch)
                print(f"{ch.number}  {ch.slug}")
                for k, v in read_parameters(ch).items():
                    allowed = describe_check(checks[k]) if k in checks else describe_default(v)
                    print(f"    {k} = {v!r}: {allowed}")
            return 0
        notebook, figures = run_chapter(
            args.chapter, raw_parameters=args.parameter, output_dir=args.output, progress=not args.no_progress
        )
    except ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ChapterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2 if err.ename in ("ValueError", "ParameterError") else 1
    print(f"executed notebook: {notebook}")
    print(f"figures ({len(figures)}): {figures[0].parent if figures else 'none'}")
    return 0


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _environment(env: dict[str, str]):
    """Set environment variables for the kernel papermill starts (it inherits ours), restoring them afterwards."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({k: str(v) for k, v in env.items()})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _write_claims(notebook: Path) -> Path | None:
    """Write the claims a chapter reported (:func:`linear_lens.book.claims.report`) to ``NN_slug.claims.json`` beside it."""
    import json

    from linear_lens.book import claims

    data = claims.extract(notebook) if notebook.exists() else None
    if data is None:  # no report: the chapter stopped early, and the claims it made are already in the file
        return None
    path = notebook.with_suffix(".claims.json")
    path.write_text(json.dumps(data, indent=1))
    return path


def _survey(args) -> int:
    """The ``survey`` command: plan the runs, execute them on Dask, print the per-claim summary."""
    import itertools

    from linear_lens.book import survey

    keys = [c.number for c in chapters()] if args.chapters == ["all"] else args.chapters
    try:
        seeds = survey.parse_seeds(args.seeds)
    except ValueError as err:
        raise ParameterError(str(err)) from None
    grid: dict[str, list[Any]] = {}
    for name, raw in args.parameter:
        owner = next((c for c in map(find_chapter, keys) if name in read_parameters(c)), None)
        if owner is None:
            raise ParameterError(f"parameter {name}: not a parameter of chapters {', '.join(keys)}")
        grid.setdefault(name, []).append(coerce(name, raw, read_parameters(owner)[name]))
    sets = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())] or [{}]
    runs = survey.plan(keys, seeds, quick=args.quick, parameter_sets=sets)
    meta = survey.run_survey(runs, args.output, workers=args.workers, scheduler=args.scheduler,
                             threads_per_run=args.threads_per_run)
    rows = survey.load(args.output)
    print(f"{meta['runs']} runs ({meta['executed']} executed now, {meta['failed_runs']} failed) "
          f"in {meta['wall_seconds']} s on {meta['workers']} workers; table: {args.output / 'survey.csv'}")
    for claim_id, entry in sorted(survey.summary(rows).items()):
        flag = "" if entry["held"] == entry["seeds"] else "   <- not every seed"
        print(f"  {claim_id:<48} {entry['held']:>3}/{entry['seeds']:<3} {entry['verdict']}{flag}")
    for row in rows:
        if row["status"] != "ok" and not row["claim"]:
            print(f"  run {row['chapter']} seed {row['seed']} failed: {row['error']}")
    return 0


def _notebooks_dir() -> Path:
    for candidate in (REPO_ROOT / "notebooks", Path.cwd() / "notebooks"):
        if candidate.is_dir():
            return candidate
    raise ParameterError("chapter: no notebooks/ folder found next to the package or in the current folder")


def _save_figures(notebook: Path, folder: Path) -> list[Path]:
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("figure_*.png"):
        old.unlink()
    paths = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                path = folder / f"figure_{len(paths) + 1:02d}.png"
                path.write_bytes(base64.b64decode(data["image/png"]))
                paths.append(path)
    return paths
