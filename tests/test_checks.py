"""ebcore.check: the statistic, its threshold, the margin, and the record the seed sweep reads."""
import math

import numpy as np
import pytest
import torch

import ebcore
from ebcore.book import read_check_log


@pytest.mark.parametrize("statistic, relation, threshold, passed, margin", [
    (3.0, "<", 5.0, True, 0.4), (5.0, "<", 5.0, False, 0.0), (5.0, "<=", 5.0, True, 0.0),
    (1500.0, ">", 1000.0, True, 0.5), (900.0, ">=", 1000.0, False, -0.1), (0.5, "<", 0.0, False, -0.5),
])
def test_relations_and_margins(statistic, relation, threshold, passed, margin):
    result = ebcore.check("check-x", statistic, relation, threshold)
    assert bool(result) is passed
    assert result.margin == pytest.approx(margin)
    assert ("passed" if passed else "FAILED") in str(result)


def test_nan_statistic_fails_every_relation():
    for relation in ("<", "<=", ">", ">="):
        result = ebcore.check("check-x", float("nan"), relation, 1.0)
        assert not result and result.margin == -math.inf


def test_numpy_and_torch_scalars_are_accepted():
    assert ebcore.check("c", np.float32(1.0), "<", 2)
    assert ebcore.check("c", torch.tensor(1.0), "<", np.float64(2))
    assert ebcore.check("c", np.array(1.0), "<", 2)


@pytest.mark.parametrize("kwargs, error", [
    (dict(name="", statistic=1.0, relation="<", threshold=1.0), ValueError),
    (dict(name="c", statistic="1", relation="<", threshold=1.0), TypeError),
    (dict(name="c", statistic=np.ones(2), relation="<", threshold=1.0), TypeError),
    (dict(name="c", statistic=1.0, relation="==", threshold=1.0), ValueError),
    (dict(name="c", statistic=1.0, relation="<", threshold=float("inf")), ValueError),
    (dict(name="c", statistic=True, relation="<", threshold=1.0), TypeError),
    (dict(name="c", statistic=1.0, relation="<", threshold=1.0, what=""), ValueError),
])
def test_bad_input_names_the_argument(kwargs, error):
    with pytest.raises(error):
        ebcore.check(**kwargs)


def test_results_are_recorded_when_a_log_is_named(tmp_path, monkeypatch):
    log = tmp_path / "checks.jsonl"
    monkeypatch.setenv("EBCORE_CHECK_LOG", str(log))
    monkeypatch.setenv("EBCORE_SEED", "4")
    ebcore.check("check-a", 1.0, "<", 2.0, what="worst error")
    ebcore.check("check-b", float("nan"), ">", 0.0)
    first, second = read_check_log(log)
    assert (first.name, first.what, first.passed, first.margin) == ("check-a", "worst error", True, 0.5)
    assert second.name == "check-b" and not second.passed and math.isnan(second.statistic)
    monkeypatch.delenv("EBCORE_CHECK_LOG")
    ebcore.check("check-c", 1.0, "<", 2.0)
    assert len(read_check_log(log)) == 2


def test_seed_sweep_summary_keeps_the_worst_run_and_flags_gaps():
    from seed_sweep import ChapterRun, parse_range, summarise

    good = {"name": "c", "what": "w", "passed": True, "margin": 0.5, "statistic": 1.0, "relation": "<", "threshold": 2.0}
    bad = dict(good, passed=False, margin=-0.1, statistic=2.2)
    runs = [ChapterRun("01_x", 1, checks=[good], unrecorded=["d"]), ChapterRun("01_x", 2, checks=[bad], errors=["E: x"])]
    assert runs[0].ok is False and runs[1].ok is False and ChapterRun("01_x", 3, checks=[good]).ok
    rows = {(r["check"], r["statistic"]): r for r in summarise(runs)}
    assert rows["c", "w"]["passes"] == 1 and rows["c", "w"]["runs"] == 2
    assert rows["c", "w"]["worst"] == 2.2 and rows["c", "w"]["worst_seed"] == 2
    assert ("d", "(not recorded)") in rows and ("(error)", "E: x") in rows
    assert parse_range("01-03,7") == [1, 2, 3, 7]
    with pytest.raises(Exception):
        parse_range("3-1")
