"""The ``tractbench`` command line."""
from __future__ import annotations

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
                v = task.check_definition()
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


def _describe(v) -> str:
    if v.method == "product-machine":
        return "product machine, all lengths" if v.bound is None else f"product machine, lengths ≤ {v.bound}"
    if v.method == "bounded-z3":
        return f"bounded z3, lengths ≤ {v.bound}"
    if v.method == "sampled":
        return f"sampled ({v.checked:,} inputs)"
    return f"{v.method} ({v.checked:,} inputs)" if v.method == "exhaustive" else v.method


if __name__ == "__main__":
    main()
