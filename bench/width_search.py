"""Training seconds with the width search off and on (``extraction.train(task, search=...)``), per task, on
the sets the issue names: the standard suite's scan family and the finite-state user tasks
(``bench/finite_state.py``) with the comparator's training budget (half of a 60 s run) and default example
set, and the integer streams over large alphabets at 20 s. One process, one thread, tasks one after
another (each mode on a task back to back), medians per set:

    python bench/width_search.py --sets scan,finite_state,integer --out /tmp/width-search.json

``--sets`` also takes ``search`` (the standard suite's search family, 30 s); ``--seeds 0,1,2`` trains each task
once per seed; each row records the network's accuracy on the whole domain (``domain``), and the summary counts
the runs exact on it.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
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


def finite_state_tasks() -> list:
    spec = importlib.util.spec_from_file_location("finite_state_bench", HERE / "finite_state.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.tasks()


def sets() -> dict[str, tuple[list, float]]:
    """Each set's tasks and its training budget in seconds."""
    return {
        "scan": ([t for t in toy_tasks.suite("standard") if t.family == "scan"], 30.0),
        "search": ([t for t in toy_tasks.suite("standard") if t.family == "search"], 30.0),
        "finite_state": (finite_state_tasks(), 30.0),
        "integer": ([toy_tasks.get("running_sum", values=100), toy_tasks.get("sum_last_k", k=2, values=64),
                     toy_tasks.get("previous_element", values=64)], 20.0),
    }


def run(task, seconds: float, search: bool, seed: int = 0, options: dict | None = None) -> dict:
    t0 = time.perf_counter()
    net = extraction.train(task, seconds=seconds, seed=seed, search=search, **(options or {}))
    wall = time.perf_counter() - t0
    record = net.settings.get("search") or {}
    return {"seconds": round(net.seconds, 3), "wall": round(wall, 3), "status": net.status,
            "accuracy": net.train_accuracy, "width": net.model.width if hasattr(net.model, "width") else None,
            "networks": record.get("networks") or len(record.get("widths", [0])) * len(record.get("seeds", [0])), "steps": net.steps,
            "domain": net.domain_accuracy, "margin_polish": net.settings.get("margin_polish"),
            "reasons": list(net.reasons)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="scan,finite_state,integer")
    parser.add_argument("--modes", default="off,on", help="off (search=False), on (search=True), or both")
    parser.add_argument("--only", default=None, help="comma-separated task names to keep")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, each task trained once per seed and mode")
    parser.add_argument("--options", default="{}", help="training options as JSON, e.g. '{\"noise\": 0.1}'")
    parser.add_argument("--out", default="/tmp/width-search.json")
    args = parser.parse_args()
    warm_up()
    chosen = sets()
    keep = set(args.only.split(",")) if args.only else None
    rows = []
    for name in args.sets.split(","):
        tasks, seconds = chosen[name]
        for task in tasks:
            if keep and task.name not in keep:
                continue
            for seed in [int(s) for s in args.seeds.split(",")]:
                row = {"set": name, "task": task.name, "seed": seed}
                for mode in args.modes.split(","):
                    row[mode] = run(task, seconds, mode == "on", seed, json.loads(args.options))
                rows.append(row)
                print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    modes = args.modes.split(",")
    print("\n| set | runs | " + " | ".join(f"median train s {m} | exact {m} | exact on the domain {m}" for m in modes) + " |")
    print("|---|---|" + "---|---|---|" * len(modes))
    for name in args.sets.split(","):
        g = [r for r in rows if r["set"] == name]
        if not g:
            continue
        cells = []
        for m in modes:
            cells += [f"{np.median([r[m]['seconds'] for r in g]):.2f}",
                      f"{sum(r[m]['status'] == 'trained' for r in g)}/{len(g)}",
                      f"{sum(r[m]['domain'] == 1.0 for r in g)}/{len(g)}"]
        print(f"| {name} | {len(g)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
