"""The `integer` reader on integer streams over large alphabets: each task trained (numeric nets; the width
search with ``--search``), then read by `integer`; prints the training and reading seconds, how the state
was read, the in-context checks and the program, with whether it is right on the domain.

    python bench/integer_reader.py --train-seconds 20 --seconds 30
    python bench/integer_reader.py --search

With ``--standard STORE``: `integer` alone through ``comparator.compare`` on the standard suite's families named
by ``--families`` (60 s a run, seed 0, as bench/standard_extractors.py runs it), one row per task; with
``--before OLD`` too, beside the same task's row in an older store (right, and the network's mechanism by
the gate):

    python bench/integer_reader.py --standard /tmp/counters.sqlite --families scan,search --before /tmp/old.sqlite

With ``--diagnose TASKS``: each standard task named trained as the comparator trains it (``train`` at its defaults,
30 s, seed 0; ``--options`` a JSON object of training options, e.g. the defaults before a change), then read by
`integer` and `fsm` (30 s each): the network's status and accuracy on its examples and on the domain, and each
reading's status, checks and rightness. With ``--per-task BEFORE AFTER``: one row per task of two stores of
bench/standard_extractors.py, the best outcome over their extractors (mechanism > right > the rest) and who
reached it:

    python bench/integer_reader.py --diagnose count,first_index,last_index,constant_acceleration
    python bench/integer_reader.py --per-task /tmp/s9-final.sqlite /tmp/s10-counters.sqlite --families scan,search
"""
from __future__ import annotations

import argparse
import json
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
    parser.add_argument("--standard", metavar="STORE", help="run integer on the standard suite into this store")
    parser.add_argument("--families", default="scan,search")
    parser.add_argument("--before", metavar="STORE", help="an older store to table beside --standard's")
    parser.add_argument("--diagnose", metavar="TASKS", help="standard tasks to train at the defaults and read")
    parser.add_argument("--options", default="{}", help="training options for --diagnose (a JSON object)")
    parser.add_argument("--per-task", nargs=2, metavar=("BEFORE", "AFTER"), help="table two stores per task")
    args = parser.parse_args()
    if args.diagnose:
        diagnose(args.diagnose.split(","), json.loads(args.options))
        return
    if args.per_task:
        per_task(*args.per_task, args.families.split(","))
        return
    if args.standard:
        standard(args.standard, args.families.split(","), args.before, args.seconds if args.seconds != 30.0 else 60.0)
        return
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


def _rows(path: str):
    import pandas as pd

    from comparator.analysis import mechanism_checks
    from comparator.store import Store

    runs = Store(path).runs()
    runs = runs[runs["method"] == "integer"].copy()
    runs["mechanism"] = mechanism_checks(runs) & (runs["correct"] == True)  # noqa: E712
    return {r.task: r for r in runs.itertuples()} if len(runs) else {}, pd


def standard(store: str, families: list[str], before: str | None, seconds: float) -> None:
    import comparator

    tasks = [t for t in toy_tasks.suite("standard") if t.family in families]
    comparator.compare(tasks, extractors=["integer"], synthesizers=(), seconds=seconds, seeds=[0], store=store,
                       workers=1)
    after, _ = _rows(store)
    old = _rows(before)[0] if before else {}

    def cell(r) -> str:
        if r is None:
            return "—"
        kind = "**mechanism**" if r.mechanism else ("right" if r.correct == True else r.status)  # noqa: E712
        f2d = "" if r.interchange_distributed != r.interchange_distributed else f", F2-D {r.interchange_distributed:.2f}"
        ctl = "" if r.control_untrained != r.control_untrained else f", control {r.control_untrained:.2f}"
        return f"{kind}{f2d}{ctl}"

    print("| task | family | before | after |\n|---|---|---|---|")
    for t in tasks:
        print(f"| {t.name} | {t.family} | {cell(old.get(t.name))} | {cell(after.get(t.name))} |")
    for label, rows in (("before", old), ("after", after)):
        if rows:
            chosen = [rows[t.name] for t in tasks if t.name in rows]
            print(f"{label}: right {sum(r.correct == True for r in chosen)}, "  # noqa: E712
                  f"mechanism {sum(bool(r.mechanism) for r in chosen)} of {len(chosen)}")


def diagnose(names: list[str], options: dict) -> None:
    """Train each task as the comparator does and read it with `integer` and `fsm` (see the module's docstring)."""
    for name in names:
        task = toy_tasks.get(name)
        net = extraction.train(task, seconds=30, seed=0, **options)
        print(f"{name}: {net.status} after {net.steps} steps, {net.seconds:.1f} s ({net.arch}, regress "
              f"{net.settings.get('regress')}, lr {net.settings.get('lr')}); accuracy on its examples "
              f"{net.train_accuracy:.4f}, on the domain {net.domain_accuracy:.4f}", flush=True)
        for method in ("integer", "fsm"):
            r = extraction.extract(net, method, seconds=30, seed=0)
            f = r.faithfulness
            right = None if r.program is None else task.verify(r.program).equal
            print(f"    {method}: {r.status} in {r.seconds:.1f} s; agreement {f['agreement']}, F2-D "
                  f"{f['interchange_distributed']}, F3 {f['splice']}, controls {f['controls']}; right {right}; "
                  f"{'; '.join(x[:160] for x in r.reasons[:2])}", flush=True)


def _best(runs) -> str:
    """A task's best outcome over its extraction runs, and the extractors that reached it."""
    for label, hit in (("**mechanism**", runs["mechanism"]), ("right", runs["correct"] == True)):  # noqa: E712
        if hit.any():
            return f"{label} ({', '.join(sorted(runs.loc[hit, 'method']))})"
    return "none (" + ", ".join(f"{m} {s}" for m, s in zip(runs["method"], runs["status"])) + ")"


def per_task(before: str, after: str, families: list[str]) -> None:
    """Per task of ``families``: the best outcome in each store (``_best``), then the counts."""
    from comparator.analysis import mechanism_checks
    from comparator.store import Store

    tables = []
    for path in (after, before):  # the extractors run in AFTER are the ones compared
        runs = Store(path).runs()
        methods = set(runs["method"]) if not tables else set(tables[0]["method"])
        runs = runs[(runs["route"] == "extraction") & runs["family"].isin(families) & runs["method"].isin(methods)
                    & ~runs["method"].isin(["blackbox", "ramanujan"])].copy()
        runs["mechanism"] = mechanism_checks(runs) & (runs["correct"] == True)  # noqa: E712
        tables.append(runs)
    tables.reverse()
    tasks = sorted(set(tables[1]["task"]))
    print("| task | before | after |\n|---|---|---|")
    for t in tasks:
        cells = [_best(r[r["task"] == t]) if (r["task"] == t).any() else "—" for r in tables]
        print(f"| {t} | {cells[0]} | {cells[1]} |")
    for label, r in zip(("before", "after"), tables):
        r = r[r["task"].isin(tasks)]
        print(f"{label}: right {int(r.groupby('task')['correct'].apply(lambda c: bool((c == True).any())).sum())}, "  # noqa: E712
              f"mechanism {int(r.groupby('task')['mechanism'].any().sum())} of {len(tasks)} tasks")


if __name__ == "__main__":
    main()
