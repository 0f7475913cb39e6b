"""Every extractor on the standard suite at one seed, tabled per family: what the mechanistic route reads
(right programs, and programs that are the network's mechanism by the gate), how long training took with
its search, how many networks it trained per task, and how long the reading took. Run it at two commits
(before and after a change) with separate stores, then table both side by side with ``--compare``:

    python bench/standard_extractors.py --store /tmp/before.sqlite            # at the old commit
    python bench/standard_extractors.py --store /tmp/after.sqlite             # at the new one
    python bench/standard_extractors.py --compare /tmp/before.sqlite /tmp/after.sqlite

The `blackbox` and `ramanujan` controls are left out: they read no trained network's mechanism.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(HERE)]  # bench/extraction.py would shadow

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import comparator  # noqa: E402
import toy_tasks  # noqa: E402
from comparator.analysis import mechanism_checks  # noqa: E402
from comparator.store import Store  # noqa: E402

READERS = "auto,boolean,fourier,fsm,integer,linear,lstar"


def per_family(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per family: tasks with a right program some extractor presents (not one it disowns), tasks read as the
    mechanism by some extractor, median training seconds per task (the network's, search included),
    median networks trained per task, median seconds of a reading that ran (training excluded)."""
    runs = runs[runs["route"] == "extraction"].copy()
    # a reading counts where its extractor presents it (agreement 1 where measured): one it disowns ("partial",
    # "unfaithful"), right or not, is the route's abstention, as the comparator's verdict counts it
    agreement = pd.to_numeric(runs["agreement"], errors="coerce")
    runs["right"] = (runs["correct"] == True) & (agreement.isna() | (agreement >= 1.0 - 1e-9))  # noqa: E712
    runs["mechanism"] = mechanism_checks(runs) & runs["right"]
    runs["networks"] = [(p or {}).get("networks", 1.0) if isinstance(p, dict) else 1.0 for p in runs["phases"]]
    rows = []
    for family, g in runs.groupby("family"):
        per_task = g.groupby("task")
        reading = g["extract_seconds"].dropna()
        rows.append({"family": family, "tasks": g["task"].nunique(),
                     "right": int(per_task["right"].any().sum()),
                     "mechanism": int(per_task["mechanism"].any().sum()),
                     "train s": float(per_task["train_seconds"].max().median()),
                     "networks": float(per_task["networks"].max().median()),
                     "read s": float(reading.median()) if len(reading) else float("nan")})
    table = pd.DataFrame(rows)
    total = {"family": "all", "tasks": int(table["tasks"].sum()), "right": int(table["right"].sum()),
             "mechanism": int(table["mechanism"].sum()),
             "train s": float(runs.groupby("task")["train_seconds"].max().median()),
             "networks": float(runs.groupby("task")["networks"].max().median()),
             "read s": float(runs["extract_seconds"].dropna().median())}
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def markdown(table: pd.DataFrame) -> str:
    fmt = lambda v: "—" if isinstance(v, float) and np.isnan(v) else (f"{v:.2f}" if isinstance(v, float) else str(v))  # noqa: E731
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default="/tmp/standard-extractors.sqlite")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--extractors", default=READERS)
    parser.add_argument("--families", default=None, help="only these families (comma-separated), e.g. modular")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"), help="table two stores side by side")
    args = parser.parse_args()
    if args.compare:
        before, after = (per_family(Store(path).runs()) for path in args.compare)
        both = before.merge(after, on=["family", "tasks"], suffixes=(" before", " after"))
        print(markdown(both[["family", "tasks"] + [f"{c} {w}" for c in ("right", "mechanism", "train s", "networks",
                                                                       "read s") for w in ("before", "after")]]))
        return
    tasks = toy_tasks.suite("standard")
    if args.families:
        tasks = [t for t in tasks if t.family in args.families.split(",")]
    c = comparator.compare(tasks, extractors=args.extractors.split(","), synthesizers=(), seconds=args.seconds,
                           seeds=[args.seed], store=args.store, workers=args.workers)
    print(markdown(per_family(c.runs)))


if __name__ == "__main__":
    main()
