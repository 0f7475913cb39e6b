"""What runs inside a worker process: one route on one problem, one seed, one budget.

A worker receives a ``toy_tasks.Problem`` (signature, kind, operators, the examples both routes share)
and its settings, as plain data: never a task, so nothing it holds can compute an answer outside the
examples. It returns the method's program as text with its timings and claims; whether the program is
right is decided afterwards, in the comparator's own process, by ``task.verify``.
"""
from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import Any

# Training gets at most this share of an extraction run's budget; the rest is for reading the network.
TRAIN_SHARE = 0.5


def training_path(folder: str, problem, seed: int, arch: str, options: dict, seconds: float) -> str:
    """Where the network trained for this (problem, seed, architecture, options, budget) is kept: everything
    that decides what training computes is in the name's hash (the problem's examples included)."""
    import hashlib
    import json

    from extraction.train import DEFAULTS, SEARCH_BY_DEFAULT

    # the width search's setting and the architectures' defaults (``snap``, say) are in the name even when left to
    # ``train``'s defaults (which may change between versions: a network trained under other defaults is not reused)
    options = {"search": SEARCH_BY_DEFAULT, **options}
    text = json.dumps([problem.identity(), seed, arch, options, DEFAULTS, round(float(seconds), 6)], sort_keys=True,
                      default=str)
    return os.path.join(folder, hashlib.sha256(text.encode()).hexdigest()[:32] + ".pt")


def _train_or_reuse(extraction, problem, seed, arch, train_opts, seconds, folder) -> tuple[Any, bool]:
    """(trained, whether it was loaded): a network trained for the same (problem, seed, architecture,
    options, budget) and saved in ``folder`` is loaded instead of trained again; a new one is saved there
    (atomically) once it trains to exactness."""
    path = training_path(folder, problem, seed, arch, train_opts, seconds)
    if os.path.exists(path):
        try:
            loaded = extraction.load(path, task=problem)
        except extraction.ModelFileError:
            pass  # a damaged file (or one of another version): train again and replace it
        else:
            return replace(loaded, problem=problem), True
    trained = extraction.train(problem, arch, seconds=seconds, seed=seed, **train_opts)
    if trained.status == "trained":
        os.makedirs(folder, exist_ok=True)
        part = f"{path}.{os.getpid()}.part"
        extraction.save(trained, part)
        os.replace(part, path)
    return trained, False


def faithfulness_columns(faithfulness: dict) -> dict[str, float | None]:
    """An extraction's faithfulness record as the store's columns."""
    controls = faithfulness.get("controls") or {}
    return {"agreement": faithfulness.get("agreement"), "interchange": faithfulness.get("interchange"),
            "splice": faithfulness.get("splice"), "interchange_distributed": faithfulness.get("interchange_distributed"),
            "control_untrained": controls.get("untrained"), "control_rewritten": controls.get("rewritten")}


def run_route(problem, route: str, method: str, seed: int, seconds: float, options: dict | None = None,
              plugins: list[str] | None = None, train_cache: str | None = None,
              methods: dict[str, bytes] | None = None) -> dict[str, Any]:
    """Run one route on ``problem`` and describe what came back (no verdict on correctness here).

    The route's libraries are imported (and torch warmed up) before the clock starts: a one-off start-up
    cost of a process (torch's takes seconds) says nothing about how tractable a task is.

    With ``train_cache`` (a folder), extraction runs that would train the same network (same task, seed,
    example set, architecture, options and budget: every extractor of one (task, seed), say) train it once
    and load it after. Training is deterministic, so the network is the one the run would have trained,
    and the run is charged the recorded training seconds, not the load: its seconds and the budget left
    for reading the network are what they would have been.

    ``methods`` holds registrations made where the comparison runs but not importable here (methods
    defined in the caller's main script or notebook), sent by value: see ``comparator.plugins``."""
    from .plugins import load_plugins

    load_plugins(plugins or (), methods or {})
    if route == "extraction":
        from extraction.train import warm_up

        warm_up()
    import synthesis

    synthesis.names()  # loads every method module

    start = time.perf_counter()
    cpu0 = time.process_time()
    row: dict[str, Any] = {"examples": problem.size, "host": os.uname().nodename}
    phases: dict[str, float] = {}
    options = dict(options or {})
    if route == "synthesis":
        from synthesis import solve

        validation = options.pop("validation", None)  # the self-check's share, for any method (solve's own option)
        res = solve(problem, method, seconds=max(0.05, seconds - (time.perf_counter() - start)), seed=seed,
                    options=options, validation=validation)
        row.update(claim=res.status, program=None if res.program is None else str(res.program),
                   candidates=res.candidates, reasons=list(res.reasons),
                   rejected=None if res.rejected is None else str(res.rejected))
        phases["synthesis"] = res.seconds
    elif route == "extraction":
        import extraction

        t0 = time.perf_counter()
        train_opts = options.pop("train", {}) or {}
        arch = train_opts.pop("arch", "auto")
        train_seconds = max(0.05, TRAIN_SHARE * seconds)
        entry = extraction.registry().get(method)
        # the search's own options (``search``, ``widths``, ``seeds``) say how to train, not which network starts
        start_net = extraction.untrained(problem, arch, seed=seed,
                                         **{k: v for k, v in train_opts.items() if k not in ("search", "widths", "seeds")})
        why = [] if entry is None else entry.applies(start_net)
        if entry is not None and entry.untrained and not why:  # a control that reads the untrained network
            phases["check"] = time.perf_counter() - t0
            res = extraction.extract(start_net, method, seconds=max(0.05, seconds - (time.perf_counter() - start)),
                                     seed=seed, **options)
            phases["extract"] = res.seconds
            # For the Ramanujan control, "training" is the search for a subnetwork: its seconds and accuracy.
            row.update(claim=res.status, program=None if res.program is None else str(res.program),
                       reasons=list(res.reasons), extract_seconds=res.seconds,
                       train_seconds=res.details.get("subnetwork_seconds"),
                       train_accuracy=res.details.get("subnetwork_accuracy"),
                       submethod=res.details.get("method"), **faithfulness_columns(res.faithfulness))
        elif why:  # no training spent on a network the method cannot read
            phases["check"] = time.perf_counter() - t0
            row.update(claim="abstained", program=None, reasons=["no network trained: " + why[0], *why[1:]])
        else:
            if train_cache is None:
                trained = extraction.train(problem, arch, seconds=train_seconds, seed=seed, **train_opts)
                phases["train"] = time.perf_counter() - t0
            else:
                trained, loaded = _train_or_reuse(extraction, problem, seed, arch, train_opts, train_seconds, train_cache)
                # Every run of a cached network is charged its recorded training seconds: the run that trained
                # it (not its saving) and the runs that load it (not their loading).
                spent = time.perf_counter() - t0
                if loaded:
                    phases["train_loaded"] = spent
                phases["train"] = trained.seconds
                start -= trained.seconds - spent
                cpu0 -= trained.seconds - spent
            committee = trained.settings.get("elected") or {}  # the members trained after the first net
            phases["networks"] = float((trained.settings.get("search") or {}).get("networks", 1)
                                       + max(0, len(committee.get("members", [])) - 1))
            row.update(train_seconds=phases["train"], train_accuracy=trained.train_accuracy)
            left = seconds - (time.perf_counter() - start)
            if left <= 0.05:
                row.update(claim="timeout", program=None,
                           reasons=list(trained.reasons) + ["the budget ran out in training"])
            else:
                t1 = time.perf_counter()
                res = extraction.extract(trained, method, seconds=left, seed=seed, **options)
                phases["extract"] = time.perf_counter() - t1
                for part in ("alignment", "controls"):  # F2-D and its controls, inside extract's time
                    if f"{part}_seconds" in res.details:
                        phases[part] = res.details[f"{part}_seconds"]
                row.update(claim=res.status, program=None if res.program is None else str(res.program),
                           reasons=list(trained.reasons) + list(res.reasons), extract_seconds=phases["extract"],
                           submethod=res.details.get("method"), **faithfulness_columns(res.faithfulness))
    else:
        raise ValueError(f"unknown route {route!r}")
    row["seconds"] = time.perf_counter() - start
    row["cpu_seconds"] = time.process_time() - cpu0
    row["phases"] = phases
    return row
