"""What runs inside a worker process: one route on one task, one seed, one example set, one budget.

It returns the method's program as text with its timings and claims; whether the program is right is
decided afterwards, in the comparator's own process, by ``task.verify``.
"""
from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

# Training gets at most this share of an extraction run's budget; the rest is for reading the network.
TRAIN_SHARE = 0.5


def example_count(task, spec) -> int:
    """How many examples ``example_set`` gives for ``spec`` (without drawing them)."""
    size = task.domain_size if task.enumerable else None
    if spec in (None, "default"):
        return size if size is not None and size <= 4096 else min(8192, (size or 16384) // 2)
    if isinstance(spec, float) or (isinstance(spec, str) and "." in spec):
        if size is None:
            raise ValueError(f"task {task.name}'s domain is too large to take a fraction of; give a count")
        return max(1, round(float(spec) * size))
    return int(spec) if size is None else min(int(spec), size)


def example_set(task, spec, seed: int):
    """The examples both routes get for (task, seed): ``spec`` a count, a fraction of the domain, or
    "default" (the whole domain up to 4096 inputs, else half of it, at most 8192). Sets for one seed are
    nested: a smaller count is a prefix of a larger one, so a sample-complexity sweep adds examples."""
    from dataclasses import replace

    from programs.domains import sample_domain
    from toy_tasks import Examples

    size = task.domain_size if task.enumerable else None
    n = example_count(task, spec)
    if size is not None:
        dom = task.examples(None)
        n = min(n, size)
        order = np.random.default_rng(seed).permutation(size)[:n]
        ex = dom.take(np.sort(order))
        return replace(ex, complete=n == size, note=f"{n} of {size} inputs, nested draw seed {seed}")
    pool_n = max(n, 8192)
    arrays, lengths = sample_domain(task.inputs, pool_n, np.random.default_rng(seed), distinct=True)
    arrays = {k: v[:n] for k, v in arrays.items()}
    lengths = None if lengths is None else lengths[:n]
    return Examples(arrays, task._truth(arrays, lengths), lengths, False, f"{n} distinct inputs, nested draw seed {seed}",
                    task.kind == "scan")


def training_path(folder: str, task, seed: int, examples, arch: str, options: dict, seconds: float) -> str:
    """Where the network trained for this (task, seed, example set, architecture, options, budget) is kept:
    everything that decides what training computes is in the name's hash."""
    import hashlib
    import json

    ident = list(task) if isinstance(task, tuple) else ["task", task.name, task.signature(), task.kind]
    text = json.dumps([ident, seed, examples, arch, options, round(float(seconds), 6)], sort_keys=True, default=str)
    return os.path.join(folder, hashlib.sha256(text.encode()).hexdigest()[:32] + ".pt")


def _train_or_reuse(extraction, task, ref, ex, seed, examples, arch, train_opts, seconds, folder) -> tuple[Any, bool]:
    """(trained, whether it was loaded): a network trained for the same (task, seed, example set,
    architecture, options, budget) and saved in ``folder`` is loaded instead of trained again; a new one
    is saved there (atomically) once it trains to exactness."""
    path = training_path(folder, ref, seed, examples, arch, train_opts, seconds)
    if os.path.exists(path):
        try:
            return extraction.load(path, task=task), True
        except extraction.ModelFileError:
            pass  # a damaged file: train again and replace it
    trained = extraction.train(task, arch, examples=ex, seconds=seconds, seed=seed, **train_opts)
    if trained.status == "trained":
        os.makedirs(folder, exist_ok=True)
        part = f"{path}.{os.getpid()}.part"
        extraction.save(trained, part)
        os.replace(part, path)
    return trained, False


def run_route(task, route: str, method: str, seed: int, examples, seconds: float, options: dict | None = None,
              plugins: list[str] | None = None, train_cache: str | None = None) -> dict[str, Any]:
    """Run one route and describe what came back (no verdict on correctness here).

    The route's libraries are imported (and torch warmed up) before the clock starts: a one-off start-up
    cost of a process (torch's takes seconds) says nothing about how tractable a task is.

    With ``train_cache`` (a folder), extraction runs that would train the same network (same task, seed,
    example set, architecture, options and budget: every extractor of one (task, seed), say) train it once
    and load it after. Training is deterministic, so the network is the one the run would have trained,
    and the run is charged the recorded training seconds, not the load: its seconds and the budget left
    for reading the network are what they would have been."""
    import importlib

    for module in plugins or ():
        importlib.import_module(module)
    if route == "extraction":
        from extraction.train import warm_up

        warm_up()
    import synthesis

    synthesis.names()  # loads every method module

    start = time.perf_counter()
    ref = task
    if isinstance(task, tuple) and task[0] == "builtin":
        import toy_tasks

        task = toy_tasks.get(task[1], **task[2])
    cpu0 = time.process_time()
    ex = example_set(task, examples, seed)
    row: dict[str, Any] = {"examples": len(ex), "host": os.uname().nodename}
    phases: dict[str, float] = {"examples": time.perf_counter() - start}
    options = dict(options or {})
    if route == "synthesis":
        from synthesis import solve

        res = solve(task, method, examples=ex, seconds=max(0.05, seconds - (time.perf_counter() - start)), seed=seed,
                    options=options)
        row.update(claim=res.status, program=None if res.program is None else str(res.program),
                   candidates=res.candidates, reasons=list(res.reasons))
        phases["synthesis"] = res.seconds
    elif route == "extraction":
        import extraction

        t0 = time.perf_counter()
        train_opts = options.pop("train", {}) or {}
        arch = train_opts.pop("arch", "auto")
        train_seconds = max(0.05, TRAIN_SHARE * seconds)
        entry = extraction.registry().get(method)
        why = [] if entry is None else entry.applies(
            extraction.untrained(task, arch, examples=ex, seed=seed, **train_opts))
        if why:  # no training spent on a network the method cannot read
            phases["check"] = time.perf_counter() - t0
            row.update(claim="abstained", program=None, reasons=["no network trained: " + why[0], *why[1:]])
        else:
            if train_cache is None:
                trained = extraction.train(task, arch, examples=ex, seconds=train_seconds, seed=seed, **train_opts)
                phases["train"] = time.perf_counter() - t0
            else:
                trained, loaded = _train_or_reuse(extraction, task, ref, ex, seed, examples, arch, train_opts,
                                                  train_seconds, train_cache)
                # Every run of a cached network is charged its recorded training seconds: the run that trained
                # it (not its saving) and the runs that load it (not their loading).
                spent = time.perf_counter() - t0
                if loaded:
                    phases["train_loaded"] = spent
                phases["train"] = trained.seconds
                start -= trained.seconds - spent
                cpu0 -= trained.seconds - spent
            row.update(train_seconds=phases["train"], train_accuracy=trained.train_accuracy,
                       domain_accuracy=trained.domain_accuracy)
            left = seconds - (time.perf_counter() - start)
            if left <= 0.05:
                row.update(claim="timeout", program=None,
                           reasons=list(trained.reasons) + ["the budget ran out in training"])
            else:
                t1 = time.perf_counter()
                res = extraction.extract(trained, method, seconds=left, seed=seed, **options)
                phases["extract"] = time.perf_counter() - t1
                row.update(claim=res.status, program=None if res.program is None else str(res.program),
                           reasons=list(trained.reasons) + list(res.reasons), extract_seconds=phases["extract"],
                           agreement=res.faithfulness.get("agreement"),
                           interchange=res.faithfulness.get("interchange"),
                           splice=res.faithfulness.get("splice"), submethod=res.details.get("method"))
    else:
        raise ValueError(f"unknown route {route!r}")
    row["seconds"] = time.perf_counter() - start
    row["cpu_seconds"] = time.process_time() - cpu0
    row["phases"] = phases
    return row
