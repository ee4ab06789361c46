"""The EBCORE_SCALE switch between the book's and the paper's sizes."""
import pytest

import ebcore


def test_scale_switch(monkeypatch):
    monkeypatch.delenv("EBCORE_SCALE", raising=False)
    assert ebcore.at_scale(1, 2) == 1
    monkeypatch.setenv("EBCORE_SCALE", "paper")
    assert ebcore.at_scale(1, 2) == 2
    monkeypatch.setenv("EBCORE_SCALE", "huge")
    with pytest.raises(ValueError, match="EBCORE_SCALE"):
        ebcore.current_scale()
