"""The ``@extractor`` registry: each method is a factory of settings returning a callable that reads a
``Trained`` network and returns a ``Reading``; third-party packages add methods through the
``tractbench.extractors`` entry-point group."""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Protocol

import numpy as np

from programs import Program
from programs.budget import Budget


@dataclass(frozen=True)
class Reading:
    """What an extractor read: a program (or None) with why, its named steps, and the in-context checks it
    could run (interchange F2 and splice F3, None where the method names no internal part)."""

    program: Program | None
    reasons: tuple[str, ...] = ()
    interchange: float | None = None
    splice: float | None = None
    status: str | None = None  # set only to say "abstained" or "timeout" when there is no program
    details: dict[str, Any] = field(default_factory=dict)


class Extractor(Protocol):
    def __call__(self, trained, budget: Budget, rng: np.random.Generator) -> Reading: ...


@dataclass(frozen=True)
class Entry:
    name: str
    factory: Callable[..., Extractor]
    applies: Callable[[Any], list[str]]  # reasons the method cannot read this network; [] when it can
    defaults: dict[str, Any]


_REGISTRY: dict[str, Entry] = {}
_LOADED = False


def extractor(name: str, *, applies: Callable[[Any], list[str]] = lambda trained: []):
    """Register ``factory(**settings) -> Extractor`` under ``name``; ``applies(trained)`` lists reasons
    it cannot run on a network (an MLP for a method that reads recurrent states, say). It should decide
    from the network's architecture and encoding alone: the comparator asks it first of the untrained
    network (``extraction.untrained``) and spends no training on a network the method cannot read."""

    def register(factory):
        import inspect

        defaults = {k: p.default for k, p in inspect.signature(factory).parameters.items()
                    if p.default is not inspect.Parameter.empty}
        _REGISTRY[name] = Entry(name, factory, applies, defaults)
        return factory

    return register


def registry() -> dict[str, Entry]:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from . import methods  # noqa: F401  (registers the built-in methods)

        for ep in entry_points(group="tractbench.extractors"):
            ep.load()
    return dict(_REGISTRY)
