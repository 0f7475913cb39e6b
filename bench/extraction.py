"""Training and extraction time per quick-suite task, seed and extractor; and torch on one thread against two.

For every task of the suite and every seed: ``extraction.train`` (default architecture and examples)
until the network is exact, then every extractor that applies to that network, each with the same
budget, one after another in this one process on one CPU thread. An extraction counts as solved only
when its status is ``solved`` (agreement 1 with the network) *and* ``task.verify`` proves the program
right on the whole domain. Then training is timed with torch on one thread and on two, side by side
(alternating, same seeds) on two tasks. Usage:

    python bench/extraction.py --out bench/results/extraction.json

Results are saved after every (task, seed); ``--resume`` picks up an interrupted run of the same code.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
# This file is named like the package it measures: run as a script, its own folder comes first on the
# path and would shadow ``extraction``; put the repository root there instead.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(HERE)] + [p for p in sys.path if os.path.abspath(p or ".") != HERE]

THREAD_TASKS = (("modular_addition", {"p": 31}), ("binary_addition", {"length": 6}))


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


@contextlib.contextmanager
def _threads(n: int):
    """Make ``extraction.train`` run torch on ``n`` threads (it pins one thread itself)."""
    import importlib

    import torch

    train_module = importlib.import_module("extraction.train")  # the module: ``extraction.train`` is the function

    @contextlib.contextmanager
    def pinned():
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    saved = train_module.one_thread
    train_module.one_thread = pinned
    try:
        yield
    finally:
        train_module.one_thread = saved


def run_suite(suite: str, seeds: int, seconds: float, train_seconds: float, rows: list[dict], save) -> list[dict]:
    """Append to ``rows`` every (task, seed) not already there, calling ``save(rows)`` after each."""
    import extraction
    import toy_tasks
    from extraction.registry import registry

    methods = [m for m in extraction.names() if not m.startswith("_")]
    done = {(r["task"], r["seed"]) for r in rows if r["kind"] == "train"}
    for task in toy_tasks.suite(suite):
        for seed in range(seeds):
            if (task.name, seed) in done:
                continue
            these = []
            trained = extraction.train(task, seconds=train_seconds, seed=seed)
            base = {"task": task.name, "family": task.family, "seed": seed, "arch": trained.arch}
            these.append({**base, "kind": "train", "status": trained.status, "seconds": trained.seconds,
                          "steps": trained.steps, "domain_accuracy": trained.domain_accuracy, "params": trained.params,
                          "flops": trained.flops, "examples": trained.examples})
            print(f"{task.name:34s} seed {seed} train {trained.arch:5s} {trained.status:8s} {trained.seconds:6.2f}s "
                  f"{trained.steps:5d} steps acc={trained.domain_accuracy:.3f}", file=sys.stderr, flush=True)
            for method in methods:
                if registry()[method].applies(trained):
                    continue
                res = extraction.extract(trained, method, seconds=seconds, seed=seed)
                correct = bool(res.program is not None and task.verify(res.program).equal)
                f = res.faithfulness
                these.append({**base, "kind": "extract", "method": method, "status": res.status, "correct": correct,
                             "solved": res.status == "solved" and correct, "seconds": res.seconds,
                             "agreement": f["agreement"], "interchange": f["interchange"], "splice": f["splice"],
                             "size": res.program.size if res.program is not None else None,
                             "via": res.details.get("method"), "reason": res.reasons[0] if res.reasons else ""})
                print(f"{'':34s}        {method:9s} {res.status:10s} correct={correct!s:5s} {res.seconds:6.2f}s "
                      f"F1={f['agreement']} F2={f['interchange']} F3={f['splice']}", file=sys.stderr, flush=True)
            rows.extend(these)  # a (task, seed) lands whole or not at all
            save(rows)
    return rows


def run_threads(seeds: int, train_seconds: float) -> list[dict]:
    import extraction
    import toy_tasks

    rows = []
    for name, params in THREAD_TASKS:
        task = toy_tasks.get(name, **params)
        for n in (1, 2):  # untimed: a thread count's first use sets up its pool
            with _threads(n):
                extraction.train(task, seconds=train_seconds, seed=seeds)
        for seed in range(seeds):
            for n in ((1, 2) if seed % 2 == 0 else (2, 1)):  # alternate the order: drift hits both alike
                with _threads(n):
                    trained = extraction.train(task, seconds=train_seconds, seed=seed)
                rows.append({"task": task.name, "seed": seed, "threads": n, "seconds": trained.seconds,
                             "steps": trained.steps, "status": trained.status})
                print(f"{task.name:34s} seed {seed} threads {n} {trained.seconds:6.3f}s {trained.steps} steps",
                      file=sys.stderr, flush=True)
    return rows


def summarise(rows: list[dict], thread_rows: list[dict]) -> dict:
    trains = [r for r in rows if r["kind"] == "train"]
    extracts = [r for r in rows if r["kind"] == "extract"]
    tasks = list(dict.fromkeys(r["task"] for r in trains))
    per_task = {}
    for t in tasks:
        mine = [r for r in trains if r["task"] == t]
        exact = [r for r in mine if r["status"] == "trained"]
        per_task[t] = {"family": mine[0]["family"], "arch": mine[0]["arch"], "trained": len(exact), "seeds": len(mine),
                       "median_seconds": _median([r["seconds"] for r in exact]),
                       "median_steps": _median([r["steps"] for r in exact])}
    families = {}
    for fam in dict.fromkeys(r["family"] for r in trains):
        mine = [r for r in trains if r["family"] == fam and r["status"] == "trained"]
        families[fam] = {"tasks": sorted({r["task"] for r in trains if r["family"] == fam}),
                         "median_seconds": _median([r["seconds"] for r in mine]),
                         "median_steps": _median([r["steps"] for r in mine]),
                         "trained": len(mine), "runs": sum(r["family"] == fam for r in trains)}
    methods = {}
    for m in dict.fromkeys(r["method"] for r in extracts):
        mine = [r for r in extracts if r["method"] == m]
        applies_to = sorted({r["task"] for r in mine})
        # a task counts as solved by a method when most of its seeds are solved
        solved_tasks = [t for t in applies_to
                        if 2 * sum(r["solved"] for r in mine if r["task"] == t) > sum(r["task"] == t for r in mine)]
        solved = [r for r in mine if r["solved"]]
        methods[m] = {"runs": len(mine), "solved_runs": len(solved), "applies_to": len(applies_to),
                      "solved_tasks": len(solved_tasks), "of_tasks": len(tasks),
                      "wrong_runs": sum(r["status"] == "solved" and not r["correct"] for r in mine),
                      "median_seconds": _median([r["seconds"] for r in mine]),
                      "median_seconds_solved": _median([r["seconds"] for r in solved]),
                      "mean_f1_solved": _mean([r["agreement"] for r in solved]),
                      "mean_f2_solved": _mean([r["interchange"] for r in solved]),
                      "mean_f3_solved": _mean([r["splice"] for r in solved]),
                      "statuses": {s: sum(r["status"] == s for r in mine) for s in sorted({r["status"] for r in mine})}}
    per_task_methods = {}
    for t in tasks:
        per_task_methods[t] = {}
        for m in methods:
            mine = [r for r in extracts if r["task"] == t and r["method"] == m]
            if mine:
                per_task_methods[t][m] = {"solved": sum(r["solved"] for r in mine), "runs": len(mine),
                                          "median_seconds": _median([r["seconds"] for r in mine]),
                                          "statuses": sorted({r["status"] for r in mine}),
                                          "via": sorted({r["via"] for r in mine if r.get("via")})}
    threads = {}
    for t in dict.fromkeys(r["task"] for r in thread_rows):
        ratios = []
        for seed in sorted({r["seed"] for r in thread_rows if r["task"] == t}):
            one = next(r for r in thread_rows if r["task"] == t and r["seed"] == seed and r["threads"] == 1)
            two = next(r for r in thread_rows if r["task"] == t and r["seed"] == seed and r["threads"] == 2)
            ratios.append(two["seconds"] / one["seconds"])
        threads[t] = {"median_seconds_1": _median([r["seconds"] for r in thread_rows if r["task"] == t and r["threads"] == 1]),
                      "median_seconds_2": _median([r["seconds"] for r in thread_rows if r["task"] == t and r["threads"] == 2]),
                      "median_ratio_2_over_1": _median(ratios)}
    return {"tasks": per_task, "families": families, "methods": methods, "per_task_methods": per_task_methods,
            "threads": threads}


def _commit() -> str:
    """The code measured: the last commit that changed the packages it runs, marked when the working tree
    differs from it there."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", *args], cwd=os.path.dirname(HERE), capture_output=True, text=True,
                              check=False).stdout.strip()

    packages = ("extraction", "synthesis", "programs", "toy_tasks")
    head = git("log", "-1", "--format=%h", "--", *packages)
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", *packages)
    return head + ("+changes" if dirty else "")


def main() -> None:
    import torch

    from extraction.train import warm_up

    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default="quick")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=60.0, help="extraction budget per run")
    ap.add_argument("--train-seconds", type=float, default=120.0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--resume", action="store_true", help="keep the (task, seed) runs already in --out")
    args = ap.parse_args()
    commit = _commit()
    torch.set_num_threads(1)
    warm_up()  # torch's one-off first-call costs are not training time
    start = time.perf_counter()
    rows, earlier = [], 0.0
    if args.resume and args.out and os.path.exists(args.out):
        with open(args.out) as fh:
            old = json.load(fh)
        if old.get("commit") != commit:
            sys.exit(f"{args.out} measured {old.get('commit')}, not {commit}: rerun without --resume")
        rows, earlier = old["rows"], old["wall_seconds"]

    def save(rows, thread_rows=()):
        summary = {"command": "python bench/extraction.py " + " ".join(sys.argv[1:]), "suite": args.suite,
                   "seeds": args.seeds, "seconds": args.seconds, "commit": commit,
                   "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__},
                   "wall_seconds": earlier + time.perf_counter() - start, "complete": bool(thread_rows),
                   **summarise(rows, list(thread_rows)), "rows": rows, "thread_rows": list(thread_rows)}
        if args.out:
            with open(args.out + ".tmp", "w") as fh:
                fh.write(json.dumps(summary, indent=1, default=float) + "\n")
            os.replace(args.out + ".tmp", args.out)
        return summary

    rows = run_suite(args.suite, args.seeds, args.seconds, args.train_seconds, rows, save)
    summary = save(rows, run_threads(args.seeds, args.train_seconds))
    print(json.dumps({k: summary[k] for k in ("families", "methods", "threads")}, indent=1, default=float))


if __name__ == "__main__":
    main()
