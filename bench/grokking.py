"""Grokked modular arithmetic: the scaling suite's modular family in the grokking regime (p from 31 to 113,
each task's stated share of its table as examples), trained by ``extraction.train`` with its defaults and
read by ``fourier``. Per task: training seconds and steps, held-out and whole-domain accuracy, whether the
reading is right (``task.verify``), the splice (F3), the distance irrelevance and the algorithm named (clock
or pizza, Zhong et al. 2023). One process, one thread, tasks one after another:

    python bench/grokking.py --seconds 60 --out bench/results/grokking.md
    python bench/grokking.py --suite standard --seconds 60 --out bench/results/grokking-standard.md
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(HERE)]  # bench/extraction.py would shadow

import numpy as np  # noqa: E402

import extraction  # noqa: E402
import toy_tasks  # noqa: E402
from extraction.train import warm_up  # noqa: E402
from toy_tasks.suites import GROKKED_MODULI  # noqa: E402


def tasks(suite: str, moduli, names) -> list:
    """The scaling suite's modular tasks at the given moduli and names (in the suite's order), or every
    modular task of another suite."""
    if suite != "scaling":
        return [t for t in toy_tasks.suite(suite) if t.family == "modular"]
    return [t for t in toy_tasks.suite("scaling")
            if t.family == "modular" and t.params["p"] in moduli and t.name.split("[")[0] in names]


def run(task, seconds: float, seed: int) -> dict:
    net = extraction.train(task, seconds=seconds, seed=seed)
    began = time.perf_counter()
    reading = extraction.extract(net, "fourier", seconds=seconds, seed=seed)
    details = reading.details if hasattr(reading, "details") else {}
    right = reading.program is not None and task.verify(reading.program).equal
    return {"task": task.name, "p": task.params["p"], "fraction": task.example_fraction, "examples": net.examples,
            "status": net.status, "seconds": round(net.seconds, 2), "steps": net.steps,
            "heldout": net.heldout_accuracy, "domain": net.domain_accuracy, "reading": reading.status,
            "program": None if reading.program is None else str(reading.program).split("return", 1)[-1].strip(),
            "right": right, "splice": reading.faithfulness.get("splice"),
            "q": details.get("distance_irrelevance"), "algorithm": details.get("algorithm"),
            "keys": details.get("key_frequencies") if details.get("family") == "add"
            else details.get("multiplicative_key_frequencies"), "read_seconds": round(time.perf_counter() - began, 2)}


def _num(x, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def table(rows: list[dict]) -> str:
    """The results as a Markdown table, one row per task."""
    cols = ["task", "share", "examples", "train s", "steps", "held-out", "domain", "fourier right", "splice",
            "distance irrelevance", "algorithm", "key frequencies (a)"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        keys = next(iter((r["keys"] or {}).values()), [])
        right = "yes" if r["right"] else f"no ({r['reading']})"
        cells = [r["task"], r["fraction"], r["examples"], r["seconds"], r["steps"], _num(r["heldout"], 3),
                 _num(r["domain"], 4), right, _num(r["splice"], 3), _num(r["q"], 3), r["algorithm"] or "-", keys]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="training budget per task (and reading budget)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--suite", default="scaling",
                        help="scaling (the grokked moduli below) or standard (its modular tasks)")
    parser.add_argument("--moduli", default=",".join(str(p) for p in GROKKED_MODULI))
    parser.add_argument("--tasks", default="modular_addition,modular_multiplication")
    parser.add_argument("--out", default=None, help="write the Markdown table here")
    args = parser.parse_args()
    warm_up()
    moduli = {int(p) for p in args.moduli.split(",")}
    rows = []
    for task in tasks(args.suite, moduli, set(args.tasks.split(","))):
        rows.append(run(task, args.seconds, args.seed))
        print(rows[-1], flush=True)
    text = table(rows)
    grokked = [r for r in rows if r["status"] == "trained" and r["domain"] == 1.0]
    summary = (f"\n\n{len(grokked)} of {len(rows)} networks exact on the whole domain; fourier right on "
               f"{sum(r['right'] for r in rows)}; splice >= 0.99 on {sum((r['splice'] or 0) >= 0.99 for r in grokked)} "
               f"of the {len(grokked)} exact ones; median training {np.median([r['seconds'] for r in rows]):.1f} s "
               f"(budget {args.seconds:g} s, seed {args.seed}).")
    print(text + summary)
    if args.out:
        Path(args.out).write_text(f"Command: `python bench/grokking.py --suite {args.suite} --seconds {args.seconds:g} "
                                  f"--seed {args.seed} --out {args.out}` ({time.strftime('%Y-%m-%d')}, one thread, a "
                                  f"shared 2-core machine under load)\n\n{text}{summary}\n")


if __name__ == "__main__":
    main()
