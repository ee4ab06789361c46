"""The benchmark runner: cases, subprocess isolation, the table."""
from __future__ import annotations

import multiprocessing as mp
import resource
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Case:
    """A named benchmark: ``setup()`` builds the inputs, ``run(inputs)`` is timed."""

    name: str
    setup: Callable[[], object]
    run: Callable[[object], object]
    baseline: str | None = None
    target: str = ""
    repeats: int = 7
    min_speedup: float | None = None  # required time(baseline) / time(case), if any
    notes: dict = field(default_factory=dict)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _measure(case: Case, queue) -> None:
    try:
        import torch
        torch.set_num_threads(torch.get_num_threads())
        inputs = case.setup()
        case.run(inputs)  # warm-up (allocator, lazy initialisation)
        before = _peak_rss_mib()
        times = []
        for _ in range(case.repeats):
            start = time.perf_counter()
            case.run(inputs)
            times.append(time.perf_counter() - start)
        queue.put({"times": times, "peak_mib": _peak_rss_mib(), "extra_mib": _peak_rss_mib() - before})
    except Exception as error:  # reported in the table, not swallowed
        queue.put({"error": f"{type(error).__name__}: {error}"})


def measure(case: Case) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(case, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def run_cases(cases: list[Case], only: str | None = None) -> list[dict]:
    rows, results = [], {}
    for case in cases:
        if only and only not in case.name and (case.baseline is None or only not in case.baseline):
            continue
        result = measure(case)
        results[case.name] = result
        row = {"case": case.name, "baseline": case.baseline or "", "target": case.target}
        if "error" in result:
            row.update(time="error", error=result["error"])
        else:
            row.update(time=statistics.median(result["times"]), best=min(result["times"]),
                       peak_mib=result["peak_mib"])
        rows.append(row)
    for row, case in zip(rows, [c for c in cases if c.name in results]):
        base = results.get(case.baseline) if case.baseline else None
        if base and "times" in base and isinstance(row["time"], float):
            # best-of-N: on a shared machine noise only ever adds time
            row["ratio"] = min(base["times"]) / row["best"]
            if case.min_speedup is not None:
                row["met"] = row["ratio"] >= case.min_speedup
    return rows


def format_table(rows: list[dict]) -> str:
    header = (f"{'case':58s} {'median s':>10s} {'best s':>9s} {'peak MiB':>9s} "
              f"{'speed-up (best)':>22s}  target")
    lines = [header, "-" * len(header)]
    for row in rows:
        t = row["time"]
        time_s = f"{t:10.4f} {row['best']:9.4f}" if isinstance(t, float) else f"{t:>20s}"
        peak = f"{row['peak_mib']:9.0f}" if "peak_mib" in row else " " * 9
        ratio = ""
        if "ratio" in row:
            ratio = f"{row['ratio']:.2f}x vs {row['baseline'][:10]}"
            if "met" in row:
                ratio += " ok" if row["met"] else " MISSED"
        lines.append(f"{row['case'][:58]:58s} {time_s} {peak} {ratio:>22s}  {row['target']}")
        if "error" in row:
            lines.append(f"    error: {row['error']}")
    return "\n".join(lines)
