"""Planted jobs and rows for the executor and store tests; also a store-writing script.

The job functions run in executor child processes, which find this module through the sys.path
they inherit. As a script, `python _planted.py write STORE START STOP PAUSE` adds the rows
`planted_row(START..STOP-1)` to STORE one by one, printing each key once it is stored.
"""
from __future__ import annotations

import os
import resource
import signal
import sys
import time
from pathlib import Path

from comparator.store import Store, run_key


def returns(x: int) -> dict:
    return {"doubled": 2 * x}


def reports_limits() -> dict:
    """What the child was given: its address-space cap, thread variables and BLAS thread counts."""
    import numpy  # noqa: F401  (loads a BLAS for threadpoolctl to see)
    from threadpoolctl import threadpool_info

    return {
        "address_space": resource.getrlimit(resource.RLIMIT_AS)[0],
        "omp": os.environ.get("OMP_NUM_THREADS"),
        "blas_threads": [pool["num_threads"] for pool in threadpool_info()],
        "sigint": signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
        # blocked since the process started (inherited from the thread that started it): a Ctrl-C that
        # arrives while the worker is still starting up cannot become a KeyboardInterrupt there
        "sigint_blocked": signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, ()),
    }


def sleeps_forever(pid_file: str | None = None) -> None:
    if pid_file is not None:
        Path(pid_file).write_text(str(os.getpid()))
    while True:
        time.sleep(60)


def returns_once_exists(path: str) -> str:
    while not Path(path).exists():
        time.sleep(0.01)
    return "seen"


def allocates_without_bound() -> None:
    chunks = []
    while True:
        chunks.append(bytearray(100 * 2**20))


def raises(message: str) -> None:
    raise ValueError(message)


def exits(code: int) -> None:
    os._exit(code)


def kills_itself(signal_name: str) -> None:
    os.kill(os.getpid(), getattr(signal, signal_name))


def planted_row(i: int, comparison: str = "planted") -> dict:
    """A complete, deterministic run row (every column filled)."""
    row = {
        "comparison": comparison,
        "task": f"modular_addition[p={7 + i % 5}]",
        "family": "modular",
        "difficulty": 1.5 + i,
        "params": {"p": 7 + i % 5},
        "route": ("extraction", "synthesis")[i % 2],
        "method": ("auto", "enumerative")[i % 2],
        "method_args": {"depth": 3, "beam": [1, 2]},
        "seed": i,
        "examples": 200,
        "examples_spec": "0.5",
        "budget": 60.0,
        "memory_mb": 4096,
        "status": ("solved", "wrong", "timeout")[i % 3],
        "correct": i % 3 == 0,
        "verification": "exhaustive",
        "seconds": 0.25 * i,
        "cpu_seconds": 0.2 * i,
        "size": 5 + i,
        "program": f"def f(a: int[0, 7), b: int[0, 7)) -> int:\n    return (a + b) % {7 + i % 5}\n",
        "agreement": 1.0,
        "interchange": 0.75,
        "splice": 0.5,
        "train_seconds": 1.25,
        "extract_seconds": 0.5,
        "train_accuracy": 0.98,
        "domain_accuracy": 0.97,
        "candidates": 1000 * i,
        "reasons": ["first reason", f"reason {i}"],
        "phases": {"train": 1.25, "extract": 0.5},
        "version": "0.1.0",
        "commit": "0" * 40,
        "host": "testhost",
        "started_at": "2024-05-01T12:00:00+00:00",
        "finished_at": "2024-05-01T12:01:00+00:00",
        "self_check": "validation" if i % 2 else None,
        "self_check_right": bool(i % 3) if i % 2 else None,
        "interchange_distributed": 0.5 + 0.01 * i,
        "control_untrained": 0.25,
        "control_rewritten": 0.125,
    }
    row["key"] = run_key(row)
    return row


def _write(store_path: str, start: int, stop: int, pause: float) -> None:
    with Store(store_path) as store:
        for i in range(start, stop):
            row = planted_row(i)
            store.add(row)
            print(row["key"], flush=True)
            time.sleep(pause)


if __name__ == "__main__":
    command, store_path, start, stop, pause = sys.argv[1:]
    assert command == "write", command
    _write(store_path, int(start), int(stop), float(pause))
