"""Methods of a user's own, made known to every worker process of a comparison.

Two ways in, both for methods registered with ``@synthesizer`` or ``@extractor``:
- plugin modules, named or given as module objects: imported here (so the grid knows their methods) and
  by every worker before its run;
- methods registered where no worker can import them (in the caller's main script, a notebook, a
  module loaded from a file outside ``sys.path``): sent by value with cloudpickle, one registry entry
  each, and registered in the worker before its run. Workers never re-import the caller's main module, so
  this is the only way such a method reaches them.
"""
from __future__ import annotations

import contextlib
import importlib
import pickle
import sys
import types
from collections.abc import Iterable, Iterator
from typing import Any

_MAIN_NAMES = ("__main__", "__mp_main__")


def _compare_error(message: str) -> Exception:
    from .comparison import CompareError

    return CompareError(message)


def plugin_names(plugins: Iterable[Any]) -> list[str]:
    """The importable module names of ``plugins`` (names or module objects), each imported here; a main
    module given as a plugin is skipped (its methods are sent by value). CompareError for a plugin that
    is neither, or cannot be imported."""
    if isinstance(plugins, (str, types.ModuleType)):
        plugins = [plugins]
    names: list[str] = []
    for plugin in plugins or ():
        if isinstance(plugin, types.ModuleType):
            name = plugin.__name__
            if name in _MAIN_NAMES or not _importable(name):
                continue  # the methods it registered travel by value
        elif isinstance(plugin, str) and plugin:
            name = plugin
        else:
            raise _compare_error(f"a plugin is a module name or a module object, got {plugin!r}")
        try:
            importlib.import_module(name)
        except Exception as err:
            raise _compare_error(f"plugin module {name!r} cannot be imported ({type(err).__name__}: {err}); pass the "
                                 "name of a module on sys.path (a file mymethods.py beside the script: 'mymethods')") from None
        if name not in names:
            names.append(name)
    return names


def _importable(module: str) -> bool:
    """Can a fresh interpreter with this ``sys.path`` import ``module`` by name? (Asked of the import
    system's finders, which, unlike ``importlib.util.find_spec``, do not answer from ``sys.modules``.)"""
    if module in _MAIN_NAMES:
        return False
    top = module.partition(".")[0]
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        try:
            if find is not None and find(top, None) is not None:
                return True
        except (ImportError, ValueError, TypeError):
            continue
    return False


def _registries() -> dict[str, Any]:
    out = {}
    with contextlib.suppress(ImportError):
        from synthesis.registry import REGISTRY as synthesizers

        out["synthesis"] = synthesizers
    with contextlib.suppress(ImportError):
        from extraction.registry import REGISTRY as extractors

        out["extraction"] = extractors
    return out


def by_value(methods: Iterable[tuple[str, str]]) -> dict[str, bytes]:
    """For the (route, method) pairs of a grid, the registry entries a worker cannot import, pickled by
    value, keyed "route:method"."""
    registries = _registries()
    out: dict[str, bytes] = {}
    for route, name in sorted(set(methods)):
        registry = registries.get(route)
        entry = None if registry is None else registry.entries().get(name)
        if entry is None:
            continue
        modules = {getattr(entry.factory, "__module__", None), getattr(entry.applies, "__module__", None)} - {None}
        foreign = sorted(m for m in modules if not _importable(m))
        if not foreign:
            continue
        out[f"{route}:{name}"] = _pickled(entry, foreign)
    return out


def _pickled(entry: Any, modules: list[str]) -> bytes:
    try:
        import cloudpickle
    except ImportError:
        raise _compare_error(f"method {entry.name!r} is defined in {', '.join(modules)}, which worker processes cannot "
                             "import; install cloudpickle (pip install cloudpickle) to send it to them, or move it "
                             "into a module and pass plugins=['that_module']") from None
    with _by_value(cloudpickle, [sys.modules[m] for m in modules if m in sys.modules and m not in _MAIN_NAMES]):
        try:
            return cloudpickle.dumps(entry)
        except Exception as err:
            raise _compare_error(f"method {entry.name!r} cannot be sent to the worker processes ({type(err).__name__}: "
                                 f"{err}); move it into a module and pass plugins=['that_module']") from None


@contextlib.contextmanager
def _by_value(cloudpickle: Any, modules: list[types.ModuleType]) -> Iterator[None]:
    """Modules other than main that workers cannot import are pickled by value too, while this lasts."""
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        for module in modules:
            with contextlib.suppress(ValueError):
                cloudpickle.unregister_pickle_by_value(module)


def load_plugins(names: Iterable[str], methods: dict[str, bytes]) -> None:
    """In a worker: import the plugin modules, then register the methods sent by value."""
    for name in names:
        importlib.import_module(name)
    if not methods:
        return
    registries = _registries()
    for key, data in methods.items():
        route = key.partition(":")[0]
        registry = registries[route]
        registry.entries()  # the built-ins first, so a clash with one is refused, not shadowed
        registry.add(pickle.loads(data))
