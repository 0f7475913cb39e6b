"""``solve``: run one synthesis method on a task's examples within a budget, and check what it returns."""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from programs import Program

from .problem import Budget, Problem
from .registry import Attempt, registry

STATUSES = ("solved", "timeout", "exhausted", "abstained", "error")
DEFAULT_EXAMPLES = 1000  # examples drawn when none are given (at most half the domain)


class SynthesisError(ValueError):
    """A request ``solve`` cannot run (unknown method, bad examples argument)."""


@dataclass(frozen=True)
class SynthesisResult:
    program: Program | None
    status: str
    seconds: float
    candidates: int
    reasons: tuple[str, ...] = ()
    method: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def solved(self) -> bool:
        return self.status == "solved"


def names() -> list[str]:
    """The registered synthesis methods."""
    return sorted(registry())


def training_examples(task, examples, seed: int):
    """The example set a route sees: an ``Examples``, a count, a fraction of the domain, or the default."""
    from toy_tasks import Examples

    if isinstance(examples, Examples):
        errors = task.example_errors(examples)
        if errors:
            raise SynthesisError(f"the examples do not fit task {task.name} ({task.signature()}): {'; '.join(errors)}")
        return examples
    if examples is None:
        if task.enumerable:
            n = min(DEFAULT_EXAMPLES, max(1, task.domain_size // 2))
            return task.examples(n, seed=seed)
        return task.examples(DEFAULT_EXAMPLES, seed=seed)
    if isinstance(examples, float):
        if not 0.0 < examples <= 1.0:
            raise SynthesisError(f"examples as a fraction must lie in (0, 1], got {examples}")
        if not task.enumerable:
            raise SynthesisError(f"task {task.name}'s domain is too large for a fraction; pass a count")
        return task.examples(max(1, round(examples * task.domain_size)), seed=seed)
    if isinstance(examples, (int, np.integer)) and not isinstance(examples, bool):
        if examples < 0:
            raise SynthesisError(f"examples must be a non-negative count, got {examples}")
        return task.examples(int(examples), seed=seed)
    raise SynthesisError(f"examples must be an Examples object, a count, a fraction or None; got {type(examples).__name__}")


def solve(task, method: str = "enumerative", *, examples=None, seconds: float = 10.0, seed: int = 0,
          options: dict[str, Any] | None = None) -> SynthesisResult:
    """Synthesize a program for ``task`` from ``examples`` with ``method`` in ``seconds``.

    The method sees only the examples, the signature and the task's operator set. A program comes back
    only if it fits every example; whether it is right on the whole domain is for ``task.verify`` (and
    the comparator) to say.
    """
    entries = registry()
    if method not in entries:
        raise SynthesisError(f"unknown synthesis method {method!r}; the methods are {', '.join(sorted(entries))}")
    if not (isinstance(seconds, (int, float)) and seconds > 0):
        raise SynthesisError(f"seconds must be positive, got {seconds!r}")
    entry = entries[method]
    settings = {**entry.defaults, **(options or {})}
    start = time.perf_counter()
    ex = training_examples(task, examples, seed)
    problem = Problem.from_task(task, ex)

    def result(program, status, candidates=0, reasons=()):
        return SynthesisResult(program, status, time.perf_counter() - start, int(candidates), tuple(reasons), method, settings)

    if problem.size == 0:
        return result(None, "abstained", reasons=["no examples: nothing to synthesize from"])
    clash = problem.contradictions()
    if clash:
        return result(None, "abstained", reasons=[f"contradictory examples: input {clash[0]} appears with two different outputs"])
    budget = Budget(float(seconds), start)
    try:
        attempt: Attempt = entry.factory(**(options or {}))(problem, budget, np.random.default_rng(seed))
    except MemoryError:  # out of memory is the run's fate (memout), for whoever runs it to record
        raise
    except Exception as err:  # a method's crash is a recorded outcome, not the caller's crash
        last = traceback.extract_tb(err.__traceback__)[-1]
        return result(None, "error", reasons=[f"{type(err).__name__}: {err} (at {last.filename}:{last.lineno})"])
    if attempt.status not in STATUSES:
        return result(None, "error", attempt.candidates, [f"method returned unknown status {attempt.status!r}"])
    if attempt.program is not None:
        try:
            task.check_program(attempt.program)
            fits = problem.fits(attempt.program)
        except Exception as err:
            return result(None, "error", attempt.candidates, [f"returned program is not usable for the task: {err}"])
        if not fits:
            return result(None, "error", attempt.candidates, ["method returned a program that does not fit the examples"] + attempt.reasons)
        return result(attempt.program, "solved", attempt.candidates, attempt.reasons)
    if attempt.status == "solved":
        return result(None, "error", attempt.candidates, ["method claimed success without a program"])
    if budget.expired and attempt.status not in ("abstained", "error"):
        return result(None, "timeout", attempt.candidates, attempt.reasons)
    return result(None, attempt.status, attempt.candidates, attempt.reasons)
