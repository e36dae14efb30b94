"""Sphinx extension: offer each chapter's executed notebook (.ipynb) in the page's download menu, and student versions.

sphinx-book-theme adds the ``.ipynb`` entry only when a launch service (Binder, JupyterHub, ...) is configured; this
book is read offline, so we copy the notebook that myst-nb executed into ``_sources/`` and tell the theme about it.
When the build finishes, the student version of every chapter (:func:`linear_lens.book.runner.write_student_notebooks`,
solutions removed) is written to ``student/NN_slug.ipynb`` in the site, where the teaching page links to it.
Each chapter page also gets a "launch" menu with Binder and Colab links to the chapter's launch notebook
(:mod:`linear_lens.book.launch`: ``launch/NN_slug.ipynb`` in the repository named by ``linear_lens_repository``).
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


def _add_launch_links(app, pagename, templatename, context, doctree):
    if not pagename.startswith("notebooks/") or "header_buttons" not in context:
        return
    from linear_lens.book import launch

    links = launch.launch_links(Path(pagename).name, app.config.linear_lens_repository, app.config.linear_lens_ref)
    icons = {"Binder": "_static/images/logo_binder.svg", "Colab": "_static/images/logo_colab.png"}
    buttons = [{"type": "link", "text": name, "tooltip": f"Launch on {name}", "icon": icons[name], "url": url}
               for name, url in links.items()]
    context["header_buttons"].append({"type": "group", "tooltip": "Launch this chapter", "icon": "fas fa-rocket",
                                      "buttons": buttons, "label": "launch-buttons"})


def _student_versions(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    from linear_lens.book import runner

    runner.write_student_notebooks(Path(app.outdir) / "student", Path(app.srcdir) / "notebooks")


def setup(app):
    from linear_lens.book import launch

    app.add_config_value("linear_lens_repository", launch.REPOSITORY, "html")
    app.add_config_value("linear_lens_ref", launch.REF, "html")
    app.connect("html-page-context", _add_launch_links, priority=510)
    app.connect("build-finished", _student_versions)
    # before sphinx-book-theme builds its header buttons (priority 501)
    app.connect("html-page-context", _add_ipynb_download, priority=450)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
