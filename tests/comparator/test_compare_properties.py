"""compare, property-based: on small grids of random tasks, a planted method's rows say exactly what it
did (a right program: solved; a program that fits its examples but is wrong elsewhere: wrong; none:
abstained), one row per (task, method, seed), and rerunning the comparison runs and adds nothing."""
from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import comparator
import toy_tasks
from comparator import Store
from programs import Binary, Const, IfExp, Int, Program, Return, Var
from toy_tasks import strategies as tbst

HERE = Path(__file__).resolve().parent
PLUGIN = "_planted_methods"
SIGNATURE = {"a": Int(0, 4), "b": Int(0, 4)}
EXAMPLES = 4  # of the 16 inputs: two seeds' example sets leave inputs out, where a wrong program can differ
SEEDS = (0, 1)
STATUS = {"right": "solved", "wrong": "wrong", "none": "abstained"}


@pytest.fixture(autouse=True)
def _plugin_path(monkeypatch):
    # workers are spawned: they find the plugin through PYTHONPATH
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))


def answer(task: toy_tasks.Task, program: Program, what: str) -> str | None:
    """What the planted method is told to return for ``task`` (made from ``program``): a program equal to
    it on the whole domain but written otherwise, or one that differs from it on one input that none of the
    seeds' example sets holds (so it fits every example and is wrong), or nothing."""
    if what == "none":
        return None
    *steps, last = program.body
    if what == "right":
        value = Binary("+", last.value, Const(0))
    else:
        seen = {(x["a"], x["b"]) for seed in SEEDS for x, _ in task.example_set(EXAMPLES, seed).rows()}
        a, b = next(p for p in itertools.product(range(4), range(4)) if p not in seen)
        there = Binary("and", Binary("==", Var("a"), Const(a)), Binary("==", Var("b"), Const(b)))
        value = IfExp(there, Binary("+", last.value, Const(1)), last.value)
    return str(Program(program.name, program.params, (*steps, Return(value))))


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(tbst.programs(inputs=SIGNATURE, max_size=8), st.sampled_from(sorted(STATUS))),
                min_size=1, max_size=3))
def test_a_planted_methods_rows_are_what_it_did_one_per_run_and_a_rerun_adds_nothing(plan):
    tasks, answers, expected = [], {}, {}
    for i, (program, what) in enumerate(plan):
        task = toy_tasks.from_program(f"t{i}", str(program), SIGNATURE)
        tasks.append(task)
        source = answer(task, program, what)
        if source is not None:
            answers[task.name] = source
        expected[task.name] = STATUS[what]
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "runs.sqlite"
        grid = dict(extractors=(), synthesizers=[("planted_answers", {"answers": answers})], seeds=len(SEEDS),
                    examples=EXAMPLES, seconds=5.0, store=store, workers=2, plugins=[PLUGIN])
        runs = comparator.compare(tasks, **grid).runs
        assert sorted(zip(runs.task, runs.method, runs.seed)) == sorted(
            (t.name, "planted_answers", s) for t in tasks for s in SEEDS)
        for row in runs.itertuples():
            assert (row.status, row.correct) == (expected[row.task], expected[row.task] == "solved"), (row.task, row.reasons)
        landed = []

        def progress(done, total, row):
            if row:  # a run that landed (the first call, before any, has none)
                landed.append(row)

        again = comparator.compare(tasks, **grid, progress=progress).runs
        assert landed == []  # nothing ran again
        assert sorted(again.key) == sorted(runs.key)
        with Store(store) as db:
            assert len(db) == len(runs)
