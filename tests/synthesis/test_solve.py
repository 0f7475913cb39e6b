"""synthesis.solve: example handling, the checks it makes on every method, and typed errors."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import synthesis
import toy_tasks
from programs import Int
from synthesis import SynthesisError
from synthesis.registry import Attempt, synthesizer
from synthesis.solve import STATUSES

ROOT = Path(__file__).resolve().parents[2]


def test_methods_are_registered():
    assert {"enumerative", "rpni"} <= set(synthesis.names())


def test_synthesis_never_imports_extraction_or_torch():
    for path in (ROOT / "synthesis").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                roots = [(node.module or "").split(".")[0]] if node.level == 0 else []
            else:
                continue
            assert not {"extraction", "torch", "comparator"} & set(roots), f"{path} imports {roots}"


def test_synthesis_never_reads_ground_truth():
    # No attribute access to a task's reference program, Python definition or function.
    for path in (ROOT / "synthesis").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("reference", "definition", "check_definition"), f"{path}:{node.lineno}"
                if node.attr == "function":
                    assert not (isinstance(node.value, ast.Name) and "task" in node.value.id), f"{path}:{node.lineno}"


def test_unknown_method_lists_the_methods():
    with pytest.raises(SynthesisError, match="enumerative"):
        synthesis.solve(toy_tasks.get("maximum"), "no-such-method")


def test_empty_examples_abstain_with_a_reason():
    task = toy_tasks.get("maximum", bits=3)
    r = synthesis.solve(task, "enumerative", examples=task.examples(0), seconds=5)
    assert r.status == "abstained" and r.program is None and "no examples" in r.reasons[0]


def test_contradictory_examples_abstain_with_a_reason():
    task = toy_tasks.get("maximum", bits=3)
    ex = task.examples(10, seed=1)
    doubled = toy_tasks.Examples(
        inputs={k: np.concatenate([v, v[:1]]) for k, v in ex.inputs.items()},
        outputs=np.concatenate([ex.outputs, ex.outputs[:1] + 1]),
    )
    r = synthesis.solve(task, "enumerative", examples=doubled, seconds=5)
    assert r.status == "abstained" and "contradictory" in r.reasons[0]


def test_an_operator_set_that_cannot_express_the_task_is_exhausted():
    task = toy_tasks.from_program("sum7", "def f(a, b):\n    return (a + b) % 7\n", {"a": Int(0, 7), "b": Int(0, 7)},
                                  operators=("&",))
    r = synthesis.solve(task, "enumerative", seconds=30)
    assert r.status == "exhausted" and r.program is None and r.reasons


@pytest.mark.parametrize("examples", [0.5, 20, None])
def test_examples_as_fraction_count_or_default(examples):
    task = toy_tasks.get("maximum", bits=3)
    ex = task.example_set(examples, 3)
    expected = {0.5: 32, 20: 20, None: 64}[examples]  # by default a domain of at most 4096 inputs whole
    assert len(ex) == expected
    assert ex.complete == (examples is None)


def test_bad_examples_argument_is_a_typed_error():
    with pytest.raises(SynthesisError):
        synthesis.solve(toy_tasks.get("maximum"), "enumerative", examples="all")
    with pytest.raises(SynthesisError):
        synthesis.solve(toy_tasks.get("maximum"), "enumerative", examples=1.5)


# Planted methods: solve() must not trust a method's claims.
@synthesizer("_test_liar")
def _liar():
    from synthesis.build import function
    from programs import Const

    def run(problem, budget, rng):
        return Attempt(function(problem, Const(12345)), "solved", 1)

    return run


@synthesizer("_test_crash")
def _crash():
    def run(problem, budget, rng):
        raise RuntimeError("boom")

    return run


@synthesizer("_test_bad_status")
def _bad_status():
    def run(problem, budget, rng):
        return Attempt(None, "great", 1)

    return run


def test_a_program_that_does_not_fit_is_never_returned():
    r = synthesis.solve(toy_tasks.get("maximum", bits=3), "_test_liar", seconds=2)
    assert r.status == "error" and r.program is None and "does not fit" in r.reasons[0]


def test_a_crashing_method_is_recorded_not_raised():
    r = synthesis.solve(toy_tasks.get("maximum", bits=3), "_test_crash", seconds=2)
    assert r.status == "error" and "boom" in r.reasons[0]


def test_an_unknown_status_is_an_error():
    r = synthesis.solve(toy_tasks.get("maximum", bits=3), "_test_bad_status", seconds=2)
    assert r.status == "error" and r.status in STATUSES


@pytest.mark.parametrize("method", ["enumerative", "smt", "stochastic", "cvc5"])
def test_every_method_proves_an_inexpressible_task_exhausted(method):
    task = toy_tasks.from_program("sum7", "def f(a, b):\n    return (a + b) % 7\n", {"a": Int(0, 7), "b": Int(0, 7)},
                                  operators=("&",))
    r = synthesis.solve(task, method, seconds=20)
    assert r.status == "exhausted" and r.program is None and r.reasons


def test_closure_is_not_claimed_when_pruning_is_incomplete():
    # With conditionals the enumerator prunes non-0/1 conditions, so it must not claim the space is closed.
    from synthesis.methods.enumerative import inexpressible
    from synthesis.problem import Problem

    task = toy_tasks.from_program("t", "def f(a, b):\n    return (a + b) % 7\n", {"a": Int(0, 7), "b": Int(0, 7)},
                                  operators=("&", "if"))
    problem = task.problem(task.examples())
    assert inexpressible(problem, 2.0) is None


def test_solve_train_and_compare_see_one_example_set(monkeypatch):
    """One policy for the default examples (and any spec): ``task.example_set``, the problem ``compare``
    sends its workers, is what ``solve`` and ``train`` see when called on the task."""
    import extraction
    from programs.registry import Entry
    from synthesis.registry import REGISTRY

    seen = []

    def record():
        def run(problem, budget, rng):
            seen.append(problem.identity())
            return synthesis.Attempt(None, "abstained")
        return run

    monkeypatch.setitem(REGISTRY._entries, "record_problem", Entry("record_problem", record, {}, ""))
    for task in (toy_tasks.get("maximum", bits=3), toy_tasks.get("running_parity")):  # whole domain; half of it
        for spec in (None, 7):
            synthesis.solve(task, "record_problem", examples=spec, seed=4)
            net = extraction.untrained(task, examples=spec, seed=4)
            assert seen[-1] == net.problem.identity() == task.problem(spec, seed=4).identity()


def _lookup():
    """A planted method that memorises its examples (0 elsewhere): right on them, wrong off them."""
    from programs import parse

    def run(problem, budget, rng):
        expr = "0"
        for x, y in problem.examples.rows():
            expr = f"({y} if {' and '.join(f'{n} == {x[n]}' for n in problem.params)} else {expr})"
        return synthesis.Attempt(parse(f"def f({', '.join(problem.params)}):\n    return {expr}\n"), "solved")
    return run


def test_a_program_that_fails_the_examples_set_aside_is_turned_away_and_kept(monkeypatch):
    from programs.registry import Entry
    from synthesis.registry import REGISTRY

    monkeypatch.setitem(REGISTRY._entries, "lookup", Entry("lookup", _lookup, {}, ""))
    task = toy_tasks.get("modular_addition", p=5)
    seen_all = synthesis.solve(task, "lookup", examples=20, seed=1)  # no self-check: it fits what it saw
    assert seen_all.status == "solved" and seen_all.rejected is None and seen_all.settings["validation"] == 0.0
    checked = synthesis.solve(task, "lookup", examples=20, seed=1, validation=0.25)
    assert checked.status == "abstained" and checked.program is None
    assert checked.rejected is not None and not task.verify(checked.rejected).equal
    assert any(r.startswith("self-check: the program fits the 15 examples") and "fails" in r and "of the 5 set aside"
               in r for r in checked.reasons)
    right = synthesis.solve(task, "enumerative", examples=20, seed=1, validation=0.25)  # a right answer survives it
    assert right.status == "solved" and task.verify(right.program).equal and right.settings["validation"] == 0.25


def test_rpni_checks_itself_by_default_and_every_method_can():
    assert synthesis.registry()["rpni"].validation == 0.2
    # the built-in methods (tests elsewhere may register their own, with a validation of their own)
    builtin = {"cvc5", "enumerative", "logic", "smt", "stochastic"} & set(synthesis.names())
    assert builtin and all(synthesis.registry()[name].validation == 0.0 for name in builtin)
    r = synthesis.solve(toy_tasks.get("running_parity"), "rpni", seconds=30)
    assert r.status == "solved" and r.settings["validation"] == 0.2
    with pytest.raises(SynthesisError, match="validation"):
        synthesis.solve(toy_tasks.get("running_parity"), "rpni", validation=1.0)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 200), share=st.floats(0.01, 0.99), seed=st.integers(0, 10))
def test_the_validation_split_sets_aside_a_stated_share_and_loses_no_example(n, share, seed):
    from synthesis.solve import split_for_validation

    problem = toy_tasks.get("maximum", bits=4).problem(n, seed=seed)
    fitting, held = split_for_validation(problem, share, seed)
    assert held.size == min(n - 1, max(1, round(share * n))) and fitting.size + held.size == n
    rows = lambda p: sorted((x["a"], x["b"], y) for x, y in p.examples.rows())  # noqa: E731
    assert sorted(rows(fitting) + rows(held)) == rows(problem)
