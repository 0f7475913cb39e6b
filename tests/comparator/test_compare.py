"""compare: planted methods are scored by what they did, runs survive kills, reruns resume exactly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import comparator
from comparator import CompareError, Store

HERE = Path(__file__).resolve().parent
PLUGIN = "_planted_methods"


@pytest.fixture(autouse=True)
def _plugin_path(monkeypatch):
    # workers are spawned: they find the plugin through PYTHONPATH
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))


def test_wrong_timeout_memout_and_a_real_solution_in_one_grid(tmp_path):
    store = tmp_path / "runs.sqlite"
    comp = comparator.compare(["majority[n=3]"], extractors=("auto",),
                              synthesizers=("enumerative", "planted_wrong", "planted_sleep"),
                              seconds=4.0, examples=1, store=store, workers=2, memory_mb=3072, plugins=[PLUGIN])
    # a small cap (no torch in a synthesis worker) and a long budget: the hog meets the cap long before the clock
    hog = comparator.compare(["majority[n=3]"], extractors=(), synthesizers=("planted_hog",), seconds=60.0,
                             examples=1, store=store, workers=1, memory_mb=768, plugins=[PLUGIN])
    by = {r.method: r for r in comp.runs.itertuples()} | {r.method: r for r in hog.runs.itertuples()}
    assert by["planted_wrong"].status == "wrong"  # its claim of success is not trusted
    assert not by["planted_wrong"].correct
    assert by["planted_sleep"].status == "timeout"
    assert by["planted_hog"].status == "memout"
    assert by["enumerative"].status in ("solved", "wrong")  # one example: a guess, verified either way
    assert by["auto"].route == "extraction"
    assert len(comp.runs) == 4 and len(hog.runs) == 1
    assert by["planted_wrong"].verification == "exhaustive"


def test_verdict_and_report_from_a_real_grid(tmp_path):
    # Extraction by a planted reader that abstains on every network; synthesis by the real enumerator, which
    # gets both tasks right: synthesis is better on 2 of 2 tasks, too few for the sign test (p = 0.5), and no
    # task is right for both to compare costs on, so the verdict is inconclusive, and says so with its counts.
    kwargs = dict(extractors=("_planted_abstain",), synthesizers=("enumerative",), seconds=20.0,
                  store=tmp_path / "s.sqlite", plugins=["_planted_extractors"])
    comp = comparator.compare(["majority[n=3]", "parity[n=4]"], workers=2, **kwargs)
    assert (comp.runs[comp.runs.route == "synthesis"].status == "solved").all()
    assert (comp.runs[comp.runs.route == "extraction"].status == "abstained").all()
    v = comp.verdict
    assert v.scope == "pooled" and (v.solved_extraction, v.solved_synthesis) == (0, 2)
    assert (v.b, v.c, v.p_sign) == (0, 2, 0.5)
    assert v.winner == "inconclusive" and "2 tasks where the routes' outcomes differ" in v.sentence
    path = comp.report(tmp_path / "report")
    assert path.read_text().startswith("# ")
    again = comparator.compare(["majority[n=3]", "parity[n=4]"], **kwargs)
    assert len(again.runs) == len(comp.runs)  # nothing reran
    assert list(again.runs.key) == list(comp.runs.key)


SCRIPT = """
import sys
sys.path.insert(0, {here!r})
import comparator
if __name__ == "__main__":
    comparator.compare({tasks!r}, extractors=(), synthesizers=("planted_slow", "enumerative"), seeds=2,
                       seconds=5.0, store={store!r}, workers=1, plugins=[{plugin!r}])
"""

TASKS = ["majority[n=3]", "parity[n=4]", "multiplexer[k=1]"]


def _run_script(tmp_path, store, *, kill_after_rows: int | None):
    script = tmp_path / f"grid_{kill_after_rows}.py"
    script.write_text(SCRIPT.format(here=str(HERE), tasks=TASKS, store=str(store), plugin=PLUGIN))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_after_rows is None:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
        return
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if store.exists():
            try:
                with Store(store) as db:
                    if len(db) >= kill_after_rows:
                        break
            except Exception:
                pass
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: the comparator and its workers
    proc.wait()


@pytest.mark.slow
def test_a_grid_killed_midway_and_rerun_gives_exactly_the_uninterrupted_rows(tmp_path):
    interrupted, clean = tmp_path / "interrupted.sqlite", tmp_path / "clean.sqlite"
    _run_script(tmp_path, interrupted, kill_after_rows=3)
    with Store(interrupted) as db:
        partial = len(db)
    assert 0 < partial < 12
    _run_script(tmp_path, interrupted, kill_after_rows=None)
    _run_script(tmp_path, clean, kill_after_rows=None)
    with Store(interrupted) as a, Store(clean) as b:
        ra, rb = a.runs(), b.runs()
    assert len(ra) == len(rb) == 12
    assert sorted(ra.key) == sorted(rb.key)
    cols = ["key", "task", "method", "seed", "status", "correct", "program"]
    assert ra.sort_values("key")[cols].reset_index(drop=True).equals(rb.sort_values("key")[cols].reset_index(drop=True))


def test_bad_requests_are_refused_before_anything_runs(tmp_path):
    store = tmp_path / "s.sqlite"
    with pytest.raises(CompareError, match="unknown synthesis method"):
        comparator.compare(["parity[n=4]"], synthesizers=("nope",), store=store)
    with pytest.raises(CompareError, match="fraction"):
        comparator.compare(["parity[n=4]"], examples=1.5, store=store)
    with pytest.raises(CompareError, match="seconds"):
        comparator.compare(["parity[n=4]"], seconds=0, store=store)
    assert not store.exists() or len(Store(store)) == 0


def test_a_task_from_a_lambda_runs_in_the_workers(tmp_path):
    import toy_tasks
    from programs import Int

    task = toy_tasks.from_function("local_xor", lambda a, b: a ^ b, {"a": Int(0, 2), "b": Int(0, 2)})
    c = comparator.compare([task], extractors=(), synthesizers=("enumerative",), seconds=10,
                           store=tmp_path / "s.sqlite")
    assert c.runs["status"].tolist() == ["solved"]


def test_example_sets_are_nested_and_shared_by_both_routes():
    import toy_tasks

    task = toy_tasks.get("maximum", bits=3)
    small, large = task.example_set(10, seed=3), task.example_set(0.5, seed=3)
    rows = lambda ex: {tuple(int(ex.inputs[k][i]) for k in ex.inputs) for i in range(len(ex))}  # noqa: E731
    assert rows(small) <= rows(large) and len(large) == 32
    assert rows(task.example_set(10, seed=3)) == rows(small)
    assert task.example_set("default", seed=0).complete


def test_a_program_returned_after_the_budget_is_a_timeout():
    import toy_tasks
    from comparator.comparison import judge

    task = toy_tasks.get("parity", n=3)
    right = str(task.reference)
    late = {"seconds": 10.4, "reasons": []}
    assert judge(task, "solved", right, "extraction", 10.0, late) == ("timeout", "")
    assert "after its budget" in late["reasons"][-1]
    in_time = {"seconds": 9.9, "reasons": []}
    assert judge(task, "solved", right, "extraction", 10.0, in_time)[0] == "solved"


def test_a_program_a_synthesizers_self_check_turns_away_is_verified_and_counted(tmp_path):
    from comparator.analysis import self_checks

    comp = comparator.compare(["modular_addition[p=5]", "modular_subtraction[p=5]"], extractors=(),
                              synthesizers=("planted_lookup", "enumerative"), seconds=10.0, examples=12,
                              store=tmp_path / "s.sqlite", plugins=[PLUGIN])
    by = {(r.task, r.method): r for r in comp.runs.itertuples()}
    lookup = by[("modular_addition[p=5]", "planted_lookup")]
    assert lookup.status == "abstained" and lookup.self_check == "validation" and lookup.self_check_right == False  # noqa: E712
    assert any("self-check" in reason for reason in lookup.reasons)
    assert by[("modular_addition[p=5]", "enumerative")].self_check is None
    counted = self_checks(comp.runs).set_index(["route", "check"]).loc[("synthesis", "validation")]
    assert counted["turned_away"] == counted["prevented"] == 2  # both lookups wrong off their examples
    assert counted["discarded"] == 0  # a lookup table of a few examples is never right on these domains


def test_a_synthesizers_self_check_is_an_option_of_every_run(tmp_path):
    # planted_lookup checks itself on 30% of its examples by default; with the share set to 0 it returns its
    # memorised table, which the verifier finds wrong; any method takes the option the same way
    comp = comparator.compare(["modular_addition[p=5]"], extractors=(),
                              synthesizers=("planted_lookup", ("planted_lookup", {"validation": 0.0}),
                                            ("enumerative", {"validation": 0.25})),
                              seconds=10.0, examples=12, store=tmp_path / "s.sqlite", plugins=[PLUGIN])
    got = {(r.method, r.method_args.get("validation")): r.status for r in comp.runs.itertuples()}
    assert got == {("planted_lookup", None): "abstained", ("planted_lookup", 0.0): "wrong",
                   ("enumerative", 0.25): "solved"}
