"""Small integer functions (max, |a-b|, clamp, median ...); the knob is the bits of each input."""
from __future__ import annotations

from typing import Callable

from programs import Int

from ..registry import FAMILY_OPERATORS, Spec, task_family
from ._util import at_least, program

FAMILY_OPERATORS["integer"] = (
    "+", "-", "*", "//", "%", "min", "max", "abs", "neg", "<", "<=", ">", ">=", "==", "!=", "if", "and", "or", "not",
)


def _spec(name: str, bits: int, params: list[str], expr: str, definition: Callable[..., int], signed: bool = False) -> Spec:
    at_least(name, "bits", bits, 1, 16)
    dom = Int(-(1 << (bits - 1)), 1 << (bits - 1)) if signed else Int(0, 1 << bits)
    if signed and bits < 2:
        dom = Int(-1, 1)
    return Spec(program(name, params, [f"return {expr}"]), {p: dom for p in params}, difficulty=bits * len(params),
                definition=definition)


@task_family("integer", bits=4)
def maximum(bits: int) -> Spec:
    """max(a, b)."""
    return _spec("maximum", bits, ["a", "b"], "max(a, b)", lambda a, b: max(a, b))


@task_family("integer", bits=4)
def minimum(bits: int) -> Spec:
    """min(a, b)."""
    return _spec("minimum", bits, ["a", "b"], "min(a, b)", lambda a, b: min(a, b))


@task_family("integer", bits=4)
def absolute_difference(bits: int) -> Spec:
    """|a - b|."""
    return _spec("absolute_difference", bits, ["a", "b"], "abs(a - b)", lambda a, b: a - b if a >= b else b - a)


@task_family("integer", bits=3)
def clamp(bits: int) -> Spec:
    """x clamped to [lo, hi] (min(max(x, lo), hi), so hi wins when lo > hi)."""
    def definition(x: int, lo: int, hi: int) -> int:
        if x > hi or lo > hi:  # hi wins whenever lo > hi
            return hi
        return max(x, lo)

    return _spec("clamp", bits, ["x", "lo", "hi"], "min(max(x, lo), hi)", definition)


@task_family("integer", bits=3)
def median_of_three(bits: int) -> Spec:
    """The middle value of a, b and c."""
    return _spec("median_of_three", bits, ["a", "b", "c"], "max(min(a, b), min(max(a, b), c))",
                 lambda a, b, c: sorted([a, b, c])[1])


@task_family("integer", bits=3)
def maximum_of_three(bits: int) -> Spec:
    """max(a, b, c)."""
    return _spec("maximum_of_three", bits, ["a", "b", "c"], "max(a, b, c)", lambda a, b, c: max([a, b, c]))


@task_family("integer", bits=5)
def sign(bits: int) -> Spec:
    """-1, 0 or 1 by the sign of a signed input."""
    return _spec("sign", bits, ["a"], "(a > 0) - (a < 0)",
                 lambda a: 1 if a > 0 else -1 if a < 0 else 0, signed=True)


@task_family("integer", bits=5)
def relu(bits: int) -> Spec:
    """max(a, 0) of a signed input."""
    return _spec("relu", bits, ["a"], "max(a, 0)", lambda a: a if a > 0 else 0, signed=True)


@task_family("integer", bits=4)
def mean_floor(bits: int) -> Spec:
    """(a + b) // 2."""
    return _spec("mean_floor", bits, ["a", "b"], "(a + b) // 2", lambda a, b: (a + b) // 2)


@task_family("integer", bits=5)
def collatz_step(bits: int) -> Spec:
    """a // 2 for even a, 3a + 1 for odd a."""
    return _spec("collatz_step", bits, ["a"], "a // 2 if a % 2 == 0 else 3 * a + 1",
                 lambda a: 3 * a + 1 if a & 1 else a // 2)


@task_family("integer", bits=3)
def in_range(bits: int) -> Spec:
    """1 when lo <= x < hi."""
    return _spec("in_range", bits, ["x", "lo", "hi"], "lo <= x and x < hi", lambda x, lo, hi: int(lo <= x < hi))
