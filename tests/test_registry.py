"""The @implements declarations: what they record, what they refuse."""
import pytest

from ebcore import registry


def test_implements_records_functions_methods_and_classmethods(monkeypatch):
    monkeypatch.setattr(registry, "IMPLEMENTATIONS", {})

    @registry.implements("thm-one", "prop-two")
    def f():
        return 1

    class A:
        @registry.implements("thm-one")
        @classmethod
        def make(cls):
            return cls()

    assert f() == 1 and f.__implements__ == ("thm-one", "prop-two")
    assert isinstance(A.make(), A)
    name = f"{__name__}.test_implements_records_functions_methods_and_classmethods.<locals>"
    assert registry.IMPLEMENTATIONS["thm-one"] == [f"{name}.f", f"{name}.A.make"]
    assert registry.IMPLEMENTATIONS["prop-two"] == [f"{name}.f"]


def test_implements_refuses_what_is_not_a_label():
    with pytest.raises(TypeError, match="label"):
        registry.implements()
    for bad in ("tweedie", "thm-", "Thm-Tweedie", 3):
        with pytest.raises(ValueError, match="labels"):
            registry.implements(bad)
