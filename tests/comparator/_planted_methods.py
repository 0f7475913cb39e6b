"""Planted synthesis methods for the comparator's tests: one that lies, one that hangs, one that hogs
memory, one that answers what it is told. Imported as a plugin (``compare(..., plugins=[...])``) in the test process and in every worker."""
from __future__ import annotations

import time

from programs import Const, Program, Return, parse
from synthesis import Attempt, synthesizer
from synthesis.registry import registry


if "planted_wrong" not in registry():
    @synthesizer("planted_wrong")
    def planted_wrong():
        """Returns the first example's output as a constant: it fits one example and is wrong elsewhere."""

        def run(problem, budget, rng):
            value = int(problem.outputs.reshape(problem.size, -1)[0, 0])
            return Attempt(Program("f", problem.params, (Return(Const(value)),)), "solved", 1)

        return run

    @synthesizer("planted_sleep")
    def planted_sleep():
        """Ignores its budget and sleeps: the comparator must kill it."""

        def run(problem, budget, rng):
            while True:
                time.sleep(1)

        return run

    @synthesizer("planted_hog")
    def planted_hog():
        """Allocates without bound: the memory cap must stop it, and the comparator live on."""

        def run(problem, budget, rng):
            hoard = []
            while True:
                hoard.append(bytearray(64 << 20))

        return run

    @synthesizer("planted_slow")
    def planted_slow(seconds: float = 1.0):
        """Sleeps a little, then gives up: a run that takes a known time."""

        def run(problem, budget, rng):
            time.sleep(seconds)
            return Attempt(None, "exhausted", 0, ["planted: gave up"])

        return run

    @synthesizer("planted_answers")
    def planted_answers(answers: dict[str, str] | None = None):
        """Returns the program text ``answers`` gives for the problem's name (right or wrong, as the test
        planted it), and abstains on a problem it has no answer for."""

        def run(problem, budget, rng):
            source = (answers or {}).get(problem.name)
            if source is None:
                return Attempt(None, "abstained", 0, [f"planted: no answer for {problem.name}"])
            return Attempt(parse(source), "solved", 1)

        return run


if "planted_lookup" not in registry():
    @synthesizer("planted_lookup", validation=0.3)
    def planted_lookup():
        """Memorises the examples it sees as a chain of tests (0 elsewhere): it fits them and nothing more, so
        its own self-check (30% of the examples set aside) turns it away wherever the answers are not all 0."""

        def run(problem, budget, rng):
            names = problem.params
            expr = "0"
            for x, y in problem.examples.rows():
                test = " and ".join(f"{n} == {x[n]}" for n in names)
                expr = f"({y} if {test} else {expr})"
            return Attempt(parse(f"def f({', '.join(names)}):\n    return {expr}\n"), "solved", 1)

        return run
