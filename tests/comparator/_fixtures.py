"""Synthetic runs tables for the report tests: every column a comparison stores, outcomes planted per task.

`runs_table` builds a small comparison whose costs grow with difficulty (synthesis exponentially,
extraction polynomially, so their lines cross), with some wrong programs, some timeouts and some
extractions that fail the interchange check (F2). Everything is decided by a seeded generator, so a
table is the same on every call with the same arguments.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

BUDGET = 10.0

PROGRAMS = {
    "modular": "def f(a, b):\n    return (a + b) % {d}",
    "boolean": "def f(x0, x1, x2):\n    t = x0 ^ x1\n    return t | x2",
    "scan": "def f(xs):\n    s = 0\n    for x in xs:\n        s = (s + x) % {d}\n        yield s",
}
WRONG = "def f(a, b):\n    return a"


def run_row(task: str, family: str, difficulty: float, route: str, method: str, seed: int, *,
            status: str = "solved", seconds: float = 1.0, examples: int = 64, examples_spec: str | None = None,
            budget: float = BUDGET, agreement: float = math.nan, interchange: float = math.nan,
            splice: float = math.nan, program: str | None = None) -> dict:
    """One run with every column of the store; results default to a solved run of `seconds`."""
    returned = status in ("solved", "wrong")
    extraction = route == "extraction"
    if program is None and returned:
        template = PROGRAMS.get(family, "def f(a):\n    return a")
        program = template.replace("{d}", str(int(difficulty))) if status == "solved" else WRONG
    return {
        "comparison": "synthetic", "task": task, "family": family, "difficulty": float(difficulty),
        "params": {"d": difficulty}, "route": route, "method": method, "method_args": {}, "seed": seed,
        "examples": examples, "examples_spec": examples_spec, "budget": budget, "memory_mb": 2048,
        "status": status, "correct": status == "solved",
        "verification": "exhaustive (1000 inputs)" if returned else None,
        "seconds": float(seconds if status in ("solved", "wrong") else budget), "cpu_seconds": float(seconds),
        "size": (program.count(" ") + 3) if returned else None, "program": program if returned else None,
        "agreement": agreement, "interchange": interchange, "splice": splice,
        "train_seconds": 0.7 * seconds if extraction else math.nan,
        "extract_seconds": 0.3 * seconds if extraction else math.nan,
        "train_accuracy": 1.0 if extraction else math.nan, "domain_accuracy": 0.99 if extraction else math.nan,
        "candidates": None if extraction else 1000, "reasons": [] if returned else [f"{status}"],
        "phases": {}, "version": "0.1.0", "commit": "0123456789abcdef", "host": "test",
        "started_at": "2025-01-01T00:00:00", "finished_at": "2025-01-01T00:00:01",
    }


def runs_table(*, families: Sequence[str] = ("modular", "boolean", "scan"),
               difficulties: Sequence[float] = (2, 3, 4, 5, 6), seeds: Sequence[int] = (0, 1),
               extractors: Sequence[str] = ("fsm", "blackbox"), synthesizers: Sequence[str] = ("enumerative",),
               examples: Sequence[float] = (1.0,), budget: float = BUDGET, seed: int = 0) -> pd.DataFrame:
    """A comparison of every (family, difficulty) task by every method and seed at every examples fraction.

    Synthesis costs ~0.02·3^d seconds, extraction ~0.4·d^1.5 (the first extractor fastest); a run over
    the budget times out. Fewer examples make a solve less likely. About one run in twelve returns a
    wrong program; the scan family's first extractor fails interchange (F2) on its tasks of even difficulty.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for family in families:
        for d in difficulties:
            task = f"{family}_task[d={d:g}]"
            domain = int(2 ** (d + 3))
            for fraction in examples:
                n_examples = max(1, int(fraction * domain))
                spec = None if len(examples) == 1 else f"{fraction:g}"
                for route, methods in (("extraction", extractors), ("synthesis", synthesizers)):
                    for m, method in enumerate(methods):
                        for s in seeds:
                            base = 0.4 * d ** 1.5 * (1 + m) if route == "extraction" else 0.02 * 3.0 ** d * (1 + m)
                            seconds = base * float(rng.lognormal(0.0, 0.25))
                            draw = float(rng.random())
                            if seconds > budget:
                                status = "timeout"
                            elif draw < 0.08:
                                status = "wrong"
                            elif draw > 0.4 + 0.6 * fraction:
                                status = "abstained"
                            else:
                                status = "solved"
                            faith = {}
                            if route == "extraction" and status in ("solved", "wrong"):
                                fails = family == "scan" and m == 0 and d % 2 == 0
                                faith = {"agreement": 1.0 if status == "solved" else 0.8,
                                         "interchange": 0.55 if fails else 1.0,
                                         "splice": 0.97 if fails else 1.0}
                            rows.append(run_row(task, family, d, route, method, s, status=status, seconds=seconds,
                                                examples=n_examples, examples_spec=spec, budget=budget, **faith))
    return pd.DataFrame(rows)
