"""equivalent(p, q, inputs): the method chosen, proofs, and planted differences found."""
from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from programs import Binary, Const, IfExp, InputError, Int, Return, Seq, Var, Yield, parse
from programs.equivalence import equivalent
from programs.interpreter import run
from programs.program import Program
from toy_tasks import strategies as tbst

SMALL = {"a": Int(0, 13), "b": Int(0, 13)}
WIDE = {"a": Int(0, 2**32), "b": Int(0, 2**32)}
FOLD = {"xs": Seq(Int(0, 3), length=(1, 5)), "t": Int(0, 3)}
SCAN = {"xs": Seq(Int(0, 2), length=(1, 12))}


def _check_counterexample(v, p, q):
    assert not v.equal and v.counterexample is not None
    x = v.counterexample
    assert run(p, x) != run(q, x)
    assert v.outputs == (run(p, x), run(q, x))


def test_small_scalar_domains_are_checked_exhaustively():
    v = equivalent("def f(a, b):\n    return (a + b) % 13\n", "def f(a, b):\n    return (b + a) % 13\n", SMALL)
    assert (v.equal, v.method, v.checked, v.proved) == (True, "exhaustive", 169, True)


def test_wide_domains_are_proved_by_z3():
    p = parse("def f(a, b):\n    return a ^ b\n")
    q = parse("def f(a, b):\n    return (a | b) - (a & b)\n")
    v = equivalent(p, q, WIDE)
    assert (v.equal, v.method) == (True, "z3")


def test_z3_finds_a_single_point_difference_in_a_wide_domain():
    p = parse("def f(a, b):\n    return a + b\n")
    q = parse("def f(a, b):\n    return a + b + (a == 3141592653 and b == 2718281828)\n")
    v = equivalent(p, q, WIDE)
    assert v.method == "z3"
    _check_counterexample(v, p, q)
    assert v.counterexample == {"a": 3141592653, "b": 2718281828}


def test_finite_state_scans_are_proved_for_every_length():
    p = parse("def f(xs):\n    s = 0\n    for x in xs:\n        s = s ^ x\n        yield s\n")
    q = parse("def f(xs):\n    s = 0\n    for x in xs:\n        s = (s + x) % 2\n        yield s\n")
    v = equivalent(p, q, SCAN)
    assert (v.equal, v.method, v.bound) == (True, "product-machine", None)


def test_product_machine_finds_a_difference_after_many_steps():
    p = parse("def f(xs):\n    s = 0\n    for x in xs:\n        s = s ^ x\n        yield s\n")
    q = parse(
        "def f(xs):\n    s = 0\n    n = 0\n    for x in xs:\n        s = s ^ x\n        n = min(n + 1, 9)\n"
        "        yield 1 - s if n == 9 else s\n"
    )
    v = equivalent(p, q, SCAN)
    assert v.method == "product-machine"
    _check_counterexample(v, p, q)
    assert len(v.counterexample["xs"]) == 9


def test_folds_with_counters_are_checked_up_to_the_length_bound():
    p = parse("def f(xs, t):\n    i = 0\n    pos = -1\n    for x in xs:\n        pos = i if pos < 0 and x == t else pos\n        i = i + 1\n    return pos\n")
    q = parse("def f(xs, t):\n    i = 0\n    pos = -1\n    for x in xs:\n        pos = i if pos == -1 and x == t else pos\n        i = i + 1\n    return pos\n")
    v = equivalent(p, q, FOLD)
    assert (v.equal, v.method, v.bound) == (True, "product-machine", 5)
    last = parse("def f(xs, t):\n    i = 0\n    pos = -1\n    for x in xs:\n        pos = i if x == t else pos\n        i = i + 1\n    return pos\n")
    _check_counterexample(equivalent(p, last, FOLD), p, last)


def test_fold_differences_below_the_minimum_length_do_not_count():
    # Both agree on every non-empty list; they differ only on the empty list, which is not in the domain.
    p = parse("def f(xs):\n    m = -1\n    for x in xs:\n        m = max(m, x)\n    return m\n")
    q = parse("def f(xs):\n    m = -5\n    for x in xs:\n        m = max(m, x)\n    return m\n")
    assert equivalent(p, q, {"xs": Seq(Int(0, 3), length=(1, 6))}).equal
    assert not equivalent(p, q, {"xs": Seq(Int(-9, 3), length=(1, 6))}).equal


def test_large_alphabets_with_integer_state_use_bounded_z3():
    p = parse("def f(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n        yield s\n")
    q = parse("def f(xs):\n    s = 0\n    t = 0\n    for x in xs:\n        t = t + 2 * x\n        s = t // 2\n        yield s\n")
    dom = {"xs": Seq(Int(0, 10**6), length=(1, 4))}
    v = equivalent(p, q, dom)
    assert (v.equal, v.method, v.bound) == (True, "bounded-z3", 4)
    r = parse("def f(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n        yield s if s != 1234567 else 0\n")
    _check_counterexample(equivalent(p, r, dom), p, r)


def test_sampling_is_the_last_resort_and_says_so():
    p = parse("def f(a, b):\n    return a * b % 1000003\n")
    q = parse("def f(a, b):\n    return b * a % 1000003\n")
    v = equivalent(p, q, WIDE, seconds=0.0, samples=2000)
    assert (v.equal, v.method, v.proved, v.checked) == (True, "sampled", False, 2000)
    assert "not a proof" in v.detail


def test_scans_and_folds_are_never_equivalent():
    p = parse("def f(xs):\n    s = 0\n    for x in xs:\n        s = s ^ x\n        yield s\n")
    q = parse("def f(xs):\n    s = 0\n    for x in xs:\n        s = s ^ x\n    return s\n")
    v = equivalent(p, q, SCAN)
    assert not v.equal and "different shapes" in v.detail


def test_a_function_ignoring_the_list_can_equal_a_fold():
    p = parse("def f(xs, t):\n    c = 0\n    for x in xs:\n        c = c + 0 * x\n    return c + t\n")
    q = parse("def f(xs, t):\n    return t\n")
    assert equivalent(p, q, FOLD).equal


def test_mismatched_parameters_are_refused():
    with pytest.raises(InputError, match="rename"):
        equivalent("def f(a, c):\n    return a\n", "def f(a, b):\n    return a\n", SMALL)


def _plant(p: Program, c: int) -> Program:
    """p with its output changed on exactly the inputs where the first parameter equals c."""
    flag = IfExp(Binary("==", Var(p.params[0]), Const(c)), Const(1), Const(0))
    last = p.body[-1]
    if isinstance(last, Return):
        return Program(p.name, p.params, p.body[:-1] + (Return(Binary("+", last.value, flag)),))
    loop = last
    body = tuple(Yield(Binary("+", s.value, flag)) if isinstance(s, Yield) else s for s in loop.body)
    return Program(p.name, p.params, p.body[:-1] + (type(loop)(loop.targets, loop.iters, body),))


@pytest.mark.parametrize(
    "sig",
    [SMALL, {"t": Int(-4, 4), "xs": Seq(Int(0, 3), length=(1, 4))}],
    ids=["function", "loop"],
)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_planted_difference_is_always_found(sig, data):
    p = data.draw(tbst.programs(inputs=sig, max_size=12))
    assume(p.params[0] in p.scalars and p.params[0] not in p.shape.unused or p.kind == "function")
    first = sig[p.params[0]]
    c = data.draw(st.integers(first.lo, first.hi - 1))
    q = _plant(p, c)
    v = equivalent(p, q, sig)
    _check_counterexample(v, p, q)
    assert v.counterexample[p.params[0]] == c
    assert equivalent(p, p, sig).equal
