"""Runs the same jobs on a Ray cluster (``pip install -e ".[ray]"``; ``--executor ray --address ...``).

Each job is one Ray task asking for one CPU; on its node the task runs the job through the local pool
(`executor.run_one`), so a job gets exactly what it gets locally: a process of its own (forked from a
server that has ``preload`` imported, one per Ray worker, so the imports are paid once per worker),
its memory cap, one thread, a hard kill at ``seconds + grace``, and the same statuses. Outcomes come back to the driver,
which alone writes the store (through ``on_outcome``), as they land.

Two more safeguards belong to the cluster:
- the driver cancels, with force, a task still unfinished ``DRIVER_SLACK_SECONDS`` after its process
  should have been killed on its node (a node that hangs or is cut off); the job is then a timeout;
- a task whose Ray worker or node dies is retried by Ray (``RETRIES`` times); a job that still has no
  outcome is not stored, the others go on, and an `ExecutorError` at the end says to rerun, which
  resumes exactly those jobs.

With no ``address`` a local Ray instance is started for the run and stopped after it. With an address
("auto", "host:port" or "ray://host:port") the driver connects to that cluster; if this process is
already connected (``ray.init`` called by the user), that connection is used as it is.
Modules named by ``compare(plugins=...)`` must be importable on every node (install them there, or pass
``runtime_env={"py_modules": [...]}`` in ``executor_options``).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from .executor import GRACE_SECONDS, ExecutorError, Job, Outcome, check_keys, run_one

__all__ = ["DRIVER_SLACK_SECONDS", "RETRIES", "run_ray"]

DRIVER_SLACK_SECONDS = 60.0
RETRIES = 2
_POLL_SECONDS = 0.1


def _reachable(address: str | None) -> None:
    """A "host:port" that nothing listens on is refused at once (Ray itself retries for minutes)."""
    import socket

    if not address or address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ExecutorError(f"--address must be host:port (a Ray head's GCS port, 6379 by default), 'auto', or "
                            f"ray://host:port; got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as err:
        raise ExecutorError(f"no Ray cluster answers at {address} ({err}); start one with `ray start --head` there, "
                            "or leave --address out to start a local one") from None


def _connect(ray, address: str | None, workers: int | None, runtime_env: dict | None) -> bool:
    """Connects (or starts a local instance); returns whether this call did, so must shut it down."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    options: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if runtime_env:
        options["runtime_env"] = runtime_env
    if address:
        options["address"] = address
    else:
        options.update(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False)
    _reachable(address)
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
        raise ExecutorError(
            f"could not connect to {where}: {err}. Start one with `ray start --head` and pass its address "
            "(`--address host:6379`, or `auto` on a cluster node), or leave --address out to start a local one"
        ) from err
    return True


def run_ray(
    jobs: Sequence[Job],
    *,
    workers: int | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    address: str | None = None,
    grace: float = GRACE_SECONDS,
    runtime_env: dict | None = None,
    preload: Sequence[str] = (),
) -> list[Outcome]:
    """Runs ``jobs`` on Ray, at most ``workers`` at once (default: the cluster's CPUs); outcomes in job order.

    ``on_outcome`` is called in this thread as each outcome lands. On KeyboardInterrupt or an exception
    from ``on_outcome``, every unfinished task is cancelled with force (its process killed) and the
    exception re-raised; outcomes already delivered stay delivered.
    """
    try:
        import ray
        from ray.exceptions import GetTimeoutError, RayError, TaskCancelledError
    except ImportError:
        raise ExecutorError('the Ray executor needs Ray: pip install -c constraints.txt -e ".[ray]"') from None
    jobs = check_keys(jobs)
    if not jobs:
        return []
    owned = _connect(ray, address, workers, runtime_env)
    try:
        capacity = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(num_cpus=1, max_retries=RETRIES, retry_exceptions=False)(run_one)
        queue = list(reversed(jobs))
        running: dict[Any, tuple[Job, float]] = {}
        outcomes: dict[str, Outcome] = {}
        lost: list[str] = []

        def deliver(outcome: Outcome) -> None:
            outcomes[outcome.key] = outcome
            if on_outcome is not None:
                on_outcome(outcome)

        try:
            while queue or running:
                while queue and len(running) < capacity:
                    job = queue.pop()
                    running[remote.remote(job, grace=grace, preload=preload)] = (job, time.monotonic())
                done, _ = ray.wait(list(running), num_returns=1, timeout=_POLL_SECONDS)
                now = time.monotonic()
                for ref in done:
                    job, submitted = running.pop(ref)
                    try:
                        outcome = ray.get(ref, timeout=DRIVER_SLACK_SECONDS)
                    except TaskCancelledError:
                        outcome = Outcome(job.key, "timeout", None, now - submitted,
                                          "cancelled by the driver: no answer from its node in time")
                    except (GetTimeoutError, RayError) as err:
                        # The node or its worker died (after Ray's retries): not the job's doing.
                        lost.append(f"{job.key}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
                        continue
                    deliver(outcome)
                for ref, (job, submitted) in list(running.items()):
                    if now - submitted > job.seconds + grace + DRIVER_SLACK_SECONDS:
                        ray.cancel(ref, force=True, recursive=True)
                        running.pop(ref)
                        deliver(Outcome(job.key, "timeout", None, now - submitted,
                                        f"cancelled by the driver {DRIVER_SLACK_SECONDS:g} s after its node should "
                                        "have killed it"))
        except BaseException:
            for ref in running:
                ray.cancel(ref, force=True, recursive=True)
            raise
        if lost:
            raise ExecutorError(
                f"{len(lost)} job(s) got no outcome because their Ray worker or node failed ({RETRIES} retries): "
                + "; ".join(lost[:5]) + ". The other outcomes are stored; rerun the same command to run just these"
            )
        return [outcomes[job.key] for job in jobs]
    finally:
        if owned:
            ray.shutdown()
