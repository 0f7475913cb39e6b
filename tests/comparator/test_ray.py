"""The Ray executor on a real local cluster (``ray start --head`` on loopback, 2 CPUs), against the local pool.

The cluster gets its own HOME and temp folder, so nothing under the user's ~/.ray (Ray 2.60 writes an
auth token there) is read or left behind.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

import toy_tasks
from comparator import compare
from comparator.executor import Job, run_local

ray = pytest.importorskip("ray", reason='the Ray executor is the extra [ray]: pip install -c constraints.txt -e ".[ray]"')

from _determinism import assert_same_runs

from comparator.ray_executor import run_ray

HERE = os.path.dirname(os.path.abspath(__file__))
pytestmark = pytest.mark.slow
BUDGET = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """A fresh two-CPU Ray head on this machine; yields its address; stopped afterwards."""
    ray_bin = shutil.which("ray") or os.path.join(os.path.dirname(sys.executable), "ray")
    home = tempfile.mkdtemp(prefix="tbh")
    temp = tempfile.mkdtemp(prefix="tbr", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    port = _free_port()
    env = {**os.environ, "HOME": home, "RAY_USAGE_STATS_ENABLED": "0",
           "PYTHONPATH": os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")])}
    saved = {k: os.environ.get(k) for k in ("HOME", "PYTHONPATH")}
    subprocess.run([ray_bin, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
                    "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
                   env=env, check=True, capture_output=True, timeout=120)
    os.environ.update(HOME=home, PYTHONPATH=env["PYTHONPATH"])
    try:
        yield f"127.0.0.1:{port}"
    finally:
        if ray.is_initialized():
            ray.shutdown()
        subprocess.run([ray_bin, "stop", "--force"], env=env, capture_output=True, timeout=120)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(temp, ignore_errors=True)


def test_the_quick_suite_on_ray_equals_the_local_pool(cluster, tmp_path):
    tasks = toy_tasks.suite("quick")
    local = compare(tasks, seconds=BUDGET, store=tmp_path / "local.sqlite", workers=2)
    remote = compare(tasks, seconds=BUDGET, store=tmp_path / "ray.sqlite", executor="ray",
                     executor_options={"address": cluster})
    assert len(local.runs) == len(remote.runs) == 2 * len(tasks)
    assert_same_runs(local.runs, remote.runs)
    assert (remote.runs["status"] == "solved").sum() >= len(tasks)  # the runs did real work
    assert remote.runs["host"].notna().all()


def test_limits_and_statuses_on_ray_match_the_local_pool(cluster):
    planted = "_planted:"
    jobs = [
        Job("returns", planted + "returns", {"x": 3}, 5.0, 0),
        Job("limits", planted + "reports_limits", {}, 5.0, 1024),
        Job("sleeps", planted + "sleeps_forever", {}, 0.5, 0),
        Job("memory", planted + "allocates_without_bound", {}, 10.0, 512),
        Job("raises", planted + "raises", {"message": "boom"}, 5.0, 0),
        Job("exits", planted + "exits", {"code": 3}, 5.0, 0),
        Job("segfault", planted + "kills_itself", {"signal_name": "SIGSEGV"}, 5.0, 0),
    ]
    landed = []
    remote = run_ray(jobs, address=cluster, grace=1.0, on_outcome=landed.append)
    local = run_local(jobs, workers=2, grace=1.0)
    assert sorted(o.key for o in landed) == sorted(j.key for j in jobs)
    for r, loc in zip(remote, local, strict=True):
        assert (r.key, r.status) == (loc.key, loc.status), (r, loc)
    by_key = {o.key: o for o in remote}
    assert by_key["returns"].value == {"doubled": 6}
    assert by_key["limits"].value["address_space"] == 1024 * 2**20
    assert by_key["limits"].value["omp"] == "1"
    assert by_key["sleeps"].status == "timeout" and "killed at 0.5 s budget" in by_key["sleeps"].detail
    assert by_key["memory"].status == "memout"
    assert "boom" in by_key["raises"].detail


def test_a_bad_address_is_a_clear_error():
    from comparator.executor import ExecutorError

    if ray.is_initialized():
        ray.shutdown()
    with pytest.raises(ExecutorError, match="ray start --head"):
        run_ray([Job("a", "_planted:returns", {"x": 1}, 5.0, 0)], address=f"127.0.0.1:{_free_port()}")


def test_a_script_piped_to_python_compares_lambda_and_closure_tasks_on_ray(cluster, tmp_path):
    from test_scripts import expect_all_solved, run_child, script

    source = script(f'{{"executor": "ray", "executor_options": {{"address": "{cluster}"}}}}')
    if ray.is_initialized():
        ray.shutdown()  # the child is the cluster's driver now
    out = run_child([sys.executable, "-", str(tmp_path / "ray.sqlite")], stdin=source, cwd=str(tmp_path))
    expect_all_solved(out.stdout)
