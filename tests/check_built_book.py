"""After the book build: every figure a chapter declares is in its HTML page, MathJax is local,
every executed chapter is offered as a notebook download that is a valid executed notebook, and the
"Cite this book" page states the build's version and commit and is linked from every page, and the
book's PDF holds every page's title and is linked from every page.

A figure cell that printed nothing (for example because a non-inline matplotlib backend was
active) still builds without a warning, so the build alone cannot catch it.
"""
import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def table_problems(html: str) -> list[str]:
    """Tables that did not render: a paragraph of raw Markdown table text (it starts with ``|`` and holds
    a header rule, ``|---|`` or, after smart quotes, ``|—|``), or a rendered table whose rows do not all
    have the same number of cells."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    found = []
    for paragraph in soup.find_all("p"):
        text = paragraph.get_text().strip()
        if text.startswith("|") and re.search(r"\|\s*(?:-{3,}|—|–)", text):
            found.append(f"raw table text in a paragraph: {text[:60]!r}")
    for number, table in enumerate(soup.find_all("table")):
        widths = {sum(int(cell.get("colspan", 1)) for cell in row.find_all(["td", "th"], recursive=False))
                  for row in table.find_all("tr")}
        if len(widths) > 1:
            found.append(f"table {number} has rows of {sorted(widths)} cells")
    return found


def cite_page_problems(html: Path) -> list[str]:
    """The "Cite this book" page states the library version and the commit the pages were built from, holds a
    BibTeX entry and CITATION.cff, and every page's header has a button that leads to it."""
    import ebcore

    found = []
    page = html / "chapters" / "cite.html"
    if not page.is_file():
        return [f"{page} is missing"]
    text = re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8"))  # highlighted code is split into spans
    if f"ebcore {ebcore.__version__}" not in text:
        found.append(f"cite.html: does not state ebcore {ebcore.__version__}")
    if not re.search(r"\b[0-9a-f]{40}\b|not built from a git checkout", text):
        found.append("cite.html: states no commit")
    if "@software{" not in text or "cff-version" not in text:
        found.append("cite.html: no BibTeX entry or no CITATION.cff")
    for other in sorted((html / "chapters").glob("*.html")):
        if other.name != page.name and 'href="cite.html"' not in other.read_text(encoding="utf-8"):
            found.append(f"{other.name}: no button leading to the cite page")
    return found


def pdf_problems(html: Path) -> list[str]:
    """The whole book as a PDF beside the pages: it opens, has a plausible number of pages (at least one per
    page of the book), holds every page's title in order, and every chapter page links to it."""
    from bs4 import BeautifulSoup
    from pypdf import PdfReader

    pdf = html / "book.pdf"
    if not pdf.is_file():
        return [f"{pdf} is missing"]
    reader = PdfReader(str(pdf))
    # NFKC folds the ligatures of the PDF's fonts ("ﬀ" in "diffusion") into letters
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", "".join(page.extract_text() or ""
                                                                    for page in reader.pages))).lower()
    found = []
    pages = sorted((html / "chapters").glob("*.html"))
    if len(reader.pages) < len(pages):
        found.append(f"book.pdf: {len(reader.pages)} pages for {len(pages)} pages of the book")
    position = 0
    for page in _toc_order(html):
        heading = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser").find("h1")
        title = re.sub(r"\s+", "", unicodedata.normalize("NFKC", heading.get_text())).rstrip("#").lower() \
            if heading else ""
        # chapter numbers ("3.") are in the PDF's headings too; compare the title's words
        title = re.sub(r"^\d+\.", "", title)
        at = text.find(title, position) if title else -1
        if at < 0:
            found.append(f"book.pdf: the title of {page.name} ({title!r}) is missing or out of order")
        else:
            position = at
    for page in pages:
        if 'href="../book.pdf"' not in page.read_text(encoding="utf-8"):
            found.append(f"{page.name}: no link to the book's PDF")
    return found


# What a chapter's first load may weigh in scripts and stylesheets (uncompressed, images aside): the theme's
# own (about 0.9 MB), MathJax's single-file TeX-to-HTML bundle (1.2 MB, the context menu and the
# accessibility extension included) and the book's small additions; Font Awesome's 1.5 MB icon script
# would break it (_ext/page_hygiene.py removes it).
ASSET_BUDGET_BYTES = 2_600_000


def page_assets(page: Path) -> tuple[int, int, list[str]]:
    """Bytes of the local scripts and stylesheets a page loads, bytes of its images, and problems
    (an asset that is missing, or the icon script)."""
    text = page.read_text(encoding="utf-8")
    problems, assets, images = [], set(), set()
    for tag in re.findall(r"<(?:script|link)\b[^>]*>", text):
        if tag.startswith("<link") and not re.search(r'rel="(stylesheet|preload)"', tag):
            continue
        found = re.search(r'(?:src|href)="([^"#]+)"', tag)
        if found and not re.match(r"[a-z]+:", found[1]):
            assets.add(found[1].split("?")[0])
    images.update(src.split("?")[0] for src in re.findall(r'<img[^>]*src="([^"]+)"', text) if not src.startswith("data:"))
    total = {}
    for kind, names in (("assets", assets), ("images", images)):
        total[kind] = 0
        for name in names:
            path = (page.parent / name).resolve()
            if "fontawesome.js" in name:
                problems.append(f"loads Font Awesome's icon script ({name})")
            if path.is_file():
                total[kind] += path.stat().st_size
            else:
                problems.append(f"{kind[:-1]} {name} does not exist")
    return total["assets"], total["images"], problems


def _toc_order(html: Path) -> list[Path]:
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + [chapter["file"] for part in toc.get("parts", []) for chapter in part["chapters"]]
    return [html / f"{name}.html" for name in files]


def main(html_dir: str) -> int:
    html = Path(html_dir)
    problems, weights = [], []
    if (html / "_static" / "scripts" / "fontawesome.js").exists():
        problems.append("_static/scripts/fontawesome.js is still in the site")
    for source in sorted((ROOT / "chapters").glob("*.md")):
        page = html / "chapters" / f"{source.stem}.html"
        if not page.is_file():
            problems.append(f"{page} is missing")
            continue
        text = page.read_text(encoding="utf-8")
        declared = len(re.findall(r"^:mystnb:\s*\n:\s+figure:", source.read_text(encoding="utf-8"), re.MULTILINE))
        images = re.findall(r'<img[^>]*src="([^"]+)"', text)
        if len(images) < declared:
            problems.append(f"{page.name}: {declared} figures declared, {len(images)} images in the page")
        for src in images:
            if not (page.parent / src.split("?")[0]).is_file():
                problems.append(f"{page.name}: image {src} does not exist")
        source_text = source.read_text(encoding="utf-8")
        if source_text.startswith("---") and "kernelspec:" in source_text[:600]:
            notebook = html / "_notebooks" / f"{source.stem}.ipynb"
            if f'href="../_notebooks/{source.stem}.ipynb"' not in text:
                problems.append(f"{page.name}: no link to its notebook download")
            if not notebook.is_file():
                problems.append(f"{notebook} is missing")
            else:
                cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
                code = [c for c in cells if c["cell_type"] == "code"]
                if not code or not all(c.get("execution_count") for c in code[1:]):
                    problems.append(f"{notebook.name}: not an executed notebook (a code cell has no execution count)")
                if not code or "import ebcore" not in "".join(code[0]["source"]) or "except ImportError" not in \
                        "".join(code[0]["source"]):
                    problems.append(f"{notebook.name}: the first cell does not set up ebcore")
        problems.extend(f"{page.name}: {problem}" for problem in table_problems(text))
        asset_bytes, image_bytes, asset_problems = page_assets(page)
        problems.extend(f"{page.name}: {problem}" for problem in asset_problems)
        weights.append((asset_bytes + image_bytes, asset_bytes, page.name))
        if asset_bytes > ASSET_BUDGET_BYTES:
            problems.append(f"{page.name}: scripts and stylesheets weigh {asset_bytes:,} bytes (budget {ASSET_BUDGET_BYTES:,})")
        has_math = 'class="math' in text
        if "cdn.jsdelivr.net" in text or (has_math and "_static/mathjax/tex-chtml.js" not in text):
            problems.append(f"{page.name}: MathJax is not served from the book")
    problems.extend(cite_page_problems(html))
    problems.extend(pdf_problems(html))
    for line in problems:
        print("PROBLEM:", line)
    heaviest = max(weights)
    print(f"first load of the heaviest page, {heaviest[2]}: {heaviest[0]:,} bytes uncompressed "
          f"({heaviest[1]:,} in scripts and stylesheets, the rest images); lightest page "
          f"{min(weights)[0]:,} bytes")
    print(f"checked {len(list((ROOT / 'chapters').glob('*.md')))} pages: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "_build/html"))
