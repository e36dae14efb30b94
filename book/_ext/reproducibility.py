"""Sphinx extension: the reproducibility page, generated at build time.

The directive ``{reproducibility-table}`` (in ``book/reproducibility.md``) becomes a table with one row per chapter:
its execution time in this build, its parameters and seed (from the claims report of its last cell), the number of
values it glued into the prose and a digest of them (:func:`linear_lens.book.runner.glue_digest`), and, above the table,
the versions of Python and of the packages the book was built with (:func:`linear_lens.book.runner.environment`).
Two builds that glue the same numbers show the same digests.
"""

from __future__ import annotations

import html
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


class reproducibility_placeholder(nodes.General, nodes.Element):
    """Replaced by the table once every chapter has been read."""


class ReproducibilityTable(SphinxDirective):
    has_content = False

    def run(self):
        return [reproducibility_placeholder()]


def _outdated(app, env, added, changed, removed):
    return [d for d in env.found_docs if d.endswith("book/reproducibility")]


def _resolve(app, doctree, docname):
    placeholders = list(doctree.findall(reproducibility_placeholder))
    if not placeholders:
        return
    from myst_nb.sphinx_ import NbMetadataCollector

    from linear_lens.book import claims, runner

    executed = Path(app.outdir).parent / "jupyter_execute"
    env = runner.environment()
    rows = []
    for doc in sorted(d for d in app.env.found_docs if d.startswith("notebooks/")):
        nb, glue = executed / f"{doc}.ipynb", executed / f"{doc}.glue.json"
        exec_data = NbMetadataCollector.get_exec_data(app.env, doc) or {}
        runtime = exec_data.get("runtime")
        report = claims.extract(nb) if nb.exists() else None
        params = dict(report["parameters"]) if report else {}
        seed = report.get("seed") if report else None
        values = runner.glued_values(glue) if glue.exists() else {}
        digest = runner.glue_digest(glue) if glue.exists() else "—"
        uri = app.builder.get_relative_uri(docname, doc)
        title = app.env.titles[doc].astext() if doc in app.env.titles else doc
        shown = ", ".join(f"{k} = {v}" for k, v in params.items() if k not in ("seed",)) or "—"
        rows.append("<tr>" + "".join(f"<td>{x}</td>" for x in (
            f"<a href='{uri}'>{html.escape(title)}</a>",
            f"{runtime:.1f} s" if isinstance(runtime, (int, float)) else "cached",
            html.escape(shown),
            "—" if seed is None else html.escape(str(seed)),
            str(len(values)),
            f"<code>{html.escape(digest)}</code>",
        )) + "</tr>")
    versions = ", ".join(f"{html.escape(k)} {html.escape(v)}" for k, v in env.items())
    table = ("<p>Built with " + versions + ".</p>"
             "<table class='reproducibility docutils'><thead><tr><th>chapter</th><th>run time</th><th>parameters</th>"
             "<th>seed</th><th>glued values</th><th>digest of the glued values</th></tr></thead><tbody>"
             + "".join(rows) + "</tbody></table>")
    for placeholder in placeholders:
        placeholder.replace_self(nodes.raw("", table, format="html"))


def setup(app):
    app.add_node(reproducibility_placeholder)
    app.add_directive("reproducibility-table", ReproducibilityTable)
    app.connect("env-get-outdated", _outdated)
    app.connect("doctree-resolved", _resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
