"""The book's own machinery, apart from the numerical library.

:mod:`~ebcore.book.checks` records the chapters' checks for the seed sweep,
:mod:`~ebcore.book.audit` is the statement -> code -> check registry, :mod:`~ebcore.book.reporting`
glues values into the text and formats tables, :mod:`~ebcore.book.style` is the figure style
(and :func:`~ebcore.book.style.show_figure`, the legibility check every chapter figure passes).
Nothing here computes a result that a chapter reports, and no numerical module imports it, so
the results cache's code version ignores this package: editing it never invalidates a stored
ensemble or path.
"""
from .checks import RELATIONS, CheckResult, check, read_check_log
from .style import show_figure

__all__ = ["RELATIONS", "CheckResult", "check", "read_check_log", "show_figure"]
