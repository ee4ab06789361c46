"""Numbers for the prose: every number quoted in a chapter comes from an executed cell."""
from __future__ import annotations

import numbers
import re

import numpy as np

__all__ = ["glue", "markdown_table", "format_mean_se", "readable_numbers"]

# a number in Python's e-notation, standing alone (not inside a word or a longer number)
_E_NOTATION = re.compile(r"(?<![\w.])([+-]?)(\d+(?:\.\d+)?)e([+-]?)(\d+)(?!\w|\.\d)")
_SUPERSCRIPTS = str.maketrans("0123456789-", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207b")


def _power_of_ten(match) -> str:
    sign, mantissa, exponent_sign, digits = match.groups()
    exponent = int(digits)
    if exponent == 0:
        return sign + mantissa
    power = ("10" + (("-" if exponent_sign == "-" else "") + str(exponent)).translate(_SUPERSCRIPTS))
    return sign + (power if mantissa == "1" else f"{mantissa} \u00d7 {power}")


def readable_numbers(text: str) -> str:
    """Write every number in e-notation in ``text`` as a power of ten, the book's one format for them.

    ``"8.1e-12"`` becomes ``"8.1 × 10⁻¹²"`` and ``"1e-09"`` becomes ``"10⁻⁹"``; numbers without an
    exponent and e-notation inside a word (``"h2e3"``) are left as they are. The glued numbers of the
    prose, the downloaded notebooks' text and :func:`markdown_table`'s cells all pass through it.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        The text with each e-notation number rewritten.

    Raises
    ------
    TypeError
        If ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    return _E_NOTATION.sub(_power_of_ten, text)


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
    return readable_numbers(str(value)).replace("|", "\\|").replace("\r\n", " ").replace("\n", " ")


def markdown_table(header, rows):
    """A Markdown table (for ``IPython.display.Markdown``) from a header and rows of cells.

    Cells and column titles are converted with ``str`` and their e-notation numbers written as powers of
    ten (:func:`readable_numbers`); a ``|`` in either is escaped and a line break
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
