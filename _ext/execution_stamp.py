"""Sphinx extension: re-execute a chapter whenever what its cached pages were computed with changes.

The notebook execution cache (jupyter-cache) keys on the source of a chapter's code cells only, so
by itself it would serve pages computed by an older library, another book seed or another scale.
This extension gives each combination of the library's numerical code version
(:func:`ebcore.cache.code_version`, which ignores docstrings, comments and the book's own
machinery), ``EBCORE_SEED`` and ``EBCORE_SCALE`` its own execution cache folder
``_build/.jupyter_cache/<stamp>``: a change to any of them finds an empty folder and executes every
chapter again, while going back to an earlier combination finds its pages still there. Expensive
results inside the chapters come from the results cache, keyed the same way, so a re-execution
after an edit to a docstring, the audit registry or the figure style costs seconds.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path


def execution_stamp() -> dict:
    """What a chapter's executed outputs depend on besides its own source."""
    from ebcore.cache import code_version
    from ebcore.scale import current_scale
    from ebcore.seeding import current_seed

    return {"code_version": code_version(), "seed": current_seed(), "scale": current_scale()}


def _set_cache_path(app, config):
    stamp = execution_stamp()
    key = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:16]
    root = Path(app.outdir).parent / ".jupyter_cache"
    folder = root / key
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stamp.json").write_text(json.dumps(stamp, indent=1, sort_keys=True))
    config.nb_execution_cache_path = str(folder)


def setup(app):
    app.connect("config-inited", _set_cache_path, priority=100)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
