"""Sphinx extension: the audit table, the audited unit tests and the API reference, regenerated on every build.

The audit page holds the marker line ``% audit-table``; when Sphinx reads that page the marker is
replaced by :func:`ebcore.book.audit.audit_table_markdown`, so the table always matches the installed
``ebcore`` (an executed cell would be served from the execution cache, which keys on a cell's
source and not on the library it calls). Both pages are re-read on every build for the same reason.
"""
from __future__ import annotations

from sphinx.errors import ExtensionError

AUDIT_PAGE = "chapters/audit"
TESTS_PAGE = "chapters/audited_tests"
API_PAGE = "chapters/api"
MARKER = "% audit-table"
TESTS_MARKER = "% audited-tests"


def _insert_table(app, docname, source):
    if docname not in (AUDIT_PAGE, TESTS_PAGE):
        return
    from ebcore.book.audit import audit_table_markdown, audited_tests_markdown

    marker, generate = (MARKER, audit_table_markdown) if docname == AUDIT_PAGE else \
        (TESTS_MARKER, audited_tests_markdown)
    if marker not in source[0]:
        raise ExtensionError(f"{docname}.md must contain the line {marker!r} where the generated text goes")
    source[0] = source[0].replace(marker, generate(), 1)


def _always_reread(app, env, added, changed, removed):
    return [name for name in (AUDIT_PAGE, TESTS_PAGE, API_PAGE) if name in env.found_docs]


def setup(app):
    app.connect("source-read", _insert_table)
    app.connect("env-get-outdated", _always_reread)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
