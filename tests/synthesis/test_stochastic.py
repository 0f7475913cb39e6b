"""The stochastic (MCMC, STOKE-style) synthesizer: solves quick tasks, is deterministic per seed, never
returns a program that misses an example, and ends an impossible search with a stated reason."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import synthesis
import toy_tasks
from programs import evaluate
from synthesis.methods import stochastic as st
from synthesis.problem import Problem
from toy_tasks import Int, Seq
from toy_tasks import strategies as tbst

# (task, parameters, seed, examples): searches that end within a fraction of a second on a laptop;
# each gets a 20 s budget. Boolean tasks get their whole (tiny) domain, since half of it leaves the
# function ambiguous for any method.
SOLVED = [
    ("maximum", {"bits": 3}, 0, None),
    ("absolute_difference", {"bits": 3}, 0, None),
    ("modular_addition", {"p": 5}, 0, None),
    ("modular_addition", {"p": 7}, 0, None),
    ("modular_multiplication", {"p": 5}, 0, None),
    ("parity", {"n": 3}, 0, 1.0),
    ("running_parity", {"length": 8}, 0, None),
    ("binary_addition", {"length": 6}, 1, 1000),  # the default set is its whole domain (2,730 sequences): 3x slower
    ("contains", {"values": 3, "length": 4}, 0, None),
]


def test_registered():
    assert "stochastic" in synthesis.names()


@pytest.mark.parametrize("name,params,seed,examples", SOLVED, ids=[f"{n}-{p}" for n, p, _, _ in SOLVED])
def test_solves_quick_tasks(name, params, seed, examples):
    task = toy_tasks.get(name, **params)
    result = synthesis.solve(task, "stochastic", examples=examples, seconds=20.0, seed=seed)
    assert result.status == "solved", result.reasons
    assert result.candidates > 0
    assert task.verify(result.program).equal, str(result.program)


@pytest.mark.parametrize("name,params", [("modular_addition", {"p": 5}), ("running_parity", {"length": 6})])
def test_same_seed_same_program(name, params):
    task = toy_tasks.get(name, **params)
    a = synthesis.solve(task, "stochastic", seconds=20.0, seed=3)
    b = synthesis.solve(task, "stochastic", seconds=20.0, seed=3)
    assert a.status == b.status == "solved"
    assert str(a.program) == str(b.program)
    assert a.candidates == b.candidates


def test_tuple_outputs():
    source = "def f(a, b):\n    return a + b, a - b\n"
    task = toy_tasks.from_program("pair", source, inputs={"a": Int(0, 6), "b": Int(0, 6)})
    result = synthesis.solve(task, "stochastic", seconds=20.0, seed=0)
    assert result.status == "solved", result.reasons
    assert task.verify(result.program).equal


def test_scan_with_scalar_and_uneven_lengths():
    source = "def f(xs, t):\n    m = t\n    for x in xs:\n        m = max(m, x)\n        yield m\n"
    task = toy_tasks.from_program("runmax", source, inputs={"xs": Seq(Int(0, 4), length=(1, 4)), "t": Int(0, 3)})
    result = synthesis.solve(task, "stochastic", seconds=20.0, seed=0)
    assert result.status == "solved", result.reasons
    assert task.verify(result.program).equal


def test_an_out_of_reach_task_times_out_with_the_best_miss_count():
    # With a conditional among the operators no closure proof is attempted: the chain runs to the budget.
    task = toy_tasks.from_program("add7", "def f(a, b):\n    return (a + b) % 7\n",
                                  inputs={"a": Int(0, 7), "b": Int(0, 7)}, operators=("&", "if"))
    result = synthesis.solve(task, "stochastic", seconds=1.0, seed=0)
    assert result.status == "timeout"
    assert result.program is None
    assert result.reasons and "wrong" in result.reasons[0]


def test_restart_limit_ends_exhausted():
    task = toy_tasks.from_program("add7", "def f(a, b):\n    return (a + b) % 7\n",
                                  inputs={"a": Int(0, 7), "b": Int(0, 7)}, operators=("&", "if"))
    result = synthesis.solve(task, "stochastic", seconds=20.0, seed=0, options={"restarts": 1, "patience": 100})
    assert result.status == "exhausted"
    assert "restart limit" in result.reasons[0]
    assert 0 < result.candidates < 1000


def test_bad_settings_are_reported():
    task = toy_tasks.get("maximum", bits=2)
    result = synthesis.solve(task, "stochastic", seconds=1.0, options={"beta": -1.0})
    assert result.status == "error" and "beta" in result.reasons[0]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tbst.programs(inputs={"a": Int(0, 6), "b": Int(0, 6)}, max_size=5))
def test_returned_programs_fit_every_example(program):
    inputs = {"a": Int(0, 6), "b": Int(0, 6)}
    task = toy_tasks.from_program("t", str(program), inputs=inputs)
    examples = task.examples(10, seed=1)
    result = synthesis.solve(task, "stochastic", examples=examples, seconds=1.0, seed=0)
    assert result.status in ("solved", "timeout", "exhausted"), result.reasons
    if result.program is not None:
        got = evaluate(result.program, examples.inputs)
        assert np.array_equal(got, examples.outputs)
    else:
        assert result.reasons


@pytest.mark.parametrize("kind", ["scan", "fold"])
def test_loop_simulation_agrees_with_the_interpreter(kind):
    """The vectorised loop simulation counts exactly the mismatches the interpreter finds."""
    if kind == "scan":
        source = "def f(xs, t):\n    s = t\n    for x in xs:\n        s = (s + x) % 3\n        yield s\n"
    else:
        source = "def f(xs, t):\n    s = 0\n    for x in xs:\n        s = s + (x < t)\n    return s\n"
    task = toy_tasks.from_program(kind, source, inputs={"xs": Seq(Int(-1, 3), length=(1, 5)), "t": Int(0, 3)})
    examples = task.examples(200, seed=0)
    problem = task.problem(examples)
    grammar = st.Grammar(problem.operators, problem.constants())
    draw = st.Draw(np.random.default_rng(0))
    rows = np.sort(np.random.default_rng(1).choice(problem.size, 50, replace=False))
    for k in (1, 2):
        whole, part = st.LoopTarget(problem, k, None), st.LoopTarget(problem, k, rows)
        for _ in range(60):
            slots = [grammar.random(draw, names, 1 if cap else 3) for names, cap in whole.layout()]
            cand = st.Candidate.of(slots, draw.random() < 0.5 and kind == "scan")
            program = whole.program(cand)
            got = evaluate(program, examples.inputs, examples.lengths)
            wrong = got != examples.outputs
            if kind == "scan":
                assert whole.mismatches(cand) == np.count_nonzero(wrong & problem.mask())
                assert part.mismatches(cand) == np.count_nonzero((wrong & problem.mask())[rows])
            else:
                assert whole.mismatches(cand) == np.count_nonzero(wrong)
                assert part.mismatches(cand) == np.count_nonzero(wrong[rows])
            assert np.array_equal(problem.mismatches(program), wrong.any(axis=1) if wrong.ndim > 1 else wrong)
