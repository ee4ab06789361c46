"""The book's figure style, and the legibility check every chapter figure passes (show_figure)."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

import ebcore
from ebcore.book import style


def test_book_style_sets_the_palette():
    import matplotlib as mpl
    ebcore.use_book_style()
    colours = [mpl.colors.to_hex(c) for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"]]
    assert colours[:3] == [c.lower() for c in ebcore.PALETTE[:3]]


@pytest.fixture
def book_style():
    ebcore.use_book_style()
    yield
    plt.close("all")


def _four_panels(width: float, height: float = 3.6):
    fig, axes = plt.subplots(1, 4, figsize=(width, height))
    x = np.linspace(0.0, 1.0, 50)
    for k, ax in enumerate(axes):
        ax.plot(x, x ** (k + 1))
        ax.set(title=f"panel {k}", xlabel="x", ylabel="y")
    return fig


def test_show_figure_is_exported():
    assert ebcore.book.show_figure is style.show_figure


def test_a_wide_figure_with_default_tick_labels_fails(book_style):
    fig = _four_panels(14)
    # 14 in = 1,344 px, scaled to the text column: the default 10.45-pt tick labels end below 8 pt
    assert 10.45 * style.CONTENT_WIDTH_PX / (14 * 96) < style.MIN_TEXT_PT
    with pytest.raises(ValueError, match=r"panel 0.*smaller than 8 pt.*'0\.0'"):
        style.show_figure(fig)


def test_the_same_figure_at_a_width_that_fits_passes(book_style):
    fig = _four_panels(style.CONTENT_WIDTH_PX / 96, 3.2)
    style.show_figure(fig)  # shown at natural size: every text keeps its size (>= 8 pt)


def test_an_explicitly_small_font_fails_even_at_natural_size(book_style):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("tiny label", fontsize=7)
    with pytest.raises(ValueError, match="tiny label"):
        style.show_figure(fig)


def test_a_hidden_or_empty_text_is_not_checked(book_style):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    ax.text(0.5, 0.5, "hidden", fontsize=4).set_visible(False)
    ax.set_title("", fontsize=4)
    style.show_figure(fig)


def _line_figure():
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.linspace(0.0, 1.0, 200)
    ax.plot(x, 1.0 - x, label="falling")  # a diagonal from the upper left to the lower right
    ax.set(title="one line", xlim=(0, 1), ylim=(0, 1))
    return fig, ax


def test_a_legend_on_top_of_a_line_fails(book_style):
    fig, ax = _line_figure()
    ax.legend(loc="upper left")  # the line starts at (0, 1): right under the legend
    with pytest.raises(ValueError, match=r"one line.*legend.*covers data.*falling"):
        style.show_figure(fig)


def test_a_legend_over_a_line_segment_without_vertices_fails(book_style):
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([0, 1], [0.5, 0.5], label="level")  # two vertices, both far from the legend
    ax.set(xlim=(0, 1), ylim=(0, 1), title="a level line")
    ax.legend(loc="center")
    with pytest.raises(ValueError, match="covers data"):
        style.show_figure(fig)


def test_a_legend_in_an_empty_corner_passes(book_style):
    fig, ax = _line_figure()
    ax.legend(loc="upper right")  # the line passes the upper right corner far below
    style.show_figure(fig)


def test_a_legend_outside_the_axes_passes(book_style):
    fig, ax = _line_figure()
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1))
    style.show_figure(fig)


def test_a_legend_over_scatter_points_or_bars_fails(book_style):
    fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3.5))
    left.scatter([0.1, 0.9], [0.9, 0.1], label="points")
    left.set(xlim=(0, 1), ylim=(0, 1), title="scatter")
    left.legend(loc="upper left")
    right.bar([0, 1], [1, 1], label="bars")
    right.set(title="bars")
    with pytest.raises(ValueError, match="scatter point"):
        style.show_figure(fig)
    left.get_legend().remove()
    right.legend(loc="upper left")
    with pytest.raises(ValueError, match="Rectangle"):
        style.show_figure(fig)


def test_a_legend_inside_a_heat_map_fails(book_style):
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.pcolormesh(np.arange(4.0), np.arange(4.0), np.ones((3, 3)))
    ax.plot([1.5], [1.5], "o", color="white", label="a point")
    ax.legend(loc="upper right")
    with pytest.raises(ValueError, match="image"):
        style.show_figure(fig)


def test_show_figure_refuses_what_is_not_a_figure(book_style):
    with pytest.raises(TypeError, match="fig"):
        style.show_figure("a figure")


def test_show_figure_checks_the_current_figure_by_default(book_style):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_title("small title", fontsize=6)
    with pytest.raises(ValueError, match="small title"):
        style.show_figure()


def test_the_chapter_lint_reports_a_figure_shown_without_the_check():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "tools" / "lint_chapters.py"
    spec = importlib.util.spec_from_file_location("lint_chapters", path)
    lint = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lint)
    code = "import ebcore\nplt.show()\nfig.show()\nebcore.book.show_figure()\n"
    findings = lint._show_findings(Path("chapter.py"), code)
    assert [(f["code"], f["location"]["row"]) for f in findings] == [(lint.SHOW_RULE, 2), (lint.SHOW_RULE, 3)]
    assert "plt.show()" in findings[0]["message"] and "ebcore.book.show_figure()" in findings[0]["message"]
