"""A downloaded chapter runs anywhere: chapter 1's notebook, fetched from the served book together with the
ebcore wheel the book offers beside its pages, runs top to bottom in a new virtual environment that has the
book's requirements but not the checkout (its first cell installs the served wheel).

Runs when ``EBCORE_BOOK_HTML`` names a built book (``make test`` sets it); it creates a virtual environment,
so it takes a few minutes (pip reuses its download cache).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = os.environ.get("EBCORE_BOOK_HTML")
pytestmark = pytest.mark.skipif(not HTML, reason="EBCORE_BOOK_HTML is not set (no built book to test)")


def test_chapter_one_runs_from_its_download_in_a_fresh_environment(site, tmp_path):
    root, base = site
    page = urllib.request.urlopen(base + "chapters/01_denoising.html").read().decode()
    link = re.search(r'href="\.\./(_notebooks/01_denoising\.ipynb)"', page)
    assert link, "chapter 1 offers no notebook download"
    wheels = sorted((root / "_downloads").glob("ebcore-*.whl"))
    assert len(wheels) == 1, f"the book offers {len(wheels)} ebcore wheels"
    # the reader's disk, laid out as the served book is: the notebook and, beside the pages, the wheel
    (tmp_path / "_notebooks").mkdir()
    (tmp_path / "_downloads").mkdir()
    notebook = tmp_path / link[1]
    notebook.write_bytes(urllib.request.urlopen(base + link[1]).read())
    wheel = tmp_path / "_downloads" / wheels[0].name
    wheel.write_bytes(urllib.request.urlopen(base + "_downloads/" + wheels[0].name).read())
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    markdown = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "{glue:" not in markdown and "{prf:" not in markdown, "the notebook's text still holds MyST roles"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r",
                    str(ROOT / "requirements.txt")], check=True)
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH")}
    environment.update(PATH=f"{venv / 'bin'}:/usr/bin:/bin", EBCORE_CACHE=str(tmp_path / "cache"),
                       EBCORE_PROGRESS="0", MPLBACKEND="Agg")
    probe = subprocess.run([str(python), "-c", "import ebcore"], cwd=tmp_path, env=environment,
                           capture_output=True, text=True)
    assert probe.returncode != 0, "ebcore is importable before the notebook installs it"
    execute = ("import nbclient, nbformat\n"
               f"nb = nbformat.read({notebook.name!r}, as_version=4)\n"
               "nbclient.NotebookClient(nb, timeout=600, kernel_name='python3',\n"
               "                        resources={'metadata': {'path': '.'}}).execute()\n"
               "nbformat.write(nb, 'executed.ipynb')\n")
    run = subprocess.run([str(python), "-c", execute], cwd=notebook.parent, env=environment,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    executed = json.loads((notebook.parent / "executed.ipynb").read_text(encoding="utf-8"))
    printed = "".join("".join(o.get("text", "")) for c in executed["cells"] if c["cell_type"] == "code"
                      for o in c.get("outputs", []))
    installed = re.search(r"ebcore (\S+)", printed)
    assert installed and installed[1] == wheel.name.split("-")[1], printed[:500]
