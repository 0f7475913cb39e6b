"""``@extractor``: each method is a factory of settings returning a callable that reads a ``Trained``
network and returns a ``Reading``, in the registry mechanism both routes share (``programs.registry``);
third-party packages add methods through the ``tractbench.extractors`` entry-point group."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from programs import Program
from programs.budget import Budget
from programs.registry import Entry, Registry, applies_always


@dataclass(frozen=True)
class Reading:
    """What an extractor read: a program (or None) with why, its named steps, and the in-context checks it
    could run (interchange F2 on units, F2-D on learned linear subspaces (``extraction.alignment``) and
    splice F3; None where the method names no internal part)."""

    program: Program | None
    reasons: tuple[str, ...] = ()
    interchange: float | None = None
    splice: float | None = None
    status: str | None = None  # set only to say "abstained" or "timeout" when there is no program
    details: dict[str, Any] = field(default_factory=dict)
    interchange_distributed: float | None = None  # F2-D: interchange through learned linear subspaces
    # F2-D's controls, {"untrained": ..., "rewritten": ...} (``extraction.alignment``); None when not run
    controls: dict[str, float | None] | None = None


class Extractor(Protocol):
    def __call__(self, trained, budget: Budget, rng: np.random.Generator) -> Reading: ...


REGISTRY = Registry("extractor", "tractbench.extractors", "extraction.methods")


def extractor(name: str, *, applies: Callable[[Any], list[str]] = applies_always, untrained: bool = False):
    """Register ``factory(**settings) -> Extractor`` under ``name`` (a name already taken by another factory
    is a ``RegistryError``); ``applies(trained)`` lists reasons it cannot run on a network (an MLP for a
    method that reads recurrent states, say). It should decide from the network's architecture and
    encoding alone: the comparator asks it first of the untrained network (``extraction.untrained``) and
    spends no training on a network the method cannot read. ``untrained``: the method reads the network
    training would start from (a control such as ``ramanujan``); the comparator then trains nothing for it."""
    return REGISTRY.decorator(name, applies=applies, untrained=untrained)


def registry() -> dict[str, Entry]:
    """Every extraction method by name, the built-ins and those of installed packages (entry-point group
    ``tractbench.extractors``)."""
    return REGISTRY.entries()
