"""What a worker receives cannot compute an answer outside the examples: the comparator sends each run a
``Problem`` and its settings as plain data (arrays, domains, strings, numbers), never a task, a program or
a function. Checked on the jobs a real comparison hands its executor, by unpickling them with an
unpickler that admits nothing but those data types."""
from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

import comparator
import toy_tasks
from comparator.executor import EXECUTORS, Outcome
from toy_tasks import Int, Problem, Seq

# Everything a worker's arguments may be made of: numpy's array reconstruction, the problem's own data
# classes and the domains of its signature, and builtin containers.
ALLOWED = {
    ("toy_tasks.problem", "Problem"), ("toy_tasks.problem", "Examples"),
    ("programs.domains", "Int"), ("programs.domains", "Seq"),
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("builtins", "set"), ("builtins", "frozenset"), ("_codecs", "encode"),
}


class DataOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"a worker's arguments reference {module}.{name}")
        return super().find_class(module, name)


def offset(k: int):
    return lambda xs: [(x + k) % 4 for x in xs]


def user_tasks():
    secret = 3  # a closure's free variable: the answer's key, held by the task alone
    return [
        toy_tasks.get("modular_addition", p=7),
        toy_tasks.from_program("xor", "def f(a, b):\n    return a ^ b\n", {"a": Int(0, 8), "b": Int(0, 8)}),
        toy_tasks.from_function("shifted", lambda a, b: (a * b + secret) % 11, inputs={"a": Int(0, 11), "b": Int(0, 11)}),
        toy_tasks.from_function("offset", offset(secret), inputs={"xs": Seq(Int(0, 4), length=(1, 6))}),
    ]


@pytest.fixture
def captured(monkeypatch):
    """The jobs a comparison hands its executor (answered with a made-up outcome, never run)."""
    jobs = []

    def capture(batch, *, workers=None, on_outcome=None, **options):
        out = []
        for job in batch:
            jobs.append(job)
            outcome = Outcome(job.key, "ok", {"claim": "abstained", "program": None, "seconds": 0.0}, 0.0, "")
            on_outcome(outcome)
            out.append(outcome)
        return out

    monkeypatch.setitem(EXECUTORS, "capture", capture)
    return jobs


def test_a_worker_receives_plain_data_that_cannot_compute_an_answer(captured):
    tasks = user_tasks()
    comparator.compare(tasks, extractors=["auto", "fsm"], synthesizers=["enumerative", "rpni"], seconds=5,
                       examples=0.5, store=None, executor="capture")
    assert len(captured) == 4 * len(tasks)
    by_task = {t.name: t for t in tasks}
    for job in captured:
        data = pickle.dumps(job.args)
        args = DataOnly(io.BytesIO(data)).load()  # nothing but the allowed data types inside
        problem = args["problem"]
        assert isinstance(problem, Problem)
        assert set(args) == {"problem", "route", "method", "seed", "seconds", "options", "plugins", "methods", "train_cache"}
        task = by_task[problem.name]
        # The answers a worker holds are those of its examples: half the domain, and right there.
        assert problem.size == round(0.5 * task.domain_size) < task.domain_size
        truth = task.examples(None)
        rows = {_key(x): y for x, y in truth.rows()}
        assert all(rows[_key(x)] == y for x, y in problem.examples.rows())
        # No callable anywhere in what it holds (a problem's fields are data).
        assert not any(callable(v) for v in vars(problem).values())


def test_both_routes_runs_of_one_task_and_seed_get_the_same_problem(captured):
    comparator.compare([toy_tasks.get("running_parity")], extractors=["auto"], synthesizers=["enumerative"],
                       seconds=5, seeds=2, examples=100, store=None, executor="capture")
    ids = {}
    for job in captured:
        ids.setdefault(job.args["seed"], set()).add(job.args["problem"].identity())
    assert sorted(ids) == [0, 1] and all(len(v) == 1 for v in ids.values())
    assert ids[0] != ids[1]  # another seed, another draw


def test_a_problem_pickles_without_its_cache_and_keeps_its_identity():
    problem = toy_tasks.get("majority", n=3).problem(5, seed=2)
    first = problem.identity()
    back = pickle.loads(pickle.dumps(problem))
    assert back.identity() == first
    assert np.array_equal(back.outputs, problem.outputs)


def _key(x: dict) -> tuple:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(x.items()))
