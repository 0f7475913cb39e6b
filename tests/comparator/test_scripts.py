"""``compare`` from wherever a user calls it: a plain script with no ``__main__`` guard, a script piped to
``python -``, tasks made from lambdas and closures, methods defined in the script itself; and a pool whose
workers cannot start ends with a typed error instead of waiting forever. Each case runs in a child
process, under a timeout, as a user would run it."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
LIMIT = 300  # seconds a child may take before the test calls it a hang

# Two user tasks whose ground truths no worker can import: a lambda and a closure, made at top level of
# a script with no `if __name__ == "__main__":` guard.
SCRIPT = textwrap.dedent('''
    import sys
    import comparator, toy_tasks
    from toy_tasks import Int, Seq

    def running_sum_mod(k):
        return lambda xs: [sum(xs[:i + 1]) % k for i in range(len(xs))]

    tasks = [
        toy_tasks.from_function("add_mod5", lambda a, b: (a + b) % 5, inputs={"a": Int(0, 5), "b": Int(0, 5)}),
        toy_tasks.from_function("sum_mod3", running_sum_mod(3), inputs={"xs": Seq(Int(0, 3), length=(1, 6))}),
    ]
    c = comparator.compare(tasks, extractors=["auto"], synthesizers=["enumerative"], seconds=30,
                           store=sys.argv[1], workers=2, **OPTIONS)
    for row in c.runs.itertuples():
        print("ROW", row.task, row.route, row.method, row.status)
''')


def run_child(args: list[str], *, stdin: str | None = None, cwd: str, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=LIMIT, cwd=cwd,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def rows(out: str) -> dict[tuple[str, str, str], str]:
    found = {}
    for line in out.splitlines():
        if line.startswith("ROW "):
            _, task, route, method, status = line.split()
            found[(task, route, method)] = status
    return found


def expect_all_solved(out: str) -> None:
    got = rows(out)
    want = {(t, r, m) for t in ("add_mod5", "sum_mod3") for r, m in (("extraction", "auto"), ("synthesis", "enumerative"))}
    assert set(got) == want, out
    assert all(status == "solved" for status in got.values()), got


def script(options: str = "{}") -> str:
    return SCRIPT.replace("**OPTIONS", f"**{options}")


def test_a_script_without_a_main_guard_compares_lambda_and_closure_tasks(tmp_path):
    path = tmp_path / "user_script.py"
    path.write_text(script())
    expect_all_solved(run_child([sys.executable, str(path), str(tmp_path / "s.sqlite")], cwd=str(tmp_path)).stdout)


def test_a_script_piped_to_python_stdin_compares_lambda_and_closure_tasks(tmp_path):
    expect_all_solved(run_child([sys.executable, "-", str(tmp_path / "s.sqlite")], stdin=script(),
                                cwd=str(tmp_path)).stdout)


def test_a_method_defined_in_the_script_reaches_the_workers(tmp_path):
    source = textwrap.dedent('''
        import sys
        import comparator, synthesis, toy_tasks
        from programs import parse
        from toy_tasks import Int

        @synthesis.synthesizer("first_input")
        def first_input(name: str = "a"):
            """Returns its first input, whatever the examples say."""
            def run(problem, budget, rng):
                return synthesis.Attempt(parse(f"def f(a, b):\\n    return {name}\\n"), "solved")
            return run

        tasks = [toy_tasks.from_function("first", lambda a, b: a, inputs={"a": Int(0, 4), "b": Int(0, 4)}),
                 toy_tasks.from_function("second", lambda a, b: b, inputs={"a": Int(0, 4), "b": Int(0, 4)})]
        c = comparator.compare(tasks, extractors=[], synthesizers=["first_input"], seconds=10, store=sys.argv[1],
                               plugins=[sys.modules[__name__]])
        for row in c.runs.itertuples():
            print("ROW", row.task, row.route, row.method, row.status)
    ''')
    got = rows(run_child([sys.executable, "-", str(tmp_path / "s.sqlite")], stdin=source, cwd=str(tmp_path)).stdout)
    # Ran for real in the workers: right where the first input is the answer, refused by solve elsewhere
    # (a program that does not fit the examples is the method's error, never a verified answer).
    assert got == {("first", "synthesis", "first_input"): "solved", ("second", "synthesis", "first_input"): "error"}


@pytest.mark.parametrize("fate, messages", [
    # they die: the pool sees it, or the stall watch first
    ("os._exit(7)", ("TYPED the worker processes failed outside any job", "TYPED no run has started for 3 s")),
    ("time.sleep(3600)", ("TYPED no run has started for 3 s",)),  # they hang: only the stall watch can see it
])
def test_workers_that_cannot_start_end_the_run_with_a_typed_error(tmp_path, fate, messages):
    (tmp_path / "broken_children.py").write_text(
        f"import os, time\nos.register_at_fork(after_in_child=lambda: {fate})\n")
    source = textwrap.dedent('''
        from comparator.executor import ExecutorError, Job, run_local
        jobs = [Job(str(i), "json:dumps", {"obj": i}, 5.0, 0) for i in range(3)]
        try:
            run_local(jobs, workers=2, preload=["broken_children"], stall=3.0)
        except ExecutorError as err:
            print("TYPED", str(err).replace("\\n", " "))
    ''')
    out = run_child([sys.executable, "-"], stdin=source, cwd=str(tmp_path), env={"PYTHONPATH": str(tmp_path)}).stdout
    assert out.startswith(messages), out
    assert "rerun" in out
