"""The book's figure style: now :mod:`ebcore.book.style` (the book's machinery, apart from the numerical library).

Every name keeps working from here.
"""
from .book.style import PALETTE, sequential_cmap, use_book_style

__all__ = ['PALETTE', 'use_book_style', 'sequential_cmap']
