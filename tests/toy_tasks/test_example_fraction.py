"""A task's stated share of its domain as its default examples (``Task.example_fraction``): modular
arithmetic states one from p = 31 (the grokking regime) and keeps the whole table below; user tasks may state
one; both routes get the same examples; bad shares are refused."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toy_tasks
from toy_tasks import Int, TaskError
from toy_tasks.catalog.modular import GROK_FROM, grokking_fraction
from toy_tasks.problem import MAX_ENUMERATED

MODULAR = ("modular_addition", "modular_subtraction", "modular_multiplication", "modular_sum_of_squares",
           "modular_difference_of_squares", "modular_linear_combination", "modular_cubic")


@pytest.mark.parametrize("p", [5, 7, 13, 17, 23])
def test_small_moduli_keep_the_whole_table(p):
    task = toy_tasks.get("modular_addition", p=p)
    assert task.example_fraction is None
    ex = task.example_set()
    assert ex.complete and len(ex) == p * p


@pytest.mark.parametrize("p", [31, 37, 43, 59, 79, 113])
def test_from_31_a_modular_task_states_part_of_its_table(p):
    task = toy_tasks.get("modular_multiplication", p=p)
    share = grokking_fraction(p)
    assert task.example_fraction == share and 0 < share < 1
    ex = task.example_set()
    assert not ex.complete and len(ex) == round(share * p * p)
    assert len({(a, b) for a, b in zip(ex.inputs["a"], ex.inputs["b"])}) == len(ex)  # distinct inputs


def test_the_standard_suite_meets_modular_arithmetic_in_the_grokking_regime():
    for task in toy_tasks.suite("standard"):
        if task.family == "modular":
            assert task.params["p"] >= GROK_FROM and task.example_fraction is not None, task.name
    assert all(t.params["p"] < GROK_FROM for t in toy_tasks.suite("quick") if t.family == "modular")
    scaling = {t.params["p"] for t in toy_tasks.suite("scaling") if t.name.startswith("modular_addition")}
    assert max(scaling) == 113 and min(scaling) < GROK_FROM


@given(st.sampled_from(MODULAR), st.integers(min_value=2, max_value=1200))
def test_the_stated_share_is_none_below_31_and_at_least_the_linear_tasks(name, p):
    share = toy_tasks.get(name, p=p).example_fraction
    assert (share is None) == (p < GROK_FROM or p * p > MAX_ENUMERATED)
    if share is not None:
        assert grokking_fraction(p) <= share < 1


@given(st.integers(min_value=GROK_FROM, max_value=math.isqrt(MAX_ENUMERATED) - 1), st.integers(min_value=1, max_value=3))
def test_the_share_falls_as_p_grows_and_rises_with_a_many_to_one_map(p, k):
    assert grokking_fraction(p + 1, k) <= grokking_fraction(p, k) <= grokking_fraction(p, k + 1) < 1


def test_both_routes_get_the_stated_examples():
    task = toy_tasks.get("modular_addition", p=31)
    import extraction

    want = task.example_set(seed=2)
    for problem in (task.problem(seed=2), toy_tasks.as_problem(task, None, 2),
                    extraction.untrained(task, seed=2).problem):
        got = problem.examples
        assert len(got) == len(want)
        assert all(np.array_equal(got.inputs[n], want.inputs[n]) for n in want.inputs)
        assert np.array_equal(got.outputs, want.outputs)


def test_an_explicit_spec_overrides_the_stated_share():
    task = toy_tasks.get("modular_addition", p=31)
    assert len(task.example_set(100)) == 100
    assert len(task.example_set(1.0)) == 31 * 31
    assert len(task.example_set("default")) == len(task.example_set(None)) == round(task.example_fraction * 961)


def _user(fraction, p=17):
    return toy_tasks.from_program("sum17", f"def f(a, b):\n    return (a + b) % {p}", {"a": Int(0, p), "b": Int(0, p)},
                                  example_fraction=fraction)


@settings(max_examples=30, deadline=None)
@given(st.floats(min_value=1e-3, max_value=1.0), st.floats(min_value=1e-3, max_value=1.0))
def test_a_user_task_states_a_share_and_smaller_shares_are_nested(f, g):
    small, large = sorted((f, g))
    a, b = _user(small).example_set(seed=1), _user(large).example_set(seed=1)
    assert len(a) == max(1, round(small * 289)) and len(b) == max(1, round(large * 289))
    assert _rows(a) <= _rows(b)


def _rows(ex) -> set[tuple[int, int]]:
    return set(zip(ex.inputs["a"].tolist(), ex.inputs["b"].tolist()))


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.5, math.nan, True, "0.5"])
def test_a_share_outside_zero_to_one_is_refused(bad):
    with pytest.raises(TaskError, match="example_fraction"):
        _user(bad)
    with pytest.raises(TaskError, match="example_fraction"):
        toy_tasks.from_function("f", lambda a: a, {"a": Int(0, 4)}, example_fraction=bad)


def test_a_domain_too_large_to_enumerate_cannot_state_a_share():
    from toy_tasks import Seq

    with pytest.raises(TaskError, match="too large"):
        toy_tasks.from_program("big", "def f(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n    return s",
                               {"xs": Seq(Int(0, 100), length=12)}, example_fraction=0.5)
