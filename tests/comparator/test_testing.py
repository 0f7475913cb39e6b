"""comparator.testing: the helpers pass on right answers and fail, with the reason, on wrong ones."""
from __future__ import annotations

import pytest
from hypothesis import given, settings

import extraction
import toy_tasks
from comparator.testing import assert_equivalent, assert_faithful, assert_solves
from programs import Int
from toy_tasks import strategies


def test_assert_equivalent_passes_and_fails_with_a_counterexample():
    dom = {"a": Int(0, 4), "b": Int(0, 4)}
    assert_equivalent("def f(a, b):\n    return max(a, b)\n", "def g(a, b):\n    return b if a < b else a\n", dom)
    with pytest.raises(AssertionError, match="differ on"):
        assert_equivalent("def f(a, b):\n    return a + b\n", "def g(a, b):\n    return a | b\n", dom)


def test_assert_faithful_on_an_extraction_and_on_a_wrong_program():
    task = toy_tasks.get("running_parity", length=8)
    net = extraction.train(task, seed=0)
    assert_faithful(net, extraction.extract(net, "fsm", seconds=30))
    with pytest.raises(AssertionError, match="agreement F1"):
        assert_faithful(net, "def f(xs):\n    s = 0\n    for x in xs:\n        s = s | x\n        yield s\n")


def test_assert_solves_reports_what_went_wrong():
    task = toy_tasks.get("majority", n=3)
    assert_solves(task, "enumerative", seconds=10)
    with pytest.raises(AssertionError, match="not correct"):
        assert_solves(task, "enumerative", seconds=10, examples=1)
    with pytest.raises(ValueError, match="neither a synthesis method"):
        assert_solves(task, "nope")


@settings(max_examples=4, deadline=None)
@given(strategies.tasks(suite="quick", family="boolean"))
def test_a_property_based_run_over_both_routes(task):
    assert_solves(task, "enumerative", seconds=10)
    assert_solves(task, "auto", seconds=30)
