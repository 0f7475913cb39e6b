"""The laws of DESIGN.md that tie the modules together, on random programs from toy_tasks.strategies."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from programs import Int, Seq, equivalent, parse
from programs.simplify import simplify
from toy_tasks import strategies as tbst

SIGNATURES = {
    "small": {"a": Int(-4, 5), "b": Int(0, 6)},
    "wide": {"a": Int(-(2**20), 2**20), "b": Int(0, 2**20)},
    "fold": {"xs": Seq(Int(0, 3), length=(1, 5)), "t": Int(0, 3)},
    "scan": {"xs": Seq(Int(-1, 2), length=(1, 6)), "ys": Seq(Int(0, 2), length=(1, 6))},
}


@pytest.mark.parametrize("name", list(SIGNATURES))
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_simplify_preserves_meaning_and_never_grows(name, data):
    sig = SIGNATURES[name]
    p = data.draw(tbst.programs(inputs=sig, max_size=16))
    q = simplify(p)
    assert q.params == p.params and (q.kind == p.kind or (p.kind == "fold" and q.kind == "function"))
    assert q.size <= p.size
    v = equivalent(p, q, sig, seconds=20)
    assert v.equal, (str(p), str(q), v)
    assert parse(str(q)) == q


@pytest.mark.parametrize("name", ["small", "fold"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_equivalence_is_symmetric_and_reflexive(name, data):
    sig = SIGNATURES[name]
    p = data.draw(tbst.programs(inputs=sig, max_size=10))
    q = data.draw(tbst.programs(inputs=sig, max_size=10))
    assert equivalent(p, p, sig).equal
    pq, qp = equivalent(p, q, sig), equivalent(q, p, sig)
    assert pq.equal == qp.equal
    assert pq.method == qp.method
