"""Sphinx extension: ebcore's docstrings, written in MyST, rendered by autodoc.

The library's docstrings cite the book's statements the way the chapters do, with MyST roles
(``{prf:ref}`thm-tweedie```). autodoc parses docstrings as reStructuredText, where that text would be a
literal brace followed by a title reference; this rewrites each MyST role into its reST spelling
(``:prf:ref:`thm-tweedie```) so that the API reference links back to the theorems it implements.

Everything marked ``@implements("label")`` (:func:`ebcore.registry.implements`) also gets a line
after its summary naming the statements it implements, so every implementation's entry cites them.
"""
from __future__ import annotations

import re

_MYST_ROLE = re.compile(r"\{([a-z][\w:-]*)\}`")


def _implemented_labels(obj) -> tuple:
    for candidate in (obj, getattr(obj, "__func__", None), getattr(obj, "fget", None)):
        labels = getattr(candidate, "__implements__", None)
        if labels:
            return tuple(dict.fromkeys(labels))
    return ()


def _myst_roles_to_rest(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if "}`" in line:
            lines[i] = _MYST_ROLE.sub(r":\1:`", line)
    labels = _implemented_labels(obj)
    if labels:
        # after the summary paragraph (the first blank line), before any section
        at = lines.index("") if "" in lines else len(lines)
        cited = ", ".join(f":prf:ref:`{label}`" for label in labels)
        lines[at:at] = ["", f"*Implements* {cited}."]


def setup(app):
    app.connect("autodoc-process-docstring", _myst_roles_to_rest)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
