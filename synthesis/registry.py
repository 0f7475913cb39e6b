"""``@synthesizer``: small factories that return a callable meeting the ``Synthesizer`` protocol, in the
registry mechanism both routes share (``programs.registry``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from programs import Program
from programs.registry import Entry, Registry

from .problem import Budget, Problem


@dataclass
class Attempt:
    """What a method hands back; ``solve`` checks the program against the examples before trusting it."""

    program: Program | None
    status: str  # one of ``synthesis.solve.SynthesisStatus``; ``solve`` refuses any other as an error
    candidates: int = 0
    reasons: list[str] = field(default_factory=list)


class Synthesizer(Protocol):
    def __call__(self, problem: Problem, budget: Budget, rng: np.random.Generator) -> Attempt: ...


REGISTRY = Registry("synthesizer", "tractbench.synthesizers", "synthesis.methods")


def synthesizer(name: str, *, validation: float = 0.0) -> Callable[[Callable[..., Synthesizer]], Callable[..., Synthesizer]]:
    """Register a factory ``f(**settings) -> Synthesizer`` under ``name`` (a name already taken by another
    factory is a ``RegistryError``). ``validation``: the share of its examples ``solve`` sets aside by default
    to check the method's answer on (``solve(..., validation=...)`` overrides it per call)."""
    return REGISTRY.decorator(name, validation=validation)


def registry() -> dict[str, Entry]:
    """Every synthesis method by name, the built-ins and those of installed packages (entry-point group
    ``tractbench.synthesizers``)."""
    return REGISTRY.entries()
