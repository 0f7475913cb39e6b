"""Search over lists: a fold over a list (and a target) with one answer at the end.

Knobs: the longest list (``length``; every length from 1 up) and the values (``values``).
``difficulty`` is log2 of the number of inputs.
"""
from __future__ import annotations

import math
from bisect import bisect_left
from typing import Callable

from programs import Int, Seq
from programs.domains import domain_size

from ..registry import FAMILY_OPERATORS, Spec, task_family
from ._util import at_least, program

FAMILY_OPERATORS["search"] = ("+", "-", "<", "<=", ">", ">=", "==", "!=", "if", "min", "max", "and", "or", "not", "neg", "|", "&")


def _fold(name: str, values: int, length: int, target: bool, init: list[str], body: list[str], result: str,
          definition: Callable[..., int]) -> Spec:
    at_least(name, "values", values, 2, 64)
    at_least(name, "length", length, 1, 32)
    inputs = {"xs": Seq(Int(0, values), length=(1, length))}
    if target:
        inputs["t"] = Int(0, values)
    lines = init + ["for x in xs:"] + [f"    {b}" for b in body] + [f"return {result}"]
    return Spec(program(name, list(inputs), lines), inputs, difficulty=round(math.log2(domain_size(inputs)), 3),
                definition=definition)


@task_family("search", values=4, length=5)
def first_index(values: int, length: int) -> Spec:
    """Index of the first occurrence of t in xs, or -1."""
    return _fold("first_index", values, length, True, ["i = 0", "pos = -1"],
                 ["pos = i if pos < 0 and x == t else pos", "i = i + 1"], "pos",
                 lambda xs, t: xs.index(t) if t in xs else -1)


@task_family("search", values=4, length=5)
def last_index(values: int, length: int) -> Spec:
    """Index of the last occurrence of t in xs, or -1."""
    return _fold("last_index", values, length, True, ["i = 0", "pos = -1"],
                 ["pos = i if x == t else pos", "i = i + 1"], "pos",
                 lambda xs, t: len(xs) - 1 - xs[::-1].index(t) if t in xs else -1)


@task_family("search", values=4, length=5)
def contains(values: int, length: int) -> Spec:
    """1 when t occurs in xs."""
    return _fold("contains", values, length, True, ["found = 0"], ["found = found | (x == t)"], "found",
                 lambda xs, t: int(t in xs))


@task_family("search", values=4, length=5)
def count(values: int, length: int) -> Spec:
    """How many times t occurs in xs."""
    return _fold("count", values, length, True, ["c = 0"], ["c = c + (x == t)"], "c", lambda xs, t: xs.count(t))


@task_family("search", values=4, length=5)
def insertion_point(values: int, length: int) -> Spec:
    """How many elements of xs are less than t (where bisect_left puts t in a sorted xs)."""
    return _fold("insertion_point", values, length, True, ["c = 0"], ["c = c + (x < t)"], "c",
                 lambda xs, t: bisect_left(sorted(xs), t))


@task_family("search", values=4, length=5)
def argmax(values: int, length: int) -> Spec:
    """Index of the first largest element."""
    return _fold("argmax", values, length, False, ["i = 0", "best = -1", "pos = 0"],
                 ["pos = i if x > best else pos", "best = max(best, x)", "i = i + 1"], "pos",
                 lambda xs: xs.index(max(xs)))


@task_family("search", values=4, length=5)
def argmin(values: int, length: int) -> Spec:
    """Index of the first smallest element."""
    return _fold("argmin", values, length, False, ["i = 0", f"best = {values}", "pos = 0"],
                 ["pos = i if x < best else pos", "best = min(best, x)", "i = i + 1"], "pos",
                 lambda xs: xs.index(min(xs)))


@task_family("search", values=4, length=5)
def max_value(values: int, length: int) -> Spec:
    """The largest element."""
    return _fold("max_value", values, length, False, ["m = 0"], ["m = max(m, x)"], "m", lambda xs: max(xs))


@task_family("search", values=4, length=5)
def is_sorted(values: int, length: int) -> Spec:
    """1 when xs is in non-decreasing order."""
    return _fold("is_sorted", values, length, False, ["ok = 1", "prev = 0"],
                 ["ok = ok and prev <= x", "prev = x"], "ok",
                 lambda xs: int(all(a <= b for a, b in zip(xs, xs[1:]))))
