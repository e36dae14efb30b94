"""Plot helpers shared by chapters: regions of the complex plane, and other reusable figure parts.

Each chapter keeps its own figure code short by calling these; nothing here computes results.
"""
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
