"""The statement -> code -> check registry: now :mod:`ebcore.book.audit` (the book's machinery, apart from
the numerical library).

Every name keeps working from here.
"""
from .book import audit as _audit
from .book.audit import (
    STATEMENT_KINDS,
    STATUS_EXCEPTIONS,
    AuditEntry,
    audit_problems,
    audit_table_markdown,
    audited_tests_markdown,
    canonical_name,
    chapter_check_labels,
    generate_entries,
    implementations,
    labelled_statements,
    marked_test_labels,
    repository_root,
    resolve,
    test_target,
)

# ENTRIES is not imported: __getattr__ below generates it on first use
__all__ = ["AuditEntry", "ENTRIES", "STATEMENT_KINDS", "STATUS_EXCEPTIONS", "labelled_statements",  # noqa: F822
           "resolve", "audit_problems", "audit_table_markdown", "canonical_name", "repository_root",
           "generate_entries", "chapter_check_labels", "marked_test_labels", "implementations",
           "audited_tests_markdown", "test_target"]


def __getattr__(name: str):
    # ENTRIES is generated on first use, from the source checkout (see ebcore.book.audit)
    if name == "ENTRIES":
        return _audit.ENTRIES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
