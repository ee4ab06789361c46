"""One helper for every numerical check of the book: the statistic, its threshold, and the record.

A chapter's check cell computes one statistic per condition (a worst error, a smallest effective
sample size, a largest ``|z|``), compares it with a threshold that the text justifies, and asserts::

    result = ebcore.check("check-tweedie", worst_error, "<", 1e-8, what="worst |error|")
    assert result, result

:func:`check` returns a :class:`CheckResult` that is true when the check passes and says how far
from its threshold the statistic is. When ``EBCORE_CHECK_LOG`` names a file, every result is also
appended to it as one JSON line (with the book seed and the scale), which is how
``python -m tests.seed_sweep`` collects the margins of every check over several seeds.
"""
from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["RELATIONS", "CheckResult", "check", "read_check_log"]

#: The comparisons a check may make between its statistic and its threshold.
RELATIONS = {"<": lambda s, t: s < t, "<=": lambda s, t: s <= t, ">": lambda s, t: s > t,
             ">=": lambda s, t: s >= t}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``bool(result)`` is whether it passed.

    ``margin`` is the distance from the statistic to the threshold, as a fraction of the threshold's
    size, positive when the check passes: 0.5 means the statistic could move by half the threshold
    before the check fails. A threshold of 0 has no scale: the margin is then the plain distance.
    """

    name: str
    what: str
    statistic: float
    relation: str
    threshold: float
    passed: bool
    margin: float

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (f"{self.name} ({self.what}): {self.statistic:.6g} {self.relation} {self.threshold:.6g} {verdict}, "
                f"margin {self.margin:.1%}")


def _as_real(value, name: str) -> float:
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()  # 0-d numpy arrays, numpy scalars and 0-d torch tensors
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def check(name: str, statistic, relation: str, threshold, what: str = "statistic") -> CheckResult:
    """Compare ``statistic`` with ``threshold`` by ``relation`` (``<``, ``<=``, ``>``, ``>=``) and record it.

    Parameters
    ----------
    name : str
        The check's name, as in its ``# audit-check:`` comment.
    statistic : float
        What the check measured. A NaN statistic fails every relation.
    relation : str
        One of :data:`RELATIONS`.
    threshold : float
        The bound the statistic must respect (finite).
    what : str
        Which statistic this is, for checks with several conditions.

    Returns
    -------
    CheckResult
        True when the check passed.

    Raises
    ------
    TypeError
        If ``statistic`` or ``threshold`` is not a real number (a bool is not one).
    ValueError
        If ``name`` or ``what`` is not a non-empty string, ``relation`` is not one of
        :data:`RELATIONS`, or ``threshold`` is not finite.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if not isinstance(what, str) or not what:
        raise ValueError(f"what must be a non-empty string, got {what!r}")
    if relation not in RELATIONS:
        raise ValueError(f"relation must be one of {sorted(RELATIONS)}, got {relation!r}")
    statistic = _as_real(statistic, "statistic")
    threshold = _as_real(threshold, "threshold")
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    passed = bool(RELATIONS[relation](statistic, threshold))
    scale = abs(threshold) if threshold != 0 else 1.0
    if math.isnan(statistic):
        margin = -math.inf
    else:
        distance = threshold - statistic if relation.startswith("<") else statistic - threshold
        margin = distance / scale
    result = CheckResult(name, what, statistic, relation, threshold, passed, margin)
    _record(result)
    return result


def _record(result: CheckResult) -> None:
    log = os.environ.get("EBCORE_CHECK_LOG")
    if not log:
        return
    row = asdict(result)
    row["seed"] = os.environ.get("EBCORE_SEED", "0") or "0"
    row["scale"] = os.environ.get("EBCORE_SCALE", "default") or "default"
    if math.isinf(row["margin"]) or math.isnan(row["statistic"]):
        row["margin"] = None if math.isnan(row["margin"]) or math.isinf(row["margin"]) else row["margin"]
        row["statistic"] = None if math.isnan(row["statistic"]) else row["statistic"]
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")


def read_check_log(path) -> list[CheckResult]:
    """The results recorded in a check log, in order (a missing statistic reads back as NaN)."""
    results = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        statistic = math.nan if row["statistic"] is None else float(row["statistic"])
        margin = -math.inf if row["margin"] is None else float(row["margin"])
        results.append(CheckResult(row["name"], row["what"], statistic, row["relation"], float(row["threshold"]),
                                   bool(row["passed"]), margin))
    return results
