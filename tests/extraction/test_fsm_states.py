"""fsm's state abstraction: partition refinement of the traced states by the network's behaviour; and what a
machine read over a bounded domain (fsm, lstar) must agree with."""
from __future__ import annotations

import importlib
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extraction import extract
from extraction.machine import Moore, minimise
from extraction.methods.fsm import (
    SLACK,
    StateTrace,
    _signature_blocks,
    discretise,
    machine_of,
    refine,
)
from programs import Int, Seq, evaluate, parse
from programs.budget import Budget

compile_ = importlib.import_module("extraction.compile").compile

# the parity of the last three bits: states that share an output differ in what they do next, so a
# partition by output (what one clustering per output value gives) is not deterministic
LAST_THREE = parse("def f(xs):\n    p1 = 0\n    p2 = 0\n    for x in xs:\n        yield x ^ p1 ^ p2\n"
                   "        p1, p2 = x, p1\n")
WORDS = {"xs": Seq(Int(0, 2), length=(1, 8))}
ADD3 = parse("def f(xs, ys):\n    c = 0\n    for x, y in zip(xs, ys):\n        t = x + y + c\n        c = t // 3\n"
             "        yield t % 3\n")
ADD3_INPUTS = {"xs": Seq(Int(0, 3), length=(1, 4)), "ys": Seq(Int(0, 3), length=(1, 4))}


def last_three_machine() -> Moore:
    """LAST_THREE's own Moore machine, a state per (last bit, the one before, the one before that), the
    start (nothing read yet: zeros) with its output unread."""
    code = {(a, b, c): 1 + 4 * a + 2 * b + c for a in (0, 1) for b in (0, 1) for c in (0, 1)}
    delta = {(0, (x,)): code[(x, 0, 0)] for x in (0, 1)}
    delta.update({(q, (x,)): code[(x, a, b)] for (a, b, c), q in code.items() for x in (0, 1)})
    output = (None,) + tuple((a ^ b ^ c,) for (a, b, c) in sorted(code, key=code.get))
    return Moore(9, 0, delta, output)


def deterministic(tr: StateTrace, grid, start) -> bool:
    seen: dict = {}
    for r in range(grid.shape[0]):
        q = start
        for i in range(int(tr.lengths[r])):
            key, nxt = (q, int(tr.symbols[r, i, 0])), int(grid[r, i])
            if seen.setdefault(key, nxt) != nxt:
                return False
            q = nxt
    return True


def test_states_alike_in_output_conflict_until_refined():
    net = compile_(LAST_THREE, WORDS)
    tr = StateTrace(net)
    grid, start, k, violations, _ = refine(tr, net, Budget(60.0), max_suffixes=1)
    assert violations > 0 and not deterministic(tr, grid, start)


@pytest.mark.parametrize("after", [False, True])
def test_k_means_runs_after_a_refinement_that_left_conflicts_only_when_asked(after):
    net = compile_(LAST_THREE, WORDS)
    info: dict = {}
    # one suffix of behaviour leaves LAST_THREE's states in conflict
    found = discretise(StateTrace(net), net, Budget(60.0), max_suffixes=1, kmeans_after=after, info=info)
    assert found[3] > 0 or found[-1] == "k-means"
    assert ("kmeans_seconds" in info) == after
    assert (found[-1] == "k-means") == bool(info.get("kmeans_won"))
    alone: dict = {}
    found = discretise(StateTrace(net), net, Budget(60.0), max_suffixes=0, info=alone)  # no refinement: k-means
    assert found[-1] == "k-means" and alone["kmeans_won"]


def test_refinement_by_behaviour_gives_the_deterministic_minimal_machine():
    net = compile_(LAST_THREE, WORDS)
    tr = StateTrace(net)
    grid, start, k, violations, _ = refine(tr, net, Budget(60.0))
    assert violations == 0 and deterministic(tr, grid, start)
    m, _ = minimise(machine_of(tr, grid, start, k))
    assert m.n == minimise(last_three_machine())[0].n == 8  # the last three bits: each state's output reads all three
    again = refine(StateTrace(net), net, Budget(60.0))
    assert (again[0] == grid).all()  # nothing random


def test_a_rare_signature_near_a_common_one_joins_its_block_when_noise_is_tolerated():
    common = np.array([0, 1, 2, 1, 0, 2, 1, 0, 1, 2, 0])  # column 0: the state's own output
    other = np.array([1, 1, 2, 1, 0, 2, 1, 0, 1, 2, 0])  # another output, the same continuations
    far = common.copy()
    far[1:6] = (far[1:6] + 1) % 3
    slip = common.copy()
    slip[4] = 2  # one continuation answered wrong
    sig = np.stack([common] * 40 + [slip] * 2 + [other] * 3 + [far] * 2)
    table, block = _signature_blocks(sig, 0)
    assert len(table) == 4
    table, block = _signature_blocks(sig, 1)
    assert len(table) == 3  # the slips join the common block; another output or many differences never do
    assert len(set(block[:42])) == 1 and len(set(block[42:45])) == 1 and len(set(block[45:])) == 1
    assert len({block[0], block[42], block[45]}) == 3
    assert (table[block[0]] == common).all()  # the block keeps the common signature


def test_tolerating_noise_reads_an_exact_network_alike():
    net = compile_(LAST_THREE, WORDS)
    tr = StateTrace(net)
    grid, start, k, violations, asked = refine(tr, net, Budget(60.0), slack=SLACK)
    assert violations == 0
    assert minimise(machine_of(tr, grid, start, k, asked))[0].n == 8


def test_transitions_the_trace_never_took_are_asked_of_the_network():
    net = compile_(ADD3, ADD3_INPUTS)
    tr = StateTrace(net, cap=40)  # 40 of the domain's inputs: some (state, digit pair) never occur
    grid, start, k, _, asked = refine(tr, net, Budget(60.0))
    traced, _ = minimise(machine_of(tr, grid, start, k))
    m, _ = minimise(machine_of(tr, grid, start, k, asked))
    assert len(traced.delta) < len(m.delta) == m.n * 9  # every state, every digit pair
    full = StateTrace(net)  # the machine is ADD3 on the whole domain
    want = evaluate(ADD3, full.inputs)
    for r in range(full.lengths.size):
        n = int(full.lengths[r])
        symbols = [tuple(int(v) for v in full.symbols[r, i]) for i in range(n)]
        assert [m.output[q][0] for q in m.run(symbols)] == [int(v) for v in want[r, :n]]


# counters bounded by the length: a finite machine over the domain exists (deep counts that can no longer
# come back act as the sink), but a count's only fully known states may be too deep for a known successor
MAJORITY = parse("def f(xs):\n    c = 0\n    for x in xs:\n        c = c + 2 * x - 1\n        yield c > 0\n")
BALANCE = parse("def f(xs):\n    d = 0\n    bad = 0\n    for x in xs:\n        d = d + 1 - 2 * x\n"
                "        bad = bad | (d < 0)\n        yield d == 0 and bad == 0\n")


@pytest.mark.parametrize("program", [MAJORITY, BALANCE], ids=["majority", "balance"])
def test_counters_bounded_by_the_length_are_read_as_one_machine_over_the_domain(program):
    net = compile_(program, {"xs": Seq(Int(0, 2), length=(1, 8))})
    tr = StateTrace(net)
    grid, start, k, violations, asked = refine(tr, net, Budget(60.0))
    assert violations == 0 and deterministic(tr, grid, start)
    m, _ = minimise(machine_of(tr, grid, start, k, asked))
    want = evaluate(program, tr.inputs, tr.lengths)
    for r in range(tr.lengths.size):
        n = int(tr.lengths[r])
        symbols = [tuple(int(v) for v in tr.symbols[r, i]) for i in range(n)]
        assert [m.output[q][0] for q in m.run(symbols)] == [int(v) for v in want[r, :n]]


def test_lstar_checks_its_hypothesis_on_the_whole_domain():
    # one input of the 510 opens four brackets then closes them: random walks over lengths 1..8 miss it
    net = compile_(BALANCE, {"xs": Seq(Int(0, 2), length=(1, 8))})
    r = extract(net, "lstar", seconds=60, seed=0)
    assert r.status == "solved" and r.faithfulness["agreement"] == 1.0, r.reasons


def _machine_of_step_by_step(tr, grid: np.ndarray, start: int, k: int, asked: dict | None) -> Moore:
    """``machine_of`` as a visit of every traced step in turn (its definition): majority votes, a tie to the
    candidate voted for first, the network's answers before the trace."""
    votes = {key: dict(v) for key, v in (asked or {}).items()}
    outs: dict = {}
    for r in range(grid.shape[0]):
        q = start
        for i in range(int(tr.lengths[r])):
            a, nxt, o = tuple(int(v) for v in tr.symbols[r, i]), int(grid[r, i]), tuple(int(v) for v in tr.outputs[r, i])
            votes.setdefault((q, a), {}).setdefault(nxt, 0)
            votes[(q, a)][nxt] += 1
            outs.setdefault(nxt, {}).setdefault(o, 0)
            outs[nxt][o] += 1
            q = nxt
    return Moore(k, start, {key: max(v, key=v.get) for key, v in votes.items()},
                 tuple(max(outs[q], key=outs[q].get) if q in outs else None for q in range(k)))


@st.composite
def traces(draw):
    """A trace of ``n`` rows of up to ``t`` steps, blocks ``0..k-1`` per step, symbols of one or two components
    (one of them possibly wide, as a scalar input is), outputs of one or two heads, and some asked votes."""
    n, t, k = draw(st.integers(1, 12)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    width, heads = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    wide = draw(st.sampled_from([2, 3, 1000]))
    cells = st.integers(0, k - 1)
    grid = np.array(draw(st.lists(st.lists(cells, min_size=t, max_size=t), min_size=n, max_size=n)), dtype=np.int64)
    lengths = np.array(draw(st.lists(st.integers(0, t), min_size=n, max_size=n)), dtype=np.int64)
    symbols = np.array(draw(st.lists(st.integers(-1, wide), min_size=n * t * width, max_size=n * t * width)),
                       dtype=np.int64).reshape(n, t, width)
    outputs = np.array(draw(st.lists(st.integers(0, 2), min_size=n * t * heads, max_size=n * t * heads)),
                       dtype=np.int64).reshape(n, t, heads)
    asked = {}
    for _ in range(draw(st.integers(0, 3))):
        key = (draw(cells), tuple(draw(st.integers(-1, wide)) for _ in range(width)))
        asked[key] = {draw(cells): draw(st.integers(1, 3)) for _ in range(draw(st.integers(1, 2)))}
    return SimpleNamespace(lengths=lengths, symbols=symbols, outputs=outputs), grid, draw(cells), k, asked


@settings(max_examples=300, deadline=None)
@given(traces())
def test_machine_of_counts_votes_as_a_visit_of_every_step(case):
    tr, grid, start, k, asked = case
    fast, slow = machine_of(tr, grid, start, k, asked), _machine_of_step_by_step(tr, grid, start, k, asked)
    assert fast == slow
    assert list(fast.delta) == list(slow.delta)  # the same transitions, in the same order


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 30).flatmap(lambda n: st.lists(
    st.lists(st.integers(-3, 5) | st.sampled_from([-2**40, 2**40]), min_size=n, max_size=n), min_size=1, max_size=4)))
def test_distinct_rows_are_those_of_numpy_unique_by_rows(columns):
    """``_distinct`` packs rows into one key where it fits (else sorts rows): the same rows, order, indices,
    first positions and counts as ``np.unique(..., axis=0)``."""
    from extraction.methods.fsm import _distinct

    cols = [np.array(c, dtype=np.int64) for c in columns]
    rows, index, first, counts = _distinct(cols)
    want, w_first, w_index, w_counts = np.unique(np.stack(cols, axis=1), axis=0, return_index=True, return_inverse=True,
                                                 return_counts=True)
    assert np.array_equal(rows.reshape(want.shape), want)
    assert np.array_equal(index, w_index.reshape(-1)) and np.array_equal(first, w_first)
    assert np.array_equal(counts, w_counts)
