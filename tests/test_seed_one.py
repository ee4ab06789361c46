"""Every check of chapters 1 to 7 also holds under book seed 1 (seed 0 is the book build's).

A check tuned, knowingly or not, to the published seed's draws would pass the build and fail
here. Seed 1 is fixed (not rotating), so a failure always reproduces; ``python -m tests.seed_sweep``
runs any range of seeds and chapters. Each chapter runs in its own process with its own results
cache under ``_build/seed-sweep-ci``.
"""
from pathlib import Path

import pytest

from seed_sweep import execute_chapter, print_table, summarise

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("chapter", range(1, 8), ids=lambda c: f"chapter{c:02d}")
def test_checks_hold_under_seed_one(chapter, capsys):
    run = execute_chapter(chapter, 1, ROOT / "_build" / "seed-sweep-ci")
    print_table(summarise([run]), [run])
    table = capsys.readouterr().out
    assert run.checks, f"chapter {chapter:02d} recorded no check\n{table}"
    assert run.ok, f"chapter {chapter:02d} under EBCORE_SEED=1:\n{table}"
