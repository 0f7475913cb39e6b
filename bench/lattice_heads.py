"""Regressing heads widened to the examples' lattice (``extraction.train.lattice_heads``), measured: tasks whose
answers pass the values their examples show (sums over large alphabets, few examples), trained through the
public API (``extraction.train(task, seconds=..., seed=s, examples=n)``), each exact network's domain accuracy
with its heads as its examples show them (before) and widened (after, what ``train`` returns), then
``extraction.extract(net, "auto")`` on the returned net, the program checked with ``task.verify`` and the
faithfulness record with the comparator's rule. One process, one thread:

    python bench/lattice_heads.py --out bench/results/lattice-heads.md
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(HERE)]  # bench/extraction.py would shadow

import extraction  # noqa: E402
import toy_tasks  # noqa: E402
from extraction.faithfulness import is_mechanism  # noqa: E402
from extraction.train import warm_up  # noqa: E402
from toy_tasks import Int, Seq  # noqa: E402

train_module = importlib.import_module("extraction.train")
SUM = "def f(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n        yield s\n"
LAST2 = "def f(xs):\n    p = 0\n    for x in xs:\n        yield x + p\n        p = x\n"


def tasks() -> list[tuple[str, object, int | None]]:
    """(label, task, example count; None: the default set)."""
    return [
        ("running sum 0..29, length 1..6, 400 examples",
         toy_tasks.from_program("sum30", SUM, {"xs": Seq(Int(0, 30), length=(1, 6))}), 400),
        ("running sum 0..29, length 1..6, 1,000 examples",
         toy_tasks.from_program("sum30", SUM, {"xs": Seq(Int(0, 30), length=(1, 6))}), 1000),
        ("running sum 0..99, length 1..5",
         toy_tasks.from_program("sum100", SUM, {"xs": Seq(Int(0, 100), length=(1, 5))}), None),
        ("sum of the last 2, 0..99, length 1..6, 300 examples",
         toy_tasks.from_program("last2", LAST2, {"xs": Seq(Int(0, 100), length=(1, 6))}), 300),
        ("count (standard suite)", toy_tasks.get("count"), None),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0, help="training seconds (half of a 60 s run)")
    ap.add_argument("--read", type=float, default=30.0, help="reading seconds")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    warm_up()
    kept = {}
    original = train_module.lattice_heads

    def keep(model, encoding, *rest):  # the exact net with its examples' heads, before widening
        kept["narrow"] = (model, encoding)
        return original(model, encoding, *rest)

    train_module.lattice_heads = keep
    rows = ["| task | seed | training | width | heads: values known before / after | domain accuracy before | after "
            "| reading | right | mechanism | train s | read s |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, task, n in tasks():
        for seed in (int(s) for s in args.seeds.split(",")):
            kept.clear()
            net = extraction.train(task, seconds=args.seconds, seed=seed, examples=n)
            before = after = net.domain_accuracy
            if "narrow" in kept:
                model, enc = kept["narrow"]
                before = train_module.domain_accuracy(replace(net, model=model, encoding=enc), task)
            lattice = net.settings.get("lattice")
            heads = " ".join(f"{a} / {b}" for a, b in lattice) if lattice else "unchanged"
            t = time.perf_counter()
            res = extraction.extract(net, "auto", seconds=args.read, seed=0)
            read = time.perf_counter() - t
            right = res.program is not None and task.verify(res.program).equal
            mech = right and is_mechanism(res.faithfulness)
            width = net.settings.get("hidden", "")
            rows.append(f"| {label} | {seed} | {net.status} | {width} | {heads} | {before:.5f} | {after:.5f} | "
                        f"{res.status} | {'yes' if right else 'no'} | {'yes' if mech else 'no'} | {net.seconds:.1f} | "
                        f"{read:.1f} |")
            print(rows[-1], flush=True)
    text = "\n".join(rows) + "\n"
    if args.out:
        args.out.write_text(f"Command: `python bench/lattice_heads.py --out {args.out}` "
                            f"({time.strftime('%Y-%m-%d')}, one thread)\n\n" + text)


if __name__ == "__main__":
    main()
