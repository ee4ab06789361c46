"""Turn an executed MyST notebook into a plain notebook that any Jupyter front end shows as the book does.

The chapters' Markdown is MyST: roles (``{glue:text}`key:fmt```, ``{prf:ref}``, ``{cite:t}``, ``{doc}``,
``{py:func}``, ``{numref}``, ``{ref}``), theorem fences (````` ````{prf:theorem} ````` ...) and
target lines (``(check-x)=``), which a plain Markdown renderer prints as source. For the downloads
(``_ext/notebook_downloads.py``) every role is replaced by the text the built page shows: glued values
formatted as the page formats them (myst-nb's own formatter), statement and figure numbers as the
page numbers them, author-year citations, page titles; theorem-like blocks become a bold heading
("**Theorem 5.1** (title)") over a quoted body, and proofs end with a square. The glue records
(outputs under a MIME type no front end renders) are dropped from the code cells: their values are
now in the text.
"""
from __future__ import annotations

import re
from pathlib import Path

ROLE = re.compile(r"\{(?P<role>[a-z]+(?::[a-z]+)?)\}`(?P<content>[^`]*)`")
TARGET_LINE = re.compile(r"^\([\w.-]+\)=[ \t]*\n?", re.MULTILINE)
PROOF_BLOCK = re.compile(r"^(?P<fence>`{3,})\{prf:(?P<kind>[a-z]+)\}[ \t]*(?P<title>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$",
                         re.MULTILINE | re.DOTALL)
SHOWN_AND_TARGET = re.compile(r"(?P<shown>.*?\S)\s*<(?P<target>[^<>]+)>")
OPTION_LINE = re.compile(r"^:(?P<name>[a-z_-]+):[ \t]*(?P<value>[^\n]*)\n", re.MULTILINE)


def statement_numbers(html_dir: Path) -> dict[str, str]:
    """``{label: "Theorem 5.1"}`` for every numbered statement and figure of the built pages."""
    from bs4 import BeautifulSoup

    numbers = {}
    for page in sorted(Path(html_dir).glob("chapters/*.html")):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for element in soup.select("div.proof[id], figure[id], div.figure[id]"):
            caption = element.select_one(".caption-number")
            if caption is not None:
                numbers.setdefault(element["id"], caption.get_text().strip())
    return numbers


def citation_labels(bibfile: Path) -> dict[str, tuple[str, str]]:
    """``{key: (authors, year)}``: "Smart et al.", "Yu and Morozov", "Stein", as the pages cite them."""
    import codecs

    import latexcodec  # noqa: F401  (registers the "ulatex" codec that turns {\\~n} into ñ)
    from pybtex.database import parse_file

    labels = {}
    for key, entry in parse_file(str(bibfile)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        last = [codecs.decode(" ".join(p.last_names), "ulatex").replace("{", "").replace("}", "") for p in people]
        if len(last) > 2:
            names = f"{last[0]} et al."
        elif len(last) == 2:
            names = f"{last[0]} and {last[1]}"
        else:
            names = last[0] if last else key
        labels[key] = (names, entry.fields.get("year", "n.d."))
    return labels


def _glue_text(content: str, glue: dict[str, str]) -> str:
    from myst_nb.core.variables import format_plain_text

    from ebcore.book.reporting import readable_numbers

    key, _, spec = content.rpartition(":") if ":" in content else (content, "", "")
    if key not in glue:
        raise KeyError(f"glue key {key!r} has no recorded value")
    return readable_numbers(format_plain_text(glue[key], spec))


def _role_text(match, glue, numbers, titles, citations) -> str:
    role, content = match["role"], match["content"]
    explicit = SHOWN_AND_TARGET.fullmatch(content)   # "audit table <audit>": the text shown, then the target
    shown, target = (explicit["shown"], explicit["target"]) if explicit else (None, content)
    if role in ("glue", "glue:text"):
        return _glue_text(content, glue)
    if role in ("prf:ref", "numref", "ref"):
        return shown if shown is not None else numbers.get(target, target)
    if role == "doc":
        return shown if shown is not None else titles.get(Path(target).name, target)
    if role.startswith("cite"):
        keys = [key.strip() for key in target.split(",")]
        found = [citations.get(key, (key, "")) for key in keys]
        if role == "cite:t":
            return "; ".join(f"{names} ({year})" for names, year in found)
        return "(" + "; ".join(f"{names}, {year}" for names, year in found) + ")"
    if role.startswith("py:"):
        return f"`{shown if shown is not None else target}`"
    return shown if shown is not None else target


def _statement_block(match, numbers) -> str:
    kind, title, body = match["kind"], match["title"].strip(), match["body"]
    options = dict((m["name"], m["value"].strip()) for m in OPTION_LINE.finditer(body))
    body = OPTION_LINE.sub("", body).strip("\n")
    if kind == "proof":
        return f"*Proof.* {body} ∎"
    heading = numbers.get(options.get("label", ""), kind.capitalize())
    quoted = "\n".join(f"> {line}" if line else ">" for line in body.splitlines())
    return f"> **{heading}**{f' ({title})' if title else ''}.\n>\n{quoted}"


def readable_markdown(text: str, glue: dict[str, str], numbers: dict[str, str], titles: dict[str, str],
                      citations: dict[str, tuple[str, str]]) -> str:
    """One Markdown cell with every MyST construct replaced by what the built page shows."""
    text = TARGET_LINE.sub("", text)
    text = ROLE.sub(lambda m: _role_text(m, glue, numbers, titles, citations), text)
    # statement blocks after the roles, so that titles and bodies are already plain
    return PROOF_BLOCK.sub(lambda m: _statement_block(m, numbers), text)


def glue_values(notebook) -> dict[str, str]:
    """``{key: text/plain}`` of every value the notebook glued."""
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if record:
                prefix = record.get("mime_prefix", "")
                values[record["name"]] = output["data"].get(prefix + "text/plain", "")
    return values


def make_readable(notebook, numbers, titles, citations):
    """Resolve every Markdown cell of an executed notebook and drop its glue records (in place)."""
    glue = glue_values(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = readable_markdown(cell.source, glue, numbers, titles, citations)
        elif cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if "scrapbook" not in o.get("metadata", {})]
    return notebook
