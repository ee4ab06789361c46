"""One figure style for the whole book.

Seaborn's ``ticks`` theme with the Okabe-Ito palette (distinguishable under the common
colour-vision deficiencies), an opaque white figure background so that figures stay
legible as light "cards" on the theme's dark mode, and vector (SVG) output in notebooks.

Every chapter figure is shown with :func:`show_figure`, which refuses (``ValueError``) a figure
whose text would be smaller than :data:`MIN_TEXT_PT` once the page has scaled it to the text column
(:data:`CONTENT_WIDTH_PX`), or whose legend covers data; ``tools/lint_chapters.py`` reports any
chapter that shows a figure without it.
"""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.collections import LineCollection, PathCollection, PolyCollection, QuadMesh
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

__all__ = ["PALETTE", "CONTENT_WIDTH_PX", "MIN_TEXT_PT", "use_book_style", "sequential_cmap", "show_figure"]

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


#: The width in CSS px of a chapter's text column in the built HTML book, the widest a figure is shown
#: (an SVG wider than this is scaled down to it, ``max-width: 100%``). Measured with Playwright and
#: Debian's chromium 156 (headless, the flags of tests/test_browser.py) in a 1400 x 900 px window on
#: chapters/02_attention_posterior_mean.html (sphinx-book-theme 1.3.0, pydata-sphinx-theme 0.17.1, as
#: pinned in requirements.txt): the figure's ``img`` (``figure img``, natural width 875 px) is shown
#: 768 px wide; ``article.bd-article`` is 848 px with 32 px padding on each side (784 px of text,
#: the paragraphs' width) and the ``figure`` inside it has 8 px padding, so 784 - 2 * 8 = 768.
CONTENT_WIDTH_PX = 768

#: The smallest text size (pt) a figure may show once the page has scaled it to the text column.
MIN_TEXT_PT = 8.0

_CSS_PX_PER_INCH = 96  # an inline SVG figure is (width in inches) * 72 pt = * 96 CSS px wide
_MAX_LISTED = 6  # offending texts named in one error message


def _page_scale(fig: Figure) -> float:
    """The factor by which the page shrinks ``fig``'s SVG to fit the text column (1: shown at natural size)."""
    return min(1.0, CONTENT_WIDTH_PX / (fig.get_figwidth() * _CSS_PX_PER_INCH))


def _describe(fig: Figure) -> str:
    """The figure, named by its suptitle and its first axes' title and labels (for error messages)."""
    parts = []
    if fig.get_suptitle():
        parts.append(f"suptitle {fig.get_suptitle()!r}")
    if fig.axes:
        ax = fig.axes[0]
        title = ax.get_title() or ax.get_title("left") or ax.get_title("right")
        for what, text in (("title", title), ("xlabel", ax.get_xlabel()), ("ylabel", ax.get_ylabel())):
            if text:
                parts.append(f"{what} {text!r}")
    return "figure (first axes: " + (", ".join(parts) if parts else "no title or labels") + ")"


def _drawn_texts(fig: Figure) -> list[tuple[str, float]]:
    """Every non-empty text line the figure draws, with its font size in points.

    The figure is drawn once onto a private Agg renderer whose text calls are recorded, so that
    exactly what is drawn counts: tick labels of ticks inside the view, legends, titles,
    annotations, suptitles and colorbar labels, never a hidden or empty text.
    """
    from matplotlib.backends.backend_agg import RendererAgg

    width, height = fig.get_size_inches() * fig.dpi
    renderer = RendererAgg(int(np.ceil(width)), int(np.ceil(height)), fig.dpi)
    drawn: list[tuple[str, float]] = []

    def record(draw):
        def recorded(gc, x, y, s, prop, angle, *args, **kwargs):
            if str(s).strip() and gc.get_alpha() != 0:
                drawn.append((str(s), float(prop.get_size_in_points())))
            return draw(gc, x, y, s, prop, angle, *args, **kwargs)
        return recorded

    renderer.draw_text = record(renderer.draw_text)
    renderer.draw_tex = record(renderer.draw_tex)
    fig.draw(renderer)
    return drawn


def _small_texts(fig: Figure) -> list[str]:
    """Check (a): the texts smaller than :data:`MIN_TEXT_PT` as the page shows them."""
    scale = _page_scale(fig)
    small: dict[tuple[str, float], None] = {}
    for text, size in _drawn_texts(fig):
        if size * scale < MIN_TEXT_PT - 1e-9:
            small.setdefault((text, size), None)
    if not small:
        return []
    width = fig.get_figwidth()
    how = (f"the {width:.2f}-in figure ({width * _CSS_PX_PER_INCH:.0f} px) is scaled to {scale:.2f} of its size "
           f"by the {CONTENT_WIDTH_PX}-px text column" if scale < 1 else "the figure is shown at its natural size")
    listed = sorted(small, key=lambda item: item[1])
    named = ", ".join(f"{text!r} ({size:.1f} pt -> {size * scale:.1f} pt)" for text, size in listed[:_MAX_LISTED])
    more = f" and {len(listed) - _MAX_LISTED} more" if len(listed) > _MAX_LISTED else ""
    return [f"text smaller than {MIN_TEXT_PT:g} pt on the page ({how}): {named}{more}; "
            "make the figure narrower (rearrange its panels) or its fonts larger"]


def _visible(artist) -> bool:
    return artist.get_visible() and artist.get_alpha() != 0


def _clip_box(artist, box: Bbox) -> Bbox | None:
    """``box`` limited to where ``artist`` can draw (its clip box), or None when they do not meet."""
    clip = artist.get_clip_box() if artist.get_clip_on() else None
    return box if clip is None else Bbox.intersection(box, clip)


def _inside(points: np.ndarray, box: Bbox) -> bool:
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    return bool(np.any((points[:, 0] > box.x0) & (points[:, 0] < box.x1)
                       & (points[:, 1] > box.y0) & (points[:, 1] < box.y1)))


def _artist_name(artist) -> str:
    label = str(artist.get_label() or "")
    kind = type(artist).__name__
    return f"{kind} {label!r}" if label and not label.startswith("_") else kind


def _drawn_within(artists, box: Bbox):
    """``(artist, where)`` for each visible artist that can draw inside ``box``; ``where`` is the part of
    ``box`` its clip box leaves."""
    for artist in artists:
        if _visible(artist):
            where = _clip_box(artist, box)
            if where is not None:
                yield artist, where


def _covered_data(ax, box: Bbox) -> str | None:
    """The first data artist of ``ax`` with a point inside ``box`` (display px), named; None if none."""
    if not ax.get_visible():
        return None
    has_image = any(_visible(image) for image in ax.images) or any(
        _visible(c) and isinstance(c, (QuadMesh, ContourSet)) for c in ax.collections)
    if has_image and Bbox.intersection(box, ax.bbox) is not None:
        return "an image or colour mesh (a legend inside a heat map always covers data)"
    for line, where in _drawn_within(ax.lines, box):
        xy = line.get_transform().transform(line.get_xydata())
        if line.get_marker() not in (None, "None", "none", "", " ") and _inside(xy[np.isfinite(xy).all(1)], where):
            return _artist_name(line) + " (a marker)"
        drawn_line = line.get_linestyle() not in ("None", "none", "", " ") and line.get_linewidth() > 0
        if drawn_line and line.get_transform().transform_path(line.get_path()).intersects_bbox(where, filled=False):
            return _artist_name(line)
    for collection, where in _drawn_within(ax.collections, box):
        if isinstance(collection, PathCollection):  # scatter: one marker per offset
            offsets = collection.get_offset_transform().transform(collection.get_offsets())
            if _inside(offsets[np.isfinite(offsets).all(1)], where):
                return _artist_name(collection) + " (a scatter point)"
        elif isinstance(collection, (LineCollection, PolyCollection)):  # error bars, vlines; filled bands
            filled = isinstance(collection, PolyCollection)
            transform = collection.get_transform()
            if any(transform.transform_path(path).intersects_bbox(where, filled=filled)
                   for path in collection.get_paths()):
                return _artist_name(collection)
    # bars and other data patches (the axes background is ax.patch, not here)
    for patch, where in _drawn_within(ax.patches, box):
        if patch.get_transform().transform_path(patch.get_path()).intersects_bbox(where, filled=patch.get_fill()):
            return _artist_name(patch)
    return None


def _covering_legends(fig: Figure) -> list[str]:
    """Check (b): legends whose box (shrunk by 1 px) holds data of any axes of the figure."""
    fig.canvas.draw()
    legends = [ax.get_legend() for ax in fig.axes] + list(fig.legends)
    problems = []
    for legend in legends:
        if legend is None or not legend.get_visible():
            continue
        extent = legend.get_window_extent()
        box = Bbox.from_extents(extent.x0 + 1, extent.y0 + 1, extent.x1 - 1, extent.y1 - 1)
        if box.width <= 0 or box.height <= 0:
            continue
        for ax in fig.axes:
            covered = _covered_data(ax, box)
            if covered is not None:
                labels = [text.get_text() for text in legend.get_texts()][:3]
                owner = "the axes" if legend in fig.legends else f"axes {legend.axes.get_title()!r}"
                target = ax.get_title() or ax.get_ylabel() or "(untitled)"
                problems.append(f"the legend of {owner} (entries {labels}) covers data of axes {target!r}: "
                                f"{covered}; move it outside the axes (loc='upper left', bbox_to_anchor=(1.02, 1), "
                                "or below them) or into an empty corner")
                break
    return problems


def show_figure(fig=None) -> None:
    """Check a figure for legibility on the book's page, then show it (``plt.show()``).

    Two checks, and a ``ValueError`` naming the figure and what fails, so that a chapter cell that
    shows a failing figure fails the book build:

    * every drawn text (tick labels, axis labels, titles, legends, annotations, suptitle, colorbar
      labels) is at least :data:`MIN_TEXT_PT` on the page: its size in points times
      ``min(1, CONTENT_WIDTH_PX / (width in inches * 96))``, the scale at which the page shows the
      figure's SVG (natural size, 96 CSS px per inch, unless wider than the text column);
    * no legend covers data: its box, shrunk by 1 px, holds no vertex or segment of a visible line
      (error bars and markers included), no scatter point, no part of a bar or filled patch, and
      does not overlap an axes that shows an image or colour mesh. Legends outside the axes pass.

    Parameters
    ----------
    fig : matplotlib.figure.Figure, optional
        The figure to check (default: the current figure).

    Returns
    -------
    None

    Raises
    ------
    TypeError
        If ``fig`` is neither None nor a matplotlib Figure.
    ValueError
        If the figure fails a check.
    """
    if fig is None:
        fig = plt.gcf()
    if not isinstance(fig, Figure):
        raise TypeError(f"show_figure: fig must be a matplotlib Figure or None, not {type(fig).__name__}")
    problems = _small_texts(fig) + _covering_legends(fig)
    if problems:
        raise ValueError(f"show_figure: {_describe(fig)} is not legible on the book's page: " + "; ".join(problems))
    plt.show()
