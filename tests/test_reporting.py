"""Reporting helpers: glued values, Markdown tables, mean and standard error."""
import pytest

import ebcore


def test_glue_refuses_bad_values():
    with pytest.raises(ValueError, match="finite"):
        ebcore.glue("x", float("nan"))
    with pytest.raises(ValueError, match="name"):
        ebcore.glue("", 1.0)
