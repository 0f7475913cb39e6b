"""The hidden-unit readers' selection: greedy on conditional entropy, two features ahead where one says
nothing (an XOR), and units read one by one when merging them by readout direction loses the answer."""
from __future__ import annotations

import copy

import numpy as np
import torch
from _nets import task_of, trained, trained_tokens

import extraction
from extraction.compile import compile as compile_
from extraction.methods import units
from extraction.methods.units import Feature, _entropy, greedy, select
from extraction.train import with_model
from programs import Int, equivalent, parse
from programs.domains import enumerate_domain

BITS3 = {"a": Int(0, 2), "b": Int(0, 2), "c": Int(0, 2)}
MAJORITY = "def f(a, b, c):\n    return (a and b) or (a and c) or (b and c)\n"


def bit_features():
    arrays, _ = enumerate_domain(BITS3)
    return arrays, [Feature((i,), arrays[n]) for i, n in enumerate(BITS3)]


def test_selection_looks_two_features_ahead_when_one_says_nothing():
    # a ^ b: neither a nor b alone lowers the entropy of the answer; together they fix it
    arrays, feats = bit_features()
    answer = arrays["a"] ^ arrays["b"]
    assert sorted(select(feats, answer[:, None])) == [0, 1]
    chosen, left = greedy(feats, answer.shape[0], lambda block: _entropy(block, answer), max_steps=12)
    assert chosen == [] and left == 1.0  # without lookahead it is stuck at the start


def test_pairs_tried_are_bounded_and_only_an_improving_pair_is_taken():
    arrays, feats = bit_features()
    answer = arrays["a"] ^ arrays["c"]

    def score(block):
        return _entropy(block, answer)

    none = np.zeros(answer.shape[0], dtype=np.int64)
    assert units.best_pair(feats, none, score, [0, 1, 2], 1.0, pairs=3) == ([0, 2], 0.0)
    assert units.best_pair(feats, none, score, [0, 1, 2], 1.0, pairs=1) is None  # only (a, b) tried: no help
    assert units.best_pair(feats, none, score, [], 1.0, pairs=100) is None


def same_direction_majority():
    """Majority of three bits from three units that each copy one bit and write one readout direction:
    merged (on when any is on) they say only a or b or c."""
    net = compile_(MAJORITY, BITS3)
    model = copy.deepcopy(net.model)
    with torch.no_grad():
        model.hidden.weight.zero_()
        model.hidden.bias.fill_(-1.0)  # every other unit is off everywhere
        for i in range(3):  # unit i: the one-hot embedding of input i is 1 at dimension 1 when the bit is 1
            model.hidden.weight[i, i * model.embed["a"].embedding_dim + 1] = 1.0
            model.hidden.bias[i] = 0.0
        model.out.weight.zero_()
        model.out.weight[1, :3] = 1.0
        model.out.weight[0, :3] = -1.0
        model.out.bias.copy_(torch.tensor([1.5, -1.5]))
    return with_model(net, model)


def test_units_that_share_a_readout_direction_are_read_one_by_one_when_merging_loses_the_answer():
    net = same_direction_majority()
    arrays, _ = enumerate_domain(BITS3)
    assert np.array_equal(net.predict(arrays), (arrays["a"] + arrays["b"] + arrays["c"] >= 2).astype(np.int64))
    r = extraction.extract(net, "boolean", seconds=20)
    assert r.status == "solved", r.reasons
    assert r.details["merged"] is False and r.details["steps"] == 3
    assert equivalent(r.program, parse(MAJORITY), BITS3).equal


def test_boolean_reads_parity_from_a_network_trained_with_seed_4():
    # weight decay leaves most of this network's units writing the same direction (+-(1, -1)): merged,
    # they made two features that could not fix the answer, and boolean abstained
    net = trained("parity", seed=4, n=4)
    r = extraction.extract(net, "boolean", seconds=60)
    assert r.status == "solved", r.reasons
    assert task_of(net).verify(r.program).equal


def test_sum_of_products_minimisation_is_kept_to_tables_it_finishes_in_time(monkeypatch):
    # sympy's minimisation is outside the budget and exponential: parity of 5 bits reads out 11 steps,
    # whose 2**11-row table it did not finish in minutes with a 20 s budget
    widths = []
    real = units._sop

    def counting(names, cols, values):
        widths.append(len(names))
        return real(names, cols, values)

    monkeypatch.setattr(units, "_sop", counting)
    net = trained_tokens("parity", n=5)
    r = extraction.extract(net, "boolean", seconds=20)
    assert widths and max(widths) <= units.MAX_SOP_VARIABLES
    assert r.status in ("solved", "abstained", "timeout"), r.reasons
