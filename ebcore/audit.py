"""The statement -> code -> check registry: now :mod:`ebcore.book.audit` (the book's machinery, apart from the numerical library).

Every name keeps working from here.
"""
from .book.audit import (
                         ENTRIES,
                         STATEMENT_KINDS,
                         AuditEntry,
                         audit_problems,
                         audit_table_markdown,
                         canonical_name,
                         labelled_statements,
                         repository_root,
                         resolve,
)

__all__ = ['AuditEntry', 'ENTRIES', 'STATEMENT_KINDS', 'labelled_statements', 'resolve', 'audit_problems', 'audit_table_markdown', 'canonical_name', 'repository_root']
