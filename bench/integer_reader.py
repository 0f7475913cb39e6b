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
    parser.add_argument("--standard", metavar="STORE", help="run integer on the standard suite into this store")
    parser.add_argument("--families", default="scan,search")
    parser.add_argument("--before", metavar="STORE", help="an older store to table beside --standard's")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
