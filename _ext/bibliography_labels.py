"""Sphinx extension: the bibliography lists each work under the label the text cites it by.

The text cites author-year (``bibtex_reference_style: author_year``: "Cheng, 1995"), while pybtex's
default labels are alphanumeric ("Che95"), so a reader could not match a citation to its entry. This
registers a pybtex formatting style ``author_year`` whose labels are the same author-year text: one
surname, two joined by "and", three or more as the first surname with "et al.", then the year; works
that would share a label get "a", "b", ... after the year. Entries are sorted by author, year, title.
"""
from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle


def _surname(person) -> str:
    # Braces protect capitals in BibTeX ("{Rao}"); they are not part of the printed name.
    return " ".join(person.prelast_names + person.last_names).replace("{", "").replace("}", "")


def author_year_label(entry) -> str:
    """The label of ``entry``: its authors' (else editors') surnames and its year."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in people]
    if not names:
        who = entry.fields.get("organization") or entry.fields.get("title", entry.key)
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        labels = [author_year_label(entry) for entry in sorted_entries]
        count, seen = Counter(labels), Counter()
        for label in labels:
            if count[label] == 1:
                yield label
            else:
                yield label + chr(ord("a") + seen[label])
                seen[label] += 1


class AuthorYearStyle(UnsrtStyle):
    default_sorting_style = "author_year_title"
    default_label_style = "author_year"


def setup(app):
    register_plugin("pybtex.style.labels", "author_year", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
