"""Sphinx extension: offer each chapter's executed notebook (.ipynb) in the page's download menu, and student versions.

sphinx-book-theme adds the ``.ipynb`` entry only when a launch service (Binder, JupyterHub, ...) is configured; this
book is read offline, so we copy the notebook that myst-nb executed into ``_sources/`` and tell the theme about it.
When the build finishes, the student version of every chapter (:func:`linear_lens.runner.write_student_notebooks`,
solutions removed) is written to ``student/NN_slug.ipynb`` in the site, where the teaching page links to it.
"""

from pathlib import Path
from shutil import copy2


def _add_ipynb_download(app, pagename, templatename, context, doctree):
    if not str(context.get("sourcename", "")).endswith((".md", ".md.txt")):
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.exists():
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def _student_versions(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    from linear_lens import runner

    runner.write_student_notebooks(Path(app.outdir) / "student", Path(app.srcdir) / "notebooks")


def setup(app):
    app.connect("build-finished", _student_versions)
    # before sphinx-book-theme builds its header buttons (priority 501)
    app.connect("html-page-context", _add_ipynb_download, priority=450)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
