"""``solve``: run one synthesis method on a task's examples within a budget, and check what it returns."""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from programs import Program
from toy_tasks import TaskError, as_problem

from .problem import Budget, Problem
from .registry import Attempt, registry

SynthesisStatus = Literal["solved", "timeout", "exhausted", "abstained", "error"]
STATUSES: tuple[SynthesisStatus, ...] = get_args(SynthesisStatus)


class SynthesisError(ValueError):
    """A request ``solve`` cannot run (unknown method, bad examples argument)."""


@dataclass(frozen=True)
class SynthesisResult:
    program: Program | None
    status: SynthesisStatus
    seconds: float
    candidates: int
    reasons: tuple[str, ...] = ()
    method: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    # A program the method found on its fitting part that its self-check turned away (it failed the held-out
    # part of the examples): the status is then "abstained", and this is kept for the comparator to verify, so
    # the report can say how many wrong programs the check prevented and how many right ones it threw away.
    rejected: Program | None = None

    @property
    def solved(self) -> bool:
        return self.status == "solved"


def names() -> list[str]:
    """The registered synthesis methods."""
    return sorted(registry())


def solve(task, method: str = "enumerative", *, examples=None, seconds: float = 10.0, seed: int = 0,
          options: dict[str, Any] | None = None, validation: float | None = None) -> SynthesisResult:
    """Synthesize a program for ``task`` (a ``Task`` or a ``Problem``) with ``method`` in ``seconds``.

    A task is reduced to its problem at once (``examples``: an ``Examples``, a count, a fraction of the
    domain, or None for the default set, as ``Task.example_set`` reads them); a problem carries its
    examples. The method sees only the problem: examples, signature, operators. A program comes back
    only if it fits every example; whether it is right on the whole domain is for ``task.verify`` (and
    the comparator) to say.

    ``validation`` (default: the method's own, 0.2 for ``rpni``, else 0) is a self-check: that share of the
    examples, drawn with ``seed``, is set aside; the method sees the rest, and a program that fails the part
    set aside is not returned (status "abstained", with the reason; the program is in ``rejected``).
    """
    entries = registry()
    if method not in entries:
        raise SynthesisError(f"unknown synthesis method {method!r}; the methods are {', '.join(sorted(entries))}")
    if not (isinstance(seconds, (int, float)) and seconds > 0):
        raise SynthesisError(f"seconds must be positive, got {seconds!r}")
    entry = entries[method]
    settings = {**entry.defaults, **(options or {})}
    holdout = entry.validation if validation is None else validation
    if isinstance(holdout, bool) or not (isinstance(holdout, (int, float)) and 0.0 <= holdout < 1.0):
        raise SynthesisError(f"validation is the share of the examples set aside to check on, in [0, 1); got {validation!r}")
    start = time.perf_counter()
    try:
        problem = as_problem(task, examples, seed)
    except TaskError as err:
        raise SynthesisError(str(err)) from None

    def result(program, status, candidates=0, reasons=(), rejected=None):
        return SynthesisResult(program, status, time.perf_counter() - start, int(candidates), tuple(reasons), method,
                               {**settings, "validation": holdout}, rejected)

    if problem.size == 0:
        return result(None, "abstained", reasons=["no examples: nothing to synthesize from"])
    clash = problem.contradictions()
    if clash:
        return result(None, "abstained", reasons=[f"contradictory examples: input {clash[0]} appears with two different outputs"])
    fitting, held_out = split_for_validation(problem, holdout, seed)
    budget = Budget(float(seconds), start)
    try:
        attempt: Attempt = entry.factory(**(options or {}))(fitting, budget, np.random.default_rng(seed))
    except MemoryError:  # out of memory is the run's fate (memout), for whoever runs it to record
        raise
    except Exception as err:  # a method's crash is a recorded outcome, not the caller's crash
        last = traceback.extract_tb(err.__traceback__)[-1]
        return result(None, "error", reasons=[f"{type(err).__name__}: {err} (at {last.filename}:{last.lineno})"])
    if attempt.status not in STATUSES:
        return result(None, "error", attempt.candidates, [f"method returned unknown status {attempt.status!r}"])
    if attempt.program is not None:
        try:
            problem.check_program(attempt.program)
            fits = problem.fits(attempt.program)
        except Exception as err:
            return result(None, "error", attempt.candidates, [f"returned program is not usable for the task: {err}"])
        if held_out is not None and not fitting.fits(attempt.program):
            return result(None, "error", attempt.candidates, ["method returned a program that does not fit the examples"] + attempt.reasons)
        if held_out is not None and not fits:
            missed = int(held_out.mismatches(attempt.program).sum())
            return result(None, "abstained", attempt.candidates, attempt.reasons + [
                f"self-check: the program fits the {fitting.size} examples it was found on but fails {missed} of the "
                f"{held_out.size} set aside to check it ({holdout:.0%}), so it is not returned"], rejected=attempt.program)
        if not fits:
            return result(None, "error", attempt.candidates, ["method returned a program that does not fit the examples"] + attempt.reasons)
        return result(attempt.program, "solved", attempt.candidates, attempt.reasons)
    if attempt.status == "solved":
        return result(None, "error", attempt.candidates, ["method claimed success without a program"])
    if budget.expired and attempt.status not in ("abstained", "error"):
        return result(None, "timeout", attempt.candidates, attempt.reasons)
    return result(None, attempt.status, attempt.candidates, attempt.reasons)


def split_for_validation(problem: Problem, share: float, seed: int) -> tuple[Problem, Problem | None]:
    """``(fitting, held_out)``: ``problem`` with ``share`` of its examples (at least one, drawn with ``seed``)
    set aside as ``held_out``; ``(problem, None)`` when ``share`` is 0 or there are fewer than 2 examples."""
    n = problem.size
    if share <= 0.0 or n < 2:
        return problem, None
    k = min(n - 1, max(1, round(share * n)))
    order = np.random.default_rng([seed, 0x5e1f]).permutation(n)
    held, kept = np.sort(order[:k]), np.sort(order[k:])
    return problem.with_examples(problem.examples.take(kept)), problem.with_examples(problem.examples.take(held))
