"""Program skeletons every method fills in: a function, or a loop sketch with state variables.

A method finds expressions; these helpers turn them into checked ``Program``s with names that cannot
clash with the task's parameters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from programs import Assign, Const, For, Program, Return, Tuple, Var, Yield
from programs.ast import RESERVED, Expr

from .problem import Problem


def program_name(problem: Problem) -> str:
    name = re.sub(r"\W+", "_", problem.name).strip("_") or "f"
    if name[0].isdigit() or name in RESERVED:
        name = "f_" + name
    return name


def _value(exprs: Expr | list[Expr] | tuple[Expr, ...]) -> Expr:
    if isinstance(exprs, (list, tuple)):
        return exprs[0] if len(exprs) == 1 else Tuple(tuple(exprs))
    return exprs


def function(problem: Problem, outputs: Expr | list[Expr], steps: list[tuple[str, Expr]] = ()) -> Program:
    """``def f(params): <steps> return outputs``."""
    body = [Assign((n, ), e) for n, e in steps] + [Return(_value(outputs))]
    return Program(program_name(problem), problem.params, tuple(body))


def fresh(prefix: str, taken: set[str]) -> str:
    i = 0
    while f"{prefix}{i}" in taken or f"{prefix}{i}" in RESERVED:
        i += 1
    taken.add(f"{prefix}{i}")
    return f"{prefix}{i}"


@dataclass(frozen=True)
class LoopSketch:
    """Names for a loop over every sequence input of ``problem`` with ``states`` state variables.

    ``elements[i]`` is the loop variable reading ``problem.sequences[i]``.
    """

    problem: Problem
    states: tuple[str, ...]
    elements: tuple[str, ...]

    @classmethod
    def of(cls, problem: Problem, n_states: int) -> "LoopSketch":
        taken = set(problem.params)
        elements = tuple(fresh("x", taken) for _ in problem.sequences)
        states = tuple(fresh("s", taken) for _ in range(n_states))
        return cls(problem, states, elements)

    @property
    def scalars(self) -> tuple[str, ...]:
        return self.problem.scalars

    def program(self, inits: list[Expr], updates: list[Expr], output: Expr | list[Expr], *,
                yield_first: bool = False) -> Program:
        """A scan (``problem.kind == "scan"``: ``yield output`` after the update, or before it with
        ``yield_first``) or a fold (``return output`` after the loop)."""
        before = [Assign((s,), e) for s, e in zip(self.states, inits)]
        body: list = []
        if updates:
            body.append(Assign(self.states, _value(list(updates))) if len(self.states) > 1 else Assign(self.states, updates[0]))
        tail: list = []
        if self.problem.kind == "scan":
            body.insert(0 if yield_first else len(body), Yield(_value(output)))
        else:
            tail.append(Return(_value(output)))
        if not body:
            body.append(Assign((self.states[0],), Var(self.states[0])) if self.states else Assign(("_",), Const(0)))
        loop = For(self.elements, self.problem.sequences, tuple(body))
        return Program(program_name(self.problem), self.problem.params, tuple(before + [loop] + tail))
