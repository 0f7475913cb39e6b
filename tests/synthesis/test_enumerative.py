"""The enumerative method: solves named quick-suite tasks exactly; every program fits its examples."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synthesis
import toy_tasks
from programs import Assign, Const, Int, Program, evaluate
from programs.ast import Expr, size_of, substitute, walk
from toy_tasks import strategies as tbst

# (task, parameters, examples): solved and verified on the whole domain. Tiny Boolean domains get the
# whole truth table (half of 8 rows does not pin down majority of three).
SOLVES = [
    ("modular_addition", {"p": 7}, None),
    ("modular_multiplication", {"p": 5}, None),
    ("modular_linear_combination", {"p": 13}, 1.0),
    ("maximum", {"bits": 3}, None),
    ("absolute_difference", {"bits": 3}, None),
    ("clamp", {"bits": 3}, None),
    ("majority", {"n": 3}, 1.0),
    ("multiplexer", {"k": 1}, 1.0),
    ("running_parity", {"length": 8}, None),
    ("running_sum_mod", {"k": 3, "length": 6}, None),
    ("binary_addition", {"length": 6}, None),
    ("running_max", {}, None),
    ("running_sum", {}, None),
    ("previous_element", {}, None),
    ("divisibility", {}, None),
    ("contains", {"values": 3, "length": 4}, None),
    ("max_value", {}, None),
]


@pytest.mark.parametrize("name, params, examples", SOLVES, ids=[s[0] for s in SOLVES])
def test_solves_and_verifies(name, params, examples):
    task = toy_tasks.get(name, **params)
    r = synthesis.solve(task, "enumerative", examples=examples, seconds=60)
    assert r.status == "solved", r.reasons
    v = task.verify(r.program)
    assert v.equal, (str(r.program), v)
    assert r.candidates > 0


def _inlined(program: Program) -> Expr:
    """The returned expression of a straight-line function, its named steps substituted in."""
    steps: dict[str, Expr] = {}
    for stmt in program.body:
        if isinstance(stmt, Assign):
            steps[stmt.targets[0]] = substitute(stmt.value, steps)
        else:
            return substitute(stmt.value, steps)
    raise AssertionError(f"no return in {program}")


LIMIT = 5  # the search's size limit: a limit on work, so the outcome is the same on a loaded machine


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_returned_program_fits_all_examples(data):
    """Whatever the examples, the method answers ``solved`` with a program that fits every one of them,
    or ``exhausted`` within its size limit; never ``error`` (what ``solve`` makes of a program that does
    not fit) nor a timeout. A target it can build (constants from the pool, size within the limit) is
    found."""
    sig = {"a": Int(0, 6), "b": Int(0, 6)}
    target = data.draw(tbst.programs(inputs=sig, max_size=5))
    task = toy_tasks.from_program("target", str(target), sig)
    n = data.draw(st.integers(1, 36))
    ex = task.examples(n, seed=data.draw(st.integers(0, 100)))
    r = synthesis.solve(task, "enumerative", examples=ex, seconds=120, options={"max_size": LIMIT})
    assert r.status in ("solved", "exhausted"), (r.status, r.reasons)
    if r.status == "solved":
        assert (evaluate(task.check_program(r.program), ex.inputs) == ex.outputs).all()
    else:
        assert r.program is None and r.reasons
    expr = _inlined(target)
    pool = set(task.problem(ex).constants())
    if size_of(expr) <= LIMIT and all(c.value in pool for c in walk(expr) if isinstance(c, Const)):
        assert r.status == "solved", (str(target), r.reasons)


def test_tuple_outputs_are_solved_component_by_component():
    task = toy_tasks.from_program("divmod", "def f(a, b):\n    return a // 3, max(a, b)\n", {"a": Int(0, 10), "b": Int(0, 10)})
    r = synthesis.solve(task, "enumerative", examples=1.0, seconds=20)
    assert r.status == "solved" and task.verify(r.program).equal


def test_same_seed_same_program():
    task = toy_tasks.get("absolute_difference", bits=3)
    a = synthesis.solve(task, "enumerative", seconds=10, seed=4)
    b = synthesis.solve(task, "enumerative", seconds=10, seed=4)
    assert str(a.program) == str(b.program)


def test_values_beyond_32_bits_widen_the_bank_without_losing_rows():
    # Products of 20-bit inputs leave the int32 range: the bank must switch to int64 and keep going.
    from synthesis.methods.enumerative import Enumerator
    from programs.budget import Budget

    rng = np.random.default_rng(0)
    a = rng.integers(0, 2**20, 64)
    b = rng.integers(0, 2**20, 64)
    en = Enumerator({"a": a, "b": b}, (1, 2), ("+", "*", "-"), max_size=7, budget=Budget(60))
    expr = en.search(a * b + 2 * a - b)
    assert en.bank.values.dtype == np.int64
    from synthesis.build import function
    from synthesis.problem import Problem
    from toy_tasks import Examples

    problem = Problem("t", {"a": Int(0, 2**20), "b": Int(0, 2**20)}, "function", 1, ("+", "*", "-"),
                      Examples({"a": a, "b": b}, a * b + 2 * a - b))
    assert problem.fits(function(problem, expr))
    # every stored row still equals the value of the expression rebuilt from it
    for gid in range(0, en.bank.total, max(1, en.bank.total // 50)):
        p = function(problem, en.expr(gid))
        assert (evaluate(p, {"a": a, "b": b}) == en.bank.values[gid]).all()


def test_fit_expression_abstains_with_a_reason_when_its_bank_has_no_room():
    import numpy as np

    from synthesis import fit_expression
    from toy_tasks.task import ALL_OPERATORS

    x = np.arange(50)
    why: list[str] = []
    assert fit_expression({"x": x}, x * 7 + 3, operators=ALL_OPERATORS, max_bytes=1 << 10, why=why) is None
    assert why and "memory" in why[0]


def test_fit_expression_under_a_small_memory_cap_abstains_instead_of_raising():
    # the comparator's cap is RLIMIT_AS: under a cap just above what the process holds, the bank is sized
    # to the room left (or the search abstains), never an OSError/MemoryError out of the search
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import resource
        import numpy as np
        from synthesis import fit_expression
        from toy_tasks.task import ALL_OPERATORS
        used = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + (48 << 20), resource.RLIM_INFINITY))
        rng = np.random.default_rng(0)
        leaves = {n: rng.integers(0, 100, 2000) for n in "abcd"}
        why = []
        got = fit_expression(leaves, rng.integers(0, 100, 2000), operators=ALL_OPERATORS, seconds=20,
                             max_size=9, why=why)
        print("RESULT", got, why[:1])
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "RESULT None" in done.stdout, done.stdout
