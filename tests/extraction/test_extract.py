"""extraction.extract: the registry, typed errors, abstentions with reasons, auto on every family of the
quick suite, determinism per seed, and the random-network control: no extractor may report a task solved
from a network that does not compute it."""
from __future__ import annotations

import copy

import pytest
import torch
from _nets import computes_task, task_of, trained, trained_tokens, untrained

import extraction
import toy_tasks
from extraction import ExtractionError
from extraction.extract import STATUSES
from extraction.registry import registry
from extraction.train import with_model

BUILT_IN = {"auto", "blackbox", "boolean", "fourier", "fsm", "integer", "linear", "lstar", "ramanujan"}
QUICK = [(t.name.split("[")[0], dict(t.params)) for t in toy_tasks.suite("quick")]


FAITHFULNESS_KEYS = {"agreement", "interchange", "splice", "interchange_distributed", "controls"}


def quick_id(case) -> str:
    name, params = case
    return name + "".join(f"-{k}{v}" for k, v in params.items())


def test_the_built_in_methods_are_registered():
    names = extraction.names()
    assert names == sorted(names)
    assert BUILT_IN <= set(names)
    assert {n for n in names if not n.startswith("_")} == BUILT_IN  # a test may plant "_"-named ones


def test_unknown_method_and_bad_budget_are_typed_errors():
    net = trained("majority", n=3)
    with pytest.raises(ExtractionError, match="unknown extraction method 'nope'.*fsm"):
        extraction.extract(net, "nope")
    for seconds in (0, -2.0, None):
        with pytest.raises(ExtractionError, match="seconds"):
            extraction.extract(net, "boolean", seconds=seconds)


@pytest.mark.parametrize("net_of, method, why", [
    (lambda: trained("majority", n=3), "fsm", "recurrent"),
    (lambda: trained("majority", n=3), "lstar", "recurrent"),
    (lambda: trained("running_parity", length=8), "boolean", "ReLU hidden layer"),
    (lambda: trained("running_parity", length=8), "linear", "ReLU hidden layer"),
    (lambda: trained("running_parity", length=8), "fourier", "embeddings"),
    (lambda: trained_tokens("majority", n=3), "fourier", "two residues"),
    (lambda: trained("maximum", bits=3), "fourier", "has none"),  # an MLP on the values themselves
])
def test_a_method_that_does_not_apply_abstains_with_the_reason(net_of, method, why):
    r = extraction.extract(net_of(), method, seconds=5)
    assert r.status == "abstained" and r.program is None
    assert r.reasons and why in r.reasons[0]
    assert r.faithfulness == {"agreement": None, "interchange": None, "splice": None, "interchange_distributed": None,
                              "controls": {"untrained": None, "rewritten": None}}
    assert r.method == method


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("name, params, lr", [("majority", {"n": 3}, 1e30), ("parity", {"n": 4}, 1e6),
                                              ("running_parity", {"length": 4}, 1e6)])
def test_a_network_whose_training_failed_is_an_error(name, params, lr):
    net = extraction.train(toy_tasks.get(name, **params), lr=lr, seconds=10)
    assert net.status == "error"
    for method in sorted(BUILT_IN):
        r = extraction.extract(net, method, seconds=5)
        assert r.status == "error" and r.program is None
        assert "training failed" in r.reasons[0] and "diverged" in r.reasons[0] and "step" in r.reasons[0]
        assert set(r.faithfulness) == FAITHFULNESS_KEYS  # every status carries every key


def broken(net, how: str):
    """A copy of ``net`` with every weight NaN, or every weight scaled past what float32 can carry."""
    model = copy.deepcopy(net.model)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan")) if how == "nan" else p.mul_(1e30)
    return with_model(net, model)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("name, params, how, why", [
    (name, params, how, why)
    for name, params in [("majority", {"n": 3}), ("modular_addition", {"p": 7}), ("maximum", {"bits": 3}),
                         ("running_parity", {"length": 8})]
    for how, why in [("nan", "weights are not finite"), ("huge", "outputs are NaN or inf")]
    if not (how == "huge" and name == "running_parity")  # saturated gates keep a GRU finite however large
])
def test_a_network_that_computes_nan_is_an_error_not_a_reading(name, params, how, why):
    # its argmax answers look like a constant, but nothing computed them: no method may read a program
    bad = broken(trained(name, **params), how)
    for method in sorted(BUILT_IN):
        r = extraction.extract(bad, method, seconds=5)
        assert r.status == "error" and r.program is None, (method, r.status, r.reasons)
        assert why in r.reasons[0]


@pytest.mark.parametrize("name, params", [
    ("modular_addition", {"p": 7}),
    ("majority", {"n": 3}),
    ("maximum", {"bits": 3}),
    ("running_parity", {"length": 8}),
    ("contains", {"values": 3, "length": 4}),
])
def test_auto_reads_a_correct_program_from_a_trained_network(name, params):
    net = trained(name, **params)
    r = extraction.extract(net, "auto", seconds=60)
    assert r.status == "solved", r.reasons
    assert task_of(net).verify(r.program).equal
    assert set(r.faithfulness) == FAITHFULNESS_KEYS and set(r.faithfulness["controls"]) == {"untrained", "rewritten"}
    assert r.faithfulness["agreement"] == 1.0
    for key in ("interchange", "splice"):
        assert r.faithfulness[key] is None or 0.0 <= r.faithfulness[key] <= 1.0
    assert r.details["method"] in BUILT_IN - {"auto", "blackbox"}  # read from the internals
    assert r.seconds > 0 and r.method == "auto"


@pytest.mark.parametrize("name, params, method", [
    ("majority", {"n": 3}, "linear"),
    ("maximum", {"bits": 3}, "linear"),
    ("modular_addition", {"p": 7}, "fourier"),
    ("running_sum_mod", {"k": 3, "length": 6}, "fsm"),
    ("running_parity", {"length": 8}, "lstar"),
    ("contains", {"values": 3, "length": 4}, "auto"),
])
def test_extraction_is_deterministic_per_seed(name, params, method):
    net = trained(name, **params)
    a = extraction.extract(net, method, seconds=60, seed=5)
    b = extraction.extract(net, method, seconds=60, seed=5)
    assert a.status == b.status == "solved"
    assert a.program == b.program and str(a.program) == str(b.program)
    assert a.faithfulness == b.faithfulness
    assert a.reasons == b.reasons


def test_a_recurrent_reading_reports_splice_and_distributed_interchange_not_the_whole_state_swap():
    """Setting a recurrent net's whole state to another input's is running the spliced input, on which a
    program that agrees everywhere cannot fail: it is kept in ``details``, never reported as F2."""
    r = extraction.extract(trained("running_sum_mod", k=3, length=6), "fsm", seconds=60)
    assert r.status == "solved"
    assert {k: r.faithfulness[k] for k in ("agreement", "interchange", "splice")} == {"agreement": 1.0, "interchange": None,
                                                                                      "splice": 1.0}
    assert r.details["interchange_whole_state"] == 1.0  # as it must be, with agreement 1
    assert r.faithfulness["interchange_distributed"] is not None


# --- the random-network control ------------------------------------------------------------------

def applicable(net) -> list[str]:
    return [m for m in sorted(BUILT_IN) if not registry()[m].applies(net)]


def check_control(net, seconds: float) -> list[str]:
    """Every applicable extractor on ``net`` (which must not compute its task): none may report the task
    solved. Returns the statuses seen."""
    assert not computes_task(net)
    seen = []
    for method in applicable(net):
        r = extraction.extract(net, method, seconds=seconds, seed=0)
        assert r.status in STATUSES
        if r.program is not None:
            assert not (r.status == "solved" and task_of(net).verify(r.program).equal), (method, str(r.program))
            # whatever it returned describes the network, so it cannot be the task's program where it agrees
            if r.faithfulness["agreement"] == 1.0:
                assert not task_of(net).verify(r.program).equal
        seen.append(f"{method}:{r.status}")
    return seen


@pytest.mark.parametrize("case", QUICK, ids=quick_id)
def test_no_extractor_solves_the_task_from_an_untrained_network(case):
    name, params = case
    net = untrained(trained(name, **params), seed=0)
    seen = check_control(net, seconds=1.0)
    assert seen  # auto and blackbox apply to every network


@pytest.mark.slow
@pytest.mark.parametrize("case", QUICK, ids=quick_id)
def test_no_extractor_solves_the_task_from_an_untrained_network_at_five_seconds(case):
    name, params = case
    check_control(untrained(trained(name, **params), seed=1), seconds=5.0)


# --- a network that is not exact -----------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_inexact_network_gets_an_unfaithful_reading_not_a_solved_one(seed):
    # An untrained GRU of the default width (16) on running_sum_mod: its states do not cluster into any 3-state
    # machine, so the majority machine fsm reads (max_suffixes=1: states told apart by their output alone)
    # disagrees with it. (A narrow one, as the width search keeps, may be a machine fsm reads faithfully.)
    net = extraction.untrained(toy_tasks.get("running_sum_mod", k=3, length=6), "gru", seed=seed)
    assert not computes_task(net)
    r = extraction.extract(net, "fsm", seconds=60, max_suffixes=1)
    assert r.status in ("unfaithful", "partial"), r.reasons
    assert r.program is not None and r.faithfulness["agreement"] < 1.0
    assert any("agrees with the network on" in why for why in r.reasons)
    assert not task_of(net).verify(r.program).equal


def _planted(name: str, interchange: float, calls: list):
    """Register (once) a reader that returns the task's reference program with the given F2 and splice 1: exact on
    a network that computes the task, the mechanism only with ``interchange`` at the gate."""
    if name not in registry():
        @extraction.extractor(name)
        def planted():
            def run(net, budget, rng):
                calls.append((name, round(budget.left, 1)))
                return extraction.Reading(task_of(net).reference, (), interchange, 1.0)
            return run
    return name


def test_auto_keeps_a_later_reading_that_is_the_mechanism_over_an_exact_one_that_is_not(monkeypatch):
    from extraction.methods import auto

    calls: list = []
    net = trained("running_parity", length=8)
    exact = _planted("_planted_exact_not_mechanism", 0.5, calls)
    also = _planted("_planted_also_not_mechanism", 0.6, calls)
    mechanism = _planted("_planted_mechanism", 1.0, calls)
    monkeypatch.setattr(auto, "plan", lambda trained: [exact, also, mechanism, "fsm"])
    r = extraction.extract(net, "auto", seconds=40)
    assert r.status == "solved" and r.details["method"] == mechanism and extraction.is_mechanism(r.faithfulness)
    assert [c[0] for c in calls] == [exact, also, mechanism]  # fsm never runs: the mechanism was found
    assert calls[1][1] <= auto.MECHANISM_SHARE * 40 + 0.1  # a later reader gets a share of what is left
    # where no later reader is the mechanism, the first exact reading stands (the others are not kept)
    calls.clear()
    monkeypatch.setattr(auto, "plan", lambda trained: [exact, also])
    r = extraction.extract(net, "auto", seconds=40)
    assert r.details["method"] == exact and r.faithfulness["interchange"] == 0.5
    assert [c[0] for c in calls] == [exact, also]
    # a first reading that is the mechanism ends it at once
    calls.clear()
    monkeypatch.setattr(auto, "plan", lambda trained: [mechanism, exact])
    r = extraction.extract(net, "auto", seconds=40)
    assert r.details["method"] == mechanism and [c[0] for c in calls] == [mechanism]
