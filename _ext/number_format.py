"""Sphinx extension: one format for the numbers the prose quotes.

A glued number formatted with an ``e`` specification (``{glue:text}`x:.1e```) reads ``8.1e-12`` in
myst-nb's output; every glued text is rewritten here by :func:`ebcore.book.reporting.readable_numbers`
(``8.1 × 10⁻¹²``), the same function that formats the results tables and the downloaded notebooks'
text, so a number looks the same in a sentence, in a table and in a notebook.
"""
from __future__ import annotations

from docutils import nodes


def _rewrite_glued_numbers(app, doctree, docname):
    from ebcore.book.reporting import readable_numbers

    for inline in doctree.findall(nodes.inline):
        if "pasted-text" not in inline.get("classes", []):
            continue
        for text in list(inline.findall(nodes.Text)):
            rewritten = readable_numbers(text.astext())
            if rewritten != text.astext():
                text.parent.replace(text, nodes.Text(rewritten))


def setup(app):
    app.connect("doctree-resolved", _rewrite_glued_numbers)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
