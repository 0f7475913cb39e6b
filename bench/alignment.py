"""F2-D (distributed interchange) and its controls on a family of the standard suite: every reading of the
MLP readers, with its scores and the seconds the alignment search and its controls took (inside the run's
budget, reported apart so the verdict can be read with and without them).

    python bench/alignment.py --family boolean --seconds 60 --store /tmp/alignment.sqlite
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="boolean")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--store", default="/tmp/alignment.sqlite")
    parser.add_argument("--extractors", default="boolean,linear")
    args = parser.parse_args()
    tasks = [t for t in toy_tasks.suite("standard") if t.family == args.family]
    c = comparator.compare(tasks, extractors=args.extractors.split(","), synthesizers=(), seconds=args.seconds,
                           store=args.store)
    runs = c.runs.sort_values(["task", "method"])
    gate = mechanism_checks(runs)
    print("| task | reader | status | F1 | F2 | F2-D | untrained | rewritten | mechanism | extract s | F2-D s | controls s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    fmt = lambda v: "—" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.2f}"  # noqa: E731
    align, ctrl, extract = [], [], []
    for ok, r in zip(gate, runs.itertuples(index=False)):
        phases = r.phases or {}
        a, k = phases.get("alignment"), phases.get("controls")
        if a is not None:
            align.append(a)
            ctrl.append(k or 0.0)
            extract.append(phases.get("extract", 0.0))
        print(f"| {r.task} | {r.method} | {r.status} | {fmt(r.agreement)} | {fmt(r.interchange)} | "
              f"{fmt(r.interchange_distributed)} | {fmt(r.control_untrained)} | {fmt(r.control_rewritten)} | "
              f"{'yes' if ok and r.status == 'solved' else 'no'} | {fmt(phases.get('extract'))} | {fmt(a)} | {fmt(k)} |")
    if align:
        print(f"\nmedian seconds per reading: extract {np.median(extract):.2f}, of which F2-D {np.median(align):.2f} "
              f"and its controls {np.median(ctrl):.2f} ({len(align)} readings)")


if __name__ == "__main__":
    main()
