"""Sequence scans an RNN can learn (MIPS-style): one output per step from a small or integer state.

Knobs: the number of states (``k``), the alphabet (``values`` or ``base``) and the longest
sequence (``length``; every length from 1 up is in the domain). ``difficulty`` is the number of
transitions of the smallest machine that computes the task on its domain (states times alphabet
size; for integer-valued state, the states reachable within the length bound).
"""
from __future__ import annotations

from itertools import accumulate
from typing import Callable

from programs import Int, Seq

from ..registry import FAMILY_OPERATORS, Spec, task_family
from ._util import at_least, join, program

FAMILY_OPERATORS["scan"] = (
    "+", "-", "*", "//", "%", "&", "|", "^", "<", "<=", ">", ">=", "==", "!=", "if", "min", "max", "and", "or", "not", "neg",
)


def _seq(values: int, length: int, lo: int = 0) -> Seq:
    return Seq(Int(lo, lo + values), length=(1, length))


def _len(task: str, length: int) -> int:
    return at_least(task, "length", length, 1, 64)


def _scan(name: str, params: list[str], init: list[str], loop: str, body: list[str], inputs, difficulty,
          definition: Callable[..., list]) -> Spec:
    lines = init + [loop] + [f"    {b}" for b in body]
    return Spec(program(name, params, lines), inputs, difficulty=difficulty, definition=definition)


@task_family("scan", length=10)
def running_parity(length: int) -> Spec:
    """Parity of the bits so far."""
    return _scan("running_parity", ["xs"], ["s = 0"], "for x in xs:", ["s = s ^ x", "yield s"],
                 {"xs": _seq(2, _len("running_parity", length))}, difficulty=2 * 2,
                 definition=lambda xs: [s % 2 for s in accumulate(xs)])


@task_family("scan", k=3, length=7)
def running_sum_mod(k: int, length: int) -> Spec:
    """Sum of the values so far modulo k (values in [0, k))."""
    at_least("running_sum_mod", "k", k, 2, 64)
    return _scan("running_sum_mod", ["xs"], ["s = 0"], "for x in xs:", [f"s = (s + x) % {k}", "yield s"],
                 {"xs": _seq(k, _len("running_sum_mod", length))}, difficulty=k * k,
                 definition=lambda xs: [s % k for s in accumulate(xs)])


@task_family("scan", length=7)
def binary_addition(length: int) -> Spec:
    """Sum bits of two binary numbers read least significant bit first, with the carry as state."""
    n = _len("binary_addition", length)

    def definition(xs: list[int], ys: list[int]) -> list[int]:
        total = sum((x + y) << i for i, (x, y) in enumerate(zip(xs, ys)))
        return [(total >> i) & 1 for i in range(len(xs))]

    return _scan("binary_addition", ["xs", "ys"], ["c = 0"], "for x, y in zip(xs, ys):",
                 ["t = x + y + c", "c = t // 2", "yield t % 2"], {"xs": _seq(2, n), "ys": _seq(2, n)}, difficulty=2 * 4,
                 definition=definition)


@task_family("scan", base=3, length=5)
def stream_addition(base: int, length: int) -> Spec:
    """Digits of the sum of two base-b numbers read least significant digit first."""
    at_least("stream_addition", "base", base, 2, 16)
    n = _len("stream_addition", length)

    def definition(xs: list[int], ys: list[int]) -> list[int]:
        total = sum((x + y) * base**i for i, (x, y) in enumerate(zip(xs, ys)))
        return [total // base**i % base for i in range(len(xs))]

    return _scan("stream_addition", ["xs", "ys"], ["c = 0"], "for x, y in zip(xs, ys):",
                 ["t = x + y + c", f"c = t // {base}", f"yield t % {base}"],
                 {"xs": _seq(base, n), "ys": _seq(base, n)}, difficulty=2 * base * base, definition=definition)


@task_family("scan", k=3, length=10)
def divisibility(k: int, length: int) -> Spec:
    """1 when the binary number read so far (most significant bit first) is divisible by k."""
    at_least("divisibility", "k", k, 2, 64)

    def definition(xs: list[int]) -> list[int]:
        return [int(int("".join(map(str, xs[: i + 1])), 2) % k == 0) for i in range(len(xs))]

    return _scan("divisibility", ["xs"], ["r = 0"], "for x in xs:", [f"r = (2 * r + x) % {k}", "yield r == 0"],
                 {"xs": _seq(2, _len("divisibility", length))}, difficulty=2 * k, definition=definition)


@task_family("scan", length=10)
def bracket_balance(length: int) -> Spec:
    """1 when the brackets so far are balanced (0 opens, 1 closes; a close with nothing open spoils the rest)."""
    n = _len("bracket_balance", length)

    def definition(xs: list[int]) -> list[int]:
        out, depth, spoiled = [], 0, False
        for x in xs:
            depth += -1 if x == 1 else 1
            spoiled = spoiled or depth < 0
            out.append(int(depth == 0 and not spoiled))
        return out

    return _scan("bracket_balance", ["xs"], ["d = 0", "bad = 0"], "for x in xs:",
                 ["d = d + 1 - 2 * x", "bad = bad | (d < 0)", "yield d == 0 and bad == 0"],
                 {"xs": _seq(2, n)}, difficulty=2 * (n // 2 + 2), definition=definition)


@task_family("scan", k=3, length=10)
def parity_last_k(k: int, length: int) -> Spec:
    """Parity of the last k bits (of all bits so far, while fewer than k have been read)."""
    at_least("parity_last_k", "k", k, 2, 12)
    prev = [f"p{i}" for i in range(1, k)]
    shift = f"{', '.join(prev)} = {', '.join(['x'] + prev[:-1])}" if k > 2 else "p1 = x"
    return _scan("parity_last_k", ["xs"], [f"{p} = 0" for p in prev], "for x in xs:",
                 [f"yield {join('^', ['x'] + prev)}", shift], {"xs": _seq(2, _len("parity_last_k", length))},
                 difficulty=(1 << (k - 1)) * 2,
                 definition=lambda xs: [sum(xs[max(0, i - k + 1) : i + 1]) % 2 for i in range(len(xs))])


@task_family("scan", k=1, values=4, length=7)
def previous_element(k: int, values: int, length: int) -> Spec:
    """The element k steps back (0 before the start)."""
    at_least("previous_element", "k", k, 1, 8)
    at_least("previous_element", "values", values, 2, 64)
    prev = [f"p{i}" for i in range(1, k + 1)]
    shift = f"{', '.join(prev)} = {', '.join(['x'] + prev[:-1])}" if k > 1 else "p1 = x"
    return _scan("previous_element", ["xs"], [f"{p} = 0" for p in prev], "for x in xs:",
                 [f"yield p{k}", shift], {"xs": _seq(values, _len("previous_element", length))},
                 difficulty=values ** (k + 1),
                 definition=lambda xs: [xs[i - k] if i >= k else 0 for i in range(len(xs))])


@task_family("scan", values=5, length=7)
def running_max(values: int, length: int) -> Spec:
    """The largest value so far."""
    at_least("running_max", "values", values, 2, 256)
    return _scan("running_max", ["xs"], ["m = 0"], "for x in xs:", ["m = max(m, x)", "yield m"],
                 {"xs": _seq(values, _len("running_max", length))}, difficulty=values * values,
                 definition=lambda xs: list(accumulate(xs, max)))


@task_family("scan", values=5, length=7)
def running_min(values: int, length: int) -> Spec:
    """The smallest value so far."""
    at_least("running_min", "values", values, 2, 256)
    return _scan("running_min", ["xs"], [f"m = {values - 1}"], "for x in xs:", ["m = min(m, x)", "yield m"],
                 {"xs": _seq(values, _len("running_min", length))}, difficulty=values * values,
                 definition=lambda xs: list(accumulate(xs, min)))


@task_family("scan", k=3, length=10)
def pattern_detector(k: int, length: int) -> Spec:
    """1 when the last k bits alternate and end in 1 (oldest first: 101 for k=3, 01 for k=2, 0101 for k=4); 0 until k bits are read."""
    at_least("pattern_detector", "k", k, 2, 10)
    prev = [f"p{i}" for i in range(1, k)]
    # p1 is the previous bit, p2 the one before, ...; the pattern read backwards from x is 1, 0, 1, ...
    tests = ["x == 1"] + [f"{p} == {1 if i % 2 == 0 else 0}" for i, p in enumerate(prev, start=1)]
    warm = [f"n = min(n + 1, {k})"]
    shift = f"{', '.join(prev)} = {', '.join(['x'] + prev[:-1])}" if k > 2 else "p1 = x"
    # The k-bit pattern, oldest bit first: read backwards from the newest bit it is 1, 0, 1, ...
    pattern = ([1, 0] * k)[:k][::-1]

    def definition(xs: list[int]) -> list[int]:
        # Fewer than k bits read: there are no "last k bits" yet, so 0.
        return [int(i + 1 >= k and xs[i + 1 - k : i + 1] == pattern) for i in range(len(xs))]

    return _scan("pattern_detector", ["xs"], ["n = 0"] + [f"{p} = 0" for p in prev], "for x in xs:",
                 warm + [f"yield n == {k} and {join('and', tests)}", shift],
                 {"xs": _seq(2, _len("pattern_detector", length))}, difficulty=2 * (k + 1), definition=definition)


@task_family("scan", length=7)
def dot_product_mod2(length: int) -> Spec:
    """Parity of the sum of x*y over the two bit streams so far."""
    n = _len("dot_product_mod2", length)
    return _scan("dot_product_mod2", ["xs", "ys"], ["s = 0"], "for x, y in zip(xs, ys):",
                 ["s = s ^ (x & y)", "yield s"], {"xs": _seq(2, n), "ys": _seq(2, n)}, difficulty=2 * 4,
                 definition=lambda xs, ys: [s % 2 for s in accumulate(x * y for x, y in zip(xs, ys))])


@task_family("scan", values=4, length=7)
def running_sum(values: int, length: int) -> Spec:
    """The sum of the values so far (integer state)."""
    at_least("running_sum", "values", values, 2, 256)
    n = _len("running_sum", length)
    return _scan("running_sum", ["xs"], ["s = 0"], "for x in xs:", ["s = s + x", "yield s"],
                 {"xs": _seq(values, n)}, difficulty=((values - 1) * n + 1) * values,
                 definition=lambda xs: list(accumulate(xs)))


@task_family("scan", k=2, values=4, length=7)
def sum_last_k(k: int, values: int, length: int) -> Spec:
    """The sum of the last k values (of all values so far, while fewer than k have been read)."""
    at_least("sum_last_k", "k", k, 2, 8)
    at_least("sum_last_k", "values", values, 2, 64)
    prev = [f"p{i}" for i in range(1, k)]
    shift = f"{', '.join(prev)} = {', '.join(['x'] + prev[:-1])}" if k > 2 else "p1 = x"
    return _scan("sum_last_k", ["xs"], [f"{p} = 0" for p in prev], "for x in xs:",
                 [f"yield {join('+', ['x'] + prev)}", shift], {"xs": _seq(values, _len("sum_last_k", length))},
                 difficulty=values**k,
                 definition=lambda xs: [sum(xs[max(0, i - k + 1) : i + 1]) for i in range(len(xs))])


@task_family("scan", length=10)
def running_majority(length: int) -> Spec:
    """1 when more ones than zeros have been read so far (a counter)."""
    n = _len("running_majority", length)

    def definition(xs: list[int]) -> list[int]:
        return [int(xs[: i + 1].count(1) > xs[: i + 1].count(0)) for i in range(len(xs))]

    return _scan("running_majority", ["xs"], ["c = 0"], "for x in xs:", ["c = c + 2 * x - 1", "yield c > 0"],
                 {"xs": _seq(2, n)}, difficulty=2 * (2 * n + 1), definition=definition)


@task_family("scan", length=7)
def constant_acceleration(length: int) -> Spec:
    """Position of a body whose acceleration at each step is the input (-1, 0 or 1): v += a; x += v."""
    n = _len("constant_acceleration", length)

    def definition(accs: list[int]) -> list[int]:
        velocity, position, out = 0, 0, []
        for a in accs:
            velocity += a
            position += velocity
            out.append(position)
        return out

    return _scan("constant_acceleration", ["accs"], ["v = 0", "p = 0"], "for a in accs:",
                 ["v = v + a", "p = p + v", "yield p"], {"accs": _seq(3, n, lo=-1)},
                 difficulty=3 * (2 * n + 1) * (n * n + 1), definition=definition)


@task_family("scan", values=3, length=7)
def run_length(values: int, length: int) -> Spec:
    """Length of the current run of equal values."""
    at_least("run_length", "values", values, 2, 64)
    n = _len("run_length", length)

    def definition(xs: list[int]) -> list[int]:
        out = []
        for i, x in enumerate(xs):
            start = i
            while start > 0 and xs[start - 1] == x:
                start -= 1
            out.append(i - start + 1)
        return out

    return _scan("run_length", ["xs"], ["r = 0", "prev = -1"], "for x in xs:",
                 ["r = r + 1 if x == prev else 1", "prev = x", "yield r"], {"xs": _seq(values, n)},
                 difficulty=values * values * n, definition=definition)
