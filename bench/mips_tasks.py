"""Issue 16's list of integer-state sequence tasks, as MIPS states them (Michaud et al. 2024, the
``rnn_*_numerical`` tasks of ejmichaud/neural-verification: values 0..99 or -100..99, forces -10..10), written
as user tasks (``toy_tasks.from_program``, no built-in family, so neither route gets a hint) and run through
the public API: ``extraction.train(task, seconds=..., seed=0)`` then ``extraction.extract(net, "auto")``, the
program checked with ``task.verify`` and the faithfulness record with the comparator's rule. "program right" is
``task.verify`` of whatever program the reading returned, solved or not (a "partial" reading of a net wrong on part
of the domain may still name the task's program); "right" needs the reading solved too. One process,
one thread, tasks in turn:

    python bench/mips_tasks.py --out bench/results/mips-tasks.md

Sequences are 1..``--length`` long (MIPS: 10) to keep a laptop's run short.
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
from extraction.faithfulness import is_mechanism  # noqa: E402
from extraction.train import warm_up  # noqa: E402
from toy_tasks import Int, Seq  # noqa: E402

# name: (domain of each element, the scan's body over xs, yielding one answer per step)
TASKS = {
    "sum": ((0, 100), "    s = 0\n    for x in xs:\n        s = s + x\n        yield s\n"),
    "sum_last2": ((0, 100), "    p = 0\n    for x in xs:\n        yield x + p\n        p = x\n"),
    "sum_last3": ((0, 100), "    p = 0\n    q = 0\n    for x in xs:\n        yield x + p + q\n        q = p\n        p = x\n"),
    "prev1": ((0, 100), "    p = 0\n    for x in xs:\n        yield p\n        p = x\n"),
    "prev2": ((0, 100), "    p = 0\n    q = 0\n    for x in xs:\n        yield q\n        q = p\n        p = x\n"),
    "diff_last2": ((-100, 100), "    p = 0\n    for x in xs:\n        yield x - p\n        p = x\n"),
    "abs_value": ((-100, 100), "    for x in xs:\n        yield abs(x)\n"),
    "abs_of_diff": ((-100, 100), "    p = 0\n    for x in xs:\n        yield abs(x - p)\n        p = x\n"),
    "max": ((0, 100), "    m = 0\n    for x in xs:\n        m = max(m, x)\n        yield m\n"),
    "min": ((0, 100), "    m = 99\n    for x in xs:\n        m = min(m, x)\n        yield m\n"),
    "evens_counter": ((0, 10), "    c = 0\n    for x in xs:\n        c = c + (1 if x % 2 == 0 else 0)\n        yield c\n"),
    "newton_freebody": ((-10, 11), "    v = 0\n    s = 0\n    for x in xs:\n        v = v + x\n        s = s + v\n        yield s\n"),
    "newton_spring": ((-10, 11), "    v = 0\n    s = 0\n    for x in xs:\n        v = v + x - s\n        s = s + v\n        yield s\n"),
    "add_mod_10": ((0, 10), "    s = 0\n    for x in xs:\n        s = (s + x) % 10\n        yield s\n"),
}


def task_of(name: str, length: int) -> toy_tasks.Task:
    (lo, hi), body = TASKS[name]
    return toy_tasks.from_program(f"mips_{name}", f"def mips_{name}(xs):\n{body}",
                                  {"xs": Seq(Int(lo, hi), length=(1, length))})


def run(task, seconds: float, read_seconds: float) -> dict:
    t0 = time.perf_counter()
    net = extraction.train(task, seconds=seconds, seed=0)
    train_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    res = extraction.extract(net, "auto", seconds=read_seconds, seed=0)
    read_s = time.perf_counter() - t1
    program_right = res.program is not None and task.verify(res.program).equal
    right = program_right and res.status == "solved"
    method = (res.details or {}).get("method") or (res.details or {}).get("chosen")
    return {"task": task.name, "arch": net.arch, "numeric": bool(net.settings.get("numeric")),
            "status": net.status, "width": net.settings.get("hidden"),
            "quantised": (net.settings.get("normalised") or {}).get("quantised"), "train_s": round(train_s, 2), "domain_accuracy": round(net.domain_accuracy, 5),
            "read": res.status, "method": method, "program_right": bool(program_right), "right": bool(right),
            "mechanism": bool(right and is_mechanism(res.faithfulness)), "read_s": round(read_s, 2),
            "program": str(res.program) if res.program is not None else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="training budget (the comparator's half of 60 s)")
    ap.add_argument("--read-seconds", type=float, default=30.0)
    ap.add_argument("--length", type=int, default=8)
    ap.add_argument("--only", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    warm_up()
    names = args.only.split(",") if args.only else list(TASKS)
    rows = []
    for name in names:
        row = run(task_of(name, args.length), args.seconds, args.read_seconds)
        rows.append(row)
        print(json.dumps(row), flush=True)
    lines = ["| task | net | training | width | quantised | domain accuracy | reading | program right | right | mechanism | train s | read s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        net = f"{r['arch']}{' numeric' if r['numeric'] else ''}"
        q = f"{r['quantised']['units']} units" if r.get("quantised") else "—"
        lines.append(f"| {r['task']} | {net} | {r['status']} | {r.get('width')} | {q} | {r['domain_accuracy']:.5f} | {r['read']} ({r['method']}) | "
                     f"{'yes' if r['program_right'] else 'no'} | {'yes' if r['right'] else 'no'} | {'yes' if r['mechanism'] else 'no'} | {r['train_s']} | {r['read_s']} |")
    lines.append(f"\nright {sum(r['right'] for r in rows)} / {len(rows)}, mechanism {sum(r['mechanism'] for r in rows)}; "
                 f"the program read right (whatever the status) {sum(r['program_right'] for r in rows)}")
    print("\n".join(lines))
    if args.out:
        Path(args.out).write_text(f"Command: `python bench/mips_tasks.py {' '.join(sys.argv[1:])}`\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
