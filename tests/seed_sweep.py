"""Execute chapters under several book seeds and tabulate every check's margin.

    python -m tests.seed_sweep --seeds 1-5 --chapters 01-13 [--out DIR] [--jobs N]

Each (seed, chapter) runs in its own process with ``EBCORE_SEED`` set, its own results cache
(``DIR/seed-K/cache``, shared by the chapters of one seed, so chapters 11 to 13 reuse the ensembles
chapter 9 trains under that seed) and its own check log. Every check cell records its statistic
and threshold through :func:`ebcore.check`; the table lists, for each check and statistic, how many
runs passed, the worst statistic, its threshold and the worst margin (as a fraction of the
threshold). The table is printed and written as ``DIR/seed_sweep.csv``. The exit status is 1 when
any check failed, any chapter raised an error other than a failing check, or a chapter's marked
check cell recorded nothing.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"


def parse_range(text: str) -> list[int]:
    """``"1-5"`` -> [1, 2, 3, 4, 5]; ``"1,3,7-8"`` -> [1, 3, 7, 8] (inclusive ranges)."""
    values: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise argparse.ArgumentTypeError(f"not a range of non-negative integers: {text!r}")
        lo, hi = int(low), int(high or low)
        if hi < lo:
            raise argparse.ArgumentTypeError(f"empty range {part!r}")
        values.extend(range(lo, hi + 1))
    if not values:
        raise argparse.ArgumentTypeError(f"empty range {text!r}")
    return sorted(set(values))


def chapter_source(number: int) -> Path:
    """The chapter file ``chapters/NN_*.md`` of chapter ``number``."""
    matches = sorted(CHAPTERS.glob(f"{number:02d}_*.md"))
    if len(matches) != 1:
        raise FileNotFoundError(f"no unique chapter file for chapter {number:02d} in {CHAPTERS}")
    return matches[0]


def marked_checks(source: Path) -> list[str]:
    """The names of the ``# audit-check:`` cells of a chapter."""
    return re.findall(r"#\s*audit-check:\s*(\S+)", source.read_text(encoding="utf-8"))


@dataclass
class ChapterRun:
    """What one execution of one chapter under one seed produced."""

    chapter: str
    seed: int
    checks: list = field(default_factory=list)  # dicts as written by ebcore.book.checks
    errors: list = field(default_factory=list)  # "EName: message (cell n)" for non-check errors
    unrecorded: list = field(default_factory=list)  # marked check cells that recorded nothing
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors and not self.unrecorded and all(c["passed"] for c in self.checks)


def execute_chapter(number: int, seed: int, out: Path, timeout: int = 1800, threads: int | None = None) -> ChapterRun:
    """Execute chapter ``number`` under book seed ``seed`` in a fresh process; collect its checks."""
    source = chapter_source(number)
    work = out / f"seed-{seed}"
    work.mkdir(parents=True, exist_ok=True)
    log = work / f"checks-{source.stem}.jsonl"
    if log.exists():
        log.unlink()
    env = dict(os.environ, EBCORE_SEED=str(seed), EBCORE_CHECK_LOG=str(log), EBCORE_PROGRESS="0",
               EBCORE_CACHE=str(work / "cache"), MPLBACKEND="Agg", PYTHONHASHSEED="0")
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    started = time.perf_counter()
    process = subprocess.run([sys.executable, "-m", "tests.seed_sweep", "--execute-one", str(source),
                              "--timeout", str(timeout)], cwd=ROOT, env=env, capture_output=True, text=True)
    run = ChapterRun(source.stem, seed, seconds=time.perf_counter() - started)
    if process.returncode != 0:
        run.errors.append(f"execution failed ({process.returncode}): {process.stderr.strip()[-2000:]}")
    else:
        run.errors.extend(json.loads(process.stdout.strip().splitlines()[-1]))
    if log.exists():
        run.checks = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    recorded = {c["name"] for c in run.checks}
    run.unrecorded = [name for name in marked_checks(source) if name not in recorded]
    return run


def _execute_one(source: Path, timeout: int) -> int:
    """Child process: run every cell (continuing after errors) and print the non-check errors as JSON."""
    import jupytext
    from nbclient import NotebookClient

    notebook = jupytext.read(source)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(source.parent)}})
    client.execute()
    errors = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        is_check = "audit-check:" in cell.source
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            if is_check and output.get("ename") == "AssertionError":
                continue  # a failing check: recorded in the check log
            errors.append(f"{output.get('ename')}: {str(output.get('evalue'))[:500]} (cell {index})")
    print(json.dumps(errors))
    return 0


def summarise(runs: list[ChapterRun]) -> list[dict]:
    """One row per (chapter, check, statistic): passes / runs, worst statistic, threshold, worst margin."""
    rows: dict[tuple, dict] = {}

    def row(chapter, check, statistic, relation="", threshold=None, margin=-math.inf, seed=None):
        entry = rows.setdefault((chapter, check, statistic[:80]), {
            "chapter": chapter, "check": check, "statistic": statistic[:200], "passes": 0, "runs": 0,
            "worst": None, "relation": relation, "threshold": threshold, "margin": margin, "worst_seed": seed})
        entry["runs"] += 1
        return entry

    for run in runs:
        for c in run.checks:
            entry = row(run.chapter, c["name"], c["what"], c["relation"], c["threshold"], margin=math.inf)
            entry["passes"] += bool(c["passed"])
            margin = -math.inf if c["margin"] is None else c["margin"]
            if margin < entry["margin"]:
                entry.update(margin=margin, worst=c["statistic"], threshold=c["threshold"], worst_seed=run.seed)
        for name in run.unrecorded:  # a marked check cell that recorded nothing fails
            row(run.chapter, name, "(not recorded)", seed=run.seed)
        for error in run.errors:
            row(run.chapter, "(error)", error, seed=run.seed)
    return [rows[k] for k in sorted(rows)]


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isinf(value):
            return "-inf" if value < 0 else "inf"
        return f"{value:.4g}"
    return str(value)


def print_table(rows: list[dict], runs: list[ChapterRun]) -> None:
    header = ["chapter", "check", "statistic", "passes/runs", "worst", "relation", "threshold", "margin", "seed"]
    table = [[r["chapter"][:2], r["check"], r["statistic"], f"{r['passes']}/{r['runs']}", _fmt(r["worst"]),
              r["relation"], _fmt(r["threshold"]),
              "-" if r["margin"] in (None, -math.inf) else f"{r['margin']:.1%}", _fmt(r["worst_seed"])]
             for r in rows]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *table)]
    for line in [header, ["-" * w for w in widths], *table]:
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)))
    by_chapter: dict[str, list[float]] = {}
    for run in runs:
        by_chapter.setdefault(run.chapter, []).append(run.seconds)
    print("seconds per execution: " + ", ".join(f"{c[:2]} {min(v):.0f}-{max(v):.0f}" for c, v in sorted(by_chapter.items())))


def write_csv(rows: list[dict], path: Path) -> None:
    fields = ["chapter", "check", "statistic", "passes", "runs", "worst", "relation", "threshold", "margin",
              "worst_seed"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row[k] is None else row[k]) for k in fields})


def sweep(seeds: list[int], chapters: list[int], out: Path, jobs: int) -> tuple[list[dict], list[ChapterRun]]:
    """Run every (seed, chapter) with ``jobs`` processes at a time; chapters of a seed start in order."""
    out.mkdir(parents=True, exist_ok=True)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    tasks = [(c, s) for s in seeds for c in chapters]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        runs = list(pool.map(lambda task: execute_chapter(task[0], task[1], out, threads=threads), tasks))
    return summarise(runs), runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=parse_range, default=[1, 2, 3, 4, 5], help="inclusive ranges, e.g. 1-5")
    parser.add_argument("--chapters", type=parse_range, default=list(range(1, 14)), help="inclusive ranges, e.g. 01-13")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "seed-sweep")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--execute-one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)
    if args.execute_one:
        return _execute_one(args.execute_one, args.timeout)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    rows, runs = sweep(args.seeds, args.chapters, args.out, args.jobs)
    print_table(rows, runs)
    write_csv(rows, args.out / "seed_sweep.csv")
    failed = [r for r in runs if not r.ok]
    print(f"{len(runs)} executions, {len(failed)} with a failing check or error; table in {args.out / 'seed_sweep.csv'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
