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
    assert format_mean_se(0.00123, 0.0004) == "1.2e-03 ± 4.0e-04"
    with pytest.raises(ValueError, match="rows\\[0\\]"):
        markdown_table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="header"):
        markdown_table([], [])
