"""Sphinx extension: the "Cite this book" page, and header buttons on every page for it and for the book's PDF.

The directive ``cite-this-book`` renders, at build time, what a reader needs to cite the exact build
they are reading: the library version (``ebcore.__version__``), the commit of the book's repository
the pages were built from (with a note when the working tree had uncommitted changes), a BibTeX
entry made from ``CITATION.cff``, and the file itself. Generating it during the build (rather than
typing it into the page) keeps the version and the commit true for every build.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.errors import ExtensionError

CITE_PAGE = "chapters/cite"


def build_commit(root: Path) -> str:
    """The commit the sources were built from, ``"<hash> (with uncommitted changes)"`` when the working
    tree differs from it, or a sentence saying that the sources are not a git checkout."""
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (the book was not built from a git checkout)"
    return f"{commit} (with uncommitted changes)" if dirty else commit


def _bibtex_escape(text: str) -> str:
    return text.replace("&", r"\&").replace("%", r"\%")


def bibtex_entry(citation: dict, version: str, commit: str, url: str = "") -> str:
    """A BibTeX ``@software`` entry for the book from the parsed ``CITATION.cff``."""
    for key in ("title", "authors", "date-released"):
        if key not in citation:
            raise ExtensionError(f"CITATION.cff has no {key!r} field")
    authors = " and ".join(
        f"{{{a['name']}}}" if "name" in a else f"{a['family-names']}, {a.get('given-names', '')}".rstrip(", ")
        for a in citation["authors"])
    released = str(citation["date-released"])
    fields = [("title", f"{{{_bibtex_escape(citation['title'])}}}"), ("author", f"{{{authors}}}"),
              ("year", f"{{{released[:4]}}}"), ("version", f"{{{version}}}"),
              ("note", f"{{Built from commit {commit}}}")]
    if url:
        fields.append(("url", f"{{{url}}}"))
    if "license" in citation:
        fields.append(("license", f"{{{citation['license']}}}"))
    body = ",\n".join(f"  {name} = {value}" for name, value in fields)
    return f"@software{{ebcore_book_{version.replace('.', '_')},\n{body}\n}}"


class CiteThisBook(Directive):
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        root = Path(env.srcdir)
        cff = root / "CITATION.cff"
        if not cff.is_file():
            raise self.error(f"{cff} is missing")
        env.note_dependency(str(cff))
        citation = yaml.safe_load(cff.read_text(encoding="utf-8"))
        import ebcore

        version = ebcore.__version__
        if str(citation.get("version")) != version:
            raise self.error(f"CITATION.cff says version {citation.get('version')!r} but ebcore is {version!r}: "
                             "update CITATION.cff")
        commit = build_commit(root)
        url = env.config.book_repository_url or ""
        summary = nodes.paragraph()
        summary += nodes.Text("These pages were built with ebcore ")
        summary += nodes.literal(text=version)
        summary += nodes.Text(" from commit ")
        summary += nodes.literal(text=commit)
        summary += nodes.Text(".")
        bibtex = nodes.literal_block(text=bibtex_entry(citation, version, commit, url), language="bibtex")
        bibtex["classes"].append("cite-bibtex")
        cff_block = nodes.literal_block(text=cff.read_text(encoding="utf-8").rstrip(), language="yaml")
        cff_block["classes"].append("cite-cff")
        bibtex_title = nodes.rubric(text="BibTeX")
        cff_title = nodes.rubric(text="CITATION.cff")
        return [summary, bibtex_title, bibtex, cff_title, cff_block]


#: The book's PDF, which ``make book`` prints into the HTML folder (tools/print_book_pdf.py).
BOOK_PDF = "book.pdf"


def _add_header_links(app, pagename, templatename, context, doctree):
    """Two buttons in every page's header: the cite page, and the whole book as a PDF."""
    if "header_buttons" not in context:
        return
    if CITE_PAGE in app.env.found_docs:
        context["header_buttons"].append({"type": "link", "url": context["pathto"](CITE_PAGE),
                                          "tooltip": "Cite this book", "icon": "fas fa-quote-right",
                                          "label": "cite-button"})
    context["header_buttons"].append({"type": "link", "url": context["pathto"](BOOK_PDF, 1),
                                      "tooltip": "The whole book as a PDF", "icon": "fas fa-book",
                                      "label": "book-pdf-button"})


def _always_reread(app, env, added, changed, removed):
    # The commit changes without the page's source changing.
    return [CITE_PAGE] if CITE_PAGE in env.found_docs else []


def setup(app):
    app.add_directive("cite-this-book", CiteThisBook)
    # after the theme's own buttons (priority 501), so the button sits at the end of the row
    app.connect("html-page-context", _add_header_links, priority=502)
    app.connect("env-get-outdated", _always_reread)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
