"""Finite-state sequence tasks written as user tasks (``toy_tasks.from_program``, no built-in family, so
neither route gets a family hint): stream addition in bases 2-7, running sums mod 3-8, divisibility of a
binary stream by 3, 5 and 7 (read most significant bit first, as a fold), and the Tomita grammars at
length 12 (Weiss et al. 2018). Each goes through ``comparator.compare`` with the `fsm` and `lstar` readers
(and RPNI, the passive automaton learner, beside them), one seed, and the table says per task what was
read, whether it is right and the network's mechanism, and the seconds of training and of reading.

    python bench/finite_state.py --store /tmp/finite-state.sqlite --seconds 60
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(HERE)]  # bench/extraction.py would shadow

import numpy as np  # noqa: E402

import comparator  # noqa: E402
import toy_tasks  # noqa: E402
from comparator.analysis import mechanism_checks  # noqa: E402
from toy_tasks import Int, Seq  # noqa: E402

BITS12 = {"xs": Seq(Int(0, 2), length=(1, 12))}
BITS10 = {"xs": Seq(Int(0, 2), length=(1, 10))}

TOMITA = {  # accept/reject after every prefix
    "tomita1": "    s = 1\n    for x in xs:\n        s = s * x\n        yield s\n",  # 1*
    "tomita2": "    s = 0\n    for x in xs:\n        s = (1 if x == 1 else 2) if s == 0 else ((0 if x == 0 else 2) if s == 1 else 2)\n"
               "        yield s == 0\n",  # (10)*
    "tomita4": "    z = 0\n    for x in xs:\n        z = 3 if z == 3 else (z + 1 if x == 0 else 0)\n        yield z < 3\n",  # no 000
    "tomita5": "    s = 0\n    for x in xs:\n        s = s ^ (1 if x == 0 else 2)\n        yield s == 0\n",  # even 0s and 1s
    "tomita6": "    d = 0\n    for x in xs:\n        d = (d + 1 + x) % 3\n        yield d == 0\n",  # #0 - #1 = 0 mod 3
    "tomita7": "    p = 0\n    for x in xs:\n        p = min(p + (1 if p % 2 != x else 0), 4)\n        yield p < 4\n",  # 0*1*0*1*
}
TOMITA3 = (  # no odd run of 1s followed by an odd run of 0s
           "    s = 0\n    for x in xs:\n"
           # s: 0 even run of 1s (or start), 1 odd run of 1s, 2 odd 1s then odd 0s, 3 odd 1s then even 0s, 4 dead
           "        s = 4 if s == 4 else ((1 if x == 1 else 0) if s == 0 else ((0 if x == 1 else 2) if s == 1 else "
           "((4 if x == 1 else 3) if s == 2 else (1 if x == 1 else 2))))\n"
           "        yield s != 4 and s != 2\n")


def tasks() -> list[toy_tasks.Task]:
    out = []
    for b in range(2, 8):
        digits = Seq(Int(0, b), length=(1, 6))
        src = (f"def stream_addition_b{b}(xs, ys):\n    c = 0\n    for x, y in zip(xs, ys):\n"
               f"        t = x + y + c\n        c = t // {b}\n        yield t % {b}\n")
        out.append(toy_tasks.from_program(f"stream_addition_b{b}", src, {"xs": digits, "ys": digits}))
    for k in range(3, 9):
        src = f"def running_sum_mod{k}(xs):\n    s = 0\n    for x in xs:\n        s = (s + x) % {k}\n        yield s\n"
        out.append(toy_tasks.from_program(f"running_sum_mod{k}", src, {"xs": Seq(Int(0, k), length=(1, 8))}))
    for k in (3, 5, 7):
        src = f"def divisible_by{k}(xs):\n    r = 0\n    for x in xs:\n        r = (2 * r + x) % {k}\n    return r == 0\n"
        out.append(toy_tasks.from_program(f"divisible_by{k}", src, BITS10))
    for name, body in {**TOMITA, "tomita3": TOMITA3}.items():
        out.append(toy_tasks.from_program(name, f"def {name}(xs):\n{body}", BITS12))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default="/tmp/finite-state.sqlite")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--extractors", default="fsm,lstar")
    parser.add_argument("--synthesizers", default="rpni")
    args = parser.parse_args()
    c = comparator.compare(tasks(), extractors=args.extractors.split(","), synthesizers=args.synthesizers.split(","),
                           seconds=args.seconds, seeds=[0], store=args.store, workers=args.workers)
    runs = c.runs.copy()
    runs["mechanism"] = mechanism_checks(runs) & (runs["correct"] == True) & (runs["route"] == "extraction")  # noqa: E712
    methods = args.extractors.split(",") + args.synthesizers.split(",")
    print("| task | train s | " + " | ".join(methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    fmt = lambda v: "—" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.1f}"  # noqa: E731
    totals = {m: [0, 0] for m in methods}
    for task in [t.name for t in tasks()]:
        g = runs[runs["task"] == task].set_index("method")
        train = g["train_seconds"].dropna().max() if "train_seconds" in g else None
        cells = []
        for m in methods:
            if m not in g.index:
                cells.append("—")
                continue
            r = g.loc[m]
            mark = "mechanism" if r["mechanism"] else ("right" if r["correct"] == True else r["status"])  # noqa: E712
            totals[m][0] += bool(r["correct"] == True)  # noqa: E712
            totals[m][1] += bool(r["mechanism"])
            cells.append(f"{mark} · {fmt(r['seconds'])} s")
        print(f"| {task} | {fmt(train)} | " + " | ".join(cells) + " |")
    print(f"| **right / mechanism** | | " + " | ".join(f"{totals[m][0]} / {totals[m][1]}" for m in methods) + " |")


if __name__ == "__main__":
    main()
