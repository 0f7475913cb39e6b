"""How soon training gives up on a task it cannot learn: running_max's inputs (values < 100, length 6, 2000
examples) with random labels, a 40 s budget; the numeric net stops by its trend (or its stalled polish), then
the token fallback by its trend. Prints each attempt's seconds and the whole, median over runs.

    python bench/give_up.py --runs 3
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(HERE)]  # bench/extraction.py would shadow

import numpy as np  # noqa: E402

import extraction  # noqa: E402
import toy_tasks  # noqa: E402
from extraction.train import problem_of  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=40.0)
    args = parser.parse_args()
    problem = problem_of(toy_tasks.get("running_max", values=100, length=6), 2000, 0)
    ex = problem.examples
    noise = np.random.default_rng(0).integers(0, 100, size=np.asarray(ex.outputs).shape)
    problem = replace(problem, examples=replace(ex, outputs=noise))
    whole, parts = [], {}
    for _ in range(args.runs):
        net = extraction.train(problem, seconds=args.seconds)
        whole.append(net.seconds)
        for a in net.settings.get("attempts", []):
            parts.setdefault(a["path"], []).append(a["seconds"])
    print(f"budget {args.seconds:g} s; whole training, median of {args.runs}: {statistics.median(whole):.1f} s "
          f"(min {min(whole):.1f}, max {max(whole):.1f})")
    for path, secs in parts.items():
        print(f"  {path}: median {statistics.median(secs):.1f} s")


if __name__ == "__main__":
    main()
