"""The same seeds give the same runs table (timings aside) in two separate comparisons, each in fresh
worker processes: training, reading the network, search and verification are all seeded."""
from __future__ import annotations

import pytest
from _determinism import assert_same_runs, differences

import comparator

TASKS = ["parity[n=4]", "contains[values=3,length=4]", "modular_addition[p=7]"]


@pytest.mark.slow
def test_two_comparisons_with_the_same_seeds_give_the_same_runs(tmp_path):
    kwargs = dict(extractors=("auto",), synthesizers=("enumerative", "stochastic"), seconds=10.0, seeds=2, workers=2)
    first = comparator.compare(TASKS, store=tmp_path / "a.sqlite", **kwargs)
    second = comparator.compare(TASKS, store=tmp_path / "b.sqlite", **kwargs)
    assert len(first.runs) == len(second.runs) == len(TASKS) * 2 * 3
    assert (first.runs["status"] == "solved").sum() >= len(TASKS) * 2  # real work, not a table of errors
    assert_same_runs(first.runs, second.runs)


def test_the_comparison_of_tables_catches_a_changed_answer(tmp_path):
    runs = comparator.compare(["multiplexer[k=1]"], extractors=(), seconds=10.0, store=tmp_path / "c.sqlite",
                              workers=1).runs
    changed = runs.copy()
    changed.loc[0, "program"] = "def f(a0, d0, d1):\n    return d0\n"
    failures, _ = differences(runs, changed)
    assert failures and "program" in failures[0]
    changed = runs.copy()
    changed.loc[0, "status"] = "wrong"
    failures, _ = differences(runs, changed)
    assert failures and "status" in failures[0]
