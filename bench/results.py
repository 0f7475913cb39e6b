"""docs/results.md: the first answer of the toolkit, from three comparisons run end to end.

    python bench/results.py --seeds 3            # runs (or resumes) the three grids, then writes the page
    python bench/results.py --seeds standard=3,scaling=1,samples=1   # seeds per grid

1. ``standard``: the standard suite, every extractor and every synthesizer, 60 s per run;
2. ``scaling``: the scaling suite (each family at rising difficulty), 60 s per run, ``auto`` extraction (which
   tries fsm, lstar, linear, boolean and fourier as the network allows) against ``enumerative``, ``rpni``
   and ``logic`` (the synthesizer that solves most standard tasks, and the two cheapest, each best on its
   kind of task); ``--scaling-methods all`` runs every method, as the standard grid does;
3. ``samples``: ten tasks at 5%, 20%, 50% and 100% of their domain as examples, ``auto`` against
   ``enumerative`` (the two routes' default methods), for the sample-complexity curves.

Each grid keeps its runs in ``results/NAME.sqlite`` (a rerun resumes: runs already stored are not run
again; ``--seeds 3`` after ``--seeds 1`` adds seeds 1 and 2) and its trained networks beside it. The
page, its per-grid reports and figures go to ``docs/results.md`` and ``docs/results/``; the runs are
exported to ``docs/results/NAME-runs.csv``. ``--report-only`` rewrites the page from the stores. The
commentary in ``docs/results-commentary.md`` is written by hand against the runs it names and is
included as it is.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
# bench/extraction.py would shadow the extraction package: this folder is not a place to import from.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
ROOT = Path(HERE).parent

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SAMPLE_TASKS = ["modular_addition", "modular_multiplication", "parity", "majority", "maximum", "absolute_difference",
                "running_parity", "running_sum_mod", "parity_last_k", "divisibility"]
SAMPLE_FRACTIONS = [0.05, 0.2, 0.5, 1.0]
GRIDS = {
    "standard": {"tasks": "standard", "extractors": "all", "synthesizers": "all", "examples": None},
    "scaling": {"tasks": "scaling", "extractors": ("auto",), "synthesizers": ("enumerative", "rpni", "logic"),
                "examples": None},
    "samples": {"tasks": SAMPLE_TASKS, "extractors": ("auto",), "synthesizers": ("enumerative",),
                "examples": SAMPLE_FRACTIONS},
}
# The scaling grid's own methods (``--scaling-methods all`` replaces them with every method).
SCALING_DEFAULT = frozenset(GRIDS["scaling"]["extractors"]) | frozenset(GRIDS["scaling"]["synthesizers"])
# Published figures the issue measures us against (MIPS's 62 RNN tasks; RPNI with library defaults on them).
MIPS = {"tasks": 62, "extraction": 32, "rpni": 34, "both": 51}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=_seeds, default="3",
                        help="seeds for every grid (3), or per grid (standard=3,scaling=1,samples=1)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--grids", default="standard,scaling,samples")
    parser.add_argument("--store-dir", default=str(ROOT / "results"))
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--report-only", action="store_true", help="write the page from the stores; run nothing")
    parser.add_argument("--from-csv", action="store_true",
                        help="with --report-only: read each grid's runs from docs/results/NAME-runs.csv where its store "
                             "is absent (the exported runs, less the phase timings), e.g. to re-read them by a new rule")
    parser.add_argument("--scaling-methods", choices=("default", "all"), default="default")
    args = parser.parse_args()
    names = [g.strip() for g in args.grids.split(",") if g.strip()]
    stores = Path(args.store_dir)
    stores.mkdir(parents=True, exist_ok=True)
    if args.scaling_methods == "all":
        GRIDS["scaling"].update(extractors="all", synthesizers="all")
    unseeded = [n for n in names if n not in args.seeds and "*" not in args.seeds]
    if unseeded and not args.report_only:
        parser.error(f"--seeds names no count for {', '.join(unseeded)}: add {unseeded[0]}=N, or give one count")
    if not args.report_only:
        for name in names:
            run_grid(name, stores, seeds=args.seeds.get(name, args.seeds.get("*")), seconds=args.seconds,
                     workers=args.workers)
    write_page(stores, Path(args.out), seconds=args.seconds, from_csv=args.from_csv)


def _seeds(text: str) -> dict[str, int]:
    """``3`` (every grid) or ``standard=3,scaling=1`` (per grid) -> {grid or "*": seeds}."""
    out: dict[str, int] = {}
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, value = part.rpartition("=")
            if name and name not in GRIDS:
                raise ValueError(f"no grid {name!r} (the grids are {', '.join(GRIDS)})")
            if int(value) < 1:
                raise ValueError("a grid needs at least one seed")
            out[name or "*"] = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}; write 3 or standard=3,scaling=1,samples=1") from None
    return out


def page_command(runs: dict, seconds: float) -> str:
    """The one command that reproduces the page from empty stores: each stored grid at the seeds it has
    (seeds are 0..N-1), at the page's budget, with every method where the scaling grid ran every method."""
    seeds = {name: int(frame["seed"].max()) + 1 for name, frame in runs.items()}
    same = len(set(seeds.values())) == 1 and len(seeds) == len(GRIDS)
    parts = ["python bench/results.py",
             "--seeds " + (str(next(iter(seeds.values()))) if same else ",".join(f"{n}={k}" for n, k in seeds.items()))]
    if set(seeds) != set(GRIDS):
        parts.append("--grids " + ",".join(seeds))
    if seconds != 60:
        parts.append(f"--seconds {seconds:g}")
    if "scaling" in runs and set(runs["scaling"]["method"]) - SCALING_DEFAULT:
        parts.append("--scaling-methods all")
    return " ".join(parts)


def run_grid(name: str, stores: Path, *, seeds: int, seconds: float, workers: int | None) -> None:
    import comparator

    spec = GRIDS[name]
    store = stores / f"{name}.sqlite"
    log = stores / f"{name}.log.json"
    start, t0 = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    before = _stored(store)
    print(f"[{name}] {before} runs stored; running the rest", flush=True)

    def progress(done, total, row):
        if row:
            print(f"[{name}] {done}/{total} {row.get('task')} {row.get('route')}:{row.get('method')} "
                  f"{row.get('status')} {row.get('seconds', 0):.1f}s", flush=True)

    comparator.compare(spec["tasks"], extractors=spec["extractors"], synthesizers=spec["synthesizers"],
                       seconds=seconds, seeds=seeds, examples=spec["examples"], store=store, workers=workers,
                       progress=progress, comparison=name)
    entry = {"started": start.isoformat(timespec="seconds"), "wall_seconds": time.perf_counter() - t0,
             "runs_before": before, "runs_after": _stored(store), "seeds": seeds, "cpus": os.cpu_count(),
             "workers": workers or os.cpu_count()}
    history = json.loads(log.read_text()) if log.exists() else []
    log.write_text(json.dumps(history + [entry], indent=1))


def _stored(store: Path) -> int:
    import comparator

    if not store.exists():
        return 0
    with comparator.Store(store) as db:
        return len(db)


# --- the page -------------------------------------------------------------------------------------------


def write_page(stores: Path, out: Path, *, seconds: float, from_csv: bool = False) -> Path:
    import comparator
    from comparator.report import headline_runs, write_report

    figures = out / "results"
    figures.mkdir(parents=True, exist_ok=True)
    runs, exported = {}, set()
    for name in GRIDS:
        store = stores / f"{name}.sqlite"
        if store.exists():
            with comparator.Store(store) as db:
                frame = db.runs()
            if len(frame):
                runs[name] = frame
        elif from_csv and (figures / f"{name}-runs.csv").exists():
            runs[name] = _exported_runs(figures / f"{name}-runs.csv")
            exported.add(name)
    command = page_command(runs, seconds)
    for name, frame in runs.items():
        write_report(frame, figures / name, title=f"tractbench results: {name} grid", command=command)
        if name not in exported:  # a grid read from its export is not written back over it
            frame.drop(columns=[c for c in ("phases",) if c in frame]).to_csv(figures / f"{name}-runs.csv", index=False)
    if "standard" not in runs:
        raise SystemExit("no standard-grid runs stored yet: run this script without --report-only first")
    std = headline_runs(runs["standard"])
    parts = [_header(runs, command, seconds)]
    parts.append(_answer(std))
    parts.append(_counts(std))
    parts.append(_cactus())
    if "scaling" in runs:
        parts.append(_scaling(headline_runs(runs["scaling"])))
    if "samples" in runs:
        parts.append(_samples(runs["samples"]))
    parts.append(_costs(runs))
    parts.append(_discussion(std))
    commentary = ROOT / "docs" / "results-commentary.md"
    if commentary.exists():
        parts.append(commentary.read_text(encoding="utf-8"))
    parts.append(_per_task(std))
    page = out / "results.md"
    page.write_text("\n\n".join(p.strip("\n") for p in parts if p) + "\n", encoding="utf-8")
    print(f"wrote {page}")
    return page


def _exported_runs(path: Path):
    """A grid's runs as ``write_page`` exported them (CSV, structured columns written as Python literals),
    read back as a store reads its rows; columns the export lacks (phase timings, columns added since) are
    empty. Literals are read with ``ast.literal_eval``, which builds only plain data."""
    import ast

    import pandas as pd

    from comparator.store import COLUMNS

    frame = pd.read_csv(path)
    for name, kind in COLUMNS.items():
        if name not in frame:
            frame[name] = None
        elif kind == "json":
            frame[name] = [ast.literal_eval(v) if isinstance(v, str) else None for v in frame[name]]
        elif kind == "bool":
            frame[name] = frame[name].map(lambda v: None if pd.isna(v) else bool(v))
    return frame[list(COLUMNS)]


def _header(runs: dict, command: str, seconds: float) -> str:
    lines = ["# Results: extraction against direct synthesis", "",
             "Reproduce everything on this page (runs, figures, tables) with:", "", "```sh", command, "```", ""]
    lines.append("| grid | tasks | methods | seeds | runs | busy wall time | machine |")
    lines.append("|---|---|---|---|---|---|---|")
    for name, frame in runs.items():
        methods = sorted({f"{r}:{m}" for r, m in frame[["route", "method"]].itertuples(index=False)})
        seeds = sorted(int(s) for s in frame["seed"].unique())
        hosts = sorted({str(h) for h in frame.get("host", pd.Series(dtype=str)).dropna().unique()})
        lines.append(f"| {name} | {frame['task'].nunique()} | {len(methods)} | {', '.join(map(str, seeds))} | "
                     f"{len(frame)} | {_minutes(busy_seconds(frame))} | {os.cpu_count()} cores"
                     f"{' (' + ', '.join(hosts) + ')' if hosts else ''} |")
    commits = sorted({str(c)[:7] for f in runs.values() for c in f.get("commit", pd.Series(dtype=str)).dropna()
                      if str(c)})
    lines += ["", f"Each run: {seconds:g} s of wall clock (extraction's includes training), one CPU thread, 4 GiB, "
              "its own process, two runs at a time; every returned program verified against the whole domain "
              "(or proved for every length) by `task.verify`. Busy wall time is the time during which at least "
              "one run of the grid was in progress (from the stored start and end of each run), so a grid "
              f"resumed across sessions is not charged its pauses. Code: {', '.join(f'`{c}`' for c in commits)}; "
              f"page written {dt.date.today().isoformat()} on {platform.processor() or platform.machine()}."]
    return "\n".join(lines)


def busy_seconds(frame: pd.DataFrame) -> float:
    """Seconds during which at least one run was in progress (the union of the runs' [start, end] spans)."""
    spans = sorted((pd.Timestamp(s).timestamp(), pd.Timestamp(e).timestamp())
                   for s, e in zip(frame["started_at"], frame["finished_at"]))
    total, end = 0.0, -np.inf
    for s, e in spans:
        if s > end:
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total


def _answer(std: pd.DataFrame) -> str:
    from comparator import analysis

    verdicts = analysis.verdicts(std)
    pooled = verdicts[-1]
    lines = ["## The answer (standard suite)", "", f"**Pooled: {pooled.winner}.** {pooled.sentence}", "",
             "| scope | tasks | extraction right (95% CI) | synthesis right (95% CI) | wrong e/s | e better / s better | "
             "p (Holm) | cost ratio e/s (95% CI), tasks | verdict |", "|---|---|---|---|---|---|---|---|---|"]
    for v in verdicts:
        ratio = (f"{v.ratio:.2f} ({v.ratio_lo:.2f}–{v.ratio_hi:.2f}), {v.both_solved}" if v.both_solved else "—")
        lines.append(f"| {v.scope} | {v.n_tasks} | {v.solved_extraction} ({_pct(v.interval_extraction)}) | "
                     f"{v.solved_synthesis} ({_pct(v.interval_synthesis)}) | {v.wrong_extraction}/{v.wrong_synthesis} | "
                     f"{v.b} / {v.c} | {v.p_holm:.3g} | {ratio} | **{v.winner}** |")
    lines += ["", "A task counts as solved by a method when more than half of its seeds returned a program that "
              "`task.verify` proved right; a route's outcome on a task is its virtual best over its methods: right "
              "(for extraction: also the network's mechanism, F1 = 1, F2 and F3 ≥ 0.99 where measured) > no "
              "program > wrong. *e better / s better* count the tasks where one route's outcome beats the "
              "other's; p is the exact two-sided sign test on them, Holm-adjusted across the five families; with "
              "no significant difference the cost ratio (geometric mean of PAR-2 seconds over tasks both get "
              "right, paired bootstrap interval) decides. A wrong program weighs as one task done worse."]
    return "\n".join(lines)


def _counts(std: pd.DataFrame) -> str:
    from comparator import analysis

    summary = analysis.summary(std)
    per_method = analysis.method_outcomes(std)
    per_route = analysis.task_outcomes(std)
    n = std["task"].nunique()
    lines = ["## Solved counts per route and method (standard suite)", "",
             "| route | method | solved | 95% CI | wrong | right program, not the mechanism | mean PAR-2 s |",
             "|---|---|---|---|---|---|---|"]
    for row in summary.itertuples(index=False):
        name = f"**{row.method}**" if row.method in (analysis.VIRTUAL_BEST, analysis.PORTFOLIO) else row.method
        lines.append(f"| {row.route} | {name} | {row.solved}/{row.tasks} | {row.rate_lo:.0%}–{row.rate_hi:.0%} | "
                     f"{row.wrong} | {row.not_mechanism if row.route == 'extraction' else '—'} | {row.par2:.1f} |")
    solved_e = set(per_route[(per_route.route == "extraction") & per_route.solved].task)
    counted_e = set(per_route[(per_route.route == "extraction") & per_route.solved & per_route.mechanism_ok].task)
    solved_s = set(per_route[(per_route.route == "synthesis") & per_route.solved].task)
    rpni = set(per_method[(per_method.method == "rpni") & per_method.solved].task)
    direct = set(per_method[(per_method.route == "synthesis") & (per_method.method != "rpni") & per_method.solved].task)
    both = solved_e | solved_s
    lines += ["", f"- **Extraction alone** solves {len(solved_e)} of {n} tasks ({len(solved_e) / n:.0%}), "
              f"{len(counted_e)} of them as the network's own mechanism; MIPS extracted {MIPS['extraction']} of its "
              f"{MIPS['tasks']} ({MIPS['extraction'] / MIPS['tasks']:.0%}).",
              f"- **Direct synthesis alone** solves {len(solved_s)} ({len(solved_s) / n:.0%}); our methods other than "
              f"RPNI {len(direct)}, RPNI {len(rpni)}. RPNI with library defaults solved {MIPS['rpni']} of MIPS's "
              f"{MIPS['tasks']} ({MIPS['rpni'] / MIPS['tasks']:.0%}).",
              f"- **The virtual best of both routes** solves {len(both)} of {n} ({len(both) / n:.0%}); "
              f"MIPS and RPNI together {MIPS['both']} of {MIPS['tasks']} ({MIPS['both'] / MIPS['tasks']:.0%}).",
              "", "The suites differ (ours has 54 tasks in five families, MIPS's 62 are all sequence tasks), so the "
              "comparison is of rates, not counts."]
    return "\n".join(lines)


def _cactus() -> str:
    return "\n".join(["## Cactus plot (standard suite)", "",
                      "![cactus](results/standard/cactus.png)", "",
                      "Tasks solved (x) within a time (y) by each method and by each route's virtual best (thick); "
                      "the full per-grid report, with per-task programs and faithfulness tables, is "
                      "[results/standard/report.md](results/standard/report.md)."])


def _scaling(scal: pd.DataFrame) -> str:
    from comparator import analysis

    growth = analysis.growth(scal)
    crossings = analysis.crossover(growth)
    methods = ", ".join(f"`{m}`" for m in sorted(scal["method"].unique()))
    lines = ["## Scaling (scaling suite)", "", "![scaling](results/scaling/scaling.png)", "",
             f"Methods: {methods}. Per family and route, the route's best solved seconds per (task, seed) against the task's difficulty, "
             "right-censored at the budget where the route failed (Tobit fits). Exponent: the slope of log "
             "seconds against log difficulty (cost ∝ difficulty^exponent); rate: against difficulty "
             "(cost ∝ e^(rate·difficulty)); intervals are 95%.", "",
             "| family | route | points (censored) | difficulties | exponent (95% CI) | rate (95% CI) | better model |",
             "|---|---|---|---|---|---|---|"]
    for row in growth.itertuples(index=False):
        if row.reason:
            fit = f"no fit: {row.reason}"
            lines.append(f"| {row.family} | {row.route} | {row.n} ({row.n_censored}) | {row.d_min:g}–{row.d_max:g} | "
                         f"{fit} | | |")
            continue
        lines.append(f"| {row.family} | {row.route} | {row.n} ({row.n_censored}) | {row.d_min:g}–{row.d_max:g} | "
                     f"{row.poly_slope:.2f} ({row.poly_slope_lo:.2f}–{row.poly_slope_hi:.2f}) | "
                     f"{row.exp_slope:.3f} ({row.exp_slope_lo:.3f}–{row.exp_slope_hi:.3f}) | {row.better} |")
    lines += ["", "| family | crossover difficulty | cheaper below it | note |", "|---|---|---|---|"]
    for row in crossings.itertuples(index=False):
        where = (f"{row.crossover:.3g} ({'inside' if row.inside else 'outside'} the range tried)"
                 if np.isfinite(row.crossover) else "—")
        cheaper = row.cheaper_below if isinstance(row.cheaper_below, str) else "—"
        lines.append(f"| {row.family} | {where} | {cheaper} | {row.reason or row.model} |")
    return "\n".join(lines)


def _samples(runs: pd.DataFrame) -> str:
    from comparator import analysis

    table = analysis.sample_complexity(runs)
    lines = ["## Sample complexity", "", "![sample complexity](results/samples/sample_complexity.png)", "",
             f"Ten tasks at {', '.join(f'{f:.0%}' for f in SAMPLE_FRACTIONS)} of their domain as examples (nested "
             "sets: each larger set contains the smaller), `auto` extraction against `enumerative` synthesis. The "
             "fewest examples at which a seed solved the task (a wrong program from too few examples is not "
             "solved); the median over seeds.", "",
             "| task (example counts tried) | extraction: fewest examples (median) | synthesis: fewest examples (median) |",
             "|---|---|---|"]
    tried = runs.groupby("task")["examples"].agg(lambda x: sorted({int(v) for v in x}))
    for task, group in table.groupby("task", sort=True):
        cells = {}
        for row in group.itertuples(index=False):
            if not np.isfinite(row.median_examples):
                cells[row.route] = "not at any count tried"
            elif row.median_examples <= tried[task][0]:
                cells[row.route] = f"≤ {row.median_examples:g} (the fewest tried)"
            else:
                cells[row.route] = f"{row.median_examples:g}"
        counts = ", ".join(str(n) for n in tried[task])
        lines.append(f"| {task} ({counts}) | {cells.get('extraction', '—')} | {cells.get('synthesis', '—')} |")
    return "\n".join(lines)


def grid_costs(frame: pd.DataFrame, workers: int = 2) -> dict:
    """Where a grid's wall time went: busy wall, the runs' own seconds by status and by method, training and
    extraction seconds per family, and the comparator's overhead per run: busy wall x workers minus the
    run processes' spans, over the runs (the idle time of a worker slot between two runs)."""
    wall = busy_seconds(frame)
    own = float(frame["seconds"].sum())
    by_status = frame.groupby("status")["seconds"].agg(["size", "sum"])
    by_method = frame.groupby(["route", "method"]).agg(runs=("seconds", "size"), seconds=("seconds", "sum"),
                                                       timeouts=("status", lambda x: int((x == "timeout").sum())),
                                                       solved=("status", lambda x: int((x == "solved").sum())))
    ext = frame[frame["route"] == "extraction"]
    trained = ext[pd.to_numeric(ext.get("train_seconds"), errors="coerce").notna()]
    fam = {}
    for family, g in trained.groupby("family"):
        fam[family] = {"runs": len(g), "train_median": float(g["train_seconds"].median()),
                       "train_max": float(g["train_seconds"].max()),
                       "extract_median": float(pd.to_numeric(g.get("extract_seconds"), errors="coerce").median())}
    spans = [(pd.Timestamp(e) - pd.Timestamp(b)).total_seconds() for b, e in zip(frame["started_at"],
                                                                              frame["finished_at"])]
    process = float(np.sum(spans))  # each run's process from start to outcome (timestamps to the second)
    return {"runs": len(frame), "busy_wall": wall, "own_seconds": own, "process_seconds": process,
            "between_runs_per_run": (wall * workers - process) / max(1, len(frame)),
            "by_status": {k: {"runs": int(v["size"]), "seconds": float(v["sum"])} for k, v in by_status.iterrows()},
            "by_method": {f"{r}:{m}": {k: float(v) for k, v in row.items()} for (r, m), row in by_method.iterrows()},
            "families": fam}


def _costs(runs: dict) -> str:
    lines = ["## Where the time went", "",
             "Per grid: busy wall time; the runs' own seconds as charged (a timeout counts its budget; a run that "
             "loaded its network from the training cache is charged the recorded training seconds it did not "
             "spend again); and the comparator's overhead per run: the time a worker slot stood idle between two "
             "runs (busy wall × 2 workers − each run process's span from start to outcome, from the stored "
             "timestamps, to the second; a killed timeout's 5 s of grace is inside its span).", "",
             "| grid | runs | busy wall | runs' own seconds | in timeouts | idle between runs, per run |",
             "|---|---|---|---|---|---|"]
    costs = {name: grid_costs(frame) for name, frame in runs.items()}
    for name, c in costs.items():
        t = c["by_status"].get("timeout", {"runs": 0, "seconds": 0.0})
        lines.append(f"| {name} | {c['runs']} | {_minutes(c['busy_wall'])} | {c['own_seconds'] / 60:.0f} min | "
                     f"{t['runs']} runs, {t['seconds'] / 60:.0f} min ({t['seconds'] / max(c['own_seconds'], 1e-9):.0%}) | "
                     f"{c['between_runs_per_run']:.2f} s |")
    std = costs.get("standard")
    if std:
        lines += ["", "Standard grid, per method (all seeds):", "",
                  "| method | runs | solved | timeouts | seconds spent | share of the grid |", "|---|---|---|---|---|---|"]
        for name, m in sorted(std["by_method"].items(), key=lambda kv: -kv[1]["seconds"]):
            lines.append(f"| {name} | {m['runs']:.0f} | {m['solved']:.0f} | {m['timeouts']:.0f} | {m['seconds'] / 60:.1f} min | "
                         f"{m['seconds'] / max(std['own_seconds'], 1e-9):.0%} |")
        lines += ["", "Training and reading per family (extraction runs that had a network; the recorded training "
                  "seconds, which a run that loaded a cached network is charged too):", "",
                  "| family | runs | training s (median, max) | extraction s after training (median) |", "|---|---|---|---|"]
        for family, f in sorted(std["families"].items()):
            lines.append(f"| {family} | {f['runs']} | {f['train_median']:.2f}, {f['train_max']:.1f} | {f['extract_median']:.2f} |")
    out = ROOT / "bench" / "results" / "grid-costs.json"
    out.write_text(json.dumps(costs, indent=1, default=float))
    return "\n".join(lines)


def _discussion(std: pd.DataFrame) -> str:
    from comparator import analysis
    from comparator.analysis import CONTROLS

    per_route = analysis.task_outcomes(std)
    per_method = analysis.method_outcomes(std)
    e = per_route[per_route.route == "extraction"].set_index("task")
    s = per_route[per_route.route == "synthesis"].set_index("task")
    tasks = sorted(e.index)
    only_e = [t for t in tasks if e.at[t, "solved"] and e.at[t, "mechanism_ok"] and not s.at[t, "solved"]]
    only_s = [t for t in tasks if s.at[t, "solved"] and not (e.at[t, "solved"] and e.at[t, "mechanism_ok"])]
    both = [t for t in tasks if s.at[t, "solved"] and e.at[t, "solved"] and e.at[t, "mechanism_ok"]]
    cheaper_s = [t for t in both if s.at[t, "cost"] < e.at[t, "cost"]]
    not_mech = [t for t in tasks if e.at[t, "solved"] and not e.at[t, "mechanism_ok"]]
    unsolved = [t for t in tasks if not e.at[t, "solved"] and not s.at[t, "solved"]]
    lines = ["## What the runs say (generated from the runs)", ""]
    lines.append(f"**Extraction solved, synthesis did not ({len(only_e)}):** "
                 + (", ".join(f"`{t}` ({e.at[t, 'method']}, {_sec(e.at[t, 'cost'])})" for t in only_e) or "none") + ".")
    lines.append("")
    lines.append(f"**Synthesis solved, extraction did not count ({len(only_s)}):** "
                 + (", ".join(f"`{t}` ({s.at[t, 'method']}, {_sec(s.at[t, 'cost'])})" for t in only_s) or "none") + ".")
    lines.append("")
    if both:
        ratios = np.array([e.at[t, "cost"] / max(s.at[t, "cost"], 1e-6) for t in both])
        lines.append(f"**Both solved ({len(both)}):** synthesis was cheaper on {len(cheaper_s)} of them; the median "
                     f"ratio extraction/synthesis is {np.median(ratios):.1f} (range {ratios.min():.2g}–{ratios.max():.3g}). "
                     "Extraction was cheaper on: "
                     + (", ".join(f"`{t}` ({e.at[t, 'method']} {_sec(e.at[t, 'cost'])} vs {s.at[t, 'method']} "
                                  f"{_sec(s.at[t, 'cost'])})" for t in both if t not in cheaper_s) or "none") + ".")
        lines.append("")
    lines.append(f"**Right program, not the network's mechanism (F2/F3 below 0.99) ({len(not_mech)}):**")
    rows = std[(std.route == "extraction") & std.status.eq("solved") & std.task.isin(not_mech)]
    for t in not_mech:
        r = rows[rows.task == t]
        parts = []
        for m, g in r.groupby("method"):
            if ("extraction", m) in CONTROLS:
                continue
            f1 = pd.to_numeric(g.get("agreement"), errors="coerce").min()
            f2 = pd.to_numeric(g.get("interchange"), errors="coerce").min()
            f3 = pd.to_numeric(g.get("splice"), errors="coerce").min()
            parts.append((f"{m}: F1 {f1:.5f}, " if f1 < 1 else f"{m}: ") + f"F2 {_f(f2)}, F3 {_f(f3)}")
        lines.append(f"- `{t}`: " + "; ".join(parts))
    if not not_mech:
        lines.append("- none")
    lines.append("")
    wrong = per_method[per_method.wrong]
    lines.append("**Wrong programs** (a method returned a program the verifier refuted, on some seed): "
                 + (", ".join(f"`{r.task}` ({r.route}:{r.method})" for r in wrong.itertuples(index=False)) or "none")
                 + ".")
    lines.append("")
    lines.append(f"**No route solved ({len(unsolved)}):**")
    for t in unsolved:
        runs = std[std.task == t]
        outcome = ", ".join(f"{m} {st}" for (m, st) in
                            runs.groupby("method")["status"].agg(lambda x: x.mode().iloc[0]).items()
                            if st != "abstained" or m in ("auto", "enumerative"))
        lines.append(f"- `{t}` ({runs.family.iloc[0]}): {outcome}")
    if not unsolved:
        lines.append("- none")
    return "\n".join(lines)


def _per_task(std: pd.DataFrame) -> str:
    from comparator import analysis

    per_method = analysis.method_outcomes(std)
    methods = [(r, m) for r, m in per_method[["route", "method"]].drop_duplicates().itertuples(index=False)]
    methods.sort(key=lambda rm: (rm[0], rm[1]))
    lines = ["## Every task and method (standard suite)", "",
             "Solved seeds / seeds, and the median seconds over solved seeds; ✗ wrong program on some seed; "
             "· not solved; (nm) solved but not the network's mechanism.", "",
             "| task | family | " + " | ".join(f"{m[:4]}" if r == 'extraction' else f"*{m[:5]}*" for r, m in methods) + " |",
             "|---|---|" + "---|" * len(methods)]
    for task, group in per_method.groupby("task", sort=True):
        cells = []
        for r, m in methods:
            row = group[(group.route == r) & (group.method == m)]
            if row.empty:
                cells.append("")
                continue
            row = row.iloc[0]
            runs = std[(std.task == task) & (std.route == r) & (std.method == m) & std.status.eq("solved")]
            if row.solved_seeds:
                cell = f"{row.solved_seeds}/{row.seeds} {_sec(runs.seconds.median())}"
                if r == "extraction" and not row.mechanism_ok:
                    cell += " (nm)"
            else:
                cell = "·"
            if row.wrong:
                cell += " ✗"
            cells.append(cell)
        lines.append(f"| `{task}` | {group.family.iloc[0]} | " + " | ".join(cells) + " |")
    lines += ["", "Columns: extraction methods in roman (auto, blac[kbox], bool[ean], four[ier], fsm, line[ar], "
              "lsta[r]), synthesis methods in italics (cvc5, enume[rative], logic, rpni, smt, stoch[astic])."]
    return "\n".join(lines)


def _pct(interval) -> str:
    return f"{interval[0]:.0%}–{interval[1]:.0%}"


def _sec(x: float) -> str:
    return f"{x:.2g} s" if x < 10 else f"{x:.0f} s"


def _f(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.2f}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 600 else f"{seconds / 60:.1f} min"


if __name__ == "__main__":
    main()
