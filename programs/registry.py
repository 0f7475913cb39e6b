"""One registry mechanism for the methods of both routes (``@synthesizer``, ``@extractor``).

A method is a factory: a plain function that takes its settings as keyword arguments (their defaults are
recorded, so every result can say exactly what ran) and returns the callable that does the work. A
registry loads its built-in methods and the methods of installed packages (an entry-point group) the
first time it is read. A name is registered once: a second, different factory under a name already
taken is refused with a ``RegistryError``. The same definition loaded again (a module re-imported, a
method sent by value to a worker that already has it) replaces the first quietly.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable


class RegistryError(TypeError):
    """A method registered under a name that another method already has."""


def applies_always(target: Any) -> list[str]:
    """The default ``applies``: the method can be asked to run on anything."""
    return []


@dataclass(frozen=True)
class Entry:
    """A registered method: its name, factory, the factory's default settings, the first line of its
    docstring, ``applies(target)``: reasons it cannot run on a target ([] when it can), ``validation``:
    the share of its examples a synthesizer sets aside by default to check its own answer on (0: none), and
    ``untrained``: an extractor (a control) that reads the network training would start from, so a run
    spends no training on it."""

    name: str
    factory: Callable[..., Any]
    defaults: dict[str, Any]
    doc: str
    applies: Callable[[Any], list[str]] = applies_always
    validation: float = 0.0
    untrained: bool = False

    @property
    def origin(self) -> str:
        """Where the factory is defined, as ``module:qualified name``."""
        return f"{self.factory.__module__}:{self.factory.__qualname__}"


class Registry:
    """The methods of one kind (``kind`` as users read it, e.g. "synthesizer"), with built-ins imported
    from ``builtins`` and third-party methods from the entry-point ``group``, both on first read."""

    def __init__(self, kind: str, group: str, builtins: str):
        self.kind = kind
        self.group = group
        self.builtins = builtins
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(self, name: str, factory: Callable[..., Any], *,
                 applies: Callable[[Any], list[str]] = applies_always, validation: float = 0.0,
                 untrained: bool = False) -> Entry:
        """Add ``factory`` under ``name``; RegistryError if another factory has the name."""
        if not isinstance(name, str) or not name:
            raise RegistryError(f"a {self.kind} needs a non-empty name, got {name!r}")
        if not (isinstance(validation, (int, float)) and 0.0 <= validation < 1.0):
            raise RegistryError(f"{self.kind} {name!r}: validation is a share of the examples in [0, 1), got {validation!r}")
        defaults = {k: p.default for k, p in inspect.signature(factory).parameters.items()
                    if p.default is not inspect.Parameter.empty}
        doc = (inspect.getdoc(factory) or "").strip().splitlines()
        entry = Entry(name, factory, defaults, doc[0] if doc else "", applies, float(validation), bool(untrained))
        self.add(entry)
        return entry

    def add(self, entry: Entry) -> None:
        """Add an entry made elsewhere (a method sent by value); the same rule on names as ``register``."""
        known = self._entries.get(entry.name)
        if known is not None and known.origin != entry.origin:
            raise RegistryError(f"{self.kind} {entry.name!r} is registered twice: by {known.origin} and by "
                                f"{entry.origin}; give one of them another name")
        self._entries[entry.name] = entry

    def decorator(self, name: str, **extra: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """``@decorator(name)``: register the decorated factory under ``name``, and return it unchanged."""

        def register(factory: Callable[..., Any]) -> Callable[..., Any]:
            self.register(name, factory, **extra)
            return factory

        return register

    def entries(self) -> dict[str, Entry]:
        """Every registered method by name (built-ins and installed packages' included)."""
        if not self._loaded:
            self._loaded = True
            importlib.import_module(self.builtins)
            for ep in entry_points(group=self.group):
                ep.load()  # third-party methods register themselves on import
        return dict(self._entries)
