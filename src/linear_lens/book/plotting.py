"""What chapters show, shared: regions of the complex plane in figures, and HTML tables with CSV download links.

Each chapter keeps its own figure and table code short by calling these; nothing here computes results.
"""

from __future__ import annotations

from typing import Sequence


# --- complex-plane regions (chapter 4, constrained spectra) ---------------------------------------------------


def draw_annulus(ax, r_out, r_in=0.0, centre=0.0, **kwargs):
    r"""Outline the annulus $r_{\text{in}} \le |z - c| \le r_{\text{out}}$ on a complex-plane axis (a circle if ``r_in = 0``).

    ``centre`` $= c$ is a real or complex number; ``kwargs`` go to ``ax.plot`` (the ``label`` to the outer circle only).
    Returns the list of line artists.
    """
    import numpy as _np

    t = _np.linspace(0.0, 2.0 * _np.pi, 721)
    c = complex(centre)
    lines = []
    for r in [r_out] + ([r_in] if r_in > 0 else []):
        lines += ax.plot(c.real + r * _np.cos(t), c.imag + r * _np.sin(t), **kwargs)
        kwargs.pop("label", None)
    return lines


def draw_region(ax, region, **kwargs):
    """Draw a :class:`linear_lens.spectral_promises.Region` on a complex-plane axis: a thick segment or an annulus.

    The annulus is drawn as its outline. ``kwargs`` go to ``ax.plot``. Returns the list of line artists.
    """
    if region.kind == "segment":
        style = {"lw": 4, "alpha": 0.6, "zorder": 2, **kwargs}
        return ax.plot([region.lo, region.hi], [0.0, 0.0], **style)
    return draw_annulus(ax, region.r_out, region.r_in, region.centre, **kwargs)


# --- tables (chapter 7, the model sweep) -------------------------------------------------------------------------------


def html_table(rows: Sequence[dict], columns: Sequence[str] | None = None, *, digits: int = 4) -> str:
    r"""Render rows (dicts) as a plain HTML table: ``columns`` in order (default: the first row's keys).

    Floats are shown with ``digits`` significant digits; text is escaped. For the chapters' summary tables.
    """
    import html

    if not rows:
        raise ValueError("rows: need at least one row")
    columns = list(rows[0]) if columns is None else list(columns)

    def cell(v):
        if isinstance(v, float):
            return f"{v:.{digits}g}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c, ''))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table class='sweep-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def csv_download(text: str, filename: str, label: str) -> str:
    r"""An HTML link that downloads ``text`` as the file ``filename`` (a ``data:`` URI: no server, works offline)."""
    import base64
    import html

    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return (f"<a download='{html.escape(filename)}' href='data:text/csv;base64,{data}'>"
            f"{html.escape(label)}</a>")
