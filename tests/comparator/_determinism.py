"""What "the same runs, timings aside" means, for the determinism and Ray tests.

Every column but the timings (and where and when a run ran) must be equal, row for row by run key, with
one allowance the clock forces: a run stopped by its budget is a timeout in both tables, but what it had
done by then (candidates counted, the reader's last reason, whether it stopped itself or was killed) is a
measure of time, so for timeouts only the status is compared. A run whose status differs is a failure
unless it took more than half its budget in one of the tables (then its outcome is the clock's) -- those
are reported as warnings, so a loaded machine cannot make the test flaky and a real difference cannot
hide: a quick run that changes its answer fails.
"""
from __future__ import annotations

import math
import warnings

import pandas as pd

TIMING = ("seconds", "cpu_seconds", "train_seconds", "extract_seconds", "phases", "started_at", "finished_at", "host",
          "comparison")


def _same(x, y) -> bool:
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    if x is None or y is None or (isinstance(x, float) and math.isnan(x)) or (isinstance(y, float) and math.isnan(y)):
        return (x is None or (isinstance(x, float) and math.isnan(x))) and (y is None or (isinstance(y, float) and math.isnan(y)))
    return repr(x) == repr(y)


def differences(a: pd.DataFrame, b: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(failures, clock-bound differences) between two runs tables."""
    assert sorted(a["key"]) == sorted(b["key"]), "the two tables hold different runs"
    a = a.set_index("key").sort_index()
    b = b.set_index("key").sort_index()
    failures, clock = [], []
    columns = [c for c in a.columns if c not in TIMING]
    for key in a.index:
        x, y = a.loc[key], b.loc[key]
        name = f"{x['task']} {x['route']}/{x['method']} seed {x['seed']}"
        if x["status"] != y["status"]:
            slow = max(x["seconds"], y["seconds"]) > 0.5 * x["budget"]
            (clock if slow else failures).append(
                f"{name}: status {x['status']} ({x['seconds']:.2f} s) vs {y['status']} ({y['seconds']:.2f} s)")
            continue
        if x["status"] == "timeout":
            continue
        for c in columns:
            if not _same(x[c], y[c]):
                failures.append(f"{name}: {c} {x[c]!r} vs {y[c]!r}")
    return failures, clock


def assert_same_runs(a: pd.DataFrame, b: pd.DataFrame) -> None:
    failures, clock = differences(a, b)
    for line in clock:
        warnings.warn(f"a run near its budget ended differently (the clock decided): {line}", stacklevel=2)
    assert not failures, "runs differ beyond their timings:\n" + "\n".join(failures)
