"""The ``tractbench`` command line."""
from __future__ import annotations

import contextlib
import sys
import time

import click
from rich.console import Console
from rich.table import Table

import toy_tasks

console = Console(width=None if sys.stdout.isatty() else 200)


@click.group()
@click.version_option(package_name="tractbench")
def main() -> None:
    """Measure whether extracting a program from a trained network beats synthesizing it directly."""


@main.command()
@click.option("--suite", "suite_name", type=click.Choice(["quick", "standard", "scaling"]), default=None,
              help="List the tasks of one suite (default: every built-in task at its default parameters).")
@click.option("--family", default=None, help="Only tasks of this family.")
@click.option("--verify", is_flag=True, help="Check every reference program against the task's independent Python definition over its domain.")
@click.option("--show", is_flag=True, help="Print each task's reference program.")
def tasks(suite_name: str | None, family: str | None, verify: bool, show: bool) -> None:
    """List built-in tasks with family and difficulty (and verify their reference programs)."""
    try:
        items = toy_tasks.suite(suite_name) if suite_name else [toy_tasks.get(n) for n in toy_tasks.names()]
    except toy_tasks.TaskError as err:
        raise click.ClickException(str(err)) from None
    if family:
        known = sorted({t.family for t in items})
        if family not in known:
            raise click.ClickException(f"no family {family!r}; the families are {', '.join(known)}")
        items = [t for t in items if t.family == family]
    table = Table(title=f"{len(items)} tasks" + (f" in suite {suite_name}" if suite_name else ""))
    for col in ("task", "family", "kind", "inputs", "domain", "difficulty"):
        table.add_column(col, justify="right" if col in ("domain", "difficulty") else "left")
    if verify:
        table.add_column("verified by")
        table.add_column("seconds", justify="right")
    failures = []
    for task in items:
        row = [task.name, task.family, task.kind, task.signature(), f"{task.domain_size:,}", f"{task.difficulty:g}"]
        if verify:
            start = time.perf_counter()
            try:
                with _tabulation_progress(f"tabulating {task.name}") as progress:
                    v = task.check_definition(progress=progress)
                row.append(_describe(v) if v.equal else f"[red]FAILED[/red] on {v.counterexample}: {v.outputs}")
                ok = v.equal
            except toy_tasks.TaskError as err:
                row.append(f"[red]FAILED[/red]: {err}")
                ok = False
            row.append(f"{time.perf_counter() - start:.2f}")
            if not ok:
                failures.append(task.name)
        table.add_row(*row)
    console.print(table)
    if show:
        for task in items:
            console.print(f"[bold]{task.name}[/bold] — {task.description}")
            console.print(str(task.reference))
    if verify:
        if failures:
            console.print(f"[red]{len(failures)} reference program(s) failed: {', '.join(failures)}[/red]")
            sys.exit(1)
        console.print(f"[green]all {len(items)} reference programs verified[/green]")


@contextlib.contextmanager
def _tabulation_progress(description: str):
    """A progress bar while a Python function is tabulated (gone once done); yields its ``progress(done, total)``.
    It refreshes only when told: a refresh thread would keep the tabulation from forking worker processes."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True, auto_refresh=False) as bar:
        job = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(job, completed=done, total=total, refresh=True)


def _describe(v) -> str:
    if v.method == "product-machine":
        return "product machine, all lengths" if v.bound is None else f"product machine, lengths ≤ {v.bound}"
    if v.method == "bounded-z3":
        return f"bounded z3, lengths ≤ {v.bound}"
    if v.method == "sampled":
        return f"sampled ({v.checked:,} inputs)"
    return f"{v.method} ({v.checked:,} inputs)" if v.method == "exhaustive" else v.method


def _task(spec: str):
    from .comparison import CompareError, _tasks

    try:
        return _tasks([spec])[0]
    except (toy_tasks.TaskError, CompareError, TypeError) as err:
        raise click.ClickException(f"{err} (see `tractbench tasks` for names; parameters go in brackets, "
                                   "e.g. modular_addition[p=7])") from None


def _example_set(task, text: str | None, seed: int):
    """The example set `compare` would give both routes (so `synth` and `extract` reproduce its runs)."""
    spec = _examples_option(text)
    if isinstance(spec, list):
        raise click.BadParameter("give one count or fraction here; sweeps are for `compare`", param_hint="--examples")
    try:
        return task.example_set(spec, seed)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--examples") from None


def _examples_option(text: str | None):
    if text is None or text == "default":
        return None
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            out.append(float(part) if "." in part else int(part))
        except ValueError:
            raise click.BadParameter(f"{part!r} is neither a count nor a fraction", param_hint="--examples") from None
    return out if len(out) > 1 else out[0]


@main.command()
@click.argument("task")
@click.option("--method", default="enumerative", show_default=True, help="A synthesis method (see `tractbench synth --list`).")
@click.option("--seconds", default=10.0, show_default=True, type=float)
@click.option("--examples", default=None, help="A count or a fraction of the domain (default: as `compare`, the whole domain up to 4096 inputs).")
@click.option("--seed", default=0, show_default=True, type=int)
def synth(task: str, method: str, seconds: float, examples: str | None, seed: int) -> None:
    """Synthesize a program for TASK directly from examples, and verify it."""
    import synthesis

    t = _task(task)
    try:
        res = synthesis.solve(t, method, examples=_example_set(t, examples, seed), seconds=seconds, seed=seed)
    except synthesis.SynthesisError as err:
        raise click.ClickException(str(err)) from None
    _show_result(t, res.program, res.status, res.seconds, res.reasons, f"{res.candidates:,} candidates")


@main.command()
@click.argument("task")
@click.option("--method", default="auto", show_default=True, help="An extractor: auto, fsm, integer, boolean, linear, fourier, blackbox, lstar, ramanujan.")
@click.option("--arch", default="auto", show_default=True, help="mlp, gru, rnn, transformer or auto.")
@click.option("--seconds", default=60.0, show_default=True, type=float, help="Budget for training plus extraction.")
@click.option("--examples", default=None, help="A count or a fraction of the domain (default: the whole domain up to 4096 inputs).")
@click.option("--seed", default=0, show_default=True, type=int)
def extract(task: str, method: str, arch: str, seconds: float, examples: str | None, seed: int) -> None:
    """Train a network on TASK, read a program out of it, check it in context, and verify it."""
    import extraction

    t = _task(task)
    start = time.perf_counter()
    try:
        trained = extraction.train(t, arch, examples=_example_set(t, examples, seed), seconds=seconds / 2, seed=seed)
        console.print(f"trained {trained.arch} ({trained.params:,} parameters) in {trained.seconds:.2f} s, "
                      f"{trained.steps} steps: train accuracy {trained.train_accuracy:.3f}, domain accuracy "
                      f"{trained.domain_accuracy:.3f} ({trained.status})")
        res = extraction.extract(trained, method, seconds=max(0.1, seconds - (time.perf_counter() - start)), seed=seed)
    except (extraction.TrainingError, extraction.ExtractionError) as err:
        raise click.ClickException(str(err)) from None
    f = res.faithfulness
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"
    _show_result(t, res.program, res.status, res.seconds, res.reasons,
                 f"F1 agreement {fmt(f['agreement'])}, F2 interchange {fmt(f['interchange'])}, F3 splice {fmt(f['splice'])}"
                 + (f" (via {res.details['method']})" if res.details.get("method") else ""))


def _show_result(task, program, status: str, seconds: float, reasons, extra: str) -> None:
    from rich.markup import escape

    console.print(f"[bold]{escape(task.name)}[/bold]: {status} in {seconds:.2f} s; {escape(extra)}")
    for r in reasons:
        console.print(f"  - {escape(r)}")
    if program is not None:
        console.print(escape(str(program)))
        v = task.verify(program)
        verdict = "[green]correct[/green]" if v.equal else "[red]wrong[/red]" if v.equal is False else "[yellow]undecided[/yellow]"
        console.print(f"verified: {verdict} ({_describe(v)})")


@main.command()
@click.option("--suite", "suite_name", type=click.Choice(["quick", "standard", "scaling"]), default=None)
@click.option("--tasks", "task_list", default=None, help="Comma-separated task names, e.g. 'parity[n=4],contains'.")
@click.option("--extractors", default="auto,ramanujan", show_default=True,
              help="Comma-separated extraction methods; 'all' for every one. 'ramanujan' is a control (a subnetwork "
                   "of the untrained network), counted by no route.")
@click.option("--synthesizers", default="enumerative", show_default=True,
              help="Comma-separated synthesis methods; 'all' for every one.")
@click.option("--seconds", default=60.0, show_default=True, type=float, help="Wall-clock budget per run.")
@click.option("--seeds", default=1, show_default=True, type=int)
@click.option("--examples", default=None, help="A count, a fraction, or a comma-separated sweep (e.g. 0.1,0.3,1.0).")
@click.option("--store", default="tractbench.sqlite", show_default=True, help="SQLite store; reruns resume from it.")
@click.option("--executor", default="local", show_default=True)
@click.option("--address", default=None, help="Cluster address for --executor ray.")
@click.option("--workers", default=None, type=int, help="Parallel runs (default: the CPU count).")
@click.option("--memory", "memory_mb", default=4096, show_default=True, type=int, help="Memory cap per run, MiB.")
@click.option("--out", default="report", show_default=True, help="Folder for report.md and its figures.")
@click.option("--plugins", default="", help="Comma-separated modules of your own methods (@synthesizer, "
              "@extractor) to import here and in every worker.")
@click.option("--train-cache", default="auto", show_default=True,
              help="Folder where extraction runs keep trained networks, so runs that would train the same network "
              "train it once (each is still charged its training time); 'auto': STORE.networks beside the store; "
              "'none': train every run's network afresh.")
def compare(suite_name, task_list, extractors, synthesizers, seconds, seeds, examples, store, executor, address,
            workers, memory_mb, out, plugins, train_cache) -> None:
    """Run both routes on equal budgets, verify every program, store every run, and write a report."""
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    import comparator
    from comparator.executor import ExecutorError

    if bool(suite_name) == bool(task_list):
        raise click.UsageError("give exactly one of --suite or --tasks")
    tasks = suite_name if suite_name else [t.strip() for t in _split_tasks(task_list)]
    command = "tractbench " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("tractbench") else None
    options = {"address": address} if address else None
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("eta"), TimeRemainingColumn(), console=console, transient=False) as bar:
        job = bar.add_task("runs", total=None)

        def progress(done, total, row):
            bar.update(job, completed=done, total=total,
                       description=escape(f"{row.get('task', 'runs')} {row.get('route', '')} {row.get('status', '')}".strip()))

        try:
            comp = comparator.compare(tasks, extractors=_names(extractors), synthesizers=_names(synthesizers),
                                      seconds=seconds, seeds=seeds, examples=_examples_option(examples), store=store,
                                      executor=executor, workers=workers, memory_mb=memory_mb, progress=progress,
                                      command=command, executor_options=options, plugins=_names(plugins),
                                      train_cache=None if train_cache.lower() == "none" else train_cache)
        except KeyboardInterrupt:
            bar.stop()
            stored = _stored_runs(store)
            console.print(f"[yellow]interrupted[/yellow]: {stored} finished runs are kept in {escape(str(store))}; "
                          "rerun the same command to resume (runs already stored are not run again)")
            sys.exit(130)
        except (comparator.CompareError, comparator.StoreError, ExecutorError, ImportError, ValueError) as err:
            raise click.ClickException(str(err)) from None
    path = comp.report(out)
    for v in comp.verdicts:
        console.print(("[bold]" if v.scope == "pooled" else "") + escape(v.sentence) + ("[/bold]" if v.scope == "pooled" else ""))
    console.print(f"{len(comp.runs)} runs in {store}; report: {path}")


def _names(text: str) -> list[str]:
    """A comma-separated option as a list; an empty option is an empty list (e.g. no extractors)."""
    return [name.strip() for name in text.split(",") if name.strip()]


def _stored_runs(store: str) -> str:
    """How many runs ``store`` holds, for a message (never raises)."""
    import comparator

    try:
        with comparator.Store(store) as db:
            return str(len(db))
    except Exception:  # noqa: BLE001 -- only for a message
        return "the"


def _split_tasks(text: str) -> list[str]:
    """Split on commas outside brackets: 'first_index[values=3,length=4],parity'."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return [c for c in out + [cur] if c.strip()]


@main.command()
@click.argument("store")
@click.option("--out", default="report", show_default=True, help="Folder for report.md and its figures.")
@click.option("--comparison", default=None, help="Only the runs labelled with this comparison name.")
@click.option("--export", "export", default=None, help="Also export the runs to this .csv or .parquet file.")
def report(store: str, out: str, comparison: str | None, export: str | None) -> None:
    """Write the report of the runs in STORE (and optionally export them)."""
    from pathlib import Path

    import comparator

    if not Path(store).exists():
        raise click.ClickException(f"no store at {store}; run `tractbench compare` first")
    try:
        with comparator.Store(store) as db:
            runs = db.runs(comparison)
            if export:
                db.export(export, comparison)
        path = comparator.write_report(runs, out, command=f"tractbench report {store}")
    except (comparator.StoreError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    console.print(f"{len(runs)} runs; report: {path}")


if __name__ == "__main__":
    main()
