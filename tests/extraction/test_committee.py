"""extraction.committee: a regressing recurrent net chosen among nets of its width from other seeds by their
majority on the domain's inputs. The count off the majority is what its definition says; ``elect`` keeps the
member the majority agrees with, ends early when two exact members agree, skips members not exact and stops at
the budget; ``train`` records the committee, keeps a member exact on every example and runs it only where it
applies."""
from __future__ import annotations

import copy
import time
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import extraction
import toy_tasks
from extraction.committee import SEATS, TRIES, answers, committee_applies, elect, off_majority
from extraction.train import accuracy, problem_of
from programs import Int, Seq


def count_task():
    """How often the target occurs, over 3 letters and sequences up to 4: a counter a GRU regresses (more answers
    than letters); trained on ``HALF`` of its domain."""
    src = "def count_t(xs, t):\n    c = 0\n    for x in xs:\n        c = c + (1 if x == t else 0)\n    return c\n"
    return toy_tasks.from_program("count_t", src, {"xs": Seq(Int(0, 3), length=(1, 4)), "t": Int(0, 3)})


HALF = 0.5


@pytest.fixture(scope="module")
def first():
    """The first net alone (no committee), exact on its examples."""
    net = extraction.train(count_task(), examples=HALF, seconds=30, seed=0, committee=False)
    assert net.status == "trained"
    return net


def member(net, status: str = "trained", seed: int = 0, shift: float = 0.0):
    """What ``fit`` returns, as far as ``elect`` reads it: a copy of ``net``'s model (its readout moved by ``shift``
    values, which changes every answer for a shift of 1 or more), its status and seed."""
    model = copy.deepcopy(net.model)
    with torch.no_grad():
        model.readout.bias += shift / model.readout.scale
    return SimpleNamespace(model=model, status=status, seed=seed)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 5), st.integers(1, 6), st.integers(1, 3), st.data())
def test_off_majority_counts_inputs_off_a_strict_majority(m, n, k, data):
    votes = data.draw(hnp.arrays(np.int64, (m, n, k), elements=st.integers(0, 2)))
    off = off_majority(votes)
    for i in range(m):
        expected = 0
        for j in range(n):
            for o in range(k):
                top, times = Counter(votes[:, j, o].tolist()).most_common(1)[0]
                if times * 2 <= m or votes[i, j, o] != top:
                    expected += 1
                    break
        assert off[i] == expected


def test_elect_keeps_the_member_the_majority_agrees_with(first):
    problem = first.problem
    wrong = member(first, seed=0, shift=2.0)
    others = iter([member(first, seed=2), member(first, seed=3)])
    chosen, record = elect(wrong, problem, first.encoding, lambda s, share: next(others), seed=0, first_seconds=1.0,
                           deadline=time.perf_counter() + 60)
    n = record["compared"]
    inputs, lengths, _ = problem.domain_inputs(cap=n, seed=0)
    right = answers(first.model, first.encoding, inputs, lengths)
    moved = int((answers(wrong.model, first.encoding, inputs, lengths) != right).any(axis=1).sum())
    assert moved > n // 2  # the moved readout answers most inputs otherwise (not those clamped to an end value)
    assert record["why"] == "majority" and record["kept"] == 1
    assert [m["off"] for m in record["members"]] == [moved, 0, 0]
    assert chosen.seed == 2
    assert np.array_equal(answers(chosen.model, first.encoding, inputs, lengths), right)
    assert record["passes"] == SEATS * n


def test_two_exact_members_that_agree_end_it_with_the_first_kept(first):
    calls = []

    def fit_member(s, share):
        calls.append((s, share))
        return member(first, seed=s)

    chosen, record = elect(member(first), first.problem, first.encoding, fit_member, seed=5, first_seconds=1.5,
                           deadline=time.perf_counter() + 60)
    assert record["why"] == "agreed" and record["kept"] == 0 and len(record["members"]) == 2
    assert calls == [(7, 3.0)]  # seed + 2 (the race used seed and seed + 1), twice the first net's seconds
    assert chosen.seed == 0


def test_members_short_of_exact_are_skipped_up_to_the_tries(first):
    chosen, record = elect(member(first), first.problem, first.encoding,
                           lambda s, share: member(first, status="budget", seed=s), seed=0, first_seconds=1.0,
                           deadline=time.perf_counter() + 60)
    assert len(record["members"]) == TRIES and record["why"] == "too few exact" and record["kept"] == 0
    assert [m["seed"] for m in record["members"]] == [0, 2, 3, 4, 5]
    assert all("off" not in m for m in record["members"])


def test_a_spent_budget_trains_no_member(first):
    def fit_member(s, share):
        raise AssertionError("no member fits in a spent budget")

    chosen, record = elect(member(first), first.problem, first.encoding, fit_member, seed=0, first_seconds=1.0,
                           deadline=time.perf_counter())
    assert record["why"] == "budget" and len(record["members"]) == 1 and record["kept"] == 0


def test_train_keeps_a_member_exact_on_every_example_and_records_the_committee():
    net = extraction.train(count_task(), examples=HALF, seconds=30, seed=0)
    record = net.settings["elected"]
    assert record["why"] in ("agreed", "majority", "too few exact", "budget")
    kept = record["members"][record["kept"]]
    assert kept["status"] == "trained" and net.settings["seed"] == kept["seed"]
    assert net.status == "trained"
    assert accuracy(net.model, net.encoding, net.encoding.batch(net.problem.examples.inputs,
                                                                net.problem.examples.lengths),
                    net.encoding.targets(net.problem.examples.outputs, net.problem.examples.lengths)) == 1.0
    assert record["compared"] == net.problem.domain_inputs()[0]["xs"].shape[0]


def test_the_committee_runs_only_where_it_applies(first):
    assert first.settings["committee"] is False and "elected" not in first.settings  # asked off
    problem = first.problem
    assert committee_applies(first.model, problem, "gru", first.settings)
    assert not committee_applies(first.model, problem, "gru", {**first.settings, "numeric": True})
    whole = problem_of(count_task(), None, 0)  # the default examples: the whole domain, nothing past them
    assert whole.examples.complete and not committee_applies(first.model, whole, "gru", first.settings)
    src = "def mod3(xs):\n    s = 0\n    for x in xs:\n        s = (s + x) % 3\n        yield s\n"
    mod3 = toy_tasks.from_program("mod3", src, {"xs": Seq(Int(0, 3), length=(1, 6))})
    classifying = extraction.train(mod3, examples=HALF, seconds=20, seed=0)  # the snap's, not the committee's
    assert not classifying.problem.examples.complete
    assert not getattr(classifying.model, "regress", False) and "elected" not in classifying.settings
    # a scan's answers are compared step by step, none past a sequence's end
    inputs, lengths, _ = classifying.problem.domain_inputs(cap=500, seed=1)
    got = answers(classifying.model, classifying.encoding, inputs, lengths)
    past = np.arange(got.shape[1])[None, :] >= lengths[:, None]
    assert got.shape == (500, 6) and np.all(got[past] == -1) and np.all(got[~past] >= 0)


def test_a_bad_committee_option_is_refused():
    with pytest.raises(extraction.TrainingError, match="committee"):
        extraction.train(count_task(), examples=HALF, seconds=5, committee="yes")
