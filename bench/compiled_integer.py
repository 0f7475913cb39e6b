"""The `integer` reader on compiled linear networks (ground truth: the program is known): each task's
reference compiled (``extraction.compile``, linear construction) in the program's basis and in a random
unimodular one, then read by `integer`; prints compile and read seconds, how the state was read, F2/F3
and whether the program read is right on the domain, as a Markdown table, then the medians.

    python bench/compiled_integer.py --seconds 60 --out bench/results/compiled_integer.md
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(HERE)]  # bench/extraction.py would shadow

import extraction
import toy_tasks
from extraction.compile import compile as compile_net

TASKS = {"running_sum100": ("running_sum", {"values": 100}), "running_sum4": ("running_sum", {"values": 4}),
         "sum_last_k2": ("sum_last_k", {"k": 2}), "sum_last_k3_64": ("sum_last_k", {"k": 3, "values": 64}),
         "previous_element3": ("previous_element", {"k": 3}), "previous_element64": ("previous_element", {"values": 64}),
         "constant_acceleration": ("constant_acceleration", {})}
COUNTER = ("def running_count(xs):\n    c = 0\n    n = 0\n    for x in xs:\n        c = c + (x == 2)\n        n = n + 1\n"
           "        yield n - 2 * c\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    tasks = {name: toy_tasks.get(family, **params) for name, (family, params) in TASKS.items()}
    tasks["count_of_2"] = toy_tasks.from_program("count_of_2", COUNTER, {"xs": toy_tasks.Seq(toy_tasks.Int(0, 4), length=(1, 6))})
    extraction.train  # noqa: B018  (imports done before the clock)
    lines = ["| task | basis | units | numeric | compile s | read s | status | coordinates | F2 | F3 | right |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    reads, compiles = [], []
    for name, task in tasks.items():
        for basis in ("program", "random"):
            start = time.perf_counter()
            net = compile_net(task.reference, task.inputs, basis=basis, seed=1)
            built = time.perf_counter() - start
            r = extraction.extract(net, "integer", seconds=args.seconds, max_dim=4)
            right = r.program is not None and task.verify(r.program).equal
            reads.append(r.seconds)
            compiles.append(built)
            f = r.faithfulness
            lines.append(f"| {name} | {basis} | {net.model.width} | {net.settings['numeric']} | {built:.2f} | {r.seconds:.2f} | "
                         f"{r.status} | {r.details.get('coordinates', '—')} | {f['interchange']} | {f['splice']} | {right} |")
            print(lines[-1], flush=True)
    lines.append("")
    lines.append(f"median compile {statistics.median(compiles):.2f} s, median read {statistics.median(reads):.2f} s "
                 f"over {len(reads)} networks")
    print(lines[-1])
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
