"""Sphinx extension: offer every executed chapter as a notebook download, and a Binder launch link.

After the HTML build this extension writes each chapter, as a notebook with the outputs of its
execution, to ``<html>/_notebooks/`` (part of the built site, generated at build time and never
committed). The outputs come from the execution cache (``jupyter-cache``), because myst-nb's own
``jupyter_execute/`` copy of a chapter holds no outputs when the chapter was not re-executed in
this build; a chapter with no cached execution is an error. Each notebook starts with a set-up
cell that installs ``ebcore`` when it is missing (from ``book_repository_url`` when that is set). The extension also puts a bar at
the top of each chapter page with a link to its notebook and, when ``book_repository_url`` is set
in the Sphinx configuration, a Binder link that opens the chapter's MyST source runnable (Binder's jupytext
support reads MyST notebooks; the repository's ``requirements.txt`` and ``pyproject.toml`` install
``ebcore``).
"""
from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote

_FOLDER = "_notebooks"


def _is_notebook(app, docname: str) -> bool:
    source = Path(app.srcdir) / f"{docname}.md"
    if not source.is_file():
        return False
    head = source.read_text(encoding="utf-8")[:600]
    return head.startswith("---") and "kernelspec:" in head


def _page_context(app, pagename, templatename, context, doctree):
    if doctree is None or not _is_notebook(app, pagename):
        return
    depth = pagename.count("/")
    name = Path(pagename).name
    href = "../" * depth + f"{_FOLDER}/{name}.ipynb"
    links = [f'<a class="reference external" href="{html.escape(href)}" download>'
             f'Download this chapter as an executed notebook (.ipynb)</a>']
    repository = (app.config.book_repository_url or "").rstrip("/")
    if repository.startswith("https://github.com/"):
        slug = repository[len("https://github.com/"):]
        url = (f"https://mybinder.org/v2/gh/{slug}/{app.config.book_repository_branch}"
               f"?urlpath={quote('lab/tree/' + pagename + '.md', safe='')}")
        links.append(f'<a class="reference external" href="{html.escape(url)}">Launch on Binder</a>')
    bar = '<div class="admonition note ebcore-notebook-links"><p>' + " · ".join(links) + "</p></div>\n"
    context["body"] = bar + context.get("body", "")


def _setup_cell_source(repository: str) -> str:
    """The first cell of a downloaded notebook: install ebcore where it is missing."""
    lines = ["# Set-up: this chapter runs on the book's library, ebcore (and numpy, torch, matplotlib, seaborn).",
             "# Where ebcore is already importable (the book's own environment) this cell does nothing.",
             "try:",
             "    import ebcore",
             "except ImportError:"]
    if repository:
        lines.append(f'    %pip install --quiet "ebcore @ git+{repository}"')
    else:
        lines += ['    raise ImportError("this notebook needs ebcore: in a checkout of the book, run "',
                  '                      "`pip install -r requirements.txt -e .`, then restart the kernel") from None']
    return "\n".join(lines)


def _write_notebooks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    import jupytext
    import nbformat
    from jupyter_cache import get_cache

    cache_path = getattr(app.config, "nb_execution_cache_path", "") or str(Path(app.outdir).parent / ".jupyter_cache")
    cache = get_cache(cache_path)
    target = Path(app.outdir) / _FOLDER
    target.mkdir(parents=True, exist_ok=True)
    for docname in sorted(app.env.found_docs):
        if not _is_notebook(app, docname):
            continue
        notebook = jupytext.read(Path(app.srcdir) / f"{docname}.md")
        try:
            _, executed = cache.merge_match_into_notebook(notebook)
        except KeyError as error:
            raise RuntimeError(f"{docname}: no cached execution to offer as a download") from error
        setup_cell = nbformat.v4.new_code_cell(_setup_cell_source((app.config.book_repository_url or "").rstrip("/")))
        setup_cell.metadata["tags"] = ["setup"]
        executed.cells.insert(0, setup_cell)
        nbformat.write(executed, str(target / f"{Path(docname).name}.ipynb"))


def setup(app):
    app.add_config_value("book_repository_url", "", "html")
    app.add_config_value("book_repository_branch", "main", "html")
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", _write_notebooks)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
