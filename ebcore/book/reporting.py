"""Numbers for the prose: every number quoted in a chapter comes from an executed cell."""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["glue", "markdown_table", "format_mean_se"]


def glue(name: str, value) -> None:
    """Store ``value`` under ``name`` for myst-nb's ``glue:text`` role in the chapter's prose, without display.

    numpy scalars become Python numbers first, because myst-nb formats the stored plain-text
    representation and ``np.float64(1.5)`` is not a number to it.

    Parameters
    ----------
    name : str
        The key the prose refers to (non-empty).
    value : object
        The value: a number (finite), a string, or anything myst-nb can store; numpy scalars and 0-d
        arrays are converted to Python numbers.

    Returns
    -------
    None

    Raises
    ------
    ValueError
        If ``name`` is not a non-empty string, or ``value`` is a real number that is not finite.
    """
    from myst_nb import glue as _glue

    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and not np.isfinite(value):
        raise ValueError(f"value for {name!r} must be finite, got {value!r}")
    _glue(name, value, display=False)


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\r\n", " ").replace("\n", " ")


def markdown_table(header, rows):
    """A Markdown table (for ``IPython.display.Markdown``) from a header and rows of cells.

    Cells and column titles are converted with ``str``; a ``|`` in either is escaped and a line break
    becomes a space (either would otherwise end the cell or the row, and the table would render as
    raw text).

    Parameters
    ----------
    header : iterable
        The column titles (converted with ``str``), at least one.
    rows : iterable of iterables
        The rows, each with one cell per column.

    Returns
    -------
    str
        The table in Markdown.

    Raises
    ------
    ValueError
        If ``header`` is empty, or a row does not have one cell per column.
    """
    header = [_cell(h) for h in header]
    if not header:
        raise ValueError("header must not be empty")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for index, row in enumerate(rows):
        cells = [_cell(c) for c in row]
        if len(cells) != len(header):
            raise ValueError(f"rows[{index}] has {len(cells)} cells, the header {len(header)}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_mean_se(mean: float, se: float, digits: int = 2) -> str:
    """``mean ± se`` in scientific notation with ``digits`` significant digits.

    Parameters
    ----------
    mean : float
        The mean (finite).
    se : float
        Its standard error (finite), printed with two significant digits.
    digits : int >= 1
        Significant digits of the mean.

    Returns
    -------
    str
        ``"<mean> ± <se>"``, e.g. ``"1.2e-03 ± 4.0e-05"``.

    Raises
    ------
    TypeError
        If ``mean`` or ``se`` is not a real number, or ``digits`` is not an integer.
    ValueError
        If ``mean`` or ``se`` is not finite, or ``digits < 1``.
    """
    from ..validation import check_finite_scalar, check_int

    mean = check_finite_scalar(mean, "mean")
    se = check_finite_scalar(se, "se")
    digits = check_int(digits, "digits", minimum=1)
    return f"{mean:.{digits - 1}e} ± {se:.1e}"
