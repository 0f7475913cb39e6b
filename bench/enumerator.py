"""Throughput and memory of the enumerative synthesizer's bottom-up search.

Runs the bank-building search with no target (so nothing stops it early) on a two-input integer task
with all 169 examples of (2a + 3b) mod 13, size by size through ``--max-size``, in a fresh process
per repeat (one thread), and reports candidates evaluated per second, distinct behaviours kept per
second, and peak resident memory. Usage:

    python bench/enumerator.py --max-size 10 --repeats 3 --out BENCHMARKS-enumerator.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def one_run(max_size: int, seconds: float) -> dict:
    import resource


    import toy_tasks
    from synthesis.methods.enumerative import Enumerator, Exhausted, OutOfTime
    from synthesis.problem import Budget

    task = toy_tasks.get("modular_linear_combination", p=13)
    ex = task.examples()
    assert len(ex) == 169
    leaves = {n: ex.inputs[n] for n in ("a", "b")}
    budget = Budget(seconds)
    en = Enumerator(leaves, (-1, 0, 1, 2, 3, 12, 13), task.operators, max_size=max_size, budget=budget, n=169)
    sizes = []
    start = time.perf_counter()
    last_eval, last_kept, last_t = 0, 0, start
    size = 0

    def per_size():
        nonlocal last_eval, last_kept, last_t, size
        now = time.perf_counter()
        sizes.append({"size": size, "evaluated": en.bank.evaluated - last_eval, "kept": en.bank.total - last_kept,
                      "seconds": now - last_t})
        last_eval, last_kept, last_t = en.bank.evaluated, en.bank.total, now

    status = "complete"
    try:
        while en.size < max_size:
            size = en.size + 1
            en.max_size = size
            try:
                en.search(None)
            except Exhausted:
                pass
            per_size()
    except OutOfTime:
        per_size()
        status = "timeout"
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB on Linux
    return {"status": status, "seconds": elapsed, "evaluated": en.bank.evaluated, "kept": en.bank.total,
            "evaluated_per_s": en.bank.evaluated / elapsed, "kept_per_s": en.bank.total / elapsed,
            "peak_mib": peak, "bank_full": en.bank.full, "sizes": sizes}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-size", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--out", default=None)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one_run(args.max_size, args.seconds)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    runs = []
    for _ in range(args.repeats):
        out = subprocess.run([sys.executable, __file__, "--child", "--max-size", str(args.max_size), "--seconds", str(args.seconds)],
                             capture_output=True, text=True, env=env, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    summary = {
        "command": " ".join(["python", "bench/enumerator.py"] + sys.argv[1:]),
        "max_size": args.max_size,
        "repeats": args.repeats,
        "median_evaluated_per_s": statistics.median(r["evaluated_per_s"] for r in runs),
        "median_kept_per_s": statistics.median(r["kept_per_s"] for r in runs),
        "median_seconds": statistics.median(r["seconds"] for r in runs),
        "max_peak_mib": max(r["peak_mib"] for r in runs),
        "evaluated": runs[0]["evaluated"],
        "kept": runs[0]["kept"],
        "bank_full": runs[0]["bank_full"],
        "per_size_first_run": runs[0]["sizes"],
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
