"""Speed targets of the book: ``python -m benchmarks`` prints a table of named cases.

Each case is timed in a fresh subprocess (so its peak memory is its own) and compared with
its baseline case, measured in the same run on the same machine.
"""
