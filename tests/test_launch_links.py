"""Launch links (_ext/notebook_downloads.py): with a sample GitHub address, every chapter's Binder and Colab links are
well formed and open the built notebook (never the MyST source) of the published site, whose Binder environment is
the book's own pins and this build's wheel.

The tests on the built site run when ``EBCORE_BOOK_HTML`` names a built book (``make test`` sets it)."""
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
import notebook_downloads as nd  # noqa: E402

SAMPLE = "https://github.com/example-org/attention-book"
HTML = os.environ.get("EBCORE_BOOK_HTML")
CHAPTERS = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.md"))


def _notebook_path(url: str) -> tuple[str, str]:
    """(branch, path in the repository) that a launch link opens; fails on a malformed link."""
    parts = urlsplit(url)
    assert parts.scheme == "https" and not parts.fragment, url
    segments = parts.path.strip("/").split("/")
    if parts.netloc == "mybinder.org":
        assert segments[:4] == ["v2", "gh", "example-org", "attention-book"] and len(segments) == 5, url
        query = parse_qs(parts.query, strict_parsing=True)
        assert list(query) == ["labpath"] and len(query["labpath"]) == 1, url
        return segments[4], query["labpath"][0]
    assert parts.netloc == "colab.research.google.com" and not parts.query, url
    assert segments[:4] == ["github", "example-org", "attention-book", "blob"], url
    return segments[4], "/".join(segments[5:])


@pytest.mark.parametrize("name", CHAPTERS)
def test_links_are_well_formed_and_name_the_notebook(name):
    links = nd.launch_links(SAMPLE, "gh-pages", name)
    assert sorted(links) == ["Binder", "Colab"]
    for url in links.values():
        branch, path = _notebook_path(url)
        assert branch == "gh-pages"
        assert path == f"_notebooks/{name}.ipynb"


def test_no_links_without_a_github_repository():
    for address in ("", "https://gitlab.com/a/b", "https://github.com/only-owner", "https://github.com/a/b/c"):
        assert nd.launch_links(address, "gh-pages", "01_denoising") == {}
    assert nd.github_slug(SAMPLE + ".git") == nd.github_slug(SAMPLE + "/") == "example-org/attention-book"


def test_chapter_pages_carry_the_links():
    """The page bar of a chapter has the download and both launch links; a page that is not a notebook has none."""
    app = SimpleNamespace(srcdir=str(ROOT), config=SimpleNamespace(book_repository_url=SAMPLE,
                                                                   book_pages_branch="gh-pages"))
    context = {"body": "<p>text</p>"}
    nd._page_context(app, "chapters/01_denoising", "page.html", context, doctree=object())
    body = context["body"]
    for url in nd.launch_links(SAMPLE, "gh-pages", "01_denoising").values():
        assert f'href="{url.replace("&", "&amp;")}"' in body
    assert "../_notebooks/01_denoising.ipynb" in body and body.endswith("<p>text</p>")
    other = {"body": "<p>x</p>"}
    nd._page_context(app, "chapters/notation", "page.html", other, doctree=object())
    assert other["body"] == "<p>x</p>"


def test_colab_setup_cell_installs_the_published_wheel():
    """Colab opens the notebook alone: its first cell falls back to the wheel of the published site."""
    wheel = "ebcore-0.3.0+g0123456789ab-py3-none-any.whl"
    source = nd._setup_cell_source(SAMPLE, wheel, "0.3.0+g0123456789ab", "", "gh-pages")
    url = f"https://raw.githubusercontent.com/example-org/attention-book/gh-pages/_downloads/{wheel}"
    assert f'source = "{url}"' in source
    compile(source, "setup-cell", "exec")
    without = nd._setup_cell_source("", wheel, "0.3.0+g0123456789ab", "", "gh-pages")
    assert "raw.githubusercontent" not in without and "raise ImportError" in without


def _pins(text: str) -> list[str]:
    return sorted(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("#", "-")))


@pytest.mark.skipif(not HTML, reason="EBCORE_BOOK_HTML is not set (no built book to test)")
def test_the_built_site_has_what_the_links_open():
    """Every link's target is a notebook in the built site, Binder's environment there pins exactly what
    requirements.txt pins (the CPU index first) and installs this build's wheel, and GitHub Pages will serve
    the underscore folders."""
    site = Path(HTML)
    for name in CHAPTERS:
        for url in nd.launch_links(SAMPLE, "gh-pages", name).values():
            _, path = _notebook_path(url)
            assert path.endswith(".ipynb")
            notebook = nbformat.read(site / path, as_version=4)
            nbformat.validate(notebook)
            assert any(cell.cell_type == "code" for cell in notebook.cells)
    binder = (site / "binder" / "requirements.txt").read_text(encoding="utf-8")
    assert binder.splitlines()[0] == "--index-url https://download.pytorch.org/whl/cpu"
    assert _pins(binder) == _pins((ROOT / "requirements.txt").read_text(encoding="utf-8"))
    wheels = sorted((site / "_downloads").glob("ebcore-*.whl"))
    assert len(wheels) == 1
    post_build = site / "binder" / "postBuild"
    assert f"pip install --no-deps _downloads/{wheels[0].name}" in post_build.read_text(encoding="utf-8")
    assert os.access(post_build, os.X_OK)
    assert (site / ".nojekyll").is_file()
