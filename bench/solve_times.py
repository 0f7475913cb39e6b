"""Time to solution per synthesis method on a suite, and our best method against cvc5, side by side.

Every (task, method) run gets the same examples (solve's default for the seed) and the same budget,
in this one process, one after another; correctness is decided by ``task.verify``, not by fitting the
examples. Usage:

    python bench/solve_times.py --suite quick --seconds 10 --out bench/results/synthesis-quick.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    import synthesis
    import toy_tasks

    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default="quick")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default="all", help="comma-separated, or 'all'")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    methods = [m for m in synthesis.names() if not m.startswith("_")] if args.methods == "all" else args.methods.split(",")
    tasks = toy_tasks.suite(args.suite)
    rows = []
    for task in tasks:
        examples = task.example_set(None, args.seed)
        for method in methods:
            start = time.perf_counter()
            r = synthesis.solve(task, method, examples=examples, seconds=args.seconds, seed=args.seed)
            wall = time.perf_counter() - start
            correct = bool(r.program is not None and task.verify(r.program).equal)
            rows.append({"task": task.name, "family": task.family, "method": method, "status": r.status,
                         "correct": correct, "seconds": r.seconds, "wall": wall, "candidates": r.candidates,
                         "size": r.program.size if r.program is not None else None, "examples": len(examples),
                         "reason": r.reasons[0] if r.reasons else ""})
            print(f"{task.name:34s} {method:12s} {r.status:10s} correct={correct!s:5s} {r.seconds:7.2f}s", file=sys.stderr, flush=True)
    summary = {"command": "python bench/solve_times.py " + " ".join(sys.argv[1:]), "suite": args.suite,
               "seconds": args.seconds, "methods": {}, "rows": rows}
    for m in methods:
        mine = [r for r in rows if r["method"] == m]
        solved = [r for r in mine if r["correct"]]
        summary["methods"][m] = {
            "correct": len(solved), "fit_but_wrong": sum(r["status"] == "solved" and not r["correct"] for r in mine),
            "tasks": len(mine), "median_seconds_correct": statistics.median([r["seconds"] for r in solved]) if solved else None,
        }
    if "cvc5" in methods:
        ours = [m for m in methods if m != "cvc5"]
        ratios, best_solved, cvc5_solved = [], 0, 0
        for task in tasks:
            by = {r["method"]: r for r in rows if r["task"] == task.name}
            mine = [by[m] for m in ours if by[m]["correct"]]
            best = min((r["seconds"] for r in mine), default=None)
            best_solved += best is not None
            cvc5_solved += by["cvc5"]["correct"]
            if best is not None and by["cvc5"]["correct"]:
                ratios.append(best / by["cvc5"]["seconds"])
        summary["versus_cvc5"] = {"tasks_both_solved": len(ratios),
                                  "median_ratio_best_ours_over_cvc5": statistics.median(ratios) if ratios else None,
                                  "solved_by_best_of_ours": best_solved, "solved_by_cvc5": cvc5_solved}
    text = json.dumps(summary, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}, indent=1))


if __name__ == "__main__":
    main()
