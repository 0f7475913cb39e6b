"""extraction.machine: Moore minimisation against automata-lib, compatible merging never mixes outputs,
and machines written as programs reproduce the machine on every word."""
from __future__ import annotations

import numpy as np
import pytest
from automata.fa.dfa import DFA
from hypothesis import given, settings
from hypothesis import strategies as st

from extraction.machine import Moore, Signature, case_split, merge_compatible, minimise, to_program
from programs import Int, Seq, evaluate
from programs.budget import Budget
from programs.domains import enumerate_domain
from toy_tasks.task import ALL_OPERATORS


@st.composite
def complete_machines(draw) -> Moore:
    """Total machines with a 0/1 output on every state (the start included), start 0."""
    n = draw(st.integers(1, 8))
    k = draw(st.integers(1, 3))
    delta = {(q, (a,)): draw(st.integers(0, n - 1)) for q in range(n) for a in range(k)}
    output = tuple((draw(st.integers(0, 1)),) for _ in range(n))
    return Moore(n, 0, delta, output)


@st.composite
def partial_machines(draw) -> Moore:
    """Machines with missing transitions (don't-cares) and states whose output is unknown."""
    n = draw(st.integers(1, 8))
    k = draw(st.integers(1, 3))
    delta = {}
    for q in range(n):
        for a in range(k):
            if draw(st.booleans()):
                delta[(q, (a,))] = draw(st.integers(0, n - 1))
    output = tuple(draw(st.one_of(st.none(), st.integers(0, 2).map(lambda v: (v,)))) for _ in range(n))
    return Moore(n, draw(st.integers(0, n - 1)), delta, output)


def as_dfa(m: Moore) -> DFA:
    symbols = sorted({a[0] for (_, a) in m.delta})
    return DFA(states=set(range(m.n)), input_symbols=set(symbols),
               transitions={q: {a: m.delta[(q, (a,))] for a in symbols} for q in range(m.n)},
               initial_state=m.start, final_states={q for q in range(m.n) if m.output[q] == (1,)})


@settings(max_examples=200, deadline=None)
@given(complete_machines())
def test_minimise_agrees_with_automata_lib(m):
    small, to_small = minimise(m)
    assert small.n == len(as_dfa(m).minify().states)
    # and it is the same machine: every word of length <= 4 gives the same outputs
    symbols = sorted({a for (_, a) in m.delta})
    words = [[]]
    for _ in range(4):
        words = [w + [a] for w in words for a in symbols]
        for w in words:
            assert [m.output[q] for q in m.run(w)] == [small.output[q] for q in small.run(w)]
    assert to_small[m.start] == small.start


@settings(max_examples=150, deadline=None)
@given(partial_machines())
def test_merge_compatible_never_merges_states_with_different_outputs(m):
    merged, to_new = merge_compatible(m)
    assert merged.n <= m.n and set(to_new) == set(range(m.n))
    for q in range(m.n):
        if m.output[q] is not None:
            assert merged.output[to_new[q]] == m.output[q]
    groups: dict[int, set] = {}
    for q in range(m.n):
        if m.output[q] is not None:
            groups.setdefault(to_new[q], set()).add(m.output[q])
    assert all(len(outs) == 1 for outs in groups.values())
    # every old transition survives the merge, and the merged machine is deterministic
    for (q, a), r in m.delta.items():
        assert merged.delta[(to_new[q], a)] == to_new[r]
    assert merged.start == to_new[m.start]


def test_minimise_merges_an_unread_start_into_a_state_with_the_same_successors():
    # running parity as traced: a start whose output is never read, then even/odd
    m = Moore(3, 0, {(0, (0,)): 1, (0, (1,)): 2, (1, (0,)): 1, (1, (1,)): 2, (2, (0,)): 2, (2, (1,)): 1},
              (None, (0,), (1,)))
    small, to_small = minimise(m)
    assert small.n == 2 and to_small[0] == to_small[1]


WORDS = {"xs": Seq(Int(0, 2), length=(1, 5))}
WORDS3 = {"xs": Seq(Int(0, 3), length=(1, 5))}


def machine_outputs(m: Moore, arrays, lengths, kind: str) -> np.ndarray:
    xs = arrays["xs"]
    if kind == "scan":
        out = np.zeros(xs.shape, dtype=np.int64)
        for r in range(xs.shape[0]):
            states = m.run([(int(v),) for v in xs[r, : lengths[r]]])
            out[r, : lengths[r]] = [m.output[q][0] for q in states]
        return out
    return np.array([m.output[m.run([(int(v),) for v in xs[r, : lengths[r]]])[-1]][0] for r in range(xs.shape[0])])


@pytest.mark.parametrize("name, machine, words, kind", [
    ("running_parity",
     Moore(2, 0, {(q, (a,)): q ^ a for q in range(2) for a in range(2)}, ((0,), (1,))), WORDS, "scan"),
    ("sum_mod_3",
     Moore(3, 0, {(q, (a,)): (q + a) % 3 for q in range(3) for a in range(3)}, ((0,), (1,), (2,))), WORDS3, "scan"),
    ("parity_with_an_unread_start",
     Moore(3, 2, {(0, (0,)): 0, (0, (1,)): 1, (1, (0,)): 1, (1, (1,)): 0, (2, (0,)): 0, (2, (1,)): 1},
           ((0,), (1,), None)), WORDS, "scan"),
    ("seen_a_one", Moore(2, 0, {(0, (0,)): 0, (0, (1,)): 1, (1, (0,)): 1, (1, (1,)): 1}, ((0,), (1,))), WORDS, "fold"),
])
def test_to_program_reproduces_the_machine_on_every_word(name, machine, words, kind):
    sig = Signature(name, ("xs",), ("xs",), (), kind)
    program, reasons = to_program(machine, sig, operators=ALL_OPERATORS, budget=Budget(30.0))
    assert program is not None, reasons
    assert program.kind == kind and program.params == ("xs",)
    arrays, lengths = enumerate_domain(words)
    got = evaluate(program, arrays, lengths)
    want = machine_outputs(machine, arrays, lengths, kind)
    if kind == "scan":
        mask = np.arange(got.shape[1])[None, :] < lengths[:, None]
        assert np.all((got == want) | ~mask)
    else:
        assert np.array_equal(got, want)


def test_to_program_says_why_when_there_are_no_transitions():
    program, reasons = to_program(Moore(1, 0, {}, ((0,),)), Signature("f", ("xs",), ("xs",), (), "scan"),
                                  operators=ALL_OPERATORS, budget=Budget(5.0))
    assert program is None and "no transitions" in reasons[0]


@st.composite
def moore_machines(draw, *, min_states: int = 8, max_states: int = 20) -> Moore:
    """Total machines of ``min_states..max_states`` states over 2 or 3 symbols, outputs 0..3, start 0."""
    n = draw(st.integers(min_states, max_states))
    k = draw(st.integers(2, 3))
    delta = {(q, (a,)): draw(st.integers(0, n - 1)) for q in range(n) for a in range(k)}
    output = tuple((draw(st.integers(0, 3)),) for _ in range(n))
    return Moore(n, 0, delta, output)


def access_words(m: Moore) -> dict[int, list]:
    """A shortest word reaching each reachable state."""
    words, todo = {m.start: []}, [m.start]
    symbols = sorted({a for (_, a) in m.delta})
    while todo:
        q = todo.pop(0)
        for a in symbols:
            r = m.delta.get((q, a))
            if r is not None and r not in words:
                words[r] = words[q] + [a]
                todo.append(r)
    return words


@settings(max_examples=30, deadline=None)
@given(moore_machines())
def test_case_split_equals_the_machine_on_every_transition(m):
    sig = Signature("f", ("xs",), ("xs",), (), "scan")
    program, why = case_split(m, sig, ["x"], "s", ALL_OPERATORS, budget=Budget(60.0))
    assert program is not None, why
    words = access_words(m)
    cases = [(words[q] + [a], m.output[r][0]) for (q, a), r in sorted(m.delta.items()) if q in words]
    longest = max(len(w) for w, _ in cases)
    xs = np.zeros((len(cases), longest), dtype=np.int64)
    lengths = np.array([len(w) for w, _ in cases])
    for i, (w, _) in enumerate(cases):
        xs[i, : len(w)] = [a[0] for a in w]
    got = evaluate(program, {"xs": xs}, lengths)
    assert [int(got[i, lengths[i] - 1]) for i in range(len(cases))] == [want for _, want in cases]


def test_to_program_writes_a_machine_no_numbering_makes_arithmetic():
    # a 12-state machine with scrambled transitions: no small T(s, x) under the cheap numberings
    rng = np.random.default_rng(3)
    delta = {(q, (a,)): int(rng.integers(12)) for q in range(12) for a in range(2)}
    m = Moore(12, 0, delta, tuple((q % 3,) for q in range(12)))
    program, reasons = to_program(m, Signature("f", ("xs",), ("xs",), (), "scan"), operators=ALL_OPERATORS,
                                  budget=Budget(60.0))
    assert program is not None, reasons


def _deepened(m: Moore, sig: Signature, ops, seed: int):
    """``to_program``'s search as first written: every numbering under every size bound, its update then its
    output searched afresh each time; the smallest program of the first bound under which any numbering fits."""
    from synthesis import fit_expression

    from extraction.machine import SUB_SEARCH_CANDIDATES, _loop, numberings

    best = None
    for max_size in (5, 7, 9, 12):
        for order in numberings(m):
            mm = m.renumber(order)
            rows = sorted(mm.delta.items())
            leaves = {"s": np.array([q for (q, _), _ in rows]), "x": np.array([a[0] for (_, a), _ in rows])}
            t = fit_expression(leaves, np.array([r for _, r in rows]), operators=ops, seconds=60.0, seed=seed,
                               max_size=max_size, max_candidates=SUB_SEARCH_CANDIDATES)
            if t is None:
                continue
            qs = [q for q in range(mm.n) if mm.output[q] is not None]
            values = np.array([mm.output[q][0] for q in qs])
            extra = tuple(int(v) for v in np.unique(values) if not -1 <= v <= 3)
            o = fit_expression({"s": np.array(qs)}, values, operators=ops, constants=(-1, 0, 1, 2, 3) + (extra if len(extra) <= 4 else ()),
                               seconds=60.0, seed=seed, max_candidates=SUB_SEARCH_CANDIDATES)
            if o is None:
                continue
            prog = _loop(sig, ["x"], "s", mm.start, t, o)
            if best is None or prog.size < best.size:
                best = prog
        if best is not None:
            return best
    return None


UPDATES = (lambda q, a, n: (q + a) % n, lambda q, a, n: (2 * q + a) % n, lambda q, a, n: (q * a + 1) % n,
           lambda q, a, n: min(n - 1, q + a), lambda q, a, n: (q - a) % n, lambda q, a, n: (q + a * a + 1) % n)


@st.composite
def arithmetic_machines(draw) -> Moore:
    """Machines whose update is a small arithmetic expression of the state and the symbol (sizes 3 to 9), its
    states then shuffled (so that only some numberings make the update small), outputs the state's parity."""
    n, k = draw(st.integers(2, 4)), draw(st.integers(2, 3))
    update = draw(st.sampled_from(UPDATES))
    shuffle = draw(st.permutations(range(n)))
    delta = {(shuffle[q], (a,)): shuffle[update(q, a, n)] for q in range(n) for a in range(k)}
    return Moore(n, shuffle[0], delta, tuple((q % 2,) for q in sorted(range(n), key=lambda q: shuffle[q])))


@settings(max_examples=25, deadline=None)
@given(m=st.one_of(complete_machines(), arithmetic_machines()), ops=st.sampled_from([("+", "-", "%", "=="), ("+", "*", "//", "%", "<", "if", "=="),
                                                  ("^", "&", "|")]), seed=st.integers(0, 3))
def test_to_program_searches_each_numbering_once_per_bound_and_writes_what_the_plain_deepening_writes(small_work, m, ops,
                                                                                                       seed):
    """Each output searched once per numbering, before its update, and a numbering whose update search ran out of
    work not searched again under a larger bound: the same program as the plain deepening (a small work limit,
    so that both run out of work often)."""
    m = m if m.n <= 4 else minimise(m)[0]
    sig = Signature("f", ("xs",), ("xs",), (), "scan")
    program, _ = to_program(m, sig, operators=ops, budget=Budget(120.0), seed=seed)
    plain = _deepened(m, sig, ops, seed)
    if plain is None:  # neither wrote arithmetic: to_program fell back to a case split (or abstained)
        assert program is None or "if" in ops
    else:
        assert program == plain


@pytest.fixture(scope="module")
def small_work():
    """A small sub-search work limit for this module's law about it (so that searches run out of work)."""
    import extraction.machine as machine

    saved = machine.SUB_SEARCH_CANDIDATES
    machine.SUB_SEARCH_CANDIDATES = 3_000
    yield
    machine.SUB_SEARCH_CANDIDATES = saved


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 7), min_size=4, max_size=12), st.integers(1, 2_000), st.integers(3, 7),
       st.integers(0, 3))
def test_a_search_that_runs_out_of_work_runs_out_under_any_larger_size_bound(values, limit, size, seed):
    from synthesis import fit_expression
    from synthesis.methods.enumerative import WORK_LIMIT_REACHED

    n = len(values)
    leaves = {"a": np.arange(n), "b": np.arange(n)[::-1] % 3}
    target = np.array(values)
    said: list[str] = []
    small = fit_expression(leaves, target, operators=("+", "-", "*", "%", "<", "if"), seconds=60.0, seed=seed,
                           max_size=size, max_candidates=limit, why=said)
    if small is None and WORK_LIMIT_REACHED in said:
        again: list[str] = []
        assert fit_expression(leaves, target, operators=("+", "-", "*", "%", "<", "if"), seconds=60.0, seed=seed,
                              max_size=size + 3, max_candidates=limit, why=again) is None
        assert again == [WORK_LIMIT_REACHED]
