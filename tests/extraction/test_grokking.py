"""Modular arithmetic in the grokking regime: the encoding chosen from the problem (residues get token
embeddings whatever the family label; other integer functions keep their numeric MLP), a network grokked
from part of the p = 37 table (the standard suite's) and read by ``fourier`` with the splice holding, key
frequencies, and the
clock/pizza measures on constructed logits whose answer is known."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import extraction
import toy_tasks
from extraction.methods.fourier import (
    algorithm_of,
    distance_irrelevance,
    embedding_two_inputs,
    key_frequencies,
    logit_forms,
)
from extraction.train import residues
from toy_tasks import Int


def user(source: str, p: int, **kw):
    return toy_tasks.from_program("user", f"def f(a, b):\n    return {source}", {"a": Int(0, p), "b": Int(0, p)}, **kw)


@pytest.mark.parametrize("source, p", [("(a + b) % 17", 17), ("(a * b) % 23", 23), ("(2 * a + 3 * b) % 31", 31)])
def test_a_user_modular_task_is_treated_as_the_built_in_one(source, p):
    task = user(source, p)
    assert task.family == "user" and residues(task.problem()) == p
    net = extraction.untrained(task)
    built_in = extraction.untrained(toy_tasks.get("modular_addition"))
    keys = ("numeric", "embed", "hidden", "lr", "weight_decay", "give_up_after")
    assert {k: net.settings[k] for k in keys} == {k: built_in.settings[k] for k in keys}
    assert not net.settings["numeric"]
    assert embedding_two_inputs(net) == []  # fourier applies


def test_a_user_modular_task_trains_token_embeddings_and_fourier_reads_it():
    task = user("(a + b) % 17", 17)
    net = extraction.train(task, seconds=30)
    assert net.status == "trained" and not net.settings["numeric"]
    reading = extraction.extract(net, "fourier", seconds=10)
    assert reading.status == "solved" and task.verify(reading.program).equal


@pytest.mark.parametrize("name, params", [("absolute_difference", {"bits": 3}), ("maximum", {"bits": 3}),
                                          ("minimum", {"bits": 4}), ("mean_floor", {"bits": 3})])
def test_integer_functions_that_are_not_modular_keep_their_numeric_mlp(name, params):
    task = toy_tasks.get(name, **params)
    assert residues(task.problem()) is None
    assert extraction.untrained(task).settings["numeric"]


@pytest.mark.parametrize("source, p", [("abs(a - b)", 16), ("max(a, b)", 9), ("(a + b) % 17 + 1", 17),
                                       ("min(a + b, 16)", 17)])
def test_what_does_not_wrap_within_its_range_is_not_residues(source, p):
    assert residues(user(source, p).problem()) is None


def test_a_network_grokked_from_part_of_its_table_is_read_with_the_splice_holding():
    task = toy_tasks.get("modular_addition")  # p = 37, 60% of the table: about 5 s
    p = task.params["p"]
    net = extraction.train(task, seconds=60, seed=0)
    assert net.examples == round(task.example_fraction * p * p) < p * p
    assert net.status == "trained" and net.heldout_accuracy == 1.0
    reading = extraction.extract(net, "fourier", seconds=20)
    assert reading.status == "solved" and task.verify(reading.program).equal
    assert reading.faithfulness["splice"] >= 0.99
    d = reading.details
    assert d["family"] == "add" and d["additive_concentration"] > 0.8
    assert all(1 <= k <= p // 2 for keys in d["key_frequencies"].values() for k in keys)
    assert 0.0 <= d["distance_irrelevance"] <= 1.0 and -1.0 <= d["gradient_symmetricity"] <= 1.0
    assert d["algorithm"] == algorithm_of(d["pizza_weight"])


P = 31
A, B = (g.ravel() for g in np.meshgrid(np.arange(P), np.arange(P), indexing="ij"))
FREQS = (3, 7, 11)


def constructed_logits(kind: str, mix: float = 0.0, delta: float = 0.0) -> np.ndarray:
    """Logits over the answers c of (a + b) % P: the clock's cos(w(a+b-c)) (Nanda et al.), or the pizza's
    |cos(w(a-b)/2 + delta)| cos(w(a+b-c)) (Zhong et al. 2023; delta a phase between the inputs' circles), summed
    over the key frequencies; "mixed": the pizza in proportion ``mix``, the clock of the same mean amplitude
    in 1 - mix."""
    c = np.arange(P)[None, :]
    out = np.zeros((len(A), P))
    for k in FREQS:
        w = 2 * np.pi * k / P
        pizza = np.abs(np.cos(w * (A - B) / 2 + delta))[:, None]
        scale = {"clock": 1.0, "pizza": pizza, "mixed": mix * pizza + (1 - mix) * pizza.mean()}[kind]
        out += scale * np.cos(w * (A[:, None] + B[:, None] - c))
    return out


@pytest.mark.parametrize("kind", ["clock", "pizza"])
def test_clock_and_pizza_are_told_apart_on_constructed_logits(kind):
    logits = constructed_logits(kind) + np.random.default_rng(0).normal(0, 0.05, (len(A), P))
    assert np.array_equal(logits.argmax(1), (A + B) % P)  # both compute the sum
    answer = logits[np.arange(len(A)), (A + B) % P] - logits.mean(1)
    q = distance_irrelevance(answer, (A - B) % P)
    assert (q > 0.9) if kind == "clock" else (q < 0.2)  # Zhong et al.: their clock 0.85, their pizza 0.17
    forms = logit_forms(logits, A, B, np.arange(P), P, FREQS)
    assert forms["joint_fit"] > 0.95
    assert algorithm_of(forms["pizza_weight"]) == kind


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, np.pi), st.integers(0, 2**31))
def test_the_pizza_weight_is_the_mixture_weight(mix, delta, seed):
    logits = constructed_logits("mixed", mix, delta) + np.random.default_rng(seed).normal(0, 0.02, (len(A), P))
    forms = logit_forms(logits, A, B, np.arange(P), P, FREQS)
    assert forms["pizza_weight"] == pytest.approx(mix, abs=0.06)  # delta found on a grid of pi / 24


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=0.01, max_value=100), st.floats(min_value=-100, max_value=100), st.integers(0, 2**31))
def test_distance_irrelevance_is_a_share_unchanged_by_a_positive_affine_map(scale, shift, seed):
    rng = np.random.default_rng(seed)
    logit = rng.normal(size=len(A)) + rng.random() * np.cos(2 * np.pi * 5 * (A - B) / P)
    q = distance_irrelevance(logit, (A - B) % P)
    assert 0.0 <= q <= 1.0
    assert distance_irrelevance(scale * logit + shift, (A - B) % P) == pytest.approx(q, abs=1e-9)


def test_a_logit_that_does_not_vary_is_distance_irrelevant():
    assert distance_irrelevance(np.full(len(A), 3.0), (A - B) % P) == 1.0


@settings(max_examples=30, deadline=None)
@given(st.sets(st.integers(1, 15), min_size=1, max_size=5), st.integers(0, 2**31))
def test_key_frequencies_are_the_planted_ones(freqs, seed):
    rng = np.random.default_rng(seed)
    x = np.arange(P)[:, None]
    table = sum(rng.uniform(1, 2) * np.cos(2 * np.pi * k * x / P + rng.uniform(0, 6.28, (1, 8))) for k in freqs)
    table = table + rng.normal(0, 0.01, table.shape)
    assert set(key_frequencies(table)) == set(freqs)


def test_a_numeric_mlp_that_stalls_falls_back_to_token_embeddings():
    # answers 1..17 are not residues 0..16, so the signature picks the numeric MLP; it does not write a
    # product's wrap-arounds in time and its trend stops it early; the rest of the budget trains token
    # embeddings (a sum's one wrap-around it does write: (a + b) % 17 + 1 trains exact as numbers)
    task = user("(a * b) % 17 + 1", 17)
    assert extraction.untrained(task).settings["numeric"]
    net = extraction.train(task, seconds=10, give_up_after=0.1)
    first, second = net.settings["attempts"]
    assert (first["path"], first["numeric"], first["status"], first["kept"]) == ("numeric", True, "budget", False)
    assert (second["path"], second["numeric"], second["kept"]) == ("tokens", False, True)
    assert net.status == "trained" and not net.settings["numeric"] and net.domain_accuracy == 1.0
