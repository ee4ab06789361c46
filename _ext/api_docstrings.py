"""Sphinx extension: ebcore's docstrings, written in MyST, rendered by autodoc.

The library's docstrings cite the book's statements the way the chapters do, with MyST roles
(``{prf:ref}`thm-tweedie```). autodoc parses docstrings as reStructuredText, where that text would be a
literal brace followed by a title reference; this rewrites each MyST role into its reST spelling
(``:prf:ref:`thm-tweedie```) so that the API reference links back to the theorems it implements.
"""
from __future__ import annotations

import re

_MYST_ROLE = re.compile(r"\{([a-z][\w:-]*)\}`")


def _myst_roles_to_rest(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if "}`" in line:
            lines[i] = _MYST_ROLE.sub(r":\1:`", line)


def setup(app):
    app.connect("autodoc-process-docstring", _myst_roles_to_rest)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
