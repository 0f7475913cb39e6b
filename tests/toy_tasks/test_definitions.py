"""Every built-in task's reference program agrees with its independent Python definition."""
from __future__ import annotations

import dataclasses

import pytest

import toy_tasks
from programs import Int, parse
from toy_tasks.registry import _program_task

SCALING = toy_tasks.suite("scaling")

# Knob settings away from the defaults, where the edge cases live (one bit, even k, widest windows ...).
OTHER_PARAMS = [
    ("majority", {"n": 1}), ("majority", {"n": 4}), ("parity", {"n": 1}), ("conjunction", {"n": 1}),
    ("multiplexer", {"k": 1}), ("multiplexer", {"k": 3}), ("adder_top_bit", {"m": 1}), ("adder_carry", {"m": 1}),
    ("greater_than", {"m": 4}), ("bits_equal", {"m": 1}), ("sign", {"bits": 1}), ("relu", {"bits": 2}),
    ("clamp", {"bits": 1}), ("modular_subtraction", {"p": 2}), ("modular_cubic", {"p": 97}),
    ("pattern_detector", {"k": 2, "length": 8}), ("pattern_detector", {"k": 4, "length": 8}),
    ("previous_element", {"k": 3, "values": 3, "length": 6}), ("sum_last_k", {"k": 3, "values": 3, "length": 6}),
    ("stream_addition", {"base": 2, "length": 6}), ("divisibility", {"k": 6, "length": 8}),
    ("run_length", {"values": 2, "length": 8}), ("is_sorted", {"values": 2, "length": 6}),
    ("argmin", {"values": 6, "length": 4}), ("last_index", {"values": 2, "length": 3}),
]


def _assert_agrees(task) -> None:
    assert task.definition is not None, f"{task.name} has no Python definition"
    v = task.check_definition()
    assert v.equal, f"{task.name}: reference gives {v.outputs[0]!r}, definition {v.outputs[1]!r} on {v.counterexample}"
    assert v.checked > 0


@pytest.mark.parametrize("name", toy_tasks.names())
def test_builtin_definition_matches_reference(name):
    _assert_agrees(toy_tasks.get(name))


@pytest.mark.parametrize("task", SCALING, ids=[t.name for t in SCALING])
def test_scaling_suite_definition_matches_reference(task):
    _assert_agrees(task)


@pytest.mark.parametrize(("base", "params"), OTHER_PARAMS, ids=[f"{b}{p}" for b, p in OTHER_PARAMS])
def test_definition_matches_reference_off_defaults(base, params):
    _assert_agrees(toy_tasks.get(base, **params))


def test_every_factory_has_a_definition():
    assert len(toy_tasks.names()) == 54
    assert all(toy_tasks.get(n).definition is not None for n in toy_tasks.names())


def test_wrong_definition_is_caught():
    task = dataclasses.replace(toy_tasks.get("modular_addition"), definition=lambda a, b: 0, _cache={})
    v = task.check_definition()
    assert v.equal is False
    x = v.counterexample
    assert x is not None and set(x) == {"a", "b"}
    reference_out, definition_out = v.outputs
    assert reference_out == task.reference(**x) == (x["a"] + x["b"]) % 13
    assert definition_out == 0 != reference_out


def test_off_by_one_scan_definition_is_caught():
    # parity of the last k bits, with a window one bit too short: wrong only once k bits have been read
    task = toy_tasks.get("parity_last_k", k=3, length=6)
    short = dataclasses.replace(task, definition=lambda xs: [sum(xs[max(0, i - 1) : i + 1]) % 2 for i in range(len(xs))],
                                _cache={})
    v = short.check_definition()
    assert v.equal is False
    xs = v.counterexample["xs"]
    assert len(xs) >= 3
    assert list(v.outputs[0]) != list(v.outputs[1])


def test_wrong_definition_on_a_program_task_is_caught():
    prog = parse("def f(a, b):\n    return max(a, b)\n")
    inputs = {"a": Int(0, 8), "b": Int(0, 8)}
    common = dict(family="user", params={}, difficulty=1.0, operators=("max",), description="")
    assert _program_task("f", prog, inputs, definition=lambda a, b: max(a, b), **common).check_definition().equal
    wrong = _program_task("f", prog, inputs, definition=lambda a, b: min(a, b), **common).check_definition()
    assert wrong.equal is False
    assert wrong.counterexample["a"] != wrong.counterexample["b"]
