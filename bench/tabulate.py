"""Time to build a task from a Python function over about a million inputs (``toy_tasks.from_function``).

Two cases: ``scan``, a 10-step running sum mod 4 over a 4-letter alphabet (``Seq(Int(0, 4), length=10)``,
1,048,576 inputs, a list-returning lambda: called per input, in worker processes when there are CPUs
for them), and ``function``, ``(a * b + 3) % 7`` over ``Int(0, 1024)`` twice (1,048,576 inputs: the
vectorised way). Each run builds the task ``--repeats`` times in this one process, checks the truth
table against numpy, and prints the seconds of each build and their median. ``--code DIR`` imports the
toolkit from another checkout (the code before a change); ``--ways calls`` keeps the new code to one
call per input in this process, by raising its thresholds for the other ways above the domain.
Usage, with whole-process timing by any tool (``/usr/bin/time -v``, ``hyperfine``):

    python bench/tabulate.py --case scan
    python bench/tabulate.py --case scan --ways calls
    mkdir -p /tmp/tractbench-before && git archive 2e361f6 | tar -x -C /tmp/tractbench-before
    python bench/tabulate.py --case scan --code /tmp/tractbench-before
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from itertools import accumulate

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]  # this file would shadow toy_tasks.tabulate


def running_sum_mod_4(xs):
    return [s % 4 for s in accumulate(xs)]


def product_plus_3_mod_7(a, b):
    return (a * b + 3) % 7


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=["scan", "function"], required=True)
    ap.add_argument("--ways", choices=["auto", "calls"], default="auto",
                    help="auto: as from_function chooses; calls: one call per input, in this process")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--code", default=os.path.dirname(HERE), help="the checkout to import the toolkit from")
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.code))

    import numpy as np

    import toy_tasks
    from toy_tasks import Int, Seq

    if args.ways == "calls":
        from toy_tasks import tabulate

        tabulate.VECTORISE_FROM = tabulate.PARALLEL_FROM = 2**62
    if args.case == "scan":
        fn, inputs = running_sum_mod_4, {"xs": Seq(Int(0, 4), length=10)}
    else:
        fn, inputs = product_plus_3_mod_7, {"a": Int(0, 1024), "b": Int(0, 1024)}
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        task = toy_tasks.from_function(args.case, fn, inputs=inputs, seconds=3600)
        ex = task.examples()
        seconds.append(time.perf_counter() - start)
        if args.case == "scan":
            want = np.cumsum(ex.inputs["xs"], axis=1) % 4
        else:
            want = (ex.inputs["a"] * ex.inputs["b"] + 3) % 7
        assert len(ex) == 1_048_576 and np.array_equal(ex.outputs, want), "wrong truth table"
    code = os.path.dirname(os.path.dirname(os.path.abspath(toy_tasks.__file__)))
    print(f"{args.case} ({args.ways}, code from {code}): {len(ex):,} inputs; from_function seconds "
          f"{', '.join(f'{s:.2f}' for s in seconds)}; median {statistics.median(seconds):.2f}")


if __name__ == "__main__":
    main()
