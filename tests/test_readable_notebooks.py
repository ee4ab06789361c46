"""Downloaded notebooks show the text the pages show (_ext/readable_notebooks.py): glued values formatted,
statement numbers, citations, page titles, theorem blocks as Markdown, no glue records left."""
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
import readable_notebooks as rn  # noqa: E402

NUMBERS = {"thm-x": "Theorem 5.1", "fig-y": "Fig. 2.3"}
TITLES = {"05_depth_noise": "Denoising without a noise schedule"}
CITATIONS = {"stein1981estimation": ("Stein", "1981"), "yu2026optimizer": ("Yu and Morozov", "2026")}


def _resolve(text, glue=None):
    return rn.readable_markdown(text, glue or {}, NUMBERS, TITLES, CITATIONS)


def test_roles_become_the_text_the_page_shows():
    glue = {"t_star": "0.8465735902799727", "size": "4096", "note": "'a sentence'"}
    text = ("T* = {glue:text}`t_star:.4f`, N = {glue:text}`size:,`, {glue:text}`note`; by {prf:ref}`thm-x` "
            "({numref}`fig-y`), see {doc}`05_depth_noise` and {doc}`the audit <audit>`; {cite:t}`stein1981estimation` "
            "and {cite:p}`stein1981estimation,yu2026optimizer`; {py:func}`ebcore.horizon.exact_step`.")
    assert _resolve(text, glue) == (
        "T* = 0.8466, N = 4,096, a sentence; by Theorem 5.1 (Fig. 2.3), see Denoising without a noise schedule "
        "and the audit; Stein (1981) and (Stein, 1981; Yu and Morozov, 2026); `ebcore.horizon.exact_step`.")


def test_glued_e_notation_reads_as_a_power_of_ten():
    """The notebook's text writes a number as the page does (the same function formats both)."""
    assert _resolve("error {glue:text}`err:.1e`, bound {glue:text}`bound:.0e`", {"err": "8.06e-12", "bound": "1e-9"}) \
        == "error 8.1 \u00d7 10\u207b\u00b9\u00b2, bound 10\u207b\u2079"


def test_a_missing_glue_value_is_an_error_not_a_silent_role():
    with pytest.raises(KeyError, match="missing_key"):
        _resolve("{glue:text}`missing_key:.2f`")


def test_statement_blocks_become_markdown_and_targets_go():
    text = ("(check-a)=\nBefore.\n\n````{prf:theorem} Finite horizon\n:label: thm-x\n\nThe law returns.\n\n"
            "Second paragraph.\n````\n\n````{prf:proof}\nBy induction.\n````\n")
    out = _resolve(text)
    assert "(check-a)=" not in out and "{prf:" not in out and ":label:" not in out
    assert "> **Theorem 5.1** (Finite horizon).\n>\n> The law returns.\n>\n> Second paragraph." in out
    assert "*Proof.* By induction. ∎" in out


def test_glue_records_are_dropped_and_markdown_resolved_in_a_notebook():
    record = nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": "2.5"},
                                    metadata={"scrapbook": {"name": "x", "mime_prefix": "application/papermill.record/"}})
    shown = nbformat.v4.new_output("stream", name="stdout", text="kept\n")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("glue('x', 2.5)", outputs=[record, shown]),
                                               nbformat.v4.new_markdown_cell("x = {glue:text}`x:.1f`")])
    rn.make_readable(notebook, NUMBERS, TITLES, CITATIONS)
    assert notebook.cells[0].outputs == [shown]
    assert notebook.cells[1].source == "x = 2.5"


def test_citation_labels_follow_the_author_year_style():
    labels = rn.citation_labels(ROOT / "references.bib")
    assert labels["stein1981estimation"] == ("Stein", "1981")
    assert labels["yu2026optimizer"] == ("Yu and Morozov", "2026")
    assert labels["smart2026attention"][0] == "Smart et al."
    assert labels["carreira2006gbms"][0] == "Carreira-Perpiñán"
