"""Glue and tables for the chapters: now :mod:`ebcore.book.reporting` (the book's machinery, apart from the numerical library).

Every name keeps working from here.
"""
from .book.reporting import format_mean_se, glue, markdown_table, readable_numbers

__all__ = ['glue', 'markdown_table', 'format_mean_se', 'readable_numbers']
