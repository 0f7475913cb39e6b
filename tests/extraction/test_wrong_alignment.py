"""The in-context checks of the real readers can fail: with the alignment the reader found, unit interchange
(F2) and splice (F3) reach the gate; with a deliberately wrong alignment (the step's units swapped for
others, or the step's values replaced by another variable's) they score below it. (F2-D's wrong
alignments are tests/extraction/test_alignment.py's.)"""
from __future__ import annotations

import numpy as np
import pytest
from _nets import trained, trained_tokens

import extraction
from comparator.analysis import MECHANISM_THRESHOLD
from extraction.methods import units
from programs import Int, Program, Return, evaluate

GATE = MECHANISM_THRESHOLD
WRONG = 0.9


def reading_parts(net):
    """The boolean reader's reading of ``net`` and what its checks take: trace, step values, aligned units."""
    r = extraction.extract(net, "boolean", seconds=60, seed=0)
    assert r.status == "solved" and r.program is not None, r.reasons
    tr = units.UnitTrace(net)
    names = list(net.problem.inputs)
    steps = list(r.program.body[:-1])
    assert steps, "the reading names no step"
    step_names = [s.targets[0] for s in steps]
    bits = [np.asarray(evaluate(Program("s", tuple(names), (Return(s.value),)), tr.inputs)) for s in steps]
    head = Program("g", tuple(step_names) + tuple(names), (r.program.body[-1],))
    groups = [np.asarray(r.details["named"][n], dtype=np.int64) for n in step_names]
    return tr, names, step_names, bits, head, groups


def f2(net, tr, bits, groups, step_names, head, names):
    return units.interchange(net, tr, bits, groups, step_names, head, names, np.random.default_rng(0), 500)


@pytest.mark.parametrize("make", [
    lambda: trained_tokens("majority", n=3),
    lambda: extraction.compile("def f(a, b, c):\n    h = a and b\n    return h or c\n",
                               {"a": Int(0, 2), "b": Int(0, 2), "c": Int(0, 2)}),
], ids=["trained-majority", "compiled-and-or"])
def test_unit_interchange_and_splice_fall_below_the_gate_when_the_alignment_is_wrong(make):
    net = make()
    tr, names, step_names, bits, head, groups = reading_parts(net)
    wrong = [np.asarray(tr.inputs[names[0]]) if not np.array_equal(b, tr.inputs[names[0]])
             else np.asarray(tr.inputs[names[1]]) for b in bits]
    assert units.spliced(net, tr, bits) >= GATE
    assert units.spliced(net, tr, wrong) <= WRONG  # the layer rebuilt from a wrong variable
    if all(g.size == 0 for g in groups):
        # A compiled lookup network (one unit per input tuple) spreads every step over many units: no single
        # unit is aligned with it, unit F2 is not measured, and F2-D is what reads it.
        assert f2(net, tr, bits, groups, step_names, head, names) is None
        return
    assert f2(net, tr, bits, groups, step_names, head, names) >= GATE
    width = tr.act.shape[1]
    others = [np.setdiff1d(np.arange(width), g)[: max(1, len(g))] for g in groups]
    assert f2(net, tr, bits, others, step_names, head, names) <= WRONG  # the step's units swapped for others
    assert f2(net, tr, wrong, groups, step_names, head, names) <= WRONG  # another variable's values at those units
