"""Which library code implements which labelled statement of the book, declared where the code is.

``@implements("thm-tweedie")`` above a function, a method or a class records that it implements
the statement labelled ``thm-tweedie`` in the chapters. The book's audit table
(:mod:`ebcore.book.audit`) is generated from these declarations, from the chapters' labelled
statements and from the checks that name their labels, so a statement, its code and its checks
are tied together in one place each. The decorator changes nothing about the object it marks
(it sets ``__implements__``), imports nothing of the book's machinery, and the results cache's
code version ignores it: relabelling never invalidates a stored result.
"""
from __future__ import annotations

import re

__all__ = ["implements", "IMPLEMENTATIONS", "LABEL_PATTERN"]

#: The form of a statement label (``thm-``, ``prop-``, ``lem-``, ``cor-`` or ``conj-`` and words).
LABEL_PATTERN = re.compile(r"^(thm|prop|lem|cor|conj)-[a-z0-9]+(-[a-z0-9]+)*$")

#: ``{label: [dotted names]}`` of everything marked so far, in the order the modules were imported.
IMPLEMENTATIONS: dict[str, list[str]] = {}


def _target(obj):
    """The function object behind a classmethod, staticmethod or property (where the name lives)."""
    if isinstance(obj, (classmethod, staticmethod)):
        return obj.__func__
    if isinstance(obj, property):
        return obj.fget
    return obj


def implements(*labels: str):
    """Mark a function, method or class as implementing the statements ``labels`` (see the module)."""
    if not labels:
        raise TypeError("implements needs at least one statement label")
    for label in labels:
        if not isinstance(label, str) or not LABEL_PATTERN.match(label):
            raise ValueError(f"labels must be statement labels such as 'thm-tweedie', got {label!r}")

    def mark(obj):
        target = _target(obj)
        name = f"{target.__module__}.{target.__qualname__}"
        target.__implements__ = tuple(getattr(target, "__implements__", ())) + labels
        for label in labels:
            names = IMPLEMENTATIONS.setdefault(label, [])
            if name not in names:
                names.append(name)
        return obj

    return mark
