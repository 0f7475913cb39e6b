"""The ``logic`` synthesizer: two-level logic minimisation of functions of bits."""
from __future__ import annotations

import itertools

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

import synthesis
import toy_tasks
from programs import parse
from toy_tasks import Int, Seq


def table_task(bits: int, ones: set[tuple[int, ...]], operators=None):
    names = [f"x{i}" for i in range(bits)]
    rows = [r for r in itertools.product((0, 1), repeat=bits) if r in ones]
    test = " or ".join("(" + " and ".join(n if v else f"not {n}" for n, v in zip(names, r)) + ")" for r in rows) or "0"
    source = f"def f({', '.join(names)}):\n    return 1 if {test} else 0\n"
    kwargs = {} if operators is None else {"operators": operators}
    return toy_tasks.from_program("table", source, {n: Int(0, 2) for n in names}, **kwargs)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.tuples(*[st.integers(0, 1)] * n)))))
def test_a_whole_truth_table_gives_the_function_or_an_abstention_for_too_many_terms(case):
    bits, ones = case
    task = table_task(bits, ones)
    r = synthesis.solve(task, "logic", examples=task.examples(None), seconds=30)
    if r.status == "solved":
        assert task.verify(r.program).equal
    else:
        assert r.status == "abstained" and "terms" in r.reasons[0]


@settings(max_examples=40, deadline=None)
@given(st.sets(st.tuples(*[st.integers(0, 1)] * 4)), st.integers(1, 15), st.integers(0, 10**6))
def test_part_of_a_table_is_fitted_with_the_rest_as_dont_cares(ones, n, seed):
    task = table_task(4, ones)
    examples = task.examples(n, seed=seed)
    r = synthesis.solve(task, "logic", examples=examples, seconds=30)
    assert r.status in ("solved", "abstained")
    if r.status == "solved":  # solve() has checked the program against the examples; check it here too
        from synthesis.problem import Problem

        assert task.problem(examples).fits(r.program)


@pytest.mark.parametrize("name, params", [("majority", {"n": 5}), ("multiplexer", {"k": 2}), ("bits_equal", {}),
                                          ("at_least_two", {}), ("adder_carry", {}), ("conjunction", {})])
def test_boolean_tasks_from_their_whole_domain(name, params):
    task = toy_tasks.get(name, **params)
    r = synthesis.solve(task, "logic", examples=task.examples(None), seconds=30)
    assert r.status == "solved" and task.verify(r.program).equal


def test_parity_is_a_table_written_out_so_it_abstains():
    task = toy_tasks.get("parity", n=6)
    r = synthesis.solve(task, "logic", examples=task.examples(None), seconds=30)
    assert r.status == "abstained" and "32 terms" in r.reasons[0]


def test_the_formula_uses_only_the_tasks_operators():
    ones = {(1, 1, 0), (0, 1, 1), (1, 0, 1), (1, 1, 1)}
    for operators, banned in ((("&", "|", "^"), ("and", "or", "not")), (("and", "or", "-"), ("&", "|", "not", "^"))):
        task = table_task(3, ones, operators=operators)
        r = synthesis.solve(task, "logic", examples=task.examples(None), seconds=30)
        assert r.status == "solved" and task.verify(r.program).equal
        text = str(r.program).split("return", 1)[1]
        assert not any(f" {op} " in f" {text} " for op in banned), text
    task = table_task(3, ones, operators=("+", "*"))
    assert synthesis.solve(task, "logic", examples=task.examples(None), seconds=30).status == "abstained"


@pytest.mark.parametrize("task, why", [
    (toy_tasks.get("maximum", bits=3), "not bits"),
    (toy_tasks.get("running_parity", length=8), "sequences"),
    (toy_tasks.from_program("sum2", "def f(a, b):\n    return a + b\n", {"a": Int(0, 2), "b": Int(0, 2)}), "answers are not bits"),
    (toy_tasks.get("parity", n=10), "max_variables"),
])
def test_it_abstains_at_once_where_it_does_not_apply(task, why):
    r = synthesis.solve(task, "logic", seconds=30)
    assert r.status == "abstained" and why in r.reasons[0] and r.candidates == 0
