"""One figure style for the whole book.

Seaborn's ``ticks`` theme with the Okabe-Ito palette (distinguishable under the common
colour-vision deficiencies), an opaque white figure background so that figures stay
legible as light "cards" on the theme's dark mode, and vector (SVG) output in notebooks.
"""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import seaborn as sns

__all__ = ["PALETTE", "use_book_style", "sequential_cmap"]

#: Okabe & Ito (2008) colour-blind-safe palette, black omitted (it is the text colour).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def sequential_cmap() -> str:
    """A perceptually uniform, colour-blind-safe sequential colormap.

    Returns
    -------
    str
        The colormap's matplotlib name (``"cividis"``).
    """
    return "cividis"


def use_book_style() -> None:
    """Apply the book's style to matplotlib (and SVG output when running under IPython).

    Seaborn's ``ticks`` theme with :data:`PALETTE`, white backgrounds, light grids, the
    :func:`sequential_cmap` colormap and constrained layout; in a Jupyter kernel, inline SVG figures.
    Every open figure is closed.

    Returns
    -------
    None
    """
    sns.set_theme(context="notebook", style="ticks", palette=PALETTE, font_scale=0.95)
    mpl.rcParams.update({
        "figure.facecolor": "white",
        "axes.facecolor": "white",
        "savefig.facecolor": "white",
        "figure.figsize": (6.4, 4.0),
        "figure.dpi": 100,
        "savefig.dpi": 200,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "image.cmap": sequential_cmap(),
        "svg.fonttype": "path",
        "legend.frameon": False,
        "figure.constrained_layout.use": True,
    })
    try:  # inline vector output in notebooks (even if MPLBACKEND says otherwise); harmless elsewhere
        from IPython import get_ipython
        shell = get_ipython()
        if shell is not None and "IPKernelApp" in getattr(shell, "config", {}):
            shell.run_line_magic("matplotlib", "inline")
            from matplotlib_inline.backend_inline import set_matplotlib_formats
            set_matplotlib_formats("svg")
    except ImportError:  # pragma: no cover - IPython is part of the book's requirements
        pass
    plt.close("all")
