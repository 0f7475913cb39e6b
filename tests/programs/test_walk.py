"""The shared AST helpers of programs.ast (children, with_children, map_children, walk, size_of, reads,
variables, substitute, negate), checked against definitions written independently here, on random
ASTs from toy_tasks.strategies."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from programs import Binary, Const, IfExp, Int, Return, Seq, Unary, Var, parse
from programs.ast import (
    children,
    map_children,
    negate,
    reads,
    size_of,
    substitute,
    variables,
    walk,
    with_children,
)
from programs.interpreter import compile_expr
from programs.semantics import INT64_MAX, INT64_MIN, SCALAR
from toy_tasks import strategies as tbst

NAMES = ["a", "b", "c"]
EXPRS = tbst.expressions(names=NAMES, max_leaves=8)
SIGNATURES = [
    {"a": Int(-4, 5), "b": Int(0, 6)},
    {"xs": Seq(Int(0, 3), length=(1, 5)), "t": Int(0, 3)},
    {"xs": Seq(Int(-1, 2), length=(1, 6)), "ys": Seq(Int(0, 2), length=(1, 6))},
]
PROGRAMS = st.sampled_from(SIGNATURES).flatmap(lambda sig: tbst.programs(inputs=sig, max_size=16))
VALUES = st.integers(INT64_MIN, INT64_MAX)


def _count(node) -> int:
    """Nodes under ``node`` by recursion (the helpers walk with a stack)."""
    return 1 + sum(_count(c) for c in children(node))


def _preorder(node) -> list:
    return [node] + [n for c in children(node) for n in _preorder(c)]


def _names(node) -> list[str]:
    if isinstance(node, Var):
        return [node.name]
    return [n for c in children(node) for n in _names(c)]


def _value(e, env) -> int:
    return compile_expr(e, SCALAR)(env)


# --- children, with_children, map_children ---------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(PROGRAMS)
def test_rebuilding_from_the_children_gives_the_node_back(p):
    for stmt in p.body:
        for node in walk(stmt):
            assert with_children(node, children(node)) == node
            assert map_children(node, lambda c: c) is node  # nothing changed: the node itself
            copy = map_children(node, lambda c: with_children(c, children(c)))
            assert copy == node and type(copy) is type(node)


@settings(max_examples=150, deadline=None)
@given(EXPRS)
def test_map_children_puts_what_f_returns_in_place_of_each_child(e):
    kids = children(e)
    new = map_children(e, lambda c: Var(f"z{kids.index(c)}"))
    assert type(new) is type(e)
    assert children(new) == tuple(Var(f"z{kids.index(c)}") for c in kids)
    if kids:
        assert new is not e
        for field in ("op", "func"):
            assert getattr(new, field, None) == getattr(e, field, None)
    else:
        assert new is e


def test_with_children_checks_the_number_of_children():
    with pytest.raises(ValueError):
        with_children(Binary("+", Var("a"), Var("b")), (Var("a"),))
    with pytest.raises(ValueError):
        with_children(Var("a"), (Var("b"),))


def test_with_children_keeps_the_position():
    e = Binary("+", Var("a"), Var("b"), pos=(3, 7))
    assert with_children(e, (Var("c"), Var("d"))).pos == (3, 7)


@given(VALUES)
def test_a_negation_given_a_constant_is_the_negated_constant(k):
    minus = map_children(Unary("-", Var("a")), lambda c: Const(k))
    assert minus == Const(SCALAR["neg"](k))
    assert negate(Const(k)) == minus
    assert negate(Var("a")) == Unary("-", Var("a"))
    # `not` of a constant is a node of its own (the parser keeps `not 3`), so it is left alone.
    assert map_children(Unary("not", Var("a")), lambda c: Const(k)) == Unary("not", Const(k))


def test_negate_wraps_like_the_parser():
    assert negate(Const(INT64_MIN)) == Const(INT64_MIN)
    assert parse("def f(a):\n    return -(-9223372036854775808)\n").body[0].value == negate(Const(INT64_MIN))
    assert negate(Const(5), pos=(1, 2)).pos == (1, 2)


# --- walk, size_of, Program.size ----------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(EXPRS)
def test_walk_is_preorder_and_size_counts_what_it_yields(e):
    nodes = list(walk(e))
    assert nodes == _preorder(e)
    assert size_of(e) == len(nodes) == _count(e)


@settings(max_examples=60, deadline=None)
@given(PROGRAMS)
def test_program_size_counts_every_statement_and_expression(p):
    assert p.size == sum(_count(stmt) for stmt in p.body) == sum(size_of(stmt) for stmt in p.body)


def test_sizes_of_known_programs():
    # Return, Binary, Var, Const
    assert parse("def f(a):\n    return a + 1\n").size == 4
    # Assign s, Const | For, Assign s, Binary, Var s, Var x | Return, Var s
    assert parse("def f(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n    return s\n").size == 9
    # A negated literal is one node, a negated name two.
    assert size_of(parse("def f(a):\n    return -3\n").body[0].value) == 1
    assert size_of(parse("def f(a):\n    return -a\n").body[0].value) == 2


# --- reads, variables --------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(EXPRS)
def test_reads_lists_every_read_in_source_order(e):
    assert reads(e) == _names(e)
    assert variables(e) == set(_names(e))


@settings(max_examples=60, deadline=None)
@given(PROGRAMS)
def test_variables_of_statements_are_the_names_read_under_them(p):
    for stmt in p.body:
        assert variables(stmt) == set(_names(stmt))
    assert set(p.params) >= {n for stmt in p.body for n in variables(stmt)} - _assigned(p)


def _assigned(p) -> set[str]:
    out: set[str] = set()
    for stmt in p.body:
        for node in walk(stmt):
            out.update(getattr(node, "targets", ()))
    return out


def test_reads_counts_each_read():
    e = parse("def f(a, b):\n    return a * a + b\n").body[0].value
    assert reads(e) == ["a", "a", "b"]
    assert variables(e) == {"a", "b"}


# --- substitute --------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(EXPRS)
def test_substituting_names_by_themselves_changes_nothing(e):
    assert substitute(e, {n: Var(n) for n in NAMES}) == e
    assert substitute(e, {}) is e
    assert substitute(e, {"unread": Const(1)}) is e  # nothing read: the same object back


@settings(max_examples=200, deadline=None)
@given(EXPRS, st.sampled_from(NAMES), EXPRS, st.fixed_dictionaries({n: VALUES for n in NAMES}))
def test_substitute_then_evaluate_is_evaluate_with_the_name_bound(e, name, by, env):
    got = _value(substitute(e, {name: by}), env)
    assert got == _value(e, {**env, name: _value(by, env)})


@settings(max_examples=150, deadline=None)
@given(EXPRS, st.sampled_from(NAMES), VALUES)
def test_a_substituted_constant_leaves_no_read_and_no_unary_over_a_constant(e, name, k):
    new = substitute(e, {name: Const(k)})
    assert name not in variables(new)
    assert reads(new) == [n for n in reads(e) if n != name]
    before = sum(1 for n in walk(e) if isinstance(n, Unary) and isinstance(n.operand, Const))
    after = sum(1 for n in walk(new) if isinstance(n, Unary) and isinstance(n.operand, Const))
    assert after <= before  # only `not c` written in e itself may remain


@settings(max_examples=150, deadline=None)
@given(EXPRS)
def test_substitution_is_simultaneous(e):
    swap = {"a": Var("b"), "b": Var("a")}
    once = substitute(e, swap)
    assert reads(once) == [{"a": "b", "b": "a"}.get(n, n) for n in reads(e)]
    assert substitute(once, swap) == e


def test_substitute_folds_unary_operators_it_puts_over_a_constant():
    x = Var("x")
    assert substitute(Unary("-", x), {"x": Const(3)}) == Const(-3)
    assert substitute(Unary("not", x), {"x": Const(3)}) == Const(0)
    assert substitute(Unary("-", Unary("not", x)), {"x": Const(0)}) == Const(-1)
    # ... but not a `not` over a constant that was there already.
    e = Binary("+", Unary("not", Const(3)), x)
    assert substitute(e, {"x": Var("y")}) == Binary("+", Unary("not", Const(3)), Var("y"))


def test_substitute_reaches_every_kind_of_expression():
    e = parse("def f(a, b):\n    return (min(a, b, 3) if not a else abs(-a)), a\n").body[0].value
    new = substitute(e, {"a": Binary("+", Var("b"), Const(1))})
    assert variables(new) == {"b"}
    assert isinstance(new.items[0], IfExp)


def test_substitute_keeps_statements_and_names():
    stmt = Return(Binary("*", Var("a"), Const(2)))
    assert map_children(stmt, lambda v: substitute(v, {"a": Const(4)})) == Return(Binary("*", Const(4), Const(2)))
