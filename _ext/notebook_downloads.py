"""Sphinx extension: offer every executed chapter as a notebook download, with Binder and Colab launch links.

After the HTML build this extension writes each chapter, as a notebook with the outputs of its
execution, to ``<html>/_notebooks/`` (part of the built site, generated at build time and never
committed). The outputs come from the execution cache (``jupyter-cache``), because myst-nb's own
``jupyter_execute/`` copy of a chapter holds no outputs when the chapter was not re-executed in
this build; a chapter with no cached execution is an error. Its Markdown is made plain
(``_ext/readable_notebooks.py``: glued numbers, statement numbers and citations as the page shows
them). The build also writes ebcore's wheel, its version carrying the commit, to ``<html>/_downloads/``;
each notebook's first code cell installs that wheel when ``ebcore`` is missing (from the book's
address when ``html_baseurl`` is set, from beside the pages otherwise, or from the published site's
branch of ``book_repository_url``).

The extension also puts a bar at the top of each chapter page with a link to its notebook and, when
``book_repository_url`` names a GitHub repository, launch links for Binder and Colab. Both open the
built notebook (not the MyST source) from ``book_pages_branch``, the branch the built site
``_build/html`` is published to (GitHub Pages' ``gh-pages`` by default): Colab opens only ``.ipynb``
files of a GitHub repository, and Binder builds its environment from the ``binder/`` folder that this
extension writes into the site (the book's exact pins, PyTorch's CPU index first, and a ``postBuild``
that installs the wheel beside the pages). ``.nojekyll`` keeps GitHub Pages from hiding the folders
whose names start with an underscore.
"""
from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote

_FOLDER = "_notebooks"
# ebcore's wheel, built from the sources the pages were built from
_WHEELS = "_downloads"
# repo2docker (Binder) reads its environment from this folder of the launched branch
_BINDER = "binder"
# PyTorch's CPU wheels first: the default index's Linux torch is the CUDA build, several GB, which Binder
# does not need; its local version (2.13.0+cpu) satisfies the pin torch==2.13.0
_CPU_INDEX = ("--index-url https://download.pytorch.org/whl/cpu", "--extra-index-url https://pypi.org/simple")


def github_slug(repository: str) -> str:
    """``owner/name`` of a GitHub repository address, or ``""`` when the address is not one."""
    repository = (repository or "").rstrip("/")
    if repository.endswith(".git"):
        repository = repository[:-4]
    prefix = "https://github.com/"
    if not repository.startswith(prefix):
        return ""
    parts = repository[len(prefix):].split("/")
    return "/".join(parts) if len(parts) == 2 and all(parts) else ""


def launch_links(repository: str, pages_branch: str, name: str) -> dict[str, str]:
    """The launch links of chapter ``name`` (``"01_denoising"``): ``{"Binder": url, "Colab": url}``, both opening
    ``_notebooks/<name>.ipynb`` of the published site on ``pages_branch``; empty without a GitHub repository."""
    slug = github_slug(repository)
    if not slug:
        return {}
    notebook = f"{_FOLDER}/{name}.ipynb"
    branch = quote(pages_branch, safe="")
    return {
        "Binder": f"https://mybinder.org/v2/gh/{slug}/{branch}?labpath={quote(notebook, safe='')}",
        "Colab": f"https://colab.research.google.com/github/{slug}/blob/{branch}/{notebook}",
    }


def raw_wheel_url(repository: str, pages_branch: str, wheel: str) -> str:
    """Where the published site's copy of the wheel can be downloaded, or ``""`` without a GitHub repository."""
    slug = github_slug(repository)
    return f"https://raw.githubusercontent.com/{slug}/{quote(pages_branch, safe='')}/{_WHEELS}/{wheel}" if slug else ""


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
    for service, url in launch_links(app.config.book_repository_url, app.config.book_pages_branch, name).items():
        links.append(f'<a class="reference external ebcore-launch" href="{html.escape(url)}">Open in {service}</a>')
    bar = '<div class="admonition note ebcore-notebook-links"><p>' + " · ".join(links) + "</p></div>\n"
    context["body"] = bar + context.get("body", "")


def _setup_cell_source(repository: str, wheel: str, version: str, base_url: str, pages_branch: str = "gh-pages") -> str:
    """The first code cell of a downloaded notebook: install the build's own ebcore where it is missing.

    From the book's address when ``html_baseurl`` is set; otherwise from the wheel file beside the pages
    (``../_downloads/<wheel>`` relative to the notebook, as the book is laid out on disk and as Binder
    checks the site out), or from the published site's branch of the repository when one is configured
    (Colab, which opens the notebook alone); failing all three it says what to install."""
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
        if raw_wheel_url(repository, pages_branch, wheel):
            lines.append(f'        source = "{raw_wheel_url(repository, pages_branch, wheel)}"')
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
                                      app.config.html_baseurl or "", app.config.book_pages_branch)
    _write_site_files(root, Path(app.outdir), wheel)
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


def binder_requirements(requirements: str) -> str:
    """The Binder environment's requirements: the book's exact pins behind PyTorch's CPU index."""
    return "\n".join(_CPU_INDEX) + "\n" + requirements


def _write_site_files(root: Path, outdir: Path, wheel: str) -> None:
    """What the published site needs to be launched: Binder's environment and GitHub Pages' ``.nojekyll``."""
    binder = outdir / _BINDER
    binder.mkdir(parents=True, exist_ok=True)
    (binder / "requirements.txt").write_text(binder_requirements((root / "requirements.txt").read_text(encoding="utf-8")),
                                             encoding="utf-8")
    post_build = binder / "postBuild"
    # the dependencies are the pins above; the wheel is this build's ebcore
    post_build.write_text(f"#!/bin/bash\nset -euo pipefail\npip install --no-deps {_WHEELS}/{wheel}\n",
                          encoding="utf-8")
    post_build.chmod(0o755)
    (outdir / ".nojekyll").write_text("", encoding="utf-8")


def setup(app):
    app.add_config_value("book_repository_url", "", "html")
    # the branch that the built site (_build/html) is published to; the launch links open its notebooks
    app.add_config_value("book_pages_branch", "gh-pages", "html")
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", _write_notebooks)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
