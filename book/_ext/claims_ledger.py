"""Sphinx extension: the claims ledger, a table of every claim the chapters check, generated at build time.

- While a chapter is read, the claims its last cell reported (:func:`linear_lens.book.claims.report`) are taken from the
  notebook myst-nb executed (``_build/jupyter_execute/notebooks/NN_slug.ipynb``) and written beside it as
  ``NN_slug.claims.json``; the code cell that checked each claim gets the anchor ``claim-<id>`` so that the ledger
  can link to the evidence. An id that two cells recorded is a build warning.
- Rows of the errata tables whose first cell is an erratum id (``E02.1``) get the anchor ``erratum-e02-1``.
- The directive ``{claims-ledger}`` (in ``book/claims.md``) is replaced by the table, grouped by seed, with counts,
  and a robustness column read from the committed survey (``book/survey/survey.csv`` and ``meta.json``, written by
  ``python -m linear_lens survey``).
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
import subprocess
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LEDGER_KEY = "ll_claims"
logger = logging.getLogger(__name__)
SEEDS = (("Drgona", "Drgoňa et al. (2020)"), ("Anguita", "Anguita (2024)"), ("Clark", "Clark (2026)"))
VERDICTS = ("confirmed", "refuted", "corrected", "beyond")
_ERRATUM = re.compile(r"^E\d\d\.\d+$")


class ledger_placeholder(nodes.General, nodes.Element):
    """Replaced by the ledger table once every chapter has been read."""


class ClaimsLedger(SphinxDirective):
    has_content = False

    def run(self):
        return [ledger_placeholder()]


def anchor(claim_id: str) -> str:
    return "claim-" + re.sub(r"[^a-z0-9]+", "-", claim_id.lower()).strip("-")


def erratum_anchor(erratum: str) -> str:
    return "erratum-" + re.sub(r"[^a-z0-9]+", "-", erratum.lower()).strip("-")


def _read_chapter(app, doctree):
    env = app.env
    docname = env.docname
    if docname.startswith("book/errata"):
        _anchor_errata(doctree)
    if not docname.startswith("notebooks/"):
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{docname}.ipynb"
    if not executed.exists():
        return
    from linear_lens.book import claims

    data = claims.extract(executed)
    store = getattr(env, LEDGER_KEY, {})
    if data is None:
        store.pop(docname, None)
        setattr(env, LEDGER_KEY, store)
        return
    # the chapter's claims as a sidecar next to the executed notebook, as `python -m linear_lens run` writes them
    executed.with_suffix(".claims.json").write_text(json.dumps(data, indent=1))
    if data.get("overwritten"):
        logger.warning(f"{docname}: claim ids recorded by more than one cell: {', '.join(data['overwritten'])}",
                       location=docname)
    cells = {}
    for node in doctree.findall(nodes.container):
        if node.get("nb_element") == "cell_code" and node.get("exec_count") is not None:
            cells.setdefault(node["exec_count"], node)
    title = next(iter(doctree.findall(nodes.title)), None)
    rows = []
    for c in data["claims"]:
        node = cells.get(c.get("cell"))
        section = ""
        target = ""
        if node is not None:
            target = anchor(c["id"])
            node["ids"].append(target)
            parent = node.parent
            while parent is not None and not isinstance(parent, nodes.section):
                parent = parent.parent
            if parent is not None:
                heading = next(iter(parent.findall(nodes.title)), None)
                section = heading.astext() if heading is not None else ""
        rows.append({**c, "anchor": target, "section": section})
    store[docname] = {"title": title.astext() if title is not None else docname, "claims": rows,
                      "parameters": data.get("parameters", {}), "seed": data.get("seed")}
    setattr(env, LEDGER_KEY, store)


def _anchor_errata(doctree):
    for row in doctree.findall(nodes.row):
        entries = [e for e in row.children if isinstance(e, nodes.entry)]
        if entries and _ERRATUM.match(entries[0].astext().strip()):
            row["ids"].append(erratum_anchor(entries[0].astext().strip()))


def _purge(app, env, docname):
    getattr(env, LEDGER_KEY, {}).pop(docname, None)


def _merge(app, env, docnames, other):
    store = getattr(env, LEDGER_KEY, {})
    store.update({d: v for d, v in getattr(other, LEDGER_KEY, {}).items() if d in docnames})
    setattr(env, LEDGER_KEY, store)


def _outdated(app, env, added, changed, removed):
    """The ledger page is rebuilt whenever anything is: its content comes from every chapter."""
    return [d for d in env.found_docs if d.endswith("book/claims")]


def _resolve(app, doctree, docname):
    for placeholder in list(doctree.findall(ledger_placeholder)):
        raw = nodes.raw("", _ledger_html(app, docname), format="html")
        placeholder.replace_self(raw)


def _group(source: str) -> str:
    source = unicodedata.normalize("NFKD", source).encode("ascii", "ignore").decode()  # Drgoňa or Drgona
    for key, label in SEEDS:
        if source.startswith(key):
            return label
    return "This book"


def _survey(app):
    folder = Path(app.srcdir) / "book" / "survey"
    table, meta = folder / "survey.csv", folder / "meta.json"
    if not (table.exists() and meta.exists()):
        return None, None
    from linear_lens.book import survey

    return survey.summary(survey.load(table)), json.loads(meta.read_text())


def _last_change(app) -> str | None:
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%cI", "--", "notebooks", "src"], cwd=app.srcdir,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _ledger_html(app, docname: str) -> str:
    store = getattr(app.env, LEDGER_KEY, {})
    builder = app.builder
    robust, meta = _survey(app)
    groups: dict[str, list[dict]] = {}
    for chapter in sorted(store):
        for c in store[chapter]["claims"]:
            groups.setdefault(_group(c["source"]), []).append({**c, "doc": chapter, "title": store[chapter]["title"]})
    order = [label for _, label in SEEDS] + ["This book"]
    out = []
    total = sum(len(v) for v in groups.values())
    out.append(f"<p>{total} claims are checked in {len(store)} chapters.</p>")
    summary_rows = []
    for label in order:
        claims = groups.get(label, [])
        if not claims:
            continue
        counts = {v: sum(c["verdict"] == v for c in claims) for v in VERDICTS}
        summary_rows.append("<tr>" + f"<td>{html.escape(label)}</td><td>{len(claims)}</td>" +
                            "".join(f"<td>{counts[v]}</td>" for v in VERDICTS) + "</tr>")
    out.append("<table class='claims-counts docutils'><thead><tr><th>seed</th><th>claims</th>" +
               "".join(f"<th>{v}</th>" for v in VERDICTS) + "</tr></thead><tbody>" + "".join(summary_rows) +
               "</tbody></table>")
    if meta is not None:
        changed = _last_change(app)
        computed = meta.get("computed") or meta["date"]   # when the runs were executed, not when summarised
        note = (f"Robustness: the committed survey ran {meta['runs']} chapter executions over seeds "
                f"{min(meta['seeds'])}–{max(meta['seeds'])}, the last of them on {html.escape(str(computed))} "
                f"(package version {html.escape(str(meta['version']))}, {meta.get('total_wall_seconds', meta['wall_seconds'])} s on "
                f"{html.escape(str(meta['workers']))} workers).")
        modes = meta.get("modes") or {}
        quick = [ch for ch, mode in sorted(modes.items()) if mode == "quick"]
        full = [ch for ch, mode in sorted(modes.items()) if mode == "full"]
        if full and quick:
            note += (f" Chapters {', '.join(full)} ran at full size, chapters {', '.join(quick)} (long ones) in "
                     f"quick mode; the column marks the latter.")
        elif quick:
            note += " Every chapter ran in quick mode."
        if changed and changed > computed:
            note += (f" <strong>The chapters or the package changed after the survey ({html.escape(changed)}): "
                     f"its column may be out of date.</strong>")
        out.append(f"<p>{note}</p>")
    else:
        out.append("<p>No survey has been committed yet: the robustness column is empty.</p>")
    errata = "book/errata"
    for label in order:
        claims = groups.get(label, [])
        if not claims:
            continue
        out.append(f"<h2 id='ledger-{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')}'>{html.escape(label)}</h2>")
        out.append("<table class='claims-ledger docutils'><thead><tr><th>claim</th><th>where in the seed</th>"
                   "<th>what it says</th><th>verdict</th><th>erratum</th><th>robustness</th></tr></thead><tbody>")
        for c in claims:
            uri = builder.get_relative_uri(docname, c["doc"]) + (f"#{c['anchor']}" if c["anchor"] else "")
            where = html.escape(c["title"] + (f" › {c['section']}" if c["section"] else ""))
            link = f"<a href='{uri}' title='{where}'><code>{html.escape(c['id'])}</code></a>"
            ids = c.get("erratum") or []
            ids = [ids] if isinstance(ids, str) else ids
            base = builder.get_relative_uri(docname, errata)
            err = ", ".join(f"<a href='{base}#{erratum_anchor(e)}'>{html.escape(e)}</a>" for e in ids)
            rob = "not surveyed"
            if robust is not None and c["id"] in robust:
                r = robust[c["id"]]
                rob = f"{r['held']}/{r['seeds']} seeds" + (" (quick)" if r["quick"] else "")
            verdict = html.escape(c["verdict"]) + ("" if c["holds"] else " <strong>(failed)</strong>")
            out.append("<tr>" + "".join(f"<td>{x}</td>" for x in (
                link, html.escape(c["source"]), html.escape(c["says"]), verdict, err, rob)) + "</tr>")
        out.append("</tbody></table>")
    return "\n".join(out)


def setup(app):
    app.add_node(ledger_placeholder)
    app.add_directive("claims-ledger", ClaimsLedger)
    app.connect("doctree-read", _read_chapter)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _outdated)
    app.connect("doctree-resolved", _resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
