"""Twelve scans no suite holds (a mod counter with reset, Tomita 4 and 5, the difference with the previous element,
a running max from -100, a running min, a count of equal neighbours, a +-1 walk, a sum mod 5 over -3..3, a bracket
depth floored at 0, the last nonzero element, a count of elements above t), written as user tasks with
``toy_tasks.from_function`` and run through the public API: ``extraction.train(task, seconds=30, seed=0)`` then
``extraction.extract(net, "auto", seconds=30, seed=0)``, the program checked with ``task.verify`` and the
faithfulness record with the comparator's rule. One JSON line per task, then the totals:

    python bench/unseen_scans.py                     # all twelve
    python bench/unseen_scans.py tomita4,diff_prev   # some
"""
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(HERE)]  # bench/extraction.py would shadow

import extraction  # noqa: E402
import toy_tasks  # noqa: E402
from extraction.faithfulness import is_mechanism  # noqa: E402
from toy_tasks import Int, Seq  # noqa: E402

def f_mod_counter(xs):
    out, s = [], 0
    for x in xs:
        s = 0 if x == 2 else (s + x) % 4
        out.append(s)
    return out
def f_tomita4(xs):
    out, run, dead = [], 0, False
    for x in xs:
        run = run + 1 if x == 0 else 0
        dead = dead or run >= 3
        out.append(0 if dead else 1)
    return out
def f_tomita5(xs):  # even number of 0s and even number of 1s
    out, a, b = [], 0, 0
    for x in xs:
        a ^= int(x == 0); b ^= int(x == 1)
        out.append(int(a == 0 and b == 0))
    return out
def f_diff_prev(xs):
    out, p = [], 0
    for x in xs:
        out.append(x - p); p = x
    return out
def f_max_neg(xs):
    out, m = [], -100
    for x in xs:
        m = max(m, x); out.append(m)
    return out
def f_min_so_far(xs):
    out, m = [], 100
    for x in xs:
        m = min(m, x); out.append(m)
    return out
def f_pairs(xs):
    out, c, p = [], 0, -1
    for x in xs:
        c += int(x == p); p = x; out.append(c)
    return out
def f_walk(xs):
    out, s = [], 0
    for x in xs:
        s = s + 2 * x - 1; out.append(s)
    return out
def f_sum_mod5_neg(xs):
    out, s = [], 0
    for x in xs:
        s = (s + x) % 5; out.append(s)
    return out
def f_depth(xs):  # bracket depth, never below 0
    out, d = [], 0
    for x in xs:
        d = d + 1 if x == 0 else max(d - 1, 0); out.append(d)
    return out
def f_last_nonzero(xs):
    out, m = [], 0
    for x in xs:
        m = x if x != 0 else m; out.append(m)
    return out
def f_count_gt(xs, t):
    return sum(1 for x in xs if x > t)
TASKS = [
    ("mod_counter_reset", f_mod_counter, {"xs": Seq(Int(0, 3), length=(1, 8))}),
    ("tomita4", f_tomita4, {"xs": Seq(Int(0, 2), length=(1, 10))}),
    ("tomita5", f_tomita5, {"xs": Seq(Int(0, 2), length=(1, 10))}),
    ("diff_prev", f_diff_prev, {"xs": Seq(Int(-20, 21), length=(1, 6))}),
    ("max_so_far_neg", f_max_neg, {"xs": Seq(Int(-40, 40), length=(1, 6))}),
    ("min_so_far", f_min_so_far, {"xs": Seq(Int(0, 50), length=(1, 6))}),
    ("count_equal_pairs", f_pairs, {"xs": Seq(Int(0, 3), length=(1, 9))}),
    ("signed_walk", f_walk, {"xs": Seq(Int(0, 2), length=(1, 12))}),
    ("sum_mod5_neg", f_sum_mod5_neg, {"xs": Seq(Int(-3, 4), length=(1, 7))}),
    ("bracket_depth_floor", f_depth, {"xs": Seq(Int(0, 2), length=(1, 10))}),
    ("last_nonzero", f_last_nonzero, {"xs": Seq(Int(0, 30), length=(1, 6))}),
    ("count_greater", f_count_gt, {"xs": Seq(Int(0, 6), length=(1, 6)), "t": Int(0, 6)}),
]
only = set(sys.argv[1].split(",")) if len(sys.argv) > 1 and sys.argv[1] else None
rows = []
for name, fn, inputs in TASKS:
    if only and name not in only:
        continue
    task = toy_tasks.from_function(name, fn, inputs=inputs)
    t = time.perf_counter()
    net = extraction.train(task, seconds=30, seed=0)
    tt = time.perf_counter() - t
    t = time.perf_counter()
    r = extraction.extract(net, "auto", seconds=30, seed=0)
    rt = time.perf_counter() - t
    right = r.program is not None and task.verify(r.program).equal
    mech = right and is_mechanism(r.faithfulness)
    row = dict(task=name, net=f"{net.arch}{' numeric' if net.settings.get('numeric') else ''}", training=net.status,
               width=net.settings.get("hidden"), domain=round(net.domain_accuracy, 5), reading=r.status,
               by=(r.reasons[0].split(":")[0] if r.reasons else ""), right=right, mechanism=mech,
               train_s=round(tt, 1), read_s=round(rt, 1))
    rows.append(row)
    print(json.dumps(row), flush=True)
print("right", sum(r["right"] for r in rows), "mechanism", sum(r["mechanism"] for r in rows), "of", len(rows))
