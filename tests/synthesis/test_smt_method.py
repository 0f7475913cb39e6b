"""The "smt" synthesis method: z3 CEGIS over straight-line component programs and loop sketches.

No timing assertions: budgets are generous (a search asserted to end, solved or exhausted, takes a
small part of its budget), and a slow machine shows up as a timeout, never as a wrong answer.
"""
from __future__ import annotations

import numpy as np
import pytest
import z3
from hypothesis import HealthCheck, given, settings

import synthesis
import toy_tasks
from programs import Int
from programs.smt import BV_OPS
from synthesis.methods.smt import Narrow, arity
from synthesis.problem import Problem
from synthesis.solve import STATUSES
from toy_tasks import strategies as tbst

# Tasks the method solves reliably within the budget, from the whole domain as examples (with half of
# it, the smallest fitting program of a 3-bit boolean task is often not the task).
SOLVED = [
    ("modular_addition", {"p": 7}),
    ("modular_multiplication", {"p": 5}),
    ("maximum", {"bits": 3}),
    ("absolute_difference", {"bits": 3}),
    ("parity", {"n": 3}),
    ("majority", {"n": 3}),
    ("multiplexer", {"k": 1}),
    ("running_parity", {"length": 6}),  # scan
    ("running_sum_mod", {"k": 3, "length": 4}),  # scan
    ("contains", {"values": 3, "length": 4}),  # fold
]


def test_registered():
    assert "smt" in synthesis.names()
    assert synthesis.registry()["smt"].defaults["max_components"] == 6


@pytest.mark.parametrize("name,params", SOLVED, ids=[n for n, _ in SOLVED])
def test_solves(name, params):
    task = toy_tasks.get(name, **params)
    for seed in (0, 1):  # z3's runtimes are heavy-tailed: a second seed on a (rare) timeout
        result = synthesis.solve(task, "smt", examples=1.0, seconds=60, seed=seed)
        if result.status != "timeout":
            break
    assert result.status == "solved", result.reasons
    assert result.candidates >= 1
    assert task.verify(result.program).equal, str(result.program)


def test_two_outputs():
    inputs = {"a": Int(0, 4), "b": Int(0, 4)}
    task = toy_tasks.from_program("sort2", "def f(a, b):\n    return min(a, b), max(a, b)\n", inputs=inputs)
    result = synthesis.solve(task, "smt", examples=1.0, seconds=60)
    assert result.status == "solved", result.reasons
    assert task.verify(result.program).equal


@pytest.mark.parametrize("operators", [("&",), ("&", "|"), ()])
def test_inexpressible_is_exhausted(operators):
    # the exact search refutes every sketch in well under a second; the budget only stops a hang
    inputs = {"a": Int(0, 7), "b": Int(0, 7)}
    task = toy_tasks.from_program("addmod", "def f(a, b):\n    return (a + b) % 7\n", inputs=inputs, operators=operators)
    result = synthesis.solve(task, "smt", seconds=60)
    assert result.status == "exhausted" and result.program is None, result.reasons
    assert result.reasons[0].startswith("no straight-line program of at most 6 components") and \
        result.reasons[0].endswith("proven by exact 64-bit search"), result.reasons


# A random table of 256 bytes: no program of six components fits it, and z3 takes far longer than any
# budget here to refute them all (in 20 s it neither found a candidate nor finished), so the budget
# always ends the search.
TABLE = np.random.default_rng(0).integers(0, 256, size=(16, 16))


def test_out_of_budget_is_a_timeout():
    task = toy_tasks.from_function("table", lambda a, b: int(TABLE[a, b]), inputs={"a": Int(0, 16), "b": Int(0, 16)})
    result = synthesis.solve(task, "smt", seconds=0.5)
    assert result.status == "timeout" and result.program is None, result.reasons
    assert result.reasons[0].startswith("budget ran out while searching"), result.reasons


INPUTS = {"a": Int(0, 6), "b": Int(0, 6)}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(tbst.programs(inputs=INPUTS, max_size=5))
def test_returned_programs_fit(program):
    task = toy_tasks.from_program("t", str(program), inputs=INPUTS)
    result = synthesis.solve(task, "smt", seconds=2)
    assert result.status in STATUSES and result.status != "error", result.reasons
    if result.status == "solved":
        problem = task.problem(task.example_set(None, 0))
        assert problem.fits(result.program)
    else:
        assert result.program is None and result.reasons


# --- the narrow-width arithmetic is exact wherever it claims a value ----------------------------------


@pytest.mark.parametrize("width", [4, 5, 8])
def test_narrow_operators_are_exact(width):
    """For every operator, under its side condition, the narrow result sign-extends to the 64-bit
    result of programs.smt.BV_OPS (the language's semantics) on the sign-extended operands: a proof
    over all ``width``-bit operands."""
    A = Narrow(width)
    ext = lambda x: z3.SignExt(64 - width, x)  # noqa: E731
    a, b, c = z3.BitVecs("a b c", width)
    for op in BV_OPS:
        args = [a, b, c][: arity(op)]
        value, ok = A.apply(op, args)
        claim = ext(value) == BV_OPS[op](*[ext(x) for x in args])
        s = z3.Solver()
        s.add(z3.Not(claim) if ok is None else z3.And(ok, z3.Not(claim)))
        assert s.check() == z3.unsat, op
    shared, quotient, remainder = A.divmod([a, b], *z3.BitVecs("q r", width))
    for op, value in (("//", quotient), ("%", remainder)):
        s = z3.Solver()
        s.add(shared, ext(value) != BV_OPS[op](ext(a), ext(b)))
        assert s.check() == z3.unsat, op


def test_narrow_operators_mostly_defined():
    """The side conditions are not vacuous: on small operands every operator has a value."""
    A = Narrow(8)
    for op in BV_OPS:
        args = [z3.BitVecVal(v, 8) for v in (3, -2, 1)][: arity(op)]
        _, ok = A.apply(op, args)
        assert ok is None or z3.is_true(z3.simplify(ok)), op


def test_scan_program_fits_its_examples():
    task = toy_tasks.get("running_parity", length=6)
    result = synthesis.solve(task, "smt", seconds=20, seed=3)
    assert result.status == "solved", result.reasons
    assert result.program.kind == "scan"
    problem = task.problem(task.example_set(None, 3))
    assert not np.any(problem.mismatches(result.program))
