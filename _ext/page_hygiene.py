"""Sphinx extension: pages that load with a clean browser console.

Two problems of the pinned theme stack, found by the browser test (tests/test_browser.py):

- sphinx-thebe's inline ``const THEBE_JS_URL = ...`` script is registered twice under Jupyter
  Book 1.x, so the second copy throws "Identifier 'THEBE_JS_URL' has already been declared".
  Exact duplicate script entries are dropped from every page.
- On a first visit (empty ``localStorage``) the theme sets the colour mode to ``""`` and logs
  "Got invalid theme mode". A small script sets an empty mode to ``auto`` (follow the reader's
  system setting, which is what the theme falls back to anyway) before the theme reads it.
"""
from __future__ import annotations

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


def setup(app):
    app.add_js_file(None, body=_MODE_FIX, priority=1)
    # Early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
