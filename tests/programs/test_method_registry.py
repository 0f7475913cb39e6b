"""One registry mechanism for both routes: a name is registered once (a second factory under it is
refused, by ``@synthesizer`` and ``@extractor`` alike), the same definition loaded again is not a clash,
and defaults and docs are recorded for every result to say what ran."""
from __future__ import annotations

import pytest

import extraction
import synthesis
from programs.registry import Entry, Registry, RegistryError


def factory(width: int = 3, name: str = "x"):
    """Builds a method."""
    return lambda *args: None


def other_factory():
    return lambda *args: None


def test_a_registry_records_defaults_and_the_first_doc_line_and_refuses_a_second_factory():
    reg = Registry("thing", "tractbench.no_such_group", "programs")
    entry = reg.register("one", factory)
    assert entry.defaults == {"width": 3, "name": "x"} and entry.doc == "Builds a method."
    reg.register("one", factory)  # the same definition again (a module re-imported): no clash
    with pytest.raises(RegistryError, match="'one' is registered twice"):
        reg.register("one", other_factory)
    assert reg.entries()["one"].factory is factory
    with pytest.raises(RegistryError, match="non-empty name"):
        reg.register("", factory)


def test_a_taken_name_is_refused_by_both_routes_and_the_builtin_survives():
    before_s, before_e = synthesis.registry()["enumerative"], extraction.registry()["fsm"]
    with pytest.raises(RegistryError, match="synthesizer 'enumerative' is registered twice"):
        synthesis.synthesizer("enumerative")(other_factory)
    with pytest.raises(RegistryError, match="extractor 'fsm' is registered twice"):
        extraction.extractor("fsm")(other_factory)
    assert synthesis.registry()["enumerative"] is before_s and extraction.registry()["fsm"] is before_e


def test_both_routes_share_the_mechanism():
    from extraction.registry import REGISTRY as extractors
    from synthesis.registry import REGISTRY as synthesizers

    assert type(synthesizers) is type(extractors) is Registry
    assert all(isinstance(e, Entry) for e in [*synthesis.registry().values(), *extraction.registry().values()])
    assert extraction.registry()["fsm"].applies is not None
