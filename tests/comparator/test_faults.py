"""Faults: the comparator killed, a worker killed, the store unwritable (full or read-only), a corrupt
or foreign store, Ctrl-C. Each ends with a clear message, nothing corrupted, finished rows kept, and a
rerun that resumes. The comparator runs as the real CLI in a child process here."""
from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from _signals import as_in_a_terminal
from comparator import Store

HERE = Path(__file__).resolve().parent
TASKS = "parity[n=3],majority[n=3],multiplexer[k=1]"
# planted_slow sleeps for a second and gives up: runs of a known length, so a grid can be cut midway.
GRID = ["compare", "--tasks", TASKS, "--extractors", "", "--synthesizers", "planted_slow,enumerative",
        "--seconds", "20", "--seeds", "2", "--workers", "2", "--plugins", "_planted_methods"]
RUNS = 3 * 2 * 2


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
            "COLUMNS": "200", "NO_COLOR": "1"}


def _cli(args, tmp_path, *, preexec=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "comparator.cli", *args, "--out", str(tmp_path / "report")],
                          env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=preexec)


def _rows(path) -> int:
    with Store(path) as db:
        return len(db)


def _intact(path) -> None:
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        keys = [k for (k,) in con.execute("SELECT key FROM runs")]
    assert len(keys) == len(set(keys))


def _rerun_completes(store, tmp_path) -> None:
    """The store is intact, and rerunning the same command adds exactly the missing rows."""
    _intact(store)
    again = _cli([*GRID, "--store", str(store)], tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _rows(store) == RUNS
    _intact(store)


def _wait_for_rows(path, at_least: int, proc, limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if Path(path).exists():
            try:
                if _rows(path) >= at_least:
                    return
            except Exception:  # noqa: BLE001 -- the store may be mid-creation
                pass
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError(f"the store did not reach {at_least} rows in {limit} s")


def test_ctrl_c_keeps_finished_rows_and_says_how_to_resume(tmp_path):
    store = tmp_path / "runs.sqlite"
    args = [sys.executable, "-m", "comparator.cli", *GRID, "--store", str(store), "--out", str(tmp_path / "report")]
    proc = subprocess.Popen(args, env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, preexec_fn=as_in_a_terminal)
    _wait_for_rows(store, 3, proc)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "interrupted" in out and "rerun the same command to resume" in out, out
    assert "Traceback" not in out, out
    kept = _rows(store)
    assert 3 <= kept < RUNS
    _rerun_completes(store, tmp_path)


def _small_files():
    # Writes past 48 KiB fail with EFBIG (SIGXFSZ ignored, as a full disk fails a write with ENOSPC).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (48 * 1024, 48 * 1024))


def test_a_full_disk_stops_the_grid_with_a_clear_error_and_keeps_every_finished_row(tmp_path):
    store = tmp_path / "runs.sqlite"
    full = _cli([*GRID, "--store", str(store)], tmp_path, preexec=_small_files)
    assert full.returncode == 1, full.stdout + full.stderr
    assert "cannot write to the store" in full.stderr and "rerun the same command to resume" in full.stderr, full.stderr
    assert "Traceback" not in full.stderr
    kept = _rows(store)
    assert 0 < kept < RUNS
    _rerun_completes(store, tmp_path)


def _without_root_file_powers():
    # Root ignores file modes; dropping CAP_DAC_OVERRIDE (1) and CAP_DAC_READ_SEARCH (2) from the bounding
    # set before exec makes the child a root that file permissions do apply to.
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP")


def test_a_read_only_store_is_a_clear_error_and_is_left_as_it_was(tmp_path):
    store = tmp_path / "runs.sqlite"
    first = _cli([*GRID[:2], "parity[n=3]", *GRID[3:], "--store", str(store)], tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    before = store.read_bytes()
    store.chmod(0o444)
    tmp_path.chmod(0o555)  # no journal or WAL file can be made beside it either
    try:
        preexec = _without_root_file_powers if os.geteuid() == 0 else None
        ro = _cli([*GRID, "--store", str(store)], tmp_path.parent, preexec=preexec)
    finally:
        tmp_path.chmod(0o755)
        store.chmod(0o644)
    assert ro.returncode == 1, ro.stdout + ro.stderr
    assert f"cannot write to the store {store}" in ro.stderr and "readonly" in ro.stderr, ro.stderr
    assert "Traceback" not in ro.stderr
    assert store.read_bytes() == before
    _intact(store)


@pytest.mark.parametrize("content", [b"not a database at all\n" * 50, b"SQLite format 3\x00" + b"\xff" * 4000],
                         ids=["text", "damaged"])
def test_a_corrupt_store_is_refused_naming_the_file_and_left_alone(tmp_path, content):
    store = tmp_path / "runs.sqlite"
    store.write_bytes(content)
    res = _cli([*GRID, "--store", str(store)], tmp_path)
    assert res.returncode == 1
    assert str(store) in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert store.read_bytes() == content


def test_a_foreign_sqlite_database_is_refused_naming_the_file_and_left_alone(tmp_path):
    store = tmp_path / "other.sqlite"
    with sqlite3.connect(store) as con:
        con.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        con.execute("INSERT INTO customers VALUES (1, 'ada')")
    before = store.read_bytes()
    res = _cli([*GRID, "--store", str(store)], tmp_path)
    assert res.returncode == 1
    assert str(store) in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert store.read_bytes() == before


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:  # a zombie is dead, just not yet reaped
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (ProcessLookupError, FileNotFoundError):  # reaped between the signal and the read: dead
        return False


@pytest.mark.parametrize("preload", [False, True], ids=["spawn", "forkserver"])
def test_killing_the_comparator_leaves_no_run_behind(tmp_path, preload):
    pids = [tmp_path / f"{i}.pid" for i in range(2)]
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        from comparator.executor import Job, run_local
        if __name__ == "__main__":
            jobs = [Job(str(i), "_planted:sleeps_forever", {{"pid_file": p}}, 600.0, 0)
                    for i, p in enumerate({[str(p) for p in pids]!r})]
            run_local(jobs, workers=2, preload={["json"] if preload else []!r})
    """))
    proc = subprocess.Popen([sys.executable, str(script)], env=_env())
    deadline = time.monotonic() + 60
    while not all(p.exists() and p.read_text().strip() for p in pids):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    workers = [int(p.read_text()) for p in pids]
    assert all(_alive(w) for w in workers)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "a run outlived its comparator"


def test_a_worker_killed_from_outside_is_recorded_and_the_grid_goes_on(tmp_path):
    from comparator.executor import Job, run_local

    pid_file = tmp_path / "victim.pid"
    jobs = [Job("victim", "_planted:sleeps_forever", {"pid_file": str(pid_file)}, 60.0, 1024),
            *[Job(f"ok{i}", "_planted:returns", {"x": i}, 30.0, 0) for i in range(4)]]
    landed = []

    def on_outcome(outcome):
        landed.append(outcome)
        if len(landed) == 1:  # kill the victim once another run has finished beside it
            deadline = time.monotonic() + 30
            while not (pid_file.exists() and pid_file.read_text().strip()):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            os.kill(int(pid_file.read_text()), signal.SIGKILL)

    outcomes = {o.key: o for o in run_local(jobs, workers=2, on_outcome=on_outcome)}
    assert outcomes["victim"].status == "memout"  # the rule: a SIGKILL not ours, under a cap, is the OOM killer's
    assert "SIGKILL" in outcomes["victim"].detail and "not from our timeout" in outcomes["victim"].detail
    assert all(outcomes[f"ok{i}"].status == "ok" and outcomes[f"ok{i}"].value == {"doubled": 2 * i} for i in range(4))


def test_a_worker_that_finds_its_pools_locks_gone_exits_without_a_traceback():
    # what a worker forked just before Ctrl-C meets: the parent has unlinked the pool's semaphores, and
    # rebuilding one raises FileNotFoundError; any other error still prints its traceback
    code = (
        "import sys, comparator._quiet_start, multiprocessing.synchronize as s\n"
        "class Lock: pass\n"
        "try:\n"
        "    s.SemLock.__setstate__(Lock(), (0, 1, 1, '/tractbench-no-such-lock'))\n"
        "except FileNotFoundError:\n"
        "    sys.excepthook(*sys.exc_info())\n"
        "try:\n"
        "    open('/tractbench-no-such-file')\n"
        "except FileNotFoundError:\n"
        "    sys.excepthook(*sys.exc_info())\n"
    )
    run = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("Traceback") == 1 and "tractbench-no-such-file" in run.stderr
    assert "synchronize.py" not in run.stderr
