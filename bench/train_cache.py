"""Wall time of an extraction grid with and without the training cache (`compare(..., train_cache=...)`).

Five quick tasks × six extractors × 2 seeds at 20 s, 2 workers, one after the other in one process; the
rows must be the same (timings aside), only the wall time differs. Usage:

    python bench/train_cache.py
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]  # bench/extraction.py would shadow

TASKS = ["running_parity[length=8]", "running_sum_mod[k=3,length=6]", "contains[values=3,length=4]", "parity[n=4]",
         "maximum[bits=3]"]


def main() -> None:
    import comparator

    kwargs = dict(extractors=("auto", "fsm", "lstar", "blackbox", "boolean", "linear"), synthesizers=(), seconds=20.0,
                  seeds=2, workers=2)
    folder = tempfile.mkdtemp()
    for name, extra in (("without cache", {}), ("with cache", {"train_cache": os.path.join(folder, "nets")})):
        start = time.time()
        runs = comparator.compare(TASKS, store=os.path.join(folder, name.replace(" ", "_") + ".sqlite"), **kwargs,
                                  **extra).runs
        print(f"{name}: {len(runs)} runs in {time.time() - start:.1f} s wall; training seconds charged "
              f"{runs.train_seconds.sum():.1f}; solved {(runs.status == 'solved').sum()}", flush=True)


if __name__ == "__main__":
    main()
