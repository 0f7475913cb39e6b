"""Runs jobs each in a fresh process under a hard wall-clock limit, a memory cap and one thread.

The executor knows nothing of tasks or routes: a `Job` names a function by dotted path, its keyword
arguments and its limits; an `Outcome` says how the process ended and carries what the function
returned. Executors share one signature, `run_*(jobs, *, workers, on_outcome) -> list[Outcome]`,
and are registered by name in `EXECUTORS`.

Statuses:
- "ok": the function returned; `value` is what it returned.
- "timeout": still running at `seconds + grace`, so the process was killed.
- "memout": the function ran out of memory. In the child, a MemoryError (numpy's included), an
  OSError with errno ENOMEM, or a RuntimeError with an allocator's out-of-memory message (torch's
  "can't allocate memory", "Cannot allocate memory", "std::bad_alloc", "out of memory"). A process that
  died without returning is judged by its signal, since a dead process can no longer be asked how
  much memory it held: SIGKILL counts as memout (our own timeout kills are reported as timeouts, so
  a SIGKILL here came from the kernel's OOM killer or another process), and so do SIGSEGV, SIGBUS and
  SIGABRT when the job ran under a cap (the ways native code fails when an allocation is refused:
  a NULL dereferenced, std::bad_alloc reaching terminate, "Fatal Python error: Cannot recover from
  MemoryError"). `detail` names the signal, so the analysis can see what was counted.
- "error": anything else: an exception (its traceback tail in `detail`), a nonzero exit, another
  signal, or SIGSEGV/SIGBUS/SIGABRT without a cap. (A function that calls os._exit(0) looks to the
  pool like a worker retiring normally, so its job ends as a timeout.)

The memory cap is RLIMIT_AS, the process's virtual address space, which includes the interpreter
and every library it maps (about 20 MiB for Python, 100 MiB with numpy, 600 MiB with torch).
"""
from __future__ import annotations

import contextlib
import errno
import importlib
import math
import multiprocessing
import multiprocessing.context
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

from pebble import ProcessExpired, ProcessPool

__all__ = [
    "EXECUTORS", "GRACE_SECONDS", "STATUSES", "Executor", "ExecutorError", "Job", "Outcome", "get_executor",
    "run_local", "run_one",
]

OutcomeStatus = Literal["ok", "timeout", "memout", "error"]
STATUSES: tuple[OutcomeStatus, ...] = get_args(OutcomeStatus)
# Added to each job's budget before the hard kill: the job's own clock should stop it first, and
# the grace pays for unpickling and imports in the fresh process.
GRACE_SECONDS = 5.0
# Environment variables read by BLAS and OpenMP runtimes (and torch) when they load.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
# With runs waiting and a worker free, no run has started nor ended for this long: the worker processes
# cannot start (or die as they start), and waiting longer would wait forever.
STALL_SECONDS = 30.0
_POLL_SECONDS = 0.05
_TAIL_LINES = 20
_OUT_OF_MEMORY_MESSAGES = ("can't allocate memory", "cannot allocate memory", "std::bad_alloc", "out of memory")


@dataclass(frozen=True)
class Job:
    """One function call to run in its own process: `fn` is "module:function", called as fn(**args).

    `args` must pickle; `seconds` is the budget (the process is killed at seconds + grace);
    `memory_mb` caps the address space, and 0 or less means no cap.
    """

    key: str
    fn: str
    args: dict
    seconds: float
    memory_mb: int

    def __post_init__(self) -> None:
        module, _, name = self.fn.partition(":")
        if not module or not name:
            raise ValueError(f"Job.fn must be 'module:function' (e.g. 'synthesis:solve'), got {self.fn!r}")
        if not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise ValueError(f"Job.seconds must be a positive number of seconds, got {self.seconds!r}")


@dataclass(frozen=True)
class Outcome:
    """How a job's process ended: status in STATUSES, the returned value if "ok", wall seconds, why."""

    key: str
    status: OutcomeStatus
    value: Any
    seconds: float
    detail: str


class ExecutorError(RuntimeError):
    """The executor itself failed (not a job): no outcome is recorded for the jobs it had not finished."""


class Executor(Protocol):
    def __call__(
        self,
        jobs: Sequence[Job],
        *,
        workers: int | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]: ...


# ---- in the child process -------------------------------------------------------------------


def _cap_memory(memory_mb: int) -> None:
    if memory_mb <= 0:
        return
    limit = memory_mb * 2**20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _die_with_driver(driver: int | None) -> None:
    """Makes this job's process die when the process that ran the pool (the driver) does, so a
    comparator killed with SIGKILL leaves no run behind. A spawned job's parent is the driver: the kernel
    does it (PR_SET_PDEATHSIG). A job forked by the forkserver outlives nothing but the server, which
    itself lives as long as any job does, so a daemon thread waits on a pidfd of the driver instead."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    if driver is None or driver == os.getppid():
        return
    try:
        pidfd = os.pidfd_open(driver)
    except (OSError, AttributeError):  # already gone, or a kernel without pidfds
        if not _alive(driver):
            os.kill(os.getpid(), signal.SIGKILL)
        return

    def watch() -> None:
        import select

        select.select([pidfd], [], [])  # readable once the driver has exited
        os.kill(os.getpid(), signal.SIGKILL)

    import threading

    threading.Thread(target=watch, name="tractbench-driver-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and someone else's
        pass
    return True


def _one_thread() -> None:
    """Limits the thread pools of libraries already loaded; those loaded later read THREAD_VARIABLES."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(limits=1)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
        with contextlib.suppress(RuntimeError):  # only allowed before torch's first parallel work
            torch.set_num_interop_threads(1)


def _resolve(path: str) -> Callable[..., Any]:
    module_name, _, attribute = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def _is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, MemoryError):
        return True
    if isinstance(error, OSError) and error.errno == errno.ENOMEM:
        return True
    if not isinstance(error, RuntimeError):
        return False
    message = str(error).lower()
    return any(text in message for text in _OUT_OF_MEMORY_MESSAGES)


def _tail(error: BaseException) -> str:
    lines = "".join(traceback.format_exception(error)).rstrip().splitlines()
    return "\n".join(lines[-_TAIL_LINES:])


def _execute(fn: str, args: dict, memory_mb: int, driver: int | None = None) -> tuple[str, Any, str]:
    """Runs one job in the pool's child process; returns (status, value, detail).

    Exceptions are classified here, where they can be inspected, and never cross the pipe.
    """
    _die_with_driver(driver)
    _cap_memory(memory_mb)
    try:
        function = _resolve(fn)
        _one_thread()
        return "ok", function(**args), ""
    except BaseException as error:  # noqa: BLE001 -- every failure of the job becomes its outcome
        if _is_out_of_memory(error):
            # Drop the failed frames' locals (the memory that ran out) before formatting the report.
            traceback.clear_frames(error.__traceback__)
            cap = f" under the {memory_mb} MiB cap" if memory_mb > 0 else ""
            return "memout", None, f"out of memory{cap}\n{_tail(error)}"
        return "error", None, _tail(error)


# ---- in the parent process ------------------------------------------------------------------


def _worker_environment() -> dict[str, str]:
    """What a job's process must see when it starts: one thread in every numeric library, and a fixed
    hash seed, so that iterating a set of strings goes the same way in every run (determinism)."""
    return {**{name: "1" for name in THREAD_VARIABLES}, "PYTHONHASHSEED": "0"}


@contextlib.contextmanager
def _single_thread_environment() -> Iterator[None]:
    """Sets `_worker_environment` while the pool starts processes (they inherit it), then restores it."""
    env = _worker_environment()
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _expired(exitcode: int | None, memory_mb: int) -> tuple[str, str]:
    """Status and detail for a process that died without returning (the rule is in the module docstring)."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        memory_signal = name in ("SIGSEGV", "SIGBUS", "SIGABRT") and memory_mb > 0
        if name == "SIGKILL" or memory_signal:
            cap = f" under the {memory_mb} MiB cap" if memory_mb > 0 else ""
            return "memout", f"process died from {name}{cap}, not from our timeout; counted as out of memory"
        return "error", f"process died from {name}"
    return "error", f"process exited with code {exitcode} before returning"


def _outcome(job: Job, future: Any, seconds: float, grace: float) -> Outcome:
    error = future.exception()
    if error is None:
        status, value, detail = future.result()
    elif isinstance(error, TimeoutError):
        status, value, detail = "timeout", None, f"killed at {job.seconds:g} s budget + {grace:g} s grace"
    elif isinstance(error, BrokenProcessPool):
        # Not this job's doing: storing it as the job's outcome would make a resumed run skip it.
        raise ExecutorError(
            f"the worker processes failed outside any job ({error}); the jobs not yet finished have no "
            "outcome, so rerunning resumes them once the cause is fixed (a module the workers preload that "
            "fails to import, a machine out of processes or memory)"
        ) from error
    elif isinstance(error, ProcessExpired):
        status, detail = _expired(error.exitcode, job.memory_mb)
        value = None
    else:
        # The pool itself failed (arguments that cannot be pickled, a broken pool, ...).
        status, value, detail = "error", None, _tail(error)
    return Outcome(job.key, status, value, seconds, detail)


def check_keys(jobs: Sequence[Job]) -> list[Job]:
    """The jobs as a list; ValueError if two share a key (outcomes are matched to jobs by key)."""
    jobs = list(jobs)
    seen: set[str] = set()
    for job in jobs:
        if job.key in seen:
            raise ValueError(f"two jobs share the key {job.key!r}; every job needs its own key")
        seen.add(job.key)
    return jobs


_MAIN_LOCK = threading.Lock()


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """While a process is being started: a bare ``__main__`` module in place of the caller's, so the
    start-up data multiprocessing sends the child names no main script or module to run again. Without
    this, each run's process re-imports the caller's script (as ``__mp_main__``), which reruns a script
    without a ``__main__`` guard (every worker starting a comparison of its own) and fails for a script read
    from standard input. Jobs name their function by module path, so they never need the caller's main."""
    with _MAIN_LOCK:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if main is None:
                sys.modules.pop("__main__", None)
            else:
                sys.modules["__main__"] = main


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """SIGINT blocked in this thread while a worker process (or the forkserver it forks from) is started:
    the child inherits the blocked mask across fork and exec, so a Ctrl-C that reaches the whole process
    group while a worker is still starting (before pebble's worker sets SIGINT to be ignored) cannot raise
    KeyboardInterrupt inside its start-up and print a traceback. This process still gets the interrupt: a
    signal sent to a process goes to a thread that does not block it (the main thread here)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class _ForkServerProcess(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        with _main_hidden(), _interrupts_held():
            return multiprocessing.context.ForkServerProcess._Popen(process_obj)


class _SpawnProcess(multiprocessing.context.SpawnProcess):
    @staticmethod
    def _Popen(process_obj):
        with _main_hidden(), _interrupts_held():
            return multiprocessing.context.SpawnProcess._Popen(process_obj)


class _ForkServerContext(multiprocessing.context.ForkServerContext):
    Process = _ForkServerProcess


class _SpawnContext(multiprocessing.context.SpawnContext):
    Process = _SpawnProcess


def _context(preload: Sequence[str]) -> Any:
    """The start method of a pool's processes; neither re-imports the caller's main module."""
    if not preload:
        return _SpawnContext()
    context = _ForkServerContext()
    context.set_forkserver_preload(["comparator._quiet_start", *preload])
    return context


def _diagnosis(preload: Sequence[str]) -> str:
    """Best effort, for an error message: what importing the preload modules in a fresh interpreter says."""
    if not preload:
        return ""
    code = "; ".join(f"import {name}" for name in preload)
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=15,
                              env={**os.environ, **_worker_environment()}, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f" Importing the preload modules in a fresh interpreter failed too ({type(err).__name__}: {err})."
    if done.returncode == 0:
        return ""
    tail = "\n".join(done.stderr.strip().splitlines()[-6:])
    return f" Importing the preload modules ({', '.join(preload)}) in a fresh interpreter fails:\n{tail}"


def run_local(
    jobs: Sequence[Job],
    *,
    workers: int | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    grace: float = GRACE_SECONDS,
    preload: Sequence[str] = (),
    stall: float = STALL_SECONDS,
) -> list[Outcome]:
    """Runs each job in a fresh process of a local pool; returns the outcomes in the order of `jobs`.

    At most `workers` (default: the CPU count) jobs run at once. A job still running at
    `job.seconds + grace` is killed. `on_outcome` is called in this thread as each outcome lands
    (completion order), so a caller can store it at once. `Outcome.seconds` is the wall time from
    the job's start in its process to its outcome, as seen from here (to within about 0.05 s).
    On KeyboardInterrupt, any exception from `on_outcome`, or an `ExecutorError` (the pool itself
    broke), the pool is stopped, its processes killed, and the exception re-raised; outcomes
    already delivered stay delivered. Worker processes block Ctrl-C from their start (`_interrupts_held`) and
    ignore it once running, so an interrupt never turns
    into a job's failure.

    If, with jobs waiting and a worker free, no job starts or ends for `stall` seconds, the worker
    processes cannot start (a preload module that fails in a fresh interpreter, a machine out of
    processes): the pool is stopped and an `ExecutorError` says so, instead of waiting forever.

    Processes are started with "spawn", so each job starts from a bare interpreter (never re-running the
    caller's main script: see `_main_hidden`): its memory baseline, and so what its cap leaves it, does
    not depend on what this process has imported, and no lock held by one of its threads is copied.
    With `preload` (module names), they are forked instead from a single-threaded server process that
    imported those modules once ("forkserver"): each job still gets a process of its own, started from
    the same fixed state, without paying the imports again (torch's take seconds). A preload module must
    not start threads. The server is this interpreter's one forkserver: the first preload list wins.
    """
    jobs = check_keys(jobs)
    if not jobs:
        return []
    outcomes: dict[str, Outcome] = {}
    with _single_thread_environment():
        pool = ProcessPool(
            max_workers=min(workers or os.cpu_count() or 1, len(jobs)),
            max_tasks=1,
            context=_context(preload),
        )
        slots = min(workers or os.cpu_count() or 1, len(jobs))
        try:
            futures = {
                pool.schedule(_execute, args=(job.fn, job.args, job.memory_mb, os.getpid()),
                              timeout=job.seconds + grace): job
                for job in jobs
            }
            # A job's start is the last poll at which it was not yet running, so its seconds err long.
            started: dict[Any, float] = {}
            pending = set(futures)
            last_poll = last_change = time.monotonic()
            while pending:
                done, pending = wait(pending, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
                now = time.monotonic()
                running = 0
                for future in pending:
                    if future.running():
                        running += 1
                        if future not in started:
                            started[future] = last_poll
                            last_change = now
                for future in done:
                    job = futures[future]
                    outcome = _outcome(job, future, now - started.get(future, last_poll), grace)
                    outcomes[job.key] = outcome
                    if on_outcome is not None:
                        on_outcome(outcome)
                if done:
                    last_change = time.monotonic()  # after the outcomes' handling, which may take a while
                elif pending and running < min(slots, len(pending)) and now - last_change > stall:
                    raise ExecutorError(
                        f"no run has started for {stall:g} s although {min(slots, len(pending)) - running} worker "
                        f"process(es) should be free and {len(pending)} run(s) wait: the worker processes cannot start "
                        "or die as they start (a module they import that fails in a fresh interpreter, a machine out of "
                        "processes or memory). The runs already finished are kept; fix the cause and rerun to resume."
                        + _diagnosis(preload))
                last_poll = now
        except BaseException:
            pool.stop()
            pool.join()
            raise
        pool.close()
        pool.join()
    return [outcomes[job.key] for job in jobs]


def run_one(job: Job, *, grace: float = GRACE_SECONDS, preload: Sequence[str] = ()) -> Outcome:
    """One job through `run_local` (its own process, cap, one thread, hard kill, the same statuses): what
    a long-lived worker of another executor (a Ray worker) runs for each job it is given."""
    return run_local([job], workers=1, grace=grace, preload=preload)[0]


def _run_ray(jobs: Sequence[Job], **options: Any) -> list[Outcome]:
    from .ray_executor import run_ray  # ray is an optional extra, imported only when asked for

    return run_ray(jobs, **options)


EXECUTORS: dict[str, Executor] = {"local": run_local, "ray": _run_ray}


def get_executor(name: str) -> Executor:
    """The executor registered under `name`."""
    try:
        return EXECUTORS[name]
    except KeyError:
        raise ValueError(f"unknown executor {name!r}; the executors are {', '.join(sorted(EXECUTORS))}") from None
