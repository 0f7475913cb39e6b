"""Problem.domain_inputs: the inputs extractors read, all of the domain or a stated sample of distinct
inputs drawn without replacement (``programs.domains``' distinct sampling, which the fsm trace uses)."""
from __future__ import annotations

import numpy as np
import pytest

import toy_tasks
from programs import Int, Seq
from programs.domains import domain_size, enumerate_domain, sample_domain

SIGNATURES = [
    {"a": Int(0, 3), "b": Int(-2, 3)},
    {"xs": Seq(Int(0, 3), length=(1, 4)), "t": Int(1, 4)},
    {"t": Int(1, 3), "xs": Seq(Int(0, 2), length=(2, 4)), "ys": Seq(Int(-1, 2), length=(2, 4))},
    {"xs": Seq(Int(0, 4), length=5)},
]


def rows(inputs, arrays, lengths) -> list[tuple]:
    n = len(next(iter(arrays.values())))
    return [tuple(tuple(arrays[k][i, : lengths[i]]) if arrays[k].ndim == 2 else int(arrays[k][i]) for k in inputs)
            for i in range(n)]


@pytest.mark.parametrize("inputs", SIGNATURES, ids=str)
def test_positions_decode_to_the_enumeration(inputs):
    from programs.domains import decode_indices

    arrays, lengths = enumerate_domain(inputs)
    got, got_lengths = decode_indices(inputs, np.arange(domain_size(inputs)))
    assert list(got) == list(arrays)
    assert all(np.array_equal(got[k], arrays[k]) for k in inputs)
    assert (lengths is None and got_lengths is None) or np.array_equal(got_lengths, lengths)


@pytest.mark.parametrize("inputs", SIGNATURES, ids=str)
def test_a_distinct_sample_is_distinct_in_the_domain_and_deterministic(inputs):
    size = domain_size(inputs)
    every = set(rows(inputs, *enumerate_domain(inputs)))
    for n in (1, size // 3, size - 1, size):
        arrays, lengths = sample_domain(inputs, n, np.random.default_rng(7), distinct=True)
        drawn = rows(inputs, arrays, lengths if lengths is not None else np.zeros(n, dtype=int))
        assert len(drawn) == n == len(set(drawn)) and set(drawn) <= every
        again, again_lengths = sample_domain(inputs, n, np.random.default_rng(7), distinct=True)
        assert all(np.array_equal(arrays[k], again[k]) for k in inputs)
        for k, dom in inputs.items():  # padding past a sequence's end is 0, as enumerate_domain has it
            if isinstance(dom, Seq):
                assert not arrays[k][np.arange(dom.max_length)[None, :] >= lengths[:, None]].any()


class CountingGenerator:
    """A numpy Generator that counts the draws asked of it."""

    def __init__(self, seed: int):
        self.rng, self.calls = np.random.default_rng(seed), 0

    def __getattr__(self, name):
        attr = getattr(self.rng, name)

        def counted(*args, **kwargs):
            self.calls += 1
            return attr(*args, **kwargs)

        return counted if callable(attr) else attr


def test_most_of_a_domain_is_drawn_in_one_pass_not_by_redrawing_repeats():
    # fsm traces 5000 of binary_addition's 5460 inputs; redrawing repeats took hundreds of rounds (seconds)
    task = toy_tasks.get("binary_addition", length=6)
    assert task.domain_size == 5460
    rng = CountingGenerator(0)
    arrays, lengths = sample_domain(task.inputs, 5000, rng, distinct=True)
    assert len(lengths) == 5000 and rng.calls <= 2


def test_the_draw_follows_sample_domains_distribution():
    # sample_domain draws a length uniformly, then a tuple of that length: one draw of a single input
    # is as likely to be of each length, however many tuples each length has
    inputs = {"xs": Seq(Int(0, 3), length=(1, 3))}
    counts = np.zeros(4)
    for seed in range(1500):
        _, lengths = sample_domain(inputs, 1, np.random.default_rng(seed), distinct=True)
        counts[lengths[0]] += 1
    assert np.all(np.abs(counts[1:] - 500) < 100), counts  # about 7 standard deviations


def test_a_large_domain_is_sampled_and_a_small_one_enumerated():
    small = toy_tasks.get("majority", n=3)
    inputs, lengths, complete = small.problem(1).domain_inputs()
    assert complete and lengths is None and len(inputs["x0"]) == small.domain_size
    big = toy_tasks.get("binary_addition", length=6)
    inputs, lengths, complete = big.problem(1).domain_inputs(5000)
    assert not complete and len(lengths) == 5000
    assert len(set(rows(big.inputs, inputs, lengths))) == 5000
