"""The built book in a real browser (Debian's chromium, headless, driven by Playwright, no network).

Runs when ``EBCORE_BOOK_HTML`` names a built book (``make test`` sets it after the build); without
it there is nothing to test and the module is skipped. With it set, a missing chromium is a
failure, not a skip. The book is served from 127.0.0.1; any request to another host is refused
and reported.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = os.environ.get("EBCORE_BOOK_HTML")
pytestmark = pytest.mark.skipif(not HTML, reason="EBCORE_BOOK_HTML is not set (no built book to test)")

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic"]


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


def _find_chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("chromium is not installed (README, 'System packages': apt-get install chromium)")




@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = _find_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _open(browser, url: str, problems: list):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    base = urlparse(url)

    def route(request_route):
        target = urlparse(request_route.request.url)
        if target.scheme in ("http", "https") and target.netloc != base.netloc:
            problems.append(f"external request: {request_route.request.url}")
            request_route.abort()
        else:
            request_route.continue_()

    page.route("**/*", route)
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(url, wait_until="load")
    return page


def _wait_for_mathjax(page) -> None:
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20000)
    page.evaluate("() => MathJax.startup.promise")


@pytest.mark.parametrize("docname", _toc_pages())
def test_page_renders(site, browser, docname):
    root, base = site
    problems: list[str] = []
    page = _open(browser, base + docname + ".html", problems)
    try:
        source = (ROOT / f"{docname}.md").read_text(encoding="utf-8")
        if "$" in source or "{math}" in source:
            _wait_for_mathjax(page)
            assert page.locator("mjx-container").count() > 0, "no MathJax output on a page with math"
            errors = page.locator("mjx-merror").count()
            assert errors == 0, f"{errors} MathJax error nodes"
        broken_images = page.evaluate(
            "() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0 && i.naturalHeight > 0))"
            ".map(i => i.getAttribute('src'))")
        assert not broken_images, f"images that did not load: {broken_images}"
        hrefs = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
        for href in hrefs:
            target = urlparse(href)
            if target.scheme not in ("http", "https") or target.netloc != urlparse(base).netloc:
                continue
            path = root / unquote(target.path.lstrip("/"))
            if path.is_dir():
                path = path / "index.html"
            assert path.is_file(), f"link to a missing file: {href}"
            if target.fragment and path.suffix == ".html":
                text = path.read_text(encoding="utf-8")
                fragment = re.escape(unquote(target.fragment))
                assert re.search(rf'id="{fragment}"', text), f"link to a missing anchor: {href}"
        if docname == "chapters/09_optimizers_and_ensembles":
            shots = root.parent / "screenshots"
            shots.mkdir(exist_ok=True)
            page.screenshot(path=str(shots / "09_optimizers_and_ensembles.png"), full_page=False)
        assert not problems, "\n".join(problems)
    finally:
        page.close()


@pytest.mark.parametrize("query,expected", [("Tweedie", "chapters/01_denoising.html"),
                                            ("golden-section", "chapters/09_optimizers_and_ensembles.html")])
def test_search_finds_a_theorem(site, browser, query, expected):
    _, base = site
    problems: list[str] = []
    page = _open(browser, base + f"search.html?q={query}", problems)
    try:
        page.wait_for_selector(f"#search-results a[href*='{expected}']", timeout=30000)
        assert not problems, "\n".join(problems)
    finally:
        page.close()


@pytest.mark.parametrize("width", [1400, 390])
def test_sidebar_toggles_open_the_sidebars(site, browser, width):
    """The visible chapter-list and contents buttons open their sidebars, on a desktop and on a phone."""
    _, base = site
    problems: list[str] = []
    page = _open(browser, base + "chapters/02_attention_posterior_mean.html", problems)
    try:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(200)
        state = """() => ({hidden: document.querySelector('#pst-primary-sidebar').classList.contains('pst-sidebar-hidden'),
                          modal: !!(document.querySelector('#pst-primary-sidebar-modal') || {}).open,
                          secondary: !!(document.querySelector('#pst-secondary-sidebar-modal') || {}).open})"""
        before = page.evaluate(state)
        # the buttons' icons are drawn from Font Awesome's web font (the site ships no icon script)
        icon = page.evaluate("""async () => { await document.fonts.ready;
            const bars = Array.from(document.querySelectorAll('.primary-toggle .fa-bars')).find(e => e.offsetParent);
            const faces = Array.from(document.fonts).filter(f => f.family.replace(/["']/g, '') === 'Font Awesome 6 Free'
                                                                  && f.weight === '900');
            return {found: !!bars, width: bars ? bars.getBoundingClientRect().width : 0,
                    glyph: bars ? getComputedStyle(bars, '::before').content : '',
                    loaded: faces.some(f => f.status === 'loaded')}; }""")
        assert icon == {"found": True, "width": icon["width"], "glyph": '"\uf0c9"', "loaded": True} and icon["width"] > 4, \
            f"the chapter-list button's icon is not drawn: {icon}"
        page.locator(".primary-toggle:visible").first.click()
        page.wait_for_timeout(300)
        after = page.evaluate(state)
        if width >= 992:
            assert after["hidden"] != before["hidden"], f"the chapter list did not collapse or open: {before} -> {after}"
        else:
            assert after["modal"], f"the chapter list did not open on a phone: {before} -> {after}"
            page.keyboard.press("Escape")
            page.wait_for_timeout(200)
            toggles = page.locator(".secondary-toggle:visible")
            assert toggles.count() > 0, "no visible contents button on a phone"
            toggles.first.click()
            page.wait_for_timeout(300)
            assert page.evaluate(state)["secondary"], "the contents sidebar did not open on a phone"
        assert not problems, "\n".join(problems)
    finally:
        page.close()


def test_no_page_scrolls_sideways_on_a_phone(site, browser):
    """At 390 px no page is wider than the screen (wide tables and formulas scroll in their own box)."""
    root, base = site
    problems: list[str] = []
    page = _open(browser, base + "index.html", problems)
    too_wide = {}
    try:
        page.set_viewport_size({"width": 390, "height": 800})
        for docname in _toc_pages():
            page.goto(base + docname + ".html", wait_until="load")
            page.wait_for_timeout(150)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            if width > 390:
                too_wide[docname] = width
        assert not too_wide, f"pages wider than a 390 px screen: {too_wide}"
    finally:
        page.close()


def test_audit_table_fits_a_desktop_page_and_links_tests_to_their_source(site, browser):
    """At 1400 px the audit table needs no sideways scrolling of its own box (no column is cut), and each
    unit-test check links to a section of the audited-tests page that shows the test's code."""
    root, base = site
    problems: list[str] = []
    page = _open(browser, base + "index.html", problems)
    try:
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.goto(base + "chapters/audit.html", wait_until="load")
        widths = page.evaluate("""() => [...document.querySelectorAll('.bd-article table')]
                                  .map(t => [t.scrollWidth, t.clientWidth])""")
        assert widths, "the audit page has no table"
        assert all(scroll <= client + 1 for scroll, client in widths), f"table scroll/client widths: {widths}"
        links = page.evaluate("""() => [...document.querySelectorAll('.bd-article table a')]
                                 .filter(a => a.textContent.startsWith('tests/')).map(a => a.href)""")
        assert links, "no unit-test check links to its source"
        for href in links[:3] + links[-2:]:
            page.goto(href, wait_until="load")
            anchor = urlparse(href).fragment
            code = page.evaluate(f"""() => {{
                // the label is an empty span; the test's code is the first code block after it
                let node = document.getElementById({anchor!r});
                while (node && !(node.matches && node.matches('div[class*=highlight-python]'))) {{
                    node = node.nextElementSibling; }}
                return node ? node.textContent : null; }}""")
            assert code and "def test" in code, f"{href}: no test source under #{anchor}"
        assert not problems, "\n".join(problems)
    finally:
        page.close()


@pytest.mark.parametrize("docname", ["chapters/02_attention_posterior_mean", "chapters/audit"])
def test_header_buttons_lead_to_the_pdf_and_the_cite_page(site, browser, docname):
    """Every page's header has a button for the whole book as a PDF and one for the cite page; both resolve."""
    root, base = site
    problems: list[str] = []
    page = _open(browser, base + docname + ".html", problems)
    try:
        for label, kind in (("book-pdf-button", "application/pdf"), ("cite-button", "text/html")):
            href = page.evaluate(f"""() => {{ const a = document.querySelector('a.btn[href] .fa-{
                'book' if label == 'book-pdf-button' else 'quote-right'}');
                return a ? a.closest('a').href : null; }}""")
            assert href, f"{docname}: no {label}"
            response = page.request.get(href)
            assert response.ok and response.headers["content-type"].startswith(kind), (href, response.status)
        assert not problems, "\n".join(problems)
    finally:
        page.close()
