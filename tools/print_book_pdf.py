"""Print the single-page build of the book to one PDF, offline, with Debian's chromium.

Usage: ``python tools/print_book_pdf.py SINGLEHTML_DIR OUTPUT.pdf``. ``make book`` runs it after the
single-page build (``jupyter-book build . --builder singlehtml``) and writes ``_build/html/book.pdf``,
which every page links to. The page is served from 127.0.0.1 and every request to another host is
refused, so the PDF is built from the book's own files (MathJax included); printing waits until
MathJax has typeset every formula, so the PDF holds typeset mathematics, not TeX source. Code cells
that the pages hide behind a "Show code" toggle stay hidden in the PDF; the visible ones are printed.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
# the page numbers in each page's footer; the book's title is on the first page
FOOTER = ('<div style="font-size: 8px; width: 100%; text-align: center; color: #555;">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')
# the theme's navigation, buttons and search have no place on paper
PRINT_CSS = """
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article, .prev-next-area, .bd-footer,
.bd-footer-content, .search-button-field, .theme-switch-button, .headerlink, .toggle-details__summary,
.cell_input details summary, button { display: none !important; }
.bd-main, .bd-main .bd-content, .bd-main .bd-content .bd-article-container, .bd-container__inner,
.bd-page-width { max-width: none !important; }
pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }
details > summary { display: none !important; }
h1 { break-before: page; }
figure, table, .proof, .theorem, .proposition, .conjecture, .lemma, .corollary { break-inside: avoid; }
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise SystemExit("chromium is not installed (README, 'System packages')")


def _start_page(single_dir: Path) -> str:
    """The single page, copied to the folder's top level: index.html only redirects to it
    (``chapters/intro.html`` for this book), and the single-page builder writes every link in it
    relative to the top level."""
    index = (single_dir / "index.html").read_text(encoding="utf-8")
    redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', index, re.IGNORECASE)
    if not redirect:
        return "index.html"
    (single_dir / "book-print.html").write_text((single_dir / redirect[1]).read_text(encoding="utf-8"),
                                                encoding="utf-8")
    return "book-print.html"


def print_pdf(single_dir: Path, output: Path, timeout_ms: int = 300_000) -> int:
    """Print ``single_dir/index.html`` to ``output``; return the number of formulas MathJax typeset."""
    from playwright.sync_api import sync_playwright

    if not (single_dir / "index.html").is_file():
        raise SystemExit(f"{single_dir} holds no single-page build (index.html is missing)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(single_dir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    refused = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1100, "height": 1400})

            def route(request_route):
                if urlparse(request_route.request.url).hostname == "127.0.0.1":
                    request_route.continue_()
                else:
                    refused.append(request_route.request.url)
                    request_route.abort()

            page.route("**/*", route)
            page.goto(base + _start_page(single_dir), wait_until="load", timeout=timeout_ms)
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                   timeout=timeout_ms)
            page.evaluate("() => MathJax.startup.promise")
            page.add_style_tag(content=PRINT_CSS)
            # each chapter starts a new sheet, but the book does not start with an empty one
            page.evaluate("() => { const first = document.querySelector('h1'); if (first) first.style.breakBefore = 'auto'; }")
            formulas = page.evaluate("() => document.querySelectorAll('mjx-container').length")
            unrendered = page.evaluate("() => document.querySelectorAll('mjx-merror').length")
            if unrendered:
                raise SystemExit(f"MathJax reported {unrendered} formula errors; not printing")
            output.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(path=str(output), format="A4", print_background=True, display_header_footer=True,
                     header_template="<div></div>", footer_template=FOOTER,
                     margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"})
            browser.close()
    finally:
        server.shutdown()
    if refused:
        raise SystemExit(f"the single page asked for {len(refused)} outside resources, e.g. {refused[0]}")
    return formulas


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__)
        return 2
    single_dir, output = Path(argv[1]).resolve(), Path(argv[2]).resolve()
    formulas = print_pdf(single_dir, output)
    print(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB, {formulas} typeset formulas)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
