"""extraction.train: deterministic per seed, exact on quick-suite tasks, typed refusals, divergence and
budget outcomes recorded with their reasons, and every architecture's output layout."""
from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import extraction
import toy_tasks
from extraction import TrainingError
from extraction.train import WIDTH_KEY


def weights(trained) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trained.model.state_dict().items()}


@pytest.mark.parametrize("name, params", [("majority", {"n": 3}), ("maximum", {"bits": 3}),
                                          ("running_parity", {"length": 8})])
def test_training_is_deterministic_per_seed(name, params):
    task = toy_tasks.get(name, **params)
    a, b = extraction.train(task, seed=3), extraction.train(task, seed=3)
    assert a.status == b.status == "trained"
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    for field in ("train_accuracy", "domain_accuracy", "steps", "params", "flops", "arch", "status", "examples",
                  "heldout_accuracy", "reasons"):
        assert getattr(a, field) == getattr(b, field), field
    assert without_wall_time(a.settings) == without_wall_time(b.settings)
    assert a.seconds > 0 and b.seconds > 0  # wall time is the one field that may differ
    other = extraction.train(task, seed=4)
    if "quantised" not in (a.settings.get("normalised") or {}):  # integer nets from two seeds may be one net
        assert not all(torch.equal(wa[k], v) for k, v in weights(other).items())


def without_wall_time(settings: dict) -> dict:
    """The settings record less each training attempt's wall seconds (a numeric MLP records its attempt)."""
    attempts = [{k: v for k, v in att.items() if k != "seconds"} for att in settings.get("attempts", [])]
    return {**settings, "attempts": attempts}


@pytest.mark.parametrize("name, params, arch", [
    ("modular_addition", {"p": 7}, "mlp"),
    ("majority", {"n": 3}, "mlp"),
    ("maximum", {"bits": 3}, "mlp"),
    ("running_sum_mod", {"k": 3, "length": 6}, "gru"),
    ("contains", {"values": 3, "length": 4}, "gru"),
])
def test_quick_suite_tasks_train_to_exact(name, params, arch):
    task = toy_tasks.get(name, **params)
    assert task.name in {t.name for t in toy_tasks.suite("quick")}
    net = extraction.train(task)
    assert net.status == "trained" and net.reasons == ()
    assert net.arch == arch and net.model.arch == arch
    assert net.train_accuracy == 1.0 and net.domain_accuracy == 1.0
    assert net.steps > 0 and net.seconds > 0 and net.params > 0 and net.flops > 0
    dom = task.examples(None)
    assert np.array_equal(net.predict(dom.inputs, dom.lengths), dom.outputs)


@pytest.mark.parametrize("task, arch, match", [
    (toy_tasks.get("running_parity", length=4), "mlp", "sequence.*gru"),
    (toy_tasks.get("running_parity", length=4), "transformer", "sequence"),
    (toy_tasks.get("majority", n=3), "gru", "has none.*mlp"),
    (toy_tasks.get("majority", n=3), "rnn", "has none"),
    (toy_tasks.get("majority", n=3), "lstm", "unknown architecture 'lstm'.*mlp"),
])
def test_an_architecture_that_does_not_fit_is_refused_with_a_reason(task, arch, match):
    with pytest.raises(TrainingError, match=match):
        extraction.train(task, arch)


def test_unknown_options_and_bad_budgets_are_refused():
    task = toy_tasks.get("majority", n=3)
    with pytest.raises(TrainingError, match="unknown option.*momentum.*known: lr"):
        extraction.train(task, momentum=0.9)
    with pytest.raises(TrainingError, match="d_model"):  # a transformer size is not an MLP option
        extraction.train(task, "mlp", d_model=8)
    for seconds in (0, -1, "10"):
        with pytest.raises(TrainingError, match="seconds"):
            extraction.train(task, seconds=seconds)
    for search in ("yes", 1, 0.0):
        with pytest.raises(TrainingError, match="search must be True, False or None"):
            extraction.train(task, search=search)


@pytest.mark.filterwarnings("error")  # reporting the loss must not warn (float() of a tensor that needs grad did)
@pytest.mark.parametrize("name, params, arch, search", [("modular_addition", {"p": 7}, "mlp", None),
                                                        ("modular_addition", {"p": 7}, "transformer", None),
                                                        ("running_parity", {"length": 8}, "gru", False),
                                                        ("running_parity", {"length": 8}, "gru", None)])
def test_divergence_is_an_error_naming_the_step(name, params, arch, search):
    # lr=1e30 overflows the weights within two steps (AdamW steps are about lr in size). One network checks its
    # loss at every step; the width search (the gru's default) stops a broken candidate's steps at once and
    # finds it broken at its first check (every ``eval_every`` steps)
    net = extraction.train(toy_tasks.get(name, **params), arch, lr=1e30, seconds=30, search=search)
    assert net.status == "error"
    assert len(net.reasons) == 1 and "diverged" in net.reasons[0]
    step = int(net.reasons[0].rsplit("step ", 1)[1])
    searched = "search" in net.settings
    assert searched == (search is None and arch == "gru")
    assert step == net.steps <= (net.settings["eval_every"] if searched else 2)
    assert net.domain_accuracy < 1


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("name, params, arch", [("parity", {"n": 4}, "mlp"), ("maximum", {"bits": 3}, "mlp"),
                                                ("running_parity", {"length": 8}, "gru"),
                                                ("running_parity", {"length": 4}, "rnn")])
@pytest.mark.parametrize("options", [{"lr": 1e6}, {"weight_decay": 1e12}], ids=str)
def test_a_large_rate_ends_in_an_error_with_the_step_where_the_loss_broke(name, params, arch, options):
    net = extraction.train(toy_tasks.get(name, **params), arch, seconds=30, **options)
    assert net.status == "error" and len(net.reasons) == 1, net.reasons
    why = net.reasons[0]
    assert "diverged" in why and ("nan" in why or "inf" in why)
    assert int(why.rsplit("step ", 1)[1]) == net.steps


@pytest.mark.parametrize("numeric", [True, False])
def test_weights_broken_between_losses_are_an_error_naming_the_step(monkeypatch, numeric):
    # an optimiser whose fourth step leaves an infinity in the weights: the next check (eval_every=1)
    # finds it before any loss is computed from them
    class Breaking(torch.optim.AdamW):
        taken = 0

        def step(self, closure=None):
            out = super().step(closure)
            Breaking.taken += 1
            if Breaking.taken == 4:
                with torch.no_grad():
                    self.param_groups[0]["params"][-1].fill_(float("inf"))
            return out

    monkeypatch.setattr(torch.optim, "AdamW", Breaking)
    # numbers asked for: no fallback to token embeddings after the numeric net diverges
    net = extraction.train(toy_tasks.get("parity", n=4), seconds=30, eval_every=1, numeric=numeric)
    assert net.status == "error" and net.steps == 4
    assert net.reasons == ("training diverged: the weights (out.bias) became NaN or inf by step 4",)


@pytest.mark.parametrize("arch, options, name", [
    ("mlp", {"lr": float("nan")}, "lr"), ("mlp", {"lr": float("inf")}, "lr"), ("mlp", {"lr": 0}, "lr"),
    ("mlp", {"lr": -1e-3}, "lr"), ("mlp", {"lr": "fast"}, "lr"), ("mlp", {"weight_decay": -1.0}, "weight_decay"),
    ("mlp", {"weight_decay": float("nan")}, "weight_decay"), ("mlp", {"hidden": 0}, "hidden"),
    ("mlp", {"embed": 2.5}, "embed"), ("mlp", {"eval_every": 0}, "eval_every"), ("mlp", {"numeric": "yes"}, "numeric"),
    ("transformer", {"d_model": 10}, "d_model"),
])
def test_settings_no_network_can_train_with_are_refused_naming_them(arch, options, name):
    with pytest.raises(TrainingError, match=name):
        extraction.train(toy_tasks.get("majority", n=3), arch, seconds=5, **options)


@pytest.mark.parametrize("options, name", [({"noise": -0.1}, "noise"), ({"noise": float("nan")}, "noise"),
                                           ({"anneal": 0.0}, "anneal"), ({"anneal": 1.5}, "anneal"),
                                           ({"late": "yes"}, "late"), ({"domain": "yes"}, "domain"),
                                           ({"calm": 1}, "calm")])
def test_recurrent_training_options_out_of_range_are_refused_naming_them(options, name):
    with pytest.raises(TrainingError, match=name):
        extraction.train(toy_tasks.get("running_parity", length=4), "gru", seconds=5, **options)


def test_drift_training_is_off_unless_asked_and_never_noises_a_numeric_net():
    from extraction.search import state_noise

    plain = extraction.untrained(toy_tasks.get("running_parity", length=4)).settings
    assert (plain["noise"], plain["late"], plain["anneal"]) == (0.0, False, 1.0)
    asked = extraction.untrained(toy_tasks.get("running_parity", length=4), noise=0.1, late=True, anneal=0.1)
    assert (asked.settings["noise"], asked.settings["late"], asked.settings["anneal"]) == (0.1, True, 0.1)
    assert state_noise(asked.model, asked.settings) == 0.1
    numeric = extraction.untrained(toy_tasks.get("running_max", values=100, length=4), noise=0.1)
    assert numeric.model.numeric and state_noise(numeric.model, numeric.settings) == 0.0


def test_a_tiny_budget_stops_before_exact():
    # (a+b)%31 from half its table does not generalise in a few dozen steps: exact only on what it saw
    task = toy_tasks.get("modular_addition", p=31)
    net = extraction.train(task, examples=0.5, seconds=0.05)
    assert net.status == "budget"
    assert "budget" in net.reasons[0] and f"{net.steps} steps" in net.reasons[0]
    assert net.domain_accuracy < 1 and net.heldout_accuracy is not None and net.heldout_accuracy < 1
    assert net.examples == task.domain_size // 2


@pytest.mark.parametrize("name, params, arch", [
    ("modular_addition", {"p": 5}, "transformer"),
    ("majority", {"n": 3}, "transformer"),
    ("running_parity", {"length": 4}, "rnn"),
    ("first_index", {"values": 3, "length": 4}, "rnn"),
    ("binary_addition", {"length": 3}, "rnn"),
])
def test_transformer_and_elman_rnn_train_and_predict_in_the_task_layout(name, params, arch):
    task = toy_tasks.get(name, **params)
    net = extraction.train(task, arch, seconds=60)
    assert net.status == "trained" and net.arch == arch
    dom = task.examples(None)
    got = net.predict(dom.inputs, dom.lengths)
    assert got.shape == np.asarray(dom.outputs).shape
    assert got.dtype.kind == "i"
    assert np.array_equal(got, dom.outputs)


def test_examples_can_be_a_count_a_fraction_or_an_example_set():
    task = toy_tasks.get("maximum", bits=3)
    # short budgets: from part of the table the held-out tenth may never come out exact
    assert extraction.train(task, examples=20, seconds=0.2).examples == 20
    assert extraction.train(task, examples=0.5, seconds=0.2).examples == 32
    ex = task.examples(40, seed=1)
    assert extraction.train(task, examples=ex, seconds=0.2).examples == 40
    with pytest.raises(TrainingError):
        extraction.train(task, examples=1.5)
    with pytest.raises(TrainingError, match="no examples"):
        extraction.train(task, examples=task.examples(0))


@pytest.mark.parametrize("name, params, arch", [
    ("modular_addition", {"p": 7}, "mlp"),
    ("majority", {"n": 3}, "mlp"),
    ("maximum", {"bits": 3}, "mlp"),
    ("maximum", {"bits": 3}, "transformer"),
    ("running_parity", {"length": 8}, "gru"),
    ("running_parity", {"length": 8}, "rnn"),
])
@pytest.mark.parametrize("search", [False, None], ids=["one network", "default"])
def test_the_untrained_network_is_where_training_starts_and_every_extractor_judges_it_alike(name, params, arch, search):
    task = toy_tasks.get(name, **params)
    start = extraction.untrained(task, arch, seed=2)
    net = extraction.train(task, arch, seed=2, seconds=1e-9, search=search)  # out of time at its first check: no step
    assert start.status == "untrained" and start.steps == 0 and net.steps == 0
    record = net.settings.get("search")
    assert (record is not None) == (search is None and arch in ("gru", "rnn"))  # the recurrent nets' default
    if record is not None:
        # the search trains untrained's network (its default width, from the seed) among its candidates, and the
        # network it kept started from untrained at the kept width and seed
        assert start.settings[WIDTH_KEY[arch]] in record["widths"] and record["seeds"][0] == 2
        start = extraction.untrained(task, arch, seed=net.settings["seed"],
                                     **{WIDTH_KEY[arch]: net.settings[WIDTH_KEY[arch]]})
    assert (start.arch, start.settings, start.params) == (net.arch, {k: v for k, v in net.settings.items()
                                                                     if k != "search"}, net.params)
    assert start.encoding.scalars == net.encoding.scalars
    assert weights(start).keys() == weights(net).keys()
    assert all(torch.equal(a, b) for a, b in zip(weights(start).values(), weights(net).values()))
    for name_, entry in extraction.registry().items():  # applicability is the architecture's, not the weights'
        assert bool(entry.applies(start)) == bool(entry.applies(net)), name_


def test_domain_accuracy_counts_answers_no_head_knows_as_wrong():
    """A network names only values its heads know: where a task's answer is another value it is wrong, and
    ``domain_accuracy`` says so (it once skipped those steps as padding and read 1.0 here)."""
    from programs import parse

    from extraction.train import domain_accuracy

    inputs = {"xs": toy_tasks.Seq(toy_tasks.Int(0, 4), length=(1, 3))}
    net = extraction.compile(parse("def f(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n        yield s\n"), inputs)
    other = toy_tasks.from_program(
        "g", "def g(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n        yield s + 100 if s > 6 else s\n", inputs)
    dom = other.examples(None)
    outs, lengths = np.asarray(dom.outputs), np.asarray(dom.lengths)
    said = np.mean([all(v < 100 for v in row[:n]) for row, n in zip(outs, lengths)])  # the inputs it can answer
    assert 0.5 < said < 1.0
    assert domain_accuracy(net, other) == pytest.approx(said)


def _narrowed(trained, values):
    """``trained``'s network with heads that know only ``values`` (as if its examples showed no others)."""
    enc = replace(trained.encoding, heads=(np.asarray(values, dtype=np.int64),))
    model = copy.deepcopy(trained.model)
    model.encoding = enc
    model.readout = trained.model.readout.widened(enc)
    return replace(trained, model=model, encoding=enc)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(step=st.integers(1, 3), start=st.integers(-5, 5), shown=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_lattice_heads_name_what_the_network_regresses_past_its_examples(step, start, shown, seed):
    """A regressing net whose examples show only short inputs' sums names every sum it regresses on the domain
    once its heads are widened to its examples' lattice: the values it regresses are unchanged, it stays as right
    on its examples, and it becomes right on the whole domain (``domain_accuracy`` 1.0, from below 1)."""
    from programs import parse

    from extraction.train import accuracy, domain_accuracy, lattice_heads

    inputs = {"xs": toy_tasks.Seq(toy_tasks.Int(0, 10), length=(1, 3))}  # sums over 16 values: regressed
    source = f"def f(xs):\n    s = {start}\n    for x in xs:\n        s = s + {step} * x\n        yield s\n"
    task = toy_tasks.from_program("f", source, inputs)
    exact = extraction.compile(parse(source), inputs)
    rng = np.random.default_rng(seed)
    dom = task.examples(None)
    short = np.flatnonzero(np.asarray(dom.lengths) <= shown)
    rows = rng.choice(short, size=min(len(short), 20), replace=False)
    ex = toy_tasks.Examples({k: v[rows] for k, v in dom.inputs.items()}, dom.outputs[rows], dom.lengths[rows])
    seen = np.unique(ex.outputs[np.arange(ex.outputs.shape[1])[None, :] < ex.lengths[:, None]])
    narrow = _narrowed(exact, seen)
    problem = task.problem(ex)
    enc = narrow.encoding
    batch, targets = enc.batch(ex.inputs, ex.lengths), enc.targets(ex.outputs, ex.lengths)
    assert domain_accuracy(narrow, task) < 1.0
    model, wide, renumbered, record = lattice_heads(narrow.model, enc, problem, batch, targets)
    assert record is not None and record[0][1] > record[0][0]
    assert set(seen) <= set(wide.heads[0].tolist())
    if len(seen) > 1:  # the examples' lattice: their spacing
        assert np.all(np.diff(wide.heads[0]) % np.gcd.reduce(np.diff(seen)) == 0)
    full = enc.batch(dom.inputs, dom.lengths)
    with torch.no_grad():
        assert torch.allclose(model.readout.values(model.read(full)), narrow.model.readout.values(narrow.model.read(full)),
                              atol=1e-3)
    assert accuracy(model, wide, batch, renumbered) == accuracy(narrow.model, enc, batch, targets) == 1.0
    assert domain_accuracy(replace(narrow, model=model, encoding=wide), task) == 1.0


def test_lattice_heads_leave_a_classifying_network_alone():
    from extraction.train import lattice_heads

    task = toy_tasks.get("parity")
    net = extraction.train(task, seconds=5, seed=0, search=False)
    ex = net.problem.examples
    enc = net.encoding
    batch, targets = enc.batch(ex.inputs, ex.lengths), enc.targets(ex.outputs, ex.lengths)
    model, wide, renumbered, record = lattice_heads(net.model, enc, net.problem, batch, targets)
    assert record is None and model is net.model and wide is enc and renumbered is targets
