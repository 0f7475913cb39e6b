"""The local executor, with real child processes running the planted jobs of `_planted`."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import _planted
import pytest
from _signals import as_in_a_terminal

from comparator.executor import (
    EXECUTORS,
    THREAD_VARIABLES,
    Job,
    Outcome,
    get_executor,
    run_local,
)

PLANTED = _planted.__name__
HERE = Path(__file__).resolve().parent


def job(key: str, name: str, args: dict | None = None, *, seconds: float = 60.0, memory_mb: int = 0) -> Job:
    return Job(key=key, fn=f"{PLANTED}:{name}", args=args or {}, seconds=seconds, memory_mb=memory_mb)


def test_a_job_returns_its_value_under_its_limits():
    before = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    outcomes = run_local([job("double", "returns", {"x": 21}), job("limits", "reports_limits", memory_mb=1024)])
    assert [o.key for o in outcomes] == ["double", "limits"]
    assert [o.status for o in outcomes] == ["ok", "ok"], [o.detail for o in outcomes]
    assert outcomes[0].value == {"doubled": 42}
    limits = outcomes[1].value
    assert limits["address_space"] == 1024 * 2**20
    assert limits["omp"] == "1"
    assert limits["blas_threads"] and set(limits["blas_threads"]) == {1}
    assert limits["sigint"] and limits["sigint_blocked"]
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, ())  # this process still takes Ctrl-C
    assert {name: os.environ.get(name) for name in THREAD_VARIABLES} == before


def test_a_forked_worker_starts_with_interrupts_blocked_too():
    (outcome,) = run_local([job("limits", "reports_limits")], preload=["numpy"])
    assert outcome.status == "ok" and outcome.value["sigint_blocked"], outcome.detail


def test_a_sleeper_is_killed_at_its_budget_and_the_pool_runs_the_next_job():
    outcomes = run_local(
        [job("sleeper", "sleeps_forever", seconds=0.5), job("after", "returns", {"x": 1})], workers=1, grace=0.5
    )
    assert [o.status for o in outcomes] == ["timeout", "ok"]
    assert "0.5 s budget" in outcomes[0].detail
    assert outcomes[0].value is None
    assert outcomes[1].value == {"doubled": 2}


def test_an_allocator_runs_out_of_memory_and_the_pool_runs_the_next_job():
    outcomes = run_local(
        [job("hog", "allocates_without_bound", memory_mb=512), job("after", "returns", {"x": 2})], workers=1
    )
    assert [o.status for o in outcomes] == ["memout", "ok"], [o.detail for o in outcomes]
    assert "MemoryError" in outcomes[0].detail and "512 MiB" in outcomes[0].detail
    assert outcomes[1].value == {"doubled": 4}


def test_exceptions_and_deaths_are_classified_and_each_outcome_delivered_once():
    jobs = [
        job("raises", "raises", {"message": "planted failure"}),
        job("exits", "exits", {"code": 3}),
        job("sigkill", "kills_itself", {"signal_name": "SIGKILL"}, memory_mb=512),
        job("segv-capped", "kills_itself", {"signal_name": "SIGSEGV"}, memory_mb=512),
        job("segv-uncapped", "kills_itself", {"signal_name": "SIGSEGV"}),
        Job(key="no-module", fn="tractbench_no_such_module:f", args={}, seconds=60.0, memory_mb=0),
        job("ok", "returns", {"x": 3}),
    ]
    delivered: list[Outcome] = []
    outcomes = run_local(jobs, workers=2, on_outcome=delivered.append)
    assert sorted(o.key for o in delivered) == sorted(j.key for j in jobs)
    assert {o.key: o for o in delivered} == {o.key: o for o in outcomes}
    by_key = {o.key: o for o in outcomes}
    assert [o.key for o in outcomes] == [j.key for j in jobs]
    assert {key: o.status for key, o in by_key.items()} == {
        "raises": "error",
        "exits": "error",
        "sigkill": "memout",
        "segv-capped": "memout",
        "segv-uncapped": "error",
        "no-module": "error",
        "ok": "ok",
    }
    assert "ValueError: planted failure" in by_key["raises"].detail
    assert "_planted.py" in by_key["raises"].detail  # the traceback tail
    assert "code 3" in by_key["exits"].detail
    assert "SIGKILL" in by_key["sigkill"].detail
    assert "SIGSEGV" in by_key["segv-uncapped"].detail
    assert "tractbench_no_such_module" in by_key["no-module"].detail


def test_an_interrupt_stops_the_pool_kills_its_children_and_is_reraised(tmp_path):
    pid_file = tmp_path / "sleeper.pid"
    jobs = [job("sleeper", "sleeps_forever", {"pid_file": str(pid_file)}), job("quick", "returns_once_exists", {"path": str(pid_file)})]
    delivered: list[Outcome] = []

    def interrupt(outcome: Outcome) -> None:
        delivered.append(outcome)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_local(jobs, workers=2, on_outcome=interrupt)
    assert [(o.key, o.status, o.value) for o in delivered] == [("quick", "ok", "seen")]
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "script.py"
    path.write_text(f"import sys\nsys.path.insert(0, {str(HERE)!r})\n" + textwrap.dedent(body))
    return path


def test_ctrl_c_in_the_parent_kills_the_children_and_is_reraised(tmp_path):
    pid_file = tmp_path / "sleeper.pid"
    script = _script(tmp_path, f"""
        from comparator.executor import Job, run_local
        if __name__ == "__main__":
            try:
                run_local([Job("sleeper", "{PLANTED}:sleeps_forever", {{"pid_file": {str(pid_file)!r}}}, 60.0, 0)])
            except KeyboardInterrupt:
                print("interrupted")
    """)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, start_new_session=True,
                              preexec_fn=as_in_a_terminal)
    try:
        while not pid_file.exists() or not pid_file.read_text():
            assert parent.poll() is None, "the parent ended before its job started"
            time.sleep(0.02)
        os.killpg(parent.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole process group
        out, _ = parent.communicate(timeout=30)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert out.strip() == "interrupted"
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_a_script_without_a_main_guard_runs_its_jobs_once(tmp_path):
    # The workers never re-import the caller's main script: without a guard, the script runs once (one
    # "started" line), and its job returns.
    script = _script(tmp_path, f"""
        from comparator.executor import Job, run_local
        print("started", flush=True)
        print(run_local([Job("a", "{PLANTED}:returns", {{"x": 1}}, 60.0, 0)])[0].value)
    """)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["started", "{'doubled': 2}"]


def test_jobs_are_checked_before_anything_runs():
    with pytest.raises(ValueError, match="module:function"):
        Job(key="k", fn="no_colon", args={}, seconds=1.0, memory_mb=0)
    with pytest.raises(ValueError, match="positive"):
        Job(key="k", fn="m:f", args={}, seconds=0.0, memory_mb=0)
    with pytest.raises(ValueError, match="share the key"):
        run_local([job("same", "returns", {"x": 1}), job("same", "returns", {"x": 2})])
    assert run_local([]) == []


def test_executors_are_found_by_name():
    assert get_executor("local") is run_local
    assert EXECUTORS["local"] is run_local
    with pytest.raises(ValueError, match="local"):
        get_executor("nowhere")
