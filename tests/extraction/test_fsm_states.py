"""fsm's state abstraction: partition refinement of the traced states by the network's behaviour."""
from __future__ import annotations

import importlib

from extraction.machine import Moore, minimise
from extraction.methods.fsm import StateTrace, machine_of, refine
from programs import Int, Seq, parse
from programs.budget import Budget

compile_ = importlib.import_module("extraction.compile").compile

# the parity of the last three bits: states that share an output differ in what they do next, so a
# partition by output (what one clustering per output value gives) is not deterministic
LAST_THREE = parse("def f(xs):\n    p1 = 0\n    p2 = 0\n    for x in xs:\n        yield x ^ p1 ^ p2\n"
                   "        p1, p2 = x, p1\n")
WORDS = {"xs": Seq(Int(0, 2), length=(1, 8))}


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


def test_refinement_by_behaviour_gives_the_deterministic_minimal_machine():
    net = compile_(LAST_THREE, WORDS)
    tr = StateTrace(net)
    grid, start, k, violations, _ = refine(tr, net, Budget(60.0))
    assert violations == 0 and deterministic(tr, grid, start)
    m, _ = minimise(machine_of(tr, grid, start, k))
    assert m.n == minimise(last_three_machine())[0].n == 8  # the last three bits: each state's output reads all three
    again = refine(StateTrace(net), net, Budget(60.0))
    assert (again[0] == grid).all()  # nothing random
