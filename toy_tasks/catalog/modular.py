"""Modular arithmetic on two residues: ``(a op b) % p``; the knob is the modulus ``p``."""
from __future__ import annotations

from typing import Callable

from programs import Int

from ..registry import FAMILY_OPERATORS, Spec, task_family
from ._util import at_least, program

FAMILY_OPERATORS["modular"] = ("+", "-", "*", "%")


def _modular(name: str, p: int, expr: str, definition: Callable[[int, int], int]) -> Spec:
    at_least(name, "p", p, 2, 1 << 15)
    return Spec(program(name, ["a", "b"], [f"return ({expr}) % {p}"]), {"a": Int(0, p), "b": Int(0, p)}, difficulty=p,
                definition=definition)


@task_family("modular", p=13)
def modular_addition(p: int) -> Spec:
    """(a + b) mod p."""
    return _modular("modular_addition", p, "a + b", lambda a, b: (a + b) % p)


@task_family("modular", p=13)
def modular_subtraction(p: int) -> Spec:
    """(a - b) mod p."""
    return _modular("modular_subtraction", p, "a - b", lambda a, b: (a - b) % p)


@task_family("modular", p=13)
def modular_multiplication(p: int) -> Spec:
    """(a * b) mod p."""
    return _modular("modular_multiplication", p, "a * b", lambda a, b: (a * b) % p)


@task_family("modular", p=13)
def modular_sum_of_squares(p: int) -> Spec:
    """(a^2 + b^2) mod p."""
    return _modular("modular_sum_of_squares", p, "a * a + b * b", lambda a, b: (a**2 + b**2) % p)


@task_family("modular", p=13)
def modular_difference_of_squares(p: int) -> Spec:
    """(a^2 - b^2) mod p."""
    return _modular("modular_difference_of_squares", p, "a * a - b * b", lambda a, b: (a**2 - b**2) % p)


@task_family("modular", p=13)
def modular_linear_combination(p: int) -> Spec:
    """(2a + 3b) mod p."""
    return _modular("modular_linear_combination", p, "2 * a + 3 * b", lambda a, b: (2 * a + 3 * b) % p)


@task_family("modular", p=11)
def modular_cubic(p: int) -> Spec:
    """(a^3 + b) mod p."""
    return _modular("modular_cubic", p, "a * a * a + b", lambda a, b: (a**3 + b) % p)
