"""The "Cite this book" page's generator (_ext/cite_page.py): the BibTeX entry carries the version and the
commit, CITATION.cff states the library's version, and a folder outside git is reported as such."""
import sys
from pathlib import Path

import yaml

import ebcore

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
import cite_page  # noqa: E402


def test_citation_file_states_the_library_version():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert str(citation["version"]) == ebcore.__version__


def test_bibtex_entry_carries_version_commit_and_authors():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    entry = cite_page.bibtex_entry(citation, "9.8.7", "0123abc", url="https://example.org/book")
    assert entry.startswith("@software{ebcore_book_9_8_7,")
    assert "version = {9.8.7}" in entry and "Built from commit 0123abc" in entry
    assert "url = {https://example.org/book}" in entry
    assert "author = {{The ebcore authors}}" in entry
    assert entry.count("{") == entry.count("}")


def test_people_are_listed_family_name_first():
    citation = {"title": "T", "date-released": "2026-01-02",
                "authors": [{"family-names": "Doe", "given-names": "Ann"}, {"name": "A Lab"}]}
    entry = cite_page.bibtex_entry(citation, "1.0", "abc")
    assert "author = {Doe, Ann and {A Lab}}" in entry and "year = {2026}" in entry


def test_commit_outside_git_is_reported_as_unknown(tmp_path):
    assert cite_page.build_commit(tmp_path).startswith("unknown")


def test_commit_of_this_checkout_is_a_hash():
    commit = cite_page.build_commit(ROOT).split()[0]
    assert len(commit) == 40 and all(c in "0123456789abcdef" for c in commit)
