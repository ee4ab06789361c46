"""Sphinx extension: offer every executed chapter as a notebook download, and a Binder launch link.

After the HTML build this extension writes each chapter, as a notebook with the outputs of its
execution, to ``<html>/_notebooks/`` (part of the built site, generated at build time and never
committed). The outputs come from the execution cache (``jupyter-cache``), because myst-nb's own
``jupyter_execute/`` copy of a chapter holds no outputs when the chapter was not re-executed in
this build; a chapter with no cached execution is an error. Its Markdown is made plain
(``_ext/readable_notebooks.py``: glued numbers, statement numbers and citations as the page shows
them). The build also writes ebcore's wheel, its version carrying the commit, to ``<html>/_downloads/``;
each notebook's first code cell installs that wheel when ``ebcore`` is missing (from the book's
address when ``html_baseurl`` is set, from beside the pages otherwise, or from ``book_repository_url``).
The extension also puts a bar at
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
# ebcore's wheel, built from the sources the pages were built from
_WHEELS = "_downloads"


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


def _setup_cell_source(repository: str, wheel: str, version: str, base_url: str) -> str:
    """The first code cell of a downloaded notebook: install the build's own ebcore where it is missing.

    From the book's address when ``html_baseurl`` is set; otherwise from the wheel file beside the pages
    (``../_downloads/<wheel>`` relative to the notebook, as the book is laid out on disk), or from the
    repository when one is configured; failing all three it says what to install."""
    lines = ["# Set-up: this chapter runs on the book's library, ebcore (and numpy, torch, matplotlib, seaborn:",
             "# the book's requirements.txt). Where ebcore is already importable this cell does nothing; otherwise",
             f"# it installs ebcore {version}, the version that computed the numbers in this notebook's text.",
             "try:",
             "    import ebcore",
             "except ImportError:",
             "    import importlib",
             "    import pathlib",
             "    import subprocess",
             "    import sys",
             ""]
    if base_url:
        source = f'"{base_url.rstrip("/")}/{_WHEELS}/{wheel}"'
        lines.append(f"    source = {source}")
    else:
        lines += [f'    source = pathlib.Path("../{_WHEELS}/{wheel}")  # beside the book\'s pages',
                  "    if not source.is_file():"]
        if repository:
            lines.append(f'        source = "ebcore @ git+{repository}"')
        else:
            lines += [f'        raise ImportError("this notebook needs ebcore {version}: install the wheel {wheel} that the "',
                      f'                          "book offers beside its pages ({_WHEELS}/{wheel}) with pip install <path to the "',
                      '                          "wheel>, then restart the kernel") from None']
    lines += ['    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", str(source)], check=True)',
              "    importlib.invalidate_caches()",
              "    import ebcore",
              'print("ebcore", ebcore.__version__)']
    return "\n".join(lines)


def _note_cell_source(version: str, commit: str) -> str:
    return (f"*This notebook is a chapter of the book, as the book's pages show it. The numbers in its text are "
            f"those of the build that produced it (ebcore {version}, commit {commit}); running the cells "
            f"recomputes them.*")


def build_wheel(root: Path, target: Path) -> tuple[str, str, str]:
    """Build ebcore's wheel into ``target`` with the commit in its version (``0.3.0+g1a2b3c4d5e6f``, and
    ``.dirty`` when the working tree has uncommitted changes); return the wheel's file name, its version and
    the commit (as :func:`cite_page.build_commit` reports it)."""
    import re
    import shutil
    import subprocess
    import sys
    import tempfile

    from cite_page import build_commit

    commit = build_commit(root)
    base = re.search(r'^__version__ = "([^"]+)"', (root / "ebcore" / "__init__.py").read_text(encoding="utf-8"),
                     re.MULTILINE)[1]
    digest = commit.split()[0]
    local = f"+g{digest[:12]}" if re.fullmatch(r"[0-9a-f]{40}", digest) else "+unknown"
    version = base + local + (".dirty" if "uncommitted" in commit else "")
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("ebcore-*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "ebcore-src"
        shutil.copytree(root / "ebcore", copy / "ebcore", ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            shutil.copy2(root / name, copy / name)
        init = copy / "ebcore" / "__init__.py"
        init.write_text(init.read_text(encoding="utf-8").replace(f'__version__ = "{base}"', f'__version__ = "{version}"', 1),
                        encoding="utf-8")
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                        "--disable-pip-version-check", "--wheel-dir", str(target), str(copy)], check=True,
                       capture_output=True, text=True)
    wheels = sorted(target.glob("ebcore-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"building ebcore's wheel left {len(wheels)} wheels in {target}")
    return wheels[0].name, version, commit


def _write_notebooks(app, exception):
    if exception is not None or app.builder.name != "html":
        return
    import jupytext
    import nbformat
    import readable_notebooks
    from jupyter_cache import get_cache

    root = Path(app.srcdir)
    wheel, version, commit = build_wheel(root, Path(app.outdir) / _WHEELS)
    numbers = readable_notebooks.statement_numbers(Path(app.outdir))
    titles = {Path(name).name: title.astext() for name, title in app.env.titles.items()}
    citations = {}
    for bibfile in app.config.bibtex_bibfiles:
        citations.update(readable_notebooks.citation_labels(root / bibfile))
    cache_path = getattr(app.config, "nb_execution_cache_path", "") or str(Path(app.outdir).parent / ".jupyter_cache")
    cache = get_cache(cache_path)
    target = Path(app.outdir) / _FOLDER
    target.mkdir(parents=True, exist_ok=True)
    setup_source = _setup_cell_source((app.config.book_repository_url or "").rstrip("/"), wheel, version,
                                      app.config.html_baseurl or "")
    for docname in sorted(app.env.found_docs):
        if not _is_notebook(app, docname):
            continue
        notebook = jupytext.read(root / f"{docname}.md")
        try:
            _, executed = cache.merge_match_into_notebook(notebook)
        except KeyError as error:
            raise RuntimeError(f"{docname}: no cached execution to offer as a download") from error
        readable_notebooks.make_readable(executed, numbers, titles, citations)
        setup_cell = nbformat.v4.new_code_cell(setup_source)
        setup_cell.metadata["tags"] = ["setup"]
        note = nbformat.v4.new_markdown_cell(_note_cell_source(version, commit))
        first = 1 if executed.cells and executed.cells[0].cell_type == "markdown" else 0
        executed.cells[first:first] = [note, setup_cell]
        nbformat.write(executed, str(target / f"{Path(docname).name}.ipynb"))


def setup(app):
    app.add_config_value("book_repository_url", "", "html")
    app.add_config_value("book_repository_branch", "main", "html")
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", _write_notebooks)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
