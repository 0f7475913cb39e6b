"""``@synthesizer`` registry: small factories that return a callable meeting the ``Synthesizer`` protocol."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from programs import Program

from .problem import Budget, Problem


@dataclass
class Attempt:
    """What a method hands back; ``solve`` checks the program against the examples before trusting it."""

    program: Program | None
    status: str  # "solved" | "timeout" | "exhausted" | "abstained" | "error"
    candidates: int = 0
    reasons: list[str] = field(default_factory=list)


class Synthesizer(Protocol):
    def __call__(self, problem: Problem, budget: Budget, rng: np.random.Generator) -> Attempt: ...


@dataclass(frozen=True)
class Entry:
    name: str
    factory: Callable[..., Synthesizer]
    defaults: dict[str, Any]
    doc: str


_REGISTRY: dict[str, Entry] = {}


def synthesizer(name: str) -> Callable[[Callable[..., Synthesizer]], Callable[..., Synthesizer]]:
    """Register a factory ``f(**settings) -> Synthesizer`` under ``name``."""

    def register(factory: Callable[..., Synthesizer]) -> Callable[..., Synthesizer]:
        if name in _REGISTRY:
            raise TypeError(f"synthesizer {name!r} is registered twice")
        defaults = {
            k: p.default for k, p in inspect.signature(factory).parameters.items() if p.default is not inspect.Parameter.empty
        }
        _REGISTRY[name] = Entry(name, factory, defaults, (inspect.getdoc(factory) or "").splitlines()[0] if factory.__doc__ else "")
        return factory

    return register


def registry() -> dict[str, Entry]:
    _load()
    return dict(_REGISTRY)


_LOADED = [False]


def _load() -> None:
    if _LOADED[0]:
        return
    _LOADED[0] = True
    from . import methods  # noqa: F401  (registers the built-in methods)

    from importlib.metadata import entry_points

    for ep in entry_points(group="tractbench.synthesizers"):
        ep.load()  # third-party methods register themselves on import
