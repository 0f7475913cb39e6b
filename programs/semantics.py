"""The meaning of every operator, written down once, for Python ints and for numpy int64 arrays.

Values are 64-bit two's-complement integers; booleans are 0 and 1. Where no intermediate value
leaves the 64-bit range, every operator means exactly what it means in Python. Beyond that:

- ``+ - * << -x abs`` wrap around modulo 2**64 (as numpy's int64 does);
- ``x // 0 == 0`` and ``x % 0 == x``; otherwise ``//`` and ``%`` floor, as in Python;
- shift counts are clipped to ``[0, 63]`` (so ``x << -1 == x`` and ``x >> 99 == x >> 63``);
- ``a and b`` is ``b`` if ``a`` is non-zero else ``0``; ``a or b`` is ``a`` if non-zero else ``b``;
  ``not a`` and comparisons give 0 or 1 (Python's own results, with True == 1);
- ``x if c else y`` picks ``x`` when ``c`` is non-zero.

``SCALAR`` and ``VECTOR`` below are the two implementations; the interpreters look operators up
here and nowhere else, and the z3 translation (``programs.smt``) follows the same rules.
"""
from __future__ import annotations

import numpy as np

BITS = 64
_MOD = 1 << BITS
_HALF = 1 << (BITS - 1)
INT64_MIN, INT64_MAX = -_HALF, _HALF - 1


def wrap(v: int) -> int:
    """The int64 value congruent to ``v`` modulo 2**64."""
    return ((v + _HALF) % _MOD) - _HALF


def _clip_shift(n: int) -> int:
    return 0 if n < 0 else (63 if n > 63 else n)


SCALAR = {
    "+": lambda a, b: wrap(a + b),
    "-": lambda a, b: wrap(a - b),
    "*": lambda a, b: wrap(a * b),
    "//": lambda a, b: 0 if b == 0 else wrap(a // b),
    "%": lambda a, b: a if b == 0 else a % b,
    "&": lambda a, b: a & b,
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
    "<<": lambda a, b: wrap(a << _clip_shift(b)),
    ">>": lambda a, b: a >> _clip_shift(b),
    "<": lambda a, b: int(a < b),
    "<=": lambda a, b: int(a <= b),
    ">": lambda a, b: int(a > b),
    ">=": lambda a, b: int(a >= b),
    "==": lambda a, b: int(a == b),
    "!=": lambda a, b: int(a != b),
    "and": lambda a, b: b if a != 0 else 0,
    "or": lambda a, b: a if a != 0 else b,
    "neg": lambda a: wrap(-a),
    "not": lambda a: int(a == 0),
    "abs": lambda a: wrap(abs(a)),
    "min": min,
    "max": max,
    "if": lambda c, x, y: x if c != 0 else y,
}


def _i64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def _floordiv(a, b):
    zero = b == 0
    q = np.floor_divide(a, np.where(zero, 1, b))
    return np.where(zero, 0, q)


def _mod(a, b):
    zero = b == 0
    r = np.remainder(a, np.where(zero, 1, b))
    return np.where(zero, a, r)


VECTOR = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "//": _floordiv,
    "%": _mod,
    "&": np.bitwise_and,
    "|": np.bitwise_or,
    "^": np.bitwise_xor,
    "<<": lambda a, b: np.left_shift(a, np.clip(b, 0, 63)),
    ">>": lambda a, b: np.right_shift(a, np.clip(b, 0, 63)),
    "<": lambda a, b: _i64(np.less(a, b)),
    "<=": lambda a, b: _i64(np.less_equal(a, b)),
    ">": lambda a, b: _i64(np.greater(a, b)),
    ">=": lambda a, b: _i64(np.greater_equal(a, b)),
    "==": lambda a, b: _i64(np.equal(a, b)),
    "!=": lambda a, b: _i64(np.not_equal(a, b)),
    "and": lambda a, b: np.where(a != 0, b, 0),
    "or": lambda a, b: np.where(a != 0, a, b),
    "neg": np.negative,
    "not": lambda a: _i64(np.equal(a, 0)),
    "abs": np.abs,
    "min": lambda *xs: _reduce(np.minimum, xs),
    "max": lambda *xs: _reduce(np.maximum, xs),
    "if": lambda c, x, y: np.where(c != 0, x, y),
}


def _reduce(f, xs):
    out = xs[0]
    for x in xs[1:]:
        out = f(out, x)
    return out
