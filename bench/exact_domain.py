"""Token networks exact on the whole domain, not only on their examples (issues 15 and 16): per task and seed,
the comparator's training (``extraction.train(task, seconds=30, seed=s)``, half of a 60 s run), the network's
accuracy on the domain (or its stated sample), and what ``extraction.extract(net, "auto")`` reads from it, judged
by ``task.verify`` (the comparator's check). The default tasks are those the issues' targets missed at seed 0:
stream addition in bases 6 and 7 and running sums mod 7 and 8 (the finite-state user tasks of
``bench/finite_state.py``) and first_index from the standard suite.

    python bench/exact_domain.py --seeds 0,1,2 --out /tmp/exact-domain.json
    python bench/exact_domain.py --seeds 0,1,2 --options '{"noise": 0.1, "late": true, "anneal": 0.1}'

``--options`` passes training options (``noise``, ``late``, ``anneal``: training robust to drift; ``domain``: the
phase sure on the domain's inputs; ``calm``: a lower rate instead of an early stop near exact; all by request;
``snap``: states snapped to a codebook, on by default, ``'{"snap": false}'`` for the plain net; ``committee``: a
regressing net chosen among nets from other seeds by their majority on the domain's inputs, on by default,
``'{"committee": false}'`` for the first net alone).
Each row records the domain phase (``settings["domain_phase"]``) where it ran, the snap's record (``snapped``) and
the committee's (``committee``).
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

import extraction  # noqa: E402
import toy_tasks  # noqa: E402
from extraction.train import warm_up  # noqa: E402

DEFAULT_TASKS = "stream_addition_b6,stream_addition_b7,running_sum_mod7,running_sum_mod8,first_index"


def tasks() -> dict[str, toy_tasks.Task]:
    spec = importlib.util.spec_from_file_location("finite_state_bench", HERE / "finite_state.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = {t.name: t for t in module.tasks()}
    out.update({t.name: t for t in toy_tasks.suite("standard")})
    return out


def snapped(net) -> dict | None:
    """The snap's record (``extraction.snap``) without its rungs: rows, rows visited, domain inputs answered
    otherwise, whether the snapped net was kept."""
    record = net.settings.get("snapped")
    return None if record is None else {k: v for k, v in record.items() if k != "tried"}


def committee(net) -> dict | None:
    """The committee's record (``extraction.committee``) in brief: why it ended, the member kept, each member's
    seed, status and inputs off the majority."""
    record = net.settings.get("elected")
    if record is None:
        return None
    return {"why": record["why"], "kept": record["kept"], "seconds": record["seconds"],
            "members": [[m["seed"], m["status"], m.get("off")] for m in record["members"]]}


def run(task, seed: int, seconds: float, read_seconds: float, options: dict) -> dict:
    net = extraction.train(task, seconds=seconds, seed=seed, **options)
    t0 = time.perf_counter()
    reading = extraction.extract(net, "auto", seconds=read_seconds, seed=seed)
    read_s = time.perf_counter() - t0
    right = bool(task.verify(reading.program).equal) if reading.program is not None else False
    return {"task": task.name, "seed": seed, "domain": net.domain_accuracy, "train_s": round(net.seconds, 2),
            "status": net.status, "width": net.settings.get("hidden"),
            "domain_phase": net.settings.get("domain_phase"), "snapped": snapped(net), "committee": committee(net), "reading": reading.status,
            "method": (reading.details or {}).get("method"), "right": right, "read_s": round(read_s, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=DEFAULT_TASKS)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--seconds", type=float, default=30.0, help="training budget (the comparator's half of 60 s)")
    parser.add_argument("--read-seconds", type=float, default=30.0)
    parser.add_argument("--no-read", action="store_true", help="train and measure the domain accuracy only")
    parser.add_argument("--options", default="{}", help="training options as JSON, e.g. '{\"noise\": 0.1}'")
    parser.add_argument("--out", default="/tmp/exact-domain.json")
    args = parser.parse_args()
    warm_up()
    known = tasks()
    rows = []
    for name in args.tasks.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            if args.no_read:
                net = extraction.train(known[name], seconds=args.seconds, seed=seed, **json.loads(args.options))
                row = {"task": name, "seed": seed, "domain": net.domain_accuracy, "train_s": round(net.seconds, 2),
                       "status": net.status, "width": net.settings.get("hidden"),
                       "domain_phase": net.settings.get("domain_phase"), "snapped": snapped(net), "committee": committee(net)}
            else:
                row = run(known[name], seed, args.seconds, args.read_seconds, json.loads(args.options))
            rows.append(row)
            print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    print("\n| task | seed | domain accuracy | train s | read by auto |")
    print("|---|---|---|---|---|")
    for r in rows:
        read = ("—" if "reading" not in r else
                f"{'right' if r['right'] else 'wrong' if r['method'] else 'none'}, {r['reading']} · {r['read_s']:.1f} s")
        print(f"| {r['task']} | {r['seed']} | {r['domain']:.5f} | {r['train_s']:.1f} | {read} |")
    print(f"\nexact on the domain: {sum(r['domain'] == 1.0 for r in rows)}/{len(rows)}; read right: "
          f"{sum(bool(r.get('right')) for r in rows)}/{len(rows)}, of them solved (not partial): "
          f"{sum(bool(r.get('right')) and r.get('reading') == 'solved' for r in rows)}")


if __name__ == "__main__":
    main()
