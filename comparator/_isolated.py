"""The child side of `executor.run_isolated`: ``python -m comparator._isolated JOB RESULT``.

Reads the pickled (fn, args, memory_mb) that the parent wrote to JOB, runs it through the same
`_execute` as the local pool (memory cap, one thread, failures classified in the child), and writes the
pickled (status, value, detail) to RESULT. Both files are written and read only by tractbench's own
processes, in a directory the parent created for this one job.
"""
from __future__ import annotations

import pickle
import signal
import sys


def main(job_path: str, result_path: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when a job stops
    from comparator.executor import _execute

    with open(job_path, "rb") as fh:
        fn, args, memory_mb = pickle.load(fh)  # noqa: S301 -- our parent's own job file
    result = _execute(fn, args, memory_mb)
    try:
        data = pickle.dumps(result)
    except Exception as err:  # noqa: BLE001 -- a value that cannot travel back is the job's error
        data = pickle.dumps(("error", None, f"the job's return value cannot be sent back: {err!r}"))
    with open(result_path + ".part", "wb") as fh:
        fh.write(data)
    import os

    os.replace(result_path + ".part", result_path)


if __name__ == "__main__":
    main(*sys.argv[1:3])
