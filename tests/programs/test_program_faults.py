"""Faults in the program layer end as typed errors or stated verdicts: z3 answering ``unknown`` (for
real: a query too hard for the time given, or z3's resource limit) falls back to sampling and says
why; inputs of the wrong type or shape are an ``InputError`` that names them."""
from __future__ import annotations

import numpy as np
import pytest
import z3

import toy_tasks
from programs import InputError, Int, Seq, equivalent, evaluate, parse
from programs.interpreter import run

# Equal to 0 everywhere except at a factorisation of a 60-bit semiprime: z3 must factor it to decide.
N = 998244353 * 1000000007
FACTOR = parse(f"def f(a, b):\n    return a * b == {N}\n")
ZERO = parse("def f(a, b):\n    return 0\n")
WIDE = {"a": Int(2, 2**40), "b": Int(2, 2**40)}
SCAN = parse(f"def f(xs):\n    s = 1\n    for x in xs:\n        s = s * x\n        yield s == {N}\n")
SCAN_ZERO = parse("def f(xs):\n    for x in xs:\n        yield 0\n")
LONG = {"xs": Seq(Int(2, 2**40), length=(1, 2))}


@pytest.fixture
def z3_resource_limit():
    z3.set_param("rlimit", 1)
    try:
        yield
    finally:
        z3.set_param("rlimit", 0)


@pytest.mark.parametrize("p, q, inputs, words", [
    (FACTOR, ZERO, WIDE, "z3 answered unknown: timeout"),
    (SCAN, SCAN_ZERO, LONG, "z3 answered unknown: timeout at length 2"),
], ids=["scalars", "bounded"])
def test_z3_timing_out_falls_back_to_a_stated_sample(p, q, inputs, words):
    v = equivalent(p, q, inputs, seconds=0.5, samples=500)
    assert v.method == "sampled" and not v.proved and v.checked == 500
    assert words in v.detail and "not a proof" in v.detail, v.detail


@pytest.mark.parametrize("p, q, inputs", [(FACTOR, ZERO, WIDE), (SCAN, SCAN_ZERO, LONG)], ids=["scalars", "bounded"])
def test_z3_giving_up_falls_back_to_a_stated_sample(p, q, inputs, z3_resource_limit):
    v = equivalent(p, q, inputs, seconds=30.0, samples=500)
    assert v.method == "sampled" and not v.proved
    assert "z3 answered unknown: max. resource limit exceeded" in v.detail, v.detail


def test_no_time_left_for_z3_is_said():
    v = equivalent(FACTOR, ZERO, WIDE, seconds=0.0, samples=100)
    assert v.method == "sampled" and "no time left for z3" in v.detail


def test_task_verify_with_z3_undecided_is_not_a_proof():
    task = toy_tasks.from_program("zero", "def f(a, b):\n    return 0\n", inputs=WIDE)
    v = task.verify(FACTOR, seconds=0.5)
    assert v.method == "sampled" and not v.proved and "unknown" in v.detail


# --- inputs of the wrong type or shape -----------------------------------------------------------------

P = parse("def f(a, b):\n    return a + b\n")
S = parse("def f(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n        yield s\n")


@pytest.mark.parametrize("program, inputs, lengths, words", [
    (P, {"a": np.arange(3), "b": np.arange(4)}, None, "batch size"),
    (P, {"a": np.arange(3)}, None, "missing ['b']"),
    (P, {"a": np.arange(3), "b": np.arange(3), "c": np.arange(3)}, None, "unexpected ['c']"),
    (P, {"a": np.arange(3) + 0.5, "b": np.arange(3)}, None, "float64"),
    (P, {"a": np.zeros((3, 2, 2), dtype=int), "b": np.arange(3)}, None, "1-D"),
    (P, {"a": np.array(["x", "y"]), "b": np.arange(2)}, None, "expected integers"),
    (P, {"a": np.array([2**70, 1], dtype=object), "b": np.arange(2)}, None, "64-bit"),
    (P, None, None, "dict"),
    (P, [np.arange(3), np.arange(3)], None, "dict"),
    (S, {"xs": np.arange(3)}, None, "2-D"),
    (S, {"xs": np.zeros((3, 4, 2), dtype=int)}, None, "2-D"),
    (S, {"xs": np.zeros((3, 4), dtype=int)}, np.array([1, 2]), "lengths must have shape (3,)"),
    (S, {"xs": np.zeros((3, 4), dtype=int)}, np.array([1, 2, 9]), "lengths must lie in [0, 4]"),
    (P, {"a": np.arange(3), "b": np.arange(3)}, np.array([1, 1, 1]), "no sequence"),
])
def test_evaluate_with_inputs_of_the_wrong_shape_is_an_input_error(program, inputs, lengths, words):
    with pytest.raises(InputError) as err:
        evaluate(program, inputs, lengths)
    assert words in str(err.value), str(err.value)


@pytest.mark.parametrize("program, inputs, words", [
    (P, {"a": "x", "b": 1}, "expected an integer"),
    (P, {"a": 1.5, "b": 1}, "expected an integer"),
    (P, {"a": 2**70, "b": 1}, "64 bits"),
    (P, [1, 2], "dict"),
    (P, {"a": 1}, "missing ['b']"),
    (S, {"xs": 3}, "must be a list of integers"),
    (S, {"xs": None}, "must be a list of integers"),
    (S, {"xs": "ab"}, "must be a list of integers"),
    (S, {"xs": [1, "a"]}, "expected an integer"),
])
def test_run_with_inputs_of_the_wrong_type_is_an_input_error(program, inputs, words):
    with pytest.raises(InputError) as err:
        run(program, inputs)
    assert words in str(err.value), str(err.value)


def test_run_takes_any_sequence_of_integers():
    assert run(S, {"xs": (1, 2)}) == run(S, {"xs": np.array([1, 2])}) == run(S, {"xs": [1, 2]}) == [1, 3]
