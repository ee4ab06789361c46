"""Reporting helpers: glued values, Markdown tables, mean and standard error."""
import pytest

import ebcore


def test_glue_refuses_bad_values():
    with pytest.raises(ValueError, match="finite"):
        ebcore.glue("x", float("nan"))
    with pytest.raises(ValueError, match="name"):
        ebcore.glue("", 1.0)


def test_markdown_table():
    from ebcore.reporting import format_mean_se, markdown_table

    assert markdown_table(["a", "b"], [[1, "x|y"]]) == "| a | b |\n|---|---|\n| 1 | x\\|y |"
    assert markdown_table(["|z| < 1e-3"], [["2.5e-08 ± 1e-09"]]).splitlines()[::2] == [
        "| \\|z\\| < 10\u207b\u00b3 |", "| 2.5 \u00d7 10\u207b\u2078 \u00b1 10\u207b\u2079 |"]
    assert format_mean_se(0.00123, 0.0004) == "1.2e-03 ± 4.0e-04"
    with pytest.raises(ValueError, match="rows\\[0\\]"):
        markdown_table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="header"):
        markdown_table([], [])


def test_markdown_table_escapes_bars_and_line_breaks_in_the_header_too():
    from ebcore.book.reporting import markdown_table

    table = markdown_table(["|z| > 2", "a\nb"], [["x|y", "1"]])
    lines = table.split("\n")
    assert lines[0] == "| \\|z\\| > 2 | a b |"
    assert lines[2] == "| x\\|y | 1 |"
    # every line has the same number of unescaped separators: the table renders
    assert len({line.replace("\\|", "").count("|") for line in lines}) == 1


def test_page_check_finds_tables_that_did_not_render():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from check_built_book import table_problems

    assert table_problems("<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>") == []
    assert table_problems("<p>| a | b |\n|---|---|</p>")
    assert table_problems("<p>| a | b |\n|\u2014|\u2014|</p>")  # the rule after smart quotes
    assert table_problems("<p>|q - k|^2 from coordinate differences</p>") == []  # prose that starts with a bar
    assert table_problems("<table><tr><th>a</th><th>b</th></tr><tr><td>1</td></tr></table>")


@pytest.mark.parametrize("text, expected", [
    ("8.1e-12", "8.1 \u00d7 10\u207b\u00b9\u00b2"), ("1e-09", "10\u207b\u2079"), ("-2.5e+03", "-2.5 \u00d7 10\u00b3"),
    ("3e0", "3"), ("below 1e-9.", "below 10\u207b\u2079."), ("[1.3e-15, 2e-3]", "[1.3 \u00d7 10\u207b\u00b9\u2075, 2 \u00d7 10\u207b\u00b3]"),
    ("h2e3", "h2e3"), ("1e5.3", "1e5.3"), ("0.05", "0.05"), ("seed 1e", "seed 1e"),
])
def test_readable_numbers(text, expected):
    """e-notation becomes a power of ten; numbers without an exponent and e-notation inside words stay."""
    from ebcore.reporting import readable_numbers

    assert readable_numbers(text) == expected
