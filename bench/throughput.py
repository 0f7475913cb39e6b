"""Throughput of the comparison grid: the local pool with 1 and 2 workers, and Ray with 2 workers.

Each configuration runs in a fresh Python process (so each pays its own start-up: the pool's preloading
server, or starting a local Ray instance), on the same grid, one after another, repeated with the order
rotated; the table reports the median wall time and runs per minute. A second grid of tiny runs
(`multiplexer[k=1]` by enumeration, ~0.02 s of work each) measures the comparator's overhead per run:
wall x workers / runs - mean run seconds. Usage:

    python bench/throughput.py --out bench/results/throughput.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# bench/extraction.py would shadow the extraction package: this folder is not a place to import from.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
CONFIGS = [("local", 1), ("local", 2), ("ray", 2)]


def one(executor: str, workers: int, grid: str, seconds: float) -> dict:
    """Runs one grid in this process and returns its timings."""
    import comparator
    import toy_tasks

    if grid == "quick":
        tasks, kwargs = toy_tasks.suite("quick"), {"extractors": ("auto",), "synthesizers": ("enumerative",), "seeds": 1}
    else:  # "tiny": many short runs, for the per-run overhead
        tasks, kwargs = ["multiplexer[k=1]"], {"extractors": (), "synthesizers": ("enumerative",), "seeds": 40}
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        comp = comparator.compare(tasks, seconds=seconds, store=os.path.join(folder, "runs.sqlite"), executor=executor,
                                  workers=workers, **kwargs)
        wall = time.perf_counter() - start
    runs = comp.runs
    return {"executor": executor, "workers": workers, "grid": grid, "runs": len(runs), "wall": wall,
            "run_seconds": float(runs["seconds"].sum()), "solved": int((runs["status"] == "solved").sum()),
            "statuses": runs["status"].value_counts().to_dict()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0, help="budget per run in the quick grid")
    ap.add_argument("--grids", default="quick,tiny", help="which grids to run (comma-separated)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--one", nargs=3, metavar=("EXECUTOR", "WORKERS", "GRID"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.one[2], args.seconds)))
        return
    rows = []
    grids = [g for g in ("quick", "tiny") if g in args.grids.split(",")]
    for grid in grids:
        for r in range(args.repeats):
            order = CONFIGS[r % len(CONFIGS):] + CONFIGS[:r % len(CONFIGS)]
            for executor, workers in order:
                out = subprocess.run([sys.executable, __file__, "--seconds", str(args.seconds), "--one", executor,
                                      str(workers), grid], capture_output=True, text=True, check=True,
                                     env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
                row = json.loads(out.stdout.strip().splitlines()[-1])
                row["repeat"] = r
                rows.append(row)
                print(f"{grid:5s} {executor:5s} x{workers}: {row['runs']} runs in {row['wall']:.1f} s "
                      f"({60 * row['runs'] / row['wall']:.1f} runs/min), {row['solved']} solved", file=sys.stderr,
                      flush=True)
    table = []
    for grid in grids:
        for executor, workers in CONFIGS:
            these = [x for x in rows if x["grid"] == grid and x["executor"] == executor and x["workers"] == workers]
            wall = statistics.median(x["wall"] for x in these)
            n = these[0]["runs"]
            overhead = statistics.median(x["wall"] * workers / x["runs"] - x["run_seconds"] / x["runs"] for x in these)
            table.append({"grid": grid, "executor": executor, "workers": workers, "runs": n, "median_wall": wall,
                          "runs_per_minute": 60 * n / wall, "overhead_per_run": overhead,
                          "solved": [x["solved"] for x in these]})
    summary = {"command": "python bench/throughput.py " + " ".join(sys.argv[1:]), "seconds": args.seconds,
               "repeats": args.repeats, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
               "table": table, "rows": rows}
    text = json.dumps(summary, indent=1)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    print(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
