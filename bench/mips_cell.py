"""MIPS's cell (``act="mlp"``) against the numeric default (a ReLU Elman net) on integer streams over large
alphabets: training status and seconds, accuracy on the domain, what the state normalisations did, and
whether ``integer`` then reads a right program. One process, one thread, tasks in turn:

    python bench/mips_cell.py --seconds 30 --out bench/results/mips_cell.md
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
from extraction.train import warm_up  # noqa: E402

TASKS = [("running_sum", {"values": 100}), ("running_max", {"values": 100}), ("sum_last_k", {"k": 2, "values": 64}),
         ("previous_element", {"k": 1, "values": 64})]
CELLS = {"relu (default)": {}, "mlp, 32 units": {"act": "mlp"}, "mlp, 4 units": {"act": "mlp", "hidden": 4}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    warm_up()
    rows = ["| task | cell | training | domain accuracy | state normalised | integer reads | reading |", "|---|---|---|---|---|---|---|"]
    for name, params in TASKS:
        task = toy_tasks.get(name, **params)
        for label, opts in CELLS.items():
            tr = extraction.train(task, seconds=args.seconds, **opts)
            norm = (tr.settings.get("normalised") or {}).get("state")
            began = time.perf_counter()
            ex = extraction.extract(tr, method="integer", seconds=args.seconds)
            took = time.perf_counter() - began
            right = "—" if ex.program is None else ("right" if task.verify(ex.program).equal else "wrong")
            rows.append(f"| {task.name} | {label} | {tr.status}, {tr.seconds:.1f} s | {tr.domain_accuracy:.4f} | "
                        f"{norm if norm else '—'} | {ex.status}, {right} | {took:.1f} s |")
            print(rows[-1], flush=True)
    text = "\n".join(rows) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
