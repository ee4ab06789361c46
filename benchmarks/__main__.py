"""``python -m benchmarks [substring]``: run the benchmark cases and print the table."""
import sys

import torch

from . import cases_dynamics, cases_ensembles, cases_kernel, cases_paths
from .runner import format_table, run_cases

ALL_CASES = [*cases_kernel.CASES, *cases_dynamics.CASES, *cases_paths.CASES, *cases_ensembles.CASES]


def main(argv: list[str]) -> int:
    only = argv[0] if argv else None
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"CUDA {'available' if torch.cuda.is_available() else 'not available'}")
    rows = run_cases(ALL_CASES, only)
    print(format_table(rows))
    missed = [row["case"] for row in rows if row.get("met") is False or row["time"] == "error"]
    if missed:
        print("targets missed or cases failed:", "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
