"""Sphinx extension: small fixes to the pages the theme produces.

- Inline scripts registered twice (sphinx-thebe's and sphinx-togglebutton's configuration, added once per
  ``env-before-read-docs``) are emitted once: twice, ``const THEBE_JS_URL`` throws a ``SyntaxError`` on every page.
- The execution-status table's check mark (an emoji, an empty box without an emoji font) becomes the word "ok".
"""

from docutils import nodes


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {}) or {}
        filename = (getattr(script, "filename", None) or None) if hasattr(script, "filename") else str(script)
        key = (filename, tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique


def _plain_marks(app, doctree, docname):
    for text in list(doctree.findall(nodes.Text)):
        if "\u2705" in text or "\u274c" in text:
            text.parent.replace(text, nodes.Text(str(text).replace("\u2705", "ok").replace("\u274c", "failed")))


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("doctree-resolved", _plain_marks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
