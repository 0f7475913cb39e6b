"""Assertion helpers for property-based test runs users write against either route.

Call them inside your own hypothesis tests, with ``toy_tasks.strategies`` for tasks, inputs and programs::

    from hypothesis import given, settings
    from comparator.testing import assert_solves
    from toy_tasks import strategies

    @settings(max_examples=10, deadline=None)
    @given(strategies.tasks(family="boolean"))
    def test_both_routes_solve_small_boolean_tasks(task):
        assert_solves(task, "enumerative", seconds=10)
        assert_solves(task, "auto", seconds=30)

Each raises ``AssertionError`` with what went wrong (a counterexample, the faithfulness figures, the
method's reasons), so hypothesis can shrink to the smallest failing case.
"""
from __future__ import annotations

import numpy as np


def assert_equivalent(p, q, inputs, *, seconds: float = 60.0):
    """``p`` and ``q`` (programs or program texts) agree on every input of ``inputs`` (domains by name)."""
    from programs import equivalent, parse

    p = parse(p) if isinstance(p, str) else p
    q = parse(q) if isinstance(q, str) else q
    v = equivalent(p, q, inputs, seconds=seconds)
    if v.equal is not True:
        raise AssertionError(f"{p.name} and {q.name} differ" + (f" on {v.counterexample}: {v.outputs}" if v.counterexample
                             is not None else f" or could not be compared ({v.method}: {v.detail})"))
    return v


def assert_faithful(trained, program, *, interchange: float | None = 0.99, pairs: int = 300, seed: int = 0):
    """``program`` describes ``trained``'s network: it agrees with it on the whole domain (F1 = 1), and, when
    the program names steps an extractor aligned with the network (``extract`` results carry them), the
    interchange score reaches ``interchange``: the better of F2 (units) and F2-D (learned subspaces), as
    the gate takes them (a recurrent reader reports F2-D alone: swapping a recurrent net's whole state is
    no test). Pass an ``ExtractionResult`` as ``program`` to check its recorded scores as well; pass
    ``interchange=None`` to check agreement alone."""
    from extraction.faithfulness import agreement
    from programs import parse

    f2 = None
    if hasattr(program, "faithfulness"):
        measured = [program.faithfulness.get(k) for k in ("interchange", "interchange_distributed")]
        measured = [v for v in measured if v is not None]
        f2 = max(measured) if measured else None
        program = program.program
        if program is None:
            raise AssertionError("the extraction returned no program")
    program = parse(program) if isinstance(program, str) else program
    inputs, lengths, complete = trained.problem.domain_inputs()
    f1 = agreement(trained, program, inputs, lengths)
    if f1 < 1.0:
        net = trained.predict(inputs, lengths)
        from programs import evaluate

        ours = evaluate(program, inputs, lengths if program.sequences else None)
        bad = int(np.nonzero((ours != net).reshape(len(net), -1).any(axis=1))[0][0])
        example = {k: (v[bad, : int(lengths[bad])].tolist() if v.ndim == 2 else int(v[bad])) for k, v in inputs.items()}
        raise AssertionError(f"agreement F1 = {f1:.4f} < 1: on {example} the network answers {net[bad].tolist()} "
                             f"and the program {ours[bad].tolist()}")
    if interchange is not None and f2 is not None and f2 < interchange:
        raise AssertionError(f"interchange (the better of F2 and F2-D) = {f2:.3f} < {interchange}: setting the named "
                             "steps inside the network does not move its answer the way the program says")
    return f1


def assert_solves(task, method: str, seconds: float = 60.0, *, seed: int = 0, examples=None):
    """``method`` (a synthesizer name, or an extractor name, which then trains its network first within
    the same budget) returns a program that ``task.verify`` proves correct. ``examples`` as in
    ``compare`` (default: the comparison's default set, the whole domain up to 4096 inputs). Returns the
    program."""
    import time

    import synthesis

    start = time.perf_counter()
    examples = task.example_set(examples, seed)
    if method in synthesis.names():
        res = synthesis.solve(task, method, examples=examples, seconds=seconds, seed=seed)
        program, status, reasons = res.program, res.status, res.reasons
    else:
        import extraction

        if method not in extraction.names():
            raise ValueError(f"{method!r} is neither a synthesis method ({', '.join(synthesis.names())}) nor an "
                             f"extractor ({', '.join(extraction.names())})")
        trained = extraction.train(task, examples=examples, seconds=seconds / 2, seed=seed)
        res = extraction.extract(trained, method, seconds=max(0.1, seconds - (time.perf_counter() - start)), seed=seed)
        program, status, reasons = res.program, res.status, res.reasons
    if program is None:
        raise AssertionError(f"{method} did not solve {task.name}: {status}" + (f" ({'; '.join(reasons)})" if reasons else ""))
    v = task.verify(program)
    if v.equal is not True:
        raise AssertionError(f"{method} returned a program for {task.name} that is not correct ({v.method}"
                             + (f"; counterexample {v.counterexample}: {v.outputs}" if v.counterexample is not None else "")
                             + f"):\n{program}")
    return program
