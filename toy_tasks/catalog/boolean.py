"""Boolean functions of n input bits (each input is 0 or 1); the knob is the number of bits."""
from __future__ import annotations

from typing import Callable

from programs import Int

from ..registry import FAMILY_OPERATORS, Spec, task_family
from ._util import at_least, join, program, value_of

FAMILY_OPERATORS["boolean"] = ("&", "|", "^", "not", "and", "or", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", ">>", "if")
BIT = Int(0, 2)


def _bits(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def _spec(name: str, params: list[str], expr: str, definition: Callable[..., int]) -> Spec:
    return Spec(program(name, params, [f"return {expr}"]), {p: BIT for p in params}, difficulty=len(params),
                definition=definition)


# --- helpers for the Python definitions (inputs come as keyword arguments x0=.., a0=.., ...) ---------


def _read(bits: dict[str, int], prefix: str) -> list[int]:
    """The bits named ``prefix0, prefix1, ...`` in index order."""
    named = {int(k[len(prefix):]): v for k, v in bits.items() if k.startswith(prefix)}
    return [named[i] for i in range(len(named))]


def _number(bits: list[int]) -> int:
    """The unsigned number whose bits, least significant first, are ``bits``."""
    return sum(bit << i for i, bit in enumerate(bits))


@task_family("boolean", n=6)
def parity(n: int) -> Spec:
    """1 when an odd number of the n bits are set."""
    xs = _bits("x", at_least("parity", "n", n, 1, 20))
    return _spec("parity", xs, join("^", xs) if n > 1 else xs[0], lambda **bits: sum(bits.values()) % 2)


@task_family("boolean", n=5)
def majority(n: int) -> Spec:
    """1 when more than half of the n bits are set."""
    xs = _bits("x", at_least("majority", "n", n, 1, 20))
    return _spec("majority", xs, f"2 * ({join('+', xs)}) > {n}" if n > 1 else xs[0],
                 lambda **bits: int(sum(bits.values()) > n / 2))


@task_family("boolean", n=6)
def conjunction(n: int) -> Spec:
    """1 when all n bits are set."""
    xs = _bits("x", at_least("conjunction", "n", n, 1, 20))
    return _spec("conjunction", xs, join("&", xs), lambda **bits: int(all(bits.values())))


@task_family("boolean", n=5)
def one_hot(n: int) -> Spec:
    """1 when exactly one of the n bits is set."""
    xs = _bits("x", at_least("one_hot", "n", n, 1, 20))
    return _spec("one_hot", xs, f"{join('+', xs)} == 1", lambda **bits: int(sum(bits.values()) == 1))


@task_family("boolean", n=5)
def at_least_two(n: int) -> Spec:
    """1 when two or more of the n bits are set."""
    xs = _bits("x", at_least("at_least_two", "n", n, 2, 20))
    return _spec("at_least_two", xs, f"{join('+', xs)} >= 2", lambda **bits: int(sum(bits.values()) >= 2))


@task_family("boolean", k=2)
def multiplexer(k: int) -> Spec:
    """The data bit d[a] selected by the k address bits a (least significant first); k + 2^k inputs."""
    at_least("multiplexer", "k", k, 1, 4)
    address, data = _bits("a", k), _bits("d", 1 << k)

    def select(level: int, offset: int) -> str:
        if level < 0:
            return data[offset]
        hi, lo = select(level - 1, offset + (1 << level)), select(level - 1, offset)
        return f"({hi} if {address[level]} else {lo})"

    def definition(**bits: int) -> int:
        return _read(bits, "d")[_number(_read(bits, "a"))]

    expr = select(k - 1, 0)
    return _spec("multiplexer", address + data, expr[1:-1], definition)


def _two_numbers(name: str, m: int) -> tuple[list[str], list[str]]:
    at_least(name, "m", m, 1, 10)
    return _bits("a", m), _bits("b", m)


@task_family("boolean", m=3)
def bits_equal(m: int) -> Spec:
    """1 when the m-bit numbers a and b are equal (bits a0.., b0.. least significant first)."""
    a, b = _two_numbers("bits_equal", m)
    return _spec("bits_equal", a + b, join("and", [f"{x} == {y}" for x, y in zip(a, b)]),
                 lambda **bits: int(_read(bits, "a") == _read(bits, "b")))


@task_family("boolean", m=3)
def greater_than(m: int) -> Spec:
    """1 when the m-bit number a is greater than b."""
    a, b = _two_numbers("greater_than", m)
    return _spec("greater_than", a + b, f"{value_of(a)} > {value_of(b)}",
                 lambda **bits: int(_number(_read(bits, "a")) > _number(_read(bits, "b"))))


@task_family("boolean", m=3)
def adder_carry(m: int) -> Spec:
    """The carry out of adding the m-bit numbers a and b."""
    a, b = _two_numbers("adder_carry", m)
    return _spec("adder_carry", a + b, f"({value_of(a)} + {value_of(b)}) >> {m}",
                 lambda **bits: int(_number(_read(bits, "a")) + _number(_read(bits, "b")) >= 2**m))


@task_family("boolean", m=3)
def adder_top_bit(m: int) -> Spec:
    """Bit m-1 (the most significant) of the sum of the m-bit numbers a and b."""
    a, b = _two_numbers("adder_top_bit", m)
    def definition(**bits: int) -> int:
        total = _number(_read(bits, "a")) + _number(_read(bits, "b"))
        return (total >> (m - 1)) & 1

    return _spec("adder_top_bit", a + b, f"({value_of(a)} + {value_of(b)}) >> {m - 1} & 1", definition)
