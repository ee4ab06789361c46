"""The book's own machinery, apart from the numerical library.

Nothing here computes a result that a chapter reports: it records checks for the seed sweep.
The results cache's code version ignores this package, so editing it never invalidates a stored
ensemble or path.
"""
from .checks import RELATIONS, CheckResult, check, read_check_log

__all__ = ["RELATIONS", "CheckResult", "check", "read_check_log"]
