"""Sphinx extension: pages that load with a clean browser console.

Two problems of the pinned theme stack, found by the browser test (tests/test_browser.py):

- sphinx-thebe's inline ``const THEBE_JS_URL = ...`` script is registered twice under Jupyter
  Book 1.x, so the second copy throws "Identifier 'THEBE_JS_URL' has already been declared".
  Exact duplicate script entries are dropped from every page.
- On a first visit (empty ``localStorage``) the theme sets the colour mode to ``""`` and logs
  "Got invalid theme mode". A small script sets an empty mode to ``auto`` (follow the reader's
  system setting, which is what the theme falls back to anyway) before the theme reads it.
- The chapter-list and contents buttons did nothing: sphinx-book-theme 1.3 and pydata-sphinx-theme
  0.17 both bind their sidebar handlers to the *first* ``.primary-toggle`` (and ``.secondary-toggle``)
  of the page, a copy in the base theme's header that this layout hides, so the buttons a reader
  sees had no handler. Every other toggle now forwards its click to that first one, which opens the
  sidebar (a modal on narrow screens, a collapsible column on wide ones); the browser test clicks
  the visible buttons at 1400 and 390 px and checks the sidebar opens.
- At a phone's width (390 px) long inline code, links and API signatures pushed pages sideways;
  ``static/page_hygiene.css`` lets them wrap and lets wide tables and display formulas scroll in
  their own box. The browser test checks that no page is wider than the screen.
- Every page loaded Font Awesome's JavaScript icon framework (``fontawesome.js``, 1.5 MB, every
  free icon inside), which the base theme includes only so that users can add icons of their own.
  The theme's stylesheet already draws every icon of these pages from Font Awesome's web font, so
  the script and its file are removed from the built site (``tests/check_built_book.py`` checks
  that no page refers to it; the browser test that the sidebar buttons' icons are drawn).
"""
from __future__ import annotations

import re
from pathlib import Path

_ICON_SCRIPT = re.compile(r'[ \t]*<script defer src="[^"]*_static/scripts/fontawesome\.js(\?[^"]*)?"></script>\n?')

_MODE_FIX = ("(function () { try { if (!localStorage.getItem('mode')) { localStorage.setItem('mode', 'auto'); } }"
             " catch (e) {} if (!document.documentElement.dataset.mode) {"
             " document.documentElement.dataset.mode = 'auto'; } })();")


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # Sphinx 7.4 passes _JavaScript objects (filename, attributes); older versions str subclasses.
        # An inline script's filename is None or "" depending on who registered it.
        name = (script.filename or "") if hasattr(script, "filename") else str(script)
        key = (name, tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


_TOGGLE_FIX = ("document.addEventListener('DOMContentLoaded', function () {"
               " ['.primary-toggle', '.secondary-toggle'].forEach(function (selector) {"
               " var buttons = document.querySelectorAll(selector); if (buttons.length < 2) { return; }"
               " var bound = buttons[0];"
               " Array.prototype.slice.call(buttons, 1).forEach(function (button) {"
               " button.addEventListener('click', function (event) {"
               " event.preventDefault(); event.stopImmediatePropagation(); bound.click(); }, true); }); }); });")


def _drop_icon_script(app, exception):
    """Remove the icon framework's script from every page of the finished build, and its files."""
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        trimmed = _ICON_SCRIPT.sub("", text)
        if trimmed != text:
            page.write_text(trimmed, encoding="utf-8")
    for name in ("fontawesome.js", "fontawesome.js.map", "fontawesome.js.LICENSE.txt"):
        (out / "_static" / "scripts" / name).unlink(missing_ok=True)


def _add_static(app):
    # the stylesheet that keeps pages inside a phone's width lives beside this extension
    app.config.html_static_path.append(str(Path(__file__).parent / "static"))


def setup(app):
    app.add_js_file(None, body=_MODE_FIX, priority=1)
    app.add_js_file(None, body=_TOGGLE_FIX)
    app.connect("builder-inited", _add_static)
    app.connect("build-finished", _drop_icon_script)
    app.add_css_file("page_hygiene.css")
    # Early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
