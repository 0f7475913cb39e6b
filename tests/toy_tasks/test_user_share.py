"""A user's task over two residues 0..m-1 (31 <= m <= 113) that states no share gets modular arithmetic's
grokking share as its default examples, chosen from the signature alone: two tasks of one signature get the
same example inputs whatever they compute; other signatures keep the rule by size; a stated share wins."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toy_tasks
from toy_tasks import Int, Seq
from toy_tasks.catalog.modular import (
    GROK_FROM,
    GROK_MEASURED_UP_TO,
    grokking_fraction,
    signature_fraction,
)

BODIES = ("(a + b) % {m}", "max(a, b)", "(a * a + b) % {m}", "a", "abs(a - b)")


def user(body: str, m: int, **kw):
    return toy_tasks.from_program("u", f"def f(a, b):\n    return {body.format(m=m)}", {"a": Int(0, m), "b": Int(0, m)},
                                  **kw)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=GROK_FROM, max_value=GROK_MEASURED_UP_TO), st.sampled_from(BODIES),
       st.sampled_from(BODIES), st.integers(min_value=0, max_value=3))
def test_the_default_examples_follow_the_signature_not_the_function(m, first, second, seed):
    one, other = user(first, m), user(second, m)
    assert one.example_fraction == other.example_fraction == grokking_fraction(m)
    a, b = one.example_set(seed=seed), other.example_set(seed=seed)
    assert len(a) == round(grokking_fraction(m) * m * m) < m * m
    assert (a.inputs["a"] == b.inputs["a"]).all() and (a.inputs["b"] == b.inputs["b"]).all()


def test_a_function_task_gets_the_same_share_as_a_program_task():
    fn = toy_tasks.from_function("g", lambda a, b: (a + b) % 37, {"a": Int(0, 37), "b": Int(0, 37)})
    assert fn.example_fraction == user("(a + b) % {m}", 37).example_fraction == toy_tasks.get("modular_addition").example_fraction


@pytest.mark.parametrize("inputs", [
    {"a": Int(0, GROK_FROM - 1), "b": Int(0, GROK_FROM - 1)},              # below the grokking regime
    {"a": Int(0, GROK_MEASURED_UP_TO + 1), "b": Int(0, GROK_MEASURED_UP_TO + 1)},  # beyond what was measured
    {"a": Int(0, 37), "b": Int(0, 41)},                                      # not one range of residues
    {"a": Int(1, 38), "b": Int(1, 38)},                                      # not from 0
    {"a": Int(0, 37)},                                                       # one input
    {"a": Int(0, 37), "b": Int(0, 37), "c": Int(0, 2)},                      # three inputs
])
def test_other_signatures_keep_the_rule_by_size(inputs):
    body = " + ".join(inputs)
    task = toy_tasks.from_program("u", f"def f({', '.join(inputs)}):\n    return {body}", inputs)
    assert task.example_fraction is None


def test_a_scan_or_two_answers_keep_the_rule_by_size():
    assert signature_fraction({"a": Int(0, 37), "b": Int(0, 37)}, "function", 2) is None
    assert signature_fraction({"xs": Seq(Int(0, 37), length=2), "b": Int(0, 37)}, "scan", 1) is None
    two = toy_tasks.from_program("t", "def f(a, b):\n    return a, b", {"a": Int(0, 37), "b": Int(0, 37)})
    assert two.example_fraction is None


def test_a_stated_share_wins_and_one_asks_for_the_whole_table():
    assert user("(a + b) % {m}", 37, example_fraction=0.3).example_fraction == 0.3
    whole = user("(a + b) % {m}", 37, example_fraction=1.0).example_set()
    assert whole.complete and len(whole) == 37 * 37
