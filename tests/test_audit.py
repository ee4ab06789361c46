"""The audit table must stay true: every labelled statement has an entry, every entry is real."""
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from ebcore import audit

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def problems():
    return audit.audit_problems(ROOT)


def test_every_labelled_statement_has_an_entry(problems):
    assert problems["missing_entry"] == []
    assert problems["unlabelled"] == []


def test_every_entry_names_an_existing_function(problems):
    assert problems["missing_function"] == []


def test_every_check_is_run_by_the_test_suite(problems):
    assert problems["missing_check"] == []


def test_entries_match_the_book(problems):
    for key in ("orphan_entry", "wrong_chapter", "bad_status", "duplicate_entry"):
        assert problems[key] == [], key


def test_every_chapter_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = {toc["root"]}
    for part in toc.get("parts", []):
        listed.update(chapter["file"] for chapter in part["chapters"])
    on_disk = {f"chapters/{path.stem}" for path in (ROOT / "chapters").glob("*.md")}
    assert on_disk == listed


# The audit machinery itself must be able to fail: each mutation below must be detected.

def _copy_book(tmp_path):
    target = tmp_path / "book"
    shutil.copytree(ROOT / "chapters", target / "chapters")
    shutil.copytree(ROOT / "tests", target / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_detects_a_theorem_without_entry(tmp_path):
    book = _copy_book(tmp_path)
    chapter = book / "chapters" / "02_attention_posterior_mean.md"
    chapter.write_text(chapter.read_text() + "\n````{prf:theorem} New\n:label: thm-new-claim\n\nText.\n````\n")
    assert any("thm-new-claim" in item for item in audit.audit_problems(book)["missing_entry"])


def test_detects_a_theorem_without_label(tmp_path):
    book = _copy_book(tmp_path)
    chapter = book / "chapters" / "01_denoising.md"
    chapter.write_text(chapter.read_text() + "\n```{prf:lemma} Unlabelled\nText.\n```\n")
    assert audit.audit_problems(book)["unlabelled"]


def test_detects_a_deleted_entry():
    entries = audit.ENTRIES[1:]
    assert any(audit.ENTRIES[0].label in item for item in audit.audit_problems(ROOT, entries)["missing_entry"])


def test_detects_a_renamed_function():
    entries = (replace(audit.ENTRIES[0], implementation=("ebcore.no_such_function",)),) + audit.ENTRIES[1:]
    assert audit.audit_problems(ROOT, entries)["missing_function"]


def test_detects_a_check_that_is_not_run(tmp_path):
    entries = (replace(audit.ENTRIES[0], checks=("tests/test_audit.py::test_that_does_not_exist",)),) + \
        audit.ENTRIES[1:]
    assert audit.audit_problems(ROOT, entries)["missing_check"]
    book = _copy_book(tmp_path)
    chapter = book / "chapters" / "01_denoising.md"
    # a marked cell without an assert is not a check
    text = chapter.read_text()
    assert "assert result, (result, tweedie_error)" in text
    chapter.write_text(text.replace("assert result, (result, tweedie_error)", "pass"))
    assert any("check-tweedie" in item for item in audit.audit_problems(book)["missing_check"])


def test_detects_a_check_without_its_link_target(tmp_path):
    book = _copy_book(tmp_path)
    chapter = book / "chapters" / "01_denoising.md"
    text = chapter.read_text()
    assert "(check-tweedie)=\n" in text
    chapter.write_text(text.replace("(check-tweedie)=\n", ""))
    assert any("check-tweedie" in item for item in audit.audit_problems(book)["missing_check"])


def test_audit_table_lists_every_entry():
    table = audit.audit_table_markdown()
    assert all(f"{{prf:ref}}`{entry.label}`" in table for entry in audit.ENTRIES)


def test_audit_table_links_implementations_to_their_api_entry():
    table = audit.audit_table_markdown()
    # implementations are named where they are defined (and documented)
    assert "{py:obj}`ebcore.kernel.posterior_mean <ebcore.kernel.posterior_mean>`" in table
    assert "{ref}`chapters/01_denoising.md::check-tweedie <check-tweedie>`" in table
    assert audit.canonical_name("ebcore.priors.Prior.score") == "ebcore.priors.Prior.score"


def test_audit_table_links_unit_tests_to_their_source_page():
    table = audit.audit_table_markdown()
    page = audit.audited_tests_markdown()
    checks = audit.marked_test_labels(ROOT / "tests")
    assert checks
    for check, labels in checks.items():
        target = audit.test_target(check)
        assert f"{{ref}}`{check} <{target}>`" in table
        assert page.count(f"({target})=\n") == 1
        section = page[page.index(f"({target})=\n"):]
        assert f":pyobject: {check.partition('::')[2]}" in section.split("```\n", 1)[0]
        assert all(f"{{prf:ref}}`{label}`" in section.split("```", 1)[0] for label in labels)
    with pytest.raises(ValueError, match="check"):
        audit.test_target("chapters/01_denoising.md::check-tweedie")


def test_registry_is_generated_from_the_declarations():
    # each declaration kind feeds the registry: @implements, a chapter check's labels, a test's mark
    entry = {e.label: e for e in audit.ENTRIES}["thm-tweedie"]
    assert "ebcore.priors.Prior.score" in entry.implementation
    assert "chapters/01_denoising.md::check-tweedie" in entry.checks
    assert "tests/test_priors.py::test_score_is_gradient_of_log_marginal" in entry.checks
    assert entry.title.startswith("Tweedie's formula") and entry.chapter == "01_denoising"


def test_detects_a_label_that_the_book_does_not_state(monkeypatch, tmp_path):
    from ebcore import registry

    monkeypatch.setitem(registry.IMPLEMENTATIONS, "thm-not-in-the-book", ["ebcore.kernel.posterior_mean"])
    assert "thm-not-in-the-book" in audit.audit_problems(ROOT)["orphan_entry"]
    book = _copy_book(tmp_path)
    chapter = book / "chapters" / "01_denoising.md"
    text = chapter.read_text()
    assert "# audit-check: check-tweedie (thm-tweedie)" in text
    chapter.write_text(text.replace("# audit-check: check-tweedie (thm-tweedie)",
                                    "# audit-check: check-tweedie (thm-misspelt)"))
    assert "thm-misspelt" in audit.audit_problems(book)["orphan_entry"]


def test_detects_a_statement_nothing_declares(monkeypatch, tmp_path):
    # without its @implements declarations a statement keeps only its checks: reported
    from ebcore import registry

    monkeypatch.delitem(registry.IMPLEMENTATIONS, "thm-tweedie")
    assert any(item.startswith("thm-tweedie") for item in audit.audit_problems(ROOT)["missing_function"])


def test_code_version_ignores_implements_declarations(tmp_path):
    from ebcore import cache

    plain = tmp_path / "plain.py"
    marked = tmp_path / "marked.py"
    plain.write_text("import math\n\n\ndef f(x):\n    return math.exp(x)\n")
    marked.write_text("import math\n\nfrom .registry import implements\n\n\n@implements(\"thm-x\")\n"
                      "def f(x):\n    \"\"\"Doc.\"\"\"\n    return math.exp(x)\n")
    assert cache.normalised_source(plain) == cache.normalised_source(marked)
    edited = tmp_path / "edited.py"
    edited.write_text("import math\n\n\ndef f(x):\n    return math.exp(2 * x)\n")
    assert cache.normalised_source(plain) != cache.normalised_source(edited)


def test_resolve_errors_on_missing_names():
    with pytest.raises(AttributeError):
        audit.resolve("ebcore.not_a_name")


def test_api_reference_documents_every_module():
    import pkgutil

    import ebcore

    modules = {m.name for m in pkgutil.iter_modules(ebcore.__path__) if not m.name.startswith("_")}
    page = (ROOT / "chapters" / "api.md").read_text()
    documented = set(re.findall(r"^\.\. automodule:: ebcore\.(\w+)", page, flags=re.MULTILINE))
    assert modules - documented == set()
