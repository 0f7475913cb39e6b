"""Measures the default portfolio order (comparator.analysis.PORTFOLIO_ORDER): every method of each route on
the quick suite, one seed, and the methods of each route ranked by their mean PAR-2 cost there, cheapest
first. Writes bench/results/portfolio-order.json; the order in analysis.py is copied from it by hand.

    python bench/portfolio_order.py --seconds 10 --store /tmp/portfolio-quick.sqlite
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

import comparator  # noqa: E402
from comparator.analysis import CONTROLS, method_outcomes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="budget per run")
    parser.add_argument("--store", default="/tmp/portfolio-quick.sqlite", help="where the runs are kept (resumable)")
    parser.add_argument("--out", default=str(HERE / "results" / "portfolio-order.json"))
    args = parser.parse_args()
    start = time.perf_counter()
    c = comparator.compare("quick", extractors=("all",), synthesizers=("all",), seconds=args.seconds, store=args.store)
    per_method = method_outcomes(c.runs)
    order = {}
    for route, group in per_method.groupby("route"):
        costs = group.groupby("method").agg(cost=("cost", "mean"), solved=("solved", "sum")).reset_index()
        costs = costs[[(route, m) not in CONTROLS for m in costs["method"]]]
        ranked = costs.sort_values(["cost", "method"])
        order[route] = [{"method": r.method, "mean_par2": round(float(r.cost), 3), "solved": int(r.solved)}
                        for r in ranked.itertuples()]
    result = {"suite": "quick", "seconds": args.seconds, "tasks": int(c.runs["task"].nunique()),
              "wall_seconds": round(time.perf_counter() - start, 1), "order": order}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
