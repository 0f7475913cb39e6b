"""The `integer` reader on integer streams over large alphabets: each task trained (numeric nets; the width
search with ``--search``), then read by `integer`; prints the training and reading seconds, how the state
was read, the in-context checks and the program, with whether it is right on the domain.

    python bench/integer_reader.py --train-seconds 20 --seconds 30
    python bench/integer_reader.py --search
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(HERE)]  # bench/extraction.py would shadow

import extraction  # noqa: E402
import toy_tasks  # noqa: E402
from programs.printer import to_source  # noqa: E402

TASKS = {"previous_element64": ("previous_element", {"values": 64}), "sum_last_k64": ("sum_last_k", {"k": 2, "values": 64}),
         "running_sum100": ("running_sum", {"values": 100}), "running_max100": ("running_max", {"values": 100})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--train-seconds", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--search", action="store_true", help="train with the width search")
    args = parser.parse_args()
    for key in args.tasks.split(","):
        name, params = TASKS[key]
        task = toy_tasks.get(name, **params)
        t0 = time.perf_counter()
        net = extraction.train(task, seconds=args.train_seconds, seed=0, search=args.search)
        trained = time.perf_counter() - t0
        t0 = time.perf_counter()
        r = extraction.extract(net, "integer", seconds=args.seconds, seed=0)
        read = time.perf_counter() - t0
        checks = {k: v for k, v in r.faithfulness.items() if k != "controls"}
        print(f"{task.name}: training {net.status} ({net.arch}, width {getattr(net.model, 'width', '?')}) {trained:.1f} s; "
              f"reading {r.status} {read:.1f} s, coordinates {r.details.get('coordinates')}; {checks}; "
              f"{'; '.join(r.reasons[:1])}", flush=True)
        if r.program is not None:
            print("    " + to_source(r.program).replace("\n", "\n    ") + f"right on the domain: {task.verify(r.program).equal}",
                  flush=True)


if __name__ == "__main__":
    main()
