"""Convert every chapter (MyST Markdown) to .ipynb in a separate folder for nbval.

nbval reads only .ipynb files, and a generated .ipynb beside its .md source would make Sphinx
see two documents of one name; so the notebooks go to the folder given on the command line.
"""
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]


def main(out: str) -> None:
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.ipynb"):
        old.unlink()
    for source in sorted((ROOT / "chapters").glob("*.md")):
        notebook = jupytext.read(source)
        if "kernelspec" not in notebook.metadata:  # prose-only pages are not notebooks
            continue
        jupytext.write(notebook, target / f"{source.stem}.ipynb")
        print(f"converted {source.relative_to(ROOT)} -> {target / source.stem}.ipynb")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "_build/nbval")
