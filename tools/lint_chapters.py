"""Lint the chapters' code with ruff, reporting chapter lines (``chapters/NAME.md:LINE:COL``).

Ruff reads Python files, not MyST notebooks; so every chapter that is a notebook is converted to a
percent-format script (``jupytext --to py:percent``) in a temporary folder, never beside its
source (a .py or .ipynb next to a chapter would be a second document of that name for the book
build), and ruff checks that folder with the project's settings (pyproject.toml). Each finding is
mapped back to the line of the chapter it comes from. One rule of the book's own is checked on the
same scripts: SHOW001, a figure shown with ``plt.show()`` (or any other ``.show()``) instead of
``ebcore.book.show_figure()``, which would bypass the book's legibility check (text sizes on the page,
legends over data). Exit status: ruff's, or 1 when the book's rule finds something (0 when
nothing is found). Usage: ``python tools/lint_chapters.py [chapters/NAME.md ...]`` (default: every chapter).
"""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
# Rules switched off for chapters only (none today). Kept here and not in pyproject.toml's
# per-file-ignores because ruff sees the converted scripts in a temporary folder, not chapters/.
# Import order ("I") stays on: jupytext copies each cell's code verbatim, so an import block is
# the chapter's own, and the chapters import once, in their first cell.
CHAPTER_IGNORES: list[str] = []
_CELL_MARKER = re.compile(r"^# %%(?! \[(markdown|md|raw)\])")
_FENCE = re.compile(r"^(`{3,}|~{3,})\{code-cell\}")


def _md_cell_starts(md_lines: list[str], notebook) -> list[int | None]:
    """The 0-based chapter line of the first source line of each code cell (None: not found)."""
    fences = [i for i, line in enumerate(md_lines) if _FENCE.match(line)]
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if len(fences) != len(cells):
        return [None] * len(cells)
    starts: list[int | None] = []
    for fence, cell in zip(fences, cells):
        source = cell.source.splitlines()
        if not source:
            starts.append(None)
            continue
        start = next((i for i in range(fence + 1, len(md_lines)) if md_lines[i] == source[0]), None)
        starts.append(start)
    return starts


def _line_map(md_path: Path, py_text: str, notebook) -> dict[int, int]:
    """1-based script line -> 1-based chapter line, for every line of a code cell."""
    md_lines = md_path.read_text(encoding="utf-8").splitlines()
    py_lines = py_text.splitlines()
    markers = [i for i, line in enumerate(py_lines) if _CELL_MARKER.match(line)]
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    mapping: dict[int, int] = {}
    if len(markers) != len(cells):
        return mapping
    for marker, cell, md_start in zip(markers, cells, _md_cell_starts(md_lines, notebook)):
        if md_start is None:
            continue
        for offset in range(len(cell.source.splitlines())):
            mapping[marker + 2 + offset] = md_start + 1 + offset
    return mapping


SHOW_RULE = "SHOW001"


def _show_findings(script: Path, py_text: str) -> list[dict]:
    """Rule SHOW001: every ``X.show(...)`` or bare ``show(...)`` call in a chapter's code, as ruff-style findings.

    A chapter shows its figures with ``ebcore.book.show_figure()`` (the book's legibility check, then
    ``plt.show()``); a direct ``plt.show()``, ``fig.show()`` or ``pyplot.show()`` would put a figure
    on the page unchecked. A script that does not parse is left to ruff, which reports the syntax error.
    """
    try:
        tree = ast.parse(py_text)
    except SyntaxError:
        return []
    findings = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "show":
            shown = f"{ast.unparse(func.value)}.show()"
        elif isinstance(func, ast.Name) and func.id == "show":
            shown = "show()"
        else:
            continue
        findings.append({"filename": str(script), "code": SHOW_RULE, "fix": None,
                         "location": {"row": node.lineno, "column": node.col_offset + 1},
                         "message": f"`{shown}` shows a figure without the book's legibility check; "
                                    "use `ebcore.book.show_figure()`"})
    return findings


def _ruff() -> list[str]:
    ruff = os.environ.get("RUFF") or shutil.which("ruff")
    if ruff is None:
        sys.exit("lint_chapters: ruff not found on PATH (it is pinned in requirements.txt; run `make env`)")
    return [ruff]


def main(paths: list[str]) -> int:
    sources = [Path(p).resolve() for p in paths] or sorted((ROOT / "chapters").glob("*.md"))
    with tempfile.TemporaryDirectory(prefix="lint-chapters-") as tmp:
        chapter_of: dict[str, tuple[Path, dict[int, int]]] = {}
        book_findings: list[dict] = []
        for source in sources:
            notebook = jupytext.read(source)
            if "kernelspec" not in notebook.metadata:  # prose-only pages are not notebooks
                continue
            script = Path(tmp) / f"{source.stem}.py"
            py_text = jupytext.writes(notebook, fmt="py:percent")
            script.write_text(py_text, encoding="utf-8")
            chapter_of[str(script.resolve())] = (source, _line_map(source, py_text, notebook))
            book_findings += _show_findings(script, py_text)
        if not chapter_of:
            return 0
        command = _ruff() + ["check", "--config", str(ROOT / "pyproject.toml"), "--output-format", "json",
                             "--no-cache", "--exit-zero"]
        if CHAPTER_IGNORES:
            command += ["--extend-ignore", ",".join(CHAPTER_IGNORES)]
        result = subprocess.run(command + [tmp], capture_output=True, text=True, cwd=ROOT)
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            return result.returncode
        findings = json.loads(result.stdout or "[]") + book_findings
    for finding in sorted(findings, key=lambda f: (f["filename"], f["location"]["row"], f["location"]["column"])):
        source, mapping = chapter_of[str(Path(finding["filename"]).resolve())]
        row, column = finding["location"]["row"], finding["location"]["column"]
        name = source.relative_to(ROOT) if source.is_relative_to(ROOT) else source
        where = f"{name}:{mapping[row]}:{column}" if row in mapping else f"{name} (converted script line {row})"
        fix = " [*]" if finding.get("fix") and finding["fix"].get("applicability") == "safe" else ""
        print(f"{where}: {finding['code']}{fix} {finding['message']}")
    if findings:
        print(f"Found {len(findings)} error{'s' if len(findings) != 1 else ''} in the chapters.")
        return 1
    print("Chapters: all checks passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
