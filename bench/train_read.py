"""Training plus reading per task, through the public API: ``extraction.train(task, seconds=..., seed=0,
search=...)`` then ``extraction.extract(trained, "auto", seconds=..., seed=0)`` (the default readers: ``auto``
tries the extractors that fit the network in turn), the program checked with ``task.verify`` and its
faithfulness record with ``extraction.faithfulness.is_mechanism`` (the comparator's rule). Per family of the
standard suite, the finite-state user tasks (``bench/finite_state.py``) and the integer streams over large
alphabets: training seconds, networks trained per task (the width search's candidates), reading seconds and
training plus reading, medians per family; right and mechanism counts. One process, one thread, tasks in turn:

    python bench/train_read.py --out bench/results/train-read.json

``--sets`` picks among standard, finite_state, integer; ``--search`` is ``default`` (``search=None``: the
architecture's default, the width search for recurrent nets and one network for MLPs), ``on`` (every network
searched) or ``off`` (one network per task). ``--nets DIR`` keeps each trained network in ``DIR`` and reads the
kept one on a later run (its training seconds are the first run's), so one set of networks is read by two
versions of the readers (``git checkout`` between runs); ``--profile N`` prints each reading's top ``N`` functions
of the project's code by cumulative seconds (cProfile); ``--compare BEFORE AFTER`` prints two such runs' json side
by side per family (reading seconds, training plus reading with the first run's training, right, mechanism;
and, when the second run trained its own networks, each run's training, networks, reading and training plus
reading).
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
from extraction.faithfulness import is_mechanism  # noqa: E402
from extraction.train import warm_up  # noqa: E402


def finite_state_tasks() -> list:
    """The finite-state user tasks, as bench/width_search.py loads them."""
    spec = importlib.util.spec_from_file_location("width_search_bench", HERE / "width_search.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.finite_state_tasks()


def groups(names: list[str]) -> list[tuple[str, object, float]]:
    """(family label, task, training seconds) for the sets named: the comparator's training budget (half of
    a 60 s run) for the suites, 20 s for the integer streams (as bench/width_search.py)."""
    out = []
    if "standard" in names:
        out += [(t.family, t, 30.0) for t in toy_tasks.suite("standard")]
    if "finite_state" in names:
        out += [("finite-state user tasks", t, 30.0) for t in finite_state_tasks()]
    if "integer" in names:
        out += [("integer streams", t, 20.0) for t in (toy_tasks.get("running_sum", values=100),
                                                       toy_tasks.get("sum_last_k", k=2, values=64),
                                                       toy_tasks.get("previous_element", values=64))]
    return out


def run(family: str, task, seconds: float, search: bool | None, read_seconds: float, nets: Path | None = None,
        profile: int = 0) -> dict:
    kept = nets / (task.name.replace("/", "_") + ".pt") if nets else None
    if kept is not None and kept.exists():
        net = extraction.load(kept, task=task)
    else:
        net = extraction.train(task, seconds=seconds, seed=0, search=search)
        if kept is not None:
            kept.parent.mkdir(parents=True, exist_ok=True)
            extraction.save(net, kept)
    record = net.settings.get("search") or {}
    cpu = time.process_time()
    if profile:
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        res = prof.runcall(extraction.extract, net, "auto", seconds=read_seconds, seed=0)
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(4 * profile)
        here = str(HERE.parent)
        lines = [line for line in out.getvalue().splitlines() if here in line][:profile]
        print(f"# {task.name}: reading {res.seconds:.2f} s\n" + "\n".join(lines), flush=True)
    else:
        res = extraction.extract(net, "auto", seconds=read_seconds, seed=0)
    cpu = time.process_time() - cpu  # this process's CPU seconds: less sensitive than the wall clock to a loaded machine
    right = bool(res.program is not None and res.status == "solved" and task.verify(res.program).equal)
    return {"family": family, "task": task.name, "train_s": round(net.seconds, 3), "status": net.status,
            "networks": record.get("networks", 1), "width": getattr(net.model, "width", None),
            "domain_accuracy": net.domain_accuracy, "read_s": round(res.seconds, 3), "read_cpu_s": round(cpu, 3), "read_status": res.status,
            "method": res.details.get("method"), "right": right,
            **{k: res.details[k] for k in ("abstraction", "violations", "kmeans_seconds", "kmeans_won") if k in res.details},
            "mechanism": bool(right and is_mechanism(res.faithfulness))}


def table(rows: list[dict]) -> str:
    lines = ["| family | tasks | train s | networks | read s | train + read s | trained exact | right | mechanism |",
             "|---|---|---|---|---|---|---|---|---|"]
    fams = list(dict.fromkeys(r["family"] for r in rows))
    for fam in fams + ["all"]:
        g = rows if fam == "all" else [r for r in rows if r["family"] == fam]
        med = lambda k: float(np.median([r[k] for r in g]))  # noqa: E731
        lines.append(f"| {fam} | {len(g)} | {med('train_s'):.2f} | {med('networks'):.0f} | {med('read_s'):.2f} | "
                     f"{float(np.median([r['train_s'] + r['read_s'] for r in g])):.2f} | "
                     f"{sum(r['status'] == 'trained' for r in g)} | {sum(r['right'] for r in g)} | "
                     f"{sum(r['mechanism'] for r in g)} |")
    return "\n".join(lines)


def compare(before: dict, after: dict) -> str:
    """Two runs over one set of networks (``--nets``) side by side: per family the median reading seconds
    before and after, the median per-task ratio, the median training plus reading with the first run's
    training seconds (the networks', when the second run read kept ones), and right / mechanism before and
    after; then every task whose right or mechanism changed."""
    old = {r["task"]: r for r in before["rows"]}
    rows = [(old[r["task"]], r) for r in after["rows"] if r["task"] in old]
    lines = ["| family | tasks | read s before | read s after | ratio (median) | train + read s before | train + read s after "
             "| right before / after | mechanism before / after |", "|---|---|---|---|---|---|---|---|---|"]
    fams = list(dict.fromkeys(a["family"] for _, a in rows))
    for fam in fams + ["all"]:
        g = rows if fam == "all" else [(b, a) for b, a in rows if a["family"] == fam]
        med = lambda xs: float(np.median(xs))  # noqa: E731
        lines.append(f"| {fam} | {len(g)} | {med([b['read_s'] for b, _ in g]):.2f} | {med([a['read_s'] for _, a in g]):.2f} | "
                     f"{med([a['read_s'] / max(b['read_s'], 1e-3) for b, a in g]):.2f} | "
                     f"{med([b['train_s'] + b['read_s'] for b, _ in g]):.2f} | {med([b['train_s'] + a['read_s'] for b, a in g]):.2f} | "
                     f"{sum(b['right'] for b, _ in g)} / {sum(a['right'] for _, a in g)} | "
                     f"{sum(b['mechanism'] for b, _ in g)} / {sum(a['mechanism'] for _, a in g)} |")
    if all("read_cpu_s" in b and "read_cpu_s" in a for b, a in rows):
        lines += ["", "| family | read CPU s before | read CPU s after | ratio (median) |", "|---|---|---|---|"]
        for fam in fams + ["all"]:
            g = rows if fam == "all" else [(b, a) for b, a in rows if a["family"] == fam]
            lines.append(f"| {fam} | {np.median([b['read_cpu_s'] for b, _ in g]):.2f} | "
                         f"{np.median([a['read_cpu_s'] for _, a in g]):.2f} | "
                         f"{np.median([a['read_cpu_s'] / max(b['read_cpu_s'], 1e-3) for b, a in g]):.2f} |")
    if any(a["train_s"] != b["train_s"] for b, a in rows):  # the second run trained its own networks
        lines += ["", "Each run with its own training:", "",
                  "| family | tasks | train s before | train s after | networks before / after | read s before | "
                  "read s after | train + read s before | train + read s after | ratio (median) | within 5 s before / after |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for fam in fams + ["all"]:
            g = rows if fam == "all" else [(b, a) for b, a in rows if a["family"] == fam]
            med = lambda xs: float(np.median(xs))  # noqa: E731
            total = lambda r: r["train_s"] + r["read_s"]  # noqa: E731
            lines.append(f"| {fam} | {len(g)} | {med([b['train_s'] for b, _ in g]):.2f} | {med([a['train_s'] for _, a in g]):.2f} | "
                         f"{med([b['networks'] for b, _ in g]):.0f} / {med([a['networks'] for _, a in g]):.0f} | "
                         f"{med([b['read_s'] for b, _ in g]):.2f} | {med([a['read_s'] for _, a in g]):.2f} | "
                         f"{med([total(b) for b, _ in g]):.2f} | {med([total(a) for _, a in g]):.2f} | "
                         f"{med([total(a) / max(total(b), 1e-3) for b, a in g]):.2f} | "
                         f"{sum(total(b) <= 5.0 for b, _ in g)} / {sum(total(a) <= 5.0 for _, a in g)} |")
    changed = [f"{a['task']}: right {b['right']} -> {a['right']}, mechanism {b['mechanism']} -> {a['mechanism']}"
               for b, a in rows if (b["right"], b["mechanism"]) != (a["right"], a["mechanism"])]
    within = sum(b["train_s"] + a["read_s"] <= 5.0 for b, a in rows)
    return "\n".join(lines + [f"\n{within} of {len(rows)} tasks within 5 s (first run's training + this reading)"]
                     + (["changed:"] + changed if changed else ["no task's right or mechanism changed"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="standard,finite_state,integer")
    parser.add_argument("--search", default="default", choices=("default", "on", "off"))
    parser.add_argument("--read-seconds", type=float, default=30.0)
    parser.add_argument("--only", default=None, help="comma-separated task names to keep")
    parser.add_argument("--fsm-kmeans-after", action="store_true",
                        help="fsm runs k-means also after its refinement by behaviour left conflicts (the measurement "
                             "behind fsm.KMEANS_AFTER): its seconds and whether it won go into the rows")
    parser.add_argument("--nets", default=None, help="folder where trained networks are kept and reused")
    parser.add_argument("--profile", type=int, default=0, help="print each reading's top N functions (cProfile)")
    parser.add_argument("--out", default="/tmp/train-read.json")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"), default=None,
                        help="print two runs' json side by side per family (read seconds, right, mechanism) and stop")
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(Path(f).read_text()) for f in args.compare)
        print(compare(before, after))
        return
    if args.fsm_kmeans_after:
        from extraction.methods import fsm

        fsm.KMEANS_AFTER = True
    warm_up()
    keep = set(args.only.split(",")) if args.only else None
    rows = []
    began = time.strftime("%Y-%m-%d")
    for family, task, seconds in groups(args.sets.split(",")):
        if keep and task.name not in keep:
            continue
        search = {"default": None, "on": True, "off": False}[args.search]
        rows.append(run(family, task, seconds, search, args.read_seconds, Path(args.nets) if args.nets else None,
                        args.profile))
        print(json.dumps(rows[-1]), flush=True)
    Path(args.out).write_text(json.dumps({"date": began, "search": args.search, "rows": rows}, indent=1))
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
