"""Training jobs: build and train_many."""
import pytest

import ebcore
from ebcore import models


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.models.build({"epochs": 1}), ValueError, "kind"),
    (lambda: ebcore.models.build({"kind": "attention", "task": 3}), TypeError, "task"),
])
def test_inputs_that_used_to_reach_raw_exceptions_or_a_wrong_cache_entry(call, error, match):
    # each of these raised an AttributeError/KeyError/IndexError/RuntimeError from deep inside, or
    # (the cached functions) converted 2.9 to 2 or 0.7 to 0 and served another entry from a warm cache
    with pytest.raises(error, match=match):
        call()


def test_bad_input_names_the_argument():
    """Every public function added for chapters 7, 8, 12 and 13 rejects bad input with the argument's name."""
    cases = [
        (ValueError, "kind", lambda: models.build({"kind": "mlp", "epochs": 1})),
        (ValueError, "optimizer", lambda: models.train_many([{"kind": "attention", "epochs": 1, "optimizer": "rmsprop"}])),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()
