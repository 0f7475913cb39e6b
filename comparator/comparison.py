"""``compare``: the grid tasks x methods x seeds x example sets, each run in its own process on an equal
budget, verified here, streamed to the store, and analysed into a verdict."""
from __future__ import annotations

import datetime as _dt
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Sequence, get_args

import pandas as pd

from .executor import Job, Outcome, get_executor
from .plugins import by_value, plugin_names
from .store import Store, git_commit, package_version, run_key

RunStatus = Literal["solved", "wrong", "timeout", "memout", "abstained", "error"]
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
# A route's claim, when it returned no program (or a program that does not count), as a run's status: the one
# place the routes' vocabularies (``synthesis.solve.SynthesisStatus``, ``extraction.extract.ExtractionStatus``)
# meet the comparator's. A program that counts is verified instead ("solved" or "wrong"); a reading an
# extractor disowns (partial, unfaithful, or no smaller than a table) is the route's abstention.
CLAIM_STATUS: dict[str, RunStatus] = {
    "solved": "error",  # a claim of success without a program
    "exhausted": "abstained", "abstained": "abstained", "partial": "abstained", "unfaithful": "abstained",
    "table": "abstained", "timeout": "timeout", "error": "error",
}
# Claims whose program is not an answer of the route (it is not verified, so it is never "wrong").
DISOWNED = ("table",)
# Claims of a reading its extractor returns but disowns (F1 < 1): verified, so the report can say whether the
# route's own check prevented a wrong program or threw a right one away; never counted as the route's answer.
SELF_CHECKED = ("partial", "unfaithful")
DEFAULT_MEMORY_MB = 4096


class CompareError(ValueError):
    """A comparison that cannot run as asked; the message says what to change."""


@dataclass(frozen=True)
class Cell:
    """One run of the grid, before it runs."""

    task: Any
    route: str
    method: str
    seed: int
    examples: Any  # "default", an int count, or a float fraction
    seconds: float
    memory_mb: int
    options: dict = field(default_factory=dict)

    @property
    def config(self) -> dict[str, Any]:
        return {"task": self.task.name, "params": dict(self.task.params), "route": self.route, "method": self.method,
                "method_args": dict(self.options), "seed": self.seed, "examples_spec": str(self.examples),
                "budget": float(self.seconds), "memory_mb": int(self.memory_mb)}

    @property
    def key(self) -> str:
        return run_key(self.config)

    @property
    def group(self) -> tuple[str, int, str]:
        """The runs that share one problem: same task, seed and example set."""
        return (self.task.name, self.seed, str(self.examples))


class Comparison:
    """The runs of one comparison grid (read back from the store), with its analysis and report."""

    def __init__(self, runs: pd.DataFrame, *, seed: int = 0, command: str | None = None, wall_seconds: float | None = None):
        self.runs = runs
        self.seed = seed
        self.command = command
        self.wall_seconds = wall_seconds
        self._verdicts = None

    @property
    def verdicts(self):
        """One ``Verdict`` per family, then the pooled one."""
        if self._verdicts is None:
            from .analysis import verdicts
            from .report import headline_runs

            self._verdicts = verdicts(headline_runs(self.runs), seed=self.seed)
        return self._verdicts

    @property
    def verdict(self):
        """The pooled verdict (``.winner`` is "extraction", "synthesis", "equivalent" or "inconclusive")."""
        return self.verdicts[-1]

    def report(self, path: str | Path = "report", *, title: str = "tractbench comparison") -> Path:
        """Write ``path/report.md`` with its figures; returns the report's path."""
        from .report import write_report

        return write_report(self.runs, path, title=title, seed=self.seed, command=self.command)

    def __repr__(self) -> str:
        return f"Comparison({len(self.runs)} runs, verdict={self.verdict.winner!r})"


def _tasks(tasks) -> list:
    import toy_tasks

    if isinstance(tasks, str):
        if tasks in ("quick", "standard", "scaling"):
            return toy_tasks.suite(tasks)
        tasks = [tasks]
    out = []
    for t in tasks:
        if isinstance(t, str):
            name, _, rest = t.partition("[")
            params = {}
            for kv in filter(None, rest.rstrip("]").split(",")):
                k, _, v = kv.partition("=")
                params[k.strip()] = int(v) if v.strip().lstrip("-").isdigit() else v.strip()
            out.append(toy_tasks.get(name, **params))
        else:
            out.append(t)
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise CompareError(f"tasks appear twice: {sorted({n for n in names if names.count(n) > 1})}")
    if not out:
        raise CompareError("no tasks to compare; pass task names, Task objects or a suite name")
    return out


def _examples(examples) -> list:
    if examples is None:
        return ["default"]
    if isinstance(examples, (list, tuple)):
        specs = [_examples(e)[0] for e in examples]
        if not specs:
            raise CompareError("examples is an empty list; give counts, fractions or None")
        return specs
    if isinstance(examples, bool):
        raise CompareError("examples must be a count, a fraction in (0, 1], a list of those, or None")
    if isinstance(examples, float):
        if not 0 < examples <= 1:
            raise CompareError(f"an examples fraction must lie in (0, 1], got {examples}")
        return [examples]
    if isinstance(examples, int):
        if examples < 1:
            raise CompareError(f"an examples count must be positive, got {examples}")
        return [examples]
    if isinstance(examples, str) and examples == "default":
        return ["default"]
    raise CompareError(f"examples must be a count, a fraction in (0, 1], a list of those, or None; got {examples!r}")


def _methods(names: Sequence, known: list[str], route: str) -> list[tuple[str, dict]]:
    out = []
    for m in ([names] if isinstance(names, str) else names):
        if isinstance(m, str) and m == "all":  # every registered method of the route, plugins' included
            out.extend((name, {}) for name in known if name not in {n for n, _ in out})
            continue
        name, opts = (m, {}) if isinstance(m, str) else (m[0], dict(m[1]))
        if name not in known:
            raise CompareError(f"unknown {route} method {name!r}; the methods are {', '.join(known)}")
        out.append((name, opts))
    return out


def grid(tasks, *, extractors=("auto",), synthesizers=("enumerative",), seconds=60.0, seeds=1, examples=None,
         memory_mb: int = DEFAULT_MEMORY_MB) -> list[Cell]:
    """Every run of a comparison, in a stable order."""
    import extraction
    import synthesis

    if not (isinstance(seconds, (int, float)) and seconds > 0):
        raise CompareError(f"seconds must be positive, got {seconds!r}")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise CompareError("no seeds: pass a positive count or a list of seeds")
    methods = [("extraction", m, o) for m, o in _methods(extractors, extraction.names(), "extraction")]
    methods += [("synthesis", m, o) for m, o in _methods(synthesizers, synthesis.names(), "synthesis")]
    cells = []
    for task in _tasks(tasks):
        for spec in _examples(examples):
            for seed in seed_list:
                for route, m, opts in methods:
                    cells.append(Cell(task, route, m, seed, spec, float(seconds), int(memory_mb), opts))
    return cells


def compare(tasks, *, extractors=("auto",), synthesizers=("enumerative",), seconds: float = 60.0, seeds=1,
            examples=None, store: str | Path | Store | None = "tractbench.sqlite", executor: str = "local",
            workers: int | None = None, memory_mb: int = DEFAULT_MEMORY_MB, comparison: str = "",
            progress: Callable[[int, int, dict], None] | None = None, command: str | None = None,
            executor_options: dict | None = None, plugins: Sequence[Any] = (),
            train_cache: str | Path | None = "auto") -> Comparison:
    """Run both routes on ``tasks`` with equal budgets and return the verified, analysed comparison.

    Each (task, seed, example set) gives both routes the same examples; each run gets ``seconds`` of wall
    clock (extraction's includes training), one CPU thread and ``memory_mb``, in its own process, killed
    at the limit. Runs already in ``store`` are not rerun: an interrupted comparison resumes where it
    stopped. Correctness is decided here, by ``task.verify``, never by a method's claim.

    Each run's worker receives the run's ``toy_tasks.Problem`` and settings as plain data, never a task, so
    tasks made from lambdas or closures run anywhere, and no worker re-imports the caller's main module: no
    ``if __name__ == "__main__":`` guard is needed.

    ``plugins`` (module names or module objects) are imported here and in every worker before running:
    methods of your own registered with ``@synthesizer`` or ``@extractor``. Methods registered where a worker
    cannot import them (the caller's script or notebook) are sent to the workers by value, plugins or not.

    ``train_cache`` (a folder every worker can read and write) lets extraction runs that would train the
    same network train it once: each later run loads it and is charged the recorded training seconds
    (see `runner.run_route`), so the rows are what they would have been, in less wall time. "auto" (the
    default) keeps the networks in a folder beside a store file (``STORE.networks``); None trains every
    run's network afresh.
    """
    run = get_executor(executor)
    plugins = plugin_names(plugins)  # imported here too, so their methods are known to the grid
    owned = not isinstance(store, Store)
    db = Store(":memory:" if store is None else store) if owned else store  # a bad store file is refused first
    if isinstance(train_cache, str) and train_cache == "auto":
        train_cache = None if db.path == ":memory:" else db.path + ".networks"
    start = time.perf_counter()
    try:
        cells = grid(tasks, extractors=extractors, synthesizers=synthesizers, seconds=seconds, seeds=seeds,
                     examples=examples, memory_mb=memory_mb)
        by_key = {c.key: c for c in cells}
        todo = schedule(db.missing(list(by_key)), by_key, workers)
        finished = len(cells) - len(todo)
        version, commit = package_version(), git_commit()
        problems = {}  # one problem per (task, seed, example set): both routes' runs get the same one
        for k in todo:
            cell = by_key[k]
            if cell.group not in problems:
                problems[cell.group] = cell.task.problem(cell.examples, seed=cell.seed)
        shipped = by_value({(c.route, c.method) for c in (by_key[k] for k in todo)})

        def land(outcome: Outcome) -> None:
            nonlocal finished
            cell = by_key[outcome.key]
            row = record(cell, outcome, problems[cell.group], version=version, commit=commit, comparison=comparison)
            db.add(row)
            finished += 1
            if progress is not None:
                progress(finished, len(cells), row)

        if progress is not None:
            progress(finished, len(cells), {})
        jobs = [Job(k, "comparator.runner:run_route",
                    {"problem": problems[by_key[k].group], "route": by_key[k].route, "method": by_key[k].method,
                     "seed": by_key[k].seed, "seconds": by_key[k].seconds, "options": by_key[k].options,
                     "plugins": plugins, "methods": shipped,
                     "train_cache": None if train_cache is None else str(Path(train_cache).resolve())},
                    by_key[k].seconds, by_key[k].memory_mb) for k in todo]
        if jobs:
            options = dict(executor_options or {})
            if executor in ("local", "ray"):
                # Each run's process is forked from a server that has the routes' libraries loaded already.
                # A Ray worker's server outlives this comparison (the first preload list wins), so there it
                # always holds both routes'.
                extracting = executor == "ray" or any(c.route == "extraction" for c in cells)
                options.setdefault("preload", ["comparator._preload", *(["comparator._preload_extraction"] if extracting
                                                                       else []), *plugins])
            run(jobs, workers=workers, on_outcome=land, **options)
        frame = db.runs()
        frame = frame[frame["key"].isin(set(by_key))].reset_index(drop=True)
    finally:
        if owned:
            db.close()
    return Comparison(frame, command=command, wall_seconds=time.perf_counter() - start)


def schedule(keys: list[str], cells: dict[str, Cell], workers: int | None) -> list[str]:
    """The order to hand runs to the executor: the grid's, except that within each block of a few (task,
    seed, example set) groups the groups' first runs go before their second runs, and so on. Runs start
    in this order on parallel workers, so the extraction runs that share one trained network (see
    ``train_cache``) then start after the run that trains it has had time to, instead of beside it."""
    groups: dict[tuple, list[str]] = {}
    for k in keys:
        groups.setdefault(cells[k].group, []).append(k)
    order = list(groups.values())
    block = 2 * max(2, workers or os.cpu_count() or 2)
    out: list[str] = []
    for i in range(0, len(order), block):
        chunk = order[i:i + block]
        for rank in range(max(len(g) for g in chunk)):
            out.extend(g[rank] for g in chunk if rank < len(g))
    return out


def record(cell: Cell, outcome: Outcome, problem, *, version: str, commit: str, comparison: str = "") -> dict[str, Any]:
    """The store row of one finished run (on ``problem``): its configuration, what came back, and the verdict
    on it."""
    task = cell.task
    now = _dt.datetime.now(_dt.timezone.utc)
    row: dict[str, Any] = {
        **cell.config, "key": cell.key, "comparison": comparison, "family": task.family,
        "difficulty": float(task.difficulty), "version": version, "commit": commit,
        "finished_at": now.isoformat(timespec="seconds"),
        "started_at": (now - _dt.timedelta(seconds=outcome.seconds)).isoformat(timespec="seconds"),
        "correct": False, "reasons": [], "examples": problem.size,
    }
    if outcome.status != "ok":
        # A run killed at its limit is charged its budget, not the grace it was given before the kill.
        row.update(status=outcome.status, seconds=cell.seconds if outcome.status == "timeout" else outcome.seconds,
                   reasons=[outcome.detail] if outcome.detail else [])
        return row
    value = dict(outcome.value)
    claim = value.pop("claim")
    value.pop("submethod", None)
    rejected = value.pop("rejected", None)
    for k in ("examples", "host", "program", "candidates", "reasons", "train_seconds", "extract_seconds",
              "train_accuracy", "agreement", "interchange", "splice", "interchange_distributed", "control_untrained",
              "control_rewritten", "seconds", "cpu_seconds",
              "phases"):
        if k in value:
            row[k] = value[k]
    row["status"], row["verification"] = judge(task, claim, value.get("program"), cell.route, cell.seconds, row)
    row["correct"] = row["status"] == "solved"
    if claim in SELF_CHECKED and row["status"] in ("solved", "wrong"):  # a reading its extractor disowns (F1 < 1)
        row.update(self_check="agreement", self_check_right=row["status"] == "solved")
    elif rejected is not None and row["status"] == "abstained":  # a program its synthesizer's check turned away
        row.update(self_check="validation", self_check_right=_verified_right(task, rejected, cell.seconds, row))
    return row


def _verified_right(task, program: str, budget: float, row: dict) -> bool | None:
    """Is a program a route turned away right on the task? None if that cannot be decided."""
    from programs import parse

    try:
        return task.verify(parse(program), seconds=max(30.0, budget)).equal
    except Exception as err:  # a program the task cannot take: the check was right to turn it away
        row["reasons"] = list(row.get("reasons") or []) + [f"the program turned away could not be verified: {err}"]
        return None


def judge(task, claim: str, program: str | None, route: str, budget: float, row: dict) -> tuple[RunStatus, str]:
    """The run's status from what came back: a returned program is verified against the task here.

    A program returned after the budget (the run's own clock, training included) is a timeout: every run
    gets the same seconds, and the grace before the hard kill is for process start-up, not for work."""
    reasons = list(row.get("reasons") or [])
    spent = row.get("seconds") or 0.0
    if program is not None and claim not in DISOWNED:
        if spent > budget:
            row["reasons"] = reasons + [f"returned its program after its budget ({spent:.2f} s > {budget:g} s), so it "
                                        "is not counted"]
            return "timeout", ""
        from programs import parse

        try:
            prog = parse(program)
            row["size"] = prog.size
            v = task.verify(prog, seconds=max(30.0, budget))
        except Exception as err:  # a program the task cannot take is the method's error, not ours
            row["reasons"] = reasons + [f"the returned program could not be verified: {err}"]
            return "error", ""
        if v.equal:
            return "solved", v.method
        if v.equal is False:
            return "wrong", v.method
        row["reasons"] = reasons + [f"verification was inconclusive: {v.detail}"]
        return "error", v.method
    if claim == "table":
        row["reasons"] = reasons + ["the program is no smaller than a lookup table of the domain"]
        return "abstained", ""
    if spent >= budget:
        return "timeout", ""
    status = CLAIM_STATUS.get(claim)
    if status is None:
        row["reasons"] = reasons + [f"the route returned an unknown status {claim!r}"]
        return "error", ""
    return status, ""


def runs_of(store: str | Path, comparison: str | None = None) -> pd.DataFrame:
    with Store(store) as db:
        return db.runs(comparison)


